/* test_conformance.c -- the data-driven test runner.
 *
 * 1. bpf_conformance (../shared/conformance, when present): every test's prebuilt program
 *    (bin/<name>.prog.bin), memory (bin/<name>.mem.bin) and expected r0 (bin/<name>.expect) go through
 *    `bpfvm conformance-plugin --interp` exactly as bpf_conformance drives a plugin.
 * 2. The negative tests there: each must fail to assemble, fail to load, or give another result.
 * 3. bpfvm's own tests/data/<area>/<name>.data (same format, plus `-- error` = a substring the error
 *    log must contain, and `-- fault` = the run must fail with that message), run in-process.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"

#define CONF_DIR "../shared/conformance"

struct tcase {
	char *asm_text, *raw, *mem, *result, *error;
	int has_result;
};

static char *read_text(const char *path, size_t *len_out)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	if (len_out)
		*len_out = (size_t)n;
	fclose(f);
	return buf;
}

static void append(char **dst, const char *line)
{
	size_t a = *dst ? strlen(*dst) : 0, b = strlen(line);
	char *n = realloc(*dst, a + b + 2);
	if (!n)
		abort();
	memcpy(n + a, line, b);
	n[a + b] = '\n';
	n[a + b + 1] = '\0';
	*dst = n;
}

/* Parses a .data file (bpf_conformance's format). */
static void parse_case(char *text, struct tcase *tc)
{
	char **cur = NULL;
	memset(tc, 0, sizeof(*tc));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "-- ", 3)) {
			const char *sec = line + 3;
			cur = !strcmp(sec, "asm") ? &tc->asm_text : !strcmp(sec, "raw") ? &tc->raw :
			      !strcmp(sec, "mem") ? &tc->mem : !strcmp(sec, "result") ? &tc->result :
			      !strncmp(sec, "error", 5) ? &tc->error : NULL;
			if (cur == &tc->result)
				tc->has_result = 1;
			if (cur && !*cur)
				append(cur, "");
			continue;
		}
		if (cur && line[0] != '#')
			append(cur, line);
		else if (cur == &tc->asm_text)
			append(cur, line);
	}
}

static void free_case(struct tcase *tc)
{
	free(tc->asm_text);
	free(tc->raw);
	free(tc->mem);
	free(tc->result);
	free(tc->error);
}

static int parse_hex_bytes(const char *s, uint8_t **out, size_t *len)
{
	size_t cap = strlen(s) / 2 + 1, n = 0;
	uint8_t *b = malloc(cap);
	while (*s) {
		if (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') {
			s++;
			continue;
		}
		unsigned v;
		if (sscanf(s, "%2x", &v) != 1) {
			free(b);
			return -1;
		}
		b[n++] = (uint8_t)v;
		s += 2;
	}
	*out = b;
	*len = n;
	return 0;
}

static char plugin_path[4096];

/* Runs the plugin with stdin = prog hex; captures stdout.  Returns exit status. */
static int run_plugin(const uint8_t *prog, size_t prog_len, const uint8_t *mem, size_t mem_len, char *out,
		      size_t out_len)
{
	char *memhex = malloc(mem_len * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < mem_len; i++)
		o += (size_t)sprintf(memhex + o, "%02x ", mem[i]);
	memhex[o] = '\0';
	int in_pipe[2], out_pipe[2];
	if (pipe(in_pipe) || pipe(out_pipe))
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in_pipe[0], 0);
		dup2(out_pipe[1], 1);
		close(in_pipe[1]);
		close(out_pipe[0]);
		if (mem_len)
			execl(plugin_path, "bpfvm", "conformance-plugin", memhex, "--interp", (char *)NULL);
		else
			execl(plugin_path, "bpfvm", "conformance-plugin", "--interp", (char *)NULL);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	FILE *w = fdopen(in_pipe[1], "w");
	for (size_t i = 0; i < prog_len; i++)
		fprintf(w, "%02x ", prog[i]);
	fclose(w);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < out_len && (r = read(out_pipe[0], out + n, out_len - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(out_pipe[0]);
	int st;
	waitpid(pid, &st, 0);
	free(memhex);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void conformance_suite(void)
{
	DIR *d = opendir(CONF_DIR "/tests");
	struct dirent *e;
	int pass = 0, fail = 0;

	if (!d) {
		printf("SKIP conformance: %s not present\n", CONF_DIR "/tests");
		return;
	}
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 5, ".data"))
			continue;
		char name[256], path[1024];
		snprintf(name, sizeof(name), "%.*s", (int)(nl - 5), e->d_name);
		size_t plen = 0, mlen = 0;
		snprintf(path, sizeof(path), CONF_DIR "/bin/%s.prog.bin", name);
		uint8_t *prog = (uint8_t *)read_text(path, &plen);
		snprintf(path, sizeof(path), CONF_DIR "/bin/%s.mem.bin", name);
		uint8_t *mem = (uint8_t *)read_text(path, &mlen);
		snprintf(path, sizeof(path), CONF_DIR "/bin/%s.expect", name);
		char *expect = read_text(path, NULL);
		char out[4096];
		if (!prog || !expect) {
			printf("FAIL conformance/%s: missing bin files\n", name);
			fail++;
		} else {
			int rc = run_plugin(prog, plen, mem, mlen, out, sizeof(out));
			unsigned long long want = strtoull(expect, NULL, 16), got = strtoull(out, NULL, 16);
			if (rc != 0 || want != got) {
				printf("FAIL conformance/%s: rc=%d output=%s expected %s\n", name, rc, out, expect);
				fail++;
			} else {
				printf("PASS conformance/%s\n", name);
				pass++;
			}
		}
		free(prog);
		free(mem);
		free(expect);
	}
	closedir(d);
	test_passed_cnt += pass;
	test_failed_cnt += fail;
}

/* Runs a case in-process.  Returns 0 when it behaves as the case says; *why explains otherwise. */
static int run_case(struct tcase *tc, char *why, size_t why_len)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpf_insn *insns = NULL;
	uint8_t *mem = NULL, *raw = NULL;
	size_t cnt = 0, mem_len = 0, raw_len = 0;
	int bad = 1;
	char err[2048] = "";

	bpfvm_set_insn_limit(vm, 10000000);
	if (tc->asm_text) {
		long n = bpfvm_asm(vm, tc->asm_text, NULL, 0);
		if (n < 0) {
			snprintf(err, sizeof(err), "%s", bpfvm_errmsg(vm));
			goto check;
		}
		insns = calloc((size_t)n + 1, sizeof(*insns));
		bpfvm_asm(vm, tc->asm_text, insns, (size_t)n);
		cnt = (size_t)n;
	} else if (tc->raw) {
		if (parse_hex_bytes(tc->raw, &raw, &raw_len) || raw_len % 8) {
			snprintf(err, sizeof(err), "raw section is not whole instructions");
			goto check;
		}
		insns = (struct bpf_insn *)raw;
		raw = NULL;
		cnt = raw_len / 8;
	} else {
		snprintf(err, sizeof(err), "no program");
		goto check;
	}
	if (tc->mem && parse_hex_bytes(tc->mem, &mem, &mem_len)) {
		snprintf(why, why_len, "bad mem section");
		goto out;
	}
	int fd = bpfvm_prog_load(vm, 0, insns, cnt, "test");
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s", bpfvm_errmsg(vm));
		goto check;
	}
	uint64_t r0;
	if (bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, mem_len, &r0)) {
		snprintf(err, sizeof(err), "%s", bpfvm_errmsg(vm));
		goto check;
	}
	if (tc->error) {
		snprintf(why, why_len, "expected error '%s' but ran, r0=0x%llx", tc->error, (unsigned long long)r0);
		goto out;
	}
	if (!tc->has_result) {
		snprintf(why, why_len, "no -- result section");
		goto out;
	}
	unsigned long long want = strtoull(tc->result, NULL, 0);
	if (want != r0) {
		snprintf(why, why_len, "r0=0x%llx expected 0x%llx", (unsigned long long)r0, want);
		goto out;
	}
	bad = 0;
	goto out;
check:
	if (!tc->error) {
		snprintf(why, why_len, "failed: %s", err);
		goto out;
	}
	char want_err[1024];
	snprintf(want_err, sizeof(want_err), "%s", tc->error);
	want_err[strcspn(want_err, "\n")] = '\0';
	if (!strstr(err, want_err)) {
		snprintf(why, why_len, "error '%s' does not contain '%s'", err, want_err);
		goto out;
	}
	bad = 0;
out:
	free(insns);
	free(mem);
	free(raw);
	bpfvm_free(vm);
	return bad;
}

static void negative_suite(void)
{
	DIR *d = opendir(CONF_DIR "/negative");
	struct dirent *e;

	if (!d) {
		printf("SKIP conformance-negative: not present\n");
		return;
	}
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".data"))
			continue;
		char path[1024], why[4096];
		snprintf(path, sizeof(path), CONF_DIR "/negative/%s", e->d_name);
		char *text = read_text(path, NULL);
		struct tcase tc;
		parse_case(text, &tc);
		/* a negative test passes when the case does NOT behave as written (no error expected) */
		free(tc.error);
		tc.error = NULL;
		int failed = run_case(&tc, why, sizeof(why));
		if (failed) {
			printf("PASS negative/%s\n", e->d_name);
			test_passed_cnt++;
		} else {
			printf("FAIL negative/%s: was accepted and gave the expected result\n", e->d_name);
			test_failed_cnt++;
		}
		free_case(&tc);
		free(text);
	}
	closedir(d);
}

static void own_suite(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d) {
		printf("FAIL own-data: cannot open %s\n", dir);
		test_failed_cnt++;
		return;
	}
	while ((e = readdir(d))) {
		char path[2048];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			own_suite(path);
			continue;
		}
		if (!strstr(e->d_name, ".data"))
			continue;
		char *text = read_text(path, NULL);
		struct tcase tc;
		char why[4096] = "";
		parse_case(text, &tc);
		if (run_case(&tc, why, sizeof(why))) {
			printf("FAIL %s: %s\n", path, why);
			test_failed_cnt++;
		} else {
			printf("PASS %s\n", path);
			test_passed_cnt++;
		}
		free_case(&tc);
		free(text);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[4096];
	snprintf(self, sizeof(self), "%s", argv[0]);
	snprintf(plugin_path, sizeof(plugin_path), "%s/../bpfvm", dirname(self));
	if (access(plugin_path, X_OK)) {
		printf("FAIL conformance: plugin %s not built\n", plugin_path);
		return 1;
	}
	conformance_suite();
	negative_suite();
	own_suite("tests/data");
	return test_done();
}
