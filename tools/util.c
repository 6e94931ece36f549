/* util.c -- file, hex and program-input helpers for the CLI. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

int tool_parse_insn_limit(const char *cmd, const char *s, uint64_t *out)
{
	char *end;

	if (!strcmp(s, "unlimited")) {
		*out = BPFVM_INSN_UNLIMITED;
		return 0;
	}
	errno = 0;
	unsigned long long v = isdigit((unsigned char)s[0]) ? strtoull(s, &end, 0) : 0;
	if (!isdigit((unsigned char)s[0]) || *end || errno) {
		fprintf(stderr, "bpfvm %s: --insn-limit '%s': not a number (give N >= 1, or 'unlimited')\n", cmd, s);
		return -1;
	}
	if (v == 0) {
		fprintf(stderr, "bpfvm %s: --insn-limit 0: a run needs a budget of at least 1 "
			"('unlimited' runs without one)\n", cmd);
		return -1;
	}
	*out = v;
	return 0;
}

/* The signal handler's state: the CLI is one thread of one process, so file statics are its own. */
static struct bpfvm *stop_vm;
static volatile int stop_sig;

static void on_stop_signal(int sig)
{
	stop_sig = sig;
	if (stop_vm)
		bpfvm_interrupt(stop_vm); /* async-signal-safe: one atomic store */
}

void tool_stop_on_signals(struct bpfvm *vm)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = vm ? on_stop_signal : SIG_DFL;
	stop_vm = vm;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

const volatile int *tool_stop_signal(void)
{
	return &stop_sig;
}

uint8_t *tool_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f) {
		fprintf(stderr, "bpfvm: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - n < 2) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				fprintf(stderr, "bpfvm: %s: out of memory\n", path);
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				fprintf(stderr, "bpfvm: %s: read error\n", path);
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

int tool_parse_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t cap = strlen(s) / 2 + 1, n = 0;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -1;
	while (*s) {
		if (isspace((unsigned char)*s) || *s == ',') {
			s++;
			continue;
		}
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1])) {
			free(buf);
			return -1;
		}
		char tmp[3] = { s[0], s[1], 0 };
		buf[n++] = (uint8_t)strtoul(tmp, NULL, 16);
		s += 2;
	}
	*out = buf;
	*len = n;
	return 0;
}

int tool_is_elf(const char *path)
{
	unsigned char m[4];
	FILE *f = fopen(path, "rb");
	int ok;

	if (!f)
		return 0;
	ok = fread(m, 1, 4, f) == 4 && !memcmp(m, "\177ELF", 4);
	fclose(f);
	return ok;
}

int tool_load_insns(struct bpfvm *vm, const char *path, struct bpf_insn **insns, size_t *cnt)
{
	size_t len;
	uint8_t *data = tool_read_file(path, &len);
	size_t plen = strlen(path);

	if (!data)
		return -1;
	/* Assembly by its name, or by its contents: instructions always hold zero bytes (an exit is
	 * 95 00 00 00 00 00 00 00), text never does. */
	bool text = len > 0 && !memchr(data, 0, len);
	if (text || (plen > 2 && !strcmp(path + plen - 2, ".s")) || (plen > 4 && !strcmp(path + plen - 4, ".asm"))) {
		long n = bpfvm_asm(vm, (const char *)data, NULL, 0);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", path, bpfvm_errmsg(vm));
			free(data);
			return -1;
		}
		*insns = calloc((size_t)n ? (size_t)n : 1, sizeof(**insns));
		if (!*insns || bpfvm_asm(vm, (const char *)data, *insns, (size_t)n) != n) {
			free(*insns);
			free(data);
			return -1;
		}
		*cnt = (size_t)n;
		free(data);
		return 0;
	}
	if (len % sizeof(struct bpf_insn)) {
		fprintf(stderr, "%s: size %zu is not a multiple of 8: not a raw eBPF program\n", path, len);
		free(data);
		return -1;
	}
	*insns = (struct bpf_insn *)data; /* malloc'd with room for a NUL; fine to hand over */
	*cnt = len / sizeof(struct bpf_insn);
	return 0;
}

int tool_usage_error_(const char *cmd, const char *what, const char *usage, const char *arg, ...)
{
	if (arg)
		fprintf(stderr, "bpfvm %s: %s '%s'\n", cmd, what, arg);
	else
		fprintf(stderr, "bpfvm %s: %s\n", cmd, what);
	fprintf(stderr, "%s\n(bpfvm %s --help for more)\n", usage, cmd);
	return 2;
}

int tool_obj_kind(struct bpfvm *vm, int fd)
{
	struct {
		uint32_t type, id; /* the first fields of both struct bpf_map_info and struct bpf_prog_info */
	} info = { 0, 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	if (bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
		return TOOL_OBJ_NONE;
	static const int cmds[2] = { BPF_MAP_GET_FD_BY_ID, BPF_PROG_GET_FD_BY_ID };
	for (int k = 0; k < 2; k++) {
		memset(&a, 0, sizeof(a));
		a.map_id = info.id; /* map_id and prog_id share the place */
		long other = bpfvm_bpf(vm, cmds[k], &a, sizeof(a));
		if (other >= 0) {
			bpfvm_close(vm, (int)other);
			return k ? TOOL_OBJ_PROG : TOOL_OBJ_MAP;
		}
	}
	return TOOL_OBJ_NONE;
}

int tool_parse_size(const char *s, uint64_t *out)
{
	if (!strcmp(s, "unlimited")) {
		*out = UINT64_MAX;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (errno || end == s || *end || s[0] == '-' || (shift && v > (UINT64_MAX >> shift))) {
		fprintf(stderr, "Error: '%s' is not a byte count (N, NK, NM, NG or unlimited)\n", s);
		return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}
