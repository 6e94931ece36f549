/* progtypes.h -- program types: context layouts (kernel UAPI), which helpers each may call, test runs.
 * (Initial version by the lead; the program-types work completes it.) */
#ifndef BPFVM_PROGTYPES_H
#define BPFVM_PROGTYPES_H

#include <stdbool.h>
#include <stdint.h>

/* May a program of prog_type call helper `helper_id`?  Follows Linux's *_func_proto lists. */
bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id);

#endif
