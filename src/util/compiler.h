/* compiler.h -- every GNU extension bpfvm uses is named here, so the rest of the code reads as C11. */
#ifndef BPFVM_UTIL_COMPILER_H
#define BPFVM_UTIL_COMPILER_H

#include <assert.h>

#define PRINTF_FMT(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define UNUSED      __attribute__((unused))
#define NORETURN    __attribute__((noreturn))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE    __attribute__((noinline))
/* Unrolls the loop that follows completely when its trip count is a constant of at most n (gcc and
 * clang both read this pragma). */
#define UNROLL(n)   _Pragma(UNROLL_STR_(GCC unroll n))
#define UNROLL_STR_(x) #x

/* An id of the calling thread, unique among live threads, as cheap as a load: on x86-64 the thread
 * pointer, which %fs:0 holds (the TCB's pointer to itself, in glibc and musl alike); elsewhere
 * pthread_self().  pthread_self() is a call into libc, and a call makes its caller save registers
 * (a fifth of bpfvm_capture_run()'s own cost). */
#include <pthread.h>
#include <stdint.h>
static inline uintptr_t util_thread_id(void)
{
#if defined(__x86_64__) && defined(__linux__)
	uintptr_t tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return tp;
#else
	return (uintptr_t)pthread_self();
#endif
}
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
