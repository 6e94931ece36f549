/* fuzz_asm.c -- the assembler on arbitrary text; whatever assembles must disassemble and, through the
 * LLVM syntax, assemble back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isa/isa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
		char line[160];
		for (size_t pc = 0; pc < cnt;) {
			size_t n = isa_disasm_one(&insns[pc], cnt - pc, line, sizeof(line));
			struct bpf_insn *back;
			size_t bcnt;
			struct diag l2;
			diag_init(&l2, 1 << 12);
			int id = isa_decode(&insns[pc]);
			bool printable = id >= 0 && isa_info[id].fmt != FMT_CALL_LOCAL && isa_info[id].fmt != FMT_CALL_KFUNC &&
					 !(isa_info[id].fmt == FMT_LDDW && insns[pc].src_reg);
			if (printable && isa_assemble(line, &back, &bcnt, &l2) == 0) {
				if (bcnt != n || memcmp(back, &insns[pc], n * sizeof(*back)))
					abort(); /* disassembly does not round-trip */
				free(back);
			}
			diag_fini(&l2);
			pc += n;
		}
		free(insns);
	}
	diag_fini(&log);
	free(src);
	return 0;
}
