/* test_prog_pin.c -- pinned programs (issue 9): this process loads a program, pins it and its map; a
 * second process (the bpfvm CLI, `bpfvm prog run PIN`) opens the pinned program and runs it; the map
 * updates it makes are seen here, and ours there.  Also an object's program pinned as `bpftool prog load`
 * leaves one (its .bss and .rodata maps travel with it), and the pin as untrusted input: every damaged
 * or forged program file is refused with a reason, never run and never a crash. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char cli[PATH_MAX], root[64];

/* Runs argv (argv[0] a path or a name on PATH); its exit status, -1 when it did not run or exit. */
static int run(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (out_path)
		posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	pid_t pid;
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return -1;
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct bpfvm *new_vm(void)
{
	return test_vm(2, root);
}

/* A bare NAME is /sys/fs/bpf/NAME, i.e. NAME under the instance's pin root (relative pin paths are
 * refused). */
static long obj(struct bpfvm *vm, int cmd, const char *path, int fd, uint32_t flags)
{
	union bpf_attr a;
	char full[256];
	if (path[0] != '/') {
		snprintf(full, sizeof(full), "/sys/fs/bpf/%s", path);
		path = full;
	}
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = fd < 0 ? 0 : (uint32_t)fd;
	a.file_flags = flags;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

/* XDP: counts[0] += 1 (atomically), returns XDP_PASS. */
static int load_counter(struct bpfvm *vm, int map_fd)
{
	const struct bpf_insn p[] = {
		INSN_ID(STW, 10, 0, -4, 0),                        /* *(u32 *)(r10 - 4) = 0 */
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -4), /* r2 = r10 - 4 */
		INSN_ID(LDDW, 1, 1, 0, map_fd), LDDW_HI(0), /* r1 = map ll */
		INSN_ID(CALL, 0, 0, 0, 1),                          /* call bpf_map_lookup_elem */
		INSN_ID(JEQ_K, 0, 0, 2, 0),                          /* if r0 == 0 goto +2 */
		INSN_ID(MOV64_K, 1, 0, 0, 1),                          /* r1 = 1 */
		INSN_ID(AADD64, 0, 1, 0, 0),                          /* lock *(u64 *)(r0 + 0) += r1 */
		INSN_ID(MOV64_K, 0, 0, 0, 2),                          /* r0 = XDP_PASS */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	return bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, p, N(p), "counter");
}

static uint64_t count_of(struct bpfvm *vm, int map_fd)
{
	uint32_t k = 0;
	uint64_t v = UINT64_MAX;
	return bpfvm_map_lookup(vm, map_fd, &k, &v) ? UINT64_MAX : v;
}

static int cli_prog_run(const char *pin, const char *repeat)
{
	char out[128];
	snprintf(out, sizeof(out), "%s.out", root);
	char *argv[] = { cli, "prog", "run", (char *)pin, "--repeat", (char *)repeat, NULL };
	int st = run(argv, out);
	const char *text = slurp(out);
	unlink(out);
	if (st != 0 || strcmp(text, "0x2\n"))
		printf("  `bpfvm prog run %s`: status %d, printed '%s'\n", pin, st, text);
	return st == 0 && !strcmp(text, "0x2\n") ? 0 : -1;
}

TEST(pinned_program_runs_in_another_process)
{
	struct bpfvm *vm = new_vm();
	int m = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	CHECK(m >= 0);
	int p = load_counter(vm, m);
	CHECK(p >= 0);
	if (m < 0 || p < 0) {
		printf("  %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	char pin[128];
	snprintf(pin, sizeof(pin), "%s/counter", root);
	CHECK(obj(vm, BPF_OBJ_PIN, "counter", p, 0) == 0);
	CHECK(obj(vm, BPF_OBJ_PIN, "counts", m, 0) == 0);
	/* another process runs the pinned program three times: this process sees the map change */
	CHECK(cli_prog_run(pin, "3") == 0);
	CHECK_EQ_U64(count_of(vm, m), 3);
	/* and what this process writes, that process's runs start from */
	uint32_t k = 0;
	uint64_t v = 100;
	CHECK(bpfvm_map_update(vm, m, &k, &v, BPF_ANY) == 0);
	CHECK(cli_prog_run(pin, "1") == 0);
	CHECK_EQ_U64(count_of(vm, m), 101);
	/* each CLI command takes its own kind of pin, and names the other */
	char mpin[128];
	snprintf(mpin, sizeof(mpin), "%s/counts", root);
	char *map_on_prog[] = { cli, "map", "show", pin, NULL }, *prog_on_map[] = { cli, "prog", "show", mpin, NULL };
	CHECK(run(map_on_prog, NULL) == 1);
	CHECK(run(prog_on_map, NULL) == 1);
	/* the map's own pin is the same map */
	int m2 = (int)obj(vm, BPF_OBJ_GET, "counts", -1, 0);
	CHECK(m2 >= 0 && count_of(vm, m2) == 101);
	/* opened in this process too: a second program on the same map */
	int p2 = (int)obj(vm, BPF_OBJ_GET, "counter", -1, 0);
	CHECK(p2 >= 0 && p2 != p);
	uint8_t pkt[64] = { 0 };
	struct bpfvm_test_run_opts o = { .sz = sizeof(o), .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 2 };
	CHECK(bpfvm_prog_test_run(vm, p2, &o) == 0 && o.retval == 2);
	CHECK_EQ_U64(count_of(vm, m), 103);
	/* the program's info survives the trip */
	struct bpf_prog_info info;
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)p2;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
	CHECK(info.type == BPF_PROG_TYPE_XDP && !strcmp(info.name, "counter") && info.nr_map_ids == 1 && info.gpl_compatible);
	/* Linux's answers (test_kernel_maps checks them on the kernel): BPF_F_RDONLY does not matter for a
	 * program; a pin path is taken once */
	long ro = obj(vm, BPF_OBJ_GET, "counter", -1, BPF_F_RDONLY);
	CHECK(ro >= 0);
	bpfvm_close(vm, (int)ro);
	CHECK(obj(vm, BPF_OBJ_PIN, "counter", p, 0) == -EEXIST);
	CHECK(obj(vm, BPF_OBJ_GET, "nothing_here", -1, 0) == -ENOENT);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/counter %s/counts", root, root);
	CHECK(system(cmd) == 0);
	bpfvm_free(vm);
}

/* A program whose prog array names programs of this process only cannot be pinned. */
TEST(prog_array_users_are_not_pinned)
{
	struct bpfvm *vm = new_vm();
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	const struct bpf_insn p[] = {
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0), INSN_ID(MOV64_K, 3, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 12), INSN_ID(MOV64_K, 0, 0, 0, 2), INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, p, N(p), "tail");
	CHECK(pa >= 0 && fd >= 0);
	CHECK(obj(vm, BPF_OBJ_PIN, "tail", fd, 0) == -EOPNOTSUPP);
	CHECK(strstr(bpfvm_errmsg(vm), "prog array or map of maps") != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/tail", root);
	CHECK(access(path, F_OK) != 0); /* nothing left behind */
	bpfvm_free(vm);
}

/* `bpfvm prog load x.o PIN` in one process (as bpftool), `bpfvm prog run PIN` in others; this process
 * opens the pinned maps (the hash map, .bss and .rodata travel inside the pin) and sees the runs. */
TEST(object_program_pinned_like_bpftool)
{
	static const char src[] =
		"#include <linux/bpf.h>\n"
		"#include <bpf/bpf_helpers.h>\n"
		"struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32);\n"
		"\t__type(value, __u64); } hits SEC(\".maps\");\n"
		"__u64 total = 0;\n"
		"const volatile __u32 step = 3;\n"
		"SEC(\"xdp\") int count(struct xdp_md *ctx)\n"
		"{\n"
		"\t__u32 k = 7;\n"
		"\t__u64 one = 1, *v = bpf_map_lookup_elem(&hits, &k);\n"
		"\tif (v)\n\t\t__sync_fetch_and_add(v, 1);\n"
		"\telse\n\t\tbpf_map_update_elem(&hits, &k, &one, BPF_NOEXIST);\n"
		"\ttotal += step;\n"
		"\treturn XDP_PASS;\n"
		"}\n"
		"char LICENSE[] SEC(\"license\") = \"GPL\";\n";
	char c_path[128], o_path[128], pin[128], inc[64];
	snprintf(c_path, sizeof(c_path), "%s/count.bpf.c", root);
	snprintf(o_path, sizeof(o_path), "%s/count.bpf.o", root);
	snprintf(pin, sizeof(pin), "%s/count", root);
	FILE *f = fopen(c_path, "w");
	CHECK(f && fputs(src, f) >= 0);
	if (f)
		fclose(f);
	FILE *m = popen("uname -m", "r");
	char arch[32] = "";
	if (m) {
		if (!fgets(arch, sizeof(arch), m))
			arch[0] = '\0';
		pclose(m);
	}
	arch[strcspn(arch, "\n")] = '\0';
	snprintf(inc, sizeof(inc), "-I/usr/include/%s-linux-gnu", arch);
	char *cc[] = { "clang", "-O2", "-g", "-target", "bpf", "-mcpu=v3", inc, "-c", c_path, "-o", o_path, NULL };
	if (run(cc, NULL) != 0) {
		unlink(c_path);
		SKIP("clang (with libbpf's headers) cannot build the BPF object");
	}
	char *load[] = { cli, "prog", "load", o_path, pin, NULL };
	CHECK(run(load, NULL) == 0);
	/* --no-verify belongs to load only (the verifier runs at load) */
	char pin2[160];
	snprintf(pin2, sizeof(pin2), "%s/count2", root);
	char *load_nv[] = { cli, "prog", "load", o_path, pin2, "--no-verify", NULL };
	CHECK(run(load_nv, NULL) == 0);
	char *run_nv[] = { cli, "prog", "run", pin, "--no-verify", NULL };
	CHECK(run(run_nv, NULL) == 2);
	CHECK(cli_prog_run(pin, "2") == 0);
	CHECK(cli_prog_run(pin, "3") == 0);
	/* this process: the pin's maps, found by name through their info */
	struct bpfvm *vm = new_vm();
	uint64_t hits = 0, total = 0;
	uint32_t step = 0;
	for (int i = 0; i < 8; i++) {
		char mp[160];
		snprintf(mp, sizeof(mp), "count/map%d", i);
		int fd = (int)obj(vm, BPF_OBJ_GET, mp, -1, 0);
		if (fd < 0)
			break;
		struct bpf_map_info info;
		union bpf_attr a;
		memset(&info, 0, sizeof(info));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)fd;
		a.info.info_len = sizeof(info);
		a.info.info = (uintptr_t)&info;
		CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
		uint32_t k = 7, z = 0;
		if (!strcmp(info.name, "hits"))
			CHECK(bpfvm_map_lookup(vm, fd, &k, &hits) == 0);
		else if (strstr(info.name, ".bss"))
			CHECK(bpfvm_map_lookup(vm, fd, &z, &total) == 0);
		else if (strstr(info.name, ".rodata"))
			CHECK(bpfvm_map_lookup(vm, fd, &z, &step) == 0);
	}
	CHECK_EQ_U64(hits, 5);
	CHECK_EQ_U64(total, 15);
	CHECK_EQ_U64(step, 3);
	char show_out[128];
	snprintf(show_out, sizeof(show_out), "%s.show", root);
	char *show[] = { cli, "prog", "show", pin, NULL };
	CHECK(run(show, show_out) == 0);
	CHECK(strstr(slurp(show_out), "name count") && strstr(slurp(show_out), "maps 3"));
	unlink(show_out);
	char cmd[768];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s %s %s", pin, pin2, c_path, o_path);
	CHECK(system(cmd) == 0);
	bpfvm_free(vm);
}

/* ---- the pin as untrusted input ------------------------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(1 << 20);
	*len = b ? fread(b, 1, 1 << 20, f) : 0;
	fclose(f);
	return b;
}

static void write_file(const char *path, const void *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		if (fwrite(b, 1, len, f) != len)
			printf("  short write to %s\n", path);
		fclose(f);
	}
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

TEST(damaged_pins_are_refused)
{
	struct bpfvm *vm = new_vm();
	int m = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int p = load_counter(vm, m);
	CHECK(obj(vm, BPF_OBJ_PIN, "good", p, 0) == 0);
	char prog[128], map0[128];
	snprintf(prog, sizeof(prog), "%s/good/prog", root);
	snprintf(map0, sizeof(map0), "%s/good/map0", root);
	size_t len;
	uint8_t *orig = read_file(prog, &len), *copy = malloc(1 << 20);
	CHECK(orig && copy && len == 56 + 11 * 8); /* header + the 11 instructions */
	if (!orig || !copy) {
		free(orig);
		free(copy);
		bpfvm_free(vm);
		return;
	}
	/* each forged field, with the reason it gives */
	static const struct { size_t off; uint32_t val; const char *why; } forged[] = {
		{ 0, 0x12345678, "bad magic" },
		{ 8, 2, "unknown version" },
		{ 12, 99, "bad header" },
		{ 36, 1, "bad header" },              /* reserved */
		{ 32, 7, "bad header" },              /* gpl neither 0 nor 1 */
		{ 24, 12, "file size" },              /* insn_cnt */
		{ 24, 0, "instruction count" },
		{ 28, 65, "more than 64 maps" },
		{ 56 + 3 * 8 + 4, 1, "map index 1 is not below the map count 1" },
		{ 56 + 3 * 8 + 4, (uint32_t)-1, "map index -1" },
		{ 56 + 3 * 8 + 1, 0x11, "a map by fd" }, /* dst r1, src BPF_PSEUDO_MAP_FD */
	};
	for (size_t i = 0; i < N(forged); i++) {
		memcpy(copy, orig, len);
		memcpy(copy + forged[i].off, &forged[i].val, 4);
		if (forged[i].off == 56 + 3 * 8 + 1)
			copy[forged[i].off] = (uint8_t)forged[i].val;
		write_file(prog, copy, len);
		long r = obj(vm, BPF_OBJ_GET, "good", -1, 0);
		if (r != -EINVAL || !strstr(bpfvm_errmsg(vm), forged[i].why)) {
			printf("  forged %zu: %ld '%s' (want -EINVAL, '%s')\n", i, r, bpfvm_errmsg(vm), forged[i].why);
			test_cur_failed = 1;
		}
	}
	/* the name without its NUL, a truncated file, a missing map: reasons too */
	memcpy(copy, orig, len);
	memset(copy + 40, 'a', 16);
	write_file(prog, copy, len);
	CHECK(obj(vm, BPF_OBJ_GET, "good", -1, 0) == -EINVAL && strstr(bpfvm_errmsg(vm), "NUL"));
	write_file(prog, orig, 30);
	CHECK(obj(vm, BPF_OBJ_GET, "good", -1, 0) == -EINVAL && strstr(bpfvm_errmsg(vm), "not a program file"));
	write_file(prog, orig, len);
	CHECK(obj(vm, BPF_OBJ_GET, "good", -1, 0) >= 0); /* restored: loads again */
	uint8_t *mapbytes;
	size_t mlen;
	CHECK((mapbytes = read_file(map0, &mlen)) != NULL);
	unlink(map0);
	CHECK(obj(vm, BPF_OBJ_GET, "good", -1, 0) == -ENOENT && strstr(bpfvm_errmsg(vm), "map0"));
	/* random damage to the program file: refused, or a program PROG_LOAD's own checks accept */
	uint32_t seed = 0x2545f491;
	int loaded = 0, refused = 0;
	write_file(map0, mapbytes, mlen); /* a copy of the map file: a map of its own, as good */
	CHECK(obj(vm, BPF_OBJ_GET, "good", -1, 0) >= 0);
	for (int round = 0; round < 2000; round++) {
		memcpy(copy, orig, len);
		size_t n = len;
		int hits = 1 + (int)(xorshift(&seed) % 6);
		for (int h = 0; h < hits; h++)
			copy[xorshift(&seed) % len] = (uint8_t)xorshift(&seed);
		if (round % 10 == 0)
			n = xorshift(&seed) % (len + 16); /* truncated, or with bytes after it */
		write_file(prog, copy, n);
		long r = obj(vm, BPF_OBJ_GET, "good", -1, 0);
		if (r >= 0) {
			loaded++;
			bpfvm_close(vm, (int)r);
		} else {
			refused++;
			CHECK(bpfvm_errmsg(vm)[0] != '\0');
		}
	}
	printf("  2000 damaged program files: %d loaded (PROG_LOAD's checks passed), %d refused with a reason\n", loaded,
	       refused);
	CHECK(refused > 1500);
	free(mapbytes);
	free(orig);
	free(copy);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/good", root);
	CHECK(system(cmd) == 0);
	bpfvm_free(vm);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	for (int i = 0; i < 2; i++) { /* <build>/tests/test_prog_pin -> <build>/bpfvm */
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", n > 0 ? self : argv[0]);
	snprintf(root, sizeof(root), "/tmp/bpfvm-test-progpin-XXXXXX");
	if (!mkdtemp(root)) {
		printf("FAIL setup: mkdtemp\n");
		return 1;
	}
	RUN(pinned_program_runs_in_another_process);
	RUN(prog_array_users_are_not_pinned);
	RUN(object_program_pinned_like_bpftool);
	RUN(damaged_pins_are_refused);
	if (rmdir(root))
		printf("  note: %s left behind: %s\n", root, strerror(errno));
	return test_done();
}
