/* parse.c -- classic programs in and out of text: raw struct sock_filter bytes, the three forms
 * tcpdump prints (-dd C initialisers, -ddd decimal quadruples, -d listing) and the -d printer
 * (libpcap bpf_image()).  Mnemonics and operand syntax come from cbpf.def. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbpf.h"

size_t cbpf_image(const struct sock_filter *in, size_t pc, char *buf, size_t len)
{
	int id = cbpf_decode(in->code);
	char opd[48];
	const char *mnem = id < 0 ? "unimp" : cbpf_info[id].mnem;
	int n;

	opd[0] = 0;
	switch (id < 0 ? -1 : cbpf_info[id].opd) {
	case -1:         snprintf(opd, sizeof(opd), "0x%x", in->code); break;
	case OPD_NONE:   break;
	case OPD_A:      snprintf(opd, sizeof(opd), "a"); break;
	case OPD_X:      snprintf(opd, sizeof(opd), "x"); break;
	case OPD_IMM_D:  snprintf(opd, sizeof(opd), "#%d", (int32_t)in->k); break;
	case OPD_IMM_X:  snprintf(opd, sizeof(opd), "#0x%x", in->k); break;
	case OPD_PKT:    snprintf(opd, sizeof(opd), "[%d]", (int32_t)in->k); break;
	case OPD_IND:    snprintf(opd, sizeof(opd), "[x + %d]", (int32_t)in->k); break;
	case OPD_MEM:    snprintf(opd, sizeof(opd), "M[%d]", (int32_t)in->k); break;
	case OPD_MSH:    snprintf(opd, sizeof(opd), "4*([%d]&0xf)", (int32_t)in->k); break;
	case OPD_LEN:    snprintf(opd, sizeof(opd), "#pktlen"); break;
	case OPD_TARGET: snprintf(opd, sizeof(opd), "%" PRIu64, (uint64_t)pc + 1 + in->k); break;
	}
	if (id >= 0 && (cbpf_info[id].flags & CF_JCOND))
		n = snprintf(buf, len, "(%03zu) %-8s %-16s jt %zu\tjf %zu", pc, mnem, opd, pc + 1 + in->jt,
			     pc + 1 + in->jf);
	else
		n = snprintf(buf, len, "(%03zu) %-8s %s", pc, mnem, opd);
	return n < 0 ? 0 : (size_t)n;
}

/* ---- text -------------------------------------------------------------------------------- */

struct lex {
	const char *p, *end;
	size_t line;
	struct diag *log;
};

static int fail(struct lex *lx, const char *fmt, ...) PRINTF_FMT(2, 3);
static int fail(struct lex *lx, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_printf(lx->log, "line %zu: %s", lx->line, msg);
	return -EINVAL;
}

static void skip_blank(struct lex *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r'))
		lx->p++;
}

static bool eat(struct lex *lx, const char *s)
{
	size_t n = strlen(s);

	skip_blank(lx);
	if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, s, n))
		return false;
	lx->p += n;
	return true;
}

/* A number as the printers write them: decimal (optionally negative) or 0x hex; 32-bit two's
 * complement.  Up to `max` (unsigned) when non-negative. */
static int number(struct lex *lx, uint64_t max, uint32_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	int base = 10, digits = 0;

	skip_blank(lx);
	if (lx->p < lx->end && *lx->p == '-') {
		neg = true;
		lx->p++;
	}
	if (lx->end - lx->p >= 2 && lx->p[0] == '0' && (lx->p[1] == 'x' || lx->p[1] == 'X')) {
		base = 16;
		lx->p += 2;
	}
	while (lx->p < lx->end) {
		int c = (unsigned char)*lx->p, d;
		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			break;
		v = v * (uint64_t)base + (uint64_t)d;
		if (v > (neg ? 0x80000000ull : max))
			return fail(lx, "number out of range");
		digits++;
		lx->p++;
	}
	if (!digits)
		return fail(lx, "expected a number at '%.20s'", lx->p);
	*out = neg ? (uint32_t)-(int64_t)v : (uint32_t)v;
	return 0;
}

static bool at_eol(struct lex *lx)
{
	skip_blank(lx);
	return lx->p >= lx->end || *lx->p == '\n';
}

/* -dd: "{ 0x28, 0, 0, 0x0000000c }," */
static int line_dd(struct lex *lx, struct sock_filter *f)
{
	uint32_t code, jt, jf, k;
	int err;

	if (!eat(lx, "{"))
		return fail(lx, "expected '{'");
	if ((err = number(lx, 0xffff, &code)) || !eat(lx, ",") || (err = number(lx, 0xff, &jt)) || !eat(lx, ",") ||
	    (err = number(lx, 0xff, &jf)) || !eat(lx, ",") || (err = number(lx, 0xffffffff, &k)))
		return err ? err : fail(lx, "expected ','");
	if (!eat(lx, "}"))
		return fail(lx, "expected '}'");
	eat(lx, ",");
	if (!at_eol(lx))
		return fail(lx, "unexpected '%.20s' after the instruction", lx->p);
	*f = (struct sock_filter){ (uint16_t)code, (uint8_t)jt, (uint8_t)jf, k };
	return 0;
}

/* -ddd: "40 0 0 12" */
static int line_ddd(struct lex *lx, struct sock_filter *f)
{
	uint32_t code, jt, jf, k;
	int err;

	if ((err = number(lx, 0xffff, &code)) || (err = number(lx, 0xff, &jt)) || (err = number(lx, 0xff, &jf)) ||
	    (err = number(lx, 0xffffffff, &k)))
		return err;
	if (!at_eol(lx))
		return fail(lx, "unexpected '%.20s' after the instruction", lx->p);
	*f = (struct sock_filter){ (uint16_t)code, (uint8_t)jt, (uint8_t)jf, k };
	return 0;
}

/* A jump target printed as an absolute insn number, back to a forward offset from pc. */
static int rel_target(struct lex *lx, size_t pc, uint32_t abs, uint32_t max, uint32_t *out)
{
	if (abs <= pc || abs - pc - 1 > max)
		return fail(lx, "jump target %u is not a forward target of insn %zu within %u", abs, pc, max);
	*out = abs - (uint32_t)pc - 1;
	return 0;
}

/* -d: "(001) jeq      #0x800           jt 2\tjf 5" */
static int line_d(struct lex *lx, size_t pc, struct sock_filter *f)
{
	uint32_t n, k = 0;
	int opd, err;
	char mnem[8];
	size_t ml = 0;

	if (!eat(lx, "(") || (err = number(lx, 0xffffffff, &n)) || !eat(lx, ")"))
		return fail(lx, "expected '(NNN)'");
	if (n != pc)
		return fail(lx, "insn number %u where %zu was expected", n, pc);
	skip_blank(lx);
	while (lx->p < lx->end && isalpha((unsigned char)*lx->p) && ml + 1 < sizeof(mnem))
		mnem[ml++] = *lx->p++;
	mnem[ml] = 0;
	/* the operand */
	skip_blank(lx);
	if (at_eol(lx)) {
		opd = OPD_NONE;
	} else if (eat(lx, "#pktlen") || eat(lx, "#len")) {
		opd = OPD_LEN;
	} else if (eat(lx, "#")) {
		opd = OPD_IMM_X;
		if ((err = number(lx, 0xffffffff, &k)))
			return err;
	} else if (eat(lx, "[x +") || eat(lx, "[x+")) {
		opd = OPD_IND;
		if ((err = number(lx, 0xffffffff, &k)) || !eat(lx, "]"))
			return err ? err : fail(lx, "expected ']'");
	} else if (eat(lx, "[")) {
		opd = OPD_PKT;
		if ((err = number(lx, 0xffffffff, &k)) || !eat(lx, "]"))
			return err ? err : fail(lx, "expected ']'");
	} else if (eat(lx, "M[")) {
		opd = OPD_MEM;
		if ((err = number(lx, 0xffffffff, &k)) || !eat(lx, "]"))
			return err ? err : fail(lx, "expected ']'");
	} else if (eat(lx, "4*([")) {
		opd = OPD_MSH;
		if ((err = number(lx, 0xffffffff, &k)) || !eat(lx, "]&0xf)"))
			return err ? err : fail(lx, "expected ']&0xf)'");
	} else if (eat(lx, "x")) {
		opd = OPD_X;
	} else if (eat(lx, "a")) {
		opd = OPD_A;
	} else if (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
		opd = OPD_TARGET;
		if ((err = number(lx, 0xffffffff, &k)))
			return err;
	} else {
		return fail(lx, "cannot parse operand '%.20s'", lx->p);
	}
	/* the row with this mnemonic and operand syntax */
	int id = -1;
	for (int i = 0; i < CBPF_COUNT && id < 0; i++) {
		int ro = cbpf_info[i].opd;
		if (strcmp(cbpf_info[i].mnem, mnem))
			continue;
		if (ro == opd || (ro == OPD_IMM_D && opd == OPD_IMM_X) || (ro == OPD_A && opd == OPD_NONE))
			id = i;
	}
	if (id < 0)
		return fail(lx, "unknown instruction '%s' with this operand", mnem);
	*f = (struct sock_filter){ cbpf_info[id].code, 0, 0, k };
	if (cbpf_info[id].flags & CF_JA) {
		if ((err = rel_target(lx, pc, k, 0xffffffff, &f->k)))
			return err;
	} else if (cbpf_info[id].flags & CF_JCOND) {
		uint32_t jt, jf;
		if (!eat(lx, "jt") || (err = number(lx, 0xffffffff, &jt)) || !eat(lx, "jf") ||
		    (err = number(lx, 0xffffffff, &jf)))
			return err ? err : fail(lx, "expected 'jt N jf N'");
		uint32_t rt = 0, rf = 0;
		if ((err = rel_target(lx, pc, jt, 0xff, &rt)) || (err = rel_target(lx, pc, jf, 0xff, &rf)))
			return err;
		f->jt = (uint8_t)rt;
		f->jf = (uint8_t)rf;
	}
	if (!at_eol(lx))
		return fail(lx, "unexpected '%.20s' after the instruction", lx->p);
	return 0;
}

static bool is_text(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!s[i] || (s[i] < 0x20 && s[i] != '\n' && s[i] != '\t' && s[i] != '\r') || s[i] >= 0x7f)
			return false;
	return len > 0;
}

static int parse_text(const char *src, size_t len, struct sock_filter **out, size_t *cnt, struct diag *log)
{
	struct lex lx = { .p = src, .end = src + len, .line = 0, .log = log };
	struct sock_filter *v = NULL;
	size_t n = 0, cap = 0;
	long declared = -1;
	int form = 0; /* 'd' (-d), 'D' (-dd), '3' (-ddd) */
	int err = 0;

	while (lx.p < lx.end && !err) {
		const char *eol = memchr(lx.p, '\n', (size_t)(lx.end - lx.p));
		struct lex one = lx;
		one.end = eol ? eol : lx.end;
		one.line = ++lx.line;
		lx.p = eol ? eol + 1 : lx.end;
		if (at_eol(&one))
			continue;
		if (*one.p == '#')
			continue; /* a comment */
		if (!form) {
			form = *one.p == '(' ? 'd' : *one.p == '{' ? 'D' : '3';
			if (form == '3') {
				/* -ddd: the first line is the insn count */
				uint32_t c;
				struct lex t = one;
				if ((err = number(&t, CBPF_MAX_INSNS, &c)))
					break;
				if (at_eol(&t)) {
					declared = c;
					continue;
				}
			}
		}
		if (n == cap) {
			if (n >= CBPF_MAX_INSNS) {
				diag_printf(log, "line %zu: more than %u instructions", one.line, CBPF_MAX_INSNS);
				err = -E2BIG;
				break;
			}
			cap = cap ? cap * 2 : 64;
			struct sock_filter *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				diag_printf(log, "out of memory");
				break;
			}
			v = nv;
		}
		err = form == 'd' ? line_d(&one, n, &v[n]) : form == 'D' ? line_dd(&one, &v[n]) : line_ddd(&one, &v[n]);
		if (!err)
			n++;
	}
	if (!err && !n) {
		diag_printf(log, "no instructions");
		err = -EINVAL;
	}
	if (!err && declared >= 0 && (size_t)declared != n) {
		diag_printf(log, "line 1: declares %ld instructions, %zu follow", declared, n);
		err = -EINVAL;
	}
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*cnt = n;
	return 0;
}

int cbpf_parse(const void *src, size_t len, enum cbpf_fmt fmt, struct sock_filter **out, size_t *cnt,
	       struct diag *log)
{
	if (fmt == CBPF_FMT_AUTO)
		fmt = is_text(src, len) ? CBPF_FMT_TEXT : CBPF_FMT_RAW;
	if (fmt == CBPF_FMT_TEXT)
		return parse_text(src, len, out, cnt, log);
	if (fmt != CBPF_FMT_RAW) {
		diag_printf(log, "unknown classic program format %d", (int)fmt);
		return -EINVAL;
	}
	if (len == 0 || len % sizeof(struct sock_filter)) {
		diag_printf(log, "raw classic program of %zu bytes: not a whole number of %zu-byte struct sock_filter",
			    len, sizeof(struct sock_filter));
		return -EINVAL;
	}
	if (len / sizeof(struct sock_filter) > CBPF_MAX_INSNS) {
		diag_printf(log, "raw classic program has %zu instructions, more than %u",
			    len / sizeof(struct sock_filter), CBPF_MAX_INSNS);
		return -E2BIG;
	}
	struct sock_filter *v = malloc(len);
	if (!v) {
		diag_printf(log, "out of memory");
		return -ENOMEM;
	}
	memcpy(v, src, len);
	*out = v;
	*cnt = len / sizeof(struct sock_filter);
	return 0;
}
