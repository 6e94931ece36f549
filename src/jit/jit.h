/* jit.h -- the x86-64 JIT: compiles a fixed-up program (vm_prog.insns) to native code that behaves
 * exactly as the interpreter (src/vm/interp.c) does, faults included (same err, same fault pc).
 * Depends on isa, vm and util; the run-time glue (jit_rt.c) reaches helpers and the instance through
 * struct vm_services, as the interpreter does.
 *
 * Until the verifier is enforced, the code carries the interpreter's run-time checks: memory accesses
 * outside the current frame's stack go through the same region rules, back-jumps and calls count the
 * instruction budget, bpf-to-bpf calls check the frame bound.  Each check is emitted by one function
 * per kind (jit_emit_*_check in x86_64.c) so that a verifier-proven instruction can skip it later. */
#ifndef BPFVM_JIT_H
#define BPFVM_JIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vm/vm.h"

/* The native code of one program (vm_prog.jit_fn points at it). */
struct jit_image {
	struct vm_prog *prog;   /* whose code this is (a frame's return restores run->prog from it) */
	uint8_t *code;          /* mmap'd, read+execute only once built (W^X); a program's two images share
				 * one mapping, which the checked one (vm_prog.jit_fn) owns */
	size_t len;             /* bytes of code */
	size_t map_len;         /* bytes mapped from code on; 0: the mapping is the other image's */
	uint32_t *off;          /* native offset of each insn (cnt + 1 entries: the last is the end) */
	size_t cnt;
	uint32_t body;          /* where a tail call enters: insn 0 (after the prologue), or for stateless
				 * code its tail entry (x86_64.c epilogue_stateless()) */
	uint32_t cb_entry;      /* offset of the callbacks' entry (jit_call_subprog()) */
	uint32_t entry_zero;    /* bytes below r10 of the entry frame the code can read before writing
				 * (the rest of the frame need not start zeroed: see frame_needs()) */
	/* The code needs no run state (no calls, back-edges, checks or faults; x86_64.c stateless_insn()):
	 * it is entered as jit_stateless_fn with r10's value, and touches nothing but its registers and the
	 * entry frame (a tail call from full code enters at `body`). */
	bool stateless;
	bool ldpkt;             /* stateless code with LD_ABS/LD_IND: it reads run->pkt and pkt_len */
	bool budget_free;       /* no code takes from the instruction budget: no back-edge, no call of
				 * any kind (a classic filter's translation) */
};
/* run: whose pkt and pkt_len LD_ABS/LD_IND read (the only field stateless code reads) */
typedef uint64_t (*jit_stateless_fn)(uint64_t r1, uint64_t r2, uintptr_t r10, const struct vm_run *run);

/* The JIT's run state: r12 points at it in native code.  Lives on jit_run()'s stack. */
struct jit_state {
	uint64_t reg[11];               /* BPF registers, spilled around calls into C */
	struct vm_run *run;
	const struct jit_image *img;    /* of run->prog (changes at tail calls) */
	uint64_t budget;                /* as the interpreter's local copy of run->budget */
	uint64_t frame_lim;             /* stack_top - frame_lo - 8, frame_lo = r10 - VM_STACK_SIZE */
	uint64_t may_goto_left;         /* of the current frame */
	uint64_t depth;                 /* bpf-to-bpf call depth */
	uint64_t stack_floor;           /* run->stack */
	uint64_t saved_rsp;             /* native stack at entry, for leaving from any depth */
	uint64_t scratch[2];
	uint64_t entry;                 /* native address a callback starts at (cb_entry jumps there) */
	/* The last program this run entered by a tail call, which the run holds until it ends: a tail call
	 * that finds the slot's word this call found there (the same store, so the same program of this
	 * instance) goes there at once (x86_64.c emit_TAIL_CALL()); any other goes through
	 * jit_g_tail_call(), which sets it. */
	struct {
		uint64_t slot;          /* the slot's word (vm_map_desc.prog_slots); 0: none yet */
		struct vm_prog *prog;
		const struct jit_image *img;
		uint64_t entry;         /* native address: img's tail entry */
	} tc;
	struct {                        /* the interpreter's region cache (interp.c), per run */
		struct vm_region run, map;
		unsigned run_idx;
	} hit;
	/* The same two cached regions as native code tests them: [lo, lo + lim) may be read (lim_r) or
	 * written (lim_w); lim 0 for a region not cached or not allowed.  jit_hit_sync() derives them. */
	struct jit_fast_region {
		uint64_t lo, lim_r, lim_w;
	} fast[2];                      /* [0]: hit.run, [1]: hit.map */
};

/* Run-time glue the native code calls (jit_rt.c): int64_t glue(st, pc) returns < 0 after recording a
 * fault at pc, 0 to go on, > 0 a value the emitted code uses (a native address). */
typedef int64_t (*jit_glue_fn)(struct jit_state *st, uint32_t pc);
#define JIT_GLUE(name_) int64_t jit_g_##name_(struct jit_state *st, uint32_t pc);
JIT_GLUE(load) JIT_GLUE(store) JIT_GLUE(store_x) JIT_GLUE(oob) JIT_GLUE(too_deep) JIT_GLUE(lddw_hi)
JIT_GLUE(call) JIT_GLUE(err) JIT_GLUE(spin_call) JIT_GLUE(callx) JIT_GLUE(tail_call) JIT_GLUE(exit)
JIT_GLUE(AADD32) JIT_GLUE(AOR32) JIT_GLUE(AAND32) JIT_GLUE(AXOR32)
JIT_GLUE(AFADD32) JIT_GLUE(AFOR32) JIT_GLUE(AFAND32) JIT_GLUE(AFXOR32) JIT_GLUE(AXCHG32) JIT_GLUE(ACMPXCHG32)
JIT_GLUE(AADD64) JIT_GLUE(AOR64) JIT_GLUE(AAND64) JIT_GLUE(AXOR64)
JIT_GLUE(AFADD64) JIT_GLUE(AFOR64) JIT_GLUE(AFAND64) JIT_GLUE(AFXOR64) JIT_GLUE(AXCHG64) JIT_GLUE(ACMPXCHG64)
JIT_GLUE(LDACQ_B) JIT_GLUE(LDACQ_H) JIT_GLUE(LDACQ_W) JIT_GLUE(LDACQ_DW)
JIT_GLUE(STREL_B) JIT_GLUE(STREL_H) JIT_GLUE(STREL_W) JIT_GLUE(STREL_DW)
#undef JIT_GLUE

/* Is there a JIT for this host? */
bool jit_available(void);

/* The executable memory of one instance (struct bpfvm holds it): code regions of freed programs, kept
 * sealed for the next compile (jit_rt.c).  jit_mem_new() returns NULL when out of memory;
 * jit_mem_free() unmaps what is kept (accepts NULL), once no program of the instance is left. */
struct jit_mem;
struct jit_mem *jit_mem_new(void);
void jit_mem_free(struct jit_mem *m);

/* Compiles prog (after vm_fixup) into memory from m (NULL: mapped for it alone) and sets
 * prog->jit_fn/jit_len, and for a program with trust_proofs prog->jit_proven.  Returns 0 or a
 * negative errno with a message in `log`.  Any thread may compile into the same m. */
int jit_compile(struct jit_mem *m, struct vm_prog *prog, struct diag *log);

/* The image a run of prog executes: the trusted one (vm_prog.jit_proven) in a trusted run, else the one
 * with every check.  Tail calls and callbacks pick theirs the same way. */
static inline const struct jit_image *jit_image_of(const struct vm_run *run, const struct vm_prog *prog)
{
	return prog->jit_proven && vm_run_trusted(run) ? prog->jit_proven : prog->jit_fn;
}

/* The bytes below r10 of the entry frame a run of img (prog's) must zero: what the code can read before
 * writing, the JIT's bound for a verified program (frame_needs()) or the fixup's for any leaf program,
 * whichever is lower (both multiples of 64). */
static inline uint32_t jit_entry_zero(const struct jit_image *img, const struct vm_prog *prog)
{
	uint32_t zero = VM_STACK_SIZE - prog->stack_unreached;

	return zero < img->entry_zero ? zero : img->entry_zero;
}

/* Frees prog's native code (accepts a program without any); its memory goes back to m, the one it
 * was compiled with, for reuse.  As munmap() would, this requires that no thread can still run it
 * (prog_release() comes after the last reference and sys_put()'s wait for borrowers). */
void jit_free(struct jit_mem *m, struct vm_prog *prog);

/* As vm_interp(): runs run->prog with r1 = a1, r2 = a2; returns r0, or 0 with run->err set. */
uint64_t jit_run(struct vm_run *run, uint64_t a1, uint64_t a2);
/* vm_services.native_keep / native_rerun (vm_exec_keep()): keep is a struct jit_state set up once for
 * run, of which a rerun resets what a run of a leaf program changes. */
bool jit_keep(struct vm_run *run, void *keep);
uint64_t jit_rerun(struct vm_run *run, void *keep, uint64_t a1);

/* A callback of the program native code is running (vm_call_subprog() after its checks, through
 * vm_services.native_call): runs the subprogram at `t` (an insn of run->prog) in a frame below run->fp,
 * as the interpreter's nested run does.  Returns its r0, or 0 with run->err set. */
uint64_t jit_call_subprog(struct vm_run *run, const struct vm_insn *t, uint64_t a1, uint64_t a2, uint64_t a3,
			  uint64_t a4, uint64_t a5);

/* Native disassembly of what the JIT emitted for insn `pc` of prog, one line per x86 instruction
 * (objdump-like).  Writes at most len bytes; returns the length needed (snprintf semantics). */
size_t jit_dump_insn(const struct vm_prog *prog, size_t pc, char *buf, size_t len);

/* Executable memory, W^X: written while read-write, then read+execute, never both.  jit_exec_alloc()
 * returns map_len >= len bytes read-write (a region m kept, or a new mapping), or NULL;
 * jit_exec_free() keeps a sealed region in m (bounded) or unmaps it. */
void *jit_exec_alloc(struct jit_mem *m, size_t len, size_t *map_len, bool *sealed);
int jit_exec_seal(void *p, size_t map_len);
/* *sealed: the region is read+execute already; jit_exec_fill() writes it without changing that (0), or
 * fails (a negative errno): then jit_exec_unseal() it, write it and jit_exec_seal() it. */
int jit_exec_fill(struct jit_mem *m, void *p, const void *src, size_t len);
int jit_exec_unseal(void *p, size_t map_len);
void jit_exec_free(struct jit_mem *m, void *p, size_t map_len);

#endif
