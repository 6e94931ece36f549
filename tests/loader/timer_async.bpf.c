/* timer_async.bpf.c -- a bpf_timer callback is an async callback (Linux push_async_cb()): it runs later
 * on a stack of its own, so it is verified as a program of its own (frame 0; r1-r3 the timer's map, key
 * and value) and not as a call from where bpf_timer_set_callback() names it.  Hence a callback set at
 * the eighth frame, and a callback and a caller that each use most of the 512-byte stack, are accepted;
 * and its return value must be 0 ("At async callback return ...").  test_kernel_verdicts compares each
 * verdict with the kernel's; test_verifier checks bpfvm's reason. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1

struct val {
	struct bpf_timer t;
	__u64 fired;
	__u64 buf[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct val);
} timers SEC(".maps");

static int fire(void *map, __u32 *key, struct val *v)
{
	v->fired++;
	return 0;
}

static int fire_one(void *map, __u32 *key, struct val *v)
{
	v->fired++;
	return 1;
}

/* 448 bytes of stack in the callback: with the caller's 448 that would be 896 in one chain */
static int fire_big(void *map, __u32 *key, struct val *v)
{
	volatile __u64 big[56];

	for (int i = 0; i < 56; i++)
		big[i] = v->fired + i;
	v->fired = big[*key & 31];
	return 0;
}

static __always_inline struct val *lookup(__u32 k)
{
	return bpf_map_lookup_elem(&timers, &k);
}

SEC("xdp")
int returns_one(struct xdp_md *ctx)
{
	struct val *v = lookup(0);

	if (v && !bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC))
		bpf_timer_set_callback(&v->t, fire_one);
	return XDP_PASS;
}

SEC("xdp")
int big_stacks(struct xdp_md *ctx)
{
	volatile __u64 big[56];
	struct val *v = lookup(1);

	for (int i = 0; i < 56; i++)
		big[i] = ctx->ingress_ifindex + i;
	if (v && !bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC))
		bpf_timer_set_callback(&v->t, fire_big);
	return big[ctx->rx_queue_index & 31] ? XDP_PASS : XDP_DROP;
}

/* seven calls deep: the eighth frame, the most Linux allows, names the callback */
static __attribute__((noinline)) int arm(struct val *v)
{
	if (v)
		bpf_timer_set_callback(&v->t, fire);
	return 0;
}
#define NEST(n, next)                                                         \
	static __attribute__((noinline)) int n(struct val *v)                 \
	{                                                                     \
		return next(v) + 1;                                           \
	}
NEST(d6, arm)
NEST(d5, d6)
NEST(d4, d5)
NEST(d3, d4)
NEST(d2, d3)
NEST(d1, d2)

SEC("xdp")
int eighth_frame(struct xdp_md *ctx)
{
	struct val *v = lookup(0);

	if (!v || bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC))
		return XDP_PASS;
	return d1(v) == 6 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
