/* untrusted.c -- the run-time half of Linux's unprivileged rules (bpfvm_opts.untrusted), until the
 * verifier proves them over all paths.
 *
 * Linux's verifier tracks which registers hold pointers and, for a program loaded without
 * CAP_PERFMON (env->allow_ptr_leaks false), refuses every way a pointer could become visible outside the
 * program: "R0 leaks addr as return value", "R1 leaks addr into map/ctx/mem/packet" (stores),
 * "R1 leaks addr into mem" (atomics), "R3 leaks addr into helper function" (ARG_ANYTHING arguments),
 * reading a spilled pointer through a helper's memory argument ("invalid indirect read from stack"),
 * and the ctx as a memory argument ("R3 type=ctx expected=fp, ...").  Without a verifier bpfvm cannot know a register's type, so it asks of the value: is it an
 * address of anything the run can reach (hlp_is_ptr())?  That catches an address as the program got it
 * (or moved inside the object it points to); it cannot catch an address the program disguised
 * (shifted, xor-ed, split into halves, or leaked bit by bit through branches): that waits for the
 * verifier (README "Safety").  A scalar that happens to equal such an address is refused too. */
#include <string.h>

#include "helpers.h"
#include "../maps/maps.h"
#include "../core/core.h"

/* Linux's default vm.mmap_min_addr: nothing the host maps lies below it, so smaller values (nearly
 * every scalar a program returns or stores) are answered without looking at any table. */
#define MIN_HOST_ADDR 65536u

/* [lo, hi] with hi included: a pointer one past an object (data_end) is a pointer too. */
static bool in_range(uintptr_t lo, uintptr_t hi, uint64_t v)
{
	return v >= lo && v <= hi;
}

static bool in_table(const struct vm_region *t, size_t cnt, uint64_t v)
{
	for (size_t i = 0; i < cnt; i++)
		if (in_range(t[i].lo, t[i].hi, v))
			return true;
	return false;
}

bool hlp_is_ptr(const struct vm_run *run, uint64_t v)
{
	const struct vm_prog *p = run->prog;

	if (v < MIN_HOST_ADDR)
		return false;
	if (in_range((uintptr_t)run->stack, vm_stack_top(run), v) || in_table(run->regions, run->region_cnt, v) ||
	    in_table(p->map_regions, p->map_region_cnt, v))
		return true;
	if (run->pkt && in_range((uintptr_t)run->pkt, (uintptr_t)run->pkt + run->pkt_len, v))
		return true;
	/* code addresses (lddw of a subprogram) and map pointers (lddw of a map) */
	if (in_range((uintptr_t)p->insns, (uintptr_t)(p->insns + p->cnt), v))
		return true;
	for (size_t i = 0; i < p->used_map_cnt; i++)
		if (v == (uintptr_t)p->used_maps[i])
			return true;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < run->probe_mem_cnt[k]; i++) {
			const struct bpfvm_mem_range *r = &run->probe_mem[k][i];
			if (in_range((uintptr_t)r->addr, (uintptr_t)r->addr + r->len, v))
				return true;
		}
	/* inner maps the run got from a map-in-map (the only other maps it can reach), and their values */
	return hlp_run_has_map(run, (const struct map *)(uintptr_t)v) || hlp_run_map_at(run, (uintptr_t)v, 1);
}

void hlp_store_leak(struct vm_run *run, unsigned reg, uintptr_t addr)
{
	const char *into = "leaks addr into mem";

	if (run->ctx_ok && run->region_cnt && addr >= run->regions[0].lo && addr < run->regions[0].hi)
		into = "leaks addr into ctx";
	else if (in_table(run->prog->map_regions, run->prog->map_region_cnt, addr) ||
		 hlp_mem_ok_dynamic(run, addr, 1, true))
		into = "leaks addr into map";
	else if (run->ctx_ok && in_table(run->regions + 1, run->region_cnt ? run->region_cnt - 1 : 0, addr))
		into = "leaks addr into packet"; /* runs of a type: the regions after the ctx hold the packet */
	vm_fault_leak(run, reg, into);
}

bool hlp_untrusted_checks(const struct hlp_proto *h)
{
	for (unsigned i = 0; i < 5; i++)
		switch (h->args[i]) {
		case ARG_ANYTHING:
		case ARG_FMT_VALUE:
		case ARG_PTR_TO_MAP_KEY:
		case ARG_PTR_TO_MAP_VALUE:
		case ARG_PTR_TO_MEM:
		case ARG_PTR_TO_MEM_RO:
		case ARG_PTR_TO_MEM_OR_NULL:
			return true;
		default:
			break;
		}
	return false;
}

/* The map argument r1 names, without faulting (the helper itself refuses a bad one). */
static const struct map *map_of(const struct vm_run *run, uint64_t r)
{
	const struct vm_prog *p = run->prog;
	for (size_t i = 0; i < p->used_map_cnt; i++)
		if ((uintptr_t)p->used_maps[i] == r)
			return p->used_maps[i];
	if (r && hlp_run_has_map(run, (const struct map *)(uintptr_t)r))
		return (const struct map *)(uintptr_t)r;
	return NULL;
}

/* Does the stack part of [p, p + len) hold an address, at any byte offset (bpfvm does not refuse a
 * misaligned spill as Linux does)? */
static bool stack_holds_ptr(const struct vm_run *run, uint64_t p, uint64_t len)
{
	uintptr_t lo = (uintptr_t)run->stack, hi = vm_stack_top(run);

	if (len < 8 || p >= hi || p + len <= lo || p + len < p)
		return false;
	uintptr_t a = p < lo ? lo : (uintptr_t)p, b = p + len > hi ? hi : (uintptr_t)(p + len);
	for (; a + 8 <= b; a++) {
		uint64_t v;
		memcpy(&v, (const void *)a, 8);
		if (hlp_is_ptr(run, v))
			return true;
	}
	return false;
}

bool hlp_untrusted_args(struct vm_run *run, const struct hlp_proto *h, const uint64_t r[5])
{
	for (unsigned i = 0; i < 5; i++) {
		uint64_t len = 0;
		switch (h->args[i]) {
		case ARG_ANYTHING:
		case ARG_FMT_VALUE:
			if (hlp_is_ptr(run, r[i])) {
				vm_fault_leak(run, i + 1, "leaks addr into helper function");
				return false;
			}
			continue;
		case ARG_PTR_TO_MAP_KEY:
		case ARG_PTR_TO_MAP_VALUE: {
			const struct map *m = map_of(run, r[0]);
			if (m)
				len = h->args[i] == ARG_PTR_TO_MAP_KEY ? map_key_size(m) : map_value_size(m);
			break;
		}
		case ARG_PTR_TO_MEM:
		case ARG_PTR_TO_MEM_RO:
		case ARG_PTR_TO_MEM_OR_NULL:
			len = i < 4 ? r[i + 1] : 0; /* the size argument that follows */
			break;
		default:
			continue;
		}
		/* The ctx of a type holds addresses (xdp_md.data, __sk_buff.data: the packet) as u32 fields,
		 * which no 8-byte scan finds; Linux takes no ctx pointer as a memory argument at all. */
		if (run->ctx_ok && run->region_cnt && r[i] >= run->regions[0].lo && r[i] < run->regions[0].hi) {
			vm_fault_leak(run, i + 1, "type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem");
			return false;
		}
		if (stack_holds_ptr(run, r[i], len)) {
			vm_fault_leak(run, i + 1, "leaks addr into helper function: the memory it reads holds a pointer");
			return false;
		}
	}
	return true;
}

bool hlp_untrusted_call(struct vm_run *run, size_t pc, const uint64_t r[5])
{
	const struct hlp_proto *h = hlp_get((uint32_t)run->prog->orig[pc].imm);
	return !h || hlp_untrusted_args(run, h, r);
}
