/* verifier.c -- the walk over all paths (Linux do_check()), the per-instruction checks and state
 * pruning.  The scalar domain is scalar.c; this file adds pointer types, the stack, references, calls
 * and the control-flow checks.
 *
 * Precision (Linux mark_chain_precision()): scalars start imprecise, and an explored state's imprecise
 * scalar matches any scalar at a prune point.  Where a scalar's value decides something (pointer
 * arithmetic, a helper's size or constant argument, a constant map key, a branch one side of which is
 * never walked, the return value, a divisor proven non-zero), the walk goes back over the path's
 * history (per state: the jumps and stack spills/fills since its last explored state) and marks the
 * registers and stack slots the value came from precise in every explored state on the path.  A state
 * pruned against an explored one inherits that one's precise marks.  Where the history cannot be
 * followed (calls into subprograms and callbacks, frames other than the main one), every scalar of
 * every state on the path becomes precise: the exact comparison of before, slower, never unsound.
 *
 * Simplifications against Linux, each sound (they can reject, never accept, more):
 *  - precision is tracked in the main frame only (see above); scalars linked by id must stay linked
 *    alike in a state that an imprecise one covers (Linux follows the links in its history instead);
 *  - liveness is static (registers read later on some path), the stack is compared byte for byte;
 *
 * Loops: inside one, a state is recorded every 20 jumps or 100 insns (Linux); a state that keeps
 * failing to cover others leaves its prune point's list, but one whose walk goes on stays in memory
 * (dormant) and comes back when that walk is done: the paths that rejoin a loop late (a failed packet
 * check per round) are covered by them instead of walking the rest of the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/helpers.h"
#include "../isa/isa.h"
#include "../util/compiler.h"
#include "scalar.h"
#include "verifier.h"

enum rtype {
	NOT_INIT,
	SCALAR,
	PTR_CTX,
	PTR_STACK,
	PTR_MAP_VALUE,
	PTR_MAP_VALUE_OR_NULL,
	CONST_MAP_PTR,
	PTR_MAP_KEY,
	PTR_PKT,
	PTR_PKT_END,
	PTR_PKT_META,
	PTR_MEM,
	PTR_MEM_OR_NULL,
	PTR_FUNC,
};

/* Linux's reg_type_str() names, as its messages print them */
static const char *const rtype_name[] = {
	[NOT_INIT] = "?", [SCALAR] = "scalar", [PTR_CTX] = "ctx", [PTR_STACK] = "fp",
	[PTR_MAP_VALUE] = "map_value", [PTR_MAP_VALUE_OR_NULL] = "map_value_or_null", [CONST_MAP_PTR] = "map_ptr",
	[PTR_MAP_KEY] = "map_key", [PTR_PKT] = "pkt", [PTR_PKT_END] = "pkt_end", [PTR_PKT_META] = "pkt_meta",
	[PTR_MEM] = "ringbuf_mem", [PTR_MEM_OR_NULL] = "ringbuf_mem_or_null", [PTR_FUNC] = "func",
};

struct reg {
	uint8_t type;          /* enum rtype */
	uint8_t frameno;       /* PTR_STACK: whose stack */
	int32_t off;           /* pointers: fixed offset; linked scalars: the constant added since the copy */
	struct scalar v;       /* SCALAR: the value; pointers: the variable offset */
	uint32_t id;           /* or-null pointers and their copies; packet pointers with one variable offset;
	                        * scalars: copies of one value (each `off` more than it: Linux BPF_ADD_CONST) */
	uint32_t ref_id;       /* reference the pointer holds (ringbuf memory) */
	uint32_t range;        /* PTR_PKT / PTR_PKT_META: bytes past off - (off at the check) proven readable */
	uint32_t mem_size;     /* PTR_MEM */
	uint32_t subprog;      /* PTR_FUNC: the callee's first insn */
	const struct vf_map *map;
	bool precise;          /* SCALAR in an explored state: its value mattered on a path from there */
};

enum { STK_INVALID, STK_MISC, STK_ZERO, STK_SPILL };

#define STACK 512
#define SLOTS (STACK / 8)
#define MAX_FRAMES 8
#define MAX_REFS 64
#define MAX_VAR_OFF (1 << 29) /* Linux BPF_MAX_VAR_OFF */

struct frame {
	struct reg r[11];
	size_t callsite;           /* the call insn in the caller (frame > 0) */
	uint32_t subprog;          /* first insn of the function */
	uint32_t depth;            /* deepest byte touched below fp */
	uint32_t cb_helper;        /* callback frames: the helper that calls it (0: a plain call) */
	struct reg cb_args[5];     /* callback frames: r1-r5 at each call */
	bool async_cb;             /* frame 0 of an async callback's own walk (Linux in_async_callback_fn) */
	struct frame *pool_next;    /* in vctx.pool while free */
	/* st[0 .. lo) are all STK_INVALID (st_set() keeps it): copies and comparisons skip what a
	 * program never touched, most of the stack for most programs */
	uint16_t lo;
	/* last, so that a copy takes the used tail of both (frame_dup()) */
	uint8_t st[STACK];         /* by byte, st[0] is fp-512 */
	struct reg spill[SLOTS];   /* STK_SPILL slots: the register; only read where st says STK_SPILL, so
	                            * slots below lo are never initialized */
};

/* The one way stack bytes become something other than STK_INVALID. */
static inline void st_set(struct frame *f, int i, uint8_t v)
{
	f->st[i] = v;
	if (i < f->lo)
		f->lo = (uint16_t)i;
}

struct state {
	size_t pc;
	int nf;                    /* frames in use */
	struct frame *f[MAX_FRAMES];
	uint32_t refs[MAX_REFS], ref_pc[MAX_REFS];
	int nrefs;
	uint32_t lock_id;          /* nonzero: a bpf_spin_lock is held (map value id) */
	const struct vf_map *lock_map;
	int32_t lock_off;
	size_t from_pc;            /* a pending branch: the jump that pushed it */
	/* The path since `parent` (Linux's jmp_history): which insn preceded each insn reached other than
	 * by falling through, and which stack slot each spill or fill used, for walking the path
	 * backwards.  The segment starts at first_pc (the prune point of parent). */
	struct hist *hist;
	uint32_t nhist, caphist;
	bool hist_lost;            /* too long: backtracking through it marks everything */
	bool hist_cur;             /* the last entry is the current insn's visit */
	size_t first_pc;
	/* Registers of the current frame whose values' sources are marked precise back to `parent` already: a
	 * backtrack from them would mark nothing new (chain_marked(); calls and exits clear it).  Bit n: rn. */
	uint16_t marked;
	uint16_t touched;          /* registers the insns since `parent` wrote or compared (touched_by()) */
	size_t prev_pc;            /* the insn walked just before pc (SIZE_MAX: none) */
	size_t log_pos;            /* ... and the log's length then (level 1 rewinds to it) */
	struct seen *parent;       /* the last state recorded on this path (Linux's parent chain) */
	struct state *pool_next;   /* in vctx.spool while free */
	/* insns walked on this path from the program's start, with the rounds of each loop widened on it
	 * counted as the exact walk would have walked them (accelerate()) */
	uint64_t walked;
	/* may_goto rounds begun on this path (Linux may_goto_depth): an ancestor at a may_goto with
	 * fewer covers by range, one with as many is the same round come back another way */
	uint32_t may_goto_depth;
};

/* An explored state at a prune point.  `branches` counts the paths still being walked that passed
 * through it (Linux's bpf_verifier_state.branches): the walk is depth-first, so while it is non-zero
 * the state is an ancestor of the current path, its walk is not done, and it proves nothing about a
 * state that reaches it again, except that one equal to it loops forever. */
struct hist {
	uint32_t idx, prev;         /* insn idx was reached from insn prev */
	int16_t slot;               /* a spill or fill of this stack slot (index into frame.spill), or -1 */
	uint8_t frame;              /* ... of this frame */
};

/* The rounds a widened state stands for, by the counter that leaves the fewest: that counter, its bound,
 * how far it moved in a round and the insns the round took (the complexity count, accelerate()). */
struct rounds {
	unsigned reg;
	uint64_t bound, pace, per;
};

struct seen {
	/* first, together: what the loop over a prune point's list reads of every state in it
	 * (prune_or_record(), consts_match()); the rest is read of the few it stops at */
	struct seen *next;
	uint32_t branches;
	uint32_t hits, misses;      /* states it covered, and did not (Linux's hit_cnt, miss_cnt) */
	/* Its registers (the innermost frame's) that are precise constants, and their values: a state whose
	 * live register differs there is not covered, found without touching the state (a loop's
	 * explored states, one per iteration, are compared with every state reaching them) */
	uint16_t cmask;
	uint16_t kmask;             /* ... and all its constants (cval holds each): for the exact
	                             * comparisons of loop detection, and those of ancestors */
	int nf;                     /* s->nf (read without touching the state) */
	uint64_t cval[11];
	struct state *s;
	/* the path from `parent` to here: insns first_pc .. last_pc (then this state's pc) */
	struct hist *hist;
	uint32_t nhist;
	bool hist_lost;
	bool all_precise;           /* every scalar marked precise, here and in every state before it */
	size_t first_pc, last_pc;
	struct seen *parent;        /* the state recorded before it on its path */
	struct seen *dnext;         /* on vctx.detached (dormant once, at least) */
	bool detached;
	bool cb_ret;                /* recorded at a callback's return to its helper call (prev_at_callsite()) */
	bool dormant;               /* off seen[] while its walk goes on (path_done() puts it back) */
	bool accel;                 /* a loop head's widened state (accelerate()): covers the states that
	                             * come back to it along the loop's back edges while it is an ancestor */
	uint64_t walked;            /* s->walked */
	struct rounds acc;          /* accel: the rounds it stands for (accelerate()) */
	uint16_t marked;            /* the path's state.marked here: registers whose sources before it
	                             * are marked (a backtrack reaching it stops for them) */
	uint16_t touched;           /* state.touched of its path's segment: a backtrack whose registers
	                             * the segment never touched (and no slots) steps over it whole */
};

/* States kept at once, over all prune points: a bound on memory (a state is about 10 KiB a frame).
 * Past it the walk goes on without recording, which costs time, never soundness. */
#define MAX_KEPT_STATES 16384

/* Explored states of other rounds of a loop kept at one prune point (distinct(): their misses do not
 * count) at most: past it they count as any miss, so that each visit's comparisons stay bounded (a
 * 1,000-round loop with a packet check per round keeps 998). */
#define MAX_DISTINCT 1024
/* Comparisons of a state with an explored one (prune_or_record()) in one walk, past which a walk with
 * widened loops stops (the exact walk gives the verdict) and any other keeps at most MAX_DISTINCT_LATE
 * distinct states at a prune point: 1,024 of them at each of many prune points made a widened walk to
 * Linux's 1,000,000-insn limit cost a billion comparisons (13 s; fuzz_jitv's ten may_goto loops in a
 * row, which the exact walk proves in 1,434 insns).  The tests' programs make at most 1.3 million. */
#define CMP_BUDGET 10000000ull
#define MAX_DISTINCT_LATE 16

/* Prune points: where states are compared.  A state is recorded there only when the walk did some
 * work since the last one (Linux is_state_visited(): 2 jumps and 8 insns), except at loop heads,
 * function starts and may_goto (PRUNE_FORCE), where loops are detected and callbacks converge. */
#define PRUNE 1
#define PRUNE_FORCE 3

/* Facts of one insn that depend on it alone, asked at every visit (insn_meta_of()). */
struct insn_meta {
	int64_t target;               /* jump_target() (meaningful where isa_target() is) */
	uint16_t touched;             /* touched_by() */
	uint16_t cm_and[2], cm_or[2]; /* chain_marked(m) = (m & cm_and[b]) | cm_or[b], b: bit src of m */
	uint8_t src;                  /* in->src_reg */
	bool writes_fp;               /* isa_writes() has r10 (isa_validate() refuses it) */
};

struct vctx {
	struct vf_env *env;
	const struct bpf_insn *in;
	size_t cnt;
	int16_t *ids;               /* per insn: isa_decode() of it, once (-1: lddw's second half) */
	struct insn_meta *meta;     /* per insn: what the walk asks of it at every visit, computed once */
	uint8_t *prune;             /* per insn: PRUNE, PRUNE_FORCE or 0 */
	bool cb_return;             /* prune_or_record() of a state back at its callback's call */
	uint64_t jmps, prev_jmps, prev_insns; /* jumps walked; both counts when a state was last recorded */
	uint16_t *live;             /* per insn: registers read on some path from it (bit n: rn) */
	uint32_t *subprog_of;       /* per insn: the first insn of its function */
	uint32_t *fn_depth;         /* per function start: deepest stack seen */
	bool stack_raw;             /* a stack address may be read by what the walk does not follow
				     * (vf_env.frame_depth) */
	uint8_t *async_root;        /* per function start: an async callback, a root of its own call chains */
	uint8_t *callx_to;          /* per function start: some callx calls it (check_stack_depth) */
	struct seen **seen;
	uint32_t *nseen;
	size_t kept;                /* states in seen[], all prune points: the current count */
	uint64_t cmps;              /* states compared so far (CMP_BUDGET) */
	size_t peak_states;         /* the most kept at once (Linux's peak_states in the statistics) */
	struct seen *detached;      /* evicted while their paths were still walked: freed at the end */
	struct state **stack;       /* pending branches */
	size_t nstack, capstack;
	uint32_t next_id;
	uint64_t processed;
	/* the log at levels 1 and 2 */
	size_t line_end;            /* log length after the current insn's line (SIZE_MAX: none) */
	size_t line_start;          /* where that line starts */
	uint16_t scratch;           /* registers the insn read or wrote: their state ends its line */
	uint64_t scratch_slots;     /* stack slots it wrote (bit k: fp-8*(k+1)) */
	bool popped;                /* the path just began at a pending branch */
	struct frame *pool;         /* frames freed, for the next allocations (frame_alloc()) */
	/* loop acceleration (accelerate()): off when a log is asked for, and in the exact pass */
	bool accel_on;
	uint32_t naccel;            /* widened states recorded: a refusal then means nothing (the exact
	                             * pass decides) */
	uint8_t *loop_head;         /* per insn: the target of a backward jump */
	struct loop **loops;        /* per loop head: its analysis (loop_of()), once */
	uint8_t *guard;             /* per insn: an increment of a counter some loop's proof relies on */
	size_t loop_bytes;          /* memory loop_of() took, bounded */
	struct rounds acc;          /* accelerate()'s, for the widened state recorded next */
	/* a widened loop whose rounds the first one may not stand for (accel_covers(), verify()): an
	 * acceptance is then confirmed by the exact walk, whose count of insns is the limit's */
	bool accel_unsure;
	struct state *spool;        /* states freed, for the next state_dup() */
};

/* ---- states ---------------------------------------------------------------------------------- */

/* Frames (10 KiB each, one per call and per state copied) come from a pool the walk keeps, not from
 * malloc each time; the checked build (ASan) takes them from malloc, so that a frame used after its
 * state is freed is reported. */
static struct frame *frame_alloc(struct vctx *c)
{
#ifndef BPFVM_CHECKED
	struct frame *f = c->pool;
	if (f) {
		c->pool = f->pool_next;
		return f;
	}
#else
	(void)c;
#endif
	return malloc(sizeof(struct frame));
}

static void frame_release(struct vctx *c, struct frame *f)
{
#ifndef BPFVM_CHECKED
	if (f) {
		f->pool_next = c->pool;
		c->pool = f;
	}
#else
	(void)c;
	free(f);
#endif
}

static struct frame *frame_dup(struct vctx *c, const struct frame *f)
{
	struct frame *n = frame_alloc(c);
	if (!n)
		return NULL;
	size_t lo = f->lo & ~7u;
	memcpy(n, f, offsetof(struct frame, st));
	memset(n->st, STK_INVALID, lo);
	memcpy(n->st + lo, f->st + lo, STACK - lo);
	memcpy(&n->spill[lo / 8], &f->spill[lo / 8], (SLOTS - lo / 8) * sizeof(n->spill[0]));
	return n;
}

/* States (one per branch walked and per state recorded) are pooled as frames are: malloc() and free()
 * of each were a tenth of a counting loop's walk.  The checked build (ASan) frees each, as it does frames. */
static void state_free(struct vctx *c, struct state *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nf; i++)
		frame_release(c, s->f[i]);
	free(s->hist);
#ifndef BPFVM_CHECKED
	s->pool_next = c->spool;
	c->spool = s;
#else
	free(s);
#endif
}

static struct state *state_dup(struct vctx *c, const struct state *s)
{
	struct state *n = c->spool;
	if (n)
		c->spool = n->pool_next;
	else if (!(n = malloc(sizeof(*n))))
		return NULL;
	memcpy(n, s, sizeof(*n));
	n->hist = NULL;
	n->caphist = n->nhist;
	if (s->nhist && !(n->hist = malloc(s->nhist * sizeof(*n->hist)))) {
		n->nf = 0;
		state_free(c, n);
		return NULL;
	}
	if (s->nhist)
		memcpy(n->hist, s->hist, s->nhist * sizeof(*n->hist));
	for (int i = 0; i < s->nf; i++) {
		n->f[i] = frame_dup(c, s->f[i]);
		if (!n->f[i]) {
			n->nf = i;
			state_free(c, n);
			return NULL;
		}
	}
	return n;
}

/* A copy of a zero register, then the fields that differ: the compiler writes it with a few vector
 * moves, where a memset() or a compound literal of the whole struct became a `rep stos` (a fifth of the
 * walk's own time on a counting loop, whose compare builds its constant operand at every iteration). */
static const struct reg reg_zero;

static void mark_unknown(struct reg *r)
{
	*r = reg_zero;
	r->type = SCALAR;
	r->v = scalar_unknown();
}

static void mark_const(struct reg *r, uint64_t v)
{
	*r = reg_zero;
	r->type = SCALAR;
	r->v = scalar_const(v);
}

static void mark_not_init(struct reg *r) { *r = reg_zero; }

static void init_frame(struct frame *f, int frameno, uint32_t subprog, size_t callsite)
{
	memset(f, 0, offsetof(struct frame, spill));
	f->lo = STACK;
	f->r[10].type = PTR_STACK;
	f->r[10].frameno = (uint8_t)frameno;
	f->r[10].v = scalar_const(0);
	f->subprog = subprog;
	f->callsite = callsite;
}

static bool is_ptr(const struct reg *r) { return r->type != NOT_INIT && r->type != SCALAR; }

/* ---- linked scalars (Linux assign_scalar_id_before_mov(), sync_linked_regs()) ----------------- */

static void unlink_scalar(struct reg *r)
{
	if (r->type == SCALAR) {
		r->id = 0;
		r->off = 0;
	}
}

/* Before a copy of scalar r (mov, spill, fill): an id its copies share.  One that is already some
 * constant more than its copies leaves them (one added constant per link); a known constant needs
 * no link. */
static void link_before_copy(struct vctx *c, struct reg *r)
{
	if (r->type != SCALAR)
		return;
	if (r->off)
		unlink_scalar(r);
	if (!r->id && !scalar_is_const(&r->v))
		r->id = ++c->next_id;
}

/* How many bits the unsigned value needs (Linux get_reg_width()). */
static unsigned scalar_width(const struct reg *r) { return r->v.umax ? 64u - (unsigned)__builtin_clzll(r->v.umax) : 0u; }

static bool is_null_scalar(const struct reg *r)
{
	return r->type == SCALAR && scalar_is_const(&r->v) && r->v.var_off.value == 0;
}

/* ---- messages -------------------------------------------------------------------------------- */

static int err_at(struct vctx *c, size_t pc, int err, const char *fmt, ...) PRINTF_FMT(4, 5);
static int err_at(struct vctx *c, size_t pc, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_printf(c->env->log, "insn %zu: %s", pc, msg);
	if (!c->env->errmsg[0])
		snprintf(c->env->errmsg, sizeof(c->env->errmsg), "insn %zu: %s", pc, msg);
	return err;
}

static const char *tn(const struct reg *r) { return rtype_name[r->type]; }

/* ---- the log at levels 1 and 2 (Linux kernel/bpf/log.c notation) ------------------------------- */

struct sbuf {
	char *p;
	size_t len, pos;
};

PRINTF_FMT(2, 3)
static void sput(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->pos < b->len ? b->p + b->pos : NULL, b->pos < b->len ? b->len - b->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->pos += (size_t)n;
}

/* Linux verbose_snum()/verbose_unum(): decimal for small magnitudes, hex otherwise */
static void put_snum(struct sbuf *b, int64_t v)
{
	if (v >= -32768 && v <= 32767)
		sput(b, "%lld", (long long)v);
	else
		sput(b, "%#llx", (unsigned long long)v);
}

static void put_unum(struct sbuf *b, uint64_t v)
{
	if (v <= 32767)
		sput(b, "%llu", (unsigned long long)v);
	else
		sput(b, "%#llx", (unsigned long long)v);
}

/* Linux print_scalar_ranges(): the bounds that say something, equal ones merged ("smax=umax=255") */
static void put_ranges(struct sbuf *b, const struct scalar *v, const char **sep)
{
	struct {
		const char *name;
		uint64_t val;
		bool omit;
	} m[] = {
		{ "smin", (uint64_t)v->smin, v->smin == INT64_MIN },
		{ "smax", (uint64_t)v->smax, v->smax == INT64_MAX },
		{ "umin", v->umin, v->umin == 0 },
		{ "umax", v->umax, v->umax == UINT64_MAX },
		{ "smin32", (uint64_t)(int64_t)v->s32_min, v->s32_min == INT32_MIN },
		{ "smax32", (uint64_t)(int64_t)v->s32_max, v->s32_max == INT32_MAX },
		{ "umin32", v->u32_min, v->u32_min == 0 },
		{ "umax32", v->u32_max, v->u32_max == UINT32_MAX },
	};
	size_t cnt = sizeof(m) / sizeof(m[0]);
	for (size_t i = 0; i < cnt; i++) {
		if (m[i].omit)
			continue;
		bool neg = m[i].name[0] == 's' && (int64_t)m[i].val < 0;
		sput(b, "%s%s=", *sep, m[i].name);
		*sep = ",";
		for (size_t j = i + 2; j < cnt; j += 2) {
			if (m[j].omit || m[j].val != m[i].val || (m[j].name[0] == 's' && (int64_t)m[j].val < 0) != neg)
				continue;
			m[j].omit = true;
			sput(b, "%s=", m[j].name);
		}
		if (m[i].name[0] == 's')
			put_snum(b, (int64_t)m[i].val);
		else
			put_unum(b, m[i].val);
	}
}

/* Linux print_reg_state(): "ctx()", "fp-8", "map_value_or_null(id=1,ks=4,vs=8)", "pkt(off=14,r=14)",
 * "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))", "42" */
static void put_reg(struct sbuf *b, const struct reg *r, int frameno)
{
	const char *sep = "";
	bool cst = scalar_is_const(&r->v);
	if (r->type == SCALAR && cst) {
		put_snum(b, (int64_t)r->v.var_off.value);
		return;
	}
	sput(b, "%s", rtype_name[r->type]);
	if (r->type == PTR_STACK) {
		if (r->frameno != frameno)
			sput(b, "[%d]", r->frameno);
		if (cst) {
			put_snum(b, (int64_t)r->v.var_off.value + r->off);
			return;
		}
	}
	sput(b, "(");
	/* Linux forgets a map value's id once it is null-checked, unless the value holds a lock */
	if (r->id && (r->type != PTR_MAP_VALUE || (r->map && r->map->spin_lock_off != UINT32_MAX)))
		sput(b, "%sid=%u", sep, r->id), sep = ",";
	if (r->type == SCALAR && r->off)
		sput(b, "%+d", r->off); /* a linked copy plus a constant: "id=1+4" */
	if (r->ref_id)
		sput(b, "%sref_obj_id=%u", sep, r->ref_id), sep = ",";
	if (r->map && (r->type == CONST_MAP_PTR || r->type == PTR_MAP_VALUE || r->type == PTR_MAP_VALUE_OR_NULL ||
		       r->type == PTR_MAP_KEY))
		sput(b, "%sks=%u,vs=%u", sep, r->map->key_size, r->map->value_size), sep = ",";
	if (r->type != SCALAR && r->off) {
		sput(b, "%soff=", sep), sep = ",";
		put_snum(b, r->off);
	}
	if (r->type == PTR_PKT || r->type == PTR_PKT_META) {
		sput(b, "%sr=", sep), sep = ",";
		put_unum(b, r->range);
	}
	if (r->type == PTR_MEM || r->type == PTR_MEM_OR_NULL) {
		sput(b, "%ssz=", sep), sep = ",";
		put_unum(b, r->mem_size);
	}
	if (cst) {
		if (r->v.var_off.value) {
			sput(b, "%simm=", sep);
			put_snum(b, (int64_t)r->v.var_off.value);
		}
	} else {
		put_ranges(b, &r->v, &sep);
		/* Linux tnum_strn(): "(%#llx; %#llx)" of the kernel's printf, which prints 0 as 0x0 */
		if (r->v.var_off.mask != UINT64_MAX)
			sput(b, "%svar_off=(0x%llx; 0x%llx)", sep, (unsigned long long)r->v.var_off.value,
			     (unsigned long long)r->v.var_off.mask);
	}
	sput(b, ")");
}

/* Linux print_verifier_state() of the current frame: registers in `regs` (all when ~0) and written
 * stack slots in `slots` (bit k: fp-8*(k+1); all when ~0), as " R1=ctx() R10=fp0 fp-8=mmmm????" */
static void put_state(struct sbuf *b, const struct state *s, uint16_t regs, uint64_t slots)
{
	const struct frame *f = s->f[s->nf - 1];
	int fno = s->nf - 1;
	for (unsigned i = 0; i < 11; i++) {
		if (f->r[i].type == NOT_INIT || !(regs & (1u << i)))
			continue;
		sput(b, " R%u=", i);
		put_reg(b, &f->r[i], fno);
	}
	for (unsigned k = 0; k < SLOTS; k++) {
		if (!(slots & (1ull << k)))
			continue;
		const uint8_t *st = &f->st[STACK - 8 * (k + 1)];
		char types[9];
		bool valid = false;
		for (int j = 0; j < 8; j++) {
			static const char ch[] = { [STK_INVALID] = '?', [STK_MISC] = 'm', [STK_ZERO] = '0', [STK_SPILL] = 'r' };
			types[j] = ch[st[7 - j]];
			valid |= st[7 - j] != STK_INVALID;
		}
		types[8] = 0;
		if (!valid)
			continue;
		sput(b, " fp%d=", -8 * (int)(k + 1));
		if (st[0] == STK_SPILL) /* Linux: the slot's first byte says (a narrower spill too) */
			put_reg(b, &f->spill[(STACK - 8 * (k + 1)) / 8], fno);
		else
			sput(b, "%s", types);
	}
	if (s->nrefs) {
		sput(b, " refs=%u", s->refs[0]);
		for (int i = 1; i < s->nrefs; i++)
			sput(b, ",%u", s->refs[i]);
	}
	if (f->async_cb)
		sput(b, " async_cb");
	else if (f->cb_helper)
		sput(b, " cb");
}

/* Linux: levels 1 and 2 (bits 0 and 1) print the walk; 4 (BPF_LOG_STATS) alone only the statistics
 * and what a rejection says */
static bool logging(const struct vctx *c) { return (c->env->log_level & 3) && c->env->log; }

/* "N: R1=ctx() R10=fp0" at a path's start, "from P to N: ..." at a pending branch (Linux do_check()) */
static void log_path_start(struct vctx *c, const struct state *s, bool first)
{
	char buf[2048];
	struct sbuf b = { buf, sizeof(buf), 0 };
	if (!logging(c))
		return;
	buf[0] = 0;
	put_state(&b, s, 0xffff, ~0ull);
	if (first)
		diag_printf(c->env->log, "%zu:%s", s->pc, buf);
	else
		c->popped = true; /* do_check() prints "from P to N:" with the state or " safe" */
}

static void log_popped(struct vctx *c, const struct state *s, bool safe)
{
	char buf[2048];
	struct sbuf b = { buf, sizeof(buf), 0 };
	c->popped = false;
	if (!logging(c))
		return;
	buf[0] = 0;
	if (safe)
		sput(&b, " safe");
	else
		put_state(&b, s, 0xffff, ~0ull);
	diag_printf(c->env->log, "%s", "");
	diag_printf(c->env->log, "from %zu to %zu:%s", s->from_pc, s->pc, buf);
}

/* Ends the previous insn's line with the state of what it touched: "<pad>; R0=map_value(ks=4,vs=8)" at
 * column 38 as Linux aligns it (print_insn_state()), unless something else was logged since. */
static void log_insn_end(struct vctx *c, const struct state *s)
{
	struct diag *log = c->env->log;
	if (!logging(c) || c->line_end != log->len || (!c->scratch && !c->scratch_slots)) {
		c->line_end = SIZE_MAX;
		return;
	}
	char buf[2048];
	struct sbuf b = { buf, sizeof(buf), 0 };
	buf[0] = 0;
	put_state(&b, s, c->scratch, c->scratch_slots);
	c->line_end = SIZE_MAX;
	if (!b.pos)
		return;
	size_t col = log->len - c->line_start, at = col < 38 ? 38 : (col + 2) / 40 * 40 + 38;
	diag_append(log, "%*s;%s", (int)(at - col), "", buf);
}

/* "N: (bf) r2 = r10" before the insn is checked (Linux verbose_insn()); its state follows once done */
static void log_insn(struct vctx *c, const struct state *s, uint16_t scratch)
{
	struct diag *log = c->env->log;
	const struct bpf_insn *in = &c->in[s->pc];
	int id = c->ids[s->pc];
	char txt[160];
	if (!logging(c))
		return;
	if (id == ISA_CALL) {
		const struct hlp_proto *h = hlp_get((uint32_t)in->imm);
		snprintf(txt, sizeof(txt), "call %s%s#%d", h ? "bpf_" : "", h ? h->name : "unknown", in->imm);
	} else if (id == ISA_CALL_LOCAL) {
		snprintf(txt, sizeof(txt), "call pc%+d", in->imm);
	} else if (id == ISA_CALL_KFUNC) {
		snprintf(txt, sizeof(txt), "call kernel-function");
	} else {
		isa_disasm_one_ex(in, c->cnt - s->pc, ISA_DISASM_KERNEL, txt, sizeof(txt));
	}
	diag_printf(log, "%zu: (%02x) %s", s->pc, in->code, txt);
	c->line_start = log->len - strlen(txt) - (size_t)snprintf(NULL, 0, "%zu: (%02x) ", s->pc, in->code);
	c->line_end = log->len;
	c->scratch = scratch;
	c->scratch_slots = 0;
}

/* A store through a stack pointer with a known offset: its slot ends the insn's line too. */
static void log_slot(struct vctx *c, const struct reg *p, int32_t off)
{
	if (!logging(c) || p->type != PTR_STACK || !scalar_is_const(&p->v))
		return;
	int64_t o = (int64_t)p->off + off + (int64_t)p->v.var_off.value;
	if (o < 0 && o >= -STACK)
		c->scratch_slots |= 1ull << ((-o - 1) / 8);
}

/* ---- control flow (Linux check_subprogs + check_cfg) --------------------------------------- */

static int64_t jump_target(const struct bpf_insn *in, size_t pc) { return isa_target(in, pc); }

/* The insns the walk may take after pc in its function (a call comes back to the next insn). */
static int succ_of(const struct vctx *c, size_t pc, size_t next[2])
{
	int id = c->ids[pc];
	uint32_t fl = isa_info[id].flags;
	if (id == ISA_EXIT)
		return 0;
	if (isa_is_goto(id)) {
		next[0] = (size_t)c->meta[pc].target;
		return 1;
	}
	if ((fl & F_JMP) && !(fl & F_CALL)) {
		next[0] = (size_t)c->meta[pc].target;
		next[1] = pc + 1;
		return 2;
	}
	next[0] = pc + (id == ISA_LDDW ? 2 : 1);
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool calls_sync_callback(const struct vctx *c, size_t i);

static int check_cfg(struct vctx *c)
{
	size_t n = c->cnt;
	uint32_t *starts = calloc(n + 1, sizeof(*starts));
	uint8_t *seen = calloc(n, 1);
	size_t *todo = calloc(n + 1, sizeof(*todo));
	size_t ns = 0, nt = 0;
	int err = 0;
	if (!starts || !seen || !todo) {
		err = -ENOMEM;
		goto out;
	}
	starts[ns++] = 0;
	for (size_t pc = 0; pc < n; pc++) {
		int id = c->ids[pc];
		if (isa_is_func_ref(&c->in[pc])) {
			int64_t t = jump_target(&c->in[pc], pc);
			if (NEVER(t < 0 || (size_t)t >= n)) { /* isa_validate(): "call to invalid destination" */
				err = -EINVAL;
				goto out;
			}
			starts[ns++] = (uint32_t)t;
		}
		if (id == ISA_LDDW)
			pc++;
	}
	qsort(starts, ns, sizeof(*starts), cmp_u32);
	size_t k = 0;
	for (size_t i = 0; i < ns; i++)
		if (!k || starts[k - 1] != starts[i])
			starts[k++] = starts[i];
	ns = k;
	/* every insn belongs to the function starting at the last start at or before it */
	for (size_t i = 0, pc = 0; pc < n; pc++) {
		if (i + 1 < ns && starts[i + 1] == pc)
			i++;
		c->subprog_of[pc] = starts[i];
		c->prune[starts[i]] = PRUNE_FORCE;
	}
	/* jumps stay inside their function; a function ends with an exit or a jump */
	for (size_t i = 0; i < ns; i++) {
		size_t lo = starts[i], hi = i + 1 < ns ? starts[i + 1] : n;
		for (size_t pc = lo; pc < hi; pc++) {
			const struct bpf_insn *in = &c->in[pc];
			int id = c->ids[pc];
			uint32_t fl = isa_info[id].flags;
			if ((fl & F_JMP) && !(fl & (F_CALL | F_EXIT))) {
				int64_t t = jump_target(in, pc);
				if (t < (int64_t)lo || t >= (int64_t)hi) {
					err = err_at(c, pc, -EINVAL, "jump out of range from insn %zu to %lld", pc, (long long)t);
					goto out;
				}
				c->prune[t] |= PRUNE;
				if (c->loop_head && (size_t)t <= pc)
					c->loop_head[t] = 1;
				if (!isa_is_goto(id) && pc + 1 < n)
					c->prune[pc + 1] |= PRUNE;
				if (id == ISA_MAY_GOTO)
					c->prune[pc] = PRUNE_FORCE; /* Linux: a checkpoint at every may_goto */
			}
			if ((fl & F_CALL) && pc + 1 < n)
				c->prune[pc + 1] |= PRUNE;
			if (calls_sync_callback(c, pc))
				c->prune[pc] = PRUNE_FORCE; /* Linux: a checkpoint before a callback's calls */
			if (id == ISA_LDDW)
				pc++;
		}
		size_t last = hi - 1;
		if (last > lo && c->ids[last - 1] == ISA_LDDW && c->ids[last] < 0)
			last--;
		int lid = c->ids[last];
		if (lid < 0 || isa_falls_through(lid)) {
			err = err_at(c, last, -EINVAL, "last insn is not an exit or jmp");
			goto out;
		}
	}
	/* reachability from insn 0, following calls and function pointers */
	todo[nt++] = 0;
	seen[0] = 1;
	while (nt) {
		size_t pc = todo[--nt];
		const struct bpf_insn *in = &c->in[pc];
		int id = c->ids[pc];
		size_t next[3];
		int nn = succ_of(c, pc, next);
		/* and the callee, or a function whose address an lddw takes */
		if (id == ISA_CALL_LOCAL || (id == ISA_LDDW && isa_is_func_ref(in)))
			next[nn++] = (size_t)jump_target(in, pc);
		if (id == ISA_LDDW)
			seen[pc + 1] = 1;
		for (int i = 0; i < nn; i++) {
			if (NEVER(next[i] >= n)) { /* isa_validate(): targets in range, the last insn ends the path */
				err = -EINVAL;
				goto out;
			}
			if (!seen[next[i]]) {
				seen[next[i]] = 1;
				todo[nt++] = next[i];
			}
		}
	}
	for (size_t pc = 0; pc < n; pc++)
		if (!seen[pc]) {
			err = err_at(c, pc, -EINVAL, "unreachable insn %zu", pc);
			goto out;
		}
out:
	free(starts);
	free(seen);
	free(todo);
	return err;
}

/* ---- liveness: registers some path from each insn reads before writing -------------------- */

static unsigned helper_arg_cnt(uint32_t id)
{
	const struct hlp_proto *h = hlp_get(id);
	unsigned n = 0;
	if (!h)
		return 5;
	for (unsigned i = 0; i < 5; i++)
		if (h->args[i] != ARG_NONE && h->args[i] != ARG_FMT_VALUE) /* Linux's proto declares neither */
			n = i + 1;
	return n;
}

static void insn_uses(const struct bpf_insn *in, int id, uint16_t *use, uint16_t *def)
{
	const struct isa_info *info = &isa_info[id];
	uint16_t u = 0;
	switch (info->fmt) {
	case FMT_ALU_K:
	case FMT_NEG:
	case FMT_END:
		u = (uint16_t)(1u << in->dst_reg);
		if ((id == ISA_MOV64_K || id == ISA_MOV32_K))
			u = 0;
		break;
	case FMT_ALU_X:
	case FMT_MOVSX:
		u = (uint16_t)(1u << in->src_reg | ((id == ISA_MOV64_X || id == ISA_MOV32_X || info->fmt == FMT_MOVSX) ? 0 : 1u << in->dst_reg));
		break;
	case FMT_JMP_K:
		u = (uint16_t)(1u << in->dst_reg);
		break;
	case FMT_JMP_X:
		u = (uint16_t)(1u << in->dst_reg | 1u << in->src_reg);
		break;
	case FMT_CALL:
		u = (uint16_t)(((1u << helper_arg_cnt((uint32_t)in->imm)) - 1) << 1);
		break;
	case FMT_CALL_LOCAL:
	case FMT_CALL_KFUNC:
		u = 0x3e;
		break;
	case FMT_CALLX:
		u = (uint16_t)(0x3e | 1u << in->dst_reg);
		break;
	case FMT_NONE: /* exit */
		u = 1;
		break;
	case FMT_LDABS:
		u = 1u << 6;
		break;
	case FMT_LDIND:
		u = (uint16_t)(1u << 6 | 1u << in->src_reg);
		break;
	case FMT_LDX:
	case FMT_LDACQ:
		u = (uint16_t)(1u << in->src_reg);
		break;
	case FMT_ST:
		u = (uint16_t)(1u << in->dst_reg);
		break;
	case FMT_STX:
	case FMT_ATOMIC:
		u = (uint16_t)(1u << in->dst_reg | 1u << in->src_reg);
		if (info->flags & F_R0)
			u |= 1;
		break;
	default:
		break;
	}
	*use = u;
	*def = (uint16_t)(isa_writes(id, in) & 0x7ff); /* the one rule for what an insn writes */
}

static void compute_liveness(struct vctx *c)
{
	/* backward fixpoint; the frame pointer is always live */
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = c->cnt; i-- > 0;) {
			const struct bpf_insn *in = &c->in[i];
			int id = c->ids[i];
			if (id < 0)
				continue; /* second slot of lddw */
			uint32_t fl = isa_info[id].flags;
			uint16_t use, def, out = 0;
			insn_uses(in, id, &use, &def);
			if (id == ISA_EXIT) {
				out = 0;
			} else if (isa_is_goto(id)) {
				out = c->live[jump_target(in, i)];
			} else if ((fl & F_JMP) && !(fl & F_CALL)) {
				out = (uint16_t)(c->live[jump_target(in, i)] | (i + 1 < c->cnt ? c->live[i + 1] : 0));
			} else {
				size_t nx = i + ((fl & F_WIDE) ? 2 : 1);
				out = nx < c->cnt ? c->live[nx] : 0;
			}
			uint16_t l = (uint16_t)(use | (out & ~def) | 1u << 10);
			if (l != c->live[i]) {
				c->live[i] = l;
				changed = true;
			}
		}
	}
}

/* ---- pruning: is every concrete state of cur one of old's? (Linux states_equal) -------------- */

struct idmap {
	uint32_t old[128], cur[128];
	int n;
};

static bool ids_match(struct idmap *m, uint32_t o, uint32_t c)
{
	if (!o && !c)
		return true;
	if (!o || !c)
		return false;
	for (int i = 0; i < m->n; i++)
		if (m->old[i] == o || m->cur[i] == c)
			return m->old[i] == o && m->cur[i] == c;
	if (m->n == 128)
		return false;
	m->old[m->n] = o;
	m->cur[m->n++] = c;
	return true;
}

static bool scalar_equal(const struct scalar *a, const struct scalar *b)
{
	return scalar_subsumes(a, b) && scalar_subsumes(b, a);
}

/* Linux regs_exact(): the same register state, ids mapped one to one. */
static bool regs_exact(const struct reg *o, const struct reg *c, struct idmap *m)
{
	return o->type == c->type && o->off == c->off && o->frameno == c->frameno && o->map == c->map &&
	       o->mem_size == c->mem_size && o->subprog == c->subprog && o->range == c->range &&
	       scalar_equal(&o->v, &c->v) && ids_match(m, o->id, c->id) && ids_match(m, o->ref_id, c->ref_id);
}

/* How states are compared (Linux enum exact_level): LOOSE ignores the values of imprecise scalars,
 * RANGE compares every scalar's bounds (states whose walk is not done: their precise marks are not
 * complete yet), EXACT wants the same state (infinite loops). */
enum cmp { CMP_LOOSE, CMP_RANGE, CMP_EXACT };

static bool regsafe(const struct reg *o, const struct reg *c, struct idmap *m, enum cmp mode)
{
	if (mode == CMP_EXACT)
		return regs_exact(o, c, m);
	if (o->type == NOT_INIT)
		return true; /* the old path never read it */
	if (c->type != o->type)
		return false;
	if (o->type == SCALAR)
		/* a link the old path may have used to learn bounds must be there too (also for an imprecise
		 * scalar: a branch on one of its copies may bound a precise one) */
		return (!o->id || (ids_match(m, o->id, c->id) && o->off == c->off)) &&
		       ((mode == CMP_LOOSE && !o->precise) || scalar_subsumes(&o->v, &c->v));
	if (o->off != c->off || o->frameno != c->frameno || o->map != c->map || o->mem_size != c->mem_size ||
	    o->subprog != c->subprog || !scalar_subsumes(&o->v, &c->v))
		return false;
	if ((o->type == PTR_PKT || o->type == PTR_PKT_META) && o->range > c->range)
		return false;
	return ids_match(m, o->id, c->id) && ids_match(m, o->ref_id, c->ref_id);
}

static bool stacksafe(const struct frame *o, const struct frame *c, struct idmap *m, enum cmp mode)
{
	/* below o's lo o has nothing (safe unless exact); below both neither has */
	int start = (mode == CMP_EXACT && c->lo < o->lo ? c->lo : o->lo) & ~7;
	for (int i = start; i < STACK; i++) {
		if (!(i & 7)) {
			/* a whole slot at once where it decides: o has nothing there, or both hold the same
			 * bytes and no spilled register */
			uint64_t wa, wb;
			memcpy(&wa, &o->st[i], 8);
			memcpy(&wb, &c->st[i], 8);
			if ((!wa && mode != CMP_EXACT) ||
			    (wa == wb && !memchr(&o->st[i], STK_SPILL, 8))) {
				i += 7;
				continue;
			}
		}
		uint8_t a = o->st[i], b = c->st[i];
		if (mode == CMP_EXACT) {
			if (a != b || (a == STK_SPILL && i % 8 == 0 && !regs_exact(&o->spill[i / 8], &c->spill[i / 8], m)))
				return false;
			continue;
		}
		if (a == STK_INVALID)
			continue;
		if (a == STK_MISC && (b == STK_MISC || b == STK_ZERO || (b == STK_SPILL && c->spill[i / 8].type == SCALAR)))
			continue;
		if (a == STK_ZERO && (b == STK_ZERO || (b == STK_SPILL && c->spill[i / 8].type == SCALAR &&
						       scalar_is_const(&c->spill[i / 8].v) && !c->spill[i / 8].v.var_off.value)))
			continue;
		if (a == STK_SPILL && b == STK_SPILL) {
			if (i % 8 == 0 && !regsafe(&o->spill[i / 8], &c->spill[i / 8], m, mode)) /* its first byte: every spill has it */
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* CMP_EXACT: every register and stack byte the same (loop detection); else every state of s is one of
 * o's, on what is live, where o's imprecise scalars count only under CMP_LOOSE. */
/* A precise register holding one constant in o and another in s: the states of two iterations of a loop
 * whose counter matters, which compare unequal however the rest looks. */
static bool other_iteration(const struct reg *o, const struct reg *c)
{
	return o->type == SCALAR && c->type == SCALAR && o->precise && scalar_is_const(&o->v) && scalar_is_const(&c->v) &&
	       o->v.var_off.value != c->v.var_off.value;
}

/* *distinct (optional): set when they differ in a loop counter (other_iteration()). */
static bool states_equal(struct vctx *c, const struct state *o, const struct state *s, enum cmp mode, bool *distinct)
{
	struct idmap m;
	bool exact = mode == CMP_EXACT;
	m.n = 0;
	if (mode == CMP_LOOSE && c->env->unpriv)
		mode = CMP_RANGE; /* Linux: without CAP_BPF every scalar is precise */
	if (o->nf != s->nf || o->nrefs != s->nrefs || !!o->lock_id != !!s->lock_id || o->lock_map != s->lock_map ||
	    o->lock_off != s->lock_off)
		return false;
	for (int i = 0; i < o->nf; i++) {
		const struct frame *fo = o->f[i], *fc = s->f[i];
		if (fo->callsite != fc->callsite || fo->subprog != fc->subprog || fo->cb_helper != fc->cb_helper)
			return false;
		/* the innermost frame is at pc; the others resume after their callee's call */
		uint16_t live = i == o->nf - 1 ? c->live[s->pc] : (uint16_t)(c->live[o->f[i + 1]->callsite + 1] & 0x7c0);
		for (int r = 0; r < 11; r++)
			if ((exact || (live >> r & 1)) && !regsafe(&fo->r[r], &fc->r[r], &m, mode)) {
				if (distinct)
					*distinct = other_iteration(&fo->r[r], &fc->r[r]);
				return false;
			}
		if (!stacksafe(fo, fc, &m, mode))
			return false;
	}
	for (int i = 0; i < o->nrefs; i++)
		if (!ids_match(&m, o->refs[i], s->refs[i]))
			return false;
	return !o->lock_id || ids_match(&m, o->lock_id, s->lock_id);
}

/* Where an ancestor still being walked may cover the current state: a callback entered again (the helper
 * bounds how often: Linux calls_callback()).  A may_goto is the other place, per ancestor: one that began
 * fewer rounds (its budget bounds the loop: Linux is_may_goto_insn_at(), prune_or_record()). */
static bool ancestor_covers_ok(struct vctx *c, const struct state *s)
{
	const struct frame *f = s->f[s->nf - 1];
	return (f->cb_helper && !f->async_cb && s->pc == f->subprog) || c->cb_return;
}

/* A path ended (exit, pruned, or refused): the states recorded on it have one walk fewer pending
 * (Linux update_branch_counts()). */
static void path_done(struct vctx *c, struct seen *p)
{
	for (; p; p = p->parent) {
		if (--p->branches)
			break;
		if (p->dormant) { /* its walk is done: it covers what it covers (prune_or_record()) */
			size_t pc = p->s->pc;
			p->dormant = false;
			p->next = c->seen[pc];
			c->seen[pc] = p;
			c->nseen[pc]++;
		}
	}
}

/* ---- precision (Linux mark_chain_precision(), backtrack_insn()) ------------------------------ */

/* A state's history keeps at most this many entries; past it, backtracking through it marks everything
 * precise (time and memory stay bounded; a path of that many jumps with no prune point is rare). */
#define MAX_HIST 65536u

/* The insn before `pc` when the walk fell through into it (lddw takes two slots). */
static size_t fall_prev(const struct vctx *c, size_t pc)
{
	return pc >= 2 && c->ids[pc - 2] == ISA_LDDW ? pc - 2 : pc - 1;
}

static bool falls_into(const struct vctx *c, size_t prev, size_t pc)
{
	return prev != SIZE_MAX && prev < pc && fall_prev(c, pc) == prev;
}

/* One entry for the current insn's visit: pc reached from prev. */
static int hist_push(struct state *s, size_t prev)
{
	if (s->hist_lost)
		return 0;
	if (s->nhist == MAX_HIST) {
		s->hist_lost = true;
		return 0;
	}
	if (s->nhist == s->caphist) {
		uint32_t cap = s->caphist ? s->caphist * 2 : 16;
		struct hist *n = realloc(s->hist, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->hist = n;
		s->caphist = cap;
	}
	s->hist[s->nhist++] = (struct hist){ .idx = (uint32_t)s->pc, .prev = (uint32_t)prev, .slot = -1 };
	s->hist_cur = true;
	return 0;
}

/* hist.prev of an entry that records a spill or fill only: the insn was reached by falling through, or
 * is the first of its segment (the arrival at a prune point belongs to neither segment). */
#define HIST_FELL UINT32_MAX

/* The current insn spills into or fills from stack slot `slot` of frame `frame`. */
static int hist_slot(struct state *s, int frame, int slot)
{
	if (!s->hist_cur) {
		int err = hist_push(s, HIST_FELL);
		if (err || s->hist_lost)
			return err;
	}
	s->hist[s->nhist - 1].slot = (int16_t)slot;
	s->hist[s->nhist - 1].frame = (uint8_t)frame;
	return 0;
}

/* Register r of p's state became precise: p->cmask follows. */
static void seen_precise(struct seen *p, int r) { p->cmask |= (uint16_t)(p->kmask & (1u << r)); }

/* Can o (explored, cmask) cover s at all?  Its precise constants, live here, s must hold exactly
 * (regsafe() compares them by scalar_subsumes()).  *distinct: s holds another constant there.
 * mode CMP_EXACT / CMP_RANGE (an ancestor): every constant of o counts (regs_exact() wants the same
 * value, CMP_RANGE compares every scalar as precise), live or not for CMP_EXACT. */
/* What consts_match() asks of the current state's innermost registers, gathered once per prune point
 * visit (a loop's prune point holds up to MAX_DISTINCT states to compare with). */
struct cur_consts {
	uint16_t eq;                /* SCALAR with umin == umax (that value in val[]) */
	uint16_t cst;               /* SCALAR with a constant tnum */
	uint16_t live;              /* c->live at the prune point */
	int nf;
	uint64_t val[11];
};

static void cur_consts_of(const struct vctx *c, const struct state *s, struct cur_consts *k)
{
	const struct frame *f = s->f[s->nf - 1];
	k->eq = k->cst = 0;
	k->live = c->live[s->pc];
	k->nf = s->nf;
	for (int r = 0; r < 11; r++) {
		const struct reg *x = &f->r[r];
		k->val[r] = x->v.umin;
		if (x->type != SCALAR)
			continue;
		if (x->v.umin == x->v.umax)
			k->eq |= (uint16_t)(1u << r);
		if (scalar_is_const(&x->v))
			k->cst |= (uint16_t)(1u << r);
	}
}

static bool consts_match(const struct seen *o, const struct cur_consts *k, enum cmp mode, bool *distinct)
{
	uint16_t m = mode == CMP_EXACT ? o->kmask : mode == CMP_RANGE ? o->kmask & k->live : o->cmask & k->live;
	if (!m || k->nf != o->nf)
		return true;
	for (; m; m &= (uint16_t)(m - 1)) {
		int r = __builtin_ctz(m);
		if (!(k->eq >> r & 1) || k->val[r] != o->cval[r]) {
			*distinct = k->cst >> r & 1;
			return false;
		}
	}
	return true;
}

/* Every scalar of every explored state on s's path: precise (Linux mark_all_scalars_precise()). */
static void mark_all_precise(struct state *s)
{
	for (struct seen *p = s->parent; p && !p->all_precise; p = p->parent) {
		p->all_precise = true;
		for (int i = 0; p->s && i < p->s->nf; i++) {
			struct frame *f = p->s->f[i];
			for (int r = 0; r < 11; r++)
				if (f->r[r].type == SCALAR) {
					f->r[r].precise = true;
					if (i == p->s->nf - 1)
						seen_precise(p, r);
				}
			for (int k = 0; k < SLOTS; k++)
				if (f->st[k * 8] == STK_SPILL && f->spill[k].type == SCALAR)
					f->spill[k].precise = true;
		}
	}
}

/* What backtracking still looks for (Linux struct backtrack_state): per frame of the path, the registers
 * and stack slots (bit k: spill[k]) whose values matter; `frame` is the frame of the insn being walked.
 * Frames above it are empty: a callee's needs move into its caller at its call, and out of it at its
 * exit. */
struct bt {
	int frame;
	uint16_t regs[MAX_FRAMES];
	uint64_t slots[MAX_FRAMES];
};

/* copied rather than memset(): vector moves, not a `rep stos` (as reg_zero) */
static const struct bt bt_zero;

static bool bt_no_slots(const struct bt *b)
{
	for (int f = 0; f <= b->frame; f++)
		if (b->slots[f])
			return false;
	return true;
}

static bool bt_empty(const struct bt *b)
{
	for (int f = 0; f <= b->frame; f++)
		if (b->regs[f] || b->slots[f])
			return false;
	return true;
}

/* A callback's entry, walked backwards: its r1-r5 are what the helper passes (not the caller's
 * registers), and nothing else was set yet, so nothing else can be looked for.  False: something is. */
static bool bt_leave_callback(struct bt *b)
{
	b->regs[b->frame] &= (uint16_t)~0x3eu;
	return !b->regs[b->frame] && !b->slots[b->frame];
}

/* Is insn i a helper call with a callback that runs before the helper returns (bpf_loop,
 * for_each_map_elem, ...; not a timer's, which runs later on its own)? */
static bool calls_sync_callback(const struct vctx *c, size_t i)
{
	if (c->ids[i] != ISA_CALL)
		return false;
	const struct hlp_proto *hp = hlp_get((uint32_t)c->in[i].imm);
	const struct hlp_cb *cb = hp ? hlp_callback(hp) : NULL;
	return cb && !cb->async;
}

/* Insn i, walked backwards to the state before it: which registers and slots held what b looks for
 * after it.  h: its history entry, if any; next: the insn the path walked after it (SIZE_MAX: none),
 * which tells a call's entry into its callee from its return, and where an exit returned to (Linux
 * backtrack_insn(), subseq_idx).  Returns false where the walk cannot follow. */
static bool bt_insn(struct vctx *c, size_t i, size_t next, const struct hist *h, struct bt *b)
{
	const struct bpf_insn *in = &c->in[i];
	int id = c->ids[i];
	const struct isa_info *info = &isa_info[id];
	uint32_t fl = info->flags;
	uint16_t dbit = (uint16_t)(1u << in->dst_reg), sbit = (uint16_t)(1u << in->src_reg);
	int fr = b->frame;
	uint16_t *regs = &b->regs[fr];
	uint64_t sl = h && h->slot >= 0 ? 1ull << h->slot : 0;
	/* a spill or fill names the frame whose stack it used: this one's or a caller's */
	uint64_t *slots = &b->slots[h && h->slot >= 0 ? h->frame : fr];

	if (h && h->slot >= 0 && h->frame > fr)
		return false; /* a callee's stack, from its caller: not followed */
	if (fl & F_ALU) {
		if (!(*regs & dbit) || info->fmt == FMT_NEG || info->fmt == FMT_END)
			return true;
		if (info->fmt == FMT_MOVSX || (isa_op(id) == BPF_MOV && (fl & F_X)))
			*regs = (uint16_t)((*regs & ~dbit) | sbit);
		else if (isa_op(id) == BPF_MOV)
			*regs &= (uint16_t)~dbit; /* a constant */
		else if (fl & F_X)
			*regs |= sbit;            /* dst op= src: both */
		return true;
	}
	switch (info->fmt) {
	case FMT_LDX:
	case FMT_LDACQ:
		if (*regs & dbit) {
			*regs &= (uint16_t)~dbit;
			*slots |= sl; /* a fill: the spilled register's value; else memory's */
		}
		return true;
	case FMT_ST:
		*slots &= ~sl;
		return true;
	case FMT_STX:
		if (*slots & sl) {
			*slots &= ~sl;
			*regs |= sbit;
		}
		return true;
	case FMT_ATOMIC:
		if (*slots & sl) { /* store_release spills like a store */
			*slots &= ~sl;
			*regs |= sbit;
		}
		if (fl & F_FETCH)
			*regs &= (uint16_t)~((fl & F_R0) ? 1u : sbit);
		return true;
	default:
		break;
	}
	if (id == ISA_LDDW) {
		*regs &= (uint16_t)~dbit;
		return true;
	}
	if (id == ISA_CALL_LOCAL) {
		/* back out of the callee into its caller: r1-r5 were the caller's; nothing else of the
		 * callee's was set before its first insn */
		if (next == i + 1 || fr == 0 || (*regs & ~0x3eu) || b->slots[fr])
			return false;
		b->regs[fr - 1] |= *regs;
		*regs = 0;
		b->frame--;
		return true;
	}
	if (id == ISA_EXIT) {
		/* back into the callee from where it returned to: next follows the call (a function's
		 * return, or a callback's helper returning), or is the callback's first insn (its next call) */
		if (next == SIZE_MAX || fr + 1 >= MAX_FRAMES)
			return false;
		bool ret_fn = next > 0 && (c->ids[next - 1] == ISA_CALL_LOCAL || c->ids[next - 1] == ISA_CALLX);
		bool ret_helper = next > 0 && calls_sync_callback(c, next - 1);
		if (ret_fn || ret_helper) {
			uint16_t r0 = *regs & 1u;
			*regs &= (uint16_t)~0x3fu; /* r1-r5 gone after a call; r0 the callee's or the helper's */
			b->frame++;
			b->regs[b->frame] = ret_fn ? r0 : 0;
			b->slots[b->frame] = 0;
			return true;
		}
		if (c->subprog_of[next] == next) /* the callback's next call: a new frame in its place */
			return bt_leave_callback(b);
		return false;
	}
	if (id == ISA_CALLX) {
		/* a function's call (the walk went on at its first insn): back out of the callee into its
		 * caller, as for a call insn; a helper's (on to the next insn): r0 the helper's, r1-r5 gone */
		if (next != i + 1) {
			if (next == SIZE_MAX || c->subprog_of[next] != next || fr == 0 || (*regs & ~0x3eu) || b->slots[fr])
				return false;
			b->regs[fr - 1] |= *regs;
			*regs = 0;
			b->frame--;
			return true;
		}
		*regs &= (uint16_t)~0x3fu;
		return true;
	}
	if (id == ISA_CALL) {
		if (next != i + 1) {
			/* back out of a callback into the helper's call (the helper set r1-r5 for it) */
			if (!calls_sync_callback(c, i) || fr == 0 || !bt_leave_callback(b))
				return false;
			b->frame--;
			return true;
		}
		*regs &= (uint16_t)~0x3fu; /* r0 the helper's, r1-r5 clobbered (no callback ran) */
		return true;
	}
	if (id == ISA_CALL_KFUNC || (fl & F_PKT)) {
		*regs &= (uint16_t)~0x3fu;
		return true;
	}
	if ((fl & F_JMP) && (fl & F_X) && !(fl & F_CALL) && (*regs & (dbit | sbit)))
		*regs |= (uint16_t)(dbit | sbit); /* a bound learned from one is the other's */
	return true;
}

/* What b looks for matters as it is before s's current insn: mark what it came from precise in the
 * explored states of the path, frame by frame (Linux __mark_chain_precision()).  Returns false where
 * the history cannot be followed. */
static bool backtrack(struct vctx *c, struct state *s, struct bt *b)
{
	const struct hist *h = s->hist;
	uint32_t n = s->nhist;
	size_t first = s->first_pc, i = s->pc, next = SIZE_MAX;
	bool skip = true, lost = s->hist_lost;
	uint16_t touched = s->touched;
	struct seen *p = s->parent;
	for (;;) {
		if (lost)
			return false;
		/* a segment that never touched them passes them on unchanged (bt_insn() changes only
		 * what an insn writes or compares): on to its start.  An outer loop's counter crosses
		 * the inner loop's states this way instead of insn by insn. */
		if (!(b->regs[b->frame] & touched) && bt_no_slots(b)) {
			i = SIZE_MAX;
			skip = false;
		}
		while (i != SIZE_MAX) { /* SIZE_MAX: an empty segment (a prune point at insn 0) */
			const struct hist *e = n && h[n - 1].idx == i ? &h[n - 1] : NULL;
			if (!skip && !bt_insn(c, i, next, e, b))
				return false;
			skip = false;
			next = i;
			for (int f = 0; f <= b->frame; f++)
				b->regs[f] &= (uint16_t)~(1u << 10);
			if (bt_empty(b))
				return true;
			if (e && e->prev != HIST_FELL) {
				i = e->prev;
				n--;
				continue;
			}
			n -= e != NULL;
			if (i == first && !n) {
				break; /* the segment's start: p's prune point */
			} else if (i == 0) {
				return false; /* history and program disagree: should not happen */
			} else {
				i = fall_prev(c, i);
			}
		}
		if (!p)
			return true; /* the program's start (or an async callback's) */
		if (p->s) {
			if (p->s->nf != b->frame + 1)
				return false; /* history and states disagree: should not happen */
			for (int fi = 0; fi <= b->frame; fi++) {
				struct frame *f = p->s->f[fi];
				uint16_t *regs = &b->regs[fi];
				uint64_t *slots = &b->slots[fi];
				for (int r = 0; r < 10; r++) {
					if (!(*regs >> r & 1))
						continue;
					/* already precise: what it came from was marked then */
					if (f->r[r].type != SCALAR || f->r[r].precise) {
						*regs &= (uint16_t)~(1u << r);
						continue;
					}
					f->r[r].precise = true;
					if (fi == b->frame) {
						seen_precise(p, r);
						if (p->marked >> r & 1) /* ... or before (chain_marked()) */
							*regs &= (uint16_t)~(1u << r);
					}
				}
				for (int k = 0; k < SLOTS; k++) {
					if (!(*slots >> k & 1))
						continue;
					if (f->st[k * 8] != STK_SPILL || f->spill[k].type != SCALAR)
						return false;
					if (f->spill[k].precise)
						*slots &= ~(1ull << k);
					else
						f->spill[k].precise = true;
				}
			}
			if (bt_empty(b))
				return true;
		}
		h = p->hist;
		n = p->nhist;
		first = p->first_pc;
		i = p->last_pc;
		lost = p->hist_lost;
		touched = p->touched;
		p = p->parent;
	}
}

/* Registers `regs` of the current frame and slots `slots` of frame `sframe` decide something at the
 * current insn (Linux mark_chain_precision()). */
static void need_precise(struct vctx *c, struct state *s, uint16_t regs, int sframe, uint64_t slots)
{
	const struct frame *f = s->f[s->nf - 1];
	for (int r = 0; r < 11; r++)
		if (f->r[r].type != SCALAR)
			regs &= (uint16_t)~(1u << r);
	regs &= (uint16_t)~s->marked;
	if ((!regs && !slots) || c->env->unpriv)
		return; /* unprivileged: every scalar compares as precise anyway */
	struct bt b = bt_zero;
	b.frame = s->nf - 1;
	b.regs[b.frame] = regs;
	b.slots[sframe] = slots;
	if (!backtrack(c, s, &b))
		mark_all_precise(s);
	else
		s->marked |= regs;
}

/* Registers a backtrack through insn `in` may change in its set (bt_insn()): what it writes, both
 * sides of a register comparison; everything at calls and exits (frames, callbacks, clobbers). */
static uint16_t touched_by(const struct bpf_insn *in, int id)
{
	const struct isa_info *info = &isa_info[id];
	uint32_t fl = info->flags;
	uint16_t dbit = (uint16_t)(1u << in->dst_reg), sbit = (uint16_t)(1u << in->src_reg);
	if ((fl & F_ALU) || (fl & F_LDX) || id == ISA_LDDW)
		return dbit;
	if ((fl & (F_ST | F_STX)) && info->fmt != FMT_ATOMIC)
		return 0;
	if ((fl & F_JMP) && !(fl & (F_CALL | F_EXIT)))
		return (fl & F_X) ? (uint16_t)(dbit | sbit) : 0;
	return 0x7ff;
}

/* s->marked after insn `in` (before it runs: nothing it checks asks for the precision of what it
 * writes).  A walk back from a register after the insn continues as one from the registers it was
 * computed from (bt_insn()), so it marks nothing new when they were marked: a loop counter's
 * backtrack in every iteration (each a walk back to the last recorded state) is done once per
 * recorded state.  Anything not followed here (calls, exits, fills) clears marks: walked as before. */
static uint16_t chain_marked(uint16_t m, const struct bpf_insn *in, int id)
{
	const struct isa_info *info = &isa_info[id];
	uint32_t fl = info->flags;
	uint16_t dbit = (uint16_t)(1u << in->dst_reg);
	bool sm = m >> in->src_reg & 1;
	if (fl & F_ALU) {
		if (info->fmt == FMT_NEG || info->fmt == FMT_END)
			return m;                        /* from dst alone */
		if (info->fmt == FMT_MOVSX || (isa_op(id) == BPF_MOV && (fl & F_X)))
			return sm ? m | dbit : m & (uint16_t)~dbit;
		if (isa_op(id) == BPF_MOV)
			return m | dbit;                 /* a constant: from nothing */
		if (fl & F_X)
			return sm ? m : m & (uint16_t)~dbit;
		return m;
	}
	if (id == ISA_LDDW)
		return m | dbit;
	if ((fl & (F_ST | F_STX)) && info->fmt != FMT_ATOMIC)
		return m;                                /* writes memory only */
	if (fl & F_LDX)
		return m & (uint16_t)~dbit;              /* a fill follows a slot: walked */
	if ((fl & F_JMP) && !(fl & (F_CALL | F_EXIT)))
		return m;
	return 0;
}

/* chain_marked() and touched_by() of an insn as masks, and whether it writes r10: its insn_meta. */
static struct insn_meta insn_meta_of(const struct bpf_insn *in, size_t pc, int id)
{
	struct insn_meta m = { .target = isa_target_id(id, in, pc), .src = in->src_reg, .touched = touched_by(in, id),
			       .writes_fp = (isa_writes(id, in) & ISA_REG(10)) != 0 };
	/* chain_marked() keeps, sets or clears each bit of its input, by the src bit alone: for either
	 * value b of that bit, (m & A) | O with O its result from no other bits, A from all of them */
	for (unsigned b = 0; b < 2; b++) {
		uint16_t sbit = (uint16_t)(b << in->src_reg), all = (uint16_t)(0x7ffu & ~(1u << in->src_reg));
		m.cm_or[b] = chain_marked(sbit, in, id);
		m.cm_and[b] = (uint16_t)(chain_marked((uint16_t)(all | sbit), in, id) & ~m.cm_or[b]);
	}
	return m;
}

static void need_reg(struct vctx *c, struct state *s, unsigned r) { need_precise(c, s, (uint16_t)(1u << r), 0, 0); }

/* s was found covered by the explored state o: what o's walk needed precise is needed by s's path too
 * (Linux propagate_precision()), frame by frame (states_equal() saw the same frames). */
static void propagate_precision(struct vctx *c, const struct state *o, struct state *s)
{
	struct bt b = bt_zero;
	b.frame = s->nf - 1;
	for (int i = 0; i < o->nf; i++) {
		const struct frame *f = o->f[i];
		for (int r = 0; r < 11; r++)
			if (f->r[r].type == SCALAR && f->r[r].precise)
				b.regs[i] |= (uint16_t)(1u << r);
		for (int k = 0; k < SLOTS; k++)
			if (f->st[k * 8] == STK_SPILL && f->spill[k].type == SCALAR && f->spill[k].precise)
				b.slots[i] |= 1ull << k;
	}
	if (bt_empty(&b))
		return;
	if (o->nf != s->nf || !backtrack(c, s, &b))
		mark_all_precise(s);
}

/* The stored copy of a state: a scalar id no other scalar shares links nothing (Linux
 * clear_singular_ids()); dropped, so that states differing only in such ids still match. */
static void clear_singular_ids(struct state *s)
{
	struct reg *linked[MAX_FRAMES * (11 + SLOTS)];
	int n = 0;
	for (int i = 0; i < s->nf; i++)
		for (int k = 0; k < 11 + SLOTS; k++) {
			struct frame *f = s->f[i];
			struct reg *r = k < 11 ? &f->r[k] : (f->st[(k - 11) * 8] == STK_SPILL ? &f->spill[k - 11] : NULL);
			if (r && r->type == SCALAR && r->id)
				linked[n++] = r;
		}
	bool alone[MAX_FRAMES * (11 + SLOTS)];
	for (int i = 0; i < n; i++) {
		int cnt = 0;
		for (int j = 0; j < n && cnt < 2; j++)
			cnt += linked[j]->id == linked[i]->id;
		alone[i] = cnt < 2;
	}
	for (int i = 0; i < n; i++)
		if (alone[i])
			unlink_scalar(linked[i]);
}

/* ---- loop acceleration ----------------------------------------------------------------------
 *
 * Linux walks a bounded loop one iteration at a time: its counter is precise, so no iteration's state
 * covers the next, and 1,000 rounds cost 1,000 walks of the body.  bpfvm widens instead, as abstract
 * interpreters do (PREVAIL among verifiers): when the walk comes back to a loop head along a back edge,
 * the registers that changed since the iteration before become ranges (a counter: from its first value
 * to the bound the loop compares it with; anything else: unknown), and that state, which holds every
 * later iteration's, is walked once.  A state that comes back to it along a back edge and lies within it
 * is covered (accel_covers()).
 *
 * Covering a state by an ancestor is an induction, sound only where the loop cannot run forever: the
 * widened state holds a counter that each trip round the loop moves the same way by constants, never
 * wrapping, and that nothing else in the loop writes (a ranking function).  loop_of() proves from the
 * loop's code that it is a natural loop (entered only at its head), that every cycle through the head
 * passes an increment of the counter and that nothing else in it writes the register; the walk checks at
 * each increment it takes that it cannot wrap (the guard, in do_check()).  Everything else is the walk's
 * own checks, over ranges where the exact walk has constants.
 *
 * So the widened walk may refuse what the exact walk accepts (a range where a constant was needed): a
 * refusal after any widening is not a verdict, and vf_verify() walks the program again without widening.
 * Verdicts and messages are the exact walk's, Linux's; only the cost of accepting differs. */
struct loop {
	bool ok;                    /* a natural loop that a counter can rank */
	bool widened;               /* a widened state of it was recorded */
	uint32_t lo, hi;            /* its function's insns */
	uint16_t rank;              /* registers that can rank it */
	uint16_t down;              /* ... of those, the ones that decrease */
	uint8_t *body;              /* bit (pc - lo): pc is in the loop (its head too) */
};

#define MAX_LOOP_BYTES (64u << 20) /* what loop_of() keeps and takes, over all loops */

/* Returned by do_check() when an increment of a counter a widened state relies on may wrap. */
#define ACCEL_ABORT (-EAGAIN)

static bool in_body(const struct loop *l, size_t pc)
{
	return pc >= l->lo && pc < l->hi && (l->body[(pc - l->lo) / 8] >> ((pc - l->lo) % 8) & 1);
}

/* Registers the insn at pc leaves other than they were in its frame (a call: r0, and r1-r5 not kept). */
static uint16_t writes_of(const struct vctx *c, size_t pc)
{
	int id = c->ids[pc];
	const struct isa_info *info = &isa_info[id];
	uint16_t w = (uint16_t)(isa_writes(id, &c->in[pc]) & 0x7ff);
	if ((info->flags & F_CALL) || info->fmt == FMT_LDABS || info->fmt == FMT_LDIND)
		w |= 0x3f;
	return w;
}

/* What `reg += K` / `reg -= K` at pc adds to reg (0: pc is not one). */
static int64_t step_of(const struct vctx *c, size_t pc, unsigned reg)
{
	int id = c->ids[pc];
	const struct bpf_insn *in = &c->in[pc];
	if (in->dst_reg != reg || !in->imm)
		return 0;
	if (id == ISA_ADD64_K || id == ISA_ADD32_K)
		return in->imm;
	if (id == ISA_SUB64_K || id == ISA_SUB32_K)
		return -(int64_t)in->imm;
	return 0;
}

/* Can the increment at pc (a guard) wrap the value it is given?  A 32-bit one works on the low half
 * and zero-extends: the value must fit in it too. */
static bool step_may_wrap(const struct vctx *c, const struct state *s, size_t pc)
{
	const struct bpf_insn *in = &c->in[pc];
	const struct reg *r = &s->f[s->nf - 1]->r[in->dst_reg];
	bool alu32 = isa_info[c->ids[pc]].flags & F_32;
	int64_t st = step_of(c, pc, in->dst_reg);
	uint64_t lim = alu32 ? UINT32_MAX : UINT64_MAX, mag = st < 0 ? -(uint64_t)st : (uint64_t)st;
	if (r->type != SCALAR || r->v.umax > lim)
		return true;
	return st > 0 ? r->v.umax > lim - mag : r->v.umin < mag;
}

static void loop_free(struct loop *l)
{
	if (l) {
		free(l->body);
		free(l);
	}
}

/* The loop whose head is h: which insns are in it and which registers rank it (see above), computed at
 * its first use.  NULL: no memory. */
static struct loop *loop_of(struct vctx *c, size_t h)
{
	if (c->loops[h])
		return c->loops[h];
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	c->loops[h] = l;
	uint32_t lo = c->subprog_of[h], hi = (uint32_t)h + 1;
	while (hi < c->cnt && c->subprog_of[hi] == lo)
		hi++;
	size_t n = hi - lo, bytes = (n + 7) / 8, work = n * 3 * sizeof(uint32_t);
	if (c->loop_bytes + bytes + work > MAX_LOOP_BYTES)
		return l;
	c->loop_bytes += bytes;
	l->lo = lo;
	l->hi = hi;
	l->body = calloc(bytes, 1);
	/* predecessors, as lists in one array (start[i] .. start[i + 1]) */
	uint32_t *start = calloc(n + 2, sizeof(*start)), *pred = calloc(2 * n + 1, sizeof(*pred));
	uint32_t *todo = calloc(n + 1, sizeof(*todo));
	uint8_t *mark = calloc(n, 1);
	size_t nt = 0, next[2];
	if (!l->body || !start || !pred || !todo || !mark)
		goto out;
	for (size_t pc = lo; pc < hi; pc++)
		for (int i = c->ids[pc] < 0 ? 0 : succ_of(c, pc, next); i-- > 0;)
			if (next[i] >= lo && next[i] < hi)
				start[next[i] - lo + 2]++;
	for (size_t i = 2; i < n + 2; i++)
		start[i] += start[i - 1];
	for (size_t pc = lo; pc < hi; pc++)
		for (int i = c->ids[pc] < 0 ? 0 : succ_of(c, pc, next); i-- > 0;)
			if (next[i] >= lo && next[i] < hi)
				pred[start[next[i] - lo + 1]++] = (uint32_t)pc;
	/* now start[i] .. start[i + 1] are insn lo + i's predecessors */
#define PREDS(x) for (uint32_t *p_ = pred + start[(x) - lo], *e_ = pred + start[(x) - lo + 1]; p_ < e_; p_++)
	/* the natural loop: the head, and what reaches a back edge to it without passing it */
	mark[h - lo] = 1;
	PREDS(h) if (*p_ >= h && !mark[*p_ - lo]) {
		mark[*p_ - lo] = 1;
		todo[nt++] = *p_;
	}
	while (nt) {
		uint32_t x = todo[--nt];
		PREDS(x) if (!mark[*p_ - lo]) {
			mark[*p_ - lo] = 1;
			todo[nt++] = *p_;
		}
	}
	/* entered only at its head: then every path into it passes the head first */
	for (size_t x = lo; x < hi; x++)
		if (mark[x - lo] && x != h)
			PREDS(x) if (!mark[*p_ - lo]) goto out;
#undef PREDS
	for (size_t x = lo; x < hi; x++)
		if (mark[x - lo])
			l->body[(x - lo) / 8] |= (uint8_t)(1u << ((x - lo) % 8));
	for (unsigned r = 0; r < 10; r++) {
		int dir = 0;
		bool ok = true;
		for (size_t x = lo; x < hi && ok; x++) {
			if (!mark[x - lo] || c->ids[x] < 0 || !(writes_of(c, x) >> r & 1))
				continue;
			int64_t st = step_of(c, x, r);
			ok = st && (!dir || (st > 0) == (dir > 0));
			dir = st > 0 ? 1 : -1;
		}
		if (!ok || !dir)
			continue;
		/* every cycle through the head passes an increment: without them, the head is not reached
		 * again (mark[] now: 2 = visited) */
		if (!step_of(c, h, r)) {
			nt = 0;
			todo[nt++] = (uint32_t)h;
			while (nt && ok) {
				uint32_t x = todo[--nt];
				for (int i = succ_of(c, x, next); i-- > 0 && ok;) {
					size_t y = next[i];
					if (y == h)
						ok = false;
					else if (y >= lo && y < hi && mark[y - lo] == 1 && !step_of(c, y, r)) {
						mark[y - lo] = 2;
						todo[nt++] = (uint32_t)y;
					}
				}
			}
			for (size_t x = lo; x < hi; x++)
				mark[x - lo] = mark[x - lo] ? 1 : 0;
		}
		if (!ok)
			continue;
		l->rank |= (uint16_t)(1u << r);
		if (dir < 0)
			l->down |= (uint16_t)(1u << r);
		for (size_t x = lo; x < hi; x++)
			if (mark[x - lo] && c->ids[x] >= 0 && step_of(c, x, r))
				c->guard[x] = 1;
	}
	l->ok = l->rank != 0;
out:
	free(start);
	free(pred);
	free(todo);
	free(mark);
	return l;
}

/* The bound a counter of l reaches, from v on in its direction: the nearest of the constants the loop
 * compares it with (a loop that runs while reg < K has K - 1 at its head when it tests at the end, K
 * when it tests at the head: both are candidates). */
static bool counter_bound(const struct vctx *c, const struct loop *l, unsigned reg, bool down, uint64_t v, uint64_t *t)
{
	bool found = false;
	for (size_t x = l->lo; x < l->hi; x++) {
		if (!in_body(l, x) || c->ids[x] < 0)
			continue;
		const struct isa_info *info = &isa_info[c->ids[x]];
		if (info->fmt != FMT_JMP_K || c->in[x].dst_reg != reg)
			continue;
		uint64_t k = (info->flags & F_32) ? (uint32_t)c->in[x].imm : (uint64_t)(int64_t)c->in[x].imm;
		for (int i = 0; i < 2; i++) {
			if (down ? (i && k == UINT64_MAX) : (!i && !k))
				continue;
			uint64_t u = down ? k + (uint64_t)i : k - 1 + (uint64_t)i;
			if (down ? u <= v && (!found || u > *t) : u >= v && (!found || u < *t)) {
				*t = u;
				found = true;
			}
		}
	}
	return found;
}

/* s came back to its loop's head along a back edge, prev is a state of the same round of the loop
 * before: widen in s the scalars that changed since (see above).  False (s as it was): no counter
 * that ranks the loop changed.  What else changed (a packet range proven, a pointer moved) stays as
 * in s: the widened state holds s whatever prev was, which only chooses what to widen. */
static bool accelerate(struct vctx *c, struct state *s, const struct loop *l, const struct seen *prev)
{
	struct frame *f = s->f[s->nf - 1];
	const struct frame *pf = prev->s->f[prev->s->nf - 1];
	uint16_t live = c->live[s->pc];
	struct reg save[11];
	bool ranked = false;
	uint64_t rounds = UINT64_MAX, cost = 0; /* the fewest any counter leaves */
	struct rounds acc = { 0 };
	memcpy(save, f->r, sizeof(save));
	for (unsigned r = 0; r < 10; r++) {
		struct reg *x = &f->r[r];
		const struct reg *o = &pf->r[r];
		if (!(live >> r & 1) || x->type != SCALAR || o->type != SCALAR || scalar_equal(&x->v, &o->v))
			continue;
		uint64_t lo = x->v.umin < o->v.umin ? x->v.umin : o->v.umin;
		uint64_t hi = x->v.umax > o->v.umax ? x->v.umax : o->v.umax, t = 0;
		bool down = l->down >> r & 1;
		mark_unknown(x);
		if ((l->rank >> r & 1) && counter_bound(c, l, r, down, down ? lo : hi, &t)) {
			x->v.umin = down ? t : lo;
			x->v.umax = down ? hi : t;
			scalar_sync(&x->v);
			ranked = true;
			/* rounds left after this one, at the pace since prev */
			const struct scalar *now = &save[r].v, *was = &o->v;
			uint64_t pace = down ? was->umin - now->umin : now->umax - was->umax;
			uint64_t left = down ? now->umin - t : t - now->umax;
			if (!prev->accel && (down ? was->umin > now->umin && now->umin >= t : now->umax > was->umax && t >= now->umax) &&
			    left / pace < rounds) {
				rounds = left / pace;
				acc = (struct rounds){ .reg = r, .bound = t, .pace = pace, .per = s->walked - prev->walked };
			}
			/* widened again, its counter's bound further: the rounds up to it, at the first pace */
			const struct rounds *pa = prev->accel ? &prev->acc : NULL;
			if (pa && pa->reg == r && (down ? t < pa->bound : t > pa->bound)) {
				rounds = (down ? pa->bound - t : t - pa->bound) / pa->pace;
				acc = *pa;
				acc.bound = t;
			}
		}
	}
	if (!ranked) {
		memcpy(f->r, save, sizeof(save));
		return false;
	}
	/* The complexity limit stays Linux's: the rounds the widened state stands for cost what the round
	 * before did, so that a loop the kernel refuses as too large is refused (by the exact walk,
	 * vf_verify()) here too.  Widened again with the same bound: counted then. */
	if (!acc.pace) {
		if (!prev->accel) { /* no counter moved at a pace to count the rounds by */
			memcpy(f->r, save, sizeof(save));
			return false;
		}
		acc = prev->acc;
	} else {
		cost = acc.per && rounds <= (VF_MAX_INSN_PROCESSED + 1ull) / acc.per ? rounds * acc.per :
										      VF_MAX_INSN_PROCESSED + 1ull;
	}
	c->acc = acc;
	c->processed += cost;
	s->walked += cost;
	return true;
}

/* At a prune point: 1 when an explored state covers this one (the path is done), 0 to walk on (the
 * state recorded when there is room), or an error: -EINVAL for a state equal to one of its own
 * ancestors, a loop no path leaves (Linux is_state_visited(): "infinite loop detected"). */
static int prune_or_record(struct vctx *c, struct state *s)
{
	size_t pc = s->pc;
	bool ancestor_ok = ancestor_covers_ok(c, s), may_goto = c->ids[pc] == ISA_MAY_GOTO;
	bool force = c->prune[pc] == PRUNE_FORCE;
	bool add = force || (c->jmps - c->prev_jmps >= 2 && c->processed - c->prev_insns >= 8);
	/* a loop head reached along one of its back edges: widened states cover, or one is made */
	struct loop *l = NULL;
	if (c->accel_on && c->loop_head[pc] && !ancestor_ok && !may_goto && !(l = loop_of(c, pc)))
		return -ENOMEM;
	bool back = l && l->ok && s->prev_pc != SIZE_MAX && in_body(l, s->prev_pc), widened = false;
	struct cur_consts k;
again:
	cur_consts_of(c, s, &k);
	if (c->naccel && c->cmps > CMP_BUDGET)
		return ACCEL_ABORT; /* widening made the walk worse: walk again without (the verdict's) */
	uint32_t distinct_max = c->cmps > CMP_BUDGET ? MAX_DISTINCT_LATE : MAX_DISTINCT;
	for (struct seen **pp = &c->seen[pc], *p; (p = *pp);) {
		bool distinct = false;
		c->cmps++;
		if (!p->branches) {
			if (consts_match(p, &k, CMP_LOOSE, &distinct) && states_equal(c, p->s, s, CMP_LOOSE, &distinct)) {
				p->hits++;
				propagate_precision(c, p->s, s);
				return 1;
			}
		} else if (back && p->accel) {
			/* the induction (see loop_of()): the walk from p covers every state within it that
			 * comes back along the loop; like any ancestor, its precise marks are not final */
			if (consts_match(p, &k, CMP_RANGE, &distinct) && states_equal(c, p->s, s, CMP_RANGE, NULL)) {
				p->hits++;
				mark_all_precise(s);
				/* a round much longer than the one the rounds were counted by (an inner loop
				 * run longer as the counter grows, the other side of a branch) */
				if (s->walked - p->walked > p->acc.per + p->acc.per / 2 + 8)
					c->accel_unsure = true;
				return 1;
			}
		} else if (ancestor_ok || (may_goto && p->s->may_goto_depth != s->may_goto_depth)) {
			/* an ancestor whose walk goes on: its precise marks are not final, so all scalars
			 * compare, and the states between it and s (whose walks end in its) keep every
			 * scalar precise, since what the rest of its walk will need is not known yet */
			if (consts_match(p, &k, CMP_RANGE, &distinct) && states_equal(c, p->s, s, CMP_RANGE, NULL)) {
				p->hits++;
				mark_all_precise(s);
				return 1;
			}
		} else if (p->s->may_goto_depth == s->may_goto_depth && consts_match(p, &k, CMP_EXACT, &distinct) &&
			   states_equal(c, p->s, s, CMP_EXACT, NULL)) {
			return err_at(c, pc, -EINVAL, "infinite loop detected at insn %zu", pc);
		}
		/* Linux: inside a loop (an ancestor is here), a new state only every 20 jumps or 100 insns;
		 * one per iteration costs a copy and a comparison in every later iteration */
		if (p->branches && !force && c->jmps - c->prev_jmps < 20 && c->processed - c->prev_insns < 100)
			add = false;
		/* Linux is_state_visited(): a state that keeps failing to cover others (a loop counter's
		 * old values) only costs comparisons: dropped.  One still being walked (an ancestor at a
		 * loop head) gets more chances, and leaves the list but not memory, since its descendants'
		 * path_done() walks through it; without this every iteration compares against all the
		 * loop's earlier ones (quadratic in the trip count). */
		uint32_t n = p->branches && force && (ancestor_ok || may_goto) ? 64 : 3;
		/* Only a visit that records a state counts against the others: otherwise the visits of
		 * several iterations of a loop would drop a state just recorded (Linux).  Nor does a visit
		 * from another iteration of a loop whose counter is precise: the state is there for the
		 * paths that reach the same iteration later (a loop with a packet check per round: the
		 * path where the check failed rejoins the others one iteration later, at each iteration;
		 * without this, 1,000 rounds walk 1,000,000+ insns, the kernel's way, instead of 32,000). */
		if (add && !(p->accel && p->branches) && (p->branches || !distinct || c->nseen[pc] > distinct_max) &&
		    ++p->misses > p->hits * n + n) {
			*pp = p->next;
			c->nseen[pc]--;
			if (p->branches) {
				/* still walked: dormant, with its state and history (backtracking from its
				 * descendants crosses it), until path_done() finds its walk done; then it
				 * covers others again (the paths of a loop's failed packet checks rejoin the
				 * loop at states of the iterations after theirs, which went dormant long
				 * before: without them 1,000 rounds walk 1,000,000+ insns, the kernel's way,
				 * instead of 30,000) */
				p->dormant = true;
				if (!p->detached) {
					p->detached = true;
					p->dnext = c->detached;
					c->detached = p;
				}
				continue;
			}
			state_free(c, p->s);
			p->s = NULL;
			c->kept--;
			free(p->hist);
			p->hist = NULL;
			if (!p->detached)
				free(p);
			continue;
		}
		pp = &p->next;
	}
	if (back && !widened && c->kept < MAX_KEPT_STATES) {
		/* The state to widen from: the last one recorded here on this path, which is of this
		 * round of the loop since each entry into it is recorded (below).  Without one, this
		 * one is recorded for the next time. */
		const struct seen *prev_iter = s->parent;
		while (prev_iter && (!prev_iter->s || prev_iter->s->pc != pc || prev_iter->nf != s->nf))
			prev_iter = prev_iter->parent;
		if (prev_iter && accelerate(c, s, l, prev_iter)) {
			widened = true;
			goto again; /* an explored state may cover the widened one */
		}
		add = add || !prev_iter;
	}
	add = add || widened || (l && l->ok && !back);
	if (!add || c->kept >= MAX_KEPT_STATES)
		return 0; /* enough kept: walking on costs time, never soundness */
	c->prev_jmps = c->jmps;
	c->prev_insns = c->processed;
	struct seen *n = malloc(sizeof(*n));
	struct state *copy = n ? state_dup(c, s) : NULL;
	if (!copy) {
		free(n);
		return -ENOMEM;
	}
	n->s = copy;
	n->parent = s->parent;
	n->branches = 1; /* this path */
	n->hits = n->misses = 0;
	n->detached = n->dormant = false;
	n->cb_ret = c->cb_return;
	n->accel = widened;
	n->walked = s->walked;
	n->acc = c->acc;
	if (widened) {
		l->widened = true;
		c->naccel++;
	}
	n->cmask = n->kmask = 0;
	n->nf = copy->nf;
	for (int r = 0; r < 11; r++) {
		const struct reg *x = &copy->f[copy->nf - 1]->r[r];
		if (x->type == SCALAR && scalar_is_const(&x->v)) {
			n->kmask |= (uint16_t)(1u << r);
			n->cval[r] = x->v.var_off.value;
			if (x->precise)
				n->cmask |= (uint16_t)(1u << r);
		}
	}
	n->dnext = NULL;
	/* the path from the last explored state to here goes with the new one; s starts a new segment */
	free(copy->hist);
	copy->hist = NULL;
	copy->nhist = copy->caphist = 0;
	clear_singular_ids(copy);
	if (s->hist_cur) /* the arrival here is the boundary, not part of either segment */
		s->nhist--;
	n->hist = s->hist;
	n->nhist = s->nhist;
	n->hist_lost = s->hist_lost;
	n->all_precise = false;
	n->first_pc = s->first_pc;
	n->last_pc = s->prev_pc;
	s->hist = NULL;
	s->nhist = s->caphist = 0;
	s->hist_lost = s->hist_cur = false;
	s->first_pc = pc;
	if (++c->kept > c->peak_states)
		c->peak_states = c->kept;
	n->marked = s->marked; /* of its innermost frame */
	n->touched = s->touched;
	s->parent = n;
	s->marked = 0; /* the new parent's copies of them are not marked */
	s->touched = 0;
	n->next = c->seen[pc];
	c->seen[pc] = n;
	c->nseen[pc]++;
	c->env->total_states++;
	if (c->nseen[pc] > c->env->max_states_per_insn)
		c->env->max_states_per_insn = c->nseen[pc];
	return 0;
}

static int push_branch(struct vctx *c, const struct state *s, size_t pc)
{
	if (c->nstack == c->capstack) {
		size_t cap = c->capstack ? c->capstack * 2 : 64;
		if (cap > 8192)
			return -E2BIG; /* Linux BPF_COMPLEXITY_LIMIT_JMP_SEQ */
		struct state **n = realloc(c->stack, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->stack = n;
		c->capstack = cap;
	}
	struct state *d = state_dup(c, s);
	if (!d)
		return -ENOMEM;
	d->pc = pc;
	d->from_pc = s->pc;
	d->log_pos = c->env->log ? c->env->log->len : 0;
	if (d->parent)
		d->parent->branches++; /* one more walk through its ancestors */
	c->stack[c->nstack++] = d;
	return 0;
}

/* ---- register reads ------------------------------------------------------------------------ */

static struct reg *R(struct state *s, unsigned n) { return &s->f[s->nf - 1]->r[n]; }

static int check_read(struct vctx *c, struct state *s, unsigned n)
{
	if (R(s, n)->type == NOT_INIT)
		return err_at(c, s->pc, -EACCES, "R%u !read_ok", n);
	return 0;
}

/* Every register in every frame holding a pointer of `pred`: invalidated to an unknown scalar. */
static void invalidate(struct state *s, bool (*pred)(const struct reg *, uint32_t), uint32_t arg)
{
	for (int i = 0; i < s->nf; i++) {
		struct frame *f = s->f[i];
		for (int r = 0; r < 11; r++)
			if (pred(&f->r[r], arg))
				mark_unknown(&f->r[r]);
		for (int k = 0; k < SLOTS; k++)
			if (f->st[k * 8] == STK_SPILL && pred(&f->spill[k], arg))
				mark_unknown(&f->spill[k]);
	}
}

static bool is_pkt(const struct reg *r, uint32_t a)
{
	(void)a;
	return r->type == PTR_PKT || r->type == PTR_PKT_END || r->type == PTR_PKT_META;
}

static bool has_ref(const struct reg *r, uint32_t ref) { return is_ptr(r) && r->ref_id == ref; }

/* ---- ALU --------------------------------------------------------------------------------------- */

static const char *op_str(unsigned op)
{
	switch (op) {
	case BPF_ADD: return "+=";
	case BPF_SUB: return "-=";
	case BPF_MUL: return "*=";
	case BPF_DIV: return "/=";
	case BPF_OR: return "|=";
	case BPF_AND: return "&=";
	case BPF_LSH: return "<<=";
	case BPF_RSH: return ">>=";
	case BPF_NEG: return "neg";
	case BPF_MOD: return "%=";
	case BPF_XOR: return "^=";
	case BPF_ARSH: return "s>>=";
	default: return "?";
	}
}

/* ptr += scalar / ptr -= scalar (Linux adjust_ptr_min_max_vals) */
static int ptr_arith(struct vctx *c, struct state *s, struct reg *dst, const struct reg *ptr, const struct reg *off,
		     unsigned op, unsigned dno)
{
	switch (ptr->type) {
	case PTR_MAP_VALUE_OR_NULL:
	case PTR_MEM_OR_NULL:
		return err_at(c, s->pc, -EACCES, "R%u pointer arithmetic on %s prohibited, null-check it first", dno, tn(ptr));
	case CONST_MAP_PTR:
	case PTR_PKT_END:
	case PTR_FUNC:
		return err_at(c, s->pc, -EACCES, "R%u pointer arithmetic on %s prohibited", dno, tn(ptr));
	default:
		break;
	}
	if (off->v.smin == INT64_MIN && !scalar_is_const(&off->v))
		return err_at(c, s->pc, -EACCES, "math between %s pointer and register with unbounded min value is not allowed",
			      tn(ptr));
	struct reg r = *ptr;
	if (scalar_is_const(&off->v)) {
		int64_t k = (int64_t)off->v.var_off.value;
		if (k >= MAX_VAR_OFF || k <= -MAX_VAR_OFF)
			return err_at(c, s->pc, -EACCES, "math between %s pointer and %lld is not allowed", tn(ptr), (long long)k);
		int64_t no = op == BPF_ADD ? (int64_t)r.off + k : (int64_t)r.off - k;
		if (no >= MAX_VAR_OFF || no <= -MAX_VAR_OFF)
			return err_at(c, s->pc, -EACCES, "%s pointer offset %lld is not allowed", tn(ptr), (long long)no);
		r.off = (int32_t)no;
	} else {
		if (op == BPF_SUB && ptr != dst)
			return err_at(c, s->pc, -EACCES, "R%u tried to subtract pointer from scalar", dno);
		if (off->v.smin >= MAX_VAR_OFF || off->v.smin <= -MAX_VAR_OFF)
			return err_at(c, s->pc, -EACCES, "value %lld makes %s pointer be out of bounds", (long long)off->v.smin,
				      tn(ptr));
		scalar_alu(&r.v, &off->v, op, false, false);
		if (r.type == PTR_PKT || r.type == PTR_PKT_META) {
			/* a new variable offset: a new packet pointer whose range is still to be proven */
			r.id = ++c->next_id;
			r.range = 0;
		}
	}
	*dst = r;
	return 0;
}

/* d = d OP sv, both scalars (sv not d's own value) */
static void alu_scalars(struct reg *d, const struct scalar *sv, unsigned op, bool alu32, bool sdiv)
{
	scalar_alu(&d->v, sv, op, alu32, sdiv);
	/* Linux adjust_reg_min_max_vals(): `rX += K` keeps rX linked to its copies, K more than
	 * them (once; K at most S32_MAX); any other op ends the link */
	uint64_t k = sv->var_off.value;
	if (op == BPF_ADD && !alu32 && d->id && scalar_is_const(sv) && !d->off && k <= INT32_MAX)
		d->off = (int32_t)k;
	else
		unlink_scalar(d);
}

static int check_alu(struct vctx *c, struct state *s, const struct bpf_insn *in, int id)
{
	const struct isa_info *info = &isa_info[id];
	unsigned op = isa_op(id), dno = in->dst_reg, sno = in->src_reg;
	bool alu32 = info->flags & F_32, x = info->flags & F_X;
	struct reg *d = R(s, dno), srcv;
	int err;

	if (info->fmt == FMT_MOVSX) {
		if ((err = check_read(c, s, sno)))
			return err;
		if (R(s, sno)->type != SCALAR)
			return err_at(c, s->pc, -EACCES, "R%u sign-extension part of pointer", sno);
		unsigned bits = (unsigned)in->off;
		/* a value the sign extension leaves as it is stays linked to its source */
		bool same = R(s, sno)->v.umax < (1ull << (bits - 1));
		if (same)
			link_before_copy(c, R(s, sno));
		struct reg src = *R(s, sno);
		*d = src;
		if (!same)
			unlink_scalar(d);
		scalar_movsx(&d->v, &src.v, bits, alu32);
		return 0;
	}
	if (op == BPF_MOV) {
		if (!x) {
			mark_const(d, alu32 ? (uint32_t)in->imm : (uint64_t)(int64_t)in->imm);
			return 0;
		}
		if ((err = check_read(c, s, sno)))
			return err;
		const struct reg *sr = R(s, sno);
		if (alu32 && is_ptr(sr)) {
			if (c->env->unpriv)
				return err_at(c, s->pc, -EACCES, "R%u partial copy of pointer", sno);
			mark_unknown(d);
			scalar_zext32(&d->v);
			return 0;
		}
		/* copies are linked: a bound learned on one holds for all; a 32-bit copy only of a value
		 * that fits in 32 bits */
		bool fits = !alu32 || scalar_width(sr) <= 32;
		if (fits)
			link_before_copy(c, R(s, sno));
		struct reg copy = *R(s, sno);
		*d = copy;
		if (alu32) {
			scalar_zext32(&d->v);
			if (!fits)
				unlink_scalar(d);
		}
		return 0;
	}
	if ((err = check_read(c, s, dno)))
		return err;
	if (info->fmt == FMT_NEG || info->fmt == FMT_END) {
		if (d->type != SCALAR)
			return err_at(c, s->pc, -EACCES, "R%u pointer arithmetic prohibited", dno);
		unlink_scalar(d);
		if (info->fmt == FMT_NEG) {
			struct scalar z = scalar_const(0);
			scalar_alu(&d->v, &z, BPF_NEG, alu32, false);
		} else {
			/* BPF_END to-LE and ALU64 bswap: class ALU with BPF_TO_LE only truncates on a LE host */
			bool swap = id == ISA_BSWAP16 || id == ISA_BSWAP32 || id == ISA_BSWAP64 || (in->code & BPF_X);
			scalar_bswap(&d->v, (unsigned)in->imm, swap);
		}
		return 0;
	}
	/* the operand: a register, or the imm as a constant scalar (a whole struct reg only where a
	 * pointer is involved: building one at each `rX += K` was most of this function's time) */
	const struct reg *sr;
	if (x) {
		if ((err = check_read(c, s, sno)))
			return err;
		sr = R(s, sno);
	} else {
		if ((op == BPF_DIV || op == BPF_MOD) && in->imm == 0)
			return err_at(c, s->pc, -EINVAL, "div by zero");
		if ((op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH) && (uint32_t)in->imm >= (alu32 ? 32u : 64u) &&
		    !c->env->plain_mem) /* RFC 9669 masks the count (scalar_alu() too) */
			return err_at(c, s->pc, -EINVAL, "invalid shift %d", in->imm);
		uint64_t k = alu32 ? (uint32_t)in->imm : (uint64_t)(int64_t)in->imm;
		if (d->type == SCALAR) {
			struct scalar kv = scalar_const(k);
			alu_scalars(d, &kv, op, alu32, info->flags & F_SIGNED);
			return 0;
		}
		mark_const(&srcv, k);
		sr = &srcv;
	}
	bool dp = is_ptr(d), sp = is_ptr(sr);
	if (!dp && !sp) {
		struct scalar sv = sr->v; /* sr may be d */
		alu_scalars(d, &sv, op, alu32, info->flags & F_SIGNED);
		return 0;
	}
	if (x)
		srcv = *sr;
	if (alu32) {
		if (op == BPF_SUB && !c->env->unpriv) {
			mark_unknown(d);
			scalar_zext32(&d->v);
			return 0;
		}
		return err_at(c, s->pc, -EACCES, "R%u 32-bit pointer arithmetic prohibited", dno);
	}
	if (dp && sp) {
		if (op == BPF_SUB && !c->env->unpriv) {
			mark_unknown(d);
			return 0;
		}
		return err_at(c, s->pc, -EACCES, "R%u pointer %s pointer prohibited", dno, op_str(op));
	}
	if (op != BPF_ADD && op != BPF_SUB) {
		bool bitwise = op == BPF_AND || op == BPF_OR || op == BPF_XOR;
		return err_at(c, s->pc, -EACCES, bitwise ? "R%u bitwise operator %s on pointer prohibited" :
							  "R%u pointer arithmetic with %s operator prohibited",
			      dno, op_str(op));
	}
	/* the scalar's value becomes part of the pointer, which is compared exactly */
	if (dp) {
		if (x)
			need_reg(c, s, sno);
		return ptr_arith(c, s, d, d, &srcv, op, dno);
	}
	if (op == BPF_SUB)
		return err_at(c, s->pc, -EACCES, "R%u tried to subtract pointer from scalar", dno);
	need_reg(c, s, dno);
	struct reg scal = *d;
	return ptr_arith(c, s, d, &srcv, &scal, op, dno);
}

/* ---- memory ------------------------------------------------------------------------------------ */

static struct frame *frame_of(struct state *s, const struct reg *ptr) { return s->f[ptr->frameno]; }

static int frame_idx(const struct state *s, const struct frame *f)
{
	int i = 0;
	while (i < s->nf - 1 && s->f[i] != f)
		i++;
	return i;
}

/* A write into byte b of a slot holding a spilled register: the register is gone, its bytes are just
 * bytes now. */
static void unspill(struct frame *f, int64_t b)
{
	int slot = (int)(b / 8);
	for (int j = slot * 8; j < slot * 8 + 8; j++)
		if (f->st[j] == STK_SPILL)
			f->st[j] = STK_MISC; /* the slot's bytes were in use: lo stays */
}

/* Stack bytes [lo, hi) (offsets below fp, negative) of frame f. */
static int stack_write(struct vctx *c, struct state *s, struct frame *f, int lo, int size, struct reg *val,
		       bool is_imm_zero)
{
	int base = STACK + lo;
	/* Linux check_stack_write_fixed_off(): part of a spilled pointer overwritten */
	if (c->env->unpriv && size != 8 && f->st[base & ~7] == STK_SPILL && f->spill[base / 8].type != SCALAR)
		return err_at(c, s->pc, -EACCES, "attempt to corrupt spilled pointer on stack");
	/* Linux check_stack_write_fixed_off(): a caller's frame outlives the callee's, whose address it would
	 * keep as a pointer to a frame the next call reuses */
	if (val && val->type == PTR_STACK && f != s->f[s->nf - 1])
		return err_at(c, s->pc, -EINVAL, "cannot spill pointers to stack into stack frame of the caller");
	if (val && lo % 8 == 0 && (size == 8 || (val->type == SCALAR && !c->env->unpriv))) {
		/* a register (a constant for BPF_ST) from the slot's start: spilled with all it knows, a
		 * scalar linked to its copy in the slot when the value fits; a narrower spill holds the
		 * low bytes, its other bytes are data (Linux save_register_state()) */
		bool fits = size == 8 || scalar_width(val) <= 8u * (unsigned)size;
		if (fits)
			link_before_copy(c, val);
		if (f->st[base] == STK_SPILL)
			unspill(f, base);
		memset(&f->st[base], STK_SPILL, (size_t)size);
		for (int i = base + size; i < base + 8; i++)
			if (f->st[i] != STK_ZERO && (f->st[i] != STK_INVALID || c->env->unpriv))
				f->st[i] = STK_MISC;
		if (base < f->lo)
			f->lo = (uint16_t)base;
		f->spill[base / 8] = *val;
		f->spill[base / 8].precise = false;
		if (!fits)
			unlink_scalar(&f->spill[base / 8]);
		return hist_slot(s, frame_idx(s, f), base / 8);
	}
	if (val && is_ptr(val))
		return err_at(c, s->pc, -EACCES, "invalid size of register spill");
	bool zero = is_imm_zero || (val && val->type == SCALAR && scalar_is_const(&val->v) && !val->v.var_off.value);
	for (int i = base; i < base + size; i++) {
		if (f->st[i & ~7] == STK_SPILL)
			unspill(f, i); /* a write into a slot holding a register: its bytes are data now (Linux) */
		st_set(f, i, zero ? STK_ZERO : STK_MISC);
	}
	return 0;
}

/* Bytes of the register spilled at slot start base (a narrower spill holds its low bytes). */
static int spill_size(const struct frame *f, int base)
{
	int n = 0;
	while (n < 8 && f->st[base + n] == STK_SPILL)
		n++;
	return n;
}

static int stack_read(struct vctx *c, struct state *s, struct frame *f, int lo, int size, struct reg *dst,
		      bool sign, unsigned dno)
{
	int base = STACK + lo;
	if (f->st[base] == STK_SPILL && base % 8 == 0 && size == 8) {
		for (int i = base; i < base + 8; i++)
			if (f->st[i] != STK_SPILL)
				goto bytes;
		if (dst)
			*dst = f->spill[base / 8];
		return hist_slot(s, frame_idx(s, f), base / 8);
	}
	/* Linux check_stack_read_fixed_off(): a narrower fill from the start of a spilled scalar (its low
	 * bytes) keeps what is known of them, and its link when the value fits in them.  A sign-extending
	 * fill gets the spill's value, which check_ld_st() sign-extends (Linux coerce_reg_to_size_sx());
	 * its link only when the value is below the sign bit, where that changes nothing (Linux keeps it
	 * up to the full width, where the copies can then differ). */
	if (f->st[base] == STK_SPILL && base % 8 == 0 && f->spill[base / 8].type == SCALAR &&
	    spill_size(f, base) >= size) {
		if (dst && sign) {
			*dst = f->spill[base / 8];
			if (scalar_width(dst) >= 8u * (unsigned)size)
				unlink_scalar(dst);
		} else if (dst) {
			struct reg r = f->spill[base / 8];
			if (scalar_width(&r) > 8u * (unsigned)size) {
				struct scalar mask = scalar_const((1ull << (8 * size)) - 1);
				unlink_scalar(&r);
				scalar_alu(&r.v, &mask, BPF_AND, false, false);
			}
			*dst = r;
		}
		return hist_slot(s, frame_idx(s, f), base / 8); /* its value is the spill's: precision follows */
	}
bytes:;
	bool all_zero = true;
	int zero_slot = -1;
	for (int i = base; i < base + size; i++) {
		if (f->st[i] == STK_INVALID) {
			/* Linux lets programs loaded with CAP_PERFMON read stack they never wrote
			 * (allow_uninit_stack): unknown bytes */
			if (!c->env->unpriv) {
				all_zero = false;
				continue;
			}
			return err_at(c, s->pc, -EACCES, "invalid read from stack off %d+%d size %d", lo, i - base, size);
		}
		if (f->st[i] == STK_SPILL) {
			const struct reg *sp = &f->spill[i / 8];
			if (sp->type != SCALAR)
				return err_at(c, s->pc, -EACCES, "invalid size of register fill");
			if (scalar_is_const(&sp->v) && !sp->v.var_off.value)
				zero_slot = i / 8; /* bytes of a spilled 0 (Linux): its value decides, followed */
			else
				all_zero = false;
		} else if (f->st[i] != STK_ZERO) {
			all_zero = false;
		}
	}
	(void)dno;
	if (dst) {
		if (all_zero) {
			mark_const(dst, 0);
		} else {
			mark_unknown(dst);
			if (!sign)
				dst->v = scalar_from_size((unsigned)size);
		}
	}
	return all_zero && zero_slot >= 0 ? hist_slot(s, frame_idx(s, f), zero_slot) : 0;
}

/* Every byte of [lo, lo+size) at a variable stack offset: in bounds; read: initialized.  `off` is the
 * fixed part of the offset (insn and register), as Linux's message gives it. */
static int stack_var_access(struct vctx *c, struct state *s, struct frame *f, int64_t lo, int64_t hi, int size,
			    bool write, unsigned rno, int64_t off)
{
	const struct reg *p = R(s, rno);
	if (lo < -STACK || hi + size > 0)
		return err_at(c, s->pc, -EACCES, "invalid variable-offset%s stack R%u var_off=(0x%llx; 0x%llx) off=%lld size=%d",
			      write ? " write to" : " read from", rno, (unsigned long long)p->v.var_off.value,
			      (unsigned long long)p->v.var_off.mask, (long long)off, size);
	for (int64_t i = STACK + lo; i < STACK + hi + size; i++) {
		if (write) {
			if (f->st[i & ~7] == STK_SPILL)
				unspill(f, i);
			st_set(f, (int)i, STK_MISC);
		} else if (f->st[i] == STK_INVALID && c->env->unpriv) {
			return err_at(c, s->pc, -EACCES, "invalid variable-offset read from stack R%u off=%lld size=%d", rno,
				      (long long)(i - STACK), size);
		}
	}
	return 0;
}

struct access {
	int64_t off;     /* insn off */
	int size;
	bool write;
	bool atomic;
	bool acqrel;           /* load-acquire / store-release: aligned as an atomic (Linux passes
				* strict_alignment_once), not on ctx or packet (atomic_ptr_type_ok():
				* Linux 6.18 asks it before a load, after a store's own checks) */
	struct reg *val;       /* stores of a register: what is stored (a spill links it) */
	bool imm_zero;
	bool sign;
};

/* An atomic access must be naturally aligned whatever the variable offset (Linux check_ptr_alignment(),
 * strict for atomics: check_generic_ptr_alignment()); the engines fault on a misaligned one at run time,
 * which a verified program must never do.  desc names the memory as Linux does ("value ", "stack "). */
static int check_atomic_align(struct vctx *c, struct state *s, const struct reg *p, int64_t insn_off, int size,
			      const char *desc)
{
	if (p->type == PTR_PKT || p->type == PTR_PKT_META) /* Linux check_pkt_ptr_alignment(): NET_IP_ALIGN */
		insn_off += 2;
	struct tnum at = tnum_add(p->v.var_off, tnum_const((uint64_t)((int64_t)p->off + insn_off)));
	if (!((at.value | at.mask) & (uint64_t)(size - 1)))
		return 0;
	char var[48]; /* Linux's form: a constant variable offset as a number, else "(value; mask)" */
	if (tnum_is_const(p->v.var_off))
		snprintf(var, sizeof(var), "%lld", (long long)p->v.var_off.value);
	else
		snprintf(var, sizeof(var), "(0x%llx; 0x%llx)", (unsigned long long)p->v.var_off.value,
			 (unsigned long long)p->v.var_off.mask);
	if (p->type == PTR_PKT || p->type == PTR_PKT_META)
		return err_at(c, s->pc, -EACCES, "misaligned packet access off 2+%s+%d+%lld size %d", var, p->off,
			      (long long)insn_off - 2, size);
	return err_at(c, s->pc, -EACCES, "misaligned %saccess off %s+%d+%lld size %d", desc, var, p->off, (long long)insn_off,
		      size);
}

/* A load or store through register rno (Linux check_mem_access); the loaded value into *dst. */
static int check_mem(struct vctx *c, struct state *s, unsigned rno, const struct access *a, struct reg *dst)
{
	const struct reg *p = R(s, rno);
	int size = a->size;
	int64_t off = (int64_t)p->off + a->off;
	int err;

	if (a->write && a->val && is_ptr(a->val) && c->env->unpriv && p->type != PTR_STACK)
		return err_at(c, s->pc, -EACCES, "R%u leaks addr into %s", (unsigned)(a->val - R(s, 0)),
			      p->type == PTR_MAP_VALUE ? "map" : "mem");
	switch (p->type) {
	case NOT_INIT:
		return err_at(c, s->pc, -EACCES, "R%u !read_ok", rno);
	case PTR_STACK: {
		struct frame *f = frame_of(s, p);
		if (!scalar_is_const(&p->v)) {
			int64_t lo = off + p->v.smin, hi = off + p->v.smax;
			if (p->v.smin <= -MAX_VAR_OFF || p->v.smax >= MAX_VAR_OFF)
				return err_at(c, s->pc, -EACCES, "invalid unbounded variable-offset%s stack R%u",
					      a->write ? " write to" : " read from", rno);
			if ((a->atomic || a->acqrel) && (err = check_atomic_align(c, s, p, a->off, size, "stack ")))
				return err;
			if ((err = stack_var_access(c, s, f, lo, hi, size, a->write, rno, off)))
				return err;
			if (-lo > (int64_t)f->depth)
				f->depth = (uint32_t)-lo;
			if (dst) {
				mark_unknown(dst);
				if (!a->sign)
					dst->v = scalar_from_size((unsigned)size);
			}
			return 0;
		}
		off += (int64_t)p->v.var_off.value;
		if (off < -STACK || off + size > 0 || off >= 0)
			return err_at(c, s->pc, -EACCES, "invalid %s stack R%u off=%lld size=%d", a->write ? "write to" : "read from",
				      rno, (long long)off, size);
		if (off % size)
			return err_at(c, s->pc, -EACCES, "misaligned stack access off %lld+%d+%lld size %d",
				      (long long)p->v.var_off.value, p->off, (long long)a->off, size);
		if (-off > (int64_t)f->depth)
			f->depth = (uint32_t)-off;
		if (a->atomic) {
			if ((err = stack_read(c, s, f, (int)off, size, NULL, false, rno)))
				return err;
			if (f->st[STACK + off] == STK_SPILL && f->spill[(STACK + off) / 8].type != SCALAR)
				return err_at(c, s->pc, -EACCES, "BPF_ATOMIC stores into R%u fp is not allowed on a spilled pointer", rno);
			if (dst) {
				mark_unknown(dst);
				dst->v = scalar_from_size((unsigned)size);
			}
			return stack_write(c, s, f, (int)off, size, NULL, false);
		}
		if (a->write)
			return stack_write(c, s, f, (int)off, size, a->val, a->imm_zero);
		return stack_read(c, s, f, (int)off, size, dst, a->sign, rno);
	}
	case PTR_MAP_VALUE:
	case PTR_MAP_KEY:
	case PTR_MEM: {
		uint32_t limit = p->type == PTR_MAP_VALUE ? p->map->value_size :
				 p->type == PTR_MAP_KEY ? p->map->key_size : p->mem_size;
		if (p->v.smin < 0)
			return err_at(c, s->pc, -EACCES,
				      "R%u min value is negative, either use unsigned index or do a if (index >=0) check.", rno);
		if (p->v.umax >= MAX_VAR_OFF)
			return err_at(c, s->pc, -EACCES, "R%u unbounded memory access, make sure to bounds check any such access", rno);
		int64_t lo = off + (int64_t)p->v.umin, hi = off + (int64_t)p->v.umax;
		if (lo < 0 || hi + size > (int64_t)limit) {
			if (p->type == PTR_MAP_VALUE)
				return err_at(c, s->pc, -EACCES, "invalid access to map value, value_size=%u off=%lld size=%d", limit,
					      (long long)(lo < 0 ? lo : hi), size);
			if (p->type == PTR_MAP_KEY)
				return err_at(c, s->pc, -EACCES, "invalid access to map key, key_size=%u off=%lld size=%d", limit,
					      (long long)(lo < 0 ? lo : hi), size);
			return err_at(c, s->pc, -EACCES, "invalid access to memory, mem_size=%u off=%lld size=%d", limit,
				      (long long)(lo < 0 ? lo : hi), size);
		}
		if (p->type == PTR_MAP_VALUE) {
			const struct vf_map *m = p->map;
			if (a->write && (m->flags & BPF_F_RDONLY_PROG))
				return err_at(c, s->pc, -EACCES, "write into map forbidden, value_size=%u off=%lld size=%d",
					      m->value_size, (long long)lo, size);
			if (!a->write && (m->flags & BPF_F_WRONLY_PROG))
				return err_at(c, s->pc, -EACCES, "read from map forbidden, value_size=%u off=%lld size=%d",
					      m->value_size, (long long)lo, size);
			if (m->spin_lock_off != UINT32_MAX && lo < (int64_t)m->spin_lock_off + 4 &&
			    hi + size > (int64_t)m->spin_lock_off)
				return err_at(c, s->pc, -EACCES, "bpf_spin_lock cannot be accessed directly by load/store");
			if (m->timer_off != UINT32_MAX && lo < (int64_t)m->timer_off + 16 && hi + size > (int64_t)m->timer_off)
				return err_at(c, s->pc, -EACCES, "bpf_timer cannot be accessed directly by load/store");
		}
		if (p->type == PTR_MAP_KEY && a->write)
			return err_at(c, s->pc, -EACCES, "write to change key R%u not allowed", rno);
		if ((a->atomic || a->acqrel) &&
		    (err = check_atomic_align(c, s, p, a->off, size, p->type == PTR_MAP_VALUE ? "value " : "")))
			return err;
		break;
	}
	case PTR_PKT:
	case PTR_PKT_META:
		if (a->atomic)
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC stores into R%u %s is not allowed", rno, tn(p));
		if (a->acqrel && !a->write)
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC loads from R%u %s is not allowed", rno, tn(p));
		if (a->acqrel && (err = check_atomic_align(c, s, p, a->off, size, "packet ")))
			return err;
		if (a->write && !c->env->pkt_writable)
			return err_at(c, s->pc, -EACCES, "cannot write into packet");
		if (p->v.smin < 0)
			return err_at(c, s->pc, -EACCES, "R%u min value is negative, either use unsigned index or do a if (index >=0) check.", rno);
		if (off < 0 || off + size > (int64_t)p->range) {
			err_at(c, s->pc, -EACCES, "invalid access to packet, off=%lld size=%d, R%u(id=%u,off=%lld,r=%u)", (long long)off,
			       size, rno, p->id, (long long)off, p->range);
			return err_at(c, s->pc, -EACCES, "R%u offset is outside of the packet", rno);
		}
		if (a->acqrel) /* a store-release, once it passed as a store (Linux check_atomic_store()) */
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC stores into R%u %s is not allowed", rno, tn(p));
		break;
	case PTR_CTX: {
		if (a->atomic)
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC stores into R%u ctx is not allowed", rno);
		if (a->acqrel && !a->write)
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC loads from R%u ctx is not allowed", rno);
		if (!scalar_is_const(&p->v) || p->v.var_off.value)
			return err_at(c, s->pc, -EACCES, "variable ctx access var_off=(0x%llx; 0x%llx) disallowed",
				      (unsigned long long)p->v.var_off.value, (unsigned long long)p->v.var_off.mask);
		if (a->write && a->val && is_ptr(a->val))
			return err_at(c, s->pc, -EACCES, "R%u leaks addr into ctx", (unsigned)(a->val - R(s, 0)));
		int kind = off < 0 || off + size > (int64_t)c->env->ctx_size ? VF_CTX_DENY :
			   c->env->ctx_access(c->env->arg, (uint32_t)off, (uint32_t)size, a->write);
		if (kind == VF_CTX_DENY)
			return err_at(c, s->pc, -EACCES, "invalid bpf_context access off=%lld size=%d", (long long)off, size);
		if (a->acqrel) /* a store-release, once it passed as a store (Linux check_atomic_store()) */
			return err_at(c, s->pc, -EACCES, "BPF_ATOMIC stores into R%u ctx is not allowed", rno);
		if (dst) {
			if (kind == VF_CTX_SCALAR) {
				mark_unknown(dst);
				if (!a->sign)
					dst->v = scalar_from_size((unsigned)size);
			} else {
				memset(dst, 0, sizeof(*dst));
				dst->type = kind == VF_CTX_PKT ? PTR_PKT : kind == VF_CTX_PKT_END ? PTR_PKT_END : PTR_PKT_META;
				dst->v = scalar_const(0);
			}
		}
		return 0;
	}
	default:
		return err_at(c, s->pc, -EACCES, "R%u invalid mem access '%s'", rno, tn(p));
	}
	if (dst) {
		mark_unknown(dst);
		if (!a->sign)
			dst->v = scalar_from_size((unsigned)size);
		else if (size < 8) {
			struct scalar any = scalar_unknown();
			scalar_movsx(&dst->v, &any, (unsigned)size * 8, false);
		}
	}
	return 0;
}

static int check_ld_st(struct vctx *c, struct state *s, const struct bpf_insn *in, int id)
{
	const struct isa_info *info = &isa_info[id];
	struct access a = { .off = in->off, .size = info->size, .sign = (info->flags & F_SIGNED) != 0 };
	struct reg val;
	int err;

	switch (info->fmt) {
	case FMT_LDX:
	case FMT_LDACQ:
		if ((err = check_read(c, s, in->src_reg)))
			return err;
		a.acqrel = info->fmt == FMT_LDACQ;
		if ((err = check_mem(c, s, in->src_reg, &a, &val)))
			return err;
		*R(s, in->dst_reg) = val;
		if (a.sign && a.size < 8 && val.type == SCALAR) /* of what the load knows (a spill, a 0) */
			scalar_movsx(&R(s, in->dst_reg)->v, &val.v, (unsigned)a.size * 8, false);
		return 0;
	case FMT_ST:
		if ((err = check_read(c, s, in->dst_reg)))
			return err;
		a.write = true;
		a.imm_zero = in->imm == 0;
		mark_const(&val, (uint64_t)(int64_t)in->imm);
		a.val = &val; /* a spill of the constant from a slot's start (Linux, BPF_ST) */
		return check_mem(c, s, in->dst_reg, &a, NULL);
	case FMT_STX:
		if ((err = check_read(c, s, in->dst_reg)) || (err = check_read(c, s, in->src_reg)))
			return err;
		a.write = true;
		a.val = R(s, in->src_reg);
		/* zero bytes (compared exactly, read back as 0) from a register known to be 0: its value
		 * matters (Linux check_stack_write_fixed_off()); a whole spill is followed by the history */
		if (R(s, in->dst_reg)->type == PTR_STACK && a.size != 8 && is_null_scalar(a.val))
			need_reg(c, s, in->src_reg);
		return check_mem(c, s, in->dst_reg, &a, NULL);
	default: /* FMT_ATOMIC */
		if ((err = check_read(c, s, in->dst_reg)) || (err = check_read(c, s, in->src_reg)))
			return err;
		if (info->flags & F_ACQREL) { /* store_release: a plain store, aligned */
			a.write = true;
			a.acqrel = true;
			a.val = R(s, in->src_reg);
			return check_mem(c, s, in->dst_reg, &a, NULL);
		}
		if ((info->flags & F_R0) && (err = check_read(c, s, 0)))
			return err;
		if (is_ptr(R(s, in->src_reg)) || ((info->flags & F_R0) && is_ptr(R(s, 0))))
			return err_at(c, s->pc, -EACCES, "R%u leaks addr into mem", in->src_reg);
		a.write = true;
		a.atomic = true;
		if ((err = check_mem(c, s, in->dst_reg, &a, &val)))
			return err;
		if (info->flags & F_FETCH) {
			unsigned to = (info->flags & F_R0) ? 0 : in->src_reg;
			mark_unknown(R(s, to));
			R(s, to)->v = scalar_from_size((unsigned)a.size);
		}
		return 0;
	}
}

/* ---- helper arguments -------------------------------------------------------------------------- */

struct call_meta {
	const struct vf_map *map;
	bool key_const;        /* the key argument is a known constant on the stack */
	uint64_t key;
	uint32_t map_val_id;   /* spin lock: which value */
	int32_t lock_off;
	uint64_t alloc_size;
	uint32_t release_ref;
	const struct reg *func;
};

/* Memory of `size` bytes (or a range of sizes up to umax) at register rno: readable, or writable and
 * then initialized (Linux check_helper_mem_access). */
static int check_helper_mem(struct vctx *c, struct state *s, unsigned rno, uint64_t size, bool write, bool uninit_ok)
{
	const struct reg *p = R(s, rno);
	if (size == 0)
		return err_at(c, s->pc, -EACCES, "invalid zero-sized read");
	if (size >= MAX_VAR_OFF)
		return err_at(c, s->pc, -EACCES, "R%u unbounded memory access, use 'var &= const' or 'if (var < const)'", rno + 1);
	switch (p->type) {
	case PTR_STACK: {
		struct frame *f = frame_of(s, p);
		if (!scalar_is_const(&p->v)) {
			int64_t lo = p->off + p->v.smin, hi = p->off + p->v.smax;
			if (lo < -STACK || hi + (int64_t)size > 0)
				return err_at(c, s->pc, -EACCES, "invalid variable-offset%s stack R%u var_off=(0x%llx; 0x%llx) off=%d size=%llu",
					      write ? " write to" : " read from", rno, (unsigned long long)p->v.var_off.value,
					      (unsigned long long)p->v.var_off.mask, p->off, (unsigned long long)size);
			if ((!write || !uninit_ok) && c->env->unpriv)
				for (int64_t i = STACK + lo; i < STACK + hi + (int64_t)size; i++)
					if (f->st[i] == STK_INVALID)
						return err_at(c, s->pc, -EACCES, "invalid indirect read from stack R%u var_off=(0x%llx; 0x%llx)+%lld size %llu",
							      rno, (unsigned long long)p->v.var_off.value,
							      (unsigned long long)p->v.var_off.mask, (long long)(i - STACK - lo),
							      (unsigned long long)size);
			if (-lo > (int64_t)f->depth)
				f->depth = (uint32_t)-lo;
			if (write)
				return stack_var_access(c, s, f, lo, hi, (int)size, true, rno, p->off);
			return 0;
		}
		int64_t lo = p->off + (int64_t)p->v.var_off.value;
		if (lo < -STACK || lo + (int64_t)size > 0)
			return err_at(c, s->pc, -EACCES, "invalid %s stack R%u off=%lld size=%llu", write ? "write to" : "read from",
				      rno, (long long)lo, (unsigned long long)size);
		if (-lo > (int64_t)f->depth)
			f->depth = (uint32_t)-lo;
		for (int64_t i = STACK + lo; i < STACK + lo + (int64_t)size; i++) {
			if (write && uninit_ok) {
				if (f->st[i & ~7] == STK_SPILL)
					unspill(f, i);
				st_set(f, (int)i, STK_MISC);
			} else if (f->st[i] == STK_INVALID && c->env->unpriv) {
				return err_at(c, s->pc, -EACCES, "invalid indirect read from stack R%u off %lld+%lld size %llu", rno,
					      (long long)lo, (long long)(i - STACK - lo), (unsigned long long)size);
			} else if (write && f->st[i] == STK_SPILL && f->spill[i / 8].type != SCALAR) {
				/* a helper writing over a spilled pointer leaves bytes */
				unspill(f, i);
			}
		}
		return 0;
	}
	case PTR_MAP_VALUE:
	case PTR_MAP_KEY:
	case PTR_MEM:
	case PTR_PKT:
	case PTR_PKT_META: {
		struct access a = { .off = 0, .size = 1, .write = write };
		/* the first and the last byte bound the whole range for these linear regions */
		int err;
		if ((err = check_mem(c, s, rno, &a, NULL)))
			return err;
		a.off = (int64_t)size - 1;
		return check_mem(c, s, rno, &a, NULL);
	}
	case PTR_CTX:
		return err_at(c, s->pc, -EACCES, "R%u type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_", rno);
	default:
		return err_at(c, s->pc, -EACCES, "R%u type=%s expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_", rno, tn(p));
	}
}

/* A 4-byte key at a fixed stack offset whose bytes are known: all zero, or the low half of a spilled
 * constant (Linux get_constant_map_key()). */
static bool const_stack_key(struct state *s, const struct reg *p, uint32_t size, uint64_t *key)
{
	if (p->type != PTR_STACK || !scalar_is_const(&p->v) || size != 4)
		return false;
	const struct frame *f = s->f[p->frameno];
	int64_t off = p->off + (int64_t)p->v.var_off.value;
	if (off < -STACK || off + 4 > 0)
		return false;
	int b = (int)(STACK + off);
	bool zero = true;
	for (int i = b; i < b + 4; i++)
		zero = zero && f->st[i] == STK_ZERO;
	if (zero) {
		*key = 0;
		return true;
	}
	if (b % 8 == 0 && f->st[b] == STK_SPILL && f->spill[b / 8].type == SCALAR && scalar_is_const(&f->spill[b / 8].v)) {
		*key = (uint32_t)f->spill[b / 8].v.var_off.value;
		return true;
	}
	return false;
}

static int check_arg(struct vctx *c, struct state *s, const struct hlp_proto *h, unsigned i, struct call_meta *m)
{
	unsigned rno = i + 1;
	struct reg *r = R(s, rno);
	uint8_t kind = h->args[i];
	int err;
	if (kind == ARG_NONE || kind == ARG_FMT_VALUE)
		return 0;
	if ((err = check_read(c, s, rno)))
		return err;
	switch (kind) {
	case ARG_ANYTHING:
		if (c->env->unpriv && is_ptr(r))
			return err_at(c, s->pc, -EACCES, "R%u leaks addr into helper function", rno);
		return 0;
	case ARG_SCALAR:
		if (r->type != SCALAR)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=scalar", rno, tn(r));
		return 0;
	case ARG_CONST_MAP_PTR:
		if (r->type != CONST_MAP_PTR)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=map_ptr", rno, tn(r));
		/* Linux check_func_arg(): bpf_timer_init(timer, map) must name the map the timer lives in (its
		 * callback gets that map's key and value); an earlier argument set m->map only for timers */
		if (m->map && m->map != r->map)
			return err_at(c, s->pc, -EINVAL, "timer pointer in R1 map_uid=0 doesn't match map pointer in R%u map_uid=0",
				      rno);
		m->map = r->map;
		return 0;
	case ARG_PTR_TO_MAP_KEY:
		if (NEVER(!m->map)) /* helpers.def: a map argument comes before its key */
			return -EACCES;
		if ((err = check_helper_mem(c, s, rno, m->map->key_size, false, false)))
			return err;
		m->key_const = const_stack_key(s, r, m->map->key_size, &m->key);
		if (m->key_const && m->map->type != BPF_MAP_TYPE_ARRAY && m->map->type != BPF_MAP_TYPE_PERCPU_ARRAY)
			m->key_const = false; /* only an array's lookup uses it */
		if (m->key_const) {
			/* a spilled constant key (zero bytes compare exactly): its value matters */
			int64_t koff = r->off + (int64_t)r->v.var_off.value;
			int b = (int)(STACK + koff);
			if (b % 8 == 0 && s->f[r->frameno]->st[b] == STK_SPILL) {
				need_precise(c, s, 0, r->frameno, 1ull << (b / 8));
			}
		}
		return 0;
	case ARG_PTR_TO_MAP_VALUE:
	case ARG_PTR_TO_MAP_VALUE_OR_NULL: {
		if (NEVER(!m->map)) /* helpers.def: a map argument comes before its value */
			return -EACCES;
		if (kind == ARG_PTR_TO_MAP_VALUE_OR_NULL && is_null_scalar(r)) {
			need_reg(c, s, rno);
			return 0;
		}
		/* pop/peek fill the buffer (Linux: MEM_UNINIT) */
		bool fill = h->id == BPF_FUNC_map_pop_elem || h->id == BPF_FUNC_map_peek_elem;
		return check_helper_mem(c, s, rno, m->map->value_size, fill, fill);
	}
	case ARG_PTR_TO_MEM:
	case ARG_PTR_TO_MEM_RO:
	case ARG_PTR_TO_MEM_OR_NULL:
	case ARG_PTR_TO_UNINIT_MEM: {
		/* sized by the next argument, checked with it */
		if (kind == ARG_PTR_TO_MEM_OR_NULL && is_null_scalar(r)) {
			need_reg(c, s, rno);
			return 0;
		}
		if (!is_ptr(r))
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_", rno, tn(r));
		return 0;
	}
	case ARG_CONST_SIZE:
	case ARG_CONST_SIZE_OR_ZERO: {
		if (r->type != SCALAR)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=scalar", rno, tn(r));
		need_reg(c, s, rno); /* its bounds decide what the helper may touch */
		if (is_null_scalar(R(s, rno - 1)))
			need_reg(c, s, rno - 1);
		if (r->v.smin < 0)
			return err_at(c, s->pc, -EACCES, "R%u min value is negative, either use unsigned or 'var &= const'", rno);
		if (kind == ARG_CONST_SIZE && r->v.umin == 0)
			return err_at(c, s->pc, -EACCES, "R%u invalid zero-sized read: u64=[%llu,%llu]", rno,
				      (unsigned long long)r->v.umin, (unsigned long long)r->v.umax);
		if (r->v.umax >= MAX_VAR_OFF)
			return err_at(c, s->pc, -EACCES, "R%u unbounded memory access, use 'var &= const' or 'if (var < const)'", rno);
		uint8_t pk = h->args[i - 1];
		bool write = pk == ARG_PTR_TO_UNINIT_MEM;
		if (pk == ARG_PTR_TO_MEM_OR_NULL && is_null_scalar(R(s, rno - 1)))
			return 0;
		if (r->v.umax == 0)
			return 0; /* ARG_CONST_SIZE_OR_ZERO of exactly 0: nothing is touched */
		return check_helper_mem(c, s, rno - 1, r->v.umax, write, write);
	}
	case ARG_PTR_TO_CTX:
		if (r->type != PTR_CTX)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=ctx", rno, tn(r));
		if (r->off || !scalar_is_const(&r->v) || r->v.var_off.value)
			return err_at(c, s->pc, -EACCES, "dereference of modified ctx ptr R%u off=%d disallowed", rno, r->off);
		return 0;
	case ARG_PTR_TO_FUNC:
		if (r->type != PTR_FUNC)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=func", rno, tn(r));
		m->func = r;
		return 0;
	case ARG_PTR_TO_STACK_OR_NULL:
		if (is_null_scalar(r))
			need_reg(c, s, rno);
		if (is_null_scalar(r) || r->type == PTR_STACK)
			return 0;
		return err_at(c, s->pc, -EACCES, "R%u type=%s expected=fp", rno, tn(r));
	case ARG_PTR_TO_SPIN_LOCK:
	case ARG_PTR_TO_TIMER: {
		bool lock = kind == ARG_PTR_TO_SPIN_LOCK;
		const char *what = lock ? "bpf_spin_lock" : "bpf_timer";
		if (r->type != PTR_MAP_VALUE)
			return err_at(c, s->pc, -EACCES, lock ? "R%u type=%s expected=map_value, ptr_" : "R%u type=%s expected=map_value",
				      rno, tn(r));
		if (!scalar_is_const(&r->v))
			return err_at(c, s->pc, -EACCES, "R%u doesn't have constant offset. %s has to be at the constant offset", rno, what);
		uint32_t want = lock ? r->map->spin_lock_off : r->map->timer_off;
		int64_t at = r->off + (int64_t)r->v.var_off.value;
		if (want == UINT32_MAX)
			return err_at(c, s->pc, -EINVAL, "map '%s' has no valid %s", "", what);
		if (at != (int64_t)want)
			return err_at(c, s->pc, -EINVAL, "off %lld doesn't point to 'struct %s' that is at %u", (long long)at, what,
				      want);
		m->map = r->map;
		m->map_val_id = r->id;
		m->lock_off = (int32_t)at;
		return 0;
	}
	case ARG_PTR_TO_LONG:
		return check_helper_mem(c, s, rno, 8, true, true);
	case ARG_PTR_TO_CONST_STR:
		if (r->type != PTR_MAP_VALUE)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=map_value", rno, tn(r));
		if (!(r->map->flags & BPF_F_RDONLY_PROG)) /* the stray quote is Linux's */
			return err_at(c, s->pc, -EACCES, "R%u does not point to a readonly map'", rno);
		return check_helper_mem(c, s, rno, 1, false, false);
	case ARG_PTR_TO_ALLOC_MEM:
		if (r->type != PTR_MEM || !r->ref_id)
			return err_at(c, s->pc, -EACCES, "R%u type=%s expected=ringbuf_mem", rno, tn(r));
		if (r->off || !scalar_is_const(&r->v) || r->v.var_off.value)
			return err_at(c, s->pc, -EACCES, "R%u must have zero offset when passed to release func or trusted arg to kfunc", rno);
		m->release_ref = r->ref_id;
		return 0;
	case ARG_CONST_ALLOC_SIZE_OR_ZERO:
		if (r->type != SCALAR || !scalar_is_const(&r->v))
			return err_at(c, s->pc, -EACCES, "R%u is not a known constant'", rno);
		need_reg(c, s, rno);
		m->alloc_size = r->v.var_off.value;
		return 0;
	default:
		(void)NEVER(1); /* an argument kind of helpers.def this switch does not know */
		return -EACCES;
	}
}

static int enter_call(struct vctx *c, struct state *s, uint32_t target, uint32_t cb_helper)
{
	if (s->nf >= MAX_FRAMES)
		return err_at(c, s->pc, -E2BIG, "the call stack of %d frames is too deep", s->nf + 1);
	struct frame *caller = s->f[s->nf - 1], *f = frame_alloc(c);
	if (!f)
		return -ENOMEM;
	init_frame(f, s->nf, target, s->pc);
	f->cb_helper = cb_helper;
	if (!cb_helper)
		for (int r = 1; r <= 5; r++)
			f->r[r] = caller->r[r];
	s->f[s->nf++] = f;
	s->pc = target;
	return 0;
}

/* r1-r5 of a callback as the helper passes them (helpers.def's callback signature: Linux's
 * set_*_callback_state()); what the signature leaves out stays an unknown scalar. */
static void cb_frame_args(const struct hlp_cb *cb, const struct vf_map *map, const struct reg *cb_ctx, struct reg a[5])
{
	for (int r = 0; r < 5; r++)
		mark_unknown(&a[r]);
	for (unsigned i = 0; cb && i < cb->arg_cnt; i++) {
		switch (cb->args[i]) {
		case CBA_MAP_PTR:
		case CBA_MAP_KEY:
		case CBA_MAP_VALUE:
			if (!map)
				break; /* no map argument: stays unknown */
			memset(&a[i], 0, sizeof(a[i]));
			a[i].type = cb->args[i] == CBA_MAP_PTR ? CONST_MAP_PTR : cb->args[i] == CBA_MAP_KEY ? PTR_MAP_KEY : PTR_MAP_VALUE;
			a[i].map = map;
			a[i].v = scalar_const(0);
			break;
		case CBA_CTX:
			if (cb->ctx_arg)
				a[i] = *cb_ctx;
			break;
		default:
			break;
		}
	}
}

/* A call of the embedder's kfunc or host helper `id`: its arguments checked against the prototype the
 * embedder gave (bpfvm_opts.protos) as a helper's are, none without one; r1-r5 clobbered, r0 an unknown
 * scalar (unset for BPFVM_RET_VOID). */
static int check_host_call(struct vctx *c, struct state *s, uint32_t id, bool kfunc)
{
	const struct hlp_proto *hp = c->env->host_proto ? c->env->host_proto(c->env->arg, id, kfunc) : NULL;
	int err;
	c->stack_raw = true; /* host code may read any address its arguments lead to */
	if (s->lock_id)
		return err_at(c, s->pc, -EINVAL, "function calls are not allowed while holding a lock");
	if (hp) {
		struct call_meta m;
		memset(&m, 0, sizeof(m));
		for (unsigned i = 0; i < 5; i++)
			if ((err = check_arg(c, s, hp, i, &m)))
				return err;
	}
	for (int r = 1; r <= 5; r++)
		mark_not_init(R(s, r));
	if (hp && hp->ret == RET_VOID)
		mark_not_init(R(s, 0));
	else
		mark_unknown(R(s, 0));
	return 0;
}

/* Linux push_async_cb(): a timer's callback runs later, on a stack of its own, with nothing of the path
 * that set it: it is walked as a program of its own (frame 0 at the callback; no references, no lock;
 * r1-r3 the timer's map, key and value, r4-r5 unset), pushed like a pending branch, while the caller goes
 * on past the call at once. */
static int push_async_cb(struct vctx *c, const struct state *s, uint32_t target, uint32_t hid, const struct hlp_cb *cb,
			 const struct vf_map *map)
{
	struct state *a = calloc(1, sizeof(*a));
	struct frame *f = frame_alloc(c);
	if (!a || !f) {
		free(a);
		frame_release(c, f);
		return -ENOMEM;
	}
	init_frame(f, 0, target, 0);
	f->cb_helper = hid;
	f->async_cb = true;
	cb_frame_args(cb, map, NULL, f->cb_args);
	for (int r = 1; r <= 5; r++) {
		f->r[r] = f->cb_args[r - 1];
		if ((unsigned)r > cb->arg_cnt)
			mark_not_init(&f->r[r]);
	}
	a->nf = 1;
	a->f[0] = f;
	a->pc = s->pc; /* "from <the call> to <the callback>" when it is popped */
	a->prev_pc = SIZE_MAX; /* its history starts at the callback: backtracking ends there */
	a->first_pc = target;
	c->async_root[target] = 1;
	int err = push_branch(c, a, target);
	state_free(c, a);
	return err;
}

static int check_helper(struct vctx *c, struct state *s, const struct bpf_insn *in)
{
	uint32_t hid = (uint32_t)in->imm;
	const struct hlp_proto *h = hlp_get(hid);
	struct call_meta m;
	int err;

	memset(&m, 0, sizeof(m));
	m.lock_off = -1;
	if (h && (h->flags & HF_TAIL_CALL)) {
		/* (ctx, prog array, index): on success it does not return; on failure r0 is whatever */
		if (c->env->helper_allowed && !c->env->helper_allowed(c->env->arg, hid))
			return err_at(c, s->pc, -EINVAL, "program of this type cannot use helper bpf_%s#%u", "tail_call", hid);
		if (s->lock_id)
			return err_at(c, s->pc, -EINVAL, "function calls are not allowed while holding a lock");
		for (unsigned r = 1; r <= 3; r++)
			if ((err = check_read(c, s, r)))
				return err;
		if (R(s, 1)->type != PTR_CTX)
			return err_at(c, s->pc, -EACCES, "R1 type=%s expected=ctx", tn(R(s, 1)));
		if (R(s, 2)->type != CONST_MAP_PTR || !hlp_map_ok(h, R(s, 2)->map->type))
			return err_at(c, s->pc, -EINVAL, "expected prog array map for tail call");
		if (R(s, 3)->type != SCALAR)
			return err_at(c, s->pc, -EACCES, "R3 type=%s expected=scalar", tn(R(s, 3)));
		if (s->nrefs)
			return err_at(c, s->pc, -EINVAL, "tail_call would lead to reference leak");
		c->stack_raw = true; /* the next program runs in this frame */
		for (int r = 1; r <= 5; r++)
			mark_not_init(R(s, r));
		mark_unknown(R(s, 0));
		return 0;
	}
	if (c->env->host_helper && c->env->host_helper(c->env->arg, hid))
		return check_host_call(c, s, hid, false); /* a host function: as a kfunc */
	if (!h)
		return err_at(c, s->pc, -EINVAL, "invalid func unknown#%u", hid);
	if (c->env->helper_allowed && !c->env->helper_allowed(c->env->arg, hid))
		return err_at(c, s->pc, -EINVAL, "program of this type cannot use helper bpf_%s#%u", h->name, hid);
	if ((h->flags & HF_GPL) && !c->env->gpl)
		return err_at(c, s->pc, -EINVAL, "cannot call GPL-restricted function from non-GPL compatible program");
	if (s->lock_id && hid != BPF_FUNC_spin_unlock)
		return err_at(c, s->pc, -EINVAL, "function calls are not allowed while holding a lock");
	for (unsigned i = 0; i < 5; i++)
		if ((err = check_arg(c, s, h, i, &m)))
			return err;
	if (h->flags & HF_RAW_READ)
		c->stack_raw = true;
	if (m.map && h->maps && !hlp_map_ok(h, m.map->type)) /* maps: 0 without a map argument */
		return err_at(c, s->pc, -EINVAL, "cannot pass map_type %u into func bpf_%s#%u", m.map->type, h->name, hid);
	if (hid == BPF_FUNC_spin_lock) {
		s->lock_id = m.map_val_id ? m.map_val_id : ++c->next_id;
		s->lock_map = m.map;
		s->lock_off = m.lock_off;
	} else if (hid == BPF_FUNC_spin_unlock) {
		if (!s->lock_id)
			return err_at(c, s->pc, -EINVAL, "bpf_spin_unlock without taking a lock");
		/* Linux process_spin_lock(): the same value (its lookup's id), the same map and offset */
		if (s->lock_map != m.map || s->lock_off != m.lock_off || (m.map_val_id && m.map_val_id != s->lock_id))
			return err_at(c, s->pc, -EINVAL, "bpf_spin_unlock of different lock");
		s->lock_id = 0;
		s->lock_map = NULL;
		s->lock_off = 0;
	}
	if (m.release_ref) {
		int k;
		for (k = 0; k < s->nrefs && s->refs[k] != m.release_ref; k++)
			;
		if (NEVER(k == s->nrefs)) /* a release turns every copy of the pointer into a scalar */
			return -EINVAL;
		s->refs[k] = s->refs[s->nrefs - 1];
		s->ref_pc[k] = s->ref_pc[s->nrefs - 1];
		s->nrefs--;
		invalidate(s, has_ref, m.release_ref);
	}
	if (h->flags & HF_PKT)
		invalidate(s, is_pkt, 0);
	const struct reg *func = m.func;
	uint32_t target = func ? func->subprog : 0;
	const struct hlp_cb *cbsig = hlp_callback(h);
	struct reg cb_ctx = cbsig && cbsig->ctx_arg ? *R(s, cbsig->ctx_arg) : *R(s, 3);
	const struct vf_map *cbmap = m.map;
	/* the size of r0's memory: the constant its ARG_CONST_ALLOC_SIZE_OR_ZERO argument was checked to be */
	uint64_t ret_size = h->ret_size_arg ? R(s, h->ret_size_arg)->v.var_off.value : 0;
	/* the call clobbers r1-r5 and sets r0 */
	for (int r = 1; r <= 5; r++)
		mark_not_init(R(s, r));
	struct reg *r0 = R(s, 0);
	switch (h->ret) {
	case RET_VOID:
		mark_not_init(r0);
		break;
	case RET_MAP_VALUE_OR_NULL:
		memset(r0, 0, sizeof(*r0));
		r0->type = PTR_MAP_VALUE_OR_NULL;
		/* an array's element for a constant index in range always exists */
		if (hid == BPF_FUNC_map_lookup_elem && m.key_const && m.key < m.map->max_entries &&
		    (m.map->type == BPF_MAP_TYPE_ARRAY || m.map->type == BPF_MAP_TYPE_PERCPU_ARRAY))
			r0->type = PTR_MAP_VALUE;
		r0->map = m.map;
		r0->id = ++c->next_id;
		r0->v = scalar_const(0);
		break;
	case RET_MEM_OR_NULL:
		if ((h->flags & HF_ACQUIRE) && s->nrefs == MAX_REFS)
			return err_at(c, s->pc, -E2BIG, "too many references");
		memset(r0, 0, sizeof(*r0));
		r0->type = PTR_MEM_OR_NULL;
		r0->mem_size = (uint32_t)ret_size;
		r0->id = ++c->next_id;
		r0->v = scalar_const(0);
		if (h->flags & HF_ACQUIRE) {
			r0->ref_id = r0->id;
			s->refs[s->nrefs] = r0->ref_id;
			s->ref_pc[s->nrefs++] = (uint32_t)s->pc;
		}
		break;
	default:
		mark_unknown(r0);
		break;
	}
	if (func && cbsig && cbsig->async)
		return push_async_cb(c, s, target, hid, cbsig, cbmap);
	if (func) {
		/* A callback runs zero or more times from inside the helper: walk the helper's return without
		 * it, and from each state a call of it leaves, both the helper's return and one more call
		 * (pruning at its entry ends that; see the callback's exit in check_exit()). */
		if ((err = push_branch(c, s, s->pc + 1)))
			return err;
		if ((err = enter_call(c, s, target, hid)))
			return err;
		struct frame *f = s->f[s->nf - 1];
		cb_frame_args(cbsig, cbmap, &cb_ctx, f->cb_args);
		for (int r = 1; r <= 5; r++)
			f->r[r] = f->cb_args[r - 1];
		return 1; /* pc moved */
	}
	return 0;
}

/* ---- conditional jumps ------------------------------------------------------------------------ */

/* The packet-range rule: for `pkt + off` compared with `pkt_end` (or pkt_meta with pkt), the side where
 * the access is proven sets the range of every pointer of that id (Linux find_good_pkt_pointers). */
static void set_pkt_range(struct state *s, const struct reg *p, bool right_open)
{
	if (p->v.umax >= MAX_VAR_OFF || p->off < 0)
		return;
	uint32_t range = (uint32_t)p->off + (right_open ? 1 : 0);
	for (int i = 0; i < s->nf; i++) {
		struct frame *f = s->f[i];
		for (int r = 0; r < 11; r++)
			if (f->r[r].type == p->type && f->r[r].id == p->id && f->r[r].range < range)
				f->r[r].range = range;
		for (int k = 0; k < SLOTS; k++)
			if (f->st[k * 8] == STK_SPILL && f->spill[k].type == p->type && f->spill[k].id == p->id &&
			    f->spill[k].range < range)
				f->spill[k].range = range;
	}
}

/* pkt/pkt_end comparisons: on which side (taken or not) the range holds, and whether it is open. */
static void pkt_compare(struct state *taken, struct state *fall, const struct reg *d, const struct reg *sr, unsigned op)
{
	/* normalize to `pkt OP end` */
	const struct reg *p = d, *e = sr;
	bool swapped = false;
	if ((d->type == PTR_PKT_END && sr->type == PTR_PKT) || (d->type == PTR_PKT && sr->type == PTR_PKT_META)) {
		p = sr;
		e = d;
		swapped = true;
	}
	bool ok = (p->type == PTR_PKT && e->type == PTR_PKT_END) || (p->type == PTR_PKT_META && e->type == PTR_PKT);
	if (!ok)
		return;
	if (swapped) { /* end OP pkt == pkt OP' end */
		switch (op) {
		case BPF_JGT: op = BPF_JLT; break;
		case BPF_JLT: op = BPF_JGT; break;
		case BPF_JGE: op = BPF_JLE; break;
		case BPF_JLE: op = BPF_JGE; break;
		default: break;
		}
	}
	switch (op) {
	case BPF_JGT: /* pkt > end: fall-through has pkt <= end */
		if (fall)
			set_pkt_range(fall, p, false);
		break;
	case BPF_JGE: /* pkt >= end: fall-through pkt < end */
		if (fall)
			set_pkt_range(fall, p, true);
		break;
	case BPF_JLT:
		if (taken)
			set_pkt_range(taken, p, true);
		break;
	case BPF_JLE:
		if (taken)
			set_pkt_range(taken, p, false);
		break;
	default:
		break;
	}
}

/* r == 0 / r != 0 on a maybe-null pointer: every copy (same id) becomes null or not */
static void mark_null(struct state *s, uint32_t id, bool is_null)
{
	for (int i = 0; i < s->nf; i++) {
		struct frame *f = s->f[i];
		for (int k = 0; k < 11 + SLOTS; k++) {
			struct reg *r = k < 11 ? &f->r[k] : (f->st[(k - 11) * 8] == STK_SPILL ? &f->spill[k - 11] : NULL);
			if (!r || r->id != id || (r->type != PTR_MAP_VALUE_OR_NULL && r->type != PTR_MEM_OR_NULL))
				continue;
			if (is_null) {
				mark_const(r, 0);
			} else if (r->type == PTR_MAP_VALUE_OR_NULL && r->map && r->map->inner) {
				/* a map-in-map's "value" is its inner map */
				r->map = r->map->inner;
				r->type = CONST_MAP_PTR;
			} else {
				r->type = r->type == PTR_MAP_VALUE_OR_NULL ? PTR_MAP_VALUE : PTR_MEM;
			}
		}
	}
	if (is_null) {
		/* a null reservation holds nothing */
		for (int k = 0; k < s->nrefs; k++)
			if (s->refs[k] == id) {
				s->refs[k] = s->refs[s->nrefs - 1];
				s->ref_pc[k] = s->ref_pc[s->nrefs - 1];
				s->nrefs--;
				break;
			}
	}
}

/* Register n (0-10) or spill slot n-11 of frame f, when it holds a scalar of link id. */
static struct reg *linked_at(struct frame *f, int n, uint32_t id)
{
	struct reg *x = n < 11 ? &f->r[n] : f->st[(n - 11) * 8] == STK_SPILL ? &f->spill[n - 11] : NULL;
	return x && x->type == SCALAR && x->id == id ? x : NULL;
}

/* Linux collect_linked_regs(): a conditional jump follows at most 6 copies of the scalars it compares
 * (ids a and b), found innermost frame first, its live registers r0-r9 then spills from fp-8 upwards
 * (Linux has forgotten dead registers by then); the others lose their link. */
static void cap_links(struct vctx *c, struct state *s, uint32_t a, uint32_t b)
{
	int n = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint32_t id = pass ? b : a;
		if (!id || (pass && a == b))
			continue;
		for (int i = s->nf - 1; i >= 0; i--) {
			/* as states_equal(): callers resume after their callee's call with r6-r9 */
			uint16_t live = i == s->nf - 1 ? c->live[s->pc] : (uint16_t)(c->live[s->f[i + 1]->callsite + 1] & 0x7c0);
			for (int k = 0; k < 10 + SLOTS; k++) {
				if (k < 10 && !(live >> k & 1))
					continue;
				struct reg *x = linked_at(s->f[i], k < 10 ? k : 11 + SLOTS - 1 - (k - 10), id);
				if (x && ++n > 6)
					unlink_scalar(x);
			}
		}
	}
}

/* What a branch taught of scalar r holds for its copies (same id) everywhere, each `off - r->off` more
 * than it (Linux sync_linked_regs()). */
static void link_bounds(struct state *s, const struct reg *r)
{
	if (r->type != SCALAR || !r->id)
		return;
	const struct reg k = *r;
	for (int i = 0; i < s->nf; i++)
		for (int n = 0; n < 11 + SLOTS; n++) {
			struct reg *x = linked_at(s->f[i], n, k.id);
			if (!x || x == r)
				continue;
			x->v = k.v;
			if (x->off != k.off) {
				struct scalar delta = scalar_const((uint64_t)((int64_t)x->off - (int64_t)k.off));
				scalar_alu(&x->v, &delta, BPF_ADD, false, false);
			}
		}
}

static int check_cond(struct vctx *c, struct state *s, const struct bpf_insn *in, int id, bool *fall_ok, bool *taken_ok,
		      struct state **taken_state)
{
	const struct isa_info *info = &isa_info[id];
	unsigned op = isa_op(id);
	bool j32 = info->flags & F_32;
	struct reg *d = R(s, in->dst_reg), kr;
	const struct reg *sr;
	int err;

	if ((err = check_read(c, s, in->dst_reg)))
		return err;
	if (info->flags & F_X) {
		if ((err = check_read(c, s, in->src_reg)))
			return err;
		sr = R(s, in->src_reg);
	} else {
		mark_const(&kr, j32 ? (uint32_t)in->imm : (uint64_t)(int64_t)in->imm);
		sr = &kr;
	}
	*fall_ok = *taken_ok = true;
	*taken_state = NULL;
	/* the operands, when their values decide that a side is never walked (Linux check_cond_jmp_op()) */
	uint16_t ops = (uint16_t)(1u << in->dst_reg | ((info->flags & F_X) ? 1u << in->src_reg : 0));
	if (d->type == SCALAR && sr->type == SCALAR) {
		int t = scalar_branch_taken(&d->v, &sr->v, op, j32);
		if (t == 1) {
			need_precise(c, s, ops, 0, 0);
			*fall_ok = false;
			return 0;
		}
		if (t == 0) {
			need_precise(c, s, ops, 0, 0);
			*taken_ok = false;
			return 0;
		}
		cap_links(c, s, (info->flags & F_X) ? sr->id : 0, d->id);
		struct state *ts = state_dup(c, s);
		if (!ts)
			return -ENOMEM;
		struct reg *td = &ts->f[ts->nf - 1]->r[in->dst_reg];
		struct reg tk = *sr, fk = *sr;
		struct reg *tsr = (info->flags & F_X) ? &ts->f[ts->nf - 1]->r[in->src_reg] : &tk;
		struct reg *fsr = (info->flags & F_X) ? R(s, in->src_reg) : &fk;
		if (!scalar_refine(&td->v, &tsr->v, op, j32, true)) {
			state_free(c, ts);
			*taken_ok = false;
			ts = NULL;
		} else {
			link_bounds(ts, td);
			if (info->flags & F_X)
				link_bounds(ts, tsr);
		}
		if (!scalar_refine(&d->v, &fsr->v, op, j32, false)) {
			*fall_ok = false;
		} else {
			link_bounds(s, d);
			if (info->flags & F_X)
				link_bounds(s, fsr);
		}
		if (!*fall_ok || !*taken_ok) /* a side found impossible: as decided above */
			need_precise(c, s, ops, 0, 0);
		*taken_state = ts;
		return 0;
	}
	/* a pointer against 0 */
	const struct reg *p = is_ptr(d) ? d : sr, *o = is_ptr(d) ? sr : d;
	if (!(is_ptr(d) && is_ptr(sr)) && is_null_scalar(o) && (op == BPF_JEQ || op == BPF_JNE) && !j32) {
		need_precise(c, s, ops, 0, 0); /* the scalar's being 0 decides */
		if (p->type == PTR_MAP_VALUE_OR_NULL || p->type == PTR_MEM_OR_NULL) {
			struct state *ts = state_dup(c, s);
			if (!ts)
				return -ENOMEM;
			uint32_t pid = p->id;
			mark_null(ts, pid, op == BPF_JEQ);
			mark_null(s, pid, op != BPF_JEQ);
			*taken_state = ts;
			return 0;
		}
		/* other pointers are never null */
		if (op == BPF_JEQ)
			*taken_ok = false;
		else
			*fall_ok = false;
		return 0;
	}
	if (c->env->unpriv && !(is_ptr(d) && is_ptr(sr) && (is_pkt(d, 0) && is_pkt(sr, 0))))
		return err_at(c, s->pc, -EACCES, "R%u pointer comparison prohibited", in->dst_reg);
	struct state *ts = state_dup(c, s);
	if (!ts)
		return -ENOMEM;
	if (!j32 && is_ptr(d) && is_ptr(sr)) {
		/* regs of ts mirror those of s: find the same registers there */
		const struct reg *td = &ts->f[ts->nf - 1]->r[in->dst_reg], *tsr = &ts->f[ts->nf - 1]->r[in->src_reg];
		struct reg dd = *d, ss = *sr;
		pkt_compare(ts, NULL, td, tsr, op);
		pkt_compare(NULL, s, &dd, &ss, op);
	}
	*taken_state = ts;
	return 0;
}

/* ---- exits ------------------------------------------------------------------------------------- */

/* Linux check_return_code() / verbose_invalid_scalar(): r0 must be a scalar within [lo, hi]; the message
 * prints the bounds that are known ("has smin=0 smax=7", or "has unknown scalar value"). */
static int check_retval(struct vctx *c, struct state *s, const char *where, int32_t lo, int32_t hi)
{
	const struct reg *r0 = R(s, 0);
	char b[96];
	int n = 0;
	if (r0->type != SCALAR)
		return err_at(c, s->pc, -EINVAL, "%s the register R0 is not a known value (%s)", where, tn(r0));
	if (r0->v.smin >= lo && r0->v.smax <= hi)
		return 0;
	b[0] = 0;
	if (r0->v.smin > INT64_MIN)
		n += snprintf(b + n, sizeof(b) - (size_t)n, " smin=%lld", (long long)r0->v.smin);
	if (r0->v.smax < INT64_MAX)
		n += snprintf(b + n, sizeof(b) - (size_t)n, " smax=%lld", (long long)r0->v.smax);
	return err_at(c, s->pc, -EINVAL, "%s the register R0 has%s should have been in [%d, %d]", where,
		      n ? b : " unknown scalar value", lo, hi);
}

/* The walk takes the insn at s->pc (do_check(), and a callback's return to its helper call): the jump
 * count and what backtracking's shortcuts keep (state.marked, touched) follow it. */
static void walk_insn(struct vctx *c, struct state *s)
{
	const struct insn_meta *im = &c->meta[s->pc];
	unsigned sb = s->marked >> im->src & 1;
	s->prev_pc = s->pc; /* for the next insn; branches pushed from here come from here too */
	c->jmps += (isa_info[c->ids[s->pc]].flags & F_JMP) != 0;
	s->marked = (uint16_t)((s->marked & im->cm_and[sb]) | im->cm_or[sb]);
	s->touched |= im->touched;
}

/* Linux maybe_widen_reg(): a scalar imprecise in both states and not the same becomes unknown. */
static void maybe_widen(const struct reg *o, struct reg *r, struct idmap *m)
{
	if (o->type != SCALAR || r->type != SCALAR || o->precise || r->precise || regs_exact(o, r, m))
		return;
	mark_unknown(r);
}

/* Linux widen_imprecise_scalars(): registers and spilled scalars of every frame of cur against old. */
static void widen_imprecise(const struct state *old, struct state *cur)
{
	struct idmap m;
	m.n = 0;
	for (int i = 0; i < cur->nf && i < old->nf; i++) {
		const struct frame *fo = old->f[i];
		struct frame *fc = cur->f[i];
		for (int r = 0; r < 11; r++)
			maybe_widen(&fo->r[r], &fc->r[r], &m);
		for (int k = 0; k < SLOTS; k++)
			if (fo->st[k * 8] == STK_SPILL && fc->st[k * 8] == STK_SPILL)
				maybe_widen(&fo->spill[k], &fc->spill[k], &m);
	}
}

/* The latest explored state on s's path from `p` up at insn pc with s's frames (Linux find_prev_entry()'s
 * same_callsites()); with cb_ret, only one recorded when a callback's call returned there. */
static const struct seen *prev_on_path(const struct seen *p, const struct state *s, size_t pc, bool cb_ret)
{
	for (; p; p = p->parent) {
		const struct state *o = p->s;
		if ((cb_ret && !p->cb_ret) || !o || o->pc != pc || o->nf != s->nf)
			continue;
		bool same = true;
		for (int i = 1; i < s->nf && same; i++)
			same = o->f[i]->callsite == s->f[i]->callsite;
		if (same)
			return p;
	}
	return NULL;
}

/* At the helper call `site` that runs a callback: the state of the previous call's return, what it left
 * (Linux find_prev_entry(), whose dfs_depth test skips the state of the first arrival, which the first
 * return descends from directly). */
static const struct seen *prev_at_callsite(const struct state *s, size_t site)
{
	return prev_on_path(s->parent, s, site, true);
}

/* At insn pc: the state of the visit before this one (Linux find_prev_entry(): a state recorded at this
 * visit, which starts s's current segment, is not it). */
static const struct seen *prev_visit(const struct state *s, size_t pc)
{
	const struct seen *p = s->parent;
	if (p && s->first_pc == pc && p->s && p->s->pc == pc)
		p = p->parent;
	return prev_on_path(p, s, pc, false);
}

static int check_exit(struct vctx *c, struct state *s, bool *done)
{
	struct frame *f = s->f[s->nf - 1];
	int err;
	*done = false;
	if ((err = check_read(c, s, 0)))
		return err;
	if (s->nf == 1) {
		if (s->lock_id)
			return err_at(c, s->pc, -EINVAL, "bpf_spin_unlock is missing");
		if (s->nrefs)
			return err_at(c, s->pc, -EINVAL, "Unreleased reference id=%u alloc_insn=%u", s->refs[0], s->ref_pc[0]);
		if (c->env->unpriv && is_ptr(&f->r[0]))
			return err_at(c, s->pc, -EACCES, "R0 leaks addr as return value");
		if (f->async_cb) {
			/* Linux check_return_code(): the callback's range, whatever the program type's */
			const struct hlp_proto *ah = hlp_get(f->cb_helper);
			const struct hlp_cb *acb = ah ? hlp_callback(ah) : NULL;
			if ((err = check_retval(c, s, "At async callback return", acb ? acb->ret_min : 0, acb ? acb->ret_max : 0)))
				return err;
		} else if (c->env->ret_check &&
			   (err = check_retval(c, s, "At program exit", c->env->ret_lo, c->env->ret_hi))) {
			return err;
		}
		if (f->async_cb || c->env->ret_check)
			need_reg(c, s, 0); /* its value was checked */
		/* Linux lets privileged programs of most types return a pointer */
		*done = true;
		return 0;
	}
	if (f->cb_helper) {
		const struct hlp_proto *ch = hlp_get(f->cb_helper);
		const struct hlp_cb *cb = ch ? hlp_callback(ch) : NULL;
		if (f->r[0].type != SCALAR) /* Linux prepare_func_exit() */
			return err_at(c, s->pc, -EACCES, "R0 not a scalar value");
		if ((err = check_retval(c, s, "At callback return", cb ? cb->ret_min : 0, cb ? cb->ret_max : 1)))
			return err;
		need_reg(c, s, 0);
	} else if (f->r[0].type == PTR_STACK) {
		/* Linux prepare_func_exit(): the callee's frame ends here (a caller's pointer would do, but
		 * Linux refuses any) */
		return err_at(c, s->pc, -EINVAL, "cannot return stack pointer to the caller");
	}
	if (s->lock_id)
		return err_at(c, s->pc, -EINVAL, "bpf_spin_unlock is missing");
	/* back in the caller: r0 from the callee (a callback's caller gets the helper's r0), r1-r5 gone */
	struct reg r0 = f->r[0];
	size_t site = f->callsite;
	uint32_t cb = f->cb_helper, target = f->subprog;
	uint32_t depth = f->depth;
	struct reg cb_args[5];
	memcpy(cb_args, f->cb_args, sizeof(cb_args));
	uint32_t *fd = &c->fn_depth[f->subprog];
	if (depth > *fd)
		*fd = depth;
	frame_release(c, f);
	s->nf--;
	struct frame *caller = s->f[s->nf - 1];
	if (cb) {
		/* one more call of the callback from here, then the helper returns.  What the calls change
		 * in the callers (counters, accumulators) would make every walk new: the imprecise scalars
		 * that differ from what the previous call left become unknown, so that the walk converges (Linux
		 * prepare_func_exit(): widen_imprecise_scalars() against find_prev_entry()) */
		int e2;
		const struct seen *prev = prev_at_callsite(s, site);
		if (prev)
			widen_imprecise(prev->s, s);
		/* back at the call, as Linux returns to the call insn: a state there that covers this one
		 * (compared by range, an ancestor's walk still going on: Linux calls_callback()) means the
		 * calls converged; else this state is recorded there for the next return to compare with */
		s->pc = site;
		s->hist_cur = false;
		if ((e2 = hist_push(s, s->prev_pc))) /* exit -> call: do_check()'s arrival at an insn */
			return e2;
		c->cb_return = true;
		e2 = prune_or_record(c, s);
		c->cb_return = false;
		if (e2 < 0)
			return e2;
		if (e2) {
			if (logging(c))
				diag_printf(c->env->log, "%zu: safe", site);
			*done = true;
			return 0;
		}
		walk_insn(c, s); /* and the call walked again */
		/* the helper may return after this call: the caller goes on from the call with what the
		 * callbacks left in its stack (Linux returns to the call insn, which pushes the next call and
		 * goes on past it), r0 the helper's, r1-r5 gone */
		struct reg args[5];
		memcpy(args, &caller->r[1], sizeof(args));
		for (int r = 1; r <= 5; r++)
			mark_not_init(&caller->r[r]);
		e2 = push_branch(c, s, site + 1);
		memcpy(&caller->r[1], args, sizeof(args));
		if (e2)
			return e2;
		if ((e2 = enter_call(c, s, target, cb)))
			return e2;
		struct frame *nf = s->f[s->nf - 1];
		/* its arguments are what the helper gives each call */
		memcpy(nf->cb_args, cb_args, sizeof(cb_args));
		for (int r = 1; r <= 5; r++)
			nf->r[r] = cb_args[r - 1];
		return 1;
	}
	caller->r[0] = r0;
	for (int r = 1; r <= 5; r++)
		mark_not_init(&caller->r[r]);
	s->pc = site + 1;
	return 1;
}

/* ---- the walk -------------------------------------------------------------------------------- */

/* One visit of the insn at pc proved `facts` (VF_PROOF_*): the first visit sets them, every later one
 * keeps only what it proved too. */
static void prove(struct vctx *c, size_t pc, unsigned facts)
{
	uint8_t *p = c->env->proof;
	if (!p)
		return;
	facts |= VF_PROOF_REACHED;
	p[pc] = (uint8_t)(p[pc] & VF_PROOF_REACHED ? p[pc] & facts : facts);
}

/* Is the divisor of a div/mod never 0: the register (its low 32 bits for alu32), or the imm (check_alu()
 * refuses imm 0)? */
static bool divisor_nonzero(struct state *s, const struct bpf_insn *in, bool alu32, bool x)
{
	if (!x)
		return in->imm != 0;
	const struct reg *r = R(s, in->src_reg);
	if (r->type != SCALAR)
		return false; /* check_alu() rejects the insn */
	if (alu32)
		return r->v.u32_min > 0 || (uint32_t)r->v.var_off.value != 0;
	return r->v.umin > 0 || r->v.var_off.value != 0;
}

static int do_check(struct vctx *c, struct state *s)
{
	for (;;) {
		int err;
		if (NEVER(s->pc >= c->cnt)) /* check_cfg() saw every path end in an exit or a jump */
			return -EINVAL;
		s->walked++;
		if (++c->processed > VF_MAX_INSN_PROCESSED)
			return err_at(c, s->pc, -E2BIG, "BPF program is too large. Processed %llu insn",
				      (unsigned long long)c->processed);
		log_insn_end(c, s);
		/* the history: how this insn was reached (the walk's next insn is s->pc, the last s->prev_pc) */
		s->hist_cur = false;
		if (s->prev_pc != SIZE_MAX && !falls_into(c, s->prev_pc, s->pc) && (err = hist_push(s, s->prev_pc)))
			return err;
		if (c->prune[s->pc]) {
			int r = prune_or_record(c, s);
			if (r < 0)
				return r;
			if (r) {
				if (c->popped)
					log_popped(c, s, true);
				else if (logging(c))
					diag_printf(c->env->log, "%zu: safe", s->pc);
				return 0;
			}
		}
		if (c->popped)
			log_popped(c, s, false);
		walk_insn(c, s);
		const struct bpf_insn *in = &c->in[s->pc];
		int id = c->ids[s->pc];
		const struct isa_info *info = &isa_info[id];
		uint32_t fl = info->flags;
		const struct insn_meta *im = &c->meta[s->pc];
		if (logging(c)) {
			uint16_t use = 0, def = 0;
			insn_uses(in, id, &use, &def);
			log_insn(c, s, (uint16_t)(use | def));
			if (fl & (F_ST | F_STX))
				log_slot(c, R(s, in->dst_reg), in->off);
		}

		if (NEVER(im->writes_fp)) /* isa_validate(): "frame pointer is read only" */
			return -EACCES;
		/* What this visit proves: any access check_ld_st() lets through is in bounds of memory the
		 * run owns (it rejects the program otherwise), so MEM needs no second look */
		unsigned facts = 0;
		if (fl & (F_LDX | F_ST | F_STX))
			facts = VF_PROOF_MEM;
		else if ((fl & F_ALU) && (isa_op(id) == BPF_DIV || isa_op(id) == BPF_MOD) &&
			 divisor_nonzero(s, in, fl & F_32, fl & F_X)) {
			facts = VF_PROOF_DIV_NONZERO;
			if (fl & F_X) /* the engines rely on it: a pruned path's divisor must be as non-zero */
				need_reg(c, s, in->src_reg);
		}
		prove(c, s->pc, facts);
		if (c->guard && c->guard[s->pc] && step_may_wrap(c, s, s->pc)) {
			if (c->naccel)
				return ACCEL_ABORT; /* a widened state's induction fails: walk again without */
			c->accel_on = false; /* none relies on it yet: no more of them */
		}
		if (fl & F_ALU) {
			if ((err = check_alu(c, s, in, id)))
				return err;
		} else if (fl & (F_LDX | F_ST | F_STX)) {
			if ((err = check_ld_st(c, s, in, id)))
				return err;
		} else if (id == ISA_LDDW) {
			struct reg *d = R(s, in->dst_reg);
			uint8_t src = in->src_reg;
			if (src == ISA_PSEUDO_IMM) {
				mark_const(d, (uint32_t)in->imm | (uint64_t)(uint32_t)in[1].imm << 32);
			} else if (src == ISA_PSEUDO_FUNC) {
				memset(d, 0, sizeof(*d));
				d->type = PTR_FUNC;
				d->subprog = (uint32_t)((int64_t)s->pc + 1 + in->imm);
				d->v = scalar_const(0);
			} else {
				const struct vf_map *m = c->env->map_at ? c->env->map_at(c->env->arg, s->pc) : NULL;
				if (NEVER(!m)) /* sys.c resolved every map reference first ("fd %d is not pointing ...") */
					return -EINVAL;
				memset(d, 0, sizeof(*d));
				d->map = m;
				d->v = scalar_const(0);
				if (isa_pseudo_is_value(src)) {
					d->type = PTR_MAP_VALUE;
					d->off = c->env->map_value_off ? c->env->map_value_off(c->env->arg, s->pc) : 0;
				} else {
					d->type = CONST_MAP_PTR;
				}
			}
			s->pc += 2;
			continue;
		} else if (fl & F_PKT) {
			if (!c->env->ld_abs_ok)
				return err_at(c, s->pc, -EINVAL, "BPF_LD_[ABS|IND] instructions not allowed for this program type");
			if (R(s, 6)->type != PTR_CTX)
				return err_at(c, s->pc, -EINVAL, "at the time of BPF_LD_ABS|IND R6 != pointer to skb");
			if (s->lock_id)
				return err_at(c, s->pc, -EINVAL, "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region");
			if (info->fmt == FMT_LDIND && ((err = check_read(c, s, in->src_reg))))
				return err;
			for (int r = 1; r <= 5; r++)
				mark_not_init(R(s, r));
			mark_unknown(R(s, 0));
			R(s, 0)->v = scalar_from_size(info->size);
		} else if (id == ISA_EXIT) {
			bool done;
			int r = check_exit(c, s, &done);
			if (r < 0)
				return r;
			if (done)
				return 0;
			continue;
		} else if (id == ISA_CALL) {
			int r = check_helper(c, s, in);
			if (r < 0)
				return r;
			if (r)
				continue;
		} else if (id == ISA_CALL_LOCAL) {
			if (s->lock_id)
				return err_at(c, s->pc, -EINVAL, "function calls are not allowed while holding a lock");
			if ((err = enter_call(c, s, (uint32_t)c->meta[s->pc].target, 0)))
				return err;
			continue;
		} else if (id == ISA_CALL_KFUNC) {
			if ((err = check_host_call(c, s, (uint32_t)in->imm, true)))
				return err;
		} else if (id == ISA_CALLX) {
			/* Linux refuses every callx ("unknown opcode 8d"); bpfvm's engines run one, so a callx
			 * whose target this path proves is checked as the call it makes: a function loaded by
			 * lddw (src 4) as a bpf-to-bpf call, a constant as that helper's call.  Any other is
			 * refused in Linux's words. */
			const struct reg *t = R(s, in->dst_reg);
			if (t->type == PTR_FUNC && !t->off && scalar_is_const(&t->v) && !t->v.var_off.value) {
				if (s->lock_id)
					return err_at(c, s->pc, -EINVAL, "function calls are not allowed while holding a lock");
				c->callx_to[t->subprog] = 1;
				if ((err = enter_call(c, s, t->subprog, 0)))
					return err;
				continue;
			}
			if (t->type != SCALAR || !scalar_is_const(&t->v) || t->v.var_off.value > UINT32_MAX)
				return err_at(c, s->pc, -EINVAL, "unknown opcode %02x", in->code);
			/* a helper id the walk knows: that helper's call (the engines call it by id) */
			need_reg(c, s, in->dst_reg);
			struct bpf_insn call = ISA_INSN(CALL, 0, 0, 0, (int32_t)(uint32_t)t->v.var_off.value);
			int r = check_helper(c, s, &call);
			if (r < 0)
				return r;
			if (r)
				continue;
		} else if (isa_is_goto(id)) {
			s->pc = (size_t)c->meta[s->pc].target;
			continue;
		} else if (id == ISA_MAY_GOTO) {
			/* either: the budget may run out at any time.  The jump (the budget spent) is walked
			 * first and the rest of the round queued, in Linux's order (check_cond_jmp_op()): the
			 * ways out of a loop are done before its later rounds come to them, so that those
			 * prune there (sequential may_goto loops walked each exit's successors anew) */
			if ((err = push_branch(c, s, s->pc + 1)))
				return err;
			struct state *round = c->stack[c->nstack - 1];
			round->may_goto_depth++;
			/* and the round queued has the imprecise scalars that changed since the last round
			 * unknown, so that a loop moving a counter or an accumulator each round converges in
			 * a few rounds, not the budget's 8 million (Linux widen_imprecise_scalars() against
			 * find_prev_entry()) */
			const struct seen *prev = prev_visit(s, s->pc);
			if (prev)
				widen_imprecise(prev->s, round);
			s->pc = (size_t)c->meta[s->pc].target;
			continue;
		} else if (fl & F_JMP) {
			bool fall_ok, taken_ok;
			struct state *ts;
			if ((err = check_cond(c, s, in, id, &fall_ok, &taken_ok, &ts)))
				return err;
			size_t target = (size_t)c->meta[s->pc].target;
			if (taken_ok) {
				if (!fall_ok) {
					if (ts)
						state_free(c, ts);
					s->pc = target;
					continue;
				}
				if (ts) {
					/* the taken side's refined state; push_branch() copies it when the stack
					 * must grow first */
					if (c->nstack == c->capstack) {
						ts->pc = s->pc;
						err = push_branch(c, ts, target);
						state_free(c, ts);
						if (err)
							return err;
					} else {
						ts->pc = target;
						ts->from_pc = s->pc;
						ts->log_pos = c->env->log ? c->env->log->len : 0;
						if (ts->parent)
							ts->parent->branches++;
						c->stack[c->nstack++] = ts;
					}
				} else if ((err = push_branch(c, s, target))) {
					return err;
				}
			} else if (ts) {
				state_free(c, ts);
			}
			if (!fall_ok)
				return 0;
		}
		s->pc += (fl & F_WIDE) ? 2 : 1;
	}
}

/* Linux check_max_stack_depth: each function's deepest stack, rounded up to 32 bytes, summed along
 * every chain of calls (and callbacks) from the main program. */
static uint32_t chain_depth(struct vctx *c, uint32_t fn, uint8_t *busy, int level)
{
	uint32_t own = (c->fn_depth[fn] + 31) & ~31u, worst = 0;
	if (level > MAX_FRAMES || busy[fn])
		return own;
	busy[fn] = 1;
	for (size_t pc = fn; pc < c->cnt && c->subprog_of[pc] == fn; pc++) {
		const struct bpf_insn *in = &c->in[pc];
		int id = c->ids[pc];
		int64_t t = -1;
		if (id == ISA_CALL_LOCAL)
			t = jump_target(in, pc);
		else if (id == ISA_LDDW && in->src_reg == ISA_PSEUDO_FUNC)
			t = (int64_t)pc + 1 + in->imm;
		if (t >= 0 && (size_t)t < c->cnt && id == ISA_LDDW && c->async_root[t])
			continue; /* an async callback runs on its own stack: a chain of its own (check_stack_depth) */
		if (id == ISA_CALLX) /* any function a callx was seen to call, wherever its address was loaded */
			for (size_t fx = 0; fx < c->cnt; fx++)
				if (c->callx_to[fx]) {
					uint32_t d = chain_depth(c, (uint32_t)fx, busy, level + 1);
					if (d > worst)
						worst = d;
				}
		if (t >= 0 && (size_t)t < c->cnt) {
			uint32_t d = chain_depth(c, (uint32_t)t, busy, level + 1);
			if (d > worst)
				worst = d;
		}
	}
	busy[fn] = 0;
	return own + worst;
}

static int check_stack_depth(struct vctx *c)
{
	uint8_t *busy = calloc(c->cnt, 1);
	if (!busy)
		return -ENOMEM;
	c->env->stack_depth = chain_depth(c, 0, busy, 1);
	/* Linux check_max_stack_depth(): every async callback starts a chain of its own */
	for (size_t fn = 1; fn < c->cnt; fn++)
		if (c->async_root[fn]) {
			uint32_t d = chain_depth(c, (uint32_t)fn, busy, 1);
			if (d > c->env->stack_depth)
				c->env->stack_depth = d;
		}
	free(busy);
	return 0;
}

static int verify(struct vf_env *env, bool accel, uint32_t *naccel, bool *unsure)
{
	struct vctx c;
	int err = 0;

	memset(&c, 0, sizeof(c));
	c.env = env;
	c.in = env->insns;
	c.cnt = env->cnt;
	env->insn_processed = 0;
	env->total_states = env->peak_states = env->max_states_per_insn = 0;
	if (NEVER(!c.cnt)) /* isa_validate(): "program has no instructions" */
		return -EINVAL;
	if (env->proof)
		memset(env->proof, 0, c.cnt);
	c.ids = malloc(c.cnt * sizeof(*c.ids));
	c.meta = calloc(c.cnt, sizeof(*c.meta));
	c.prune = calloc(c.cnt, 1);
	c.live = calloc(c.cnt, sizeof(*c.live));
	c.subprog_of = calloc(c.cnt, sizeof(*c.subprog_of));
	c.fn_depth = calloc(c.cnt, sizeof(*c.fn_depth));
	c.async_root = calloc(c.cnt, 1);
	c.callx_to = calloc(c.cnt, 1);
	c.seen = calloc(c.cnt, sizeof(*c.seen));
	c.nseen = calloc(c.cnt, sizeof(*c.nseen));
	struct state *s = calloc(1, sizeof(*s));
	if (!c.ids || !c.meta || !c.prune || !c.live || !c.subprog_of || !c.fn_depth || !c.async_root || !c.callx_to || !c.seen || !c.nseen || !s) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t pc = 0; pc < c.cnt; pc++) {
		c.ids[pc] = (int16_t)isa_decode(&c.in[pc]);
		if (c.ids[pc] >= 0)
			c.meta[pc] = insn_meta_of(&c.in[pc], pc, c.ids[pc]);
	}
	if (accel) {
		c.loop_head = calloc(c.cnt, 1);
		c.loops = calloc(c.cnt, sizeof(*c.loops));
		c.guard = calloc(c.cnt, 1);
		if (!c.loop_head || !c.loops || !c.guard) {
			err = -ENOMEM;
			goto out;
		}
		c.accel_on = true; /* check_cfg() marks the loop heads */
	}
	if ((err = check_cfg(&c)))
		goto out;
	compute_liveness(&c);
	s->nf = 1;
	s->f[0] = frame_alloc(&c);
	if (!s->f[0]) {
		err = -ENOMEM;
		goto out;
	}
	init_frame(s->f[0], 0, 0, 0);
	s->prev_pc = SIZE_MAX;
	if (env->plain_mem) {
		/* memory the caller owns for the run (not a reference: nothing to release) */
		s->f[0]->r[1].type = PTR_MEM;
		s->f[0]->r[1].mem_size = env->mem_size;
		mark_unknown(&s->f[0]->r[2]);
		s->f[0]->r[2].v.umin = env->mem_size;
		scalar_sync(&s->f[0]->r[2].v);
	} else {
		s->f[0]->r[1].type = PTR_CTX;
	}
	s->f[0]->r[1].v = scalar_const(0);
	c.line_end = SIZE_MAX;
	log_path_start(&c, s, true);
	for (;;) {
		err = do_check(&c, s);
		path_done(&c, s->parent);
		if (!err) {
			/* the path ended: its frames' stack depths count */
			for (int i = 0; i < s->nf; i++)
				if (s->f[i]->depth > c.fn_depth[s->f[i]->subprog])
					c.fn_depth[s->f[i]->subprog] = s->f[i]->depth;
		}
		state_free(&c, s);
		s = NULL;
		if (err || !c.nstack)
			break;
		s = c.stack[--c.nstack];
		/* Linux pop_stack(): at level 1 the log keeps only the path being walked */
		if ((env->log_level & 3) == 1)
			diag_truncate(env->log, s->log_pos);
		c.line_end = SIZE_MAX;
		log_path_start(&c, s, false);
	}
	if (!err)
		err = check_stack_depth(&c);
	/* A widened loop with a loop inside it that was walked round by round: how many rounds that one
	 * takes may follow the outer counter, which the first round's count does not show. */
	for (size_t pc = 0; !err && c.naccel && pc < c.cnt; pc++) {
		const struct loop *l = c.loops[pc];
		if (!l || !l->widened)
			continue;
		for (size_t x = l->lo; x < l->hi; x++)
			if (x != pc && c.loop_head[x] && in_body(l, x) && !(c.loops[x] && c.loops[x]->widened))
				c.accel_unsure = true;
	}
	if (!err && env->stack_depth > STACK)
		err = err_at(&c, 0, -EACCES, "combined stack size of calls is %u. Too large", env->stack_depth);
	if (!err && env->frame_depth)
		for (size_t pc = 0; pc < c.cnt; pc++)
			env->frame_depth[pc] = c.subprog_of[pc] != pc ? 0 : c.stack_raw ? VF_STACK_ALL : c.fn_depth[pc];
out:
	env->insn_processed = c.processed;
	env->peak_states = (uint32_t)c.peak_states;
	if (env->log_level)
		diag_printf(env->log, "processed %llu insns (limit %u) max_states_per_insn %u total_states %u peak_states %u mark_read 0",
			    (unsigned long long)c.processed, VF_MAX_INSN_PROCESSED, env->max_states_per_insn, env->total_states,
			    env->peak_states);
	state_free(&c, s);
	for (size_t i = 0; i < c.nstack; i++)
		state_free(&c, c.stack[i]);
	free(c.stack);
	if (c.seen)
		for (size_t pc = 0; pc < c.cnt; pc++)
			for (struct seen *p = c.seen[pc], *n; p; p = n) {
				n = p->next;
				if (!p->detached) {
					state_free(&c, p->s);
					free(p->hist);
					free(p);
				}
			}
	for (struct seen *p = c.detached, *n; p; p = n) {
		n = p->dnext;
		state_free(&c, p->s);
		free(p->hist);
		free(p);
	}
	for (struct frame *f = c.pool, *n; f; f = n) {
		n = f->pool_next;
		free(f);
	}
	for (struct state *p = c.spool, *n; p; p = n) {
		n = p->pool_next;
		free(p);
	}
	free(c.seen);
	free(c.nseen);
	free(c.ids);
	free(c.meta);
	free(c.prune);
	free(c.live);
	free(c.subprog_of);
	free(c.fn_depth);
	free(c.async_root);
	free(c.callx_to);
	if (c.loops)
		for (size_t pc = 0; pc < c.cnt; pc++)
			loop_free(c.loops[pc]);
	free(c.loops);
	free(c.loop_head);
	free(c.guard);
	if (naccel)
		*naccel = c.naccel;
	if (unsure)
		*unsure = c.accel_unsure;
	return err;
}

int vf_verify(struct vf_env *env)
{
	size_t log_len = env->log ? env->log->len : 0;
	uint32_t naccel = 0;
	bool unsure = false;
	int err = verify(env, !env->exact_loops && !(env->log_level & 3), &naccel, &unsure);
	if ((err || unsure) && naccel) {
		/* the widened walk's refusal is no verdict (see loop_of()), nor an acceptance whose count
		 * of insns may fall short of the limit's: the exact walk gives it */
		if (env->log)
			diag_truncate(env->log, log_len);
		env->errmsg[0] = 0;
		err = verify(env, false, NULL, NULL);
	}
	return err;
}
