/* ringbuf.c -- RINGBUF: a multi-producer, single-consumer byte ring (Linux ringbuf.c semantics).
 * Records are an 8-byte header { u32 len | BUSY | DISCARD; u32 pad } and data rounded up to 8 bytes.
 * As in Linux, the data pages are mapped twice in a row (maps.h: mirror_tail), so a record that passes
 * the end of the ring is still contiguous and space is accounted exactly as the kernel does: no filler
 * records, the producer never more than ring - 1 bytes ahead of the consumer or of the oldest record
 * not yet committed.  off_a: consumer position; off_b: producer position, then that oldest record's
 * position (Linux's pending_pos); off_c: data, page-aligned in the file for the second mapping. */
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
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	/* offsets here are from the header's end; the data must start on a page of the file */
	uint64_t data = ((MAP_HDR_LEN + 128 + pg - 1) & ~(pg - 1)) - MAP_HDR_LEN;
	h->off_a = 0;
	h->off_b = 64;
	h->off_c = data;
	h->values_off = data;
	h->values_len = h->max_entries;
	return data + (uint64_t)h->max_entries;
}

static uint64_t *cons_pos(struct map *m) { return (uint64_t *)(m->base + m->g.off_a); }
static uint64_t *prod_pos(struct map *m) { return (uint64_t *)(m->base + m->g.off_b); }
static uint64_t *pend_pos(struct map *m) { return (uint64_t *)(m->base + m->g.off_b + 8); }
static uint8_t *data(struct map *m) { return m->base + m->g.off_c; }

static uint64_t rec_len(uint32_t h) { return ((uint64_t)(h & ~(RB_BUSY | RB_DISCARD)) + RB_HDR + 7) & ~7ull; }

void *map_ringbuf_reserve(struct map *m, uint64_t size, uint64_t flags)
{
	uint64_t ring = m->g.max_entries, mask = ring - 1, len;
	void *rec = NULL;

	if (m->g.type != BPF_MAP_TYPE_RINGBUF || flags || size > UINT32_MAX / 4)
		return NULL;
	len = (size + RB_HDR + 7) & ~7ull;
	if (len > ring)
		return NULL;
	uint64_t cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE);
	map_lock(m);
	uint64_t prod = *prod_pos(m), pend = *pend_pos(m);
	/* positions are shared memory: only ever 8-aligned, and pending never ahead of the producer nor
	 * more than a ring behind it */
	bool sane = prod % 8 == 0 && pend % 8 == 0 && pend <= prod && prod - pend <= ring;
	while (sane && pend < prod) {
		uint32_t h = __atomic_load_n((uint32_t *)(data(m) + (pend & mask)), __ATOMIC_ACQUIRE);
		if (h & RB_BUSY)
			break;
		pend += rec_len(h);
	}
	if (sane && pend > prod)
		sane = false;
	if (sane)
		*pend_pos(m) = pend;
	uint64_t next = prod + len;
	if (sane && next - cons <= mask && next - pend <= mask) {
		__atomic_store_n((uint32_t *)(data(m) + (prod & mask)), (uint32_t)size | RB_BUSY, __ATOMIC_RELAXED);
		rec = data(m) + (prod & mask) + RB_HDR;
		__atomic_store_n(prod_pos(m), next, __ATOMIC_RELEASE);
	}
	map_unlock(m);
	return rec;
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
		/* Linux wakes only when the consumer stands on this very record (bpf_ringbuf_commit()):
		 * records behind an uncommitted one are reported when that one is */
		uint64_t cons = __atomic_load_n(cons_pos(m), __ATOMIC_ACQUIRE) & (m->g.max_entries - 1);
		if (cons == (uint64_t)((uint8_t *)hdr - data(m)))
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
	if (size)
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
		uint32_t h = __atomic_load_n((uint32_t *)(data(m) + off), __ATOMIC_ACQUIRE);
		if (h & RB_BUSY)
			break;
		uint32_t len = h & ~(RB_BUSY | RB_DISCARD);
		uint64_t step = rec_len(h);
		if (step > ring)
			return -EINVAL; /* corrupt header: a record ends within one ring of its start */
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
	if (cons >= prod || off % 8)
		return cons < prod; /* corrupt positions: let the consumer report them */
	return !(__atomic_load_n((uint32_t *)(data(m) + off), __ATOMIC_ACQUIRE) & RB_BUSY);
}

const struct map_ops ringbuf_ops = {
	.check = check, .layout = layout, .no_key_ops = true, .mirror_tail = true,
};
