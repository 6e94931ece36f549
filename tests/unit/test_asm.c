/* test_asm.c -- the assembler and disassembler.
 *  - every bpf_conformance test's `-- asm` assembles to exactly the bytes of its prebuilt program;
 *  - every insn.def row round-trips: disassemble (LLVM syntax) -> assemble gives the same bytes, and the
 *    conformance-syntax mnemonic path too;
 *  - every negative test of bpf_conformance that is about the text is rejected, with the reason;
 *  - both syntaxes' forms, operand checks and errors naming the line.
 * The disassembler against LLVM (llvm-objdump on clang objects, llvm-mc) is tests/unit/test_disasm.c. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpfvm.h>
#include "isa/isa.h"
#include "test.h"
#include "test_util.h"
/* The X-macros below pass insn.def's row names as arguments: names that test_util.h's short forms take
 * too would be expanded on the way */
#undef EXIT
#undef JA
#undef CALL
#undef CALL_LOCAL
#undef LDDW

#define CONF_DIR test_conformance_dir()

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	b[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

static int assemble(const char *src, struct bpf_insn **out, size_t *cnt, char *err, size_t errlen)
{
	struct diag log;
	diag_init(&log, 0);
	int e = isa_assemble(src, out, cnt, &log);
	if (e && err)
		snprintf(err, errlen, "%s", log.buf ? log.buf : "");
	diag_fini(&log);
	return e;
}

/* A case inside a TEST that the tally counts on its own (one line per conformance file). */
static void sub_case(const char *name, bool ok)
{
	printf("%s %s\n", ok ? "PASS" : "FAIL", name);
	if (ok)
		test_passed_cnt++;
	else
		test_failed_cnt++;
}

TEST(conformance_programs_assemble_exactly)
{
	char dpath[1024];
	snprintf(dpath, sizeof(dpath), "%s/tests", CONF_DIR);
	DIR *d = opendir(dpath);
	if (!d)
		SKIP("bpf_conformance\'s tests/ not present (../shared/conformance, ../../shared/conformance or $BPF_CONFORMANCE_DIR)");
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 5, ".data"))
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/tests/%s", CONF_DIR, e->d_name);
		char *text = read_file(path, NULL);
		char *a = strstr(text, "-- asm\n");
		snprintf(path, sizeof(path), "%s/bin/%.*s.prog.bin", CONF_DIR, (int)(nl - 5), e->d_name);
		size_t blen;
		char *bin = read_file(path, &blen);
		if (!a || !bin) {
			free(text);
			free(bin);
			continue;
		}
		struct bpf_insn *insns;
		size_t cnt;
		char err[512];
		char name[300];
		snprintf(name, sizeof(name), "conformance-asm/%s", e->d_name);
		if (assemble(a + 7, &insns, &cnt, err, sizeof(err))) {
			printf("  %s: %s", e->d_name, err);
			test_cur_failed = 1;
			sub_case(name, false);
		} else {
			bool same = cnt * 8 == blen && !memcmp(insns, bin, blen);
			if (!same) {
				printf("  %s: bytes differ from the prebuilt program\n", e->d_name);
				test_cur_failed = 1;
			}
			sub_case(name, same);
			free(insns);
		}
		n++;
		free(text);
		free(bin);
	}
	closedir(d);
	CHECK(n == 313);
}

/* bpf_conformance's negative tests with an `-- asm` section: those about the text must not assemble
 * (and the message says why); the rest are runtime negatives whose text is fine. */
TEST(conformance_negative_texts)
{
	static const struct { const char *file, *msg; } expect[] = {
		{ "invalid_imm32_dec_range.data", "line 2: invalid operands for 'mov32': immediate 2147483648 out of range" },
		{ "invalid_imm32_hex_range.data", "line 2: invalid operands for 'mov32': immediate 0x100000000 out of range" },
		{ "invalid_label.data", "line 1: unknown label 'NOT_A_LABEL'" },
		{ "invalid_lock.data", "line 1: Invalid number of operands for lock" },
		{ "invalid_lock2.data", "line 1: Invalid number of operands for lock" },
		{ "invalid_mnemonic.data", "line 2: Invalid mnemonic 'ldxq'" },
		{ "invalid_offset.data", "line 1: invalid operands for 'ldxb'" },
		{ "invalid_offset_range.data", "line 2: invalid operands for 'ldxb': offset +0x10000 out of range" },
		{ "invalid_operand_count.data", "line 1: invalid operands for 'lddw'" },
		{ "invalid_register.data", "line 1: invalid register r50" },
		{ "invalid_unknown_directive.data", "line 0: no instructions" },
		{ "error.data", NULL },                            /* runtime: expects an error from the run */
		{ "incorrect_return_value_high_bits.data", NULL }, /* runtime: a wrong expected result */
	};
	char dpath[1024];
	snprintf(dpath, sizeof(dpath), "%s/negative", CONF_DIR);
	DIR *d = opendir(dpath);
	if (!d)
		SKIP("bpf_conformance\'s negative/ not present (../shared/conformance, ../../shared/conformance or $BPF_CONFORMANCE_DIR)");
	struct dirent *e;
	size_t seen = 0;
	while ((e = readdir(d))) {
		char path[1024], name[300];
		snprintf(path, sizeof(path), "%s/negative/%s", CONF_DIR, e->d_name);
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 5, ".data"))
			continue;
		char *text = read_file(path, NULL);
		char *a = text ? strstr(text, "-- asm\n") : NULL;
		if (!a) {
			free(text);
			continue;
		}
		snprintf(name, sizeof(name), "conformance-negative-asm/%s", e->d_name);
		size_t i;
		for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
			if (!strcmp(expect[i].file, e->d_name))
				break;
		struct bpf_insn *insns = NULL;
		size_t cnt;
		char err[512] = "";
		int rc = assemble(a + 7, &insns, &cnt, err, sizeof(err));
		bool ok;
		if (i == sizeof(expect) / sizeof(expect[0])) {
			printf("  %s: not classified by this test (%s)\n", e->d_name, rc ? err : "assembles");
			ok = false;
		} else if (expect[i].msg) {
			ok = rc == -EINVAL && strstr(err, expect[i].msg);
			if (!ok)
				printf("  %s: expected '%s', got (%d) '%s'\n", e->d_name, expect[i].msg, rc, err);
			seen++;
		} else {
			ok = rc == 0;
			if (!ok)
				printf("  %s: a runtime negative must assemble: %s", e->d_name, err);
			seen++;
		}
		sub_case(name, ok);
		if (!ok)
			test_cur_failed = 1;
		free(insns);
		free(text);
	}
	closedir(d);
	CHECK(seen == sizeof(expect) / sizeof(expect[0]));
}

/* One valid encoding of row `id` with operand variant v (isa_encode() fills the selector's field). */
static bool encode_row(int id, int v, struct bpf_insn in[2])
{
	unsigned used = isa_used_fields(id);
	memset(in, 0, 2 * sizeof(*in));
	if (isa_encode(id, used & U_DST ? (v ? 9 : 1) : 0, used & U_SRC ? (v ? 0 : 2) : 0,
		       (int16_t)(used & U_OFF ? (v ? -7 : 5) : 0), used & U_IMM ? (v ? -3 : 12) : 0, in))
		return false;
	if (isa_info[id].flags & F_WIDE)
		in[1].imm = v ? -1 : 0x11223344;
	return true;
}

/* isa_encode() and the ISA_INSN() initializers give every row back from its id alone; what no row
 * accepts is refused. */
TEST(encode_by_row)
{
	static const struct bpf_insn by_macro[ISA_COUNT] = {
#define X(name_, ...) [ISA_##name_] = ISA_INSN(name_, 0, 0, 0, 0),
#include "isa/insn.def"
#undef X
	};
	struct bpf_insn in;
	for (int id = 0; id < ISA_COUNT; id++) {
		if (isa_info[id].flags & F_INTERNAL) {
			CHECK(isa_encode(id, 0, 0, 0, 0, &in) == -EINVAL);
			continue;
		}
		bool ok = isa_encode(id, 0, 0, 0, 0, &in) == 0 && isa_decode(&in) == id && isa_decode(&by_macro[id]) == id &&
			  !memcmp(&in, &by_macro[id], sizeof(in));
		if (!ok) {
			printf("  %s: encode or ISA_INSN() does not decode back\n", isa_info[id].name);
			test_cur_failed = 1;
		}
	}
	/* operands in the selector's field are the row's, whatever is passed */
	CHECK(isa_encode(ISA_SDIV64_X, 1, 2, 0, 0, &in) == 0 && in.off == 1 && in.src_reg == 2);
	CHECK(isa_encode(ISA_CALL, 0, 1, 0, 5, &in) == 0 && in.src_reg == 0 && in.imm == 5);
	CHECK(isa_encode(ISA_AFADD64, 1, 2, -8, 0, &in) == 0 && in.imm == BPF_ADD + BPF_FETCH && in.off == -8);
	struct bpf_insn lit[] = { ISA_INSN(MOVSX1632, 3, 4, 0, 0), ISA_INSN(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, 7),
				  ISA_INSN_LDDW_HI(0) };
	CHECK(isa_decode(&lit[0]) == ISA_MOVSX1632 && lit[0].off == 16 && lit[0].dst_reg == 3 && lit[0].src_reg == 4);
	CHECK(isa_decode(&lit[1]) == ISA_LDDW && lit[1].src_reg == BPF_PSEUDO_MAP_FD && lit[1].imm == 7);
	/* lddw's src is an operand (the pseudo kind) within the kinds Linux knows */
	CHECK(isa_encode(ISA_LDDW, 1, BPF_PSEUDO_MAP_IDX_VALUE, 0, 0, &in) == 0 && in.src_reg == BPF_PSEUDO_MAP_IDX_VALUE);
	CHECK(isa_encode(ISA_LDDW, 1, 7, 0, 0, &in) == -EINVAL);
	CHECK(isa_encode(-1, 0, 0, 0, 0, &in) == -EINVAL && isa_encode(ISA_COUNT, 0, 0, 0, 0, &in) == -EINVAL);
	CHECK(isa_encode(ISA_MOV64_X, 16, 0, 0, 0, &in) == -EINVAL);
}

/* The operand facts isa.h derives from the table, against the uapi encoding of each row's opcode
 * (class, op, mode) as Linux decodes it: jump targets, where their delta sits, memory accesses. */
TEST(row_facts_match_the_uapi_encoding)
{
	for (int id = 0; id < ISA_COUNT; id++) {
		const struct isa_info *r = &isa_info[id];
		if (r->flags & F_INTERNAL)
			continue;
		struct bpf_insn in[2];
		if (!encode_row(id, 0, in)) {
			printf("  %s: no encoding found\n", r->name);
			test_cur_failed = 1;
			continue;
		}
		unsigned cls = BPF_CLASS(r->opc), op = BPF_OP(r->opc);
		bool jmp = cls == BPF_JMP || cls == BPF_JMP32;
		bool target = (jmp && op != BPF_CALL && op != BPF_EXIT) || id == ISA_CALL_LOCAL;
		bool in_imm = (cls == BPF_JMP32 && op == BPF_JA) || id == ISA_CALL_LOCAL;
		unsigned mem = 0;
		if (cls == BPF_LDX)
			mem = ISA_MEM_READ | ISA_MEM_BASE_SRC;
		else if (cls == BPF_ST || (cls == BPF_STX && BPF_MODE(r->opc) == BPF_MEM))
			mem = ISA_MEM_WRITE;
		else if (cls == BPF_STX && in[0].imm == 0x100) /* BPF_LOAD_ACQ */
			mem = ISA_MEM_READ | ISA_MEM_BASE_SRC;
		else if (cls == BPF_STX && in[0].imm == 0x110) /* BPF_STORE_REL */
			mem = ISA_MEM_WRITE;
		else if (cls == BPF_STX)
			mem = ISA_MEM_READ | ISA_MEM_WRITE;
		bool go = jmp && op == BPF_JA, falls = !go && !(jmp && op == BPF_EXIT);
		bool ok = isa_has_target(id) == target && isa_target_in_imm(id) == in_imm && isa_mem_access(id) == mem &&
			  isa_is_goto(id) == go && isa_falls_through(id) == falls;
		if (jmp || cls == BPF_ALU || cls == BPF_ALU64)
			ok = ok && isa_op(id) == op;
		if (!ok) {
			printf("  %s: has_target %d (want %d), in_imm %d (want %d), mem %u (want %u)\n", r->name,
			       isa_has_target(id), target, isa_target_in_imm(id), in_imm, isa_mem_access(id), mem);
			test_cur_failed = 1;
		}
	}
	CHECK(isa_op(ISA_MOV64_X) == BPF_MOV && isa_op(ISA_JSLE32_K) == BPF_JSLE && isa_op(ISA_ARSH32_X) == BPF_ARSH);
}

/* Which insns refer to a function and where the target of each kind of reference lies. */
TEST(targets_and_function_references)
{
	struct bpf_insn ja = { .code = isa_info[ISA_JA].opc, .off = -3, .imm = 7 };
	struct bpf_insn ja32 = { .code = isa_info[ISA_JA32].opc, .off = 5, .imm = -4 };
	struct bpf_insn jeq = { .code = isa_info[ISA_JEQ_K].opc, .dst_reg = 1, .off = 2, .imm = 40 };
	struct bpf_insn local = { .code = isa_info[ISA_CALL_LOCAL].opc, .src_reg = BPF_PSEUDO_CALL, .imm = 6 };
	struct bpf_insn helper = { .code = isa_info[ISA_CALL].opc, .imm = 6 };
	struct bpf_insn fn = { .code = isa_info[ISA_LDDW].opc, .dst_reg = 2, .src_reg = BPF_PSEUDO_FUNC, .imm = 9 };
	struct bpf_insn map = { .code = isa_info[ISA_LDDW].opc, .dst_reg = 2, .src_reg = BPF_PSEUDO_MAP_FD, .imm = 9 };

	CHECK_EQ_U64(isa_target(&ja, 10), 8);
	CHECK_EQ_U64(isa_target(&ja32, 10), 7);
	CHECK_EQ_U64(isa_target(&jeq, 10), 13);
	CHECK_EQ_U64(isa_target(&local, 10), 17);
	CHECK_EQ_U64(isa_target(&fn, 10), 20);
	CHECK(isa_is_func_ref(&local) && isa_is_func_ref(&fn));
	CHECK(!isa_is_func_ref(&helper) && !isa_is_func_ref(&map) && !isa_is_func_ref(&ja32));
}

TEST(every_row_round_trips_through_llvm_syntax)
{
	int rows = 0;
	for (int id = 0; id < ISA_COUNT; id++) {
		if (isa_info[id].flags & F_INTERNAL)
			continue;
		for (int v = 0; v < 2; v++) {
			struct bpf_insn in[2];
			if (!encode_row(id, v, in)) {
				printf("  %s: no encoding found\n", isa_info[id].name);
				test_cur_failed = 1;
				continue;
			}
			/* lddw pseudo sources and kfunc calls print as LLVM does but do not assemble back */
			if ((isa_info[id].fmt == FMT_LDDW && in[0].src_reg) || isa_info[id].fmt == FMT_CALL_LOCAL ||
			    isa_info[id].fmt == FMT_CALL_KFUNC)
				continue;
			for (unsigned fl = 0; fl < 2; fl++) {
				char text[160], err[512];
				size_t slots = isa_disasm_one_ex(in, 2, fl ? ISA_DISASM_ALU32 : 0, text, sizeof(text));
				struct bpf_insn *out;
				size_t cnt;
				if (assemble(text, &out, &cnt, err, sizeof(err))) {
					printf("  %s '%s': %s", isa_info[id].name, text, err);
					test_cur_failed = 1;
					continue;
				}
				if (cnt != slots || memcmp(out, in, slots * sizeof(*in))) {
					printf("  %s '%s': assembled to different bytes\n", isa_info[id].name, text);
					test_cur_failed = 1;
				}
				free(out);
			}
			rows++;
		}
	}
	CHECK(rows > 300);
}

TEST(conformance_syntax_by_mnemonic)
{
	static const struct { const char *src; uint8_t code; uint8_t regs; int16_t off; int32_t imm; } cases[] = {
		{ "add %r1, 5", 0x07, 0x01, 0, 5 },
		{ "add32 %r1, %r2", 0x0c, 0x21, 0, 0 },
		{ "sdiv %r1, -3", 0x37, 0x01, 1, -3 },
		{ "smod32 %r1, %r2", 0x9c, 0x21, 1, 0 },
		{ "movsx1664 %r1, %r2", 0xbf, 0x21, 16, 0 },
		{ "ldxsh %r1, [%r2-4]", 0x89, 0x21, -4, 0 },
		{ "stw [%r10-8], 0xffffffff", 0x62, 0x0a, -8, -1 },
		{ "lock fetch xor32 [%r10-4], %r3", 0xc3, 0x3a, -4, 0xa1 },
		{ "lock cmpxchg [%r1], %r2", 0xdb, 0x21, 0, 0xf1 },
		{ "be64 %r3", 0xdc, 0x03, 0, 64 },
		{ "swap32 %r3", 0xd7, 0x03, 0, 32 },
		{ "jsle32 %r1, -1, +2", 0xd6, 0x01, 2, -1 },
		{ "call %r4", 0x8d, 0x04, 0, 0 },
		{ "callx %r4", 0x8d, 0x04, 0, 0 },
		{ "ldabsh 12", 0x28, 0x00, 0, 12 },
		{ "ldindb %r1, 3", 0x50, 0x10, 0, 3 },
		{ "ja32 -1", 0x06, 0x00, 0, -1 },
		{ "r1 = *(u8 *)(r2 - 32768)", 0x71, 0x21, -32768, 0 },
		{ "w3 = (s16)w4", 0xbc, 0x43, 16, 0 },
		{ "if w1 s>= -5 goto -1", 0x76, 0x01, -1, -5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpf_insn *out;
		size_t cnt;
		char err[512];
		if (assemble(cases[i].src, &out, &cnt, err, sizeof(err))) {
			printf("  '%s': %s", cases[i].src, err);
			test_cur_failed = 1;
			continue;
		}
		uint8_t regs = (uint8_t)(out[0].src_reg << 4 | out[0].dst_reg);
		if (cnt != 1 || out[0].code != cases[i].code || regs != cases[i].regs || out[0].off != cases[i].off ||
		    out[0].imm != cases[i].imm) {
			printf("  '%s': got %02x %02x %d %d\n", cases[i].src, out[0].code, regs, out[0].off, out[0].imm);
			test_cur_failed = 1;
		}
		free(out);
	}
}

/* Each form of both syntaxes, one line alone, and its encoding (the LLVM-syntax ones checked against
 * llvm-mc-19 -mcpu=v4; load_acquire/store_release as LLVM 20 spells them). */
TEST(every_documented_form)
{
	static const struct { const char *src, *hex; } forms[] = {
		{ "mov %r0, 1", "b700000001000000" },
		{ "mov32 %r1, 2", "b401000002000000" },
		{ "add32 %r0, %r1", "0c10000000000000" },
		{ "ldxw %r0, [%r1+4]", "6110040000000000" },
		{ "ldxdw %r0, [%r1]", "7910000000000000" },
		{ "stw [%r1-4], 5", "6201fcff05000000" },
		{ "stxdw [%r10-8], %r1", "7b1af8ff00000000" },
		{ "lock add [%r1], %r2", "db21000000000000" },
		{ "lock fetch add32 [%r10-4], %r1", "c31afcff01000000" },
		{ "lock xchg [%r1], %r2", "db210000e1000000" },
		{ "lock cmpxchg [%r1+8], %r2", "db210800f1000000" },
		{ "be16 %r0", "dc00000010000000" },
		{ "le32 %r0", "d400000020000000" },
		{ "bswap16 %r0", "d700000010000000" },
		{ "swap16 %r0", "d700000010000000" },
		{ "neg %r0", "8700000000000000" },
		{ "movsx832 %r0, %r1", "bc10080000000000" },
		{ "ldxsb %r0, [%r1-1]", "9110ffff00000000" },
		{ "lddw %r0, 0x1122334455667788", "18000000887766550000000044332211" },
		{ "ja +2", "0500020000000000" },
		{ "jeq %r1, 0x80000000, +1", "1501010000000080" },
		{ "call 5", "8500000005000000" },
		{ "call %r2", "8d02000000000000" },
		{ "callx %r2", "8d02000000000000" },
		{ "r0 = 1 ; comment", "b700000001000000" },
		{ "w0 = 1 // comment", "b400000001000000" },
		{ "r0 += r1 # comment", "0f10000000000000" },
		{ "w0 s/= 3", "3400010003000000" },
		{ "r0 s>>= 2", "c700000002000000" },
		{ "r0 = -r0", "8700000000000000" },
		{ "w0 = -w0", "8400000000000000" },
		{ "r0 = (s8)r1", "bf10080000000000" },
		{ "r0 = be16 r0", "dc00000010000000" },
		{ "r0 = bswap32 r0", "d700000020000000" },
		{ "r0 = *(u32 *)(r1 + 4)", "6110040000000000" },
		{ "r0 = *(s16 *)(r1 - 2)", "8910feff00000000" },
		{ "*(u64 *)(r10 - 8) = r1", "7b1af8ff00000000" },
		{ "*(u32 *)(r1 + 0) = 5", "6201000005000000" },
		{ "lock *(u64 *)(r1 + 0) += r2", "db21000000000000" },
		{ "lock *(u32 *)(r1 + 0) += w2", "c321000000000000" },
		{ "r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)", "db21000001000000" },
		{ "w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)", "c321000051000000" },
		{ "r2 = xchg_64(r1 + 0, r2)", "db210000e1000000" },
		{ "w2 = xchg32_32(r1 + 0, w2)", "c3210000e1000000" },
		{ "r0 = cmpxchg_64(r1 + 0, r0, r2)", "db210000f1000000" },
		{ "w0 = cmpxchg32_32(r1 + 0, w0, w2)", "c3210000f1000000" },
		{ "r0 = 0x1122 ll", "18000000221100000000000000000000" },
		{ "goto +3", "0500030000000000" },
		{ "gotol +3", "0600000003000000" },
		{ "if r1 == r2 goto +3", "1d21030000000000" },
		{ "call 1", "8500000001000000" },
		{ "callx r2", "8d02000000000000" },
		{ "r0 = *(u8 *)skb[12]", "300000000c000000" },
		{ "r0 = *(u16 *)skb[r1 + 0]", "4810000000000000" },
		{ "r0 = *(u16 *)skb[r1]", "4810000000000000" },
		{ "may_goto +2", "e500020000000000" },
		{ "r0 = load_acquire((u64 *)(r1 + 0))", "db10000000010000" },
		{ "w0 = load_acquire((u8 *)(r1 + 0))", "d310000000010000" },
		{ "store_release((u64 *)(r1 + 0), r2)", "db21000010010000" },
		{ "store_release((u16 *)(r1 + 0), w2)", "cb21000010010000" },
		{ "exit", "9500000000000000" },
		{ "ja32 -1", "06000000ffffffff" },
		{ "call local -1", "85100000ffffffff" },
		{ "lddw %r9, -1", "18090000ffffffff00000000ffffffff" },
		{ "r1 = -0x8000000000000000 ll", "18010000000000000000000000000080" },
		{ "if w1 s< 5 goto -1", "c601ffff05000000" },
		{ "r0 = *(u32 *)skb[r1 - 4]", "40100000fcffffff" },
		{ "lock fetch xor [%r1-32768], %r9", "db910080a1000000" },
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct bpf_insn *out = NULL;
		size_t cnt = 0;
		char err[512] = "", got[40] = "", name[200];
		int rc = assemble(forms[i].src, &out, &cnt, err, sizeof(err));
		for (size_t b = 0; !rc && b < cnt * 8 && b < 16; b++)
			snprintf(got + 2 * b, sizeof(got) - 2 * b, "%02x", ((uint8_t *)out)[b]);
		bool ok = !rc && !strcmp(got, forms[i].hex);
		if (!ok) {
			printf("  '%s': want %s, got %s%s", forms[i].src, forms[i].hex, rc ? "error " : got, rc ? err : "\n");
			test_cur_failed = 1;
		}
		snprintf(name, sizeof(name), "asm-form/%s", forms[i].src);
		sub_case(name, ok);
		free(out);
	}
}

TEST(errors_name_the_line)
{
	static const struct { const char *src, *msg; } cases[] = {
		{ "mov %r0, 1\nfoo %r1\nexit", "line 2: Invalid mnemonic 'foo'" },
		{ "ja nowhere\nexit", "line 1: unknown label 'nowhere'" },
		{ "or %r0, %r50\nexit", "line 1: invalid register r50" },
		{ "mov32 %r0, 0x100000000\nexit", "line 1: invalid operands for 'mov32'" },
		{ "ldxb %r0, [%r1+0x10000]\nexit", "line 1: invalid operands for 'ldxb'" },
		{ "ldxb %r0, %r1\nexit", "line 1: invalid operands for 'ldxb'" },
		{ "lddw %r0\nexit", "line 1: invalid operands for 'lddw'" },
		{ "lock or [%r10-8]\nexit", "line 1: Invalid number of operands for lock" },
		{ "lock\nexit", "line 1: Invalid number of operands for lock" },
		{ "x:\nx:\nexit", "line 2: duplicate label 'x'" },
		{ "r0 = 1\nr1 = *(u24 *)(r1 + 0)\nexit", "line 2: cannot parse '*(u24 *)(r1 + 0)'" },
		{ "\n\n", "line 0: no instructions" },
		{ "w0 = 0x1ffffffff\nexit", "line 1: immediate 8589934591 out of range" },
		{ "mov32 %r0, 2147483648", "line 1: invalid operands for 'mov32': immediate 2147483648 out of range" },
		{ "mov %r0, -2147483649", "line 1: invalid operands for 'mov': immediate -2147483649 out of range" },
		{ "stw [%r1], 4294967295", "line 1: invalid operands for 'stw': immediate 4294967295 out of range" },
		{ "ldxw %r0, [%r1-32769]", "line 1: invalid operands for 'ldxw': offset -32769 out of range" },
		{ "r0 = *(u32 *)(r1 + 32768)", "line 1: invalid load address" },
		{ "mov %r11, 1", "line 1: invalid register r11" },
		{ "r11 = 1", "line 1: invalid register r11" },
		{ "mov %r0", "line 1: invalid operands for 'mov'" },
		{ "mov %r0, 1, 2", "line 1: invalid operands for 'mov'" },
		{ "exit %r0", "line 1: invalid operands for 'exit'" },
		{ "jeq %r1, 1", "line 1: invalid operands for 'jeq'" },
		{ "ja -32769", "line 1: jump offset -32769 out of range" },
		{ "call local nowhere\nexit", "line 1: unknown label 'nowhere'" },
		{ "be8 %r0", "line 1: Invalid mnemonic 'be8'" },
		{ "lock foo [%r1], %r2", "line 1: Invalid mnemonic 'lock foo'" },
		{ "w0 = r1", "line 1: operands mix register widths: w0 and r1" },
		{ "r0 += w1", "line 1: operands mix register widths: r0 and w1" },
		{ "exit\nif w1 == r2 goto +1", "line 2: operands mix register widths: w1 and r2" },
		{ "w0 = (s8)r1", "line 1: operands mix register widths: w0 and r1" },
		{ "w0 = be16 w0", "line 1: byte swap must be 'rD = be16 rD'" },
		{ "w0 = -r0", "line 1: negation must be" },
		{ "r0 = cmpxchg_64(r1 + 0, r2, r3)", "line 1: invalid cmpxchg operands" },
		{ "r2 = atomic_fetch_add((u64 *)(r1 + 0), r3)", "line 1: atomic_fetch must return into its source register" },
		{ "r1 = *(u8 *)skb[12]", "line 1: legacy packet loads write r0" },
		{ "w0 = 1 ll", "line 1: invalid lddw" },
		{ "r0 = (s64)r1", "line 1: invalid sign extension width" },
		{ "w0 = (s32)w1", "line 1: invalid sign extension width" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpf_insn *out = NULL;
		size_t cnt;
		char err[512] = "";
		int e = assemble(cases[i].src, &out, &cnt, err, sizeof(err));
		bool ok = e == -EINVAL && strstr(err, cases[i].msg);
		if (!ok) {
			printf("  '%s': expected '%s', got (%d) '%s'\n", cases[i].src, cases[i].msg, e, err);
			test_cur_failed = 1;
		}
		char name[200];
		snprintf(name, sizeof(name), "asm-error/%s", cases[i].src);
		for (char *c = name; *c; c++)
			if (*c == '\n')
				*c = ' ';
		sub_case(name, ok);
		if (!e)
			free(out);
	}
}

TEST(public_asm_and_disasm)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpf_insn buf[4];
	CHECK(bpfvm_asm(vm, "r0 = 0x1122334455667788 ll\nexit\n", buf, 4) == 3);
	char text[128];
	size_t need = bpfvm_disasm(buf, 3, BPFVM_DISASM_PC, text, sizeof(text));
	CHECK_EQ_STR(text, "    0: r0 = 1234605616436508552 ll\n    2: exit\n");
	CHECK(need == strlen(text));
	/* snprintf semantics: a short buffer still reports the full length */
	CHECK(bpfvm_disasm(buf, 3, 0, text, 4) == strlen("r0 = 1234605616436508552 ll\nexit\n"));
	CHECK(bpfvm_asm(vm, "bogus", buf, 4) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "line 1: Invalid mnemonic 'bogus'") != NULL);
	/* a truncated lddw at the end disassembles as unknown instead of reading past the end */
	CHECK(bpfvm_disasm(buf, 1, 0, text, sizeof(text)) > 0);
	CHECK_EQ_STR(text, "<unknown>\n");
	bpfvm_free(vm);
}

/* bpfvm_insn_slots() (what `bpfvm disasm --jited` steps by) agrees, row by row, with the slots the
 * disassembler consumes; the uapi's one two-slot encoding (BPF_LD | BPF_IMM | BPF_DW) is the only one. */
TEST(insn_slots_by_row)
{
	for (int id = 0; id < ISA_COUNT; id++) {
		struct bpf_insn in[2] = { { 0 }, { 0 } };
		char text[128];
		if ((isa_info[id].flags & F_INTERNAL) || isa_encode(id, 0, 0, 0, 0, &in[0]))
			continue;
		size_t slots = bpfvm_insn_slots(in);
		size_t uapi = in[0].code == (BPF_LD | BPF_IMM | BPF_DW) ? 2 : 1;
		if (slots != uapi || slots != isa_disasm_one(in, 2, text, sizeof(text))) {
			printf("  %s: bpfvm_insn_slots() %zu, uapi %zu\n", isa_info[id].name, slots, uapi);
			test_cur_failed = 1;
		}
	}
	const struct bpf_insn unknown = { .code = 0xff };
	CHECK(isa_decode(&unknown) < 0 && bpfvm_insn_slots(&unknown) == 1);
}

int main(void)
{
	RUN(conformance_programs_assemble_exactly);
	RUN(conformance_negative_texts);
	RUN(encode_by_row);
	RUN(row_facts_match_the_uapi_encoding);
	RUN(targets_and_function_references);
	RUN(every_row_round_trips_through_llvm_syntax);
	RUN(conformance_syntax_by_mnemonic);
	RUN(every_documented_form);
	RUN(errors_name_the_line);
	RUN(public_asm_and_disasm);
	RUN(insn_slots_by_row);
	return test_done();
}
