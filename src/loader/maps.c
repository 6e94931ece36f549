/* maps.c -- the maps of an object, collected at open and created at load, as libbpf does:
 *  - BTF-defined maps in .maps (bpf_object__init_user_btf_maps / parse_btf_map_def): each variable of
 *    the .maps DATASEC is a struct whose members encode the definition: __uint(x, N) is `int (*x)[N]`,
 *    __type(x, T) is `T *x`, __array(values, T) is `T *values[]` with initial slots from .rel.maps;
 *  - legacy definitions in `maps` (struct bpf_map_def: type, key_size, value_size, max_entries, map_flags);
 *  - global data: each .data*, .rodata*, .bss* section is a one-element ARRAY map named by libbpf's
 *    internal_map_name(), initialised with the section bytes; .rodata* is BPF_F_RDONLY_PROG and frozen.
 * Creation goes through bpfvm_bpf() only (MAP_CREATE, MAP_UPDATE_ELEM, MAP_FREEZE, OBJ_GET/OBJ_PIN). */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "../sys.h"
#include "../maps/maps.h"

/* libbpf's enum libbpf_pin_type (bpf/bpf_helpers.h) */
#define LIBBPF_PIN_NONE 0
#define LIBBPF_PIN_BY_NAME 1

#define R_BPF_64_64_ 1
#define R_BPF_64_ABS64_ 2

void ldr_map_fini(struct ldr_map *m)
{
	if (m->inner) {
		ldr_map_fini(m->inner);
		free(m->inner);
		m->inner = NULL;
	}
	free(m->slots);
	m->slots = NULL;
}

int ldr_map_at(const struct bpfvm_object *obj, uint32_t sec, uint64_t off)
{
	for (size_t i = 0; i < obj->map_cnt; i++)
		if (obj->maps[i].kind != LDR_MAP_DATA && obj->maps[i].sec == sec && obj->maps[i].sec_off == off)
			return (int)i;
	return -1;
}

static struct ldr_map *new_map(struct bpfvm_object *obj)
{
	struct ldr_map *m = realloc(obj->maps, (obj->map_cnt + 1) * sizeof(*m));
	if (!m)
		return NULL;
	obj->maps = m;
	m = &obj->maps[obj->map_cnt++];
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	return m;
}

static void set_name(char dst[BPF_OBJ_NAME_LEN], const char *src)
{
	snprintf(dst, BPF_OBJ_NAME_LEN, "%s", src);
	for (char *p = dst; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			*p = '_';
}

/* ---- BTF-defined maps ------------------------------------------------------------------------ */

/* __uint(name, N): `int (*name)[N]` -> N */
static int field_int(struct bpfvm_object *obj, const char *map, const char *attr, uint32_t type, uint32_t *val)
{
	struct btf_type t;
	struct btf_array a;
	uint32_t id;
	int err;

	if ((err = ldr_btf_skip_mods(obj, ".maps", type, &id)))
		return err;
	if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_PTR)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: attr '%s': expected a pointer (__uint)", map, id,
			       attr);
	uint32_t aid = t.type;
	if (!ldr_btf_type(obj->btf, aid, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_ARRAY ||
	    !SPAN_READ(ldr_btf_extra(obj->btf, aid), 0, &a))
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: attr '%s': pointer target is not an array (__uint)",
			       map, id, attr);
	*val = a.nelems;
	return 0;
}

/* __type(name, T): `T *name` -> sizeof(T) */
static int field_type_size(struct bpfvm_object *obj, const char *map, const char *attr, uint32_t type, uint32_t *size)
{
	struct btf_type t;
	uint32_t id;
	int err;

	if ((err = ldr_btf_skip_mods(obj, ".maps", type, &id)))
		return err;
	if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_PTR)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: attr '%s': expected a pointer (__type)", map, id,
			       attr);
	return ldr_btf_size(obj, ".maps", t.type, size);
}

static int set_size(struct bpfvm_object *obj, const char *map, const char *what, uint32_t *cur, uint32_t v)
{
	if (*cur && *cur != v)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': conflicting %s size %u != %u", map, what, *cur, v);
	*cur = v;
	return 0;
}

static int parse_def(struct bpfvm_object *obj, const char *map, uint32_t struct_id, struct ldr_map *m, bool inner,
		     uint32_t *values_off);

/* __array(values, T): `T *values[]`; T is struct (inner map def) or func_proto (prog array). */
static int field_values(struct bpfvm_object *obj, const char *map, uint32_t type, struct ldr_map *m)
{
	struct btf_type t;
	struct btf_array a;
	uint32_t id, pid;
	int err;

	if ((err = ldr_btf_skip_mods(obj, ".maps", type, &id)))
		return err;
	if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_ARRAY ||
	    !SPAN_READ(ldr_btf_extra(obj->btf, id), 0, &a))
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: 'values' is not an array (__array)", map, id);
	if ((err = ldr_btf_skip_mods(obj, ".maps", a.type, &id)))
		return err;
	if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_PTR)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: 'values' element is not a pointer", map, id);
	if ((err = ldr_btf_skip_mods(obj, ".maps", t.type, &pid)))
		return err;
	if (!ldr_btf_type(obj->btf, pid, &t))
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: 'values' points to void", map, id);
	uint32_t kind = BTF_INFO_KIND(t.info);
	if (m->type == BPF_MAP_TYPE_PROG_ARRAY) {
		if (kind != BTF_KIND_FUNC_PROTO)
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: prog array 'values' must point to functions",
				       map, pid);
		return 0;
	}
	if (m->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && m->type != BPF_MAP_TYPE_HASH_OF_MAPS)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': 'values' is only for prog arrays and maps of maps (type %u)",
			       map, m->type);
	if (kind != BTF_KIND_STRUCT)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: inner map definition is not a struct", map, pid);
	if (m->inner)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': 'values' given twice", map);
	m->inner = calloc(1, sizeof(*m->inner));
	if (!m->inner)
		return ldr_err(obj, ".maps", -ENOMEM, "map '%s': out of memory", map);
	m->inner->fd = -1;
	m->inner->kind = LDR_MAP_BTF;
	m->inner->real_name = m->real_name;
	snprintf(m->inner->name, sizeof(m->inner->name), "%.9s.inner", m->name);
	return parse_def(obj, map, pid, m->inner, true, NULL);
}

static int parse_def(struct bpfvm_object *obj, const char *map, uint32_t struct_id, struct ldr_map *m, bool inner,
		     uint32_t *values_off)
{
	struct btf_type t;
	int err;

	ldr_btf_type(obj->btf, struct_id, &t); /* caller checked it is a struct */
	struct span ms = ldr_btf_extra(obj->btf, struct_id);
	uint32_t vlen = BTF_INFO_VLEN(t.info);
	for (uint32_t i = 0; i < vlen; i++) {
		struct btf_member mb;
		uint32_t v = 0;
		if (!span_read(ms, (uint64_t)i * sizeof(mb), &mb, sizeof(mb)))
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: member %u is cut off", map, struct_id, i);
		const char *name = ldr_btf_str(obj->btf, mb.name_off);
		if (!name || !*name)
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: member %u has no name", map, struct_id, i);
		if (!strcmp(name, "type")) {
			err = field_int(obj, map, name, mb.type, &m->type);
		} else if (!strcmp(name, "max_entries")) {
			err = field_int(obj, map, name, mb.type, &m->max_entries);
		} else if (!strcmp(name, "map_flags")) {
			err = field_int(obj, map, name, mb.type, &m->map_flags);
		} else if (!strcmp(name, "numa_node")) {
			err = field_int(obj, map, name, mb.type, &m->numa_node);
		} else if (!strcmp(name, "map_extra")) {
			err = field_int(obj, map, name, mb.type, &v);
			m->map_extra = v;
		} else if (!strcmp(name, "pinning")) {
			err = field_int(obj, map, name, mb.type, &m->pinning);
			if (!err && inner && m->pinning)
				err = ldr_err(obj, ".maps", -EINVAL, "map '%s': inner map definitions cannot be pinned", map);
			else if (!err && m->pinning != LIBBPF_PIN_NONE && m->pinning != LIBBPF_PIN_BY_NAME)
				err = ldr_err(obj, ".maps", -EINVAL, "map '%s': invalid pinning value %u", map, m->pinning);
		} else if (!strcmp(name, "key_size") || !strcmp(name, "value_size")) {
			err = field_int(obj, map, name, mb.type, &v);
			if (!err)
				err = set_size(obj, map, name[0] == 'k' ? "key" : "value",
					       name[0] == 'k' ? &m->key_size : &m->value_size, v);
		} else if (!strcmp(name, "key") || !strcmp(name, "value")) {
			err = field_type_size(obj, map, name, mb.type, &v);
			if (!err && name[0] == 'v')
				m->value_type = mb.type; /* `T *value`, checked to be a pointer just above */
			else if (!err)
				m->key_type = mb.type;
			if (!err)
				err = set_size(obj, map, name, name[0] == 'k' ? &m->key_size : &m->value_size, v);
		} else if (!strcmp(name, "values")) {
			if (inner)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': an inner map cannot have 'values'", map);
			if (BTF_INFO_KFLAG(t.info) || mb.offset % 8)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: 'values' is not byte-aligned", map,
					       struct_id);
			if (values_off)
				*values_off = mb.offset / 8;
			err = field_values(obj, map, mb.type, m);
		} else {
			err = 0; /* libbpf: "ignoring unknown field" */
		}
		if (err)
			return err;
	}
	if (m->type == 0)
		return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: no 'type'", map, struct_id);
	/* prog arrays and maps of maps hold 4-byte fds (libbpf fills value_size for __array) */
	if ((m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS ||
	     m->type == BPF_MAP_TYPE_PROG_ARRAY) && m->value_size == 0)
		m->value_size = 4;
	return 0;
}

static int collect_btf_maps(struct bpfvm_object *obj)
{
	const struct ldr_sec *ms = &obj->secs[obj->maps_sec];
	int err;

	if (!obj->btf)
		return ldr_err(obj, ".maps", -EINVAL, "BTF-defined maps need the .BTF section (compile with -g)");
	uint32_t ds = ldr_btf_find(obj->btf, ".maps", BTF_KIND_DATASEC);
	if (!ds)
		return ldr_err(obj, ".maps", -EINVAL, "no DATASEC '.maps' in BTF");
	struct btf_type dt;
	ldr_btf_type(obj->btf, ds, &dt);
	struct span vs = ldr_btf_extra(obj->btf, ds);
	uint32_t vlen = BTF_INFO_VLEN(dt.info);
	for (uint32_t i = 0; i < vlen; i++) {
		struct btf_var_secinfo vi;
		struct btf_type vt, st;
		uint32_t sid;
		if (!span_read(vs, (uint64_t)i * sizeof(vi), &vi, sizeof(vi)))
			return ldr_err(obj, ".maps", -EINVAL, "BTF type %u: variable %u is cut off", ds, i);
		if (!ldr_btf_type(obj->btf, vi.type, &vt) || BTF_INFO_KIND(vt.info) != BTF_KIND_VAR)
			return ldr_err(obj, ".maps", -EINVAL, "BTF type %u: entry %u (type %u) is not a variable", ds, i, vi.type);
		const char *name = ldr_btf_str(obj->btf, vt.name_off);
		if (!name || !*name)
			return ldr_err(obj, ".maps", -EINVAL, "BTF type %u: variable without a name", vi.type);
		if ((err = ldr_btf_skip_mods(obj, ".maps", vt.type, &sid)))
			return err;
		if (!ldr_btf_type(obj->btf, sid, &st) || BTF_INFO_KIND(st.info) != BTF_KIND_STRUCT)
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: definition is not a struct", name, sid);
		/* the definition's place in the section comes from its ELF symbol (libbpf's btf_fixup_datasec) */
		const struct ldr_sym *sym = NULL;
		for (size_t j = 0; j < obj->sym_cnt; j++)
			if (obj->syms[j].shndx == obj->maps_sec && !strcmp(obj->syms[j].name, name) &&
			    obj->syms[j].type != STT_SECTION) {
				sym = &obj->syms[j];
				break;
			}
		/* without a symbol, the DATASEC's own offset and size (what libbpf's fixup would have found) */
		struct ldr_sym dsym = { name, STT_OBJECT, STB_GLOBAL, (uint16_t)obj->maps_sec, vi.offset, vi.size };
		if (!sym)
			sym = &dsym;
		if (!span_ok(ms->data, sym->value, st.size) || !span_ok(ms->data, sym->value, sym->size))
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': definition (offset %llu, %u bytes) is outside the section (%zu bytes)",
				       name, (unsigned long long)sym->value, st.size, ms->data.len);
		for (size_t j = 0; j < obj->map_cnt; j++)
			if (!strcmp(obj->maps[j].real_name, name))
				return ldr_err(obj, ".maps", -EINVAL, "map '%s' is defined twice", name);
		struct ldr_map *m = new_map(obj);
		if (!m)
			return ldr_err(obj, ".maps", -ENOMEM, "out of memory");
		m->real_name = name;
		set_name(m->name, name);
		m->kind = LDR_MAP_BTF;
		m->sec = (uint32_t)obj->maps_sec;
		m->sec_off = sym->value;
		uint32_t values_off = UINT32_MAX;
		if ((err = parse_def(obj, name, sid, m, false, &values_off)))
			return err;
		/* initial slots: .rel.maps entries inside this definition's 'values' */
		int rel = ldr_rel_for(obj, (uint32_t)obj->maps_sec);
		size_t rcnt = ldr_elf_rel_cnt(obj, rel);
		for (size_t r = 0; r < rcnt; r++) {
			uint64_t off;
			uint32_t rsym, rtype;
			ldr_elf_rel(obj, rel, r, &off, &rsym, &rtype);
			/* a definition with initial values is longer than its struct (flexible 'values' array) */
			uint64_t def_len = sym->size > st.size ? sym->size : st.size;
			if (off < m->sec_off || off - m->sec_off >= def_len)
				continue;
			uint64_t rel_off = off - m->sec_off;
			if (values_off == UINT32_MAX || rel_off < values_off || (rel_off - values_off) % 8)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': relocation %zu at offset %llu is not a 'values' slot",
					       name, r, (unsigned long long)off);
			if (rtype != R_BPF_64_ABS64_ && rtype != R_BPF_64_64_)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': relocation %zu: unexpected type %u", name, r, rtype);
			if (rsym == 0 || rsym >= obj->sym_cnt)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': relocation %zu: symbol index %u is not below the symbol count %zu",
					       name, r, rsym, obj->sym_cnt);
			uint64_t idx = (rel_off - values_off) / 8;
			if (idx >= m->max_entries)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': initial slot %llu is not below max_entries %u", name,
					       (unsigned long long)idx, m->max_entries);
			const struct ldr_sym *ys = &obj->syms[rsym];
			bool is_map = ys->shndx == obj->maps_sec && (int)obj->maps_sec >= 0;
			bool is_fn = ys->type == STT_FUNC;
			if (m->type == BPF_MAP_TYPE_PROG_ARRAY ? !is_fn : !is_map)
				return ldr_err(obj, ".maps", -EINVAL, "map '%s': slot %llu: '%s' is not a %s", name,
					       (unsigned long long)idx, ys->name, m->type == BPF_MAP_TYPE_PROG_ARRAY ? "program" : "map");
			struct ldr_slot *sl = realloc(m->slots, (m->slot_cnt + 1) * sizeof(*sl));
			if (!sl)
				return ldr_err(obj, ".maps", -ENOMEM, "out of memory");
			m->slots = sl;
			sl[m->slot_cnt++] = (struct ldr_slot){ (uint32_t)idx, rsym };
		}
	}
	return 0;
}

/* ---- legacy maps ------------------------------------------------------------------------------- */

/* samples/bpf's struct bpf_load_map_def, whose first five fields are libbpf 0.x's struct bpf_map_def. */
struct legacy_def {
	uint32_t type, key_size, value_size, max_entries, map_flags, inner_map_idx, numa_node;
};

static bool is_map_of_maps(uint32_t type)
{
	return type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

/* As libbpf 0.x (bpf_object__init_user_maps): every named non-section symbol of `maps` is a map, the
 * record size is the section size over their count, a shorter record leaves the later fields 0, and
 * bytes past the known fields must be 0.  The known fields are bpf_load.c's: inner_map_idx names the
 * inner map template of a map of maps by its index in the section, numa_node counts with
 * BPF_F_NUMA_NODE (MAP_CREATE's rule). */
static int collect_legacy_maps(struct bpfvm_object *obj)
{
	const struct ldr_sec *s = &obj->secs[obj->legacy_sec];
	size_t n = 0, first = obj->map_cnt;

	for (size_t i = 0; i < obj->sym_cnt; i++)
		if (obj->syms[i].shndx == obj->legacy_sec && obj->syms[i].type != STT_SECTION && *obj->syms[i].name)
			n++;
	if (n == 0)
		return 0;
	obj->legacy |= BPFVM_LEGACY_MAPS;
	if (s->data.len == 0 || s->data.len % n)
		return ldr_err(obj, s->name, -EINVAL, "cannot tell the map definition size: %zu maps in %zu bytes", n, s->data.len);
	size_t def_sz = s->data.len / n;
	uint32_t *inner_idx = calloc(n, sizeof(*inner_idx));
	if (!inner_idx)
		return ldr_err(obj, s->name, -ENOMEM, "out of memory");
	int err = 0;
	for (size_t i = 0; i < obj->sym_cnt && !err; i++) {
		const struct ldr_sym *y = &obj->syms[i];
		if (y->shndx != obj->legacy_sec || y->type == STT_SECTION || !*y->name)
			continue;
		struct legacy_def d;
		struct span def;
		memset(&d, 0, sizeof(d));
		if (!span_sub(s->data, y->value, def_sz, &def)) {
			err = ldr_err(obj, s->name, -EINVAL, "map '%s': definition at offset %llu (+%zu) is outside the section (%zu bytes)",
				      y->name, (unsigned long long)y->value, def_sz, s->data.len);
			break;
		}
		span_read(def, 0, &d, def_sz < sizeof(d) ? def_sz : sizeof(d));
		for (size_t b = sizeof(d); b < def_sz && !err; b++)
			if (def.p[b])
				err = ldr_err(obj, s->name, -EINVAL, "map '%s': unknown non-zero bytes in the definition at +%zu",
					      y->name, b);
		if (!err && d.inner_map_idx && !is_map_of_maps(d.type))
			err = ldr_err(obj, s->name, -EINVAL, "map '%s': inner_map_idx %u on a map that is not a map of maps (type %u)",
				      y->name, d.inner_map_idx, d.type);
		if (err)
			break;
		struct ldr_map *m = new_map(obj);
		if (!m) {
			err = ldr_err(obj, s->name, -ENOMEM, "out of memory");
			break;
		}
		inner_idx[obj->map_cnt - 1 - first] = d.inner_map_idx;
		m->real_name = y->name;
		set_name(m->name, y->name);
		m->kind = LDR_MAP_LEGACY;
		m->sec = (uint32_t)obj->legacy_sec;
		m->sec_off = y->value;
		m->type = d.type;
		m->key_size = d.key_size;
		m->value_size = d.value_size;
		m->max_entries = d.max_entries;
		m->map_flags = d.map_flags;
		m->numa_node = d.numa_node;
	}
	/* maps of maps: the inner template is a copy of the definition at inner_map_idx */
	for (size_t i = first; i < obj->map_cnt && !err; i++) {
		struct ldr_map *m = &obj->maps[i];
		if (!is_map_of_maps(m->type))
			continue;
		uint64_t off = (uint64_t)inner_idx[i - first] * def_sz;
		int t = ldr_map_at(obj, (uint32_t)obj->legacy_sec, off);
		if (t < 0 || (size_t)t == i) {
			err = ldr_err(obj, s->name, -EINVAL, "map '%s': inner_map_idx %u names no other map definition", m->real_name,
				      inner_idx[i - first]);
			break;
		}
		m->inner = calloc(1, sizeof(*m->inner));
		if (!m->inner) {
			err = ldr_err(obj, s->name, -ENOMEM, "out of memory");
			break;
		}
		*m->inner = obj->maps[t];
		m->inner->inner = NULL;
		m->inner->slots = NULL;
		m->inner->fd = -1;
		snprintf(m->inner->name, sizeof(m->inner->name), "%.9s.inner", m->name);
	}
	free(inner_idx);
	return err;
}

/* ---- global data --------------------------------------------------------------------------------- */

/* libbpf's internal_map_name(): "<obj name prefix><section>", the prefix dropped for dotted subsections */
static void data_map_name(const struct bpfvm_object *obj, const char *sec, char out[BPF_OBJ_NAME_LEN])
{
	size_t sfx_len = strlen(sec) > 7 ? strlen(sec) : 7;
	size_t pfx_len = 0;
	if (!strchr(sec + 1, '.')) {
		pfx_len = BPF_OBJ_NAME_LEN - 1 > sfx_len ? BPF_OBJ_NAME_LEN - 1 - sfx_len : 0;
		if (pfx_len > strlen(obj->obj_name))
			pfx_len = strlen(obj->obj_name);
	}
	char tmp[BPF_OBJ_NAME_LEN * 2];
	snprintf(tmp, sizeof(tmp), "%.*s%s", (int)pfx_len, obj->obj_name, sec);
	set_name(out, tmp);
}

static int collect_data_maps(struct bpfvm_object *obj)
{
	for (size_t i = 1; i < obj->sec_cnt; i++) {
		struct ldr_sec *s = &obj->secs[i];
		if (s->kind != LDR_SEC_DATA && s->kind != LDR_SEC_RODATA && s->kind != LDR_SEC_BSS)
			continue;
		if (s->size == 0)
			continue;
		if (s->size > UINT32_MAX - 8)
			return ldr_err(obj, s->name, -E2BIG, "global data of %llu bytes is too large", (unsigned long long)s->size);
		struct ldr_map *m = new_map(obj);
		if (!m)
			return ldr_err(obj, s->name, -ENOMEM, "out of memory");
		m->real_name = s->name;
		data_map_name(obj, s->name, m->name);
		m->kind = LDR_MAP_DATA;
		m->type = BPF_MAP_TYPE_ARRAY;
		m->key_size = 4;
		m->value_size = (uint32_t)s->size;
		m->max_entries = 1;
		m->sec = (uint32_t)i;
		m->rodata = s->kind == LDR_SEC_RODATA;
		m->map_flags = m->rodata ? BPF_F_RDONLY_PROG : 0;
		s->map = (int)(obj->map_cnt - 1);
	}
	return 0;
}

int ldr_maps_collect(struct bpfvm_object *obj)
{
	int err;

	if (obj->maps_sec >= 0 && (err = collect_btf_maps(obj)))
		return err;
	if (obj->legacy_sec >= 0 && (err = collect_legacy_maps(obj)))
		return err;
	return collect_data_maps(obj);
}

/* ---- creation ------------------------------------------------------------------------------------ */

static long sys_bpf(struct bpfvm_object *obj, int cmd, union bpf_attr *a)
{
	return bpfvm_bpf(obj->vm, cmd, a, sizeof(*a));
}

/* Byte offset of the value type's (`T *value`) top-level `struct <name>` member: 0 and *off (UINT32_MAX
 * when there is none), or a logged error.  Linux finds these special fields in the BTF given to
 * MAP_CREATE (btf_find_field(): top-level members, one of each at most, -E2BIG for a second, -EINVAL when
 * misaligned); bpfvm has no BTF objects, so the loader finds them and tells the map. */
static int special_off(struct bpfvm_object *obj, const struct ldr_map *m, const char *name, uint32_t align,
		       uint32_t *off)
{
	struct btf_type t;
	uint32_t id;
	int err;

	*off = UINT32_MAX;
	if (!m->value_type)
		return 0;
	if ((err = ldr_btf_skip_mods(obj, ".maps", m->value_type, &id)) || !ldr_btf_type(obj->btf, id, &t) ||
	    (err = ldr_btf_skip_mods(obj, ".maps", t.type, &id)))
		return err ? err : -EINVAL;
	if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_STRUCT)
		return 0;
	struct span ms = ldr_btf_extra(obj->btf, id);
	bool kflag = BTF_INFO_KFLAG(t.info);
	for (uint32_t i = 0; i < BTF_INFO_VLEN(t.info); i++) {
		struct btf_member mb;
		struct btf_type mt;
		uint32_t mid;
		if (!span_read(ms, (uint64_t)i * sizeof(mb), &mb, sizeof(mb)))
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': BTF type %u: member %u is cut off", m->real_name, id, i);
		if ((err = ldr_btf_skip_mods(obj, ".maps", mb.type, &mid)))
			return err;
		if (!ldr_btf_type(obj->btf, mid, &mt) || BTF_INFO_KIND(mt.info) != BTF_KIND_STRUCT)
			continue;
		const char *mname = ldr_btf_str(obj->btf, mt.name_off);
		if (!mname || strcmp(mname, name))
			continue;
		uint32_t bits = kflag ? BTF_MEMBER_BIT_OFFSET(mb.offset) : mb.offset;
		if (*off != UINT32_MAX)
			return ldr_err(obj, ".maps", -E2BIG, "map '%s': more than one struct %s in the value", m->real_name, name);
		if (bits % (align * 8))
			return ldr_err(obj, ".maps", -EINVAL, "map '%s': struct %s at bit %u is not %u-byte aligned",
				       m->real_name, name, bits, align);
		*off = bits / 8;
	}
	return 0;
}

/* Finds struct <name> in the value and records its offset in the created map with `set`. */
static int set_special(struct bpfvm_object *obj, struct ldr_map *m, const char *name, uint32_t align,
		       int (*set)(struct map *, uint32_t))
{
	uint32_t off;
	int err = special_off(obj, m, name, align, &off);

	if (err || off == UINT32_MAX)
		return err;
	struct sys_obj *o = sys_get(obj->vm, m->fd, SYS_MAP, &err);
	if (o) {
		err = set(o->map, off);
		sys_put(obj->vm, o);
	}
	if (err)
		return ldr_err(obj, ".maps", err, "map '%s': struct %s at value offset %u not allowed (type %u, value %u)",
			       m->real_name, name, off, m->type, m->value_size);
	return 0;
}

static int set_spin_lock(struct bpfvm_object *obj, struct ldr_map *m)
{
	return set_special(obj, m, "bpf_spin_lock", 4, map_set_spin_lock_off);
}

static int set_timer(struct bpfvm_object *obj, struct ldr_map *m)
{
	return set_special(obj, m, "bpf_timer", 8, map_set_timer_off);
}

static int create_one(struct bpfvm_object *obj, struct ldr_map *m, int inner_fd)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = m->type;
	a.key_size = m->key_size;
	a.value_size = m->value_size;
	a.max_entries = m->max_entries;
	a.map_flags = m->map_flags;
	a.numa_node = m->numa_node;
	a.map_extra = m->map_extra;
	a.inner_map_fd = inner_fd > 0 ? (uint32_t)inner_fd : 0;
	memcpy(a.map_name, m->name, sizeof(a.map_name));
	if (m->type == BPF_MAP_TYPE_RINGBUF || m->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		/* libbpf: ring buffers take no key/value; perf arrays hold fds */
		if (m->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
			a.key_size = 4;
			a.value_size = 4;
		}
	}
	long fd = sys_bpf(obj, BPF_MAP_CREATE, &a);
	if (fd < 0)
		return ldr_err(obj, NULL, (int)fd, "map '%s': MAP_CREATE failed (type %u, key %u, value %u, max_entries %u, flags 0x%x)",
			       m->real_name, m->type, m->key_size, m->value_size, m->max_entries, m->map_flags);
	m->fd = (int)fd;
	int err = set_spin_lock(obj, m);
	if (!err)
		err = set_timer(obj, m);
	if (!err)
		err = ldr_map_keep_btf(obj, m);
	if (err) {
		bpfvm_close(obj->vm, m->fd);
		m->fd = -1;
	}
	return err;
}

/* LIBBPF_PIN_BY_NAME: reuse the pinned map when it is compatible (libbpf map_is_reuse_compat), else create
 * and pin it. */
static int create_pinned(struct bpfvm_object *obj, struct ldr_map *m, int inner_fd)
{
	union bpf_attr a;
	char path[BPF_OBJ_NAME_LEN + 16];
	int err;

	snprintf(path, sizeof(path), "/sys/fs/bpf/%s", m->real_name);
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	long fd = sys_bpf(obj, BPF_OBJ_GET, &a);
	if (fd >= 0) {
		struct bpf_map_info info;
		memset(&info, 0, sizeof(info));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)fd;
		a.info.info_len = sizeof(info);
		a.info.info = (uintptr_t)&info;
		err = (int)sys_bpf(obj, BPF_OBJ_GET_INFO_BY_FD, &a);
		if (err || info.type != m->type || info.key_size != m->key_size || info.value_size != m->value_size ||
		    info.max_entries != m->max_entries || info.map_flags != m->map_flags) {
			bpfvm_close(obj->vm, (int)fd);
			return ldr_err(obj, NULL, -EINVAL, "map '%s': pinned map at %s is incompatible (type %u key %u value %u max_entries %u flags 0x%x)",
				       m->real_name, path, info.type, info.key_size, info.value_size, info.max_entries, info.map_flags);
		}
		m->fd = (int)fd;
		/* the same timer offset, or the pinned map is laid out otherwise; BTF if it has none */
		if ((err = set_timer(obj, m)) || (err = ldr_map_keep_btf(obj, m))) {
			bpfvm_close(obj->vm, m->fd);
			m->fd = -1;
		}
		return err;
	}
	if (fd != -ENOENT)
		return ldr_err(obj, NULL, (int)fd, "map '%s': OBJ_GET of %s failed", m->real_name, path);
	if ((err = create_one(obj, m, inner_fd)))
		return err;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = (uint32_t)m->fd;
	if ((err = (int)sys_bpf(obj, BPF_OBJ_PIN, &a)))
		return ldr_err(obj, NULL, err, "map '%s': OBJ_PIN at %s failed", m->real_name, path);
	return 0;
}

int ldr_maps_create(struct bpfvm_object *obj)
{
	union bpf_attr a;
	int err;

	for (size_t i = 0; i < obj->map_cnt; i++) {
		struct ldr_map *m = &obj->maps[i];
		int inner_fd = -1;
		/* libbpf map_set_def_max_entries(): a perf event array of no size gets one slot per possible CPU
		 * (the kernel refuses 0), before a pinned one is compared */
		if (m->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !m->max_entries)
			m->max_entries = obj->vm->nr_cpus;
		if (m->inner && m->inner->type == BPF_MAP_TYPE_PERF_EVENT_ARRAY && !m->inner->max_entries)
			m->inner->max_entries = obj->vm->nr_cpus;
		if (m->inner) {
			if ((err = create_one(obj, m->inner, -1)))
				return err;
			inner_fd = m->inner->fd;
		} else if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || m->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
			return ldr_err(obj, NULL, -EINVAL, "map '%s': map of maps without an inner map definition (__array(values, ...))",
				       m->real_name);
		}
		if (m->pinning == LIBBPF_PIN_BY_NAME)
			err = create_pinned(obj, m, inner_fd);
		else
			err = create_one(obj, m, inner_fd);
		if (m->inner) { /* the template is only needed for MAP_CREATE (libbpf closes it too) */
			bpfvm_close(obj->vm, m->inner->fd);
			m->inner->fd = -1;
		}
		if (err)
			return err;
		if (m->kind != LDR_MAP_DATA)
			continue;
		const struct ldr_sec *s = &obj->secs[m->sec];
		uint32_t key = 0;
		if (s->type != SHT_NOBITS) {
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			a.key = (uintptr_t)&key;
			a.value = (uintptr_t)s->data.p;
			if ((err = (int)sys_bpf(obj, BPF_MAP_UPDATE_ELEM, &a)))
				return ldr_err(obj, s->name, err, "map '%s': initialising with the section bytes failed", m->name);
		}
		if (m->rodata) {
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			if ((err = (int)sys_bpf(obj, BPF_MAP_FREEZE, &a)))
				return ldr_err(obj, s->name, err, "map '%s': MAP_FREEZE failed", m->name);
		}
	}
	return 0;
}

int ldr_maps_fill_slots(struct bpfvm_object *obj)
{
	union bpf_attr a;
	int err;

	for (size_t i = 0; i < obj->map_cnt; i++) {
		struct ldr_map *m = &obj->maps[i];
		for (size_t j = 0; j < m->slot_cnt; j++) {
			const struct ldr_sym *y = &obj->syms[m->slots[j].sym];
			int fd = -1;
			if (m->type == BPF_MAP_TYPE_PROG_ARRAY) {
				for (size_t p = 0; p < obj->prog_cnt; p++)
					if (obj->progs[p].sec == y->shndx && !strcmp(obj->progs[p].name, y->name))
						fd = obj->progs[p].fd;
				if (fd < 0)
					return ldr_err(obj, ".maps", -EINVAL, "map '%s': slot %u: '%s' is not a loaded program",
						       m->real_name, m->slots[j].idx, y->name);
			} else {
				int mi = ldr_map_at(obj, y->shndx, y->value);
				if (mi < 0 || obj->maps[mi].fd < 0)
					return ldr_err(obj, ".maps", -EINVAL, "map '%s': slot %u: '%s' is not a map", m->real_name,
						       m->slots[j].idx, y->name);
				fd = obj->maps[mi].fd;
			}
			uint32_t key = m->slots[j].idx, val = (uint32_t)fd;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)m->fd;
			a.key = (uintptr_t)&key;
			a.value = (uintptr_t)&val;
			if ((err = (int)sys_bpf(obj, BPF_MAP_UPDATE_ELEM, &a)))
				return ldr_err(obj, ".maps", err, "map '%s': setting slot %u to '%s' failed", m->real_name, key, y->name);
		}
	}
	return 0;
}
