/* sec.c -- SEC() name -> program type and expected attach type: libbpf's section_defs table
 * (tools/lib/bpf/libbpf.c), with its matching rules:
 *   "xdp"      exact name only;
 *   "kprobe+"  the name itself or the name followed by '/' and anything ("kprobe/do_sys_open");
 *   "maps/"    (legacy) any name with that prefix.
 * The first matching row wins, so longer names come before their prefixes.  A leading '?' (libbpf: the
 * program is not loaded by default) is taken off by the caller (object.c) before the lookup.
 * Below it, the prefix table of the old loaders (legacy_defs), consulted only when this one fails. */
#include <string.h>

#include "loader.h"

/* Attach types newer than the UAPI headers this builds against (linux 6.1): Linux's numbers. */
enum {
	ATT_NETFILTER = 45, ATT_TCX_INGRESS = 46, ATT_TCX_EGRESS = 47, ATT_TRACE_UPROBE_MULTI = 48,
	ATT_CGROUP_UNIX_CONNECT = 49, ATT_CGROUP_UNIX_SENDMSG = 50, ATT_CGROUP_UNIX_RECVMSG = 51,
	ATT_CGROUP_UNIX_GETPEERNAME = 52, ATT_CGROUP_UNIX_GETSOCKNAME = 53, ATT_NETKIT_PRIMARY = 54,
	ATT_NETKIT_PEER = 55, ATT_TRACE_KPROBE_SESSION = 56,
	PT_NETFILTER = 32,
};

struct sec_def {
	const char *sec;
	uint32_t prog_type, attach_type;
};

#define P(t) BPF_PROG_TYPE_##t
static const struct sec_def sec_defs[] = {
	/* sec                     prog type                  expected attach type */
	{ "socket",                P(SOCKET_FILTER),          0 },
	{ "sk_reuseport/migrate",  P(SK_REUSEPORT),           BPF_SK_REUSEPORT_SELECT_OR_MIGRATE },
	{ "sk_reuseport",          P(SK_REUSEPORT),           BPF_SK_REUSEPORT_SELECT },
	{ "kprobe+",               P(KPROBE),                 0 },
	{ "uprobe+",               P(KPROBE),                 0 },
	{ "uprobe.s+",             P(KPROBE),                 0 },
	{ "kretprobe+",            P(KPROBE),                 0 },
	{ "uretprobe+",            P(KPROBE),                 0 },
	{ "uretprobe.s+",          P(KPROBE),                 0 },
	{ "kprobe.multi+",         P(KPROBE),                 BPF_TRACE_KPROBE_MULTI },
	{ "kretprobe.multi+",      P(KPROBE),                 BPF_TRACE_KPROBE_MULTI },
	{ "kprobe.session+",       P(KPROBE),                 ATT_TRACE_KPROBE_SESSION },
	{ "uprobe.multi+",         P(KPROBE),                 ATT_TRACE_UPROBE_MULTI },
	{ "uretprobe.multi+",      P(KPROBE),                 ATT_TRACE_UPROBE_MULTI },
	{ "uprobe.multi.s+",       P(KPROBE),                 ATT_TRACE_UPROBE_MULTI },
	{ "uretprobe.multi.s+",    P(KPROBE),                 ATT_TRACE_UPROBE_MULTI },
	{ "ksyscall+",             P(KPROBE),                 0 },
	{ "kretsyscall+",          P(KPROBE),                 0 },
	{ "usdt+",                 P(KPROBE),                 0 },
	{ "usdt.s+",               P(KPROBE),                 0 },
	{ "tc/ingress",            P(SCHED_CLS),              ATT_TCX_INGRESS },
	{ "tc/egress",             P(SCHED_CLS),              ATT_TCX_EGRESS },
	{ "tcx/ingress",           P(SCHED_CLS),              ATT_TCX_INGRESS },
	{ "tcx/egress",            P(SCHED_CLS),              ATT_TCX_EGRESS },
	{ "tc",                    P(SCHED_CLS),              0 },
	{ "classifier",            P(SCHED_CLS),              0 },
	{ "action",                P(SCHED_ACT),              0 },
	{ "netkit/primary",        P(SCHED_CLS),              ATT_NETKIT_PRIMARY },
	{ "netkit/peer",           P(SCHED_CLS),              ATT_NETKIT_PEER },
	{ "tracepoint+",           P(TRACEPOINT),             0 },
	{ "tp+",                   P(TRACEPOINT),             0 },
	{ "raw_tracepoint+",       P(RAW_TRACEPOINT),         0 },
	{ "raw_tp+",               P(RAW_TRACEPOINT),         0 },
	{ "raw_tracepoint.w+",     P(RAW_TRACEPOINT_WRITABLE), 0 },
	{ "raw_tp.w+",             P(RAW_TRACEPOINT_WRITABLE), 0 },
	{ "tp_btf+",               P(TRACING),                BPF_TRACE_RAW_TP },
	{ "fentry+",               P(TRACING),                BPF_TRACE_FENTRY },
	{ "fmod_ret+",             P(TRACING),                BPF_MODIFY_RETURN },
	{ "fexit+",                P(TRACING),                BPF_TRACE_FEXIT },
	{ "fentry.s+",             P(TRACING),                BPF_TRACE_FENTRY },
	{ "fmod_ret.s+",           P(TRACING),                BPF_MODIFY_RETURN },
	{ "fexit.s+",              P(TRACING),                BPF_TRACE_FEXIT },
	{ "freplace+",             P(EXT),                    0 },
	{ "lsm+",                  P(LSM),                    BPF_LSM_MAC },
	{ "lsm.s+",                P(LSM),                    BPF_LSM_MAC },
	{ "lsm_cgroup+",           P(LSM),                    BPF_LSM_CGROUP },
	{ "iter+",                 P(TRACING),                BPF_TRACE_ITER },
	{ "iter.s+",               P(TRACING),                BPF_TRACE_ITER },
	{ "syscall",               P(SYSCALL),                0 },
	{ "xdp.frags/devmap",      P(XDP),                    BPF_XDP_DEVMAP },
	{ "xdp/devmap",            P(XDP),                    BPF_XDP_DEVMAP },
	{ "xdp.frags/cpumap",      P(XDP),                    BPF_XDP_CPUMAP },
	{ "xdp/cpumap",            P(XDP),                    BPF_XDP_CPUMAP },
	{ "xdp.frags",             P(XDP),                    BPF_XDP },
	{ "xdp",                   P(XDP),                    BPF_XDP },
	{ "perf_event",            P(PERF_EVENT),             0 },
	{ "lwt_in",                P(LWT_IN),                 0 },
	{ "lwt_out",               P(LWT_OUT),                0 },
	{ "lwt_xmit",              P(LWT_XMIT),               0 },
	{ "lwt_seg6local",         P(LWT_SEG6LOCAL),          0 },
	{ "sockops",               P(SOCK_OPS),               BPF_CGROUP_SOCK_OPS },
	{ "sk_skb/stream_parser",  P(SK_SKB),                 BPF_SK_SKB_STREAM_PARSER },
	{ "sk_skb/stream_verdict", P(SK_SKB),                 BPF_SK_SKB_STREAM_VERDICT },
	{ "sk_skb/verdict",        P(SK_SKB),                 BPF_SK_SKB_VERDICT },
	{ "sk_skb",                P(SK_SKB),                 0 },
	{ "sk_msg",                P(SK_MSG),                 BPF_SK_MSG_VERDICT },
	{ "lirc_mode2",            P(LIRC_MODE2),             BPF_LIRC_MODE2 },
	{ "flow_dissector",        P(FLOW_DISSECTOR),         BPF_FLOW_DISSECTOR },
	{ "cgroup_skb/ingress",    P(CGROUP_SKB),             BPF_CGROUP_INET_INGRESS },
	{ "cgroup_skb/egress",     P(CGROUP_SKB),             BPF_CGROUP_INET_EGRESS },
	{ "cgroup/skb",            P(CGROUP_SKB),             0 },
	{ "cgroup/sock_create",    P(CGROUP_SOCK),            BPF_CGROUP_INET_SOCK_CREATE },
	{ "cgroup/sock_release",   P(CGROUP_SOCK),            BPF_CGROUP_INET_SOCK_RELEASE },
	{ "cgroup/sock",           P(CGROUP_SOCK),            BPF_CGROUP_INET_SOCK_CREATE },
	{ "cgroup/post_bind4",     P(CGROUP_SOCK),            BPF_CGROUP_INET4_POST_BIND },
	{ "cgroup/post_bind6",     P(CGROUP_SOCK),            BPF_CGROUP_INET6_POST_BIND },
	{ "cgroup/bind4",          P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET4_BIND },
	{ "cgroup/bind6",          P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET6_BIND },
	{ "cgroup/connect4",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET4_CONNECT },
	{ "cgroup/connect6",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET6_CONNECT },
	{ "cgroup/connect_unix",   P(CGROUP_SOCK_ADDR),       ATT_CGROUP_UNIX_CONNECT },
	{ "cgroup/sendmsg4",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_UDP4_SENDMSG },
	{ "cgroup/sendmsg6",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_UDP6_SENDMSG },
	{ "cgroup/sendmsg_unix",   P(CGROUP_SOCK_ADDR),       ATT_CGROUP_UNIX_SENDMSG },
	{ "cgroup/recvmsg4",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_UDP4_RECVMSG },
	{ "cgroup/recvmsg6",       P(CGROUP_SOCK_ADDR),       BPF_CGROUP_UDP6_RECVMSG },
	{ "cgroup/recvmsg_unix",   P(CGROUP_SOCK_ADDR),       ATT_CGROUP_UNIX_RECVMSG },
	{ "cgroup/getpeername4",   P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET4_GETPEERNAME },
	{ "cgroup/getpeername6",   P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET6_GETPEERNAME },
	{ "cgroup/getpeername_unix", P(CGROUP_SOCK_ADDR),     ATT_CGROUP_UNIX_GETPEERNAME },
	{ "cgroup/getsockname4",   P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET4_GETSOCKNAME },
	{ "cgroup/getsockname6",   P(CGROUP_SOCK_ADDR),       BPF_CGROUP_INET6_GETSOCKNAME },
	{ "cgroup/getsockname_unix", P(CGROUP_SOCK_ADDR),     ATT_CGROUP_UNIX_GETSOCKNAME },
	{ "cgroup/sysctl",         P(CGROUP_SYSCTL),          BPF_CGROUP_SYSCTL },
	{ "cgroup/getsockopt",     P(CGROUP_SOCKOPT),         BPF_CGROUP_GETSOCKOPT },
	{ "cgroup/setsockopt",     P(CGROUP_SOCKOPT),         BPF_CGROUP_SETSOCKOPT },
	{ "cgroup/dev",            P(CGROUP_DEVICE),          BPF_CGROUP_DEVICE },
	{ "struct_ops+",           P(STRUCT_OPS),             0 },
	{ "struct_ops.s+",         P(STRUCT_OPS),             0 },
	{ "sk_lookup",             P(SK_LOOKUP),              BPF_SK_LOOKUP },
	{ "netfilter",             PT_NETFILTER,              ATT_NETFILTER },
};

/* The old conventions, used only for names the table above does not know (libbpf 1.x wins wherever
 * both apply): samples/bpf's bpf_load.c typed a section by a plain prefix of its name ("xdp1",
 * "socket2", "kprobe/sys_write"), and so did libbpf < 0.7, whose section names were all prefixes (tc's
 * "classifier", "action", the lwt_* names).  bpf_load.c gave no expected attach type. */
static const struct sec_def legacy_defs[] = {
	/* prefix                  prog type */
	{ "socket",                P(SOCKET_FILTER),          0 },
	{ "kprobe/",               P(KPROBE),                 0 },
	{ "kretprobe/",            P(KPROBE),                 0 },
	{ "tracepoint/",           P(TRACEPOINT),             0 },
	{ "raw_tracepoint/",       P(RAW_TRACEPOINT),         0 },
	{ "xdp",                   P(XDP),                    0 },
	{ "perf_event",            P(PERF_EVENT),             0 },
	{ "cgroup/skb",            P(CGROUP_SKB),             0 },
	{ "cgroup/sock",           P(CGROUP_SOCK),            0 },
	{ "sockops",               P(SOCK_OPS),               0 },
	{ "sk_skb",                P(SK_SKB),                 0 },
	{ "sk_msg",                P(SK_MSG),                 0 },
	{ "classifier",            P(SCHED_CLS),              0 },
	{ "action",                P(SCHED_ACT),              0 },
	{ "lwt_in",                P(LWT_IN),                 0 },
	{ "lwt_out",               P(LWT_OUT),                0 },
	{ "lwt_xmit",              P(LWT_XMIT),               0 },
	{ "lwt_seg6local",         P(LWT_SEG6LOCAL),          0 },
};
#undef P

static bool sec_def_matches(const char *def, const char *name)
{
	size_t len = strlen(def);

	if (len && def[len - 1] == '+') {      /* "kprobe+": "kprobe" or "kprobe/..." */
		len--;
		if (strncmp(name, def, len))
			return false;
		return name[len] == '\0' || name[len] == '/';
	}
	if (len && def[len - 1] == '/')        /* legacy prefix */
		return !strncmp(name, def, len);
	return !strcmp(name, def);
}

bool ldr_sec_prog_type(const char *sec_name, uint32_t *prog_type, uint32_t *attach_type)
{
	for (size_t i = 0; i < ARRAY_SIZE(sec_defs); i++) {
		if (!sec_def_matches(sec_defs[i].sec, sec_name))
			continue;
		*prog_type = sec_defs[i].prog_type;
		*attach_type = sec_defs[i].attach_type;
		return true;
	}
	return false;
}

bool ldr_sec_legacy_prog_type(const char *sec_name, uint32_t *prog_type, uint32_t *attach_type)
{
	for (size_t i = 0; i < ARRAY_SIZE(legacy_defs); i++) {
		if (strncmp(sec_name, legacy_defs[i].sec, strlen(legacy_defs[i].sec)))
			continue;
		*prog_type = legacy_defs[i].prog_type;
		*attach_type = legacy_defs[i].attach_type;
		return true;
	}
	return false;
}
