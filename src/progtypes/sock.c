/* sock.c -- context rules of the cgroup and socket program types bpfvm verifies but does not run
 * (no test run, no hook): cgroup_sock (struct bpf_sock), cgroup_sock_addr, sock_ops, sk_msg, cgroup_device,
 * flow_dissector, sk_reuseport, cgroup_sysctl, cgroup_sockopt, sk_lookup, lirc_mode2.  Each function is
 * Linux's *_is_valid_access() of net/core/filter.c (kernel/bpf/cgroup.c for device, sysctl and sockopt;
 * drivers/media/rc/bpf-lirc.c for lirc), returning what a load of the field gives (PT_FIELD_*) or
 * PT_FIELD_DENY.
 *
 * Pointer fields to sockets (bpf_sock_ops.sk, sk_msg_md.sk, ...) and bpf_flow_keys give PT_FIELD_SCALAR:
 * the verifier has no socket or flow-keys pointer type yet, so a program may read and compare them but
 * not dereference them (stricter than Linux, never looser).  The context sizes are those of the UAPI
 * header bpfvm is built with. */
#include <stddef.h>
#include <linux/bpf.h>

#include "progtypes.h"

#define OFF(s, f) offsetof(struct s, f)
#define END(s, f) (offsetof(struct s, f) + sizeof(((struct s *)0)->f))
/* Linux bpf_ctx_range(): off lies in the field (unsigned: below the field wraps to a large number) */
#define IN(off, s, f) ((uint32_t)((off) - OFF(s, f)) < END(s, f) - OFF(s, f))

/* bpf_ctx_narrow_access_ok(): a load of size bytes from a field of field_size (alignment checked before) */
static bool narrow_ok(uint32_t size, uint32_t field_size)
{
	return size <= field_size && !(size & (size - 1));
}

/* bpf_ctx_wide_access_ok(): an aligned 8-byte access inside a u32 array field */
static bool wide_ok(uint32_t off, uint32_t size, uint32_t lo, uint32_t hi)
{
	return size == 8 && off >= lo && off + 8 <= hi && off % 8 == 0;
}

/* ---- cgroup_sock: bpf_sock_is_valid_access() + __sock_filter_check_attach_type() ---------------------- */

int pt_sock_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	if (off >= sizeof(struct bpf_sock) || off % size)
		return PT_FIELD_DENY;
	bool ok;
	if (off == OFF(bpf_sock, state) || off == OFF(bpf_sock, family) || off == OFF(bpf_sock, type) ||
	    off == OFF(bpf_sock, protocol) || off == OFF(bpf_sock, src_port) || off == OFF(bpf_sock, rx_queue_mapping) ||
	    IN(off, bpf_sock, src_ip4) || IN(off, bpf_sock, src_ip6) || IN(off, bpf_sock, dst_ip4) ||
	    IN(off, bpf_sock, dst_ip6))
		ok = narrow_ok(size, 4);
	else if (IN(off, bpf_sock, dst_port))
		ok = size == 4 || narrow_ok(size, 2); /* a __be16 field, readable as u32 for compatibility */
	else if (off >= END(bpf_sock, dst_port) && off < OFF(bpf_sock, dst_ip4)) /* padding */
		ok = false;
	else
		ok = size == 4;
	if (!ok)
		return PT_FIELD_DENY;
	/* which fields the attach point lets the program touch */
	if (off == OFF(bpf_sock, bound_dev_if) || off == OFF(bpf_sock, mark) || off == OFF(bpf_sock, priority))
		ok = attach == BPF_CGROUP_INET_SOCK_CREATE || attach == BPF_CGROUP_INET_SOCK_RELEASE;
	else if (IN(off, bpf_sock, src_ip4))
		ok = attach == BPF_CGROUP_INET4_POST_BIND && !write;
	else if (IN(off, bpf_sock, src_ip6))
		ok = attach == BPF_CGROUP_INET6_POST_BIND && !write;
	else if (IN(off, bpf_sock, src_port))
		ok = (attach == BPF_CGROUP_INET4_POST_BIND || attach == BPF_CGROUP_INET6_POST_BIND) && !write;
	else
		ok = !write;
	return ok ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- cgroup_sock_addr: sock_addr_is_valid_access() ------------------------------------------------- */

static bool addr_family_ok(uint32_t attach, uint32_t off)
{
	/* fields of the other address family are not there for the attach point */
	if (IN(off, bpf_sock_addr, user_ip4))
		return attach == BPF_CGROUP_INET4_BIND || attach == BPF_CGROUP_INET4_CONNECT ||
		       attach == BPF_CGROUP_INET4_GETPEERNAME || attach == BPF_CGROUP_INET4_GETSOCKNAME ||
		       attach == BPF_CGROUP_UDP4_SENDMSG || attach == BPF_CGROUP_UDP4_RECVMSG;
	if (IN(off, bpf_sock_addr, user_ip6))
		return attach == BPF_CGROUP_INET6_BIND || attach == BPF_CGROUP_INET6_CONNECT ||
		       attach == BPF_CGROUP_INET6_GETPEERNAME || attach == BPF_CGROUP_INET6_GETSOCKNAME ||
		       attach == BPF_CGROUP_UDP6_SENDMSG || attach == BPF_CGROUP_UDP6_RECVMSG;
	if (IN(off, bpf_sock_addr, msg_src_ip4))
		return attach == BPF_CGROUP_UDP4_SENDMSG;
	if (IN(off, bpf_sock_addr, msg_src_ip6))
		return attach == BPF_CGROUP_UDP6_SENDMSG;
	return true;
}

int pt_sock_addr_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	if (off >= sizeof(struct bpf_sock_addr) || off % size || !addr_family_ok(attach, off))
		return PT_FIELD_DENY;
	if (IN(off, bpf_sock_addr, user_ip4) || IN(off, bpf_sock_addr, user_ip6) || IN(off, bpf_sock_addr, msg_src_ip4) ||
	    IN(off, bpf_sock_addr, msg_src_ip6) || IN(off, bpf_sock_addr, user_port)) {
		if (wide_ok(off, size, OFF(bpf_sock_addr, user_ip6), END(bpf_sock_addr, user_ip6)) ||
		    wide_ok(off, size, OFF(bpf_sock_addr, msg_src_ip6), END(bpf_sock_addr, msg_src_ip6)))
			return PT_FIELD_SCALAR;
		return (write ? size == 4 : narrow_ok(size, 4)) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	}
	if (off == OFF(bpf_sock_addr, sk)) /* PTR_TO_SOCKET in Linux */
		return !write && size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return !write && size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- sock_ops: sock_ops_is_valid_access() ---------------------------------------------------------- */

int pt_sock_ops_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (off >= sizeof(struct bpf_sock_ops) || off % size)
		return PT_FIELD_DENY;
	if (write)
		return (off == OFF(bpf_sock_ops, reply) || off == OFF(bpf_sock_ops, sk_txhash)) && size == 4 ?
			       PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (off >= OFF(bpf_sock_ops, bytes_received) && off < END(bpf_sock_ops, bytes_acked))
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (off == OFF(bpf_sock_ops, sk)) /* PTR_TO_SOCKET_OR_NULL in Linux */
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (off == OFF(bpf_sock_ops, skb_data))
		return size == 8 ? PT_FIELD_PKT : PT_FIELD_DENY;
	if (off == OFF(bpf_sock_ops, skb_data_end))
		return size == 8 ? PT_FIELD_PKT_END : PT_FIELD_DENY;
	if (off == OFF(bpf_sock_ops, skb_tcp_flags))
		return narrow_ok(size, 4) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- sk_msg: sk_msg_is_valid_access() ---------------------------------------------------------------- */

int pt_sk_msg_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (write || off >= sizeof(struct sk_msg_md) || off % size)
		return PT_FIELD_DENY;
	if (off == OFF(sk_msg_md, data))
		return size == 8 ? PT_FIELD_PKT : PT_FIELD_DENY;
	if (off == OFF(sk_msg_md, data_end))
		return size == 8 ? PT_FIELD_PKT_END : PT_FIELD_DENY;
	if (off == OFF(sk_msg_md, sk)) /* PTR_TO_SOCKET in Linux */
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, sk_msg_md, family) || IN(off, sk_msg_md, remote_ip4) || IN(off, sk_msg_md, local_ip4) ||
	    IN(off, sk_msg_md, remote_ip6) || IN(off, sk_msg_md, local_ip6) || IN(off, sk_msg_md, remote_port) ||
	    IN(off, sk_msg_md, local_port) || IN(off, sk_msg_md, size))
		return size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return PT_FIELD_DENY;
}

/* ---- cgroup_device: cgroup_dev_is_valid_access() ------------------------------------------------------ */

int pt_cgroup_dev_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (write || off >= sizeof(struct bpf_cgroup_dev_ctx) || size > sizeof(struct bpf_cgroup_dev_ctx) - off ||
	    off % size)
		return PT_FIELD_DENY;
	if (IN(off, bpf_cgroup_dev_ctx, access_type))
		return narrow_ok(size, 4) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- flow_dissector: flow_dissector_is_valid_access() -------------------------------------------------- */

int pt_flow_dissector_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (write || off >= sizeof(struct __sk_buff))
		return PT_FIELD_DENY;
	if (IN(off, __sk_buff, data))
		return off == OFF(__sk_buff, data) && size == 4 ? PT_FIELD_PKT : PT_FIELD_DENY;
	if (IN(off, __sk_buff, data_end))
		return off == OFF(__sk_buff, data_end) && size == 4 ? PT_FIELD_PKT_END : PT_FIELD_DENY;
	if (IN(off, __sk_buff, flow_keys)) /* PTR_TO_FLOW_KEYS in Linux */
		return off == OFF(__sk_buff, flow_keys) && size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return PT_FIELD_DENY;
}

/* ---- sk_reuseport: sk_reuseport_is_valid_access() ---------------------------------------------------- */

int pt_sk_reuseport_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (write || off >= sizeof(struct sk_reuseport_md) || off % size)
		return PT_FIELD_DENY;
	if (off == OFF(sk_reuseport_md, data))
		return size == 8 ? PT_FIELD_PKT : PT_FIELD_DENY;
	if (off == OFF(sk_reuseport_md, data_end))
		return size == 8 ? PT_FIELD_PKT_END : PT_FIELD_DENY;
	if (off == OFF(sk_reuseport_md, hash))
		return size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (off == OFF(sk_reuseport_md, sk) || off == OFF(sk_reuseport_md, migrating_sk))
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, sk_reuseport_md, eth_protocol) && size < 2) /* sk_buff.protocol is 2 bytes */
		return PT_FIELD_DENY;
	if (IN(off, sk_reuseport_md, eth_protocol) || IN(off, sk_reuseport_md, ip_protocol) ||
	    IN(off, sk_reuseport_md, bind_inany) || IN(off, sk_reuseport_md, len))
		return narrow_ok(size, 4) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return PT_FIELD_DENY;
}

/* ---- cgroup_sysctl: sysctl_is_valid_access() ----------------------------------------------------------- */

int pt_sysctl_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (off >= sizeof(struct bpf_sysctl) || size > sizeof(struct bpf_sysctl) - off || off % size)
		return PT_FIELD_DENY;
	if (IN(off, bpf_sysctl, write))
		return !write && narrow_ok(size, 4) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, bpf_sysctl, file_pos))
		return (write ? size == 4 : narrow_ok(size, 4)) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return PT_FIELD_DENY;
}

/* ---- cgroup_sockopt: cg_sockopt_is_valid_access() ---------------------------------------------------- */

int pt_sockopt_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	if (off >= sizeof(struct bpf_sockopt) || off % size)
		return PT_FIELD_DENY;
	if (write) {
		bool ok;
		if (off == OFF(bpf_sockopt, retval))
			ok = size == 4 && attach == BPF_CGROUP_GETSOCKOPT;
		else if (off == OFF(bpf_sockopt, optname) || off == OFF(bpf_sockopt, level))
			ok = size == 4 && attach == BPF_CGROUP_SETSOCKOPT;
		else
			ok = off == OFF(bpf_sockopt, optlen) && size == 4;
		return ok ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	}
	if (IN(off, bpf_sockopt, sk)) /* PTR_TO_SOCKET in Linux */
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, bpf_sockopt, optval))
		return size == 8 ? PT_FIELD_PKT : PT_FIELD_DENY;
	if (IN(off, bpf_sockopt, optval_end))
		return size == 8 ? PT_FIELD_PKT_END : PT_FIELD_DENY;
	if (IN(off, bpf_sockopt, retval))
		return size == 4 && attach == BPF_CGROUP_GETSOCKOPT ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- sk_lookup: sk_lookup_is_valid_access() -------------------------------------------------------- */

int pt_sk_lookup_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	if (write || off >= sizeof(struct bpf_sk_lookup) || off % size)
		return PT_FIELD_DENY;
	if (IN(off, bpf_sk_lookup, sk)) /* PTR_TO_SOCKET_OR_NULL in Linux */
		return size == 8 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, bpf_sk_lookup, family) || IN(off, bpf_sk_lookup, protocol) || IN(off, bpf_sk_lookup, remote_ip4) ||
	    IN(off, bpf_sk_lookup, local_ip4) || IN(off, bpf_sk_lookup, remote_ip6) ||
	    IN(off, bpf_sk_lookup, local_ip6) || IN(off, bpf_sk_lookup, local_port) ||
	    IN(off, bpf_sk_lookup, ingress_ifindex))
		return narrow_ok(size, 4) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (IN(off, bpf_sk_lookup, remote_port)) /* a __be16 readable as u32 for compatibility */
		return size == 4 || narrow_ok(size, 2) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	if (off >= END(bpf_sk_lookup, remote_port) && off < OFF(bpf_sk_lookup, local_ip4)) /* zero padding */
		return narrow_ok(size, 2) ? PT_FIELD_SCALAR : PT_FIELD_DENY;
	return PT_FIELD_DENY;
}

/* ---- lirc_mode2: lirc_mode2_is_valid_access(): one u32, read only ------------------------------------ */

int pt_lirc_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	return !write && off == 0 && size == 4 ? PT_FIELD_SCALAR : PT_FIELD_DENY;
}

/* ---- struct_ops, ext: their context is the attach target's (BTF), which bpfvm does not model ------- */

int pt_deny_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write)
{
	(void)type;
	(void)attach;
	(void)off;
	(void)size;
	(void)write;
	return PT_FIELD_DENY;
}
