/* cmd_cc.c -- `bpfvm cc FILE.bpf.c [-o FILE.o] [clang flags]`: compiles BPF C as the examples are built
 * (clang -O2 -g -target bpf -mcpu=v3) with the include path Debian's kernel headers need: <linux/bpf.h>
 * includes <asm/types.h>, which lives in /usr/include/<multiarch>/ and is not on clang's path for the
 * bpf target.  libbpf's headers (<bpf/bpf_helpers.h>) come from /usr/include (libbpf-dev).  The user's
 * flags follow ours, so they win (-O0, -mcpu=v4, -I...).  -g matters: the BTF it produces describes the
 * maps and lets the runtime name source lines and print map values by type. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bpfvm cc FILE.bpf.c [-o FILE.o] [--dry-run] [clang flags...]\n"
		   "  compiles with: clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/<multiarch> -c FILE -o FILE.o\n"
		   "  -o        output (default: the source's name with .o for .c, in the current directory)\n"
		   "  --dry-run print the clang command instead of running it\n"
		   "  CLANG     environment variable: the compiler to run (default clang)\n");
}

int cmd_cc(int argc, char **argv)
{
	const char *src = NULL, *out = NULL;
	bool dry = false;
	char **extra = calloc((size_t)argc + 1, sizeof(*extra));
	size_t extra_cnt = 0;
	int rc = 2;

	if (!extra)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			free(extra);
			return 0;
		} else if (!strcmp(a, "--dry-run")) {
			dry = true;
		} else if (!strcmp(a, "-o")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "bpfvm cc: -o needs a file name\n");
				goto out;
			}
			out = argv[++i];
		} else if (a[0] != '-' && !src && strlen(a) > 2 && !strcmp(a + strlen(a) - 2, ".c")) {
			src = a;
		} else if (!strcmp(a, "-c")) {
			/* implied */
		} else {
			extra[extra_cnt++] = argv[i]; /* clang's own flags (and their values) pass through */
		}
	}
	if (!src) {
		fprintf(stderr, "bpfvm cc: no C source given (a FILE.c argument)\n");
		usage(stderr);
		goto out;
	}
	if (!dry && access(src, R_OK)) {
		fprintf(stderr, "bpfvm cc: %s: %s\n", src, strerror(errno));
		rc = 1;
		goto out;
	}
	char outbuf[4096];
	if (!out) {
		const char *base = strrchr(src, '/');
		base = base ? base + 1 : src;
		snprintf(outbuf, sizeof(outbuf), "%.*s.o", (int)(strlen(base) - 2), base);
		out = outbuf;
	}
	/* <linux/bpf.h> -> <linux/types.h> -> <asm/types.h>: Debian keeps asm/ per architecture */
	char multiarch[512] = "", inc[600] = "";
	struct utsname u;
	if (!uname(&u)) {
		struct stat st;
		snprintf(multiarch, sizeof(multiarch), "/usr/include/%s-linux-gnu", u.machine);
		char probe[600];
		snprintf(probe, sizeof(probe), "%s/asm/types.h", multiarch);
		if (!stat(probe, &st))
			snprintf(inc, sizeof(inc), "-I%s", multiarch);
	}
	const char *clang = getenv("CLANG");
	if (!clang || !*clang)
		clang = "clang";
	const char *args[64 + 16];
	size_t n = 0;
	args[n++] = clang;
	args[n++] = "-O2";
	args[n++] = "-g";
	args[n++] = "-target";
	args[n++] = "bpf";
	args[n++] = "-mcpu=v3";
	if (inc[0])
		args[n++] = inc;
	for (size_t i = 0; i < extra_cnt && n < 64; i++)
		args[n++] = extra[i];
	if (extra_cnt > 64 - 8) {
		fprintf(stderr, "bpfvm cc: too many clang flags (at most %d)\n", 64 - 8);
		goto out;
	}
	args[n++] = "-c";
	args[n++] = src;
	args[n++] = "-o";
	args[n++] = out;
	args[n] = NULL;
	if (dry) {
		for (size_t i = 0; i < n; i++)
			printf("%s%s", i ? " " : "", args[i]);
		putchar('\n');
		rc = 0;
		goto out;
	}
	if (access("/usr/include/bpf/bpf_helpers.h", R_OK))
		fprintf(stderr, "bpfvm cc: note: libbpf's headers (/usr/include/bpf/) are missing: install libbpf-dev\n");
	fflush(stdout);
	execvp(clang, (char *const *)args);
	fprintf(stderr, "bpfvm cc: cannot run %s: %s (install clang, or set CLANG to the compiler)\n", clang,
		strerror(errno));
	rc = 1;
out:
	free(extra);
	return rc;
}
