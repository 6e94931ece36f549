/* maps.h -- maps: one ops table per type (maps.def), common checks and the shared-memory layout in
 * map.c, one file per type family.  Knows nothing of programs.
 *
 * Memory: every map lives in one file-backed shared mapping laid out with offsets, never pointers, so a
 * pinned map can be mapped by another process (`bpfvm map dump PIN`).  The mapping starts with a
 * struct map_hdr; all changes to a map's structure happen under the robust, process-shared mutex in that
 * header, ordered so that a writer killed at any point leaves the structure walkable; the next locker
 * sees EOWNERDEAD and runs the type's recover() to rebuild free lists and counts.
 * The header is shared memory too, which any process that opens the pin may scribble on: a map's
 * constants (sizes, counts, offsets) are taken once into the process-local struct map_geom -- at create,
 * or at open after checking them against the type's rules and the file's real length -- and every access
 * uses that copy.  What does change (counts, list heads, indices, positions) is range-checked on each read.
 * Readers that take no lock (array lookups and updates, hash lookups) rely on each type's own ordering.
 * Maps are created as unlinked files (O_TMPFILE) in the instance's pin root, so OBJ_PIN is a link(). */
#ifndef BPFVM_MAPS_H
#define BPFVM_MAPS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <linux/bpf.h>

#include "../util/util.h"

struct map;

struct map_env {
	unsigned int nr_cpus;
	const char *pin_root;
	bool allow_foreign_pins;     /* map_open_pinned(): accept a file another user owns */
	uint64_t mem_max;            /* cap on *mem_used */
	uint64_t *mem_used;          /* __atomic: bytes of the instance's maps (created or opened); NULL: no cap */
};

#define MAP_ALL_CPUS UINT32_MAX  /* `slot` for user-space updates: value holds every CPU's value */
#define MAP_MAGIC 0x70616d6d76667062ull /* "bpfvmmap" */
#define MAP_LAYOUT_VERSION 7 /* 2: timer_off; 3: hash chains end in nulls markers, element generations;
                                4: ring buffer data page-aligned, mapped twice, pending position;
                                5: prog array slots are a (seq, id) word and the filler's tag;
                                6: so are array of maps slots; hash of maps elements keep the filler's tag;
                                7: map_hash() takes a word at a time */

/* The header at offset 0 of every map's shared mapping.  Offsets are from the mapping's start. */
struct map_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t type, key_size, value_size, max_entries, flags, nr_cpus;
	uint32_t map_extra_lo, map_extra_hi;
	char name[BPF_OBJ_NAME_LEN];
	uint64_t total_len;          /* bytes of the mapping */
	uint32_t frozen;
	uint32_t spin_lock_off;      /* UINT32_MAX: none */
	uint32_t count;              /* elements in use (hash, lpm, queue) */
	uint32_t free_head;          /* hash/lpm: index + 1 of the first free element, 0 = none */
	uint32_t timer_off;          /* struct bpf_timer in values; UINT32_MAX: none */
	uint32_t reserved;
	uint64_t off_a, off_b, off_c, off_d; /* type-specific regions */
	uint64_t values_off, values_len;  /* what programs may touch */
	uint64_t seq[4];             /* type-specific counters (queue head/tail, lru clock, ...) */
	pthread_mutex_t lock;        /* robust, process-shared */
	/* map-in-map: the inner template's struct bpf_spin_lock and struct bpf_timer offsets in its values,
	 * plus 1 (0: none).  Past `lock`, where a map pinned before these existed has zeros: none. */
	uint32_t inner_lock_off1, inner_timer_off1;
};

/* Bytes before the type's regions: layout() offsets are from here. */
#define MAP_HDR_LEN ((sizeof(struct map_hdr) + 63) & ~(size_t)63)

struct map_ops;

/* A program's lookup as bpf_map_lookup_elem() makes it, called with no checks (map_direct_lookup()). */
typedef void *(*map_lookup_fn)(struct map *m, const void *key, unsigned slot);

#define MAP_TIMER_SIZE 16u           /* sizeof(struct bpf_timer), 8-aligned */

/* Called when a value holding a struct bpf_timer is freed or overwritten (Linux bpf_obj_free_fields() ->
 * bpf_timer_cancel_and_free()), before the timer's bytes are zeroed: with the map lock held, except for
 * arrays, whose updates take no lock (so two calls for one value may race).  Must not block: a callback of
 * that very timer may be waiting for the map lock. */
typedef void (*map_timer_free_fn)(void *ctx, struct map *m, void *timer);

/* A map's constants, this process's copy (see the top of this file). */
struct map_geom {
	uint32_t type, key_size, value_size, max_entries, flags, nr_cpus;
	uint32_t spin_lock_off, timer_off; /* UINT32_MAX: none */
	uint32_t seed;                     /* hash seed (seq[3]) */
	uint64_t map_extra;
	uint64_t off_a, off_b, off_c, off_d, values_off, values_len;
	uint64_t seq0;                     /* what layout() fixed in seq[0]: hash buckets, bloom filter bits */
	char name[BPF_OBJ_NAME_LEN];       /* NUL-terminated */
};

/* A process's handle on a map (not shared). */
struct map {
	const struct map_ops *ops;
	struct map_geom g;
	struct map_hdr *hdr;
	uint8_t *base;
	size_t len;
	int fd;                      /* backing file */
	size_t file_len;             /* bytes of the file (len less the mirrored tail) */
	struct map_guard *guard;     /* guard.c: the mapping's entry for the SIGBUS handler */
	uint64_t *mem_used;          /* the instance's count this map is charged to (file_len bytes), or NULL */
	bool user_rdonly, user_wronly;
	void *priv;                  /* type-specific process-local state */
	/* fd maps: the command layer's process-local record of the objects this handle's slots hold
	 * references on (sys_map.c); that layer frees it before map_free() */
	void *held;
	/* timers are process-local (the shared bytes only name them): whoever owns them here hooks in */
	map_timer_free_fn timer_free; /* __atomic: set by timers while other threads update the map */
	void *timer_ctx;
};

/* What an fd map's slot holds: an object id (0: empty) and, in a prog array or a map of maps, the tag of
 * the instance that stored it (array.c says why); other fd maps keep no tag (owner 0). */
struct map_fd_slot {
	uint64_t owner;
	uint32_t id;
};

struct map_ops {
	/* type-specific attribute checks beyond map.c's common ones; -EINVAL etc. with a log line */
	int (*check)(const union bpf_attr *a, unsigned nr_cpus, struct diag *log);
	/* bytes the type needs after the header; sets hdr->off_* */
	uint64_t (*layout)(struct map_hdr *h);
	void (*init)(struct map *m);
	/* value base of `key` (all CPUs' values for per-CPU maps), NULL if absent; lock held unless
	 * lockless_lookup */
	void *(*lookup)(struct map *m, const void *key);
	/* map_direct_lookup()'s function for this map (a key of key_size bytes), or NULL: none */
	map_lookup_fn (*direct_lookup)(const struct map *m);
	/* user-space lookup without the lock, for types whose elements are reused under a reader: copies
	 * key's value with copy() and returns 0 once that copy is known to be of key's element, else -ENOENT */
	int (*read)(struct map *m, const void *key, void *dst, uint64_t flags,
		    void (*copy)(struct map *m, void *dst, const void *src, uint64_t flags));
	/* lock held (not for fixed_elems without BPF_F_LOCK).  slot = MAP_ALL_CPUS from user space */
	long (*update)(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot);
	long (*delete)(struct map *m, const void *key);
	int (*next_key)(struct map *m, const void *key, void *next);
	long (*push)(struct map *m, const void *value, uint64_t flags);
	long (*pop)(struct map *m, void *value, bool peek);
	void (*recover)(struct map *m);
	/* fd maps whose slots record who filled them (prog arrays, maps of maps), in place of
	 * lookup/update/delete: what key's slot holds (-ENOENT: empty), and storing s into it (id 0:
	 * emptying it, -ENOENT if it was); lock held */
	int (*slot_get)(struct map *m, const void *key, struct map_fd_slot *out);
	long (*slot_set)(struct map *m, const void *key, const struct map_fd_slot *s, uint64_t flags);
	/* see map_value_elem(); lock held unless fixed_elems */
	int (*value_elem)(struct map *m, const void *value, void *key);
	bool lockless_lookup;        /* arrays, hashes: lookup without the lock */
	bool fixed_elems;            /* arrays: elements never move nor go, so updates (without BPF_F_LOCK)
				      * and value_elem need no lock either */
	bool percpu;
	bool fd_values;              /* values are object ids (prog array, map-in-map) */
	bool no_key_ops;             /* queue, stack, bloom, ringbuf: no lookup/update/delete by key */
	bool mirror_tail;            /* ringbuf: the last max_entries bytes (page-aligned in the file) are
				      * mapped a second time right after the first, so records may wrap */
	/* NULL: map_create() reserves the whole file (posix_fallocate), so that no later store into the
	 * mapping can find the filesystem full (SIGBUS).  Else the bytes from offset 0 it reserves; the type
	 * reserves the rest itself with map_reserve() before it first touches it (lpm: nodes as handed out) */
	uint64_t (*reserved_head)(const struct map_hdr *h);
};

/* Creates a map: -ENOMEM when the instance's cap (env->mem_max) would be exceeded, posix_fallocate()'s
 * errno (-ENOSPC, -ENOMEM, ...) when its memory cannot be reserved; a line in log either way. */
int map_create(const union bpf_attr *attr, const struct map_env *env, struct map **out, struct diag *log);
void map_free(struct map *m);
/* Backs bytes [off, off + len) of the map's file with storage (a no-op where it already is); false when
 * the filesystem has no room: the caller then fails its update with -ENOMEM instead of touching it. */
bool map_reserve(struct map *m, uint64_t off, uint64_t len);

uint32_t map_type(const struct map *m);
uint32_t map_key_size(const struct map *m);
uint32_t map_value_size(const struct map *m);
uint32_t map_max_entries(const struct map *m);
uint32_t map_flags(const struct map *m);
const char *map_name(const struct map *m);
uint32_t map_nr_cpus(const struct map *m);
/* Bytes a user-space value buffer holds: value_size, or round_up(value_size, 8) * nr_cpus. */
size_t map_user_value_size(const struct map *m);
bool map_is_fd_map(const struct map *m);
bool map_is_percpu(const struct map *m);

/* The memory programs may touch (values), for the engines' pointer checks. */
void map_region(const struct map *m, void **lo, size_t *len, bool *prog_writable);
/* May programs load from the values?  false for BPF_F_WRONLY_PROG (Linux check_map_access_type()). */
bool map_prog_readable(const struct map *m);
/* BPF_PSEUDO_MAP_VALUE: address of byte `off` of the single value of an ARRAY map, or NULL. */
void *map_direct_value_addr(struct map *m, uint32_t off);
/* A plain ARRAY map's values, for a lookup inlined by the JIT: value i at base + i * stride for
 * i < max_entries; fixed for the map's life.  false for any other type. */
bool map_array_layout(const struct map *m, uint8_t **base, uint64_t *stride, uint32_t *max_entries);
/* PROG_ARRAY slot -> the program id stored there by the instance tagged `owner`, without the map's lock;
 * 0 when the slot is empty, out of range or filled by another instance (whose ids name its own
 * programs).  *word (set when the answer is not 0) is the slot's word, seq << 32 | id (array.c): while
 * the slot's word stays equal to it, the slot holds that same store. */
uint32_t map_prog_array_get(struct map *m, uint32_t index, uint64_t owner, uint64_t *word);
/* PROG_ARRAY: its max_entries slot words, for the JIT's native tail calls, which read one without the
 * map's lock and compare it with a word map_prog_array_get() gave the run.  false for any other type. */
bool map_prog_array_layout(const struct map *m, const uint64_t **words, uint32_t *max_entries);

/* A function that answers map_lookup(m, key, slot) for this map alone, for the JIT to call directly where
 * the verifier proved the map constant and key_size bytes at key readable (Linux's map_gen_lookup: the
 * helper's dispatch and argument checks go).  It is specialised to the map's type and key size, and
 * keeps the type's lookup protocol (hash.c: lockless walk, LRU reference bit, the slot's per-CPU value).
 * NULL for types without one (the helper then serves the call). */
map_lookup_fn map_direct_lookup(const struct map *m);
/* program side: slot = the execution slot ("CPU") */
void *map_lookup(struct map *m, const void *key, unsigned slot);
long map_update(struct map *m, const void *key, const void *value, uint64_t flags, unsigned slot);
long map_delete(struct map *m, const void *key);
long map_push(struct map *m, const void *value, uint64_t flags);
long map_pop(struct map *m, void *value, bool peek);
/* fd maps: the object id stored for key (0 if none), whoever stored it (user space's answer) */
uint32_t map_lookup_id(struct map *m, const void *key);
/* fd maps: what key's slot holds, id and owner tag ({0, 0} if empty) */
struct map_fd_slot map_lookup_slot(struct map *m, const void *key);

/* user-space side (bpf() commands) */
int map_sys_lookup(struct map *m, const void *key, void *value, uint64_t flags);
int map_sys_update(struct map *m, const void *key, const void *value, uint64_t flags);
int map_sys_delete(struct map *m, const void *key);
int map_sys_get_next_key(struct map *m, const void *key, void *next);
int map_sys_lookup_and_delete(struct map *m, const void *key, void *value, uint64_t flags);
int map_freeze(struct map *m);
/* fd maps: stores s under key (id 0: deletes the key; the owner tag is kept by prog arrays and maps of
 * maps) and gives what it replaced in *old ({0, 0}: nothing), in one hold of the map lock, so that
 * threads replacing one slot at once each learn a different previous occupant (whose reference the
 * caller drops once). */
int map_sys_swap_id(struct map *m, const void *key, struct map_fd_slot s, uint64_t flags, struct map_fd_slot *old);
/* fd maps: empties key's slot if it holds `expect` (id and owner where kept), whatever the
 * handle's permissions (the command layer breaking a cycle, not a user's update): 0, or -ENOENT when it
 * holds something else. */
int map_clear_id(struct map *m, const void *key, struct map_fd_slot expect);
/* Has the map's file a name (a pin, made by map_pin() here or by any process)?  Maps are made unlinked,
 * so a map nobody pinned, or whose pins are all gone, has none. */
bool map_pinned(const struct map *m);
/* Are a and b handles on the same map (its file, opened by MAP_CREATE or by OBJ_GET of a pin)? */
bool map_same_file(const struct map *a, const struct map *b);

/* The pin root (pinfs.c).  pin_root_open() creates the directory (0700) if missing and returns an fd
 * on it, or -EPERM when it is not owned by this process's euid or is writable by group or others,
 * -ELOOP when it is a symbolic link, another negative errno otherwise; each with a line in log.
 * pin_check_rel() refuses a pin path (relative to the root) that is empty, absolute, ends in '/' or has
 * an empty, '.' or '..' component (-EINVAL).  pin_openat() opens rel beneath rootfd with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or an equivalent O_NOFOLLOW walk where openat2 is
 * missing (always, with walk_only: for tests); -ELOOP when a component is a symbolic link.  `shown` is
 * the path as messages name it. */
int pin_root_open(const char *root, struct diag *log);
int pin_check_rel(const char *rel, struct diag *log, const char *shown);
int pin_openat(int rootfd, const char *rel, int flags, mode_t mode, bool walk_only, struct diag *log,
	       const char *shown);

/* pinning: rel is a path pin_check_rel() accepted, beneath the pin root rootfd.  map_pin() links the
 * map's file there (never replacing nor following anything: -EEXIST when the name exists).
 * map_open_pinned() refuses (-EPERM) a file another user owns unless env->allow_foreign_pins, and
 * charges the map to env's cap as map_create() does. */
int map_pin(struct map *m, int rootfd, const char *rel, const char *shown, struct diag *log);
int map_open_pinned(const struct map_env *env, int rootfd, const char *rel, const char *shown, struct map **out,
		    struct diag *log);
/* The map's BTF: the types of its keys and values, so that a process that opens the pin prints them as
 * `bpftool map dump` does for a map with BTF (Linux keeps btf_key_type_id/btf_value_type_id and the BTF
 * object with the map).  It lives in the map's file after the mapping -- a trailer, struct map_btf_trailer
 * and then the raw BTF -- so every pin of the map (a link to that file) carries it, and it goes with the
 * file.  No process maps it; it is read with pread().
 * map_set_btf(): sets it once, under the map lock: -EEXIST when the map has BTF already (a pinned map
 * reused), -E2BIG over MAP_BTF_MAX, -EPERM for a map in a sealed memfd (not pinnable, so nobody else
 * would read it), -errno of the write (nothing is left then).  The bytes are not parsed here.
 * map_get_btf(): the BTF's length (copied into buf when it fits in cap, snprintf-style) and the type
 * ids; -ENOENT without BTF (or one still being written), -EINVAL when the trailer is corrupt.  The
 * bytes are input from whoever can write the file: parse them as such. */
#define MAP_BTF_MAGIC 0x6674626d76667062ull /* "bpfvmbtf" */
#define MAP_BTF_MAX   (16u << 20)           /* Linux BTF_MAX_SIZE */
struct map_btf_trailer {
	uint64_t magic;
	uint32_t hdr_len;            /* sizeof(struct map_btf_trailer): the BTF follows */
	uint32_t btf_len;
	uint32_t key_type, value_type; /* BTF ids; 0: not known */
};
int map_set_btf(struct map *m, const void *btf, size_t len, uint32_t key_type, uint32_t value_type);
long map_get_btf(struct map *m, void *buf, size_t cap, uint32_t *key_type, uint32_t *value_type);
/* BTF-declared struct bpf_spin_lock inside values (the loader sets it); -EINVAL if it does not fit. */
int map_set_spin_lock_off(struct map *m, uint32_t off);

/* BTF-declared struct bpf_timer inside values (the loader sets it): -EOPNOTSUPP for map types other than
 * ARRAY, HASH and LRU_HASH (Linux map_check_btf()), -EINVAL if it does not fit, is not 8-aligned, or
 * differs from the offset a pinned map already has. */
int map_set_timer_off(struct map *m, uint32_t off);
uint32_t map_timer_off(const struct map *m);
/* A map-in-map's inner template (set by the command layer at MAP_CREATE). */
void map_inner_template(const struct map *m, uint32_t *type, uint32_t *key_size, uint32_t *value_size,
			uint32_t *max_entries, uint32_t *flags);
/* ... and where its values hold a struct bpf_spin_lock and a struct bpf_timer (UINT32_MAX: none). */
void map_inner_special(const struct map *m, uint32_t *spin_lock_off, uint32_t *timer_off);
uint32_t map_spin_lock_off(const struct map *m); /* UINT32_MAX: none */
void map_set_timer_hook(struct map *m, map_timer_free_fn fn, void *ctx);
/* Is `value` the start of a value of an element of m?  0 (and the element's key copied to `key` unless
 * NULL), -ENOENT when that element is not in use, -EINVAL when value is not the start of a value. */
int map_value_elem(struct map *m, const void *value, void *key);

/* for type files: the element owning `value` goes away or is overwritten (lock held, but for arrays): runs the timer
 * hook and zeroes the timer bytes.  No-op without a timer. */
void map_value_free_timer(struct map *m, void *value);
/* Copies bytes [from, to) of a value, leaving dst's struct bpf_timer alone (Linux copy_map_value()). */
/* Value bytes copied word by word with relaxed atomics (src NULL: zeroes): lookups and updates without the
 * lock race with each other and with programs by design (a torn value is what Linux gives without
 * BPF_F_LOCK), and atomics keep that race defined behaviour rather than a data race. */
void map_copy_racy(void *dst, const void *src, size_t len);
void map_copy_fields(const struct map *m, uint8_t *dst, const uint8_t *src, uint32_t from, uint32_t to);

/* Takes a value's struct bpf_spin_lock word (BPF_F_LOCK copies, bpf_spin_lock()) and returns 0, or an
 * error instead of spinning without bound.  A holder is a program run (which may call nothing but
 * bpf_spin_unlock while it holds it, is bounded by its budget, and releases it when it ends or faults)
 * or another BPF_F_LOCK copy, so a wait is short; but the word lives in a map another process may share,
 * and that process may have died holding it.  So after MAP_SPIN_TIMEOUT_NS of waiting: -EBUSY.
 * `cont` (may be NULL) is asked before each yield and stops the wait with false (a run whose budget ran
 * out or that was interrupted; the caller knows why).  Release with map_spin_release(). */
#define MAP_SPIN_TIMEOUT_NS 1000000000ull
int map_spin_acquire(uint32_t *w, bool (*cont)(void *), void *arg);
static inline void map_spin_release(uint32_t *w)
{
	__atomic_store_n(w, 0, __ATOMIC_RELEASE);
}

/* the lock (robust: recovers from a dead owner; waits in slices, see guard.c) */
void map_lock(struct map *m);
void map_unlock(struct map *m);

/* Surviving the shrinking of a map's file by another process (guard.c).  map_guard_add() registers a
 * mapping with the process's SIGBUS handler (installed at the first call), NULL on ENOMEM;
 * map_guard_del() before the munmap().  map_lost(): a SIGBUS in the mapping replaced it with zeros, so
 * the map's contents are gone (user-space calls answer -EIO).  map_file_shrunk(): the file is now
 * shorter than the mapping (fstat: for slow paths, such as a consumer about to sleep). */
struct map_guard;
struct map_guard *map_guard_add(void *lo, size_t len);
void map_guard_del(struct map_guard *g);
bool map_guard_lost(const struct map_guard *g);
static inline bool map_lost(const struct map *m) { return map_guard_lost(m->guard); }
bool map_file_shrunk(const struct map *m);

/* ring buffer (ringbuf.c) */
void *map_ringbuf_reserve(struct map *m, uint64_t size, uint64_t flags);
/* Commits (or discards) a reserved record and wakes a waiting consumer as Linux's bpf_ringbuf_commit():
 * BPF_RB_FORCE_WAKEUP always, BPF_RB_NO_WAKEUP never, otherwise when the consumer has caught up with
 * this record (it has seen everything before it, so it may be asleep). */
void map_ringbuf_commit(struct map *m, void *sample, bool discard, uint64_t flags);
long map_ringbuf_output(struct map *m, const void *data, uint64_t size, uint64_t flags);
uint64_t map_ringbuf_query(struct map *m, uint64_t flags);
/* consumer: calls cb for each committed record; returns records consumed or a negative errno */
int map_ringbuf_consume(struct map *m, int (*cb)(void *ctx, void *data, size_t size), void *ctx);
/* Is a committed record (or a discarded one) waiting at the consumer position?  map_wait()'s `ready`. */
bool map_ringbuf_ready(struct map *m);

/* perf event array (perf.c): one ring per index */
long map_perf_output(struct map *m, uint32_t index, const void *data, uint64_t size);
int map_perf_consume(struct map *m, void (*sample)(void *ctx, int cpu, void *data, uint32_t size),
		     void (*lost)(void *ctx, int cpu, uint64_t cnt), void *ctx);
/* Has any index an unconsumed sample or lost count?  map_wait()'s `ready`. */
bool map_perf_ready(struct map *m);

/* Blocking consumers (wait.c), across threads and processes sharing the mapping.  map_wait() sleeps
 * until map_wake() is called (or returns at once when ready(m) already holds), or until the absolute
 * CLOCK_MONOTONIC deadline (NULL: none).  Returns 0 (woken, maybe spuriously: check again), -ETIMEDOUT,
 * or another negative errno.  map_wake() is the producer's side, after it published a record: no
 * syscall unless some consumer waits.  Neither takes the map lock. */
int map_wait(struct map *m, bool (*ready)(struct map *m), const struct timespec *deadline);
void map_wake(struct map *m);

/* stack trace (stack_trace.c): stores ips under a hash-derived id */
long map_stack_store(struct map *m, const uint64_t *ips, uint32_t nr, uint64_t flags);

/* bloom filter (bloom.c) uses push/pop(peek) like Linux */

/* helpers for type files */
static inline uint32_t map_round8(uint32_t v) { return (v + 7) & ~7u; }
uint32_t map_hash(const void *key, uint32_t len, uint32_t seed);
/* map_hash() itself, for callers that know len at compile time (hash.c's lookups by key size): the loop
 * unrolls into a few multiplies.  The hash is part of the shared layout: every process must agree. */
static inline uint32_t map_hash_inline(const void *key, uint32_t len, uint32_t seed)
{
	/* A word at a time, each folded in with a multiply (the odd constant of Fibonacci hashing), then one
	 * round of splitmix64's finalizer, so that the low bits a bucket index takes depend on every key bit:
	 * a 4- or 8-byte key costs two multiplies, not a byte-wise loop's one per byte. */
	const uint8_t *p = key;
	uint64_t h = ((uint64_t)seed << 32 | len) * 0x9e3779b97f4a7c15ull;
	uint32_t i = 0;
	UNROLL(4)
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	if (i < len) {
		uint64_t w = 0;
		if (len - i == 4) {
			uint32_t v;
			memcpy(&v, p + i, 4);
			w = v;
		} else {
			memcpy(&w, p + i, len - i);
		}
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

#define MAP_OPS(name_) extern const struct map_ops name_;
#define MAP(type_, ops_) MAP_OPS(ops_)
#include "maps.def"
#undef MAP
#undef MAP_OPS

#endif
