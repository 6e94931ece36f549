/* test_verifier_scalar.c -- the verifier's scalar domain (src/verifier/tnum.c, scalar.c) checked for
 * soundness against concrete arithmetic: random abstract values are built around random concrete ones,
 * every ALU operation and conditional jump is applied to both, and the concrete result must always be a
 * member of the abstract one (and a branch the domain calls certain must go that way).  Then a few
 * precision checks: facts a verifier needs to prove common bounds checks. */
#include <linux/bpf.h>

#include "test.h"
#include "verifier/scalar.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* concrete values from the shapes programs use: small, near 0 / sign / 32-bit edges, random */
static uint64_t pick(void)
{
	static const uint64_t edges[] = { 0, 1, 2, 7, 8, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
					  0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX, UINT64_MAX - 1 };
	switch (rnd() % 6) {
	case 0: return rnd() % 64;
	case 1: return edges[rnd() % (sizeof(edges) / sizeof(edges[0]))] + (rnd() % 5) - 2;
	case 2: return (uint64_t)-(int64_t)(rnd() % 300);
	case 3: return rnd() % 70000;
	case 4: return (uint32_t)rnd();
	default: return rnd();
	}
}

/* an interval end beside x: at x, a little away, or far */
static uint64_t spread(void)
{
	switch (rnd() % 4) {
	case 0: return 0;
	case 1: return rnd() % 16;
	case 2: return rnd() % 100000;
	default: return rnd() >> (rnd() % 64);
	}
}

/* A random abstract value holding x. */
static struct scalar around(uint64_t x)
{
	struct scalar s = scalar_unknown();
	int kinds = 1 + (int)(rnd() % 3);
	for (int i = 0; i < kinds; i++) {
		switch (rnd() % 6) {
		case 0:
			return scalar_const(x);
		case 1: { /* unsigned range */
			uint64_t down = spread(), up = spread();
			uint64_t lo = x - (down > x ? x : down);
			uint64_t hi = x + (up > UINT64_MAX - x ? UINT64_MAX - x : up);
			if (lo > s.umin) s.umin = lo;
			if (hi < s.umax) s.umax = hi;
			break;
		}
		case 2: { /* signed range */
			int64_t sx = (int64_t)x, d1 = (int64_t)(spread() >> 1), d2 = (int64_t)(spread() >> 1);
			int64_t lo, hi;
			if (__builtin_sub_overflow(sx, d1, &lo))
				lo = INT64_MIN;
			if (__builtin_add_overflow(sx, d2, &hi))
				hi = INT64_MAX;
			if (lo > s.smin) s.smin = lo;
			if (hi < s.smax) s.smax = hi;
			break;
		}
		case 3: { /* known bits */
			uint64_t m = rnd() | rnd();
			if (rnd() % 2) m &= rnd();
			s.var_off = tnum_intersect(s.var_off, TNUM(x & ~m, m));
			break;
		}
		case 4: { /* 32-bit unsigned range */
			uint32_t x32 = (uint32_t)x, d1 = (uint32_t)(spread() % ((uint64_t)x32 + 1)), d2 = (uint32_t)spread();
			uint32_t hi = x32 + d2 < x32 ? UINT32_MAX : x32 + d2;
			if (x32 - d1 > s.u32_min) s.u32_min = x32 - d1;
			if (hi < s.u32_max) s.u32_max = hi;
			break;
		}
		default: { /* 32-bit signed range */
			int32_t x32 = (int32_t)(uint32_t)x;
			int64_t lo = (int64_t)x32 - (int64_t)(spread() % 1000), hi = (int64_t)x32 + (int64_t)(spread() % 1000);
			if (lo >= INT32_MIN && lo > s.s32_min) s.s32_min = (int32_t)lo;
			if (hi <= INT32_MAX && hi < s.s32_max) s.s32_max = (int32_t)hi;
			break;
		}
		}
	}
	scalar_sync(&s);
	return s;
}

/* RFC 9669 / the interpreter's semantics */
static uint64_t alu_ref(uint64_t d, uint64_t s, unsigned op, bool alu32, bool sdiv)
{
	if (alu32) {
		uint32_t a = (uint32_t)d, b = (uint32_t)s, r;
		switch (op) {
		case BPF_ADD: r = a + b; break;
		case BPF_SUB: r = a - b; break;
		case BPF_MUL: r = a * b; break;
		case BPF_DIV: r = !b ? 0 : sdiv ? ((int32_t)a == INT32_MIN && (int32_t)b == -1 ? a : (uint32_t)((int32_t)a / (int32_t)b)) : a / b; break;
		case BPF_MOD: r = !b ? a : sdiv ? ((int32_t)b == -1 ? 0 : (uint32_t)((int32_t)a % (int32_t)b)) : a % b; break;
		case BPF_OR: r = a | b; break;
		case BPF_AND: r = a & b; break;
		case BPF_XOR: r = a ^ b; break;
		case BPF_LSH: r = a << (b & 31); break;
		case BPF_RSH: r = a >> (b & 31); break;
		case BPF_ARSH: r = (uint32_t)((int32_t)a >> (b & 31)); break;
		case BPF_MOV: r = b; break;
		default: r = -a; break; /* NEG */
		}
		return r;
	}
	switch (op) {
	case BPF_ADD: return d + s;
	case BPF_SUB: return d - s;
	case BPF_MUL: return d * s;
	case BPF_DIV: return !s ? 0 : sdiv ? ((int64_t)d == INT64_MIN && (int64_t)s == -1 ? d : (uint64_t)((int64_t)d / (int64_t)s)) : d / s;
	case BPF_MOD: return !s ? d : sdiv ? ((int64_t)s == -1 ? 0 : (uint64_t)((int64_t)d % (int64_t)s)) : d % s;
	case BPF_OR: return d | s;
	case BPF_AND: return d & s;
	case BPF_XOR: return d ^ s;
	case BPF_LSH: return d << (s & 63);
	case BPF_RSH: return d >> (s & 63);
	case BPF_ARSH: return (uint64_t)((int64_t)d >> (s & 63));
	case BPF_MOV: return s;
	default: return -d;
	}
}

static bool jmp_ref(uint64_t a, uint64_t b, unsigned op, bool w32)
{
	if (w32) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	int64_t sa = w32 ? (int32_t)(uint32_t)a : (int64_t)a, sb = w32 ? (int32_t)(uint32_t)b : (int64_t)b;
	switch (op) {
	case BPF_JEQ: return a == b;
	case BPF_JNE: return a != b;
	case BPF_JGT: return a > b;
	case BPF_JGE: return a >= b;
	case BPF_JLT: return a < b;
	case BPF_JLE: return a <= b;
	case BPF_JSGT: return sa > sb;
	case BPF_JSGE: return sa >= sb;
	case BPF_JSLT: return sa < sb;
	case BPF_JSLE: return sa <= sb;
	default: return (a & b) != 0; /* JSET */
	}
}

static int reported;

static void report(const char *what, const struct scalar *before, const struct scalar *src, const struct scalar *after,
		   uint64_t x, uint64_t y, uint64_t r)
{
	char b1[256], b2[256], b3[256];
	if (reported++ > 5)
		return;
	printf("  %s: x=%#llx y=%#llx -> %#llx\n    dst %s\n    src %s\n    out %s\n", what, (unsigned long long)x,
	       (unsigned long long)y, (unsigned long long)r, scalar_str(before, b1, sizeof(b1)),
	       scalar_str(src, b2, sizeof(b2)), scalar_str(after, b3, sizeof(b3)));
}

TEST(generated_values_hold_their_concrete_value)
{
	for (int i = 0; i < 200000; i++) {
		uint64_t x = pick();
		struct scalar s = around(x);
		if (!scalar_contains(&s, x) || !scalar_valid(&s)) {
			report("around", &s, &s, &s, x, 0, x);
			CHECK(0);
			break;
		}
	}
}

TEST(alu_is_sound)
{
	static const unsigned ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_MOD, BPF_OR, BPF_AND, BPF_XOR,
					BPF_LSH, BPF_RSH, BPF_ARSH, BPF_MOV, BPF_NEG };
	long bad = 0;
	for (int i = 0; i < 400000; i++) {
		unsigned op = ops[rnd() % (sizeof(ops) / sizeof(ops[0]))];
		bool alu32 = rnd() % 2, sdiv = (op == BPF_DIV || op == BPF_MOD) && rnd() % 2;
		uint64_t x = pick(), y = (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH) && rnd() % 4 ? rnd() % 70 : pick();
		struct scalar d = around(x), s = around(y), before = d;
		scalar_alu(&d, &s, op, alu32, sdiv);
		uint64_t r = alu_ref(x, y, op, alu32, sdiv);
		if (!scalar_contains(&d, r) || !scalar_valid(&d)) {
			char what[48];
			snprintf(what, sizeof(what), "alu op %#x%s%s", op, alu32 ? " (32)" : "", sdiv ? " signed" : "");
			report(what, &before, &s, &d, x, y, r);
			bad++;
		}
	}
	CHECK_EQ_U64(bad, 0);
}

TEST(movsx_and_bswap_are_sound)
{
	long bad = 0;
	static const unsigned widths[] = { 8, 16, 32 };
	for (int i = 0; i < 200000; i++) {
		uint64_t x = pick();
		struct scalar s = around(x), d = scalar_unknown(), before = s;
		unsigned w = widths[rnd() % 3];
		bool alu32 = w != 32 && rnd() % 2;
		scalar_movsx(&d, &s, w, alu32);
		uint64_t r = w == 8 ? (uint64_t)(int64_t)(int8_t)x : w == 16 ? (uint64_t)(int64_t)(int16_t)x :
									       (uint64_t)(int64_t)(int32_t)x;
		if (alu32)
			r = (uint32_t)r;
		if (!scalar_contains(&d, r)) {
			report("movsx", &before, &s, &d, x, w, r);
			bad++;
		}
		unsigned bw = 16u << (rnd() % 3);
		bool swap = rnd() % 2;
		d = s;
		scalar_bswap(&d, bw, swap);
		r = swap ? (bw == 16 ? __builtin_bswap16((uint16_t)x) : bw == 32 ? __builtin_bswap32((uint32_t)x) : __builtin_bswap64(x))
			 : (bw == 16 ? (uint16_t)x : bw == 32 ? (uint32_t)x : x);
		if (!scalar_contains(&d, r)) {
			report("bswap", &before, &s, &d, x, bw, r);
			bad++;
		}
	}
	CHECK_EQ_U64(bad, 0);
}

TEST(branches_are_sound)
{
	static const unsigned ops[] = { BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE,
					BPF_JSLT, BPF_JSLE, BPF_JSET };
	long bad = 0, decided = 0, refined = 0;
	for (int i = 0; i < 400000; i++) {
		unsigned op = ops[rnd() % (sizeof(ops) / sizeof(ops[0]))];
		bool w32 = rnd() % 2;
		uint64_t x = pick(), y = rnd() % 3 ? pick() : x + rnd() % 3 - 1;
		struct scalar a = around(x), b = rnd() % 2 ? scalar_const(y) : around(y);
		bool c = jmp_ref(x, y, op, w32);
		int t = scalar_branch_taken(&a, &b, op, w32);
		if (t >= 0) {
			decided++;
			if (t != (int)c) {
				report("branch_taken", &a, &b, &a, x, y, (uint64_t)c);
				bad++;
				continue;
			}
		}
		struct scalar a2 = a, b2 = b;
		if (!scalar_refine(&a2, &b2, op, w32, c) || !scalar_contains(&a2, x) || !scalar_contains(&b2, y)) {
			char what[48];
			snprintf(what, sizeof(what), "refine op %#x%s %s", op, w32 ? " (32)" : "", c ? "taken" : "not taken");
			report(what, &a, &b, &a2, x, y, (uint64_t)c);
			bad++;
			continue;
		}
		if (a2.umax - a2.umin < a.umax - a.umin || (uint64_t)a2.smax - (uint64_t)a2.smin < (uint64_t)a.smax - (uint64_t)a.smin)
			refined++;
		/* the other way may be impossible, but must not produce a bogus state when it is possible */
		a2 = a;
		b2 = b;
		(void)scalar_refine(&a2, &b2, op, w32, !c);
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(decided > 1000 && refined > 1000);
}

/* What a verifier must be able to prove, as Linux does. */
TEST(precision_for_common_checks)
{
	struct scalar r = scalar_unknown(), k, z;
	/* r &= 0xff: 0..255 */
	k = scalar_const(0xff);
	scalar_alu(&r, &k, BPF_AND, false, false);
	CHECK_EQ_U64(r.umin, 0);
	CHECK_EQ_U64(r.umax, 255);
	CHECK_EQ_U64(r.smax, 255);
	/* if r < 10 (taken): 0..9; not taken: 10..255 */
	struct scalar t = r, f = r;
	k = scalar_const(10);
	struct scalar k2 = k;
	CHECK(scalar_refine(&t, &k, BPF_JLT, false, true));
	CHECK_EQ_U64(t.umax, 9);
	CHECK(scalar_refine(&f, &k2, BPF_JLT, false, false));
	CHECK_EQ_U64(f.umin, 10);
	CHECK_EQ_U64(f.umax, 255);
	/* r <<= 2 then r += 4: 4..1024 step 4 */
	k = scalar_const(2);
	scalar_alu(&r, &k, BPF_LSH, false, false);
	k = scalar_const(4);
	scalar_alu(&r, &k, BPF_ADD, false, false);
	CHECK_EQ_U64(r.umin, 4);
	CHECK_EQ_U64(r.umax, 1024);
	CHECK_EQ_U64(r.var_off.value & 3, 0);
	CHECK_EQ_U64(r.var_off.mask & 3, 0);
	/* a 32-bit op zero-extends: w = -1 is 0xffffffff, non-negative as 64 bits */
	z = scalar_unknown();
	k = scalar_const((uint64_t)-1);
	scalar_alu(&z, &k, BPF_MOV, true, false);
	CHECK(scalar_is_const(&z));
	CHECK_EQ_U64(z.var_off.value, 0xffffffffull);
	/* signed: if r s> -1 and r s< 100 then r is 0..99 unsigned too */
	z = scalar_unknown();
	k = scalar_const((uint64_t)-1);
	CHECK(scalar_refine(&z, &k, BPF_JSGT, false, true));
	k = scalar_const(100);
	CHECK(scalar_refine(&z, &k, BPF_JSLT, false, true));
	CHECK_EQ_U64(z.umin, 0);
	CHECK_EQ_U64(z.umax, 99);
	/* JMP32 on a 64-bit value: bounds the low half only */
	z = scalar_unknown();
	k = scalar_const(16);
	CHECK(scalar_refine(&z, &k, BPF_JLT, true, true));
	CHECK_EQ_U64(z.u32_max, 15);
	CHECK_EQ_U64(z.umax, 0xffffffff0000000full); /* the largest value whose low half is below 16 */
	/* constants fold; a branch between constants is decided */
	struct scalar c1 = scalar_const(5), c2 = scalar_const(7);
	scalar_alu(&c1, &c2, BPF_MUL, false, false);
	CHECK(scalar_is_const(&c1));
	CHECK_EQ_U64(c1.var_off.value, 35);
	CHECK_EQ_U64(scalar_branch_taken(&c1, &c2, BPF_JGT, false), 1);
	/* an impossible branch is reported as such */
	t = scalar_const(3);
	k = scalar_const(4);
	CHECK(!scalar_refine(&t, &k, BPF_JEQ, false, true));
	/* pruning: 0..9 is within 0..255, not the other way */
	struct scalar small = scalar_unknown(), big = scalar_unknown();
	k = scalar_const(0xff);
	scalar_alu(&big, &k, BPF_AND, false, false);
	k = scalar_const(9);
	scalar_alu(&small, &k, BPF_AND, false, false);
	CHECK(scalar_subsumes(&big, &small));
	CHECK(!scalar_subsumes(&small, &big));
}

int main(void)
{
	RUN(generated_values_hold_their_concrete_value);
	RUN(alu_is_sound);
	RUN(movsx_and_bswap_are_sound);
	RUN(branches_are_sound);
	RUN(precision_for_common_checks);
	return test_done();
}
