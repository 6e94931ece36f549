/* lpm.c -- LPM_TRIE: longest-prefix match on keys { u32 prefixlen; u8 data[] } (Linux lpm_trie.c
 * semantics for lookup/update/delete and its attribute rules).  Entries are kept densely packed
 * (off_b: entry keys, off_d: values; count in hdr->count) and matched by a scan, O(entries): a linear
 * layout keeps the shared-memory structure trivially consistent; a trie is future work for large maps. */
#include <errno.h>
#include <string.h>

#include "maps.h"

#define LPM_DATA_MAX 256

static int check(const union bpf_attr *a, unsigned nr_cpus, struct diag *log)
{
	(void)nr_cpus;
	if (!(a->map_flags & BPF_F_NO_PREALLOC)) {
		diag_printf(log, "MAP_CREATE: LPM_TRIE requires BPF_F_NO_PREALLOC");
		return -EINVAL;
	}
	if (a->max_entries == 0 || a->key_size <= 4 || a->key_size > 4 + LPM_DATA_MAX || a->value_size == 0 ||
	    a->value_size > 65536 || a->max_entries > (1u << 24)) {
		diag_printf(log, "MAP_CREATE: LPM_TRIE needs key_size 5..260, value_size 1..65536, max_entries > 0");
		return -EINVAL;
	}
	uint32_t allowed = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG |
			   BPF_F_WRONLY_PROG;
	if (a->map_flags & ~allowed) {
		diag_printf(log, "MAP_CREATE: map_flags 0x%x not valid for LPM_TRIE", a->map_flags);
		return -EINVAL;
	}
	return 0;
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_b = 0;
	uint64_t off = (uint64_t)h->max_entries * map_round8(h->key_size);
	h->off_d = off;
	h->values_off = off;
	h->values_len = (uint64_t)h->max_entries * map_round8(h->value_size);
	return off + h->values_len;
}

static uint8_t *key_at(struct map *m, uint32_t i) { return m->base + m->hdr->off_b + (uint64_t)i * map_round8(m->hdr->key_size); }
static uint8_t *val_at(struct map *m, uint32_t i) { return m->base + m->hdr->off_d + (uint64_t)i * map_round8(m->hdr->value_size); }
static uint32_t count(struct map *m) { return m->hdr->count <= m->hdr->max_entries ? m->hdr->count : m->hdr->max_entries; }

/* do the first `bits` bits of a and b agree? */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, uint32_t bits)
{
	uint32_t bytes = bits / 8, rem = bits % 8;
	if (memcmp(a, b, bytes))
		return false;
	if (!rem)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return ((a[bytes] ^ b[bytes]) & mask) == 0;
}

static uint32_t data_bits(struct map *m) { return (m->hdr->key_size - 4) * 8; }

static void *lookup(struct map *m, const void *key)
{
	uint32_t plen, best = UINT32_MAX, best_len = 0;
	const uint8_t *data = (const uint8_t *)key + 4;
	memcpy(&plen, key, 4);
	if (plen > data_bits(m))
		plen = data_bits(m);
	for (uint32_t i = 0; i < count(m); i++) {
		uint32_t el;
		memcpy(&el, key_at(m, i), 4);
		if (el <= plen && (best == UINT32_MAX || el > best_len) && prefix_eq(key_at(m, i) + 4, data, el)) {
			best = i;
			best_len = el;
		}
	}
	return best == UINT32_MAX ? NULL : val_at(m, best);
}

/* exact (prefixlen, prefix) match */
static uint32_t find_exact(struct map *m, uint32_t plen, const uint8_t *data)
{
	for (uint32_t i = 0; i < count(m); i++) {
		uint32_t el;
		memcpy(&el, key_at(m, i), 4);
		if (el == plen && prefix_eq(key_at(m, i) + 4, data, plen))
			return i;
	}
	return UINT32_MAX;
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot)
{
	uint32_t plen;
	(void)slot;
	memcpy(&plen, key, 4);
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (plen > data_bits(m))
		return -EINVAL;
	uint32_t i = find_exact(m, plen, (const uint8_t *)key + 4);
	if (i != UINT32_MAX) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		/* Linux replaces the node: the stored key becomes this one, bits past the prefix included
		 * (the prefix bits are equal, so a torn copy still matches the same entries) */
		memcpy(key_at(m, i) + 4, (const uint8_t *)key + 4, m->hdr->key_size - 4);
		memcpy(val_at(m, i), value, m->hdr->value_size);
		return 0;
	}
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (count(m) >= m->hdr->max_entries)
		return -ENOSPC;
	i = count(m);
	/* store the key as given, bits past the prefix included, as Linux's trie node does */
	memcpy(key_at(m, i), key, m->hdr->key_size);
	memcpy(val_at(m, i), value, m->hdr->value_size);
	m->hdr->count = i + 1; /* one store publishes the entry */
	return 0;
}

static long delete(struct map *m, const void *key)
{
	uint32_t plen;
	memcpy(&plen, key, 4);
	if (plen > data_bits(m))
		return -EINVAL;
	uint32_t i = find_exact(m, plen, (const uint8_t *)key + 4);
	if (i == UINT32_MAX)
		return -ENOENT;
	uint32_t last = count(m) - 1;
	if (i != last) {
		memcpy(key_at(m, i), key_at(m, last), m->hdr->key_size);
		memcpy(val_at(m, i), val_at(m, last), m->hdr->value_size);
	}
	m->hdr->count = last;
	return 0;
}

static int next_key(struct map *m, const void *key, void *next)
{
	uint32_t n = 0;
	if (key) {
		uint32_t plen;
		memcpy(&plen, key, 4);
		uint32_t i = plen <= data_bits(m) ? find_exact(m, plen, (const uint8_t *)key + 4) : UINT32_MAX;
		n = i == UINT32_MAX ? 0 : i + 1;
	}
	if (n >= count(m))
		return -ENOENT;
	memcpy(next, key_at(m, n), m->hdr->key_size);
	return 0;
}

static void recover(struct map *m)
{
	if (m->hdr->count > m->hdr->max_entries)
		m->hdr->count = m->hdr->max_entries;
}

const struct map_ops lpm_trie_ops = {
	.check = check, .layout = layout, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key, .recover = recover,
};
