/* hash.c -- HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS (Linux kernel/bpf/hashtab.c
 * semantics) over preallocated elements in the shared mapping.
 *
 * Layout (offsets from the mapping): off_a buckets (u32 heads), off_b one struct hmeta per element, off_c
 * keys, off_d values.  seq[0] = bucket count (power of two), seq[1]/[2] = LRU head/tail (index + 1),
 * seq[3] = hash seed.  A link is an element's index + 1, or a nulls marker (NULLS_BIT | bucket) that ends
 * the chain of that bucket (Linux hlist_nulls).  HASH_OF_MAPS: after the values (8 bytes each: the inner
 * map's id), one u64 per element, the tag of the instance that stored the id (slot_get_fd()).
 *
 * Writers (update, delete, eviction) hold the map lock.  A new element is written completely before one
 * release store links it into its bucket, and unlinked by one store before it is freed, so a writer
 * killed anywhere leaves every chain walkable; recover() rebuilds the free list, LRU list and count.
 * Lookups take no lock (as Linux's, under RCU).  Elements are reused at once, so a reader may stand on an
 * element that is freed and linked into another bucket under it: it then walks that bucket's chain to
 * that bucket's marker, sees a marker not its own and starts over.  Each element's generation (odd while
 * in use, bumped when it is taken and when it is freed) is read before its key and again after: a reader
 * that matched a key knows the element still held it, and a user-space copy of the value is checked the
 * same way.  Values updated in place can be read torn, as in Linux without BPF_F_LOCK.  LRU lookups only
 * set a reference bit; eviction gives referenced elements a second chance (Linux's ref bit).
 * Every index read from the mapping is range-checked and every walk bounded: the memory may be shared
 * with other processes, which may scribble on it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps.h"

struct hmeta {
	uint32_t next;      /* bucket chain; left alone when the element is freed (readers may stand on it) */
	uint32_t fnext;     /* free list: index + 1, 0 ends */
	uint32_t lru_prev;
	uint32_t lru_next;
	uint32_t gen;       /* odd: in use */
	uint32_t ref;       /* LRU: looked up since eviction last passed it; set without the lock */
};

#define H(m) ((m)->hdr)
#define NBUCKETS(m) ((uint32_t)(m)->g.seq0)
#define NULLS_BIT 0x80000000u /* above any index + 1 (max_entries <= 2^26) */

static uint32_t nulls(uint32_t b) { return NULLS_BIT | b; }
static uint32_t ld(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static uint32_t ld_acq(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void st(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static void st_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static bool is_lru(const struct map *m)
{
	uint32_t t = m->g.type;
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static uint64_t vstride(uint32_t value_size, uint32_t nr_cpus, bool percpu)
{
	return percpu ? (uint64_t)map_round8(value_size) * nr_cpus : map_round8(value_size);
}

static bool percpu_type(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	bool lru = a->map_type == BPF_MAP_TYPE_LRU_HASH || a->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	(void)nr_cpus;
	if (a->key_size == 0 || a->value_size == 0 || a->max_entries == 0) {
		diag_printf(log, "MAP_CREATE: hash needs key_size, value_size and max_entries > 0 (got %u/%u/%u)",
			    a->key_size, a->value_size, a->max_entries);
		return -EINVAL;
	}
	/* Linux htab_map_alloc_check(): an element (48-byte struct htab_elem + key + value) must be
	 * kmalloc-able (KMALLOC_MAX_SIZE, 4 MiB); keys above the program stack's 512 bytes are fine */
	if ((uint64_t)a->key_size + a->value_size >= (4u << 20) - 48) {
		diag_printf(log, "MAP_CREATE: key_size %u + value_size %u too large (at most 4 MiB - 49 together)",
			    a->key_size, a->value_size);
		return -E2BIG;
	}
	if (a->map_type == BPF_MAP_TYPE_HASH_OF_MAPS && a->value_size != 4) {
		diag_printf(log, "MAP_CREATE: hash of maps needs value_size 4");
		return -EINVAL;
	}
	if (percpu_type(a->map_type) && a->value_size > 32768) {
		diag_printf(log, "MAP_CREATE: per-CPU value_size %u above 32768", a->value_size);
		return -E2BIG;
	}
	if (a->max_entries > (1u << 26)) {
		diag_printf(log, "MAP_CREATE: hash too large");
		return -E2BIG;
	}
	if (lru && (a->map_flags & BPF_F_NO_PREALLOC)) {
		diag_printf(log, "MAP_CREATE: LRU maps are always preallocated: BPF_F_NO_PREALLOC not supported");
		return -ENOTSUPP;
	}
	if (!lru && (a->map_flags & BPF_F_NO_COMMON_LRU)) {
		diag_printf(log, "MAP_CREATE: BPF_F_NO_COMMON_LRU only for LRU maps");
		return -EINVAL;
	}
	uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY |
			   BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_ZERO_SEED; /* HTAB_CREATE_FLAG_MASK */
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for a hash", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	uint32_t nb = 1;
	while (nb < h->max_entries)
		nb <<= 1;
	h->seq[0] = nb;
	uint64_t off = 0;
	h->off_a = off;
	off += (uint64_t)nb * 4;
	off = (off + 7) & ~7ull;
	h->off_b = off;
	off += (uint64_t)h->max_entries * sizeof(struct hmeta);
	h->off_c = off;
	off += (uint64_t)h->max_entries * map_round8(h->key_size);
	h->off_d = off;
	off += (uint64_t)h->max_entries * vstride(h->value_size, h->nr_cpus, percpu_type(h->type));
	if (h->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		off += (uint64_t)h->max_entries * 8; /* the fillers' tags (tag_at()) */
		h->values_off = 0;
		h->values_len = 0;
	} else {
		h->values_off = h->off_d;
		h->values_len = off - h->off_d;
	}
	return off;
}

/* every size and offset from this process's copy of the constants, never the shared header */
static uint32_t *heads(struct map *m) { return (uint32_t *)(m->base + m->g.off_a); }
static struct hmeta *meta(struct map *m, uint32_t i) { return (struct hmeta *)(m->base + m->g.off_b) + i; }
/* ks: the map's key_size, a constant where a caller is specialised to it (direct_lookup()) */
static uint8_t *key_at_ks(struct map *m, uint32_t i, uint32_t ks) { return m->base + m->g.off_c + (uint64_t)i * map_round8(ks); }
static uint8_t *key_at(struct map *m, uint32_t i) { return key_at_ks(m, i, m->g.key_size); }
static uint8_t *val_at(struct map *m, uint32_t i)
{
	return m->base + m->g.off_d + (uint64_t)i * vstride(m->g.value_size, m->g.nr_cpus, m->ops->percpu);
}
/* HASH_OF_MAPS: element i's filler tag, after the max_entries 8-byte values (layout()) */
static uint64_t *tag_at(struct map *m, uint32_t i)
{
	return (uint64_t *)(void *)(m->base + m->g.off_d + (uint64_t)m->g.max_entries * 8) + i;
}
static ALWAYS_INLINE uint32_t bucket_of_ks(struct map *m, const void *key, uint32_t ks)
{
	return map_hash_inline(key, ks, m->g.seed) & (NBUCKETS(m) - 1);
}
static uint32_t bucket_of(struct map *m, const void *key)
{
	return map_hash(key, m->g.key_size, m->g.seed) & (NBUCKETS(m) - 1);
}

/* index+1 read from shared memory -> index, or UINT32_MAX for a marker, 0 or anything out of range */
static uint32_t idx_of(struct map *m, uint32_t ref)
{
	return ref && ref <= m->g.max_entries ? ref - 1 : UINT32_MAX;
}

/* Keys are stored in whole 8-byte words, padding zero, read and written with atomic word accesses so
 * that a reader racing the element's reuse reads words, not torn bytes (it then sees the generation
 * change).  Scribbled padding makes a key unequal to everything, which is all it can do. */
static uint64_t key_word(const uint8_t *key, uint32_t ks, uint32_t at)
{
	uint64_t w = 0;
	uint32_t n = ks - at;
	/* fixed-size copies compile to plain loads: a program's lookup compares a key or two per call, and a
	 * copy of variable length is a call into libc each time */
	if (n >= 8) {
		memcpy(&w, key + at, 8);
	} else if (n == 4) {
		uint32_t v;
		memcpy(&v, key + at, 4);
		w = v;
	} else {
		memcpy(&w, key + at, n);
	}
	return w;
}

/* k: a stored key; w0: key_word(key, ks, 0), which a walk reads once */
static ALWAYS_INLINE bool key_eq_at(const uint64_t *k, const void *key, uint64_t w0, uint32_t ks)
{
	if (__atomic_load_n(&k[0], __ATOMIC_RELAXED) != w0)
		return false;
	for (uint32_t at = 8; at < ks; at += 8)
		if (__atomic_load_n(&k[at / 8], __ATOMIC_RELAXED) != key_word(key, ks, at))
			return false;
	return true;
}
static bool key_eq(struct map *m, uint32_t i, const void *key)
{
	uint32_t ks = m->g.key_size;
	return key_eq_at((const uint64_t *)(void *)key_at(m, i), key, key_word(key, ks, 0), ks);
}

static void key_store(struct map *m, uint32_t i, const void *key)
{
	uint64_t *k = (uint64_t *)(void *)key_at(m, i);
	uint32_t ks = m->g.key_size;
	for (uint32_t at = 0; at < ks; at += 8)
		__atomic_store_n(&k[at / 8], key_word(key, ks, at), __ATOMIC_RELAXED);
}

static void key_load(struct map *m, uint32_t i, void *out)
{
	const uint64_t *k = (const uint64_t *)(void *)key_at(m, i);
	uint32_t ks = m->g.key_size;
	for (uint32_t at = 0; at < ks; at += 8) {
		uint64_t w = __atomic_load_n(&k[at / 8], __ATOMIC_RELAXED);
		memcpy((uint8_t *)out + at, &w, ks - at < 8 ? ks - at : 8);
	}
}

static void lru_unlink(struct map *m, uint32_t i)
{
	struct hmeta *e = meta(m, i);
	uint32_t p = idx_of(m, e->lru_prev), n = idx_of(m, e->lru_next);
	if (p != UINT32_MAX)
		meta(m, p)->lru_next = e->lru_next;
	else
		H(m)->seq[1] = e->lru_next;
	if (n != UINT32_MAX)
		meta(m, n)->lru_prev = e->lru_prev;
	else
		H(m)->seq[2] = e->lru_prev;
	e->lru_prev = e->lru_next = 0;
}

static void lru_push_front(struct map *m, uint32_t i)
{
	struct hmeta *e = meta(m, i);
	uint32_t old = idx_of(m, (uint32_t)H(m)->seq[1]);
	e->lru_prev = 0;
	e->lru_next = old == UINT32_MAX ? 0 : old + 1;
	if (old != UINT32_MAX)
		meta(m, old)->lru_prev = i + 1;
	else
		H(m)->seq[2] = i + 1;
	H(m)->seq[1] = i + 1;
}

static void init(struct map *m)
{
	uint32_t max = m->g.max_entries, nb = NBUCKETS(m);
	for (uint32_t b = 0; b < nb; b++)
		heads(m)[b] = nulls(b);
	/* free list: 0 -> 1 -> ... -> max-1 */
	for (uint32_t i = 0; i < max; i++)
		meta(m, i)->fnext = i + 1 < max ? i + 2 : 0;
	H(m)->free_head = 1;
	uint32_t seed = 0;
	if (!(m->g.flags & BPF_F_ZERO_SEED)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 7) ^ (uintptr_t)m);
	}
	H(m)->seq[3] = m->g.seed = seed;
}

/* Lock held: finds key, returns its index, the link that points at it and its position in the chain,
 * or UINT32_MAX. */
static uint32_t find(struct map *m, const void *key, uint32_t **link, uint32_t *pos)
{
	uint32_t *l = &heads(m)[bucket_of(m, key)];
	for (uint32_t steps = 0; steps <= m->g.max_entries; steps++) {
		uint32_t i = idx_of(m, ld(l));
		if (i == UINT32_MAX)
			return UINT32_MAX;
		if (key_eq(m, i, key)) {
			if (link)
				*link = l;
			if (pos)
				*pos = steps;
			return i;
		}
		l = &meta(m, i)->next;
	}
	return UINT32_MAX; /* a cycle: corrupt memory, treat as absent */
}

/* Without the lock: the element holding key and the generation it had while it did, or UINT32_MAX.
 * The walk is bounded in all (restarts included), so a scribbled table cannot keep a reader; a reader
 * would need to be overtaken that many times by the reuse of the very element it stands on to give up. */
static ALWAYS_INLINE uint32_t find_lockless_ks(struct map *m, const void *key, uint32_t ks, uint32_t *genp)
{
	/* the map's constants and the key's first word in locals: the compiler may not carry loads across
	 * the acquire loads below, and would read them again for every element */
	uint32_t max = m->g.max_entries, b = bucket_of_ks(m, key, ks);
	uint32_t *head = &heads(m)[b];
	struct hmeta *metas = meta(m, 0);
	const uint8_t *keys = key_at_ks(m, 0, ks);
	uint64_t w0 = key_word(key, ks, 0);
	uint64_t budget = 4 * (uint64_t)max + 16;
restart:
	for (uint32_t ref = ld_acq(head);; ) {
		/* idx_of(): an index + 1 in range, else a marker (or scribbles) */
		uint32_t i = ref - 1;
		if (i >= max) {
			if (ref == nulls(b) || !budget--)
				return UINT32_MAX;
			goto restart; /* another bucket's marker: we were carried off by a reused element */
		}
		if (!budget--)
			return UINT32_MAX;
		struct hmeta *e = &metas[i];
		uint32_t g = ld_acq(&e->gen);
		if ((g & 1) && key_eq_at((const uint64_t *)(const void *)(keys + (uint64_t)i * map_round8(ks)), key, w0, ks)) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (ld(&e->gen) == g) {
				*genp = g;
				return i;
			}
			goto restart; /* freed (and maybe reused) while we compared */
		}
		ref = ld_acq(&e->next);
	}
}
static uint32_t find_lockless(struct map *m, const void *key, uint32_t *genp)
{
	return find_lockless_ks(m, key, m->g.key_size, genp);
}

static void recover(struct map *m);

static ALWAYS_INLINE void touch(struct map *m, uint32_t i)
{
	/* Linux bpf_lru_node_set_ref(): a plain store, and none when the bit is set, to keep the line shared */
	if (is_lru(m) && !ld(&meta(m, i)->ref))
		st(&meta(m, i)->ref, 1);
}

static void *lookup(struct map *m, const void *key)
{
	uint32_t g, i = find_lockless(m, key, &g);
	if (i == UINT32_MAX)
		return NULL;
	touch(m, i);
	return val_at(m, i);
}

/* map_direct_lookup(): lookup() and map_lookup()'s choice of the slot's value, in one function per key
 * size class (4, 8, other) and kind (LRU or not, per-CPU or not), so that a 4- or 8-byte key's hash and
 * compare are a few inline instructions (map_hash()'s loop and key_eq()'s word loop unrolled) and the
 * type's steps are decided when the JIT picks the function, not at each call */
static ALWAYS_INLINE void *direct_lookup_ks(struct map *m, const void *key, unsigned slot, uint32_t ks, bool lru,
					    bool percpu)
{
	uint32_t g, i = find_lockless_ks(m, key, ks, &g);
	if (i == UINT32_MAX)
		return NULL;
	if (lru)
		touch(m, i);
	uint32_t rs = map_round8(m->g.value_size);
	uint8_t *v = m->base + m->g.off_d + (uint64_t)i * vstride(m->g.value_size, m->g.nr_cpus, percpu);
	if (!percpu)
		return v;
	if (NEVER(slot >= m->g.nr_cpus)) /* as map.c's slot_value() */
		return NULL;
	return v + (size_t)slot * rs;
}
#define DIRECT_LOOKUP(name_, ks_, lru_, percpu_) \
	static void *name_(struct map *m, const void *key, unsigned slot) \
	{ \
		return direct_lookup_ks(m, key, slot, ks_, lru_, percpu_); \
	}
DIRECT_LOOKUP(direct4, 4, false, false)
DIRECT_LOOKUP(direct4_lru, 4, true, false)
DIRECT_LOOKUP(direct4_pcpu, 4, false, true)
DIRECT_LOOKUP(direct4_lru_pcpu, 4, true, true)
DIRECT_LOOKUP(direct8, 8, false, false)
DIRECT_LOOKUP(direct8_lru, 8, true, false)
DIRECT_LOOKUP(direct8_pcpu, 8, false, true)
DIRECT_LOOKUP(direct8_lru_pcpu, 8, true, true)
DIRECT_LOOKUP(direct_any, m->g.key_size, false, false)
DIRECT_LOOKUP(direct_any_lru, m->g.key_size, true, false)
DIRECT_LOOKUP(direct_any_pcpu, m->g.key_size, false, true)
DIRECT_LOOKUP(direct_any_lru_pcpu, m->g.key_size, true, true)
#undef DIRECT_LOOKUP

static map_lookup_fn direct_lookup(const struct map *m)
{
	/* [key size 4, 8, other][LRU][per-CPU] */
	static const map_lookup_fn fns[3][2][2] = {
		{ { direct4, direct4_pcpu }, { direct4_lru, direct4_lru_pcpu } },
		{ { direct8, direct8_pcpu }, { direct8_lru, direct8_lru_pcpu } },
		{ { direct_any, direct_any_pcpu }, { direct_any_lru, direct_any_lru_pcpu } },
	};
	uint32_t ks = m->g.key_size;

	if (m->ops->fd_values) /* a map of maps' lookup holds the inner map: the helper's */
		return NULL;
	return fns[ks == 4 ? 0 : ks == 8 ? 1 : 2][is_lru(m)][m->ops->percpu];
}

static int read_value(struct map *m, const void *key, void *dst, uint64_t flags,
		void (*copy)(struct map *m, void *dst, const void *src, uint64_t flags))
{
	for (int tries = 0; tries < 8; tries++) {
		uint32_t g, i = find_lockless(m, key, &g);
		if (i == UINT32_MAX)
			return -ENOENT;
		copy(m, dst, val_at(m, i), flags);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (ld(&meta(m, i)->gen) == g) {
			touch(m, i);
			return 0;
		}
	}
	/* the element keeps being reused under us: copy it where writers wait */
	map_lock(m);
	uint32_t i = find(m, key, NULL, NULL);
	if (i != UINT32_MAX) {
		copy(m, dst, val_at(m, i), flags);
		touch(m, i);
	}
	map_unlock(m);
	return i != UINT32_MAX ? 0 : -ENOENT;
}

static void unlink_elem(struct map *m, uint32_t i, uint32_t *link)
{
	struct hmeta *e = meta(m, i);
	if (!m->ops->fd_values)
		map_value_free_timer(m, val_at(m, i)); /* delete and LRU eviction cancel its timer */
	st_rel(link, ld(&e->next));        /* one store: the element leaves its chain */
	st_rel(&e->gen, (ld(&e->gen) | 1) + 1); /* odd -> even: readers holding it see it go */
	if (is_lru(m))
		lru_unlink(m, i);
	if (m->ops->fd_values) { /* no stale object id left behind for a scribbled chain to bring back */
		__atomic_store_n((uint32_t *)(void *)val_at(m, i), 0, __ATOMIC_RELAXED);
		__atomic_store_n(tag_at(m, i), 0, __ATOMIC_RELAXED);
	}
	e->fnext = H(m)->free_head;
	H(m)->free_head = i + 1;
	H(m)->count--;
}

/* -EBUSY only for an element in place whose lock is not released in time (map_spin_acquire()): a fresh
 * element's lock word is ours. */
static int write_value(struct map *m, uint32_t i, const void *value, uint64_t flags, uint32_t slot, bool fresh)
{
	uint8_t *v = val_at(m, i);
	uint32_t vs = m->g.value_size, rs = map_round8(vs), sl = m->g.spin_lock_off;
	if (m->ops->percpu) {
		if (slot == MAP_ALL_CPUS) {
			/* whole 8-byte slots, padding included, as Linux's copy_map_value_long() */
			map_copy_racy(v, value, (size_t)rs * m->g.nr_cpus);
		} else {
			if (fresh)
				map_copy_racy(v, NULL, (size_t)rs * m->g.nr_cpus);
			map_copy_racy(v + slot * rs, value, vs);
		}
		return 0;
	}
	if (fresh && m->g.timer_off != UINT32_MAX) /* never the caller's bytes (check_and_init_map_value()) */
		map_copy_racy(v + m->g.timer_off, NULL, MAP_TIMER_SIZE);
	if (sl == UINT32_MAX) {
		map_copy_fields(m, v, value, 0, vs);
		return 0;
	}
	uint32_t *lockw = (uint32_t *)(v + sl);
	if (fresh)
		__atomic_store_n(lockw, 0, __ATOMIC_RELAXED);
	if (flags & BPF_F_LOCK) {
		int err = map_spin_acquire(lockw, NULL, NULL);
		if (err)
			return err;
	}
	map_copy_fields(m, v, value, 0, sl);
	map_copy_fields(m, v, value, sl + 4, vs);
	if (flags & BPF_F_LOCK)
		map_spin_release(lockw);
	return 0;
}

/* LRU, lock held: the element to evict, from the cold end, passing over (and warming) referenced ones
 * once -- Linux's second chance.  Bounded: after max_entries passes every bit is clear. */
static uint32_t lru_victim(struct map *m)
{
	for (uint32_t steps = 0; steps <= m->g.max_entries; steps++) {
		uint32_t t = idx_of(m, (uint32_t)H(m)->seq[2]);
		if (t == UINT32_MAX)
			return UINT32_MAX;
		if (!ld(&meta(m, t)->ref) || steps == m->g.max_entries)
			return t;
		st(&meta(m, t)->ref, 0);
		lru_unlink(m, t);
		lru_push_front(m, t);
	}
	return UINT32_MAX;
}

/* tag: HASH_OF_MAPS, the filler's (slot_set_fd()) */
static long update_tagged(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot,
			  uint64_t tag)
{
	uint64_t op = flags & ~(uint64_t)BPF_F_LOCK;
	uint32_t *link;

	if (op > BPF_EXIST)
		return -EINVAL;
	uint32_t i = find(m, key, &link, NULL);
	if (i != UINT32_MAX) {
		if (op == BPF_NOEXIST)
			return -EEXIST;
		/* Linux replaces the element (its timer is cancelled) unless BPF_F_LOCK updates in place */
		if (!(flags & BPF_F_LOCK))
			map_value_free_timer(m, val_at(m, i));
		if (m->ops->fd_values) {
			/* id 0 first: a writer killed before the new id leaves no old id beside the new tag */
			__atomic_store_n((uint32_t *)(void *)val_at(m, i), 0, __ATOMIC_RELAXED);
			__atomic_store_n(tag_at(m, i), tag, __ATOMIC_RELAXED);
		}
		int err = write_value(m, i, value, flags, slot, false);
		if (err)
			return err;
		if (is_lru(m)) {
			lru_unlink(m, i);
			lru_push_front(m, i);
		}
		return 0;
	}
	if (op == BPF_EXIST)
		return -ENOENT;
	uint32_t f = idx_of(m, H(m)->free_head);
	if (f == UINT32_MAX) {
		if (!is_lru(m))
			return -E2BIG;
		uint32_t victim = lru_victim(m);
		uint32_t *vlink;
		_Alignas(8) uint8_t small[512];
		uint8_t *vkey = m->g.key_size <= sizeof(small) ? small : malloc(m->g.key_size);
		if (victim == UINT32_MAX || !vkey) {
			if (vkey != small)
				free(vkey);
			return -ENOMEM;
		}
		key_load(m, victim, vkey);
		uint32_t found = find(m, vkey, &vlink, NULL);
		if (vkey != small)
			free(vkey);
		if (found != victim)
			return -ENOMEM;
		unlink_elem(m, victim, vlink);
		f = idx_of(m, H(m)->free_head);
		if (f == UINT32_MAX)
			return -ENOMEM;
	}
	struct hmeta *e = meta(m, f);
	uint32_t gen = ld(&e->gen);
	if (gen & 1) {
		/* the free list names an element in use: the memory was scribbled on.  Rebuild the free
		 * list from the chains rather than take an element readers may be looking at. */
		recover(m);
		if ((f = idx_of(m, H(m)->free_head)) == UINT32_MAX)
			return -E2BIG;
		e = meta(m, f);
		gen = ld(&e->gen);
	}
	H(m)->free_head = e->fnext;
	key_store(m, f, key);
	if (m->ops->fd_values)
		__atomic_store_n(tag_at(m, f), tag, __ATOMIC_RELAXED);
	(void)write_value(m, f, value, flags, slot, true); /* a fresh element's lock word is ours */
	st(&e->ref, 0);
	uint32_t *b = &heads(m)[bucket_of(m, key)];
	st(&e->next, ld(b));
	st_rel(&e->gen, gen + 1);
	st_rel(b, f + 1); /* one store: the element is in */
	if (is_lru(m))
		lru_push_front(m, f);
	H(m)->count++;
	return 0;
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	return update_tagged(m, key, value, flags, slot, 0);
}

static long delete(struct map *m, const void *key)
{
	uint32_t *link;
	uint32_t i = find(m, key, &link, NULL);
	if (i == UINT32_MAX)
		return -ENOENT;
	unlink_elem(m, i, link);
	return 0;
}

/* HASH_OF_MAPS (lock held): an element's id names an inner map of the instance that stored it, whose tag
 * the element keeps (array.c says why); an id 0 (a writer killed mid-overwrite) reads as absent */
static int slot_get_fd(struct map *m, const void *key, struct map_fd_slot *out)
{
	uint32_t i = find(m, key, NULL, NULL);
	*out = (struct map_fd_slot){ 0, 0 };
	if (i == UINT32_MAX || !(out->id = ld((const uint32_t *)(const void *)val_at(m, i))))
		return -ENOENT;
	out->owner = __atomic_load_n(tag_at(m, i), __ATOMIC_RELAXED);
	return 0;
}

static long slot_set_fd(struct map *m, const void *key, const struct map_fd_slot *s, uint64_t flags)
{
	if (!s->id)
		return delete(m, key);
	return update_tagged(m, key, &s->id, flags, MAP_ALL_CPUS, s->owner);
}

static int value_elem(struct map *m, const void *value, void *key)
{
	uint64_t off = (uint64_t)((const uint8_t *)value - (m->base + m->g.off_d));
	uint64_t vs = vstride(m->g.value_size, m->g.nr_cpus, m->ops->percpu);
	if (m->ops->fd_values || off % vs || off / vs >= m->g.max_entries)
		return -EINVAL;
	uint32_t i = (uint32_t)(off / vs);
	if (!(ld(&meta(m, i)->gen) & 1))
		return -ENOENT;
	if (key)
		key_load(m, i, key);
	return 0;
}

/* Lock held: the first element at or after position `from` of bucket b that an iteration may stand on:
 * one find() puts exactly there (its key hashes to b, no earlier element has it).  So every step of an
 * iteration moves forward in (bucket, position), and even a scribbled table is dumped in finite steps. */
static uint32_t iter_pick(struct map *m, uint32_t b, uint32_t from, void *key)
{
	const uint32_t *l = &heads(m)[b];
	for (uint32_t pos = 0; pos <= m->g.max_entries; pos++) {
		uint32_t i = idx_of(m, ld(l)), at;
		if (i == UINT32_MAX)
			return UINT32_MAX;
		if (pos >= from) {
			key_load(m, i, key);
			if (bucket_of(m, key) == b && find(m, key, NULL, &at) == i && at == pos)
				return i;
		}
		l = &meta(m, i)->next;
	}
	return UINT32_MAX;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t nb = NBUCKETS(m), start = 0, pos;

	if (key && find(m, key, NULL, &pos) != UINT32_MAX) {
		uint32_t b = bucket_of(m, key);
		if (iter_pick(m, b, pos + 1, next) != UINT32_MAX)
			return 0;
		start = b + 1;
	}
	/* a key that is not in the map restarts from the first (Linux) */
	for (uint32_t b = start; b < nb; b++)
		if (iter_pick(m, b, 0, next) != UINT32_MAX)
			return 0;
	return -ENOENT;
}

static void recover(struct map *m)
{
	uint32_t max = m->g.max_entries, nb = NBUCKETS(m), count = 0;
	uint8_t *seen = calloc(max, 1);

	if (!seen)
		return;
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t *l = &heads(m)[b];
		for (uint32_t steps = 0; steps <= max; steps++) {
			uint32_t i = idx_of(m, ld(l));
			if (i == UINT32_MAX || seen[i]) {
				st_rel(l, nulls(b)); /* end the chain here: a corrupt or cyclic link, or an old marker */
				break;
			}
			seen[i] = 1;
			count++;
			l = &meta(m, i)->next;
		}
	}
	H(m)->free_head = 0;
	H(m)->seq[1] = H(m)->seq[2] = 0;
	for (uint32_t i = max; i-- > 0;) {
		struct hmeta *e = meta(m, i);
		if ((ld(&e->gen) & 1) != seen[i])
			st_rel(&e->gen, ld(&e->gen) + 1);
		e->lru_prev = e->lru_next = 0;
		if (!seen[i]) {
			e->fnext = H(m)->free_head;
			H(m)->free_head = i + 1;
		}
	}
	if (is_lru(m))
		for (uint32_t i = 0; i < max; i++)
			if (seen[i])
				lru_push_front(m, i);
	H(m)->count = count;
	free(seen);
}

#define HASH_OPS(name_, percpu_, fd_) \
	const struct map_ops name_ = { .check = check, .layout = layout, .init = init, .lookup = lookup, \
				       .update = update, .delete = delete, .next_key = next_key, .recover = recover, \
				       .value_elem = value_elem, .read = read_value, .lockless_lookup = true, \
				       .direct_lookup = direct_lookup, \
				       .percpu = percpu_, .fd_values = fd_ };
HASH_OPS(hash_ops, false, false)
HASH_OPS(percpu_hash_ops, true, false)
HASH_OPS(lru_hash_ops, false, false)
HASH_OPS(lru_percpu_hash_ops, true, false)
/* as HASH_OPS(), plus the slots' filler tags (slot_get_fd()), through which map.c reads and writes ids */
const struct map_ops hash_of_maps_ops = {
	.check = check, .layout = layout, .init = init, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key, .recover = recover, .value_elem = value_elem, .read = read_value,
	.lockless_lookup = true, .direct_lookup = direct_lookup, .slot_get = slot_get_fd, .slot_set = slot_set_fd,
	.fd_values = true,
};
