/* spin.bpf.c -- an XDP program that never ends on its own (test_cli_limits.c): it says it started, then
 * spins in a loop the compiler keeps (a volatile stack slot nobody changes).  Only the instruction
 * budget or an interrupt (SIGINT, SIGTERM) stops it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int spin(struct xdp_md *ctx)
{
	volatile int stop = 0;

	(void)ctx;
	bpf_printk("spinning");
	while (!stop)
		;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
