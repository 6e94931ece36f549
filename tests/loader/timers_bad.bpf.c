/* timers_bad.bpf.c -- a struct bpf_timer in a PERCPU_ARRAY value: Linux refuses the map (-EOPNOTSUPP). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct elem {
	struct bpf_timer t;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct elem);
} pc SEC(".maps");

SEC("syscall")
int use(void *ctx)
{
	__u32 k = 0;
	struct elem *v = bpf_map_lookup_elem(&pc, &k);
	return v ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
