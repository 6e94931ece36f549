/* cmd_conformance.c -- `bpfvm conformance-plugin [MEM_HEX] [--interp | --jit] [--no-verify]`:
 * bpf_conformance's plugin protocol.  The program arrives on stdin as base16 text (two hex digits per
 * byte, whitespace between), the memory argument uses the same encoding; the program runs with r1 = a
 * copy of the memory and r2 = its length; on success r0 is printed in hex and the exit status is 0, on
 * failure a one-line message and a non-zero status.  By default the program declares that memory's size
 * (bpfvm_prog_opts.declare_mem) and is verified first, so a run skips the checks the verifier proved;
 * --no-verify loads it unverified, every access checked at run time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

/* bpf_conformance's plugins register helper 5 as an identity function ("unwind" in uBPF, which stops
 * the program when it returns 0; the tests only exercise the non-zero path). */
static uint64_t identity_helper(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return r1;
}

static void one_line(const char *msg)
{
	/* the protocol wants one line: keep the last line of the log */
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		n--;
	size_t s = n;
	while (s && msg[s - 1] != '\n')
		s--;
	fprintf(stdout, "%.*s\n", (int)(n - s), msg + s);
}

int cmd_conformance_plugin(int argc, char **argv)
{
	enum bpfvm_engine engine = BPFVM_ENGINE_DEFAULT;
	const char *mem_hex = NULL;
	static const struct bpfvm_kfunc helpers[] = { { 5, "unwind", identity_helper } };
	struct bpfvm_opts opts = { .sz = sizeof(opts), .helpers = helpers, .helper_cnt = 1,
				   .verify = BPFVM_VERIFY_ON };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--interp"))
			engine = BPFVM_ENGINE_INTERP;
		else if (!strcmp(argv[i], "--jit"))
			engine = BPFVM_ENGINE_JIT;
		else if (!strcmp(argv[i], "--no-verify"))
			opts.verify = BPFVM_VERIFY_OFF;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: bpfvm conformance-plugin [MEM_HEX] [--interp | --jit] [--no-verify]\n"
			       "  reads a program as hex on stdin, runs it with r1 = MEM, r2 = its length, prints r0\n"
			       "  (default engine: the JIT where available; the program is verified first unless\n"
			       "  --no-verify)\n");
			return 0;
		}
		else if (!mem_hex)
			mem_hex = argv[i];
		else {
			fprintf(stderr, "bpfvm conformance-plugin: unexpected argument '%s'\n"
					"usage: bpfvm conformance-plugin [MEM_HEX] [--interp | --jit] [--no-verify]\n", argv[i]);
			return 2;
		}
	}
	size_t text_len, prog_len, mem_len = 0;
	uint8_t *text = tool_read_file("-", &text_len), *prog = NULL, *mem = NULL;
	int rc = 1;
	struct bpfvm *vm = bpfvm_new(&opts);

	if (!text || !vm)
		goto out;
	if (tool_parse_hex((const char *)text, &prog, &prog_len)) {
		one_line("invalid program encoding: expected hex bytes on stdin");
		goto out;
	}
	if (mem_hex && tool_parse_hex(mem_hex, &mem, &mem_len)) {
		one_line("invalid memory encoding: expected hex bytes");
		goto out;
	}
	if (prog_len % 8) {
		one_line("program length is not a multiple of 8 bytes");
		goto out;
	}
	/* the size is known before the load: declared, the verifier proves accesses against it */
	struct bpfvm_prog_opts po = { .sz = sizeof(po), .name = "conformance", .declare_mem = 1, .mem_len = mem_len };
	int fd = bpfvm_prog_load_opts(vm, 0, (const struct bpf_insn *)prog, prog_len / 8, &po);
	if (fd < 0) {
		one_line(bpfvm_errmsg(vm));
		goto out;
	}
	uint64_t r0;
	if (bpfvm_prog_run(vm, fd, engine, mem, mem_len, &r0)) {
		one_line(bpfvm_errmsg(vm));
		goto out;
	}
	printf("%" PRIx64 "\n", r0);
	rc = 0;
out:
	free(text);
	free(prog);
	free(mem);
	bpfvm_free(vm);
	return rc;
}
