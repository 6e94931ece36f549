/* cmd_filter.c -- `bpfvm filter 'EXPR' IN.pcap [-w OUT.pcap] [--count] [-d] [--interp]`: a tcpdump filter
 * expression run by bpfvm.  libpcap's pcap_compile() turns EXPR into a classic program for the file's
 * link type (as tcpdump -r does: optimised, netmask unknown); bpfvm checks and translates it to eBPF and
 * runs it on every packet as pcap_offline_filter() would (loads see the captured bytes, `len` is the
 * length on the wire).  The result is "bytes to keep", as with SO_ATTACH_FILTER: 0 drops the packet,
 * else -w writes it cut to that many bytes.
 *
 * `-f PROG` runs a classic program from a file instead (raw struct sock_filter bytes or the text tcpdump
 * -dd / -ddd / -d prints), e.g. one written for SO_ATTACH_FILTER.
 *
 * Output: one line per matching packet, "<sec>.<usec> #<n> <caplen>/<len> keep <k>" (n counts from 1,
 * the time is the capture's, as `tcpdump -tt` prints it); --count prints only the number of matches, a
 * bare integer on the last line; -d prints the classic program (`tcpdump -d`) and its eBPF translation
 * instead of running.  Progress goes to stderr when it is a terminal.
 *
 * The filter runs through a capture (bpfvm_capture_new()): on the JIT where there is one (x86-64), on
 * the interpreter with --interp. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpfvm.h>

/* pcap/bpf.h's struct bpf_program, whose insns have struct sock_filter's layout (code, jt, jf, k);
 * pcap/bpf.h itself is left out: its struct bpf_insn is linux/bpf.h's name for eBPF insns. */
struct bpf_program {
	unsigned int bf_len;
	struct sock_filter *bf_insns;
};
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>

#include "cmd.h"
#include "util.h"

#define DLT_EN10MB_ 1 /* pcap/dlt.h, not included with PCAP_DONT_INCLUDE_PCAP_BPF_H */

struct filter_opts {
	const char *expr, *in, *out;
	const char *prog_file; /* -f: a classic program instead of EXPR */
	bool count, dump, interp;
};

#define USAGE_FILTER "usage: bpfvm filter 'EXPR' IN.pcap [-w OUT.pcap] [--count] [-d] [--interp]\n" \
		     "       bpfvm filter -f PROG IN.pcap [-w OUT.pcap] [--count] [-d] [--interp]"

static void usage(FILE *f)
{
	fprintf(f, USAGE_FILTER "\n"
		   "  EXPR        a tcpdump/pcap-filter(7) expression, compiled by libpcap for IN's link type\n"
		   "  -w OUT      write the matching packets, each cut to the bytes the filter keeps\n"
		   "  --count     print only the number of matching packets (a bare integer)\n"
		   "  -f PROG     run a classic program from a file instead: raw struct sock_filter bytes, or the\n"
		   "              text tcpdump -dd, -ddd or -d prints\n"
		   "  -d          print the classic program and its eBPF translation, do not run\n"
		   "              (IN.pcap may then be omitted: Ethernet)\n"
		   "  --interp    run the filter in the interpreter (default: the x86-64 JIT where available)\n");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Prints the classic program and its translation (which also checks it). */
static int dump(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt)
{
	size_t need = bpfvm_cbpf_dump(prog, cnt, NULL, 0);
	char *text = malloc(need + 1);
	long n = bpfvm_cbpf_translate(vm, prog, cnt, BPFVM_CBPF_SOCKET, NULL, 0);
	int rc = 1;

	if (n < 0) {
		fprintf(stderr, "bpfvm filter: translation: %s\n", bpfvm_errmsg(vm));
		free(text);
		return 1;
	}
	struct bpf_insn *insns = malloc((size_t)n * sizeof(*insns));
	if (!text || !insns || bpfvm_cbpf_translate(vm, prog, cnt, BPFVM_CBPF_SOCKET, insns, (size_t)n) != n) {
		fprintf(stderr, "bpfvm filter: out of memory\n");
		goto out;
	}
	bpfvm_cbpf_dump(prog, cnt, text, need + 1);
	printf("classic BPF (%zu insns):\n%s", cnt, text);
	need = bpfvm_disasm(insns, (size_t)n, BPFVM_DISASM_PC, NULL, 0);
	char *etext = malloc(need + 1);
	if (!etext) {
		fprintf(stderr, "bpfvm filter: out of memory\n");
		goto out;
	}
	bpfvm_disasm(insns, (size_t)n, BPFVM_DISASM_PC, etext, need + 1);
	printf("\neBPF (%ld insns):\n%s", n, etext);
	free(etext);
	rc = 0;
out:
	free(insns);
	free(text);
	return rc;
}

/* 0, 1 for --help, or the exit status of a usage error (message printed). */
/* -f: the classic program in a file (raw or tcpdump text).  0, or -1 with a message. */
static int read_prog(struct bpfvm *vm, const char *path, struct bpf_program *bp)
{
	size_t len;
	uint8_t *src = tool_read_file(path, &len);
	if (!src)
		return -1;
	long n = bpfvm_cbpf_parse(vm, src, len, NULL, 0);
	if (n >= 0 && !(bp->bf_insns = calloc((size_t)n + 1, sizeof(*bp->bf_insns))))
		n = -ENOMEM;
	if (n >= 0)
		n = bpfvm_cbpf_parse(vm, src, len, bp->bf_insns, (size_t)n);
	free(src);
	if (n < 0) {
		fprintf(stderr, "bpfvm filter: %s: %s\n", path, n == -ENOMEM ? "out of memory\n" : bpfvm_errmsg(vm));
		return -1;
	}
	bp->bf_len = (unsigned int)n;
	return 0;
}

static int parse_args(int argc, char **argv, struct filter_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-w") && i + 1 < argc)
			o->out = argv[++i];
		else if (!strcmp(a, "-f") && i + 1 < argc)
			o->prog_file = argv[++i];
		else if (!strcmp(a, "-w") || !strcmp(a, "-f"))
			return tool_usage_error("filter", "missing the file after", USAGE_FILTER, a);
		else if (!strcmp(a, "--count") || !strcmp(a, "-c"))
			o->count = true;
		else if (!strcmp(a, "-d"))
			o->dump = true;
		else if (!strcmp(a, "--interp"))
			o->interp = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		else if (a[0] == '-' && a[1])
			return tool_usage_error("filter", "unknown option", USAGE_FILTER, a);
		else if (!o->expr && !o->prog_file && !o->in)
			o->expr = a;
		else if (!o->in)
			o->in = a;
		else
			return tool_usage_error("filter", "one input file only: unexpected", USAGE_FILTER, a);
	}
	if (o->prog_file && o->expr) { /* -f came after the first file name: that was IN */
		if (o->in)
			return tool_usage_error("filter", "-f and an expression: unexpected", USAGE_FILTER, o->expr);
		o->in = o->expr;
		o->expr = NULL;
	}
	if (!o->expr && !o->prog_file)
		return tool_usage_error("filter", "no expression given", USAGE_FILTER);
	if (!o->in && !o->dump)
		return tool_usage_error("filter", "no input file given", USAGE_FILTER);
	return 0;
}

int cmd_filter(int argc, char **argv)
{
	struct filter_opts o = { 0 };
	char eb[PCAP_ERRBUF_SIZE];
	struct bpf_program bp = { 0 }, own = { 0 }; /* own: from -f, malloc'd */
	char what[512];
	pcap_t *p = NULL;
	pcap_dumper_t *w = NULL;
	struct bpfvm *vm = NULL;
	struct bpfvm_capture *cap = NULL;
	int fd = -1, rc = 1;

	int a = parse_args(argc, argv, &o);
	if (a == 1) {
		usage(stdout);
		return 0;
	}
	if (a)
		return a;
	eb[0] = 0;
	if (o.expr)
		snprintf(what, sizeof(what), "expression '%.480s'", o.expr);
	p = o.in ? pcap_open_offline(o.in, eb) : pcap_open_dead(DLT_EN10MB_, 262144);
	if (!p) {
		fprintf(stderr, "bpfvm filter: %s: %s\n", o.in, eb[0] ? eb : "cannot open");
		return 1;
	}
	struct bpfvm_opts vo = { .sz = sizeof(vo), .interp = o.interp };
	vm = bpfvm_new(&vo);
	if (!vm) {
		fprintf(stderr, "bpfvm filter: cannot create an instance\n");
		goto out;
	}
	if (o.prog_file) {
		snprintf(what, sizeof(what), "%.500s", o.prog_file);
		if (read_prog(vm, o.prog_file, &own))
			goto out;
		bp.bf_insns = own.bf_insns;
		bp.bf_len = own.bf_len;
	} else if (pcap_compile(p, &bp, o.expr, 1, PCAP_NETMASK_UNKNOWN)) {
		/* as tcpdump -r: optimised, no netmask (so `ip broadcast` is refused by libpcap, not guessed) */
		fprintf(stderr, "bpfvm filter: expression '%s': %s\n", o.expr, pcap_geterr(p));
		goto out;
	}
	if (o.dump) {
		rc = dump(vm, bp.bf_insns, bp.bf_len);
		goto out;
	}
	fd = bpfvm_cbpf_load(vm, bp.bf_insns, bp.bf_len, BPFVM_CBPF_SOCKET, "filter");
	if (fd < 0 || bpfvm_capture_new(vm, fd, BPFVM_ENGINE_DEFAULT, &cap)) {
		fprintf(stderr, "bpfvm filter: %s: %s\n", what, bpfvm_errmsg(vm));
		goto out;
	}
	if (o.out && !(w = pcap_dump_open(p, o.out))) {
		fprintf(stderr, "bpfvm filter: %s: %s\n", o.out, pcap_geterr(p));
		goto out;
	}

	bool progress = isatty(STDERR_FILENO), shown = false;
	uint64_t last = mono_ns();
	unsigned long n = 0, matched = 0;
	struct pcap_pkthdr *h;
	const u_char *d;
	int r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		uint32_t keep = 0;
		n++;
		int err = bpfvm_capture_run(cap, d, h->caplen, h->len < h->caplen ? h->caplen : h->len, &keep);
		if (err) {
			if (shown)
				fputc('\n', stderr);
			fprintf(stderr, "bpfvm filter: %s: packet %lu: %s\n", o.in, n, bpfvm_errmsg(vm));
			goto out;
		}
		if (keep) {
			matched++;
			struct pcap_pkthdr oh = *h;
			if (oh.caplen > keep)
				oh.caplen = keep;
			if (w)
				pcap_dump((u_char *)w, &oh, d);
			if (!o.count) {
				if (shown) {
					fputs("\r\033[K", stderr);
					shown = false;
				}
				printf("%ld.%06ld #%lu %u/%u keep %u\n", (long)h->ts.tv_sec, (long)h->ts.tv_usec, n, h->caplen,
				       h->len, keep);
			}
		}
		if (progress && (n & 1023) == 0) {
			uint64_t now = mono_ns();
			if (now - last > 200000000u) {
				fflush(stdout); /* in order with the progress line when both go to the terminal */
				fprintf(stderr, "\r%lu packets, %lu matched...", n, matched);
				shown = true;
				last = now;
			}
		}
	}
	if (shown)
		fputs("\r\033[K", stderr);
	if (r == PCAP_ERROR) {
		/* libpcap: "truncated dump file; tried to read N captured bytes, only got M" and the like */
		fprintf(stderr, "bpfvm filter: %s: packet %lu: %s\n", o.in, n + 1, pcap_geterr(p));
		goto out;
	}
	if (w && (pcap_dump_flush(w) || ferror(pcap_dump_file(w)))) {
		fprintf(stderr, "bpfvm filter: %s: write error\n", o.out);
		goto out;
	}
	if (o.count)
		printf("%lu\n", matched);
	rc = 0;
out:
	if (w)
		pcap_dump_close(w);
	bpfvm_capture_free(cap);
	if (fd >= 0)
		bpfvm_close(vm, fd);
	bpfvm_free(vm);
	if (own.bf_insns)
		free(own.bf_insns);
	else if (bp.bf_insns)
		pcap_freecode(&bp);
	pcap_close(p);
	return rc;
}
