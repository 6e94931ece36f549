/* array.c -- ARRAY, PERCPU_ARRAY and the fd arrays (PROG_ARRAY, ARRAY_OF_MAPS): max_entries values in
 * one region, key = u32 index (Linux kernel/bpf/arraymap.c).  The fd arrays' slots carry more than an
 * id: see "PROG_ARRAY and ARRAY_OF_MAPS" below. */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "maps.h"

static uint64_t stride(uint32_t value_size, uint32_t nr_cpus, bool percpu)
{
	return percpu ? (uint64_t)map_round8(value_size) * nr_cpus : map_round8(value_size);
}

/* this process's copy of the constants: the header's may have been scribbled on since */
static uint64_t mstride(const struct map *m) { return stride(m->g.value_size, m->g.nr_cpus, m->ops->percpu); }

static int check_common(const union bpf_attr *a, bool percpu, bool fd, struct diag *log)
{
	if (a->key_size != 4 || a->value_size == 0 || a->max_entries == 0) {
		diag_printf(log, "MAP_CREATE: array needs key_size 4, value_size > 0, max_entries > 0 (got %u/%u/%u)",
			    a->key_size, a->value_size, a->max_entries);
		return -EINVAL;
	}
	if (fd && a->value_size != 4) {
		diag_printf(log, "MAP_CREATE: fd array needs value_size 4, got %u", a->value_size);
		return -EINVAL;
	}
	if (percpu && a->value_size > 32768) {
		diag_printf(log, "MAP_CREATE: per-CPU value_size %u above 32768", a->value_size);
		return -E2BIG;
	}
	if (a->value_size > (1u << 28)) {
		diag_printf(log, "MAP_CREATE: value_size %u too large", a->value_size);
		return -E2BIG;
	}
	/* Linux array_map_alloc_check(): BPF_F_MMAPABLE and BPF_F_INNER_MAP are for ARRAY alone,
	 * BPF_F_PRESERVE_ELEMS for perf event arrays alone (perf.c) */
	if ((a->map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP)) && (percpu || fd)) {
		diag_printf(log, "MAP_CREATE: BPF_F_MMAPABLE and BPF_F_INNER_MAP only for ARRAY");
		return -EINVAL;
	}
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG |
			   BPF_F_WRONLY_PROG | BPF_F_INNER_MAP;
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for an array", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static int check_array(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	return check_common(a, false, false, log);
}

static int check_percpu(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	return check_common(a, true, false, log);
}

static int check_fd(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	/* the template map (inner_map_fd) is resolved and checked by sys_map.c */
	return check_common(a, false, true, log);
}

static uint64_t layout_plain(struct map_hdr *h)
{
	h->values_off = 0;
	h->values_len = (uint64_t)h->max_entries * stride(h->value_size, h->nr_cpus, false);
	return h->values_len;
}

static uint64_t layout_percpu(struct map_hdr *h)
{
	h->values_off = 0;
	h->values_len = (uint64_t)h->max_entries * stride(h->value_size, h->nr_cpus, true);
	return h->values_len;
}

static void *lookup(struct map *m, const void *key)
{
	uint32_t idx;
	memcpy(&idx, key, 4);
	if (idx >= m->g.max_entries)
		return NULL;
	return m->base + m->g.values_off + idx * mstride(m);
}

/* Copy with the value's spin lock held (BPF_F_LOCK), or plainly.  -EBUSY: the lock was not released in
 * time (map_spin_acquire()), nothing copied. */
static int copy_value(struct map *m, void *dst, const void *src, uint64_t flags)
{
	uint32_t sl = m->g.spin_lock_off, vs = m->g.value_size;
	if (sl == UINT32_MAX) {
		map_copy_fields(m, dst, src, 0, vs);
		return 0;
	}
	uint32_t *lockw = (uint32_t *)((uint8_t *)dst + sl);
	if (flags & BPF_F_LOCK) {
		int err = map_spin_acquire(lockw, NULL, NULL);
		if (err)
			return err;
	}
	/* never overwrite the lock word itself (nor the timer) */
	map_copy_fields(m, dst, src, 0, sl);
	map_copy_fields(m, dst, src, sl + 4, vs);
	if (flags & BPF_F_LOCK)
		map_spin_release(lockw);
	return 0;
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	uint32_t idx;
	memcpy(&idx, key, 4);
	if ((flags & 3) > BPF_EXIST)
		return -EINVAL;
	if (idx >= m->g.max_entries)
		return -E2BIG;
	if ((flags & 3) == BPF_NOEXIST)
		return -EEXIST;
	uint8_t *v = m->base + m->g.values_off + idx * mstride(m);
	if (!m->ops->percpu) {
		int err = copy_value(m, v, value, flags);
		if (!err)
			map_value_free_timer(m, v); /* Linux array_map_update_elem(): bpf_obj_free_fields() */
		return err;
	}
	uint32_t rs = map_round8(m->g.value_size);
	if (slot == MAP_ALL_CPUS) {
		/* whole 8-byte slots, padding included, as Linux's copy_map_value_long() */
		map_copy_racy(v, value, (size_t)rs * m->g.nr_cpus);
	} else {
		map_copy_racy(v + slot * rs, value, m->g.value_size);
	}
	return 0;
}

static int value_elem(struct map *m, const void *value, void *key)
{
	uint64_t off = (uint64_t)((const uint8_t *)value - (m->base + m->g.values_off));
	uint64_t st = mstride(m);
	if (off % st || off / st >= m->g.max_entries)
		return -EINVAL;
	uint32_t idx = (uint32_t)(off / st);
	if (key)
		memcpy(key, &idx, 4);
	return 0;
}

/* ---- PROG_ARRAY and ARRAY_OF_MAPS -------------------------------------------------------------------
 * A slot names a program (or an inner map) by its object id, and an id names an object only in the
 * instance that stored it: another instance sharing the array through a pin (in this process or another)
 * numbers its own objects from 1 too.  So each slot also keeps the tag of the instance that filled it (its
 * random 64-bit bpfvm tag), and a tail call takes only a slot its own instance filled
 * (map_prog_array_get()), as a program's lookup in a map of maps does (map_lookup_slot(), under the lock).
 * Two regions of max_entries u64 each:
 *   off_a: the slot's word, seq << 32 | id; id 0: empty; seq counts the slot's writes (+2 each) and is
 *          odd while one is under way;
 *   off_b: the filler's tag (0 when empty).
 * Writers hold the map lock.  Tail calls read without it, as a seqlock (the word, the tag, the word
 * again: equal and even), so that a racing update never pairs an id with another writer's tag.  The
 * JIT's native tail call compares the word alone with the one its run resolved before: an equal word is
 * the same write (any write moves seq; it would take 2^31 of them to bring it back), so the same tag. */
static uint64_t *pa_words(const struct map *m) { return (uint64_t *)(void *)(m->base + m->g.off_a); }
static uint64_t *pa_tags(const struct map *m) { return (uint64_t *)(void *)(m->base + m->g.off_b); }

static uint64_t layout_prog(struct map_hdr *h)
{
	/* ids are not program-visible memory */
	h->off_a = 0;
	h->off_b = (uint64_t)h->max_entries * 8;
	h->values_off = 0;
	h->values_len = 0;
	return (uint64_t)h->max_entries * 16;
}

static bool seq_busy(uint64_t w) { return (w >> 32) & 1; }

/* lock held: no write is under way (recover_prog() finished any a dead writer left) */
static int slot_get_prog(struct map *m, const void *key, struct map_fd_slot *out)
{
	uint32_t idx;
	memcpy(&idx, key, 4);
	*out = (struct map_fd_slot){ 0, 0 };
	if (idx >= m->g.max_entries)
		return -E2BIG;
	uint64_t w = __atomic_load_n(&pa_words(m)[idx], __ATOMIC_RELAXED);
	out->id = (uint32_t)w;
	if (!out->id)
		return -ENOENT;
	out->owner = __atomic_load_n(&pa_tags(m)[idx], __ATOMIC_RELAXED);
	return 0;
}

/* lock held.  Odd seq (readers wait), the tag, then the id with the even seq (Boehm, "Can seqlocks get
 * along with programming language memory models?", 2012: the release fence orders the tag after the
 * odd word). */
static long slot_set_prog(struct map *m, const void *key, const struct map_fd_slot *s, uint64_t flags)
{
	uint32_t idx;
	memcpy(&idx, key, 4);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (idx >= m->g.max_entries)
		return -E2BIG;
	uint64_t *w = &pa_words(m)[idx], cur = __atomic_load_n(w, __ATOMIC_RELAXED);
	if (!s->id && !(uint32_t)cur)
		return -ENOENT;
	uint32_t seq = (uint32_t)(cur >> 32) | 1;
	__atomic_store_n(w, (uint64_t)seq << 32, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&pa_tags(m)[idx], s->id ? s->owner : 0, __ATOMIC_RELAXED);
	__atomic_store_n(w, (uint64_t)(seq + 1) << 32 | s->id, __ATOMIC_RELEASE);
	return 0;
}

/* A writer died between its two words (map_lock() saw EOWNERDEAD): the slot it left odd becomes empty
 * (its process and the references it held are gone; readers stop waiting on it). */
static void recover_prog(struct map *m)
{
	for (uint32_t i = 0; i < m->g.max_entries; i++) {
		uint64_t *w = &pa_words(m)[i], cur = __atomic_load_n(w, __ATOMIC_RELAXED);
		if (seq_busy(cur)) {
			__atomic_store_n(&pa_tags(m)[i], 0, __ATOMIC_RELAXED);
			__atomic_store_n(w, (uint64_t)((uint32_t)(cur >> 32) + 1) << 32, __ATOMIC_RELEASE);
		}
	}
}

uint32_t map_prog_array_get(struct map *m, uint32_t index, uint64_t owner, uint64_t *word)
{
	if (m->g.type != BPF_MAP_TYPE_PROG_ARRAY || index >= m->g.max_entries)
		return 0;
	const uint64_t *w = &pa_words(m)[index], *t = &pa_tags(m)[index];
	/* A write is three stores under the lock: wait for it, spinning, then yielding to a writer that was
	 * preempted mid-way.  A writer that died there leaves the slot odd until the next locker repairs it
	 * (recover_prog()); until then the slot reads as empty, after this bounded wait. */
	for (unsigned n = 0; n < 4096; n++) {
		uint64_t a = __atomic_load_n(w, __ATOMIC_ACQUIRE);
		if (!seq_busy(a)) {
			uint64_t tag = __atomic_load_n(t, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(w, __ATOMIC_RELAXED) == a) {
				if (!(uint32_t)a || tag != owner)
					return 0;
				*word = a;
				return (uint32_t)a;
			}
		}
		if (n >= 64)
			sched_yield();
	}
	return 0;
}

bool map_prog_array_layout(const struct map *m, const uint64_t **words, uint32_t *max_entries)
{
	if (m->g.type != BPF_MAP_TYPE_PROG_ARRAY)
		return false;
	*words = pa_words(m);
	*max_entries = m->g.max_entries;
	return true;
}

static long delete_plain(struct map *m, const void *key)
{
	(void)m, (void)key;
	return -EINVAL;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t idx = 0, n;
	if (key)
		memcpy(&idx, key, 4);
	if (!key || idx >= m->g.max_entries) {
		n = 0;
	} else {
		if (idx == m->g.max_entries - 1)
			return -ENOENT;
		n = idx + 1;
	}
	memcpy(next, &n, 4);
	return 0;
}

const struct map_ops array_ops = {
	.check = check_array, .layout = layout_plain, .lookup = lookup, .update = update,
	.delete = delete_plain, .next_key = next_key, .value_elem = value_elem, .lockless_lookup = true,
	.fixed_elems = true,
};
const struct map_ops percpu_array_ops = {
	.check = check_percpu, .layout = layout_percpu, .lookup = lookup, .update = update,
	.delete = delete_plain, .next_key = next_key, .value_elem = value_elem, .lockless_lookup = true, .fixed_elems = true,
	.percpu = true,
};
const struct map_ops prog_array_ops = {
	.check = check_fd, .layout = layout_prog, .slot_get = slot_get_prog, .slot_set = slot_set_prog,
	.recover = recover_prog, .next_key = next_key, .fd_values = true,
};
const struct map_ops array_of_maps_ops = {
	.check = check_fd, .layout = layout_prog, .slot_get = slot_get_prog, .slot_set = slot_set_prog,
	.recover = recover_prog, .next_key = next_key, .fd_values = true,
};
