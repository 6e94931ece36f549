/* jit_rt.c -- what native code calls back into C for: the slow paths of memory checks, of atomics and
 * of callx (a helper id, anything that is no insn), helper calls with argument checks, tail calls,
 * faults; and the entries into native code (jit_run(), jit_call_subprog() for callbacks).  Each glue
 * function is the interpreter's code for that instruction (src/vm/interp.c), run on the registers the
 * native code spilled into jit_state.reg, so that the two engines cannot disagree on an edge case.
 *
 * Convention: int64_t glue(struct jit_state *st, uint32_t pc) returns < 0 when the run faulted (the
 * fault and its pc recorded), 0 to go on, > 0 for a value the emitted code uses (a native address to
 * call or jump to). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jit.h"

#define FP(st) ((st)->reg[10])

static int64_t fault_at(struct jit_state *st, uint32_t pc)
{
	st->run->fault_pc = pc;
	st->run->fault_prog = st->run->prog;
	st->run->fault_fp = FP(st); /* stack addresses in the fault text are fp-N of the faulting frame */
	return -1;
}

static const struct vm_insn *insn_at(const struct jit_state *st, uint32_t pc)
{
	return &st->run->prog->insns[pc];
}

static bool in_ctx(const struct vm_run *run, uintptr_t addr)
{
	return run->ctx_ok && run->region_cnt && addr >= run->regions[0].lo && addr < run->regions[0].hi;
}

static bool region_allows(const struct vm_region *r, bool write)
{
	return write ? r->writable : !r->write_only;
}

static bool region_hit(const struct vm_region *r, uintptr_t addr, size_t len, bool write)
{
	return addr - r->lo < r->hi - r->lo && len <= r->hi - addr && region_allows(r, write);
}

static const struct vm_region *find_region(const struct vm_region *t, size_t cnt, uintptr_t addr, size_t len)
{
	for (size_t i = 0; i < cnt; i++)
		if (addr >= t[i].lo && addr < t[i].hi && len <= t[i].hi - addr)
			return &t[i];
	return NULL;
}

static void fast_of(struct jit_fast_region *f, const struct vm_region *r)
{
	uint64_t span = r->hi > r->lo ? r->hi - r->lo : 0;
	f->lo = r->lo;
	f->lim_r = r->write_only ? 0 : span;
	f->lim_w = r->writable ? span : 0;
}

static void hit_sync(struct jit_state *st)
{
	fast_of(&st->fast[0], &st->hit.run);
	fast_of(&st->fast[1], &st->hit.map);
}

/* interp.c's mem_ok_remember(): the slow rule, filling the region cache. */
static bool mem_ok_remember(struct jit_state *st, uintptr_t addr, size_t len, bool write)
{
	const struct vm_run *run = st->run;

	if (in_ctx(run, addr))
		return vm_mem_ok_slow(run, addr, len, write);
	const struct vm_region *r = find_region(run->regions, run->region_cnt, addr, len);
	if (r) {
		st->hit.run = *r;
		st->hit.run_idx = (unsigned)(r - run->regions);
		hit_sync(st);
		return region_allows(r, write);
	}
	if ((r = find_region(run->prog->map_regions, run->prog->map_region_cnt, addr, len))) {
		st->hit.map = *r;
		hit_sync(st);
		return region_allows(r, write);
	}
	return run->svc->mem_ok_dynamic(run, addr, len, write);
}

static void region_cache_recheck(struct jit_state *st)
{
	const struct vm_run *run = st->run;
	const struct vm_region *r = &run->regions[st->hit.run_idx];
	if (st->hit.run_idx >= run->region_cnt || r->lo != st->hit.run.lo || r->hi != st->hit.run.hi ||
	    r->writable != st->hit.run.writable || r->write_only != st->hit.run.write_only) {
		st->hit.run.hi = st->hit.run.lo;
		hit_sync(st);
	}
}

/* The part of MEM_CHECK past the inline stack test (d > frame_lim), plus the untrusted store-leak rule. */
static int64_t mem_slow(struct jit_state *st, uint32_t pc, uint64_t base, bool write, bool leak_check)
{
	const struct vm_insn *in = insn_at(st, pc);
	uintptr_t frame_lo = FP(st) - VM_STACK_SIZE;
	uintptr_t m = (uintptr_t)(base + (uint64_t)(int64_t)in->off);
	uintptr_t d = m - frame_lo;
	unsigned size = in->size;

	if (d > st->frame_lim) {
		if (!region_hit(&st->hit.run, m, size, write) && !region_hit(&st->hit.map, m, size, write) &&
		    d > st->frame_lim + 8 - size && !mem_ok_remember(st, m, size, write)) {
			vm_mem_fault(st->run, m, size, write);
			return fault_at(st, pc);
		}
	}
	if (leak_check && st->run->untrusted && d > st->frame_lim + 8 - size &&
	    st->run->svc->is_ptr(st->run, st->reg[in->src])) {
		st->run->svc->store_leak(st->run, in->src, m);
		return fault_at(st, pc);
	}
	return 0;
}

int64_t jit_g_load(struct jit_state *st, uint32_t pc)
{
	return mem_slow(st, pc, st->reg[insn_at(st, pc)->src], false, false);
}

int64_t jit_g_store(struct jit_state *st, uint32_t pc)
{
	return mem_slow(st, pc, st->reg[insn_at(st, pc)->dst], true, false);
}

int64_t jit_g_store_x(struct jit_state *st, uint32_t pc)
{
	return mem_slow(st, pc, st->reg[insn_at(st, pc)->dst], true, true);
}

/* The current budget slice is spent (r9 reached 0): the next one, or the fault the interpreter's
 * TAKE_BUDGET records (-ELOOP when the budget is exhausted, -EINTR when the instance was interrupted). */
int64_t jit_g_oob(struct jit_state *st, uint32_t pc)
{
	uint64_t n = vm_budget_refill(st->run);
	if (!n)
		return fault_at(st, pc);
	st->budget = n;
	return 0;
}

/* TAKE_BUDGET of the interpreter, on st->budget, for calls the glue makes. */
static bool take_budget(struct jit_state *st)
{
	if (UNLIKELY(--st->budget == 0) && (st->budget = vm_budget_refill(st->run)) == 0)
		return false;
	return true;
}

/* Linux's verifier: while a bpf_spin_lock is held, the only call allowed is bpf_spin_unlock (the
 * interpreter's wording, interp.c). */
static const char spin_call_msg[] = "function calls are not allowed while holding a lock";

int64_t jit_g_spin_call(struct jit_state *st, uint32_t pc)
{
	vm_fault(st->run, -EINVAL, spin_call_msg, 0, 0);
	return fault_at(st, pc);
}

int64_t jit_g_too_deep(struct jit_state *st, uint32_t pc)
{
	vm_fault(st->run, -E2BIG, "call stack too deep", 0, 0);
	return fault_at(st, pc);
}

int64_t jit_g_lddw_hi(struct jit_state *st, uint32_t pc)
{
	vm_fault(st->run, -EINVAL, "executed second slot of lddw", 0, 0);
	return fault_at(st, pc);
}

/* Calls out of the program: the run sees the current frame and budget, and after the call the packet
 * may have moved (the region cache is rechecked). */
static void call_enter(struct jit_state *st)
{
	st->run->fp = FP(st);
	st->run->budget = st->budget;
}

static void call_leave(struct jit_state *st)
{
	st->budget = st->run->budget;
	region_cache_recheck(st);
}

int64_t jit_g_call(struct jit_state *st, uint32_t pc)
{
	const struct vm_insn *in = insn_at(st, pc);
	struct vm_run *run = st->run;
	uint64_t *reg = st->reg;

	if (UNLIKELY(in->size)) {
		unsigned zr = vm_zero_size_reg(in->size, reg[1], reg[2], reg[3], reg[4], reg[5]);
		if (zr) {
			vm_fault(run, -EACCES, vm_zero_size_msg(zr), 0, 0);
			return fault_at(st, pc);
		}
		if ((in->size & VM_CALL_UNTRUSTED) && !run->svc->untrusted_call(run, pc, &reg[1]))
			return fault_at(st, pc);
	}
	call_enter(st);
	reg[0] = ((vm_helper_fn)(uintptr_t)in->k)(run, reg[1], reg[2], reg[3], reg[4], reg[5]);
	call_leave(st);
	if (UNLIKELY(run->err))
		return fault_at(st, pc);
	return 0;
}

/* After a direct helper call (emitted inline) that left run->err set. */
int64_t jit_g_err(struct jit_state *st, uint32_t pc)
{
	return fault_at(st, pc);
}

/* callx: a subprogram (returns its native address, checks done: the emitted code pushes the frame and
 * calls) or a helper id (called here; returns 0). */
int64_t jit_g_callx(struct jit_state *st, uint32_t pc)
{
	const struct vm_insn *in = insn_at(st, pc);
	struct vm_run *run = st->run;
	uint64_t *reg = st->reg;
	uint64_t target = reg[in->dst];
	const struct vm_insn *t = (const struct vm_insn *)(uintptr_t)target;
	const struct vm_insn *base = run->prog->insns;

	if (t >= base && t < base + run->prog->cnt && ((uintptr_t)t - (uintptr_t)base) % sizeof(*t) == 0) {
		if (st->depth + 1 >= VM_MAX_FRAMES || FP(st) - VM_STACK_SIZE <= st->stack_floor)
			return jit_g_too_deep(st, pc);
		if (!take_budget(st))
			return fault_at(st, pc);
		return (int64_t)(uintptr_t)(st->img->code + st->img->off[t - base]);
	}
	if (!take_budget(st))
		return fault_at(st, pc);
	if (UNLIKELY(run->spin_held) && target != BPF_FUNC_spin_unlock)
		return jit_g_spin_call(st, pc);
	call_enter(st);
	reg[0] = run->svc->call_helper_id(run, target, reg[1], reg[2], reg[3], reg[4], reg[5]);
	call_leave(st);
	if (UNLIKELY(run->err))
		return fault_at(st, pc);
	return 0;
}

/* bpf_tail_call: 0 when it falls through, else the native address of the new program's first insn. */
int64_t jit_g_tail_call(struct jit_state *st, uint32_t pc)
{
	struct vm_run *run = st->run;
	uint64_t *reg = st->reg;
	struct vm_prog *np;

	st->hit.run.hi = st->hit.run.lo;
	st->hit.map.hi = st->hit.map.lo;
	hit_sync(st);
	if (!take_budget(st))
		return fault_at(st, pc);
	if (UNLIKELY(run->spin_held))
		return jit_g_spin_call(st, pc);
	if (run->tail_calls >= VM_MAX_TAIL_CALLS)
		return 0;
	uint64_t slot = 0;
	np = run->svc->tail_call_target(run, reg[2], reg[3], &slot);
	if (UNLIKELY(run->err))
		return fault_at(st, pc);
	if (!np)
		return 0;
	const struct jit_image *img = jit_image_of(run, np);
	if (!img) {
		vm_fault(run, -EOPNOTSUPP, "tail call into a program without native code", 0, 0);
		return fault_at(st, pc);
	}
	run->tail_calls++;
	run->prog = np;
	st->img = img;
	st->tc.slot = slot; /* native code takes the next tail call to it without coming here */
	st->tc.prog = np;
	st->tc.img = img;
	st->tc.entry = (uintptr_t)(img->code + img->body);
	st->may_goto_left = VM_MAY_GOTO_BUDGET;
	if (UNLIKELY(run->untrusted)) {
		reg[0] = reg[2] = reg[3] = reg[4] = reg[5] = reg[6] = reg[7] = reg[8] = reg[9] = 0;
		vm_frame_zero(FP(st) - VM_STACK_SIZE);
	}
	return (int64_t)(uintptr_t)(img->code + img->body);
}

/* exit from the outermost frame: the checks the interpreter makes there. */
int64_t jit_g_exit(struct jit_state *st, uint32_t pc)
{
	struct vm_run *run = st->run;

	if (UNLIKELY(run->spin_held)) {
		vm_fault(run, -EINVAL, "BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed region", 0, 0);
		return fault_at(st, pc);
	}
	if (UNLIKELY(run->untrusted) && run->svc->is_ptr(run, st->reg[0])) {
		vm_fault_leak(run, 0, "leaks addr as return value");
		return fault_at(st, pc);
	}
	return 0;
}

/* ---- atomics: ATOMIC_ADDR of the interpreter ---- */
static void *atomic_addr(struct jit_state *st, uint32_t pc, uint64_t base, unsigned size, bool write,
			 bool src_leak)
{
	const struct vm_insn *in = insn_at(st, pc);
	struct vm_run *run = st->run;
	uintptr_t a = (uintptr_t)(base + (uint64_t)(int64_t)in->off);
	uintptr_t frame_lo = FP(st) - VM_STACK_SIZE;
	uintptr_t d = a - frame_lo;

	if (UNLIKELY(d > st->frame_lim)) {
		if (!region_hit(&st->hit.run, a, size, write) && !region_hit(&st->hit.map, a, size, write) &&
		    d > st->frame_lim + 8 - size && !mem_ok_remember(st, a, size, write)) {
			vm_mem_fault(run, a, size, write);
			return NULL;
		}
	}
	if (UNLIKELY(in_ctx(run, a))) {
		vm_fault(run, -EACCES, "BPF_ATOMIC access to the ctx is not allowed", a, size);
		return NULL;
	}
	if (UNLIKELY(a % size)) {
		vm_fault(run, -EFAULT, "misaligned atomic access", a, size);
		return NULL;
	}
	if (src_leak && UNLIKELY(run->untrusted) && run->svc->is_ptr(run, st->reg[in->src])) {
		vm_fault_leak(run, in->src, "leaks addr into mem");
		return NULL;
	}
	return (void *)a;
}

#define ATOMIC_RMW(NAME, T, FN) \
int64_t jit_g_A##NAME(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->dst], sizeof(T), true, true); \
	if (!p) return fault_at(st, pc); \
	FN(p, (T)st->reg[in->src], __ATOMIC_SEQ_CST); \
	return 0; \
} \
int64_t jit_g_AF##NAME(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->dst], sizeof(T), true, true); \
	if (!p) return fault_at(st, pc); \
	st->reg[in->src] = FN(p, (T)st->reg[in->src], __ATOMIC_SEQ_CST); \
	return 0; \
}
ATOMIC_RMW(ADD32, uint32_t, __atomic_fetch_add)
ATOMIC_RMW(OR32, uint32_t, __atomic_fetch_or)
ATOMIC_RMW(AND32, uint32_t, __atomic_fetch_and)
ATOMIC_RMW(XOR32, uint32_t, __atomic_fetch_xor)
ATOMIC_RMW(ADD64, uint64_t, __atomic_fetch_add)
ATOMIC_RMW(OR64, uint64_t, __atomic_fetch_or)
ATOMIC_RMW(AND64, uint64_t, __atomic_fetch_and)
ATOMIC_RMW(XOR64, uint64_t, __atomic_fetch_xor)
#undef ATOMIC_RMW

#define ATOMIC_XCHG(NAME, T) \
int64_t jit_g_AXCHG##NAME(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->dst], sizeof(T), true, true); \
	if (!p) return fault_at(st, pc); \
	st->reg[in->src] = __atomic_exchange_n(p, (T)st->reg[in->src], __ATOMIC_SEQ_CST); \
	return 0; \
} \
int64_t jit_g_ACMPXCHG##NAME(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->dst], sizeof(T), true, true); \
	if (!p) return fault_at(st, pc); \
	T exp = (T)st->reg[0]; \
	__atomic_compare_exchange_n(p, &exp, (T)st->reg[in->src], false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	st->reg[0] = exp; \
	return 0; \
}
ATOMIC_XCHG(32, uint32_t)
ATOMIC_XCHG(64, uint64_t)
#undef ATOMIC_XCHG

#define ACQREL(SZ, T) \
int64_t jit_g_LDACQ_##SZ(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->src], sizeof(T), false, false); \
	if (!p) return fault_at(st, pc); \
	st->reg[in->dst] = __atomic_load_n(p, __ATOMIC_ACQUIRE); \
	return 0; \
} \
int64_t jit_g_STREL_##SZ(struct jit_state *st, uint32_t pc) \
{ \
	const struct vm_insn *in = insn_at(st, pc); \
	T *p = atomic_addr(st, pc, st->reg[in->dst], sizeof(T), true, true); \
	if (!p) return fault_at(st, pc); \
	__atomic_store_n(p, (T)st->reg[in->src], __ATOMIC_RELEASE); \
	return 0; \
}
ACQREL(B, uint8_t)
ACQREL(H, uint16_t)
ACQREL(W, uint32_t)
ACQREL(DW, uint64_t)
#undef ACQREL

/* ---- entry ---- */
typedef uint64_t (*jit_entry_fn)(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
				 struct jit_state *st);

/* The state of a native run whose outermost frame has r10 = fp.  Field by field, not memset(): gcc makes
 * that a `rep stos`, whose start-up cost was a fifth of a classic filter's run.  reg[] and scratch[] are
 * written before they are read. */
static void state_init(struct jit_state *st, struct vm_run *run, const struct jit_image *img, uintptr_t fp)
{
	st->run = run;
	st->img = img;
	st->budget = run->budget;
	st->reg[10] = fp;
	st->frame_lim = vm_stack_top(run) - (fp - VM_STACK_SIZE) - 8;
	st->may_goto_left = VM_MAY_GOTO_BUDGET;
	st->depth = 0;
	st->stack_floor = (uintptr_t)run->stack;
	st->saved_rsp = 0;
	st->entry = 0;
	st->tc.slot = 0;
	st->hit.run = st->hit.map = (struct vm_region){ 0 };
	st->hit.run_idx = 0;
	st->fast[0] = st->fast[1] = (struct jit_fast_region){ 0 };
}

uint64_t jit_run(struct vm_run *run, uint64_t a1, uint64_t a2)
{
	const struct jit_image *img = jit_image_of(run, run->prog);
	uintptr_t top = vm_stack_top(run);
	struct jit_state st;

	uint32_t zero = jit_entry_zero(img, run->prog);
	if (img->stateless) { /* no budget, lock or fault: nothing to set up or carry back */
		vm_frame_zero_below(top, zero);
		return ((jit_stateless_fn)(uintptr_t)img->code)(a1, a2, top, run);
	}
	state_init(&st, run, img, top);
	vm_frame_zero_below(top, zero);
	run->native_st = &st;
	uint64_t r0 = ((jit_entry_fn)(uintptr_t)img->code)(a1, a2, 0, 0, 0, &st);
	run->native_st = NULL;
	run->budget = st.budget;
	vm_run_end(run);
	return run->err ? 0 : r0;
}

/* What vm_exec_keep() keeps for the JIT: the state, and what jit_run() computes per run from the
 * program and the run, which do not change. */
struct jit_keep {
	struct vm_keep_head h;  /* direct: stateless code (vm_exec_kept() calls it) */
	const void *code;
	struct jit_state st;
};
_Static_assert(sizeof(struct jit_keep) <= VM_NATIVE_KEEP_LEN, "vm_exec_keep()'s buffer holds a jit_keep");
_Static_assert(_Alignof(struct jit_keep) <= 16, "vm_exec_keep()'s buffer is 16-aligned");

bool jit_keep(struct vm_run *run, void *keep)
{
	struct jit_keep *k = keep;
	const struct jit_image *img = jit_image_of(run, run->prog); /* the run's trust does not change */

	if (!img || !run->prog->leaf)
		return false;
	k->h.top = vm_stack_top(run);
	state_init(&k->st, run, img, k->h.top);
	k->h.zero = jit_entry_zero(img, run->prog);
	k->code = img->code;
	_Static_assert(sizeof(jit_stateless_fn) == sizeof(vm_direct_fn), "the same call");
	k->h.direct = img->stateless ? (vm_direct_fn)(uintptr_t)img->code : NULL;
	return true;
}

/* jit_run() on the state jit_keep() set up (stateless code is called by vm_exec_kept()).  A leaf keeps run->prog and st->img (no tail call); the
 * region caches stay valid since the run's regions do (vm_exec_keep()'s contract).  A run may end at
 * any depth (a fault), so the frame fields are set again; code that takes no budget needs none. */
uint64_t jit_rerun(struct vm_run *run, void *keep, uint64_t a1)
{
	struct jit_keep *k = keep;
	struct jit_state *st = &k->st;
	bool budget = !st->img->budget_free;

	if (budget) {
		vm_budget_reset(run);
		st->budget = run->budget;
	}
	st->reg[10] = k->h.top;
	st->frame_lim = VM_STACK_SIZE - 8;
	st->may_goto_left = VM_MAY_GOTO_BUDGET;
	st->depth = 0;
	if (k->h.zero)
		vm_frame_zero_below(k->h.top, k->h.zero);
	run->native_st = st;
	uint64_t r0 = ((jit_entry_fn)(uintptr_t)k->code)(a1, 0, 0, 0, 0, st);
	run->native_st = NULL;
	if (budget)
		run->budget = st->budget;
	vm_run_end(run);
	return run->err ? 0 : r0;
}

/* As the interpreter's nested interp() for a callback: a state of its own (depth 0, a fresh may_goto
 * budget and region cache), the frame below run->fp zeroed whole, entered through the callbacks' entry
 * (the prologue, then st.entry).  Its exit at depth 0 makes the interpreter's outermost checks. */
uint64_t jit_call_subprog(struct vm_run *run, const struct vm_insn *t, uint64_t a1, uint64_t a2, uint64_t a3,
			  uint64_t a4, uint64_t a5)
{
	const struct jit_image *img = jit_image_of(run, run->prog);
	uintptr_t fp = run->fp - VM_STACK_SIZE;
	void *outer = run->native_st;
	struct jit_state st;

	state_init(&st, run, img, fp);
	st.entry = (uintptr_t)(img->code + img->off[t - run->prog->insns]);
	vm_frame_zero(fp - VM_STACK_SIZE);
	run->native_st = &st;
	uint64_t r0 = ((jit_entry_fn)(uintptr_t)(img->code + img->cb_entry))(a1, a2, a3, a4, a5, &st);
	run->native_st = outer;
	run->budget = st.budget;
	return r0;
}

/* ---- executable memory ---- */
/* Pages for code near the library's own (0.25-1 GiB below it), or NULL.  A call from the library into
 * code terabytes away (the mmap area, from a PIE's text) cost 0.8 ns more than one into code nearby on
 * this project's AMD host (an empty function through a pointer: 3.3 against 2.5 ns, the same with
 * the code 64 MiB off), a third of a runner's call of an empty program.  A few addresses picked from the
 * clock are tried without replacing anything; a kernel that ignores MAP_FIXED_NOREPLACE (before 4.17)
 * may place the pages elsewhere, which is undone. */
static void *exec_map_near(size_t n, size_t pg, int prot)
{
#ifdef MAP_FIXED_NOREPLACE
	uintptr_t text = (uintptr_t)&jit_exec_alloc;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)n << 32);
	for (int i = 0; i < 4; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull; /* an LCG step: the tries differ */
		uintptr_t below = ((uintptr_t)256 << 20) + (uintptr_t)(x >> 34) % ((uintptr_t)768 << 20);
		if (text < below + n)
			return NULL;
		uintptr_t want = (text - below) & ~(uintptr_t)(pg - 1);
		void *p = mmap((void *)want, n, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)want)
			return p;
		if (p != MAP_FAILED)
			munmap(p, n);
	}
#else
	(void)n;
	(void)pg;
	(void)prot;
#endif
	return NULL;
}

/* Freed code is kept, sealed, for the next compile of the instance: a fresh mapping cost its page
 * faults (the copy of the code into it), new page tables (a place of its own within 1 GiB of the
 * library) and at munmap their freeing with a TLB flush on each CPU, together 60% of loading a small
 * program (perf of bench_verifier sockex1).  Bounded: at most JIT_MEM_SLOTS regions and JIT_MEM_KEEP
 * bytes; the rest is unmapped as before. */
#define JIT_MEM_SLOTS 64
#define JIT_MEM_KEEP ((size_t)4 << 20)

struct jit_mem {
	pthread_mutex_t lock;   /* compiles and frees come from any thread of the instance */
	/* /proc/self/mem of process self_pid, open for writing code into sealed pages (jit_exec_fill()),
	 * or -1: not open (not tried in this process, or refused: code is then written between two
	 * mprotect() calls).  A fork()ed child's copy is its parent's memory: reopened when the pid
	 * differs. */
	int self_mem;
	pid_t self_pid;
	size_t kept;            /* bytes in slot[] */
	size_t cnt;
	struct {
		void *p;
		size_t len;
	} slot[JIT_MEM_SLOTS];
};

struct jit_mem *jit_mem_new(void)
{
	struct jit_mem *m = calloc(1, sizeof(*m));

	if (m && pthread_mutex_init(&m->lock, NULL)) {
		free(m);
		m = NULL;
	}
	if (m)
		m->self_mem = -1;
	return m;
}

/* Can code be written into sealed pages of this process (/proc/self/mem, opened once per process)?
 * Writing there takes no permission change, so no TLB flush on every CPU that ran the process: two
 * mprotect() calls were most of loading a small program (perf of bench_jit's 16-insn load: 85%). */
static bool self_mem_ok(struct jit_mem *m)
{
	pid_t pid = getpid();
	pthread_mutex_lock(&m->lock);
	if (m->self_pid != pid) {
		if (m->self_mem >= 0)
			close(m->self_mem); /* the parent's memory, in a fork()ed child */
		m->self_mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		m->self_pid = pid;
	}
	bool ok = m->self_mem >= 0;
	pthread_mutex_unlock(&m->lock);
	return ok;
}

int jit_exec_fill(struct jit_mem *m, void *p, const void *src, size_t len)
{
	/* the pages stay read+execute: the kernel writes them as a debugger would (a private page is
	 * copied first if a fork()ed child shares it).  No thread runs this region (jit_exec_free()'s
	 * contract) and it is handed to others only through the locks that publish a program. */
	ssize_t n = pwrite(m->self_mem, src, len, (off_t)(uintptr_t)p);
	if (n == (ssize_t)len)
		return 0;
	int err = n < 0 ? -errno : -EIO;
	pthread_mutex_lock(&m->lock);
	if (m->self_pid == getpid() && m->self_mem >= 0) {
		close(m->self_mem); /* refused here (a kernel that forbids it): mprotect() from now on */
		m->self_mem = -1;
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

int jit_exec_unseal(void *p, size_t map_len)
{
	return mprotect(p, map_len, PROT_READ | PROT_WRITE) ? -errno : 0;
}

void jit_mem_free(struct jit_mem *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cnt; i++)
		munmap(m->slot[i].p, m->slot[i].len);
	if (m->self_mem >= 0)
		close(m->self_mem);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* A kept region of n bytes or more (the smallest; at most twice n, so that a small program does not
 * hold a big one), taken out of the cache, or NULL. */
static void *mem_take(struct jit_mem *m, size_t n, size_t *map_len)
{
	void *p = NULL;
	size_t best = SIZE_MAX;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cnt; i++)
		if (m->slot[i].len >= n && m->slot[i].len / 2 <= n && (best == SIZE_MAX || m->slot[i].len < m->slot[best].len))
			best = i;
	if (best != SIZE_MAX) {
		p = m->slot[best].p;
		*map_len = m->slot[best].len;
		m->kept -= *map_len;
		m->slot[best] = m->slot[--m->cnt];
	}
	pthread_mutex_unlock(&m->lock);
	return p;
}

void *jit_exec_alloc(struct jit_mem *m, size_t len, size_t *map_len, bool *sealed)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (len + pg - 1) / pg * pg;
	void *p = m ? mem_take(m, n, map_len) : NULL;

	*sealed = m && self_mem_ok(m); /* never writable at all: filled through /proc/self/mem */
	if (p) {
		/* W^X: writable again, never executable at the same time (jit_exec_free()'s contract: no
		 * thread can be running it) */
		if (*sealed || !mprotect(p, *map_len, PROT_READ | PROT_WRITE))
			return p;
		munmap(p, *map_len);
	}
	int prot = *sealed ? PROT_READ | PROT_EXEC : PROT_READ | PROT_WRITE;
	p = exec_map_near(n, pg, prot);
	if (!p)
		p = mmap(NULL, n, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	*map_len = n;
	return p;
}

int jit_exec_seal(void *p, size_t map_len)
{
	/* Taking write away flushes the TLBs of the other CPUs that ran this process (an interrupt each,
	 * whose return serializes them), so that none runs stale code here. */
	return mprotect(p, map_len, PROT_READ | PROT_EXEC) ? -errno : 0;
}

void jit_exec_free(struct jit_mem *m, void *p, size_t map_len)
{
	if (!p)
		return;
	if (m) {
		pthread_mutex_lock(&m->lock);
		bool keep = m->cnt < JIT_MEM_SLOTS && map_len <= JIT_MEM_KEEP - m->kept;
		if (keep) {
			m->slot[m->cnt].p = p;
			m->slot[m->cnt].len = map_len;
			m->cnt++;
			m->kept += map_len;
		}
		pthread_mutex_unlock(&m->lock);
		if (keep)
			return;
	}
	munmap(p, map_len);
}
