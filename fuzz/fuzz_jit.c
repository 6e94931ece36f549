/* fuzz_jit.c -- differential fuzzing of the JIT against the interpreter.  Every program that loads runs
 * on both engines over the same memory (restored between the runs); the result code, r0, the fault
 * message (errno, insn, what, address) and the memory afterwards must be identical.  Where the host has
 * no JIT, runs the interpreter only.
 *
 * Input (fuzz_prog's format, so its corpus is reused): byte 0 picks the program type (bit 7: an
 * untrusted instance), byte 1 the memory length; the rest is struct bpf_insn[].
 *
 * Generator mode (byte 0 == 0xff): bytes 2..9 seed (byte 1 + 1) * 16 random programs built from every
 * family the JIT emits differently: ALU32/64 with edge immediates and registers (division by 0 and -1,
 * INT_MIN, shift counts past the width, sign extensions, byte swaps), 64- and 32-bit conditional jumps
 * forward and back (under an instruction budget), stack and memory loads and stores of every size,
 * atomics, may_goto, local calls, lddw, legacy packet loads.  No helper calls: their results may
 * legitimately differ between two runs (time, random numbers). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h" /* INSN(), INSN_ID() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM_MAX 256
static const uint32_t types[] = { 0, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER,
				  BPF_PROG_TYPE_RAW_TRACEPOINT };

/* Helpers whose result differs from one call to the next (time, randomness, the slot a run gets). */
static bool nondeterministic(const struct bpf_insn *p, size_t cnt)
{
	static const int32_t ids[] = { 5, 7, 8, 125, 160, 208 };
	for (size_t i = 0; i < cnt; i++) {
		if (p[i].code != (BPF_JMP | BPF_CALL) || p[i].src_reg)
			continue;
		for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++)
			if (p[i].imm == ids[k])
				return true;
	}
	return false;
}

/* Runs fd on both engines; aborts on any difference.  Returns the interpreter's result code. */
static int differential(struct bpfvm *vm, int fd, const uint8_t *mem0, size_t mem_len, bool compare)
{
	uint8_t mi[MEM_MAX], mj[MEM_MAX];
	char err_i[1024];
	uint64_t ri = 0, rj = 0;

	memcpy(mi, mem0, mem_len);
	memcpy(mj, mem0, mem_len);
	int ei = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem_len ? mi : NULL, mem_len, &ri);
	snprintf(err_i, sizeof(err_i), "%s", ei ? bpfvm_errmsg(vm) : "");
	/* the JIT runs in the interpreter's buffer, restored, so that addresses in fault messages agree */
	memcpy(mj, mi, mem_len);
	memcpy(mi, mem0, mem_len);
	int ej = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, mem_len ? mi : NULL, mem_len, &rj);
	if (ej == -EOPNOTSUPP || !compare)
		return ei;
	const char *err_j = ej ? bpfvm_errmsg(vm) : "";
	if (ei != ej || (!ei && ri != rj) || strcmp(err_i, err_j) || memcmp(mi, mj, mem_len)) {
		fprintf(stderr, "fuzz_jit: engines differ: interpreter %d r0=0x%llx '%s'; JIT %d r0=0x%llx '%s'%s\n", ei,
			(unsigned long long)ri, err_i, ej, (unsigned long long)rj, err_j,
			memcmp(mi, mj, mem_len) ? "; memory differs" : "");
		abort();
	}
	return ei;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13; /* xorshift64 */
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int32_t edge_imm(uint64_t *s)
{
	static const int32_t v[] = { 0, 1, -1, 2, 7, 31, 32, 63, 64, 255, 0x7fffffff, INT32_MIN, 0x10000, -65536, 12345 };
	return rnd(s) & 1 ? v[rnd(s) % (sizeof(v) / sizeof(v[0]))] : (int32_t)rnd(s);
}

/* One generated insn at pc of cnt (the last is exit); may write two slots (lddw), returns how many. */
static size_t gen_insn(uint64_t *s, struct bpf_insn *out, size_t pc, size_t cnt, bool counted)
{
	static const uint8_t alu_ops[] = { 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0 };
	static const uint8_t jmp_ops[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0 };
	static const uint8_t sizes[] = { BPF_B, BPF_H, BPF_W, BPF_DW };
	static const int32_t atomic_imm[] = { 0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110 };
	static const int32_t swap_w[] = { 16, 32, 64 }, movsx64[] = { 8, 16, 32 }, movsx32[] = { 8, 16 };
	uint8_t d = (uint8_t)(rnd(s) % 10), r = (uint8_t)(rnd(s) % 11);
	int16_t slot = (int16_t)(-(int)(1 + rnd(s) % 520));
	int16_t moff = (int16_t)((int)(rnd(s) % 300) - 20);
	size_t fwd = cnt - pc - 1; /* insns after this one, the exit included */

	switch (rnd(s) % 16) {
	case 0: case 1: case 2: { /* ALU64/ALU32, K or X, with the RFC 9669 offset variants */
		uint8_t cls = rnd(s) & 1 ? BPF_ALU64 : BPF_ALU, op = alu_ops[rnd(s) % sizeof(alu_ops)];
		bool x = rnd(s) & 1;
		int16_t off = 0;
		if ((op == 0x30 || op == 0x90) && rnd(s) & 1)
			off = 1; /* sdiv / smod */
		if (op == 0xb0 && x && rnd(s) % 3 == 0)
			off = (int16_t)(cls == BPF_ALU64 ? movsx64[rnd(s) % 3] : movsx32[rnd(s) % 2]);
		out[0] = INSN(cls | op | (x ? BPF_X : BPF_K), d, x ? (uint8_t)(rnd(s) % 10) : 0, off, x ? 0 : edge_imm(s));
		if (op == 0x80) /* neg: no source */
			out[0] = INSN(cls | op, d, 0, 0, 0);
		return 1;
	}
	case 3: /* byte swaps */
		out[0] = INSN((rnd(s) % 3 == 0 ? BPF_ALU64 : BPF_ALU) | 0xd0 | (rnd(s) & 1 ? BPF_X : BPF_K), d, 0, 0,
			      swap_w[rnd(s) % 3]);
		if ((out[0].code & 0x07) == BPF_ALU64)
			out[0].code = BPF_ALU64 | 0xd0;
		return 1;
	case 4: case 5: { /* conditional jumps, mostly forward; back ones end by the budget */
		uint8_t cls = rnd(s) & 1 ? BPF_JMP : BPF_JMP32, op = jmp_ops[rnd(s) % sizeof(jmp_ops)];
		bool x = rnd(s) & 1;
		int16_t off = rnd(s) % 6 ? (int16_t)(rnd(s) % fwd) : (int16_t)-(int)(1 + rnd(s) % (pc + 1));
		out[0] = INSN(cls | op | (x ? BPF_X : BPF_K), d, x ? r : 0, off, x ? 0 : edge_imm(s));
		return 1;
	}
	case 6: /* stack stores */
		out[0] = rnd(s) & 1 ? INSN(BPF_STX | BPF_MEM | sizes[rnd(s) % 4], 10, (uint8_t)(rnd(s) % 10), slot, 0)
				    : INSN(BPF_ST | BPF_MEM | sizes[rnd(s) % 4], 10, 0, slot, edge_imm(s));
		return 1;
	case 7: /* stack loads, sign-extending too */
		out[0] = INSN((rnd(s) & 1 ? 0x80 /* BPF_MEMSX */ : BPF_MEM) | BPF_LDX | sizes[rnd(s) % (rnd(s) & 1 ? 3 : 4)], d, 10, slot, 0);
		return 1;
	case 8: /* memory at r1 */
		out[0] = rnd(s) & 1 ? INSN(BPF_LDX | BPF_MEM | sizes[rnd(s) % 4], d, 1, moff, 0)
				    : INSN(BPF_STX | BPF_MEM | sizes[rnd(s) % 4], 1, (uint8_t)(2 + rnd(s) % 8), moff, 0);
		return 1;
	case 9: /* atomics on the stack or the memory */
		out[0] = INSN(BPF_STX | BPF_ATOMIC | (rnd(s) & 1 ? BPF_DW : BPF_W), rnd(s) & 1 ? 10 : 1, (uint8_t)(2 + rnd(s) % 8),
			      rnd(s) & 1 ? (int16_t)(-8 * (int)(1 + rnd(s) % 8)) : (int16_t)(8 * (rnd(s) % 8)),
			      atomic_imm[rnd(s) % (sizeof(atomic_imm) / sizeof(atomic_imm[0]))]);
		if (out[0].imm == 0x100) /* load-acquire writes dst */
			out[0] = INSN(out[0].code, d, rnd(s) & 1 ? 10 : 1, out[0].off, 0x100);
		return 1;
	case 10: /* lddw */
		if (pc + 2 >= cnt)
			break;
		out[0] = INSN_ID(LDDW, d, 0, 0, (int32_t)rnd(s));
		out[1] = LDDW_HI((int32_t)rnd(s));
		return 2;
	case 11: /* local call forward */
		if (pc + 2 >= cnt)
			break;
		out[0] = INSN_ID(CALL_LOCAL, 0, 0, 0, (int32_t)(rnd(s) % (cnt - pc - 2)));
		return 1;
	case 12: /* may_goto, forward or back */
		out[0] = INSN_ID(MAY_GOTO, 0, 0, rnd(s) & 1 ? (int16_t)(rnd(s) % fwd) : (int16_t)-(int)(1 + rnd(s) % (pc + 1)), 0);
		return 1;
	case 13: /* legacy packet loads on the memory */
		out[0] = rnd(s) & 1 ? INSN(BPF_LD | BPF_ABS | sizes[rnd(s) % 3], 0, 0, 0, (int32_t)(rnd(s) % 300) - 10)
				    : INSN(BPF_LD | BPF_IND | sizes[rnd(s) % 3], 0, (uint8_t)(rnd(s) % 10), 0, (int32_t)(rnd(s) % 64) - 8);
		return 1;
	case 14: /* pointer arithmetic on r10 copies, then accesses through them */
		out[0] = rnd(s) & 1 ? INSN_ID(MOV64_X, d, 10, 0, 0) : INSN_ID(ADD64_K, d, 0, 0, slot);
		return 1;
	case 15: { /* a counted loop's end, "rX += -1; if rX != 0 goto back" or "rX += 1; if rX != K (< K)
		    * goto back" (the JIT's fast loops); FUZZ_JIT_NO_COUNTED set: none (the corpus as it was
		    * generated before).  With them, gen-seed-05 found a bpf-to-bpf callee reading above its
		    * frame (r10 + 40, its caller's frame) where the interpreter had not zeroed it: the
		    * host's stack, seen by an unverified program (vm/fixup.c code_facts()) */
		if (!counted || pc + 2 >= cnt)
			break;
		int16_t back = (int16_t)-(int)(2 + rnd(s) % (pc + 1));
		unsigned form = (unsigned)(rnd(s) % 3);
		out[0] = form ? INSN_ID(ADD64_K, d, 0, 0, 1) : rnd(s) & 1 ? INSN_ID(ADD64_K, d, 0, 0, -1) : INSN_ID(SUB64_K, d, 0, 0, 1);
		int32_t k = form == 0 ? 0 : rnd(s) & 1 ? edge_imm(s) : (int32_t)(rnd(s) % 64);
		out[1] = form == 2 ? INSN_ID(JLT_K, d, 0, back, k) : INSN_ID(JNE_K, d, 0, back, k);
		return 2;
	}
	default:
		break;
	}
	out[0] = INSN_ID(EXIT, 0, 0, 0, 0);
	return 1;
}

static int generator_mode(const uint8_t *data, size_t size)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	memcpy(&seed, data + 2, size - 2 < 8 ? size - 2 : 8);
	seed |= 1;
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 1;
	o.pin_root = "/tmp/bpfvm-fuzz-jit";
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		return 0;
	bpfvm_set_insn_limit(vm, 2000);
	unsigned loaded = 0, faulted = 0, total = ((unsigned)data[1] + 1) * 16;
	bool counted = getenv("FUZZ_JIT_NO_COUNTED") == NULL;
	for (unsigned n = 0; n < total; n++) {
		struct bpf_insn p[48];
		size_t cnt = 4 + rnd(&seed) % 40;
		uint8_t mem[MEM_MAX];
		for (size_t pc = 0; pc + 1 < cnt;)
			pc += gen_insn(&seed, p + pc, pc, cnt, counted);
		p[cnt - 1] = INSN_ID(EXIT, 0, 0, 0, 0);
		int fd = bpfvm_prog_load(vm, 0, p, cnt, "gen");
		if (fd < 0)
			continue;
		size_t mem_len = 1 + rnd(&seed) % MEM_MAX;
		for (size_t i = 0; i < mem_len; i++)
			mem[i] = (uint8_t)rnd(&seed);
		loaded++;
		faulted += differential(vm, fd, mem, mem_len, true) != 0;
		bpfvm_close(vm, fd);
	}
	if (getenv("FUZZ_JIT_VERBOSE"))
		fprintf(stderr, "generator: %u programs, %u loaded, %u faulted\n", total, loaded, faulted);
	bpfvm_free(vm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == 0xff)
		return generator_mode(data, size);
	if (size < 2 + sizeof(struct bpf_insn))
		return 0;
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 1;
	o.pin_root = "/tmp/bpfvm-fuzz-jit";
	o.untrusted = data[0] >> 7;
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		return 0;
	bpfvm_set_insn_limit(vm, 100000);
	uint32_t type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	size_t mem_len = data[1]; /* < MEM_MAX */
	size_t cnt = (size - 2) / sizeof(struct bpf_insn);
	struct bpf_insn *insns = malloc(cnt * sizeof(*insns));
	if (!insns) {
		bpfvm_free(vm);
		return 0;
	}
	memcpy(insns, data + 2, cnt * sizeof(*insns));
	int fd = bpfvm_prog_load(vm, type, insns, cnt, "fuzz");
	if (fd >= 0 && (type == 0 || type == BPF_PROG_TYPE_RAW_TRACEPOINT)) {
		uint8_t mem[MEM_MAX];
		for (size_t i = 0; i < sizeof(mem); i++)
			mem[i] = (uint8_t)(i * 7 + 1);
		differential(vm, fd, mem, mem_len, !nondeterministic(insns, cnt));
	}
	free(insns);
	bpfvm_free(vm);
	return 0;
}
