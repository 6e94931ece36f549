/* queue.c -- QUEUE (FIFO) and STACK (LIFO): no keys; push/pop/peek (Linux queue_stack_maps.c).
 * seq[0] = head, seq[1] = tail (monotonic counters); values at off_d, max_entries slots. */
#include <errno.h>
#include <string.h>

#include "maps.h"

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	if (a->key_size != 0 || a->value_size == 0 || a->max_entries == 0 || a->value_size > (1u << 20) ||
	    a->max_entries > (1u << 24)) {
		diag_printf(log, "MAP_CREATE: queue/stack needs key_size 0, value_size > 0, max_entries > 0");
		return -EINVAL;
	}
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for queue/stack", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_d = 0;
	h->values_off = 0;
	h->values_len = 0; /* values are copied in and out, never pointed at */
	return (uint64_t)h->max_entries * map_round8(h->value_size);
}

/* Positions are shared and may hold anything: taken modulo the capacity, every slot is in the mapping. */
static uint8_t *slot_at(struct map *m, uint64_t pos)
{
	return m->base + m->g.off_d + (pos % m->g.max_entries) * map_round8(m->g.value_size);
}

static long push(struct map *m, const void *value, uint64_t flags)
{
	struct map_hdr *h = m->hdr;
	uint64_t head = h->seq[0], tail = h->seq[1];
	if (flags & ~(uint64_t)BPF_EXIST)
		return -EINVAL;
	if (tail - head >= m->g.max_entries) {
		if (!(flags & BPF_EXIST))
			return -E2BIG;
		/* BPF_EXIST: make room by dropping the oldest element */
		h->seq[0] = head + 1;
	}
	memcpy(slot_at(m, tail), value, m->g.value_size);
	h->seq[1] = tail + 1;
	return 0;
}

static long pop_queue(struct map *m, void *value, bool peek)
{
	struct map_hdr *h = m->hdr;
	uint64_t head = h->seq[0], tail = h->seq[1];
	if (tail == head)
		return -ENOENT;
	memcpy(value, slot_at(m, head), m->g.value_size);
	if (!peek)
		h->seq[0] = head + 1;
	return 0;
}

static long pop_stack(struct map *m, void *value, bool peek)
{
	struct map_hdr *h = m->hdr;
	uint64_t head = h->seq[0], tail = h->seq[1];
	if (tail == head)
		return -ENOENT;
	memcpy(value, slot_at(m, tail - 1), m->g.value_size);
	if (!peek)
		h->seq[1] = tail - 1;
	return 0;
}

static void recover(struct map *m)
{
	struct map_hdr *h = m->hdr;
	uint64_t head = h->seq[0], tail = h->seq[1];
	if (tail < head || tail - head > m->g.max_entries)
		h->seq[0] = tail; /* inconsistent counters: empty the queue rather than read garbage */
}

const struct map_ops queue_ops = {
	.check = check, .layout = layout, .push = push, .pop = pop_queue, .recover = recover, .no_key_ops = true,
};
const struct map_ops stack_ops = {
	.check = check, .layout = layout, .push = push, .pop = pop_stack, .recover = recover, .no_key_ops = true,
};
