/* progtypes.h -- program types: context layouts (kernel UAPI), which helpers each may call, test runs.
 * (Initial version by the lead; the program-types work completes it.) */
#ifndef BPFVM_PROGTYPES_H
#define BPFVM_PROGTYPES_H

#include <stdbool.h>
#include <stdint.h>

/* May a program of prog_type call helper `helper_id`?  Follows Linux's *_func_proto lists. */
bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id);

/* Is prog_type a type bpfvm can load (Linux's BPF_PROG_TYPE_* it implements, or UNSPEC for plain
 * functions of (mem, len))? */
bool pt_known(uint32_t prog_type);

struct bpfvm;
struct vm_prog;
union bpf_attr;
/* BPF_PROG_TEST_RUN with Linux's semantics for the program's type (net/bpf/test_run.c). */
int pt_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr);

#endif
