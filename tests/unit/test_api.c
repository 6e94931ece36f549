/* test_api.c -- the shorthands of bpfvm.h over bpfvm_bpf(): map element calls by handle and
 * bpfvm_prog_test_run() on a buffer give the same results, errors and log lines as the bpf() commands
 * they stand for; bpfvm_version() is the header's version. */
#include <errno.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

TEST(version_matches_the_header)
{
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", BPFVM_VERSION_MAJOR, BPFVM_VERSION_MINOR, BPFVM_VERSION_PATCH);
	CHECK_EQ_STR(bpfvm_version(), BPFVM_VERSION);
	CHECK_EQ_STR(bpfvm_version(), want);
}

TEST(map_shorthands_are_the_bpf_commands)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	uint32_t k1 = 1, k2 = 2, k, first;
	uint64_t v = 10, out = 0;

	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_map_lookup(vm, fd, &k1, &out), (uint64_t)-ENOENT);
	CHECK(strstr(bpfvm_errmsg(vm), "") != NULL);
	CHECK_EQ_U64(bpfvm_map_update(vm, fd, &k1, &v, BPF_ANY), 0);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "");
	CHECK_EQ_U64(bpfvm_map_update(vm, fd, &k1, &v, BPF_NOEXIST), (uint64_t)-EEXIST);
	v = 20;
	CHECK_EQ_U64(bpfvm_map_update(vm, fd, &k2, &v, BPF_NOEXIST), 0);
	CHECK_EQ_U64(bpfvm_map_lookup(vm, fd, &k2, &out), 0);
	CHECK_EQ_U64(out, 20);
	/* the same element through the raw command */
	out = 0;
	CHECK_EQ_U64(LKP(vm, fd, &k1, &out), 0);
	CHECK_EQ_U64(out, 10);
	/* walk: NULL gives the first key, then the other, then -ENOENT */
	CHECK_EQ_U64(bpfvm_map_next_key(vm, fd, NULL, &first), 0);
	CHECK(first == 1 || first == 2);
	CHECK_EQ_U64(bpfvm_map_next_key(vm, fd, &first, &k), 0);
	CHECK_EQ_U64(k, 3 - first);
	CHECK_EQ_U64(bpfvm_map_next_key(vm, fd, &k, &k), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_map_delete(vm, fd, &k1), 0);
	CHECK_EQ_U64(bpfvm_map_delete(vm, fd, &k1), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_map_lookup(vm, fd, &k1, &out), (uint64_t)-ENOENT);
	/* a bad handle is the command's error, with its log line */
	CHECK_EQ_U64(bpfvm_map_lookup(vm, 999, &k1, &out), (uint64_t)-EBADF);
	CHECK(strstr(bpfvm_errmsg(vm), "999") != NULL);
	bpfvm_free(vm);
}

/* XDP: byte 0 of the packet += 1, return XDP_TX. */
static const struct bpf_insn xdp_inc[] = {
	INSN_ID(MOV64_K, 0, 0, 0, XDP_ABORTED),
	INSN_ID(LDXW, 2, 1, 0, 0),      /* r2 = ctx->data */
	INSN_ID(LDXW, 3, 1, 4, 0),      /* r3 = ctx->data_end */
	INSN_ID(MOV64_X, 4, 2, 0, 0),
	INSN_ID(ADD64_K, 4, 0, 0, 1),
	INSN_ID(JGT_X, 4, 3, 4, 0),      /* if data + 1 > data_end: XDP_ABORTED */
	INSN_ID(LDXB, 5, 2, 0, 0),
	INSN_ID(ADD64_K, 5, 0, 0, 1),
	INSN_ID(STXB, 2, 5, 0, 0),
	INSN_ID(MOV64_K, 0, 0, 0, XDP_TX),
	INSN_ID(EXIT, 0, 0, 0, 0),
};

TEST(prog_test_run_runs_on_a_buffer)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, xdp_inc, sizeof(xdp_inc) / sizeof(xdp_inc[0]), "inc");
	uint8_t pkt[64] = { 41 }, out[128];

	CHECK(fd >= 0);
	struct bpfvm_test_run_opts o = { .sz = sizeof(o), .data_in = pkt, .data_size_in = sizeof(pkt),
					 .data_out = out, .data_size_out = sizeof(out), .repeat = 3 };
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, fd, &o), 0);
	CHECK_EQ_U64(o.retval, XDP_TX);
	CHECK_EQ_U64(o.data_size_out, sizeof(pkt));
	CHECK_EQ_U64(out[0], 44); /* as in Linux, the repetitions run on one copy of data_in */
	CHECK_EQ_U64(pkt[0], 41); /* the input is not written */

	/* no data_out: runs, nothing copied */
	struct bpfvm_test_run_opts o2 = { .sz = sizeof(o2), .data_in = pkt, .data_size_in = sizeof(pkt) };
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, fd, &o2), 0);
	CHECK_EQ_U64(o2.retval, XDP_TX);

	/* errors are PROG_TEST_RUN's, out-parameters untouched */
	struct bpfvm_test_run_opts o3 = { .sz = sizeof(o3), .data_in = pkt, .data_size_in = sizeof(pkt),
					  .retval = 77 };
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, 999, &o3), (uint64_t)-EBADF);
	CHECK(strstr(bpfvm_errmsg(vm), "PROG_TEST_RUN") != NULL);
	CHECK_EQ_U64(o3.retval, 77);

	/* opts: NULL or too small is refused by name; a larger struct with a non-zero tail is -E2BIG */
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, fd, NULL), (uint64_t)-EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "bpfvm_prog_test_run: opts") != NULL);
	struct {
		struct bpfvm_test_run_opts o;
		uint64_t future;
	} big = { { .sz = sizeof(big), .data_in = pkt, .data_size_in = sizeof(pkt) }, 1 };
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, fd, &big.o), (uint64_t)-E2BIG);
	big.future = 0;
	CHECK_EQ_U64(bpfvm_prog_test_run(vm, fd, &big.o), 0);
	CHECK_EQ_U64(big.o.retval, XDP_TX);
	bpfvm_free(vm);
}

/* Linux resolves a relative pin path against the cwd, which is never bpffs here: refused, naming the
 * pin root.  Absolute paths under the root and the /sys/fs/bpf/ alias reach the same pin. */
TEST(pin_paths_are_absolute_and_the_root_is_named)
{
	char root[64], path[128];
	snprintf(root, sizeof(root), "/tmp/bpfvm-test-api-%d", (int)getpid());
	struct bpfvm_opts o = { .sz = sizeof(o), .pin_root = root };
	struct bpfvm *vm = bpfvm_new(&o);
	int fd = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	union bpf_attr a;

	CHECK_EQ_STR(bpfvm_pin_root(vm), root);
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)"counts";
	a.bpf_fd = (uint32_t)fd;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)), (uint64_t)-EINVAL);
	snprintf(path, sizeof(path), "counts: a pin path is absolute: pins live under %s", root);
	CHECK(strstr(bpfvm_errmsg(vm), path) != NULL);
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_OBJ_GET, &a, sizeof(a)), (uint64_t)-EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), path) != NULL);
	snprintf(path, sizeof(path), "%s/counts", root);
	a.pathname = (uintptr_t)path;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_OBJ_PIN, &a, sizeof(a)), 0);
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)"/sys/fs/bpf/counts";
	long g = bpfvm_bpf(vm, BPF_OBJ_GET, &a, sizeof(a));
	CHECK(g >= 0);
	unlink(path);
	rmdir(root);
	bpfvm_free(vm);

	/* the default root is the documented one */
	vm = bpfvm_new(NULL);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char want[256];
	if (xdg && *xdg && !access(xdg, W_OK))
		snprintf(want, sizeof(want), "%s/bpfvm", xdg);
	else
		snprintf(want, sizeof(want), "/dev/shm/bpfvm-%u", (unsigned)geteuid());
	CHECK_EQ_STR(bpfvm_pin_root(vm), want);
	bpfvm_free(vm);
}

/* A raw program's fault message for memory `mem` (NULL: none). */
/* Runs a program that faults on purpose: unverified (the verifier would refuse the XDP ones at load), so
 * that the run-time checks meet the bad access. */
static void fault_of(const struct bpf_insn *p, size_t n, uint32_t type, void *mem, size_t len, char *out, size_t cap)
{
	struct bpfvm_opts vo = { .sz = sizeof(vo), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&vo);
	int fd = bpfvm_prog_load(vm, type, p, n, "f");
	uint64_t r0;
	out[0] = '\0';
	if (fd < 0) {
		snprintf(out, cap, "load: %s", bpfvm_errmsg(vm));
	} else if (type == BPF_PROG_TYPE_XDP) {
		struct bpfvm_test_run_opts o = { .sz = sizeof(o), .data_in = mem, .data_size_in = (uint32_t)len };
		if (bpfvm_prog_test_run(vm, fd, &o))
			snprintf(out, cap, "%s", bpfvm_errmsg(vm));
	} else if (bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, &r0)) {
		snprintf(out, cap, "%s", bpfvm_errmsg(vm));
	}
	bpfvm_free(vm);
}

#define FAULT_IS(msg, want) do { \
		if (strcmp((msg), (want))) \
			printf("  got  \"%s\"\n  want \"%s\"\n", (msg), (want)); \
		CHECK(!strcmp((msg), (want))); \
	} while (0)

/* Faults say where as the program sees memory (issue 13): region and offset, never a host address. */
TEST(faults_name_region_and_offset)
{
	char m[512];
	uint64_t mem = 0;
	uint8_t pkt[60] = { 0 };
	const struct bpf_insn past_mem[] = { INSN_ID(LDXDW, 2, 1, 64, 0), INSN_ID(MOV64_K, 0, 0, 0, 0),
					     INSN_ID(EXIT, 0, 0, 0, 0) };
	fault_of(past_mem, 3, 0, &mem, sizeof(mem), m, sizeof(m));
	FAULT_IS(m, "prog 'f': insn 0: invalid memory read mem+64 size=8");
	const struct bpf_insn below_frame[] = { INSN_ID(LDXDW, 0, 10, -520, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	fault_of(below_frame, 2, 0, NULL, 0, m, sizeof(m));
	FAULT_IS(m, "prog 'f': insn 0: invalid memory read fp-520 size=8");
	const struct bpf_insn above_top[] = { INSN_ID(STW, 10, 0, 4, 1), INSN_ID(EXIT, 0, 0, 0, 0) };
	fault_of(above_top, 2, 0, NULL, 0, m, sizeof(m));
	FAULT_IS(m, "prog 'f': insn 0: invalid memory write fp+4 size=4");
	/* NULL + 16 is a scalar the program made: shown as such */
	const struct bpf_insn null16[] = { INSN_ID(MOV64_K, 1, 0, 0, 0), INSN_ID(LDXW, 0, 1, 16, 0),
					   INSN_ID(EXIT, 0, 0, 0, 0) };
	fault_of(null16, 3, 0, NULL, 0, m, sizeof(m));
	FAULT_IS(m, "prog 'f': insn 1: invalid memory read addr=0x10 size=4");
	/* XDP: past the packet, and a context field that does not exist */
	const struct bpf_insn past_pkt[] = {
		INSN_ID(LDXW, 2, 1, 0, 0),       /* r2 = ctx->data */
		INSN_ID(LDXW, 0, 2, 60, 0),      /* r0 = *(u32 *)(data + 60) */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	fault_of(past_pkt, 3, BPF_PROG_TYPE_XDP, pkt, sizeof(pkt), m, sizeof(m));
	FAULT_IS(m, "prog 'f': insn 1: invalid memory read packet+60 size=4");
	const struct bpf_insn bad_ctx[] = { INSN_ID(LDXW, 0, 1, 64, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	fault_of(bad_ctx, 2, BPF_PROG_TYPE_XDP, pkt, sizeof(pkt), m, sizeof(m));
	CHECK(strstr(m, "invalid bpf_context access off=64 size=4") != NULL || strstr(m, "load: ") == m);
	/* the budget: no address at all */
	const struct bpf_insn spin[] = { INSN_ID(JA, 0, 0, -1, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = bpfvm_prog_load(vm, 0, spin, 2, "spin");
	uint64_t r0;
	bpfvm_set_insn_limit(vm, 1000);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &r0), (uint64_t)-ELOOP);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'spin': insn 0: instruction budget exhausted") == bpfvm_errmsg(vm));
	CHECK(!strstr(bpfvm_errmsg(vm), "addr=") && !strstr(bpfvm_errmsg(vm), "size="));
	/* one line, no line end */
	CHECK(!strchr(bpfvm_errmsg(vm), '\n'));
	bpfvm_free(vm);
}

/* BTF formatting of an object's maps and records: the firewall example's types. */
TEST(btf_format_prints_types_by_field)
{
	const char *path = access("build/examples/xdp_firewall.bpf.o", R_OK) ? NULL : "build/examples/xdp_firewall.bpf.o";
	if (!path)
		SKIP("build/examples/xdp_firewall.bpf.o is not built (make all)");
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpfvm_object *obj = NULL;
	CHECK(bpfvm_object_open(vm, path, &obj) == 0);
	if (!obj) {
		bpfvm_free(vm);
		return;
	}
	char buf[512];
	uint32_t kt = 0, vt = 0;
	size_t src = SIZE_MAX, stats = SIZE_MAX, ro = SIZE_MAX, rb = SIZE_MAX;
	for (size_t i = 0; i < bpfvm_object_map_cnt(obj); i++) {
		const char *n = bpfvm_object_map_name(obj, i);
		src = !strcmp(n, "sources") ? i : src;
		stats = !strcmp(n, "stats") ? i : stats;
		ro = !strcmp(n, ".rodata") ? i : ro;
		rb = !strcmp(n, "events") ? i : rb;
	}
	/* struct src_key { __u8 addr[16]; } -> struct src_stat { __u64 pkts, bytes; } */
	CHECK_EQ_U64(bpfvm_object_map_btf(obj, src, &kt, &vt), 0);
	uint8_t key[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [13] = 1, [14] = 2, [15] = 3 };
	uint64_t val[2] = { 3, 180 };
	CHECK_EQ_U64(bpfvm_object_btf_format(obj, kt, key, sizeof(key), 0, buf, sizeof(buf)), strlen(buf));
	CHECK_EQ_STR(buf, "{addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3]}");
	bpfvm_object_btf_format(obj, vt, val, sizeof(val), 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{pkts: 3, bytes: 180}");
	bpfvm_object_btf_format(obj, vt, val, sizeof(val), BPFVM_FMT_JSON, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{\"pkts\":3,\"bytes\":180}");
	/* data shorter than the type: what fits, then "?" / null */
	bpfvm_object_btf_format(obj, vt, val, 8, 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{pkts: 3, bytes: ?}");
	/* snprintf semantics */
	char tiny[6];
	CHECK_EQ_U64(bpfvm_object_btf_format(obj, vt, val, sizeof(val), 0, tiny, sizeof(tiny)), 21);
	CHECK_EQ_STR(tiny, "{pkts");
	/* u32 key, u64 value: decimal */
	CHECK_EQ_U64(bpfvm_object_map_btf(obj, stats, &kt, &vt), 0);
	uint32_t k = 7;
	uint64_t v = 2614;
	bpfvm_object_btf_format(obj, kt, &k, 4, 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "7");
	bpfvm_object_btf_format(obj, vt, &v, 8, 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "2614");
	/* global data: the section's variables by name (no key type) */
	CHECK_EQ_U64(bpfvm_object_map_btf(obj, ro, &kt, &vt), 0);
	CHECK_EQ_U64(kt, 0);
	uint8_t rodata[16] = { 200, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0 };
	bpfvm_object_btf_format(obj, vt, rodata, sizeof(rodata), BPFVM_FMT_JSON, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{\"rate_limit_pkts\":200,\"malformed_verdict\":1,\"report_drops\":1}");
	/* a ring buffer has no types: a record's struct is found by its size (and a hint when several fit) */
	CHECK_EQ_U64(bpfvm_object_map_btf(obj, rb, &kt, &vt), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_object_btf_struct_by_size(obj, 16, NULL), 0); /* src_key and src_stat */
	uint32_t et = bpfvm_object_btf_struct_by_size(obj, 16, "stat");
	CHECK(et != 0);
	bpfvm_object_btf_format(obj, et, val, sizeof(val), 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{pkts: 3, bytes: 180}");
	et = bpfvm_object_btf_struct_by_size(obj, 8, NULL); /* struct lpm_v4 alone */
	uint8_t k4[8] = { 24, 0, 0, 0, 198, 51, 100, 0 };
	bpfvm_object_btf_format(obj, et, k4, sizeof(k4), 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{prefixlen: 24, addr: [198, 51, 100, 0]}");
	CHECK_EQ_U64(bpfvm_object_btf_struct_by_size(obj, 31, NULL), 0);
	/* the ring buffer's record type, named by the program (EVENT_TYPE(events, struct drop_event)) */
	et = bpfvm_object_event_type(obj, "events", 32);
	CHECK(et != 0);
	uint32_t rec[8] = { 1, 60, 0, 0, 0, 0, 3, 0 }; /* reason, len, addr[16], rule, pad */
	uint8_t addr[16] = { [10] = 0xff, [11] = 0xff, [12] = 198, [13] = 51, [14] = 100, [15] = 9 };
	memcpy(&rec[2], addr, sizeof(addr));
	bpfvm_object_btf_format(obj, et, rec, sizeof(rec), 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{reason: 1, len: 60, addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 198, 51, 100, 9], rule: 3, "
			  "pad: 0}");
	/* whatever the record's size (the program says what it is); other maps fall back to the size */
	CHECK_EQ_U64(bpfvm_object_event_type(obj, "events", 8), et);
	CHECK_EQ_U64(bpfvm_object_event_type(obj, "stats", 31), 0);
	CHECK_EQ_U64(bpfvm_object_event_type(obj, NULL, 8), bpfvm_object_btf_struct_by_size(obj, 8, "event"));
	/* the declaration is no data: .rodata prints its three variables only */
	uint8_t rodata24[24] = { 200, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0 };
	bpfvm_object_btf_format(obj, vt, rodata24, sizeof(rodata24), 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "{rate_limit_pkts: 200, malformed_verdict: 2, report_drops: 0}");
	uint32_t ev[8] = { 0 };
	CHECK_EQ_U64(bpfvm_object_btf_format(obj, 0, ev, sizeof(ev), 0, buf, sizeof(buf)), (uint64_t)-ENOENT);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

/* bpfvm_runner_run() against bpfvm_prog_run() on both engines: the same r0 and faults run after run;
 * each run gets a fresh budget and tail-call count and its own memory; the runner keeps its program;
 * a failed run's message replaces the log, a good run leaves it. */
static void runner_agrees(enum bpfvm_engine eng)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	const struct bpf_insn empty[] = { INSN_ID(MOV64_K, 0, 0, 0, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	const struct bpf_insn straight[] = {      /* no loop, no call: the JIT's stateless code */
		INSN_ID(STXDW, 10, 1, -8, 0),          /* *(u64 *)(r10 - 8) = r1 */
		INSN_ID(LDXDW, 0, 10, -8, 0),          /* r0 = *(u64 *)(r10 - 8) */
		INSN_ID(SUB64_X, 0, 2, 0, 0),            /* r0 -= r2 */
		INSN_ID(LDXDW, 3, 10, -16, 0),         /* r3 = *(u64 *)(r10 - 16): never written, 0 */
		INSN_ID(ADD64_X, 0, 3, 0, 0),            /* r0 += r3 */
		INSN_ID(STXDW, 10, 0, -16, 0),         /* *(u64 *)(r10 - 16) = r0: the next run must not see it */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn sum[] = {           /* r0 = sum of the u32 at mem over r2 / 4 words */
		INSN_ID(MOV64_K, 0, 0, 0, 0),
		INSN_ID(JEQ_K, 2, 0, 5, 0),            /* if r2 == 0 goto out */
		INSN_ID(LDXW, 3, 1, 0, 0),            /* loop: r3 = *(u32 *)(r1 + 0) */
		INSN_ID(ADD64_X, 0, 3, 0, 0),
		INSN_ID(ADD64_K, 1, 0, 0, 4),
		INSN_ID(ADD64_K, 2, 0, 0, -4),
		INSN_ID(JNE_K, 2, 0, -5, 0),           /* if r2 != 0 goto loop */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	const struct bpf_insn chain[] = {         /* counts its runs, tail-calling itself: 33 times per run */
		INSN_ID(LDXDW, 6, 10, -8, 0), INSN_ID(ADD64_K, 6, 0, 0, 1), INSN_ID(STXDW, 10, 6, -8, 0),
		INSN_ID(LDDW, 2, 1, 0, pa), LDDW_HI(0),
		INSN_ID(MOV64_K, 3, 0, 0, 0),
		INSN_ID(CALL, 0, 0, 0, 12),
		INSN_ID(LDXDW, 0, 10, -8, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fe = bpfvm_prog_load(vm, 0, empty, 2, "empty"), fs = bpfvm_prog_load(vm, 0, straight, 7, "straight");
	int fu = bpfvm_prog_load(vm, 0, sum, 8, "sum"), fc = bpfvm_prog_load(vm, 0, chain, 9, "chain");
	struct bpfvm_runner *re, *rs, *ru, *rc;
	uint32_t a[4] = { 1, 2, 3, 4 }, b[2] = { 100, 200 };
	uint64_t r0, want;

	CHECK(pa >= 0 && fe >= 0 && fs >= 0 && fu >= 0 && fc >= 0);
	CHECK(UPD(vm, pa, &(uint32_t){ 0 }, &fc, 0) == 0);
	int err = bpfvm_runner_new(vm, fe, eng, &re);
	if (err == -EOPNOTSUPP && eng == BPFVM_ENGINE_JIT) {
		bpfvm_free(vm);
		SKIP("no JIT on this host");
	}
	CHECK(err == 0 && bpfvm_runner_new(vm, fs, eng, &rs) == 0);
	CHECK(bpfvm_runner_new(vm, fu, eng, &ru) == 0 && bpfvm_runner_new(vm, fc, eng, &rc) == 0);
	bpfvm_close(vm, fe); /* the runner holds it */
	for (int i = 0; i < 3; i++) {
		r0 = 1;
		CHECK(bpfvm_runner_run(re, NULL, 0, &r0) == 0 && r0 == 0);
		CHECK(bpfvm_runner_run(rs, a, 16, &r0) == 0);
		CHECK(bpfvm_prog_run(vm, fs, eng, a, 16, &want) == 0);
		CHECK_EQ_U64(r0, want);
		CHECK_EQ_U64(r0, (uintptr_t)a - 16);
		CHECK(bpfvm_runner_run(ru, a, sizeof(a), &r0) == 0 && r0 == 10);
		CHECK(bpfvm_runner_run(ru, b, sizeof(b), &r0) == 0 && r0 == 300);
		CHECK(bpfvm_runner_run(rc, NULL, 0, &r0) == 0 && r0 == 1 + 33);
		/* the inline entry: the same results, through the direct code or the library */
		r0 = 1;
		CHECK(bpfvm_runner_run_inline(re, NULL, 0, &r0) == 0 && r0 == 0);
		CHECK(bpfvm_runner_run_inline(rs, a, 16, &r0) == 0);
		CHECK_EQ_U64(r0, (uintptr_t)a - 16);
		CHECK(bpfvm_runner_run_inline(ru, b, sizeof(b), &r0) == 0 && r0 == 300);
		CHECK(bpfvm_runner_run_inline(rc, NULL, 0, &r0) == 0 && r0 == 1 + 33);
		CHECK(bpfvm_runner_run_inline(ru, NULL, 8, &r0) == -EFAULT);
	}
	/* an empty program's JIT code is direct: the inline entry calls it with no library call */
	if (eng == BPFVM_ENGINE_JIT)
		CHECK(((const struct bpfvm_runner_head *)(const void *)re)->direct != NULL);
	else
		CHECK(((const struct bpfvm_runner_head *)(const void *)re)->direct == NULL);
	/* a batch: the same r0 as one run each, in order; it stops at the first run that fails */
	void *mems[4] = { a, b, NULL, a };
	size_t lens[4] = { sizeof(a), sizeof(b), 8, sizeof(a) }, done = 99;
	uint64_t r0s[4] = { 0 };
	CHECK(bpfvm_runner_run_batch(ru, mems, lens, 2, r0s, &done) == 0 && done == 2);
	CHECK(r0s[0] == 10 && r0s[1] == 300);
	CHECK(bpfvm_runner_run_batch(ru, mems, lens, 4, r0s, &done) == -EFAULT && done == 2);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'sum': insn 2: invalid memory read") != NULL);
	CHECK(bpfvm_runner_run_batch(ru, mems, lens, 0, r0s, &done) == 0 && done == 0);
	memset(r0s, 0xff, sizeof(r0s));
	CHECK(bpfvm_runner_run_batch(rs, mems, lens, 2, r0s, &done) == 0 && done == 2);
	CHECK_EQ_U64(r0s[0], (uintptr_t)a - 16);
	CHECK_EQ_U64(r0s[1], (uintptr_t)b - 8);
	CHECK(bpfvm_runner_run_batch(re, mems, lens, 4, r0s, &done) == 0 && done == 4);
	CHECK(r0s[0] == 0 && r0s[1] == 0 && r0s[2] == 0 && r0s[3] == 0);
	/* a fault: the log says it; a good run after it leaves the message, the next fault replaces it */
	CHECK(bpfvm_runner_run(ru, NULL, 8, &r0) == -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'sum': insn 2: invalid memory read") != NULL);
	CHECK(bpfvm_runner_run(ru, b, sizeof(b), &r0) == 0 && r0 == 300);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 2: invalid memory read") != NULL);
	/* every run starts a budget of its own: 40 back-jumps fit a limit of 50 run after run, 60 do not */
	uint32_t big[60] = { 0 };
	CHECK(bpfvm_set_insn_limit(vm, 50) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(bpfvm_runner_run(ru, big, 40 * 4, &r0) == 0 && r0 == 0);
	CHECK(bpfvm_runner_run(ru, big, 60 * 4, &r0) == -ELOOP);
	CHECK(strstr(bpfvm_errmsg(vm), "budget exhausted") != NULL);
	CHECK(strstr(bpfvm_errmsg(vm), "invalid memory read") == NULL);
	bpfvm_runner_free(re);
	bpfvm_runner_free(rs);
	bpfvm_runner_free(ru);
	bpfvm_runner_free(rc);
	bpfvm_runner_free(NULL);
	CHECK(DEL(vm, pa, &(uint32_t){ 0 }) == 0); /* the chain holds the array that holds it */
	/* errors of bpfvm_runner_new() */
	CHECK(bpfvm_runner_new(vm, fe, eng, &re) == -EBADF);
	CHECK(bpfvm_runner_new(vm, fs, (enum bpfvm_engine)7, &re) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "engine 7") != NULL);
	bpfvm_free(vm);
}

TEST(runner_interp)
{
	runner_agrees(BPFVM_ENGINE_INTERP);
}

TEST(runner_jit)
{
	runner_agrees(BPFVM_ENGINE_JIT);
}

int main(void)
{
	RUN(runner_interp);
	RUN(runner_jit);
	RUN(version_matches_the_header);
	RUN(map_shorthands_are_the_bpf_commands);
	RUN(prog_test_run_runs_on_a_buffer);
	RUN(pin_paths_are_absolute_and_the_root_is_named);
	RUN(faults_name_region_and_offset);
	RUN(btf_format_prints_types_by_field);
	return test_done();
}
