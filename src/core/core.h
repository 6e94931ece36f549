/* core.h -- the instance below the bpf() command layer: struct bpfvm, its object table (handles ->
 * maps and programs, ids, references; objtab.c), execution slots (slots.c) and per-thread error logs
 * (log.c).  Helpers and program types reach shared objects through this and nothing above it.  Depends
 * on maps and util only: what an object's payload is, and how it goes, is the layer above's (the
 * instance's release hook; sys.c creates instances).  The functions keep the sys_ prefix they had
 * while sys.c implemented them. */
#ifndef BPFVM_CORE_H
#define BPFVM_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <bpfvm.h>

#include "../util/util.h"

struct vm_prog;
struct map;
struct hlp_timers;
struct jit_mem;

enum sys_kind {
	SYS_NONE = 0,
	SYS_PROG,
	SYS_MAP,
};

/* A reference-counted object.  Each handle holds one reference; so does every program that uses a map
 * and every prog array slot that holds a program.  Handles also count in `usercnt`, the user references
 * (Linux's map->usercnt, bpf_map_inc_with_uref()): when the last handle of an object closes, the
 * instance's release_uref hook runs while the object still lives, so that a prog array can drop the
 * programs in its slots -- which may hold the array itself, a cycle no count would ever break.  (A map's
 * pins are links to its file, not references here: the hook asks the file whether it has any.)
 * Handles and ids are looked up without the instance lock: a reader takes a reference only if the count
 * is not zero, then checks that the table entry still names the object.  That needs the memory to stay
 * a sys_obj after the last reference goes, so dead objects go to the instance's free list (type-stable,
 * as the kernel's SLAB_TYPESAFE_BY_RCU) and are only freed with the instance. */
struct sys_obj {
	enum sys_kind kind;
	atomic_int refcnt;
	atomic_int usercnt;          /* handles naming it (each also holds one of refcnt) */
	uint32_t id;                 /* global id within the instance (MAP_GET_FD_BY_ID ...) */
	union {
		struct vm_prog *prog;
		struct map *map;
		void *ptr;
	};
	struct sys_obj *free_next;   /* on the instance's free list (vm->lock) */
};

/* A table of object pointers (fds or ids) that readers use without a lock.  Writers hold vm->lock; a
 * table that grows is replaced by a copy and the old one kept (chained by `retired`) until the instance
 * goes, because a reader may still be looking at it. */
struct sys_tab {
	size_t cap;
	struct sys_tab *retired;
	struct sys_obj *_Atomic ent[];
};

/* One execution slot ("CPU"), on its own cache line: the thread holding it writes `prandom` on every
 * bpf_get_prandom_u32() and `busy` twice per run. */
struct sys_slot {
	_Alignas(64) atomic_uint busy;
	uint64_t prandom;            /* xorshift state */
};

/* The error log of one thread on one instance (bpfvm_errmsg() is per thread, as errno is).  Only
 * `thread` writes or reads `d`; `thread` and `next` never change once the entry is published.  Entries
 * live until bpfvm_free(): a thread that exits leaves its entry to the next thread given the same
 * pthread_t (glibc reuses them with thread stacks), so the set stays about as large as the most threads
 * that ever failed at once.  Each is on its own cache line, so clearing one never bounces another's. */
struct sys_log {
	_Alignas(64) struct diag d;
	pthread_t thread;
	struct sys_log *next;        /* same bucket of bpfvm.logs */
	/* Odd while `thread` uses an object it looked up without a reference (sys_borrow()); only
	 * `thread` writes it.  An object's last sys_put() waits for every odd count to move on. */
	atomic_uint borrow_seq;
};
#define SYS_LOG_BUCKETS 64

struct hlp_proto;

struct bpfvm {
	size_t log_max;              /* each thread's log cap (bpfvm_opts.log_max) */
	unsigned int nr_cpus;
	char pin_root[4096];
	bool allow_foreign_pins;     /* bpfvm_opts.allow_foreign_pins */
	uint64_t map_mem_max;        /* bpfvm_opts.map_mem_max (0 there: MAP_MEM_MAX_DEFAULT) */
	uint64_t map_mem_used;       /* __atomic: bytes of this instance's maps (maps/map.c charges them) */
	bpfvm_print_fn print;
	void *print_ctx;
	struct bpfvm_kfunc *kfuncs;  /* owned copy */
	size_t kfunc_cnt;
	struct bpfvm_kfunc *helpers; /* embedder helpers overriding Linux ids; owned copy */
	size_t helper_cnt;
	struct hlp_proto *host_protos; /* bpfvm_opts.protos as the verifier reads helpers' (sys_host_proto()) */
	size_t host_proto_cnt;
	uint64_t insn_limit;         /* budget units per run (see vm_budget_reset()); UINT64_MAX: none */
	bool untrusted;              /* bpfvm_opts.untrusted: Linux's unprivileged rules (vm_run.untrusted) */
	bool jit;                    /* runs use the native code (jit_run()); false: the interpreter */
	bool jit_blind;              /* bpfvm_opts.jit_blind: the JIT blinds the programs' constants */
	bool verify;                 /* bpfvm_opts.verify resolved: run the verifier at PROG_LOAD */
	bool exact_loops;            /* ... walking every round of a loop (BPFVM_VERIFY_EXACT_LOOPS) */
	bool checks_always;          /* bpfvm_opts.checks == BPFVM_CHECKS_ALWAYS: no run skips a check */
	/* Random, never 0: marks the prog array slots this instance fills, whose ids name its programs and
	 * no other instance's (maps/array.c); a tail call takes only a slot with this tag. */
	uint64_t tag;
	atomic_bool interrupted;     /* bpfvm_interrupt(): every run stops at its next budget check */
	/* Frees an object's payload (program, map) when its last reference went (sys_put()): set by the
	 * layer that creates instances, which knows what programs and maps are made of. */
	void (*release)(struct bpfvm *vm, struct sys_obj *o);
	/* The last handle of o closed (o->usercnt reached 0; the closing handle's reference still holds o):
	 * Linux's map_release_uref().  Set by the same layer; NULL: nothing to do. */
	void (*release_uref)(struct bpfvm *vm, struct sys_obj *o);

	pthread_mutex_t lock;        /* serializes writers of the tables below and the free list */
	struct sys_tab *_Atomic fds; /* fd -> object (holds a reference); NULL = free */
	struct sys_tab *_Atomic ids; /* id - 1 -> object (weak: cleared when the object dies) */
	uint32_t next_id;
	struct sys_obj *free_objs;   /* dead objects for reuse (see struct sys_obj) */

	struct sys_slot *slots;      /* nr_cpus execution slots */
	void *_Atomic pt_pool[16];   /* progtypes: cached MAP_32BIT packet areas (pt_pool_drain() frees) */
	atomic_ullong pt_sk_cookie;  /* progtypes: last socket cookie given out (sock_gen_cookie()) */
	struct hlp_timers *_Atomic timers; /* bpf_timer bookkeeping and thread (helpers/timer.c), lazily */
	struct jit_mem *jit_mem;     /* the JIT's executable memory (jit.h): sys creates and frees it */

	/* sys_borrow(): set once some thread borrowed (until then the last sys_put() of an object has no
	 * borrower to wait for); borrow_fence: no membarrier(2) here, so each borrow fences instead. */
	atomic_bool borrowed;
	bool borrow_fence;

	/* Per-thread error logs, chained by hash of pthread_self().  A thread pushes its own entry (CAS on
	 * the head, no lock) on its first failure; readers walk a chain without a lock.  Read on every
	 * call and written only when a thread fails for the first time, so on lines of their own. */
	_Alignas(64) struct sys_log *_Atomic logs[SYS_LOG_BUCKETS];
};

/* Installs a new object with one reference (and one user reference) held by the returned handle.  Returns the fd or -ENOMEM /
 * -EMFILE.  On failure the caller still owns obj->ptr. */
int sys_install(struct bpfvm *vm, enum sys_kind kind, void *ptr);
/* Takes a reference on the object behind fd if it has the kind; NULL when not (errno-style via *err). */
struct sys_obj *sys_get(struct bpfvm *vm, int fd, enum sys_kind kind, int *err);
struct sys_obj *sys_get_by_id(struct bpfvm *vm, uint32_t id, enum sys_kind kind);
void sys_obj_hold(struct sys_obj *o);
/* Drops a reference; the last one calls vm->release on the payload and recycles the object, once no
 * thread borrows it (below). */
void sys_put(struct bpfvm *vm, struct sys_obj *o);
/* A look-up without a reference, for the shortest calls (bpfvm_prog_run() of a program whose run
 * calls nothing): the pair of atomic operations on the count was a third of an empty program's run.
 * Between sys_borrow() and sys_borrow_end(), the object fd named (NULL: none, or not of that kind)
 * stays as it was: its last sys_put() waits for the borrow to end before it releases the payload or
 * recycles the object (as RCU: the borrower marks itself in `self`, its thread's entry from
 * sys_log_reset_self(), with plain stores; the releaser makes them visible with membarrier(2)).  Between
 * the two, nothing may drop a reference (a release would wait for itself) or block.  sys_borrow_end()
 * always follows sys_borrow(), whatever it returned.  sys_borrow_hold() takes a reference on a
 * borrowed object (false: it is dying) for use beyond the borrow.  sys_borrow_init() at bpfvm_new(). */
struct sys_obj *sys_borrow(struct bpfvm *vm, struct sys_log *self, int fd, enum sys_kind kind);
void sys_borrow_end(struct sys_log *self);
bool sys_borrow_hold(struct sys_obj *o);
void sys_borrow_init(struct bpfvm *vm);
/* A new handle for the reference o the caller holds (it becomes the handle's, and a user reference):
 * the fd, or -EMFILE / -ENOMEM with the reference still the caller's. */
int sys_fd_install(struct bpfvm *vm, struct sys_obj *o);
/* The first id above start_id of a live object of that kind (BPF_*_GET_NEXT_ID): 0, or -ENOENT. */
int sys_next_id(struct bpfvm *vm, enum sys_kind kind, uint32_t start_id, uint32_t *next);
/* Closes every handle (bpfvm_free()), then, once nothing can run, sys_objtab_fini() frees the tables
 * and the recycled objects. */
void sys_close_all(struct bpfvm *vm);
void sys_objtab_fini(struct bpfvm *vm);

/* Execution slots ("CPUs"): a running thread holds one.  sys_slot_get() never fails; when all slots are
 * busy it waits.  sys_slot_get_near() tries `hint` first (the slot a thread held last), so threads that
 * run repeatedly keep to their own slot's cache line. */
unsigned int sys_slot_get(struct bpfvm *vm);
unsigned int sys_slot_get_near(struct bpfvm *vm, unsigned int hint);
void sys_slot_put(struct bpfvm *vm, unsigned int slot);
/* Allocates vm->nr_cpus slots with seeded random states: 0 or -ENOMEM.  bpfvm_free() frees vm->slots. */
int sys_slots_init(struct bpfvm *vm);

uint32_t sys_prandom_u32(struct bpfvm *vm, unsigned int slot);

/* Whether bytes [from, to) of p are all zero: the attr tail checks run on every command, so not a byte
 * loop (memcmp of the range against itself shifted by one). */
static inline bool sys_bytes_zero(const void *p, size_t from, size_t to)
{
	const uint8_t *b = p;
	return from >= to || (!b[from] && !memcmp(b + from, b + from + 1, to - from - 1));
}

/* Error reporting to the calling thread's log on the instance.  sys_log_reset() starts each public call
 * (it writes nothing when the thread's log is already empty, and takes no lock); sys_err() appends a
 * line and returns err.  sys_log() is the thread's log for parts that write one themselves (map_create,
 * the assembler); it is created on first use and is NULL only when that allocation failed, which the
 * diag_*() functions accept (the message is lost, the error code is not). */
void sys_log_reset(struct bpfvm *vm);
/* sys_log_reset(), returning the calling thread's entry (created on first use) for sys_borrow(); NULL
 * when that allocation failed. */
struct sys_log *sys_log_reset_self(struct bpfvm *vm);
int sys_err(struct bpfvm *vm, int err, const char *fmt, ...) PRINTF_FMT(3, 4);
struct diag *sys_log(struct bpfvm *vm);
/* Frees every thread's log (bpfvm_free()). */
void sys_logs_fini(struct bpfvm *vm);

#endif
