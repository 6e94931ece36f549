/* bench_verifier.c -- what proving a program costs: bpfvm's verifier beside the kernel's, on the example
 * programs and on generated ones that stress it (a 100,000-insn straight line, nested bounded loops of
 * 30x30 and 100x100 iterations, a loop of 1,000 iterations, loops through a subprog and a callback).  For each program:
 *   bpfvm ms    PROG_LOAD with BPFVM_VERIFY_ON (verification, decoding and fixups), best of ROUNDS (or
 *               --rounds N) after WARM_MS of untimed loads, in CPU time of the loading thread (now_ms());
 *   kernel ms   the kernel's PROG_LOAD of the same bytecode (maps created alike), likewise, where
 *               bpf() is usable (else skipped, with the reason); it JIT-compiles too;
 *   insns       instructions the verifier processed (its log's "processed N insns"), bpfvm / kernel;
 *   states      total_states from the same statistics line, bpfvm / kernel (-1: no statistics, as
 *               for the SYSCALL example, which bpfvm runs on its run-time checks);
 *   peak KiB    what bpfvm's load adds to the peak resident set (VmHWM after the load minus VmRSS before
 *               it, free heap memory returned to the system and the high-water mark reset first).
 * Numbers only; nothing is asserted (the verdicts are test_kernel_verdicts'). */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h" /* kbpf(), INSN(), INSN_ID() */

#define ROUNDS 5

/* --rounds N: best of N (profiling wants many) */
static int best_of = ROUNDS;

/* CPU time of this thread, user and system: the kernel's verifier runs in the PROG_LOAD call on this
 * thread, bpfvm's in user space on it; on a shared machine wall time mostly measures the other
 * processes (a 15 ms load is preempted many times, and best-of-N does not hide it) */
static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- one program, both sides ---- */

struct prog {
	char name[64];
	uint32_t type, attach;
	struct bpf_insn *insns;
	size_t cnt;
	struct bpfvm *vm;      /* the instance whose maps the insns refer to; NULL: none */
	int kmap[64], vmap[64]; /* the kernel's twins of vm's maps */
	size_t map_cnt;
};

/* Statistics from a verifier log: "processed N insns ... total_states T". */
static void stats_of(const char *log, long *insns, long *states)
{
	const char *p = strstr(log, "processed ");
	*insns = *states = -1;
	if (p)
		*insns = strtol(p + 10, NULL, 10);
	p = strstr(log, "total_states ");
	if (p)
		*states = strtol(p + 13, NULL, 10);
}

static void fill(union bpf_attr *a, const struct prog *p, const struct bpf_insn *insns, char *log, size_t log_len,
		 uint32_t level)
{
	memset(a, 0, sizeof(*a));
	a->prog_type = p->type;
	a->expected_attach_type = p->attach;
	a->insns = (uintptr_t)insns;
	a->insn_cnt = (uint32_t)p->cnt;
	a->license = (uintptr_t)"GPL";
	if (level) {
		a->log_buf = (uintptr_t)log;
		a->log_size = (uint32_t)log_len;
		a->log_level = level;
		log[0] = 0;
	}
}

static char logbuf[1 << 20];

/* ms of the best of best_of loads in vm (verify as the instance does), or -1 (err set) */
/* Untimed loads before the timed ones, on both sides, until WARM_MS of wall time have passed: a load
 * of 0.2 ms on an idle core otherwise runs at whatever clock the core idled at (best of 20 of those
 * was 0.15-0.27 ms for the same program, a run of 1,000 gave 0.15). */
#define WARM_MS 20.0

static double wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double bpfvm_time(struct bpfvm *vm, const struct prog *p, long *err)
{
	double best = -1, warm_end = wall_ms() + WARM_MS;
	union bpf_attr a;
	for (int r = 0; r < best_of; r++) {
		bool warming = wall_ms() < warm_end;
		if (warming)
			r = -1; /* not counted */
		fill(&a, p, p->insns, NULL, 0, 0);
		double t0 = now_ms();
		long fd = bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a));
		double t = now_ms() - t0;
		if (fd < 0) {
			*err = fd;
			return -1;
		}
		bpfvm_close(vm, (int)fd);
		if (!warming && (best < 0 || t < best))
			best = t;
	}
	return best;
}

static struct bpfvm *twin(int verify)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = verify, .nr_cpus = 1 };
	return bpfvm_new(&o);
}

/* /proc/self/status field `key` in KiB, or -1 */
static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* KiB the load of p adds to the peak resident set: free heap memory is returned to the system first
 * (malloc_trim), so that what the load allocates is faulted in afresh, and the high-water mark is reset
 * to the current size (clear_refs 5); then VmHWM after the load minus VmRSS before it.  -1: unknown
 * (no /proc).  The program was loaded before, so the verifier's code is resident already. */
static long peak_kib(struct bpfvm *vm, const struct prog *p)
{
	malloc_trim(0);
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f || fputs("5", f) < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	long base = status_kib("VmRSS");
	union bpf_attr a;
	fill(&a, p, p->insns, NULL, 0, 0);
	long fd = bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a));
	long hwm = status_kib("VmHWM");
	if (fd >= 0)
		bpfvm_close(vm, (int)fd);
	return base < 0 || hwm < 0 ? -1 : hwm - base;
}

/* The kernel's twins of vm's maps (same type, sizes, flags; read-only data with its contents, frozen),
 * and the insns with their map fds replaced.  0, or -1 with why. */
static int kernel_twins(struct prog *p, struct bpf_insn *out, char *why, size_t len)
{
	memcpy(out, p->insns, p->cnt * sizeof(*out));
	for (size_t k = 0; k + 1 < p->cnt; k++) {
		if (out[k].code != (BPF_LD | BPF_DW | BPF_IMM))
			continue;
		if (out[k].src_reg == BPF_PSEUDO_MAP_FD || out[k].src_reg == BPF_PSEUDO_MAP_VALUE) {
			size_t j = 0;
			while (j < p->map_cnt && p->vmap[j] != out[k].imm)
				j++;
			if (j == p->map_cnt) {
				if (p->map_cnt == 64) {
					snprintf(why, len, "too many maps");
					return -1;
				}
				struct bpf_map_info info;
				if (vmap_info(p->vm, out[k].imm, &info)) {
					snprintf(why, len, "map fd %d: no info", out[k].imm);
					return -1;
				}
				long kfd = kmap_twin(p->vm, out[k].imm, &info, -1);
				if (kfd < 0) {
					snprintf(why, len, "kernel MAP_CREATE (type %u): %s", info.type, strerror((int)-kfd));
					return -1;
				}
				p->vmap[j] = out[k].imm;
				p->kmap[j] = (int)kfd;
				p->map_cnt++;
			}
			out[k].imm = p->kmap[j];
		}
		k++;
	}
	return 0;
}

/* argv: rows whose name contains it (NULL: all) */
static const char *only;

static void row(struct prog *p, const char *kernel_why)
{
	if (only && !strstr(p->name, only))
		return;
	long err = 0, vi, vs, ki = -1, ks = -1;
	struct bpfvm *on = p->vm ? p->vm : twin(BPFVM_VERIFY_ON);
	double t_on = bpfvm_time(on, p, &err);
	char verr[256];
	snprintf(verr, sizeof(verr), "%s", t_on < 0 ? bpfvm_errmsg(on) : "");
	union bpf_attr a;
	fill(&a, p, p->insns, logbuf, sizeof(logbuf), 4);
	long fd = bpfvm_bpf(on, BPF_PROG_LOAD, &a, sizeof(a));
	stats_of(logbuf, &vi, &vs);
	if (fd >= 0)
		bpfvm_close(on, (int)fd);
	long rss = peak_kib(on, p);
	double tk = -1;
	char why[256] = "";
	if (kernel_why) {
		snprintf(why, sizeof(why), "%s", kernel_why);
	} else {
		struct bpf_insn *kin = malloc(p->cnt * sizeof(*kin));
		if (kin && kernel_twins(p, kin, why, sizeof(why)) == 0) {
			struct bpf_func_info fi[64];
			double warm_end = wall_ms() + WARM_MS;
			for (int r = 0; r < best_of; r++) {
				bool warming = wall_ms() < warm_end;
				if (warming)
					r = -1; /* not counted */
				fill(&a, p, kin, NULL, 0, 0);
				if (p->type == BPF_PROG_TYPE_SYSCALL) /* Linux loads these sleepable only */
					a.prog_flags = BPF_F_SLEEPABLE;
				long btf = kbtf_for_callbacks(&a, fi);
				double t0 = now_ms();
				long kfd = kbpf(BPF_PROG_LOAD, &a);
				double t = now_ms() - t0;
				if (btf >= 0)
					close((int)btf);
				if (kfd < 0) {
					snprintf(why, sizeof(why), "kernel PROG_LOAD: %s", strerror((int)-kfd));
					tk = -1;
					break;
				}
				close((int)kfd);
				if (!warming && (tk < 0 || t < tk))
					tk = t;
			}
			fill(&a, p, kin, logbuf, sizeof(logbuf), 4);
			if (p->type == BPF_PROG_TYPE_SYSCALL)
				a.prog_flags = BPF_F_SLEEPABLE;
			long btf = kbtf_for_callbacks(&a, fi);
			long kfd = kbpf(BPF_PROG_LOAD, &a);
			if (btf >= 0)
				close((int)btf);
			if (kfd >= 0) {
				stats_of(logbuf, &ki, &ks);
				close((int)kfd);
			}
		}
		free(kin);
	}
	if (t_on < 0) {
		printf("%-40s %7zu %9s", p->name, p->cnt, "-");
		if (tk >= 0)
			printf(" %9.3f  (kernel: %ld insns processed, %ld states)", tk, ki, ks);
		printf("  bpfvm refuses it (%ld): %s\n", err, verr);
	} else {
		double tv = t_on;
		if (tv < 0.001)
			tv = 0.001;
		printf("%-40s %7zu %9.3f", p->name, p->cnt, tv);
		if (tk >= 0)
			printf(" %9.3f %7.1fx", tk, tk / tv);
		else
			printf(" %9s %8s", "-", "-");
		printf(" %8ld/%-8ld %6ld/%-6ld %8ld", vi, ki, vs, ks, rss);
		if (tk < 0)
			printf("  kernel: %s", why);
		printf("\n");
	}
	for (size_t j = 0; j < p->map_cnt; j++)
		close(p->kmap[j]);
	p->map_cnt = 0;
	if (!p->vm)
		bpfvm_free(on);
}

/* ---- the generated programs ---- */

/* n insns: r0 = 0, then ALU on r0..r3 in a fixed rotation, exit */
static size_t gen_straight(struct bpf_insn *in, size_t n)
{
	size_t k = 0;
	for (uint8_t r = 0; r < 4; r++)
		in[k++] = INSN_ID(MOV64_K, r, 0, 0, r);
	static const uint8_t ops[] = { BPF_ADD, BPF_XOR, BPF_SUB, BPF_OR };
	while (k + 1 < n) {
		uint8_t d = (uint8_t)(k % 4), s = (uint8_t)((k / 4) % 4);
		if (k % 3)
			in[k] = INSN(BPF_ALU64 | ops[k % 4] | BPF_K, d, 0, 0, (int32_t)(k & 0xff));
		else
			in[k] = INSN(BPF_ALU64 | ops[k % 4] | BPF_X, d, s, 0, 0);
		k++;
	}
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

/* r1 counts 0..outer, r2 0..inner inside it; r0 accumulates */
static size_t gen_nested(struct bpf_insn *in, int outer, int inner)
{
	size_t k = 0;
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 1, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 2, 0, 0, 0);             /* outer: */
	in[k++] = INSN_ID(ADD64_X, 0, 2, 0, 0);             /* inner: */
	in[k++] = INSN_ID(ADD64_K, 2, 0, 0, 1);
	in[k++] = INSN_ID(JLT_K, 2, 0, -3, inner);
	in[k++] = INSN_ID(ADD64_K, 1, 0, 0, 1);
	in[k++] = INSN_ID(JLT_K, 1, 0, -6, outer);
	in[k++] = INSN_ID(AND64_K, 0, 0, 0, 3);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

/* `rounds` rounds of a counting loop */
static size_t gen_loop(struct bpf_insn *in, int rounds)
{
	size_t k = 0;
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 1, 0, 0, 0);
	in[k++] = INSN_ID(ADD64_X, 0, 1, 0, 0);             /* loop: */
	in[k++] = INSN_ID(ADD64_K, 1, 0, 0, 1);
	in[k++] = INSN_ID(JLT_K, 1, 0, -3, rounds);
	in[k++] = INSN_ID(AND64_K, 0, 0, 0, 3);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

/* the same loop also reading a packet byte, checked against data_end each round: two paths per round
 * that only pruning at their join keeps from doubling */
static size_t gen_loop_pkt(struct bpf_insn *in, int rounds)
{
	size_t k = 0;
	in[k++] = INSN_ID(LDXW, 6, 1, 0, 0);
	in[k++] = INSN_ID(LDXW, 7, 1, 4, 0);
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 1, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_X, 2, 6, 0, 0);             /* loop: */
	in[k++] = INSN_ID(ADD64_K, 2, 0, 0, 1);
	in[k++] = INSN_ID(JGT_X, 2, 7, 2, 0);
	in[k++] = INSN_ID(LDXB, 3, 6, 0, 0);
	in[k++] = INSN_ID(ADD64_X, 0, 3, 0, 0);
	in[k++] = INSN_ID(ADD64_X, 0, 1, 0, 0);
	in[k++] = INSN_ID(ADD64_K, 1, 0, 0, 1);
	in[k++] = INSN_ID(JLT_K, 1, 0, -8, rounds);
	in[k++] = INSN_ID(AND64_K, 0, 0, 0, 3);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

/* `rounds` rounds counted by a subprog's r0 (i = next(i)), each with two paths (a random bit) that
 * change an accumulator differently: pruning at their join needs the counter precise through the
 * call and the accumulator not */
static size_t gen_sub_loop(struct bpf_insn *in, int rounds)
{
	size_t k = 0;
	in[k++] = INSN_ID(MOV64_K, 6, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 7, 0, 0, 0);
	in[k++] = INSN_ID(CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32); /* loop: */
	in[k++] = INSN_ID(JEQ_K, 0, 0, 2, 0);
	in[k++] = INSN_ID(ADD64_K, 7, 0, 0, 3);
	in[k++] = INSN_ID(JA, 0, 0, 1, 0);
	in[k++] = INSN_ID(XOR64_K, 7, 0, 0, 5);
	in[k++] = INSN_ID(MOV64_X, 1, 6, 0, 0);
	in[k++] = INSN_ID(CALL_LOCAL, 0, 0, 0, 4);
	in[k++] = INSN_ID(MOV64_X, 6, 0, 0, 0);
	in[k++] = INSN_ID(JLT_K, 6, 0, -9, rounds);
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 2);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_X, 0, 1, 0, 0);             /* next: */
	in[k++] = INSN_ID(ADD64_K, 0, 0, 0, 1);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

/* the same rounds as a bpf_loop callback: the accumulator in the caller's stack (the callback's ctx) */
static size_t gen_cb_loop(struct bpf_insn *in, int rounds)
{
	size_t k = 0;
	in[k++] = INSN_ID(MOV64_K, 1, 0, 0, 0);
	in[k++] = INSN_ID(STXDW, 10, 1, -8, 0);
	in[k++] = INSN_ID(MOV64_K, 1, 0, 0, rounds);
	in[k++] = INSN_ID(LDDW, 2, BPF_PSEUDO_FUNC, 0, 7);   /* the callback at insn 11 */
	in[k++] = INSN(0, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_X, 3, 10, 0, 0);
	in[k++] = INSN_ID(ADD64_K, 3, 0, 0, -8);
	in[k++] = INSN_ID(MOV64_K, 4, 0, 0, 0);
	in[k++] = INSN_ID(CALL, 0, 0, 0, BPF_FUNC_loop);
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 2);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	in[k++] = INSN_ID(MOV64_X, 6, 2, 0, 0);             /* callback: */
	in[k++] = INSN_ID(CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32);
	in[k++] = INSN_ID(LDXDW, 1, 6, 0, 0);
	in[k++] = INSN_ID(JEQ_K, 0, 0, 2, 0);
	in[k++] = INSN_ID(ADD64_K, 1, 0, 0, 3);
	in[k++] = INSN_ID(JA, 0, 0, 1, 0);
	in[k++] = INSN_ID(XOR64_K, 1, 0, 0, 5);
	in[k++] = INSN_ID(STXDW, 6, 1, 0, 0);
	in[k++] = INSN_ID(MOV64_K, 0, 0, 0, 0);
	in[k++] = INSN_ID(EXIT, 0, 0, 0, 0);
	return k;
}

static void generated(const char *kwhy)
{
	static struct prog p;
	static struct bpf_insn buf[100000];
	memset(&p, 0, sizeof(p));
	p.type = BPF_PROG_TYPE_XDP;
	p.insns = buf;
	snprintf(p.name, sizeof(p.name), "straight line, 100000 insns");
	p.cnt = gen_straight(buf, 100000);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "nested loops 30x30");
	p.cnt = gen_nested(buf, 30, 30);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "nested loops 100x100");
	p.cnt = gen_nested(buf, 100, 100);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "loop of 1000 iterations");
	p.cnt = gen_loop(buf, 1000);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "1000 iterations, packet check");
	p.cnt = gen_loop_pkt(buf, 1000);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "64 rounds counted by a subprog");
	p.cnt = gen_sub_loop(buf, 64);
	row(&p, kwhy);
	snprintf(p.name, sizeof(p.name), "bpf_loop of 64, callback");
	p.cnt = gen_cb_loop(buf, 64);
	row(&p, kwhy);
}

/* Every program of the example objects: loaded verified as an object (maps created, relocated), then
 * each program's relocated insns loaded again alone, on both sides. */
static void examples(const char *kwhy)
{
	static const char *const objs[] = { "xdp_firewall.bpf", "xdp_lb.bpf", "socket_filter.bpf", "tc_classifier.bpf",
					    "tail_calls.bpf", "hook_prog.bpf", "legacy/xdp1_kern", "legacy/sockex1_kern",
					    "legacy/sockex2_kern", "legacy/sockex3_kern", "legacy/tcbpf1_kern" };
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		char path[256];
		if (only && !strstr(objs[i], only))
			continue;
		snprintf(path, sizeof(path), "build/examples/%s.o", objs[i]);
		struct bpfvm *vm = twin(BPFVM_VERIFY_ON);
		struct bpfvm_object *obj = NULL;
		if (bpfvm_object_open(vm, path, &obj)) {
			printf("%-40s  cannot open: %s\n", objs[i], bpfvm_errmsg(vm));
			bpfvm_free(vm);
			continue;
		}
		for (size_t k = 0; k < bpfvm_object_prog_cnt(obj); k++)
			if (!bpfvm_object_prog_type(obj, k)) /* tcbpf1: tc gives its sections sched_cls */
				bpfvm_object_prog_set_type(obj, k, BPF_PROG_TYPE_SCHED_CLS);
		if (bpfvm_object_load(obj)) {
			printf("%-40s  not verified: %s\n", objs[i], bpfvm_errmsg(vm));
			bpfvm_object_close(obj);
			bpfvm_free(vm);
			continue;
		}
		for (size_t k = 0; k < bpfvm_object_prog_cnt(obj); k++) {
			static struct prog p;
			memset(&p, 0, sizeof(p));
			const char *base = strrchr(objs[i], '/');
			snprintf(p.name, sizeof(p.name), "%.20s:%.19s", base ? base + 1 : objs[i], bpfvm_object_prog_name(obj, k));
			p.type = bpfvm_object_prog_type(obj, k);
			p.attach = bpfvm_object_prog_attach_type(obj, k);
			const struct bpf_insn *in = bpfvm_object_prog_insns(obj, k, &p.cnt);
			if (!in)
				continue;
			p.insns = malloc(p.cnt * sizeof(*p.insns));
			if (!p.insns)
				continue;
			memcpy(p.insns, in, p.cnt * sizeof(*p.insns));
			p.vm = vm;
			row(&p, kwhy);
			free(p.insns);
		}
		bpfvm_object_close(obj);
		bpfvm_free(vm);
	}
}

int main(int argc, char **argv)
{
	bool no_kernel = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-kernel"))
			no_kernel = true;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc && atoi(argv[i + 1]) > 0)
			best_of = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !only)
			only = argv[i];
		else {
			fprintf(stderr, "usage: bench_verifier [--no-kernel] [--rounds N] [NAME-SUBSTRING]\n");
			return 2;
		}
	}
	static const struct bpf_insn ok[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = 2 }, { .code = BPF_JMP | BPF_EXIT } };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)ok;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	long fd = kbpf(BPF_PROG_LOAD, &a);
	const char *kwhy = NULL;
	if (fd < 0)
		kwhy = fd == -EPERM ? "bpf() not permitted (needs root / CAP_BPF)" : "bpf() unavailable";
	else
		close((int)fd);
	if (no_kernel && !kwhy)
		kwhy = "--no-kernel";
	printf("bench_verifier: PROG_LOAD CPU time of verified programs (this thread, user + system), best of %d\n", best_of);
	if (kwhy)
		printf("kernel skipped: %s\n", kwhy);
	printf("%-40s %7s %9s %9s %8s %17s %13s %8s\n", "program", "insns", "bpfvm ms", "kernel ms", "speedup",
	       "processed vm/kern", "states vm/kern", "peak KiB");
	generated(kwhy);
	examples(kwhy);
	return 0;
}
