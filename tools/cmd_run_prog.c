/* cmd_run.c -- `bpfvm run PROG`: run a raw program (.s or .bin) once on memory given as a file or hex,
 * and print r0.  ELF objects and packet sources (--pcap, --iface) go to the packet runner.
 * A raw program is untrusted unless --trusted says otherwise (bpfvm_opts.untrusted, README "Safety"):
 * it may come from anywhere, and nothing but the run-time checks stands between it and this process. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

#define USAGE_RUN "usage: bpfvm run PROG.s|PROG.bin [--mem HEX | --mem-file FILE] [--insn-limit N|unlimited] [--trusted] [--interp]\n" \
		  "       bpfvm run PROG.o [--prog NAME] [--type TYPE] (--pcap IN.pcap | --iface IF) [--out OUT.pcap] [-v] [--json]"

int cmd_run(int argc, char **argv)
{
	const char *prog = NULL, *mem_hex = NULL, *mem_file = NULL;
	uint64_t limit = BPFVM_INSN_LIMIT_DEFAULT;
	int untrusted = 1, interp = 0, verify = BPFVM_VERIFY_ON;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fprintf(stdout, "The file chooses the mode: an ELF object runs on packets, anything else is a raw\n"
					"program (assembly text or instructions) run once on memory.\n\n");
			fprintf(stdout, "usage: bpfvm run PROG.s|PROG.bin [--mem HEX | --mem-file FILE] [--insn-limit N|unlimited]\n"
					"                 [--trusted | --untrusted]\n"
					"  --untrusted  (the default) Linux's unprivileged rules: no probe reads; a pointer\n"
					"               returned in r0, stored outside the stack or given to a helper faults\n"
					"  --trusted    the program is yours: those checks are off (memory checks stay)\n"
					"  --interp     run it in the interpreter (default: the x86-64 JIT where available)\n"
					"  --no-verify  accepted for symmetry with objects: a raw program (a plain function of\n"
					"               r1 = mem, r2 = its length) has the run-time checks as its proof either way\n");
			cmd_run_pcap_usage(stdout);
			fputs(TOOL_INSN_LIMIT_HELP, stdout);
			return 0;
		}
	}
	/* The file's contents choose the runner, not the flags: an ELF object runs on packets, anything
	 * else is a raw program (assembly or instructions) run once on memory. */
	const char *file = cmd_run_file(argc, argv);
	if (!file)
		return tool_usage_error("run", "no program given", USAGE_RUN);
	if (access(file, R_OK)) {
		fprintf(stderr, "bpfvm run: %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (tool_is_elf(file))
		return cmd_run_pcap(argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool raw_opt = !strcmp(a, "--mem") || !strcmp(a, "--mem-file") || !strcmp(a, "--insn-limit");
		if (raw_opt && i + 1 >= argc)
			return tool_usage_error("run", "missing the value of", USAGE_RUN, a);
		if (!strcmp(a, "--mem"))
			mem_hex = argv[++i];
		else if (!strcmp(a, "--mem-file"))
			mem_file = argv[++i];
		else if (!strcmp(a, "--insn-limit")) {
			if (tool_parse_insn_limit("run", argv[++i], &limit))
				return 2;
		} else if (!strcmp(a, "--trusted"))
			untrusted = 0;
		else if (!strcmp(a, "--untrusted"))
			untrusted = 1;
		else if (!strcmp(a, "--interp"))
			interp = 1;
		else if (!strcmp(a, "--no-verify"))
			verify = BPFVM_VERIFY_OFF;
		else if (cmd_run_object_opt(a)) {
			fprintf(stderr, "bpfvm run: %s is not an ELF object, so '%s' does not apply: packet runs take an\n"
					"object built from C (bpfvm cc prog.bpf.c); a raw program (assembly or instructions)\n"
					"runs once on --mem HEX or --mem-file FILE\n", file, a);
			return 2;
		} else if (a[0] == '-' && a[1])
			return tool_usage_error("run", "unknown option", USAGE_RUN, a);
		else if (a == file)
			prog = a;
		else
			return tool_usage_error("run", "one program only: unexpected argument", USAGE_RUN, a);
	}
	struct bpfvm_opts vo = { .sz = sizeof(vo), .untrusted = untrusted, .interp = interp, .verify = verify };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct bpf_insn *insns = NULL;
	uint8_t *mem = NULL;
	size_t cnt, mem_len = 0;
	int rc = 1;

	if (!vm)
		return 1;
	if (bpfvm_set_insn_limit(vm, limit)) {
		fprintf(stderr, "bpfvm run: %s\n", bpfvm_errmsg(vm));
		goto out;
	}
	if (tool_load_insns(vm, prog, &insns, &cnt))
		goto out;
	if (mem_hex && tool_parse_hex(mem_hex, &mem, &mem_len)) {
		fprintf(stderr, "bpfvm: --mem: not hex bytes\n");
		goto out;
	}
	if (mem_file && !(mem = tool_read_file(mem_file, &mem_len)))
		goto out;
	int fd = bpfvm_prog_load(vm, 0, insns, cnt, "run");
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", prog, bpfvm_errmsg(vm));
		goto out;
	}
	uint64_t r0;
	tool_stop_on_signals(vm); /* Ctrl-C stops even a program that spins without a budget */
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_DEFAULT, mem, mem_len, &r0);
	tool_stop_on_signals(NULL);
	if (err) {
		fprintf(stderr, "%s: %s\n", prog, bpfvm_errmsg(vm));
		if (err == -EINTR && *tool_stop_signal())
			rc = 128 + *tool_stop_signal(); /* as a shell reports a process the signal ended */
		goto out;
	}
	printf("0x%" PRIx64 "\n", r0);
	rc = 0;
out:
	free(insns);
	free(mem);
	bpfvm_free(vm);
	return rc;
}
