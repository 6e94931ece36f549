/* timer.c -- bpf_timer_init / set_callback / start / cancel with Linux's semantics
 * (kernel/bpf/helpers.c: __bpf_async_init, bpf_timer_cb, bpf_timer_cancel_and_free).
 *
 * A struct bpf_timer lives in a map value, and map memory is shared memory another process may map.  So
 * the 16 bytes hold only a name: word 0 the owning instance's cookie (pid in the low half, a random tag in
 * the high half), word 1 a slot index + 1 and its generation.  Everything else -- callback, clock,
 * deadline -- is process-local state of the instance (struct hlp_timers), found from the name and checked
 * to belong to that very value.  Bytes another instance or process wrote never name one of ours, so what
 * they do with their timers cannot make us run anything; when one of our names vanishes from a value
 * (another process deleted or overwrote the element) the timer is dropped when it fires.
 *
 * Callbacks run on one thread per instance, started by the first bpf_timer_start and joined by
 * bpfvm_free.  One thread keeps callbacks serialized with each other, so two callbacks cancelling each
 * other cannot deadlock, and each run takes an execution slot like any program run.  The lock order is
 * map lock -> ts->lock (map updates call the free hook with their lock held); nothing here takes a map
 * lock while holding ts->lock. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "../maps/maps.h"
#include "../core/core.h"

#define NO_HEAP SIZE_MAX
#define MAX_CLOCKS 16                /* Linux: clock ids in flags are below this */
/* uapi's enum values (6.7+), spelled here because older <linux/bpf.h> lack them */
#define TIMER_F_ABS     (1ull << 0)  /* BPF_F_TIMER_ABS */
#define TIMER_F_CPU_PIN (1ull << 1)  /* BPF_F_TIMER_CPU_PIN */

struct timer_ent {
	uint32_t idx, gen;               /* the name written into the value */
	struct map *map;
	uint8_t *value;                  /* value start in this process's mapping */
	clockid_t clock;
	struct vm_prog *prog;            /* callback's program and address; NULL/0 until set_callback */
	uint64_t fn;
	uint64_t deadline;               /* CLOCK_MONOTONIC ns while armed */
	size_t heap_pos;                 /* NO_HEAP: not armed */
	bool dead;                       /* freed while its callback ran: the thread frees it afterwards */
};

struct hlp_timers {
	struct bpfvm *vm;
	pthread_mutex_t lock;
	pthread_cond_t wake;             /* to the thread: earlier deadline, or stop */
	pthread_cond_t done;             /* from the thread: a callback returned */
	pthread_t thread;
	bool started, stop;
	uint64_t cookie;
	struct timer_ent **ents;         /* slot -> entry, NULL when free */
	uint32_t *gens;                  /* last generation per slot, so names are never reused */
	uint32_t cap;
	struct timer_ent **heap;         /* armed entries, earliest deadline first */
	size_t heap_len, heap_cap;
	struct timer_ent *running;       /* whose callback runs now, with what it runs on */
	const struct vm_prog *running_prog;
	const struct map *running_map;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool on_timer_thread(const struct hlp_timers *ts)
{
	return ts->started && pthread_equal(pthread_self(), ts->thread);
}

/* ---- the instance's state ---------------------------------------------------------------------- */

static struct hlp_timers *state_get(struct bpfvm *vm)
{
	struct hlp_timers *ts = atomic_load(&vm->timers);
	if (ts)
		return ts;
	ts = calloc(1, sizeof(*ts));
	if (!ts)
		return NULL;
	ts->vm = vm;
	pthread_mutex_init(&ts->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ts->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&ts->done, NULL);
	/* the tag tells instances of one process apart; the pid lets a later process see a crashed owner */
	uint32_t tag = 0;
	while (!tag)
		tag = (uint32_t)(now_ns(CLOCK_MONOTONIC) * 0x9e3779b97f4a7c15ull >> 32) ^ (uint32_t)((uintptr_t)ts >> 4);
	ts->cookie = (uint64_t)tag << 32 | (uint32_t)getpid();
	struct hlp_timers *expect = NULL;
	if (!atomic_compare_exchange_strong(&vm->timers, &expect, ts)) {
		pthread_cond_destroy(&ts->wake);
		pthread_cond_destroy(&ts->done);
		pthread_mutex_destroy(&ts->lock);
		free(ts);
		return expect;
	}
	return ts;
}

static uint64_t *words_of(void *timer) { return timer; }

static void name_write(struct hlp_timers *ts, struct timer_ent *e)
{
	uint64_t *w = words_of(e->value + map_timer_off(e->map));
	__atomic_store_n(&w[1], (uint64_t)e->gen << 32 | (e->idx + 1), __ATOMIC_RELAXED);
	__atomic_store_n(&w[0], ts->cookie, __ATOMIC_RELEASE);
}

/* Does the value still carry e's name?  (Another process may have deleted or overwritten it.) */
static bool name_matches(const struct hlp_timers *ts, const struct timer_ent *e)
{
	const uint64_t *w = words_of(e->value + map_timer_off(e->map));
	return __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) == ts->cookie &&
	       __atomic_load_n(&w[1], __ATOMIC_RELAXED) == ((uint64_t)e->gen << 32 | (e->idx + 1));
}

static void name_clear(const struct hlp_timers *ts, struct timer_ent *e)
{
	if (!name_matches(ts, e))
		return;
	uint64_t *w = words_of(e->value + map_timer_off(e->map));
	__atomic_store_n(&w[0], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&w[1], 0, __ATOMIC_RELAXED);
}

/* The entry the bytes at `timer` name, if it is ours and belongs to exactly that place; lock held. */
static struct timer_ent *ent_of(const struct hlp_timers *ts, const void *timer)
{
	const uint64_t *w = timer;
	if (__atomic_load_n(&w[0], __ATOMIC_ACQUIRE) != ts->cookie)
		return NULL;
	uint64_t n = __atomic_load_n(&w[1], __ATOMIC_RELAXED);
	uint32_t idx = (uint32_t)n - 1, gen = (uint32_t)(n >> 32);
	if (idx >= ts->cap || !ts->ents[idx])
		return NULL;
	struct timer_ent *e = ts->ents[idx];
	if (e->gen != gen || e->dead || e->value + map_timer_off(e->map) != (const uint8_t *)timer)
		return NULL;
	return e;
}

/* ---- the heap of armed timers ------------------------------------------------------------------ */

static void heap_swap(struct hlp_timers *ts, size_t a, size_t b)
{
	struct timer_ent *t = ts->heap[a];
	ts->heap[a] = ts->heap[b];
	ts->heap[b] = t;
	ts->heap[a]->heap_pos = a;
	ts->heap[b]->heap_pos = b;
}

static void heap_fix(struct hlp_timers *ts, size_t i)
{
	while (i > 0 && ts->heap[(i - 1) / 2]->deadline > ts->heap[i]->deadline) {
		heap_swap(ts, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < ts->heap_len && ts->heap[l]->deadline < ts->heap[m]->deadline)
			m = l;
		if (r < ts->heap_len && ts->heap[r]->deadline < ts->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(ts, i, m);
		i = m;
	}
}

/* Disarms e; returns whether it was armed (hrtimer_cancel()'s answer). */
static bool heap_remove(struct hlp_timers *ts, struct timer_ent *e)
{
	size_t i = e->heap_pos;
	if (i == NO_HEAP)
		return false;
	e->heap_pos = NO_HEAP;
	if (--ts->heap_len != i) {
		ts->heap[i] = ts->heap[ts->heap_len];
		ts->heap[i]->heap_pos = i;
		heap_fix(ts, i);
	}
	return true;
}

static int heap_add(struct hlp_timers *ts, struct timer_ent *e)
{
	if (ts->heap_len == ts->heap_cap) {
		size_t n = ts->heap_cap ? ts->heap_cap * 2 : 16;
		struct timer_ent **h = realloc(ts->heap, n * sizeof(*h));
		if (!h)
			return -ENOMEM;
		ts->heap = h;
		ts->heap_cap = n;
	}
	e->heap_pos = ts->heap_len;
	ts->heap[ts->heap_len++] = e;
	heap_fix(ts, e->heap_pos);
	return 0;
}

/* ---- entries ----------------------------------------------------------------------------------- */

static struct timer_ent *ent_new(struct hlp_timers *ts)
{
	uint32_t idx = 0;
	while (idx < ts->cap && ts->ents[idx])
		idx++;
	if (idx == ts->cap) {
		uint32_t n = ts->cap ? ts->cap * 2 : 16;
		struct timer_ent **es = realloc(ts->ents, n * sizeof(*es));
		if (!es)
			return NULL;
		ts->ents = es;
		uint32_t *gs = realloc(ts->gens, n * sizeof(*gs));
		if (!gs)
			return NULL;
		ts->gens = gs;
		memset(es + ts->cap, 0, (n - ts->cap) * sizeof(*es));
		memset(gs + ts->cap, 0, (n - ts->cap) * sizeof(*gs));
		ts->cap = n;
	}
	struct timer_ent *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->idx = idx;
	e->gen = ++ts->gens[idx];
	e->heap_pos = NO_HEAP;
	ts->ents[idx] = e;
	return e;
}

/* Drops e (bpf_timer_cancel_and_free): it never fires again; a running callback finishes first. */
static void ent_free(struct hlp_timers *ts, struct timer_ent *e)
{
	heap_remove(ts, e);
	e->prog = NULL;
	e->fn = 0;
	if (ts->running == e) {
		e->dead = true;
		return;
	}
	ts->ents[e->idx] = NULL;
	free(e);
}

/* The map hook: an element holding one of our timers is deleted or overwritten (map lock held). */
static void on_value_free(void *ctx, struct map *m, void *timer)
{
	struct hlp_timers *ts = ctx;
	(void)m;
	pthread_mutex_lock(&ts->lock);
	struct timer_ent *e = ent_of(ts, timer);
	if (e)
		ent_free(ts, e);
	pthread_mutex_unlock(&ts->lock);
}

/* ---- the thread -------------------------------------------------------------------------------- */

static void report_fault(struct bpfvm *vm, const struct vm_run *run)
{
	char *what = vm_fault_msg(run), *msg = NULL;
	int n = asprintf(&msg, "bpf_timer callback of prog '%s': insn %zu: %s (%d)\n", vm_fault_prog(run)->name,
			 run->fault_pc, what ? what : run->fault_what ? run->fault_what : "fault", run->err);
	free(what);
	if (n < 0)
		return; /* out of memory: the fault goes unreported, as any print would */
	size_t len = (size_t)n;
	if (vm->print)
		vm->print(vm->print_ctx, msg, len);
	else
		fwrite(msg, 1, len, stderr);
	free(msg);
}

/* bpf_timer_cb(): callback_fn(map, key, value), its return value ignored (the verifier makes it 0). */
static void run_callback(struct hlp_timers *ts, struct vm_prog *prog, uint64_t fn, struct map *m, uint8_t *value,
			 unsigned slot)
{
	/* one spare frame above the callback's, where vm_call_subprog() expects its caller's */
	_Alignas(16) uint8_t stack[(VM_MAX_FRAMES + 1) * VM_STACK_SIZE];
	_Alignas(8) uint8_t small[512];
	struct vm_run run;
	/* hash keys may be larger than a program's stack (up to 4 MiB) */
	uint8_t *key = map_key_size(m) <= sizeof(small) ? small : malloc(map_key_size(m));

	if (!key || map_value_elem(m, value, key)) {
		if (key != small)
			free(key);
		return; /* the element went away under us: nothing to call it with */
	}
	vm_run_init(&run, prog, stack);
	run.slot = slot;
	run.fp = (uintptr_t)stack + sizeof(stack);
	if (vm_run_add_region(&run, key, map_key_size(m), false))
		run.regions[run.region_cnt - 1].kind = VM_REG_KEY;
	vm_call_subprog(&run, fn, (uintptr_t)m, (uintptr_t)key, (uintptr_t)value, 0, 0);
	hlp_spin_run_end(&run); /* a callback, too, never leaves a lock held */
	if (key != small)
		free(key);
	if (run.err)
		report_fault(ts->vm, &run);
	hlp_run_put(&run); /* after the report, which may name a program only the run holds */
}

static void *timer_thread(void *arg)
{
	struct hlp_timers *ts = arg;

	pthread_mutex_lock(&ts->lock);
	while (!ts->stop) {
		if (!ts->heap_len) {
			pthread_cond_wait(&ts->wake, &ts->lock);
			continue;
		}
		uint64_t now = now_ns(CLOCK_MONOTONIC), dl = ts->heap[0]->deadline;
		if (dl > now) {
			struct timespec abs = { (time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull) };
			pthread_cond_timedwait(&ts->wake, &ts->lock, &abs);
			continue;
		}
		/* The slot first, unlocked: a program holding the last free slot may be waiting in
		 * bpf_timer_cancel() for us, and it only waits for a callback that is running. */
		pthread_mutex_unlock(&ts->lock);
		unsigned slot = sys_slot_get(ts->vm);
		pthread_mutex_lock(&ts->lock);
		if (ts->stop || !ts->heap_len || ts->heap[0]->deadline > now_ns(CLOCK_MONOTONIC)) {
			sys_slot_put(ts->vm, slot);
			continue;
		}
		struct timer_ent *e = ts->heap[0];
		heap_remove(ts, e);
		if (!name_matches(ts, e)) {
			/* its element was deleted or overwritten where our hook could not see it (another
			 * instance or process): the timer went with it */
			ent_free(ts, e);
			sys_slot_put(ts->vm, slot);
			continue;
		}
		struct vm_prog *prog = e->prog;
		uint64_t fn = e->fn;
		ts->running = e;
		ts->running_prog = prog;
		ts->running_map = e->map;
		pthread_mutex_unlock(&ts->lock);
		run_callback(ts, prog, fn, e->map, e->value, slot);
		sys_slot_put(ts->vm, slot);
		pthread_mutex_lock(&ts->lock);
		ts->running = NULL;
		ts->running_prog = NULL;
		ts->running_map = NULL;
		if (e->dead) {
			ts->ents[e->idx] = NULL;
			free(e);
		}
		pthread_cond_broadcast(&ts->done);
	}
	pthread_mutex_unlock(&ts->lock);
	return NULL;
}

/* ---- argument checks --------------------------------------------------------------------------- */

/* Where p must lie: the timer offset of a value of m.  Returns the value, or NULL after faulting the run
 * (Linux's verifier rejects such programs; we find out at run time).  *gone: the element is not in use. */
static uint8_t *timer_value(struct vm_run *run, struct map *m, uint64_t p, const char *helper, bool *gone)
{
	uint32_t off = map_timer_off(m);
	*gone = false;
	if (off == UINT32_MAX) {
		vm_fault(run, -EINVAL, "bpf_timer: the map's value has no struct bpf_timer (BTF)", (uintptr_t)p,
			 MAP_TIMER_SIZE);
		return NULL;
	}
	if (!hlp_mem(run, p, MAP_TIMER_SIZE, true, helper))
		return NULL;
	uint8_t *value = (uint8_t *)(uintptr_t)p - off;
	int r = p >= off ? map_value_elem(m, value, NULL) : -EINVAL;
	if (r == -ENOENT) {
		*gone = true;
		return value;
	}
	if (r) {
		vm_fault(run, -EINVAL, "bpf_timer: R1 is not the struct bpf_timer of a value of that map", (uintptr_t)p,
			 MAP_TIMER_SIZE);
		return NULL;
	}
	return value;
}

/* For helpers without a map argument: the entry R1 names (ts lock held on success), or NULL with *ret set
 * to -EINVAL for a timer that is not initialized here; faults when R1 is no timer of the program's maps. */
static struct timer_ent *timer_arg(struct vm_run *run, struct hlp_timers **tsp, uint64_t p, const char *helper,
				   uint64_t *ret)
{
	struct hlp_timers *ts = atomic_load(&run->vm->timers);
	*ret = (uint64_t)-EINVAL;
	*tsp = ts;
	if (!hlp_mem(run, p, MAP_TIMER_SIZE, true, helper))
		return NULL;
	if (ts) {
		pthread_mutex_lock(&ts->lock);
		struct timer_ent *e = ent_of(ts, (const void *)(uintptr_t)p);
		if (e)
			return e;
		pthread_mutex_unlock(&ts->lock);
	}
	/* Not one of ours: still it must be a timer's place in a map of the program. */
	if (hlp_value_field_map(run, p, map_timer_off))
		return NULL;
	vm_fault(run, -EINVAL, "bpf_timer: R1 is not a struct bpf_timer in a map value", (uintptr_t)p, MAP_TIMER_SIZE);
	return NULL;
}

/* ---- the helpers ------------------------------------------------------------------------------- */

#define ARGS struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5

/* long bpf_timer_init(struct bpf_timer *timer, struct bpf_map *map, u64 flags) */
uint64_t hlp_timer_init(ARGS)
{
	(void)r4, (void)r5;
	struct map *m = hlp_map_arg(run, r2, "bpf_timer_init: R2 is not a map");
	if (!m)
		return 0;
	bool gone;
	uint8_t *value = timer_value(run, m, r1, "bpf_timer_init", &gone);
	if (!value)
		return 0;
	uint64_t clk = r3 & (MAX_CLOCKS - 1);
	if (r3 >= MAX_CLOCKS || (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME && clk != CLOCK_BOOTTIME))
		return (uint64_t)-EINVAL;
	if (gone)
		return (uint64_t)-EINVAL;
	struct hlp_timers *ts = state_get(run->vm);
	if (!ts)
		return (uint64_t)-ENOMEM;
	uint64_t *w = words_of(value + map_timer_off(m));
	pthread_mutex_lock(&ts->lock);
	uint64_t owner = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
	long ret = 0;
	if (ent_of(ts, w)) {
		ret = -EBUSY;
	} else if (owner && owner != ts->cookie) {
		/* another instance's timer: busy while its process lives (a crashed owner's may be taken) */
		pid_t pid = (pid_t)(uint32_t)owner;
		if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
			ret = -EBUSY;
	}
	if (!ret) {
		struct timer_ent *e = ent_new(ts);
		if (!e) {
			ret = -ENOMEM;
		} else {
			e->map = m;
			e->value = value;
			e->clock = (clockid_t)clk;
			map_set_timer_hook(m, on_value_free, ts);
			name_write(ts, e);
		}
	}
	pthread_mutex_unlock(&ts->lock);
	return (uint64_t)ret;
}

/* long bpf_timer_set_callback(struct bpf_timer *timer, void *callback_fn) */
uint64_t hlp_timer_set_callback(ARGS)
{
	(void)r3, (void)r4, (void)r5;
	struct hlp_timers *ts;
	uint64_t ret;
	struct timer_ent *e = timer_arg(run, &ts, r1, "bpf_timer_set_callback", &ret);
	if (!e)
		return run->err ? 0 : ret;
	const struct vm_prog *prog = run->prog;
	const struct vm_insn *t = (const struct vm_insn *)(uintptr_t)r2;
	if (t < prog->insns || t >= prog->insns + prog->cnt || ((uintptr_t)t - (uintptr_t)prog->insns) % sizeof(*t)) {
		pthread_mutex_unlock(&ts->lock);
		vm_fault(run, -EINVAL, "bpf_timer_set_callback: R2 is not a subprogram of the program", (uintptr_t)r2, 0);
		return 0;
	}
	/* Linux holds a reference on the program; here the program's release cancels its timers instead
	 * (hlp_timer_prog_release), so no reference cycle through the map keeps both alive. */
	e->prog = run->prog;
	e->fn = r2;
	pthread_mutex_unlock(&ts->lock);
	return 0;
}

/* long bpf_timer_start(struct bpf_timer *timer, u64 nsecs, u64 flags) */
uint64_t hlp_timer_start(ARGS)
{
	(void)r4, (void)r5;
	struct hlp_timers *ts;
	uint64_t ret;
	struct timer_ent *e = timer_arg(run, &ts, r1, "bpf_timer_start", &ret);
	if (!e)
		return run->err ? 0 : ret;
	/* unknown flags and a timer without a callback are both -EINVAL, so the order Linux checks them in
	 * does not show */
	if ((r3 & ~(uint64_t)(TIMER_F_ABS | TIMER_F_CPU_PIN)) || !e->prog) {
		pthread_mutex_unlock(&ts->lock);
		return (uint64_t)-EINVAL;
	}
	/* Deadlines are kept on CLOCK_MONOTONIC; an absolute time on another clock is converted once
	 * (a later jump of CLOCK_REALTIME is not followed).  BPF_F_TIMER_CPU_PIN: the one thread is the pin. */
	uint64_t now = now_ns(CLOCK_MONOTONIC), dl;
	if (r3 & TIMER_F_ABS) {
		uint64_t cnow = now_ns(e->clock);
		dl = r2 > cnow ? now + (r2 - cnow) : now;
	} else {
		dl = r2 > UINT64_MAX - now ? UINT64_MAX : now + r2;
	}
	long err = 0;
	if (!ts->started) {
		if (pthread_create(&ts->thread, NULL, timer_thread, ts))
			err = -ENOMEM;
		else
			ts->started = true;
	}
	if (!err) {
		heap_remove(ts, e); /* hrtimer_start() on a queued timer moves it */
		e->deadline = dl;
		err = heap_add(ts, e);
		if (!err && e->heap_pos == 0)
			pthread_cond_signal(&ts->wake);
	}
	pthread_mutex_unlock(&ts->lock);
	return (uint64_t)err;
}

/* long bpf_timer_cancel(struct bpf_timer *timer): 1 if it was armed, 0 if not; waits for a running
 * callback; -EDEADLK from the timer's own callback. */
uint64_t hlp_timer_cancel(ARGS)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct hlp_timers *ts;
	uint64_t ret;
	struct timer_ent *e = timer_arg(run, &ts, r1, "bpf_timer_cancel", &ret);
	if (!e)
		return run->err ? 0 : ret;
	if (ts->running == e && on_timer_thread(ts)) {
		pthread_mutex_unlock(&ts->lock);
		return (uint64_t)-EDEADLK;
	}
	/* drop_prog_refcnt(): a cancelled timer needs bpf_timer_set_callback() again before it starts */
	e->prog = NULL;
	e->fn = 0;
	bool was_armed = heap_remove(ts, e);
	while (ts->running == e && !on_timer_thread(ts))
		pthread_cond_wait(&ts->done, &ts->lock);
	pthread_mutex_unlock(&ts->lock);
	return was_armed;
}

/* ---- teardown ---------------------------------------------------------------------------------- */

void hlp_timer_prog_release(struct bpfvm *vm, const struct vm_prog *prog)
{
	struct hlp_timers *ts = atomic_load(&vm->timers);
	if (!ts)
		return;
	pthread_mutex_lock(&ts->lock);
	for (uint32_t i = 0; i < ts->cap; i++) {
		struct timer_ent *e = ts->ents[i];
		if (e && e->prog == prog) {
			heap_remove(ts, e);
			e->prog = NULL;
			e->fn = 0;
		}
	}
	while (ts->running_prog == prog && !on_timer_thread(ts))
		pthread_cond_wait(&ts->done, &ts->lock);
	pthread_mutex_unlock(&ts->lock);
}

void hlp_timer_map_release(struct bpfvm *vm, struct map *m)
{
	struct hlp_timers *ts = atomic_load(&vm->timers);
	if (!ts)
		return;
	pthread_mutex_lock(&ts->lock);
	for (uint32_t i = 0; i < ts->cap; i++) {
		struct timer_ent *e = ts->ents[i];
		if (e && e->map == m) {
			name_clear(ts, e); /* a pinned map lives on: its next user may init the timer */
			ent_free(ts, e);
		}
	}
	while (ts->running_map == m && !on_timer_thread(ts))
		pthread_cond_wait(&ts->done, &ts->lock);
	pthread_mutex_unlock(&ts->lock);
	map_set_timer_hook(m, NULL, NULL);
}

void hlp_timer_fini(struct bpfvm *vm)
{
	struct hlp_timers *ts = atomic_load(&vm->timers);
	if (!ts)
		return;
	pthread_mutex_lock(&ts->lock);
	ts->stop = true;
	pthread_cond_broadcast(&ts->wake);
	pthread_mutex_unlock(&ts->lock);
	if (ts->started)
		pthread_join(ts->thread, NULL);
	for (uint32_t i = 0; i < ts->cap; i++) {
		struct timer_ent *e = ts->ents[i];
		if (e) {
			name_clear(ts, e);
			free(e);
		}
	}
	/* maps outlive this (bpfvm_free closes them next): their hook must not reach freed state */
	pthread_mutex_lock(&vm->lock);
	struct sys_tab *ids = atomic_load(&vm->ids);
	for (size_t i = 0; ids && i < ids->cap; i++) {
		struct sys_obj *o = atomic_load(&ids->ent[i]);
		if (o && o->kind == SYS_MAP)
			map_set_timer_hook(o->map, NULL, NULL);
	}
	pthread_mutex_unlock(&vm->lock);
	atomic_store(&vm->timers, NULL);
	free(ts->ents);
	free(ts->gens);
	free(ts->heap);
	pthread_cond_destroy(&ts->wake);
	pthread_cond_destroy(&ts->done);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
}
