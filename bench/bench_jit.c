/* bench_jit.c -- engines side by side on compute-heavy micro programs: the bpfvm interpreter, the bpfvm
 * JIT and the kernel's JIT (BPF_PROG_TEST_RUN with repeat, where bpf() is usable: skipped otherwise, with
 * the reason), and the same logic in C compiled with the bench (gcc -O2).  Each program is an XDP program
 * (ignoring its packet) so that all three run it through the same PROG_TEST_RUN; the figure is the
 * test run's `duration` (ns per run, averaged over `repeat` runs), best of ROUNDS x LOADS.  Also: the JIT's compile
 * cost (program load with and without native code, per insn) and an empty program's call through
 * bpfvm_prog_run() and through a prepared bpfvm_runner.  Numbers only; nothing is asserted. */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h" /* kbpf(), INSN_ID(), OPC() */

#define REPEAT 100
#define ROUNDS 40
#define LOADS 4   /* each program loaded this many times per engine (run_engine()) */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- the programs: LLVM-syntax assembly; "MAP" marks the lddw patched with the array map's fd ---- */
struct prog {
	const char *name;
	const char *src;
	int uses_map;           /* a map type (BPF_MAP_TYPE_*) of four keys 0..3 = lookup_vals; 0: none */
	uint64_t (*native)(void);
};

/* integer math: 1000 rounds of multiply/xor/shift */
static const char math_src[] =
	"r0 = 0\n r1 = 1000\n"
	"loop: r0 *= 31\n r0 += r1\n r2 = r0\n r2 >>= 7\n r0 ^= r2\n r1 += -1\n if r1 != 0 goto loop\n"
	"exit\n";
static __attribute__((noinline)) uint64_t math_native(void)
{
	uint64_t r0 = 0;
	for (volatile uint64_t n = 1000; n; n--) {
		uint64_t r1 = n;
		r0 = r0 * 31 + r1;
		r0 ^= r0 >> 7;
	}
	return r0;
}

/* FNV-1a over a 64-byte stack buffer, 16 times */
static const char fnv_src[] =
	"r1 = 0\n"
	"init: r2 = r10\n r2 += -64\n r2 += r1\n r3 = r1\n r3 *= 7\n *(u8 *)(r2 + 0) = r3\n r1 += 1\n if r1 < 64 goto init\n"
	"r0 = 0xcbf29ce484222325 ll\n r6 = 0x100000001b3 ll\n r4 = 16\n"
	"round: r3 = r10\n r3 += -64\n r5 = 64\n"
	"byte: r2 = *(u8 *)(r3 + 0)\n r0 ^= r2\n r0 *= r6\n r3 += 1\n r5 += -1\n if r5 != 0 goto byte\n"
	"r4 += -1\n if r4 != 0 goto round\n"
	"exit\n";
static __attribute__((noinline)) uint64_t fnv_native(void)
{
	volatile uint8_t buf[64];
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < 64; i++)
		buf[i] = (uint8_t)(i * 7);
	for (int r = 0; r < 16; r++)
		for (int i = 0; i < 64; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	return h;
}

/* memory copy: 256 bytes, 8 bytes at a time, 8 times */
static const char copy_src[] =
	"r1 = 0\n"
	"init: r2 = r10\n r2 += -512\n r2 += r1\n *(u64 *)(r2 + 0) = r1\n r1 += 8\n if r1 < 256 goto init\n"
	"r4 = 8\n"
	"round: r2 = r10\n r2 += -512\n r3 = r10\n r3 += -256\n r5 = 32\n"
	"cp: r0 = *(u64 *)(r2 + 0)\n *(u64 *)(r3 + 0) = r0\n r2 += 8\n r3 += 8\n r5 += -1\n if r5 != 0 goto cp\n"
	"r4 += -1\n if r4 != 0 goto round\n"
	"r0 = *(u64 *)(r10 - 8)\n exit\n";
static __attribute__((noinline)) uint64_t copy_native(void)
{
	volatile uint64_t a[32], b[32];
	for (int i = 0; i < 32; i++)
		a[i] = (uint64_t)i * 8;
	for (int r = 0; r < 8; r++)
		for (int i = 0; i < 32; i++)
			b[i] = a[i];
	return b[31];
}

/* byte-wise compare of two 64-byte strings that differ in the last byte, 16 times */
static const char strcmp_src[] =
	"r1 = 0\n"
	"init: r2 = r10\n r2 += -128\n r2 += r1\n r3 = r1\n r3 &= 31\n r3 += 65\n *(u8 *)(r2 + 0) = r3\n *(u8 *)(r2 + 64) = r3\n"
	" r1 += 1\n if r1 < 64 goto init\n"
	"*(u8 *)(r10 - 1) = 0\n r0 = 0\n r4 = 16\n"
	"round: r2 = r10\n r2 += -128\n r5 = 64\n"
	"cmp: r6 = *(u8 *)(r2 + 0)\n r7 = *(u8 *)(r2 + 64)\n if r6 != r7 goto diff\n r2 += 1\n r5 += -1\n if r5 != 0 goto cmp\n"
	" goto next\n"
	"diff: r0 += r5\n"
	"next: r4 += -1\n if r4 != 0 goto round\n"
	"exit\n";
static __attribute__((noinline)) uint64_t strcmp_native(void)
{
	volatile uint8_t s[128];
	uint64_t r0 = 0;
	for (int i = 0; i < 64; i++)
		s[i] = s[64 + i] = (uint8_t)((i & 31) + 65);
	s[127] = 0;
	for (int r = 0; r < 16; r++)
		for (int i = 0; i < 64; i++)
			if (s[i] != s[64 + i]) {
				r0 += (uint64_t)(64 - i);
				break;
			}
	return r0;
}

/* switch-like branching: 1000 rounds of a chain of compares on i & 7 */
static const char switch_src[] =
	"r0 = 0\n r1 = 1000\n"
	"loop: r2 = r1\n r2 &= 7\n"
	" if r2 == 0 goto c0\n if r2 == 1 goto c1\n if r2 == 2 goto c2\n if r2 == 3 goto c3\n"
	" if r2 == 4 goto c4\n if r2 == 5 goto c5\n if r2 == 6 goto c6\n"
	" r0 -= 7\n goto next\n"
	"c0: r0 += 1\n goto next\n c1: r0 ^= 3\n goto next\n c2: r0 *= 3\n goto next\n c3: r0 += r1\n goto next\n"
	"c4: r0 <<= 1\n goto next\n c5: r0 >>= 1\n goto next\n c6: r0 |= 64\n"
	"next: r1 += -1\n if r1 != 0 goto loop\n"
	"exit\n";
static __attribute__((noinline)) uint64_t switch_native(void)
{
	uint64_t r0 = 0;
	for (volatile uint64_t n = 1000; n; n--) {
		uint64_t r1 = n;
		switch (r1 & 7) {
		case 0: r0 += 1; break;
		case 1: r0 ^= 3; break;
		case 2: r0 *= 3; break;
		case 3: r0 += r1; break;
		case 4: r0 <<= 1; break;
		case 5: r0 >>= 1; break;
		case 6: r0 |= 64; break;
		default: r0 -= 7; break;
		}
	}
	return r0;
}

/* bpf-to-bpf calls: 500 calls of a small function */
static const char calls_src[] =
	"r6 = 0\n r7 = 500\n"
	"loop: r1 = r7\n r2 = r6\n call local f\n r6 = r0\n r7 += -1\n if r7 != 0 goto loop\n"
	"r0 = r6\n exit\n"
	"f: r0 = r1\n r0 *= 3\n r0 += r2\n r0 ^= 0x55\n exit\n";
static __attribute__((noinline)) uint64_t calls_f(uint64_t a, uint64_t b)
{
	__asm__("");
	return ((a * 3) + b) ^ 0x55;
}
static __attribute__((noinline)) uint64_t calls_native(void)
{
	uint64_t r6 = 0;
	for (volatile uint64_t n = 500; n; n--)
		r6 = calls_f(n, r6);
	return r6;
}

/* array map lookups: 200 lookups of keys 0..3, summing the values */
static const char lookup_src[] =
	"r6 = 0\n r7 = 200\n"
	"loop: r1 = r7\n r1 &= 3\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n"
	" r1 = 0 ll\n"   /* MAP */
	" call 1\n if r0 == 0 goto next\n r1 = *(u64 *)(r0 + 0)\n r6 += r1\n"
	"next: r7 += -1\n if r7 != 0 goto loop\n"
	"r0 = r6\n exit\n";
static uint64_t lookup_vals[4] = { 1, 10, 100, 1000 };
static __attribute__((noinline)) uint64_t lookup_native(void)
{
	uint64_t r6 = 0;
	for (volatile uint32_t n = 200; n; n--)
		r6 += ((volatile uint64_t *)lookup_vals)[n & 3];
	return r6;
}

/* hash map lookups: the same loop on a hash map of the same four keys */
static const char hlookup_src[] =
	"r6 = 0\n r7 = 200\n"
	"loop: r1 = r7\n r1 &= 3\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n"
	" r1 = 0 ll\n"   /* MAP */
	" call 1\n if r0 == 0 goto next\n r1 = *(u64 *)(r0 + 0)\n r6 += r1\n"
	"next: r7 += -1\n if r7 != 0 goto loop\n"
	"r0 = r6\n exit\n";
static __attribute__((noinline)) uint64_t hlookup_native(void)
{
	/* an open-addressing table of the four keys, as a hash map's fast path */
	static const uint32_t keys[8] = { 0, 1, 2, 3, 99, 99, 99, 99 };
	uint64_t r6 = 0;
	for (volatile uint32_t n = 200; n; n--) {
		uint32_t k = n & 3, h = (k * 2654435761u) >> 29;
		while (((volatile const uint32_t *)keys)[h] != k)
			h = (h + 1) & 7;
		r6 += ((volatile uint64_t *)lookup_vals)[keys[h]];
	}
	return r6;
}

/* packet parsing: Ethernet, IPv4 (variable header length) and UDP of the test packet, bounds-checked
 * against data_end as the verifier demands, 64 times, summing ports and the IP id */
static const char parse_src[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r0 = 0\n r8 = 64\n"
	"loop: r2 = r6\n r2 += 34\n if r2 > r7 goto out\n"
	" r3 = *(u16 *)(r6 + 12)\n if r3 != 0x8 goto next\n"
	" r4 = *(u8 *)(r6 + 14)\n r4 &= 15\n r4 <<= 2\n if r4 < 20 goto next\n"
	" r5 = *(u8 *)(r6 + 23)\n if r5 != 17 goto next\n"
	" r3 = *(u16 *)(r6 + 18)\n r3 = be16 r3\n r0 += r3\n"
	" r2 = r6\n r2 += 14\n r2 += r4\n r9 = r2\n r9 += 8\n if r9 > r7 goto next\n"
	" r3 = *(u16 *)(r2 + 2)\n r3 = be16 r3\n r0 += r3\n r3 = *(u16 *)(r2 + 0)\n r3 = be16 r3\n r0 ^= r3\n"
	"next: r0 += r8\n r8 += -1\n if r8 != 0 goto loop\n"
	"out: exit\n";
/* Ethernet + IPv4 (id 0x1234, UDP) + UDP 5353 -> 53 */
static uint8_t bench_pkt[64] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
	0x45, 0, 0, 50, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x14, 0xe9, 0x00, 0x35, 0, 30, 0, 0,
};
static __attribute__((noinline)) uint64_t parse_native(void)
{
	const volatile uint8_t *p = bench_pkt;
	const volatile uint8_t *end = bench_pkt + sizeof(bench_pkt);
	uint64_t r0 = 0;
	for (volatile uint64_t n = 64; n; n--) {
		if (p + 34 > end)
			break;
		if (p[12] == 0x08 && p[13] == 0) {
			unsigned ihl = (p[14] & 15u) * 4;
			if (ihl >= 20 && p[23] == 17) {
				r0 += (uint64_t)(p[18] << 8 | p[19]);
				const volatile uint8_t *u = p + 14 + ihl;
				if (u + 8 <= end) {
					r0 += (uint64_t)(u[2] << 8 | u[3]);
					r0 ^= (uint64_t)(u[0] << 8 | u[1]);
				}
			}
		}
		r0 += n;
	}
	return r0;
}

static const struct prog progs[] = {
	{ "int math", math_src, 0, math_native },
	{ "fnv1a hash", fnv_src, 0, fnv_native },
	{ "memory copy", copy_src, 0, copy_native },
	{ "byte strcmp", strcmp_src, 0, strcmp_native },
	{ "switch branching", switch_src, 0, switch_native },
	{ "bpf-to-bpf calls", calls_src, 0, calls_native },
	{ "array lookups", lookup_src, BPF_MAP_TYPE_ARRAY, lookup_native },
	{ "hash lookups", hlookup_src, BPF_MAP_TYPE_HASH, hlookup_native },
	{ "packet parsing", parse_src, 0, parse_native },
};
#define NPROGS (sizeof(progs) / sizeof(progs[0]))

/* ---- engines ---- */
static void patch_map(struct bpf_insn *in, size_t n, int fd)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (in[i].code == OPC(LDDW) && in[i].dst_reg == 1 && in[i].imm == 0 && in[i + 1].imm == 0) {
			in[i].src_reg = BPF_PSEUDO_MAP_FD;
			in[i].imm = fd;
			return;
		}
}

typedef long (*bpf_fn)(void *ctx, int cmd, union bpf_attr *a);
static long via_bpfvm(void *ctx, int cmd, union bpf_attr *a) { return bpfvm_bpf(ctx, cmd, a, sizeof(*a)); }
static long via_kernel(void *ctx, int cmd, union bpf_attr *a) { (void)ctx; return kbpf(cmd, a); }

/* ns per run of one load (best of ROUNDS), or a negative errno; r0 in *ret */
static double run_load(bpf_fn bpf, void *ctx, const struct bpf_insn *insns, size_t n, int uses_map, uint64_t *ret,
			 char *why, size_t why_len)
{
	struct bpf_insn *p = malloc(n * sizeof(*p));
	union bpf_attr a;
	int map_fd = -1, prog_fd;
	double best = -1;
	static char log[65536];

	memcpy(p, insns, n * sizeof(*p));
	if (uses_map) {
		memset(&a, 0, sizeof(a));
		a.map_type = (uint32_t)uses_map;
		a.key_size = 4;
		a.value_size = 8;
		a.max_entries = 4;
		map_fd = (int)bpf(ctx, BPF_MAP_CREATE, &a);
		if (map_fd < 0) {
			snprintf(why, why_len, "map create: %s", strerror(-map_fd));
			free(p);
			return -1;
		}
		for (uint32_t k = 0; k < 4; k++) {
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)map_fd;
			a.key = (uintptr_t)&k;
			a.value = (uintptr_t)&lookup_vals[k];
			bpf(ctx, BPF_MAP_UPDATE_ELEM, &a);
		}
		patch_map(p, n, map_fd);
	}
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	log[0] = 0;
	prog_fd = (int)bpf(ctx, BPF_PROG_LOAD, &a);
	if (prog_fd < 0) { /* again with the verifier's log, for the reason */
		int load_err = -prog_fd; /* both bpfvm_bpf() and kbpf() return -errno */
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		bpf(ctx, BPF_PROG_LOAD, &a);
		char *last = strrchr(log, '\n');
		while (last && last > log && last[1] == 0) {
			*last = 0;
			last = strrchr(log, '\n');
		}
		snprintf(why, why_len, "load: %s (%s)", strerror(load_err), last ? last + 1 : log);
		goto out;
	}
	uint8_t pkt[sizeof(bench_pkt)];
	memcpy(pkt, bench_pkt, sizeof(pkt));
	for (int r = 0; r < ROUNDS; r++) {
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)prog_fd;
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = sizeof(pkt);
		a.test.repeat = REPEAT;
		long err = bpf(ctx, BPF_PROG_TEST_RUN, &a);
		if (err) {
			snprintf(why, why_len, "test run: %s", strerror((int)-err));
			best = -1;
			break;
		}
		*ret = a.test.retval;
		if (best < 0 || a.test.duration < best)
			best = a.test.duration;
	}
	if (bpf == via_kernel)
		close(prog_fd);
	else
		bpfvm_close(ctx, prog_fd);
out:
	if (map_fd >= 0) {
		if (bpf == via_kernel)
			close(map_fd);
		else
			bpfvm_close(ctx, map_fd);
	}
	free(p);
	return best;
}

/* The best of LOADS loads (run_load()): on this machine one load of a program can run up to 1.8x slower
 * than another load of the same program through all its rounds, in the kernel's JIT as in bpfvm's (and
 * the C version between processes): where the code and the stack land, not the code itself. */
static double run_engine(bpf_fn bpf, void *ctx, const struct bpf_insn *insns, size_t n, int uses_map, uint64_t *ret,
			 char *why, size_t why_len)
{
	double best = -1;
	for (int l = 0; l < LOADS; l++) {
		double t = run_load(bpf, ctx, insns, n, uses_map, ret, why, why_len);
		if (t < 0)
			return t;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

/* `bench_jit [NAME ...]`: only the programs whose names contain one of the NAMEs (and then not the
 * compile and call costs), to look at one program under perf */
static bool wanted(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strstr(name, argv[i]))
			return true;
	return argc < 2;
}

static double native_ns(uint64_t (*fn)(void), uint64_t *ret)
{
	double best = 1e30;
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < REPEAT; i++)
			*ret = fn();
		double dt = (now_ns() - t0) / REPEAT;
		if (dt < best)
			best = dt;
	}
	return best;
}

/* What bpfvm_runner_run() does for an empty program, in C: the least a call through an API can cost. */
struct floor_call {
	uint64_t (*fn)(uint64_t r1, uint64_t r2, uintptr_t r10);
};
static __attribute__((noinline)) uint64_t floor_ret0(uint64_t r1, uint64_t r2, uintptr_t r10)
{
	(void)r1;
	(void)r2;
	(void)r10;
	return 0;
}
static __attribute__((noinline)) int floor_run(struct floor_call *h, void *mem, size_t len, uint64_t *ret)
{
	*ret = h->fn((uintptr_t)mem, len, 0);
	return 0;
}

int main(int argc, char **argv)
{
	/* Both engines load programs verified, as the kernel does, so that what the verifier proved runs
	 * unchecked; a program bpfvm's verifier refuses runs unverified (checked) on both, marked '*'. */
	struct bpfvm_opts io = { .sz = sizeof(io), .interp = 1, .verify = BPFVM_VERIFY_ON };
	struct bpfvm_opts jo = { .sz = sizeof(jo), .verify = BPFVM_VERIFY_ON };
	struct bpfvm_opts io0 = { .sz = sizeof(io0), .interp = 1, .verify = BPFVM_VERIFY_OFF };
	struct bpfvm_opts jo0 = { .sz = sizeof(jo0), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vi = bpfvm_new(&io), *vj = bpfvm_new(&jo), *vi0 = bpfvm_new(&io0), *vj0 = bpfvm_new(&jo0);
	double gi = 0, gj = 0, gk = 0, gn = 0;
	int nk = 0, n = 0, unverified = 0, nv = 0;
	double gjv = 0, gkv = 0;
	char why[512] = "", vwhy[512] = "";

	if (!vi || !vj || !vi0 || !vj0)
		return 1;
	printf("bench_jit: ns per run (PROG_TEST_RUN duration, repeat %d, best of %d rounds of %d loads); native = gcc -O2 C\n",
	       REPEAT, ROUNDS, LOADS);
	printf("%-18s %10s %10s %10s %10s %9s %9s %9s\n", "program", "interp", "jit", "kernel", "native", "jit/kern",
	       "jit/nat", "int/jit");
	for (size_t i = 0; i < NPROGS; i++) {
		struct bpf_insn buf[512];
		if (!wanted(progs[i].name, argc, argv))
			continue;
		long cnt = bpfvm_asm(vi, progs[i].src, buf, 512);
		uint64_t ri = 0, rj = 0, rk = 0, rn = 0;
		if (cnt < 0 || cnt > 512) {
			printf("%-18s assembler: %s\n", progs[i].name, bpfvm_errmsg(vi));
			continue;
		}
		double ti = run_engine(via_bpfvm, vi, buf, (size_t)cnt, progs[i].uses_map, &ri, vwhy, sizeof(vwhy));
		double tj = run_engine(via_bpfvm, vj, buf, (size_t)cnt, progs[i].uses_map, &rj, vwhy, sizeof(vwhy));
		bool checked = ti < 0 || tj < 0;
		if (checked) {
			ti = run_engine(via_bpfvm, vi0, buf, (size_t)cnt, progs[i].uses_map, &ri, why, sizeof(why));
			tj = run_engine(via_bpfvm, vj0, buf, (size_t)cnt, progs[i].uses_map, &rj, why, sizeof(why));
			unverified++;
		}
		if (ti < 0 || tj < 0) {
			printf("%-18s bpfvm: %s %s\n", progs[i].name, why, bpfvm_errmsg(vj));
			continue;
		}
		char kwhy[512] = "";
		double tk = run_engine(via_kernel, NULL, buf, (size_t)cnt, progs[i].uses_map, &rk, kwhy, sizeof(kwhy));
		double tn = native_ns(progs[i].native, &rn);
		char ks[16] = "-", kr[16] = "-";
		if (tk >= 0) {
			snprintf(ks, sizeof(ks), "%.0f", tk);
			snprintf(kr, sizeof(kr), "%.2f", tj / (tk > 0 ? tk : 1));
			gk += log(tk > 0 ? tk : 1);
			nk++;
		}
		printf("%-17s%s %10.0f %10.0f %10s %10.1f %9s %9.2f %9.2f%s\n", progs[i].name, checked ? "*" : " ", ti, tj, ks,
		       tn, kr,
		       tj / tn, ti / tj, ri != rj || (tk >= 0 && (uint32_t)rk != (uint32_t)rj) || (uint32_t)rn != (uint32_t)rj ?
		       "  (results differ!)" : "");
		if (tk < 0)
			printf("%-18s   kernel skipped: %s\n", "", kwhy);
		if (checked)
			printf("%-18s   * bpfvm's verifier refused it, run unverified: %s\n", "", vwhy);
		gi += log(ti);
		gj += log(tj);
		gn += log(tn);
		n++;
		if (!checked && tk >= 0) { /* the programs both verifiers proved: like for like */
			gjv += log(tj);
			gkv += log(tk > 0 ? tk : 1);
			nv++;
		}
	}
	if (n)
		printf("%-18s %10.0f %10.0f %10s %10.1f %9s %9.2f %9.2f\n", "geomean", exp(gi / n), exp(gj / n),
		       nk == n ? "" : "(partial)", exp(gn / n), "", exp(gj / n) / exp(gn / n), exp(gi / n) / exp(gj / n));
	if (nk == n && n)
		printf("%-18s %10s %10s %10.0f %10s %9.2f\n", "geomean kernel", "", "", exp(gk / nk), "",
		       exp(gj / n) / exp(gk / nk));
	if (unverified)
		printf("(%d of %d programs ran unverified, with every check: see '*')\n", unverified, n);
	if (nv)
		printf("%-18s %10s %10.0f %10.0f %10s %9.2f   (the %d programs both verifiers proved)\n", "geomean verified",
		       "", exp(gjv / nv), exp(gkv / nv), "", exp(gjv / nv) / exp(gkv / nv), nv);

	if (argc > 1)
		goto done;
	/* compile cost: loading a straight-line program of N insns (validation + fixup + JIT; interp
	 * instance loads compile too, so the JIT's share is measured against the same load with native code
	 * dropped is not separable here: reported as load time per insn) */
	for (size_t sz = 16; sz <= 16384; sz *= 32) {
		struct bpf_insn *p = calloc(sz, sizeof(*p));
		for (size_t k = 0; k + 1 < sz; k++)
			p[k] = ADD_K(0, (int32_t)k);
		p[sz - 1] = EXIT;
		double best = 1e30;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			int fd = bpfvm_prog_load(vj0, 0, p, sz, "size");
			double dt = now_ns() - t0;
			if (fd >= 0)
				bpfvm_close(vj0, fd);
			if (dt < best)
				best = dt;
		}
		printf("load+JIT of %5zu insns: %8.1f us (%.1f ns/insn)\n", sz, best / 1e3, best / (double)sz);
		free(p);
	}

	/* an empty program through the API */
	const struct bpf_insn empty[] = { MOV_K(0, 0), EXIT };
	int fd = bpfvm_prog_load(vj0, 0, empty, 2, "empty");
	for (int e = 0; e < 2 && fd >= 0; e++) {
		enum bpfvm_engine eng = e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP;
		uint64_t r0;
		double best = 1e30;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (int i = 0; i < 100000; i++)
				bpfvm_prog_run(vj0, fd, eng, NULL, 0, &r0);
			double dt = (now_ns() - t0) / 100000;
			if (dt < best)
				best = dt;
		}
		printf("empty program via bpfvm_prog_run (%s): %.1f ns/call\n", e ? "jit" : "interp", best);
	}
	/* the same through a runner (the handle, engine and run state taken once) */
	for (int e = 0; e < 2 && fd >= 0; e++) {
		struct bpfvm_runner *rn;
		uint64_t r0;
		double best = 1e30;
		if (bpfvm_runner_new(vj0, fd, e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP, &rn))
			break;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (int i = 0; i < 1000000; i++)
				bpfvm_runner_run(rn, NULL, 0, &r0);
			double dt = (now_ns() - t0) / 1000000;
			if (dt < best)
				best = dt;
		}
		bpfvm_runner_free(rn);
		printf("empty program via bpfvm_runner_run (%s): %.1f ns/call\n", e ? "jit" : "interp", best);
	}
	/* the same through bpfvm_runner_run_inline(): the direct code called from here, no library call */
	if (fd >= 0) {
		struct bpfvm_runner *rn;
		uint64_t r0;
		double best = 1e30;
		if (bpfvm_runner_new(vj0, fd, BPFVM_ENGINE_JIT, &rn) == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				double t0 = now_ns();
				for (int i = 0; i < 1000000; i++)
					bpfvm_runner_run_inline(rn, NULL, 0, &r0);
				double dt = (now_ns() - t0) / 1000000;
				if (dt < best)
					best = dt;
			}
			bpfvm_runner_free(rn);
			printf("empty program via bpfvm_runner_run_inline (jit): %.1f ns/call\n", best);
		}
	}
	/* the same, 64 runs per call through bpfvm_runner_run_batch() (no library call per run) */
	for (int e = 0; e < 2 && fd >= 0; e++) {
		struct bpfvm_runner *rn;
		void *mems[64] = { NULL };
		size_t lens[64] = { 0 }, done;
		uint64_t r0s[64];
		double best = 1e30;
		if (bpfvm_runner_new(vj0, fd, e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP, &rn))
			break;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (int i = 0; i < 1000000 / 64; i++)
				bpfvm_runner_run_batch(rn, mems, lens, 64, r0s, &done);
			double dt = (now_ns() - t0) / (1000000 / 64 * 64);
			if (dt < best)
				best = dt;
		}
		bpfvm_runner_free(rn);
		printf("empty program via bpfvm_runner_run_batch of 64 (%s): %.1f ns/run\n", e ? "jit" : "interp", best);
	}
	/* the floor on this machine, under the same load: a library call that calls through a pointer */
	{
		struct floor_call h = { floor_ret0 };
		struct floor_call *volatile hp = &h;
		uint64_t r0;
		double best = 1e30;
		for (int r = 0; r < ROUNDS; r++) {
			double t0 = now_ns();
			for (int i = 0; i < 1000000; i++)
				floor_run(hp, NULL, 0, &r0);
			double dt = (now_ns() - t0) / 1000000;
			if (dt < best)
				best = dt;
		}
		printf("a C call through a function pointer, for scale: %.1f ns/call\n", best);
	}
done:
	bpfvm_free(vi);
	bpfvm_free(vj);
	bpfvm_free(vi0);
	bpfvm_free(vj0);
	return 0;
}
