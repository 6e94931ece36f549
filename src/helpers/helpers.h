/* helpers.h -- helper prototypes (for the verifier) and implementations (for the engines), one table
 * generated from helpers.def.  Implementations check every pointer argument against the run's regions
 * (hlp_mem()), so an unverified program cannot make a helper touch memory it does not own. */
#ifndef BPFVM_HELPERS_H
#define BPFVM_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "../vm/vm.h"

enum hlp_ret {
	RET_INTEGER,
	RET_VOID,
	RET_MAP_VALUE_OR_NULL,
	RET_MEM_OR_NULL,            /* ringbuf_reserve: sized by arg 2 */
	RET_PTR_TO_SOCKET_OR_NULL,
};

enum hlp_arg {
	ARG_NONE,
	ARG_ANYTHING,
	ARG_CONST_MAP_PTR,
	ARG_PTR_TO_MAP_KEY,
	ARG_PTR_TO_MAP_VALUE,
	ARG_PTR_TO_MAP_VALUE_OR_NULL,
	ARG_PTR_TO_MEM,             /* readable memory of the size in the next argument */
	ARG_PTR_TO_MEM_RO,
	ARG_PTR_TO_MEM_OR_NULL,
	ARG_PTR_TO_UNINIT_MEM,      /* writable memory of the size in the next argument */
	ARG_CONST_SIZE,
	ARG_CONST_SIZE_OR_ZERO,
	ARG_PTR_TO_CTX,
	ARG_PTR_TO_FUNC,
	ARG_PTR_TO_STACK_OR_NULL,
	ARG_PTR_TO_SPIN_LOCK,
	ARG_PTR_TO_TIMER,
	ARG_PTR_TO_LONG,
	ARG_PTR_TO_CONST_STR,
	ARG_PTR_TO_ALLOC_MEM,       /* from ringbuf_reserve */
	ARG_CONST_ALLOC_SIZE_OR_ZERO,
};

struct hlp_proto {
	uint32_t id;
	const char *name;           /* "map_lookup_elem" */
	vm_helper_fn fn;
	uint8_t ret;                /* enum hlp_ret */
	uint8_t args[5];            /* enum hlp_arg */
};

/* Declarations of every implementation listed in helpers.def. */
#define HELPER(id_, name_, ...) \
	uint64_t hlp_##name_(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);
#include "helpers.def"
#undef HELPER

/* The helper with Linux id `id`, or NULL. */
const struct hlp_proto *hlp_get(uint32_t id);

/* Linux's verifier refuses 0 for an ARG_CONST_SIZE argument ("R4 invalid zero-sized read"): the helpers
 * behind it may then assume a buffer.  Until the verifier exists the engines test it at each call:
 * vm_fixup stores this mask (bit i for r(i+1)) in the call insn, and hlp_zero_size_reg() finds a
 * refused register (0: none). */
uint8_t hlp_nonzero_args(const struct hlp_proto *h);
static inline unsigned hlp_zero_size_reg(uint8_t mask, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
					 uint64_t r5)
{
	const uint64_t r[5] = { r1, r2, r3, r4, r5 };
	for (unsigned i = 0; i < 5; i++)
		if ((mask >> i & 1) && r[i] == 0)
			return i + 1;
	return 0;
}
/* The map of the program whose values hold the special field (struct bpf_spin_lock, struct bpf_timer:
 * field_off = map_spin_lock_off, map_timer_off) at address p, or NULL: what Linux's verifier proves of
 * ARG_PTR_TO_SPIN_LOCK / ARG_PTR_TO_TIMER arguments, checked at run time. */
struct map;
struct map *hlp_value_field_map(const struct vm_run *run, uint64_t p, uint32_t (*field_off)(const struct map *));
/* A run that ends (exit or fault) still holding a bpf_spin_lock: the lock is released, and a clean exit
 * becomes a fault, as Linux's verifier refuses such programs. */
void hlp_spin_run_end(struct vm_run *run);
/* The verifier's wording for that refusal, for register `reg` (1..5). */
const char *hlp_zero_size_msg(unsigned reg);

/* Untrusted runs (bpfvm_opts.untrusted; untrusted.c): Linux's pointer-leak rules checked on values.
 * hlp_is_ptr(): is v an address of anything the run can reach (its stack, regions, maps' values and map
 * pointers, code, host-readable ranges)?  hlp_store_leak() records the fault of a store of one outside the
 * stack ("R1 leaks addr into map").  hlp_untrusted_checks(): has the helper arguments to check (set
 * VM_CALL_UNTRUSTED at fixup); hlp_untrusted_args() checks them (ARG_ANYTHING holding an address, or
 * memory it reads that holds one on the stack) and records the fault, returning false;
 * hlp_untrusted_call() is the same for the call insn at `pc` of run->prog. */
bool hlp_is_ptr(const struct vm_run *run, uint64_t v);
void hlp_store_leak(struct vm_run *run, unsigned reg, uintptr_t addr);
bool hlp_untrusted_checks(const struct hlp_proto *h);
bool hlp_untrusted_args(struct vm_run *run, const struct hlp_proto *h, const uint64_t r[5]);
bool hlp_untrusted_call(struct vm_run *run, size_t pc, const uint64_t r[5]);

/* Checks that [p, p+len) is memory the run may read (or write); on failure records a fault naming the
 * helper and returns NULL, else returns p as a pointer. */
void *hlp_mem(struct vm_run *run, uint64_t p, uint64_t len, bool write, const char *helper);

/* A map argument: a map the program references, or an inner map of one; else faults the run. */
struct map;
struct map *hlp_map_arg(struct vm_run *run, uint64_t r, const char *helper);

/* bpf_timer (timer.c): timers are process-local state of the instance; the struct bpf_timer bytes in a
 * map value only name one.  The object layer calls these when the objects timers point at go away:
 * pending timers of a program or map are cancelled, and a running callback is waited for, so no callback
 * runs freed code or touches unmapped memory. */
void hlp_timer_prog_release(struct bpfvm *vm, const struct vm_prog *prog);
void hlp_timer_map_release(struct bpfvm *vm, struct map *m);
/* Stops and joins the timer thread, cancels every timer (bpfvm_free, before objects are closed). */
void hlp_timer_fini(struct bpfvm *vm);

#endif
