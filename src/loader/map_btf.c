/* map_btf.c -- maps keep the BTF of their keys and values, as Linux keeps a map's btf_fd and
 * btf_key/value_type_id from MAP_CREATE, so that `bpfvm map dump PIN` in another process prints them
 * by type, as `bpftool map dump` does for a map with BTF.  The loader gives each map it creates the
 * object's .BTF; maps.h (map_set_btf()) keeps it in the map's file, where every pin of the map finds it.
 *
 * What is stored is the object's .BTF with each DATASEC's variable offsets and size filled in from the
 * ELF symbols, as libbpf's btf_fixup_datasec() does before it loads BTF into the kernel (clang leaves
 * them 0): a reader of the pin has the BTF only, no symbols.  A stored BTF is input when read back:
 * ldr_btf_parse() checks it as it checks an object's, and type ids outside it read as "not known". */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "../sys.h"
#include "../maps/maps.h"

/* obj->map_btf: the .BTF section with its DATASECs fixed up (see the top).  0, or -ENOMEM / -ENOENT
 * (no BTF). */
static int fixed_btf(struct bpfvm_object *obj)
{
	const struct ldr_sec *bs = NULL;

	if (obj->map_btf)
		return 0;
	for (size_t i = 1; i < obj->sec_cnt; i++)
		if (obj->secs[i].kind == LDR_SEC_BTF)
			bs = &obj->secs[i];
	if (!obj->btf || !bs || !bs->data.len)
		return -ENOENT;
	uint8_t *copy = malloc(bs->data.len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, bs->data.p, bs->data.len);
	/* ldr_btf_parse() made btf->types a part of the section's bytes: the same offsets in the copy */
	size_t types_at = (size_t)(obj->btf->types.p - bs->data.p);
	for (uint32_t id = 1; id < obj->btf->cnt; id++) {
		struct btf_type t;
		if (!ldr_btf_type(obj->btf, id, &t) || BTF_INFO_KIND(t.info) != BTF_KIND_DATASEC)
			continue;
		const char *sname = ldr_btf_str(obj->btf, t.name_off);
		size_t sec = SIZE_MAX;
		for (size_t i = 0; sname && i < obj->sec_cnt; i++)
			if (obj->secs[i].name && !strcmp(obj->secs[i].name, sname))
				sec = i;
		if (sec == SIZE_MAX || obj->secs[sec].size > UINT32_MAX)
			continue;
		size_t at = types_at + obj->btf->offs[id];
		t.size = (uint32_t)obj->secs[sec].size;
		memcpy(copy + at, &t, sizeof(t));
		struct span ex = ldr_btf_extra(obj->btf, id);
		for (uint32_t v = 0; v < BTF_INFO_VLEN(t.info); v++) {
			struct btf_var_secinfo vs;
			struct btf_type vt;
			if (!SPAN_READ(ex, (uint64_t)v * sizeof(vs), &vs) || !ldr_btf_type(obj->btf, vs.type, &vt))
				break;
			const char *n = ldr_btf_str(obj->btf, vt.name_off);
			for (size_t j = 0; n && j < obj->sym_cnt; j++)
				if (obj->syms[j].shndx == sec && obj->syms[j].type == STT_OBJECT &&
				    obj->syms[j].value <= UINT32_MAX && !strcmp(obj->syms[j].name, n))
					vs.offset = (uint32_t)obj->syms[j].value;
			memcpy(copy + at + sizeof(t) + (size_t)v * sizeof(vs), &vs, sizeof(vs));
		}
	}
	obj->map_btf = copy;
	obj->map_btf_len = bs->data.len;
	return 0;
}

int ldr_map_keep_btf(struct bpfvm_object *obj, const struct ldr_map *m)
{
	uint32_t kt = 0, vt = 0;
	int err = 0;

	/* inner map templates are not among obj->maps: they are closed once the outer map exists */
	if (m < obj->maps || m >= obj->maps + obj->map_cnt ||
	    bpfvm_object_map_btf(obj, (size_t)(m - obj->maps), &kt, &vt))
		return 0;
	if ((err = fixed_btf(obj)))
		return err == -ENOENT ? 0 : ldr_err(obj, ".BTF", err, "map '%s': out of memory for its BTF", m->real_name);
	struct sys_obj *o = sys_get(obj->vm, m->fd, SYS_MAP, &err);
	if (!o)
		return ldr_err(obj, NULL, err, "map '%s': no map behind fd %d", m->real_name, m->fd);
	err = map_set_btf(o->map, obj->map_btf, obj->map_btf_len, kt, vt);
	sys_put(obj->vm, o);
	/* A pinned map reused with its BTF (-EEXIST), or one in a memfd that nobody else can open
	 * (-EPERM): the types are kept where they can be read.  Else the map works without them, but a
	 * dump of its pin would print hex, so say why. */
	if (err && err != -EEXIST && err != -EPERM)
		return ldr_err(obj, NULL, err, "map '%s': cannot keep its BTF (%zu bytes) with it: %s", m->real_name,
			       obj->map_btf_len, strerror(-err));
	return 0;
}

/* A .BTF of len bytes parsed into a new object of that BTF only (owns buf, also on failure). */
static int btf_object(struct bpfvm *vm, const char *name, uint8_t *buf, size_t len, struct bpfvm_object **out)
{
	struct bpfvm_object *obj = ldr_obj_new(vm, name, buf, len);
	int err;

	if (!obj)
		return -ENOMEM;
	if ((err = ldr_btf_parse(obj, obj->file, &obj->btf))) {
		bpfvm_object_close(obj);
		return err;
	}
	*out = obj;
	return 0;
}

int bpfvm_map_set_btf(struct bpfvm *vm, int map_fd, const void *btf, size_t len, uint32_t key_type,
		      uint32_t value_type)
{
	struct bpfvm_object *b;
	struct btf_type t;
	int err;

	sys_log_reset(vm);
	if (!btf || !len || len > MAP_BTF_MAX)
		return sys_err(vm, btf && len ? -E2BIG : -EINVAL, "map BTF: %zu bytes (1..%u)", len, MAP_BTF_MAX);
	uint8_t *copy = malloc(len);
	if (!copy)
		return sys_err(vm, -ENOMEM, "map BTF: out of memory for %zu bytes", len);
	memcpy(copy, btf, len);
	if ((err = btf_object(vm, "map BTF", copy, len, &b)))
		return err;
	if ((key_type && !ldr_btf_type(b->btf, key_type, &t)) || (value_type && !ldr_btf_type(b->btf, value_type, &t))) {
		err = sys_err(vm, -EINVAL, "map BTF: %s type id %u is not a type of the BTF (%u types)",
			      key_type && !ldr_btf_type(b->btf, key_type, &t) ? "key" : "value",
			      key_type && !ldr_btf_type(b->btf, key_type, &t) ? key_type : value_type, b->btf->cnt - 1);
		bpfvm_object_close(b);
		return err;
	}
	bpfvm_object_close(b);
	struct sys_obj *o = sys_get(vm, map_fd, SYS_MAP, &err);
	if (!o)
		return sys_err(vm, err, "map BTF: fd %d is not a map", map_fd);
	err = map_set_btf(o->map, btf, len, key_type, value_type);
	sys_put(vm, o);
	if (err == -EEXIST)
		return sys_err(vm, err, "map BTF: map fd %d has BTF already", map_fd);
	if (err == -EPERM)
		return sys_err(vm, err, "map BTF: map fd %d lives in memory that cannot grow (it was created while "
			       "the pin root was unusable, and cannot be pinned)", map_fd);
	if (err)
		return sys_err(vm, err, "map BTF: map fd %d: %s", map_fd, strerror(-err));
	return 0;
}

int bpfvm_map_btf(struct bpfvm *vm, int map_fd, struct bpfvm_object **btf, uint32_t *key_type, uint32_t *value_type)
{
	uint32_t kt = 0, vt = 0;
	uint8_t *buf = NULL;
	long len;
	int err;

	sys_log_reset(vm);
	if (!btf)
		return sys_err(vm, -EINVAL, "map BTF: NULL result pointer");
	struct sys_obj *o = sys_get(vm, map_fd, SYS_MAP, &err);
	if (!o)
		return sys_err(vm, err, "map BTF: fd %d is not a map", map_fd);
	/* the file can change between the two reads (someone else's write): then the length differs */
	len = map_get_btf(o->map, NULL, 0, NULL, NULL);
	if (len > 0 && !(buf = malloc((size_t)len)))
		len = -ENOMEM;
	if (len > 0) {
		long again = map_get_btf(o->map, buf, (size_t)len, &kt, &vt);
		if (again != len)
			len = again < 0 ? again : -EINVAL;
	}
	sys_put(vm, o);
	if (len < 0) {
		free(buf);
		if (len == -ENOENT)
			return sys_err(vm, -ENOENT, "map fd %d has no BTF", map_fd);
		return sys_err(vm, (int)len, "map fd %d: its BTF cannot be read: %s", map_fd,
			       len == -EINVAL ? "the trailer of its file is corrupt" : strerror((int)-len));
	}
	struct bpfvm_object *b;
	if ((err = btf_object(vm, "map BTF", buf, (size_t)len, &b)))
		return err;
	struct btf_type t;
	if (key_type)
		*key_type = kt && ldr_btf_type(b->btf, kt, &t) ? kt : 0;
	if (value_type)
		*value_type = vt && ldr_btf_type(b->btf, vt, &t) ? vt : 0;
	*btf = b;
	return 0;
}
