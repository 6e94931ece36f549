/* object.c -- the public object API (bpfvm_object_*): open parses an ELF+BTF object into sections,
 * symbols, functions, programs and map definitions without creating anything; load creates the maps,
 * links and relocates each program and loads it with PROG_LOAD, then fills prog array / map-in-map slots,
 * all through bpfvm_bpf() as libbpf does through bpf(2).  Load is all or nothing: on failure every map and
 * program it created is closed again and the reason is the last line of the instance log. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "../sys.h"

#define UNKNOWN_TYPE UINT32_MAX

int ldr_err(struct bpfvm_object *obj, const char *sec, int err, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sec)
		return sys_err(obj->vm, err, "%s: section %s: %s", obj->name, sec, msg);
	return sys_err(obj->vm, err, "%s: %s", obj->name, msg);
}

static void obj_free(struct bpfvm_object *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < obj->prog_cnt; i++) {
		if (obj->progs[i].fd >= 0)
			bpfvm_close(obj->vm, obj->progs[i].fd);
		free(obj->progs[i].insns);
		free(obj->progs[i].lines);
	}
	for (size_t i = 0; i < obj->map_cnt; i++) {
		if (obj->maps[i].fd >= 0)
			bpfvm_close(obj->vm, obj->maps[i].fd);
		ldr_map_fini(&obj->maps[i]);
	}
	ldr_btf_free(obj->btf);
	free(obj->map_btf);
	free(obj->progs);
	free(obj->maps);
	free(obj->funcs);
	free(obj->syms);
	free(obj->secs);
	free(obj->buf);
	free(obj);
}

static int collect_progs(struct bpfvm_object *obj)
{
	size_t n = 0;

	for (size_t i = 0; i < obj->func_cnt; i++)
		n += obj->funcs[i].entry;
	obj->progs = calloc(n ? n : 1, sizeof(*obj->progs));
	if (!obj->progs)
		return ldr_err(obj, NULL, -ENOMEM, "out of memory for %zu programs", n);
	for (size_t i = 0; i < obj->func_cnt; i++) {
		const struct ldr_func *f = &obj->funcs[i];
		if (!f->entry)
			continue;
		struct ldr_prog *p = &obj->progs[obj->prog_cnt++];
		p->name = f->name;
		p->sec = f->sec;
		p->sec_name = obj->secs[f->sec].name;
		p->autoload = true;
		if (p->sec_name[0] == '?') { /* libbpf: SEC("?xdp") is SEC("xdp") with autoload off */
			p->autoload = false;
			p->sec_name++;
		}
		p->func = i;
		p->fd = -1;
		if (ldr_sec_prog_type(p->sec_name, &p->prog_type, &p->attach_type))
			continue;
		if (ldr_sec_legacy_prog_type(p->sec_name, &p->prog_type, &p->attach_type))
			obj->legacy |= BPFVM_LEGACY_SEC_PREFIX;
		else
			p->prog_type = p->attach_type = UNKNOWN_TYPE; /* reported by load (libbpf does the same) */
	}
	return 0;
}

/* samples/bpf's bpf_load.c put the program of a section "socket/N", "kprobe/N" or "kretprobe/N" (N a
 * number) at index N of the object's first map when that is a prog array: sockex3's parsers and
 * tracex5's syscall handlers tail-call through slots no loader of theirs fills.  The index, or -1 when
 * the section is not one of those. */
static long legacy_slot(const char *sec)
{
	static const char *const pfx[] = { "socket/", "kprobe/", "kretprobe/" };

	for (size_t i = 0; i < ARRAY_SIZE(pfx); i++) {
		size_t n = strlen(pfx[i]), d;
		if (strncmp(sec, pfx[i], n))
			continue;
		d = strspn(sec + n, "0123456789");
		if (d == 0 || d > 9 || sec[n + d])
			return -1;
		return strtol(sec + n, NULL, 10);
	}
	return -1;
}

/* The first map of the `maps` section (bpf_load.c's map_fd[0]) when it is a prog array, else NULL. */
static struct ldr_map *legacy_prog_array(struct bpfvm_object *obj)
{
	struct ldr_map *first = NULL;

	for (size_t i = 0; i < obj->map_cnt; i++)
		if (obj->maps[i].kind == LDR_MAP_LEGACY && (!first || obj->maps[i].sec_off < first->sec_off))
			first = &obj->maps[i];
	return first && first->type == BPF_MAP_TYPE_PROG_ARRAY ? first : NULL;
}

/* At open: does the object rely on bpf_load.c's slots? */
static void legacy_slots_check(struct bpfvm_object *obj)
{
	if (!legacy_prog_array(obj))
		return;
	for (size_t i = 0; i < obj->prog_cnt; i++)
		if (legacy_slot(obj->progs[i].sec_name) >= 0)
			obj->legacy |= BPFVM_LEGACY_PROG_ARRAY;
}

/* At load, after the programs: fills those slots. */
static int legacy_slots_fill(struct bpfvm_object *obj)
{
	struct ldr_map *m = legacy_prog_array(obj);

	if (!(obj->legacy & BPFVM_LEGACY_PROG_ARRAY) || !m)
		return 0;
	for (size_t i = 0; i < obj->prog_cnt; i++) {
		const struct ldr_prog *p = &obj->progs[i];
		long slot = legacy_slot(p->sec_name);
		if (slot < 0 || p->fd < 0)
			continue;
		uint32_t key = (uint32_t)slot, val = (uint32_t)p->fd;
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)m->fd;
		a.key = (uintptr_t)&key;
		a.value = (uintptr_t)&val;
		long err = bpfvm_bpf(obj->vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a));
		/* All or nothing: the load fails, and closing the array's handle (the only one) empties the
		 * slots filled before, as it empties them when the object closes -- also those of programs that
		 * tail-call through it (sockex3's main_prog in slot 0), a cycle no reference count breaks
		 * (Linux map_release_uref(), sys_map_release_uref()). */
		if (err)
			return ldr_err(obj, p->sec_name, (int)err, "program '%s': cannot go to slot %ld of prog array '%s' "
				       "(bpf_load.c's numbered sections; max_entries %u)", p->name, slot, m->real_name,
				       m->max_entries);
	}
	return 0;
}

static int set_type(struct bpfvm_object *obj, struct ldr_prog *p, uint32_t prog_type)
{
	if (!bpfvm_prog_type_name(prog_type))
		return ldr_err(obj, p->sec_name, -EINVAL, "program '%s': program type %u is not one bpfvm knows", p->name,
			       prog_type);
	p->prog_type = prog_type;
	p->attach_type = 0;
	return 0;
}

struct bpfvm_object *ldr_obj_new(struct bpfvm *vm, const char *name, uint8_t *buf, size_t len)
{
	struct bpfvm_object *obj = calloc(1, sizeof(*obj));

	if (!obj) {
		free(buf);
		sys_err(vm, -ENOMEM, "%s: out of memory", name);
		return NULL;
	}
	obj->vm = vm;
	obj->buf = buf;
	obj->file = (struct span){ buf, len };
	obj->maps_sec = obj->legacy_sec = obj->text_sec = -1;
	snprintf(obj->name, sizeof(obj->name), "%s", strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
	return obj;
}

static int open_owned(struct bpfvm *vm, const char *name, uint8_t *buf, size_t len,
		      const struct bpfvm_object_opts *opts, struct bpfvm_object **out)
{
	struct bpfvm_object *obj = ldr_obj_new(vm, name, buf, len);
	int err;

	if (!obj)
		return -ENOMEM;
	/* libbpf: the basename cut to 15, then at '.' */
	snprintf(obj->obj_name, sizeof(obj->obj_name), "%.*s", (int)sizeof(obj->obj_name) - 1, obj->name);
	char *dot = strchr(obj->obj_name, '.');
	if (dot)
		*dot = '\0';

	if ((err = ldr_elf_parse(obj)))
		goto fail;
	for (size_t i = 1; i < obj->sec_cnt; i++)
		if (obj->secs[i].kind == LDR_SEC_BTF) {
			if ((err = ldr_btf_parse(obj, obj->secs[i].data, &obj->btf)))
				goto fail;
			break;
		}
	if ((err = collect_progs(obj)) || (err = ldr_maps_collect(obj)))
		goto fail;
	legacy_slots_check(obj);
	for (size_t i = 0; opts && opts->prog_type && i < obj->prog_cnt; i++)
		if ((err = set_type(obj, &obj->progs[i], opts->prog_type)))
			goto fail;
	*out = obj;
	return 0;
fail:
	obj_free(obj);
	return err;
}

int bpfvm_object_open_mem(struct bpfvm *vm, const char *name, const void *buf, size_t len, struct bpfvm_object **out)
{
	sys_log_reset(vm);
	if (!name)
		name = "mem.o";
	if (!buf && len)
		return sys_err(vm, -EINVAL, "%s: NULL buffer of %zu bytes", name, len);
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return sys_err(vm, -ENOMEM, "%s: out of memory for %zu bytes", name, len);
	if (len)
		memcpy(copy, buf, len);
	return open_owned(vm, name, copy, len, NULL, out);
}

int bpfvm_object_open_opts(struct bpfvm *vm, const char *path, const struct bpfvm_object_opts *opts,
			   struct bpfvm_object **out)
{
	struct bpfvm_object_opts o;
	uint8_t *buf;
	size_t len;

	sys_log_reset(vm);
	if (!path)
		return sys_err(vm, -EINVAL, "object path is NULL");
	memset(&o, 0, sizeof(o));
	if (opts) { /* an older caller's smaller struct: the fields it lacks stay 0 */
		if (opts->sz < offsetof(struct bpfvm_object_opts, prog_type) + sizeof(o.prog_type))
			return sys_err(vm, -EINVAL, "%s: bpfvm_object_opts.sz %zu is too small", path, opts->sz);
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	int err = util_read_file(path, &buf, &len);
	if (err)
		return sys_err(vm, err, "%s: cannot read: %s", path, strerror(-err));
	return open_owned(vm, path, buf, len, &o, out);
}

int bpfvm_object_open(struct bpfvm *vm, const char *path, struct bpfvm_object **out)
{
	return bpfvm_object_open_opts(vm, path, NULL, out);
}

/* Re-locates PROG_LOAD's "insn N: ..." in the object: the section insn of the program or subprogram. */
static int report_load_error(struct bpfvm_object *obj, const struct ldr_prog *p, int err)
{
	char last[512];
	size_t pc;
	int n = 0;

	diag_last(sys_log(obj->vm), last, sizeof(last));
	if (sscanf(last, "insn %zu: %n", &pc, &n) == 1 && n > 0) {
		const struct ldr_func *f = &obj->funcs[p->func];
		if (pc < f->cnt)
			return ldr_err(obj, p->sec_name, err, "insn %zu: %s (program '%s')", f->off + pc, last + n, p->name);
		return ldr_err(obj, p->sec_name, err, "program '%s': insn %zu (in a subprogram): %s", p->name, pc, last + n);
	}
	return ldr_err(obj, p->sec_name, err, "program '%s': PROG_LOAD failed: %s", p->name, last[0] ? last : "no reason given");
}

static int load_prog(struct bpfvm_object *obj, struct ldr_prog *p)
{
	union bpf_attr a;
	int err;

	if (p->prog_type == UNKNOWN_TYPE)
		return ldr_err(obj, p->sec_name, -EINVAL, "program '%s': unknown SEC() name (no program type; see libbpf's section names, "
			       "or set one: bpfvm_object_prog_set_type(), `bpfvm run --type`)",
			       p->name);
	if ((err = ldr_prog_link(obj, p)))
		return err;
	memset(&a, 0, sizeof(a));
	a.prog_type = p->prog_type;
	a.expected_attach_type = p->attach_type;
	a.insns = (uintptr_t)p->insns;
	a.insn_cnt = (uint32_t)p->insn_cnt; /* bounded by ldr_prog_link */
	a.license = (uintptr_t)obj->license;
	if (p->log_level) {
		a.log_level = p->log_level;
		a.log_buf = (uintptr_t)p->log_buf;
		a.log_size = p->log_size > UINT32_MAX ? UINT32_MAX : (uint32_t)p->log_size;
	}
	snprintf(a.prog_name, sizeof(a.prog_name), "%s", p->name);
	for (char *c = a.prog_name; *c; c++)  /* libbpf sanitises to what the kernel accepts */
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
			*c = '_';
	long fd = bpfvm_bpf(obj->vm, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0)
		return report_load_error(obj, p, (int)fd);
	p->fd = (int)fd;
	/* for fault messages; without it faults still name the insn */
	if (p->line_cnt && (err = sys_prog_set_lines(obj->vm, p->fd, p->lines, p->line_cnt)))
		return ldr_err(obj, p->sec_name, err, "program '%s': out of memory for its line info", p->name);
	return 0;
}

int bpfvm_object_load(struct bpfvm_object *obj)
{
	int err;

	if (!obj)
		return -EINVAL;
	sys_log_reset(obj->vm);
	if (obj->loaded)
		return ldr_err(obj, NULL, -EINVAL, "object is already loaded");
	if ((err = ldr_maps_create(obj)))
		goto fail;
	for (size_t i = 0; i < obj->prog_cnt; i++)
		if (obj->progs[i].autoload && (err = load_prog(obj, &obj->progs[i])))
			goto fail;
	if ((err = ldr_maps_fill_slots(obj)) || (err = legacy_slots_fill(obj)))
		goto fail;
	obj->loaded = true;
	return 0;
fail:
	for (size_t i = 0; i < obj->prog_cnt; i++)
		if (obj->progs[i].fd >= 0) {
			bpfvm_close(obj->vm, obj->progs[i].fd);
			obj->progs[i].fd = -1;
		}
	for (size_t i = 0; i < obj->map_cnt; i++)
		if (obj->maps[i].fd >= 0) {
			bpfvm_close(obj->vm, obj->maps[i].fd);
			obj->maps[i].fd = -1;
		}
	return err;
}

void bpfvm_object_close(struct bpfvm_object *obj)
{
	obj_free(obj);
}

const char *bpfvm_object_name(const struct bpfvm_object *obj)
{
	return obj->name;
}

const char *bpfvm_object_license(const struct bpfvm_object *obj)
{
	return obj->license;
}

size_t bpfvm_object_prog_cnt(const struct bpfvm_object *obj)
{
	return obj->prog_cnt;
}

const char *bpfvm_object_prog_name(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->prog_cnt ? obj->progs[i].name : NULL;
}

const char *bpfvm_object_prog_section(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->prog_cnt ? obj->progs[i].sec_name : NULL;
}

uint32_t bpfvm_object_prog_type(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->prog_cnt && obj->progs[i].prog_type != UNKNOWN_TYPE ? obj->progs[i].prog_type : 0;
}

uint32_t bpfvm_object_prog_attach_type(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->prog_cnt && obj->progs[i].attach_type != UNKNOWN_TYPE ? obj->progs[i].attach_type : 0;
}

int bpfvm_object_prog_fd_at(const struct bpfvm_object *obj, size_t i)
{
	if (i >= obj->prog_cnt)
		return -ENOENT;
	return obj->progs[i].fd >= 0 ? obj->progs[i].fd : -EBADF;
}

int bpfvm_object_prog_set_autoload(struct bpfvm_object *obj, size_t i, int autoload)
{
	if (i >= obj->prog_cnt)
		return -ENOENT;
	if (obj->loaded)
		return ldr_err(obj, obj->progs[i].sec_name, -EBUSY, "program '%s': autoload set after load",
			       obj->progs[i].name);
	obj->progs[i].autoload = autoload != 0;
	return 0;
}

int bpfvm_object_prog_set_log(struct bpfvm_object *obj, size_t i, uint32_t level, char *buf, size_t size)
{
	if (i >= obj->prog_cnt)
		return -ENOENT;
	if (obj->loaded)
		return ldr_err(obj, obj->progs[i].sec_name, -EBUSY, "program '%s': log set after load", obj->progs[i].name);
	if (level && (!buf || !size))
		return ldr_err(obj, obj->progs[i].sec_name, -EINVAL, "program '%s': a verifier log needs a buffer",
			       obj->progs[i].name);
	obj->progs[i].log_level = level;
	obj->progs[i].log_buf = level ? buf : NULL;
	obj->progs[i].log_size = level ? size : 0;
	return 0;
}

int bpfvm_object_prog_autoload(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->prog_cnt ? obj->progs[i].autoload : -ENOENT;
}

int bpfvm_object_prog_set_type(struct bpfvm_object *obj, size_t i, uint32_t prog_type)
{
	if (i >= obj->prog_cnt)
		return -ENOENT;
	sys_log_reset(obj->vm);
	if (obj->loaded)
		return ldr_err(obj, obj->progs[i].sec_name, -EBUSY, "program '%s': type set after load", obj->progs[i].name);
	return set_type(obj, &obj->progs[i], prog_type);
}

unsigned int bpfvm_object_legacy(const struct bpfvm_object *obj)
{
	return obj->legacy;
}

const struct bpf_insn *bpfvm_object_prog_insns(const struct bpfvm_object *obj, size_t i, size_t *cnt)
{
	if (i >= obj->prog_cnt || !obj->progs[i].insns) {
		*cnt = 0;
		return NULL;
	}
	*cnt = obj->progs[i].insn_cnt;
	return obj->progs[i].insns;
}

int bpfvm_object_prog_fd(const struct bpfvm_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->prog_cnt; i++)
		if (!strcmp(obj->progs[i].name, name))
			return bpfvm_object_prog_fd_at(obj, i);
	return -ENOENT;
}

size_t bpfvm_object_map_cnt(const struct bpfvm_object *obj)
{
	return obj->map_cnt;
}

const char *bpfvm_object_map_name(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->map_cnt ? obj->maps[i].real_name : NULL;
}

uint32_t bpfvm_object_map_type(const struct bpfvm_object *obj, size_t i)
{
	return i < obj->map_cnt ? obj->maps[i].type : 0;
}

int bpfvm_object_map_fd_at(const struct bpfvm_object *obj, size_t i)
{
	if (i >= obj->map_cnt)
		return -ENOENT;
	return obj->maps[i].fd >= 0 ? obj->maps[i].fd : -EBADF;
}

int bpfvm_object_map_fd(const struct bpfvm_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->map_cnt; i++)
		if (!strcmp(obj->maps[i].real_name, name) || !strcmp(obj->maps[i].name, name))
			return bpfvm_object_map_fd_at(obj, i);
	return -ENOENT;
}
