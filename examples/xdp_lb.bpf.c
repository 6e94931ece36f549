// SPDX-License-Identifier: GPL-2.0
/* xdp_lb.bpf.c -- XDP layer-4 load balancer (direct server return style), written as for the kernel.
 *
 * IPv4 TCP/UDP packets to the virtual service `vip_addr:vip_port` (.rodata) are sent to one of
 * `backend_cnt` backends from the array map `backends` (filled from user space: see xdp_lb.maps),
 * chosen by a hash of the 5-tuple so a flow always reaches the same backend.  The packet is rewritten
 * in place -- destination MAC, destination IP and (when the backend sets one) destination port -- the
 * IPv4 header checksum is fixed incrementally (RFC 1624) and the TCP/UDP checksum with bpf_csum_diff()
 * over the pseudo-header and port change, then the frame goes back out with XDP_TX.  Everything else
 * passes; malformed IP headers are dropped.  Per-backend packet counts are in `backend_pkts`.
 */
#include <linux/bpf.h>
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

#define MAX_BACKENDS 16

const volatile __u8 vip_addr[4] = { 10, 0, 0, 100 };
const volatile __u16 vip_port = 80;             /* host order */
const volatile __u32 backend_cnt = 4;           /* slots of `backends` in use */

struct backend {
	__u8 addr[4];   /* IPv4, network order; all zero: slot not configured (packet passes) */
	__u8 mac[6];
	__be16 port;    /* new destination port, network order; 0: keep the client's */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} backend_pkts SEC(".maps");

static __always_inline __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for a 32-bit field m. */
static __always_inline void csum_replace4(__u16 *check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~*check;

	sum += (__u16)~from + (__u16)~(from >> 16);
	sum += (to & 0xffff) + (to >> 16);
	*check = csum_fold(sum);
}

/* A 5-tuple hash that does not depend on byte order quirks: FNV-1a over the bytes as on the wire. */
static __always_inline __u32 flow_hash(const __u8 *saddr, const __u8 *daddr, __u32 ports, __u8 proto)
{
	__u32 h = 2166136261u;

#pragma unroll
	for (int i = 0; i < 4; i++)
		h = (h ^ saddr[i]) * 16777619u;
#pragma unroll
	for (int i = 0; i < 4; i++)
		h = (h ^ daddr[i]) * 16777619u;
#pragma unroll
	for (int i = 0; i < 4; i++)
		h = (h ^ ((ports >> (8 * i)) & 0xff)) * 16777619u;
	h = (h ^ proto) * 16777619u;
	return h;
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u16 proto;
	__u32 off;

	if (parse_eth(data, data_end, &proto, &off) || proto != ETH_P_IP || off > 64)
		return XDP_PASS;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (ip->version != 4 || ip->ihl < 5)
		return XDP_DROP;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (ip->frag_off & bpf_htons(0x3fff))   /* fragments: no L4 header to rewrite */
		return XDP_PASS;
	__u8 *daddr = (__u8 *)&ip->daddr;
	if (daddr[0] != vip_addr[0] || daddr[1] != vip_addr[1] || daddr[2] != vip_addr[2] ||
	    daddr[3] != vip_addr[3])
		return XDP_PASS;

	__u32 l4_off = ip->ihl * 4;
	if (l4_off > 60)
		return XDP_DROP;
	void *l4 = (void *)ip + l4_off;
	/* Both TCP and UDP start with the two ports; the checksum is at offset 16 (TCP) or 6 (UDP). */
	__be16 *ports = l4;
	__u16 *l4_check;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > data_end)
			return XDP_DROP;
		l4_check = &tcp->check;
	} else {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > data_end)
			return XDP_DROP;
		l4_check = &udp->check;
	}
	if (ports[1] != bpf_htons(vip_port))
		return XDP_PASS;

	__u32 old_ports = *(__u32 *)ports;
	__u32 n = backend_cnt;
	if (n == 0 || n > MAX_BACKENDS)
		return XDP_PASS;
	__u32 idx = flow_hash((__u8 *)&ip->saddr, daddr, old_ports, ip->protocol) % n;
	struct backend *be = bpf_map_lookup_elem(&backends, &idx);
	if (!be || (be->addr[0] | be->addr[1] | be->addr[2] | be->addr[3]) == 0)
		return XDP_PASS;

	/* L4 checksum: pseudo-header daddr and the destination port change together. */
	__u32 from[2], to[2];
	from[0] = ip->daddr;
	from[1] = old_ports;
	__builtin_memcpy(&to[0], be->addr, 4);
	if (be->port)
		ports[1] = be->port;
	to[1] = *(__u32 *)ports;
	if (ip->protocol == IPPROTO_TCP || *l4_check != 0) {
		__s64 diff = bpf_csum_diff(from, sizeof(from), to, sizeof(to), (__u16)~*l4_check);
		__u16 c = csum_fold((__u32)diff);
		if (ip->protocol == IPPROTO_UDP && c == 0)
			c = 0xffff;     /* RFC 768: 0 means "no checksum" */
		*l4_check = c;
	}

	/* L3: new destination, header checksum fixed incrementally. */
	csum_replace4(&ip->check, from[0], to[0]);
	ip->daddr = to[0];

	/* L2: from us (the MAC the VIP was sent to) to the backend. */
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);

	__u64 *cnt = bpf_map_lookup_elem(&backend_pkts, &idx);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	return XDP_TX;
}
