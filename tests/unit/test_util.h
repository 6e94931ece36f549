/* test_util.h -- the helpers the unit tests (and fuzz/, bench/) share, so that none keeps a copy:
 *  - instructions from insn.def rows: INSN_ID(MOV64_K, 0, 0, 0, 7), OPC(EXIT) and the short forms
 *    below (MOV_K, CALL, LD_MAP, EXIT, ...); INSN() with a raw opcode byte only where a test wants an
 *    encoding no row has;
 *  - bpfvm's bpf() in one call each (mk, elem, UPD/LKP/DEL), an instance (test_vm), assembly
 *    (test_asm);
 *  - the kernel's bpf() (kbpf, kmap, kelem, kbtf_for_callbacks) and why it cannot serve as the oracle here
 *    (kernel_skip_reason), for differential tests that skip with that reason;
 *  - clang for BPF objects with the project's flags (test_clang) and whole files (test_read_file);
 *  - where bpf_conformance is checked out (test_conformance_dir);
 *  - a child process (the CLI, clang) run to its end with its output collected (test_spawn).
 * Returns follow bpf(): a handle or 0, else a negative errno.  Everything is static inline: a test
 * binary is one translation unit and keeps what it uses. */
#ifndef BPFVM_TEST_UTIL_H
#define BPFVM_TEST_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/btf.h>

#include <bpfvm.h>
#include "isa/isa.h"

/* ---- instructions ------------------------------------------------------------------------- */

/* Row ID of insn.def with its operands; the opcode and the selector's field (sdiv's off, an atomic's
 * imm, a call's src) come from the row: INSN_ID(SDIV64_K, 1, 0, 0, 7), INSN_ID(AFADD64, 10, 1, -8, 0). */
#define INSN_ID(ID, d, s_, o, i) /* as ISA_INSN(), pasting ID here so that a row named like a macro (EXIT) stays a name */ \
	((struct bpf_insn){ .code = ISA_OPC_##ID, .dst_reg = (d), .src_reg = (s_) + ISA_SELSRC_##ID, \
			    .off = (int16_t)((o) + ISA_SELOFF_##ID), .imm = (int32_t)((i) + ISA_SELIMM_##ID) })
#define OPC(ID) ISA_OPC_##ID
/* Any encoding, a row's or not (a test of what the validator refuses). */
#define INSN(c, d, s_, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) })

#define MOV_K(d, i)        INSN_ID(MOV64_K, d, 0, 0, i)
#define MOV_X(d, s)        INSN_ID(MOV64_X, d, s, 0, 0)
#define ADD_K(d, i)        INSN_ID(ADD64_K, d, 0, 0, i)
#define LDX_DW(d, s, o)    INSN_ID(LDXDW, d, s, o, 0)
#define LDX_W(d, s, o)     INSN_ID(LDXW, d, s, o, 0)
#define STX_DW(d, s, o)    INSN_ID(STXDW, d, s, o, 0)
#define ST_DW(d, o, i)     INSN_ID(STDW, d, 0, o, i)
#define JA(o)              INSN_ID(JA, 0, 0, o, 0)
#define CALL(i)            INSN_ID(CALL, 0, 0, 0, i)
#define CALL_LOCAL(rel)    INSN_ID(CALL_LOCAL, 0, 0, 0, rel)
#define EXIT               INSN_ID(EXIT, 0, 0, 0, 0)
/* Two slots each: lddw of a 64-bit value, a map (by fd), an address inside a map's value, a function. */
#define LDDW_HI(i)         INSN(0, 0, 0, 0, i) /* the second slot of an lddw */
#define LDDW(d, s, lo, hi) INSN_ID(LDDW, d, s, 0, lo), LDDW_HI(hi)
#define LD_IMM64(d, v)     LDDW(d, 0, (int32_t)(uint32_t)(uint64_t)(v), (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define LD_MAP(d, fd)      LDDW(d, BPF_PSEUDO_MAP_FD, fd, 0)
#define LD_VALUE(d, fd, o) LDDW(d, BPF_PSEUDO_MAP_VALUE, fd, o)
#define LD_FUNC(d, rel)    LDDW(d, BPF_PSEUDO_FUNC, rel, 0)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Markers an `rN = MARK ll` in assembly text carries, patched into the lddw they stand for by
 * test_patch_markers(): a map's fd, a map value's address (fd, offset), a function (its insn). */
#define MAPFD(fd) (0x7e57000000000000ull | (uint32_t)(fd))
#define MAPVAL(fd, off) (((0x7e590000ull | (off)) << 32) | (uint32_t)(fd))
#define FUNC(pc) (0x7e58000000000000ull | (pc))

static inline void test_patch_markers(struct bpf_insn *insns, long n)
{
	for (long i = 0; i + 1 < n; i++) {
		if (insns[i].code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		uint32_t hi = (uint32_t)insns[i + 1].imm;
		if (hi >> 16 == 0x7e57) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i + 1].imm = 0;
		} else if (hi >> 16 == 0x7e59) {
			insns[i].src_reg = BPF_PSEUDO_MAP_VALUE;
			insns[i + 1].imm = (int32_t)(hi & 0xffff);
		} else if (hi >> 16 == 0x7e58) {
			insns[i].src_reg = BPF_PSEUDO_FUNC;
			insns[i].imm -= (int32_t)(i + 1);
			insns[i + 1].imm = 0;
		}
		i++;
	}
}

/* ---- bpfvm ---------------------------------------------------------------------------------- */

/* The attr of BPF_MAP_CREATE, and of an element command (key, value, flags), for bpfvm and the kernel alike. */
static inline union bpf_attr map_attr(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	a.map_flags = flags;
	return a;
}

static inline union bpf_attr elem_attr(int fd, const void *k, void *v, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.value = (uintptr_t)v;
	a.flags = flags;
	return a;
}

static inline int mk(struct bpfvm *vm, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a = map_attr(type, ks, vs, max, flags);
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static inline long elem(struct bpfvm *vm, int cmd, int fd, const void *k, void *v, uint64_t flags)
{
	union bpf_attr a = elem_attr(fd, k, v, flags);
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}
#define UPD(vm, fd, k, v, f) elem(vm, BPF_MAP_UPDATE_ELEM, fd, k, v, f)
#define LKP(vm, fd, k, v) elem(vm, BPF_MAP_LOOKUP_ELEM, fd, k, v, 0)
#define DEL(vm, fd, k) elem(vm, BPF_MAP_DELETE_ELEM, fd, k, NULL, 0)

/* One BPF_PROG_TEST_RUN of program fd through bpfvm's bpf() (the command path a loader takes), with
 * the fields of `t` as bpfvm_test_run_opts names them (data and ctx in and out, repeat, flags; sz
 * unread); retval, duration and the sizes out are written back.  Returns bpf()'s answer: 0 or a
 * negative errno. */
static inline long test_run_via_bpf(struct bpfvm *vm, int fd, struct bpfvm_test_run_opts *t)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)t->data_in;
	a.test.data_size_in = t->data_size_in;
	a.test.data_out = (uintptr_t)t->data_out;
	a.test.data_size_out = t->data_size_out;
	a.test.ctx_in = (uintptr_t)t->ctx_in;
	a.test.ctx_size_in = t->ctx_size_in;
	a.test.ctx_out = (uintptr_t)t->ctx_out;
	a.test.ctx_size_out = t->ctx_size_out;
	a.test.repeat = t->repeat;
	a.test.flags = t->flags;
	long err = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	t->retval = a.test.retval;
	t->duration = a.test.duration;
	t->data_size_out = a.test.data_size_out;
	t->ctx_size_out = a.test.ctx_size_out;
	return err;
}

/* An instance with `cpus` execution slots pinning under pin_root (NULL: the default). */
static inline struct bpfvm *test_vm(unsigned cpus, const char *pin_root)
{
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = cpus;
	o.pin_root = pin_root;
	return bpfvm_new(&o);
}

/* Assembles `src` (either syntax) into at most max insns: the count, or a negative errno with the
 * assembler's message printed. */
static inline long test_asm(const char *src, struct bpf_insn *insns, size_t max)
{
	struct bpfvm *as = bpfvm_new(NULL);
	long n = as ? bpfvm_asm(as, src, insns, max) : -ENOMEM;
	if (n < 0)
		printf("  asm: %s\n", as ? bpfvm_errmsg(as) : "no instance");
	bpfvm_free(as);
	return n;
}

/* ---- the kernel's bpf() --------------------------------------------------------------------- */

static inline long kbpf(int cmd, union bpf_attr *a)
{
	long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static inline long kmap(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a = map_attr(type, ks, vs, max, flags);
	return kbpf(BPF_MAP_CREATE, &a);
}

static inline long kelem(int cmd, int fd, const void *k, void *v, uint64_t flags)
{
	union bpf_attr a = elem_attr(fd, k, v, flags);
	return kbpf(cmd, &a);
}

/* The kernel takes a callback (an lddw of a function) only with BTF func_info, one FUNC per function
 * (Linux check_btf_func()).  For the program in a->insns that has one, this loads a BTF in which every
 * function is `static int fK(void)`, fK at insn 0 and at each call or lddw target, and points a's
 * prog_btf_fd and func_info (in fi) at it.  Returns the BTF's fd, to close after the load, or -1 when
 * the program needs none (or the kernel refused the BTF: the load then says why). */
static inline long kbtf_for_callbacks(union bpf_attr *a, struct bpf_func_info fi[64])
{
	const struct bpf_insn *in = (const struct bpf_insn *)(uintptr_t)a->insns;
	bool callback = false;
	uint32_t start[64], ns = 1;
	start[0] = 0;
	for (uint32_t i = 0; i < a->insn_cnt; i++) {
		bool lddw = in[i].code == (BPF_LD | BPF_DW | BPF_IMM);
		bool func = lddw && in[i].src_reg == BPF_PSEUDO_FUNC;
		callback |= func;
		if (func || (in[i].code == (BPF_JMP | BPF_CALL) && in[i].src_reg == BPF_PSEUDO_CALL)) {
			uint32_t t = (uint32_t)((int64_t)i + 1 + in[i].imm), k = 0;
			while (k < ns && start[k] != t)
				k++;
			if (k == ns && ns < 64)
				start[ns++] = t;
		}
		i += lddw;
	}
	if (!callback)
		return -1;
	for (uint32_t x = 1; x < ns; x++) /* func_info goes by insn */
		for (uint32_t y = x; y > 0 && start[y - 1] > start[y]; y--) {
			uint32_t t = start[y];
			start[y] = start[y - 1];
			start[y - 1] = t;
		}
	/* header (6 words); types: [1] int, [2] int (void), [3 + k] fK; strings: "", "int", "f0", ... */
	uint32_t blob[6 + 7 + 3 * 64 + 128];
	char strs[5 + 4 * 64] = "\0int";
	uint32_t *t = blob + 6, slen = 5;
	*t++ = 1; *t++ = (uint32_t)BTF_KIND_INT << 24; *t++ = 4; *t++ = 32 | (uint32_t)BTF_INT_SIGNED << 24;
	*t++ = 0; *t++ = (uint32_t)BTF_KIND_FUNC_PROTO << 24; *t++ = 1;
	for (uint32_t k = 0; k < ns; k++) {
		*t++ = slen; *t++ = (uint32_t)BTF_KIND_FUNC << 24; *t++ = 2; /* vlen 0: static */
		slen += (uint32_t)snprintf(strs + slen, sizeof(strs) - slen, "f%u", (unsigned)k) + 1;
		fi[k].insn_off = start[k];
		fi[k].type_id = 3 + k;
	}
	uint32_t tlen = (uint32_t)(t - (blob + 6)) * 4;
	memcpy(t, strs, slen);
	blob[0] = BTF_MAGIC | BTF_VERSION << 16; /* flags 0 */
	blob[1] = 24;                             /* hdr_len */
	blob[2] = 0;                              /* type_off */
	blob[3] = tlen;
	blob[4] = tlen;                           /* str_off */
	blob[5] = slen;
	union bpf_attr b;
	memset(&b, 0, sizeof(b));
	b.btf = (uintptr_t)blob;
	b.btf_size = 24 + tlen + slen;
	long fd = kbpf(BPF_BTF_LOAD, &b);
	if (fd < 0)
		return -1;
	a->prog_btf_fd = (uint32_t)fd;
	a->func_info = (uintptr_t)fi;
	a->func_info_cnt = ns;
	a->func_info_rec_size = sizeof(fi[0]);
	return fd;
}

/* An object's id by its handle in vm (0: none); the id sits at the same offset in bpf_map_info. */
static inline uint32_t test_obj_id(struct bpfvm *vm, int fd)
{
	struct bpf_prog_info info;
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	if (bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
		return 0;
	return info.id;
}

/* A new handle to object `id`: cmd BPF_PROG_GET_FD_BY_ID or BPF_MAP_GET_FD_BY_ID.  The fd or -errno. */
static inline long test_fd_by_id(struct bpfvm *vm, int cmd, uint32_t id)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	if (cmd == BPF_PROG_GET_FD_BY_ID)
		a.prog_id = id;
	else
		a.map_id = id;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

/* Objects of the instance left: cmd BPF_PROG_GET_NEXT_ID or BPF_MAP_GET_NEXT_ID. */
static inline uint32_t test_count_ids(struct bpfvm *vm, int cmd)
{
	union bpf_attr a;
	uint32_t n = 0;
	memset(&a, 0, sizeof(a));
	while (bpfvm_bpf(vm, cmd, &a, sizeof(a)) == 0) {
		n++;
		a.start_id = a.next_id;
	}
	return n;
}

static inline long vmap_info(struct bpfvm *vm, int fd, struct bpf_map_info *info)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(info, 0, sizeof(*info));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(*info);
	a.info.info = (uintptr_t)info;
	return bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a));
}

/* A kernel map of the type, sizes and flags `info` gives (inner_fd: the inner map template of a
 * map-in-map, else -1).  Its fd, or a negative errno. */
static inline long kmap_like(const struct bpf_map_info *info, int inner_fd)
{
	union bpf_attr a = map_attr(info->type, info->key_size, info->value_size, info->max_entries, info->map_flags);
	if (inner_fd >= 0)
		a.inner_map_fd = (uint32_t)inner_fd;
	return kbpf(BPF_MAP_CREATE, &a);
}

/* The kernel twin of bpfvm map `vfd` (described by `info`), for a program loaded on both sides to meet
 * the same maps: kmap_like(), and a global-data map (an array of one element) gets bpfvm's contents
 * and is frozen when programs may only read it (BPF_F_RDONLY_PROG), so that the kernel's verifier knows
 * its values as constants, as bpfvm's does.  The kernel fd, or a negative errno (of MAP_CREATE). */
static inline long kmap_twin(struct bpfvm *vm, int vfd, const struct bpf_map_info *info, int inner_fd)
{
	long kfd = kmap_like(info, inner_fd);
	if (kfd < 0 || info->type != BPF_MAP_TYPE_ARRAY || info->max_entries != 1 || info->value_size > 1u << 16)
		return kfd;
	uint32_t zero = 0;
	uint8_t *val = calloc(1, info->value_size);
	if (val && !bpfvm_map_lookup(vm, vfd, &zero, val))
		kelem(BPF_MAP_UPDATE_ELEM, (int)kfd, &zero, val, 0);
	free(val);
	if (info->map_flags & BPF_F_RDONLY_PROG) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)kfd;
		kbpf(BPF_MAP_FREEZE, &a);
	}
	return kfd;
}

/* NULL when the kernel loads a two-insn XDP program here, else why it cannot be the oracle (for SKIP). */
static inline const char *kernel_skip_reason(void)
{
	const struct bpf_insn ok[] = { MOV_K(0, 2), EXIT };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)ok;
	a.insn_cnt = 2;
	a.license = (uintptr_t)"GPL";
	long fd = kbpf(BPF_PROG_LOAD, &a);
	if (fd < 0)
		return fd == -EPERM ? "bpf() not permitted (needs root / CAP_BPF)"
		     : fd == -ENOSYS ? "bpf() is not available (ENOSYS)" : "bpf() cannot load an XDP program here";
	close((int)fd);
	return NULL;
}

/* ---- bpf_conformance ------------------------------------------------------------------------ */

/* The bpf_conformance checkout the tests read (tests/, bin/, negative/): $BPF_CONFORMANCE_DIR, else
 * shared/conformance beside the repository, seen as ../shared from the main checkout and as
 * ../../shared from a worktree under wt/ (the tests run from the checkout's root).  When there is none
 * the first candidate is returned and the callers' opendir() fails: they SKIP, naming it. */
static inline const char *test_conformance_dir(void)
{
	static const char *const cands[] = { "../shared/conformance", "../../shared/conformance" };
	const char *env = getenv("BPF_CONFORMANCE_DIR");
	if (env && *env)
		return env;
	for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
		if (!access(cands[i], R_OK))
			return cands[i];
	return cands[0];
}

/* ---- files and clang ------------------------------------------------------------------------ */

/* The whole file, malloc'd with a NUL after it (free() it); NULL when it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = NULL;
	long n = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
	if (n >= 0 && !fseek(f, 0, SEEK_SET) && (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (!b)
		return NULL;
	b[n] = '\0';
	if (len)
		*len = (size_t)n;
	return b;
}

/* Builds the BPF object `out` from the C file `src` as the project's Makefile does (clang -O2 -g -target
 * bpf -mcpu=v3, the multiarch include directory for libbpf's headers, -Wall -Werror) plus `extra` (NULL
 * or e.g. "-DKERNEL_ORACLE"); clang's messages go to stderr.  0, or non-zero when clang failed or is
 * missing (the caller SKIPs). */
static inline int test_clang(const char *src, const char *out, const char *extra)
{
	char cmd[16384]; /* room for the callers' PATH_MAX-sized paths */
	snprintf(cmd, sizeof(cmd), "clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu -Wall -Werror "
		 "%s -c '%s' -o '%s' 1>&2", extra ? extra : "", src, out);
	return system(cmd);
}

/* ---- child processes ------------------------------------------------------------------------ */

struct test_proc {
	int status;        /* exit status, or -1 when the child did not exit normally */
	char out[65536];   /* stdout, NUL-terminated, cut at the buffer */
	char err[16384];   /* stderr */
};

/* An unlinked scratch file in dir (the child's stdin, stdout or stderr): an fd, or -1. */
static inline int test_tmpfd(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.XXXXXX", dir, name);
	int fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* What fd holds from its start, NUL-terminated, cut at len - 1 bytes. */
static inline void test_slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Runs `path` (a name without '/' is looked up in PATH) with argv[0] = name and args (NULL-terminated,
 * without argv[0]; at most 38), stdin = `in` (NULL: empty), to its end; stdout and stderr go to
 * unlinked files in dir and then to p.  false, with the reason printed, when the child could not be
 * started or waited for. */
static inline bool test_spawn(struct test_proc *p, const char *path, const char *name, const char *in,
			      const char *const *args, const char *dir)
{
	const char *argv[40] = { name };
	size_t n = 1;
	for (; args[n - 1] && n + 1 < ARRAY_SIZE(argv); n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;

	int fin = test_tmpfd(dir, "stdin"), fout = test_tmpfd(dir, "stdout"), ferr = test_tmpfd(dir, "stderr");
	bool ok = false;
	memset(p, 0, sizeof(*p));
	p->status = -1;
	if (fin < 0 || fout < 0 || ferr < 0)
		goto out;
	if (in && write(fin, in, strlen(in)) != (ssize_t)strlen(in))
		goto out;
	lseek(fin, 0, SEEK_SET);
	pid_t pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		dup2(fin, 0);
		dup2(fout, 1);
		dup2(ferr, 2);
		if (strchr(path, '/'))
			execv(path, (char *const *)argv);
		else
			execvp(path, (char *const *)argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		goto out;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	test_slurp(fout, p->out, sizeof(p->out));
	test_slurp(ferr, p->err, sizeof(p->err));
	ok = true;
out:
	if (!ok)
		printf("  spawn %s: %s\n", path, strerror(errno));
	if (fin >= 0)
		close(fin);
	if (fout >= 0)
		close(fout);
	if (ferr >= 0)
		close(ferr);
	return ok;
}

#endif
