// SPDX-License-Identifier: GPL-2.0
/* sockex1_kern.c -- after samples/bpf/sockex1_kern.c: a socket filter in SEC("socket1") that reads the
 * IPv4 protocol byte with load_byte() (LD_ABS) and adds the packet's length to its protocol's slot of
 * an array.  It keeps TCP packets (returns their length) and drops the rest (returns 0).
 *
 * Offsets count from skb->data: the Ethernet header on an AF_PACKET socket and in `bpfvm run --pcap`,
 * the network header in PROG_TEST_RUN (Linux pulls the Ethernet header there), where the same bytes are
 * read from 14 bytes further on: the kernel comparison in tests/unit/test_examples.c still holds, as
 * both sides read the same bytes. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <stddef.h>
#include "bpf_legacy.h"

struct bpf_map_def SEC("maps") my_map = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(long),
	.max_entries = 256,
};

SEC("socket1")
int bpf_prog1(struct __sk_buff *skb)
{
	int index = load_byte(skb, ETH_HLEN + offsetof(struct iphdr, protocol));
	long *value;

	if (skb->pkt_type == PACKET_OUTGOING)
		return 0;
	value = bpf_map_lookup_elem(&my_map, &index);
	if (value)
		__sync_fetch_and_add(value, skb->len);
	return index == IPPROTO_TCP ? skb->len : 0;
}

char _license[] SEC("license") = "GPL";
