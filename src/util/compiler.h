/* compiler.h -- every GNU extension bpfvm uses is named here, so the rest of the code reads as C11. */
#ifndef BPFVM_UTIL_COMPILER_H
#define BPFVM_UTIL_COMPILER_H

#include <assert.h>

#define PRINTF_FMT(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define UNUSED      __attribute__((unused))
#define NORETURN    __attribute__((noreturn))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

/* SQLite's NEVER(): a defensive check of our own invariant. Loud in debug builds, still checked
 * (and survived) in release builds. */
#ifdef NDEBUG
#define NEVER(x) (x)
#else
#define NEVER(x) ((x) ? (assert(!#x), 1) : 0)
#endif

#endif
