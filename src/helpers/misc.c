/* misc.c -- string, probe_read and bpf_loop helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

/* bpf_strtol/strtoul: Linux's semantics (kernel/bpf/helpers.c: __bpf_strtoull): leading spaces, an
 * optional sign (strtol only), base 0/8/10/16 with the low 5 bits of flags; returns chars consumed. */
static long parse_ull(const char *s, size_t len, uint64_t flags, unsigned long long *res, bool *neg)
{
	unsigned base = flags & 0x1f;
	size_t i = 0;

	if (flags & ~0x1full || (base != 0 && base != 8 && base != 10 && base != 16) || len == 0)
		return -EINVAL;
	while (i < len && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
		i++;
	*neg = false;
	if (i < len && s[i] == '-') {
		*neg = true;
		i++;
	}
	if (base == 0 || base == 16) {
		if (i + 1 < len && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
			base = 16;
			i += 2;
		} else if (base == 0) {
			base = i < len && s[i] == '0' ? 8 : 10;
		}
	}
	size_t start = i;
	unsigned long long v = 0;
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
		else break;
		if (d >= base)
			break;
		if (CKD_MUL(&v, v, base) || CKD_ADD(&v, v, d))
			return -ERANGE;
	}
	if (i == start)
		return -EINVAL;
	*res = v;
	return (long)i;
}

uint64_t hlp_strtol(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	const char *s = hlp_mem(run, r1, r2, false, "bpf_strtol");
	int64_t *res = hlp_mem(run, r4, 8, true, "bpf_strtol");
	unsigned long long v;
	bool neg;

	(void)r5;
	if (!s || !res)
		return 0;
	long n = parse_ull(s, (size_t)r2, r3, &v, &neg);
	if (n < 0)
		return (uint64_t)n;
	if (neg) {
		if (v > (unsigned long long)INT64_MAX + 1)
			return (uint64_t)-ERANGE;
		*res = v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return (uint64_t)-ERANGE;
		*res = (int64_t)v;
	}
	return (uint64_t)n;
}

uint64_t hlp_strtoul(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	const char *s = hlp_mem(run, r1, r2, false, "bpf_strtoul");
	uint64_t *res = hlp_mem(run, r4, 8, true, "bpf_strtoul");
	unsigned long long v;
	bool neg;

	(void)r5;
	if (!s || !res)
		return 0;
	long n = parse_ull(s, (size_t)r2, r3, &v, &neg);
	if (n < 0)
		return (uint64_t)n;
	if (neg)
		return (uint64_t)-EINVAL;
	*res = v;
	return (uint64_t)n;
}

uint64_t hlp_strncmp(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	/* long bpf_strncmp(const char *s1, u32 s1_sz, const char *s2): s2 is a constant string */
	const char *s1 = hlp_mem(run, r1, r2, false, "bpf_strncmp");
	const char *s2 = (const char *)(uintptr_t)r3;

	(void)r4, (void)r5;
	if (!s1)
		return 0;
	for (size_t i = 0; i < r2; i++) {
		if (!vm_mem_ok(run, (uintptr_t)(s2 + i), 1, false)) {
			vm_fault(run, -EFAULT, "bpf_strncmp", (uintptr_t)(s2 + i), 1);
			return 0;
		}
		unsigned char a = (unsigned char)s1[i], b = (unsigned char)s2[i];
		if (a != b)
			return a < b ? (uint64_t)-1 : 1;
		if (!a)
			return 0;
	}
	if (!vm_mem_ok(run, (uintptr_t)(s2 + r2), 1, false))
		return 0;
	return s2[r2] ? (uint64_t)-1 : 0;
}

/* Reads host memory that may be unmapped: process_vm_readv on ourselves fails with EFAULT instead of
 * faulting, as copy_from_kernel_nofault() does in Linux. */
static long read_nofault(void *dst, const void *src, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)(uintptr_t)src, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return r == (ssize_t)n ? 0 : -EFAULT;
}

static uint64_t probe_read(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name)
{
	void *d = hlp_mem(run, dst, size, true, name);

	if (!d)
		return 0;
	if (read_nofault(d, (const void *)(uintptr_t)src, (size_t)size)) {
		memset(d, 0, (size_t)size); /* Linux zeroes the destination on failure */
		return (uint64_t)-EFAULT;
	}
	return 0;
}

static uint64_t probe_read_str(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name)
{
	char *d = hlp_mem(run, dst, size, true, name);

	if (!d || size == 0)
		return d ? 0 : 0;
	for (size_t i = 0; i < size; i++) {
		char c;
		if (i + 1 == size) {
			d[i] = '\0';
			return i + 1;
		}
		if (read_nofault(&c, (const char *)(uintptr_t)src + i, 1)) {
			memset(d, 0, (size_t)size);
			return (uint64_t)-EFAULT;
		}
		d[i] = c;
		if (!c)
			return i + 1;
	}
	return size;
}

#define PROBE(name_, fn_) \
	uint64_t hlp_##name_(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5) \
	{ \
		(void)r4, (void)r5; \
		return fn_(run, r1, r2, r3, "bpf_" #name_); \
	}
PROBE(probe_read, probe_read)
PROBE(probe_read_kernel, probe_read)
PROBE(probe_read_user, probe_read)
PROBE(probe_read_str, probe_read_str)
PROBE(probe_read_kernel_str, probe_read_str)
PROBE(probe_read_user_str, probe_read_str)
#undef PROBE

uint64_t hlp_loop(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	/* long bpf_loop(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags) */
	(void)r5;
	if (r4)
		return (uint64_t)-EINVAL;
	if (r1 > (1u << 23)) /* Linux BPF_MAX_LOOPS */
		return (uint64_t)-E2BIG;
	for (uint64_t i = 0; i < r1; i++) {
		uint64_t ret = vm_call_subprog(run, r2, i, r3, 0, 0, 0);
		if (run->err)
			return 0;
		if (ret)
			return i + 1;
	}
	return r1;
}
