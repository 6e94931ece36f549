/* replay.c -- main() for fuzz targets outside libFuzzer: feeds every file of fuzz/corpus/<target>/ to
 * LLVMFuzzerTestOneInput, where <target> is the binary name without "fuzz_" and "-replay".  `make test`
 * runs these, so every input that once crashed stays a regression test (SQLite's fuzzcheck). */
#include <dirent.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	char self[4096], target[256], dir[4400];
	(void)argc;

	snprintf(self, sizeof(self), "%s", argv[0]);
	const char *base = basename(self);
	if (strncmp(base, "fuzz_", 5)) {
		printf("FAIL replay: binary name %s does not start with fuzz_\n", base);
		return 1;
	}
	snprintf(target, sizeof(target), "%s", base + 5);
	char *dash = strstr(target, "-replay");
	if (dash)
		*dash = '\0';
	/* the corpus lives in the source tree: run from the repository root (make test does) */
	snprintf(dir, sizeof(dir), "fuzz/corpus/%s", target);
	DIR *d = opendir(dir);
	if (!d) {
		printf("SKIP replay_%s: no corpus directory %s\n", target, dir);
		return 0;
	}
	struct dirent *e;
	size_t n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[8192];
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *buf = read_all(path, &len);
		if (!buf)
			continue;
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	/* reaching here means no input crashed (sanitizer builds abort on any error) */
	printf("PASS replay_%s (%zu inputs)\n", target, n);
	return 0;
}
