/* util.h -- the leaf module: bounded reads, checked math, the instance allocator and error log.
 * Depends on nothing else in src/. */
#ifndef BPFVM_UTIL_H
#define BPFVM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "ckd.h"
#include "span.h"

/* Linux-internal errno that bpf() does return to user space (include/linux/errno.h) */
#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

static inline uint64_t zext32(uint64_t x) { return (uint32_t)x; }
static inline uint64_t sext32(uint64_t x) { return (uint64_t)(int64_t)(int32_t)(uint32_t)x; }
static inline uint64_t sext16(uint64_t x) { return (uint64_t)(int64_t)(int16_t)(uint16_t)x; }
static inline uint64_t sext8(uint64_t x) { return (uint64_t)(int64_t)(int8_t)(uint8_t)x; }

/* A growable error/verifier log. Messages are appended as lines; when the buffer is full the log keeps
 * what fits and sets `truncated`, so a cut message is never mistaken for a whole one.  Not thread-safe:
 * one writer at a time.  diag_clear/printf/vprintf/last accept NULL (nothing to write to or read). */
struct diag {
	char *buf;      /* owned, NUL-terminated */
	size_t len;
	size_t cap;
	int truncated;
	size_t max;     /* 0: unlimited (grow); else a hard cap */
};

void diag_init(struct diag *d, size_t max);
void diag_fini(struct diag *d);
void diag_clear(struct diag *d);
/* Appends one formatted line (a '\n' is added). Never fails: on ENOMEM it marks the log truncated. */
void diag_printf(struct diag *d, const char *fmt, ...) PRINTF_FMT(2, 3);
void diag_vprintf(struct diag *d, const char *fmt, va_list ap) PRINTF_FMT(2, 0);
/* Appends text to the last line (no line break).  Never fails, as diag_printf(). */
void diag_append(struct diag *d, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Drops everything after the first len bytes (a verifier rewinding its log to an earlier point). */
void diag_truncate(struct diag *d, size_t len);
/* The last line of the log (without its newline), for one-line error reports. */
const char *diag_last(const struct diag *d, char *buf, size_t len);

/* Read a whole file. Returns 0 and a malloc'd buffer (caller frees with free()), or a negative errno. */
int util_read_file(const char *path, uint8_t **out, size_t *len);

#endif
