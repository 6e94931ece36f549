/* test_untrusted.c -- issue 8 item 7: host addresses and host memory out of a program's reach.
 *  - the probe reads are for the tracing types only (others fail at load as in Linux), and read only the
 *    program's memory or ranges a host hook registered (test_helpers.c checks their semantics);
 *  - an untrusted instance (bpfvm_opts.untrusted) refuses probe reads at load and, at run time, a
 *    pointer in r0 at exit, stored outside the stack, or given to a helper as a scalar or inside memory
 *    it reads; the same programs in a trusted instance keep their behaviour.
 * Programs are LLVM-syntax assembler text; `rN = <marker> ll` becomes a map fd / map value lddw, as in
 * test_helpers.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define NEG(e) ((uint64_t)-(int64_t)(e))
#define N(a) (sizeof(a) / sizeof((a)[0]))

static char pin_root[128];

static void quiet(void *ctx, const char *msg, size_t len)
{
	(void)ctx, (void)msg, (void)len;
}

static struct bpfvm *new_vm_verify(int untrusted, int verify)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .pin_root = pin_root, .print = quiet,
				.untrusted = untrusted, .verify = verify };
	return bpfvm_new(&o);
}

static struct bpfvm *new_vm(int untrusted)
{
	return new_vm_verify(untrusted, BPFVM_VERIFY_DEFAULT);
}

/* Assembles printf-formatted text, patches the markers, loads it as `type`.  The handle or -errno. */
__attribute__((format(printf, 3, 4)))
static int prog(struct bpfvm *vm, uint32_t type, const char *fmt, ...)
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
	return bpfvm_prog_load(vm, type, insns, (size_t)n, "t");
}

/* Runs fd on mem: r0, or -errno in *err (0 on success). */
static uint64_t run(struct bpfvm *vm, int fd, void *mem, size_t len, int *err)
{
	uint64_t r0 = 0xdeadbeef;
	*err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, &r0);
	return r0;
}

static bool has(const struct bpfvm *vm, const char *s)
{
	if (strstr(bpfvm_errmsg(vm), s))
		return true;
	printf("  log: %s  (wanted '%s')\n", bpfvm_errmsg(vm), s);
	return false;
}

#define PROBE_SRC "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall %d\nexit\n"

TEST(probe_read_only_for_tracing_types)
{
	struct bpfvm *vm = new_vm(0);
	static const int ids[] = { 4, 45, 112, 113, 114, 115 };
	static const char *const names[] = { "bpf_probe_read#4", "bpf_probe_read_str#45", "bpf_probe_read_user#112",
					     "bpf_probe_read_kernel#113", "bpf_probe_read_user_str#114",
					     "bpf_probe_read_kernel_str#115" };
	/* the reproducer's type first: a socket filter could read the host at will */
	static const uint32_t refused[] = { BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS,
					    BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_CGROUP_SOCK };
	static const uint32_t allowed[] = { BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_TRACEPOINT, BPF_PROG_TYPE_PERF_EVENT,
					    BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_LSM,
					    BPF_PROG_TYPE_SYSCALL };
	for (size_t i = 0; i < N(ids); i++) {
		for (size_t t = 0; t < N(refused); t++) {
			CHECK_EQ_U64(prog(vm, refused[t], PROBE_SRC, ids[i]), NEG(EINVAL));
			char want[128];
			snprintf(want, sizeof(want), "insn 4: program of this type cannot use helper %s", names[i]);
			CHECK(has(vm, want));
		}
		for (size_t t = 0; t < N(allowed); t++) {
			int fd = prog(vm, allowed[t], PROBE_SRC, ids[i]);
			CHECK(fd >= 0);
			bpfvm_close(vm, fd);
		}
	}
	bpfvm_free(vm);

	/* untrusted: no probe reads whatever the type, at load, and through callx at run time */
	vm = new_vm(1);
	CHECK_EQ_U64(prog(vm, BPF_PROG_TYPE_KPROBE, PROBE_SRC, 113), NEG(EINVAL));
	CHECK(has(vm, "insn 4: program of this type cannot use helper bpf_probe_read_kernel#113 (untrusted mode: no probe reads)"));
	CHECK_EQ_U64(prog(vm, 0, PROBE_SRC, 4), NEG(EINVAL));
	CHECK(has(vm, "cannot use helper bpf_probe_read#4 (untrusted mode"));
	int err;
	int cx = prog(vm, 0, "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 113\ncallx r4\nexit\n");
	CHECK(cx >= 0);
	run(vm, cx, NULL, 0, &err);
	CHECK_EQ_U64(err, NEG(EINVAL));
	CHECK(has(vm, "callx to unknown or disallowed helper"));
	bpfvm_free(vm);
}

/* ---- host-registered readable memory ---------------------------------------------------------- */

struct hook_ctx {
	uint64_t src;
	uint64_t len;
};

TEST(hook_readable_ranges)
{
	struct bpfvm *vm = new_vm(0);
	static const uint64_t table[4] = { 0x1111, 0x2222, 0x3333, 0x4444 }; /* registered with the hook */
	static const uint64_t event[2] = { 0x5555, 0x6666 };                  /* registered for one run */
	static const uint64_t secret = 0x7777;                                /* never registered */
	long pg = sysconf(_SC_PAGESIZE);
	void *hole = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	const struct bpfvm_mem_range ranges[] = { { table, sizeof(table) }, { hole, (size_t)pg } };
	static const struct bpfvm_hook_field fields[] = { { "src", 0, 8, 0 }, { "len", 8, 8, 0 } };
	static const uint32_t helpers[] = { 113, 115 };
	struct bpfvm_hook_desc d = { .sz = sizeof(d), .name = "h", .ctx_size = sizeof(struct hook_ctx), .fields = fields,
				     .field_cnt = N(fields), .helper_ids = helpers, .helper_cnt = N(helpers),
				     .readable = ranges, .readable_cnt = N(ranges) };
	struct bpfvm_hook *h = NULL;
	CHECK(bpfvm_hook_new(vm, &d, &h) == 0);
	if (!h) {
		bpfvm_free(vm);
		return;
	}
	/* r0 = the u64 at ctx.src, or the helper's error; the destination is checked zeroed on error */
	int fd = prog(vm, BPFVM_PROG_TYPE_HOOK,
		      "r3 = *(u64 *)(r1 + 0)\n*(u64 *)(r10 - 8) = -1\nr1 = r10\nr1 += -8\nr2 = 8\ncall 113\n"
		      "if r0 == 0 goto +3\nr1 = *(u64 *)(r10 - 8)\nif r1 != 0 goto +2\nexit\n"
		      "r0 = *(u64 *)(r10 - 8)\nexit\nr0 = 1\nexit\n");
	CHECK(fd >= 0);
	CHECK(bpfvm_hook_attach(h, fd) == 0);
	uint64_t r0 = 0;
	struct hook_ctx c = { (uintptr_t)&table[2], 8 };
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, 0x3333);
	c.src = (uintptr_t)&table[3] + 1; /* runs past the range */
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, NEG(EFAULT));
	c.src = (uintptr_t)&secret;
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, NEG(EFAULT));
	c.src = (uintptr_t)hole; /* registered but unmapped: -EFAULT, no signal */
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, NEG(EFAULT));
	/* a range given to one run only */
	const struct bpfvm_mem_range ev = { event, sizeof(event) };
	c.src = (uintptr_t)&event[1];
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, NEG(EFAULT));
	CHECK(bpfvm_hook_run_ex(h, &c, &ev, 1, &r0, 1) == 1);
	CHECK_EQ_U64(r0, 0x6666);
	CHECK(bpfvm_hook_run(h, &c, &r0, 1) == 1);
	CHECK_EQ_U64(r0, NEG(EFAULT));
	/* readable by probe reads only: a load from a registered range is still a fault */
	int ld = prog(vm, BPFVM_PROG_TYPE_HOOK, "r2 = *(u64 *)(r1 + 0)\nr0 = *(u64 *)(r2 + 0)\nexit\n");
	CHECK(bpfvm_hook_detach(h, fd) == 0);
	CHECK(bpfvm_hook_attach(h, ld) == 0);
	c.src = (uintptr_t)&table[0];
	CHECK_EQ_U64(bpfvm_hook_run(h, &c, &r0, 1), NEG(EFAULT));
	CHECK(has(vm, "insn 1: invalid memory read"));
	/* bad tables */
	CHECK_EQ_U64(bpfvm_hook_run_ex(h, &c, NULL, 1, &r0, 1), NEG(EINVAL));
	struct bpfvm_hook *h2 = NULL;
	d.readable = NULL;
	CHECK_EQ_U64(bpfvm_hook_new(vm, &d, &h2), NEG(EINVAL));
	bpfvm_hook_free(h);
	munmap(hole, (size_t)pg);
	bpfvm_free(vm);
}

/* ---- untrusted mode: pointer leaks ------------------------------------------------------------ */

/* From here on, src is a format with the map as its one argument, a literal in each caller. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* The program fails in an untrusted instance with the message, and in a trusted one runs as before
 * (returning *trusted_r0 when given). */
static void leak(struct bpfvm *ut, struct bpfvm *tr, int mk_ut, int mk_tr, const char *src, void *mem, size_t len,
		 const char *msg, const uint64_t *trusted_r0)
{
	int err;
	int a = prog(ut, 0, src, MAPFD(mk_ut)), b = prog(tr, 0, src, MAPFD(mk_tr));
	CHECK(a >= 0 && b >= 0);
	run(ut, a, mem, len, &err);
	CHECK_EQ_U64(err, NEG(EACCES));
	CHECK(has(ut, msg));
	CHECK(strstr(bpfvm_errmsg(ut), "0x7f") == NULL); /* the message does not give the address away */
	uint64_t r0 = run(tr, b, mem, len, &err);
	CHECK_EQ_U64(err, 0);
	if (trusted_r0)
		CHECK_EQ_U64(r0, *trusted_r0);
	bpfvm_close(ut, a);
	bpfvm_close(tr, b);
}

/* Lookup of key 0 of the %1$llu map into r0 (a map value pointer), leaving if NULL. */
#define LOOKUP "*(u32 *)(r10 - 4) = 0\nr1 = %1$llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 != 0 goto +2\nr0 = 0\nexit\n"

TEST(untrusted_no_pointer_in_r0)
{
	struct bpfvm *ut = new_vm(1), *tr = new_vm(0);
	int mu = mk(ut, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0), mt = mk(tr, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint8_t mem[16] = { 0 };
	const uint64_t mem_addr = (uintptr_t)mem;
	/* the reproducer: a host stack address */
	leak(ut, tr, mu, mt, "r0 = r10\nexit\n", NULL, 0, "insn 1: R0 leaks addr as return value (untrusted mode)", NULL);
	leak(ut, tr, mu, mt, "r0 = r10\nr0 += -512\nexit\n", NULL, 0, "R0 leaks addr as return value", NULL);
	leak(ut, tr, mu, mt, "r0 = r1\nexit\n", mem, sizeof(mem), "R0 leaks addr as return value", &mem_addr);
	leak(ut, tr, mu, mt, "r0 = r1\nr0 += 16\nexit\n", mem, sizeof(mem), "R0 leaks addr", NULL); /* one past */
	leak(ut, tr, mu, mt, "r0 = %1$llu ll\nexit\n", NULL, 0, "insn 2: R0 leaks addr", NULL);     /* a map */
	leak(ut, tr, mu, mt, LOOKUP "exit\n", NULL, 0, "insn 9: R0 leaks addr", NULL);            /* a value */
	bpfvm_close(ut, mu);
	bpfvm_close(tr, mt);

	/* a callback's r0 (Linux wants a scalar there too) */
	int err;
	int cb = prog(ut, 0, "r1 = 1\nr2 = %llu ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\nr0 = r10\nexit\n", FUNC(8));
	CHECK(cb >= 0);
	run(ut, cb, NULL, 0, &err);
	CHECK_EQ_U64(err, NEG(EACCES));
	CHECK(has(ut, "R0 leaks addr as return value"));

	/* scalars are fine, and so are pointers kept on the stack or compared */
	int ok = prog(ut, 0, "*(u64 *)(r10 - 8) = r10\nr1 = *(u64 *)(r10 - 8)\nr0 = 0\n"
			     "if r1 != r10 goto +1\nr0 = 7\nexit\n");
	CHECK_EQ_U64(run(ut, ok, NULL, 0, &err), 7);
	CHECK_EQ_U64(err, 0);
	bpfvm_free(ut);
	bpfvm_free(tr);
}

TEST(untrusted_no_pointer_stored_outside_the_stack)
{
	struct bpfvm *ut = new_vm(1), *tr = new_vm(0);
	int mu = mk(ut, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0), mt = mk(tr, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint64_t mem[2] = { 0, 0 };
	int err;
	int st = prog(ut, 0, "*(u64 *)(r1 + 0) = r10\nr0 = 0\nexit\n");
	run(ut, st, mem, sizeof(mem), &err);
	CHECK_EQ_U64(err, NEG(EACCES));
	CHECK_EQ_U64(mem[0], (uint64_t)0); /* stopped before the store */
	leak(ut, tr, mu, mt, "*(u64 *)(r1 + 0) = r10\nr0 = 0\nexit\n", mem, sizeof(mem),
	     "insn 0: R10 leaks addr into mem (untrusted mode)", NULL);
	leak(ut, tr, mu, mt, "*(u32 *)(r1 + 4) = w10\nr0 = 0\nexit\n", mem, sizeof(mem), "R10 leaks addr into mem", NULL);
	leak(ut, tr, mu, mt, "r2 = r1\n*(u64 *)(r1 + 8) = r2\nr0 = 0\nexit\n", mem, sizeof(mem),
	     "insn 1: R2 leaks addr into mem", NULL);
	leak(ut, tr, mu, mt, LOOKUP "*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit\n", NULL, 0, "insn 9: R10 leaks addr into map",
	     NULL);
	leak(ut, tr, mu, mt, LOOKUP "r1 = r0\n*(u64 *)(r0 + 0) = r1\nr0 = 0\nexit\n", NULL, 0, "R1 leaks addr into map",
	     NULL);
	/* atomics: with a pointer operand, even on the stack (Linux: "leaks addr into mem") */
	leak(ut, tr, mu, mt, "*(u64 *)(r10 - 8) = 0\nr2 = r10\nr2 = xchg_64(r10 - 8, r2)\nr0 = 0\nexit\n", NULL, 0,
	     "insn 2: R2 leaks addr into mem", NULL);
	leak(ut, tr, mu, mt, LOOKUP "r1 = r10\nlock *(u64 *)(r0 + 0) += r1\nr0 = 0\nexit\n", NULL, 0,
	     "R1 leaks addr into mem", NULL);
	/* scalars may be stored anywhere */
	int ok = prog(ut, 0, LOOKUP "*(u64 *)(r0 + 0) = 5\nr1 = 6\n*(u64 *)(r0 + 0) = r1\nr0 = 0\nexit\n", MAPFD(mu));
	CHECK(ok >= 0);
	CHECK_EQ_U64(run(ut, ok, NULL, 0, &err), 0);
	CHECK_EQ_U64(err, 0);
	uint32_t k = 0;
	uint64_t v = 0;
	CHECK(LKP(ut, mu, &k, &v) == 0);
	CHECK_EQ_U64(v, 6);
	bpfvm_free(ut);
	bpfvm_free(tr);
}

TEST(untrusted_no_pointer_into_helpers)
{
	struct bpfvm *ut = new_vm(1), *tr = new_vm(0);
	int mu = mk(ut, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0), mt = mk(tr, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	const uint64_t zero = 0;
#define UPDATE "*(u32 *)(r10 - 4) = 0\nr1 = %1$llu ll\nr2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\n"
	/* a scalar argument (flags) holding an address */
	leak(ut, tr, mu, mt, "*(u64 *)(r10 - 16) = 1\n" UPDATE "r4 = r10\ncall 2\nexit\n", NULL, 0,
	     "insn 9: R4 leaks addr into helper function (untrusted mode)", NULL);
	/* the value the helper copies into the map holds a spilled pointer */
	leak(ut, tr, mu, mt, "*(u64 *)(r10 - 16) = r10\n" UPDATE "r4 = 0\ncall 2\nexit\n", NULL, 0,
	     "insn 9: R3 leaks addr into helper function: the memory it reads holds a pointer", &zero);
	/* bpf_trace_printk's arguments */
	leak(ut, tr, mu, mt, "*(u32 *)(r10 - 8) = 0x786c25\nr1 = r10\nr1 += -8\nr2 = 4\nr3 = r10\ncall 6\nr0 = 0\nexit\n",
	     NULL, 0, "insn 5: R3 leaks addr into helper function", NULL);
#undef UPDATE
	/* scalar values pass */
	int err;
	int ok = prog(ut, 0, "*(u64 *)(r10 - 16) = 42\n*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\n"
			     "r3 = r10\nr3 += -16\nr4 = 0\ncall 2\nexit\n", MAPFD(mu));
	CHECK_EQ_U64(run(ut, ok, NULL, 0, &err), 0);
	CHECK_EQ_U64(err, 0);
	bpfvm_free(ut);
	bpfvm_free(tr);
}

/* An XDP program: its ctx holds the packet's addresses (u32 fields); through a helper's memory argument,
 * a store or r0 they would leave the program.  Unverified: the run-time checks are what is tested (the
 * verifier refuses the first at load even for a trusted program). */
TEST(untrusted_packet_addresses)
{
	struct bpfvm *ut = new_vm_verify(1, BPFVM_VERIFY_OFF), *tr = new_vm_verify(0, BPFVM_VERIFY_OFF);
	uint8_t frame[64] = { 0 }, out[256];
	size_t out_len;
	struct bpfvm_pkt_result res;
	static const char *const src[] = {
		/* the ctx as the value map_update copies */
		"r6 = r1\n*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\nr3 = r6\nr4 = 0\ncall 2\nr0 = 2\nexit\n",
		/* data stored into a map value */
		("r6 = r1\n*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto +3\n"
		 "r1 = *(u32 *)(r6 + 0)\n*(u32 *)(r0 + 0) = w1\nr0 = 2\nexit\n"),
		/* data_end returned */
		"r0 = *(u32 *)(r1 + 4)\nexit\n",
	};
	static const char *const msg[] = { "insn 8: R3 type=ctx expected=fp", "insn 9: R1 leaks addr into map",
					   "insn 1: R0 leaks addr as return value" };
	int mu = mk(ut, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0), mt = mk(tr, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	for (size_t i = 0; i < N(src); i++) {
		int a = prog(ut, BPF_PROG_TYPE_XDP, src[i], MAPFD(mu)), b = prog(tr, BPF_PROG_TYPE_XDP, src[i], MAPFD(mt));
		CHECK(a >= 0 && b >= 0);
		CHECK_EQ_U64(bpfvm_prog_run_packet(ut, a, frame, sizeof(frame), out, sizeof(out), &out_len, &res), NEG(EACCES));
		CHECK(has(ut, msg[i]));
		CHECK_EQ_U64(bpfvm_prog_run_packet(tr, b, frame, sizeof(frame), out, sizeof(out), &out_len, &res), 0);
	}
	bpfvm_free(ut);
	bpfvm_free(tr);
}

#pragma GCC diagnostic pop

/* A tail call hands the next program nothing of the caller but r1 (as Linux's verifier allows): else
 * P0 could pass its map value's address in r6 or on the stack to P1, whose checks only know P1's maps. */
TEST(untrusted_tail_call_carries_no_pointer)
{
	for (int u = 0; u < 2; u++) {
		struct bpfvm *vm = new_vm(u);
		int m0 = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0), pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		/* P1: r0 = r6 + the u64 at r10-8 (its stack, never written by it) */
		int p1 = prog(vm, 0, "r0 = *(u64 *)(r10 - 8)\nr0 += r6\nexit\n");
		uint32_t k = 0;
		CHECK(p1 >= 0 && UPD(vm, pa, &k, &p1, 0) == 0);
		/* P0: its map value's address in r6, or on its stack, then tail call P1 */
		int in_reg = prog(vm, 0, "r7 = r1\n" LOOKUP "r6 = r0\nr1 = r7\nr2 = %2$llu ll\nr3 = 0\ncall 12\nr0 = 1\nexit\n",
				  MAPFD(m0), MAPFD(pa));
		int on_stack = prog(vm, 0, "r7 = r1\n" LOOKUP "*(u64 *)(r10 - 8) = r0\nr6 = 0\nr1 = r7\nr2 = %2$llu ll\n"
					   "r3 = 0\ncall 12\nr0 = 1\nexit\n", MAPFD(m0), MAPFD(pa));
		CHECK(in_reg >= 0 && on_stack >= 0);
		int err;
		uint64_t a = run(vm, in_reg, NULL, 0, &err);
		CHECK_EQ_U64(err, 0);
		uint64_t b = run(vm, on_stack, NULL, 0, &err);
		CHECK_EQ_U64(err, 0);
		if (u) { /* untrusted: P1 sees zeroes */
			CHECK_EQ_U64(a, 0);
			CHECK_EQ_U64(b, 0);
		} else { /* trusted: today's behaviour, the address passes through */
			CHECK(a > 0xffff && b == a);
		}
		bpfvm_free(vm);
	}
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-untrusted-%d", (int)getpid());
	RUN(probe_read_only_for_tracing_types);
	RUN(hook_readable_ranges);
	RUN(untrusted_no_pointer_in_r0);
	RUN(untrusted_no_pointer_stored_outside_the_stack);
	RUN(untrusted_no_pointer_into_helpers);
	RUN(untrusted_packet_addresses);
	RUN(untrusted_tail_call_carries_no_pointer);
	rmdir(pin_root);
	return test_done();
}
