/* insns.c -- BPF C that makes clang emit as many instruction kinds as it can (ALU32/64, every jump,
 * signed division (v4), sign extension, byte swaps, atomics, helper and bpf-to-bpf calls), for comparing
 * bpfvm's disassembler with llvm-objdump.  Compiled for -mcpu=v1..v4 by tests/unit/test_disasm.c. */
typedef unsigned long long u64;
typedef long long s64;
typedef unsigned int u32;
typedef int s32;
typedef unsigned short u16;
typedef signed char s8;
typedef short s16;
typedef unsigned char u8;

static long (*helper_ktime)(void) = (void *)5;
static long (*helper_printk)(const char *, u32, ...) = (void *)6;

static __attribute__((noinline)) u64 sub(u64 a, u64 b)
{
	return a * 3 + (b >> 2);
}

struct args {
	u64 p[6];
	s64 q[2];
	u32 w[6];
	s32 sw[2];
	u16 h[4];
	s16 sh[1];
	u8 b[4];
	s8 sb[1];
};

u64 arith(struct args *g)
{
	u64 *p = g->p;
	s64 *q = g->q;
	u32 *w = g->w;
	s32 *sw = g->sw;
	u16 *h = g->h;
	s16 *sh = g->sh;
	u8 *b = g->b;
	s8 *sb = g->sb;
	u64 a = p[0], c = p[1];
	s64 s = q[0], t = q[1];
	u32 x = w[0], y = w[1];
	s32 sx = sw[0], sy = sw[1];
	u64 r = 0;

	r += a + c; r += a - c; r += a * c; r += c ? a / c : 1; r += c ? a % c : 2;
	r ^= a | c; r ^= a & c; r ^= a ^ c; r += a << (c & 63); r += a >> (c & 63);
#if CPUV >= 4
	r += (u64)(t ? s / t : 3); r += (u64)(t ? s % t : 4);
	r += (u32)(sy ? sx / sy : 7); r += (u32)(sy ? sx % sy : 8);
#endif
	r += (u64)(s >> (t & 63));
	r += x + y; r += x - y; r += x * y; r += y ? x / y : 5; r += y ? x % y : 6;
	r += x | y; r += x & y; r += x ^ y; r += x << (y & 31); r += x >> (y & 31);
	r += (u32)(sx >> (sy & 31));
	r += (u64)-s; r += (u32)-sx; r += a + 12345; r += x * 77; r += a & 0xff00; r += x ^ 0x5a5a;
	r += (s64)sh[0] + (s64)sb[0] + (s64)(s32)a + (s64)(s16)c + (s64)(s8)x;
	r += h[0] + b[0] + __builtin_bswap16(h[1]) + __builtin_bswap32(x) + __builtin_bswap64(a);
	r += (s32)(s8)y + (s32)(s16)y;
	p[2] = r; w[2] = (u32)r; h[2] = (u16)r; b[2] = (u8)r; p[3] = 0x1122334455667788ull;
	w[3] = 7; h[3] = 9; b[3] = 1; p[4] = -1;
	if (a > c) r++; if (a >= c) r++; if (a < c) r++; if (a <= c) r++; if (a == c) r++; if (a != c) r++;
	if (s > t) r++; if (s >= t) r++; if (s < t) r++; if (s <= t) r++; if (a & c) r++;
	if (x > y) r++; if (x >= y) r++; if (x < y) r++; if (x <= y) r++; if (x == y) r++; if (x != y) r++;
	if (sx > sy) r++; if (sx >= sy) r++; if (sx < sy) r++; if (sx <= sy) r++; if (x & y) r++;
	if (a > 100) r++; if (s < -5) r++; if (x == 17) r++; if (sx >= -9) r++; if (x & 4) r++;
	r += sub(a, c);
	r += helper_ktime();
	return r;
}

u64 atomics(u64 *p, u32 *w)
{
	u64 r = 0;
	__sync_fetch_and_add(p, 1);
#if CPUV >= 3
	r += __sync_fetch_and_add(p + 1, 2);
	__sync_fetch_and_add(w, 1);
	r += __sync_fetch_and_add(w + 1, 2);
	r += __sync_fetch_and_add(w + 1, 2);
	r += __sync_fetch_and_or(p + 2, 4);
	r += __sync_fetch_and_and(p + 2, 5);
	r += __sync_fetch_and_xor(p + 2, 6);
	__sync_fetch_and_or(p + 3, 4);
	__sync_fetch_and_and(p + 3, 5);
	__sync_fetch_and_xor(p + 3, 6);
	r += __sync_fetch_and_or(w + 2, 4);
	r += __sync_fetch_and_and(w + 2, 5);
	r += __sync_fetch_and_xor(w + 2, 6);
	r += __sync_val_compare_and_swap(p + 4, 1, 2);
	r += __sync_val_compare_and_swap(w + 4, 1, 2);
	r += __sync_lock_test_and_set(p + 5, 9);
	r += __sync_lock_test_and_set(w + 5, 9);
#endif
	return r;
}

u64 loops(u64 n, const char *fmt)
{
	u64 r = 0;
	for (u64 i = 0; i < n && i < 100000; i++) {
		r += i * i;
		if (r > 1000000)
			break;
	}
	helper_printk(fmt, 4, r);
	return r;
}
