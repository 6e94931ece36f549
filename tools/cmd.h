/* cmd.h -- the bpfvm CLI's subcommands, one file each (tools/cmd_<name>.c).  Each returns the process
 * exit status.  The CLI uses include/bpfvm.h only. */
#ifndef BPFVM_TOOLS_CMD_H
#define BPFVM_TOOLS_CMD_H

#include <stdio.h>

int cmd_asm(int argc, char **argv);
int cmd_disasm(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance_plugin(int argc, char **argv);
/* Object + packet runner (tools/cmd_run.c): `bpfvm run prog.o --pcap ...`. */
int cmd_run_pcap(int argc, char **argv);
void cmd_run_pcap_usage(FILE *f); /* the packet runner's options */
/* Pinned maps (tools/cmd_map.c): `bpfvm map create|show|lookup|update|delete|getnext|dump|pin|event ...`. */
int cmd_map(int argc, char **argv);
/* Sample traffic for the examples (tools/cmd_gen_pcap.c): `bpfvm gen-pcap OUT.pcap [--seed N] [--count N]`. */
int cmd_gen_pcap(int argc, char **argv);

#endif
