/* objdump_core.c -- the "CO-RE <kind> [id] type::field (access)" lines `llvm-objdump -dr` prints under
 * an instruction that a .BTF.ext CO-RE relocation names (LLVM's BTFParser::symbolize()).  LLVM reads BTF
 * here far more leniently than the loader does (ldr_btf_parse() is libbpf's rules): its own record
 * walk, strings clamped to their table, and when any of it fails, no CO-RE line at all.  So this file
 * reads .BTF and .BTF.ext again its way, through spans: never past the section, never in a loop. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/btf.h>

#include "loader.h"
#include "objdump.h"

#define BTF_MAGIC_LE 0xeb9f

struct od_core_relo {
	uint32_t insn_off, type_id, spec_off, kind;
};

/* One code section's CO-RE relocations, sorted by instruction offset (stable). */
struct od_core_sec {
	struct od_core_relo *r;
	size_t cnt;
};

struct od_core {
	struct span strs;           /* the string table, clamped as LLVM's StringRef::slice() */
	struct span types;          /* the type records */
	uint32_t *type_off;         /* id -> offset in `types`; id 0 (void) has none */
	size_t type_cnt;            /* ids including 0 */
	struct od_core_sec *secs;   /* per ELF section index */
	size_t sec_cnt;
};

static bool rd32(struct span s, uint64_t off, uint32_t *v)
{
	return SPAN_READ(s, off, v);
}

/* The string at `off`, up to its NUL or the table's end ("" past the end), as LLVM's findString(). */
static void str_at(const struct od_core *c, uint32_t off, const char **p, size_t *n)
{
	if (off >= c->strs.len) {
		*p = "";
		*n = 0;
		return;
	}
	const char *s = (const char *)c->strs.p + off;
	const char *z = memchr(s, '\0', c->strs.len - off);
	*p = s;
	*n = z ? (size_t)(z - s) : c->strs.len - off;
}

/* Bytes of a type record, as LLVM's byteSize(). */
static uint64_t rec_size(uint32_t info)
{
	uint32_t vlen = info & 0xffff;
	switch ((info >> 24) & 0x1f) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 12 + 4;
	case BTF_KIND_ARRAY:
		return 12 + 12;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
	case BTF_KIND_ENUM64:
	case BTF_KIND_DATASEC:
		return 12 + 12ull * vlen;
	case BTF_KIND_ENUM:
	case BTF_KIND_FUNC_PROTO:
		return 12 + 8ull * vlen;
	default:
		return 12;
	}
}

static int parse_btf(struct od_core *c, struct span btf)
{
	uint32_t magic_ver = 0, hdr_len, type_off, type_len, str_off, str_len;
	if (!rd32(btf, 0, &magic_ver) || (magic_ver & 0xffff) != BTF_MAGIC_LE || ((magic_ver >> 16) & 0xff) != 1 ||
	    !rd32(btf, 4, &hdr_len) || hdr_len < 8 || !rd32(btf, 8, &type_off) || !rd32(btf, 12, &type_len) ||
	    !rd32(btf, 16, &str_off) || !rd32(btf, 20, &str_len))
		return -EINVAL;
	/* LLVM's 32-bit arithmetic, wrapping included */
	uint32_t str_start = hdr_len + str_off, str_end = str_start + str_len;
	uint32_t types_start = hdr_len + type_off, types_end = types_start + type_len;
	if (btf.len < (str_end > types_end ? str_end : types_end))
		return -EINVAL;
	size_t s0 = str_start < btf.len ? str_start : btf.len, s1 = str_end > s0 ? str_end : s0;
	if (s1 > btf.len)
		s1 = btf.len;
	c->strs = (struct span){ btf.p + s0, s1 - s0 };
	c->type_cnt = 1;
	if (!type_len)
		return 0;
	size_t t0 = types_start < btf.len ? types_start : btf.len, t1 = types_end > t0 ? types_end : t0;
	if (t1 > btf.len)
		t1 = btf.len;
	c->types = (struct span){ btf.p + t0, t1 - t0 };
	size_t cap = c->types.len / 12 + 1;
	c->type_off = malloc(cap * sizeof(*c->type_off));
	if (!c->type_off)
		return -ENOMEM;
	for (uint64_t pos = 0; pos < c->types.len;) {
		uint32_t info;
		if (!rd32(c->types, pos + 4, &info) || c->types.len - pos < rec_size(info))
			return -EINVAL; /* "incomplete type definition in .BTF section" */
		c->type_off[c->type_cnt++] = (uint32_t)pos;
		pos += rec_size(info);
	}
	return 0;
}

static int relo_cmp(const void *a, const void *b)
{
	const struct od_core_relo *x = a, *y = b;
	return x->insn_off < y->insn_off ? -1 : x->insn_off > y->insn_off;
}

/* The last section of that name (LLVM keeps a map from name to section, later ones replacing). */
static long sec_by_name(const struct bpfvm_object *obj, const char *name, size_t n)
{
	for (size_t i = obj->sec_cnt; i-- > 0;)
		if (strlen(obj->secs[i].name) == n && !memcmp(obj->secs[i].name, name, n))
			return (long)i;
	return -1;
}

static int parse_ext(struct od_core *c, const struct bpfvm_object *obj, struct span ext)
{
	uint32_t magic_ver = 0, hdr_len, relo_off, relo_len, skip;
	if (!rd32(ext, 0, &magic_ver) || (magic_ver & 0xffff) != BTF_MAGIC_LE || ((magic_ver >> 16) & 0xff) != 1 ||
	    !rd32(ext, 4, &hdr_len) || hdr_len < 8 || !rd32(ext, 8, &skip) || !rd32(ext, 12, &skip) ||
	    !rd32(ext, 16, &skip) || !rd32(ext, 20, &skip) || !rd32(ext, 24, &relo_off) || !rd32(ext, 28, &relo_len))
		return -EINVAL;
	if (!relo_len)
		return 0;
	uint32_t start = hdr_len + relo_off, end = start + relo_len, rec_sz;
	uint64_t at = start;
	if (!rd32(ext, at, &rec_sz) || rec_sz < 16)
		return -EINVAL;
	at += 4;
	while (at < end) {
		uint32_t name_off, num;
		if (!rd32(ext, at, &name_off) || !rd32(ext, at + 4, &num))
			return -EINVAL;
		at += 8;
		const char *name;
		size_t nlen;
		str_at(c, name_off, &name, &nlen);
		long sec = sec_by_name(obj, name, nlen);
		for (uint32_t i = 0; i < num; i++) {
			struct od_core_relo r;
			if (!rd32(ext, at, &r.insn_off) || !rd32(ext, at + 4, &r.type_id) || !rd32(ext, at + 8, &r.spec_off) ||
			    !rd32(ext, at + 12, &r.kind))
				return -EINVAL;
			at += rec_sz;
			if (sec < 0)
				continue; /* LLVM has no section to file it under */
			struct od_core_sec *s = &c->secs[sec];
			struct od_core_relo *nr = realloc(s->r, (s->cnt + 1) * sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			s->r = nr;
			s->r[s->cnt++] = r;
		}
		/* sorted after each block, stably: qsort is not stable, so sort (offset, arrival) pairs */
		if (sec >= 0) {
			struct od_core_sec *s = &c->secs[sec];
			for (size_t k = 1; k < s->cnt; k++) /* insertion sort: stable, and blocks are near-sorted */
				for (size_t j = k; j > 0 && relo_cmp(&s->r[j - 1], &s->r[j]) > 0; j--) {
					struct od_core_relo t = s->r[j];
					s->r[j] = s->r[j - 1];
					s->r[j - 1] = t;
				}
		}
	}
	return 0;
}

void od_core_free(struct od_core *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->sec_cnt; i++)
		free(c->secs[i].r);
	free(c->secs);
	free(c->type_off);
	free(c);
}

struct od_core *od_core_load(const struct bpfvm_object *obj)
{
	long bi = -1, ei = -1;
	for (size_t i = 0; i < obj->sec_cnt; i++) {
		if (!strcmp(obj->secs[i].name, ".BTF"))
			bi = (long)i;
		if (!strcmp(obj->secs[i].name, ".BTF.ext"))
			ei = (long)i;
	}
	if (bi < 0 || ei < 0)
		return NULL;
	struct od_core *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->sec_cnt = obj->sec_cnt;
	c->secs = calloc(obj->sec_cnt, sizeof(*c->secs));
	if (!c->secs || parse_btf(c, obj->secs[bi].data) || parse_ext(c, obj, obj->secs[ei].data)) {
		od_core_free(c);
		return NULL;
	}
	return c;
}

/* ---- symbolize ------------------------------------------------------------------------------------ */

struct sb {
	char *buf;
	size_t len, pos;
};

PRINTF_FMT(2, 3)
static void sb_put(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->pos < b->len ? b->buf + b->pos : NULL, b->pos < b->len ? b->len - b->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->pos += (size_t)n;
}

/* The header of type `id` (name offset, info, size/type), false past the last type; id 0 is void. */
static bool type_at(const struct od_core *c, uint32_t id, uint32_t h[3])
{
	if (id >= c->type_cnt)
		return false;
	if (id == 0) {
		h[0] = h[1] = h[2] = 0; /* LLVM's void guard: kind UNKN */
		return true;
	}
	uint32_t o = c->type_off[id];
	return rd32(c->types, o, &h[0]) && rd32(c->types, o + 4, &h[1]) && rd32(c->types, o + 8, &h[2]);
}

static unsigned kind_of(const uint32_t h[3]) { return (h[1] >> 24) & 0x1f; }
static uint32_t vlen_of(const uint32_t h[3]) { return h[1] & 0xffff; }

static bool is_mod(unsigned k)
{
	return k == BTF_KIND_VOLATILE || k == BTF_KIND_CONST || k == BTF_KIND_RESTRICT || k == BTF_KIND_TYPE_TAG;
}

static void put_str(struct sb *b, const struct od_core *c, uint32_t off)
{
	const char *p;
	size_t n;
	str_at(c, off, &p, &n);
	sb_put(b, "%.*s", (int)n, p);
}

/* A name, or "<anon IDX>" when empty (LLVM's StrOrAnon). */
static void put_name(struct sb *b, const struct od_core *c, uint32_t off, uint32_t idx)
{
	const char *p;
	size_t n;
	str_at(c, off, &p, &n);
	if (n)
		sb_put(b, "%.*s", (int)n, p);
	else
		sb_put(b, "<anon %" PRIu32 ">", idx);
}

static const char *kind_name(uint32_t k)
{
	/* enum bpf_core_relo_kind */
	static const char *const names[] = { "byte_off", "byte_sz", "field_exists", "signed", "lshift_u64",
					     "rshift_u64", "local_type_id", "target_type_id", "type_exists",
					     "type_size", "enumval_exists", "enumval_value", "type_matches" };
	return k < sizeof(names) / sizeof(names[0]) ? names[k] : NULL;
}

static void put_kind(struct sb *b, uint32_t k)
{
	if (kind_name(k))
		sb_put(b, "<%s>", kind_name(k));
	else
		sb_put(b, "<reloc kind #%" PRIu32 ">", k);
}

/* Skips modifiers and typedefs from type `id` (LLVM's skipModsAndTypedefs(), bounded: it would loop
 * on a cycle). */
static uint32_t skip_mods(const struct od_core *c, uint32_t id)
{
	uint32_t h[3];
	for (size_t n = 0; n < c->type_cnt && type_at(c, id, h) && (is_mod(kind_of(h)) || kind_of(h) == BTF_KIND_TYPEDEF);
	     n++) {
		if (h[2] >= c->type_cnt)
			break;
		id = h[2];
	}
	return id;
}

/* Word `i` after the 12-byte header of type `id` (inside its record: checked when it was parsed). */
static uint32_t extra(const struct od_core *c, uint32_t id, uint64_t i)
{
	uint32_t v = 0;
	rd32(c->types, c->type_off[id] + 12 + 4 * i, &v);
	return v;
}

#define FAIL(...) do { fail_fmt(b, r, spec, spec_len, __VA_ARGS__); return; } while (0)

PRINTF_FMT(5, 6)
static void fail_fmt(struct sb *b, const struct od_core_relo *r, const char *spec, size_t spec_len, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->pos = 0;
	put_kind(b, r->kind);
	sb_put(b, " [%" PRIu32 "] '%.*s' <%s>", r->type_id, (int)spec_len, spec, msg);
}

static void symbolize(const struct od_core *c, const struct od_core_relo *r, struct sb *b)
{
	const char *spec;
	size_t spec_len;
	uint32_t raw[64], h[3];
	size_t nraw = 0;

	str_at(c, r->spec_off, &spec, &spec_len);
	/* the access string: [0-9]+(:[0-9]+)*, each number kept as 32 bits (LLVM's SmallVector<uint32_t>) */
	for (size_t i = 0; i < spec_len;) {
		uint64_t v = 0;
		size_t d = i;
		bool over = false;
		while (d < spec_len && spec[d] >= '0' && spec[d] <= '9') {
			over |= v > (UINT64_MAX - (uint64_t)(spec[d] - '0')) / 10;
			v = v * 10 + (uint64_t)(spec[d] - '0');
			d++;
		}
		if (d == i || over)
			FAIL("spec string is not a number");
		if (nraw == sizeof(raw) / sizeof(raw[0]))
			FAIL("spec string is too long"); /* bpfvm's bound; LLVM's vector grows */
		raw[nraw++] = (uint32_t)v;
		if (d == spec_len)
			break;
		if (spec[d] != ':')
			FAIL("unexpected spec string delimiter: '%c'", spec[d]);
		i = d + 1;
	}
	put_kind(b, r->kind);
	uint32_t cur = r->type_id;
	if (!type_at(c, cur, h))
		FAIL("unknown type id: %d", (int)cur);
	sb_put(b, " [%" PRIu32 "]", cur);
	for (unsigned chain = 0; is_mod(kind_of(h)); chain++) {
		if (chain >= 32)
			FAIL("modifiers chain is too long");
		switch (kind_of(h)) {
		case BTF_KIND_CONST: sb_put(b, " const"); break;
		case BTF_KIND_VOLATILE: sb_put(b, " volatile"); break;
		case BTF_KIND_RESTRICT: sb_put(b, " restrict"); break;
		default:
			sb_put(b, " type_tag(\"");
			put_str(b, c, h[0]);
			sb_put(b, "\")");
			break;
		}
		cur = h[2];
		if (!type_at(c, cur, h))
			FAIL("unknown type id: %d in modifiers chain", (int)cur);
	}
	if (cur == 0) {
		sb_put(b, " void");
	} else {
		switch (kind_of(h)) {
		case BTF_KIND_TYPEDEF: sb_put(b, " typedef"); break;
		case BTF_KIND_STRUCT: sb_put(b, " struct"); break;
		case BTF_KIND_UNION: sb_put(b, " union"); break;
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64: sb_put(b, " enum"); break;
		case BTF_KIND_FWD: sb_put(b, (h[1] >> 31) ? " fwd union" : " fwd struct"); break;
		default: break;
		}
		sb_put(b, " ");
		put_name(b, c, h[0], cur);
	}
	uint32_t k = r->kind;
	if ((k >= 6 && k <= 9) || k == 12) { /* type-based: the access string is "0" */
		if (nraw != 1 || raw[0] != 0)
			FAIL("unexpected type-based relocation spec: should be '0'");
		return;
	}
	sb_put(b, "::");
	if (k == 10 || k == 11) { /* enum values: the access string is the literal's index */
		cur = skip_mods(c, cur);
		type_at(c, cur, h);
		if (nraw != 1)
			FAIL("unexpected enumval relocation spec size");
		uint32_t idx = raw[0], name_off;
		uint64_t val;
		if (kind_of(h) == BTF_KIND_ENUM) {
			if (vlen_of(h) <= idx)
				FAIL("bad value index: %d", (int)idx);
			name_off = extra(c, cur, 2ull * idx);
			val = (uint64_t)(int64_t)(int32_t)extra(c, cur, 2ull * idx + 1);
		} else if (kind_of(h) == BTF_KIND_ENUM64) {
			if (vlen_of(h) <= idx)
				FAIL("bad value index: %d", (int)idx);
			name_off = extra(c, cur, 3ull * idx);
			val = (uint64_t)extra(c, cur, 3ull * idx + 2) << 32 | extra(c, cur, 3ull * idx + 1);
		} else {
			FAIL("unexpected type kind for enum relocation: %d", (int)kind_of(h));
		}
		put_name(b, c, name_off, idx);
		if (h[1] >> 31)
			sb_put(b, " = %" PRId64, (int64_t)val);
		else
			sb_put(b, " = %" PRIu64, val);
		return;
	}
	if (k <= 5) { /* fields: the access string indexes as a getelementptr does */
		if (nraw < 1)
			FAIL("field spec too short");
		if (raw[0] != 0)
			sb_put(b, "[%" PRIu32 "]", raw[0]);
		for (size_t i = 1; i < nraw; i++) {
			cur = skip_mods(c, cur);
			type_at(c, cur, h);
			uint32_t idx = raw[i];
			if (kind_of(h) == BTF_KIND_STRUCT || kind_of(h) == BTF_KIND_UNION) {
				if (vlen_of(h) <= idx)
					FAIL("member index %d for spec sub-string %d is out of range", (int)idx, (int)i);
				uint32_t m_name = extra(c, cur, 3ull * idx), m_type = extra(c, cur, 3ull * idx + 1);
				if (i != 1 || raw[0] != 0)
					sb_put(b, ".");
				put_name(b, c, m_name, idx);
				if (m_type >= c->type_cnt)
					FAIL("unknown member type id %d for spec sub-string %d", (int)m_type, (int)i);
				cur = m_type;
			} else if (kind_of(h) == BTF_KIND_ARRAY) {
				uint32_t elem = extra(c, cur, 0);
				sb_put(b, "[%" PRIu32 "]", idx);
				if (elem >= c->type_cnt)
					FAIL("unknown element type id %d for spec sub-string %d", (int)elem, (int)i);
				cur = elem;
			} else {
				FAIL("unexpected type kind %d for spec sub-string %d", (int)kind_of(h), (int)i);
			}
		}
		sb_put(b, " (%.*s)", (int)spec_len, spec);
		return;
	}
	FAIL("unknown relocation kind: %d", (int)k);
}

size_t od_core_line(const struct od_core *c, uint32_t sec, uint64_t insn_off, char *buf, size_t len)
{
	if (!c || sec >= c->sec_cnt || len == 0)
		return 0;
	const struct od_core_sec *s = &c->secs[sec];
	size_t lo = 0, hi = s->cnt; /* the first relocation at or after insn_off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->r[mid].insn_off < insn_off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->cnt || s->r[lo].insn_off != insn_off)
		return 0;
	struct sb b = { buf, len, 0 };
	symbolize(c, &s->r[lo], &b);
	return b.pos;
}
