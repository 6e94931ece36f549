/* secnames.bpf.c -- libbpf section names test_loader.c checks: tc's other spellings, SCHED_ACT, uprobe,
 * sk_skb/verdict, and SEC("?...") programs, which libbpf does not load unless asked to. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int cls(struct __sk_buff *skb)
{
	return skb->protocol == __builtin_bswap16(0x0800) ? TC_ACT_OK : TC_ACT_SHOT;
}

/* a tc action: returns the packet length so the test can see it ran on the packet */
SEC("action")
int act(struct __sk_buff *skb)
{
	skb->mark = 0x5a;
	return (int)skb->len;
}

SEC("tcx/ingress")
int tcxi(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("uprobe/usr/bin/true:main")
int up(void *ctx)
{
	return 0;
}

SEC("sk_skb/verdict")
int skv(struct __sk_buff *skb)
{
	return SK_PASS;
}

SEC("?xdp")
int lazy(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Writes a read-only field: PROG_LOAD refuses it, so the object only loads while this stays off. */
SEC("?tc")
int bad_write(struct __sk_buff *skb)
{
	skb->len = 1;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
