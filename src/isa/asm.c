/* asm.c -- the assembler: bpf_conformance syntax ("mov %r0, 1", "ldxw %r0, [%r1+4]", "lock add [%r1],
 * %r2") and LLVM syntax ("r0 = 1", "r0 = *(u32 *)(r1 + 4)", "if r1 > 2 goto +3"), mixed freely, with
 * labels.  Instructions are found by searching insn.def's rows for the mnemonic (conformance) or the
 * format and operator (LLVM), so a new row is assembled without new code here. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

#define MAX_LABELS 4096

struct label {
	char name[64];
	size_t pc;
};

struct fixup {
	size_t pc;         /* instruction whose target is a label */
	size_t line;
	char name[64];
	bool in_imm;       /* target goes to imm (ja32, call local) instead of off */
};

struct asm_state {
	struct bpf_insn *insns;
	size_t cnt, cap;
	struct label *labels;
	size_t label_cnt, label_cap;
	struct fixup *fix;
	size_t fix_cnt, fix_cap;
	struct diag *log;
	size_t line;
	const char *p;     /* scan position in the current line */
	char target[64];   /* a label operand, when the last parsed target was one */
	bool conf;         /* the current line is in bpf_conformance syntax */
	bool hex;          /* the last number parsed was written in hex */
	char why[96];      /* why the last operand was refused (range), for the line's message */
};

PRINTF_FMT(2, 3)
static int fail(struct asm_state *st, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_printf(st->log, "line %zu: %s", st->line, msg);
	return -EINVAL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* ---- scanning ------------------------------------------------------------------------------ */

static void ws(struct asm_state *st)
{
	while (*st->p == ' ' || *st->p == '\t')
		st->p++;
}

static bool lit(struct asm_state *st, const char *s)
{
	ws(st);
	size_t n = strlen(s);
	if (strncmp(st->p, s, n))
		return false;
	st->p += n;
	return true;
}

static bool at_end(struct asm_state *st)
{
	ws(st);
	return *st->p == '\0';
}

/* Register "%rN", "rN" or "wN" (kind 'r' or 'w' reported).  Rejects N > 10. */
static bool reg(struct asm_state *st, unsigned *r, char *kind)
{
	const char *s;
	ws(st);
	s = st->p;
	if (*s == '%')
		s++;
	if ((*s != 'r' && *s != 'w') || !isdigit((unsigned char)s[1]))
		return false;
	char k = *s++;
	unsigned v = 0;
	while (isdigit((unsigned char)*s) && v < 100)
		v = v * 10 + (unsigned)(*s++ - '0');
	if (isalnum((unsigned char)*s) || *s == '_')
		return false;
	*r = v;
	if (kind)
		*kind = k;
	st->p = s;
	return true;
}

/* Integer: decimal or 0x hex, optional sign.  *v holds the value as parsed (two's complement for
 * negatives); *neg tells the sign. */
static bool num(struct asm_state *st, int64_t *v)
{
	const char *s;
	bool neg = false;
	ws(st);
	s = st->p;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	ws(st);
	if (!isdigit((unsigned char)*s))
		return false;
	unsigned long long u = 0;
	int base = 10;
	st->hex = false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		st->hex = true;
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return false;
	}
	for (;; s++) {
		int d;
		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (base == 16 && isxdigit((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			break;
		if (CKD_MUL(&u, u, (unsigned)base) || CKD_ADD(&u, u, (unsigned)d))
			return false;
	}
	if (isalnum((unsigned char)*s) || *s == '_')
		return false;
	if (neg && u > (unsigned long long)INT64_MAX + 1)
		return false;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	st->p = s;
	return true;
}

static bool imm32(struct asm_state *st, int32_t *out)
{
	int64_t v;
	ws(st);
	const char *save = st->p;
	if (!num(st, &v))
		return false;
	/* 32-bit fields take -2^31 .. 2^32-1, the upper half spelled in hex (0x80000000..0xffffffff);
	 * larger values need lddw.  In the conformance syntax a decimal must fit an int32, as
	 * bpf_conformance's negative/invalid_imm32_dec_range.data requires (LLVM's syntax also takes
	 * 2147483648..4294967295 in decimal, as llvm-mc does). */
	int64_t hi = st->conf && !st->hex ? INT32_MAX : (int64_t)UINT32_MAX;
	if (v < INT32_MIN || v > hi) {
		snprintf(st->why, sizeof(st->why), "immediate %.*s out of range (%s)", (int)(st->p - save), save,
			 st->conf ? "decimal -2147483648..2147483647, hex up to 0xffffffff"
					 : "-2147483648..4294967295");
		st->p = save;
		return false;
	}
	*out = (int32_t)(uint32_t)(uint64_t)v;
	return true;
}

static bool ident(struct asm_state *st, char *out, size_t len)
{
	ws(st);
	const char *s = st->p;
	size_t n = 0;
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != '.')
		return false;
	while ((isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.') && n + 1 < len)
		n++;
	if (isalnum((unsigned char)s[n]) || s[n] == '_')
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	st->p = s + n;
	return true;
}

/* A jump target: +N / -N / N (relative) or a label (resolved in pass 2). */
static bool target(struct asm_state *st, int64_t *rel)
{
	st->target[0] = '\0';
	if (num(st, rel))
		return true;
	return ident(st, st->target, sizeof(st->target));
}

/* "[%rN]", "[%rN+off]", "[%rN-off]" (conformance) */
static bool mem_conf(struct asm_state *st, unsigned *r, int16_t *off)
{
	if (!lit(st, "[") || !reg(st, r, NULL))
		return false;
	*off = 0;
	ws(st);
	if (*st->p == '+' || *st->p == '-') {
		bool neg = *st->p == '-';
		st->p++;
		int64_t v;
		const char *at = st->p;
		if (!num(st, &v) || v < 0)
			return false;
		v = neg ? -v : v;
		if (v < INT16_MIN || v > INT16_MAX) {
			snprintf(st->why, sizeof(st->why), "offset %s%.*s out of range (-32768..32767)", neg ? "-" : "+",
				 (int)(st->p - at), at);
			return false;
		}
		*off = (int16_t)v;
	}
	return lit(st, "]");
}

/* "(rN + off)" / "(rN - off)" (LLVM); the opening parenthesis is optional for xchg/cmpxchg */
static bool mem_llvm(struct asm_state *st, unsigned *r, int16_t *off, bool paren)
{
	if (paren && !lit(st, "("))
		return false;
	if (!reg(st, r, NULL))
		return false;
	ws(st);
	bool neg = *st->p == '-';
	if (*st->p != '+' && *st->p != '-')
		return false;
	st->p++;
	int64_t v;
	if (!num(st, &v) || v < 0)
		return false;
	v = neg ? -v : v;
	if (v < INT16_MIN || v > INT16_MAX)
		return false;
	*off = (int16_t)v;
	return !paren || lit(st, ")");
}

/* "*(u32 *)" / "(s16 *)" -> size and signedness */
static bool size_cast(struct asm_state *st, unsigned *size, bool *sign, bool star)
{
	if (star && !lit(st, "*"))
		return false;
	if (!lit(st, "("))
		return false;
	ws(st);
	if (*st->p != 'u' && *st->p != 's')
		return false;
	*sign = *st->p == 's';
	st->p++;
	int64_t bits;
	if (!num(st, &bits) || (bits != 8 && bits != 16 && bits != 32 && bits != 64))
		return false;
	*size = (unsigned)bits / 8;
	return lit(st, "*") && lit(st, ")");
}

/* ---- emitting ------------------------------------------------------------------------------ */

static int emit(struct asm_state *st, int id, unsigned dst, unsigned src, int16_t off, int32_t imm)
{
	if (grow((void **)&st->insns, &st->cap, st->cnt + 2, sizeof(*st->insns)))
		return -ENOMEM;
	if (dst > 10 || src > 10)
		return fail(st, "invalid register r%u", dst > 10 ? dst : src);
	/* the opcode and the selector's field come from the row */
	if (isa_encode(id, dst, src, off, imm, &st->insns[st->cnt]))
		return fail(st, "cannot encode %s", isa_info[id].mnem);
	st->cnt++;
	if (st->target[0]) {
		if (grow((void **)&st->fix, &st->fix_cap, st->fix_cnt + 1, sizeof(*st->fix)))
			return -ENOMEM;
		struct fixup *f = &st->fix[st->fix_cnt++];
		f->pc = st->cnt - 1;
		f->line = st->line;
		f->in_imm = isa_target_in_imm(id);
		memcpy(f->name, st->target, sizeof(f->name));
		st->target[0] = '\0';
	}
	return 0;
}

static int emit_lddw(struct asm_state *st, unsigned dst, uint64_t v)
{
	int err = emit(st, ISA_LDDW, dst, 0, 0, (int32_t)(uint32_t)v);
	if (err)
		return err;
	struct bpf_insn *hi = &st->insns[st->cnt++];
	memset(hi, 0, sizeof(*hi));
	hi->imm = (int32_t)(uint32_t)(v >> 32);
	return 0;
}

static int set_rel(struct asm_state *st, int id, int64_t rel, int16_t *off, int32_t *imm)
{
	uint8_t fmt = isa_info[id].fmt;

	if (st->target[0] || !(fmt == FMT_JA || fmt == FMT_JA32 || fmt == FMT_JMP_K || fmt == FMT_JMP_X ||
			       fmt == FMT_CALL_LOCAL))
		return 0;
	if (isa_info[id].fmt == FMT_JA32 || isa_info[id].fmt == FMT_CALL_LOCAL) {
		if (rel < INT32_MIN || rel > INT32_MAX)
			return fail(st, "jump offset %lld out of range", (long long)rel);
		*imm = (int32_t)rel;
	} else {
		if (rel < INT16_MIN || rel > INT16_MAX)
			return fail(st, "jump offset %lld out of range", (long long)rel);
		*off = (int16_t)rel;
	}
	return 0;
}

/* ---- conformance syntax --------------------------------------------------------------------- */

/* Tries row `id` on the operands at st->p; returns 1 if emitted, 0 if the operands do not fit the
 * row's format, negative on error. */
static int conf_try(struct asm_state *st, int id)
{
	const struct isa_info *ii = &isa_info[id];
	unsigned d = 0, s = 0;
	int16_t off = 0;
	int32_t imm = 0;
	int64_t rel = 0, v64;
	const char *start = st->p;

#define COMMA() if (!lit(st, ",")) goto nomatch
	switch (ii->fmt) {
	case FMT_NONE:
		break;
	case FMT_ALU_K:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!imm32(st, &imm)) goto nomatch;
		break;
	case FMT_ALU_X:
	case FMT_MOVSX:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!reg(st, &s, NULL)) goto nomatch;
		break;
	case FMT_NEG:
	case FMT_END:
	case FMT_CALLX:
		if (!reg(st, &d, NULL)) goto nomatch;
		break;
	case FMT_JA:
	case FMT_JA32:
	case FMT_CALL_LOCAL:
		if (!target(st, &rel)) goto nomatch;
		break;
	case FMT_JMP_K:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!imm32(st, &imm)) goto nomatch;
		COMMA();
		if (!target(st, &rel)) goto nomatch;
		break;
	case FMT_JMP_X:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!reg(st, &s, NULL)) goto nomatch;
		COMMA();
		if (!target(st, &rel)) goto nomatch;
		break;
	case FMT_CALL:
	case FMT_CALL_KFUNC:
	case FMT_LDABS:
		if (!imm32(st, &imm)) goto nomatch;
		break;
	case FMT_LDIND:
		if (!reg(st, &s, NULL)) goto nomatch;
		COMMA();
		if (!imm32(st, &imm)) goto nomatch;
		break;
	case FMT_LDDW:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!num(st, &v64)) goto nomatch;
		if (!at_end(st)) goto nomatch;
		return emit_lddw(st, d, (uint64_t)v64) ?: 1;
	case FMT_LDX:
	case FMT_LDACQ:
		if (!reg(st, &d, NULL)) goto nomatch;
		COMMA();
		if (!mem_conf(st, &s, &off)) goto nomatch;
		break;
	case FMT_ST:
		if (!mem_conf(st, &d, &off)) goto nomatch;
		COMMA();
		if (!imm32(st, &imm)) goto nomatch;
		break;
	case FMT_STX:
	case FMT_ATOMIC:
		if (!mem_conf(st, &d, &off)) goto nomatch;
		COMMA();
		if (!reg(st, &s, NULL)) goto nomatch;
		break;
	}
#undef COMMA
	if (!at_end(st))
		goto nomatch;
	int err = set_rel(st, id, rel, &off, &imm);
	if (err)
		return err;
	return emit(st, id, d, s, off, imm) ?: 1;
nomatch:
	st->p = start;
	st->target[0] = '\0';
	return 0;
}

static int conf_line(struct asm_state *st)
{
	char mn[64], w2[32], w3[32];
	const char *after;

	if (!ident(st, mn, sizeof(mn)))
		return fail(st, "expected a mnemonic at '%s'", st->p);
	after = st->p;
	/* multi-word mnemonics: "lock [fetch] op", "call local" */
	if (!strcmp(mn, "lock")) {
		if (!ident(st, w2, sizeof(w2)))
			return fail(st, "Invalid number of operands for lock");
		if (!strcmp(w2, "fetch")) {
			if (!ident(st, w3, sizeof(w3)))
				return fail(st, "Invalid number of operands for lock");
			snprintf(mn, sizeof(mn), "lock fetch %s", w3);
		} else {
			snprintf(mn, sizeof(mn), "lock %s", w2);
		}
	} else if (!strcmp(mn, "call")) {
		const char *save = st->p;
		unsigned r;
		if (ident(st, w2, sizeof(w2)) && !strcmp(w2, "local"))
			snprintf(mn, sizeof(mn), "call local");
		else {
			st->p = save;
			if (reg(st, &r, NULL)) /* "call %r2" is callx */
				snprintf(mn, sizeof(mn), "callx");
			st->p = save;
		}
	} else if (!strncmp(mn, "swap", 4)) {
		size_t l = strlen(mn); /* swap16 -> bswap16 */
		if (l + 2 <= sizeof(mn)) {
			memmove(mn + 1, mn, l + 1);
			mn[0] = 'b';
		}
	}
	(void)after;
	bool known = false;
	for (int id = 0; id < ISA_COUNT; id++) {
		if ((isa_info[id].flags & F_INTERNAL) || strcmp(isa_info[id].mnem, mn))
			continue;
		known = true;
		int r = conf_try(st, id);
		if (r)
			return r < 0 ? r : 0;
	}
	if (!known)
		return fail(st, "Invalid mnemonic '%s'", mn);
	if (!strncmp(mn, "lock", 4))
		return fail(st, "Invalid number of operands for lock");
	if (st->why[0])
		return fail(st, "invalid operands for '%s': %s", mn, st->why);
	return fail(st, "invalid operands for '%s': '%s'", mn, st->p);
}

/* ---- LLVM syntax ---------------------------------------------------------------------------- */

/* LLVM's syntax names the width by the register: 64-bit ALU and jumps take rN, 32-bit wN, never both. */
static int mixed_widths(struct asm_state *st, char k, unsigned d, char k2, unsigned s)
{
	return fail(st, "operands mix register widths: %c%u and %c%u (64-bit ops take rN, 32-bit ops wN)", k, d, k2, s);
}

/* The row with this format and operator (and width/source kind where they matter). */
static int find_row(uint8_t fmt, const char *op, int is32, int is_x, unsigned size, int sign, uint32_t need)
{
	for (int id = 0; id < ISA_COUNT; id++) {
		const struct isa_info *ii = &isa_info[id];
		if ((ii->flags & F_INTERNAL) || ii->fmt != fmt)
			continue;
		if (op && strcmp(ii->op, op))
			continue;
		if (is32 >= 0 && !!(ii->flags & F_32) != is32)
			continue;
		if (is_x >= 0 && !!(ii->flags & F_X) != is_x)
			continue;
		if (size && ii->size != size)
			continue;
		if (sign >= 0 && !!(ii->flags & F_SIGNED) != sign)
			continue;
		if ((ii->flags & need) != need)
			continue;
		return id;
	}
	return -1;
}

static int llvm_jump_like(struct asm_state *st)
{
	int64_t rel = 0;
	int16_t off = 0;
	int32_t imm = 0;
	int id;

	if (lit(st, "gotol ")) {
		id = ISA_JA32;
	} else if (lit(st, "goto ")) {
		id = ISA_JA;
	} else if (lit(st, "may_goto ")) {
		id = ISA_MAY_GOTO;
	} else {
		return 0;
	}
	if (!target(st, &rel) || !at_end(st))
		return fail(st, "invalid jump target '%s'", st->p);
	int err = set_rel(st, id, rel, &off, &imm);
	return err ? err : emit(st, id, 0, 0, off, imm) ?: 1;
}

static int llvm_if(struct asm_state *st)
{
	unsigned d, s = 0;
	char k, k2;
	char op[4] = "";
	int32_t imm = 0;
	int16_t off = 0;
	int64_t rel = 0;

	if (!reg(st, &d, &k))
		return fail(st, "expected a register after 'if'");
	ws(st);
	size_t n = 0;
	while (n < 3 && strchr("=!<>&s", st->p[n]))
		n++;
	memcpy(op, st->p, n);
	op[n] = '\0';
	st->p += n;
	bool is_x = reg(st, &s, &k2);
	if (!is_x && !imm32(st, &imm))
		return fail(st, "invalid comparison operand '%s'", st->p);
	if (is_x && k2 != k)
		return mixed_widths(st, k, d, k2, s);
	if (!lit(st, "goto") || !target(st, &rel) || !at_end(st))
		return fail(st, "expected 'goto <target>'");
	int id = find_row(is_x ? FMT_JMP_X : FMT_JMP_K, op, k == 'w', is_x, 0, -1, F_COND);
	if (id < 0)
		return fail(st, "unknown comparison '%s'", op);
	int err = set_rel(st, id, rel, &off, &imm);
	return err ? err : emit(st, id, d, s, off, is_x ? 0 : imm);
}

/* "lock *(u64 *)(r1 + 0) += r2" */
static int llvm_lock(struct asm_state *st)
{
	unsigned size, d, s;
	bool sign;
	int16_t off;
	char op[4] = "";

	if (!size_cast(st, &size, &sign, true) || !mem_llvm(st, &d, &off, true))
		return fail(st, "invalid lock operand");
	ws(st);
	if (st->p[0] && st->p[1] == '=') {
		op[0] = st->p[0];
		op[1] = '=';
		st->p += 2;
	}
	if (!reg(st, &s, NULL) || !at_end(st))
		return fail(st, "invalid lock source");
	for (int id = 0; id < ISA_COUNT; id++) {
		const struct isa_info *ii = &isa_info[id];
		if (ii->fmt == FMT_ATOMIC && !(ii->flags & (F_FETCH | F_ACQREL)) && ii->size == size &&
		    !strcmp(ii->op, op))
			return emit(st, id, d, s, off, 0);
	}
	return fail(st, "invalid atomic operation '%s'", op);
}

static int llvm_assign(struct asm_state *st, unsigned d, char k)
{
	unsigned s, size;
	char k2;
	bool sign;
	int16_t off = 0;
	int32_t imm = 0;
	int64_t v;
	char name[32];
	int id;

	/* loads */
	const char *save = st->p;
	if (size_cast(st, &size, &sign, true)) {
		if (lit(st, "skb[")) {
			bool x = reg(st, &s, NULL);
			ws(st);
			if (x && (*st->p == '+' || *st->p == '-')) {
				bool neg = *st->p++ == '-';
				if (!imm32(st, &imm) || imm < 0)
					return fail(st, "invalid skb offset");
				imm = neg ? -imm : imm;
			}
			if (!x && !imm32(st, &imm))
				return fail(st, "invalid skb index");
			if (!lit(st, "]") || !at_end(st) || d != 0)
				return fail(st, "legacy packet loads write r0: 'r0 = *(u32 *)skb[...]'");
			id = find_row(x ? FMT_LDIND : FMT_LDABS, NULL, -1, -1, size, -1, 0);
			return id < 0 ? fail(st, "invalid packet load size") : emit(st, id, 0, x ? s : 0, 0, imm);
		}
		if (!mem_llvm(st, &s, &off, true) || !at_end(st))
			return fail(st, "invalid load address '%s'", st->p);
		id = find_row(FMT_LDX, NULL, -1, -1, size, sign, 0);
		return id < 0 ? fail(st, "invalid load size") : emit(st, id, d, s, off, 0);
	}
	st->p = save;
	if (lit(st, "load_acquire(")) {
		if (!size_cast(st, &size, &sign, false) || !mem_llvm(st, &s, &off, true) || !lit(st, ")") || !at_end(st))
			return fail(st, "invalid load_acquire operand");
		id = find_row(FMT_LDACQ, NULL, -1, -1, size, -1, 0);
		return id < 0 ? fail(st, "invalid size") : emit(st, id, d, s, off, 0);
	}
	if (lit(st, "atomic_fetch_")) {
		unsigned base, src;
		if (!ident(st, name, sizeof(name)) || !lit(st, "(") || !size_cast(st, &size, &sign, false) ||
		    !mem_llvm(st, &base, &off, true) || !lit(st, ",") || !reg(st, &src, NULL) || !lit(st, ")") || !at_end(st))
			return fail(st, "invalid atomic_fetch operand");
		if (src != d)
			return fail(st, "atomic_fetch must return into its source register");
		for (id = 0; id < ISA_COUNT; id++)
			if (isa_info[id].fmt == FMT_ATOMIC && (isa_info[id].flags & F_FETCH) &&
			    isa_info[id].size == size && !strcmp(isa_info[id].op, name))
				return emit(st, id, base, src, off, 0);
		return fail(st, "invalid atomic_fetch_%s", name);
	}
	if (lit(st, "xchg_64(") || lit(st, "xchg32_32(")) {
		bool is64 = st->p[-2] == '4' ;
		unsigned base, src;
		if (!mem_llvm(st, &base, &off, false) || !lit(st, ",") || !reg(st, &src, NULL) || !lit(st, ")") || !at_end(st) || src != d)
			return fail(st, "invalid xchg operands");
		return emit(st, is64 ? ISA_AXCHG64 : ISA_AXCHG32, base, src, off, 0x0);
	}
	if (lit(st, "cmpxchg_64(") || lit(st, "cmpxchg32_32(")) {
		bool is64 = st->p[-2] == '4';
		unsigned base, r0, src;
		if (!mem_llvm(st, &base, &off, false) || !lit(st, ",") || !reg(st, &r0, NULL) || !lit(st, ",") ||
		    !reg(st, &src, NULL) || !lit(st, ")") || !at_end(st) || r0 != 0 || d != 0)
			return fail(st, "invalid cmpxchg operands: 'r0 = cmpxchg_64(rD + off, r0, rS)'");
		return emit(st, is64 ? ISA_ACMPXCHG64 : ISA_ACMPXCHG32, base, src, off, 0);
	}
	/* (s8)r1 */
	if (lit(st, "(s")) {
		if (!num(st, &v) || !lit(st, ")") || !reg(st, &s, &k2) || !at_end(st))
			return fail(st, "invalid sign extension");
		if (k2 != k)
			return mixed_widths(st, k, d, k2, s);
		snprintf(name, sizeof(name), "s%lld", (long long)v);
		id = find_row(FMT_MOVSX, name, k == 'w', -1, 0, -1, 0);
		return id < 0 ? fail(st, "invalid sign extension width") : emit(st, id, d, s, 0, 0);
	}
	save = st->p;
	if (lit(st, "-") && reg(st, &s, &k2)) {
		if (s != d || k2 != k || !at_end(st))
			return fail(st, "negation must be 'rD = -rD' or 'wD = -wD'");
		return emit(st, k == 'w' ? ISA_NEG32 : ISA_NEG64, d, 0, 0, 0);
	}
	st->p = save;
	save = st->p;
	if (ident(st, name, sizeof(name)) && (!strncmp(name, "be", 2) || !strncmp(name, "le", 2) || !strncmp(name, "bswap", 5))) {
		if (k != 'r' || !reg(st, &s, &k2) || k2 != 'r' || s != d || !at_end(st))
			return fail(st, "byte swap must be 'rD = %s rD'", name);
		id = find_row(FMT_END, name, -1, -1, 0, -1, 0);
		return id < 0 ? fail(st, "invalid byte swap '%s'", name) : emit(st, id, d, 0, 0, 0);
	}
	st->p = save;
	if (reg(st, &s, &k2)) {
		if (!at_end(st))
			return fail(st, "unexpected '%s'", st->p);
		if (k2 != k)
			return mixed_widths(st, k, d, k2, s);
		return emit(st, k == 'w' ? ISA_MOV32_X : ISA_MOV64_X, d, s, 0, 0);
	}
	if (num(st, &v)) {
		if (lit(st, "ll")) {
			if (!at_end(st) || k != 'r')
				return fail(st, "invalid lddw");
			return emit_lddw(st, d, (uint64_t)v);
		}
		if (!at_end(st))
			return fail(st, "unexpected '%s'", st->p);
		if (v < INT32_MIN || v > (int64_t)UINT32_MAX)
			return fail(st, "immediate %lld out of range for a 32-bit field", (long long)v);
		return emit(st, k == 'w' ? ISA_MOV32_K : ISA_MOV64_K, d, 0, 0, (int32_t)(uint32_t)(uint64_t)v);
	}
	return fail(st, "cannot parse '%s'", st->p);
}

static int llvm_line(struct asm_state *st)
{
	unsigned d, s;
	char k, k2;
	int32_t imm = 0;
	int err;

	if (lit(st, "exit"))
		return at_end(st) ? emit(st, ISA_EXIT, 0, 0, 0, 0) : fail(st, "unexpected '%s' after exit", st->p);
	if (lit(st, "callx ")) {
		if (!reg(st, &d, NULL) || !at_end(st))
			return fail(st, "callx takes a register");
		return emit(st, ISA_CALLX, d, 0, 0, 0);
	}
	if (lit(st, "call ")) {
		if (!imm32(st, &imm) || !at_end(st))
			return fail(st, "call takes a helper id");
		return emit(st, ISA_CALL, 0, 0, 0, imm);
	}
	if ((err = llvm_jump_like(st)))
		return err < 0 ? err : 0;
	if (lit(st, "if "))
		return llvm_if(st);
	if (lit(st, "lock "))
		return llvm_lock(st);
	if (lit(st, "store_release(")) {
		unsigned size;
		bool sign;
		int16_t off;
		if (!size_cast(st, &size, &sign, false) || !mem_llvm(st, &d, &off, true) || !lit(st, ",") ||
		    !reg(st, &s, NULL) || !lit(st, ")") || !at_end(st))
			return fail(st, "invalid store_release operands");
		for (int id = 0; id < ISA_COUNT; id++)
			if (isa_info[id].fmt == FMT_ATOMIC && (isa_info[id].flags & F_ACQREL) && isa_info[id].size == size)
				return emit(st, id, d, s, off, 0);
		return fail(st, "invalid store_release size");
	}
	const char *save = st->p;
	if (lit(st, "*")) {
		unsigned size;
		bool sign;
		int16_t off;
		st->p = save;
		if (!size_cast(st, &size, &sign, true) || !mem_llvm(st, &d, &off, true) || !lit(st, "="))
			return fail(st, "invalid store destination");
		bool x = reg(st, &s, NULL);
		if (!x && !imm32(st, &imm))
			return fail(st, "invalid store source '%s'", st->p);
		if (!at_end(st))
			return fail(st, "unexpected '%s'", st->p);
		int id = find_row(x ? FMT_STX : FMT_ST, NULL, -1, -1, size, -1, 0);
		return id < 0 ? fail(st, "invalid store size") : emit(st, id, d, x ? s : 0, off, x ? 0 : imm);
	}
	if (!reg(st, &d, &k))
		return fail(st, "cannot parse '%s'", st->p);
	ws(st);
	/* "rD = ..." or "rD OP= src" */
	char op[5] = "";
	size_t n = 0;
	while (n < 4 && st->p[n] && strchr("+-*/%|&^<>s=", st->p[n])) {
		n++;
		if (st->p[n - 1] == '=')
			break;
	}
	memcpy(op, st->p, n);
	op[n] = '\0';
	st->p += n;
	if (!strcmp(op, "="))
		return llvm_assign(st, d, k);
	bool x = reg(st, &s, &k2);
	if (!x && !imm32(st, &imm))
		return fail(st, "invalid operand '%s'", st->p);
	if (!at_end(st))
		return fail(st, "unexpected '%s'", st->p);
	if (x && k2 != k)
		return mixed_widths(st, k, d, k2, s);
	int id = find_row(x ? FMT_ALU_X : FMT_ALU_K, op, k == 'w', x, 0, -1, 0);
	if (id < 0)
		return fail(st, "unknown operator '%s'", op);
	return emit(st, id, d, x ? s : 0, 0, x ? 0 : imm);
}

static bool is_llvm_syntax(const char *s)
{
	if ((s[0] == 'r' || s[0] == 'w') && isdigit((unsigned char)s[1])) {
		const char *t = s + 1;
		while (isdigit((unsigned char)*t))
			t++;
		return *t == ' ' || *t == '\t' || *t == '=' || strchr("+-*/%|&^<>s", *t);
	}
	static const char *const starts[] = { "*(", "if ", "goto ", "gotol ", "lock *", "callx r", "may_goto ",
					      "store_release(" };
	for (size_t i = 0; i < ARRAY_SIZE(starts); i++)
		if (!strncmp(s, starts[i], strlen(starts[i])))
			return true;
	return false;
}

int isa_assemble(const char *src, struct bpf_insn **out, size_t *cnt, struct diag *log)
{
	struct asm_state st = { .log = log };
	char line[1024];
	int err = 0;
	const char *p = src;

	while (*p && !err) {
		size_t n = strcspn(p, "\n");
		st.line++;
		if (n >= sizeof(line)) {
			err = fail(&st, "line too long (%zu bytes, limit %zu)", n, sizeof(line) - 1);
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		/* comments: '#', '//' and ';' to the end of the line */
		line[strcspn(line, "#;\r")] = '\0';
		char *c = strstr(line, "//");
		if (c)
			*c = '\0';
		st.p = line;
		ws(&st);
		/* "-- section" lines of .data files end the program text */
		if (!strncmp(st.p, "--", 2))
			break;
		/* labels */
		for (;;) {
			const char *q = st.p;
			char name[64];
			if (ident(&st, name, sizeof(name)) && lit(&st, ":")) {
				if (grow((void **)&st.labels, &st.label_cap, st.label_cnt + 1, sizeof(*st.labels))) {
					err = -ENOMEM;
					break;
				}
				for (size_t i = 0; i < st.label_cnt; i++)
					if (!strcmp(st.labels[i].name, name))
						err = fail(&st, "duplicate label '%s'", name);
				snprintf(st.labels[st.label_cnt].name, sizeof(st.labels[0].name), "%s", name);
				st.labels[st.label_cnt++].pc = st.cnt;
				ws(&st);
				continue;
			}
			st.p = q;
			break;
		}
		if (err || at_end(&st))
			continue;
		st.why[0] = '\0';
		st.conf = !is_llvm_syntax(st.p);
		err = st.conf ? conf_line(&st) : llvm_line(&st);
	}
	for (size_t i = 0; i < st.fix_cnt && !err; i++) {
		struct fixup *f = &st.fix[i];
		size_t j;
		for (j = 0; j < st.label_cnt; j++)
			if (!strcmp(st.labels[j].name, f->name))
				break;
		st.line = f->line;
		size_t tpc;
		if (j < st.label_cnt) {
			tpc = st.labels[j].pc;
		} else if (!strcmp(f->name, "exit")) {
			/* bpf_conformance's assembler: "exit" as a target is the program's first exit */
			for (tpc = 0; tpc + 1 < st.cnt && isa_decode(&st.insns[tpc]) != ISA_EXIT; tpc++)
				;
		} else {
			err = fail(&st, "unknown label '%s'", f->name);
			break;
		}
		int64_t rel = (int64_t)tpc - (int64_t)f->pc - 1;
		if (f->in_imm)
			st.insns[f->pc].imm = (int32_t)rel;
		else if (rel < INT16_MIN || rel > INT16_MAX)
			err = fail(&st, "jump to '%s' out of range (%lld)", f->name, (long long)rel);
		else
			st.insns[f->pc].off = (int16_t)rel;
	}
	if (!err && st.cnt == 0) {
		st.line = 0;
		err = fail(&st, "no instructions");
	}
	free(st.labels);
	free(st.fix);
	if (err) {
		free(st.insns);
		return err;
	}
	*out = st.insns;
	*cnt = st.cnt;
	return 0;
}
