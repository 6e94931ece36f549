/* bench_maps.c -- map operation cost for ARRAY, HASH, LRU_HASH and LPM_TRIE, 1000 pre-inserted keys,
 * with 1 and 2 threads, bpfvm beside the kernel (when its bpf() is usable, i.e. as root):
 *
 *  - from a program: one XDP program per map and operation, the same instruction bytes loaded into bpfvm
 *    and into the kernel, looks up (or updates) the key bpf_get_prandom_u32() % 1000 once per run.
 *    PROG_TEST_RUN with `repeat` gives the mean ns per run; the figure reported is that minus the
 *    duration of the same program without the map call (the baseline, run right after it on the same
 *    side and thread count; the lowest is printed), so it is the cost
 *    of the helper call and the map operation.  With 2 threads both run PROG_TEST_RUN concurrently on
 *    the same program and map; the figure is the mean of their durations.
 *  - from user space: BPF_MAP_LOOKUP_ELEM / BPF_MAP_UPDATE_ELEM through bpfvm_bpf() and bpf(2), wall
 *    time per operation of one thread.
 *
 * Each figure is the best of 3 runs.  Nothing here asserts timings; a run whose program misses its key
 * (retval not XDP_PASS) or whose command fails is flagged in the table. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpfvm.h>

#define NKEYS 1000
#define NOPS 200000          /* user-space commands per thread per run */
#define RUN_NS 40e6          /* PROG_TEST_RUN repeat is sized to run about this long */
#define RUNS 3
#define NA NAN /* not measured */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct target {
	struct bpfvm *vm; /* NULL: kernel */
	int fd;
	uint32_t type, ks;
};

static long do_bpf(struct bpfvm *vm, int cmd, union bpf_attr *a)
{
	if (vm)
		return bpfvm_bpf(vm, cmd, a, sizeof(*a));
	long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static void close_fd(struct bpfvm *vm, int fd)
{
	if (vm)
		bpfvm_close(vm, fd);
	else
		close(fd);
}

/* LPM keys are /32 prefixes 10.x.y.0 (i * 256 above 10.0.0.0), the address in network order. */
static void make_key(const struct target *t, uint32_t i, uint8_t key[8])
{
	memset(key, 0, 8);
	if (t->type == BPF_MAP_TYPE_LPM_TRIE) {
		uint32_t plen = 32, addr = 0x0a000000u + i * 256;
		memcpy(key, &plen, 4);
		key[4] = (uint8_t)(addr >> 24), key[5] = (uint8_t)(addr >> 16), key[6] = (uint8_t)(addr >> 8);
		key[7] = (uint8_t)addr;
	} else {
		memcpy(key, &i, 4);
	}
}

static long elem(const struct target *t, int cmd, const void *key, void *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)t->fd;
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)val;
	return do_bpf(t->vm, cmd, &a);
}

static bool setup(struct target *t, struct bpfvm *vm, uint32_t type)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	t->vm = vm;
	t->type = type;
	t->ks = type == BPF_MAP_TYPE_LPM_TRIE ? 8 : 4;
	a.map_type = type;
	a.key_size = t->ks;
	a.value_size = 8;
	a.max_entries = type == BPF_MAP_TYPE_LPM_TRIE ? NKEYS : NKEYS * 2;
	a.map_flags = type == BPF_MAP_TYPE_LPM_TRIE ? BPF_F_NO_PREALLOC : 0;
	long fd = do_bpf(vm, BPF_MAP_CREATE, &a);
	if (fd < 0)
		return false;
	t->fd = (int)fd;
	for (uint32_t i = 0; i < NKEYS; i++) {
		uint8_t key[8];
		uint64_t v = i;
		make_key(t, i, key);
		if (elem(t, BPF_MAP_UPDATE_ELEM, key, &v)) {
			close_fd(vm, t->fd);
			return false;
		}
	}
	return true;
}

/* ---- programs ------------------------------------------------------------------------------ */

enum prog_op { OP_BASE, OP_LOOKUP, OP_UPDATE };

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

/* The program, as a C reader would write it:
 *	u32 i = bpf_get_prandom_u32() % 1000;
 *	key = i (or for LPM: { .prefixlen = 32, .addr = htonl(0x0a000000 + i * 256) });
 *	OP_LOOKUP: return bpf_map_lookup_elem(&map, &key) ? XDP_PASS : XDP_DROP;
 *	OP_UPDATE: u64 v = i; return bpf_map_update_elem(&map, &key, &v, BPF_ANY) ? XDP_DROP : XDP_PASS;
 *	OP_BASE:   return XDP_PASS;   (same key computation, no map call)
 * Returns the instruction count. */
static size_t build_prog(struct bpf_insn *p, enum prog_op op, bool lpm, int map_fd)
{
	size_t n = 0;

	p[n++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32);
	p[n++] = insn(BPF_ALU | BPF_MOD | BPF_K, 0, 0, 0, NKEYS);
	if (op == OP_UPDATE)
		p[n++] = insn(BPF_STX | BPF_MEM | BPF_DW, 10, 0, -16, 0);
	if (lpm) {
		p[n++] = insn(BPF_ALU | BPF_LSH | BPF_K, 0, 0, 0, 8);
		p[n++] = insn(BPF_ALU | BPF_ADD | BPF_K, 0, 0, 0, 0x0a000000);
		p[n++] = insn(BPF_ALU | BPF_END | BPF_TO_BE, 0, 0, 0, 32);
		p[n++] = insn(BPF_STX | BPF_MEM | BPF_W, 10, 0, -4, 0);
		p[n++] = insn(BPF_ST | BPF_MEM | BPF_W, 10, 0, -8, 32);
	} else {
		p[n++] = insn(BPF_STX | BPF_MEM | BPF_W, 10, 0, -8, 0);
	}
	if (op == OP_BASE) {
		p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
		p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		return n;
	}
	p[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd);
	p[n++] = insn(0, 0, 0, 0, 0);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	p[n++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
	if (op == OP_LOOKUP) {
		p[n++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		p[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0); /* found: XDP_PASS */
	} else {
		p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, 3, 10, 0, 0);
		p[n++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -16);
		p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, BPF_ANY);
		p[n++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem);
		p[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0); /* updated: XDP_PASS */
	}
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_DROP);
	p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_PASS);
	p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static char load_log[4096];

/* Loads the program into vm (NULL: the kernel).  Returns the fd or a negative errno. */
static int load_prog(struct bpfvm *vm, enum prog_op op, bool lpm, int map_fd)
{
	struct bpf_insn prog[32];
	union bpf_attr a;
	size_t n = build_prog(prog, op, lpm, map_fd);

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)load_log;
	a.log_size = sizeof(load_log);
	a.log_level = 1;
	snprintf(a.prog_name, sizeof(a.prog_name), "bench_map");
	load_log[0] = '\0';
	return (int)do_bpf(vm, BPF_PROG_LOAD, &a);
}

struct run_job {
	pthread_barrier_t *go;
	struct bpfvm *vm;
	int prog_fd;
	uint32_t repeat;
	uint32_t duration, retval;
	long err;
};

static void *run_worker(void *arg)
{
	struct run_job *j = arg;
	uint8_t pkt[64];
	union bpf_attr a;

	memset(pkt, 0, sizeof(pkt));
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)j->prog_fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.repeat = j->repeat;
	if (j->go)
		pthread_barrier_wait(j->go); /* both threads' runs overlap from the start */
	j->err = do_bpf(j->vm, BPF_PROG_TEST_RUN, &a);
	j->duration = a.test.duration;
	j->retval = a.test.retval;
	return NULL;
}

/* Best of RUNS of the mean PROG_TEST_RUN duration over `threads` concurrent runs; NA on failure.
 * *miss is set when a run did not end in XDP_PASS (the key was not found or the update failed). */
static double run_prog(struct bpfvm *vm, int prog_fd, int threads, bool *miss)
{
	struct run_job probe = { .vm = vm, .prog_fd = prog_fd, .repeat = 1000 };
	pthread_barrier_t go;
	double best = 1e30;

	run_worker(&probe);
	if (probe.err)
		return NA;
	uint32_t repeat = (uint32_t)(RUN_NS / (probe.duration ? probe.duration : 1));
	if (repeat < 1000)
		repeat = 1000;
	pthread_barrier_init(&go, NULL, (unsigned)threads);
	for (int rep = 0; rep < RUNS; rep++) {
		pthread_t th[2];
		struct run_job jobs[2];
		double sum = 0;
		for (int i = 0; i < threads; i++) {
			jobs[i] = (struct run_job){ .go = &go, .vm = vm, .prog_fd = prog_fd, .repeat = repeat };
			pthread_create(&th[i], NULL, run_worker, &jobs[i]);
		}
		for (int i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < threads; i++) {
			if (jobs[i].err)
				return NA;
			if (jobs[i].retval != XDP_PASS)
				*miss = true;
			sum += jobs[i].duration;
		}
		if (sum / threads < best)
			best = sum / threads;
	}
	pthread_barrier_destroy(&go);
	return best;
}

/* ---- user space ------------------------------------------------------------------------------ */

struct job {
	pthread_barrier_t *go;
	const struct target *t;
	int cmd;
	uint32_t seed;
	long errors;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	uint32_t x = j->seed;
	pthread_barrier_wait(j->go);
	for (int i = 0; i < NOPS; i++) {
		uint8_t key[8];
		uint64_t v = (uint64_t)i;
		x = x * 1103515245u + 12345u;
		make_key(j->t, (x >> 8) % NKEYS, key);
		if (elem(j->t, j->cmd, key, &v))
			j->errors++;
	}
	return NULL;
}

static double run_user(const struct target *t, int cmd, int threads, bool *errors)
{
	pthread_barrier_t go;
	double best = 1e30;

	pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
	for (int rep = 0; rep < RUNS; rep++) {
		pthread_t th[2];
		struct job jobs[2];
		for (int i = 0; i < threads; i++) {
			jobs[i] = (struct job){ &go, t, cmd, 1u + (uint32_t)i * 7919u, 0 };
			pthread_create(&th[i], NULL, worker, &jobs[i]);
		}
		pthread_barrier_wait(&go);
		double t0 = now_ns();
		for (int i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			if (jobs[i].errors)
				*errors = true;
		}
		double ns = (now_ns() - t0) / NOPS; /* per op per thread: wall time / ops of one thread */
		if (ns < best)
			best = ns;
	}
	pthread_barrier_destroy(&go);
	return best;
}

/* ---- table ------------------------------------------------------------------------------------ */

static const char *tname(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
	default: return "?";
	}
}

/* Best-of-RUNS duration of the program without the map call, or NA. */
static double baseline(struct bpfvm *vm, int threads)
{
	bool miss = false;
	int pfd = load_prog(vm, OP_BASE, false, -1);
	if (pfd < 0)
		return NA;
	double d = run_prog(vm, pfd, threads, &miss);
	close_fd(vm, pfd);
	return d;
}

/* One side (bpfvm or kernel) of one row: program lookup/update, user-space lookup/update. */
struct cell {
	double prog[2], user[2];
	bool flag;
};

static void measure(struct bpfvm *vm, uint32_t type, int threads, double base[2], struct cell *c)
{
	struct target t;

	c->prog[0] = c->prog[1] = c->user[0] = c->user[1] = NA;
	memset(&t, 0, sizeof(t));
	if (!setup(&t, vm, type)) {
		c->flag = true;
		return;
	}
	for (int op = 0; op < 2; op++) {
		int pfd = load_prog(vm, op ? OP_UPDATE : OP_LOOKUP, type == BPF_MAP_TYPE_LPM_TRIE, t.fd);
		if (pfd < 0) {
			fprintf(stderr, "bench_maps: %s %s program load failed (%d): %s\n", vm ? "bpfvm" : "kernel",
				tname(type), pfd, vm ? bpfvm_errmsg(vm) : load_log);
			c->flag = true;
			continue;
		}
		double d = run_prog(vm, pfd, threads, &c->flag);
		/* the baseline right beside it, so that both see the same machine load; the lowest seen is
		 * the one closest to the program's own cost */
		double b = baseline(vm, threads);
		if (!isnan(b) && (isnan(base[threads - 1]) || b < base[threads - 1]))
			base[threads - 1] = b;
		if (!isnan(d) && !isnan(b))
			c->prog[op] = d - b;
		else
			c->flag = true;
		close_fd(vm, pfd);
	}
	c->user[0] = run_user(&t, BPF_MAP_LOOKUP_ELEM, threads, &c->flag);
	c->user[1] = run_user(&t, BPF_MAP_UPDATE_ELEM, threads, &c->flag);
	close_fd(vm, t.fd);
}

static void pr(double v)
{
	if (isnan(v))
		printf(" %7s", "-");
	else if (v < 0.5) /* below the 1 ns resolution of PROG_TEST_RUN's duration */
		printf(" %7s", "<1");
	else
		printf(" %7.1f", v);
}

/* Whether the kernel's bpf() can create maps and load XDP programs here; else why not. */
static const char *kernel_unusable(void)
{
	struct target t;
	static char why[160];

	memset(&t, 0, sizeof(t));
	if (!setup(&t, NULL, BPF_MAP_TYPE_ARRAY)) {
		snprintf(why, sizeof(why), "bpf(BPF_MAP_CREATE) failed: %s (needs root)", strerror(errno));
		return why;
	}
	int pfd = load_prog(NULL, OP_LOOKUP, false, t.fd);
	close(t.fd);
	if (pfd < 0) {
		snprintf(why, sizeof(why), "bpf(BPF_PROG_LOAD) failed: %s", strerror(-pfd));
		return why;
	}
	close(pfd);
	return NULL;
}

/* Usage: bench_maps [MAP_TYPE...] (array hash lru_hash lpm_trie; default: all). */
int main(int argc, char **argv)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH,
					  BPF_MAP_TYPE_LPM_TRIE };
	struct bpfvm *vm = bpfvm_new(NULL);
	double base[2][2]; /* [bpfvm, kernel][threads - 1] */

	if (!vm) {
		fprintf(stderr, "bench_maps: bpfvm_new failed\n");
		return 1;
	}
	const char *why = kernel_unusable();

	base[0][0] = base[0][1] = base[1][0] = base[1][1] = NA;
	printf("map ops, ns per op (%d keys, best of %d runs; '-' = not measured, '!' = misses or errors on that side)\n",
	       NKEYS, RUNS);
	printf("  program: XDP PROG_TEST_RUN (repeat sized to ~%.0f ms) of key = get_prandom_u32() %% %d; map op =\n"
	       "           duration minus the same program without the map call; 2 threads: concurrent test runs\n",
	       RUN_NS / 1e6, NKEYS);
	printf("  user:    BPF_MAP_LOOKUP_ELEM/UPDATE_ELEM by bpfvm_bpf() and bpf(2), wall time per op of one thread\n");
	if (why)
		printf("  kernel:  skipped: %s\n", why);
	printf("\n%-9s %-3s | %-23s | %-23s | %-23s | %-23s\n", "", "", "program, bpfvm", "program, kernel",
	       "user space, bpfvm", "user space, kernel");
	printf("%-9s %-3s |  lookup  update         |  lookup  update         |  lookup  update         |"
	       "  lookup  update\n", "map", "thr");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		bool want = argc < 2;
		for (int k = 1; k < argc; k++)
			want |= !strcmp(argv[k], tname(types[i]));
		if (!want)
			continue;
		for (int threads = 1; threads <= 2; threads++) {
			struct cell c[2];
			memset(c, 0, sizeof(c));
			measure(vm, types[i], threads, base[0], &c[0]);
			if (why)
				c[1] = (struct cell){ { NA, NA }, { NA, NA }, false };
			else
				measure(NULL, types[i], threads, base[1], &c[1]);
			printf("%-9s %-3d |", tname(types[i]), threads);
			pr(c[0].prog[0]), pr(c[0].prog[1]);
			printf("         |");
			pr(c[1].prog[0]), pr(c[1].prog[1]);
			printf("         |");
			pr(c[0].user[0]), pr(c[0].user[1]);
			printf("         |");
			pr(c[1].user[0]), pr(c[1].user[1]);
			printf("%s%s\n", c[0].flag ? "  ! bpfvm" : "", c[1].flag ? "  ! kernel" : "");
			fflush(stdout);
		}
	}
	printf("lowest baseline (the program without the map call), ns per run: bpfvm %.0f / %.0f (1 / 2 threads)",
	       base[0][0], base[0][1]);
	if (why)
		printf("\n");
	else
		printf(", kernel %.0f / %.0f\n", base[1][0], base[1][1]);
	bpfvm_free(vm);
	return 0;
}
