/* cmd.h -- the bpfvm CLI's subcommands, one file each (tools/cmd_<name>.c).  Each returns the process
 * exit status.  The CLI uses include/bpfvm.h only. */
#ifndef BPFVM_TOOLS_CMD_H
#define BPFVM_TOOLS_CMD_H

#include <stdio.h>

/* A usage error: "bpfvm CMD: WHAT 'ARG'" (ARG when given) and the usage line on stderr.  Returns 2, the
 * exit status of a usage error.  Every subcommand reports a bad option or argument by name this way. */
#define tool_usage_error(cmd, what, usage, ...) tool_usage_error_((cmd), (what), (usage), ##__VA_ARGS__, NULL)
int tool_usage_error_(const char *cmd, const char *what, const char *usage, const char *arg, ...);

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance_plugin(int argc, char **argv);
/* Object + packet runner (tools/cmd_run.c): `bpfvm run prog.o --pcap ...`. */
int cmd_run_pcap(int argc, char **argv);
void cmd_run_pcap_usage(FILE *f); /* the packet runner's options */
/* `bpfvm run`'s file argument: the first argument that is neither an option nor an option's value. */
const char *cmd_run_file(int argc, char **argv);
/* Whether `a` is an option of the packet runner only (1) (raw programs do not take it). */
int cmd_run_object_opt(const char *a);
/* Pinned maps (tools/cmd_map.c): `bpfvm map create|show|lookup|update|delete|getnext|dump|pin|event ...`. */
int cmd_map(int argc, char **argv);
/* Pinned programs (tools/cmd_prog.c): `bpfvm prog load OBJ.o PATH | run PATH | show PATH`. */
int cmd_prog(int argc, char **argv);
/* BPF C to an object with the right target and include paths (tools/cmd_cc.c): `bpfvm cc x.bpf.c`. */
int cmd_cc(int argc, char **argv);
/* The verifier on an object's programs (tools/cmd_verify.c): `bpfvm verify OBJ.o [--prog NAME]`. */
int cmd_verify(int argc, char **argv);
/* Sample traffic for the examples (tools/cmd_gen_pcap.c): `bpfvm gen-pcap OUT.pcap [--seed N] [--count N]`. */
int cmd_gen_pcap(int argc, char **argv);

/* tcpdump filters (tools/cmd_filter.c): `bpfvm filter 'EXPR' IN.pcap [-w OUT] [--count] [-d]`. */
int cmd_filter(int argc, char **argv);
/* seccomp policies (tools/cmd_seccomp.c): `bpfvm seccomp POLICY --syscall NAME|NR [--arch A] [--args ..]`. */
int cmd_seccomp(int argc, char **argv);

#endif
