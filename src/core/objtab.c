/* objtab.c -- the instance's object table: handles ("fds") and ids -> reference-counted objects
 * (struct sys_obj), looked up without a lock, with type-stable objects recycled through a free list.
 * Knows no program and no map: the payload's release is the instance's release hook (sys.c).
 * The functions keep the sys_ prefix they had while sys.c implemented them. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>

#include "core.h"

#define FD_MAX 65536

/* Entry i of the current table, NULL past its end. */
static struct sys_obj *tab_get(struct sys_tab *_Atomic *tp, size_t i)
{
	struct sys_tab *t = atomic_load(tp);

	return t && i < t->cap ? atomic_load(&t->ent[i]) : NULL;
}

/* Makes the table hold index `need - 1` (vm->lock held).  The old table stays readable. */
static int tab_reserve(struct sys_tab *_Atomic *tp, size_t need)
{
	struct sys_tab *t = atomic_load(tp);
	size_t cap = t ? t->cap : 0, ncap = cap ? cap : 16;

	if (need <= cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	struct sys_tab *n = malloc(sizeof(*n) + ncap * sizeof(n->ent[0]));
	if (!n)
		return -ENOMEM;
	n->cap = ncap;
	n->retired = t;
	for (size_t i = 0; i < ncap; i++)
		atomic_init(&n->ent[i], i < cap ? atomic_load(&t->ent[i]) : NULL);
	atomic_store(tp, n);
	return 0;
}

static void tab_set(struct sys_tab *_Atomic *tp, size_t i, struct sys_obj *o)
{
	atomic_store(&atomic_load(tp)->ent[i], o);
}

/* A free fd (vm->lock held), the table grown to hold it; -EMFILE / -ENOMEM. */
static int fd_alloc(struct bpfvm *vm)
{
	struct sys_tab *t = atomic_load(&vm->fds);
	size_t cap = t ? t->cap : 0;

	for (size_t i = 0; i < cap; i++)
		if (!atomic_load(&t->ent[i]))
			return (int)i;
	if (cap >= FD_MAX)
		return -EMFILE;
	return tab_reserve(&vm->fds, cap + 1) ? -ENOMEM : (int)cap;
}

/* A reference on o unless its count already reached zero (it is dying or on the free list). */
static bool obj_tryget(struct sys_obj *o)
{
	int n = atomic_load(&o->refcnt);

	while (n > 0)
		if (atomic_compare_exchange_weak(&o->refcnt, &n, n + 1))
			return true;
	return false;
}

/* A reference on the object entry i of the table names, checked still to be named after the reference
 * is taken (the entry may have been cleared, and the object reused, meanwhile). */
static struct sys_obj *tab_ref(struct bpfvm *vm, struct sys_tab *_Atomic *tp, size_t i, bool retry)
{
	for (;;) {
		struct sys_obj *o = tab_get(tp, i);
		if (!o)
			return NULL;
		if (obj_tryget(o)) {
			if (tab_get(tp, i) == o)
				return o;
			sys_put(vm, o);
		}
		/* An fd entry always holds a reference, so a failed tryget means it changed: look again.  An
		 * id entry is never reused: a dying object means no object for that id. */
		if (!retry)
			return NULL;
	}
}

int sys_install(struct bpfvm *vm, enum sys_kind kind, void *ptr)
{
	struct sys_obj *o;
	int fd;

	pthread_mutex_lock(&vm->lock);
	o = vm->free_objs;
	if (o)
		vm->free_objs = o->free_next;
	else if (!(o = calloc(1, sizeof(*o)))) {
		pthread_mutex_unlock(&vm->lock);
		return -ENOMEM;
	}
	fd = fd_alloc(vm);
	if (fd >= 0 && vm->next_id == UINT32_MAX)
		fd = -ENOSPC;
	if (fd >= 0 && tab_reserve(&vm->ids, (size_t)vm->next_id + 1))
		fd = -ENOMEM;
	if (fd < 0) {
		o->free_next = vm->free_objs;
		vm->free_objs = o;
	} else {
		/* A stale reader may hold a reference on the recycled memory for a moment; it finds the
		 * object under no entry it looked at and drops it.  Count 0 -> 1 is only done here. */
		o->kind = kind;
		o->ptr = ptr;
		o->id = ++vm->next_id;
		o->free_next = NULL;
		atomic_fetch_add(&o->refcnt, 1);
		atomic_store(&o->usercnt, 1);
		tab_set(&vm->ids, o->id - 1, o);
		tab_set(&vm->fds, (size_t)fd, o);
	}
	pthread_mutex_unlock(&vm->lock);
	return fd;
}

struct sys_obj *sys_get(struct bpfvm *vm, int fd, enum sys_kind kind, int *err)
{
	struct sys_obj *o = fd >= 0 ? tab_ref(vm, &vm->fds, (size_t)fd, true) : NULL;

	if (!o) {
		*err = -EBADF;
		return NULL;
	}
	if (kind != SYS_NONE && o->kind != kind) {
		sys_put(vm, o);
		*err = -EINVAL;
		return NULL;
	}
	return o;
}

struct sys_obj *sys_get_by_id(struct bpfvm *vm, uint32_t id, enum sys_kind kind)
{
	struct sys_obj *o = id >= 1 ? tab_ref(vm, &vm->ids, id - 1, false) : NULL;

	if (o && kind != SYS_NONE && o->kind != kind) {
		sys_put(vm, o);
		o = NULL;
	}
	return o;
}

void sys_obj_hold(struct sys_obj *o)
{
	atomic_fetch_add(&o->refcnt, 1);
}

/* ---- borrowed look-ups (core.h sys_borrow()) ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

void sys_borrow_init(struct bpfvm *vm)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	atomic_init(&vm->borrowed, false);
	/* registering is per process and may be repeated; a host without it (old kernel, seccomp) gets
	 * a fence in each borrow instead, which still saves one of the two atomic operations */
	vm->borrow_fence = cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
			   membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) != 0;
}

struct sys_obj *sys_borrow(struct bpfvm *vm, struct sys_log *self, int fd, enum sys_kind kind)
{
	if (!atomic_load_explicit(&vm->borrowed, memory_order_relaxed)) {
		/* the first borrow: before it looks anything up, every last sys_put() from now on must see
		 * that it has borrowers to wait for (borrow_wait()'s fence pairs with this one) */
		atomic_store(&vm->borrowed, true);
		atomic_thread_fence(memory_order_seq_cst);
	}
	/* odd: borrowing.  Only this thread writes the count, so a load and a store. */
	unsigned int seq = atomic_load_explicit(&self->borrow_seq, memory_order_relaxed);
	atomic_store_explicit(&self->borrow_seq, seq + 1, memory_order_relaxed);
	if (vm->borrow_fence)
		atomic_thread_fence(memory_order_seq_cst); /* the store before the look-up, as the releaser sees them */
	else
		atomic_signal_fence(memory_order_seq_cst); /* the releaser's membarrier() orders them */
	struct sys_obj *o = fd >= 0 ? tab_get(&vm->fds, (size_t)fd) : NULL;
	return o && o->kind == kind ? o : NULL;
}

void sys_borrow_end(struct sys_log *self)
{
	unsigned int seq = atomic_load_explicit(&self->borrow_seq, memory_order_relaxed);

	/* release: whatever the borrower read of the object is read before a releaser sees it even */
	atomic_store_explicit(&self->borrow_seq, seq + 1, memory_order_release);
}

bool sys_borrow_hold(struct sys_obj *o)
{
	return obj_tryget(o);
}

/* The grace period before a dead object (no fd names it any more) is released and recycled: every
 * borrow that may have found it has ended.  A borrow that starts after the membarrier() finds no fd
 * naming it; one that started before shows an odd count here, and is waited for until the count moves
 * (that borrow's end; the next one cannot find the object). */
static void borrow_wait(struct bpfvm *vm)
{
	atomic_thread_fence(memory_order_seq_cst); /* the fd's clearing before the flag's load */
	if (!atomic_load(&vm->borrowed))
		return;
	if (!vm->borrow_fence && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0)
		membarrier(MEMBARRIER_CMD_GLOBAL); /* cannot fail once registered; the slow kind if it did */
	for (size_t i = 0; i < SYS_LOG_BUCKETS; i++)
		for (struct sys_log *e = atomic_load_explicit(&vm->logs[i], memory_order_acquire); e; e = e->next) {
			unsigned int seq = atomic_load_explicit(&e->borrow_seq, memory_order_acquire);
			/* a borrow lasts one run without calls: spin a while, then let the borrower have the CPU */
			for (unsigned int spins = 0;
			     (seq & 1) && atomic_load_explicit(&e->borrow_seq, memory_order_acquire) == seq; spins++) {
				if (spins < 4096)
					cpu_relax();
				else
					sched_yield();
			}
		}
}

void sys_put(struct bpfvm *vm, struct sys_obj *o)
{
	if (!o || atomic_fetch_sub(&o->refcnt, 1) != 1)
		return;
	/* Last reference: no fd names the object and tryget fails from now on.  The id entry goes before
	 * the payload, so that scans of the id table under the lock only see objects with live payloads. */
	pthread_mutex_lock(&vm->lock);
	if (tab_get(&vm->ids, o->id - 1) == o)
		tab_set(&vm->ids, o->id - 1, NULL);
	pthread_mutex_unlock(&vm->lock);
	borrow_wait(vm);
	vm->release(vm, o); /* the payload: programs and maps are the layer above's to free */
	pthread_mutex_lock(&vm->lock);
	o->free_next = vm->free_objs;
	vm->free_objs = o;
	pthread_mutex_unlock(&vm->lock);
}

int bpfvm_close(struct bpfvm *vm, int fd)
{
	struct sys_obj *o = NULL;

	pthread_mutex_lock(&vm->lock);
	if (fd >= 0) {
		o = tab_get(&vm->fds, (size_t)fd);
		if (o)
			tab_set(&vm->fds, (size_t)fd, NULL);
	}
	pthread_mutex_unlock(&vm->lock);
	if (!o)
		return -EBADF;
	/* the handle's user reference first, while its reference keeps o alive for the hook */
	if (atomic_fetch_sub(&o->usercnt, 1) == 1 && vm->release_uref)
		vm->release_uref(vm, o);
	sys_put(vm, o);
	return 0;
}

int sys_fd_install(struct bpfvm *vm, struct sys_obj *o)
{
	int fd;

	pthread_mutex_lock(&vm->lock);
	fd = fd_alloc(vm);
	if (fd >= 0) {
		atomic_fetch_add(&o->usercnt, 1); /* before the handle can be closed */
		tab_set(&vm->fds, (size_t)fd, o); /* the caller's reference becomes the handle's */
	}
	pthread_mutex_unlock(&vm->lock);
	return fd;
}

int sys_next_id(struct bpfvm *vm, enum sys_kind kind, uint32_t start_id, uint32_t *next)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->lock);
	for (uint32_t id = start_id + 1; id >= 1 && id <= vm->next_id; id++) {
		struct sys_obj *o = tab_get(&vm->ids, id - 1);
		if (o && o->kind == kind) {
			*next = id;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

void sys_close_all(struct bpfvm *vm)
{
	struct sys_tab *fds = atomic_load(&vm->fds);
	for (size_t fd = 0; fds && fd < fds->cap; fd++)
		bpfvm_close(vm, (int)fd);
}

static void tab_free(struct sys_tab *t)
{
	while (t) {
		struct sys_tab *old = t->retired;
		free(t);
		t = old;
	}
}

void sys_objtab_fini(struct bpfvm *vm)
{
	tab_free(atomic_load(&vm->fds));
	tab_free(atomic_load(&vm->ids));
	while (vm->free_objs) {
		struct sys_obj *o = vm->free_objs;
		vm->free_objs = o->free_next;
		free(o);
	}
}
