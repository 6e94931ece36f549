/* core.bpf.c -- CO-RE relocations against bpfvm's context types: the program's own (flavored) view of
 * struct xdp_md has a different layout than the UAPI one, so the loader must move the offsets. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct xdp_md___mine {
	__u32 rx_queue_index;
	__u32 ingress_ifindex;
	__u32 not_in_uapi;
} __attribute__((preserve_access_index));

SEC("xdp")
int core_xdp(struct xdp_md *ctx)
{
	struct xdp_md___mine *m = (void *)ctx;
	/* direct context loads, offsets relocated: rx_queue_index 16, ingress_ifindex 12 */
	__u32 q = m->rx_queue_index, i = m->ingress_ifindex;
	int has = bpf_core_field_exists(m->not_in_uapi);      /* 0 */
	int sz = bpf_core_field_size(m->ingress_ifindex);      /* 4 */
	int tsz = bpf_core_type_size(struct xdp_md___mine);    /* 24: UAPI size */
	return (int)(q * 1000 + i) + has * 100000 + sz * 1000000 + tsz * 10000000;
}

char LICENSE[] SEC("license") = "GPL";
