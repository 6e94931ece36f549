// SPDX-License-Identifier: GPL-2.0
/* hook_prog.bpf.c -- a program for a host-defined hook (see hook_example.c): an admission check an
 * embedding server calls for every request.  Its context is the host's own struct request, not a kernel
 * type; SEC("syscall") gives it a plain-memory context, which is what bpfvm hooks run.
 *
 * It adds the request's bytes to a per-user total in a hash map and sets `verdict` (the one field the
 * hook lets programs write) to 1 when the user is over the quota, 0 otherwise.  Returns the new total
 * in KiB. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct request {          /* must match hook_example.c */
	__u32 uid;
	__u32 bytes;
	__u32 verdict;    /* writable */
	__u32 reserved;
};

const volatile __u64 quota_bytes = 10000;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} usage SEC(".maps");

SEC("syscall")
int admit(struct request *req)
{
	__u32 uid = req->uid;
	__u64 bytes = req->bytes, total = bytes;
	__u64 *cur = bpf_map_lookup_elem(&usage, &uid);

	if (cur)
		total = *cur + bytes;
	bpf_map_update_elem(&usage, &uid, &total, BPF_ANY);
	req->verdict = total > quota_bytes;
	return (int)(total / 1024);
}
