/* test_install.c -- `make install` into a temporary DESTDIR, then used as an embedder would: the files
 * and links are where PREFIX says, the shared library has its SONAME and exports the public API only,
 * pkg-config finds bpfvm.pc (PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR into the DESTDIR), and
 * examples/embed.c built with `cc embed.c $(pkg-config --cflags --libs bpfvm)` links the installed
 * libbpfvm.so.0 and runs the firewall example; the man pages render without a warning; uninstall removes
 * what install put.  Runs from the repository root (as tests/run_all.sh does) and installs the build
 * this binary sits in. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"

static char build[PATH_MAX], dest[128], prefix[PATH_MAX + 128];

/* Runs argv (PATH search) with stdout+stderr into out; returns the exit status, -1 if it did not exit. */
static int run(char *out, size_t cap, const char *const *argv)
{
	int pfd[2];
	size_t n = 0;

	out[0] = '\0';
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t r = read(pfd[0], tmp, sizeof(tmp));
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && n + 1 < cap; i++)
			out[n++] = tmp[i];
	}
	out[n] = '\0';
	close(pfd[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN_OK(out, ...) do { \
		int st_ = run((out), sizeof(out), (const char *const[]){ __VA_ARGS__, NULL }); \
		if (st_ != 0) \
			printf("  exit status %d of:%s\n%s\n", st_, #__VA_ARGS__, (out)); \
		CHECK(st_ == 0); \
	} while (0)

static const char *in_dest(const char *rel)
{
	static char paths[8][PATH_MAX + 256];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", prefix, rel);
	return p;
}

static bool is_file(const char *rel, mode_t type)
{
	struct stat st;
	if (lstat(in_dest(rel), &st)) {
		printf("  %s: %s\n", in_dest(rel), strerror(errno));
		return false;
	}
	if ((st.st_mode & S_IFMT) != type)
		printf("  %s: wrong file type\n", in_dest(rel));
	return (st.st_mode & S_IFMT) == type;
}

static const char *const man1[] = { "bpfvm.1", "bpfvm-run.1", "bpfvm-map.1", "bpfvm-asm.1", "bpfvm-disasm.1",
				    "bpfvm-cc.1", "bpfvm-gen-pcap.1", "bpfvm-conformance-plugin.1",
				    "bpfvm-filter.1", "bpfvm-seccomp.1", "bpfvm-prog.1" };

TEST(install_puts_files_where_prefix_says)
{
	char out[16384];
	char dest_arg[256], build_arg[PATH_MAX + 16];

	snprintf(dest_arg, sizeof(dest_arg), "DESTDIR=%s", dest);
	snprintf(build_arg, sizeof(build_arg), "BUILD=%s", build);
	RUN_OK(out, "make", "-s", "--no-print-directory", "install", "PREFIX=/usr/local", dest_arg, build_arg);
	CHECK(is_file("bin/bpfvm", S_IFREG));
	CHECK(access(in_dest("bin/bpfvm"), X_OK) == 0);
	CHECK(is_file("include/bpfvm.h", S_IFREG));
	CHECK(is_file("lib/libbpfvm.a", S_IFREG));
	CHECK(is_file("lib/libbpfvm.so." BPFVM_VERSION, S_IFREG));
	CHECK(is_file("lib/libbpfvm.so.0", S_IFLNK));
	CHECK(is_file("lib/libbpfvm.so", S_IFLNK));
	char link[256];
	ssize_t n = readlink(in_dest("lib/libbpfvm.so.0"), link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(link, "libbpfvm.so." BPFVM_VERSION);
	n = readlink(in_dest("lib/libbpfvm.so"), link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	CHECK_EQ_STR(link, "libbpfvm.so." BPFVM_VERSION);
	CHECK(is_file("lib/pkgconfig/bpfvm.pc", S_IFREG));
	CHECK(is_file("share/doc/bpfvm/LICENSE", S_IFREG));
	CHECK(is_file("share/man/man3/libbpfvm.3", S_IFREG));
	for (size_t i = 0; i < sizeof(man1) / sizeof(man1[0]); i++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "share/man/man1/%s", man1[i]);
		CHECK(is_file(rel, S_IFREG));
	}
	RUN_OK(out, in_dest("bin/bpfvm"), "--version");
	CHECK_EQ_STR(out, "bpfvm " BPFVM_VERSION "\n");
}

TEST(shared_library_has_soname_and_public_symbols_only)
{
	char out[65536];

	RUN_OK(out, "readelf", "-d", in_dest("lib/libbpfvm.so." BPFVM_VERSION));
	CHECK(strstr(out, "Library soname: [libbpfvm.so.0]") != NULL);
	RUN_OK(out, "nm", "-D", "--defined-only", in_dest("lib/libbpfvm.so." BPFVM_VERSION));
	int pub = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		char *name = strrchr(line, ' ');
		name = name ? name + 1 : line;
		name[strcspn(name, "@")] = '\0'; /* "bpfvm_bpf@@BPFVM_0" */
		if (!strcmp(name, "BPFVM_0")) /* the version node */
			continue;
		if (strncmp(name, "bpfvm_", 6)) {
			printf("  exported: %s\n", name);
			CHECK(!"a symbol outside the public API is exported");
		}
		pub += !strcmp(name, "bpfvm_map_lookup") || !strcmp(name, "bpfvm_bpf") || !strcmp(name, "bpfvm_version");
	}
	CHECK_EQ_U64(pub, 3);
}

TEST(pkg_config_builds_and_runs_an_embedder)
{
	char out[16384], pcdir[PATH_MAX + 256], exe[256], obj[PATH_MAX + 64];

	snprintf(pcdir, sizeof(pcdir), "%s", in_dest("lib/pkgconfig"));
	setenv("PKG_CONFIG_PATH", pcdir, 1);
	setenv("PKG_CONFIG_SYSROOT_DIR", dest, 1);
	unsetenv("PKG_CONFIG_LIBDIR");
	RUN_OK(out, "pkg-config", "--modversion", "bpfvm");
	CHECK_EQ_STR(out, BPFVM_VERSION "\n");
	RUN_OK(out, "pkg-config", "--cflags", "--libs", "bpfvm");
	char want[PATH_MAX + 256];
	snprintf(want, sizeof(want), "-I%s ", in_dest("include"));
	CHECK(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "-L%s -lbpfvm", in_dest("lib"));
	CHECK(strstr(out, want) != NULL);

	/* exactly what a user types */
	snprintf(exe, sizeof(exe), "%s/embed", dest);
	RUN_OK(out, "sh", "-c", "cc -Wall -Werror examples/embed.c $(pkg-config --cflags --libs bpfvm) -o \"$1\"", "sh",
	       exe);
	RUN_OK(out, "readelf", "-d", exe);
	CHECK(strstr(out, "Shared library: [libbpfvm.so.0]") != NULL);
	setenv("LD_LIBRARY_PATH", in_dest("lib"), 1);
	snprintf(obj, sizeof(obj), "%s/examples/xdp_firewall.bpf.o", build);
	RUN_OK(out, exe, obj);
	unsetenv("LD_LIBRARY_PATH");
	CHECK(strstr(out, "bpfvm " BPFVM_VERSION "\n") != NULL);
	CHECK(strstr(out, "blocked: verdict 1 ") != NULL);
	CHECK(strstr(out, "unblocked: verdict 2 ") != NULL);
}

TEST(man_pages_render_without_warnings)
{
	char out[16384];

	if (access("/usr/bin/groff", X_OK))
		SKIP("groff is not installed");
	for (size_t i = 0; i < sizeof(man1) / sizeof(man1[0]) + 1; i++) {
		char rel[128];
		if (i < sizeof(man1) / sizeof(man1[0]))
			snprintf(rel, sizeof(rel), "share/man/man1/%s", man1[i]);
		else
			snprintf(rel, sizeof(rel), "share/man/man3/libbpfvm.3");
		RUN_OK(out, "groff", "-man", "-Tutf8", "-ww", "-z", in_dest(rel));
		if (out[0])
			printf("  %s: %s", rel, out);
		CHECK(out[0] == '\0');
	}
}

/* Every command `bpfvm --help` lists has its page. */
TEST(every_command_has_a_man_page)
{
	char out[8192];

	RUN_OK(out, in_dest("bin/bpfvm"), "--help");
	char *cmds = strstr(out, "commands:\n");
	CHECK(cmds != NULL);
	if (!cmds)
		return;
	int seen = 0;
	for (char *line = strtok(cmds + 10, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64], rel[128];
		if (sscanf(line, " %63s", name) != 1)
			continue;
		snprintf(rel, sizeof(rel), "share/man/man1/bpfvm-%s.1", name);
		if (access(in_dest(rel), R_OK))
			printf("  no man page for '%s' (%s)\n", name, rel);
		CHECK(access(in_dest(rel), R_OK) == 0);
		seen++;
	}
	CHECK(seen >= 6);
}

TEST(uninstall_removes_what_install_put)
{
	char out[16384], dest_arg[256], build_arg[PATH_MAX + 16], find_out[16384];

	snprintf(dest_arg, sizeof(dest_arg), "DESTDIR=%s", dest);
	snprintf(build_arg, sizeof(build_arg), "BUILD=%s", build);
	RUN_OK(out, "make", "-s", "--no-print-directory", "uninstall", "PREFIX=/usr/local", dest_arg, build_arg);
	RUN_OK(find_out, "find", prefix, "!", "-type", "d");
	CHECK_EQ_STR(find_out, "");
}

int main(void)
{
	char self[PATH_MAX], cwd[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[n > 0 ? n : 0] = '\0';
	/* <root>/<build>/tests/test_install: the build directory relative to the root (the cwd) */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	if (!getcwd(cwd, sizeof(cwd)) || strncmp(self, cwd, strlen(cwd)) || self[strlen(cwd)] != '/' ||
	    access("Makefile", R_OK)) {
		printf("FAIL install: run from the repository root (the build is %s)\n", self);
		return 1;
	}
	snprintf(build, sizeof(build), "%s", self + strlen(cwd) + 1);
	/* the child make is a new top-level make, not part of the one running the tests */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	snprintf(dest, sizeof(dest), "/tmp/bpfvm-test-install-%d", (int)getpid());
	snprintf(prefix, sizeof(prefix), "%s/usr/local", dest);
	if (mkdir(dest, 0700)) {
		printf("FAIL install: mkdir %s: %s\n", dest, strerror(errno));
		return 1;
	}
	RUN(install_puts_files_where_prefix_says);
	RUN(shared_library_has_soname_and_public_symbols_only);
	RUN(pkg_config_builds_and_runs_an_embedder);
	RUN(man_pages_render_without_warnings);
	RUN(every_command_has_a_man_page);
	RUN(uninstall_removes_what_install_put);
	char out[256];
	run(out, sizeof(out), (const char *const[]){ "rm", "-rf", dest, NULL });
	return test_done();
}
