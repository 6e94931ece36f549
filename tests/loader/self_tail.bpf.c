/* self_tail.bpf.c -- a program that tail-calls through a prog array holding itself (slot 0, set in BTF
 * as libbpf does), for tests/unit/test_progarray.c: the program holds the array, the array holds the
 * program.  Each entry counts itself in `entries`, so one run counts 1 + the tail-call limit. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int self(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jmp SEC(".maps") = {
	.values = { [0] = (void *)&self },
};

__u32 entries;

SEC("xdp")
int self(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&entries, 1);
	bpf_tail_call(ctx, &jmp, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
