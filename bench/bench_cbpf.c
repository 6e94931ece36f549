/* bench_cbpf.c -- packets per second of tcpdump filter expressions over examples/sample.pcap (frames in
 * memory), bpfvm beside libpcap:
 *   - "bpfvm": libpcap's classic program translated to eBPF (bpfvm_cbpf_load()) and run by
 *     bpfvm_prog_run_capture() on each frame, as `bpfvm filter` runs it;
 *   - "libpcap": pcap_offline_filter(), libpcap's own classic interpreter (bpf_filter()), on the same
 *     frames and program.
 * Each figure is the best of 3 rounds of at least 0.2 s each.  The two must agree on the number of
 * matches, or the bench fails.  bpfvm has no JIT yet: the interpreter is the only engine measured.
 * Run from the source tree: `make bench`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpfvm.h>
/* pcap/bpf.h's struct bpf_program (insns laid out as struct sock_filter); pcap/bpf.h itself would clash
 * with linux/bpf.h's struct bpf_insn. */
struct bpf_program {
	unsigned int bf_len;
	struct sock_filter *bf_insns;
};
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>

#define SAMPLE "examples/sample.pcap"

static const char *const exprs[] = {
	"tcp port 80",
	"vlan and udp",
	"host 10.0.0.100 and tcp[tcpflags] & tcp-syn != 0",
	"ip6 and ip6[6] = 58",
	"icmp or (udp and len > 600) or (net 198.51.100.0/24 and not port 53)",
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct frames {
	size_t cnt;
	struct pcap_pkthdr *h;
	u_char **d;
};

/* Runs one engine over all frames; returns matches. */
static unsigned long pass(struct bpfvm *vm, int fd, const struct bpf_program *bp, const struct frames *f)
{
	unsigned long m = 0;
	for (size_t i = 0; i < f->cnt; i++) {
		uint32_t keep = 0;
		if (vm) {
			if (bpfvm_prog_run_capture(vm, fd, f->d[i], f->h[i].caplen, f->h[i].len, &keep)) {
				fprintf(stderr, "bench_cbpf: packet %zu: %s", i + 1, bpfvm_errmsg(vm));
				exit(1);
			}
		} else {
			keep = (uint32_t)pcap_offline_filter(bp, &f->h[i], f->d[i]);
		}
		m += keep != 0;
	}
	return m;
}

static double rate(struct bpfvm *vm, int fd, const struct bpf_program *bp, const struct frames *f,
		   unsigned long *matches)
{
	double best = 0;
	for (int round = 0; round < 3; round++) {
		unsigned long pkts = 0;
		double t0 = now_s(), t;
		do {
			*matches = pass(vm, fd, bp, f);
			pkts += f->cnt;
		} while ((t = now_s() - t0) < 0.2);
		if (pkts / t > best)
			best = (double)pkts / t;
	}
	return best;
}

int main(void)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(SAMPLE, eb);
	if (!p) {
		fprintf(stderr, "bench_cbpf: %s: %s (run from the source tree)\n", SAMPLE, eb);
		return 1;
	}
	struct frames f = { 0, calloc(8192, sizeof(*f.h)), calloc(8192, sizeof(*f.d)) };
	struct pcap_pkthdr *h;
	const u_char *d;
	while (f.h && f.d && f.cnt < 8192 && pcap_next_ex(p, &h, &d) == 1) {
		f.h[f.cnt] = *h;
		f.d[f.cnt] = malloc(h->caplen ? h->caplen : 1);
		if (!f.d[f.cnt])
			break;
		memcpy(f.d[f.cnt++], d, h->caplen);
	}
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm || !f.cnt) {
		fprintf(stderr, "bench_cbpf: setup failed\n");
		return 1;
	}
	printf("classic BPF filters over %s (%zu frames in memory), pkts/s; bpfvm has no JIT yet:\n", SAMPLE, f.cnt);
	int rc = 0;
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		struct bpf_program bp;
		if (pcap_compile(p, &bp, exprs[e], 1, PCAP_NETMASK_UNKNOWN)) {
			fprintf(stderr, "bench_cbpf: '%s': %s\n", exprs[e], pcap_geterr(p));
			return 1;
		}
		int fd = bpfvm_cbpf_load(vm, bp.bf_insns, bp.bf_len, BPFVM_CBPF_SOCKET, "bench");
		if (fd < 0) {
			fprintf(stderr, "bench_cbpf: '%s': %s", exprs[e], bpfvm_errmsg(vm));
			return 1;
		}
		unsigned long mv = 0, mp = 0;
		double rv = rate(vm, fd, NULL, &f, &mv), rp = rate(NULL, -1, &bp, &f, &mp);
		printf("  %-72s %4u insns  bpfvm interp %9.0f  libpcap %9.0f  (x%.2f)  %lu matches\n", exprs[e], bp.bf_len, rv,
		       rp, rv / rp, mv);
		if (mv != mp) {
			fprintf(stderr, "bench_cbpf: '%s': bpfvm matches %lu packets, libpcap %lu\n", exprs[e], mv, mp);
			rc = 1;
		}
		bpfvm_close(vm, fd);
		pcap_freecode(&bp);
	}
	for (size_t i = 0; i < f.cnt; i++)
		free(f.d[i]);
	free(f.d);
	free(f.h);
	pcap_close(p);
	bpfvm_free(vm);
	return rc;
}
