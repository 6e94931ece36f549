/* lpm.c -- LPM_TRIE: longest-prefix match on keys { u32 prefixlen; u8 data[] } with the semantics of Linux's
 * kernel/bpf/lpm_trie.c: a binary, path-compressed trie where each node holds a prefix and at most two
 * children selected by the first bit past that prefix; intermediate nodes (no value, exactly two children)
 * join prefixes that share a shorter common prefix.  Lookup, update (BPF_ANY/NOEXIST/EXIST), delete and
 * get_next_key (postorder: more specific prefixes first) follow the kernel step for step, so that
 * iteration order and errno are the same.
 *
 * Layout (offsets from the mapping): off_a holds 2 * max_entries + 1 nodes of nstride() bytes, off_d one
 * value per leaf.  Node 0 is a sentinel whose child[0] is the root, so every link is a u32 in a node.
 * Nodes 1..max are leaves (they own value max-1 .. 0 in order), nodes max+1..2*max intermediates: an
 * intermediate has no value, and which pool a node comes from is what marks it intermediate, so no flag
 * can be torn.  At most max leaves are in use (count), hence at most max - 1 intermediates (each has two
 * children), plus the one being built.  Links are node indices, 0 = none.
 * Header: count = leaves in the trie, free_head = first free leaf, seq[0] = first free intermediate,
 * seq[1]/seq[2] = leaves/intermediates ever handed out (nodes past them are untouched zero pages, so a
 * large sparse map costs nothing until used).  Free lists chain through child[0].
 * Storage: map_create() reserves the header and node 0 only; never-used nodes (and a leaf's value) are
 * reserved a chunk at a time by whoever hands out the first node of the chunk, before touching it, so
 * a full filesystem fails an update with -ENOMEM rather than a store with SIGBUS.
 *
 * Crash safety: a new or replacement node is written completely while unreachable, then one 4-byte
 * store into its parent's link publishes it; removed nodes are unlinked by one store before they go on
 * a free list.  A writer killed anywhere leaves a valid trie plus leaked nodes and a stale count, which
 * recover() rebuilds by walking the trie.  Readers never trust the mapping: a link out of range, or to a
 * node whose prefixlen is not longer than its parent's (nor at most the key's bits), reads as no link,
 * which also bounds every walk by the key's bit count. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

#define LPM_DATA_MAX 256
#define LPM_PLEN_MAX (LPM_DATA_MAX * 8)

struct lpm_node {
	uint32_t child[2];
	uint32_t prefixlen;
	uint8_t data[];  /* the key's data as given, bits past prefixlen included (as Linux keeps it) */
};

#define H(m) ((m)->hdr)
#define NODE_HDR offsetof(struct lpm_node, data)

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

/* bytes per node: links, prefixlen and the key data, 8-aligned */
static uint32_t nstride(uint32_t key_size) { return (uint32_t)(NODE_HDR + key_size - 4 + 7) & ~7u; }

/* the header and node 0, the sentinel every lookup reads */
static uint64_t reserved_head(const struct map_hdr *h)
{
	return h->off_a + nstride(h->key_size);
}

static uint64_t layout(struct map_hdr *h)
{
	h->off_a = 0;
	uint64_t off = (2ull * h->max_entries + 1) * nstride(h->key_size);
	h->off_d = off;
	h->values_off = off;
	h->values_len = (uint64_t)h->max_entries * map_round8(h->value_size);
	return off + h->values_len;
}

/* One call's copy of the header's constants.  They never change, but the header is shared memory too:
 * each is read once and the layout they give is checked against this process's own mapping length,
 * so a scribbled header cannot move any access outside the mapping. */
struct lpm {
	struct map *m;
	uint8_t *nodes, *values;
	uint32_t stride, max, data_size, max_plen, value_size, vstride;
};

static bool view(struct map *m, struct lpm *t)
{
	const struct map_hdr *h = H(m);
	uint32_t ks = __atomic_load_n(&h->key_size, __ATOMIC_RELAXED), max = __atomic_load_n(&h->max_entries, __ATOMIC_RELAXED);
	uint32_t vs = __atomic_load_n(&h->value_size, __ATOMIC_RELAXED);
	uint64_t off_a = __atomic_load_n(&h->off_a, __ATOMIC_RELAXED), off_d = __atomic_load_n(&h->off_d, __ATOMIC_RELAXED);

	if (ks <= 4 || ks > 4 + LPM_DATA_MAX || max == 0 || max > (1u << 24) || vs == 0 || vs > 65536)
		return false;
	uint32_t stride = nstride(ks);
	uint64_t nodes_len = (2ull * max + 1) * stride, values_len = (uint64_t)max * map_round8(vs);
	if (off_a > m->len || nodes_len > m->len - off_a || off_d < off_a + nodes_len || off_d > m->len ||
	    values_len > m->len - off_d)
		return false;
	*t = (struct lpm){ m, m->base + off_a, m->base + off_d, stride, max, ks - 4, (ks - 4) * 8, vs, map_round8(vs) };
	return true;
}

static struct lpm_node *node(const struct lpm *t, uint32_t i) { return (struct lpm_node *)(t->nodes + (uint64_t)i * t->stride); }
static bool is_im(const struct lpm *t, uint32_t i) { return i > t->max; }
static uint8_t *value_of(const struct lpm *t, uint32_t leaf)
{
	return t->values + (uint64_t)(leaf - 1) * t->vstride;
}
static uint32_t *root_slot(const struct lpm *t) { return &node(t, 0)->child[0]; }

static uint32_t ld32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void publish(uint32_t *slot, uint32_t i) { __atomic_store_n(slot, i, __ATOMIC_RELEASE); }

/* The node a link points at, or 0 when the link is empty or not trustworthy: out of range, or a node
 * whose prefixlen is not in (parent_plen, max_plen].  *plen gets the node's prefixlen, read once. */
static uint32_t deref(const struct lpm *t, const uint32_t *slot, int64_t parent_plen, uint32_t *plen)
{
	uint32_t i = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (i == 0 || i > 2 * t->max)
		return 0;
	uint32_t p = ld32(&node(t, i)->prefixlen);
	if ((int64_t)p <= parent_plen || p > t->max_plen)
		return 0;
	*plen = p;
	return i;
}

static uint32_t child_of(const struct lpm *t, uint32_t i, uint32_t plen, int bit)
{
	uint32_t dummy;
	return deref(t, &node(t, i)->child[bit], plen, &dummy);
}

static int bit_at(const uint8_t *data, uint32_t index)
{
	return (data[index / 8] >> (7 - index % 8)) & 1;
}

/* Number of leading bits a and b share, at most limit (Linux's longest_prefix_match()). */
static uint32_t match_len(const uint8_t *a, const uint8_t *b, uint32_t limit)
{
	uint32_t i = 0, nbytes = (limit + 7) / 8;
	for (; i + 8 <= nbytes; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y) {
			uint32_t p = i * 8 + (uint32_t)__builtin_clzll(__builtin_bswap64(x ^ y));
			return p < limit ? p : limit;
		}
	}
	for (; i < nbytes; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x) {
			uint32_t p = i * 8 + (uint32_t)__builtin_clz(x) - 24;
			return p < limit ? p : limit;
		}
	}
	return limit;
}

static uint32_t key_plen(const void *key)
{
	uint32_t p;
	memcpy(&p, key, 4);
	return p;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static void *lookup(struct map *m, const void *key)
{
	struct lpm t;
	const uint8_t *kd = (const uint8_t *)key + 4;
	uint32_t kp = key_plen(key), found = 0, np;
	int64_t parent = -1;

	if (!view(m, &t) || kp > t.max_plen)
		return NULL; /* as Linux, a prefixlen past the key's bits matches nothing */
	const uint32_t *slot = root_slot(&t);
	for (uint32_t i; (i = deref(&t, slot, parent, &np));) {
		struct lpm_node *n = node(&t, i);
		uint32_t ml = match_len(n->data, kd, min_u32(np, kp));
		if (ml == t.max_plen) {
			if (!is_im(&t, i))
				found = i;
			break;
		}
		if (ml < np)
			break;
		if (!is_im(&t, i))
			found = i;
		slot = &n->child[bit_at(kd, np)];
		parent = np;
	}
	return found ? value_of(&t, found) : NULL;
}

/* The storage for fresh nodes base+used+1 on: the chunk starting there when used is at a chunk boundary
 * (a chunk is about 1 MiB of nodes and values).  `used` only grows under the lock, so each chunk is
 * reserved before any node of it is handed out, by one process or another (reserving twice is harmless). */
static bool reserve_fresh(struct lpm *t, bool im, uint64_t used)
{
	uint32_t per = t->stride + (im ? 0 : t->vstride);
	uint64_t chunk = (1u << 20) / per ? (1u << 20) / per : 1;
	if (used % chunk)
		return true;
	uint64_t n = t->max - used < chunk ? t->max - used : chunk;
	uint32_t first = (im ? t->max : 0) + (uint32_t)used + 1;
	struct map *m = t->m;
	if (!map_reserve(m, (uint64_t)((uint8_t *)node(t, first) - m->base), n * t->stride))
		return false;
	return im || map_reserve(m, (uint64_t)(value_of(t, first) - m->base), n * t->vstride);
}

/* Node allocation: the free list first, then never-used nodes.  The list head moves before the node is
 * written, so a writer killed in between only leaks the node until recover(). */
static uint32_t alloc_node(struct lpm *t, bool im)
{
	struct map_hdr *h = H(t->m);
	uint32_t base = im ? t->max : 0;
	uint32_t head = im ? (uint32_t)h->seq[0] : h->free_head;
	uint64_t used = h->seq[im ? 2 : 1];
	uint32_t i = 0;

	if (head > base && head <= base + t->max) {
		i = head;
		uint32_t next = ld32(&node(t, i)->child[0]);
		if (im)
			h->seq[0] = next;
		else
			h->free_head = next;
	} else if (used < t->max && reserve_fresh(t, im, used)) {
		i = base + (uint32_t)used + 1;
		h->seq[im ? 2 : 1] = used + 1;
	}
	return i;
}

/* i must already be unreachable */
static void free_node(struct lpm *t, uint32_t i)
{
	struct map_hdr *h = H(t->m);
	if (is_im(t, i)) {
		node(t, i)->child[0] = (uint32_t)h->seq[0];
		h->seq[0] = i;
	} else {
		node(t, i)->child[0] = h->free_head;
		h->free_head = i;
	}
}

static void fill(struct lpm *t, uint32_t i, uint32_t plen, const uint8_t *data, uint32_t c0, uint32_t c1)
{
	struct lpm_node *n = node(t, i);
	n->child[0] = c0;
	n->child[1] = c1;
	n->prefixlen = plen;
	memcpy(n->data, data, t->data_size);
}

/* Linux's trie_check_add_elem(): may one more element go in? */
static long check_add(struct lpm *t, uint64_t flags)
{
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (H(t->m)->count >= t->max)
		return -ENOSPC;
	return 0;
}

static long update(struct map *m, const void *key, const void *value, uint64_t flags, uint32_t slot_cpu)
{
	struct lpm t;
	const uint8_t *kd = (const uint8_t *)key + 4;
	uint32_t kp = key_plen(key), i = 0, np = 0, ml = 0;
	int64_t parent = -1;
	long err;

	(void)slot_cpu;
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (!view(m, &t))
		return -EUCLEAN; /* the shared header was overwritten: not a map we can change */
	if (kp > t.max_plen)
		return -EINVAL;
	uint32_t *slot = root_slot(&t);
	/* find the link where the new node belongs: an empty one, an exact match, or a node to split */
	while ((i = deref(&t, slot, parent, &np))) {
		struct lpm_node *n = node(&t, i);
		ml = match_len(n->data, kd, min_u32(np, kp));
		if (np != ml || np == kp)
			break;
		slot = &n->child[bit_at(kd, np)];
		parent = np;
	}
	if (i && np == ml && !is_im(&t, i)) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		/* Linux swaps in a new node; rewriting in place is the same under our lock, and a torn copy
		 * still has the same prefix bits, so the structure never changes */
		memcpy(node(&t, i)->data, kd, t.data_size);
		memcpy(value_of(&t, i), value, t.value_size);
		return 0;
	}
	if ((err = check_add(&t, flags)))
		return err;
	uint32_t f = alloc_node(&t, false);
	if (!f)
		return -ENOMEM; /* no storage left, or free lists corrupted behind our back */
	memcpy(value_of(&t, f), value, t.value_size);
	if (!i) {
		fill(&t, f, kp, kd, 0, 0);
		publish(slot, f);
	} else if (np == ml) {
		/* an intermediate node becomes a real one: take over its children */
		struct lpm_node *n = node(&t, i);
		fill(&t, f, kp, kd, ld32(&n->child[0]), ld32(&n->child[1]));
		publish(slot, f);
		free_node(&t, i);
	} else if (ml == kp) {
		/* the new prefix covers node i: it goes in between */
		int b = bit_at(node(&t, i)->data, ml);
		fill(&t, f, kp, kd, b ? 0 : i, b ? i : 0);
		publish(slot, f);
	} else {
		/* they diverge at bit ml: a new intermediate node holds both */
		uint32_t g = alloc_node(&t, true);
		if (!g) {
			free_node(&t, f);
			return -ENOMEM;
		}
		fill(&t, f, kp, kd, 0, 0);
		int b = bit_at(kd, ml);
		fill(&t, g, ml, node(&t, i)->data, b ? i : f, b ? f : i);
		publish(slot, g);
	}
	H(m)->count++;
	return 0;
}

static long delete(struct map *m, const void *key)
{
	struct lpm t;
	const uint8_t *kd = (const uint8_t *)key + 4;
	uint32_t kp = key_plen(key), i = 0, np = 0, ml = 0, up = 0, up_plen = 0;
	int64_t parent = -1;

	if (!view(m, &t))
		return -EUCLEAN;
	if (kp > t.max_plen)
		return -EINVAL;
	uint32_t *trim = root_slot(&t), *trim2 = trim;
	while ((i = deref(&t, trim, parent, &np))) {
		struct lpm_node *n = node(&t, i);
		ml = match_len(n->data, kd, min_u32(np, kp));
		if (np != ml || np == kp)
			break;
		up = i;
		up_plen = np;
		trim2 = trim;
		trim = &n->child[bit_at(kd, np)];
		parent = np;
	}
	if (!i || np != kp || np != ml || is_im(&t, i))
		return -ENOENT;
	uint32_t c0 = child_of(&t, i, np, 0), c1 = child_of(&t, i, np, 1);
	if (c0 && c1) {
		/* two children: the prefix stays as an intermediate node (Linux flags it; we swap pools) */
		uint32_t g = alloc_node(&t, true);
		if (!g)
			return -ENOMEM; /* only with corrupted free lists */
		fill(&t, g, np, node(&t, i)->data, c0, c1);
		publish(trim, g);
	} else if (up && is_im(&t, up) && !c0 && !c1) {
		/* a leaf under an intermediate node: the sibling takes the intermediate's place */
		uint32_t s = child_of(&t, up, up_plen, 0) == i ? child_of(&t, up, up_plen, 1) : child_of(&t, up, up_plen, 0);
		publish(trim2, s);
		free_node(&t, up);
	} else {
		publish(trim, c0 ? c0 : c1);
	}
	free_node(&t, i);
	if (H(m)->count)
		H(m)->count--;
	return 0;
}

/* Linux's trie_get_next_key(): postorder, so more specific prefixes come before the ones covering
 * them; a NULL, invalid or absent key starts again at the leftmost leaf. */
static int next_key(struct map *m, const void *key, void *next)
{
	struct lpm t;
	uint32_t stack[LPM_PLEN_MAX + 1], sp = 0, np = 0, out = 0, out_plen = 0;

	if (!view(m, &t))
		return -EUCLEAN;
	uint32_t search = deref(&t, root_slot(&t), -1, &np), search_plen = np;
	if (!search)
		return -ENOENT;
	if (key && key_plen(key) <= t.max_plen) {
		const uint8_t *kd = (const uint8_t *)key + 4;
		uint32_t kp = key_plen(key), ml = 0, i = search;
		/* prefixlens strictly grow along the path (deref), so it has at most max_plen + 1 nodes */
		while (i) {
			struct lpm_node *n = node(&t, i);
			stack[sp++] = i;
			ml = match_len(n->data, kd, min_u32(np, kp));
			if (np != ml || np == kp)
				break;
			i = deref(&t, &n->child[bit_at(kd, np)], np, &np);
		}
		if (i && np == ml && !is_im(&t, i)) {
			/* found: the next node in postorder is the leftmost leaf of a right sibling subtree,
			 * else the first real ancestor */
			uint32_t cur = stack[sp - 1];
			for (; sp > 1; sp--) {
				uint32_t p = stack[sp - 2];
				uint32_t pp = ld32(&node(&t, p)->prefixlen);
				if (ld32(&node(&t, p)->child[0]) == cur) {
					search = deref(&t, &node(&t, p)->child[1], pp, &search_plen);
					if (search)
						goto leftmost;
				}
				if (!is_im(&t, p)) {
					out = p;
					out_plen = pp;
					goto copy;
				}
				cur = p;
			}
			return -ENOENT;
		}
	}
leftmost:
	/* intermediate nodes always have two children; a real node without a left child goes right */
	for (uint32_t i = search, plen = search_plen, c; i; i = c) {
		if (!is_im(&t, i)) {
			out = i;
			out_plen = plen;
		}
		uint32_t p = plen;
		c = deref(&t, &node(&t, i)->child[0], p, &plen);
		if (!c)
			c = deref(&t, &node(&t, i)->child[1], p, &plen);
	}
	if (!out)
		return -ENOENT; /* only in a corrupted trie: an intermediate node without children */
copy:
	memcpy(next, &out_plen, 4);
	memcpy((uint8_t *)next + 4, node(&t, out)->data, t.data_size);
	return 0;
}

/* Does node c belong under node p (prefixlen pplen) on side `side`: same first pplen bits, and the next
 * bit picks that side?  p == 0 is the root link, where anything fits. */
static bool fits(const struct lpm *t, uint32_t c, uint32_t p, uint32_t pplen, int side)
{
	if (!p)
		return true;
	const uint8_t *cd = node(t, c)->data;
	return match_len(cd, node(t, p)->data, pplen) == pplen && bit_at(cd, pplen) == side;
}

/* A child worth keeping: a trustworthy link (deref), not reached before, in its right place. */
static uint32_t good_child(const struct lpm *t, uint32_t i, uint32_t plen, int side, const uint8_t *seen)
{
	uint32_t c = child_of(t, i, plen, side);
	return c && !seen[c] && fits(t, c, i, plen, side) ? c : 0;
}

/* After a writer died holding the lock: walk the trie from the root, cut links that are out of range,
 * seen twice, break the prefixlen order or sit on the wrong path, splice out intermediate nodes left
 * with fewer than two children, then rebuild both free lists and the count from what is reachable.
 * A crash alone never needs the cuts (every step of a writer leaves a valid trie); a mapping scribbled
 * on by someone else does, and afterwards lookups and iteration see an exact trie again. */
static void recover(struct map *m)
{
	struct lpm t;
	struct map_hdr *h = H(m);
	if (!view(m, &t))
		return;
	uint32_t total = 2 * t.max + 1, count = 0, cap = t.max_plen + 4;
	uint8_t *seen = calloc(total, 1);
	/* depth-first: at most one pending sibling per level (prefixlens grow along a path) plus two */
	struct pending { uint32_t *slot; uint32_t parent, pplen; int side; } *stack = calloc(cap, sizeof(*stack));
	uint32_t sp = 0;

	if (!seen || !stack) {
		free(seen);
		free(stack);
		return;
	}
	/* leaves / intermediates handed out so far: at least every reachable one */
	uint32_t used_leaf = h->seq[1] < t.max ? (uint32_t)h->seq[1] : t.max;
	uint32_t used_im = h->seq[2] < t.max ? (uint32_t)h->seq[2] : t.max;
	stack[sp++] = (struct pending){ root_slot(&t), 0, 0, 0 };
	while (sp) {
		struct pending p = stack[--sp];
		uint32_t np, i = deref(&t, p.slot, p.parent ? (int64_t)p.pplen : -1, &np);
		if (!i || seen[i] || !fits(&t, i, p.parent, p.pplen, p.side)) {
			if (ld32(p.slot))
				publish(p.slot, 0);
			continue;
		}
		if (is_im(&t, i)) {
			uint32_t c0 = good_child(&t, i, np, 0, seen), c1 = good_child(&t, i, np, 1, seen);
			if (!c0 || !c1) {
				/* its one child (it fits here too: it shares the longer prefix) takes its place */
				publish(p.slot, c0 ? c0 : c1);
				if (c0 || c1)
					stack[sp++] = p;
				continue;
			}
		}
		seen[i] = 1;
		if (is_im(&t, i)) {
			if (used_im < i - t.max)
				used_im = i - t.max;
		} else {
			count++;
			if (used_leaf < i)
				used_leaf = i;
		}
		struct lpm_node *n = node(&t, i);
		for (int b = 1; b >= 0; b--) {
			if (sp < cap)
				stack[sp++] = (struct pending){ &n->child[b], i, np, b };
			else
				publish(&n->child[b], 0);
		}
	}
	h->seq[1] = used_leaf;
	h->seq[2] = used_im;
	h->free_head = 0;
	for (uint32_t i = used_leaf; i >= 1; i--)
		if (!seen[i])
			free_node(&t, i);
	h->seq[0] = 0;
	for (uint32_t i = t.max + used_im; i > t.max; i--)
		if (!seen[i])
			free_node(&t, i);
	h->count = count;
	free(stack);
	free(seen);
}

const struct map_ops lpm_trie_ops = {
	.check = check, .layout = layout, .reserved_head = reserved_head, .lookup = lookup, .update = update, .delete = delete,
	.next_key = next_key, .recover = recover,
};
