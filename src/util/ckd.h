/* ckd.h -- checked arithmetic (C23 ckd_* spelled with the GCC builtins). Each returns true on overflow. */
#ifndef BPFVM_UTIL_CKD_H
#define BPFVM_UTIL_CKD_H

#define CKD_ADD(r, a, b) __builtin_add_overflow((a), (b), (r))
#define CKD_SUB(r, a, b) __builtin_sub_overflow((a), (b), (r))
#define CKD_MUL(r, a, b) __builtin_mul_overflow((a), (b), (r))

#endif
