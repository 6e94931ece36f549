/* test_jit.c -- properties of the x86-64 JIT's code that the differential tests (test_conformance runs
 * every .data case under both engines, fuzz_jit) cannot see: constant blinding keeps the program's
 * immediates out of executable memory, native atomics are atomic across threads.  Skipped where the
 * host has no JIT. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"
#include "core/core.h"
#include "jit/jit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool has_bytes(const uint8_t *p, size_t len, uint32_t v)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (!memcmp(p + i, &v, 4))
			return true;
	return false;
}

/* Every immediate a program gives (ALU, mov, compare, store, lddw halves) as the little-endian bytes the
 * unblinded code carries; blinded, none of them is anywhere in the code, and the result is the same
 * under both engines. */
TEST(blinding_hides_constants)
{
	static const uint32_t imms[] = { 0x12345678, 0x0badf00d, 0x41414141, 0x5a5a5a5a, 0x01020304, 0x55667788,
					 0x11223344, 0x6b6b6b6b, 0x7a7a7a7a };
	const struct bpf_insn p[] = {
		INSN_ID(MOV64_K, 0, 0, 0, 0x12345678),         /* r0 = 0x12345678 */
		INSN_ID(ADD64_K, 0, 0, 0, 0x0badf00d),         /* r0 += 0x0badf00d */
		INSN_ID(STW, 10, 0, -4, 0x41414141),       /* *(u32 *)(r10 - 4) = 0x41414141 */
		INSN_ID(LDXW, 1, 10, -4, 0),                /* r1 = *(u32 *)(r10 - 4) */
		INSN_ID(XOR64_X, 0, 1, 0, 0),                  /* r0 ^= r1 */
		INSN_ID(JEQ_K, 0, 0, 1, 0x5a5a5a5a),         /* if r0 == 0x5a5a5a5a goto +1 */
		INSN_ID(MUL64_K, 0, 0, 0, 0x01020304),         /* r0 *= 0x01020304 */
		INSN_ID(LDDW, 2, 0, 0, 0x55667788),         /* r2 = 0x1122334455667788 ll */
		LDDW_HI(0x11223344),
		INSN_ID(ADD64_X, 0, 2, 0, 0),                  /* r0 += r2 */
		INSN_ID(JSET_K, 0, 0, 1, 0x6b6b6b6b),         /* if r0 & 0x6b6b6b6b goto +1 */
		INSN_ID(MOV32_K, 0, 0, 0, 0x7a7a7a7a),         /* w0 = 0x7a7a7a7a */
		INSN_ID(EXIT, 0, 0, 0, 0),                  /* exit */
	};
	struct bpfvm_opts ob = { .sz = sizeof(ob), .jit_blind = 1 };
	struct bpfvm *plain = bpfvm_new(NULL), *blind = bpfvm_new(&ob);
	int fp = bpfvm_prog_load(plain, 0, p, N(p), "plain"), fb = bpfvm_prog_load(blind, 0, p, N(p), "blind");
	struct bpfvm_jited jp, jb;
	uint64_t r_interp = 0, r_plain = 1, r_blind = 2;

	CHECK(fp >= 0 && fb >= 0);
	if (bpfvm_prog_jited(plain, fp, &jp) == -EOPNOTSUPP) {
		bpfvm_free(plain);
		bpfvm_free(blind);
		SKIP("no JIT on this host");
	}
	CHECK(bpfvm_prog_jited(blind, fb, &jb) == 0);
	for (size_t i = 0; i < N(imms); i++) {
		CHECK(has_bytes(jp.code, jp.len, imms[i]));  /* the test sees what it looks for */
		if (has_bytes(jb.code, jb.len, imms[i]))
			printf("  imm 0x%08x is in the blinded code\n", imms[i]);
		CHECK(!has_bytes(jb.code, jb.len, imms[i]));
	}
	CHECK(bpfvm_prog_run(blind, fb, BPFVM_ENGINE_INTERP, NULL, 0, &r_interp) == 0);
	CHECK(bpfvm_prog_run(plain, fp, BPFVM_ENGINE_JIT, NULL, 0, &r_plain) == 0);
	CHECK(bpfvm_prog_run(blind, fb, BPFVM_ENGINE_JIT, NULL, 0, &r_blind) == 0);
	CHECK_EQ_U64(r_blind, r_interp);
	CHECK_EQ_U64(r_plain, r_interp);
	bpfvm_free(plain);
	bpfvm_free(blind);
}

/* Native `lock add`, fetch-add and a cmpxchg loop from four threads at once on one counter: no update
 * is lost (each thread runs the program 5000 times; each run adds 1 three ways). */
struct thr {
	struct bpfvm *vm;
	int fd;
	uint64_t *counter;
	atomic_bool *go;
	bool ok;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	uint64_t r0;

	while (!atomic_load(t->go))
		;
	t->ok = true;
	for (int i = 0; i < 5000; i++)
		if (bpfvm_prog_run(t->vm, t->fd, BPFVM_ENGINE_JIT, t->counter, 8, &r0))
			t->ok = false;
	return NULL;
}

TEST(native_atomics_across_threads)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 4 };
	struct bpfvm *vm = bpfvm_new(&o);
	static uint64_t counter;
	const struct bpf_insn p[] = {
		INSN_ID(MOV64_K, 2, 0, 0, 1),                  /* r2 = 1 */
		INSN_ID(AADD64, 1, 2, 0, 0),               /* lock *(u64 *)(r1 + 0) += r2 */
		INSN_ID(AFADD64, 1, 2, 0, 0),               /* r2 = atomic_fetch_add(r1 + 0, r2) */
		INSN_ID(LDXDW, 0, 1, 0, 0),                  /* retry: r0 = *(u64 *)(r1 + 0) */
		INSN_ID(MOV64_X, 3, 0, 0, 0),                  /* r3 = r0 */
		INSN_ID(ADD64_K, 3, 0, 0, 1),                  /* r3 += 1 */
		INSN_ID(MOV64_X, 4, 0, 0, 0),                  /* r4 = r0 */
		INSN_ID(ACMPXCHG64, 1, 3, 0, 0),               /* r0 = cmpxchg(r1 + 0, r0, r3) */
		INSN_ID(JNE_X, 0, 4, -6, 0),                 /* if r0 != r4 goto retry */
		INSN_ID(MOV64_K, 0, 0, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fd = bpfvm_prog_load(vm, 0, p, N(p), "t");
	uint64_t r0;
	CHECK(fd >= 0);
	if (bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, &counter, 8, &r0) == -EOPNOTSUPP) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	struct thr t[4];
	pthread_t th[4];
	atomic_bool go = false;
	counter = 0;
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ vm, fd, &counter, &go, false };
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	atomic_store(&go, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	CHECK_EQ_U64(counter, 4 * 5000 * 3);
	bpfvm_free(vm);
}

/* ---- tail calls ---- */
static int map_create(struct bpfvm *vm, uint32_t type, uint32_t ksz, uint32_t vsz, uint32_t n)
{
	return mk(vm, type, ksz, vsz, n, 0);
}

static int map_set(struct bpfvm *vm, int fd, uint32_t key, int value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)&value;
	return (int)bpfvm_bpf(vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a));
}

static int map_del(struct bpfvm *vm, int fd, uint32_t key)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	return (int)bpfvm_bpf(vm, BPF_MAP_DELETE_ELEM, &a, sizeof(a));
}

static int load_filter(struct bpfvm *vm, const struct bpf_insn *p, size_t n, const char *name)
{
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, n, name);
	if (fd < 0)
		printf("  load %s: %s\n", name, bpfvm_errmsg(vm));
	return fd;
}

/* Both engines give the same r0 for a run of fd on memory {idx}; returns it. */
static uint64_t both(struct bpfvm *vm, int fd, uint32_t idx)
{
	uint64_t ri = 1, rj = 2;
	CHECK(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, &idx, sizeof(idx), &ri) == 0);
	CHECK(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, &idx, sizeof(idx), &rj) == 0);
	if (ri != rj)
		printf("  idx %u: interp %llu, jit %llu\n", idx, (unsigned long long)ri, (unsigned long long)rj);
	CHECK_EQ_U64(rj, ri);
	return rj;
}

/* Tail calls from the entry frame and from a subprogram (whose caller the target's exit returns to),
 * into code that needs no run state (straight-line: see the JIT's stateless_insn()), into a loop, and a
 * chain that stops at Linux's 33 (MAX_TAIL_CALL_CNT: native after its first call, see emit_TAIL_CALL());
 * the target sees the caller's registers and frame; a slot changed between runs is followed.  The
 * interpreter is the reference. */
TEST(tail_calls_agree)
{
	/* unverified: the targets read the caller's registers and frame, which the verifier (as Linux's)
	 * refuses as unset; the engines must still agree on them */
	struct bpfvm_opts vo = { .sz = sizeof(vo), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&vo);
	int pa = map_create(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4);
	const struct bpf_insn straight[] = {
		INSN_ID(MOV64_X, 0, 6, 0, 0),                  /* r0 = r6 (the caller's) */
		INSN_ID(MUL64_K, 0, 0, 0, 7),                  /* r0 *= 7 */
		INSN_ID(MOV64_K, 3, 0, 0, 3),                  /* r3 = 3 */
		INSN_ID(DIV64_X, 0, 3, 0, 0),                  /* r0 /= r3 */
		INSN_ID(STXDW, 10, 0, -16, 0),               /* *(u64 *)(r10 - 16) = r0 */
		INSN_ID(LDXDW, 0, 10, -16, 0),               /* r0 = *(u64 *)(r10 - 16) */
		INSN_ID(ADD64_K, 0, 0, 0, 100),                /* r0 += 100 */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn loop[] = {
		INSN_ID(MOV64_K, 0, 0, 0, 0),                  /* r0 = 0 */
		INSN_ID(MOV64_K, 2, 0, 0, 10),                 /* r2 = 10 */
		INSN_ID(ADD64_X, 0, 2, 0, 0),                  /* loop: r0 += r2 */
		INSN_ID(ADD64_K, 2, 0, 0, -1),                 /* r2 -= 1 */
		INSN_ID(JNE_K, 2, 0, -3, 0),                 /* if r2 != 0 goto loop */
		INSN_ID(ADD64_X, 0, 6, 0, 0),                  /* r0 += r6 */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn chain[] = {
		INSN_ID(LDXDW, 7, 10, -8, 0),                /* r7 = *(u64 *)(r10 - 8): the frame is the caller's */
		INSN_ID(ADD64_K, 7, 0, 0, 1),                  /* r7 += 1 */
		INSN_ID(STXDW, 10, 7, -8, 0),                /* *(u64 *)(r10 - 8) = r7 */
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0), /* r2 = pa */
		INSN_ID(MOV64_K, 3, 0, 0, 2),                  /* r3 = 2: itself */
		INSN_ID(CALL, 0, 0, 0, 12),                 /* tail_call(r1, pa, 2) */
		INSN_ID(LDXDW, 0, 10, -8, 0),                /* r0 = *(u64 *)(r10 - 8) */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn from_sub[] = {
		INSN_ID(LDXW, 6, 1, 0, 0),                  /* r6 = *(u32 *)(r1 + 0): the index */
		INSN_ID(CALL_LOCAL, 0, 0, 0, 2),                  /* call sub */
		INSN_ID(ADD64_K, 0, 0, 0, 1000),               /* r0 += 1000 */
		INSN_ID(EXIT, 0, 0, 0, 0),
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0), /* sub: r2 = pa */
		INSN_ID(MOV64_X, 3, 6, 0, 0),                  /* r3 = r6 */
		INSN_ID(CALL, 0, 0, 0, 12),                 /* tail_call(r1, pa, r6) */
		INSN_ID(MOV64_K, 0, 0, 0, 7),                  /* r0 = 7: none */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn from_entry[] = {
		INSN_ID(LDXW, 3, 1, 0, 0),                  /* r3 = *(u32 *)(r1 + 0) */
		INSN_ID(MOV64_K, 6, 0, 0, 6),                  /* r6 = 6 */
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0),
		INSN_ID(CALL, 0, 0, 0, 12),
		INSN_ID(MOV64_K, 0, 0, 0, 5),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	uint64_t r0;

	CHECK(pa >= 0);
	int t0 = load_filter(vm, straight, N(straight), "straight"), t1 = load_filter(vm, loop, N(loop), "loop");
	int t2 = load_filter(vm, chain, N(chain), "chain");
	int fs = load_filter(vm, from_sub, N(from_sub), "from_sub"), fe = load_filter(vm, from_entry, N(from_entry), "from_entry");
	CHECK(t0 >= 0 && t1 >= 0 && t2 >= 0 && fs >= 0 && fe >= 0);
	if (bpfvm_prog_run(vm, t0, BPFVM_ENGINE_JIT, NULL, 0, &r0) == -EOPNOTSUPP) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	CHECK(map_set(vm, pa, 0, t0) == 0 && map_set(vm, pa, 1, t1) == 0 && map_set(vm, pa, 2, t2) == 0);
	CHECK_EQ_U64(both(vm, t0, 0), 100);                  /* on its own: r6 starts at 0 */
	CHECK_EQ_U64(both(vm, fe, 0), 6 * 7 / 3 + 100);
	CHECK_EQ_U64(both(vm, fe, 1), 55 + 6);
	CHECK_EQ_U64(both(vm, fe, 2), 33);                   /* itself 33 times, then falls through */
	CHECK_EQ_U64(both(vm, fe, 3), 5);                    /* empty slot */
	CHECK_EQ_U64(both(vm, fe, 4), 5);                    /* past the end */
	CHECK_EQ_U64(both(vm, fs, 0), 1000 + 0 * 7 / 3 + 100);
	CHECK_EQ_U64(both(vm, fs, 1), 1000 + 55 + 1);
	CHECK_EQ_U64(both(vm, fs, 2), 1000 + 33);
	CHECK_EQ_U64(both(vm, fs, 3), 1000 + 7);
	CHECK_EQ_U64(both(vm, fs, 0xffffffffu), 1000 + 7);
	/* the chain's slot now holds the loop: the next run goes there (a run remembers its own targets only) */
	CHECK(map_set(vm, pa, 2, t1) == 0);
	CHECK_EQ_U64(both(vm, fe, 2), 55 + 6);
	CHECK(map_set(vm, pa, 2, t2) == 0);
	CHECK_EQ_U64(both(vm, fe, 2), 33);
	for (uint32_t k = 0; k < 3; k++) /* the chain holds the array that holds it: break the cycle */
		CHECK(map_del(vm, pa, k) == 0);
	bpfvm_free(vm);
}

/* "rX *= k; rX += rY" is emitted as one computation (the JIT's mul_add()): for multipliers of every
 * shape (2^n, 2^n - 1, 2^n + 1, others, negative), the loop's result is C's, in both engines; the ZF the
 * pair leaves serves an "if rX == 0" after it (a sum made 0 on purpose, and one that is not). */
/* A bpf-to-bpf callee of an unverified program may read above its frame, into its caller's, below what
 * the caller touched itself: zeroes on both engines, not what an earlier run (or the host) left there
 * (fuzz_jit's gen-seed-05 read the host's stack through the interpreter). */
TEST(callee_reads_caller_frame_zeroed)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_OFF }; /* the verifier refuses r10 + 40 */
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn fill[80], rd[] = {
		INSN_ID(MOV64_K, 1, 0, 0, 0),          /* r1 = 0 */
		INSN_ID(STXDW, 10, 1, -8, 0),          /* *(u64 *)(r10 - 8) = r1: the caller's one slot */
		INSN_ID(CALL_LOCAL, 0, 0, 0, 1),       /* call +1 */
		INSN_ID(EXIT, 0, 0, 0, 0),
		INSN_ID(LDXDW, 0, 10, 40, 0),          /* r0 = *(u64 *)(r10 + 40): fp-472 of the caller */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	size_t n = 0;
	fill[n++] = INSN_ID(LDDW, 1, 0, 0, 0x5a5a5a5a);
	fill[n++] = LDDW_HI(0x5a5a5a5a);
	for (int off = -8; off >= -512; off -= 8)
		fill[n++] = INSN_ID(STXDW, 10, 1, (int16_t)off, 0);
	fill[n++] = INSN_ID(MOV64_K, 0, 0, 0, 0);
	fill[n++] = INSN_ID(EXIT, 0, 0, 0, 0);
	int ff = bpfvm_prog_load(vm, 0, fill, n, "fill"), fr = bpfvm_prog_load(vm, 0, rd, N(rd), "read");
	if (ff < 0 || fr < 0)
		printf("  %s\n", bpfvm_errmsg(vm));
	CHECK(ff >= 0 && fr >= 0);
	for (int e = 0; e < 2; e++) {
		enum bpfvm_engine eng = e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP;
		uint64_t r0 = 1;
		CHECK(bpfvm_prog_run(vm, ff, eng, NULL, 0, &r0) == 0);
		r0 = 1;
		int err = bpfvm_prog_run(vm, fr, eng, NULL, 0, &r0);
		if (err == -EOPNOTSUPP)
			continue; /* no JIT here */
		CHECK_EQ_U64(err, 0);
		CHECK_EQ_U64(r0, 0);
	}
	bpfvm_free(vm);
}

TEST(multiply_add_pairs)
{
	static const int32_t ks[] = { 2, 4, 8, 16, 3, 5, 9, 7, 31, 33, 65, 255, 257, 1023, 0x3fffffff, 0x40000001,
				      0x7fffffff, 1, -1, -31, 1000003 };
	struct bpfvm_opts o = { .sz = sizeof(o) };
	struct bpfvm *vm = bpfvm_new(&o);

	for (size_t i = 0; i < N(ks); i++) {
		char src[512];
		struct bpf_insn insns[64];
		snprintf(src, sizeof(src),
			 "r6 = *(u32 *)(r1 + 0)\n r7 = 0x123456789abcdef ll\n r7 ^= r6\n r0 = 100\n"
			 "loop: r6 *= %d\n r6 += r7\n r7 += 3\n r0 += -1\n if r0 != 0 goto loop\n"
			 "r8 = r6\n r8 *= %d\n r8 = -r8\n r9 = r6\n r9 *= %d\n r9 += r8\n if r9 == 0 goto zero\n"
			 "r0 = 1\n exit\n"
			 "zero: r9 = r6\n r9 *= %d\n r9 += r7\n if r9 != 0 goto nz\n r0 = 2\n exit\n"
			 "nz: r9 ^= r6\n r0 = r9\n exit\n",
			 ks[i], ks[i], ks[i], ks[i]);
		long n = bpfvm_asm(vm, src, insns, 64);
		CHECK(n > 0);
		int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, insns, (size_t)n, "muladd") : -1;
		CHECK(fd >= 0);
		for (uint32_t idx = 0; fd >= 0 && idx < 3; idx++) {
			uint32_t in = idx * 0x9e3779b9u;
			uint64_t k = (uint64_t)(int64_t)ks[i], r6 = in, r7 = 0x123456789abcdefull ^ in;
			for (int r = 0; r < 100; r++, r7 += 3)
				r6 = r6 * k + r7;
			uint64_t want = r6 * k + r7 != 0 ? (r6 * k + r7) ^ r6 : 2; /* the first test always holds */
			CHECK_EQ_U64(both(vm, fd, in), want);
		}
		bpfvm_close(vm, fd);
	}
	bpfvm_free(vm);
}

/* ---- verified programs: the code of trusted runs ---- */

/* An Ethernet header parsed behind a data_end check, a divisor proven non-zero, a map value updated
 * through a null-checked lookup (r1..r5 dead after it), a packet byte written, stack stores and loads:
 * "MAP" is the array map. */
static const char parser[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r2 = r6\n r2 += 14\n if r2 > r7 goto drop\n"
	"r8 = *(u16 *)(r6 + 12)\n r9 = *(u8 *)(r6 + 0)\n r9 |= 1\n r3 = 1000\n r3 /= r9\n"
	"r4 = -7\n r4 s%= r9\n r3 += r4\n"
	"*(u64 *)(r10 - 16) = r3\n *(u32 *)(r10 - 4) = 0\n r2 = r10\n r2 += -4\n r1 = 0x7eadc000 ll\n call 1\n"
	"if r0 == 0 goto drop\n r1 = *(u64 *)(r0 + 0)\n r1 += r8\n r3 = *(u64 *)(r10 - 16)\n r1 += r3\n"
	"*(u64 *)(r0 + 0) = r1\n *(u8 *)(r6 + 1) = 0x55\n r0 = 2\n exit\n"
	"drop: r0 = 1\n exit\n";

struct parsed {
	long err;
	uint32_t retval;
	uint8_t data[64];
	uint64_t value;
	bool has_trusted;          /* the program got the code of trusted runs */
	size_t shorter, accesses;  /* proven accesses whose trusted code is shorter than their checked code */
};

/* Whether BPF insn pc became fewer native bytes in the trusted image t than in the checked image c. */
static bool native_shorter(const struct jit_image *t, const struct jit_image *c, size_t pc)
{
	return t->off[pc + 1] - t->off[pc] < c->off[pc + 1] - c->off[pc];
}


/* The lddw of 0x7eadc000 in insns[0..n) made a reference to map fd m. */
static void patch_map_fd(struct bpf_insn *insns, long n, int m)
{
	for (long i = 0; i + 1 < n; i++)
		if (insns[i].code == OPC(LDDW) && insns[i].imm == 0x7eadc000) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = m;
		}
}

static struct parsed run_parser(int verify, int checks, int interp)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify, .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct parsed out;
	struct bpf_insn insns[64];
	uint8_t pkt[64];

	memset(&out, 0, sizeof(out));
	out.err = -1;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7 + 3);
	int m = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	long n = bpfvm_asm(vm, parser, insns, 64);
	CHECK(m >= 0 && n > 0 && n <= 64);
	patch_map_fd(insns, n, m);
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "parser");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return out;
	}
	struct bpfvm_test_run_opts tr = { .data_in = pkt, .data_size_in = sizeof(pkt), .data_out = out.data,
					  .data_size_out = sizeof(out.data), .repeat = 3 };
	out.err = test_run_via_bpf(vm, fd, &tr);
	out.retval = tr.retval;
	uint32_t k = 0;
	union bpf_attr l;
	memset(&l, 0, sizeof(l));
	l.map_fd = (uint32_t)m;
	l.key = (uintptr_t)&k;
	l.value = (uintptr_t)&out.value;
	CHECK(bpfvm_bpf(vm, BPF_MAP_LOOKUP_ELEM, &l, sizeof(l)) == 0);
	/* white-box: the two images of the program */
	int err = 0;
	struct sys_obj *ob = sys_get(vm, fd, SYS_PROG, &err);
	if (ob) {
		const struct vm_prog *p = ob->prog;
		const struct jit_image *c = p->jit_fn, *t = p->jit_proven;
		out.has_trusted = t != NULL;
		for (size_t pc = 0; t && c && pc + 1 < p->cnt; pc++) {
			if (!(p->aux[pc].proof & VM_PROOF_MEM) || p->aux[pc].proof & VM_PROOF_DIV_NONZERO)
				continue;
			/* through r10: the frame needs no check either way */
			const struct bpf_insn *in = &p->orig[pc];
			bool on_frame = (isa_mem_access(isa_decode(in)) & ISA_MEM_BASE_SRC ? in->src_reg : in->dst_reg) == 10;
			out.accesses++;
			out.shorter += native_shorter(t, c, pc) || on_frame;
		}
		sys_put(vm, ob);
	}
	bpfvm_free(vm);
	return out;
}

static const struct jit_image *prog_image(struct bpfvm *vm, int fd, bool trusted);

/* A verified program's new frame is zeroed only as deep as the verifier saw any access reach
 * (vm_insn_aux.frame_depth), even where r10's value goes to a helper (a key's address): a read of stack
 * it never wrote (allowed as in Linux with CAP_PERFMON), in the entry frame and in a callee's, still
 * sees zeroes on both engines after a run that filled both frames.  A helper reading a raw address (trace_printk's %s) leaves the verifier
 * no bound: the whole frame then. */
TEST(verified_frame_zeroed_to_its_depth)
{
	/* fills the top half of its frame and of a callee's (the verifier's combined bound is 512) */
	char fill_src[4800] = "r1 = 0x5a5a5a5a5a5a5a5a ll\n";
	for (int f = 0; f < 2; f++) {
		for (int off = 8; off <= 256; off += 8)
			snprintf(fill_src + strlen(fill_src), sizeof(fill_src) - strlen(fill_src), "*(u64 *)(r10 - %d) = r1\n", off);
		strcat(fill_src, f ? "r0 = 0\n exit\n" : "call local fs\n call 7\n r0 = 2\n exit\nfs: r1 = 0x5a5a5a5a5a5a5a5a ll\n");
	}
	static const char read_src[] =
		"r6 = *(u64 *)(r10 - 16)\n call local rs\n r6 += r0\n"
		"*(u32 *)(r10 - 4) = 0\n r2 = r10\n r2 += -4\n r1 = 0x7eadc000 ll\n call 1\n"
		"if r0 == 0 goto out\n *(u64 *)(r0 + 0) = r6\n out: r0 = 2\n exit\n"
		"rs: r0 = *(u64 *)(r10 - 24)\n exit\n";
	static const char printk_src[] =
		"r1 = 0x0a7325 ll\n *(u64 *)(r10 - 8) = r1\n r1 = r10\n r1 += -8\n r2 = 8\n r3 = r10\n r3 += -400\n"
		"call 6\n r0 = 2\n exit\n";
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm_opts o = { .sz = sizeof(o), .interp = interp };
		struct bpfvm *vm = bpfvm_new(&o);
		struct bpf_insn fill[160], rd[24], pk[16];
		uint8_t pkt[64] = { 0 };
		int m = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
		long nf = bpfvm_asm(vm, fill_src, fill, 160), nr = bpfvm_asm(vm, read_src, rd, 24);
		long np = bpfvm_asm(vm, printk_src, pk, 16);
		CHECK(m >= 0 && nf > 0 && nr > 0 && np > 0);
		patch_map_fd(rd, nr, m);
		int ff = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, fill, (size_t)nf, "fill");
		int fr = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, rd, (size_t)nr, "read");
		int fp = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, pk, (size_t)np, "printk");
		if (ff < 0 || fr < 0 || fp < 0)
			printf("  load: %s\n", bpfvm_errmsg(vm));
		CHECK(ff >= 0 && fr >= 0 && fp >= 0);
		for (int round = 0; round < 3; round++) {
			struct bpfvm_test_run_opts tf = { .data_in = pkt, .data_size_in = sizeof(pkt) };
			struct bpfvm_test_run_opts tr = tf;
			CHECK_EQ_U64(test_run_via_bpf(vm, ff, &tf), 0);
			CHECK_EQ_U64(test_run_via_bpf(vm, fr, &tr), 0);
			CHECK_EQ_U64(tr.retval, 2);
			uint32_t k = 0;
			uint64_t v = 1;
			union bpf_attr l;
			memset(&l, 0, sizeof(l));
			l.map_fd = (uint32_t)m;
			l.key = (uintptr_t)&k;
			l.value = (uintptr_t)&v;
			CHECK(bpfvm_bpf(vm, BPF_MAP_LOOKUP_ELEM, &l, sizeof(l)) == 0);
			CHECK_EQ_U64(v, 0);
		}
		const struct jit_image *ir = prog_image(vm, fr, true), *ip = prog_image(vm, fp, true);
		if (!interp && ir && ip) { /* white-box: what the entry frame's zeroing covers */
			CHECK_EQ_U64(ir->entry_zero, 64);
			CHECK_EQ_U64(ip->entry_zero, 512);
		}
		bpfvm_free(vm);
	}
}

/* A verified program's PROG_TEST_RUN runs the trusted code (a proven access is a plain mov, a proven
 * divisor is not tested, r1..r5 are not kept across a helper call) and computes what the interpreter
 * and the checked code compute; BPFVM_CHECKS_ALWAYS and unverified programs get no trusted code. */
TEST(trusted_code_matches_checked)
{
	struct parsed t = run_parser(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT, 0);
	struct parsed c = run_parser(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS, 0);
	struct parsed u = run_parser(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT, 0);
	struct parsed i = run_parser(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT, 1);

	CHECK_EQ_U64(t.err, 0);
	CHECK_EQ_U64(c.err, 0);
	CHECK_EQ_U64(u.err, 0);
	CHECK_EQ_U64(i.err, 0);
	CHECK(t.has_trusted && !c.has_trusted && !u.has_trusted);
	CHECK(t.accesses >= 10);
	CHECK_EQ_U64(t.shorter, t.accesses); /* stack accesses at r10 + constant had no check to drop */
	uint64_t ethertype = (uint64_t)(12 * 7 + 3) | (uint64_t)(13 * 7 + 3) << 8, q = 1000 / (3 | 1) + (uint64_t)(-7 % 3);
	CHECK_EQ_U64(t.retval, 2);
	CHECK_EQ_U64(t.value, 3 * (ethertype + q));
	const struct parsed *others[] = { &c, &u, &i };
	for (size_t k = 0; k < 3; k++) {
		CHECK_EQ_U64(others[k]->retval, t.retval);
		CHECK_EQ_U64(others[k]->value, t.value);
		CHECK(!memcmp(others[k]->data, t.data, sizeof(t.data)));
	}
	CHECK_EQ_U64(t.data[1], 0x55);
}

/* Array lookups the trusted code computes in place (no helper call): keys in range, at max_entries and
 * far past it, read from the packet and from the stack, the null test after the call fused in both
 * senses, a value size that is no power of two (stride 24).  "MAP" is the array (5 entries of 3 u64).
 * The result, stored in the packet, is the same as C's, the interpreter's and the checked code's. */
static const char lookups[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r2 = r6\n r2 += 32\n if r2 > r7 goto out\n"
	"r8 = 0\n r9 = 0\n"
	"pk: r2 = r6\n r2 += r9\n r1 = 0x7eadc000 ll\n call 1\n if r0 == 0 goto miss\n"
	" r1 = *(u64 *)(r0 + 0)\n r8 += r1\n goto pnext\n"
	"miss: r8 += 1000\n"
	"pnext: r9 += 4\n if r9 < 32 goto pk\n"
	"r9 = 0\n"
	"st: r3 = r6\n r3 += r9\n r3 = *(u32 *)(r3 + 0)\n *(u32 *)(r10 - 4) = r3\n r2 = r10\n r2 += -4\n"
	" r1 = 0x7eadc000 ll\n call 1\n if r0 != 0 goto hit\n r8 *= 3\n goto snext\n"
	"hit: r1 = *(u64 *)(r0 + 16)\n r8 ^= r1\n"
	"snext: r9 += 4\n if r9 < 32 goto st\n"
	"*(u64 *)(r6 + 0) = r8\n"
	"out: r0 = 2\n exit\n";

static uint64_t lookup_val(uint32_t k, unsigned word)
{
	return (uint64_t)(k + 1) * 0x10001 + word * 0x1000000007ull;
}

/* the 64-bit sum the program leaves in the packet's first 8 bytes, or ~0 if the run failed; *shorter:
 * the trusted code of each call is shorter than its checked code (no helper call in it) */
static uint64_t run_lookups(int verify, int checks, int interp, const uint32_t keys[8], bool *shorter)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify, .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[64];
	uint8_t pkt[64], out[64];
	uint64_t sum = ~0ull;
	int m = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 24, 5);
	long n = bpfvm_asm(vm, lookups, insns, 64);

	CHECK(m >= 0 && n > 0 && n <= 64);
	for (uint32_t k = 0; k < 5; k++) {
		uint64_t v[3] = { lookup_val(k, 0), lookup_val(k, 1), lookup_val(k, 2) };
		CHECK(UPD(vm, m, &k, v, 0) == 0);
	}
	patch_map_fd(insns, n, m);
	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, keys, 8 * sizeof(*keys));
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "lookups");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return sum;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.data_out = (uintptr_t)out;
	a.test.data_size_out = sizeof(out);
	if (bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)) == 0 && a.test.retval == 2)
		memcpy(&sum, out, sizeof(sum));
	int err = 0;
	struct sys_obj *ob = shorter ? sys_get(vm, fd, SYS_PROG, &err) : NULL;
	if (ob) {
		const struct vm_prog *p = ob->prog;
		const struct jit_image *c = p->jit_fn, *t = p->jit_proven;
		size_t calls = 0;
		*shorter = t && c;
		for (size_t pc = 0; *shorter && pc + 1 < p->cnt; pc++)
			if (p->insns[pc].id == ISA_CALL) {
				calls++;
				*shorter = t->off[pc + 1] - t->off[pc] < c->off[pc + 1] - c->off[pc];
			}
		*shorter = *shorter && calls == 2;
		sys_put(vm, ob);
	}
	bpfvm_free(vm);
	return sum;
}

TEST(array_lookups_in_place)
{
	static const uint32_t keys[][8] = {
		{ 0, 1, 2, 3, 4, 5, 6, 7 },
		{ 4, 5, 0xffffffff, 0x80000000, 2, 0x7fffffff, 1, 0 },
	};
	for (size_t i = 0; i < N(keys); i++) {
		uint64_t want = 0;
		for (size_t k = 0; k < 8; k++)
			want += keys[i][k] < 5 ? lookup_val(keys[i][k], 0) : 1000;
		for (size_t k = 0; k < 8; k++)
			want = keys[i][k] < 5 ? want ^ lookup_val(keys[i][k], 2) : want * 3;
		bool shorter = false;
		CHECK_EQ_U64(run_lookups(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT, 0, keys[i], &shorter), want);
		CHECK(shorter);
		CHECK_EQ_U64(run_lookups(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS, 0, keys[i], NULL), want);
		CHECK_EQ_U64(run_lookups(BPFVM_VERIFY_OFF, BPFVM_CHECKS_DEFAULT, 0, keys[i], NULL), want);
		CHECK_EQ_U64(run_lookups(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT, 1, keys[i], NULL), want);
	}
}

/* Atomics the verifier proved (in bounds, not ctx or packet, aligned): on an array value and on the stack
 * through a copy of r10, every read-modify-write kind, 64 and 32 bits.  The trusted code of each is
 * shorter than its checked code (no bounds or alignment test left), and every engine leaves the same
 * value, stack results (stored in the packet) and r0. */
static const char atomics_src[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r2 = r6\n r2 += 40\n if r2 > r7 goto out\n"
	"r1 = 0\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n r1 = 0x7eadc000 ll\n call 1\n"
	"if r0 == 0 goto out\n r9 = r0\n"
	"r1 = 5\n lock *(u64 *)(r9 + 0) += r1\n"
	"r2 = 12\n r2 = atomic_fetch_add((u64 *)(r9 + 8), r2)\n *(u64 *)(r6 + 0) = r2\n"
	"r3 = 0xf0\n w3 = atomic_fetch_and((u32 *)(r9 + 4), w3)\n *(u64 *)(r6 + 8) = r3\n"
	"r4 = 77\n r4 = xchg_64(r9 + 16, r4)\n *(u64 *)(r6 + 16) = r4\n"
	"r8 = r10\n r8 += -16\n r1 = 1000\n *(u64 *)(r8 + 0) = r1\n"
	"r0 = 1000\n r5 = 7\n r0 = cmpxchg_64(r8 + 0, r0, r5)\n *(u64 *)(r6 + 24) = r0\n"
	"r1 = 3\n lock *(u32 *)(r8 + 4) += w1\n r1 = *(u64 *)(r8 + 0)\n *(u64 *)(r6 + 32) = r1\n"
	"out: r0 = 2\n exit\n";

struct atomics_run {
	long err;
	uint32_t retval;
	uint64_t value[3];
	uint8_t data[64];
	size_t atomics, shorter; /* atomic insns; of them, with trusted code shorter than checked code */
};

static struct atomics_run run_atomics(int verify, int checks, int interp)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify, .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct atomics_run r;
	struct bpf_insn insns[64];
	uint8_t pkt[64];
	int m = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 24, 1);
	long n = bpfvm_asm(vm, atomics_src, insns, 64);

	memset(&r, 0, sizeof(r));
	CHECK(m >= 0 && n > 0 && n <= 64);
	uint32_t k = 0;
	uint64_t v0[3] = { 100, 200, 300 | 0xabcd00000000ull };
	CHECK(UPD(vm, m, &k, v0, 0) == 0);
	for (long i = 0; i + 1 < n; i++)
		if (insns[i].code == ISA_OPC_LDDW && insns[i].imm == 0x7eadc000) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = m;
		}
	memset(pkt, 0, sizeof(pkt));
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "atomics");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		r.err = fd;
		bpfvm_free(vm);
		return r;
	}
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt),
					 .data_out = r.data, .data_size_out = sizeof(r.data) };
	r.err = bpfvm_prog_test_run(vm, fd, &t);
	r.retval = t.retval;
	CHECK(bpfvm_map_lookup(vm, m, &k, r.value) == 0);
	int err = 0;
	struct sys_obj *ob = sys_get(vm, fd, SYS_PROG, &err);
	if (ob) {
		const struct vm_prog *p = ob->prog;
		const struct jit_image *c = p->jit_fn, *tr = p->jit_proven;
		for (size_t pc = 0; pc + 1 < p->cnt; pc++)
			if (p->insns[pc].id < ISA_COUNT && isa_info[p->insns[pc].id].flags & F_ATOMIC) { /* twins lie past ISA_COUNT */
				r.atomics++;
				r.shorter += tr && c && native_shorter(tr, c, pc);
			}
		sys_put(vm, ob);
	}
	bpfvm_free(vm);
	return r;
}

TEST(proven_atomics_unchecked)
{
	struct atomics_run t = run_atomics(BPFVM_VERIFY_ON, BPFVM_CHECKS_DEFAULT, 0);
	struct atomics_run c = run_atomics(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS, 0);
	struct atomics_run i = run_atomics(BPFVM_VERIFY_ON, BPFVM_CHECKS_ALWAYS, 1);

	if (!jit_available()) {
		printf("  SKIP: no JIT on this host\n");
		return;
	}
	CHECK_EQ_U64(t.err, 0);
	CHECK_EQ_U64(t.retval, 2);
	CHECK_EQ_U64(t.atomics, 6);
	CHECK_EQ_U64(t.shorter, 6); /* the stack ones go through r8, not r10: they had checks too */
	CHECK_EQ_U64(c.shorter, 0);
	/* C's arithmetic on the same starting values */
	uint64_t w1 = 200 + 12, w2 = 300 | 0xabcd00000000ull;
	uint64_t w0 = 100 + 5;
	w0 = (w0 & 0xffffffffull) | ((uint64_t)((uint32_t)(w0 >> 32) & 0xf0u) << 32);
	CHECK_EQ_U64(t.value[0], w0);
	CHECK_EQ_U64(t.value[1], w1);
	CHECK_EQ_U64(t.value[2], 77);
	uint64_t got[5];
	memcpy(got, t.data, sizeof(got));
	CHECK_EQ_U64(got[0], 200);
	CHECK_EQ_U64(got[1], 0);    /* the old upper half of value[0]: 0 */
	CHECK_EQ_U64(got[2], w2);
	CHECK_EQ_U64(got[3], 1000); /* cmpxchg's old value, the swap done */
	CHECK_EQ_U64(got[4], 7 + (3ull << 32));
	const struct atomics_run *others[] = { &c, &i };
	for (size_t k = 0; k < 2; k++) {
		CHECK_EQ_U64(others[k]->err, t.err);
		CHECK_EQ_U64(others[k]->retval, t.retval);
		CHECK(!memcmp(others[k]->value, t.value, sizeof(t.value)));
		CHECK(!memcmp(others[k]->data, t.data, sizeof(t.data)));
	}
}

/* The same verified program by bpfvm_prog_run() over plain memory: not a trusted run, so the native code
 * with every check runs and the made-up packet pointers fault as in the interpreter. */
TEST(plain_runs_of_verified_programs_keep_checks)
{
	static const char src[] = "r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r2 = r6\n r2 += 1\n"
				  "if r2 > r7 goto +2\n r0 = *(u8 *)(r6 + 0)\n exit\n r0 = 1\n exit\n";
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[16];
	long n = bpfvm_asm(vm, src, insns, 16);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "xdp") : -1;
	uint32_t ctx[6] = { 0x1000, 0x2000 }; /* data, data_end: addresses of nothing the run owns */
	uint64_t r0 = 77;

	CHECK(fd >= 0);
	for (int e = 0; e < 2 && fd >= 0; e++) {
		CHECK_EQ_U64(bpfvm_prog_run(vm, fd, e ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP, ctx, sizeof(ctx), &r0), -EFAULT);
		CHECK(strstr(bpfvm_errmsg(vm), "insn 5: invalid memory read") != NULL);
		CHECK_EQ_U64(r0, 77);
	}
	bpfvm_free(vm);
}

/* A program whose only run state is the packet (LD_ABS/LD_IND: a classic filter's translation) runs
 * as stateless code with the run in r12; a packet load past the end ends the whole run with r0 = 0 --
 * also when the program was tail-called from a subprogram, whose caller a plain exit returns to. */
TEST(packet_loads_in_stateless_code)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int pa = map_create(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1);
	const struct bpf_insn pkt[] = {
		MOV_X(6, 1),                             /* r6 = r1: LD_ABS's ctx */
		INSN_ID(LDABS_B, 0, 0, 0, 0),            /* r0 = *(u8 *)skb[0] */
		MOV_X(7, 0),                             /* r7 = r0 */
		MOV_K(2, 1),                             /* r2 = 1 */
		INSN_ID(LDIND_H, 0, 2, 0, 1),            /* r0 = *(u16 *)skb[r2 + 1]: bytes 2..3, 0 here */
		INSN_ID(ADD64_X, 0, 7, 0, 0),            /* r0 += r7 */
		INSN_ID(JNE_K, 7, 0, 1, 3),              /* if r7 != 3 goto +1 */
		INSN_ID(LDABS_W, 0, 0, 0, 4),            /* r0 = *(u32 *)skb[4]: past the 4 bytes, the run returns 0 */
		ADD_K(0, 200),                           /* r0 += 200 */
		EXIT,
	};
	const struct bpf_insn from_sub[] = {
		CALL_LOCAL(2),                           /* call sub */
		ADD_K(0, 1000),                          /* r0 += 1000 */
		EXIT,
		LD_MAP(2, pa),                           /* sub: r2 = pa */
		MOV_K(3, 0),                             /* r3 = 0 */
		CALL(BPF_FUNC_tail_call),                /* tail_call(r1, pa, 0) */
		MOV_K(0, 7),                             /* r0 = 7: none */
		EXIT,
	};
	const struct bpf_insn from_entry[] = {
		LD_MAP(2, pa),
		MOV_K(3, 0),
		CALL(BPF_FUNC_tail_call),
		MOV_K(0, 5),
		EXIT,
	};
	uint64_t r0;

	CHECK(pa >= 0);
	int t = load_filter(vm, pkt, N(pkt), "pkt");
	int fs = load_filter(vm, from_sub, N(from_sub), "from_sub"), fe = load_filter(vm, from_entry, N(from_entry), "from_entry");
	CHECK(t >= 0 && fs >= 0 && fe >= 0);
	if (bpfvm_prog_run(vm, t, BPFVM_ENGINE_JIT, NULL, 0, &r0) == -EOPNOTSUPP) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	CHECK_EQ_U64(r0, 0); /* no packet: the first load ends it */
	CHECK(map_set(vm, pa, 0, t) == 0);
	CHECK_EQ_U64(both(vm, t, 1), 201);
	CHECK_EQ_U64(both(vm, t, 3), 0);
	CHECK_EQ_U64(both(vm, t, 0x10001), 457); /* bytes 2..3 are 01 00: 0x100 + 1 + 200 */
	CHECK_EQ_U64(both(vm, fe, 1), 201);
	CHECK_EQ_U64(both(vm, fe, 3), 0);
	CHECK_EQ_U64(both(vm, fs, 1), 1201);
	CHECK_EQ_U64(both(vm, fs, 3), 0);                    /* not 1000: the whole run ends */
	/* a runner calls such code directly: the same results */
	struct bpfvm_runner *rn = NULL;
	CHECK(bpfvm_runner_new(vm, t, BPFVM_ENGINE_JIT, &rn) == 0);
	uint32_t idx = 1;
	CHECK(rn && bpfvm_runner_run(rn, &idx, sizeof(idx), &r0) == 0 && r0 == 201);
	idx = 3;
	CHECK(rn && bpfvm_runner_run(rn, &idx, sizeof(idx), &r0) == 0 && r0 == 0);
	CHECK(rn && bpfvm_runner_run(rn, &idx, 2, &r0) == 0 && r0 == 0); /* bytes 2..3 are past the end */
	bpfvm_runner_free(rn);
	CHECK(map_del(vm, pa, 0) == 0);
	bpfvm_free(vm);
}

/* Counted loops ("rX += -1; if rX != 0 goto head", "rX += 1; if rX != K goto head" or "if rX < K",
 * nothing else writing rX, no call or check inside) run without a budget test per back-edge: one test
 * at the loop's entry covers it (x86_64.c fast_loops()).  The budget is still spent exactly as the
 * interpreter spends it: under every limit from 1 up past what the run needs, both engines end alike
 * (the same r0, or the same error at the same insn), with the loop left early (before its step), at its
 * end, entered where it takes no back-edge, where it runs 2^64 rounds (or, counting up to K from past
 * K, none), and runs across budget slices.  The inner loop's back-edge carries no "dec r9", the outer
 * loop's does. */
struct counted_case {
	uint32_t e, x;          /* the inner counter's start, the value it leaves the loop at */
	uint64_t lim_lo, lim_hi;
};

static void counted_sweep(const char *step, const struct counted_case *cases, size_t ncases)
{
	char src[512];
	snprintf(src, sizeof(src),
		 "r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r0 = 0\n r8 = 3\n"
		 "outer: r1 = r6\n"
		 "loop: r0 += r1\n if r1 == r7 goto early\n r0 ^= 5\n %s\n"
		 " r0 += 1\n goto next\n"
		 "early: r0 += 100\n"
		 "next: r8 += -1\n if r8 != 0 goto outer\n"
		 "exit\n", step);
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, insns, (size_t)n, "counted") : -1;

	CHECK(fd >= 0);
	if (fd < 0) {
		bpfvm_free(vm);
		return;
	}
	struct bpfvm_jited jt;
	CHECK(bpfvm_prog_jited(vm, fd, &jt) == 0);
	static const uint8_t dec_r9[] = { 0x49, 0xff, 0xc9 };
	for (size_t be = 9, seen = 0; be <= 14; be += 5, seen = 0) { /* inner, outer back-edge */
		for (size_t i = jt.insn_off[be]; i + 3 <= jt.insn_off[be + 1]; i++)
			seen |= !memcmp(jt.code + i, dec_r9, 3);
		CHECK_EQ_U64(seen, be == 14);
	}
	size_t runs = 0, ok = 0;
	for (size_t c = 0; c < ncases; c++) {
		uint32_t mem[2] = { cases[c].e, cases[c].x };
		for (uint64_t lim = cases[c].lim_lo; lim <= cases[c].lim_hi; lim++) {
			uint64_t ri = 1, rj = 2;
			char msg[256];
			CHECK(bpfvm_set_insn_limit(vm, lim) == 0);
			int ei = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, sizeof(mem), &ri);
			snprintf(msg, sizeof(msg), "%s", ei ? bpfvm_errmsg(vm) : "");
			int ej = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, mem, sizeof(mem), &rj);
			runs++;
			ok += !ei;
			if (ei != ej || (!ei && ri != rj) || (ei && strcmp(msg, bpfvm_errmsg(vm)))) {
				printf("  %s: e %u x %u limit %llu: interp %d r0 %llu '%s', jit %d r0 %llu '%s'\n", step,
				       cases[c].e, cases[c].x, (unsigned long long)lim, ei, (unsigned long long)ri, msg, ej,
				       (unsigned long long)rj, ej ? bpfvm_errmsg(vm) : "");
				CHECK(0);
			}
		}
	}
	CHECK(ok > 0 && ok < runs); /* the limits reached both ends */
	bpfvm_free(vm);
}

TEST(counted_loops_keep_the_budget)
{
	static const struct counted_case down[] = {
		{ 5, 99, 1, 20 },    /* no early exit: 3 * 4 + 2 back-edges */
		{ 5, 3, 1, 12 },     /* out at r1 == 3 each time */
		{ 1, 99, 1, 5 },     /* no back-edge in the inner loop */
		{ 0, 0, 1, 5 },      /* out at once */
		{ 0, 7, 1, 40 },     /* 2^64 - 1 rounds: the limit ends it */
		{ 70000, 99, 3 * 69999 - 2, 3 * 69999 + 4 }, /* each inner loop spans a slice */
		{ 200000, 150000, 3 * 50000 - 2, 3 * 50000 + 4 },
	}, up[] = {
		{ 35, 99, 1, 20 },   /* 4 back-edges each time */
		{ 30, 33, 1, 16 },   /* out at r1 == 33 */
		{ 39, 99, 1, 5 },    /* none */
		{ 40, 40, 1, 5 },    /* out at once */
		{ 41, 7, 1, 40 },    /* past K: none for <, 2^64 - 2 rounds for != */
		{ 0, 99, 100, 125 },
	}, up_far[] = {
		{ 0, 99, 1, 40 },
		{ 0, 150000, 3 * 69999 - 2, 3 * 69999 + 4 }, /* each inner loop spans a slice */
	};
	counted_sweep("r1 += -1\n if r1 != 0 goto loop", down, N(down));
	counted_sweep("r1 -= 1\n if r1 != 0 goto loop", down, 5);
	counted_sweep("r1 += 1\n if r1 < 40 goto loop", up, N(up));
	counted_sweep("r1 += 1\n if r1 != 40 goto loop", up, N(up));
	counted_sweep("r1 += 1\n if r1 < 70000 goto loop", up_far, N(up_far));
}

/* The same in trusted code, with an ARRAY lookup computed in place in the loop (a budget unit per
 * lookup, as the call it stands for: two per round), with a HASH lookup that calls the map
 * (direct_lookup_proven()), and with a call of a frameless function instead (frameless_call(), the
 * second program): a verified XDP program through PROG_TEST_RUN, left
 * before the lookup, after it, and at its end (a loop of helper calls after it spends what it left), under
 * every limit up past what it needs; the interpreter and the JIT end alike.  Neither the lookup nor the back-edge carries a "dec r9". */
static const char counted_lookups[] =
	"r6 = 0\n r7 = 12\n r8 = *(u32 *)(r1 + 0)\n r9 = *(u32 *)(r1 + 4)\n r2 = r8\n r2 += 1\n if r2 > r9 goto out\n"
	"r8 = *(u8 *)(r8 + 0)\n"
	"loop: if r7 == r8 goto out\n r1 = r7\n r1 &= 3\n *(u32 *)(r10 - 4) = r1\n r2 = r10\n r2 += -4\n"
	" r1 = 0x7eadc000 ll\n call 1\n if r0 == 0 goto next\n r1 = *(u64 *)(r0 + 0)\n r6 += r1\n"
	" if r6 > 2000 goto out\n"
	"next: r7 += -1\n if r7 != 0 goto loop\n"
	"out: r8 = 12\n tail: call 5\n r8 += -1\n if r8 != 0 goto tail\n" /* 23 units after it */
	"r0 = r6\n exit\n";

static const char counted_calls[] =
	"r6 = 0\n r7 = 12\n r8 = *(u32 *)(r1 + 0)\n r9 = *(u32 *)(r1 + 4)\n r2 = r8\n r2 += 1\n if r2 > r9 goto out\n"
	"r8 = *(u8 *)(r8 + 0)\n"
	"loop: if r7 == r8 goto out\n r1 = r7\n r2 = r6\n call local f\n r6 = r0\n"
	" if r6 > 2000000 goto out\n"
	"next: r7 += -1\n if r7 != 0 goto loop\n"
	"out: r8 = 12\n tail: call 5\n r8 += -1\n if r8 != 0 goto tail\n" /* 23 units after it */
	"r0 = r6\n exit\n"
	"f: r0 = r1\n r0 *= 3\n r0 += r2\n if r0 < 1000 goto small\n r0 ^= 0x55\n small: exit\n";

/* type 0: no map */
static int counted_lookups_load(struct bpfvm *vm, uint32_t type, const char *src)
{
	struct bpf_insn insns[64];
	int m = type ? map_create(vm, type, 4, 8, 4) : 0;
	long n = bpfvm_asm(vm, src, insns, 64);
	for (uint32_t k = 0; k < 4 && m >= 0 && type; k++) {
		uint64_t v = k == 3 ? 1000 : k * 10 + 1;
		CHECK(UPD(vm, m, &k, &v, 0) == 0);
	}
	patch_map_fd(insns, n, m);
	int fd = m >= 0 && n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "lookups") : -1;
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

static void counted_lookups_run(uint32_t type, const char *src)
{
	struct bpfvm_opts oi = { .sz = sizeof(oi), .interp = 1 }, oj = { .sz = sizeof(oj) };
	struct bpfvm *vi = bpfvm_new(&oi), *vj = bpfvm_new(&oj);
	int fi = counted_lookups_load(vi, type, src), fj = counted_lookups_load(vj, type, src);

	CHECK(fi >= 0 && fj >= 0);
	if (fi < 0 || fj < 0)
		goto out;
	struct bpfvm_jited jt;
	CHECK(bpfvm_prog_jited(vj, fj, &jt) == 0);
	static const uint8_t dec_r9[] = { 0x49, 0xff, 0xc9 };
	for (size_t pc = 0, seen = 0, in_loop = 1; pc < jt.insn_cnt && in_loop; pc++) { /* up to its back-edge */
		bool call = jt.insns[pc].code == OPC(CALL), back = jt.insns[pc].code == OPC(JNE_K) && jt.insns[pc].off < 0;
		for (size_t i = jt.insn_off[pc]; (call || back) && i + 3 <= jt.insn_off[pc + 1]; i++)
			seen |= !memcmp(jt.code + i, dec_r9, 3);
		CHECK_EQ_U64(seen, 0);
		in_loop = !back;
	}
	static const uint8_t stops[] = { 0, 3, 5, 11, 12 }; /* r8: the round it leaves before its lookup */
	size_t runs = 0, ok = 0;
	for (size_t c = 0; c < N(stops); c++) {
		for (uint64_t lim = 1; lim <= 56; lim++) {
			uint8_t pkt[64] = { stops[c] };
			struct bpfvm_test_run_opts ti = { .sz = sizeof(ti), .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1 };
			struct bpfvm_test_run_opts tj = ti;
			char msg[256];
			CHECK(bpfvm_set_insn_limit(vi, lim) == 0 && bpfvm_set_insn_limit(vj, lim) == 0);
			long ei = test_run_via_bpf(vi, fi, &ti), ej = test_run_via_bpf(vj, fj, &tj);
			snprintf(msg, sizeof(msg), "%s", ei ? bpfvm_errmsg(vi) : "");
			runs++;
			ok += !ei;
			if (ei != ej || ti.retval != tj.retval || (ei && strcmp(msg, bpfvm_errmsg(vj)))) {
				printf("  stop %u limit %llu: interp %ld r0 %u '%s', jit %ld r0 %u '%s'\n", stops[c],
				       (unsigned long long)lim, ei, ti.retval, msg, ej, tj.retval, ej ? bpfvm_errmsg(vj) : "");
				CHECK(0);
			}
		}
	}
	CHECK(ok > 0 && ok < runs);
out:
	bpfvm_free(vi);
	bpfvm_free(vj);
}

TEST(counted_loops_with_lookups_keep_the_budget)
{
	counted_lookups_run(BPF_MAP_TYPE_ARRAY, counted_lookups);
	counted_lookups_run(BPF_MAP_TYPE_HASH, counted_lookups);
	counted_lookups_run(0, counted_calls);
}

/* Hash lookups of a verified program, which trusted code makes by calling the map's own lookup
 * (vm_map_desc.lookup) instead of the helper: every hash kind (plain, LRU, per-CPU, both), keys of 4, 8
 * and 12 bytes (the bytes after the key in its 16-byte slot are not part of it), present and absent.
 * The program copies each key from the packet to the stack, looks it up and stores the value's first
 * u64 (or 0xdead) in the packet, and the slot it ran on (bpf_get_smp_processor_id) last.  Every engine
 * finds what C expects (a per-CPU map: the run's slot's value); the trusted code of each lookup is
 * shorter than its checked code (no helper call). */
#define HL_KEYS 6
static void hl_key(uint8_t slot[16], uint32_t i)
{
	for (uint32_t b = 0; b < 16; b++)
		slot[b] = (uint8_t)(i * 0x31 + b * 7 + 1);
}
static uint64_t hl_val(uint32_t i, uint32_t cpu) { return 0x1000000000ull * (i + 1) + cpu * 0x101 + 5; }
static bool hl_present(uint32_t i) { return i % 3 != 1; }

struct hl_run {
	uint64_t out[HL_KEYS + 1];
	size_t calls, shorter;
};

static struct hl_run run_hash_lookups(uint32_t type, uint32_t ks, int checks, int interp)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .checks = checks, .interp = interp,
				.nr_cpus = 3 };
	struct bpfvm *vm = bpfvm_new(&o);
	struct hl_run r;
	bool percpu = type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	int m = map_create(vm, type, ks, 8, 16);
	char src[4096];
	size_t at = (size_t)snprintf(src, sizeof(src), "r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n"
			 "r2 = r6\n r2 += %d\n if r2 > r7 goto out\n", HL_KEYS * 24 + 8);
	for (int i = 0; i < HL_KEYS; i++)
		at += (size_t)snprintf(src + at, sizeof(src) - at,
			 "r1 = *(u64 *)(r6 + %d)\n *(u64 *)(r10 - 16) = r1\n r1 = *(u64 *)(r6 + %d)\n"
			 " *(u64 *)(r10 - 8) = r1\n r2 = r10\n r2 += -16\n r1 = 0x7eadc000 ll\n call 1\n r1 = 0xdead\n"
			 " if r0 == 0 goto s%d\n r1 = *(u64 *)(r0 + 0)\n s%d: *(u64 *)(r6 + %d) = r1\n",
			 i * 16, i * 16 + 8, i, i, HL_KEYS * 16 + i * 8);
	snprintf(src + at, sizeof(src) - at, "call 8\n *(u64 *)(r6 + %d) = r0\n out: r0 = 2\n exit\n", HL_KEYS * 24);
	struct bpf_insn insns[256];
	long n = bpfvm_asm(vm, src, insns, 256);
	uint8_t pkt[HL_KEYS * 24 + 8];

	memset(&r, 0, sizeof(r));
	CHECK(m >= 0 && n > 0 && n <= 256);
	memset(pkt, 0, sizeof(pkt));
	for (uint32_t i = 0; i < HL_KEYS; i++) {
		uint64_t v[3] = { hl_val(i, 0), hl_val(i, 1), hl_val(i, 2) };
		hl_key(pkt + i * 16, i);
		if (hl_present(i))
			CHECK(UPD(vm, m, pkt + i * 16, v, 0) == 0);
	}
	patch_map_fd(insns, n, m);
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "hlookups");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return r;
	}
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt),
					 .data_out = pkt, .data_size_out = sizeof(pkt) };
	CHECK(bpfvm_prog_test_run(vm, fd, &t) == 0 && t.retval == 2);
	memcpy(r.out, pkt + HL_KEYS * 16, sizeof(r.out));
	uint64_t cpu = r.out[HL_KEYS];
	CHECK(cpu < 3);
	for (uint32_t i = 0; i < HL_KEYS; i++)
		CHECK_EQ_U64(r.out[i], hl_present(i) ? hl_val(i, percpu ? (uint32_t)cpu : 0) : 0xdead);
	int err = 0;
	struct sys_obj *ob = sys_get(vm, fd, SYS_PROG, &err);
	if (ob) {
		const struct vm_prog *p = ob->prog;
		for (size_t pc = 0; pc + 1 < p->cnt; pc++)
			if (p->insns[pc].id == ISA_CALL && p->orig[pc].imm == BPF_FUNC_map_lookup_elem) {
				r.calls++;
				r.shorter += p->jit_proven && p->jit_fn && native_shorter(p->jit_proven, p->jit_fn, pc);
			}
		sys_put(vm, ob);
	}
	bpfvm_free(vm);
	return r;
}

TEST(hash_lookups_call_the_map)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_HASH,
					  BPF_MAP_TYPE_LRU_PERCPU_HASH };
	static const uint32_t sizes[] = { 4, 8, 12 };
	for (size_t ti = 0; ti < N(types); ti++)
		for (size_t si = 0; si < N(sizes); si++) {
			struct hl_run t = run_hash_lookups(types[ti], sizes[si], BPFVM_CHECKS_DEFAULT, 0);
			CHECK_EQ_U64(t.calls, HL_KEYS);
			CHECK_EQ_U64(t.shorter, HL_KEYS);
			run_hash_lookups(types[ti], sizes[si], BPFVM_CHECKS_ALWAYS, 0); /* its CHECKs: the helper's answers */
			run_hash_lookups(types[ti], sizes[si], BPFVM_CHECKS_DEFAULT, 1);
		}
}

/* An LRU hash's lookup in trusted code sets the element's reference bit as the helper does: of four
 * elements (the first inserted the coldest), the one the program looked up survives the insert that
 * evicts, and the next coldest goes instead. */
TEST(hash_lookup_call_sets_lru_ref)
{
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .interp = interp };
		struct bpfvm *vm = bpfvm_new(&o);
		int m = map_create(vm, BPF_MAP_TYPE_LRU_HASH, 4, 8, 4);
		CHECK(m >= 0);
		for (uint32_t k = 1; k <= 4; k++) {
			uint64_t v = k * 10;
			CHECK(UPD(vm, m, &k, &v, 0) == 0);
		}
		struct bpf_insn insns[16];
		long n = bpfvm_asm(vm, "*(u32 *)(r10 - 4) = 1\n r2 = r10\n r2 += -4\n r1 = 0x7eadc000 ll\n call 1\n"
				   "r0 = 0\n exit\n", insns, 16);
		CHECK(n > 0);
		for (long i = 0; i + 1 < n; i++)
			if (insns[i].code == OPC(LDDW) && insns[i].imm == 0x7eadc000) {
				insns[i].src_reg = BPF_PSEUDO_MAP_FD;
				insns[i].imm = m;
			}
		int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "touch");
		CHECK(fd >= 0);
		uint8_t pkt[64] = { 0 };
		struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt) };
		CHECK(bpfvm_prog_test_run(vm, fd, &t) == 0);
		uint32_t k = 5;
		uint64_t v = 50;
		CHECK(UPD(vm, m, &k, &v, 0) == 0);
		k = 1;
		CHECK(LKP(vm, m, &k, &v) == 0 && v == 10);
		k = 2;
		CHECK(LKP(vm, m, &k, &v) == -ENOENT);
		bpfvm_free(vm);
	}
}

/* bpf-to-bpf calls in trusted code save only the registers of r6..r9 the callee's own insns write, and
 * give r10 back by adding the frame size: main sets r6..r9 and a stack slot and calls f, which writes r6
 * and r8 (and its own slot) and calls g, which writes r7 and r9 and calls h, which writes none.  Every
 * caller finds its registers and its frame as it left them, on every engine; the trusted code of the
 * call of h is shorter than the checked code's (no push or pop). */
static const char callee_saves_src[] =
	"r6 = 1\n r7 = 2\n r8 = 3\n r9 = 4\n r1 = 77\n *(u64 *)(r10 - 8) = r1\n"
	"call local f\n"
	"r1 = *(u64 *)(r10 - 8)\n r0 *= 10\n r0 += r6\n r0 *= 10\n r0 += r7\n r0 *= 10\n r0 += r8\n r0 *= 10\n r0 += r9\n"
	"r0 *= 1000\n r0 += r1\n exit\n"
	"f: r6 = 5\n r8 = 6\n r1 = 9\n *(u64 *)(r10 - 8) = r1\n call local g\n r0 += r6\n r0 += r8\n"
	" r2 = *(u64 *)(r10 - 8)\n r0 += r2\n exit\n"
	"g: r7 = 7\n r9 = 8\n call local h\n r0 += r7\n r0 += r9\n exit\n"
	"h: r0 = 1\n exit\n";

static uint64_t run_callee_saves(int checks, int interp, bool *shorter)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, callee_saves_src, insns, 64);
	uint64_t r0 = ~0ull;

	CHECK(n > 0);
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "saves");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return r0;
	}
	uint8_t pkt[64] = { 0 };
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt) };
	if (bpfvm_prog_test_run(vm, fd, &t) == 0)
		r0 = t.retval;
	int err = 0;
	struct sys_obj *ob = shorter ? sys_get(vm, fd, SYS_PROG, &err) : NULL;
	if (ob) {
		const struct vm_prog *p = ob->prog;
		size_t last = 0;
		for (size_t pc = 0; pc < p->cnt; pc++)
			if (p->insns[pc].id == ISA_CALL_LOCAL)
				last = pc; /* g's call of h */
		*shorter = last && p->jit_proven && p->jit_fn && native_shorter(p->jit_proven, p->jit_fn, last);
		sys_put(vm, ob);
	}
	bpfvm_free(vm);
	return r0;
}

TEST(calls_save_what_the_callee_writes)
{
	/* h: 1; g: 1 + 7 + 8; f: 16 + 5 + 6 + 9; main: 36, then r6..r9 = 1..4 and its slot's 77 */
	uint32_t want = (uint32_t)((((36ull * 10 + 1) * 10 + 2) * 10 + 3) * 10 + 4) * 1000 + 77;
	bool shorter = false;
	CHECK_EQ_U64(run_callee_saves(BPFVM_CHECKS_DEFAULT, 0, &shorter), want);
	CHECK(shorter);
	CHECK_EQ_U64(run_callee_saves(BPFVM_CHECKS_ALWAYS, 0, NULL), want);
	CHECK_EQ_U64(run_callee_saves(BPFVM_CHECKS_DEFAULT, 1, NULL), want);
}

/* The permissions of the mapping holding addr in /proc/self/maps ("r-xp"), or "" when none does. */
static void perms_at(const void *addr, char perms[8])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)addr;

	perms[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char pr[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, pr) == 3 && a >= lo && a < hi) {
			memcpy(perms, pr, sizeof(pr));
			break;
		}
	}
	if (f)
		fclose(f);
}

/* A program's code, both images: white-box, from the object table. */
static const struct jit_image *prog_image(struct bpfvm *vm, int fd, bool trusted)
{
	int err = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_PROG, &err);
	const struct jit_image *img = o ? (trusted ? o->prog->jit_proven : o->prog->jit_fn) : NULL;

	sys_put(vm, o); /* the fd holds the program */
	return img;
}

/* Executable memory (jit_rt.c): a verified program's two images share one mapping, sealed (read and
 * execute, never written while executable); a closed program's region stays sealed and the next
 * program of the instance is written into it (and runs its own code, not the old); bpfvm_free()
 * unmaps what was kept. */
/* Code goes into pages that stay read+execute (written through /proc/self/mem where the kernel allows
 * it).  A fork()ed child that reuses a region it inherited writes its own copy: the parent's program
 * there runs as before. */
TEST(code_written_after_fork_stays_in_its_process)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn p[] = { INSN_ID(MOV64_K, 0, 0, 0, 7), INSN_ID(EXIT, 0, 0, 0, 0) };
	int fb = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "b");
	uint64_t r0 = 0;
	char perms[8];

	CHECK(fb >= 0);
	const struct jit_image *img = prog_image(vm, fb, false);
	if (!img) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	perms_at(img->code, perms);
	CHECK_EQ_STR(perms, "r-xp");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* the child frees its copy of b and loads c into the same region, then runs c */
		const uint8_t *at = img->code;
		int bad = bpfvm_close(vm, fb) != 0;
		p[0].imm = 9;
		int fc = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "c");
		const struct jit_image *ic = fc >= 0 ? prog_image(vm, fc, false) : NULL;
		uint64_t c0 = 0;
		bad |= !ic || ic->code != at; /* the kept region, reused */
		bad |= bpfvm_prog_run(vm, fc, BPFVM_ENGINE_JIT, NULL, 0, &c0) != 0 || c0 != 9;
		_exit(bad);
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the parent's b, in the region the child wrote its c into */
	CHECK(bpfvm_prog_run(vm, fb, BPFVM_ENGINE_JIT, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 7);
	/* and the parent reuses it in turn */
	CHECK(bpfvm_close(vm, fb) == 0);
	p[0].imm = 11;
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "d");
	CHECK(fd >= 0 && bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 11);
	bpfvm_free(vm);
}

TEST(code_memory_reused_sealed_and_unmapped)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn p[] = { INSN_ID(MOV64_K, 0, 0, 0, 1), INSN_ID(EXIT, 0, 0, 0, 0) };
	int fa = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "a");
	uint64_t r0 = 0;
	char perms[8];

	CHECK(fa >= 0);
	const struct jit_image *fn = prog_image(vm, fa, false), *tr = prog_image(vm, fa, true);
	if (!fn) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	CHECK(tr != NULL);
	if (!tr)
		goto out;
	const uint8_t *base = fn->code;
	CHECK(fn->map_len > 0 && tr->map_len == 0);
	CHECK(tr->code > base && tr->code + tr->len <= base + fn->map_len);
	perms_at(base, perms);
	CHECK_EQ_STR(perms, "r-xp");
	CHECK(bpfvm_prog_run(vm, fa, BPFVM_ENGINE_JIT, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 1);
	CHECK(bpfvm_close(vm, fa) == 0);
	perms_at(base, perms);
	CHECK_EQ_STR(perms, "r-xp"); /* kept, still sealed */

	p[0].imm = 2;
	int fb = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "b");
	CHECK(fb >= 0);
	fn = prog_image(vm, fb, false);
	CHECK(fn && fn->code == base);
	perms_at(base, perms);
	CHECK_EQ_STR(perms, "r-xp");
	r0 = 0;
	CHECK(bpfvm_prog_run(vm, fb, BPFVM_ENGINE_JIT, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 2);
	CHECK(bpfvm_close(vm, fb) == 0);
	bpfvm_free(vm);
	vm = NULL;
	perms_at(base, perms);
	CHECK_EQ_STR(perms, ""); /* unmapped with the instance */
out:
	bpfvm_free(vm);
}

struct compile_churn {
	struct bpfvm *vm;
	int id;
	atomic_int bad;
};

static void *compile_churn(void *arg)
{
	struct compile_churn *c = arg;

	for (int i = 0; i < 300; i++) {
		int32_t v = c->id * 100000 + i;
		struct bpf_insn p[] = { INSN_ID(MOV64_K, 0, 0, 0, v), INSN_ID(EXIT, 0, 0, 0, 0) };
		int fd = bpfvm_prog_load(c->vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "churn");
		uint64_t r0 = 0;
		if (fd < 0 || bpfvm_prog_run(c->vm, fd, BPFVM_ENGINE_JIT, NULL, 0, &r0) || r0 != (uint64_t)v)
			atomic_fetch_add(&c->bad, 1);
		if (fd >= 0)
			bpfvm_close(c->vm, fd);
	}
	return NULL;
}

/* Threads of one instance load, run and close programs at once: each region goes to one program at a
 * time, so each runs its own code. */
TEST(code_memory_shared_by_compiling_threads)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct compile_churn c[4];
	pthread_t t[4];

	if (!jit_available()) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	for (int i = 0; i < 4; i++) {
		c[i].vm = vm;
		c[i].id = i + 1;
		atomic_init(&c[i].bad, 0);
		CHECK(pthread_create(&t[i], NULL, compile_churn, &c[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_U64(atomic_load(&c[i].bad), 0);
	}
	bpfvm_free(vm);
}

/* A function whose address is taken keeps its frame even where it is frameless (frameless_range()): a
 * bpf_loop callback is entered at depth 0 through the callbacks' entry, which its exit must leave
 * through the epilogue, not a ret.  cb (r0 = 0, insn 11) runs as bpf_loop's callback 5 times and is
 * also called directly; r0 = 5 on every engine. */
static uint64_t run_taken_fn(int checks, int interp)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[32];
	long n = bpfvm_asm(vm, "r1 = 5\n r2 = 0x7eadd000 ll\n r3 = 0\n r4 = 0\n call 181\n r6 = r0\n r1 = 7\n"
			   "call local cb\n r0 += r6\n exit\n cb: r0 = 0\n exit\n", insns, 32);
	uint64_t r0 = ~0ull;

	CHECK(n == 13 && insns[1].imm == 0x7eadd000);
	insns[1].src_reg = BPF_PSEUDO_FUNC;
	insns[1].imm = 9; /* cb: insn 11 = 1 + 1 + imm */
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "taken");
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return r0;
	}
	uint8_t pkt[64] = { 0 };
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt) };
	if (bpfvm_prog_test_run(vm, fd, &t) == 0)
		r0 = t.retval;
	bpfvm_free(vm);
	return r0;
}

TEST(callback_function_keeps_its_frame)
{
	CHECK_EQ_U64(run_taken_fn(BPFVM_CHECKS_DEFAULT, 0), 5);
	CHECK_EQ_U64(run_taken_fn(BPFVM_CHECKS_ALWAYS, 0), 5);
	CHECK_EQ_U64(run_taken_fn(BPFVM_CHECKS_DEFAULT, 1), 5);
}

/* Calls compiled in place (x86_64.c inline_sites()): in trusted code a call of a small function that
 * only computes on r0..r5 is its insns at the call, not a call; the function stays where it is for
 * the calls that are made.  f has three exits (one the target of jumps) and is compiled at its call
 * before the loop and in a counted loop of 1..8 rounds (odd and even); g writes r6, h uses its stack,
 * big has 17 insns: those stay calls; c64 (an lddw) is compiled in place too.  r0 and the packet (r8 stored into it) agree
 * between the interpreter, the checked code and the trusted code for every input, and under every
 * instruction limit up past what a run needs (the same error at the same insn). */
static const char inline_src[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r2 = r6\n r2 += 16\n if r2 > r7 goto out\n"
	"r8 = *(u32 *)(r6 + 0)\n r9 = *(u32 *)(r6 + 4)\n"
	"r1 = r8\n r2 = r9\n call local f\n r8 = r0\n"
	"r1 = r8\n call local big\n r8 += r0\n"
	"r1 = r8\n call local g\n r8 ^= r0\n"
	"r1 = r8\n call local h\n r8 += r0\n"
	"r1 = r8\n call local c64\n r8 ^= r0\n"
	"r9 &= 7\n r9 += 1\n"
	"loop: r1 = r9\n r2 = r8\n r2 &= 1023\n call local f\n r8 += r0\n r9 += -1\n if r9 != 0 goto loop\n"
	"*(u64 *)(r6 + 8) = r8\n r0 = r8\n exit\n"
	"out: r0 = 0\n exit\n"
	"f: r0 = r1\n r0 *= 3\n r0 += r2\n if r0 > 1000 goto f_big\n r0 ^= 0x55\n exit\n"
	"f_big: if r2 == 3 goto f_ret\n r1 += 1\n r0 = r1\n r0 >>= 1\n if r2 == 4 goto f_ret\n r0 += 7\n exit\n"
	"f_ret: exit\n"
	"g: r6 = r1\n r6 *= 7\n r0 = r6\n exit\n"
	"h: *(u64 *)(r10 - 8) = r1\n r0 = *(u64 *)(r10 - 8)\n r0 += 1\n exit\n"
	"c64: r0 = 0x123456789abcdef ll\n r0 += r1\n exit\n"
	"big: r0 = r1\n r0 += 1\n r0 += 2\n r0 += 3\n r0 += 4\n r0 += 5\n r0 += 6\n r0 += 7\n r0 += 8\n"
	" r0 += 9\n r0 += 10\n r0 += 11\n r0 += 12\n r0 += 13\n r0 += 14\n r0 += 15\n exit\n";

static uint64_t inline_f(uint64_t r1, uint64_t r2)
{
	uint64_t r0 = r1 * 3 + r2;
	if (r0 <= 1000)
		return r0 ^ 0x55;
	if (r2 == 3)
		return r0;
	r0 = (r1 + 1) >> 1;
	return r2 == 4 ? r0 : r0 + 7;
}

static uint64_t inline_model(uint32_t a, uint32_t b)
{
	uint64_t r8 = inline_f(a, b);
	r8 += r8 + 120;
	r8 ^= r8 * 7;
	r8 += r8 + 1;
	r8 ^= r8 + 0x123456789abcdefull;
	for (uint64_t r9 = (b & 7) + 1; r9; r9--)
		r8 += inline_f(r9, r8 & 1023);
	return r8;
}

/* Does the native code [lo, hi) of img call native offset `to` (a rel32 call)? */
static bool calls_at(const struct jit_image *img, size_t lo, size_t hi, uint32_t to)
{
	for (size_t i = lo; i + 5 <= hi; i++) {
		int32_t rel;
		memcpy(&rel, img->code + i + 1, 4);
		if (img->code[i] == 0xe8 && (int64_t)i + 5 + rel == (int64_t)to)
			return true;
	}
	return false;
}

static int inline_load(struct bpfvm *vm)
{
	struct bpf_insn insns[128];
	long n = bpfvm_asm(vm, inline_src, insns, 128);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "inl") : -1;
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

TEST(small_calls_compiled_in_place)
{
	struct bpfvm_opts oi = { .sz = sizeof(oi), .interp = 1 }, oj = { .sz = sizeof(oj) },
			  oc = { .sz = sizeof(oc), .checks = BPFVM_CHECKS_ALWAYS };
	struct bpfvm *vi = bpfvm_new(&oi), *vj = bpfvm_new(&oj), *vc = bpfvm_new(&oc);
	int fi = inline_load(vi), fj = inline_load(vj), fc = inline_load(vc);

	CHECK(fi >= 0 && fj >= 0 && fc >= 0);
	if (fi < 0 || fj < 0 || fc < 0)
		goto out;
	/* which calls are made: the trusted code calls none of f, and each of the others */
	const struct jit_image *t = prog_image(vj, fj, true);
	CHECK(t != NULL);
	int err = 0;
	struct sys_obj *ob = t ? sys_get(vj, fj, SYS_PROG, &err) : NULL;
	if (ob) {
		const struct vm_prog *p = ob->prog;
		size_t calls = 0, inlined = 0;
		for (size_t pc = 0; pc < p->cnt; pc++) {
			if (p->insns[pc].id != ISA_CALL_LOCAL)
				continue;
			size_t to = pc + (size_t)((int64_t)p->insns[pc].off / (int64_t)sizeof(struct vm_insn));
			bool is_f = to + 1 < p->cnt && p->orig[to + 1].code == OPC(MUL64_K) && p->orig[to + 1].imm == 3;
			bool is_c64 = p->orig[to].code == OPC(LDDW);
			bool called = calls_at(t, t->off[pc], t->off[pc + 1], t->off[to]);
			calls++;
			inlined += !called;
			CHECK_EQ_U64(called, !is_f && !is_c64);
		}
		CHECK_EQ_U64(calls, 6);
		CHECK_EQ_U64(inlined, 3); /* f twice, c64 */
		sys_put(vj, ob);
	}
	static const uint32_t as[] = { 0, 1, 3, 5, 300, 400, 1000, 100000, 0xffffffffu };
	static const uint32_t bs[] = { 0, 3, 4, 5, 9, 1000, 0xfffffff8u };
	for (size_t x = 0; x < N(as); x++)
		for (size_t y = 0; y < N(bs); y++) {
			uint64_t want = inline_model(as[x], bs[y]);
			struct bpfvm *vms[] = { vi, vj, vc };
			int fds[] = { fi, fj, fc };
			for (int e = 0; e < 3; e++) {
				uint8_t pkt[64] = { 0 }, outp[64] = { 0 };
				memcpy(pkt, &as[x], 4);
				memcpy(pkt + 4, &bs[y], 4);
				struct bpfvm_test_run_opts tr = { .sz = sizeof(tr), .data_in = pkt, .data_size_in = sizeof(pkt),
								  .data_out = outp, .data_size_out = sizeof(outp), .repeat = 1 };
				uint64_t got = 0;
				CHECK(test_run_via_bpf(vms[e], fds[e], &tr) == 0);
				memcpy(&got, outp + 8, 8);
				if (got != want || tr.retval != (uint32_t)want) {
					printf("  engine %d a %u b %u: r0 %u mem %llx, want %llx\n", e, as[x], bs[y], tr.retval,
					       (unsigned long long)got, (unsigned long long)want);
					CHECK(0);
				}
			}
		}
	/* the budget: 5 calls, then (b & 7) + 1 rounds of a call and a back-edge */
	size_t runs = 0, ok = 0;
	for (uint32_t b = 0; b < 8; b += 3)
		for (uint64_t lim = 1; lim <= 24; lim++) {
			uint8_t pkt[64] = { 7, 0, 0, 0, (uint8_t)b };
			struct bpfvm_test_run_opts ti = { .sz = sizeof(ti), .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1 };
			struct bpfvm_test_run_opts tj = ti;
			char msg[256];
			CHECK(bpfvm_set_insn_limit(vi, lim) == 0 && bpfvm_set_insn_limit(vj, lim) == 0);
			long ei = test_run_via_bpf(vi, fi, &ti), ej = test_run_via_bpf(vj, fj, &tj);
			snprintf(msg, sizeof(msg), "%s", ei ? bpfvm_errmsg(vi) : "");
			runs++;
			ok += !ei;
			if (ei != ej || ti.retval != tj.retval || (ei && strcmp(msg, bpfvm_errmsg(vj)))) {
				printf("  b %u limit %llu: interp %ld r0 %u '%s', jit %ld r0 %u '%s'\n", b, (unsigned long long)lim,
				       ei, ti.retval, msg, ej, tj.retval, ej ? bpfvm_errmsg(vj) : "");
				CHECK(0);
			}
		}
	CHECK(ok > 0 && ok < runs);
out:
	bpfvm_free(vi);
	bpfvm_free(vj);
	bpfvm_free(vc);
}

/* Counted loops of up to 32 insns without calls are unrolled by 2 (x86_64.c fast_loop_unroll()): the
 * back-edge's code holds the body's second copy, entered first when the count is odd (odd_entry(): the
 * first copy then has no exit test).  Under every limit up past what the run needs and for
 * trip counts 0..9 (odd and even: the loop left from either copy), left from the middle of the body
 * in either copy, the interpreter and the JIT end alike.  With a jump from before the loop into its
 * body, it is neither a fast loop nor unrolled, and still agrees.  In a switch-like loop each case's
 * "goto next" is a copy of the 2-insn tail `next:` (fast_loop_tail()): its code holds a conditional jump. */
static const char unroll_src[] =
	"r6 = *(u32 *)(r1 + 0)\n r7 = *(u32 *)(r1 + 4)\n r0 = 0\n r1 = r6\n %s\n"
	"loop: r0 += r1\n r0 *= 7\n if r1 == r7 goto early\n"
	"inside: r0 ^= 5\n r1 += -1\n if r1 != 0 goto loop\n"
	"r0 += 1\n exit\n"
	"early: r0 += 100\n exit\n";
static const char tail_src[] =
	"r0 = 0\n r1 = *(u32 *)(r1 + 0)\n"
	"loop: r2 = r1\n r2 &= 3\n if r2 == 0 goto c0\n if r2 == 1 goto c1\n if r2 == 2 goto c2\n"
	" r0 -= 7\n goto next\n c0: r0 += 1\n goto next\n c1: r0 ^= 3\n goto next\n c2: r0 *= 3\n"
	"next: r1 += -1\n if r1 != 0 goto loop\n"
	"exit\n";

/* src run by both engines on {e, x} under limits 1..lim_hi: 0 runs differed; the jited code in *jt */
static int unroll_sweep(struct bpfvm *vm, const char *src, uint32_t lim_hi, size_t *runs, size_t *ok,
			bool (*check)(const struct bpfvm_jited *jt))
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, insns, (size_t)n, "unroll") : -1;
	int bad = 0;

	CHECK(fd >= 0);
	if (fd < 0)
		return 1;
	struct bpfvm_jited jt;
	CHECK(bpfvm_prog_jited(vm, fd, &jt) == 0 && check(&jt));
	for (uint32_t e = 0; e < 10; e++)
		for (uint32_t x = 0; x < 12; x += 3)
			for (uint64_t lim = 1; lim <= lim_hi; lim++) {
				uint32_t mem[2] = { e, x == 9 ? 1000 : x };
				uint64_t ri = 1, rj = 2;
				char msg[256];
				CHECK(bpfvm_set_insn_limit(vm, lim) == 0);
				int ei = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, sizeof(mem), &ri);
				snprintf(msg, sizeof(msg), "%s", ei ? bpfvm_errmsg(vm) : "");
				int ej = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, mem, sizeof(mem), &rj);
				(*runs)++;
				*ok += !ei;
				if (ei != ej || (!ei && ri != rj) || (ei && strcmp(msg, bpfvm_errmsg(vm)))) {
					printf("  e %u x %u limit %llu: interp %d r0 %llu '%s', jit %d r0 %llu '%s'\n", e, mem[1],
					       (unsigned long long)lim, ei, (unsigned long long)ri, msg, ej, (unsigned long long)rj,
					       ej ? bpfvm_errmsg(vm) : "");
					bad = 1;
				}
			}
	bpfvm_close(vm, fd);
	return bad;
}

/* insns 5..10 are the loop (head 5, back-edge 10): its second copy is in the back-edge's code */
static bool unrolled(const struct bpfvm_jited *jt)
{
	return jt->insn_off[11] - jt->insn_off[10] > jt->insn_off[10] - jt->insn_off[6];
}
static bool not_unrolled(const struct bpfvm_jited *jt) { return !unrolled(jt); }
/* each "goto next" (insns 8, 10, 12) is more than a jmp */
static bool tails_copied(const struct bpfvm_jited *jt)
{
	bool all = true;
	for (size_t pc = 8; pc <= 12; pc += 2)
		all &= jt->insn_off[pc + 1] - jt->insn_off[pc] > 5 && jt->insns[pc].code == OPC(JA);
	return all;
}

TEST(small_counted_loops_unrolled)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&o);
	char src[512];
	size_t runs = 0, ok = 0;

	if (bpfvm_prog_run(vm, -1, BPFVM_ENGINE_JIT, NULL, 0, NULL) == -EOPNOTSUPP) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	snprintf(src, sizeof(src), unroll_src, "r2 = 0");
	CHECK(unroll_sweep(vm, src, 14, &runs, &ok, unrolled) == 0);
	snprintf(src, sizeof(src), unroll_src, "if r7 == 1000 goto inside");
	CHECK(unroll_sweep(vm, src, 14, &runs, &ok, not_unrolled) == 0);
	CHECK(unroll_sweep(vm, tail_src, 14, &runs, &ok, tails_copied) == 0);
	CHECK(ok > 0 && ok < runs); /* the limits reached both ends */
	bpfvm_free(vm);
}

/* An unrolled loop of a verified program writing a map value (its pointer proven: no check in the
 * trusted code, whose back-edge holds the second copy), with a copied tail: 1..8 rounds from the packet's first byte, the value's two words and
 * r0 the same in the interpreter, the trusted code and the checked code. */
static const char unroll_map_src[] =
	"r8 = *(u32 *)(r1 + 0)\n r9 = *(u32 *)(r1 + 4)\n r2 = r8\n r2 += 1\n if r2 > r9 goto out\n"
	"r7 = *(u8 *)(r8 + 0)\n r7 &= 7\n r7 += 1\n"
	"*(u32 *)(r10 - 4) = 0\n r2 = r10\n r2 += -4\n r1 = 0x7eadc000 ll\n call 1\n if r0 == 0 goto out\n"
	"r6 = r0\n r0 = 0\n"
	"loop: r1 = *(u64 *)(r6 + 0)\n r1 *= 3\n r1 += r7\n *(u64 *)(r6 + 0) = r1\n"
	" r2 = r7\n r2 &= 1\n if r2 == 0 goto even\n *(u64 *)(r6 + 8) = r7\n r0 ^= 3\n goto next\n"
	"even: r0 += 1\n"
	"next: r7 += -1\n if r7 != 0 goto loop\n"
	"exit\n"
	"out: r0 = 99\n exit\n";

struct unroll_map_run {
	uint32_t retval;
	uint64_t val[2];
};

static struct unroll_map_run run_unroll_map(int checks, int interp, uint8_t n)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .checks = checks, .interp = interp };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn insns[64];
	struct unroll_map_run r = { 0, { 0, 0 } };
	int m = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 1);
	long cnt = bpfvm_asm(vm, unroll_map_src, insns, 64);

	patch_map_fd(insns, cnt, m);
	int fd = m >= 0 && cnt > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)cnt, "unroll_map") : -1;
	CHECK(fd >= 0);
	if (fd >= 0) {
		uint8_t pkt[64] = { n };
		struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1 };
		uint32_t k = 0;
		CHECK(test_run_via_bpf(vm, fd, &t) == 0);
		CHECK(LKP(vm, m, &k, r.val) == 0);
		r.retval = t.retval;
		const struct jit_image *img = interp ? NULL : prog_image(vm, fd, true);
		for (size_t be = 0; img && be < img->cnt; be++) /* the back-edge's code holds the second copy */
			if (insns[be].code == OPC(JNE_K) && insns[be].off < 0) {
				size_t h = be + 1 + (size_t)(int64_t)insns[be].off;
				CHECK(img->off[be + 1] - img->off[be] > img->off[be] - img->off[h + 1]);
			}
	}
	bpfvm_free(vm);
	return r;
}

TEST(unrolled_loop_writes_map_value)
{
	for (uint8_t n = 0; n < 8; n++) {
		uint64_t v0 = 0, v1 = 0, r0 = 0;
		for (uint64_t r7 = n + 1u; r7; r7--) { /* the program's model */
			v0 = v0 * 3 + r7;
			if (r7 & 1) {
				v1 = r7;
				r0 ^= 3;
			} else {
				r0 += 1;
			}
		}
		struct unroll_map_run want = { (uint32_t)r0, { v0, v1 } };
		struct unroll_map_run got[3] = { run_unroll_map(BPFVM_CHECKS_DEFAULT, 1, n),
						 run_unroll_map(BPFVM_CHECKS_DEFAULT, 0, n),
						 run_unroll_map(BPFVM_CHECKS_ALWAYS, 0, n) };
		for (int e = 0; e < 3; e++) {
			CHECK_EQ_U64(got[e].retval, want.retval);
			CHECK_EQ_U64(got[e].val[0], want.val[0]);
			CHECK_EQ_U64(got[e].val[1], want.val[1]);
		}
	}
}

int main(void)
{
	RUN(blinding_hides_constants);
	RUN(native_atomics_across_threads);
	RUN(tail_calls_agree);
	RUN(packet_loads_in_stateless_code);
	RUN(trusted_code_matches_checked);
	RUN(verified_frame_zeroed_to_its_depth);
	RUN(plain_runs_of_verified_programs_keep_checks);
	RUN(array_lookups_in_place);
	RUN(proven_atomics_unchecked);
	RUN(callee_reads_caller_frame_zeroed);
	RUN(multiply_add_pairs);
	RUN(counted_loops_keep_the_budget);
	RUN(counted_loops_with_lookups_keep_the_budget);
	RUN(hash_lookups_call_the_map);
	RUN(hash_lookup_call_sets_lru_ref);
	RUN(calls_save_what_the_callee_writes);
	RUN(code_memory_reused_sealed_and_unmapped);
	RUN(code_written_after_fork_stays_in_its_process);
	RUN(code_memory_shared_by_compiling_threads);
	RUN(callback_function_keeps_its_frame);
	RUN(small_calls_compiled_in_place);
	RUN(small_counted_loops_unrolled);
	RUN(unrolled_loop_writes_map_value);
	return test_done();
}

