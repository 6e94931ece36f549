/* test_repeat_slots.c -- PROG_TEST_RUN with repeat holds its execution slot across runs but gives it
 * back now and then: with a single slot, a short test run started while a long one is going finishes
 * first (ordering, not timing).  And each repetition starts with a fresh instruction budget and
 * tail-call count, as each Linux repetition starts a fresh program invocation, for every program type
 * (every run goes through the one engine entry, vm_exec()). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sched.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_util.h"


/* The ordering is made by events, not by sleeping: the long run's program calls a host helper every
 * repetition.  Its first call says the long run is going (and so holds the only slot); the short run then
 * starts and must finish while the long run is still repeating; after that, the helper tells the long
 * program to fault, which ends its repeat (PROG_TEST_RUN stops at a fault).  If the short run were
 * starved, the long one would run out its whole repeat count first and end without a fault. */
struct shared {
	struct bpfvm *vm;
	int fd;
	atomic_int long_running, short_done;
	atomic_uint_fast64_t reps_when_short_done, reps;
	long long_err, short_err;
};

#define HELPER_ID 0x7000 /* an embedder helper id far from Linux's */

static uint64_t progress(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	struct shared *s = (struct shared *)(uintptr_t)r1;
	(void)r2, (void)r3, (void)r4, (void)r5;
	atomic_fetch_add(&s->reps, 1);
	atomic_store(&s->long_running, 1);
	return (uint64_t)atomic_load(&s->short_done);
}

static long test_run(struct bpfvm *vm, int fd, uint32_t repeat, uint32_t *retval)
{
	uint8_t pkt[64] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.repeat = repeat;
	long r = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	if (retval)
		*retval = a.test.retval;
	return r;
}

#define LONG_REPEAT 200000000u /* only reached when the short run is starved (then the test fails) */

static void *long_main(void *arg)
{
	struct shared *s = arg;
	s->long_err = test_run(s->vm, s->fd, LONG_REPEAT, NULL);
	return NULL;
}

static void *short_main(void *arg)
{
	struct shared *s = arg;
	while (!atomic_load(&s->long_running)) /* the long run holds the slot from here on */
		sched_yield();
	/* a plain XDP_PASS program: the slot is what it waits for */
	const struct bpf_insn p[] = { INSN_ID(MOV64_K, 0, 0, 0, 2), INSN_ID(EXIT, 0, 0, 0, 0) };
	int fd = bpfvm_prog_load(s->vm, BPF_PROG_TYPE_XDP, p, 2, "short");
	s->short_err = fd < 0 ? fd : test_run(s->vm, fd, 100, NULL);
	atomic_store(&s->reps_when_short_done, atomic_load(&s->reps));
	atomic_store(&s->short_done, 1);
	return NULL;
}

TEST(short_run_not_starved_by_long_repeat)
{
	struct shared s;
	memset(&s, 0, sizeof(s));
	const struct bpfvm_kfunc helpers[] = { { HELPER_ID, "progress", progress } };
	/* unverified: the program reads address 0 on purpose */
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .helpers = helpers, .helper_cnt = 1,
				.verify = BPFVM_VERIFY_OFF };
	s.vm = bpfvm_new(&o);
	uint64_t sp = (uint64_t)(uintptr_t)&s;
	const struct bpf_insn p[] = {
		INSN_ID(LDDW, 1, 0, 0, (int32_t)(uint32_t)sp), LDDW_HI((int32_t)(uint32_t)(sp >> 32)),
		INSN_ID(CALL, 0, 0, 0, HELPER_ID),       /* r0 = progress(&s) */
		INSN_ID(JEQ_K, 0, 0, 2, 0),               /* if r0 == 0 goto pass */
		INSN_ID(MOV64_K, 1, 0, 0, 0),
		INSN_ID(LDXDW, 0, 1, 0, 0),               /* r0 = *(u64 *)(0): a fault ends the repeat */
		INSN_ID(MOV64_K, 0, 0, 0, 2),               /* pass: XDP_PASS */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	s.fd = bpfvm_prog_load(s.vm, BPF_PROG_TYPE_XDP, p, sizeof(p) / sizeof(p[0]), "long");
	CHECK(s.fd >= 0);
	if (s.fd < 0) {
		printf("  %s\n", bpfvm_errmsg(s.vm));
		bpfvm_free(s.vm);
		return;
	}
	pthread_t a, b;
	pthread_create(&a, NULL, long_main, &s);
	pthread_create(&b, NULL, short_main, &s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ_U64(s.short_err, 0);
	/* the long run was stopped by its own program after the short run finished: it did not run out */
	CHECK_EQ_U64(s.long_err, (uint64_t)(int64_t)-EFAULT);
	CHECK(atomic_load(&s.reps_when_short_done) < LONG_REPEAT);
	bpfvm_free(s.vm);
}

TEST(instruction_budget_is_per_repetition)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* 50 back-edges per run: under a budget of 100 each run fits, 1000 runs together would not */
	const struct bpf_insn p[] = {
		INSN_ID(MOV64_K, 1, 0, 0, 50),
		INSN_ID(SUB64_K, 1, 0, 0, 1),      /* loop: r1 -= 1 */
		INSN_ID(JNE_K, 1, 0, -2, 0),     /* if r1 != 0 goto loop */
		INSN_ID(MOV64_K, 0, 0, 0, 2),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, p, 5, "loop");
	CHECK(fd >= 0);
	bpfvm_set_insn_limit(vm, 100);
	uint32_t retval = 0;
	CHECK_EQ_U64(test_run(vm, fd, 1000, &retval), 0);
	CHECK_EQ_U64(retval, 2);
	bpfvm_set_insn_limit(vm, 40);
	CHECK_EQ_U64(test_run(vm, fd, 1, &retval), (uint64_t)(int64_t)-ELOOP);
	bpfvm_free(vm);
}


/* A run of `entry` under an insn limit of 100: 19 back-edges, then 33 tail calls into `body`, which adds
 * one to the counter each time (about 52 budget units, 86 if helper calls count too).  A second run
 * without a fresh budget would run out; one without a fresh tail-call count would not enter body. */
struct tc_progs {
	int entry, body, counter, progs;
};

static int load_tc_progs(struct bpfvm *vm, uint32_t type, struct tc_progs *t)
{
	t->counter = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	t->progs = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	if (t->counter < 0 || t->progs < 0)
		return -1;
	const struct bpf_insn entry[] = {
		INSN_ID(MOV64_X, 6, 1, 0, 0),          /* r6 = r1 */
		INSN_ID(MOV64_K, 7, 0, 0, 20),         /* r7 = 20 */
		INSN_ID(SUB64_K, 7, 0, 0, 1),          /* loop: r7 -= 1 */
		INSN_ID(JNE_K, 7, 0, -2, 0),         /* if r7 != 0 goto loop */
		INSN_ID(MOV64_X, 1, 6, 0, 0),
		LDDW(2, BPF_PSEUDO_MAP_FD, t->progs, 0),
		INSN_ID(MOV64_K, 3, 0, 0, 1),
		INSN_ID(CALL, 0, 0, 0, BPF_FUNC_tail_call),
		INSN_ID(MOV64_K, 0, 0, 0, 7),          /* only when the tail call fails */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn body[] = {
		INSN_ID(MOV64_X, 6, 1, 0, 0),
		LDDW(1, BPF_PSEUDO_MAP_VALUE, t->counter, 0),
		INSN_ID(LDXDW, 2, 1, 0, 0),          /* counter += 1 */
		INSN_ID(ADD64_K, 2, 0, 0, 1),
		INSN_ID(STXDW, 1, 2, 0, 0),
		INSN_ID(MOV64_X, 1, 6, 0, 0),
		LDDW(2, BPF_PSEUDO_MAP_FD, t->progs, 0),
		INSN_ID(MOV64_K, 3, 0, 0, 1),
		INSN_ID(CALL, 0, 0, 0, BPF_FUNC_tail_call), /* itself, until the count is spent */
		INSN_ID(MOV64_K, 0, 0, 0, 1),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	t->entry = bpfvm_prog_load(vm, type, entry, sizeof(entry) / sizeof(entry[0]), "entry");
	t->body = bpfvm_prog_load(vm, type, body, sizeof(body) / sizeof(body[0]), "body");
	if (t->entry < 0 || t->body < 0)
		return -1;
	uint32_t k = 1, v = (uint32_t)t->body;
	return UPD(vm, t->progs, &k, &v, 0) ? -1 : 0;
}

/* Empties the slot: body -> prog array -> body is a cycle that only the slot's deletion breaks (Linux
 * breaks it when the last user reference to the array goes). */
static void unload_tc_progs(struct bpfvm *vm, const struct tc_progs *t)
{
	uint32_t k = 1;
	DEL(vm, t->progs, &k);
	bpfvm_free(vm);
}

static uint64_t tc_counter(struct bpfvm *vm, const struct tc_progs *t)
{
	uint32_t k = 0;
	uint64_t v = 0;
	return LKP(vm, t->counter, &k, &v) ? UINT64_MAX : v;
}

/* One PROG_TEST_RUN as the type takes it: packet types and UNSPEC get data_in and `repeat`, the others
 * (no repeat in Linux) a ctx of u64 args. */
static long tc_test_run(struct bpfvm *vm, uint32_t type, int fd, uint32_t repeat, uint32_t *retval)
{
	uint8_t pkt[64] = { 0 };
	uint64_t args[4] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.repeat = repeat;
	if (type == BPF_PROG_TYPE_RAW_TRACEPOINT || type == BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE ||
	    type == BPF_PROG_TYPE_SYSCALL || type == BPFVM_PROG_TYPE_HOOK) {
		a.test.ctx_in = (uintptr_t)args;
		a.test.ctx_size_in = sizeof(args);
	} else {
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = sizeof(pkt);
	}
	long r = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	*retval = a.test.retval;
	return r;
}

TEST(budget_and_tail_calls_are_per_repetition_for_every_type)
{
	static const struct {
		uint32_t type;
		bool repeat; /* PROG_TEST_RUN takes repeat (Linux refuses it for raw_tp and syscall) */
	} types[] = {
		{ BPF_PROG_TYPE_UNSPEC, true },
		{ BPF_PROG_TYPE_XDP, true },
		{ BPF_PROG_TYPE_SCHED_CLS, true },
		{ BPF_PROG_TYPE_SCHED_ACT, true },
		{ BPF_PROG_TYPE_SOCKET_FILTER, true },
		{ BPF_PROG_TYPE_RAW_TRACEPOINT, false },
		{ BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, false },
		{ BPF_PROG_TYPE_SYSCALL, false },
		{ BPFVM_PROG_TYPE_HOOK, false },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint32_t type = types[i].type;
		struct bpfvm *vm = bpfvm_new(NULL);
		struct tc_progs t;
		uint32_t retval = 0;
		long err = 0;
		if (load_tc_progs(vm, type, &t)) {
			printf("  type %u: cannot load: %s\n", type, bpfvm_errmsg(vm));
			CHECK(0);
			bpfvm_free(vm);
			continue;
		}
		bpfvm_set_insn_limit(vm, 100);
		if (types[i].repeat) {
			err = tc_test_run(vm, type, t.entry, 1000, &retval);
		} else {
			for (int n = 0; n < 1000 && !err; n++)
				err = tc_test_run(vm, type, t.entry, 0, &retval);
		}
		if (err || retval != 1 || tc_counter(vm, &t) != 33 * 1000)
			printf("  type %u: err %ld (%s) retval %u counter %" PRIu64 "\n", type, err, bpfvm_errmsg(vm),
			       retval, tc_counter(vm, &t));
		CHECK_EQ_U64(err, 0);
		CHECK_EQ_U64(retval, 1);
		CHECK_EQ_U64(tc_counter(vm, &t), 33 * 1000);
		/* and the limit does bind: one run needs more than 40 units */
		bpfvm_set_insn_limit(vm, 40);
		CHECK_EQ_U64(tc_test_run(vm, type, t.entry, 0, &retval), (uint64_t)(int64_t)-ELOOP);
		unload_tc_progs(vm, &t);
	}
}

/* bpfvm_prog_run() (the CLI's and the conformance plugin's raw runs) goes through the same entry. */
TEST(prog_run_budget_and_tail_calls_are_per_run)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct tc_progs t;
	CHECK(load_tc_progs(vm, BPF_PROG_TYPE_UNSPEC, &t) == 0);
	bpfvm_set_insn_limit(vm, 100);
	uint8_t mem[16] = { 0 };
	for (int n = 0; n < 1000; n++) {
		uint64_t r0 = 0;
		if (bpfvm_prog_run(vm, t.entry, BPFVM_ENGINE_INTERP, mem, sizeof(mem), &r0) || r0 != 1) {
			printf("  run %d: %s\n", n, bpfvm_errmsg(vm));
			CHECK(0);
			break;
		}
	}
	CHECK_EQ_U64(tc_counter(vm, &t), 33 * 1000);
	unload_tc_progs(vm, &t);
}

int main(void)
{
	RUN(short_run_not_starved_by_long_repeat);
	RUN(instruction_budget_is_per_repetition);
	RUN(budget_and_tail_calls_are_per_repetition_for_every_type);
	RUN(prog_run_budget_and_tail_calls_are_per_run);
	return test_done();
}
