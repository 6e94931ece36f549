/* test_lpm.c -- LPM_TRIE: random prefixes of three key sizes (IPv4, IPv6 and a 1-byte key) checked against
 * a brute-force reference model; update flags and ENOSPC; get_next_key order and every result compared
 * with the kernel's own LPM trie (bpf(), skipped with the reason when unusable); a pinned map whose writer
 * is killed with SIGKILL mid-updates, and one whose memory is scribbled on, staying bounded and exact. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "maps/maps.h"
#include "test.h"
#include "test_util.h"

#define MAXK 260
#define MAXV 64

static char pin_root[128];

static struct bpfvm *new_vm(void)
{
	return test_vm(1, pin_root);
}

/* One map, either ours or the kernel's (vm == NULL), behind the same calls. */
struct tmap {
	struct bpfvm *vm;
	int fd;
	uint32_t ks, vs, max;
};

static long sys(struct tmap *t, int cmd, union bpf_attr *a)
{
	return t->vm ? bpfvm_bpf(t->vm, cmd, a, sizeof(*a)) : kbpf(cmd, a);
}

static long create(struct tmap *t, struct bpfvm *vm, uint32_t ks, uint32_t vs, uint32_t max)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_LPM_TRIE;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	a.map_flags = BPF_F_NO_PREALLOC;
	*t = (struct tmap){ vm, -1, ks, vs, max };
	long fd = sys(t, BPF_MAP_CREATE, &a);
	t->fd = (int)fd;
	return fd;
}

static void destroy(struct tmap *t)
{
	if (t->fd < 0)
		return;
	if (t->vm)
		bpfvm_close(t->vm, t->fd);
	else
		close(t->fd);
	t->fd = -1;
}

static long telem(struct tmap *t, int cmd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)t->fd;
	a.key = (uintptr_t)key;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = (uintptr_t)val;
	else
		a.value = (uintptr_t)val;
	a.flags = flags;
	return sys(t, cmd, &a);
}
/* test_util.h's UPD/LKP/DEL take an instance and a handle; here a map of either side */
#undef UPD
#undef LKP
#undef DEL
#define UPD(t, k, v, f) telem(t, BPF_MAP_UPDATE_ELEM, k, (void *)(v), f)
#define LKP(t, k, v) telem(t, BPF_MAP_LOOKUP_ELEM, k, v, 0)
#define DEL(t, k) telem(t, BPF_MAP_DELETE_ELEM, k, NULL, 0)
#define NEXT(t, k, n) telem(t, BPF_MAP_GET_NEXT_KEY, k, n, 0)

static const char *kernel_unusable(void)
{
	struct tmap t;
	long fd = create(&t, NULL, 8, 4, 1);
	if (fd < 0)
		return fd == -EPERM ? "bpf() MAP_CREATE: EPERM (not root or unprivileged bpf disabled)"
		     : fd == -ENOSYS ? "bpf() is not available (ENOSYS)"
				     : "bpf() cannot create an LPM_TRIE on this kernel";
	destroy(&t);
	return NULL;
}

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 11);
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, uint32_t bits)
{
	uint32_t n = bits / 8, r = bits % 8;
	if (memcmp(a, b, n))
		return false;
	return !r || ((a[n] ^ b[n]) & (uint8_t)(0xff << (8 - r))) == 0;
}

static uint32_t plen_of(const uint8_t *key)
{
	uint32_t p;
	memcpy(&p, key, 4);
	return p;
}

/* ---- the reference model: a list of (key, value), searched by brute force ----------------------- */

struct model {
	uint32_t ks, vs, max, n;
	uint8_t keys[512][MAXK];
	uint8_t vals[512][MAXV];
};

static uint32_t data_bits(const struct model *md) { return (md->ks - 4) * 8; }

static int model_find(const struct model *md, const uint8_t *key)
{
	for (uint32_t i = 0; i < md->n; i++)
		if (plen_of(md->keys[i]) == plen_of(key) && prefix_eq(md->keys[i] + 4, key + 4, plen_of(key)))
			return (int)i;
	return -1;
}

/* Linux's result for each command; stores the key as given, bits past the prefix included. */
static long model_update(struct model *md, const uint8_t *key, const uint8_t *val, uint64_t flags)
{
	if (flags > BPF_EXIST || plen_of(key) > data_bits(md))
		return -EINVAL;
	int i = model_find(md, key);
	if (i >= 0) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
	} else {
		if (flags == BPF_EXIST)
			return -ENOENT;
		if (md->n == md->max)
			return -ENOSPC;
		i = (int)md->n++;
	}
	memcpy(md->keys[i], key, md->ks);
	memcpy(md->vals[i], val, md->vs);
	return 0;
}

static long model_delete(struct model *md, const uint8_t *key)
{
	if (plen_of(key) > data_bits(md))
		return -EINVAL;
	int i = model_find(md, key);
	if (i < 0)
		return -ENOENT;
	md->n--;
	memcpy(md->keys[i], md->keys[md->n], md->ks);
	memcpy(md->vals[i], md->vals[md->n], md->vs);
	return 0;
}

/* the longest stored prefix of the query, considering only prefixes up to the query's own length */
static int model_lookup(const struct model *md, const uint8_t *key)
{
	uint32_t q = plen_of(key);
	int best = -1;
	if (q > data_bits(md))
		return -1;
	for (uint32_t i = 0; i < md->n; i++) {
		uint32_t p = plen_of(md->keys[i]);
		if (p <= q && (best < 0 || p > plen_of(md->keys[best])) && prefix_eq(md->keys[i] + 4, key + 4, p))
			best = (int)i;
	}
	return best;
}

/* Keys that share prefixes: a few random networks, a random length, random bits after a random point
 * (so stored keys carry bits past their prefix), now and then a length past the key's bits. */
static void random_key(uint64_t *s, uint32_t ks, const uint8_t nets[4][MAXK], uint8_t *key, bool allow_bad)
{
	uint32_t bits = (ks - 4) * 8, plen = rnd(s) % (bits + 1);
	if (rnd(s) % 4 == 0)
		plen = bits - rnd(s) % (bits < 4 ? bits + 1 : 4);
	if (allow_bad && rnd(s) % 40 == 0)
		plen = bits + 1 + rnd(s) % 8;
	memcpy(key, &plen, 4);
	memcpy(key + 4, nets[rnd(s) % 4], ks - 4);
	for (uint32_t b = rnd(s) % (bits + 1); b < bits; b++)
		if (rnd(s) % 2)
			key[4 + b / 8] ^= (uint8_t)(0x80 >> (b % 8));
}

static void random_nets(uint64_t *s, uint32_t ks, uint8_t nets[4][MAXK])
{
	for (int n = 0; n < 4; n++)
		for (uint32_t i = 0; i < ks - 4; i++)
			nets[n][i] = n && i < (ks - 4) / 2 ? nets[0][i] : (uint8_t)rnd(s); /* half share a net */
}

/* Full iteration from NULL; returns the count, or -1 if it does not end with ENOENT within `cap`. */
static int walk(struct tmap *t, uint8_t (*keys)[MAXK], int cap)
{
	uint8_t cur[MAXK], next[MAXK];
	int n = 0;
	long r = NEXT(t, NULL, next);
	while (r == 0 && n < cap) {
		memcpy(keys[n++], next, t->ks);
		memcpy(cur, next, t->ks);
		r = NEXT(t, cur, next);
	}
	return r == -ENOENT ? n : -1;
}

static void print_key(const char *what, const uint8_t *key, uint32_t ks)
{
	printf("    %s %u/", what, plen_of(key));
	for (uint32_t i = 4; i < ks; i++)
		printf("%02x", key[i]);
	printf("\n");
}

/* ---- random operations against the model ---------------------------------------------------------- */

static void against_model(uint32_t ks, uint32_t vs, uint32_t max, uint64_t seed, int steps)
{
	static struct model md;
	static uint8_t got[600][MAXK];
	struct bpfvm *vm = new_vm();
	struct tmap t;
	uint8_t nets[4][MAXK];
	int bad = 0;

	CHECK(create(&t, vm, ks, vs, max) >= 0);
	memset(&md, 0, sizeof(md));
	md.ks = ks, md.vs = vs, md.max = max;
	random_nets(&seed, ks, nets);
	for (int step = 0; step < steps && bad < 3; step++) {
		uint8_t key[MAXK], val[MAXV], out[MAXV];
		uint32_t op = rnd(&seed) % 10;
		random_key(&seed, ks, nets, key, true);
		for (uint32_t i = 0; i < vs; i++)
			val[i] = (uint8_t)rnd(&seed);
		long want, r;
		if (op < 5) {
			uint64_t flags = rnd(&seed) % 16 == 0 ? 4 : rnd(&seed) % 3;
			want = model_update(&md, key, val, flags);
			r = UPD(&t, key, val, flags);
		} else if (op < 8) {
			want = model_delete(&md, key);
			r = DEL(&t, key);
		} else {
			int i = model_lookup(&md, key);
			want = i < 0 ? -ENOENT : 0;
			memset(out, 0xee, sizeof(out));
			r = LKP(&t, key, out);
			if (r == 0 && i >= 0 && memcmp(out, md.vals[i], vs)) {
				printf("  seed step %d: lookup value differs\n", step);
				bad++;
			}
		}
		if (r != want) {
			printf("  step %d op %u: bpfvm %ld, model %ld\n", step, op, r, want);
			print_key("key", key, ks);
			bad++;
		}
		if (step % 97 == 0 || step == steps - 1) {
			/* iteration visits exactly the stored keys, as stored */
			int n = walk(&t, got, 600);
			bool same = n == (int)md.n;
			for (int i = 0; same && i < n; i++) {
				int j = model_find(&md, got[i]);
				same = j >= 0 && !memcmp(got[i], md.keys[j], ks);
			}
			if (!same) {
				printf("  step %d: iteration gives %d keys, model has %u\n", step, n, md.n);
				bad++;
			}
		}
	}
	CHECK(bad == 0);
	CHECK(md.n > max / 4); /* the sequence did fill the map a fair amount */
	bpfvm_free(vm);
}

TEST(ipv4_against_model) { against_model(8, 8, 300, 0x1234567u, 6000); }
TEST(ipv6_against_model) { against_model(20, 12, 300, 0xfeedbeefu, 6000); }
TEST(one_byte_key_against_model) { against_model(5, 1, 200, 0xabcdefu, 4000); }
TEST(long_key_against_model) { against_model(260, 4, 100, 0x777u, 1500); }

TEST(flags_einval_enospc)
{
	struct bpfvm *vm = new_vm();
	struct tmap t;
	uint8_t k[8], v[4] = { 1, 2, 3, 4 }, out[4], nk[8];
	uint32_t plen;
	CHECK(create(&t, vm, 8, 4, 3) >= 0);
#define KEY(p, a, b, c, d) (plen = (p), memcpy(k, &plen, 4), k[4] = (a), k[5] = (b), k[6] = (c), k[7] = (d), k)
	CHECK(NEXT(&t, NULL, nk) == -ENOENT);
	CHECK(UPD(&t, KEY(33, 10, 0, 0, 0), v, 0) == -EINVAL);
	CHECK(UPD(&t, KEY(8, 10, 0, 0, 0), v, BPF_F_LOCK) == -EINVAL);
	CHECK(DEL(&t, KEY(33, 10, 0, 0, 0)) == -EINVAL);
	CHECK(UPD(&t, KEY(8, 10, 0, 0, 0), v, BPF_EXIST) == -ENOENT);
	CHECK(UPD(&t, KEY(8, 10, 0, 0, 0), v, BPF_NOEXIST) == 0);
	CHECK(UPD(&t, KEY(8, 10, 9, 9, 9), v, BPF_NOEXIST) == -EEXIST); /* same /8 */
	CHECK(UPD(&t, KEY(16, 10, 1, 0, 0), v, BPF_ANY) == 0);
	CHECK(UPD(&t, KEY(16, 10, 2, 0, 0), v, BPF_ANY) == 0);   /* under 10/8 beside 10.1/16: 10.0/14 is an intermediate */
	CHECK(UPD(&t, KEY(24, 10, 1, 1, 0), v, BPF_ANY) == -ENOSPC);
	CHECK(UPD(&t, KEY(14, 10, 0, 0, 0), v, BPF_ANY) == -ENOSPC); /* taking over an intermediate node adds one */
	CHECK(UPD(&t, KEY(14, 10, 0, 0, 0), v, BPF_EXIST) == -ENOENT);
	v[0] = 9;
	CHECK(UPD(&t, KEY(16, 10, 2, 7, 7), v, BPF_EXIST) == 0); /* replacing works when full */
	CHECK(LKP(&t, KEY(32, 10, 2, 3, 4), out) == 0 && out[0] == 9);
	CHECK(LKP(&t, KEY(32, 10, 3, 3, 4), out) == 0 && out[0] == 1);  /* 10/8 */
	CHECK(LKP(&t, KEY(32, 11, 3, 3, 4), out) == -ENOENT);
	CHECK(LKP(&t, KEY(12, 10, 2, 3, 4), out) == 0 && out[0] == 1);  /* a /12 query sees only the /8 */
	CHECK(LKP(&t, KEY(32, 10, 2, 3, 4), out) == 0 && out[0] == 9);
	CHECK(LKP(&t, KEY(33, 10, 2, 3, 4), out) == -ENOENT);           /* past the key's bits: no match (Linux) */
	/* postorder: 10.1/16, 10.2/16 (as stored: 10.2.7.7), then 10/8 */
	CHECK(NEXT(&t, NULL, nk) == 0 && plen_of(nk) == 16 && nk[5] == 1);
	CHECK(NEXT(&t, nk, nk) == 0 && plen_of(nk) == 16 && nk[5] == 2 && nk[6] == 7 && nk[7] == 7);
	CHECK(NEXT(&t, nk, nk) == 0 && plen_of(nk) == 8 && nk[4] == 10);
	CHECK(NEXT(&t, nk, nk) == -ENOENT);
	CHECK(NEXT(&t, KEY(14, 10, 0, 0, 0), nk) == 0 && plen_of(nk) == 16 && nk[5] == 1); /* intermediate: restart */
	CHECK(NEXT(&t, KEY(40, 10, 0, 0, 0), nk) == 0 && plen_of(nk) == 16 && nk[5] == 1); /* invalid: restart */
	/* deleting the /8 with two children keeps the split; the slot is free again */
	CHECK(DEL(&t, KEY(8, 10, 0, 0, 0)) == 0);
	CHECK(DEL(&t, KEY(8, 10, 0, 0, 0)) == -ENOENT);
	CHECK(DEL(&t, KEY(14, 10, 0, 0, 0)) == -ENOENT);
	CHECK(LKP(&t, KEY(32, 10, 3, 3, 4), out) == -ENOENT);
	CHECK(UPD(&t, KEY(24, 10, 1, 1, 0), v, BPF_NOEXIST) == 0);
	CHECK(UPD(&t, KEY(0, 0, 0, 0, 0), v, BPF_NOEXIST) == -ENOSPC);
	CHECK(DEL(&t, KEY(16, 10, 1, 0, 0)) == 0);
	CHECK(DEL(&t, KEY(16, 10, 2, 0, 0)) == 0);
	CHECK(DEL(&t, KEY(24, 10, 1, 1, 0)) == 0);
	CHECK(NEXT(&t, NULL, nk) == -ENOENT);
	/* emptied: all three fit again, a /0 included */
	CHECK(UPD(&t, KEY(0, 1, 2, 3, 4), v, BPF_NOEXIST) == 0);
	CHECK(LKP(&t, KEY(32, 200, 2, 3, 4), out) == 0);
	CHECK(UPD(&t, KEY(32, 1, 2, 3, 4), v, BPF_NOEXIST) == 0);
	CHECK(UPD(&t, KEY(32, 1, 2, 3, 5), v, BPF_NOEXIST) == 0);
	CHECK(UPD(&t, KEY(31, 1, 2, 3, 5), v, BPF_NOEXIST) == -ENOSPC);
#undef KEY
	bpfvm_free(vm);
}

/* ---- the kernel as the oracle ----------------------------------------------------------------------- */

static void against_kernel(uint32_t ks, uint32_t vs, uint32_t max, uint64_t seed, int steps)
{
	static uint8_t vkeys[600][MAXK], kkeys[600][MAXK];
	const char *why = kernel_unusable();
	if (why)
		SKIP(why);
	struct bpfvm *vm = new_vm();
	struct tmap v, k;
	uint8_t nets[4][MAXK];
	int bad = 0, walks = 0;

	CHECK(create(&v, vm, ks, vs, max) >= 0);
	CHECK(create(&k, NULL, ks, vs, max) >= 0);
	random_nets(&seed, ks, nets);
	for (int step = 0; step < steps && bad < 3; step++) {
		uint8_t key[MAXK], val[MAXV], vo[MAXV], ko[MAXV];
		uint32_t op = rnd(&seed) % 10;
		long vr, kr;
		random_key(&seed, ks, nets, key, true);
		for (uint32_t i = 0; i < vs; i++)
			val[i] = (uint8_t)rnd(&seed);
		memset(vo, 0xee, sizeof(vo));
		memset(ko, 0xee, sizeof(ko));
		if (op < 6) {
			uint64_t flags = rnd(&seed) % 3;
			vr = UPD(&v, key, val, flags);
			kr = UPD(&k, key, val, flags);
		} else if (op < 8) {
			vr = DEL(&v, key);
			kr = DEL(&k, key);
		} else if (op < 9) {
			vr = LKP(&v, key, vo);
			kr = LKP(&k, key, ko);
		} else {
			/* from an arbitrary key: stored, absent or invalid */
			vr = NEXT(&v, key, vo);
			kr = NEXT(&k, key, ko);
		}
		if (vr != kr || memcmp(vo, ko, sizeof(vo))) {
			printf("  step %d op %u: bpfvm %ld, kernel %ld%s\n", step, op, vr, kr, vr == kr ? " (output differs)" : "");
			print_key("key", key, ks);
			bad++;
		}
		if (step % 50 == 0 || step == steps - 1) {
			/* the whole iteration, in order and byte for byte */
			int vn = walk(&v, vkeys, 600), kn = walk(&k, kkeys, 600);
			walks++;
			if (vn != kn || (vn > 0 && memcmp(vkeys, kkeys, sizeof(vkeys[0]) * (size_t)vn))) {
				printf("  step %d: iteration differs: bpfvm %d keys, kernel %d keys\n", step, vn, kn);
				for (int i = 0; i < vn && i < kn; i++)
					if (memcmp(vkeys[i], kkeys[i], ks)) {
						printf("    first difference at %d:\n", i);
						print_key("bpfvm ", vkeys[i], ks);
						print_key("kernel", kkeys[i], ks);
						break;
					}
				bad++;
			}
		}
	}
	CHECK(bad == 0);
	CHECK(walks > 10);
	destroy(&k);
	bpfvm_free(vm);
}

TEST(ipv4_matches_kernel) { against_kernel(8, 8, 200, 0x5eed1u, 5000); }
TEST(ipv6_matches_kernel) { against_kernel(20, 12, 300, 0x5eed2u, 5000); }
TEST(one_byte_key_matches_kernel) { against_kernel(5, 3, 150, 0x5eed3u, 3000); }
TEST(full_map_matches_kernel) { against_kernel(8, 4, 24, 0x5eed4u, 3000); }

/* ---- processes: a killed writer, a scribbled mapping -------------------------------------------------- */

/* The value a writer stores for a key: a function of the prefix only, so a reader can check any pair. */
static uint64_t value_for(const uint8_t *key, uint32_t ks)
{
	uint64_t h = 1469598103934665603ull ^ plen_of(key);
	for (uint32_t b = 0; b < plen_of(key) && b < (ks - 4) * 8; b++)
		h = (h ^ ((key[4 + b / 8] >> (7 - b % 8)) & 1)) * 1099511628211ull;
	return h;
}

static int open_pin(struct bpfvm *vm, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	return (int)bpfvm_bpf(vm, BPF_OBJ_GET, &a, sizeof(a));
}

/* The map must be an exact LPM trie: iteration ends, has no duplicates, every key is found with its
 * value, random queries agree with a model of the iterated keys, and exactly max entries fit. */
static bool consistent(struct tmap *t, uint64_t seed, const uint8_t nets[4][MAXK], bool check_values)
{
	static struct model md;
	static uint8_t got[600][MAXK];
	int n = walk(t, got, (int)t->max + 1);
	bool ok = true;
	if (n < 0) {
		printf("  iteration does not end within max_entries keys\n");
		return false;
	}
	memset(&md, 0, sizeof(md));
	md.ks = t->ks, md.vs = 8, md.max = t->max;
	for (int i = 0; i < n; i++) {
		uint64_t v;
		if (model_find(&md, got[i]) >= 0) {
			printf("  key %d returned twice\n", i);
			ok = false;
		}
		if (LKP(t, got[i], &v) != 0 || (check_values && v != value_for(got[i], t->ks))) {
			printf("  key %d: lookup fails or the value is not the writer's\n", i);
			ok = false;
		}
		memcpy(md.keys[md.n], got[i], t->ks);
		memcpy(md.vals[md.n++], &v, 8);
	}
	for (int q = 0; q < 2000; q++) {
		uint8_t key[MAXK];
		uint64_t v;
		random_key(&seed, t->ks, nets, key, false);
		int i = model_lookup(&md, key);
		long r = LKP(t, key, &v);
		if (r != (i < 0 ? -ENOENT : 0) || (i >= 0 && memcmp(&v, md.vals[i], 8))) {
			printf("  query %d: lookup %ld, model %d\n", q, r, i);
			ok = false;
			break;
		}
	}
	/* the count and free lists are right: the map takes exactly max entries */
	uint32_t added = 0;
	for (uint32_t x = 0; x < 100000 && md.n + added <= t->max; x++) {
		uint8_t key[MAXK] = { 0 };
		uint32_t plen = (t->ks - 4) * 8;
		uint64_t v = 1;
		memcpy(key, &plen, 4);
		for (uint32_t i = 4; i < t->ks; i++)
			key[i] = (uint8_t)rnd(&seed);
		long r = UPD(t, key, &v, BPF_NOEXIST);
		if (r == -ENOSPC)
			break;
		if (r == 0)
			added++;
		else if (r != -EEXIST) {
			printf("  filling: update %ld\n", r);
			ok = false;
			break;
		}
	}
	if (md.n + added != t->max) {
		printf("  %u keys stored + %u added != max_entries %u\n", md.n, added, t->max);
		ok = false;
	}
	return ok;
}

/* Two writers share a pool of 240 clustered keys and update or delete at random, so that the trie (at
 * most 160 entries) keeps splitting and merging rather than sitting full. */
static void writer_forever(const char *path, uint32_t ks, uint64_t seed, const uint8_t nets[4][MAXK], int ready)
{
	static uint8_t pool[240][MAXK];
	uint64_t ps = 0x9001;
	struct bpfvm *c = new_vm();
	struct tmap t = { c, open_pin(c, path), ks, 8, 0 };
	if (t.fd < 0)
		_exit(2);
	for (int i = 0; i < 240; i++)
		random_key(&ps, ks, nets, pool[i], false);
	for (uint64_t n = 0;; n++) {
		uint8_t *key = pool[rnd(&seed) % 240];
		if (n == 200 && write(ready, "x", 1) != 1)
			_exit(3);
		uint64_t v = value_for(key, ks);
		if (rnd(&seed) % 2)
			UPD(&t, key, &v, BPF_ANY);
		else
			DEL(&t, key);
	}
}

TEST(killed_writer_leaves_consistent_map)
{
	uint64_t seed = 0xdead5eedu;
	uint8_t nets[4][MAXK];
	char path[256];
	struct bpfvm *vm = new_vm();
	struct tmap t;
	snprintf(path, sizeof(path), "%s/lpm_killed", pin_root);
	unlink(path);
	CHECK(create(&t, vm, 20, 8, 160) >= 0);
	random_nets(&seed, 20, nets);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)t.fd;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == 0);
	for (int round = 0; round < 40; round++) {
		pid_t pid[2];
		int ready[2];
		char c[2];
		CHECK(pipe(ready) == 0);
		for (int w = 0; w < 2; w++) {
			pid[w] = fork();
			if (pid[w] == 0)
				writer_forever(path, 20, seed + (uint64_t)round * 31 + (uint64_t)w, nets, ready[1]);
		}
		/* both are writing: let them run a little, then kill them wherever they are */
		CHECK(read(ready[0], c, 1) == 1 && read(ready[0], c + 1, 1) == 1);
		close(ready[0]);
		close(ready[1]);
		usleep((useconds_t)(round % 10) * 700);
		for (int w = 0; w < 2; w++) {
			int st;
			kill(pid[w], SIGKILL);
			waitpid(pid[w], &st, 0);
			CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		}
		/* another process's view of what the writers left, maybe with the lock held by a dead one */
		struct bpfvm *r = new_vm();
		struct tmap rt = { r, open_pin(r, path), 20, 8, 160 };
		CHECK(rt.fd >= 0);
		uint8_t first[MAXK];
		CHECK(NEXT(&rt, NULL, first) == 0); /* the writers did store something */
		CHECK(consistent(&rt, seed ^ (uint64_t)round, nets, true));
		/* empty it again for the next round (consistent() filled it) */
		uint8_t k[MAXK];
		int guard = 0;
		while (NEXT(&rt, NULL, k) == 0 && guard++ < 1000)
			CHECK(DEL(&rt, k) == 0);
		bpfvm_free(r);
	}
	unlink(path);
	bpfvm_free(vm);
}

/* Someone else writes garbage into the mapping.  Without the lock: every operation must stay in bounds
 * and end (ASan and the iteration cap tell).  Holding the lock and dying: recover() must rebuild an exact
 * trie of whatever survives. */
static void scribble(uint8_t *base, const struct map_hdr *h, uint64_t *s)
{
	uint32_t max = h->max_entries, nodes = 2 * max + 1;
	uint32_t stride = (uint32_t)(h->off_d - h->off_a) / nodes;
	for (int i = 0; i < 40; i++) {
		uint8_t *n = base + h->off_a + (uint64_t)(rnd(s) % nodes) * stride;
		uint32_t x = rnd(s), which = rnd(s) % 4;
		uint32_t val = x % 3 == 0 ? x : x % (2 * max + 3); /* wild, or plausible */
		if (which < 3)
			memcpy(n + which * 4, &val, 4);  /* child[0], child[1], prefixlen */
		else
			n[12 + rnd(s) % (stride - 12)] ^= (uint8_t)x;
	}
}

TEST(scribbled_mapping_is_contained)
{
	uint64_t seed = 0xc0ffeeu;
	uint8_t nets[4][MAXK];
	char path[256];
	snprintf(path, sizeof(path), "%s/lpm_scribbled", pin_root);
	random_nets(&seed, 8, nets);
	for (int round = 0; round < 30; round++) {
		struct bpfvm *vm = new_vm();
		struct tmap t;
		unlink(path);
		CHECK(create(&t, vm, 8, 8, 64) >= 0);
		for (int i = 0; i < 200; i++) {
			uint8_t key[MAXK];
			random_key(&seed, 8, nets, key, false);
			uint64_t v = value_for(key, 8);
			UPD(&t, key, &v, BPF_ANY);
			if (i % 4 == 3)
				DEL(&t, key);
		}
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.pathname = (uintptr_t)path;
		a.bpf_fd = (uint32_t)t.fd;
		CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == 0);
		int fd = open(path, O_RDWR);
		struct stat st;
		CHECK(fd >= 0 && fstat(fd, &st) == 0);
		uint8_t *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		CHECK(base != MAP_FAILED);
		struct map_hdr *h = (struct map_hdr *)base;
		if (round % 2 == 0) {
			/* unlocked garbage: operations end and stay in bounds, whatever they answer */
			scribble(base, h, &seed);
			uint32_t junk = rnd(&seed);
			memcpy(round % 4 == 0 ? (void *)&h->free_head : (void *)&h->count, &junk, 4);
			h->seq[round % 3] = rnd(&seed);
			for (int i = 0; i < 300; i++) {
				uint8_t key[MAXK], out[MAXK];
				uint64_t v = 7;
				random_key(&seed, 8, nets, key, true);
				switch (rnd(&seed) % 4) {
				case 0: UPD(&t, key, &v, rnd(&seed) % 3); break;
				case 1: DEL(&t, key); break;
				case 2: LKP(&t, key, &v); break;
				default: NEXT(&t, rnd(&seed) % 2 ? key : NULL, out); break;
				}
			}
			uint8_t cur[MAXK], next[MAXK];
			long r = NEXT(&t, NULL, next);
			for (int i = 0; r == 0 && i < 1000; i++) {
				memcpy(cur, next, 8);
				r = NEXT(&t, cur, next);
			}
			/* a header claiming more nodes than the mapping holds is refused, not followed */
			uint32_t max = h->max_entries;
			uint64_t v = 1;
			h->max_entries = 1u << 20;
			CHECK(UPD(&t, cur, &v, BPF_ANY) == -EUCLEAN);
			CHECK(DEL(&t, cur) == -EUCLEAN);
			CHECK(NEXT(&t, NULL, next) == -EUCLEAN);
			CHECK(LKP(&t, cur, &v) == -ENOENT);
			h->max_entries = max;
		} else {
			/* garbage from a process that dies holding the lock: the next user repairs */
			pid_t pid = fork();
			if (pid == 0) {
				pthread_mutex_lock(&h->lock);
				scribble(base, h, &seed);
				_exit(0);
			}
			int stt;
			waitpid(pid, &stt, 0);
			CHECK(WIFEXITED(stt));
			struct bpfvm *r = new_vm();
			struct tmap rt = { r, open_pin(r, path), 8, 8, 64 };
			CHECK(rt.fd >= 0);
			CHECK(consistent(&rt, seed + (uint64_t)round, nets, false));
			bpfvm_free(r);
		}
		munmap(base, (size_t)st.st_size);
		close(fd);
		unlink(path);
		bpfvm_free(vm);
	}
}

/* The node pool is handed out as needed, so the largest map costs nothing until it fills. */
TEST(largest_map_is_sparse)
{
	struct bpfvm *vm = new_vm();
	struct tmap t;
	uint8_t k[8] = { 0 }, nk[8];
	uint32_t plen = 32;
	uint64_t v, out;
	CHECK(create(&t, vm, 8, 8, 1u << 24) >= 0);
	memcpy(k, &plen, 4);
	for (uint32_t i = 0; i < 1000; i++) {
		memcpy(k + 4, &i, 4);
		v = i;
		CHECK(UPD(&t, k, &v, BPF_NOEXIST) == 0);
	}
	for (uint32_t i = 0; i < 1000; i += 37) {
		memcpy(k + 4, &i, 4);
		CHECK(LKP(&t, k, &out) == 0 && out == i);
	}
	int n = 0;
	long r = NEXT(&t, NULL, nk);
	while (r == 0 && n <= 1000) {
		n++;
		memcpy(k, nk, 8);
		r = NEXT(&t, k, nk);
	}
	CHECK(r == -ENOENT && n == 1000);
	bpfvm_free(vm);
}

/* ---- programs: lookups from many threads while user space rewrites the trie ---------------------- */

struct reader_arg {
	struct tmap *t;
	volatile int *stop;
	long wrong;
};

static void *reader(void *p)
{
	struct reader_arg *ra = p;
	uint8_t key[8];
	uint32_t plen = 32, x = 1;
	memcpy(key, &plen, 4);
	while (!__atomic_load_n(ra->stop, __ATOMIC_RELAXED)) {
		uint64_t v;
		x = x * 1103515245u + 12345u;
		key[4] = 10, key[5] = (uint8_t)(x >> 16), key[6] = (uint8_t)(x >> 8), key[7] = (uint8_t)x;
		/* 10/8 is always there; any hit must be a value written for a prefix of the query */
		if (LKP(ra->t, key, &v) != 0 || (v != 8 && v != key[5]))
			ra->wrong++;
	}
	return NULL;
}

TEST(concurrent_readers_see_a_trie)
{
	struct bpfvm *vm = new_vm();
	struct tmap t;
	uint8_t key[8] = { 0 };
	uint32_t plen = 8;
	uint64_t v = 8;
	CHECK(create(&t, vm, 8, 8, 300) >= 0);
	memcpy(key, &plen, 4);
	key[4] = 10;
	CHECK(UPD(&t, key, &v, 0) == 0);
	volatile int stop = 0;
	struct reader_arg ra[2] = { { &t, &stop, 0 }, { &t, &stop, 0 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, &ra[i]);
	uint64_t s = 99;
	for (int i = 0; i < 20000; i++) {
		uint32_t b = rnd(&s) % 256;
		plen = 16;
		memcpy(key, &plen, 4);
		key[5] = (uint8_t)b;
		v = b;
		if (rnd(&s) % 2)
			UPD(&t, key, &v, 0);
		else
			DEL(&t, key);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(ra[0].wrong == 0 && ra[1].wrong == 0);
	bpfvm_free(vm);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-lpm-%d", (int)getpid());
	RUN(ipv4_against_model);
	RUN(ipv6_against_model);
	RUN(one_byte_key_against_model);
	RUN(long_key_against_model);
	RUN(flags_einval_enospc);
	RUN(ipv4_matches_kernel);
	RUN(ipv6_matches_kernel);
	RUN(one_byte_key_matches_kernel);
	RUN(full_map_matches_kernel);
	RUN(killed_writer_leaves_consistent_map);
	RUN(scribbled_mapping_is_contained);
	RUN(largest_map_is_sparse);
	RUN(concurrent_readers_see_a_trie);
	rmdir(pin_root);
	return test_done();
}
