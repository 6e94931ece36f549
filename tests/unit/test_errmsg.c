/* test_errmsg.c -- bpfvm_errmsg() is per thread, as errno is: threads failing (and succeeding) on one
 * instance at once each see the message of their own last call, a pointer it returned stays valid and
 * unchanged until the same thread calls again, and program faults follow the same rule.  Under ASan or
 * TSan (make tsan) a shared log shows up as a use-after-free of its buffer or a data race. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <bpfvm.h>

#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define ROUNDS 20000

static int array_create(struct bpfvm *vm)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 4;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static long lookup(struct bpfvm *vm, int fd, uint32_t key, uint64_t *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)val;
	return bpfvm_bpf(vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
}

static long load_empty(struct bpfvm *vm)
{
	union bpf_attr a;
	struct bpf_insn insn = EXIT;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)&insn;
	a.insn_cnt = 0;
	return bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a));
}

/* One kind of call per thread; each knows its errno and the exact last line of its message. */
enum kind { BAD_FD, EMPTY_LOAD, FAULT, SUCCEED, KINDS };

struct shared {
	struct bpfvm *vm;
	int map_fd;
	int fault_prog;              /* reads 8 bytes at r1 + 64 of an 8-byte buffer */
	atomic_int ready;
	atomic_long bad[KINDS];
	atomic_long rounds[KINDS];
};

struct worker {
	struct shared *s;
	enum kind kind;
	int bad_fd;                  /* BAD_FD: this thread's own missing fd, so its message is its own */
	char first_bad[256];         /* first wrong message seen, for the report */
};

static void note_bad(struct worker *w, const char *msg)
{
	if (atomic_fetch_add(&w->s->bad[w->kind], 1) == 0)
		snprintf(w->first_bad, sizeof(w->first_bad), "%s", msg);
}

/* One line, without a line end (bpfvm_errmsg() has none after its last line). */
static bool one_line(const char *m)
{
	return *m && !strchr(m, '\n');
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct shared *s = w->s;
	char want[128] = "";
	uint64_t val, mem = 0;

	if (w->kind == BAD_FD)
		snprintf(want, sizeof(want), "fd %d is not a map", w->bad_fd);
	else if (w->kind == EMPTY_LOAD)
		snprintf(want, sizeof(want), "PROG_LOAD: insn_cnt is 0");
	atomic_fetch_add(&s->ready, 1);
	while (atomic_load(&s->ready) < KINDS + 1)
		sched_yield();
	for (int i = 0; i < ROUNDS; i++) {
		long ret = 0, want_ret = 0;
		switch (w->kind) {
		case BAD_FD:
			ret = lookup(s->vm, w->bad_fd, 0, &val);
			want_ret = -EBADF;
			break;
		case EMPTY_LOAD:
			ret = load_empty(s->vm);
			want_ret = -EINVAL;
			break;
		case FAULT: {
			uint64_t r0;
			ret = bpfvm_prog_run(s->vm, s->fault_prog, BPFVM_ENGINE_INTERP, &mem, sizeof(mem), &r0);
			want_ret = -EFAULT;
			break;
		}
		case SUCCEED:
			ret = lookup(s->vm, s->map_fd, 1, &val);
			break;
		case KINDS:
			break;
		}
		const char *m = bpfvm_errmsg(s->vm);
		bool ok = ret == want_ret;
		if (w->kind == FAULT)
			ok = ok && !strncmp(m, "prog 'fault': insn 0: invalid memory read", 41) && one_line(m);
		else
			ok = ok && !strcmp(m, want);
		if (!ok) {
			note_bad(w, m);
			continue;
		}
		/* the pointer stays valid and unchanged while the other threads keep failing */
		char copy[256];
		snprintf(copy, sizeof(copy), "%s", m);
		sched_yield();
		if (strcmp(m, copy) || bpfvm_errmsg(s->vm) != m)
			note_bad(w, m);
		atomic_fetch_add(&s->rounds[w->kind], 1);
	}
	return NULL;
}

TEST(threads_see_their_own_messages)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct shared s = { .vm = vm };
	struct worker w[KINDS];
	pthread_t t[KINDS];
	const struct bpf_insn fault[] = { LDX_DW(0, 1, 64), EXIT };

	s.map_fd = array_create(vm);
	s.fault_prog = bpfvm_prog_load(vm, 0, fault, N(fault), "fault");
	CHECK(s.map_fd >= 0 && s.fault_prog >= 0);
	if (s.map_fd < 0 || s.fault_prog < 0) {
		bpfvm_free(vm);
		return;
	}
	for (int k = 0; k < KINDS; k++) {
		w[k] = (struct worker){ .s = &s, .kind = (enum kind)k, .bad_fd = 1000 + k };
		CHECK(pthread_create(&t[k], NULL, worker, &w[k]) == 0);
	}
	/* main fails too, then checks its own message survives all the others */
	CHECK(lookup(vm, 777, 0, &(uint64_t){ 0 }) == -EBADF);
	atomic_fetch_add(&s.ready, 1);
	for (int k = 0; k < KINDS; k++)
		pthread_join(t[k], NULL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "fd 777 is not a map");
	for (int k = 0; k < KINDS; k++) {
		if (atomic_load(&s.bad[k]))
			printf("  kind %d: %ld wrong messages, first: \"%s\"\n", k, atomic_load(&s.bad[k]), w[k].first_bad);
		CHECK_EQ_U64(atomic_load(&s.bad[k]), 0);
		CHECK_EQ_U64(atomic_load(&s.rounds[k]), ROUNDS);
	}
	bpfvm_free(vm);
}

/* The per-call rule inside one thread: a failure's lines replace the previous call's, a success
 * leaves "", and a fault message names the program and insn. */
TEST(one_thread_call_by_call)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	uint64_t val = 0, r0;
	int map = array_create(vm);
	const struct bpf_insn fault[] = { MOV_K(0, 0), LDX_DW(0, 1, 64), EXIT };
	int prog = bpfvm_prog_load(vm, 0, fault, N(fault), "f2");

	CHECK(map >= 0 && prog >= 0);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "");
	CHECK(lookup(vm, 55, 0, &val) == -EBADF);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "fd 55 is not a map");
	CHECK(load_empty(vm) == -EINVAL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "PROG_LOAD: insn_cnt is 0");
	CHECK(lookup(vm, map, 0, &val) == 0);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "");
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, &val, sizeof(val), &r0) == -EFAULT);
	CHECK(!strncmp(bpfvm_errmsg(vm), "prog 'f2': insn 1: invalid memory read", 38));
#if defined(__x86_64__)
	/* the JIT reports the same fault the same way */
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_JIT, &val, sizeof(val), &r0) == -EFAULT);
	CHECK(!strncmp(bpfvm_errmsg(vm), "prog 'f2': insn 1: invalid memory read", 38));
#endif
	CHECK(bpfvm_prog_run(vm, prog, (enum bpfvm_engine)7, &val, sizeof(val), &r0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'f2'") == NULL);
	bpfvm_free(vm);
}

struct many {
	struct bpfvm *vm;
	int fd;
	pthread_barrier_t *all_failed;
	int ok;
};

/* Each fails once with its own fd, waits for all the others to have failed, then checks. */
static void *fail_once(void *arg)
{
	struct many *m = arg;
	char want[64];
	uint64_t val;

	snprintf(want, sizeof(want), "fd %d is not a map", m->fd);
	int ret = (int)lookup(m->vm, m->fd, 0, &val);
	pthread_barrier_wait(m->all_failed);
	m->ok = ret == -EBADF && !strcmp(bpfvm_errmsg(m->vm), want);
	return NULL;
}

/* More threads than the log table has buckets, all alive at once: every one keeps its own message,
 * and bpfvm_free() frees all their logs (LeakSanitizer / valgrind see to that). */
TEST(many_threads_at_once)
{
	enum { THREADS = 150 };
	struct bpfvm *vm = bpfvm_new(NULL);
	pthread_barrier_t b;
	struct many m[THREADS];
	pthread_t t[THREADS];
	int started = 0, ok = 0;

	pthread_barrier_init(&b, NULL, THREADS);
	for (int i = 0; i < THREADS; i++) {
		m[i] = (struct many){ .vm = vm, .fd = 5000 + i, .all_failed = &b };
		if (pthread_create(&t[i], NULL, fail_once, &m[i]))
			break;
		started++;
	}
	CHECK_EQ_U64(started, THREADS);
	if (started < THREADS) /* a barrier for THREADS would never open: fill it from here */
		for (int i = started; i < THREADS; i++)
			pthread_barrier_wait(&b);
	for (int i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		ok += m[i].ok;
	}
	CHECK_EQ_U64(ok, started);
	pthread_barrier_destroy(&b);
	bpfvm_free(vm);
}

/* A thread that fails and exits leaves the message of a thread that failed before it alone. */
TEST(exited_thread_leaves_mine)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	uint64_t val;

	CHECK(lookup(vm, 42, 0, &val) == -EBADF);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "fd 42 is not a map");
	struct many m = { .vm = vm, .fd = 43 };
	pthread_barrier_t b;
	pthread_t t;
	pthread_barrier_init(&b, NULL, 1);
	m.all_failed = &b;
	CHECK(pthread_create(&t, NULL, fail_once, &m) == 0);
	pthread_join(t, NULL);
	CHECK(m.ok);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "fd 42 is not a map");
	pthread_barrier_destroy(&b);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(threads_see_their_own_messages);
	RUN(one_thread_call_by_call);
	RUN(many_threads_at_once);
	RUN(exited_thread_leaves_mine);
	return test_done();
}
