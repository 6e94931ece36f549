/* badsec.bpf.c -- a program in a section libbpf does not know. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("no_such_type/x")
int odd(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
