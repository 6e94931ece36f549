/* test_examples.c -- every example (examples/NAME.bpf.c) loaded and run on examples/sample.pcap, with the
 * verdict of every packet checked against a C model of the example written here from its comment
 * (not from bpfvm), plus the exact totals for the committed sample.  Also: output packets (the load
 * balancer's rewrites, checksums recomputed from scratch), maps after the run, ring buffer events,
 * pcapng input, and truncated/corrupt captures.
 *
 * The example objects are taken from <build>/examples (next to this binary's directory), or built
 * here with clang when that build has none (the sanitizer build); without clang the cases SKIP.
 * The model-checked cases run under the default engine (the JIT on x86-64) and again in the
 * interpreter (bpfvm_opts.interp). */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bpfvm.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include "test.h"
#include "test_util.h"

#define SAMPLE "examples/sample.pcap"
#define MAX_PKTS 8192

static char obj_dir[4096];
static int engine_interp;       /* the model-checked cases run twice: default engine (the JIT), interpreter */
static const char *skip_reason;
static bool obj_dir_is_temp;   /* built here: removed at exit */
static char cli_path[4200];     /* <build>/bpfvm next to this test, or "" */

/* ---- the sample, read with libpcap independently of src/hooks ---------------------------------- */

struct frame {
	uint8_t *data;
	uint32_t len;
};
static struct frame frames[MAX_PKTS];
static size_t frame_cnt;

static int read_sample(void)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(SAMPLE, eb);
	struct pcap_pkthdr *h;
	const u_char *d;

	if (!p)
		return -1;
	while (frame_cnt < MAX_PKTS && pcap_next_ex(p, &h, &d) == 1) {
		frames[frame_cnt].data = malloc(h->caplen ? h->caplen : 1);
		memcpy(frames[frame_cnt].data, d, h->caplen);
		frames[frame_cnt].len = h->caplen;
		frame_cnt++;
	}
	pcap_close(p);
	return 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* parse_eth() of examples/common.h: ethertype after at most two 802.1Q/802.1ad tags. */
static int m_eth(const struct frame *f, uint16_t *proto, uint32_t *off)
{
	uint32_t o = 14;
	if (f->len < 14)
		return -1;
	uint16_t p = be16(f->data + 12);
	for (int i = 0; i < 2 && (p == 0x8100 || p == 0x88a8); i++) {
		if (f->len < o + 4)
			return -1;
		p = be16(f->data + o + 2);
		o += 4;
	}
	*proto = p;
	*off = o;
	return 0;
}

enum { A_DROP = BPFVM_PKT_DROP, A_PASS = BPFVM_PKT_PASS, A_TX = BPFVM_PKT_TX };

/* ---- models ------------------------------------------------------------------------------------ */

struct fw_model {
	uint32_t src[1024][5]; /* key: 16-byte address as 4 words + count */
	size_t src_cnt;
	uint64_t blocked, rate, malformed, events;
};

static uint32_t *fw_count(struct fw_model *m, const uint8_t addr[16])
{
	for (size_t i = 0; i < m->src_cnt; i++)
		if (!memcmp(m->src[i], addr, 16))
			return &m->src[i][4];
	if (m->src_cnt == 1024)
		return NULL;
	memcpy(m->src[m->src_cnt], addr, 16);
	m->src[m->src_cnt][4] = 0;
	return &m->src[m->src_cnt++][4];
}

/* xdp_firewall with examples/xdp_firewall.maps and its .rodata defaults (budget 200, malformed: drop). */
static int m_firewall(struct fw_model *m, const struct frame *f)
{
	uint16_t proto;
	uint32_t off;
	uint8_t src[16] = { 0 };
	const uint8_t *d = f->data;

	if (m_eth(f, &proto, &off))
		return m->malformed++, A_DROP;
	if (proto == 0x0800) {
		if (f->len < off + 20 || d[off] >> 4 != 4 || (d[off] & 15) < 5 || f->len < off + (d[off] & 15u) * 4)
			return m->malformed++, A_DROP;
		const uint8_t *s = d + off + 12;
		if ((s[0] == 198 && s[1] == 51 && s[2] == 100) || (s[0] == 203 && s[1] == 0 && s[2] == 113 && s[3] >= 128))
			return m->blocked++, m->events++, A_DROP;
		src[10] = src[11] = 0xff;
		memcpy(src + 12, s, 4);
	} else if (proto == 0x86dd) {
		if (f->len < off + 40 || d[off] >> 4 != 6)
			return m->malformed++, A_DROP;
		const uint8_t *s = d + off + 8;
		static const uint8_t bad[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad };
		if (!memcmp(s, bad, 6))
			return m->blocked++, m->events++, A_DROP;
		memcpy(src, s, 16);
	} else {
		return A_PASS;
	}
	uint32_t *c = fw_count(m, src);
	if (!c)
		return -1;
	if (++*c > 200)
		return m->rate++, m->events++, A_DROP;
	return A_PASS;
}

struct backend {
	uint8_t addr[4], mac[6];
	uint16_t port; /* host order; 0: keep */
};
static const struct backend backends[4] = {
	{ { 10, 0, 1, 1 }, { 2, 0, 0, 0, 1, 1 }, 0 },
	{ { 10, 0, 1, 2 }, { 2, 0, 0, 0, 1, 2 }, 8080 },
	{ { 10, 0, 1, 3 }, { 2, 0, 0, 0, 1, 3 }, 0 },
	{ { 10, 0, 1, 4 }, { 2, 0, 0, 0, 1, 4 }, 0 },
};

/* xdp_lb with examples/xdp_lb.maps: returns the action and the backend slot in *be. */
static int m_lb(const struct frame *f, int *be)
{
	uint16_t proto;
	uint32_t off;
	const uint8_t *d = f->data;

	*be = -1;
	if (m_eth(f, &proto, &off) || proto != 0x0800)
		return A_PASS;
	if (f->len < off + 20)
		return A_DROP;
	const uint8_t *ip = d + off;
	if (ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
		return A_DROP;
	if (ip[9] != 6 && ip[9] != 17)
		return A_PASS;
	if (be16(ip + 6) & 0x3fff)
		return A_PASS;
	if (ip[16] != 10 || ip[17] != 0 || ip[18] != 0 || ip[19] != 100)
		return A_PASS;
	uint32_t l4 = off + (ip[0] & 15u) * 4;
	if (f->len < l4 + (ip[9] == 6 ? 20 : 8))
		return A_DROP;
	if (be16(d + l4 + 2) != 80)
		return A_PASS;
	uint32_t h = 2166136261u;
	for (int i = 0; i < 4; i++)
		h = (h ^ ip[12 + i]) * 16777619u;
	for (int i = 0; i < 4; i++)
		h = (h ^ ip[16 + i]) * 16777619u;
	for (int i = 0; i < 4; i++)
		h = (h ^ d[l4 + i]) * 16777619u;
	h = (h ^ ip[9]) * 16777619u;
	*be = (int)(h % 4);
	return A_TX;
}

/* socket_filter: TCP to 80/443 over IPv4/IPv6, skb->protocol from the outer ethertype. */
static int m_socket(const struct frame *f)
{
	const uint8_t *d = f->data;
	uint16_t proto = be16(d + 12);
	uint32_t l4;
	uint8_t l4p;

	if (proto == 0x0800) {
		if (f->len < 34 || d[14] >> 4 != 4 || (d[14] & 15) < 5 || (be16(d + 20) & 0x1fff))
			return A_DROP;
		l4p = d[23];
		l4 = 14 + (d[14] & 15u) * 4;
	} else if (proto == 0x86dd) {
		if (f->len < 54)
			return A_DROP;
		l4p = d[20];
		l4 = 54;
	} else {
		return A_DROP;
	}
	if (l4p != 6 || f->len < l4 + 4)
		return A_DROP;
	uint16_t dport = be16(d + l4 + 2);
	return dport == 80 || dport == 443 ? A_PASS : A_DROP;
}

enum { C_OTHER, C_INTERACTIVE, C_WEB, C_BULK, C_SHOT };

static int m_tc(const struct frame *f)
{
	uint16_t proto;
	uint32_t off;
	const uint8_t *d = f->data;
	uint8_t l4;

	if (m_eth(f, &proto, &off))
		return C_OTHER;
	if (proto == 0x0800) {
		if (f->len < off + 20 || (d[off] & 15) < 5)
			return C_OTHER;
		if (d[off + 8] <= 1)
			return C_SHOT;
		l4 = d[off + 9];
		uint32_t frag = be16(d + off + 6) & 0x1fff;
		off += (d[off] & 15u) * 4;
		if (frag)
			return C_BULK;
	} else if (proto == 0x86dd) {
		if (f->len < off + 40)
			return C_OTHER;
		if (d[off + 7] <= 1)
			return C_SHOT;
		l4 = d[off + 6];
		off += 40;
	} else {
		return C_OTHER;
	}
	if (l4 == 1 || l4 == 58)
		return C_INTERACTIVE;
	if (l4 != 6 && l4 != 17)
		return C_BULK;
	if (off > 128 || f->len < off + 4)
		return C_BULK;
	uint16_t s = be16(d + off), t = be16(d + off + 2);
	if (s == 23 || t == 23)
		return C_SHOT;
	if (s == 22 || t == 22 || s == 53 || t == 53)
		return C_INTERACTIVE;
	if (l4 == 6 && (s == 80 || t == 80 || s == 443 || t == 443))
		return C_WEB;
	return C_BULK;
}

/* tail_calls: returns the action; *slot the handler that ran (-1: none, 3: no handler). */
static int m_tail(const struct frame *f, int *slot)
{
	uint16_t proto;
	uint32_t off;
	const uint8_t *d = f->data;
	uint8_t l4;

	*slot = -1;
	if (m_eth(f, &proto, &off))
		return A_PASS;
	if (proto == 0x0800) {
		if (f->len < off + 20 || (d[off] & 15) < 5)
			return A_PASS;
		l4 = d[off + 9];
		off += (d[off] & 15u) * 4;
	} else if (proto == 0x86dd) {
		if (f->len < off + 40)
			return A_PASS;
		l4 = d[off + 6];
		off += 40;
	} else {
		return A_PASS;
	}
	if (l4 == 6) {
		*slot = 0;
		if (off > 128 || f->len < off + 20)
			return A_PASS;
		uint8_t fl = d[off + 13];
		return (fl & 0x02) && !(fl & 0x10) && be16(d + off + 2) == 23 ? A_DROP : A_PASS;
	}
	if (l4 == 17) {
		*slot = 1;
		if (off > 128 || f->len < off + 8)
			return A_PASS;
		return be16(d + off + 2) == 19 ? A_DROP : A_PASS;
	}
	if (l4 == 1 || l4 == 58) {
		*slot = 2;
		if (off > 128 || f->len < off + 1)
			return A_PASS;
		bool echo = l4 == 1 ? d[off] == 8 : d[off] == 128;
		return echo && f->len > 256 ? A_DROP : A_PASS;
	}
	*slot = 3;
	return A_PASS;
}

/* ---- running the objects ---------------------------------------------------------------------- */

static int find_objects(const char *argv0)
{
	static const char *const names[] = { "xdp_firewall", "xdp_lb", "socket_filter", "tc_classifier", "tail_calls" };
	char path[4400];
	struct stat sb;

	if (strlen(argv0) > 4000)
		return -1;

	snprintf(obj_dir, sizeof(obj_dir), "%s", argv0);
	char *slash = strrchr(obj_dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(obj_dir, sizeof(obj_dir), ".");
	snprintf(cli_path, sizeof(cli_path), "%.4000s/../bpfvm", obj_dir);
	if (stat(cli_path, &sb))
		cli_path[0] = 0;
	snprintf(path, sizeof(path), "%.4000s/../examples/xdp_firewall.bpf.o", obj_dir);
	if (!stat(path, &sb)) {
		snprintf(path, sizeof(path), "%.4000s/../examples", obj_dir);
		snprintf(obj_dir, sizeof(obj_dir), "%.4000s", path);
		return 0;
	}
	if (system("command -v clang >/dev/null 2>&1")) {
		skip_reason = "no example objects next to this build and no clang to build them";
		return -1;
	}
	char tmpl[] = "/tmp/bpfvm-examples-XXXXXX";
	if (!mkdtemp(tmpl)) {
		skip_reason = "mkdtemp failed";
		return -1;
	}
	snprintf(obj_dir, sizeof(obj_dir), "%s", tmpl);
	obj_dir_is_temp = true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char src[512], out[4200];
		snprintf(src, sizeof(src), "examples/%s.bpf.c", names[i]);
		snprintf(out, sizeof(out), "%.4000s/%s.bpf.o", obj_dir, names[i]);
		if (test_clang(src, out, NULL)) {
			skip_reason = "clang could not build the examples";
			return -1;
		}
	}
	/* the old-style ones as the Makefile builds them into <build>/examples/legacy */
	char cmd[9000];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/legacy && for f in examples/legacy/*_kern.c; do clang -O2 -g -target bpf -mcpu=v3 "
		 "-I/usr/include/$(uname -m)-linux-gnu -Wall -Werror -c $f -o %s/legacy/$(basename $f .c).o || exit 1; done",
		 obj_dir, obj_dir);
	if (system(cmd)) {
		skip_reason = "clang could not build examples/legacy";
		return -1;
	}
	return 0;
}

struct pkt_rec {
	int action;           /* -1: not run */
	uint64_t retval;
	uint32_t out_len;
	uint8_t *out;         /* kept for TX/PASS when asked */
};

struct run_ctx {
	struct pkt_rec rec[MAX_PKTS];
	bool keep_data;
	uint64_t cb_calls;
};

static int on_pkt(void *ctx, const struct bpfvm_pkt_info *p)
{
	struct run_ctx *rc = ctx;
	if (p->index == 0 || p->index > MAX_PKTS)
		return 1;
	struct pkt_rec *r = &rc->rec[p->index - 1];
	rc->cb_calls++;
	r->action = p->err ? -1 : (int)p->res.action;
	r->retval = p->res.retval;
	r->out_len = p->res.len;
	if (rc->keep_data && !p->err) {
		r->out = malloc(p->res.len ? p->res.len : 1);
		memcpy(r->out, p->data, p->res.len);
	}
	return 0;
}

struct loaded {
	struct bpfvm *vm;
	struct bpfvm_object *obj;
	int prog;
};

static int load_example_mode(struct loaded *l, const char *name, const char *prog, const char *map_file,
			     int untrusted)
{
	char path[4400];
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .untrusted = untrusted, .interp = engine_interp };

	memset(l, 0, sizeof(*l));
	snprintf(path, sizeof(path), "%.4000s/%.64s.bpf.o", obj_dir, name);
	l->vm = bpfvm_new(&o);
	if (!l->vm)
		return -1;
	if (bpfvm_object_open(l->vm, path, &l->obj) || bpfvm_object_load(l->obj)) {
		printf("  %s: %s", path, bpfvm_errmsg(l->vm));
		return -1;
	}
	l->prog = bpfvm_object_prog_fd(l->obj, prog);
	if (l->prog < 0)
		return -1;
	if (map_file) {
		/* The same file the CLI reads: MAP KEYHEX VALUEHEX (value may contain spaces). */
		FILE *f = fopen(map_file, "r");
		char line[1024];
		if (!f)
			return -1;
		while (fgets(line, sizeof(line), f)) {
			char mname[64], khex[256];
			int used = 0;
			if (line[0] == '#' || line[0] == '\n' || sscanf(line, "%63s %255s %n", mname, khex, &used) != 2)
				continue;
			uint8_t key[64], val[64];
			size_t kl = 0, vl = 0;
			for (const char *s = khex; s[0] && s[1] && kl < sizeof(key); s += 2)
				sscanf(s, "%2hhx", &key[kl++]);
			for (const char *s = line + used; *s && vl < sizeof(val);) {
				if (s[0] == ' ' || s[0] == '\n' || s[0] == '\t') {
					s++;
					continue;
				}
				sscanf(s, "%2hhx", &val[vl++]);
				s += 2;
			}
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)bpfvm_object_map_fd(l->obj, mname);
			a.key = (uintptr_t)key;
			a.value = (uintptr_t)val;
			if (bpfvm_bpf(l->vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a))) {
				printf("  %s: %s", map_file, bpfvm_errmsg(l->vm));
				fclose(f);
				return -1;
			}
		}
		fclose(f);
	}
	return 0;
}

static int load_example(struct loaded *l, const char *name, const char *prog, const char *map_file)
{
	return load_example_mode(l, name, prog, map_file, 0);
}

static void unload(struct loaded *l)
{
	bpfvm_object_close(l->obj);
	bpfvm_free(l->vm);
}

static int lookup(struct loaded *l, const char *map, const void *key, void *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)bpfvm_object_map_fd(l->obj, map);
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)val;
	return (int)bpfvm_bpf(l->vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
}

static struct run_ctx *run_sample(struct loaded *l, bool keep, const char *out, struct bpfvm_pkt_stats *st)
{
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	struct bpfvm_pcap_opts po = { .sz = sizeof(po), .cb = on_pkt, .cb_ctx = rc, .out_path = out };

	rc->keep_data = keep;
	for (size_t i = 0; i < MAX_PKTS; i++)
		rc->rec[i].action = -1;
	int err = bpfvm_pcap_run(l->vm, l->prog, SAMPLE, &po, st);
	if (err) {
		printf("  pcap run: %d %s", err, bpfvm_errmsg(l->vm));
		free(rc);
		return NULL;
	}
	return rc;
}

static void free_run(struct run_ctx *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < MAX_PKTS; i++)
		free(rc->rec[i].out);
	free(rc);
}

#define NEED_SETUP() do { if (skip_reason) SKIP(skip_reason); } while (0)

/* ---- cases -------------------------------------------------------------------------------------- */

/* The examples are well-behaved programs: an untrusted instance (Linux's unprivileged rules checked at
 * run time) must run them exactly as a trusted one, packet for packet. */
TEST(examples_untrusted)
{
	NEED_SETUP();
	static const char *const ex[][3] = {
		{ "xdp_firewall", "xdp_firewall", "examples/xdp_firewall.maps" },
		{ "xdp_lb", "xdp_lb", "examples/xdp_lb.maps" },
		{ "socket_filter", "socket_web_only", NULL },
		{ "tc_classifier", "tc_classify", NULL },
		{ "tail_calls", "dispatch", NULL },
	};
	for (size_t e = 0; e < sizeof(ex) / sizeof(ex[0]); e++) {
		struct loaded l[2];
		struct run_ctx *rc[2] = { NULL, NULL };
		struct bpfvm_pkt_stats st[2];
		for (int u = 0; u < 2; u++) {
			memset(&st[u], 0, sizeof(st[u]));
			if (load_example_mode(&l[u], ex[e][0], ex[e][1], ex[e][2], u)) {
				CHECK(!"example loads");
				continue;
			}
			rc[u] = run_sample(&l[u], true, NULL, &st[u]);
			CHECK(rc[u] != NULL);
		}
		if (rc[0] && rc[1]) {
			CHECK(st[1].errors == 0);
			CHECK(!memcmp(&st[0], &st[1], sizeof(st[0])));
			size_t diff = 0;
			for (size_t i = 0; i < MAX_PKTS; i++) {
				const struct pkt_rec *a = &rc[0]->rec[i], *b = &rc[1]->rec[i];
				if (a->action != b->action || a->retval != b->retval || a->out_len != b->out_len ||
				    (a->out && b->out && memcmp(a->out, b->out, a->out_len)))
					diff++;
			}
			if (diff)
				printf("  %s: %zu packets differ\n", ex[e][0], diff);
			CHECK(diff == 0);
		}
		for (int u = 0; u < 2; u++) {
			free_run(rc[u]);
			unload(&l[u]);
		}
	}
}

TEST(sample_is_as_generated)
{
	NEED_SETUP();
	CHECK_EQ_U64(frame_cnt, 3000);
	size_t runts = 0;
	for (size_t i = 0; i < frame_cnt; i++)
		runts += frames[i].len < 14;
	CHECK_EQ_U64(runts, 6);
}

TEST(firewall)
{
	NEED_SETUP();
	struct loaded l;
	struct bpfvm_pkt_stats st;
	if (load_example(&l, "xdp_firewall", "xdp_firewall", "examples/xdp_firewall.maps")) {
		CHECK(0);
		return;
	}
	/* Count events as the ring buffer delivers them, polling after every packet. */
	struct run_ctx *rc = run_sample(&l, false, NULL, &st);
	CHECK(rc != NULL);
	if (!rc) {
		unload(&l);
		return;
	}
	struct fw_model *m = calloc(1, sizeof(*m));
	uint64_t want[5] = { 0 }, mismatch = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		if (frames[i].len < 14) {
			CHECK(rc->rec[i].action == -1);
			continue;
		}
		int a = m_firewall(m, &frames[i]);
		want[a]++;
		if (rc->rec[i].action != a && mismatch++ < 5)
			printf("  packet %zu: action %d, model %d\n", i + 1, rc->rec[i].action, a);
	}
	CHECK_EQ_U64(mismatch, 0);
	CHECK_EQ_U64(st.action[A_DROP], want[A_DROP]);
	CHECK_EQ_U64(st.action[A_PASS], want[A_PASS]);
	/* The committed sample: exact totals. */
	CHECK_EQ_U64(st.pkts, 2994);
	CHECK_EQ_U64(st.skipped, 6);
	CHECK_EQ_U64(st.errors, 0);
	CHECK_EQ_U64(st.action[A_DROP], 500);
	CHECK_EQ_U64(st.action[A_PASS], 2494);
	CHECK_EQ_U64(m->blocked, 120);
	CHECK_EQ_U64(m->rate, 336);
	CHECK_EQ_U64(m->malformed, 44);

	/* stats (per-CPU, summed) agree with the model. */
	uint64_t v[2];
	uint32_t k;
	uint64_t stat[13] = { 0 };
	for (k = 0; k < 13; k++) {
		CHECK(lookup(&l, "stats", &k, v) == 0);
		stat[k] = v[0] + v[1];
	}
	CHECK_EQ_U64(stat[1], m->blocked);
	CHECK_EQ_U64(stat[2], m->rate);
	CHECK_EQ_U64(stat[3], m->malformed);
	CHECK_EQ_U64(stat[0], want[A_PASS]);
	CHECK_EQ_U64(stat[12], 0); /* no event lost */
	/* The flood sources: counted packets, over the budget of 200. */
	for (uint8_t s = 1; s <= 3; s++) {
		uint8_t key[16] = { [10] = 0xff, [11] = 0xff, [12] = 172, [13] = 16, [14] = 66, [15] = s };
		uint64_t val[2];
		uint32_t *c = fw_count(m, key);
		CHECK(lookup(&l, "sources", key, val) == 0);
		CHECK_EQ_U64(val[0], *c);
		CHECK(val[0] > 200);
	}
	/* A blocked source is never counted. */
	uint8_t blocked[16] = { [10] = 0xff, [11] = 0xff, [12] = 198, [13] = 51, [14] = 100 };
	uint64_t val[2];
	int hits = 0;
	for (int h = 1; h < 255; h++) {
		blocked[15] = (uint8_t)h;
		hits += lookup(&l, "sources", blocked, val) == 0;
	}
	CHECK_EQ_U64(hits, 0);
	free(m);
	free_run(rc);
	unload(&l);
}

struct ev_count {
	uint64_t n, blocked, rate;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_count *e = ctx;
	uint32_t reason;
	if (size != 32)
		return 0;
	memcpy(&reason, data, 4);
	e->n++;
	e->blocked += reason == 1;
	e->rate += reason == 2;
	return 0;
}

static struct bpfvm_ringbuf *ev_rb;
static int poll_ev(void *ctx, const struct bpfvm_pkt_info *p)
{
	(void)ctx, (void)p;
	bpfvm_ringbuf_poll(ev_rb, 0);
	return 0;
}

TEST(firewall_events)
{
	NEED_SETUP();
	struct loaded l;
	struct ev_count e = { 0 };
	if (load_example(&l, "xdp_firewall", "xdp_firewall", "examples/xdp_firewall.maps")) {
		CHECK(0);
		return;
	}
	CHECK(bpfvm_ringbuf_new(l.vm, bpfvm_object_map_fd(l.obj, "events"), on_event, &e, &ev_rb) == 0);
	struct bpfvm_pcap_opts po = { .sz = sizeof(po), .cb = poll_ev };
	CHECK(bpfvm_pcap_run(l.vm, l.prog, SAMPLE, &po, NULL) == 0);
	bpfvm_ringbuf_poll(ev_rb, 0);
	CHECK_EQ_U64(e.blocked, 120);
	CHECK_EQ_U64(e.rate, 336);
	CHECK_EQ_U64(e.n, 456);
	bpfvm_ringbuf_free(ev_rb);
	unload(&l);
}

static uint32_t csum_add(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

TEST(load_balancer)
{
	NEED_SETUP();
	struct loaded l;
	struct bpfvm_pkt_stats st;
	char out[] = "/tmp/bpfvm-lb-out-XXXXXX";
	int ofd = mkstemp(out);
	CHECK(ofd >= 0);
	close(ofd);
	if (load_example(&l, "xdp_lb", "xdp_lb", "examples/xdp_lb.maps")) {
		CHECK(0);
		return;
	}
	struct run_ctx *rc = run_sample(&l, true, out, &st);
	CHECK(rc != NULL);
	if (!rc) {
		unload(&l);
		return;
	}
	uint64_t want[5] = { 0 }, per_be[4] = { 0 }, mismatch = 0, bad_rewrite = 0, bad_csum = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		const struct frame *f = &frames[i];
		int be;
		if (f->len < 14)
			continue;
		int a = m_lb(f, &be);
		want[a]++;
		struct pkt_rec *r = &rc->rec[i];
		if (r->action != a) {
			if (mismatch++ < 5)
				printf("  packet %zu: action %d, model %d\n", i + 1, r->action, a);
			continue;
		}
		if (a != A_TX) {
			bad_rewrite += r->out_len != f->len || memcmp(r->out, f->data, f->len);
			continue;
		}
		per_be[be]++;
		/* Rewritten: MACs, daddr, port; everything else as it came. */
		uint16_t proto;
		uint32_t off;
		m_eth(f, &proto, &off);
		const uint8_t *o = r->out, *ip = o + off;
		uint32_t ihl = (ip[0] & 15u) * 4, l4 = off + ihl;
		bool ok = r->out_len == f->len && !memcmp(o, backends[be].mac, 6) && !memcmp(o + 6, f->data, 6) &&
			  !memcmp(ip + 16, backends[be].addr, 4) && !memcmp(ip + 12, f->data + off + 12, 4) &&
			  be16(o + l4 + 2) == (backends[be].port ? backends[be].port : 80);
		bad_rewrite += !ok;
		/* Checksums from scratch: IPv4 header, then TCP/UDP over the pseudo-header. */
		uint32_t tot = be16(ip + 2);
		bool ip_ok = csum_fold(csum_add(ip, ihl, 0)) == 0xffff;
		uint32_t l4_len = tot - ihl;
		uint32_t ps = csum_add(ip + 12, 8, 0) + ip[9] + l4_len;
		bool udp_nock = ip[9] == 17 && be16(o + l4 + 6) == 0;
		bool l4_ok = udp_nock || csum_fold(csum_add(o + l4, l4_len, ps)) == 0xffff;
		bad_csum += !ip_ok || !l4_ok;
	}
	CHECK_EQ_U64(mismatch, 0);
	CHECK_EQ_U64(bad_rewrite, 0);
	CHECK_EQ_U64(bad_csum, 0);
	CHECK_EQ_U64(st.action[A_TX], want[A_TX]);
	CHECK_EQ_U64(st.action[A_PASS], want[A_PASS]);
	CHECK_EQ_U64(st.action[A_DROP], want[A_DROP]);
	CHECK_EQ_U64(st.action[A_DROP], 37);
	CHECK_EQ_U64(st.action[A_PASS], 1994);
	CHECK_EQ_U64(st.action[A_TX], 963);
	CHECK_EQ_U64(st.written, 1994 + 963);
	for (uint32_t b = 0; b < 4; b++) {
		uint64_t n = 0;
		CHECK(lookup(&l, "backend_pkts", &b, &n) == 0);
		CHECK_EQ_U64(n, per_be[b]);
		CHECK(n > 0);
	}
	/* out.pcap holds the passed and transmitted packets, in order, as modified. */
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(out, eb);
	CHECK(p != NULL);
	if (p) {
		struct pcap_pkthdr *h;
		const u_char *d;
		size_t i = 0, n = 0, wrong = 0;
		while (pcap_next_ex(p, &h, &d) == 1) {
			while (i < frame_cnt && (rc->rec[i].action != A_PASS && rc->rec[i].action != A_TX))
				i++;
			if (i == frame_cnt || h->caplen != rc->rec[i].out_len || memcmp(d, rc->rec[i].out, h->caplen))
				wrong++;
			i++;
			n++;
		}
		pcap_close(p);
		CHECK_EQ_U64(n, 1994 + 963);
		CHECK_EQ_U64(wrong, 0);
	}
	unlink(out);
	free_run(rc);
	unload(&l);
}

TEST(socket_filter)
{
	NEED_SETUP();
	struct loaded l;
	struct bpfvm_pkt_stats st;
	if (load_example(&l, "socket_filter", "socket_web_only", NULL)) {
		CHECK(0);
		return;
	}
	struct run_ctx *rc = run_sample(&l, false, NULL, &st);
	CHECK(rc != NULL);
	if (!rc) {
		unload(&l);
		return;
	}
	uint64_t want[5] = { 0 }, mismatch = 0, bad_len = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		if (frames[i].len < 14)
			continue;
		int a = m_socket(&frames[i]);
		want[a]++;
		if (rc->rec[i].action != a && mismatch++ < 5)
			printf("  packet %zu: action %d, model %d\n", i + 1, rc->rec[i].action, a);
		/* Kept: the whole frame (skb->len from the MAC header, as on an AF_PACKET socket). */
		if (a == A_PASS)
			bad_len += rc->rec[i].retval != frames[i].len;
		else
			bad_len += rc->rec[i].retval != 0;
	}
	CHECK_EQ_U64(mismatch, 0);
	CHECK_EQ_U64(bad_len, 0);
	CHECK_EQ_U64(st.action[A_PASS], want[A_PASS]);
	CHECK_EQ_U64(st.action[A_PASS], 1304);
	CHECK_EQ_U64(st.action[A_DROP], 1690);
	uint32_t k0 = 0, k1 = 1;
	uint64_t n0 = 0, n1 = 0;
	CHECK(lookup(&l, "verdicts", &k0, &n0) == 0 && lookup(&l, "verdicts", &k1, &n1) == 0);
	CHECK_EQ_U64(n0, 1690);
	CHECK_EQ_U64(n1, 1304);
	free_run(rc);
	unload(&l);
}

TEST(tc_classifier)
{
	NEED_SETUP();
	struct loaded l;
	struct bpfvm_pkt_stats st;
	if (load_example(&l, "tc_classifier", "tc_classify", NULL)) {
		CHECK(0);
		return;
	}
	struct run_ctx *rc = run_sample(&l, false, NULL, &st);
	CHECK(rc != NULL);
	if (!rc) {
		unload(&l);
		return;
	}
	uint64_t cls_pkts[5] = { 0 }, cls_bytes[5] = { 0 }, mismatch = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		if (frames[i].len < 14)
			continue;
		int c = m_tc(&frames[i]);
		cls_pkts[c]++;
		cls_bytes[c] += frames[i].len;
		int a = c == C_SHOT ? A_DROP : A_PASS;
		uint64_t rv = c == C_SHOT ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
		if ((rc->rec[i].action != a || rc->rec[i].retval != rv) && mismatch++ < 5)
			printf("  packet %zu: action %d retval %" PRIu64 ", model class %d\n", i + 1, rc->rec[i].action,
			       rc->rec[i].retval, c);
	}
	CHECK_EQ_U64(mismatch, 0);
	CHECK_EQ_U64(st.action[A_DROP], cls_pkts[C_SHOT]);
	CHECK_EQ_U64(st.action[A_DROP], 143);
	CHECK_EQ_U64(st.action[A_PASS], 2851);
	for (uint32_t c = 0; c < 5; c++) {
		uint64_t v[2] = { 0, 0 };
		CHECK(lookup(&l, "classes", &c, v) == 0);
		CHECK_EQ_U64(v[0], cls_pkts[c]);
		CHECK_EQ_U64(v[1], cls_bytes[c]);
	}
	free_run(rc);
	unload(&l);
}

TEST(tail_calls)
{
	NEED_SETUP();
	struct loaded l;
	struct bpfvm_pkt_stats st;
	if (load_example(&l, "tail_calls", "dispatch", NULL)) {
		CHECK(0);
		return;
	}
	struct run_ctx *rc = run_sample(&l, false, NULL, &st);
	CHECK(rc != NULL);
	if (!rc) {
		unload(&l);
		return;
	}
	uint64_t want[5] = { 0 }, hits[4] = { 0 }, mismatch = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		int slot;
		if (frames[i].len < 14)
			continue;
		int a = m_tail(&frames[i], &slot);
		want[a]++;
		if (slot >= 0)
			hits[slot]++;
		if (rc->rec[i].action != a && mismatch++ < 5)
			printf("  packet %zu: action %d, model %d\n", i + 1, rc->rec[i].action, a);
	}
	CHECK_EQ_U64(mismatch, 0);
	CHECK_EQ_U64(st.action[A_DROP], want[A_DROP]);
	CHECK_EQ_U64(st.action[A_DROP], 111);
	CHECK_EQ_U64(st.action[A_PASS], 2883);
	for (uint32_t s = 0; s < 4; s++) {
		uint64_t v = 0;
		CHECK(lookup(&l, "hits", &s, &v) == 0);
		CHECK_EQ_U64(v, hits[s]);
	}
	CHECK(hits[0] && hits[1] && hits[2]);
	free_run(rc);
	unload(&l);
}


/* ---- the kernel as the oracle --------------------------------------------------------------------
 * Each example is loaded into the kernel with libbpf (dlopen'ed: the build does not link it), its maps
 * filled from the same .maps file, and every frame of the sample run with BPF_PROG_TEST_RUN on both
 * sides: retval and output bytes must be identical for every packet, and the maps equal at the end
 * (per-CPU counters compared as sums: the kernel's CPU numbering is not ours). */

struct libbpf {
	void *h;
	void *(*open_file)(const char *path, const void *opts);
	int (*load)(void *obj);
	void (*close)(void *obj);
	void *(*find_prog)(const void *obj, const char *name);
	int (*prog_fd)(const void *prog);
	int (*map_fd)(const void *obj, const char *name);
	void *(*set_print)(void *fn);
	void *(*rb_new)(int map_fd, int (*cb)(void *ctx, void *data, size_t size), void *ctx, const void *opts);
	int (*rb_consume)(void *rb);
	void (*rb_free)(void *rb);
};

static const char *libbpf_open(struct libbpf *lb)
{
	if (geteuid() != 0)
		return "the kernel oracle needs root (bpf() with CAP_BPF/CAP_SYS_ADMIN)";
	lb->h = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lb->h)
		return "libbpf.so.1 not found (Debian: libbpf1)";
	*(void **)&lb->open_file = dlsym(lb->h, "bpf_object__open_file");
	*(void **)&lb->load = dlsym(lb->h, "bpf_object__load");
	*(void **)&lb->close = dlsym(lb->h, "bpf_object__close");
	*(void **)&lb->find_prog = dlsym(lb->h, "bpf_object__find_program_by_name");
	*(void **)&lb->prog_fd = dlsym(lb->h, "bpf_program__fd");
	*(void **)&lb->map_fd = dlsym(lb->h, "bpf_object__find_map_fd_by_name");
	*(void **)&lb->set_print = dlsym(lb->h, "libbpf_set_print");
	*(void **)&lb->rb_new = dlsym(lb->h, "ring_buffer__new");
	*(void **)&lb->rb_consume = dlsym(lb->h, "ring_buffer__consume");
	*(void **)&lb->rb_free = dlsym(lb->h, "ring_buffer__free");
	if (!lb->open_file || !lb->load || !lb->close || !lb->find_prog || !lb->prog_fd || !lb->map_fd ||
	    !lb->set_print)
		return "libbpf.so.1 lacks the 1.x object API";
	lb->set_print(NULL);
	return NULL;
}

/* Applies a .maps file through a bpf()-like function (kernel or bpfvm). */
typedef long (*bpf_fn)(void *ctx, int cmd, union bpf_attr *a);
static long via_kernel(void *ctx, int cmd, union bpf_attr *a)
{
	(void)ctx;
	return kbpf(cmd, a);
}
static long via_bpfvm(void *ctx, int cmd, union bpf_attr *a)
{
	return bpfvm_bpf(ctx, cmd, a, sizeof(*a));
}

struct side {
	bpf_fn bpf;
	void *ctx;
	int prog;
};

static uint32_t test_run(const struct side *s, const struct frame *f, uint8_t *out, uint32_t *out_len, long *err)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)s->prog;
	a.test.data_in = (uintptr_t)f->data;
	a.test.data_size_in = f->len;
	a.test.data_out = (uintptr_t)out;
	a.test.data_size_out = 4096;
	a.test.repeat = 1;
	*err = s->bpf(s->ctx, BPF_PROG_TEST_RUN, &a);
	*out_len = a.test.data_size_out;
	return a.test.retval;
}

/* Map contents: keys from bpfvm, each looked up on both sides.  percpu: compare u64 sums. */
static int compare_map(const struct side *k, int kfd, struct loaded *l, const char *name, bool percpu,
		       uint32_t ksz, uint32_t vsz, unsigned int kcpus)
{
	int vfd = bpfvm_object_map_fd(l->obj, name), diffs = 0, n = 0;
	uint8_t key[64], next[64], *kv = calloc(kcpus, (vsz + 7) & ~7u), *bv = calloc(2, (vsz + 7) & ~7u);
	bool first = true;
	for (;;) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)vfd;
		a.key = first ? 0 : (uintptr_t)key;
		a.next_key = (uintptr_t)next;
		if (bpfvm_bpf(l->vm, BPF_MAP_GET_NEXT_KEY, &a, sizeof(a)))
			break;
		first = false;
		memcpy(key, next, ksz);
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)vfd, a.key = (uintptr_t)key, a.value = (uintptr_t)bv;
		long e1 = bpfvm_bpf(l->vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)kfd, a.key = (uintptr_t)key, a.value = (uintptr_t)kv;
		long e2 = k->bpf(k->ctx, BPF_MAP_LOOKUP_ELEM, &a);
		n++;
		if (e1 || e2) {
			diffs++;
			continue;
		}
		if (!percpu) {
			if (memcmp(kv, bv, vsz) && diffs++ < 3)
				printf("  map %s: entry %d differs from the kernel's\n", name, n);
			continue;
		}
		for (uint32_t w = 0; w < ((vsz + 7) & ~7u); w += 8) { /* per-CPU values are padded to 8 */
			uint64_t sk = 0, sb = 0, x;
			for (unsigned int c = 0; c < kcpus; c++)
				memcpy(&x, kv + c * ((vsz + 7) & ~7u) + w, 8), sk += x;
			for (unsigned int c = 0; c < 2; c++)
				memcpy(&x, bv + c * ((vsz + 7) & ~7u) + w, 8), sb += x;
			if (sk != sb && diffs++ < 3)
				printf("  map %s: entry %d word %u: kernel %" PRIu64 ", bpfvm %" PRIu64 "\n", name, n, w / 8,
				       sk, sb);
		}
	}
	/* The kernel has no entries bpfvm lacks: count its keys. */
	int kn = 0;
	first = true;
	for (;;) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)kfd;
		a.key = first ? 0 : (uintptr_t)key;
		a.next_key = (uintptr_t)next;
		if (k->bpf(k->ctx, BPF_MAP_GET_NEXT_KEY, &a))
			break;
		first = false;
		memcpy(key, next, ksz);
		kn++;
	}
	if (kn != n) {
		printf("  map %s: kernel has %d entries, bpfvm %d\n", name, kn, n);
		diffs++;
	}
	free(kv);
	free(bv);
	return diffs;
}

/* Every map of each example is compared at the end (compare_all_maps). */
struct kcase {
	const char *obj, *prog, *map_file;
};

static const struct kcase kcases[] = {
	{ "xdp_firewall", "xdp_firewall", "examples/xdp_firewall.maps" },
	{ "xdp_lb", "xdp_lb", "examples/xdp_lb.maps" },
	{ "socket_filter", "socket_web_only", NULL },
	{ "tc_classifier", "tc_classify", NULL },
	{ "tail_calls", "dispatch", NULL },
};

/* Ring buffer records of one side, in arrival order: (u32 size, bytes) after each other. */
struct rb_log {
	uint8_t *buf;
	size_t len, cap, cnt;
};

static int rb_append(void *ctx, void *data, size_t size)
{
	struct rb_log *g = ctx;
	if (g->len + 4 + size > g->cap) {
		size_t cap = (g->cap + 4 + size) * 2;
		uint8_t *b = realloc(g->buf, cap);
		if (!b)
			return -ENOMEM;
		g->buf = b;
		g->cap = cap;
	}
	uint32_t n = (uint32_t)size;
	memcpy(g->buf + g->len, &n, 4);
	memcpy(g->buf + g->len + 4, data, size);
	g->len += 4 + size;
	g->cnt++;
	return 0;
}

#define MAX_RB 4
struct rb_pair {
	const char *name;
	void *krb;
	struct bpfvm_ringbuf *vrb;
	struct rb_log k, v;
};

static void rb_consume_all(struct libbpf *lb, struct rb_pair *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].krb)
			lb->rb_consume(r[i].krb);
		if (r[i].vrb)
			bpfvm_ringbuf_poll(r[i].vrb, 0);
	}
}

/* Every map of the object, by type: ring buffers by their records in order (consumed after each
 * packet on both sides, so neither fills up), prog arrays by which slots hold a program (the values
 * are program ids, which are each side's own numbering; the tail calls taken show up in the maps the
 * targets write), per-CPU maps by per-word sums over CPUs (this thread is pinned to one CPU, so on
 * both sides one CPU's values carry everything: the sum is that value), every other map entry by
 * entry, in both directions. */
static int compare_all_maps(struct libbpf *lb, const struct side *ks, void *kobj, struct loaded *l,
			    struct rb_pair *rbs, size_t rb_cnt, unsigned int kcpus)
{
	int bad = 0;
	for (size_t i = 0; i < bpfvm_object_map_cnt(l->obj); i++) {
		const char *name = bpfvm_object_map_name(l->obj, i);
		uint32_t type = bpfvm_object_map_type(l->obj, i);
		int vfd = bpfvm_object_map_fd_at(l->obj, i), kfd = lb->map_fd(kobj, name);
		struct bpf_map_info info;
		union bpf_attr a;
		memset(&info, 0, sizeof(info));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)vfd;
		a.info.info_len = sizeof(info);
		a.info.info = (uintptr_t)&info;
		if (kfd < 0 || bpfvm_bpf(l->vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a))) {
			printf("  map %s: not found on both sides (kernel fd %d)\n", name, kfd);
			bad++;
			continue;
		}
		if (type == BPF_MAP_TYPE_RINGBUF) {
			size_t r = 0;
			while (r < rb_cnt && strcmp(rbs[r].name, name))
				r++;
			if (r == rb_cnt) {
				printf("  map %s: ring buffer not consumed\n", name);
				bad++;
			} else if (rbs[r].k.len != rbs[r].v.len || (rbs[r].k.len && memcmp(rbs[r].k.buf, rbs[r].v.buf, rbs[r].k.len))) {
				printf("  map %s: records differ: kernel %zu (%zu bytes), bpfvm %zu (%zu bytes)\n", name,
				       rbs[r].k.cnt, rbs[r].k.len, rbs[r].v.cnt, rbs[r].v.len);
				bad++;
			}
			continue;
		}
		if (type == BPF_MAP_TYPE_PROG_ARRAY) {
			for (uint32_t k = 0; k < info.max_entries; k++) {
				uint32_t kv = 0, vv = 0;
				memset(&a, 0, sizeof(a));
				a.map_fd = (uint32_t)kfd, a.key = (uintptr_t)&k, a.value = (uintptr_t)&kv;
				long ke = ks->bpf(ks->ctx, BPF_MAP_LOOKUP_ELEM, &a);
				memset(&a, 0, sizeof(a));
				a.map_fd = (uint32_t)vfd, a.key = (uintptr_t)&k, a.value = (uintptr_t)&vv;
				long ve = bpfvm_bpf(l->vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
				if ((ke == 0) != (ve == 0)) {
					printf("  map %s: slot %u: kernel %ld, bpfvm %ld\n", name, k, ke, ve);
					bad++;
				}
			}
			continue;
		}
		bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
			      type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
		if (info.key_size > 64) {
			printf("  map %s: key of %u bytes too large for this test\n", name, info.key_size);
			bad++;
			continue;
		}
		int d = compare_map(ks, kfd, l, name, percpu, info.key_size, info.value_size, kcpus);
		if (d)
			printf("  map %s (type %u): %d differences\n", name, type, d);
		bad += d;
	}
	return bad;
}

static int kernel_apply_maps(struct libbpf *lb, void *kobj, const char *map_file)
{
	FILE *f = fopen(map_file, "r");
	char line[1024];
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char mname[64], khex[256];
		int used = 0;
		if (line[0] == '#' || line[0] == '\n' || sscanf(line, "%63s %255s %n", mname, khex, &used) != 2)
			continue;
		uint8_t key[64], val[64];
		size_t kl = 0, vl = 0;
		for (const char *s = khex; s[0] && s[1] && kl < sizeof(key); s += 2)
			sscanf(s, "%2hhx", &key[kl++]);
		for (const char *s = line + used; *s && vl < sizeof(val);) {
			if (*s == ' ' || *s == '\n' || *s == '\t') {
				s++;
				continue;
			}
			sscanf(s, "%2hhx", &val[vl++]);
			s += 2;
		}
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)lb->map_fd(kobj, mname);
		a.key = (uintptr_t)key;
		a.value = (uintptr_t)val;
		if (kbpf(BPF_MAP_UPDATE_ELEM, &a)) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Every frame of the sample through PROG_TEST_RUN on both sides: retval and data_out must be identical
 * for every packet (ring buffers consumed after each, so neither fills up). */
static void diff_frames(const char *name, struct libbpf *lb, struct rb_pair *rbs, size_t rb_cnt, const struct side *ks,
			const struct side *vs, struct bpfvm *vm)
{
	static uint8_t kout[4096], vout[4096];
	uint64_t runs = 0, diff_rv = 0, diff_out = 0, errs = 0, refused = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		uint32_t kl, vl;
		long ke, ve;
		if (frames[i].len < 14)
			continue;
		uint32_t krv = test_run(ks, &frames[i], kout, &kl, &ke);
		if (ke == -EINVAL) {
			/* Linux's skb test_run refuses a frame whose IPv4/IPv6 header is cut short (a real
			 * tc/socket hook would run it); bpfvm runs it.  Not run here, so maps stay comparable. */
			refused++;
			continue;
		}
		uint32_t vrv = test_run(vs, &frames[i], vout, &vl, &ve);
		rb_consume_all(lb, rbs, rb_cnt);
		runs++;
		if (ke || ve) {
			if (errs++ < 3)
				printf("  %s packet %zu: kernel %ld, bpfvm %ld %s", name, i + 1, ke, ve,
				       ve ? bpfvm_errmsg(vm) : "\n");
			continue;
		}
		if (krv != vrv && diff_rv++ < 3)
			printf("  %s packet %zu: retval kernel %u, bpfvm %u\n", name, i + 1, krv, vrv);
		if ((kl != vl || memcmp(kout, vout, kl)) && diff_out++ < 3)
			printf("  %s packet %zu: data_out differs (kernel %u bytes, bpfvm %u)\n", name, i + 1, kl, vl);
	}
	printf("  %s: %" PRIu64 " packets through both", name, runs);
	if (refused)
		printf(" (%" PRIu64 " with a truncated IP header refused by the kernel's test_run: -EINVAL)", refused);
	printf("\n");
	CHECK(runs > 0);
	CHECK_EQ_U64(errs, 0);
	CHECK_EQ_U64(diff_rv, 0);
	CHECK_EQ_U64(diff_out, 0);
}

/* Possible CPUs, as the kernel lays out per-CPU map values. */
static unsigned int kernel_possible_cpus(void)
{
	unsigned int kcpus = 0;
	FILE *pf = fopen("/sys/devices/system/cpu/possible", "r");
	if (pf) {
		unsigned int lo, hi;
		if (fscanf(pf, "%u-%u", &lo, &hi) == 2)
			kcpus = hi + 1;
		else
			kcpus = 1;
		fclose(pf);
	}
	if (!kcpus) {
		long ncpu = sysconf(_SC_NPROCESSORS_CONF);
		kcpus = (unsigned int)(ncpu > 0 ? ncpu : 1);
	}
	return kcpus;
}

TEST(kernel_differential)
{
	NEED_SETUP();
	struct libbpf lb = { 0 };
	const char *why = libbpf_open(&lb);
	if (why)
		SKIP(why);
	unsigned int kcpus = kernel_possible_cpus();
	/* one CPU for the kernel's test runs (see compare_all_maps) */
	cpu_set_t saved, one;
	bool pinned = sched_getaffinity(0, sizeof(saved), &saved) == 0;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	pinned = pinned && sched_setaffinity(0, sizeof(one), &one) == 0;
	CHECK(pinned);
	CHECK(lb.rb_new && lb.rb_consume && lb.rb_free);
	for (size_t c = 0; c < sizeof(kcases) / sizeof(kcases[0]) && lb.rb_new; c++) {
		const struct kcase *kc = &kcases[c];
		char path[4200];
		snprintf(path, sizeof(path), "%.4000s/%s.bpf.o", obj_dir, kc->obj);
		void *kobj = lb.open_file(path, NULL);
		if (!kobj || lb.load(kobj)) {
			if (kobj)
				lb.close(kobj);
			if (c == 0) {
				dlclose(lb.h);
				SKIP("the kernel refused to load the examples (bpf() unavailable or restricted)");
			}
			printf("  %s: the kernel's verifier rejected it\n", kc->obj);
			CHECK(0);
			continue;
		}
		struct loaded l;
		if (load_example(&l, kc->obj, kc->prog, kc->map_file) ||
		    (kc->map_file && kernel_apply_maps(&lb, kobj, kc->map_file))) {
			CHECK(0);
			lb.close(kobj);
			continue;
		}
		struct side ks = { via_kernel, NULL, lb.prog_fd(lb.find_prog(kobj, kc->prog)) };
		struct side vs = { via_bpfvm, l.vm, l.prog };
		struct rb_pair rbs[MAX_RB];
		size_t rb_cnt = 0;
		memset(rbs, 0, sizeof(rbs));
		for (size_t m = 0; m < bpfvm_object_map_cnt(l.obj) && rb_cnt < MAX_RB; m++) {
			if (bpfvm_object_map_type(l.obj, m) != BPF_MAP_TYPE_RINGBUF)
				continue;
			struct rb_pair *r = &rbs[rb_cnt++];
			r->name = bpfvm_object_map_name(l.obj, m);
			r->krb = lb.rb_new(lb.map_fd(kobj, r->name), rb_append, &r->k, NULL);
			CHECK(r->krb != NULL);
			CHECK_EQ_U64(bpfvm_ringbuf_new(l.vm, bpfvm_object_map_fd_at(l.obj, m), rb_append, &r->v, &r->vrb), 0);
		}
		diff_frames(kc->obj, &lb, rbs, rb_cnt, &ks, &vs, l.vm);
		rb_consume_all(&lb, rbs, rb_cnt);
		for (size_t r = 0; r < rb_cnt; r++)
			printf("  %s: ring buffer %s: %zu records on both sides compared in order\n", kc->obj, rbs[r].name,
			       rbs[r].v.cnt);
		printf("  %s: %zu maps compared\n", kc->obj, bpfvm_object_map_cnt(l.obj));
		CHECK_EQ_U64(compare_all_maps(&lb, &ks, kobj, &l, rbs, rb_cnt, kcpus), 0);
		for (size_t r = 0; r < rb_cnt; r++) {
			if (rbs[r].krb)
				lb.rb_free(rbs[r].krb);
			bpfvm_ringbuf_free(rbs[r].vrb);
			free(rbs[r].k.buf);
			free(rbs[r].v.buf);
		}
		unload(&l);
		lb.close(kobj);
	}
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	dlclose(lb.h);
}


/* ---- old-style objects (examples/legacy) ----------------------------------------------------------
 * Built as the Makefile builds them, then made to look like what old clang and samples/bpf produced: no
 * BTF (llvm-strip -g, and .BTF/.BTF.ext removed, which -g keeps), and every function symbol rewritten
 * to STT_NOTYPE with size 0 (the symbol table patched here).  bpfvm must load them by itself (legacy
 * mode: section prefixes, NOTYPE programs, bpf_map_def maps); the kernel gets them through a loader
 * written here after samples/bpf's bpf_load.c (maps from the `maps` records, relocations of `lddw` to
 * map symbols, PROG_LOAD with the type the old loaders gave), independent of bpfvm's. */

struct lcase {
	const char *obj, *sec, *prog;  /* the object in examples/legacy, its program's section and function */
	uint32_t type;                 /* what the old loader gave: bpf_load.c from the prefix, tc for tc */
	unsigned int legacy;           /* BPFVM_LEGACY_* bpfvm must report */
};

#define LEG_ALL (BPFVM_LEGACY_SEC_PREFIX | BPFVM_LEGACY_NOTYPE | BPFVM_LEGACY_MAPS)
static const struct lcase lcases[] = {
	{ "xdp1_kern", "xdp1", "xdp_prog1", BPF_PROG_TYPE_XDP, LEG_ALL },
	{ "sockex1_kern", "socket1", "bpf_prog1", BPF_PROG_TYPE_SOCKET_FILTER, LEG_ALL },
	{ "sockex2_kern", "socket2", "bpf_prog2", BPF_PROG_TYPE_SOCKET_FILTER, LEG_ALL },
	/* tail calls through slots filled as bpf_load.c filled them */
	{ "sockex3_kern", "socket/0", "main_prog", BPF_PROG_TYPE_SOCKET_FILTER, LEG_ALL | BPFVM_LEGACY_PROG_ARRAY },
	/* "classifier" is a libbpf 1.x name too: only the symbols and maps are old */
	{ "tcbpf1_kern", "classifier", "bpf_prog1", BPF_PROG_TYPE_SCHED_CLS, BPFVM_LEGACY_NOTYPE | BPFVM_LEGACY_MAPS },
};

static char legacy_dir[64];     /* the stripped and patched objects; removed at exit */
static const char *legacy_skip;

/* Reads a whole file; NULL on failure. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static const Elf64_Shdr *shdr_at(const uint8_t *b, size_t len, size_t i)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	if (len < sizeof(*eh) || i >= eh->e_shnum || eh->e_shoff + (i + 1) * sizeof(Elf64_Shdr) > len)
		return NULL;
	return (const Elf64_Shdr *)(b + eh->e_shoff + i * sizeof(Elf64_Shdr));
}

/* Every STT_FUNC symbol becomes STT_NOTYPE with size 0, as old clang wrote them.  Returns how many. */
static int retype_funcs(uint8_t *b, size_t len)
{
	int n = 0;
	for (size_t i = 0; shdr_at(b, len, i); i++) {
		const Elf64_Shdr *sh = shdr_at(b, len, i);
		if (sh->sh_type != SHT_SYMTAB || sh->sh_offset + sh->sh_size > len)
			continue;
		for (size_t j = 0; j < sh->sh_size / sizeof(Elf64_Sym); j++) {
			Elf64_Sym *y = (Elf64_Sym *)(b + sh->sh_offset + j * sizeof(Elf64_Sym));
			if (ELF64_ST_TYPE(y->st_info) != STT_FUNC)
				continue;
			y->st_info = ELF64_ST_INFO(ELF64_ST_BIND(y->st_info), STT_NOTYPE);
			y->st_size = 0;
			n++;
		}
	}
	return n;
}

/* <legacy_dir>/<obj>.o from <obj_dir>/legacy/<obj>.o; NULL and legacy_skip set on failure. */
static const char *legacy_obj(const char *obj, char *path, size_t plen)
{
	if (legacy_skip)
		return NULL;
	if (!legacy_dir[0]) {
		if (system("command -v llvm-strip >/dev/null 2>&1")) {
			legacy_skip = "no llvm-strip to take the BTF out of examples/legacy";
			return NULL;
		}
		char tmpl[] = "/tmp/bpfvm-legacy-XXXXXX";
		if (!mkdtemp(tmpl)) {
			legacy_skip = "mkdtemp failed";
			return NULL;
		}
		snprintf(legacy_dir, sizeof(legacy_dir), "%s", tmpl);
	}
	snprintf(path, plen, "%s/%s.o", legacy_dir, obj);
	if (!access(path, R_OK))
		return path;
	char cmd[9000];
	snprintf(cmd, sizeof(cmd), "llvm-strip -g -R .BTF -R .BTF.ext %.4000s/legacy/%s.o -o %s", obj_dir, obj, path);
	size_t len;
	uint8_t *b;
	if (system(cmd) || !(b = slurp(path, &len))) {
		legacy_skip = "llvm-strip failed on examples/legacy";
		return NULL;
	}
	int n = retype_funcs(b, len);
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(b, 1, len, f) == len;
	if (f)
		ok &= fclose(f) == 0;
	free(b);
	if (!ok || n < 1) {
		legacy_skip = "could not patch the symbol table of examples/legacy";
		return NULL;
	}
	return path;
}

/* The kernel's side: samples/bpf's bpf_load.c in miniature.  It creates every map of `maps`, loads
 * section `sec` and, when the first map is a prog array, every section "socket/N" too, putting each at
 * index N of that map (bpf_load.c's populate_prog_array()). */
#define KLEG_MAX_MAPS 16
#define KLEG_MAX_PROGS 16
struct kleg {
	int map_fd[KLEG_MAX_MAPS];
	char map_name[KLEG_MAX_MAPS][64];
	uint64_t map_off[KLEG_MAX_MAPS];
	uint32_t map_type[KLEG_MAX_MAPS];
	size_t map_cnt;
	int prog_fds[KLEG_MAX_PROGS];
	size_t prog_cnt;
	int prog_fd;          /* section `sec`'s program */
};

static int kleg_map_fd(const void *obj, const char *name)
{
	const struct kleg *k = obj;
	for (size_t i = 0; i < k->map_cnt; i++)
		if (!strcmp(k->map_name[i], name))
			return k->map_fd[i];
	return -ENOENT;
}

static void kleg_close(struct kleg *k)
{
	for (size_t i = 0; i < k->map_cnt; i++)
		close(k->map_fd[i]);
	for (size_t i = 0; i < k->prog_cnt; i++)
		close(k->prog_fds[i]);
	k->map_cnt = k->prog_cnt = 0;
	k->prog_fd = -1;
}

/* "socket/N": N, else -1. */
static long kleg_slot(const char *name)
{
	if (strncmp(name, "socket/", 7) || !name[7] || strspn(name + 7, "0123456789") != strlen(name + 7))
		return -1;
	return strtol(name + 7, NULL, 10);
}

/* Relocates and loads section `si` (its relocation table `rel`, 0 when none).  The fd, or -1. */
static int kleg_prog(struct kleg *k, const uint8_t *b, size_t len, size_t si, size_t rel, size_t maps,
		     const Elf64_Sym *syms, const char *license, uint32_t type, const char *name)
{
	const Elf64_Shdr *ps = shdr_at(b, len, si), *rs = rel ? shdr_at(b, len, rel) : NULL;
	struct bpf_insn *insns = malloc(ps->sh_size);
	memcpy(insns, b + ps->sh_offset, ps->sh_size);
	for (size_t i = 0; rs && i < rs->sh_size / sizeof(Elf64_Rel); i++) {
		const Elf64_Rel *r = (const Elf64_Rel *)(b + rs->sh_offset) + i;
		const Elf64_Sym *y = &syms[ELF64_R_SYM(r->r_info)];
		struct bpf_insn *in = &insns[r->r_offset / 8];
		int fd = -1;
		for (size_t m = 0; m < k->map_cnt; m++)
			if (y->st_shndx == maps && k->map_off[m] == y->st_value)
				fd = k->map_fd[m];
		if (fd < 0 || in->code != (BPF_LD | BPF_IMM | BPF_DW)) {
			printf("  %s: a relocation that is not lddw of a map\n", name);
			free(insns);
			return -1;
		}
		in->src_reg = BPF_PSEUDO_MAP_FD;
		in->imm = fd;
	}
	static char log[1 << 16];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)(ps->sh_size / sizeof(struct bpf_insn));
	a.license = (uintptr_t)license;
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	log[0] = 0;
	long fd = kbpf(BPF_PROG_LOAD, &a);
	free(insns);
	if (fd < 0) {
		printf("  kernel PROG_LOAD of %s: %ld\n%.2000s\n", name, fd, log);
		return -1;
	}
	if (k->prog_cnt == KLEG_MAX_PROGS) {
		close((int)fd);
		return -1;
	}
	k->prog_fds[k->prog_cnt++] = (int)fd;
	return (int)fd;
}

/* Loads the object at path into the kernel as above, every program as `type`.  NULL, or why not. */
static const char *kleg_load(struct kleg *k, const char *path, const char *sec, uint32_t type)
{
	size_t len;
	uint8_t *b = slurp(path, &len);
	const char *why = NULL;
	memset(k, 0, sizeof(*k));
	k->prog_fd = -1;
	if (!b)
		return "cannot read the object";
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	const Elf64_Shdr *shstr = shdr_at(b, len, eh->e_shstrndx), *symtab = NULL, *strtab = NULL;
	size_t maps = 0, lic = 0;
	for (size_t i = 1; shstr && shdr_at(b, len, i); i++) {
		const Elf64_Shdr *sh = shdr_at(b, len, i);
		const char *name = (const char *)b + shstr->sh_offset + sh->sh_name;
		if (sh->sh_type == SHT_SYMTAB) {
			symtab = sh;
			strtab = shdr_at(b, len, sh->sh_link);
		} else if (!strcmp(name, "maps")) {
			maps = i;
		} else if (!strcmp(name, "license")) {
			lic = i;
		}
	}
	if (!symtab || !strtab || !lic) {
		free(b);
		return "the object lacks a symbol table or the license";
	}
	const Elf64_Sym *syms = (const Elf64_Sym *)(b + symtab->sh_offset);
	size_t sym_cnt = symtab->sh_size / sizeof(Elf64_Sym), nmaps = 0, first = 0;
	for (size_t i = 0; maps && i < sym_cnt; i++)
		nmaps += syms[i].st_shndx == maps && ELF64_ST_TYPE(syms[i].st_info) != STT_SECTION && syms[i].st_name;
	const Elf64_Shdr *ms = maps ? shdr_at(b, len, maps) : NULL;
	size_t def_sz = nmaps ? ms->sh_size / nmaps : 0;
	for (size_t i = 0; nmaps && i < sym_cnt && !why; i++) {
		const Elf64_Sym *y = &syms[i];
		if (y->st_shndx != maps || ELF64_ST_TYPE(y->st_info) == STT_SECTION || !y->st_name)
			continue;
		uint32_t d[7] = { 0 }; /* struct bpf_load_map_def */
		memcpy(d, b + ms->sh_offset + y->st_value, def_sz < sizeof(d) ? def_sz : sizeof(d));
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = d[0], a.key_size = d[1], a.value_size = d[2], a.max_entries = d[3], a.map_flags = d[4];
		if (d[4] & BPF_F_NUMA_NODE)
			a.numa_node = d[6];
		const char *name = (const char *)b + strtab->sh_offset + y->st_name;
		snprintf(a.map_name, sizeof(a.map_name), "%s", name);
		long fd = kbpf(BPF_MAP_CREATE, &a);
		if (fd < 0 || k->map_cnt == KLEG_MAX_MAPS) {
			why = "MAP_CREATE failed";
			if (fd >= 0)
				close((int)fd);
			break;
		}
		if (k->map_off[first] > y->st_value)
			first = k->map_cnt;
		k->map_fd[k->map_cnt] = (int)fd;
		k->map_off[k->map_cnt] = y->st_value;
		k->map_type[k->map_cnt] = d[0];
		snprintf(k->map_name[k->map_cnt++], 64, "%s", name);
	}
	bool prog_array = k->map_cnt && k->map_type[first] == BPF_MAP_TYPE_PROG_ARRAY;
	for (size_t i = 1; !why && shdr_at(b, len, i); i++) {
		const char *name = (const char *)b + shstr->sh_offset + shdr_at(b, len, i)->sh_name;
		long slot = prog_array ? kleg_slot(name) : -1;
		if (strcmp(name, sec) && slot < 0)
			continue;
		size_t rel = 0;
		for (size_t j = 1; shdr_at(b, len, j); j++)
			if (shdr_at(b, len, j)->sh_type == SHT_REL && shdr_at(b, len, j)->sh_info == i)
				rel = j;
		int fd = kleg_prog(k, b, len, i, rel, maps, syms, (const char *)b + shdr_at(b, len, lic)->sh_offset, type,
				   name);
		if (fd < 0) {
			why = "PROG_LOAD failed";
			break;
		}
		if (!strcmp(name, sec))
			k->prog_fd = fd;
		if (slot >= 0) {
			uint32_t key = (uint32_t)slot, val = (uint32_t)fd;
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)k->map_fd[first], a.key = (uintptr_t)&key, a.value = (uintptr_t)&val;
			if (kbpf(BPF_MAP_UPDATE_ELEM, &a))
				why = "a prog array slot could not be filled";
		}
	}
	if (!why && k->prog_fd < 0)
		why = "no such section";
	free(b);
	if (why)
		kleg_close(k);
	return why;
}

/* bpfvm's side: the object opened as any other (opts NULL) or with a type (opts), then loaded.  As
 * with tc's `sec NAME`, a section without a type other than `sec` is not (tcbpf1_kern's second one). */
static int load_legacy(struct loaded *l, const char *path, const char *sec, const char *prog,
		       const struct bpfvm_object_opts *opts)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .interp = engine_interp };
	memset(l, 0, sizeof(*l));
	l->vm = bpfvm_new(&o);
	if (!l->vm)
		return -1;
	if (bpfvm_object_open_opts(l->vm, path, opts, &l->obj)) {
		printf("  %s: %s", path, bpfvm_errmsg(l->vm));
		return -1;
	}
	for (size_t i = 0; i < bpfvm_object_prog_cnt(l->obj); i++)
		if (!bpfvm_object_prog_type(l->obj, i) && strcmp(bpfvm_object_prog_section(l->obj, i), sec))
			bpfvm_object_prog_set_autoload(l->obj, i, 0);
	if (bpfvm_object_load(l->obj)) {
		printf("  %s: %s", path, bpfvm_errmsg(l->vm));
		return -1;
	}
	l->prog = bpfvm_object_prog_fd(l->obj, prog);
	return l->prog < 0 ? -1 : 0;
}

/* examples/legacy/xdp1_kern.c: UDP (IPv4 protocol / IPv6 next header 17) dropped, frames cut inside
 * their VLAN tags dropped, the rest passed. */
static int m_xdp1(const struct frame *f)
{
	uint16_t proto;
	uint32_t off;
	uint8_t p = 0;

	if (m_eth(f, &proto, &off))
		return A_DROP;
	if (proto == 0x0800 && f->len >= off + 20)
		p = f->data[off + 9];
	else if (proto == 0x86dd && f->len >= off + 40)
		p = f->data[off + 6];
	return p == 17 ? A_DROP : A_PASS;
}

/* bpfvm alone: each object loads by itself in legacy mode, with its program typed as the old loader
 * typed it, and runs every frame of the sample without a fault; opts.prog_type gives the same type. */
TEST(legacy_objects)
{
	NEED_SETUP();
	for (size_t c = 0; c < sizeof(lcases) / sizeof(lcases[0]); c++) {
		const struct lcase *lc = &lcases[c];
		char path[256];
		if (!legacy_obj(lc->obj, path, sizeof(path)))
			SKIP(legacy_skip);
		struct loaded l;
		if (load_legacy(&l, path, lc->sec, lc->prog, NULL)) {
			CHECK(0);
			unload(&l);
			continue;
		}
		CHECK_EQ_U64(bpfvm_object_legacy(l.obj), lc->legacy);
		size_t pi = 0;
		while (pi < bpfvm_object_prog_cnt(l.obj) && strcmp(bpfvm_object_prog_name(l.obj, pi), lc->prog))
			pi++;
		CHECK_EQ_STR(bpfvm_object_prog_section(l.obj, pi), lc->sec);
		CHECK_EQ_U64(bpfvm_object_prog_type(l.obj, pi), lc->type);
		struct bpfvm_pkt_stats st;
		struct run_ctx *rc = run_sample(&l, false, NULL, &st);
		CHECK(rc != NULL);
		CHECK_EQ_U64(st.errors, 0);
		CHECK_EQ_U64(st.pkts + st.skipped, frame_cnt);
		CHECK(st.action[BPFVM_PKT_PASS] > 0);
		for (size_t i = 0; rc && !strcmp(lc->obj, "xdp1_kern") && i < frame_cnt; i++) {
			int want = frames[i].len < 14 ? -1 : m_xdp1(&frames[i]); /* shorter ones are not run */
			if (rc->rec[i].action != want) {
				printf("  xdp1 packet %zu: %d, model %d\n", i + 1, rc->rec[i].action, want);
				CHECK(0);
				break;
			}
		}
		free_run(rc);
		unload(&l);
		struct bpfvm_object_opts oo = { .sz = sizeof(oo), .prog_type = lc->type };
		CHECK_EQ_U64(load_legacy(&l, path, lc->sec, lc->prog, &oo), 0);
		for (size_t i = 0; l.obj && i < bpfvm_object_prog_cnt(l.obj); i++)
			CHECK_EQ_U64(bpfvm_object_prog_type(l.obj, i), lc->type); /* every program */
		unload(&l);
	}
}

/* The kernel as the oracle for the old-style objects: every frame through PROG_TEST_RUN on both sides,
 * then every map compared, as kernel_differential does for the others. */
TEST(legacy_kernel_differential)
{
	NEED_SETUP();
	if (geteuid() != 0)
		SKIP("the kernel oracle needs root (bpf() with CAP_BPF/CAP_SYS_ADMIN)");
	unsigned int kcpus = kernel_possible_cpus();
	struct libbpf lk = { .map_fd = kleg_map_fd }; /* compare_all_maps() finds the kernel's maps through this */
	for (size_t c = 0; c < sizeof(lcases) / sizeof(lcases[0]); c++) {
		const struct lcase *lc = &lcases[c];
		char path[256];
		if (!legacy_obj(lc->obj, path, sizeof(path)))
			SKIP(legacy_skip);
		struct kleg k;
		const char *why = kleg_load(&k, path, lc->sec, lc->type);
		if (why) {
			if (c == 0)
				SKIP("the kernel refused the first old-style object (bpf() unavailable or restricted)");
			printf("  %s: %s\n", lc->obj, why);
			CHECK(0);
			continue;
		}
		struct loaded l;
		if (load_legacy(&l, path, lc->sec, lc->prog, NULL)) {
			CHECK(0);
			unload(&l);
			kleg_close(&k);
			continue;
		}
		struct side ks = { via_kernel, NULL, k.prog_fd };
		struct side vs = { via_bpfvm, l.vm, l.prog };
		diff_frames(lc->obj, &lk, NULL, 0, &ks, &vs, l.vm);
		printf("  %s: %zu maps compared\n", lc->obj, bpfvm_object_map_cnt(l.obj));
		CHECK_EQ_U64(bpfvm_object_map_cnt(l.obj), k.map_cnt);
		CHECK_EQ_U64(compare_all_maps(&lk, &ks, &k, &l, NULL, 0, kcpus), 0);
		unload(&l);
		kleg_close(&k);
	}
}


/* ---- the CLI ------------------------------------------------------------------------------------ */

static char *run_cmd(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 20, n = 0;
	char *out = malloc(cap);
	if (!p || !out) {
		free(out);
		return NULL;
	}
	size_t r;
	while ((r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = 0;
	*status = pclose(p);
	return out;
}

static char built[64]; /* tests/loader/cli_events.bpf.c's object, removed at exit */

/* tests/loader/cli_events.bpf.c, built here with clang (into a temporary file), or NULL. */
static const char *cli_events_obj(char *path, size_t len)
{
	if (!built[0]) {
		snprintf(built, sizeof(built), "/tmp/bpfvm-cli-events-%d.o", (int)getpid());
		if (test_clang("tests/loader/cli_events.bpf.c", built, NULL)) {
			built[0] = 0;
			return NULL;
		}
	}
	snprintf(path, len, "%s", built);
	return path;
}

/* Each packet's printk line, ring buffer record and perf event, in that order and packet by packet. */
TEST(cli_trace_and_events)
{
	NEED_SETUP();
	if (!cli_path[0])
		SKIP("no bpfvm binary next to this test build");
	char obj[128], cmd[9000];
	if (!cli_events_obj(obj, sizeof(obj)))
		SKIP("clang could not build tests/loader/cli_events.bpf.c");
	int st;
	snprintf(cmd, sizeof(cmd), "%s run %s --prog events --pcap " SAMPLE " --count 5 --no-maps 2>&1", cli_path, obj);
	char *out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	/* the expected text, from the sample read independently (lengths of the first 5 frames) */
	char want[4096];
	size_t w = 0;
	for (uint32_t i = 0; i < 5 && i < frame_cnt; i++) {
		uint32_t l = frames[i].len;
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "trace: pkt %u len %u\n"
				      "event rb (8 bytes): %02x 00 00 00 %02x %02x 00 00\n"
				      "event perf cpu 0 (8 bytes): %02x 00 00 00 %02x %02x 00 00\n",
				      i, l, i, l & 0xff, l >> 8, i, l & 0xff, l >> 8);
	}
	CHECK(frame_cnt >= 5 && frames[0].len >= 14); /* (the first frames run: none is too short) */
	CHECK(strncmp(out, want, w) == 0);
	if (strncmp(out, want, w))
		printf("  got:\n%.600s\n  want:\n%s", out, want);
	free(out);
	/* --json: the same, in arrays, in order */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog events --pcap " SAMPLE " --count 3 --no-maps --json 2>&1", cli_path,
		 obj);
	out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	w = (size_t)snprintf(want, sizeof(want), "\"events\":[");
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t l = frames[i].len;
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "%s{\"map\":\"rb\",\"data\":\"%02x000000%02x%02x0000\"},"
				      "{\"map\":\"perf\",\"cpu\":0,\"data\":\"%02x000000%02x%02x0000\"}",
				      i ? "," : "", i, l & 0xff, l >> 8, i, l & 0xff, l >> 8);
	}
	w += (size_t)snprintf(want + w, sizeof(want) - w, "],\"trace\":[\"pkt 0 len %u\",\"pkt 1 len %u\",\"pkt 2 len %u\"]",
			      frames[0].len, frames[1].len, frames[2].len);
	CHECK(strstr(out, want) != NULL);
	if (!strstr(out, want))
		printf("  got:\n%.2000s\n  want:\n%s\n", out, want);
	free(out);
}

/* Old-style objects on the command line: the legacy-mode note, --prog by section, --type, and the
 * errors that list what the object holds (one program a line, ending in a newline). */
TEST(cli_legacy)
{
	NEED_SETUP();
	if (!cli_path[0])
		SKIP("no bpfvm binary next to this test build");
	char xdp1[256], sockex1[256], tcbpf1[256], cmd[9000], want[512];
	if (!legacy_obj("xdp1_kern", xdp1, sizeof(xdp1)) || !legacy_obj("sockex1_kern", sockex1, sizeof(sockex1)) ||
	    !legacy_obj("tcbpf1_kern", tcbpf1, sizeof(tcbpf1)))
		SKIP(legacy_skip);
	uint64_t drop = 0, pass = 0, too_short = 0;
	for (size_t i = 0; i < frame_cnt; i++) {
		if (frames[i].len < 14)
			too_short++;
		else if (m_xdp1(&frames[i]) == A_DROP)
			drop++;
		else
			pass++;
	}
	int st;
	snprintf(cmd, sizeof(cmd), "%s run %s --pcap " SAMPLE " --no-maps 2>&1", cli_path, xdp1);
	char *out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	snprintf(want, sizeof(want), "bpfvm run: note: %s loaded in legacy mode (samples/bpf, libbpf < 1.0): section names "
		 "typed by prefix, programs from STT_NOTYPE symbols, struct bpf_map_def maps in section maps\n", xdp1);
	CHECK(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "%s: program xdp_prog1 (xdp) on " SAMPLE ": %" PRIu64 " packets", xdp1, drop + pass);
	CHECK(strstr(out, want) != NULL);
	snprintf(want, sizeof(want), "  DROP      %" PRIu64 "\n  PASS      %" PRIu64 "\n", drop, pass);
	CHECK(strstr(out, want) != NULL);
	if (!strstr(out, want))
		printf("  got:\n%s", out);
	free(out);

	/* --prog by section name */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog socket1 --pcap " SAMPLE " --no-maps 2>&1", cli_path, sockex1);
	out = run_cmd(cmd, &st);
	CHECK(out && st == 0 && strstr(out, "program bpf_prog1 (socket_filter)"));
	free(out);

	/* a section without a type is left out when it is not the one run (tc loaded one section) */
	snprintf(cmd, sizeof(cmd), "%s run %s --pcap " SAMPLE " --no-maps 2>&1", cli_path, tcbpf1);
	out = run_cmd(cmd, &st);
	snprintf(want, sizeof(want), "bpfvm run: note: %s: program _redirect_xmit (section redirect_xmit) has no type and is "
		 "not loaded; give one with --type TYPE\n", tcbpf1);
	CHECK(out && st == 0 && strstr(out, want) && strstr(out, "program bpf_prog1 (sched_cls)"));
	free(out);
	/* ... and the run fails, saying so, when it is the one asked for */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog redirect_xmit --pcap " SAMPLE " --no-maps 2>&1", cli_path, tcbpf1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0 && strstr(out, "section redirect_xmit: program '_redirect_xmit': unknown SEC() name"));
	free(out);

	/* --type replaces what the section says: for the program --prog names, or for all */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog classifier --type sched_act --pcap " SAMPLE " --no-maps 2>&1", cli_path,
		 tcbpf1);
	out = run_cmd(cmd, &st);
	CHECK(out && st == 0 && strstr(out, "program bpf_prog1 (sched_act)"));
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s --prog redirect_xmit --type sched_cls --pcap " SAMPLE " --no-maps 2>&1",
		 cli_path, tcbpf1);
	out = run_cmd(cmd, &st);
	snprintf(want, sizeof(want), "program _redirect_xmit (sched_cls) on " SAMPLE ": %" PRIu64 " packets", drop + pass);
	CHECK(out && st == 0 && strstr(out, want) && strstr(out, "REDIRECT  "));
	if (out && !strstr(out, "REDIRECT  "))
		printf("  got:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s --type sched_cls --pcap " SAMPLE " --no-maps 2>&1", cli_path, tcbpf1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0 && strstr(out, "several packet programs") &&
	      strstr(out, "  bpf_prog1  section classifier  type sched_cls\n  _redirect_xmit  section redirect_xmit  type sched_cls\n"));
	free(out);

	/* an unknown --prog: the programs there are, with their sections and types */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog xdp_prog9 --pcap " SAMPLE " 2>&1", cli_path, xdp1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0);
	snprintf(want, sizeof(want), "bpfvm run: %s: no program or section 'xdp_prog9'; the object has:\n"
		 "  xdp_prog1  section xdp1  type xdp\n", xdp1);
	CHECK(out && strstr(out, want));
	free(out);

	/* no packet program left to run: the same list, with the types given */
	snprintf(cmd, sizeof(cmd), "%s run %s --type kprobe --pcap " SAMPLE " 2>&1", cli_path, xdp1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0);
	snprintf(want, sizeof(want), "bpfvm run: %s: no XDP, socket or tc program; choose one with --prog NAME (and --type "
		 "TYPE if its section does not say); the object has:\n  xdp_prog1  section xdp1  type kprobe\n", xdp1);
	CHECK(out && strstr(out, want));
	if (out && !strstr(out, want))
		printf("  got:\n%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s --prog xdp1 --type kprobe --pcap " SAMPLE " 2>&1", cli_path, xdp1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0 &&
	      strstr(out, "program xdp_prog1 (section xdp1) is a kprobe program, not XDP, socket or tc; give its type with "
			  "--type TYPE\n"));
	free(out);

	/* tail calls through the slots bpf_load.c filled: the entry is chosen by its section */
	char sockex3[256];
	CHECK(legacy_obj("sockex3_kern", sockex3, sizeof(sockex3)) != NULL);
	snprintf(cmd, sizeof(cmd), "%s run %s --pcap " SAMPLE " --no-maps 2>&1", cli_path, sockex3);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0 && strstr(out, "every packet program is a tail-call target in a prog array; choose one with "
					    "--prog NAME") && strstr(out, "  main_prog  section socket/0  type socket_filter\n"));
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s --prog socket/0 --pcap " SAMPLE " 2>&1", cli_path, sockex3);
	out = run_cmd(cmd, &st);
	CHECK(out && st == 0 && strstr(out, "program main_prog (socket_filter)") &&
	      strstr(out, ", programs of sections socket/N in slot N of the first map\n") &&
	      strstr(out, "  jmp_table (prog_array, key 4, value 4, max 8): 8 entries\n"));
	free(out);

	/* an unknown --type names the known ones */
	snprintf(cmd, sizeof(cmd), "%s run %s --type xdpp --pcap " SAMPLE " 2>&1", cli_path, xdp1);
	out = run_cmd(cmd, &st);
	CHECK(out && st != 0 &&
	      strstr(out, "bpfvm run: --type 'xdpp' is not a program type; bpfvm knows: unspec socket_filter kprobe sched_cls"));
	free(out);

	/* a libbpf 1.x object gets no note */
	snprintf(cmd, sizeof(cmd), "%s run %s/xdp_lb.bpf.o --pcap " SAMPLE " --no-maps 2>&1", cli_path, obj_dir);
	out = run_cmd(cmd, &st);
	CHECK(out && st == 0 && !strstr(out, "legacy mode"));
	free(out);
}

/* The progress line: only on a terminal, and erased before any other line, so that every "trace:" line
 * starts a clean line.  Run under a pty (script(1)); stdout and stderr both go to it. */
TEST(cli_progress_line)
{
	NEED_SETUP();
	if (!cli_path[0])
		SKIP("no bpfvm binary next to this test build");
	if (system("command -v script >/dev/null 2>&1"))
		SKIP("no script(1) to give the CLI a terminal");
	char obj[128], cmd[9000];
	if (!cli_events_obj(obj, sizeof(obj)))
		SKIP("clang could not build tests/loader/cli_events.bpf.c");
	int st;
	/* `slow` takes ~0.5 ms a packet, so 1024 packets take longer than the progress period (200 ms) */
	snprintf(cmd, sizeof(cmd), "script -qec \"%s run %s --prog slow --pcap " SAMPLE " --count 2100 --no-maps\" /dev/null",
		 cli_path, obj);
	char *out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	CHECK(strstr(out, "\r1024 packets...") != NULL);
	CHECK(strstr(out, "\r2048 packets...") != NULL);
	size_t traces = 0;
	for (const char *t = strstr(out, "trace: slow "); t; t = strstr(t + 1, "trace: slow ")) {
		traces++;
		bool line_start = t == out || t[-1] == '\n' || (t - out >= 4 && !memcmp(t - 4, "\r\033[K", 4));
		CHECK(line_start);
	}
	CHECK_EQ_U64(traces, 4); /* packets 511, 1023, 1535, 2047 of those that run */
	/* the last progress line is erased before the summary */
	const char *sum = strstr(out, "program slow (xdp)");
	CHECK(sum != NULL && (size_t)(sum - out) > 4);
	free(out);
	/* not a terminal: no progress line at all */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog slow --pcap " SAMPLE " --count 1100 --no-maps 2>&1", cli_path, obj);
	out = run_cmd(cmd, &st);
	CHECK(out != NULL && strstr(out, "packets...") == NULL && strstr(out, "\033[K") == NULL);
	free(out);
}

TEST(cli_run)
{
	NEED_SETUP();
	if (!cli_path[0])
		SKIP("no bpfvm binary next to this test build");
	char cmd[9000], outp[] = "/tmp/bpfvm-cli-out-XXXXXX";
	int st, fd = mkstemp(outp);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "%s run %s/xdp_firewall.bpf.o --pcap " SAMPLE " --map-file examples/xdp_firewall.maps --out %s "
		 "--json --top sources:3 2>&1", cli_path, obj_dir, outp);
	char *out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	CHECK(strstr(out, "\"verdicts\":{\"DROP\":500,\"PASS\":2494,\"TX\":0") != NULL);
	CHECK(strstr(out, "\"written\":2494") != NULL);
	CHECK(strstr(out, "{\"key\":\"172.16.66.3\",\"count\":330,\"value\":{\"pkts\":330,\"bytes\":") != NULL);
	CHECK(strstr(out, "\"name\":\"block_v6\"") != NULL);
	free(out);
	/* out.pcap has what passed. */
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(outp, eb);
	CHECK(p != NULL);
	if (p) {
		struct pcap_pkthdr *h;
		const u_char *d;
		int n = 0;
		while (pcap_next_ex(p, &h, &d) == 1)
			n++;
		CHECK_EQ_U64(n, 2494);
		pcap_close(p);
	}
	unlink(outp);

	/* Text mode: events as they arrive, verdicts, a map initialised from the command line. */
	snprintf(cmd, sizeof(cmd),
		 "%s run %s/xdp_lb.bpf.o --pcap " SAMPLE " --map backends:00000000=0a0001010200000001010000 "
		 "--map 'backends:01000000=0a000102 020000000102 1f90' --map backends:02000000=0a0001030200000001030000 "
		 "--map backends:03000000=0a0001040200000001040000 --no-maps 2>&1", cli_path, obj_dir);
	out = run_cmd(cmd, &st);
	CHECK(out != NULL);
	if (!out)
		return;
	CHECK_EQ_U64(st, 0);
	CHECK(strstr(out, "TX        963") != NULL);
	free(out);

	/* Errors: a missing capture, a map that does not exist, a key of the wrong size, no source. */
	snprintf(cmd, sizeof(cmd), "%s run %s/xdp_lb.bpf.o --pcap /nonexistent/x.pcap 2>&1", cli_path, obj_dir);
	out = run_cmd(cmd, &st);
	CHECK(st != 0 && out && strstr(out, "/nonexistent/x.pcap") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s/xdp_lb.bpf.o --pcap " SAMPLE " --map nope:00=00 2>&1", cli_path, obj_dir);
	out = run_cmd(cmd, &st);
	CHECK(st != 0 && out && strstr(out, "no map 'nope'") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s/xdp_lb.bpf.o --pcap " SAMPLE " --map backends:00=00 2>&1", cli_path,
		 obj_dir);
	out = run_cmd(cmd, &st);
	CHECK(st != 0 && out && strstr(out, "key is 1 bytes, the map's keys are 4") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s run %s/tail_calls.bpf.o --pcap " SAMPLE " --count 3 -v --no-maps 2>&1",
		 cli_path, obj_dir);
	out = run_cmd(cmd, &st);
	/* tail-call targets are not entry points: dispatch is picked by itself */
	CHECK(st == 0 && out && strstr(out, "program dispatch (xdp)") && strstr(out, "#3 "));
	free(out);
}

/* ---- capture files ---------------------------------------------------------------------------- */

static int write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(p, 1, len, f);
	fclose(f);
	return n == len ? 0 : -1;
}

static void put32le(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A pcapng file (SHB, IDB, one EPB per frame) built by hand from the first n sample frames. */
static size_t make_pcapng(uint8_t *buf, size_t n)
{
	size_t o = 0;
	uint8_t *b = buf;
	/* SHB */
	put32le(b + o, 0x0a0d0d0a), put32le(b + o + 4, 28), put32le(b + o + 8, 0x1a2b3c4d);
	b[o + 12] = 1, b[o + 13] = 0, b[o + 14] = 0, b[o + 15] = 0;
	memset(b + o + 16, 0xff, 8);
	put32le(b + o + 24, 28);
	o += 28;
	/* IDB: linktype 1, snaplen 65535 */
	put32le(b + o, 1), put32le(b + o + 4, 20), put32le(b + o + 8, 1), put32le(b + o + 12, 65535),
		put32le(b + o + 16, 20);
	o += 20;
	for (size_t i = 0; i < n; i++) {
		uint32_t len = frames[i].len, pad = (4 - len % 4) % 4, blen = 32 + len + pad;
		put32le(b + o, 6), put32le(b + o + 4, blen), put32le(b + o + 8, 0);
		put32le(b + o + 12, 0), put32le(b + o + 16, (uint32_t)i);
		put32le(b + o + 20, len), put32le(b + o + 24, len);
		memcpy(b + o + 28, frames[i].data, len);
		memset(b + o + 28 + len, 0, pad);
		put32le(b + o + 28 + len + pad, blen);
		o += blen;
	}
	return o;
}

TEST(pcapng_input)
{
	NEED_SETUP();
	struct loaded l;
	if (load_example(&l, "tc_classifier", "tc_classify", NULL)) {
		CHECK(0);
		return;
	}
	size_t n = 500;
	uint8_t *buf = malloc(64 + n * (32 + 2048));
	size_t len = make_pcapng(buf, n);
	char path[] = "/tmp/bpfvm-ng-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	CHECK(write_file(path, buf, len) == 0);
	struct run_ctx *rc = calloc(1, sizeof(*rc));
	struct bpfvm_pcap_opts po = { .sz = sizeof(po), .cb = on_pkt, .cb_ctx = rc };
	struct bpfvm_pkt_stats st;
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, &po, &st) == 0);
	uint64_t mismatch = 0, runs = 0;
	for (size_t i = 0; i < n; i++) {
		if (frames[i].len < 14)
			continue;
		runs++;
		int c = m_tc(&frames[i]);
		mismatch += rc->rec[i].action != (c == C_SHOT ? A_DROP : A_PASS);
	}
	CHECK_EQ_U64(st.pkts, runs);
	CHECK_EQ_U64(mismatch, 0);
	unlink(path);
	free(rc);
	free(buf);
	unload(&l);
}

TEST(broken_captures)
{
	NEED_SETUP();
	struct loaded l;
	if (load_example(&l, "tc_classifier", "tc_classify", NULL)) {
		CHECK(0);
		return;
	}
	FILE *f = fopen(SAMPLE, "rb");
	uint8_t *buf = malloc(1 << 20);
	size_t len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	CHECK(len > 4096);
	char path[] = "/tmp/bpfvm-bad-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	struct bpfvm_pkt_stats st;

	/* Cut in the middle of packet 3's data: 24-byte file header, then 16-byte record headers. */
	size_t off = 24;
	for (int i = 0; i < 2; i++)
		off += 16 + frames[i].len;
	CHECK(write_file(path, buf, off + 16 + 5) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == -EIO);
	CHECK(strstr(bpfvm_errmsg(l.vm), path) != NULL);
	CHECK(strstr(bpfvm_errmsg(l.vm), "packet 3:") != NULL);
	CHECK_EQ_U64(st.pkts, 2);

	/* Cut inside the record header of packet 3. */
	CHECK(write_file(path, buf, off + 7) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == -EIO);
	CHECK(strstr(bpfvm_errmsg(l.vm), "packet 3:") != NULL);

	/* A record claiming more than a frame. */
	memcpy(buf + 4096, buf, off);
	uint32_t huge = 200000;
	memcpy(buf + 4096 + off, buf + off, 16);
	memcpy(buf + 4096 + off + 8, &huge, 4);
	memcpy(buf + 4096 + off + 12, &huge, 4);
	CHECK(write_file(path, buf + 4096, off + 16 + 64) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == -EIO);
	CHECK(strstr(bpfvm_errmsg(l.vm), "packet 3") != NULL);

	/* Not a capture at all; a missing file; not Ethernet. */
	CHECK(write_file(path, "hello, world, this is not a pcap", 32) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(l.vm), path) != NULL);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, "/nonexistent/x.pcap", NULL, &st) == -ENOENT);
	memcpy(buf + 4096, buf, 24);
	uint32_t raw = 101; /* LINKTYPE_RAW */
	memcpy(buf + 4096 + 20, &raw, 4);
	CHECK(write_file(path, buf + 4096, 24) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(l.vm), "not Ethernet") != NULL);

	/* An empty but valid capture runs nothing. */
	CHECK(write_file(path, buf, 24) == 0);
	CHECK(bpfvm_pcap_run(l.vm, l.prog, path, NULL, &st) == 0);
	CHECK_EQ_U64(st.pkts, 0);

	/* max_pkts stops early; a callback returning non-zero stops too. */
	struct bpfvm_pcap_opts po = { .sz = sizeof(po), .max_pkts = 10 };
	CHECK(bpfvm_pcap_run(l.vm, l.prog, SAMPLE, &po, &st) == 0);
	CHECK(st.pkts + st.skipped == 10);
	/* Unknown opts size. */
	po.sz = sizeof(po) + 8;
	CHECK(bpfvm_pcap_run(l.vm, l.prog, SAMPLE, &po, &st) == -EINVAL);
	/* A bad program handle: every run fails and is counted; stop_on_error ends with the errno. */
	struct bpfvm_pcap_opts pe = { .sz = sizeof(pe), .stop_on_error = 1 };
	CHECK(bpfvm_pcap_run(l.vm, 9999, SAMPLE, &pe, &st) == -EBADF);
	CHECK(strstr(bpfvm_errmsg(l.vm), "packet 1:") != NULL);
	CHECK(bpfvm_pcap_run(l.vm, 9999, SAMPLE, NULL, &st) == 0);
	CHECK_EQ_U64(st.errors, 2994);
	unlink(path);
	free(buf);
	unload(&l);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (read_sample())
		skip_reason = "examples/sample.pcap not readable (run from the source tree)";
	else
		find_objects(argv[0]);
	RUN(sample_is_as_generated);
	RUN(firewall);
	RUN(firewall_events);
	RUN(load_balancer);
	RUN(socket_filter);
	RUN(tc_classifier);
	RUN(tail_calls);
	RUN(examples_untrusted);
	/* the same verdicts, maps and events from the interpreter (each case checks against its C model) */
	engine_interp = 1;
	printf("-- again in the interpreter (bpfvm_opts.interp):\n");
	RUN(firewall);
	RUN(firewall_events);
	RUN(load_balancer);
	RUN(socket_filter);
	RUN(tc_classifier);
	RUN(tail_calls);
	RUN(examples_untrusted);
	RUN(legacy_objects);
	engine_interp = 0;
	RUN(kernel_differential);
	RUN(legacy_objects);
	RUN(legacy_kernel_differential);
	RUN(cli_run);
	RUN(cli_trace_and_events);
	RUN(cli_progress_line);
	RUN(cli_legacy);
	if (built[0])
		unlink(built);
	RUN(pcapng_input);
	RUN(broken_captures);
	for (size_t i = 0; i < frame_cnt; i++)
		free(frames[i].data);
	if (legacy_dir[0]) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", legacy_dir);
		if (system(cmd))
			printf("  could not remove %s\n", legacy_dir);
	}
	if (obj_dir_is_temp && !strncmp(obj_dir, "/tmp/bpfvm-examples-", 20)) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%.4000s'", obj_dir);
		if (system(cmd))
			printf("  could not remove %s\n", obj_dir);
	}
	return test_done();
}
