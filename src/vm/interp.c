/* interp.c -- reference semantics of eBPF (RFC 9669 + Linux) over pre-decoded instructions.
 *
 * Dispatch is threaded (computed goto through a table generated from insn.def), so a row without a
 * do_<NAME> label fails to compile.  Semantics are written once per family macro, edge cases included
 * (division by zero, INT_MIN / -1, masked shifts, zero-extension of 32-bit results).  The JIT must match
 * this file bit for bit.
 *
 * Every memory access and divisor is checked at run time (memory against the run's stack and regions,
 * vm_mem_ok; a fault stops the program with -EFAULT naming the insn), so an unverified program can never
 * make the interpreter touch memory it does not own.  The exception: in a trusted run (vm_run_trusted())
 * an insn the verifier proved safe on every path holds its unchecked twin (insn.def's XU() list,
 * vm_prog_trust()), which skips the check; any other run dispatches the same id to the checked handler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm.h"

/* Signed division and modulo with Linux's answers where C has none (kernel/bpf/core.c). */
static inline uint64_t sdiv64(uint64_t a, uint64_t b)
{
	if (b == 0)
		return 0;
	if ((int64_t)b == -1)
		return -a;  /* INT64_MIN / -1 = INT64_MIN, computed without overflow */
	return (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t smod64(uint64_t a, uint64_t b)
{
	if (b == 0)
		return a;
	if ((int64_t)b == -1)
		return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint32_t sdiv32(uint32_t a, uint32_t b)
{
	if (b == 0)
		return 0;
	if ((int32_t)b == -1)
		return -a;
	return (uint32_t)((int32_t)a / (int32_t)b);
}

static inline uint32_t smod32(uint32_t a, uint32_t b)
{
	if (b == 0)
		return a;
	if ((int32_t)b == -1)
		return 0;
	return (uint32_t)((int32_t)a % (int32_t)b);
}

/* The same, for a divisor proven non-zero (unchecked twins): INT_MIN / -1 stays, since x86 traps on it. */
static inline uint64_t sdiv64_nz(uint64_t a, uint64_t b)
{
	return (int64_t)b == -1 ? -a : (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t smod64_nz(uint64_t a, uint64_t b)
{
	return (int64_t)b == -1 ? 0 : (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint32_t sdiv32_nz(uint32_t a, uint32_t b)
{
	return (int32_t)b == -1 ? -a : (uint32_t)((int32_t)a / (int32_t)b);
}

static inline uint32_t smod32_nz(uint32_t a, uint32_t b)
{
	return (int32_t)b == -1 ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
}

static inline uint64_t arsh64(uint64_t a, unsigned s)
{
	/* Right shift of a negative value is implementation-defined in C; spell it out. */
	return (int64_t)a < 0 ? ~(~a >> s) : a >> s;
}

static inline uint32_t arsh32(uint32_t a, unsigned s)
{
	return (int32_t)a < 0 ? ~(~a >> s) : a >> s;
}

static inline uint64_t ld_sized(const void *p, unsigned size)
{
	uint8_t b; uint16_t h; uint32_t w; uint64_t d;

	switch (size) {
	case 1: memcpy(&b, p, 1); return b;
	case 2: memcpy(&h, p, 2); return h;
	case 4: memcpy(&w, p, 4); return w;
	default: memcpy(&d, p, 8); return d;
	}
}

void vm_fault(struct vm_run *run, int err, const char *what, uintptr_t addr, uint32_t size)
{
	if (run->err)
		return;
	run->err = err;
	run->fault_what = what;
	run->fault_addr = addr;
	run->fault_size = size;
}

static const char ctx_denied[] = "invalid bpf_context access";

const char *vm_zero_size_msg(unsigned reg)
{
	static const char *const msg[] = {
		"invalid zero-sized read", "R1 invalid zero-sized read", "R2 invalid zero-sized read",
		"R3 invalid zero-sized read", "R4 invalid zero-sized read", "R5 invalid zero-sized read",
	};
	return msg[reg < sizeof(msg) / sizeof(msg[0]) ? reg : 0];
}

void vm_fault_leak(struct vm_run *run, unsigned reg, const char *what)
{
	if (run->err)
		return;
	vm_fault(run, -EACCES, what, 0, reg);
	run->fault_leak = true;
}

/* Addresses below this are scalars a program made up (NULL + offset, a constant): shown as they are. */
#define VM_SCALAR_ADDR 0x10000u
/* A region this close to a faulting address is what the program meant to reach. */
#define VM_NEAR        (1u << 20)

static uintptr_t region_dist(uintptr_t lo, uintptr_t hi, uintptr_t addr)
{
	return addr < lo ? lo - addr : addr >= hi ? addr - hi + 1 : 0;
}

/* A map value region: "map 'NAME' value+N" against the value the address is in or next to when the
 * region is an array of values (arrays, global data), else against the region's start. */
static void map_addr_text(const struct vm_map_desc *m, uintptr_t lo, uintptr_t hi, uintptr_t addr, char *buf,
			  size_t len)
{
	uint64_t stride = m->stride;
	const char *name = m->name;

	if (m->values && stride && m->max_entries && hi - lo == stride * m->max_entries) {
		uint64_t idx = addr < lo ? 0 : (addr - lo) / stride;
		if (idx >= m->max_entries)
			idx = m->max_entries - 1;
		long long in = (long long)(addr - (lo + idx * stride));
		if (m->max_entries == 1)
			snprintf(buf, len, "map '%s' value%+lld", name, in);
		else
			snprintf(buf, len, "map '%s' value[%llu]%+lld", name, (unsigned long long)idx, in);
		return;
	}
	snprintf(buf, len, "map '%s' values%+lld", name, (long long)(addr - lo));
}

/* addr described against the memory `anchor` lies in or next to: the base register of a faulting load
 * or store (addr minus the insn's offset), so that r1 + 64 past a small buffer is "mem+64" even when the
 * host happens to have put the stack closer. */
static const char *addr_text(const struct vm_run *run, uintptr_t addr, uintptr_t anchor, char *buf, size_t len)
{
	static const char *const kinds[] = { [VM_REG_MEM] = "mem", [VM_REG_CTX] = "ctx", [VM_REG_PACKET] = "packet",
					     [VM_REG_KEY] = "key" };
	uintptr_t bottom = (uintptr_t)run->stack, top = vm_stack_top(run);
	const struct vm_prog *prog = vm_fault_prog(run); /* a tail call's target when it faulted there */

	if (addr < VM_SCALAR_ADDR || anchor < VM_SCALAR_ADDR) {
		snprintf(buf, len, "addr=0x%lx", (unsigned long)addr);
		return buf;
	}
	const struct vm_region *best = NULL;
	uintptr_t bestd = region_dist(bottom, top, anchor);
	size_t best_map = SIZE_MAX;
	for (unsigned i = 0; i < run->region_cnt; i++) {
		uintptr_t d = region_dist(run->regions[i].lo, run->regions[i].hi, anchor);
		if (d < bestd) {
			best = &run->regions[i];
			bestd = d;
		}
	}
	for (size_t i = 0; i < prog->map_region_cnt; i++) {
		uintptr_t d = region_dist(prog->map_regions[i].lo, prog->map_regions[i].hi, anchor);
		if (d < bestd) {
			best = &prog->map_regions[i];
			best_map = i;
			bestd = d;
		}
	}
	if (bestd >= VM_NEAR) {
		snprintf(buf, len, "an address outside the program's memory");
	} else if (!best) {
		uintptr_t fp = run->fault_fp ? run->fault_fp : run->fp;
		snprintf(buf, len, "fp%+lld", (long long)(addr - fp));
	} else if (best_map != SIZE_MAX && best_map < prog->used_map_cnt) {
		map_addr_text(&prog->map_descs[best_map], best->lo, best->hi, addr, buf, len);
	} else {
		const char *kind = best == &run->regions[0] && run->ctx_ok ? "ctx" :
				   best->kind < sizeof(kinds) / sizeof(kinds[0]) ? kinds[best->kind] : "mem";
		snprintf(buf, len, "%s%+lld", kind, (long long)(addr - best->lo));
	}
	return buf;
}

const char *vm_addr_text(const struct vm_run *run, uintptr_t addr, char *buf, size_t len)
{
	return addr_text(run, addr, addr, buf, len);
}

const char *vm_fault_text(const struct vm_run *run, char *buf, size_t len)
{
	char where[128];

	if (run->fault_leak)
		snprintf(buf, len, "R%u %s (untrusted mode)", run->fault_size, run->fault_what);
	else if (run->fault_what == ctx_denied)
		snprintf(buf, len, "%s off=%lu size=%u", ctx_denied, (unsigned long)run->fault_addr, run->fault_size);
	else if (run->err == -ELOOP || (!run->fault_addr && !run->fault_size))
		snprintf(buf, len, "%s", run->fault_what ? run->fault_what : "fault"); /* no address to speak of */
	else if (!run->fault_size)
		snprintf(buf, len, "%s (%s)", run->fault_what ? run->fault_what : "fault",
			 vm_addr_text(run, run->fault_addr, where, sizeof(where)));
	else {
		/* a load or store: its base register is addr - off */
		uintptr_t anchor = run->fault_addr;
		const struct vm_prog *fp = vm_fault_prog(run);
		const struct vm_insn *in = run->fault_pc < fp->cnt ? &fp->insns[run->fault_pc] : NULL;
		if (in && in->size && run->fault_what && !strncmp(run->fault_what, "invalid memory", 14))
			anchor -= (uintptr_t)(intptr_t)in->off;
		snprintf(buf, len, "%s %s size=%u", run->fault_what ? run->fault_what : "fault",
			 addr_text(run, run->fault_addr, anchor, where, sizeof(where)), run->fault_size);
	}
	return buf;
}

/* One wording for every report (vm_fault_text()), measured for vm_fault_msg(): a fault's text is bounded
 * by its description and one region+offset. */
static int fault_fmt(const struct vm_run *run, char *buf, size_t len)
{
	char tmp[512];
	vm_fault_text(run, tmp, sizeof(tmp));
	return snprintf(buf, len, "%s", tmp);
}

char *vm_fault_msg(const struct vm_run *run)
{
	int n = fault_fmt(run, NULL, 0);
	char *m = n < 0 ? NULL : malloc((size_t)n + 1);
	if (m)
		fault_fmt(run, m, (size_t)n + 1);
	return m;
}

static bool in_ctx(const struct vm_run *run, uintptr_t addr)
{
	return run->ctx_ok && run->region_cnt && addr >= run->regions[0].lo && addr < run->regions[0].hi;
}

/* An access MEM_CHECK refused: a ctx access the type's rules deny is -EACCES (what Linux's verifier
 * returns for it), anything else -EFAULT. */
static void mem_fault(struct vm_run *run, uintptr_t addr, uint32_t size, bool write)
{
	if (in_ctx(run, addr))
		vm_fault(run, -EACCES, ctx_denied, addr - run->regions[0].lo, size);
	else
		vm_fault(run, -EFAULT, write ? "invalid memory write" : "invalid memory read", addr, size);
}

void vm_mem_fault(struct vm_run *run, uintptr_t addr, uint32_t size, bool write)
{
	mem_fault(run, addr, size, write);
}

static bool region_allows(const struct vm_region *r, bool write)
{
	return write ? r->writable : !r->write_only;
}

static const struct vm_region *find_region(const struct vm_region *t, size_t cnt, uintptr_t addr, size_t len)
{
	for (size_t i = 0; i < cnt; i++)
		if (addr >= t[i].lo && addr < t[i].hi && len <= t[i].hi - addr)
			return &t[i];
	return NULL;
}

/* The run's region (the packet, memory of a plain run) holding [addr, addr + len), for an addr outside
 * the ctx; NULL if none.  Valid until a helper call, which may move the packet. */
static const struct vm_region *run_region(const struct vm_run *run, uintptr_t addr, size_t len)
{
	return find_region(run->regions, run->region_cnt, addr, len);
}

/* The program's map region holding [addr, addr + len), NULL if none.  Valid until a tail call. */
static const struct vm_region *prog_region(const struct vm_run *run, uintptr_t addr, size_t len)
{
	return find_region(run->prog->map_regions, run->prog->map_region_cnt, addr, len);
}

bool vm_mem_ok_slow(const struct vm_run *run, uintptr_t addr, size_t len, bool write)
{
	/* Any access starting in the ctx is the type's to judge: a field of the wrong size, or past the
	 * struct, is denied, as the verifier would deny it. */
	if (in_ctx(run, addr))
		return len <= run->regions[0].hi - addr &&
		       run->ctx_ok(run, (uint32_t)(addr - run->regions[0].lo), (uint32_t)len, write);
	const struct vm_region *r = run_region(run, addr, len);
	if (!r)
		r = prog_region(run, addr, len);
	if (r)
		return region_allows(r, write);
	return run->svc->mem_ok_dynamic(run, addr, len, write);
}

/* The regions the interpreter's last accesses outside the stack fell in, so that the next access to
 * one (the packet, a map value) costs two compares: a copy of run->regions[run_idx] (rechecked after
 * each helper call, which may move the packet) and of a map region of the program (forgotten at tail
 * calls).  Never the ctx (judged field by field) nor a dynamic region (another thread may free it
 * between two accesses). */
struct region_cache {
	struct vm_region run, map;
	unsigned run_idx;
};

static inline void region_cache_recheck(const struct vm_run *run, struct region_cache *c)
{
	const struct vm_region *r = &run->regions[c->run_idx];
	if (c->run_idx >= run->region_cnt || r->lo != c->run.lo || r->hi != c->run.hi ||
	    r->writable != c->run.writable || r->write_only != c->run.write_only)
		c->run.hi = c->run.lo;
}

static inline bool region_hit(const struct vm_region *r, uintptr_t addr, size_t len, bool write)
{
	return addr - r->lo < r->hi - r->lo && len <= r->hi - addr && region_allows(r, write);
}

/* vm_mem_ok_slow(), filling the cache (each table searched once). */
static bool mem_ok_remember(const struct vm_run *run, uintptr_t addr, size_t len, bool write, struct region_cache *c)
{
	if (in_ctx(run, addr))
		return vm_mem_ok_slow(run, addr, len, write);
	const struct vm_region *r = run_region(run, addr, len);
	if (r) {
		c->run = *r;
		c->run_idx = (unsigned)(r - run->regions);
		return region_allows(r, write);
	}
	if ((r = prog_region(run, addr, len))) {
		c->map = *r;
		return region_allows(r, write);
	}
	return run->svc->mem_ok_dynamic(run, addr, len, write);
}

bool vm_run_add_region(struct vm_run *run, const void *p, size_t len, bool writable)
{
	if (run->region_cnt >= VM_MAX_REGIONS)
		return false;
	run->regions[run->region_cnt++] = (struct vm_region){ (uintptr_t)p, (uintptr_t)p + len, writable, false, VM_REG_MEM };
	return true;
}

void vm_run_init(struct vm_run *run, struct vm_prog *prog, uint8_t *stack)
{
	memset(run, 0, sizeof(*run));
	run->vm = prog->vm;
	run->prog = prog;
	run->stack = stack;
	run->svc = prog->svc;
	run->untrusted = prog->untrusted;
	vm_run_reset(run);
}


uint64_t vm_budget_refill(struct vm_run *run)
{
	if (atomic_load_explicit(run->prog->interrupted, memory_order_relaxed)) {
		vm_fault(run, -EINTR, "run interrupted", 0, 0);
		return 0;
	}
	if (run->budget_rest == 0) {
		vm_fault(run, -ELOOP, "instruction budget exhausted", 0, 0);
		return 0;
	}
	uint64_t n = run->budget_rest < VM_BUDGET_SLICE ? run->budget_rest : VM_BUDGET_SLICE;
	if (run->budget_rest != UINT64_MAX)
		run->budget_rest -= n;
	return n;
}

bool vm_budget_take(struct vm_run *run)
{
	if (run->err)
		return false;
	if (UNLIKELY(--run->budget == 0) && (run->budget = vm_budget_refill(run)) == 0)
		return false;
	return true;
}

/* What a bpf-to-bpf call saves.  The may_goto budget is per frame as in Linux, where each subprogram's
 * prologue sets its own counter slot to BPF_MAX_LOOPS.  The caller's frame pointer comes from the
 * interpreter's own record (`fp`), never from reg[10]: the program cannot write r10 (isa_validate()),
 * and even if a rule there were missed, a forged r10 would be data, not the frame accesses are checked
 * against.  `prog` is the caller's program: a subprogram may tail-call, and the target's exit then
 * returns into the caller (the run keeps both alive). */
struct frame {
	const struct vm_insn *ret;
	struct vm_prog *prog;
	uint64_t r6, r7, r8, r9;
	uintptr_t fp;
	uint32_t may_goto_left;
};

/* Checked builds (-DBPFVM_CHECKED: the sanitizer and fuzz builds) assert the interpreter's invariants
 * at every dispatch and re-check every access MEM_CHECK let through with the exact, slow rule, so that
 * a fuzzed program that escapes (a moved frame, a fast path that wraps) aborts at the insn that did it
 * instead of going unnoticed when it lands in memory ASan does not guard. */
#ifdef BPFVM_CHECKED
#include <stdlib.h>
static void invariant_failed(const struct vm_run *run, const struct vm_insn *pc, const char *what)
{
	fprintf(stderr, "bpfvm: invariant violated: prog '%s': insn %zu: %s\n", run->prog->name,
		(size_t)(pc - run->prog->insns), what);
	abort();
}
#define VM_INVARIANT(cond_, what_) do { if (UNLIKELY(!(cond_))) invariant_failed(run, pc, (what_)); } while (0)
#else
#define VM_INVARIANT(cond_, what_) do { } while (0)
#endif

/* Linux's verifier: while a bpf_spin_lock is held, the only call allowed is bpf_spin_unlock (so a
 * program cannot, say, update its own locked element with BPF_F_LOCK and wait on itself forever). */
static const char spin_call_msg[] = "function calls are not allowed while holding a lock";

/* The interpreter.  `entry` is where to start (0 for the program, a subprogram for callbacks). */
static uint64_t interp(struct vm_run *run, const struct vm_insn *entry, uint64_t a1, uint64_t a2, uint64_t a3,
		       uint64_t a4, uint64_t a5, uint8_t *frame_top)
{
	/* Two tables over the same handlers: an insn holding an unchecked twin (vm_prog_trust()) runs the
	 * twin in a trusted run and its row's checked handler in any other. */
	static const void *const jump_checked[ISA_ID_COUNT] = {
#define X(name_, ...) [ISA_##name_] = &&do_##name_,
#define XU(name_) [ISA_U_##name_] = &&do_##name_,
#include "../isa/insn.def"
#undef XU
#undef X
	};
	static const void *const jump_trusted[ISA_ID_COUNT] = {
#define X(name_, ...) [ISA_##name_] = &&do_##name_,
#define XU(name_) [ISA_U_##name_] = &&do_U_##name_,
#include "../isa/insn.def"
#undef XU
#undef X
	};
	const void *const *jump = vm_run_trusted(run) ? jump_trusted : jump_checked;
	const struct vm_insn *pc = entry;
	uint64_t reg[11];
	struct frame frames[VM_MAX_FRAMES];
	unsigned depth = 0;
	uint8_t *stack_floor = run->stack;
	/* The stack the current frame may touch is [frame_lo, frame_lo + frame_lim + 8) (see vm_stack_ok),
	 * in locals so that an access costs a subtract and one compare of its offset from frame_lo against
	 * frame_lim: an 8-byte access fits below the limit, a narrower one just past it (rare) is rechecked
	 * exactly on the slow path of MEM_CHECK. */
	const uintptr_t stack_top = vm_stack_top(run);
	uintptr_t frame_lo = (uintptr_t)frame_top - VM_STACK_SIZE;
	uintptr_t frame_lim = stack_top - frame_lo - 8;
	uintptr_t fp = (uintptr_t)frame_top; /* r10 of the current frame, as the interpreter keeps it */
	uint32_t may_goto_left = VM_MAY_GOTO_BUDGET;
	/* A register copy of run->budget: written back before anything that may run a nested interp()
	 * (helpers with callbacks) or look at it, and on every way out. */
	uint64_t budget = run->budget;
	struct region_cache hit = { { 0, 0, false, false, 0 }, { 0, 0, false, false, 0 }, 0 };
	const bool untrusted = run->untrusted;

	/* run->prog is the entry program or one calling a helper (a callback), which is no leaf: the
	 * whole frame */
	uint32_t zero = VM_STACK_SIZE - run->prog->stack_unreached,
		 need = vm_frame_need(run->prog, (size_t)(entry - run->prog->insns), vm_run_trusted(run));
	vm_frame_zero_below(frame_lo + VM_STACK_SIZE, need < zero ? need : zero);

	reg[0] = 0;
	reg[1] = a1;
	reg[2] = a2;
	reg[3] = a3;
	reg[4] = a4;
	reg[5] = a5;
	reg[6] = reg[7] = reg[8] = reg[9] = 0;
	reg[10] = fp;

#define DST reg[pc->dst]
#define SRC reg[pc->src]
#define K   pc->k
#define CHECK_STATE() do { \
		VM_INVARIANT(reg[10] == fp, "r10 changed"); \
		VM_INVARIANT(fp > (uintptr_t)stack_floor && fp <= stack_top && frame_lo == fp - VM_STACK_SIZE && \
			     frame_lim == stack_top - frame_lo - 8, "frame outside the run's stack"); \
	} while (0)
#define DISPATCH() do { CHECK_STATE(); goto *jump[pc->id]; } while (0)
#define NEXT() do { ++pc; DISPATCH(); } while (0)
	/* Taken jump or local call: off is the target's byte delta, <= 0 for a back-edge. */
#define TAKE_BUDGET() do { \
		if (UNLIKELY(--budget == 0) && (budget = vm_budget_refill(run)) == 0) goto fault; } while (0)
#define JUMP() do { int32_t d_ = pc->off; \
		if (d_ <= 0) TAKE_BUDGET(); \
		pc = vm_jump_target(pc); DISPATCH(); } while (0)
#define FAULT(err_, what_, addr_, size_) do { \
		vm_fault(run, (err_), (what_), (addr_), (size_)); goto fault; } while (0)
	/* Checks [frame_lo + d_, + size_), d_ being the address's offset from frame_lo (wraps when below). */
#define FRAME_OFF(d_, base_, off_) uintptr_t d_ = (uintptr_t)((base_) + (uint64_t)(int64_t)(off_)) - frame_lo
#define MEM_CHECK_FAST(d_, size_, write_) do { \
		if (UNLIKELY((d_) > frame_lim)) { \
			uintptr_t m_ = frame_lo + (d_); \
			if (region_hit(&hit.run, m_, (size_), (write_)) || region_hit(&hit.map, m_, (size_), (write_))) \
				break; \
			if ((d_) <= frame_lim + 8 - (size_) || mem_ok_remember(run, m_, (size_), (write_), &hit)) \
				break; \
			mem_fault(run, m_, (size_), (write_)); goto fault; } \
	} while (0)
#define MEM_CHECK(d_, size_, write_) do { \
		MEM_CHECK_FAST(d_, size_, write_); \
		VM_INVARIANT(vm_stack_ok(frame_lo, stack_top, frame_lo + (d_), (size_)) || \
			     vm_mem_ok_slow(run, frame_lo + (d_), (size_), (write_)), "access outside the run's memory"); \
	} while (0)

	DISPATCH();

	/* ---- ALU: one macro per family emits the 64/32-bit and K/X rows ---- */
#define ALU(NAME, OP) \
	do_##NAME##64_K: DST = DST OP K; NEXT(); \
	do_##NAME##64_X: DST = DST OP SRC; NEXT(); \
	do_##NAME##32_K: DST = (uint32_t)((uint32_t)DST OP (uint32_t)K); NEXT(); \
	do_##NAME##32_X: DST = (uint32_t)((uint32_t)DST OP (uint32_t)SRC); NEXT();
	ALU(ADD, +)
	ALU(SUB, -)
	ALU(OR, |)
	ALU(AND, &)
	ALU(XOR, ^)
#undef ALU
	/* Multiplication in uint32_t would promote to int and overflow: multiply as 64 bits, then cut. */
	do_MUL64_K: DST = DST * K; NEXT();
	do_MUL64_X: DST = DST * SRC; NEXT();
	do_MUL32_K: DST = zext32((uint64_t)(uint32_t)DST * (uint32_t)K); NEXT();
	do_MUL32_X: DST = zext32((uint64_t)(uint32_t)DST * (uint32_t)SRC); NEXT();

	/* RFC 9669: shift counts are masked to the operand width. */
#define SHIFT(NAME, OP) \
	do_##NAME##64_K: DST = DST OP (K & 63); NEXT(); \
	do_##NAME##64_X: DST = DST OP (SRC & 63); NEXT(); \
	do_##NAME##32_K: DST = (uint32_t)((uint32_t)DST OP (K & 31)); NEXT(); \
	do_##NAME##32_X: DST = (uint32_t)((uint32_t)DST OP (SRC & 31)); NEXT();
	SHIFT(LSH, <<)
	SHIFT(RSH, >>)
#undef SHIFT
	do_ARSH64_K: DST = arsh64(DST, K & 63); NEXT();
	do_ARSH64_X: DST = arsh64(DST, SRC & 63); NEXT();
	do_ARSH32_K: DST = arsh32((uint32_t)DST, K & 31); NEXT();
	do_ARSH32_X: DST = arsh32((uint32_t)DST, SRC & 31); NEXT();

	/* Division by zero gives 0; modulo by zero leaves dst (32-bit ops still zero-extend). */
	do_DIV64_K: DST = K ? DST / K : 0; NEXT();
	do_DIV64_X: DST = SRC ? DST / SRC : 0; NEXT();
	do_DIV32_K: DST = (uint32_t)K ? (uint32_t)DST / (uint32_t)K : 0; NEXT();
	do_DIV32_X: DST = (uint32_t)SRC ? (uint32_t)DST / (uint32_t)SRC : 0; NEXT();
	do_MOD64_K: DST = K ? DST % K : DST; NEXT();
	do_MOD64_X: DST = SRC ? DST % SRC : DST; NEXT();
	do_MOD32_K: DST = (uint32_t)K ? (uint32_t)DST % (uint32_t)K : (uint32_t)DST; NEXT();
	do_MOD32_X: DST = (uint32_t)SRC ? (uint32_t)DST % (uint32_t)SRC : (uint32_t)DST; NEXT();
	do_SDIV64_K: DST = sdiv64(DST, K); NEXT();
	do_SDIV64_X: DST = sdiv64(DST, SRC); NEXT();
	do_SDIV32_K: DST = sdiv32((uint32_t)DST, (uint32_t)K); NEXT();
	do_SDIV32_X: DST = sdiv32((uint32_t)DST, (uint32_t)SRC); NEXT();
	do_SMOD64_K: DST = smod64(DST, K); NEXT();
	do_SMOD64_X: DST = smod64(DST, SRC); NEXT();
	do_SMOD32_K: DST = smod32((uint32_t)DST, (uint32_t)K); NEXT();
	do_SMOD32_X: DST = smod32((uint32_t)DST, (uint32_t)SRC); NEXT();

	/* Unchecked twins: the verifier proved the divisor non-zero on every path (VM_PROOF_DIV_NONZERO). */
#define DIV_NZ(d_) VM_INVARIANT((d_) != 0, "unchecked division by zero")
	do_U_DIV64_K: DIV_NZ(K); DST = DST / K; NEXT();
	do_U_DIV64_X: DIV_NZ(SRC); DST = DST / SRC; NEXT();
	do_U_DIV32_K: DIV_NZ((uint32_t)K); DST = (uint32_t)DST / (uint32_t)K; NEXT();
	do_U_DIV32_X: DIV_NZ((uint32_t)SRC); DST = (uint32_t)DST / (uint32_t)SRC; NEXT();
	do_U_MOD64_K: DIV_NZ(K); DST = DST % K; NEXT();
	do_U_MOD64_X: DIV_NZ(SRC); DST = DST % SRC; NEXT();
	do_U_MOD32_K: DIV_NZ((uint32_t)K); DST = (uint32_t)DST % (uint32_t)K; NEXT();
	do_U_MOD32_X: DIV_NZ((uint32_t)SRC); DST = (uint32_t)DST % (uint32_t)SRC; NEXT();
	do_U_SDIV64_K: DIV_NZ(K); DST = sdiv64_nz(DST, K); NEXT();
	do_U_SDIV64_X: DIV_NZ(SRC); DST = sdiv64_nz(DST, SRC); NEXT();
	do_U_SDIV32_K: DIV_NZ((uint32_t)K); DST = sdiv32_nz((uint32_t)DST, (uint32_t)K); NEXT();
	do_U_SDIV32_X: DIV_NZ((uint32_t)SRC); DST = sdiv32_nz((uint32_t)DST, (uint32_t)SRC); NEXT();
	do_U_SMOD64_K: DIV_NZ(K); DST = smod64_nz(DST, K); NEXT();
	do_U_SMOD64_X: DIV_NZ(SRC); DST = smod64_nz(DST, SRC); NEXT();
	do_U_SMOD32_K: DIV_NZ((uint32_t)K); DST = smod32_nz((uint32_t)DST, (uint32_t)K); NEXT();
	do_U_SMOD32_X: DIV_NZ((uint32_t)SRC); DST = smod32_nz((uint32_t)DST, (uint32_t)SRC); NEXT();
#undef DIV_NZ

	do_NEG64: DST = -DST; NEXT();
	do_NEG32: DST = (uint32_t)-(uint32_t)DST; NEXT();
	do_MOV64_K: DST = K; NEXT();
	do_MOV64_X: DST = SRC; NEXT();
	do_MOV32_K: DST = zext32(K); NEXT();
	do_MOV32_X: DST = zext32(SRC); NEXT();
	do_MOVSX864: DST = sext8(SRC); NEXT();
	do_MOVSX1664: DST = sext16(SRC); NEXT();
	do_MOVSX3264: DST = sext32(SRC); NEXT();
	do_MOVSX832: DST = zext32(sext8(SRC)); NEXT();
	do_MOVSX1632: DST = zext32(sext16(SRC)); NEXT();

	/* Byte order: the host is little endian (checked in sys.c), so "le" truncates and "be" swaps. */
	do_LE16: DST = (uint16_t)DST; NEXT();
	do_LE32: DST = (uint32_t)DST; NEXT();
	do_LE64: NEXT();
	do_BE16: do_BSWAP16: DST = __builtin_bswap16((uint16_t)DST); NEXT();
	do_BE32: do_BSWAP32: DST = __builtin_bswap32((uint32_t)DST); NEXT();
	do_BE64: do_BSWAP64: DST = __builtin_bswap64(DST); NEXT();

	/* ---- jumps: off holds the absolute target pc (fixup) ---- */
	do_JA: do_JA32: JUMP();
	do_MAY_GOTO:
		/* Linux: falls through while the frame's loop budget lasts (BPF_MAX_LOOPS = 8M, shared by every
		 * may_goto of the frame), then takes the jump for good. */
		if (UNLIKELY(may_goto_left == 0))
			JUMP();
		may_goto_left--;
		NEXT();
#define COND(NAME, T, OP) \
	do_##NAME##_K: if ((T)DST OP (T)K) JUMP(); NEXT(); \
	do_##NAME##_X: if ((T)DST OP (T)SRC) JUMP(); NEXT();
	COND(JEQ, uint64_t, ==)
	COND(JNE, uint64_t, !=)
	COND(JGT, uint64_t, >)
	COND(JGE, uint64_t, >=)
	COND(JLT, uint64_t, <)
	COND(JLE, uint64_t, <=)
	COND(JSGT, int64_t, >)
	COND(JSGE, int64_t, >=)
	COND(JSLT, int64_t, <)
	COND(JSLE, int64_t, <=)
	COND(JEQ32, uint32_t, ==)
	COND(JNE32, uint32_t, !=)
	COND(JGT32, uint32_t, >)
	COND(JGE32, uint32_t, >=)
	COND(JLT32, uint32_t, <)
	COND(JLE32, uint32_t, <=)
	COND(JSGT32, int32_t, >)
	COND(JSGE32, int32_t, >=)
	COND(JSLT32, int32_t, <)
	COND(JSLE32, int32_t, <=)
#undef COND
	do_JSET_K: if (DST & K) JUMP(); NEXT();
	do_JSET_X: if (DST & SRC) JUMP(); NEXT();
	do_JSET32_K: if ((uint32_t)DST & (uint32_t)K) JUMP(); NEXT();
	do_JSET32_X: if ((uint32_t)DST & (uint32_t)SRC) JUMP(); NEXT();

	/* ---- calls ---- */
	do_CALL:
		TAKE_BUDGET();
		if (UNLIKELY(run->spin_held) && run->prog->orig[pc - run->prog->insns].imm != BPF_FUNC_spin_unlock)
			FAULT(-EINVAL, spin_call_msg, 0, 0);
		if (UNLIKELY(pc->size)) {
			unsigned zr = vm_zero_size_reg(pc->size, reg[1], reg[2], reg[3], reg[4], reg[5]);
			if (zr)
				FAULT(-EACCES, vm_zero_size_msg(zr), 0, 0);
			if ((pc->size & VM_CALL_UNTRUSTED) &&
			    !run->svc->untrusted_call(run, (size_t)(pc - run->prog->insns), &reg[1]))
				goto fault;
		}
		run->fp = fp;
		run->budget = budget;
		reg[0] = ((vm_helper_fn)(uintptr_t)K)(run, reg[1], reg[2], reg[3], reg[4], reg[5]);
		budget = run->budget;
		region_cache_recheck(run, &hit);
		if (UNLIKELY(run->err))
			goto fault;
		NEXT();
	do_CALL_KFUNC: /* host functions: embedder kfuncs and embedder helpers (fixup routes them here) */
		TAKE_BUDGET();
		if (UNLIKELY(run->spin_held))
			FAULT(-EINVAL, spin_call_msg, 0, 0);
		reg[0] = ((bpfvm_kfunc_fn)(uintptr_t)K)(reg[1], reg[2], reg[3], reg[4], reg[5]);
		NEXT();
	do_CALLX: {
		uint64_t target = DST;
		const struct vm_insn *t = (const struct vm_insn *)(uintptr_t)target;
		const struct vm_insn *base = run->prog->insns;
		if (t >= base && t < base + run->prog->cnt && ((uintptr_t)t - (uintptr_t)base) % sizeof(*t) == 0)
			goto local_call_to_t;
		/* A helper id in a register (bpf_conformance's callx). */
		TAKE_BUDGET();
		if (UNLIKELY(run->spin_held) && target != BPF_FUNC_spin_unlock)
			FAULT(-EINVAL, spin_call_msg, 0, 0);
		run->fp = fp;
		run->budget = budget;
		reg[0] = run->svc->call_helper_id(run, target, reg[1], reg[2], reg[3], reg[4], reg[5]);
		budget = run->budget;
		region_cache_recheck(run, &hit);
		if (UNLIKELY(run->err))
			goto fault;
		NEXT();
	local_call_to_t:
		if (depth + 1 >= VM_MAX_FRAMES || fp - VM_STACK_SIZE <= (uintptr_t)stack_floor)
			FAULT(-E2BIG, "call stack too deep", 0, 0);
		frames[depth++] = (struct frame){ pc, run->prog, reg[6], reg[7], reg[8], reg[9], fp, may_goto_left };
		fp -= VM_STACK_SIZE;
		reg[10] = fp;
		frame_lo -= VM_STACK_SIZE;
		frame_lim += VM_STACK_SIZE;
		vm_frame_zero_below(frame_lo + VM_STACK_SIZE,
				    vm_frame_need(run->prog, (size_t)(t - run->prog->insns), jump == jump_trusted));
		may_goto_left = VM_MAY_GOTO_BUDGET;
		TAKE_BUDGET();
		pc = t;
		DISPATCH();
	}
	do_CALL_LOCAL:
		if (depth + 1 >= VM_MAX_FRAMES || fp - VM_STACK_SIZE <= (uintptr_t)stack_floor)
			FAULT(-E2BIG, "call stack too deep", 0, 0);
		frames[depth++] = (struct frame){ pc, run->prog, reg[6], reg[7], reg[8], reg[9], fp, may_goto_left };
		fp -= VM_STACK_SIZE;
		reg[10] = fp;
		frame_lo -= VM_STACK_SIZE;
		frame_lim += VM_STACK_SIZE;
		vm_frame_zero_below(frame_lo + VM_STACK_SIZE, vm_frame_need(run->prog, (size_t)(vm_jump_target(pc) - run->prog->insns),
									     jump == jump_trusted));
		may_goto_left = VM_MAY_GOTO_BUDGET;
		TAKE_BUDGET(); /* every call, forward ones too */
		pc = vm_jump_target(pc);
		DISPATCH();
	do_EXIT:
		if (depth == 0) {
			if (UNLIKELY(run->spin_held)) /* released by vm_interp() */
				FAULT(-EINVAL, "BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed region", 0, 0);
			if (UNLIKELY(untrusted) && run->svc->is_ptr(run, reg[0])) { /* callbacks' too, as Linux */
				vm_fault_leak(run, 0, "leaks addr as return value");
				goto fault;
			}
			run->budget = budget;
			return reg[0];
		}
		depth--;
		pc = frames[depth].ret;
		run->prog = frames[depth].prog;
		reg[6] = frames[depth].r6;
		reg[7] = frames[depth].r7;
		reg[8] = frames[depth].r8;
		reg[9] = frames[depth].r9;
		fp = frames[depth].fp;
		reg[10] = fp;
		frame_lo = fp - VM_STACK_SIZE;
		frame_lim = stack_top - frame_lo - 8;
		may_goto_left = frames[depth].may_goto_left;
		NEXT();
	do_TAIL_CALL: {
		/* bpf_tail_call(ctx, prog_array, index): on success the new program replaces the current
		 * frame's (same stack frame; from a subprogram, its exit returns to the subprogram's caller); on
		 * failure execution continues (Linux).  The run holds the target until it ends. */
		struct vm_prog *np;
		hit.run.hi = hit.run.lo;
		hit.map.hi = hit.map.lo;
		TAKE_BUDGET();
		if (UNLIKELY(run->spin_held))
			FAULT(-EINVAL, spin_call_msg, 0, 0);
		if (run->tail_calls >= VM_MAX_TAIL_CALLS)
			NEXT();
		np = run->svc->tail_call_target(run, reg[2], reg[3], NULL);
		if (UNLIKELY(run->err))
			goto fault;
		if (!np)
			NEXT();
		run->tail_calls++;
		if (UNLIKELY(np->mem_len > run->prog->mem_len)) {
			/* an UNSPEC target proven against more memory than this run's programs declared
			 * (and the runner checked): no twin of it may run, here or in its callbacks */
			run->trusted = false;
			jump = jump_checked;
		}
		run->prog = np;
		may_goto_left = VM_MAY_GOTO_BUDGET;  /* the new program's prologue resets it in Linux */
		if (UNLIKELY(untrusted)) {
			/* Linux's verifier lets the new program read r1 and r10 only, and no stack slot before
			 * writing it: so nothing of the caller's (its pointers, which the checks judge against
			 * the running program's objects) reaches it. */
			reg[0] = reg[2] = reg[3] = reg[4] = reg[5] = reg[6] = reg[7] = reg[8] = reg[9] = 0;
			vm_frame_zero(frame_lo);
		}
		pc = np->insns;
		DISPATCH();
	}

	/* ---- loads and stores ---- */
	do_LDDW: DST = K; pc++; NEXT();
	do_LDDW_HI: FAULT(-EINVAL, "executed second slot of lddw", 0, 0);
	/* Each load and store row has two handlers from one body: do_NAME checks the access (the frame by
	 * one compare, else the run's memory; untrusted runs also refuse to store an address where it could
	 * leak), and its unchecked twin do_U_NAME, which the fixup pass puts where the verifier proved
	 * [addr, addr + size) inside memory the run owns on every path (VM_PROOF_MEM) and the run is trusted
	 * (no leak checks either: vm_run_trusted()); checked builds still assert that, with the exact rule.
	 * LDX(LDXB, uint8_t, (uint64_t)) expands to
	 *   do_LDXB:   { FRAME_OFF(d_, SRC, pc->off); MEM_CHECK(d_, 1, false); LOAD(uint8_t, (uint64_t), frame_lo + d_) }
	 *   do_U_LDXB: { uintptr_t a_ = SRC + off; OWNED(a_, 1, false); LOAD(uint8_t, (uint64_t), a_) } */
#define OWNED(a_, size_, write_) \
		VM_INVARIANT(vm_stack_ok(frame_lo, stack_top, (a_), (size_)) || vm_mem_ok_slow(run, (a_), (size_), (write_)), \
			     "unchecked access outside the run's memory")
#define LOAD(T, EXT, a_)   T v_; memcpy(&v_, (const void *)(a_), sizeof(T)); DST = EXT(v_); NEXT();
#define PUT(T, VAL, a_)    T v_ = (T)(VAL); memcpy((void *)(a_), &v_, sizeof(T)); NEXT();
#define LDX(NAME, T, EXT) \
	do_##NAME: { FRAME_OFF(d_, SRC, pc->off); \
		MEM_CHECK(d_, sizeof(T), false); \
		LOAD(T, EXT, frame_lo + d_) } \
	do_U_##NAME: { uintptr_t a_ = (uintptr_t)(SRC + (uint64_t)(int64_t)pc->off); \
		OWNED(a_, sizeof(T), false); \
		LOAD(T, EXT, a_) }
	LDX(LDXB, uint8_t, (uint64_t))
	LDX(LDXH, uint16_t, (uint64_t))
	LDX(LDXW, uint32_t, (uint64_t))
	LDX(LDXDW, uint64_t, (uint64_t))
	LDX(LDXSB, uint8_t, sext8)
	LDX(LDXSH, uint16_t, sext16)
	LDX(LDXSW, uint32_t, sext32)
#undef LDX
	/* Untrusted runs: a register holding an address may be spilled to the stack, not stored (whole or
	 * in part) anywhere a caller or another run can see it (Linux: "R1 leaks addr into map"). */
#define NO_LEAK(d_, size_)
#define SRC_LEAK(d_, size_) \
		if (UNLIKELY(untrusted) && (d_) > frame_lim + 8 - (size_) && run->svc->is_ptr(run, SRC)) { \
			run->svc->store_leak(run, pc->src, frame_lo + (d_)); goto fault; }
#define STORE(NAME, T, VAL, LEAK) \
	do_##NAME: { FRAME_OFF(d_, DST, pc->off); \
		MEM_CHECK(d_, sizeof(T), true); \
		LEAK(d_, sizeof(T)) \
		PUT(T, VAL, frame_lo + d_) } \
	do_U_##NAME: { uintptr_t a_ = (uintptr_t)(DST + (uint64_t)(int64_t)pc->off); \
		OWNED(a_, sizeof(T), true); \
		PUT(T, VAL, a_) }
	STORE(STB, uint8_t, K, NO_LEAK)
	STORE(STH, uint16_t, K, NO_LEAK)
	STORE(STW, uint32_t, K, NO_LEAK)
	STORE(STDW, uint64_t, K, NO_LEAK)
	STORE(STXB, uint8_t, SRC, SRC_LEAK)
	STORE(STXH, uint16_t, SRC, SRC_LEAK)
	STORE(STXW, uint32_t, SRC, SRC_LEAK)
	STORE(STXDW, uint64_t, SRC, SRC_LEAK)
#undef STORE
#undef SRC_LEAK
#undef NO_LEAK
#undef PUT
#undef LOAD
#undef OWNED

	/* Atomics must be naturally aligned (Linux's verifier rejects misaligned ones). */
#define ATOMIC_ADDR(T) \
		uintptr_t a_ = (uintptr_t)(DST + (uint64_t)(int64_t)pc->off); \
		MEM_CHECK(a_ - frame_lo, sizeof(T), true); \
		if (UNLIKELY(in_ctx(run, a_))) FAULT(-EACCES, "BPF_ATOMIC access to the ctx is not allowed", a_, sizeof(T)); \
		if (UNLIKELY(a_ % sizeof(T))) FAULT(-EFAULT, "misaligned atomic access", a_, sizeof(T)); \
		if (UNLIKELY(untrusted) && run->svc->is_ptr(run, SRC)) { /* Linux: on the stack too */ \
			vm_fault_leak(run, pc->src, "leaks addr into mem"); goto fault; } \
		T *p_ = (T *)a_;
#define ATOMIC_RMW(NAME, T, FN) \
	do_A##NAME: { ATOMIC_ADDR(T) FN(p_, (T)SRC, __ATOMIC_SEQ_CST); NEXT(); } \
	do_AF##NAME: { ATOMIC_ADDR(T) SRC = FN(p_, (T)SRC, __ATOMIC_SEQ_CST); NEXT(); }
	ATOMIC_RMW(ADD32, uint32_t, __atomic_fetch_add)
	ATOMIC_RMW(OR32, uint32_t, __atomic_fetch_or)
	ATOMIC_RMW(AND32, uint32_t, __atomic_fetch_and)
	ATOMIC_RMW(XOR32, uint32_t, __atomic_fetch_xor)
	ATOMIC_RMW(ADD64, uint64_t, __atomic_fetch_add)
	ATOMIC_RMW(OR64, uint64_t, __atomic_fetch_or)
	ATOMIC_RMW(AND64, uint64_t, __atomic_fetch_and)
	ATOMIC_RMW(XOR64, uint64_t, __atomic_fetch_xor)
#undef ATOMIC_RMW
	do_AXCHG32: { ATOMIC_ADDR(uint32_t) SRC = __atomic_exchange_n(p_, (uint32_t)SRC, __ATOMIC_SEQ_CST); NEXT(); }
	do_AXCHG64: { ATOMIC_ADDR(uint64_t) SRC = __atomic_exchange_n(p_, SRC, __ATOMIC_SEQ_CST); NEXT(); }
	do_ACMPXCHG32: { ATOMIC_ADDR(uint32_t)
		uint32_t exp_ = (uint32_t)reg[0];
		__atomic_compare_exchange_n(p_, &exp_, (uint32_t)SRC, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		reg[0] = exp_; /* the old value, zero-extended */
		NEXT(); }
	do_ACMPXCHG64: { ATOMIC_ADDR(uint64_t)
		uint64_t exp_ = reg[0];
		__atomic_compare_exchange_n(p_, &exp_, SRC, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		reg[0] = exp_;
		NEXT(); }
#define ACQREL(SZ, T) \
	do_LDACQ_##SZ: { uintptr_t a_ = (uintptr_t)(SRC + (uint64_t)(int64_t)pc->off); \
		MEM_CHECK(a_ - frame_lo, sizeof(T), false); \
		if (UNLIKELY(in_ctx(run, a_))) FAULT(-EACCES, "BPF_ATOMIC access to the ctx is not allowed", a_, sizeof(T)); \
		if (UNLIKELY(a_ % sizeof(T))) FAULT(-EFAULT, "misaligned atomic access", a_, sizeof(T)); \
		DST = __atomic_load_n((T *)a_, __ATOMIC_ACQUIRE); NEXT(); } \
	do_STREL_##SZ: { ATOMIC_ADDR(T) __atomic_store_n(p_, (T)SRC, __ATOMIC_RELEASE); NEXT(); }
	ACQREL(B, uint8_t)
	ACQREL(H, uint16_t)
	ACQREL(W, uint32_t)
	ACQREL(DW, uint64_t)
#undef ACQREL
#undef ATOMIC_ADDR

	/* Legacy packet loads (classic BPF heritage): network byte order; out of bounds ends the program
	 * with r0 = 0, as in Linux (bpf_skb_load_helper). */
#define LDPKT(NAME, SZ, OFFEXPR) \
	do_##NAME: { int64_t o_ = (int64_t)(OFFEXPR); \
		if (o_ < 0 || (uint64_t)o_ + SZ > run->pkt_len || !run->pkt) { run->budget = budget; return 0; } \
		uint64_t v_ = ld_sized(run->pkt + o_, SZ); \
		reg[0] = SZ == 4 ? __builtin_bswap32((uint32_t)v_) : SZ == 2 ? __builtin_bswap16((uint16_t)v_) : v_; \
		NEXT(); }
	LDPKT(LDABS_W, 4, (int32_t)K)
	LDPKT(LDABS_H, 2, (int32_t)K)
	LDPKT(LDABS_B, 1, (int32_t)K)
	LDPKT(LDIND_W, 4, (int64_t)(int32_t)(uint32_t)SRC + (int32_t)K)
	LDPKT(LDIND_H, 2, (int64_t)(int32_t)(uint32_t)SRC + (int32_t)K)
	LDPKT(LDIND_B, 1, (int64_t)(int32_t)(uint32_t)SRC + (int32_t)K)
#undef LDPKT

fault:
	run->budget = budget;
	run->fault_pc = (size_t)(pc - run->prog->insns);
	run->fault_prog = run->prog;
	run->fault_fp = frame_lo + VM_STACK_SIZE;
	return 0;
#undef DST
#undef SRC
#undef K
#undef NEXT
#undef DISPATCH
#undef CHECK_STATE
#undef JUMP
#undef TAKE_BUDGET
#undef FAULT
#undef MEM_CHECK
#undef MEM_CHECK_FAST
#undef FRAME_OFF
}

uint64_t vm_interp(struct vm_run *run, uint64_t a1, uint64_t a2)
{
	uint64_t r0 = interp(run, run->prog->insns, a1, a2, 0, 0, 0, run->stack + VM_MAX_FRAMES * VM_STACK_SIZE);
	vm_run_end(run);
	return run->err ? 0 : r0;
}

uint64_t vm_call_subprog(struct vm_run *run, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
			 uint64_t a5)
{
	const struct vm_insn *base = run->prog->insns;
	const struct vm_insn *t = (const struct vm_insn *)(uintptr_t)fn;
	uint8_t *fp = (uint8_t *)(uintptr_t)run->fp;
	uint64_t saved_fp = run->fp;
	struct vm_prog *caller = run->prog; /* a callback that tail-called still returns to it */

	if (t < base || t >= base + run->prog->cnt || ((uintptr_t)t - (uintptr_t)base) % sizeof(*t)) {
		vm_fault(run, -EINVAL, "callback is not a subprogram of the program", (uintptr_t)fn, 0);
		return 0;
	}
	if (fp - VM_STACK_SIZE <= run->stack) {
		vm_fault(run, -E2BIG, "call stack too deep for callback", 0, 0);
		return 0;
	}
	/* each invocation costs a unit, so that bpf_loop & co. (nested too) end with the run's budget */
	if (!vm_budget_take(run))
		return 0;
	/* the engine that runs the caller runs its callbacks: native code calls native code */
	uint64_t r = run->native_st && run->svc->native_call ? run->svc->native_call(run, t, a1, a2, a3, a4, a5) :
		     interp(run, t, a1, a2, a3, a4, a5, fp - VM_STACK_SIZE);
	run->fp = saved_fp;
	run->prog = caller;
	return r;
}
