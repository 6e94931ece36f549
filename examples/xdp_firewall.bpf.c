// SPDX-License-Identifier: GPL-2.0
/* xdp_firewall.bpf.c -- XDP firewall / DDoS mitigation, written as for the kernel (libbpf conventions).
 *
 * For every frame:
 *   1. malformed frames (short Ethernet/VLAN header, truncated IP header, bad version/IHL) get the
 *      `malformed_verdict` policy from .rodata (XDP_DROP by default);
 *   2. non-IP frames (ARP, unknown ethertypes) pass;
 *   3. a source address inside a blocked prefix (LPM tries `block_v4` / `block_v6`, filled from user
 *      space: see xdp_firewall.maps) is dropped and reported through the `events` ring buffer;
 *   4. every other source is counted in the LRU hash `sources`; once a source has sent more than
 *      `rate_limit_pkts` packets in the run it is dropped (reported with bpf_ringbuf_output).  A packet
 *      budget over the whole run, not a token bucket over time, keeps the verdicts deterministic for a
 *      pcap replay: the same input gives the same output in the kernel and in bpfvm.
 * Verdicts and protocols are counted in the per-CPU array `stats` (index: enum stat).
 */
#include <linux/bpf.h>
#include "common.h"

char LICENSE[] SEC("license") = "GPL";

/* Global configuration (.rodata, frozen at load: set it before loading to change the policy). */
const volatile __u64 rate_limit_pkts = 200;     /* packets per source before it is dropped */
const volatile __u32 malformed_verdict = XDP_DROP;
const volatile __u32 report_drops = 1;          /* send drop events to the ring buffer */

enum stat {
	STAT_PASS = 0,
	STAT_DROP_BLOCKED,
	STAT_DROP_RATE,
	STAT_DROP_MALFORMED,
	STAT_PASS_MALFORMED,
	STAT_NON_IP,
	STAT_IPV4,
	STAT_IPV6,
	STAT_TCP,
	STAT_UDP,
	STAT_ICMP,
	STAT_OTHER_L4,
	STAT_EVENTS_LOST,
	STAT_MAX,
};

enum drop_reason {
	REASON_BLOCKED = 1,
	REASON_RATE = 2,
};

struct lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* A source address: IPv4 as ::ffff:a.b.c.d (so one map holds both families). */
struct src_key {
	__u8 addr[16];
};

struct src_stat {
	__u64 pkts;
	__u64 bytes;
};

struct drop_event {
	__u32 reason;   /* enum drop_reason */
	__u32 len;      /* frame length */
	__u8 addr[16];  /* source, as in struct src_key */
	__u32 rule;     /* blocked: the LPM value (rule id); rate: packets seen */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct lpm_v4);
	__type(value, __u32);
} block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct lpm_v6);
	__type(value, __u32);
} block_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct src_key);
	__type(value, struct src_stat);
} sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");
EVENT_TYPE(events, struct drop_event); /* so that bpfvm run prints drop events by field */

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline int malformed(void)
{
	if (malformed_verdict == XDP_PASS) {
		count(STAT_PASS_MALFORMED);
		return XDP_PASS;
	}
	count(STAT_DROP_MALFORMED);
	return XDP_DROP;
}

static __always_inline void count_l4(__u8 proto)
{
	if (proto == IPPROTO_TCP)
		count(STAT_TCP);
	else if (proto == IPPROTO_UDP)
		count(STAT_UDP);
	else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6_)
		count(STAT_ICMP);
	else
		count(STAT_OTHER_L4);
}

/* Blocked: report with bpf_ringbuf_reserve/submit. */
static __always_inline int drop_blocked(struct src_key *src, __u32 rule, __u32 len)
{
	count(STAT_DROP_BLOCKED);
	if (!report_drops)
		return XDP_DROP;
	struct drop_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(STAT_EVENTS_LOST);
		return XDP_DROP;
	}
	e->reason = REASON_BLOCKED;
	e->len = len;
	__builtin_memcpy(e->addr, src->addr, sizeof(e->addr));
	e->rule = rule;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return XDP_DROP;
}

/* Counts the source; over the budget: report with bpf_ringbuf_output and drop. */
static __always_inline int rate_limit(struct src_key *src, __u32 len)
{
	struct src_stat *st = bpf_map_lookup_elem(&sources, src);
	__u64 pkts;

	if (!st) {
		struct src_stat init = { .pkts = 1, .bytes = len };
		bpf_map_update_elem(&sources, src, &init, BPF_NOEXIST);
		pkts = 1;
	} else {
		pkts = __sync_fetch_and_add(&st->pkts, 1) + 1;
		__sync_fetch_and_add(&st->bytes, len);
	}
	if (pkts <= rate_limit_pkts) {
		count(STAT_PASS);
		return XDP_PASS;
	}
	count(STAT_DROP_RATE);
	if (report_drops) {
		struct drop_event e = { .reason = REASON_RATE, .len = len, .rule = (__u32)pkts };
		__builtin_memcpy(e.addr, src->addr, sizeof(e.addr));
		if (bpf_ringbuf_output(&events, &e, sizeof(e), 0))
			count(STAT_EVENTS_LOST);
	}
	return XDP_DROP;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	struct src_key src = {};
	__u32 *rule;
	__u16 proto;
	__u32 off;

	if (parse_eth(data, data_end, &proto, &off))
		return malformed();
	if (off > 64)
		return malformed();

	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end)
			return malformed();
		if (ip->version != 4 || ip->ihl < 5)
			return malformed();
		if ((void *)ip + ip->ihl * 4 > data_end)
			return malformed();
		count(STAT_IPV4);
		count_l4(ip->protocol);

		struct lpm_v4 k4 = { .prefixlen = 32 };
		__builtin_memcpy(k4.addr, &ip->saddr, 4);
		src.addr[10] = 0xff;
		src.addr[11] = 0xff;
		__builtin_memcpy(&src.addr[12], &ip->saddr, 4);
		rule = bpf_map_lookup_elem(&block_v4, &k4);
		if (rule)
			return drop_blocked(&src, *rule, len);
		return rate_limit(&src, len);
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return malformed();
		if (ip6->version != 6)
			return malformed();
		count(STAT_IPV6);
		count_l4(ip6->nexthdr);

		struct lpm_v6 k6 = { .prefixlen = 128 };
		__builtin_memcpy(k6.addr, &ip6->saddr, 16);
		__builtin_memcpy(src.addr, &ip6->saddr, 16);
		rule = bpf_map_lookup_elem(&block_v6, &k6);
		if (rule)
			return drop_blocked(&src, *rule, len);
		return rate_limit(&src, len);
	}
	count(STAT_NON_IP);
	count(STAT_PASS);
	return XDP_PASS;
}
