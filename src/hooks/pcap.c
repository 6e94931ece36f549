/* pcap.c -- bpfvm_pcap_run(): a program over every frame of a pcap or pcapng file (libpcap reads both),
 * PASS and TX frames written, as the program left them, to an output pcap.
 *
 * The capture file is untrusted: libpcap bounds every record, and its errors (truncated record, bad
 * block) come back as "path: packet N: <libpcap's reason>" with -EIO.  Only Ethernet captures
 * (DLT_EN10MB) are accepted: the programs expect an Ethernet frame at data. */
#include <errno.h>
/* libpcap's classic-BPF struct bpf_insn would clash with <linux/bpf.h>'s; we use no pcap filters. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <pcap/dlt.h>
#include <stdio.h>
#include <string.h>

#include "../sys.h"
#include "hooks.h"

static int open_in(struct bpfvm *vm, const char *path, pcap_t **out)
{
	char eb[PCAP_ERRBUF_SIZE] = "";
	FILE *f = fopen(path, "rb");

	if (!f) {
		int err = -errno;
		return sys_err(vm, err, "%s: %s", path, strerror(-err));
	}
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p) {
		fclose(f);
		return sys_err(vm, -EINVAL, "%s: not a pcap or pcapng file: %s", path, eb);
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		int dlt = pcap_datalink(p);
		const char *name = pcap_datalink_val_to_name(dlt);
		pcap_close(p);
		return sys_err(vm, -EINVAL, "%s: link type %d (%s) is not Ethernet", path, dlt, name ? name : "?");
	}
	*out = p;
	return 0;
}

int bpfvm_pcap_run(struct bpfvm *vm, int prog_fd, const char *path, const struct bpfvm_pcap_opts *opts,
		   struct bpfvm_pkt_stats *stats)
{
	struct bpfvm_pcap_opts o = { 0 };
	struct bpfvm_pkt_stats local;
	struct hook_src src;
	pcap_t *in = NULL, *dead = NULL;
	pcap_dumper_t *dump = NULL;
	int err;

	sys_log_reset(vm);
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!path)
		return sys_err(vm, -EINVAL, "pcap run: no input file");
	if (opts) {
		if (opts->sz < sizeof(size_t) || opts->sz > sizeof(o))
			return sys_err(vm, -EINVAL, "pcap run: opts.sz %zu unknown", opts->sz);
		memcpy(&o, opts, opts->sz);
	}
	err = hook_src_init(&src, vm, prog_fd, stats, o.cb, o.cb_ctx);
	if (err)
		return sys_err(vm, err, "%s: out of memory", path);
	err = open_in(vm, path, &in);
	if (err)
		goto out;
	if (o.out_path) {
		dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, HOOK_OUT_CAP, PCAP_TSTAMP_PRECISION_NANO);
		if (!dead) {
			err = sys_err(vm, -ENOMEM, "%s: out of memory", o.out_path);
			goto out;
		}
		dump = pcap_dump_open(dead, o.out_path);
		if (!dump) {
			err = sys_err(vm, -EIO, "%s: %s", o.out_path, pcap_geterr(dead));
			goto out;
		}
	}

	for (uint64_t index = 1;; index++) {
		struct pcap_pkthdr *h;
		const u_char *data;
		struct bpfvm_pkt_info info;
		int rc = pcap_next_ex(in, &h, &data);

		if (rc == PCAP_ERROR_BREAK)
			break;
		if (rc != 1) {
			err = sys_err(vm, -EIO, "%s: packet %llu: %s", path, (unsigned long long)index,
				      rc == PCAP_ERROR ? pcap_geterr(in) : "unreadable record");
			goto out;
		}
		if (h->caplen > HOOK_MAX_FRAME) {
			err = sys_err(vm, -EIO, "%s: packet %llu: %u bytes is more than a frame (%u)", path,
				      (unsigned long long)index, h->caplen, HOOK_MAX_FRAME);
			goto out;
		}
		uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec; /* nanoseconds */
		int run = hook_run_one(&src, data, h->caplen, index, ts, &info);
		if (run == -EINTR)
			break; /* bpfvm_interrupt() */
		if (run && run != -EINVAL && o.stop_on_error) {
			sys_log_reset(vm);
			err = sys_err(vm, run, "%s: packet %llu: %s", path, (unsigned long long)index, src.errmsg);
			goto out;
		}
		if (!run && hook_action_emits(info.res.action) && dump) {
			struct pcap_pkthdr oh = *h;
			/* The original wire length grows or shrinks with the program's change. */
			oh.caplen = info.res.len;
			oh.len = h->len - h->caplen + info.res.len;
			pcap_dump((u_char *)dump, &oh, info.data);
			info.written = 1;
		}
		if (hook_notify(&src, &info))
			break;
		if (o.max_pkts && index >= o.max_pkts)
			break;
	}
	if (dump && pcap_dump_flush(dump)) {
		err = sys_err(vm, -EIO, "%s: write error", o.out_path);
		goto out;
	}
	sys_log_reset(vm);
	err = 0;
out:
	if (dump)
		pcap_dump_close(dump);
	if (dead)
		pcap_close(dead);
	if (in)
		pcap_close(in);
	hook_src_fini(&src);
	return err;
}
