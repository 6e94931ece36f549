/* test_trust.c -- what the verifier proves of each instruction (vm_insn_aux.proof) and what the engines
 * make of it.  Proof facts: set on the insns the walk reached and proved on every path, never on code
 * it did not walk, never where one path leaves it unproven, and none at all for a program loaded
 * without the verifier.  White-box: reads the loaded vm_prog through the object table. */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_util.h"
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

/* ---- checked and unchecked runs ---------------------------------------------------------- */

static struct bpfvm *mkvm_checks(int verify, int checks)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify, .checks = checks, .interp = 1 };
	return bpfvm_new(&o);
}

/* Loads src with every "lddw rN, MAP ll" (imm 0x7eadc000) made a reference to map fd mfd. */
static int load_map(struct bpfvm *vm, uint32_t type, const char *src, int mfd)
{
	struct bpf_insn insns[256];
	long n = bpfvm_asm(vm, src, insns, 256);
	if (n < 0 || n > 256) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -EINVAL;
	}
	for (long i = 0; i + 1 < n; i++)
		if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && insns[i].imm == 0x7eadc000) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = mfd;
		}
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "trust");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

/* How many of the program's insns hold an unchecked twin. */
static size_t twins(struct bpfvm *vm, int fd)
{
	int err = 0;
	size_t n = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_PROG, &err);
	if (!o)
		return 0;
	for (size_t i = 0; i < o->prog->cnt; i++)
		n += o->prog->insns[i].id >= ISA_COUNT;
	sys_put(vm, o);
	return n;
}

/* An Ethernet header parsed behind a data_end check, a divisor proven non-zero, a map value updated
 * through a null-checked lookup, a packet byte written, stack stores and loads. */
static const char parser[] =
	"r6 = *(u32 *)(r1 + 0)\n"
	"r7 = *(u32 *)(r1 + 4)\n"
	"r2 = r6\n"
	"r2 += 14\n"
	"if r2 > r7 goto drop\n"
	"r8 = *(u16 *)(r6 + 12)\n"
	"r9 = *(u8 *)(r6 + 0)\n"
	"r9 |= 1\n"
	"r3 = 1000\n"
	"r3 /= r9\n"
	"*(u64 *)(r10 - 16) = r3\n"
	"*(u32 *)(r10 - 4) = 0\n"
	"r2 = r10\n"
	"r2 += -4\n"
	"r1 = 0x7eadc000 ll\n"
	"call 1\n"
	"if r0 == 0 goto drop\n"
	"r1 = *(u64 *)(r0 + 0)\n"
	"r1 += r8\n"
	"r3 = *(u64 *)(r10 - 16)\n"
	"r1 += r3\n"
	"*(u64 *)(r0 + 0) = r1\n"
	"*(u8 *)(r6 + 1) = 0x55\n"
	"r0 = 2\n"
	"exit\n"
	"drop:\n"
	"r0 = 1\n"
	"exit\n";

struct outcome {
	long err;
	uint32_t retval;
	uint8_t data[64];
	uint64_t value;
	size_t twins;
};

static struct outcome run_parser(int verify, int checks)
{
	struct outcome out;
	struct bpfvm *vm = mkvm_checks(verify, checks);
	uint8_t pkt[64];

	memset(&out, 0, sizeof(out));
	out.err = -1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7 + 3);
	int m = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int fd = m >= 0 ? load_map(vm, BPF_PROG_TYPE_XDP, parser, m) : -1;
	if (fd >= 0) {
		struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = sizeof(pkt), .data_out = out.data,
						 .data_size_out = sizeof(out.data), .repeat = 3 };
		out.err = test_run_via_bpf(vm, fd, &t);
		out.retval = t.retval;
		uint32_t k = 0;
		LKP(vm, m, &k, &out.value);
		out.twins = twins(vm, fd);
	}
	bpfvm_free(vm);
	return out;
}

TEST(unchecked_run_matches_checked_runs)
{
	struct outcome u = run_parser(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT);
	struct outcome c = run_parser(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS);
	struct outcome n = run_parser(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT);

	CHECK_EQ_U64(u.err, 0);
	CHECK_EQ_U64(c.err, 0);
	CHECK_EQ_U64(n.err, 0);
	/* the verified program runs twins (its 10 loads and stores and the div), the others none */
	CHECK_EQ_U64(u.twins, 11);
	CHECK_EQ_U64(c.twins, 0);
	CHECK_EQ_U64(n.twins, 0);
	/* what the program computed: the same three ways, and what the packet says */
	CHECK_EQ_U64(u.retval, 2);
	CHECK_EQ_U64(u.retval, c.retval);
	CHECK_EQ_U64(u.retval, n.retval);
	uint64_t ethertype = (uint64_t)(12 * 7 + 3) | (uint64_t)(13 * 7 + 3) << 8, q = 1000 / (3 | 1);
	CHECK_EQ_U64(u.value, 3 * (ethertype + q));
	CHECK_EQ_U64(u.value, c.value);
	CHECK_EQ_U64(u.value, n.value);
	CHECK_EQ_U64(u.data[1], 0x55);
	CHECK(!memcmp(u.data, c.data, sizeof(u.data)));
	CHECK(!memcmp(u.data, n.data, sizeof(u.data)));
}

/* A verified XDP program run by bpfvm_prog_run() over plain memory: its "ctx" is whatever the caller
 * gave, its packet pointers made up.  The run is not trusted, so every access is still checked and the
 * made-up packet faults cleanly, under either checks setting; unverified, the same. */
TEST(untrusted_runs_fault_cleanly_out_of_bounds)
{
	static const char src[] = XDP_PKT "r2 = r6\nr2 += 1\nif r2 > r7 goto +2\nr0 = *(u8 *)(r6 + 0)\nexit\nr0 = 1\nexit\n";
	const int settings[][2] = { { BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT }, { BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS },
				    { BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT } };
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		struct bpfvm *vm = mkvm_checks(settings[i][0], settings[i][1]);
		int fd = load(vm, XDP, src);
		uint32_t ctx[6] = { 0x1000, 0x2000 }; /* data, data_end: addresses of nothing the run owns */
		uint64_t r0 = 77;
		CHECK(fd >= 0);
		if (fd >= 0) {
			CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, ctx, sizeof(ctx), &r0), -EFAULT);
			CHECK(strstr(bpfvm_errmsg(vm), "insn 5: invalid memory read") != NULL);
			CHECK_EQ_U64(r0, 77);
		}
		bpfvm_free(vm);
	}
	/* unverified, a packet read past data_end faults in PROG_TEST_RUN too */
	struct bpfvm *vm = mkvm_checks(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT);
	int fd = load(vm, XDP, XDP_PKT "r0 = *(u8 *)(r6 + 4000)\nexit\n");
	uint8_t pkt[64] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 2: invalid memory read") != NULL);
	bpfvm_free(vm);
}

/* ---- UNSPEC programs over memory of a declared size ------------------------------------- */

static int load_mem(struct bpfvm *vm, const char *src, int declare, size_t mem_len)
{
	struct bpf_insn insns[256];
	long n = bpfvm_asm(vm, src, insns, 256);
	if (n < 0 || n > 256) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -EINVAL;
	}
	struct bpfvm_prog_opts po = { .sz = sizeof(po), .name = "mem", .declare_mem = declare, .mem_len = mem_len };
	return bpfvm_prog_load_opts(vm, BPF_PROG_TYPE_UNSPEC, insns, (size_t)n, &po);
}

/* Sums the 8-byte words of 64 bytes of memory into the first, with a loop whose index the verifier bounds
 * (r3 < 64), divides by a word or'ed with 1, stores the quotient at the end. */
static const char memloop[] =
	"r0 = 0\n"
	"r3 = 0\n"
	"loop:\n"
	"r4 = r1\n"
	"r4 += r3\n"
	"r5 = *(u64 *)(r4 + 0)\n"
	"r0 += r5\n"
	"r3 += 8\n"
	"if r3 < 56 goto loop\n"
	"r5 = *(u32 *)(r1 + 8)\n"
	"r5 |= 1\n"
	"r6 = r0\n"
	"r6 /= r5\n"
	"*(u64 *)(r1 + 56) = r6\n"
	"*(u64 *)(r1 + 0) = r0\n"
	"exit\n";

TEST(declared_memory_verified_and_unchecked)
{
	uint8_t mem[3][64];
	uint64_t r0[3] = { 0 };
	const int settings[][2] = { { BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT }, { BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS },
				    { BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT } };
	size_t tw[3] = { 0 };
	for (int i = 0; i < 3; i++) {
		struct bpfvm *vm = mkvm_checks(settings[i][0], settings[i][1]);
		for (int b = 0; b < 64; b++)
			mem[i][b] = (uint8_t)(b * 13 + 1);
		int fd = load_mem(vm, memloop, 1, 64);
		CHECK(fd >= 0);
		if (fd >= 0) {
			bool verified = false;
			uint8_t pr[32];
			proofs(vm, fd, pr, 32, &verified);
			CHECK(verified == (settings[i][0] == BPFVM_VERIFY_ON));
			tw[i] = twins(vm, fd);
			CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem[i], 64, &r0[i]), 0);
		}
		bpfvm_free(vm);
	}
	/* the loop's load, the u32 load, the div and both stores */
	CHECK_EQ_U64(tw[0], 5);
	CHECK_EQ_U64(tw[1], 0);
	CHECK_EQ_U64(tw[2], 0);
	CHECK_EQ_U64(r0[0], r0[1]);
	CHECK_EQ_U64(r0[0], r0[2]);
	CHECK(!memcmp(mem[0], mem[1], 64) && !memcmp(mem[0], mem[2], 64));
	uint64_t w[8], sum = 0;
	uint8_t orig[64];
	for (int b = 0; b < 64; b++)
		orig[b] = (uint8_t)(b * 13 + 1);
	memcpy(w, orig, 64);
	for (int k = 0; k < 7; k++)
		sum += w[k];
	uint32_t d;
	memcpy(&d, orig + 8, 4);
	CHECK_EQ_U64(r0[0], sum);
	memcpy(w, mem[0], 64);
	CHECK_EQ_U64(w[0], sum);
	CHECK_EQ_U64(w[7], sum / (d | 1));
}

TEST(declared_memory_rules)
{
	struct bpfvm *vm = mkvm_checks(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT);
	uint8_t mem[64] = { 0 };
	uint64_t r0 = 0;

	/* an access past the declared size is refused at load, with the verifier's reason */
	CHECK_EQ_U64(load_mem(vm, "r0 = *(u64 *)(r1 + 60)\nexit\n", 1, 64), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "invalid access to memory, mem_size=64 off=60 size=8") != NULL);
	/* undeclared, the same program loads (unverified) and its run checks the access */
	int fd = load_mem(vm, "r0 = *(u64 *)(r1 + 60)\nexit\n", 0, 0);
	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, 64, &r0), -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "invalid memory read mem+60 size=8") != NULL);
	/* a declared program given less memory than it declared does not run */
	fd = load_mem(vm, memloop, 1, 64);
	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, 32, &r0), -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "memory of 32 bytes, the program declared 64") != NULL);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_DEFAULT, mem, 64, &r0), 0);
	/* a runner: the same rule, and the same answer as bpfvm_prog_run() (memloop adds into mem) */
	struct bpfvm_runner *rn = NULL;
	uint8_t m1[64] = { 1, 2, 3 }, m2[64] = { 1, 2, 3 };
	uint64_t r1 = 0, r2 = 1;
	CHECK_EQ_U64(bpfvm_runner_new(vm, fd, BPFVM_ENGINE_INTERP, &rn), 0);
	if (rn) {
		CHECK_EQ_U64(bpfvm_runner_run(rn, m1, 63, &r1), -EINVAL);
		CHECK(strstr(bpfvm_errmsg(vm), "memory of 63 bytes, the program declared 64") != NULL);
		CHECK_EQ_U64(bpfvm_runner_run(rn, m1, 64, &r1), 0);
		CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, m2, 64, &r2), 0);
		CHECK_EQ_U64(r1, r2);
		CHECK(!memcmp(m1, m2, 64));
		bpfvm_runner_free(rn);
	}
	/* PROG_TEST_RUN: the same rule for data_in */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)mem;
	a.test.data_size_in = 16;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), -EINVAL);
	a.test.data_size_in = 64;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), 0);
	/* a straight-line declared program: its proven code runs without any run state (the JIT's stateless
	 * code), through bpfvm_prog_run() and a runner alike, and the declared size is still enforced --
	 * no memory with a length is refused, not run */
	int fs = load_mem(vm, "r0 = *(u64 *)(r1 + 8)\nr0 += r2\nexit\n", 1, 16);
	CHECK(fs >= 0);
	uint64_t words[2] = { 5, 1000 };
	for (int e = 0; e < 2; e++) {
		enum bpfvm_engine eng = e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP;
		struct bpfvm_runner *rs = NULL;
		long rc = bpfvm_runner_new(vm, fs, eng, &rs);
		if (rc == -EOPNOTSUPP)
			continue; /* no JIT on this host */
		CHECK_EQ_U64(rc, 0);
		for (int i = 0; i < 2 && rs; i++) {
			r0 = 0;
			CHECK_EQ_U64(bpfvm_runner_run(rs, words, sizeof(words), &r0), 0);
			CHECK_EQ_U64(r0, 1016);
			CHECK_EQ_U64(bpfvm_runner_run(rs, NULL, sizeof(words), &r0), -EINVAL);
			CHECK_EQ_U64(bpfvm_runner_run(rs, words, 8, &r0), -EINVAL);
			r0 = 0;
			CHECK_EQ_U64(bpfvm_prog_run(vm, fs, eng, words, sizeof(words), &r0), 0);
			CHECK_EQ_U64(r0, 1016);
			CHECK_EQ_U64(bpfvm_prog_run(vm, fs, eng, NULL, sizeof(words), &r0), -EINVAL);
			CHECK_EQ_U64(bpfvm_prog_run(vm, fs, eng, words, 8, &r0), -EINVAL);
		}
		bpfvm_runner_free(rs);
	}
	/* only UNSPEC programs declare memory */
	struct bpf_insn ret0[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K }, { .code = BPF_JMP | BPF_EXIT } };
	struct bpfvm_prog_opts po = { .sz = sizeof(po), .declare_mem = 1, .mem_len = 8 };
	CHECK_EQ_U64(bpfvm_prog_load_opts(vm, BPF_PROG_TYPE_XDP, ret0, 2, &po), -EINVAL);
	bpfvm_free(vm);
}

/* A tc program: __sk_buff fields read and written (mark, cb[0]), the packet read and written behind a
 * data_end check; the checked and unchecked runs leave the same ctx, packet and verdict. */
static const char tc_prog[] =
	"r6 = r1\n"
	"r2 = *(u32 *)(r6 + 76)\n"   /* data */
	"r3 = *(u32 *)(r6 + 80)\n"   /* data_end */
	"r4 = r2\n"
	"r4 += 20\n"
	"if r4 > r3 goto out\n"
	"r5 = *(u32 *)(r2 + 16)\n"
	"r7 = *(u32 *)(r6 + 0)\n"    /* len */
	"r5 += r7\n"
	"*(u32 *)(r6 + 8) = r5\n"    /* mark */
	"*(u32 *)(r6 + 48) = r7\n"   /* cb[0] */
	"r0 = *(u32 *)(r6 + 8)\n"
	"r0 &= 0xff\n"
	"*(u8 *)(r2 + 0) = 0x42\n"
	"exit\n"
	"out:\n"
	"r0 = 0\n"
	"exit\n";
_Static_assert(offsetof(struct __sk_buff, data) == 76 && offsetof(struct __sk_buff, data_end) == 80 &&
	       offsetof(struct __sk_buff, mark) == 8 && offsetof(struct __sk_buff, cb) == 48 &&
	       offsetof(struct __sk_buff, len) == 0, "the offsets tc_prog spells");

struct tc_outcome {
	long err;
	uint32_t retval;
	uint8_t data[64];
	struct __sk_buff ctx;
	size_t twins;
};

static struct tc_outcome run_tc(int verify, int checks)
{
	struct tc_outcome out;
	struct bpfvm *vm = mkvm_checks(verify, checks);
	uint8_t pkt[64];
	struct __sk_buff ctx_in;

	memset(&out, 0, sizeof(out));
	memset(&ctx_in, 0, sizeof(ctx_in));
	out.err = -1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 5 + 1);
	int fd = load(vm, BPF_PROG_TYPE_SCHED_CLS, tc_prog);
	if (fd >= 0) {
		struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = sizeof(pkt), .data_out = out.data,
						 .data_size_out = sizeof(out.data), .ctx_in = &ctx_in,
						 .ctx_size_in = sizeof(ctx_in), .ctx_out = &out.ctx,
						 .ctx_size_out = sizeof(out.ctx) };
		out.err = test_run_via_bpf(vm, fd, &t);
		if (out.err)
			printf("  tc run: %s\n", bpfvm_errmsg(vm));
		out.retval = t.retval;
		out.twins = twins(vm, fd);
	}
	bpfvm_free(vm);
	return out;
}

TEST(tc_unchecked_run_matches_checked_runs)
{
	struct tc_outcome u = run_tc(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT);
	struct tc_outcome c = run_tc(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS);
	struct tc_outcome n = run_tc(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT);

	CHECK_EQ_U64(u.err, 0);
	CHECK_EQ_U64(c.err, 0);
	CHECK_EQ_U64(n.err, 0);
	CHECK_EQ_U64(u.twins, 8); /* every load and store */
	CHECK_EQ_U64(c.twins + n.twins, 0);
	uint32_t w16;
	uint8_t pkt16[4] = { 16 * 5 + 1, 17 * 5 + 1, 18 * 5 + 1, 19 * 5 + 1 };
	memcpy(&w16, pkt16, 4);
	CHECK_EQ_U64(u.ctx.mark, w16 + 64);
	CHECK_EQ_U64(u.ctx.cb[0], 64);
	CHECK_EQ_U64(u.retval, (w16 + 64) & 0xff);
	CHECK_EQ_U64(u.data[0], 0x42);
	CHECK_EQ_U64(u.retval, c.retval);
	CHECK_EQ_U64(u.retval, n.retval);
	CHECK(!memcmp(u.data, c.data, sizeof(u.data)) && !memcmp(u.data, n.data, sizeof(u.data)));
	CHECK(!memcmp(&u.ctx, &c.ctx, sizeof(u.ctx)) && !memcmp(&u.ctx, &n.ctx, sizeof(u.ctx)));
}

/* The checked build (-DBPFVM_CHECKED: asan, fuzz) asserts that an unchecked twin's access lies in the
 * run's memory: a twin forced onto an out-of-bounds packet read of an unverified program (as a wrong
 * proof would leave it) aborts the run at that insn instead of reading. */
TEST(checked_build_asserts_unchecked_accesses)
{
#ifndef BPFVM_CHECKED
	SKIP("only the checked build (-DBPFVM_CHECKED, make asan) asserts unchecked accesses");
#else
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr)) /* the invariant message is expected */
			_exit(3);
		struct bpfvm *vm = mkvm_checks(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT);
		int fd = load(vm, XDP, XDP_PKT "r0 = *(u8 *)(r6 + 4000)\nexit\n");
		int err = 0;
		struct sys_obj *o = fd >= 0 ? sys_get(vm, fd, SYS_PROG, &err) : NULL;
		if (!o)
			_exit(2);
		o->prog->insns[2].id = isa_twin_of[o->prog->insns[2].id]; /* what a wrong proof would do */
		sys_put(vm, o);
		uint8_t pkt[64] = { 0 };
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)fd;
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = sizeof(pkt);
		bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
		_exit(0); /* not reached in the checked build */
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
#endif
}

TEST(checks_option_validated)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .checks = BPFVM_CHECKS_ALWAYS + 1 };
	CHECK(bpfvm_new(&o) == NULL);
	o.checks = -1;
	CHECK(bpfvm_new(&o) == NULL);
}

int main(void)
{
	RUN(proofs_of_verified_programs);
	RUN(proofs_survive_pruning);
	RUN(no_proofs_without_the_verifier);
	RUN(unchecked_run_matches_checked_runs);
	RUN(tc_unchecked_run_matches_checked_runs);
	RUN(untrusted_runs_fault_cleanly_out_of_bounds);
	RUN(declared_memory_verified_and_unchecked);
	RUN(declared_memory_rules);
	RUN(checked_build_asserts_unchecked_accesses);
	RUN(checks_option_validated);
	return test_done();
}
