/* cmd_disasm.c -- `bpfvm disasm FILE.bin|FILE.s`: print the program in LLVM syntax. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "util.h"

int cmd_disasm(int argc, char **argv)
{
	struct bpf_insn *insns;
	size_t cnt;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: bpfvm disasm FILE.bin|FILE.s\n");
		return 2;
	}
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm)
		return 1;
	if (tool_load_insns(vm, argv[1], &insns, &cnt) == 0) {
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
