// SPDX-License-Identifier: GPL-2.0
/* tc_classifier.bpf.c -- a tc classifier (SEC("tc"), direct-action) that sorts traffic into classes with
 * __sk_buff fields and direct packet access:
 *   class 1 "interactive": TCP/UDP to or from port 22 or 53, and ICMP/ICMPv6
 *   class 2 "web":         TCP to or from port 80 or 443
 *   class 3 "bulk":        every other IP packet
 *   class 0 "other":       non-IP frames
 * It sets skb->mark = class, skb->priority = class and skb->tc_classid = 1:class, returns TC_ACT_OK, and
 * drops (TC_ACT_SHOT) IPv4 packets with TTL <= 1 and IPv6 with hop limit <= 1, and any telnet (port 23).
 * Per-class packet and byte counts (skb->len) are in the array `classes`.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

enum { CLASS_OTHER, CLASS_INTERACTIVE, CLASS_WEB, CLASS_BULK, CLASS_SHOT, CLASS_MAX };

struct class_stat {
	__u64 pkts;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CLASS_MAX);
	__type(key, __u32);
	__type(value, struct class_stat);
} classes SEC(".maps");

static __always_inline int port_is(__u16 sport, __u16 dport, __u16 p)
{
	return sport == p || dport == p;
}

static __always_inline __u32 classify(struct __sk_buff *skb, __u16 proto, __u32 off)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 l4;

	if (off > 64)
		return CLASS_OTHER;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return CLASS_OTHER;
		if (ip->ttl <= 1)
			return CLASS_SHOT;
		l4 = ip->protocol;
		off += ip->ihl * 4;
		if (ip->frag_off & bpf_htons(0x1fff))
			return CLASS_BULK;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return CLASS_OTHER;
		if (ip6->hop_limit <= 1)
			return CLASS_SHOT;
		l4 = ip6->nexthdr;
		off += sizeof(*ip6);
	} else {
		return CLASS_OTHER;
	}
	if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6_)
		return CLASS_INTERACTIVE;
	if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP)
		return CLASS_BULK;
	if (off > 128)
		return CLASS_BULK;
	__be16 *ports = data + off;
	if ((void *)(ports + 2) > data_end)
		return CLASS_BULK;
	__u16 sport = bpf_ntohs(ports[0]), dport = bpf_ntohs(ports[1]);
	if (port_is(sport, dport, 23))
		return CLASS_SHOT;
	if (port_is(sport, dport, 22) || port_is(sport, dport, 53))
		return CLASS_INTERACTIVE;
	if (l4 == IPPROTO_TCP && (port_is(sport, dport, 80) || port_is(sport, dport, 443)))
		return CLASS_WEB;
	return CLASS_BULK;
}

SEC("tc")
int tc_classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u16 proto;
	__u32 off, cls;

	if (parse_eth(data, data_end, &proto, &off))
		cls = CLASS_OTHER;
	else
		cls = classify(skb, proto, off);

	struct class_stat *st = bpf_map_lookup_elem(&classes, &cls);
	if (st) {
		__sync_fetch_and_add(&st->pkts, 1);
		__sync_fetch_and_add(&st->bytes, skb->len);
	}
	if (cls == CLASS_SHOT)
		return TC_ACT_SHOT;
	skb->mark = cls;
	skb->priority = cls;
	skb->tc_classid = TC_H_MAKE(1 << 16, cls);
	return TC_ACT_OK;
}
