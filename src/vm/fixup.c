/* fixup.c -- the one rewrite pass between validation (and later the verifier) and the engines: raw insns
 * -> pre-decoded vm_insns with resolved jump targets, lddw values and helper addresses.  The interpreter
 * and the JIT both start from its output, so they cannot disagree about what a program means.  Which
 * function a call id names, and whether the program may call it, is the loader's to say
 * (vm_services.resolve_call): vm/ knows no helper, program type or instance option. */
#include <errno.h>
#include <stdlib.h>

#include "vm.h"

/* prog->leaf and prog->stack_unreached from the fixed-up code (see struct vm_prog).  r10 counts as
 * used only as a base when it is the address register of a load, store or atomic (isa_validate()
 * refuses writes to it); any other mention of it (a copy, an operand, a stored value, a compare) may
 * let the program reach any depth. */
static void code_facts(struct vm_prog *prog)
{
	uint32_t reach = 0;
	bool escapes = false, calls = false;

	for (size_t pc = 0; pc < prog->cnt; pc++) {
		const struct vm_insn *in = &prog->insns[pc];
		unsigned mem = isa_mem_access(in->id);
		int base = !mem ? -1 : mem & ISA_MEM_BASE_SRC ? in->src : in->dst;

		if (in->id == ISA_LDDW_HI)
			continue;
		if (((isa_info[in->id].flags & F_CALL) && in->id != ISA_CALL_LOCAL) || in->id == ISA_TAIL_CALL)
			calls = true;
		if ((in->src == BPF_REG_10 && base != in->src) || (in->dst == BPF_REG_10 && base != in->dst))
			escapes = true;
		if (base == BPF_REG_10 && in->off < 0)
			reach = -(int32_t)in->off > (int32_t)reach ? (uint32_t)-(int32_t)in->off : reach;
		else if (base == BPF_REG_10) /* at or above r10: a fault in the entry frame, but a callee's
					      * reaches into its caller's, below what the caller touches
					      * itself (an unverified program: the verifier refuses it) */
			escapes = true;
	}
	prog->leaf = !calls;
	reach = (reach + 63) & ~63u;
	prog->stack_unreached = escapes || calls || reach > VM_STACK_SIZE ? 0 : VM_STACK_SIZE - reach;
}

int vm_fixup(struct vm_prog *prog, struct diag *log)
{
	const struct bpf_insn *orig = prog->orig;
	size_t cnt = prog->cnt;
	struct vm_insn *v = calloc(cnt, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (size_t pc = 0; pc < cnt && !err; pc++) {
		const struct bpf_insn *in = &orig[pc];
		int id = isa_decode(in);

		if (NEVER(id < 0)) { /* isa_validate() ran first */
			err = -EINVAL;
			break;
		}
		const struct isa_info *info = &isa_info[id];
		struct vm_insn *o = &v[pc];
		o->id = (uint8_t)id;
		o->dst = in->dst_reg;
		o->src = in->src_reg;
		o->size = info->size;
		o->off = in->off;
		o->k = (uint64_t)(int64_t)in->imm;
		if (isa_has_target(id)) {
			/* A byte delta from this insn, so a taken jump is one add and the sign says back-edge
			 * (where the budget is counted).  isa_validate() kept the target inside the program
			 * (ISA_MAX_INSNS * 16 bytes fits in 32 bits). */
			o->off = (int32_t)((isa_target(in, pc) - (int64_t)pc) * (int64_t)sizeof(*o));
			continue;
		}
		switch (info->fmt) {
		case FMT_CALL:
		case FMT_CALL_KFUNC:
			err = prog->svc->resolve_call(prog, in, pc, o, log);
			break;
		case FMT_LDDW:
			if (isa_is_func_ref(in)) {
				int64_t t = isa_target(in, pc);
				if (t < 0 || (uint64_t)t >= cnt) {
					diag_printf(log, "insn %zu: lddw function reference out of range", pc);
					err = -EINVAL;
					break;
				}
				o->k = (uintptr_t)&v[t];
			} else {
				o->k = (uint64_t)(uint32_t)in->imm | ((uint64_t)(uint32_t)orig[pc + 1].imm << 32);
			}
			v[pc + 1].id = ISA_LDDW_HI;
			pc++;
			break;
		default:
			break;
		}
	}
	if (err) {
		free(v);
		return err;
	}
	free(prog->insns);
	prog->insns = v;
	code_facts(prog);
	return 0;
}

int vm_prog_aux_init(struct vm_prog *prog)
{
	size_t n = 0;

	prog->aux = calloc(prog->cnt ? prog->cnt : 1, sizeof(*prog->aux));
	if (!prog->aux)
		return -ENOMEM;
	for (size_t pc = 0; pc < prog->cnt; pc++)
		prog->aux[pc].map_idx = VM_AUX_NO_MAP;
	if (prog->cnt)
		prog->aux[0].subprog_start = true;
	for (size_t pc = 0; pc < prog->cnt; pc++) {
		const struct bpf_insn *in = &prog->orig[pc];
		int id = isa_decode(in);
		if (isa_is_func_ref(in)) {
			int64_t t = isa_target(in, pc); /* validated: inside the program */
			if (t >= 0 && (uint64_t)t < prog->cnt)
				prog->aux[t].subprog_start = true;
		}
		if (id == ISA_LDDW) {
			prog->aux[pc].ldimm64_src = in->src_reg;
			pc++;
		}
	}
	for (size_t pc = 0; pc < prog->cnt; pc++)
		n += prog->aux[pc].subprog_start;
	prog->subprogs = malloc((n ? n : 1) * sizeof(*prog->subprogs));
	if (!prog->subprogs)
		return -ENOMEM;
	prog->subprog_cnt = 0;
	for (size_t pc = 0; pc < prog->cnt; pc++)
		if (prog->aux[pc].subprog_start)
			prog->subprogs[prog->subprog_cnt++] = (uint32_t)pc;
	return 0;
}

void vm_prog_free(struct vm_prog *prog)
{
	if (!prog)
		return;
	free(prog->insns);
	free(prog->orig);
	free(prog->aux);
	free(prog->subprogs);
	free(prog->map_regions);
	free(prog->used_map_ids);
	free(prog->used_maps);
	free(prog->map_descs);
	free(prog->lines);
	free(prog);
}

void vm_prog_trust(struct vm_prog *prog)
{
	if (!prog->trust_proofs)
		return;
	for (size_t pc = 0; pc < prog->cnt; pc++) {
		struct vm_insn *in = &prog->insns[pc];
		if (in->id >= ISA_COUNT || !isa_twin_of[in->id])
			continue;
		/* the fact that makes the row's check needless: a div/mod's divisor, else its access */
		unsigned need = VM_PROOF_REACHED | (isa_info[in->id].flags & F_ALU ? VM_PROOF_DIV_NONZERO : VM_PROOF_MEM);
		if ((prog->aux[pc].proof & need) == need)
			in->id = isa_twin_of[in->id];
	}
}
