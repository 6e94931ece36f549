// SPDX-License-Identifier: GPL-2.0
/* tail_calls.bpf.c -- an XDP dispatcher that tail-calls a per-protocol program through a PROG_ARRAY.
 *
 * `dispatch` parses Ethernet (+VLAN) and IPv4/IPv6, stores where L4 starts in the per-CPU scratch map
 * `meta`, and bpf_tail_call()s slot `jmp_table[proto]`: 0 TCP, 1 UDP, 2 ICMP/ICMPv6.  The slots are
 * initialised in BTF as libbpf does (`.values = { [0] = &handle_tcp, ... }`).  When the slot is empty or
 * the protocol has none, the tail call falls through and the packet passes.
 *   handle_tcp:  drops SYNs to port 23 (telnet), passes the rest
 *   handle_udp:  drops UDP to port 19 (chargen, an amplification vector), passes the rest
 *   handle_icmp: drops ICMP/ICMPv6 echo requests larger than 256 bytes, passes the rest
 * Each handler counts packets in the array `hits` (index: slot; 3: no handler).
 */
#include <linux/bpf.h>
#include "common.h"

#define ICMP_ECHO 8             /* <linux/icmp.h> drags in libc headers */
#define ICMPV6_ECHO_REQUEST 128

char LICENSE[] SEC("license") = "GPL";

enum { SLOT_TCP, SLOT_UDP, SLOT_ICMP, SLOT_NONE, SLOT_MAX };

struct meta {
	__u32 l4_off;
	__u32 l4_proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct meta);
} meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void hit(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct meta *get_meta(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&meta, &zero);
}

SEC("xdp")
int handle_tcp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct meta *m = get_meta();

	hit(SLOT_TCP);
	if (!m || m->l4_off > 128)
		return XDP_PASS;
	struct tcphdr *tcp = data + m->l4_off;
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;
	if (tcp->syn && !tcp->ack && tcp->dest == bpf_htons(23))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int handle_udp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct meta *m = get_meta();

	hit(SLOT_UDP);
	if (!m || m->l4_off > 128)
		return XDP_PASS;
	struct udphdr *udp = data + m->l4_off;
	if ((void *)(udp + 1) > data_end)
		return XDP_PASS;
	return udp->dest == bpf_htons(19) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int handle_icmp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct meta *m = get_meta();

	hit(SLOT_ICMP);
	if (!m || m->l4_off > 128)
		return XDP_PASS;
	__u8 *type = data + m->l4_off;
	if ((void *)(type + 1) > data_end)
		return XDP_PASS;
	int echo = m->l4_proto == IPPROTO_ICMP ? *type == ICMP_ECHO : *type == ICMPV6_ECHO_REQUEST;
	return echo && data_end - data > 256 ? XDP_DROP : XDP_PASS;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__uint(key_size, sizeof(__u32));
	__array(values, int (struct xdp_md *));
} jmp_table SEC(".maps") = {
	.values = {
		[SLOT_TCP] = (void *)&handle_tcp,
		[SLOT_UDP] = (void *)&handle_udp,
		[SLOT_ICMP] = (void *)&handle_icmp,
	},
};

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct meta *m = get_meta();
	__u16 proto;
	__u32 off, slot;
	__u8 l4;

	if (!m || parse_eth(data, data_end, &proto, &off) || off > 64)
		return XDP_PASS;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return XDP_PASS;
		l4 = ip->protocol;
		off += ip->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		l4 = ip6->nexthdr;
		off += sizeof(*ip6);
	} else {
		return XDP_PASS;
	}
	m->l4_off = off;
	m->l4_proto = l4;
	if (l4 == IPPROTO_TCP)
		slot = SLOT_TCP;
	else if (l4 == IPPROTO_UDP)
		slot = SLOT_UDP;
	else if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6_)
		slot = SLOT_ICMP;
	else
		slot = SLOT_NONE;
	bpf_tail_call(ctx, &jmp_table, slot);
	hit(SLOT_NONE);
	return XDP_PASS;
}
