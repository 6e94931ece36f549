/* hash.c -- HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH and HASH_OF_MAPS (Linux kernel/bpf/hashtab.c
 * semantics) over preallocated elements in the shared mapping.
 *
 * Layout (offsets from the mapping): off_a buckets (u32, element index + 1, 0 ends a chain), off_b one
 * struct hmeta per element, off_c keys, off_d values.  seq[0] = bucket count (power of two), seq[1]/[2]
 * = LRU head/tail (index + 1), seq[3] = hash seed.  A new element is written completely before one
 * 4-byte store links it into its bucket, and unlinked by one store before it is freed, so a writer
 * killed anywhere leaves every chain walkable; recover() rebuilds the free list, LRU list and count.
 * Every index read from the mapping is range-checked: the memory may be shared with other processes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps.h"

struct hmeta {
	uint32_t next;      /* bucket chain, or free list */
	uint32_t lru_prev;
	uint32_t lru_next;
	uint32_t used;
};

#define H(m) ((m)->hdr)
#define NBUCKETS(m) ((uint32_t)H(m)->seq[0])

static bool is_lru(const struct map *m)
{
	uint32_t t = H(m)->type;
	return t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static uint64_t vstride(const struct map_hdr *h, bool percpu)
{
	return percpu ? (uint64_t)map_round8(h->value_size) * h->nr_cpus : map_round8(h->value_size);
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
	if (a->key_size > 512) {
		diag_printf(log, "MAP_CREATE: key_size %u above 512", a->key_size);
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
	if (a->value_size > (1u << 28) || a->max_entries > (1u << 26)) {
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
			   BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_ZERO_SEED | BPF_F_INNER_MAP;
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
	off += (uint64_t)h->max_entries * vstride(h, percpu_type(h->type));
	if (h->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		h->values_off = 0;
		h->values_len = 0;
	} else {
		h->values_off = h->off_d;
		h->values_len = off - h->off_d;
	}
	return off;
}

static struct hmeta *meta(struct map *m, uint32_t i) { return (struct hmeta *)(m->base + H(m)->off_b) + i; }
static uint8_t *key_at(struct map *m, uint32_t i) { return m->base + H(m)->off_c + (uint64_t)i * map_round8(H(m)->key_size); }
static uint8_t *val_at(struct map *m, uint32_t i) { return m->base + H(m)->off_d + (uint64_t)i * vstride(H(m), m->ops->percpu); }
static uint32_t *bucket(struct map *m, const void *key)
{
	uint32_t h = map_hash(key, H(m)->key_size, (uint32_t)H(m)->seq[3]);
	return (uint32_t *)(m->base + H(m)->off_a) + (h & (NBUCKETS(m) - 1));
}

/* index+1 read from shared memory -> index, or UINT32_MAX when it is out of range (corrupt) */
static uint32_t idx_of(struct map *m, uint32_t ref)
{
	return ref && ref <= H(m)->max_entries ? ref - 1 : UINT32_MAX;
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
	uint32_t max = H(m)->max_entries;
	/* free list: 0 -> 1 -> ... -> max-1 */
	for (uint32_t i = 0; i < max; i++)
		meta(m, i)->next = i + 1 < max ? i + 2 : 0;
	H(m)->free_head = 1;
	uint32_t seed = 0;
	if (!(H(m)->flags & BPF_F_ZERO_SEED)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 7) ^ (uintptr_t)m);
	}
	H(m)->seq[3] = seed;
}

/* Finds key: returns its index (and the link that points at it), or UINT32_MAX. */
static uint32_t find(struct map *m, const void *key, uint32_t **link)
{
	uint32_t *l = bucket(m, key);
	for (uint32_t steps = 0; steps <= H(m)->max_entries; steps++) {
		uint32_t i = idx_of(m, *l);
		if (i == UINT32_MAX)
			return UINT32_MAX;
		if (!memcmp(key_at(m, i), key, H(m)->key_size)) {
			if (link)
				*link = l;
			return i;
		}
		l = &meta(m, i)->next;
	}
	return UINT32_MAX; /* a cycle: corrupt memory, treat as absent */
}

static void *lookup(struct map *m, const void *key)
{
	uint32_t i = find(m, key, NULL);
	if (i == UINT32_MAX)
		return NULL;
	if (is_lru(m)) {
		lru_unlink(m, i);
		lru_push_front(m, i);
	}
	return val_at(m, i);
}

static void unlink_elem(struct map *m, uint32_t i, uint32_t *link)
{
	if (!m->ops->fd_values)
		map_value_free_timer(m, val_at(m, i)); /* delete and LRU eviction cancel its timer */
	*link = meta(m, i)->next;          /* one store: the element leaves its chain */
	meta(m, i)->used = 0;
	if (is_lru(m))
		lru_unlink(m, i);
	meta(m, i)->next = H(m)->free_head;
	H(m)->free_head = i + 1;
	H(m)->count--;
}

static void write_value(struct map *m, uint32_t i, const void *value, uint64_t flags, uint32_t slot, bool fresh)
{
	uint8_t *v = val_at(m, i);
	uint32_t vs = H(m)->value_size, rs = map_round8(vs), sl = H(m)->spin_lock_off;
	if (m->ops->percpu) {
		if (slot == MAP_ALL_CPUS) {
			/* whole 8-byte slots, padding included, as Linux's copy_map_value_long() */
			memcpy(v, value, (size_t)rs * H(m)->nr_cpus);
		} else {
			if (fresh)
				memset(v, 0, (size_t)rs * H(m)->nr_cpus);
			memcpy(v + slot * rs, value, vs);
		}
		return;
	}
	if (fresh && H(m)->timer_off != UINT32_MAX) /* never the caller's bytes (check_and_init_map_value()) */
		memset(v + H(m)->timer_off, 0, MAP_TIMER_SIZE);
	if (sl == UINT32_MAX) {
		map_copy_fields(m, v, value, 0, vs);
		return;
	}
	uint32_t *lockw = (uint32_t *)(v + sl);
	if (fresh)
		*lockw = 0;
	if (flags & BPF_F_LOCK) {
		uint32_t zero = 0;
		while (!__atomic_compare_exchange_n(lockw, &zero, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			zero = 0;
	}
	map_copy_fields(m, v, value, 0, sl);
	map_copy_fields(m, v, value, sl + 4, vs);
	if (flags & BPF_F_LOCK)
		__atomic_store_n(lockw, 0, __ATOMIC_RELEASE);
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	uint64_t op = flags & ~(uint64_t)BPF_F_LOCK;
	uint32_t *link;

	if (op > BPF_EXIST)
		return -EINVAL;
	uint32_t i = find(m, key, &link);
	if (i != UINT32_MAX) {
		if (op == BPF_NOEXIST)
			return -EEXIST;
		/* Linux replaces the element (its timer is cancelled) unless BPF_F_LOCK updates in place */
		if (!(flags & BPF_F_LOCK))
			map_value_free_timer(m, val_at(m, i));
		write_value(m, i, value, flags, slot, false);
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
		/* evict the least recently used element */
		uint32_t victim = idx_of(m, (uint32_t)H(m)->seq[2]);
		uint32_t *vlink;
		if (victim == UINT32_MAX || find(m, key_at(m, victim), &vlink) != victim)
			return -ENOMEM;
		unlink_elem(m, victim, vlink);
		f = idx_of(m, H(m)->free_head);
		if (f == UINT32_MAX)
			return -ENOMEM;
	}
	H(m)->free_head = meta(m, f)->next;
	memcpy(key_at(m, f), key, H(m)->key_size);
	write_value(m, f, value, flags, slot, true);
	uint32_t *b = bucket(m, key);
	meta(m, f)->next = *b;
	meta(m, f)->used = 1;
	__atomic_store_n(b, f + 1, __ATOMIC_RELEASE); /* one store: the element is in */
	if (is_lru(m))
		lru_push_front(m, f);
	H(m)->count++;
	return 0;
}

static long delete(struct map *m, const void *key)
{
	uint32_t *link;
	uint32_t i = find(m, key, &link);
	if (i == UINT32_MAX)
		return -ENOENT;
	unlink_elem(m, i, link);
	return 0;
}

static int value_elem(struct map *m, const void *value, void *key)
{
	uint64_t off = (uint64_t)((const uint8_t *)value - (m->base + H(m)->off_d));
	uint64_t st = vstride(H(m), m->ops->percpu);
	if (m->ops->fd_values || off % st || off / st >= H(m)->max_entries)
		return -EINVAL;
	uint32_t i = (uint32_t)(off / st);
	if (!meta(m, i)->used)
		return -ENOENT;
	if (key)
		memcpy(key, key_at(m, i), H(m)->key_size);
	return 0;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t nb = NBUCKETS(m), start = 0;
	uint32_t *buckets = (uint32_t *)(m->base + H(m)->off_a);

	if (key) {
		uint32_t i = find(m, key, NULL);
		if (i != UINT32_MAX) {
			uint32_t n = idx_of(m, meta(m, i)->next);
			if (n != UINT32_MAX) {
				memcpy(next, key_at(m, n), H(m)->key_size);
				return 0;
			}
			start = (uint32_t)(bucket(m, key) - buckets) + 1;
		}
		/* a key that is not in the map restarts from the first (Linux) */
	}
	for (uint32_t b = start; b < nb; b++) {
		uint32_t i = idx_of(m, buckets[b]);
		if (i != UINT32_MAX) {
			memcpy(next, key_at(m, i), H(m)->key_size);
			return 0;
		}
	}
	return -ENOENT;
}

static void recover(struct map *m)
{
	uint32_t max = H(m)->max_entries, nb = NBUCKETS(m), count = 0;
	uint32_t *buckets = (uint32_t *)(m->base + H(m)->off_a);
	uint8_t *seen = calloc(max, 1);

	if (!seen)
		return;
	for (uint32_t b = 0; b < nb; b++) {
		uint32_t *l = &buckets[b];
		for (uint32_t steps = 0; steps <= max; steps++) {
			uint32_t i = idx_of(m, *l);
			if (i == UINT32_MAX || seen[i]) {
				*l = 0; /* cut a corrupt or cyclic chain */
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
		meta(m, i)->used = seen[i];
		meta(m, i)->lru_prev = meta(m, i)->lru_next = 0;
		if (!seen[i]) {
			meta(m, i)->next = H(m)->free_head;
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
				       .value_elem = value_elem, \
				       .percpu = percpu_, .fd_values = fd_ };
HASH_OPS(hash_ops, false, false)
HASH_OPS(percpu_hash_ops, true, false)
HASH_OPS(lru_hash_ops, false, false)
HASH_OPS(lru_percpu_hash_ops, true, false)
HASH_OPS(hash_of_maps_ops, false, true)
