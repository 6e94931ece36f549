/* sys_cbpf.c -- the public calls for classic BPF (include/bpfvm.h "classic BPF"): parsing, checking and
 * translating go to src/cbpf/, loading to PROG_LOAD, runs to the program types (src/progtypes/). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>

#include "sys.h"
#include "cbpf/cbpf.h"
#include "progtypes/progtypes.h"
#include "vm/vm.h"

static int check_kind(struct bpfvm *vm, int kind)
{
	if (kind != BPFVM_CBPF_SOCKET && kind != BPFVM_CBPF_SECCOMP)
		return sys_err(vm, -EINVAL, "unknown classic program kind %d", kind);
	return 0;
}

long bpfvm_cbpf_parse(struct bpfvm *vm, const void *src, size_t len, struct sock_filter *buf, size_t buf_cnt)
{
	struct sock_filter *v;
	size_t n;
	int err;

	sys_log_reset(vm);
	if (!src)
		return sys_err(vm, -EINVAL, "classic program: no input");
	err = cbpf_parse(src, len, CBPF_FMT_AUTO, &v, &n, sys_log(vm));
	if (err)
		return err;
	if (buf)
		memcpy(buf, v, (n < buf_cnt ? n : buf_cnt) * sizeof(*v));
	free(v);
	return (long)n;
}

int bpfvm_cbpf_check(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind)
{
	sys_log_reset(vm);
	if (check_kind(vm, kind))
		return -EINVAL;
	return cbpf_check(prog, cnt, (enum cbpf_kind)kind, sys_log(vm));
}

static int translate(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind, struct bpf_insn **out,
		     size_t *out_cnt)
{
	if (check_kind(vm, kind))
		return -EINVAL;
	return cbpf_translate(prog, cnt, (enum cbpf_kind)kind, out, out_cnt, sys_log(vm));
}

long bpfvm_cbpf_translate(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind,
			  struct bpf_insn *buf, size_t buf_cnt)
{
	struct bpf_insn *v;
	size_t n;
	int err;

	sys_log_reset(vm);
	if ((err = translate(vm, prog, cnt, kind, &v, &n)))
		return err;
	if (buf)
		memcpy(buf, v, (n < buf_cnt ? n : buf_cnt) * sizeof(*v));
	free(v);
	return (long)n;
}

int bpfvm_cbpf_load(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind, const char *name)
{
	struct bpf_insn *v;
	size_t n;
	int err;

	sys_log_reset(vm);
	if ((err = translate(vm, prog, cnt, kind, &v, &n)))
		return err;
	err = bpfvm_prog_load(vm, kind == BPFVM_CBPF_SECCOMP ? BPF_PROG_TYPE_UNSPEC : BPF_PROG_TYPE_SOCKET_FILTER, v, n,
			      name ? name : kind == BPFVM_CBPF_SECCOMP ? "seccomp" : "cbpf");
	free(v);
	return err;
}

size_t bpfvm_cbpf_dump(const struct sock_filter *prog, size_t cnt, char *buf, size_t len)
{
	size_t need = 0;
	char line[128];

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < cnt; i++) {
		size_t n = cbpf_image(&prog[i], i, line, sizeof(line));
		if (n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
		line[n++] = '\n';
		line[n] = 0;
		if (need + n < len)
			memcpy(buf + need, line, n + 1);
		need += n;
	}
	return need;
}

static bool is_capture_type(const struct vm_prog *p)
{
	return pt_is_skb_type(p->type) && p->type != BPF_PROG_TYPE_SCHED_CLS && p->type != BPF_PROG_TYPE_SCHED_ACT;
}

int bpfvm_prog_run_capture(struct bpfvm *vm, int prog_fd, const void *pkt, uint32_t caplen, uint32_t wirelen,
			   uint32_t *ret)
{
	struct sys_obj *o;
	uint32_t r = 0;
	int err = 0;

	sys_log_reset(vm);
	if (wirelen < caplen)
		return sys_err(vm, -EINVAL, "captured length %u above the length on the wire %u", caplen, wirelen);
	if (caplen && !pkt)
		return sys_err(vm, -EINVAL, "no packet data");
	o = sys_get(vm, prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", prog_fd);
	if (!is_capture_type(o->prog))
		err = sys_err(vm, -EINVAL, "prog '%s': type %u is not a socket filter", o->prog->name, o->prog->type);
	else
		err = pt_skb_run_capture(vm, o->prog, o->prog->svc, pkt, caplen, wirelen, &r);
	sys_put(vm, o);
	if (!err)
		*ret = r;
	return err;
}

struct bpfvm_capture {
	struct bpfvm *vm;
	struct sys_obj *o;      /* the program, held until bpfvm_capture_free() */
	/* The log of the thread that made the capture (entries live as long as the instance): a run on
	 * that thread clears it without looking it up (the lookup was a seventh of a small filter's run). */
	uintptr_t log_thread;   /* util_thread_id() */
	struct diag *log;       /* NULL: out of memory at bpfvm_capture_new(), look it up each time */
	struct pt_capture pc;
};

int bpfvm_capture_new(struct bpfvm *vm, int prog_fd, enum bpfvm_engine engine, struct bpfvm_capture **out)
{
	const struct vm_services *svc;
	struct bpfvm_capture *c;
	struct sys_obj *o;
	int err = 0;

	sys_log_reset(vm);
	if (!out)
		return sys_err(vm, -EINVAL, "capture: no place for the handle");
	o = sys_get(vm, prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", prog_fd);
	if (!is_capture_type(o->prog))
		err = sys_err(vm, -EINVAL, "prog '%s': type %u is not a socket filter", o->prog->name, o->prog->type);
	else
		err = sys_engine_services(vm, prog_fd, o->prog, (int)engine, &svc);
	if (err)
		goto fail_put;
	c = malloc(sizeof(*c));
	if (!c) {
		err = sys_err(vm, -ENOMEM, "capture: out of memory");
		goto fail_put;
	}
	c->vm = vm;
	c->o = o;
	c->log_thread = util_thread_id();
	c->log = sys_log(vm);
	if ((err = pt_capture_init(&c->pc, o->prog, svc))) {
		sys_err(vm, err, "capture: out of memory");
		free(c);
		goto fail_put;
	}
	*out = c;
	return 0;
fail_put:
	sys_put(vm, o);
	return err;
}

static NOINLINE int capture_run_slow(struct bpfvm_capture *c, const void *pkt, uint32_t caplen, uint32_t wirelen,
			    uint32_t *ret)
{
	struct bpfvm *vm = c->vm;

	if (c->log && util_thread_id() == c->log_thread) {
		if (c->log->len || c->log->truncated)
			diag_clear(c->log);
	} else {
		sys_log_reset(vm);
	}
	if (wirelen < caplen)
		return sys_err(vm, -EINVAL, "captured length %u above the length on the wire %u", caplen, wirelen);
	if (caplen && !pkt)
		return sys_err(vm, -EINVAL, "no packet data");
	return pt_capture_run(vm, &c->pc, pkt, caplen, wirelen, ret);
}

int bpfvm_capture_run(struct bpfvm_capture *c, const void *pkt, uint32_t caplen, uint32_t wirelen, uint32_t *ret)
{
	/* The common case (the maker's thread, its log empty, sane lengths) calls nothing but the run, so
	 * that this frame saves no register: the rest, slow or failing, is capture_run_slow(). */
	if (LIKELY(c->log && util_thread_id() == c->log_thread && !c->log->len && !c->log->truncated &&
		   wirelen >= caplen && (pkt || !caplen)))
		return pt_capture_run(c->vm, &c->pc, pkt, caplen, wirelen, ret);
	return capture_run_slow(c, pkt, caplen, wirelen, ret);
}

void bpfvm_capture_free(struct bpfvm_capture *c)
{
	if (!c)
		return;
	sys_put(c->vm, c->o);
	free(c);
}

int bpfvm_seccomp_run(struct bpfvm *vm, int prog_fd, const struct seccomp_data *sd, uint32_t *ret)
{
	struct seccomp_data copy;
	uint64_t r0 = 0;
	int err;

	if (!sd) {
		sys_log_reset(vm);
		return sys_err(vm, -EINVAL, "no struct seccomp_data");
	}
	memcpy(&copy, sd, sizeof(copy)); /* the program gets its own: it may not change the caller's */
	err = bpfvm_prog_run(vm, prog_fd, BPFVM_ENGINE_DEFAULT, &copy, sizeof(copy), &r0);
	if (!err)
		*ret = (uint32_t)r0;
	return err;
}
