/* diag.c -- the error log behind every located message ("prog.o: section xdp: insn 17: ...").
 * A log has one writer at a time (the instance keeps one per thread: sys.c, struct sys_log).  Writing
 * functions accept a NULL log and drop the message: that is what a log whose allocation failed is. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void diag_init(struct diag *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max;
}

void diag_fini(struct diag *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

void diag_clear(struct diag *d)
{
	if (!d)
		return;
	d->len = 0;
	d->truncated = 0;
	if (d->buf)
		d->buf[0] = '\0';
}

/* sep: start a new line (else the text continues the last one) */
static void put(struct diag *d, bool sep, const char *fmt, va_list ap) PRINTF_FMT(3, 0);
static void put(struct diag *d, bool sep, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (!d)
		return;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	size_t need = d->len + (size_t)n + 2;
	if (d->max && need > d->max) {
		d->truncated = 1;
		return;
	}
	if (need > d->cap) {
		size_t cap = d->cap ? d->cap : 256;
		while (cap < need)
			cap *= 2;
		char *nb = realloc(d->buf, cap);
		if (!nb) {
			d->truncated = 1;
			return;
		}
		d->buf = nb;
		d->cap = cap;
	}
	/* lines are separated, not terminated, by '\n': a caller prints the log as one message with its
	 * own line end (bpfvm_errmsg() has none, as strerror() has none) */
	if (d->len && sep)
		d->buf[d->len++] = '\n';
	vsnprintf(d->buf + d->len, d->cap - d->len, fmt, ap);
	d->len += (size_t)n;
	d->buf[d->len] = '\0';
}

void diag_vprintf(struct diag *d, const char *fmt, va_list ap)
{
	put(d, true, fmt, ap);
}

void diag_append(struct diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put(d, false, fmt, ap);
	va_end(ap);
}

void diag_truncate(struct diag *d, size_t len)
{
	if (d && d->buf && len < d->len) {
		d->len = len;
		d->buf[len] = '\0';
	}
}

void diag_printf(struct diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vprintf(d, fmt, ap);
	va_end(ap);
}

const char *diag_last(const struct diag *d, char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = '\0';
	if (!d || !d->buf || !d->len)
		return buf;
	size_t end = d->len;
	while (end > 0 && d->buf[end - 1] == '\n')
		end--;
	size_t start = end;
	while (start > 0 && d->buf[start - 1] != '\n')
		start--;
	size_t n = end - start;
	if (n >= len)
		n = len - 1;
	memcpy(buf, d->buf + start, n);
	buf[n] = '\0';
	return buf;
}

int util_read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				free(buf);
				fclose(f);
				return -EIO;
			}
			break;
		}
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}
