/* test_events.c -- blocking consumers of ring buffers and perf event arrays: a consumer asleep in
 * poll() is woken by a program's submit from another thread or another process (a pinned map), the
 * wakeup flags of bpf_ringbuf_submit() act as in Linux, and a poll with nothing to wake it returns 0
 * at its timeout.  Bounds on elapsed time are generous (a wakeup must come well before the timeout,
 * not within some latency); they tell a woken poll from a timed-out one. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char pin_root[128];

static struct bpfvm *new_vm(void)
{
	return test_vm(2, pin_root);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* rec = bpf_ringbuf_reserve(rb, 8, 0); *rec = seq (r1 of the run = mem: its first u64); submit(rec, flags) */
static int load_submit(struct bpfvm *vm, int rb, int32_t flags)
{
	const struct bpf_insn p[] = {
		INSN_ID(LDXDW, 6, 1, 0, 0),                      /* r6 = *(u64 *)(r1 + 0) */
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_K, 2, 0, 0, 8), INSN_ID(MOV64_K, 3, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 131),                    /* bpf_ringbuf_reserve */
		INSN_ID(JEQ_K, 0, 0, 5, 0),                      /* if r0 == 0 goto out */
		INSN_ID(STXDW, 0, 6, 0, 0),                      /* *(u64 *)(r0 + 0) = r6 */
		INSN_ID(MOV64_X, 1, 0, 0, 0), INSN_ID(MOV64_K, 2, 0, 0, flags),
		INSN_ID(CALL, 0, 0, 0, 132),                    /* bpf_ringbuf_submit */
		INSN_ID(MOV64_K, 0, 0, 0, 1),                      /* r0 = 1: submitted */
		INSN_ID(EXIT, 0, 0, 0, 0),
		INSN_ID(MOV64_K, 0, 0, 0, 0),                      /* out: r0 = 0: ring full */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	return bpfvm_prog_load(vm, 0, p, N(p), "submit");
}

/* Runs a submit program until its record went in (the ring may be full) or *stop is set; 0 or a
 * negative errno. */
static int submit_until(struct bpfvm *vm, int prog, uint64_t seq, atomic_int *stop)
{
	while (!(stop && atomic_load(stop))) {
		uint64_t r0 = 0;
		int err = bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, &seq, sizeof(seq), &r0);
		if (err || r0 == 1)
			return err;
		sched_yield();
	}
	return -EINTR;
}

static int submit(struct bpfvm *vm, int prog, uint64_t seq)
{
	return submit_until(vm, prog, seq, NULL);
}

struct seen {
	atomic_int cnt;
	uint64_t last;
};

static int rb_cb(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	if (size == 8)
		memcpy(&s->last, data, 8);
	atomic_fetch_add(&s->cnt, 1);
	return 0;
}

/* A producer thread: waits delay_ms, then runs each of progs[] once. */
struct producer {
	struct bpfvm *vm;
	int progs[4];
	int nprogs;
	int delay_ms;
	int gap_ms;              /* between programs */
	atomic_int *consumer_done; /* set by the consumer once poll returned */
	int done_before_last;    /* out: the consumer had returned before the last program ran */
	int err;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	usleep((useconds_t)p->delay_ms * 1000);
	for (int i = 0; i < p->nprogs; i++) {
		if (i) {
			usleep((useconds_t)p->gap_ms * 1000);
		}
		if (i == p->nprogs - 1 && p->consumer_done)
			p->done_before_last = atomic_load(p->consumer_done);
		int err = submit(p->vm, p->progs[i], (uint64_t)i + 1);
		if (err)
			p->err = err;
	}
	return NULL;
}

TEST(ringbuf_poll_wakes_on_submit)
{
	struct bpfvm *vm = new_vm();
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	CHECK(rb >= 0);
	int prog = load_submit(vm, rb, 0);
	CHECK(prog >= 0);
	struct seen s = { 0 };
	struct bpfvm_ringbuf *c = NULL;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, &s, &c) == 0);
	if (!c || prog < 0)
		return;
	struct producer p = { .vm = vm, .progs = { prog }, .nprogs = 1, .delay_ms = 50 };
	pthread_t t;
	double t0 = now_ms();
	pthread_create(&t, NULL, producer_main, &p);
	int n = bpfvm_ringbuf_poll(c, 5000);
	double dt = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK(n == 1);
	CHECK(atomic_load(&s.cnt) == 1 && s.last == 1);
	CHECK(p.err == 0);
	CHECK(dt >= 45 && dt < 1000); /* woken by the submit at ~50 ms, not by the 5 s timeout */
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

TEST(ringbuf_poll_timeout)
{
	struct bpfvm *vm = new_vm();
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	struct seen s = { 0 };
	struct bpfvm_ringbuf *c = NULL;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, &s, &c) == 0);
	if (!c)
		return;
	double t0 = now_ms();
	CHECK(bpfvm_ringbuf_poll(c, 150) == 0);
	double dt = now_ms() - t0;
	CHECK(dt >= 149 && dt < 2000); /* a monotonic deadline never ends early */
	t0 = now_ms();
	CHECK(bpfvm_ringbuf_poll(c, 0) == 0);
	CHECK(now_ms() - t0 < 100);     /* 0: no wait at all */
	CHECK(atomic_load(&s.cnt) == 0);
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

/* Linux's bpf_ringbuf_commit(): NO_WAKEUP never wakes; by default only a record the consumer has caught
 * up with wakes (here B is behind the unconsumed A); FORCE_WAKEUP always wakes. */
TEST(ringbuf_wakeup_flags)
{
	struct bpfvm *vm = new_vm();
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	int nowake = load_submit(vm, rb, BPF_RB_NO_WAKEUP);
	int dflt = load_submit(vm, rb, 0);
	int force = load_submit(vm, rb, BPF_RB_FORCE_WAKEUP);
	CHECK(nowake >= 0 && dflt >= 0 && force >= 0);
	struct seen s = { 0 };
	struct bpfvm_ringbuf *c = NULL;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, &s, &c) == 0);
	if (!c)
		return;

	/* NO_WAKEUP alone: the poll times out, the record is there for the next one */
	struct producer p = { .vm = vm, .progs = { nowake }, .nprogs = 1, .delay_ms = 50 };
	pthread_t t;
	pthread_create(&t, NULL, producer_main, &p);
	CHECK(bpfvm_ringbuf_poll(c, 300) == 0);
	pthread_join(t, NULL);
	CHECK(p.err == 0);
	CHECK(atomic_load(&s.cnt) == 0);
	CHECK(bpfvm_ringbuf_poll(c, 0) == 1);
	CHECK(atomic_load(&s.cnt) == 1);

	/* A (no wakeup), B (default, behind A): still asleep; C (force): woken, all three consumed */
	atomic_int done = 0;
	struct producer q = { .vm = vm, .progs = { nowake, dflt, force }, .nprogs = 3, .delay_ms = 50,
			      .gap_ms = 100, .consumer_done = &done };
	atomic_store(&s.cnt, 0);
	double t0 = now_ms();
	pthread_create(&t, NULL, producer_main, &q);
	int n = bpfvm_ringbuf_poll(c, 5000);
	atomic_store(&done, 1);
	double dt = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK(q.err == 0);
	CHECK(q.done_before_last == 0); /* neither A nor B woke the consumer */
	CHECK(n == 3 && atomic_load(&s.cnt) == 3 && s.last == 3);
	CHECK(dt >= 240 && dt < 2000);  /* woken by C at ~250 ms */
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

/* Many records from another thread into a small ring, each poll waiting: a lost wakeup would show as a
 * poll that times out with records still coming. */
struct burst {
	struct bpfvm *vm;
	int prog;
	int cnt;
	int err;
	atomic_int stop; /* the consumer gave up: do not wait for room any more */
};

static void *burst_main(void *arg)
{
	struct burst *b = arg;
	for (int i = 0; i < b->cnt && !b->err; i++)
		b->err = submit_until(b->vm, b->prog, (uint64_t)i + 1, &b->stop);
	return NULL;
}

TEST(ringbuf_no_lost_wakeup_under_load)
{
	struct bpfvm *vm = new_vm();
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	int prog = load_submit(vm, rb, 0);
	struct seen s = { 0 };
	struct bpfvm_ringbuf *c = NULL;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, &s, &c) == 0);
	if (!c || prog < 0)
		return;
	struct burst b = { vm, prog, 20000, 0, 0 };
	pthread_t t;
	pthread_create(&t, NULL, burst_main, &b);
	int timeouts = 0, total = 0;
	while (total < b.cnt && timeouts == 0) {
		int n = bpfvm_ringbuf_poll(c, 2000);
		if (n == 0)
			timeouts++;
		total += n > 0 ? n : 0;
	}
	atomic_store(&b.stop, 1);
	pthread_join(t, NULL);
	CHECK(b.err == 0);
	CHECK(timeouts == 0);
	CHECK(total == b.cnt && s.last == (uint64_t)b.cnt);
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

static atomic_int perf_cnt;

static void perf_cb(void *ctx, int cpu, void *data, uint32_t size)
{
	(void)ctx;
	(void)cpu;
	(void)data;
	if (size == 8)
		atomic_fetch_add(&perf_cnt, 1);
}

struct perf_producer {
	struct bpfvm *vm;
	int prog;
	int err;
};

static void *perf_main(void *arg)
{
	struct perf_producer *p = arg;
	uint64_t r0 = 1;
	usleep(50000);
	p->err = bpfvm_prog_run(p->vm, p->prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0);
	if (!p->err && r0 != 0)
		p->err = (int)r0;
	return NULL;
}

TEST(perf_buffer_poll_wakes_on_output)
{
	struct bpfvm *vm = new_vm();
	int pa = mk(vm, BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0);
	CHECK(pa >= 0);
	const struct bpf_insn p[] = {
		INSN_ID(STDW, 10, 0, -8, 5),
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0),
		INSN_ID(LDDW, 3, 0, 0, -1), LDDW_HI(0),  /* BPF_F_CURRENT_CPU */
		INSN_ID(MOV64_X, 4, 10, 0, 0), INSN_ID(ADD64_K, 4, 0, 0, -8),
		INSN_ID(MOV64_K, 5, 0, 0, 8),
		INSN_ID(CALL, 0, 0, 0, 25),                       /* bpf_perf_event_output */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int prog = bpfvm_prog_load(vm, 0, p, N(p), "perf");
	CHECK(prog >= 0);
	struct bpfvm_perf_buffer *pb = NULL;
	CHECK(bpfvm_perf_buffer_new(vm, pa, perf_cb, NULL, NULL, &pb) == 0);
	if (!pb || prog < 0)
		return;
	atomic_store(&perf_cnt, 0);
	double t0 = now_ms();
	CHECK(bpfvm_perf_buffer_poll(pb, 100) == 0);
	CHECK(now_ms() - t0 >= 99);
	struct perf_producer pp = { vm, prog, 0 };
	pthread_t t;
	t0 = now_ms();
	pthread_create(&t, NULL, perf_main, &pp);
	int n = bpfvm_perf_buffer_poll(pb, 5000);
	double dt = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK(pp.err == 0);
	CHECK(n == 1 && atomic_load(&perf_cnt) == 1);
	CHECK(dt >= 45 && dt < 1000);
	bpfvm_perf_buffer_free(pb);
	bpfvm_free(vm);
}

/* The producer is a program run by another process on the pinned map. */
TEST(ringbuf_poll_wakes_on_submit_from_another_process)
{
	struct bpfvm *vm = new_vm();
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/events_rb", pin_root);
	unlink(path);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)rb;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == 0);
	struct seen s = { 0 };
	struct bpfvm_ringbuf *c = NULL;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, &s, &c) == 0);
	if (!c)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct bpfvm *o = new_vm();
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.pathname = (uintptr_t)path;
		int ofd = o ? (int)bpfvm_bpf(o, BPF_OBJ_GET, &g, sizeof(g)) : -1;
		int prog = ofd >= 0 ? load_submit(o, ofd, 0) : -1;
		if (prog < 0)
			_exit(2);
		usleep(100000); /* let the parent fall asleep */
		_exit(submit(o, prog, 77) ? 3 : 0);
	}
	CHECK(pid > 0);
	double t0 = now_ms();
	int n = bpfvm_ringbuf_poll(c, 5000);
	double dt = now_ms() - t0;
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(n == 1 && s.last == 77);
	CHECK(dt >= 90 && dt < 2000); /* woken at ~100 ms by the other process, not by the timeout */
	unlink(path);
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-events-%d", (int)getpid());
	RUN(ringbuf_poll_wakes_on_submit);
	RUN(ringbuf_poll_timeout);
	RUN(ringbuf_wakeup_flags);
	RUN(ringbuf_no_lost_wakeup_under_load);
	RUN(perf_buffer_poll_wakes_on_output);
	RUN(ringbuf_poll_wakes_on_submit_from_another_process);
	rmdir(pin_root);
	return test_done();
}
