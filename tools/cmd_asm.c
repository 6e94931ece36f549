/* cmd_asm.c -- `bpfvm asm FILE.s [-o OUT.bin]`: assemble to raw instructions (stdout as hex without -o). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

#define USAGE_ASM "usage: bpfvm asm FILE.s [-o OUT.bin]"

int cmd_asm(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	struct bpf_insn *insns;
	size_t cnt;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: bpfvm asm FILE.s [-o OUT.bin]\n"
			       "  assembles (bpf_conformance syntax `mov %%r0, 1` or LLVM `r0 = 1`, labels); FILE - is stdin;\n"
			       "  without -o the instructions are printed as hex, one per line\n");
			return 0;
		} else if (!strcmp(argv[i], "-o")) {
			if (i + 1 >= argc)
				return tool_usage_error("asm", "-o needs a file name", USAGE_ASM);
			out = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return tool_usage_error("asm", "unknown option", USAGE_ASM, argv[i]);
		} else if (!in) {
			in = argv[i];
		} else {
			return tool_usage_error("asm", "one source file only: unexpected", USAGE_ASM, argv[i]);
		}
	}
	if (!in)
		return tool_usage_error("asm", "no source file given", USAGE_ASM);
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm)
		return 1;
	size_t len;
	char *src = (char *)tool_read_file(in, &len);
	if (!src)
		goto out;
	long n = bpfvm_asm(vm, src, NULL, 0);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", in, bpfvm_errmsg(vm));
		goto out_src;
	}
	cnt = (size_t)n;
	insns = calloc(cnt ? cnt : 1, sizeof(*insns));
	if (!insns || bpfvm_asm(vm, src, insns, cnt) != n)
		goto out_insns;
	if (out) {
		FILE *f = fopen(out, "wb");
		if (!f || fwrite(insns, sizeof(*insns), cnt, f) != cnt) {
			fprintf(stderr, "bpfvm: %s: cannot write\n", out);
			if (f)
				fclose(f);
			goto out_insns;
		}
		if (fclose(f))
			goto out_insns;
	} else {
		const uint8_t *b = (const uint8_t *)insns;
		for (size_t i = 0; i < cnt * 8; i++)
			printf("%02x%c", b[i], i % 8 == 7 ? '\n' : ' ');
	}
	rc = 0;
out_insns:
	free(insns);
out_src:
	free(src);
out:
	bpfvm_free(vm);
	return rc;
}
