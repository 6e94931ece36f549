/* test_kernel_verdicts.c -- the verifier against the kernel's, program by program, on real objects:
 * every example (build/examples, built by `make all`) and every tests/loader object (compiled here with
 * clang).  Each program is loaded alone (the others' autoload off) into bpfvm with BPFVM_VERIFY_ON and
 * into the running kernel with the same program type and expected attach type, and the two verdicts
 * (accepted / rejected) are compared.
 *
 * The kernel side: libbpf loads the object where libbpf can open it (BTF maps, spin locks, timers,
 * global functions and CO-RE need the BTF it hands the kernel); objects libbpf 1.x refuses (legacy
 * `maps` sections) are mirrored: bpfvm's relocated instructions, with each of its maps created in the
 * kernel with the same shape (and contents, frozen, for read-only data), loaded by BPF_PROG_LOAD.
 *
 * Disagreements must be listed, one line each with the reason, in tests/verifier/known-differences.txt:
 *   <object> <program> kernel=<accept|reject> bpfvm=<accept|reject> <reason>
 * The test fails on a disagreement not listed, and on a listed one that no longer differs (the file
 * stays true).  Skips with a printed reason where bpf() is unusable, or without clang or libbpf. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bpf/libbpf.h>
#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define KNOWN_PATH "tests/verifier/known-differences.txt"
#define MAX_KNOWN 64

struct known {
	char obj[128], prog[64], kernel[16], bpfvm[16];
	bool seen;
};

struct tally {
	int objects, programs, accept_both, reject_both, known, unknown, stale, not_compared;
	struct known known_list[MAX_KNOWN];
	int known_cnt;
};

/* libbpf's last warning: why it could not open or load an object (it has no per-object log). */
static char libbpf_msg[512];

__attribute__((format(printf, 2, 0))) static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_DEBUG)
		vsnprintf(libbpf_msg, sizeof(libbpf_msg), fmt, ap);
	return 0;
}

static void load_known(struct tally *t)
{
	FILE *f = fopen(KNOWN_PATH, "r");
	char line[1024];
	if (!f) {
		printf("  %s missing: every disagreement counts as unknown\n", KNOWN_PATH);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		struct known *k = &t->known_list[t->known_cnt];
		char ks[16], vs[16];
		if (t->known_cnt == MAX_KNOWN || sscanf(line, "%127s %63s %15s %15s", k->obj, k->prog, ks, vs) != 4 ||
		    strncmp(ks, "kernel=", 7) || strncmp(vs, "bpfvm=", 6)) {
			printf("  %s: malformed or too many lines: %s", KNOWN_PATH, line);
			test_cur_failed = 1;
			continue;
		}
		snprintf(k->kernel, sizeof(k->kernel), "%s", ks + 7);
		snprintf(k->bpfvm, sizeof(k->bpfvm), "%s", vs + 6);
		t->known_cnt++;
	}
	fclose(f);
}

static struct known *find_known(struct tally *t, const char *obj, const char *prog)
{
	for (int i = 0; i < t->known_cnt; i++)
		if (!strcmp(t->known_list[i].obj, obj) && !strcmp(t->known_list[i].prog, prog))
			return &t->known_list[i];
	return NULL;
}

/* The first line of a verifier log that says why (the last non-empty line before the statistics). */
static void reason_of(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *best = NULL, *best_end = NULL;
	const char *p = log;
	while (p < end) {
		const char *nl = strchr(p, '\n');
		if (!nl)
			nl = end;
		if (nl > p && strncmp(p, "processed ", 10) && strncmp(p, "verification time", 17) &&
		    strncmp(p, "stack depth", 11) && strncmp(p, "-- END", 6) && strncmp(p, "mark_precise", 12) &&
		    strncmp(p, "cur state:", 10) && strncmp(p, "old state:", 10)) {
			best = p;
			best_end = nl;
		}
		p = nl + 1;
	}
	if (best)
		snprintf(out, len, "%.*s", (int)(best_end - best), best);
	else
		snprintf(out, len, "(no log)");
}

/* ---- loading a set of an object's programs ----
 * Each program is judged alone, but an object's loader may need others: a prog array's initial slots
 * name programs that must be loaded with it (libbpf and bpfvm both fail the object otherwise).  So a
 * side judges an object in up to three rounds: every program at once (all accepted if that loads);
 * else each alone; else each that failed alone beside every program accepted alone.  A program is
 * rejected when its last round fails with a verifier log (bpfvm: any failure). */

struct progset {
	size_t cnt;
	const char *name[64];
	uint32_t type[64], attach[64];
	bool on[64];
};

/* libbpf: loads the programs of `set` into the kernel, each with bpfvm's type and attach type; the
 * log of program `target` (if any) in log.  1 loaded, 0 the verifier rejected target, -1 neither. */
static int kernel_set(const char *path, const struct progset *set, size_t target, char *why, size_t len)
{
	static char log[1 << 20];
	libbpf_msg[0] = 0;
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		snprintf(why, len, "libbpf cannot open it: %s", libbpf_msg);
		return -1;
	}
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL); /* no bpffs needed: pinning is not the verifier's */
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) {
		size_t i = 0;
		while (i < set->cnt && strcmp(set->name[i], bpf_program__name(p)))
			i++;
		bool on = i < set->cnt && set->on[i];
		bpf_program__set_autoload(p, on);
		if (i == set->cnt)
			continue;
		bpf_program__set_type(p, set->type[i]);
		bpf_program__set_expected_attach_type(p, set->attach[i]);
		if (i == target) {
			log[0] = 0;
			bpf_program__set_log_buf(p, log, sizeof(log));
		}
	}
	int err = bpf_object__load(obj);
	bpf_object__close(obj);
	if (!err)
		return 1;
	if (target < set->cnt && log[0]) {
		reason_of(log, why, len);
		return 0;
	}
	/* libbpf failed before the kernel's verifier spoke on this program */
	snprintf(why, len, "libbpf load failed before the verifier (%d): %s", err, libbpf_msg);
	while (len && *why && why[strlen(why) - 1] == '\n')
		why[strlen(why) - 1] = 0;
	return -1;
}

/* The instances pin under a directory of their own (tests/loader/pin.bpf.o pins a map): a pin left in the
 * default root by an earlier build, of another map layout, would make its OBJ_GET fail. */
static char pin_root[64];

/* bpfvm, verifying: the same.  1 loaded, 0 rejected (why). */
static int bpfvm_set(const char *path, const struct progset *set, size_t target, char *why, size_t len)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .pin_root = pin_root };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpfvm_object *obj = NULL;
	int ret;
	(void)target;
	if (!vm || bpfvm_object_open(vm, path, &obj)) {
		snprintf(why, len, "open: %s", vm ? bpfvm_errmsg(vm) : "no instance");
		bpfvm_free(vm);
		return -1;
	}
	for (size_t k = 0; k < bpfvm_object_prog_cnt(obj) && k < set->cnt; k++) {
		bpfvm_object_prog_set_autoload(obj, k, set->on[k]);
		/* sections that name no type (tcbpf1's): tc, their loader, gives them sched_cls */
		if (!bpfvm_object_prog_type(obj, k))
			bpfvm_object_prog_set_type(obj, k, BPF_PROG_TYPE_SCHED_CLS);
	}
	if (bpfvm_object_load(obj) == 0) {
		ret = 1;
	} else {
		snprintf(why, len, "%s", bpfvm_errmsg(vm));
		for (char *nl = strchr(why, '\n'); nl; nl = strchr(nl, '\n'))
			*nl = ' ';
		ret = 0;
	}
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return ret;
}

typedef int (*set_loader_fn)(const char *path, const struct progset *set, size_t target, char *why, size_t len);

/* The rounds above: v[i] 1/0/-1 and why[i] for each program. */
static void judge(set_loader_fn load, const char *path, struct progset *set, int *v, char (*why)[512])
{
	char scratch[512];
	for (size_t i = 0; i < set->cnt; i++)
		set->on[i] = true;
	if (load(path, set, SIZE_MAX, scratch, sizeof(scratch)) == 1) {
		for (size_t i = 0; i < set->cnt; i++)
			v[i] = 1;
		return;
	}
	for (size_t i = 0; i < set->cnt; i++) {
		for (size_t j = 0; j < set->cnt; j++)
			set->on[j] = j == i;
		v[i] = load(path, set, i, why[i], sizeof(why[i]));
	}
	bool alone[64];
	for (size_t i = 0; i < set->cnt; i++)
		alone[i] = v[i] == 1;
	for (size_t i = 0; i < set->cnt; i++) {
		if (v[i] == 1)
			continue;
		for (size_t j = 0; j < set->cnt; j++)
			set->on[j] = j == i || alone[j];
		int r = load(path, set, i, scratch, sizeof(scratch));
		if (r == 1 || (r == 0 && v[i] < 0)) {
			v[i] = r;
			snprintf(why[i], sizeof(why[i]), "%s", scratch);
		}
	}
}

/* ---- the kernel by mirroring bpfvm's maps and instructions ---- */

struct mirror {
	int kfd[64];  /* kernel fd per bpfvm map index */
	int vfd[64];  /* bpfvm fd per index */
	size_t cnt;
};

static void mirror_close(struct mirror *m)
{
	for (size_t i = 0; i < m->cnt; i++)
		if (m->kfd[i] >= 0)
			close(m->kfd[i]);
	m->cnt = 0;
}

/* Creates the kernel twin of each map of a loaded bpfvm object.  0, or -1 with why. */
static int mirror_maps(struct bpfvm *vm, struct bpfvm_object *obj, struct mirror *m, char *why, size_t len)
{
	m->cnt = 0;
	size_t n = bpfvm_object_map_cnt(obj);
	if (n > 64) {
		snprintf(why, len, "%zu maps", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct bpf_map_info info;
		m->vfd[i] = bpfvm_object_map_fd_at(obj, i);
		m->kfd[i] = -1;
		m->cnt = i + 1;
		if (vmap_info(vm, m->vfd[i], &info)) {
			snprintf(why, len, "map %s: no info: %s", bpfvm_object_map_name(obj, i), bpfvm_errmsg(vm));
			return -1;
		}
		long inner = -1;
		if (info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS || info.type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			/* the inner map's shape: the first map in an initial slot */
			uint32_t k = 0, id = 0, next;
			const void *prev = NULL;
			while (!id && !bpfvm_map_next_key(vm, m->vfd[i], prev, &next)) {
				uint32_t v;
				if (!bpfvm_map_lookup(vm, m->vfd[i], &next, &v))
					id = v;
				k = next;
				prev = &k;
			}
			for (size_t j = 0; id && j < n; j++) {
				struct bpf_map_info ij;
				if (!vmap_info(vm, bpfvm_object_map_fd_at(obj, j), &ij) && ij.id == id) {
					inner = kmap_like(&ij, -1);
					break;
				}
			}
			if (inner < 0) {
				snprintf(why, len, "map %s: no inner map to model", bpfvm_object_map_name(obj, i));
				return -1;
			}
		}
		long kfd = kmap_twin(vm, m->vfd[i], &info, (int)inner);
		if (inner >= 0)
			close((int)inner);
		if (kfd < 0) {
			snprintf(why, len, "kernel MAP_CREATE of %s: %s", bpfvm_object_map_name(obj, i), strerror((int)-kfd));
			return -1;
		}
		m->kfd[i] = (int)kfd;
	}
	return 0;
}

/* Loads program i's relocated instructions with its map references turned into the kernel twins'. */
static int kernel_mirror(struct bpfvm_object *obj, size_t i, const struct mirror *m, uint32_t type, uint32_t attach,
			 char *why, size_t len)
{
	static char log[1 << 20];
	size_t cnt = 0;
	const struct bpf_insn *src = bpfvm_object_prog_insns(obj, i, &cnt);
	if (!src || !cnt) {
		snprintf(why, len, "bpfvm gives no relocated instructions");
		return -1;
	}
	struct bpf_insn *in = malloc(cnt * sizeof(*in));
	if (!in) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	memcpy(in, src, cnt * sizeof(*in));
	for (size_t k = 0; k + 1 < cnt; k++) {
		if (in[k].code != (BPF_LD | BPF_DW | BPF_IMM))
			continue;
		if (in[k].src_reg == BPF_PSEUDO_MAP_FD || in[k].src_reg == BPF_PSEUDO_MAP_VALUE) {
			size_t j = 0;
			while (j < m->cnt && m->vfd[j] != in[k].imm)
				j++;
			if (j == m->cnt) {
				snprintf(why, len, "insn %zu refers to map fd %d, not one of the object's", k, in[k].imm);
				free(in);
				return -1;
			}
			in[k].imm = m->kfd[j];
		}
		k++;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.expected_attach_type = attach;
	if (type == BPF_PROG_TYPE_SYSCALL) /* Linux loads these sleepable only; libbpf sets it for SEC("syscall") */
		a.prog_flags = BPF_F_SLEEPABLE;
	a.insns = (uintptr_t)in;
	a.insn_cnt = (uint32_t)cnt;
	const char *lic = bpfvm_object_license(obj);
	a.license = (uintptr_t)(lic ? lic : "");
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = 0;
	long fd = kbpf(BPF_PROG_LOAD, &a);
	free(in);
	if (fd >= 0) {
		close((int)fd);
		return 1;
	}
	if (fd == -ENOSPC) {
		snprintf(why, len, "kernel log overflow");
		return -1;
	}
	reason_of(log, why, len);
	return 0;
}

static const char *word(int v)
{
	return v ? "accept" : "reject";
}

/* Opens path in vm and loads every program unverified (the mirror's instructions and maps), with the
 * types of set, or with every type kprobe when `any_type` (only the relocated bytes are wanted: a
 * helper the program's own type may not call must not keep them from us).  NULL on failure. */
static struct bpfvm_object *load_unverified(struct bpfvm *vm, const char *path, const struct progset *set, bool any_type)
{
	struct bpfvm_object *obj = NULL;
	if (bpfvm_object_open(vm, path, &obj))
		return NULL;
	for (size_t k = 0; k < set->cnt; k++) {
		bpfvm_object_prog_set_autoload(obj, k, 1);
		bpfvm_object_prog_set_type(obj, k, any_type ? BPF_PROG_TYPE_KPROBE : set->type[k]);
	}
	if (bpfvm_object_load(obj)) {
		bpfvm_object_close(obj);
		return NULL;
	}
	return obj;
}

/* Every program of one object, both sides.  name: how the object is listed (source-relative). */
static void compare_object(struct tally *t, const char *name, const char *path)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_OFF, .pin_root = pin_root };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpfvm_object *obj = NULL;
	if (!vm || bpfvm_object_open(vm, path, &obj)) {
		printf("  %s: bpfvm cannot open it: %s\n", name, vm ? bpfvm_errmsg(vm) : "no instance");
		test_cur_failed = 1;
		bpfvm_free(vm);
		return;
	}
	t->objects++;
	static struct progset set;
	memset(&set, 0, sizeof(set));
	set.cnt = bpfvm_object_prog_cnt(obj);
	if (set.cnt > 64) {
		printf("  %s: %zu programs, more than this test handles\n", name, set.cnt);
		test_cur_failed = 1;
		set.cnt = 64;
	}
	for (size_t k = 0; k < set.cnt; k++) {
		set.name[k] = bpfvm_object_prog_name(obj, k);
		set.type[k] = bpfvm_object_prog_type(obj, k);
		set.attach[k] = bpfvm_object_prog_attach_type(obj, k);
		if (!set.type[k]) /* tcbpf1's: tc, their loader, gives them sched_cls */
			set.type[k] = BPF_PROG_TYPE_SCHED_CLS;
	}
	static int kv[64], vv[64];
	static char kwhy[64][512], vwhy[64][512];
	judge(bpfvm_set, path, &set, vv, vwhy);
	libbpf_msg[0] = 0;
	struct bpf_object *probe = bpf_object__open_file(path, NULL);
	bool via_libbpf = probe != NULL;
	char probe_msg[512];
	snprintf(probe_msg, sizeof(probe_msg), "%s", libbpf_msg);
	probe_msg[strcspn(probe_msg, "\n")] = 0;
	bpf_object__close(probe);
	struct mirror m = { .cnt = 0 };
	struct bpfvm_object *built = NULL;
	if (via_libbpf) {
		judge(kernel_set, path, &set, kv, kwhy);
	} else {
		char mwhy[512] = "";
		built = load_unverified(vm, path, &set, false);
		if (!built)
			built = load_unverified(vm, path, &set, true);
		if (!built)
			snprintf(mwhy, sizeof(mwhy), "bpfvm cannot load it unverified: %s", bpfvm_errmsg(vm));
		else if (mirror_maps(vm, built, &m, mwhy, sizeof(mwhy)))
			mirror_close(&m);
		for (size_t i = 0; i < set.cnt; i++) {
			if (built && !mwhy[0])
				kv[i] = kernel_mirror(built, i, &m, set.type[i], set.attach[i], kwhy[i], sizeof(kwhy[i]));
			else
				kv[i] = -1, snprintf(kwhy[i], sizeof(kwhy[i]), "libbpf cannot open it (%.200s) and %.280s", probe_msg, mwhy);
		}
	}
	for (size_t i = 0; i < set.cnt; i++) {
		const char *prog = set.name[i];
		int v = vv[i], k = kv[i];
		t->programs++;
		struct known *kn = find_known(t, name, prog);
		if (v < 0 || k < 0) {
			t->not_compared++;
			printf("  %s %s: not compared: %s\n", name, prog, v < 0 ? vwhy[i] : kwhy[i]);
			if (kn)
				kn->seen = true;
			continue;
		}
		if (k == v) {
			if (k)
				t->accept_both++;
			else
				t->reject_both++;
			if (kn) {
				kn->seen = true;
				printf("  %s %s: listed as a difference but both %s now: drop it from %s\n", name, prog,
				       word(k), KNOWN_PATH);
				t->stale++;
			}
			continue;
		}
		if (kn && !strcmp(kn->kernel, word(k)) && !strcmp(kn->bpfvm, word(v))) {
			kn->seen = true;
			t->known++;
			continue;
		}
		if (kn)
			kn->seen = true;
		t->unknown++;
		printf("  %s %s: kernel %ss, bpfvm %ss (not in %s)\n    kernel: %s\n    bpfvm:  %s\n", name, prog, word(k),
		       word(v), KNOWN_PATH, k ? "-" : kwhy[i], v ? "-" : vwhy[i]);
	}
	mirror_close(&m);
	bpfvm_object_close(built);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

/* Compiles tests/loader/<f> into dir with the flags the examples build with. */
static bool build_loader_obj(const char *dir, const char *f)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu -Wall -c tests/loader/%s "
		 "-o %s/%.*s.o 2>/dev/null",
		 f, dir, (int)(strlen(f) - 2), f);
	return system(cmd) == 0;
}

TEST(verdicts_match_the_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	if (system("command -v clang >/dev/null 2>&1"))
		SKIP("no clang to build tests/loader objects");
	libbpf_set_print(libbpf_print);
	static struct tally t;
	memset(&t, 0, sizeof(t));
	load_known(&t);
	static const char *const examples[] = { "xdp_firewall.bpf", "xdp_lb.bpf", "socket_filter.bpf", "tc_classifier.bpf",
						"tail_calls.bpf", "hook_prog.bpf", "legacy/xdp1_kern", "legacy/sockex1_kern",
						"legacy/sockex2_kern", "legacy/sockex3_kern", "legacy/tcbpf1_kern" };
	char path[1024], name[1024];
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		snprintf(path, sizeof(path), "build/examples/%s.o", examples[i]);
		snprintf(name, sizeof(name), "examples/%s.o", examples[i]);
		if (access(path, R_OK)) {
			printf("  %s missing (make all builds it)\n", path);
			test_cur_failed = 1;
			continue;
		}
		compare_object(&t, name, path);
	}
	char dir[] = "/tmp/bpfvm-kverdicts-XXXXXX";
	if (!mkdtemp(dir)) {
		printf("  no temporary directory\n");
		test_cur_failed = 1;
		return;
	}
	FILE *ls = popen("ls tests/loader", "r");
	char f[200];
	while (ls && fgets(f, sizeof(f), ls)) {
		f[strcspn(f, "\n")] = 0;
		size_t l = strlen(f);
		if (l < 7 || strcmp(f + l - 6, ".bpf.c"))
			continue;
		if (!build_loader_obj(dir, f)) {
			printf("  clang cannot build tests/loader/%s\n", f);
			test_cur_failed = 1;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%.*s.o", dir, (int)(l - 2), f);
		snprintf(name, sizeof(name), "tests/loader/%.*s.o", (int)(l - 2), f);
		compare_object(&t, name, path);
	}
	if (ls)
		pclose(ls);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	for (int i = 0; i < t.known_cnt; i++)
		if (!t.known_list[i].seen) {
			printf("  %s %s: listed in %s but no such program was compared\n", t.known_list[i].obj,
			       t.known_list[i].prog, KNOWN_PATH);
			t.stale++;
		}
	printf("  %d programs in %d objects: %d accepted by both, %d rejected by both, %d known differences, "
	       "%d unknown, %d stale entries, %d not compared\n",
	       t.programs, t.objects, t.accept_both, t.reject_both, t.known, t.unknown, t.stale, t.not_compared);
	CHECK(t.unknown == 0);
	CHECK(t.stale == 0);
	CHECK(t.accept_both > 0);
}

int main(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-verdicts-%d", (int)getpid());
	if (mkdir(pin_root, 0700)) {
		printf("FAIL mkdir %s\n", pin_root);
		return 1;
	}
	RUN(verdicts_match_the_kernel);
	DIR *d = opendir(pin_root);
	for (struct dirent *e; d && (e = readdir(d));) {
		char f[128];
		if (e->d_name[0] != '.' && snprintf(f, sizeof(f), "%s/%s", pin_root, e->d_name) < (int)sizeof(f))
			unlink(f);
	}
	if (d)
		closedir(d);
	rmdir(pin_root);
	return test_done();
}
