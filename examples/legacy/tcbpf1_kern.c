// SPDX-License-Identifier: GPL-2.0
/* tcbpf1_kern.c -- after samples/bpf/tcbpf1_kern.c: a tc classifier in SEC("classifier"), the section
 * iproute2's `tc filter add ... bpf obj tcbpf1_kern.o sec classifier` loads as SCHED_CLS.  For IPv4 it
 * sets the TOS byte to 8 (bpf_skb_store_bytes, with the header checksum fixed by bpf_l3_csum_replace, as
 * set_ip_tos() there does), marks the packet and counts it per old TOS in a `maps` array; other frames
 * pass unchanged.  Returns TC_ACT_OK (0).
 *
 * Like the original, the object has more sections than tc's names type: SEC("redirect_xmit") is for
 * `tc ... bpf obj tcbpf1_kern.o sec redirect_xmit`, where tc's command line gives the type.  `bpfvm run`
 * runs the classifier and leaves it unloaded (with a note) unless --type says what it is. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stddef.h>
#include "bpf_legacy.h"

#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define TOS_OFF (ETH_HLEN + offsetof(struct iphdr, tos))

struct bpf_map_def SEC("maps") tos_seen = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(long),
	.max_entries = 256,
};

static inline void set_ip_tos(struct __sk_buff *skb, unsigned char new_tos)
{
	unsigned char old_tos = load_byte(skb, TOS_OFF);

	bpf_l3_csum_replace(skb, IP_CSUM_OFF, __builtin_bswap16(old_tos), __builtin_bswap16(new_tos), 2);
	bpf_skb_store_bytes(skb, TOS_OFF, &new_tos, sizeof(new_tos), 0);
}

SEC("classifier")
int bpf_prog1(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = data + sizeof(*eth);
	unsigned int tos;
	long *cnt;

	if ((void *)(iph + 1) > data_end || eth->h_proto != __builtin_bswap16(ETH_P_IP))
		return 0;
	tos = iph->tos;
	cnt = bpf_map_lookup_elem(&tos_seen, &tos);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	skb->mark = 0x1000 | tos;
	set_ip_tos(skb, 8);
	return 0;
}

SEC("redirect_xmit")
int _redirect_xmit(struct __sk_buff *skb)
{
	return bpf_redirect(skb->ifindex + 1, 0);
}

char _license[] SEC("license") = "GPL";
