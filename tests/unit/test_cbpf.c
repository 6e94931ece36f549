/* test_cbpf.c -- classic BPF: Linux's checks (bpf_check_classic, seccomp_check_filter), the translation
 * of every classic opcode to eBPF (run on the interpreter against a reference classic interpreter in
 * this file, with in-bounds and out-of-bounds packet loads and every ancillary load), the text forms
 * tcpdump prints, LD_ABS/LD_IND in native eBPF socket filters, and captures (bpfvm_capture_*): each
 * translation also runs through a capture on each engine. */
#include <errno.h>
#include <stdint.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/seccomp.h>
#include <arpa/inet.h>

#include <bpfvm.h>
#include "test.h"
#include "cbpf/cbpf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define S(code, k) ((struct sock_filter)BPF_STMT(code, k))
#define J(code, k, jt, jf) ((struct sock_filter)BPF_JUMP(code, k, jt, jf))

/* ---- a reference classic interpreter: Linux's semantics (shifts by X masked to 31, division by
 * X == 0 returns 0, packet loads out of bounds return 0) ---------------------------------------- */

struct meta {
	uint32_t wirelen, protocol, pkttype, ifindex, hatype;
};

static bool ref_load(const uint8_t *pkt, uint32_t caplen, int64_t off, uint32_t size, uint32_t *v)
{
	if (off < 0 || off + size > caplen)
		return false;
	*v = 0;
	for (uint32_t i = 0; i < size; i++)
		*v = *v << 8 | pkt[off + i];
	return true;
}

static uint32_t ref_run(const struct sock_filter *p, const uint8_t *pkt, uint32_t caplen, const struct meta *m)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };

	for (size_t pc = 0;; pc++) {
		const struct sock_filter *f = &p[pc];
		uint32_t k = f->k, sz = BPF_SIZE(f->code) == BPF_W ? 4 : BPF_SIZE(f->code) == BPF_H ? 2 : 1;
		switch (BPF_CLASS(f->code)) {
		case BPF_RET:
			return BPF_RVAL(f->code) == BPF_K ? k : A;
		case BPF_LD:
			switch (BPF_MODE(f->code)) {
			case BPF_ABS:
				if (k >= (uint32_t)SKF_AD_OFF) {
					switch (k - (uint32_t)SKF_AD_OFF) {
					case SKF_AD_PROTOCOL: A = m->protocol; break;
					case SKF_AD_PKTTYPE: A = m->pkttype; break;
					case SKF_AD_IFINDEX: A = m->ifindex; break;
					case SKF_AD_HATYPE: A = m->hatype; break;
					case SKF_AD_ALU_XOR_X: A ^= X; break;
					default: A = 0; break; /* mark, queue, rxhash, vlan: 0 on a capture */
					}
					break;
				}
				if (!ref_load(pkt, caplen, k, sz, &A))
					return 0;
				break;
			case BPF_IND:
				if (!ref_load(pkt, caplen, (int64_t)(int32_t)X + (int32_t)k, sz, &A))
					return 0;
				break;
			case BPF_LEN: A = m->wirelen; break;
			case BPF_IMM: A = k; break;
			case BPF_MEM: A = M[k]; break;
			}
			break;
		case BPF_LDX:
			switch (BPF_MODE(f->code)) {
			case BPF_LEN: X = m->wirelen; break;
			case BPF_IMM: X = k; break;
			case BPF_MEM: X = M[k]; break;
			case BPF_MSH: {
				uint32_t b;
				if (!ref_load(pkt, caplen, k, 1, &b))
					return 0;
				X = 4 * (b & 0xf);
				break;
			}
			}
			break;
		case BPF_ST: M[k] = A; break;
		case BPF_STX: M[k] = X; break;
		case BPF_ALU: {
			uint32_t s = BPF_SRC(f->code) == BPF_X ? X : k;
			switch (BPF_OP(f->code)) {
			case BPF_ADD: A += s; break;
			case BPF_SUB: A -= s; break;
			case BPF_MUL: A *= s; break;
			case BPF_DIV: if (!s) return 0; A /= s; break;
			case BPF_MOD: if (!s) return 0; A %= s; break;
			case BPF_AND: A &= s; break;
			case BPF_OR: A |= s; break;
			case BPF_XOR: A ^= s; break;
			case BPF_LSH: A <<= s & 31; break;
			case BPF_RSH: A >>= s & 31; break;
			case BPF_NEG: A = -A; break;
			}
			break;
		}
		case BPF_JMP: {
			uint32_t s = BPF_SRC(f->code) == BPF_X ? X : k;
			bool t;
			switch (BPF_OP(f->code)) {
			case BPF_JA: pc += k; continue;
			case BPF_JEQ: t = A == s; break;
			case BPF_JGT: t = A > s; break;
			case BPF_JGE: t = A >= s; break;
			default: t = (A & s) != 0; break;
			}
			pc += t ? f->jt : f->jf;
			break;
		}
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		}
	}
}

static const uint8_t frame[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, /* eth, IPv4 */
	0x45, 0x00, 0x00, 0x2e, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 10, 0, 0, 2,
	0x30, 0x39, 0x00, 0x35, 0x00, 0x1a, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xf0, 0x0d,
	0x81, 0x82, 0x83, 0x84, 0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02,
};

static const struct meta frame_meta = { .wirelen = 1000, .protocol = ETH_P_IP, .pkttype = PACKET_HOST,
					.ifindex = 1, .hatype = 1 };

/* Runs prog both ways on frame[0..caplen) (wire length 1000): 1 when they agree. */
static int agree(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, uint32_t caplen)
{
	int fd = bpfvm_cbpf_load(vm, prog, cnt, BPFVM_CBPF_SOCKET, "t");
	uint32_t got = 0xdeadbeef, want;

	if (fd < 0) {
		printf("  load failed: %s\n", bpfvm_errmsg(vm));
		return 0;
	}
	want = ref_run(prog, frame, caplen, &frame_meta);
	/* the one-call run (the instance's engine), then a capture on each engine (the JIT where there is one) */
	static const char *const how[] = { "bpfvm_prog_run_capture", "capture interp", "capture JIT" };
	int ok = 1;
	for (int h = 0; h < 3 && ok; h++) {
		struct bpfvm_capture *c = NULL;
		int err;
		got = 0xdeadbeef;
		if (h == 0) {
			err = bpfvm_prog_run_capture(vm, fd, frame, caplen, frame_meta.wirelen, &got);
		} else {
			err = bpfvm_capture_new(vm, fd, h == 1 ? BPFVM_ENGINE_INTERP : BPFVM_ENGINE_JIT, &c);
			if (err == -EOPNOTSUPP && h == 2)
				break;
			if (!err)
				err = bpfvm_capture_run(c, frame, caplen, frame_meta.wirelen, &got);
			bpfvm_capture_free(c);
		}
		if (err || got != want) {
			char text[4096];
			bpfvm_cbpf_dump(prog, cnt, text, sizeof(text));
			printf("  %s, caplen %u: got %u (err %d %s), want %u for\n%s", how[h], caplen, got, err,
			       err ? bpfvm_errmsg(vm) : "", want, text);
			ok = 0;
		}
	}
	bpfvm_close(vm, fd);
	return ok;
}

static const uint32_t vals[] = { 0, 1, 2, 3, 7, 31, 32, 33, 0x7f, 0x80, 0xff, 0x800, 0x7fffffff, 0x80000000,
				 0xfffffffe, 0xffffffff, 0x12345678 };

/* Every ALU op, K and X forms, over pairs of interesting values. */
TEST(alu_ops)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int ok = 1;

	for (int id = 0; id < CBPF_COUNT && ok; id++) {
		const struct cbpf_info *ci = &cbpf_info[id];
		if (!(ci->flags & CF_ALU))
			continue;
		for (size_t a = 0; a < N(vals) && ok; a++)
			for (size_t b = 0; b < N(vals) && ok; b++) {
				uint32_t k = vals[b];
				if (BPF_SRC(ci->code) == BPF_K && (((ci->flags & CF_DIV) && !k) || ((ci->flags & CF_SHIFT) && k >= 32)))
					continue;
				struct sock_filter p[] = {
					S(BPF_LD | BPF_IMM, vals[a]), S(BPF_LDX | BPF_IMM, k), S(ci->code, k),
					S(BPF_RET | BPF_A, 0),
				};
				ok = agree(vm, p, N(p), sizeof(frame));
			}
	}
	CHECK(ok);
	bpfvm_free(vm);
}

/* Every conditional jump, K and X forms, taken and not, including k with the sign bit set (which eBPF
 * would sign-extend) and the jt == 0 / jf == 0 shapes the translation special-cases. */
TEST(jumps)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int ok = 1;

	for (int id = 0; id < CBPF_COUNT && ok; id++) {
		const struct cbpf_info *ci = &cbpf_info[id];
		if (!(ci->flags & CF_JCOND))
			continue;
		for (size_t a = 0; a < N(vals) && ok; a++)
			for (size_t b = 0; b < N(vals) && ok; b++)
				for (int shape = 0; shape < 3 && ok; shape++) {
					uint8_t jt = shape == 0 ? 0 : shape == 1 ? 1 : 2, jf = shape == 0 ? 1 : shape == 1 ? 0 : 1;
					struct sock_filter p[] = {
						S(BPF_LD | BPF_IMM, vals[a]), S(BPF_LDX | BPF_IMM, vals[b]),
						J(ci->code, vals[b], jt, jf), S(BPF_RET | BPF_K, 10), S(BPF_RET | BPF_K, 20),
						S(BPF_RET | BPF_K, 30),
					};
					ok = agree(vm, p, N(p), sizeof(frame));
				}
	}
	struct sock_filter ja[] = { S(BPF_JMP | BPF_JA, 1), S(BPF_RET | BPF_K, 1), S(BPF_RET | BPF_K, 2) };
	CHECK(ok && agree(vm, ja, N(ja), sizeof(frame)));
	bpfvm_free(vm);
}

/* Loads, stores, moves, returns. */
TEST(loads_stores_moves)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct sock_filter p1[] = {
		S(BPF_LD | BPF_IMM, 0x11223344), S(BPF_ST, 3), S(BPF_LDX | BPF_IMM, 7), S(BPF_STX, 15),
		S(BPF_LD | BPF_IMM, 0), S(BPF_LDX | BPF_MEM, 3), S(BPF_LD | BPF_MEM, 15), S(BPF_ALU | BPF_ADD | BPF_X, 0),
		S(BPF_MISC | BPF_TAX, 0), S(BPF_LD | BPF_IMM, 5), S(BPF_MISC | BPF_TXA, 0), S(BPF_RET | BPF_A, 0),
	};
	struct sock_filter p2[] = { S(BPF_LD | BPF_W | BPF_LEN, 0), S(BPF_LDX | BPF_W | BPF_LEN, 0),
				    S(BPF_ALU | BPF_ADD | BPF_X, 0), S(BPF_RET | BPF_A, 0) };
	struct sock_filter p3[] = { S(BPF_RET | BPF_K, 0xffffffff) };
	CHECK(agree(vm, p1, N(p1), sizeof(frame)));
	CHECK(agree(vm, p2, N(p2), sizeof(frame)));
	CHECK(agree(vm, p3, N(p3), sizeof(frame)));
	bpfvm_free(vm);
}

/* Packet loads of each size, absolute and indirect, at every offset around the end of the capture:
 * in bounds they read big-endian bytes, out of bounds (also negative X + k) the filter returns 0.
 * (k from SKF_AD_OFF up is an ancillary load; SKF_NET_OFF / SKF_LL_OFF offsets are not supported.) */
TEST(packet_loads_and_oob)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int ok = 1;
	static const uint16_t codes[] = {
		BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_H | BPF_ABS, BPF_LD | BPF_B | BPF_ABS,
		BPF_LD | BPF_W | BPF_IND, BPF_LD | BPF_H | BPF_IND, BPF_LD | BPF_B | BPF_IND,
		BPF_LDX | BPF_B | BPF_MSH,
	};
	for (uint32_t caplen = 0; caplen <= sizeof(frame) && ok; caplen += caplen < 20 ? 1 : 13)
		for (size_t c = 0; c < N(codes) && ok; c++)
			for (int32_t k = 0; k < (int32_t)caplen + 3 && ok; k++) {
				static const uint32_t xs[] = { 0, 1, 3, 0xffffffff, 0xfffffffd };
				for (size_t x = 0; x < N(xs) && ok; x++) {
					if (BPF_MODE(codes[c]) != BPF_IND && x)
						break;
					struct sock_filter p[] = {
						S(BPF_LD | BPF_IMM, 0x55), S(BPF_LDX | BPF_IMM, xs[x]), S(codes[c], (uint32_t)k),
						S(BPF_ALU | BPF_ADD | BPF_X, 0), S(BPF_ALU | BPF_ADD | BPF_K, 1),
						S(BPF_RET | BPF_A, 0),
					};
					ok = agree(vm, p, N(p), caplen);
				}
			}
	CHECK(ok);
	bpfvm_free(vm);
}

/* Division and modulo by X == 0 end the filter with 0, as in Linux. */
TEST(div_mod_by_x_zero)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	for (int mod = 0; mod < 2; mod++) {
		struct sock_filter p[] = { S(BPF_LD | BPF_IMM, 7), S(BPF_ALU | (mod ? BPF_MOD : BPF_DIV) | BPF_X, 0),
					   S(BPF_RET | BPF_K, 99) };
		int fd = bpfvm_cbpf_load(vm, p, N(p), BPFVM_CBPF_SOCKET, "t");
		uint32_t r = 1;
		CHECK(fd >= 0 && bpfvm_prog_run_capture(vm, fd, frame, sizeof(frame), sizeof(frame), &r) == 0);
		CHECK_EQ_U64(r, 0);
		bpfvm_close(vm, fd);
	}
	bpfvm_free(vm);
}

/* Every ancillary load Linux knows: the ones bpfvm provides give the capture's values, the three with
 * no eBPF helper are refused by name. */
TEST(ancillary_loads)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int ok = 1;

	for (uint32_t a = 0; a < SKF_AD_MAX; a += 4) {
		if (a == SKF_AD_CPU || a == SKF_AD_RANDOM)
			continue; /* checked below */
		struct sock_filter p[] = { S(BPF_LDX | BPF_IMM, 0x5a), S(BPF_LD | BPF_IMM, 0x0f),
					   S(BPF_LD | BPF_H | BPF_ABS, (uint32_t)SKF_AD_OFF + a), S(BPF_RET | BPF_A, 0) };
		if (a == SKF_AD_NLATTR || a == SKF_AD_NLATTR_NEST || a == SKF_AD_PAY_OFFSET) {
			CHECK_EQ_U64(bpfvm_cbpf_load(vm, p, N(p), BPFVM_CBPF_SOCKET, "t"), -EOPNOTSUPP);
			CHECK(strstr(bpfvm_errmsg(vm), "insn 2: ancillary load") != NULL);
			continue;
		}
		if (!agree(vm, p, N(p), sizeof(frame))) {
			printf("  ancillary SKF_AD_OFF + %u\n", a);
			ok = 0;
		}
	}
	CHECK(ok);

	/* pkttype from the destination address; protocol from the ethertype */
	uint8_t bc[sizeof(frame)];
	memcpy(bc, frame, sizeof(bc));
	memset(bc, 0xff, 6);
	bc[12] = 0x86;
	bc[13] = 0xdd;
	struct sock_filter pt[] = { S(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_AD_OFF + SKF_AD_PKTTYPE), S(BPF_ST, 0),
				    S(BPF_LD | BPF_H | BPF_ABS, (uint32_t)SKF_AD_OFF + SKF_AD_PROTOCOL),
				    S(BPF_LDX | BPF_MEM, 0), S(BPF_ALU | BPF_LSH | BPF_K, 8), S(BPF_ALU | BPF_OR | BPF_X, 0),
				    S(BPF_RET | BPF_A, 0) };
	int fd = bpfvm_cbpf_load(vm, pt, N(pt), BPFVM_CBPF_SOCKET, "t");
	uint32_t r = 0;
	CHECK(fd >= 0 && bpfvm_prog_run_capture(vm, fd, bc, sizeof(bc), sizeof(bc), &r) == 0);
	CHECK_EQ_U64(r, (uint32_t)ETH_P_IPV6 << 8 | PACKET_BROADCAST);
	bc[5] = 0xfe; /* group bit still set: multicast */
	CHECK(bpfvm_prog_run_capture(vm, fd, bc, sizeof(bc), sizeof(bc), &r) == 0);
	CHECK_EQ_U64(r, (uint32_t)ETH_P_IPV6 << 8 | PACKET_MULTICAST);
	bpfvm_close(vm, fd);

	/* cpu: an execution slot; random: two runs differ at least once in a few tries */
	struct sock_filter cpu[] = { S(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_AD_OFF + SKF_AD_CPU), S(BPF_RET | BPF_A, 0) };
	fd = bpfvm_cbpf_load(vm, cpu, N(cpu), BPFVM_CBPF_SOCKET, "t");
	r = 0xffff;
	CHECK(fd >= 0 && bpfvm_prog_run_capture(vm, fd, frame, sizeof(frame), sizeof(frame), &r) == 0);
	CHECK(r < 4096);
	bpfvm_close(vm, fd);
	struct sock_filter rnd[] = { S(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_AD_OFF + SKF_AD_RANDOM), S(BPF_RET | BPF_A, 0) };
	fd = bpfvm_cbpf_load(vm, rnd, N(rnd), BPFVM_CBPF_SOCKET, "t");
	uint32_t first = 0, differs = 0;
	for (int i = 0; i < 8; i++) {
		CHECK(bpfvm_prog_run_capture(vm, fd, frame, sizeof(frame), sizeof(frame), &r) == 0);
		if (!i)
			first = r;
		differs |= r != first;
	}
	CHECK(differs);
	bpfvm_close(vm, fd);
	bpfvm_free(vm);
}

/* A small program around each row of cbpf.def (every opcode Linux accepts), run on in-bounds and
 * truncated captures against the reference: a row added to cbpf.def without a case here fails. */
static size_t around(const struct cbpf_info *ci, uint32_t a, uint32_t x, struct sock_filter *p)
{
	size_t n = 0;
	uint32_t k = x;

	p[n++] = S(BPF_LD | BPF_IMM, a);
	p[n++] = S(BPF_LDX | BPF_IMM, x);
	p[n++] = S(BPF_ST, 4); /* M[4] = a, M[5] = x: what MEM loads read */
	p[n++] = S(BPF_STX, 5);
	if (ci->flags & CF_RET) {
		p[n++] = S(ci->code, a);
		return n;
	}
	if (ci->flags & CF_LDABS)
		k = x % 70; /* around the end of the frame */
	else if (ci->opd == OPD_IND || ci->opd == OPD_MSH)
		k = ci->opd == OPD_MSH ? x % 70 : (uint32_t)(int32_t)(a % 9) - 4;
	else if (ci->flags & (CF_MEM_LD | CF_MEM_ST))
		k = ci->flags & CF_MEM_ST ? 6 : 4 + (x & 1);
	else if ((ci->flags & CF_DIV) && !k)
		k = 3;
	else if (ci->flags & CF_SHIFT)
		k &= 31;
	if (ci->flags & (CF_JCOND | CF_JA)) {
		p[n++] = ci->flags & CF_JA ? S(ci->code, 1) : J(ci->code, k, 0, 1);
		p[n++] = S(BPF_RET | BPF_K, 10);
		p[n++] = S(BPF_RET | BPF_K, 20);
		return n;
	}
	p[n++] = S(ci->code, k);
	if (ci->flags & CF_MEM_ST)
		p[n++] = S(BPF_LD | BPF_MEM, 6);
	p[n++] = S(BPF_ST, 0); /* A and X both count in the result */
	p[n++] = S(BPF_MISC | BPF_TXA, 0);
	p[n++] = S(BPF_ALU | BPF_LSH | BPF_K, 7);
	p[n++] = S(BPF_LDX | BPF_MEM, 0);
	p[n++] = S(BPF_ALU | BPF_XOR | BPF_X, 0);
	p[n++] = S(BPF_RET | BPF_A, 0);
	return n;
}

TEST(every_opcode)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int ok = 1;

	for (int id = 0; id < CBPF_COUNT && ok; id++) {
		const struct cbpf_info *ci = &cbpf_info[id];
		for (size_t a = 0; a < N(vals) && ok; a++)
			for (size_t x = 0; x < N(vals) && ok; x += 3)
				for (uint32_t caplen = 0; caplen <= sizeof(frame) && ok; caplen += 31) {
					struct sock_filter p[16];
					size_t n = around(ci, vals[a], vals[x], p);
					ok = agree(vm, p, n, caplen);
					if (!ok)
						printf("  %s\n", ci->name);
				}
	}
	CHECK(ok);
	bpfvm_free(vm);
}

/* The translation itself, for one program, instruction by instruction (Linux's shapes: prologue, jf == 0
 * as one jump, jt == 0 inverted, a negative k through r2, M[] on the stack, ret k as mov + exit). */
TEST(translation_text)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct sock_filter p[] = {
		S(BPF_LD | BPF_H | BPF_ABS, 12), J(BPF_JMP | BPF_JEQ | BPF_K, 0x800, 0, 4),
		J(BPF_JMP | BPF_JGT | BPF_K, 0x80000000, 0, 3), S(BPF_ST, 1), S(BPF_LDX | BPF_B | BPF_MSH, 14),
		J(BPF_JMP | BPF_JSET | BPF_X, 0, 1, 0), S(BPF_RET | BPF_K, 0xffff), S(BPF_RET | BPF_K, 0),
	};
	struct bpf_insn out[64];
	long n = bpfvm_cbpf_translate(vm, p, N(p), BPFVM_CBPF_SOCKET, out, N(out));
	char text[4096];
	CHECK(n > 0 && n <= (long)N(out));
	bpfvm_disasm(out, (size_t)n, BPFVM_DISASM_PC, text, sizeof(text));
	CHECK_EQ_STR(text,
		     "    0: w0 = 0\n"
		     "    1: w7 = 0\n"
		     "    2: r6 = r1\n"
		     "    3: r0 = *(u16 *)skb[12]\n"
		     "    4: if r0 != 2048 goto +11\n"
		     "    5: w2 = -2147483648\n"
		     "    6: if r0 <= r2 goto +9\n"
		     "    7: *(u32 *)(r10 - 8) = r0\n"
		     "    8: r7 = r0\n"
		     "    9: r0 = *(u8 *)skb[14]\n"
		     "   10: w0 &= 15\n"
		     "   11: w0 <<= 2\n"
		     "   12: r2 = r7\n"
		     "   13: r7 = r0\n"
		     "   14: r0 = r2\n"
		     "   15: if r0 & r7 goto +2\n"
		     "   16: w0 = 65535\n"
		     "   17: exit\n"
		     "   18: w0 = 0\n"
		     "   19: exit\n");
	bpfvm_free(vm);
}

/* Dead classic code (legal there: Linux runs classic programs unverified) is left out of the translation,
 * since the eBPF verifier refuses unreachable insns; the jump over it still lands on its target. */
TEST(dead_code_not_translated)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct sock_filter p[] = { S(BPF_JMP | BPF_JA, 1), S(BPF_RET | BPF_K, 1), S(BPF_RET | BPF_K, 2) };
	struct bpf_insn out[16];
	char text[1024];
	long n = bpfvm_cbpf_translate(vm, p, N(p), BPFVM_CBPF_SOCKET, out, N(out));

	CHECK(n > 0 && n <= (long)N(out));
	bpfvm_disasm(out, (size_t)n, BPFVM_DISASM_PC, text, sizeof(text));
	CHECK_EQ_STR(text,
		     "    0: w0 = 0\n"
		     "    1: w7 = 0\n"
		     "    2: r6 = r1\n"
		     "    3: goto +0\n"
		     "    4: w0 = 2\n"
		     "    5: exit\n");
	CHECK(agree(vm, p, N(p), sizeof(frame)));
	bpfvm_free(vm);
}

static int check_err(struct bpfvm *vm, const struct sock_filter *p, size_t n, int kind, const char *msg)
{
	int err = bpfvm_cbpf_check(vm, p, n, kind);
	if (err != -EINVAL || !strstr(bpfvm_errmsg(vm), msg)) {
		printf("  expected -EINVAL '%s', got %d '%s'\n", msg, err, bpfvm_errmsg(vm));
		return 0;
	}
	return 1;
}

/* bpf_check_classic(): each rule, with the insn named. */
TEST(check_rejects)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct sock_filter bad_op[] = { { 0xff, 0, 0, 0 }, S(BPF_RET | BPF_K, 0) };
	struct sock_filter div0[] = { S(BPF_ALU | BPF_DIV | BPF_K, 0), S(BPF_RET | BPF_K, 0) };
	struct sock_filter mod0[] = { S(BPF_ALU | BPF_MOD | BPF_K, 0), S(BPF_RET | BPF_K, 0) };
	struct sock_filter shift[] = { S(BPF_ALU | BPF_LSH | BPF_K, 32), S(BPF_RET | BPF_K, 0) };
	struct sock_filter mem[] = { S(BPF_ST, 16), S(BPF_RET | BPF_K, 0) };
	struct sock_filter ja[] = { S(BPF_JMP | BPF_JA, 1), S(BPF_RET | BPF_K, 0) };
	struct sock_filter jt[] = { J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_RET | BPF_K, 0) };
	struct sock_filter noret[] = { S(BPF_RET | BPF_K, 0), S(BPF_LD | BPF_IMM, 0) };
	struct sock_filter uninit[] = { J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_ST, 2), S(BPF_LD | BPF_MEM, 2),
					S(BPF_RET | BPF_A, 0) };
	struct sock_filter anc[] = { S(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_AD_OFF + SKF_AD_MAX), S(BPF_RET | BPF_K, 0) };
	struct sock_filter ok_mem[] = { S(BPF_ST, 2), J(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), S(BPF_STX, 3),
					S(BPF_LD | BPF_MEM, 2), S(BPF_RET | BPF_A, 0) };
	struct sock_filter retx[] = { S(BPF_RET | BPF_X, 0) };

	CHECK(check_err(vm, bad_op, 2, BPFVM_CBPF_SOCKET, "insn 0: unknown opcode 0xff"));
	CHECK(check_err(vm, retx, 1, BPFVM_CBPF_SOCKET, "insn 0: unknown opcode 0x0e"));
	CHECK(check_err(vm, div0, 2, BPFVM_CBPF_SOCKET, "insn 0: div by constant 0"));
	CHECK(check_err(vm, mod0, 2, BPFVM_CBPF_SOCKET, "insn 0: mod by constant 0"));
	CHECK(check_err(vm, shift, 2, BPFVM_CBPF_SOCKET, "insn 0: shift by 32"));
	CHECK(check_err(vm, mem, 2, BPFVM_CBPF_SOCKET, "insn 0: scratch memory M[16] out of range"));
	CHECK(check_err(vm, ja, 2, BPFVM_CBPF_SOCKET, "insn 0: ja target 2 out of range"));
	CHECK(check_err(vm, jt, 2, BPFVM_CBPF_SOCKET, "insn 0: jeq target jt 1 / jf 2 out of range"));
	CHECK(check_err(vm, noret, 2, BPFVM_CBPF_SOCKET, "insn 1: last insn is not a return"));
	CHECK(check_err(vm, uninit, 4, BPFVM_CBPF_SOCKET, "insn 2: M[2] is read before it is written"));
	CHECK(check_err(vm, anc, 2, BPFVM_CBPF_SOCKET, "insn 0: unknown ancillary load at SKF_AD_OFF + 64"));
	CHECK(check_err(vm, ok_mem, 0, BPFVM_CBPF_SOCKET, "empty program"));
	CHECK_EQ_U64(bpfvm_cbpf_check(vm, ok_mem, N(ok_mem), BPFVM_CBPF_SOCKET), 0);
	struct sock_filter big[CBPF_MAX_INSNS + 1];
	for (size_t i = 0; i < N(big); i++)
		big[i] = S(BPF_RET | BPF_K, 0);
	CHECK(check_err(vm, big, N(big), BPFVM_CBPF_SOCKET, "more than the limit 4096"));
	CHECK_EQ_U64(bpfvm_cbpf_check(vm, big, N(big) - 1, BPFVM_CBPF_SOCKET), 0);
	bpfvm_free(vm);
}

/* seccomp_check_filter(): its opcode list and its load rules; `len` is sizeof(struct seccomp_data). */
TEST(seccomp_rules)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct sock_filter ldh[] = { S(BPF_LD | BPF_H | BPF_ABS, 0), S(BPF_RET | BPF_K, 0) };
	struct sock_filter mod[] = { S(BPF_ALU | BPF_MOD | BPF_K, 3), S(BPF_RET | BPF_K, 0) };
	struct sock_filter ind[] = { S(BPF_LD | BPF_W | BPF_IND, 0), S(BPF_RET | BPF_K, 0) };
	struct sock_filter mis[] = { S(BPF_LD | BPF_W | BPF_ABS, 2), S(BPF_RET | BPF_K, 0) };
	struct sock_filter past[] = { S(BPF_LD | BPF_W | BPF_ABS, 64), S(BPF_RET | BPF_K, 0) };
	struct sock_filter anc[] = { S(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_AD_OFF), S(BPF_RET | BPF_K, 0) };

	CHECK(check_err(vm, ldh, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: opcode 0x28 (LD_H_ABS) is not allowed"));
	CHECK(check_err(vm, mod, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: opcode 0x94 (MOD_K) is not allowed"));
	CHECK(check_err(vm, ind, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: opcode 0x40 (LD_W_IND) is not allowed"));
	CHECK(check_err(vm, mis, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: load from struct seccomp_data at 2"));
	CHECK(check_err(vm, past, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: load from struct seccomp_data at 64"));
	CHECK(check_err(vm, anc, 2, BPFVM_CBPF_SECCOMP, "insn 0: seccomp: load from struct seccomp_data at -4096"));
	CHECK_EQ_U64(bpfvm_cbpf_check(vm, ldh, 2, BPFVM_CBPF_SOCKET), 0);

	/* a policy: allow read/write of fd < 3, ERRNO(EPERM) for getpid, else KILL */
	struct sock_filter pol[] = {
		S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		J(BPF_JMP | BPF_JEQ | BPF_K, 0xc000003e, 1, 0), S(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		J(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1), S(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
		J(BPF_JMP | BPF_JGT | BPF_K, 1, 4, 0),
		S(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		J(BPF_JMP | BPF_JGE | BPF_K, 3, 2, 0),
		S(BPF_LD | BPF_W | BPF_LEN, 0), S(BPF_RET | BPF_A, 0),
		S(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
	};
	int fd = bpfvm_cbpf_load(vm, pol, N(pol), BPFVM_CBPF_SECCOMP, "pol");
	CHECK(fd >= 0);
	struct seccomp_data sd = { .nr = 39, .arch = 0xc000003e };
	uint32_t r = 0;
	CHECK(bpfvm_seccomp_run(vm, fd, &sd, &r) == 0);
	CHECK_EQ_U64(r, SECCOMP_RET_ERRNO | 1);
	sd.nr = 1;
	sd.args[0] = 2;
	CHECK(bpfvm_seccomp_run(vm, fd, &sd, &r) == 0);
	CHECK_EQ_U64(r, sizeof(struct seccomp_data));
	sd.args[0] = 0x100000003ull; /* the low word is what a 32-bit load at args[0] sees (little endian) */
	CHECK(bpfvm_seccomp_run(vm, fd, &sd, &r) == 0);
	CHECK_EQ_U64(r, SECCOMP_RET_KILL_THREAD);
	sd.arch = 0x40000003;
	CHECK(bpfvm_seccomp_run(vm, fd, &sd, &r) == 0);
	CHECK_EQ_U64(r, SECCOMP_RET_KILL_PROCESS);
	bpfvm_close(vm, fd);
	bpfvm_free(vm);
}

/* The three text forms tcpdump prints and raw bytes parse to the same program; -d text is what
 * bpfvm_cbpf_dump() prints. */
TEST(parse_forms)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	static const char dd[] = "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 3, 0x00000800 },\n"
				 "{ 0x30, 0, 0, 0x00000017 },\n{ 0x15, 0, 1, 0x00000006 },\n"
				 "{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n";
	static const char ddd[] = "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 6\n6 0 0 262144\n6 0 0 0\n";
	static const char d[] = "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 5\n"
				"(002) ldb      [23]\n(003) jeq      #0x6             jt 4\tjf 5\n"
				"(004) ret      #262144\n(005) ret      #0\n";
	struct sock_filter a[8], b[8], c[8], e[8];
	CHECK_EQ_U64(bpfvm_cbpf_parse(vm, dd, strlen(dd), a, 8), 6);
	CHECK_EQ_U64(bpfvm_cbpf_parse(vm, ddd, strlen(ddd), b, 8), 6);
	CHECK_EQ_U64(bpfvm_cbpf_parse(vm, d, strlen(d), c, 8), 6);
	CHECK(!memcmp(a, b, 6 * sizeof(a[0])) && !memcmp(a, c, 6 * sizeof(a[0])));
	CHECK_EQ_U64(bpfvm_cbpf_parse(vm, a, 6 * sizeof(a[0]), e, 8), 6);
	CHECK(!memcmp(a, e, 6 * sizeof(a[0])));
	char text[1024];
	CHECK_EQ_U64(bpfvm_cbpf_dump(a, 6, text, sizeof(text)), strlen(d));
	CHECK_EQ_STR(text, d);

	/* every opcode round-trips through the -d printer and parser */
	struct sock_filter all[CBPF_COUNT + 1], back[CBPF_COUNT + 1];
	for (int i = 0; i < CBPF_COUNT; i++)
		all[i] = (struct sock_filter){ cbpf_info[i].code, (cbpf_info[i].flags & CF_JCOND) ? 1 : 0, 0,
					       (uint32_t)-3 - (uint32_t)i };
	for (int i = 0; i < CBPF_COUNT; i++) /* -d prints no k for these; ja's is its target */
		if (cbpf_info[i].opd == OPD_NONE || cbpf_info[i].opd == OPD_A || cbpf_info[i].opd == OPD_LEN ||
		    cbpf_info[i].opd == OPD_X || (cbpf_info[i].flags & CF_JA))
			all[i].k = 0;
	all[CBPF_COUNT] = S(BPF_RET | BPF_K, 0);
	static char big[16384];
	bpfvm_cbpf_dump(all, CBPF_COUNT + 1, big, sizeof(big));
	CHECK_EQ_U64(bpfvm_cbpf_parse(vm, big, strlen(big), back, CBPF_COUNT + 1), CBPF_COUNT + 1);
	for (int i = 0; i <= CBPF_COUNT; i++)
		if (memcmp(&all[i], &back[i], sizeof(all[i])))
			printf("  %s does not round-trip\n", i < CBPF_COUNT ? cbpf_info[i].name : "ret"), test_cur_failed = 1;

	/* errors name the line */
	static const char bad1[] = "{ 0x28, 0, 0, 12 },\n{ 0x15, 0 },\n";
	static const char bad2[] = "(000) ldh      [12]\n(001) frob     #1\n";
	static const char bad3[] = "(000) ldh      [12]\n(001) jeq      #0x800           jt 0\tjf 2\n";
	static const char bad4[] = "3\n6 0 0 0\n";
	CHECK(bpfvm_cbpf_parse(vm, bad1, strlen(bad1), a, 8) == -EINVAL && strstr(bpfvm_errmsg(vm), "line 2:"));
	CHECK(bpfvm_cbpf_parse(vm, bad2, strlen(bad2), a, 8) == -EINVAL &&
	      strstr(bpfvm_errmsg(vm), "line 2: unknown instruction 'frob'"));
	CHECK(bpfvm_cbpf_parse(vm, bad3, strlen(bad3), a, 8) == -EINVAL &&
	      strstr(bpfvm_errmsg(vm), "line 2: jump target 0"));
	CHECK(bpfvm_cbpf_parse(vm, bad4, strlen(bad4), a, 8) == -EINVAL &&
	      strstr(bpfvm_errmsg(vm), "declares 3 instructions, 1 follow"));
	uint8_t raw[12] = { 0x28, 0 };
	CHECK(bpfvm_cbpf_parse(vm, raw, sizeof(raw), a, 8) == -EINVAL &&
	      strstr(bpfvm_errmsg(vm), "not a whole number"));
	bpfvm_free(vm);
}

/* LD_ABS/LD_IND in programs written in eBPF (socket filters): big-endian loads, and out of bounds the
 * program returns 0. */
TEST(ebpf_ld_abs_ind_in_socket_filters)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpf_insn insns[32];
	long n = bpfvm_asm(vm,
			   "r6 = r1\n"
			   "r0 = *(u16 *)skb[12]\n"
			   "r7 = r0\n"
			   "r8 = 14\n"
			   "r0 = *(u32 *)skb[r8 + 12]\n"
			   "r7 += r0\n"
			   "r0 = *(u8 *)skb[r8 + 100]\n"
			   "r0 = r7\n"
			   "exit\n", insns, 32);
	CHECK(n == 9);
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, insns, (size_t)n, "ldabs");
	CHECK(fd >= 0);
	uint8_t out[256];
	size_t out_len = 0;
	struct bpfvm_pkt_result res;
	/* 14 + 100 = 114 is past this 62-byte frame: the program ends with 0 at the byte load */
	CHECK(bpfvm_prog_run_packet(vm, fd, frame, sizeof(frame), out, sizeof(out), &out_len, &res) == 0);
	CHECK_EQ_U64(res.retval, 0);
	uint8_t big[200];
	memset(big, 0, sizeof(big));
	memcpy(big, frame, sizeof(frame));
	CHECK(bpfvm_prog_run_packet(vm, fd, big, sizeof(big), out, sizeof(out), &out_len, &res) == 0);
	CHECK_EQ_U64(res.retval, 0x0800u + 0x0a000001u);
	uint32_t r = 0;
	CHECK(bpfvm_prog_run_capture(vm, fd, big, sizeof(big), sizeof(big), &r) == 0);
	CHECK_EQ_U64(r, 0x0800u + 0x0a000001u);
	bpfvm_close(vm, fd);
	bpfvm_free(vm);
}

/* Loads eBPF assembly as a socket filter; -1 on failure (printed). */
static int load_sf(struct bpfvm *vm, const char *text)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, text, insns, 64);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, insns, (size_t)n, "cap") : -1;
	if (fd < 0)
		printf("  load failed: %s\n", bpfvm_errmsg(vm));
	return fd;
}

/* bpfvm_capture_*: its errors, the program held past bpfvm_close(), and per-frame state that must not
 * leak from one frame into the next on either engine: cb[] (the one writable ctx field), the stack
 * (a leaf's frame is zeroed only as deep as it reaches), and the ctx fields of each frame. */
TEST(capture_api)
{
	/* unverified: the programs read stack they never wrote and an address they were not given on
	 * purpose, so that what must not leak between frames, and faults, reach the run-time checks */
	struct bpfvm_opts vo = { .sz = sizeof(vo), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct bpfvm_capture *c = NULL;
	uint32_t r = 0;

	CHECK(bpfvm_capture_new(vm, 99, BPFVM_ENGINE_DEFAULT, &c) == -EBADF && !c);
	CHECK(strstr(bpfvm_errmsg(vm), "fd 99: not a program"));
	struct bpf_insn ret1[2];
	CHECK(bpfvm_asm(vm, "r0 = 1\nexit\n", ret1, 2) == 2);
	int xdp = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, ret1, 2, "x");
	CHECK(xdp >= 0);
	CHECK(bpfvm_capture_new(vm, xdp, BPFVM_ENGINE_DEFAULT, &c) == -EINVAL && !c);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'x': type 6 is not a socket filter"));
	bpfvm_close(vm, xdp);

	/* returns what it read before writing: cb[0], the stack at fp-8 and at fp-200; then len + protocol
	 * + pkt_type in the upper bits, so that a frame's fields show */
	int fd = load_sf(vm, "r2 = *(u32 *)(r1 + 48)\n"
			     "r3 = *(u64 *)(r10 - 8)\n"
			     "r4 = *(u64 *)(r10 - 200)\n"
			     "r2 |= r3\n"
			     "r2 |= r4\n"
			     "r5 = 7\n"
			     "*(u32 *)(r1 + 48) = r5\n"
			     "*(u64 *)(r10 - 8) = r5\n"
			     "*(u64 *)(r10 - 200) = r5\n"
			     "r0 = *(u32 *)(r1 + 0)\n"
			     "r5 = *(u32 *)(r1 + 16)\n"
			     "r0 += r5\n"
			     "r5 = *(u32 *)(r1 + 4)\n"
			     "r0 += r5\n"
			     "r0 <<= 8\n"
			     "r0 |= r2\n"
			     "exit\n");
	CHECK(fd >= 0);
	CHECK(bpfvm_capture_new(vm, fd, 7, &c) == -EINVAL && strstr(bpfvm_errmsg(vm), "engine 7: not an engine"));
	uint8_t bcast[60];
	memset(bcast, 0xff, 6);
	memset(bcast + 6, 0x02, 54);
	bcast[12] = 0x86;
	bcast[13] = 0xdd; /* IPv6 */
	struct bpfvm_capture *cs[2] = { NULL, NULL };
	CHECK(bpfvm_capture_new(vm, fd, BPFVM_ENGINE_INTERP, &cs[0]) == 0 && cs[0]);
	int jerr = bpfvm_capture_new(vm, fd, BPFVM_ENGINE_JIT, &cs[1]);
	CHECK(jerr == 0 || jerr == -EOPNOTSUPP);
	bpfvm_close(vm, fd); /* the captures hold the program */
	for (int e = 0; e < 2 && cs[e]; e++) {
		c = cs[e];
		for (int i = 0; i < 3; i++) {
			r = 0xdeadbeef;
			CHECK(bpfvm_capture_run(c, frame, sizeof(frame), 1000, &r) == 0);
			CHECK_EQ_U64(r, (1000u + htons(ETH_P_IP) + PACKET_HOST) << 8);
			CHECK(bpfvm_capture_run(c, bcast, sizeof(bcast), sizeof(bcast), &r) == 0);
			CHECK_EQ_U64(r, (60u + htons(ETH_P_IPV6) + PACKET_BROADCAST) << 8);
			CHECK(bpfvm_capture_run(c, frame, 3, 3, &r) == 0); /* no Ethernet header: protocol 0 */
			CHECK_EQ_U64(r, (3u + PACKET_HOST) << 8);
		}
		CHECK(bpfvm_capture_run(c, frame, 20, 10, &r) == -EINVAL);
		CHECK(strstr(bpfvm_errmsg(vm), "captured length 20 above the length on the wire 10"));
		CHECK(bpfvm_capture_run(c, NULL, 20, 20, &r) == -EINVAL);
		CHECK(bpfvm_capture_run(c, frame, 14, 14, &r) == 0 && !bpfvm_errmsg(vm)[0]);
		bpfvm_capture_free(c);
		c = NULL;
	}
	bpfvm_capture_free(NULL);

	/* a filter that calls a helper runs the general way: the same results, the frame copied */
	fd = load_sf(vm, "r6 = r1\n"
			 "r2 = 12\n"
			 "r3 = r10\n"
			 "r3 += -8\n"
			 "r4 = 2\n"
			 "call 26\n" /* bpf_skb_load_bytes(skb, 12, fp - 8, 2) */
			 "r0 = *(u16 *)(r10 - 8)\n"
			 "r1 = *(u32 *)(r6 + 48)\n"
			 "r0 += r1\n"
			 "r1 = 5\n"
			 "*(u32 *)(r6 + 48) = r1\n"
			 "exit\n");
	CHECK(fd >= 0);
	for (int e = BPFVM_ENGINE_INTERP; e <= BPFVM_ENGINE_JIT; e++) {
		int err = bpfvm_capture_new(vm, fd, (enum bpfvm_engine)e, &c);
		if (err == -EOPNOTSUPP && e == BPFVM_ENGINE_JIT)
			break;
		CHECK(err == 0);
		for (int i = 0; i < 2; i++) {
			CHECK(bpfvm_capture_run(c, frame, sizeof(frame), 1000, &r) == 0);
			CHECK_EQ_U64(r, 0x0008);
		}
		CHECK(bpfvm_capture_run(c, frame, 13, 13, &r) == 0); /* the helper fails: fp-8 stays 0, cb[0] too */
		CHECK_EQ_U64(r, 0);
		bpfvm_capture_free(c);
	}
	bpfvm_close(vm, fd);

	/* a fault is reported as by bpfvm_prog_run_capture(), and the next frame runs clean */
	fd = load_sf(vm, "r0 = *(u8 *)skb[0]\n"
			 "if r0 != 0xff goto +2\n"
			 "r2 = 4096\n"
			 "r0 = *(u64 *)(r2 + 0)\n"
			 "exit\n");
	CHECK(fd >= 0 && bpfvm_capture_new(vm, fd, BPFVM_ENGINE_DEFAULT, &c) == 0);
	bpfvm_close(vm, fd);
	CHECK(bpfvm_capture_run(c, bcast, sizeof(bcast), sizeof(bcast), &r) == -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 3"));
	CHECK(bpfvm_capture_run(c, frame, sizeof(frame), 1000, &r) == 0 && r == 2 && !bpfvm_errmsg(vm)[0]);
	bpfvm_capture_free(c);
	bpfvm_free(vm);
}

/* A filter that reads only the packet (LD_ABS) and its registers takes the capture's shortest path: no
 * ctx set per frame, native state kept from frame to frame.  Each frame still starts with a full
 * instruction budget (a loop of 49 back-edges under a limit of 60 runs frame after frame), a budget
 * fault is reported and the next frame runs clean; results are the interpreter's. */
TEST(capture_packet_only_filter)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpfvm_capture *c = NULL;
	uint8_t a[20] = { 0 }, b[20] = { 0 };
	uint32_t r = 0;
	a[13] = 7;
	b[13] = 200;
	int fd = load_sf(vm, "r6 = r1\n"
			     "r0 = *(u8 *)skb[13]\n"
			     "r2 = 0\n"
			     "r2 += 1\n"
			     "if r2 < 50 goto -2\n"
			     "r0 += r2\n"
			     "exit\n");
	CHECK(fd >= 0);
	for (int e = BPFVM_ENGINE_INTERP; e <= BPFVM_ENGINE_JIT; e++) {
		int err = bpfvm_capture_new(vm, fd, (enum bpfvm_engine)e, &c);
		if (err == -EOPNOTSUPP && e == BPFVM_ENGINE_JIT)
			break;
		CHECK(err == 0);
		CHECK(bpfvm_set_insn_limit(vm, 60) == 0);
		for (int i = 0; i < 3; i++) {
			CHECK(bpfvm_capture_run(c, a, sizeof(a), sizeof(a), &r) == 0 && r == 57);
			CHECK(bpfvm_capture_run(c, b, sizeof(b), 1000, &r) == 0 && r == 250);
			CHECK(bpfvm_capture_run(c, b, 13, 13, &r) == 0 && r == 0); /* out of bounds: the filter returns 0 */
		}
		CHECK(bpfvm_set_insn_limit(vm, 10) == 0);
		CHECK(bpfvm_capture_run(c, a, sizeof(a), sizeof(a), &r) == -ELOOP);
		CHECK(strstr(bpfvm_errmsg(vm), "insn"));
		CHECK(bpfvm_set_insn_limit(vm, 60) == 0);
		r = 0;
		CHECK(bpfvm_capture_run(c, b, sizeof(b), sizeof(b), &r) == 0 && r == 250 && !bpfvm_errmsg(vm)[0]);
		bpfvm_capture_free(c);
		c = NULL;
	}
	bpfvm_close(vm, fd);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(alu_ops);
	RUN(jumps);
	RUN(loads_stores_moves);
	RUN(packet_loads_and_oob);
	RUN(div_mod_by_x_zero);
	RUN(every_opcode);
	RUN(ancillary_loads);
	RUN(translation_text);
	RUN(dead_code_not_translated);
	RUN(check_rejects);
	RUN(seccomp_rules);
	RUN(parse_forms);
	RUN(ebpf_ld_abs_ind_in_socket_filters);
	RUN(capture_api);
	RUN(capture_packet_only_filter);
	return test_done();
}
