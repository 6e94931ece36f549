/* scalar.c -- bounds of scalar registers, after Linux kernel/bpf/verifier.c (adjust_scalar_min_max_vals,
 * reg_bounds_sync, is_branch_taken, regs_refine_cond_op).  Where Linux gives up on a bound (an overflow
 * that may wrap part of the range), so does this: the result is then every value, which is sound. */
#include <stdio.h>
#include <linux/bpf.h>

#include "scalar.h"

#define U32_MAXV 0xffffffffull

static inline uint64_t umax64(uint64_t a, uint64_t b) { return a > b ? a : b; }
static inline uint64_t umin64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline int64_t smax64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t smin64(int64_t a, int64_t b) { return a < b ? a : b; }

bool scalar_valid(const struct scalar *s)
{
	return s->umin <= s->umax && s->smin <= s->smax && s->u32_min <= s->u32_max && s->s32_min <= s->s32_max &&
	       !(s->var_off.value & s->var_off.mask) && tnum_umin(s->var_off) <= s->umax &&
	       tnum_umax(s->var_off) >= s->umin;
}

bool scalar_contains(const struct scalar *s, uint64_t x)
{
	return tnum_contains(s->var_off, x) && x >= s->umin && x <= s->umax && (int64_t)x >= s->smin &&
	       (int64_t)x <= s->smax && (uint32_t)x >= s->u32_min && (uint32_t)x <= s->u32_max &&
	       (int32_t)(uint32_t)x >= s->s32_min && (int32_t)(uint32_t)x <= s->s32_max;
}

/* ---- keeping the nine facts consistent (Linux reg_bounds_sync) ------------------------------- */

/* bounds from the tnum (Linux __update_reg_bounds) */
static void bounds_from_tnum(struct scalar *s)
{
	struct tnum t = s->var_off, t32 = tnum_subreg(s->var_off);
	s->smin = smax64(s->smin, (int64_t)(t.value | (t.mask & (1ull << 63))));
	s->smax = smin64(s->smax, (int64_t)(t.value | (t.mask & ~(1ull << 63))));
	s->umin = umax64(s->umin, t.value);
	s->umax = umin64(s->umax, t.value | t.mask);
	s->s32_min = (int32_t)smax64(s->s32_min, (int32_t)(uint32_t)(t32.value | (t32.mask & 0x80000000u)));
	s->s32_max = (int32_t)smin64(s->s32_max, (int32_t)(uint32_t)(t32.value | (t32.mask & 0x7fffffffu)));
	s->u32_min = (uint32_t)umax64(s->u32_min, t32.value);
	s->u32_max = (uint32_t)umin64(s->u32_max, t32.value | t32.mask);
}

/* each of the four pairs of bounds from the others (Linux __reg_deduce_bounds) */
static void deduce(struct scalar *s)
{
	/* 32-bit from 64-bit: where all values share their upper half, the lower halves form one range */
	if (s->umin >> 32 == s->umax >> 32) {
		s->u32_min = (uint32_t)umax64(s->u32_min, (uint32_t)s->umin);
		s->u32_max = (uint32_t)umin64(s->u32_max, (uint32_t)s->umax);
		if ((int32_t)(uint32_t)s->umin <= (int32_t)(uint32_t)s->umax) {
			s->s32_min = (int32_t)smax64(s->s32_min, (int32_t)(uint32_t)s->umin);
			s->s32_max = (int32_t)smin64(s->s32_max, (int32_t)(uint32_t)s->umax);
		}
	}
	if (s->smin >> 32 == s->smax >> 32) {
		if ((uint32_t)s->smin <= (uint32_t)s->smax) {
			s->u32_min = (uint32_t)umax64(s->u32_min, (uint32_t)s->smin);
			s->u32_max = (uint32_t)umin64(s->u32_max, (uint32_t)s->smax);
		}
		if ((int32_t)(uint32_t)s->smin <= (int32_t)(uint32_t)s->smax) {
			s->s32_min = (int32_t)smax64(s->s32_min, (int32_t)(uint32_t)s->smin);
			s->s32_max = (int32_t)smin64(s->s32_max, (int32_t)(uint32_t)s->smax);
		}
	}
	/* signed and unsigned 32-bit ranges: equal where the range does not cross a sign boundary */
	if ((int32_t)s->u32_min <= (int32_t)s->u32_max) {
		s->s32_min = (int32_t)smax64(s->s32_min, (int32_t)s->u32_min);
		s->s32_max = (int32_t)smin64(s->s32_max, (int32_t)s->u32_max);
	}
	if ((uint32_t)s->s32_min <= (uint32_t)s->s32_max) {
		s->u32_min = (uint32_t)umax64(s->u32_min, (uint32_t)s->s32_min);
		s->u32_max = (uint32_t)umin64(s->u32_max, (uint32_t)s->s32_max);
	}
	/* the same on 64 bits */
	if ((int64_t)s->umin <= (int64_t)s->umax) {
		s->smin = smax64(s->smin, (int64_t)s->umin);
		s->smax = smin64(s->smax, (int64_t)s->umax);
	}
	if ((uint64_t)s->smin <= (uint64_t)s->smax) {
		s->umin = umax64(s->umin, (uint64_t)s->smin);
		s->umax = umin64(s->umax, (uint64_t)s->smax);
	}
	/* 64-bit from 32-bit: a value not below umin whose low half is at least u32_min is at least umin's
	 * upper half joined to u32_min (likewise for the maximum and the signed pair) */
	uint64_t hi = ~U32_MAXV;
	s->umin = umax64(s->umin, (s->umin & hi) | s->u32_min);
	s->umax = umin64(s->umax, (s->umax & hi) | s->u32_max);
	s->smin = smax64(s->smin, (int64_t)(((uint64_t)s->smin & hi) | s->u32_min));
	s->smax = smin64(s->smax, (int64_t)(((uint64_t)s->smax & hi) | s->u32_max));
}

/* the tnum from the bounds (Linux __reg_bound_offset) */
static void tnum_from_bounds(struct scalar *s)
{
	struct tnum t64 = tnum_intersect(s->var_off, tnum_range(s->umin, s->umax));
	struct tnum t32 = tnum_intersect(tnum_subreg(s->var_off), tnum_range(s->u32_min, s->u32_max));
	s->var_off = tnum_or(tnum_clear_subreg(t64), t32);
}

void scalar_sync(struct scalar *s)
{
	bounds_from_tnum(s);
	deduce(s);
	deduce(s);
	tnum_from_bounds(s);
	bounds_from_tnum(s);
}

struct scalar scalar_union(const struct scalar *a, const struct scalar *b)
{
	struct scalar r = {
		.var_off = tnum_union(a->var_off, b->var_off),
		.umin = umin64(a->umin, b->umin), .umax = umax64(a->umax, b->umax),
		.smin = smin64(a->smin, b->smin), .smax = smax64(a->smax, b->smax),
		.u32_min = (uint32_t)umin64(a->u32_min, b->u32_min), .u32_max = (uint32_t)umax64(a->u32_max, b->u32_max),
		.s32_min = (int32_t)smin64(a->s32_min, b->s32_min), .s32_max = (int32_t)smax64(a->s32_max, b->s32_max),
	};
	scalar_sync(&r);
	return r;
}

bool scalar_subsumes(const struct scalar *a, const struct scalar *b)
{
	return a->umin <= b->umin && b->umax <= a->umax && a->smin <= b->smin && b->smax <= a->smax &&
	       a->u32_min <= b->u32_min && b->u32_max <= a->u32_max && a->s32_min <= b->s32_min &&
	       b->s32_max <= a->s32_max && tnum_in(a->var_off, b->var_off);
}

/* ---- ALU ----------------------------------------------------------------------------------- */

/* 32-bit bounds of the low half, then the 64-bit register as its zero-extension. */
void scalar_zext32(struct scalar *s)
{
	s->var_off = tnum_subreg(s->var_off);
	s->umin = s->u32_min;
	s->umax = s->u32_max;
	/* the 64-bit value is the low half read as unsigned: non-negative */
	s->smin = (int64_t)s->u32_min;
	s->smax = (int64_t)s->u32_max;
	scalar_sync(s);
}

static void unbound64(struct scalar *s)
{
	s->umin = 0;
	s->umax = UINT64_MAX;
	s->smin = INT64_MIN;
	s->smax = INT64_MAX;
}

static void unbound32(struct scalar *s)
{
	s->u32_min = 0;
	s->u32_max = UINT32_MAX;
	s->s32_min = INT32_MIN;
	s->s32_max = INT32_MAX;
}

/* Signed bounds from unsigned ones where the unsigned range does not cross the sign boundary. */
static void signed_from_unsigned64(struct scalar *d)
{
	if ((int64_t)d->umin <= (int64_t)d->umax) {
		d->smin = (int64_t)d->umin;
		d->smax = (int64_t)d->umax;
	} else {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	}
}

static void signed_from_unsigned32(struct scalar *d)
{
	if ((int32_t)d->u32_min <= (int32_t)d->u32_max) {
		d->s32_min = (int32_t)d->u32_min;
		d->s32_max = (int32_t)d->u32_max;
	} else {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	}
}

/* Each bound pair for one op, on both widths: the 64-bit one is skipped for ALU32 (the result is the
 * zero-extension of the low half, set afterwards). */
static void add_bounds(struct scalar *d, const struct scalar *s)
{
	int64_t lo, hi;
	int32_t lo32, hi32;
	uint64_t ulo, uhi;
	uint32_t ulo32, uhi32;
	if (__builtin_add_overflow(d->smin, s->smin, &lo) || __builtin_add_overflow(d->smax, s->smax, &hi)) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->smin = lo;
		d->smax = hi;
	}
	if (__builtin_add_overflow(d->s32_min, s->s32_min, &lo32) || __builtin_add_overflow(d->s32_max, s->s32_max, &hi32)) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	} else {
		d->s32_min = lo32;
		d->s32_max = hi32;
	}
	/* unsigned: when both ends wrap, all sums wrap exactly once and stay one range */
	bool o1 = __builtin_add_overflow(d->umin, s->umin, &ulo), o2 = __builtin_add_overflow(d->umax, s->umax, &uhi);
	if (o1 != o2 || (o1 && ulo > uhi)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin = ulo;
		d->umax = uhi;
	}
	o1 = __builtin_add_overflow(d->u32_min, s->u32_min, &ulo32);
	o2 = __builtin_add_overflow(d->u32_max, s->u32_max, &uhi32);
	if (o1 != o2 || (o1 && ulo32 > uhi32)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min = ulo32;
		d->u32_max = uhi32;
	}
}

static void sub_bounds(struct scalar *d, const struct scalar *s)
{
	int64_t lo, hi;
	int32_t lo32, hi32;
	uint64_t ulo, uhi;
	uint32_t ulo32, uhi32;
	if (__builtin_sub_overflow(d->smin, s->smax, &lo) || __builtin_sub_overflow(d->smax, s->smin, &hi)) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->smin = lo;
		d->smax = hi;
	}
	if (__builtin_sub_overflow(d->s32_min, s->s32_max, &lo32) || __builtin_sub_overflow(d->s32_max, s->s32_min, &hi32)) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	} else {
		d->s32_min = lo32;
		d->s32_max = hi32;
	}
	bool o1 = __builtin_sub_overflow(d->umin, s->umax, &ulo), o2 = __builtin_sub_overflow(d->umax, s->umin, &uhi);
	if (o1 != o2 || (o1 && ulo > uhi)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin = ulo;
		d->umax = uhi;
	}
	o1 = __builtin_sub_overflow(d->u32_min, s->u32_max, &ulo32);
	o2 = __builtin_sub_overflow(d->u32_max, s->u32_min, &uhi32);
	if (o1 != o2 || (o1 && ulo32 > uhi32)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min = ulo32;
		d->u32_max = uhi32;
	}
}

static void mul_bounds(struct scalar *d, const struct scalar *s)
{
	uint64_t uhi;
	uint32_t uhi32;
	if (__builtin_mul_overflow(d->umax, s->umax, &uhi)) {
		d->umin = 0;
		d->umax = UINT64_MAX;
	} else {
		d->umin *= s->umin;
		d->umax = uhi;
	}
	if (__builtin_mul_overflow(d->u32_max, s->u32_max, &uhi32)) {
		d->u32_min = 0;
		d->u32_max = UINT32_MAX;
	} else {
		d->u32_min *= s->u32_min;
		d->u32_max = uhi32;
	}
	/* signed: the extremes are among the four corner products, if none overflows */
	int64_t c[4];
	if (__builtin_mul_overflow(d->smin, s->smin, &c[0]) || __builtin_mul_overflow(d->smin, s->smax, &c[1]) ||
	    __builtin_mul_overflow(d->smax, s->smin, &c[2]) || __builtin_mul_overflow(d->smax, s->smax, &c[3])) {
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->smin = smin64(smin64(c[0], c[1]), smin64(c[2], c[3]));
		d->smax = smax64(smax64(c[0], c[1]), smax64(c[2], c[3]));
	}
	int32_t c32[4];
	if (__builtin_mul_overflow(d->s32_min, s->s32_min, &c32[0]) ||
	    __builtin_mul_overflow(d->s32_min, s->s32_max, &c32[1]) ||
	    __builtin_mul_overflow(d->s32_max, s->s32_min, &c32[2]) ||
	    __builtin_mul_overflow(d->s32_max, s->s32_max, &c32[3])) {
		d->s32_min = INT32_MIN;
		d->s32_max = INT32_MAX;
	} else {
		d->s32_min = (int32_t)smin64(smin64(c32[0], c32[1]), smin64(c32[2], c32[3]));
		d->s32_max = (int32_t)smax64(smax64(c32[0], c32[1]), smax64(c32[2], c32[3]));
	}
}

/* AND, OR, XOR: unsigned bounds from the result's tnum and the operands, signed ones from those. */
static void bitwise_bounds(struct scalar *d, const struct scalar *s, unsigned op)
{
	struct tnum t = d->var_off, t32 = tnum_subreg(t);
	switch (op) {
	case BPF_AND:
		d->umin = t.value;
		d->umax = umin64(d->umax, s->umax);
		d->u32_min = (uint32_t)t32.value;
		d->u32_max = (uint32_t)umin64(d->u32_max, s->u32_max);
		break;
	case BPF_OR:
		d->umin = umax64(d->umin, s->umin);
		d->umax = t.value | t.mask;
		d->u32_min = (uint32_t)umax64(d->u32_min, s->u32_min);
		d->u32_max = (uint32_t)(t32.value | t32.mask);
		break;
	default: /* BPF_XOR */
		d->umin = t.value;
		d->umax = t.value | t.mask;
		d->u32_min = (uint32_t)t32.value;
		d->u32_max = (uint32_t)(t32.value | t32.mask);
		break;
	}
	signed_from_unsigned64(d);
	signed_from_unsigned32(d);
}

/* Shifts by the constant k (< the width). */
static void shift_bounds(struct scalar *d, unsigned op, unsigned k, bool alu32)
{
	if (alu32) {
		struct tnum t = tnum_subreg(d->var_off);
		if (op == BPF_LSH) {
			d->var_off = tnum_subreg(tnum_lshift(t, k));
			if (d->u32_max > (UINT32_MAX >> k)) {
				d->u32_min = 0;
				d->u32_max = UINT32_MAX;
			} else {
				d->u32_min <<= k;
				d->u32_max <<= k;
			}
			d->s32_min = INT32_MIN;
			d->s32_max = INT32_MAX;
		} else if (op == BPF_RSH) {
			d->var_off = tnum_rshift(t, k);
			d->u32_min >>= k;
			d->u32_max >>= k;
			d->s32_min = INT32_MIN;
			d->s32_max = INT32_MAX;
		} else {
			d->var_off = tnum_arshift(t, k, 32);
			d->s32_min >>= k;
			d->s32_max >>= k;
			d->u32_min = 0;
			d->u32_max = UINT32_MAX;
		}
		return;
	}
	if (op == BPF_LSH) {
		d->var_off = tnum_lshift(d->var_off, k);
		if (d->umax > (UINT64_MAX >> k)) {
			d->umin = 0;
			d->umax = UINT64_MAX;
		} else {
			d->umin <<= k;
			d->umax <<= k;
		}
		/* multiplying by 2^k keeps the signed order while nothing overflows */
		int64_t lo, hi;
		if (k < 63 && !__builtin_mul_overflow(d->smin, (int64_t)1 << k, &lo) &&
		    !__builtin_mul_overflow(d->smax, (int64_t)1 << k, &hi)) {
			d->smin = lo;
			d->smax = hi;
		} else {
			d->smin = INT64_MIN;
			d->smax = INT64_MAX;
		}
	} else if (op == BPF_RSH) {
		d->var_off = tnum_rshift(d->var_off, k);
		d->umin >>= k;
		d->umax >>= k;
		d->smin = INT64_MIN;
		d->smax = INT64_MAX;
	} else {
		d->var_off = tnum_arshift(d->var_off, k, 64);
		d->smin >>= k;
		d->smax >>= k;
		d->umin = 0;
		d->umax = UINT64_MAX;
	}
	unbound32(d);
}

/* dst OP src of two constants, as the machine computes it; false for ops this does not cover.  The
 * domain is exact on constants, so this is what the general path ends with, without its work (loop
 * counters are constants in every iteration the verifier walks). */
static bool const_alu(uint64_t *r, uint64_t a, uint64_t b, unsigned op, bool alu32)
{
	unsigned w = alu32 ? 32 : 64;
	if (alu32) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	switch (op) {
	case BPF_ADD: *r = a + b; break;
	case BPF_SUB: *r = a - b; break;
	case BPF_MUL: *r = a * b; break;
	case BPF_AND: *r = a & b; break;
	case BPF_OR: *r = a | b; break;
	case BPF_XOR: *r = a ^ b; break;
	case BPF_LSH:
		if (b >= w)
			return false;
		*r = a << b;
		break;
	case BPF_RSH:
		if (b >= w)
			return false;
		*r = a >> b;
		break;
	case BPF_ARSH:
		if (b >= w)
			return false;
		*r = alu32 ? (uint64_t)(uint32_t)((int32_t)(uint32_t)a >> b) : (uint64_t)((int64_t)a >> b);
		break;
	default:
		return false;
	}
	if (alu32)
		*r = (uint32_t)*r;
	return true;
}

void scalar_alu(struct scalar *dst, const struct scalar *src, unsigned op, bool alu32, bool sdiv)
{
	uint64_t r;
	(void)sdiv;
	if (scalar_is_const(dst) && scalar_is_const(src) &&
	    const_alu(&r, dst->var_off.value, src->var_off.value, op, alu32)) {
		*dst = scalar_const(r);
		return;
	}
	switch (op) {
	case BPF_MOV:
		*dst = *src;
		if (alu32)
			scalar_zext32(dst);
		return;
	case BPF_NEG: {
		struct scalar z = scalar_const(0), v = *dst;
		*dst = z;
		scalar_alu(dst, &v, BPF_SUB, alu32, false);
		return;
	}
	case BPF_ADD:
		dst->var_off = tnum_add(dst->var_off, src->var_off);
		add_bounds(dst, src);
		break;
	case BPF_SUB:
		dst->var_off = tnum_sub(dst->var_off, src->var_off);
		sub_bounds(dst, src);
		break;
	case BPF_MUL:
		dst->var_off = tnum_mul(dst->var_off, src->var_off);
		mul_bounds(dst, src);
		break;
	case BPF_AND:
	case BPF_OR:
	case BPF_XOR:
		dst->var_off = op == BPF_AND ? tnum_and(dst->var_off, src->var_off) :
			       op == BPF_OR  ? tnum_or(dst->var_off, src->var_off) :
					       tnum_xor(dst->var_off, src->var_off);
		bitwise_bounds(dst, src, op);
		break;
	case BPF_LSH:
	case BPF_RSH:
	case BPF_ARSH: {
		/* Linux tracks shifts by a known amount below the width only */
		uint64_t w = alu32 ? 32 : 64;
		if (!scalar_is_const(src) || src->var_off.value >= w) {
			*dst = scalar_unknown();
			if (alu32)
				scalar_zext32(dst);
			return;
		}
		shift_bounds(dst, op, (unsigned)src->var_off.value, alu32);
		break;
	}
	default: /* BPF_DIV, BPF_MOD (signed or not): Linux does not track them */
		*dst = scalar_unknown();
		if (alu32)
			scalar_zext32(dst);
		return;
	}
	if (alu32) {
		/* the 32-bit facts were computed above; the 64-bit ones follow from the zero-extension */
		unbound64(dst);
		dst->var_off = tnum_subreg(dst->var_off);
		scalar_sync(dst);
		scalar_zext32(dst);
		return;
	}
	scalar_sync(dst);
}

static int64_t sext(uint64_t v, unsigned bits)
{
	return bits == 8 ? (int8_t)v : bits == 16 ? (int16_t)v : (int32_t)v;
}

void scalar_movsx(struct scalar *dst, const struct scalar *src, unsigned bits, bool alu32)
{
	int64_t lo = -((int64_t)1 << (bits - 1)), hi = ((int64_t)1 << (bits - 1)) - 1;
	if (scalar_is_const(src)) {
		uint64_t v = src->var_off.value;
		v = bits == 8 ? (uint64_t)(int64_t)(int8_t)v : bits == 16 ? (uint64_t)(int64_t)(int16_t)v :
								     (uint64_t)(int64_t)(int32_t)v;
		*dst = scalar_const(alu32 ? (uint32_t)v : v);
		return;
	}
	struct scalar r = scalar_unknown();
	/* Linux coerce_reg_to_size_sx() / coerce_subreg_to_size_sx(): bounds whose bits above the narrow
	 * width agree hold values whose low parts form one range; when both ends of it extend to the same
	 * sign, extension keeps the order and the extended ends bound the result (0x80..0xff as s8:
	 * -128..-1) */
	uint64_t smin = alu32 ? (uint32_t)src->s32_min : (uint64_t)src->smin;
	uint64_t smax = alu32 ? (uint32_t)src->s32_max : (uint64_t)src->smax;
	if (smin >> bits == smax >> bits) {
		int64_t a = sext(smin, bits), b = sext(smax, bits);
		int64_t mn = a < b ? a : b, mx = a < b ? b : a;
		if ((mn >= 0) == (mx >= 0)) {
			if (alu32) {
				r.s32_min = (int32_t)mn;
				r.s32_max = (int32_t)mx;
				r.u32_min = (uint32_t)mn;
				r.u32_max = (uint32_t)mx;
				unbound64(&r);
				r.var_off = tnum_subreg(tnum_range((uint64_t)mn, (uint64_t)mx));
				scalar_sync(&r);
				scalar_zext32(&r);
			} else {
				r.smin = mn;
				r.smax = mx;
				r.s32_min = (int32_t)mn;
				r.s32_max = (int32_t)mx;
				r.umin = (uint64_t)mn;
				r.umax = (uint64_t)mx;
				r.u32_min = (uint32_t)mn;
				r.u32_max = (uint32_t)mx;
				r.var_off = tnum_range((uint64_t)mn, (uint64_t)mx);
				scalar_sync(&r);
			}
			*dst = r;
			return;
		}
	}
	if (alu32) {
		/* the low half sign-extended to 32 bits: unchanged where the low half already fits */
		if (src->s32_min >= lo && src->s32_max <= hi) {
			r.s32_min = src->s32_min;
			r.s32_max = src->s32_max;
		} else {
			r.s32_min = (int32_t)lo;
			r.s32_max = (int32_t)hi;
		}
		unbound64(&r);
		r.var_off = TNUM(0, U32_MAXV);
		scalar_sync(&r);
		scalar_zext32(&r);
	} else {
		if (src->smin >= lo && src->smax <= hi) {
			r = *src;
		} else {
			r.smin = lo;
			r.smax = hi;
			scalar_sync(&r);
		}
	}
	*dst = r;
}

void scalar_bswap(struct scalar *dst, unsigned bits, bool swap)
{
	if (!swap) {
		/* a conversion to the host's (little-endian) order only truncates */
		if (bits < 64) {
			struct scalar m = scalar_const(bits == 32 ? 0xffffffffull : 0xffffull);
			scalar_alu(dst, &m, BPF_AND, false, false);
		}
		return;
	}
	if (scalar_is_const(dst)) {
		uint64_t v = dst->var_off.value;
		v = bits == 16 ? __builtin_bswap16((uint16_t)v) : bits == 32 ? __builtin_bswap32((uint32_t)v) :
									       __builtin_bswap64(v);
		*dst = scalar_const(v);
		return;
	}
	*dst = scalar_from_size(bits / 8);
}

struct scalar scalar_from_size(unsigned size)
{
	struct scalar s = scalar_unknown();
	if (size >= 8)
		return s;
	s.var_off = tnum_cast(TNUM_UNKNOWN, size);
	s.umax = (1ull << (size * 8)) - 1;
	scalar_sync(&s);
	return s;
}

/* ---- conditional jumps --------------------------------------------------------------------- */

/* One width's view of a scalar: 32-bit bounds widened so that one code path compares both. */
struct view {
	uint64_t umin, umax;
	int64_t smin, smax;
	struct tnum t;
};

static struct view view_of(const struct scalar *s, bool w32)
{
	if (w32)
		return (struct view){ s->u32_min, s->u32_max, s->s32_min, s->s32_max, tnum_subreg(s->var_off) };
	return (struct view){ s->umin, s->umax, s->smin, s->smax, s->var_off };
}

static void view_store(struct scalar *s, const struct view *v, bool w32)
{
	if (w32) {
		s->u32_min = (uint32_t)v->umin;
		s->u32_max = (uint32_t)v->umax;
		s->s32_min = (int32_t)v->smin;
		s->s32_max = (int32_t)v->smax;
		s->var_off = tnum_with_subreg(s->var_off, v->t);
	} else {
		s->umin = v->umin;
		s->umax = v->umax;
		s->smin = v->smin;
		s->smax = v->smax;
		s->var_off = v->t;
	}
}

static bool view_const(const struct view *v) { return tnum_is_const(v->t); }

#define JSET_FALSE 0x100u /* internal: the fall-through of JSET */

static unsigned negate(unsigned op)
{
	switch (op) {
	case BPF_JEQ: return BPF_JNE;
	case BPF_JNE: return BPF_JEQ;
	case BPF_JGT: return BPF_JLE;
	case BPF_JLE: return BPF_JGT;
	case BPF_JGE: return BPF_JLT;
	case BPF_JLT: return BPF_JGE;
	case BPF_JSGT: return BPF_JSLE;
	case BPF_JSLE: return BPF_JSGT;
	case BPF_JSGE: return BPF_JSLT;
	case BPF_JSLT: return BPF_JSGE;
	case BPF_JSET: return JSET_FALSE;
	default: return BPF_JSET;
	}
}

static int taken(const struct view *a, const struct view *b, unsigned op)
{
	switch (op) {
	case BPF_JEQ:
	case BPF_JNE: {
		int eq = -1;
		if (view_const(a) && view_const(b))
			eq = a->t.value == b->t.value;
		else if (a->umin > b->umax || a->umax < b->umin || a->smin > b->smax || a->smax < b->smin ||
			 ((a->t.value ^ b->t.value) & ~(a->t.mask | b->t.mask)))
			eq = 0;
		return eq < 0 ? -1 : op == BPF_JEQ ? eq : !eq;
	}
	case BPF_JGT: return a->umin > b->umax ? 1 : a->umax <= b->umin ? 0 : -1;
	case BPF_JGE: return a->umin >= b->umax ? 1 : a->umax < b->umin ? 0 : -1;
	case BPF_JLT: return a->umax < b->umin ? 1 : a->umin >= b->umax ? 0 : -1;
	case BPF_JLE: return a->umax <= b->umin ? 1 : a->umin > b->umax ? 0 : -1;
	case BPF_JSGT: return a->smin > b->smax ? 1 : a->smax <= b->smin ? 0 : -1;
	case BPF_JSGE: return a->smin >= b->smax ? 1 : a->smax < b->smin ? 0 : -1;
	case BPF_JSLT: return a->smax < b->smin ? 1 : a->smin >= b->smax ? 0 : -1;
	case BPF_JSLE: return a->smax <= b->smin ? 1 : a->smin > b->smax ? 0 : -1;
	case BPF_JSET:
	case JSET_FALSE: {
		int t = -1;
		if (a->t.value & b->t.value)
			t = 1;
		else if (!((a->t.value | a->t.mask) & (b->t.value | b->t.mask)))
			t = 0;
		return t < 0 ? -1 : op == BPF_JSET ? t : !t;
	}
	default:
		return -1;
	}
}

int scalar_branch_taken(const struct scalar *a, const struct scalar *b, unsigned op, bool jmp32)
{
	struct view va = view_of(a, jmp32), vb = view_of(b, jmp32);
	return taken(&va, &vb, op);
}

/* a OP b holds: narrow both (Linux regs_refine_cond_op).  False when no values are left. */
static bool refine(struct view *a, struct view *b, unsigned op, uint64_t wmax, int64_t wsmin, int64_t wsmax)
{
	switch (op) {
	case BPF_JEQ:
		if ((a->t.value ^ b->t.value) & ~(a->t.mask | b->t.mask))
			return false;
		a->umin = b->umin = umax64(a->umin, b->umin);
		a->umax = b->umax = umin64(a->umax, b->umax);
		a->smin = b->smin = smax64(a->smin, b->smin);
		a->smax = b->smax = smin64(a->smax, b->smax);
		a->t = b->t = tnum_intersect(a->t, b->t);
		break;
	case BPF_JNE: {
		/* only a constant on one side excludes anything: an end of the other's ranges */
		struct view *c = view_const(b) ? b : view_const(a) ? a : NULL, *o = c == b ? a : b;
		if (!c)
			break;
		uint64_t k = c->t.value;
		if (view_const(o) && o->t.value == k)
			return false;
		if (o->umin == k)
			o->umin++;
		else if (o->umax == k)
			o->umax--;
		int64_t sk = wmax == U32_MAXV ? (int64_t)(int32_t)(uint32_t)k : (int64_t)k;
		if (o->smin == sk)
			o->smin++;
		else if (o->smax == sk)
			o->smax--;
		break;
	}
	case BPF_JLE:
	case BPF_JLT: {
		uint64_t d = op == BPF_JLT;
		if (b->umax < d || a->umin > wmax - d)
			return false;
		a->umax = umin64(a->umax, b->umax - d);
		b->umin = umax64(b->umin, a->umin + d);
		break;
	}
	case BPF_JGE:
	case BPF_JGT:
		return refine(b, a, op == BPF_JGE ? BPF_JLE : BPF_JLT, wmax, wsmin, wsmax);
	case BPF_JSLE:
	case BPF_JSLT: {
		int64_t d = op == BPF_JSLT;
		if (b->smax < wsmin + d || a->smin > wsmax - d)
			return false;
		a->smax = smin64(a->smax, b->smax - d);
		b->smin = smax64(b->smin, a->smin + d);
		break;
	}
	case BPF_JSGE:
	case BPF_JSGT:
		return refine(b, a, op == BPF_JSGE ? BPF_JSLE : BPF_JSLT, wmax, wsmin, wsmax);
	case BPF_JSET:
		/* some bit of b's constant is set in a: known only for a single-bit constant */
		if (view_const(b) && b->t.value && !(b->t.value & (b->t.value - 1)))
			a->t = tnum_or(a->t, b->t);
		if (view_const(a) && a->t.value && !(a->t.value & (a->t.value - 1)))
			b->t = tnum_or(b->t, a->t);
		break;
	case JSET_FALSE:
		/* no bit of the constant is set in the other */
		if (view_const(b))
			a->t = tnum_and(a->t, TNUM(~b->t.value & wmax, 0));
		if (view_const(a))
			b->t = tnum_and(b->t, TNUM(~a->t.value & wmax, 0));
		break;
	}
	return a->umin <= a->umax && b->umin <= b->umax && a->smin <= a->smax && b->smin <= b->smax;
}

bool scalar_refine(struct scalar *a, struct scalar *b, unsigned op, bool jmp32, bool is_taken)
{
	if (!is_taken)
		op = negate(op);
	struct view va = view_of(a, jmp32), vb = view_of(b, jmp32);
	bool ok = jmp32 ? refine(&va, &vb, op, U32_MAXV, INT32_MIN, INT32_MAX) :
			  refine(&va, &vb, op, UINT64_MAX, INT64_MIN, INT64_MAX);
	if (!ok)
		return false;
	view_store(a, &va, jmp32);
	view_store(b, &vb, jmp32);
	scalar_sync(a);
	scalar_sync(b);
	return scalar_valid(a) && scalar_valid(b);
}

char *scalar_str(const struct scalar *s, char *buf, unsigned long size)
{
	if (scalar_is_const(s)) {
		snprintf(buf, size, "%lld", (long long)s->var_off.value);
		return buf;
	}
	snprintf(buf, size, "scalar(smin=%lld,smax=%lld,umin=%llu,umax=%llu,smin32=%d,smax32=%d,umin32=%u,umax32=%u,"
			    "var_off=(%#llx; %#llx))",
		 (long long)s->smin, (long long)s->smax, (unsigned long long)s->umin, (unsigned long long)s->umax,
		 s->s32_min, s->s32_max, s->u32_min, s->u32_max, (unsigned long long)s->var_off.value,
		 (unsigned long long)s->var_off.mask);
	return buf;
}
