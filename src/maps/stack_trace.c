/* stack_trace.c -- STACK_TRACE: stack id -> array of u64 instruction pointers (Linux stackmap.c rules).
 * In user space the stack is the host's (what the hook's caller was doing), captured by the helper;
 * this file only stores and looks up.  Each bucket: u32 nr, u32 pad, then value_size bytes of ips. */
#include <errno.h>
#include <string.h>

#include "maps.h"

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	if (a->key_size != 4 || a->value_size < 8 || a->value_size % 8 || a->value_size > 8 * 127 ||
	    a->max_entries == 0 || a->max_entries > (1u << 24)) {
		diag_printf(log, "MAP_CREATE: stack trace needs key_size 4, value_size a multiple of 8 up to 1016");
		return -EINVAL;
	}
	if (a->map_flags & ~(uint32_t)(BPF_F_NUMA_NODE | BPF_F_STACK_BUILD_ID | BPF_F_RDONLY | BPF_F_WRONLY)) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for a stack trace map", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t stride(uint32_t value_size) { return 8 + (uint64_t)value_size; }

static uint64_t pow2_at_least(uint32_t n)
{
	uint64_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_a = 0;
	h->values_off = 0;
	h->values_len = 0;
	return (uint64_t)h->max_entries * stride(h->value_size);
}

static uint8_t *bkt(struct map *m, uint32_t id) { return m->base + m->g.off_a + (uint64_t)id * stride(m->g.value_size); }

static void *lookup(struct map *m, const void *key)
{
	uint32_t id, nr;
	memcpy(&id, key, 4);
	if (id >= m->g.max_entries)
		return NULL;
	memcpy(&nr, bkt(m, id), 4);
	return nr ? bkt(m, id) + 8 : NULL;
}

static long delete(struct map *m, const void *key)
{
	uint32_t id, nr;
	memcpy(&id, key, 4);
	if (id >= m->g.max_entries) /* Linux has roundup_pow_of_two(max_entries) buckets, the rest empty */
		return id >= pow2_at_least(m->g.max_entries) ? -E2BIG : -ENOENT;
	memcpy(&nr, bkt(m, id), 4);
	if (!nr)
		return -ENOENT;
	memset(bkt(m, id), 0, stride(m->g.value_size));
	return 0;
}

/* Stacks are only stored by programs (bpf_get_stackid()): stack_map_update_elem() is EINVAL. */
static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	(void)m, (void)key, (void)value, (void)flags, (void)slot;
	return -EINVAL;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t id = 0, used = 0;
	if (key) {
		memcpy(&id, key, 4);
		if (id < m->g.max_entries)
			memcpy(&used, bkt(m, id), 4);
		id = used ? id + 1 : 0; /* stack_map_get_next_key(): from an empty or foreign id, start over */
	}
	for (; id < m->g.max_entries; id++) {
		uint32_t nr;
		memcpy(&nr, bkt(m, id), 4);
		if (nr) {
			memcpy(next, &id, 4);
			return 0;
		}
	}
	return -ENOENT;
}

long map_stack_store(struct map *m, const uint64_t *ips, uint32_t nr, uint64_t flags)
{
	if (m->g.type != BPF_MAP_TYPE_STACK_TRACE)
		return -EINVAL;
	uint32_t cap = m->g.value_size / 8;
	if (nr > cap)
		nr = cap;
	if (nr == 0)
		return -EFAULT;
	uint32_t id = map_hash(ips, nr * 8, 0) % m->g.max_entries;
	long ret = id;
	map_lock(m);
	uint8_t *b = bkt(m, id);
	uint32_t old;
	memcpy(&old, b, 4);
	bool same = old == nr && !memcmp(b + 8, ips, nr * 8);
	if (old && !same && !(flags & BPF_F_REUSE_STACKID)) {
		ret = -EEXIST;
	} else if (!same) {
		memset(b, 0, stride(m->g.value_size));
		memcpy(b + 8, ips, nr * 8);
		memcpy(b, &nr, 4);
	}
	map_unlock(m);
	return ret;
}

const struct map_ops stack_trace_ops = {
	.check = check, .layout = layout, .lookup = lookup, .update = update, .delete = delete, .next_key = next_key,
};
