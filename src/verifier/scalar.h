/* scalar.h -- what the verifier knows of a scalar register: a tnum plus unsigned and signed bounds on the
 * whole 64 bits and on the low 32 (Linux struct bpf_reg_state's scalar part).  All nine facts describe
 * the same set of values and are kept consistent with one another after every operation (scalar_sync(),
 * Linux reg_bounds_sync()).  Operations are sound: a value the program can compute is never outside
 * what they return. */
#ifndef BPFVM_VERIFIER_SCALAR_H
#define BPFVM_VERIFIER_SCALAR_H

#include <stdbool.h>
#include <stdint.h>

#include "tnum.h"

struct scalar {
	struct tnum var_off;
	uint64_t umin, umax;
	int64_t smin, smax;
	uint32_t u32_min, u32_max;
	int32_t s32_min, s32_max;
};

/* Inline: the verifier builds and tests constants at most instructions it walks. */
static inline struct scalar scalar_const(uint64_t v)
{
	return (struct scalar){
		.var_off = tnum_const(v), .umin = v, .umax = v, .smin = (int64_t)v, .smax = (int64_t)v,
		.u32_min = (uint32_t)v, .u32_max = (uint32_t)v, .s32_min = (int32_t)(uint32_t)v,
		.s32_max = (int32_t)(uint32_t)v,
	};
}

static inline struct scalar scalar_unknown(void)
{
	return (struct scalar){
		.var_off = TNUM_UNKNOWN, .umin = 0, .umax = UINT64_MAX, .smin = INT64_MIN, .smax = INT64_MAX,
		.u32_min = 0, .u32_max = UINT32_MAX, .s32_min = INT32_MIN, .s32_max = INT32_MAX,
	};
}

/* The 32-bit constant v, zero-extended (what an ALU32 instruction leaves). */
static inline struct scalar scalar_const32(uint32_t v) { return scalar_const(v); }
static inline bool scalar_is_const(const struct scalar *s) { return tnum_is_const(s->var_off); }
/* Every bound consistent (min <= max) and the tnum not excluding them all: false means no value, e.g.
 * the state of a branch that cannot be taken. */
bool scalar_valid(const struct scalar *s);
/* Could the register hold x? */
bool scalar_contains(const struct scalar *s, uint64_t x);
/* Tightens each fact from the others (Linux reg_bounds_sync()). */
void scalar_sync(struct scalar *s);
/* The values of a or of b. */
struct scalar scalar_union(const struct scalar *a, const struct scalar *b);
/* Does every value of b belong to a (state pruning: b is then safe wherever a was)? */
bool scalar_subsumes(const struct scalar *a, const struct scalar *b);

/* dst = dst OP src for OP one of BPF_ADD ... BPF_END's ALU codes (linux/bpf.h: BPF_ADD, BPF_SUB, BPF_MUL,
 * BPF_DIV, BPF_MOD, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_XOR, BPF_MOV, BPF_NEG), on 32 bits
 * when alu32 (the result zero-extended), signed division/modulo when sdiv.  Shifts by more than the
 * width are masked, as the interpreter does. */
void scalar_alu(struct scalar *dst, const struct scalar *src, unsigned op, bool alu32, bool sdiv);
/* dst = (s64)(sN)src for N = 8, 16, 32 (movsx, 64-bit), or its 32-bit form (movsx32: sign-extended to
 * 32 bits, then zero-extended). */
void scalar_movsx(struct scalar *dst, const struct scalar *src, unsigned bits, bool alu32);
/* Byte swaps and endianness conversions of `bits` (16, 32, 64): truncation or swap. */
void scalar_bswap(struct scalar *dst, unsigned bits, bool swap);
/* Only the low `size` bytes, zero-extended: what a load of `size` bytes of an unknown value gives. */
struct scalar scalar_from_size(unsigned size);
/* Zero-extension of the low 32 bits into 64. */
void scalar_zext32(struct scalar *s);

/* Conditional jumps (linux/bpf.h BPF_JEQ ... BPF_JSLE, BPF_JSET) between a and b, on the low 32 bits
 * when jmp32.  scalar_branch_taken(): 1 when the jump is always taken, 0 when never, -1 when either
 * could happen.  scalar_refine(): narrows a and b to the values for which the condition is `taken`;
 * returns false when no such values exist (then a and b are meaningless). */
int scalar_branch_taken(const struct scalar *a, const struct scalar *b, unsigned op, bool jmp32);
bool scalar_refine(struct scalar *a, struct scalar *b, unsigned op, bool jmp32, bool taken);

/* "smin=-4,smax=5,umax=..." in Linux's verifier log style (only what is not implied); returns buf. */
char *scalar_str(const struct scalar *s, char *buf, unsigned long size);

#endif
