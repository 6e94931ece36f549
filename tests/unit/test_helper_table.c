/* test_helper_table.c -- helpers.def's prototype columns against Linux 6.18 (struct bpf_func_proto in
 * kernel/bpf/helpers.c, net/core/filter.c, kernel/trace/bpf_trace.c; check_map_func_compatibility() and
 * the set_*_callback_state() functions in kernel/bpf/verifier.c): a sample of gpl_only and
 * changes_pkt_data facts, the map-type compatibility of every map-taking helper against a transcription
 * of Linux's two switches, acquire/release, the return-size argument, callback signatures and the
 * tail-call row.  Then the verifier's use of them, beside the running kernel's verdict (skipped with a
 * reason without bpf()). */
#include <errno.h>
#include <stdbool.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_util.h"
#include "helpers/helpers.h"

static const struct hlp_proto *H(uint32_t id)
{
	const struct hlp_proto *h = hlp_get(id);
	if (!h)
		printf("  helper #%u missing from helpers.def\n", id);
	return h;
}

#define FLAG(id, f) (H(id) && (H(id)->flags & (f)))

/* Each row's id is Linux's BPF_FUNC_<name> (uapi/linux/bpf.h): a row under another helper's id would be
 * called for that helper (jiffies64 once sat at 203, dynptr_data's id). */
TEST(ids_are_linux_ids)
{
#define HELPER(id_, name_, ...) CHECK_EQ_U64(id_, BPF_FUNC_##name_);
#include "helpers/helpers.def"
#undef HELPER
}

TEST(gpl_only_as_linux)
{
	/* gpl_only = true in Linux */
	static const uint32_t gpl[] = {
		BPF_FUNC_trace_printk, BPF_FUNC_probe_read, BPF_FUNC_probe_read_str, BPF_FUNC_probe_read_user,
		BPF_FUNC_probe_read_kernel, BPF_FUNC_probe_read_user_str, BPF_FUNC_probe_read_kernel_str,
		BPF_FUNC_snprintf, BPF_FUNC_perf_event_output, BPF_FUNC_get_stackid, BPF_FUNC_get_stack,
		BPF_FUNC_timer_init, BPF_FUNC_timer_set_callback, BPF_FUNC_timer_start, BPF_FUNC_timer_cancel,
	};
	/* gpl_only = false in Linux */
	static const uint32_t free_[] = {
		BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_ktime_get_ns, BPF_FUNC_get_prandom_u32,
		BPF_FUNC_get_smp_processor_id, BPF_FUNC_get_current_pid_tgid, BPF_FUNC_get_current_comm,
		BPF_FUNC_tail_call, BPF_FUNC_ringbuf_output, BPF_FUNC_ringbuf_reserve, BPF_FUNC_loop,
		BPF_FUNC_for_each_map_elem, BPF_FUNC_strtol, BPF_FUNC_strncmp, BPF_FUNC_spin_lock,
		BPF_FUNC_redirect, BPF_FUNC_redirect_map, BPF_FUNC_xdp_adjust_head, BPF_FUNC_skb_load_bytes,
		BPF_FUNC_csum_diff, BPF_FUNC_jiffies64,
	};
	for (size_t i = 0; i < sizeof(gpl) / sizeof(gpl[0]); i++)
		if (!FLAG(gpl[i], HF_GPL)) {
			printf("  helper #%u: gpl_only should be true\n", gpl[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof(free_) / sizeof(free_[0]); i++)
		if (!H(free_[i]) || FLAG(free_[i], HF_GPL)) {
			printf("  helper #%u: gpl_only should be false\n", free_[i]);
			CHECK(0);
		}
}

/* Linux 6.18 bpf_helper_changes_pkt_data(), restricted to the ids bpfvm has */
static bool linux_changes_pkt_data(uint32_t id)
{
	switch (id) {
	case BPF_FUNC_clone_redirect:
	case BPF_FUNC_l3_csum_replace:
	case BPF_FUNC_l4_csum_replace:
	case BPF_FUNC_skb_adjust_room:
	case BPF_FUNC_skb_change_head:
	case BPF_FUNC_skb_change_proto:
	case BPF_FUNC_skb_change_tail:
	case BPF_FUNC_skb_pull_data:
	case BPF_FUNC_skb_store_bytes:
	case BPF_FUNC_skb_vlan_pop:
	case BPF_FUNC_skb_vlan_push:
	case BPF_FUNC_xdp_adjust_head:
	case BPF_FUNC_xdp_adjust_meta:
	case BPF_FUNC_xdp_adjust_tail:
		return true;
	default:
		/* BPF_FUNC_tail_call left the list in 6.17: only a subprogram that tail-calls changes it */
		return false;
	}
}

TEST(changes_pkt_data_as_linux)
{
	for (uint32_t id = 0; id < 256; id++) {
		const struct hlp_proto *h = hlp_get(id);
		if (h && !!(h->flags & HF_PKT) != linux_changes_pkt_data(id)) {
			printf("  bpf_%s#%u: changes_pkt_data should be %d\n", h->name, id, linux_changes_pkt_data(id));
			CHECK(0);
		}
	}
	CHECK(FLAG(BPF_FUNC_xdp_adjust_tail, HF_PKT));
	CHECK(!FLAG(BPF_FUNC_xdp_store_bytes, HF_PKT));
}

/* check_map_func_compatibility(), first switch: may a map of type mt go to helper f at all? */
static bool linux_map_side(uint32_t mt, uint32_t f)
{
	switch (mt) {
	case BPF_MAP_TYPE_PROG_ARRAY:
		return f == BPF_FUNC_tail_call;
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
		return f == BPF_FUNC_perf_event_read || f == BPF_FUNC_perf_event_output || f == BPF_FUNC_skb_output ||
		       f == BPF_FUNC_perf_event_read_value || f == BPF_FUNC_xdp_output;
	case BPF_MAP_TYPE_RINGBUF:
		return f == BPF_FUNC_ringbuf_output || f == BPF_FUNC_ringbuf_reserve || f == BPF_FUNC_ringbuf_query ||
		       f == BPF_FUNC_ringbuf_reserve_dynptr || f == BPF_FUNC_ringbuf_submit_dynptr ||
		       f == BPF_FUNC_ringbuf_discard_dynptr;
	case BPF_MAP_TYPE_USER_RINGBUF:
		return f == BPF_FUNC_user_ringbuf_drain;
	case BPF_MAP_TYPE_STACK_TRACE:
		return f == BPF_FUNC_get_stackid;
	case BPF_MAP_TYPE_CGROUP_ARRAY:
		return f == BPF_FUNC_skb_under_cgroup || f == BPF_FUNC_current_task_under_cgroup;
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return f == BPF_FUNC_get_local_storage;
	case BPF_MAP_TYPE_DEVMAP:
	case BPF_MAP_TYPE_DEVMAP_HASH:
		return f == BPF_FUNC_redirect_map || f == BPF_FUNC_map_lookup_elem;
	case BPF_MAP_TYPE_CPUMAP:
		return f == BPF_FUNC_redirect_map;
	case BPF_MAP_TYPE_XSKMAP:
		return f == BPF_FUNC_redirect_map || f == BPF_FUNC_map_lookup_elem;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return f == BPF_FUNC_map_lookup_elem;
	case BPF_MAP_TYPE_SOCKMAP:
	case BPF_MAP_TYPE_SOCKHASH:
		/* update and delete: may_update_sockmap() for the program types that may (helpers.h) */
		return f == BPF_FUNC_sk_redirect_map || f == BPF_FUNC_sock_map_update || f == BPF_FUNC_msg_redirect_map ||
		       f == BPF_FUNC_sk_redirect_hash || f == BPF_FUNC_sock_hash_update || f == BPF_FUNC_msg_redirect_hash ||
		       f == BPF_FUNC_sk_select_reuseport || f == BPF_FUNC_map_lookup_elem ||
		       f == BPF_FUNC_map_update_elem || f == BPF_FUNC_map_delete_elem;
	case BPF_MAP_TYPE_REUSEPORT_SOCKARRAY:
		return f == BPF_FUNC_sk_select_reuseport;
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		return f == BPF_FUNC_map_peek_elem || f == BPF_FUNC_map_pop_elem || f == BPF_FUNC_map_push_elem;
	case BPF_MAP_TYPE_SK_STORAGE:
		return f == BPF_FUNC_sk_storage_get || f == BPF_FUNC_sk_storage_delete || f == BPF_FUNC_kptr_xchg;
	case BPF_MAP_TYPE_INODE_STORAGE:
		return f == BPF_FUNC_inode_storage_get || f == BPF_FUNC_inode_storage_delete || f == BPF_FUNC_kptr_xchg;
	case BPF_MAP_TYPE_TASK_STORAGE:
		return f == BPF_FUNC_task_storage_get || f == BPF_FUNC_task_storage_delete || f == BPF_FUNC_kptr_xchg;
	case 32: /* BPF_MAP_TYPE_CGRP_STORAGE: bpf_cgrp_storage_get/delete (210, 211), kptr_xchg */
		return f == 210 || f == 211 || f == BPF_FUNC_kptr_xchg;
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return f == BPF_FUNC_map_peek_elem || f == BPF_FUNC_map_push_elem;
	default:
		return true;
	}
}

/* check_map_func_compatibility(), second switch: which map types helper f requires */
static bool linux_func_side(uint32_t f, uint32_t mt)
{
	switch (f) {
	case BPF_FUNC_tail_call:
		return mt == BPF_MAP_TYPE_PROG_ARRAY;
	case BPF_FUNC_perf_event_read:
	case BPF_FUNC_perf_event_output:
	case BPF_FUNC_perf_event_read_value:
	case BPF_FUNC_skb_output:
	case BPF_FUNC_xdp_output:
		return mt == BPF_MAP_TYPE_PERF_EVENT_ARRAY;
	case BPF_FUNC_ringbuf_output:
	case BPF_FUNC_ringbuf_reserve:
	case BPF_FUNC_ringbuf_query:
		return mt == BPF_MAP_TYPE_RINGBUF;
	case BPF_FUNC_get_stackid:
		return mt == BPF_MAP_TYPE_STACK_TRACE;
	case BPF_FUNC_redirect_map:
		return mt == BPF_MAP_TYPE_DEVMAP || mt == BPF_MAP_TYPE_DEVMAP_HASH || mt == BPF_MAP_TYPE_CPUMAP ||
		       mt == BPF_MAP_TYPE_XSKMAP;
	case BPF_FUNC_map_pop_elem:
		return mt == BPF_MAP_TYPE_QUEUE || mt == BPF_MAP_TYPE_STACK;
	case BPF_FUNC_map_peek_elem:
	case BPF_FUNC_map_push_elem:
		return mt == BPF_MAP_TYPE_QUEUE || mt == BPF_MAP_TYPE_STACK || mt == BPF_MAP_TYPE_BLOOM_FILTER;
	case BPF_FUNC_map_lookup_percpu_elem:
		return mt == BPF_MAP_TYPE_PERCPU_ARRAY || mt == BPF_MAP_TYPE_PERCPU_HASH ||
		       mt == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	default:
		return true;
	}
}

TEST(map_compatibility_as_linux)
{
	int pairs = 0;
	for (uint32_t id = 0; id < 256; id++) {
		const struct hlp_proto *h = hlp_get(id);
		if (!h)
			continue;
		bool takes_map = false;
		for (int i = 0; i < 5; i++)
			takes_map |= h->args[i] == ARG_CONST_MAP_PTR;
		/* the column is set exactly for the helpers with a map argument */
		if (takes_map != (h->maps != 0)) {
			printf("  bpf_%s#%u: maps column %s a map argument\n", h->name, id, takes_map ? "missing for" : "without");
			CHECK(0);
		}
		if (!takes_map)
			continue;
		for (uint32_t mt = 1; mt <= 33; mt++, pairs++) {
			bool want = linux_map_side(mt, id) && linux_func_side(id, mt);
			if (hlp_map_ok(h, mt) != want) {
				printf("  bpf_%s#%u with map type %u: %s, Linux %s\n", h->name, id, mt,
				       hlp_map_ok(h, mt) ? "accepted" : "refused", want ? "accepts" : "refuses");
				CHECK(0);
			}
		}
		CHECK(!hlp_map_ok(h, 0) && !hlp_map_ok(h, 64) && !hlp_map_ok(h, UINT32_MAX));
	}
	printf("  %d helper/map-type pairs compared\n", pairs);
	CHECK(pairs > 300);
}

TEST(acquire_release_and_return_size)
{
	for (uint32_t id = 0; id < 256; id++) {
		const struct hlp_proto *h = hlp_get(id);
		if (!h)
			continue;
		/* is_acquire_function() / OBJ_RELEASE, for the ids bpfvm has */
		bool acq = id == BPF_FUNC_ringbuf_reserve, rel = id == BPF_FUNC_ringbuf_submit || id == BPF_FUNC_ringbuf_discard;
		if (!!(h->flags & HF_ACQUIRE) != acq || !!(h->flags & HF_RELEASE) != rel) {
			printf("  bpf_%s#%u: acquire %d release %d\n", h->name, id, !!(h->flags & HF_ACQUIRE),
			       !!(h->flags & HF_RELEASE));
			CHECK(0);
		}
		/* a release takes the reference as ARG_PTR_TO_ALLOC_MEM, in r1 */
		if (rel)
			CHECK_EQ_U64(h->args[0], ARG_PTR_TO_ALLOC_MEM);
		if (h->ret_size_arg) {
			/* sized memory needs a constant size argument and a memory return */
			CHECK(h->ret_size_arg <= 5);
			CHECK_EQ_U64(h->args[h->ret_size_arg - 1], ARG_CONST_ALLOC_SIZE_OR_ZERO);
			CHECK_EQ_U64(h->ret, RET_MEM_OR_NULL);
		} else {
			CHECK(h->ret != RET_MEM_OR_NULL);
		}
	}
	CHECK(H(BPF_FUNC_ringbuf_reserve) && H(BPF_FUNC_ringbuf_reserve)->ret_size_arg == 2);
}

TEST(callback_signatures)
{
	for (uint32_t id = 0; id < 256; id++) {
		const struct hlp_proto *h = hlp_get(id);
		if (!h)
			continue;
		bool func = false;
		for (int i = 0; i < 5; i++)
			func |= h->args[i] == ARG_PTR_TO_FUNC;
		if (func != (hlp_callback(h) != NULL)) {
			printf("  bpf_%s#%u: callback signature %s\n", h->name, id, func ? "missing" : "without a func argument");
			CHECK(0);
		}
	}
	const struct hlp_cb *cb;
	/* bpf_loop: callback_fn(u64 index, void *ctx), ctx = arg 3, returns 0 or 1 */
	cb = H(BPF_FUNC_loop) ? hlp_callback(H(BPF_FUNC_loop)) : NULL;
	CHECK(cb && cb->arg_cnt == 2 && cb->args[0] == CBA_SCALAR && cb->args[1] == CBA_CTX && cb->ctx_arg == 3 &&
	      cb->ret_min == 0 && cb->ret_max == 1);
	/* bpf_for_each_map_elem: callback_fn(map, key, value, ctx), ctx = arg 3 */
	cb = H(BPF_FUNC_for_each_map_elem) ? hlp_callback(H(BPF_FUNC_for_each_map_elem)) : NULL;
	CHECK(cb && cb->arg_cnt == 4 && cb->args[0] == CBA_MAP_PTR && cb->args[1] == CBA_MAP_KEY &&
	      cb->args[2] == CBA_MAP_VALUE && cb->args[3] == CBA_CTX && cb->ctx_arg == 3 && cb->ret_max == 1);
	/* bpf_timer_set_callback: callback_fn(map, key, value), must return 0 */
	cb = H(BPF_FUNC_timer_set_callback) ? hlp_callback(H(BPF_FUNC_timer_set_callback)) : NULL;
	CHECK(cb && cb->arg_cnt == 3 && cb->args[2] == CBA_MAP_VALUE && cb->ctx_arg == 0 && cb->ret_min == 0 &&
	      cb->ret_max == 0);
}

TEST(tail_call_row)
{
	const struct hlp_proto *h = H(BPF_FUNC_tail_call);
	CHECK(h != NULL);
	if (!h)
		return;
	CHECK_EQ_STR(h->name, "tail_call");
	CHECK(h->flags & HF_TAIL_CALL);
	CHECK_EQ_U64(h->ret, RET_VOID); /* bpf_tail_call_proto */
	CHECK_EQ_U64(h->args[0], ARG_PTR_TO_CTX);
	CHECK_EQ_U64(h->args[1], ARG_CONST_MAP_PTR);
	CHECK_EQ_U64(h->args[2], ARG_ANYTHING);
	CHECK_EQ_U64(h->args[3], ARG_NONE);
	CHECK(hlp_map_ok(h, BPF_MAP_TYPE_PROG_ARRAY) && !hlp_map_ok(h, BPF_MAP_TYPE_ARRAY));
	/* the only row the engines do not call */
	for (uint32_t id = 0; id < 256; id++)
		if (hlp_get(id) && id != BPF_FUNC_tail_call)
			CHECK(!(hlp_get(id)->flags & HF_TAIL_CALL));
	/* ids are unique: hlp_get finds each row by its own id */
	for (uint32_t id = 0; id < 256; id++)
		if (hlp_get(id))
			CHECK_EQ_U64(hlp_get(id)->id, id);
}

/* ---- the verifier's use of the columns, beside the kernel's ------------------------------------ */

/* Loads `src` (map marker 0x7eadc000 = map_fd) under `license`; 0 or the errno, log in buf. */
static long load(struct bpfvm *vm, const char *src, long map_fd, const char *license, char *buf, size_t len)
{
	struct bpfvm *as = bpfvm_new(NULL);
	struct bpf_insn insns[64];
	long n = bpfvm_asm(as, src, insns, 64);
	if (n <= 0) {
		snprintf(buf, len, "asm: %s", bpfvm_errmsg(as));
		bpfvm_free(as);
		return -1000;
	}
	bpfvm_free(as);
	for (long i = 0; i + 1 < n; i++)
		if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && (uint32_t)insns[i].imm == 0x7eadc000u) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = (int32_t)map_fd;
		}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)license;
	a.log_buf = (uintptr_t)buf;
	a.log_size = (uint32_t)len;
	a.log_level = 1;
	buf[0] = 0;
	long fd = vm ? bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a)) : kbpf(BPF_PROG_LOAD, &a);
	if (fd >= 0) {
		if (vm)
			bpfvm_close(vm, (int)fd);
		else
			close((int)fd);
		return 0;
	}
	if (vm && !buf[0])
		snprintf(buf, len, "%s", bpfvm_errmsg(vm));
	return fd;
}

struct vcase {
	const char *name;
	uint32_t map_type, ks, vs, max;
	const char *license;
	const char *src;
	const char *reject; /* NULL: accepted */
};

static const struct vcase vcases[] = {
	/* Linux's second switch: pop takes queues and stacks, not bloom filters (peek and push do) */
	{ "pop from a bloom filter", BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, "GPL",
	  "r1 = 0x7eadc000 ll\nr2 = r10\nr2 += -8\ncall 88\nr0 = 2\nexit\n",
	  "cannot pass map_type 30 into func bpf_map_pop_elem#88" },
	{ "peek into a bloom filter", BPF_MAP_TYPE_BLOOM_FILTER, 0, 4, 16, "GPL",
	  "r1 = 0\n*(u32 *)(r10 - 8) = r1\nr1 = 0x7eadc000 ll\nr2 = r10\nr2 += -8\ncall 89\nr0 = 2\nexit\n", NULL },
	/* the first switch: a ring buffer takes only the ring buffer helpers */
	{ "lookup in a prog array", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, "GPL",
	  "r1 = 0\n*(u32 *)(r10 - 8) = r1\nr1 = 0x7eadc000 ll\nr2 = r10\nr2 += -8\ncall 1\nr0 = 2\nexit\n",
	  "cannot pass map_type 3 into func bpf_map_lookup_elem#1" },
	{ "percpu lookup in a plain array", BPF_MAP_TYPE_ARRAY, 4, 8, 4, "GPL",
	  "r1 = 0\n*(u32 *)(r10 - 8) = r1\nr1 = 0x7eadc000 ll\nr2 = r10\nr2 += -8\nr3 = 0\ncall 195\nr0 = 2\nexit\n",
	  "cannot pass map_type 2 into func bpf_map_lookup_percpu_elem#195" },
	/* gpl_only */
	{ "trace_printk without GPL", BPF_MAP_TYPE_ARRAY, 4, 8, 4, "Proprietary",
	  "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\nr5 = 0\ncall 6\nr0 = 2\nexit\n",
	  "cannot call GPL-restricted function from non-GPL compatible program" },
	{ "trace_printk under GPL", BPF_MAP_TYPE_ARRAY, 4, 8, 4, "Dual BSD/GPL",
	  "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\nr5 = 0\ncall 6\nr0 = 2\nexit\n", NULL },
	{ "ktime without GPL", BPF_MAP_TYPE_ARRAY, 4, 8, 4, "Proprietary", "call 5\nr0 = 2\nexit\n", NULL },
	/* acquire: a reserved record must be released on every path */
	{ "reserve without submit", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, "GPL",
	  "r1 = 0x7eadc000 ll\nr2 = 8\nr3 = 0\ncall 131\nr0 = 2\nexit\n", "Unreleased reference" },
	{ "reserve, write the sized record, submit", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, "GPL",
	  "r1 = 0x7eadc000 ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +5\nr1 = 7\n*(u64 *)(r0 + 0) = r1\n"
	  "r1 = r0\nr2 = 0\ncall 132\nr0 = 2\nexit\n", NULL },
	/* the return size: 8 bytes reserved, a write at 8 is past them */
	{ "write past the reserved size", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, "GPL",
	  "r1 = 0x7eadc000 ll\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto +5\nr1 = 7\n*(u64 *)(r0 + 8) = r1\n"
	  "r1 = r0\nr2 = 0\ncall 132\nr0 = 2\nexit\n", "invalid access to memory" },
};

TEST(verifier_uses_the_columns)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	static char vlog[1 << 16], klog[1 << 16];
	bool kernel = true;
	int agree = 0;
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		struct bpfvm *vm = bpfvm_new(&o);
		int m = mk(vm, c->map_type, c->ks, c->vs, c->max, 0);
		CHECK(m >= 0);
		long ve = load(vm, c->src, m, c->license, vlog, sizeof(vlog));
		if ((ve == 0) != (c->reject == NULL) || (ve && !strstr(vlog, c->reject))) {
			printf("  %s: bpfvm %s (%ld): %s\n", c->name, ve ? "rejects" : "accepts", ve, vlog);
			CHECK(0);
		}
		bpfvm_free(vm);
		if (!kernel)
			continue;
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = c->map_type;
		a.key_size = c->ks;
		a.value_size = c->vs;
		a.max_entries = c->max;
		long km = kbpf(BPF_MAP_CREATE, &a);
		if (km < 0) {
			printf("  kernel comparison skipped: map create: %s (not root or no bpf())\n", strerror((int)-km));
			kernel = false;
			continue;
		}
		long ke = load(NULL, c->src, km, c->license, klog, sizeof(klog));
		close((int)km);
		if ((ke == 0) != (ve == 0) || (ke && c->reject && !strstr(klog, c->reject))) {
			printf("  %s: kernel %s (%ld):\n%s\n", c->name, ke ? "rejects" : "accepts", ke, klog);
			CHECK(0);
			continue;
		}
		agree++;
	}
	if (kernel)
		printf("  %d of %zu cases agree with the kernel\n", agree, sizeof(vcases) / sizeof(vcases[0]));
}

int main(void)
{
	RUN(ids_are_linux_ids);
	RUN(gpl_only_as_linux);
	RUN(changes_pkt_data_as_linux);
	RUN(map_compatibility_as_linux);
	RUN(acquire_release_and_return_size);
	RUN(callback_signatures);
	RUN(tail_call_row);
	RUN(verifier_uses_the_columns);
	return test_done();
}
