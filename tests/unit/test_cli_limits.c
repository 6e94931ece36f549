/* test_cli_limits.c -- every CLI run is bounded and interruptible (issue 13 item 1, issue 8 item 3): the
 * default instruction budget stops a spinning program in raw and object/pcap mode, --insn-limit is
 * validated and accepted in both modes ('unlimited' only when asked), and SIGINT / SIGTERM stop a run
 * that spins without a budget, the counts so far printed.  The signal is sent once the child has said
 * it is running (its program's trace line), never after a sleep. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char cli[PATH_MAX], dir[64], spin_obj[128], pcap3[128];

static void child_exec(const char *const *args)
{
	const char *argv[16] = { "bpfvm" };
	size_t n = 1;
	for (; args[n - 1] && n + 1 < N(argv); n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	execv(cli, (char *const *)argv);
	_exit(127);
}

#define RUN_CLI(p, ...) do { \
		if (!test_spawn((p), cli, "bpfvm", NULL, (const char *const[]){ __VA_ARGS__, NULL }, dir)) { \
			CHECK(!"could not run the CLI"); \
			return; \
		} \
	} while (0)

static const char *text_file(const char *name, const char *text)
{
	static char paths[8][128];
	static unsigned next;
	char *path = paths[next++ % N(paths)];
	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

TEST(raw_run_has_a_default_budget)
{
	struct test_proc p;
	const char *endless = text_file("endless.s", "l: goto l\nexit\n");
	RUN_CLI(&p, "run", endless);
	CHECK(p.status == 1);
	CHECK(strstr(p.err, "insn 0: instruction budget exhausted") != NULL);
	/* 2M iterations exceed the default budget (1M back-jumps); 'unlimited' or a larger N runs them */
	const char *loop = text_file("loop.s", "r0 = 0\nl: r0 += 1\nif r0 < 2000000 goto l\nexit\n");
	RUN_CLI(&p, "run", loop);
	CHECK(p.status == 1);
	CHECK(strstr(p.err, "instruction budget exhausted") != NULL);
	RUN_CLI(&p, "run", loop, "--insn-limit", "unlimited");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0x1e8480\n");
	RUN_CLI(&p, "run", loop, "--insn-limit", "0x200000");
	CHECK_EQ_U64(p.status, 0);
}

TEST(insn_limit_values_are_validated)
{
	struct test_proc p;
	const char *prog = text_file("one.s", "r0 = 1\nexit\n");
	static const struct { const char *arg, *msg; } bad[] = {
		{ "abc", "--insn-limit 'abc': not a number" },
		{ "12x", "--insn-limit '12x': not a number" },
		{ "-5", "--insn-limit '-5': not a number" },
		{ "", "--insn-limit '': not a number" },
		{ "99999999999999999999999", "not a number" },
		{ "0", "--insn-limit 0: a run needs a budget of at least 1" },
	};
	for (size_t i = 0; i < N(bad); i++) {
		RUN_CLI(&p, "run", prog, "--insn-limit", bad[i].arg);
		CHECK_EQ_U64(p.status, 2);
		if (!strstr(p.err, bad[i].msg))
			printf("  --insn-limit '%s': %s", bad[i].arg, p.err);
		CHECK(strstr(p.err, bad[i].msg) != NULL);
		CHECK_EQ_STR(p.out, "");
	}
	/* the same in object mode, where the option used to be refused outright */
	RUN_CLI(&p, "run", spin_obj, "--pcap", pcap3, "--insn-limit", "abc");
	CHECK_EQ_U64(p.status, 2);
	CHECK(strstr(p.err, "--insn-limit 'abc': not a number") != NULL);
	RUN_CLI(&p, "run", spin_obj, "--pcap", pcap3, "--insn-limit", "0");
	CHECK_EQ_U64(p.status, 2);
	CHECK(strstr(p.err, "--insn-limit 0") != NULL);
	RUN_CLI(&p, "run", prog, "--insn-limit");
	CHECK_EQ_U64(p.status, 2);
	CHECK(strstr(p.err, "missing the value of '--insn-limit'") != NULL);
	/* --help says what the budget counts and its default */
	RUN_CLI(&p, "run", "--help");
	CHECK_EQ_U64(p.status, 0);
	CHECK(strstr(p.out, "--insn-limit") != NULL && strstr(p.out, "1000000") != NULL &&
	      strstr(p.out, "unlimited") != NULL);
}

/* l: goto l in an XDP object, on a three-packet capture: each packet's run ends by the default budget
 * (or a given one), is counted as faulted, and the run goes on to the end of the file.  --no-verify:
 * an endless loop is what a verifier refuses, and the budget is what stops it without one. */
TEST(pcap_run_of_a_spinning_program_ends_by_budget)
{
	if (!spin_obj[0])
		SKIP("clang could not build tests/loader/spin.bpf.c");
	struct test_proc p;
	RUN_CLI(&p, "run", spin_obj, "--pcap", pcap3, "--no-maps", "--no-verify");
	CHECK_EQ_U64(p.status, 1);
	CHECK(strstr(p.out, "3 packets") != NULL);
	CHECK(strstr(p.out, "3 faulted") != NULL);
	RUN_CLI(&p, "run", spin_obj, "--pcap", pcap3, "--no-maps", "--insn-limit", "1000", "-v", "--no-verify");
	CHECK_EQ_U64(p.status, 1);
	CHECK(strstr(p.out, "3 faulted") != NULL);
	CHECK(strstr(p.out, "fault: insn ") != NULL && strstr(p.out, "instruction budget exhausted\n") != NULL);
	CHECK(strstr(p.out, "addr=") == NULL); /* -ELOOP, per packet, located, without an address */
}

/* Starts the CLI with stdout (fd 1) or stderr (fd 2) on a pipe, waits for `line` on it, sends `sig`,
 * and collects the rest (the other stream through a file). */
static bool signal_when(struct test_proc *p, int fd, const char *line, int sig, const char *const *args)
{
	int pfd[2], other = test_tmpfd(dir, "other");
	char *piped = fd == 1 ? p->out : p->err;
	size_t cap = fd == 1 ? sizeof(p->out) : sizeof(p->err);
	memset(p, 0, sizeof(*p));
	p->status = -1;
	if (other < 0 || pipe(pfd))
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], fd);
		dup2(other, fd == 1 ? 2 : 1);
		child_exec(args);
	}
	close(pfd[1]);
	size_t n = 0;
	ssize_t r;
	bool sent = false;
	while (n + 1 < cap && (r = read(pfd[0], piped + n, cap - 1 - n)) > 0) {
		n += (size_t)r;
		piped[n] = '\0';
		if (!sent && strstr(piped, line)) {
			kill(pid, sig); /* the program is running: it printed its line, then spins */
			sent = true;
		}
	}
	close(pfd[0]);
	if (!sent)
		kill(pid, SIGKILL); /* it never said it runs: do not leave it spinning */
	int st;
	bool ok = waitpid(pid, &st, 0) == pid;
	if (ok)
		p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	test_slurp(other, fd == 1 ? p->err : p->out, fd == 1 ? sizeof(p->err) : sizeof(p->out));
	close(other);
	return ok && sent;
}

TEST(sigint_and_sigterm_stop_a_run_without_budget)
{
	if (!spin_obj[0])
		SKIP("clang could not build tests/loader/spin.bpf.c");
	static const int sigs[] = { SIGINT, SIGTERM };
	for (size_t i = 0; i < N(sigs); i++) {
		struct test_proc p;
		const char *const args[] = { "run", spin_obj, "--pcap", pcap3, "--insn-limit", "unlimited", "--no-verify", NULL };
		CHECK(signal_when(&p, 1, "trace: spinning", sigs[i], args));
		CHECK_EQ_U64(p.status, 128 + sigs[i]);
		/* the counts so far: the interrupted packet is not one of them */
		CHECK(strstr(p.out, "0 packets") != NULL);
		CHECK(strstr(p.err, sigs[i] == SIGINT ? "stopped by SIGINT after 0 packets" :
					       "stopped by SIGTERM after 0 packets") != NULL);
		if (p.status != 128 + sigs[i])
			printf("  signal %d: status %d, out: %s\n  err: %s\n", sigs[i], p.status, p.out, p.err);
	}
}

/* The same for a raw program: it prints with bpf_trace_printk (to stderr), then spins. */
TEST(sigint_stops_a_raw_run_without_budget)
{
	struct test_proc p;
	const char *spin = text_file("spin.s",
		"r1 = 0x676e696e6e697073 ll\n*(u64 *)(r10 - 16) = r1\n"   /* "spinning", NUL from the zeroed frame */
		"r1 = r10\nr1 += -16\nr2 = 9\ncall 6\n"
		"l: goto l\n");
	const char *const args[] = { "run", spin, "--insn-limit", "unlimited", NULL };
	CHECK(signal_when(&p, 2, "spinning", SIGINT, args));
	CHECK_EQ_U64(p.status, 128 + SIGINT);
	CHECK(strstr(p.err, "insn 7: run interrupted") != NULL);
	if (!strstr(p.err, "run interrupted"))
		printf("  status %d, err: %s\n", p.status, p.err);
	CHECK_EQ_STR(p.out, "");
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 2; i++) { /* <build>/tests/test_cli_limits -> <build>/bpfvm */
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", n > 0 ? self : argv[0]);
	if (access(cli, X_OK)) {
		printf("FAIL cli: %s not built\n", cli);
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/bpfvm-test-cli-limits-%d", (int)getpid());
	if (mkdir(dir, 0700)) {
		printf("FAIL cli: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char cmd[PATH_MAX + 1024];
	snprintf(spin_obj, sizeof(spin_obj), "%s/spin.bpf.o", dir);
	if (test_clang("tests/loader/spin.bpf.c", spin_obj, NULL) != 0)
		spin_obj[0] = '\0';
	snprintf(pcap3, sizeof(pcap3), "%s/three.pcap", dir);
	snprintf(cmd, sizeof(cmd), "%s gen-pcap %s --count 3 >/dev/null", cli, pcap3);
	if (system(cmd) != 0)
		printf("  cannot write %s\n", pcap3);
	RUN(raw_run_has_a_default_budget);
	RUN(insn_limit_values_are_validated);
	RUN(pcap_run_of_a_spinning_program_ends_by_budget);
	RUN(sigint_and_sigterm_stop_a_run_without_budget);
	RUN(sigint_stops_a_raw_run_without_budget);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", dir);
	return test_done();
}
