/* run_refs.c -- the references a run holds until it ends (struct vm_run_refs): programs it entered by a
 * tail call and inner maps a map-in-map lookup gave it, and the memory those maps give it.  Here, where
 * both the run (vm) and the object table (core) are visible; the engines reach it through
 * vm_services (run_put, mem_ok_dynamic). */
#include <errno.h>
#include <stdlib.h>

#include "helpers.h"
#include "../core/core.h"
#include "../maps/maps.h"

static struct sys_obj **run_ref(const struct vm_run_refs *r, uint32_t i)
{
	return i < VM_RUN_REFS_INLINE ? (struct sys_obj **)&r->first[i] : &r->more[i - VM_RUN_REFS_INLINE];
}

int hlp_run_hold(struct vm_run *run, struct sys_obj *o)
{
	struct vm_run_refs *r = &run->refs;

	/* Newest first: a program that looks up the same inner map in a loop finds it at once. */
	for (uint32_t i = r->cnt; i-- > 0;)
		if (*run_ref(r, i) == o) {
			sys_put(run->vm, o);
			return 0;
		}
	if (r->cnt >= VM_RUN_REFS_INLINE + r->more_cap) {
		uint32_t cap = r->more_cap ? r->more_cap * 2 : 16;
		struct sys_obj **more = cap > r->more_cap ? realloc(r->more, cap * sizeof(*more)) : NULL;
		if (!more) {
			sys_put(run->vm, o);
			return -ENOMEM;
		}
		r->more = more;
		r->more_cap = cap;
	}
	*run_ref(r, r->cnt++) = o;
	return 0;
}

void hlp_run_put(struct vm_run *run)
{
	struct vm_run_refs *r = &run->refs;

	if (!r->cnt) /* most runs: nothing taken (and `more` only exists past the inline entries) */
		return;
	for (uint32_t i = 0; i < r->cnt; i++)
		sys_put(run->vm, *run_ref(r, i));
	free(r->more);
	r->more = NULL;
	r->more_cap = 0;
	r->cnt = 0;
}

bool hlp_run_has_map(const struct vm_run *run, const struct map *m)
{
	for (uint32_t i = run->refs.cnt; i-- > 0;) {
		const struct sys_obj *o = *run_ref(&run->refs, i);
		if (o->kind == SYS_MAP && o->map == m)
			return true;
	}
	return false;
}

struct map *hlp_run_field_map(const struct vm_run *run, uint64_t p, uint32_t (*field_off)(const struct map *))
{
	for (uint32_t i = run->refs.cnt; i-- > 0;) {
		const struct sys_obj *o = *run_ref(&run->refs, i);
		if (o->kind != SYS_MAP)
			continue;
		uint32_t off = field_off(o->map);
		if (off != UINT32_MAX && p >= off && map_value_elem(o->map, (uint8_t *)(uintptr_t)p - off, NULL) != -EINVAL)
			return o->map;
	}
	return NULL;
}

struct map *hlp_run_map_at(const struct vm_run *run, uintptr_t addr, size_t len)
{
	for (uint32_t i = run->refs.cnt; i-- > 0;) {
		const struct sys_obj *o = *run_ref(&run->refs, i);
		if (o->kind != SYS_MAP)
			continue;
		void *lo;
		size_t n;
		bool w;
		map_region(o->map, &lo, &n, &w);
		if (addr >= (uintptr_t)lo && addr < (uintptr_t)lo + n && len <= (uintptr_t)lo + n - addr)
			return o->map;
	}
	return NULL;
}

bool hlp_mem_ok_dynamic(const struct vm_run *run, uintptr_t addr, size_t len, bool write)
{
	/* No lock and no lookup in the instance: the run holds every map searched here. */
	struct map *m = hlp_run_map_at(run, addr, len);
	if (!m)
		return false;
	void *lo;
	size_t n;
	bool w;
	map_region(m, &lo, &n, &w);
	return write ? w : map_prog_readable(m);
}
