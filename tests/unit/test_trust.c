/* test_trust.c -- what the verifier proves of each instruction (vm_insn_aux.proof) and what the engines
 * make of it.  Proof facts: set on the insns the walk reached and proved on every path, never on code
 * it did not walk, never where one path leaves it unproven, and none at all for a program loaded
 * without the verifier.  White-box: reads the loaded vm_prog through the object table. */
#include <errno.h>
#include <string.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_bpf.h"
#include "core/core.h"
#include "vm/vm.h"

#define XDP BPF_PROG_TYPE_XDP
/* r6 = data, r7 = data_end */
#define XDP_PKT "r6 = *(u32 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 4)\n"
/* r2 = ingress_ifindex: a scalar the verifier knows nothing of */
#define XDP_ANY "r2 = *(u32 *)(r1 + 12)\n"

static struct bpfvm *mkvm(int verify)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify };
	return bpfvm_new(&o);
}

/* Loads src as a program of type; returns its fd (the load's error printed) or a negative errno. */
static int load(struct bpfvm *vm, uint32_t type, const char *src)
{
	struct bpf_insn insns[256];
	long n = bpfvm_asm(vm, src, insns, 256);
	if (n < 0 || n > 256) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -EINVAL;
	}
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "trust");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

/* The proof facts of every insn of the program at fd (cnt of them at most), and whether it was verified. */
static size_t proofs(struct bpfvm *vm, int fd, uint8_t *out, size_t cnt, bool *verified)
{
	int err = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_PROG, &err);
	if (!o)
		return 0;
	size_t n = o->prog->cnt < cnt ? o->prog->cnt : cnt;
	for (size_t i = 0; i < n; i++)
		out[i] = o->prog->aux[i].proof;
	*verified = o->prog->verified;
	sys_put(vm, o);
	return n;
}

#define R VM_PROOF_REACHED
#define M VM_PROOF_MEM
#define D VM_PROOF_DIV_NONZERO

struct pcase {
	const char *name;
	const char *src;
	uint8_t want[16];  /* per insn */
	size_t cnt;
};

static const struct pcase pcases[] = {
	{ "packet parse: ctx loads and the checked packet load are proven",
	  XDP_PKT "r2 = r6\nr2 += 14\nif r2 > r7 goto +2\nr0 = *(u8 *)(r6 + 13)\nexit\nr0 = 1\nexit\n",
	  { R | M, R | M, R, R, R, R | M, R, R, R }, 9 },
	{ "stack store and load",
	  "r1 = 7\n*(u64 *)(r10 - 8) = r1\n*(u32 *)(r10 - 12) = 3\nr0 = *(u64 *)(r10 - 8)\nexit\n",
	  { R, R | M, R | M, R | M, R }, 5 },
	{ "divisor proven non-zero: imm, or'ed with 1, both paths non-zero",
	  XDP_ANY "r0 = 100\nr0 /= 7\nr3 = r2\nr3 |= 1\nr0 /= r3\nr4 = 5\nif r2 == 0 goto +1\nr4 = r2\n"
	  "w0 %= w4\nr0 = 0\nexit\n",
	  { R | M, R, R | D, R, R, R | D, R, R, R, R | D, R, R }, 12 },
	{ "divisor zero on one path (walked first)",
	  XDP_ANY "r3 = 0\nif r2 == 7 goto +1\nr3 = 1\nr0 = 9\nr0 /= r3\nr0 = 0\nexit\n",
	  { R | M, R, R, R, R, R, R, R }, 8 },
	{ "divisor zero on one path (walked second)",
	  XDP_ANY "r3 = 1\nif r2 == 7 goto +1\nr3 = 0\nr0 = 9\nr0 %= r3\nr0 = 0\nexit\n",
	  { R | M, R, R, R, R, R, R, R }, 8 },
	{ "32-bit divisor with a zero low half",
	  "r3 = 1\nr3 <<= 32\nr0 = 9\nw0 /= w3\nr0 = 9\nr0 /= r3\nr0 = 0\nexit\n",
	  { R, R, R, R, R, R | D, R, R }, 8 },
	{ "code the walk never reaches has no proof",
	  "r0 = 0\nif r0 != 0 goto +1\nexit\nr0 = *(u64 *)(r10 - 8)\nexit\n",
	  { R, R, R, 0, 0 }, 5 },
};

TEST(proofs_of_verified_programs)
{
	struct bpfvm *vm = mkvm(BPFVM_VERIFY_ON);
	for (size_t c = 0; c < sizeof(pcases) / sizeof(pcases[0]); c++) {
		const struct pcase *pc = &pcases[c];
		int fd = load(vm, XDP, pc->src);
		uint8_t got[16] = { 0 };
		bool verified = false;
		CHECK(fd >= 0);
		if (fd < 0)
			continue;
		size_t n = proofs(vm, fd, got, 16, &verified);
		CHECK(verified);
		CHECK_EQ_U64(n, pc->cnt);
		for (size_t i = 0; i < pc->cnt && i < n; i++)
			if (got[i] != pc->want[i]) {
				printf("  %s: insn %zu: proof %#x, want %#x\n", pc->name, i, got[i], pc->want[i]);
				test_cur_failed = 1;
			}
		bpfvm_close(vm, fd);
	}
	bpfvm_free(vm);
}

/* A path pruned at the join is covered by the walked state: the facts that state proved hold, and a
 * fact it did not prove stays unproven whatever the pruned path would have given. */
TEST(proofs_survive_pruning)
{
	struct bpfvm *vm = mkvm(BPFVM_VERIFY_ON);
	/* the fall-through is walked first: r3 in [1, 16]; then the jump's r3 = 5, pruned at the join */
	int fd = load(vm, XDP, XDP_ANY "r3 = 5\nif r2 == 3 goto +3\nr3 = r2\nr3 &= 15\nr3 += 1\nr0 = 100\nr0 /= r3\n"
			       "r0 = 0\nexit\n");
	uint8_t got[16] = { 0 };
	bool verified = false;
	CHECK(fd >= 0);
	if (fd >= 0) {
		proofs(vm, fd, got, 16, &verified);
		CHECK_EQ_U64(got[7], R | D);
	}
	/* r3 in [0, 15] (may be 0) walked first; r3 = 5 pruned: still not proven */
	fd = load(vm, XDP, XDP_ANY "r3 = 5\nif r2 == 3 goto +2\nr3 = r2\nr3 &= 15\nr0 = 100\nr0 /= r3\nr0 = 0\nexit\n");
	CHECK(fd >= 0);
	if (fd >= 0) {
		proofs(vm, fd, got, 16, &verified);
		CHECK_EQ_U64(got[6], R);
	}
	bpfvm_free(vm);
}

TEST(no_proofs_without_the_verifier)
{
	struct bpfvm *vm = mkvm(BPFVM_VERIFY_OFF);
	int fd = load(vm, XDP, "r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nr0 /= 3\nexit\n");
	uint8_t got[16];
	bool verified = true;
	CHECK(fd >= 0);
	if (fd >= 0) {
		memset(got, 0xff, sizeof(got));
		CHECK_EQ_U64(proofs(vm, fd, got, 16, &verified), 5);
		CHECK(!verified);
		for (int i = 0; i < 5; i++)
			CHECK_EQ_U64(got[i], 0);
	}
	bpfvm_free(vm);
}

int main(void)
{
	RUN(proofs_of_verified_programs);
	RUN(proofs_survive_pruning);
	RUN(no_proofs_without_the_verifier);
	return test_done();
}
