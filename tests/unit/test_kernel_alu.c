/* test_kernel_alu.c -- differential test of ALU and jump semantics against the kernel.
 *
 * Random straight-line programs of ALU64/ALU32 instructions (every operation, K and X forms, signed
 * division, movsx, byte swaps) run both in bpfvm's interpreter and in the kernel through
 * BPF_PROG_TEST_RUN as socket filters; the kernel returns 32 bits, so each program runs twice: once
 * returning r0 and once r0 >> 32.  Skipped, with the reason printed, where bpf() is not usable. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define MAXI 64

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int32_t interesting_imm(void)
{
	static const int32_t v[] = { 0, 1, -1, 2, 7, 31, 32, 63, INT32_MIN, INT32_MAX, 0x7fff, -0x8000, 255, 0x12345678 };
	return (rnd() & 1) ? v[rnd() % (sizeof(v) / sizeof(v[0]))] : (int32_t)rnd();
}

/* Appends one random ALU instruction that the kernel's verifier accepts on scalars. */
static size_t gen_alu(struct bpf_insn *p)
{
	static const uint8_t ops[] = { 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0 };
	uint8_t op = ops[rnd() % sizeof(ops)];
	int is64 = rnd() & 1, is_x = rnd() & 1;
	uint8_t dst = (uint8_t)(rnd() % 6), src = (uint8_t)(rnd() % 6);
	uint8_t cls = is64 ? 0x07 : 0x04;
	int16_t off = 0;
	int32_t imm = interesting_imm();

	if ((rnd() % 8) == 0) { /* byte swaps */
		static const int32_t w[] = { 16, 32, 64 };
		uint8_t code = (rnd() % 3) == 0 ? 0xd7 : ((rnd() & 1) ? 0xdc : 0xd4);
		*p = INSN(code, dst, 0, 0, w[rnd() % 3]);
		return 1;
	}
	if (op == 0x80) { /* neg */
		*p = INSN(cls | 0x80, dst, 0, 0, 0);
		return 1;
	}
	if ((op == 0x30 || op == 0x90) && (rnd() & 1))
		off = 1; /* sdiv / smod */
	if (op == 0xb0 && is_x && (rnd() % 3) == 0) { /* movsx */
		static const int16_t o64[] = { 8, 16, 32 }, o32[] = { 8, 16 };
		off = is64 ? o64[rnd() % 3] : o32[rnd() % 2];
	}
	if ((op == 0x60 || op == 0x70 || op == 0xc0) && !is_x)
		imm = (int32_t)(rnd() % (is64 ? 64 : 32)); /* the kernel rejects out-of-range constant shifts */
	if ((op == 0x30 || op == 0x90) && !is_x && imm == 0)
		imm = 3; /* and constant division by zero */
	*p = INSN(cls | op | (is_x ? 0x08 : 0x00), dst, is_x ? src : 0, off, is_x ? 0 : imm);
	return 1;
}

static size_t gen_prog(struct bpf_insn *p, uint64_t seed)
{
	size_t n = 0;
	rng_state = seed * 0x2545F4914F6CDD1Dull + 1;
	for (uint8_t r = 0; r < 6; r++) {
		uint64_t v = rnd();
		if (rnd() & 1)
			v = (uint64_t)(int64_t)interesting_imm();
		p[n++] = INSN_ID(LDDW, r, 0, 0, (int32_t)(uint32_t)v);
		p[n++] = LDDW_HI((int32_t)(uint32_t)(v >> 32));
	}
	size_t body = 8 + rnd() % 24;
	for (size_t i = 0; i < body; i++)
		n += gen_alu(&p[n]);
	return n;
}

static int kernel_run(const struct bpf_insn *p, size_t n, uint32_t *ret, char *log, size_t log_len)
{
	union bpf_attr a;
	uint8_t pkt[64] = { 0 };
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = (uint32_t)log_len;
	a.log_level = 1;
	int fd = (int)kbpf(BPF_PROG_LOAD, &a);
	if (fd < 0)
		return fd;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	int err = (int)kbpf(BPF_PROG_TEST_RUN, &a);
	close(fd);
	if (err)
		return err;
	*ret = a.test.retval;
	return 0;
}

TEST(kernel_alu_differential)
{
	struct bpf_insn probe[] = { INSN_ID(MOV64_K, 0, 0, 0, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	uint32_t r;
	char log[65536];
	int perr = kernel_run(probe, 2, &r, log, sizeof(log));
	if (perr)
		SKIP(perr == -EPERM ? "bpf(): EPERM (not root)" : "bpf() BPF_PROG_LOAD/TEST_RUN unavailable");
	struct bpfvm *vm = bpfvm_new(NULL);
	int compared = 0;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct bpf_insn p[MAXI + 4];
		size_t n = gen_prog(p, seed);
		uint64_t ours;
		p[n] = INSN_ID(EXIT, 0, 0, 0, 0);
		int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, n + 1, "alu");
		CHECK(fd >= 0);
		if (fd < 0 || bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &ours)) {
			printf("  seed %llu: %s", (unsigned long long)seed, bpfvm_errmsg(vm));
			test_cur_failed = 1;
			continue;
		}
		bpfvm_close(vm, fd);
		uint32_t lo, hi;
		int e1 = kernel_run(p, n + 1, &lo, log, sizeof(log));
		p[n] = INSN_ID(RSH64_K, 0, 0, 0, 32); /* r0 >>= 32 */
		p[n + 1] = INSN_ID(EXIT, 0, 0, 0, 0);
		int e2 = kernel_run(p, n + 2, &hi, log, sizeof(log));
		if (e1 || e2) {
			printf("  seed %llu: kernel rejected (%d): %.200s\n", (unsigned long long)seed, e1 ? e1 : e2, log);
			continue; /* a kernel-side rejection is not a semantic difference */
		}
		uint64_t theirs = ((uint64_t)hi << 32) | lo;
		if (theirs != ours) {
			printf("  seed %llu: kernel 0x%llx bpfvm 0x%llx\n", (unsigned long long)seed,
			       (unsigned long long)theirs, (unsigned long long)ours);
			test_cur_failed = 1;
		}
		compared++;
	}
	CHECK(compared >= 350);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(kernel_alu_differential);
	return test_done();
}
