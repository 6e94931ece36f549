/* test_cli_ux.c -- the CLI as a newcomer meets it (issue 13): --version and --help everywhere, errors that
 * name the offending option or argument, the run mode chosen by the file's contents, `bpfvm cc` building
 * a first program that `bpfvm run` then runs, maps a run leaves pinned for `bpfvm map`, faults located
 * by packet, instruction and region.  Each case runs build/bpfvm as a child (no shell) and checks its
 * stdout, stderr and exit status.  Runs from the repository root (examples/sample.pcap). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define SAMPLE "examples/sample.pcap"

static char cli[PATH_MAX], build[PATH_MAX], dir[64];

/* Runs prog (found in PATH; the CLI when NULL) with args (NULL-terminated, without argv[0]); stdin is empty. */
static bool spawn_prog(struct test_proc *p, const char *prog, const char *const *args)
{
	return test_spawn(p, prog ? prog : cli, prog ? prog : "bpfvm", NULL, args, dir);
}

#define RUN_CLI(p, ...) do { \
		if (!spawn_prog((p), NULL, (const char *const[]){ __VA_ARGS__, NULL })) { \
			CHECK(!"could not run the CLI"); \
			return; \
		} \
	} while (0)

/* Shows what a failed expectation saw. */
#define EXPECT(p, cond) do { \
		if (!(cond)) \
			printf("  status %d\n  stdout: %.2000s\n  stderr: %.2000s\n", (p)->status, (p)->out, (p)->err); \
		CHECK(cond); \
	} while (0)

static const char *path_in_dir(const char *name)
{
	static char paths[8][128];
	static unsigned next;
	char *path = paths[next++ % N(paths)];
	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	return path;
}

static const char *text_file(const char *name, const char *text)
{
	const char *path = path_in_dir(name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0)
		printf("  cannot write %s\n", path);
	if (f)
		fclose(f);
	return path;
}

static bool have_clang(void)
{
	struct test_proc p;
	return spawn_prog(&p, "clang", (const char *const[]){ "--version", NULL }) && p.status == 0;
}

/* ---- --version and --help ------------------------------------------------------------------- */

TEST(version_is_printed)
{
	struct test_proc p;
	RUN_CLI(&p, "--version");
	EXPECT(&p, p.status == 0 && !strcmp(p.out, "bpfvm " BPFVM_VERSION "\n"));
}

/* Every subcommand `bpfvm --help` lists answers --help with its usage on stdout and status 0. */
TEST(every_subcommand_answers_help)
{
	struct test_proc top, p;
	RUN_CLI(&top, "--help");
	EXPECT(&top, top.status == 0);
	char *cmds = strstr(top.out, "commands:\n");
	CHECK(cmds != NULL);
	if (!cmds)
		return;
	int seen = 0;
	for (char *line = strtok(cmds + 10, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64];
		if (sscanf(line, " %63s", name) != 1)
			continue;
		seen++;
		RUN_CLI(&p, name, "--help");
		if (p.status != 0 || !strstr(p.out, "usage: bpfvm ") || p.err[0])
			printf("  `bpfvm %s --help`:\n", name);
		EXPECT(&p, p.status == 0 && strstr(p.out, "usage: bpfvm ") && !p.err[0]);
		RUN_CLI(&p, name, "-h");
		EXPECT(&p, p.status == 0 && strstr(p.out, "usage: bpfvm "));
	}
	CHECK(seen >= 7);
}

/* The engines are documented where they are chosen: the interpreter with --interp (the JIT being the
 * default where there is one), the JIT's code with disasm --jited, the plugin's engine flags. */
TEST(engines_are_documented)
{
	struct test_proc p;
	RUN_CLI(&p, "conformance-plugin", "--help");
	EXPECT(&p, p.status == 0 && strstr(p.out, "--interp") && strstr(p.out, "--jit"));
	RUN_CLI(&p, "run", "--help");
	EXPECT(&p, p.status == 0 && strstr(p.out, "--interp"));
	RUN_CLI(&p, "disasm", "--help");
	EXPECT(&p, p.status == 0 && strstr(p.out, "--jited"));
}

/* ---- bpfvm cc --------------------------------------------------------------------------------- */

/* The README's first program, as written there. */
static const char hello_c[] =
	"#include <linux/bpf.h>\n"
	"#include <bpf/bpf_helpers.h>\n"
	"SEC(\"xdp\") int hello(struct xdp_md *ctx) { return ctx->data_end - ctx->data > 1000 ? XDP_DROP : XDP_PASS; }\n";

TEST(cc_builds_a_first_program_that_runs)
{
	struct test_proc p;
	if (!have_clang())
		SKIP("clang is not installed");
	const char *src = text_file("hello.bpf.c", hello_c), *obj = path_in_dir("hello.bpf.o");
	RUN_CLI(&p, "cc", src, "-o", obj);
	EXPECT(&p, p.status == 0 && !p.err[0]);
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE);
	/* 129 frames of the sample are longer than 1000 bytes; 6 are too short to run */
	EXPECT(&p, p.status == 0 && strstr(p.out, "program hello (xdp)") && strstr(p.out, "DROP      129\n") &&
		   strstr(p.out, "PASS      2865\n"));
	unlink(obj);
}

TEST(cc_uses_target_debug_info_and_multiarch_includes)
{
	struct test_proc p;
	RUN_CLI(&p, "cc", "x.bpf.c", "--dry-run", "-DMAX=3", "-O1");
	/* our flags first, the user's after them (so -O1 wins), the output named after the source */
	EXPECT(&p, p.status == 0 && !strncmp(p.out, "clang -O2 -g -target bpf ", 25) &&
		   strstr(p.out, " -I/usr/include/") && strstr(p.out, "-linux-gnu -DMAX=3 -O1 -c x.bpf.c -o x.bpf.o\n"));
}

TEST(cc_errors_name_the_problem)
{
	struct test_proc p;
	RUN_CLI(&p, "cc");
	EXPECT(&p, p.status == 2 && strstr(p.err, "no C source given"));
	RUN_CLI(&p, "cc", path_in_dir("missing.bpf.c"));
	EXPECT(&p, p.status == 1 && strstr(p.err, "missing.bpf.c: No such file or directory"));
	RUN_CLI(&p, "cc", "x.c", "-o");
	EXPECT(&p, p.status == 2 && strstr(p.err, "-o needs a file name"));
	if (!have_clang())
		return;
	/* a compile error is clang's, with its status */
	const char *bad = text_file("bad.bpf.c", "int f(void) { return undeclared; }\n");
	RUN_CLI(&p, "cc", bad, "-o", path_in_dir("bad.bpf.o"));
	EXPECT(&p, p.status != 0 && strstr(p.err, "undeclared"));
}

/* ---- errors that name the option, the mode from the file ------------------------------------ */

static const char *firewall(void)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/examples/xdp_firewall.bpf.o", build);
	if (access(path, R_OK)) /* sanitizer builds have no examples of their own */
		snprintf(path, sizeof(path), "build/examples/xdp_firewall.bpf.o");
	return path;
}

TEST(run_mode_follows_the_file_not_the_flags)
{
	struct test_proc p;
	/* assembly without a .s name is still assembly */
	const char *txt = text_file("prog.txt", "mov %r0, 7\nexit\n");
	RUN_CLI(&p, "run", txt);
	EXPECT(&p, p.status == 0 && !strcmp(p.out, "0x7\n"));
	/* a packet option on a raw program: says the file is not an object, names the option, no ELF error */
	const char *s = text_file("one.s", "r0 = 1\nexit\n");
	RUN_CLI(&p, "run", s, "--pcap", SAMPLE);
	EXPECT(&p, p.status == 2 && strstr(p.err, "one.s is not an ELF object, so '--pcap' does not apply") &&
		   !strstr(p.err, "ELF header") && !p.out[0]);
	/* options may come before the file */
	RUN_CLI(&p, "run", "--pcap", SAMPLE, s);
	EXPECT(&p, p.status == 2 && strstr(p.err, "one.s is not an ELF object"));
	/* a raw option on an object */
	RUN_CLI(&p, "run", firewall(), "--mem", "00");
	EXPECT(&p, p.status == 2 && strstr(p.err, "xdp_firewall.bpf.o is an ELF object, so '--mem' does not apply"));
	/* a missing file is said to be missing, not to be of the wrong kind */
	RUN_CLI(&p, "run", path_in_dir("nothere.o"), "--pcap", SAMPLE);
	EXPECT(&p, p.status == 1 && strstr(p.err, "nothere.o: No such file or directory"));
	/* the object runs with the options first too */
	RUN_CLI(&p, "run", "--count", "5", "--pcap", SAMPLE, "--no-maps", firewall());
	EXPECT(&p, p.status == 0 && strstr(p.out, ": 5 packets"));
}

TEST(errors_name_the_offending_option_or_argument)
{
	struct test_proc p;
	const char *s = text_file("two.s", "r0 = 2\nexit\n");
	static const struct {
		const char *args[6];
		const char *want;
	} cases[] = {
		{ { "run", "PROG", "--bogus" }, "unknown option '--bogus'" },
		{ { "run", "PROG", "--mem" }, "missing the value of '--mem'" },
		{ { "run", "PROG", "PROG" }, "unexpected argument" },
		{ { "run" }, "no program given" },
		{ { "run", "OBJ", "--pcap", SAMPLE, "--frobnicate" }, "unknown option '--frobnicate'" },
		{ { "run", "OBJ", "--pcap", SAMPLE, "--count", "abc" }, "--count: 'abc' is not a number" },
		{ { "run", "OBJ", "--pcap", SAMPLE, "--timeout", "-1" }, "--timeout: '-1' is not a number" },
		{ { "run", "OBJ", "--pcap" }, "missing the value of '--pcap'" },
		{ { "run", "OBJ" }, "no packet source: give --pcap FILE or --iface IF" },
		{ { "run", "OBJ", "--pcap", SAMPLE, "--iface", "lo" }, "choose one packet source" },
		{ { "asm", "--frob" }, "unknown option '--frob'" },
		{ { "asm", "PROG", "-o" }, "-o needs a file name" },
		{ { "disasm", "PROG", "PROG" }, "one file only: unexpected '/tmp/" },
		{ { "gen-pcap", "x.pcap", "--count", "zero" }, "--count: not a number from 1 to 10000000: 'zero'" },
		{ { "map", "-x" }, "unknown option '-x'" },
		{ { "map", "frob", "/x" }, "unknown command 'frob'" },
		{ { "conformance-plugin", "00", "11" }, "unexpected argument '11'" },
		{ { "nosuch" }, "unknown command 'nosuch'" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		const char *argv[8] = { 0 };
		for (size_t j = 0; j < 6 && cases[i].args[j]; j++) {
			const char *a = cases[i].args[j];
			argv[j] = !strcmp(a, "PROG") ? s : !strcmp(a, "OBJ") ? firewall() : a;
		}
		if (!spawn_prog(&p, NULL, argv)) {
			CHECK(!"could not run the CLI");
			return;
		}
		/* the usage text alone is not enough: the message names what was wrong */
		if (p.status != 2 || !strstr(p.err, cases[i].want))
			printf("  case %zu (%s %s): want \"%s\"\n", i, argv[0], argv[1] ? argv[1] : "", cases[i].want);
		EXPECT(&p, p.status == 2 && strstr(p.err, cases[i].want));
	}
}

/* ---- the pin root and --pin-maps ------------------------------------------------------------ */

TEST(run_pin_maps_leaves_maps_for_bpfvm_map)
{
	struct test_proc p;
	char pins[128], stats[160];
	snprintf(pins, sizeof(pins), "%s/pins", dir);
	snprintf(stats, sizeof(stats), "%s/stats", pins);
	RUN_CLI(&p, "run", firewall(), "--pcap", SAMPLE, "--no-maps", "--pin-maps", pins);
	EXPECT(&p, p.status == 0 && strstr(p.err, "pinned 6 maps under "));
	/* the run is over; its counters are still there: STAT_PASS (key 0) is 2614 = 0xa36 on one of the CPUs */
	RUN_CLI(&p, "map", "-j", "lookup", stats, "key", "0", "0", "0", "0");
	EXPECT(&p, p.status == 0 && strstr(p.out, "\"0x36\",\"0x0a\""));
	RUN_CLI(&p, "map", "show", stats);
	EXPECT(&p, p.status == 0 && strstr(p.out, "percpu_array"));
	/* a second run replaces the pins (the same names), and counts from zero again */
	RUN_CLI(&p, "run", firewall(), "--pcap", SAMPLE, "--no-maps", "--pin-maps", pins, "--count", "1");
	EXPECT(&p, p.status == 0 && strstr(p.err, "pinned 6 maps under "));
	RUN_CLI(&p, "map", "-j", "lookup", stats, "key", "0", "0", "0", "0");
	EXPECT(&p, p.status == 0 && !strstr(p.out, "\"0x36\",\"0x0a\""));
	/* relative: an error that says where pins live */
	RUN_CLI(&p, "run", firewall(), "--pcap", SAMPLE, "--pin-maps", "pins");
	EXPECT(&p, p.status == 2 && strstr(p.err, "'pins' is a relative path") && strstr(p.err, "the pin root /"));
	char name[PATH_MAX];
	snprintf(name, sizeof(name), "%s", stats);
	unlink(name);
}

TEST(pin_root_is_documented_and_relative_paths_refused)
{
	struct test_proc p;
	RUN_CLI(&p, "map", "help");
	EXPECT(&p, p.status == 0 && strstr(p.out, "pin root: /") && strstr(p.out, "XDG_RUNTIME_DIR"));
	RUN_CLI(&p, "map", "--pin-root", dir, "help");
	EXPECT(&p, p.status == 0 && strstr(p.out, "pin root: /tmp/bpfvm-test-cli-ux-"));
	RUN_CLI(&p, "map", "--pin-root", dir, "dump", "stats");
	EXPECT(&p, p.status == 1 && strstr(p.err, "stats: a pin path is absolute: pins live under /tmp/bpfvm-test-cli-ux-"));
}

/* ---- located faults in packet runs -------------------------------------------------------- */

/* Two faults: past a map value on 60-byte frames, past the packet on the others (line numbers matter). */
static const char fault_c[] =
	"#include <linux/bpf.h>\n"
	"#include <bpf/bpf_helpers.h>\n"
	"struct {\n"
	"	__uint(type, BPF_MAP_TYPE_ARRAY);\n"
	"	__uint(max_entries, 1);\n"
	"	__type(key, __u32);\n"
	"	__type(value, __u64);\n"
	"} stats SEC(\".maps\");\n"
	"SEC(\"xdp\") int faulty(struct xdp_md *ctx)\n"
	"{\n"
	"	unsigned char *data = (void *)(long)ctx->data;\n"
	"	__u32 k = 0;\n"
	"	__u64 *v = bpf_map_lookup_elem(&stats, &k);\n"
	"	if (v && ctx->data_end - ctx->data == 60)\n"
	"		return *(volatile __u64 *)((char *)v + 16) ? XDP_DROP : XDP_PASS;\n"   /* line 15 */
	"	return data[1500] ? XDP_DROP : XDP_PASS;\n"                                 /* line 16 */
	"}\n"
	"char LICENSE[] SEC(\"license\") = \"GPL\";\n";

TEST(packet_faults_are_located_once_each)
{
	struct test_proc p;
	if (!have_clang())
		SKIP("clang is not installed");
	const char *src = text_file("fault.bpf.c", fault_c), *obj = path_in_dir("fault.bpf.o");
	RUN_CLI(&p, "cc", src, "-o", obj);
	EXPECT(&p, p.status == 0);
	/* verified by default: refused at load, one line naming the object, section, insn and reason, and
	 * how to see the log or run it anyway; -v adds the verifier's log (the insns of the refused path) */
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps");
	EXPECT(&p, p.status == 1 && !strcmp(p.out, "") &&
		   strstr(p.err, "fault.bpf.o: section xdp: insn ") &&
		   strstr(p.err, ": invalid access to map value, value_size=8 off=16 size=8 (program 'faulty')\n") &&
		   strstr(p.err, "--no-verify runs it") && !strstr(p.err, "verifier log of"));
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps", "-v");
	EXPECT(&p, p.status == 1 && strstr(p.err, "verifier log of faulty (section xdp):\n") &&
		   strstr(p.err, "R10=fp0") && strstr(p.err, "invalid access to map value, value_size=8 off=16 size=8\n"));
	/* --no-verify: the run-time checks stop each bad access, located (the verifier's reasons, per packet) */
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps", "--no-verify");
	/* each distinct fault once: source line, region+offset, how many packets, the first one */
	EXPECT(&p, p.status == 1 && strstr(p.out, ", 2994 faulted\n") &&
		   strstr(p.out, "faults (each distinct one once; -v shows every packet):\n"));
	EXPECT(&p, strstr(p.out, " (fault.bpf.c:16): invalid memory read packet+1500 size=1\n"
				 "    in 2413 packets, first packet #1\n"));
	EXPECT(&p, strstr(p.out, " (fault.bpf.c:15): invalid memory read map 'stats' value+16 size=8\n"
				 "    in 581 packets, first packet #5\n"));
	EXPECT(&p, !strstr(p.out, "addr=") && !strstr(p.out, "0x"));
	/* -v: every packet with its fault */
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps", "--no-verify", "-v", "--count", "5");
	EXPECT(&p, strstr(p.out, "#1      len 104   fault: insn ") &&
		   strstr(p.out, " (fault.bpf.c:16): invalid memory read packet+1500 size=1\n"));
	EXPECT(&p, strstr(p.out, "#5      len 60    fault: insn ") && strstr(p.out, "map 'stats' value+16 size=8\n"));
	/* --json: the summary's faults, and each packet's with -v */
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps", "--no-verify", "--json");
	EXPECT(&p, strstr(p.out, "\"errors\":2994,") && strstr(p.out, "\"faults\":[{\"insn\":") &&
		   strstr(p.out, ",\"errno\":-14,\"packets\":2413,\"first_packet\":1,\"message\":\"insn ") &&
		   strstr(p.out, "(fault.bpf.c:16): invalid memory read packet+1500 size=1\"}"));
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--no-maps", "--no-verify", "--json", "-v", "--count", "1");
	EXPECT(&p, strstr(p.out, "{\"index\":1,\"len\":104,\"verdict\":\"fault\",\"errno\":-14,\"fault\":\"insn "));
	unlink(obj);
}

/* ---- BTF-aware output ----------------------------------------------------------------------------- */

static const char btf_c[] =
	"#include <linux/bpf.h>\n"
	"#include <bpf/bpf_helpers.h>\n"
	"struct val { char name[8]; __u32 count; __s32 delta; };\n"
	"struct {\n"
	"	__uint(type, BPF_MAP_TYPE_HASH);\n"
	"	__uint(max_entries, 64);\n"
	"	__type(key, __u32);\n"
	"	__type(value, struct val);\n"
	"} by_len SEC(\".maps\");\n"
	"struct pkt_event { __u32 len; char tag[4]; };\n"
	"struct {\n"
	"	__uint(type, BPF_MAP_TYPE_RINGBUF);\n"
	"	__uint(max_entries, 4096);\n"
	"} evs SEC(\".maps\");\n"
	"const volatile __u32 bucket = 100;\n"
	"struct pkt_event last; /* a global: puts struct pkt_event in BTF, for the ring buffer's records */\n"
	"SEC(\"xdp\") int btfprog(struct xdp_md *ctx)\n"
	"{\n"
	"	__u32 len = ctx->data_end - ctx->data, k = len / bucket;\n"
	"	struct val *v = bpf_map_lookup_elem(&by_len, &k);\n"
	"	if (!v) {\n"
	"		struct val nv = { .name = \"bucket\", .count = 1, .delta = -1 };\n"
	"		bpf_map_update_elem(&by_len, &k, &nv, BPF_ANY);\n"
	"	} else {\n"
	"		v->count++;\n"
	"		v->delta--;\n"
	"	}\n"
	"	struct pkt_event e = { .len = len, .tag = \"pkt\" };\n"
	"	last = e;\n"
	"	bpf_ringbuf_output(&evs, &e, sizeof(e), 0);\n"
	"	return XDP_PASS;\n"
	"}\n"
	"char LICENSE[] SEC(\"license\") = \"GPL\";\n";

TEST(map_dumps_and_events_follow_btf)
{
	struct test_proc p;
	if (!have_clang())
		SKIP("clang is not installed");
	const char *src = text_file("btf.bpf.c", btf_c), *obj = path_in_dir("btf.bpf.o");
	RUN_CLI(&p, "cc", src, "-o", obj);
	EXPECT(&p, p.status == 0);
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--events", "2");
	/* events as their struct (found by size), char arrays as strings, ints in decimal */
	EXPECT(&p, p.status == 0 && strstr(p.out, "event evs (8 bytes): {len: 104, tag: \"pkt\"}\n") &&
		   strstr(p.out, "event evs (8 bytes): {len: 175, tag: \"pkt\"}\n"));
	/* the hash map's entries sorted by key as numbers (1 < 2 < 10), values by field */
	const char *k0 = strstr(p.out, "    key 0  value {name: \"bucket\", count: ");
	const char *k1 = strstr(p.out, "    key 1  value {name: \"bucket\", count: ");
	const char *k2 = strstr(p.out, "    key 2  value {name: \"bucket\", count: ");
	const char *k10 = strstr(p.out, "    key 10  value {name: \"bucket\", count: ");
	EXPECT(&p, k0 && k1 && k2 && k10 && k0 < k1 && k1 < k2 && k2 < k10);
	EXPECT(&p, strstr(p.out, "    key 0  value {name: \"bucket\", count: 1398, delta: -1398}\n"));
	/* global data by variable */
	EXPECT(&p, strstr(p.out, "value {bucket: 100}\n"));
	/* JSON: bpftool's shape for maps with BTF */
	RUN_CLI(&p, "run", obj, "--pcap", SAMPLE, "--json", "--count", "1");
	EXPECT(&p, strstr(p.out, "\"entries\":[{\"key\":1,\"value\":{\"name\":\"bucket\",\"count\":1,\"delta\":-1}}]") &&
		   strstr(p.out, "\"value\":{\"len\":104,\"tag\":\"pkt\"}") && strstr(p.out, "{\"bucket\":100}"));
	unlink(obj);
}

/* `bpfvm map dump` of a hash map: in key order, the same every time (hash order changes with the seed). */
TEST(map_dump_is_sorted_by_key)
{
	struct test_proc p;
	char pins[128], sources[160], first[65536];
	snprintf(pins, sizeof(pins), "%s/sortpins", dir);
	snprintf(sources, sizeof(sources), "%s/sources", pins);
	RUN_CLI(&p, "run", firewall(), "--pcap", SAMPLE, "--no-maps", "--pin-maps", pins);
	EXPECT(&p, p.status == 0);
	RUN_CLI(&p, "map", "dump", sources);
	EXPECT(&p, p.status == 0 && strstr(p.out, "Found 313 elements"));
	snprintf(first, sizeof(first), "%s", p.out);
	/* the keys are typed (struct src_key { __u8 addr[16]; }): in byte order of the address */
	uint8_t prev[16] = { 0 };
	int keys = 0, sorted = 1;
	for (const char *k = strstr(p.out, "key: {addr: ["); k; k = strstr(k + 1, "key: {addr: [")) {
		uint8_t cur[16];
		const char *c = k + strlen("key: {addr: [");
		for (int i = 0; i < 16; i++) {
			char *end;
			cur[i] = (uint8_t)strtoul(c, &end, 10);
			c = end + (*end == ',' ? 2 : 0);
		}
		if (keys && memcmp(prev, cur, 16) > 0)
			sorted = 0;
		memcpy(prev, cur, 16);
		keys++;
	}
	CHECK_EQ_U64(keys, 313);
	CHECK(sorted);
	/* a second instance sees the same order: nothing depends on the hash seed */
	RUN_CLI(&p, "map", "dump", sources);
	CHECK(!strcmp(first, p.out));
}

/* A minimal JSON checker (RFC 8259 values, no duplicate-key check): *p advanced past one value. */
static bool json_value(const char **p, int depth);

static void json_ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static bool json_string(const char **p)
{
	if (*(*p)++ != '"')
		return false;
	for (; **p != '"'; (*p)++) {
		if ((unsigned char)**p < 0x20)
			return false;
		if (**p == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", (*p)[i]) || !(*p)[i])
						return false;
				*p += 4;
			} else if (!**p || !strchr("\"\\/bfnrt", **p)) {
				return false;
			}
		}
	}
	(*p)++;
	return true;
}

static bool json_value(const char **p, int depth)
{
	json_ws(p);
	if (depth > 64)
		return false;
	if (**p == '{' || **p == '[') {
		char close = **p == '{' ? '}' : ']';
		bool obj = **p == '{';
		(*p)++;
		json_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		for (;;) {
			if (obj) {
				json_ws(p);
				if (!json_string(p))
					return false;
				json_ws(p);
				if (*(*p)++ != ':')
					return false;
			}
			if (!json_value(p, depth + 1))
				return false;
			json_ws(p);
			if (**p == close) {
				(*p)++;
				return true;
			}
			if (*(*p)++ != ',')
				return false;
		}
	}
	if (**p == '"')
		return json_string(p);
	for (const char *lit = "true\0false\0null\0"; *lit; lit += strlen(lit) + 1)
		if (!strncmp(*p, lit, strlen(lit))) {
			*p += strlen(lit);
			return true;
		}
	/* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
	const char *c = *p;
	if (*c == '-')
		c++;
	if (*c == '0')
		c++;
	else if (*c >= '1' && *c <= '9')
		while (*c >= '0' && *c <= '9')
			c++;
	else
		return false;
	if (*c == '.') {
		if (!(*++c >= '0' && *c <= '9'))
			return false;
		while (*c >= '0' && *c <= '9')
			c++;
	}
	if (*c == 'e' || *c == 'E') {
		c++;
		if (*c == '+' || *c == '-')
			c++;
		if (!(*c >= '0' && *c <= '9'))
			return false;
		while (*c >= '0' && *c <= '9')
			c++;
	}
	*p = c;
	return true;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool json_valid(const char *s)
{
	if (!json_value(&s, 0))
		return false;
	json_ws(&s);
	return *s == '\0';
}

/* Issue 13, point 3: `bpfvm map dump` of what a run left pinned prints keys and values as the object's
 * BTF says, in another process than the run's -- structs by field, integers in decimal, global data by
 * variable -- and -j is JSON as bpftool prints it for a map with BTF.  A map made without BTF stays hex. */
TEST(map_dump_of_a_run_s_pins_is_typed)
{
	struct test_proc p;
	char pins[128], sources[160], stats[160], rodata[160], bare[160];
	snprintf(pins, sizeof(pins), "%s/typedpins", dir);
	snprintf(sources, sizeof(sources), "%s/sources", pins);
	snprintf(stats, sizeof(stats), "%s/stats", pins);
	snprintf(rodata, sizeof(rodata), "%s/.rodata", pins);
	snprintf(bare, sizeof(bare), "%s/bare", pins);
	RUN_CLI(&p, "run", firewall(), "--pcap", SAMPLE, "--no-maps", "--pin-maps", pins);
	EXPECT(&p, p.status == 0 && strstr(p.err, "pinned 6 maps under "));

	/* struct src_key { __u8 addr[16]; } -> struct src_stat { __u64 pkts, bytes; }: 10.1.0.1 as ::ffff:10.1.0.1 */
	RUN_CLI(&p, "map", "dump", sources);
	EXPECT(&p, p.status == 0 && strstr(p.out, "Found 313 elements\n") &&
		   starts(p.out, "key: {addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 0, 1]}  "
				   "value: {pkts: 8, bytes: 2833}\n"));
	RUN_CLI(&p, "map", "-j", "dump", sources);
	EXPECT(&p, p.status == 0 && json_valid(p.out) &&
		   starts(p.out, "[{\"key\":{\"addr\":[0,0,0,0,0,0,0,0,0,0,255,255,10,1,0,1]},"
				   "\"value\":{\"pkts\":8,\"bytes\":2833}},"));
	/* __u32 -> __u64 per CPU: STAT_PASS (key 0) is 2614 on the CPU that ran the packets */
	RUN_CLI(&p, "map", "dump", stats);
	EXPECT(&p, p.status == 0 && starts(p.out, "key: 0  \nvalue (CPU 00): ") && strstr(p.out, "): 2614\n") &&
		   strstr(p.out, "\nkey: 12  \n") && strstr(p.out, "Found 13 elements\n"));
	RUN_CLI(&p, "map", "-j", "dump", stats);
	EXPECT(&p, p.status == 0 && json_valid(p.out) && starts(p.out, "[{\"key\":0,\"values\":[{\"cpu\":0,\"value\":") &&
		   strstr(p.out, "\"value\":2614}"));
	/* global data by variable, at the offsets the ELF symbols give */
	RUN_CLI(&p, "map", "dump", rodata);
	EXPECT(&p, p.status == 0 && !strcmp(p.out, "key: 0  value: {rate_limit_pkts: 200, malformed_verdict: 1, report_drops: 1}\n"
						 "Found 1 element\n"));
	RUN_CLI(&p, "map", "-j", "dump", rodata);
	EXPECT(&p, p.status == 0 && !strcmp(p.out, "[{\"key\":0,\"value\":{\"rate_limit_pkts\":200,\"malformed_verdict\":1,"
						 "\"report_drops\":1}}]\n") && json_valid(p.out));

	/* no BTF (made by `bpfvm map create`): hex, and JSON byte arrays */
	RUN_CLI(&p, "map", "create", bare, "type", "hash", "key", "4", "value", "8", "entries", "4");
	EXPECT(&p, p.status == 0);
	RUN_CLI(&p, "map", "update", bare, "key", "7", "0", "0", "0", "value", "3", "0", "0", "0", "4", "0", "0", "0");
	EXPECT(&p, p.status == 0);
	RUN_CLI(&p, "map", "dump", bare);
	EXPECT(&p, p.status == 0 && !strcmp(p.out, "key: 07 00 00 00  value: 03 00 00 00 04 00 00 00\nFound 1 element\n"));
	RUN_CLI(&p, "map", "-j", "dump", bare);
	EXPECT(&p, p.status == 0 && json_valid(p.out) &&
		   !strcmp(p.out, "[{\"key\":[\"0x07\",\"0x00\",\"0x00\",\"0x00\"],\"value\":[\"0x03\",\"0x00\",\"0x00\",\"0x00\","
				  "\"0x04\",\"0x00\",\"0x00\",\"0x00\"]}]\n"));
	/* the checker itself refuses what is not JSON */
	CHECK(!json_valid("[{\"key\":0,}]") && !json_valid("{key: 0}") && !json_valid("[1] x") && json_valid(" [] "));
}

/* `make demo`: every number it prints comes with what it means. */
TEST(demo_explains_its_output)
{
	struct test_proc p;
	if (access("build/bpfvm", X_OK) || access("build/examples/xdp_firewall.bpf.o", R_OK))
		SKIP("the normal build (build/) is not there: make all");
	if (!spawn_prog(&p, "python3", (const char *const[]){ "-c", "pass", NULL }) || p.status)
		SKIP("python3 is not installed");
	if (!spawn_prog(&p, "sh", (const char *const[]){ "scripts/demo.sh", "build", NULL })) {
		CHECK(!"could not run scripts/demo.sh");
		return;
	}
	EXPECT(&p, p.status == 0);
	EXPECT(&p, strstr(p.out, "== The program\n") && strstr(p.out, "== The run\n") && strstr(p.out, "How to read it:\n"));
	EXPECT(&p, strstr(p.out, "  - \"too short to run\": frames shorter than an Ethernet header (14 bytes)"));
	EXPECT(&p, strstr(p.out, "  blocked               120   dropped: the source is in a blocked prefix\n") &&
		   strstr(p.out, "  over budget           336   dropped: the source sent more than rate_limit_pkts (200) packets\n") &&
		   strstr(p.out, "  malformed              44   dropped: frame cut short, or a bad IP version or header length\n"));
	EXPECT(&p, strstr(p.out, "  blocked      144 bytes from 203.0.113.193   rule 2\n"));
	/* the events by field: the program names their type (EVENT_TYPE()) */
	EXPECT(&p, strstr(p.out, "event events (32 bytes): {reason: 1, len: 144, addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
				 "255, 255, 203, 0, 113, 193], rule: 2, pad: 0}\n"));
	EXPECT(&p, strstr(p.out, "Verdicts: 500 dropped = 120 blocked + 336 over budget + 44 malformed; 2494 passed; "
				 "6 frames too short to run.\n"));
	/* the maps by their types */
	EXPECT(&p, strstr(p.out, "    key 0  value {rate_limit_pkts: 200, malformed_verdict: 1, report_drops: 1}\n"));
}

int main(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	/* <build>/tests/test_cli_ux -> <build>/bpfvm */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(build, sizeof(build), "%s", self);
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", build);
	if (access(cli, X_OK)) {
		printf("FAIL cli_ux: %s not built\n", cli);
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/bpfvm-test-cli-ux-%d", (int)getpid());
	if (mkdir(dir, 0700)) {
		printf("FAIL cli_ux: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	RUN(version_is_printed);
	RUN(every_subcommand_answers_help);
	RUN(engines_are_documented);
	RUN(cc_builds_a_first_program_that_runs);
	RUN(cc_uses_target_debug_info_and_multiarch_includes);
	RUN(cc_errors_name_the_problem);
	RUN(run_mode_follows_the_file_not_the_flags);
	RUN(errors_name_the_offending_option_or_argument);
	RUN(run_pin_maps_leaves_maps_for_bpfvm_map);
	RUN(pin_root_is_documented_and_relative_paths_refused);
	RUN(packet_faults_are_located_once_each);
	RUN(map_dumps_and_events_follow_btf);
	RUN(map_dump_is_sorted_by_key);
	RUN(map_dump_of_a_run_s_pins_is_typed);
	RUN(demo_explains_its_output);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		printf("  note: %s left behind\n", dir);
	return test_done();
}
