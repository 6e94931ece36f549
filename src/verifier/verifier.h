/* verifier.h -- static proof that a program is safe before it runs, in Linux's manner (kernel/bpf/
 * verifier.c): every path is walked with an abstract state (register types, scalar bounds, stack
 * contents, references), state pruning at jump targets, and each memory access, helper call and exit
 * checked against that state.  The caller describes the program's world (its maps, its context rules,
 * the helpers its type may call) in struct vf_env; the verifier needs nothing else and never runs the
 * program.  Messages follow Linux's wording, one "insn N: ..." line per error. */
#ifndef BPFVM_VERIFIER_H
#define BPFVM_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "../util/util.h"

/* What the verifier knows of a map the program references. */
struct vf_map {
	uint32_t type, key_size, value_size, max_entries, flags;
	uint32_t spin_lock_off, timer_off; /* UINT32_MAX: none */
	const struct vf_map *inner;        /* map-in-map: the inner template; NULL otherwise */
};

/* Register types a context load may give. */
enum vf_ctx_field {
	VF_CTX_DENY = -1,
	VF_CTX_SCALAR = 0,
	VF_CTX_PKT,
	VF_CTX_PKT_END,
	VF_CTX_PKT_META,
};

struct vf_env {
	const struct bpf_insn *insns;      /* after map relocation; lddw of maps keep src_reg */
	size_t cnt;
	uint32_t prog_type;
	bool unpriv;                       /* Linux's unprivileged rules (no pointer leaks) */
	bool gpl;
	/* The map an lddw at pc refers to (PSEUDO_MAP_FD/IDX/VALUE/IDX_VALUE), or NULL; for the value
	 * kinds, the offset into the value it points at. */
	const struct vf_map *(*map_at)(void *arg, size_t pc);
	int32_t (*map_value_off)(void *arg, size_t pc);
	/* Linux's *_is_valid_access() for the type: what a load (write = false) or store of size bytes at
	 * ctx offset off gives, or VF_CTX_DENY. */
	int (*ctx_access)(void *arg, uint32_t off, uint32_t size, bool write);
	uint32_t ctx_size;                 /* bytes of the context (accesses beyond are denied) */
	/* A plain function of (mem, len) instead (an UNSPEC program that declared its memory): r1 points
	 * to mem_size bytes any access may read or write, r2 holds their count or more; no ctx.  Such a
	 * program follows RFC 9669 where Linux refuses what the RFC defines: an imm shift count of the
	 * operand width or more (masked), callx of a helper id the walk knows as a constant. */
	bool plain_mem;
	uint32_t mem_size;
	/* Helper ids the embedder replaced with host functions (bpfvm_opts.helpers): called like kfuncs,
	 * r1-r5 whatever they hold, r0 an unknown scalar (Linux's prototype of the id says nothing of
	 * them).  NULL: none. */
	bool (*host_helper)(void *arg, uint32_t id);
	/* The embedder's prototype of its kfunc (kfunc) or host helper `id`, checked as a helper's is, or
	 * NULL (none: r1-r5 unchecked).  NULL callback: none anywhere. */
	const struct hlp_proto *(*host_proto)(void *arg, uint32_t id, bool kfunc);
	bool pkt_writable;                 /* direct packet stores allowed (XDP, tc) */
	bool ld_abs_ok;                    /* legacy LD_ABS/LD_IND allowed (socket filter, tc) */
	bool (*helper_allowed)(void *arg, uint32_t id);
	/* Linux check_return_code(): when ret_check, r0 at the main program's exit must be a scalar within
	 * [ret_lo, ret_hi] */
	bool ret_check;
	int32_t ret_lo, ret_hi;
	void *arg;
	struct diag *log;
	unsigned log_level;                /* 0: errors only; 1: also the path's last states; 2: every insn */
	/* Walk every round of a loop, as Linux does, instead of widening (verifier.c loop_of()); the
	 * levels 1 and 2 of the log do too, so that it reads as Linux's.  Verdicts are the same. */
	bool exact_loops;
	/* out */
	uint64_t insn_processed;
	uint32_t total_states, peak_states, max_states_per_insn;
	uint32_t stack_depth;              /* deepest combined stack across a call chain */
	char errmsg[560];                  /* the rejection's line ("insn 7: R0 invalid mem access ..."), also in
					    * log, where the statistics line follows it at levels 1 and 2 */
	/* Optional (NULL: not asked for): cnt bytes the caller provides, filled with VF_PROOF_* facts per
	 * insn.  Meaningful only when vf_verify() returns 0. */
	uint8_t *proof;
	/* Optional (NULL: not asked for): cnt entries the caller provides.  At the first insn of each function,
	 * the bytes below its r10 that any access on any path may touch (loads, stores, atomics, a helper's
	 * memory arguments, a callee's or callback's accesses through a pointer into the frame), so that a
	 * new frame needs zeroing only there; VF_STACK_ALL (the whole frame) where a stack address may be read
	 * by what the walk does not follow: a tail call (the next program runs in the frame), a kfunc or
	 * host function, a helper that reads a raw address (HF_RAW_READ).  0 at every other insn.
	 * Meaningful only when vf_verify() returns 0. */
	uint32_t *frame_depth;
};

/* What the walk proved of one instruction, over every path that reaches it (each fact is the AND of
 * what each visit proved; a path pruned at an insn is covered by the state that was walked on, which
 * holds every concrete state of the pruned one, so the facts stay true for it).  An insn the walk never
 * reached has none. */
#define VF_PROOF_REACHED     0x01u /* walked on some path */
#define VF_PROOF_MEM         0x02u /* a load, store or atomic: on every path the address is a pointer the
				    * walk tracked (stack, ctx field the type allows, packet below a data_end
				    * check, map value/key, ringbuf memory) and [addr, addr + size) is in bounds */
#define VF_PROOF_DIV_NONZERO 0x04u /* a div/mod (any width, signedness, K or X): the divisor (its low 32
				    * bits for the 32-bit forms) is never 0 */

#define VF_STACK_ALL 512u /* vf_env.frame_depth: the whole frame (MAX_BPF_STACK) */

#define VF_MAX_INSN_PROCESSED 1000000u  /* Linux BPF_COMPLEXITY_LIMIT_INSNS */

/* Returns 0 when the program is proven safe, else a negative errno (-EACCES for an unsafe program,
 * -EINVAL for a malformed one, -E2BIG beyond the complexity limit, -ENOMEM) with the reason in
 * env->log.  The instructions must have passed isa_validate(). */
int vf_verify(struct vf_env *env);

#endif
