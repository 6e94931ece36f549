/* xdp.c -- BPF_PROG_TYPE_XDP: struct xdp_md over a 4096-byte frame (256 bytes of headroom, 320 of
 * tailroom for skb_shared_info, as net/bpf/test_run.c builds it), test run and packet run.
 * Context rules: net/core/filter.c xdp_is_valid_access(); all fields are read-only u32. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>

#include "progtypes.h"
#include "../core/core.h"

_Static_assert(offsetof(struct xdp_md, data) == 0, "kernel UAPI ctx layout");
_Static_assert(offsetof(struct xdp_md, egress_ifindex) == 20 && sizeof(struct xdp_md) == 24,
	       "kernel UAPI ctx layout");
_Static_assert(sizeof(struct xdp_md) <= PT_CTX_AREA, "ctx fits its area");

#define XDP_MAX_DATA (PT_XDP_FRAME_SZ - PT_XDP_HEADROOM - PT_SHINFO_SZ) /* 3520 */

int pt_xdp_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	/* xdp_is_valid_access(): read only, u32 fields, egress_ifindex only for devmap programs */
	(void)type;
	if (off == offsetof(struct xdp_md, egress_ifindex) && attach != BPF_XDP_DEVMAP)
		return PT_FIELD_DENY;
	if (write || off >= sizeof(struct xdp_md) || off % size || size != 4)
		return PT_FIELD_DENY;
	return off == offsetof(struct xdp_md, data)	 ? PT_FIELD_PKT :
	       off == offsetof(struct xdp_md, data_end)	 ? PT_FIELD_PKT_END :
	       off == offsetof(struct xdp_md, data_meta) ? PT_FIELD_PKT_META : PT_FIELD_SCALAR;
}

static uint32_t xdp_action(uint64_t r0)
{
	switch ((uint32_t)r0) {
	case XDP_DROP: return BPFVM_PKT_DROP;
	case XDP_PASS: return BPFVM_PKT_PASS;
	case XDP_TX: return BPFVM_PKT_TX;
	case XDP_REDIRECT: return BPFVM_PKT_REDIRECT;
	default: return BPFVM_PKT_ABORTED; /* XDP_ABORTED and unknown actions (bpf_warn_invalid_xdp_action) */
	}
}

static bool metalen_invalid(uint32_t metalen)
{
	return (metalen & 3) || metalen > 255; /* xdp_metalen_invalid(): u8 meta_len, 4-byte aligned */
}

int pt_xdp_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct xdp_md md;
	struct pt_pkt p;
	struct vm_run run;
	uint32_t size = attr->test.data_size_in, headroom = PT_XDP_HEADROOM, retval = 0, duration = 0;
	bool has_ctx = attr->test.ctx_in || attr->test.ctx_out;
	int err;

	if (prog->expected_attach_type == BPF_XDP_DEVMAP || prog->expected_attach_type == BPF_XDP_CPUMAP)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: XDP devmap/cpumap programs have no test run");
	if (attr->test.flags & ~BPF_F_TEST_XDP_LIVE_FRAMES)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: unknown flags 0x%x", attr->test.flags);
	if (attr->test.flags & BPF_F_TEST_XDP_LIVE_FRAMES)
		return sys_err(vm, -EOPNOTSUPP, "PROG_TEST_RUN: live frames need real devices");
	if (attr->test.batch_size || attr->test.cpu)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: batch_size/cpu without live frames");
	memset(&md, 0, sizeof(md));
	if ((err = pt_ctx_in(attr, &md, sizeof(md))))
		return sys_err(vm, err, "PROG_TEST_RUN: ctx_in has non-zero bytes past struct xdp_md");
	if (has_ctx) {
		/* there can't be user-provided data before the metadata */
		/* (Linux 6.18 checks data_end against data_size_in only as an upper bound) */
		if (md.data_meta || md.data_end > size || md.data > md.data_end || metalen_invalid(md.data))
			return sys_err(vm, -EINVAL, "PROG_TEST_RUN: xdp_md data_meta=%u data=%u data_end=%u invalid "
				       "for data_size_in=%u", md.data_meta, md.data, md.data_end, size);
		/* Linux 6.18: a data_end below data_size_in makes the rest fragments (multi-buffer XDP),
		 * which bpfvm does not implement */
		if (md.data_end && md.data_end < size)
			return sys_err(vm, -EOPNOTSUPP, "PROG_TEST_RUN: xdp_md data_end %u below data_size_in %u: "
				       "fragments are not supported", md.data_end, size);
		headroom -= md.data; /* metadata comes from the headroom */
	}
	if (size < 14 || size > XDP_MAX_DATA + (PT_XDP_HEADROOM - headroom))
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_size_in %u outside 14..%u", size,
			       XDP_MAX_DATA + (PT_XDP_HEADROOM - headroom));
	if (!attr->test.data_in)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: data_in is NULL");
	if (md.egress_ifindex)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: xdp_md egress_ifindex must be 0");
	if (!md.ingress_ifindex && md.rx_queue_index)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: xdp_md rx_queue_index without ingress_ifindex");
	if (md.ingress_ifindex > 1)
		return sys_err(vm, -ENODEV, "PROG_TEST_RUN: no device with ifindex %u (only lo, 1)", md.ingress_ifindex);
	if (md.ingress_ifindex && md.rx_queue_index >= 1)
		return sys_err(vm, -EINVAL, "PROG_TEST_RUN: rx_queue_index %u: lo has 1 queue", md.rx_queue_index);

	memset(&p, 0, sizeof(p));
	p.prog_type = BPF_PROG_TYPE_XDP;
	p.attach_type = prog->expected_attach_type;
	if ((err = pt_pkt_get(vm, &p, PT_XDP_FRAME_SZ, headroom, (const void *)(uintptr_t)attr->test.data_in, size)))
		return sys_err(vm, err, "PROG_TEST_RUN: cannot map the packet frame");
	p.cap = PT_XDP_FRAME_SZ - PT_SHINFO_SZ; /* xdp_data_hard_end() */
	p.data = p.meta + md.data;
	vm_run_init(&run, prog, stack);
	struct xdp_md *ctx = p.ctx;
	ctx->ingress_ifindex = md.ingress_ifindex;
	ctx->rx_queue_index = md.rx_queue_index;
	pt_pkt_attach(&p, &run, true, true);
	err = pt_run_repeat(&run, attr->test.repeat, &retval, &duration);
	if (!err) {
		/* xdp_convert_buff_to_md(): offsets relative to data_meta */
		md.data = p.data - p.meta;
		md.data_end = p.end - p.meta;
		md.data_meta = 0;
		err = pt_data_out(attr, p.frame + p.meta, p.end - p.meta, retval, duration);
		if (!err)
			err = pt_ctx_out(attr, &md, sizeof(md));
	}
	pt_pkt_release(vm, &p);
	return err;
}

int pt_xdp_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len,
		      uint32_t ifindex, uint32_t rx_queue, struct pt_pkt_result *res)
{
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
	struct pt_pkt p;
	struct vm_run run;
	uint64_t r0 = 0;
	int err;

	if (*len > XDP_MAX_DATA)
		return sys_err(vm, -EINVAL, "XDP packet of %zu bytes above the frame's %u", *len, XDP_MAX_DATA);
	memset(&p, 0, sizeof(p));
	p.prog_type = BPF_PROG_TYPE_XDP;
	p.attach_type = prog->expected_attach_type;
	if ((err = pt_pkt_get(vm, &p, PT_XDP_FRAME_SZ, PT_XDP_HEADROOM, buf, (uint32_t)*len)))
		return sys_err(vm, err, "cannot map the packet frame");
	p.cap = PT_XDP_FRAME_SZ - PT_SHINFO_SZ;
	vm_run_init(&run, prog, stack);
	struct xdp_md *ctx = p.ctx;
	ctx->ingress_ifindex = ifindex;
	ctx->rx_queue_index = rx_queue;
	pt_pkt_attach(&p, &run, true, true);
	err = vm_exec(&run, &r0);
	if (!err) {
		uint32_t n = p.end - p.data;
		if (n > cap) {
			err = sys_err(vm, -ENOSPC, "packet grew to %u bytes, buffer holds %zu", n, cap);
		} else {
			memcpy(buf, p.frame + p.data, n);
			*len = n;
			*res = p.rd;
			res->retval = r0;
			res->action = xdp_action(r0);
			res->len = n;
		}
	}
	pt_pkt_release(vm, &p);
	return err;
}
