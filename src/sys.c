/* sys.c -- the bpf() command layer: creating and freeing instances (their object table, slots and logs
 * are src/core's), the engines' services, and the bpf() commands on programs.  Map commands are in
 * sys_map.c.  Handles ("fds") are indices into the instance's table, each holding one reference. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"
#include "helpers/helpers.h"
#include "maps/maps.h"
#include "progtypes/progtypes.h"
#include "vm/vm.h"
#include "jit/jit.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the engines assume a little-endian host");

#define FD_MAX 65536
/* Whether instances run native code unless bpfvm_opts.interp says otherwise. */
#define SYS_JIT_DEFAULT 1
#define LOG_MAX_DEFAULT (1u << 20)
/* A fixed 1 GiB rather than a share of RAM: the same program gets the same answer on every machine,
 * and it is far above what typical maps (a few MiB) take while stopping a runaway max_entries. */
#define MAP_MEM_MAX_DEFAULT (1ull << 30)

/* ---- instance ---------------------------------------------------------------------------- */

static void *dup_table(const void *src, size_t cnt, size_t elem)
{
	if (!cnt)
		return NULL;
	void *p = malloc(cnt * elem);
	if (p)
		memcpy(p, src, cnt * elem);
	return p;
}

static void default_pin_root(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg && *xdg && access(xdg, W_OK) == 0)
		snprintf(buf, len, "%s/bpfvm", xdg);
	else /* one per user: a shared name is squatted by whoever creates it first */
		snprintf(buf, len, "/dev/shm/bpfvm-%u", (unsigned)geteuid());
}

static void prog_release(struct bpfvm *vm, struct vm_prog *p);

/* The instance's release hook (struct bpfvm.release): the payload of an object whose last reference
 * went, which the object table (src/core) cannot free itself. */
static void obj_release(struct bpfvm *vm, struct sys_obj *o)
{
	if (o->kind == SYS_PROG) {
		prog_release(vm, o->prog);
	} else if (o->kind == SYS_MAP) {
		hlp_timer_map_release(vm, o->map);
		sys_map_release(vm, o->map);
	}
}

static const struct bpfvm_kfunc *find_host_fn(const struct bpfvm_kfunc *t, size_t cnt, uint32_t id)
{
	for (size_t i = 0; i < cnt; i++)
		if (t[i].id == id)
			return &t[i];
	return NULL;
}

/* bpfvm_opts.protos as helper prototypes the verifier checks calls against (enum hlp_arg), into
 * vm->host_protos: 0, or -EINVAL for one that names no function of vm, has an unknown kind, two of one
 * function, or a memory argument without its size (Linux check_arg_pair_ok()). */
static int host_protos(struct bpfvm *vm, const struct bpfvm_func_proto *p, size_t n)
{
	static const uint8_t arg_of[] = {
		[BPFVM_ARG_ANY] = ARG_NONE,
		[BPFVM_ARG_SCALAR] = ARG_SCALAR,
		[BPFVM_ARG_MEM] = ARG_PTR_TO_MEM_RO,
		[BPFVM_ARG_MEM_OR_NULL] = ARG_PTR_TO_MEM_OR_NULL,
		[BPFVM_ARG_MEM_UNINIT] = ARG_PTR_TO_UNINIT_MEM,
		[BPFVM_ARG_SIZE] = ARG_CONST_SIZE,
		[BPFVM_ARG_SIZE_OR_ZERO] = ARG_CONST_SIZE_OR_ZERO,
		[BPFVM_ARG_CTX] = ARG_PTR_TO_CTX,
	};
	struct hlp_proto *t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	vm->host_protos = t;
	for (size_t i = 0; i < n; i++) {
		const struct bpfvm_kfunc *fn = p[i].kfunc ? find_host_fn(vm->kfuncs, vm->kfunc_cnt, p[i].id)
							  : find_host_fn(vm->helpers, vm->helper_cnt, p[i].id);
		if (!fn || p[i].ret > BPFVM_RET_VOID || sys_host_proto(vm, p[i].id, p[i].kfunc))
			return -EINVAL;
		t[i].id = p[i].id;
		t[i].name = fn->name ? fn->name : "host";
		t[i].ret = p[i].ret == BPFVM_RET_VOID ? RET_VOID : RET_INTEGER;
		t[i].flags = p[i].kfunc ? HF_KFUNC : 0;
		for (int a = 0; a < 5; a++) {
			uint8_t k = p[i].args[a];
			if (k >= sizeof(arg_of) / sizeof(arg_of[0]))
				return -EINVAL;
			bool mem = k == BPFVM_ARG_MEM || k == BPFVM_ARG_MEM_OR_NULL || k == BPFVM_ARG_MEM_UNINIT;
			bool size = k == BPFVM_ARG_SIZE || k == BPFVM_ARG_SIZE_OR_ZERO;
			uint8_t next = a < 4 ? p[i].args[a + 1] : BPFVM_ARG_ANY;
			uint8_t prev = a ? p[i].args[a - 1] : BPFVM_ARG_ANY;
			if ((mem && next != BPFVM_ARG_SIZE && next != BPFVM_ARG_SIZE_OR_ZERO) ||
			    (size && prev != BPFVM_ARG_MEM && prev != BPFVM_ARG_MEM_OR_NULL && prev != BPFVM_ARG_MEM_UNINIT))
				return -EINVAL;
			t[i].args[a] = arg_of[k];
		}
		vm->host_proto_cnt = i + 1; /* sys_host_proto() sees the ones before: a second of one id fails */
	}
	return 0;
}

struct bpfvm *bpfvm_new(const struct bpfvm_opts *opts)
{
	struct bpfvm_opts o = { .sz = sizeof(o) };
	struct bpfvm *vm;

	if (opts) {
		if (opts->sz < offsetof(struct bpfvm_opts, nr_cpus) + sizeof(unsigned int))
			return NULL;
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	vm = aligned_alloc(_Alignof(struct bpfvm), sizeof(*vm)); /* the logs' cache lines */
	if (!vm)
		return NULL;
	memset(vm, 0, sizeof(*vm));
	vm->log_max = o.log_max ? o.log_max : LOG_MAX_DEFAULT;
	for (size_t i = 0; i < SYS_LOG_BUCKETS; i++)
		atomic_init(&vm->logs[i], NULL);
	if (o.nr_cpus == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.nr_cpus = n > 0 ? (unsigned int)n : 1;
	}
	if (o.nr_cpus > 1024)
		goto fail;
	vm->nr_cpus = o.nr_cpus;
	if (o.pin_root) {
		if (strlen(o.pin_root) >= sizeof(vm->pin_root))
			goto fail;
		snprintf(vm->pin_root, sizeof(vm->pin_root), "%s", o.pin_root);
	} else {
		default_pin_root(vm->pin_root, sizeof(vm->pin_root));
	}
	vm->untrusted = o.untrusted != 0;
	if (o.verify < 0 || o.verify > BPFVM_VERIFY_EXACT_LOOPS)
		goto fail;
	vm->verify = o.verify != BPFVM_VERIFY_OFF;
	vm->exact_loops = o.verify == BPFVM_VERIFY_EXACT_LOOPS;
	if (o.checks < 0 || o.checks > BPFVM_CHECKS_ALWAYS)
		goto fail;
	vm->checks_always = o.checks == BPFVM_CHECKS_ALWAYS;
	vm->allow_foreign_pins = o.allow_foreign_pins != 0;
	vm->map_mem_max = o.map_mem_max ? o.map_mem_max : MAP_MEM_MAX_DEFAULT;
	vm->jit = !o.interp && jit_available() && SYS_JIT_DEFAULT;
	vm->jit_blind = o.jit_blind != 0;
	vm->print = o.print;
	vm->print_ctx = o.print_ctx;
	vm->insn_limit = o.insn_limit ? o.insn_limit : BPFVM_INSN_LIMIT_DEFAULT;
	atomic_init(&vm->interrupted, false);
	vm->kfunc_cnt = o.kfunc_cnt;
	vm->kfuncs = dup_table(o.kfuncs, o.kfunc_cnt, sizeof(*o.kfuncs));
	vm->helper_cnt = o.helper_cnt;
	vm->helpers = dup_table(o.helpers, o.helper_cnt, sizeof(*o.helpers));
	if ((o.kfunc_cnt && !vm->kfuncs) || (o.helper_cnt && !vm->helpers))
		goto fail;
	if (o.proto_cnt && (!o.protos || host_protos(vm, o.protos, o.proto_cnt)))
		goto fail;
	if (sys_slots_init(vm))
		goto fail;
	/* 2^-64 for two instances to collide; without entropy yet, what tells this one apart at least */
	while (!vm->tag)
		if (getrandom(&vm->tag, sizeof(vm->tag), GRND_NONBLOCK) != sizeof(vm->tag))
			vm->tag = ((uint64_t)getpid() << 32 ^ (uint64_t)clock() ^ (uintptr_t)vm) * 0x9e3779b97f4a7c15ull;
	if (jit_available() && !(vm->jit_mem = jit_mem_new()))
		goto fail;
	vm->release = obj_release;
	vm->release_uref = sys_map_release_uref;
	atomic_init(&vm->fds, NULL);
	atomic_init(&vm->ids, NULL);
	pthread_mutex_init(&vm->lock, NULL);
	sys_borrow_init(vm);
	return vm;
fail:
	free(vm->kfuncs);
	free(vm->helpers);
	free(vm->host_protos);
	free(vm->slots);
	jit_mem_free(vm->jit_mem);
	free(vm);
	return NULL;
}

void bpfvm_free(struct bpfvm *vm)
{
	if (!vm)
		return;
	hlp_timer_fini(vm); /* no callback may run while objects go away */
	sys_close_all(vm);
	sys_maps_teardown(vm);
	sys_objtab_fini(vm);
	free(vm->kfuncs);
	free(vm->helpers);
	free(vm->host_protos);
	free(vm->slots);
	jit_mem_free(vm->jit_mem); /* after the last program's code came back to it */
	pt_pool_drain(vm);
	pthread_mutex_destroy(&vm->lock);
	sys_logs_fini(vm);
	free(vm);
}

const char *sys_insn_where(const struct vm_prog *p, size_t pc, char *buf, size_t len)
{
	/* the last line starting at or before pc */
	size_t lo = 0, hi = p->line_cnt;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->lines[mid].insn <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo)
		snprintf(buf, len, "insn %zu (%s:%u)", pc, p->lines[lo - 1].file, p->lines[lo - 1].line);
	else
		snprintf(buf, len, "insn %zu", pc);
	return buf;
}

static int cmp_line(const void *a, const void *b)
{
	const struct isa_line *x = a, *y = b;
	return x->insn < y->insn ? -1 : x->insn > y->insn;
}

int sys_prog_set_lines(struct bpfvm *vm, int fd, const struct isa_line *lines, size_t cnt)
{
	int err = 0;
	struct sys_obj *o = sys_get(vm, fd, SYS_PROG, &err);
	if (!o)
		return err;
	struct isa_line *copy = cnt ? malloc(cnt * sizeof(*copy)) : NULL;
	if (cnt && !copy) {
		sys_put(vm, o);
		return -ENOMEM;
	}
	if (cnt)
		memcpy(copy, lines, cnt * sizeof(*copy));
	qsort(copy, cnt, sizeof(*copy), cmp_line);
	free(o->prog->lines); /* set once, at load, before any run */
	o->prog->lines = copy;
	o->prog->line_cnt = cnt;
	sys_put(vm, o);
	return 0;
}

int bpfvm_set_insn_limit(struct bpfvm *vm, uint64_t limit)
{
	sys_log_reset(vm);
	if (limit == 0)
		return sys_err(vm, -EINVAL, "instruction limit 0: a run needs at least one unit "
			       "(BPFVM_INSN_UNLIMITED runs without a budget)");
	vm->insn_limit = limit;
	return 0;
}

uint64_t bpfvm_insn_limit(const struct bpfvm *vm)
{
	return vm->insn_limit;
}

void bpfvm_interrupt(struct bpfvm *vm)
{
	atomic_store_explicit(&vm->interrupted, true, memory_order_relaxed); /* async-signal-safe */
}

void bpfvm_interrupt_clear(struct bpfvm *vm)
{
	atomic_store_explicit(&vm->interrupted, false, memory_order_relaxed);
}

/* ---- run-time services for the engines ---------------------------------------------------- */

/* vm_services.call_helper_id */
static uint64_t call_helper_id(struct vm_run *run, uint64_t id, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			       uint64_t r5)
{
	struct bpfvm *vm = run->vm;

	for (size_t i = 0; i < vm->helper_cnt; i++)
		if (vm->helpers[i].id == id)
			return vm->helpers[i].fn(r1, r2, r3, r4, r5);
	const struct hlp_proto *h = id <= UINT32_MAX ? hlp_get((uint32_t)id) : NULL;
	if (!h || (h->flags & HF_TAIL_CALL) || !pt_helper_allowed(run->prog->type, (uint32_t)id) ||
	    (vm->untrusted && !pt_helper_untrusted_ok((uint32_t)id))) {
		vm_fault(run, -EINVAL, "callx to unknown or disallowed helper", (uintptr_t)id, 0);
		return 0;
	}
	unsigned zr = vm_zero_size_reg(hlp_nonzero_args(h), r1, r2, r3, r4, r5);
	if (zr) {
		vm_fault(run, -EACCES, vm_zero_size_msg(zr), 0, 0);
		return 0;
	}
	const uint64_t args[5] = { r1, r2, r3, r4, r5 };
	if (run->untrusted && !hlp_untrusted_args(run, h, args))
		return 0;
	return h->fn(run, r1, r2, r3, r4, r5);
}

/* A map the program references: the program holds it, and the run holds the program. */
static struct map *prog_map(const struct vm_prog *p, uint64_t ptr)
{
	for (size_t i = 0; i < p->used_map_cnt; i++)
		if ((uintptr_t)p->used_maps[i] == ptr)
			return p->used_maps[i];
	return NULL;
}

/* vm_services.tail_call_target */
static struct vm_prog *tail_call_target(struct vm_run *run, uint64_t map_ptr, uint64_t index, uint64_t *slot)
{
	struct bpfvm *vm = run->vm;
	struct map *m = prog_map(run->prog, map_ptr);

	if (!m || map_type(m) != BPF_MAP_TYPE_PROG_ARRAY) {
		vm_fault(run, -EINVAL, "bpf_tail_call: R2 is not a prog array of the program", (uintptr_t)map_ptr, 0);
		return NULL;
	}
	if (index >= map_max_entries(m))
		return NULL;
	/* a slot another instance filled names a program of that instance: empty, for us (Linux has one
	 * id space; here an id of ours there would run an unrelated program) */
	uint64_t word = 0;
	uint32_t pid = map_prog_array_get(m, (uint32_t)index, vm->tag, &word);
	if (!pid)
		return NULL;
	struct sys_obj *po = sys_get_by_id(vm, pid, SYS_PROG);
	if (!po)
		return NULL;
	if (po->prog->type != run->prog->type) {
		sys_put(vm, po);
		return NULL;
	}
	/* Held until the run ends, whatever the array does meanwhile: the program tail-calling may be a
	 * subprogram whose caller's code the target's exit returns into. */
	if (hlp_run_hold(run, po)) {
		vm_fault(run, -ENOMEM, "bpf_tail_call: no memory to hold the target", 0, 0);
		return NULL;
	}
	if (slot)
		*slot = word;
	return po->prog;
}

bool sys_host_helper(const struct bpfvm *vm, uint32_t id)
{
	return find_host_fn(vm->helpers, vm->helper_cnt, id) != NULL;
}

const struct hlp_proto *sys_host_proto(const struct bpfvm *vm, uint32_t id, bool kfunc)
{
	for (size_t i = 0; i < vm->host_proto_cnt; i++)
		if (vm->host_protos[i].id == id && !(vm->host_protos[i].flags & HF_KFUNC) == !kfunc)
			return &vm->host_protos[i];
	return NULL;
}

/* vm_services.resolve_call: what a call id names for a program of this instance (embedder kfuncs,
 * embedder helpers, Linux's helpers), and whether its type may call it. */
static int resolve_call(const struct vm_prog *prog, const struct bpf_insn *in, size_t pc, struct vm_insn *out,
			struct diag *log)
{
	struct bpfvm *vm = prog->vm;
	const struct bpfvm_kfunc *host;
	uint32_t id = (uint32_t)in->imm;

	if (out->id == ISA_CALL_KFUNC) {
		host = find_host_fn(vm->kfuncs, vm->kfunc_cnt, id);
		if (!host) {
			diag_printf(log, "insn %zu: unknown kfunc id %u", pc, id);
			return -EINVAL;
		}
		out->k = (uintptr_t)host->fn;
		return 0;
	}
	/* Helpers the embedder registers take precedence over Linux's of the same id. */
	host = find_host_fn(vm->helpers, vm->helper_cnt, id);
	if (host) {
		out->id = ISA_CALL_KFUNC;
		out->k = (uintptr_t)host->fn;
		return 0;
	}
	const struct hlp_proto *h = hlp_get(id);
	if (!h) {
		diag_printf(log, "insn %zu: invalid func unknown#%d", pc, in->imm);
		return -EINVAL;
	}
	/* Linux's verifier wording (check_helper_call()), with bpfvm's reason appended. */
	if (!pt_helper_allowed(prog->type, id)) {
		diag_printf(log, "insn %zu: program of this type cannot use helper bpf_%s#%u (program type %u)", pc,
			    h->name, id, prog->type);
		return -EINVAL;
	}
	if (h->flags & HF_TAIL_CALL) { /* the engines run it as insn.def's TAIL_CALL */
		out->id = ISA_TAIL_CALL;
		return 0;
	}
	if (vm->untrusted && !pt_helper_untrusted_ok(id)) {
		diag_printf(log, "insn %zu: program of this type cannot use helper bpf_%s#%u (untrusted mode: no probe reads)",
			    pc, h->name, id);
		return -EINVAL;
	}
	out->k = (uintptr_t)h->fn;
	/* A call has no access size: the slot carries the mask, plus VM_CALL_UNTRUSTED when the run must
	 * check the arguments for pointer leaks (hlp_untrusted_call()). */
	out->size = hlp_nonzero_args(h);
	if (vm->untrusted && hlp_untrusted_checks(h))
		out->size |= VM_CALL_UNTRUSTED;
	return 0;
}

/* ---- running ------------------------------------------------------------------------------ */

/* The engine entry's view of the instance (src/vm/exec.c). */
static void sys_fault_report(struct vm_run *run)
{
	char *what = vm_fault_msg(run), where[128];
	const struct vm_prog *p = vm_fault_prog(run);
	sys_err(run->vm, run->err, "prog '%s': %s: %s", p->name, sys_insn_where(p, run->fault_pc, where, sizeof(where)),
		what ? what : run->fault_what ? run->fault_what : "fault");
	free(what);
}

/* Two tables: runs of an instance with the JIT (the default on x86-64) and of one that asked for the
 * interpreter (bpfvm_opts.interp); bpfvm_prog_run() may pick either for one run. */
#define SYS_VM_SERVICES \
	.slot_get_near = sys_slot_get_near, \
	.slot_put = sys_slot_put, \
	.run_put = hlp_run_put, \
	.resolve_call = resolve_call, \
	.call_helper_id = call_helper_id, \
	.tail_call_target = tail_call_target, \
	.mem_ok_dynamic = hlp_mem_ok_dynamic, \
	.spin_release = hlp_spin_run_end, \
	.is_ptr = hlp_is_ptr, \
	.store_leak = hlp_store_leak, \
	.untrusted_call = hlp_untrusted_call
static const struct vm_services sys_vm_services = { SYS_VM_SERVICES, .fault_report = sys_fault_report,
						     .native = jit_run, .native_call = jit_call_subprog,
						     .native_keep = jit_keep, .native_rerun = jit_rerun };
static const struct vm_services sys_vm_services_interp = { SYS_VM_SERVICES, .fault_report = sys_fault_report,
							    .native = NULL };

/* Runs through a bpfvm_runner clear the log only when they fail (a run that succeeds leaves it alone:
 * looking the thread's log up was most of an empty program's call). */
static void sys_fault_report_fresh(struct vm_run *run)
{
	sys_log_reset(run->vm);
	sys_fault_report(run);
}
static const struct vm_services sys_vm_services_fresh = { SYS_VM_SERVICES, .fault_report = sys_fault_report_fresh,
							   .native = jit_run, .native_call = jit_call_subprog,
							   .native_keep = jit_keep, .native_rerun = jit_rerun };
static const struct vm_services sys_vm_services_interp_fresh = { SYS_VM_SERVICES,
								  .fault_report = sys_fault_report_fresh, .native = NULL };
#undef SYS_VM_SERVICES

const struct vm_services *sys_services_fresh_log(const struct vm_services *svc)
{
	return svc == &sys_vm_services ? &sys_vm_services_fresh : &sys_vm_services_interp_fresh;
}

void sys_prog_bind(struct bpfvm *vm, struct vm_prog *p)
{
	p->vm = vm;
	p->svc = vm->jit ? &sys_vm_services : &sys_vm_services_interp;
	p->insn_limit = &vm->insn_limit;
	p->interrupted = &vm->interrupted;
	p->untrusted = vm->untrusted;
	p->jit_blind = vm->jit_blind;
}

/* The image a plain run of prog (run_plain()) executes if it is stateless native code (jit_image.stateless:
 * no call, back-edge, check or fault), else NULL.  As jit_image_of() picks it for run_plain()'s run: the
 * proven image for a declared UNSPEC program of a trusted instance. */
static const struct jit_image *stateless_image(const struct vm_prog *prog, bool jit)
{
	const struct jit_image *img = prog->jit_fn;

	if (!jit || !img)
		return NULL;
	if (prog->jit_proven && prog->mem_declared && !prog->untrusted)
		img = prog->jit_proven;
	return img->stateless ? img : NULL;
}

/* One run of prog over plain memory.  `stateless` (stateless_image()): that code, which reads nothing of
 * a run but its arguments, its entry frame and the packet fields (LD_ABS/LD_IND), is called as jit_run()
 * calls it, with no struct vm_run set up beyond those two fields (vm_run_init() and vm_exec() were most
 * of an empty program's bpfvm_prog_run()).  Either way r10 is the top of `stack`: out of line and called
 * from bpfvm_prog_run() alone, so that a program that returns a stack address returns the same one on
 * both engines (the differential fuzzer compares them). */
static __attribute__((noinline)) int run_plain(struct vm_prog *prog, bool jit, const struct jit_image *stateless,
					       void *mem, size_t len, uint64_t *ret)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct vm_run run;

	if (stateless) {
		uintptr_t top = (uintptr_t)stack + sizeof(stack);
		run.pkt = mem; /* the only fields such code reads */
		run.pkt_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
		vm_frame_zero_below(top, jit_entry_zero(stateless, prog));
		*ret = ((jit_stateless_fn)(uintptr_t)stateless->code)((uintptr_t)mem, len, top, &run);
		return 0;
	}
	vm_run_init(&run, prog, stack);
	run.svc = jit ? &sys_vm_services : &sys_vm_services_interp;
	if (mem && len)
		vm_run_add_region(&run, mem, len, true);
	run.ctx = mem;
	run.arg2 = len;
	run.pkt = mem;
	run.pkt_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	/* only a declared UNSPEC program gets what its verifier assumed here (sys_mem_check() ran): a
	 * typed program's "ctx" is plain memory in this run, its packet pointers anything */
	run.trusted = prog->mem_declared;
	return vm_exec(&run, ret);
}

int sys_mem_check(struct bpfvm *vm, int fd, const struct vm_prog *p, const void *mem, size_t len)
{
	if (p->mem_declared && (len < p->mem_len || (!mem && len)))
		return sys_err(vm, -EINVAL, "fd %d: memory of %zu bytes, the program declared %u", fd, len, p->mem_len);
	return 0;
}

int sys_engine_services(struct bpfvm *vm, int fd, const struct vm_prog *p, int engine, const struct vm_services **out)
{
	if (engine == BPFVM_ENGINE_DEFAULT)
		engine = vm->jit ? BPFVM_ENGINE_JIT : BPFVM_ENGINE_INTERP;
	if (engine != BPFVM_ENGINE_INTERP && engine != BPFVM_ENGINE_JIT)
		return sys_err(vm, -EINVAL, "engine %d: not an engine", engine);
	if (engine == BPFVM_ENGINE_JIT && !p->jit_fn)
		return sys_err(vm, -EOPNOTSUPP, "fd %d: no native code (the JIT is not available on this host)", fd);
	*out = engine == BPFVM_ENGINE_JIT ? &sys_vm_services : &sys_vm_services_interp;
	return 0;
}

/* The stateless code a borrowed program (core.h sys_borrow()) may run, or NULL: a run that calls
 * nothing drops no reference and does not block, so it needs none.  NULL too when the engine or the
 * memory is wrong: the checks after the borrow report it. */
static const struct jit_image *borrowed_image(const struct bpfvm *vm, const struct vm_prog *p,
					      enum bpfvm_engine engine, const void *mem, size_t len)
{
	bool jit = engine == BPFVM_ENGINE_JIT || (engine == BPFVM_ENGINE_DEFAULT && vm->jit);

	if (p->mem_declared && (len < p->mem_len || (!mem && len))) /* as sys_mem_check() */
		return NULL;
	return stateless_image(p, jit);
}

int bpfvm_prog_run(struct bpfvm *vm, int fd, enum bpfvm_engine engine, void *mem, size_t mem_len, uint64_t *ret)
{
	const struct vm_services *svc;
	struct sys_obj *o = NULL;
	int err = 0;
	uint64_t r0;

	struct sys_log *self = sys_log_reset_self(vm);
	if (engine != BPFVM_ENGINE_DEFAULT && engine != BPFVM_ENGINE_INTERP && engine != BPFVM_ENGINE_JIT)
		return sys_err(vm, -EINVAL, "engine %d: not an engine", (int)engine);
	if (self) {
		struct sys_obj *b = sys_borrow(vm, self, fd, SYS_PROG);
		const struct jit_image *img = b ? borrowed_image(vm, b->prog, engine, mem, mem_len) : NULL;
		if (img)
			run_plain(b->prog, true, img, mem, mem_len, &r0); /* cannot fail */
		else if (b && sys_borrow_hold(b))
			o = b; /* any other run: with a reference, as it may drop references or block */
		sys_borrow_end(self);
		if (img) {
			*ret = r0;
			return 0;
		}
	}
	if (!o)
		o = sys_get(vm, fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", fd);
	if ((err = sys_engine_services(vm, fd, o->prog, (int)engine, &svc))) {
		sys_put(vm, o);
		return err;
	}
	if ((err = sys_mem_check(vm, fd, o->prog, mem, mem_len))) {
		sys_put(vm, o);
		return err;
	}
	/* the fd's reference keeps the program (and its code) alive while it runs, whoever closes the fd */
	bool jit = svc == &sys_vm_services;
	err = run_plain(o->prog, jit, stateless_image(o->prog, jit), mem, mem_len, &r0);
	sys_put(vm, o);
	if (!err)
		*ret = r0;
	return err;
}

int bpfvm_prog_jited(struct bpfvm *vm, int fd, struct bpfvm_jited *out)
{
	struct sys_obj *o;
	int err = 0;

	sys_log_reset(vm);
	o = sys_get(vm, fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", fd);
	/* the code the type's own runs execute: for a verified program, with what the proofs cover unchecked */
	const struct jit_image *img = o->prog->jit_proven ? o->prog->jit_proven : o->prog->jit_fn;
	if (img) {
		/* the fd holds the program: its code outlives this reference */
		*out = (struct bpfvm_jited){ img->code, img->len, img->off, o->prog->orig, o->prog->cnt };
	}
	sys_put(vm, o);
	if (!img)
		return sys_err(vm, -EOPNOTSUPP, "fd %d: no native code (the JIT is not available on this host)", fd);
	return 0;
}

/* ---- program commands --------------------------------------------------------------------- */

static void prog_release(struct bpfvm *vm, struct vm_prog *p)
{
	hlp_timer_prog_release(vm, p); /* before its code goes */
	jit_free(vm->jit_mem, p);
	for (size_t i = 0; i < p->used_map_cnt; i++) {
		struct sys_obj *mo = sys_get_by_id(vm, p->used_map_ids[i], SYS_MAP);
		if (mo) {
			/* drop both the lookup's reference and the one the program held */
			sys_put(vm, mo);
			sys_put(vm, mo);
		}
	}
	vm_prog_free(p);
}

/* Attr bytes past the fields a command knows must be zero (Linux CHECK_ATTR + bpf_check_uarg_tail_zero). */
static int attr_tail_zero(const union bpf_attr *attr, unsigned int size, size_t used)
{
	return sys_bytes_zero(attr, used, size) ? 0 : -E2BIG;
}

/* Returns the map's index in p->used_maps (>= 0) or -ENOMEM. */
static int add_used_map(struct vm_prog *p, struct sys_obj *mo)
{
	for (size_t i = 0; i < p->used_map_cnt; i++)
		if (p->used_map_ids[i] == mo->id)
			return (int)i;
	uint32_t *ids = realloc(p->used_map_ids, (p->used_map_cnt + 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	p->used_map_ids = ids;
	struct vm_region *rg = realloc(p->map_regions, (p->map_region_cnt + 1) * sizeof(*rg));
	if (!rg)
		return -ENOMEM;
	p->map_regions = rg;
	struct map **mp = realloc(p->used_maps, (p->used_map_cnt + 1) * sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	p->used_maps = mp;
	mp[p->used_map_cnt] = mo->map;
	struct vm_map_desc *md = realloc(p->map_descs, (p->used_map_cnt + 1) * sizeof(*md));
	if (!md)
		return -ENOMEM;
	p->map_descs = md;
	md += p->used_map_cnt;
	*md = (struct vm_map_desc){ .name = map_name(mo->map) };
	if (!map_array_layout(mo->map, &md->values, &md->stride, &md->max_entries))
		md->values = NULL;
	if (!map_prog_array_layout(mo->map, &md->prog_slots, &md->max_entries))
		md->prog_slots = NULL;
	md->lookup = map_direct_lookup(mo->map);
	md->lookup_slot = md->lookup && map_is_percpu(mo->map);
	void *lo;
	size_t n;
	bool w;
	map_region(mo->map, &lo, &n, &w);
	p->map_regions[p->map_region_cnt++] = (struct vm_region){ (uintptr_t)lo, (uintptr_t)lo + n, w,
								   !map_prog_readable(mo->map), 0 };
	p->used_map_ids[p->used_map_cnt++] = mo->id;
	sys_obj_hold(mo); /* the program's reference */
	return (int)p->used_map_cnt - 1;
}

/* Copies user memory that may not be mapped (copy_from_user()): process_vm_readv on ourselves fails with
 * EFAULT where a plain read would fault. */
static int read_user(void *dst, uint64_t src, size_t n)
{
	struct iovec local = { dst, n }, remote = { (void *)(uintptr_t)src, n };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -EFAULT;
}

/* Resolves lddw pseudo sources to addresses, as Linux's resolve_pseudo_ldimm64(): map fd/idx -> the
 * map pointer, map value -> the address of the value plus offset. */
static int resolve_ldimm64(struct bpfvm *vm, struct vm_prog *p, const union bpf_attr *attr, struct diag *log)
{
	for (size_t pc = 0; pc < p->cnt; pc++) {
		struct bpf_insn *in = &p->orig[pc];
		if (isa_decode(in) != ISA_LDDW)
			continue;
		uint8_t src = in->src_reg;
		if (src == ISA_PSEUDO_IMM || src == ISA_PSEUDO_FUNC) {
			pc++;
			continue;
		}
		if (src == ISA_PSEUDO_BTF_ID) {
			diag_printf(log, "insn %zu: lddw of a kernel BTF id is not supported (no kernel symbols)", pc);
			return -EINVAL;
		}
		int fd = in->imm;
		if (isa_pseudo_by_idx(src)) {
			if (!attr->fd_array) {
				diag_printf(log, "insn %zu: map index %d without fd_array", pc, in->imm);
				return -EPROTO;
			}
			/* fd_array has no length: Linux copies fd_array + imm * 4 (imm signed, the product
			 * wrapping) from user memory, and an address it cannot read is EFAULT.  The same read
			 * here never touches memory that is not mapped. */
			uint64_t at = attr->fd_array + (uint64_t)(int64_t)in->imm * sizeof(int32_t);
			if (read_user(&fd, at, sizeof(fd))) {
				diag_printf(log, "insn %zu: map index %d: fd_array entry at 0x%llx is not readable", pc, in->imm,
					    (unsigned long long)at);
				return -EFAULT;
			}
		}
		int err = 0;
		struct sys_obj *mo = sys_get(vm, fd, SYS_MAP, &err);
		if (!mo) {
			diag_printf(log, "insn %zu: fd %d is not pointing to valid bpf_map", pc, fd);
			return -EBADF;
		}
		uint64_t val;
		if (!isa_pseudo_is_value(src)) {
			val = (uintptr_t)mo->map;
		} else {
			uint32_t off = (uint32_t)p->orig[pc + 1].imm;
			void *addr = map_direct_value_addr(mo->map, off);
			if (!addr) {
				diag_printf(log, "insn %zu: invalid access to map value pointer, value_size=%u off=%u", pc,
					    map_value_size(mo->map), off);
				sys_put(vm, mo);
				return -EACCES;
			}
			val = (uintptr_t)addr;
		}
		err = add_used_map(p, mo);
		sys_put(vm, mo);
		if (err < 0)
			return err;
		p->aux[pc].map_idx = (uint32_t)err;
		if (isa_pseudo_is_value(src))
			p->aux[pc].value_off = (uint32_t)p->orig[pc + 1].imm;
		in->imm = (int32_t)(uint32_t)val;
		p->orig[pc + 1].imm = (int32_t)(uint32_t)(val >> 32);
		pc++;
	}
	return 0;
}

static bool valid_obj_name(const char *name, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && name[i]; i++)
		if (!(name[i] == '_' || name[i] == '.' || (name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return i < cap; /* must be NUL-terminated */
}

/* PROG_LOAD's log_true_size (Linux 6.4), right after core_relo_rec_size: the uapi header bpfvm builds with
 * may predate it, so it is reached by offset. */
#define LOG_TRUE_SIZE_OFF offsetofend(union bpf_attr, core_relo_rec_size)
_Static_assert(sizeof(union bpf_attr) >= LOG_TRUE_SIZE_OFF + sizeof(uint32_t), "log_true_size fits the attr");
#define LOG_FIXED 8u     /* BPF_LOG_FIXED: keep the log's start, not its end, when it does not fit */
#define LOG_LEVEL_MASK 15u /* BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2 | BPF_LOG_STATS | BPF_LOG_FIXED */

/* Linux bpf_vlog_finalize(): the caller's buffer gets the log, NUL-terminated; a log longer than
 * log_size - 1 bytes keeps its end (its start with BPF_LOG_FIXED) and fails the load with -ENOSPC,
 * whatever the verdict.  log_true_size, when the caller's attr reaches it, gets the bytes the whole
 * log needs, NUL included; without a buffer that is all that happens.  Returns 0 or -ENOSPC. */
static int copy_log_out(union bpf_attr *attr, unsigned int size, const struct diag *log)
{
	char *ubuf = (char *)(uintptr_t)attr->log_buf;
	size_t cap = attr->log_size, text = log->len ? log->len + 1 : 0; /* lines ended by '\n' as Linux's */
	size_t need = text + 1;

	if (!attr->log_level)
		return 0;
	if (size >= LOG_TRUE_SIZE_OFF + sizeof(uint32_t)) {
		uint32_t true_size = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
		memcpy((char *)attr + LOG_TRUE_SIZE_OFF, &true_size, sizeof(true_size));
	}
	if (!ubuf)
		return 0; /* only log_true_size was asked for */
	/* the part of the text that fits: all of it, its start (BPF_LOG_FIXED) or its end */
	size_t n = text < cap ? text : cap - 1, from = text < cap || (attr->log_level & LOG_FIXED) ? 0 : text - n;
	for (size_t i = 0; i < n; i++)
		ubuf[i] = from + i < log->len ? log->buf[from + i] : '\n';
	ubuf[n] = '\0';
	return need > cap ? -ENOSPC : 0;
}

/* mem: bpfvm_prog_opts' declaration of an UNSPEC program's memory, NULL for none (bpf()'s PROG_LOAD
 * has no field for it). */
static long prog_load(struct bpfvm *vm, union bpf_attr *attr, unsigned int size, const struct bpfvm_prog_opts *mem)
{
	struct diag log;
	struct vm_prog *p = NULL;
	int err, lerr = 0;
	bool copied = false;
	char why[512] = ""; /* the verifier's rejection: the log's last line is its statistics then */

	/* known up to fd_array; core relocations unsupported; log_true_size is output only */
	if ((err = attr_tail_zero(attr, size < LOG_TRUE_SIZE_OFF ? size : LOG_TRUE_SIZE_OFF,
				  offsetofend(union bpf_attr, fd_array))) ||
	    (size > LOG_TRUE_SIZE_OFF + sizeof(uint32_t) &&
	     (err = attr_tail_zero(attr, size, LOG_TRUE_SIZE_OFF + sizeof(uint32_t)))))
		return sys_err(vm, err, "PROG_LOAD: unknown attribute bytes are not zero");
	if (attr->log_level & ~LOG_LEVEL_MASK)
		return sys_err(vm, -EINVAL, "PROG_LOAD: log_level %#x has unknown bits", attr->log_level);
	if (attr->insn_cnt == 0)
		return sys_err(vm, -EINVAL, "PROG_LOAD: insn_cnt is 0");
	if (attr->insn_cnt > ISA_MAX_INSNS)
		return sys_err(vm, -E2BIG, "PROG_LOAD: insn_cnt %u above the limit %u", attr->insn_cnt, ISA_MAX_INSNS);
	if (!attr->insns)
		return sys_err(vm, -EFAULT, "PROG_LOAD: insns is NULL");
	/* Linux bpf_verifier_log_attr_valid(); log_level with no buffer (and log_size 0) only asks for
	 * log_true_size */
	if (!attr->log_buf != !attr->log_size)
		return sys_err(vm, -EINVAL, "PROG_LOAD: log_buf and log_size go together");
	if (attr->log_buf && !attr->log_level)
		return sys_err(vm, -EINVAL, "PROG_LOAD: log_buf given with log_level 0");
	if (attr->log_size > UINT32_MAX >> 2)
		return sys_err(vm, -EINVAL, "PROG_LOAD: log_size %u above %u", attr->log_size, UINT32_MAX >> 2);
	if (!valid_obj_name(attr->prog_name, sizeof(attr->prog_name)))
		return sys_err(vm, -EINVAL, "PROG_LOAD: invalid prog_name");
	if (!pt_known(attr->prog_type))
		return sys_err(vm, -EINVAL, "PROG_LOAD: unknown prog_type %u", attr->prog_type);
	uint32_t attach = attr->expected_attach_type;
	if (pt_attach_fixup(attr->prog_type, &attach))
		return sys_err(vm, -EINVAL, "PROG_LOAD: expected_attach_type %u is not one of %s's", attach,
			       bpfvm_prog_type_name(attr->prog_type));

	diag_init(&log, 0);
	p = calloc(1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
		goto out;
	}
	sys_prog_bind(vm, p);
	p->type = attr->prog_type;
	p->expected_attach_type = attach;
	snprintf(p->name, sizeof(p->name), "%s", attr->prog_name);
	p->cnt = attr->insn_cnt;
	if (mem) {
		p->mem_declared = true;
		p->mem_len = (uint32_t)mem->mem_len; /* checked by bpfvm_prog_load_opts() */
	}
	p->orig = malloc(p->cnt * sizeof(*p->orig));
	if (!p->orig) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(p->orig, (const void *)(uintptr_t)attr->insns, p->cnt * sizeof(*p->orig));
	if (attr->license) {
		const char *lic = (const char *)(uintptr_t)attr->license;
		p->gpl = !strcmp(lic, "GPL") || !strcmp(lic, "GPL v2") || !strcmp(lic, "Dual BSD/GPL") ||
			 !strcmp(lic, "Dual MIT/GPL") || !strcmp(lic, "Dual MPL/GPL") || !strcmp(lic, "GPL and additional rights");
	}
	err = isa_validate(p->orig, p->cnt, &log);
	if (!err)
		err = vm_prog_aux_init(p);
	if (!err)
		err = resolve_ldimm64(vm, p, attr, &log);
	if (!err && vm->verify)
		err = sys_verify_prog(vm, p, attr->log_level, &log, why, sizeof(why));
	if (!err)
		err = pt_ctx_check_load(p, &log);
	p->trust_proofs = p->verified && !vm->checks_always && !vm->untrusted;
	if (!err)
		err = vm_fixup(p, &log);
	/* Native code for every program where a JIT exists, whatever the instance's default engine, so
	 * that bpfvm_prog_run() can pick either and a tail call from native code always finds some. */
	if (!err && jit_available())
		err = jit_compile(vm->jit_mem, p, &log);
	if (!err)
		vm_prog_trust(p); /* after the JIT, which reads the ids as rows */
	/* Linux: a log that does not fit fails the load, whatever the verdict */
	lerr = copy_log_out(attr, size, &log);
	copied = true;
	if (lerr)
		err = lerr;
	if (err)
		goto out;
	err = sys_install(vm, SYS_PROG, p);
	if (err >= 0)
		p = NULL;
out:
	if (!copied)
		lerr = copy_log_out(attr, size, &log);
	if (err < 0) {
		char last[512];
		const char *line = why[0] ? why : log.len ? diag_last(&log, last, sizeof(last)) : "PROG_LOAD failed";
		if (lerr)
			sys_err(vm, err, "PROG_LOAD: log of %zu bytes does not fit log_size %u (%s)", log.len + 1,
				attr->log_size, line);
		else
			sys_err(vm, err, "%s", line);
	}
	if (p)
		prog_release(vm, p);
	diag_fini(&log);
	return err;
}

long sys_prog_load(struct bpfvm *vm, union bpf_attr *attr)
{
	return prog_load(vm, attr, sizeof(*attr), NULL);
}

int bpfvm_prog_load(struct bpfvm *vm, uint32_t prog_type, const struct bpf_insn *insns, size_t insn_cnt,
		    const char *name)
{
	struct bpfvm_prog_opts o = { .sz = sizeof(o), .name = name };
	return bpfvm_prog_load_opts(vm, prog_type, insns, insn_cnt, &o);
}

int bpfvm_prog_load_opts(struct bpfvm *vm, uint32_t prog_type, const struct bpf_insn *insns, size_t insn_cnt,
			 const struct bpfvm_prog_opts *opts)
{
	struct bpfvm_prog_opts o = { .sz = sizeof(o) };
	union bpf_attr attr;
	const char *name;

	sys_log_reset(vm);
	if (opts) {
		if (opts->sz < offsetof(struct bpfvm_prog_opts, name) + sizeof(opts->name))
			return sys_err(vm, -EINVAL, "bpfvm_prog_opts: sz %zu too small", opts->sz);
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	}
	name = o.name;
	if (o.declare_mem && prog_type != BPF_PROG_TYPE_UNSPEC)
		return sys_err(vm, -EINVAL, "declare_mem: only UNSPEC programs run over plain memory, not %s",
			       bpfvm_prog_type_name(prog_type));
	if (o.declare_mem && o.mem_len > UINT32_MAX)
		return sys_err(vm, -EINVAL, "declare_mem: mem_len %zu above %u", o.mem_len, UINT32_MAX);
	if (insn_cnt > UINT32_MAX)
		return sys_err(vm, -E2BIG, "program too large: %zu insns", insn_cnt);
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = prog_type;
	attr.insns = (uintptr_t)insns;
	attr.insn_cnt = (uint32_t)insn_cnt;
	attr.license = (uintptr_t)"GPL";
	if (name)
		snprintf(attr.prog_name, sizeof(attr.prog_name), "%s", name);
	return (int)prog_load(vm, &attr, sizeof(attr), o.declare_mem ? &o : NULL);
}

static long prog_test_run(struct bpfvm *vm, union bpf_attr *attr, unsigned int size)
{
	struct sys_obj *o;
	int err = 0;

	if ((err = attr_tail_zero(attr, size, offsetofend(union bpf_attr, test))))
		return sys_err(vm, err, "PROG_TEST_RUN: unknown attribute bytes are not zero");
	o = sys_get(vm, (int)attr->test.prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "PROG_TEST_RUN: fd %u is not a program", attr->test.prog_fd);
	err = pt_test_run(vm, o->prog, attr);
	sys_put(vm, o);
	return err;
}

static long prog_info(struct bpfvm *vm, struct sys_obj *o, union bpf_attr *attr)
{
	struct bpf_prog_info info;
	struct vm_prog *p = o->prog;
	uint32_t ulen = attr->info.info_len;
	struct bpf_prog_info *uinfo = (struct bpf_prog_info *)(uintptr_t)attr->info.info;

	memset(&info, 0, sizeof(info));
	if (ulen > sizeof(info)) {
		/* Linux: bytes of the caller's struct beyond ours must be zero. */
		for (uint32_t i = sizeof(info); i < ulen; i++)
			if (((const uint8_t *)uinfo)[i])
				return sys_err(vm, -E2BIG, "OBJ_GET_INFO_BY_FD: info_len %u with non-zero tail", ulen);
		ulen = sizeof(info);
	}
	memcpy(&info, uinfo, ulen);
	uint32_t want_xlated = info.xlated_prog_len;
	uint64_t xlated_buf = info.xlated_prog_insns;
	uint32_t want_maps = info.nr_map_ids;
	uint64_t map_buf = info.map_ids;
	memset(&info, 0, sizeof(info));
	info.type = p->type;
	info.id = o->id;
	memcpy(info.name, p->name, sizeof(info.name));
	info.xlated_prog_len = (uint32_t)(p->cnt * sizeof(struct bpf_insn));
	info.jited_prog_len = (uint32_t)p->jit_len;
	info.nr_map_ids = (uint32_t)p->used_map_cnt;
	info.gpl_compatible = p->gpl;
	if (xlated_buf && want_xlated) {
		size_t n = want_xlated < info.xlated_prog_len ? want_xlated : info.xlated_prog_len;
		memcpy((void *)(uintptr_t)xlated_buf, p->orig, n);
		info.xlated_prog_insns = xlated_buf;
	}
	if (map_buf && want_maps) {
		size_t n = want_maps < p->used_map_cnt ? want_maps : p->used_map_cnt;
		memcpy((void *)(uintptr_t)map_buf, p->used_map_ids, n * sizeof(uint32_t));
		info.map_ids = map_buf;
	}
	memcpy(uinfo, &info, ulen);
	attr->info.info_len = ulen;
	return 0;
}

static long get_next_id(struct bpfvm *vm, enum sys_kind kind, union bpf_attr *attr)
{
	return sys_next_id(vm, kind, attr->start_id, &attr->next_id);
}

static long fd_by_id(struct bpfvm *vm, enum sys_kind kind, uint32_t id)
{
	struct sys_obj *o = sys_get_by_id(vm, id, kind);
	int fd;

	if (!o)
		return sys_err(vm, -ENOENT, "no object with id %u", id);
	fd = sys_fd_install(vm, o); /* the lookup's reference becomes the handle's */
	if (fd < 0)
		sys_put(vm, o);
	return fd;
}

long bpfvm_bpf(struct bpfvm *vm, int cmd, union bpf_attr *attr, unsigned int size)
{
	union bpf_attr a;
	long ret;
	int err = 0;

	sys_log_reset(vm);
	if (!attr)
		return sys_err(vm, -EFAULT, "bpf: attr is NULL");
	if (size > sizeof(a)) {
		/* Linux bpf_check_uarg_tail_zero(): larger than a page is "silly large" whatever it holds */
		if (size > (unsigned long)sysconf(_SC_PAGESIZE))
			return sys_err(vm, -E2BIG, "bpf: attr size %u is larger than a page", size);
		if (attr_tail_zero(attr, size, sizeof(a)))
			return sys_err(vm, -E2BIG, "bpf: attr larger than known with non-zero tail");
		size = sizeof(a);
	}
	/* Work on a zero-padded copy as the kernel does, then copy results back.  (Padding only the tail:
	 * a memset of the whole union costs as much as a map lookup.) */
	memcpy(&a, attr, size);
	memset((char *)&a + size, 0, sizeof(a) - size);
	switch (cmd) {
	case BPF_PROG_LOAD:
		ret = prog_load(vm, &a, size, NULL);
		break;
	case BPF_PROG_TEST_RUN:
		ret = prog_test_run(vm, &a, size);
		break;
	case BPF_PROG_GET_NEXT_ID:
		ret = get_next_id(vm, SYS_PROG, &a);
		break;
	case BPF_MAP_GET_NEXT_ID:
		ret = get_next_id(vm, SYS_MAP, &a);
		break;
	case BPF_PROG_GET_FD_BY_ID:
		ret = fd_by_id(vm, SYS_PROG, a.prog_id);
		break;
	case BPF_MAP_GET_FD_BY_ID:
		ret = fd_by_id(vm, SYS_MAP, a.map_id);
		break;
	case BPF_OBJ_GET_INFO_BY_FD: {
		struct sys_obj *o = sys_get(vm, (int)a.info.bpf_fd, SYS_NONE, &err);
		if (!o) {
			ret = sys_err(vm, err, "OBJ_GET_INFO_BY_FD: bad fd %u", a.info.bpf_fd);
			break;
		}
		if (o->kind == SYS_PROG)
			ret = prog_info(vm, o, &a);
		else
			ret = sys_map_cmd(vm, cmd, &a, size);
		sys_put(vm, o);
		break;
	}
	default:
		ret = sys_map_cmd(vm, cmd, &a, size);
		break;
	}
	memcpy(attr, &a, size);
	return ret;
}

int bpfvm_insns_check(struct bpfvm *vm, const struct bpf_insn *insns, size_t insn_cnt)
{
	sys_log_reset(vm);
	if (!insns && insn_cnt)
		return sys_err(vm, -EINVAL, "no instructions");
	return isa_check_slots(insns, insn_cnt, sys_log(vm));
}

long bpfvm_asm(struct bpfvm *vm, const char *src, struct bpf_insn *buf, size_t buf_cnt)
{
	struct bpf_insn *insns = NULL;
	size_t cnt = 0;
	int err;

	sys_log_reset(vm);
	if (!src)
		return sys_err(vm, -EINVAL, "asm: no source text");
	err = isa_assemble(src, &insns, &cnt, sys_log(vm));
	if (err)
		return err;
	if (buf)
		memcpy(buf, insns, (cnt < buf_cnt ? cnt : buf_cnt) * sizeof(*insns));
	free(insns);
	return (long)cnt;
}
