/* devmap.c -- the redirect maps: DEVMAP, DEVMAP_HASH (kernel/bpf/devmap.c), CPUMAP (cpumap.c) and
 * XSKMAP (net/xdp/xskmap.c).  bpfvm has no net devices, CPUs queues or AF_XDP sockets behind them: an
 * entry records the target (ifindex, queue size, socket value) so bpf_redirect_map() can report where a
 * packet would go.  Layout: max_entries slots of { u32 key, u32 used, value rounded to 8 }; DEVMAP,
 * CPUMAP and XSKMAP index slots by key, DEVMAP_HASH searches them (device maps are small). */
#include <errno.h>
#include <string.h>

#include "maps.h"

struct slot {
	uint32_t key;
	uint32_t used;
	uint8_t value[];
};

static uint64_t stride(uint32_t value_size)
{
	return 8 + (uint64_t)map_round8(value_size);
}

static struct slot *slot_at(struct map *m, uint32_t i)
{
	return (struct slot *)(void *)(m->base + m->g.off_a + (uint64_t)i * stride(m->g.value_size));
}

static int check_redirect(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	uint32_t vs_ok1 = 4, vs_ok2 = 8; /* u32, or struct bpf_devmap_val / bpf_cpumap_val */
	const char *what = a->map_type == BPF_MAP_TYPE_CPUMAP ? "cpumap" :
			   a->map_type == BPF_MAP_TYPE_XSKMAP ? "xskmap" : "devmap";

	if (a->map_type == BPF_MAP_TYPE_XSKMAP)
		vs_ok2 = 4;
	if (a->key_size != 4 || (a->value_size != vs_ok1 && a->value_size != vs_ok2) || a->max_entries == 0) {
		diag_printf(log, "MAP_CREATE: %s needs key_size 4, value_size %u or %u, max_entries > 0 (got %u/%u/%u)",
			    what, vs_ok1, vs_ok2, a->key_size, a->value_size, a->max_entries);
		return -EINVAL;
	}
	if (a->map_type == BPF_MAP_TYPE_CPUMAP && a->max_entries > nr_cpus && a->max_entries > 8192) {
		diag_printf(log, "MAP_CREATE: cpumap max_entries %u above NR_CPUS", a->max_entries);
		return -E2BIG;
	}
	if (a->max_entries > (1u << 20)) {
		diag_printf(log, "MAP_CREATE: %s max_entries %u too large", what, a->max_entries);
		return -E2BIG;
	}
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for a %s", a->map_flags, what);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_a = 0;
	h->values_off = 0;
	h->values_len = (uint64_t)h->max_entries * stride(h->value_size);
	return h->values_len;
}

static bool hashed(const struct map *m)
{
	return m->g.type == BPF_MAP_TYPE_DEVMAP_HASH;
}

/* The slot of key: for indexed maps the key's own (NULL out of range), for DEVMAP_HASH the used slot
 * holding it, or with `free_ok` the first unused one. */
static struct slot *find(struct map *m, uint32_t key, bool free_ok)
{
	if (!hashed(m))
		return key < m->g.max_entries ? slot_at(m, key) : NULL;
	struct slot *empty = NULL;
	for (uint32_t i = 0; i < m->g.max_entries; i++) {
		struct slot *s = slot_at(m, i);
		if (s->used && s->key == key)
			return s;
		if (!s->used && !empty)
			empty = s;
	}
	return free_ok ? empty : NULL;
}

static void *lookup(struct map *m, const void *key)
{
	uint32_t k;
	memcpy(&k, key, 4);
	struct slot *s = find(m, k, false);
	return s && s->used ? s->value : NULL;
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	uint32_t k, v;
	(void)slot;
	memcpy(&k, key, 4);
	memcpy(&v, value, 4);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (m->g.type == BPF_MAP_TYPE_CPUMAP && k >= m->g.max_entries)
		return -E2BIG;
	struct slot *s = find(m, k, false);
	if (!hashed(m)) {
		if (!s)
			return -E2BIG;
		/* DEVMAP / CPUMAP are arrays: BPF_NOEXIST always fails, as for ARRAY */
		if (flags == BPF_NOEXIST && m->g.type != BPF_MAP_TYPE_XSKMAP)
			return -EEXIST;
		if (flags == BPF_NOEXIST && s->used)
			return -EEXIST;
		if (flags == BPF_EXIST && m->g.type == BPF_MAP_TYPE_XSKMAP && !s->used)
			return -ENOENT;
	} else {
		if (s && flags == BPF_NOEXIST)
			return -EEXIST;
		if (!s && flags == BPF_EXIST)
			return -ENOENT;
		if (!s)
			s = find(m, k, true);
		if (!s)
			return -E2BIG;
	}
	/* ifindex 0 / qsize 0 clears the entry (a program fd with it is invalid) */
	if (v == 0 && m->g.type != BPF_MAP_TYPE_XSKMAP) {
		if (m->g.value_size == 8) {
			uint32_t prog;
			memcpy(&prog, (const uint8_t *)value + 4, 4);
			if (prog && (int32_t)prog > 0)
				return -EINVAL;
		}
		if (hashed(m))
			return -EINVAL; /* dev_map_hash_update_elem(): needs a device */
		s->used = 0;
		memset(s->value, 0, m->g.value_size);
		return 0;
	}
	s->key = k;
	memcpy(s->value, value, m->g.value_size);
	s->used = 1;
	return 0;
}

static long delete(struct map *m, const void *key)
{
	uint32_t k;
	memcpy(&k, key, 4);
	if (!hashed(m) && k >= m->g.max_entries)
		return -EINVAL;
	struct slot *s = find(m, k, false);
	if (!s || !s->used)
		return hashed(m) ? -ENOENT : 0;
	s->used = 0;
	memset(s->value, 0, m->g.value_size);
	return 0;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t k = 0;
	if (key)
		memcpy(&k, key, 4);
	if (!hashed(m)) {
		/* array semantics, as dev_map_get_next_key() */
		uint32_t n = (!key || k >= m->g.max_entries) ? 0 : k + 1;
		if (key && k < m->g.max_entries && k == m->g.max_entries - 1)
			return -ENOENT;
		memcpy(next, &n, 4);
		return 0;
	}
	/* Only a slot find() would answer for its key (the first used one holding it) is handed out, so
	 * iteration moves forward even when scribbled memory holds one key twice. */
	struct slot *at = key ? find(m, k, false) : NULL;
	uint32_t start = at ? (uint32_t)(((uint8_t *)at - (uint8_t *)slot_at(m, 0)) / stride(m->g.value_size)) + 1 : 0;
	for (uint32_t i = start; i < m->g.max_entries; i++) {
		struct slot *s = slot_at(m, i);
		uint32_t sk = s->key;
		if (s->used && find(m, sk, false) == s) {
			memcpy(next, &sk, 4);
			return 0;
		}
	}
	return -ENOENT;
}

const struct map_ops devmap_ops = {
	.check = check_redirect, .layout = layout, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key,
};
const struct map_ops devmap_hash_ops = {
	.check = check_redirect, .layout = layout, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key,
};
const struct map_ops cpumap_ops = {
	.check = check_redirect, .layout = layout, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key,
};
const struct map_ops xskmap_ops = {
	.check = check_redirect, .layout = layout, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key,
};
