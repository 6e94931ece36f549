/* printk.c -- bpf_trace_printk and bpf_snprintf: Linux's restricted printf (bpf_bprintf_prepare()):
 * only %d %i %u %x %X %o %c %s %p %% with l/ll modifiers, at most 3 (trace_printk) or 12 (snprintf)
 * arguments; %s arguments are read through the same checks as any other helper argument. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "../core/core.h"

#define MAX_ARGS_SNPRINTF 12

/* The conversion specs passed to snprintf() below are assembled from a whitelist of flags, digits and
 * conversions, never copied from the program, so a non-literal format is safe here. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* Formats fmt (fmt_len bytes, must contain a NUL) with args into out.  Returns the length the whole
 * output needs (excluding NUL), or a negative errno for an invalid format. */
static long bprintf(struct vm_run *run, char *out, size_t out_len, const char *fmt, size_t fmt_len,
		    const uint64_t *args, unsigned nargs)
{
	size_t o = 0;
	unsigned ai = 0;

	if (!memchr(fmt, 0, fmt_len))
		return -EINVAL;
#define PUT(c) do { if (o + 1 < out_len) out[o] = (c); o++; } while (0)
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			PUT(*f);
			continue;
		}
		f++;
		if (*f == '%') {
			PUT('%');
			continue;
		}
		if (ai >= nargs)
			return -EINVAL;
		char spec[16];
		size_t sl = 0;
		spec[sl++] = '%';
		/* flags and width as Linux allows ("-+ 0#" and digits) */
		while (*f && strchr("-+ 0#", *f) && sl < 6)
			spec[sl++] = *f++;
		while (*f >= '0' && *f <= '9' && sl < 9)
			spec[sl++] = *f++;
		int lmod = 0;
		while (*f == 'l' && lmod < 2) {
			lmod++;
			f++;
		}
		char conv = *f;
		char tmp[512];
		int n;
		uint64_t a = args[ai++];
		if (conv == 's') {
			const char *s = (const char *)(uintptr_t)a;
			char sbuf[256];
			size_t k = 0;
			/* copy byte by byte through the checks: the string may end anywhere */
			while (k + 1 < sizeof(sbuf)) {
				if (!s || !vm_mem_ok(run, (uintptr_t)(s + k), 1, false)) {
					snprintf(sbuf, sizeof(sbuf), "(efault)");
					k = strlen(sbuf);
					break;
				}
				if (!s[k])
					break;
				sbuf[k] = s[k];
				k++;
			}
			sbuf[k] = '\0';
			spec[sl++] = 's';
			spec[sl] = '\0';
			n = snprintf(tmp, sizeof(tmp), spec, sbuf);
		} else if (conv == 'c') {
			spec[sl++] = 'c';
			spec[sl] = '\0';
			n = snprintf(tmp, sizeof(tmp), spec, (int)(char)a);
		} else if (conv == 'p') {
			/* %pK/%pS etc. are kernel-only; plain %p prints the value */
			if (f[1] && strchr("KSBsiIhb", f[1]))
				return -EINVAL;
			n = snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)a);
		} else if (conv && strchr("diuxXo", conv)) {
			bool is_signed = conv == 'd' || conv == 'i';
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = conv;
			spec[sl] = '\0';
			if (lmod == 0)
				a = is_signed ? sext32(a) : zext32(a);
			if (is_signed)
				n = snprintf(tmp, sizeof(tmp), spec, (long long)a);
			else
				n = snprintf(tmp, sizeof(tmp), spec, (unsigned long long)a);
		} else {
			return -EINVAL;
		}
		for (int i = 0; i < n && (size_t)i < sizeof(tmp) - 1; i++)
			PUT(tmp[i]);
	}
	if (out_len)
		out[o < out_len ? o : out_len - 1] = '\0';
#undef PUT
	return (long)o;
}

uint64_t hlp_trace_printk(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	const char *fmt = hlp_mem(run, r1, r2, false, "bpf_trace_printk");
	uint64_t args[3] = { r3, r4, r5 };
	char buf[1024];

	if (!fmt || r2 == 0)
		return (uint64_t)-EINVAL;
	long n = bprintf(run, buf, sizeof(buf), fmt, (size_t)r2, args, 3);
	if (n < 0)
		return (uint64_t)n;
	size_t len = (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;
	struct bpfvm *vm = run->vm;
	if (vm->print)
		vm->print(vm->print_ctx, buf, len);
	else
		fwrite(buf, 1, len, stderr);
	return (uint64_t)len;
}

uint64_t hlp_snprintf(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	/* long bpf_snprintf(char *str, u32 str_size, const char *fmt, u64 *data, u32 data_len) */
	char *out = hlp_mem(run, r1, r2, true, "bpf_snprintf");
	uint64_t args[MAX_ARGS_SNPRINTF];

	if (!out && r2)
		return 0;
	if (r5 % 8 || r5 / 8 > MAX_ARGS_SNPRINTF)
		return (uint64_t)-EINVAL;
	const uint64_t *data = hlp_mem(run, r4, r5, false, "bpf_snprintf");
	if (!data && r5)
		return 0;
	memcpy(args, data, (size_t)r5);
	/* fmt is a constant string in a read-only map: at most what the map region allows */
	const char *fmt = (const char *)(uintptr_t)r3;
	size_t flen = 0;
	while (flen < 4096 && vm_mem_ok(run, (uintptr_t)(fmt + flen), 1, false) && fmt[flen])
		flen++;
	if (flen == 4096 || !vm_mem_ok(run, (uintptr_t)(fmt + flen), 1, false))
		return (uint64_t)-EINVAL;
	long n = bprintf(run, out, (size_t)r2, fmt, flen + 1, args, (unsigned)(r5 / 8));
	if (n < 0)
		return (uint64_t)n;
	return (uint64_t)n + 1; /* Linux: bytes including the NUL */
}
