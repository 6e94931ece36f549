/* legacy.bpf.c -- section names only the old loaders knew (samples/bpf's bpf_load.c and libbpf < 0.7
 * typed a section by a prefix of its name), beside libbpf 1.x names, which win where both apply.
 * test_loader.c checks the types and derives old-clang variants (STT_NOTYPE symbols) from it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp1")
int x1(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int x0(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("socket2")
int s2(struct __sk_buff *skb)
{
	return 0;
}

SEC("classifier_egress")
int cl(struct __sk_buff *skb)
{
	return 0;
}

SEC("cgroup/skb1")
int cg(struct __sk_buff *skb)
{
	return 1;
}

SEC("sockops_1")
int so(struct bpf_sock_ops *ops)
{
	return 1;
}

SEC("lwt_xmit_a")
int lw(struct __sk_buff *skb)
{
	return 0;
}

SEC("perf_event_x")
int pe(void *ctx)
{
	return 0;
}

SEC("kprobe/sys_write")
int kp(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
