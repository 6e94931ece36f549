/* bench_cbpf.c -- packets per second of tcpdump filter expressions over examples/sample.pcap (frames in
 * memory), bpfvm beside libpcap:
 *   - "libpcap": pcap_offline_filter(), libpcap's own classic interpreter (bpf_filter()), on the frames
 *     and program below;
 *   - "interp" and "JIT": libpcap's classic program translated to eBPF (bpfvm_cbpf_load()) and run on
 *     each frame by a capture (bpfvm_capture_new(), bpfvm_capture_run()) on that engine, as `bpfvm
 *     filter` runs it;
 *   - "run_capture": the JIT through the one-call bpfvm_prog_run_capture() (program lookup and run state
 *     per frame), to show what a capture saves.
 * Each figure is the best of 3 rounds of at least 0.2 s each, timed by the thread's CPU clock, so that
 * other processes on a loaded machine count as little as they can (caches still suffer).  All must agree
 * on the number of matches, or the bench fails.  Run from the source tree: `make bench`. */
#include <errno.h>
#include <stdbool.h>
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
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct frames {
	size_t cnt;
	struct pcap_pkthdr *h;
	u_char **d;
};

/* How one pass runs the filter: libpcap (c and fd unused), a capture, or bpfvm_prog_run_capture(). */
enum how { LIBPCAP, CAPTURE, RUN_CAPTURE };

struct runner {
	enum how how;
	const struct bpf_program *bp;
	struct bpfvm *vm;
	int fd;
	struct bpfvm_capture *c;
};

/* One pass over all frames; returns matches. */
static unsigned long pass(const struct runner *r, const struct frames *f)
{
	unsigned long m = 0;
	for (size_t i = 0; i < f->cnt; i++) {
		uint32_t keep = 0;
		int err = 0;
		if (r->how == LIBPCAP)
			keep = (uint32_t)pcap_offline_filter(r->bp, &f->h[i], f->d[i]);
		else if (r->how == CAPTURE)
			err = bpfvm_capture_run(r->c, f->d[i], f->h[i].caplen, f->h[i].len, &keep);
		else
			err = bpfvm_prog_run_capture(r->vm, r->fd, f->d[i], f->h[i].caplen, f->h[i].len, &keep);
		if (err) {
			fprintf(stderr, "bench_cbpf: packet %zu: %s\n", i + 1, bpfvm_errmsg(r->vm));
			exit(1);
		}
		m += keep != 0;
	}
	return m;
}

static double rate(const struct runner *r, const struct frames *f, unsigned long *matches)
{
	double best = 0;
	for (int round = 0; round < 3; round++) {
		unsigned long pkts = 0;
		double t0 = now_s(), t;
		do {
			*matches = pass(r, f);
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
	printf("classic BPF filters over %s (%zu frames in memory), packets/s, best of 3:\n", SAMPLE, f.cnt);
	printf("  %-70s %5s %11s %11s %11s %6s %11s %7s\n", "expression", "insns", "libpcap", "interp", "JIT",
	       "JIT/lp", "run_capture", "matches");
	int rc = 0;
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		struct bpf_program bp;
		if (pcap_compile(p, &bp, exprs[e], 1, PCAP_NETMASK_UNKNOWN)) {
			fprintf(stderr, "bench_cbpf: '%s': %s\n", exprs[e], pcap_geterr(p));
			return 1;
		}
		int fd = bpfvm_cbpf_load(vm, bp.bf_insns, bp.bf_len, BPFVM_CBPF_SOCKET, "bench");
		if (fd < 0) {
			fprintf(stderr, "bench_cbpf: '%s': %s\n", exprs[e], bpfvm_errmsg(vm));
			return 1;
		}
		struct runner lp = { LIBPCAP, &bp, vm, fd, NULL }, in = { CAPTURE, NULL, vm, fd, NULL },
			      jit = { CAPTURE, NULL, vm, fd, NULL }, one = { RUN_CAPTURE, NULL, vm, fd, NULL };
		bool have_jit = true;
		if (bpfvm_capture_new(vm, fd, BPFVM_ENGINE_INTERP, &in.c)) {
			fprintf(stderr, "bench_cbpf: '%s': %s\n", exprs[e], bpfvm_errmsg(vm));
			return 1;
		}
		int err = bpfvm_capture_new(vm, fd, BPFVM_ENGINE_JIT, &jit.c);
		if (err == -EOPNOTSUPP) {
			have_jit = false;
		} else if (err) {
			fprintf(stderr, "bench_cbpf: '%s': %s\n", exprs[e], bpfvm_errmsg(vm));
			return 1;
		}
		unsigned long m_lp = 0, m_in = 0, m_jit = 0, m_one = 0;
		double r_lp = rate(&lp, &f, &m_lp), r_in = rate(&in, &f, &m_in);
		double r_jit = have_jit ? rate(&jit, &f, &m_jit) : 0, r_one = rate(&one, &f, &m_one);
		if (have_jit)
			printf("  %-70s %5u %11.0f %11.0f %11.0f %5.2fx %11.0f %7lu\n", exprs[e], bp.bf_len, r_lp, r_in, r_jit,
			       r_jit / r_lp, r_one, m_lp);
		else
			printf("  %-70s %5u %11.0f %11.0f %11s %6s %11.0f %7lu\n", exprs[e], bp.bf_len, r_lp, r_in, "no JIT", "-",
			       r_one, m_lp);
		if (m_in != m_lp || (have_jit && m_jit != m_lp) || m_one != m_lp) {
			fprintf(stderr, "bench_cbpf: '%s': matches differ: libpcap %lu, interp %lu, JIT %lu, run_capture %lu\n",
				exprs[e], m_lp, m_in, m_jit, m_one);
			rc = 1;
		}
		bpfvm_capture_free(in.c);
		bpfvm_capture_free(jit.c);
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
