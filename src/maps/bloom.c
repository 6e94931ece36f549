/* bloom.c -- BLOOM_FILTER: push adds a value, peek tests it (-ENOENT: certainly absent), no pop or keys
 * (Linux bloom_filter.c: nr_hashes in the low 4 bits of map_extra, default 5). */
#include <errno.h>
#include <string.h>

#include "maps.h"

static uint32_t nr_hashes(uint32_t map_extra_lo)
{
	uint32_t n = map_extra_lo & 0xf;
	return n ? n : 5;
}

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	if (a->key_size != 0 || a->value_size == 0 || a->max_entries == 0 || (a->map_extra & ~0xfull) ||
	    a->max_entries > (1u << 26)) {
		diag_printf(log, "MAP_CREATE: bloom filter needs key_size 0, value_size > 0, max_entries > 0, map_extra <= 15");
		return -EINVAL;
	}
	uint32_t allowed = BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG |
			   BPF_F_WRONLY_PROG;
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for a bloom filter", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	/* bits = entries * hashes / ln 2, rounded up to a power of two (Linux) */
	uint64_t bits = (uint64_t)h->max_entries * nr_hashes(h->map_extra_lo) * 100 / 69 + 1, p = 64;
	while (p < bits)
		p <<= 1;
	h->seq[0] = p;
	h->off_a = 0;
	h->values_off = 0;
	h->values_len = 0;
	return p / 8;
}

static long push(struct map *m, const void *value, uint64_t flags)
{
	uint8_t *bits = m->base + m->g.off_a;
	if (flags != BPF_ANY)
		return -EINVAL;
	for (uint32_t i = 0; i < nr_hashes((uint32_t)m->g.map_extra); i++) {
		uint64_t b = map_hash(value, m->g.value_size, i) & (m->g.seq0 - 1);
		__atomic_fetch_or(&bits[b / 8], (uint8_t)(1u << (b % 8)), __ATOMIC_RELAXED);
	}
	return 0;
}

static long peek(struct map *m, void *value, bool is_peek)
{
	const uint8_t *bits = m->base + m->g.off_a;
	if (!is_peek)
		return -EOPNOTSUPP;
	for (uint32_t i = 0; i < nr_hashes((uint32_t)m->g.map_extra); i++) {
		uint64_t b = map_hash(value, m->g.value_size, i) & (m->g.seq0 - 1);
		if (!(bits[b / 8] & (1u << (b % 8))))
			return -ENOENT;
	}
	return 0;
}

const struct map_ops bloom_filter_ops = {
	.check = check, .layout = layout, .push = push, .pop = peek, .no_key_ops = true,
};
