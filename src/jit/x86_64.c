/* x86_64.c -- the x86-64 code generator.  One emitter per insn.def row, selected through a table
 * generated from insn.def (a row without an emitter is a compile error); encodings come from
 * x86_64_enc.h only.
 *
 * Registers as Linux's x86-64 JIT: r0 = rax, r1..r5 = rdi, rsi, rdx, rcx, r8 (the SysV argument
 * registers), r6..r9 = rbx, r13, r14, r15, r10 = rbp.  r12 points at the run's jit_state, r9 holds
 * the instruction budget (jit_state.budget while C code runs); r11 and r10 are scratch.
 *
 * Layout of the code: prologue, the body (one block per insn), the cold stubs (slow paths: a memory
 * access outside the current frame, budget exhaustion, a call too deep), the fault exit, the
 * epilogue.  Emission runs in passes until every label stays where it was in the previous pass, so
 * that each jump takes its short form where it fits (jumps forward use the previous pass's label
 * positions); after too many passes every jump is emitted long.
 *
 * The interpreter's run-time checks are compiled in (memory, budget, frame bound); see jit.h. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "jit.h"
#include "x86_64_enc.h"

#define ST(field_) ((int32_t)offsetof(struct jit_state, field_))
#define ST_REG(n_) (ST(reg) + (int32_t)(8 * (n_)))

/* BPF register -> x86 register (Linux's mapping). */
static const uint8_t xreg[11] = { RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP };
#define AUX   R11  /* scratch */
#define AUX2  R10  /* scratch */
#define STATE R12
#define BUDGET R9

/* A slow path: `fn` is called (after the region cache test when `cache` says so), then the code goes on
 * at `resume`. */
enum stub_cache { STUB_NO_CACHE = 0, STUB_CACHE_READ, STUB_CACHE_WRITE };
struct stub {
	uint32_t pc;
	jit_glue_fn fn;
	size_t resume;          /* label the stub goes on at (L_RESUME of its own by default) */
	uint8_t cache;          /* enum stub_cache: a hit in the run's region cache goes on at L_RESUME */
};

struct jit {
	struct xbuf b;
	const struct vm_prog *prog;
	const struct vm_insn *insns;
	size_t cnt;
	size_t pc;              /* insn being emitted */
	/* Label offsets: lab[l] is this pass's where lab_pass[l] == pass, else the last pass's that set it
	 * (0 before any did), so that one array serves both, and the passes converge when no set_label()
	 * of a pass moved a label (`moved`). */
	uint32_t *lab;
	uint8_t *lab_pass;
	size_t nlab;
	uint32_t pass;          /* from 1 */
	bool moved;
	bool force_long;
	struct stub *stubs;     /* grown by add_stub(), with the labels past stub_base */
	size_t nstub, stub_cap;
	size_t stub_base;       /* the label of stub 0 (L_STUB) */
	bool untrusted;
	uint8_t *loop_head;     /* insns a back-edge jumps to: aligned to LOOP_ALIGN */
	uint8_t *entry;         /* insns reached other than from the one before: jump and call targets,
				 * callx targets (lddw of a function), the first */
	int32_t *zero_from;     /* per subprogram: a new frame is zeroed from r10 + zero_from up (see
				 * frame_needs()) */
	uint8_t *writes;        /* per subprogram: r6..r9 (bits 0..3) its own insns may write, which a call
				 * of it saves; 0xff: unknown, the call saves r6..r10 (frame_needs()) */
	uint8_t *frameless;     /* per subprogram: called without a frame of its own (frame_needs()) */
	bool proven;            /* verified, run only where the proof holds: stack pointers come from r10 */
	bool trust;             /* the code of trusted runs (vm_prog.jit_proven): what the verifier proved
				 * (vm_insn_aux.proof) is not checked */
	bool has_tail_call;     /* a frame may come back with another program: save and restore it */
	bool has_may_goto;      /* frames keep their own may_goto budget */
	bool counts_budget;     /* some code takes from the instruction budget (jit_image.budget_free) */
	bool has_callx;         /* the code carries the table of insn offsets */
	bool blind;             /* constant blinding (bpfvm_opts.jit_blind) */
	bool stateless;         /* the code never needs the run state (see stateless_insn()) */
	uint16_t used;          /* stateless: the registers the code names (bit n: rn); r6..r10 are saved */
	bool ldpkt;             /* stateless code with LD_ABS/LD_IND: r12 holds the struct vm_run (its pkt) */
	size_t zf_pc;           /* the insn whose code left ZF telling whether its dst is 0 (SIZE_MAX: none) */
	size_t fused;           /* an insn the one before emitted together with its own (SIZE_MAX: none) */
	bool zf_64;             /* ... of its 64-bit dst (else of the 32-bit result, zero-extended) */
	uint64_t blind_seed;    /* random per compile; every pass draws the same keys from it */
	uint64_t blind_state;
	/* Counted loops without budget checks (fast_loops()): fast_be[h] is be + 1 for the loop [h, be],
	 * 0 elsewhere.  While one is emitted, fl says how: FL_FAST (the body without checks, exits through
	 * fix_to[pc]'s fixups) or FL_CHECKED (its copy with the budget per back-edge). */
	uint32_t *fast_be;
	uint32_t *fix_to;       /* per pc in a fast body: 1 + the insn its exit jump goes to, 0 none */
	enum { FL_NONE, FL_FAST, FL_CHECKED } fl;
	size_t fl_h, fl_be;
	uint8_t *units;         /* per pc in a fast body: budget units spent in a round up to and with it */
	uint8_t *line;          /* per fast loop head: starts a 64-byte line (fast_loop_line()) */
	uint8_t *unroll;        /* per fast loop head: its body is emitted twice (fast_loop_unroll()) */
	bool copy2;             /* the second copy of an unrolled fast body is being emitted */
	bool tail;              /* a fast body's tail is being emitted at a jump to it (fast_loop_tail()) */
	/* Calls compiled in place (inline_sites()): inl[pc] is 1 + the first of the call at pc's private
	 * labels (one per callee insn, then the end: L_INL()), 0 for a call made as a call.  While one is
	 * emitted, [inl_lo, inl_hi) is the callee (SIZE_MAX: none) and inl_lab its first label. */
	uint32_t *inl;
	size_t inl_nlab;        /* labels of all sites together */
	size_t inl_lo, inl_hi, inl_lab;
};

#define LOOP_ALIGN 16

/* Labels: 0..cnt the insns (cnt = end of the body), then the eight below, then five per insn for
 * counted loops (only when fast_loops() found one), then those of the calls compiled in place (one per
 * callee insn and one more, per call: inline_sites()), then two per stub (stub_base on: the arrays grow
 * with the stubs, so that they are sized to what the program uses). */
#define L_INSN(i_)      ((size_t)(i_))
#define L_RET0(j_)      ((j_)->cnt + 1)   /* r0 = 0, then the epilogue (faults, LD_ABS past the packet) */
#define L_EPILOGUE(j_)  ((j_)->cnt + 2)
#define L_FULL_RET0(j_) ((j_)->cnt + 3)   /* stateless code with ldpkt: full code's L_RET0 */
#define L_TAIL_ENTRY(j_) ((j_)->cnt + 4)  /* stateless code: where a tail call from full code enters */
#define L_FULL_EXIT(j_) ((j_)->cnt + 5)   /* stateless code entered by a tail call: exit as full code */
#define L_TAIL_PUSH(j_) ((j_)->cnt + 6)   /* stateless code: the tail entry's saves, then the body */
#define L_CB_ENTRY(j_)  ((j_)->cnt + 7)   /* the entry of callbacks (jit_call_subprog()) */
#define L_TABLE(j_)     ((j_)->cnt + 8)   /* each insn's native offset, for callx */
#define L_FL_BASE(j_)   ((j_)->cnt + 9)
#define L_COPY(j_, i_)  (L_FL_BASE(j_) + (i_))                        /* insn i in a loop's checked copy */
#define L_FHEAD(j_, h_) (L_FL_BASE(j_) + (j_)->cnt + 1 + (h_))        /* a fast loop's head, past its entry test */
#define L_FIX(j_, i_)   (L_FL_BASE(j_) + 2 * ((j_)->cnt + 1) + (i_))  /* the budget fixup of insn i's exit */
#define L_U2(j_, i_)    (L_FL_BASE(j_) + 3 * ((j_)->cnt + 1) + (i_))  /* insn i in an unrolled body's 2nd copy */
#define L_UOUT(j_, h_)  (L_FL_BASE(j_) + 4 * ((j_)->cnt + 1) + (h_))  /* an unrolled loop's way out, 1st copy */
#define L_FL_CNT(j_)    (5 * ((j_)->cnt + 1))
#define L_INL_BASE(j_)  (L_FL_BASE(j_) + ((j_)->fast_be ? L_FL_CNT(j_) : 0))
#define L_INL(j_, pc_)  ((j_)->inl_lab + ((pc_) - (j_)->inl_lo))  /* callee insn pc in the copy emitted */
#define L_STUB(j_, k_)  ((j_)->stub_base + 2 * (k_))
#define L_RESUME(j_, k_) (L_STUB(j_, k_) + 1)

/* Each label is set at most once a pass (an lddw's second slot gets its label from its stub alone:
 * lddw_hi_stub()), so comparing with the value it replaces tells whether the pass moved it. */
static void set_label(struct jit *j, size_t l)
{
	uint32_t at = (uint32_t)j->b.len;

	if (NEVER(j->lab_pass[l] == j->pass) || j->lab[l] != at)
		j->moved = true;
	j->lab[l] = at;
	j->lab_pass[l] = (uint8_t)j->pass;
}

/* Inside a counted loop's code (fast_loops()), a jump to one of its insns goes to that insn's copy
 * (FL_CHECKED), and a jump out of the fast body goes through a fixup that settles the budget first.  A
 * callee compiled at its call has labels of its own there. */
static size_t fl_label(struct jit *j, size_t l)
{
	/* in a callee's copy at its call (inline_call()): its insns' copies, and an exit is the copy's end */
	if (l >= j->inl_lo && l < j->inl_hi)
		return isa_info[j->insns[l].id].flags & F_EXIT ? L_INL(j, j->inl_hi) : L_INL(j, l);
	if (j->fl == FL_NONE || l > j->cnt)
		return l;
	if (j->fl == FL_CHECKED)
		return l >= j->fl_h && l <= j->fl_be ? L_COPY(j, l) : l;
	if (l <= j->fl_be) /* forward: in (h, be] */
		return j->copy2 ? L_U2(j, l) : l;
	j->fix_to[j->pc] = (uint32_t)l + 1;
	return L_FIX(j, j->pc);
}

/* jmp (cc < 0) or jcc to a label: short when the (previous pass's) distance fits. */
static void jump_to(struct jit *j, int cc, size_t l)
{
	struct xbuf *b = &j->b;
	int64_t target = 0;
	bool known = false;

	l = fl_label(j, l);

	if (j->lab_pass[l] == j->pass || j->pass > 1) {
		target = j->lab[l];
		known = true;
	}
	if (known && !j->force_long) {
		int64_t rel = target - (int64_t)(b->len + 2);
		if (fits8(rel)) {
			x_byte(b, cc < 0 ? OP_JMP8 : OP_JCC8 + (unsigned)cc);
			x_byte(b, (unsigned)rel & 0xff);
			return;
		}
	}
	size_t n = cc < 0 ? 5 : 6;
	int64_t rel = known ? target - (int64_t)(b->len + n) : 0;
	if (cc < 0)
		x_byte(b, OP_JMP32);
	else
		x_opcode(b, OP_JCC32 + (unsigned)cc);
	x_imm(b, (uint32_t)(int32_t)rel, 4);
}

/* Jumps inside one insn's code: a placeholder, patched when the label is reached. */
static size_t jcc8_fwd(struct jit *j, int cc)
{
	x_byte(&j->b, cc < 0 ? OP_JMP8 : OP_JCC8 + (unsigned)cc);
	x_byte(&j->b, 0);
	return j->b.len;
}

static void patch8(struct jit *j, size_t at)
{
	int64_t rel = (int64_t)j->b.len - (int64_t)at;
	if (!fits8(rel)) {
		j->b.err = -EINVAL;
		return;
	}
	if (at - 1 < j->b.cap)
		j->b.p[at - 1] = (uint8_t)rel;
}

static size_t jcc32_fwd(struct jit *j, int cc)
{
	if (cc < 0)
		x_byte(&j->b, OP_JMP32);
	else
		x_opcode(&j->b, OP_JCC32 + (unsigned)cc);
	x_imm(&j->b, 0, 4);
	return j->b.len;
}

static void patch32(struct jit *j, size_t at)
{
	uint32_t rel = (uint32_t)(j->b.len - at);
	for (unsigned i = 0; i < 4; i++)
		if (at - 4 + i < j->b.cap)
			j->b.p[at - 4 + i] = (uint8_t)(rel >> (8 * i));
}

/* Room for stub k = nstub and its two labels (new labels start unset, at 0).  0 or -ENOMEM. */
static int stubs_grow(struct jit *j)
{
	size_t cap = j->stub_cap * 2, nlab = j->stub_base + 2 * cap;
	struct stub *s = realloc(j->stubs, cap * sizeof(*s));
	if (!s)
		return -ENOMEM;
	j->stubs = s;
	uint32_t *lab = realloc(j->lab, nlab * sizeof(*lab));
	if (!lab)
		return -ENOMEM;
	j->lab = lab;
	uint8_t *lab_pass = realloc(j->lab_pass, nlab * sizeof(*lab_pass));
	if (!lab_pass)
		return -ENOMEM;
	j->lab_pass = lab_pass;
	memset(lab + j->nlab, 0, (nlab - j->nlab) * sizeof(*lab));
	memset(lab_pass + j->nlab, 0, (nlab - j->nlab) * sizeof(*lab_pass));
	j->nlab = nlab;
	j->stub_cap = cap;
	return 0;
}

/* A new stub (the arrays hold at least one, so that stub 0 is there to name after a failure). */
static size_t add_stub(struct jit *j, jit_glue_fn fn)
{
	int err;

	if (j->nstub >= j->stub_cap && (err = stubs_grow(j))) {
		j->b.err = err;
		return 0;
	}
	j->stubs[j->nstub] = (struct stub){ (uint32_t)j->pc, fn, L_RESUME(j, j->nstub), STUB_NO_CACHE };
	return j->nstub++;
}

/* ---- small instruction helpers ---- */

static void mov_imm(struct jit *j, unsigned r, uint64_t v)
{
	if (v == 0)
		x_rr(&j->b, 0, OP_XOR_RM_R, r, r);
	else if (v <= UINT32_MAX) {
		x_oreg(&j->b, 0, OP_MOV_R_IMM, r);
		x_imm(&j->b, v, 4);
	} else if (fits32((int64_t)v)) {
		x_rr(&j->b, XW, OP_MOV_RM_IMM, 0, r);
		x_imm(&j->b, v, 4);
	} else {
		x_oreg(&j->b, XW, OP_MOV_R_IMM, r);
		x_imm(&j->b, v, 8);
	}
}

/* Constant blinding (bpfvm_opts.jit_blind, Linux's bpf_jit_blind_constants()): an immediate of the
 * program never appears in the code as such; it is loaded xor a random key and xored back.  Fixed
 * encodings, and each pass draws the same keys, so that labels settle as without blinding.  Shift counts
 * (an imm8 masked to 63) are left as they are: one byte cannot make a gadget. */
static uint32_t blind_key(struct jit *j)
{
	uint64_t x = j->blind_state;
	x ^= x << 13; /* xorshift64 */
	x ^= x >> 7;
	x ^= x << 17;
	j->blind_state = x;
	return (uint32_t)(x >> 32) | 1u;
}

/* reg = v, where v is a sign-extended 32-bit value (an insn's imm); 64-bit mov and xor with imm32 */
static void blind_mov_sext(struct jit *j, unsigned r, uint64_t v)
{
	uint32_t key = blind_key(j);
	x_rr(&j->b, XW, OP_MOV_RM_IMM, 0, r);
	x_imm(&j->b, (uint32_t)v ^ key, 4);
	x_rr(&j->b, XW, OP_GRP1_IMM32, GRP1_XOR, r);
	x_imm(&j->b, key, 4);
}

/* reg = v, any 64-bit value (lddw): movabs of v xor a 64-bit key, movabs of the key into AUX, xor (a
 * sign-extended 32-bit key would leave the upper half as it is, or only inverted) */
static void blind_mov64(struct jit *j, unsigned r, uint64_t v)
{
	uint64_t key = (uint64_t)blind_key(j) << 32 | blind_key(j);
	x_oreg(&j->b, XW, OP_MOV_R_IMM, r);
	x_imm(&j->b, v ^ key, 8);
	x_oreg(&j->b, XW, OP_MOV_R_IMM, AUX);
	x_imm(&j->b, key, 8);
	x_rr(&j->b, XW, OP_XOR_RM_R, AUX, r);
}

/* reg = v zero-extended from 32 bits (mov32 imm): the 32-bit forms zero the upper half */
static void blind_mov32(struct jit *j, unsigned r, uint32_t v)
{
	uint32_t key = blind_key(j);
	x_oreg(&j->b, 0, OP_MOV_R_IMM, r);
	x_imm(&j->b, v ^ key, 4);
	x_rr(&j->b, 0, OP_GRP1_IMM32, GRP1_XOR, r);
	x_imm(&j->b, key, 4);
}

/* op r/m, imm with the shortest immediate */
static void grp1_imm(struct jit *j, unsigned fl, unsigned ext, unsigned rm, int32_t imm)
{
	if (fits8(imm)) {
		x_rr(&j->b, fl, OP_GRP1_IMM8, ext, rm);
		x_byte(&j->b, (unsigned)imm & 0xff);
	} else {
		x_rr(&j->b, fl, OP_GRP1_IMM32, ext, rm);
		x_imm(&j->b, (uint32_t)imm, 4);
	}
}

static void grp1_imm_mem(struct jit *j, unsigned fl, unsigned ext, unsigned base, int32_t disp, int32_t imm)
{
	if (fits8(imm)) {
		x_rm(&j->b, fl, OP_GRP1_IMM8, ext, base, disp);
		x_byte(&j->b, (unsigned)imm & 0xff);
	} else {
		x_rm(&j->b, fl, OP_GRP1_IMM32, ext, base, disp);
		x_imm(&j->b, (uint32_t)imm, 4);
	}
}

static void call_abs(struct jit *j, const void *fn)
{
	mov_imm(j, AUX, (uint64_t)(uintptr_t)fn);
	x_rr(&j->b, 0, OP_GRP5, GRP5_CALL, AUX);
}

static void spill(struct jit *j, unsigned from, unsigned to)
{
	for (unsigned r = from; r <= to; r++)
		x_rm(&j->b, XW, OP_MOV_RM_R, xreg[r], STATE, ST_REG(r));
}

static void reload(struct jit *j, unsigned from, unsigned to)
{
	for (unsigned r = from; r <= to; r++)
		x_rm(&j->b, XW, OP_MOV_R_RM, xreg[r], STATE, ST_REG(r));
}

/* Calls glue(st, pc) with every register in st->reg; a fault leaves through L_RET0.  The glue's
 * result is left in AUX; the registers are reloaded (the glue may have changed them). */
static void glue_call(struct jit *j, jit_glue_fn fn, uint32_t pc)
{
	spill(j, 0, 10);
	x_rm(&j->b, XW, OP_MOV_RM_R, BUDGET, STATE, ST(budget));
	x_rr(&j->b, XW, OP_MOV_RM_R, STATE, RDI);
	mov_imm(j, RSI, pc);
	call_abs(j, (const void *)fn);
	x_rm(&j->b, XW, OP_MOV_R_RM, BUDGET, STATE, ST(budget));
	x_rr(&j->b, XW, OP_TEST_RM_R, RAX, RAX);
	jump_to(j, CC_S, L_RET0(j));
	x_rr(&j->b, XW, OP_MOV_RM_R, RAX, AUX);
	reload(j, 0, 9);
}

/* ---- run-time checks (each kind in one place, so that proven insns can skip it) ---- */

/* Budget: one unit per taken back-jump and per call of any kind, as the interpreter counts it.  r9 holds
 * what is left of the current slice; at 0 the stub gets the next slice (or faults: exhausted,
 * interrupted). */
static void budget_check(struct jit *j)
{
	if (j->fl == FL_FAST) /* paid for at the loop's entry (fast_loop_entry()) */
		return;
	j->counts_budget = true;
	x_rr(&j->b, XW, OP_GRP5, GRP5_DEC, BUDGET);
	size_t k = add_stub(j, jit_g_oob);
	jump_to(j, CC_E, L_STUB(j, k));
	set_label(j, L_RESUME(j, k));
}

/* A taken back-edge to label l: the budget, then the jump (the common case falls into it). */
static void budget_jump(struct jit *j, size_t l)
{
	j->counts_budget = true;
	x_rr(&j->b, XW, OP_GRP5, GRP5_DEC, BUDGET);
	jump_to(j, CC_NE, l);
	size_t k = add_stub(j, jit_g_oob);
	j->stubs[k].resume = l; /* with a new slice, the jump is taken */
	jump_to(j, -1, L_STUB(j, k));
	set_label(j, L_RESUME(j, k)); /* unused */
}

static bool proven(const struct jit *j, unsigned need);

/* While a bpf_spin_lock is held the only call allowed is bpf_spin_unlock.  The verifier refuses a
 * program that calls (a helper other than bpf_spin_unlock, a kfunc, a subprogram, a tail call) or exits
 * with a lock held, so a call or exit it walked needs no test in trusted code: in a trusted run the lock
 * can only be the program's own (the checked code of an unverified program faults before a tail call
 * with a lock held). */
static void spin_check(struct jit *j)
{
	if (proven(j, 0))
		return;
	x_rm(&j->b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
	grp1_imm_mem(j, XW, GRP1_CMP, AUX, (int32_t)offsetof(struct vm_run, spin_held), 0);
	size_t k = add_stub(j, jit_g_spin_call);
	jump_to(j, CC_NE, L_STUB(j, k));
	set_label(j, L_RESUME(j, k));
}

/* Memory: [base + off, + size) inside the current frame's stack inline (as MEM_CHECK_FAST's first
 * compare); anything else in the glue (regions, ctx rules, the untrusted leak rule). */
static void mem_check(struct jit *j, unsigned base, int16_t off, unsigned size, jit_glue_fn slow)
{
	/* [r10 + off, + size) inside the current frame: allowed whatever the depth, and r10 cannot change:
	 * nothing to check. */
	if (base == 10 && (int32_t)off >= -(int32_t)VM_STACK_SIZE && (int32_t)off + (int32_t)size <= 0)
		return;
	/* The interpreter's exact stack rule, d <= frame_lim + 8 - size with d = addr - frame_lo, as one
	 * compare of d + size - 8; what fails it (also d < 8 - size, which wraps) is judged exactly on the
	 * slow path. */
	x_rm(&j->b, XW, OP_LEA, AUX, xreg[base], (int32_t)off + (int32_t)VM_STACK_SIZE + (int32_t)size - 8);
	x_rr(&j->b, XW, OP_SUB_RM_R, RBP, AUX);
	x_rm(&j->b, XW, OP_CMP_R_RM, AUX, STATE, ST(frame_lim));
	size_t k = add_stub(j, slow);
	if (k < j->nstub)
		j->stubs[k].cache = slow == jit_g_load ? STUB_CACHE_READ : STUB_CACHE_WRITE;
	jump_to(j, CC_A, L_STUB(j, k));
	set_label(j, L_RESUME(j, k));
}

static int32_t frame_zero_from(const struct jit *j, size_t pc);
static uint8_t callee_writes(const struct jit *j, size_t pc);
static bool frameless_at(const struct jit *j, size_t pc);
static bool in_frameless(const struct jit *j, size_t pc);
static size_t subprog_at(const struct jit *j, size_t pc);

/* Does the code of trusted runs skip the check that the verifier's fact `need` (VM_PROOF_MEM,
 * VM_PROOF_DIV_NONZERO) about the insn being emitted makes needless? */
static bool proven(const struct jit *j, unsigned need)
{
	need |= VM_PROOF_REACHED;
	return j->trust && (j->prog->aux[j->pc].proof & need) == need;
}

/* ---- families ---- */
#define J struct jit *j, const struct vm_insn *in
#define DSTR xreg[in->dst]
#define SRCR xreg[in->src]

/* add, sub, or, and, xor: the last instruction sets ZF from dst's new value (see cmp_k()) */
static void zf_left(struct jit *j, unsigned fl)
{
	j->zf_pc = j->pc;
	j->zf_64 = fl & XW;
}
static void alu_x(J, unsigned fl, unsigned op)
{
	x_rr(&j->b, fl, op, SRCR, DSTR);
	zf_left(j, fl);
}
static void alu_k(J, unsigned fl, unsigned ext, unsigned op)
{
	if (j->blind) {
		blind_mov_sext(j, AUX, in->k);
		x_rr(&j->b, fl, op, AUX, DSTR);
	} else {
		grp1_imm(j, fl, ext, DSTR, (int32_t)in->k);
	}
	zf_left(j, fl);
}

#define ALU(NAME, OP, EXT) \
	static void emit_##NAME##64_K(J) { alu_k(j, in, XW, EXT, OP); } \
	static void emit_##NAME##64_X(J) { alu_x(j, in, XW, OP); } \
	static void emit_##NAME##32_K(J) { alu_k(j, in, 0, EXT, OP); } \
	static void emit_##NAME##32_X(J) { alu_x(j, in, 0, OP); }
ALU(ADD, OP_ADD_RM_R, GRP1_ADD)
ALU(SUB, OP_SUB_RM_R, GRP1_SUB)
ALU(OR, OP_OR_RM_R, GRP1_OR)
ALU(AND, OP_AND_RM_R, GRP1_AND)
ALU(XOR, OP_XOR_RM_R, GRP1_XOR)
#undef ALU

/* "rX *= k; rX += rY" (a polynomial hash's h = h * 31 + c), when nothing jumps to the add, for k = 2^n - 1,
 * 2^n + 1 or 2^n (n <= 3): rY - rX (or rY + rX) is computed beside the shift, so that rX waits 2 cycles
 * per round (1 for the lea) where the two insns apart take 3; the same 64-bit result.  Returns false
 * when the pair does not fit. */
static bool mul_add(J)
{
	struct xbuf *b = &j->b;
	const struct vm_insn *nx = j->pc + 1 < j->cnt ? in + 1 : NULL;
	int32_t k = (int32_t)in->k;

	/* k = 3 (5 and 9 below): mul_k()'s lea then the add wait 2 cycles for rX and 1 for rY, where the
	 * pair waits 2 for each (bench_jit's calls program adds its argument rY round after round) */
	if (!nx || nx->id != ISA_ADD64_X || nx->dst != in->dst || nx->src == in->dst || j->entry[j->pc + 1] ||
	    j->blind || k < 2 || k == 3)
		return false;
	uint32_t u = (uint32_t)k;
	unsigned d = DSTR, y = xreg[nx->src];
	if (!(u & (u - 1)) && u <= 8) { /* 2^n: rX = rY + rX * 2^n */
		x_rmi(b, XW, OP_LEA, d, y, d, (unsigned)__builtin_ctz(u), 0);
		j->fused = j->pc + 1;
		return true; /* lea leaves the flags as they were: no ZF for cmp_k() */
	}
	unsigned n;
	if (!((u + 1) & u) && (n = (unsigned)__builtin_ctz(u + 1)) < 31) { /* 2^n - 1: (rX << n) + (rY - rX) */
		x_rr(b, XW, OP_MOV_RM_R, y, AUX);
		x_rr(b, XW, OP_SUB_RM_R, d, AUX);
	} else if (u > 9 && !((u - 1) & (u - 2))) { /* 2^n + 1: (rX << n) + (rY + rX) */
		n = (unsigned)__builtin_ctz(u - 1);
		x_rmi(b, XW, OP_LEA, AUX, y, d, 0, 0);
	} else {
		return false;
	}
	x_rr(b, XW, OP_GRP2_IMM8, GRP2_SHL, d);
	x_byte(b, n);
	x_rr(b, XW, OP_ADD_RM_R, AUX, d);
	j->fused = j->pc + 1;
	j->zf_pc = j->pc + 1; /* the add's ZF, as alu_x() leaves it */
	j->zf_64 = true;
	return true;
}

static void mul_k(J, unsigned fl)
{
	if (j->blind) {
		blind_mov_sext(j, AUX, in->k);
		x_rr(&j->b, fl, OP_IMUL_R_RM, DSTR, AUX);
		return;
	}
	if ((fl & XW) && mul_add(j, in))
		return;
	/* Strength reduction, as compilers do: a multiplier 2^n, 2^n - 1 or 2^n + 1 becomes shifts and an add
	 * or subtract (1-2 cycles of latency where imul takes 3; loops that multiply by a constant, hashes
	 * above all, wait on it every round).  The same bits in every case, 32-bit forms zero-extending. */
	int32_t k = (int32_t)in->k;
	unsigned n = 0;
	if (k > 0) {
		uint32_t u = (uint32_t)k;
		if (u == 1) {
			if (!(fl & XW))
				x_rr(&j->b, 0, OP_MOV_RM_R, DSTR, DSTR);
			return;
		}
		if (!(u & (u - 1))) { /* 2^n */
			x_rr(&j->b, fl, OP_GRP2_IMM8, GRP2_SHL, DSTR);
			x_byte(&j->b, (unsigned)__builtin_ctz(u));
			return;
		}
		if (u == 3 || u == 5 || u == 9) { /* dst + dst * 2^n: one lea (the 32-bit form zero-extends) */
			x_rmi(&j->b, fl, OP_LEA, DSTR, DSTR, DSTR, (unsigned)__builtin_ctz(u - 1), 0);
			return;
		}
		if (!((u + 1) & u) && (n = (unsigned)__builtin_ctz(u + 1)) < 31) { /* 2^n - 1 */
			x_rr(&j->b, fl, OP_MOV_RM_R, DSTR, AUX);
			x_rr(&j->b, fl, OP_GRP2_IMM8, GRP2_SHL, AUX);
			x_byte(&j->b, n);
			x_rr(&j->b, fl, OP_SUB_RM_R, DSTR, AUX);
			x_rr(&j->b, fl, OP_MOV_RM_R, AUX, DSTR);
			return;
		}
		if (!((u - 1) & (u - 2))) { /* 2^n + 1 */
			x_rr(&j->b, fl, OP_MOV_RM_R, DSTR, AUX);
			x_rr(&j->b, fl, OP_GRP2_IMM8, GRP2_SHL, AUX);
			x_byte(&j->b, (unsigned)__builtin_ctz(u - 1));
			x_rr(&j->b, fl, OP_ADD_RM_R, AUX, DSTR);
			return;
		}
	}
	x_rr(&j->b, fl, OP_IMUL_IMM32, DSTR, DSTR);
	x_imm(&j->b, (uint32_t)in->k, 4);
}
static void emit_MUL64_K(J) { mul_k(j, in, XW); }
static void emit_MUL32_K(J) { mul_k(j, in, 0); }
static void emit_MUL64_X(J) { x_rr(&j->b, XW, OP_IMUL_R_RM, DSTR, SRCR); }
static void emit_MUL32_X(J) { x_rr(&j->b, 0, OP_IMUL_R_RM, DSTR, SRCR); }

/* Division and modulo with the interpreter's edge cases: by zero, div gives 0 and mod leaves dst
 * (zero-extended for 32 bits); signed by -1, div negates and mod gives 0 (x86 would trap). */
static void divmod(J, bool is64, bool is_k, bool is_signed, bool is_mod)
{
	struct xbuf *b = &j->b;
	unsigned fl = is64 ? XW : 0;
	unsigned d = DSTR;
	size_t z = 0, m1 = 0, done1 = 0, done2 = 0;
	bool nonzero = proven(j, VM_PROOF_DIV_NONZERO); /* the divisor is never 0: no test */

	if (is_k) {
		uint64_t k = is64 ? in->k : (uint32_t)in->k;
		if (k == 0) {
			if (!is_mod)
				x_rr(b, 0, OP_XOR_RM_R, d, d);
			else if (!is64)
				x_rr(b, 0, OP_MOV_RM_R, d, d);
			return;
		}
		if (is_signed && (is64 ? (int64_t)k == -1 : (int32_t)k == -1)) {
			if (is_mod)
				x_rr(b, 0, OP_XOR_RM_R, d, d);
			else
				x_rr(b, fl, OP_GRP3, GRP3_NEG, d);
			return;
		}
		if (j->blind)
			blind_mov_sext(j, AUX, in->k); /* the low 32 bits are (uint32_t)k for a 32-bit op */
		else
			mov_imm(j, AUX, k);
	} else {
		x_rr(b, fl, OP_MOV_RM_R, SRCR, AUX);
		if (!nonzero) {
			x_rr(b, fl, OP_TEST_RM_R, AUX, AUX);
			z = jcc8_fwd(j, CC_E);
		}
		if (is_signed) { /* proven non-zero or not, -1 would trap: x86 has no INT_MIN / -1 */
			grp1_imm(j, fl, GRP1_CMP, AUX, -1);
			m1 = jcc8_fwd(j, CC_E);
		}
	}
	/* on the native stack, not in the run state: no call comes between, and code that never needs the
	 * state (stateless_insn()) divides too */
	x_oreg(b, 0, OP_PUSH_R, RAX);
	x_oreg(b, 0, OP_PUSH_R, RDX);
	x_rr(b, fl, OP_MOV_RM_R, d, RAX);
	if (is_signed)
		x_oreg(b, fl, OP_CDQ, 0); /* cdq / cqo */
	else
		x_rr(b, 0, OP_XOR_RM_R, RDX, RDX);
	x_rr(b, fl, OP_GRP3, is_signed ? GRP3_IDIV : GRP3_DIV, AUX);
	x_rr(b, fl, OP_MOV_RM_R, is_mod ? RDX : RAX, AUX);
	x_oreg(b, 0, OP_POP_R, RDX);
	x_oreg(b, 0, OP_POP_R, RAX);
	x_rr(b, fl, OP_MOV_RM_R, AUX, d);
	if (is_k || (nonzero && !is_signed))
		return;
	done1 = jcc8_fwd(j, -1);
	if (!nonzero) {
		patch8(j, z);
		if (!is_mod)
			x_rr(b, 0, OP_XOR_RM_R, d, d);
		else if (!is64)
			x_rr(b, 0, OP_MOV_RM_R, d, d);
	}
	if (is_signed) {
		if (!nonzero)
			done2 = jcc8_fwd(j, -1);
		patch8(j, m1);
		if (is_mod)
			x_rr(b, 0, OP_XOR_RM_R, d, d);
		else
			x_rr(b, fl, OP_GRP3, GRP3_NEG, d);
		if (!nonzero)
			patch8(j, done2);
	}
	patch8(j, done1);
}

#define DIVMOD(NAME, SIGNED, MOD) \
	static void emit_##NAME##64_K(J) { divmod(j, in, true, true, SIGNED, MOD); } \
	static void emit_##NAME##64_X(J) { divmod(j, in, true, false, SIGNED, MOD); } \
	static void emit_##NAME##32_K(J) { divmod(j, in, false, true, SIGNED, MOD); } \
	static void emit_##NAME##32_X(J) { divmod(j, in, false, false, SIGNED, MOD); }
DIVMOD(DIV, false, false)
DIVMOD(MOD, false, true)
DIVMOD(SDIV, true, false)
DIVMOD(SMOD, true, true)
#undef DIVMOD

/* Shifts: x86 masks the count to 63/31 as RFC 9669 asks.  A 32-bit result is zero-extended with an
 * explicit mov, whatever the count. */
static void shift(J, bool is64, bool is_k, unsigned ext)
{
	struct xbuf *b = &j->b;
	unsigned fl = is64 ? XW : 0;
	unsigned d = DSTR;

	if (is_k) {
		unsigned c = (unsigned)in->k & (is64 ? 63 : 31);
		if (c) {
			x_rr(b, fl, OP_GRP2_IMM8, ext, d);
			x_byte(b, c);
		} else if (!is64) {
			x_rr(b, 0, OP_MOV_RM_R, d, d);
		}
		return;
	}
	if (SRCR == RCX) {
		x_rr(b, fl, OP_GRP2_CL, ext, d);
	} else {
		x_rr(b, XW, OP_MOV_RM_R, RCX, AUX);
		x_rr(b, XW, OP_MOV_RM_R, SRCR, RCX);
		if (d == RCX) {
			x_rr(b, fl, OP_GRP2_CL, ext, AUX);
			x_rr(b, XW, OP_MOV_RM_R, AUX, RCX);
		} else {
			x_rr(b, fl, OP_GRP2_CL, ext, d);
			x_rr(b, XW, OP_MOV_RM_R, AUX, RCX);
		}
	}
	if (!is64)
		x_rr(b, 0, OP_MOV_RM_R, d, d);
}

#define SHIFT(NAME, EXT) \
	static void emit_##NAME##64_K(J) { shift(j, in, true, true, EXT); } \
	static void emit_##NAME##64_X(J) { shift(j, in, true, false, EXT); } \
	static void emit_##NAME##32_K(J) { shift(j, in, false, true, EXT); } \
	static void emit_##NAME##32_X(J) { shift(j, in, false, false, EXT); }
SHIFT(LSH, GRP2_SHL)
SHIFT(RSH, GRP2_SHR)
SHIFT(ARSH, GRP2_SAR)
#undef SHIFT

static void emit_NEG64(J) { x_rr(&j->b, XW, OP_GRP3, GRP3_NEG, DSTR); }
static void emit_NEG32(J) { x_rr(&j->b, 0, OP_GRP3, GRP3_NEG, DSTR); }
static void emit_MOV64_K(J)
{
	if (j->blind)
		blind_mov_sext(j, DSTR, in->k);
	else
		mov_imm(j, DSTR, in->k);
}
static void emit_MOV32_K(J)
{
	if (j->blind)
		blind_mov32(j, DSTR, (uint32_t)in->k);
	else
		mov_imm(j, DSTR, (uint32_t)in->k);
}
/* "rX = rY; rX += imm" (pointer arithmetic: r2 = r10; r2 += -16) is one lea, when nothing jumps to the
 * add: the add then emits nothing (one_pass() skips it). */
static void emit_MOV64_X(J)
{
	const struct vm_insn *nx = j->pc + 1 < j->cnt ? in + 1 : NULL;

	if (nx && nx->id == ISA_ADD64_K && nx->dst == in->dst && !j->entry[j->pc + 1] && !j->blind &&
	    in->dst != in->src) {
		x_rm(&j->b, XW, OP_LEA, DSTR, SRCR, (int32_t)nx->k);
		j->fused = j->pc + 1;
		return;
	}
	if (in->dst != in->src)
		x_rr(&j->b, XW, OP_MOV_RM_R, SRCR, DSTR);
}
static void emit_MOV32_X(J) { x_rr(&j->b, 0, OP_MOV_RM_R, SRCR, DSTR); }
static void emit_MOVSX864(J) { x_rr(&j->b, XW | XB8M, OP_MOVSX8, DSTR, SRCR); }
static void emit_MOVSX1664(J) { x_rr(&j->b, XW, OP_MOVSX16, DSTR, SRCR); }
static void emit_MOVSX3264(J) { x_rr(&j->b, XW, OP_MOVSXD, DSTR, SRCR); }
static void emit_MOVSX832(J) { x_rr(&j->b, XB8M, OP_MOVSX8, DSTR, SRCR); }
static void emit_MOVSX1632(J) { x_rr(&j->b, 0, OP_MOVSX16, DSTR, SRCR); }

/* Byte order on a little-endian host: "le" truncates, "be"/bswap swap (and truncate). */
static void emit_LE16(J) { x_rr(&j->b, 0, OP_MOVZX16, DSTR, DSTR); }
static void emit_LE32(J) { x_rr(&j->b, 0, OP_MOV_RM_R, DSTR, DSTR); }
static void emit_LE64(J) { (void)j; (void)in; }
static void emit_BE16(J)
{
	const struct vm_insn *pv = j->pc > 0 ? in - 1 : NULL;

	x_rr(&j->b, X16, OP_GRP2_IMM8, GRP2_ROR, DSTR);
	x_byte(&j->b, 8);
	/* right after "rX = *(u16 *)..." (nothing jumping between), rX's bits 16..63 are 0 already and the
	 * 16-bit rotate keeps them: a packet field's load and byte swap is two instructions */
	if (pv && pv->id == ISA_LDXH && pv->dst == in->dst && !j->entry[j->pc] && j->fused != j->pc - 1)
		return;
	x_rr(&j->b, 0, OP_MOVZX16, DSTR, DSTR);
}
static void emit_BE32(J) { x_oreg(&j->b, 0, OP_BSWAP, DSTR); }
static void emit_BE64(J) { x_oreg(&j->b, XW, OP_BSWAP, DSTR); }
static void emit_BSWAP16(J) { emit_BE16(j, in); }
static void emit_BSWAP32(J) { emit_BE32(j, in); }
static void emit_BSWAP64(J) { emit_BE64(j, in); }

/* ---- jumps ---- */
static void fast_loop_out(struct jit *j, size_t pc);
static bool fast_loop_tail(struct jit *j, size_t t);
static bool odd_entry(const struct jit *j, size_t h);
typedef void (*emit_fn)(struct jit *j, const struct vm_insn *in);
static const emit_fn emit_tab[ISA_COUNT];

static size_t insn_target(size_t pc, const struct vm_insn *in)
{
	return pc + (size_t)((int64_t)in->off / (int64_t)sizeof(struct vm_insn));
}
static size_t target_pc(const struct jit *j, const struct vm_insn *in) { return insn_target(j->pc, in); }

/* Taken branch with condition cc (cc < 0: always): a back-edge counts the budget first. */
static void branch(J, int cc)
{
	size_t t = target_pc(j, in);

	if (cc < 0 && in->off > 0 && fast_loop_tail(j, t))
		return;
	if (in->off > 0) {
		if (cc >= 0 || t != j->pc + 1)
			jump_to(j, cc, L_INSN(t));
		return;
	}
	if (j->fl == FL_FAST && j->pc == j->fl_be) { /* the fast loop's back-edge: its entry paid for it */
		bool first = j->unroll[j->fl_h] && !j->copy2; /* of an unrolled body's two copies */
		bool stays = first && odd_entry(j, j->fl_h);   /* rX odd here: the loop goes on */
		if (j->tail) { /* a copy of the tail: on to the head of the next copy, or out */
			jump_to(j, stays ? -1 : cc, first ? L_U2(j, t) : L_FHEAD(j, t));
			if (!stays)
				jump_to(j, -1, L_UOUT(j, t));
			return;
		}
		if (first) { /* the second copy follows (fast_loop_unroll()) */
			if (!stays)
				jump_to(j, CC_INVERT(cc), L_UOUT(j, t));
			return;
		}
		jump_to(j, cc, L_FHEAD(j, t));
		set_label(j, L_UOUT(j, t));
		fast_loop_out(j, (size_t)-1);
		return;
	}
	size_t skip = cc >= 0 ? jcc8_fwd(j, CC_INVERT(cc)) : 0;
	budget_jump(j, L_INSN(t));
	if (cc >= 0)
		patch8(j, skip);
}

/* In a fast body (fast_loops()), a jump to its tail [t, be] of at most TAIL_MAX insns with no jump
 * (but the back-edge), call or lddw is a copy of the tail (tail duplication, as compilers do): a round of bench_jit's switch
 * program ("goto next" at the end of each case, next: the step and the back-edge) then takes a taken
 * branch fewer.  The copy has no labels (nothing else jumps into it); its back-edge goes to the head of
 * the copy that runs next (branch()).  Returns false where it does not apply. */
#define TAIL_MAX 4
static bool fast_loop_tail(struct jit *j, size_t t)
{
	size_t at = j->pc, be = j->fl_be;

	if (j->fl != FL_FAST || j->tail || t > be || be - t >= TAIL_MAX)
		return false;
	for (size_t pc = t; pc < be; pc++) { /* no labels or stubs of its own: no jump, call or lookup's lddw */
		int id = j->insns[pc].id;
		if (isa_has_target(id) || (isa_info[id].flags & F_CALL) || isa_info[id].fmt == FMT_LDDW || id == ISA_LDDW_HI)
			return false;
	}
	j->tail = true;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
	for (j->pc = t; j->pc <= be; j->pc++)
		if (j->fused != j->pc)
			emit_tab[j->insns[j->pc].id](j, &j->insns[j->pc]);
	j->tail = false;
	j->pc = at;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
	return true;
}

static void emit_JA(J) { branch(j, in, -1); }
static void emit_JA32(J) { branch(j, in, -1); }

static void emit_MAY_GOTO(J)
{
	/* taken once the frame's budget is spent; otherwise count one down */
	grp1_imm_mem(j, XW, GRP1_CMP, STATE, ST(may_goto_left), 0);
	branch(j, in, CC_E);
	x_rm(&j->b, XW, OP_GRP5, GRP5_DEC, STATE, ST(may_goto_left));
}

/* against 0, test sets the flags cmp would (CF = OF = 0), in fewer bytes; for == 0 and != 0 right after
 * an add/sub/and/or/xor of the same register (and nothing jumps in between), that insn's ZF already
 * says it: no instruction at all ("r1 += -1; if r1 != 0 goto loop" is add + jne).  A 64-bit compare
 * takes a 32-bit op's ZF too (the upper half is zero), a 32-bit compare only a 32-bit op's. */
static void cmp_k(J, unsigned fl, int cc)
{
	if ((int32_t)in->k == 0 && (cc == CC_E || cc == CC_NE) && j->pc > 0 && j->zf_pc == j->pc - 1 &&
	    !j->entry[j->pc] && j->insns[j->pc - 1].dst == in->dst && ((fl & XW) || !j->zf_64))
		return;
	if (j->blind && (int32_t)in->k != 0) {
		blind_mov_sext(j, AUX, in->k);
		x_rr(&j->b, fl, OP_CMP_RM_R, AUX, DSTR);
	} else if ((int32_t)in->k == 0)
		x_rr(&j->b, fl, OP_TEST_RM_R, DSTR, DSTR);
	else
		grp1_imm(j, fl, GRP1_CMP, DSTR, (int32_t)in->k);
}
static void cmp_x(J, unsigned fl) { x_rr(&j->b, fl, OP_CMP_RM_R, SRCR, DSTR); }

#define COND(NAME, CC) \
	static void emit_##NAME##_K(J) { cmp_k(j, in, XW, CC); branch(j, in, CC); } \
	static void emit_##NAME##_X(J) { cmp_x(j, in, XW); branch(j, in, CC); } \
	static void emit_##NAME##32_K(J) { cmp_k(j, in, 0, CC); branch(j, in, CC); } \
	static void emit_##NAME##32_X(J) { cmp_x(j, in, 0); branch(j, in, CC); }
COND(JEQ, CC_E)
COND(JNE, CC_NE)
COND(JGT, CC_A)
COND(JGE, CC_AE)
COND(JLT, CC_B)
COND(JLE, CC_BE)
COND(JSGT, CC_G)
COND(JSGE, CC_GE)
COND(JSLT, CC_L)
COND(JSLE, CC_LE)
#undef COND

static void test_k(J, unsigned fl)
{
	if (j->blind) {
		blind_mov_sext(j, AUX, in->k);
		x_rr(&j->b, fl, OP_TEST_RM_R, AUX, DSTR);
		return;
	}
	x_rr(&j->b, fl, OP_GRP3, GRP3_TEST, DSTR);
	x_imm(&j->b, (uint32_t)in->k, 4);
}
static void emit_JSET_K(J) { test_k(j, in, XW); branch(j, in, CC_NE); }
static void emit_JSET_X(J) { x_rr(&j->b, XW, OP_TEST_RM_R, SRCR, DSTR); branch(j, in, CC_NE); }
static void emit_JSET32_K(J) { test_k(j, in, 0); branch(j, in, CC_NE); }
static void emit_JSET32_X(J) { x_rr(&j->b, 0, OP_TEST_RM_R, SRCR, DSTR); branch(j, in, CC_NE); }

/* ---- calls ---- */
/* The map of a bpf_map_lookup_elem call at pc whose r1 the insn before loads (an lddw of the program's
 * map that nothing jumps between), or NULL.  The verifier need not have proved anything: the lddw names
 * the map. */
static const struct vm_map_desc *lookup_map(const struct jit *j, size_t pc)
{
	const struct vm_prog *prog = j->prog;

	/* a CALL insn's imm is the Linux helper id (an embedder's helper of that id is a CALL_KFUNC) */
	if (j->insns[pc].id != ISA_CALL || prog->orig[pc].imm != BPF_FUNC_map_lookup_elem || j->insns[pc].size ||
	    pc < 2 || j->entry[pc] || j->entry[pc - 1] || j->insns[pc - 2].id != ISA_LDDW ||
	    j->insns[pc - 2].dst != 1 || !isa_pseudo_is_map(prog->orig[pc - 2].src_reg) ||
	    isa_pseudo_is_value(prog->orig[pc - 2].src_reg) || prog->aux[pc - 2].map_idx >= prog->used_map_cnt)
		return NULL;
	return &prog->map_descs[prog->aux[pc - 2].map_idx]; /* the loader's descriptor of the lddw's map */
}

/* lookup_map()'s map when it is an ARRAY whose lookup is inlined, or NULL */
static const struct vm_map_desc *lookup_array_map(const struct jit *j, size_t pc)
{
	const struct vm_map_desc *d = lookup_map(j, pc);

	if (!d || !d->values || !fits32((int64_t)d->stride) || d->max_entries > INT32_MAX)
		return NULL;
	return d;
}

/* Trusted code of a lookup the verifier walked (lookup_array_map()): r2 points at the 4-byte key
 * wherever it lives (the verifier proved it readable), and r1..r5 are dead after the call, so the
 * helper's answer is computed in place, as Linux's array_map_gen_lookup(), with no call at all (and the
 * lddw of the map emits nothing: lddw_feeds_lookup()).  r0 = values + key * stride, or 0 for a key
 * past max_entries. */
static bool array_lookup_proven(struct jit *j)
{
	struct xbuf *b = &j->b;
	const struct vm_map_desc *d = proven(j, 0) ? lookup_array_map(j, j->pc) : NULL;

	if (!d)
		return false;
	x_rm(b, 0, OP_MOV_R_RM, AUX, xreg[2], 0);
	x_rr(b, 0, OP_XOR_RM_R, RAX, RAX);
	x_rr(b, 0, OP_GRP1_IMM32, GRP1_CMP, AUX);
	x_imm(b, d->max_entries, 4);
	/* "if r0 == 0 goto X" or "if r0 != 0 goto X" next (nothing jumping to it) is taken here, where the
	 * answer is known: the test goes (a value's address is never 0; a null r0 is 0 at X too) */
	const struct vm_insn *nx = j->pc + 1 < j->cnt ? &j->insns[j->pc + 1] : NULL;
	bool fuse = nx && (nx->id == ISA_JEQ_K || nx->id == ISA_JNE_K) && nx->dst == 0 && nx->k == 0 &&
		    nx->off > 0 && !j->entry[j->pc + 1];
	size_t out = 0, x = fuse ? L_INSN(target_pc(j, nx) + 1) : 0;
	if (fuse)
		j->fused = j->pc + 1;
	if (fuse && nx->id == ISA_JEQ_K)
		jump_to(j, CC_AE, x);
	else
		out = jcc8_fwd(j, CC_AE);
	uint64_t stride = d->stride;
	unsigned scale = stride == 1 ? 0 : stride == 2 ? 1 : stride == 4 ? 2 : stride == 8 ? 3 : 4;
	mov_imm(j, RAX, (uint64_t)(uintptr_t)d->values);
	if (scale > 3) {
		x_rr(b, XW, OP_IMUL_IMM32, AUX, AUX);
		x_imm(b, (uint32_t)stride, 4);
		scale = 0;
	}
	x_rmi(b, XW, OP_LEA, RAX, RAX, AUX, scale, 0);
	if (fuse && nx->id == ISA_JNE_K)
		jump_to(j, -1, x);
	if (out)
		patch8(j, out);
	return true;
}

/* Trusted code of a lookup the verifier walked (lookup_map()) in a map with a lookup of its own
 * (vm_map_desc.lookup: the hash kinds): r1 holds the map the lddw loaded and r2 the key, proven
 * readable, so the map's lookup is called with them and the run's slot, as Linux's JIT calls
 * __htab_map_lookup_elem() where its verifier's map_gen_lookup() put it: no helper dispatch, no checks
 * of the arguments, no fault to look for after (the lookup records none), the region cache kept (it
 * changes no region).  r1..r5 are dead after the call (the verifier marks them clobbered); C keeps
 * neither r9's budget nor r10/r11.  A map that is not per-CPU ignores the slot: rdx is left as it is. */
static const struct vm_map_desc *direct_lookup_map(const struct jit *j, size_t pc)
{
	const struct vm_map_desc *d = lookup_map(j, pc);

	return d && d->lookup && j->trust && (j->prog->aux[pc].proof & VM_PROOF_REACHED) ? d : NULL;
}
static bool direct_lookup_proven(struct jit *j)
{
	struct xbuf *b = &j->b;
	const struct vm_map_desc *d = direct_lookup_map(j, j->pc);

	if (!d)
		return false;
	x_rm(b, XW, OP_MOV_RM_R, BUDGET, STATE, ST(budget));
	if (d->lookup_slot) {
		x_rm(b, XW, OP_MOV_R_RM, RDX, STATE, ST(run));
		x_rm(b, 0, OP_MOV_R_RM, RDX, RDX, (int32_t)offsetof(struct vm_run, slot));
	}
	call_abs(j, (const void *)(uintptr_t)d->lookup);
	x_rm(b, XW, OP_MOV_R_RM, BUDGET, STATE, ST(budget));
	return true;
}

/* Is the lddw being emitted only the map argument of a lookup array_lookup_proven() computes in place? */
static bool lddw_feeds_lookup(const struct jit *j)
{
	return j->trust && j->pc + 2 < j->cnt && (j->prog->aux[j->pc + 2].proof & VM_PROOF_REACHED) &&
	       lookup_array_map(j, j->pc + 2);
}

/* Is the lddw being emitted the map argument of a lookup direct_lookup_proven() calls the map for? */
static bool lddw_feeds_direct(const struct jit *j)
{
	return j->pc + 2 < j->cnt && direct_lookup_map(j, j->pc + 2);
}

/* bpf_map_lookup_elem on an ARRAY map (lookup_array_map()) in code with checks: with the key in the
 * current stack frame, the helper's answer computed here (value address, or 0 past max_entries), as
 * Linux inlines it; else the call.  Returns the placeholders of the two jumps over the call (the result
 * and *done2: the null result), to patch after it, or 0 when nothing was inlined. */
static size_t inline_array_lookup(struct jit *j, const struct vm_insn *in, size_t *done2)
{
	struct xbuf *b = &j->b;
	const struct vm_map_desc *d = lookup_array_map(j, (size_t)(in - j->insns));

	if (!d)
		return 0;
	uint8_t *base = d->values;
	uint64_t stride = d->stride;
	uint32_t max = d->max_entries;
	/* the key (4 bytes at r2) in the current frame: as mem_check's inline test */
	x_rm(b, XW, OP_LEA, AUX, xreg[2], (int32_t)VM_STACK_SIZE + 4 - 8);
	x_rr(b, XW, OP_SUB_RM_R, RBP, AUX);
	x_rm(b, XW, OP_CMP_R_RM, AUX, STATE, ST(frame_lim));
	size_t slow = jcc32_fwd(j, CC_A);
	x_rm(b, 0, OP_MOV_R_RM, RAX, xreg[2], 0);
	x_rr(b, 0, OP_GRP1_IMM32, GRP1_CMP, RAX);
	x_imm(b, max, 4);
	size_t null = jcc8_fwd(j, CC_AE);
	x_rr(b, XW, OP_IMUL_IMM32, RAX, RAX);
	x_imm(b, (uint32_t)stride, 4);
	mov_imm(j, AUX, (uint64_t)(uintptr_t)base);
	x_rr(b, XW, OP_ADD_RM_R, AUX, RAX);
	size_t done = jcc32_fwd(j, -1);
	patch8(j, null);
	x_rr(b, 0, OP_XOR_RM_R, RAX, RAX);
	*done2 = jcc32_fwd(j, -1);
	patch32(j, slow);
	return done;
}

/* A helper: a direct call with run prepended to r1..r5 (vm_helper_fn), as the interpreter's do_CALL
 * does it: the run sees the frame and budget, r1..r5 keep their values, the packet may have moved
 * (the run region cache is dropped), a fault the helper recorded stops the program here.  Calls whose
 * arguments need checks first (zero sizes, untrusted runs) go through the glue. */
static void emit_CALL(J)
{
	struct xbuf *b = &j->b;

	budget_check(j);
	if (j->prog->orig[j->pc].imm != BPF_FUNC_spin_unlock) /* the Linux helper id, as in the interpreter */
		spin_check(j);
	if (in->size) {
		glue_call(j, jit_g_call, (uint32_t)j->pc);
		return;
	}
	if (array_lookup_proven(j) || direct_lookup_proven(j))
		return;
	size_t done2 = 0, done = inline_array_lookup(j, in, &done2);
	/* r1..r5 keep their values across the call, as in the interpreter; a verified program cannot read
	 * them after it (the verifier marks them clobbered, as Linux's), so its trusted code lets them go */
	bool keep = !j->trust;
	if (keep)
		spill(j, 1, 5);
	x_rm(b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
	x_rm(b, XW, OP_MOV_RM_R, RBP, AUX, (int32_t)offsetof(struct vm_run, fp));
	x_rm(b, XW, OP_MOV_RM_R, BUDGET, AUX, (int32_t)offsetof(struct vm_run, budget));
	x_rr(b, XW, OP_MOV_RM_R, R8, R9);
	x_rr(b, XW, OP_MOV_RM_R, RCX, R8);
	x_rr(b, XW, OP_MOV_RM_R, RDX, RCX);
	x_rr(b, XW, OP_MOV_RM_R, RSI, RDX);
	x_rr(b, XW, OP_MOV_RM_R, RDI, RSI);
	x_rr(b, XW, OP_MOV_RM_R, AUX, RDI);
	call_abs(j, (const void *)(uintptr_t)in->k);
	x_rm(b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
	x_rm(b, XW, OP_MOV_R_RM, BUDGET, AUX, (int32_t)offsetof(struct vm_run, budget));
	x_rm(b, XW, OP_MOV_R_RM, AUX2, STATE, ST(hit.run.lo));
	x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(hit.run.hi));
	x_rr(b, 0, OP_XOR_RM_R, AUX2, AUX2);
	x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[0].lim_r));
	x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[0].lim_w));
	if (keep)
		reload(j, 1, 5);
	grp1_imm_mem(j, 0, GRP1_CMP, AUX, (int32_t)offsetof(struct vm_run, err), 0);
	size_t k = add_stub(j, jit_g_err);
	jump_to(j, CC_NE, L_STUB(j, k));
	set_label(j, L_RESUME(j, k));
	if (done) {
		patch32(j, done);
		patch32(j, done2);
	}
}

static void emit_CALL_KFUNC(J)
{
	/* r1..r5 are the SysV argument registers already; they keep their values, as in the interpreter */
	budget_check(j);
	spin_check(j);
	if (!j->trust) /* as emit_CALL */
		spill(j, 1, 5);
	x_rm(&j->b, XW, OP_MOV_RM_R, BUDGET, STATE, ST(budget));
	call_abs(j, (const void *)(uintptr_t)in->k);
	x_rm(&j->b, XW, OP_MOV_R_RM, BUDGET, STATE, ST(budget));
	if (!j->trust)
		reload(j, 1, 5);
}

/* The frame of a bpf-to-bpf call, pushed on the native stack with the return address (7 pushes + the
 * call = 64 bytes, so the native stack stays 16-byte aligned for calls into C).  `target` < 0: call
 * the address in AUX. */
static void local_call(struct jit *j, const struct vm_insn *in, bool indirect)
{
	struct xbuf *b = &j->b;
	static const uint8_t saved[] = { RBX, R13, R14, R15, RBP };
	/* may_goto's budget is per frame; a tail call in a subprogram changes the program (and starts a
	 * budget of its own) */
	bool keep_may_goto = j->has_may_goto || j->has_tail_call;
	int32_t zero_from = indirect ? -(int32_t)VM_STACK_SIZE : frame_zero_from(j, target_pc(j, in));
	/* r6..r9 the callee may change, and r10 unless it is known to come back as it went (callee_writes()):
	 * a call of a function that writes none of r6..r9 (as Linux's JIT, whose callee saves only what it
	 * uses) pushes nothing of them */
	uint8_t w = indirect ? 0xff : callee_writes(j, target_pc(j, in));
	unsigned pushes = keep_may_goto + j->has_tail_call;

	for (size_t i = 0; i < sizeof(saved); i++)
		if (w & (1u << i)) {
			x_oreg(b, 0, OP_PUSH_R, saved[i]);
			pushes++;
		}
	if (keep_may_goto)
		x_rm(b, 0, OP_GRP5, GRP5_PUSH, STATE, ST(may_goto_left));
	/* the caller's program: a subprogram may tail-call, and the new program's exit returns here */
	if (j->has_tail_call)
		x_rm(b, 0, OP_GRP5, GRP5_PUSH, STATE, ST(img));
	/* the pushes + the call's return address: the native stack must be 16-byte aligned in the callee
	 * for its calls into C */
	bool pad = !(pushes & 1);
	if (pad)
		grp1_imm(j, XW, GRP1_SUB, RSP, 8);
	grp1_imm(j, XW, GRP1_SUB, RBP, VM_STACK_SIZE);
	grp1_imm_mem(j, XW, GRP1_ADD, STATE, ST(frame_lim), VM_STACK_SIZE);
	x_rm(b, XW, OP_GRP5, GRP5_INC, STATE, ST(depth));
	/* a frame starts zeroed: the part of it the callee can read (frame_needs()) */
	if (zero_from < 0) {
		x_rr(b, 0, OP_XORPS, 0, 0);
		if (zero_from >= -64) {
			for (int32_t o = zero_from; o < 0; o += 16)
				x_rm(b, 0, OP_MOVUPS_ST, 0, RBP, o);
		} else {
			x_rm(b, XW, OP_LEA, AUX2, RBP, zero_from);
			size_t loop = b->len;
			x_rm(b, 0, OP_MOVUPS_ST, 0, AUX2, 0);
			x_rm(b, 0, OP_MOVUPS_ST, 0, AUX2, 16);
			grp1_imm(j, XW, GRP1_ADD, AUX2, 32);
			x_rr(b, XW, OP_CMP_RM_R, RBP, AUX2);
			x_byte(b, OP_JCC8 + CC_NE);
			x_byte(b, (unsigned)(loop - (b->len + 1)) & 0xff);
		}
	}
	if (keep_may_goto) {
		x_rm(b, XW, OP_MOV_RM_IMM, 0, STATE, ST(may_goto_left));
		x_imm(b, VM_MAY_GOTO_BUDGET, 4);
	}
	if (indirect) {
		x_rr(b, 0, OP_GRP5, GRP5_CALL, AUX);
	} else {
		budget_check(j); /* every call, forward ones too */
		size_t t = target_pc(j, in);
		int64_t target = j->lab[t];
		x_byte(b, OP_CALL32);
		x_imm(b, (uint32_t)(int32_t)(target - (int64_t)(b->len + 4)), 4);
	}
	x_rm(b, XW, OP_GRP5, GRP5_DEC, STATE, ST(depth));
	grp1_imm_mem(j, XW, GRP1_SUB, STATE, ST(frame_lim), VM_STACK_SIZE);
	if (pad)
		grp1_imm(j, XW, GRP1_ADD, RSP, 8);
	if (j->has_tail_call) {
		x_oreg(b, 0, OP_POP_R, AUX2);
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(img));
		x_rm(b, XW, OP_MOV_R_RM, AUX2, AUX2, (int32_t)offsetof(struct jit_image, prog));
		x_rm(b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, AUX, (int32_t)offsetof(struct vm_run, prog));
	}
	if (keep_may_goto)
		x_rm(b, 0, OP_POP_RM, 0, STATE, ST(may_goto_left));
	for (size_t i = sizeof(saved); i-- > 0;)
		if (w & (1u << i))
			x_oreg(b, 0, OP_POP_R, saved[i]);
	if (!(w & 1u << 4)) /* the callee's frame, below ours */
		grp1_imm(j, XW, GRP1_ADD, RBP, VM_STACK_SIZE);
}

/* The frame bound of a bpf-to-bpf call: the depth, and room below the current frame; past it, to
 * label l. */
static void depth_test(struct jit *j, size_t l)
{
	grp1_imm_mem(j, XW, GRP1_CMP, STATE, ST(depth), VM_MAX_FRAMES - 1);
	jump_to(j, CC_AE, l);
	x_rm(&j->b, XW, OP_LEA, AUX2, RBP, -(int32_t)VM_STACK_SIZE); /* AUX2: callx keeps its target in AUX */
	x_rm(&j->b, XW, OP_CMP_R_RM, AUX2, STATE, ST(stack_floor));
	jump_to(j, CC_BE, l);
}

static void depth_check(struct jit *j)
{
	size_t k = add_stub(j, jit_g_too_deep);
	depth_test(j, L_STUB(j, k));
	set_label(j, L_RESUME(j, k));
}

/* A call of a function that needs no frame (frameless_at()): it cannot see r10, the depth, the frame
 * bound or a may_goto budget, calls nothing and cannot fault, so none of them is moved for it (on this
 * project's AMD host the increments and decrements of the depth and frame bound in memory around each
 * call were a cycle per call of their own); what it writes of r6..r9 is saved, the budget unit taken. */
static void frameless_call(struct jit *j, const struct vm_insn *in)
{
	struct xbuf *b = &j->b;
	static const uint8_t saved[] = { RBX, R13, R14, R15 };
	size_t t = target_pc(j, in);
	uint8_t w = callee_writes(j, t);

	for (size_t i = 0; i < sizeof(saved); i++)
		if (w & (1u << i))
			x_oreg(b, 0, OP_PUSH_R, saved[i]);
	budget_check(j); /* every call, forward ones too */
	int64_t target = j->lab[t];
	x_byte(b, OP_CALL32);
	x_imm(b, (uint32_t)(int32_t)(target - (int64_t)(b->len + 4)), 4);
	for (size_t i = sizeof(saved); i-- > 0;)
		if (w & (1u << i))
			x_oreg(b, 0, OP_POP_R, saved[i]);
}

/* A call compiled in place (inline_sites()): the budget unit the call takes, then the callee's insns
 * with labels of their own, each exit a jump to the end (the insn after the call).  The callee only
 * computes on r0..r5 (frameless_range(), no write of r6..r9), so its insns do here what they do
 * behind a call: the same registers, no frame, nothing that can fault.  Its own code stays where it is,
 * for other calls. */
static void inline_call(struct jit *j, const struct vm_insn *in)
{
	size_t at = j->pc, lo = target_pc(j, in), hi = lo + 1;

	while (hi < j->cnt && subprog_at(j, hi) == SIZE_MAX)
		hi++;
	budget_check(j); /* every call, forward ones too */
	j->inl_lo = lo;
	j->inl_hi = hi;
	j->inl_lab = j->inl[at] - 1;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
	for (j->pc = lo; j->pc < hi; j->pc++) {
		const struct vm_insn *c = &j->insns[j->pc];
		set_label(j, L_INL(j, j->pc));
		if (j->fused == j->pc || c->id == ISA_LDDW_HI) /* the lddw's own code has both slots */
			continue;
		if (isa_info[c->id].flags & F_EXIT) {
			if (j->pc + 1 < hi)
				jump_to(j, -1, L_INL(j, hi));
			continue;
		}
		emit_tab[c->id](j, c);
	}
	set_label(j, L_INL(j, hi));
	j->inl_lo = j->inl_hi = SIZE_MAX;
	j->pc = at;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
}

static void emit_CALL_LOCAL(J)
{
	/* the interpreter's, whatever the callee: a program may run at any depth (tail calls); a fast
	 * loop's body tests it once, at its entry (fast_loop_entry()) */
	if (j->fl != FL_FAST)
		depth_check(j);
	if (j->inl && j->inl[j->pc] && j->fl != FL_CHECKED) /* a loop's cold copy calls */
		inline_call(j, in);
	else if (frameless_at(j, target_pc(j, in)))
		frameless_call(j, in);
	else
		local_call(j, in, false);
}

/* callx: a register holding an insn of this program (what an lddw of a function gives) is a local call
 * to that insn's native code, found in the table after the code; the interpreter's checks (depth, then
 * the budget) inline.  Anything else (a helper id, as bpf_conformance calls them; an address that is no
 * insn) is the glue's, as the interpreter decides it. */
static void emit_CALLX(J)
{
	struct xbuf *b = &j->b;

	x_rr(b, XW, OP_MOV_RM_R, DSTR, AUX);
	mov_imm(j, AUX2, (uint64_t)(uintptr_t)j->insns);
	x_rr(b, XW, OP_SUB_RM_R, AUX2, AUX);
	x_rr(b, XW, OP_GRP1_IMM32, GRP1_CMP, AUX);
	x_imm(b, (uint32_t)(j->cnt * sizeof(struct vm_insn)), 4);
	size_t slow1 = jcc32_fwd(j, CC_AE);
	x_rr(b, 0, OP_GRP3, GRP3_TEST, AUX);
	x_imm(b, sizeof(struct vm_insn) - 1, 4);
	size_t slow2 = jcc32_fwd(j, CC_NE);
	depth_check(j);
	budget_check(j);
	_Static_assert(sizeof(struct vm_insn) == 16, "byte offset / 4 = table offset");
	x_rr(b, XW, OP_GRP2_IMM8, GRP2_SHR, AUX);
	x_byte(b, 2);
	x_rip(b, XW, OP_LEA, AUX2, j->lab[L_TABLE(j)]);
	x_rr(b, XW, OP_ADD_RM_R, AUX2, AUX);
	x_rm(b, 0, OP_MOV_R_RM, AUX, AUX, 0);
	x_rip(b, XW, OP_LEA, AUX2, 0);
	x_rr(b, XW, OP_ADD_RM_R, AUX2, AUX);
	size_t call = jcc32_fwd(j, -1);
	patch32(j, slow1);
	patch32(j, slow2);
	glue_call(j, jit_g_callx, (uint32_t)j->pc);
	x_rr(b, XW, OP_TEST_RM_R, AUX, AUX);
	size_t helper = jcc32_fwd(j, CC_E);
	patch32(j, call);
	local_call(j, in, true);
	patch32(j, helper);
}

/* The map r2 holds at the insn being emitted: an lddw of one of the program's maps (PSEUDO_MAP_FD/IDX)
 * earlier in the same straight run of code (nothing jumps in between) and no insn since writes r2.
 * Its descriptor, or NULL. */
static const struct vm_map_desc *r2_map(const struct jit *j)
{
	for (size_t k = j->pc; k-- > 0;) {
		const struct vm_insn *in = &j->insns[k];
		if (in->id == ISA_LDDW_HI)
			continue;
		if (in->id == ISA_LDDW && in->dst == 2) {
			uint8_t src = j->prog->orig[k].src_reg;
			uint32_t m = j->prog->aux[k].map_idx;
			if ((src != ISA_PSEUDO_MAP_FD && src != ISA_PSEUDO_MAP_IDX) || m >= j->prog->used_map_cnt)
				return NULL;
			return &j->prog->map_descs[m];
		}
		if (isa_insn_writes(&j->prog->orig[k]) & ISA_REG(2) || j->entry[k])
			return NULL;
	}
	return NULL;
}

/* bpf_tail_call(ctx, r2 = prog array, r3 = index), natively when it goes where this run's last tail call
 * went (a chain, a loop of tail calls): with r2 known at compile time (r2_map()), the index inside the
 * array and its slot's word still the one that call resolved (the same store: the same program, of this
 * instance; the run holds it), the interpreter's steps in its order (region cache dropped, a budget
 * unit, no lock held, fewer than 33 tail calls so far, else fall through) and a jump into the target's
 * code, as Linux's emit_bpf_tail_call_indirect().  Any other case is jit_g_tail_call()'s: it resolves the slot, holds
 * the program, faults or falls through as the interpreter does, and remembers the target. */
static void emit_TAIL_CALL(J)
{
	struct xbuf *b = &j->b;
	const struct vm_map_desc *d = j->untrusted ? NULL : r2_map(j);
	size_t out = 0;

	(void)in;
	if (d && d->prog_slots) {
		mov_imm(j, AUX2, d->max_entries);
		x_rr(b, XW, OP_CMP_RM_R, AUX2, xreg[3]); /* the index, 64-bit as the interpreter compares it */
		size_t miss1 = jcc32_fwd(j, CC_AE);
		mov_imm(j, AUX, (uint64_t)(uintptr_t)d->prog_slots);
		x_rmi(b, XW, OP_MOV_R_RM, AUX2, AUX, xreg[3], 3, 0);
		x_rr(b, XW, OP_TEST_RM_R, AUX2, AUX2); /* a slot never written: tc.slot may be 0 still */
		size_t miss2 = jcc32_fwd(j, CC_E);
		x_rm(b, XW, OP_CMP_R_RM, AUX2, STATE, ST(tc.slot));
		size_t miss3 = jcc32_fwd(j, CC_NE);
		/* the run's region cache forgets the old program's maps */
		x_rr(b, 0, OP_XOR_RM_R, AUX2, AUX2);
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[0].lim_r));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[0].lim_w));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[1].lim_r));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(fast[1].lim_w));
		x_rm(b, XW, OP_MOV_R_RM, AUX2, STATE, ST(hit.run.lo));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(hit.run.hi));
		x_rm(b, XW, OP_MOV_R_RM, AUX2, STATE, ST(hit.map.lo));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(hit.map.hi));
		budget_check(j);
		spin_check(j);
		x_rm(b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
		grp1_imm_mem(j, 0, GRP1_CMP, AUX, (int32_t)offsetof(struct vm_run, tail_calls), (int32_t)VM_MAX_TAIL_CALLS);
		out = jcc32_fwd(j, CC_AE);
		x_rm(b, 0, OP_GRP5, GRP5_INC, AUX, (int32_t)offsetof(struct vm_run, tail_calls));
		x_rm(b, XW, OP_MOV_R_RM, AUX2, STATE, ST(tc.prog));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, AUX, (int32_t)offsetof(struct vm_run, prog));
		x_rm(b, XW, OP_MOV_R_RM, AUX2, STATE, ST(tc.img));
		x_rm(b, XW, OP_MOV_RM_R, AUX2, STATE, ST(img));
		x_rm(b, XW, OP_MOV_RM_IMM, 0, STATE, ST(may_goto_left));
		x_imm(b, VM_MAY_GOTO_BUDGET, 4);
		x_rm(b, 0, OP_GRP5, GRP5_JMP, STATE, ST(tc.entry));
		patch32(j, miss1);
		patch32(j, miss2);
		patch32(j, miss3);
	}
	glue_call(j, jit_g_tail_call, (uint32_t)j->pc);
	x_rr(&j->b, XW, OP_TEST_RM_R, AUX, AUX);
	size_t none = jcc8_fwd(j, CC_E);
	x_rr(&j->b, 0, OP_GRP5, GRP5_JMP, AUX);
	patch8(j, none);
	if (out)
		patch32(j, out);
}

static void stateless_exit(struct jit *j);

static void emit_EXIT(J)
{
	(void)in;
	if (j->stateless) { /* no frames, lock or untrusted checks; a tail call's entry returns to full code */
		if (j->ldpkt) /* a plain exit, not a packet load's (epilogue_stateless()) */
			x_rr(&j->b, 0, OP_XOR_RM_R, AUX, AUX);
		stateless_exit(j);
		return;
	}
	if (in_frameless(j, j->pc)) { /* only ever called (frameless_call()) */
		x_byte(&j->b, OP_RET);
		return;
	}
	grp1_imm_mem(j, XW, GRP1_CMP, STATE, ST(depth), 0);
	size_t top = jcc8_fwd(j, CC_E);
	x_byte(&j->b, OP_RET);
	patch8(j, top);
	if (j->untrusted) {
		glue_call(j, jit_g_exit, (uint32_t)j->pc);
	} else if (!proven(j, 0)) { /* as spin_check() */
		x_rm(&j->b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
		grp1_imm_mem(j, XW, GRP1_CMP, AUX, (int32_t)offsetof(struct vm_run, spin_held), 0);
		size_t k = add_stub(j, jit_g_exit);
		jump_to(j, CC_NE, L_STUB(j, k));
		set_label(j, L_RESUME(j, k));
	}
	jump_to(j, -1, L_EPILOGUE(j));
}

/* ---- loads and stores ---- */
static void emit_LDDW(J)
{
	if (lddw_feeds_lookup(j))
		return;
	if (j->blind)
		blind_mov64(j, DSTR, in->k);
	else
		mov_imm(j, DSTR, in->k);
}
/* Does an lddw's second slot get a stub (whose place is then its label)?  Stateless code has no callx;
 * a loop's copy, no label. */
static bool lddw_hi_stub(const struct jit *j, const struct vm_insn *in)
{
	return in->id == ISA_LDDW_HI && !j->stateless && j->fl != FL_CHECKED;
}

static void emit_LDDW_HI(J)
{
	/* never reached by falling through (lddw's first slot jumps over nothing: this emits no code; no
	 * jump may go there either, isa_validate()); a callx here lands on a stub that faults as the
	 * interpreter does */
	if (lddw_hi_stub(j, in))
		add_stub(j, jit_g_lddw_hi);
}

static void ldx(J, unsigned fl, unsigned op)
{
	if (!proven(j, VM_PROOF_MEM))
		mem_check(j, in->src, in->off, in->size, jit_g_load);
	x_rm(&j->b, fl, op, DSTR, SRCR, in->off);
}
static void emit_LDXB(J) { ldx(j, in, 0, OP_MOVZX8); }
static void emit_LDXH(J) { ldx(j, in, 0, OP_MOVZX16); }
static void emit_LDXW(J) { ldx(j, in, 0, OP_MOV_R_RM); }
static void emit_LDXDW(J) { ldx(j, in, XW, OP_MOV_R_RM); }
static void emit_LDXSB(J) { ldx(j, in, XW, OP_MOVSX8); }
static void emit_LDXSH(J) { ldx(j, in, XW, OP_MOVSX16); }
static void emit_LDXSW(J) { ldx(j, in, XW, OP_MOVSXD); }

static void st_imm(J, unsigned fl, unsigned op, unsigned n)
{
	if (!proven(j, VM_PROOF_MEM))
		mem_check(j, in->dst, in->off, in->size, jit_g_store);
	if (j->blind) { /* the register form of the same store (mem_check leaves AUX free again) */
		blind_mov_sext(j, AUX, in->k);
		x_rm(&j->b, n == 1 ? XB8R : n == 2 ? X16 : in->size == 8 ? XW : 0, n == 1 ? OP_MOV8_RM_R : OP_MOV_RM_R,
		     AUX, DSTR, in->off);
		return;
	}
	x_rm(&j->b, fl, op, 0, DSTR, in->off);
	x_imm(&j->b, (uint32_t)in->k, n);
}
static void emit_STB(J) { st_imm(j, in, 0, OP_MOV8_RM_IMM, 1); }
static void emit_STH(J) { st_imm(j, in, X16, OP_MOV_RM_IMM, 2); }
static void emit_STW(J) { st_imm(j, in, 0, OP_MOV_RM_IMM, 4); }
static void emit_STDW(J) { st_imm(j, in, XW, OP_MOV_RM_IMM, 4); }

static void stx(J, unsigned fl, unsigned op)
{
	if (!proven(j, VM_PROOF_MEM))
		mem_check(j, in->dst, in->off, in->size, jit_g_store_x);
	x_rm(&j->b, fl, op, SRCR, DSTR, in->off);
}
static void emit_STXB(J) { stx(j, in, XB8R, OP_MOV8_RM_R); }
static void emit_STXH(J) { stx(j, in, X16, OP_MOV_RM_R); }
static void emit_STXW(J) { stx(j, in, 0, OP_MOV_RM_R); }
static void emit_STXDW(J) { stx(j, in, XW, OP_MOV_RM_R); }

/* Atomics and load-acquire/store-release: the access is checked as the interpreter's ATOMIC_ADDR does
 * it, the in-frame stack and the region cache inline, then natural alignment; the address is left in
 * AUX for the operation.  Whatever fails the inline tests (or any access of an untrusted run, whose
 * source register may leak a pointer) runs the interpreter's code in the glue, which also does the
 * operation, and goes on at the next insn: so faults (bounds, ctx, misalignment, leak) are the
 * interpreter's in the same order.  Returns false when everything goes through the glue. */
static bool atomic_addr(struct jit *j, const struct vm_insn *in, unsigned base, bool write, jit_glue_fn glue)
{
	struct xbuf *b = &j->b;
	size_t next = L_INSN(j->pc + 1);

	if (j->untrusted) {
		glue_call(j, glue, (uint32_t)j->pc);
		return false;
	}
	x_rm(b, XW, OP_LEA, AUX, xreg[base], in->off);
	/* Trusted code of a read-modify-write atomic the verifier proved (VM_PROOF_MEM): in bounds of memory
	 * the run owns, never the ctx or the packet, naturally aligned (verifier.c check_atomic_align()):
	 * nothing left to check.  Load-acquire / store-release keep their checks: the verifier treats them
	 * as plain accesses (no alignment or ctx rule), so the proof does not cover the interpreter's. */
	if (proven(j, VM_PROOF_MEM) && !(isa_info[in->id].flags & F_ACQREL))
		return true;
	if (!(base == 10 && (int32_t)in->off >= -(int32_t)VM_STACK_SIZE &&
	      (int32_t)in->off + (int32_t)in->size <= 0)) {
		/* mem_check's stack test, on AUX2 so that AUX keeps the address */
		x_rm(b, XW, OP_LEA, AUX2, AUX, (int32_t)VM_STACK_SIZE + (int32_t)in->size - 8);
		x_rr(b, XW, OP_SUB_RM_R, RBP, AUX2);
		x_rm(b, XW, OP_CMP_R_RM, AUX2, STATE, ST(frame_lim));
		size_t k = add_stub(j, glue);
		if (k < j->nstub) {
			j->stubs[k].cache = write ? STUB_CACHE_WRITE : STUB_CACHE_READ;
			j->stubs[k].resume = next;
		}
		jump_to(j, CC_A, L_STUB(j, k));
		set_label(j, L_RESUME(j, k)); /* a region cache hit comes back here, AUX = the address */
	}
	if (in->size > 1) {
		x_rr(b, 0, OP_GRP3, GRP3_TEST, AUX);
		x_imm(b, in->size - 1u, 4);
		size_t k = add_stub(j, glue);
		if (k < j->nstub)
			j->stubs[k].resume = next;
		jump_to(j, CC_NE, L_STUB(j, k));
	}
	return true;
}

/* add/or/and/xor without fetch: one locked instruction */
static void atomic_rmw(J, unsigned fl, unsigned op, jit_glue_fn glue)
{
	if (atomic_addr(j, in, in->dst, true, glue))
		x_rm(&j->b, fl | XLOCK, op, SRCR, AUX, 0);
}

/* fetch-add: lock xadd (a 32-bit xadd zero-extends src as the interpreter's uint32_t result does) */
static void atomic_fadd(J, unsigned fl, jit_glue_fn glue)
{
	if (atomic_addr(j, in, in->dst, true, glue))
		x_rm(&j->b, fl | XLOCK, OP_XADD, SRCR, AUX, 0);
}

/* fetch-or/and/xor: a cmpxchg loop (x86 has no fetching form), as Linux's JIT emits it.  rax (r0) is
 * cmpxchg's comparand, so r0 and the source value wait in jit_state.scratch; src = r0 works too. */
static void atomic_fetch_bitop(J, unsigned fl, unsigned op, jit_glue_fn glue)
{
	struct xbuf *b = &j->b;

	if (!atomic_addr(j, in, in->dst, true, glue))
		return;
	x_rm(b, XW, OP_MOV_RM_R, RAX, STATE, ST(scratch[0]));
	x_rm(b, XW, OP_MOV_RM_R, SRCR, STATE, ST(scratch[1]));
	x_rm(b, fl, OP_MOV_R_RM, RAX, AUX, 0);
	size_t loop = b->len;
	x_rr(b, fl, OP_MOV_RM_R, RAX, AUX2);
	x_rm(b, fl, op, AUX2, STATE, ST(scratch[1]));
	x_rm(b, fl | XLOCK, OP_CMPXCHG, AUX2, AUX, 0);
	x_byte(b, OP_JCC8 + CC_NE); /* failed: rax has the current value */
	x_byte(b, (unsigned)(loop - (b->len + 1)) & 0xff);
	if (in->src != 0 || !(fl & XW))
		x_rr(b, fl, OP_MOV_RM_R, RAX, SRCR); /* the old value (zero-extended when 32-bit) */
	if (in->src != 0)
		x_rm(b, XW, OP_MOV_R_RM, RAX, STATE, ST(scratch[0]));
}

static void atomic_xchg(J, unsigned fl, jit_glue_fn glue)
{
	if (atomic_addr(j, in, in->dst, true, glue))
		x_rm(&j->b, fl, OP_XCHG_RM_R, SRCR, AUX, 0); /* xchg with memory is locked */
}

/* cmpxchg: r0 is the comparand and gets the old value; a 32-bit one that succeeds leaves rax's upper half
 * alone, so zero-extend as the interpreter's uint32_t does. */
static void atomic_cmpxchg(J, unsigned fl, jit_glue_fn glue)
{
	if (!atomic_addr(j, in, in->dst, true, glue))
		return;
	x_rm(&j->b, fl | XLOCK, OP_CMPXCHG, SRCR, AUX, 0);
	if (!(fl & XW))
		x_rr(&j->b, 0, OP_MOV_RM_R, RAX, RAX);
}

#define ATOMICS(W, FL) \
	static void emit_AADD##W(J) { atomic_rmw(j, in, FL, OP_ADD_RM_R, jit_g_AADD##W); } \
	static void emit_AOR##W(J) { atomic_rmw(j, in, FL, OP_OR_RM_R, jit_g_AOR##W); } \
	static void emit_AAND##W(J) { atomic_rmw(j, in, FL, OP_AND_RM_R, jit_g_AAND##W); } \
	static void emit_AXOR##W(J) { atomic_rmw(j, in, FL, OP_XOR_RM_R, jit_g_AXOR##W); } \
	static void emit_AFADD##W(J) { atomic_fadd(j, in, FL, jit_g_AFADD##W); } \
	static void emit_AFOR##W(J) { atomic_fetch_bitop(j, in, FL, OP_OR_R_RM, jit_g_AFOR##W); } \
	static void emit_AFAND##W(J) { atomic_fetch_bitop(j, in, FL, OP_AND_R_RM, jit_g_AFAND##W); } \
	static void emit_AFXOR##W(J) { atomic_fetch_bitop(j, in, FL, OP_XOR_R_RM, jit_g_AFXOR##W); } \
	static void emit_AXCHG##W(J) { atomic_xchg(j, in, FL, jit_g_AXCHG##W); } \
	static void emit_ACMPXCHG##W(J) { atomic_cmpxchg(j, in, FL, jit_g_ACMPXCHG##W); }
ATOMICS(32, 0)
ATOMICS(64, XW)
#undef ATOMICS

/* x86 is TSO: a plain load is an acquire, a plain store a release (Linux's JIT emits them so). */
#define ACQREL(SZ, LDFL, LDOP, STFL, STOP) \
	static void emit_LDACQ_##SZ(J) \
	{ if (atomic_addr(j, in, in->src, false, jit_g_LDACQ_##SZ)) x_rm(&j->b, LDFL, LDOP, DSTR, AUX, 0); } \
	static void emit_STREL_##SZ(J) \
	{ if (atomic_addr(j, in, in->dst, true, jit_g_STREL_##SZ)) x_rm(&j->b, STFL, STOP, SRCR, AUX, 0); }
ACQREL(B, 0, OP_MOVZX8, XB8R, OP_MOV8_RM_R)
ACQREL(H, 0, OP_MOVZX16, X16, OP_MOV_RM_R)
ACQREL(W, 0, OP_MOV_R_RM, 0, OP_MOV_RM_R)
ACQREL(DW, XW, OP_MOV_R_RM, XW, OP_MOV_RM_R)
#undef ACQREL

/* Legacy packet loads (LD_ABS/LD_IND), inline: the offset o (LD_ABS: imm; LD_IND: (s32)src + imm, in
 * 64 bits) must satisfy 0 <= o, o + size <= run->pkt_len and run->pkt set, else the program ends with
 * r0 = 0 (the interpreter's LDPKT, Linux's bpf_skb_load_helper); the bytes are read in network order.
 * Only r0 and the scratch registers change, as in the interpreter.  run->pkt/pkt_len are read at each
 * load: a helper may have moved the packet. */
static void ldpkt_read(struct jit *j, unsigned sz, unsigned base, int32_t disp)
{
	struct xbuf *b = &j->b;

	if (sz == 4) {
		x_rm(b, 0, OP_MOV_R_RM, RAX, base, disp);
		x_oreg(b, 0, OP_BSWAP, RAX);
	} else if (sz == 2) {
		/* bswap + shift, not a 16-bit rotate: reading rax after writing ax costs a merge */
		x_rm(b, 0, OP_MOVZX16, RAX, base, disp);
		x_oreg(b, 0, OP_BSWAP, RAX);
		x_rr(b, 0, OP_GRP2_IMM8, GRP2_SHR, RAX);
		x_byte(b, 16);
	} else {
		x_rm(b, 0, OP_MOVZX8, RAX, base, disp);
	}
}

/* The register that holds the struct vm_run: r12 itself in stateless code, else AUX loaded from the
 * state r12 points at. */
static unsigned ldpkt_run(struct jit *j)
{
	if (j->stateless)
		return STATE;
	x_rm(&j->b, XW, OP_MOV_R_RM, AUX, STATE, ST(run));
	return AUX;
}

/* AUX = run->pkt (run in register `run`), or L_RET0 when it is NULL. */
static void ldpkt_base(struct jit *j, unsigned run)
{
	x_rm(&j->b, XW, OP_MOV_R_RM, AUX, run, (int32_t)offsetof(struct vm_run, pkt));
	x_rr(&j->b, XW, OP_TEST_RM_R, AUX, AUX);
	jump_to(j, CC_E, L_RET0(j));
}

static void ldabs(J, unsigned sz)
{
	int64_t o = (int32_t)in->k;

	if (o < 0) { /* never in bounds */
		jump_to(j, -1, L_RET0(j));
		return;
	}
	unsigned run = ldpkt_run(j);
	/* pkt_len < o + sz, unsigned (o + sz <= 2^31 + 3 fits the 32-bit compare) */
	grp1_imm_mem(j, 0, GRP1_CMP, run, (int32_t)offsetof(struct vm_run, pkt_len), (int32_t)(uint32_t)(o + sz));
	jump_to(j, CC_B, L_RET0(j));
	ldpkt_base(j, run);
	ldpkt_read(j, sz, AUX, (int32_t)o);
}

static void ldind(J, unsigned sz)
{
	struct xbuf *b = &j->b;

	x_rr(b, XW, OP_MOVSXD, AUX2, SRCR); /* o = (s32)src + imm: in [-2^32, 2^32), no overflow */
	grp1_imm(j, XW, GRP1_ADD, AUX2, (int32_t)in->k);
	jump_to(j, CC_S, L_RET0(j));
	unsigned run = ldpkt_run(j);
	x_rm(b, 0, OP_MOV_R_RM, RAX, run, (int32_t)offsetof(struct vm_run, pkt_len)); /* src is read: r0 is free */
	x_rr(b, XW, OP_SUB_RM_R, AUX2, RAX);
	grp1_imm(j, XW, GRP1_CMP, RAX, (int32_t)sz); /* pkt_len - o < sz, signed: o may be past the end */
	jump_to(j, CC_L, L_RET0(j));
	ldpkt_base(j, run);
	x_rr(b, XW, OP_ADD_RM_R, AUX2, AUX);
	ldpkt_read(j, sz, AUX, 0);
}

static void emit_LDABS_W(J) { ldabs(j, in, 4); }
static void emit_LDABS_H(J) { ldabs(j, in, 2); }
static void emit_LDABS_B(J) { ldabs(j, in, 1); }
static void emit_LDIND_W(J) { ldind(j, in, 4); }
static void emit_LDIND_H(J) { ldind(j, in, 2); }
static void emit_LDIND_B(J) { ldind(j, in, 1); }

#undef J
#undef DSTR
#undef SRCR

static const emit_fn emit_tab[ISA_COUNT] = {
#define X(name_, ...) [ISA_##name_] = emit_##name_,
#include "../isa/insn.def"
#undef X
};

/* ---- the program ---- */

static const uint8_t callee_saved[] = { RBX, RBP, R12, R13, R14, R15 };

/* Stateless code (jit_image.stateless) is entered as uint64_t code(r1, r2, r10, run): it saves only the
 * callee-saved registers it names, and starts the registers it names at 0 as the interpreter does (it
 * cannot read one it does not name).  Code with legacy packet loads (LD_ABS/LD_IND: a classic filter's
 * translation) keeps `run` in r12, saved last, for run->pkt and pkt_len: the one thing of the run state
 * it reads. */
static const uint8_t stateless_saved[] = { 6, 7, 8, 9, 10 };

static void stateless_push(struct jit *j)
{
	for (size_t i = 0; i < sizeof(stateless_saved); i++)
		if (j->used >> stateless_saved[i] & 1)
			x_oreg(&j->b, 0, OP_PUSH_R, xreg[stateless_saved[i]]);
	if (j->ldpkt)
		x_oreg(&j->b, 0, OP_PUSH_R, STATE);
}

static void prologue_stateless(struct jit *j)
{
	struct xbuf *b = &j->b;

	stateless_push(j);
	if (j->ldpkt)
		x_rr(b, XW, OP_MOV_RM_R, RCX, STATE); /* before r4 (rcx) starts at 0 below */
	if (j->used >> 10 & 1)
		x_rr(b, XW, OP_MOV_RM_R, RDX, RBP);
	for (unsigned r = 0; r <= 9; r++)
		if (r != 1 && r != 2 && (j->used >> r & 1))
			x_rr(b, 0, OP_XOR_RM_R, xreg[r], xreg[r]);
}

/* Each exit restores what the entry saved and returns: a few bytes, inline. */
static void stateless_exit(struct jit *j)
{
	if (j->ldpkt)
		x_oreg(&j->b, 0, OP_POP_R, STATE);
	for (size_t i = sizeof(stateless_saved); i-- > 0;)
		if (j->used >> stateless_saved[i] & 1)
			x_oreg(&j->b, 0, OP_POP_R, xreg[stateless_saved[i]]);
	x_byte(&j->b, OP_RET);
}

/* The entry of a tail call from full code (run state in r12, the caller's registers and
 * frame): it calls the body as the stateless entry would (the same saves, which the exit undoes: the
 * callee-saved registers come back as the tail call found them, as a caller's frame restores them
 * anyway), and on return leaves as full code does (L_FULL_EXIT: from a subprogram's frame to its
 * caller, from the entry frame out of the run). */
static void epilogue_stateless(struct jit *j)
{
	struct xbuf *b = &j->b;

	/* A packet load past the end: r0 = 0, and the run is over -- from C, a return; from a tail call
	 * (maybe in a subprogram's frame, whose caller a plain exit returns to), the whole run ends as in
	 * full code, so this exit says so in r11 (1; a plain exit clears it). */
	if (j->ldpkt) {
		set_label(j, L_RET0(j));
		x_rr(b, 0, OP_XOR_RM_R, RAX, RAX);
		mov_imm(j, AUX, 1);
		stateless_exit(j);
	}
	set_label(j, L_TAIL_ENTRY(j));
	size_t t = L_TAIL_PUSH(j);
	int64_t target = j->lab[t];
	x_byte(b, OP_CALL32);
	x_imm(b, (uint32_t)(int32_t)(target - (int64_t)(b->len + 4)), 4);
	if (j->ldpkt) {
		x_rr(b, XW, OP_TEST_RM_R, AUX, AUX);
		jump_to(j, CC_NE, L_FULL_RET0(j));
	}
	jump_to(j, -1, L_FULL_EXIT(j));
	set_label(j, L_TAIL_PUSH(j));
	stateless_push(j);
	if (j->ldpkt) /* r12 was the run state: the run it points at */
		x_rm(b, XW, OP_MOV_R_RM, STATE, STATE, ST(run));
	jump_to(j, -1, L_INSN(0));
}

static void prologue(struct jit *j)
{
	struct xbuf *b = &j->b;

	if (j->stateless) {
		prologue_stateless(j);
		return;
	}

	for (size_t i = 0; i < sizeof(callee_saved); i++)
		x_oreg(b, 0, OP_PUSH_R, callee_saved[i]);
	grp1_imm(j, XW, GRP1_SUB, RSP, 8); /* 16-byte alignment for calls into C */
	x_rr(b, XW, OP_MOV_RM_R, R9, STATE);
	x_rm(b, XW, OP_MOV_R_RM, BUDGET, STATE, ST(budget));
	x_rm(b, XW, OP_MOV_RM_R, RSP, STATE, ST(saved_rsp));
	x_rm(b, XW, OP_MOV_R_RM, RBP, STATE, ST_REG(10));
	x_rr(b, 0, OP_XOR_RM_R, RAX, RAX);
	for (unsigned r = 6; r <= 9; r++)
		x_rr(b, 0, OP_XOR_RM_R, xreg[r], xreg[r]);
}

static void epilogue(struct jit *j)
{
	struct xbuf *b = &j->b;

	/* stateless code's L_RET0 is its own (epilogue_stateless()) */
	set_label(j, j->ldpkt ? L_FULL_RET0(j) : L_RET0(j));
	x_rr(b, 0, OP_XOR_RM_R, RAX, RAX);
	set_label(j, L_EPILOGUE(j));
	x_rm(b, XW, OP_MOV_RM_R, BUDGET, STATE, ST(budget));
	x_rm(b, XW, OP_MOV_R_RM, RSP, STATE, ST(saved_rsp));
	grp1_imm(j, XW, GRP1_ADD, RSP, 8);
	for (size_t i = sizeof(callee_saved); i-- > 0;)
		x_oreg(b, 0, OP_POP_R, callee_saved[i]);
	x_byte(b, OP_RET);
}

/* The interpreter's region cache, tested inline before the slow path's call into C: an access inside
 * the packet or the map value it last touched goes on at `resume`. */
static void region_cache_check(struct jit *j, const struct vm_insn *in, bool write, size_t resume)
{
	struct xbuf *b = &j->b;
	unsigned base = write ? in->dst : in->src;

	x_rm(b, XW, OP_LEA, AUX, xreg[base], in->off);
	for (int c = 0; c < 2; c++) {
		int32_t f = ST(fast[c]);
		int32_t lim = f + (int32_t)(write ? offsetof(struct jit_fast_region, lim_w) : offsetof(struct jit_fast_region, lim_r));
		x_rr(b, XW, OP_MOV_RM_R, AUX, AUX2);
		x_rm(b, XW, OP_SUB_R_RM, AUX2, STATE, f + (int32_t)offsetof(struct jit_fast_region, lo));
		x_rm(b, XW, OP_CMP_R_RM, AUX2, STATE, lim);
		size_t miss = jcc8_fwd(j, CC_AE);
		grp1_imm(j, XW, GRP1_ADD, AUX2, in->size);
		x_rm(b, XW, OP_CMP_R_RM, AUX2, STATE, lim);
		jump_to(j, CC_BE, resume);
		patch8(j, miss);
	}
}

static void stubs(struct jit *j)
{
	for (size_t k = 0; k < j->nstub; k++) {
		const struct stub *s = &j->stubs[k];
		set_label(j, L_STUB(j, k));
		if (s->fn == jit_g_lddw_hi) /* the slot's address for callx (see emit_LDDW_HI) */
			set_label(j, L_INSN(s->pc));
		if (s->cache != STUB_NO_CACHE)
			region_cache_check(j, &j->insns[s->pc], s->cache == STUB_CACHE_WRITE, L_RESUME(j, k));
		glue_call(j, s->fn, s->pc);
		jump_to(j, -1, s->resume);
	}
}

/* Which part of a new frame the code can read before writing it, so that a call zeroes only that part
 * (the interpreter zeroes every frame whole; a part nothing can read looks the same either way).  While
 * r10 is only ever the base of a load or store with a constant offset, the frame is reachable only at
 * those offsets: zero from the lowest one up (64-byte aligned).  Once r10 is read as a value (copied,
 * compared, stored, passed on) any byte may be reached, and a tail call hands the frame to another
 * program: the whole frame then.  Per subprogram where every jump stays inside its own range and no
 * range runs into the next; otherwise one answer for the whole program. */
static int32_t frame_extent(const struct jit *j, size_t lo, size_t hi)
{
	int32_t need = 0;

	for (size_t pc = lo; pc < hi; pc++) {
		const struct vm_insn *in = &j->insns[pc];
		unsigned mem = isa_mem_access(in->id), used = isa_used_fields(in->id);
		int32_t at = 1; /* 1: no r10 access; else the access's offset */
		/* r10 as an operand (not as the address of an access) hands the frame's address on */
		bool escapes = in->id == ISA_TAIL_CALL;

		if (mem && (mem & ISA_MEM_BASE_SRC ? in->src : in->dst) == 10) {
			at = in->off;
			used &= mem & ISA_MEM_BASE_SRC ? ~(unsigned)U_SRC : ~(unsigned)U_DST;
		}
		escapes |= ((used & U_DST) && in->dst == 10) || ((used & U_SRC) && in->src == 10);
		if (at != 1 && (at < -(int32_t)VM_STACK_SIZE || at + (int32_t)in->size > 0))
			escapes = true;
		if (escapes)
			return -(int32_t)VM_STACK_SIZE;
		if (at != 1 && at < need)
			need = at;
	}
	return -(int32_t)(((uint32_t)-need + 63) & ~63u); /* as vm_frame_zero_below() wants it */
}

static size_t subprog_at(const struct jit *j, size_t pc);

/* Does the code [lo, hi) of a contained subprogram (frame_needs()) run without a frame of its own?  When
 * it only computes on registers other than r10: ALU, constants, forward jumps, exit.  No memory access
 * (whose checks and faults know the frame), no call, back-edge or may_goto (the budget, the depth), no
 * packet load (which may leave the run).  Such a function can only be entered by a call (subprogram 0
 * is never one) and returns with a plain ret (emit_EXIT()). */
static bool frameless_range(const struct jit *j, size_t lo, size_t hi)
{
	for (size_t pc = lo; pc < hi; pc++) {
		const struct vm_insn *in = &j->insns[pc];
		const struct isa_info *f = &isa_info[in->id];
		if (in->dst == 10 || in->src == 10)
			return false;
		switch (f->fmt) {
		case FMT_ALU_K:
		case FMT_ALU_X:
		case FMT_NEG:
		case FMT_MOVSX:
		case FMT_END:
		case FMT_LDDW:
			break;
		case FMT_JA:
		case FMT_JA32:
		case FMT_JMP_K:
		case FMT_JMP_X:
			if (in->off <= 0 || in->id == ISA_MAY_GOTO)
				return false;
			break;
		case FMT_NONE:
			if (!(f->flags & F_EXIT) && in->id != ISA_LDDW_HI)
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

/* In the proven code, the verifier's bound on each function's frame (vm_frame_need()): no access
 * of a verified program, its helpers' included, touches a frame deeper, so the bytes below are never
 * observed (the verifier says the whole frame where something it does not follow may read it).  It
 * covers what escaping r10 hides from frame_extent(): a key on the stack whose address goes to a
 * helper no longer costs the whole frame. */
static void frame_depth_bound(struct jit *j)
{
	const struct vm_prog *p = j->prog;

	if (!p->verified || p->subprog_cnt == 0 || p->subprogs[0] != 0)
		return;
	for (size_t i = 0; i < p->subprog_cnt; i++) {
		int32_t from = -(int32_t)vm_frame_need(p, p->subprogs[i], true);
		if (from > j->zero_from[i])
			j->zero_from[i] = from;
	}
}

static void frame_needs(struct jit *j)
{
	const struct vm_prog *p = j->prog;
	size_t n = p->subprog_cnt;
	/* Without a proof, any pointer may be made to point into the stack (mem - 300 may be the frame), so
	 * every byte of a frame can be read: the whole frame, as the interpreter zeroes it. */
	bool contained = j->proven && n > 0 && p->subprogs[0] == 0;

	for (size_t i = 0; i <= n; i++) { /* n + 1 entries: [0] is the entry frame's even without a table */
		j->zero_from[i] = -(int32_t)VM_STACK_SIZE;
		j->writes[i] = 0xff;
		j->frameless[i] = 0;
	}
	if (!j->proven || n == 0)
		return;

	for (size_t i = 0; i < n && contained; i++) {
		size_t lo = p->subprogs[i], hi = i + 1 < n ? p->subprogs[i + 1] : j->cnt;
		if (hi <= lo || hi > j->cnt) {
			contained = false;
			break;
		}
		if (isa_falls_through(j->insns[hi - 1].id))
			contained = false; /* runs into the next range (or a tail call that falls through) */
		for (size_t pc = lo; pc < hi && contained; pc++) {
			int id = j->insns[pc].id;
			if (isa_has_target(id) && !(isa_info[id].flags & F_CALL)) {
				size_t t = pc + (size_t)((int64_t)j->insns[pc].off / (int64_t)sizeof(struct vm_insn));
				contained = t >= lo && t < hi;
			}
		}
	}
	if (!contained) {
		int32_t all = frame_extent(j, 0, j->cnt);
		for (size_t i = 0; i < n; i++)
			j->zero_from[i] = all;
		frame_depth_bound(j);
		return;
	}
	for (size_t i = 0; i < n; i++)
		j->zero_from[i] = frame_extent(j, p->subprogs[i], i + 1 < n ? p->subprogs[i + 1] : j->cnt);
	frame_depth_bound(j);
	/* Contained, a subprogram's code is its range: a call of it runs those insns and calls that come back
	 * (each restoring what its own callee writes), and leaves r10 as it found it (r10 is never written).
	 * So the caller saves only the registers of r6..r9 the range writes.  A tail call anywhere may bring
	 * another program's code into a callee's frame: then everything is saved. */
	for (size_t pc = 0; pc < j->cnt; pc++)
		if (j->insns[pc].id == ISA_TAIL_CALL)
			return;
	for (size_t i = 0; i < n; i++) {
		size_t lo = p->subprogs[i], hi = i + 1 < n ? p->subprogs[i + 1] : j->cnt;
		unsigned regs = 0;
		for (size_t pc = lo; pc < hi; pc++)
			regs |= isa_insn_writes(&p->orig[pc]);
		j->writes[i] = 0;
		for (unsigned r = 6; r <= 9; r++)
			if (regs & ISA_REG(r))
				j->writes[i] |= (uint8_t)(1u << (r - 6));
		j->frameless[i] = i > 0 && frameless_range(j, lo, hi);
	}
	/* a function whose address is taken (callbacks, callx) may be entered at depth 0 or by an indirect
	 * call, which moves the frame: it keeps one */
	for (size_t pc = 0; pc < j->cnt; pc++)
		if (j->insns[pc].id == ISA_LDDW && p->orig[pc].src_reg == ISA_PSEUDO_FUNC) {
			size_t s = subprog_at(j, (size_t)((const struct vm_insn *)(uintptr_t)j->insns[pc].k - j->insns));
			if (s != SIZE_MAX)
				j->frameless[s] = 0;
		}
}

/* Can insn `in` be compiled without the run state (r12), the budget (r9) or any slow path, so that a
 * program made only of such insns runs with neither state nor checks to set up (jit_run(), and
 * bpfvm_runner_run() for an empty program)?  Arithmetic, forward jumps, constants, accesses inside the
 * current frame at r10 + a constant, exit; and only in a trusted run (the untrusted exit checks r0). */
static bool stateless_insn(const struct jit *j, const struct vm_insn *in)
{
	const struct isa_info *f = &isa_info[in->id];

	if (j->untrusted)
		return false;
	switch (f->fmt) {
	case FMT_ALU_K:
	case FMT_ALU_X:
	case FMT_NEG:
	case FMT_MOVSX:
	case FMT_END:
	case FMT_LDDW:
		return true;
	case FMT_JA:
	case FMT_JA32:
	case FMT_JMP_K:
	case FMT_JMP_X:
		return in->off > 0 && in->id != ISA_MAY_GOTO; /* a back-edge counts the budget */
	case FMT_LDX:
		return proven(j, VM_PROOF_MEM) ||
		       (in->src == 10 && in->off >= -(int32_t)VM_STACK_SIZE && in->off + (int32_t)in->size <= 0);
	case FMT_ST:
	case FMT_STX:
		return proven(j, VM_PROOF_MEM) ||
		       (in->dst == 10 && in->off >= -(int32_t)VM_STACK_SIZE && in->off + (int32_t)in->size <= 0);
	case FMT_LDABS:
	case FMT_LDIND:
		return true; /* past the packet: r0 = 0 and out, no fault (jit_compile() sets ldpkt) */
	case FMT_NONE:
		return (f->flags & F_EXIT) || in->id == ISA_LDDW_HI;
	default:
		return false;
	}
}

/* The counter's step of a counted loop's back-edge at be (fast_loops()): -1 for "rX += -1" (or
 * "rX -= 1") then "if rX != 0 goto back", +1 for "rX += 1" (or "rX -= -1") then "if rX != K" or
 * "if rX < K" (unsigned, 64-bit) back; 0 for anything else. */
static int counted_step(const struct jit *j, size_t be)
{
	const struct vm_insn *in = &j->insns[be], *inc = in - 1;

	if (be == 0 || in->off >= 0 || in->dst >= 10 || inc->dst != in->dst || j->entry[be])
		return 0;
	int64_t step = inc->id == ISA_ADD64_K ? (int32_t)inc->k : inc->id == ISA_SUB64_K ? -(int64_t)(int32_t)inc->k : 0;
	if (step == -1 && in->id == ISA_JNE_K && (int32_t)in->k == 0)
		return -1;
	if (step == 1 && (in->id == ISA_JNE_K || in->id == ISA_JLT_K))
		return 1;
	return 0;
}

/* Counted loops whose back-edges need no budget test (the branch per round that kept tight loops at
 * the kernel's time).  A loop [h, be] qualifies when its only back-edge is be, a counted_step() pair
 * on rX ("rX += -1; if rX != 0 goto h", or "rX += 1; if rX != K goto h" or "if rX < K goto h"),
 * nothing else in it writes rX, nothing outside jumps into (h, be], and every other insn is
 * stateless_insn() (no call, check, fault, exit or back-edge) or an ARRAY lookup the trusted code
 * computes in place (array_lookup_proven(), with its lddw), which takes a budget unit as the call it
 * stands for: the lookups then run in every round (no jump goes over one), so that a round takes
 * u = 1 + lookups units (1, 2, 4 or 8).  Entered with rX = E, the loop takes at most T back-edges,
 * T = E - 1 counting down (E = 0: 2^64 - 1), K - 1 - E counting up (mod 2^64: exact for !=, and for <
 * when E < K or E = 2^64 - 1, above what runs otherwise), so at most u * T + u - 1 units; after k of
 * them rX = E -/+ k at h.  So fast_loop_entry() tests once that the slice in r9 covers them (T < r9 / u;
 * else the loop runs as a copy that counts each unit, fast_loop_copies()), and keeps r9 -/+ u * E in
 * r9 while the body runs: at an exit from insn p, r9 +/- u * rX - units[p] is exactly what counting
 * each unit leaves, at the fall-through exit r9 +/- u * rX + 1 (fast_loop_out()).  The interpreter's
 * budget, its faults and an interrupt's reach (at most one slice) stay as they were.  Returns -ENOMEM
 * or 0. */
/* A fast loop of at most UNROLL_MAX insns whose rounds take one unit (no call or lookup, whose code
 * would be emitted twice with the same labels) is unrolled by 2 (fast_loop_unroll()): each round of
 * bench_jit's inner loops (compare, copy, hash) ended in a taken back-edge, and the front end takes at
 * most one such branch a cycle. */
#define UNROLL_MAX 32
static int fast_loops(struct jit *j)
{
	uint32_t *owner = calloc(j->cnt + 1, sizeof(*owner)); /* 1 + h of the loop whose (h, be] holds pc */

	if (!owner)
		return -ENOMEM;
	for (size_t be = 1; be < j->cnt && !j->untrusted; be++) {
		const struct vm_insn *in = &j->insns[be];
		int step = counted_step(j, be);
		if (!step || (step > 0 && j->blind)) /* K - 1 would be an unblinded constant */
			continue;
		size_t h = insn_target(be, in);
		unsigned u = 1;
		bool ok = h < be;
		for (size_t pc = h; pc < be - 1 && ok; pc++) {
			const struct vm_insn *b = &j->insns[pc];
			int fmt = isa_info[b->id].fmt;
			j->pc = pc;
			bool lookup = (b->id == ISA_CALL && j->trust && (lookup_array_map(j, pc) || direct_lookup_map(j, pc))) ||
				      (b->id == ISA_CALL_LOCAL && frameless_at(j, insn_target(pc, b)));
			bool map_arg = fmt == FMT_LDDW && (lddw_feeds_lookup(j) || lddw_feeds_direct(j));
			if (b->id == ISA_LDDW_HI && pc > h) {
				j->pc = pc - 1;
				map_arg = lddw_feeds_lookup(j) || lddw_feeds_direct(j);
				j->pc = pc;
			}
			ok = (lookup || map_arg ||
			      (stateless_insn(j, b) && !(isa_info[b->id].flags & F_EXIT) && fmt != FMT_LDABS &&
			       fmt != FMT_LDIND && fmt != FMT_LDDW && b->id != ISA_LDDW_HI)) &&
			     !(isa_insn_writes(&j->prog->orig[pc]) & ISA_REG(in->dst));
			u += lookup;
		}
		if (!ok || (u & (u - 1)) || u > 8)
			continue;
		/* the loops that got here are disjoint (one's back-edge in another is no stateless insn) */
		for (size_t pc = h, n = 0; pc < be; pc++)
			j->units[pc] = (uint8_t)(n += j->insns[pc].id == ISA_CALL || j->insns[pc].id == ISA_CALL_LOCAL);
		for (size_t pc = h; pc < be - 1 && ok; pc++) {
			int id = j->insns[pc].id;
			size_t t = insn_target(pc, &j->insns[pc]);
			ok = !isa_has_target(id) || (isa_info[id].flags & F_CALL) || t > be || j->units[t - 1] == j->units[pc];
		}
		if (!ok)
			continue;
		j->fast_be[h] = (uint32_t)be + 1;
		j->unroll[h] = u == 1 && be - h < UNROLL_MAX;
		for (size_t pc = h + 1; pc <= be; pc++)
			owner[pc] = (uint32_t)h + 1;
	}
	/* a jump (or call, or function reference) from outside into a body undoes its loop */
	for (size_t pc = 0; pc < j->cnt; pc++) {
		const struct vm_insn *in = &j->insns[pc];
		size_t t;
		if (isa_has_target(in->id))
			t = insn_target(pc, in);
		else if (in->id == ISA_LDDW && j->prog->orig[pc].src_reg == ISA_PSEUDO_FUNC)
			t = (size_t)((const struct vm_insn *)(uintptr_t)in->k - j->insns);
		else
			continue;
		if (t > j->cnt || !owner[t])
			continue;
		size_t h = owner[t] - 1;
		if (pc < h || pc >= j->fast_be[h])
			j->fast_be[h] = 0;
	}
	free(owner);
	return 0;
}

/* log2 of the budget units a round of the fast loop at h takes */
static unsigned fast_loop_shift(const struct jit *j, size_t h)
{
	return (unsigned)__builtin_ctz(j->units[j->fast_be[h] - 2] + 1u);
}

/* AUX = u * rX (of the fast loop being emitted, or at h) */
static void fast_loop_urx(struct jit *j, unsigned x, unsigned s)
{
	x_rr(&j->b, XW, OP_MOV_RM_R, x, AUX);
	if (s) {
		x_rr(&j->b, XW, OP_GRP2_IMM8, GRP2_SHL, AUX);
		x_byte(&j->b, s);
	}
}

/* An unrolled loop counting down by one ("rX += -1; if rX != 0 goto h") is entered at its second copy
 * when rX is odd, so that its first copy always starts with rX even: the first copy's step then leaves
 * rX odd, never 0, and its exit test is left out (branch()).  A round in two then takes one branch
 * fewer (bench_jit's compare and copy loops were bound by the branches a cycle). */
static bool odd_entry(const struct jit *j, size_t h)
{
	return j->unroll[h] && counted_step(j, j->fast_be[h] - 1) < 0;
}

/* At h of a fast loop: the slice must cover T back-edges (T < r9 / u, fast_loops()), else the checked
 * copy runs; r9 -= u * E counting down, += counting up. */
static void fast_loop_entry(struct jit *j, size_t h)
{
	size_t be = j->fast_be[h] - 1;
	unsigned x = xreg[j->insns[be].dst], s = fast_loop_shift(j, h);
	bool up = counted_step(j, be) > 0;

	/* The calls of bpf-to-bpf functions in the body (frameless ones, fast_loops()) run in every round
	 * and move neither the depth nor r10: their frame bound holds for all rounds or fails at the first
	 * call, which the checked copy then reaches as the interpreter does. */
	for (size_t pc = h; pc < be; pc++)
		if (j->insns[pc].id == ISA_CALL_LOCAL) {
			depth_test(j, L_COPY(j, h));
			break;
		}
	if (up) { /* T = K - 1 - E */
		mov_imm(j, AUX, (uint64_t)(int64_t)(int32_t)j->insns[be].k - 1);
		x_rr(&j->b, XW, OP_SUB_RM_R, x, AUX);
	} else { /* T = E - 1 */
		x_rm(&j->b, XW, OP_LEA, AUX, x, -1);
	}
	if (s) {
		x_rr(&j->b, XW, OP_MOV_RM_R, BUDGET, AUX2);
		x_rr(&j->b, XW, OP_GRP2_IMM8, GRP2_SHR, AUX2);
		x_byte(&j->b, s);
		x_rr(&j->b, XW, OP_CMP_RM_R, AUX2, AUX);
	} else {
		x_rr(&j->b, XW, OP_CMP_RM_R, BUDGET, AUX);
	}
	jump_to(j, CC_AE, L_COPY(j, h));
	if (up) {
		x_rmi(&j->b, XW, OP_LEA, BUDGET, BUDGET, x, s, 0);
	} else if (s) {
		fast_loop_urx(j, x, s);
		x_rr(&j->b, XW, OP_SUB_RM_R, AUX, BUDGET);
	} else {
		x_rr(&j->b, XW, OP_SUB_RM_R, x, BUDGET);
	}
	j->counts_budget = true;
	if (odd_entry(j, h)) { /* rX odd: the second copy first */
		x_rr(&j->b, XW, OP_GRP3, GRP3_TEST, x);
		x_imm(&j->b, 1, 4);
		jump_to(j, CC_NE, L_U2(j, h));
	}
}

/* Leaving the fast loop being emitted, from insn pc's exit (units[pc] spent in the round), or through
 * its back-edge's fall-through (pc = -1: u - 1 units and the counter's step): r9 back to what counting
 * each unit leaves (fast_loops()). */
static void fast_loop_out(struct jit *j, size_t pc)
{
	unsigned x = xreg[j->insns[j->fl_be].dst], s = fast_loop_shift(j, j->fl_h);
	int32_t spent = pc == (size_t)-1 ? -1 : j->units[pc];

	if (counted_step(j, j->fl_be) < 0) {
		if (spent < 0) /* rX is 0 */
			x_rm(&j->b, XW, OP_LEA, BUDGET, BUDGET, 1);
		else
			x_rmi(&j->b, XW, OP_LEA, BUDGET, BUDGET, x, s, -spent);
		return;
	}
	if (s) {
		fast_loop_urx(j, x, s);
		x_rr(&j->b, XW, OP_SUB_RM_R, AUX, BUDGET);
	} else {
		x_rr(&j->b, XW, OP_SUB_RM_R, x, BUDGET);
	}
	if (spent)
		x_rm(&j->b, XW, OP_LEA, BUDGET, BUDGET, -spent);
}

/* The subprogram starting at pc, or SIZE_MAX for any other insn */
static size_t subprog_at(const struct jit *j, size_t pc)
{
	const struct vm_prog *p = j->prog;
	size_t lo = 0, hi = p->subprog_cnt;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->subprogs[mid] < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->subprog_cnt && p->subprogs[lo] == pc ? lo : SIZE_MAX;
}

/* zero_from of the subprogram starting at pc; the whole frame for any other target (callx) */
static int32_t frame_zero_from(const struct jit *j, size_t pc)
{
	size_t s = subprog_at(j, pc);
	return s != SIZE_MAX ? j->zero_from[s] : -(int32_t)VM_STACK_SIZE;
}

/* Is the call target pc a frameless function (frameless_range())? */
static bool frameless_at(const struct jit *j, size_t pc)
{
	size_t s = subprog_at(j, pc);
	return s != SIZE_MAX && j->frameless[s];
}

/* Is insn pc in a frameless function? */
static bool in_frameless(const struct jit *j, size_t pc)
{
	const struct vm_prog *p = j->prog;
	size_t lo = 0, hi = p->subprog_cnt;

	while (lo < hi) { /* the last subprogram starting at or before pc */
		size_t mid = lo + (hi - lo) / 2;
		if (p->subprogs[mid] <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && j->frameless[lo - 1];
}

/* writes of the subprogram starting at pc (frame_needs()); all of r6..r10 for any other target */
static uint8_t callee_writes(const struct jit *j, size_t pc)
{
	size_t s = subprog_at(j, pc);
	return s != SIZE_MAX ? j->writes[s] : 0xff;
}

/* Calls compiled in place (inline_call()): in trusted code, a call of a frameless function (only
 * computes on registers, no r10, memory, call, back-edge or fault: frameless_range()) of at most
 * INLINE_MAX insns that writes none of r6..r9.  Such a callee cannot fault, so its code behaves the
 * same at the call as behind it; what a call pays beyond that is kept (the budget unit, the frame
 * bound's test, which a fast loop makes at its entry), and call, ret and the saves go.  On this host's
 * AMD core a round of bench_jit's calls program (4 callee insns) spent about a cycle on the call and
 * ret.  Sets inl[] and inl_nlab; returns -ENOMEM or 0. */
#define INLINE_MAX 16
static int inline_sites(struct jit *j)
{
	size_t nlab = 0;

	if (!j->trust || j->untrusted || !j->prog->subprog_cnt)
		return 0;
	for (size_t pc = 0; pc < j->cnt; pc++) {
		const struct vm_insn *in = &j->insns[pc];
		if (in->id != ISA_CALL_LOCAL)
			continue;
		size_t t = insn_target(pc, in), s = subprog_at(j, t);
		if (s == SIZE_MAX || !j->frameless[s] || j->writes[s])
			continue;
		size_t hi = s + 1 < j->prog->subprog_cnt ? j->prog->subprogs[s + 1] : j->cnt;
		if (hi - t > INLINE_MAX)
			continue;
		if (!j->inl && !(j->inl = calloc(j->cnt + 1, sizeof(*j->inl))))
			return -ENOMEM;
		j->inl[pc] = (uint32_t)(L_INL_BASE(j) + nlab + 1);
		nlab += hi - t + 1;
	}
	j->inl_nlab = nlab;
	return 0;
}

/* Does the fast loop at h start a 64-byte line?  Where one of at most 64 bytes would straddle two, it
 * is fetched in two pieces each round: on the machine the bench ran on (AMD EPYC) the byte-wise compare
 * took 0.61 ns per byte, 0.34 in one line.  Decided on the previous pass's length and kept
 * once made, so that the passes still converge. */
static bool fast_loop_line(struct jit *j, size_t h)
{
	if (j->line[h] || j->pass == 1)
		return j->line[h];
	size_t be = j->fast_be[h] - 1, at = (j->b.len + LOOP_ALIGN - 1) / LOOP_ALIGN * LOOP_ALIGN % 64;
	uint32_t len = j->lab[L_INSN(be + 1)] - j->lab[L_FHEAD(j, h)]; /* the last pass's: not set yet */
	j->line[h] = len <= 64 && at + len > 64;
	return j->line[h];
}

/* Cold code of the fast loops (fast_loops()): each one's checked copy, entered when the slice does not
 * cover the loop, and the fixups its exits go through (r9 += rX: see fast_loops()). */
static void fast_loop_copies(struct jit *j)
{
	for (size_t h = 0; h < j->cnt && j->fast_be; h++) {
		if (!j->fast_be[h])
			continue;
		j->fl = FL_CHECKED;
		j->fl_h = h;
		j->fl_be = j->fast_be[h] - 1;
		j->zf_pc = SIZE_MAX;
		j->fused = SIZE_MAX;
		for (j->pc = h; j->pc <= j->fl_be; j->pc++) {
			set_label(j, L_COPY(j, j->pc));
			if (j->fused != j->pc)
				emit_tab[j->insns[j->pc].id](j, &j->insns[j->pc]);
		}
		j->fl = FL_NONE;
		jump_to(j, -1, L_INSN(j->fl_be + 1));
		for (j->pc = h; j->pc < j->fl_be; j->pc++) {
			if (!j->fix_to[j->pc])
				continue;
			set_label(j, L_FIX(j, j->pc));
			fast_loop_out(j, j->pc);
			jump_to(j, -1, L_INSN(j->fix_to[j->pc] - 1));
		}
	}
}

/* The second copy of an unrolled fast body (fast_loops()), right after the first, whose back-edge
 * became the inverted test that leaves the loop (branch()): a round in two takes no taken branch.  Its
 * jumps inside the body go to its own insns, its exits through the same fixups as the first copy's (r9
 * +/- u * rX is exact in any round), and its back-edge is the loop's, then the way out both share.  Its
 * code shows under the back-edge's insn (disasm --jited). */
static void fast_loop_unroll(struct jit *j)
{
	size_t be = j->pc;

	j->copy2 = true;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
	for (j->pc = j->fl_h; j->pc <= be; j->pc++) {
		set_label(j, L_U2(j, j->pc));
		if (j->fused != j->pc)
			emit_tab[j->insns[j->pc].id](j, &j->insns[j->pc]);
	}
	j->copy2 = false;
	j->pc = be;
}

static void one_pass(struct jit *j)
{
	j->moved = false;
	j->b.len = 0;
	j->b.err = 0;
	j->nstub = 0;
	j->blind_state = j->blind_seed;
	j->zf_pc = SIZE_MAX;
	j->fused = SIZE_MAX;
	prologue(j);
	for (j->pc = 0; j->pc < j->cnt; j->pc++) {
		if (j->fl == FL_FAST && j->pc > j->fl_be)
			j->fl = FL_NONE;
		if (j->fast_be && j->fast_be[j->pc]) {
			set_label(j, L_INSN(j->pc));
			fast_loop_entry(j, j->pc);
			x_pad(&j->b, fast_loop_line(j, j->pc) ? 64 : LOOP_ALIGN);
			set_label(j, L_FHEAD(j, j->pc));
			j->fl = FL_FAST;
			j->fl_h = j->pc;
			j->fl_be = j->fast_be[j->pc] - 1;
		} else {
			if (j->loop_head[j->pc])
				x_pad(&j->b, LOOP_ALIGN);
			if (!lddw_hi_stub(j, &j->insns[j->pc]))
				set_label(j, L_INSN(j->pc));
		}
		const struct vm_insn *in = &j->insns[j->pc];
		if (j->fused == j->pc)
			continue;
		emit_tab[in->id](j, in);
		if (j->fl == FL_FAST && j->pc == j->fl_be && j->unroll[j->fl_h])
			fast_loop_unroll(j);
	}
	j->fl = FL_NONE;
	set_label(j, L_INSN(j->cnt));
	fast_loop_copies(j);
	if (j->stateless) {
		if (j->nstub) /* stateless_insn() let through an insn that needs a slow path */
			j->b.err = -EINVAL;
		epilogue_stateless(j);
		/* the exit of a run that tail-called into this code (with a stub of its own) */
		set_label(j, L_FULL_EXIT(j));
		j->stateless = false;
		j->pc = j->cnt - 1; /* its stub's pc (never taken: no lock can be held, no run is untrusted) */
		emit_EXIT(j, &j->insns[j->pc]);
		j->stateless = true;
	}
	stubs(j);
	epilogue(j);
	/* callbacks (jit_call_subprog()) come in with st->entry set: the same prologue, then there */
	set_label(j, L_CB_ENTRY(j));
	if (!j->stateless) { /* no calls, so no callbacks */
		prologue(j);
		x_rm(&j->b, 0, OP_GRP5, GRP5_JMP, STATE, ST(entry));
	}
	if (j->has_callx) {
		x_pad(&j->b, 4);
		set_label(j, L_TABLE(j));
		for (size_t i = 0; i < j->cnt; i++)
			x_imm(&j->b, j->lab[L_INSN(i)], 4);
	}
}

bool jit_available(void)
{
#if defined(__x86_64__)
	return true;
#else
	return false;
#endif
}

#define JIT_MAX_PASSES 10

/* One image of prog: with every check (trust false), or the code of trusted runs.  0, *out (its code
 * not placed yet: jit_compile()) and *code (malloc'd, img->len bytes), or a negative errno with the
 * message in log. */
static int compile(struct vm_prog *prog, bool trust, struct diag *log, struct jit_image **out, uint8_t **code)
{
	struct jit j;
	struct jit_image *img = NULL;
	int err = 0;

	memset(&j, 0, sizeof(j));
	j.prog = prog;
	j.trust = trust;
	j.insns = prog->insns;
	j.cnt = prog->cnt;
	j.untrusted = prog->untrusted;
	j.blind = prog->jit_blind;
	if (j.blind && getrandom(&j.blind_seed, sizeof(j.blind_seed), GRND_NONBLOCK) != sizeof(j.blind_seed))
		j.blind_seed = (uint64_t)(uintptr_t)&j ^ (uint64_t)clock(); /* no entropy yet: still unknown to the program */
	j.blind_seed |= 1; /* xorshift needs a non-zero state */
	/* room for the code of most programs from the start (x_byte() grows it by copies) */
	j.b.cap = 16 * j.cnt + 4096;
	if (!(j.b.p = malloc(j.b.cap))) {
		err = -ENOMEM;
		goto out;
	}
	j.loop_head = calloc(j.cnt + 1, 1);
	j.entry = calloc(j.cnt + 1, 1);
	j.zero_from = calloc(prog->subprog_cnt + 1, sizeof(*j.zero_from));
	j.writes = calloc(prog->subprog_cnt + 1, sizeof(*j.writes));
	j.frameless = calloc(prog->subprog_cnt + 1, sizeof(*j.frameless));
	if (!j.loop_head || !j.entry || !j.zero_from || !j.writes || !j.frameless) {
		err = -ENOMEM;
		goto out;
	}
	j.proven = trust; /* a trusted run's pointers stay in their regions: only r10 reaches the stack */
	frame_needs(&j);
	j.entry[0] = 1;
	j.stateless = j.cnt > 0;
	for (size_t pc = 0; pc < j.cnt; pc++) {
		const struct vm_insn *in = &j.insns[pc];
		j.pc = pc;
		j.stateless &= stateless_insn(&j, in);
		j.ldpkt |= isa_info[in->id].fmt == FMT_LDABS || isa_info[in->id].fmt == FMT_LDIND;
		j.used |= (uint16_t)(1u << in->dst | 1u << in->src); /* fields a format leaves unused are 0 */
		j.has_tail_call |= in->id == ISA_TAIL_CALL;
		j.has_may_goto |= in->id == ISA_MAY_GOTO;
		j.has_callx |= in->id == ISA_CALLX;
		size_t t = pc + (size_t)((int64_t)in->off / (int64_t)sizeof(*in));
		if (isa_has_target(in->id)) {
			j.entry[t] = 1;
			if (in->off <= 0 && in->id != ISA_CALL_LOCAL)
				j.loop_head[t] = 1;
		}
		if (in->id == ISA_LDDW && prog->orig[pc].src_reg == ISA_PSEUDO_FUNC)
			j.entry[(const struct vm_insn *)(uintptr_t)in->k - j.insns] = 1;
	}
	j.ldpkt = j.ldpkt && j.stateless; /* full code reads the run from its state */
	if (!j.stateless && memchr(j.loop_head, 1, j.cnt + 1)) { /* a back-edge: maybe a counted loop */
		j.fast_be = calloc(j.cnt + 1, sizeof(*j.fast_be));
		j.fix_to = calloc(j.cnt + 1, sizeof(*j.fix_to));
		j.units = calloc(j.cnt + 1, sizeof(*j.units));
		j.line = calloc(j.cnt + 1, sizeof(*j.line));
		j.unroll = calloc(j.cnt + 1, sizeof(*j.unroll));
		if (!j.fast_be || !j.fix_to || !j.units || !j.line || !j.unroll) {
			err = -ENOMEM;
			goto out;
		}
		if ((err = fast_loops(&j)))
			goto out;
		bool any = false;
		for (size_t h = 0; h < j.cnt && !any; h++)
			any = j.fast_be[h] != 0;
		if (!any) { /* none: no labels of theirs, and one_pass() tests no fast_be[] */
			free(j.fast_be);
			j.fast_be = NULL;
		}
	}
	j.inl_lo = j.inl_hi = SIZE_MAX;
	if ((err = inline_sites(&j)))
		goto out;
	/* stubs grow as the passes add them (add_stub()); a few to start with */
	j.stub_base = L_INL_BASE(&j) + j.inl_nlab;
	j.stub_cap = 8;
	j.nlab = j.stub_base + 2 * j.stub_cap;
	j.lab = calloc(j.nlab, sizeof(*j.lab));
	j.lab_pass = calloc(j.nlab, sizeof(*j.lab_pass));
	j.stubs = malloc(j.stub_cap * sizeof(*j.stubs));
	if (!j.lab || !j.lab_pass || !j.stubs) {
		err = -ENOMEM;
		goto out;
	}
	_Static_assert(JIT_MAX_PASSES + 3 <= UINT8_MAX, "lab_pass holds a pass");
	for (j.pass = 1;; j.pass++) {
		one_pass(&j);
		if (j.b.err) {
			err = j.b.err;
			break;
		}
		if (j.pass > 1 && !j.moved)
			break;
		if (j.pass == JIT_MAX_PASSES)
			j.force_long = true;
		if (j.pass > JIT_MAX_PASSES + 2) {
			err = -EDEADLK;
			break;
		}
	}
	if (err) {
		diag_printf(log, "JIT: prog '%s': code generation failed (%d)", prog->name, err);
		goto out;
	}
	img = calloc(1, sizeof(*img));
	if (!img) {
		err = -ENOMEM;
		goto out;
	}
	img->prog = prog;
	img->cnt = j.cnt;
	img->len = j.b.len;
	img->body = j.stateless ? j.lab[L_TAIL_ENTRY(&j)] : j.lab[0];
	img->entry_zero = (uint32_t)-j.zero_from[0];
	img->budget_free = !j.counts_budget;
	img->cb_entry = j.lab[L_CB_ENTRY(&j)];
	/* the insns' labels are the offset table: the array itself, cut to them (in place, where a copy
	 * of a big program's table into new pages was a tenth of its load) */
	uint32_t *off = realloc(j.lab, (j.cnt + 1) * sizeof(*off));
	img->off = off ? off : j.lab;
	j.lab = NULL;
	img->stateless = j.stateless;
	img->ldpkt = j.stateless && j.ldpkt;
	*out = img;
	*code = j.b.p;
	img = NULL;
	j.b.p = NULL;
out:
	if (err == -ENOMEM)
		diag_printf(log, "JIT: prog '%s': out of memory", prog->name);
	if (img) {
		free(img->off);
		free(img);
	}
	free(j.b.p);
	free(j.lab);
	free(j.lab_pass);
	free(j.stubs);
	free(j.loop_head);
	free(j.entry);
	free(j.zero_from);
	free(j.writes);
	free(j.frameless);
	free(j.fast_be);
	free(j.fix_to);
	free(j.units);
	free(j.line);
	free(j.unroll);
	free(j.inl);
	return err;
}

/* The image's own memory (its code belongs to the mapping jit_free() gives back). */
static void image_free(struct jit_image *img)
{
	if (!img)
		return;
	free(img->off);
	free(img);
}

/* Both images of a program (img[1] may be NULL) into one mapping: one allocation, one seal, one free
 * (each its own cost a whole load of a small program's).  The second starts on a 64-byte line, as the
 * first does, since fast_loop_line() lays out loops by their offset in the image; what lies between
 * and after the code traps (INT3), not least what a reused region held before.  0, or a negative
 * errno with the message in log. */
static int place(struct jit_mem *m, struct jit_image *img[2], uint8_t *const code[2], const struct vm_prog *prog,
		 struct diag *log)
{
	size_t at = img[1] ? (img[0]->len + 63) & ~(size_t)63 : 0;
	size_t len = img[1] ? at + img[1]->len : img[0]->len, map_len;
	bool sealed;
	uint8_t *p = jit_exec_alloc(m, len, &map_len, &sealed);
	/* sealed: the region is never writable; the code is laid out here and written into it whole */
	uint8_t *b = p && sealed ? malloc(map_len) : p;

	if (!b) {
		if (p)
			jit_exec_free(m, p, map_len); /* sealed: kept */
		diag_printf(log, "JIT: prog '%s': out of memory", prog->name);
		return -ENOMEM;
	}
	memcpy(b, code[0], img[0]->len);
	if (img[1]) {
		memset(b + img[0]->len, OP_INT3, at - img[0]->len);
		memcpy(b + at, code[1], img[1]->len);
	}
	memset(b + len, OP_INT3, map_len - len);
	int err = 0;
	if (sealed) {
		if (jit_exec_fill(m, p, b, map_len) && !(err = jit_exec_unseal(p, map_len))) {
			memcpy(p, b, map_len);
			sealed = false;
		}
		free(b);
	}
	if (!err && !sealed)
		err = jit_exec_seal(p, map_len);
	if (err) {
		jit_exec_free(NULL, p, map_len); /* not sealed: not kept */
		diag_printf(log, "JIT: prog '%s': sealing its code failed (%d)", prog->name, err);
		return err;
	}
	img[0]->code = p;
	img[0]->map_len = map_len;
	if (img[1])
		img[1]->code = p + at;
	return 0;
}

int jit_compile(struct jit_mem *m, struct vm_prog *prog, struct diag *log)
{
	struct jit_image *img[2] = { NULL, NULL };
	uint8_t *code[2] = { NULL, NULL };
	int err = compile(prog, false, log, &img[0], &code[0]);

	/* a verified program's runs by its type's runner skip what the proofs cover; the others (plain
	 * memory for a typed program, BPFVM_CHECKS_ALWAYS) keep every check: two images */
	if (!err && prog->trust_proofs)
		err = compile(prog, true, log, &img[1], &code[1]);
	if (!err)
		err = place(m, img, code, prog, log);
	free(code[0]);
	free(code[1]);
	if (err) {
		image_free(img[0]);
		image_free(img[1]);
		return err;
	}
	prog->jit_fn = img[0];
	prog->jit_proven = img[1];
	prog->jit_len = img[0]->len;
	return 0;
}

void jit_free(struct jit_mem *m, struct vm_prog *prog)
{
	const struct jit_image *img = prog->jit_fn;

	if (img)
		jit_exec_free(m, img->code, img->map_len);
	image_free(prog->jit_fn);
	image_free(prog->jit_proven);
	prog->jit_fn = NULL;
	prog->jit_proven = NULL;
	prog->jit_len = 0;
}

size_t jit_dump_insn(const struct vm_prog *prog, size_t pc, char *buf, size_t len)
{
	const struct jit_image *img = prog->jit_proven ? prog->jit_proven : prog->jit_fn; /* as bpfvm_prog_jited() */
	size_t n = 0;

	if (len)
		buf[0] = 0;
	if (!img || pc >= img->cnt)
		return 0;
	size_t lo = img->off[pc], hi = img->off[pc + 1];
	if (hi < lo) /* an lddw's second slot lives among the stubs */
		hi = lo;
	for (size_t i = lo; i < hi; i++) {
		int w = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, "%s%02x", i > lo ? " " : "", img->code[i]);
		n += (size_t)(w > 0 ? w : 0);
	}
	return n;
}
