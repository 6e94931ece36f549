/* misc.c -- string, probe_read and bpf_loop helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "helpers.h"

/* bpf_strtol/strtoul: Linux's __bpf_strtoull() (kernel/bpf/helpers.c) step by step: leading isspace()
 * (kernel ctype, so 0xa0 too), an optional '-', then at most 63 bytes copied to a NUL-terminated buffer
 * and parsed as _parse_integer_fixup_radix() + _parse_integer() do: base 0 picks 16 only for "0x"
 * followed by a hex digit ("0x" alone is octal 0), base 16 skips a "0x" prefix.  Overflow is -ERANGE
 * (the digits are still consumed); no digits is -EINVAL.  Returns the bytes consumed. */
static bool kernel_isspace(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

static long parse_ull(const char *s, size_t len, uint64_t flags, unsigned long long *res, bool *neg)
{
	unsigned base = flags & 0x1f;
	size_t i = 0;
	char str[64];

	if (len == 0 || (base != 0 && base != 8 && base != 10 && base != 16) || (flags & ~0x1full))
		return -EINVAL;
	while (i < len && kernel_isspace((unsigned char)s[i]))
		i++;
	*neg = i < len && s[i] == '-';
	if (*neg)
		i++;
	if (i == len)
		return -EINVAL;
	size_t n = len - i < sizeof(str) - 1 ? len - i : sizeof(str) - 1;
	memcpy(str, s + i, n);
	str[n] = '\0';
	const char *p = str;
	if (base == 0)
		base = p[0] != '0' ? 10 : (p[1] | 0x20) == 'x' && hexval(p[2]) < 16 ? 16 : 8;
	if (base == 16 && p[0] == '0' && (p[1] | 0x20) == 'x')
		p += 2;
	unsigned long long v = 0;
	bool overflow = false;
	const char *d = p;
	for (; hexval(*d) < (int)base; d++)
		overflow |= CKD_MUL(&v, v, base) || CKD_ADD(&v, v, (unsigned)hexval(*d));
	if (overflow)
		return -ERANGE;
	if (d == p)
		return -EINVAL;
	*res = v;
	return (long)(i + (size_t)(d - str));
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
	return 0; /* Linux: strncmp(s1, s2, s1_sz), equal over s1_sz bytes whatever follows in s2 */
}

/* Reads host memory that may be unmapped: process_vm_readv on ourselves fails with EFAULT instead of
 * faulting, as copy_from_kernel_nofault() does in Linux.  Used for the ranges a host hook registered,
 * which bpfvm cannot vouch for. */
static long read_nofault(void *dst, const void *src, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)(uintptr_t)src, n };

	if (n == 0)
		return 0;
	ssize_t r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	return r == (ssize_t)n ? 0 : -EFAULT;
}

/* May a probe read take [src, src + n) from the program's own memory?  What a load may read (stack of
 * the calling frame and its callers, regions, maps' values), except that the ctx is judged byte by byte
 * (a kprobe's struct pt_regs may be read whole by bpf_probe_read, though loads are 1-8 bytes). */
static bool probe_own(const struct vm_run *run, uintptr_t src, size_t n)
{
	if (run->ctx_ok && run->region_cnt && src >= run->regions[0].lo && src < run->regions[0].hi) {
		if (n > run->regions[0].hi - src)
			return false;
		uint32_t off = (uint32_t)(src - run->regions[0].lo);
		for (size_t i = 0; i < n; i++)
			if (!run->ctx_ok(run, off + (uint32_t)i, 1, false))
				return false;
		return true;
	}
	return vm_mem_ok(run, src, n, false);
}

/* Is [src, src + n) inside one range a host hook registered as readable? */
static bool probe_host(const struct vm_run *run, uintptr_t src, size_t n)
{
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < run->probe_mem_cnt[k]; i++) {
			uintptr_t lo = (uintptr_t)run->probe_mem[k][i].addr;
			size_t len = run->probe_mem[k][i].len;
			if (src >= lo && src - lo <= len && n <= len - (src - lo))
				return true;
		}
	return false;
}

/* The probe reads read what the program may read or a host hook registered, nothing else of the host
 * process: in Linux they read kernel memory the program may not load from; in bpfvm that would be the
 * whole host.  Anything else is -EFAULT, as an unmapped address is in Linux (the caller zeroes). */
static long probe_copy(const struct vm_run *run, void *dst, uint64_t src, size_t n)
{
	if (n == 0)
		return 0;
	if (src + n < src)
		return -EFAULT;
	if (probe_own(run, (uintptr_t)src, n)) {
		memmove(dst, (const void *)(uintptr_t)src, n); /* the source may be the destination's own stack */
		return 0;
	}
	if (probe_host(run, (uintptr_t)src, n))
		return read_nofault(dst, (const void *)(uintptr_t)src, n);
	return -EFAULT;
}

static uint64_t probe_read(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name)
{
	void *d = hlp_mem(run, dst, size, true, name);

	if (!d)
		return 0;
	if (probe_copy(run, d, src, (size_t)size)) {
		memset(d, 0, (size_t)size); /* Linux zeroes the destination on failure */
		return (uint64_t)-EFAULT;
	}
	return 0;
}

/* The _str variants, as Linux's strncpy_from_{kernel,user}_nofault(): copy up to size bytes stopping
 * after a NUL, always NUL-terminate, return the bytes written including the NUL (size when cut short).
 * One quirk is kept: the user flavour returns 0, not 1, for an empty string (mm/maccess.c only adds
 * the NUL to a positive length).  On a fault the whole destination is zeroed and -EFAULT returned. */
static uint64_t probe_read_str_common(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name,
				      bool user)
{
	char *d = hlp_mem(run, dst, size, true, name);

	if (!d || size == 0)
		return 0;
	for (size_t i = 0; i < size; i++) {
		char c;
		if (i + 1 == size) {
			d[i] = '\0';
			return i + 1;
		}
		if (probe_copy(run, &c, src + i, 1)) {
			memset(d, 0, (size_t)size);
			return (uint64_t)-EFAULT;
		}
		d[i] = c;
		if (!c)
			return user && i == 0 ? 0 : i + 1;
	}
	return size;
}

static uint64_t probe_read_str(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name)
{
	return probe_read_str_common(run, dst, size, src, name, false);
}

/* bpf_probe_read_str (45) is bpf_probe_read_compat_str: below TASK_SIZE, which every address of this
 * process is, it is the user flavour. */
static uint64_t probe_read_user_str(struct vm_run *run, uint64_t dst, uint64_t size, uint64_t src, const char *name)
{
	return probe_read_str_common(run, dst, size, src, name, true);
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
PROBE(probe_read_str, probe_read_user_str)
PROBE(probe_read_kernel_str, probe_read_str)
PROBE(probe_read_user_str, probe_read_user_str)
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
