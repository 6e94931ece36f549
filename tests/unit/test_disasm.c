/* test_disasm.c -- the disassembler against LLVM 19, the reference for its syntax (issue 2: "matches
 * llvm-objdump -d on every instruction clang emits for -mcpu=v1..v4"):
 *  - objects clang builds from the C files in tests/objdump/ (clang-14 for v1..v3 as the issue asks, clang-19 for
 *    v1..v4): every instruction of every executable section, in llvm-objdump's hex default and with
 *    --no-print-imm-hex, compared line by line with bpfvm's text for the same bytes;
 *  - every insn.def row printed by bpfvm, assembled by llvm-mc-19 and by bpfvm's assembler: same bytes,
 *    and llvm-objdump prints that object as bpfvm does;
 *  - every opcode byte under many field values, disassembled by llvm-mc-19 and by bpfvm: same text, or
 *    both "<unknown>" (documented exceptions: encodings LLVM 19 predates);
 *  - fixed expectations that need no LLVM (golden strings, unknown encodings, truncation, the public
 *    bpfvm_disasm()).
 * Tests needing LLVM or clang SKIP with the reason when the tools are missing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpfvm.h>
#include "isa/isa.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	size_t got;
	while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n < 2) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b)
		b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

static char *read_path(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = read_all(f, len);
	fclose(f);
	return b;
}

static char *capture(const char *cmd, size_t *len)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	char *b = read_all(p, len);
	if (pclose(p) != 0) {
		free(b);
		return NULL;
	}
	return b;
}

static bool have_tools(const char *list)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "for t in %s; do command -v $t >/dev/null 2>&1 || exit 1; done", list);
	return system(cmd) == 0;
}

/* A case inside a TEST that the tally counts on its own (one line per object, mode, ...). */
static void sub_case(const char *name, bool ok)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	if (ok)
		test_passed_cnt++;
	else
		test_failed_cnt++;
}

static char tmpdir[64];

static bool make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bpfvm-disasm-XXXXXX");
	return mkdtemp(tmpdir) != NULL;
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("  could not remove %s\n", tmpdir);
}

/* "<LBB0_3>" / "<g+0x18>" after a branch: llvm-objdump's symbolic target, not part of the insn text */
static void strip_target_annotation(char *text)
{
	size_t tl = strlen(text);
	char *sym = strrchr(text, '<');
	if (sym && sym > text && sym[-1] == ' ' && tl && text[tl - 1] == '>' && !strchr(sym, ' '))
		sym[-1] = '\0';
}

/* Compares llvm-objdump-19's disassembly of every executable section of `obj` with bpfvm's, in llvm's
 * hex default or with --no-print-imm-hex; --mcpu=v4 (alu32 spelling) when `alu32`.  Returns the number
 * of instructions compared, or -1; prints every mismatch. */
static int objdump_compare(const char *obj, bool alu32, bool hex, int *bad)
{
	char cmd[1024], sec[256] = "", *bytes = NULL;
	size_t blen = 0;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "llvm-objdump-19 -d --no-show-raw-insn %s %s %s", hex ? "" : "--no-print-imm-hex",
		 alu32 ? "--mcpu=v4" : "", obj);
	char *out = capture(cmd, NULL);
	if (!out) {
		printf("  %s failed\n", cmd);
		return -1;
	}
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (sscanf(line, "Disassembly of section %255[^:]:", sec) == 1) {
			free(bytes);
			char bin[128];
			snprintf(bin, sizeof(bin), "%s/section.bin", tmpdir);
			snprintf(cmd, sizeof(cmd), "llvm-objcopy-19 --dump-section '%s'=%s %s %s/discard.o", sec, bin, obj,
				 tmpdir);
			bytes = system(cmd) ? NULL : read_path(bin, &blen);
			if (!bytes) {
				printf("  %s: cannot dump section %s\n", obj, sec);
				(*bad)++;
			}
			continue;
		}
		unsigned long idx;
		int pos = 0;
		if (sscanf(line, " %lu:%n", &idx, &pos) != 1 || line[pos] != '\t' || !bytes)
			continue;
		char *text = line + pos + 1;
		strip_target_annotation(text);
		if (idx >= blen / 8) { /* BPF llvm-objdump numbers instructions, not bytes */
			printf("  %s %s: index %lu outside the section\n", obj, sec, idx);
			(*bad)++;
			continue;
		}
		char ours[200];
		const struct bpf_insn *in = (const struct bpf_insn *)(bytes + idx * 8);
		isa_disasm_one_ex(in, blen / 8 - idx, (alu32 ? ISA_DISASM_ALU32 : 0) | (hex ? ISA_DISASM_HEX : 0), ours,
				  sizeof(ours));
		if (strcmp(ours, text)) {
			printf("  %s %s %lu (%s): bpfvm '%s' llvm-objdump '%s'\n", obj, sec, idx, hex ? "hex" : "dec", ours,
			       text);
			(*bad)++;
		}
		n++;
	}
	free(bytes);
	free(out);
	return n;
}

/* ---- objects clang builds ------------------------------------------------------------------- */

struct build {
	const char *cc, *cpu;
};

static const struct build builds[] = {
	{ "clang-14", "v1" }, { "clang-14", "v2" }, { "clang-14", "v3" },
	{ "clang-19", "v1" }, { "clang-19", "v2" }, { "clang-19", "v3" }, { "clang-19", "v4" },
};

static void objdump_source(const char *src, int min_insns)
{
	int total = 0;

	if (!have_tools("clang-14 clang-19 llvm-objdump-19 llvm-objcopy-19"))
		SKIP("clang-14, clang-19, llvm-objdump-19 and llvm-objcopy-19 are needed (Debian: clang-14 clang-19 llvm-19)");
	if (!make_tmpdir())
		SKIP("cannot create a temporary directory");
	for (size_t b = 0; b < sizeof(builds) / sizeof(builds[0]); b++) {
		char cmd[1024], obj[128], name[160];
		snprintf(obj, sizeof(obj), "%s/%s-%s.o", tmpdir, builds[b].cc, builds[b].cpu);
		snprintf(cmd, sizeof(cmd),
			 "%s -O2 -g -target bpf -mcpu=%s -DCPUV=%c -I/usr/include/$(uname -m)-linux-gnu -c tests/objdump/%s "
			 "-o %s",
			 builds[b].cc, builds[b].cpu, builds[b].cpu[1], src, obj);
		if (system(cmd)) {
			printf("  %s failed\n", cmd);
			test_cur_failed = 1;
			continue;
		}
		bool alu32 = builds[b].cpu[1] >= '3';
		for (int hex = 0; hex < 2; hex++) {
			int bad = 0;
			int n = objdump_compare(obj, alu32, hex, &bad);
			snprintf(name, sizeof(name), "objdump/%s/%s -mcpu=%s/%s", src, builds[b].cc, builds[b].cpu,
				 hex ? "hex" : "decimal");
			sub_case(name, n >= min_insns && !bad);
			if (n < min_insns)
				printf("  %s: only %d instructions compared (expected >= %d)\n", name, n, min_insns);
			total += n > 0 ? n : 0;
		}
	}
	printf("  tests/objdump/%s: %d instructions compared over %zu builds x 2 number styles\n", src, total,
	       sizeof(builds) / sizeof(builds[0]));
	remove_tmpdir();
}

TEST(objdump_insns_c) { objdump_source("insns.c", 60); }
TEST(objdump_maps_c) { objdump_source("maps.c", 40); }
TEST(objdump_legacy_c) { objdump_source("legacy.c", 15); }

/* ---- every row through llvm-mc ------------------------------------------------------------- */

/* One valid encoding of row `id`, operand variant v; selector fields found by search. */
static bool encode_row(int id, int v, struct bpf_insn in[2])
{
	unsigned used = isa_used_fields(id);
	static const int16_t offs[] = { 0, 1, 8, 16, 32 };
	static const int32_t imms[] = { 0, 16, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110 };
	static const int16_t voff[] = { 5, -7, 32767, -32768 };
	static const int32_t vimm[] = { 12, -3, 2147483647, INT32_MIN };
	memset(in, 0, 2 * sizeof(*in));
	in[0].code = isa_info[id].opc;
	if (used & U_DST)
		in[0].dst_reg = (uint8_t)(v ? 9 - v : 1);
	if (used & U_SRC)
		in[0].src_reg = (uint8_t)(v & 1 ? 10 : 2);
	if (used & U_OFF)
		in[0].off = voff[v];
	if (used & U_IMM)
		in[0].imm = vimm[v];
	if (isa_decode(in) == id)
		goto done;
	for (size_t a = 0; a < sizeof(offs) / sizeof(offs[0]); a++) {
		for (size_t b = 0; b < sizeof(imms) / sizeof(imms[0]); b++) {
			for (uint8_t s = 0; s < 3; s++) {
				struct bpf_insn t = in[0];
				uint8_t fmt = isa_info[id].fmt;
				if (fmt == FMT_ALU_K || fmt == FMT_ALU_X || fmt == FMT_MOVSX)
					t.off = offs[a];
				if (fmt == FMT_END || fmt == FMT_ATOMIC || fmt == FMT_LDACQ)
					t.imm = imms[b];
				if (fmt == FMT_CALL || fmt == FMT_CALL_LOCAL || fmt == FMT_CALL_KFUNC || fmt == FMT_LDDW ||
				    id == ISA_MAY_GOTO)
					t.src_reg = s;
				if (isa_decode(&t) == id) {
					in[0] = t;
					goto done;
				}
			}
		}
	}
	return false;
done:
	if (isa_info[id].flags & F_WIDE)
		in[1].imm = v & 1 ? -1 : 0x11223344;
	return true;
}

/* Rows LLVM 19 has no syntax for, or prints ambiguously: load-acquire/store-release (LLVM 20), lddw
 * with a pseudo source (printed "ld_pseudo"), local and kfunc calls (printed "call N" like helpers). */
static bool llvm19_round_trips(int id, const struct bpf_insn *in)
{
	uint8_t fmt = isa_info[id].fmt;
	if (isa_info[id].flags & (F_INTERNAL | F_ACQREL))
		return false;
	if (fmt == FMT_LDDW && in->src_reg)
		return false;
	return fmt != FMT_CALL_LOCAL && fmt != FMT_CALL_KFUNC;
}

static void rows_through_llvm_mc(bool hex)
{
	if (!have_tools("llvm-mc-19 llvm-objcopy-19 llvm-objdump-19"))
		SKIP("llvm-mc-19, llvm-objcopy-19 and llvm-objdump-19 are needed (Debian: llvm-19)");
	if (!make_tmpdir())
		SKIP("cannot create a temporary directory");
	size_t cap = 1 << 16, len = 0;
	char *src = malloc(cap);
	int lines = 0;
	for (int id = 0; id < ISA_COUNT; id++) {
		for (int v = 0; v < 4; v++) {
			struct bpf_insn in[2];
			if (!encode_row(id, v, in) || !llvm19_round_trips(id, in))
				continue;
			if (isa_info[id].fmt == FMT_JA32 && (in[0].imm < INT16_MIN || in[0].imm > INT16_MAX))
				continue; /* LLVM 19's asm parser takes only 16-bit gotol targets (its printer all 32) */
			if (isa_info[id].fmt == FMT_LDIND)
				in[0].imm = 0; /* LLVM's LD_IND syntax has no offset */
			char text[200];
			isa_disasm_one_ex(in, 2, ISA_DISASM_ALU32 | (hex ? ISA_DISASM_HEX : 0), text, sizeof(text));
			if (len + strlen(text) + 3 > cap)
				break;
			len += (size_t)snprintf(src + len, cap - len, "\t%s\n", text);
			lines++;
		}
	}
	char path[128], cmd[512];
	snprintf(path, sizeof(path), "%s/rows.s", tmpdir);
	FILE *f = fopen(path, "w");
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "llvm-mc-19 -triple bpfel -mcpu=v4 -filetype=obj -o %s/rows.o %s && "
		 "llvm-objcopy-19 -O binary --only-section=.text %s/rows.o %s/rows.bin",
		 tmpdir, path, tmpdir, tmpdir);
	if (system(cmd)) {
		printf("  llvm-mc-19 rejected bpfvm's text (%s)\n", path);
		test_cur_failed = 1;
		free(src);
		return;
	}
	size_t blen;
	snprintf(path, sizeof(path), "%s/rows.bin", tmpdir);
	char *theirs = read_path(path, &blen);
	struct bpf_insn *ours = NULL;
	size_t cnt = 0;
	struct diag log;
	diag_init(&log, 0);
	int err = isa_assemble(src, &ours, &cnt, &log);
	if (err) {
		printf("  bpfvm's assembler: %s\n", log.buf ? log.buf : "");
		test_cur_failed = 1;
	} else if (cnt * 8 != blen || memcmp(ours, theirs, blen)) {
		/* name the first instruction that differs */
		const char *l = src;
		for (size_t pc = 0; pc < cnt && pc * 8 < blen; l = strchr(l, '\n') + 1) {
			size_t n = isa_info[isa_decode(&ours[pc])].flags & F_WIDE ? 2 : 1;
			if (memcmp(&ours[pc], theirs + pc * 8, n * 8)) {
				printf("  '%.*s': bpfvm and llvm-mc-19 encode it differently\n", (int)strcspn(l, "\n"), l);
				break;
			}
			pc += n;
		}
		printf("  %zu vs %zu bytes\n", cnt * 8, blen);
		test_cur_failed = 1;
	}
	diag_fini(&log);
	free(ours);
	free(theirs);
	free(src);
	/* and llvm-objdump prints the object llvm-mc made as bpfvm does */
	int bad = 0;
	snprintf(path, sizeof(path), "%s/rows.o", tmpdir);
	int n = objdump_compare(path, true, hex, &bad);
	if (bad || n != lines) {
		printf("  llvm-objdump: %d of %d lines compared, %d differ\n", n, lines, bad);
		test_cur_failed = 1;
	}
	printf("  %d instructions (every row, 4 operand variants)\n", lines);
	CHECK(lines > 600);
	remove_tmpdir();
}

TEST(every_row_assembles_as_llvm_mc_decimal) { rows_through_llvm_mc(false); }
TEST(every_row_assembles_as_llvm_mc_hex) { rows_through_llvm_mc(true); }

/* ---- every opcode byte under many field values, against llvm-mc's disassembler -------------- */

/* A marker between the encodings so that LLVM's output lines can be matched to inputs even when it
 * rejects one ("r9 = 12345"; the encodings under test never use r9 as dst). */
static const uint8_t marker[8] = { 0xb7, 0x09, 0, 0, 0x39, 0x30, 0, 0 };

/* A canonical encoding: a row decodes it and every field its format does not use is zero (what
 * isa_validate() accepts and what compilers emit).  Non-canonical encodings are printed by bpfvm from
 * the row, while LLVM's decoder rejects some (add with off != 0, exit with imm != 0) and ignores
 * others (add with src != 0): not compared. */
static bool canonical(const struct bpf_insn *in)
{
	int id = isa_decode(in);
	if (id < 0)
		return false;
	unsigned used = isa_used_fields(id);
	return (used & U_DST || !in->dst_reg) && (used & U_SRC || !in->src_reg) && (used & U_OFF || !in->off) &&
	       (used & U_IMM || !in->imm);
}

/* Encodings with no insn.def row that LLVM 19 still prints: call with src >= 3 and may_goto with
 * src != 0 (its decoder ignores src there), and BPF_ADDR_SPACE_CAST (mov64 with off 1, for arenas). */
static bool llvm_lenient(const char *theirs)
{
	return !strncmp(theirs, "call ", 5) || !strncmp(theirs, "may_goto ", 9) || strstr(theirs, "addr_space_cast(");
}

static void opcode_sweep(bool alu32)
{
	static const uint8_t srcs[] = { 0, 1, 2, 3 };
	static const int16_t offs[] = { 0, 1, 8, 16, 32, -1 };
	static const int32_t imms[] = { 0, 1, 16, 32, 64, 0x40, 0x41, 0xe1, 0xf1, 0x100, 0x110, -1 };
	size_t n_enc = 2 * 256 * sizeof(srcs) * sizeof(offs) / sizeof(offs[0]) * sizeof(imms) / sizeof(imms[0]);
	struct bpf_insn *enc = calloc(n_enc, sizeof(*enc));
	size_t k = 0;

	if (!have_tools("llvm-mc-19"))
		SKIP("llvm-mc-19 is needed (Debian: llvm-19)");
	if (!make_tmpdir())
		SKIP("cannot create a temporary directory");
	for (unsigned op = 0; op < 256; op++) {
		if (op == 0x18)
			continue; /* lddw: two slots, covered by the row tests */
		for (size_t e = 0; e < 2 * sizeof(srcs); e++)
			for (size_t b = 0; b < sizeof(offs) / sizeof(offs[0]); b++)
				for (size_t c = 0; c < sizeof(imms) / sizeof(imms[0]); c++) {
					size_t a = e % sizeof(srcs);
					struct bpf_insn *in = &enc[k++];
					in->code = (uint8_t)op;
					in->dst_reg = (uint8_t)(e / sizeof(srcs)); /* r0 and r1 */
					in->src_reg = srcs[a];
					in->off = offs[b];
					in->imm = imms[c];
				}
	}
	char path[128], cmd[256];
	snprintf(path, sizeof(path), "%s/sweep.hex", tmpdir);
	FILE *f = fopen(path, "w");
	for (size_t i = 0; i < k; i++) {
		const uint8_t *p = (const uint8_t *)&enc[i];
		for (int b = 0; b < 8; b++)
			fprintf(f, "0x%02x ", p[b]);
		for (int b = 0; b < 8; b++)
			fprintf(f, "0x%02x ", marker[b]);
		fputc('\n', f);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), "llvm-mc-19 -triple bpfel %s -disassemble %s 2>/dev/null", alu32 ? "-mcpu=v4" : "",
		 path);
	char *out = capture(cmd, NULL);
	if (!out) {
		printf("  %s failed\n", cmd);
		test_cur_failed = 1;
		free(enc);
		return;
	}
	/* LLVM's lines: [text] marker [text] marker ...; a missing text before a marker is "<unknown>" */
	size_t i = 0, compared = 0, gaps = 0, lossy = 0, skipped = 0, lenient = 0;
	int bad = 0;
	char *pending = NULL;
	for (char *line = strtok(out, "\n"); line && i < k; line = strtok(NULL, "\n")) {
		while (*line == '\t' || *line == ' ')
			line++;
		if (!strcmp(line, ".text"))
			continue;
		if (strcmp(line, "r9 = 12345")) {
			pending = line;
			continue;
		}
		const char *theirs = pending ? pending : "<unknown>";
		char ours[200];
		int id = isa_decode(&enc[i]);
		isa_disasm_one_ex(&enc[i], 1, alu32 ? ISA_DISASM_ALU32 : 0, ours, sizeof(ours));
		if (id >= 0 && !canonical(&enc[i])) {
			skipped++;
		} else if (!strcmp(ours, theirs)) {
			compared++;
		} else if (id >= 0 && (isa_info[id].flags & F_ACQREL)) {
			gaps++;    /* LLVM 19 predates load-acquire/store-release: bpfvm prints LLVM 20's syntax */
		} else if (!alu32 && id >= 0 && id != ISA_AADD32 && (isa_info[id].flags & F_ATOMIC) &&
			   isa_info[id].size == 4) {
			gaps++;    /* LLVM 19 without alu32 knows only the 32-bit "lock +=" (XADDW); it rejects
				    * the others or misreads fetch-add as it: -mcpu=v3+ is where they exist */
		} else if (id >= 0 && isa_info[id].fmt == FMT_LDIND && enc[i].imm) {
			lossy++;   /* LLVM drops LD_IND's imm ("skb[r1]"); bpfvm prints it ("skb[r1 + 16]") */
		} else if (id < 0 && llvm_lenient(theirs)) {
			lenient++;
		} else {
			if (bad++ < 20) {
				const uint8_t *p = (const uint8_t *)&enc[i];
				printf("  %02x %02x %02x%02x %02x%02x%02x%02x: bpfvm '%s' llvm-mc '%s'\n", p[0], p[1], p[2], p[3],
				       p[4], p[5], p[6], p[7], ours, theirs);
			}
		}
		pending = NULL;
		i++;
	}
	printf("  %s: %zu encodings, %zu print the same; not compared: %zu non-canonical, %zu LLVM 19 cannot decode "
	       "(load-acquire/store-release; 32-bit atomics without alu32), %zu LD_IND with imm, %zu without a row that LLVM prints; %d differ\n",
	       alu32 ? "-mcpu=v4" : "generic cpu", k, compared, skipped, gaps, lossy, lenient, bad);
	CHECK(i == k);
	CHECK(compared > 5000);
	CHECK(bad == 0);
	free(out);
	free(enc);
	remove_tmpdir();
}

TEST(every_opcode_and_field_value_as_llvm_mc_v4) { opcode_sweep(true); }
TEST(every_opcode_and_field_value_as_llvm_mc_generic) { opcode_sweep(false); }

/* ---- fixed expectations (no LLVM needed) --------------------------------------------------- */

struct golden {
	uint8_t b[16];
	unsigned flags;
	const char *text;
};

#define I(code, regs, off, imm) (code), (regs), (uint8_t)((off) & 0xff), (uint8_t)(((off) >> 8) & 0xff), \
	(uint8_t)((imm) & 0xff), (uint8_t)(((imm) >> 8) & 0xff), (uint8_t)(((imm) >> 16) & 0xff), \
	(uint8_t)(((unsigned)(imm) >> 24) & 0xff)
#define A ISA_DISASM_ALU32
#define H ISA_DISASM_HEX

/* Texts as llvm-objdump-19 prints them (checked once with llvm-mc-19 / llvm-objdump-19). */
static const struct golden goldens[] = {
	{ { I(0x07, 0x01, 0, 5) }, 0, "r1 += 5" },
	{ { I(0x07, 0x01, 0, 5) }, H, "r1 += 0x5" },
	{ { I(0x17, 0x01, 0, -7) }, H, "r1 -= -0x7" },
	{ { I(0xb4, 0x00, 0, INT32_MIN) }, 0, "w0 = -2147483648" },
	{ { I(0xb4, 0x00, 0, INT32_MIN) }, H, "w0 = -0x80000000" },
	{ { I(0x3c, 0x21, 1, 0) }, 0, "w1 s/= w2" },
	{ { I(0x97, 0x01, 1, 3) }, 0, "r1 s%= 3" },
	{ { I(0xbf, 0x21, 8, 0) }, 0, "r1 = (s8)r2" },
	{ { I(0xbc, 0x21, 16, 0) }, 0, "w1 = (s16)w2" },
	{ { I(0xbf, 0x43, 32, 0) }, 0, "r3 = (s32)r4" },
	{ { I(0x87, 0x03, 0, 0) }, 0, "r3 = -r3" },
	{ { I(0x84, 0x03, 0, 0) }, 0, "w3 = -w3" },
	{ { I(0xdc, 0x03, 0, 16) }, 0, "r3 = be16 r3" },
	{ { I(0xd4, 0x03, 0, 64) }, 0, "r3 = le64 r3" },
	{ { I(0xd7, 0x03, 0, 32) }, 0, "r3 = bswap32 r3" },
	{ { I(0x05, 0x00, -1, 0) }, 0, "goto -1" },
	{ { I(0x05, 0x00, 3, 0) }, H, "goto +0x3" },
	{ { I(0x06, 0x00, 0, 70000) }, 0, "gotol +70000" },
	{ { I(0xe5, 0x00, 2, 0) }, 0, "may_goto +2" },
	{ { I(0x15, 0x01, 3, -5) }, 0, "if r1 == -5 goto +3" },
	{ { I(0x15, 0x01, -2, -5) }, H, "if r1 == -0x5 goto -0x2" },
	{ { I(0xbe, 0x21, 1, 0) }, 0, "if w1 <= w2 goto +1" },
	{ { I(0xcd, 0x21, 1, 0) }, 0, "if r1 s< r2 goto +1" },
	{ { I(0x85, 0x00, 0, 1) }, 0, "call 1" },
	{ { I(0x85, 0x00, 0, 12) }, H, "call 0xc" },
	{ { I(0x85, 0x10, 0, -1) }, H, "call -0x1" },
	{ { I(0x8d, 0x02, 0, 0) }, 0, "callx r2" },
	{ { I(0x95, 0x00, 0, 0) }, 0, "exit" },
	{ { I(0x18, 0x01, 0, 0x55667788), I(0, 0, 0, 0x11223344) }, 0, "r1 = 1234605616436508552 ll" },
	{ { I(0x18, 0x01, 0, 0x55667788), I(0, 0, 0, 0x11223344) }, H, "r1 = 0x1122334455667788 ll" },
	{ { I(0x18, 0x01, 0, 0), I(0, 0, 0, INT32_MIN) }, H, "r1 = -0x8000000000000000 ll" },
	{ { I(0x18, 0x01, 0, -1), I(0, 0, 0, -1) }, 0, "r1 = -1 ll" },
	{ { I(0x18, 0x11, 0, 3), I(0, 0, 0, 0) }, 0, "ld_pseudo\tr1, 1, 3" },
	{ { I(0x20, 0x00, 0, 12) }, 0, "r0 = *(u32 *)skb[12]" },
	{ { I(0x28, 0x00, 0, 12) }, H, "r0 = *(u16 *)skb[0xc]" },
	{ { I(0x50, 0x10, 0, 0) }, 0, "r0 = *(u8 *)skb[r1]" },
	{ { I(0x61, 0x21, 4, 0) }, 0, "r1 = *(u32 *)(r2 + 4)" },
	{ { I(0x61, 0x21, 4, 0) }, A, "w1 = *(u32 *)(r2 + 4)" },
	{ { I(0x79, 0x21, -8, 0) }, A | H, "r1 = *(u64 *)(r2 - 0x8)" },
	{ { I(0x89, 0x21, -32768, 0) }, 0, "r1 = *(s16 *)(r2 - 32768)" },
	{ { I(0x89, 0x21, -32768, 0) }, A, "r1 = *(s16 *)(r2 - 32768)" },
	{ { I(0x72, 0x0a, -1, 255) }, 0, "*(u8 *)(r10 - 1) = 255" },
	{ { I(0x7a, 0x0a, -8, -3) }, H, "*(u64 *)(r10 - 0x8) = -0x3" },
	{ { I(0x6b, 0x2a, -2, 0) }, 0, "*(u16 *)(r10 - 2) = r2" },
	{ { I(0x6b, 0x2a, -2, 0) }, A, "*(u16 *)(r10 - 2) = w2" },
	{ { I(0xdb, 0x21, 0, 0x00) }, 0, "lock *(u64 *)(r1 + 0) += r2" },
	{ { I(0xc3, 0x21, 4, 0xa0) }, A, "lock *(u32 *)(r1 + 4) ^= w2" },
	{ { I(0xdb, 0x21, 8, 0x41) }, 0, "r2 = atomic_fetch_or((u64 *)(r1 + 8), r2)" },
	{ { I(0xc3, 0x21, -4, 0x51) }, A, "w2 = atomic_fetch_and((u32 *)(r1 - 4), w2)" },
	{ { I(0xdb, 0x21, 16, 0xe1) }, H, "r2 = xchg_64(r1 + 0x10, r2)" },
	{ { I(0xc3, 0x21, 0, 0xe1) }, A, "w2 = xchg32_32(r1 + 0, w2)" },
	{ { I(0xdb, 0x21, -16, 0xf1) }, H, "r0 = cmpxchg_64(r1 - 0x10, r0, r2)" },
	{ { I(0xc3, 0x21, 0, 0xf1) }, A, "w0 = cmpxchg32_32(r1 + 0, w0, w2)" },
	{ { I(0xdb, 0x10, 0, 0x100) }, 0, "r0 = load_acquire((u64 *)(r1 + 0))" },
	{ { I(0xd3, 0x10, 0, 0x100) }, A, "w0 = load_acquire((u8 *)(r1 + 0))" },
	{ { I(0xdb, 0x21, 0, 0x110) }, 0, "store_release((u64 *)(r1 + 0), r2)" },
	{ { I(0xcb, 0x21, 2, 0x110) }, A, "store_release((u16 *)(r1 + 2), w2)" },
	{ { I(0xff, 0x00, 0, 0) }, 0, "<unknown>" },
	{ { I(0x37, 0x01, 2, 3) }, 0, "<unknown>" },              /* div with off 2: no row */
	{ { I(0xd4, 0x01, 0, 8) }, 0, "<unknown>" },              /* le8 */
	{ { I(0xdb, 0x21, 0, 0x02) }, 0, "<unknown>" },           /* atomic op 0x02 */
	{ { I(0x85, 0x30, 0, 1) }, 0, "<unknown>" },              /* call with src 3 */
	{ { I(0x18, 0x71, 0, 0), I(0, 0, 0, 0) }, 0, "<unknown>" }, /* lddw pseudo source 7 */
};

TEST(golden_texts)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		char out[200];
		size_t want = goldens[i].b[0] == 0x18 && strcmp(goldens[i].text, "<unknown>") ? 2 : 1;
		size_t got = isa_disasm_one_ex((const struct bpf_insn *)goldens[i].b, 2, goldens[i].flags, out, sizeof(out));
		if (strcmp(out, goldens[i].text) || got != want) {
			printf("  golden %zu: got '%s' (%zu slots), want '%s' (%zu)\n", i, out, got, goldens[i].text, want);
			test_cur_failed = 1;
		}
	}
}

/* What the disassembler prints, the assembler takes back (except the documented LLVM-ambiguous
 * forms), in both number styles. */
TEST(golden_texts_assemble_back)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct bpf_insn *in = (const struct bpf_insn *)goldens[i].b;
		int id = isa_decode(in);
		if (id < 0 || !strcmp(goldens[i].text, "<unknown>") || (isa_info[id].fmt == FMT_LDDW && in->src_reg) ||
		    isa_info[id].fmt == FMT_CALL_LOCAL)
			continue;
		struct bpf_insn *out = NULL;
		size_t cnt = 0;
		struct diag log;
		diag_init(&log, 0);
		int err = isa_assemble(goldens[i].text, &out, &cnt, &log);
		size_t slots = isa_info[id].flags & F_WIDE ? 2 : 1;
		if (err || cnt != slots || memcmp(out, in, slots * 8)) {
			printf("  '%s': %s\n", goldens[i].text, err ? log.buf : "assembled to other bytes");
			test_cur_failed = 1;
		}
		diag_fini(&log);
		free(out);
	}
}

TEST(unknown_encodings_take_one_slot)
{
	int unknown = 0;
	for (unsigned op = 0; op < 256; op++) {
		struct bpf_insn in[2] = { { .code = (uint8_t)op } };
		char out[200];
		size_t n = isa_disasm_one(in, 2, out, sizeof(out));
		bool is_unknown = !strcmp(out, "<unknown>");
		CHECK(is_unknown == (isa_decode(in) < 0));
		CHECK(n == (op == 0x18 ? 2u : 1u));
		unknown += is_unknown;
	}
	CHECK(unknown > 100); /* most of the 256 bytes are not instructions */
	/* an lddw without its second slot */
	struct bpf_insn ld[2] = { { .code = 0x18, .dst_reg = 1, .imm = 7 } };
	char out[200];
	CHECK(isa_disasm_one(ld, 1, out, sizeof(out)) == 1);
	CHECK_EQ_STR(out, "<unknown>");
	CHECK(isa_disasm_one(ld, 0, out, sizeof(out)) == 1);
	CHECK_EQ_STR(out, "<unknown>");
}

/* Any buffer size: the text is cut, NUL-terminated, never overrun (bytes past len stay untouched). */
TEST(short_buffers_truncate_safely)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct bpf_insn *in = (const struct bpf_insn *)goldens[i].b;
		char full[200];
		isa_disasm_one_ex(in, 2, goldens[i].flags, full, sizeof(full));
		for (size_t len = 0; len <= strlen(full) + 1; len++) {
			char buf[210];
			memset(buf, 'Z', sizeof(buf));
			isa_disasm_one_ex(in, 2, goldens[i].flags, buf, len);
			if (buf[len] != 'Z' || (len && (strlen(buf) != (len - 1 < strlen(full) ? len - 1 : strlen(full)) ||
							 strncmp(buf, full, strlen(buf))))) {
				printf("  '%s' into %zu bytes: wrong or overrun\n", full, len);
				test_cur_failed = 1;
				break;
			}
		}
	}
}

TEST(public_bpfvm_disasm_flags)
{
	static const uint8_t prog[] = {
		I(0xb7, 0x00, 0, 26),
		I(0x61, 0x21, 12, 0),
		I(0x18, 0x03, 0, -1), I(0, 0, 0, 0),
		I(0x95, 0x00, 0, 0),
	};
	const struct bpf_insn *in = (const struct bpf_insn *)prog;
	char out[512];
	size_t n = bpfvm_disasm(in, 5, 0, out, sizeof(out));
	CHECK_EQ_STR(out, "r0 = 26\nr1 = *(u32 *)(r2 + 12)\nr3 = 4294967295 ll\nexit\n");
	CHECK(n == strlen(out));
	bpfvm_disasm(in, 5, BPFVM_DISASM_HEX | BPFVM_DISASM_ALU32, out, sizeof(out));
	CHECK_EQ_STR(out, "r0 = 0x1a\nw1 = *(u32 *)(r2 + 0xc)\nr3 = 0xffffffff ll\nexit\n");
	bpfvm_disasm(in, 5, BPFVM_DISASM_PC | BPFVM_DISASM_HEX, out, sizeof(out));
	CHECK_EQ_STR(out, "    0: r0 = 0x1a\n    1: r1 = *(u32 *)(r2 + 0xc)\n    2: r3 = 0xffffffff ll\n    4: exit\n");
	/* NULL buffer: the length needed, as snprintf */
	CHECK(bpfvm_disasm(in, 5, BPFVM_DISASM_PC | BPFVM_DISASM_HEX, NULL, 0) == strlen(out));
	CHECK(bpfvm_disasm(in, 0, 0, out, sizeof(out)) == 0);
	CHECK_EQ_STR(out, "");
}

/* ---- whole objects: bpfvm_disasm_object() against llvm-objdump-19 -dr ---------------------------- */

/* Whitespace runs to one space, each line trimmed: the comparison is of words, line by line. */
static void normalize_ws(char *s)
{
	char *w = s;
	bool space = false, line_start = true;
	for (char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t') {
			space = !line_start;
			continue;
		}
		if (*r == '\n') {
			*w++ = '\n';
			space = false;
			line_start = true;
			continue;
		}
		if (space)
			*w++ = ' ';
		*w++ = *r;
		space = line_start = false;
	}
	*w = '\0';
}

/* bpfvm's listing of the object at `path` (read from the file) with `flags`, malloc'd, or NULL. */
static char *bpfvm_listing(struct bpfvm *vm, const char *path, const char *func, int flags, long *ret)
{
	size_t len;
	char *data = read_path(path, &len);
	if (!data)
		return NULL;
	*ret = bpfvm_disasm_object(vm, path, data, len, func, flags, NULL, 0);
	char *text = *ret >= 0 ? malloc((size_t)*ret + 1) : NULL;
	if (text && bpfvm_disasm_object(vm, path, data, len, func, flags, text, (size_t)*ret + 1) != *ret) {
		free(text);
		text = NULL;
	}
	free(data);
	return text;
}

/* Compares the two listings line by line (whitespace normalized); returns the instruction lines compared
 * ("N:" first), or -1 after printing the first difference. */
static int compare_listings(const char *what, char *theirs, char *ours)
{
	normalize_ws(theirs);
	normalize_ws(ours);
	int insns = 0, line = 1;
	char *a = theirs, *b = ours;
	for (;;) {
		char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);
		if (la != lb || memcmp(a, b, la)) {
			printf("  %s: line %d: llvm-objdump '%.*s', bpfvm '%.*s'\n", what, line, (int)la, a, (int)lb, b);
			return -1;
		}
		unsigned long idx;
		int pos = 0;
		if (sscanf(a, "%lu:%n", &idx, &pos) == 1 && pos > 0)
			insns++;
		if (!ea || !eb)
			return ea == eb ? insns : -1;
		a = ea + 1;
		b = eb + 1;
		line++;
	}
}

/* The builds issue 9 names: clang-14 at v1..v3, clang-19 at v4. */
static const struct build listing_builds[] = {
	{ "clang-14", "v1" }, { "clang-14", "v2" }, { "clang-14", "v3" }, { "clang-19", "v4" },
};

/* llvm-objdump's option for a bpfvm flag set. */
static const char *objdump_opts(int flags)
{
	static char buf[96];
	snprintf(buf, sizeof(buf), "%s%s%s%s", flags & BPFVM_DISASM_RELOCS ? "-dr" : "-d",
		 flags & BPFVM_DISASM_ALU32 ? " --mcpu=v4" : "", flags & BPFVM_DISASM_HEX ? "" : " --no-print-imm-hex",
		 flags & BPFVM_DISASM_NO_RAW ? " --no-show-raw-insn" : "");
	return buf;
}

TEST(objects_list_as_llvm_objdump)
{
	if (!have_tools("clang-14 clang-19 llvm-objdump-19"))
		SKIP("clang-14, clang-19 and llvm-objdump-19 are needed (Debian: clang-14 clang-19 llvm-19)");
	if (!make_tmpdir())
		SKIP("cannot create a temporary directory");
	static const char *const srcs[] = { "tests/objdump/insns.c", "tests/objdump/maps.c", "tests/objdump/legacy.c",
					    "examples/xdp_firewall.bpf.c", "examples/xdp_lb.bpf.c",
					    "examples/socket_filter.bpf.c", "examples/tc_classifier.bpf.c",
					    "examples/tail_calls.bpf.c", "examples/hook_prog.bpf.c" };
	struct bpfvm *vm = bpfvm_new(NULL);
	int total = 0, objects = 0;
	for (size_t b = 0; b < sizeof(listing_builds) / sizeof(listing_builds[0]); b++) {
		for (size_t s = 0; s < sizeof(srcs) / sizeof(srcs[0]); s++) {
			char cmd[1024], obj[192], name[256];
			const char *base = strrchr(srcs[s], '/') + 1;
			snprintf(obj, sizeof(obj), "%s/%.*s-%s-%s.o", tmpdir, (int)strcspn(base, "."), base,
				 listing_builds[b].cc, listing_builds[b].cpu);
			snprintf(cmd, sizeof(cmd),
				 "%s -O2 -g -target bpf -mcpu=%s -DCPUV=%c -I/usr/include/$(uname -m)-linux-gnu -Iexamples "
				 "-c %s -o %s",
				 listing_builds[b].cc, listing_builds[b].cpu, listing_builds[b].cpu[1], srcs[s], obj);
			if (system(cmd)) {
				printf("  %s failed\n", cmd);
				test_cur_failed = 1;
				continue;
			}
			objects++;
			/* llvm-objdump's default (-dr), then with --mcpu=v4 for the alu32 builds, and once in
			 * decimal without raw bytes nor relocations */
			int modes[3] = { BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS, -1, -1 };
			if (listing_builds[b].cpu[1] >= '3')
				modes[1] = BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS | BPFVM_DISASM_ALU32;
			if (s == 0)
				modes[2] = BPFVM_DISASM_NO_RAW;
			for (int m = 0; m < 3; m++) {
				if (modes[m] < 0)
					continue;
				snprintf(cmd, sizeof(cmd), "llvm-objdump-19 %s %s", objdump_opts(modes[m]), obj);
				char *theirs = capture(cmd, NULL);
				long r = 0;
				char *ours = bpfvm_listing(vm, obj, NULL, modes[m], &r);
				snprintf(name, sizeof(name), "%s %s (%s -mcpu=%s)", objdump_opts(modes[m]), srcs[s],
					 listing_builds[b].cc, listing_builds[b].cpu);
				int n = theirs && ours ? compare_listings(name, theirs, ours) : -1;
				if (!ours)
					printf("  %s: bpfvm %ld (%s)\n", name, r, bpfvm_errmsg(vm));
				if (n < 10) {
					printf("  %s: %d instructions compared\n", name, n);
					test_cur_failed = 1;
				}
				total += n > 0 ? n : 0;
				free(theirs);
				free(ours);
			}
		}
	}
	printf("  %d objects, %d instruction lines compared with llvm-objdump-19 (every line of each listing)\n", objects,
	       total);
	bpfvm_free(vm);
	remove_tmpdir();
}

/* One function: its section's header and its own lines (labels inside it included), nothing else. */
TEST(object_listing_of_one_function)
{
	if (!have_tools("clang-14 llvm-objdump-19"))
		SKIP("clang-14 and llvm-objdump-19 are needed (Debian: clang-14 llvm-19)");
	if (!make_tmpdir())
		SKIP("cannot create a temporary directory");
	char cmd[512], obj[128];
	snprintf(obj, sizeof(obj), "%s/maps.o", tmpdir);
	snprintf(cmd, sizeof(cmd), "clang-14 -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu -c tests/objdump/maps.c -o %s", obj);
	if (system(cmd)) {
		printf("  %s failed\n", cmd);
		test_cur_failed = 1;
		remove_tmpdir();
		return;
	}
	struct bpfvm *vm = bpfvm_new(NULL);
	long r;
	int fl = BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS;
	char *all = bpfvm_listing(vm, obj, NULL, fl, &r), *xdp = bpfvm_listing(vm, obj, "prog_xdp", fl, &r);
	char *classify = bpfvm_listing(vm, obj, "classify", fl, &r);
	CHECK(all && xdp && classify);
	if (all && xdp && classify) {
		/* prog_xdp is all of section xdp: its listing is the full one's xdp part */
		char *sec = strstr(all, "\nDisassembly of section xdp:\n"), *end = sec ? strstr(sec + 1, "\nDisassembly") : NULL;
		char *head_end = strstr(xdp, "\nDisassembly");
		CHECK(sec && head_end);
		if (sec && head_end) {
			size_t n = end ? (size_t)(end - sec) : strlen(sec);
			CHECK(strlen(head_end) == n && !memcmp(head_end, sec, n));
			CHECK(!strncmp(xdp, all, (size_t)(head_end - xdp))); /* the same header */
		}
		/* classify: the first function of .text, with the branch label inside it, not bump after it */
		CHECK(strstr(classify, "Disassembly of section .text:") && strstr(classify, "<classify>:"));
		CHECK(strstr(classify, "<LBB0_2>:") && !strstr(classify, "<bump>") && !strstr(classify, "section xdp"));
	}
	CHECK(bpfvm_listing(vm, obj, "no_such_function", fl, &r) == NULL && r == -ENOENT);
	CHECK(strstr(bpfvm_errmsg(vm), "no function 'no_such_function'") != NULL);
	free(all);
	free(xdp);
	free(classify);
	bpfvm_free(vm);
	remove_tmpdir();
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* What is not a relocatable BPF ELF object is refused with a reason; damaged objects never crash. */
TEST(object_listing_refuses_what_it_does_not_understand)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	char text[128];
	memset(text, 'x', sizeof(text)); /* text, as long as an ELF header */
	CHECK(bpfvm_disasm_object(vm, "t.o", text, sizeof(text), NULL, 0, NULL, 0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "not an ELF file") != NULL);
	CHECK(bpfvm_disasm_object(vm, "t.o", "\177ELF", 4, NULL, 0, NULL, 0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "shorter than an ELF header") != NULL);
	size_t len;
	char *self = read_path("/proc/self/exe", &len); /* an ELF file, but an executable for this host */
	CHECK(self && bpfvm_disasm_object(vm, "self", self, len, NULL, 0, NULL, 0) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "not a relocatable object") != NULL);
	free(self);
	/* an object with every byte after the ELF header open to damage: errors or listings, never a crash or
	 * an out-of-bounds read (the sanitizer build runs this too) */
	if (have_tools("clang-14") && make_tmpdir()) {
		char cmd[512], obj[128];
		snprintf(obj, sizeof(obj), "%s/maps.o", tmpdir);
		snprintf(cmd, sizeof(cmd), "clang-14 -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu -c tests/objdump/maps.c -o %s", obj);
		char *orig = system(cmd) ? NULL : read_path(obj, &len);
		CHECK(orig != NULL);
		uint32_t seed = 0x9e3779b9;
		int refused = 0, listed = 0;
		char *copy = orig ? malloc(len) : NULL;
		static char out[1 << 16];
		for (int round = 0; copy && round < 3000; round++) {
			memcpy(copy, orig, len);
			int hits = 1 + (int)(xorshift(&seed) % 8);
			for (int h = 0; h < hits; h++) /* header fields, section headers and contents alike */
				copy[xorshift(&seed) % len] = (char)xorshift(&seed);
			long r = bpfvm_disasm_object(vm, "damaged.o", copy, len, NULL,
						     BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS, out, sizeof(out));
			if (r < 0)
				refused++;
			else
				listed++;
			r = bpfvm_disasm_object(vm, "damaged.o", copy, xorshift(&seed) % len, "prog_xdp", BPFVM_DISASM_RELOCS,
						out, sizeof(out));
			refused += r < 0;
		}
		printf("  3000 damaged objects: %d listings, %d refusals\n", listed, refused);
		CHECK(listed > 0 && refused > 0);
		free(copy);
		free(orig);
		remove_tmpdir();
	}
	bpfvm_free(vm);
}

int main(void)
{
	RUN(golden_texts);
	RUN(golden_texts_assemble_back);
	RUN(unknown_encodings_take_one_slot);
	RUN(short_buffers_truncate_safely);
	RUN(public_bpfvm_disasm_flags);
	RUN(every_opcode_and_field_value_as_llvm_mc_v4);
	RUN(every_opcode_and_field_value_as_llvm_mc_generic);
	RUN(every_row_assembles_as_llvm_mc_decimal);
	RUN(every_row_assembles_as_llvm_mc_hex);
	RUN(objdump_insns_c);
	RUN(objdump_maps_c);
	RUN(objects_list_as_llvm_objdump);
	RUN(object_listing_of_one_function);
	RUN(object_listing_refuses_what_it_does_not_understand);
	RUN(objdump_legacy_c);
	return test_done();
}
