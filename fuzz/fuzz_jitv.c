/* fuzz_jitv.c -- differential fuzzing of the JIT's verified image: programs built by the verifier's
 * structure-aware generator (fuzz_verifier.c, included below: its blocks, instances and comparison are
 * reused as they are), widened with what the JIT emits differently and the verifier's blocks lack:
 * every ALU row on edge values (division by 0 and -1, INT_MIN, shift counts, sign extensions, byte
 * swaps) in every scratch register (rax, rdx and rcx are the JIT's div and shift operands), 32- and
 * 64-bit conditional jumps on them, every atomic and load-acquire/store-release on the stack and on map
 * values, bpf-to-bpf calls (two levels), may_goto loops and tail calls (slot 0 of a prog array holds the
 * program itself, so a run tail-calls itself until the limit of 33: the first call of a run and the
 * later ones take different paths in the JIT).
 *
 * Each program the verifier accepts runs once through PROG_TEST_RUN on the same packet in three
 * instances: the interpreter with every run-time check (the reference: a verifier bug shows there as a
 * located fault), the JIT's verified image (BPFVM_CHECKS_PROVEN: what the proof covers is not checked)
 * and the JIT's image with every check.  A memory fault in any of them is a verifier (or JIT) bug; any
 * difference in the error, r0, the packet, the maps or the ring buffer is an engine bug.  Both abort.
 *
 * Input: byte 0 picks the type (XDP, tc, socket filter), byte 1 the packet length; every later byte is
 * one decision of the generator.  Maps: fds 0..2 as in fuzz_verifier.c, 3 the prog array.
 * FUZZ_JITV_STATS set: counts printed at exit; FUZZ_JITV_WHY set: why each refused program was (and
 * FUZZ_JITV_DUMP set: its listing).  make fuzz runs it; `make test` replays fuzz/corpus/jitv. */
#define LLVMFuzzerTestOneInput fuzz_verifier_one /* the verifier's target, unused here */
#include "fuzz_verifier.c"
#undef LLVMFuzzerTestOneInput

#include "../tests/unit/test_util.h" /* INSN_ID(), isa_encode(), isa_info[] */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROG_ARRAY_FD 3
#define ATOMIC_SLOT (-96) /* 16 bytes of stack the verifier's blocks leave alone (they use fp-8..fp-72) */

/* Rows the blocks pick from, gathered from insn.def once per input (cheap, and no global state). */
struct rows {
	int alu[64], cond[64], atomic[32];
	size_t alu_cnt, cond_cnt, atomic_cnt;
};

static void rows_init(struct rows *r)
{
	memset(r, 0, sizeof(*r));
	for (int id = 0; id < ISA_COUNT; id++) {
		uint32_t fl = isa_info[id].flags;
		if (fl & F_INTERNAL)
			continue;
		if ((fl & F_ALU) && r->alu_cnt < ARRAY_SIZE(r->alu))
			r->alu[r->alu_cnt++] = id;
		else if ((fl & F_COND) && !(fl & F_CALL) && isa_info[id].fmt != FMT_JA && r->cond_cnt < ARRAY_SIZE(r->cond) &&
			 (isa_info[id].fmt == FMT_JMP_K || isa_info[id].fmt == FMT_JMP_X))
			r->cond[r->cond_cnt++] = id;
		else if ((fl & F_ATOMIC) && r->atomic_cnt < ARRAY_SIZE(r->atomic))
			r->atomic[r->atomic_cnt++] = id;
	}
}

struct jgen {
	struct gen g;
	const struct rows *rows;
	size_t sub_refs[3][16]; /* calls of subprogram A / B / C, patched once they are placed */
	size_t sub_ref_cnt[3];
	uint8_t c_body[8];      /* C's decisions, taken at its first call (the input may be spent by its place) */
};

/* Row id with the operands it uses (the others 0, as the validator wants them). */
static void emit_id(struct gen *g, int id, unsigned dst, unsigned src, int16_t off, int32_t imm)
{
	unsigned used = isa_used_fields(id);
	struct bpf_insn in;
	if (!isa_encode(id, used & U_DST ? dst : 0, used & U_SRC ? src : 0, used & U_OFF ? off : 0, used & U_IMM ? imm : 0, &in))
		emit(g, in);
}

static const uint64_t edge64[] = { 0, 1, UINT64_MAX, 0x8000000000000000ull, 0x7fffffffffffffffull, 0x80000000ull,
				   0xffffffffull, 0x7fffffffull, 0xffffffff80000000ull, 31, 32, 63, 64, 0x100000000ull,
				   0x12345678abcdefull, 0xff00 };

/* rd = an edge value (lddw), or one only the run knows (r8's, masked or not). */
static void edge_value(struct gen *g, uint8_t rd)
{
	uint8_t c = take(g);
	if (c & 1) {
		uint64_t v = edge64[(c >> 1) % ARRAY_SIZE(edge64)];
		emit(g, INSN_ID(LDDW, rd, 0, 0, (int32_t)(uint32_t)v));
		emit(g, LDDW_HI((int32_t)(uint32_t)(v >> 32)));
	} else {
		bounded_scalar(g, rd);
		if (c & 2) /* now and then negative or huge */
			emit(g, INSN_ID(MUL64_K, rd, 0, 0, (c & 4) ? -1 : 0x7ffffff1));
	}
}

static int32_t edge_imm32(struct gen *g)
{
	static const int32_t v[] = { 1, -1, 2, 7, 31, 32, 63, 64, 255, INT32_MAX, INT32_MIN, 0x10000, -65536, 12345, 0 };
	return v[take(g) % ARRAY_SIZE(v)];
}

/* One ALU row on edge values, in any scratch registers (the same one too), folded into r8. */
static void blk_edge_alu(struct jgen *j)
{
	struct gen *g = &j->g;
	int id = j->rows->alu[take(g) % j->rows->alu_cnt];
	uint8_t rd = scratch(g), rs = scratch(g);
	uint32_t fl = isa_info[id].flags;
	int32_t imm = edge_imm32(g);

	edge_value(g, rd);
	if (rs != rd)
		edge_value(g, rs);
	if (isa_op(id) == BPF_LSH || isa_op(id) == BPF_RSH || isa_op(id) == BPF_ARSH)
		imm &= (fl & F_32) ? 31 : 63; /* the verifier refuses a constant count past the width */
	if ((isa_op(id) == BPF_DIV || isa_op(id) == BPF_MOD) && imm == 0)
		imm = -1; /* ... and a constant divisor of 0 */
	emit_id(g, id, rd, rs, 0, imm);
	emit(g, INSN_ID(ADD64_X, 8, rd, 0, 0));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
}

/* A conditional jump on edge values over two insns that change r8. */
static void blk_edge_cond(struct jgen *j)
{
	struct gen *g = &j->g;
	int id = j->rows->cond[take(g) % j->rows->cond_cnt];
	uint8_t rd = scratch(g), rs = scratch(g);

	edge_value(g, rd);
	if (rs != rd)
		edge_value(g, rs);
	emit_id(g, id, rd, rs, 2, edge_imm32(g));
	emit(g, INSN_ID(ADD64_K, 8, 0, 0, 1 + take(g) % 7));
	emit(g, INSN_ID(XOR64_K, 8, 0, 0, 0x5a));
}

/* An atomic (or load-acquire / store-release) on the stack, through r10 or a copy of it, or on an array
 * or hash value found by a lookup; its fetched value and the memory afterwards are folded into r8.  Now
 * and then the address is misaligned (the verifier must refuse, as Linux's does, or the run fault alike
 * in every engine). */
static void blk_atomic(struct jgen *j)
{
	struct gen *g = &j->g;
	int id = j->rows->atomic[take(g) % j->rows->atomic_cnt];
	uint8_t c = take(g);
	uint32_t fl = isa_info[id].flags;
	int size = isa_info[id].size;
	int16_t off = (int16_t)(size * (take(g) % (16 / size)));
	uint8_t base = 1, rs = (uint8_t)(2 + take(g) % 4), rd = (uint8_t)(2 + take(g) % 4);
	size_t jn = SIZE_MAX;

	if ((c & 0xf8) == 0xf8 && size > 1)
		off++;
	switch (c & 3) {
	case 0: /* the stack through r10 */
	case 1: /* the stack through r1 = r10 - 96 */
		emit(g, INSN_ID(STXDW, 10, 8, ATOMIC_SLOT, 0));
		emit(g, INSN_ID(STDW, 10, 0, ATOMIC_SLOT + 8, (int8_t)take(g)));
		if (c & 1) {
			emit(g, INSN_ID(MOV64_X, 1, 10, 0, 0));
			emit(g, INSN_ID(ADD64_K, 1, 0, 0, ATOMIC_SLOT));
		} else {
			base = 10;
			off = (int16_t)(off + ATOMIC_SLOT);
		}
		break;
	default: /* a map value: the array's (keys 0..3 exist) or the hash's (keys 0..7 may) */
		emit(g, INSN_ID(STDW, 10, 0, -8, take(g) % 6));
		emit(g, INSN_ID(MOV64_X, 2, 10, 0, 0));
		emit(g, INSN_ID(ADD64_K, 2, 0, 0, -8));
		emit(g, INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, (c & 3) == 2 ? 0 : 1));
		emit(g, LDDW_HI(0));
		emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
		emit(g, INSN_ID(JEQ_K, 0, 0, 0, 0)); /* over the rest, patched below */
		jn = g->n - 1;
		emit(g, INSN_ID(MOV64_X, 1, 0, 0, 0));
		break;
	}
	if (fl & F_ACQREL && isa_info[id].fmt == FMT_LDACQ) {
		emit_id(g, id, rd, base, off, 0);
		emit(g, INSN_ID(ADD64_X, 8, rd, 0, 0));
	} else {
		bounded_scalar(g, rs);
		if (fl & F_R0)
			edge_value(g, 0); /* cmpxchg's comparand; the base is r1 or r10, never r0 */
		emit_id(g, id, base, rs, off, 0);
		if (fl & F_FETCH)
			emit(g, INSN_ID(ADD64_X, 8, (fl & F_R0) ? 0 : rs, 0, 0));
	}
	/* what the memory holds now */
	emit(g, INSN_ID(LDXDW, 2, base, (int16_t)(base == 10 ? ATOMIC_SLOT : 0), 0));
	emit(g, INSN_ID(ADD64_X, 8, 2, 0, 0));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
	if (jn != SIZE_MAX && g->n < MAX_INSNS)
		g->in[jn].off = (int16_t)(g->n - jn - 1);
}

/* A bpf-to-bpf call of subprogram A (its own stack, an atomic on it), B (which calls A: two frames
 * deep, with r6 of its own that the caller must get back) or now and then C (registers only: the JIT
 * compiles its calls in place). */
static void blk_subcall(struct jgen *j)
{
	struct gen *g = &j->g;
	uint8_t c = take(g);
	unsigned which = (c & 6) == 6 ? 2 : c & 1;

	if (which == 2 && !j->sub_ref_cnt[2])
		for (size_t i = 0; i < sizeof(j->c_body); i++)
			j->c_body[i] = take(g);

	emit(g, INSN_ID(MOV64_X, 1, 8, 0, 0));
	edge_value(g, 2);
	if (j->sub_ref_cnt[which] < ARRAY_SIZE(j->sub_refs[which])) {
		j->sub_refs[which][j->sub_ref_cnt[which]++] = g->n;
		emit(g, INSN_ID(CALL_LOCAL, 0, 0, 0, 0));
	}
	emit(g, INSN_ID(ADD64_X, 8, 0, 0, 0));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
}

/* A loop that may_goto ends (its budget) or a counter bounds. */
static void blk_may_goto(struct jgen *j)
{
	struct gen *g = &j->g;
	uint8_t c = take(g);
	int n = 1 + take(g) % 30;

	emit(g, INSN_ID(MOV64_K, 4, 0, 0, 0));
	size_t top = g->n;
	emit(g, INSN_ID(MAY_GOTO, 0, 0, 0, 0)); /* out of the loop, patched below */
	emit(g, INSN_ID(ADD64_X, 8, 4, 0, 0));
	emit(g, INSN_ID(MUL64_K, 8, 0, 0, 3 + (c >> 5)));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
	emit(g, INSN_ID(ADD64_K, 4, 0, 0, 1));
	if ((c & 0x1f) == 0x1f) /* rarely: may_goto alone ends it (the run's budget comes first) */
		emit(g, INSN_ID(JA, 0, 0, (int16_t)(top - g->n - 1), 0));
	else
		emit(g, INSN_ID(JLT_K, 4, 0, (int16_t)(top - g->n - 1), n));
	if (g->n < MAX_INSNS)
		g->in[top].off = (int16_t)(g->n - top - 1);
}

/* A counted loop as the JIT runs it without a budget test per round (x86_64.c fast_loops()): r4 from n
 * down to 0, "r4 += -1" (or "r4 -= 1") then "if r4 != 0 goto top", or from 0 up to n, "r4 += 1" then
 * "if r4 != n" (or "< n"); in the body ALU on r8, sometimes a
 * packet byte behind its check, a spill and fill of r8, a way out before the decrement. */
static void blk_countdown(struct jgen *j)
{
	struct gen *g = &j->g;
	uint8_t c = take(g);
	int n = 1 + take(g) % 24; /* as blk_loop(): longer loops with a packet check each round slow the verifier */
	size_t out = SIZE_MAX;

	bool up = c & 0x20;
	emit(g, INSN_ID(MOV64_K, 4, 0, 0, up ? 0 : n));
	size_t top = g->n;
	emit(g, INSN(c & 1 ? OPC(ADD64_X) : OPC(XOR64_X), 8, 4, 0, 0));
	emit(g, INSN_ID(MUL64_K, 8, 0, 0, 3 + (c >> 5)));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
	if ((c & 2) && g->pkt) {
		emit(g, INSN_ID(MOV64_X, 1, 6, 0, 0));
		emit(g, INSN_ID(ADD64_X, 1, 4, 0, 0));
		emit(g, INSN_ID(MOV64_X, 2, 1, 0, 0));
		emit(g, INSN_ID(ADD64_K, 2, 0, 0, 1));
		emit(g, INSN_ID(JGT_X, 2, 7, 2, 0));
		emit(g, INSN_ID(LDXB, 2, 1, 0, 0));
		emit(g, INSN_ID(ADD64_X, 8, 2, 0, 0));
	}
	if (c & 4) {
		emit(g, INSN_ID(STXDW, 10, 8, -80, 0));
		emit(g, INSN_ID(LDXDW, 8, 10, -80, 0));
	}
	if (c & 8) {
		out = g->n;
		emit(g, INSN_ID(JGT_K, 8, 0, 0, 0x8000 + (c & 0x10 ? 0x4000 : 0)));
	}
	if (up) {
		emit(g, INSN_ID(ADD64_K, 4, 0, 0, 1));
		int16_t back = (int16_t)(top - g->n - 1);
		emit(g, c & 0x40 ? INSN_ID(JLT_K, 4, 0, back, n) : INSN_ID(JNE_K, 4, 0, back, n));
	} else {
		emit(g, c & 0x10 ? INSN_ID(SUB64_K, 4, 0, 0, 1) : INSN_ID(ADD64_K, 4, 0, 0, -1));
		emit(g, INSN_ID(JNE_K, 4, 0, (int16_t)(top - g->n - 1), 0));
	}
	if (out < MAX_INSNS)
		g->in[out].off = (int16_t)(g->n - out - 1);
}

/* bpf_tail_call(ctx, prog array, r8 & 1 or a constant): slot 0 is the program itself, slot 1 empty (the
 * call falls through). */
static void blk_tail_call(struct jgen *j)
{
	struct gen *g = &j->g;
	uint8_t c = take(g);

	emit(g, INSN_ID(MOV64_X, 1, 9, 0, 0));
	emit(g, INSN_ID(LDDW, 2, BPF_PSEUDO_MAP_FD, 0, PROG_ARRAY_FD));
	emit(g, LDDW_HI(0));
	if (c & 1) {
		emit(g, INSN_ID(MOV64_X, 3, 8, 0, 0));
		emit(g, INSN_ID(AND64_K, 3, 0, 0, 1));
	} else {
		emit(g, INSN_ID(MOV64_K, 3, 0, 0, (c >> 1) % 3));
	}
	emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_tail_call));
}

static void place_sub(struct jgen *j, unsigned which, size_t at)
{
	for (size_t i = 0; i < j->sub_ref_cnt[which]; i++)
		j->g.in[j->sub_refs[which][i]].imm = (int32_t)(at - j->sub_refs[which][i] - 1);
}

static size_t generate_jit(const uint8_t *data, size_t size, uint32_t type, struct bpf_insn *in, const struct rows *rows)
{
	struct jgen j = { .g = { .p = data, .end = data + size, .in = in, .type = type }, .rows = rows };
	struct gen *g = &j.g;

	g->pkt = type != BPF_PROG_TYPE_SOCKET_FILTER;
	emit(g, INSN_ID(MOV64_X, 9, 1, 0, 0));
	if (g->pkt) {
		int16_t d = type == BPF_PROG_TYPE_XDP ? 0 : 76, e = type == BPF_PROG_TYPE_XDP ? 4 : 80;
		emit(g, INSN_ID(LDXW, 6, 9, d, 0));
		emit(g, INSN_ID(LDXW, 7, 9, e, 0));
	}
	emit(g, INSN_ID(MOV64_K, 8, 0, 0, 0));
	/* room: the longest block (~30), the exit (3), the callback (5) and the subprograms (31) */
	while (g->p < g->end && g->n + 80 < MAX_INSNS) {
		uint8_t c = take(g);
		switch (c % 12) {
		case 0: case 1: case 2: case 3:
			block(g, 0); /* the verifier's own blocks */
			break;
		case 4: case 5:
			blk_atomic(&j);
			break;
		case 6: case 7:
			blk_edge_alu(&j);
			break;
		case 8:
			blk_edge_cond(&j);
			break;
		case 9:
			blk_subcall(&j);
			break;
		case 10:
			if ((c / 12) & 1)
				blk_countdown(&j);
			else
				blk_may_goto(&j);
			break;
		default:
			blk_tail_call(&j);
			break;
		}
	}
	emit(g, INSN_ID(MOV64_X, 0, 8, 0, 0));
	if (type == BPF_PROG_TYPE_XDP)
		emit(g, INSN_ID(AND64_K, 0, 0, 0, 3));
	emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
	if (g->need_cb) { /* as generate(): cb(index, ctx) adds its index to the u64 at ctx */
		size_t cb = g->n;
		emit(g, INSN_ID(LDXDW, 3, 2, 0, 0));
		emit(g, INSN_ID(ADD64_X, 3, 1, 0, 0));
		emit(g, INSN_ID(STXDW, 2, 3, 0, 0));
		emit(g, INSN_ID(MOV64_K, 0, 0, 0, 0));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		for (size_t i = 0; i < g->cb_ref_cnt; i++)
			in[g->cb_refs[i]].imm = (int32_t)(cb - g->cb_refs[i] - 1);
	}
	size_t a = g->n; /* each subprogram only when called (the verifier refuses unreachable code) */
	if (j.sub_ref_cnt[0] || j.sub_ref_cnt[1]) {
		/* A(x, y): *(fp-8) = x; *(fp-8) += y * 7 (atomically); return *(fp-8) & 0xffff */
		emit(g, INSN_ID(STXDW, 10, 1, -8, 0));
		emit(g, INSN_ID(MOV64_X, 0, 2, 0, 0));
		emit(g, INSN_ID(MUL64_K, 0, 0, 0, 7));
		emit(g, INSN_ID(AADD64, 10, 0, -8, 0));
		emit(g, INSN_ID(LDXDW, 0, 10, -8, 0));
		emit(g, INSN_ID(AND64_K, 0, 0, 0, 0xffff));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		place_sub(&j, 0, a);
	}
	if (j.sub_ref_cnt[1]) {
		/* B(x, y): r6 = x; return A(y, x) + r6 (A precedes it) */
		size_t b = g->n;
		emit(g, INSN_ID(MOV64_X, 6, 1, 0, 0));
		emit(g, INSN_ID(MOV64_X, 1, 2, 0, 0));
		emit(g, INSN_ID(MOV64_X, 2, 6, 0, 0));
		emit(g, INSN_ID(CALL_LOCAL, 0, 0, 0, (int32_t)(a - g->n - 1)));
		emit(g, INSN_ID(ADD64_X, 0, 6, 0, 0));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		place_sub(&j, 1, b);
	}
	if (j.sub_ref_cnt[2]) {
		/* C(x, y): registers only (r0..r3), forward jumps, three exits (one jumped onto): two ALU
		 * rows and two conditional jumps of the input's choosing (shift counts and divisors as
		 * blk_edge_alu()) */
		const uint8_t *d = j.c_body;
		size_t c = g->n;
		int alu[2], cond[2];
		int32_t imm[2];
		for (int i = 0; i < 2; i++) {
			alu[i] = rows->alu[d[i] % rows->alu_cnt];
			cond[i] = rows->cond[d[2 + i] % rows->cond_cnt];
			static const int32_t v[] = { 1, -1, 2, 7, 31, 32, 63, 64, 255, INT32_MAX, INT32_MIN, 0x10000, 0 };
			imm[i] = v[d[4 + i] % ARRAY_SIZE(v)];
			int op = isa_op(alu[i]);
			if (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH)
				imm[i] &= (isa_info[alu[i]].flags & F_32) ? 31 : 63;
			if ((op == BPF_DIV || op == BPF_MOD) && imm[i] == 0)
				imm[i] = -1;
		}
		emit(g, INSN_ID(MOV64_X, 0, 1, 0, 0));
		emit_id(g, alu[0], 0, 2, 0, imm[0]);
		emit_id(g, cond[0], 0, 2, 2, imm[1]);
		emit(g, INSN_ID(XOR64_K, 0, 0, 0, 0x55));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		emit(g, INSN_ID(MOV64_X, 3, 2, 0, 0));
		emit_id(g, alu[1], 3, 1, 0, imm[1]);
		emit_id(g, cond[1], 3, 1, 2, imm[0]);
		emit(g, INSN_ID(ADD64_X, 0, 3, 0, 0));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		emit(g, INSN_ID(JSET_K, 0, 0, 1, 1 + (d[6] & 1))); /* onto the last exit */
		emit(g, INSN_ID(SUB64_X, 0, 3, 0, 0));
		emit(g, INSN_ID(EXIT, 0, 0, 0, 0));
		place_sub(&j, 2, c);
	}
	return g->n;
}

/* ---- running and comparing ---- */

static unsigned long jv_tried, jv_loaded, jv_ran, jv_looped, jv_tail;

static void jv_stats(void)
{
	fprintf(stderr, "fuzz_jitv: %lu inputs, %lu programs verified (%lu with tail calls), %lu ran alike in all 3 ways "
			"(%lu of them out of budget)\n",
		jv_tried, jv_loaded, jv_tail, jv_ran, jv_looped);
}

/* An instance of fuzz_verifier.c's with the prog array as fd 3. */
static struct bpfvm *jv_instance(int interp, int checks)
{
	struct bpfvm *vm = instance(BPFVM_VERIFY_ON, interp, checks);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_PROG_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 2;
	if (bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a)) != PROG_ARRAY_FD)
		abort();
	return vm;
}

static void dump(const char *why, const struct bpf_insn *prog, size_t n)
{
	static char buf[1 << 16];
	fprintf(stderr, "fuzz_jitv: %s\n", why);
	bpfvm_disasm(prog, n, BPFVM_DISASM_PC, buf, sizeof(buf));
	fprintf(stderr, "%s\n", buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!jv_tried++ && getenv("FUZZ_JITV_STATS"))
		atexit(jv_stats);
	if (size < 3)
		return 0;
	uint32_t type = types[data[0] % 3];
	uint32_t pkt_len = 14u + data[1];
	struct rows rows;
	rows_init(&rows);
	struct bpf_insn prog[MAX_INSNS];
	size_t n = generate_jit(data + 2, size - 2, type, prog, &rows);

	static struct side s[3];
	static const struct { int interp, checks; const char *what; } way[3] = {
		{ 1, BPFVM_CHECKS_ALWAYS, "the checked interpreter" },
		{ 0, BPFVM_CHECKS_PROVEN, "the JIT's verified image" },
		{ 0, BPFVM_CHECKS_ALWAYS, "the JIT's checked image" },
	};
	for (int i = 0; i < 3; i++) {
		s[i].vm = jv_instance(way[i].interp, way[i].checks);
		s[i].what = way[i].what;
		s[i].prog = bpfvm_prog_load(s[i].vm, type, prog, n, "f");
		if (s[i].prog < 0) {
			if (i) {
				fprintf(stderr, "fuzz_jitv: %s refuses what the interpreter's instance loaded: %s\n", s[i].what,
					bpfvm_errmsg(s[i].vm));
				abort();
			}
			if (getenv("FUZZ_JITV_WHY"))
				fprintf(stderr, "refused: %s\n", bpfvm_errmsg(s[0].vm));
			if (getenv("FUZZ_JITV_DUMP"))
				dump("refused", prog, n);
			bpfvm_free(s[0].vm);
			return 0;
		}
		uint32_t k = 0;
		if (bpfvm_map_update(s[i].vm, PROG_ARRAY_FD, &k, &s[i].prog, BPF_ANY))
			abort();
	}
	jv_loaded++;
	for (size_t i = 0; i < n; i++)
		if (prog[i].code == (BPF_JMP | BPF_CALL) && !prog[i].src_reg && prog[i].imm == BPF_FUNC_tail_call) {
			jv_tail++;
			break;
		}
	uint8_t pkt[14 + 256];
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 13 + data[1]);
	for (int i = 0; i < 3; i++) {
		run_side(&s[i], pkt, pkt_len);
		if (s[i].err == -EFAULT || s[i].err == -EACCES) {
			char why[700];
			snprintf(why, sizeof(why), "a verified program faulted in %s (%ld): %s", s[i].what, s[i].err, s[i].msg);
			dump(why, prog, n);
			abort();
		}
	}
	for (int i = 1; i < 3; i++)
		compare(&s[0], &s[i], prog, n);
	jv_ran++;
	jv_looped += s[0].err == -ELOOP;
	for (int i = 0; i < 3; i++) {
		/* the slot holds the program and the program the array: bpfvm_free() leaves such a cycle
		 * (Linux clears a prog array when its last user reference goes) */
		uint32_t k = 0;
		bpfvm_map_delete(s[i].vm, PROG_ARRAY_FD, &k);
		bpfvm_free(s[i].vm);
	}
	return 0;
}
