/* bench_pcap.c -- packets per second of the XDP firewall example (examples/xdp_firewall.bpf.o with its
 * blocklist) over examples/sample.pcap:
 *   - "firewall: N pkts/s": the program alone, bpfvm_prog_run_packet() on frames already in memory
 *     (best of 5 passes over the whole sample; every frame of a pass counts, runts excluded);
 *   - "firewall (pcap file): N pkts/s": bpfvm_pcap_run() end to end, libpcap reading included.
 * The per-source budget fills up in the first pass, so later passes measure the drop path of the flood
 * sources, as a long-running firewall would.  Run from the source tree: `make bench`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpfvm.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>

#define SAMPLE "examples/sample.pcap"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_block(struct bpfvm *vm, int fd, const void *key, uint32_t rule)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)&rule;
	return (int)bpfvm_bpf(vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a));
}

int main(int argc, char **argv)
{
	char obj_path[4200];
	const char *dir = argc > 1 ? argv[1] : NULL;
	char eb[PCAP_ERRBUF_SIZE];

	if (!dir) {
		/* <build>/bench/bench_pcap -> <build>/examples */
		static char d[4096];
		snprintf(d, sizeof(d), "%.4000s", argv[0]);
		char *s = strrchr(d, '/');
		if (s)
			*s = 0;
		s = strrchr(d, '/');
		if (s)
			*s = 0;
		else
			snprintf(d, sizeof(d), "build");
		dir = d;
	}
	snprintf(obj_path, sizeof(obj_path), "%.4000s/examples/xdp_firewall.bpf.o", dir);

	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpfvm_object *obj = NULL;
	if (!vm || bpfvm_object_open(vm, obj_path, &obj) || bpfvm_object_load(obj)) {
		fprintf(stderr, "bench_pcap: %s: %s", obj_path, vm ? bpfvm_errmsg(vm) : "no instance\n");
		return 1;
	}
	int prog = bpfvm_object_prog_fd(obj, "xdp_firewall");
	uint8_t k4a[8] = { 24, 0, 0, 0, 198, 51, 100, 0 }, k4b[8] = { 25, 0, 0, 0, 203, 0, 113, 128 };
	uint8_t k6[20] = { 48, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad };
	if (add_block(vm, bpfvm_object_map_fd(obj, "block_v4"), k4a, 1) ||
	    add_block(vm, bpfvm_object_map_fd(obj, "block_v4"), k4b, 2) ||
	    add_block(vm, bpfvm_object_map_fd(obj, "block_v6"), k6, 3)) {
		fprintf(stderr, "bench_pcap: blocklist: %s", bpfvm_errmsg(vm));
		return 1;
	}

	/* The sample in memory. */
	pcap_t *p = pcap_open_offline(SAMPLE, eb);
	if (!p) {
		fprintf(stderr, "bench_pcap: %s: %s (run from the source tree)\n", SAMPLE, eb);
		return 1;
	}
	size_t cnt = 0, cap = 4096;
	uint8_t **pkt = malloc(cap * sizeof(*pkt));
	uint32_t *len = malloc(cap * sizeof(*len));
	struct pcap_pkthdr *h;
	const u_char *d;
	while (pkt && len && cnt < cap && pcap_next_ex(p, &h, &d) == 1) {
		if (h->caplen < 14)
			continue;
		pkt[cnt] = malloc(h->caplen);
		memcpy(pkt[cnt], d, h->caplen);
		len[cnt++] = h->caplen;
	}
	pcap_close(p);

	static uint8_t out[65536 + 4096];
	double best = 0;
	for (int pass = 0; pass < 5; pass++) {
		double t0 = now_s();
		for (size_t i = 0; i < cnt; i++) {
			size_t ol;
			struct bpfvm_pkt_result res;
			if (bpfvm_prog_run_packet(vm, prog, pkt[i], len[i], out, sizeof(out), &ol, &res)) {
				fprintf(stderr, "bench_pcap: packet %zu: %s", i + 1, bpfvm_errmsg(vm));
				return 1;
			}
		}
		double rate = (double)cnt / (now_s() - t0);
		if (rate > best)
			best = rate;
	}
	printf("firewall: %.0f pkts/s (%zu packets x 5 passes, in memory, interpreter)\n", best, cnt);

	struct bpfvm_pkt_stats st;
	double t0 = now_s();
	if (bpfvm_pcap_run(vm, prog, SAMPLE, NULL, &st)) {
		fprintf(stderr, "bench_pcap: %s", bpfvm_errmsg(vm));
		return 1;
	}
	printf("firewall (pcap file): %.0f pkts/s (%llu packets, libpcap reading included)\n",
	       (double)st.pkts / (now_s() - t0), (unsigned long long)st.pkts);

	for (size_t i = 0; i < cnt; i++)
		free(pkt[i]);
	free(pkt);
	free(len);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return 0;
}
