/* cmd_disasm.c -- `bpfvm disasm FILE [options]`: a program in LLVM syntax.
 *  - an ELF object (what `clang -target bpf -c` writes): printed as `llvm-objdump -dr FILE` prints it,
 *    every executable section with its labels and relocations; --prog NAME prints only that function.
 *    llvm-objdump's --mcpu=vN, --no-print-imm-hex and --no-show-raw-insn are understood; --no-relocs
 *    leaves the relocation lines out (plain -d).
 *  - a .s file (assembled first) or raw instructions (.bin): one numbered line per instruction.
 *  - --jited: the native code the JIT makes of each program (of the object, or of the .s/.bin file),
 *    interleaved with the instruction each part came from, as `bpftool prog dump jited` prints it: the
 *    x86 instructions by `objdump -D -b binary -mi386:x86-64` where it is installed, else as bytes.
 * Input that is not understood is an error: a malformed or non-BPF ELF file, a raw file that is not whole
 * instructions, and any instruction printed as "<unknown>" (the listing is printed, the exit status is 1). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

#define USAGE_DISASM                                                                                          \
	"usage: bpfvm disasm FILE.o [--prog NAME] [--mcpu=v1|v2|v3|v4] [--no-print-imm-hex] [--no-show-raw-insn]\n" \
	"                          [--no-relocs]\n"                                                                 \
	"       bpfvm disasm FILE.bin|FILE.s\n"                                                                  \
	"       bpfvm disasm --jited FILE.o|FILE.bin|FILE.s [--prog NAME] [--type TYPE]"

static void help(void)
{
	printf(USAGE_DISASM "\n"
	       "  prints a program in LLVM syntax.  An ELF object (clang -target bpf -c) is printed as\n"
	       "  `llvm-objdump -dr FILE.o` prints it: every code section, its labels, the target of each jump,\n"
	       "  relocations and CO-RE relocations; --prog NAME only that function; --mcpu, --no-print-imm-hex\n"
	       "  and --no-show-raw-insn as llvm-objdump's; --no-relocs as llvm-objdump -d.  A .s/.asm file is\n"
	       "  assembled first, anything else is raw instructions: one numbered line each.  Input that is not\n"
	       "  understood (a malformed or non-BPF ELF file, bytes that are no instruction) is an error.\n"
	       "  --jited loads the program(s) and prints the x86-64 code the JIT made of each, under the\n"
	       "  instruction it came from (objdump does the x86 text when installed; bytes otherwise).  A .s or\n"
	       "  .bin file is loaded unverified (every run-time check compiled in) unless --type TYPE names its\n"
	       "  program type: then it is verified as that type and the code shown is what its runs execute,\n"
	       "  with the checks the proof covers left out.\n");
}

/* Lines of `text` that are "<unknown>" instructions. */
static size_t unknown_lines(const char *text)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "<unknown>\n")); p++)
		n++;
	return n;
}

/* Prints the listing; then whether the input was all instructions.  That is judged on the --mcpu=v4
 * rendering: without it LLVM (and so the listing) has no syntax for some 32-bit atomics, which are not
 * errors in the input. */
static int print_checked(const char *path, char *text, char *v4_text)
{
	fputs(text, stdout);
	size_t bad = unknown_lines(v4_text ? v4_text : text);
	free(text);
	free(v4_text);
	if (bad) {
		fprintf(stderr, "%s: %zu instruction%s not understood (printed as <unknown>)\n", path, bad,
			bad == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

/* The object's listing with `flags`, malloc'd; NULL with the reason printed. */
static char *object_text(struct bpfvm *vm, const char *path, const uint8_t *data, size_t len, const char *prog,
			 int flags)
{
	long need = bpfvm_disasm_object(vm, path, data, len, prog, flags, NULL, 0);
	char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
	if (need >= 0 && text)
		need = bpfvm_disasm_object(vm, path, data, len, prog, flags, text, (size_t)need + 1);
	if (need < 0 || !text) {
		fprintf(stderr, "bpfvm disasm: %s\n", need < 0 ? bpfvm_errmsg(vm) : "out of memory");
		free(text);
		return NULL;
	}
	return text;
}

static int disasm_object(struct bpfvm *vm, const char *path, const char *prog, int flags)
{
	size_t len;
	uint8_t *data = tool_read_file(path, &len);
	if (!data)
		return 1;
	char *text = object_text(vm, path, data, len, prog, flags), *v4 = NULL;
	if (text && !(flags & BPFVM_DISASM_ALU32) && !(v4 = object_text(vm, path, data, len, prog, flags | BPFVM_DISASM_ALU32))) {
		free(text);
		text = NULL;
	}
	free(data);
	return text ? print_checked(path, text, v4) : 1;
}

/* ---- --jited ---- */

/* objdump's text of the code, one line per x86 instruction: "addr\tbytes\ttext", NULL when objdump
 * cannot be run. */
static char *objdump_lines(const uint8_t *code, size_t len)
{
	char tmpl[] = "/tmp/bpfvm-jited-XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "wb");
	if (!f || fwrite(code, 1, len, f) != len) {
		if (f)
			fclose(f);
		unlink(tmpl);
		return NULL;
	}
	fclose(f);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "objdump -D -b binary -mi386:x86-64 %s 2>/dev/null", tmpl);
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t out_len = 0;
	FILE *m = open_memstream(&out, &out_len);
	char line[512];
	while (p && m && fgets(line, sizeof(line), p)) {
		char *colon = strchr(line, ':');
		if (line[0] == ' ' && colon && colon[1] == '\t') /* "   3e:\t48 01 f8 \tadd ..." */
			fputs(line, m);
	}
	int st = p ? pclose(p) : -1;
	if (m)
		fclose(m);
	unlink(tmpl);
	if (st != 0 || !out || !out_len) {
		free(out);
		return NULL;
	}
	return out;
}

/* Prints native code [lo, hi) with `indent`: objdump's lines whose address is in range, or bytes. */
static void print_native(const struct bpfvm_jited *j, const char *lines, size_t lo, size_t hi)
{
	if (!lines) {
		for (size_t i = lo; i < hi; i += 16) {
			printf("\t%6zx:", i);
			for (size_t k = i; k < hi && k < i + 16; k++)
				printf(" %02x", j->code[k]);
			printf("\n");
		}
		return;
	}
	for (const char *l = lines; *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) + 1 : strlen(l);
		unsigned long a = strtoul(l, NULL, 16);
		if (a >= lo && a < hi)
			printf("\t%.*s", (int)n, l);
		l += n;
	}
}

static int print_jited(struct bpfvm *vm, int fd, const char *name)
{
	struct bpfvm_jited j;
	if (bpfvm_prog_jited(vm, fd, &j)) {
		fprintf(stderr, "bpfvm disasm: %s", bpfvm_errmsg(vm));
		return 1;
	}
	char *lines = objdump_lines(j.code, j.len);
	printf("%s: %zu insns, %zu bytes of native code%s\n", name, j.insn_cnt, j.len,
	       lines ? "" : " (objdump not available: bytes)");
	printf("; prologue\n");
	print_native(&j, lines, 0, j.insn_off[0]);
	for (size_t i = 0; i < j.insn_cnt; i++) {
		char text[256];
		size_t used = bpfvm_disasm(&j.insns[i], j.insn_cnt - i, 0, text, sizeof(text));
		(void)used;
		char *nl = strchr(text, '\n');
		if (nl)
			*nl = 0;
		printf("; %zu: %s\n", i, text);
		size_t slots = bpfvm_insn_slots(&j.insns[i]);
		if (slots > j.insn_cnt - i)
			slots = 1; /* a loaded program's lddw is whole; this only keeps insn_off[] in range */
		/* an lddw's code ends where the insn after its second slot starts (that slot's own
		 * offset is among the slow paths) */
		size_t lo = j.insn_off[i], hi = j.insn_off[i + slots];
		if (hi > lo)
			print_native(&j, lines, lo, hi);
		i += slots - 1; /* an lddw's second slot has no code of its own */
	}
	printf("; slow paths and exits\n");
	print_native(&j, lines, j.insn_off[j.insn_cnt], j.len);
	free(lines);
	return 0;
}

static int disasm_jited(struct bpfvm *vm, const char *path, const char *prog, int type)
{
	int rc = 0, found = 0;

	if (!tool_is_elf(path)) {
		struct bpf_insn *insns;
		size_t cnt;
		if (prog)
			return tool_usage_error("disasm", "--prog is for ELF objects, not", USAGE_DISASM, path);
		if (tool_load_insns(vm, path, &insns, &cnt))
			return 1;
		int fd = bpfvm_prog_load(vm, type < 0 ? 0 : (uint32_t)type, insns, cnt, "prog");
		free(insns);
		if (fd < 0) {
			fprintf(stderr, "%s: %s", path, bpfvm_errmsg(vm));
			return 1;
		}
		return print_jited(vm, fd, path);
	}
	if (type >= 0)
		return tool_usage_error("disasm", "--type is for .s and .bin files (an object's sections name the type):",
					USAGE_DISASM, path);
	struct bpfvm_object *obj;
	if (bpfvm_object_open(vm, path, &obj) || bpfvm_object_load(obj)) {
		fprintf(stderr, "%s: %s", path, bpfvm_errmsg(vm));
		return 1;
	}
	for (size_t i = 0; i < bpfvm_object_prog_cnt(obj); i++) {
		const char *name = bpfvm_object_prog_name(obj, i);
		if (prog && strcmp(prog, name) && strcmp(prog, bpfvm_object_prog_section(obj, i)))
			continue;
		int fd = bpfvm_object_prog_fd_at(obj, i);
		if (fd < 0)
			continue;
		if (found++)
			printf("\n");
		rc |= print_jited(vm, fd, name);
	}
	if (prog && !found) {
		fprintf(stderr, "%s: no program '%s'\n", path, prog);
		rc = 1;
	}
	bpfvm_object_close(obj);
	return rc;
}

static char *raw_text(const struct bpf_insn *insns, size_t cnt, int flags)
{
	size_t need = bpfvm_disasm(insns, cnt, flags, NULL, 0);
	char *text = malloc(need + 1);
	if (text)
		bpfvm_disasm(insns, cnt, flags, text, need + 1);
	return text;
}

int cmd_disasm(int argc, char **argv)
{
	const char *path = NULL, *prog = NULL;
	int type = -1;
	int flags = BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS;
	bool obj_opts = false, jited = false;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help();
			return 0;
		} else if (!strcmp(a, "--prog")) {
			if (i + 1 >= argc)
				return tool_usage_error("disasm", "--prog needs a function name", USAGE_DISASM);
			prog = argv[++i];
		} else if (!strncmp(a, "--mcpu=", 7)) {
			if (a[7] != 'v' || a[8] < '1' || a[8] > '4' || a[9])
				return tool_usage_error("disasm", "--mcpu takes v1, v2, v3 or v4, not", USAGE_DISASM, a + 7);
			flags = a[8] >= '3' ? flags | BPFVM_DISASM_ALU32 : flags & ~BPFVM_DISASM_ALU32;
			obj_opts = true;
		} else if (!strcmp(a, "--no-print-imm-hex")) {
			flags &= ~BPFVM_DISASM_HEX;
			obj_opts = true;
		} else if (!strcmp(a, "--no-show-raw-insn")) {
			flags |= BPFVM_DISASM_NO_RAW;
			obj_opts = true;
		} else if (!strcmp(a, "--jited")) {
			jited = true;
		} else if (!strcmp(a, "--type")) {
			if (i + 1 >= argc)
				return tool_usage_error("disasm", "--type needs a program type", USAGE_DISASM);
			if ((type = bpfvm_prog_type_by_name(argv[++i])) < 0)
				return tool_usage_error("disasm", "--type: not a program type:", USAGE_DISASM, argv[i]);
		} else if (!strcmp(a, "--no-relocs")) {
			flags &= ~BPFVM_DISASM_RELOCS;
			obj_opts = true;
		} else if (a[0] == '-' && a[1]) {
			return tool_usage_error("disasm", "unknown option", USAGE_DISASM, a);
		} else if (path) {
			return tool_usage_error("disasm", "one file only: unexpected", USAGE_DISASM, a);
		} else {
			path = a;
		}
	}
	if (!path)
		return tool_usage_error("disasm", "no file given", USAGE_DISASM);
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm)
		return 1;
	if (type >= 0 && !jited) {
		bpfvm_free(vm);
		return tool_usage_error("disasm", "--type goes with --jited:", USAGE_DISASM, path);
	}
	if (jited) {
		rc = disasm_jited(vm, path, prog, type);
		bpfvm_free(vm);
		return rc;
	}
	if (tool_is_elf(path)) {
		rc = disasm_object(vm, path, prog, flags);
		bpfvm_free(vm);
		return rc;
	}
	if (prog || obj_opts) {
		bpfvm_free(vm);
		return tool_usage_error("disasm", "options are for ELF objects; a .s or raw file takes none:", USAGE_DISASM,
					path);
	}
	struct bpf_insn *insns;
	size_t cnt;
	if (tool_load_insns(vm, path, &insns, &cnt) == 0) {
		if (bpfvm_insns_check(vm, insns, cnt)) {
			fprintf(stderr, "%s: %s\n", path, bpfvm_errmsg(vm));
			free(insns);
			bpfvm_free(vm);
			return 1;
		}
		char *text = raw_text(insns, cnt, BPFVM_DISASM_PC), *v4 = raw_text(insns, cnt, BPFVM_DISASM_ALU32);
		if (text && v4)
			rc = print_checked(path, text, v4);
		else
			free(text), free(v4);
		free(insns);
	}
	bpfvm_free(vm);
	return rc;
}
