/* test_conformance.c -- the data-driven test runner.
 *
 * 1. bpf_conformance (../shared/conformance, when present): every test's prebuilt program
 *    (bin/<name>.prog.bin), memory (bin/<name>.mem.bin) and expected r0 (bin/<name>.expect) go through
 *    `bpfvm conformance-plugin --interp` exactly as bpf_conformance drives a plugin, and again through
 *    `--jit` on x86-64, each verified (the plugin's default) and with `--no-verify`.  All CONF_POSITIVE_CNT of them must be found and pass under each engine: a
 *    missing file is a failure, not a smaller suite.
 * 2. The negative tests there, through the assembler and the loader in-process: each must be rejected
 *    (assembler or load error; with the case's `-- error` text when it gives one).  The one exception is
 *    a case whose program is valid but whose `-- result` is deliberately wrong: it passes when it runs
 *    and gives another result (bpf_conformance itself must report such a test as failed).
 * 3. bpfvm's own tests/data/<area>/<name>.data (same format, plus `-- error` = a substring the error
 *    log must contain, from whichever stage failed, and `-- fault` = the program must assemble and
 *    load, and its run must stop with a fault whose message contains that substring), run in-process.
 *    Every case that loads runs under both engines: the JIT's r0, memory and fault message (err, insn,
 *    address) must be the interpreter's.  Every case that runs is loaded again verified, its memory
 *    declared; where the verifier accepts it, the run (unchecked where proven) must give the same r0
 *    and memory.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define CONF_DIR test_conformance_dir()
#define CONF_POSITIVE_CNT 313   /* every test in bpf_conformance's tests/ (uBPF passes 312) */
#define CONF_NEGATIVE_CNT 60

struct tcase {
	char *asm_text, *raw, *mem, *result, *error, *fault;
	int has_result, has_error;
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
			      !strncmp(sec, "error", 5) ? &tc->error : !strcmp(sec, "fault") ? &tc->fault : NULL;
			if (cur == &tc->result)
				tc->has_result = 1;
			if (cur == &tc->error)
				tc->has_error = 1;
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
	free(tc->fault);
}

/* The first non-blank line of a section, trimmed ("" when the section is empty or absent). */
static void first_line(const char *sec, char *out, size_t len)
{
	const char *s = sec ? sec : "";
	while (*s == '\n' || *s == ' ' || *s == '\t')
		s++;
	size_t n = strcspn(s, "\n");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	snprintf(out, len, "%.*s", (int)n, s);
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
		      size_t out_len, const char *engine, const char *verify)
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
			execl(plugin_path, "bpfvm", "conformance-plugin", memhex, engine, verify, (char *)NULL);
		else
			execl(plugin_path, "bpfvm", "conformance-plugin", engine, verify, (char *)NULL);
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

/* verify: the plugin's default (verified, the checks it proved dropped) or "--no-verify" (NULL ends the
 * plugin's arguments there) */
static void conformance_suite(const char *engine, const char *verify, const char *tag)
{
	char dpath[1024];
	snprintf(dpath, sizeof(dpath), "%s/tests", CONF_DIR);
	DIR *d = opendir(dpath);
	struct dirent *e;
	int pass = 0, fail = 0;

	if (!d) {
		printf("SKIP conformance: %s/tests not present\n", CONF_DIR);
		return;
	}
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 5, ".data"))
			continue;
		char name[256], path[1024];
		snprintf(name, sizeof(name), "%.*s", (int)(nl - 5), e->d_name);
		size_t plen = 0, mlen = 0;
		snprintf(path, sizeof(path), "%s/bin/%s.prog.bin", CONF_DIR, name);
		uint8_t *prog = (uint8_t *)read_text(path, &plen);
		snprintf(path, sizeof(path), "%s/bin/%s.mem.bin", CONF_DIR, name);
		uint8_t *mem = (uint8_t *)read_text(path, &mlen);
		snprintf(path, sizeof(path), "%s/bin/%s.expect", CONF_DIR, name);
		char *expect = read_text(path, NULL);
		char out[4096];
		if (!prog || !expect) {
			printf("FAIL %s/%s: missing bin files\n", tag, name);
			fail++;
		} else {
			int rc = run_plugin(prog, plen, mem, mlen, out, sizeof(out), engine, verify);
			char *end;
			unsigned long long want = strtoull(expect, NULL, 16), got = strtoull(out, &end, 16);
			if (rc != 0 || end == out || want != got) {
				printf("FAIL %s/%s: rc=%d output=%s expected %s\n", tag, name, rc, out, expect);
				fail++;
			} else {
				printf("PASS %s/%s\n", tag, name);
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
	if (pass + fail != CONF_POSITIVE_CNT || pass != CONF_POSITIVE_CNT) {
		printf("FAIL %s-count: %d tests found, %d passed, expected %d of %d\n", tag, pass + fail, pass,
		       CONF_POSITIVE_CNT, CONF_POSITIVE_CNT);
		test_failed_cnt++;
	} else {
		printf("PASS %s-count: %d of %d passed\n", tag, pass, CONF_POSITIVE_CNT);
		test_passed_cnt++;
	}
}

/* How far a case got, in-process. */
enum outcome {
	BAD_CASE,      /* the .data file itself is malformed */
	REJECT_ASM,    /* no program, or the assembler refused it */
	REJECT_LOAD,   /* bpfvm_prog_load refused it */
	FAULT_RUN,     /* loaded, then the run stopped with a fault */
	RAN,           /* ran to exit; *r0 holds the result */
	ENGINES_DIFFER,/* the JIT's run differs from the interpreter's (r0, memory, fault) */
};

/* bpfvm's own cases that also ran verified, unchecked where proven (verified_run()) */
static int verified_runs;

/* The program of a case that ran, loaded again verified as an UNSPEC program declaring its memory
 * (bpfvm_prog_opts.declare_mem): where the verifier accepts it, the run skips the checks it proved and
 * must give the checked run's r0 and memory.  1: it did; 0: the verifier refused it (nothing to
 * compare); -1: it differs, why in `why`. */
static int verified_run(const struct bpf_insn *insns, size_t cnt, const uint8_t *mem0, size_t mem_len,
			const uint8_t *want_mem, uint64_t want_r0, char *why, size_t why_len)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .interp = 1 };
	struct bpfvm_prog_opts po = { .sz = sizeof(po), .name = "verified", .declare_mem = 1, .mem_len = mem_len };
	struct bpfvm *vm = bpfvm_new(&o);
	uint8_t *m = mem_len ? malloc(mem_len) : NULL;
	int ret = 0;

	if (!vm || (mem_len && !m)) {
		snprintf(why, why_len, "out of memory");
		ret = -1;
		goto out;
	}
	bpfvm_set_insn_limit(vm, 10000000);
	int fd = bpfvm_prog_load_opts(vm, 0, insns, cnt, &po);
	if (fd < 0)
		goto out;
	if (mem_len)
		memcpy(m, mem0, mem_len);
	uint64_t r0 = 0;
	int rc = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, m, mem_len, &r0);
	if (rc || r0 != want_r0 || (mem_len && memcmp(m, want_mem, mem_len))) {
		snprintf(why, why_len, "verified run: rc=%d '%s' r0=0x%" PRIx64 " (checked: 0x%" PRIx64 ")%s", rc,
			 rc ? bpfvm_errmsg(vm) : "", r0, want_r0, mem_len && memcmp(m, want_mem, mem_len) ? "; memory differs" : "");
		ret = -1;
	} else {
		ret = 1;
	}
out:
	free(m);
	bpfvm_free(vm);
	return ret;
}

/* Assembles (or decodes), loads and runs a case.  err receives the message of the stage that failed. */
static enum outcome attempt(const struct tcase *tc, char *err, size_t err_len, uint64_t *r0)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpf_insn *insns = NULL;
	uint8_t *mem = NULL, *raw = NULL;
	size_t cnt = 0, mem_len = 0, raw_len = 0;
	enum outcome oc;

	err[0] = '\0';
	if (!vm) {
		snprintf(err, err_len, "bpfvm_new failed");
		return BAD_CASE;
	}
	bpfvm_set_insn_limit(vm, 10000000);
	if (tc->asm_text) {
		long n = bpfvm_asm(vm, tc->asm_text, NULL, 0);
		if (n < 0) {
			snprintf(err, err_len, "%s", bpfvm_errmsg(vm));
			oc = REJECT_ASM;
			goto out;
		}
		insns = calloc((size_t)n + 1, sizeof(*insns));
		if (!insns || bpfvm_asm(vm, tc->asm_text, insns, (size_t)n) != n) {
			snprintf(err, err_len, "second assembler pass disagrees with the first");
			oc = BAD_CASE;
			goto out;
		}
		cnt = (size_t)n;
	} else if (tc->raw) {
		if (parse_hex_bytes(tc->raw, &raw, &raw_len) || raw_len % 8) {
			snprintf(err, err_len, "raw section is not whole instructions");
			oc = BAD_CASE;
			goto out;
		}
		insns = (struct bpf_insn *)raw;
		raw = NULL;
		cnt = raw_len / 8;
	} else {
		snprintf(err, err_len, "no program");
		oc = REJECT_ASM;
		goto out;
	}
	if (tc->mem && parse_hex_bytes(tc->mem, &mem, &mem_len)) {
		snprintf(err, err_len, "bad mem section");
		oc = BAD_CASE;
		goto out;
	}
	int fd = bpfvm_prog_load(vm, 0, insns, cnt, "test");
	if (fd < 0) {
		snprintf(err, err_len, "%s", bpfvm_errmsg(vm));
		oc = REJECT_LOAD;
		goto out;
	}
	uint8_t *mem0 = mem_len ? malloc(mem_len) : NULL;
	if (mem_len && !mem0) {
		snprintf(err, err_len, "out of memory");
		oc = BAD_CASE;
		goto out;
	}
	if (mem_len)
		memcpy(mem0, mem, mem_len);
	int rc = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, mem_len, r0);
	snprintf(err, err_len, "%s", rc ? bpfvm_errmsg(vm) : "");
	oc = rc ? FAULT_RUN : RAN;
	/* The same run on the JIT's native code, on the same buffer restored: r0, memory and the fault
	 * (its message names err, insn and address) must be identical.  Skipped where there is no JIT. */
	uint8_t *mem_i = mem_len ? malloc(mem_len) : NULL;
	if (mem_len && mem_i) {
		memcpy(mem_i, mem, mem_len);
		memcpy(mem, mem0, mem_len);
	}
	uint64_t r0_jit = 0;
	int rc_jit = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, mem, mem_len, &r0_jit);
	if (rc_jit != -EOPNOTSUPP && (mem_i || !mem_len)) {
		const char *jerr = rc_jit ? bpfvm_errmsg(vm) : "";
		if (rc_jit != rc || (!rc && r0_jit != *r0) || strcmp(jerr, err) ||
		    (mem_len && memcmp(mem, mem_i, mem_len))) {
			snprintf(err, err_len, "interpreter: rc=%d r0=0x%" PRIx64 " '%s'; JIT: rc=%d r0=0x%" PRIx64 " '%s'%s",
				 rc, *r0, rc ? "fault" : "", rc_jit, r0_jit, jerr,
				 mem_len && memcmp(mem, mem_i, mem_len) ? "; memory differs" : "");
			oc = ENGINES_DIFFER;
		}
	}
	if (oc == RAN && (mem_i || !mem_len)) {
		char verr[1024];
		int v = verified_run(insns, cnt, mem0, mem_len, mem_i, *r0, verr, sizeof(verr));
		if (v < 0) {
			snprintf(err, err_len, "%s", verr);
			oc = ENGINES_DIFFER;
		}
		verified_runs += v > 0;
	}
	free(mem0);
	free(mem_i);
out:
	/* one line for the report, every line of the log kept */
	for (size_t n = strlen(err); n && err[n - 1] == '\n'; n--)
		err[n - 1] = '\0';
	for (char *c = err; (c = strchr(c, '\n')); )
		*c = ' ';
	free(insns);
	free(mem);
	free(raw);
	bpfvm_free(vm);
	return oc;
}

static const char *const outcome_name[] = {
	[BAD_CASE] = "malformed case", [REJECT_ASM] = "assembler error", [REJECT_LOAD] = "load error",
	[FAULT_RUN] = "run-time fault", [RAN] = "ran", [ENGINES_DIFFER] = "engines differ",
};

/* Runs one of bpfvm's own cases.  Returns 0 when it behaves as the case says; *why explains otherwise. */
static int run_case(const struct tcase *tc, char *why, size_t why_len)
{
	char err[2048], want[1024];
	uint64_t r0 = 0;
	enum outcome oc = attempt(tc, err, sizeof(err), &r0);

	if (oc == BAD_CASE) {
		snprintf(why, why_len, "malformed case: %s", err);
		return 1;
	}
	if (oc == ENGINES_DIFFER) {
		snprintf(why, why_len, "engines differ: %s", err);
		return 1;
	}
	if (tc->fault) {
		first_line(tc->fault, want, sizeof(want));
		if (!want[0]) {
			snprintf(why, why_len, "empty -- fault section");
			return 1;
		}
		if (oc != FAULT_RUN) {
			snprintf(why, why_len, "expected a run-time fault '%s', got %s: %s r0=0x%" PRIx64, want,
				 outcome_name[oc], err, r0);
			return 1;
		}
		if (!strstr(err, want)) {
			snprintf(why, why_len, "fault '%s' does not contain '%s'", err, want);
			return 1;
		}
		return 0;
	}
	if (tc->has_error) {
		first_line(tc->error, want, sizeof(want));
		if (oc == RAN) {
			snprintf(why, why_len, "expected error '%s' but ran, r0=0x%" PRIx64, want, r0);
			return 1;
		}
		if (!strstr(err, want)) {
			snprintf(why, why_len, "error '%s' does not contain '%s'", err, want);
			return 1;
		}
		return 0;
	}
	if (oc != RAN) {
		snprintf(why, why_len, "failed (%s): %s", outcome_name[oc], err);
		return 1;
	}
	if (!tc->has_result) {
		snprintf(why, why_len, "no -- result section");
		return 1;
	}
	char *end;
	unsigned long long want_r0 = strtoull(tc->result, &end, 0);
	if (end == tc->result) {
		snprintf(why, why_len, "-- result is not a number");
		return 1;
	}
	if (want_r0 != r0) {
		snprintf(why, why_len, "r0=0x%" PRIx64 " expected 0x%llx", r0, want_r0);
		return 1;
	}
	return 0;
}

/* Where bpf_conformance's expected text is its own assembler's or a kernel's wording, the message bpfvm
 * gives for the same mistake. */
static const struct { const char *file, *text; } negative_wording[] = {
	{ "error.data", "R10 pointer arithmetic with or prohibited" },   /* `or %r0, %r10`: "Invalid" */
	{ "invalid_unknown_directive.data", "no instructions" },          /* "Invalid register" */
};

static const char *icase_strstr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return hay;
	return n ? NULL : hay;
}

/* Returns 0 when a negative case is refused as it should be. */
static int run_negative(const char *file, const struct tcase *tc, char *why, size_t why_len)
{
	char err[2048], want[1024], alt[1024] = "";
	uint64_t r0 = 0;
	enum outcome oc = attempt(tc, err, sizeof(err), &r0);

	first_line(tc->error, want, sizeof(want));
	for (size_t i = 0; i < sizeof(negative_wording) / sizeof(negative_wording[0]); i++)
		if (!strcmp(file, negative_wording[i].file))
			snprintf(alt, sizeof(alt), "%s", negative_wording[i].text);
	switch (oc) {
	case REJECT_ASM:
	case REJECT_LOAD:
		if (want[0] && !icase_strstr(err, want) && !(alt[0] && strstr(err, alt))) {
			snprintf(why, why_len, "rejected (%s) with '%s', which contains neither '%s'%s%s%s", outcome_name[oc],
				 err, want, alt[0] ? " nor '" : "", alt, alt[0] ? "'" : "");
			return 1;
		}
		snprintf(why, why_len, "%s: %s", outcome_name[oc], err);
		return 0;
	case RAN:
		if (tc->has_result && !tc->has_error) {
			char *end;
			unsigned long long stated = strtoull(tc->result, &end, 0);
			if (end != tc->result && stated != r0) {
				snprintf(why, why_len, "valid program; r0=0x%" PRIx64 " differs from the stated 0x%llx", r0,
					 stated);
				return 0;
			}
		}
		snprintf(why, why_len, "accepted and ran, r0=0x%" PRIx64, r0);
		return 1;
	default:
		snprintf(why, why_len, "%s, not a rejection: %s", outcome_name[oc], err);
		return 1;
	}
}

static void negative_suite(void)
{
	char dpath[1024];
	snprintf(dpath, sizeof(dpath), "%s/negative", CONF_DIR);
	DIR *d = opendir(dpath);
	struct dirent *e;
	int found = 0;

	if (!d) {
		printf("SKIP conformance-negative: %s/negative not present\n", CONF_DIR);
		return;
	}
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 6 || strcmp(e->d_name + nl - 5, ".data"))
			continue;
		char path[1024], why[4096];
		snprintf(path, sizeof(path), "%s/negative/%s", CONF_DIR, e->d_name);
		char *text = read_text(path, NULL);
		struct tcase tc;
		found++;
		if (!text) {
			printf("FAIL negative/%s: cannot read\n", e->d_name);
			test_failed_cnt++;
			continue;
		}
		parse_case(text, &tc);
		if (run_negative(e->d_name, &tc, why, sizeof(why))) {
			printf("FAIL negative/%s: %s\n", e->d_name, why);
			test_failed_cnt++;
		} else {
			printf("PASS negative/%s (%s)\n", e->d_name, why);
			test_passed_cnt++;
		}
		free_case(&tc);
		free(text);
	}
	closedir(d);
	if (found != CONF_NEGATIVE_CNT) {
		printf("FAIL conformance-negative-count: %d negative tests found, expected %d\n", found,
		       CONF_NEGATIVE_CNT);
		test_failed_cnt++;
	} else {
		printf("PASS conformance-negative-count: %d found\n", found);
		test_passed_cnt++;
	}
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
	conformance_suite("--interp", NULL, "conformance");
	conformance_suite("--interp", "--no-verify", "conformance-no-verify");
#if defined(__x86_64__)
	conformance_suite("--jit", NULL, "conformance-jit");
	conformance_suite("--jit", "--no-verify", "conformance-jit-no-verify");
#endif
	negative_suite();
	own_suite("tests/data");
	/* enough of them that the comparison means something (14 of 30 today; the verifier refuses the
	 * rest: LD_ABS/LD_IND outside socket programs, callx of a subprogram, uninitialized registers,
	 * may_goto loops, 1024 bytes of stack across calls) */
	if (verified_runs < 10) {
		printf("FAIL verified-runs: only %d of bpfvm's own cases ran verified\n", verified_runs);
		test_failed_cnt++;
	} else {
		printf("PASS verified-runs: %d of bpfvm's own cases ran verified, unchecked where proven, as checked\n",
		       verified_runs);
		test_passed_cnt++;
	}
	return test_done();
}
