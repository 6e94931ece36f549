/* cmd_gen_pcap.c -- `bpfvm gen-pcap OUT.pcap [--seed N] [--count N]`: writes the deterministic sample
 * traffic the examples run on (examples/sample.pcap is this command's output with the defaults).
 *
 * Ethernet frames of mixed traffic with correct IPv4, TCP, UDP, ICMP and ICMPv6 checksums:
 *   - clients 10.1.x.y and 2001:db8:1::/64 talking TCP/UDP/ICMP to servers in 10.0.0.0/24 and
 *     2001:db8::/64 (web on the load balancer's VIP 10.0.0.100:80, DNS, ssh, telnet, chargen, pings
 *     small and large), some VLAN-tagged (802.1Q, a few 802.1ad QinQ), some with TTL 1, some fragments;
 *   - sources inside the firewall example's blocked prefixes (198.51.100.0/24, 203.0.113.128/25,
 *     2001:db8:bad::/48) and right next to them (203.0.113.0/25, not blocked);
 *   - a flood from three sources (172.16.66.1-3) far above the firewall's per-source packet budget;
 *   - ARP and malformed frames: short frames, truncated IPv4/IPv6 headers, IHL < 5, bogus ethertype.
 * The same seed and count always give the same bytes (timestamps included).  Uses libpcap and the
 * standard library only. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define USAGE_GEN "usage: bpfvm gen-pcap OUT.pcap [--seed N] [--count N] [--extra]"

#define ETH_IP   0x0800
#define ETH_ARP  0x0806
#define ETH_IP6  0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8

struct gen {
	uint64_t rng;
	uint8_t buf[2048];
	size_t len;
	uint64_t ts_us;
	pcap_dumper_t *dump;
	unsigned long written;
	int extra;               /* --extra: the rarer traffic below, and some frames captured cut short */
};

static uint64_t rnd(struct gen *g)
{
	/* xorshift64*: deterministic across platforms. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ull;
}

static unsigned int rnd_below(struct gen *g, unsigned int n)
{
	return (unsigned int)((rnd(g) >> 32) % n);
}

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static const uint8_t mac_lb[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

/* Ethernet (+ tags): returns the L3 offset. */
static size_t put_eth(struct gen *g, const uint8_t src_mac_tail, unsigned int proto, int tags)
{
	uint8_t *p = g->buf;
	size_t off = 12;

	memcpy(p, mac_lb, 6);
	p[6] = 0x02, p[7] = 0x11, p[8] = 0x22, p[9] = 0x33, p[10] = 0x44, p[11] = src_mac_tail;
	if (tags == 2) {
		put16(p + off, ETH_QINQ), put16(p + off + 2, 100 + rnd_below(g, 10));
		off += 4;
	}
	if (tags >= 1) {
		put16(p + off, ETH_VLAN), put16(p + off + 2, 10 + rnd_below(g, 20));
		off += 4;
	}
	put16(p + off, proto);
	return off + 2;
}

enum { L4_TCP = 6, L4_UDP = 17, L4_ICMP = 1, L4_ICMP6 = 58 };

struct flow {
	int v6;
	uint8_t src[16], dst[16];   /* IPv4 in the first 4 bytes */
	int l4;
	unsigned int sport, dport;
	unsigned int tcp_flags;     /* SYN 0x02, ACK 0x10, PSH 0x08, FIN 0x01 */
	unsigned int icmp_type;
	size_t payload;
	int ttl;
	int tags;
	int frag;                   /* IPv4: more-fragments set */
	unsigned int frag_off;      /* IPv4: fragment offset (8-byte units) */
	unsigned int icmp_code;
};

static void emit(struct gen *g)
{
	struct pcap_pkthdr h;

	g->ts_us += 50 + rnd_below(g, 950);
	h.ts.tv_sec = (time_t)(1700000000 + g->ts_us / 1000000);
	h.ts.tv_usec = (suseconds_t)(g->ts_us % 1000000);
	h.caplen = h.len = (bpf_u_int32)g->len;
	/* --extra: a snap length cut some frames short, anywhere (caplen < len on the wire) */
	if (g->extra && rnd_below(g, 100) < 6)
		h.caplen = rnd_below(g, (unsigned int)g->len);
	pcap_dump((u_char *)g->dump, &h, g->buf);
	g->written++;
}

static void build(struct gen *g, const struct flow *f)
{
	size_t l3 = put_eth(g, f->src[f->v6 ? 15 : 3], f->v6 ? ETH_IP6 : ETH_IP, f->tags);
	size_t hl = f->v6 ? 40 : 20, l4 = l3 + hl;
	size_t l4_hl = f->l4 == L4_TCP ? 20 : 8;
	size_t l4_len = l4_hl + f->payload;
	uint8_t *ip = g->buf + l3, *t = g->buf + l4;

	if (l4 + l4_len > sizeof(g->buf))
		l4_len = sizeof(g->buf) - l4;
	for (size_t i = l4_hl; i < l4_len; i++)
		t[i] = (uint8_t)rnd(g);
	memset(t, 0, l4_hl);
	if (f->l4 == L4_TCP) {
		put16(t, f->sport), put16(t + 2, f->dport);
		put32(t + 4, (uint32_t)rnd(g));
		put32(t + 8, f->tcp_flags & 0x10 ? (uint32_t)rnd(g) : 0);
		t[12] = 5 << 4;
		t[13] = (uint8_t)f->tcp_flags;
		put16(t + 14, 64240);
	} else if (f->l4 == L4_UDP) {
		put16(t, f->sport), put16(t + 2, f->dport), put16(t + 4, (unsigned int)l4_len);
	} else {
		t[0] = (uint8_t)f->icmp_type;
		t[1] = (uint8_t)f->icmp_code;
		put16(t + 4, rnd_below(g, 65536)), put16(t + 6, rnd_below(g, 1000));
	}
	if (f->v6) {
		ip[0] = 0x60, ip[1] = 0, ip[2] = 0, ip[3] = 0;
		put16(ip + 4, (unsigned int)l4_len);
		ip[6] = (uint8_t)f->l4;
		ip[7] = (uint8_t)f->ttl;
		memcpy(ip + 8, f->src, 16), memcpy(ip + 24, f->dst, 16);
	} else {
		ip[0] = 0x45, ip[1] = 0;
		put16(ip + 2, (unsigned int)(hl + l4_len));
		put16(ip + 4, rnd_below(g, 65536));
		put16(ip + 6, f->frag ? 0x2000 | f->frag_off : 0x4000);   /* MF, or DF */
		ip[8] = (uint8_t)f->ttl, ip[9] = (uint8_t)f->l4;
		put16(ip + 10, 0);
		memcpy(ip + 12, f->src, 4), memcpy(ip + 16, f->dst, 4);
		put16(ip + 10, fold(sum16(ip, 20, 0)));
	}
	/* L4 checksum over the pseudo-header (none for ICMPv4). */
	uint32_t sum = 0;
	if (f->l4 != L4_ICMP) {
		if (f->v6)
			sum = sum16(ip + 8, 32, 0);
		else
			sum = sum16(ip + 12, 8, 0);
		sum += (uint32_t)f->l4 + (uint32_t)l4_len;
	}
	size_t ck = f->l4 == L4_TCP ? 16 : f->l4 == L4_UDP ? 6 : 2;
	uint16_t c = fold(sum16(t, l4_len, sum));
	if (f->l4 == L4_UDP && c == 0)
		c = 0xffff;
	put16(t + ck, c);
	g->len = l4 + l4_len;
	/* Ethernet minimum frame (without FCS): pad with zeros like a NIC. */
	if (g->len < 60) {
		memset(g->buf + g->len, 0, 60 - g->len);
		g->len = 60;
	}
}

static void set_v4(uint8_t *a, unsigned int b0, unsigned int b1, unsigned int b2, unsigned int b3)
{
	memset(a, 0, 16);
	a[0] = (uint8_t)b0, a[1] = (uint8_t)b1, a[2] = (uint8_t)b2, a[3] = (uint8_t)b3;
}

/* 2001:db8:<net>::<host> */
static void set_v6(uint8_t *a, unsigned int net, unsigned int host)
{
	memset(a, 0, 16);
	a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
	put16(a + 4, net);
	put16(a + 12, host >> 16), put16(a + 14, host & 0xffff);
}

/* A service the clients use: protocol, port, weight. */
static void pick_service(struct gen *g, struct flow *f)
{
	unsigned int r = rnd_below(g, 100);

	f->l4 = L4_TCP;
	f->tcp_flags = 0x18; /* PSH|ACK */
	if (r < 35)
		f->dport = 80;
	else if (r < 50)
		f->dport = 443;
	else if (r < 58)
		f->dport = 22;
	else if (r < 61)
		f->dport = 23;
	else if (r < 74)
		f->l4 = L4_UDP, f->dport = 53;
	else if (r < 78)
		f->l4 = L4_UDP, f->dport = 80;  /* UDP to the VIP's port (QUIC-like) */
	else if (r < 81)
		f->l4 = L4_UDP, f->dport = 19;
	else if (r < 88)
		f->l4 = L4_UDP, f->dport = 1024 + rnd_below(g, 60000);
	else if (r < 97)
		f->l4 = f->v6 ? L4_ICMP6 : L4_ICMP;
	else
		f->dport = 1024 + rnd_below(g, 60000);
	f->sport = 1024 + rnd_below(g, 64000);
	if (f->l4 == L4_TCP) {
		unsigned int k = rnd_below(g, 10);
		f->tcp_flags = k < 3 ? 0x02 : k < 4 ? 0x11 : k < 6 ? 0x10 : 0x18;
	}
	if (f->l4 == L4_ICMP || f->l4 == L4_ICMP6) {
		int req = rnd_below(g, 2);
		f->icmp_type = f->l4 == L4_ICMP ? (req ? 8u : 0u) : (req ? 128u : 129u);
		f->payload = rnd_below(g, 4) == 0 ? 300 + rnd_below(g, 1000) : 16 + rnd_below(g, 48);
	} else {
		f->payload = rnd_below(g, 8) == 0 ? 500 + rnd_below(g, 900) : rnd_below(g, 200);
	}
}

static void client_packet(struct gen *g, struct flow *f)
{
	f->v6 = rnd_below(g, 100) < 30;
	if (f->v6) {
		set_v6(f->src, 1, 0x100 + rnd_below(g, 40));
		set_v6(f->dst, 0, 0x80 + rnd_below(g, 4));
	} else {
		set_v4(f->src, 10, 1, rnd_below(g, 4), 1 + rnd_below(g, 30));
		unsigned int srv = rnd_below(g, 10);
		set_v4(f->dst, 10, 0, 0, srv < 6 ? 100 : 10 + srv);
	}
	pick_service(g, f);
	if (!f->v6 && f->l4 == L4_TCP && f->dport == 80)
		set_v4(f->dst, 10, 0, 0, 100);   /* web goes to the VIP */
}

static void malformed(struct gen *g)
{
	unsigned int kind = rnd_below(g, 6);
	struct flow f = { .ttl = 64 };

	switch (kind) {
	case 0: /* short frame: not even an Ethernet header */
		g->len = 1 + rnd_below(g, 13);
		for (size_t i = 0; i < g->len; i++)
			g->buf[i] = (uint8_t)rnd(g);
		break;
	case 1: { /* IPv4 header cut short */
		size_t l3 = put_eth(g, 0xee, ETH_IP, (int)rnd_below(g, 2));
		g->len = l3 + 4 + rnd_below(g, 15);
		g->buf[l3] = 0x45;
		for (size_t i = l3 + 1; i < g->len; i++)
			g->buf[i] = (uint8_t)rnd(g);
		break;
	}
	case 2: /* IHL < 5 */
		client_packet(g, &f);
		f.v6 = 0;
		set_v4(f.src, 10, 1, 9, 1 + rnd_below(g, 5));
		set_v4(f.dst, 10, 0, 0, 100);
		if (f.l4 == L4_ICMP6)
			f.l4 = L4_ICMP;
		build(g, &f);
		g->buf[14] = (uint8_t)(0x40 | rnd_below(g, 5));
		break;
	case 3: /* IPv6 header cut short */
		g->len = put_eth(g, 0xee, ETH_IP6, 0) + 8 + rnd_below(g, 30);
		g->buf[14] = 0x60;
		for (size_t i = 15; i < g->len; i++)
			g->buf[i] = (uint8_t)rnd(g);
		break;
	case 4: /* bogus ethertype */
		g->len = put_eth(g, 0xee, 0x88b5, 0) + 46;
		for (size_t i = 14; i < g->len; i++)
			g->buf[i] = (uint8_t)rnd(g);
		break;
	default: /* wrong IP version in an IPv4 frame */
		client_packet(g, &f);
		f.v6 = 0;
		set_v4(f.src, 10, 1, 9, 10 + rnd_below(g, 5));
		if (f.l4 == L4_ICMP6)
			f.l4 = L4_ICMP;
		build(g, &f);
		g->buf[14] = 0x65;
		break;
	}
}

/* Inserts n bytes at off in the frame (the 60-byte padding of a short frame is dropped first). */
static uint8_t *insert(struct gen *g, size_t off, size_t n, size_t real_len)
{
	g->len = real_len;
	memmove(g->buf + off + n, g->buf + off, g->len - off);
	memset(g->buf + off, 0, n);
	g->len += n;
	if (g->len < 60) {
		memset(g->buf + g->len, 0, 60 - g->len);
		g->len = 60;
	}
	return g->buf + off;
}

/* --extra traffic: what filters test and the default sample lacks.  IPv6 extension header chains
 * (hop-by-hop, routing, destination options, fragment) before TCP/UDP/ICMPv6, IPv4 options, later
 * IPv4 fragments, broadcast and multicast, the other TCP flags, other ICMP/ICMPv6 types. */
static void extra_packet(struct gen *g)
{
	struct flow f = { .ttl = 64 };
	unsigned int kind = rnd_below(g, 7);

	client_packet(g, &f);
	f.tags = rnd_below(g, 100) < 20 ? 1 : 0;
	switch (kind) {
	case 0:
	case 1: { /* IPv6 with 1-4 extension headers */
		static const uint8_t order[] = { 0, 60, 43, 44 }; /* hop-by-hop first, as RFC 8200 wants */
		uint8_t chain[4];
		size_t lens[4], n = 0, total = 0;
		f.v6 = 1;
		set_v6(f.src, 1, 0x100 + rnd_below(g, 40));
		set_v6(f.dst, 0, 0x80 + rnd_below(g, 4));
		if (f.l4 == L4_ICMP)
			f.l4 = L4_ICMP6, f.icmp_type = 128;
		for (size_t i = 0; i < 4; i++)
			if (rnd_below(g, 2) || (i == 3 && !n)) {
				chain[n] = order[i];
				lens[n] = order[i] == 44 ? 8 : 8 * (1 + (size_t)rnd_below(g, 2));
				total += lens[n++];
			}
		build(g, &f);
		size_t l3 = f.tags ? 18 : 14, real = l3 + 40 + (size_t)(g->buf[l3 + 4] << 8 | g->buf[l3 + 5]);
		uint8_t *e = insert(g, l3 + 40, total, real), *ip = g->buf + l3;
		uint8_t next = ip[6];
		ip[6] = chain[0];
		put16(ip + 4, (unsigned int)(real - l3 - 40 + total));
		for (size_t i = 0; i < n; e += lens[i++]) {
			e[0] = i + 1 < n ? chain[i + 1] : next;
			if (chain[i] == 44) { /* fragment header: offset 0, more fragments, an id */
				put16(e + 2, 1);
				put32(e + 4, (uint32_t)rnd(g));
				continue;
			}
			e[1] = (uint8_t)(lens[i] / 8 - 1);
			if (chain[i] == 43) /* routing: type 4 (segment routing), segments left 0 */
				e[2] = 4, e[3] = 0;
			else                /* options: one PadN filling the header */
				e[2] = 1, e[3] = (uint8_t)(lens[i] - 4);
		}
		return;
	}
	case 2: { /* IPv4 options (IHL 6..15), or a later fragment */
		f.v6 = 0;
		set_v4(f.src, 10, 1, rnd_below(g, 4), 1 + rnd_below(g, 30));
		if (f.l4 == L4_ICMP6)
			f.l4 = L4_ICMP, f.icmp_type = 8;
		if (rnd_below(g, 3) == 0) {
			f.frag = 1;
			f.frag_off = 1 + rnd_below(g, 100);
			build(g, &f);
			return;
		}
		build(g, &f);
		size_t l3 = f.tags ? 18 : 14, opt = 4 * (1 + (size_t)rnd_below(g, 10));
		size_t real = l3 + (size_t)(g->buf[l3 + 2] << 8 | g->buf[l3 + 3]);
		uint8_t *o = insert(g, l3 + 20, opt, real), *ip = g->buf + l3;
		memset(o, 1, opt); /* NOPs */
		o[opt - 1] = 0;    /* end of options */
		ip[0] = (uint8_t)(0x40 | (5 + opt / 4));
		put16(ip + 2, (unsigned int)(real - l3 + opt));
		put16(ip + 10, 0);
		put16(ip + 10, fold(sum16(ip, 20 + opt, 0)));
		return;
	}
	case 3: { /* broadcast and multicast */
		unsigned int m = rnd_below(g, 3);
		f.l4 = m == 2 ? L4_ICMP6 : L4_UDP;
		f.v6 = m == 2;
		f.payload = 20 + rnd_below(g, 40);
		if (m < 2)
			set_v4(f.src, 10, 1, rnd_below(g, 4), 1 + rnd_below(g, 30));
		if (m == 0) {
			set_v4(f.dst, 255, 255, 255, 255);
			f.sport = 68, f.dport = 67;
		} else if (m == 1) {
			set_v4(f.dst, 224, 0, 0, 251);
			f.sport = f.dport = 5353;
		} else {
			set_v6(f.src, 1, 0x100 + rnd_below(g, 40));
			memset(f.dst, 0, 16), f.dst[0] = 0xff, f.dst[1] = 0x02, f.dst[15] = 1;
			f.icmp_type = 134; /* router advertisement */
		}
		build(g, &f);
		static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, mc4[6] = { 0x01, 0x00, 0x5e, 0, 0, 0xfb },
				     mc6[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		memcpy(g->buf, m == 0 ? bc : m == 1 ? mc4 : mc6, 6);
		return;
	}
	case 4: { /* the other TCP flags */
		static const uint8_t flags[] = { 0x04, 0x14, 0x12, 0x19, 0x30, 0xc2, 0x29, 0x01 };
		f.l4 = L4_TCP;
		f.dport = rnd_below(g, 2) ? 80 : 8000 + rnd_below(g, 100);
		f.tcp_flags = flags[rnd_below(g, sizeof(flags))];
		f.payload = rnd_below(g, 2) ? 0 : rnd_below(g, 100);
		build(g, &f);
		return;
	}
	default: { /* other ICMP and ICMPv6 types */
		static const uint8_t t4[][2] = { { 3, 3 }, { 3, 1 }, { 11, 0 }, { 5, 1 }, { 13, 0 }, { 0, 0 } };
		static const uint8_t t6[][2] = { { 1, 4 }, { 3, 0 }, { 135, 0 }, { 136, 0 }, { 2, 0 } };
		if (f.v6) {
			f.l4 = L4_ICMP6;
			unsigned int i = rnd_below(g, sizeof(t6) / sizeof(t6[0]));
			f.icmp_type = t6[i][0], f.icmp_code = t6[i][1];
		} else {
			f.l4 = L4_ICMP;
			unsigned int i = rnd_below(g, sizeof(t4) / sizeof(t4[0]));
			f.icmp_type = t4[i][0], f.icmp_code = t4[i][1];
		}
		f.payload = 28 + rnd_below(g, 40);
		build(g, &f);
		return;
	}
	}
}

static void arp(struct gen *g)
{
	size_t l3 = put_eth(g, 0xaa, ETH_ARP, 0);
	uint8_t *a = g->buf + l3;

	memset(g->buf, 0xff, 6);
	put16(a, 1), put16(a + 2, ETH_IP), a[4] = 6, a[5] = 4, put16(a + 6, 1);
	memcpy(a + 8, g->buf + 6, 6);
	set_v4(a + 14, 10, 1, 0, 1 + rnd_below(g, 30));
	memset(a + 18, 0, 6);
	a[24] = 10, a[25] = 0, a[26] = 0, a[27] = 1;
	g->len = 60;
	memset(g->buf + l3 + 28, 0, 60 - l3 - 28);
}

static int parse_ul(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno || !*s || *end ? -1 : 0;
}

int cmd_gen_pcap(int argc, char **argv)
{
	const char *out = NULL;
	unsigned long seed = 1, count = 3000;
	int extra = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			printf(USAGE_GEN "\n  writes the examples' deterministic sample traffic (examples/sample.pcap is\n"
					 "  the output with the defaults: --seed 1 --count 3000)\n");
			return 0;
		} else if ((!strcmp(a, "--seed") || !strcmp(a, "--count")) && i + 1 >= argc) {
			return tool_usage_error("gen-pcap", "missing the number after", USAGE_GEN, a);
		} else if (!strcmp(a, "--seed")) {
			if (parse_ul(argv[++i], &seed))
				return tool_usage_error("gen-pcap", "--seed: not a number:", USAGE_GEN, argv[i]);
		} else if (!strcmp(a, "--extra")) {
			extra = 1;
		} else if (!strcmp(a, "--count")) {
			if (parse_ul(argv[++i], &count) || count == 0 || count > 10000000)
				return tool_usage_error("gen-pcap", "--count: not a number from 1 to 10000000:", USAGE_GEN,
							argv[i]);
		} else if (a[0] == '-' && a[1]) {
			return tool_usage_error("gen-pcap", "unknown option", USAGE_GEN, a);
		} else if (!out) {
			out = a;
		} else {
			return tool_usage_error("gen-pcap", "one output file only: unexpected", USAGE_GEN, a);
		}
	}
	if (!out)
		return tool_usage_error("gen-pcap", "no output file given", USAGE_GEN);

	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	if (!p) {
		fprintf(stderr, "bpfvm gen-pcap: pcap_open_dead failed\n");
		return 1;
	}
	struct gen *g = calloc(1, sizeof(*g));
	if (!g) {
		pcap_close(p);
		return 1;
	}
	g->rng = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	g->extra = extra;
	g->dump = pcap_dump_open(p, out);
	if (!g->dump) {
		fprintf(stderr, "bpfvm gen-pcap: %s: %s\n", out, pcap_geterr(p));
		free(g);
		pcap_close(p);
		return 1;
	}
	while (g->written < count) {
		struct flow f = { .ttl = 64 };
		if (g->extra && rnd_below(g, 100) < 30) {
			extra_packet(g);
			emit(g);
			continue;
		}
		unsigned int r = rnd_below(g, 1000);

		if (r < 300) {          /* flood: three sources far over the budget */
			f.v6 = 0;
			set_v4(f.src, 172, 16, 66, 1 + rnd_below(g, 3));
			set_v4(f.dst, 10, 0, 0, 100);
			f.sport = 1024 + rnd_below(g, 64000);
			f.dport = rnd_below(g, 2) ? 80 : 53;
			f.l4 = f.dport == 80 ? L4_TCP : L4_UDP;
			f.tcp_flags = 0x02;
			f.payload = f.l4 == L4_UDP ? 20 + rnd_below(g, 40) : 0;
		} else if (r < 360) {   /* blocked prefixes, and a neighbour that is not */
			unsigned int k = rnd_below(g, 4);
			client_packet(g, &f);
			if (k == 0)
				set_v4(f.src, 198, 51, 100, 1 + rnd_below(g, 254));
			else if (k == 1)
				set_v4(f.src, 203, 0, 113, 128 + rnd_below(g, 127));
			else if (k == 2)
				set_v4(f.src, 203, 0, 113, 1 + rnd_below(g, 126));
			else
				set_v6(f.src, 0xbad, 0x1000 + rnd_below(g, 100));
			f.v6 = k == 3;
			if (f.v6) {
				set_v6(f.dst, 0, 0x80);
				if (f.l4 == L4_ICMP)
					f.l4 = L4_ICMP6, f.icmp_type = 128;
			} else {
				set_v4(f.dst, 10, 0, 0, 100);
				if (f.l4 == L4_ICMP6)
					f.l4 = L4_ICMP, f.icmp_type = 8;
			}
		} else if (r < 380) {
			malformed(g);
			emit(g);
			continue;
		} else if (r < 390) {
			arp(g);
			emit(g);
			continue;
		} else {
			client_packet(g, &f);
		}
		unsigned int v = rnd_below(g, 100);
		f.tags = v < 8 ? 1 : v < 10 ? 2 : 0;
		if (rnd_below(g, 100) < 3)
			f.ttl = 1;
		if (!f.v6 && rnd_below(g, 100) < 2)
			f.frag = 1;
		build(g, &f);
		emit(g);
	}
	pcap_dump_close(g->dump);
	pcap_close(p);
	printf("%s: %lu packets (seed %lu)\n", out, g->written, seed);
	free(g);
	return 0;
}
