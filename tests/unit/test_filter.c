/* test_filter.c -- `bpfvm filter` against tcpdump, packet for packet: for each expression below, the
 * packets bpfvm's translation of libpcap's program matches are exactly the ones `tcpdump -r FILE -nn -tt
 * EXPR` prints (compared by capture time, unique in these files), and --count --interp agrees (the
 * listing runs on the default engine, the JIT where there is one, the count on the interpreter).  Two
 * files: the examples' sample (examples/sample.pcap: VLAN and QinQ, IPv6, ICMP, ARP, fragments, malformed
 * frames) and `bpfvm gen-pcap --extra` output (adds IPv6 extension header chains, IPv4 options, later
 * fragments, broadcast and multicast, more TCP flags and ICMP types, and frames captured cut short).  Every
 * expression matches something in at least one file, so none passes by matching nothing.  A third file has
 * another link type (the IP frames as LINKTYPE_RAW: other offsets, no link layer).  Then -w against tcpdump
 * -w, -d, and the errors: malformed expression, truncated file, missing file.  tcpdump missing: the
 * comparisons are skipped with the reason (scripts/deps.sh installs it). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char cli[PATH_MAX], dir[64], sample[PATH_MAX + 32], extra[128];
static const char *tcpdump;
static const char *stdout_path; /* spawn(): stdout to this file instead of a temporary one */

struct proc {
	int status;  /* exit status, -1 when the child did not exit normally */
	char *out;   /* stdout, malloc'd */
	char *err;   /* stderr, malloc'd */
};

static char *slurp(int fd)
{
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while (buf && (r = read(fd, buf + n, cap - 1 - n)) > 0) {
		n += (size_t)r;
		if (n + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (buf)
		buf[n] = 0;
	return buf;
}

static int tmpfd(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path);
	return fd;
}

static void proc_free(struct proc *p)
{
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
}

/* Runs argv[0] (a path) with argv; stdin empty. */
static bool spawn(struct proc *p, const char *const *argv)
{
	int fout = stdout_path ? open(stdout_path, O_RDWR | O_CREAT | O_TRUNC, 0644) : tmpfd("stdout"), ferr = tmpfd("stderr"), fin = open("/dev/null", O_RDONLY);
	memset(p, 0, sizeof(*p));
	p->status = -1;
	if (fout < 0 || ferr < 0 || fin < 0)
		goto fail;
	pid_t pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		dup2(fin, 0);
		dup2(fout, 1);
		dup2(ferr, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		goto fail;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	p->out = slurp(fout);
	p->err = slurp(ferr);
	close(fout);
	close(ferr);
	close(fin);
	return p->out && p->err;
fail:
	printf("  spawn %s: %s\n", argv[0], strerror(errno));
	if (fout >= 0)
		close(fout);
	if (ferr >= 0)
		close(ferr);
	if (fin >= 0)
		close(fin);
	return false;
}

#define SPAWN(p, ...) spawn((p), (const char *const[]){ __VA_ARGS__, NULL })

/* The capture times ("1700000000.000123") that start lines of out, in order: tcpdump -tt prints one
 * per packet (continuation lines start with blanks), bpfvm filter too. */
static size_t times(const char *out, char (*ts)[24], size_t max)
{
	size_t n = 0;
	for (const char *l = out; *l;) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l), t = 0;
		while (t < len && (l[t] == '.' || (l[t] >= '0' && l[t] <= '9')))
			t++;
		if (t > 11 && t < 24 && (t == len || l[t] == ' ')) {
			if (n < max) {
				memcpy(ts[n], l, t);
				ts[n][t] = 0;
			}
			n++;
		}
		l += len + (e != NULL);
	}
	return n;
}

static const char *const exprs[] = {
	/* hosts */
	"host 10.0.0.100", "src host 172.16.66.1", "dst host 10.0.0.16 or dst host 10.0.0.17",
	"host 2001:db8::81", "ip6 src host 2001:db8:1::110", "ether host 02:11:22:33:44:ee",
	/* nets */
	"net 198.51.100.0/24", "src net 203.0.113.128/25", "ip and not src net 203.0.113.0/24",
	"ip6 net 2001:db8:bad::/48", "dst net 10.0.0.0 mask 255.255.255.0", "src net 2001:db8:1::/64",
	/* ports and port ranges */
	"port 53", "tcp dst port 80", "udp src port 5353", "portrange 1024-2048", "tcp dst portrange 20-23",
	"ip6 and udp port 53", "port 80 and not udp", "udp dst portrange 60000-65535",
	/* protocols */
	"tcp", "udp", "icmp", "icmp6", "arp", "ip6", "ip proto 17", "ip6 proto 58", "ether proto 0x88b5",
	/* VLAN, the `vlan and ...` offsets, QinQ */
	"vlan", "vlan 15", "vlan and tcp port 80", "vlan and ip6", "vlan and vlan", "vlan and host 10.0.0.100",
	"udp and not vlan", "vlan and icmp[icmptype] = icmp-echo",
	/* IPv6 and its extension headers (protochain compiles to a loop Linux refuses: see errors) */
	"ip6[6] = 0", "ip6[6] = 0 and ip6[40] = 60", "ip6 and ip6[6] == 44", "ip6 and ip6[6] = 43",
	"ip6 and (ip6[6] = 0 or ip6[6] = 43 or ip6[6] = 60 or ip6[6] = 44)", "ip6 and tcp", "ip6 and ip6[6] = 60",
	/* TCP flags */
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] = tcp-syn", "tcp[tcpflags] & (tcp-rst|tcp-fin) != 0",
	"tcp[13] & 0xc0 != 0", "tcp[tcpflags] & tcp-urg != 0", "tcp[tcpflags] == tcp-syn|tcp-ack",
	/* ICMP types */
	"icmp[icmptype] = icmp-echo", "icmp[icmptype] = icmp-unreach and icmp[icmpcode] = 3",
	"icmp[icmptype] == icmp-timxceed", "icmp6[icmp6type] = icmp6-echoreply", "icmp6 and ip6[40] = 135",
	"icmp[0] != 8 and icmp[0] != 0",
	/* byte offsets with arithmetic */
	"ip[2:2] - ((ip[0] & 0xf) << 2) > 200", "ip[8] = 1", "ip[6:2] & 0x1fff != 0", "((ip[2:2] * 2) / 4) % 7 = 3",
	"ether[12:2] = 0x0800 and ip[9] + 1 = 18", "udp[4:2] - 8 < 50", "ip[0] & 0xf > 5", "ip[1] ^ 0xff = 0xff",
	"tcp[(tcp[12] >> 4) * 4 : 1] & 0x80 != 0", "ip[0] >> 4 != 4 and ether[12:2] = 0x800", "len - 14 > 1000",
	/* len, greater, less */
	"len > 1000", "len <= 64", "greater 500", "less 61",
	/* ether broadcast / multicast */
	"ether broadcast", "ether multicast", "not ether multicast", "ether dst 02:00:00:00:00:01",
	"ip multicast", "ip6 multicast",
	/* not / and / or */
	"(tcp or udp) and not port 53 and (src net 10.1.0.0/16 or src net 172.16.0.0/12)",
	"not (tcp or udp or icmp or icmp6 or arp)", "ip and (ip[8] < 2 or ip[6] & 0x20 != 0)",
	"icmp or (udp and len > 600)", "not ip and not ip6", "tcp and not (port 80 or port 443) or arp",
};

/* Every expression on one file: bpfvm's matches are tcpdump's; adds each expression's match count. */
static int compare_file(const char *file, const char *const *exprs_, size_t n_exprs, unsigned long *hits)
{
	static char want[8192][24], got[8192][24];
	int ok = 1;

	for (size_t i = 0; i < n_exprs; i++) {
		struct proc t, b, c;
		if (!SPAWN(&t, tcpdump, "-r", file, "-nn", "-tt", exprs_[i]))
			return 0;
		if (!SPAWN(&b, cli, "filter", exprs_[i], file)) {
			proc_free(&t);
			return 0;
		}
		/* the listing from the default engine (the JIT where there is one), the count from the
		 * interpreter: both must be tcpdump's */
		if (!SPAWN(&c, cli, "filter", exprs_[i], file, "--count", "--interp")) {
			proc_free(&t);
			proc_free(&b);
			return 0;
		}
		size_t nw = times(t.out, want, N(want)), ng = times(b.out, got, N(got));
		char count[32];
		snprintf(count, sizeof(count), "%zu\n", ng);
		if (t.status || b.status || c.status || nw != ng || nw > N(want) || strcmp(c.out, count)) {
			printf("  %s '%s': tcpdump %zu packets (status %d%s%.200s), bpfvm %zu (status %d %.200s), --count '%s'\n",
			       file, exprs_[i], nw, t.status, t.status ? ": " : "", t.status ? t.err : "", ng, b.status, b.err,
			       c.out);
			ok = 0;
		} else {
			for (size_t k = 0; k < nw; k++)
				if (strcmp(want[k], got[k])) {
					printf("  %s '%s': match %zu: tcpdump %s, bpfvm %s\n", file, exprs_[i], k + 1, want[k],
					       got[k]);
					ok = 0;
					break;
				}
		}
		hits[i] += ng;
		proc_free(&t);
		proc_free(&b);
		proc_free(&c);
	}
	return ok;
}

TEST(filter_matches_tcpdump)
{
	static unsigned long hits[N(exprs)];
	if (!tcpdump)
		SKIP("tcpdump not installed (scripts/deps.sh installs it)");
	CHECK(N(exprs) >= 40);
	CHECK(compare_file(sample, exprs, N(exprs), hits));
	CHECK(compare_file(extra, exprs, N(exprs), hits));
	for (size_t i = 0; i < N(exprs); i++)
		if (!hits[i]) {
			printf("  '%s' matches nothing in either file\n", exprs[i]);
			test_cur_failed = 1;
		}
}

static char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	char *buf = NULL;
	if (fd >= 0 && !fstat(fd, &st) && (buf = malloc((size_t)st.st_size + 1)) &&
	    read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		*len = (size_t)st.st_size;
	if (fd >= 0)
		close(fd);
	return buf;
}

/* -w writes the records tcpdump -w writes for the same expression, byte for byte (frames captured cut
 * short included), and the output reads back with every packet matching. */
TEST(filter_write)
{
	static const char expr[] = "vlan or ip6[6] = 0 or less 40";
	struct proc t, b, c;
	char out[128], theirs[128];
	if (!tcpdump)
		SKIP("tcpdump not installed (scripts/deps.sh installs it)");
	snprintf(out, sizeof(out), "%s/out.pcap", dir);
	snprintf(theirs, sizeof(theirs), "%s/theirs.pcap", dir);
	/* tcpdump may write its file as another user: let it write to its stdout, our file */
	stdout_path = theirs;
	bool ran = SPAWN(&t, tcpdump, "-r", extra, "-w", "-", expr);
	stdout_path = NULL;
	if (!ran || !SPAWN(&b, cli, "filter", expr, extra, "-w", out)) {
		CHECK(!"could not run tcpdump or bpfvm");
		return;
	}
	CHECK_EQ_U64(t.status, 0);
	CHECK_EQ_U64(b.status, 0);
	size_t tl = 0, ml = 0;
	char *tb = read_all(theirs, &tl), *mb = read_all(out, &ml);
	CHECK(tb && mb && tl == ml && tl > 24 + 16);
	CHECK(tb && mb && tl == ml && tl > 24 && !memcmp(tb + 24, mb + 24, tl - 24));
	free(tb);
	free(mb);
	size_t n = times(b.out, NULL, 0);
	CHECK(n > 10);
	if (SPAWN(&c, cli, "filter", expr, out, "--count")) {
		char want[32];
		snprintf(want, sizeof(want), "%zu\n", n);
		CHECK_EQ_U64(c.status, 0);
		CHECK_EQ_STR(c.out, want);
		proc_free(&c);
	}
	proc_free(&t);
	proc_free(&b);
}

static char *read_all(const char *path, size_t *len);

/* Another link type: the IPv4 and IPv6 frames of the --extra file without their Ethernet header, as
 * LINKTYPE_RAW (101), so libpcap compiles for offsets 14 bytes lower and no link layer. */
static const char *const raw_exprs[] = {
	"ip", "ip6", "tcp port 80", "udp and src net 10.1.0.0/16", "icmp[icmptype] = icmp-echo", "ip[0] & 0xf > 5",
	"ip6[6] = 0 and ip6[40] = 60", "ip6 and tcp", "len > 1000", "less 60", "ip multicast",
	"tcp[tcpflags] & (tcp-rst|tcp-syn) != 0 and not port 443", "host 10.0.0.100 or host 2001:db8::81",
};

TEST(filter_raw_link_type)
{
	static unsigned long hits[N(raw_exprs)];
	char raw[128];
	size_t len = 0;
	if (!tcpdump)
		SKIP("tcpdump not installed (scripts/deps.sh installs it)");
	snprintf(raw, sizeof(raw), "%s/raw.pcap", dir);
	char *in = read_all(extra, &len);
	FILE *f = fopen(raw, "wb");
	CHECK(in && f && len > 24);
	if (!in || !f || len <= 24) {
		free(in);
		if (f)
			fclose(f);
		return;
	}
	uint32_t lt = 101;
	memcpy(in + 20, &lt, 4);
	fwrite(in, 1, 24, f);
	size_t kept = 0;
	for (size_t off = 24; off + 16 <= len;) {
		uint32_t hdr[4];
		memcpy(hdr, in + off, 16);
		const uint8_t *d = (const uint8_t *)in + off + 16;
		size_t next = off + 16 + hdr[2];
		if (next > len)
			break;
		bool ip = hdr[2] > 14 && ((d[12] == 0x08 && d[13] == 0x00) || (d[12] == 0x86 && d[13] == 0xdd));
		if (ip) {
			hdr[2] -= 14, hdr[3] -= 14;
			fwrite(hdr, 1, 16, f);
			fwrite(d + 14, 1, hdr[2], f);
			kept++;
		}
		off = next;
	}
	CHECK(!fclose(f) && kept > 1500);
	free(in);
	CHECK(compare_file(raw, raw_exprs, N(raw_exprs), hits));
	for (size_t i = 0; i < N(raw_exprs); i++)
		if (!hits[i]) {
			printf("  '%s' matches nothing in the raw file\n", raw_exprs[i]);
			test_cur_failed = 1;
		}
	unlink(raw);
}

/* The records of a capture file: header of each (ts, caplen, len) and its bytes. */
struct rec {
	uint32_t sec, usec, caplen, len;
	const uint8_t *data;
};

static size_t records(const char *buf, size_t len, struct rec *r, size_t max)
{
	size_t n = 0;
	for (size_t off = 24; off + 16 <= len && n < max; n++) {
		memcpy(&r[n], buf + off, 16);
		r[n].data = (const uint8_t *)buf + off + 16;
		off += 16 + r[n].caplen;
		if (off > len)
			break;
	}
	return n;
}

/* -f: a classic program from a file (tcpdump -dd text here).  Its result is the bytes to keep: with
 * `ret #32` every packet matches and -w writes each cut to 32 bytes (or fewer when fewer were
 * captured), its length on the wire kept. */
TEST(filter_program_file)
{
	struct proc b;
	char prog[128], out[128], bad[128];
	snprintf(prog, sizeof(prog), "%s/prog.dd", dir);
	snprintf(out, sizeof(out), "%s/out.pcap", dir);
	snprintf(bad, sizeof(bad), "%s/bad.dd", dir);
	FILE *f = fopen(prog, "w");
	CHECK(f && fputs("{ 0x6, 0, 0, 0x00000020 },\n", f) >= 0 && !fclose(f));
	CHECK(SPAWN(&b, cli, "filter", "-f", prog, extra, "-w", out, "--count"));
	CHECK(b.status == 0 && !strcmp(b.out, "3000\n"));
	proc_free(&b);
	size_t il = 0, ol = 0;
	char *ib = read_all(extra, &il), *ob = read_all(out, &ol);
	static struct rec ir[4000], orr[4000];
	size_t ni = ib ? records(ib, il, ir, N(ir)) : 0, no = ob ? records(ob, ol, orr, N(orr)) : 0;
	CHECK(ni == 3000 && no == 3000);
	int cut = 0, ok = ni == no;
	for (size_t i = 0; ok && i < ni; i++) {
		uint32_t want = ir[i].caplen < 32 ? ir[i].caplen : 32;
		ok = orr[i].caplen == want && orr[i].len == ir[i].len && orr[i].sec == ir[i].sec &&
		     orr[i].usec == ir[i].usec && !memcmp(orr[i].data, ir[i].data, want);
		cut += ir[i].caplen > 32;
		if (!ok)
			printf("  record %zu: caplen %u len %u, input caplen %u len %u\n", i + 1, orr[i].caplen, orr[i].len,
			       ir[i].caplen, ir[i].len);
	}
	CHECK(ok && cut > 2000);
	free(ib);
	free(ob);

	/* the program is checked as Linux checks it; the message names the file and the insn */
	f = fopen(bad, "w");
	CHECK(f && fputs("{ 0x15, 0, 5, 0x00000800 },\n{ 0x6, 0, 0, 0x00040000 },\n", f) >= 0 && !fclose(f));
	CHECK(SPAWN(&b, cli, "filter", extra, "-f", bad));
	CHECK(b.status == 1 && strstr(b.err, "bad.dd: insn 0: jeq target") && strstr(b.err, "out of range"));
	proc_free(&b);
	CHECK(SPAWN(&b, cli, "filter", "-f", bad, "tcp", extra));
	CHECK(b.status == 2 && strstr(b.err, "unexpected"));
	proc_free(&b);
	/* -d lists a -f program too */
	CHECK(SPAWN(&b, cli, "filter", "-d", "-f", prog));
	CHECK(b.status == 0 && strstr(b.out, "classic BPF (1 insns):\n(000) ret      #32\n") &&
	      strstr(b.out, "w0 = 32\n"));
	proc_free(&b);
	unlink(bad);
	unlink(prog);
}

/* -d: the classic program as tcpdump -d prints it, then its eBPF translation. */
TEST(filter_dump)
{
	struct proc b, t;
	if (!SPAWN(&b, cli, "filter", "-d", "tcp port 80", sample)) {
		CHECK(!"could not run bpfvm");
		return;
	}
	CHECK_EQ_U64(b.status, 0);
	CHECK(strstr(b.out, "classic BPF (20 insns):\n(000) ldh      [12]\n") != NULL);
	CHECK(strstr(b.out, "(013) ldxb     4*([14]&0xf)\n") != NULL);
	CHECK(strstr(b.out, "\neBPF (") && strstr(b.out, "    0: w0 = 0\n") && strstr(b.out, "r0 = *(u16 *)skb[12]\n"));
	if (tcpdump && SPAWN(&t, tcpdump, "-r", sample, "-d", "tcp port 80")) {
		/* tcpdump's listing is the classic part exactly */
		const char *c = strchr(b.out, '\n');
		CHECK(c && !strncmp(c + 1, t.out, strlen(t.out)));
		proc_free(&t);
	}
	proc_free(&b);
}

/* Bad input: a clear error naming what and where, exit status 1 (2 for usage), never a crash. */
TEST(filter_errors)
{
	struct proc b;
	char trunc[128], path[128];

	CHECK(SPAWN(&b, cli, "filter", "tcp prt 80", sample));
	CHECK(b.status == 1 && strstr(b.err, "expression 'tcp prt 80'") && strstr(b.err, "syntax error"));
	proc_free(&b);
	CHECK(SPAWN(&b, cli, "filter", "ip6 protochain 6", sample));
	CHECK(b.status == 1 && strstr(b.err, "ja jumps back") && strstr(b.err, "protochain"));
	proc_free(&b);
	snprintf(path, sizeof(path), "%s/missing.pcap", dir);
	CHECK(SPAWN(&b, cli, "filter", "tcp", path));
	CHECK(b.status == 1 && strstr(b.err, "missing.pcap") && strstr(b.err, "No such file"));
	proc_free(&b);
	CHECK(SPAWN(&b, cli, "filter", "tcp"));
	CHECK(b.status == 2 && strstr(b.err, "no input file"));
	proc_free(&b);

	/* the sample cut inside its 11th record: the first 10 packets are filtered, then the error */
	int in = open(sample, O_RDONLY);
	snprintf(trunc, sizeof(trunc), "%s/trunc.pcap", dir);
	int out = open(trunc, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char buf[4096];
	ssize_t n = in >= 0 ? read(in, buf, sizeof(buf)) : -1;
	size_t off = 24;
	for (int i = 0; i < 10 && n > 0 && off + 16 <= (size_t)n; i++) {
		uint32_t caplen;
		memcpy(&caplen, buf + off + 8, 4);
		off += 16 + caplen;
	}
	CHECK(n > 0 && off + 20 < (size_t)n && out >= 0 && write(out, buf, off + 20) == (ssize_t)(off + 20));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	CHECK(SPAWN(&b, cli, "filter", "", trunc, "--count"));
	CHECK(b.status == 1 && strstr(b.err, "trunc.pcap: packet 11: truncated dump file"));
	proc_free(&b);
	CHECK(SPAWN(&b, cli, "filter", "", trunc));
	CHECK(b.status == 1 && times(b.out, NULL, 0) == 10);
	proc_free(&b);
	/* a file header cut short */
	out = open(trunc, O_WRONLY | O_TRUNC);
	CHECK(out >= 0 && write(out, buf, 10) == 10);
	if (out >= 0)
		close(out);
	CHECK(SPAWN(&b, cli, "filter", "tcp", trunc));
	CHECK(b.status == 1 && strstr(b.err, "trunc.pcap: ") && strstr(b.err, "truncated"));
	proc_free(&b);
}

int main(int argc, char **argv)
{
	(void)argc;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	/* <build>/tests/test_filter -> <build>/bpfvm; the source tree is <build>/.. */
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
	}
	snprintf(cli, sizeof(cli), "%.4000s/bpfvm", n > 0 ? self : argv[0]);
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(sample, sizeof(sample), "%.4000s/examples/sample.pcap", self);
	if (access(cli, X_OK) || access(sample, R_OK)) {
		printf("FAIL filter: %s or %s missing\n", cli, sample);
		return 1;
	}
	static const char *const tds[] = { "/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/sbin/tcpdump" };
	for (size_t i = 0; i < N(tds) && !tcpdump; i++)
		if (!access(tds[i], X_OK))
			tcpdump = tds[i];
	/* 0755: tcpdump, started as root, reads the files as user tcpdump on some systems */
	snprintf(dir, sizeof(dir), "/tmp/bpfvm-test-filter-%d", (int)getpid());
	if (mkdir(dir, 0755)) {
		printf("FAIL filter: mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(extra, sizeof(extra), "%s/extra.pcap", dir);
	struct proc g;
	if (!SPAWN(&g, cli, "gen-pcap", extra, "--extra", "--seed", "7", "--count", "3000") || g.status) {
		printf("FAIL filter: gen-pcap --extra: %s\n", g.err ? g.err : "");
		return 1;
	}
	proc_free(&g);
	RUN(filter_matches_tcpdump);
	RUN(filter_write);
	RUN(filter_raw_link_type);
	RUN(filter_program_file);
	RUN(filter_dump);
	RUN(filter_errors);
	static const char *const names[] = { "extra.pcap", "out.pcap", "theirs.pcap", "trunc.pcap" };
	for (size_t i = 0; i < N(names); i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	return test_done();
}
