/* translate.c -- classic BPF to eBPF, as net/core/filter.c bpf_convert_filter() does it:
 *   A = r0, X = r7, ctx = r6 (copied from r1), r2 scratch, M[k] = *(u32 *)(r10 - 4 * (k + 1)).
 *   A and X start at 0.  ALU ops are 32-bit (classic A is 32 bits; every op zero-extends).
 *   Packet loads become eBPF LD_ABS/LD_IND, which Linux itself rewrites to the same code its classic
 *   translation emits; out of bounds they end the program with 0, the classic semantic.
 *   Division or modulo by X == 0 returns 0 ("For cBPF programs, this was always return 0").
 *   Ancillary loads (SKF_AD_OFF + SKF_AD_*) read the struct __sk_buff field holding the same sk_buff
 *   value Linux reads, or call the helper Linux calls (cpu, random).
 *   Seccomp: 32-bit loads at k read struct seccomp_data (the ctx) and `len` is its size, as
 *   seccomp_check_filter() rewrites them.
 * Instructions are built from the isa table (isa_info[ISA_*].opc), never from opcode bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_arp.h>
#include <linux/seccomp.h>

#include "cbpf.h"

enum { R_A = 0, R_ARG1 = 1, R_TMP = 2, R_CTX = 6, R_X = 7, R_FP = 10 };

struct emit {
	struct bpf_insn *out;   /* NULL while sizing */
	size_t n;               /* insns emitted so far */
	const size_t *addrs;    /* first eBPF insn of each classic insn (second pass) */
	struct diag *log;
	int err;
};

static void put(struct emit *e, int id, unsigned dst, unsigned src, int16_t off, int32_t imm)
{
	if (e->out) {
		struct bpf_insn *in = &e->out[e->n];
		memset(in, 0, sizeof(*in));
		in->code = isa_info[id].opc;
		in->dst_reg = dst & 0xf;
		in->src_reg = src & 0xf;
		in->off = off;
		in->imm = imm;
	}
	e->n++;
}

/* A jump (row `id`, K or X form) from the insn being emitted to the first eBPF insn of classic insn
 * `target`.  The offset is known on the second pass only. */
static void put_jump(struct emit *e, int id, unsigned dst, unsigned src, int32_t imm, size_t target)
{
	int64_t off = 0;

	if (e->addrs) {
		off = (int64_t)e->addrs[target] - (int64_t)e->n - 1;
		if (off < INT16_MIN || off > INT16_MAX) {
			if (!e->err) {
				diag_printf(e->log, "jump to insn %zu does not fit a 16-bit eBPF offset", target);
				e->err = -E2BIG;
			}
			off = 0;
		}
	}
	put(e, id, dst, src, (int16_t)off, imm);
}

/* __sk_buff field load into A (all are u32 in the UAPI struct). */
static void ld_skb(struct emit *e, size_t field_off)
{
	put(e, ISA_LDXW, R_A, R_CTX, (int16_t)field_off, 0);
}

/* convert_bpf_extensions(): returns 0, or -EOPNOTSUPP for the loads whose Linux implementation is an
 * internal kernel function with no eBPF helper. */
static int ancillary(struct emit *e, size_t pc, uint32_t k)
{
	switch (k - (uint32_t)SKF_AD_OFF) {
	case SKF_AD_PROTOCOL: /* A = ntohs(skb->protocol) */
		ld_skb(e, offsetof(struct __sk_buff, protocol));
		put(e, ISA_BE16, R_A, 0, 0, 16);
		return 0;
	case SKF_AD_PKTTYPE:
		ld_skb(e, offsetof(struct __sk_buff, pkt_type));
		return 0;
	case SKF_AD_IFINDEX:
		ld_skb(e, offsetof(struct __sk_buff, ifindex));
		return 0;
	case SKF_AD_HATYPE:
		/* skb->dev->type: bpfvm's packet sources are Ethernet devices */
		put(e, ISA_MOV32_K, R_A, 0, 0, ARPHRD_ETHER);
		return 0;
	case SKF_AD_MARK:
		ld_skb(e, offsetof(struct __sk_buff, mark));
		return 0;
	case SKF_AD_QUEUE:
		ld_skb(e, offsetof(struct __sk_buff, queue_mapping));
		return 0;
	case SKF_AD_RXHASH:
		ld_skb(e, offsetof(struct __sk_buff, hash));
		return 0;
	case SKF_AD_VLAN_TAG:
		ld_skb(e, offsetof(struct __sk_buff, vlan_tci));
		return 0;
	case SKF_AD_VLAN_TAG_PRESENT: /* Linux: vlan_all != 0 ? 1 : 0; __sk_buff.vlan_present is that */
		ld_skb(e, offsetof(struct __sk_buff, vlan_present));
		return 0;
	case SKF_AD_VLAN_TPID: /* A = ntohs(skb->vlan_proto) */
		ld_skb(e, offsetof(struct __sk_buff, vlan_proto));
		put(e, ISA_BE16, R_A, 0, 0, 16);
		return 0;
	case SKF_AD_CPU:
		put(e, ISA_CALL, 0, 0, 0, BPF_FUNC_get_smp_processor_id);
		return 0;
	case SKF_AD_RANDOM:
		put(e, ISA_CALL, 0, 0, 0, BPF_FUNC_get_prandom_u32);
		return 0;
	case SKF_AD_ALU_XOR_X:
		put(e, ISA_XOR32_X, R_A, R_X, 0, 0);
		return 0;
	case SKF_AD_NLATTR:
	case SKF_AD_NLATTR_NEST:
	case SKF_AD_PAY_OFFSET:
	default:
		if (!e->err) {
			static const char *const names[] = {
				[SKF_AD_NLATTR / 4] = "nlattr", [SKF_AD_NLATTR_NEST / 4] = "nlattr_nest",
				[SKF_AD_PAY_OFFSET / 4] = "pay_offset",
			};
			uint32_t a = (k - (uint32_t)SKF_AD_OFF) / 4;
			diag_printf(e->log, "insn %zu: ancillary load SKF_AD_OFF + %u (%s) is not supported: Linux "
				    "computes it in a kernel function with no eBPF helper", pc, a * 4,
				    a < sizeof(names) / sizeof(names[0]) && names[a] ? names[a] : "?");
			e->err = -EOPNOTSUPP;
		}
		return -EOPNOTSUPP;
	}
}

/* eBPF row for a classic ALU op (32-bit), K or X form. */
static int alu_row(uint16_t code)
{
	bool x = BPF_SRC(code) == BPF_X;

	switch (BPF_OP(code)) {
	case BPF_ADD: return x ? ISA_ADD32_X : ISA_ADD32_K;
	case BPF_SUB: return x ? ISA_SUB32_X : ISA_SUB32_K;
	case BPF_MUL: return x ? ISA_MUL32_X : ISA_MUL32_K;
	case BPF_DIV: return x ? ISA_DIV32_X : ISA_DIV32_K;
	case BPF_MOD: return x ? ISA_MOD32_X : ISA_MOD32_K;
	case BPF_AND: return x ? ISA_AND32_X : ISA_AND32_K;
	case BPF_OR:  return x ? ISA_OR32_X : ISA_OR32_K;
	case BPF_XOR: return x ? ISA_XOR32_X : ISA_XOR32_K;
	case BPF_LSH: return x ? ISA_LSH32_X : ISA_LSH32_K;
	case BPF_RSH: return x ? ISA_RSH32_X : ISA_RSH32_K;
	case BPF_NEG: return ISA_NEG32;
	}
	return -1;
}

/* eBPF 64-bit conditional jump rows for classic jeq/jgt/jge/jset and their negations. */
static int jmp_row(unsigned op, bool x)
{
	switch (op) {
	case BPF_JEQ:  return x ? ISA_JEQ_X : ISA_JEQ_K;
	case BPF_JNE:  return x ? ISA_JNE_X : ISA_JNE_K;
	case BPF_JGT:  return x ? ISA_JGT_X : ISA_JGT_K;
	case BPF_JLE:  return x ? ISA_JLE_X : ISA_JLE_K;
	case BPF_JGE:  return x ? ISA_JGE_X : ISA_JGE_K;
	case BPF_JLT:  return x ? ISA_JLT_X : ISA_JLT_K;
	case BPF_JSET: return x ? ISA_JSET_X : ISA_JSET_K;
	}
	return -1;
}

static int pkt_row(uint16_t code)
{
	bool ind = BPF_MODE(code) == BPF_IND;

	switch (BPF_SIZE(code)) {
	case BPF_W: return ind ? ISA_LDIND_W : ISA_LDABS_W;
	case BPF_H: return ind ? ISA_LDIND_H : ISA_LDABS_H;
	default:    return ind ? ISA_LDIND_B : ISA_LDABS_B;
	}
}

static int16_t mem_off(uint32_t k)
{
	return (int16_t)-(int32_t)(k * 4 + 4);
}

/* One classic insn. */
static void one(struct emit *e, const struct sock_filter *prog, size_t pc, enum cbpf_kind kind)
{
	const struct sock_filter *f = &prog[pc];
	int id = cbpf_decode(f->code);
	uint32_t fl = cbpf_info[id].flags;
	int32_t k = (int32_t)f->k;

	if (fl & CF_ALU) {
		if (f->code == (BPF_ALU | BPF_DIV | BPF_X) || f->code == (BPF_ALU | BPF_MOD | BPF_X)) {
			put(e, ISA_MOV32_X, R_X, R_X, 0, 0);
			put(e, ISA_JNE_K, R_X, 0, 2, 0);
			put(e, ISA_MOV32_K, R_A, 0, 0, 0);
			put(e, ISA_EXIT, 0, 0, 0, 0);
		}
		if (id == CBPF_NEG) /* classic neg ignores k; eBPF's must be 0 */
			put(e, ISA_NEG32, R_A, 0, 0, 0);
		else
			put(e, alu_row(f->code), R_A, BPF_SRC(f->code) == BPF_X ? R_X : 0, 0,
			    BPF_SRC(f->code) == BPF_X ? 0 : k);
		return;
	}
	if (fl & CF_JCOND) {
		bool x = BPF_SRC(f->code) == BPF_X;
		unsigned src = x ? R_X : 0;
		int32_t imm = x ? 0 : k;

		if (!x && k < 0) {
			/* eBPF sign-extends imm to 64 bits; A is a zero-extended u32, so compare with a
			 * register holding k zero-extended */
			put(e, ISA_MOV32_K, R_TMP, 0, 0, k);
			x = true;
			src = R_TMP;
			imm = 0;
		}
		if (f->jf == 0) {
			put_jump(e, jmp_row(BPF_OP(f->code), x), R_A, src, imm, pc + 1 + f->jt);
			return;
		}
		if (f->jt == 0 && BPF_OP(f->code) != BPF_JSET) {
			unsigned inv = BPF_OP(f->code) == BPF_JEQ ? BPF_JNE : BPF_OP(f->code) == BPF_JGT ? BPF_JLE : BPF_JLT;
			put_jump(e, jmp_row(inv, x), R_A, src, imm, pc + 1 + f->jf);
			return;
		}
		put_jump(e, jmp_row(BPF_OP(f->code), x), R_A, src, imm, pc + 1 + f->jt);
		put_jump(e, ISA_JA, 0, 0, 0, pc + 1 + f->jf);
		return;
	}
	switch (id) {
	case CBPF_LD_W_ABS:
	case CBPF_LD_H_ABS:
	case CBPF_LD_B_ABS:
		if (kind == CBPF_SECCOMP) {
			/* seccomp_check_filter(): BPF_LDX | BPF_W | BPF_ABS, A = *(u32 *)(ctx + k) */
			put(e, ISA_LDXW, R_A, R_CTX, (int16_t)k, 0);
			return;
		}
		if (f->k >= (uint32_t)SKF_AD_OFF) {
			ancillary(e, pc, f->k);
			return;
		}
		put(e, pkt_row(f->code), 0, 0, 0, k);
		return;
	case CBPF_LD_W_IND:
	case CBPF_LD_H_IND:
	case CBPF_LD_B_IND:
		put(e, pkt_row(f->code), 0, R_X, 0, k);
		return;
	case CBPF_LD_W_LEN:
	case CBPF_LDX_W_LEN: {
		unsigned dst = id == CBPF_LD_W_LEN ? R_A : R_X;
		if (kind == CBPF_SECCOMP)
			put(e, ISA_MOV32_K, dst, 0, 0, (int32_t)sizeof(struct seccomp_data));
		else
			put(e, ISA_LDXW, dst, R_CTX, (int16_t)offsetof(struct __sk_buff, len), 0);
		return;
	}
	case CBPF_LD_IMM:
		put(e, ISA_MOV32_K, R_A, 0, 0, k);
		return;
	case CBPF_LDX_IMM:
		put(e, ISA_MOV32_K, R_X, 0, 0, k);
		return;
	case CBPF_LD_MEM:
		put(e, ISA_LDXW, R_A, R_FP, mem_off(f->k), 0);
		return;
	case CBPF_LDX_MEM:
		put(e, ISA_LDXW, R_X, R_FP, mem_off(f->k), 0);
		return;
	case CBPF_ST:
		put(e, ISA_STXW, R_FP, R_A, mem_off(f->k), 0);
		return;
	case CBPF_STX:
		put(e, ISA_STXW, R_FP, R_X, mem_off(f->k), 0);
		return;
	case CBPF_LDX_B_MSH:
		/* X = 4 * (pkt[k] & 0xf), keeping A: through r0, which the byte load writes */
		put(e, ISA_MOV64_X, R_X, R_A, 0, 0);
		put(e, ISA_LDABS_B, 0, 0, 0, k);
		put(e, ISA_AND32_K, R_A, 0, 0, 0xf);
		put(e, ISA_LSH32_K, R_A, 0, 0, 2);
		put(e, ISA_MOV64_X, R_TMP, R_X, 0, 0);
		put(e, ISA_MOV64_X, R_X, R_A, 0, 0);
		put(e, ISA_MOV64_X, R_A, R_TMP, 0, 0);
		return;
	case CBPF_RET_K:
		put(e, ISA_MOV32_K, R_A, 0, 0, k);
		put(e, ISA_EXIT, 0, 0, 0, 0);
		return;
	case CBPF_RET_A:
		put(e, ISA_EXIT, 0, 0, 0, 0);
		return;
	case CBPF_JA:
		put_jump(e, ISA_JA, 0, 0, 0, pc + 1 + f->k);
		return;
	case CBPF_TAX:
		put(e, ISA_MOV64_X, R_X, R_A, 0, 0);
		return;
	case CBPF_TXA:
		put(e, ISA_MOV64_X, R_A, R_X, 0, 0);
		return;
	}
	/* cbpf_check() accepted only rows handled above */
	if (!e->err) {
		diag_printf(e->log, "insn %zu: no translation for %s", pc, cbpf_info[id].name);
		e->err = -EINVAL;
	}
}

/* Which classic insns some path reaches.  Classic BPF allows dead code (Linux runs classic programs
 * unverified); the eBPF verifier rejects it ("unreachable insn"), so dead insns are not translated.
 * All classic jumps go forward, so one pass in program order settles it. */
static void reachable(const struct sock_filter *prog, size_t cnt, bool *live)
{
	memset(live, 0, cnt * sizeof(*live));
	live[0] = true;
	for (size_t pc = 0; pc < cnt; pc++) {
		if (!live[pc])
			continue;
		uint32_t fl = cbpf_info[cbpf_decode(prog[pc].code)].flags;
		if (fl & CF_JA) {
			live[pc + 1 + prog[pc].k] = true;
		} else if (fl & CF_JCOND) {
			live[pc + 1 + prog[pc].jt] = true;
			live[pc + 1 + prog[pc].jf] = true;
		} else if (!(fl & CF_RET)) {
			live[pc + 1] = true; /* cbpf_check(): the last insn returns, so pc + 1 < cnt */
		}
	}
}

static void pass(struct emit *e, const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind, size_t *addrs,
		 const bool *live)
{
	e->n = 0;
	/* A = 0, X = 0 as moves, not Linux's `A ^= A`: the verifier refuses to read an unset register */
	put(e, ISA_MOV32_K, R_A, 0, 0, 0);
	put(e, ISA_MOV32_K, R_X, 0, 0, 0);
	put(e, ISA_MOV64_X, R_CTX, R_ARG1, 0, 0);
	for (size_t pc = 0; pc < cnt; pc++) {
		if (addrs)
			addrs[pc] = e->n;
		if (live[pc])
			one(e, prog, pc, kind);
	}
}

int cbpf_translate(const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind, struct bpf_insn **out,
		   size_t *out_cnt, struct diag *log)
{
	struct emit e = { .log = log };
	size_t *addrs = NULL;
	bool *live = NULL;
	int err = cbpf_check(prog, cnt, kind, log);

	if (err)
		return err;
	addrs = calloc(cnt, sizeof(*addrs));
	live = calloc(cnt, sizeof(*live));
	if (!addrs || !live)
		goto nomem;
	reachable(prog, cnt, live);
	pass(&e, prog, cnt, kind, addrs, live); /* sizes, and where each classic insn starts */
	if (e.err) {
		free(addrs);
		free(live);
		return e.err;
	}
	e.out = calloc(e.n, sizeof(*e.out));
	if (!e.out)
		goto nomem;
	e.addrs = addrs;
	pass(&e, prog, cnt, kind, NULL, live);
	free(addrs);
	free(live);
	if (e.err) {
		free(e.out);
		return e.err;
	}
	*out = e.out;
	*out_cnt = e.n;
	return 0;
nomem:
	free(addrs);
	free(live);
	diag_printf(log, "out of memory translating %zu insns", cnt);
	return -ENOMEM;
}
