/* loop_stack.bpf.c -- bpf_loop callbacks that write their caller's stack, for the verifier
 * (tests/unit/test_kernel_verdicts.c compares both programs' verdicts with the kernel's): what the caller
 * reads back after the loop is what the callbacks left there, not what it stored before the call.
 *   loop_unchecked: the offset is 0 before the loop and 45 after it, and indexes a 16-byte map value
 *                   unchecked: both verifiers must refuse it;
 *   loop_checked:   the same, bounded first: both must accept it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val {
	__u8 b[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} vals SEC(".maps");

static long add_index(__u64 i, void *ctx)
{
	*(__u64 *)ctx += i;
	return 0;
}

SEC("xdp")
int loop_unchecked(struct xdp_md *ctx)
{
	__u64 off = 0;
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&vals, &k);

	(void)ctx;
	if (!v)
		return XDP_PASS;
	bpf_loop(10, add_index, &off, 0);
	v->b[off] = 1;
	return XDP_PASS;
}

SEC("xdp")
int loop_checked(struct xdp_md *ctx)
{
	__u64 off = 0;
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&vals, &k);

	(void)ctx;
	if (!v)
		return XDP_PASS;
	bpf_loop(10, add_index, &off, 0);
	if (off < sizeof(v->b))
		v->b[off] = 1;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
