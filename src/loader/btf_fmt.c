/* btf_fmt.c -- map keys, values and event records printed as their BTF types say (bpfvm run's map dumps,
 * --top and events): structs with field names, integers in decimal, enums by name, char arrays as
 * strings, global data sections by variable.  Text is "{pkts: 3, bytes: 180}", JSON is what bpftool
 * prints for a map with BTF ({"pkts":3,"bytes":180}).  The BTF was checked at open; reads of the data
 * are bounded by its length here (a type larger than the data prints what fits, then "?"). */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

#include "loader.h"

struct out {
	char *buf;
	size_t cap, len;          /* len counts everything, also what did not fit (snprintf semantics) */
	bool json;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

static void put_str(struct out *o, const uint8_t *s, size_t n)
{
	put(o, "\"");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			put(o, "\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			put(o, "%c", s[i]);
		else
			put(o, o->json ? "\\u%04x" : "\\x%02x", s[i]);
	}
	put(o, "\"");
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* Bits [bit_off, bit_off + bits) of p (little-endian), as the bitfield rules of BTF members say. */
static uint64_t load_bits(const uint8_t *p, size_t avail, uint32_t bit_off, uint32_t bits)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < bits && i < 64; i++) {
		uint32_t b = bit_off + i;
		if (b / 8 < avail && (p[b / 8] >> (b % 8) & 1))
			v |= 1ull << i;
	}
	return v;
}

static uint32_t skip_mods(const struct ldr_btf *btf, uint32_t id)
{
	for (int d = 0; d <= LDR_BTF_MAX_DEPTH; d++) {
		struct btf_type t;
		if (!ldr_btf_type(btf, id, &t))
			return 0;
		uint32_t k = BTF_INFO_KIND(t.info);
		if (k != BTF_KIND_TYPEDEF && k != BTF_KIND_VOLATILE && k != BTF_KIND_CONST && k != BTF_KIND_RESTRICT &&
		    k != BTF_KIND_TYPE_TAG && k != BTF_KIND_VAR)
			return id;
		id = t.type;
	}
	return 0;
}

static bool is_char(const struct ldr_btf *btf, uint32_t id)
{
	struct btf_type t;
	uint32_t enc;
	id = skip_mods(btf, id);
	if (!ldr_btf_type(btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_INT || t.size != 1 ||
	    !SPAN_READ(ldr_btf_extra(btf, id), 0, &enc))
		return false;
	const char *n = ldr_btf_str(btf, t.name_off);
	return (BTF_INT_ENCODING(enc) & BTF_INT_CHAR) || (n && strstr(n, "char"));
}

static void fmt(const struct ldr_btf *btf, uint32_t id, const uint8_t *p, size_t avail, struct out *o, int depth,
		uint32_t bit_off, uint32_t bit_size);

static void fmt_int(const struct ldr_btf *btf, uint32_t id, const struct btf_type *t, const uint8_t *p, size_t avail,
		    struct out *o, uint32_t bit_off, uint32_t bit_size)
{
	uint32_t enc = 0;
	SPAN_READ(ldr_btf_extra(btf, id), 0, &enc);
	uint32_t bits = bit_size ? bit_size : BTF_INT_BITS(enc);
	bit_off += BTF_INT_OFFSET(enc);
	if (t->size > 8 && !bit_size) { /* __int128: hex, as bpftool */
		put(o, o->json ? "\"0x" : "0x");
		for (size_t i = t->size; i-- > 0;)
			put(o, "%02x", i < avail ? p[i] : 0);
		put(o, o->json ? "\"" : "");
		return;
	}
	if (bits > 64)
		bits = 64;
	uint64_t v = bit_off || bits != t->size * 8u ? load_bits(p, avail, bit_off, bits) : load_le(p, t->size);
	if (BTF_INT_ENCODING(enc) & BTF_INT_BOOL)
		put(o, "%s", v ? "true" : "false");
	else if (BTF_INT_ENCODING(enc) & BTF_INT_SIGNED) {
		if (bits < 64 && (v >> (bits - 1) & 1))
			v |= ~0ull << bits; /* sign-extend */
		put(o, "%" PRId64, (int64_t)v);
	} else {
		put(o, "%" PRIu64, v);
	}
}

static void fmt_enum(const struct ldr_btf *btf, uint32_t id, const struct btf_type *t, const uint8_t *p, size_t avail,
		     struct out *o, uint32_t bit_off, uint32_t bit_size)
{
	bool is64 = BTF_INFO_KIND(t->info) == BTF_KIND_ENUM64;
	uint32_t size = t->size <= 8 ? t->size : 8;
	uint64_t v = bit_size || bit_off ? load_bits(p, avail, bit_off, bit_size ? bit_size : size * 8) : load_le(p, size);
	struct span ex = ldr_btf_extra(btf, id);
	for (uint32_t i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		uint64_t ev;
		uint32_t name_off;
		if (is64) {
			struct btf_enum64 e;
			if (!SPAN_READ(ex, (uint64_t)i * sizeof(e), &e))
				break;
			ev = (uint64_t)e.val_hi32 << 32 | e.val_lo32;
			name_off = e.name_off;
		} else {
			struct btf_enum e;
			if (!SPAN_READ(ex, (uint64_t)i * sizeof(e), &e))
				break;
			ev = (uint32_t)e.val;
			name_off = e.name_off;
			if (size < 8)
				v &= size == 4 ? 0xffffffffull : (1ull << size * 8) - 1;
		}
		const char *n = ldr_btf_str(btf, name_off);
		if (ev == v && n && *n) {
			put(o, o->json ? "\"%s\"" : "%s", n);
			return;
		}
	}
	put(o, "%" PRIu64, v);
}

static void fmt(const struct ldr_btf *btf, uint32_t id, const uint8_t *p, size_t avail, struct out *o, int depth,
		uint32_t bit_off, uint32_t bit_size)
{
	struct btf_type t;

	id = skip_mods(btf, id);
	if (depth > LDR_BTF_MAX_DEPTH || !ldr_btf_type(btf, id, &t)) {
		put(o, o->json ? "null" : "?");
		return;
	}
	uint32_t kind = BTF_INFO_KIND(t.info), vlen = BTF_INFO_VLEN(t.info);
	struct span ex = ldr_btf_extra(btf, id);
	uint32_t size = kind == BTF_KIND_PTR ? 8 : t.size;
	if (kind != BTF_KIND_ARRAY && kind != BTF_KIND_DATASEC && kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION &&
	    !bit_size && (size_t)size + bit_off / 8 > avail) {
		put(o, o->json ? "null" : "?"); /* the data is shorter than its type */
		return;
	}
	switch (kind) {
	case BTF_KIND_INT:
		fmt_int(btf, id, &t, p, avail, o, bit_off, bit_size);
		return;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		fmt_enum(btf, id, &t, p, avail, o, bit_off, bit_size);
		return;
	case BTF_KIND_PTR:
		put(o, o->json ? "\"0x%" PRIx64 "\"" : "0x%" PRIx64, load_le(p, 8));
		return;
	case BTF_KIND_FLOAT:
		if (t.size == 4) {
			float f;
			memcpy(&f, p, 4);
			put(o, "%g", (double)f);
		} else if (t.size == 8) {
			double d;
			memcpy(&d, p, 8);
			put(o, "%g", d);
		} else {
			put(o, o->json ? "null" : "?");
		}
		return;
	case BTF_KIND_ARRAY: {
		struct btf_array a;
		struct btf_type et;
		if (!SPAN_READ(ex, 0, &a) || !ldr_btf_type(btf, skip_mods(btf, a.type), &et)) {
			put(o, o->json ? "null" : "?");
			return;
		}
		uint32_t ek = BTF_INFO_KIND(et.info), esz = ek == BTF_KIND_PTR ? 8 : et.size;
		if (ek == BTF_KIND_ARRAY) { /* arrays of arrays: the inner size from the inner array */
			struct btf_array ia;
			struct btf_type it;
			if (SPAN_READ(ldr_btf_extra(btf, skip_mods(btf, a.type)), 0, &ia) &&
			    ldr_btf_type(btf, skip_mods(btf, ia.type), &it))
				esz = it.size * ia.nelems;
		}
		if (is_char(btf, a.type)) {
			/* a C string when it is one: printable bytes up to the first NUL (or the end) */
			size_t n = 0, lim = a.nelems < avail ? a.nelems : avail;
			while (n < lim && p[n])
				n++;
			bool text = true;
			for (size_t i = 0; i < n; i++)
				text &= p[i] >= 0x20 && p[i] < 0x7f;
			for (size_t i = n; i < lim; i++)
				text &= p[i] == 0;
			if (text) {
				put_str(o, p, n);
				return;
			}
		}
		put(o, "[");
		for (uint32_t i = 0; i < a.nelems; i++) {
			uint64_t off = (uint64_t)i * esz;
			put(o, i ? (o->json ? "," : ", ") : "");
			if (off + esz > avail) {
				put(o, o->json ? "null" : "?");
				break;
			}
			fmt(btf, a.type, p + off, avail - off, o, depth + 1, 0, 0);
		}
		put(o, "]");
		return;
	}
	case BTF_KIND_STRUCT: case BTF_KIND_UNION: {
		bool kflag = BTF_INFO_KFLAG(t.info);
		put(o, "{");
		for (uint32_t i = 0; i < vlen; i++) {
			struct btf_member m;
			if (!SPAN_READ(ex, (uint64_t)i * sizeof(m), &m))
				break;
			uint32_t boff = kflag ? BTF_MEMBER_BIT_OFFSET(m.offset) : m.offset;
			uint32_t bsz = kflag ? BTF_MEMBER_BITFIELD_SIZE(m.offset) : 0;
			const char *n = ldr_btf_str(btf, m.name_off);
			if (!n || !*n)
				n = "(anon)";
			put(o, o->json ? "%s\"%s\":" : "%s%s: ", i ? (o->json ? "," : ", ") : "", n);
			if (boff / 8 >= avail) {
				put(o, o->json ? "null" : "?");
				continue;
			}
			if (bsz || boff % 8)
				fmt(btf, m.type, p, avail, o, depth + 1, boff, bsz);
			else
				fmt(btf, m.type, p + boff / 8, avail - boff / 8, o, depth + 1, 0, 0);
		}
		put(o, "}");
		return;
	}
	case BTF_KIND_DATASEC: {
		/* global data: each variable by name */
		put(o, "{");
		int shown = 0;
		for (uint32_t i = 0; i < vlen; i++) {
			struct btf_var_secinfo v;
			struct btf_type vt;
			if (!SPAN_READ(ex, (uint64_t)i * sizeof(v), &v) || !ldr_btf_type(btf, v.type, &vt))
				break;
			const char *n = ldr_btf_str(btf, vt.name_off);
			put(o, o->json ? "%s\"%s\":" : "%s%s: ", shown++ ? (o->json ? "," : ", ") : "", n ? n : "?");
			if ((uint64_t)v.offset + v.size > avail)
				put(o, o->json ? "null" : "?");
			else
				fmt(btf, v.type, p + v.offset, v.size, o, depth + 1, 0, 0);
		}
		put(o, "}");
		return;
	}
	default:
		put(o, o->json ? "\"" : "");
		for (uint32_t i = 0; i < size && i < avail; i++)
			put(o, "%02x", p[i]);
		put(o, o->json ? "\"" : "");
	}
}

/* Global data: each variable of the section by name, at the offset its ELF symbol gives (clang leaves
 * the DATASEC's offsets for libbpf's btf_fixup_datasec to fill in; the symbols are right). */
static void fmt_datasec(const struct bpfvm_object *obj, uint32_t id, const struct btf_type *t, const uint8_t *p,
			size_t avail, struct out *o)
{
	const struct ldr_btf *btf = obj->btf;
	const char *sname = ldr_btf_str(btf, t->name_off);
	struct span ex = ldr_btf_extra(btf, id);
	size_t sec = SIZE_MAX;

	for (size_t i = 0; sname && i < obj->sec_cnt; i++)
		if (obj->secs[i].name && !strcmp(obj->secs[i].name, sname))
			sec = i;
	put(o, "{");
	for (uint32_t i = 0, shown = 0; i < BTF_INFO_VLEN(t->info); i++) {
		struct btf_var_secinfo v;
		struct btf_type vt;
		if (!SPAN_READ(ex, (uint64_t)i * sizeof(v), &v) || !ldr_btf_type(btf, v.type, &vt))
			break;
		const char *n = ldr_btf_str(btf, vt.name_off);
		/* names C reserves for the implementation: declarations for tools (EVENT_TYPE() in
		 * examples/common.h), not data */
		if (n && n[0] == '_' && n[1] == '_')
			continue;
		uint64_t off = v.offset;
		for (size_t j = 0; n && j < obj->sym_cnt; j++)
			if (obj->syms[j].shndx == sec && !strcmp(obj->syms[j].name, n) && obj->syms[j].type == STT_OBJECT)
				off = obj->syms[j].value;
		put(o, o->json ? "%s\"%s\":" : "%s%s: ", shown++ ? (o->json ? "," : ", ") : "", n ? n : "?");
		if (off + v.size > avail)
			put(o, o->json ? "null" : "?");
		else
			fmt(btf, v.type, p + off, v.size, o, 1, 0, 0);
	}
	put(o, "}");
}

long bpfvm_object_btf_format(const struct bpfvm_object *obj, uint32_t type, const void *data, size_t len, int flags,
			     char *buf, size_t cap)
{
	struct btf_type t;

	if (!obj || !obj->btf || !type || !ldr_btf_type(obj->btf, type, &t))
		return -ENOENT;
	if (!data)
		return -EINVAL;
	struct out o = { buf, buf ? cap : 0, 0, (flags & BPFVM_FMT_JSON) != 0 };
	if (o.cap)
		buf[0] = '\0';
	if (BTF_INFO_KIND(t.info) == BTF_KIND_DATASEC)
		fmt_datasec(obj, type, &t, data, len, &o);
	else
		fmt(obj->btf, type, data, len, &o, 0, 0, 0);
	return (long)o.len;
}

/* The type a map's definition names for part (0 key, 1 value): the pointee of `__type(key, T)`, or
 * for global data the section's DATASEC. */
static uint32_t map_part_type(const struct bpfvm_object *obj, const struct ldr_map *m, int part)
{
	struct btf_type t;
	uint32_t ptr = part ? m->value_type : m->key_type;

	if (m->kind == LDR_MAP_DATA)
		return part ? ldr_btf_find(obj->btf, m->real_name, BTF_KIND_DATASEC) : 0;
	if (!ptr || !ldr_btf_type(obj->btf, ptr, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_PTR)
		return 0;
	return t.type;
}

int bpfvm_object_map_btf(const struct bpfvm_object *obj, size_t i, uint32_t *key_type, uint32_t *value_type)
{
	if (!obj || i >= obj->map_cnt)
		return -ENOENT;
	uint32_t k = obj->btf ? map_part_type(obj, &obj->maps[i], 0) : 0;
	uint32_t v = obj->btf ? map_part_type(obj, &obj->maps[i], 1) : 0;
	if (!k && !v)
		return -ENOENT;
	if (key_type)
		*key_type = k;
	if (value_type)
		*value_type = v;
	return 0;
}

uint32_t bpfvm_object_btf_struct_by_size(const struct bpfvm_object *obj, size_t size, const char *hint)
{
	uint32_t only = 0, hinted = 0;
	int cnt = 0, hcnt = 0;

	if (!obj || !obj->btf)
		return 0;
	for (uint32_t id = 1; id < obj->btf->cnt; id++) {
		struct btf_type t;
		if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_STRUCT || t.size != size)
			continue;
		const char *n = ldr_btf_str(obj->btf, t.name_off);
		if (!n || !*n)
			continue;
		only = id;
		cnt++;
		if (hint && strstr(n, hint)) {
			hinted = id;
			hcnt++;
		}
	}
	return hcnt == 1 ? hinted : cnt == 1 ? only : 0;
}

/* The struct (or union) behind type id, through typedefs, qualifiers and at most one pointer; 0 if none. */
static uint32_t pointee_struct(const struct ldr_btf *btf, uint32_t id)
{
	bool ptr_seen = false;

	for (int hops = 0; hops < 32; hops++) {
		struct btf_type t;
		if (!id || !ldr_btf_type(btf, id, &t))
			return 0;
		switch (BTF_INFO_KIND(t.info)) {
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION:
			return id;
		case BTF_KIND_PTR:
			if (ptr_seen)
				return 0;
			ptr_seen = true;
			break;
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_VAR:
			break;
		default:
			return 0;
		}
		id = t.type;
	}
	return 0;
}

uint32_t bpfvm_object_event_type(const struct bpfvm_object *obj, const char *map, size_t size)
{
	char name[BPF_OBJ_NAME_LEN + 32];

	if (!obj || !obj->btf)
		return 0;
	if (map && (size_t)snprintf(name, sizeof(name), "__event_type_%s", map) < sizeof(name)) {
		uint32_t t = pointee_struct(obj->btf, ldr_btf_find(obj->btf, name, BTF_KIND_VAR));
		if (t)
			return t;
	}
	return bpfvm_object_btf_struct_by_size(obj, size, "event");
}
