/* small.bpf.c -- a small object for the fuzz corpora (fuzz/corpus/elf, fuzz/corpus/btf): one BTF map,
 * one legacy map, global data, a static subprogram and a CO-RE read of the context. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct bpf_map_def {
	unsigned int type, key_size, value_size, max_entries, map_flags;
};
struct bpf_map_def SEC("maps") old = { BPF_MAP_TYPE_ARRAY, 4, 4, 2, 0 };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} h SEC(".maps");

const volatile __u32 k = 1;
__u64 cnt;

static __attribute__((noinline)) __u64 add(__u64 a)
{
	return a + k;
}

SEC("tc")
int small(struct __sk_buff *skb)
{
	__u32 key = BPF_CORE_READ(skb, mark);
	__u64 *v = bpf_map_lookup_elem(&h, &key);
	cnt = add(cnt);
	return v ? (int)*v : (int)bpf_core_field_exists(skb->hash);
}

char LICENSE[] SEC("license") = "GPL";
