/* common.h -- packet parsing shared by the examples (XDP and tc direct packet access).
 *
 * Every read is bounds-checked against data_end before it happens, as the kernel's verifier demands;
 * these helpers are inlined so the checks stay visible to it.  Include after <linux/bpf.h>. */
#ifndef BPFVM_EXAMPLES_COMMON_H
#define BPFVM_EXAMPLES_COMMON_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IPPROTO_ICMPV6_ 58

/* Names the record type of ring buffer or perf event array `map` for user space: clang puts a struct
 * into the object's BTF only when a global, a map definition or a function signature uses it (not a
 * local variable, which is how events are built), and a ring buffer's definition can name no value
 * type (Linux refuses a value size).  This declares `__event_type_<map>`, a null pointer to the type in
 * .rodata (8 bytes, never read), which `bpfvm run` (bpfvm_object_event_type()) looks for to print the
 * map's records by field; BTF-aware formatting leaves `__`-prefixed variables out of the data. */
#define EVENT_TYPE(map, type) type *const __event_type_##map = 0

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* The result of parsing L2: the ethertype after at most two VLAN tags (host order) and where L3 starts,
 * or -1 when the frame is too short for its Ethernet/VLAN headers. */
static __always_inline int parse_eth(void *data, void *data_end, __u16 *proto, __u32 *l3_off)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);

	if ((void *)(eth + 1) > data_end)
		return -1;
	__u16 p = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (p != ETH_P_8021Q && p != ETH_P_8021AD)
			break;
		struct vlan_hdr *vh = data + off;
		if ((void *)(vh + 1) > data_end)
			return -1;
		p = bpf_ntohs(vh->encap_proto);
		off += sizeof(*vh);
	}
	*proto = p;
	*l3_off = off;
	return 0;
}

#endif
