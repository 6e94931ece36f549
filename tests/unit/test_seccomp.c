/* test_seccomp.c -- seccomp policies built and exported by libseccomp (seccomp_export_bpf(): raw struct
 * sock_filter), run by bpfvm over a set of system calls and arguments:
 *   - against the action each rule was written for (all actions, 32- and 64-bit argument comparisons,
 *     masked compares, a foreign architecture, x32 numbers);
 *   - against the kernel: the same policy installed in a forked child (PR_SET_NO_NEW_PRIVS + seccomp
 *     filter mode), which then makes the call.  ERRNO actions use errno values >= 1000 that no real
 *     call returns, so the child reports which rule fired; TRAP is seen by a SIGSYS handler with the
 *     action's data in si_errno; KILL_PROCESS / KILL_THREAD by waitpid() (killed by SIGSYS).  Skipped
 *     with the reason when the machine refuses seccomp filters;
 *   - through the CLI, `bpfvm seccomp` on the exported file and on the same program as -dd text, and its
 *     errors (unknown system call name, malformed policy, a policy seccomp refuses). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <bpfvm.h>
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char cli[PATH_MAX], dir[64];

/* One rule of a policy: action for nr when (optionally) argument `arg` compares with `op` to datum. */
struct rule {
	uint32_t action;
	int nr;
	int arg;            /* -1: no argument condition */
	enum scmp_compare op;
	uint64_t datum, mask;
};

struct policy {
	const char *name;
	uint32_t def;
	struct rule rules[8];
};

/* A call and what the policy decides for it on x86_64. */
struct call {
	int nr;
	uint64_t args[6];
	uint32_t want;
};

/* The three policies and their calls.  Calls the kernel makes for real when allowed must be harmless:
 * fd arguments are invalid (-1 or 99+), pointers NULL. */
static const struct policy pols[] = {
	{ "errno rules, default allow", SCMP_ACT_ALLOW, {
		{ SCMP_ACT_ERRNO(1001), SCMP_SYS(getppid), -1, 0, 0, 0 },
		{ SCMP_ACT_ERRNO(1002), SCMP_SYS(close), 0, SCMP_CMP_EQ, 999, 0 },
		{ SCMP_ACT_ERRNO(1003), SCMP_SYS(read), 2, SCMP_CMP_GT, 1000, 0 },
		{ SCMP_ACT_ERRNO(1004), SCMP_SYS(dup), 0, SCMP_CMP_MASKED_EQ, 0x500, 0xf00 },
		{ SCMP_ACT_ERRNO(1005), SCMP_SYS(lseek), 1, SCMP_CMP_EQ, 0x100000005ull, 0 },
		{ SCMP_ACT_ERRNO(1006), SCMP_SYS(dup2), 1, SCMP_CMP_LT, 10, 0 },
		{ SCMP_ACT_ERRNO(1007), SCMP_SYS(umask), 0, SCMP_CMP_NE, 0, 0 },
		{ 0 },
	} },
	{ "default errno, a few allowed", SCMP_ACT_ERRNO(1050), {
		{ SCMP_ACT_ALLOW, SCMP_SYS(write), -1, 0, 0, 0 },
		{ SCMP_ACT_ALLOW, SCMP_SYS(exit_group), -1, 0, 0, 0 },
		{ SCMP_ACT_ALLOW, SCMP_SYS(getpid), -1, 0, 0, 0 },
		{ SCMP_ACT_ALLOW, SCMP_SYS(close), 0, SCMP_CMP_GE, 900, 0 },
		{ SCMP_ACT_LOG, SCMP_SYS(getuid), -1, 0, 0, 0 },
		{ SCMP_ACT_ALLOW, SCMP_SYS(rt_sigreturn), -1, 0, 0, 0 },
		{ 0 },
	} },
	{ "kill and trap", SCMP_ACT_ALLOW, {
		{ SCMP_ACT_KILL_PROCESS, SCMP_SYS(getppid), -1, 0, 0, 0 },
		{ SCMP_ACT_KILL_THREAD, SCMP_SYS(getpgrp), -1, 0, 0, 0 },
		{ SCMP_ACT_TRAP, SCMP_SYS(sched_yield), -1, 0, 0, 0 },
		{ SCMP_ACT_TRACE(7), SCMP_SYS(getegid), -1, 0, 0, 0 },
		{ SCMP_ACT_NOTIFY, SCMP_SYS(getgid), -1, 0, 0, 0 },
		{ SCMP_ACT_ERRNO(1010), SCMP_SYS(close), 0, SCMP_CMP_MASKED_EQ, 0xff, 0x80 },
		{ 0 },
	} },
};

#define ERR(n) (SECCOMP_RET_ERRNO | (n))
static const struct call calls0[] = {
	{ SYS_getppid, { 0 }, ERR(1001) },
	{ SYS_getpid, { 0 }, SECCOMP_RET_ALLOW },
	{ SYS_close, { 999 }, ERR(1002) },
	{ SYS_close, { 998 }, SECCOMP_RET_ALLOW },
	{ SYS_close, { 999 | 1ull << 32 }, SECCOMP_RET_ALLOW }, /* 64-bit compare: the high word counts */
	{ SYS_read, { (uint64_t)-1, 0, 1001 }, ERR(1003) },
	{ SYS_read, { (uint64_t)-1, 0, 1000 }, SECCOMP_RET_ALLOW },
	{ SYS_read, { (uint64_t)-1, 0, 1ull << 40 }, ERR(1003) },
	{ SYS_dup, { 0x5ff }, ERR(1004) },
	{ SYS_dup, { 0x4ff }, SECCOMP_RET_ALLOW },
	{ SYS_lseek, { (uint64_t)-1, 0x100000005ull }, ERR(1005) },
	{ SYS_lseek, { (uint64_t)-1, 5 }, SECCOMP_RET_ALLOW },
	{ SYS_dup2, { (uint64_t)-1, 9 }, ERR(1006) },
	{ SYS_dup2, { (uint64_t)-1, 10 }, SECCOMP_RET_ALLOW },
	{ SYS_umask, { 022 }, ERR(1007) },
	{ SYS_umask, { 0 }, SECCOMP_RET_ALLOW },
};
static const struct call calls1[] = {
	{ SYS_getpid, { 0 }, SECCOMP_RET_ALLOW },
	{ SYS_getppid, { 0 }, ERR(1050) },
	{ SYS_close, { 950 }, SECCOMP_RET_ALLOW },
	{ SYS_close, { 899 }, ERR(1050) },
	{ SYS_getuid, { 0 }, SECCOMP_RET_LOG },
	{ SYS_uname, { 0 }, ERR(1050) },
	{ SYS_sched_yield, { 0 }, ERR(1050) },
};
static const struct call calls2[] = {
	{ SYS_getppid, { 0 }, SECCOMP_RET_KILL_PROCESS },
	{ SYS_getpgrp, { 0 }, SECCOMP_RET_KILL_THREAD },
	{ SYS_sched_yield, { 0 }, SECCOMP_RET_TRAP },
	{ SYS_getegid, { 0 }, SECCOMP_RET_TRACE | 7 },
	{ SYS_getgid, { 0 }, SECCOMP_RET_USER_NOTIF },
	{ SYS_close, { 0x1ff }, ERR(1010) },
	{ SYS_close, { 0x17f }, SECCOMP_RET_ALLOW },
	{ SYS_getpid, { 0 }, SECCOMP_RET_ALLOW },
};
static const struct {
	const struct call *c;
	size_t n;
} calls[] = { { calls0, N(calls0) }, { calls1, N(calls1) }, { calls2, N(calls2) } };

/* Builds policy i with libseccomp and exports it: the raw program, malloc'd, or NULL. */
static struct sock_filter *export(size_t i, size_t *cnt)
{
	scmp_filter_ctx ctx = seccomp_init(pols[i].def);
	char path[128];
	struct sock_filter *prog = NULL;

	snprintf(path, sizeof(path), "%s/pol%zu.bpf", dir, i);
	if (!ctx)
		return NULL;
	for (const struct rule *r = pols[i].rules; r->action || r->nr; r++) {
		/* SCMP_CMP() leaves datum_b out for 2-operand compares; clang's -Wextra minds */
		struct scmp_arg_cmp cmp = { .arg = (unsigned int)r->arg, .op = r->op,
					    .datum_a = r->op == SCMP_CMP_MASKED_EQ ? r->mask : r->datum,
					    .datum_b = r->op == SCMP_CMP_MASKED_EQ ? r->datum : 0 };
		int err = r->arg < 0 ? seccomp_rule_add(ctx, r->action, r->nr, 0)
				     : seccomp_rule_add_array(ctx, r->action, r->nr, 1, &cmp);
		if (err) {
			printf("  %s: rule %d: seccomp_rule_add: %s\n", pols[i].name, (int)(r - pols[i].rules), strerror(-err));
			goto out;
		}
	}
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || seccomp_export_bpf(ctx, fd)) {
		printf("  %s: seccomp_export_bpf failed\n", pols[i].name);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	struct stat st;
	if (!fstat(fd, &st) && st.st_size > 0 && st.st_size % 8 == 0 && (prog = malloc((size_t)st.st_size)) &&
	    pread(fd, prog, (size_t)st.st_size, 0) == st.st_size) {
		*cnt = (size_t)st.st_size / sizeof(*prog);
	} else {
		free(prog);
		prog = NULL;
	}
	close(fd);
out:
	seccomp_release(ctx);
	return prog;
}

static uint32_t run(struct bpfvm *vm, int fd, uint32_t arch, int nr, const uint64_t *args)
{
	struct seccomp_data sd = { .nr = nr, .arch = arch, .instruction_pointer = 0x401000 };
	uint32_t r = 0xdeadbeef;
	for (int k = 0; k < 6; k++)
		sd.args[k] = args[k];
	if (bpfvm_seccomp_run(vm, fd, &sd, &r)) {
		printf("  run: %s", bpfvm_errmsg(vm));
		return 0xdeadbeef;
	}
	return r;
}

/* bpfvm runs each exported policy over its calls: the action each rule was written for. */
TEST(libseccomp_policies)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	for (size_t i = 0; i < N(pols); i++) {
		size_t cnt = 0;
		struct sock_filter *prog = export(i, &cnt);
		CHECK(prog != NULL);
		if (!prog)
			continue;
		CHECK_EQ_U64(bpfvm_cbpf_check(vm, prog, cnt, BPFVM_CBPF_SECCOMP), 0);
		int fd = bpfvm_cbpf_load(vm, prog, cnt, BPFVM_CBPF_SECCOMP, "pol");
		CHECK(fd >= 0);
		for (size_t k = 0; fd >= 0 && k < calls[i].n; k++) {
			const struct call *c = &calls[i].c[k];
			uint32_t got = run(vm, fd, AUDIT_ARCH_X86_64, c->nr, c->args);
			if (got != c->want) {
				printf("  %s: call %zu (nr %d): got 0x%08x, want 0x%08x\n", pols[i].name, k, c->nr, got, c->want);
				test_cur_failed = 1;
			}
		}
		/* libseccomp's checks before the rules: another architecture, and x32 numbers on x86_64, get
		 * its bad-architecture action (KILL_THREAD, "SCMP_ACT_KILL", by default) */
		uint64_t none[6] = { 0 };
		CHECK_EQ_U64(run(vm, fd, AUDIT_ARCH_I386, 20, none), SECCOMP_RET_KILL_THREAD);
		CHECK_EQ_U64(run(vm, fd, AUDIT_ARCH_AARCH64, SYS_getpid, none), SECCOMP_RET_KILL_THREAD);
		uint32_t x32 = run(vm, fd, AUDIT_ARCH_X86_64, 0x40000000 | SYS_getpid, none);
		CHECK(x32 == SECCOMP_RET_KILL_THREAD || x32 == pols[i].def);
		bpfvm_close(vm, fd);
		free(prog);
	}
	bpfvm_free(vm);
}

/* What the kernel did in the child (reported through a pipe, or seen by waitpid). */
struct outcome {
	int kind;     /* 0 returned, 1 trapped (SIGSYS handler), 2 killed by SIGSYS, 3 other */
	long ret;
	int err;      /* errno, or the trap's si_errno */
};

static int report_fd = -1; /* the child's end of the pipe (each child has its own copy) */

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	struct outcome o = { 1, 0, si->si_errno };
	if (write(report_fd, &o, sizeof(o)) != sizeof(o))
		_exit(3);
	_exit(0);
}

/* Installs prog in a child that then makes the call.  Returns 0 with *o, 1 when the machine refuses
 * seccomp (reason in why), -1 on a harness failure. */
static int kernel_call(const struct sock_filter *prog, size_t cnt, const struct call *c, struct outcome *o,
		       char *why, size_t why_len)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sock_fprog fp = { .len = (unsigned short)cnt, .filter = (struct sock_filter *)prog };
		struct sigaction sa;
		struct outcome r = { 0 };
		close(p[0]);
		report_fd = p[1];
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp)) {
			r.kind = 4;
			r.err = errno;
			if (write(p[1], &r, sizeof(r)) != sizeof(r))
				_exit(3);
			_exit(0);
		}
		errno = 0;
		r.ret = syscall(c->nr, c->args[0], c->args[1], c->args[2], c->args[3], c->args[4], c->args[5]);
		r.err = r.ret == -1 ? errno : 0;
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	struct outcome r = { 3, 0, 0 };
	ssize_t n = read(p[0], &r, sizeof(r));
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (n != sizeof(r)) {
		r.kind = WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS ? 2 : 3;
		r.err = WIFSIGNALED(st) ? WTERMSIG(st) : -1;
	}
	if (r.kind == 4) {
		snprintf(why, why_len, "the machine refuses seccomp filters: %s", strerror(r.err));
		return 1;
	}
	*o = r;
	return 0;
}

/* valgrind runs the child's system calls itself (read() of a bad fd fails with its EBADF before the
 * kernel, hence before the filter, sees it): what the child observes is not the kernel's decision. */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload");
}

/* The kernel agrees: each call in a child under the installed policy does what bpfvm's action says. */
TEST(kernel_agrees)
{
	static char why[160];
	if (under_valgrind())
		SKIP("under valgrind, which makes system calls on the program's behalf: no kernel to compare with");
	struct bpfvm *vm = bpfvm_new(NULL);
	int compared = 0;

	for (size_t i = 0; i < N(pols); i++) {
		size_t cnt = 0;
		struct sock_filter *prog = export(i, &cnt);
		int fd = prog ? bpfvm_cbpf_load(vm, prog, cnt, BPFVM_CBPF_SECCOMP, "pol") : -1;
		CHECK(fd >= 0);
		for (size_t k = 0; fd >= 0 && k < calls[i].n; k++) {
			const struct call *c = &calls[i].c[k];
			uint32_t act = run(vm, fd, AUDIT_ARCH_X86_64, c->nr, c->args), data = act & SECCOMP_RET_DATA;
			struct outcome o;
			/* TRACE and USER_NOTIF need a tracer / a listener: without one the kernel fails the call
			 * with ENOSYS; nothing more to learn there */
			if ((act & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_TRACE ||
			    (act & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
				continue;
			int r = kernel_call(prog, cnt, c, &o, why, sizeof(why));
			if (r == 1) {
				bpfvm_close(vm, fd);
				free(prog);
				bpfvm_free(vm);
				SKIP(why);
			}
			CHECK(r == 0);
			if (r)
				continue;
			compared++;
			bool ok;
			switch (act & SECCOMP_RET_ACTION_FULL) {
			case SECCOMP_RET_ERRNO:
				ok = o.kind == 0 && o.ret == -1 && o.err == (int)data;
				break;
			case SECCOMP_RET_ALLOW:
			case SECCOMP_RET_LOG: /* allowed (and logged): the call ran, whatever it returned was its own */
				ok = o.kind == 0 && (o.ret != -1 || o.err < 1000);
				break;
			case SECCOMP_RET_TRAP:
				ok = o.kind == 1 && o.err == (int)data;
				break;
			default: /* KILL_THREAD, KILL_PROCESS: a single-threaded child dies of SIGSYS either way */
				ok = o.kind == 2;
				break;
			}
			if (!ok) {
				printf("  %s: call %zu (nr %d): bpfvm 0x%08x, kernel: kind %d ret %ld errno %d\n", pols[i].name,
				       k, c->nr, act, o.kind, o.ret, o.err);
				test_cur_failed = 1;
			}
		}
		if (fd >= 0)
			bpfvm_close(vm, fd);
		free(prog);
	}
	CHECK(compared >= 25);
	bpfvm_free(vm);
}

struct proc {
	int status;
	char out[4096], err[4096];
};

static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
}

static bool spawn(struct proc *p, const char *const *args)
{
	const char *argv[16] = { "bpfvm" };
	size_t n = 1;
	for (; args[n - 1] && n + 1 < N(argv); n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	FILE *fo = tmpfile(), *fe = tmpfile();
	memset(p, 0, sizeof(*p));
	p->status = -1;
	if (!fo || !fe)
		goto out;
	pid_t pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(fileno(fo), 1);
		dup2(fileno(fe), 2);
		execv(cli, (char *const *)argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		goto out;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	slurp(fileno(fo), p->out, sizeof(p->out));
	slurp(fileno(fe), p->err, sizeof(p->err));
out:
	if (fo)
		fclose(fo);
	if (fe)
		fclose(fe);
	return p->status >= 0;
}

#define CLI(p, ...) spawn((p), (const char *const[]){ __VA_ARGS__, NULL })

/* Edge values of the action word, as the kernel reads them: ERRNO data above MAX_ERRNO is capped at
 * 4095; an action value the kernel does not know kills the process.  bpfvm's CLI prints that, and the
 * kernel does that. */
TEST(action_edges)
{
	static const struct {
		uint32_t ret;
		const char *line;
		int kind, err; /* the kernel's outcome, as kernel_call() reports it */
	} edges[] = {
		{ SECCOMP_RET_ERRNO | 0xffff, "SECCOMP_RET_ERRNO(4095)\n", 0, 4095 },
		{ SECCOMP_RET_ERRNO | 4096, "SECCOMP_RET_ERRNO(4095)\n", 0, 4095 },
		{ 0x7ffe0000, "SECCOMP_RET_KILL_PROCESS (unknown action 0x7ffe0000)\n", 2, 0 },
		{ SECCOMP_RET_TRAP | 77, "SECCOMP_RET_TRAP(77)\n", 1, 77 },
	};
	char path[128], why[160];
	snprintf(path, sizeof(path), "%s/edge.dd", dir);
	for (size_t i = 0; i < N(edges); i++) {
		/* getppid gets the action, everything else (the child's report and exit) is allowed */
		struct sock_filter prog[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, edges[i].ret),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		FILE *f = fopen(path, "w");
		for (size_t k = 0; f && k < N(prog); k++)
			fprintf(f, "{ 0x%02x, %u, %u, 0x%08x },\n", prog[k].code, prog[k].jt, prog[k].jf, prog[k].k);
		CHECK(f && !fclose(f));
		struct proc p;
		CHECK(spawn(&p, (const char *const[]){ "seccomp", path, "--syscall", "getppid", NULL }));
		CHECK_EQ_STR(p.out, edges[i].line);
		struct call c = { SYS_getppid, { 0 }, 0 };
		struct outcome o;
		if (under_valgrind())
			continue; /* see kernel_agrees */
		int r = kernel_call(prog, N(prog), &c, &o, why, sizeof(why));
		if (r == 1)
			continue; /* no seccomp here: the CLI side is still checked */
		CHECK(r == 0 && o.kind == edges[i].kind);
		if (edges[i].kind != 2)
			CHECK_EQ_U64(o.err, edges[i].err);
	}
	unlink(path);
}

/* `bpfvm seccomp` on libseccomp's file and on the same program as -dd text; its errors. */
TEST(cli_seccomp)
{
	struct proc p;
	char raw[128], dd[128], bad[128];
	size_t cnt = 0;
	struct sock_filter *prog = export(2, &cnt);
	CHECK(prog != NULL);
	if (!prog)
		return;
	snprintf(raw, sizeof(raw), "%s/pol2.bpf", dir);
	snprintf(dd, sizeof(dd), "%s/pol2.dd", dir);
	FILE *f = fopen(dd, "w");
	for (size_t i = 0; f && i < cnt; i++)
		fprintf(f, "{ 0x%02x, %u, %u, 0x%08x },\n", prog[i].code, prog[i].jt, prog[i].jf, prog[i].k);
	CHECK(f && !fclose(f));
	free(prog);

	static const struct {
		const char *sc, *args, *arch, *want;
	} cases[] = {
		{ "getppid", NULL, NULL, "SECCOMP_RET_KILL_PROCESS\n" },
		{ "getpgrp", NULL, NULL, "SECCOMP_RET_KILL_THREAD\n" },
		{ "sched_yield", NULL, NULL, "SECCOMP_RET_TRAP(0)\n" },
		{ "getegid", NULL, NULL, "SECCOMP_RET_TRACE(7)\n" },
		{ "getgid", NULL, NULL, "SECCOMP_RET_USER_NOTIF\n" },
		{ "close", "0x1ff", NULL, "SECCOMP_RET_ERRNO(1010)\n" },
		{ "3", "511", NULL, "SECCOMP_RET_ERRNO(1010)\n" },
		{ "close", "0x17f,1,2,3,4,5", NULL, "SECCOMP_RET_ALLOW\n" },
		{ "getpid", NULL, NULL, "SECCOMP_RET_ALLOW\n" },
		{ "20", NULL, "i386", "SECCOMP_RET_KILL_THREAD\n" },
	};
	for (size_t i = 0; i < N(cases); i++)
		for (int form = 0; form < 2; form++) {
			const char *a[12] = { "seccomp", form ? dd : raw, "--syscall", cases[i].sc };
			size_t n = 4;
			if (cases[i].args)
				a[n++] = "--args", a[n++] = cases[i].args;
			if (cases[i].arch)
				a[n++] = "--arch", a[n++] = cases[i].arch;
			if (form)
				a[n++] = "--interp"; /* the -dd form on the interpreter, the raw one on the default engine */
			a[n] = NULL;
			CHECK(spawn(&p, a));
			if (p.status != 0 || strcmp(p.out, cases[i].want)) {
				printf("  seccomp --syscall %s (%s): status %d, '%s' (want '%s'), %s", cases[i].sc,
				       form ? "-dd" : "raw", p.status, p.out, cases[i].want, p.err);
				test_cur_failed = 1;
			}
		}

	CHECK(CLI(&p, "seccomp", raw, "--syscall", "no_such_call"));
	CHECK(p.status == 2 && strstr(p.err, "--syscall no_such_call: unknown x86_64 system call name"));
	CHECK(CLI(&p, "seccomp", raw, "--syscall", "--args"));
	CHECK(p.status == 2);
	CHECK(CLI(&p, "seccomp", raw, "--syscall", "read", "--args", "1,2,3,4,5,6,7"));
	CHECK(p.status == 2 && strstr(p.err, "more than 6 arguments"));
	CHECK(CLI(&p, "seccomp", raw, "--syscall", "read", "--arch", "vax"));
	CHECK(p.status == 2 && strstr(p.err, "--arch 'vax': unknown architecture"));
	snprintf(bad, sizeof(bad), "%s/bad.dd", dir);
	f = fopen(bad, "w");
	CHECK(f && fputs("{ 0x20, 0, 0, 0x00000000 },\n{ 0x15, 0 },\n", f) >= 0 && !fclose(f));
	CHECK(CLI(&p, "seccomp", bad, "--syscall", "read"));
	CHECK(p.status == 1 && strstr(p.err, "bad.dd: line 2:"));
	f = fopen(bad, "w"); /* a socket filter's packet load: seccomp refuses it */
	CHECK(f && fputs("{ 0x28, 0, 0, 0x0000000c },\n{ 0x06, 0, 0, 0x7fff0000 },\n", f) >= 0 && !fclose(f));
	CHECK(CLI(&p, "seccomp", bad, "--syscall", "read"));
	CHECK(p.status == 1 && strstr(p.err, "insn 0: seccomp: opcode 0x28 (LD_H_ABS) is not allowed"));
	unlink(bad);
	unlink(dd);
}

/* The x86_64 name table is the machine's <sys/syscall.h> numbering. */
TEST(cli_syscall_names)
{
	static const struct {
		const char *name;
		long nr;
	} names[] = { { "read", SYS_read }, { "openat", SYS_openat }, { "execve", SYS_execve },
		      { "io_uring_setup", SYS_io_uring_setup }, { "clone3", SYS_clone3 }, { "futex_waitv", SYS_futex_waitv } };
	struct proc p;
	char path[128], want[64];
	snprintf(path, sizeof(path), "%s/nr.dd", dir);
	/* a policy returning ERRNO(nr): the action line shows which number the name became */
	FILE *f = fopen(path, "w");
	CHECK(f && fputs("{ 0x20, 0, 0, 0x00000000 },\n{ 0x44, 0, 0, 0x00050000 },\n{ 0x16, 0, 0, 0x00000000 },\n", f) >= 0 &&
	      !fclose(f));
	for (size_t i = 0; i < N(names); i++) {
		CHECK(CLI(&p, "seccomp", path, "--syscall", names[i].name));
		snprintf(want, sizeof(want), "SECCOMP_RET_ERRNO(%ld)\n", names[i].nr);
		CHECK_EQ_STR(p.out, want);
	}
	unlink(path);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", n > 0 ? self : argv[0]);
	snprintf(dir, sizeof(dir), "/tmp/bpfvm-test-seccomp-%d", (int)getpid());
	if (mkdir(dir, 0700)) {
		printf("FAIL seccomp: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* libseccomp probes the kernel for the actions it may emit (its API level); where it cannot, e.g. under
	 * valgrind, which does not pass seccomp() through, it refuses LOG and KILL_PROCESS.  Exporting a
	 * program needs no kernel: level 6 has them all, USER_NOTIF included. */
	if (seccomp_api_get() < 6)
		seccomp_api_set(6);
	RUN(libseccomp_policies);
	RUN(kernel_agrees);
	if (access(cli, X_OK))
		printf("FAIL cli_seccomp: %s not built\n", cli), test_failed_cnt++;
	else {
		RUN(cli_seccomp);
		RUN(cli_syscall_names);
		RUN(action_edges);
	}
	for (size_t i = 0; i < N(pols); i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/pol%zu.bpf", dir, i);
		unlink(p);
	}
	rmdir(dir);
	return test_done();
}
