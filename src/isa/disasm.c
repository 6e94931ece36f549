/* disasm.c -- instructions in LLVM syntax, exactly as `llvm-objdump -d` prints them (with --mcpu=v3/v4
 * when ISA_DISASM_ALU32 is set: sub-word loads/stores and 32-bit atomics then name w registers).
 * Printed from each row's format and operator; no per-opcode code. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

#include "isa.h"

struct out {
	char *buf;
	size_t len, pos;
	bool kernel;    /* ISA_DISASM_KERNEL */
};

PRINTF_FMT(2, 3)
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL, o->pos < o->len ? o->len - o->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

static const char *size_name(unsigned size, bool sign)
{
	switch (size) {
	case 1: return sign ? "s8" : "u8";
	case 2: return sign ? "s16" : "u16";
	case 4: return sign ? "s32" : "u32";
	default: return sign ? "s64" : "u64";
	}
}

/* A number as llvm-objdump prints it: decimal with --no-print-imm-hex, else "0x1f" / "-0x1f" (its
 * default since LLVM 15); `plus` adds the "+" of positive jump targets. */
static void put_num(struct out *o, bool hex, int64_t v, bool plus)
{
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	put(o, "%s%s", v < 0 ? "-" : plus ? "+" : "", hex ? "0x" : "");
	put(o, hex ? "%" PRIx64 : "%" PRIu64, mag);
}

/* "(r1 + 4)" / "(r1 - 2)", or without the parentheses for xchg/cmpxchg; "(r1 +4)" in the kernel's
 * notation (ISA_DISASM_KERNEL) */
static void put_addr_in(struct out *o, bool hex, unsigned reg, int16_t off, bool paren)
{
	if (o->kernel) {
		put(o, "%sr%u %+d%s", paren ? "(" : "", reg, off, paren ? ")" : "");
		return;
	}
	put(o, "%sr%u %c ", paren ? "(" : "", reg, off < 0 ? '-' : '+');
	put_num(o, hex, off < 0 ? -(int64_t)off : off, false);
	put(o, "%s", paren ? ")" : "");
}

static void put_addr(struct out *o, bool hex, unsigned reg, int16_t off)
{
	put_addr_in(o, hex, reg, off, true);
}

static void put_target(struct out *o, bool hex, int32_t off)
{
	if (o->kernel) /* the kernel's "goto pc+5" */
		put(o, "pc%+d", off);
	else
		put_num(o, hex, off, true);
}

size_t isa_disasm_one_ex(const struct bpf_insn *in, size_t avail, unsigned flags, char *buf, size_t len)
{
	struct out o = { buf, len, 0, (flags & ISA_DISASM_KERNEL) != 0 };
	int id = avail ? isa_decode(in) : -1;
	bool alu32 = flags & ISA_DISASM_ALU32;
	bool hex = flags & ISA_DISASM_HEX;

	if (len)
		buf[0] = '\0';
	if (id < 0 || ((isa_info[id].flags & F_WIDE) && avail < 2)) {
		put(&o, "<unknown>");
		return 1;
	}
	const struct isa_info *ii = &isa_info[id];
	char r = (ii->flags & F_32) ? 'w' : 'r';
	unsigned d = in->dst_reg, s = in->src_reg;

	switch (ii->fmt) {
	case FMT_NONE:
		put(&o, "%s", ii->mnem);
		break;
	case FMT_ALU_K:
		put(&o, "%c%u %s ", r, d, ii->op);
		put_num(&o, hex, in->imm, false);
		break;
	case FMT_ALU_X:
		put(&o, "%c%u %s %c%u", r, d, ii->op, r, s);
		break;
	case FMT_NEG:
		put(&o, "%c%u = -%c%u", r, d, r, d);
		break;
	case FMT_MOVSX:
		put(&o, "%c%u = (%s)%c%u", r, d, ii->op, r, s);
		break;
	case FMT_END:
		put(&o, "r%u = %s r%u", d, ii->op, d);
		break;
	case FMT_JA:
		put(&o, "%s ", id == ISA_MAY_GOTO ? "may_goto" : "goto");
		put_target(&o, hex, in->off);
		break;
	case FMT_JA32:
		put(&o, "gotol ");
		put_target(&o, hex, in->imm);
		break;
	case FMT_JMP_K:
		put(&o, "if %c%u %s ", r, d, ii->op);
		if (o.kernel)
			put(&o, "0x%x", (uint32_t)in->imm);
		else
			put_num(&o, hex, in->imm, false);
		put(&o, " goto ");
		put_target(&o, hex, in->off);
		break;
	case FMT_JMP_X:
		put(&o, "if %c%u %s %c%u goto ", r, d, ii->op, r, s);
		put_target(&o, hex, in->off);
		break;
	case FMT_CALL:
	case FMT_CALL_LOCAL:
	case FMT_CALL_KFUNC:
		put(&o, "call ");
		put_num(&o, hex, in->imm, false);
		break;
	case FMT_CALLX:
		put(&o, "callx r%u", d);
		break;
	case FMT_LDDW: {
		uint64_t v = (uint64_t)(uint32_t)in->imm | ((uint64_t)(uint32_t)in[1].imm << 32);
		if (o.kernel) {
			put(&o, "r%u = 0x%" PRIx64, d, v);
		} else if (in->src_reg) {
			put(&o, "ld_pseudo\tr%u, %u, ", d, s);
			put_num(&o, hex, in->imm, false);
		} else {
			put(&o, "r%u = ", d);
			put_num(&o, hex, (int64_t)v, false);
			put(&o, " ll");
		}
		return 2;
	}
	case FMT_LDABS:
		put(&o, "r0 = *(%s *)skb[", size_name(ii->size, false));
		put_num(&o, hex, in->imm, false);
		put(&o, "]");
		break;
	case FMT_LDIND:
		/* LLVM's syntax has no offset here; print one only when the insn has it */
		put(&o, "r0 = *(%s *)skb[r%u", size_name(ii->size, false), s);
		if (in->imm) {
			put(&o, " %c ", in->imm < 0 ? '-' : '+');
			put_num(&o, hex, in->imm < 0 ? -(int64_t)in->imm : in->imm, false);
		}
		put(&o, "]");
		break;
	case FMT_LDX: {
		bool sign = ii->flags & F_SIGNED;
		put(&o, "%c%u = *(%s *)", alu32 && !sign && ii->size < 8 ? 'w' : 'r', d, size_name(ii->size, sign));
		put_addr(&o, hex, s, in->off);
		break;
	}
	case FMT_ST:
		put(&o, "*(%s *)", size_name(ii->size, false));
		put_addr(&o, hex, d, in->off);
		put(&o, " = ");
		put_num(&o, hex, in->imm, false);
		break;
	case FMT_STX:
		put(&o, "*(%s *)", size_name(ii->size, false));
		put_addr(&o, hex, d, in->off);
		put(&o, " = %c%u", alu32 && ii->size < 8 ? 'w' : 'r', s);
		break;
	case FMT_LDACQ:
		put(&o, "%c%u = load_acquire((%s *)", alu32 && ii->size < 8 ? 'w' : 'r', d, size_name(ii->size, false));
		put_addr(&o, hex, s, in->off);
		put(&o, ")");
		break;
	case FMT_ATOMIC: {
		char sr = ii->size == 8 ? 'r' : 'w';
		if (ii->flags & F_ACQREL) {
			put(&o, "store_release((%s *)", size_name(ii->size, false));
			put_addr(&o, hex, d, in->off);
			put(&o, ", %c%u)", alu32 && ii->size < 8 ? 'w' : 'r', s);
		} else if (!(ii->flags & F_FETCH)) {
			put(&o, "lock *(%s *)", size_name(ii->size, false));
			put_addr(&o, hex, d, in->off);
			put(&o, " %s %c%u", ii->op, ii->size == 8 || !alu32 ? 'r' : 'w', s);
		} else if (!strcmp(ii->op, "xchg")) {
			put(&o, "%c%u = %s(", sr, s, ii->size == 8 ? "xchg_64" : "xchg32_32");
			put_addr_in(&o, hex, d, in->off, false);
			put(&o, ", %c%u)", sr, s);
		} else if (!strcmp(ii->op, "cmpxchg")) {
			put(&o, "%c0 = %s(", sr, ii->size == 8 ? "cmpxchg_64" : "cmpxchg32_32");
			put_addr_in(&o, hex, d, in->off, false);
			put(&o, ", %c0, %c%u)", sr, sr, s);
		} else {
			put(&o, "%c%u = atomic_fetch_%s((%s *)", sr, s, ii->op, size_name(ii->size, false));
			put_addr(&o, hex, d, in->off);
			put(&o, ", %c%u)", sr, s);
		}
		break;
	}
	}
	return 1;
}

size_t isa_disasm_one(const struct bpf_insn *in, size_t avail, char *buf, size_t len)
{
	return isa_disasm_one_ex(in, avail, 0, buf, len);
}

size_t bpfvm_insn_slots(const struct bpf_insn *insn)
{
	return isa_slots(insn);
}

size_t bpfvm_disasm(const struct bpf_insn *insns, size_t insn_cnt, int flags, char *buf, size_t len)
{
	struct out o = { buf, len, 0, false };
	char line[128];

	if (len)
		buf[0] = '\0';
	for (size_t pc = 0; pc < insn_cnt;) {
		unsigned fl = ((flags & BPFVM_DISASM_ALU32) ? ISA_DISASM_ALU32 : 0) |
			      ((flags & BPFVM_DISASM_HEX) ? ISA_DISASM_HEX : 0);
		size_t n = isa_disasm_one_ex(&insns[pc], insn_cnt - pc, fl, line, sizeof(line));
		if (flags & BPFVM_DISASM_PC)
			put(&o, "%5zu: ", pc);
		put(&o, "%s\n", line);
		pc += n;
	}
	return o.pos;
}
