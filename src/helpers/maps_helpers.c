/* maps_helpers.c -- helpers on maps, ring buffers, perf event arrays, stacks and spin locks.
 * Until the verifier proves argument types, every map argument is checked to be a map the program
 * references (or an inner map reached through one), and every key/value pointer against the run's
 * memory. */
#include <errno.h>
#include <execinfo.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "../maps/maps.h"
#include "../core/core.h"

struct map *hlp_map_arg(struct vm_run *run, uint64_t r, const char *helper)
{
	const struct vm_prog *p = run->prog;
	struct map *m = (struct map *)(uintptr_t)r;

	for (size_t i = 0; i < p->used_map_cnt; i++)
		if (p->used_maps[i] == m)
			return m;
	/* an inner map this run got from a map-in-map (and holds until it ends); no other map */
	if (m && hlp_run_has_map(run, m))
		return m;
	vm_fault(run, -EINVAL, helper, (uintptr_t)r, 0);
	return NULL;
}

/* Linux's verifier refuses a program that calls update/delete/push/pop on a BPF_F_RDONLY_PROG map
 * ("write into map forbidden", -EACCES, verifier.c record_func_map()).  With no verifier yet the call
 * itself refuses: it faults the run with -EACCES, so the program stops as if it had not been loaded,
 * rather than going on with an error code the kernel would never have let it see. */
static bool prog_may_write(struct vm_run *run, struct map *m, const char *what)
{
	if (!(map_flags(m) & BPF_F_RDONLY_PROG))
		return true;
	vm_fault(run, -EACCES, what, (uintptr_t)m, 0);
	return false;
}

#define ARGS struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5
#define UNUSED_ARGS(...) (void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5

uint64_t hlp_map_lookup_elem(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_map_lookup_elem: R1 is not a map");
	if (!m)
		return 0;
	const void *key = hlp_mem(run, r2, map_key_size(m), false, "bpf_map_lookup_elem: key");
	if (!key && map_key_size(m))
		return 0;
	if (map_is_fd_map(m)) {
		/* maps of maps give the inner map; prog arrays are not for lookups */
		if (map_type(m) == BPF_MAP_TYPE_PROG_ARRAY)
			return 0;
		/* an element another instance stored names an inner map of that instance: missing, for us (Linux
		 * has one id space; here an id of ours there would be an unrelated map) */
		struct map_fd_slot s = map_lookup_slot(m, key);
		struct sys_obj *o = s.id && s.owner == run->vm->tag ? sys_get_by_id(run->vm, s.id, SYS_MAP) : NULL;
		if (!o)
			return 0;
		/* The outer map's entry may be deleted or replaced by another thread at any moment: the run
		 * holds the inner map until it ends, for the helpers it is passed to and its values' memory. */
		if (hlp_run_hold(run, o)) {
			vm_fault(run, -ENOMEM, "bpf_map_lookup_elem: no memory to hold the inner map", 0, 0);
			return 0;
		}
		return (uintptr_t)o->map;
	}
	return (uintptr_t)map_lookup(m, key, run->slot);
}

uint64_t hlp_map_update_elem(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_map_update_elem: R1 is not a map");
	if (!m)
		return 0;
	if (!prog_may_write(run, m, "bpf_map_update_elem: write into map forbidden (BPF_F_RDONLY_PROG)"))
		return 0;
	if (map_is_fd_map(m))
		return (uint64_t)-EINVAL; /* Linux: fd maps are updated from user space only */
	const void *key = hlp_mem(run, r2, map_key_size(m), false, "bpf_map_update_elem: key");
	const void *val = hlp_mem(run, r3, map_value_size(m), false, "bpf_map_update_elem: value");
	if ((!key && map_key_size(m)) || !val)
		return 0;
	return (uint64_t)map_update(m, key, val, r4, run->slot);
}

uint64_t hlp_map_delete_elem(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_map_delete_elem: R1 is not a map");
	if (!m)
		return 0;
	if (!prog_may_write(run, m, "bpf_map_delete_elem: write into map forbidden (BPF_F_RDONLY_PROG)"))
		return 0;
	if (map_is_fd_map(m))
		return (uint64_t)-EINVAL;
	const void *key = hlp_mem(run, r2, map_key_size(m), false, "bpf_map_delete_elem: key");
	if (!key && map_key_size(m))
		return 0;
	return (uint64_t)map_delete(m, key);
}

uint64_t hlp_map_lookup_percpu_elem(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_map_lookup_percpu_elem: R1 is not a map");
	if (!m)
		return 0;
	const void *key = hlp_mem(run, r2, map_key_size(m), false, "bpf_map_lookup_percpu_elem: key");
	if (!key || !map_is_percpu(m) || r3 >= map_nr_cpus(m))
		return 0;
	return (uintptr_t)map_lookup(m, key, (unsigned)r3);
}

uint64_t hlp_map_push_elem(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_map_push_elem: R1 is not a map");
	if (!m)
		return 0;
	if (!prog_may_write(run, m, "bpf_map_push_elem: write into map forbidden (BPF_F_RDONLY_PROG)"))
		return 0;
	const void *val = hlp_mem(run, r2, map_value_size(m), false, "bpf_map_push_elem: value");
	if (!val)
		return 0;
	return (uint64_t)map_push(m, val, r3);
}

static uint64_t pop_peek(struct vm_run *run, uint64_t r1, uint64_t r2, bool peek, const char *name)
{
	struct map *m = hlp_map_arg(run, r1, name);
	if (!m)
		return 0;
	if (!peek && !prog_may_write(run, m, "bpf_map_pop_elem: write into map forbidden (BPF_F_RDONLY_PROG)"))
		return 0;
	/* bloom filters read the value to test; queues and stacks write it */
	bool bloom = map_type(m) == BPF_MAP_TYPE_BLOOM_FILTER;
	void *val = hlp_mem(run, r2, map_value_size(m), !bloom, name);
	if (!val)
		return 0;
	return (uint64_t)map_pop(m, val, peek);
}

uint64_t hlp_map_pop_elem(ARGS)
{
	UNUSED_ARGS();
	return pop_peek(run, r1, r2, false, "bpf_map_pop_elem");
}

uint64_t hlp_map_peek_elem(ARGS)
{
	UNUSED_ARGS();
	return pop_peek(run, r1, r2, true, "bpf_map_peek_elem");
}

uint64_t hlp_ringbuf_output(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_ringbuf_output: R1 is not a map");
	if (!m)
		return 0;
	const void *data = hlp_mem(run, r2, r3, false, "bpf_ringbuf_output: data");
	if (!data && r3)
		return 0;
	return (uint64_t)map_ringbuf_output(m, data, r3, r4);
}

uint64_t hlp_ringbuf_reserve(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_ringbuf_reserve: R1 is not a map");
	if (!m)
		return 0;
	return (uintptr_t)map_ringbuf_reserve(m, r2, r3);
}

/* Is p a record of ring buffer m whose header says busy? */
static bool reserved_in(struct map *m, uintptr_t a)
{
	if (map_type(m) != BPF_MAP_TYPE_RINGBUF)
		return false;
	void *lo;
	size_t len;
	bool w;
	map_region(m, &lo, &len, &w);
	/* len covers both mappings of the data; a record's header is always in the first */
	if (a >= (uintptr_t)lo + 8 && a - (uintptr_t)lo <= len / 2 && (a - (uintptr_t)lo) % 8 == 0) {
		uint32_t h;
		memcpy(&h, (const void *)(a - 8), 4);
		return h & (1u << 31);
	}
	return false;
}

/* A pointer from bpf_ringbuf_reserve(): inside some ring buffer the program uses (or an inner ring
 * buffer the run holds), record busy. */
static struct map *reserved_owner(struct vm_run *run, uint64_t p)
{
	const struct vm_prog *prog = run->prog;
	for (size_t i = 0; i < prog->used_map_cnt; i++)
		if (reserved_in(prog->used_maps[i], (uintptr_t)p))
			return prog->used_maps[i];
	struct map *m = p >= 8 ? hlp_run_map_at(run, (uintptr_t)p - 8, 8) : NULL;
	return m && reserved_in(m, (uintptr_t)p) ? m : NULL;
}

static uint64_t commit(struct vm_run *run, uint64_t p, uint64_t flags, bool discard, const char *name)
{
	struct map *m = reserved_owner(run, p);
	if (!m) {
		vm_fault(run, -EINVAL, name, (uintptr_t)p, 0);
		return 0;
	}
	map_ringbuf_commit(m, (void *)(uintptr_t)p, discard, flags);
	return 0;
}

uint64_t hlp_ringbuf_submit(ARGS)
{
	UNUSED_ARGS();
	return commit(run, r1, r2, false, "bpf_ringbuf_submit: not a reserved record");
}

uint64_t hlp_ringbuf_discard(ARGS)
{
	UNUSED_ARGS();
	return commit(run, r1, r2, true, "bpf_ringbuf_discard: not a reserved record");
}

uint64_t hlp_ringbuf_query(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r1, "bpf_ringbuf_query: R1 is not a map");
	if (!m || map_type(m) != BPF_MAP_TYPE_RINGBUF)
		return 0;
	return map_ringbuf_query(m, r2);
}

uint64_t hlp_perf_event_output(ARGS)
{
	UNUSED_ARGS();
	/* long bpf_perf_event_output(void *ctx, struct bpf_map *map, u64 flags, void *data, u64 size) */
	struct map *m = hlp_map_arg(run, r2, "bpf_perf_event_output: R2 is not a map");
	if (!m)
		return 0;
	if (r3 & ~(uint64_t)BPF_F_INDEX_MASK)
		return (uint64_t)-EINVAL; /* BPF_F_CTXLEN_MASK: no skb payload to append here */
	uint64_t idx = r3 & BPF_F_INDEX_MASK;
	if (idx == BPF_F_CURRENT_CPU)
		idx = run->slot;
	const void *data = hlp_mem(run, r4, r5, false, "bpf_perf_event_output: data");
	if (!data && r5)
		return 0;
	return (uint64_t)map_perf_output(m, (uint32_t)idx, data, r5);
}

/* The host stack, skipping our own frames and `skip` more (BPF_F_SKIP_FIELD_MASK). */
static int host_stack(uint64_t *ips, int max, uint64_t flags)
{
	void *frames[128];
	int n = backtrace(frames, 128), skip = 2 + (int)(flags & BPF_F_SKIP_FIELD_MASK), k = 0;
	for (int i = skip; i < n && k < max; i++)
		ips[k++] = (uintptr_t)frames[i];
	return k;
}

uint64_t hlp_get_stackid(ARGS)
{
	UNUSED_ARGS();
	struct map *m = hlp_map_arg(run, r2, "bpf_get_stackid: R2 is not a map");
	if (!m)
		return 0;
	if (r3 & ~(uint64_t)(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID))
		return (uint64_t)-EINVAL;
	uint64_t ips[127];
	int n = host_stack(ips, (int)(map_value_size(m) / 8), r3);
	return (uint64_t)map_stack_store(m, ips, (uint32_t)n, r3);
}

uint64_t hlp_get_stack(ARGS)
{
	UNUSED_ARGS();
	/* long bpf_get_stack(void *ctx, void *buf, u32 size, u64 flags) */
	uint64_t *buf = hlp_mem(run, r2, r3, true, "bpf_get_stack: buf");
	if (!buf)
		return 0;
	if (r3 % 8 || (r4 & ~(uint64_t)(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID)))
		return (uint64_t)-EINVAL;
	uint64_t ips[127];
	int max = (int)(r3 / 8 < 127 ? r3 / 8 : 127);
	int n = host_stack(ips, max, r4);
	memcpy(buf, ips, (size_t)n * 8);
	memset(buf + n, 0, (size_t)r3 - (size_t)n * 8);
	return (uint64_t)n * 8;
}

/* Linux's verifier proves a program takes at most one lock, in a map value's struct bpf_spin_lock, and
 * releases it before exit; without it a program could spin forever on a word it owns (a second lock, a
 * packet byte).  So the run records the lock it holds and these refuse what the verifier would. */
struct map *hlp_value_field_map(const struct vm_run *run, uint64_t p, uint32_t (*field_off)(const struct map *))
{
	const struct vm_prog *prog = run->prog;
	for (size_t i = 0; i < prog->used_map_cnt; i++) {
		struct map *m = prog->used_maps[i];
		uint32_t off = field_off(m);
		if (off != UINT32_MAX && p >= off && map_value_elem(m, (uint8_t *)(uintptr_t)p - off, NULL) != -EINVAL)
			return m;
	}
	return hlp_run_field_map(run, p, field_off); /* a value of an inner map a map-in-map lookup gave */
}

static bool spin_wait_cont(void *run)
{
	return vm_budget_take(run);
}

uint64_t hlp_spin_lock(ARGS)
{
	UNUSED_ARGS();
	uint32_t *l = hlp_mem(run, r1, 4, true, "bpf_spin_lock");
	if (!l)
		return 0;
	if (run->spin_held) {
		vm_fault(run, -EINVAL, "Locking two bpf_spin_locks are not allowed", (uintptr_t)l, 4);
		return 0;
	}
	if (!hlp_value_field_map(run, r1, map_spin_lock_off)) {
		vm_fault(run, -EINVAL, "bpf_spin_lock: R1 is not the struct bpf_spin_lock of a map value", (uintptr_t)l, 4);
		return 0;
	}
	/* Waiting costs budget (one unit per yield), so an interrupt or the budget ends it too. */
	int err = map_spin_acquire(l, spin_wait_cont, run);
	if (err == -EBUSY)
		vm_fault(run, -EBUSY, "bpf_spin_lock: the lock was not released within a second (its holder may "
			 "have died)", (uintptr_t)l, 4);
	if (err)
		return 0;
	run->spin_held = l;
	return 0;
}

uint64_t hlp_spin_unlock(ARGS)
{
	UNUSED_ARGS();
	uint32_t *l = (uint32_t *)(uintptr_t)r1;
	if (l != run->spin_held) {
		vm_fault(run, -EINVAL, run->spin_held ? "bpf_spin_unlock of different lock" :
			 "bpf_spin_unlock without taking a lock", (uintptr_t)l, 4);
		return 0;
	}
	run->spin_held = NULL;
	map_spin_release(l);
	return 0;
}

void hlp_spin_run_end(struct vm_run *run)
{
	uint32_t *l = run->spin_held;
	if (!l)
		return;
	run->spin_held = NULL;
	map_spin_release(l);
	vm_fault(run, -EINVAL, "BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed region", (uintptr_t)l, 4);
}

uint64_t hlp_for_each_map_elem(ARGS)
{
	UNUSED_ARGS();
	/* long bpf_for_each_map_elem(map, callback_fn(map, key, value, ctx), callback_ctx, flags) */
	struct map *m = hlp_map_arg(run, r1, "bpf_for_each_map_elem: R1 is not a map");
	if (!m)
		return 0;
	if (r4)
		return (uint64_t)-EINVAL;
	uint32_t ks = map_key_size(m);
	if (!ks || map_is_fd_map(m))
		return (uint64_t)-ENOTSUPP;
	/* the callback reads the key from a buffer the run may read; the value in place.  Hash keys may
	 * be larger than a program's stack (up to 4 MiB): those on the heap. */
	_Alignas(8) uint8_t small[2][512];
	uint8_t *key = small[0], *next = small[1];
	if (ks > sizeof(small[0])) {
		key = malloc(ks);
		next = malloc(ks);
	}
	bool first = true;
	uint64_t n = 0;
	uint64_t err = 0;
	if (!key || !next)
		err = (uint64_t)-ENOMEM;
	else if (!vm_run_add_region(run, key, ks, false))
		vm_fault(run, -ENOMEM, "bpf_for_each_map_elem: too many regions", 0, 0);
	if (err || run->err) {
		if (key != small[0]) {
			free(key);
			free(next);
		}
		return err;
	}
	run->regions[run->region_cnt - 1].kind = VM_REG_KEY;
	while (map_sys_get_next_key(m, first ? NULL : key, next) == 0) {
		memcpy(key, next, ks);
		first = false;
		void *v = map_lookup(m, key, run->slot);
		if (!v)
			continue;
		n++;
		uint64_t r = vm_call_subprog(run, r2, (uintptr_t)m, (uintptr_t)key, (uintptr_t)v, r3, 0);
		if (run->err || r)
			break;
	}
	run->region_cnt--;
	if (key != small[0]) {
		free(key);
		free(next);
	}
	return n;
}
