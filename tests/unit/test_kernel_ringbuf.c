/* test_kernel_ringbuf.c -- differential: ring buffer space accounting against the kernel.  One XDP
 * program, loaded in the kernel and in bpfvm with maps of the same shape, runs on the same seeded frames:
 * on even-length frames it reserves one of eight constant sizes and submits or discards the record, on
 * odd-length frames it outputs a size taken from the frame with bpf_ringbuf_output; after each it stores
 * the outcome and every bpf_ringbuf_query position in an array map.  The outcomes must match packet by
 * packet, first with nobody consuming (the ring fills, then refuses), then with a consumer that drains
 * the ring between some of the runs (positions wrap, records straddle the ring's end).  A second test,
 * without the kernel, checks that a record across the end is contiguous for the program and for the
 * consumer. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define RING 4096u
#define BUF_SZ 4096u

static char klog[1 << 16];

/* Map references in the source are lddw of these markers; patch() turns them into BPF_PSEUDO_MAP_FD. */
#define MARK_RB 0x7eadb001
#define MARK_RES 0x7eadb002
#define MARK_BUF 0x7eadb003

/* r7 = frame byte 0 (bits 0-2: reserve size, bit 3: discard, bits 4-5: output flags, bit 6: an invalid
 * output flag), r9 = frame bytes 1-2 (output size).  res[0] = { reserved (0/1) or output's return,
 * avail, ring size, consumer position, producer position }. */
static const char prog_src[] =
	"r6 = r1\n"
	"r2 = *(u32 *)(r6 + 0)\n"
	"r3 = *(u32 *)(r6 + 4)\n"
	"r4 = r2\n"
	"r4 += 4\n"
	"if r4 > r3 goto out\n"
	"r7 = *(u8 *)(r2 + 0)\n"
	"r8 = *(u8 *)(r2 + 1)\n"
	"r9 = *(u8 *)(r2 + 2)\n"
	"r9 <<= 8\n"
	"r9 |= r8\n"
	"r8 = r3\n"
	"r8 -= r2\n"
	"r8 &= 1\n"
	"if r8 != 0 goto output\n"
	"r2 = r7\n"
	"r2 &= 7\n"
	"if r2 == 0 goto s0\n"
	"if r2 == 1 goto s1\n"
	"if r2 == 2 goto s2\n"
	"if r2 == 3 goto s3\n"
	"if r2 == 4 goto s4\n"
	"if r2 == 5 goto s5\n"
	"if r2 == 6 goto s6\n"
	"r2 = 4089\n"
	"goto reserve\n"
	"s0:\nr2 = 0\ngoto reserve\n"
	"s1:\nr2 = 13\ngoto reserve\n"
	"s2:\nr2 = 200\ngoto reserve\n"
	"s3:\nr2 = 1000\ngoto reserve\n"
	"s4:\nr2 = 1100\ngoto reserve\n"
	"s5:\nr2 = 2040\ngoto reserve\n"
	"s6:\nr2 = 4088\n"
	"reserve:\n"
	"r1 = 0x7eadb001 ll\n"
	"r3 = 0\n"
	"call 131\n"
	"r8 = 0\n"
	"if r0 == 0 goto query\n"
	"r8 = 1\n"
	"r1 = r0\n"
	"r2 = 0\n"
	"r3 = r7\n"
	"r3 &= 8\n"
	"if r3 != 0 goto discard\n"
	"call 132\n"
	"goto query\n"
	"discard:\n"
	"call 133\n"
	"goto query\n"
	"output:\n"
	"r1 = 0\n"
	"*(u32 *)(r10 - 4) = r1\n"
	"r1 = 0x7eadb003 ll\n"
	"r2 = r10\n"
	"r2 += -4\n"
	"call 1\n"
	"if r0 == 0 goto out\n"
	"r2 = r0\n"
	"r3 = r9\n"
	"if r3 > 4096 goto out\n"
	"r4 = r7\n"
	"r4 >>= 4\n"
	"r4 &= 7\n"
	"r1 = 0x7eadb001 ll\n"
	"call 130\n"
	"r8 = r0\n"
	"query:\n"
	"r1 = 0\n"
	"*(u32 *)(r10 - 4) = r1\n"
	"r1 = 0x7eadb002 ll\n"
	"r2 = r10\n"
	"r2 += -4\n"
	"call 1\n"
	"if r0 == 0 goto out\n"
	"r6 = r0\n"
	"*(u64 *)(r6 + 0) = r8\n"
	"r1 = 0x7eadb001 ll\nr2 = 0\ncall 134\n*(u64 *)(r6 + 8) = r0\n"
	"r1 = 0x7eadb001 ll\nr2 = 1\ncall 134\n*(u64 *)(r6 + 16) = r0\n"
	"r1 = 0x7eadb001 ll\nr2 = 2\ncall 134\n*(u64 *)(r6 + 24) = r0\n"
	"r1 = 0x7eadb001 ll\nr2 = 3\ncall 134\n*(u64 *)(r6 + 32) = r0\n"
	"out:\n"
	"r0 = 2\n"
	"exit\n";

static void patch(struct bpf_insn *in, long n, const long fds[3])
{
	for (long i = 0; i + 1 < n; i++)
		if (in[i].code == (BPF_LD | BPF_DW | BPF_IMM)) {
			uint32_t k = (uint32_t)in[i].imm;
			if (k >= MARK_RB && k <= MARK_BUF && in[i + 1].imm == 0) {
				in[i].src_reg = BPF_PSEUDO_MAP_FD;
				in[i].imm = (int32_t)fds[k - MARK_RB];
			}
			i++;
		}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Both sides of the comparison: maps, program, and the kernel ring's consumer mapping. */
struct side {
	long rb, res, buf, prog;
	struct bpfvm *vm;        /* NULL: the kernel */
	struct bpfvm_ringbuf *cons;
	uint64_t *kcons;         /* kernel: consumer page (rw) */
	uint8_t *kprod;          /* kernel: producer page, then the data twice (ro) */
	uint32_t seen[4096];     /* sizes of the records consumed, in order */
	size_t nseen;
};

static int rec_cb(void *ctx, void *data, size_t size)
{
	struct side *s = ctx;
	(void)data;
	if (s->nseen < sizeof(s->seen) / sizeof(s->seen[0]))
		s->seen[s->nseen++] = (uint32_t)size;
	return 0;
}

/* libbpf's ringbuf_process_ring() over the kernel's mapping */
static void kernel_consume(struct side *s)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t cons = __atomic_load_n(s->kcons, __ATOMIC_ACQUIRE);
	for (;;) {
		uint64_t prod = __atomic_load_n((uint64_t *)(void *)s->kprod, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		uint8_t *hdr = s->kprod + pg + (cons & (RING - 1));
		uint32_t len = __atomic_load_n((uint32_t *)(void *)hdr, __ATOMIC_ACQUIRE);
		if (len & (1u << 31))
			break;
		cons += ((len & ~(3u << 30)) + 8 + 7) & ~7ull;
		if (!(len & (1u << 30)))
			rec_cb(s, hdr + 8, len & ~(3u << 30));
		__atomic_store_n(s->kcons, cons, __ATOMIC_RELEASE);
	}
}

static int side_open(struct side *s, struct bpfvm *vm)
{
	struct bpf_insn insns[256];
	memset(s, 0, sizeof(*s));
	s->vm = vm;
	if (vm) {
		s->rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, RING, 0);
		s->res = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 40, 1, 0);
		s->buf = mk(vm, BPF_MAP_TYPE_ARRAY, 4, BUF_SZ, 1, 0);
	} else {
		s->rb = kmap(BPF_MAP_TYPE_RINGBUF, 0, 0, RING, 0);
		s->res = kmap(BPF_MAP_TYPE_ARRAY, 4, 40, 1, 0);
		s->buf = kmap(BPF_MAP_TYPE_ARRAY, 4, BUF_SZ, 1, 0);
	}
	if (s->rb < 0 || s->res < 0 || s->buf < 0) {
		printf("  %s: map create: %ld %ld %ld\n", vm ? "bpfvm" : "kernel", s->rb, s->res, s->buf);
		return -1;
	}
	struct bpfvm *as = vm ? vm : bpfvm_new(NULL);
	long n = bpfvm_asm(as, prog_src, insns, 256);
	if (!vm)
		bpfvm_free(as);
	if (n <= 0) {
		printf("  asm failed\n");
		return -1;
	}
	const long fds[3] = { s->rb, s->res, s->buf };
	patch(insns, n, fds);
	if (vm) {
		s->prog = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "rb");
		if (s->prog < 0)
			printf("  bpfvm rejects: %s\n", bpfvm_errmsg(vm));
		if (s->prog >= 0 && bpfvm_ringbuf_new(vm, (int)s->rb, rec_cb, s, &s->cons)) {
			printf("  bpfvm_ringbuf_new: %s\n", bpfvm_errmsg(vm));
			return -1;
		}
	} else {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_XDP;
		a.insns = (uintptr_t)insns;
		a.insn_cnt = (uint32_t)n;
		a.license = (uintptr_t)"GPL";
		a.log_buf = (uintptr_t)klog;
		a.log_size = sizeof(klog);
		a.log_level = 1;
		s->prog = kbpf(BPF_PROG_LOAD, &a);
		if (s->prog < 0)
			printf("  kernel rejects (%ld): %s\n", s->prog, klog);
		long pg = sysconf(_SC_PAGESIZE);
		void *c = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, (int)s->rb, 0);
		void *p = mmap(NULL, (size_t)pg + 2 * RING, PROT_READ, MAP_SHARED, (int)s->rb, pg);
		if (c == MAP_FAILED || p == MAP_FAILED) {
			printf("  kernel ring buffer mmap failed\n");
			return -1;
		}
		s->kcons = c;
		s->kprod = p;
	}
	if (s->prog < 0)
		return -1;
	/* the output source: a pattern, so that records differ from zeroed memory */
	static uint8_t pat[BUF_SZ];
	for (uint32_t i = 0; i < BUF_SZ; i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	uint32_t k0 = 0;
	long e = vm ? UPD(vm, (int)s->buf, &k0, pat, 0) : kelem(BPF_MAP_UPDATE_ELEM, (int)s->buf, &k0, pat, 0);
	return e ? -1 : 0;
}

static void side_close(struct side *s)
{
	if (s->vm) {
		bpfvm_ringbuf_free(s->cons);
		return;
	}
	long pg = sysconf(_SC_PAGESIZE);
	if (s->kcons)
		munmap(s->kcons, (size_t)pg);
	if (s->kprod)
		munmap(s->kprod, (size_t)pg + 2 * RING);
	for (long *fd = &s->rb; fd <= &s->prog; fd++)
		if (*fd >= 0)
			close((int)*fd);
}

/* One frame through one side: the run's error and retval, then res[0]. */
static long side_run(struct side *s, const uint8_t *pkt, uint32_t len, uint64_t out[6])
{
	union bpf_attr a;
	uint8_t dout[128];
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)s->prog;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = len;
	a.test.data_out = (uintptr_t)dout;
	a.test.data_size_out = sizeof(dout);
	long err = s->vm ? bpfvm_bpf(s->vm, BPF_PROG_TEST_RUN, &a, sizeof(a)) : kbpf(BPF_PROG_TEST_RUN, &a);
	uint32_t k0 = 0;
	uint64_t v[5];
	long e = s->vm ? LKP(s->vm, (int)s->res, &k0, v) : kelem(BPF_MAP_LOOKUP_ELEM, (int)s->res, &k0, v, 0);
	out[0] = a.test.retval;
	memcpy(out + 1, v, sizeof(v));
	return err ? err : e;
}

static const char *why_no_kernel(void)
{
	long fd = kmap(BPF_MAP_TYPE_RINGBUF, 0, 0, RING, 0);
	if (fd < 0)
		return fd == -EPERM ? "bpf() not permitted (needs root / CAP_BPF)" : "bpf() ring buffers unavailable";
	close((int)fd);
	return NULL;
}

/* Runs `steps` seeded frames through both; consume: drain both rings after about every third run.
 * Returns the number of differing steps (printing the first few). */
static int differential(uint64_t seed, int steps, bool consume, int *ok_cnt, int *fail_cnt)
{
	struct side k, v;
	struct bpfvm *vm = bpfvm_new(NULL);
	int bad = 0;
	if (side_open(&k, NULL) || side_open(&v, vm)) {
		side_close(&k);
		side_close(&v);
		bpfvm_free(vm);
		return 1;
	}
	for (int step = 0; step < steps && bad < 5; step++) {
		uint8_t pkt[128];
		for (size_t i = 0; i < sizeof(pkt); i++)
			pkt[i] = (uint8_t)rnd(&seed);
		uint32_t len = 14 + (uint32_t)(rnd(&seed) % 100);
		/* output sizes: mostly small, some up to and past the ring's quarter and end */
		uint32_t sz = rnd(&seed) % 4 ? (uint32_t)(rnd(&seed) % 300) : (uint32_t)(rnd(&seed) % 4097);
		pkt[1] = (uint8_t)sz;
		pkt[2] = (uint8_t)(sz >> 8);
		pkt[0] &= 0x7f;
		uint64_t ko[6], vo[6];
		long ke = side_run(&k, pkt, len, ko), ve = side_run(&v, pkt, len, vo);
		if (ke != ve || memcmp(ko, vo, sizeof(ko))) {
			printf("  seed step %d (len %u, byte0 0x%02x, size %u): kernel err %ld r0 %" PRIu64 " res %" PRId64
			       " avail %" PRIu64 " ring %" PRIu64 " cons %" PRIu64 " prod %" PRIu64 "\n"
			       "     bpfvm err %ld r0 %" PRIu64 " res %" PRId64 " avail %" PRIu64 " ring %" PRIu64
			       " cons %" PRIu64 " prod %" PRIu64 " (%s)\n",
			       step, len, pkt[0], sz, ke, ko[0], (int64_t)ko[1], ko[2], ko[3], ko[4], ko[5], ve, vo[0],
			       (int64_t)vo[1], vo[2], vo[3], vo[4], vo[5], bpfvm_errmsg(vm));
			bad++;
		}
		if (len % 2 ? ko[1] == 0 : ko[1] == 1)
			(*ok_cnt)++;
		else
			(*fail_cnt)++;
		if (consume && rnd(&seed) % 3 == 0) {
			kernel_consume(&k);
			CHECK(bpfvm_ringbuf_poll(v.cons, 0) >= 0);
			if (k.nseen != v.nseen || memcmp(k.seen, v.seen, k.nseen * sizeof(k.seen[0]))) {
				printf("  step %d: consumed %zu records in the kernel, %zu in bpfvm (or sizes differ)\n", step,
				       k.nseen, v.nseen);
				bad++;
			}
		}
	}
	side_close(&k);
	side_close(&v);
	bpfvm_free(vm);
	return bad;
}

TEST(ringbuf_space_matches_kernel)
{
	const char *why = why_no_kernel();
	if (why)
		SKIP(why);
	int ok = 0, fail = 0;
	CHECK_EQ_U64(differential(0x9e3779b97f4a7c15ull, 300, false, &ok, &fail), 0);
	CHECK_EQ_U64(differential(0xd1b54a32d192ed03ull, 300, true, &ok, &fail), 0);
	/* the sequences must have exercised both outcomes, or they prove little */
	printf("  600 frames: %d records taken, %d refused, identical to the kernel\n", ok, fail);
	CHECK(ok > 20 && fail > 20);
}

/* Without the kernel: a record that passes the ring's end is one contiguous block for the program that
 * writes it and for the consumer that reads it. */
struct wrap_ctx {
	size_t n, size;
	int good;
};

static int wrap_cb(void *ctx, void *data, size_t size)
{
	struct wrap_ctx *w = ctx;
	const uint8_t *d = data;
	w->n++;
	w->size = size;
	w->good = 1;
	for (size_t i = 0; i < size; i++)
		if (d[i] != (uint8_t)(i * 7 + 1))
			w->good = 0;
	return 0;
}

TEST(ringbuf_record_across_the_end_is_contiguous)
{
	struct side s;
	struct bpfvm *vm = bpfvm_new(NULL);
	struct wrap_ctx w = { 0, 0, 0 };
	CHECK(!side_open(&s, vm));
	struct bpfvm_ringbuf *rb = NULL;
	CHECK(!bpfvm_ringbuf_new(vm, (int)s.rb, wrap_cb, &w, &rb));
	uint8_t pkt[64];
	memset(pkt, 0, sizeof(pkt));
	uint64_t o[6];
	/* three outputs of 1000 bytes (1008 with the header): producer at 3024; consume them */
	for (int i = 0; i < 3; i++) {
		pkt[1] = 1000 & 0xff;
		pkt[2] = 1000 >> 8;
		CHECK(!side_run(&s, pkt, 15, o));
		CHECK_EQ_U64(o[1], 0);
	}
	CHECK_EQ_U64(bpfvm_ringbuf_poll(rb, 0), 3);
	/* 2000 bytes from offset 3024: runs 928 bytes past the end */
	pkt[1] = 2000 & 0xff;
	pkt[2] = 2000 >> 8;
	CHECK(!side_run(&s, pkt, 15, o));
	CHECK_EQ_U64(o[1], 0);
	CHECK_EQ_U64(o[5], 3024 + 2008);
	w.n = 0;
	CHECK_EQ_U64(bpfvm_ringbuf_poll(rb, 0), 1);
	CHECK_EQ_U64(w.size, 2000);
	CHECK(w.good);
	bpfvm_ringbuf_free(rb);
	side_close(&s);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(ringbuf_space_matches_kernel);
	RUN(ringbuf_record_across_the_end_is_contiguous);
	return test_done();
}
