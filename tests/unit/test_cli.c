/* test_cli.c -- the bpfvm CLI as separate processes (build/bpfvm next to this binary's folder): `asm`
 * bytes, `disasm` text, `run` of .s and .bin programs on --mem / --mem-file input, the --insn-limit
 * error, and `conformance-plugin` as bpf_conformance drives it (stdin = program hex, argument = memory
 * hex, stdout = r0 in hex or one line of error, exit status).  Every child's stdout, stderr and exit
 * status are checked; nothing goes through a shell. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char cli[PATH_MAX], dir[64];

/* Runs a child; a test that cannot even start it fails there. */
#define RUN_CLI(p, in, ...) do { \
		if (!test_spawn((p), cli, "bpfvm", (in), (const char *const[]){ __VA_ARGS__, NULL }, dir)) { \
			CHECK(!"could not run the CLI"); \
			return; \
		} \
	} while (0)

static const char *file(const char *name, const void *data, size_t len)
{
	static char paths[8][128];
	static unsigned next;
	char *path = paths[next++ % N(paths)];
	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		printf("  cannot write %s\n", path);
		if (f)
			fclose(f);
		return path;
	}
	fclose(f);
	return path;
}

static const char *text_file(const char *name, const char *text)
{
	return file(name, text, strlen(text));
}

/* Counts the lines of s (a final line without '\n' counts). */
static int lines(const char *s)
{
	int n = 0;
	for (const char *c = s; *c; c++)
		n += *c == '\n';
	return n + (*s && s[strlen(s) - 1] != '\n');
}

/* Both syntaxes in one source; the encoding is what RFC 9669 gives for each line. */
static const char prog_src[] =
	"mov %r0, 1\n"
	"r0 += r1\n"
	"ldxw %r2, [%r1+4]\n"
	"lddw %r3, 0x1122334455667788\n"
	"if r2 > 5 goto +1\n"
	"exit\n"
	"r0 = r2\n"
	"exit\n";
static const struct bpf_insn prog_enc[] = {
	INSN_ID(MOV64_K, 0, 0, 0, 1),
	INSN_ID(ADD64_X, 0, 1, 0, 0),
	INSN_ID(LDXW, 2, 1, 4, 0),
	INSN_ID(LDDW, 3, 0, 0, 0x55667788),
	LDDW_HI(0x11223344),
	INSN_ID(JGT_K, 2, 0, 1, 5),
	INSN_ID(EXIT, 0, 0, 0, 0),
	INSN_ID(MOV64_X, 0, 2, 0, 0),
	INSN_ID(EXIT, 0, 0, 0, 0),
};

TEST(cli_asm_writes_the_encoding)
{
	struct test_proc p;
	const char *src = text_file("prog.s", prog_src);
	char bin[160];
	snprintf(bin, sizeof(bin), "%s/prog.bin", dir);

	RUN_CLI(&p, NULL, "asm", src, "-o", bin);
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.err, "");
	FILE *f = fopen(bin, "rb");
	uint8_t got[sizeof(prog_enc) + 8];
	size_t n = f ? fread(got, 1, sizeof(got), f) : 0;
	if (f)
		fclose(f);
	CHECK_EQ_U64(n, sizeof(prog_enc));
	CHECK(n == sizeof(prog_enc) && !memcmp(got, prog_enc, sizeof(prog_enc)));

	/* without -o: the same bytes as hex, one instruction per line */
	RUN_CLI(&p, NULL, "asm", src);
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_U64(lines(p.out), N(prog_enc));
	CHECK(!strncmp(p.out, "b7 00 00 00 01 00 00 00\n0f 10 00 00 00 00 00 00\n", 48));
	CHECK(strstr(p.out, "\n18 03 00 00 88 77 66 55\n00 00 00 00 44 33 22 11\n") != NULL);

	/* an assembler error: located message, non-zero exit, no output file */
	const char *bad = text_file("bad.s", "mov %r0, 1\nfrob %r1\nexit\n");
	char badbin[160];
	snprintf(badbin, sizeof(badbin), "%s/bad.bin", dir);
	RUN_CLI(&p, NULL, "asm", bad, "-o", badbin);
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "line 2") != NULL);
	CHECK(access(badbin, F_OK) != 0);
}

TEST(cli_disasm_prints_llvm_syntax)
{
	struct test_proc p;
	const char *bin = file("dis.bin", prog_enc, sizeof(prog_enc));
	/* llvm-objdump-14 -d (and -19 --no-print-imm-hex) print these lines for the same bytes */
	static const char want[] =
		"    0: r0 = 1\n"
		"    1: r0 += r1\n"
		"    2: r2 = *(u32 *)(r1 + 4)\n"
		"    3: r3 = 1234605616436508552 ll\n"   /* 0x1122334455667788 */
		"    5: if r2 > 5 goto +1\n"
		"    6: exit\n"
		"    7: r0 = r2\n"
		"    8: exit\n";

	RUN_CLI(&p, NULL, "disasm", bin);
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, want);
	/* a .s goes through the assembler first: same text */
	RUN_CLI(&p, NULL, "disasm", text_file("dis.s", prog_src));
	CHECK_EQ_STR(p.out, want);
	/* a .bin that is not whole instructions is refused */
	RUN_CLI(&p, NULL, "disasm", file("odd.bin", prog_enc, 12));
	CHECK(p.status != 0);
	CHECK(p.err[0] != '\0');
}

/* A raw lddw needs its whole second slot: cut off by the end of the file, or a second slot that is an
 * instruction of its own, is an error naming the slot; nothing is listed. */
TEST(cli_disasm_raw_lddw_needs_its_second_slot)
{
	struct test_proc p;
	const struct bpf_insn at_end[] = { MOV_K(0, 1), INSN_ID(LDDW, 1, 0, 0, 5) };
	const struct bpf_insn not_hi[] = { INSN_ID(LDDW, 1, 0, 0, 5), MOV_K(0, 7), EXIT };
	const struct bpf_insn reg_hi[] = { EXIT, INSN_ID(LDDW, 1, 0, 0, 5), INSN(0, 2, 0, 0, 7), EXIT };

	RUN_CLI(&p, NULL, "disasm", file("lddw_end.bin", at_end, sizeof(at_end)));
	CHECK_EQ_U64(p.status, 1);
	CHECK_EQ_STR(p.out, "");
	CHECK(strstr(p.err, "lddw_end.bin: insn 1: incomplete lddw: missing second slot\n") != NULL);
	RUN_CLI(&p, NULL, "disasm", file("lddw_not_hi.bin", not_hi, sizeof(not_hi)));
	CHECK_EQ_U64(p.status, 1);
	CHECK_EQ_STR(p.out, "");
	CHECK(strstr(p.err, "lddw_not_hi.bin: insn 1: invalid lddw second slot: code 0xb7, dst r0, src r0, off 0") != NULL);
	RUN_CLI(&p, NULL, "disasm", file("lddw_reg_hi.bin", reg_hi, sizeof(reg_hi)));
	CHECK_EQ_U64(p.status, 1);
	CHECK(strstr(p.err, "insn 2: invalid lddw second slot: code 0x00, dst r2") != NULL);
}

/* --jited: the native code under each insn (x86 text by objdump when installed, bytes otherwise). */
TEST(cli_disasm_jited)
{
	struct test_proc p;
	const char *bin = file("jit.bin", prog_enc, sizeof(prog_enc));

	RUN_CLI(&p, NULL, "disasm", "--jited", bin);
#if defined(__x86_64__)
	CHECK_EQ_U64(p.status, 0);
	CHECK(strstr(p.out, "; prologue\n") != NULL);
	CHECK(strstr(p.out, "; 0: r0 = 1\n") != NULL);
	CHECK(strstr(p.out, "; 3: r3 = 1234605616436508552 ll\n") != NULL);
	CHECK(strstr(p.out, "; 4:") == NULL); /* the lddw's second slot has no code of its own */
	CHECK(strstr(p.out, "; 5: if r2 > 5 goto +1\n") != NULL);
	CHECK(strstr(p.out, "; 8: exit\n") != NULL);
	CHECK(strstr(p.out, "; slow paths and exits\n") != NULL);
	/* under "; 0": r0 = 1 is `mov $0x1,%eax` (b8 01 00 00 00) in either form */
	const char *i0 = strstr(p.out, "; 0: r0 = 1\n");
	CHECK(i0 && (strstr(i0, "b8 01 00 00 00") != NULL));
#else
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "JIT") != NULL);
#endif
	/* --prog is for objects */
	RUN_CLI(&p, NULL, "disasm", "--jited", bin, "--prog", "x");
	CHECK(p.status != 0);
}

/* --jited --type TYPE: a .s file verified as TYPE, its code without the checks the proof covers (the
 * store through r2 has one when unverified); a type that is not one, or --type without --jited, is
 * refused. */
TEST(cli_disasm_jited_type)
{
	static const char src[] = "r2 = r10\n r2 += -8\n *(u64 *)(r2 + 0) = 7\n r0 = *(u64 *)(r10 - 8)\n exit\n";
	const char *s = file("store.s", src, sizeof(src) - 1);
	struct test_proc p;
	unsigned long checked = 0, proven = 0;

#if defined(__x86_64__)
	RUN_CLI(&p, NULL, "disasm", "--jited", s);
	CHECK_EQ_U64(p.status, 0);
	CHECK(sscanf(p.out, "%*s 5 insns, %lu bytes of native code", &checked) == 1);
	RUN_CLI(&p, NULL, "disasm", "--jited", s, "--type", "xdp");
	CHECK_EQ_U64(p.status, 0);
	CHECK(sscanf(p.out, "%*s 5 insns, %lu bytes of native code", &proven) == 1);
	CHECK(proven > 0 && proven < checked);
	CHECK(strstr(p.out, "; 2: *(u64 *)(r2 + 0) = 7\n") != NULL);
#endif
	RUN_CLI(&p, NULL, "disasm", "--jited", s, "--type", "nonesuch");
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "not a program type") != NULL);
	RUN_CLI(&p, NULL, "disasm", s, "--type", "xdp");
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "--type goes with --jited") != NULL);
}

/* Runs a program found on PATH with argv (NULL-terminated) and waits: its exit status, -1 when it could not
 * run (e.g. not installed). */
static int run_tool(char *const argv[])
{
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ))
		return -1;
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ELF objects are listed as llvm-objdump -dr lists them (test_disasm compares the text); what is not
 * understood is an error: a file with ELF magic that is no BPF object, a --prog that is not there, bytes
 * that are no instruction (listed, then status 1). */
TEST(cli_disasm_objects_and_refusals)
{
	struct test_proc p;
	static const uint8_t junk[16] = { 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0 };
	RUN_CLI(&p, NULL, "disasm", file("junk.bin", junk, sizeof(junk)));
	CHECK_EQ_U64(p.status, 1);
	CHECK(strstr(p.out, "<unknown>") && strstr(p.out, "exit"));
	CHECK(strstr(p.err, "1 instruction not understood") != NULL);
	char fake[256];
	memset(fake, 0, sizeof(fake));
	memcpy(fake, "\177ELF\002\001\001", 7); /* ELF64 little-endian, then nothing that makes sense */
	RUN_CLI(&p, NULL, "disasm", file("fake.o", fake, sizeof(fake)));
	CHECK_EQ_U64(p.status, 1);
	CHECK(p.out[0] == '\0' && strstr(p.err, "fake.o: ELF: ") != NULL);
	RUN_CLI(&p, NULL, "disasm", file("junk2.bin", junk, sizeof(junk)), "--prog", "x");
	CHECK_EQ_U64(p.status, 2); /* options are for objects */
	RUN_CLI(&p, NULL, "disasm", "--mcpu=v9", "x.o");
	CHECK_EQ_U64(p.status, 2);

	char src[128], obj[128];
	snprintf(src, sizeof(src), "%s/one.bpf.c", dir);
	snprintf(obj, sizeof(obj), "%s/one.bpf.o", dir);
	text_file("one.bpf.c", "__attribute__((section(\"xdp\"), used)) int one(void *ctx)\n"
			       "{\n\treturn ctx ? 2 : 1;\n}\n");
	char *cc[] = { "clang", "-O2", "-target", "bpf", "-c", src, "-o", obj, NULL };
	if (run_tool(cc) != 0) {
		printf("  clang could not build a BPF object: the object cases are not run\n");
		return;
	}
	RUN_CLI(&p, NULL, "disasm", obj);
	CHECK_EQ_U64(p.status, 0);
	char head[320];
	snprintf(head, sizeof(head), "\n%s:\tfile format elf64-bpf\n\nDisassembly of section xdp:\n\n0000000000000000 <one>:\n",
		 obj);
	CHECK(!strncmp(p.out, head, strlen(head)));
	CHECK(strstr(p.out, "\texit\n") != NULL);
	RUN_CLI(&p, NULL, "disasm", obj, "--prog", "one", "--no-show-raw-insn", "--no-print-imm-hex");
	CHECK_EQ_U64(p.status, 0);
	CHECK(strstr(p.out, ":\texit\n") != NULL && !strstr(p.out, "95 00"));
	RUN_CLI(&p, NULL, "disasm", obj, "--prog", "two");
	CHECK_EQ_U64(p.status, 1);
	CHECK(strstr(p.err, "no function 'two'") != NULL);
}

TEST(cli_run_source_and_binary_on_memory)
{
	struct test_proc p;
	const char *src = text_file("run.s", prog_src);
	const char *bin = file("run.bin", prog_enc, sizeof(prog_enc));
	/* the u32 at +4 is > 5, so r0 = that word (the other path would return 1 + an address) */
	static const uint8_t mem[] = { 0, 0, 0, 0, 9, 0, 0, 0 };
	const char *memf = file("mem.bin", mem, sizeof(mem));

	RUN_CLI(&p, NULL, "run", src, "--mem", "00 00 00 00 09 00 00 00");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0x9\n");
	RUN_CLI(&p, NULL, "run", bin, "--mem-file", memf);
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0x9\n");
	RUN_CLI(&p, NULL, "run", bin, "--mem", "0000000007000000");
	CHECK_EQ_STR(p.out, "0x7\n");

	/* r2 = length of the memory; the program's memory is exactly that long */
	const char *len_src = text_file("len.s", "r0 = r2\nr3 = *(u8 *)(r1 + 4)\nr0 += r3\nexit\n");
	RUN_CLI(&p, NULL, "run", len_src, "--mem", "01 02 03 04 05");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0xa\n");
	RUN_CLI(&p, NULL, "run", len_src, "--mem", "01 02 03 04");
	CHECK(p.status != 0);
	CHECK_EQ_STR(p.out, "");
	CHECK(strstr(p.err, "insn 1: invalid memory read") != NULL);

	/* input errors */
	RUN_CLI(&p, NULL, "run", src, "--mem", "0g");
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "--mem") != NULL);
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no-such.bin", dir);
	RUN_CLI(&p, NULL, "run", bin, "--mem-file", missing);
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "no-such.bin") != NULL);
}

TEST(cli_run_insn_limit)
{
	struct test_proc p;
	/* 100 back-jumps, then exit with the count */
	const char *bounded = text_file("loop.s", "r0 = 0\nl: r0 += 1\nif r0 < 100 goto l\nexit\n");
	const char *endless = text_file("endless.s", "l: goto l\nexit\n");

	RUN_CLI(&p, NULL, "run", bounded, "--insn-limit", "1000");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0x64\n");
	RUN_CLI(&p, NULL, "run", bounded, "--insn-limit", "50");
	CHECK(p.status != 0);
	CHECK_EQ_STR(p.out, "");
	CHECK(strstr(p.err, "instruction budget exhausted") != NULL);
	RUN_CLI(&p, NULL, "run", endless, "--insn-limit", "100000");
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "insn 0: instruction budget exhausted") != NULL);
}

/* Raw programs are untrusted unless --trusted (issue 8 item 7): a host stack address in r0 and a probe
 * read of the host (the 8 bytes below the input) are refused with a clear message. */
TEST(cli_run_untrusted_by_default)
{
	struct test_proc p;
	const char *r10 = text_file("r10.s", "mov %r0, %r10\nexit\n");
	const char *probe = text_file("probe.s", "r3 = r1\nr3 += -8\nr1 = r10\nr1 += -8\nr2 = 8\ncall 113\n"
						 "r1 = *(u64 *)(r10 - 8)\nr0 <<= 32\nr0 |= r1\nexit\n");

	RUN_CLI(&p, NULL, "run", r10);
	CHECK(p.status != 0);
	CHECK_EQ_STR(p.out, "");
	CHECK(strstr(p.err, "insn 1: R0 leaks addr as return value (untrusted mode)") != NULL);
	RUN_CLI(&p, NULL, "run", r10, "--untrusted");
	CHECK(p.status != 0);
	RUN_CLI(&p, NULL, "run", r10, "--trusted");   /* today's behaviour: the address is printed */
	CHECK_EQ_U64(p.status, 0);
	CHECK(strncmp(p.out, "0x7f", 4) == 0);

	RUN_CLI(&p, NULL, "run", probe, "--mem", "0011223344556677");
	CHECK(p.status != 0);
	CHECK(strstr(p.err, "insn 5: program of this type cannot use helper bpf_probe_read_kernel#113 "
			    "(untrusted mode: no probe reads)") != NULL);
	/* trusted: the read is refused at run time, -EFAULT with the destination zeroed */
	RUN_CLI(&p, NULL, "run", probe, "--mem", "0011223344556677", "--trusted");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "0xfffffff200000000\n");
}

/* The program as bpf_conformance sends it: two hex digits per byte, each followed by a space. */
static void to_hex(const void *data, size_t len, char *out)
{
	const uint8_t *b = data;
	for (size_t i = 0; i < len; i++)
		sprintf(out + 3 * i, "%02x ", b[i]);
	out[3 * len] = '\0';
}

TEST(cli_conformance_plugin)
{
	struct test_proc p;
	char hex[1024];
	/* r0 = *(u64 *)(r1 + 0) + r2 */
	static const struct bpf_insn sum[] = {
		INSN_ID(LDXDW, 0, 1, 0, 0),
		INSN_ID(ADD64_X, 0, 2, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	to_hex(sum, sizeof(sum), hex);

	RUN_CLI(&p, hex, "conformance-plugin", "01 02 00 00 00 00 00 00 ff", "--interp");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "20a\n");          /* 0x201 + 9 bytes, printed in hex without 0x */
	/* no engine flag: the default engine (the JIT on x86-64), same answer */
	RUN_CLI(&p, hex, "conformance-plugin", "01 02 00 00 00 00 00 00 ff");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "20a\n");
	/* no memory argument: r1 = NULL, r2 = 0 */
	static const struct bpf_insn ret_r2[] = { INSN_ID(MOV64_X, 0, 2, 0, 0), INSN_ID(ADD64_K, 0, 0, 0, -1), INSN_ID(EXIT, 0, 0, 0, 0) };
	char hex2[256];
	to_hex(ret_r2, sizeof(ret_r2), hex2);
	RUN_CLI(&p, hex2, "conformance-plugin");
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "ffffffffffffffff\n");

	/* a bad opcode: one line naming it, non-zero exit */
	static const struct bpf_insn bad_op[] = { INSN(0x8e, 0, 0, 0, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	to_hex(bad_op, sizeof(bad_op), hex2);
	RUN_CLI(&p, hex2, "conformance-plugin", "--interp");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "unknown opcode 0x8e") != NULL);

	/* an access past the memory: verified (the default), the load refuses it; with --no-verify the
	 * run faults; either way one line, non-zero */
	static const struct bpf_insn oob[] = { INSN_ID(LDXW, 0, 1, 8, 0), INSN_ID(EXIT, 0, 0, 0, 0) };
	to_hex(oob, sizeof(oob), hex2);
	RUN_CLI(&p, hex2, "conformance-plugin", "01 02 03 04");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "insn 0: invalid access to memory, mem_size=4 off=8 size=4") != NULL);
	RUN_CLI(&p, hex2, "conformance-plugin", "01 02 03 04", "--no-verify");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "insn 0: invalid memory read") != NULL);

	/* bad hex: program on stdin, then memory argument */
	RUN_CLI(&p, "79 10 00 0z", "conformance-plugin");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "invalid program encoding") != NULL);
	RUN_CLI(&p, hex, "conformance-plugin", "01 2");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "invalid memory encoding") != NULL);
	/* not whole instructions */
	RUN_CLI(&p, "95 00 00 00", "conformance-plugin");
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);

	/* --jit: the native code, same answer (where there is no JIT: said in one line, non-zero) */
	RUN_CLI(&p, hex, "conformance-plugin", "01 02 00 00 00 00 00 00 ff", "--jit");
#if defined(__x86_64__)
	CHECK_EQ_U64(p.status, 0);
	CHECK_EQ_STR(p.out, "20a\n");
#else
	CHECK(p.status != 0);
	CHECK_EQ_U64(lines(p.out), 1);
	CHECK(strstr(p.out, "JIT") != NULL);
#endif
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	/* <build>/tests/test_cli -> <build>/bpfvm */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", n > 0 ? self : argv[0]);
	if (access(cli, X_OK)) {
		printf("FAIL cli: %s not built\n", cli);
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/bpfvm-test-cli-%d", (int)getpid());
	if (mkdir(dir, 0700)) {
		printf("FAIL cli: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	RUN(cli_asm_writes_the_encoding);
	RUN(cli_disasm_prints_llvm_syntax);
	RUN(cli_disasm_raw_lddw_needs_its_second_slot);
	RUN(cli_disasm_jited);
	RUN(cli_disasm_jited_type);
	RUN(cli_disasm_objects_and_refusals);
	RUN(cli_run_source_and_binary_on_memory);
	RUN(cli_run_insn_limit);
	RUN(cli_run_untrusted_by_default);
	RUN(cli_conformance_plugin);
	char cmd_path[128];
	static const char *const names[] = { "prog.s", "prog.bin", "bad.s", "bad.bin", "dis.bin", "dis.s", "odd.bin",
					     "run.s", "run.bin", "mem.bin", "len.s", "loop.s", "endless.s", "r10.s",
					     "probe.s", "junk.bin", "junk2.bin", "fake.o", "one.bpf.c", "one.bpf.o", "jit.bin",
					     "lddw_end.bin", "lddw_not_hi.bin", "lddw_reg_hi.bin", "store.s" };
	for (size_t i = 0; i < N(names); i++) {
		snprintf(cmd_path, sizeof(cmd_path), "%s/%s", dir, names[i]);
		unlink(cmd_path);
	}
	if (rmdir(dir))
		printf("  note: %s left behind: %s\n", dir, strerror(errno));
	return test_done();
}
