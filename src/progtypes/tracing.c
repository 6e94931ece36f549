/* tracing.c -- program types whose context is plain memory: kprobe (struct pt_regs), tracepoint (the
 * event record), perf_event (struct bpf_perf_event_data), raw_tp / tracing (u64 args[]), syscall (the
 * caller's struct), and bpfvm's UNSPEC (r1 = mem, r2 = len).  Test runs: net/bpf/test_run.c
 * bpf_prog_test_run_raw_tp() and bpf_prog_test_run_syscall(); kprobe, tracepoint and perf_event have none
 * in Linux (-ENOTSUPP). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>

#include "progtypes.h"
#include "../core/core.h"

#define RAW_TP_MAX_ARGS   (PT_RAW_TP_ARGS_SIZE / 8) /* MAX_BPF_FUNC_ARGS */

int pt_tracing_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	bool ok;
	(void)attach;
	if (write || off % size)
		return PT_FIELD_DENY;
	switch (type) {
	case BPF_PROG_TYPE_KPROBE:       /* kprobe_prog_is_valid_access(): struct pt_regs */
		ok = off < PT_REGS_SIZE && size <= PT_REGS_SIZE - off;
		break;
	case BPF_PROG_TYPE_TRACEPOINT:   /* tp_prog_is_valid_access(): the record past its common header */
		ok = off >= 8 && off < PT_TRACE_RECORD_MAX && size <= PT_TRACE_RECORD_MAX - off;
		break;
	case BPF_PROG_TYPE_PERF_EVENT:   /* pe_prog_is_valid_access(): regs by long, sample_period and addr
					  * also narrower */
		if (off >= PT_REGS_SIZE + 16)
			ok = false;
		else if (off >= PT_REGS_SIZE)
			ok = !(size & (size - 1)) && size <= 8;
		else
			ok = size == 8;
		break;
	case BPF_PROG_TYPE_RAW_TRACEPOINT: /* raw_tp_prog_is_valid_access(): bpf_tracing_ctx_access() */
	case BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE:
		ok = off < PT_RAW_TP_ARGS_SIZE;
		break;
	default:                         /* tracing, lsm: btf_ctx_access() of u64 args */
		ok = off < PT_RAW_TP_ARGS_SIZE && size == 8;
		break;
	}
	return ok ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

static int run_mem(struct vm_prog *prog, void *mem, size_t len, bool pass_len, uint32_t repeat,
		   uint32_t *retval, uint32_t *duration)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct vm_run run;

	vm_run_init(&run, prog, stack);
	if (mem && len)
		vm_run_add_region(&run, mem, len, true);
	if (prog->type == BPF_PROG_TYPE_RAW_TRACEPOINT || prog->type == BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE) {
		run.ctx_ok = pt_run_ctx_ok; /* read-only u64 args (the other types here have no test run) */
		run.trusted = len >= PT_RAW_TP_ARGS_SIZE; /* the whole ctx_size the verifier assumed */
	}
	/* UNSPEC: the memory the program declared (pt_tracing_test_run() refused less) */
	if (pass_len && prog->mem_declared)
		run.trusted = true;
	run.ctx = mem;
	if (pass_len) {
		/* UNSPEC: a function of (mem, len); LD_ABS reads mem */
		run.pkt = mem;
		run.pkt_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	}
	/* UNSPEC: r2 = len */
	run.arg2 = pass_len ? len : 0;
	return pt_run_repeat(&run, repeat, retval, duration);
}

int pt_tracing_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr)
{
	uint32_t retval = 0, duration = 0;
	int err;

	switch (prog->type) {
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
	case BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE: {
		uint64_t args[RAW_TP_MAX_ARGS];
		if (attr->test.data_in || attr->test.data_out || attr->test.ctx_out || attr->test.duration ||
		    attr->test.repeat || (attr->test.flags & ~BPF_F_TEST_RUN_ON_CPU))
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: raw_tp takes only ctx_in (the args)");
		if ((attr->test.flags & BPF_F_TEST_RUN_ON_CPU) == 0 && attr->test.cpu)
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: cpu without BPF_F_TEST_RUN_ON_CPU");
		if (attr->test.ctx_size_in > sizeof(args))
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: ctx_size_in %u above %zu", attr->test.ctx_size_in,
				       sizeof(args));
		memset(args, 0, sizeof(args));
		if (attr->test.ctx_size_in)
			memcpy(args, (const void *)(uintptr_t)attr->test.ctx_in, attr->test.ctx_size_in);
		/* bpf_ctx_init(): the args buffer is always MAX_BPF_FUNC_ARGS u64s, zero past ctx_size_in */
		err = run_mem(prog, args, sizeof(args), false, 1, &retval, &duration);
		if (!err)
			attr->test.retval = retval;
		return err;
	}
	case BPF_PROG_TYPE_SYSCALL:
	case BPFVM_PROG_TYPE_HOOK: {
		uint32_t n = attr->test.ctx_size_in;
		if (attr->test.data_in || attr->test.data_out || attr->test.ctx_out || attr->test.duration ||
		    attr->test.data_size_in || attr->test.data_size_out || attr->test.batch_size)
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: syscall programs take only ctx_in");
		if (attr->test.repeat || attr->test.flags)
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: syscall programs take no repeat/flags");
		if (n > UINT16_MAX)
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: ctx_size_in %u above %u", n, UINT16_MAX);
		void *ctx = NULL;
		if (n) {
			ctx = malloc(n);
			if (!ctx)
				return -ENOMEM;
			memcpy(ctx, (const void *)(uintptr_t)attr->test.ctx_in, n);
		}
		err = run_mem(prog, ctx, n, false, 1, &retval, &duration);
		if (!err) {
			attr->test.retval = retval;
			if (n) /* the ctx goes back to ctx_in, as Linux does */
				memcpy((void *)(uintptr_t)attr->test.ctx_in, ctx, n);
		}
		free(ctx);
		return err;
	}
	case BPF_PROG_TYPE_UNSPEC: {
		/* bpfvm's own: r1 = a copy of data_in, r2 = its length; data_out gets the memory back */
		uint32_t n = attr->test.data_size_in;
		uint8_t *mem = NULL;
		if (attr->test.ctx_in || attr->test.ctx_out || attr->test.flags || attr->test.cpu)
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: UNSPEC programs take data_in only");
		if (n) {
			if (!attr->test.data_in)
				return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_in is NULL");
			mem = malloc(n);
			if (!mem)
				return -ENOMEM;
			memcpy(mem, (const void *)(uintptr_t)attr->test.data_in, n);
		}
		if (prog->mem_declared && n < prog->mem_len) {
			free(mem);
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_size_in %u below the %u bytes the program declared",
				       n, prog->mem_len);
		}
		err = run_mem(prog, mem, n, true, attr->test.repeat, &retval, &duration);
		if (!err)
			err = pt_data_out(attr, mem, n, retval, duration);
		free(mem);
		return err;
	}
	default:
		return sys_err(vm, -ENOTSUPP, "PROG_TEST_RUN: program type %u has no test run", prog->type);
	}
}
