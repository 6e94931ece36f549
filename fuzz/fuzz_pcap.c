/* fuzz_pcap.c -- arbitrary bytes as a capture file (pcap or pcapng, through libpcap) under
 * bpfvm_pcap_run(), with an XDP program that reads the frame, shrinks some with bpf_xdp_adjust_tail and
 * transmits or passes them, and an output capture.  Whatever the file, the run ends with 0 or a negative
 * errno and a message naming the file; never a crash, a leak or an output larger than the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpfvm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char prog_src[] =
	"mov %r6, %r1\n"
	"ldxw %r2, [%r6+0]\n"
	"ldxw %r3, [%r6+4]\n"
	"mov %r4, %r2\n"
	"add %r4, 14\n"
	"jgt %r4, %r3, pass\n"
	"ldxb %r0, [%r2+13]\n"      /* low byte of the EtherType picks the verdict */
	"and %r0, 3\n"
	"jne %r0, 3, out\n"
	"mov %r1, %r6\n"
	"mov %r2, -4\n"
	"call 65\n"                 /* bpf_xdp_adjust_tail(ctx, -4) */
	"mov %r0, 3\n"
	"out:\n"
	"exit\n"
	"pass:\n"
	"mov %r0, 2\n"
	"exit\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bpf_insn insns[64];
	char in_path[64], out_path[64];
	int in_fd = memfd_create("fuzz-in.pcap", 0), out_fd = memfd_create("fuzz-out.pcap", 0);
	struct bpfvm *vm = bpfvm_new(NULL);

	if (in_fd < 0 || out_fd < 0 || !vm)
		abort();
	if (size && write(in_fd, data, size) != (ssize_t)size)
		abort();
	long n = bpfvm_asm(vm, prog_src, insns, 64);
	int fd = n > 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "fuzz_xdp") : -1;
	if (fd < 0)
		abort(); /* the fixture itself must load */
	snprintf(in_path, sizeof(in_path), "/proc/self/fd/%d", in_fd);
	snprintf(out_path, sizeof(out_path), "/proc/self/fd/%d", out_fd);
	struct bpfvm_pcap_opts o;
	struct bpfvm_pkt_stats st;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.out_path = out_path;
	int err = bpfvm_pcap_run(vm, fd, in_path, &o, &st);
	if (err > 0 || (err && !strstr(bpfvm_errmsg(vm), in_path) && !strstr(bpfvm_errmsg(vm), out_path)))
		abort(); /* errors are negative and name the file */
	if (st.written > st.pkts || st.action[0] + st.action[1] + st.action[2] + st.action[3] + st.action[4] > st.pkts)
		abort();
	bpfvm_free(vm);
	close(in_fd);
	close(out_fd);
	return 0;
}
