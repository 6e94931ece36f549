/* host.c -- host-defined hooks (include/bpfvm.h "host hooks"): an embedder declares a context struct
 * (fields with offsets, sizes, read/write permission) and the helpers it allows, attaches programs of
 * type BPFVM_PROG_TYPE_HOOK and runs them from its own code.
 *
 * Checks, before a verifier exists: at attach time every helper call must be in the hook's list (callx,
 * whose helper is only known at run time, is refused), and the ctx accesses of the entry block (through
 * r1 before anything redefines it: pt_ctx_check_entry(), as PROG_LOAD does for Linux's types) must hit a
 * field with the right permission.  At run time the same field rule judges every access inside the ctx
 * (region 0 with vm_run.ctx_ok, as packet runs use pt_ctx_access()): anything else stops the run with
 * -EACCES "insn N: invalid bpf_context access off=O size=S".  The program works on a scratch copy of
 * the ctx (only declared fields are copied in) and only writable fields are copied back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../progtypes/progtypes.h"
#include "../sys.h"

#define HOOK_MAX_PROGS 64u
#define HOOK_MAX_CTX   4096u

struct bpfvm_hook {
	struct bpfvm *vm;
	char name[64];
	size_t ctx_size;
	struct bpfvm_hook_field *fields; /* owned copies (names not kept) */
	size_t field_cnt;
	uint32_t *helper_ids;
	size_t helper_cnt;
	struct bpfvm_mem_range *readable; /* owned copy of bpfvm_hook_desc.readable */
	size_t readable_cnt;
	struct sys_obj *progs[HOOK_MAX_PROGS]; /* each holds a reference */
	int prog_fds[HOOK_MAX_PROGS];
	size_t prog_cnt;
};

int bpfvm_hook_new(struct bpfvm *vm, const struct bpfvm_hook_desc *desc, struct bpfvm_hook **out)
{
	struct bpfvm_hook_desc dd = { 0 };
	const struct bpfvm_hook_desc *d = &dd;
	struct bpfvm_hook *h;

	sys_log_reset(vm);
	/* An older caller's desc (without `readable`) is accepted: the fields it lacks stay zero. */
	if (!desc || desc->sz < offsetof(struct bpfvm_hook_desc, readable) || !out)
		return sys_err(vm, -EINVAL, "hook: NULL or short bpfvm_hook_desc");
	memcpy(&dd, desc, desc->sz < sizeof(dd) ? desc->sz : sizeof(dd));
	if (dd.readable_cnt && !dd.readable)
		return sys_err(vm, -EINVAL, "hook: readable_cnt without an array");
	for (size_t i = 0; i < dd.readable_cnt; i++)
		if ((uintptr_t)dd.readable[i].addr + dd.readable[i].len < (uintptr_t)dd.readable[i].addr)
			return sys_err(vm, -EINVAL, "hook '%s': readable range %zu wraps around the address space",
				       d->name ? d->name : "", i);
	if (d->ctx_size == 0 || d->ctx_size > HOOK_MAX_CTX)
		return sys_err(vm, -EINVAL, "hook '%s': ctx_size %zu outside 1..%u", d->name ? d->name : "",
			       d->ctx_size, HOOK_MAX_CTX);
	if ((d->field_cnt && !d->fields) || (d->helper_cnt && !d->helper_ids))
		return sys_err(vm, -EINVAL, "hook: field or helper count without an array");
	for (size_t i = 0; i < d->field_cnt; i++) {
		const struct bpfvm_hook_field *f = &d->fields[i];
		if (f->size == 0 || f->off > d->ctx_size || f->size > d->ctx_size - f->off)
			return sys_err(vm, -EINVAL, "hook '%s': field %zu ('%s') off=%u size=%u outside ctx_size %zu",
				       d->name ? d->name : "", i, f->name ? f->name : "", f->off, f->size, d->ctx_size);
		for (size_t j = 0; j < i; j++) {
			const struct bpfvm_hook_field *g = &d->fields[j];
			if (f->off < g->off + g->size && g->off < f->off + f->size)
				return sys_err(vm, -EINVAL, "hook '%s': fields %zu and %zu overlap", d->name ? d->name : "",
					       j, i);
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->vm = vm;
	snprintf(h->name, sizeof(h->name), "%s", d->name ? d->name : "hook");
	h->ctx_size = d->ctx_size;
	h->fields = calloc(d->field_cnt ? d->field_cnt : 1, sizeof(*h->fields));
	h->helper_ids = calloc(d->helper_cnt ? d->helper_cnt : 1, sizeof(*h->helper_ids));
	h->readable = calloc(d->readable_cnt ? d->readable_cnt : 1, sizeof(*h->readable));
	if (!h->fields || !h->helper_ids || !h->readable) {
		free(h->fields);
		free(h->helper_ids);
		free(h->readable);
		free(h);
		return -ENOMEM;
	}
	if (d->readable_cnt)
		memcpy(h->readable, d->readable, d->readable_cnt * sizeof(*h->readable));
	h->readable_cnt = d->readable_cnt;
	for (size_t i = 0; i < d->field_cnt; i++) {
		h->fields[i] = d->fields[i];
		h->fields[i].name = NULL;
	}
	h->field_cnt = d->field_cnt;
	memcpy(h->helper_ids, d->helper_ids, d->helper_cnt * sizeof(*h->helper_ids));
	h->helper_cnt = d->helper_cnt;
	*out = h;
	return 0;
}

static bool helper_ok(const struct bpfvm_hook *h, uint32_t id)
{
	for (size_t i = 0; i < h->helper_cnt; i++)
		if (h->helper_ids[i] == id)
			return true;
	return false;
}

static const struct bpfvm_hook_field *field_at(const struct bpfvm_hook *h, uint32_t off, uint32_t size)
{
	for (size_t i = 0; i < h->field_cnt; i++) {
		const struct bpfvm_hook_field *f = &h->fields[i];
		if (off >= f->off && size <= f->size && (uint64_t)off - f->off <= f->size - size)
			return f;
	}
	return NULL;
}

static bool field_rule(const void *arg, uint32_t off, uint32_t size, bool write)
{
	const struct bpfvm_hook_field *f = field_at(arg, off, size);
	return f && (!write || f->writable);
}

/* A hook's run: the hook rides along for hook_ctx_ok (run->hook stays NULL: packet helpers must find
 * no packet state). */
struct hook_run {
	struct vm_run run;  /* first: hook_ctx_ok gets &run */
	const struct bpfvm_hook *h;
};

/* vm_run.ctx_ok of a hook run: the attach-time rule, at run time. */
static bool hook_ctx_ok(const struct vm_run *run, uint32_t off, uint32_t size, bool write)
{
	const struct hook_run *hr = (const struct hook_run *)(const void *)run;
	return field_rule(hr->h, off, size, write);
}

/* The attach-time check described at the top.  Returns 0 or -EACCES with a located line. */
static int check_prog(struct bpfvm_hook *h, const struct vm_prog *p)
{
	struct diag log;
	char last[256];
	int err = 0;

	for (size_t pc = 0; pc < p->cnt && !err; pc++) {
		int id = isa_decode(&p->orig[pc]);
		if (id == ISA_CALL && !helper_ok(h, (uint32_t)p->orig[pc].imm))
			err = sys_err(h->vm, -EACCES, "hook '%s': prog '%s': insn %zu: helper #%d not allowed by the hook",
				      h->name, p->name, pc, p->orig[pc].imm);
		else if (id == ISA_CALLX) /* the helper id is only known at run time */
			err = sys_err(h->vm, -EACCES, "hook '%s': prog '%s': insn %zu: callx not allowed by the hook",
				      h->name, p->name, pc);
		else if (id >= 0 && (isa_info[id].flags & F_WIDE))
			pc++;
	}
	if (err)
		return err;
	diag_init(&log, 0);
	err = pt_ctx_check_entry(p, field_rule, h, &log);
	if (err)
		sys_err(h->vm, err, "hook '%s': prog '%s': %s", h->name, p->name, diag_last(&log, last, sizeof(last)));
	diag_fini(&log);
	return err;
}

int bpfvm_hook_attach(struct bpfvm_hook *h, int prog_fd)
{
	struct sys_obj *o;
	int err = 0;

	if (!h)
		return -EINVAL;
	sys_log_reset(h->vm);
	o = sys_get(h->vm, prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(h->vm, err, "hook '%s': fd %d is not a program", h->name, prog_fd);
	if (o->prog->type != BPFVM_PROG_TYPE_HOOK && o->prog->type != BPF_PROG_TYPE_SYSCALL) {
		err = sys_err(h->vm, -EINVAL, "hook '%s': prog '%s' has type %u, not BPFVM_PROG_TYPE_HOOK or SYSCALL", h->name,
			      o->prog->name, o->prog->type);
	} else if (h->prog_cnt >= HOOK_MAX_PROGS) {
		err = sys_err(h->vm, -E2BIG, "hook '%s': already %u programs", h->name, HOOK_MAX_PROGS);
	} else {
		err = check_prog(h, o->prog);
	}
	if (err) {
		sys_put(h->vm, o);
		return err;
	}
	h->progs[h->prog_cnt] = o; /* the lookup's reference becomes the hook's */
	h->prog_fds[h->prog_cnt++] = prog_fd;
	return 0;
}

int bpfvm_hook_detach(struct bpfvm_hook *h, int prog_fd)
{
	for (size_t i = 0; h && i < h->prog_cnt; i++) {
		if (h->prog_fds[i] != prog_fd)
			continue;
		sys_put(h->vm, h->progs[i]);
		memmove(&h->progs[i], &h->progs[i + 1], (h->prog_cnt - i - 1) * sizeof(h->progs[0]));
		memmove(&h->prog_fds[i], &h->prog_fds[i + 1], (h->prog_cnt - i - 1) * sizeof(h->prog_fds[0]));
		h->prog_cnt--;
		return 0;
	}
	return -ENOENT;
}

int bpfvm_hook_run(struct bpfvm_hook *h, void *ctx, uint64_t *ret, size_t ret_cnt)
{
	return bpfvm_hook_run_ex(h, ctx, NULL, 0, ret, ret_cnt);
}

int bpfvm_hook_run_ex(struct bpfvm_hook *h, void *ctx, const struct bpfvm_mem_range *readable, size_t readable_cnt,
		      uint64_t *ret, size_t ret_cnt)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	_Alignas(16) uint8_t scratch[HOOK_MAX_CTX];
	struct hook_run hr;
	struct vm_run *run = &hr.run;

	if (!h || !ctx)
		return -EINVAL;
	sys_log_reset(h->vm);
	if (readable_cnt && !readable)
		return sys_err(h->vm, -EINVAL, "hook '%s': readable_cnt without an array", h->name);
	for (size_t i = 0; i < readable_cnt; i++)
		if ((uintptr_t)readable[i].addr + readable[i].len < (uintptr_t)readable[i].addr)
			return sys_err(h->vm, -EINVAL, "hook '%s': readable range %zu wraps around the address space",
				       h->name, i);
	for (size_t i = 0; i < h->prog_cnt; i++) {
		uint64_t r0 = 0;
		memset(scratch, 0, h->ctx_size);
		for (size_t f = 0; f < h->field_cnt; f++)
			memcpy(scratch + h->fields[f].off, (uint8_t *)ctx + h->fields[f].off, h->fields[f].size);
		vm_run_init(run, h->progs[i]->prog, stack);
		vm_run_add_region(run, scratch, h->ctx_size, true); /* region 0, judged by hook_ctx_ok */
		run->ctx_ok = hook_ctx_ok;
		hr.h = h;
		run->ctx = scratch;
		run->probe_mem[0] = h->readable;
		run->probe_mem_cnt[0] = h->readable_cnt;
		run->probe_mem[1] = readable;
		run->probe_mem_cnt[1] = readable_cnt;
		int err = vm_exec(run, &r0);
		if (err)
			return err;
		for (size_t f = 0; f < h->field_cnt; f++)
			if (h->fields[f].writable)
				memcpy((uint8_t *)ctx + h->fields[f].off, scratch + h->fields[f].off, h->fields[f].size);
		if (ret && i < ret_cnt)
			ret[i] = r0;
	}
	return (int)h->prog_cnt;
}

void bpfvm_hook_free(struct bpfvm_hook *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->prog_cnt; i++)
		sys_put(h->vm, h->progs[i]);
	free(h->fields);
	free(h->helper_ids);
	free(h->readable);
	free(h);
}
