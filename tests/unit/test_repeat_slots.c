/* test_repeat_slots.c -- PROG_TEST_RUN with repeat holds its execution slot across runs but gives it
 * back now and then: with a single slot, a short test run started while a long one is going finishes
 * first (ordering, not timing).  And each repetition starts with a fresh instruction budget, as each
 * Linux repetition starts a fresh program invocation. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

struct shared {
	struct bpfvm *vm;
	int fd;
	atomic_int long_started, long_done, short_done_first;
	long long_err, short_err;
};

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

static void *long_main(void *arg)
{
	struct shared *s = arg;
	atomic_store(&s->long_started, 1);
	s->long_err = test_run(s->vm, s->fd, 10000000, NULL);
	atomic_store(&s->long_done, 1);
	return NULL;
}

static void *short_main(void *arg)
{
	struct shared *s = arg;
	while (!atomic_load(&s->long_started))
		sched_yield();
	struct timespec ts = { 0, 5000000 }; /* let the long run take the slot */
	nanosleep(&ts, NULL);
	s->short_err = test_run(s->vm, s->fd, 100, NULL);
	atomic_store(&s->short_done_first, !atomic_load(&s->long_done));
	return NULL;
}

TEST(short_run_not_starved_by_long_repeat)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1 };
	struct shared s;
	memset(&s, 0, sizeof(s));
	s.vm = bpfvm_new(&o);
	const struct bpf_insn p[] = { INSN(0xb7, 0, 0, 0, 2), INSN(0x95, 0, 0, 0, 0) }; /* XDP_PASS */
	s.fd = bpfvm_prog_load(s.vm, BPF_PROG_TYPE_XDP, p, 2, "pass");
	CHECK(s.fd >= 0);
	pthread_t a, b;
	pthread_create(&a, NULL, long_main, &s);
	pthread_create(&b, NULL, short_main, &s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ_U64(s.long_err, 0);
	CHECK_EQ_U64(s.short_err, 0);
	CHECK(atomic_load(&s.short_done_first) == 1);
	bpfvm_free(s.vm);
}

TEST(instruction_budget_is_per_repetition)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* 50 back-edges per run: under a budget of 100 each run fits, 1000 runs together would not */
	const struct bpf_insn p[] = {
		INSN(0xb7, 1, 0, 0, 50),
		INSN(0x17, 1, 0, 0, 1),      /* loop: r1 -= 1 */
		INSN(0x55, 1, 0, -2, 0),     /* if r1 != 0 goto loop */
		INSN(0xb7, 0, 0, 0, 2),
		INSN(0x95, 0, 0, 0, 0),
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

int main(void)
{
	RUN(short_run_not_starved_by_long_repeat);
	RUN(instruction_budget_is_per_repetition);
	return test_done();
}
