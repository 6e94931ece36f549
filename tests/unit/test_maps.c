/* test_maps.c -- maps through bpf(): every command, every map type, the errno paths, programs using
 * map helpers, threads, pinning across processes (including a writer killed with SIGKILL). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define N(a) (sizeof(a) / sizeof((a)[0]))

static char pin_root[128];

static struct bpfvm *new_vm(unsigned cpus)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = cpus, .pin_root = pin_root };
	return bpfvm_new(&o);
}

static int mk(struct bpfvm *vm, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	a.map_flags = flags;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static long elem(struct bpfvm *vm, int cmd, int fd, const void *k, void *v, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.value = (uintptr_t)v;
	a.flags = flags;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}
#define UPD(vm, fd, k, v, f) elem(vm, BPF_MAP_UPDATE_ELEM, fd, k, v, f)
#define LKP(vm, fd, k, v) elem(vm, BPF_MAP_LOOKUP_ELEM, fd, k, v, 0)
#define DEL(vm, fd, k) elem(vm, BPF_MAP_DELETE_ELEM, fd, k, NULL, 0)

static long next_key(struct bpfvm *vm, int fd, const void *k, void *next)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.next_key = (uintptr_t)next;
	return bpfvm_bpf(vm, BPF_MAP_GET_NEXT_KEY, &a, sizeof(a));
}

TEST(create_errors)
{
	struct bpfvm *vm = new_vm(2);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 8, 4, 1, 0) == -EINVAL);      /* key must be 4 */
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 0, 1, 0) == -EINVAL);
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 4, 4, 0, 0) == -EINVAL);
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 600, 4, 1, 0) == -E2BIG);
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 4, 4, 1, 1u << 30) == -EINVAL); /* unknown flag */
	CHECK(mk(vm, BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, BPF_F_NO_PREALLOC) == -524 /* ENOTSUPP */);
	CHECK(mk(vm, BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4, 0) == -EINVAL);  /* needs NO_PREALLOC */
	CHECK(mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4095, 0) == -EINVAL);
	CHECK(mk(vm, BPF_MAP_TYPE_QUEUE, 4, 4, 4, 0) == -EINVAL);     /* no keys */
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_RDONLY | BPF_F_WRONLY) == -EINVAL);
	CHECK(mk(vm, 9999, 4, 4, 1, 0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "map_type 9999 is not supported") != NULL);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0) == -EBADF); /* inner_map_fd 0: no such map */
	bpfvm_free(vm);
}

TEST(array_ops)
{
	struct bpfvm *vm = new_vm(2);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	uint32_t k = 2, nk;
	uint64_t v = 77, out = 0;
	CHECK(fd >= 0);
	CHECK(UPD(vm, fd, &k, &v, BPF_ANY) == 0);
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 77);
	CHECK(UPD(vm, fd, &k, &v, BPF_NOEXIST) == -EEXIST);
	k = 4;
	CHECK(UPD(vm, fd, &k, &v, BPF_ANY) == -E2BIG);
	CHECK(LKP(vm, fd, &k, &out) == -ENOENT);
	CHECK(DEL(vm, fd, &k) == -EINVAL);
	CHECK(UPD(vm, fd, &k, &v, 7) == -EINVAL);
	CHECK(next_key(vm, fd, NULL, &nk) == 0 && nk == 0);
	k = 2;
	CHECK(next_key(vm, fd, &k, &nk) == 0 && nk == 3);
	k = 3;
	CHECK(next_key(vm, fd, &k, &nk) == -ENOENT);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, 99, &k, &out, 0) == -EBADF);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, fd, NULL, &out, 0) == -EFAULT);
	/* freeze: user updates fail, lookups work */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	CHECK(bpfvm_bpf(vm, BPF_MAP_FREEZE, &a, sizeof(a)) == 0);
	CHECK(bpfvm_bpf(vm, BPF_MAP_FREEZE, &a, sizeof(a)) == -EPERM); /* as Linux: no write access left */
	CHECK(UPD(vm, fd, &k, &v, BPF_ANY) == -EPERM);
	CHECK(LKP(vm, fd, &k, &out) == 0);
	/* info */
	struct bpf_map_info info;
	memset(&a, 0, sizeof(a));
	memset(&info, 0, sizeof(info));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
	CHECK(info.type == BPF_MAP_TYPE_ARRAY && info.key_size == 4 && info.value_size == 8 && info.max_entries == 4);
	/* read-only map from user space */
	int ro = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_RDONLY);
	k = 0;
	CHECK(UPD(vm, ro, &k, &v, 0) == -EPERM);
	bpfvm_free(vm);
}

TEST(hash_ops_and_iteration)
{
	struct bpfvm *vm = new_vm(2);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 8, 4, 64, 0);
	uint64_t k;
	uint32_t v, out;
	for (k = 0; k < 64; k++) {
		v = (uint32_t)k * 3;
		CHECK(UPD(vm, fd, &k, &v, BPF_NOEXIST) == 0);
	}
	k = 64;
	CHECK(UPD(vm, fd, &k, &v, BPF_ANY) == -E2BIG);
	k = 5;
	CHECK(UPD(vm, fd, &k, &v, BPF_NOEXIST) == -EEXIST);
	k = 100;
	CHECK(UPD(vm, fd, &k, &v, BPF_EXIST) == -ENOENT);
	k = 10;
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 30);
	CHECK(DEL(vm, fd, &k) == 0);
	CHECK(DEL(vm, fd, &k) == -ENOENT);
	CHECK(LKP(vm, fd, &k, &out) == -ENOENT);
	/* iteration visits every key once */
	uint64_t cur, nxt, sum = 0;
	int cnt = 0;
	long r = next_key(vm, fd, NULL, &nxt);
	while (r == 0) {
		sum += nxt;
		cnt++;
		cur = nxt;
		r = next_key(vm, fd, &cur, &nxt);
	}
	CHECK(r == -ENOENT);
	CHECK(cnt == 63);
	CHECK(sum == 63 * 64 / 2 - 10);
	/* lookup_and_delete */
	k = 20;
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &k, &out, 0) == 0 && out == 60);
	CHECK(LKP(vm, fd, &k, &out) == -ENOENT);
	bpfvm_free(vm);
}

TEST(percpu_layout)
{
	struct bpfvm *vm = new_vm(3);
	int fd = mk(vm, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, 0);
	uint32_t k = 1;
	uint64_t vals[3] = { 1, 2, 3 }, out[3] = { 0 }; /* value rounded up to 8 bytes per CPU */
	CHECK(UPD(vm, fd, &k, vals, 0) == 0);
	CHECK(LKP(vm, fd, &k, out) == 0);
	CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3);
	int h = mk(vm, BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 2, 0);
	CHECK(UPD(vm, h, &k, vals, 0) == 0);
	CHECK(LKP(vm, h, &k, out) == 0 && out[2] == 3);
	bpfvm_free(vm);
}

TEST(lru_evicts_least_recently_used)
{
	struct bpfvm *vm = new_vm(1);
	int fd = mk(vm, BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, 0);
	uint32_t k, v = 1, out;
	for (k = 0; k < 4; k++)
		CHECK(UPD(vm, fd, &k, &v, 0) == 0);
	k = 0;
	CHECK(LKP(vm, fd, &k, &out) == 0); /* 0 is now the most recent; 1 the oldest */
	k = 9;
	CHECK(UPD(vm, fd, &k, &v, 0) == 0);
	k = 1;
	CHECK(LKP(vm, fd, &k, &out) == -ENOENT);
	k = 0;
	CHECK(LKP(vm, fd, &k, &out) == 0);
	k = 9;
	CHECK(LKP(vm, fd, &k, &out) == 0);
	bpfvm_free(vm);
}

struct lpm_key {
	uint32_t plen;
	uint8_t ip[4];
};

TEST(lpm_longest_prefix)
{
	struct bpfvm *vm = new_vm(1);
	int fd = mk(vm, BPF_MAP_TYPE_LPM_TRIE, 8, 4, 16, BPF_F_NO_PREALLOC);
	struct lpm_key k8 = { 8, { 10, 0, 0, 0 } }, k24 = { 24, { 10, 1, 2, 0 } }, q = { 32, { 10, 1, 2, 3 } };
	uint32_t v8 = 8, v24 = 24, out;
	CHECK(UPD(vm, fd, &k8, &v8, 0) == 0);
	CHECK(UPD(vm, fd, &k24, &v24, 0) == 0);
	CHECK(LKP(vm, fd, &q, &out) == 0 && out == 24);
	q.ip[2] = 9;
	CHECK(LKP(vm, fd, &q, &out) == 0 && out == 8);
	q.ip[0] = 11;
	CHECK(LKP(vm, fd, &q, &out) == -ENOENT);
	struct lpm_key bad = { 33, { 0 } };
	CHECK(UPD(vm, fd, &bad, &v8, 0) == -EINVAL);
	CHECK(DEL(vm, fd, &k24) == 0);
	q = (struct lpm_key){ 32, { 10, 1, 2, 3 } };
	CHECK(LKP(vm, fd, &q, &out) == 0 && out == 8);
	bpfvm_free(vm);
}

TEST(queue_stack_bloom)
{
	struct bpfvm *vm = new_vm(1);
	int q = mk(vm, BPF_MAP_TYPE_QUEUE, 0, 4, 2, 0), s = mk(vm, BPF_MAP_TYPE_STACK, 0, 4, 2, 0);
	uint32_t v, out;
	for (v = 1; v <= 2; v++) {
		CHECK(UPD(vm, q, NULL, &v, 0) == 0);
		CHECK(UPD(vm, s, NULL, &v, 0) == 0);
	}
	v = 3;
	CHECK(UPD(vm, q, NULL, &v, 0) == -E2BIG);
	CHECK(UPD(vm, q, NULL, &v, BPF_EXIST) == 0); /* overwrites the oldest */
	CHECK(LKP(vm, q, NULL, &out) == 0 && out == 2); /* peek */
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, q, NULL, &out, 0) == 0 && out == 2);
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, s, NULL, &out, 0) == 0 && out == 2);
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, s, NULL, &out, 0) == 0 && out == 1);
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, s, NULL, &out, 0) == -ENOENT);
	int b = mk(vm, BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 100, 0);
	for (v = 0; v < 50; v++)
		CHECK(UPD(vm, b, NULL, &v, 0) == 0);
	int present = 0, false_pos = 0;
	for (v = 0; v < 50; v++)
		present += LKP(vm, b, NULL, &v) == 0;
	for (v = 1000; v < 2000; v++)
		false_pos += LKP(vm, b, NULL, &v) == 0;
	CHECK(present == 50);
	CHECK(false_pos < 100);
	bpfvm_free(vm);
}

static int load(struct bpfvm *vm, const struct bpf_insn *p, size_t n)
{
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, n, "t");
	if (fd < 0)
		printf("  load: %s", bpfvm_errmsg(vm));
	return fd;
}

TEST(program_map_helpers)
{
	struct bpfvm *vm = new_vm(2);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 8, 0);
	/* key 7: value += 5 via lookup (insert 100 first when absent) */
	const struct bpf_insn p[] = {
		INSN(0x62, 10, 0, -4, 7),              /* *(u32 *)(fp-4) = 7 */
		INSN(0x18, 1, 1, 0, fd), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0x85, 0, 0, 0, 1),                /* map_lookup_elem */
		INSN(0x55, 0, 0, 10, 0),               /* if r0 != 0 goto found */
		INSN(0x7a, 10, 0, -16, 100),           /* *(u64 *)(fp-16) = 100 */
		INSN(0x18, 1, 1, 0, fd), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0xbf, 3, 10, 0, 0), INSN(0x07, 3, 0, 0, -16),
		INSN(0xb7, 4, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 2),                /* map_update_elem */
		INSN(0x95, 0, 0, 0, 0),
		INSN(0xb7, 1, 0, 0, 5),                /* found: lock *(u64 *)r0 += 5 */
		INSN(0xdb, 0, 1, 0, 0),
		INSN(0xb7, 0, 0, 0, 1),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	uint64_t r0, out;
	uint32_t k = 7;
	CHECK(prog >= 0);
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 0);
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 1);
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 105);
	/* the program may not write past the value it got */
	const struct bpf_insn bad[] = {
		INSN(0x62, 10, 0, -4, 7),
		INSN(0x18, 1, 1, 0, fd), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0x85, 0, 0, 0, 1),
		INSN(0x15, 0, 0, 1, 0),
		INSN(0x07, 0, 0, 0, 1 << 24), INSN(0x7a, 0, 0, 0, 1), /* far past the map */
		INSN(0x95, 0, 0, 0, 0),
	};
	int bp = load(vm, bad, N(bad));
	CHECK(bpfvm_prog_run(vm, bp, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == -EFAULT);
	/* a forged map pointer is refused by the helper */
	const struct bpf_insn forged[] = {
		INSN(0xb7, 1, 0, 0, 0x1234), INSN(0xbf, 2, 10, 0, 0), INSN(0x85, 0, 0, 0, 1), INSN(0x95, 0, 0, 0, 0),
	};
	int fp = load(vm, forged, N(forged));
	CHECK(bpfvm_prog_run(vm, fp, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_lookup_elem: R1 is not a map") != NULL);
	/* unknown map fd in lddw */
	const struct bpf_insn nofd[] = { INSN(0x18, 1, 1, 0, 99), INSN(0, 0, 0, 0, 0), INSN(0x95, 0, 0, 0, 0) };
	CHECK(bpfvm_prog_load(vm, 0, nofd, N(nofd), "t") == -EBADF);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 0: fd 99 is not pointing to valid bpf_map") != NULL);
	bpfvm_free(vm);
}

TEST(global_data_map_value)
{
	struct bpfvm *vm = new_vm(1);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
	uint32_t k = 0;
	uint64_t init[2] = { 40, 2 }, out[2];
	UPD(vm, fd, &k, init, 0);
	/* r1 = &value + 8 (BPF_PSEUDO_MAP_VALUE); r0 = *(r1 - 8) + *r1; *(r1) = 9 */
	const struct bpf_insn p[] = {
		INSN(0x18, 1, 2, 0, fd), INSN(0, 0, 0, 0, 8),
		INSN(0x79, 0, 1, -8, 0), INSN(0x79, 2, 1, 0, 0), INSN(0x0f, 0, 2, 0, 0),
		INSN(0x7a, 1, 0, 0, 9),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	uint64_t r0;
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 42);
	CHECK(LKP(vm, fd, &k, out) == 0 && out[1] == 9);
	const struct bpf_insn oob[] = { INSN(0x18, 1, 2, 0, fd), INSN(0, 0, 0, 0, 16), INSN(0x95, 0, 0, 0, 0) };
	CHECK(bpfvm_prog_load(vm, 0, oob, N(oob), "t") == -EACCES);
	bpfvm_free(vm);
}

static int rb_count;
static uint64_t rb_sum;
static int rb_cb(void *ctx, void *data, size_t size)
{
	(void)ctx;
	uint64_t v;
	if (size == 8) {
		memcpy(&v, data, 8);
		rb_sum += v;
	}
	rb_count++;
	return 0;
}

TEST(ringbuf_from_program)
{
	struct bpfvm *vm = new_vm(1);
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	CHECK(rb >= 0);
	/* reserve 8 bytes, store r1's length, submit; then output 8 bytes of the stack; discard one */
	const struct bpf_insn p[] = {
		INSN(0xbf, 6, 2, 0, 0),                      /* r6 = mem len */
		INSN(0x18, 1, 1, 0, rb), INSN(0, 0, 0, 0, 0),
		INSN(0xb7, 2, 0, 0, 8), INSN(0xb7, 3, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 131),                    /* ringbuf_reserve */
		INSN(0x15, 0, 0, 4, 0),
		INSN(0x7b, 0, 6, 0, 0),
		INSN(0xbf, 1, 0, 0, 0), INSN(0xb7, 2, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 132),                    /* ringbuf_submit */
		INSN(0x7a, 10, 0, -8, 1000),
		INSN(0x18, 1, 1, 0, rb), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -8),
		INSN(0xb7, 3, 0, 0, 8), INSN(0xb7, 4, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 130),                    /* ringbuf_output */
		INSN(0x18, 1, 1, 0, rb), INSN(0, 0, 0, 0, 0),
		INSN(0xb7, 2, 0, 0, 16), INSN(0xb7, 3, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 131),
		INSN(0x15, 0, 0, 3, 0),
		INSN(0xbf, 1, 0, 0, 0), INSN(0xb7, 2, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 133),                    /* ringbuf_discard */
		INSN(0xb7, 0, 0, 0, 0),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = bpfvm_prog_load(vm, 0, p, N(p), "rb");
	CHECK(prog >= 0);
	uint8_t mem[5] = { 0 };
	uint64_t r0;
	struct bpfvm_ringbuf *c;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_cb, NULL, &c) == 0);
	rb_count = 0;
	rb_sum = 0;
	for (int i = 0; i < 300; i++) { /* enough to wrap the 4 KiB ring several times */
		CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, mem, sizeof(mem), &r0) == 0);
		if (i % 50 == 49)
			bpfvm_ringbuf_poll(c, 0);
	}
	bpfvm_ringbuf_poll(c, 0);
	CHECK_EQ_U64(rb_count, 600);
	CHECK_EQ_U64(rb_sum, 300 * (5 + 1000));
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

static int perf_samples;
static void perf_cb(void *ctx, int cpu, void *data, uint32_t size)
{
	(void)ctx, (void)cpu, (void)data;
	perf_samples += size == 8;
}

TEST(perf_event_output_from_program)
{
	struct bpfvm *vm = new_vm(2);
	int pa = mk(vm, BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 0, 0);
	CHECK(pa >= 0);
	const struct bpf_insn p[] = {
		INSN(0x7a, 10, 0, -8, 5),
		INSN(0x18, 2, 1, 0, pa), INSN(0, 0, 0, 0, 0),
		INSN(0x18, 3, 0, 0, -1), INSN(0, 0, 0, 0, 0),  /* BPF_F_CURRENT_CPU */
		INSN(0xbf, 4, 10, 0, 0), INSN(0x07, 4, 0, 0, -8),
		INSN(0xb7, 5, 0, 0, 8),
		INSN(0x85, 0, 0, 0, 25),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = bpfvm_prog_load(vm, 0, p, N(p), "perf");
	uint64_t r0;
	struct bpfvm_perf_buffer *pb;
	CHECK(bpfvm_perf_buffer_new(vm, pa, perf_cb, NULL, NULL, &pb) == 0);
	perf_samples = 0;
	for (int i = 0; i < 10; i++)
		CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 0);
	CHECK(bpfvm_perf_buffer_poll(pb, 0) == 10);
	CHECK(perf_samples == 10);
	bpfvm_perf_buffer_free(pb);
	bpfvm_free(vm);
}

TEST(tail_calls_through_prog_array)
{
	struct bpfvm *vm = new_vm(1);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0);
	const struct bpf_insn target[] = { INSN(0xb7, 0, 0, 0, 42), INSN(0x95, 0, 0, 0, 0) };
	int t = load(vm, target, N(target));
	/* tail_call(ctx, pa, r6) for r6 = index from memory; falls through to r0 = 7 */
	const struct bpf_insn entry[] = {
		INSN(0x61, 3, 1, 0, 0),
		INSN(0x18, 2, 1, 0, pa), INSN(0, 0, 0, 0, 0),
		INSN(0x85, 0, 0, 0, 12),
		INSN(0xb7, 0, 0, 0, 7),
		INSN(0x95, 0, 0, 0, 0),
	};
	int e = load(vm, entry, N(entry));
	uint32_t k = 1, idx;
	CHECK(UPD(vm, pa, &k, &t, 0) == 0);
	uint64_t r0;
	idx = 1;
	CHECK(bpfvm_prog_run(vm, e, BPFVM_ENGINE_INTERP, &idx, 4, &r0) == 0 && r0 == 42);
	idx = 2;
	CHECK(bpfvm_prog_run(vm, e, BPFVM_ENGINE_INTERP, &idx, 4, &r0) == 0 && r0 == 7);
	idx = 100;
	CHECK(bpfvm_prog_run(vm, e, BPFVM_ENGINE_INTERP, &idx, 4, &r0) == 0 && r0 == 7);
	uint32_t id;
	CHECK(LKP(vm, pa, &k, &id) == 0 && id > 0);
	/* the array keeps the program alive after its handle is closed */
	bpfvm_close(vm, t);
	idx = 1;
	CHECK(bpfvm_prog_run(vm, e, BPFVM_ENGINE_INTERP, &idx, 4, &r0) == 0 && r0 == 42);
	CHECK(DEL(vm, pa, &k) == 0);
	CHECK(bpfvm_prog_run(vm, e, BPFVM_ENGINE_INTERP, &idx, 4, &r0) == 0 && r0 == 7);
	/* a map value that is not a program fd */
	int notprog = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	CHECK(UPD(vm, pa, &k, &notprog, 0) == -EINVAL);
	bpfvm_free(vm);
}

TEST(map_in_map)
{
	struct bpfvm *vm = new_vm(1);
	int inner = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 2;
	a.inner_map_fd = (uint32_t)inner;
	int outer = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(outer >= 0);
	uint32_t k = 1, k0 = 0;
	uint64_t v = 99;
	CHECK(UPD(vm, inner, &k, &v, 0) == 0);
	CHECK(UPD(vm, outer, &k0, &inner, 0) == 0);
	int wrong = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4, 2, 0);
	CHECK(UPD(vm, outer, &k0, &wrong, 0) == -EINVAL);
	/* program: m = lookup(outer, 0); v = lookup(m, 1); return *v */
	const struct bpf_insn p[] = {
		INSN(0x62, 10, 0, -4, 0),
		INSN(0x18, 1, 1, 0, outer), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0x85, 0, 0, 0, 1),
		INSN(0x15, 0, 0, 7, 0),
		INSN(0x62, 10, 0, -4, 1),
		INSN(0xbf, 1, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0x85, 0, 0, 0, 1),
		INSN(0x15, 0, 0, 1, 0),
		INSN(0x79, 0, 0, 0, 0),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	uint64_t r0;
	bpfvm_close(vm, inner); /* the outer map keeps it */
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 99);
	bpfvm_free(vm);
}

TEST(batch_ops)
{
	struct bpfvm *vm = new_vm(1);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 4, 32, 0);
	uint32_t keys[20], vals[20];
	for (uint32_t i = 0; i < 20; i++) {
		keys[i] = i;
		vals[i] = i * 10;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.keys = (uintptr_t)keys;
	a.batch.values = (uintptr_t)vals;
	a.batch.count = 20;
	CHECK(bpfvm_bpf(vm, BPF_MAP_UPDATE_BATCH, &a, sizeof(a)) == 0 && a.batch.count == 20);
	uint32_t ok[8], ov[8], tok = 0, total = 0, sum = 0;
	for (int round = 0; round < 10; round++) {
		memset(&a, 0, sizeof(a));
		a.batch.map_fd = (uint32_t)fd;
		a.batch.in_batch = round ? (uintptr_t)&tok : 0;
		a.batch.out_batch = (uintptr_t)&tok;
		a.batch.keys = (uintptr_t)ok;
		a.batch.values = (uintptr_t)ov;
		a.batch.count = 8;
		long r = bpfvm_bpf(vm, BPF_MAP_LOOKUP_BATCH, &a, sizeof(a));
		for (uint32_t i = 0; i < a.batch.count; i++) {
			CHECK(ov[i] == ok[i] * 10);
			sum += ok[i];
		}
		total += a.batch.count;
		if (r == -ENOENT)
			break;
		CHECK(r == 0);
	}
	CHECK(total == 20);
	CHECK(sum == 190);
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.keys = (uintptr_t)keys;
	a.batch.count = 5;
	CHECK(bpfvm_bpf(vm, BPF_MAP_DELETE_BATCH, &a, sizeof(a)) == 0 && a.batch.count == 5);
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.keys = (uintptr_t)ok;
	a.batch.values = (uintptr_t)ov;
	a.batch.count = 8;
	total = 0;
	while (bpfvm_bpf(vm, BPF_MAP_LOOKUP_AND_DELETE_BATCH, &a, sizeof(a)) == 0 || a.batch.count) {
		total += a.batch.count;
		if (!a.batch.count)
			break;
		a.batch.count = 8;
	}
	CHECK(total == 15);
	uint32_t nk;
	CHECK(next_key(vm, fd, NULL, &nk) == -ENOENT);
	bpfvm_free(vm);
}

struct thr {
	struct bpfvm *vm;
	int prog, map;
	int ok;
};

static void *thr_run(void *arg)
{
	struct thr *t = arg;
	uint64_t r0;
	t->ok = 1;
	for (int i = 0; i < 20000; i++)
		if (bpfvm_prog_run(t->vm, t->prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0))
			t->ok = 0;
	return NULL;
}

static void *thr_user(void *arg)
{
	struct thr *t = arg;
	t->ok = 1;
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t k = 1000 + i % 50;
		uint64_t v = i;
		if (UPD(t->vm, t->map, &k, &v, 0) || DEL(t->vm, t->map, &k))
			t->ok = 0;
	}
	return NULL;
}

TEST(threads_no_lost_updates)
{
	struct bpfvm *vm = new_vm(4);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 128, 0);
	uint32_t k = 1;
	uint64_t zero = 0, out;
	UPD(vm, fd, &k, &zero, 0);
	/* lookup key 1 and atomically add 1 */
	const struct bpf_insn p[] = {
		INSN(0x62, 10, 0, -4, 1),
		INSN(0x18, 1, 1, 0, fd), INSN(0, 0, 0, 0, 0),
		INSN(0xbf, 2, 10, 0, 0), INSN(0x07, 2, 0, 0, -4),
		INSN(0x85, 0, 0, 0, 1),
		INSN(0x15, 0, 0, 2, 0),
		INSN(0xb7, 1, 0, 0, 1), INSN(0xdb, 0, 1, 0, 0),
		INSN(0x95, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	struct thr t[5];
	pthread_t th[5];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ vm, prog, fd, 0 };
		pthread_create(&th[i], NULL, thr_run, &t[i]);
	}
	t[4] = (struct thr){ vm, prog, fd, 0 };
	pthread_create(&th[4], NULL, thr_user, &t[4]); /* user space inserting/deleting concurrently */
	for (int i = 0; i < 5; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	CHECK(LKP(vm, fd, &k, &out) == 0);
	CHECK_EQ_U64(out, 4 * 20000);
	bpfvm_free(vm);
}

TEST(pin_and_share_across_processes)
{
	struct bpfvm *vm = new_vm(1);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 64, 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/shared_map", pin_root);
	unlink(path);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)fd;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == 0);
	CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == -EEXIST);
	a.pathname = (uintptr_t)"/etc/passwd";
	CHECK(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)) == -EINVAL);
	pid_t pid = fork();
	if (pid == 0) {
		/* another process: open the pin, write keys forever until killed */
		struct bpfvm *c = new_vm(1);
		union bpf_attr g;
		memset(&g, 0, sizeof(g));
		g.pathname = (uintptr_t)path;
		int cfd = (int)bpfvm_bpf(c, BPF_OBJ_GET, &g, sizeof(g));
		if (cfd < 0)
			_exit(2);
		for (uint64_t i = 0;; i++) {
			uint32_t k = (uint32_t)(i % 40);
			UPD(c, cfd, &k, &i, 0);
			if (i % 3 == 0)
				DEL(c, cfd, &k);
		}
	}
	usleep(200000);
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st));
	/* the writer died at an arbitrary point, maybe holding the lock: the map must stay usable */
	struct bpfvm *r = new_vm(1);
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	int rfd = (int)bpfvm_bpf(r, BPF_OBJ_GET, &a, sizeof(a));
	CHECK(rfd >= 0);
	uint32_t cur, nk;
	int n = 0;
	long res = next_key(r, rfd, NULL, &nk);
	while (res == 0 && n < 100) {
		uint64_t v;
		CHECK(LKP(r, rfd, &nk, &v) == 0);
		CHECK(nk < 40);
		n++;
		cur = nk;
		res = next_key(r, rfd, &cur, &nk);
	}
	CHECK(n > 0 && n <= 40);
	/* and still writable to its capacity */
	for (uint32_t k = 100; k < 110; k++) {
		uint64_t v = k;
		CHECK(UPD(r, rfd, &k, &v, 0) == 0);
	}
	/* the first process sees the other processes' writes */
	uint32_t k = 105;
	uint64_t v;
	CHECK(LKP(vm, fd, &k, &v) == 0 && v == 105);
	/* a file that is not a map */
	char junk[256];
	snprintf(junk, sizeof(junk), "%s/junk", pin_root);
	FILE *f = fopen(junk, "w");
	fputs("not a map", f);
	fclose(f);
	a.pathname = (uintptr_t)junk;
	CHECK(bpfvm_bpf(r, BPF_OBJ_GET, &a, sizeof(a)) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(r), "not a bpfvm pinned map") != NULL);
	unlink(junk);
	unlink(path);
	bpfvm_free(r);
	bpfvm_free(vm);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-maps-%d", (int)getpid());
	RUN(create_errors);
	RUN(array_ops);
	RUN(hash_ops_and_iteration);
	RUN(percpu_layout);
	RUN(lru_evicts_least_recently_used);
	RUN(lpm_longest_prefix);
	RUN(queue_stack_bloom);
	RUN(program_map_helpers);
	RUN(global_data_map_value);
	RUN(ringbuf_from_program);
	RUN(perf_event_output_from_program);
	RUN(tail_calls_through_prog_array);
	RUN(map_in_map);
	RUN(batch_ops);
	RUN(threads_no_lost_updates);
	RUN(pin_and_share_across_processes);
	rmdir(pin_root);
	return test_done();
}
