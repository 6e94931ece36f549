/* maps.c -- a libbpf-style object: BTF-defined maps, global data in .rodata/.data/.bss, helper calls,
 * a static subprogram and a global one, several program sections.  Relocated lddw print as "r1 = 0 ll"
 * in both llvm-objdump and bpfvm.  Compared by tests/unit/test_disasm.c for -mcpu=v1..v4. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

const volatile __u32 limit = 100;
__u64 total = 0;
__u32 seen;

static __attribute__((noinline)) __u64 bump(__u32 key, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		__sync_fetch_and_add(v, by);
		return *v;
	}
	__u64 one = by;
	bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return by;
}

__attribute__((noinline)) int classify(__u32 x)
{
	return x > limit ? 2 : x & 1;
}

SEC("xdp")
int prog_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	if (p + 14 > (__u8 *)end)
		return XDP_ABORTED;
	__u16 proto = bpf_ntohs(*(__u16 *)(p + 12));
	__u32 k = 0;
	__u64 *s = bpf_map_lookup_elem(&stats, &k);
	if (s)
		*s += 1;
	total += bump(proto, end - data);
	seen++;
	return classify(proto) == 2 ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int prog_tc(struct __sk_buff *skb)
{
	__u64 t = bpf_ktime_get_ns();
	bpf_printk("len %u mark %u t %llu", skb->len, skb->mark, t);
	return bump(skb->protocol, skb->len) > limit ? 2 : 0;
}

char LICENSE[] SEC("license") = "GPL";
