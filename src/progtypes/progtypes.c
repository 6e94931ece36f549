/* progtypes.c -- the table of program types (progtypes.def): allowed helpers per type (Linux's
 * *_func_proto lists), ctx access rules and test-run / packet-run dispatch, plus what the type files
 * share: the test-run plumbing of net/bpf/test_run.c.  The packet area (struct pt_pkt) is the packet
 * helpers' too, so it lives below them, in src/helpers/pkt.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>

#include "progtypes.h"
#include "../core/core.h"

enum pt_family { PTF_NONE, PTF_PLAIN, PTF_XDP, PTF_SKFILT, PTF_TC, PTF_SKB, PTF_TRACE, PTF_SYSCALL, PTF_OTHER };

/* One row of progtypes.def. */
struct pt_ops {
	const char *name;
	enum pt_family family;
	uint32_t ctx_size;          /* 0: plain memory of a size only the run knows */
	pt_access_fn access;
	bool ret_check;             /* r0 at exit must lie in [ret_lo, ret_hi] */
	int32_t ret_lo, ret_hi;
};

#define RET(lo_, hi_) true, (lo_), (hi_)
#define RET_ANY false, 0, 0
static const struct pt_ops ops_by_type[] = {
#define PT(type_, family_, name_, ctx_, access_, ret_) \
	[BPF_PROG_TYPE_##type_] = { name_, family_, (uint32_t)(ctx_), access_, ret_ },
#include "progtypes.def"
#undef PT
};
#undef RET
#undef RET_ANY

/* hooks: plain memory too, with the hook's own field rules at attach time */
static const struct pt_ops hook_ops = { "hook", PTF_PLAIN, 0, pt_plain_access, false, 0, 0 };

static const struct pt_ops *ops(uint32_t type)
{
	if (type < ARRAY_SIZE(ops_by_type) && ops_by_type[type].name)
		return &ops_by_type[type];
	return type == BPFVM_PROG_TYPE_HOOK ? &hook_ops : NULL;
}

static enum pt_family family(uint32_t type)
{
	const struct pt_ops *o = ops(type);
	return o ? o->family : PTF_NONE;
}

bool pt_known(uint32_t prog_type)
{
	return family(prog_type) != PTF_NONE;
}

const char *bpfvm_prog_type_name(uint32_t prog_type)
{
	return prog_type < ARRAY_SIZE(ops_by_type) ? ops_by_type[prog_type].name : NULL;
}

int bpfvm_prog_type_by_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(ops_by_type); i++)
		if (ops_by_type[i].name && !strcmp(ops_by_type[i].name, name))
			return (int)i;
	return -ENOENT;
}

bool pt_is_skb_type(uint32_t type)
{
	enum pt_family f = family(type);
	return f == PTF_SKFILT || f == PTF_TC || f == PTF_SKB;
}

/* ---- helpers per type -------------------------------------------------------------------------- */

#define F(name_) BPF_FUNC_##name_
/* bpf_base_func_proto() with CAP_BPF and CAP_PERFMON (kernel/bpf/helpers.c), less the probe reads:
 * Linux gives bpf_probe_read_{user,kernel}{,_str} to every type when CAP_PERFMON is held, but in bpfvm
 * they would read the host process, so only the tracing types (below) have them, as in Linux without
 * CAP_PERFMON for the other types. */
static const uint16_t base_ids[] = {
	F(map_lookup_elem), F(map_update_elem), F(map_delete_elem), F(map_push_elem), F(map_pop_elem),
	F(map_peek_elem), F(map_lookup_percpu_elem),
	F(get_prandom_u32), F(get_smp_processor_id), F(get_numa_node_id), F(tail_call), F(ktime_get_ns),
	F(ktime_get_boot_ns), F(ktime_get_coarse_ns), F(jiffies64),
	F(ringbuf_output), F(ringbuf_reserve), F(ringbuf_submit), F(ringbuf_discard), F(ringbuf_query),
	F(for_each_map_elem), F(loop), F(strncmp), F(strtol), F(strtoul),
	F(spin_lock), F(spin_unlock), F(timer_init), F(timer_set_callback), F(timer_start), F(timer_cancel),
	F(trace_printk), F(snprintf),
};
/* The probe reads: bpf_probe_read, _str (legacy), _user, _kernel, _user_str, _kernel_str. */
static const uint16_t probe_ids[] = {
	F(probe_read), F(probe_read_str), F(probe_read_user), F(probe_read_kernel), F(probe_read_user_str),
	F(probe_read_kernel_str),
};
/* bpf_tracing_func_proto() additions (kprobe, tracepoint, perf_event, raw_tp, tracing, lsm, syscall). */
static const uint16_t tracing_ids[] = {
	F(probe_read), F(probe_read_str), F(probe_read_user), F(probe_read_kernel), F(probe_read_user_str),
	F(probe_read_kernel_str), F(get_current_pid_tgid), F(get_current_uid_gid), F(get_current_comm),
	F(perf_event_output), F(get_stackid), F(get_stack), F(get_current_task),
};
/* sk_filter_func_proto() additions. */
static const uint16_t skfilt_ids[] = {
	F(skb_load_bytes), F(skb_load_bytes_relative), F(get_socket_cookie), F(get_socket_uid),
	F(perf_event_output),
};
/* tc_cls_act_func_proto() additions. */
static const uint16_t tc_ids[] = {
	F(skb_store_bytes), F(skb_load_bytes), F(skb_load_bytes_relative), F(skb_pull_data), F(csum_diff),
	F(csum_update), F(csum_level), F(l3_csum_replace), F(l4_csum_replace), F(clone_redirect),
	F(get_cgroup_classid), F(skb_vlan_push), F(skb_vlan_pop), F(skb_change_proto), F(skb_change_type),
	F(skb_adjust_room), F(skb_change_tail), F(skb_change_head), F(redirect), F(redirect_neigh),
	F(redirect_peer), F(get_route_realm), F(get_hash_recalc), F(set_hash_invalid), F(set_hash),
	F(perf_event_output), F(current_task_under_cgroup), F(get_socket_cookie), F(get_socket_uid), F(fib_lookup),
	F(skb_ecn_set_ce), F(skb_set_tstamp),
};
/* xdp_func_proto() additions. */
static const uint16_t xdp_ids[] = {
	F(perf_event_output), F(csum_diff), F(xdp_adjust_head), F(xdp_adjust_meta), F(redirect), F(redirect_map),
	F(xdp_adjust_tail), F(fib_lookup), F(check_mtu), F(xdp_get_buff_len), F(xdp_load_bytes),
	F(xdp_store_bytes),
};
#undef F
static bool in(const uint16_t *ids, size_t cnt, uint32_t id)
{
	for (size_t i = 0; i < cnt; i++)
		if (ids[i] == id)
			return true;
	return false;
}
#define IN(ids, id) in((ids), sizeof(ids) / sizeof((ids)[0]), (id))

bool pt_helper_untrusted_ok(uint32_t helper_id)
{
	return !IN(probe_ids, helper_id);
}

bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id)
{
	switch (family(prog_type)) {
	case PTF_PLAIN:   /* UNSPEC and hooks: hooks check their own list at attach time */
		return true;
	case PTF_XDP:
		return IN(base_ids, helper_id) || IN(xdp_ids, helper_id);
	case PTF_SKFILT:
	case PTF_SKB:
		return IN(base_ids, helper_id) || IN(skfilt_ids, helper_id);
	case PTF_TC:
		return IN(base_ids, helper_id) || IN(tc_ids, helper_id);
	case PTF_TRACE:
	case PTF_SYSCALL:
		return IN(base_ids, helper_id) || IN(tracing_ids, helper_id);
	case PTF_OTHER:
		return IN(base_ids, helper_id);
	case PTF_NONE:
		break;
	}
	return false;
}

int pt_plain_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	(void)off;
	(void)size;
	(void)write;
	return PT_FIELD_SCALAR;
}

int pt_ctx_field(uint32_t prog_type, uint32_t expected_attach, uint32_t off, uint32_t size, bool write)
{
	const struct pt_ops *o = ops(prog_type);
	if (!o || (size != 1 && size != 2 && size != 4 && size != 8))
		return PT_FIELD_DENY;
	if (o->ctx_size && (off >= o->ctx_size || size > o->ctx_size - off))
		return PT_FIELD_DENY;
	return o->access(prog_type, expected_attach, off, size, write);
}

bool pt_ctx_access(uint32_t prog_type, uint32_t expected_attach, uint32_t off, uint32_t size, bool write)
{
	return pt_ctx_field(prog_type, expected_attach, off, size, write) != PT_FIELD_DENY;
}

/* ---- what the verifier needs of a type ---------------------------------------------------- */

bool pt_verifiable(uint32_t prog_type)
{
	const struct pt_ops *o = ops(prog_type);
	/* UNSPEC, hooks, SYSCALL: plain memory of a size only the run knows */
	return o && o->ctx_size;
}

uint32_t pt_ctx_size(uint32_t prog_type)
{
	const struct pt_ops *o = ops(prog_type);
	return o ? o->ctx_size : 0;
}

int pt_attach_fixup(uint32_t prog_type, uint32_t *attach)
{
	uint32_t a = *attach;
	/* bpf_prog_load_fixup_attach_type(): 0 means the type's original hook */
	if (prog_type == BPF_PROG_TYPE_CGROUP_SOCK && !a)
		a = BPF_CGROUP_INET_SOCK_CREATE;
	if (prog_type == BPF_PROG_TYPE_SK_REUSEPORT && !a)
		a = BPF_SK_REUSEPORT_SELECT;
	bool ok;
	/* bpf_prog_load_check_attach() */
	switch (prog_type) {
	case BPF_PROG_TYPE_CGROUP_SOCK:
		ok = a == BPF_CGROUP_INET_SOCK_CREATE || a == BPF_CGROUP_INET_SOCK_RELEASE ||
		     a == BPF_CGROUP_INET4_POST_BIND || a == BPF_CGROUP_INET6_POST_BIND;
		break;
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
		ok = a == BPF_CGROUP_INET4_BIND || a == BPF_CGROUP_INET6_BIND || a == BPF_CGROUP_INET4_CONNECT ||
		     a == BPF_CGROUP_INET6_CONNECT || a == BPF_CGROUP_INET4_GETPEERNAME ||
		     a == BPF_CGROUP_INET6_GETPEERNAME || a == BPF_CGROUP_INET4_GETSOCKNAME ||
		     a == BPF_CGROUP_INET6_GETSOCKNAME || a == BPF_CGROUP_UDP4_SENDMSG || a == BPF_CGROUP_UDP6_SENDMSG ||
		     a == BPF_CGROUP_UDP4_RECVMSG || a == BPF_CGROUP_UDP6_RECVMSG;
		break;
	case BPF_PROG_TYPE_CGROUP_SKB:
		ok = a == BPF_CGROUP_INET_INGRESS || a == BPF_CGROUP_INET_EGRESS;
		break;
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
		ok = a == BPF_CGROUP_SETSOCKOPT || a == BPF_CGROUP_GETSOCKOPT;
		break;
	case BPF_PROG_TYPE_SK_LOOKUP:
		ok = a == BPF_SK_LOOKUP;
		break;
	case BPF_PROG_TYPE_SK_REUSEPORT:
		ok = a == BPF_SK_REUSEPORT_SELECT || a == BPF_SK_REUSEPORT_SELECT_OR_MIGRATE;
		break;
	case BPF_PROG_TYPE_SYSCALL:
	case BPF_PROG_TYPE_EXT:
		ok = !a;
		break;
	default:
		ok = true;
		break;
	}
	if (!ok)
		return -EINVAL;
	*attach = a;
	return 0;
}

bool pt_ret_range(uint32_t prog_type, uint32_t expected_attach, int32_t *lo, int32_t *hi)
{
	const struct pt_ops *o = ops(prog_type);
	if (!o)
		return false;
	*lo = o->ret_lo;
	*hi = o->ret_hi;
	switch (prog_type) {
	case BPF_PROG_TYPE_CGROUP_SKB:
		if (expected_attach == BPF_CGROUP_INET_EGRESS)
			*hi = 3; /* bit 1: congestion notification */
		break;
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
		switch (expected_attach) {
		case BPF_CGROUP_UDP4_RECVMSG:
		case BPF_CGROUP_UDP6_RECVMSG:
		case BPF_CGROUP_INET4_GETPEERNAME:
		case BPF_CGROUP_INET6_GETPEERNAME:
		case BPF_CGROUP_INET4_GETSOCKNAME:
		case BPF_CGROUP_INET6_GETSOCKNAME:
			*lo = *hi = 1; /* these hooks cannot refuse */
			break;
		case BPF_CGROUP_INET4_BIND:
		case BPF_CGROUP_INET6_BIND:
			*hi = 3; /* bit 1: skip the CAP_NET_BIND_SERVICE check */
			break;
		default:
			break;
		}
		break;
	case BPF_PROG_TYPE_RAW_TRACEPOINT:
		if (expected_attach) /* raw_tp attached through BTF */
			return *lo = 0, *hi = 1, true;
		break;
	case BPF_PROG_TYPE_TRACING:
		if (expected_attach == BPF_TRACE_FENTRY || expected_attach == BPF_TRACE_FEXIT)
			return *lo = *hi = 0, true;
		if (expected_attach == BPF_TRACE_ITER)
			return *lo = 0, *hi = 1, true;
		break;
	default:
		break;
	}
	return o->ret_check;
}

bool pt_pkt_writable(uint32_t prog_type)
{
	/* Linux may_access_direct_pkt_data() for a write */
	switch (prog_type) {
	case BPF_PROG_TYPE_XDP:
	case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT:
	case BPF_PROG_TYPE_SK_SKB:
	case BPF_PROG_TYPE_LWT_XMIT:
		return true;
	default:
		return false;
	}
}

bool pt_ld_abs_ok(uint32_t prog_type)
{
	/* Linux may_access_skb() */
	return prog_type == BPF_PROG_TYPE_SOCKET_FILTER || prog_type == BPF_PROG_TYPE_SCHED_CLS ||
	       prog_type == BPF_PROG_TYPE_SCHED_ACT;
}

bool pt_run_ctx_ok(const struct vm_run *run, uint32_t off, uint32_t size, bool write)
{
	return pt_ctx_access(run->prog->type, run->prog->expected_attach_type, off, size, write);
}

/* The register an instruction accesses memory through, or -1 for an instruction that is no access. */
static int addr_reg(const struct bpf_insn *in, int id)
{
	unsigned mem = isa_mem_access(id);

	return !mem ? -1 : mem & ISA_MEM_BASE_SRC ? in->src_reg : in->dst_reg;
}

/* Does the instruction give r1 a new value (or end the straight line)? */
static bool ends_entry(const struct bpf_insn *in, int id)
{
	if (isa_info[id].flags & (F_JMP | F_EXIT))
		return true;
	return isa_writes(id, in) & ISA_REG(BPF_REG_1);
}

int pt_ctx_check_entry(const struct vm_prog *p, pt_ctx_rule_fn ok, const void *arg, struct diag *log)
{
	for (size_t pc = 0; pc < p->cnt; pc++) {
		const struct bpf_insn *in = &p->orig[pc];
		int id = isa_decode(in);
		if (id < 0)
			return 0; /* isa_validate() reports it */
		const struct isa_info *info = &isa_info[id];
		if (addr_reg(in, id) == 1) {
			bool write = isa_mem_access(id) & ISA_MEM_WRITE;
			if (info->flags & F_ATOMIC) {
				/* Linux: no atomic access to a ctx, whatever the field (atomic_ptr_type_ok()) */
				diag_printf(log, "insn %zu: BPF_ATOMIC %s R1 ctx is not allowed", pc,
					    write ? "stores into" : "loads from");
				return -EACCES;
			}
			if (in->off < 0 || !ok(arg, (uint32_t)in->off, info->size, write)) {
				diag_printf(log, "insn %zu: invalid bpf_context access off=%d size=%u", pc, in->off, info->size);
				return -EACCES;
			}
		}
		if (ends_entry(in, id))
			return 0;
	}
	return 0;
}

static bool type_rule(const void *arg, uint32_t off, uint32_t size, bool write)
{
	const struct vm_prog *p = arg;
	return pt_ctx_access(p->type, p->expected_attach_type, off, size, write);
}

int pt_ctx_check_load(const struct vm_prog *p, struct diag *log)
{
	switch (family(p->type)) {
	case PTF_PLAIN:   /* UNSPEC and hooks (checked at attach against the hook's fields) */
	case PTF_SYSCALL: /* the caller's struct: plain memory */
		return 0;
	default:
		return pt_ctx_check_entry(p, type_rule, p, log);
	}
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

int pt_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr)
{
	switch (family(prog->type)) {
	case PTF_XDP:
		return pt_xdp_test_run(vm, prog, attr);
	case PTF_SKFILT:
	case PTF_TC:
		return pt_skb_test_run(vm, prog, attr);
	case PTF_TRACE:
	case PTF_SYSCALL:
	case PTF_PLAIN:
		return pt_tracing_test_run(vm, prog, attr);
	default:
		/* Linux: no ->test_run for the type */
		return sys_err(vm, -ENOTSUPP, "PROG_TEST_RUN: program type %u has no test run", prog->type);
	}
}

int pt_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len, uint32_t ifindex,
		  uint32_t rx_queue, struct pt_pkt_result *res)
{
	if (*len < 14 || *len > PT_SKB_MAX_LEN)
		return sys_err(vm, -EINVAL, "packet of %zu bytes: need 14..%u", *len, PT_SKB_MAX_LEN);
	switch (family(prog->type)) {
	case PTF_XDP:
		return pt_xdp_run_packet(vm, prog, buf, cap, len, ifindex, rx_queue, res);
	case PTF_SKFILT:
	case PTF_TC:
	case PTF_SKB:
		return pt_skb_run_packet(vm, prog, buf, cap, len, ifindex, rx_queue, res);
	default:
		return sys_err(vm, -EINVAL, "prog '%s': program type %u does not run on packets", prog->name,
			       prog->type);
	}
}

int bpfvm_prog_run_packet(struct bpfvm *vm, int prog_fd, const void *pkt, size_t len, void *out, size_t out_cap,
			  size_t *out_len, struct bpfvm_pkt_result *res)
{
	struct pt_pkt_result r;
	struct sys_obj *o;
	int err = 0;

	sys_log_reset(vm);
	if (!pkt || !out || !out_len || !res)
		return sys_err(vm, -EINVAL, "run packet: NULL argument");
	if (len > out_cap)
		return sys_err(vm, -ENOSPC, "run packet: out_cap %zu smaller than the packet (%zu)", out_cap, len);
	o = sys_get(vm, prog_fd, SYS_PROG, &err);
	if (!o)
		return sys_err(vm, err, "fd %d: not a program", prog_fd);
	if (out != pkt)
		memmove(out, pkt, len);
	size_t n = len;
	err = pt_run_packet(vm, o->prog, out, out_cap, &n, 1, 0, &r);
	sys_put(vm, o);
	if (err)
		return err;
	_Static_assert(sizeof(struct bpfvm_pkt_result) == sizeof(struct pt_pkt_result), "same layout");
	memcpy(res, &r, sizeof(r));
	*out_len = n;
	return 0;
}

/* ---- test run plumbing ------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pt_run_repeat(struct vm_run *run, uint32_t repeat, uint32_t *retval, uint32_t *duration)
{
	uint64_t r0 = 0, t0 = now_ns();
	int err = 0;

	if (!repeat)
		repeat = 1;
	err = vm_exec_repeat(run, repeat, &r0);
	uint64_t dt = (now_ns() - t0) / repeat;
	*retval = (uint32_t)r0;
	*duration = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	return err;
}

int pt_ctx_in(const union bpf_attr *attr, void *ctx, size_t max)
{
	const uint8_t *in = (const uint8_t *)(uintptr_t)attr->test.ctx_in;
	uint32_t size = attr->test.ctx_size_in;

	if (!in)
		return 0;
	for (size_t i = max; i < size; i++)
		if (in[i])
			return -E2BIG;
	memcpy(ctx, in, size < max ? size : max);
	return 0;
}

int pt_data_out(union bpf_attr *attr, const void *data, uint32_t size, uint32_t retval, uint32_t duration)
{
	int err = 0;
	uint8_t *out = (uint8_t *)(uintptr_t)attr->test.data_out;

	if (out) {
		uint32_t copy = size;
		if (attr->test.data_size_out && copy > attr->test.data_size_out) {
			copy = attr->test.data_size_out;
			err = -ENOSPC;
		}
		memcpy(out, data, copy);
	}
	attr->test.data_size_out = size;
	attr->test.retval = retval;
	attr->test.duration = duration;
	return err;
}

int pt_ctx_out(union bpf_attr *attr, const void *ctx, uint32_t size)
{
	uint8_t *out = (uint8_t *)(uintptr_t)attr->test.ctx_out;
	int err = 0;

	if (!out)
		return 0;
	uint32_t copy = size;
	if (copy > attr->test.ctx_size_out) {
		copy = attr->test.ctx_size_out;
		err = -ENOSPC;
	}
	memcpy(out, ctx, copy);
	attr->test.ctx_size_out = size;
	return err;
}

/* Sets up run for p: region 0 = ctx (scratch, judged by the type's rules), region 1 = packet when the
 * type may touch it. */
void pt_pkt_attach(struct pt_pkt *p, struct vm_run *run, bool pkt_region, bool pkt_writable)
{
	p->run = run;
	run->hook = p;
	run->ctx_ok = pt_run_ctx_ok;
	/* the type's ctx (PT_CTX_AREA bytes, more than any ctx_size) with the packet's true bounds in it:
	 * what the verifier assumed */
	run->trusted = true;
	if (vm_run_add_region(run, p->ctx, 1, true))
		run->regions[run->region_cnt - 1].kind = VM_REG_CTX;
	p->region = -1;
	if (pkt_region) {
		p->region = (int)run->region_cnt;
		if (vm_run_add_region(run, p->frame, 0, pkt_writable))
			run->regions[p->region].kind = VM_REG_PACKET;
	}
	pt_pkt_sync(p);
}
