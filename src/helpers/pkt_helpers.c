/* pkt_helpers.c -- packet helpers of XDP and the __sk_buff types, with Linux's semantics and return
 * values (net/core/filter.c).  They act on the run's struct pt_pkt (run->hook, set by src/progtypes/);
 * pointers a program passes are checked with hlp_mem().  Every change of the packet's bounds ends with
 * pt_pkt_sync(), which refreshes the ctx pointer fields, the packet region and the LD_ABS view.
 * Checksum arithmetic follows include/net/checksum.h for a CHECKSUM_NONE skb (what test_run builds). */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "helpers.h"
#include "../maps/maps.h"

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4 /* Linux 6.3+ uapi; older headers lack them */
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ull << 7)
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ull << 8)
#endif

#define UNUSED5(a, b, c, d, e) ((void)(a), (void)(b), (void)(c), (void)(d), (void)(e))
#define HLP(name_) uint64_t hlp_##name_(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, \
					 uint64_t r5)
#define RET(x) ((uint64_t)(int64_t)(x))

/* ---- checksums (include/net/checksum.h) -------------------------------------------------------- */

static uint32_t csum_add(uint32_t csum, uint32_t addend)
{
	uint32_t res = csum + addend;
	return res + (res < addend);
}

static uint32_t csum_sub(uint32_t csum, uint32_t addend)
{
	return csum_add(csum, ~addend);
}

static uint16_t csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t csum16_add(uint16_t csum, uint16_t addend)
{
	uint16_t res = (uint16_t)(csum + addend);
	return (uint16_t)(res + (res < addend));
}

static uint16_t load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void store16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/* csum_replace4 / csum_replace2 / csum_replace_by_diff on the (big-endian, as stored) field at p */
static void csum_replace4(uint8_t *p, uint32_t from, uint32_t to)
{
	uint32_t tmp = csum_sub(~(uint32_t)load16(p), from);
	store16(p, csum_fold(csum_add(tmp, to)));
}

static void csum_replace2(uint8_t *p, uint16_t from, uint16_t to)
{
	store16(p, (uint16_t)~csum16_add(csum16_add((uint16_t)~load16(p), (uint16_t)~from), to));
}

static void csum_replace_by_diff(uint8_t *p, uint32_t diff)
{
	store16(p, csum_fold(csum_add(diff, ~(uint32_t)load16(p))));
}

HLP(csum_diff)
{
	/* bpf_csum_diff(from, from_size, to, to_size, seed): the ones'-complement sum of seed, ~from words
	 * and to words, folded to 16 bits (checked against Linux 6.18's PROG_TEST_RUN) */
	(void)r5;
	if (((r2 | r4) & 3) || r2 + r4 > 512 || r2 > 512 || r4 > 512)
		return RET(-EINVAL);
	const uint8_t *from = hlp_mem(run, r1, r2, false, "bpf_csum_diff");
	const uint8_t *to = hlp_mem(run, r3, r4, false, "bpf_csum_diff");
	if ((r2 && !from) || (r4 && !to))
		return 0;
	uint64_t sum = (uint32_t)r5;
	for (uint64_t i = 0; i < r2; i += 4) {
		uint32_t w;
		memcpy(&w, from + i, 4);
		sum += (uint32_t)~w;
	}
	for (uint64_t i = 0; i < r4; i += 4) {
		uint32_t w;
		memcpy(&w, to + i, 4);
		sum += w;
	}
	while (sum >> 32)
		sum = (sum & 0xffffffffu) + (sum >> 32);
	/* Linux 6.13+ folds the result to 16 bits on every arch (csum_from32to16) */
	uint32_t s32 = (uint32_t)sum;
	s32 += (s32 >> 16) | (s32 << 16);
	return s32 >> 16;
}

/* ---- skb data ---------------------------------------------------------------------------------- */

static uint32_t skb_len(const struct pt_pkt *p)
{
	return p->end - p->data;
}

HLP(skb_load_bytes)
{
	/* bpf_skb_load_bytes(skb, offset, to, len): offset from skb->data; zeroes `to` on failure */
	(void)r1, (void)r5;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_load_bytes");
	uint8_t *to = hlp_mem(run, r3, r4, true, "bpf_skb_load_bytes");
	if (!p || (r4 && !to))
		return 0;
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4;
	if (off > INT32_MAX || len > skb_len(p) || off > skb_len(p) - len) {
		memset(to, 0, len);
		return RET(-EFAULT);
	}
	memcpy(to, p->frame + p->data + off, len);
	return 0;
}

HLP(skb_load_bytes_relative)
{
	/* (skb, offset, to, len, start_header): BPF_HDR_START_MAC / BPF_HDR_START_NET */
	(void)r1;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_load_bytes_relative");
	uint8_t *to = hlp_mem(run, r3, r4, true, "bpf_skb_load_bytes_relative");
	if (!p || (r4 && !to))
		return 0;
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4, start;
	if (off > 0xffff)
		goto err;
	if (r5 == BPF_HDR_START_MAC)
		start = p->mac;
	else if (r5 == BPF_HDR_START_NET)
		start = p->net;
	else
		goto err;
	if ((uint64_t)start + off + len <= p->end) {
		memcpy(to, p->frame + start + off, len);
		return 0;
	}
err:
	memset(to, 0, len);
	return RET(-EFAULT);
}

HLP(skb_store_bytes)
{
	/* (skb, offset, from, len, flags) */
	(void)r1;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_store_bytes");
	const uint8_t *from = hlp_mem(run, r3, r4, false, "bpf_skb_store_bytes");
	if (!p || (r4 && !from))
		return 0;
	if (r5 & ~(uint64_t)(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH))
		return RET(-EINVAL);
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4;
	if (off > INT32_MAX || (uint64_t)off + len > skb_len(p))
		return RET(-EFAULT);
	memmove(p->frame + p->data + off, from, len);
	if (r5 & BPF_F_INVALIDATE_HASH) {
		p->hash = 0;
		p->hash_valid = false;
		pt_pkt_sync(p);
	}
	return 0;
}

/* The checksum at ptr updated for a field changed from `from` to `to` (flags & BPF_F_HDR_FIELD_MASK: its
 * size, 2 or 4, or 0 for `to` a diff bpf_csum_diff() made, `from` then 0), as both csum_replace
 * helpers do: 0, or the helper's return for bad flags. */
static uint64_t csum_field(uint8_t *ptr, uint64_t from, uint64_t to, uint64_t flags)
{
	switch (flags & BPF_F_HDR_FIELD_MASK) {
	case 0:
		if (from)
			return RET(-EINVAL);
		csum_replace_by_diff(ptr, (uint32_t)to);
		return 0;
	case 2:
		csum_replace2(ptr, (uint16_t)from, (uint16_t)to);
		return 0;
	case 4:
		csum_replace4(ptr, (uint32_t)from, (uint32_t)to);
		return 0;
	default:
		return RET(-EINVAL);
	}
}

HLP(l3_csum_replace)
{
	/* (skb, offset, from, to, flags): flags & BPF_F_HDR_FIELD_MASK = 0 (diff), 2 or 4 */
	(void)r1;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_l3_csum_replace");
	if (!p)
		return 0;
	if (r5 & ~(uint64_t)BPF_F_HDR_FIELD_MASK)
		return RET(-EINVAL);
	uint32_t off = (uint32_t)r2;
	if (off > 0xffff || (off & 1) || off + 2 > skb_len(p))
		return RET(-EFAULT);
	return csum_field(p->frame + p->data + off, r3, r4, r5);
}

HLP(l4_csum_replace)
{
	/* as l3, plus BPF_F_PSEUDO_HDR (no effect without CHECKSUM_PARTIAL), BPF_F_MARK_MANGLED_0 (UDP: a
	 * zero checksum stays zero and a result of 0 becomes 0xffff), BPF_F_MARK_ENFORCE, BPF_F_IPV6 */
	(void)r1;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_l4_csum_replace");
	if (!p)
		return 0;
	uint64_t known = BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_HDR_FIELD_MASK |
			 (1ull << 7) /* BPF_F_IPV6 */;
	if (r5 & ~known)
		return RET(-EINVAL);
	uint32_t off = (uint32_t)r2;
	if (off > 0xffff || (off & 1) || off + 2 > skb_len(p))
		return RET(-EFAULT);
	uint8_t *ptr = p->frame + p->data + off;
	bool mmzero = r5 & BPF_F_MARK_MANGLED_0, mforce = r5 & BPF_F_MARK_ENFORCE;
	if (mmzero && !mforce && !load16(ptr))
		return 0;
	uint64_t err = csum_field(ptr, r3, r4, r5);
	if (err)
		return err;
	if (mmzero && !load16(ptr))
		store16(ptr, 0xffff); /* CSUM_MANGLED_0 */
	return 0;
}

HLP(csum_update)
{
	/* only meaningful for CHECKSUM_COMPLETE skbs, which bpfvm never builds */
	UNUSED5(run, r1, r2, r3, r4), (void)r5;
	return RET(-ENOTSUPP);
}

HLP(csum_level)
{
	/* CHECKSUM_NONE: BPF_CSUM_LEVEL_QUERY answers -ENOENT, INC/DEC/RESET succeed or fail as Linux's */
	UNUSED5(run, r1, r3, r4, r5);
	switch (r2) {
	case BPF_CSUM_LEVEL_QUERY:
		return RET(-ENOENT);
	case BPF_CSUM_LEVEL_INC:
	case BPF_CSUM_LEVEL_DEC:
		return RET(-EACCES);
	case BPF_CSUM_LEVEL_RESET:
		return 0;
	default:
		return RET(-EINVAL);
	}
}

HLP(skb_pull_data)
{
	/* (skb, len): make len bytes linear and writable; bpfvm's skbs always are */
	UNUSED5(r1, r3, r4, r5, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_pull_data");
	if (!p)
		return 0;
	return (uint32_t)r2 <= skb_len(p) ? 0 : RET(-ENOMEM);
}

HLP(skb_change_head)
{
	/* (skb, head_room, flags): room of zeroes before the MAC header */
	UNUSED5(r1, r4, r5, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_change_head");
	if (!p)
		return 0;
	uint32_t room = (uint32_t)r2, len = skb_len(p), new_len = len + room;
	if (r3 || new_len > PT_SKB_MAX_LEN || new_len < len)
		return RET(-EINVAL);
	if (pt_pkt_make_room(p, room, 0))
		return RET(-ENOMEM);
	p->data -= room;
	p->meta = p->data;
	memset(p->frame + p->data, 0, room);
	p->mac = p->data;
	pt_pkt_sync(p);
	return 0;
}

HLP(skb_change_tail)
{
	/* (skb, new_len, flags): grow with zeroes or trim; not below the network header */
	UNUSED5(r1, r4, r5, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_change_tail");
	if (!p)
		return 0;
	uint32_t new_len = (uint32_t)r2, len = skb_len(p), min_len = p->net > p->data ? p->net - p->data : 0;
	if (r3 || r2 > PT_SKB_MAX_LEN || new_len < min_len)
		return RET(-EINVAL);
	if (new_len > len) {
		if (pt_pkt_make_room(p, 0, new_len - len))
			return RET(-ENOMEM);
		memset(p->frame + p->end, 0, new_len - len);
	}
	p->end = p->data + new_len;
	pt_pkt_sync(p);
	return 0;
}

static uint32_t net_base_len(const struct pt_pkt *p)
{
	if (p->protocol == htons(ETH_P_IP))
		return 20;
	if (p->protocol == htons(ETH_P_IPV6))
		return 40;
	return 0;
}

HLP(skb_adjust_room)
{
	/* (skb, len_diff, mode, flags): insert zeroes / remove bytes after the MAC header (BPF_ADJ_ROOM_MAC)
	 * or after the base L3 header (BPF_ADJ_ROOM_NET); the header offsets keep their positions. */
	(void)r1, (void)r5;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_adjust_room");
	if (!p)
		return 0;
	int32_t diff = (int32_t)(uint32_t)r2;
	uint32_t abs_diff = diff < 0 ? (uint32_t)-(int64_t)diff : (uint32_t)diff;
	uint64_t known = BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 |
			 BPF_F_ADJ_ROOM_ENCAP_L4_GRE | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_NO_CSUM_RESET |
			 BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6 |
			 BPF_F_ADJ_ROOM_ENCAP_L2(0xff);
	uint32_t len_min = net_base_len(p), off;
	bool shrink = diff < 0;

	if (r4 & ~known)
		return RET(-EINVAL);
	if (abs_diff > 0xfff)
		return RET(-EFAULT);
	if (!len_min)
		return RET(-ENOTSUPP);
	off = p->net - p->mac;
	if (r3 == BPF_ADJ_ROOM_NET)
		off += len_min;
	else if (r3 != BPF_ADJ_ROOM_MAC)
		return RET(-ENOTSUPP);
	if ((r4 & (BPF_F_ADJ_ROOM_DECAP_L3_IPV4 | BPF_F_ADJ_ROOM_DECAP_L3_IPV6))) {
		if (!shrink)
			return RET(-EINVAL);
		len_min = (r4 & BPF_F_ADJ_ROOM_DECAP_L3_IPV4) ? 20 : 40;
	}
	uint32_t len_cur = p->end - p->net;
	if ((shrink && (abs_diff >= len_cur || len_cur - abs_diff < len_min)) ||
	    (!shrink && skb_len(p) + abs_diff > PT_SKB_MAX_LEN))
		return RET(-ENOTSUPP);
	if (off > skb_len(p))
		return RET(-EFAULT);
	if (shrink) {
		if (off + abs_diff > skb_len(p))
			return RET(-EFAULT);
		memmove(p->frame + p->data + abs_diff, p->frame + p->data, off);
		p->data += abs_diff;
		p->mac += abs_diff;
		p->net += abs_diff;
	} else {
		if (pt_pkt_make_room(p, abs_diff, 0))
			return RET(-ENOMEM);
		p->data -= abs_diff;
		memmove(p->frame + p->data, p->frame + p->data + abs_diff, off);
		memset(p->frame + p->data + off, 0, abs_diff);
		p->mac -= abs_diff;
		p->net -= abs_diff;
	}
	p->meta = p->data;
	pt_pkt_sync(p);
	return 0;
}

static bool eth_type_vlan(uint16_t proto_be)
{
	return proto_be == htons(ETH_P_8021Q) || proto_be == htons(ETH_P_8021AD);
}

HLP(skb_vlan_push)
{
	/* (skb, vlan_proto, vlan_tci): the tag goes to the skb's hw-accel slot; a tag already there is first
	 * written into the frame (skb_vlan_push()) */
	UNUSED5(r1, r4, r5, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_vlan_push");
	if (!p)
		return 0;
	uint16_t proto = (uint16_t)r2;
	if (!eth_type_vlan(proto))
		proto = htons(ETH_P_8021Q);
	if (p->vlan_present) {
		if (p->mac != p->data || skb_len(p) < ETH_HLEN)
			return RET(-EINVAL);
		if (pt_pkt_make_room(p, 4, 0))
			return RET(-ENOMEM);
		p->data -= 4;
		p->mac = p->meta = p->data;
		uint8_t *eth = p->frame + p->data;
		memmove(eth, eth + 4, 12);
		store16(eth + 12, p->vlan_proto);
		store16(eth + 14, htons(p->vlan_tci));
		p->protocol = p->vlan_proto;
	}
	p->vlan_present = true;
	p->vlan_proto = proto;
	p->vlan_tci = (uint16_t)r3;
	pt_pkt_sync(p);
	return 0;
}

/* __skb_vlan_pop(): removes the tag in the frame, returns its TCI */
static int vlan_pop_frame(struct pt_pkt *p, uint16_t *tci)
{
	if (p->mac != p->data || skb_len(p) < ETH_HLEN + 4)
		return -EINVAL;
	uint8_t *eth = p->frame + p->data;
	*tci = ntohs(load16(eth + 14));
	uint16_t inner = load16(eth + 16);
	memmove(eth + 4, eth, 12);
	p->data += 4;
	p->mac = p->meta = p->data;
	if (ntohs(inner) >= ETH_P_802_3_MIN)
		p->protocol = inner;
	if (p->net < p->data + ETH_HLEN)
		p->net = p->data + ETH_HLEN;
	return 0;
}

HLP(skb_vlan_pop)
{
	UNUSED5(r1, r2, r3, r4, r5);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_skb_vlan_pop");
	uint16_t tci;
	if (!p)
		return 0;
	if (p->vlan_present) {
		p->vlan_present = false;
		p->vlan_tci = 0;
		p->vlan_proto = 0;
	} else {
		if (!eth_type_vlan(p->protocol))
			return 0;
		if (vlan_pop_frame(p, &tci))
			return RET(-EINVAL);
	}
	/* move the next tag of the frame to the hw-accel slot */
	if (eth_type_vlan(p->protocol)) {
		uint16_t proto = p->protocol;
		if (vlan_pop_frame(p, &tci))
			return RET(-EINVAL);
		p->vlan_present = true;
		p->vlan_proto = proto;
		p->vlan_tci = tci;
	}
	pt_pkt_sync(p);
	return 0;
}

/* ---- identity, hashes ---------------------------------------------------------------------------- */

HLP(get_socket_cookie)
{
	UNUSED5(r1, r2, r3, r4, r5);
	return pt_sk_cookie(run); /* 0 without a socket (skb->sk == NULL) */
}

HLP(get_socket_uid)
{
	UNUSED5(r1, r2, r3, r4, r5);
	return pt_sk_uid(run);
}

HLP(get_cgroup_classid)
{
	UNUSED5(run, r1, r2, r3, r4), (void)r5;
	return 0;
}

HLP(get_hash_recalc)
{
	/* skb_get_hash(): the flow hash.  Linux seeds its flow dissector hash randomly at boot, so any
	 * value is as valid; bpfvm's is FNV-1a over the L3 addresses and the first 4 L4 bytes: stable
	 * across runs, equal for both packets of the same direction of a flow. */
	UNUSED5(r1, r2, r3, r4, r5);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_get_hash_recalc");
	if (!p)
		return 0;
	if (!p->hash_valid) {
		uint32_t h = 2166136261u, from = 0, n = 0;
		if (p->protocol == htons(ETH_P_IP) && p->end - p->net >= 20) {
			uint32_t ihl = (p->frame[p->net] & 15u) * 4;
			from = p->net + 12;
			n = 8 + (p->end - p->net >= ihl + 4 ? 4 : 0);
			if (n == 12) {
				for (uint32_t i = 0; i < 8; i++)
					h = (h ^ p->frame[from + i]) * 16777619u;
				from = p->net + ihl;
				n = 4;
			}
		} else if (p->protocol == htons(ETH_P_IPV6) && p->end - p->net >= 40) {
			from = p->net + 8;
			n = 32 + (p->end - p->net >= 44 ? 4 : 0);
		}
		for (uint32_t i = 0; i < n; i++)
			h = (h ^ p->frame[from + i]) * 16777619u;
		p->hash = h ? h : 1;
		p->hash_valid = true;
		pt_pkt_sync(p);
	}
	return p->hash;
}

HLP(set_hash)
{
	UNUSED5(r1, r3, r4, r5, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_set_hash");
	if (!p)
		return 0;
	p->hash = (uint32_t)r2;
	p->hash_valid = true;
	pt_pkt_sync(p);
	return 0;
}

HLP(set_hash_invalid)
{
	UNUSED5(r1, r2, r3, r4, r5);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_set_hash_invalid");
	if (!p)
		return 0;
	p->hash = 0;
	p->hash_valid = false;
	pt_pkt_sync(p);
	return 0;
}

/* ---- redirects ------------------------------------------------------------------------------------- */

HLP(redirect)
{
	/* (ifindex, flags): XDP -> XDP_REDIRECT (XDP_ABORTED for any flag); tc -> TC_ACT_REDIRECT
	 * (TC_ACT_SHOT for flags other than BPF_F_INGRESS) */
	UNUSED5(r3, r4, r5, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_redirect");
	if (!p)
		return 0;
	if (p->prog_type == BPF_PROG_TYPE_XDP) {
		if (r2)
			return XDP_ABORTED;
		memset(&p->rd, 0, offsetof(struct pt_pkt_result, clone_cnt));
		p->rd.redirect_ifindex = (uint32_t)r1;
		return XDP_REDIRECT;
	}
	if (r2 & ~(uint64_t)BPF_F_INGRESS)
		return TC_ACT_SHOT;
	memset(&p->rd, 0, offsetof(struct pt_pkt_result, clone_cnt));
	p->rd.redirect_ifindex = (uint32_t)r1;
	p->rd.redirect_flags = r2;
	return TC_ACT_REDIRECT;
}

HLP(clone_redirect)
{
	/* (skb, ifindex, flags): a clone leaves now; the program goes on with the original */
	UNUSED5(r1, r4, r5, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_clone_redirect");
	if (!p)
		return 0;
	if (r3 & ~(uint64_t)BPF_F_INGRESS)
		return RET(-EINVAL);
	if (!(uint32_t)r2)
		return RET(-EINVAL); /* no device with ifindex 0 */
	p->rd.clone_cnt++;
	p->rd.clone_ifindex = (uint32_t)r2;
	return 0;
}

HLP(redirect_map)
{
	/* (map, key, flags): the low 2 bits of flags are the action when the key has no entry */
	UNUSED5(r4, r5, 0, 0, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_redirect_map");
	struct map *m = hlp_map_arg(run, r1, "bpf_redirect_map");
	if (!p || !m)
		return 0;
	uint32_t type = map_type(m), key = (uint32_t)r2;
	if (type != BPF_MAP_TYPE_DEVMAP && type != BPF_MAP_TYPE_DEVMAP_HASH && type != BPF_MAP_TYPE_CPUMAP &&
	    type != BPF_MAP_TYPE_XSKMAP) {
		vm_fault(run, -EINVAL, "bpf_redirect_map: map is not a DEVMAP, DEVMAP_HASH, CPUMAP or XSKMAP", r1, 0);
		return 0;
	}
	uint64_t known = 3 | BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS;
	if (r3 & ~known)
		return XDP_ABORTED;
	if ((r3 & (BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS)) &&
	    (type != BPF_MAP_TYPE_DEVMAP && type != BPF_MAP_TYPE_DEVMAP_HASH))
		return XDP_ABORTED;
	uint32_t target = key;
	if (!(r3 & BPF_F_BROADCAST)) {
		const uint8_t *v = map_lookup(m, &key, run->slot);
		if (!v)
			return r3 & 3;
		if (type == BPF_MAP_TYPE_DEVMAP || type == BPF_MAP_TYPE_DEVMAP_HASH)
			memcpy(&target, v, 4); /* struct bpf_devmap_val starts with the ifindex */
	}
	memset(&p->rd, 0, offsetof(struct pt_pkt_result, clone_cnt));
	p->rd.redirect_ifindex = target;
	p->rd.redirect_map_type = type;
	p->rd.redirect_key = key;
	p->rd.redirect_flags = r3;
	return XDP_REDIRECT;
}

/* ---- XDP ----------------------------------------------------------------------------------------- */

HLP(xdp_adjust_head)
{
	/* (xdp, offset): move data; the first sizeof(struct xdp_frame) bytes and the metadata stay */
	UNUSED5(r1, r3, r4, r5, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_adjust_head");
	if (!p)
		return 0;
	int64_t off = (int32_t)(uint32_t)r2;
	uint32_t metalen = p->data - p->meta;
	int64_t data = (int64_t)p->data + off;
	if (data < (int64_t)(PT_XDP_FRAME_HDR + metalen) || data > (int64_t)p->end - ETH_HLEN)
		return RET(-EINVAL);
	if (metalen)
		memmove(p->frame + p->meta + off, p->frame + p->meta, metalen);
	p->meta = (uint32_t)((int64_t)p->meta + off);
	p->data = (uint32_t)data;
	pt_pkt_sync(p);
	return 0;
}

HLP(xdp_adjust_meta)
{
	UNUSED5(r1, r3, r4, r5, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_adjust_meta");
	if (!p)
		return 0;
	int64_t meta = (int64_t)p->meta + (int32_t)(uint32_t)r2;
	if (meta < PT_XDP_FRAME_HDR || meta > p->data)
		return RET(-EINVAL);
	uint32_t metalen = p->data - (uint32_t)meta;
	if ((metalen & 3) || metalen > 255)
		return RET(-EACCES);
	p->meta = (uint32_t)meta;
	pt_pkt_sync(p);
	return 0;
}

HLP(xdp_adjust_tail)
{
	UNUSED5(r1, r3, r4, r5, 0);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_adjust_tail");
	if (!p)
		return 0;
	int32_t off = (int32_t)(uint32_t)r2;
	int64_t end = (int64_t)p->end + off;
	if (end > p->cap || end < (int64_t)p->data + ETH_HLEN)
		return RET(-EINVAL);
	if (off > 0)
		memset(p->frame + p->end, 0, (size_t)off);
	p->end = (uint32_t)end;
	pt_pkt_sync(p);
	return 0;
}

HLP(xdp_get_buff_len)
{
	UNUSED5(r1, r2, r3, r4, r5);
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_get_buff_len");
	return p ? p->end - p->data : 0;
}

static uint8_t *xdp_ptr(struct pt_pkt *p, uint64_t off, uint64_t len, int *err)
{
	if (off > 0xffff || len > 0xffff) {
		*err = -EFAULT;
		return NULL;
	}
	if (off + len > p->end - p->data) {
		*err = -EINVAL;
		return NULL;
	}
	return p->frame + p->data + off;
}

HLP(xdp_load_bytes)
{
	(void)r1, (void)r5;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_load_bytes");
	uint8_t *to = hlp_mem(run, r3, r4, true, "bpf_xdp_load_bytes");
	int err = 0;
	if (!p || (r4 && !to))
		return 0;
	uint8_t *src = xdp_ptr(p, r2, r4, &err);
	if (!src)
		return RET(err);
	memcpy(to, src, r4);
	return 0;
}

HLP(xdp_store_bytes)
{
	(void)r1, (void)r5;
	struct pt_pkt *p = pt_pkt_of(run, "bpf_xdp_store_bytes");
	const uint8_t *from = hlp_mem(run, r3, r4, false, "bpf_xdp_store_bytes");
	int err = 0;
	if (!p || (r4 && !from))
		return 0;
	uint8_t *dst = xdp_ptr(p, r2, r4, &err);
	if (!dst)
		return RET(err);
	memmove(dst, from, r4);
	return 0;
}
