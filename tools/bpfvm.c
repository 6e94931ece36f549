/* bpfvm.c -- the command-line front end: dispatches to one cmd_<name>() per subcommand. */
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

#include "cmd.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "asm", cmd_asm, "asm FILE.s [-o OUT.bin]           assemble (conformance or LLVM syntax)" },
	{ "disasm", cmd_disasm, "disasm FILE.o|FILE.bin|FILE.s   print instructions in LLVM syntax (objects as llvm-objdump -dr)" },
	{ "run", cmd_run, "run PROG [--mem HEX|--mem-file F] run a program (.s, .bin, or an ELF object: see `bpfvm run --help`)" },
	{ "verify", cmd_verify, "verify OBJ.o [--prog NAME] [--type TYPE] [--log 1|2] [--json]   prove each program safe (the verifier)" },
	{ "cc", cmd_cc, "cc FILE.bpf.c [-o FILE.o] [FLAGS]  compile BPF C (clang -O2 -g -target bpf, include paths)" },
	{ "map", cmd_map, "map COMMAND ...                  pinned maps like bpftool map (see `bpfvm map help`)" },
	{ "prog", cmd_prog, "prog load|run|show ...           pinned programs like bpftool prog (see `bpfvm prog --help`)" },
	{ "filter", cmd_filter, "filter 'EXPR' IN.pcap [-w OUT.pcap] [--count] [-d]   run a tcpdump filter expression" },
	{ "seccomp", cmd_seccomp, "seccomp POLICY --syscall NAME|NR [--arch x86_64] [--args A,B,..]   run a seccomp policy" },
	{ "gen-pcap", cmd_gen_pcap, "gen-pcap OUT.pcap [--seed N] [--count N] [--extra]   write the examples' sample traffic" },
	{ "conformance-plugin", cmd_conformance_plugin, "conformance-plugin [MEM_HEX]     bpf_conformance's plugin protocol" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: bpfvm <command> [args]   (bpfvm <command> --help: its options)\n"
		   "       bpfvm --version\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("bpfvm %s\n", bpfvm_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "bpfvm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
