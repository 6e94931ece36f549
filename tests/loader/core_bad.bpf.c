/* core_bad.bpf.c -- a CO-RE read of a kernel type bpfvm does not have: the load must fail naming it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

SEC("kprobe/do_exit")
int bad(struct task_struct *t)
{
	return BPF_CORE_READ(t, pid);
}

char LICENSE[] SEC("license") = "GPL";
