/* cmd_run.c -- `bpfvm run prog.o --pcap ...`: placeholder until the packet runner lands. */
#include <stdio.h>

#include "cmd.h"

int cmd_run_pcap(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "bpfvm: %s: running objects on packets is not implemented yet\n", argv[1]);
	return 1;
}
