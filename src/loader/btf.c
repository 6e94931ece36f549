/* btf.c -- BTF (the .BTF section) as the loader needs it: the type table indexed by id, names, sizes,
 * and modifier skipping.  The whole type section is walked once at parse time, so every type's extra
 * data (members, params, array info) is known to be inside it; later reads still go through spans.
 * Reference chains are followed at most LDR_BTF_MAX_DEPTH steps, so a loop (type 5 -> 6 -> 5) is an
 * error, not a hang.  Layout: linux/btf.h and Documentation/bpf/btf.rst. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

static const char *const kind_names[NR_BTF_KINDS] = {
	[BTF_KIND_UNKN] = "void", [BTF_KIND_INT] = "int", [BTF_KIND_PTR] = "ptr", [BTF_KIND_ARRAY] = "array",
	[BTF_KIND_STRUCT] = "struct", [BTF_KIND_UNION] = "union", [BTF_KIND_ENUM] = "enum", [BTF_KIND_FWD] = "fwd",
	[BTF_KIND_TYPEDEF] = "typedef", [BTF_KIND_VOLATILE] = "volatile", [BTF_KIND_CONST] = "const",
	[BTF_KIND_RESTRICT] = "restrict", [BTF_KIND_FUNC] = "func", [BTF_KIND_FUNC_PROTO] = "func_proto",
	[BTF_KIND_VAR] = "var", [BTF_KIND_DATASEC] = "datasec", [BTF_KIND_FLOAT] = "float",
	[BTF_KIND_DECL_TAG] = "decl_tag", [BTF_KIND_TYPE_TAG] = "type_tag", [BTF_KIND_ENUM64] = "enum64",
};

static const char *kind_name(uint32_t kind)
{
	return kind < NR_BTF_KINDS ? kind_names[kind] : "unknown";
}

/* Bytes that follow struct btf_type for this kind, or -1 for an unknown kind. */
static int64_t extra_len(uint32_t kind, uint32_t vlen)
{
	switch (kind) {
	case BTF_KIND_INT:
		return 4;
	case BTF_KIND_PTR: case BTF_KIND_FWD: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT: case BTF_KIND_FUNC: case BTF_KIND_FLOAT: case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return (int64_t)sizeof(struct btf_array);
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return (int64_t)sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return (int64_t)sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_enum64);
	default:
		return -1;
	}
}

const char *ldr_btf_str(const struct ldr_btf *btf, uint32_t off)
{
	if (off >= btf->strs.len)
		return NULL;
	if (!memchr(btf->strs.p + off, '\0', btf->strs.len - off))
		return NULL;
	return (const char *)btf->strs.p + off;
}

int ldr_btf_parse(struct bpfvm_object *obj, struct span data, struct ldr_btf **out)
{
	struct btf_header h;
	struct ldr_btf *btf;
	uint64_t end;
	int err = -EINVAL;

	if (!SPAN_READ(data, 0, &h))
		return ldr_err(obj, ".BTF", -EINVAL, "%zu bytes are shorter than the BTF header (%zu)", data.len, sizeof(h));
	if (h.magic != BTF_MAGIC)
		return ldr_err(obj, ".BTF", -EINVAL, "bad magic 0x%04x (expected 0x%04x; big-endian BTF is not supported)",
			       h.magic, BTF_MAGIC);
	if (h.version != BTF_VERSION)
		return ldr_err(obj, ".BTF", -EINVAL, "unsupported version %u", h.version);
	if (h.hdr_len < sizeof(h) || h.hdr_len > data.len)
		return ldr_err(obj, ".BTF", -EINVAL, "header length %u is outside %zu..%zu", h.hdr_len, sizeof(h), data.len);
	btf = calloc(1, sizeof(*btf));
	if (!btf)
		return ldr_err(obj, ".BTF", -ENOMEM, "out of memory");
	if (CKD_ADD(&end, (uint64_t)h.hdr_len, (uint64_t)h.type_off) ||
	    !span_sub(data, end, h.type_len, &btf->types)) {
		ldr_err(obj, ".BTF", -EINVAL, "type section (offset %u, length %u) is outside the %zu bytes", h.type_off,
			h.type_len, data.len);
		goto fail;
	}
	if (CKD_ADD(&end, (uint64_t)h.hdr_len, (uint64_t)h.str_off) || !span_sub(data, end, h.str_len, &btf->strs)) {
		ldr_err(obj, ".BTF", -EINVAL, "string section (offset %u, length %u) is outside the %zu bytes", h.str_off,
			h.str_len, data.len);
		goto fail;
	}
	if (btf->strs.len == 0 || btf->strs.p[0] != '\0' || btf->strs.p[btf->strs.len - 1] != '\0') {
		ldr_err(obj, ".BTF", -EINVAL, "string section must start and end with a NUL byte");
		goto fail;
	}
	if (h.type_len % 4) {
		ldr_err(obj, ".BTF", -EINVAL, "type section length %u is not a multiple of 4", h.type_len);
		goto fail;
	}
	/* at most one type per 12 bytes, plus void */
	size_t max_cnt = btf->types.len / sizeof(struct btf_type) + 1;
	btf->offs = calloc(max_cnt, sizeof(*btf->offs));
	if (!btf->offs) {
		err = ldr_err(obj, ".BTF", -ENOMEM, "out of memory for %zu types", max_cnt);
		goto fail;
	}
	btf->cnt = 1;
	for (uint64_t off = 0; off < btf->types.len;) {
		struct btf_type t;
		uint32_t id = btf->cnt;
		if (!SPAN_READ(btf->types, off, &t)) {
			ldr_err(obj, ".BTF", -EINVAL, "type %u: header at offset %llu is cut off by the end of the type section",
				id, (unsigned long long)off);
			goto fail;
		}
		uint32_t kind = BTF_INFO_KIND(t.info), vlen = BTF_INFO_VLEN(t.info);
		int64_t extra = extra_len(kind, vlen);
		if (extra < 0 || kind == BTF_KIND_UNKN) {
			ldr_err(obj, ".BTF", -EINVAL, "type %u: unknown kind %u", id, kind);
			goto fail;
		}
		if (!ldr_btf_str(btf, t.name_off)) {
			ldr_err(obj, ".BTF", -EINVAL, "type %u: name offset %u is outside the string section (%zu bytes)", id,
				t.name_off, btf->strs.len);
			goto fail;
		}
		uint64_t next = off + sizeof(t) + (uint64_t)extra;
		if (next > btf->types.len) {
			ldr_err(obj, ".BTF", -EINVAL, "type %u (%s): %lld bytes of members/data are cut off by the end of the type section",
				id, kind_name(kind), (long long)extra);
			goto fail;
		}
		if (NEVER(id >= max_cnt))
			goto fail;
		btf->offs[id] = (uint32_t)off;
		btf->cnt++;
		off = next;
	}
	*out = btf;
	return 0;
fail:
	ldr_btf_free(btf);
	return err;
}

void ldr_btf_free(struct ldr_btf *btf)
{
	if (!btf)
		return;
	free(btf->offs);
	free(btf);
}

bool ldr_btf_type(const struct ldr_btf *btf, uint32_t id, struct btf_type *t)
{
	if (id == 0 || id >= btf->cnt)
		return false;
	return SPAN_READ(btf->types, btf->offs[id], t);
}

struct span ldr_btf_extra(const struct ldr_btf *btf, uint32_t id)
{
	struct span s = { NULL, 0 };
	if (id == 0 || id >= btf->cnt)
		return s;
	uint64_t start = (uint64_t)btf->offs[id] + sizeof(struct btf_type);
	uint64_t end = id + 1 < btf->cnt ? btf->offs[id + 1] : btf->types.len;
	if (start <= end)
		span_sub(btf->types, start, end - start, &s);
	return s;
}

static bool is_mod(uint32_t kind)
{
	return kind == BTF_KIND_TYPEDEF || kind == BTF_KIND_VOLATILE || kind == BTF_KIND_CONST ||
	       kind == BTF_KIND_RESTRICT || kind == BTF_KIND_TYPE_TAG;
}

int ldr_btf_skip_mods(struct bpfvm_object *obj, const char *sec, uint32_t id, uint32_t *out)
{
	const struct ldr_btf *btf = obj->btf;
	uint32_t start = id;

	for (int depth = 0; depth <= LDR_BTF_MAX_DEPTH; depth++) {
		struct btf_type t;
		if (id == 0) {
			*out = 0;
			return 0;
		}
		if (!ldr_btf_type(btf, id, &t))
			return ldr_err(obj, sec, -EINVAL, "BTF type %u: type id is not below the type count %u", id, btf->cnt);
		if (!is_mod(BTF_INFO_KIND(t.info))) {
			*out = id;
			return 0;
		}
		id = t.type;
	}
	return ldr_err(obj, sec, -ELOOP, "BTF type %u: modifier chain longer than %d (a loop?)", start, LDR_BTF_MAX_DEPTH);
}

static int size_of(struct bpfvm_object *obj, const char *sec, uint32_t id, uint32_t *size, int depth)
{
	struct btf_type t;
	uint32_t rid;
	int err;

	if (depth > LDR_BTF_MAX_DEPTH)
		return ldr_err(obj, sec, -ELOOP, "BTF type %u: type chain longer than %d (a loop?)", id, LDR_BTF_MAX_DEPTH);
	if ((err = ldr_btf_skip_mods(obj, sec, id, &rid)))
		return err;
	if (rid == 0)
		return ldr_err(obj, sec, -EINVAL, "BTF type %u: void has no size", id);
	ldr_btf_type(obj->btf, rid, &t);
	switch (BTF_INFO_KIND(t.info)) {
	case BTF_KIND_INT: case BTF_KIND_ENUM: case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM64:
	case BTF_KIND_FLOAT: case BTF_KIND_DATASEC:
		*size = t.size;
		return 0;
	case BTF_KIND_PTR:
		*size = 8;
		return 0;
	case BTF_KIND_VAR:
		return size_of(obj, sec, t.type, size, depth + 1);
	case BTF_KIND_ARRAY: {
		struct btf_array a;
		uint32_t elem;
		if (!SPAN_READ(ldr_btf_extra(obj->btf, rid), 0, &a))
			return ldr_err(obj, sec, -EINVAL, "BTF type %u: array info cut off", rid);
		if ((err = size_of(obj, sec, a.type, &elem, depth + 1)))
			return err;
		if (CKD_MUL(size, elem, a.nelems))
			return ldr_err(obj, sec, -E2BIG, "BTF type %u: array of %u x %u bytes overflows", rid, a.nelems, elem);
		return 0;
	}
	default:
		return ldr_err(obj, sec, -EINVAL, "BTF type %u: kind %s has no size", rid, kind_name(BTF_INFO_KIND(t.info)));
	}
}

int ldr_btf_size(struct bpfvm_object *obj, const char *sec, uint32_t id, uint32_t *size)
{
	return size_of(obj, sec, id, size, 0);
}

uint32_t ldr_btf_find(const struct ldr_btf *btf, const char *name, uint32_t kind)
{
	for (uint32_t id = 1; id < btf->cnt; id++) {
		struct btf_type t;
		if (!ldr_btf_type(btf, id, &t) || BTF_INFO_KIND(t.info) != kind)
			continue;
		const char *n = ldr_btf_str(btf, t.name_off);
		if (n && !strcmp(n, name))
			return id;
	}
	return 0;
}
