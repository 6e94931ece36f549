/* bench_interp.c -- interpreter speed in ns per executed instruction on loop-heavy programs.
 * Each program's executed-instruction count is known by construction, so ns/insn is exact arithmetic
 * over wall time (best of 5 runs). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpfvm.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void bench(struct bpfvm *vm, const char *name, const struct bpf_insn *p, size_t n, double insns_run)
{
	int fd = bpfvm_prog_load(vm, 0, p, n, "bench");
	uint64_t r0 = 0;
	double best = 1e30;

	if (fd < 0) {
		fprintf(stderr, "%s: %s", name, bpfvm_errmsg(vm));
		return;
	}
	for (int i = 0; i < 5; i++) {
		double t0 = now_ns();
		if (bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &r0)) {
			fprintf(stderr, "%s: %s", name, bpfvm_errmsg(vm));
			return;
		}
		double dt = now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	printf("interp %-22s %6.2f ns/insn  (%.0f insns, r0=0x%llx)\n", name, best / insns_run, insns_run,
	       (unsigned long long)r0);
	bpfvm_close(vm, fd);
}

int main(void)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .insn_limit = BPFVM_INSN_UNLIMITED }; /* 20M-iteration loops */
	struct bpfvm *vm = bpfvm_new(&o);
	const int N = 20000000;

	/* ALU + branch: 5 insns per iteration */
	const struct bpf_insn alu[] = {
		INSN(0xb7, 1, 0, 0, N),      /* r1 = N */
		INSN(0xb7, 0, 0, 0, 0),      /* r0 = 0 */
		INSN(0xb7, 2, 0, 0, 7),      /* r2 = 7 */
		INSN(0x0f, 0, 1, 0, 0),      /* loop: r0 += r1 */
		INSN(0xaf, 0, 2, 0, 0),      /* r0 ^= r2 */
		INSN(0x07, 2, 0, 0, 3),      /* r2 += 3 */
		INSN(0x17, 1, 0, 0, 1),      /* r1 -= 1 */
		INSN(0x55, 1, 0, -5, 0),     /* if r1 != 0 goto loop */
		INSN(0x95, 0, 0, 0, 0),
	};
	bench(vm, "alu+branch loop", alu, sizeof(alu) / sizeof(alu[0]), 3.0 + 5.0 * N + 1);

	/* stack load/store: 6 insns per iteration */
	const struct bpf_insn mem[] = {
		INSN(0xb7, 1, 0, 0, N),
		INSN(0x7a, 10, 0, -8, 0),    /* *(u64 *)(r10 - 8) = 0 */
		INSN(0x79, 0, 10, -8, 0),    /* loop: r0 = *(u64 *)(r10 - 8) */
		INSN(0x0f, 0, 1, 0, 0),      /* r0 += r1 */
		INSN(0x7b, 10, 0, -8, 0),    /* *(u64 *)(r10 - 8) = r0 */
		INSN(0x67, 0, 0, 0, 1),      /* r0 <<= 1 */
		INSN(0x17, 1, 0, 0, 1),      /* r1 -= 1 */
		INSN(0x55, 1, 0, -6, 0),     /* if r1 != 0 goto loop */
		INSN(0x95, 0, 0, 0, 0),
	};
	bench(vm, "stack load/store loop", mem, sizeof(mem) / sizeof(mem[0]), 2.0 + 6.0 * N + 1);

	/* 32-bit ALU with multiply/divide: 6 insns per iteration */
	const struct bpf_insn div[] = {
		INSN(0xb7, 1, 0, 0, N),
		INSN(0xb4, 0, 0, 0, 1),
		INSN(0x24, 0, 0, 0, 2654435761u), /* loop: w0 *= 2654435761 */
		INSN(0x04, 0, 0, 0, 12345),  /* w0 += 12345 */
		INSN(0xbc, 3, 0, 0, 0),      /* w3 = w0 */
		INSN(0x34, 3, 0, 0, 7),      /* w3 /= 7 */
		INSN(0x17, 1, 0, 0, 1),
		INSN(0x55, 1, 0, -6, 0),
		INSN(0x95, 0, 0, 0, 0),
	};
	bench(vm, "alu32 mul/div loop", div, sizeof(div) / sizeof(div[0]), 2.0 + 6.0 * N + 1);
	bpfvm_free(vm);
	return 0;
}
