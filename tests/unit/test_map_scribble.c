/* test_map_scribble.c -- every map type's shared mapping scribbled on by "another process" (the test,
 * through its own mmap of the pinned file) before and while this process uses it: user-space lookups,
 * updates, deletes, iteration and a dump through a second instance (OBJ_GET, as `bpfvm map dump`),
 * programs calling the map helpers, ring buffer and perf consumers.  Any answer is allowed, errors
 * included; what must hold (ASan/UBSan tell, and the alarm) is that nothing reads or writes outside the
 * mapping, nothing loops forever, a dump of a scribbled (then quiet) map ends, and OBJ_GET of a
 * scribbled header either refuses it or gives a map that keeps those promises.
 *
 * Not scribbled: the robust mutex (a process that scribbles on it can hold the lock forever, which no
 * layout can prevent), and the body of fd maps (PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS): sys_map.c
 * takes the object ids stored there as references this instance holds, so a scribbled id, or a chain
 * scribbled so that an element is found twice, makes it drop references it never took.  Their headers
 * are scribbled like every other map's.  Nor do instances other than the creator change fd maps: the ids
 * are the creator's (each slot records the instance that filled it, and only that instance drops
 * references for it). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpfvm.h>
#include "maps/maps.h"
#include "test.h"
#include "test_util.h"

#define NCPUS 2
#define MAXV 64                      /* bytes of a user-space value buffer we need at most */
#define HDR_LEN MAP_HDR_LEN

static char pin_root[128];

struct kind {
	uint32_t type, ks, vs, max, flags;
	const char *name;
};

static const struct kind kinds[] = {
	{ BPF_MAP_TYPE_HASH, 4, 16, 64, 0, "hash" },
	{ BPF_MAP_TYPE_HASH, 12, 24, 8, BPF_F_NO_PREALLOC, "hash (12-byte keys)" },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 16, 64, 0, "percpu_hash" },
	{ BPF_MAP_TYPE_LRU_HASH, 4, 16, 32, 0, "lru_hash" },
	{ BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 12, 32, 0, "lru_percpu_hash" },
	{ BPF_MAP_TYPE_ARRAY, 4, 16, 64, 0, "array" },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 12, 64, 0, "percpu_array" },
	{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0, "prog_array" },
	{ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 8, 0, "array_of_maps" },
	{ BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 8, 0, "hash_of_maps" },
	{ BPF_MAP_TYPE_LPM_TRIE, 8, 16, 64, BPF_F_NO_PREALLOC, "lpm_trie" },
	{ BPF_MAP_TYPE_QUEUE, 0, 16, 16, 0, "queue" },
	{ BPF_MAP_TYPE_STACK, 0, 16, 16, 0, "stack" },
	{ BPF_MAP_TYPE_BLOOM_FILTER, 0, 16, 64, 0, "bloom_filter" },
	{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, "ringbuf" },
	{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0, "perf_event_array" },
	{ BPF_MAP_TYPE_STACK_TRACE, 4, 64, 16, 0, "stack_trace" },
	{ BPF_MAP_TYPE_DEVMAP, 4, 4, 16, 0, "devmap" },
	{ BPF_MAP_TYPE_DEVMAP_HASH, 4, 8, 16, 0, "devmap_hash" },
	{ BPF_MAP_TYPE_CPUMAP, 4, 4, 2, 0, "cpumap" },
	{ BPF_MAP_TYPE_XSKMAP, 4, 4, 8, 0, "xskmap" },
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct bpfvm *new_vm(void)
{
	return test_vm(NCPUS, pin_root);
}

static bool is_fd_map(uint32_t t)
{
	return t == BPF_MAP_TYPE_PROG_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}

static bool keyless(uint32_t t)
{
	return t == BPF_MAP_TYPE_QUEUE || t == BPF_MAP_TYPE_STACK || t == BPF_MAP_TYPE_BLOOM_FILTER ||
	       t == BPF_MAP_TYPE_RINGBUF;
}

static long next_key(struct bpfvm *vm, int fd, const void *k, void *next)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.next_key = (uintptr_t)next;
	return bpfvm_bpf(vm, BPF_MAP_GET_NEXT_KEY, &a, sizeof(a));
}

static int obj_get(struct bpfvm *vm, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	return (int)bpfvm_bpf(vm, BPF_OBJ_GET, &a, sizeof(a));
}

static int asm_prog(struct bpfvm *vm, const char *src, int map_fd)
{
	struct bpf_insn insns[128];
	long n = bpfvm_asm(vm, src, insns, 128);
	if (n <= 0 || n > 128)
		return -EINVAL;
	/* `rN = 0x7e57 ll` is the map: patched to a BPF_PSEUDO_MAP_FD lddw */
	for (long i = 0; i + 1 < n; i++)
		if (insns[i].code == (BPF_LD | BPF_IMM | BPF_DW) && insns[i].imm == 0x7e57) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = map_fd;
		}
	return bpfvm_prog_load(vm, 0, insns, (size_t)n, "scribble");
}

/* A program exercising the map from the program side: key = prandom % 64, lookup (and read the value),
 * update, sometimes delete; push/pop/peek for keyless maps, output for the rings. */
static int load_prog(struct bpfvm *vm, const struct kind *k, int fd)
{
	static const char keyed[] =
		"call 7\nr6 = r0\nr0 &= 63\n*(u32 *)(r10 - 8) = r0\n*(u32 *)(r10 - 4) = r0\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -8\ncall 1\nif r0 == 0 goto upd\nr1 = *(u32 *)(r0 + 0)\n"
		"upd:\n*(u64 *)(r10 - 24) = r6\n*(u64 *)(r10 - 16) = r6\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -8\nr3 = r10\nr3 += -24\nr4 = 0\ncall 2\n"
		"r6 &= 256\nif r6 == 0 goto out\nr1 = 0x7e57 ll\nr2 = r10\nr2 += -8\ncall 3\nout:\nr0 = 0\nexit\n";
	static const char lpm[] =
		"call 7\nr6 = r0\nr0 &= 63\n*(u32 *)(r10 - 8) = 32\n*(u32 *)(r10 - 4) = r0\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -8\ncall 1\nif r0 == 0 goto upd\nr1 = *(u32 *)(r0 + 0)\n"
		"upd:\n*(u64 *)(r10 - 24) = r6\n*(u64 *)(r10 - 16) = r6\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -8\nr3 = r10\nr3 += -24\nr4 = 0\ncall 2\n"
		"r6 &= 256\nif r6 == 0 goto out\nr1 = 0x7e57 ll\nr2 = r10\nr2 += -8\ncall 3\nout:\nr0 = 0\nexit\n";
	static const char pushpop[] =
		"call 7\n*(u64 *)(r10 - 16) = r0\n*(u64 *)(r10 - 8) = r0\nr6 = r0\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -16\nr3 = 2\ncall 87\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -16\ncall 89\n"
		"r6 &= 1\nif r6 == 0 goto out\nr1 = 0x7e57 ll\nr2 = r10\nr2 += -16\ncall 88\nout:\nr0 = 0\nexit\n";
	static const char bloom[] =
		"call 7\nr0 &= 63\n*(u64 *)(r10 - 16) = r0\n*(u64 *)(r10 - 8) = r0\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -16\nr3 = 0\ncall 87\n"
		"r1 = 0x7e57 ll\nr2 = r10\nr2 += -16\ncall 89\nr0 = 0\nexit\n";
	static const char ringbuf[] =
		"call 7\n*(u64 *)(r10 - 8) = r0\nr1 = 0x7e57 ll\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall 130\n"
		"r1 = 0x7e57 ll\nr2 = 24\nr3 = 0\ncall 131\nif r0 == 0 goto out\n*(u64 *)(r0 + 0) = 1\n"
		"r1 = r0\nr2 = 0\ncall 132\nout:\nr0 = 0\nexit\n";
	static const char perf[] =
		"*(u64 *)(r10 - 8) = 5\nr2 = 0x7e57 ll\nr3 = 0xffffffff ll\nr4 = r10\nr4 += -8\nr5 = 8\ncall 25\n"
		"r0 = 0\nexit\n";
	switch (k->type) {
	case BPF_MAP_TYPE_HASH: case BPF_MAP_TYPE_PERCPU_HASH: case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: case BPF_MAP_TYPE_ARRAY: case BPF_MAP_TYPE_PERCPU_ARRAY:
		return k->ks == 4 ? asm_prog(vm, keyed, fd) : -1;
	case BPF_MAP_TYPE_LPM_TRIE: return asm_prog(vm, lpm, fd);
	case BPF_MAP_TYPE_QUEUE: case BPF_MAP_TYPE_STACK: return asm_prog(vm, pushpop, fd);
	case BPF_MAP_TYPE_BLOOM_FILTER: return asm_prog(vm, bloom, fd);
	case BPF_MAP_TYPE_RINGBUF: return asm_prog(vm, ringbuf, fd);
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY: return asm_prog(vm, perf, fd);
	default: return -1;
	}
}

/* The mapping as another process sees it. */
struct shared {
	uint8_t *base;
	size_t len;
	size_t body_lo, body_hi;     /* what may be scribbled past the header */
};

static void put32(uint8_t *p, uint32_t v) { __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED); }

/* n random writes: header fields before the lock, and the body.  Values are wild, or small and plausible
 * (indices, counts, hash chain markers), so that they get followed rather than rejected at once. */
static void scribble(const struct shared *sh, uint64_t *s, int n)
{
	size_t lock_off = offsetof(struct map_hdr, lock) & ~(size_t)3;
	for (int i = 0; i < n; i++) {
		uint64_t r = rnd(s);
		size_t off;
		if (r % 3 == 0 || sh->body_hi <= sh->body_lo)
			off = (size_t)(rnd(s) % (lock_off / 4)) * 4;
		else
			off = sh->body_lo + (size_t)(rnd(s) % ((sh->body_hi - sh->body_lo) / 4)) * 4;
		uint32_t v, x = (uint32_t)rnd(s);
		switch ((r >> 8) % 6) {
		case 0: v = x; break;
		case 1: v = x % 140; break;
		case 2: v = 0x80000000u | (x % 140); break;
		case 3: v = x % 2 ? 0 : UINT32_MAX; break;
		case 4: v = UINT32_MAX - x % 8; break;
		default: v = x % 5000; break;
		}
		put32(sh->base + off, v);
	}
}

struct scribbler {
	const struct shared *sh;
	uint64_t seed;
	int stop;
};

static void *scribble_thr(void *arg)
{
	struct scribbler *sc = arg;
	while (!__atomic_load_n(&sc->stop, __ATOMIC_RELAXED)) {
		scribble(sc->sh, &sc->seed, 4);
		usleep(50);
	}
	return NULL;
}

struct inst {
	struct bpfvm *vm;
	int fd, prog;
	struct bpfvm_ringbuf *rb;
	struct bpfvm_perf_buffer *pb;
	int value_fd;                /* an fd to store in fd maps (a program or the inner map), or -1 */
	bool read_only;              /* fd maps seen from another instance (see the top of the file) */
};

static int count_cb(void *ctx, void *data, size_t size)
{
	(void)data, (void)size;
	(*(int *)ctx)++;
	return 0;
}

static void count_sample(void *ctx, int cpu, void *data, uint32_t size)
{
	(void)cpu, (void)data, (void)size;
	(*(int *)ctx)++;
}

static void random_key(const struct kind *k, uint64_t *s, uint8_t *key)
{
	memset(key, 0, 16);
	uint32_t v = (uint32_t)(rnd(s) % 80);
	if (k->type == BPF_MAP_TYPE_LPM_TRIE) {
		uint32_t plen = (uint32_t)(rnd(s) % 40);
		memcpy(key, &plen, 4);
		memcpy(key + 4, &v, 4);
	} else {
		memcpy(key, &v, 4);
	}
}

/* A few hundred random operations of every kind; any result is fine. */
static void exercise(const struct kind *k, struct inst *in, uint64_t *s, int n)
{
	uint8_t key[16], next[16], val[MAXV];
	for (int i = 0; i < n; i++) {
		random_key(k, s, key);
		memset(val, 0, sizeof(val));
		uint64_t r = rnd(s);
		if (is_fd_map(k->type) && in->value_fd >= 0)
			memcpy(val, &in->value_fd, 4);
		else
			memcpy(val, &r, 8);
		if (k->type == BPF_MAP_TYPE_DEVMAP || k->type == BPF_MAP_TYPE_DEVMAP_HASH ||
		    k->type == BPF_MAP_TYPE_CPUMAP)
			val[0] |= 1, val[4] = 0; /* an ifindex / queue size, no program */
		const void *kp = keyless(k->type) ? NULL : key;
		if (in->read_only && r % 9 != 5)
			r = r / 9 * 9 + 3 + r % 2;
		switch (r % 9) {
		case 0: case 1: elem(in->vm, BPF_MAP_UPDATE_ELEM, in->fd, kp, val, (r >> 8) % 3); break;
		case 2: elem(in->vm, BPF_MAP_DELETE_ELEM, in->fd, kp, NULL, 0); break;
		case 3: case 4: elem(in->vm, BPF_MAP_LOOKUP_ELEM, in->fd, kp, val, 0); break;
		case 5: next_key(in->vm, in->fd, r % 4 ? key : NULL, next); break;
		case 6: elem(in->vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, in->fd, kp, val, 0); break;
		default:
			if (in->prog >= 0) {
				uint64_t r0;
				bpfvm_prog_run(in->vm, in->prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0);
			}
			break;
		}
		if (i % 32 == 0 && in->rb)
			bpfvm_ringbuf_poll(in->rb, 0);
		if (i % 32 == 0 && in->pb)
			bpfvm_perf_buffer_poll(in->pb, 0);
	}
}

/* `bpfvm map dump`: every key by get_next_key, each looked up.  Returns the number of steps, or -1
 * when the iteration did not end within `cap`. */
static long dump(const struct kind *k, struct inst *in, long cap)
{
	uint8_t key[16], next[16], val[MAXV];
	long steps = 0;
	if (keyless(k->type))
		return 0;
	long r = next_key(in->vm, in->fd, NULL, next);
	while (r == 0) {
		if (++steps > cap)
			return -1;
		elem(in->vm, BPF_MAP_LOOKUP_ELEM, in->fd, next, val, 0);
		memcpy(key, next, sizeof(key));
		r = next_key(in->vm, in->fd, key, next);
	}
	return steps;
}

static int create(struct bpfvm *vm, const struct kind *k, int inner)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = k->type;
	a.key_size = k->ks;
	a.value_size = k->vs;
	a.max_entries = k->max;
	a.map_flags = k->flags;
	if (k->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || k->type == BPF_MAP_TYPE_HASH_OF_MAPS)
		a.inner_map_fd = (uint32_t)inner;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static void inst_open(struct inst *in, struct bpfvm *vm, int fd, const struct kind *k, int *counter, bool *first)
{
	*in = (struct inst){ .vm = vm, .fd = fd, .prog = -1, .value_fd = -1 };
	in->read_only = is_fd_map(k->type) && first != NULL && *first;
	if (first)
		*first = true;
	if (fd < 0)
		return;
	in->prog = load_prog(vm, k, fd);
	if (k->type == BPF_MAP_TYPE_RINGBUF && bpfvm_ringbuf_new(vm, fd, count_cb, counter, &in->rb))
		in->rb = NULL;
	if (k->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY &&
	    bpfvm_perf_buffer_new(vm, fd, count_sample, NULL, counter, &in->pb))
		in->pb = NULL;
}

static void inst_close(struct inst *in)
{
	if (in->rb)
		bpfvm_ringbuf_free(in->rb);
	if (in->pb)
		bpfvm_perf_buffer_free(in->pb);
	in->rb = NULL;
	in->pb = NULL;
}

static void run_kind(const struct kind *k, uint64_t seed)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/scribbled", pin_root);
	for (int round = 0; round < 4; round++) {
		uint64_t s = seed * 0x9e3779b97f4a7c15ull + (uint64_t)round + 1;
		int counter = 0;
		struct bpfvm *va = new_vm(), *vb = new_vm();
		int inner = -1;
		if (k->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || k->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			struct kind ik = { BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, "inner" };
			inner = create(va, &ik, -1);
		}
		int fd = create(va, k, inner);
		CHECK(fd >= 0);
		if (fd < 0) {
			printf("  %s: create: %s\n", k->name, bpfvm_errmsg(va));
			bpfvm_free(va);
			bpfvm_free(vb);
			return;
		}
		struct inst a, b;
		bool opened = false;
		inst_open(&a, va, fd, k, &counter, &opened);
		if (k->type == BPF_MAP_TYPE_PROG_ARRAY) {
			static const struct bpf_insn ret0[] = { { .code = 0xb7 }, { .code = 0x95 } };
			a.value_fd = bpfvm_prog_load(va, 0, ret0, 2, "ret0");
		} else if (inner >= 0) {
			a.value_fd = inner;
		}
		exercise(k, &a, &s, 200); /* some content to scribble on */
		unlink(path);
		union bpf_attr pa;
		memset(&pa, 0, sizeof(pa));
		pa.pathname = (uintptr_t)path;
		pa.bpf_fd = (uint32_t)fd;
		CHECK(bpfvm_bpf(va, BPF_OBJ_PIN, &pa, sizeof(pa)) == 0);
		inst_open(&b, vb, obj_get(vb, path), k, &counter, &opened);
		CHECK(b.fd >= 0); /* not scribbled yet: the other instance opens it */

		int mfd = open(path, O_RDWR);
		struct stat st;
		CHECK(mfd >= 0 && fstat(mfd, &st) == 0);
		struct shared sh = { mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0),
				     (size_t)st.st_size, HDR_LEN, (size_t)st.st_size };
		CHECK(sh.base != MAP_FAILED);
		struct map_hdr *h = (struct map_hdr *)(void *)sh.base;
		if (is_fd_map(k->type))
			sh.body_hi = sh.body_lo; /* header only (see the top of the file) */

		/* garbage written between operations, then while they run */
		for (int i = 0; i < 6; i++) {
			scribble(&sh, &s, 1 + (int)(rnd(&s) % 24));
			exercise(k, i % 2 ? &b : &a, &s, 60);
		}
		struct scribbler sc = { &sh, s ^ 0x5555, 0 };
		pthread_t th;
		pthread_create(&th, NULL, scribble_thr, &sc);
		exercise(k, &a, &s, 300);
		exercise(k, &b, &s, 300);
		__atomic_store_n(&sc.stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);

		/* once the garbage stops coming, a dump ends: every step moves forward */
		long cap = 4L * (k->max + 1) * (k->max + 1) + 16;
		CHECK(dump(k, &a, cap) >= 0);
		CHECK(dump(k, &b, cap) >= 0);

		/* opened after its header was scribbled on: refused, or a map that keeps the same promises */
		struct bpfvm *vc = new_vm();
		int cfd = obj_get(vc, path);
		CHECK(cfd >= 0 || cfd == -EINVAL);
		if (cfd >= 0) {
			struct inst c;
			inst_open(&c, vc, cfd, k, &counter, &opened);
			exercise(k, &c, &s, 200);
			CHECK(dump(k, &c, cap) >= 0);
			inst_close(&c);
		}
		bpfvm_free(vc);

		/* a header claiming a bigger map than the file is refused at open */
		uint32_t max = h->max_entries, vs = h->value_size;
		h->max_entries = 1u << 25;
		vc = new_vm();
		CHECK(obj_get(vc, path) == -EINVAL);
		bpfvm_free(vc);
		h->max_entries = max;
		h->value_size = 1u << 27;
		vc = new_vm();
		CHECK(obj_get(vc, path) == -EINVAL);
		bpfvm_free(vc);
		h->value_size = vs;

		inst_close(&a);
		inst_close(&b);
		munmap(sh.base, sh.len);
		close(mfd);
		unlink(path);
		bpfvm_free(vb);
		bpfvm_free(va);
	}
}

TEST(every_type_contains_scribbles)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int before = test_cur_failed;
		if (getenv("SCRIBBLE_VERBOSE"))
			printf("  %s\n", kinds[i].name), fflush(stdout);
		test_cur_failed = 0;
		run_kind(&kinds[i], i + 1);
		if (test_cur_failed)
			printf("  ^ %s\n", kinds[i].name);
		test_cur_failed |= before;
	}
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-scribble-%d", (int)getpid());
	alarm(600); /* an operation that never ends is a failure too: the test dies instead of hanging */
	RUN(every_type_contains_scribbles);
	rmdir(pin_root);
	return test_done();
}
