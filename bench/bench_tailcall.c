/* bench_tailcall.c -- the cost of bpf_tail_call() on each engine: XDP programs over a 64-byte packet,
 * PROG_TEST_RUN with `repeat` (mean ns per run, whole ns), best of --rounds runs each:
 *  - self: a program in slot 0 tail-calls slot 0 until the limit (1 + 33 runs of it), so on the JIT
 *    every tail call after the first is native (x86_64.c emit_TAIL_CALL());
 *  - ping-pong: two programs in slots 0 and 1 tail-call each other (33 calls), so every JIT tail call
 *    goes to another program than the last and through C (jit_g_tail_call());
 * each less the run of a program that only returns, over 33.  Nothing here asserts timings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h"

static int rounds = 7;

/* best mean ns per run of `rep` runs, or -1 (with the message) when a run fails */
static double per_run(struct bpfvm *vm, int prog, uint32_t rep)
{
	uint8_t pkt[64] = { 0 };
	double best = -1;
	for (int r = 0; r < rounds; r++) {
		struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt),
						 .repeat = rep };
		if (test_run_via_bpf(vm, prog, &t)) {
			printf("run: %s\n", bpfvm_errmsg(vm));
			return -1;
		}
		if (best < 0 || t.duration < best)
			best = t.duration;
	}
	return best;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--rounds"))
		rounds = atoi(argv[2]) > 0 ? atoi(argv[2]) : rounds;
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .interp = interp };
		struct bpfvm *vm = bpfvm_new(&o);
		int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
		const struct bpf_insn ret[] = { MOV_K(0, 1), EXIT };
		const struct bpf_insn to0[] = { LD_MAP(2, pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT };
		const struct bpf_insn to1[] = { LD_MAP(2, pa), MOV_K(3, 1), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT };
		int e = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, ret, ARRAY_SIZE(ret), "ret");
		int p0 = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, to0, ARRAY_SIZE(to0), "to0");
		int p1 = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, to1, ARRAY_SIZE(to1), "to1");
		if (pa < 0 || e < 0 || p0 < 0 || p1 < 0) {
			printf("setup: %s\n", bpfvm_errmsg(vm));
			return 1;
		}
		uint32_t k0 = 0, k1 = 1;
		double base = per_run(vm, e, 200000);
		UPD(vm, pa, &k0, &p0, 0);
		double self = per_run(vm, p0, 50000);
		UPD(vm, pa, &k0, &p1, 0);
		UPD(vm, pa, &k1, &p0, 0);
		double pp = per_run(vm, p0, 50000);
		printf("%-6s empty run %4.1f ns   self %6.2f ns/tail call   ping-pong %6.2f ns/tail call\n",
		       interp ? "interp" : "jit", base, (self - base) / 33, (pp - base) / 33);
		bpfvm_free(vm);
	}
	return 0;
}
