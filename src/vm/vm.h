/* vm.h -- programs as the engines run them: pre-decoded instructions, the shared fixup pass, the
 * interpreter, and the per-run state (stack, memory regions a program may touch, per-CPU slot).
 * Depends on isa and util only.  Helpers, maps, program types and the instance are reached through
 * what the loader (sys) put into the program: resolved call targets in the insns (vm_fixup() asks the
 * services table), map descriptors, pointers to the instance's run limits, and struct vm_services. */
#ifndef BPFVM_VM_H
#define BPFVM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpfvm.h>

#include "../isa/isa.h"

struct bpfvm;
struct vm_run;
struct sys_obj;
struct map;
struct vm_services;

#define VM_STACK_SIZE   512u            /* per frame, as Linux's MAX_BPF_STACK */
#define VM_MAX_FRAMES   8u              /* Linux MAX_CALL_FRAMES */
#define VM_MAX_TAIL_CALLS 33u           /* Linux MAX_TAIL_CALL_CNT */
#define VM_MAX_REGIONS  16u
#define VM_MAY_GOTO_BUDGET (8u * 1024 * 1024) /* Linux BPF_MAX_LOOPS: may_goto fall-throughs per frame */
/* The run's budget is handed to the interpreter in slices of this many units; between two slices it
 * looks at the instance's interrupt flag, so a spinning program stops within one slice (well under a
 * millisecond) of bpfvm_interrupt(), at no cost on the per-jump path. */
#define VM_BUDGET_SLICE (1u << 16)

/* A helper as the engines call it: r1..r5 in, r0 out.  `run` gives the per-run state (slot, regions
 * for pointer checks); a helper that finds its arguments unsafe calls vm_fault() and returns 0. */
typedef uint64_t (*vm_helper_fn)(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				 uint64_t r5);

/* One pre-decoded instruction: 16 bytes, four per cache line.  `k` holds what the fixup pass resolved:
 * the sign-extended imm, the 64-bit lddw value or a helper function pointer. */
struct vm_insn {
	uint8_t id;     /* enum isa_id */
	uint8_t dst;
	uint8_t src;
	uint8_t size;   /* memory access bytes */
	int32_t off;    /* memory offset; for jumps and local calls the target's byte offset from this insn
			 * (vm_jump_target), <= 0 for a back-edge */
	uint64_t k;
};
_Static_assert(sizeof(struct vm_insn) == 16, "four pre-decoded insns per cache line");
_Static_assert(ISA_MAX_INSNS <= INT32_MAX / 16, "a jump's byte delta fits vm_insn.off");

/* In a helper call's vm_insn.size, beside the nonzero-size mask (bits 0-4): the run of an untrusted
 * instance checks the call's arguments for pointer leaks (vm_services.untrusted_call). */
#define VM_CALL_UNTRUSTED 0x80u
#define VM_CALL_NONZERO_MASK 0x1fu

/* Linux's verifier refuses 0 for an ARG_CONST_SIZE argument ("R4 invalid zero-sized read"): the helpers
 * behind it may then assume a buffer.  Until the verifier is enforced the engines test it at each call:
 * the loader's call resolution stores the mask (bit i for r(i+1)) in the call insn's size, and
 * vm_zero_size_reg() finds a refused register (0: none); vm_zero_size_msg() is the verifier's wording. */
static inline unsigned vm_zero_size_reg(uint8_t mask, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
					uint64_t r5)
{
	const uint64_t r[5] = { r1, r2, r3, r4, r5 };
	for (unsigned i = 0; i < 5; i++)
		if ((mask >> i & 1) && r[i] == 0)
			return i + 1;
	return 0;
}
const char *vm_zero_size_msg(unsigned reg);

/* The insn a jump or local call at `in` goes to. */
static inline const struct vm_insn *vm_jump_target(const struct vm_insn *in)
{
	return (const struct vm_insn *)(const void *)((const char *)in + in->off);
}

/* What a run region is, for fault messages ("packet+54", "ctx+16"): never shown as a host address. */
enum vm_region_kind {
	VM_REG_MEM = 0,         /* memory given to a plain run */
	VM_REG_CTX,
	VM_REG_PACKET,
	VM_REG_KEY,             /* a map key handed to a callback */
};

/* Memory a program may touch besides its stack. */
struct vm_region {
	uintptr_t lo, hi;       /* [lo, hi) */
	bool writable;
	bool write_only;        /* loads fault (BPF_F_WRONLY_PROG map values); false keeps old initialisers readable */
	uint8_t kind;           /* enum vm_region_kind (run regions; program map regions are maps) */
};

/* What loading learnt about one instruction, kept on the program for the verifier and the JIT (Linux's
 * bpf_insn_aux_data), not only patched into the code: for an lddw of a map or of a map value, which of
 * the program's maps (index into used_maps) and the offset into its value, and the pseudo source the
 * lddw was loaded with (the address patched in no longer says which it was). */
#define VM_AUX_NO_MAP UINT32_MAX
struct vm_insn_aux {
	uint32_t map_idx;       /* VM_AUX_NO_MAP: the insn refers to no map */
	uint32_t value_off;     /* PSEUDO_MAP_VALUE / PSEUDO_MAP_IDX_VALUE: offset into the value */
	uint8_t ldimm64_src;    /* an lddw's src_reg as loaded (ISA_PSEUDO_*); 0 for every other insn */
	bool subprog_start;     /* the first insn of a subprogram: 0 and every local-call or callback target */
	uint8_t proof;          /* VM_PROOF_*: what the verifier proved of the insn on every path; 0 for a
				 * program loaded without it (vm_prog.verified false) */
	uint16_t frame_depth;   /* at a subprogram's first insn of a verified program: the bytes below its r10
				 * that any access may touch, the rest of a new frame being unobservable in a
				 * trusted run (the verifier's vf_env.frame_depth; VM_STACK_SIZE: all of it) */
};

/* vm_insn_aux.proof (the verifier's VF_PROOF_*, same values).  An engine may drop a run-time check an
 * insn's proof covers, but only in a run whose memory is what the verifier assumed: the type's own
 * runner (test run, packet run) built the ctx; bpfvm_prog_run() of an XDP program over plain memory,
 * say, hands it a "ctx" whose data/data_end the program must not trust, so such runs keep the checks. */
#define VM_PROOF_REACHED     0x01u /* the verifier walked the insn (on some path) */
#define VM_PROOF_MEM         0x02u /* load/store/atomic: on every path, [addr, addr + size) lies inside
				    * memory the run owns (the stack, a ctx field the type allows, the packet
				    * below a data_end check, a map value or key, ringbuf memory) */
#define VM_PROOF_DIV_NONZERO 0x04u /* div/mod: the divisor (low 32 bits for the 32-bit forms) is never 0 */

/* What the engines may know of a map the program uses, filled by the loader (one per used_maps entry,
 * same index): its name for fault texts ("map 'stats' value+12"), and for an ARRAY map the layout of
 * its values, which the JIT needs to inline lookups.  Valid while the program lives (it holds the map). */
struct vm_map_desc {
	const char *name;
	uint8_t *values;              /* ARRAY: value i at values + i * stride; NULL for any other type */
	uint64_t stride;
	uint32_t max_entries;         /* ARRAY, PROG_ARRAY */
	const uint64_t *prog_slots;   /* PROG_ARRAY: its slot words, seq << 32 | program id (maps.h
				       * map_prog_array_get()); NULL otherwise */
	/* HASH kinds: what bpf_map_lookup_elem(map, key) returns, for the JIT to call directly where the
	 * verifier proved the map and key_size readable bytes at key (maps.h map_direct_lookup(); map is
	 * what the lddw loads); slot: the run's.  NULL otherwise. */
	void *(*lookup)(struct map *map, const void *key, unsigned slot);
	bool lookup_slot;             /* lookup reads its slot argument (a per-CPU map): others ignore it,
				       * so the JIT passes it only where it matters */
};

struct vm_prog {
	struct bpfvm *vm;             /* opaque here: only handed back to the services */
	struct vm_insn *insns;        /* owned; cnt entries (lddw keeps its second slot as LDDW_HI) */
	size_t cnt;
	struct bpf_insn *orig;        /* owned copy of what was loaded, after map relocation */
	struct vm_insn_aux *aux;      /* owned; cnt entries, filled at load (vm_prog_aux_init, relocation) */
	uint32_t *subprogs;           /* owned; first insn of each subprogram, ascending, subprogs[0] = 0 */
	size_t subprog_cnt;
	uint32_t type;                /* BPF_PROG_TYPE_* */
	uint32_t expected_attach_type;
	char name[BPF_OBJ_NAME_LEN];
	struct vm_region *map_regions; /* memory of the maps the program references (used_maps) */
	size_t map_region_cnt;
	uint32_t *used_map_ids;       /* object ids of referenced maps, each holding a reference */
	struct map **used_maps;       /* the same maps, for helpers' map-argument checks (opaque here) */
	struct vm_map_desc *map_descs; /* the same maps as the engines see them */
	size_t used_map_cnt;
	bool gpl;
	bool verified;                /* the verifier accepted it: aux[].proof holds its facts */
	bool mem_declared;            /* UNSPEC: every run gives r1 mem_len bytes or more (bpfvm_prog_opts) */
	uint32_t mem_len;
	bool trust_proofs;            /* verified, and the instance lets trusted runs skip the checks the
				       * proofs cover (bpfvm_opts.checks is not BPFVM_CHECKS_ALWAYS, the
				       * instance is not untrusted); set before vm_fixup() and the JIT */
	struct isa_line *lines;       /* sorted by insn; NULL without line info (owned) */
	size_t line_cnt;
	void *jit_fn;                 /* set by the JIT, NULL otherwise: code with every run-time check */
	void *jit_proven;             /* with trust_proofs: code for trusted runs (vm_run_trusted()), where
				       * what the proofs cover is not checked; NULL otherwise */
	size_t jit_len;
	const struct vm_services *svc; /* the instance's services (set at load; vm_exec() needs them) */
	bool jit_blind;               /* the instance's bpfvm_opts.jit_blind, for the JIT */
	/* Set by vm_fixup() from the code (zero, the safe side, for a program built otherwise): */
	bool leaf;                    /* no helper, kfunc, callx or tail call: the run cannot see its slot
				       * or the hook state, so vm_exec() claims no slot */
	uint32_t stack_unreached;     /* bytes at the bottom of the entry frame no access can touch, a
				       * multiple of 64: r10 is used only as the base of loads and stores
				       * (the deepest at r10 - (VM_STACK_SIZE - stack_unreached)) and the
				       * program is a leaf; else 0.  A run zeroes only the rest. */
	/* The instance's run limits, set at load (the instance outlives its programs), read at each run
	 * (insn_limit: bpfvm_set_insn_limit() acts on loaded programs) or budget slice (interrupted). */
	const uint64_t *insn_limit;   /* budget units per run (vm_budget_reset()); UINT64_MAX: none */
	const atomic_bool *interrupted; /* bpfvm_interrupt(): every run stops at its next budget check */
	bool untrusted;               /* the instance's bpfvm_opts.untrusted (vm_run.untrusted) */
};

/* What vm/ (and the JIT beside it) needs from the layers above, which own instances, helpers, maps
 * and program types (sys.c fills it), so that it calls them without including them: execution slots,
 * the instance's log, the references a run took, helper resolution at load, the slow paths of run-time
 * checks and calls, and the native engine.  One const table per instance kind; every member but
 * `native` and `native_call` is required.  Hot paths never come here: a helper call is one indirect call
 * through the pointer resolve_call left in the insn. */
struct vm_services {
	unsigned int (*slot_get_near)(struct bpfvm *vm, unsigned int hint);
	void (*slot_put)(struct bpfvm *vm, unsigned int slot);
	/* Writes the recorded fault (run->err != 0) to the calling thread's log on the instance. */
	void (*fault_report)(struct vm_run *run);
	/* Drops what the run took (tail-call targets, inner maps): after fault_report, which may name
	 * a program only the run holds. */
	void (*run_put)(struct vm_run *run);
	/* The JIT's entry (src/jit plugs in here): runs run->prog's native code with r1 = a1, r2 = a2 as
	 * vm_interp() would.  NULL, or a program without jit_fn: the interpreter. */
	uint64_t (*native)(struct vm_run *run, uint64_t a1, uint64_t a2);
	/* A callback (vm_call_subprog(), its checks done) while native code runs the program
	 * (vm_run.native_st set): runs the subprogram at t natively.  NULL: the interpreter. */
	uint64_t (*native_call)(struct vm_run *run, const struct vm_insn *t, uint64_t a1, uint64_t a2,
				uint64_t a3, uint64_t a4, uint64_t a5);
	/* Many runs of one leaf program on one run (captures: vm_exec_keep()).  native_keep() sets up the
	 * engine's state for run in `keep` (VM_NATIVE_KEEP_LEN bytes, 16-aligned) once, false when the
	 * program has no native code; native_rerun() then runs it with r1 = a1 as native() would, setting
	 * up only what a run changes.  NULL: the interpreter. */
	bool (*native_keep)(struct vm_run *run, void *keep);
	uint64_t (*native_rerun)(struct vm_run *run, void *keep, uint64_t a1);

	/* vm_fixup(): resolves the helper or kfunc call `in` at pc of prog into out (preset as a plain
	 * decode: id CALL or CALL_KFUNC, k = the imm).  Sets out->id (CALL: k = a vm_helper_fn and size =
	 * VM_CALL_NONZERO_MASK bits | VM_CALL_UNTRUSTED; CALL_KFUNC: k = a bpfvm_kfunc_fn; TAIL_CALL) or
	 * refuses the call: a negative errno with a located message in log. */
	int (*resolve_call)(const struct vm_prog *prog, const struct bpf_insn *in, size_t pc, struct vm_insn *out,
			    struct diag *log);
	/* callx with a helper id in a register: calls it, or faults the run (-EINVAL) for an unknown id. */
	uint64_t (*call_helper_id)(struct vm_run *run, uint64_t id, uint64_t r1, uint64_t r2, uint64_t r3,
				   uint64_t r4, uint64_t r5);
	/* bpf_tail_call(): the program in slot `index` of prog array `map_ptr`, held by the run until it
	 * ends, or NULL (the call falls through; also for a slot another instance filled).  A map_ptr that
	 * is not a prog array of the program faults the run.  *slot (when slot is not NULL) is the slot's
	 * word (vm_map_desc.prog_slots): while the slot still holds it, it still holds this program. */
	struct vm_prog *(*tail_call_target)(struct vm_run *run, uint64_t map_ptr, uint64_t index, uint64_t *slot);
	/* Memory outside the run's regions and the program's maps that it may touch (values of inner maps
	 * it obtained and holds): the last rule of vm_mem_ok_slow(). */
	bool (*mem_ok_dynamic)(const struct vm_run *run, uintptr_t addr, size_t len, bool write);
	/* A run that ends holding a bpf_spin_lock (run->spin_held): releases it and records the fault. */
	void (*spin_release)(struct vm_run *run);
	/* Untrusted runs (vm_run.untrusted): is v an address of anything the run can reach; the fault of a
	 * store of one outside the stack; the argument checks of the call insn at pc of run->prog (false
	 * with the fault recorded). */
	bool (*is_ptr)(const struct vm_run *run, uint64_t v);
	void (*store_leak)(struct vm_run *run, unsigned reg, uintptr_t addr);
	bool (*untrusted_call)(struct vm_run *run, size_t pc, const uint64_t r[5]);
};


/* References a run holds until it ends (vm_services.run_put): every program it entered by a tail call and
 * every inner map a map-in-map lookup gave it.  Another thread deleting a prog array slot or an outer
 * map's entry meanwhile drops only the array's reference, so code the run will return into and maps it
 * still uses stay alive until the run is over, as RCU keeps them in Linux.  The first
 * VM_RUN_REFS_INLINE need no allocation (a run takes at most VM_MAX_TAIL_CALLS programs). */
#define VM_RUN_REFS_INLINE 6u
struct vm_run_refs {
	uint32_t cnt;                 /* entries in use: first[], then more[] */
	uint32_t more_cap;
	struct sys_obj *first[VM_RUN_REFS_INLINE];
	struct sys_obj **more;        /* heap, NULL until needed; freed by vm_services.run_put */
};

/* State of one program invocation.  Lives on the caller's stack; nothing here is shared. */
struct vm_run {
	struct bpfvm *vm;
	struct vm_prog *prog;
	unsigned int slot;            /* execution slot = "CPU" */
	/* The instruction budget (bpfvm_set_insn_limit()): one unit per backward jump taken, per call of any
	 * kind (bpf-to-bpf, helper, kfunc, tail call) and per callback invocation.  `budget` is what is left
	 * of the current slice (the interpreter keeps it in a register and writes it back around helper
	 * calls), `budget_rest` what is left beyond it (UINT64_MAX: unlimited). */
	uint64_t budget;
	uint64_t budget_rest;
	uint32_t *spin_held;          /* the bpf_spin_lock this run holds, released when the run ends */
	int err;                      /* 0, or the negative errno that stopped the run */
	size_t fault_pc;
	const struct vm_prog *fault_prog; /* the program fault_pc is in (NULL: run->prog) */
	const char *fault_what;
	uintptr_t fault_addr;
	uint32_t fault_size;
	uintptr_t fault_fp;           /* r10 of the frame that faulted: stack addresses are shown as fp-N */
	bool fault_leak;              /* the fault is a pointer leak: "R<fault_size> <fault_what>", no address */
	bool untrusted;               /* Linux's unprivileged rules at run time (bpfvm_opts.untrusted) */
	uint32_t tail_calls;
	struct vm_run_refs refs;      /* programs and inner maps the run reached (see struct vm_run_refs) */
	const uint8_t *pkt;           /* for legacy LD_ABS/LD_IND: packet start and length */
	uint32_t pkt_len;
	void *ctx;                    /* r1 at entry */
	uint64_t arg2;                /* r2 at entry: UNSPEC's memory length; 0 for the other types */
	const struct vm_services *svc; /* prog->svc */
	void *hook;                   /* program-type state (xdp_buff, sk_buff); owned by the caller */
	void *native_st;              /* the native engine's state while it runs this run, else NULL:
				       * callbacks then run natively too (vm_services.native_call) */
	/* Host memory that bpf_probe_read*() may read besides the program's own (never loads or stores): the
	 * ranges of a host hook and those given to this run (bpfvm_hook_desc.readable, bpfvm_hook_run_ex()). */
	const struct bpfvm_mem_range *probe_mem[2];
	size_t probe_mem_cnt[2];
	struct vm_region regions[VM_MAX_REGIONS];
	unsigned int region_cnt;
	uint8_t *stack;               /* VM_MAX_FRAMES * VM_STACK_SIZE bytes */
	uint64_t fp;                  /* r10 of the frame that made the last helper call: callbacks
				       * (vm_call_subprog) go below it, helpers' stack checks use it */
	/* Set: region 0 is the program's context, and every access inside it needs ctx_ok(offset in the
	 * region) instead of the region's writable bit (the type's ctx rules, src/progtypes). */
	bool (*ctx_ok)(const struct vm_run *run, uint32_t off, uint32_t size, bool write);
	/* The runner laid out what r1 points to as the verifier assumed (the type's ctx, all ctx_size bytes
	 * of it, with packet pointers the packet's bounds; an UNSPEC program's memory of at least its
	 * declared size): insns whose proof covers their check may skip it (vm_run_trusted()).  False
	 * (vm_run_init()) for any other run, e.g. bpfvm_prog_run() of a typed program over plain memory. */
	bool trusted;
};

/* Does this run execute unchecked twins (vm_prog_trust())?  Never for an untrusted instance, whose runs
 * check pointer leaks at every store. */
static inline bool vm_run_trusted(const struct vm_run *run)
{
	return run->trusted && !run->untrusted;
}

/* The end of an engine's run: a bpf_spin_lock still held is released and the run faults. */
static inline void vm_run_end(struct vm_run *run)
{
	if (UNLIKELY(run->spin_held))
		run->svc->spin_release(run);
}

/* Starts the run's budget afresh from the instance's limit (every run, as Linux resets per program run).
 * Inline: it is a tenth of a small filter's run set-up. */
static inline void vm_budget_reset(struct vm_run *run)
{
	uint64_t limit = *run->prog->insn_limit;

	/* the limit is >= 1 (bpfvm_set_insn_limit() refuses 0), so the first slice is never empty */
	run->budget = limit < VM_BUDGET_SLICE ? limit : VM_BUDGET_SLICE;
	run->budget_rest = limit == UINT64_MAX ? UINT64_MAX : limit - run->budget;
}
/* The current slice is spent: stops the run (-EINTR if the instance was interrupted, -ELOOP if the
 * budget is exhausted, returning 0 with the fault recorded) or returns the next slice's size (>= 1). */
uint64_t vm_budget_refill(struct vm_run *run);
/* Takes one unit for a helper or a callback, outside the interpreter's loop (run->budget is current
 * there).  false with the fault recorded when the run must stop. */
bool vm_budget_take(struct vm_run *run);

/* Builds pre-decoded insns for prog from prog->orig (already validated): jump targets, lddw values, and
 * calls as prog->svc->resolve_call resolves them (helper ids to function pointers).  Shared by the
 * interpreter and the JIT.  Returns 0 or a negative errno with a located message in `log`. */
int vm_fixup(struct vm_prog *prog, struct diag *log);

/* For a program with trust_proofs: every insn whose vm_insn_aux.proof covers its run-time check (memory
 * in bounds, divisor non-zero) gets its unchecked twin's id (isa_twin_of), which trusted runs execute
 * without the check and other runs dispatch to the checked handler.  Call after every pass that reads
 * the ids as rows (the JIT: isa_row_of() gives the row of any id).  Cannot fail. */
void vm_prog_trust(struct vm_prog *prog);

/* Runs prog with r1 = a1, r2 = a2.  Returns r0; on a fault returns 0 with run->err set. */
uint64_t vm_interp(struct vm_run *run, uint64_t a1, uint64_t a2);

/* Initialises a run of prog (slot taken by the caller).  `stack` must hold VM_MAX_FRAMES*VM_STACK_SIZE. */
void vm_run_init(struct vm_run *run, struct vm_prog *prog, uint8_t *stack);
/* Lets the program access [p, p + len). Returns false when the table is full. */
bool vm_run_add_region(struct vm_run *run, const void *p, size_t len, bool writable);

/* The stack a frame may touch, as Linux's verifier allows it: from the bottom of the current frame
 * (its r10 - VM_STACK_SIZE) up to the top of the outermost frame, so that a callee can use a pointer
 * into its caller's stack, but nothing below the current frame (where its callees' frames will go).
 * Two compares, no overflow: addr - frame_lo wraps to a huge value when addr is below the frame. */
static inline bool vm_stack_ok(uintptr_t frame_lo, uintptr_t top, uintptr_t addr, size_t len)
{
	return addr - frame_lo < top - frame_lo && len <= top - addr;
}

/* A frame starts zeroed, so a program reading stack it never wrote cannot see host memory (or its own
 * previous run's); both engines use this.  Sixteen-byte stores in a loop the compiler may not turn back
 * into memset(): for 512 bytes gcc picks `rep stosq`, whose start-up cost was a third of an empty
 * program's run. */
static inline void vm_frame_zero_below(uintptr_t top, uint32_t len /* a multiple of 64 */)
{
	typedef uint64_t v2u64 __attribute__((vector_size(16), aligned(1), may_alias));
	v2u64 *p = (v2u64 *)(top - len); /* unaligned stores: nothing makes callers align their stack buffers */
	for (unsigned i = 0; i < len / sizeof(*p); i += 4) {
		p[i] = p[i + 1] = p[i + 2] = p[i + 3] = (v2u64){ 0, 0 };
		__asm__("" : : "r"(p) : "memory"); /* keeps the loop a loop of stores */
	}
}

/* The bytes below r10 a new frame of the function starting at `start` of prog must be zeroed in a run
 * whose trust is `trusted` (vm_run_trusted()): in a trusted run of a verified program, as deep as the
 * verifier saw any access reach (vm_insn_aux.frame_depth, rounded to 64); else the whole frame. */
static inline uint32_t vm_frame_need(const struct vm_prog *prog, size_t start, bool trusted)
{
	if (!trusted || !prog->verified || start >= prog->cnt)
		return VM_STACK_SIZE;
	uint32_t d = ((uint32_t)prog->aux[start].frame_depth + 63) & ~63u;
	return d < VM_STACK_SIZE ? d : VM_STACK_SIZE;
}

/* The whole frame [lo, lo + VM_STACK_SIZE). */
static inline void vm_frame_zero(uintptr_t lo)
{
	vm_frame_zero_below(lo + VM_STACK_SIZE, VM_STACK_SIZE);
}

static inline uintptr_t vm_stack_top(const struct vm_run *run)
{
	return (uintptr_t)run->stack + VM_MAX_FRAMES * VM_STACK_SIZE;
}

/* Is [addr, addr+len) memory the current run may read (write = false) or write?  For helpers: the
 * current frame is the one that made the helper call (run->fp). */
bool vm_mem_ok_slow(const struct vm_run *run, uintptr_t addr, size_t len, bool write);
static inline bool vm_mem_ok(const struct vm_run *run, uintptr_t addr, size_t len, bool write)
{
	if (vm_stack_ok(run->fp - VM_STACK_SIZE, vm_stack_top(run), addr, len))
		return true;
	return vm_mem_ok_slow(run, addr, len, write);
}

/* The program the recorded fault is in, for the report: alive until vm_services.run_put. */
static inline const struct vm_prog *vm_fault_prog(const struct vm_run *run)
{
	return run->fault_prog ? run->fault_prog : run->prog;
}

/* Records the fault of an access the checks refused, as the interpreter does: a denied ctx access is
 * -EACCES in the verifier's wording, anything else -EFAULT (for the JIT's slow paths). */
void vm_mem_fault(struct vm_run *run, uintptr_t addr, uint32_t size, bool write);
/* Records a fault (first one wins) and makes the engine stop. */
void vm_fault(struct vm_run *run, int err, const char *what, uintptr_t addr, uint32_t size);
/* Records an untrusted run's pointer leak through register `reg` (-EACCES): the log reads
 * "R<reg> <what>" as Linux's verifier says it ("R0 leaks addr as return value"), without the address. */
void vm_fault_leak(struct vm_run *run, unsigned reg, const char *what);
/* Where addr lies, as the program's author sees it: "fp-8", "packet+54", "ctx+16", "map 'stats'
 * value+12", a small scalar "addr=0x10"; never a host address.  Writes to buf, returns buf. */
const char *vm_addr_text(const struct vm_run *run, uintptr_t addr, char *buf, size_t len);
/* The recorded fault as the log shows it after "insn N: ": "invalid memory read packet+54 size=4", or
 * for a denied ctx access (-EACCES) Linux's verifier wording "invalid bpf_context access off=0 size=4". */
const char *vm_fault_text(const struct vm_run *run, char *buf, size_t len);
/* The same text in a string of its own size (free() it); NULL when out of memory. */
char *vm_fault_msg(const struct vm_run *run);

/* Starts a program invocation afresh (vm_exec() calls it before each run): the instruction budget, the
 * tail-call count, the frame pointer and the fault record.  The may_goto budget needs nothing here: it
 * lives in the engine's frame and starts at VM_MAY_GOTO_BUDGET on every entry.  Inline: a call was a
 * tenth of an empty program's run through a bpfvm_runner on the interpreter. */
static inline void vm_run_reset(struct vm_run *run)
{
	run->tail_calls = 0; /* Linux keeps the count in the entry program's frame: per invocation */
	vm_budget_reset(run);
	run->fp = vm_stack_top(run);
	run->err = 0;
	run->fault_pc = 0;
	run->fault_prog = NULL;
	run->fault_what = NULL;
	run->fault_addr = 0;
	run->fault_size = 0;
	run->fault_leak = false;
}

/* The engine choice (src/vm/exec.c): the native code when the instance's services have an engine for
 * it and the program was compiled, else the interpreter.  As vm_interp(). */
uint64_t vm_engine_run(struct vm_run *run, uint64_t a1, uint64_t a2);

/* THE engine entry: every run of a program goes through here (PROG_TEST_RUN of every type, packet and
 * capture runs, host hooks, bpfvm_prog_run()).  Runs run->prog with r1 = run->ctx, r2 = run->arg2,
 * after vm_run_reset(), with an execution slot held for the duration (run->slot; none for a leaf,
 * which cannot tell).  Returns 0 and r0 in *ret, or the negative errno of a fault (-EFAULT, -ELOOP),
 * reported once with its location in the instance log. */
int vm_exec(struct vm_run *run, uint64_t *ret);
/* vm_exec() `repeat` times (0 runs nothing; callers pass >= 1), holding the execution
 * slot across runs (given back about every millisecond), stopping at the first fault.  r0 of the last
 * run in *ret.  Each run starts with a fresh tail-call count and instruction budget, as in Linux. */
int vm_exec_repeat(struct vm_run *run, uint32_t repeat, uint64_t *ret);

/* The engine entry for many runs of one program on one run (a capture's frames), when it can be
 * lighter than vm_exec(): a leaf program (no slot, no references, no tail call) with native code, whose
 * engine state is set up once, in `keep` (the caller's, VM_NATIVE_KEEP_LEN bytes, 16-aligned, living
 * as long as run).  vm_exec_keep() says whether it can (else use vm_exec()); run's regions must stay as
 * they are then.  vm_exec_kept() is vm_exec() for such a run: r0 in *ret, or the fault's errno, reported
 * once.  A classic filter's run was ~300 host insns of which ~80 were vm_exec()'s generic set-up. */
#define VM_NATIVE_KEEP_LEN 512
bool vm_exec_keep(struct vm_run *run, void *keep);

/* How `keep` starts, whatever engine fills the rest: code that needs no run state but the run's packet
 * (the JIT's stateless code) is called as it is, with r1, r2, r10 and the run. */
typedef uint64_t (*vm_direct_fn)(uint64_t r1, uint64_t r2, uintptr_t r10, const struct vm_run *run);
struct vm_keep_head {
	vm_direct_fn direct;          /* NULL: native_rerun() */
	uintptr_t top;                /* r10 of the entry frame */
	uint32_t zero;                /* bytes below it the code may read before writing: zeroed per run */
};

/* Inline: the frame's path is a chain of calls, each of which costs more than its work. */
static inline int vm_exec_kept(struct vm_run *run, void *keep, uint64_t *ret)
{
	const struct vm_keep_head *h = keep;

	if (LIKELY(h->direct)) { /* no budget, fault, lock or slot: nothing to set up or carry back */
		if (h->zero)
			vm_frame_zero_below(h->top, h->zero);
		*ret = h->direct((uintptr_t)run->ctx, 0, h->top, run);
		return 0;
	}
	/* what exec_held() does, less what a leaf cannot need: a slot, its references (it takes none), the
	 * entry program restored (it cannot tail call), the fault record cleared (only after a fault) */
	if (UNLIKELY(run->err))
		vm_run_reset(run);
	uint64_t r0 = run->svc->native_rerun(run, keep, (uintptr_t)run->ctx);
	if (UNLIKELY(run->err)) {
		run->svc->fault_report(run);
		return run->err;
	}
	*ret = r0;
	return 0;
}

/* Calls a subprogram of the running program (bpf_loop, for_each_map_elem callbacks): fn is the value a
 * BPF_PSEUDO_FUNC lddw produced.  Returns its r0; on a fault returns 0 with run->err set. */
uint64_t vm_call_subprog(struct vm_run *run, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
			 uint64_t a5);

/* Allocates prog->aux for prog->orig (already validated) and fills what the code itself says: the
 * subprogram starts (entry, local-call and BPF_PSEUDO_FUNC targets) and prog->subprogs.  Map entries
 * are filled by the relocation of lddw.  0 or -ENOMEM. */
int vm_prog_aux_init(struct vm_prog *prog);

void vm_prog_free(struct vm_prog *prog);

#endif
