// SPDX-License-Identifier: GPL-2.0
/* sockex3_kern.c -- after samples/bpf/sockex3_kern.c: a socket filter split into parsers that tail-call
 * one another through `jmp_table`, the first map of the `maps` section.  Nobody fills that table by
 * hand: bpf_load.c put the program of each section "socket/N" at index N of the first map, and bpfvm's
 * loader does the same for such objects.  The network header offset travels in skb->cb[0].
 *
 * main_prog (socket/0) reads the ethertype with load_half() and jumps to the VLAN (1), IPv4 (3) or
 * IPv6 (4) parser; the VLAN parser skips a tag and jumps again.  The IP parsers count packets and bytes
 * per flow (addresses, protocol, ports for TCP/UDP) in `flows` and return the packet's length; whatever
 * no parser takes returns 0.  Offsets count from skb->data, as in sockex1_kern.c. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <stddef.h>
#include "bpf_legacy.h"

#define __stringify_1(x) #x
#define __stringify(x) __stringify_1(x)
#define PROG(F) SEC("socket/" __stringify(F)) int bpf_func_##F
#define PARSE_VLAN 1
#define PARSE_IP   3
#define PARSE_IPV6 4

struct bpf_map_def SEC("maps") jmp_table = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(unsigned int),
	.max_entries = 8,
};

struct flow_key {
	unsigned int src, dst;   /* IPv6: the last word of each address */
	unsigned int ports;      /* source and destination port, 0 for other protocols */
	unsigned int proto;
};

struct pair {
	long packets;
	long bytes;
};

struct bpf_map_def SEC("maps") flows = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(struct flow_key),
	.value_size = sizeof(struct pair),
	.max_entries = 1024,
};

static inline void parse_eth_proto(struct __sk_buff *skb, unsigned int proto)
{
	switch (proto) {
	case ETH_P_8021Q:
	case ETH_P_8021AD:
		bpf_tail_call(skb, &jmp_table, PARSE_VLAN);
		break;
	case ETH_P_IP:
		bpf_tail_call(skb, &jmp_table, PARSE_IP);
		break;
	case ETH_P_IPV6:
		bpf_tail_call(skb, &jmp_table, PARSE_IPV6);
		break;
	}
}

static inline void count(struct __sk_buff *skb, struct flow_key *key)
{
	struct pair *value = bpf_map_lookup_elem(&flows, key);

	if (value) {
		__sync_fetch_and_add(&value->packets, 1);
		__sync_fetch_and_add(&value->bytes, skb->len);
	} else {
		struct pair val = { 1, skb->len };

		bpf_map_update_elem(&flows, key, &val, BPF_ANY);
	}
}

PROG(PARSE_IP)(struct __sk_buff *skb)
{
	unsigned int nhoff = skb->cb[0], ihl;
	struct flow_key key = {};

	if (load_half(skb, nhoff + offsetof(struct iphdr, frag_off)) & 0x3fff)
		return 0;
	ihl = load_byte(skb, nhoff) & 0xf;
	if (ihl < 5)
		return 0;
	key.proto = load_byte(skb, nhoff + offsetof(struct iphdr, protocol));
	key.src = load_word(skb, nhoff + offsetof(struct iphdr, saddr));
	key.dst = load_word(skb, nhoff + offsetof(struct iphdr, daddr));
	if (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP)
		key.ports = load_word(skb, nhoff + ihl * 4);
	count(skb, &key);
	return skb->len;
}

PROG(PARSE_IPV6)(struct __sk_buff *skb)
{
	unsigned int nhoff = skb->cb[0];
	struct flow_key key = {};

	key.proto = load_byte(skb, nhoff + offsetof(struct ipv6hdr, nexthdr));
	key.src = load_word(skb, nhoff + offsetof(struct ipv6hdr, saddr) + 12);
	key.dst = load_word(skb, nhoff + offsetof(struct ipv6hdr, daddr) + 12);
	if (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP)
		key.ports = load_word(skb, nhoff + sizeof(struct ipv6hdr));
	count(skb, &key);
	return skb->len;
}

PROG(PARSE_VLAN)(struct __sk_buff *skb)
{
	unsigned int nhoff = skb->cb[0], proto;

	proto = load_half(skb, nhoff + 2);
	skb->cb[0] = nhoff + 4;
	parse_eth_proto(skb, proto);
	return 0;
}

SEC("socket/0")
int main_prog(struct __sk_buff *skb)
{
	skb->cb[0] = ETH_HLEN;
	parse_eth_proto(skb, load_half(skb, 12));
	return 0;
}

char _license[] SEC("license") = "GPL";
