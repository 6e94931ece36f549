/* timer_map.bpf.c -- bpf_timer_init() must name the map its timer lives in (Linux check_func_arg():
 * "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0"); the timer's callback is
 * given that map's key and value.  test_kernel_verdicts compares both verdicts with the kernel's;
 * test_verifier checks bpfvm's reason. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_MONOTONIC 1

struct val {
	struct bpf_timer t;
	__u64 fired;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} timers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} others SEC(".maps");

static int fire(void *map, __u32 *key, struct val *v)
{
	v->fired++;
	return 0;
}

SEC("xdp")
int same_map(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&timers, &k);

	if (v && !bpf_timer_init(&v->t, &timers, CLOCK_MONOTONIC) && !bpf_timer_set_callback(&v->t, fire))
		bpf_timer_start(&v->t, 1000, 0);
	return XDP_PASS;
}

SEC("xdp")
int other_map(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&timers, &k);

	if (v)
		bpf_timer_init(&v->t, &others, CLOCK_MONOTONIC);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
