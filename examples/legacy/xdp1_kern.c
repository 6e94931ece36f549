// SPDX-License-Identifier: GPL-2.0
/* xdp1_kern.c -- after samples/bpf/xdp1_kern.c, in its style: SEC("xdp1"), a struct bpf_map_def map.
 * Counts packets per IP protocol (IPv4 protocol / IPv6 next header, after at most two VLAN tags) in a
 * per-CPU array and drops UDP; everything else passes (xdp1 itself drops all). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include "bpf_legacy.h"

struct bpf_map_def SEC("maps") rxcnt = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = sizeof(unsigned int),
	.value_size = sizeof(long),
	.max_entries = 256,
};

struct vlan_hdr {
	unsigned short h_vlan_TCI;
	unsigned short h_vlan_encapsulated_proto;
};

static int parse_ipv4(void *data, unsigned long nh_off, void *data_end)
{
	struct iphdr *iph = data + nh_off;

	if ((void *)(iph + 1) > data_end)
		return 0;
	return iph->protocol;
}

static int parse_ipv6(void *data, unsigned long nh_off, void *data_end)
{
	struct ipv6hdr *ip6h = data + nh_off;

	if ((void *)(ip6h + 1) > data_end)
		return 0;
	return ip6h->nexthdr;
}

SEC("xdp1")
int xdp_prog1(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	unsigned long nh_off = sizeof(*eth);
	unsigned short h_proto;
	unsigned int ipproto;
	long *value;

	if (data + nh_off > data_end)
		return XDP_DROP;
	h_proto = eth->h_proto;
	if (h_proto == __builtin_bswap16(ETH_P_8021Q) || h_proto == __builtin_bswap16(ETH_P_8021AD)) {
		struct vlan_hdr *vhdr = data + nh_off;

		nh_off += sizeof(struct vlan_hdr);
		if (data + nh_off > data_end)
			return XDP_DROP;
		h_proto = vhdr->h_vlan_encapsulated_proto;
	}
	if (h_proto == __builtin_bswap16(ETH_P_8021Q) || h_proto == __builtin_bswap16(ETH_P_8021AD)) {
		struct vlan_hdr *vhdr = data + nh_off;

		nh_off += sizeof(struct vlan_hdr);
		if (data + nh_off > data_end)
			return XDP_DROP;
		h_proto = vhdr->h_vlan_encapsulated_proto;
	}
	if (h_proto == __builtin_bswap16(ETH_P_IP))
		ipproto = parse_ipv4(data, nh_off, data_end);
	else if (h_proto == __builtin_bswap16(ETH_P_IPV6))
		ipproto = parse_ipv6(data, nh_off, data_end);
	else
		ipproto = 0;

	value = bpf_map_lookup_elem(&rxcnt, &ipproto);
	if (value)
		*value += 1;
	return ipproto == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
