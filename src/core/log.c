/* log.c -- the instance's per-thread error logs (struct sys_log): what bpfvm_errmsg() returns, written
 * by sys_err() and reset at the start of every public call, without a lock on any of these paths. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

_Static_assert(SYS_LOG_BUCKETS == 64, "log_bucket() keeps the top 6 bits");
_Static_assert(sizeof(pthread_t) <= sizeof(uint64_t), "log_bucket() hashes pthread_t as an integer");

/* pthread_t is the address of the thread's descriptor on Linux: its low bits are all alike, so a
 * multiplicative (Fibonacci) hash and the top bits. */
static size_t log_bucket(pthread_t t)
{
	uint64_t x = 0;

	memcpy(&x, &t, sizeof(t));
	return (size_t)((x * 0x9e3779b97f4a7c15ull) >> 58);
}

static struct sys_log *log_find(const struct bpfvm *vm, pthread_t self)
{
	/* acquire: pairs with the release of the push in sys_log(), so a found entry is initialised */
	struct sys_log *e = atomic_load_explicit(&vm->logs[log_bucket(self)], memory_order_acquire);

	while (e && !pthread_equal(e->thread, self))
		e = e->next;
	return e;
}

/* A new entry for thread `self`, which has none; NULL when out of memory. */
static struct sys_log *log_new(struct bpfvm *vm, pthread_t self)
{
	struct sys_log *e = aligned_alloc(_Alignof(struct sys_log), sizeof(*e));

	if (!e)
		return NULL;
	diag_init(&e->d, vm->log_max);
	e->thread = self;
	atomic_init(&e->borrow_seq, 0);
	/* Only this thread pushes an entry for itself and entries are never removed, so a plain CAS push
	 * has no ABA and cannot insert self twice. */
	struct sys_log *_Atomic *head = &vm->logs[log_bucket(self)];
	e->next = atomic_load_explicit(head, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(head, &e->next, e, memory_order_release, memory_order_relaxed))
		;
	return e;
}

struct diag *sys_log(struct bpfvm *vm)
{
	pthread_t self = pthread_self();
	struct sys_log *e = log_find(vm, self);

	if (!e)
		e = log_new(vm, self);
	return e ? &e->d : NULL;
}

const char *bpfvm_errmsg(const struct bpfvm *vm)
{
	const struct sys_log *e = log_find(vm, pthread_self());

	return e && e->d.buf ? e->d.buf : "";
}

void sys_log_reset(struct bpfvm *vm)
{
	/* Every call lands here, so: no lock, no allocation, and no write to a log that is already empty
	 * (a thread that never failed has no entry at all). */
	struct sys_log *e = log_find(vm, pthread_self());

	if (e && (e->d.len || e->d.truncated))
		diag_clear(&e->d);
}

struct sys_log *sys_log_reset_self(struct bpfvm *vm)
{
	pthread_t self = pthread_self();
	struct sys_log *e = log_find(vm, self);

	if (!e)
		return log_new(vm, self); /* empty */
	if (e->d.len || e->d.truncated)
		diag_clear(&e->d);
	return e;
}

int sys_err(struct bpfvm *vm, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vprintf(sys_log(vm), fmt, ap);
	va_end(ap);
	return err;
}

void sys_logs_fini(struct bpfvm *vm)
{
	for (size_t i = 0; i < SYS_LOG_BUCKETS; i++) {
		struct sys_log *e = atomic_load(&vm->logs[i]);
		while (e) {
			struct sys_log *next = e->next;
			diag_fini(&e->d);
			free(e);
			e = next;
		}
	}
}
