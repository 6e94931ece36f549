// SPDX-License-Identifier: GPL-2.0
/* socket_filter.bpf.c -- a socket filter (SEC("socket")) that keeps only web traffic: TCP to port 80
 * or 443 over IPv4 or IPv6.  It returns the number of bytes to keep (skb->len: all of it) or 0 to drop.
 *
 * It reads the packet with bpf_skb_load_bytes_relative(..., BPF_HDR_START_NET), so it works wherever
 * skb->data starts (an AF_PACKET socket sees the Ethernet header, PROG_TEST_RUN and IP sockets start at
 * the network header), and uses skb->protocol for the L3 type.  Counts of kept and dropped packets
 * are in the array `verdicts` (0: dropped, 1: kept).
 */
#include <linux/bpf.h>
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline int web_port(__u16 port)
{
	return port == 80 || port == 443;
}

static __always_inline int keep(struct __sk_buff *skb)
{
	__u8 l4_proto;
	__u32 l4_off;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes_relative(skb, 0, &ip, sizeof(ip), BPF_HDR_START_NET))
			return 0;
		if (ip.version != 4 || ip.ihl < 5 || (ip.frag_off & bpf_htons(0x1fff)))
			return 0;
		l4_proto = ip.protocol;
		l4_off = ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes_relative(skb, 0, &ip6, sizeof(ip6), BPF_HDR_START_NET))
			return 0;
		l4_proto = ip6.nexthdr;
		l4_off = sizeof(ip6);
	} else {
		return 0;
	}
	if (l4_proto != IPPROTO_TCP)
		return 0;
	__be16 ports[2];
	if (bpf_skb_load_bytes_relative(skb, l4_off, ports, sizeof(ports), BPF_HDR_START_NET))
		return 0;
	return web_port(bpf_ntohs(ports[1]));
}

SEC("socket")
int socket_web_only(struct __sk_buff *skb)
{
	__u32 k = keep(skb);
	__u64 *cnt = bpf_map_lookup_elem(&verdicts, &k);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return k ? skb->len : 0;
}
