/* cmd_seccomp.c -- `bpfvm seccomp POLICY --syscall NAME|NR [--arch ARCH] [--args A,B,...] [--ip IP]
 * [--interp]`:
 * runs a classic seccomp policy over one struct seccomp_data, as the kernel does at a system call, and
 * prints the action it decides, one line: SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO(n), SECCOMP_RET_TRAP(n),
 * SECCOMP_RET_TRACE(n), SECCOMP_RET_LOG, SECCOMP_RET_USER_NOTIF, SECCOMP_RET_KILL_THREAD or
 * SECCOMP_RET_KILL_PROCESS.
 *
 * POLICY is a file ("-": stdin) of raw struct sock_filter bytes (what libseccomp's seccomp_export_bpf()
 * writes) or the text tcpdump -dd / -ddd / -d prints.  It is checked with Linux's rules for seccomp
 * (seccomp_check_filter()) before it runs.  System call names are known for x86_64 (the table is
 * tools/syscalls_x86_64.def, from <asm/unistd_64.h>); with another --arch, give numbers.  The policy runs
 * on the JIT where there is one (x86-64), on the interpreter with --interp. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include <bpfvm.h>

#include "cmd.h"
#include "util.h"

static const struct {
	const char *name;
	int nr;
} syscalls_x86_64[] = {
#define SYSCALL(name_, nr_) { #name_, nr_ },
#include "syscalls_x86_64.def"
#undef SYSCALL
};

static const struct {
	const char *name;
	uint32_t arch;
} arches[] = {
	{ "x86_64", AUDIT_ARCH_X86_64 },
	{ "i386", AUDIT_ARCH_I386 },
	{ "x32", AUDIT_ARCH_X86_64 }, /* x32 calls are x86_64's with __X32_SYSCALL_BIT in nr */
	{ "aarch64", AUDIT_ARCH_AARCH64 },
	{ "arm", AUDIT_ARCH_ARM },
	{ "riscv64", AUDIT_ARCH_RISCV64 },
	{ "s390x", AUDIT_ARCH_S390X },
	{ "ppc64le", AUDIT_ARCH_PPC64LE },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define USAGE_SECCOMP "usage: bpfvm seccomp POLICY --syscall NAME|NR [--arch ARCH] [--args A,B,...] [--ip IP] [--interp]"

static void usage(FILE *f)
{
	fprintf(f, USAGE_SECCOMP "\n"
		   "  POLICY      raw struct sock_filter bytes (seccomp_export_bpf) or tcpdump -dd/-d text; - for stdin\n"
		   "  --syscall   a system call name (x86_64) or number\n"
		   "  --arch      x86_64 (default), i386, x32, aarch64, arm, riscv64, s390x, ppc64le, or an\n"
		   "              AUDIT_ARCH_* number\n"
		   "  --args      up to 6 arguments (decimal, 0x hex, or negative)\n"
		   "  --ip        the instruction pointer\n"
		   "  --interp    run the policy in the interpreter (default: the x86-64 JIT where available)\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	if (*s == '-') {
		long long x = strtoll(s, &end, 0);
		*v = (uint64_t)x;
	} else {
		*v = strtoull(s, &end, 0);
	}
	return errno || end == s || *end ? -1 : 0;
}

/* The action line for a filter result, as the kernel reads it (kernel/seccomp.c __seccomp_filter()). */
static void print_action(uint32_t ret)
{
	uint32_t data = ret & SECCOMP_RET_DATA;

	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
		puts("SECCOMP_RET_ALLOW");
		break;
	case SECCOMP_RET_ERRNO:
		/* "Set low-order bits as an errno, capped at MAX_ERRNO." */
		printf("SECCOMP_RET_ERRNO(%u)\n", data > 4095 ? 4095 : data);
		break;
	case SECCOMP_RET_TRAP:
		printf("SECCOMP_RET_TRAP(%u)\n", data);
		break;
	case SECCOMP_RET_TRACE:
		printf("SECCOMP_RET_TRACE(%u)\n", data);
		break;
	case SECCOMP_RET_LOG:
		puts("SECCOMP_RET_LOG");
		break;
	case SECCOMP_RET_USER_NOTIF:
		puts("SECCOMP_RET_USER_NOTIF");
		break;
	case SECCOMP_RET_KILL_THREAD:
		puts("SECCOMP_RET_KILL_THREAD");
		break;
	case SECCOMP_RET_KILL_PROCESS:
		puts("SECCOMP_RET_KILL_PROCESS");
		break;
	default:
		/* the kernel kills the process for an action it does not know */
		printf("SECCOMP_RET_KILL_PROCESS (unknown action 0x%08x)\n", ret);
		break;
	}
}

int cmd_seccomp(int argc, char **argv)
{
	const char *policy = NULL, *sc = NULL, *arch_s = "x86_64", *args_s = NULL, *ip_s = NULL;
	struct seccomp_data sd;
	int rc = 1, interp = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has = i + 1 < argc;
		if (!strcmp(a, "--syscall") && has)
			sc = argv[++i];
		else if (!strcmp(a, "--arch") && has)
			arch_s = argv[++i];
		else if (!strcmp(a, "--args") && has)
			args_s = argv[++i];
		else if (!strcmp(a, "--ip") && has)
			ip_s = argv[++i];
		else if (!strcmp(a, "--interp"))
			interp = 1;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--syscall") || !strcmp(a, "--arch") || !strcmp(a, "--args") || !strcmp(a, "--ip"))
			return tool_usage_error("seccomp", "missing the value after", USAGE_SECCOMP, a);
		else if (a[0] == '-' && a[1])
			return tool_usage_error("seccomp", "unknown option", USAGE_SECCOMP, a);
		else if (!policy)
			policy = a;
		else
			return tool_usage_error("seccomp", "one policy file only: unexpected", USAGE_SECCOMP, a);
	}
	if (!policy)
		return tool_usage_error("seccomp", "no policy file given", USAGE_SECCOMP);
	if (!sc)
		return tool_usage_error("seccomp", "no --syscall given", USAGE_SECCOMP);

	memset(&sd, 0, sizeof(sd));
	size_t ai = 0;
	for (; ai < N(arches) && strcmp(arches[ai].name, arch_s); ai++)
		;
	uint64_t v;
	if (ai < N(arches))
		sd.arch = arches[ai].arch;
	else if (!parse_u64(arch_s, &v) && v <= UINT32_MAX)
		sd.arch = (uint32_t)v;
	else {
		fprintf(stderr, "bpfvm seccomp: --arch '%s': unknown architecture (x86_64, i386, x32, aarch64, arm, "
				"riscv64, s390x, ppc64le or an AUDIT_ARCH_* number)\n", arch_s);
		return 2;
	}

	if (!parse_u64(sc, &v)) {
		if (v > UINT32_MAX && ((int64_t)v >= 0 || (int64_t)v < INT32_MIN)) {
			fprintf(stderr, "bpfvm seccomp: --syscall %s: out of range\n", sc);
			return 2;
		}
		sd.nr = (int)(uint32_t)v;
	} else {
		size_t k = 0;
		if (sd.arch != AUDIT_ARCH_X86_64) {
			fprintf(stderr, "bpfvm seccomp: --syscall %s: names are known for x86_64 only; give the number\n",
				sc);
			return 2;
		}
		for (; k < N(syscalls_x86_64) && strcmp(syscalls_x86_64[k].name, sc); k++)
			;
		if (k == N(syscalls_x86_64)) {
			fprintf(stderr, "bpfvm seccomp: --syscall %s: unknown x86_64 system call name\n", sc);
			return 2;
		}
		sd.nr = syscalls_x86_64[k].nr;
		if (!strcmp(arch_s, "x32"))
			sd.nr |= 0x40000000; /* __X32_SYSCALL_BIT */
	}
	if (args_s) {
		char *copy = strdup(args_s), *save = NULL;
		int n = 0, bad = !copy;
		for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && !bad; t = strtok_r(NULL, ",", &save)) {
			if (n == 6) {
				fprintf(stderr, "bpfvm seccomp: --args: more than 6 arguments\n");
				bad = 1;
			} else if (parse_u64(t, &v)) {
				fprintf(stderr, "bpfvm seccomp: --args: argument %d '%s' is not a number\n", n + 1, t);
				bad = 1;
			} else {
				sd.args[n++] = v;
			}
		}
		free(copy);
		if (bad)
			return 2;
	}
	if (ip_s) {
		if (parse_u64(ip_s, &v)) {
			fprintf(stderr, "bpfvm seccomp: --ip '%s' is not a number\n", ip_s);
			return 2;
		}
		sd.instruction_pointer = v;
	}

	size_t len;
	uint8_t *src = tool_read_file(policy, &len);
	if (!src)
		return 1;
	struct bpfvm_opts vo = { .sz = sizeof(vo), .interp = interp };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct sock_filter *prog = NULL;
	int fd = -1;
	long cnt = vm ? bpfvm_cbpf_parse(vm, src, len, NULL, 0) : -ENOMEM;
	if (cnt >= 0 && (prog = calloc((size_t)cnt + 1, sizeof(*prog))))
		cnt = bpfvm_cbpf_parse(vm, src, len, prog, (size_t)cnt);
	if (cnt < 0 || !prog) {
		fprintf(stderr, "bpfvm seccomp: %s: %s\n", policy, vm ? bpfvm_errmsg(vm) : "out of memory\n");
		goto out;
	}
	fd = bpfvm_cbpf_load(vm, prog, (size_t)cnt, BPFVM_CBPF_SECCOMP, "seccomp");
	if (fd < 0) {
		fprintf(stderr, "bpfvm seccomp: %s: %s\n", policy, bpfvm_errmsg(vm));
		goto out;
	}
	uint32_t ret;
	if (bpfvm_seccomp_run(vm, fd, &sd, &ret)) {
		fprintf(stderr, "bpfvm seccomp: %s: %s\n", policy, bpfvm_errmsg(vm));
		goto out;
	}
	print_action(ret);
	rc = 0;
out:
	if (fd >= 0)
		bpfvm_close(vm, fd);
	free(prog);
	bpfvm_free(vm);
	free(src);
	return rc;
}
