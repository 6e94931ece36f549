/* skb.c -- the struct __sk_buff types: SOCKET_FILTER (read-only packet, LD_ABS/LD_IND, cb[] writable),
 * SCHED_CLS / SCHED_ACT (writable packet and the tc fields), and the other __sk_buff types (cgroup_skb,
 * lwt_*, sk_skb), each with its own context rules: net/core/filter.c sk_filter_is_valid_access(),
 * tc_cls_act_is_valid_access(), cg_skb_is_valid_access(), lwt_is_valid_access(), sk_skb_is_valid_access(),
 * all over bpf_skb_is_valid_access(); test run: net/bpf/test_run.c bpf_prog_test_run_skb(). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>

#include "progtypes.h"
#include "../core/core.h"

#define SKB_OFF(f) offsetof(struct __sk_buff, f)
#define SKB_END(f) (offsetof(struct __sk_buff, f) + sizeof(((struct __sk_buff *)0)->f))
#define IN_FIELD(off, f) ((off) >= SKB_OFF(f) && (off) < SKB_END(f))

_Static_assert(offsetof(struct __sk_buff, len) == 0, "kernel UAPI ctx layout");
_Static_assert(offsetof(struct __sk_buff, cb) == 48 && offsetof(struct __sk_buff, data) == 76,
	       "kernel UAPI ctx layout");
_Static_assert(offsetof(struct __sk_buff, tstamp) == 152 && offsetof(struct __sk_buff, hwtstamp) == 184 &&
	       sizeof(struct __sk_buff) == 192, "kernel UAPI ctx layout");
_Static_assert(sizeof(struct __sk_buff) <= PT_CTX_AREA, "ctx fits its area");

static bool is_tc(uint32_t type)
{
	return type == BPF_PROG_TYPE_SCHED_CLS || type == BPF_PROG_TYPE_SCHED_ACT;
}

/* bpf_skb_is_valid_access() */
static bool skb_common(uint32_t off, uint32_t size, bool write)
{
	if (off >= sizeof(struct __sk_buff) || off % size)
		return false;
	if (IN_FIELD(off, cb))
		return off + size <= SKB_END(cb);
	if (IN_FIELD(off, data) || IN_FIELD(off, data_meta) || IN_FIELD(off, data_end) ||
	    IN_FIELD(off, remote_ip6) || IN_FIELD(off, local_ip6) || IN_FIELD(off, remote_ip4) ||
	    IN_FIELD(off, local_ip4))
		return size == 4;
	if (IN_FIELD(off, tstamp))
		return size == 8;
	if (IN_FIELD(off, sk))
		return !write && size == 8;
	if (IN_FIELD(off, flow_keys))
		return false;
	if (off == SKB_OFF(tstamp_type))
		return false;
	if (off > SKB_OFF(tstamp_type) && off < SKB_OFF(hwtstamp)) /* padding */
		return false;
	if (IN_FIELD(off, hwtstamp))
		return !write && size == 8;
	/* the other fields: u32, narrow reads allowed */
	if (write)
		return size == 4;
	return size <= 4;
}

static bool skb_access(uint32_t type, uint32_t off, uint32_t size, bool write)
{
	if (off >= sizeof(struct __sk_buff))
		return false;
	if (is_tc(type)) {
		if (write && !(IN_FIELD(off, mark) || IN_FIELD(off, tc_index) || IN_FIELD(off, priority) ||
			       IN_FIELD(off, tc_classid) || IN_FIELD(off, cb) || IN_FIELD(off, tstamp) ||
			       IN_FIELD(off, queue_mapping)))
			return false;
		if (off >= SKB_OFF(family) && off < SKB_END(local_port))
			return false;
		if (off == SKB_OFF(tstamp_type))
			return !write && size == 1;
		return skb_common(off, size, write);
	}
	switch (type) {
	case BPF_PROG_TYPE_CGROUP_SKB: /* cg_skb_is_valid_access() (bpfvm holds CAP_BPF and CAP_SYS_ADMIN) */
		if (IN_FIELD(off, tc_classid) || IN_FIELD(off, data_meta) || IN_FIELD(off, wire_len))
			return false;
		if (write && !(IN_FIELD(off, mark) || IN_FIELD(off, priority) || IN_FIELD(off, cb) ||
			       IN_FIELD(off, tstamp)))
			return false;
		return skb_common(off, size, write);
	case BPF_PROG_TYPE_LWT_IN: /* lwt_is_valid_access() */
	case BPF_PROG_TYPE_LWT_OUT:
	case BPF_PROG_TYPE_LWT_XMIT:
	case BPF_PROG_TYPE_LWT_SEG6LOCAL:
		if (IN_FIELD(off, tc_classid) || (off >= SKB_OFF(family) && off < SKB_END(local_port)) ||
		    IN_FIELD(off, data_meta) || IN_FIELD(off, tstamp) || IN_FIELD(off, wire_len) ||
		    IN_FIELD(off, hwtstamp))
			return false;
		if (write && !(IN_FIELD(off, mark) || IN_FIELD(off, priority) || IN_FIELD(off, cb)))
			return false;
		return skb_common(off, size, write);
	case BPF_PROG_TYPE_SK_SKB: /* sk_skb_is_valid_access() */
		if (IN_FIELD(off, tc_classid) || IN_FIELD(off, data_meta) || IN_FIELD(off, tstamp) ||
		    IN_FIELD(off, wire_len) || IN_FIELD(off, hwtstamp) || IN_FIELD(off, mark))
			return false;
		if (write && !(IN_FIELD(off, tc_index) || IN_FIELD(off, priority)))
			return false;
		return skb_common(off, size, write);
	default:
		break;
	}
	/* sk_filter_is_valid_access(): the socket filter */
	if (IN_FIELD(off, tc_classid) || IN_FIELD(off, data) || IN_FIELD(off, data_meta) || IN_FIELD(off, data_end) ||
	    (off >= SKB_OFF(family) && off < SKB_END(local_port)) || IN_FIELD(off, tstamp) ||
	    IN_FIELD(off, wire_len) || IN_FIELD(off, hwtstamp))
		return false;
	if (write && !IN_FIELD(off, cb))
		return false;
	return skb_common(off, size, write);
}

int pt_skb_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)attach;
	if (!skb_access(type, off, size, write))
		return PT_FIELD_DENY;
	return off == SKB_OFF(data)	 ? PT_FIELD_PKT :
	       off == SKB_OFF(data_end)	 ? PT_FIELD_PKT_END :
	       off == SKB_OFF(data_meta) ? PT_FIELD_PKT_META : PT_FIELD_SCALAR;
}

/* eth_type_trans() on a device whose address is 00:00:00:00:00:00.  On lo (test_run's device) the
 * broadcast address is also all zeroes, so ff:ff:ff:ff:ff:ff counts as multicast there. */
static ALWAYS_INLINE void eth_type_trans(struct pt_pkt *p, uint32_t *pkt_type, bool on_lo)
{
	const uint8_t *eth = p->frame + p->mac;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t zero[6] = { 0 };
	uint16_t proto;

	if (eth[0] & 1)
		*pkt_type = on_lo || memcmp(eth, bcast, 6) ? PACKET_MULTICAST : PACKET_BROADCAST;
	else
		*pkt_type = memcmp(eth, zero, 6) ? PACKET_OTHERHOST : PACKET_HOST;
	memcpy(&proto, eth + 12, 2);
	if (ntohs(proto) >= ETH_P_802_3_MIN)
		p->protocol = proto;
	else if (p->end - p->mac >= 16 && eth[14] == 0xff && eth[15] == 0xff)
		p->protocol = htons(ETH_P_802_3);
	else
		p->protocol = htons(ETH_P_802_2);
	p->net = p->mac + ETH_HLEN;
}

static void fill_ips(struct pt_pkt *p, struct __sk_buff *s)
{
	const uint8_t *nh = p->frame + p->net;
	uint32_t avail = p->end - p->net;

	if (p->protocol == htons(ETH_P_IP)) {
		s->family = 2; /* AF_INET */
		if (avail >= 20) {
			memcpy(&s->local_ip4, nh + 12, 4);  /* sk_rcv_saddr = saddr */
			memcpy(&s->remote_ip4, nh + 16, 4); /* sk_daddr = daddr */
		}
	} else if (p->protocol == htons(ETH_P_IPV6)) {
		s->family = 10; /* AF_INET6 */
		if (avail >= 40) {
			memcpy(s->local_ip6, nh + 8, 16);
			memcpy(s->remote_ip6, nh + 24, 16);
		}
	}
}

/* Copies back what the program may write (the rest of the scratch ctx is discarded). */
static void copy_writable(uint32_t type, struct __sk_buff *dst, const struct __sk_buff *src)
{
	memcpy(dst->cb, src->cb, sizeof(dst->cb));
	if (!is_tc(type))
		return;
	dst->mark = src->mark;
	dst->priority = src->priority;
	dst->tc_index = (uint16_t)src->tc_index;
	dst->tc_classid = (uint16_t)src->tc_classid;
	dst->tstamp = src->tstamp;
	if (src->queue_mapping < 0xffff) /* NO_QUEUE_MAPPING: ignored, as the rewritten store does */
		dst->queue_mapping = (uint16_t)src->queue_mapping;
}

/* Runs `repeat` times (0: once); before each run the scratch ctx is refilled from `keep`, after it the
 * writable fields go back to `keep`.  Mean ns per run in *duration. */
static int run_skb(struct pt_pkt *p, struct vm_run *run, struct __sk_buff *keep, uint32_t repeat,
		   uint32_t *retval, uint32_t *duration)
{
	uint64_t r0 = 0;
	uint32_t n = repeat ? repeat : 1, d = 0;
	int err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		memcpy(p->ctx, keep, sizeof(*keep));
		pt_pkt_sync(p);
		uint32_t one = 0;
		err = pt_run_repeat(run, 1, &one, &d);
		r0 = one;
		if (!err)
			copy_writable(p->prog_type, keep, p->ctx);
		if (duration)
			*duration = i ? (uint32_t)(((uint64_t)*duration * i + d) / (i + 1)) : d;
	}
	*retval = (uint32_t)r0;
	return err;
}

int pt_skb_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct __sk_buff in, keep;
	struct pt_pkt p;
	struct vm_run run;
	uint32_t size = attr->test.data_size_in, retval = 0, duration = 0, pkt_type = 0;
	bool has_ctx = attr->test.ctx_in || attr->test.ctx_out;
	bool l2 = is_tc(prog->type);
	int err;

	if (attr->test.flags || attr->test.cpu || attr->test.batch_size)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: flags/cpu/batch_size must be 0 for skb programs");
	if (size < ETH_HLEN || size > 4096 - PT_SKB_HEADROOM - PT_SHINFO_SZ)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_size_in %u outside %u..%u", size, ETH_HLEN,
			       4096 - PT_SKB_HEADROOM - PT_SHINFO_SZ);
	if (!attr->test.data_in)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_in is NULL");
	memset(&in, 0, sizeof(in));
	if ((err = pt_ctx_in(attr, &in, sizeof(in))))
		return sys_err(vm, err, "PROG_TEST_RUN: ctx_in has non-zero bytes past struct __sk_buff");
	if (in.ifindex > 1)
		return sys_err(vm, -ENODEV, "PROG_TEST_RUN: no device with ifindex %u (only lo, 1)", in.ifindex);
	/* convert___skb_to_skb(): only mark, priority, ingress_ifindex, ifindex, cb, tstamp, wire_len,
	 * gso_segs, gso_size and hwtstamp may be set */
	{
		struct __sk_buff allowed;
		memset(&allowed, 0, sizeof(allowed));
		allowed.mark = in.mark;
		allowed.priority = in.priority;
		allowed.ingress_ifindex = in.ingress_ifindex;
		allowed.ifindex = in.ifindex;
		memcpy(allowed.cb, in.cb, sizeof(in.cb));
		allowed.tstamp = in.tstamp;
		allowed.wire_len = in.wire_len;
		allowed.gso_segs = in.gso_segs;
		allowed.gso_size = in.gso_size;
		allowed.hwtstamp = in.hwtstamp;
		if (memcmp(&allowed, &in, sizeof(in)))
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: __sk_buff sets fields that must be zero");
	}

	memset(&p, 0, sizeof(p));
	p.prog_type = prog->type;
	p.attach_type = prog->expected_attach_type;
	if ((err = pt_pkt_get(vm, &p, PT_SKB_HEADROOM + 4096, PT_SKB_HEADROOM,
				(const void *)(uintptr_t)attr->test.data_in, size)))
		return sys_err(vm, err, "PROG_TEST_RUN: cannot map the packet");
	p.mac = p.data;
	p.has_sk = true; /* bpf_prog_test_run_skb(): skb->sk = a dummy socket, one per test run */
	eth_type_trans(&p, &pkt_type, true);
	if (!l2)
		p.meta = p.data = p.net; /* socket filters start at the network header here */
	if (has_ctx && in.wire_len && (in.wire_len < p.end - p.data || in.wire_len > PT_SKB_MAX_LEN)) {
		pt_pkt_release(vm, &p);
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: wire_len %u invalid for a %u-byte skb", in.wire_len,
			       p.end - p.data);
	}
	if (in.gso_segs > 65535) {
		pt_pkt_release(vm, &p);
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: gso_segs %u above GSO_MAX_SEGS", in.gso_segs);
	}
	memset(&keep, 0, sizeof(keep));
	keep.pkt_type = pkt_type;
	keep.mark = in.mark;
	keep.priority = in.priority;
	keep.ingress_ifindex = in.ingress_ifindex;
	keep.ifindex = 1;
	memcpy(keep.cb, in.cb, sizeof(in.cb));
	keep.tstamp = in.tstamp;
	/* cb->pkt_len is only set when a ctx is given (convert___skb_to_skb() returns early without) */
	keep.wire_len = !has_ctx ? 0 : in.wire_len ? in.wire_len : p.end - p.data;
	keep.gso_segs = in.gso_segs;
	keep.gso_size = in.gso_size;
	keep.hwtstamp = in.hwtstamp;
	fill_ips(&p, &keep);
	vm_run_init(&run, prog, stack);
	memcpy(p.ctx, &keep, sizeof(keep));
	pt_pkt_attach(&p, &run, prog->type != BPF_PROG_TYPE_SOCKET_FILTER, l2);
	err = run_skb(&p, &run, &keep, attr->test.repeat, &retval, &duration);
	if (!err) {
		if (!l2 && p.data >= ETH_HLEN) {
			/* memset(__skb_push(skb, hh_len), 0, hh_len) */
			p.data -= ETH_HLEN;
			memset(p.frame + p.data, 0, ETH_HLEN);
		}
		/* convert_skb_to___skb() */
		in.mark = keep.mark;
		in.priority = keep.priority;
		in.ifindex = 1;
		in.tstamp = keep.tstamp;
		memcpy(in.cb, keep.cb, sizeof(in.cb));
		in.wire_len = keep.wire_len;
		err = pt_data_out(attr, p.frame + p.data, p.end - p.data, retval, duration);
		if (!err)
			err = pt_ctx_out(attr, &in, sizeof(in));
	}
	pt_pkt_release(vm, &p);
	return err;
}

static uint32_t tc_action(uint64_t r0)
{
	switch ((int32_t)r0) {
	case TC_ACT_SHOT:
	case TC_ACT_STOLEN:
	case TC_ACT_QUEUED:
	case TC_ACT_TRAP:
		return BPFVM_PKT_DROP;
	case TC_ACT_REDIRECT:
		return BPFVM_PKT_REDIRECT;
	default: /* TC_ACT_UNSPEC, OK, RECLASSIFY, PIPE, REPEAT and unknown: the packet goes on */
		return BPFVM_PKT_PASS;
	}
}

int pt_skb_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len,
		      uint32_t ifindex, uint32_t rx_queue, struct pt_pkt_result *res)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct __sk_buff keep;
	struct pt_pkt p;
	struct vm_run run;
	uint32_t retval = 0, pkt_type = 0;
	int err;

	memset(&p, 0, sizeof(p));
	p.prog_type = prog->type;
	p.attach_type = prog->expected_attach_type;
	if ((err = pt_pkt_get(vm, &p, PT_XDP_HEADROOM + (uint32_t)*len + PT_SHINFO_SZ, PT_XDP_HEADROOM, buf,
				(uint32_t)*len)))
		return sys_err(vm, err, "cannot map the packet");
	p.mac = p.data;
	eth_type_trans(&p, &pkt_type, false);
	if (pkt_type == PACKET_OTHERHOST)
		pkt_type = PACKET_HOST; /* the frame was received for this host */
	memset(&keep, 0, sizeof(keep));
	keep.pkt_type = pkt_type;
	keep.ingress_ifindex = ifindex;
	keep.ifindex = ifindex;
	keep.queue_mapping = rx_queue;
	keep.wire_len = (uint32_t)*len;
	keep.gso_segs = 1;
	fill_ips(&p, &keep);
	vm_run_init(&run, prog, stack);
	memcpy(p.ctx, &keep, sizeof(keep));
	pt_pkt_attach(&p, &run, prog->type != BPF_PROG_TYPE_SOCKET_FILTER, is_tc(prog->type));
	err = run_skb(&p, &run, &keep, 1, &retval, NULL);
	if (!err) {
		uint32_t n = p.end - p.data;
		*res = p.rd;
		res->retval = retval;
		if (is_tc(prog->type)) {
			res->action = tc_action(retval);
		} else {
			/* socket filter (and the other types' filter use): bytes to keep, 0 drops */
			res->action = retval ? BPFVM_PKT_PASS : BPFVM_PKT_DROP;
			if (retval < n)
				n = retval;
		}
		if (n > cap) {
			err = sys_err(vm, -ENOSPC, "packet grew to %u bytes, buffer holds %zu", n, cap);
		} else {
			memcpy(buf, p.frame + p.data, n);
			*len = n;
			res->len = n;
		}
	}
	pt_pkt_release(vm, &p);
	return err;
}

/* The __sk_buff of a captured frame (both capture paths below): received on ifindex 1 for this host,
 * len the length on the wire. */
static void capture_skb(struct __sk_buff *s, uint32_t wirelen, uint32_t pkt_type)
{
	memset(s, 0, sizeof(*s));
	s->pkt_type = pkt_type;
	s->ingress_ifindex = 1;
	s->ifindex = 1;
	s->wire_len = wirelen;
	s->gso_segs = 1;
}

static ALWAYS_INLINE uint32_t capture_pkt_type(struct pt_pkt *p)
{
	uint32_t pkt_type = PACKET_HOST;

	if (p->end - p->mac >= ETH_HLEN) {
		eth_type_trans(p, &pkt_type, false);
		if (pkt_type == PACKET_OTHERHOST)
			pkt_type = PACKET_HOST; /* the frame was received for this host */
	}
	return pkt_type;
}

int pt_skb_run_capture(struct bpfvm *vm, struct vm_prog *prog, const struct vm_services *svc, const uint8_t *pkt,
		       uint32_t caplen, uint32_t wirelen, uint32_t *retval)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct __sk_buff keep;
	struct pt_pkt p;
	struct vm_run run;
	uint64_t r0 = 0;
	int err;

	memset(&p, 0, sizeof(p));
	p.prog_type = prog->type;
	p.attach_type = prog->expected_attach_type;
	/* pkt_region false below: the filter reads the packet only through LD_ABS/LD_IND and the helpers */
	if ((err = pt_pkt_get_bounded(vm, &p, PT_XDP_HEADROOM + caplen + PT_SHINFO_SZ, PT_XDP_HEADROOM, pkt, caplen)))
		return sys_err(vm, err, "cannot map the packet");
	p.mac = p.data;
	p.net = p.data;
	capture_skb(&keep, wirelen, capture_pkt_type(&p));
	fill_ips(&p, &keep);
	vm_run_init(&run, prog, stack);
	run.svc = svc;
	memcpy(p.ctx, &keep, sizeof(keep));
	pt_pkt_attach(&p, &run, false, false);
	/* as pcap_offline_filter(): loads see the captured bytes, `len` is the length on the wire */
	((struct __sk_buff *)p.ctx)->len = wirelen;
	err = vm_exec(&run, &r0);
	pt_pkt_release(vm, &p);
	if (!err)
		*retval = (uint32_t)r0;
	return err;
}

/* Does every load and store of prog address the stack through r10?  Then nothing it runs can read its
 * ctx (a leaf calls no helper; LD_ABS/LD_IND read run->pkt), so the ctx need not be kept up to date per
 * frame: a classic filter translated without ancillary loads.  Any other base (a copy of r10 included)
 * says no. */
static bool ctx_unread(const struct vm_prog *prog)
{
	for (size_t pc = 0; pc < prog->cnt; pc++) {
		const struct vm_insn *in = &prog->insns[pc];
		unsigned mem = isa_mem_access(isa_row_of(in->id)); /* an unchecked twin reads as its row */
		if (mem && (mem & ISA_MEM_BASE_SRC ? in->src : in->dst) != BPF_REG_10)
			return false;
	}
	return true;
}

int pt_capture_init(struct pt_capture *c, struct vm_prog *prog, const struct vm_services *svc)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->svc = svc;
	/* A socket filter that calls nothing reaches the frame only through LD_ABS/LD_IND, which read
	 * [run->pkt, + pkt_len) and never write: it can read the caller's bytes in place.  Its ctx is
	 * read-only but for cb[] (pt_skb_ctx_access()), so one scratch ctx serves every frame. */
	c->lean = prog->type == BPF_PROG_TYPE_SOCKET_FILTER && prog->leaf;
	if (!c->lean)
		return 0;
	vm_run_init(&c->run, prog, c->stack);
	c->run.svc = svc;
	c->run.ctx_ok = pt_run_ctx_ok;
	c->run.ctx = c->ctx;
	capture_skb((struct __sk_buff *)c->ctx, 0, PACKET_HOST);
	if (!vm_run_add_region(&c->run, c->ctx, PT_CTX_AREA, true))
		return -ENOMEM;
	c->run.regions[0].kind = VM_REG_CTX;
	/* the type's ctx (PT_CTX_AREA bytes) as pt_pkt_attach() sets it up: what the verifier assumed, so
	 * insns its proofs cover run unchecked (before vm_exec_keep(), which picks the code by it) */
	c->run.trusted = true;
	c->kept = vm_exec_keep(&c->run, c->keep);
	c->ctx_unread = ctx_unread(prog);
	c->fast = c->kept && c->ctx_unread;
	return 0;
}

/* The frame's fields of the ctx (capture_skb()'s that differ per frame; the rest stay as
 * pt_capture_init() set them, since the program may write cb[] only: a memset of the whole ctx was a
 * fifth of a run).  Out of line: its frame (a struct pt_pkt) is not the common path's. */
static NOINLINE void capture_ctx(struct pt_capture *c, const uint8_t *pkt, uint32_t caplen, uint32_t wirelen)
{
	struct __sk_buff *s = (struct __sk_buff *)c->ctx;
	struct pt_pkt p;

	p.frame = (uint8_t *)(uintptr_t)pkt; /* read only: eth_type_trans() looks at the header */
	p.mac = 0;
	p.end = caplen;
	p.protocol = 0;
	s->pkt_type = capture_pkt_type(&p);
	s->len = wirelen;
	s->wire_len = wirelen;
	s->protocol = p.protocol;
	memset(s->cb, 0, sizeof(s->cb));
}

int pt_capture_run_slow(struct bpfvm *vm, struct pt_capture *c, const uint8_t *pkt, uint32_t caplen,
			uint32_t wirelen, uint32_t *retval)
{
	uint64_t r0 = 0;
	int err;

	if (!c->lean)
		return pt_skb_run_capture(vm, c->prog, c->svc, pkt, caplen, wirelen, retval);
	c->run.pkt = pkt;
	c->run.pkt_len = caplen;
	if (!c->ctx_unread) /* a classic filter without ancillary loads skips it */
		capture_ctx(c, pkt, caplen, wirelen);
	err = LIKELY(c->kept) ? vm_exec_kept(&c->run, c->keep, &r0) : vm_exec(&c->run, &r0);
	if (!err)
		*retval = (uint32_t)r0;
	return err;
}
