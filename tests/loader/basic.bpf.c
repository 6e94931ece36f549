/* basic.bpf.c -- a loader test object: BTF and legacy maps, global data in every kind of section,
 * static and global subprograms, several programs in one section, a callback (lddw of a function), and
 * a prog array / map-in-map with initial slots.  tests/unit/test_loader.c runs its programs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* the legacy map definition (libbpf < 1.0) */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 16,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(key_size, 8);
	__uint(value_size, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} sized_hash SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

int tail_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

const volatile __u32 cfg_mult = 3;           /* .rodata */
const volatile __u64 cfg_add SEC(".rodata.cfg") = 100;
__u64 hits = 7;                              /* .data */
__u32 seen;                                  /* .bss */
__u64 custom_val SEC(".data.custom") = 40;
static __u32 static_counter = 5;             /* .data, reached through the section symbol */

static __attribute__((noinline)) __u64 twice(__u64 x)
{
	return x * 2;
}

__attribute__((noinline)) int global_add(int a, int b)
{
	return a + b + (int)twice(1);
}

SEC("xdp")
int xdp_first(struct xdp_md *ctx)
{
	__u32 k = 1;
	__u64 *v = bpf_map_lookup_elem(&counters, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	seen += 1;
	hits += 1;
	return XDP_PASS;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	return global_add(cfg_mult, 2) + (int)twice(3); /* 3+2+2 + 6 = 13 */
}

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return XDP_DROP;
}

static long loop_cb(__u32 idx, void *data)
{
	*(__u64 *)data += idx;
	return 0;
}

SEC("tc")
int tc_prog(struct __sk_buff *skb)
{
	__u64 sum = 0;
	bpf_loop(5, loop_cb, &sum, 0); /* 0+1+2+3+4 = 10 */
	return (int)(sum + cfg_add + custom_val + static_counter); /* 10 + 100 + 40 + 5 = 155 */
}

SEC("socket")
int sock_prog(struct __sk_buff *skb)
{
	__u32 k = 0;
	__u64 v = 42;
	bpf_map_update_elem(&legacy_hash, &k, &v, BPF_ANY);
	static_counter++;
	return twice(21); /* 42 */
}

SEC("kprobe/do_sys_open") int kp(void *ctx) { return 0; }
SEC("kretprobe/do_sys_open") int krp(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_open") int tp(void *ctx) { return 0; }
SEC("raw_tp/sys_enter") int rtp(void *ctx) { return 0; }
SEC("perf_event") int pe(void *ctx) { return 0; }
SEC("cgroup_skb/ingress") int cgi(struct __sk_buff *skb) { return 1; }
SEC("cgroup_skb/egress") int cge(struct __sk_buff *skb) { return 1; }
SEC("sk_skb/stream_verdict") int skv(struct __sk_buff *skb) { return 1; }
SEC("sockops") int sops(struct bpf_sock_ops *ctx) { return 1; }
SEC("tc/ingress") int tci(struct __sk_buff *skb) { return 0; }
SEC("tcx/egress") int tcxe(struct __sk_buff *skb) { return 0; }
SEC("xdp.frags") int xdpf(struct xdp_md *ctx) { return XDP_PASS; }
SEC("syscall") int sysc(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
