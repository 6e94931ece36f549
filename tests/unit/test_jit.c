/* test_jit.c -- properties of the x86-64 JIT's code that the differential tests (test_conformance runs
 * every .data case under both engines, fuzz_jit) cannot see: constant blinding keeps the program's
 * immediates out of executable memory, native atomics are atomic across threads.  Skipped where the
 * host has no JIT. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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

int main(void)
{
	RUN(blinding_hides_constants);
	RUN(native_atomics_across_threads);
	return test_done();
}
