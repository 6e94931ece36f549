/* timers.bpf.c -- bpf_timer in ARRAY and HASH values for tests/unit/test_timers.c: one control program
 * (init / set_callback / start / cancel on a chosen map and key, driven by its ctx) and a callback that
 * counts, records what it saw, and re-arms itself until it reached the element's target.  Built with
 * -DKERNEL_ORACLE it leaves out the deliberately wrong calls, so the kernel loads it too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1

struct elem {
	__u64 pad;               /* the timer need not be first */
	struct bpf_timer t;
	__u64 count;             /* callback runs */
	__u64 target;            /* re-arm while count < target */
	__u64 period;            /* ns between runs */
	__s64 start_err;         /* what the callback's own bpf_timer_start returned */
	__s64 cancel_err;        /* what the callback's own bpf_timer_cancel returned (self_cancel) */
	__u32 self_cancel, seen_key, cpu, pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct elem);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, struct elem);
} hmap SEC(".maps");

/* callback runs per key, outside the elements (which may be deleted) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} calls SEC(".maps");

enum { OP_INIT = 1, OP_SET_CB, OP_START, OP_CANCEL, OP_INIT_STACK, OP_INIT_WRONG_MAP, OP_SET_CB_BAD, OP_ALL };

struct ctl {
	__u32 op, map, key, pad;
	__u64 a, b;              /* op arguments: init flags; start nsecs, flags */
	__s64 ret;
};

static int cb(void *map, __u32 *key, struct elem *v)
{
	__u32 k = *key + (map == (void *)&hmap ? 8 : 0);
	__u64 *c = bpf_map_lookup_elem(&calls, &k);
	if (c)
		__sync_fetch_and_add(c, 1);
	v->count++;
	v->seen_key = *key;
	v->cpu = bpf_get_smp_processor_id();
	if (v->self_cancel)
		v->cancel_err = bpf_timer_cancel(&v->t);
	if (v->count < v->target)
		v->start_err = bpf_timer_start(&v->t, v->period, 0);
	return 0;
}

SEC("syscall")
int ctl(struct ctl *c)
{
	__u32 key = c->key;
	struct elem *v;
	void *map;

	if (c->map) {
		v = bpf_map_lookup_elem(&hmap, &key);
		map = &hmap;
	} else {
		v = bpf_map_lookup_elem(&arr, &key);
		map = &arr;
	}
	if (!v)
		return -1;
	switch (c->op) {
	case OP_INIT:
		c->ret = bpf_timer_init(&v->t, map, c->a);
		break;
	case OP_SET_CB:
		c->ret = bpf_timer_set_callback(&v->t, cb);
		break;
	case OP_START:
		c->ret = bpf_timer_start(&v->t, c->a, c->b);
		break;
	case OP_CANCEL:
		c->ret = bpf_timer_cancel(&v->t);
		break;
#ifndef KERNEL_ORACLE /* programs Linux's verifier rejects: bpfvm checks these at run time */
	case OP_INIT_STACK: {
		struct bpf_timer t = {};
		c->ret = bpf_timer_init(&t, &arr, CLOCK_MONOTONIC);
		break;
	}
	case OP_INIT_WRONG_MAP:
		c->ret = bpf_timer_init(&v->t, c->map ? (void *)&arr : (void *)&hmap, CLOCK_MONOTONIC);
		break;
	case OP_SET_CB_BAD: /* a pointer into the value that is not its timer */
		c->ret = bpf_timer_set_callback((struct bpf_timer *)&v->count, cb);
		break;
#endif
	case OP_ALL: /* init + set_callback + start in one run, as programs usually do */
		c->ret = bpf_timer_init(&v->t, map, CLOCK_MONOTONIC);
		if (!c->ret)
			c->ret = bpf_timer_set_callback(&v->t, cb);
		if (!c->ret)
			c->ret = bpf_timer_start(&v->t, c->a, 0);
		break;
	default:
		return -2;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
