/* test_helpers.c -- helpers called from programs, each result checked against what Linux's helper
 * returns (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c, mm/maccess.c): map helpers, time, randomness,
 * identity, snprintf, strtol/strtoul, strncmp, ring buffer queries, probe reads of host memory (valid
 * and unmapped), spin locks under contention.
 *
 * Programs are assembler text (bpfvm_asm).  The assembler has no syntax for lddw pseudo sources, so
 * `rN = <marker> ll` is patched after assembly: MAPFD(fd) becomes BPF_PSEUDO_MAP_FD, MAPVAL(fd, off)
 * BPF_PSEUDO_MAP_VALUE and FUNC(pc) a BPF_PSEUDO_FUNC reference to instruction pc. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"
#include "sys.h"
#include "maps/maps.h"

#define NEG(e) ((uint64_t)-(int64_t)(e))

static char pin_root[128];

static struct bpfvm *new_vm(unsigned cpus)
{
	return test_vm(cpus, pin_root);
}

/* An instance that loads without the verifier: for programs that hand helpers memory the verifier would
 * not let them (a kprobe's ctx as plain memory), so that the helpers' own run-time checks are what is
 * tested. */
static struct bpfvm *new_vm_unverified(unsigned cpus)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = cpus, .pin_root = pin_root, .verify = BPFVM_VERIFY_OFF };
	return bpfvm_new(&o);
}


static long freeze(struct bpfvm *vm, int fd)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	return bpfvm_bpf(vm, BPF_MAP_FREEZE, &a, sizeof(a));
}

/* Assembles printf-formatted text, patches the markers, loads it as `type`.  Returns the handle. */
__attribute__((format(printf, 3, 4)))
static int prog(struct bpfvm *vm, uint32_t type, const char *fmt, ...)
{
	char src[8192];
	struct bpf_insn insns[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(src, sizeof(src), fmt, ap);
	va_end(ap);
	long n = bpfvm_asm(vm, src, insns, 512);
	if (n <= 0 || n > 512) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -EINVAL;
	}
	test_patch_markers(insns, n);
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "h");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

static uint64_t run(struct bpfvm *vm, int fd, void *mem, size_t len)
{
	uint64_t r0 = 0xdeadbeef;
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, &r0);
	if (err) {
		printf("  run: %d %s\n", err, bpfvm_errmsg(vm));
		return 0xdeadbeef;
	}
	return r0;
}

/* ---- map helpers ----------------------------------------------------------------------------- */

TEST(map_delete_elem)
{
	struct bpfvm *vm = new_vm(1);
	int h = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0), ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	uint32_t k = 5;
	uint64_t v = 9;
	CHECK(UPD(vm, h, &k, &v, 0) == 0);
#define SRC "*(u32 *)(r10 - 4) = 5\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 3\nexit\n"
	int p = prog(vm, 0, SRC, MAPFD(h)), pa = prog(vm, 0, SRC, MAPFD(ar));
#undef SRC
	CHECK_EQ_U64(run(vm, p, NULL, 0), 0);
	CHECK(LKP(vm, h, &k, &v) == -ENOENT);
	CHECK_EQ_U64(run(vm, p, NULL, 0), NEG(ENOENT));
	CHECK_EQ_U64(run(vm, pa, NULL, 0), NEG(EINVAL)); /* array elements cannot be deleted */
	bpfvm_free(vm);
}

/* push 11, 22, 33 (the third finds the map full), peek, pop x3: the results land in mem[] */
#define QUEUE_SRC \
	"r6 = r1\n" \
	"*(u64 *)(r10 - 8) = 11\nr1 = %1$llu ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 87\n*(u64 *)(r6 + 0) = r0\n" \
	"*(u64 *)(r10 - 8) = 22\nr1 = %1$llu ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 87\n*(u64 *)(r6 + 8) = r0\n" \
	"*(u64 *)(r10 - 8) = 33\nr1 = %1$llu ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 87\n*(u64 *)(r6 + 16) = r0\n" \
	"r1 = %1$llu ll\nr2 = r10\nr2 += -8\ncall 89\n*(u64 *)(r6 + 24) = r0\nr0 = *(u64 *)(r10 - 8)\n*(u64 *)(r6 + 32) = r0\n" \
	"r1 = %1$llu ll\nr2 = r10\nr2 += -8\ncall 88\n*(u64 *)(r6 + 40) = r0\nr0 = *(u64 *)(r10 - 8)\n*(u64 *)(r6 + 48) = r0\n" \
	"r1 = %1$llu ll\nr2 = r10\nr2 += -8\ncall 88\n*(u64 *)(r6 + 56) = r0\nr0 = *(u64 *)(r10 - 8)\n*(u64 *)(r6 + 64) = r0\n" \
	"r1 = %1$llu ll\nr2 = r10\nr2 += -8\ncall 88\n*(u64 *)(r6 + 72) = r0\n" \
	 \
	"r0 = 0\nexit\n"

TEST(map_push_pop_peek)
{
	struct bpfvm *vm = new_vm(1);
	int q = mk(vm, BPF_MAP_TYPE_QUEUE, 0, 8, 2, 0), s = mk(vm, BPF_MAP_TYPE_STACK, 0, 8, 2, 0);
	uint64_t m[10];
	memset(m, 0xaa, sizeof(m));
	int pq = prog(vm, 0, QUEUE_SRC, MAPFD(q)), ps = prog(vm, 0, QUEUE_SRC, MAPFD(s));
	CHECK_EQ_U64(run(vm, pq, m, sizeof(m)), 0);
	CHECK(m[0] == 0 && m[1] == 0 && m[2] == NEG(E2BIG));
	CHECK(m[3] == 0 && m[4] == 11);                   /* FIFO: peek sees the oldest */
	CHECK(m[5] == 0 && m[6] == 11 && m[7] == 0 && m[8] == 22);
	CHECK_EQ_U64(m[9], NEG(ENOENT));
	memset(m, 0xaa, sizeof(m));
	CHECK_EQ_U64(run(vm, ps, m, sizeof(m)), 0);
	CHECK(m[0] == 0 && m[1] == 0 && m[2] == NEG(E2BIG));
	CHECK(m[3] == 0 && m[4] == 22);                   /* LIFO: peek sees the newest */
	CHECK(m[5] == 0 && m[6] == 22 && m[7] == 0 && m[8] == 11);
	CHECK_EQ_U64(m[9], NEG(ENOENT));
	bpfvm_free(vm);
}

TEST(map_lookup_percpu_elem)
{
	struct bpfvm *vm = new_vm(3);
	int pa = mk(vm, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, 0), ph = mk(vm, BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 2, 0),
	    ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint32_t k = 0;
	uint64_t vals[3] = { 10, 20, 30 }, hv[3] = { 7, 8, 9 };
	CHECK(UPD(vm, pa, &k, vals, 0) == 0);
	CHECK(UPD(vm, ph, &k, hv, 0) == 0);
	CHECK(UPD(vm, ar, &k, vals, 0) == 0);
	/* r0 = *bpf_map_lookup_percpu_elem(map, &0, cpu = mem[0]), or 999 for NULL */
#define SRC "*(u32 *)(r10 - 4) = 0\nr3 = *(u32 *)(r1 + 0)\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 195\n" \
			  "if r0 == 0 goto none\nr0 = *(u64 *)(r0 + 0)\nexit\nnone:\nr0 = 999\nexit\n"
	int p = prog(vm, 0, SRC, MAPFD(pa)), q = prog(vm, 0, SRC, MAPFD(ph)), r = prog(vm, 0, SRC, MAPFD(ar));
#undef SRC
	for (uint32_t cpu = 0; cpu < 4; cpu++) {
		CHECK_EQ_U64(run(vm, p, &cpu, 4), cpu < 3 ? vals[cpu] : 999);
		CHECK_EQ_U64(run(vm, q, &cpu, 4), cpu < 3 ? hv[cpu] : 999);
		CHECK_EQ_U64(run(vm, r, &cpu, 4), 999); /* not a per-CPU map: NULL */
	}
	bpfvm_free(vm);
}

TEST(for_each_map_elem)
{
	struct bpfvm *vm = new_vm(1);
	int ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	for (uint32_t k = 0; k < 4; k++) {
		uint64_t v = k + 1;
		CHECK(UPD(vm, ar, &k, &v, 0) == 0);
	}
	/* ctx on the stack: {sum of values, sum of keys, stop value}; cb stops (returns 1) at *value == stop.
	 * Out: mem[0] = helper's return, mem[1] = sum, mem[2] = key sum, mem[3] = return with flags 1. */
#define SRC \
		"goto main\n" \
		"r5 = *(u64 *)(r3 + 0)\nr0 = *(u64 *)(r4 + 0)\nr0 += r5\n*(u64 *)(r4 + 0) = r0\n" \
		"r0 = *(u32 *)(r2 + 0)\nr1 = *(u64 *)(r4 + 8)\nr1 += r0\n*(u64 *)(r4 + 8) = r1\n" \
		"r0 = 0\nr1 = *(u64 *)(r4 + 16)\nif r1 != r5 goto cont\nr0 = 1\ncont:\nexit\n" \
		"main:\nr6 = r1\n*(u64 *)(r10 - 24) = 0\n*(u64 *)(r10 - 16) = 0\nr1 = *(u64 *)(r6 + 0)\n*(u64 *)(r10 - 8) = r1\n" \
		"r1 = %1$llu ll\nr2 = %2$llu ll\nr3 = r10\nr3 += -24\nr4 = 0\ncall 164\n*(u64 *)(r6 + 0) = r0\n" \
		"r1 = *(u64 *)(r10 - 24)\n*(u64 *)(r6 + 8) = r1\nr1 = *(u64 *)(r10 - 16)\n*(u64 *)(r6 + 16) = r1\n" \
		"r1 = %1$llu ll\nr2 = %2$llu ll\nr3 = r10\nr3 += -24\nr4 = 1\ncall 164\n*(u64 *)(r6 + 24) = r0\n" \
		 \
	"r0 = 0\nexit\n"
	int p = prog(vm, 0, SRC, MAPFD(ar), FUNC(1));
#undef SRC
#undef SRC
	uint64_t m[4] = { 0 };
	CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
	CHECK_EQ_U64(m[0], 4);
	CHECK_EQ_U64(m[1], 1 + 2 + 3 + 4);
	CHECK_EQ_U64(m[2], 0 + 1 + 2 + 3);
	CHECK_EQ_U64(m[3], NEG(EINVAL)); /* flags must be 0 */
	m[0] = 2;                        /* stop at the element whose value is 2: it counts (Linux) */
	CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
	CHECK_EQ_U64(m[0], 2);
	CHECK_EQ_U64(m[1], 1 + 2);
	bpfvm_free(vm);
}

/* ---- time, randomness, identity ----------------------------------------------------------------- */

static uint64_t now(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

TEST(time_helpers)
{
	struct bpfvm *vm = new_vm(1);
	/* mem[0..5] = boot, coarse, jiffies, then the same again */
#define SRC "r6 = r1\ncall 125\n*(u64 *)(r6 + 0) = r0\ncall 160\n*(u64 *)(r6 + 8) = r0\ncall 118\n" \
			  "*(u64 *)(r6 + 16) = r0\ncall 125\n*(u64 *)(r6 + 24) = r0\ncall 160\n*(u64 *)(r6 + 32) = r0\n" \
			  "call 118\n*(u64 *)(r6 + 40) = r0\nr0 = 0\nexit\n"
	int p = prog(vm, 0, "%s", SRC);
#undef SRC
	uint64_t m[6];
	uint64_t b0 = now(CLOCK_BOOTTIME), c0 = now(CLOCK_MONOTONIC_COARSE);
	CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
	uint64_t b1 = now(CLOCK_BOOTTIME), c1 = now(CLOCK_MONOTONIC_COARSE);
	CHECK(b0 <= m[0] && m[0] <= m[3] && m[3] <= b1);
	CHECK(c0 <= m[1] && m[1] <= m[4] && m[4] <= c1);
	/* jiffies64: a monotonic tick count; bpfvm's tick is 1 ms of the coarse clock */
	CHECK(c0 / 1000000 <= m[2] && m[2] <= m[5] && m[5] <= c1 / 1000000);
	bpfvm_free(vm);
}

TEST(get_prandom_u32)
{
	struct bpfvm *vm = new_vm(1);
	int p = prog(vm, 0, "r6 = r1\ncall 7\n*(u64 *)(r6 + 0) = r0\ncall 7\n*(u64 *)(r6 + 8) = r0\nr0 = 0\nexit\n");
	enum { RUNS = 2000 };
	static uint32_t seen[2 * RUNS];
	unsigned bits[32] = { 0 }, same_pair = 0, dup = 0, wide = 0;
	for (int i = 0; i < RUNS; i++) {
		uint64_t m[2];
		CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
		CHECK(m[0] >> 32 == 0 && m[1] >> 32 == 0); /* u32 results */
		same_pair += m[0] == m[1];
		seen[2 * i] = (uint32_t)m[0];
		seen[2 * i + 1] = (uint32_t)m[1];
	}
	for (int i = 0; i < 2 * RUNS; i++) {
		for (int b = 0; b < 32; b++)
			bits[b] += seen[i] >> b & 1;
		wide += seen[i] > 0xffffff;
		for (int j = 0; j < i; j++)
			dup += seen[i] == seen[j];
	}
	CHECK(same_pair == 0);
	CHECK(dup <= 2); /* 4000 draws of 32 bits: a repeat has probability ~0.002 */
	CHECK(wide > 2 * RUNS * 99 / 100);
	for (int b = 0; b < 32; b++)
		CHECK(bits[b] > 2 * RUNS * 45 / 100 && bits[b] < 2 * RUNS * 55 / 100);
	bpfvm_free(vm);
}

TEST(numa_and_cpu)
{
	struct bpfvm *vm = new_vm(2);
	int p = prog(vm, 0, "call 42\nexit\n"), q = prog(vm, 0, "call 8\nexit\n");
	CHECK_EQ_U64(run(vm, p, NULL, 0), 0);
	CHECK(run(vm, q, NULL, 0) < 2);
	bpfvm_free(vm);
}

struct ident {
	struct bpfvm *vm;
	int pid_prog, comm_prog;
	uint64_t pid_tgid, expect;
	char comm[16], comm4[4];
};

static void *ident_thread(void *arg)
{
	struct ident *t = arg;
	prctl(PR_SET_NAME, "hlp-thread", 0, 0, 0);
	t->pid_tgid = run(t->vm, t->pid_prog, NULL, 0);
	t->expect = ((uint64_t)getpid() << 32) | (uint32_t)gettid();
	memset(t->comm, 0x55, sizeof(t->comm));
	run(t->vm, t->comm_prog, t->comm, sizeof(t->comm));
	memset(t->comm4, 0x55, sizeof(t->comm4));
	run(t->vm, t->comm_prog, t->comm4, sizeof(t->comm4));
	return NULL;
}

TEST(current_task_helpers)
{
	struct bpfvm *vm = new_vm(1);
	struct ident t = { .vm = vm };
	t.pid_prog = prog(vm, 0, "call 14\nexit\n");
	t.comm_prog = prog(vm, 0, "call 16\nexit\n"); /* r1 = mem, r2 = its length */
	int ug = prog(vm, 0, "call 15\nexit\n");
	CHECK_EQ_U64(run(vm, t.pid_prog, NULL, 0), ((uint64_t)getpid() << 32) | (uint32_t)gettid());
	CHECK_EQ_U64(run(vm, ug, NULL, 0), ((uint64_t)getgid() << 32) | getuid());
	pthread_t th;
	pthread_create(&th, NULL, ident_thread, &t);
	pthread_join(th, NULL);
	CHECK_EQ_U64(t.pid_tgid, t.expect);
	CHECK(t.expect >> 32 != (uint32_t)t.expect); /* a thread: tid differs from tgid */
	CHECK_EQ_STR(t.comm, "hlp-thread");      /* the calling thread's comm, NUL-padded */
	CHECK(t.comm[10] == 0 && t.comm[15] == 0);
	CHECK(!memcmp(t.comm4, "hlp", 4));        /* truncated, NUL-terminated */
	bpfvm_free(vm);
}

/* ---- bpf_snprintf ------------------------------------------------------------------------------ */

#define FMT_OFF 0
#define BAD_OFF 64
#define STR_OFF 96

/* out: mem[0..63], str_size = *(u32 *)(mem + 64); args -5, 4000000000, 0xbeef, "hi", 0x1122334455667788 */
static int snprintf_prog(struct bpfvm *vm, int fm, unsigned fmt_off, unsigned data_len)
{
	return prog(vm, 0,
		    "r6 = r1\n*(u64 *)(r10 - 40) = -5\nr1 = 4000000000 ll\n*(u64 *)(r10 - 32) = r1\n"
		    "*(u64 *)(r10 - 24) = 0xbeef\nr1 = %llu ll\n*(u64 *)(r10 - 16) = r1\n"
		    "r1 = 0x1122334455667788 ll\n*(u64 *)(r10 - 8) = r1\n"
		    "r1 = r6\nr2 = *(u32 *)(r6 + 64)\nr3 = %llu ll\nr4 = r10\nr4 += -40\nr5 = %u\ncall 165\nexit\n",
		    MAPVAL(fm, STR_OFF), MAPVAL(fm, fmt_off), data_len);
}

TEST(snprintf_formats)
{
	struct bpfvm *vm = new_vm(1);
	/* formats live in a read-only map, as ARG_PTR_TO_CONST_STR requires in Linux */
	int fm = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 128, 1, BPF_F_RDONLY_PROG);
	char val[128] = { 0 };
	strcpy(val + FMT_OFF, "%d %u %x %s %llx");
	strcpy(val + BAD_OFF, "%d %q");
	strcpy(val + STR_OFF, "hi");
	uint32_t k = 0;
	CHECK(UPD(vm, fm, &k, val, 0) == 0);
	CHECK(freeze(vm, fm) == 0);
	int p = snprintf_prog(vm, fm, FMT_OFF, 40);
	const char *want = "-5 4000000000 beef hi 1122334455667788";
	struct { char out[64]; uint32_t size; } m;
	memset(&m, 0x55, sizeof(m));
	m.size = 64;
	CHECK_EQ_U64(run(vm, p, &m, sizeof(m)), strlen(want) + 1); /* bytes including the NUL */
	CHECK_EQ_STR(m.out, want);
	memset(&m, 0x55, sizeof(m));
	m.size = 8; /* truncated: still NUL-terminated, still the length the whole output needs */
	CHECK_EQ_U64(run(vm, p, &m, sizeof(m)), strlen(want) + 1);
	CHECK_EQ_STR(m.out, "-5 4000");
	CHECK((uint8_t)m.out[8] == 0x55);
	memset(&m, 0x55, sizeof(m));
	m.size = 0; /* nothing written */
	CHECK_EQ_U64(run(vm, p, &m, sizeof(m)), strlen(want) + 1);
	CHECK((uint8_t)m.out[0] == 0x55);
	/* too few arguments for the format, a bad conversion, data_len not a multiple of 8 */
	m.size = 64;
	CHECK_EQ_U64(run(vm, snprintf_prog(vm, fm, FMT_OFF, 32), &m, sizeof(m)), NEG(EINVAL));
	CHECK_EQ_U64(run(vm, snprintf_prog(vm, fm, BAD_OFF, 40), &m, sizeof(m)), NEG(EINVAL));
	CHECK_EQ_U64(run(vm, snprintf_prog(vm, fm, FMT_OFF, 36), &m, sizeof(m)), NEG(EINVAL));
	bpfvm_free(vm);
}

/* ---- strtol / strtoul / strncmp ---------------------------------------------------------------- */

struct strto_mem {
	uint32_t len, pad;
	uint64_t flags;
	char s[64];
	uint64_t res;
};

static int strto_prog(struct bpfvm *vm, int id)
{
	return prog(vm, 0,
		    "r6 = r1\nr1 = r6\nr1 += 16\nr2 = *(u32 *)(r6 + 0)\nr3 = *(u64 *)(r6 + 8)\n"
		    "r7 = 0x5a5a\n*(u64 *)(r10 - 8) = r7\nr4 = r10\nr4 += -8\ncall %d\n"
		    "r1 = *(u64 *)(r10 - 8)\n*(u64 *)(r6 + 80) = r1\nexit\n",
		    id);
}

static const struct strto_case {
	const char *s;
	int len;             /* -1: strlen */
	uint64_t flags;
	int64_t ret;
	uint64_t res;        /* 0x5a5a: untouched */
} strtol_cases[] = {
	{ "123", -1, 10, 3, 123 },
	{ "  -42xyz", -1, 0, 5, (uint64_t)-42 },
	{ "\t\n+7", -1, 0, -EINVAL, 0x5a5a },          /* no '+' in Linux */
	{ "0x1f", -1, 0, 4, 31 },
	{ "0x1f", -1, 16, 4, 31 },
	{ "1f", -1, 16, 2, 31 },
	{ "0x", -1, 0, 1, 0 },                          /* "0x" without a hex digit: octal 0 */
	{ "0xg", -1, 16, -EINVAL, 0x5a5a },             /* base 16 skips "0x" and finds no digit */
	{ "017", -1, 0, 3, 15 },
	{ "089", -1, 0, 1, 0 },
	{ "12345", 3, 10, 3, 123 },                     /* the buffer length bounds the parse */
	{ "9223372036854775807", -1, 10, 19, 0x7fffffffffffffffull },
	{ "9223372036854775808", -1, 10, -ERANGE, 0x5a5a },
	{ "-9223372036854775808", -1, 10, 20, 0x8000000000000000ull },
	{ "-9223372036854775809", -1, 10, -ERANGE, 0x5a5a },
	{ "99999999999999999999", -1, 10, -ERANGE, 0x5a5a },
	{ "abc", -1, 10, -EINVAL, 0x5a5a },
	{ "   ", -1, 10, -EINVAL, 0x5a5a },
	{ "-", -1, 10, -EINVAL, 0x5a5a },
	{ "12", -1, 2, -EINVAL, 0x5a5a },               /* bases: 0, 8, 10, 16 */
	{ "12", -1, 32, -EINVAL, 0x5a5a },              /* flags above the base bits */
};

static const struct strto_case strtoul_cases[] = {
	{ "42", -1, 0, 2, 42 },
	{ "-1", -1, 10, -EINVAL, 0x5a5a },
	{ "18446744073709551615", -1, 10, 20, UINT64_MAX },
	{ "18446744073709551616", -1, 10, -ERANGE, 0x5a5a },
	{ "ffffffffffffffff", -1, 16, 16, UINT64_MAX },
	{ "777", -1, 8, 3, 511 },
	{ "778", -1, 8, 2, 63 },
};

static int check_strto(struct bpfvm *vm, int p, const struct strto_case *c, size_t n, const char *name)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct strto_mem m;
		memset(&m, 0, sizeof(m));
		m.len = c[i].len < 0 ? (uint32_t)strlen(c[i].s) : (uint32_t)c[i].len;
		m.flags = c[i].flags;
		memcpy(m.s, c[i].s, strlen(c[i].s));
		uint64_t r = run(vm, p, &m, sizeof(m));
		if (r != (uint64_t)c[i].ret || m.res != c[i].res) {
			printf("  %s(\"%s\", %u, %llu): %lld res 0x%llx, want %lld res 0x%llx\n", name, c[i].s, m.len,
			       (unsigned long long)c[i].flags, (long long)r, (unsigned long long)m.res, (long long)c[i].ret,
			       (unsigned long long)c[i].res);
			bad++;
		}
	}
	return bad;
}

TEST(strtol_strtoul)
{
	struct bpfvm *vm = new_vm(1);
	int pl = strto_prog(vm, 105);
	CHECK(check_strto(vm, pl, strtol_cases, sizeof(strtol_cases) / sizeof(strtol_cases[0]), "strtol") == 0);
	/* buf_len is ARG_CONST_SIZE: 0 is the verifier's "R2 invalid zero-sized read", so the run faults */
	struct strto_mem m0;
	uint64_t r0 = 0;
	memset(&m0, 0, sizeof(m0));
	m0.flags = 10;
	CHECK(bpfvm_prog_run(vm, pl, BPFVM_ENGINE_INTERP, &m0, sizeof(m0), &r0) == -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "R2 invalid zero-sized read") != NULL);
	CHECK(check_strto(vm, strto_prog(vm, 106), strtoul_cases, sizeof(strtoul_cases) / sizeof(strtoul_cases[0]),
			  "strtoul") == 0);
	bpfvm_free(vm);
}

TEST(strncmp)
{
	struct bpfvm *vm = new_vm(1);
	int cm = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 1, BPF_F_RDONLY_PROG);
	char val[16] = "abc";
	uint32_t k = 0;
	CHECK(UPD(vm, cm, &k, val, 0) == 0);
	CHECK(freeze(vm, cm) == 0);
	/* bpf_strncmp(mem + 4, *(u32 *)mem, "abc") */
	int p = prog(vm, 0, "r2 = *(u32 *)(r1 + 0)\nr1 += 4\nr3 = %llu ll\ncall 182\nexit\n", MAPVAL(cm, 0));
	static const struct { const char s1[8]; uint32_t n; int64_t want; } cases[] = {
		{ "abc", 3, 0 }, { "abc", 4, 0 }, { "abd", 3, 1 }, { "abb", 3, -1 }, { "ab", 3, -1 },
		{ "abcd", 4, 1 }, { "abx", 2, 0 }, { "abcd", 3, 0 }, { "b", 1, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct { uint32_t n; char s[8]; } m;
		memset(&m, 0, sizeof(m));
		m.n = cases[i].n;
		memcpy(m.s, cases[i].s1, sizeof(m.s));
		uint64_t r = run(vm, p, &m, sizeof(m));
		if (r != (uint64_t)cases[i].want) {
			printf("  strncmp(\"%s\", %u, \"abc\") = %lld, want %lld\n", cases[i].s1, m.n, (long long)r,
			       (long long)cases[i].want);
			test_cur_failed = 1;
		}
	}
	bpfvm_free(vm);
}

/* ---- ring buffer query --------------------------------------------------------------------------- */

static int rb_noop(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	return 0;
}

TEST(ringbuf_query)
{
	struct bpfvm *vm = new_vm(1);
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	/* output 8 bytes, then mem[i] = bpf_ringbuf_query(rb, i) for i = 0..3 */
	int p = prog(vm, 0,
		     "r6 = r1\n*(u64 *)(r10 - 8) = 1\nr1 = %1$llu ll\nr2 = r10\nr2 += -8\nr3 = 8\nr4 = 0\ncall 130\n"
		     "r1 = %1$llu ll\nr2 = 0\ncall 134\n*(u64 *)(r6 + 0) = r0\n"
		     "r1 = %1$llu ll\nr2 = 1\ncall 134\n*(u64 *)(r6 + 8) = r0\n"
		     "r1 = %1$llu ll\nr2 = 2\ncall 134\n*(u64 *)(r6 + 16) = r0\n"
		     "r1 = %1$llu ll\nr2 = 3\ncall 134\n*(u64 *)(r6 + 24) = r0\nr0 = 0\nexit\n",
		     MAPFD(rb));
	uint64_t m[4];
	CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
	/* one record: 8-byte header + 8 bytes (Linux BPF_RINGBUF_HDR_SZ, 8-byte rounding) */
	CHECK(m[0] == 16 && m[1] == 4096 && m[2] == 0 && m[3] == 16);
	struct bpfvm_ringbuf *c;
	CHECK(bpfvm_ringbuf_new(vm, rb, rb_noop, NULL, &c) == 0);
	CHECK(bpfvm_ringbuf_poll(c, 0) == 1);
	CHECK_EQ_U64(run(vm, p, m, sizeof(m)), 0);
	CHECK(m[0] == 16 && m[1] == 4096 && m[2] == 16 && m[3] == 32);
	bpfvm_ringbuf_free(c);
	bpfvm_free(vm);
}

/* ---- probe reads -------------------------------------------------------------------------------- */

/* The program's input (a kprobe's plain-memory ctx here): where to read, how much, the destination, and
 * text it may read.  The probe reads read only what the program may read or what a host hook registered
 * (test_untrusted.c has the hook ranges): anything else of the host is -EFAULT with the destination
 * zeroed, as an unmapped address is in Linux. */
struct probe_mem {
	uint64_t src;
	uint32_t size, pad;
	uint8_t dst[32];
	char text[24];
};

static int64_t probe(struct bpfvm *vm, int p, struct probe_mem *m, const void *src, uint32_t size)
{
	char text[sizeof(m->text)];
	memcpy(text, m->text, sizeof(text));
	memset(m, 0xff, sizeof(*m));
	memcpy(m->text, text, sizeof(text));
	m->src = (uintptr_t)src;
	m->size = size;
	return (int64_t)run(vm, p, m, sizeof(*m));
}

TEST(probe_read_variants)
{
	struct bpfvm *vm = new_vm_unverified(1);
	long pg = sysconf(_SC_PAGESIZE);
	/* an unmapped page */
	uint8_t *hole = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	static const char host[] = "hello"; /* host memory the program was never given */
	static const int ids[] = { 4, 112, 113, 45, 114, 115 };
	struct probe_mem m;
	memset(m.text, 0, sizeof(m.text));
	memcpy(m.text, "hello", 6);
	memcpy(m.text + sizeof(m.text) - 3, "abc", 3); /* the last bytes of the input */
	const char *text = m.text, *edge = m.text + sizeof(m.text) - 3;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int id = ids[i];
		bool str = id == 45 || id == 114 || id == 115, user = id == 45 || id == 114;
		int p = prog(vm, BPF_PROG_TYPE_KPROBE,
			     "r6 = r1\nr1 += 16\nr2 = *(u32 *)(r6 + 8)\nr3 = *(u64 *)(r6 + 0)\ncall %d\nexit\n", id);
		/* unmapped, host memory not given to the program, the 8 bytes below its input, partly past its
		 * end: -EFAULT, the destination zeroed (and nothing past size touched) */
		const void *bad[] = { hole, host, (const void *)((uintptr_t)&m - 8) };
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			CHECK_EQ_U64(probe(vm, p, &m, bad[b], 8), NEG(EFAULT));
			CHECK(!memcmp(m.dst, "\0\0\0\0\0\0\0\0", 8) && m.dst[8] == 0xff);
		}
		CHECK_EQ_U64(probe(vm, p, &m, edge, 8), NEG(EFAULT));
		CHECK(m.dst[0] == 0 && m.dst[3] == 0 && m.dst[8] == 0xff);
		if (!str) {
			CHECK_EQ_U64(probe(vm, p, &m, text, 6), 0);
			CHECK(!memcmp(m.dst, "hello", 6) && m.dst[6] == 0xff);
			CHECK_EQ_U64(probe(vm, p, &m, edge, 3), 0);   /* exactly up to the end */
			CHECK(!memcmp(m.dst, "abc", 3));
			continue;
		}
		/* strings: bytes written including the NUL; not padded; cut short at size with a NUL */
		CHECK_EQ_U64(probe(vm, p, &m, text, 16), 6);
		CHECK(!memcmp(m.dst, "hello", 6) && m.dst[6] == 0xff);
		CHECK_EQ_U64(probe(vm, p, &m, text, 3), 3);
		CHECK(!memcmp(m.dst, "he", 3) && m.dst[3] == 0xff);
		/* the empty string: the kernel flavour counts its NUL, the user flavour returns 0 (mm/maccess.c) */
		CHECK_EQ_U64(probe(vm, p, &m, text + 5, 16), user ? 0 : 1);
		CHECK(m.dst[0] == 0 && m.dst[1] == 0xff);
		CHECK_EQ_U64(probe(vm, p, &m, text, 0), 0);
		CHECK(m.dst[0] == 0xff);
		/* a string running off the end of the input: -EFAULT, all zeroed */
		CHECK_EQ_U64(probe(vm, p, &m, edge, 8), NEG(EFAULT));
		CHECK(m.dst[0] == 0 && m.dst[7] == 0 && m.dst[8] == 0xff);
	}
	/* its own stack and a map value are readable */
	int ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint32_t k0 = 0;
	uint64_t v = 0x1122334455667788ull;
	CHECK(UPD(vm, ar, &k0, &v, 0) == 0);
	int ps = prog(vm, BPF_PROG_TYPE_KPROBE,
		      "*(u64 *)(r10 - 16) = 77\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = r10\nr3 += -16\ncall 113\n"
		      "if r0 != 0 goto +5\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = %llu ll\ncall 113\n"
		      "if r0 != 0 goto +1\nr0 = *(u64 *)(r10 - 8)\nexit\n", MAPVAL(ar, 0));
	CHECK_EQ_U64(run(vm, ps, NULL, 0), v);
	munmap(hole, (size_t)pg);
	bpfvm_free(vm);
}

/* ---- spin locks ------------------------------------------------------------------------------------ */

struct lock_thr {
	struct bpfvm *vm;
	int prog, ok;
};

static void *lock_run(void *arg)
{
	struct lock_thr *t = arg;
	t->ok = 1;
	for (int i = 0; i < 20000; i++)
		if (run(t->vm, t->prog, NULL, 0) != 0)
			t->ok = 0;
	return NULL;
}

/* What the loader does when the value's BTF has a struct bpf_spin_lock at `off` (raw bpf() maps carry no
 * BTF here, so a program may not lock in them). */
static void set_lock_off(struct bpfvm *vm, int fd, uint32_t off)
{
	int err = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_MAP, &err);
	CHECK(o != NULL);
	if (o) {
		CHECK(map_set_spin_lock_off(o->map, off) == 0);
		sys_put(vm, o);
	}
}

TEST(spin_lock_unlock)
{
	struct bpfvm *vm = new_vm(4);
	int ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0); /* {u32 lock; u32 pad; u64 a; u64 b} */
	set_lock_off(vm, ar, 0);
	/* under the lock, a and b are bumped with plain loads and stores: only mutual exclusion keeps
	 * every increment */
	int p = prog(vm, 0,
		     "*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto out\n"
		     "r6 = r0\nr1 = r6\ncall 93\n"
		     "r1 = *(u64 *)(r6 + 8)\nr1 += 1\n*(u64 *)(r6 + 8) = r1\n"
		     "r1 = *(u64 *)(r6 + 16)\nr1 += 1\n*(u64 *)(r6 + 16) = r1\n"
		     "r1 = r6\ncall 94\nout:\nr0 = 0\nexit\n",
		     MAPFD(ar));
	struct lock_thr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct lock_thr){ vm, p, 0 };
		pthread_create(&th[i], NULL, lock_run, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	uint32_t k = 0;
	uint64_t v[3];
	CHECK(LKP(vm, ar, &k, v) == 0);
	CHECK_EQ_U64(v[1], 4 * 20000);
	CHECK_EQ_U64(v[2], 4 * 20000);
	CHECK_EQ_U64(v[0], 0); /* released */
	bpfvm_free(vm);
}

/* What Linux's verifier refuses about locks faults the run, and a lock is never left held: a program
 * could otherwise spin forever on a second lock or on a word that is no lock. */
TEST(spin_lock_misuse)
{
	struct bpfvm *vm = new_vm(2);
	int ar = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0);
	int nolock = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0);
	set_lock_off(vm, ar, 0);
	static const struct { const char *body; const char *msg; bool locked_map; } cases[] = {
		/* a second bpf_spin_lock is a call under a lock: refused before it could spin (as Linux's
		 * do_check() refuses it before process_spin_lock() sees it) */
		{ "r1 = r6\ncall 93\nr1 = r6\ncall 93\n", "function calls are not allowed while holding a lock", true },
		{ "r1 = r6\ncall 94\n", "bpf_spin_unlock without taking a lock", true },
		{ "r1 = r6\ncall 93\nr1 = r6\nr1 += 8\ncall 94\n", "bpf_spin_unlock of different lock", true },
		{ "r1 = r6\ncall 93\nr0 = 0\nexit\n", "BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed region", true },
		{ "r1 = r6\ncall 93\nr1 = *(u64 *)(r6 + 600)\n", "invalid memory read", true }, /* fault while locked */
		{ "r1 = r6\nr1 += 8\ncall 93\n", "is not the struct bpf_spin_lock of a map value", true },
		{ "r1 = r10\nr1 += -16\ncall 93\n", "is not the struct bpf_spin_lock of a map value", true },
		{ "r1 = r6\ncall 93\n", "is not the struct bpf_spin_lock of a map value", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char src[1024];
		snprintf(src, sizeof(src),
			 "*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto out\n"
			 "r6 = r0\n%sout:\nr0 = 0\nexit\n", MAPFD(cases[i].locked_map ? ar : nolock), cases[i].body);
		int p = prog(vm, 0, "%s", src);
		uint64_t r0 = 0;
		int err = bpfvm_prog_run(vm, p, BPFVM_ENGINE_INTERP, NULL, 0, &r0);
		CHECK(err < 0);
		if (!strstr(bpfvm_errmsg(vm), cases[i].msg)) {
			printf("  case %zu: %s", i, bpfvm_errmsg(vm));
			CHECK(0);
		}
		bpfvm_close(vm, p);
	}
	/* every lock taken above was released: a correct program still gets it at once */
	int ok = prog(vm, 0, "*(u32 *)(r10 - 4) = 0\nr1 = %llu ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto out\n"
		      "r6 = r0\nr1 = r6\ncall 93\nr1 = r6\ncall 94\nout:\nr0 = 7\nexit\n", MAPFD(ar));
	uint64_t r0 = 0;
	CHECK(bpfvm_prog_run(vm, ok, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 7);
	bpfvm_free(vm);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-helpers-%d", (int)getpid());
	RUN(map_delete_elem);
	RUN(map_push_pop_peek);
	RUN(map_lookup_percpu_elem);
	RUN(for_each_map_elem);
	RUN(time_helpers);
	RUN(get_prandom_u32);
	RUN(numa_and_cpu);
	RUN(current_task_helpers);
	RUN(snprintf_formats);
	RUN(strtol_strtoul);
	RUN(strncmp);
	RUN(ringbuf_query);
	RUN(probe_read_variants);
	RUN(spin_lock_unlock);
	RUN(spin_lock_misuse);
	rmdir(pin_root);
	return test_done();
}
