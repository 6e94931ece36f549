/* bench_interp.c -- interpreter speed in ns per executed instruction on loop-heavy programs.
 * Each program's executed-instruction count is known by construction, so ns/insn is exact arithmetic
 * over wall time (best of 5 runs).
 *
 * Then checked against unchecked runs (the verifier's proofs, bpfvm_opts.checks): an XDP packet parser
 * through PROG_TEST_RUN and a memory loop (an UNSPEC program over 4 KiB it declared), each loaded
 * verified in an instance that keeps every check (BPFVM_CHECKS_ALWAYS) and in one that skips what the
 * verifier proved; ns per run, best of 7 test runs of 20000 repetitions.  `--trust-case xdp|mem
 * checked|unchecked REPEAT` runs one case once (scripts/bench-interp-callgrind.sh counts its host
 * instructions). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpfvm.h>
#include <linux/bpf.h>
#include "../tests/unit/test_util.h" /* INSN_ID() */

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

/* ---- checked and unchecked --------------------------------------------------------------------- */

/* Ethernet + IPv4 (its header length from the packet, so the L4 header is at a variable offset) +
 * UDP/TCP ports, each behind a data_end check, hashed with the addresses and counted in an array map
 * indexed by the protocol: 34 insns on the counted path. */
static const char xdp_parser[] =
	"r6 = *(u32 *)(r1 + 0)\n"
	"r7 = *(u32 *)(r1 + 4)\n"
	"r2 = r6\n"
	"r2 += 34\n"
	"if r2 > r7 goto out\n"
	"r3 = *(u16 *)(r6 + 12)\n"
	"if r3 != 0x8 goto out\n"
	"r4 = *(u8 *)(r6 + 14)\n"
	"r4 &= 15\n"
	"r4 <<= 2\n"
	"if r4 < 20 goto out\n"
	"r5 = *(u8 *)(r6 + 23)\n"
	"r8 = *(u32 *)(r6 + 26)\n"
	"r9 = *(u32 *)(r6 + 30)\n"
	"r2 = r6\n"
	"r2 += 14\n"
	"r2 += r4\n"
	"r3 = r2\n"
	"r3 += 4\n"
	"if r3 > r7 goto out\n"
	"r0 = *(u16 *)(r2 + 0)\n"
	"r3 = *(u16 *)(r2 + 2)\n"
	"r0 ^= r3\n"
	"r0 ^= r8\n"
	"r0 ^= r9\n"
	"*(u32 *)(r10 - 8) = r0\n"
	"*(u32 *)(r10 - 4) = r5\n"
	"r2 = r10\n"
	"r2 += -4\n"
	"r1 = 0x7eadc000 ll\n"
	"call 1\n"
	"if r0 == 0 goto out\n"
	"r1 = *(u32 *)(r10 - 8)\n"
	"r3 = *(u64 *)(r0 + 0)\n"
	"r3 += r1\n"
	"*(u64 *)(r0 + 0) = r3\n"
	"out:\n"
	"r0 = 2\n"
	"exit\n";

/* Adds the running sum into each of 512 words of its memory: 7 insns per word, 3586 per run. */
static const char mem_loop[] =
	"r0 = 0\n"
	"r3 = 0\n"
	"loop:\n"
	"r4 = r1\n"
	"r4 += r3\n"
	"r5 = *(u64 *)(r4 + 0)\n"
	"r0 += r5\n"
	"*(u64 *)(r4 + 0) = r0\n"
	"r3 += 8\n"
	"if r3 < 4096 goto loop\n"
	"exit\n";
#define MEM_LOOP_INSNS (2.0 + 512 * 7 + 1)

struct trust_case {
	struct bpfvm *vm;
	bool xdp;
	int prog, map;
	uint8_t pkt[64];
	uint8_t mem[4096];
};

/* Loads case `xdp` or `mem` in an instance with the verifier on and `checks`; 0 or -1 (printed). */
static int trust_setup(struct trust_case *c, bool xdp, int checks)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .interp = 1, .verify = BPFVM_VERIFY_ON, .checks = checks };
	struct bpf_insn insns[128];

	memset(c, 0, sizeof(*c));
	c->xdp = xdp;
	c->vm = bpfvm_new(&o);
	long n = c->vm ? bpfvm_asm(c->vm, xdp ? xdp_parser : mem_loop, insns, 128) : -1;
	if (n < 0 || n > 128) {
		fprintf(stderr, "trust: no instance or asm failed\n");
		return -1;
	}
	if (xdp) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY;
		a.key_size = 4;
		a.value_size = 8;
		a.max_entries = 256;
		c->map = (int)bpfvm_bpf(c->vm, BPF_MAP_CREATE, &a, sizeof(a));
		for (long i = 0; i + 1 < n; i++)
			if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && insns[i].imm == 0x7eadc000) {
				insns[i].src_reg = BPF_PSEUDO_MAP_FD;
				insns[i].imm = c->map;
			}
		c->prog = bpfvm_prog_load(c->vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "parser");
		/* Ethernet (IPv4), IPv4 header (ihl 5, UDP), UDP ports 53 -> 5353 */
		static const uint8_t hdr[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
					       0x45, 0, 0, 50, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
					       0, 53, 0x14, 0xe9, 0, 30, 0, 0 };
		memcpy(c->pkt, hdr, sizeof(hdr));
	} else {
		struct bpfvm_prog_opts po = { .sz = sizeof(po), .name = "memloop", .declare_mem = 1,
					      .mem_len = sizeof(c->mem) };
		c->prog = bpfvm_prog_load_opts(c->vm, BPF_PROG_TYPE_UNSPEC, insns, (size_t)n, &po);
	}
	if (c->prog < 0) {
		fprintf(stderr, "trust: load: %s\n", bpfvm_errmsg(c->vm));
		return -1;
	}
	return 0;
}

/* One PROG_TEST_RUN of `repeat` runs; ns per run in *ns.  0 or -1 (printed). */
static int trust_run(struct trust_case *c, uint32_t repeat, uint32_t *ns)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)c->prog;
	a.test.repeat = repeat;
	if (c->xdp) {
		a.test.data_in = (uintptr_t)c->pkt;
		a.test.data_size_in = sizeof(c->pkt);
	} else {
		a.test.data_in = (uintptr_t)c->mem;
		a.test.data_size_in = sizeof(c->mem);
	}
	if (bpfvm_bpf(c->vm, BPF_PROG_TEST_RUN, &a, sizeof(a))) {
		fprintf(stderr, "trust: run: %s\n", bpfvm_errmsg(c->vm));
		return -1;
	}
	*ns = a.test.duration;
	return 0;
}

static void trust_bench(void)
{
	static const char *const names[] = { "XDP packet parser", "memory loop (4 KiB)" };
	for (int x = 0; x < 2; x++) {
		double best[2] = { 1e30, 1e30 };
		for (int u = 0; u < 2; u++) {
			struct trust_case *c = malloc(sizeof(*c));
			if (!c || trust_setup(c, x == 0, u ? BPFVM_CHECKS_DEFAULT : BPFVM_CHECKS_ALWAYS)) {
				free(c);
				return;
			}
			for (int i = 0; i < 7; i++) {
				uint32_t ns;
				if (trust_run(c, 20000, &ns))
					break;
				if (ns < best[u])
					best[u] = ns;
			}
			bpfvm_free(c->vm);
			free(c);
		}
		if (x == 0)
			printf("interp %-22s checked %5.0f ns/run, unchecked %5.0f ns/run (%.2fx)\n", names[x], best[0],
			       best[1], best[0] / best[1]);
		else
			printf("interp %-22s checked %5.2f ns/insn, unchecked %5.2f ns/insn (%.2fx)\n", names[x],
			       best[0] / MEM_LOOP_INSNS, best[1] / MEM_LOOP_INSNS, best[0] / best[1]);
	}
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--trust-case")) {
		struct trust_case *c = malloc(sizeof(*c));
		uint32_t ns;
		int rc = !c || trust_setup(c, !strcmp(argv[2], "xdp"),
					   !strcmp(argv[3], "unchecked") ? BPFVM_CHECKS_DEFAULT : BPFVM_CHECKS_ALWAYS) ||
			 trust_run(c, (uint32_t)strtoul(argv[4], NULL, 10), &ns);
		if (c)
			bpfvm_free(c->vm);
		free(c);
		return rc;
	}
	if (argc == 2 && !strcmp(argv[1], "--trust")) {
		trust_bench();
		return 0;
	}
	struct bpfvm_opts o = { .sz = sizeof(o), .insn_limit = BPFVM_INSN_UNLIMITED }; /* 20M-iteration loops */
	struct bpfvm *vm = bpfvm_new(&o);
	const int N = 20000000;

	/* ALU + branch: 5 insns per iteration */
	const struct bpf_insn alu[] = {
		INSN_ID(MOV64_K, 1, 0, 0, N),      /* r1 = N */
		INSN_ID(MOV64_K, 0, 0, 0, 0),      /* r0 = 0 */
		INSN_ID(MOV64_K, 2, 0, 0, 7),      /* r2 = 7 */
		INSN_ID(ADD64_X, 0, 1, 0, 0),      /* loop: r0 += r1 */
		INSN_ID(XOR64_X, 0, 2, 0, 0),      /* r0 ^= r2 */
		INSN_ID(ADD64_K, 2, 0, 0, 3),      /* r2 += 3 */
		INSN_ID(SUB64_K, 1, 0, 0, 1),      /* r1 -= 1 */
		INSN_ID(JNE_K, 1, 0, -5, 0),     /* if r1 != 0 goto loop */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	bench(vm, "alu+branch loop", alu, sizeof(alu) / sizeof(alu[0]), 3.0 + 5.0 * N + 1);

	/* stack load/store: 6 insns per iteration */
	const struct bpf_insn mem[] = {
		INSN_ID(MOV64_K, 1, 0, 0, N),
		INSN_ID(STDW, 10, 0, -8, 0),    /* *(u64 *)(r10 - 8) = 0 */
		INSN_ID(LDXDW, 0, 10, -8, 0),    /* loop: r0 = *(u64 *)(r10 - 8) */
		INSN_ID(ADD64_X, 0, 1, 0, 0),      /* r0 += r1 */
		INSN_ID(STXDW, 10, 0, -8, 0),    /* *(u64 *)(r10 - 8) = r0 */
		INSN_ID(LSH64_K, 0, 0, 0, 1),      /* r0 <<= 1 */
		INSN_ID(SUB64_K, 1, 0, 0, 1),      /* r1 -= 1 */
		INSN_ID(JNE_K, 1, 0, -6, 0),     /* if r1 != 0 goto loop */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	bench(vm, "stack load/store loop", mem, sizeof(mem) / sizeof(mem[0]), 2.0 + 6.0 * N + 1);

	/* 32-bit ALU with multiply/divide: 6 insns per iteration */
	const struct bpf_insn div[] = {
		INSN_ID(MOV64_K, 1, 0, 0, N),
		INSN_ID(MOV32_K, 0, 0, 0, 1),
		INSN_ID(MUL32_K, 0, 0, 0, 2654435761u), /* loop: w0 *= 2654435761 */
		INSN_ID(ADD32_K, 0, 0, 0, 12345),  /* w0 += 12345 */
		INSN_ID(MOV32_X, 3, 0, 0, 0),      /* w3 = w0 */
		INSN_ID(DIV32_K, 3, 0, 0, 7),      /* w3 /= 7 */
		INSN_ID(SUB64_K, 1, 0, 0, 1),
		INSN_ID(JNE_K, 1, 0, -6, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	bench(vm, "alu32 mul/div loop", div, sizeof(div) / sizeof(div[0]), 2.0 + 6.0 * N + 1);
	bpfvm_free(vm);
	trust_bench();
	return 0;
}
