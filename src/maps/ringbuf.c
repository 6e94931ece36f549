/* ringbuf.c -- RINGBUF: a multi-producer, single-consumer byte ring (Linux ringbuf.c semantics).
 * Records are an 8-byte header { u32 len | BUSY | DISCARD; u32 pad } and data rounded up to 8 bytes.
 * A record never wraps: where one would not fit before the end, a discarded filler record takes the
 * rest and the record starts at offset 0 (Linux maps the data twice instead; the filler keeps one
 * mapping shareable).  off_a: consumer position, off_b: producer position, off_c: data. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "maps.h"

#define RB_BUSY (1u << 31)
#define RB_DISCARD (1u << 30)
#define RB_HDR 8u

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	long pg = sysconf(_SC_PAGESIZE);
	if (a->key_size || a->value_size || a->max_entries < (uint32_t)pg || (a->max_entries & (a->max_entries - 1)) ||
	    a->max_entries > (1u << 30)) {
		diag_printf(log, "MAP_CREATE: ringbuf needs key_size 0, value_size 0, max_entries a power of 2 and "
				 "a multiple of the page size (got %u)", a->max_entries);
		return -EINVAL;
	}
	if (a->map_flags & ~(uint32_t)(BPF_F_NUMA_NODE)) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for ringbuf", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_a = 0;
	h->off_b = 64;
	h->off_c = 128;
	h->values_off = 128;
	h->values_len = h->max_entries;
	return 128 + (uint64_t)h->max_entries;
}

static uint64_t *cons_pos(struct map *m) { return (uint64_t *)(m->base + m->g.off_a); }
static uint64_t *prod_pos(struct map *m) { return (uint64_t *)(m->base + m->g.off_b); }
static uint8_t *data(struct map *m) { return m->base + m->g.off_c; }

void *map_ringbuf_reserve(struct map *m, uint64_t size, uint64_t flags)
{
	uint64_t ring = m->g.max_entries, need;
	void *rec = NULL;

	if (m->g.type != BPF_MAP_TYPE_RINGBUF || flags || size == 0 || size > ring / 4)
		return NULL;
	need = (size + RB_HDR + 7) & ~7ull;
	map_lock(m);
	uint64_t prod = *prod_pos(m), cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE);
	uint64_t off = prod & (ring - 1), pad = 0;
	/* positions are shared memory: only ever 8-aligned and at most a ring apart */
	bool sane = prod % 8 == 0 && prod - cons <= ring;
	if (off + need > ring)
		pad = ring - off;
	if (sane && prod + pad + need - cons <= ring) {
		if (pad) {
			uint32_t h = (uint32_t)(pad - RB_HDR) | RB_DISCARD;
			memcpy(data(m) + off, &h, 4);
			prod += pad;
			off = 0;
		}
		uint32_t h = (uint32_t)size | RB_BUSY;
		__atomic_store_n((uint32_t *)(data(m) + off), h, __ATOMIC_RELAXED);
		rec = data(m) + off + RB_HDR;
		__atomic_store_n(prod_pos(m), prod + need, __ATOMIC_RELEASE);
	}
	map_unlock(m);
	return rec;
}

/* Linux wakes by default only when the consumer position is this record's (cons_pos == rec_pos in
 * bpf_ringbuf_commit()): records behind an uncommitted one are reported when that one is.  Here a
 * record placed at offset 0 after a wrap filler also counts when the consumer stands on the filler. */
static bool consumer_at(struct map *m, uint64_t rec_off)
{
	uint64_t ring = m->g.max_entries;
	uint64_t cons_off = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE) & (ring - 1);
	if (cons_off == rec_off)
		return true;
	if (rec_off != 0 || cons_off + RB_HDR > ring || cons_off % 8)
		return false;
	uint32_t h = __atomic_load_n((uint32_t *)(data(m) + cons_off), __ATOMIC_ACQUIRE);
	return (h & (RB_BUSY | RB_DISCARD)) == RB_DISCARD && cons_off + (((h & ~RB_DISCARD) + RB_HDR + 7) & ~7ull) == ring;
}

void map_ringbuf_commit(struct map *m, void *sample, bool discard, uint64_t flags)
{
	uint32_t *hdr = (uint32_t *)((uint8_t *)sample - RB_HDR);
	uint32_t h = __atomic_load_n(hdr, __ATOMIC_RELAXED);
	h &= ~RB_BUSY;
	if (discard)
		h |= RB_DISCARD;
	__atomic_store_n(hdr, h, __ATOMIC_RELEASE);
	if (flags & BPF_RB_FORCE_WAKEUP)
		map_wake(m);
	else if (!(flags & BPF_RB_NO_WAKEUP)) {
		/* the fence orders the header store above before the consumer position's load */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (consumer_at(m, (uint64_t)((uint8_t *)hdr - data(m))))
			map_wake(m);
	}
}

long map_ringbuf_output(struct map *m, const void *src, uint64_t size, uint64_t flags)
{
	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return -EINVAL;
	void *rec = map_ringbuf_reserve(m, size, 0);
	if (!rec)
		return -EAGAIN;
	memcpy(rec, src, size);
	map_ringbuf_commit(m, rec, false, flags);
	return 0;
}

uint64_t map_ringbuf_query(struct map *m, uint64_t flags)
{
	uint64_t cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE), prod = __atomic_load_n(prod_pos(m), __ATOMIC_ACQUIRE);
	switch (flags) {
	case BPF_RB_AVAIL_DATA: return prod - cons;
	case BPF_RB_RING_SIZE: return m->g.max_entries;
	case BPF_RB_CONS_POS: return cons;
	case BPF_RB_PROD_POS: return prod;
	default: return 0;
	}
}

int map_ringbuf_consume(struct map *m, int (*cb)(void *ctx, void *data, size_t size), void *ctx)
{
	uint64_t ring = m->g.max_entries;
	int n = 0;

	if (m->g.type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	for (;;) {
		uint64_t cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE);
		uint64_t prod = __atomic_load_n(prod_pos(m), __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		if (prod - cons > ring || cons % 8)
			return -EINVAL; /* corrupt positions (they are shared memory) */
		uint64_t off = cons & (ring - 1);
		if (off + RB_HDR > ring)
			return -EINVAL; /* corrupt positions */
		uint32_t h = __atomic_load_n((uint32_t *)(data(m) + off), __ATOMIC_ACQUIRE);
		if (h & RB_BUSY)
			break;
		uint32_t len = h & ~(RB_BUSY | RB_DISCARD);
		uint64_t step = ((uint64_t)len + RB_HDR + 7) & ~7ull;
		if (off + step > ring)
			return -EINVAL;
		if (!(h & RB_DISCARD)) {
			int r = cb(ctx, data(m) + off + RB_HDR, len);
			n++;
			if (r) {
				__atomic_store_n(cons_pos(m), cons + step, __ATOMIC_RELEASE);
				return r < 0 ? r : n;
			}
		}
		__atomic_store_n(cons_pos(m), cons + step, __ATOMIC_RELEASE);
	}
	return n;
}

bool map_ringbuf_ready(struct map *m)
{
	uint64_t ring = m->g.max_entries;
	uint64_t cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(prod_pos(m), __ATOMIC_ACQUIRE);
	uint64_t off = cons & (ring - 1);
	if (cons >= prod || off + RB_HDR > ring || off % 8)
		return cons < prod; /* corrupt positions: let the consumer report them */
	return !(__atomic_load_n((uint32_t *)(data(m) + off), __ATOMIC_ACQUIRE) & RB_BUSY);
}

const struct map_ops ringbuf_ops = {
	.check = check, .layout = layout, .no_key_ops = true,
};
