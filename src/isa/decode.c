/* decode.c -- raw instruction -> insn.def row, and the structural validation every program gets before
 * either engine or the verifier sees it.  Generated from insn.def; no switch over opcode bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isa.h"

#define SEL_ANY         1
#define SEL_NEVER       0
#define SEL_OFF(n)      (in->off == (n))
#define SEL_IMM(n)      (in->imm == (n))
#define SEL_SRC(n)      (in->src_reg == (n))
#define SEL_SRC_MAX(n)  (in->src_reg <= (n))

const struct isa_info isa_info[ISA_COUNT] = {
#define X(name_, opc_, sel_, mnem_, op_, fmt_, sz_, flags_) \
	[ISA_##name_] = { #name_, mnem_, op_, opc_, fmt_, sz_, flags_ },
#include "insn.def"
#undef X
};

const uint8_t isa_twin_of[ISA_COUNT] = {
#define X(...)
#define XU(name_) [ISA_##name_] = ISA_U_##name_,
#include "insn.def"
#undef XU
#undef X
};

int isa_row_of(int id)
{
	static const uint8_t row[ISA_ID_COUNT - ISA_COUNT] = {
#define X(...)
#define XU(name_) [ISA_U_##name_ - ISA_COUNT] = ISA_##name_,
#include "insn.def"
#undef XU
#undef X
	};
	return id < ISA_COUNT ? id : row[id - ISA_COUNT];
}

int isa_decode(const struct bpf_insn *in)
{
#define X(name_, opc_, sel_, ...) \
	if (in->code == (opc_) && !(isa_info[ISA_##name_].flags & F_INTERNAL) && (sel_)) \
		return ISA_##name_;
#include "insn.def"
#undef X
	return -1;
}

/* The field a row's selector reads counts as used.  Derived from the row text once, here. */
static unsigned sel_fields(int id)
{
	static const unsigned char sel[ISA_COUNT] = {
#define X(name_, opc_, sel_, ...) [ISA_##name_] = SELK_##sel_,
#define SELK_SEL_ANY        0
#define SELK_SEL_NEVER      0
#define SELK_SEL_OFF(n)     U_OFF
#define SELK_SEL_IMM(n)     U_IMM
#define SELK_SEL_SRC(n)     U_SRC
#define SELK_SEL_SRC_MAX(n) U_SRC
#include "insn.def"
#undef X
	};
	return sel[id];
}

unsigned isa_used_fields(int id)
{
	static const unsigned char by_fmt[] = {
		[FMT_NONE] = 0,
		[FMT_ALU_K] = U_DST | U_IMM,
		[FMT_ALU_X] = U_DST | U_SRC,
		[FMT_NEG] = U_DST,
		[FMT_MOVSX] = U_DST | U_SRC,
		[FMT_END] = U_DST,
		[FMT_JA] = U_OFF,
		[FMT_JA32] = U_IMM,
		[FMT_JMP_K] = U_DST | U_OFF | U_IMM,
		[FMT_JMP_X] = U_DST | U_SRC | U_OFF,
		[FMT_CALL] = U_IMM,
		[FMT_CALL_LOCAL] = U_IMM,
		[FMT_CALL_KFUNC] = U_IMM | U_OFF,
		[FMT_CALLX] = U_DST,
		[FMT_LDDW] = U_DST | U_IMM,
		[FMT_LDABS] = U_IMM,
		[FMT_LDIND] = U_SRC | U_IMM,
		[FMT_LDX] = U_DST | U_SRC | U_OFF,
		[FMT_ST] = U_DST | U_OFF | U_IMM,
		[FMT_STX] = U_DST | U_SRC | U_OFF,
		[FMT_ATOMIC] = U_DST | U_SRC | U_OFF,
		[FMT_LDACQ] = U_DST | U_SRC | U_OFF,
	};
	return by_fmt[isa_info[id].fmt] | sel_fields(id);
}

int isa_encode(int id, unsigned dst, unsigned src, int16_t off, int32_t imm, struct bpf_insn *out)
{
	/* the field a selector fixes to one value (lddw's src range is an operand, not fixed) */
#define SELSET_SEL_ANY        0
#define SELSET_SEL_NEVER      0
#define SELSET_SEL_OFF(n)     U_OFF
#define SELSET_SEL_IMM(n)     U_IMM
#define SELSET_SEL_SRC(n)     U_SRC
#define SELSET_SEL_SRC_MAX(n) 0
	static const struct { int16_t off; int32_t imm; uint8_t src, fixes; } sel[ISA_COUNT] = {
#define X(name_, opc_, sel_, ...) \
	[ISA_##name_] = { ISA_SELOFF_##name_, ISA_SELIMM_##name_, ISA_SELSRC_##name_, SELSET_##sel_ },
#include "insn.def"
#undef X
	};

	memset(out, 0, sizeof(*out));
	if (id < 0 || id >= ISA_COUNT || (isa_info[id].flags & F_INTERNAL) || dst > 15 || src > 15)
		return -EINVAL;
	out->code = isa_info[id].opc;
	out->dst_reg = (uint8_t)dst;
	out->src_reg = sel[id].fixes & U_SRC ? sel[id].src : (uint8_t)src;
	out->off = sel[id].fixes & U_OFF ? sel[id].off : off;
	out->imm = sel[id].fixes & U_IMM ? sel[id].imm : imm;
	return isa_decode(out) == id ? 0 : -EINVAL;
}

bool isa_has_target(int id)
{
	uint8_t fmt = isa_info[id].fmt;

	return fmt == FMT_JA || fmt == FMT_JA32 || fmt == FMT_JMP_K || fmt == FMT_JMP_X || fmt == FMT_CALL_LOCAL;
}

bool isa_target_in_imm(int id)
{
	return isa_info[id].fmt == FMT_JA32 || isa_info[id].fmt == FMT_CALL_LOCAL;
}

bool isa_is_func_ref(const struct bpf_insn *in)
{
	int id = isa_decode(in);

	return id == ISA_CALL_LOCAL || (id == ISA_LDDW && in->src_reg == ISA_PSEUDO_FUNC);
}

int64_t isa_target(const struct bpf_insn *in, size_t pc) { return isa_target_id(isa_decode(in), in, pc); }

int64_t isa_target_id(int id, const struct bpf_insn *in, size_t pc)
{
	if (id >= 0 && (isa_target_in_imm(id) || id == ISA_LDDW))
		return (int64_t)pc + 1 + in->imm;
	return (int64_t)pc + 1 + in->off;
}

unsigned isa_mem_access(int id)
{
	const struct isa_info *ii = &isa_info[id];

	switch (ii->fmt) {
	case FMT_LDX: case FMT_LDACQ:
		return ISA_MEM_READ | ISA_MEM_BASE_SRC;
	case FMT_ST: case FMT_STX:
		return ISA_MEM_WRITE;
	case FMT_ATOMIC:                    /* store-release only writes; every other atomic reads too */
		return ii->flags & F_ACQREL ? ISA_MEM_WRITE : ISA_MEM_READ | ISA_MEM_WRITE;
	default:
		return 0;
	}
}

unsigned isa_writes(int id, const struct bpf_insn *in)
{
	const struct isa_info *ii = &isa_info[id];

	switch (ii->fmt) {
	case FMT_ALU_K: case FMT_ALU_X: case FMT_NEG: case FMT_MOVSX: case FMT_END:
	case FMT_LDDW: case FMT_LDX: case FMT_LDACQ:
		return ISA_REG(in->dst_reg);
	case FMT_ATOMIC:
		if (!(ii->flags & F_FETCH))
			return 0; /* plain RMW and store-release only read their registers */
		return ISA_REG(ii->flags & F_R0 ? BPF_REG_0 : in->src_reg);
	case FMT_LDABS: case FMT_LDIND:    /* r0 = the load; Linux scratches r1-r5 as for a call */
	case FMT_CALL: case FMT_CALL_LOCAL: case FMT_CALL_KFUNC: case FMT_CALLX:
		return ISA_REGS_CALLER_SAVED;
	default:                            /* jumps, exit, stores; the internal tail call is a helper call */
		return id == ISA_TAIL_CALL ? ISA_REGS_CALLER_SAVED : 0;
	}
}

unsigned isa_insn_writes(const struct bpf_insn *in)
{
	int id = isa_decode(in);

	return id < 0 ? 0 : isa_writes(id, in);
}

static int check_one(const struct bpf_insn *in, int id, size_t pc, struct diag *log)
{
	unsigned used = isa_used_fields(id);
	const char *mn = isa_info[id].mnem;

	if (!(used & U_DST) && in->dst_reg) {
		diag_printf(log, "insn %zu: %s: unused field dst must be 0, is r%u", pc, mn, in->dst_reg);
		return -EINVAL;
	}
	if (!(used & U_SRC) && in->src_reg) {
		diag_printf(log, "insn %zu: %s: unused field src must be 0, is r%u", pc, mn, in->src_reg);
		return -EINVAL;
	}
	if (!(used & U_OFF) && in->off) {
		diag_printf(log, "insn %zu: %s: unused field off must be 0, is %d", pc, mn, in->off);
		return -EINVAL;
	}
	if (!(used & U_IMM) && in->imm) {
		diag_printf(log, "insn %zu: %s: unused field imm must be 0, is %d", pc, mn, in->imm);
		return -EINVAL;
	}
	if (in->dst_reg > BPF_REG_10) {
		diag_printf(log, "insn %zu: invalid register r%u", pc, in->dst_reg);
		return -EINVAL;
	}
	/* For lddw and call the src field is a pseudo kind, checked by the selector. */
	if (in->src_reg > BPF_REG_10 && isa_info[id].fmt != FMT_LDDW && !(isa_info[id].flags & F_CALL)) {
		diag_printf(log, "insn %zu: invalid register r%u", pc, in->src_reg);
		return -EINVAL;
	}
	/* Every way of writing a register counts: an atomic's fetch into src or r0 as much as an ALU
	 * result into dst (a forged r10 would move the frame the interpreter checks accesses against). */
	if (isa_writes(id, in) & ISA_REG(BPF_REG_10)) {
		if (isa_info[id].fmt == FMT_ATOMIC)
			diag_printf(log, "insn %zu: %s: frame pointer r10 is read only (the fetched value would go "
				    "to its source register r10)", pc, mn);
		else
			diag_printf(log, "insn %zu: frame pointer is read only", pc); /* Linux's words */
		return -EACCES;
	}
	/* Linux allows only moves and add/sub on the frame pointer (verifier.c: adjust_ptr_min_max_vals());
	 * anything else would turn a stack address into plain data. */
	if ((isa_info[id].flags & F_ALU) && (used & U_SRC) && in->src_reg == BPF_REG_10 &&
	    id != ISA_MOV64_X && id != ISA_ADD64_X && id != ISA_SUB64_X) {
		diag_printf(log, "insn %zu: R10 pointer arithmetic with %s prohibited", pc, mn);
		return -EACCES;
	}
	return 0;
}

int isa_check_wide(const struct bpf_insn *insns, size_t cnt, size_t pc, struct diag *log)
{
	const struct bpf_insn *in = &insns[pc], *hi = &insns[pc + 1];

	if (pc + 1 >= cnt) {
		diag_printf(log, "insn %zu: incomplete lddw: missing second slot", pc);
		return -EINVAL;
	}
	if (hi->code || hi->dst_reg || hi->src_reg || hi->off) {
		diag_printf(log, "insn %zu: invalid lddw second slot: code 0x%02x, dst r%u, src r%u, off %d (all must be 0)",
			    pc + 1, hi->code, hi->dst_reg, hi->src_reg, hi->off);
		return -EINVAL;
	}
	if (in->src_reg != ISA_PSEUDO_IMM && !isa_pseudo_is_value(in->src_reg) && hi->imm) {
		diag_printf(log, "insn %zu: lddw with pseudo source %u must have a zero high imm", pc, in->src_reg);
		return -EINVAL;
	}
	return 0;
}

size_t isa_slots(const struct bpf_insn *in)
{
	int id = isa_decode(in);
	return id >= 0 && (isa_info[id].flags & F_WIDE) ? 2 : 1;
}

int isa_check_slots(const struct bpf_insn *insns, size_t cnt, struct diag *log)
{
	for (size_t pc = 0; pc < cnt; pc++) {
		int id = isa_decode(&insns[pc]);
		if (id < 0 || !(isa_info[id].flags & F_WIDE))
			continue;
		int err = isa_check_wide(insns, cnt, pc, log);
		if (err)
			return err;
		pc++;
	}
	return 0;
}

int isa_validate(const struct bpf_insn *insns, size_t cnt, struct diag *log)
{
	uint8_t *hi_slot;
	int err = 0;

	if (cnt == 0) {
		diag_printf(log, "program has no instructions");
		return -EINVAL;
	}
	if (cnt > ISA_MAX_INSNS) {
		diag_printf(log, "program too large: %zu insns, limit %u", cnt, ISA_MAX_INSNS);
		return -E2BIG;
	}
	hi_slot = calloc(cnt, 1);
	if (!hi_slot)
		return -ENOMEM;
	for (size_t pc = 0; pc < cnt && !err; pc++) {
		const struct bpf_insn *in = &insns[pc];
		int id = isa_decode(in);

		if (id < 0) {
			diag_printf(log, "insn %zu: unknown opcode 0x%02x", pc, in->code);
			err = -EINVAL;
			break;
		}
		err = check_one(in, id, pc, log);
		if (err || !(isa_info[id].flags & F_WIDE))
			continue;
		if ((err = isa_check_wide(insns, cnt, pc, log)))
			break;
		hi_slot[++pc] = 1;
	}
	for (size_t pc = 0; pc < cnt && !err; pc++) {
		if (hi_slot[pc])
			continue;
		int id = isa_decode(&insns[pc]);
		if (!isa_has_target(id) && !isa_is_func_ref(&insns[pc])) /* an lddw of a function too */
			continue;
		int64_t t = isa_target(&insns[pc], pc);
		if (t < 0 || (uint64_t)t >= cnt) {
			if (isa_is_func_ref(&insns[pc])) /* Linux's words for each */
				diag_printf(log, "insn %zu: call to invalid destination", pc);
			else
				diag_printf(log, "insn %zu: jump out of range from insn %zu to %lld", pc, pc, (long long)t);
			err = -EINVAL;
		} else if (hi_slot[t]) {
			diag_printf(log, "insn %zu: jump into the middle of lddw at %lld", pc, (long long)t - 1);
			err = -EINVAL;
		}
	}
	if (!err) {
		int last = hi_slot[cnt - 1] ? -1 : isa_decode(&insns[cnt - 1]);
		/* A program must not run off its end (Linux: "last insn is not an exit or jmp"). */
		if (last < 0 || isa_falls_through(last)) {
			diag_printf(log, "insn %zu: last insn is not an exit or jmp", cnt - 1);
			err = -EINVAL;
		}
	}
	free(hi_slot);
	return err;
}
