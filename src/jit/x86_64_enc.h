/* x86_64_enc.h -- every x86-64 machine encoding the JIT uses, as named constants, and the few
 * functions that assemble them (prefixes, REX, ModRM, SIB, displacement, immediate).  Nothing else in
 * src/jit/ spells an opcode byte.  Intel SDM vol. 2 names. */
#ifndef BPFVM_X86_64_ENC_H
#define BPFVM_X86_64_ENC_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum x86_reg {
	RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15,
};

enum x86_cc {
	CC_O = 0, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A, CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G,
};
#define CC_INVERT(cc_) ((cc_) ^ 1)

/* Prefixes and REX */
#define PFX_OPSIZE 0x66
#define PFX_LOCK   0xf0
#define REX        0x40
#define REX_W      0x08
#define REX_R      0x04
#define REX_X      0x02
#define REX_B      0x01

/* Opcodes: one byte, or 0x0fXX for the two-byte map. */
enum x86_op {
	OP_ADD_RM_R   = 0x01,
	OP_OR_RM_R    = 0x09,
	OP_OR_R_RM    = 0x0b,
	OP_AND_RM_R   = 0x21,
	OP_AND_R_RM   = 0x23,
	OP_SUB_RM_R   = 0x29,
	OP_SUB_R_RM   = 0x2b,
	OP_XOR_RM_R   = 0x31,
	OP_XOR_R_RM   = 0x33,
	OP_CMP_RM_R   = 0x39,
	OP_CMP_R_RM   = 0x3b,
	OP_MOVSXD     = 0x63,   /* r64 <- sign-extended r/m32 (with REX.W) */
	OP_IMUL_IMM32 = 0x69,
	OP_JCC8       = 0x70,   /* + cc */
	OP_GRP1_IMM32 = 0x81,   /* /ext r/m, imm32 */
	OP_GRP1_IMM8  = 0x83,   /* /ext r/m, imm8 (sign-extended) */
	OP_TEST_RM_R  = 0x85,
	OP_XCHG_RM_R  = 0x87,
	OP_MOV8_RM_R  = 0x88,
	OP_MOV_RM_R   = 0x89,
	OP_MOV_R_RM   = 0x8b,
	OP_LEA        = 0x8d,
	OP_POP_RM     = 0x8f,   /* /0 */
	OP_CDQ        = 0x99,   /* with REX.W: cqo */
	OP_PUSH_R     = 0x50,   /* + reg */
	OP_POP_R      = 0x58,   /* + reg */
	OP_MOV_R_IMM  = 0xb8,   /* + reg: imm32 (zero-extends) or, with REX.W, imm64 */
	OP_GRP2_IMM8  = 0xc1,   /* /ext r/m, imm8 */
	OP_RET        = 0xc3,
	OP_MOV8_RM_IMM= 0xc6,   /* /0 */
	OP_MOV_RM_IMM = 0xc7,   /* /0 imm32 (sign-extended with REX.W) */
	OP_INT3       = 0xcc,
	OP_GRP2_CL    = 0xd3,   /* /ext r/m, cl */
	OP_CALL32     = 0xe8,
	OP_JMP32      = 0xe9,
	OP_JMP8       = 0xeb,
	OP_GRP3       = 0xf7,   /* /ext r/m (test imm32, neg, mul, div, idiv) */
	OP_GRP5       = 0xff,   /* /ext r/m (inc, dec, call, jmp, push) */
	OP_NOP        = 0x90,
	OP_XORPS      = 0x0f57, /* xmm, xmm/m128 */
	OP_MOVUPS_ST  = 0x0f11, /* m128 <- xmm */
	OP_JCC32      = 0x0f80, /* + cc */
	OP_IMUL_R_RM  = 0x0faf,
	OP_CMPXCHG    = 0x0fb1,
	OP_MOVZX8     = 0x0fb6,
	OP_MOVZX16    = 0x0fb7,
	OP_MOVSX8     = 0x0fbe,
	OP_MOVSX16    = 0x0fbf,
	OP_XADD       = 0x0fc1,
	OP_BSWAP      = 0x0fc8, /* + reg */
	OP_MFENCE     = 0x0faef0, /* three bytes: 0f ae f0 */
};

/* ModRM.reg extensions of the group opcodes */
enum {
	GRP1_ADD = 0, GRP1_OR = 1, GRP1_AND = 4, GRP1_SUB = 5, GRP1_XOR = 6, GRP1_CMP = 7,
	GRP2_ROL = 0, GRP2_ROR = 1, GRP2_SHL = 4, GRP2_SHR = 5, GRP2_SAR = 7,
	GRP3_TEST = 0, GRP3_NEG = 3, GRP3_DIV = 6, GRP3_IDIV = 7,
	GRP5_INC = 0, GRP5_DEC = 1, GRP5_CALL = 2, GRP5_JMP = 4, GRP5_PUSH = 6,
};

#define MOD_DISP0  0x00
#define MOD_DISP8  0x40
#define MOD_DISP32 0x80
#define MOD_REG    0xc0
#define RM_SIB     4        /* rm = 100b: a SIB byte follows (rsp/r12 as base) */
#define SIB_NOINDEX 0x24    /* scale 1, no index, base rsp/r12 */

/* Operand-size flags of x_rr/x_rm */
enum {
	XW   = 1 << 0,   /* 64-bit operand: REX.W */
	X16  = 1 << 1,   /* 16-bit operand: 0x66 */
	XB8R = 1 << 2,   /* reg field is a byte register: needs a REX for sil/dil/spl/bpl */
	XB8M = 1 << 3,   /* rm field is a byte register */
	XLOCK= 1 << 4,
};

/* The byte sink.  Sticky error: once out of memory, nothing more is written. */
struct xbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

/* Out of room: grow (doubling), or fail for good.  Apart from x_byte() so that its inline path is a
 * compare and a store (it was a seventh of compiling a small program). */
static __attribute__((noinline, cold)) void x_byte_grow(struct xbuf *b, unsigned v)
{
	if (b->len == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		uint8_t *np = b->err ? NULL : realloc(b->p, ncap);
		if (!np) {
			b->err = -12; /* -ENOMEM */
			b->len++;     /* keep counting so that labels stay consistent */
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	if (b->len < b->cap)
		b->p[b->len] = (uint8_t)v;
	b->len++;
}

static inline void x_byte(struct xbuf *b, unsigned v)
{
	if (__builtin_expect(b->len < b->cap, 1))
		b->p[b->len++] = (uint8_t)v;
	else
		x_byte_grow(b, v);
}

/* n little-endian bytes of v (n <= 8) */
static inline void x_imm(struct xbuf *b, uint64_t v, unsigned n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ /* the host's order is the code's: one store of all 8 */
	if (__builtin_expect(b->len <= b->cap && b->cap - b->len >= 8, 1)) {
		memcpy(b->p + b->len, &v, 8);
		b->len += n;
		return;
	}
#endif
	for (unsigned i = 0; i < n; i++)
		x_byte(b, (unsigned)(v >> (8 * i)) & 0xff);
}

static inline void x_opcode(struct xbuf *b, unsigned op)
{
	if (op > 0xffff)
		x_byte(b, op >> 16);
	if (op > 0xff)
		x_byte(b, (op >> 8) & 0xff);
	x_byte(b, op & 0xff);
}

/* Prefixes and the REX byte of an instruction whose ModRM names reg and rm, and whose SIB (if any) index */
static inline void x_prefix_sib(struct xbuf *b, unsigned fl, unsigned reg, unsigned index, unsigned rm)
{
	unsigned rex = index & 8 ? REX_X : 0;
	if (fl & XLOCK)
		x_byte(b, PFX_LOCK);
	if (fl & X16)
		x_byte(b, PFX_OPSIZE);
	if (fl & XW)
		rex |= REX_W;
	if (reg & 8)
		rex |= REX_R;
	if (rm & 8)
		rex |= REX_B;
	if (rex || ((fl & XB8R) && reg >= 4 && reg < 8) || ((fl & XB8M) && rm >= 4 && rm < 8))
		x_byte(b, REX | rex);
}

static inline void x_prefix(struct xbuf *b, unsigned fl, unsigned reg, unsigned rm)
{
	x_prefix_sib(b, fl, reg, 0, rm);
}

/* op reg, rm (register direct) */
static inline void x_rr(struct xbuf *b, unsigned fl, unsigned op, unsigned reg, unsigned rm)
{
	x_prefix(b, fl, reg, rm);
	x_opcode(b, op);
	x_byte(b, MOD_REG | (reg & 7) << 3 | (rm & 7));
}

/* op reg, [base + disp] */
static inline void x_rm(struct xbuf *b, unsigned fl, unsigned op, unsigned reg, unsigned base, int32_t disp)
{
	unsigned mod = disp == 0 && (base & 7) != RBP ? MOD_DISP0 : disp >= -128 && disp <= 127 ? MOD_DISP8 : MOD_DISP32;
	x_prefix(b, fl, reg, base);
	x_opcode(b, op);
	x_byte(b, mod | (reg & 7) << 3 | (base & 7));
	if ((base & 7) == RM_SIB)
		x_byte(b, SIB_NOINDEX);
	if (mod == MOD_DISP8)
		x_byte(b, (unsigned)disp & 0xff);
	else if (mod == MOD_DISP32)
		x_imm(b, (uint32_t)disp, 4);
}

/* op reg, [base + index * 2^scale + disp] (index is never rsp: no BPF register lives there) */
static inline void x_rmi(struct xbuf *b, unsigned fl, unsigned op, unsigned reg, unsigned base, unsigned index,
			 unsigned scale, int32_t disp)
{
	unsigned mod = disp == 0 && (base & 7) != RBP ? MOD_DISP0 : disp >= -128 && disp <= 127 ? MOD_DISP8 : MOD_DISP32;
	x_prefix_sib(b, fl, reg, index, base);
	x_opcode(b, op);
	x_byte(b, mod | (reg & 7) << 3 | RM_SIB);
	x_byte(b, scale << 6 | (index & 7) << 3 | (base & 7));
	if (mod == MOD_DISP8)
		x_byte(b, (unsigned)disp & 0xff);
	else if (mod == MOD_DISP32)
		x_imm(b, (uint32_t)disp, 4);
}

/* Padding: the recommended multi-byte NOPs (Intel SDM vol. 2B, NOP), n = 1..9 bytes. */
static const uint8_t x86_nop[10][9] = {
	{ 0 },
	{ 0x90 },
	{ 0x66, 0x90 },
	{ 0x0f, 0x1f, 0x00 },
	{ 0x0f, 0x1f, 0x40, 0x00 },
	{ 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	{ 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	{ 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	{ 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
	{ 0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static inline void x_pad(struct xbuf *b, unsigned align)
{
	unsigned n = (unsigned)((align - b->len % align) % align);
	while (n) {
		unsigned k = n > 9 ? 9 : n;
		for (unsigned i = 0; i < k; i++)
			x_byte(b, x86_nop[k][i]);
		n -= k;
	}
}

static inline int fits8(int64_t v) { return v >= -128 && v <= 127; }
static inline int fits32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

/* op reg, [rip + disp32] to the code offset `target` (mod 00, rm 101): position-independent */
#define RM_RIP 5
static inline void x_rip(struct xbuf *b, unsigned fl, unsigned op, unsigned reg, int64_t target)
{
	x_prefix(b, fl, reg, 0);
	x_opcode(b, op);
	x_byte(b, MOD_DISP0 | (reg & 7) << 3 | RM_RIP);
	x_imm(b, (uint64_t)(target - (int64_t)(b->len + 4)), 4);
}

/* Register-only one-byte-opcode forms with the register in the opcode (push, pop, bswap, mov imm). */
static inline void x_oreg(struct xbuf *b, unsigned fl, unsigned op, unsigned r)
{
	x_prefix(b, fl, 0, r);
	x_opcode(b, op + (r & 7));
}

#endif
