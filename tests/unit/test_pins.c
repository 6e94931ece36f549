/* test_pins.c -- the pin root and the files in it as an attack surface (security issue 8, items 4-6):
 * a root another user owns or may write is refused with a clear error, pin paths never follow a
 * symbolic link nor leave the root, another user's pinned map is refused unless allowed, a process
 * whose pinned map is truncated under it gets -EIO instead of dying of SIGBUS; map memory is
 * reserved at create (a full filesystem is an errno, not a SIGBUS) and capped per instance. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"
#include <linux/btf.h>
#include "maps/maps.h"
#include "sys.h"


static char base[128]; /* every directory of these tests lives under it */
static char cli[512];  /* the bpfvm binary beside this build's tests/ */

/* Runs a shell command line, its stdout and stderr into out; returns the exit status (-1: not exited). */
static int sh(char *out, size_t len, const char *cmdline)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s 2>&1", cmdline);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, len - 1, p);
	out[n] = 0;
	while (fread(cmd, 1, sizeof(cmd), p) > 0)
		;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct bpfvm *vm_cap(const char *root, bool allow_foreign, uint64_t mem_max)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .pin_root = root, .allow_foreign_pins = allow_foreign,
				.map_mem_max = mem_max };
	return bpfvm_new(&o);
}

static struct bpfvm *vm_at(const char *root, bool allow_foreign)
{
	return vm_cap(root, allow_foreign, 0);
}

/* A bare NAME is /sys/fs/bpf/NAME, i.e. NAME under the pin root (relative pin paths are refused). */
static long obj(struct bpfvm *vm, int cmd, int fd, const char *path)
{
	union bpf_attr a;
	char full[512];
	if (path[0] && path[0] != '/') {
		snprintf(full, sizeof(full), "/sys/fs/bpf/%s", path);
		path = full;
	}
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)fd;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}
#define PIN(vm, fd, path) obj(vm, BPF_OBJ_PIN, fd, path)
#define GET(vm, path) obj(vm, BPF_OBJ_GET, 0, path)

static void dir_path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", base, name);
}

static bool has(const struct bpfvm *vm, const char *s)
{
	if (strstr(bpfvm_errmsg(vm), s))
		return true;
	printf("  log: %s\n", bpfvm_errmsg(vm));
	return false;
}

TEST(root_owned_by_another_user_is_refused)
{
	if (geteuid() != 0)
		SKIP("needs root to chown a directory to another uid");
	char root[256], path[300];
	dir_path(root, sizeof(root), "foreign_root");
	CHECK(mkdir(root, 0700) == 0);
	CHECK(chown(root, 65534, 65534) == 0);
	struct bpfvm *vm = vm_at(root, false);
	/* maps still work: they live in memory, not in a directory someone else controls */
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "%s/m", root);
	CHECK(PIN(vm, fd, path) == -EPERM);
	CHECK(has(vm, root) && has(vm, "owned by uid 65534"));
	CHECK(access(path, F_OK) != 0);
	CHECK(GET(vm, path) == -EPERM);
	CHECK(has(vm, "owned by uid 65534"));
	/* the owner's map does not move into the root later either */
	CHECK(chown(root, 0, 0) == 0);
	CHECK(PIN(vm, fd, path) == -EXDEV);
	CHECK(has(vm, "not in the pin root"));
	int fd2 = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(PIN(vm, fd2, path) == 0);
	unlink(path);
	bpfvm_free(vm);
	rmdir(root);
}

TEST(root_writable_by_others_is_refused)
{
	char root[256], path[300];
	dir_path(root, sizeof(root), "open_root");
	CHECK(mkdir(root, 0700) == 0);
	snprintf(path, sizeof(path), "%s/m", root);
	struct bpfvm *vm = vm_at(root, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(fd >= 0);
	CHECK(chmod(root, 01777) == 0);
	CHECK(PIN(vm, fd, path) == -EPERM);
	CHECK(has(vm, root) && has(vm, "writable by others"));
	CHECK(chmod(root, 0770) == 0);
	CHECK(GET(vm, path) == -EPERM);
	CHECK(has(vm, "writable by its group"));
	CHECK(chmod(root, 0755) == 0); /* readable by others is fine */
	int fd2 = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(PIN(vm, fd2, path) == 0);
	CHECK(GET(vm, path) >= 0);
	unlink(path);
	bpfvm_free(vm);
	rmdir(root);
}

TEST(root_that_is_a_symlink_is_refused)
{
	char real[256], link[256];
	dir_path(real, sizeof(real), "real_root");
	dir_path(link, sizeof(link), "link_root");
	CHECK(mkdir(real, 0700) == 0);
	CHECK(symlink(real, link) == 0);
	struct bpfvm *vm = vm_at(link, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(PIN(vm, fd, "/sys/fs/bpf/m") == -ELOOP);
	CHECK(has(vm, "is a symbolic link"));
	bpfvm_free(vm);
	unlink(link);
	rmdir(real);
}

TEST(paths_never_follow_symlinks_nor_leave_the_root)
{
	char root[256], victim[256], p[512];
	dir_path(root, sizeof(root), "root");
	dir_path(victim, sizeof(victim), "victim");
	CHECK(mkdir(root, 0700) == 0);
	CHECK(mkdir(victim, 0700) == 0);
	snprintf(p, sizeof(p), "%s/link2", root);
	CHECK(symlink(victim, p) == 0);
	struct bpfvm *vm = vm_at(root, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(fd >= 0);

	/* a link component: the map does not land in the other directory */
	CHECK(PIN(vm, fd, "/sys/fs/bpf/link2/planted") == -ELOOP);
	CHECK(has(vm, "/root/link2/planted") && has(vm, "symbolic link"));
	snprintf(p, sizeof(p), "%s/planted", victim);
	CHECK(access(p, F_OK) != 0);
	snprintf(p, sizeof(p), "%s/link2/planted", root);
	CHECK(PIN(vm, fd, p) == -ELOOP);

	/* '..' anywhere, '.', empty components, a trailing '/' */
	static const char *const bad[] = { "../x", "/sys/fs/bpf/../x", "a/../../x", "..", "./x", "a//x", "d/", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(PIN(vm, fd, bad[i]) == -EINVAL);
		CHECK(GET(vm, bad[i]) == -EINVAL);
	}
	CHECK(has(vm, "pathname is empty"));
	CHECK(PIN(vm, fd, "a/../x") == -EINVAL && has(vm, "'..'"));

	/* a real subdirectory works */
	snprintf(p, sizeof(p), "%s/sub", root);
	CHECK(mkdir(p, 0700) == 0);
	CHECK(PIN(vm, fd, "sub/m") == 0);
	CHECK(GET(vm, "sub/m") >= 0);

	/* the last component: a link to a map is not opened, an existing link is never replaced */
	char target[512];
	snprintf(target, sizeof(target), "%s/sub/m", root);
	snprintf(p, sizeof(p), "%s/alias", root);
	CHECK(symlink(target, p) == 0);
	CHECK(GET(vm, "alias") == -ELOOP);
	CHECK(PIN(vm, fd, "alias") == -EEXIST);
	struct stat st;
	CHECK(lstat(p, &st) == 0 && S_ISLNK(st.st_mode));
	snprintf(p, sizeof(p), "%s/dangling", root);
	char vp[512];
	snprintf(vp, sizeof(vp), "%s/dangling_target", victim);
	CHECK(symlink(vp, p) == 0);
	CHECK(PIN(vm, fd, "dangling") == -EEXIST);
	CHECK(access(vp, F_OK) != 0);

	/* not a regular file: a FIFO neither blocks nor passes */
	snprintf(p, sizeof(p), "%s/fifo", root);
	CHECK(mkfifo(p, 0600) == 0);
	CHECK(GET(vm, "fifo") == -EINVAL && has(vm, "not a regular file"));
	unlink(p);

	bpfvm_free(vm);
	static const char *const names[] = { "sub/m", "alias", "dangling", "link2" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sub", root);
	rmdir(p);
	rmdir(root);
	rmdir(victim);
}

/* The walk used where openat2() is missing refuses what openat2 refuses. */
TEST(fallback_walk_matches_openat2)
{
	char root[256], p[512];
	dir_path(root, sizeof(root), "walk");
	CHECK(mkdir(root, 0700) == 0);
	snprintf(p, sizeof(p), "%s/d", root);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/d/f", root);
	int f = open(p, O_CREAT | O_WRONLY, 0600);
	CHECK(f >= 0);
	close(f);
	snprintf(p, sizeof(p), "%s/ld", root);
	CHECK(symlink("d", p) == 0);
	snprintf(p, sizeof(p), "%s/d/lf", root);
	CHECK(symlink("f", p) == 0);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY);
	CHECK(rootfd >= 0);
	for (int walk = 0; walk < 2; walk++) {
		int fd = pin_openat(rootfd, "d/f", O_RDONLY | O_CLOEXEC, 0, walk, NULL, "d/f");
		CHECK(fd >= 0);
		close(fd);
		CHECK(pin_openat(rootfd, "ld/f", O_RDONLY, 0, walk, NULL, "x") == -ELOOP);
		CHECK(pin_openat(rootfd, "d/lf", O_RDONLY, 0, walk, NULL, "x") == -ELOOP);
		CHECK(pin_openat(rootfd, "d/f/g", O_RDONLY, 0, walk, NULL, "x") == -ENOTDIR);
		CHECK(pin_openat(rootfd, "d/none", O_RDONLY, 0, walk, NULL, "x") == -ENOENT);
		fd = pin_openat(rootfd, "d", O_PATH | O_DIRECTORY, 0, walk, NULL, "d");
		CHECK(fd >= 0);
		close(fd);
	}
	close(rootfd);
	static const char *const names[] = { "d/lf", "d/f", "ld" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/d", root);
	rmdir(p);
	rmdir(root);
}

TEST(map_owned_by_another_user_needs_consent)
{
	if (geteuid() != 0)
		SKIP("needs root to chown a pinned map to another uid");
	char root[256], path[300];
	dir_path(root, sizeof(root), "owners");
	CHECK(mkdir(root, 0700) == 0);
	snprintf(path, sizeof(path), "%s/theirs", root);
	struct bpfvm *vm = vm_at(root, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(PIN(vm, fd, path) == 0);
	CHECK(GET(vm, path) >= 0);
	CHECK(chown(path, 65534, 65534) == 0);
	CHECK(GET(vm, path) == -EPERM);
	CHECK(has(vm, path) && has(vm, "owned by uid 65534") && has(vm, "allow_foreign_pins"));
	struct bpfvm *yes = vm_at(root, true);
	CHECK(GET(yes, path) >= 0);
	bpfvm_free(yes);
	/* the CLI: refused with the reason, then opened with --allow-foreign-pins */
	char cmd[1024], out[4096];
	snprintf(cmd, sizeof(cmd), "%s map show %s", cli, path);
	CHECK(sh(out, sizeof(out), cmd) == 1);
	CHECK(strstr(out, "owned by uid 65534") != NULL);
	snprintf(cmd, sizeof(cmd), "%s map --allow-foreign-pins show %s", cli, path);
	CHECK(sh(out, sizeof(out), cmd) == 0);
	CHECK(strstr(out, "array") != NULL);
	bpfvm_free(vm);
	unlink(path);
	rmdir(root);
}

/* Program pins (a directory: the program file and its maps) follow the same rules. */
TEST(program_pins_follow_the_same_rules)
{
	char root[256], victim[256], p[512];
	dir_path(root, sizeof(root), "progs");
	dir_path(victim, sizeof(victim), "progs_victim");
	CHECK(mkdir(root, 0700) == 0 && mkdir(victim, 0700) == 0);
	snprintf(p, sizeof(p), "%s/link2", root);
	CHECK(symlink(victim, p) == 0);
	struct bpfvm *vm = vm_at(root, false);
	int m = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	const struct bpf_insn prog[] = {
		INSN_ID(LDDW, 1, 1, 0, m), LDDW_HI(0), /* r1 = map: the pin holds it as map0 */
		INSN_ID(MOV64_K, 0, 0, 0, 7), INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int pfd = bpfvm_prog_load(vm, 0, prog, sizeof(prog) / sizeof(prog[0]), "pinned");
	CHECK(pfd >= 0);
	CHECK(PIN(vm, pfd, "link2/planted") == -ELOOP && has(vm, "symbolic link"));
	snprintf(p, sizeof(p), "%s/planted", victim);
	CHECK(access(p, F_OK) != 0);
	CHECK(PIN(vm, pfd, "../planted") == -EINVAL);
	CHECK(PIN(vm, pfd, "p") == 0);
	CHECK(PIN(vm, pfd, "p") == -EEXIST);
	int g = (int)GET(vm, "p");
	uint64_t r0 = 0;
	CHECK(g >= 0 && bpfvm_prog_run(vm, g, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 7);
	/* a link to the pin, and a link in place of its map */
	snprintf(p, sizeof(p), "%s/lp", root);
	CHECK(symlink("p", p) == 0);
	CHECK(GET(vm, "lp") == -ELOOP);
	if (geteuid() == 0) {
		/* another user's program file is refused as another user's map is */
		snprintf(p, sizeof(p), "%s/p/prog", root);
		CHECK(chown(p, 65534, 65534) == 0);
		CHECK(GET(vm, "p") == -EPERM && has(vm, "owned by uid 65534"));
		struct bpfvm *yes = vm_at(root, true);
		CHECK(GET(yes, "p") >= 0);
		bpfvm_free(yes);
		CHECK(chown(p, 0, 0) == 0);
	}
	char m0[512];
	snprintf(m0, sizeof(m0), "%s/p/map0", root);
	CHECK(unlink(m0) == 0 && symlink("/etc/passwd", m0) == 0);
	CHECK(GET(vm, "p") == -ELOOP && has(vm, "map0"));
	bpfvm_free(vm);
	static const char *const names[] = { "p/map0", "p/prog", "lp", "link2" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/p", root);
	rmdir(p);
	rmdir(root);
	rmdir(victim);
}

/* One process truncates a pinned map's file to 0 while another reads it in a loop through the library:
 * the reader gets -EIO and a message, not SIGBUS.  Pipes order the two; no sleeps. */
TEST(truncated_under_a_library_reader)
{
	char root[256], path[300];
	dir_path(root, sizeof(root), "trunc");
	CHECK(mkdir(root, 0700) == 0);
	snprintf(path, sizeof(path), "%s/arr", root);
	struct bpfvm *vm = vm_at(root, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4096, 0);
	CHECK(fd >= 0 && PIN(vm, fd, path) == 0);
	for (uint32_t k = 0; k < 4096; k++) {
		uint64_t v = k + 1;
		UPD(vm, fd, &k, &v, 0);
	}
	int ready[2], done[2];
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		struct bpfvm *r = vm_at(root, false);
		int rfd = (int)GET(r, path);
		if (rfd < 0)
			_exit(2);
		bool told = false, after = false;
		for (uint32_t i = 0;; i++) {
			uint32_t k = (i * 2654435761u) % 4096;
			uint64_t v = 0;
			long e = LKP(r, rfd, &k, &v);
			if (e) /* the answer wanted: -EIO, saying why */
				_exit(e == -EIO && strstr(bpfvm_errmsg(r), "truncated") ? 0 : 3);
			if (after)
				_exit(4); /* a lookup after the truncation succeeded */
			if (v != k + 1)
				_exit(5);
			if (!told) {
				told = write(ready[1], "r", 1) == 1;
				continue;
			}
			char c;
			/* non-blocking look: the next lookup is after the truncation once "t" came */
			struct timeval tv = { 0, 0 };
			fd_set set;
			FD_ZERO(&set);
			FD_SET(done[0], &set);
			if (select(done[0] + 1, &set, NULL, NULL, &tv) == 1 && read(done[0], &c, 1) == 1)
				after = true;
		}
	}
	close(ready[1]);
	close(done[0]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	CHECK(truncate(path, 0) == 0);
	/* the reader may have seen it already and be gone (SIGPIPE is ignored: EPIPE) */
	(void)!write(done[1], "t", 1);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		printf("  reader killed by signal %d\n", WTERMSIG(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* this process too: its next call finds the file short, and survives it */
	uint32_t k = 7;
	uint64_t v;
	CHECK(LKP(vm, fd, &k, &v) == -EIO && has(vm, "truncated"));
	/* and programs of this process that use the map run on, on zeros */
	const struct bpf_insn prog[] = {
		INSN_ID(MOV64_K, 1, 0, 0, 5), INSN_ID(STXW, 10, 1, -4, 0),   /* *(u32 *)(fp - 4) = 5 */
		INSN_ID(LDDW, 1, 1, 0, fd), LDDW_HI(0),       /* r1 = map */
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(CALL, 0, 0, 0, 1),                             /* lookup */
		INSN_ID(JEQ_K, 0, 0, 2, 0),                             /* if r0 == 0 goto out */
		INSN_ID(STDW, 0, 0, 0, 99),                            /* *(u64 *)r0 = 99 */
		INSN_ID(LDXDW, 0, 0, 0, 0),                             /* r0 = *(u64 *)r0 */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int pfd = bpfvm_prog_load(vm, 0, prog, sizeof(prog) / sizeof(prog[0]), "reader");
	uint64_t r0 = 0;
	CHECK(pfd >= 0 && bpfvm_prog_run(vm, pfd, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 99);
	close(ready[0]);
	close(done[1]);
	unlink(path);
	bpfvm_free(vm);
	rmdir(root);
}

/* The same with `bpfvm map event` reading a ring buffer: it prints the first record, then the file is
 * truncated while it waits for more; it exits with an error instead of dying of SIGBUS. */
TEST(truncated_under_map_event)
{
	char root[256], path[300], cmd[1024], line[512];
	dir_path(root, sizeof(root), "trunc_rb");
	CHECK(mkdir(root, 0700) == 0);
	snprintf(path, sizeof(path), "%s/rb", root);
	struct bpfvm *vm = vm_at(root, false);
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	CHECK(rb >= 0 && PIN(vm, rb, path) == 0);
	const struct bpf_insn prog[] = {
		INSN_ID(LDXDW, 3, 1, 0, 0), INSN_ID(STXDW, 10, 3, -8, 0),
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -8),
		INSN_ID(MOV64_K, 3, 0, 0, 8), INSN_ID(MOV64_K, 4, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 130), /* ringbuf_output */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int pfd = bpfvm_prog_load(vm, 0, prog, sizeof(prog) / sizeof(prog[0]), "rbout");
	CHECK(pfd >= 0);
	/* the timeout only bounds a regression (it would then exit 0 and fail the test, not hang it) */
	snprintf(cmd, sizeof(cmd), "%s map event %s timeout 60000 2>&1", cli, path);
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	uint64_t mem = 0x1122334455667788ull, r0;
	CHECK(bpfvm_prog_run(vm, pfd, BPFVM_ENGINE_INTERP, &mem, sizeof(mem), &r0) == 0 && r0 == 0);
	/* the reader printed it: it has the map open and consumes */
	CHECK(fgets(line, sizeof(line), f) && strstr(line, "88 77 66 55") != NULL);
	CHECK(truncate(path, 0) == 0);
	char out[4096];
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	int st = pclose(f);
	if (WIFSIGNALED(st))
		printf("  bpfvm map event killed by signal %d\n", WTERMSIG(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	CHECK(strstr(out, "truncated") != NULL);
	if (!strstr(out, "truncated"))
		printf("  output: %s\n", out);
	unlink(path);
	bpfvm_free(vm);
	rmdir(root);
}

/* Maps that cannot be pinned (the pin root is not usable) live in a memfd whose size is sealed. */
/* A BTF of two types: [1] u32, [2] struct val { u32 a; u32 b; }. */
#define MINI_STRS "\0u32\0val\0a\0b" /* names at 1, 5, 9, 11 */
struct mini_btf {
	struct btf_header h;
	struct btf_type t_u32;
	uint32_t u32_enc;
	struct btf_type t_val;
	struct btf_member m[2];
	char strs[16];
};

static void mini_btf(struct mini_btf *b)
{
	memset(b, 0, sizeof(*b));
	static const char strs[] = MINI_STRS;
	b->h = (struct btf_header){ .magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(b->h),
				    .type_off = 0, .type_len = (uint32_t)offsetof(struct mini_btf, strs) - sizeof(b->h),
				    .str_off = (uint32_t)offsetof(struct mini_btf, strs) - sizeof(b->h),
				    .str_len = sizeof(strs) };
	b->t_u32 = (struct btf_type){ .name_off = 1, .info = BTF_KIND_INT << 24, .size = 4 };
	b->u32_enc = 32; /* BTF_INT_ENC(0, 0, 32) */
	b->t_val = (struct btf_type){ .name_off = 5, .info = BTF_KIND_STRUCT << 24 | 2, .size = 8 };
	b->m[0] = (struct btf_member){ .name_off = 9, .type = 1, .offset = 0 };
	b->m[1] = (struct btf_member){ .name_off = 11, .type = 1, .offset = 32 };
	memcpy(b->strs, strs, sizeof(strs));
}

TEST(unpinnable_maps_are_sealed)
{
	char root[256];
	dir_path(root, sizeof(root), "sealed_root");
	CHECK(mkdir(root, 0777) == 0 && chmod(root, 0777) == 0); /* refused as a pin root */
	struct bpfvm *vm = vm_at(root, false);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
	CHECK(fd >= 0);
	int err = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_MAP, &err);
	CHECK(o != NULL);
	if (o) {
		int seals = fcntl(o->map->fd, F_GET_SEALS);
		CHECK(seals >= 0 && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW) && (seals & F_SEAL_SEAL));
		CHECK(ftruncate(o->map->fd, 0) != 0 && errno == EPERM);
		sys_put(vm, o);
	}
	/* nor can it grow a BTF trailer: nobody else could read it anyway */
	struct mini_btf b;
	mini_btf(&b);
	CHECK(bpfvm_map_set_btf(vm, fd, &b, offsetof(struct mini_btf, strs) + sizeof(MINI_STRS), 1, 2) == -EPERM &&
	      has(vm, "cannot be pinned"));
	/* the sealed size does not keep the LPM trie from reserving its chunks (inside the size) */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_LPM_TRIE;
	a.key_size = 8;
	a.value_size = 4096; /* 254 nodes a chunk */
	a.max_entries = 4096;
	a.map_flags = BPF_F_NO_PREALLOC;
	int t = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(t >= 0);
	static uint8_t val[4096];
	long bad = 0;
	for (uint32_t n = 0; n < 4096; n++) {
		uint8_t key[8];
		uint32_t plen = 32, addr = __builtin_bswap32(n);
		memcpy(key, &plen, 4);
		memcpy(key + 4, &addr, 4);
		memcpy(val, &n, 4);
		bad += UPD(vm, t, key, val, 0) != 0;
	}
	CHECK(bad == 0);
	bpfvm_free(vm);
	rmdir(root);
}

/* A map's BTF goes with its file (map_set_btf()): another instance that opens the pin formats its keys
 * and values by type; it is set once; malformed BTF or ids are refused; a map without one, or with a
 * trailer someone cut short, reads as "no BTF" and still opens. */
TEST(map_btf_goes_with_the_pin)
{
	char root[256], text[128], pinned[300], cmd[1024], out[4096];
	struct mini_btf b;
	mini_btf(&b);
	size_t blen = offsetof(struct mini_btf, strs) + sizeof(MINI_STRS);
	dir_path(root, sizeof(root), "btf_root");
	struct bpfvm *vm = vm_at(root, false), *other = vm_at(root, false);
	CHECK(vm && other);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0), bare = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	CHECK(fd >= 0 && bare >= 0);
	/* refused: not BTF, ids that are not its types; nothing is kept then */
	uint8_t junk[64] = { 1, 2, 3 };
	CHECK(bpfvm_map_set_btf(vm, fd, junk, sizeof(junk), 1, 2) == -EINVAL && has(vm, "map BTF: section .BTF: bad magic"));
	CHECK(bpfvm_map_set_btf(vm, fd, &b, blen, 1, 3) == -EINVAL &&
	      has(vm, "map BTF: value type id 3 is not a type of the BTF (2 types)"));
	CHECK(bpfvm_map_set_btf(vm, fd, &b, blen, 1, 2) == 0);
	CHECK(bpfvm_map_set_btf(vm, fd, &b, blen, 1, 2) == -EEXIST && has(vm, "has BTF already"));
	uint32_t k = 7, v[2] = { 3, 4 };
	CHECK(UPD(vm, fd, &k, v, 0) == 0);
	CHECK(PIN(vm, fd, "typed") == 0 && PIN(vm, bare, "bare") == 0);

	/* another instance: the pin carries the types */
	int g = (int)GET(other, "typed");
	CHECK(g >= 0);
	struct bpfvm_object *bt = NULL;
	uint32_t kt = 0, vt = 0;
	CHECK(bpfvm_map_btf(other, g, &bt, &kt, &vt) == 0 && kt == 1 && vt == 2);
	if (bt) {
		CHECK(bpfvm_object_btf_format(bt, kt, &k, 4, 0, text, sizeof(text)) == 1 && !strcmp(text, "7"));
		CHECK(bpfvm_object_btf_format(bt, vt, v, 8, 0, text, sizeof(text)) > 0 && !strcmp(text, "{a: 3, b: 4}"));
		CHECK(bpfvm_object_btf_format(bt, vt, v, 8, BPFVM_FMT_JSON, text, sizeof(text)) > 0 &&
		      !strcmp(text, "{\"a\":3,\"b\":4}"));
		bpfvm_object_close(bt);
	}
	struct bpf_map_info info;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(&info, 0, sizeof(info));
	a.info.bpf_fd = (uint32_t)g;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK(bpfvm_bpf(other, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0 && info.btf_key_type_id == 1 &&
	      info.btf_value_type_id == 2);
	/* and so does the CLI, in a third process */
	snprintf(pinned, sizeof(pinned), "%s/typed", root);
	snprintf(cmd, sizeof(cmd), "%s map dump %s", cli, pinned);
	CHECK(sh(out, sizeof(out), cmd) == 0 && strstr(out, "key: 7  value: {a: 3, b: 4}\n"));
	snprintf(cmd, sizeof(cmd), "%s map -j dump %s", cli, pinned);
	CHECK(sh(out, sizeof(out), cmd) == 0 && !strcmp(out, "[{\"key\":7,\"value\":{\"a\":3,\"b\":4}}]\n"));

	/* no BTF: -ENOENT, and the dump is hex */
	int gb = (int)GET(other, "bare");
	bt = NULL;
	CHECK(gb >= 0 && bpfvm_map_btf(other, gb, &bt, NULL, NULL) == -ENOENT && !bt && has(other, "has no BTF"));
	CHECK(UPD(vm, bare, &k, v, 0) == 0);
	snprintf(cmd, sizeof(cmd), "%s map dump %s/bare", cli, root);
	CHECK(sh(out, sizeof(out), cmd) == 0 && strstr(out, "key: 07 00 00 00  value: 03 00 00 00 04 00 00 00\n"));

	/* a trailer cut short by whoever can write the file: not BTF, and the map still opens */
	struct stat st;
	CHECK(stat(pinned, &st) == 0 && truncate(pinned, st.st_size - 1) == 0);
	int g2 = (int)GET(other, "typed");
	bt = NULL;
	CHECK(g2 >= 0 && bpfvm_map_btf(other, g2, &bt, NULL, NULL) == -EINVAL && !bt &&
	      has(other, "the trailer of its file is corrupt"));
	snprintf(cmd, sizeof(cmd), "%s map dump %s", cli, pinned);
	CHECK(sh(out, sizeof(out), cmd) == 0 && strstr(out, "key: 07 00 00 00  value: 03 00 00 00 04 00 00 00\n"));
	bpfvm_free(other);
	bpfvm_free(vm);
	unlink(pinned);
	snprintf(pinned, sizeof(pinned), "%s/bare", root);
	unlink(pinned);
	rmdir(root);
}

/* bpfvm_opts.map_mem_max: maps are charged at their full size when created or opened, refunded when
 * their last handle goes; past the cap MAP_CREATE and OBJ_GET fail with -ENOMEM and say why. */
TEST(instance_map_memory_cap)
{
	char root[256], path[300];
	dir_path(root, sizeof(root), "cap");
	CHECK(mkdir(root, 0700) == 0);
	struct bpfvm *vm = vm_cap(root, false, 1u << 20);
	int a = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 1024, 400, 0); /* ~400 KiB */
	int b = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 1024, 400, 0);
	CHECK(a >= 0 && b >= 0);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 1024, 400, 0) == -ENOMEM);
	CHECK(has(vm, "limit of 1048576") && has(vm, "map_mem_max"));
	CHECK(mk(vm, BPF_MAP_TYPE_HASH, 4, 4096, 1024, 0) == -ENOMEM); /* alone over the cap */
	CHECK(bpfvm_close(vm, b) == 0);
	int c = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 1024, 400, 0); /* b's share came back */
	CHECK(c >= 0);
	snprintf(path, sizeof(path), "%s/big", root);
	CHECK(PIN(vm, c, path) == 0);
	/* opening counts too */
	struct bpfvm *r = vm_cap(root, false, 1u << 20);
	int g1 = (int)GET(r, path), g2 = (int)GET(r, path);
	CHECK(g1 >= 0 && g2 >= 0);
	CHECK(GET(r, path) == -ENOMEM && has(r, "OBJ_GET"));
	bpfvm_free(r);
	/* the default cap is 1 GiB: a map of 2 GiB is refused before any memory is taken */
	struct bpfvm *d = vm_at(root, false);
	CHECK(mk(d, BPF_MAP_TYPE_ARRAY, 4, 1u << 20, 2048, 0) == -ENOMEM && has(d, "limit of 1073741824"));
	CHECK(mk(d, BPF_MAP_TYPE_ARRAY, 4, 1u << 20, 16, 0) >= 0);
	bpfvm_free(d);
	/* the CLI's --map-mem-max */
	char cmd[1024], out[4096];
	snprintf(cmd, sizeof(cmd), "%s map --map-mem-max 64K create %s/cli type array key 4 value 1024 entries 128", cli,
		 root);
	CHECK(sh(out, sizeof(out), cmd) == 1 && strstr(out, "limit of 65536") != NULL);
	snprintf(cmd, sizeof(cmd), "%s map --map-mem-max 1M create %s/cli type array key 4 value 1024 entries 128", cli,
		 root);
	CHECK(sh(out, sizeof(out), cmd) == 0);
	snprintf(cmd, sizeof(cmd), "%s map --map-mem-max 12Q show %s/cli", cli, root);
	CHECK(sh(out, sizeof(out), cmd) == 2 && strstr(out, "not a byte count") != NULL);
	snprintf(path, sizeof(path), "%s/cli", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/big", root);
	unlink(path);
	bpfvm_free(vm);
	rmdir(root);
}

/* A 16 MiB tmpfs as the pin root: a map larger than it fails at create (it used to be created sparse and
 * die of SIGBUS when filled), one that fits fills completely, and the LPM trie, which reserves as it
 * grows, fails an update with -ENOMEM once the filesystem is full. */
TEST(full_filesystem_is_an_errno_not_sigbus)
{
	char root[256];
	dir_path(root, sizeof(root), "small");
	CHECK(mkdir(root, 0700) == 0);
	if (mount("tmpfs", root, "tmpfs", 0, "size=16m,mode=0700")) {
		static char why[128];
		snprintf(why, sizeof(why), "cannot mount a small tmpfs: %s", strerror(errno));
		rmdir(root);
		SKIP(why);
	}
	struct bpfvm *vm = vm_at(root, false);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4096, 16384, 0) == -ENOSPC); /* 64 MiB */
	CHECK(has(vm, "cannot reserve") && has(vm, root) && has(vm, "No space left"));
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4096, 2048, 0); /* 8 MiB: fits */
	CHECK(fd >= 0);
	static uint8_t v[4096];
	long bad = 0;
	for (uint32_t k = 0; k < 2048; k++) {
		memset(v, (int)k, sizeof(v));
		bad += UPD(vm, fd, &k, v, 0) != 0;
	}
	CHECK(bad == 0);
	CHECK(mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4096, 2048, 0) == -ENOSPC); /* a second 8 MiB does not */

	/* 1M-entry trie: 40 MiB when full, created at once, grows until the filesystem is full */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_LPM_TRIE;
	a.key_size = 8;
	a.value_size = 8;
	a.max_entries = 1u << 20;
	a.map_flags = BPF_F_NO_PREALLOC;
	int t = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(t >= 0);
	uint32_t n = 0;
	long r = 0;
	for (; n < (1u << 20); n++) {
		uint8_t key[8];
		uint32_t plen = 32, addr = __builtin_bswap32(n);
		uint64_t val = n;
		memcpy(key, &plen, 4);
		memcpy(key + 4, &addr, 4);
		if ((r = UPD(vm, t, key, &val, 0)))
			break;
	}
	CHECK(r == -ENOMEM);
	CHECK(n > 1000 && n < (1u << 20));
	printf("  lpm: %u prefixes in before -ENOMEM\n", n);
	/* what went in is still there */
	uint8_t key[8];
	uint32_t plen = 32, addr = __builtin_bswap32(n / 2);
	uint64_t got = 0;
	memcpy(key, &plen, 4);
	memcpy(key + 4, &addr, 4);
	CHECK(LKP(vm, t, key, &got) == 0 && got == n / 2);
	bpfvm_free(vm);
	CHECK(umount(root) == 0);
	rmdir(root);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.400s/bpfvm", n > 0 ? self : argv[0]);
	snprintf(base, sizeof(base), "/tmp/bpfvm-test-pins-%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	if (mkdir(base, 0700)) {
		printf("FAIL setup: mkdir %s: %s\n", base, strerror(errno));
		return 1;
	}
	RUN(root_owned_by_another_user_is_refused);
	RUN(root_writable_by_others_is_refused);
	RUN(root_that_is_a_symlink_is_refused);
	RUN(paths_never_follow_symlinks_nor_leave_the_root);
	RUN(fallback_walk_matches_openat2);
	RUN(map_owned_by_another_user_needs_consent);
	RUN(program_pins_follow_the_same_rules);
	RUN(truncated_under_a_library_reader);
	RUN(truncated_under_map_event);
	RUN(unpinnable_maps_are_sealed);
	RUN(map_btf_goes_with_the_pin);
	RUN(instance_map_memory_cap);
	RUN(full_filesystem_is_an_errno_not_sigbus);
	rmdir(base);
	return test_done();
}
