/* callx.bpf.c -- a call through a function pointer: clang emits `callx` (before clang 19 with the register
 * in imm, which bpfvm's loader moves to dst).  Linux refuses every callx ("unknown opcode 8d": listed in
 * tests/verifier/known-differences.txt); bpfvm's verifier proves the target (either function, loaded by
 * lddw) and checks the call as a bpf-to-bpf call.  test_verifier runs it on both engines. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static __attribute__((noinline)) int small(int len)
{
	return len < 64 ? 1 : 0;
}

static __attribute__((noinline)) int large(int len)
{
	return len >= 64 ? 1 : 0;
}

SEC("xdp")
int by_pointer(struct xdp_md *ctx)
{
	int len = (int)(ctx->data_end - ctx->data);
	int (*volatile pick)(int) = len < 64 ? small : large;
	__u32 k = (__u32)(len >= 64);
	__u64 *n = bpf_map_lookup_elem(&seen, &k);

	/* 1 on every packet, whichever function the pointer names */
	if (n && pick(len))
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
