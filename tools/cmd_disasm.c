/* cmd_disasm.c -- `bpfvm disasm FILE.bin|FILE.s`: print the program in LLVM syntax. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

#define USAGE_DISASM "usage: bpfvm disasm FILE.bin|FILE.s"

int cmd_disasm(int argc, char **argv)
{
	struct bpf_insn *insns;
	size_t cnt;
	int rc = 1;

	const char *in = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf(USAGE_DISASM "\n  prints the program in LLVM syntax, as llvm-objdump -d does; FILE is raw\n"
					   "  instructions, or assembly when its name ends in .s or .asm\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return tool_usage_error("disasm", "unknown option", USAGE_DISASM, argv[i]);
		} else if (in) {
			return tool_usage_error("disasm", "one file only: unexpected", USAGE_DISASM, argv[i]);
		}
		in = argv[i];
	}
	if (!in)
		return tool_usage_error("disasm", "no file given", USAGE_DISASM);
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm)
		return 1;
	if (tool_load_insns(vm, in, &insns, &cnt) == 0) {
		size_t need = bpfvm_disasm(insns, cnt, 1, NULL, 0);
		char *text = malloc(need + 1);
		if (text) {
			bpfvm_disasm(insns, cnt, 1, text, need + 1);
			fputs(text, stdout);
			free(text);
			rc = 0;
		}
		free(insns);
	}
	bpfvm_free(vm);
	return rc;
}
