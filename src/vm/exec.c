/* exec.c -- the one engine entry every run goes through: per-run reset, the engine choice, execution
 * slots held across repetitions, and the one fault report.  What it needs from the instance comes
 * through the services table the program carries (struct vm_services), so vm/ includes no sys.h here. */
#include <sched.h>
#include <time.h>

#include "vm.h"

/* Inline in exec_held(): with it, a call and its register saves were a tenth of an empty program's run
 * through a bpfvm_runner on the interpreter. */
static inline __attribute__((always_inline)) uint64_t engine_run(struct vm_run *run, uint64_t a1, uint64_t a2)
{
	if (run->svc->native && run->prog->jit_fn)
		return run->svc->native(run, a1, a2);
	return vm_interp(run, a1, a2);
}

uint64_t vm_engine_run(struct vm_run *run, uint64_t a1, uint64_t a2)
{
	return engine_run(run, a1, a2);
}

/* One invocation with the slot held.  The entry program is restored afterwards: a tail call left
 * run->prog at the last program entered.  Inline in vm_exec() for a leaf's run. */
static inline __attribute__((always_inline)) int exec_held(struct vm_run *run, struct vm_prog *entry, uint64_t *ret)
{
	uint64_t r0;

	vm_run_reset(run);
	r0 = engine_run(run, (uintptr_t)run->ctx, run->arg2);
	if (run->err)
		run->svc->fault_report(run);
	if (run->refs.cnt) /* most runs take nothing: no call */
		run->svc->run_put(run); /* after the report: the faulting program may be one only the run holds */
	run->prog = entry;
	if (run->err)
		return run->err;
	*ret = r0;
	return 0;
}

int vm_exec(struct vm_run *run, uint64_t *ret)
{
	const struct vm_services *svc = run->svc;
	int err;

	/* A leaf cannot see its slot (no helper reads per-CPU state for it): claiming one, an atomic
	 * exchange and a store, was a tenth of a classic filter's run. */
	if (run->prog->leaf)
		return exec_held(run, run->prog, ret);
	run->slot = svc->slot_get_near(run->vm, run->slot); /* a repeated run keeps its slot's cache line */
	err = exec_held(run, run->prog, ret);
	svc->slot_put(run->vm, run->slot);
	return err;
}

bool vm_exec_keep(struct vm_run *run, void *keep)
{
	return run->prog->leaf && run->prog->jit_fn && run->svc->native_keep && run->svc->native_rerun &&
	       run->svc->native_keep(run, keep);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Linux runs a test-run repeat loop on one CPU, with cond_resched() points (bpf_test_timer_continue()).
 * Here the slot is held across runs, since claiming it costs an atomic exchange per run (~40% of an
 * empty program), and given back for a moment once it has been held VM_SLOT_HOLD_NS, so that threads
 * waiting for a slot get one.  The clock is read every `every` runs, an interval that doubles (up to
 * VM_SLOT_CHECK_MAX) while runs are short, so cheap runs do not pay for a clock read each. */
#define VM_SLOT_HOLD_NS    1000000u
#define VM_SLOT_CHECK_NS   50000u
#define VM_SLOT_CHECK_MAX  4096u

int vm_exec_repeat(struct vm_run *run, uint32_t repeat, uint64_t *ret)
{
	const struct vm_services *svc = run->svc;
	struct bpfvm *vm = run->vm;
	struct vm_prog *entry = run->prog;
	uint64_t held_since = mono_ns(), last_check = held_since;
	uint32_t every = 1, since_check = 0;
	int err = 0;

	run->slot = svc->slot_get_near(vm, run->slot);
	for (uint32_t i = 0; i < repeat && !err; i++) {
		err = exec_held(run, entry, ret);
		if (++since_check < every || i + 1 == repeat)
			continue;
		uint64_t now = mono_ns();
		if (now - last_check < VM_SLOT_CHECK_NS && every < VM_SLOT_CHECK_MAX)
			every *= 2;
		else if (now - last_check > 2 * VM_SLOT_CHECK_NS && every > 1)
			every /= 2;
		since_check = 0;
		last_check = now;
		if (now - held_since >= VM_SLOT_HOLD_NS) {
			svc->slot_put(vm, run->slot);
			sched_yield();
			run->slot = svc->slot_get_near(vm, run->slot);
			held_since = mono_ns();
		}
	}
	svc->slot_put(vm, run->slot);
	return err;
}
