/* span.h -- bounded reads of untrusted bytes. Every parser (ELF, BTF, pcap, asm input) reads through a
 * span, so an offset or size from the input can never reach past the buffer. */
#ifndef BPFVM_UTIL_SPAN_H
#define BPFVM_UTIL_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct span {
	const uint8_t *p;
	size_t len;
};

static inline bool span_ok(struct span s, uint64_t off, uint64_t n)
{
	return off <= s.len && n <= s.len - off; /* no addition, so no wrap-around */
}

static inline bool span_read(struct span s, uint64_t off, void *dst, size_t n)
{
	if (!span_ok(s, off, n))
		return false;
	memcpy(dst, s.p + off, n);
	return true;
}

/* The sub-span [off, off + n), or false when it does not fit. */
static inline bool span_sub(struct span s, uint64_t off, uint64_t n, struct span *out)
{
	if (!span_ok(s, off, n))
		return false;
	out->p = s.p + off;
	out->len = (size_t)n;
	return true;
}

#define SPAN_READ(s, off, objp) span_read((s), (off), (objp), sizeof(*(objp)))

#endif
