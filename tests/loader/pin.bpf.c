/* pin.bpf.c -- a LIBBPF_PIN_BY_NAME map (reused across loads), a program in an unknown section. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_cnt SEC(".maps");

SEC("socket")
int bump(void *ctx)
{
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&shared_cnt, &k);
	if (v)
		*v += 1;
	return v ? (int)*v : -1;
}

char LICENSE[] SEC("license") = "GPL";
