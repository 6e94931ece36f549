/* tnum.h -- tristate numbers: what the verifier knows of a value bit by bit (Linux kernel/bpf/tnum.c).
 * A bit whose mask bit is set is unknown; the others are the value's bits.  Invariant: value & mask == 0.
 * Every operation is sound: if x is in a and y in b, then x OP y is in tnum_OP(a, b). */
#ifndef BPFVM_VERIFIER_TNUM_H
#define BPFVM_VERIFIER_TNUM_H

#include <stdbool.h>
#include <stdint.h>

struct tnum {
	uint64_t value;
	uint64_t mask;
};

#define TNUM(v_, m_) ((struct tnum){ .value = (v_), .mask = (m_) })
#define TNUM_UNKNOWN TNUM(0, UINT64_MAX)

static inline struct tnum tnum_const(uint64_t v) { return TNUM(v, 0); }
static inline bool tnum_is_const(struct tnum a) { return !a.mask; }
static inline bool tnum_is_unknown(struct tnum a) { return a.mask == UINT64_MAX; }
static inline bool tnum_equals_const(struct tnum a, uint64_t v) { return !a.mask && a.value == v; }
static inline uint64_t tnum_umin(struct tnum a) { return a.value; }
static inline uint64_t tnum_umax(struct tnum a) { return a.value | a.mask; }

/* The smallest tnum holding every value in [min, max]. */
struct tnum tnum_range(uint64_t min, uint64_t max);
struct tnum tnum_lshift(struct tnum a, unsigned shift);
struct tnum tnum_rshift(struct tnum a, unsigned shift);
/* Arithmetic shift of the low `bits` (32 or 64) bits; a 32-bit result is zero-extended. */
struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned bits);
struct tnum tnum_add(struct tnum a, struct tnum b);
struct tnum tnum_sub(struct tnum a, struct tnum b);
struct tnum tnum_neg(struct tnum a);
struct tnum tnum_and(struct tnum a, struct tnum b);
struct tnum tnum_or(struct tnum a, struct tnum b);
struct tnum tnum_xor(struct tnum a, struct tnum b);
struct tnum tnum_mul(struct tnum a, struct tnum b);
/* Values in both a and b (a and b must share at least one value for the result to mean anything). */
struct tnum tnum_intersect(struct tnum a, struct tnum b);
/* Values in a or in b. */
struct tnum tnum_union(struct tnum a, struct tnum b);
/* The low `size` bytes, zero-extended. */
struct tnum tnum_cast(struct tnum a, unsigned size);
/* Is every value of b also one of a? */
bool tnum_in(struct tnum a, struct tnum b);
/* Could x be a value of a? */
static inline bool tnum_contains(struct tnum a, uint64_t x) { return (x & ~a.mask) == a.value; }

static inline struct tnum tnum_subreg(struct tnum a) { return tnum_cast(a, 4); }
static inline struct tnum tnum_clear_subreg(struct tnum a) { return tnum_lshift(tnum_rshift(a, 32), 32); }
/* a's upper 32 bits with the lower 32 of sub */
static inline struct tnum tnum_with_subreg(struct tnum a, struct tnum sub)
{
	return tnum_or(tnum_clear_subreg(a), tnum_subreg(sub));
}

/* "(0x10; 0xf)" style, as Linux prints var_off; returns buf. */
char *tnum_str(struct tnum a, char *buf, unsigned long size);

#endif
