/* fuzz_verifier.c -- the verifier's promise, checked: a program it accepts never makes a run fault on
 * memory, and runs alike on every engine.  Programs are loaded with BPFVM_VERIFY_ON; each accepted one
 * runs once through PROG_TEST_RUN on the same packet in four instances: the verified interpreter with
 * every run-time check (BPFVM_CHECKS_ALWAYS, first, so that a verifier bug shows as a located fault),
 * the verified interpreter and JIT that skip what the proof covers (BPFVM_CHECKS_PROVEN: a verifier bug
 * there is a real out-of-bounds access, which ASan reports), and the interpreter of an instance that
 * loads without the proof (the sandboxed run-time checks).  A memory fault (-EFAULT, or -EACCES for a
 * context access) in a verified run is a verifier bug, and so is any difference between the runs: r0,
 * the error, the packet as left, every map's contents and the ring buffer's records.  Both abort.
 * Budget exhaustion (-ELOOP) is not a bug: a proven program may still run long (the runs must still
 * agree on it).  Every program is also loaded with BPFVM_VERIFY_EXACT_LOOPS: widening a loop's state
 * (the default) and walking it round by round must give the same verdict and message.
 *
 * Input: byte 0 picks the type (XDP, tc, socket filter), byte 1 the packet length, byte 2 the form:
 *   even             raw struct bpf_insn[] from byte 3;
 *   odd, bit 1 clear bytes 3..10 seed a random generator of the shapes verifiers see (packet bounds
 *                    checks and loads, map lookups with or without null checks, stack stores and loads,
 *                    ALU on bounded values, forward branches);
 *   odd, bit 1 set   the structure-aware generator below, driven by the bytes themselves (each choice
 *                    is one byte, so that libFuzzer's mutations change one decision at a time): packet
 *                    pointers checked against data_end (sometimes one byte short), map values behind null
 *                    checks with constant and bounded variable offsets, spills and fills of pointers,
 *                    bounded loops (up, down, nested, indexing the stack), helper calls (map update/delete, bpf_loop with a callback, ring buffer
 *                    reserve/submit), ALU on bounded scalars, forward branches over whole blocks.
 * Maps: fds 0..2 are an array (4 x 16 bytes), a hash (8-byte keys, 16-byte values) and a ring buffer.
 * FUZZ_VERIFIER_STATS set: counts printed at exit; FUZZ_VERIFIER_WHY set: why each refused program was. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h" /* INSN(), INSN_ID(), OPC() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t types[] = { BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER };

#define MAX_INSNS 512

/* The rows the generators draw from, as opcodes (INSN() takes the operands as drawn).  The seeded
 * generator picks them by their uapi numbering (the corpus's inputs were made so): loads and stores by
 * BPF_SIZE(), ALU and jump operations by BPF_OP(). */
static const uint8_t ldx_by_bpf_size[4] = { OPC(LDXW), OPC(LDXH), OPC(LDXB), OPC(LDXDW) };
static const uint8_t stx_by_bpf_size[4] = { OPC(STXW), OPC(STXH), OPC(STXB), OPC(STXDW) };
static const uint8_t jmp_by_op[13] = { OPC(JEQ_K), OPC(JGT_K), OPC(JGE_K), OPC(JSET_K), OPC(JNE_K),
				       OPC(JSGT_K), OPC(JSGE_K), OPC(CALL), OPC(EXIT), OPC(JLT_K),
				       OPC(JLE_K), OPC(JSLT_K), OPC(JSLE_K) };
/* The ALU operations before sign extension, by BPF_OP(): [0] 64 bits, [1] 32 bits; neg has no X form. */
static const struct alu_row {
	uint8_t k[2], x[2];
	bool shift; /* a constant count is masked to the width */
} alu_rows[13] = {
	{ { OPC(ADD64_K), OPC(ADD32_K) }, { OPC(ADD64_X), OPC(ADD32_X) }, false },
	{ { OPC(SUB64_K), OPC(SUB32_K) }, { OPC(SUB64_X), OPC(SUB32_X) }, false },
	{ { OPC(MUL64_K), OPC(MUL32_K) }, { OPC(MUL64_X), OPC(MUL32_X) }, false },
	{ { OPC(DIV64_K), OPC(DIV32_K) }, { OPC(DIV64_X), OPC(DIV32_X) }, false },
	{ { OPC(OR64_K), OPC(OR32_K) }, { OPC(OR64_X), OPC(OR32_X) }, false },
	{ { OPC(AND64_K), OPC(AND32_K) }, { OPC(AND64_X), OPC(AND32_X) }, false },
	{ { OPC(LSH64_K), OPC(LSH32_K) }, { OPC(LSH64_X), OPC(LSH32_X) }, true },
	{ { OPC(RSH64_K), OPC(RSH32_K) }, { OPC(RSH64_X), OPC(RSH32_X) }, true },
	{ { OPC(NEG64), OPC(NEG32) }, { 0, 0 }, false },
	{ { OPC(MOD64_K), OPC(MOD32_K) }, { OPC(MOD64_X), OPC(MOD32_X) }, false },
	{ { OPC(XOR64_K), OPC(XOR32_K) }, { OPC(XOR64_X), OPC(XOR32_X) }, false },
	{ { OPC(MOV64_K), OPC(MOV32_K) }, { OPC(MOV64_X), OPC(MOV32_X) }, false },
	{ { OPC(ARSH64_K), OPC(ARSH32_K) }, { OPC(ARSH64_X), OPC(ARSH32_X) }, true },
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- the seeded generator (the corpus's older inputs use it) ---- */

/* Appends one idiom at in[*n] (room for 16 insns is guaranteed by the caller). */
static void idiom(uint64_t *s, struct bpf_insn *in, size_t *n, uint32_t type)
{
	size_t k = *n;
	uint8_t r = (uint8_t)(rnd(s) % 10), q = (uint8_t)(rnd(s) % 10);
	int16_t off = (int16_t)(rnd(s) % 2 ? (int)(rnd(s) % 64) : (int)(rnd(s) % 600) - 300);
	switch (rnd(s) % 9) {
	case 0: /* packet pointers and a bounds check of a random width, then a load */
		if (type == BPF_PROG_TYPE_XDP) {
			in[k++] = INSN_ID(LDXW, 6, 1, 0, 0);
			in[k++] = INSN_ID(LDXW, 7, 1, 4, 0);
		} else {
			in[k++] = INSN_ID(LDXW, 6, 1, 76, 0);
			in[k++] = INSN_ID(LDXW, 7, 1, 80, 0);
		}
		in[k++] = INSN_ID(MOV64_X, 8, 6, 0, 0);
		in[k++] = INSN_ID(ADD64_K, 8, 0, 0, (int32_t)(rnd(s) % 40));
		in[k++] = INSN(rnd(s) % 2 ? OPC(JGT_X) : OPC(JGE_X), 8, 7, 1, 0);
		in[k++] = INSN_ID(LDXB, 0, 6, (int16_t)(rnd(s) % 48), 0);
		break;
	case 1: /* a map lookup with a stack key, maybe null-checked, then a load through it */
		in[k++] = INSN_ID(STW, 10, 0, -8, (int32_t)(rnd(s) % 6));
		in[k++] = INSN_ID(STW, 10, 0, -4, 0);
		in[k++] = INSN_ID(MOV64_X, 2, 10, 0, 0);
		in[k++] = INSN_ID(ADD64_K, 2, 0, 0, -8);
		in[k++] = INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, (int32_t)(rnd(s) % 2));
		in[k++] = LDDW_HI(0);
		in[k++] = INSN_ID(CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		if (rnd(s) % 4)
			in[k++] = INSN_ID(JEQ_K, 0, 0, 1, 0);
		in[k++] = INSN_ID(LDXDW, 3, 0, (int16_t)(rnd(s) % 24), 0);
		break;
	case 2: /* stack store and load at a random offset and size */
		in[k++] = INSN_ID(STXDW, 10, r, (int16_t)(-8 * (int)(1 + rnd(s) % 70)), 0);
		in[k++] = INSN(ldx_by_bpf_size[rnd(s) % 4], q, 10, (int16_t)(-(int)(1 + rnd(s) % 520)), 0);
		break;
	case 3: /* bounded index into a map value */
		in[k++] = INSN_ID(AND64_K, q, 0, 0, (int32_t)(rnd(s) % 32));
		in[k++] = INSN_ID(ADD64_X, r, q, 0, 0);
		in[k++] = INSN_ID(LDXB, 0, r, off, 0);
		break;
	case 4: { /* ALU on random registers: any operation, 64 or 32 bits, either source (neg's X form is no
		   * row: the verifier must refuse it) */
		int w = rnd(s) % 2 ? 0 : 1;
		uint8_t opc = alu_rows[rnd(s) % 13].k[w];
		opc |= rnd(s) % 2 ? BPF_X : BPF_K;
		in[k++] = INSN(opc, r, q, 0, (int32_t)(rnd(s) % 70) - 5);
		break;
	}
	case 5: { /* a forward jump of any operation but ja, either source (call's is callx, exit's no row) */
		uint8_t opc = jmp_by_op[rnd(s) % 13];
		opc |= rnd(s) % 2 ? BPF_X : BPF_K;
		in[k++] = INSN(opc, r, q, (int16_t)(rnd(s) % 3), (int32_t)(rnd(s) % 40));
		break;
	}
	case 6: /* a load through a random register */
		in[k++] = INSN(ldx_by_bpf_size[rnd(s) % 4], q, r, off, 0);
		break;
	case 7: /* a store through a random register */
		in[k++] = INSN(stx_by_bpf_size[rnd(s) % 4], r, q, off, 0);
		break;
	default: /* a ring buffer reservation, submitted or not */
		in[k++] = INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, 2);
		in[k++] = LDDW_HI(0);
		in[k++] = INSN_ID(MOV64_K, 2, 0, 0, (int32_t)(rnd(s) % 64));
		in[k++] = INSN_ID(MOV64_K, 3, 0, 0, 0);
		in[k++] = INSN_ID(CALL, 0, 0, 0, BPF_FUNC_ringbuf_reserve);
		in[k++] = INSN_ID(JEQ_K, 0, 0, 4, 0);
		in[k++] = INSN_ID(STXB, 0, 0, (int16_t)(rnd(s) % 70), 0);
		in[k++] = INSN_ID(MOV64_X, 1, 0, 0, 0);
		in[k++] = INSN_ID(MOV64_K, 2, 0, 0, 0);
		in[k++] = INSN_ID(CALL, 0, 0, 0, rnd(s) % 2 ? BPF_FUNC_ringbuf_submit : BPF_FUNC_ringbuf_discard);
		break;
	}
	*n = k;
}

/* ---- the structure-aware generator ---- */

/* Register roles, kept by every block: r6 packet start, r7 packet end (XDP, tc), r9 the context, r8 a
 * scalar (or a map value inside a block), r0..r5 scratch scalars (calls clobber r1..r5).  Stack: fp-8
 * and fp-16 hold a key and a value for map calls, fp-24..fp-64 spill slots, fp-72 a loop counter. */
struct gen {
	const uint8_t *p, *end;
	struct bpf_insn *in;
	size_t n;
	uint32_t type;
	bool pkt;      /* direct packet access (XDP, tc) */
	bool need_cb;  /* a bpf_loop call refers to the callback after the main program */
	size_t cb_refs[16];
	size_t cb_ref_cnt;
};

static uint8_t take(struct gen *g)
{
	return g->p < g->end ? *g->p++ : 0;
}

static void emit(struct gen *g, struct bpf_insn i)
{
	if (g->n < MAX_INSNS)
		g->in[g->n++] = i;
}

/* The structure-aware generator's access sizes: byte, half, word, double word. */
static const uint8_t ldx_opc[4] = { OPC(LDXB), OPC(LDXH), OPC(LDXW), OPC(LDXDW) };
static const uint8_t stx_opc[4] = { OPC(STXB), OPC(STXH), OPC(STXW), OPC(STXDW) };
static const uint8_t ldabs_opc[3] = { OPC(LDABS_B), OPC(LDABS_H), OPC(LDABS_W) };
static const int size_len[4] = { 1, 2, 4, 8 };

/* A scalar scratch register r0..r5. */
static uint8_t scratch(struct gen *g)
{
	return take(g) % 6;
}

/* Makes rd a bounded scalar: a constant, a packet byte, a context field or a masked value. */
static void bounded_scalar(struct gen *g, uint8_t rd)
{
	uint8_t c = take(g);
	switch (c % 4) {
	case 0:
		emit(g, INSN_ID(MOV64_K, rd, 0, 0, (int8_t)take(g)));
		break;
	case 1: /* a context field (len in both layouts; XDP's ingress_ifindex) */
		emit(g, INSN_ID(LDXW, rd, 9, g->type == BPF_PROG_TYPE_XDP ? 12 : 0, 0));
		break;
	default:
		emit(g, INSN_ID(MOV64_X, rd, 8, 0, 0));
		break;
	}
	if (c & 0x10)
		emit(g, INSN_ID(AND64_K, rd, 0, 0, (take(g) & 63) | 1));
}

/* A packet access proven by a comparison with data_end: r1 = r6 + need; if r1 > r7 skip; access r6+off.
 * Mostly off + size <= need; sometimes one past (the verifier must refuse). */
static void blk_pkt(struct gen *g)
{
	uint8_t c = take(g), sz = c & 3;
	int need = 1 + take(g) % 64;
	int off = need - size_len[sz] - (c & 0x80 ? -1 : (int)(take(g) % 8));
	if (off < 0)
		off = 0;
	emit(g, INSN_ID(MOV64_X, 1, 6, 0, 0));
	emit(g, INSN_ID(ADD64_K, 1, 0, 0, need));
	bool store = c & 0x40;
	emit(g, INSN((c & 0x20) ? OPC(JGT_X) : OPC(JGE_X), 1, 7, store ? 2 : 3, 0));
	if (store) {
		emit(g, INSN_ID(MOV64_K, 2, 0, 0, (int8_t)take(g)));
		emit(g, INSN(stx_opc[sz], 6, 2, (int16_t)off, 0));
	} else {
		emit(g, INSN(ldx_opc[sz], 2, 6, (int16_t)off, 0));
		emit(g, INSN_ID(ADD64_X, 8, 2, 0, 0));
		emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xff));
	}
}

/* A variable packet offset: a packet byte (checked) bounds an index, either by a mask or by a
 * comparison, the pointer moves by it, and the moved pointer is checked again before the access. */
static void blk_pkt_var(struct gen *g)
{
	uint8_t c = take(g), sz = c & 3;
	int lim = 1 + take(g) % 40;
	size_t start = g->n;
	emit(g, INSN_ID(MOV64_X, 1, 6, 0, 0));
	emit(g, INSN_ID(ADD64_K, 1, 0, 0, 1));
	emit(g, INSN_ID(JGT_X, 1, 7, 0, 0)); /* to the end, patched below */
	size_t j1 = g->n - 1;
	emit(g, INSN_ID(LDXB, 2, 6, 0, 0));
	size_t j2 = SIZE_MAX;
	if (c & 0x10) {
		emit(g, INSN_ID(AND64_K, 2, 0, 0, lim));
	} else {
		emit(g, INSN((c & 0x20) ? OPC(JGT_K) : OPC(JGE_K), 2, 0, 0, lim));
		j2 = g->n - 1;
	}
	emit(g, INSN_ID(MOV64_X, 1, 6, 0, 0));
	emit(g, INSN_ID(ADD64_X, 1, 2, 0, 0));
	emit(g, INSN_ID(MOV64_X, 3, 1, 0, 0));
	/* sometimes the check covers one byte less than the access */
	emit(g, INSN_ID(ADD64_K, 3, 0, 0, size_len[sz] - ((c & 0xc0) == 0xc0)));
	emit(g, INSN_ID(JGT_X, 3, 7, 0, 0));
	size_t j3 = g->n - 1;
	if (c & 0x08)
		emit(g, INSN(stx_opc[sz], 1, 8, 0, 0));
	else
		emit(g, INSN(ldx_opc[sz], 8, 1, 0, 0));
	if (g->n >= MAX_INSNS)
		return;
	g->in[j1].off = (int16_t)(g->n - j1 - 1);
	g->in[j3].off = (int16_t)(g->n - j3 - 1);
	if (j2 != SIZE_MAX)
		g->in[j2].off = (int16_t)(g->n - j2 - 1);
	(void)start;
}

/* A lookup in the array or the hash map, null-checked (almost always), then accesses to the value at
 * constant and bounded variable offsets, and a store of r8 into it. */
static void blk_map(struct gen *g)
{
	uint8_t c = take(g), sz = (c >> 2) & 3;
	int map = c & 1;
	/* the key: a small constant or a masked scalar */
	if (c & 0x40) {
		emit(g, INSN_ID(MOV64_X, 1, 8, 0, 0));
		emit(g, INSN_ID(AND64_K, 1, 0, 0, 7));
		emit(g, INSN(map ? OPC(STXDW) : OPC(STXW), 10, 1, -8, 0));
	} else {
		emit(g, INSN(map ? OPC(STDW) : OPC(STW), 10, 0, -8, take(g) % 6));
	}
	emit(g, INSN_ID(MOV64_X, 2, 10, 0, 0));
	emit(g, INSN_ID(ADD64_K, 2, 0, 0, -8));
	emit(g, INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, map));
	emit(g, LDDW_HI(0));
	emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
	size_t jn = SIZE_MAX;
	if ((c & 0x30) != 0x30) {
		emit(g, INSN_ID(JEQ_K, 0, 0, 0, 0));
		jn = g->n - 1;
	}
	int off = take(g) % 20; /* value size 16: some of these are past the end */
	if (c & 0x80) {
		emit(g, INSN(ldx_opc[sz], 3, 0, (int16_t)off, 0));
		emit(g, INSN_ID(ADD64_X, 8, 3, 0, 0));
	} else {
		/* a variable offset bounded by a mask (or by a comparison) */
		uint8_t d = take(g);
		emit(g, INSN_ID(MOV64_X, 3, 8, 0, 0));
		emit(g, INSN_ID(AND64_K, 3, 0, 0, d & 15));
		emit(g, INSN_ID(ADD64_X, 3, 0, 0, 0));
		emit(g, INSN(stx_opc[sz], 3, 8, (int16_t)(d >> 6), 0));
	}
	emit(g, INSN_ID(STXDW, 0, 8, (int16_t)(8 * ((c >> 5) & 1)), 0));
	if (jn != SIZE_MAX && g->n < MAX_INSNS)
		g->in[jn].off = (int16_t)(g->n - jn - 1);
}

/* A spill of a pointer or a scalar, then a fill into another register and a use of it. */
static void blk_spill(struct gen *g)
{
	uint8_t c = take(g);
	static const uint8_t src[4] = { 6, 9, 8, 10 };
	uint8_t rs = src[c & 3], rd = scratch(g);
	int16_t slot = (int16_t)(-24 - 8 * ((c >> 2) % 6));
	if (!g->pkt && rs == 6)
		rs = 9;
	if ((c & 0xc0) == 0xc0) /* now and then a 32-bit spill: the filled value is a scalar, the low half */
		emit(g, INSN_ID(STXW, 10, rs, slot, 0));
	else
		emit(g, INSN_ID(STXDW, 10, rs, slot, 0));
	emit(g, INSN((c & 0x30) == 0x30 ? OPC(LDXW) : OPC(LDXDW), rd, 10, slot, 0));
	switch (rs) {
	case 6: /* through the filled packet pointer, after a check */
		emit(g, INSN_ID(MOV64_X, 1, rd, 0, 0));
		emit(g, INSN_ID(ADD64_K, 1, 0, 0, 2));
		emit(g, INSN_ID(JGT_X, 1, 7, 1, 0));
		emit(g, INSN_ID(LDXH, 8, rd, 0, 0));
		break;
	case 9: /* a context field through the filled context pointer */
		emit(g, INSN_ID(LDXW, 8, rd, g->type == BPF_PROG_TYPE_XDP ? 16 : 8, 0));
		break;
	case 10: /* a store through the filled frame pointer */
		emit(g, INSN_ID(STXDW, rd, 8, -64, 0));
		break;
	default:
		emit(g, INSN_ID(ADD64_X, 8, rd, 0, 0));
		break;
	}
}

/* A store of r8's low byte at fp + off + r<idx>: in bounds only where the walk proves idx small enough
 * (a loop's counter: its bound, which widening must not lose). */
static void emit_stack_index(struct gen *g, uint8_t idx, int off)
{
	emit(g, INSN_ID(MOV64_X, 1, 10, 0, 0));
	emit(g, INSN_ID(ADD64_K, 1, 0, 0, off));
	emit(g, INSN_ID(ADD64_X, 1, idx, 0, 0));
	emit(g, INSN_ID(STXB, 1, 8, 0, 0));
}

/* A bounded loop over a counter in a register or on the stack, its body ALU on r8 (and sometimes a
 * packet byte, checked inside the loop, a stack byte indexed by the counter, an inner loop), counting
 * up or down; some run past the stack, which only the counter's exact bound shows. */
static void blk_loop(struct gen *g)
{
	uint8_t c = take(g), d = take(g);
	int n = 1 + take(g) % ((d & 0x30) == 0x30 ? 80 : 24);
	size_t top;
	if (d & 1) { /* counting down to 0 instead */
		emit(g, INSN_ID(MOV64_K, 4, 0, 0, n));
		top = g->n;
		emit(g, INSN(c & 1 ? OPC(ADD64_X) : OPC(XOR64_X), 8, 4, 0, 0));
		if (d & 2) /* a stack byte indexed by the counter: fp-64 + 1..n, out of the stack past 64 */
			emit_stack_index(g, 4, -65);
		emit(g, INSN_ID(ADD64_K, 4, 0, 0, -1));
		emit(g, INSN((c & 0x80) ? OPC(JGT_K) : OPC(JNE_K), 4, 0, (int16_t)(top - g->n - 1), 0));
		return;
	}
	emit(g, INSN_ID(MOV64_K, 4, 0, 0, 0));
	top = g->n;
	emit(g, INSN(c & 1 ? OPC(ADD64_X) : OPC(XOR64_X), 8, 4, 0, 0));
	emit(g, INSN_ID(MUL64_K, 8, 0, 0, 3 + (c >> 4)));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
	if (d & 2) /* a stack byte indexed by the counter: fp-64 + 0..n-1 */
		emit_stack_index(g, 4, -64);
	if (d & 4) { /* an inner loop on r5, counted by the outer counter or a constant */
		size_t in_top;
		emit(g, INSN_ID(MOV64_K, 5, 0, 0, 0));
		in_top = g->n;
		emit(g, INSN_ID(ADD64_X, 8, 5, 0, 0));
		emit(g, INSN_ID(ADD64_K, 5, 0, 0, 1 + (d >> 6)));
		if (d & 8)
			emit(g, INSN_ID(JLT_X, 5, 4, (int16_t)(in_top - g->n - 1), 0));
		else
			emit(g, INSN_ID(JLT_K, 5, 0, (int16_t)(in_top - g->n - 1), 1 + (d >> 4) % 7));
	}
	if ((c & 6) == 2 && g->pkt) {
		emit(g, INSN_ID(MOV64_X, 1, 6, 0, 0));
		emit(g, INSN_ID(ADD64_X, 1, 4, 0, 0));
		emit(g, INSN_ID(MOV64_X, 2, 1, 0, 0));
		emit(g, INSN_ID(ADD64_K, 2, 0, 0, 1));
		emit(g, INSN_ID(JGT_X, 2, 7, 2, 0));
		emit(g, INSN_ID(LDXB, 2, 1, 0, 0));
		emit(g, INSN_ID(ADD64_X, 8, 2, 0, 0));
	}
	if (c & 8) { /* the counter through the stack: a spill and a fill each round */
		emit(g, INSN_ID(STXDW, 10, 4, -72, 0));
		emit(g, INSN_ID(LDXDW, 4, 10, -72, 0));
	}
	emit(g, INSN_ID(ADD64_K, 4, 0, 0, 1));
	emit(g, INSN((c & 0x80) ? OPC(JLT_K) : OPC(JNE_K), 4, 0, (int16_t)(top - g->n - 1), n));
	if ((d & 0xc0) == 0xc0) /* the counter's last value used: fp-64 + n, in the stack up to 64 */
		emit_stack_index(g, 4, -64);
}

/* Helper calls: update / delete in the maps, bpf_loop with the callback, the CPU number, a ring buffer
 * record reserved and then submitted or discarded. */
static void blk_call(struct gen *g)
{
	uint8_t c = take(g);
	int map = c & 1;
	switch ((c >> 1) % 4) {
	case 0: /* map_update_elem(map, &key, &value, flags) */
		emit(g, INSN_ID(STDW, 10, 0, -8, take(g) % 6));
		emit(g, INSN_ID(STXDW, 10, 8, -16, 0));
		emit(g, INSN_ID(STDW, 10, 0, -24, (int8_t)take(g)));
		emit(g, INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, map));
		emit(g, LDDW_HI(0));
		emit(g, INSN_ID(MOV64_X, 2, 10, 0, 0));
		emit(g, INSN_ID(ADD64_K, 2, 0, 0, -8));
		emit(g, INSN_ID(MOV64_X, 3, 10, 0, 0));
		emit(g, INSN_ID(ADD64_K, 3, 0, 0, -24));
		emit(g, INSN_ID(MOV64_K, 4, 0, 0, take(g) % 3));
		emit(g, INSN_ID(CALL, 0, 0, 0, (c & 0x80) ? BPF_FUNC_map_delete_elem : BPF_FUNC_map_update_elem));
		emit(g, INSN_ID(ADD64_X, 8, 0, 0, 0));
		break;
	case 1: /* bpf_loop(n, cb, &ctx, 0): the callback adds its index to the u64 at ctx */
		emit(g, INSN_ID(STXDW, 10, 8, -32, 0));
		emit(g, INSN_ID(MOV64_K, 1, 0, 0, take(g) % 40));
		if (g->cb_ref_cnt < 16) {
			g->cb_refs[g->cb_ref_cnt++] = g->n;
			emit(g, INSN_ID(LDDW, 2, BPF_PSEUDO_FUNC, 0, 0));
			emit(g, LDDW_HI(0));
			g->need_cb = true;
		}
		emit(g, INSN_ID(MOV64_X, 3, 10, 0, 0));
		emit(g, INSN_ID(ADD64_K, 3, 0, 0, -32));
		emit(g, INSN_ID(MOV64_K, 4, 0, 0, 0));
		emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_loop));
		emit(g, INSN_ID(LDXDW, 8, 10, -32, 0));
		break;
	case 2:
		emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_get_smp_processor_id));
		emit(g, INSN_ID(ADD64_X, 8, 0, 0, 0));
		break;
	default: { /* ringbuf_reserve(rb, size, 0): write into it, then submit or discard */
		int sz = 8 + 8 * (take(g) % 4);
		emit(g, INSN_ID(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, 2));
		emit(g, LDDW_HI(0));
		emit(g, INSN_ID(MOV64_K, 2, 0, 0, sz));
		emit(g, INSN_ID(MOV64_K, 3, 0, 0, 0));
		emit(g, INSN_ID(CALL, 0, 0, 0, BPF_FUNC_ringbuf_reserve));
		emit(g, INSN_ID(JEQ_K, 0, 0, 5, 0));
		/* the last slot, or one past it now and then */
		emit(g, INSN_ID(STXDW, 0, 8, (int16_t)(sz - 8 + ((c & 0x60) == 0x60 ? 8 : 0)), 0));
		emit(g, INSN_ID(STXDW, 0, 8, 0, 0));
		emit(g, INSN_ID(MOV64_X, 1, 0, 0, 0));
		emit(g, INSN_ID(MOV64_K, 2, 0, 0, 0));
		emit(g, INSN_ID(CALL, 0, 0, 0, (c & 0x80) ? BPF_FUNC_ringbuf_discard : BPF_FUNC_ringbuf_submit));
		break;
	}
	}
}

/* ALU on bounded scalars: every operation, 64 and 32 bits, register and constant forms, then folded
 * into r8 (masked so that it stays a usable bound). */
static void blk_alu(struct gen *g)
{
	uint8_t c = take(g), rd = scratch(g), rs = scratch(g);
	if (rs == rd)
		rs = (uint8_t)((rd + 1) % 6);
	bounded_scalar(g, rd);
	bounded_scalar(g, rs);
	const struct alu_row *op = &alu_rows[(c >> 1) % 13];
	int w = c & 1; /* 32 bits */
	if (c & 0x80) {
		int32_t imm = (int8_t)take(g);
		if (op->shift)
			imm &= w ? 31 : 63;
		emit(g, INSN(op->k[w], rd, 0, 0, op->x[w] ? imm : 0));
	} else if (!op->x[w]) { /* neg */
		emit(g, INSN(op->k[w], rd, 0, 0, 0));
	} else {
		emit(g, INSN(op->x[w], rd, rs, 0, 0));
	}
	if ((c & 0x60) == 0x60) /* a byte swap */
		emit(g, INSN(OPC(BE16) /* imm picks the width */, rd, 0, 0, 16 << (take(g) % 3)));
	emit(g, INSN_ID(ADD64_X, 8, rd, 0, 0));
	emit(g, INSN_ID(AND64_K, 8, 0, 0, 0xffff));
}

static void block(struct gen *g, int depth);

/* A conditional jump over the next block: the verifier walks both ways and refines the bounds. */
static void blk_branch(struct gen *g, int depth)
{
	uint8_t c = take(g);
	static const uint8_t jcc[11][2] = { /* 64-bit, 32-bit compare */
		{ OPC(JEQ_K), OPC(JEQ32_K) },   { OPC(JGT_K), OPC(JGT32_K) },   { OPC(JGE_K), OPC(JGE32_K) },
		{ OPC(JSET_K), OPC(JSET32_K) }, { OPC(JNE_K), OPC(JNE32_K) },   { OPC(JSGT_K), OPC(JSGT32_K) },
		{ OPC(JSGE_K), OPC(JSGE32_K) }, { OPC(JLT_K), OPC(JLT32_K) },   { OPC(JLE_K), OPC(JLE32_K) },
		{ OPC(JSLT_K), OPC(JSLT32_K) }, { OPC(JSLE_K), OPC(JSLE32_K) },
	};
	emit(g, INSN(jcc[(c >> 1) % 11][c & 1], 8, 0, 0, take(g) % 64));
	size_t j = g->n - 1;
	block(g, depth + 1);
	if (g->n < MAX_INSNS)
		g->in[j].off = (int16_t)(g->n - j - 1);
}

/* A context field read (and, for tc, a write of mark). */
static void blk_ctx(struct gen *g)
{
	uint8_t c = take(g);
	static const int16_t xdp_off[] = { 12, 16, 20 }, skb_off[] = { 0, 8, 16, 20, 24, 36, 40, 44 };
	if (g->type == BPF_PROG_TYPE_XDP)
		emit(g, INSN_ID(LDXW, 2, 9, xdp_off[c % 3], 0));
	else if ((c & 0x80) && g->type == BPF_PROG_TYPE_SCHED_CLS)
		emit(g, INSN_ID(STXW, 9, 8, 8, 0));
	else
		emit(g, INSN_ID(LDXW, 2, 9, skb_off[c % 8], 0));
	emit(g, INSN_ID(ADD64_X, 8, 2, 0, 0));
}

/* A legacy packet load (every skb type): r6 must hold the context. */
static void blk_ld_abs(struct gen *g)
{
	uint8_t c = take(g);
	emit(g, INSN_ID(MOV64_X, 6, 9, 0, 0));
	emit(g, INSN(ldabs_opc[c % 3], 0, 0, 0, take(g) % 80));
	emit(g, INSN_ID(ADD64_X, 8, 0, 0, 0));
	if (g->pkt) /* r6 back to the packet start */
		emit(g, INSN_ID(LDXW, 6, 9, g->type == BPF_PROG_TYPE_XDP ? 0 : 76, 0));
}

static void block(struct gen *g, int depth)
{
	uint8_t c = take(g);
	if (g->n + 40 >= MAX_INSNS)
		return;
	switch (c % 10) {
	case 0:
		if (g->pkt) {
			blk_pkt(g);
			break;
		}
		blk_ld_abs(g);
		break;
	case 1:
		if (g->pkt) {
			blk_pkt_var(g);
			break;
		}
		blk_ctx(g);
		break;
	case 2:
		blk_map(g);
		break;
	case 3:
		blk_spill(g);
		break;
	case 4:
		blk_loop(g);
		break;
	case 5:
		blk_call(g);
		break;
	case 6:
		blk_alu(g);
		break;
	case 7:
		if (depth < 3) {
			blk_branch(g, depth);
			break;
		}
		blk_alu(g);
		break;
	case 8:
		blk_ctx(g);
		break;
	default:
		if (g->type != BPF_PROG_TYPE_XDP) {
			blk_ld_abs(g);
			break;
		}
		blk_pkt(g);
		break;
	}
}

static size_t generate(const uint8_t *data, size_t size, uint32_t type, struct bpf_insn *in)
{
	struct gen g = { .p = data, .end = data + size, .in = in, .type = type };
	g.pkt = type != BPF_PROG_TYPE_SOCKET_FILTER;
	emit(&g, INSN_ID(MOV64_X, 9, 1, 0, 0));
	if (g.pkt) {
		int16_t d = type == BPF_PROG_TYPE_XDP ? 0 : 76, e = type == BPF_PROG_TYPE_XDP ? 4 : 80;
		emit(&g, INSN_ID(LDXW, 6, 9, d, 0));
		emit(&g, INSN_ID(LDXW, 7, 9, e, 0));
	}
	emit(&g, INSN_ID(MOV64_K, 8, 0, 0, 0));
	while (g.p < g.end && g.n + 48 < MAX_INSNS)
		block(&g, 0);
	/* the return value: r8, for XDP folded into XDP_ABORTED..XDP_TX */
	emit(&g, INSN_ID(MOV64_X, 0, 8, 0, 0));
	if (type == BPF_PROG_TYPE_XDP)
		emit(&g, INSN_ID(AND64_K, 0, 0, 0, 3));
	emit(&g, INSN_ID(EXIT, 0, 0, 0, 0));
	if (g.need_cb) {
		/* cb(index, ctx): *(u64 *)ctx += index; return 0 */
		size_t cb = g.n;
		emit(&g, INSN_ID(LDXDW, 3, 2, 0, 0));
		emit(&g, INSN_ID(ADD64_X, 3, 1, 0, 0));
		emit(&g, INSN_ID(STXDW, 2, 3, 0, 0));
		emit(&g, INSN_ID(MOV64_K, 0, 0, 0, 0));
		emit(&g, INSN_ID(EXIT, 0, 0, 0, 0));
		for (size_t i = 0; i < g.cb_ref_cnt; i++)
			in[g.cb_refs[i]].imm = (int32_t)(cb - g.cb_refs[i] - 1);
	}
	return g.n;
}

/* ---- running and comparing ---- */

static unsigned long tried, loaded, ran, looped;

static void stats(void)
{
	fprintf(stderr, "fuzz_verifier: %lu inputs, %lu programs verified, %lu ran alike in all 4 ways (%lu of them out of budget)\n",
		tried, loaded, ran, looped);
}

struct side {
	struct bpfvm *vm;
	int prog;
	long err;
	uint32_t retval, out_len;
	uint8_t out[14 + 256];
	uint8_t maps[4 * 16 + 8 * (8 + 16)];
	uint8_t rb[4096];
	size_t rb_len;
	const char *what;
	char msg[512]; /* the run's error, if any */
};

static const uint32_t map_spec[3][4] = { { BPF_MAP_TYPE_ARRAY, 4, 16, 4 }, { BPF_MAP_TYPE_HASH, 8, 16, 8 },
					 { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096 } };

static struct bpfvm *instance(int verify, int interp, int checks)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .verify = verify, .interp = interp, .checks = checks };
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		abort();
	union bpf_attr a;
	for (int i = 0; i < 3; i++) {
		memset(&a, 0, sizeof(a));
		a.map_type = map_spec[i][0];
		a.key_size = map_spec[i][1];
		a.value_size = map_spec[i][2];
		a.max_entries = map_spec[i][3];
		if (bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a)) != i)
			abort();
	}
	bpfvm_set_insn_limit(vm, 100000);
	return vm;
}

static int rb_record(void *ctx, void *data, size_t size)
{
	struct side *s = ctx;
	if (s->rb_len + size + 4 <= sizeof(s->rb)) {
		uint32_t l = (uint32_t)size;
		memcpy(s->rb + s->rb_len, &l, 4);
		memcpy(s->rb + s->rb_len + 4, data, size);
		s->rb_len += size + 4;
	}
	return 0;
}

/* Runs s->prog on the packet, then reads back every map: array values in key order, hash entries in
 * key order (keys 0..7 are the only ones programs write), ring buffer records in order. */
static void run_side(struct side *s, const uint8_t *pkt, uint32_t len)
{
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = len, .data_out = s->out,
					 .data_size_out = sizeof(s->out) };
	memset(s->out, 0, sizeof(s->out));
	s->err = bpfvm_prog_test_run(s->vm, s->prog, &t);
	snprintf(s->msg, sizeof(s->msg), "%s", s->err ? bpfvm_errmsg(s->vm) : "");
	s->retval = t.retval;
	s->out_len = t.data_size_out;
	memset(s->maps, 0, sizeof(s->maps));
	for (uint32_t k = 0; k < 4; k++)
		bpfvm_map_lookup(s->vm, 0, &k, s->maps + 16 * k);
	for (uint64_t k = 0; k < 8; k++) {
		uint8_t *e = s->maps + 64 + 24 * k;
		if (!bpfvm_map_lookup(s->vm, 1, &k, e + 8))
			memcpy(e, &k, 8);
	}
	s->rb_len = 0;
	struct bpfvm_ringbuf *rb = NULL;
	if (!bpfvm_ringbuf_new(s->vm, 2, rb_record, s, &rb)) {
		bpfvm_ringbuf_poll(rb, 0);
		bpfvm_ringbuf_free(rb);
	}
}

static void differ(const struct side *a, const struct side *b, const char *what, const struct bpf_insn *prog, size_t n)
{
	fprintf(stderr, "fuzz_verifier: %s and %s differ in %s (err %ld/%ld, r0 %u/%u)\n  %s\n  %s\n", a->what, b->what, what,
		a->err, b->err, a->retval, b->retval, a->msg, b->msg);
	char buf[1 << 15];
	bpfvm_disasm(prog, n, BPFVM_DISASM_PC, buf, sizeof(buf));
	fprintf(stderr, "%s\n", buf);
	abort();
}

static void compare(const struct side *a, const struct side *b, const struct bpf_insn *prog, size_t n)
{
	if (a->err != b->err)
		differ(a, b, "the error", prog, n);
	if (a->err)
		return;
	if (a->retval != b->retval)
		differ(a, b, "r0", prog, n);
	if (a->out_len != b->out_len || memcmp(a->out, b->out, a->out_len < sizeof(a->out) ? a->out_len : sizeof(a->out)))
		differ(a, b, "the packet", prog, n);
	if (memcmp(a->maps, b->maps, sizeof(a->maps)))
		differ(a, b, "the maps", prog, n);
	if (a->rb_len != b->rb_len || memcmp(a->rb, b->rb, a->rb_len))
		differ(a, b, "the ring buffer", prog, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tried++ && getenv("FUZZ_VERIFIER_STATS"))
		atexit(stats);
	if (size < 3)
		return 0;
	uint32_t type = types[data[0] % 3];
	uint32_t pkt_len = 14u + data[1];
	struct bpf_insn prog[MAX_INSNS];
	size_t n = 0;
	if ((data[2] & 3) == 3) {
		n = generate(data + 3, size - 3, type, prog);
	} else if (data[2] & 1) {
		if (size < 11)
			return 0;
		uint64_t seed;
		memcpy(&seed, data + 3, 8);
		seed |= 1;
		/* r1 (ctx) kept in r9; every idiom may use registers as they are */
		prog[n++] = INSN_ID(MOV64_X, 9, 1, 0, 0);
		size_t parts = 1 + (size > 11 ? data[11] % 12 : 4);
		for (size_t i = 0; i < parts && n < 480; i++) {
			prog[n++] = INSN_ID(MOV64_X, 1, 9, 0, 0);
			idiom(&seed, prog, &n, type);
		}
		prog[n++] = INSN_ID(MOV64_K, 0, 0, 0, 2);
		prog[n++] = INSN_ID(EXIT, 0, 0, 0, 0);
	} else {
		n = (size - 3) / sizeof(struct bpf_insn);
		if (!n || n > MAX_INSNS)
			return 0;
		memcpy(prog, data + 3, n * sizeof(struct bpf_insn));
	}
	static struct side s[4];
	s[0].vm = instance(BPFVM_VERIFY_ON, 1, BPFVM_CHECKS_ALWAYS);
	s[0].what = "the checked verified interpreter";
	s[0].prog = bpfvm_prog_load(s[0].vm, type, prog, n, "f");
	/* loops widened (the default) and walked round by round, as Linux does: the same verdict, and
	 * for a refusal the same words */
	struct bpfvm *ex = instance(BPFVM_VERIFY_EXACT_LOOPS, 1, BPFVM_CHECKS_ALWAYS);
	int xprog = bpfvm_prog_load(ex, type, prog, n, "f");
	if ((xprog < 0) != (s[0].prog < 0) || (xprog < 0 && strcmp(bpfvm_errmsg(ex), bpfvm_errmsg(s[0].vm)))) {
		char buf[1 << 15];
		bpfvm_disasm(prog, n, BPFVM_DISASM_PC, buf, sizeof(buf));
		fprintf(stderr, "fuzz_verifier: widened and exact loops differ: %s / exact: %s\n%s\n",
			s[0].prog < 0 ? bpfvm_errmsg(s[0].vm) : "accepted", xprog < 0 ? bpfvm_errmsg(ex) : "accepted", buf);
		abort();
	}
	bpfvm_free(ex);
	if (s[0].prog < 0) {
		if (getenv("FUZZ_VERIFIER_WHY")) /* tuning the generator: why it was refused */
			fprintf(stderr, "refused: %s\n", bpfvm_errmsg(s[0].vm));
		bpfvm_free(s[0].vm);
		return 0;
	}
	loaded++;
	s[1].vm = instance(BPFVM_VERIFY_ON, 1, BPFVM_CHECKS_PROVEN);
	s[1].what = "the unchecked verified interpreter";
	s[2].vm = instance(BPFVM_VERIFY_ON, 0, BPFVM_CHECKS_PROVEN);
	s[2].what = "the verified JIT";
	s[3].vm = instance(BPFVM_VERIFY_OFF, 1, BPFVM_CHECKS_ALWAYS);
	s[3].what = "the sandboxed interpreter";
	for (int i = 1; i < 4; i++) {
		s[i].prog = bpfvm_prog_load(s[i].vm, type, prog, n, "f");
		if (s[i].prog < 0) {
			fprintf(stderr, "fuzz_verifier: %s refuses what the verified interpreter loaded: %s\n", s[i].what,
				bpfvm_errmsg(s[i].vm));
			abort();
		}
	}
	uint8_t pkt[14 + 256];
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 13 + data[1]);
	for (int i = 0; i < 4; i++) {
		run_side(&s[i], pkt, pkt_len);
		if (i < 3 && (s[i].err == -EFAULT || s[i].err == -EACCES)) {
			fprintf(stderr, "fuzz_verifier: a verified program faulted in %s (%ld): %s\n", s[i].what, s[i].err, s[i].msg);
			char buf[1 << 15];
			bpfvm_disasm(prog, n, BPFVM_DISASM_PC, buf, sizeof(buf));
			fprintf(stderr, "%s\n", buf);
			abort();
		}
	}
	for (int i = 1; i < 4; i++)
		compare(&s[0], &s[i], prog, n);
	ran++;
	looped += s[0].err == -ELOOP;
	for (int i = 0; i < 4; i++)
		bpfvm_free(s[i].vm);
	return 0;
}
