/* sys_runner.c -- bpfvm_runner: one program prepared for many bpfvm_prog_run()-like calls from one
 * thread (include/bpfvm.h).  What bpfvm_prog_run() does at every call (the handle's lookup and
 * reference, the engine's choice, the log's reset, a zeroed struct vm_run) is done once here; a call
 * resets only what a run changes (vm_exec(): budget, tail-call count, frame pointer, fault record) and
 * its memory region.  A program whose native code needs no run state at all (the JIT's stateless
 * code: straight-line, no calls, no checks that can fail) is called directly, so that an empty
 * program's call costs about a function call (issue 11: under 2 ns). */
#include <errno.h>
#include <stdlib.h>

#include "sys.h"
#include "jit/jit.h"
#include "vm/vm.h"

struct bpfvm_runner {
	/* first, as bpfvm_runner_run_inline() reads it: direct is stateless code that reads nothing of
	 * the run and no stack it did not write, called with nothing in between (jit_stateless_fn) */
	struct bpfvm_runner_head head;
	struct bpfvm *vm;
	struct sys_obj *o;              /* the program, held until bpfvm_runner_free() */
	jit_stateless_fn stateless;     /* set: the code needs no run state; called as it is */
	int fd;
	bool declared;                  /* an UNSPEC program that declared its memory size (vm_prog.mem_declared) */
	uint32_t zero;                  /* bytes below the top of the entry frame the code may read first */
	struct vm_run run;
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
};

int bpfvm_runner_new(struct bpfvm *vm, int prog_fd, enum bpfvm_engine engine, struct bpfvm_runner **out)
{
	const struct vm_services *svc;
	struct bpfvm_runner *r;
	struct sys_obj *o;
	int err = 0;

	sys_log_reset(vm);
	if (!out)
		return sys_err(vm, -EINVAL, "runner: no place for the handle");
	o = sys_get(vm, prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", prog_fd);
	err = sys_engine_services(vm, prog_fd, o->prog, (int)engine, &svc);
	if (err)
		goto fail_put;
	r = calloc(1, sizeof(*r));
	if (!r) {
		err = sys_err(vm, -ENOMEM, "runner: out of memory");
		goto fail_put;
	}
	r->vm = vm;
	r->o = o;
	r->fd = prog_fd;
	r->declared = o->prog->mem_declared;
	r->head.min_len = r->declared ? o->prog->mem_len : 0;
	vm_run_init(&r->run, o->prog, r->stack);
	r->head.stack_top = (uintptr_t)r->stack + sizeof(r->stack);
	r->head.run = &r->run;
	r->run.svc = sys_services_fresh_log(svc);
	/* the image run_full()'s runs execute (jit_image_of() of a run with run->trusted = declared) */
	const struct jit_image *img = o->prog->jit_fn;
	if (img && o->prog->jit_proven && r->declared && !o->prog->untrusted)
		img = o->prog->jit_proven;
	if (svc->native && img && img->stateless) {
		r->zero = jit_entry_zero(img, o->prog);
		r->stateless = (jit_stateless_fn)(uintptr_t)img->code;
		if (!r->zero && !img->ldpkt)
			r->head.direct = (uint64_t (*)(uint64_t, uint64_t, uintptr_t, const void *))(uintptr_t)img->code;
	}
	*out = r;
	return 0;
fail_put:
	sys_put(vm, o);
	return err;
}

/* Everything but stateless code: as bpfvm_prog_run()'s run_plain(), on the state kept from the last
 * call (vm_exec() resets what a run changes; a region a helper added during the last run is dropped
 * here).  Out of line, so that the stateless path saves no register for it. */
static __attribute__((noinline)) int run_full(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret)
{
	struct vm_run *run = &r->run;

	run->region_cnt = 0;
	if (mem && mem_len)
		vm_run_add_region(run, mem, mem_len, true);
	run->ctx = mem;
	run->arg2 = mem_len;
	run->pkt = mem;
	run->pkt_len = mem_len > UINT32_MAX ? UINT32_MAX : (uint32_t)mem_len;
	if (r->declared) { /* sys_mem_check() has nothing to check for any other program */
		int err = sys_mem_check(r->vm, r->fd, r->o->prog, mem, mem_len);
		if (err)
			return err;
	}
	/* as run_plain(): what the verifier assumed, for a declared UNSPEC program only (a tail call
	 * may have withdrawn it in the last run) */
	run->trusted = r->declared;
	return vm_exec(run, ret);
}

static __attribute__((noinline)) void zero_frame(struct bpfvm_runner *r)
{
	vm_frame_zero_below((uintptr_t)r->stack + sizeof(r->stack), r->zero);
}

/* Stateless code that needs its frame zeroed or reads the packet fields (the memory is as declared). */
static __attribute__((noinline)) int run_stateless(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret)
{
	/* nothing such code reads but its arguments and frame: no budget (no back-edge, no call), no
	 * tail-call count, no fault, no slot (a leaf), no region (it touches its frame only) */
	if (r->zero)
		zero_frame(r);
	r->run.pkt = mem; /* what LD_ABS/LD_IND read, as run_full() sets it */
	r->run.pkt_len = mem_len > UINT32_MAX ? UINT32_MAX : (uint32_t)mem_len;
	*ret = r->stateless((uintptr_t)mem, mem_len, (uintptr_t)r->stack + sizeof(r->stack), &r->run);
	return 0;
}

/* Anything but direct code (below). */
static int run_other(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret)
{
	if (r->stateless && mem_len >= r->head.min_len && (mem || !mem_len))
		return run_stateless(r, mem, mem_len, ret);
	return run_full(r, mem, mem_len, ret);
}

int bpfvm_runner_run(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret)
{
	/* sys_mem_check()'s rule in two compares: min_len is 0 for a program that declared nothing
	 * (bpfvm_runner_run_inline() makes the same test) */
	if (r->head.direct && mem_len >= r->head.min_len && (mem || !mem_len)) {
		*ret = r->head.direct((uintptr_t)mem, mem_len, r->head.stack_top, &r->run);
		return 0;
	}
	return run_other(r, mem, mem_len, ret);
}

int bpfvm_runner_run_batch(struct bpfvm_runner *r, void *const *mem, const size_t *mem_len, size_t n,
			   uint64_t *ret, size_t *done)
{
	uint64_t (*fn)(uint64_t, uint64_t, uintptr_t, const void *) = r->head.direct;
	uintptr_t top = r->head.stack_top;
	int err = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (fn && mem_len[i] >= r->head.min_len && (mem[i] || !mem_len[i])) /* as bpfvm_runner_run() */
			ret[i] = fn((uintptr_t)mem[i], mem_len[i], top, &r->run);
		else if ((err = run_other(r, mem[i], mem_len[i], &ret[i])))
			break;
	}
	*done = i;
	return err;
}

void bpfvm_runner_free(struct bpfvm_runner *r)
{
	if (!r)
		return;
	sys_put(r->vm, r->o);
	free(r);
}
