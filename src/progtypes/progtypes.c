/* progtypes.c -- the table of program types.  (Initial version: every type may call every helper.) */
#include <errno.h>
#include <linux/bpf.h>

#include "progtypes.h"

bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id)
{
	(void)prog_type;
	(void)helper_id;
	return true;
}

/* (Lead's placeholder until the program-types work lands: keep these names.) */
bool pt_known(uint32_t prog_type)
{
	return prog_type <= BPF_PROG_TYPE_SYSCALL;
}

int pt_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr)
{
	(void)vm, (void)prog, (void)attr;
	return -EOPNOTSUPP;
}
