/* fuzz_asm.c -- the assembler on arbitrary text.  Whatever assembles must disassemble, in every
 * number/register style, to text that assembles back to the same bytes (except the forms LLVM's
 * syntax cannot tell apart: local/kfunc calls print as helper calls, lddw pseudo sources as
 * "ld_pseudo"); anything else aborts, so libFuzzer keeps the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isa/isa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool reassembles(int id, const struct bpf_insn *in)
{
	uint8_t fmt = isa_info[id].fmt;
	return fmt != FMT_CALL_LOCAL && fmt != FMT_CALL_KFUNC && !(fmt == FMT_LDDW && in->src_reg);
}

static void round_trip(const struct bpf_insn *insns, size_t cnt)
{
	static const unsigned styles[] = { 0, ISA_DISASM_ALU32, ISA_DISASM_HEX, ISA_DISASM_ALU32 | ISA_DISASM_HEX };

	for (size_t pc = 0; pc < cnt;) {
		int id = isa_decode(&insns[pc]);
		size_t n = 1;
		if (id < 0)
			abort(); /* the assembler produced an encoding no row decodes */
		for (size_t s = 0; s < sizeof(styles) / sizeof(styles[0]); s++) {
			char line[200];
			n = isa_disasm_one_ex(&insns[pc], cnt - pc, styles[s], line, sizeof(line));
			if (!reassembles(id, &insns[pc]))
				continue;
			struct bpf_insn *back = NULL;
			size_t bcnt = 0;
			struct diag log;
			diag_init(&log, 1 << 12);
			if (isa_assemble(line, &back, &bcnt, &log) != 0)
				abort(); /* printed text the assembler refuses */
			if (bcnt != n || memcmp(back, &insns[pc], n * sizeof(*back)))
				abort(); /* disassembly does not round-trip */
			free(back);
			diag_fini(&log);
		}
		pc += n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1);
	struct diag log;
	struct bpf_insn *insns;
	size_t cnt;

	if (!src)
		return 0;
	memcpy(src, data, size);
	src[size] = '\0';
	diag_init(&log, 1 << 16);
	if (isa_assemble(src, &insns, &cnt, &log) == 0) {
		round_trip(insns, cnt);
		free(insns);
	}
	diag_fini(&log);
	free(src);
	return 0;
}
