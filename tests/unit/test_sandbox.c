/* test_sandbox.c -- the sandbox's own rules (security issue 8): the frame pointer r10 cannot be written
 * by any instruction (the one table-derived rule isa_writes()), and the interpreter keeps its frames in
 * its own record, so that even a program that slipped past the validator cannot move the stack it is
 * checked against. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <bpfvm.h>

#include "isa/isa.h"
#include "sys.h"
#include "vm/vm.h"
#include "test.h"

static int load_asm(struct bpfvm *vm, const char *src)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	if (n <= 0 || n > 64) {
		printf("  asm failed: %s\n", bpfvm_errmsg(vm));
		return -1000;
	}
	return bpfvm_prog_load(vm, 0, insns, (size_t)n, "t");
}

/* The review's reproducer: xchg puts the frame pointer plus 1024 into r10, and the local call used to
 * rebuild the callee's frame from it, so that [r1 - 8] (below the caller's memory) passed as "stack". */
#define REPRO_PRE "mov %r2, %r10\nadd %r2, 1024\nstxdw [%r10-8], %r2\n"
#define REPRO_POST "\ncall local f\nldxdw %r0, [%r1-8]\nexit\nf:\nmov %r0, 0\nexit\n"
#define REPRO(xchg_) REPRO_PRE xchg_ REPRO_POST

TEST(r10_written_by_atomic_fetch_is_refused)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	static const char *const variants[] = {
		"lock xchg [%r10-8], %r10",
		"lock fetch add [%r10-8], %r10",
		"lock fetch or [%r10-8], %r10",
		"lock xchg32 [%r10-8], %r10",
		"lock fetch xor32 [%r10-8], %r10",
		"r10 = atomic_fetch_and((u64 *)(r10 - 8), r10)",
	};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		char src[512];
		snprintf(src, sizeof(src), "%s%s%s", REPRO_PRE, variants[i], REPRO_POST);
		int fd = load_asm(vm, src);
		if (fd != -EACCES)
			printf("  variant '%s': load gave %d: %s\n", variants[i], fd, bpfvm_errmsg(vm));
		CHECK(fd == -EACCES);
		/* the message names the insn and what it is */
		CHECK(strstr(bpfvm_errmsg(vm), "insn 3: lock ") != NULL);
		CHECK(strstr(bpfvm_errmsg(vm), "frame pointer r10 is read only") != NULL);
	}
	bpfvm_free(vm);
}

/* Every fetching atomic row with src = r10 is refused, whatever its size; cmpxchg writes r0, not src,
 * so storing the frame pointer with it is fine (and r10 stays the frame pointer). */
TEST(every_fetching_atomic_row_with_src_r10)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	for (int id = 0; id < ISA_COUNT; id++) {
		const struct isa_info *ii = &isa_info[id];
		if (ii->fmt != FMT_ATOMIC || !(ii->flags & F_FETCH))
			continue;
		struct bpf_insn p[3];
		memset(p, 0, sizeof(p));
		p[0] = (struct bpf_insn){ .code = 0x7a, .dst_reg = 10, .off = -8 };  /* stdw [r10-8], 0 */
		p[1] = (struct bpf_insn){ .code = ii->opc, .dst_reg = 10, .src_reg = 10, .off = -8 };
		p[2] = (struct bpf_insn){ .code = 0x95 };
		/* the row's selector value (imm) */
		for (int32_t imm = 0; imm < 0x200; imm++) {
			p[1].imm = imm;
			if (isa_decode(&p[1]) == id)
				break;
		}
		CHECK(isa_decode(&p[1]) == id);
		int fd = bpfvm_prog_load(vm, 0, p, 3, "t");
		if (ii->flags & F_R0) {
			CHECK(fd >= 0);
			uint64_t r0 = 1;
			CHECK(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0);
			CHECK_EQ_U64(r0, 0); /* the old value of the slot */
			bpfvm_close(vm, fd);
		} else {
			if (fd != -EACCES)
				printf("  %s: load gave %d\n", ii->mnem, fd);
			CHECK(fd == -EACCES);
			CHECK(strstr(bpfvm_errmsg(vm), "insn 1: ") != NULL);
			CHECK(strstr(bpfvm_errmsg(vm), ii->mnem) != NULL);
		}
	}
	bpfvm_free(vm);
}

/* isa_writes() is the one answer to "which registers does this insn write"; spot-check each family. */
TEST(isa_writes_by_family)
{
	struct bpf_insn in;
#define W(code_, dst_, src_, imm_) (in = (struct bpf_insn){ .code = (code_), .dst_reg = (dst_), .src_reg = (src_), \
				    .imm = (imm_) }, isa_insn_writes(&in))
	CHECK_EQ_U64(W(0x07, 3, 0, 1), ISA_REG(3));            /* add r3, 1 */
	CHECK_EQ_U64(W(0xbf, 4, 2, 0), ISA_REG(4));            /* mov r4, r2 */
	CHECK_EQ_U64(W(0x79, 5, 1, 0), ISA_REG(5));            /* ldxdw r5, [r1] */
	CHECK_EQ_U64(W(0x7b, 1, 2, 0), 0);                     /* stxdw [r1], r2 */
	CHECK_EQ_U64(W(0x7a, 1, 0, 0), 0);                     /* stdw [r1], 0 */
	CHECK_EQ_U64(W(0xdb, 1, 2, 0x00), 0);                  /* lock add [r1], r2 */
	CHECK_EQ_U64(W(0xdb, 1, 2, 0x01), ISA_REG(2));         /* lock fetch add: src */
	CHECK_EQ_U64(W(0xc3, 1, 7, 0xe1), ISA_REG(7));         /* lock xchg32: src */
	CHECK_EQ_U64(W(0xdb, 1, 2, 0xf1), ISA_REG(0));         /* lock cmpxchg: r0 */
	CHECK_EQ_U64(W(0xdb, 3, 1, 0x100), ISA_REG(3));        /* load_acquire64 r3, [r1] */
	CHECK_EQ_U64(W(0xdb, 1, 2, 0x110), 0);                 /* store_release64 */
	CHECK_EQ_U64(W(0x85, 0, 0, 1), ISA_REGS_CALLER_SAVED); /* call 1 */
	CHECK_EQ_U64(W(0x85, 0, 1, 3), ISA_REGS_CALLER_SAVED); /* call local */
	CHECK_EQ_U64(W(0x30, 0, 0, 3), ISA_REGS_CALLER_SAVED); /* ldabsb 3 */
	CHECK_EQ_U64(W(0x05, 0, 0, 0), 0);                     /* ja */
	CHECK_EQ_U64(W(0x1d, 1, 2, 0), 0);                     /* jeq r1, r2 */
	CHECK_EQ_U64(W(0x95, 0, 0, 0), 0);                     /* exit */
	CHECK_EQ_U64(W(0xff, 0, 0, 0), 0);                     /* unknown */
#undef W
}

/* Defence in depth: the reproducer's fixed-up code run directly, without the validator's rule.  The
 * interpreter rebuilds frames from its own record, so the forged r10 is plain data and [r1 - 8] faults;
 * a checked build (-DBPFVM_CHECKED) aborts at the insn that changed r10, which is what the fuzzer's
 * invariant mode relies on. */
static int run_unvalidated(struct bpfvm *vm, const char *src, uint64_t *r0, char *fault, size_t fault_len)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	if (n <= 0 || n > 64)
		return -1000;
	struct vm_prog *p = calloc(1, sizeof(*p));
	struct diag log;
	diag_init(&log, 4096);
	p->vm = vm;
	p->cnt = (size_t)n;
	p->orig = malloc(sizeof(insns));
	memcpy(p->orig, insns, (size_t)n * sizeof(*insns));
	snprintf(p->name, sizeof(p->name), "forged");
	int err = vm_fixup(p, &log);
	diag_fini(&log);
	if (err) {
		vm_prog_free(p);
		return err;
	}
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	uint8_t mem[8] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
	struct vm_run run;
	vm_run_init(&run, p, stack);
	vm_run_add_region(&run, mem, sizeof(mem), true);
	run.ctx = mem;
	*r0 = vm_interp(&run, (uintptr_t)mem, sizeof(mem));
	err = run.err;
	if (err)
		vm_fault_text(&run, fault, fault_len);
	vm_prog_free(p);
	return err;
}

TEST(interpreter_frames_ignore_a_forged_r10)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const char *src = REPRO("lock xchg [%r10-8], %r10");
	char fault[128] = "";
	uint64_t r0 = 0;
#ifdef BPFVM_CHECKED
	/* the checked interpreter must stop the run at the xchg's successor: in a child, as it aborts */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		run_unvalidated(vm, src, &r0, fault, sizeof(fault));
		_exit(0);
	}
	close(pfd[1]);
	char out[512] = "";
	size_t len = 0;
	ssize_t k;
	while (len + 1 < sizeof(out) && (k = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)k;
	close(pfd[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	CHECK(strstr(out, "invariant violated: prog 'forged': insn 4: r10 changed") != NULL);
	if (!strstr(out, "r10 changed"))
		printf("  child said: %s\n", out);
#else
	int err = run_unvalidated(vm, src, &r0, fault, sizeof(fault));
	CHECK(err == -EFAULT);
	CHECK(strstr(fault, "invalid memory read") != NULL);
	CHECK_EQ_U64(r0, 0);
#endif
	bpfvm_free(vm);
}

int main(void)
{
	RUN(r10_written_by_atomic_fetch_is_refused);
	RUN(every_fetching_atomic_row_with_src_r10);
	RUN(isa_writes_by_family);
	RUN(interpreter_frames_ignore_a_forged_r10);
	return test_done();
}
