/* tnum.c -- tristate number arithmetic, after Linux kernel/bpf/tnum.c (the proofs of soundness are in
 * "Sound, Precise, and Fast Abstract Interpretation with Tristate Numbers", CGO 2022). */
#include <stdio.h>

#include "tnum.h"

struct tnum tnum_range(uint64_t min, uint64_t max)
{
	uint64_t chi = min ^ max;
	if (!chi)
		return tnum_const(min);
	unsigned bits = 64 - (unsigned)__builtin_clzll(chi);
	if (bits > 63)
		return TNUM_UNKNOWN;
	uint64_t delta = (1ull << bits) - 1;
	return TNUM(min & ~delta, delta);
}

struct tnum tnum_lshift(struct tnum a, unsigned shift)
{
	if (shift >= 64)
		return tnum_const(0);
	return TNUM(a.value << shift, a.mask << shift);
}

struct tnum tnum_rshift(struct tnum a, unsigned shift)
{
	if (shift >= 64)
		return tnum_const(0);
	return TNUM(a.value >> shift, a.mask >> shift);
}

struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned bits)
{
	/* the sign bit's mask bit shifts in as the value's does: unknown sign, unknown upper bits */
	if (bits == 32)
		return TNUM((uint32_t)((int32_t)(uint32_t)a.value >> (shift & 31)),
			    (uint32_t)((int32_t)(uint32_t)a.mask >> (shift & 31)));
	return TNUM((uint64_t)((int64_t)a.value >> (shift & 63)), (uint64_t)((int64_t)a.mask >> (shift & 63)));
}

struct tnum tnum_add(struct tnum a, struct tnum b)
{
	uint64_t sm = a.mask + b.mask, sv = a.value + b.value;
	uint64_t sigma = sm + sv, chi = sigma ^ sv;
	uint64_t mu = chi | a.mask | b.mask;
	return TNUM(sv & ~mu, mu);
}

struct tnum tnum_sub(struct tnum a, struct tnum b)
{
	uint64_t dv = a.value - b.value;
	uint64_t alpha = dv + a.mask, beta = dv - b.mask;
	uint64_t chi = alpha ^ beta;
	uint64_t mu = chi | a.mask | b.mask;
	return TNUM(dv & ~mu, mu);
}

struct tnum tnum_neg(struct tnum a) { return tnum_sub(tnum_const(0), a); }

struct tnum tnum_and(struct tnum a, struct tnum b)
{
	uint64_t alpha = a.value | a.mask, beta = b.value | b.mask;
	uint64_t v = a.value & b.value;
	return TNUM(v, alpha & beta & ~v);
}

struct tnum tnum_or(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask | b.mask;
	return TNUM(v, mu & ~v);
}

struct tnum tnum_xor(struct tnum a, struct tnum b)
{
	uint64_t v = a.value ^ b.value, mu = a.mask | b.mask;
	return TNUM(v & ~mu, mu);
}

/* Long multiplication: known bits of a select shifted copies of b; the unknown ones add b's possible
 * bits to an uncertainty accumulated separately from the known product. */
struct tnum tnum_mul(struct tnum a, struct tnum b)
{
	uint64_t acc_v = a.value * b.value;
	struct tnum acc_m = tnum_const(0);
	while (a.value || a.mask) {
		if (a.value & 1)
			acc_m = tnum_add(acc_m, TNUM(0, b.mask));
		else if (a.mask & 1)
			acc_m = tnum_add(acc_m, TNUM(0, b.value | b.mask));
		a = tnum_rshift(a, 1);
		b = tnum_lshift(b, 1);
	}
	return tnum_add(tnum_const(acc_v), acc_m);
}

struct tnum tnum_intersect(struct tnum a, struct tnum b)
{
	uint64_t v = a.value | b.value, mu = a.mask & b.mask;
	return TNUM(v & ~mu, mu);
}

struct tnum tnum_union(struct tnum a, struct tnum b)
{
	uint64_t mu = a.mask | b.mask | (a.value ^ b.value);
	return TNUM(a.value & ~mu, mu);
}

struct tnum tnum_cast(struct tnum a, unsigned size)
{
	if (size >= 8)
		return a;
	uint64_t keep = (1ull << (size * 8)) - 1;
	return TNUM(a.value & keep, a.mask & keep);
}

bool tnum_in(struct tnum a, struct tnum b)
{
	if (b.mask & ~a.mask)
		return false;
	return (b.value & ~a.mask) == a.value;
}

char *tnum_str(struct tnum a, char *buf, unsigned long size)
{
	snprintf(buf, size, "(%#llx; %#llx)", (unsigned long long)a.value, (unsigned long long)a.mask);
	return buf;
}
