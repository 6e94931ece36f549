/* test_maps.c -- maps through bpf(): every command, every map type, the errno paths, programs using
 * map helpers, threads, pinning across processes (including a writer killed with SIGKILL), maps of maps
 * shared between instances (each program sees only its own instance's elements). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char pin_root[128];

static struct bpfvm *new_vm(unsigned cpus)
{
	return test_vm(cpus, pin_root);
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

TEST(create_errors)
{
	struct bpfvm *vm = new_vm(2);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 8, 4, 1, 0) == -EINVAL);      /* key must be 4 */
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 0, 1, 0) == -EINVAL);
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 4, 4, 0, 0) == -EINVAL);
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 4194250, 8, 1, 0) == -E2BIG); /* an element above 4 MiB (Linux KMALLOC_MAX_SIZE) */
	int big = mk(vm, BPF_MAP_TYPE_HASH, 600, 4, 1, 0);          /* keys above 512 bytes are fine */
	CHECK(big >= 0);
	bpfvm_close(vm, big);
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
		INSN_ID(STW, 10, 0, -4, 7),              /* *(u32 *)(fp-4) = 7 */
		INSN_ID(LDDW, 1, 1, 0, fd), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),                /* map_lookup_elem */
		INSN_ID(JNE_K, 0, 0, 10, 0),               /* if r0 != 0 goto found */
		INSN_ID(STDW, 10, 0, -16, 100),           /* *(u64 *)(fp-16) = 100 */
		INSN_ID(LDDW, 1, 1, 0, fd), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(MOV64_X, 3, 10, 0, 0), INSN_ID(ADD64_K, 3, 0, 0, -16),
		INSN_ID(MOV64_K, 4, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 2),                /* map_update_elem */
		INSN_ID(EXIT, 0, 0, 0, 0),
		INSN_ID(MOV64_K, 1, 0, 0, 5),                /* found: lock *(u64 *)r0 += 5 */
		INSN_ID(AADD64, 0, 1, 0, 0),
		INSN_ID(MOV64_K, 0, 0, 0, 1),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	uint64_t r0, out;
	uint32_t k = 7;
	CHECK(prog >= 0);
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 0);
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 1);
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 105);
	/* The unsafe ones on an unverified instance (the verifier refuses them at load: test_verifier.c),
	 * so that the run-time checks are what stops them. */
	struct bpfvm_opts uo = { .sz = sizeof(uo), .nr_cpus = 2, .pin_root = pin_root, .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *uvm = bpfvm_new(&uo);
	int ufd = mk(uvm, BPF_MAP_TYPE_HASH, 4, 8, 8, 0);
	CHECK(UPD(uvm, ufd, &k, &out, 0) == 0);
	/* the program may not write past the value it got */
	const struct bpf_insn bad[] = {
		INSN_ID(STW, 10, 0, -4, 7),
		INSN_ID(LDDW, 1, 1, 0, ufd), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),
		INSN_ID(JEQ_K, 0, 0, 1, 0),
		INSN_ID(ADD64_K, 0, 0, 0, 1 << 24), INSN_ID(STDW, 0, 0, 0, 1), /* far past the map */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int bp = load(uvm, bad, N(bad));
	CHECK(bpfvm_prog_run(uvm, bp, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == -EFAULT);
	/* a forged map pointer is refused by the helper */
	const struct bpf_insn forged[] = {
		INSN_ID(MOV64_K, 1, 0, 0, 0x1234), INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(CALL, 0, 0, 0, 1), INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fp = load(uvm, forged, N(forged));
	CHECK(bpfvm_prog_run(uvm, fp, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(uvm), "bpf_map_lookup_elem: R1 is not a map") != NULL);
	/* and on this instance the verifier refuses both at load */
	CHECK(bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, forged, N(forged), "t") == -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 2: R1 type=scalar expected=map_ptr") != NULL);
	bpfvm_free(uvm);
	/* unknown map fd in lddw */
	const struct bpf_insn nofd[] = { INSN_ID(LDDW, 1, 1, 0, 99), LDDW_HI(0), INSN_ID(EXIT, 0, 0, 0, 0) };
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
		INSN_ID(LDDW, 1, 2, 0, fd), LDDW_HI(8),
		INSN_ID(LDXDW, 0, 1, -8, 0), INSN_ID(LDXDW, 2, 1, 0, 0), INSN_ID(ADD64_X, 0, 2, 0, 0),
		INSN_ID(STDW, 1, 0, 0, 9),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int prog = load(vm, p, N(p));
	uint64_t r0;
	CHECK(bpfvm_prog_run(vm, prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 42);
	CHECK(LKP(vm, fd, &k, out) == 0 && out[1] == 9);
	const struct bpf_insn oob[] = { INSN_ID(LDDW, 1, 2, 0, fd), LDDW_HI(16), INSN_ID(EXIT, 0, 0, 0, 0) };
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
		INSN_ID(MOV64_X, 6, 2, 0, 0),                      /* r6 = mem len */
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_K, 2, 0, 0, 8), INSN_ID(MOV64_K, 3, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 131),                    /* ringbuf_reserve */
		INSN_ID(JEQ_K, 0, 0, 4, 0),
		INSN_ID(STXDW, 0, 6, 0, 0),
		INSN_ID(MOV64_X, 1, 0, 0, 0), INSN_ID(MOV64_K, 2, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 132),                    /* ringbuf_submit */
		INSN_ID(STDW, 10, 0, -8, 1000),
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -8),
		INSN_ID(MOV64_K, 3, 0, 0, 8), INSN_ID(MOV64_K, 4, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 130),                    /* ringbuf_output */
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_K, 2, 0, 0, 16), INSN_ID(MOV64_K, 3, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 131),
		INSN_ID(JEQ_K, 0, 0, 3, 0),
		INSN_ID(MOV64_X, 1, 0, 0, 0), INSN_ID(MOV64_K, 2, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 133),                    /* ringbuf_discard */
		INSN_ID(MOV64_K, 0, 0, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
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
	int pa = mk(vm, BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 2, 0); /* one ring per CPU (slot) */
	CHECK(pa >= 0);
	const struct bpf_insn p[] = {
		INSN_ID(STDW, 10, 0, -8, 5),
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0),
		INSN_ID(LDDW, 3, 0, 0, -1), LDDW_HI(0),  /* BPF_F_CURRENT_CPU */
		INSN_ID(MOV64_X, 4, 10, 0, 0), INSN_ID(ADD64_K, 4, 0, 0, -8),
		INSN_ID(MOV64_K, 5, 0, 0, 8),
		INSN_ID(CALL, 0, 0, 0, 25),
		INSN_ID(EXIT, 0, 0, 0, 0),
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
	const struct bpf_insn target[] = { INSN_ID(MOV64_K, 0, 0, 0, 42), INSN_ID(EXIT, 0, 0, 0, 0) };
	int t = load(vm, target, N(target));
	/* tail_call(ctx, pa, r6) for r6 = index from memory; falls through to r0 = 7 */
	const struct bpf_insn entry[] = {
		INSN_ID(LDXW, 3, 1, 0, 0),
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0),
		INSN_ID(CALL, 0, 0, 0, 12),
		INSN_ID(MOV64_K, 0, 0, 0, 7),
		INSN_ID(EXIT, 0, 0, 0, 0),
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
		INSN_ID(STW, 10, 0, -4, 0),
		INSN_ID(LDDW, 1, 1, 0, outer), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),
		INSN_ID(JEQ_K, 0, 0, 7, 0),
		INSN_ID(STW, 10, 0, -4, 1),
		INSN_ID(MOV64_X, 1, 0, 0, 0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),
		INSN_ID(JEQ_K, 0, 0, 1, 0),
		INSN_ID(LDXDW, 0, 0, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
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

/* ---- programs written as assembler text ----------------------------------------------------------
 * `rN = MAPFD(fd) ll` is patched to a BPF_PSEUDO_MAP_FD lddw (the assembler has no syntax for it). */

__attribute__((format(printf, 3, 4)))
static int asm_prog(struct bpfvm *vm, uint32_t type, const char *fmt, ...)
{
	char src[4096];
	struct bpf_insn insns[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(src, sizeof(src), fmt, ap);
	va_end(ap);
	long n = bpfvm_asm(vm, src, insns, 256);
	if (n <= 0 || n > 256) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -EINVAL;
	}
	test_patch_markers(insns, n);
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "a");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

static long run_err(struct bpfvm *vm, int fd, void *mem, size_t len, uint64_t *r0)
{
	*r0 = 0xdeadbeef;
	return bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, r0);
}

/* lookup key 0 of map into r0 (exit 7 when NULL), then BODY */
#define LOOKUP0 "*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto null\n"
#define NULL_EXIT "null:\nr0 = 7\nexit\n"

TEST(prog_rdonly_wronly_flags)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH };
	for (size_t t = 0; t < 2; t++) {
		struct bpfvm *vm = new_vm(1);
		uint32_t k = 0;
		uint64_t v = 5, out;
		int ro = mk(vm, types[t], 4, 8, 2, BPF_F_RDONLY_PROG), wo = mk(vm, types[t], 4, 8, 2, BPF_F_WRONLY_PROG);
		int other = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 2, 0);
		CHECK(UPD(vm, ro, &k, &v, 0) == 0 && UPD(vm, wo, &k, &v, 0) == 0);
		int load_ro = asm_prog(vm, 0, LOOKUP0 "r0 = *(u64 *)(r0 + 0)\nexit\n" NULL_EXIT, MAPFD(ro));
		int store_ro = asm_prog(vm, 0, LOOKUP0 "*(u64 *)(r0 + 0) = 9\nr0 = 0\nexit\n" NULL_EXIT, MAPFD(ro));
		const char *upd = "*(u32 *)(r10 - 4) = 0\n*(u64 *)(r10 - 16) = 42\nr1 = %llu ll\nr2 = r10\nr2 += -4\n"
				  "r3 = r10\nr3 += -16\nr4 = 0\ncall 2\nexit\n";
		const char *del = "*(u32 *)(r10 - 4) = 1\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 3\nexit\n";
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		int upd_ro = asm_prog(vm, 0, upd, MAPFD(ro)), del_ro = asm_prog(vm, 0, del, MAPFD(ro));
		int upd_wo = asm_prog(vm, 0, upd, MAPFD(wo));
#pragma GCC diagnostic pop
		uint64_t r0;
		/* BPF_F_RDONLY_PROG: loads work; stores and every changing helper are refused */
		CHECK(run_err(vm, load_ro, NULL, 0, &r0) == 0 && r0 == 5);
		CHECK(run_err(vm, store_ro, NULL, 0, &r0) == -EFAULT);
		CHECK(run_err(vm, upd_ro, NULL, 0, &r0) == -EACCES);
		CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_update_elem: write into map forbidden (BPF_F_RDONLY_PROG)") != NULL);
		CHECK(run_err(vm, del_ro, NULL, 0, &r0) == -EACCES);
		CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_delete_elem: write into map forbidden") != NULL);
		CHECK(LKP(vm, ro, &k, &out) == 0 && out == 5); /* untouched */
		/* BPF_F_WRONLY_PROG: lookups give a pointer, stores through it and updates work, loads fault */
		int look_wo = asm_prog(vm, 0, LOOKUP0 "r0 = 1\nexit\n" NULL_EXIT, MAPFD(wo));
		int load_wo = asm_prog(vm, 0, LOOKUP0 "r0 = *(u64 *)(r0 + 0)\nexit\n" NULL_EXIT, MAPFD(wo));
		int store_wo = asm_prog(vm, 0, LOOKUP0 "*(u64 *)(r0 + 0) = 9\nr0 = 0\nexit\n" NULL_EXIT, MAPFD(wo));
		/* a helper that reads the value (the value argument of an update of another map) */
		int copy_wo = asm_prog(vm, 0, LOOKUP0 "r3 = r0\nr1 = %llu ll\nr2 = r10\nr2 += -4\nr4 = 0\ncall 2\nexit\n" NULL_EXIT,
				       MAPFD(wo), MAPFD(other));
		CHECK(run_err(vm, look_wo, NULL, 0, &r0) == 0 && r0 == 1);
		CHECK(run_err(vm, load_wo, NULL, 0, &r0) == -EFAULT);
		CHECK(run_err(vm, store_wo, NULL, 0, &r0) == 0 && r0 == 0);
		CHECK(LKP(vm, wo, &k, &out) == 0 && out == 9);
		CHECK(run_err(vm, upd_wo, NULL, 0, &r0) == 0 && r0 == 0);
		CHECK(LKP(vm, wo, &k, &out) == 0 && out == 42);
		CHECK(run_err(vm, copy_wo, NULL, 0, &r0) == -EFAULT);
		CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_update_elem: value") != NULL);
		bpfvm_free(vm);
	}
	/* queues: push and pop change the map, peek does not */
	struct bpfvm *vm = new_vm(1);
	int q = mk(vm, BPF_MAP_TYPE_QUEUE, 0, 8, 2, BPF_F_RDONLY_PROG);
	uint64_t v = 3, r0;
	CHECK(UPD(vm, q, NULL, &v, 0) == 0);
	int push = asm_prog(vm, 0, "*(u64 *)(r10 - 8) = 1\nr1 = %llu ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 87\nexit\n", MAPFD(q));
	int pop = asm_prog(vm, 0, "r1 = %llu ll\nr2 = r10\nr2 += -8\ncall 88\nexit\n", MAPFD(q));
	int peek = asm_prog(vm, 0, "r1 = %llu ll\nr2 = r10\nr2 += -8\ncall 89\nr0 = *(u64 *)(r10 - 8)\nexit\n", MAPFD(q));
	CHECK(run_err(vm, push, NULL, 0, &r0) == -EACCES);
	CHECK(run_err(vm, pop, NULL, 0, &r0) == -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_pop_elem: write into map forbidden") != NULL);
	CHECK(run_err(vm, peek, NULL, 0, &r0) == 0 && r0 == 3);
	bpfvm_free(vm);
}

/* ---- BPF_F_LOCK against programs taking the value's bpf_spin_lock ----------------------------------- */

static const char spin_src[] =
	"#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
	"struct val { struct bpf_spin_lock lock; __u32 pad; __u64 a[8]; };\n"
	"struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct val); } arr SEC(\".maps\");\n"
	"struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, struct val); } hsh SEC(\".maps\");\n"
	"static __always_inline int bump(void *map)\n{\n\t__u32 k = 0;\n\tstruct val *v = bpf_map_lookup_elem(map, &k);\n"
	"\tif (!v)\n\t\treturn 1;\n\tbpf_spin_lock(&v->lock);\n#pragma unroll\n\tfor (int i = 0; i < 8; i++)\n\t\tv->a[i] += 1;\n"
	"\tbpf_spin_unlock(&v->lock);\n\treturn 0;\n}\n"
	"SEC(\"tc\") int bump_arr(struct __sk_buff *skb) { return bump(&arr); }\n"
	"SEC(\"tc\") int bump_hash(struct __sk_buff *skb) { return bump(&hsh); }\n"
	"char _license[] SEC(\"license\") = \"GPL\";\n";

struct val8 {
	uint32_t lock, pad;
	uint64_t a[8];
};

struct lock_thr {
	struct bpfvm *vm;
	int prog, map, ok;
	unsigned torn, rounds;
};

static void *lock_prog_thr(void *arg)
{
	struct lock_thr *t = arg;
	uint8_t pkt[64] = { 0 };
	t->ok = 1;
	for (int i = 0; i < 40; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)t->prog;
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = sizeof(pkt);
		a.test.repeat = 250;
		if (bpfvm_bpf(t->vm, BPF_PROG_TEST_RUN, &a, sizeof(a)) || a.test.retval != 0)
			t->ok = 0;
	}
	return NULL;
}

static void *lock_user_thr(void *arg)
{
	struct lock_thr *t = arg;
	uint32_t k = 0;
	t->ok = 1;
	for (unsigned i = 0; i < t->rounds; i++) {
		struct val8 v;
		if (elem(t->vm, BPF_MAP_LOOKUP_ELEM, t->map, &k, &v, BPF_F_LOCK)) {
			t->ok = 0;
			continue;
		}
		for (int j = 1; j < 8; j++)
			t->torn += v.a[j] != v.a[0];
		if (v.lock != 0)
			t->ok = 0; /* the lock word is never handed out */
		if (i % 64 == 0) {
			uint64_t base = v.a[0] + 1000;
			for (int j = 0; j < 8; j++)
				v.a[j] = base;
			v.lock = 1; /* ignored: the map's lock word is not overwritten */
			if (elem(t->vm, BPF_MAP_UPDATE_ELEM, t->map, &k, &v, BPF_F_LOCK))
				t->ok = 0;
		}
	}
	return NULL;
}

TEST(bpf_f_lock_against_program_spin_locks)
{
	char dir[] = "/tmp/bpfvm-spin-XXXXXX", c[256], o[256];
	if (!mkdtemp(dir))
		SKIP("mkdtemp failed");
	snprintf(c, sizeof(c), "%s/spin.bpf.c", dir);
	snprintf(o, sizeof(o), "%s/spin.bpf.o", dir);
	FILE *f = fopen(c, "w");
	fputs(spin_src, f);
	fclose(f);
	int built = test_clang(c, o, NULL) == 0;
	unlink(c);
	if (!built) {
		rmdir(dir);
		SKIP("clang could not build the spin lock object (clang or libbpf headers missing)");
	}
	struct bpfvm *vm = new_vm(4);
	struct bpfvm_object *obj;
	CHECK(bpfvm_object_open(vm, o, &obj) == 0);
	unlink(o);
	rmdir(dir);
	CHECK(bpfvm_object_load(obj) == 0);
	static const char *const maps[] = { "arr", "hsh" }, *const progs[] = { "bump_arr", "bump_hash" };
	for (int m = 0; m < 2; m++) {
		int map = bpfvm_object_map_fd(obj, maps[m]), prog = bpfvm_object_prog_fd(obj, progs[m]);
		uint32_t k = 0;
		struct val8 v0;
		memset(&v0, 0, sizeof(v0));
		CHECK(map >= 0 && prog >= 0);
		CHECK(UPD(vm, map, &k, &v0, BPF_F_LOCK) == 0); /* the hash needs the element; the array takes it */
		struct lock_thr t[3];
		pthread_t th[3];
		for (int i = 0; i < 2; i++) {
			t[i] = (struct lock_thr){ .vm = vm, .prog = prog, .map = map };
			pthread_create(&th[i], NULL, lock_prog_thr, &t[i]);
		}
		t[2] = (struct lock_thr){ .vm = vm, .map = map, .rounds = 20000 };
		pthread_create(&th[2], NULL, lock_user_thr, &t[2]);
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			CHECK(t[i].ok);
		}
		CHECK_EQ_U64(t[2].torn, 0); /* no locked lookup saw half of a program's critical section */
		struct val8 v;
		CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, map, &k, &v, BPF_F_LOCK) == 0);
		for (int j = 1; j < 8; j++)
			CHECK(v.a[j] == v.a[0]);
		CHECK(v.a[0] > 0);
	}
	bpfvm_object_close(obj);
	/* BPF_F_LOCK where the value has no spin lock: -EINVAL, as Linux */
	int h = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	uint32_t k = 1;
	uint64_t v = 1;
	CHECK(UPD(vm, h, &k, &v, 0) == 0);
	CHECK(UPD(vm, h, &k, &v, BPF_F_LOCK) == -EINVAL);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, h, &k, &v, BPF_F_LOCK) == -EINVAL);
	CHECK(elem(vm, BPF_MAP_LOOKUP_AND_DELETE_ELEM, h, &k, &v, BPF_F_LOCK) == -EINVAL);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)h;
	a.batch.keys = (uintptr_t)&k;
	a.batch.values = (uintptr_t)&v;
	a.batch.count = 1;
	a.batch.elem_flags = BPF_F_LOCK;
	CHECK(bpfvm_bpf(vm, BPF_MAP_LOOKUP_BATCH, &a, sizeof(a)) == -EINVAL);
	CHECK(bpfvm_bpf(vm, BPF_MAP_UPDATE_BATCH, &a, sizeof(a)) == -EINVAL);
	bpfvm_free(vm);
}

/* ---- batches on arrays and per-CPU maps --------------------------------------------------------- */

static long batch(struct bpfvm *vm, int cmd, int fd, void *keys, void *vals, uint32_t *count, void *in, void *out)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.keys = (uintptr_t)keys;
	a.batch.values = (uintptr_t)vals;
	a.batch.count = *count;
	a.batch.in_batch = (uintptr_t)in;
	a.batch.out_batch = (uintptr_t)out;
	long r = bpfvm_bpf(vm, cmd, &a, sizeof(a));
	*count = a.batch.count;
	return r;
}

TEST(batch_arrays_and_percpu)
{
	struct bpfvm *vm = new_vm(2);
	int ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 8, 0);
	uint32_t keys[8], cnt = 8, tok = 0;
	uint64_t vals[16];
	for (uint32_t i = 0; i < 8; i++) {
		keys[i] = i;
		vals[i] = 100 + i;
	}
	CHECK(batch(vm, BPF_MAP_UPDATE_BATCH, ar, keys, vals, &cnt, NULL, NULL) == 0 && cnt == 8);
	memset(keys, 0xff, sizeof(keys));
	memset(vals, 0, sizeof(vals));
	cnt = 5;
	CHECK(batch(vm, BPF_MAP_LOOKUP_BATCH, ar, keys, vals, &cnt, NULL, &tok) == 0 && cnt == 5);
	CHECK(keys[0] == 0 && keys[4] == 4 && vals[0] == 100 && vals[4] == 104);
	cnt = 5;
	CHECK(batch(vm, BPF_MAP_LOOKUP_BATCH, ar, keys, vals, &cnt, &tok, &tok) == -ENOENT && cnt == 3);
	CHECK(keys[0] == 5 && keys[2] == 7 && vals[2] == 107);
	/* arrays have no deleting batches: -ENOTSUPP before anything is touched (count stays) */
	cnt = 8;
	CHECK(batch(vm, BPF_MAP_LOOKUP_AND_DELETE_BATCH, ar, keys, vals, &cnt, NULL, &tok) == -524 && cnt == 8);
	CHECK(batch(vm, BPF_MAP_DELETE_BATCH, ar, keys, NULL, &cnt, NULL, NULL) == -524 && cnt == 8);
	uint32_t k = 3;
	uint64_t v;
	CHECK(LKP(vm, ar, &k, &v) == 0 && v == 103);
	/* per-CPU: each element is round_up(value_size, 8) * nr_cpus bytes */
	int pa = mk(vm, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 4, 0);
	for (uint32_t i = 0; i < 4; i++) {
		keys[i] = i;
		vals[2 * i] = i;
		vals[2 * i + 1] = 10 + i;
	}
	cnt = 4;
	CHECK(batch(vm, BPF_MAP_UPDATE_BATCH, pa, keys, vals, &cnt, NULL, NULL) == 0 && cnt == 4);
	memset(vals, 0, sizeof(vals));
	cnt = 4;
	CHECK(batch(vm, BPF_MAP_LOOKUP_BATCH, pa, keys, vals, &cnt, NULL, &tok) == 0 && cnt == 4);
	CHECK(vals[6] == 3 && vals[7] == 13);
	cnt = 4;
	CHECK(batch(vm, BPF_MAP_LOOKUP_AND_DELETE_BATCH, pa, keys, vals, &cnt, NULL, &tok) == -524);
	int ph = mk(vm, BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 4, 0);
	for (uint32_t i = 0; i < 4; i++) {
		keys[i] = i;
		vals[2 * i] = i;
		vals[2 * i + 1] = 10 + i;
	}
	cnt = 4;
	CHECK(batch(vm, BPF_MAP_UPDATE_BATCH, ph, keys, vals, &cnt, NULL, NULL) == 0 && cnt == 4);
	memset(vals, 0, sizeof(vals));
	cnt = 8;
	CHECK(batch(vm, BPF_MAP_LOOKUP_AND_DELETE_BATCH, ph, keys, vals, &cnt, NULL, &tok) == -ENOENT && cnt == 4);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < 4; i++) {
		CHECK(vals[2 * i] == keys[i] && vals[2 * i + 1] == 10 + keys[i]);
		sum += keys[i];
	}
	CHECK(sum == 6);
	CHECK(next_key(vm, ph, NULL, &k) == -ENOENT);
	bpfvm_free(vm);
}

/* ---- object ids, expected_attach_type, test runs ----------------------------------------------------- */

TEST(map_ids_and_fd_by_id)
{
	struct bpfvm *vm = new_vm(1);
	int m[3];
	uint32_t ids[3];
	for (int i = 0; i < 3; i++) {
		m[i] = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
		ids[i] = test_obj_id(vm, m[i]);
		CHECK(ids[i] > 0);
	}
	const struct bpf_insn p[] = { INSN_ID(MOV64_K, 0, 0, 0, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	int prog = load(vm, p, N(p)); /* a program's id is skipped by MAP_GET_NEXT_ID */
	CHECK(prog >= 0);
	CHECK(bpfvm_close(vm, m[1]) == 0);
	union bpf_attr a;
	uint32_t seen[8], n = 0;
	memset(&a, 0, sizeof(a));
	while (n < 8 && bpfvm_bpf(vm, BPF_MAP_GET_NEXT_ID, &a, sizeof(a)) == 0) {
		seen[n++] = a.next_id;
		a.start_id = a.next_id;
	}
	CHECK(n == 2 && seen[0] == ids[0] && seen[1] == ids[2]); /* ascending, closed map gone */
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_NEXT_ID, &a, sizeof(a)) == -ENOENT);
	/* a new handle on the same map */
	uint32_t k = 0;
	uint64_t v = 77, out = 0;
	CHECK(UPD(vm, m[2], &k, &v, 0) == 0);
	memset(&a, 0, sizeof(a));
	a.map_id = ids[2];
	int fd = (int)bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a));
	CHECK(fd >= 0 && fd != m[2]);
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 77);
	CHECK(test_obj_id(vm, fd) == ids[2]);
	CHECK(bpfvm_close(vm, m[2]) == 0);
	CHECK(LKP(vm, fd, &k, &out) == 0 && out == 77); /* the new handle keeps the map */
	a.map_id = ids[1];
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	a.map_id = 9999;
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	struct bpf_prog_info pi;
	memset(&pi, 0, sizeof(pi));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)prog;
	a.info.info_len = sizeof(pi);
	a.info.info = (uintptr_t)&pi;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
	memset(&a, 0, sizeof(a));
	a.map_id = pi.id; /* a program's id is not a map's */
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	bpfvm_free(vm);
}

static int load_xdp(struct bpfvm *vm, uint32_t attach, const struct bpf_insn *p, size_t n)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.expected_attach_type = attach;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	return (int)bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a));
}

static long test_run(struct bpfvm *vm, int prog, uint32_t repeat, uint32_t *retval, uint32_t *duration)
{
	uint8_t pkt[64] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.repeat = repeat;
	long r = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	*retval = a.test.retval;
	*duration = a.test.duration;
	return r;
}

TEST(prog_load_attach_type_and_test_run_repeat)
{
	struct bpfvm *vm = new_vm(1);
	int cnt = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	/* count runs in the map, spin 2000 iterations, return XDP_PASS */
	const struct bpf_insn p[] = {
		INSN_ID(STW, 10, 0, -4, 0),
		INSN_ID(LDDW, 1, 1, 0, cnt), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),
		INSN_ID(JEQ_K, 0, 0, 2, 0),
		INSN_ID(MOV64_K, 1, 0, 0, 1), INSN_ID(AADD64, 0, 1, 0, 0),
		INSN_ID(MOV64_K, 6, 0, 0, 2000),
		INSN_ID(SUB64_K, 6, 0, 0, 1), INSN_ID(JNE_K, 6, 0, -2, 0), /* loop: r6 -= 1; if r6 != 0 goto loop */
		INSN_ID(MOV64_K, 0, 0, 0, XDP_PASS),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int plain = load_xdp(vm, BPF_XDP, p, N(p)), devmap = load_xdp(vm, BPF_XDP_DEVMAP, p, N(p));
	CHECK(plain >= 0 && devmap >= 0);
	uint32_t retval = 0, dur = 0, k = 0;
	uint64_t runs;
	CHECK(test_run(vm, plain, 0, &retval, &dur) == 0 && retval == XDP_PASS); /* repeat 0: once */
	CHECK(LKP(vm, cnt, &k, &runs) == 0 && runs == 1);
	CHECK(test_run(vm, plain, 50, &retval, &dur) == 0 && retval == XDP_PASS);
	CHECK(LKP(vm, cnt, &k, &runs) == 0 && runs == 51);
	CHECK(dur > 0 && dur < 1000000000u); /* mean ns per run of a 6000-insn program: non-zero */
	/* expected_attach_type is kept: devmap XDP programs have no test run in Linux */
	CHECK(test_run(vm, devmap, 1, &retval, &dur) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "devmap/cpumap programs have no test run") != NULL);
	CHECK(LKP(vm, cnt, &k, &runs) == 0 && runs == 51);
	bpfvm_free(vm);
}

/* ---- LRU_PERCPU_HASH, HASH_OF_MAPS, STACK_TRACE, per-CPU from threads ------------------------------ */

TEST(lru_percpu_hash)
{
	struct bpfvm *vm = new_vm(2);
	int fd = mk(vm, BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 4, 4, 0);
	uint32_t k;
	uint64_t v[2], out[2];
	for (k = 0; k < 4; k++) {
		v[0] = k;
		v[1] = 10 * k;
		CHECK(UPD(vm, fd, &k, v, 0) == 0);
	}
	k = 0;
	CHECK(LKP(vm, fd, &k, out) == 0 && out[0] == 0 && out[1] == 0); /* 0 is now the most recent */
	k = 2;
	CHECK(LKP(vm, fd, &k, out) == 0 && out[0] == 2 && out[1] == 20);
	k = 9;
	v[0] = 9;
	v[1] = 90;
	CHECK(UPD(vm, fd, &k, v, 0) == 0); /* evicts 1, the least recently used */
	k = 1;
	CHECK(LKP(vm, fd, &k, out) == -ENOENT);
	k = 9;
	CHECK(LKP(vm, fd, &k, out) == 0 && out[0] == 9 && out[1] == 90);
	/* a program's update writes its own slot only; a new element's other slots are zero */
	int p = asm_prog(vm, 0, "*(u32 *)(r10 - 4) = 20\n*(u64 *)(r10 - 16) = 7\nr1 = %llu ll\nr2 = r10\nr2 += -4\n"
			 "r3 = r10\nr3 += -16\nr4 = 0\ncall 2\nexit\n", MAPFD(fd));
	uint64_t r0;
	CHECK(run_err(vm, p, NULL, 0, &r0) == 0 && r0 == 0);
	k = 20;
	CHECK(LKP(vm, fd, &k, out) == 0);
	CHECK((out[0] == 7 && out[1] == 0) || (out[0] == 0 && out[1] == 7));
	k = 3; /* 3 was the oldest after 9's insert: evicted by 20 */
	CHECK(LKP(vm, fd, &k, out) == -ENOENT);
	bpfvm_free(vm);
}

TEST(hash_of_maps_from_program)
{
	struct bpfvm *vm = new_vm(1);
	int inner = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0), inner2 = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH_OF_MAPS;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 4;
	a.inner_map_fd = (uint32_t)inner;
	int outer = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(outer >= 0);
	uint32_t k1 = 1, k42 = 42, k7 = 7;
	uint64_t v = 1234, v2 = 5678;
	CHECK(UPD(vm, inner, &k1, &v, 0) == 0);
	CHECK(UPD(vm, inner2, &k1, &v2, 0) == 0);
	CHECK(UPD(vm, outer, &k42, &inner, 0) == 0);
	CHECK(UPD(vm, outer, &k7, &inner2, 0) == 0);
	/* r0 = *lookup(lookup(outer, mem[0]), 1), 1 when the outer key is absent */
	int p = asm_prog(vm, 0, "r6 = *(u32 *)(r1 + 0)\n*(u32 *)(r10 - 4) = r6\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\n"
			 "if r0 == 0 goto none\n*(u32 *)(r10 - 4) = 1\nr1 = r0\nr2 = r10\nr2 += -4\ncall 1\n"
			 "if r0 == 0 goto none\nr0 = *(u64 *)(r0 + 0)\nexit\nnone:\nr0 = 1\nexit\n", MAPFD(outer));
	uint64_t r0;
	CHECK(run_err(vm, p, &k42, 4, &r0) == 0 && r0 == 1234);
	CHECK(run_err(vm, p, &k7, 4, &r0) == 0 && r0 == 5678);
	CHECK(run_err(vm, p, &k1, 4, &r0) == 0 && r0 == 1);
	uint32_t id;
	CHECK(LKP(vm, outer, &k42, &id) == 0 && id == test_obj_id(vm, inner)); /* user space sees the id */
	CHECK(DEL(vm, outer, &k42) == 0);
	CHECK(run_err(vm, p, &k42, 4, &r0) == 0 && r0 == 1);
	bpfvm_free(vm);
}

/* An instance whose engine is the JIT (interp 0) or the interpreter, on the tests' pin root. */
static struct bpfvm *engine_vm(int interp)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .pin_root = pin_root, .interp = interp };
	return bpfvm_new(&o);
}

/* Creates inner maps (ARRAY 4/8/2) in vm until one has object id `id`: its fd, or -1 once past it. */
static int inner_with_id(struct bpfvm *vm, uint32_t id)
{
	for (;;) {
		int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
		uint32_t got = fd >= 0 ? test_obj_id(vm, fd) : 0;
		if (fd < 0 || got == id)
			return fd;
		bpfvm_close(vm, fd);
		if (got > id)
			return -1;
	}
}

/* r0 = *lookup(lookup(outer, mem[0]), 1), 1 when either lookup gives NULL (the outer map: MAPFD(fd)) */
static const char mim_prog_src[] =
	"r6 = *(u32 *)(r1 + 0)\n*(u32 *)(r10 - 4) = r6\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\n"
	"if r0 == 0 goto none\n*(u32 *)(r10 - 4) = 1\nr1 = r0\nr2 = r10\nr2 += -4\ncall 1\n"
	"if r0 == 0 goto none\nr0 = *(u64 *)(r0 + 0)\nexit\nnone:\nr0 = 1\nexit\n";

/* a run of mim_prog_src over key, on the instance's engine */
static long mim_run(struct bpfvm *vm, int prog, uint32_t key, uint64_t *r0)
{
	*r0 = 0xdeadbeef;
	return bpfvm_prog_run(vm, prog, BPFVM_ENGINE_DEFAULT, &key, sizeof(key), r0);
}


/* A map-in-map of `type` (4-byte keys, 4 slots) whose inner maps are like tmpl: its fd, or < 0. */
static int mk_outer(struct bpfvm *vm, uint32_t type, int tmpl)
{
	union bpf_attr at;
	memset(&at, 0, sizeof(at));
	at.map_type = type;
	at.key_size = 4;
	at.value_size = 4;
	at.max_entries = 4;
	at.inner_map_fd = (uint32_t)tmpl;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &at, sizeof(at));
}

/* Instances A and B share a pinned map of maps (array and hash), and each stores under its own key an
 * inner map of the same object id (A's value 111, B's 222).  A program of each finds only its own
 * instance's element, the other's reads as missing (before: B's id named A's own map of that id, so A's
 * program read 111 under B's key); user space still sees both ids; an element B overwrites stops
 * resolving in A, and A deleting B's element drops none of A's references.  On both engines. */
TEST(maps_of_maps_shared_between_instances)
{
	static const uint32_t outers[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS };
	for (int interp = 0; interp < 2; interp++)
		for (size_t t = 0; t < N(outers); t++) {
			struct bpfvm *a = engine_vm(interp), *b = engine_vm(interp);
			char path[256];
			snprintf(path, sizeof(path), "%s/mim_%d_%zu", pin_root, interp, t);
			int tmpl = mk(a, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
			int oa = mk_outer(a, outers[t], tmpl);
			CHECK(tmpl >= 0 && oa >= 0);
			union bpf_attr at;
			memset(&at, 0, sizeof(at));
			at.pathname = (uintptr_t)path;
			at.bpf_fd = (uint32_t)oa;
			CHECK(bpfvm_bpf(a, BPF_OBJ_PIN, &at, sizeof(at)) == 0);
			at.bpf_fd = 0;
			int ob = (int)bpfvm_bpf(b, BPF_OBJ_GET, &at, sizeof(at));
			CHECK(ob >= 0);
			int ia = mk(a, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
			uint32_t id = ia >= 0 ? test_obj_id(a, ia) : 0;
			int ib = inner_with_id(b, id), ib2 = mk(b, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
			CHECK(ia >= 0 && ib >= 0 && ib2 >= 0);
			uint32_t k0 = 0, k1 = 1, v = 0;
			uint64_t va = 111, vb = 222, vb2 = 333, r0;
			CHECK(UPD(a, ia, &k1, &va, 0) == 0 && UPD(b, ib, &k1, &vb, 0) == 0 && UPD(b, ib2, &k1, &vb2, 0) == 0);
			CHECK(UPD(a, oa, &k0, &ia, 0) == 0);
			CHECK(UPD(b, ob, &k1, &ib, 0) == 0);
			int pa = asm_prog(a, 0, mim_prog_src, MAPFD(oa)), pb = asm_prog(b, 0, mim_prog_src, MAPFD(ob));
			CHECK(pa >= 0 && pb >= 0);

			CHECK(mim_run(a, pa, 0, &r0) == 0 && r0 == 111);
			CHECK(mim_run(a, pa, 1, &r0) == 0 && r0 == 1); /* B's element: B's id, A's map of that id */
			CHECK(mim_run(b, pb, 1, &r0) == 0 && r0 == 222);
			CHECK(mim_run(b, pb, 0, &r0) == 0 && r0 == 1);
			CHECK(mim_run(a, pa, 2, &r0) == 0 && r0 == 1);
			CHECK(LKP(a, oa, &k1, &v) == 0 && v == id);
			CHECK(LKP(b, ob, &k0, &v) == 0 && v == id);

			/* A deletes B's element: none of A's references goes (before: A dropped the one its element
			 * holds on its map of that id, which went with A's fd, and A's element stopped resolving) */
			CHECK(DEL(a, oa, &k1) == 0);
			CHECK(mim_run(b, pb, 1, &r0) == 0 && r0 == 1);
			CHECK(bpfvm_close(a, ia) == 0);
			CHECK(mim_run(a, pa, 0, &r0) == 0 && r0 == 111);
			/* B takes over A's element: it stops resolving in A; A takes it back (by id: its fd is gone) */
			CHECK(UPD(b, ob, &k0, &ib2, 0) == 0);
			CHECK(mim_run(a, pa, 0, &r0) == 0 && r0 == 1);
			CHECK(mim_run(b, pb, 0, &r0) == 0 && r0 == 333);
			CHECK(LKP(a, oa, &k0, &v) == 0 && v == test_obj_id(b, ib2)); /* user space: B's id */

			bpfvm_free(b);
			bpfvm_free(a);
			CHECK(unlink(path) == 0);
		}
}

/* The same across processes: a child with an instance of its own, whose inner map has the id of the
 * parent's, finds the parent's element missing (its lookup gives the id), stores its own under key 1 and
 * reads it (222); the parent, once the child is gone, finds key 1 missing, sees its id, and takes it over.
 * Returns the child's exit status: 0, or where it went wrong. */
static int mim_child(const char *path, uint32_t id, int interp)
{
	struct bpfvm *c = engine_vm(interp);
	union bpf_attr at;
	memset(&at, 0, sizeof(at));
	at.pathname = (uintptr_t)path;
	int oc = (int)bpfvm_bpf(c, BPF_OBJ_GET, &at, sizeof(at)), ic = inner_with_id(c, id);
	if (oc < 0 || ic < 0)
		return 10;
	uint32_t k0 = 0, k1 = 1, v = 0;
	uint64_t vc = 222, r0;
	int pc = asm_prog(c, 0, mim_prog_src, MAPFD(oc));
	if (pc < 0 || UPD(c, ic, &k1, &vc, 0))
		return 11;
	if (mim_run(c, pc, 0, &r0) || r0 != 1)
		return 12; /* the parent's element, the parent's id */
	if (LKP(c, oc, &k0, &v) || v != id)
		return 13;
	if (UPD(c, oc, &k1, &ic, 0))
		return 14;
	if (mim_run(c, pc, 1, &r0) || r0 != 222)
		return 15;
	return 0; /* exits without bpfvm_free(): key 1 stays the child's */
}

TEST(maps_of_maps_shared_with_a_child_process)
{
	static const uint32_t outers[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS };
	for (int interp = 0; interp < 2; interp++)
		for (size_t t = 0; t < N(outers); t++) {
			struct bpfvm *a = engine_vm(interp);
			char path[256];
			snprintf(path, sizeof(path), "%s/mim_fork_%d_%zu", pin_root, interp, t);
			int tmpl = mk(a, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
			/* the inner map after the outer: the child's first id goes to the outer map it opens */
			int oa = mk_outer(a, outers[t], tmpl), ia = mk(a, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
			union bpf_attr at;
			CHECK(tmpl >= 0 && oa >= 0 && ia >= 0);
			memset(&at, 0, sizeof(at));
			at.pathname = (uintptr_t)path;
			at.bpf_fd = (uint32_t)oa;
			CHECK(bpfvm_bpf(a, BPF_OBJ_PIN, &at, sizeof(at)) == 0);
			uint32_t k0 = 0, k1 = 1, v = 0, id = test_obj_id(a, ia);
			uint64_t va = 111, r0;
			CHECK(UPD(a, ia, &k1, &va, 0) == 0 && UPD(a, oa, &k0, &ia, 0) == 0);
			int pa = asm_prog(a, 0, mim_prog_src, MAPFD(oa));
			CHECK(pa >= 0);
			fflush(stdout);
			pid_t pid = fork();
			if (pid == 0)
				_exit(mim_child(path, id, interp));
			int st = 0;
			CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				printf("  interp %d, type %u: child exit status 0x%x\n", interp, outers[t], st);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			CHECK(mim_run(a, pa, 0, &r0) == 0 && r0 == 111);
			CHECK(mim_run(a, pa, 1, &r0) == 0 && r0 == 1); /* the child's element, the child's id */
			CHECK(LKP(a, oa, &k1, &v) == 0 && v == id);
			CHECK(UPD(a, oa, &k1, &ia, 0) == 0); /* taken over */
			CHECK(mim_run(a, pa, 1, &r0) == 0 && r0 == 111);
			bpfvm_free(a);
			CHECK(unlink(path) == 0);
		}
}

TEST(stack_trace_from_program)
{
	struct bpfvm *vm = new_vm(1);
	int st = mk(vm, BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 16, 64, 0);
	CHECK(st >= 0);
	/* mem[0] = bpf_get_stackid(ctx, st, 0); mem[1] = bpf_get_stack(ctx, mem + 16, 128, 0); */
	int p = asm_prog(vm, 0, "r6 = r1\nr2 = %llu ll\nr3 = 0\ncall 27\n*(u64 *)(r6 + 0) = r0\n"
			 "r1 = r6\nr2 = r6\nr2 += 16\nr3 = 128\nr4 = 0\ncall 67\n*(u64 *)(r6 + 8) = r0\nr0 = 0\nexit\n",
			 MAPFD(st));
	uint64_t m[2 + 16], m2[2 + 16], r0;
	memset(m, 0, sizeof(m));
	for (volatile int i = 0; i < 2; i++) /* one call site (volatile: not unrolled), the same host stack */
		CHECK(run_err(vm, p, i ? m2 : m, sizeof(m), &r0) == 0);
	int64_t id = (int64_t)m[0];
	CHECK(id >= 0 && id < 64);
	CHECK(m[1] > 0 && m[1] % 8 == 0 && m[1] <= 128);
	uint64_t ips[16];
	uint32_t key = (uint32_t)id;
	CHECK(LKP(vm, st, &key, ips) == 0);
	CHECK(ips[0] != 0);
	/* both helpers saw the same host call path: the stored trace's frames are in get_stack's copy */
	bool found = false;
	for (uint64_t i = 0; i < m[1] / 8; i++)
		found |= m[2 + i] == ips[1];
	CHECK(found);
	CHECK_EQ_U64(m2[0], m[0]); /* the same stack again: the same id */
	key = (uint32_t)(id + 1) % 64;
	CHECK(LKP(vm, st, &key, ips) == -ENOENT);
	key = (uint32_t)id;
	CHECK(DEL(vm, st, &key) == 0);
	CHECK(LKP(vm, st, &key, ips) == -ENOENT);
	bpfvm_free(vm);
}

struct pcpu_thr {
	struct bpfvm *vm;
	int prog, ok;
};

static void *pcpu_run(void *arg)
{
	struct pcpu_thr *t = arg;
	uint64_t r0;
	t->ok = 1;
	for (int i = 0; i < 20000; i++)
		if (bpfvm_prog_run(t->vm, t->prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) || r0 != 0)
			t->ok = 0;
	return NULL;
}

TEST(percpu_updates_from_threads)
{
	enum { CPUS = 4, THREADS = 6 };
	struct bpfvm *vm = new_vm(CPUS);
	int fd = mk(vm, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 16, 1, 0); /* {u64 count; u64 slot + 1} */
	/* plain load/add/store of this slot's count: per-CPU values need no atomics */
	int p = asm_prog(vm, 0, LOOKUP0 "r6 = r0\nr1 = *(u64 *)(r6 + 0)\nr1 += 1\n*(u64 *)(r6 + 0) = r1\n"
			 "call 8\nr0 += 1\n*(u64 *)(r6 + 8) = r0\nr0 = 0\nexit\n" NULL_EXIT, MAPFD(fd));
	struct pcpu_thr t[THREADS];
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct pcpu_thr){ vm, p, 0 };
		pthread_create(&th[i], NULL, pcpu_run, &t[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	uint32_t k = 0;
	uint64_t v[CPUS * 2], sum = 0;
	CHECK(LKP(vm, fd, &k, v) == 0);
	for (int c = 0; c < CPUS; c++) {
		sum += v[2 * c];
		CHECK(v[2 * c + 1] == (v[2 * c] ? (uint64_t)c + 1 : 0)); /* each slot saw its own id */
	}
	CHECK_EQ_U64(sum, THREADS * 20000);
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
		INSN_ID(STW, 10, 0, -4, 1),
		INSN_ID(LDDW, 1, 1, 0, fd), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),
		INSN_ID(JEQ_K, 0, 0, 2, 0),
		INSN_ID(MOV64_K, 1, 0, 0, 1), INSN_ID(AADD64, 0, 1, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
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

/* ---- lockless lookups while writers reuse elements ------------------------------------------------
 * A small table (64 elements) under 256 keys: every insert after a delete takes an element some reader
 * may still stand on, and links it into another bucket.  Values are derived from their key, so a lookup
 * that answers with another key's value (or a torn one) is caught. */
#define CHURN_KEYS 256u
#define CHURN_C 0x9e3779b97f4a7c15ull

struct churn {
	struct bpfvm *vm;
	int fd, prog, *stop;
	uint32_t words;          /* u64 words in a user-space value (all CPUs) */
	uint64_t seed, found, missed, bad;
};

static uint32_t churn_rnd(struct churn *c)
{
	c->seed = c->seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(c->seed >> 33);
}

static void churn_fill(uint64_t *v, uint32_t words, uint32_t k)
{
	for (uint32_t j = 0; j < words; j++)
		v[j] = (k + 1) * CHURN_C + j % 2; /* per CPU: { (k+1)*C, (k+1)*C + 1 } */
}

static void *churn_writer(void *arg)
{
	struct churn *c = arg;
	uint64_t v[2 * 64];
	while (!__atomic_load_n(c->stop, __ATOMIC_RELAXED)) {
		uint32_t k = churn_rnd(c) % CHURN_KEYS, d = churn_rnd(c) % CHURN_KEYS;
		churn_fill(v, c->words, k);
		long r = UPD(c->vm, c->fd, &k, v, 0);
		if (r && r != -E2BIG)
			c->bad++;
		r = DEL(c->vm, c->fd, &d);
		if (r && r != -ENOENT)
			c->bad++;
	}
	return NULL;
}

static void *churn_prog_writer(void *arg)
{
	struct churn *c = arg;
	uint64_t r0;
	while (!__atomic_load_n(c->stop, __ATOMIC_RELAXED))
		if (bpfvm_prog_run(c->vm, c->prog, BPFVM_ENGINE_INTERP, NULL, 0, &r0) || (r0 && r0 != (uint64_t)-E2BIG &&
											 r0 != (uint64_t)-ENOENT))
			c->bad++;
	return NULL;
}

static void *churn_reader(void *arg)
{
	struct churn *c = arg;
	uint64_t v[2 * 64], want[2 * 64];
	while (!__atomic_load_n(c->stop, __ATOMIC_RELAXED)) {
		uint32_t k = churn_rnd(c) % CHURN_KEYS;
		long r = LKP(c->vm, c->fd, &k, v);
		if (r == -ENOENT) {
			c->missed++;
			continue;
		}
		churn_fill(want, c->words, k);
		if (r || memcmp(v, want, c->words * 8)) {
			if (c->bad++ < 3)
				printf("  key %u: lookup %ld, value 0x%llx 0x%llx\n", k, r, (unsigned long long)v[0],
				       (unsigned long long)v[1]);
		} else {
			c->found++;
		}
	}
	return NULL;
}

TEST(lockless_lookups_under_element_reuse)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_PERCPU_HASH,
					  BPF_MAP_TYPE_LRU_PERCPU_HASH };
	for (size_t t = 0; t < N(types); t++) {
		bool percpu = types[t] == BPF_MAP_TYPE_PERCPU_HASH || types[t] == BPF_MAP_TYPE_LRU_PERCPU_HASH;
		struct bpfvm *vm = new_vm(2);
		int fd = mk(vm, types[t], 4, 16, 64, 0), stop = 0;
		CHECK(fd >= 0);
		/* a program writer too (not for per-CPU maps: a program writes one CPU's value, the others of a
		 * new element read 0): prandom & 255 is the key, bit 8 picks update or delete */
		int prog = percpu ? -1 : asm_prog(vm, 0,
			"call 7\nr6 = r0\nr0 &= 255\n*(u32 *)(r10 - 4) = r0\nr1 = r0\nr1 += 1\nr2 = %llu ll\n"
			"r1 *= r2\n*(u64 *)(r10 - 24) = r1\nr1 += 1\n*(u64 *)(r10 - 16) = r1\n"
			"r1 = %llu ll\nr2 = r10\nr2 += -4\nr6 &= 256\nif r6 != 0 goto del\n"
			"r3 = r10\nr3 += -24\nr4 = 0\ncall 2\nexit\ndel:\ncall 3\nexit\n",
			(unsigned long long)CHURN_C, MAPFD(fd));
		CHECK(percpu || prog >= 0);
		struct churn c[5];
		pthread_t th[5];
		int n = 0;
		for (int i = 0; i < 5; i++)
			c[i] = (struct churn){ .vm = vm, .fd = fd, .prog = prog, .stop = &stop, .words = percpu ? 2 * 2 : 2,
					      .seed = 0x1234567ull * (uint64_t)(i + 1) + t };
		pthread_create(&th[n], NULL, churn_writer, &c[n]), n++;
		if (!percpu)
			pthread_create(&th[n], NULL, churn_prog_writer, &c[n]), n++;
		int readers = n;
		for (int i = 0; i < 3; i++, n++)
			pthread_create(&th[n], NULL, churn_reader, &c[n]);
		usleep(400000);
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		uint64_t found = 0, missed = 0;
		for (int i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			CHECK_EQ_U64(c[i].bad, 0);
			if (i >= readers) {
				found += c[i].found;
				missed += c[i].missed;
			}
		}
		/* both answers happened, many times: the readers raced live elements */
		CHECK(found > 1000 && missed > 1000);
		bpfvm_free(vm);
	}
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
	RUN(prog_rdonly_wronly_flags);
	RUN(bpf_f_lock_against_program_spin_locks);
	RUN(batch_arrays_and_percpu);
	RUN(map_ids_and_fd_by_id);
	RUN(prog_load_attach_type_and_test_run_repeat);
	RUN(lru_percpu_hash);
	RUN(hash_of_maps_from_program);
	RUN(maps_of_maps_shared_between_instances);
	RUN(maps_of_maps_shared_with_a_child_process);
	RUN(stack_trace_from_program);
	RUN(percpu_updates_from_threads);
	RUN(threads_no_lost_updates);
	RUN(pin_and_share_across_processes);
	RUN(lockless_lookups_under_element_reuse);
	rmdir(pin_root);
	return test_done();
}
