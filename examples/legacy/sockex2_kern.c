// SPDX-License-Identifier: GPL-2.0
/* sockex2_kern.c -- after samples/bpf/sockex2_kern.c: a flow dissector written with load_half() and
 * load_word() (LD_ABS) in SEC("socket2").  It follows at most two VLAN tags to IPv4, skips fragments,
 * and counts packets and bytes per IPv4 destination in a hash map defined with samples/bpf's 28-byte
 * struct bpf_load_map_def (bpf_load.c's layout).  Returns the packet length for TCP and UDP, else 0.
 * Offsets count from skb->data, as in sockex1_kern.c. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <stddef.h>
#include "bpf_legacy.h"

struct pair {
	long packets;
	long bytes;
};

struct bpf_load_map_def SEC("maps") hash_map = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(struct pair),
	.max_entries = 1024,
};

static inline int ip_is_fragment(struct __sk_buff *ctx, unsigned long nhoff)
{
	return load_half(ctx, nhoff + offsetof(struct iphdr, frag_off)) & (0x2000 | 0x1fff);
}

SEC("socket2")
int bpf_prog2(struct __sk_buff *skb)
{
	unsigned long nhoff = ETH_HLEN;
	unsigned long proto = load_half(skb, 12);
	unsigned int dst, ipproto;
	struct pair *value;

	if (proto == ETH_P_8021AD || proto == ETH_P_8021Q) {
		proto = load_half(skb, nhoff + 2);
		nhoff += 4;
	}
	if (proto == ETH_P_8021AD || proto == ETH_P_8021Q) {
		proto = load_half(skb, nhoff + 2);
		nhoff += 4;
	}
	if (proto != ETH_P_IP)
		return 0;
	if (ip_is_fragment(skb, nhoff))
		return 0;
	ipproto = load_byte(skb, nhoff + offsetof(struct iphdr, protocol));
	dst = load_word(skb, nhoff + offsetof(struct iphdr, daddr));

	value = bpf_map_lookup_elem(&hash_map, &dst);
	if (value) {
		__sync_fetch_and_add(&value->packets, 1);
		__sync_fetch_and_add(&value->bytes, skb->len);
	} else {
		struct pair val = { 1, skb->len };

		bpf_map_update_elem(&hash_map, &dst, &val, BPF_ANY);
	}
	return ipproto == IPPROTO_TCP || ipproto == IPPROTO_UDP ? skb->len : 0;
}

char _license[] SEC("license") = "GPL";
