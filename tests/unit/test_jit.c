/* test_jit.c -- properties of the x86-64 JIT's code that the differential tests (test_conformance runs
 * every .data case under both engines, fuzz_jit) cannot see: constant blinding keeps the program's
 * immediates out of executable memory, native atomics are atomic across threads.  Skipped where the
 * host has no JIT. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <linux/bpf.h>

#include <bpfvm.h>
#include "test.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
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
		INSN(0xb7, 0, 0, 0, 0x12345678),         /* r0 = 0x12345678 */
		INSN(0x07, 0, 0, 0, 0x0badf00d),         /* r0 += 0x0badf00d */
		INSN(0x62, 10, 0, -4, 0x41414141),       /* *(u32 *)(r10 - 4) = 0x41414141 */
		INSN(0x61, 1, 10, -4, 0),                /* r1 = *(u32 *)(r10 - 4) */
		INSN(0xaf, 0, 1, 0, 0),                  /* r0 ^= r1 */
		INSN(0x15, 0, 0, 1, 0x5a5a5a5a),         /* if r0 == 0x5a5a5a5a goto +1 */
		INSN(0x27, 0, 0, 0, 0x01020304),         /* r0 *= 0x01020304 */
		INSN(0x18, 2, 0, 0, 0x55667788),         /* r2 = 0x1122334455667788 ll */
		INSN(0, 0, 0, 0, 0x11223344),
		INSN(0x0f, 0, 2, 0, 0),                  /* r0 += r2 */
		INSN(0x45, 0, 0, 1, 0x6b6b6b6b),         /* if r0 & 0x6b6b6b6b goto +1 */
		INSN(0xb4, 0, 0, 0, 0x7a7a7a7a),         /* w0 = 0x7a7a7a7a */
		INSN(0x95, 0, 0, 0, 0),                  /* exit */
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
		INSN(0xb7, 2, 0, 0, 1),                  /* r2 = 1 */
		INSN(0xdb, 1, 2, 0, 0x00),               /* lock *(u64 *)(r1 + 0) += r2 */
		INSN(0xdb, 1, 2, 0, 0x01),               /* r2 = atomic_fetch_add(r1 + 0, r2) */
		INSN(0x79, 0, 1, 0, 0),                  /* retry: r0 = *(u64 *)(r1 + 0) */
		INSN(0xbf, 3, 0, 0, 0),                  /* r3 = r0 */
		INSN(0x07, 3, 0, 0, 1),                  /* r3 += 1 */
		INSN(0xbf, 4, 0, 0, 0),                  /* r4 = r0 */
		INSN(0xdb, 1, 3, 0, 0xf1),               /* r0 = cmpxchg(r1 + 0, r0, r3) */
		INSN(0x5d, 0, 4, -6, 0),                 /* if r0 != r4 goto retry */
		INSN(0xb7, 0, 0, 0, 0),
		INSN(0x95, 0, 0, 0, 0),
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
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ksz;
	a.value_size = vsz;
	a.max_entries = n;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
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
 * chain that stops at Linux's 33 (MAX_TAIL_CALL_CNT); the target sees the caller's registers and frame.
 * The interpreter is the reference. */
TEST(tail_calls_agree)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int pa = map_create(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4);
	const struct bpf_insn straight[] = {
		INSN(0xbf, 0, 6, 0, 0),                  /* r0 = r6 (the caller's) */
		INSN(0x27, 0, 0, 0, 7),                  /* r0 *= 7 */
		INSN(0xb7, 3, 0, 0, 3),                  /* r3 = 3 */
		INSN(0x3f, 0, 3, 0, 0),                  /* r0 /= r3 */
		INSN(0x7b, 10, 0, -16, 0),               /* *(u64 *)(r10 - 16) = r0 */
		INSN(0x79, 0, 10, -16, 0),               /* r0 = *(u64 *)(r10 - 16) */
		INSN(0x07, 0, 0, 0, 100),                /* r0 += 100 */
		INSN(0x95, 0, 0, 0, 0),
	};
	const struct bpf_insn loop[] = {
		INSN(0xb7, 0, 0, 0, 0),                  /* r0 = 0 */
		INSN(0xb7, 2, 0, 0, 10),                 /* r2 = 10 */
		INSN(0x0f, 0, 2, 0, 0),                  /* loop: r0 += r2 */
		INSN(0x07, 2, 0, 0, -1),                 /* r2 -= 1 */
		INSN(0x55, 2, 0, -3, 0),                 /* if r2 != 0 goto loop */
		INSN(0x0f, 0, 6, 0, 0),                  /* r0 += r6 */
		INSN(0x95, 0, 0, 0, 0),
	};
	const struct bpf_insn chain[] = {
		INSN(0x79, 7, 10, -8, 0),                /* r7 = *(u64 *)(r10 - 8): the frame is the caller's */
		INSN(0x07, 7, 0, 0, 1),                  /* r7 += 1 */
		INSN(0x7b, 10, 7, -8, 0),                /* *(u64 *)(r10 - 8) = r7 */
		INSN(0x18, 2, 1, 0, pa), INSN(0, 0, 0, 0, 0), /* r2 = pa */
		INSN(0xb7, 3, 0, 0, 2),                  /* r3 = 2: itself */
		INSN(0x85, 0, 0, 0, 12),                 /* tail_call(r1, pa, 2) */
		INSN(0x79, 0, 10, -8, 0),                /* r0 = *(u64 *)(r10 - 8) */
		INSN(0x95, 0, 0, 0, 0),
	};
	const struct bpf_insn from_sub[] = {
		INSN(0x61, 6, 1, 0, 0),                  /* r6 = *(u32 *)(r1 + 0): the index */
		INSN(0x85, 0, 1, 0, 2),                  /* call sub */
		INSN(0x07, 0, 0, 0, 1000),               /* r0 += 1000 */
		INSN(0x95, 0, 0, 0, 0),
		INSN(0x18, 2, 1, 0, pa), INSN(0, 0, 0, 0, 0), /* sub: r2 = pa */
		INSN(0xbf, 3, 6, 0, 0),                  /* r3 = r6 */
		INSN(0x85, 0, 0, 0, 12),                 /* tail_call(r1, pa, r6) */
		INSN(0xb7, 0, 0, 0, 7),                  /* r0 = 7: none */
		INSN(0x95, 0, 0, 0, 0),
	};
	const struct bpf_insn from_entry[] = {
		INSN(0x61, 3, 1, 0, 0),                  /* r3 = *(u32 *)(r1 + 0) */
		INSN(0xb7, 6, 0, 0, 6),                  /* r6 = 6 */
		INSN(0x18, 2, 1, 0, pa), INSN(0, 0, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 12),
		INSN(0xb7, 0, 0, 0, 5),
		INSN(0x95, 0, 0, 0, 0),
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
	for (uint32_t k = 0; k < 3; k++) /* the chain holds the array that holds it: break the cycle */
		CHECK(map_del(vm, pa, k) == 0);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(blinding_hides_constants);
	RUN(native_atomics_across_threads);
	RUN(tail_calls_agree);
	return test_done();
}
