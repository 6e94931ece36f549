/* test_kernel_maps.c -- differential tests of the map commands against the real kernel's bpf():
 * the same pseudo-random command sequences run on a bpfvm map and a kernel map of the same attributes,
 * and every result (return value / errno and output bytes) must match.  Iteration order of hash-like
 * maps is not part of the contract, so get_next_key walks are compared as sets.  Skips (with the
 * reason) when the kernel's bpf() is not usable (not root, no CONFIG_BPF_SYSCALL, seccomp). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

static char pin_root[128];
static const char *kernel_skip;

/* The kernel's per-CPU values come one per possible CPU: bpfvm instances here get as many slots. */
static unsigned possible_cpus(void)
{
	unsigned lo = 0, hi = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int n = f ? fscanf(f, "%u-%u", &lo, &hi) : 0;
	if (f)
		fclose(f);
	return n == 2 ? hi + 1 : n == 1 ? lo + 1 : 1;
}

struct pair {
	struct bpfvm *vm;
	int vfd, kfd;
	uint32_t ks, vs;
	long vret, kret; /* last create results */
};

static bool kernel_ok(void)
{
	if (kernel_skip)
		return false;
	long fd = kmap(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	if (fd < 0) {
		kernel_skip = fd == -EPERM ? "bpf() MAP_CREATE: EPERM (not root or unprivileged bpf disabled)"
			    : fd == -ENOSYS ? "bpf() is not available (ENOSYS)"
					    : "bpf() MAP_CREATE fails on this kernel";
		return false;
	}
	close((int)fd);
	return true;
}

static void create_both(struct pair *p, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	p->vret = mk(p->vm, type, ks, vs, max, flags);
	p->kret = kmap(type, ks, vs, max, flags);
	p->vfd = (int)p->vret;
	p->kfd = (int)p->kret;
	p->ks = ks;
	p->vs = vs;
}

static void close_both(struct pair *p)
{
	if (p->vfd >= 0)
		bpfvm_close(p->vm, p->vfd);
	if (p->kfd >= 0)
		close(p->kfd);
	p->vfd = p->kfd = -1;
}

static long op(struct pair *p, bool kernel, int cmd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)(kernel ? p->kfd : p->vfd);
	a.key = (uintptr_t)key;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = (uintptr_t)val;
	else if (cmd != BPF_MAP_DELETE_ELEM)
		a.value = (uintptr_t)val;
	a.flags = flags;
	return kernel ? kbpf(cmd, &a) : bpfvm_bpf(p->vm, cmd, &a, sizeof(a));
}

static const char *cmd_name(int cmd)
{
	switch (cmd) {
	case BPF_MAP_LOOKUP_ELEM: return "lookup";
	case BPF_MAP_UPDATE_ELEM: return "update";
	case BPF_MAP_DELETE_ELEM: return "delete";
	case BPF_MAP_GET_NEXT_KEY: return "get_next_key";
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM: return "lookup_and_delete";
	default: return "?";
	}
}

/* Runs one command on both; compares the result and the output buffer.  Returns false on mismatch. */
static bool both(struct pair *p, int step, int cmd, const void *key, const void *in, uint64_t flags)
{
	uint8_t vb[64], kb[64];
	memset(vb, 0xee, sizeof(vb));
	memset(kb, 0xee, sizeof(kb));
	if (in) {
		memcpy(vb, in, p->vs);
		memcpy(kb, in, p->vs);
	}
	long vr = op(p, false, cmd, key, vb, flags), kr = op(p, true, cmd, key, kb, flags);
	size_t olen = cmd == BPF_MAP_GET_NEXT_KEY ? p->ks
		      : cmd == BPF_MAP_LOOKUP_ELEM || cmd == BPF_MAP_LOOKUP_AND_DELETE_ELEM ? p->vs : 0;
	if (vr != kr || (vr == 0 && memcmp(vb, kb, olen))) {
		printf("  step %d: %s flags %llu: bpfvm %ld, kernel %ld%s\n", step, cmd_name(cmd),
		       (unsigned long long)flags, vr, kr, vr == kr ? " (values differ)" : "");
		return false;
	}
	return true;
}

/* Collects the keys of a full get_next_key walk (sorted bytes, for set comparison). */
static int walk(struct pair *p, bool kernel, uint8_t *keys, int max)
{
	uint8_t cur[64], next[64];
	int n = 0;
	long r = op(p, kernel, BPF_MAP_GET_NEXT_KEY, NULL, next, 0);
	while (r == 0 && n < max) {
		memcpy(keys + (size_t)n * p->ks, next, p->ks);
		n++;
		memcpy(cur, next, p->ks);
		r = op(p, kernel, BPF_MAP_GET_NEXT_KEY, cur, next, 0);
	}
	return r == -ENOENT ? n : -1;
}

static size_t g_ks;
static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, g_ks);
}

static bool same_keys(struct pair *p, int step)
{
	uint8_t vk[64 * 64], kk[64 * 64];
	int vn = walk(p, false, vk, 64), kn = walk(p, true, kk, 64);
	g_ks = p->ks;
	if (vn >= 0)
		qsort(vk, (size_t)vn, p->ks, cmp_key);
	if (kn >= 0)
		qsort(kk, (size_t)kn, p->ks, cmp_key);
	if (vn != kn || (vn > 0 && memcmp(vk, kk, (size_t)vn * p->ks))) {
		printf("  step %d: key sets differ: bpfvm %d keys, kernel %d keys\n", step, vn, kn);
		for (int i = 0; i < vn || i < kn; i++) {
			printf("    ");
			for (uint32_t j = 0; j < p->ks; j++)
				printf("%02x", i < vn ? vk[(size_t)i * p->ks + j] : 0);
			printf(" ");
			for (uint32_t j = 0; j < p->ks; j++)
				printf("%02x", i < kn ? kk[(size_t)i * p->ks + j] : 0);
			printf("\n");
		}
		return false;
	}
	return true;
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 11);
}

/* Random sequences on keyed maps.  nkeys small so that updates collide, deletes hit, the map fills. */
static int keyed_sequence(struct pair *p, uint64_t seed, int steps, uint32_t nkeys, bool is_array, bool lpm)
{
	int bad = 0;
	for (int i = 0; i < steps && bad < 5; i++) {
		uint8_t key[64] = { 0 }, val[64];
		uint32_t r = rnd(&seed);
		if (lpm) {
			uint32_t plen = (r >> 8) % 33;
			memcpy(key, &plen, 4);
			uint32_t addr = 0x0a000000u | ((r >> 16) % nkeys) << 8;
			if (rnd(&seed) % 4 == 0)
				plen = 32, memcpy(key, &plen, 4);
			key[4] = (uint8_t)(addr >> 24), key[5] = (uint8_t)(addr >> 16), key[6] = (uint8_t)(addr >> 8),
			key[7] = (uint8_t)addr;
		} else {
			uint32_t k = (r >> 8) % nkeys;
			memcpy(key, &k, 4);
			for (uint32_t j = 4; j < p->ks; j++)
				key[j] = (uint8_t)(k * 7 + j);
		}
		for (uint32_t j = 0; j < p->vs; j++)
			val[j] = (uint8_t)rnd(&seed);
		uint64_t flags = (r & 3) == 3 ? (is_array ? 4 : BPF_EXIST + 1) : (r & 3); /* sometimes invalid */
		switch (r % 7) {
		case 0:
		case 1:
			bad += !both(p, i, BPF_MAP_UPDATE_ELEM, key, val, flags);
			break;
		case 2:
		case 3:
			bad += !both(p, i, BPF_MAP_LOOKUP_ELEM, key, NULL, 0);
			break;
		case 4:
			bad += !both(p, i, BPF_MAP_DELETE_ELEM, key, NULL, 0);
			break;
		case 5:
			if (!lpm) /* LPM walks in trie order; compared as sets below */
				bad += !both(p, i, BPF_MAP_LOOKUP_AND_DELETE_ELEM, key, NULL, 0);
			break;
		default:
			bad += !same_keys(p, i);
			if (is_array) /* arrays: the order is the index order, compare exactly */
				bad += !both(p, i, BPF_MAP_GET_NEXT_KEY, key, NULL, 0);
			break;
		}
	}
	bad += !same_keys(p, steps);
	return bad;
}

TEST(create_errors_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	static const struct { uint32_t type, ks, vs, max, flags; } cases[] = {
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_ARRAY, 8, 4, 1, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 0, 1, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 0, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_RDONLY | BPF_F_WRONLY },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, BPF_F_MMAPABLE },
		{ BPF_MAP_TYPE_HASH, 0, 4, 1, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 0, 1, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, BPF_F_ZERO_SEED },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, 1u << 30 },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, 0 },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, BPF_F_NO_COMMON_LRU },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, 0 },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LPM_TRIE, 4, 4, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 0, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 0, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0 },
		{ BPF_MAP_TYPE_QUEUE, 4, 4, 4, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 0, 4, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 4, 0, 0 },
		{ BPF_MAP_TYPE_STACK, 0, 4, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
		{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4095, 0 },
		{ BPF_MAP_TYPE_RINGBUF, 4, 0, 4096, 0 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 4, 4, 16, 0 },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, 0 },
		{ BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 2, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 8, 2, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 64, 2, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 3, 2, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		create_both(&p, cases[i].type, cases[i].ks, cases[i].vs, cases[i].max, cases[i].flags);
		if ((p.vret >= 0) != (p.kret >= 0) || (p.vret < 0 && p.vret != p.kret)) {
			printf("  create type %u key %u value %u max %u flags 0x%x: bpfvm %ld, kernel %ld\n", cases[i].type,
			       cases[i].ks, cases[i].vs, cases[i].max, cases[i].flags, p.vret, p.kret);
			test_cur_failed = 1;
		}
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

static void run_keyed(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags, uint32_t nkeys)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = possible_cpus(), .pin_root = pin_root };
	bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
		      type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	struct pair p = { .vm = bpfvm_new(&o) };
	for (uint64_t seed = 1; seed <= 6; seed++) {
		create_both(&p, type, ks, vs, max, flags);
		CHECK(p.vret >= 0 && p.kret >= 0);
		if (p.vret < 0 || p.kret < 0) {
			printf("  create: bpfvm %ld kernel %ld (%s)\n", p.vret, p.kret, bpfvm_errmsg(p.vm));
			break;
		}
		if (percpu) /* user space moves every CPU's value: round_up(value_size, 8) bytes each */
			p.vs = ((vs + 7) & ~7u) * o.nr_cpus;
		int bad = keyed_sequence(&p, seed * 0x9e3779b97f4a7c15ull, 600, nkeys,
					 type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY,
					 type == BPF_MAP_TYPE_LPM_TRIE);
		if (bad) {
			printf("  seed %llu: %d mismatches\n", (unsigned long long)seed, bad);
			test_cur_failed = 1;
		}
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

TEST(array_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	run_keyed(BPF_MAP_TYPE_ARRAY, 4, 12, 8, 0, 12); /* keys past max_entries too */
}

TEST(hash_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	run_keyed(BPF_MAP_TYPE_HASH, 4, 8, 8, 0, 12); /* fills up: E2BIG */
	run_keyed(BPF_MAP_TYPE_HASH, 12, 20, 64, BPF_F_NO_PREALLOC, 40);
}

TEST(lru_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	/* no evictions (the kernel's per-CPU free lists make its eviction timing its own) */
	run_keyed(BPF_MAP_TYPE_LRU_HASH, 4, 8, 512, 0, 16);
}

TEST(lpm_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	run_keyed(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 64, BPF_F_NO_PREALLOC, 6);
}

static void run_queue(uint32_t type)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	for (uint64_t seed = 1; seed <= 6; seed++) {
		create_both(&p, type, 0, 8, 5, 0);
		CHECK(p.vret >= 0 && p.kret >= 0);
		if (p.vret < 0 || p.kret < 0)
			break;
		uint64_t s = seed * 0x2545f4914f6cdd1dull;
		int bad = 0;
		for (int i = 0; i < 400 && bad < 5; i++) {
			uint32_t r = rnd(&s);
			uint64_t v = rnd(&s);
			uint32_t key = 0;
			switch (r % 6) {
			case 0:
			case 1: /* push: ANY, EXIST (overwrite oldest when full), or invalid flags */
				bad += !both(&p, i, BPF_MAP_UPDATE_ELEM, NULL, &v, (r >> 4) % 3 == 2 ? BPF_NOEXIST : (r >> 4) % 3);
				break;
			case 2: /* peek */
				bad += !both(&p, i, BPF_MAP_LOOKUP_ELEM, NULL, NULL, 0);
				break;
			case 3: /* pop */
				bad += !both(&p, i, BPF_MAP_LOOKUP_AND_DELETE_ELEM, NULL, NULL, 0);
				break;
			case 4: /* key-based commands are refused */
				bad += !both(&p, i, BPF_MAP_DELETE_ELEM, NULL, NULL, 0);
				break;
			default:
				bad += !both(&p, i, BPF_MAP_GET_NEXT_KEY, &key, NULL, 0);
				break;
			}
		}
		if (bad) {
			printf("  seed %llu: %d mismatches\n", (unsigned long long)seed, bad);
			test_cur_failed = 1;
		}
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

TEST(queue_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	run_queue(BPF_MAP_TYPE_QUEUE);
}

TEST(stack_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	run_queue(BPF_MAP_TYPE_STACK);
}

TEST(percpu_sequences)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	if (possible_cpus() * 8 > 64)
		SKIP("more than 8 possible CPUs: per-CPU values exceed the harness's 64-byte buffers");
	run_keyed(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 8, 0, 12);
	run_keyed(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 8, 0, 12);
	run_keyed(BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 8, 512, 0, 16);
}

/* ---- batch commands ---------------------------------------------------------------------------- */

struct bside {
	long ret;
	uint32_t count;
	uint8_t keys[16 * 8], vals[16 * 64];
	uint8_t tok[8];
};

static void batch_one(struct pair *p, bool kernel, int cmd, const void *keys, const void *vals, uint32_t count,
		      uint64_t elem_flags, uint64_t flags, bool cont, struct bside *o)
{
	union bpf_attr a;
	if (keys) /* count <= 16 elements of at most 8-byte keys and 64-byte values */
		memcpy(o->keys, keys, (size_t)count * p->ks);
	if (vals)
		memcpy(o->vals, vals, (size_t)count * p->vs);
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)(kernel ? p->kfd : p->vfd);
	a.batch.keys = (uintptr_t)o->keys;
	a.batch.values = (uintptr_t)o->vals;
	a.batch.count = count;
	a.batch.elem_flags = elem_flags;
	a.batch.flags = flags;
	a.batch.in_batch = cont ? (uintptr_t)o->tok : 0;
	a.batch.out_batch = (uintptr_t)o->tok;
	o->ret = kernel ? kbpf(cmd, &a) : bpfvm_bpf(p->vm, cmd, &a, sizeof(a));
	o->count = a.batch.count;
}

static size_t g_es;
static int cmp_elem(const void *a, const void *b)
{
	return memcmp(a, b, g_es);
}

/* Walks the whole map with lookup (or lookup-and-delete) batches of `chunk` on both sides; compares each
 * call's return and count, and the (key, value) pairs: in order for arrays, as sets for hashes (the
 * kernel's bucket order is its own).  Returns mismatches. */
static int batch_walk(struct pair *p, int cmd, uint32_t chunk, bool ordered, const char *what)
{
	static uint8_t all[2][64 * (8 + 64)];
	uint32_t n[2] = { 0, 0 };
	size_t es = p->ks + p->vs;
	int bad = 0;
	for (int side = 0; side < 2; side++) {
		struct bside o;
		memset(&o, 0, sizeof(o));
		for (int call = 0; call < 32; call++) {
			batch_one(p, side, cmd, NULL, NULL, chunk, 0, 0, call > 0, &o);
			for (uint32_t i = 0; i < o.count && n[side] < 64; i++, n[side]++) {
				memcpy(all[side] + n[side] * es, o.keys + i * p->ks, p->ks);
				memcpy(all[side] + n[side] * es + p->ks, o.vals + i * p->vs, p->vs);
			}
			if (o.ret)
				break;
		}
		if (side == 0)
			p->vret = o.ret;
		else
			p->kret = o.ret;
	}
	if (p->vret != p->kret || n[0] != n[1]) {
		printf("  %s: bpfvm %ld after %u elements, kernel %ld after %u\n", what, p->vret, n[0], p->kret, n[1]);
		return 1;
	}
	g_es = es;
	if (!ordered) {
		qsort(all[0], n[0], es, cmp_elem);
		qsort(all[1], n[1], es, cmp_elem);
	}
	if (n[0] && memcmp(all[0], all[1], n[0] * es)) {
		printf("  %s: elements differ\n", what);
		bad++;
	}
	return bad;
}

static int batch_cmp(struct pair *p, int cmd, const void *keys, const void *vals, uint32_t count, uint64_t ef,
		     uint64_t fl, const char *what)
{
	static struct bside v, k;
	memset(&v, 0, sizeof(v));
	memset(&k, 0, sizeof(k));
	batch_one(p, false, cmd, keys, vals, count, ef, fl, false, &v);
	batch_one(p, true, cmd, keys, vals, count, ef, fl, false, &k);
	if (v.ret != k.ret || v.count != k.count) {
		printf("  %s: bpfvm %ld count %u, kernel %ld count %u\n", what, v.ret, v.count, k.ret, k.count);
		return 1;
	}
	return 0;
}

TEST(batch_commands_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	unsigned cpus = possible_cpus();
	if (cpus * 8 > 64)
		SKIP("more than 8 possible CPUs: per-CPU values exceed the harness's 64-byte buffers");
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = cpus, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	static const uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_HASH,
					  BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
					  BPF_MAP_TYPE_QUEUE };
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		uint32_t type = types[t];
		bool queue = type == BPF_MAP_TYPE_QUEUE;
		bool array = type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
		bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
			      type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
		create_both(&p, type, queue ? 0 : 4, 8, 8, 0);
		CHECK(p.vret >= 0 && p.kret >= 0);
		if (p.vret < 0 || p.kret < 0)
			continue;
		if (percpu)
			p.vs = 8 * cpus;
		char what[64];
		int bad = 0;
		uint32_t keys[16] = { 0, 1, 2, 3, 4, 5, 6, 7 };
		uint8_t vals[16 * 64];
		for (size_t i = 0; i < sizeof(vals); i++)
			vals[i] = (uint8_t)(i * 7 + 1);
#define CMP(cmd_, k_, v_, cnt_, ef_, fl_, name_)                                              \
		do {                                                                          \
			snprintf(what, sizeof(what), "type %u: %s", type, name_);             \
			bad += batch_cmp(&p, cmd_, k_, v_, cnt_, ef_, fl_, what);              \
		} while (0)
		/* argument checks: bad flags, BPF_F_LOCK without a spin lock, bad update flags */
		CMP(BPF_MAP_LOOKUP_BATCH, NULL, NULL, 4, 0, 1, "lookup flags 1");
		CMP(BPF_MAP_LOOKUP_BATCH, NULL, NULL, 4, BPF_F_LOCK, 0, "lookup BPF_F_LOCK");
		CMP(BPF_MAP_LOOKUP_BATCH, NULL, NULL, 4, 1, 0, "lookup elem_flags 1");
		CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 4, BPF_F_LOCK, 0, "update BPF_F_LOCK");
		CMP(BPF_MAP_DELETE_BATCH, keys, NULL, 2, 0, 0, "delete from empty");
		CMP(BPF_MAP_LOOKUP_AND_DELETE_BATCH, NULL, NULL, 8, 0, 0, "lookup_and_delete empty");
		if (queue) {
			CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 2, 0, 0, "update");
			close_both(&p);
			test_cur_failed |= bad != 0;
			continue;
		}
		CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 8, BPF_NOEXIST, 0, "update NOEXIST");
		CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 8, 0, 0, "update ANY");
		CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 8, BPF_EXIST, 0, "update elem_flags BPF_EXIST");
		keys[4] = 99; /* past an array's end, one too many for a full hash: the batch stops there */
		CMP(BPF_MAP_UPDATE_BATCH, keys, vals, 6, 0, 0, "update stopping at key 99");
		keys[4] = 4;
		snprintf(what, sizeof(what), "type %u: lookup walk by 3", type);
		bad += batch_walk(&p, BPF_MAP_LOOKUP_BATCH, array ? 3 : 8, array, what);
		snprintf(what, sizeof(what), "type %u: lookup walk by 16", type);
		bad += batch_walk(&p, BPF_MAP_LOOKUP_BATCH, 16, array, what);
		uint32_t del[3] = { 1, 77, 2 };
		CMP(BPF_MAP_DELETE_BATCH, del, NULL, 3, 0, 0, "delete with a missing key");
		snprintf(what, sizeof(what), "type %u: lookup_and_delete walk", type);
		bad += batch_walk(&p, BPF_MAP_LOOKUP_AND_DELETE_BATCH, 8, array, what);
		bad += !same_keys(&p, (int)t);
#undef CMP
		if (bad) {
			printf("  type %u: %d mismatches\n", type, bad);
			test_cur_failed = 1;
		}
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

TEST(freeze_and_rdonly_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	uint32_t k = 0;
	uint32_t v = 5;
	create_both(&p, BPF_MAP_TYPE_ARRAY, 4, 4, 2, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)p.vfd;
	long vr = bpfvm_bpf(p.vm, BPF_MAP_FREEZE, &a, sizeof(a));
	a.map_fd = (uint32_t)p.kfd;
	long kr = kbpf(BPF_MAP_FREEZE, &a);
	CHECK(vr == kr);
	a.map_fd = (uint32_t)p.vfd;
	vr = bpfvm_bpf(p.vm, BPF_MAP_FREEZE, &a, sizeof(a));
	a.map_fd = (uint32_t)p.kfd;
	kr = kbpf(BPF_MAP_FREEZE, &a);
	if (vr != kr)
		printf("  second freeze: bpfvm %ld, kernel %ld\n", vr, kr);
	CHECK(vr == kr); /* EPERM: a frozen map is not writable, checked first */
	/* CHECK_ATTR: a value pointer on delete is a non-zero byte past DELETE's last field */
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)p.vfd;
	a.key = (uintptr_t)&k;
	a.value = (uintptr_t)&v;
	vr = bpfvm_bpf(p.vm, BPF_MAP_DELETE_ELEM, &a, sizeof(a));
	a.map_fd = (uint32_t)p.kfd;
	kr = kbpf(BPF_MAP_DELETE_ELEM, &a);
	CHECK(vr == -EINVAL && kr == -EINVAL);
	CHECK(both(&p, 0, BPF_MAP_UPDATE_ELEM, &k, &v, 0));
	CHECK(both(&p, 1, BPF_MAP_LOOKUP_ELEM, &k, NULL, 0));
	CHECK(both(&p, 2, BPF_MAP_DELETE_ELEM, &k, NULL, 0));
	close_both(&p);
	create_both(&p, BPF_MAP_TYPE_HASH, 4, 4, 2, BPF_F_RDONLY);
	CHECK(both(&p, 3, BPF_MAP_UPDATE_ELEM, &k, &v, 0));
	CHECK(both(&p, 4, BPF_MAP_LOOKUP_ELEM, &k, NULL, 0));
	CHECK(both(&p, 5, BPF_MAP_DELETE_ELEM, &k, NULL, 0));
	close_both(&p);
	create_both(&p, BPF_MAP_TYPE_HASH, 4, 4, 2, BPF_F_WRONLY);
	CHECK(both(&p, 6, BPF_MAP_UPDATE_ELEM, &k, &v, 0));
	CHECK(both(&p, 7, BPF_MAP_LOOKUP_ELEM, &k, NULL, 0));
	CHECK(both(&p, 8, BPF_MAP_GET_NEXT_KEY, NULL, NULL, 0));
	CHECK(both(&p, 9, BPF_MAP_DELETE_ELEM, &k, NULL, 0));
	close_both(&p);
	bpfvm_free(p.vm);
}

/* ---- bpf() answers that Linux 6.18 gives errno for errno (issue 9) ------------------------------ */

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* MAP_CREATE of one attr on both sides; inner_map_fd is given per side (-1: none). */
static void create_attr_both(struct pair *p, const union bpf_attr *tmpl, int vinner, int kinner)
{
	union bpf_attr a = *tmpl;
	if (vinner >= 0)
		a.inner_map_fd = (uint32_t)vinner;
	p->vret = bpfvm_bpf(p->vm, BPF_MAP_CREATE, &a, sizeof(a));
	a = *tmpl;
	if (kinner >= 0)
		a.inner_map_fd = (uint32_t)kinner;
	p->kret = kbpf(BPF_MAP_CREATE, &a);
	p->vfd = (int)p->vret;
	p->kfd = (int)p->kret;
	p->ks = tmpl->key_size;
	p->vs = tmpl->value_size;
}

static bool same_create(const struct pair *p, const char *what)
{
	if ((p->vret >= 0) != (p->kret >= 0) || (p->vret < 0 && p->vret != p->kret)) {
		printf("  create %s: bpfvm %ld, kernel %ld\n", what, p->vret, p->kret);
		return false;
	}
	return true;
}

/* map_extra (only bloom filters and arenas take it), hash key_size above 512, BPF_F_PRESERVE_ELEMS (only
 * perf event arrays), a perf event array of max_entries 0, BPF_F_INNER_MAP (arrays only). */
TEST(create_attrs_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	static const struct { uint32_t type, ks, vs, max, flags; uint64_t extra; } cases[] = {
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, 0, 1 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, 0, 1ull << 40 },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, 1 },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, 0, 1 },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, 0, 2 },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, BPF_F_NO_PREALLOC, 1 },
		{ BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0, 1 },
		{ BPF_MAP_TYPE_STACK, 0, 4, 4, 0, 1 },
		{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, 1 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0, 1 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 64, 2, 0, 1 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0, 1 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0, 3 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0, 15 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0, 16 },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0, 1ull << 32 },
		{ BPF_MAP_TYPE_HASH, 513, 4, 4, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 1024, 8, 4, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 4096, 8, 4, BPF_F_NO_PREALLOC, 0 },
		{ BPF_MAP_TYPE_PERCPU_HASH, 600, 8, 4, 0, 0 },
		{ BPF_MAP_TYPE_LRU_HASH, 777, 8, 4, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, 0, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, BPF_F_PRESERVE_ELEMS, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_INNER_MAP, 0 },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, BPF_F_INNER_MAP, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, BPF_F_INNER_MAP, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, BPF_F_INNER_MAP, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union bpf_attr a = map_attr(cases[i].type, cases[i].ks, cases[i].vs, cases[i].max, cases[i].flags);
		a.map_extra = cases[i].extra;
		create_attr_both(&p, &a, -1, -1);
		char what[128];
		snprintf(what, sizeof(what), "type %u key %u value %u max %u flags 0x%x map_extra 0x%llx", cases[i].type,
			 cases[i].ks, cases[i].vs, cases[i].max, cases[i].flags, (unsigned long long)cases[i].extra);
		if (!same_create(&p, what))
			test_cur_failed = 1;
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

/* A big hash key (above 512 bytes) goes through update, lookup, get_next_key and delete as a small one. */
TEST(big_hash_keys_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	static const uint32_t types[] = { BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH };
	for (size_t t = 0; t < 2; t++) {
		union bpf_attr a = map_attr(types[t], 1000, 8, 2, 0);
		create_attr_both(&p, &a, -1, -1);
		CHECK(p.vret >= 0 && p.kret >= 0);
		if (p.vret < 0 || p.kret < 0) {
			printf("  create key 1000: bpfvm %ld (%s), kernel %ld\n", p.vret, bpfvm_errmsg(p.vm), p.kret);
			continue;
		}
		static uint8_t k[4][1000], vnext[1000], knext[1000];
		for (int i = 0; i < 4; i++)
			memset(k[i], 'a' + i, sizeof(k[i]));
		uint64_t v = 7;
		for (int i = 0; i < 4; i++) /* the third one: E2BIG (hash) or an eviction (LRU) */
			CHECK(both(&p, i, BPF_MAP_UPDATE_ELEM, k[i], &v, 0));
		CHECK(both(&p, 10, BPF_MAP_LOOKUP_ELEM, k[1], NULL, 0));
		CHECK(both(&p, 11, BPF_MAP_DELETE_ELEM, k[1], NULL, 0));
		CHECK(both(&p, 12, BPF_MAP_LOOKUP_ELEM, k[1], NULL, 0));
		long vr = op(&p, false, BPF_MAP_GET_NEXT_KEY, NULL, vnext, 0);
		long kr = op(&p, true, BPF_MAP_GET_NEXT_KEY, NULL, knext, 0);
		CHECK(vr == kr);
		close_both(&p);
	}
	bpfvm_free(p.vm);
}

/* A socket filter "r0 = 0; exit" on both sides, for prog arrays. */
static void load_trivial(struct pair *p, long *vfd, long *kfd)
{
	static const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	*vfd = bpfvm_bpf(p->vm, BPF_PROG_LOAD, &a, sizeof(a));
	*kfd = kbpf(BPF_PROG_LOAD, &a);
}

/* Compares one update of an fd map (value: a handle, given per side). */
static bool fd_update_both(struct pair *p, const char *what, uint32_t key, long vval, long kval, uint64_t flags)
{
	uint32_t vv = (uint32_t)vval, kv = (uint32_t)kval;
	long vr = op(p, false, BPF_MAP_UPDATE_ELEM, &key, &vv, flags);
	long kr = op(p, true, BPF_MAP_UPDATE_ELEM, &key, &kv, flags);
	if (vr != kr) {
		printf("  %s: update key %u flags %llu: bpfvm %ld (%s), kernel %ld\n", what, key, (unsigned long long)flags,
		       vr, bpfvm_errmsg(p->vm), kr);
		return false;
	}
	return true;
}

/* Prog arrays and map-in-map arrays take only BPF_ANY (checked before the index and the fd); hash of maps
 * take every flag. */
TEST(fd_map_updates_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	long vprog, kprog;
	load_trivial(&p, &vprog, &kprog);
	CHECK(vprog >= 0 && kprog >= 0);
	if (vprog < 0 || kprog < 0) {
		printf("  load: bpfvm %ld (%s), kernel %ld\n", vprog, bpfvm_errmsg(p.vm), kprog);
		bpfvm_free(p.vm);
		return;
	}
	create_both(&p, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	CHECK(p.vret >= 0 && p.kret >= 0);
	static const uint64_t flags[] = { BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, 7, BPF_ANY };
	for (size_t i = 0; i < 5; i++) {
		CHECK(fd_update_both(&p, "prog array", 0, vprog, kprog, flags[i]));
		CHECK(fd_update_both(&p, "prog array (bad fd)", 0, 9999, 9999, flags[i]));
		CHECK(fd_update_both(&p, "prog array (index 2)", 2, 9999, 9999, flags[i]));
	}
	CHECK(fd_update_both(&p, "prog array (index 1)", 1, vprog, kprog, BPF_ANY));
	uint32_t key = 1, val;
	CHECK(op(&p, false, BPF_MAP_LOOKUP_ELEM, &key, &val, 0) == op(&p, true, BPF_MAP_LOOKUP_ELEM, &key, &val, 0));
	CHECK(both(&p, 1, BPF_MAP_DELETE_ELEM, &key, NULL, 0));
	CHECK(both(&p, 2, BPF_MAP_DELETE_ELEM, &key, NULL, 0));
	key = 2;
	CHECK(both(&p, 3, BPF_MAP_DELETE_ELEM, &key, NULL, 0));
	close_both(&p);

	struct pair in = { .vm = p.vm };
	create_both(&in, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(in.vret >= 0 && in.kret >= 0);
	static const uint32_t outers[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS };
	for (size_t t = 0; t < 2; t++) {
		union bpf_attr a = map_attr(outers[t], 4, 4, 2, 0);
		create_attr_both(&p, &a, in.vfd, in.kfd);
		CHECK(p.vret >= 0 && p.kret >= 0);
		for (size_t i = 0; i < 5; i++) {
			CHECK(fd_update_both(&p, "map in map", 0, in.vfd, in.kfd, flags[i]));
			CHECK(fd_update_both(&p, "map in map (bad fd)", 1, 9999, 9999, flags[i]));
			CHECK(fd_update_both(&p, "map in map (index 2)", 2, in.vfd, in.kfd, flags[i]));
		}
		key = 0;
		CHECK(both(&p, 4, BPF_MAP_DELETE_ELEM, &key, NULL, 0));
		CHECK(both(&p, 5, BPF_MAP_DELETE_ELEM, &key, NULL, 0));
		close_both(&p);
	}
	close_both(&in);
	bpfvm_close(p.vm, (int)vprog);
	close((int)kprog);
	bpfvm_free(p.vm);
}

/* Which maps can be inner maps (a prog array cannot: ENOTSUPP), and which inner maps a template accepts:
 * the same type, sizes and flags; for arrays also max_entries unless the template has BPF_F_INNER_MAP. */
TEST(inner_maps_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair in = { .vm = bpfvm_new(&o) }, out = { .vm = in.vm }, cand = { .vm = in.vm };
	static const struct { uint32_t type, ks, vs, max, flags; } tmpl[] = {
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_INNER_MAP },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 8, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 4, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0 },
		{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
		{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 64, 4, 0 },
	};
	static const uint32_t outers[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS };
	for (size_t i = 0; i < sizeof(tmpl) / sizeof(tmpl[0]); i++) {
		union bpf_attr a = map_attr(tmpl[i].type, tmpl[i].ks, tmpl[i].vs, tmpl[i].max, tmpl[i].flags);
		create_attr_both(&in, &a, -1, -1);
		if (in.vret < 0 || in.kret < 0) {
			printf("  inner type %u: bpfvm %ld, kernel %ld\n", tmpl[i].type, in.vret, in.kret);
			test_cur_failed = 1;
			close_both(&in);
			continue;
		}
		for (size_t t = 0; t < 2; t++) {
			union bpf_attr oa = map_attr(outers[t], 4, 4, 2, 0);
			char what[160];
			create_attr_both(&out, &oa, in.vfd, in.kfd);
			snprintf(what, sizeof(what), "outer %u of inner type %u flags 0x%x", outers[t], tmpl[i].type,
				 tmpl[i].flags);
			if (!same_create(&out, what))
				test_cur_failed = 1;
			if (out.vret < 0 || out.kret < 0) {
				close_both(&out);
				continue;
			}
			/* candidates: the same, other max_entries, other flags, another value size */
			const struct { uint32_t max, flags, vs; } var[] = {
				{ tmpl[i].max, tmpl[i].flags, tmpl[i].vs },
				{ tmpl[i].max * 2, tmpl[i].flags, tmpl[i].vs },
				{ tmpl[i].max, tmpl[i].flags ^ BPF_F_RDONLY_PROG, tmpl[i].vs },
				{ tmpl[i].max, tmpl[i].flags, tmpl[i].vs + 8 },
			};
			for (size_t v = 0; v < 4; v++) {
				if (tmpl[i].type == BPF_MAP_TYPE_RINGBUF && v == 1)
					continue; /* 8192: also a ring buffer size */
				union bpf_attr ca = map_attr(tmpl[i].type, tmpl[i].ks, var[v].vs, var[v].max, var[v].flags);
				create_attr_both(&cand, &ca, -1, -1);
				if (cand.vret >= 0 && cand.kret >= 0) {
					snprintf(what, sizeof(what), "outer %u, template type %u flags 0x%x, candidate %zu",
						 outers[t], tmpl[i].type, tmpl[i].flags, v);
					CHECK(fd_update_both(&out, what, 0, cand.vret, cand.kret, BPF_ANY));
				} else {
					snprintf(what, sizeof(what), "candidate type %u max %u flags 0x%x", tmpl[i].type,
						 var[v].max, var[v].flags);
					CHECK(same_create(&cand, what));
				}
				close_both(&cand);
			}
			close_both(&out);
		}
		close_both(&in);
	}
	bpfvm_free(in.vm);
}

/* Maps without keys (queue, stack, bloom filter): every command with a non-NULL key is EINVAL. */
TEST(keyless_commands_with_key_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	static const uint32_t types[] = { BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_BLOOM_FILTER };
	static const int cmds[] = { BPF_MAP_UPDATE_ELEM, BPF_MAP_LOOKUP_ELEM, BPF_MAP_LOOKUP_AND_DELETE_ELEM,
				    BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY };
	for (size_t t = 0; t < 3; t++) {
		create_both(&p, types[t], 0, 8, 4, 0);
		CHECK(p.vret >= 0 && p.kret >= 0);
		uint64_t v = 42, key = 1;
		CHECK(both(&p, 0, BPF_MAP_UPDATE_ELEM, NULL, &v, 0));
		for (size_t c = 0; c < 5; c++) {
			if (!both(&p, (int)c, cmds[c], &key, &v, 0)) {
				printf("  type %u with a key\n", types[t]);
				test_cur_failed = 1;
			}
			if (cmds[c] != BPF_MAP_GET_NEXT_KEY && !both(&p, (int)c, cmds[c], NULL, &v, 0)) {
				printf("  type %u without a key\n", types[t]);
				test_cur_failed = 1;
			}
		}
		close_both(&p);
	}
	/* ring buffers too */
	union bpf_attr a = map_attr(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	create_attr_both(&p, &a, -1, -1);
	uint64_t v = 1, key = 0;
	for (size_t c = 0; c < 5; c++) {
		CHECK(both(&p, (int)c, cmds[c], &key, &v, 0));
		CHECK(both(&p, (int)c, cmds[c], NULL, &v, 0));
	}
	close_both(&p);
	bpfvm_free(p.vm);
}

/* Perf event arrays from user space: keyed like arrays, empty slots delete as ENOENT; stack trace maps
 * refuse updates (EINVAL). */
TEST(perf_and_stack_trace_commands_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	create_both(&p, BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 3, 0);
	CHECK(p.vret >= 0 && p.kret >= 0);
	for (uint32_t k = 0; k < 5; k++) {
		uint32_t v = 0;
		CHECK(both(&p, (int)k, BPF_MAP_DELETE_ELEM, &k, NULL, 0));
		CHECK(both(&p, (int)k, BPF_MAP_LOOKUP_ELEM, &k, NULL, 0));
		CHECK(both(&p, (int)k, BPF_MAP_GET_NEXT_KEY, &k, NULL, 0));
		CHECK(both(&p, (int)k, BPF_MAP_LOOKUP_AND_DELETE_ELEM, &k, NULL, 0));
		CHECK(fd_update_both(&p, "perf event array (a map fd)", k, p.vfd, p.kfd, BPF_ANY));
		CHECK(fd_update_both(&p, "perf event array (flags)", k, p.vfd, p.kfd, BPF_NOEXIST));
		(void)v;
	}
	CHECK(both(&p, 9, BPF_MAP_GET_NEXT_KEY, NULL, NULL, 0));
	close_both(&p);
	create_both(&p, BPF_MAP_TYPE_STACK_TRACE, 4, 64, 4, 0);
	CHECK(p.vret >= 0 && p.kret >= 0);
	uint8_t val[64] = { 1 };
	for (uint32_t k = 0; k < 5; k++) {
		CHECK(both(&p, (int)k, BPF_MAP_UPDATE_ELEM, &k, val, 0));
		CHECK(both(&p, (int)k, BPF_MAP_UPDATE_ELEM, &k, val, BPF_NOEXIST));
		CHECK(both(&p, (int)k, BPF_MAP_LOOKUP_ELEM, &k, NULL, 0));
		CHECK(both(&p, (int)k, BPF_MAP_DELETE_ELEM, &k, NULL, 0));
	}
	CHECK(both(&p, 9, BPF_MAP_GET_NEXT_KEY, NULL, NULL, 0));
	close_both(&p);
	bpfvm_free(p.vm);
}

/* bpf_check_uarg_tail_zero(): an attr larger than a page is E2BIG whatever it holds; bytes past the
 * known union must be zero (E2BIG). */
TEST(attr_size_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct bpfvm *vm = bpfvm_new(&o);
	static union {
		union bpf_attr a;
		uint8_t b[8192];
	} big;
	static const struct { unsigned size; int dirty; } cases[] = {
		{ 4096, -1 }, { 4097, -1 }, { 8192, -1 }, { 4096, 4095 }, { 4096, 2048 }, { 4097, 4096 }, { 600, 599 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&big, 0, sizeof(big));
		big.a.map_type = BPF_MAP_TYPE_ARRAY;
		big.a.key_size = 4;
		big.a.value_size = 4;
		big.a.max_entries = 1;
		if (cases[i].dirty >= 0)
			big.b[cases[i].dirty] = 1;
		long vr = bpfvm_bpf(vm, BPF_MAP_CREATE, &big.a, cases[i].size);
		long kr = syscall(__NR_bpf, BPF_MAP_CREATE, &big.a, cases[i].size);
		kr = kr < 0 ? -errno : kr;
		if ((vr >= 0) != (kr >= 0) || (vr < 0 && vr != kr)) {
			printf("  MAP_CREATE size %u, byte %d set: bpfvm %ld, kernel %ld\n", cases[i].size, cases[i].dirty, vr,
			       kr);
			test_cur_failed = 1;
		}
		if (vr >= 0)
			bpfvm_close(vm, (int)vr);
		if (kr >= 0)
			close((int)kr);
	}
	bpfvm_free(vm);
}

/* OBJ_GET with file_flags: BPF_F_RDONLY handles cannot write (EPERM), BPF_F_WRONLY handles cannot read;
 * other flags and a non-zero bpf_fd are EINVAL.  The kernel side pins into a bpffs mounted for this test
 * in a mount namespace of its own. */
TEST(obj_get_flags_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	char kdir[] = "/tmp/bpfvm-test-bpffs-XXXXXX";
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		SKIP("cannot make a private mount namespace for a bpffs");
	if (!mkdtemp(kdir))
		SKIP("mkdtemp failed");
	if (mount("bpf", kdir, "bpf", 0, NULL)) {
		rmdir(kdir);
		SKIP("cannot mount a bpffs");
	}
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	char kpath[128];
	const char *vpath = "/sys/fs/bpf/objget_flags"; /* NAME under the instance's pin root */
	snprintf(kpath, sizeof(kpath), "%s/objget_flags", kdir);
	create_both(&p, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	CHECK(p.vret >= 0 && p.kret >= 0);
	union bpf_attr a;
	long vr, kr;
#define OBJ_BOTH(cmd_, fd_v, fd_k, ff_, what_)                                                       \
	do {                                                                                          \
		memset(&a, 0, sizeof(a));                                                             \
		a.pathname = (uintptr_t)vpath;                                                        \
		a.bpf_fd = (uint32_t)(fd_v);                                                          \
		a.file_flags = (ff_);                                                                 \
		vr = bpfvm_bpf(p.vm, cmd_, &a, sizeof(a));                                            \
		a.pathname = (uintptr_t)kpath;                                                        \
		a.bpf_fd = (uint32_t)(fd_k);                                                          \
		kr = kbpf(cmd_, &a);                                                                  \
		if ((vr >= 0) != (kr >= 0) || (vr < 0 && vr != kr)) {                                 \
			printf("  %s: bpfvm %ld (%s), kernel %ld\n", what_, vr, bpfvm_errmsg(p.vm), kr); \
			test_cur_failed = 1;                                                          \
		}                                                                                     \
	} while (0)
	OBJ_BOTH(BPF_OBJ_PIN, p.vfd, p.kfd, BPF_F_RDONLY, "OBJ_PIN with file_flags");
	OBJ_BOTH(BPF_OBJ_PIN, p.vfd, p.kfd, 0, "OBJ_PIN");
	OBJ_BOTH(BPF_OBJ_PIN, p.vfd, p.kfd, 0, "OBJ_PIN again");
	OBJ_BOTH(BPF_OBJ_GET, 1, 1, 0, "OBJ_GET with bpf_fd 1");
	OBJ_BOTH(BPF_OBJ_GET, 0, 0, BPF_F_RDONLY | BPF_F_WRONLY, "OBJ_GET RDONLY|WRONLY");
	OBJ_BOTH(BPF_OBJ_GET, 0, 0, 1u << 5, "OBJ_GET unknown flag");
	uint32_t k = 1;
	uint64_t v = 5;
	CHECK(both(&p, 0, BPF_MAP_UPDATE_ELEM, &k, &v, 0));
	struct pair h = { .vm = p.vm, .ks = 4, .vs = 8 };
	static const uint32_t modes[] = { 0, BPF_F_RDONLY, BPF_F_WRONLY };
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_UPDATE_ELEM,
				    BPF_MAP_LOOKUP_AND_DELETE_ELEM, BPF_MAP_DELETE_ELEM };
	for (size_t m = 0; m < 3; m++) {
		OBJ_BOTH(BPF_OBJ_GET, 0, 0, modes[m], "OBJ_GET");
		h.vfd = (int)vr;
		h.kfd = (int)kr;
		if (vr < 0 || kr < 0) {
			close_both(&h);
			continue;
		}
		for (size_t c = 0; c < 5; c++) {
			if (!both(&h, (int)c, cmds[c], &k, &v, 0)) {
				printf("  through a handle of file_flags 0x%x\n", modes[c]);
				test_cur_failed = 1;
			}
			CHECK(both(&p, (int)c, BPF_MAP_UPDATE_ELEM, &k, &v, 0));
		}
		uint32_t ks[2] = { 1, 2 };
		uint64_t vs[2] = { 3, 4 };
		memset(&a, 0, sizeof(a));
		a.batch.map_fd = (uint32_t)h.vfd;
		a.batch.keys = (uintptr_t)ks;
		a.batch.values = (uintptr_t)vs;
		a.batch.count = 2;
		vr = bpfvm_bpf(p.vm, BPF_MAP_UPDATE_BATCH, &a, sizeof(a));
		a.batch.map_fd = (uint32_t)h.kfd;
		a.batch.count = 2;
		kr = kbpf(BPF_MAP_UPDATE_BATCH, &a);
		if (vr != kr) {
			printf("  update batch through file_flags 0x%x: bpfvm %ld, kernel %ld\n", modes[m], vr, kr);
			test_cur_failed = 1;
		}
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)h.vfd;
		vr = bpfvm_bpf(p.vm, BPF_MAP_FREEZE, &a, sizeof(a));
		a.map_fd = (uint32_t)h.kfd;
		kr = kbpf(BPF_MAP_FREEZE, &a);
		if (m > 0 && vr != kr) { /* mode 0 would freeze the map for the next rounds */
			printf("  freeze through file_flags 0x%x: bpfvm %ld, kernel %ld\n", modes[m], vr, kr);
			test_cur_failed = 1;
		}
		close_both(&h);
		if (m == 0)
			break; /* frozen now: the other modes run on a second map below */
	}
	close_both(&p);
	char vfull[256];
	snprintf(vfull, sizeof(vfull), "%s/objget_flags", pin_root);
	unlink(kpath);
	unlink(vfull);
	/* a second map for the RDONLY / WRONLY handles (the first is frozen) */
	create_both(&p, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	OBJ_BOTH(BPF_OBJ_PIN, p.vfd, p.kfd, 0, "OBJ_PIN second");
	for (size_t m = 1; m < 3; m++) {
		OBJ_BOTH(BPF_OBJ_GET, 0, 0, modes[m], "OBJ_GET");
		h.vfd = (int)vr;
		h.kfd = (int)kr;
		if (vr < 0 || kr < 0) {
			close_both(&h);
			continue;
		}
		for (size_t c = 0; c < 5; c++) {
			if (!both(&h, (int)c, cmds[c], &k, &v, 0)) {
				printf("  through a handle of file_flags 0x%x\n", modes[m]);
				test_cur_failed = 1;
			}
		}
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)h.vfd;
		vr = bpfvm_bpf(p.vm, BPF_MAP_FREEZE, &a, sizeof(a));
		a.map_fd = (uint32_t)h.kfd;
		kr = kbpf(BPF_MAP_FREEZE, &a);
		if (vr != kr) {
			printf("  freeze through file_flags 0x%x: bpfvm %ld, kernel %ld\n", modes[m], vr, kr);
			test_cur_failed = 1;
		}
		close_both(&h);
	}
	/* a pinned program: OBJ_GET takes no BPF_F_RDONLY / BPF_F_WRONLY for it (bpf_obj_get_user()) */
	close_both(&p);
	unlink(kpath);
	unlink(vfull);
	long vprog, kprog;
	load_trivial(&p, &vprog, &kprog);
	CHECK(vprog >= 0 && kprog >= 0);
	OBJ_BOTH(BPF_OBJ_PIN, vprog, kprog, 0, "OBJ_PIN of a program");
	for (size_t m = 0; m < 3; m++) {
		OBJ_BOTH(BPF_OBJ_GET, 0, 0, modes[m], "OBJ_GET of a program");
		if (vr >= 0)
			bpfvm_close(p.vm, (int)vr);
		if (kr >= 0)
			close((int)kr);
	}
	bpfvm_close(p.vm, (int)vprog);
	close((int)kprog);
	unlink(kpath);
	snprintf(vfull, sizeof(vfull), "rm -rf %s/%s", pin_root, vpath);
	CHECK(system(vfull) == 0);
#undef OBJ_BOTH
	bpfvm_free(p.vm);
	umount2(kdir, MNT_DETACH);
	rmdir(kdir);
}

/* PROG_LOAD's fd_array index is read as Linux reads it (fd_array + imm * 4, a fault is EFAULT): a wild
 * index is an error, never a read of wild memory. */
TEST(fd_array_index_match)
{
	if (!kernel_ok())
		SKIP(kernel_skip);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = pin_root };
	struct pair p = { .vm = bpfvm_new(&o) };
	create_both(&p, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	CHECK(p.vret >= 0 && p.kret >= 0);
	static const int32_t idx[] = { 0, 1, 0x7fffffff, 0x40000000, -0x40000000, INT32_MIN };
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		struct bpf_insn insns[] = {
			{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_IDX, .imm = idx[i] },
			{ 0 },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		int32_t vfds[2] = { p.vfd, -1 }, kfds[2] = { p.kfd, -1 };
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		a.insns = (uintptr_t)insns;
		a.insn_cnt = 4;
		a.license = (uintptr_t)"GPL";
		a.fd_array = (uintptr_t)vfds;
		long vr = bpfvm_bpf(p.vm, BPF_PROG_LOAD, &a, sizeof(a));
		a.fd_array = (uintptr_t)kfds;
		long kr = kbpf(BPF_PROG_LOAD, &a);
		if ((vr >= 0) != (kr >= 0) || (vr < 0 && vr != kr)) {
			printf("  map index %d: bpfvm %ld (%s), kernel %ld\n", idx[i], vr, bpfvm_errmsg(p.vm), kr);
			test_cur_failed = 1;
		}
		if (vr >= 0)
			bpfvm_close(p.vm, (int)vr);
		if (kr >= 0)
			close((int)kr);
	}
	close_both(&p);
	bpfvm_free(p.vm);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-kmaps-%d", (int)getpid());
	RUN(create_errors_match);
	RUN(array_sequences);
	RUN(hash_sequences);
	RUN(lru_sequences);
	RUN(lpm_sequences);
	RUN(queue_sequences);
	RUN(stack_sequences);
	RUN(percpu_sequences);
	RUN(batch_commands_match);
	RUN(freeze_and_rdonly_match);
	RUN(create_attrs_match);
	RUN(big_hash_keys_match);
	RUN(fd_map_updates_match);
	RUN(inner_maps_match);
	RUN(keyless_commands_with_key_match);
	RUN(perf_and_stack_trace_commands_match);
	RUN(attr_size_match);
	RUN(fd_array_index_match);
	RUN(obj_get_flags_match);
	rmdir(pin_root);
	return test_done();
}
