/* test_maps_cli.c -- `bpfvm map ...` in separate processes on maps this process pinned (and the other way
 * round): each sees the other's writes live; JSON output; error exits; ring buffer events consumed by
 * the CLI while this process produces them. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char pin_root[128], cli[512];

static struct bpfvm *new_vm(void)
{
	return test_vm(2, pin_root);
}

/* Runs `bpfvm map ARGS` (a shell word list), returns its exit status and stdout in out. */
__attribute__((format(printf, 3, 4))) static int run(char *out, size_t len, const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if ((size_t)snprintf(cmd, sizeof(cmd), "%.512s map %.1024s 2>/dev/null", cli, args) >= sizeof(cmd))
		return -1;
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = out ? fread(out, 1, len - 1, p) : 0;
	if (!out) {
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	} else {
		out[n] = '\0';
	}
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long pin(struct bpfvm *vm, int fd, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)fd;
	return bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a));
}

static int get(struct bpfvm *vm, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	return (int)bpfvm_bpf(vm, BPF_OBJ_GET, &a, sizeof(a));
}

static bool have_cli(void)
{
	return access(cli, X_OK) == 0;
}

TEST(cli_create_update_then_in_process)
{
	if (!have_cli())
		SKIP("bpfvm binary not built next to the tests");
	char out[8192], p[256];
	snprintf(p, sizeof(p), "%s/h", pin_root);
	unlink(p);
	CHECK(run(NULL, 0, "create %s type hash key 4 value 8 entries 8 name cli_h", p) == 0);
	CHECK(run(NULL, 0, "update %s key 1 0 0 0 value 0x2a 0 0 0 0 0 0 0", p) == 0);
	CHECK(run(NULL, 0, "update %s key hex 02000000 value hex 0700000000000000 noexist", p) == 0);
	CHECK(run(NULL, 0, "update %s key 2 0 0 0 value 1 0 0 0 0 0 0 0 noexist", p) == 1); /* EEXIST */
	CHECK(run(NULL, 0, "update %s key 9 0 0 0 value 1 0 0 0 0 0 0 0 exist", p) == 1);   /* ENOENT */
	CHECK(run(NULL, 0, "update %s key 1 0 0 value 1 0 0 0 0 0 0 0", p) == 1);           /* 3-byte key */
	CHECK(run(NULL, 0, "update %s key 1 0 0 0 value 256 0 0 0 0 0 0 0", p) == 1);       /* not a byte */
	/* this process sees them */
	struct bpfvm *vm = new_vm();
	int fd = get(vm, p);
	CHECK(fd >= 0);
	uint32_t k = 1;
	uint64_t v = 0;
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, fd, &k, &v, 0) == 0 && v == 42);
	k = 2;
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, fd, &k, &v, 0) == 0 && v == 7);
	struct bpf_map_info info;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(&info, 0, sizeof(info));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
	CHECK_EQ_STR(info.name, "cli_h");
	CHECK(info.type == BPF_MAP_TYPE_HASH && info.max_entries == 8);
	/* and the CLI sees this process's writes */
	k = 3;
	v = 0x0102030405060708ull;
	CHECK(elem(vm, BPF_MAP_UPDATE_ELEM, fd, &k, &v, 0) == 0);
	k = 1;
	CHECK(elem(vm, BPF_MAP_DELETE_ELEM, fd, &k, NULL, 0) == 0);
	CHECK(run(out, sizeof(out), "-j dump %s", p) == 0);
	CHECK(strstr(out, "{\"key\":[\"0x03\",\"0x00\",\"0x00\",\"0x00\"],\"value\":[\"0x08\",\"0x07\",\"0x06\",\"0x05\","
			  "\"0x04\",\"0x03\",\"0x02\",\"0x01\"]}") != NULL);
	CHECK(strstr(out, "\"0x2a\"") == NULL);
	CHECK(out[0] == '[');
	CHECK(run(out, sizeof(out), "dump %s", p) == 0);
	CHECK(strstr(out, "key: 02 00 00 00  value: 07 00 00 00 00 00 00 00\n") != NULL);
	CHECK(strstr(out, "Found 2 elements") != NULL);
	CHECK(run(out, sizeof(out), "lookup %s key 3 0 0 0", p) == 0);
	CHECK_EQ_STR(out, "key: 03 00 00 00  value: 08 07 06 05 04 03 02 01\n");
	CHECK(run(out, sizeof(out), "-j lookup %s key 9 0 0 0", p) == 1);
	CHECK(strstr(out, "\"error\"") != NULL);
	CHECK(run(out, sizeof(out), "getnext %s", p) == 0);
	CHECK(strstr(out, "next key:") != NULL);
	CHECK(run(out, sizeof(out), "-j show %s", p) == 0);
	CHECK(strstr(out, "\"type\":\"hash\",\"name\":\"cli_h\"") != NULL);
	CHECK(run(NULL, 0, "delete %s key 3 0 0 0", p) == 0);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, fd, &k, &v, 0) == -ENOENT);
	CHECK(run(NULL, 0, "delete %s key 3 0 0 0", p) == 1);
	/* freeze from the CLI: user updates fail everywhere */
	CHECK(run(NULL, 0, "freeze %s", p) == 0);
	CHECK(run(NULL, 0, "update %s key 5 0 0 0 value 1 0 0 0 0 0 0 0", p) == 1);
	k = 5;
	CHECK(elem(vm, BPF_MAP_UPDATE_ELEM, fd, &k, &v, 0) == -EPERM);
	/* a second name for the same map */
	char p2[256];
	snprintf(p2, sizeof(p2), "%s/h2", pin_root);
	unlink(p2);
	CHECK(run(NULL, 0, "pin %s %s", p, p2) == 0);
	CHECK(run(out, sizeof(out), "lookup %s key 2 0 0 0", p2) == 0);
	CHECK(run(NULL, 0, "dump %s/nonexistent", pin_root) == 1);
	CHECK(run(NULL, 0, "create %s/bad type nosuch key 4 value 4 entries 1", pin_root) == 1);
	CHECK(run(NULL, 0, "create %s/bad type array key 8 value 4 entries 1", pin_root) == 1); /* EINVAL */
	unlink(p);
	unlink(p2);
	bpfvm_free(vm);
}

TEST(cli_percpu_and_queue)
{
	if (!have_cli())
		SKIP("bpfvm binary not built next to the tests");
	char out[8192], p[256], q[256];
	struct bpfvm *vm = new_vm();
	snprintf(p, sizeof(p), "%s/pc", pin_root);
	snprintf(q, sizeof(q), "%s/q", pin_root);
	unlink(p);
	unlink(q);
	int fd = mk(vm, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 2, 0);
	CHECK(pin(vm, fd, p) == 0);
	uint32_t k = 1, vals[4] = { 11, 0, 22, 0 }; /* round_up(4, 8) per CPU */
	CHECK(elem(vm, BPF_MAP_UPDATE_ELEM, fd, &k, vals, 0) == 0);
	CHECK(run(out, sizeof(out), "-j lookup %s key 1 0 0 0", p) == 0);
	CHECK(strstr(out, "\"values\":[{\"cpu\":0,\"value\":[\"0x0b\",\"0x00\",\"0x00\",\"0x00\"]},"
			  "{\"cpu\":1,\"value\":[\"0x16\",\"0x00\",\"0x00\",\"0x00\"]}]") != NULL);
	/* one value from the CLI goes to every CPU */
	CHECK(run(NULL, 0, "update %s key 0 0 0 0 value 5 0 0 0", p) == 0);
	k = 0;
	memset(vals, 0, sizeof(vals));
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, fd, &k, vals, 0) == 0 && vals[0] == 5 && vals[2] == 5);
	CHECK(run(out, sizeof(out), "dump %s", p) == 0);
	CHECK(strstr(out, "value (CPU 01): 16 00 00 00") != NULL);

	int qfd = mk(vm, BPF_MAP_TYPE_QUEUE, 0, 4, 2, 0);
	CHECK(pin(vm, qfd, q) == 0);
	CHECK(run(NULL, 0, "push %s value 1 0 0 0", q) == 0);
	CHECK(run(NULL, 0, "enqueue %s value 2 0 0 0", q) == 0);
	CHECK(run(NULL, 0, "push %s value 3 0 0 0", q) == 1); /* full: E2BIG */
	uint32_t v = 0;
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, qfd, NULL, &v, 0) == 0 && v == 1); /* peek */
	CHECK(run(out, sizeof(out), "-j pop %s", q) == 0);
	CHECK_EQ_STR(out, "{\"value\":[\"0x01\",\"0x00\",\"0x00\",\"0x00\"]}\n");
	CHECK(run(out, sizeof(out), "peek %s", q) == 0);
	CHECK_EQ_STR(out, "value: 02 00 00 00\n");
	CHECK(run(NULL, 0, "dequeue %s", q) == 0);
	CHECK(run(NULL, 0, "pop %s", q) == 1); /* empty */
	CHECK(run(NULL, 0, "dump %s", q) == 1); /* not iterable */
	unlink(p);
	unlink(q);
	bpfvm_free(vm);
}

TEST(cli_consumes_ringbuf_events)
{
	if (!have_cli())
		SKIP("bpfvm binary not built next to the tests");
	char p[256], out[4096];
	struct bpfvm *vm = new_vm();
	snprintf(p, sizeof(p), "%s/rb", pin_root);
	unlink(p);
	int rb = mk(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	CHECK(pin(vm, rb, p) == 0);
	/* output the 8 bytes at fp-8 = r1's first byte... simply a counter passed in mem */
	const struct bpf_insn prog[] = {
		INSN_ID(LDXDW, 3, 1, 0, 0),                      /* r3 = *(u64 *)(r1 + 0) */
		INSN_ID(STXDW, 10, 3, -8, 0),
		INSN_ID(LDDW, 1, 1, 0, rb), LDDW_HI(0),
		INSN_ID(MOV64_X, 2, 10, 0, 0), INSN_ID(ADD64_K, 2, 0, 0, -8),
		INSN_ID(MOV64_K, 3, 0, 0, 8), INSN_ID(MOV64_K, 4, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 130),                    /* ringbuf_output */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int pfd = bpfvm_prog_load(vm, 0, prog, N(prog), "rbout");
	CHECK(pfd >= 0);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%.512s map -j event %.256s count 3 timeout 5000", cli, p);
	FILE *f = popen(cmd, "r");
	CHECK(f != NULL);
	if (!f) {
		bpfvm_free(vm);
		return;
	}
	for (uint64_t i = 1; i <= 3; i++) {
		uint64_t mem = 0x1100 + i, r0;
		usleep(20000);
		CHECK(bpfvm_prog_run(vm, pfd, BPFVM_ENGINE_INTERP, &mem, sizeof(mem), &r0) == 0 && r0 == 0);
	}
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(strstr(out, "{\"size\":8,\"data\":[\"0x01\",\"0x11\",\"0x00\"") != NULL);
	CHECK(strstr(out, "{\"size\":8,\"data\":[\"0x03\",\"0x11\",\"0x00\"") != NULL);
	/* consumed: nothing left for this process */
	unlink(p);
	bpfvm_free(vm);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(cli, sizeof(cli), "%.400s/bpfvm", n > 0 ? self : argv[0]);
	snprintf(pin_root, sizeof(pin_root), "/tmp/bpfvm-test-maps-cli-%d", (int)getpid());
	mkdir(pin_root, 0700);
	RUN(cli_create_update_then_in_process);
	RUN(cli_percpu_and_queue);
	RUN(cli_consumes_ringbuf_events);
	rmdir(pin_root);
	return test_done();
}
