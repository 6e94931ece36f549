/* perf.c -- PERF_EVENT_ARRAY: in the kernel each index holds a perf event with its own ring; here each
 * index owns a ring of records { u32 size; u32 pad; data } in the mapping, consumed with
 * map_perf_consume() (libbpf's perf_buffer).  A full ring counts the sample as lost, as perf does.
 * off_a: per-index struct pring headers, off_c: ring data (PERF_RING bytes per index). */
#include <errno.h>
#include <string.h>

#include "maps.h"

#define PERF_RING (64u * 1024)

struct pring {
	uint64_t head, tail, lost;
};

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	/* Linux fd_array_map_alloc_check() + array_map_alloc_check(): max_entries 0 is EINVAL (libbpf, not
	 * the kernel, turns 0 into the number of CPUs: the loader does that here) */
	if (a->key_size != 4 || a->value_size != 4 || a->max_entries == 0 || a->max_entries > 4096) {
		diag_printf(log, "MAP_CREATE: perf event array needs key_size 4, value_size 4, 0 < max_entries <= 4096");
		return -EINVAL;
	}
	if (a->map_flags & ~(uint32_t)(BPF_F_NUMA_NODE | BPF_F_PRESERVE_ELEMS | BPF_F_RDONLY | BPF_F_WRONLY)) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for a perf event array", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint32_t entries(const struct map_hdr *h)
{
	return h->max_entries;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_a = 0;
	h->off_c = (uint64_t)entries(h) * sizeof(struct pring);
	h->values_off = 0;
	h->values_len = 0;
	return h->off_c + (uint64_t)entries(h) * PERF_RING;
}

static struct pring *pr(struct map *m, uint32_t i) { return (struct pring *)(m->base + m->g.off_a) + i; }
static uint8_t *ring(struct map *m, uint32_t i) { return m->base + m->g.off_c + (uint64_t)i * PERF_RING; }

long map_perf_output(struct map *m, uint32_t index, const void *src, uint64_t size)
{
	if (m->g.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -EINVAL;
	if (index >= m->g.max_entries)
		return -E2BIG;
	uint64_t need = (size + 8 + 7) & ~7ull;
	if (size > PERF_RING / 2)
		return -E2BIG;
	map_lock(m);
	struct pring *p = pr(m, index);
	long ret = 0;
	uint64_t head = p->head, off = head % PERF_RING;
	uint64_t pad = off + need > PERF_RING ? PERF_RING - off : 0;
	/* positions are shared memory: only ever 8-aligned and at most a ring apart */
	if (head % 8 || head + pad + need - p->tail > PERF_RING) {
		p->lost++;
		ret = -ENOSPC;
	} else {
		if (pad) {
			uint32_t filler = UINT32_MAX;
			memcpy(ring(m, index) + off, &filler, 4);
			off = 0;
		}
		uint32_t sz = (uint32_t)size;
		memcpy(ring(m, index) + off, &sz, 4);
		memcpy(ring(m, index) + off + 8, src, size);
		__atomic_store_n(&p->head, head + pad + need, __ATOMIC_RELEASE);
	}
	map_unlock(m);
	/* libbpf's perf_buffer asks for a wakeup per sample (wakeup_events = 1); a lost one wakes too */
	map_wake(m);
	return ret;
}

int map_perf_consume(struct map *m, void (*sample)(void *ctx, int cpu, void *data, uint32_t size),
		     void (*lost)(void *ctx, int cpu, uint64_t cnt), void *ctx)
{
	int n = 0;
	if (m->g.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -EINVAL;
	for (uint32_t i = 0; i < m->g.max_entries; i++) {
		struct pring *p = pr(m, i);
		uint64_t lost_cnt = __atomic_exchange_n(&p->lost, 0, __ATOMIC_ACQ_REL);
		if (lost_cnt && lost)
			lost(ctx, (int)i, lost_cnt);
		for (;;) {
			uint64_t head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE), tail = p->tail;
			if (tail >= head)
				break;
			uint64_t off = tail % PERF_RING;
			if (head - tail > PERF_RING || off % 8)
				return -EINVAL; /* corrupt positions (they are shared memory) */
			uint32_t sz;
			memcpy(&sz, ring(m, i) + off, 4);
			if (sz == UINT32_MAX) { /* filler to the end of the ring */
				__atomic_store_n(&p->tail, tail + (PERF_RING - off), __ATOMIC_RELEASE);
				continue;
			}
			if (off + 8 + sz > PERF_RING)
				return -EINVAL;
			if (sample)
				sample(ctx, (int)i, ring(m, i) + off + 8, sz);
			n++;
			__atomic_store_n(&p->tail, tail + ((sz + 8 + 7) & ~7ull), __ATOMIC_RELEASE);
		}
	}
	return n;
}

bool map_perf_ready(struct map *m)
{
	for (uint32_t i = 0; i < m->g.max_entries; i++) {
		struct pring *p = pr(m, i);
		if (__atomic_load_n(&p->lost, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&p->head, __ATOMIC_ACQUIRE) != __atomic_load_n(&p->tail, __ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

/* From user space a perf event array is keyed like an array whose slots hold perf event fds, none of
 * which bpfvm has: every slot is empty, and an update can only fail, in the order of Linux's
 * bpf_fd_array_map_update_elem() (flags, index, then the fd: perf_event_get() of a non-perf fd is EBADF). */
static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	uint32_t i;
	(void)value;
	(void)slot;
	memcpy(&i, key, 4);
	if (flags != BPF_ANY)
		return -EINVAL;
	return i >= m->g.max_entries ? -E2BIG : -EBADF;
}

static long delete(struct map *m, const void *key)
{
	uint32_t i;
	memcpy(&i, key, 4);
	return i >= m->g.max_entries ? -E2BIG : -ENOENT;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t i = UINT32_MAX;
	if (key)
		memcpy(&i, key, 4);
	if (i >= m->g.max_entries)
		i = 0; /* array_map_get_next_key(): no key or one past the end starts over */
	else if (i == m->g.max_entries - 1)
		return -ENOENT;
	else
		i++;
	memcpy(next, &i, 4);
	return 0;
}

const struct map_ops perf_event_array_ops = {
	.check = check, .layout = layout, .update = update, .delete = delete, .next_key = next_key,
};
