/* hook.c -- host-defined hooks (include/bpfvm.h "host hooks"): an embedder declares a context struct
 * (fields with offsets, sizes, read/write permission) and the helpers it allows, attaches programs of
 * type BPFVM_PROG_TYPE_HOOK and runs them from its own code.
 *
 * Checks, before a verifier exists: at attach time every helper call must be in the hook's list, and
 * the ctx accesses of the straight-line code at the program's start (through r1 before anything
 * redefines it) must hit a field with the right permission.  At run time the program works on a
 * scratch copy of the ctx (only bytes of declared fields are copied in; the rest reads as zero) and only
 * writable fields are copied back, so an access the attach check could not see still cannot change
 * what the hook does not allow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progtypes.h"
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
	struct sys_obj *progs[HOOK_MAX_PROGS]; /* each holds a reference */
	int prog_fds[HOOK_MAX_PROGS];
	size_t prog_cnt;
};

int bpfvm_hook_new(struct bpfvm *vm, const struct bpfvm_hook_desc *d, struct bpfvm_hook **out)
{
	struct bpfvm_hook *h;

	sys_log_reset(vm);
	if (!d || d->sz < sizeof(*d) || !out)
		return sys_err(vm, -EINVAL, "hook: NULL or short bpfvm_hook_desc");
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
	if (!h->fields || !h->helper_ids) {
		free(h->fields);
		free(h->helper_ids);
		free(h);
		return -ENOMEM;
	}
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

static const struct bpfvm_hook_field *field_at(const struct bpfvm_hook *h, int64_t off, uint32_t size)
{
	for (size_t i = 0; i < h->field_cnt; i++) {
		const struct bpfvm_hook_field *f = &h->fields[i];
		if (off >= f->off && size <= f->size && (uint64_t)off - f->off <= f->size - size)
			return f;
	}
	return NULL;
}

/* The attach-time check described at the top.  Returns 0 or -EACCES with a located line. */
static int check_prog(struct bpfvm_hook *h, const struct vm_prog *p)
{
	bool r1_ctx = true;

	for (size_t pc = 0; pc < p->cnt; pc++) {
		const struct bpf_insn *in = &p->orig[pc];
		uint8_t cls = in->code & 7, mode = in->code & 0xe0;
		if (in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 0 && !helper_ok(h, (uint32_t)in->imm))
			return sys_err(h->vm, -EACCES, "hook '%s': prog '%s': insn %zu: helper #%d not allowed by the hook",
				       h->name, p->name, pc, in->imm);
		if (in->code == (BPF_LD | BPF_IMM | BPF_DW)) {
			if (in->dst_reg == 1)
				r1_ctx = false;
			pc++;
			continue;
		}
		if (!r1_ctx)
			continue;
		uint32_t size = ((in->code & 0x18) == BPF_DW) ? 8 : ((in->code & 0x18) == BPF_W) ? 4
			: ((in->code & 0x18) == BPF_H) ? 2 : 1;
		if (cls == BPF_LDX && (mode == BPF_MEM || mode == 0x80 /* BPF_MEMSX */) && in->src_reg == 1) {
			const struct bpfvm_hook_field *f = field_at(h, in->off, size);
			if (!f)
				return sys_err(h->vm, -EACCES, "hook '%s': prog '%s': insn %zu: invalid ctx read off=%d size=%u",
					       h->name, p->name, pc, in->off, size);
		} else if ((cls == BPF_STX || cls == BPF_ST) && in->dst_reg == 1 &&
			   (mode == BPF_MEM || mode == BPF_ATOMIC)) {
			const struct bpfvm_hook_field *f = field_at(h, in->off, size);
			if (!f || !f->writable)
				return sys_err(h->vm, -EACCES, "hook '%s': prog '%s': insn %zu: invalid ctx write off=%d size=%u",
					       h->name, p->name, pc, in->off, size);
		}
		/* the straight line ends at a jump, call or exit, or when r1 is redefined */
		if (cls == BPF_JMP || cls == BPF_JMP32)
			r1_ctx = false;
		else if ((cls == BPF_ALU || cls == BPF_ALU64 || cls == BPF_LDX) && in->dst_reg == 1)
			r1_ctx = false;
	}
	return 0;
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
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	_Alignas(16) uint8_t scratch[HOOK_MAX_CTX];
	struct vm_run run;

	if (!h || !ctx)
		return -EINVAL;
	sys_log_reset(h->vm);
	for (size_t i = 0; i < h->prog_cnt; i++) {
		uint64_t r0 = 0;
		memset(scratch, 0, h->ctx_size);
		for (size_t f = 0; f < h->field_cnt; f++)
			memcpy(scratch + h->fields[f].off, (uint8_t *)ctx + h->fields[f].off, h->fields[f].size);
		vm_run_init(&run, h->progs[i]->prog, stack);
		vm_run_add_region(&run, scratch, h->ctx_size, true);
		run.ctx = scratch;
		int err = vm_exec(&run, &r0);
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
	free(h);
}
