/* cli_events.bpf.c -- XDP programs for the `bpfvm run` CLI tests (test_examples.c, test_live.c):
 *   events: per packet a bpf_printk line, a ring buffer record and a perf event, all carrying the
 *           packet's number and length; passes every packet;
 *   slow:   spends ~0.5 ms per packet in bpf_loop so that the progress line appears, and prints a
 *           line every 512th packet (the progress line must not garble it);
 *   echo:   frames of ethertype 0x88b5 get byte 14 set to 0xaa and go back out (XDP_TX), with a line. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct rec {
	__u32 idx, len;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

__u32 seen;

SEC("xdp")
int events(struct xdp_md *ctx)
{
	struct rec r = { .idx = __sync_fetch_and_add(&seen, 1), .len = ctx->data_end - ctx->data };

	bpf_printk("pkt %u len %u", r.idx, r.len);
	bpf_ringbuf_output(&rb, &r, sizeof(r), 0);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return XDP_PASS;
}

static long spin(__u64 i, void *acc)
{
	*(__u64 *)acc += i;
	return 0;
}

SEC("xdp")
int slow(struct xdp_md *ctx)
{
	__u64 acc = 0;
	__u32 n = __sync_fetch_and_add(&seen, 1);

	bpf_loop(20000, spin, &acc, 0);
	if (n % 512 == 511)
		bpf_printk("slow %u", n);
	return acc ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int echo(struct xdp_md *ctx)
{
	__u8 *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	if (d + 16 > end || d[12] != 0x88 || d[13] != 0xb5)
		return XDP_PASS;
	d[14] = 0xaa;
	bpf_printk("echo %u", d[15]);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
