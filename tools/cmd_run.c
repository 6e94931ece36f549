/* cmd_run.c -- `bpfvm run prog.o ...`: loads a clang-built object and runs one of its programs on every
 * packet of a pcap/pcapng file (--pcap) or of a live interface (--iface).  Prints verdict counts
 * (per-packet verdicts with -v), trace_printk output and ring buffer / perf events as they arrive,
 * writes passed and transmitted packets to --out, and dumps the maps at the end; --json prints one JSON
 * document instead.  Maps can be filled before the run (--map, --map-file).  Public API only. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "cmd.h"
#include "util.h"

#define MAX_EVENT_MAPS 16
#define MAX_INITS      256
#define MAX_FAULTS     32

struct run_opts {
	const char *obj_path, *prog_name, *pcap, *iface, *out;
	const char *type_name;      /* --type: BPF_PROG_TYPE_* name as bpfvm_prog_type_by_name() reads it */
	const char *pin_dir;        /* --pin-maps: the pin root; every map is pinned there by name */
	bool verbose, json, no_maps;
	bool untrusted;             /* --untrusted: bpfvm_opts.untrusted (an object is trusted by default) */
	bool interp;                /* --interp: bpfvm_opts.interp (the JIT by default where available) */
	bool no_verify;             /* --no-verify: bpfvm_opts.verify = BPFVM_VERIFY_OFF (verified by default) */
	uint64_t count;
	int timeout_ms;
	unsigned int cpus;
	const char *inits[MAX_INITS]; /* "NAME:KEYHEX=VALUEHEX" */
	size_t init_cnt;
	const char *map_files[8];
	size_t map_file_cnt;
	const char *top_map;
	long max_events;            /* event lines to print (-1: all) */
	long max_entries;           /* map entries to print per map (-1: all; JSON: always all) */
	uint64_t insn_limit;        /* budget of each packet's run */
	uint64_t map_mem_max;       /* --map-mem-max (0: the library's default) */
};

struct event_src {
	struct runner *r;
	const char *map;
	uint64_t cnt, lost;
	struct bpfvm_ringbuf *rb;
	struct bpfvm_perf_buffer *pb;
};

struct runner {
	struct run_opts o;
	struct bpfvm *vm;
	struct bpfvm_object *obj;
	uint32_t prog_type;
	unsigned int nr_cpus;
	struct event_src ev[MAX_EVENT_MAPS];
	size_t ev_cnt;
	/* JSON sections, built while the run goes and printed at the end */
	char *js_pkts, *js_events, *js_trace;
	size_t js_pkts_len, js_events_len, js_trace_len;
	FILE *jp, *je, *jt;
	bool progress;
	bool progress_shown;        /* a progress line is on the terminal: clear it before other output */
	uint64_t last_progress_ns;
	uint64_t events_printed;
	/* Faults, each distinct one (insn and errno) once, with how many packets hit it and the first. */
	struct fault_rec {
		long insn;          /* -1: not located */
		int err;
		uint64_t pkts, first_pkt;
		char msg[384];      /* the located message without "prog 'NAME': " */
	} faults[MAX_FAULTS];
	size_t fault_cnt;
	uint64_t faults_unlisted;   /* packets whose fault did not fit the table */
	char **vlogs;               /* -v: each program's verifier log (VLOG_SIZE bytes, NULL: not loaded) */
	size_t vlog_cnt;
};

void cmd_run_pcap_usage(FILE *f)
{
	fprintf(f,
		"usage: bpfvm run PROG.o [--prog NAME] [--type TYPE] (--pcap IN.pcap | --iface IF) [--out OUT.pcap]\n"
		"                 [-v] [--json] [--count N] [--timeout MS] [--map NAME:KEYHEX=VALUEHEX]...\n"
		"                 [--map-file FILE] [--top MAP[:N]] [--events N] [--max-entries N]\n"
		"                 [--no-maps] [--cpus N] [--untrusted] [--map-mem-max BYTES] [--pin-maps DIR]\n"
		"                 [--interp] [--no-verify]\n"
		"  --prog NAME  the program to run, by its function or its section name\n"
		"  --type TYPE  load it (without --prog: every program) as TYPE whatever its section says, as old\n"
		"               loaders did: xdp, socket_filter, sched_cls, sched_act, ... (BPF_PROG_TYPE_* in\n"
		"               lower case)\n"
		"  --map        fill a map before the run (hex bytes as in memory; a per-CPU value given once is\n"
		"               copied to every CPU); --map-file reads such lines (NAME KEYHEX VALUEHEX, # comments)\n"
		"  --top MAP:N  list the N entries of MAP with the largest first 8 value bytes (default 10)\n"
		"  --events N   print at most N ring buffer / perf events (all are counted in the map dump)\n"
		"  --untrusted  the object's programs get Linux's unprivileged rules (README \"Untrusted mode\")\n"
		"  --insn-limit N|unlimited  instruction budget of each packet's run (default 1000000)\n"
		"  --map-mem-max BYTES  cap on the memory of all the object's maps (N, NK, NM, NG, unlimited;\n"
		"               default 1G): creating a map past it fails with ENOMEM\n"
		"  --interp     run in the interpreter (default: the x86-64 JIT where available)\n"
		"  --no-verify  load without the verifier (README \"Verification\"): a program it refuses runs\n"
		"               anyway, on the run-time checks alone (a bad access faults the packet); by default\n"
		"               a refused program is not run: the error names the section, insn and reason, and\n"
		"               -v adds the verifier's log\n"
		"  --pin-maps DIR  pin every map of the object at DIR/NAME (an absolute directory, used as the pin\n"
		"               root), so `bpfvm map dump DIR/NAME` shows it during and after the run\n");
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- names ------------------------------------------------------------------------------- */

static const char *prog_type_name(uint32_t t)
{
	const char *n = bpfvm_prog_type_name(t);
	return n ? n : "unknown";
}

static bool is_packet_type(uint32_t t)
{
	return t == BPF_PROG_TYPE_XDP || t == BPF_PROG_TYPE_SOCKET_FILTER || t == BPF_PROG_TYPE_SCHED_CLS ||
	       t == BPF_PROG_TYPE_SCHED_ACT;
}

static const char *const action_names[5] = { "DROP", "PASS", "TX", "REDIRECT", "ABORTED" };

/* The return value as the program type names it. */
static void retval_name(uint32_t type, uint64_t rv, char *buf, size_t len)
{
	static const char *const xdp[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };
	static const char *const tc[] = { "TC_ACT_OK", "TC_ACT_RECLASSIFY", "TC_ACT_SHOT", "TC_ACT_PIPE",
					  "TC_ACT_STOLEN", "TC_ACT_QUEUED", "TC_ACT_REPEAT", "TC_ACT_REDIRECT",
					  "TC_ACT_TRAP" };
	uint32_t v = (uint32_t)rv;

	if (type == BPF_PROG_TYPE_XDP && v < 5)
		snprintf(buf, len, "%s", xdp[v]);
	else if ((type == BPF_PROG_TYPE_SCHED_CLS || type == BPF_PROG_TYPE_SCHED_ACT) && v < 9)
		snprintf(buf, len, "%s", tc[v]);
	else if ((type == BPF_PROG_TYPE_SCHED_CLS || type == BPF_PROG_TYPE_SCHED_ACT) && (int32_t)v == -1)
		snprintf(buf, len, "TC_ACT_UNSPEC");
	else if (type == BPF_PROG_TYPE_SOCKET_FILTER)
		snprintf(buf, len, v ? "keep %u" : "drop", v);
	else
		snprintf(buf, len, "%" PRIu64, rv);
}

static void json_str(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void hex(FILE *f, const uint8_t *p, size_t len, bool spaced)
{
	for (size_t i = 0; i < len; i++)
		fprintf(f, spaced && i ? " %02x" : "%02x", p[i]);
}

/* ---- trace_printk and events ------------------------------------------------------------- */

/* The progress line is "\rN packets..." on stderr without a newline; stdout is the same terminal, so a
 * line printed after it would continue it.  Erase it first (the next progress update redraws it). */
static void clear_progress(struct runner *r)
{
	if (!r->progress_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	r->progress_shown = false;
}

static void on_print(void *ctx, const char *msg, size_t len)
{
	struct runner *r = ctx;

	while (len && (msg[len - 1] == '\n' || msg[len - 1] == 0))
		len--;
	if (r->o.json) {
		if (r->js_trace_len || ftell(r->jt) > 0)
			fputc(',', r->jt);
		json_str(r->jt, msg, len);
	} else {
		clear_progress(r);
		printf("trace: %.*s\n", (int)len, msg);
		fflush(stdout); /* ordered with the progress line on stderr */
	}
}

/* data as BTF type `type` says, into f; false (nothing written) without a type or on failure. */
static bool btf_out(struct runner *r, FILE *f, uint32_t type, const void *data, size_t len, bool json)
{
	char small[512];
	if (!type)
		return false;
	long n = bpfvm_object_btf_format(r->obj, type, data, len, json ? BPFVM_FMT_JSON : 0, small, sizeof(small));
	if (n < 0)
		return false;
	if ((size_t)n < sizeof(small)) {
		fputs(small, f);
		return true;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		return false;
	bpfvm_object_btf_format(r->obj, type, data, len, json ? BPFVM_FMT_JSON : 0, big, (size_t)n + 1);
	fputs(big, f);
	free(big);
	return true;
}

/* The struct an event record of `size` bytes from map `map` is (bpfvm_object_event_type(): the type the
 * program named with EVENT_TYPE(), else found by size).  0: print hex. */
static uint32_t event_type(struct runner *r, const char *map, size_t size)
{
	return bpfvm_object_event_type(r->obj, map, size);
}

static void event_out(struct event_src *e, int cpu, const void *data, size_t size)
{
	struct runner *r = e->r;
	uint32_t type = event_type(r, e->map, size);

	e->cnt++;
	if (r->o.json) {
		if (ftell(r->je) > 0)
			fputc(',', r->je);
		fprintf(r->je, "{\"map\":");
		json_str(r->je, e->map, strlen(e->map));
		if (cpu >= 0)
			fprintf(r->je, ",\"cpu\":%d", cpu);
		fprintf(r->je, ",\"data\":\"");
		hex(r->je, data, size, false);
		fputc('"', r->je);
		if (type) {
			fputs(",\"value\":", r->je);
			btf_out(r, r->je, type, data, size, true);
		}
		fputc('}', r->je);
	} else if (r->o.max_events < 0 || (long)r->events_printed < r->o.max_events) {
		r->events_printed++;
		clear_progress(r);
		printf("event %s", e->map);
		if (cpu >= 0)
			printf(" cpu %d", cpu);
		printf(" (%zu bytes): ", size);
		if (!btf_out(r, stdout, type, data, size, false))
			hex(stdout, data, size, true);
		putchar('\n');
		fflush(stdout);
	}
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	event_out(ctx, -1, data, size);
	return 0;
}

static void on_perf(void *ctx, int cpu, void *data, uint32_t size)
{
	event_out(ctx, cpu, data, size);
}

static void on_perf_lost(void *ctx, int cpu, uint64_t cnt)
{
	struct event_src *e = ctx;

	(void)cpu;
	e->lost += cnt;
}

static void poll_events(struct runner *r)
{
	for (size_t i = 0; i < r->ev_cnt; i++) {
		if (r->ev[i].rb)
			bpfvm_ringbuf_poll(r->ev[i].rb, 0);
		if (r->ev[i].pb)
			bpfvm_perf_buffer_poll(r->ev[i].pb, 0);
	}
}

static int setup_events(struct runner *r)
{
	for (size_t i = 0; i < bpfvm_object_map_cnt(r->obj) && r->ev_cnt < MAX_EVENT_MAPS; i++) {
		uint32_t t = bpfvm_object_map_type(r->obj, i);
		struct event_src *e = &r->ev[r->ev_cnt];
		int fd = bpfvm_object_map_fd_at(r->obj, i), err = 0;

		if (t != BPF_MAP_TYPE_RINGBUF && t != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
			continue;
		e->r = r;
		e->map = bpfvm_object_map_name(r->obj, i);
		if (t == BPF_MAP_TYPE_RINGBUF)
			err = bpfvm_ringbuf_new(r->vm, fd, on_ringbuf, e, &e->rb);
		else
			err = bpfvm_perf_buffer_new(r->vm, fd, on_perf, on_perf_lost, e, &e->pb);
		if (err) {
			fprintf(stderr, "bpfvm run: map %s: cannot consume events: %s\n", e->map, bpfvm_errmsg(r->vm));
			return -1;
		}
		r->ev_cnt++;
	}
	return 0;
}

/* ---- maps -------------------------------------------------------------------------------- */

static int map_info(struct runner *r, int fd, struct bpf_map_info *info)
{
	union bpf_attr a;

	memset(info, 0, sizeof(*info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(*info);
	a.info.info = (uint64_t)(uintptr_t)info;
	return (int)bpfvm_bpf(r->vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a));
}

static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static size_t value_buf_size(struct runner *r, const struct bpf_map_info *in)
{
	if (is_percpu(in->type))
		return ((in->value_size + 7u) & ~7u) * (size_t)r->nr_cpus;
	return in->value_size;
}

static const char *map_type_name(uint32_t t)
{
	static const char *const names[] = {
		[BPF_MAP_TYPE_HASH] = "hash", [BPF_MAP_TYPE_ARRAY] = "array",
		[BPF_MAP_TYPE_PROG_ARRAY] = "prog_array", [BPF_MAP_TYPE_PERF_EVENT_ARRAY] = "perf_event_array",
		[BPF_MAP_TYPE_PERCPU_HASH] = "percpu_hash", [BPF_MAP_TYPE_PERCPU_ARRAY] = "percpu_array",
		[BPF_MAP_TYPE_STACK_TRACE] = "stack_trace", [BPF_MAP_TYPE_LRU_HASH] = "lru_hash",
		[BPF_MAP_TYPE_LRU_PERCPU_HASH] = "lru_percpu_hash", [BPF_MAP_TYPE_LPM_TRIE] = "lpm_trie",
		[BPF_MAP_TYPE_ARRAY_OF_MAPS] = "array_of_maps", [BPF_MAP_TYPE_HASH_OF_MAPS] = "hash_of_maps",
		[BPF_MAP_TYPE_DEVMAP] = "devmap", [BPF_MAP_TYPE_CPUMAP] = "cpumap", [BPF_MAP_TYPE_XSKMAP] = "xskmap",
		[BPF_MAP_TYPE_QUEUE] = "queue", [BPF_MAP_TYPE_STACK] = "stack", [BPF_MAP_TYPE_DEVMAP_HASH] = "devmap_hash",
		[BPF_MAP_TYPE_RINGBUF] = "ringbuf", [BPF_MAP_TYPE_BLOOM_FILTER] = "bloom_filter",
	};
	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "map";
}

/* "NAME:KEYHEX=VALUEHEX" or "NAME KEYHEX VALUEHEX". */
static int map_init_one(struct runner *r, const char *spec, const char *where)
{
	char name[128], khex[1024], vhex[8192];
	uint8_t *k = NULL, *v = NULL, *vb = NULL;
	size_t kl, vl;
	int rc = -1;

	int used = 0;
	if (sscanf(spec, "%127[^: \t]:%1023[^=]=%8191[^\n]", name, khex, vhex) != 3 &&
	    (sscanf(spec, "%127s %1023s %n", name, khex, &used) != 2 || !used ||
	     snprintf(vhex, sizeof(vhex), "%s", spec + used) <= 0)) {
		fprintf(stderr, "%s: expected NAME:KEYHEX=VALUEHEX or NAME KEYHEX VALUEHEX, got '%s'\n", where, spec);
		return -1;
	}
	int fd = bpfvm_object_map_fd(r->obj, name);
	if (fd < 0) {
		fprintf(stderr, "%s: no map '%s' in %s\n", where, name, r->o.obj_path);
		return -1;
	}
	struct bpf_map_info info;
	if (map_info(r, fd, &info)) {
		fprintf(stderr, "%s: map %s: %s\n", where, name, bpfvm_errmsg(r->vm));
		return -1;
	}
	if (tool_parse_hex(khex, &k, &kl) || tool_parse_hex(vhex, &v, &vl)) {
		fprintf(stderr, "%s: map %s: not hex bytes\n", where, name);
		goto out;
	}
	if (kl != info.key_size) {
		fprintf(stderr, "%s: map %s: key is %zu bytes, the map's keys are %u\n", where, name, kl, info.key_size);
		goto out;
	}
	size_t vsz = value_buf_size(r, &info);
	if (vl == info.value_size && vsz != vl) { /* per-CPU: the same value for every CPU */
		size_t stride = (info.value_size + 7u) & ~7u;
		vb = calloc(1, vsz);
		if (!vb)
			goto out;
		for (unsigned int c = 0; c < r->nr_cpus; c++)
			memcpy(vb + c * stride, v, vl);
	} else if (vl != vsz) {
		fprintf(stderr, "%s: map %s: value is %zu bytes, the map's values are %u\n", where, name, vl,
			info.value_size);
		goto out;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)k;
	a.value = (uint64_t)(uintptr_t)(vb ? vb : v);
	a.flags = BPF_ANY;
	if (bpfvm_bpf(r->vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a))) {
		fprintf(stderr, "%s: map %s: update: %s\n", where, name, bpfvm_errmsg(r->vm));
		goto out;
	}
	rc = 0;
out:
	free(k);
	free(v);
	free(vb);
	return rc;
}

static int map_init_file(struct runner *r, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[16384], where[512];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "bpfvm run: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		char *hash = strchr(p, '#');
		if (hash)
			*hash = 0;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (map_init_one(r, p, where)) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Prints a key: IPv4/IPv6-looking keys of 4 or 16 bytes also as addresses. */
static void key_text(const uint8_t *k, uint32_t len, char *buf, size_t cap)
{
	if (len == 16) {
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (!memcmp(k, v4mapped, 12))
			inet_ntop(AF_INET, k + 12, buf, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, k, buf, (socklen_t)cap);
		return;
	}
	size_t n = 0;
	for (uint32_t i = 0; i < len && n + 3 < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, i ? " %02x" : "%02x", k[i]);
}

/* Per-CPU values summed as little-endian u64 words (u32 when the value size is not a multiple of 8). */
static void percpu_sum(struct runner *r, const struct bpf_map_info *in, const uint8_t *v, uint8_t *sum)
{
	size_t stride = (in->value_size + 7u) & ~7u;
	unsigned int w = in->value_size % 8 ? 4 : 8;

	memset(sum, 0, in->value_size);
	for (unsigned int c = 0; c < r->nr_cpus; c++) {
		for (uint32_t off = 0; off + w <= in->value_size; off += w) {
			uint64_t a = 0, b = 0;
			memcpy(&a, sum + off, w);
			memcpy(&b, v + c * stride + off, w);
			a += b;
			memcpy(sum + off, &a, w);
		}
	}
}

struct entry {
	uint8_t *key, *val;
	uint64_t rank;
};

/* Keys in a stable order: up to 8 bytes as the little-endian number they are on this host (array
 * indexes, u32/u64 keys: 1 < 2 < 256), longer keys bytewise (addresses, structs). */
static int cmp_key(const void *a, const void *b, void *ksz)
{
	const struct entry *x = a, *y = b;
	size_t n = *(const size_t *)ksz;

	if (n <= 8) {
		uint64_t u = 0, v = 0;
		for (size_t i = n; i-- > 0;) {
			u = u << 8 | x->key[i];
			v = v << 8 | y->key[i];
		}
		return u < v ? -1 : u > v;
	}
	return memcmp(x->key, y->key, n);
}

static int cmp_entry(const void *a, const void *b, void *ksz)
{
	const struct entry *x = a, *y = b;

	return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : cmp_key(a, b, ksz);
}

/* Reads every entry of a keyed map.  Returns the count (entries malloc'd) or -1. */
static long map_entries(struct runner *r, int fd, const struct bpf_map_info *in, struct entry **out)
{
	size_t vsz = value_buf_size(r, in), cnt = 0, cap = 0;
	struct entry *es = NULL;
	uint8_t *prev = NULL;
	union bpf_attr a;

	for (;;) {
		uint8_t *k = malloc(in->key_size ? in->key_size : 1);
		if (!k)
			break;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd;
		a.key = (uint64_t)(uintptr_t)prev;
		a.next_key = (uint64_t)(uintptr_t)k;
		if (bpfvm_bpf(r->vm, BPF_MAP_GET_NEXT_KEY, &a, sizeof(a))) {
			free(k);
			break;
		}
		uint8_t *v = malloc(vsz ? vsz : 1);
		if (!v) {
			free(k);
			break;
		}
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd;
		a.key = (uint64_t)(uintptr_t)k;
		a.value = (uint64_t)(uintptr_t)v;
		if (bpfvm_bpf(r->vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a))) {
			free(v);
			v = NULL;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct entry *n = realloc(es, nc * sizeof(*es));
			if (!n) {
				free(k);
				free(v);
				break;
			}
			es = n;
			cap = nc;
		}
		es[cnt].key = k;
		es[cnt].val = v;
		es[cnt].rank = 0;
		cnt++;
		prev = k;
		if (cnt > (1u << 20))
			break;
	}
	size_t ksz = in->key_size;
	qsort_r(es, cnt, sizeof(*es), cmp_key, &ksz); /* hash maps iterate in hash order: sort for a stable dump */
	*out = es;
	return (long)cnt;
}

static void free_entries(struct entry *es, long n)
{
	for (long i = 0; i < n; i++) {
		free(es[i].key);
		free(es[i].val);
	}
	free(es);
}

/* A key or value: by its BTF type when the map has one, else hex ("01 00" text, "0100" JSON string). */
static void dump_bytes(struct runner *r, FILE *f, uint32_t type, const uint8_t *p, size_t len, bool json)
{
	if (btf_out(r, f, type, p, len, json))
		return;
	if (type == UINT32_MAX && len == 4) { /* an array index: a u32 whatever the BTF says */
		uint32_t k;
		memcpy(&k, p, 4);
		fprintf(f, "%u", k);
		return;
	}
	if (json)
		fputc('"', f);
	hex(f, p, len, !json);
	if (json)
		fputc('"', f);
}

static void dump_value(struct runner *r, FILE *f, const struct bpf_map_info *in, uint32_t vt, const uint8_t *v,
		       bool json)
{
	if (!v) {
		fputs(json ? "null" : "(no value)", f);
		return;
	}
	if (!is_percpu(in->type)) {
		dump_bytes(r, f, vt, v, in->value_size, json);
		return;
	}
	uint8_t *sum = malloc(in->value_size ? in->value_size : 1);
	if (!sum)
		return;
	percpu_sum(r, in, v, sum);
	size_t stride = (in->value_size + 7u) & ~7u;
	if (json) {
		fputs("{\"sum\":", f);
		dump_bytes(r, f, vt, sum, in->value_size, true);
		fputs(",\"cpus\":[", f);
		for (unsigned int c = 0; c < r->nr_cpus; c++) {
			fputs(c ? "," : "", f);
			dump_bytes(r, f, vt, v + c * stride, in->value_size, true);
		}
		fputs("]}", f);
	} else {
		dump_bytes(r, f, vt, sum, in->value_size, false);
		fprintf(f, "  (sum over %u CPUs)", r->nr_cpus);
		if (r->o.verbose)
			for (unsigned int c = 0; c < r->nr_cpus; c++) {
				bool zero = true;
				for (uint32_t i = 0; i < in->value_size; i++)
					zero &= v[c * stride + i] == 0;
				if (zero)
					continue;
				fprintf(f, "\n      cpu %u: ", c);
				dump_bytes(r, f, vt, v + c * stride, in->value_size, false);
			}
	}
	free(sum);
}

static void dump_maps(struct runner *r, FILE *f)
{
	bool json = r->o.json;

	if (json)
		fputs(",\"maps\":[", f);
	else
		fputs("\nmaps:\n", f);
	for (size_t i = 0; i < bpfvm_object_map_cnt(r->obj); i++) {
		const char *name = bpfvm_object_map_name(r->obj, i);
		int fd = bpfvm_object_map_fd_at(r->obj, i);
		struct bpf_map_info in;
		struct entry *es = NULL;
		long n = 0;

		if (fd < 0 || map_info(r, fd, &in))
			continue;
		bool keyed = in.type != BPF_MAP_TYPE_RINGBUF && in.type != BPF_MAP_TYPE_PERF_EVENT_ARRAY &&
			     in.type != BPF_MAP_TYPE_QUEUE && in.type != BPF_MAP_TYPE_STACK &&
			     in.type != BPF_MAP_TYPE_BLOOM_FILTER;
		if (keyed)
			n = map_entries(r, fd, &in, &es);
		uint32_t kt = 0, vt = 0;
		bpfvm_object_map_btf(r->obj, i, &kt, &vt);
		if (!kt && (in.type == BPF_MAP_TYPE_ARRAY || in.type == BPF_MAP_TYPE_PERCPU_ARRAY))
			kt = UINT32_MAX; /* global data and other arrays without a key type: indexes */
		if (json) {
			fprintf(f, "%s{\"name\":", i ? "," : "");
			json_str(f, name, strlen(name));
			fprintf(f, ",\"type\":\"%s\",\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u,\"entries\":[",
				map_type_name(in.type), in.key_size, in.value_size, in.max_entries);
			for (long j = 0; j < n; j++) {
				fprintf(f, "%s{\"key\":", j ? "," : "");
				dump_bytes(r, f, kt, es[j].key, in.key_size, true);
				fputs(",\"value\":", f);
				dump_value(r, f, &in, vt, es[j].val, true);
				fputc('}', f);
			}
			fputs("]", f);
			for (size_t e = 0; e < r->ev_cnt; e++)
				if (!strcmp(r->ev[e].map, name))
					fprintf(f, ",\"events\":%" PRIu64 ",\"lost\":%" PRIu64, r->ev[e].cnt, r->ev[e].lost);
			fputs("}", f);
		} else {
			fprintf(f, "  %s (%s, key %u, value %u, max %u)", name, map_type_name(in.type), in.key_size,
				in.value_size, in.max_entries);
			for (size_t e = 0; e < r->ev_cnt; e++)
				if (!strcmp(r->ev[e].map, name))
					fprintf(f, ": %" PRIu64 " events, %" PRIu64 " lost", r->ev[e].cnt, r->ev[e].lost);
			if (keyed)
				fprintf(f, ": %ld entries", n);
			fputc('\n', f);
			for (long j = 0; j < n; j++) {
				if (r->o.max_entries >= 0 && j >= r->o.max_entries) {
					fprintf(f, "    ... %ld more\n", n - j);
					break;
				}
				fputs("    key ", f);
				dump_bytes(r, f, kt, es[j].key, in.key_size, false);
				fputs("  value ", f);
				dump_value(r, f, &in, vt, es[j].val, false);
				fputc('\n', f);
			}
		}
		free_entries(es, n);
	}
	if (json)
		fputs("]", f);
}

static int dump_top(struct runner *r, FILE *f)
{
	char name[128];
	unsigned int n = 10;

	if (sscanf(r->o.top_map, "%127[^:]:%u", name, &n) < 1)
		return -1;
	int fd = bpfvm_object_map_fd(r->obj, name);
	struct bpf_map_info in;
	if (fd < 0 || map_info(r, fd, &in)) {
		fprintf(stderr, "bpfvm run: --top: no map '%s'\n", name);
		return -1;
	}
	struct entry *es = NULL;
	long cnt = map_entries(r, fd, &in, &es);
	uint8_t *sum = malloc(in.value_size + 8);
	if (!sum) {
		free_entries(es, cnt);
		return -1;
	}
	for (long j = 0; j < cnt; j++) {
		memset(sum, 0, in.value_size + 8);
		if (es[j].val && is_percpu(in.type))
			percpu_sum(r, &in, es[j].val, sum);
		else if (es[j].val)
			memcpy(sum, es[j].val, in.value_size);
		uint64_t rank = 0;
		memcpy(&rank, sum, in.value_size < 8 ? in.value_size : 8);
		es[j].rank = rank;
	}
	size_t ksz = in.key_size;
	qsort_r(es, (size_t)cnt, sizeof(*es), cmp_entry, &ksz);
	if (r->o.json) {
		fprintf(f, ",\"top\":{\"map\":");
		json_str(f, name, strlen(name));
		fputs(",\"entries\":[", f);
	} else {
		fprintf(f, "\ntop %u of %s (%ld entries) by the first value word:\n", n, name, cnt);
	}
	uint32_t kt_id = 0, vt = 0;
	for (size_t i = 0; i < bpfvm_object_map_cnt(r->obj); i++)
		if (bpfvm_object_map_fd_at(r->obj, i) == fd)
			bpfvm_object_map_btf(r->obj, i, &kt_id, &vt);
	for (long j = 0; j < cnt && j < (long)n; j++) {
		char kt[128];
		key_text(es[j].key, in.key_size, kt, sizeof(kt));
		/* the whole value by its BTF type beside the count (per-CPU: the sum) */
		memset(sum, 0, in.value_size + 8);
		if (es[j].val && is_percpu(in.type))
			percpu_sum(r, &in, es[j].val, sum);
		else if (es[j].val)
			memcpy(sum, es[j].val, in.value_size);
		if (r->o.json) {
			fprintf(f, "%s{\"key\":", j ? "," : "");
			json_str(f, kt, strlen(kt));
			fprintf(f, ",\"count\":%" PRIu64, es[j].rank);
			if (vt) {
				fputs(",\"value\":", f);
				btf_out(r, f, vt, sum, in.value_size, true);
			}
			fputc('}', f);
		} else {
			fprintf(f, "  %-40s %-10" PRIu64, kt, es[j].rank);
			btf_out(r, f, vt, sum, in.value_size, false);
			fputc('\n', f);
		}
	}
	if (r->o.json)
		fputs("]}", f);
	free(sum);
	free_entries(es, cnt);
	return 0;
}

/* --pin-maps DIR: every map of the object pinned at DIR/NAME (DIR is the instance's pin root, so
 * LIBBPF_PIN_BY_NAME maps are reused from there too), for `bpfvm map` during and after the run.  A pin
 * of the same name from an earlier run is replaced: it is a map of the same object, by name. */
static int pin_maps(struct runner *r)
{
	size_t pinned = 0;

	for (size_t i = 0; i < bpfvm_object_map_cnt(r->obj); i++) {
		const char *name = bpfvm_object_map_name(r->obj, i);
		int fd = bpfvm_object_map_fd_at(r->obj, i);
		char path[PATH_MAX];
		union bpf_attr a;

		if (fd < 0 || strchr(name, '/'))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", r->o.pin_dir, name) >= sizeof(path)) {
			fprintf(stderr, "bpfvm run: --pin-maps: %s/%s: path too long\n", r->o.pin_dir, name);
			return -1;
		}
		memset(&a, 0, sizeof(a));
		a.pathname = (uint64_t)(uintptr_t)path;
		a.bpf_fd = (uint32_t)fd;
		long err = bpfvm_bpf(r->vm, BPF_OBJ_PIN, &a, sizeof(a));
		if (err == -EEXIST) {
			/* already the same map (LIBBPF_PIN_BY_NAME reused it)? else an earlier run's: replace */
			union bpf_attr g;
			memset(&g, 0, sizeof(g));
			g.pathname = (uint64_t)(uintptr_t)path;
			long old = bpfvm_bpf(r->vm, BPF_OBJ_GET, &g, sizeof(g));
			bool same = false;
			if (old >= 0) {
				struct bpf_map_info x, y;
				same = !map_info(r, fd, &x) && !map_info(r, (int)old, &y) && x.id == y.id;
				bpfvm_close(r->vm, (int)old);
			} else {
				fprintf(stderr, "bpfvm run: --pin-maps: %s exists and is not a pinned map: %s\n", path,
					bpfvm_errmsg(r->vm));
				return -1;
			}
			if (same) {
				pinned++;
				continue;
			}
			if (unlink(path)) {
				fprintf(stderr, "bpfvm run: --pin-maps: cannot replace %s: %s\n", path, strerror(errno));
				return -1;
			}
			err = bpfvm_bpf(r->vm, BPF_OBJ_PIN, &a, sizeof(a));
		}
		if (err) {
			fprintf(stderr, "bpfvm run: --pin-maps: map %s: %s\n", name, bpfvm_errmsg(r->vm));
			return -1;
		}
		pinned++;
	}
	if (!r->o.json)
		fprintf(stderr, "pinned %zu maps under %s (bpfvm map dump %s/NAME)\n", pinned, r->o.pin_dir,
			r->o.pin_dir);
	return 0;
}

/* ---- the run ----------------------------------------------------------------------------- */

/* The run's message without the "prog 'NAME': " every fault of this program starts with. */
static const char *fault_text(const struct runner *r, const char *msg)
{
	char pre[160];
	int n = snprintf(pre, sizeof(pre), "prog '%.15s': ", r->o.prog_name ? r->o.prog_name : "");
	if (!msg)
		return "fault";
	if (n > 0 && !strncmp(msg, pre, (size_t)n))
		return msg + n;
	return msg;
}

/* Counts a fault under its (insn, errno); the first packet of each keeps its message. */
static void note_fault(struct runner *r, const struct bpfvm_pkt_info *p)
{
	const char *msg = fault_text(r, p->errmsg);
	const char *at = strstr(msg, "insn ");
	long insn = at ? strtol(at + 5, NULL, 10) : -1;

	for (size_t i = 0; i < r->fault_cnt; i++)
		if (r->faults[i].insn == insn && r->faults[i].err == p->err) {
			r->faults[i].pkts++;
			return;
		}
	if (r->fault_cnt == MAX_FAULTS) {
		r->faults_unlisted++;
		return;
	}
	struct fault_rec *f = &r->faults[r->fault_cnt++];
	f->insn = insn;
	f->err = p->err;
	f->pkts = 1;
	f->first_pkt = p->index;
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

static int on_packet(void *ctx, const struct bpfvm_pkt_info *p)
{
	struct runner *r = ctx;
	char rv[32];
	bool skipped = p->err == -EINVAL && !p->res.action && p->orig_len < 14 && !p->errmsg;

	poll_events(r);
	if (p->err && !skipped)
		note_fault(r, p);
	if (r->o.verbose || r->o.json) {
		if (skipped)
			snprintf(rv, sizeof(rv), "skipped");
		else if (p->err)
			snprintf(rv, sizeof(rv), "fault");
		else
			retval_name(r->prog_type, p->res.retval, rv, sizeof(rv));
	}
	if (r->o.json && r->o.verbose) {
		if (ftell(r->jp) > 0)
			fputc(',', r->jp);
		fprintf(r->jp, "{\"index\":%" PRIu64 ",\"len\":%zu,\"verdict\":\"%s\"", p->index, p->orig_len, rv);
		if (!p->err)
			fprintf(r->jp, ",\"action\":\"%s\",\"retval\":%" PRIu64 ",\"out_len\":%u",
				action_names[p->res.action < 5 ? p->res.action : 4], p->res.retval, p->res.len);
		else if (!skipped) {
			const char *m = fault_text(r, p->errmsg);
			fprintf(r->jp, ",\"errno\":%d,\"fault\":", p->err);
			json_str(r->jp, m, strlen(m));
		}
		fputc('}', r->jp);
	} else if (r->o.verbose) {
		printf("#%-6" PRIu64 " len %-5zu %s", p->index, p->orig_len, rv);
		if (p->err && !skipped)
			printf(": %s", fault_text(r, p->errmsg));
		if (!p->err && p->res.len != p->orig_len)
			printf(" (now %u bytes)", p->res.len);
		if (!p->err && p->res.action == 3)
			printf(" -> ifindex %u", p->res.redirect_ifindex);
		putchar('\n');
	}
	if (r->progress && (p->index & 1023) == 0) {
		uint64_t now = mono_ns();
		if (now - r->last_progress_ns > 200000000u) {
			fprintf(stderr, "\r%" PRIu64 " packets...", p->index);
			fflush(stderr);
			r->progress_shown = true;
			r->last_progress_ns = now;
		}
	}
	return *tool_stop_signal();
}

/* The program --prog names: its function name, else its section name (old objects are known by their
 * sections: "xdp1", "socket1").  -1 when none is. */
static long find_prog(struct bpfvm_object *obj, const char *name)
{
	size_t n = bpfvm_object_prog_cnt(obj);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(bpfvm_object_prog_name(obj, i), name))
			return (long)i;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(bpfvm_object_prog_section(obj, i), name))
			return (long)i;
	return -1;
}

/* What the object holds, one program a line, for the errors that ask the user to choose. */
static void list_progs(struct bpfvm_object *obj, FILE *f)
{
	size_t n = bpfvm_object_prog_cnt(obj);

	if (!n)
		fputs("  (no programs)\n", f);
	for (size_t i = 0; i < n; i++) {
		uint32_t t = bpfvm_object_prog_type(obj, i); /* 0: the section gave none */
		fprintf(f, "  %s  section %s  type %s\n", bpfvm_object_prog_name(obj, i), bpfvm_object_prog_section(obj, i),
			t ? prog_type_name(t) : "unknown");
	}
}

/* Before load: resolves --prog and applies --type (to that program, or to all without --prog).  Other
 * programs whose section gives no type are not loaded (as tc's `sec NAME` loads one section of an
 * object such as samples/bpf's tcbpf1_kern.o, whose other sections only tc's command line typed), with
 * a note; the chosen program without a type fails the load, which says so. */
static int prepare_progs(struct runner *r)
{
	long idx = -1;
	int type = -1;

	if (r->o.type_name) {
		type = bpfvm_prog_type_by_name(r->o.type_name);
		if (type < 0) {
			fprintf(stderr, "bpfvm run: --type '%s' is not a program type; bpfvm knows:", r->o.type_name);
			for (uint32_t t = 0; t < 64; t++)
				if (bpfvm_prog_type_name(t))
					fprintf(stderr, " %s", bpfvm_prog_type_name(t));
			fputc('\n', stderr);
			return -1;
		}
	}
	if (r->o.prog_name) {
		idx = find_prog(r->obj, r->o.prog_name);
		if (idx < 0) {
			fprintf(stderr, "bpfvm run: %s: no program or section '%s'; the object has:\n", r->o.obj_path,
				r->o.prog_name);
			list_progs(r->obj, stderr);
			return -1;
		}
		r->o.prog_name = bpfvm_object_prog_name(r->obj, (size_t)idx);
	}
	for (size_t i = 0; type >= 0 && i < bpfvm_object_prog_cnt(r->obj); i++) {
		if (idx >= 0 && i != (size_t)idx)
			continue;
		if (bpfvm_object_prog_set_type(r->obj, i, (uint32_t)type)) {
			fprintf(stderr, "%s\n", bpfvm_errmsg(r->vm));
			return -1;
		}
	}
	for (size_t i = 0; i < bpfvm_object_prog_cnt(r->obj); i++) {
		if ((idx >= 0 && i == (size_t)idx) || (type >= 0 && idx < 0) || bpfvm_object_prog_type(r->obj, i) ||
		    bpfvm_object_prog_autoload(r->obj, i) != 1)
			continue;
		bpfvm_object_prog_set_autoload(r->obj, i, 0); /* before load: cannot fail */
		fprintf(stderr, "bpfvm run: note: %s: program %s (section %s) has no type and is not loaded; give one with "
				"--type TYPE\n", r->o.obj_path, bpfvm_object_prog_name(r->obj, i),
			bpfvm_object_prog_section(r->obj, i));
	}
	/* No packet program to run: said before loading, since the verifier would refuse a program given a
	 * type its code was not written for (--type kprobe on an XDP program) with a less useful reason. */
	bool any_pkt = false;
	for (size_t i = 0; i < bpfvm_object_prog_cnt(r->obj); i++)
		any_pkt |= is_packet_type(bpfvm_object_prog_type(r->obj, i));
	uint32_t t = idx >= 0 ? bpfvm_object_prog_type(r->obj, (size_t)idx) : 0;
	if (t && !is_packet_type(t)) { /* t == 0: the load says the section has no type */
		fprintf(stderr, "bpfvm run: %s: program %s (section %s) is a %s program, not XDP, socket or tc; give its "
				"type with --type TYPE\n", r->o.obj_path, r->o.prog_name,
			bpfvm_object_prog_section(r->obj, (size_t)idx), prog_type_name(t));
		return -1;
	}
	if (idx < 0 && !any_pkt) {
		fprintf(stderr, "bpfvm run: %s: no XDP, socket or tc program; choose one with --prog NAME (and --type TYPE "
				"if its section does not say); the object has:\n", r->o.obj_path);
		list_progs(r->obj, stderr);
		return -1;
	}
	return 0;
}

/* Picks the program: --prog, else the one packet program that no prog array holds. */
static int pick_prog(struct runner *r, int *fd_out)
{
	size_t n = bpfvm_object_prog_cnt(r->obj), found = 0, idx = 0, held_pkt = 0;

	if (r->o.prog_name) {
		long i = find_prog(r->obj, r->o.prog_name); /* found by prepare_progs() */
		r->prog_type = bpfvm_object_prog_type(r->obj, (size_t)i);
		*fd_out = bpfvm_object_prog_fd_at(r->obj, (size_t)i);
		if (!is_packet_type(r->prog_type)) {
			fprintf(stderr, "bpfvm run: %s: program %s (section %s) is a %s program, not XDP, socket or tc; "
					"give its type with --type TYPE\n",
				r->o.obj_path, r->o.prog_name, bpfvm_object_prog_section(r->obj, (size_t)i),
				prog_type_name(r->prog_type));
			return -1;
		}
		return 0;
	}
	/* Ids of programs sitting in prog arrays (tail-call targets are not entry points). */
	uint32_t held[256];
	size_t held_cnt = 0;
	for (size_t i = 0; i < bpfvm_object_map_cnt(r->obj); i++) {
		if (bpfvm_object_map_type(r->obj, i) != BPF_MAP_TYPE_PROG_ARRAY)
			continue;
		int mfd = bpfvm_object_map_fd_at(r->obj, i);
		struct bpf_map_info in;
		if (map_info(r, mfd, &in) || in.key_size != 4 || in.value_size != 4)
			continue;
		for (uint32_t k = 0; k < in.max_entries && held_cnt < 256; k++) {
			uint32_t v = 0;
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)mfd;
			a.key = (uint64_t)(uintptr_t)&k;
			a.value = (uint64_t)(uintptr_t)&v;
			if (!bpfvm_bpf(r->vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a)))
				held[held_cnt++] = v;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_packet_type(bpfvm_object_prog_type(r->obj, i)))
			continue;
		struct bpf_prog_info pi;
		union bpf_attr a;
		memset(&pi, 0, sizeof(pi));
		memset(&a, 0, sizeof(a));
		a.info.bpf_fd = (uint32_t)bpfvm_object_prog_fd_at(r->obj, i);
		a.info.info_len = sizeof(pi);
		a.info.info = (uint64_t)(uintptr_t)&pi;
		bool in_array = false;
		if (!bpfvm_bpf(r->vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
			for (size_t h = 0; h < held_cnt; h++)
				in_array |= held[h] == pi.id;
		if (in_array) {
			held_pkt++;
			continue;
		}
		if (found++ == 0)
			idx = i;
	}
	if (found != 1) {
		fprintf(stderr, "bpfvm run: %s: %s; choose one with --prog NAME (and --type TYPE if its section does not "
				"say); the object has:\n",
			r->o.obj_path, found ? "several packet programs" :
			held_pkt ? "every packet program is a tail-call target in a prog array" :
			"no XDP, socket or tc program");
		list_progs(r->obj, stderr);
		return -1;
	}
	r->prog_type = bpfvm_object_prog_type(r->obj, idx);
	r->o.prog_name = bpfvm_object_prog_name(r->obj, idx);
	*fd_out = bpfvm_object_prog_fd_at(r->obj, idx);
	return 0;
}

/* -v: room for a level-1 verifier log per program (the rejected path's insns and states).  A log that
 * does not fit fails the load (-ENOSPC, as Linux): generous, and only pages written are touched. */
#define VLOG_SIZE (16u << 20)

static int verifier_logs(struct runner *r)
{
	size_t n = bpfvm_object_prog_cnt(r->obj);

	r->vlogs = calloc(n ? n : 1, sizeof(*r->vlogs));
	if (!r->vlogs)
		goto nomem;
	r->vlog_cnt = n;
	for (size_t i = 0; i < n; i++) {
		if (bpfvm_object_prog_autoload(r->obj, i) != 1)
			continue;
		if (!(r->vlogs[i] = malloc(VLOG_SIZE)))
			goto nomem;
		r->vlogs[i][0] = '\0';
		if (bpfvm_object_prog_set_log(r->obj, i, 1, r->vlogs[i], VLOG_SIZE)) {
			fprintf(stderr, "%s\n", bpfvm_errmsg(r->vm));
			return -1;
		}
	}
	return 0;
nomem:
	fprintf(stderr, "bpfvm run: out of memory\n");
	return -1;
}

/* The object did not load.  The log's last line names the object, section, insn and reason
 * ("prog.o: section xdp: insn 17: R2 invalid mem access 'scalar' (program 'p')"); -v prints the whole
 * log and the verifier's log of each program that did not load. */
static void load_error(struct runner *r)
{
	const char *msg = bpfvm_errmsg(r->vm), *st = msg + strlen(msg);

	while (st > msg && st[-1] != '\n')
		st--;
	if (r->o.verbose) {
		for (size_t i = 0; i < r->vlog_cnt; i++)
			if (r->vlogs[i] && r->vlogs[i][0] && bpfvm_object_prog_fd_at(r->obj, i) < 0)
				fprintf(stderr, "verifier log of %s (section %s):\n%s%s", bpfvm_object_prog_name(r->obj, i),
					bpfvm_object_prog_section(r->obj, i), r->vlogs[i],
					r->vlogs[i][strlen(r->vlogs[i]) - 1] == '\n' ? "" : "\n");
		fprintf(stderr, "%s\n", msg);
	} else {
		fprintf(stderr, "%s\n", st);
	}
	if (!r->o.no_verify && strstr(st, ": insn "))
		fprintf(stderr, "bpfvm run: the verifier refused it%s; --no-verify runs it on the run-time checks alone\n",
			r->o.verbose ? "" : " (-v: its log)");
}

/* A note on stderr when the object needed the old conventions, so nobody is surprised by the reading. */
static void legacy_note(struct runner *r)
{
	static const struct {
		unsigned int bit;
		const char *what;
	} parts[] = {
		{ BPFVM_LEGACY_SEC_PREFIX, "section names typed by prefix" },
		{ BPFVM_LEGACY_NOTYPE, "programs from STT_NOTYPE symbols" },
		{ BPFVM_LEGACY_MAPS, "struct bpf_map_def maps in section maps" },
		{ BPFVM_LEGACY_PROG_ARRAY, "programs of sections socket/N in slot N of the first map" },
	};
	unsigned int l = bpfvm_object_legacy(r->obj);
	const char *sep = ": ";

	if (!l)
		return;
	fprintf(stderr, "bpfvm run: note: %s loaded in legacy mode (samples/bpf, libbpf < 1.0)", r->o.obj_path);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (l & parts[i].bit) {
			fprintf(stderr, "%s%s", sep, parts[i].what);
			sep = ", ";
		}
	fputc('\n', stderr);
}

/* Every option of `bpfvm run`: whether it takes a value, and which mode takes it (RAW: raw programs, OBJ:
 * objects).  cmd_run_file() needs the values to find the file wherever it stands; a new option goes here. */
enum { RAW = 1, OBJ = 2 };
static const struct {
	const char *name;
	bool value;
	uint8_t modes;
} run_options[] = {
	{ "--mem", true, RAW }, { "--mem-file", true, RAW }, { "--insn-limit", true, RAW | OBJ },
	{ "--trusted", false, RAW | OBJ }, { "--untrusted", false, RAW | OBJ },
	{ "--prog", true, OBJ }, { "--type", true, OBJ }, { "--pcap", true, OBJ }, { "--iface", true, OBJ },
	{ "--out", true, OBJ }, { "-o", true, OBJ }, { "-v", false, OBJ }, { "--verbose", false, OBJ },
	{ "--json", false, OBJ }, { "-j", false, OBJ }, { "--no-maps", false, OBJ }, { "--count", true, OBJ },
	{ "--timeout", true, OBJ }, { "--cpus", true, OBJ }, { "--map", true, OBJ }, { "--map-file", true, OBJ },
	{ "--max-entries", true, OBJ }, { "--events", true, OBJ }, { "--top", true, OBJ }, { "--pin-maps", true, OBJ },
	{ "--map-mem-max", true, OBJ }, { "--no-verify", false, RAW | OBJ },
};

static int run_option(const char *a)
{
	for (size_t i = 0; i < sizeof(run_options) / sizeof(run_options[0]); i++)
		if (!strcmp(a, run_options[i].name))
			return (int)i;
	return -1;
}

const char *cmd_run_file(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int o = run_option(argv[i]);
		if (o >= 0 && run_options[o].value)
			i++;
		else if (argv[i][0] != '-' || !argv[i][1])
			return argv[i];
	}
	return NULL;
}

int cmd_run_object_opt(const char *a)
{
	int o = run_option(a);
	return o >= 0 && run_options[o].modes == OBJ;
}

/* A number option's value: decimal or 0x hex, all of it, within max. */
static int parse_num(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, "bpfvm run: %s: '%s' is not a number from 0 to %" PRIu64 "\n", opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Every problem is reported by name, on stderr; returns -1 for a usage error. */
static int parse_args(struct run_opts *o, int argc, char **argv)
{
	o->max_events = -1;
	o->max_entries = -1;
	o->insn_limit = BPFVM_INSN_LIMIT_DEFAULT;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int k = run_option(a);
		uint64_t n;
		if (k >= 0 && run_options[k].value && i + 1 >= argc) {
			fprintf(stderr, "bpfvm run: missing the value of '%s'\n", a);
			return -1;
		}
		if (k >= 0 && !(run_options[k].modes & OBJ)) {
			fprintf(stderr, "bpfvm run: %s is an ELF object, so '%s' does not apply (it is for raw programs)\n",
				o->obj_path ? o->obj_path : cmd_run_file(argc, argv), a);
			return -1;
		}
		if (!strcmp(a, "--prog"))
			o->prog_name = argv[++i];
		else if (!strcmp(a, "--type"))
			o->type_name = argv[++i];
		else if (!strcmp(a, "--pcap"))
			o->pcap = argv[++i];
		else if (!strcmp(a, "--iface"))
			o->iface = argv[++i];
		else if (!strcmp(a, "--out") || !strcmp(a, "-o"))
			o->out = argv[++i];
		else if (!strcmp(a, "--pin-maps"))
			o->pin_dir = argv[++i];
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			o->verbose = true;
		else if (!strcmp(a, "--json") || !strcmp(a, "-j"))
			o->json = true;
		else if (!strcmp(a, "--no-maps"))
			o->no_maps = true;
		else if (!strcmp(a, "--untrusted"))
			o->untrusted = true;
		else if (!strcmp(a, "--trusted"))
			o->untrusted = false;
		else if (!strcmp(a, "--interp"))
			o->interp = true;
		else if (!strcmp(a, "--no-verify"))
			o->no_verify = true;
		else if (!strcmp(a, "--count")) {
			if (parse_num(a, argv[++i], UINT64_MAX, &o->count))
				return -1;
		} else if (!strcmp(a, "--timeout")) {
			if (parse_num(a, argv[++i], INT32_MAX, &n))
				return -1;
			o->timeout_ms = (int)n;
		} else if (!strcmp(a, "--cpus")) {
			if (parse_num(a, argv[++i], 4096, &n))
				return -1;
			o->cpus = (unsigned int)n;
		} else if (!strcmp(a, "--map")) {
			if (o->init_cnt == MAX_INITS) {
				fprintf(stderr, "bpfvm run: more than %d --map options\n", MAX_INITS);
				return -1;
			}
			o->inits[o->init_cnt++] = argv[++i];
		} else if (!strcmp(a, "--map-file")) {
			if (o->map_file_cnt == 8) {
				fprintf(stderr, "bpfvm run: more than 8 --map-file options\n");
				return -1;
			}
			o->map_files[o->map_file_cnt++] = argv[++i];
		} else if (!strcmp(a, "--max-entries")) {
			if (parse_num(a, argv[++i], LONG_MAX, &n))
				return -1;
			o->max_entries = (long)n;
		} else if (!strcmp(a, "--events")) {
			if (parse_num(a, argv[++i], LONG_MAX, &n))
				return -1;
			o->max_events = (long)n;
		} else if (!strcmp(a, "--top"))
			o->top_map = argv[++i];
		else if (!strcmp(a, "--insn-limit")) {
			if (tool_parse_insn_limit("run", argv[++i], &o->insn_limit))
				return -1;
		} else if (!strcmp(a, "--map-mem-max")) {
			if (tool_parse_size(argv[++i], &o->map_mem_max))
				return -1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "bpfvm run: unknown option '%s'\n", a);
			return -1;
		} else if (!o->obj_path)
			o->obj_path = a;
		else {
			fprintf(stderr, "bpfvm run: one object only: unexpected argument '%s'\n", a);
			return -1;
		}
	}
	if (!o->obj_path) {
		fprintf(stderr, "bpfvm run: no object given\n");
		return -1;
	}
	if (!o->pcap == !o->iface) {
		fprintf(stderr, "bpfvm run: %s: %s\n", o->obj_path,
			o->pcap ? "--pcap and --iface: choose one packet source"
				: "no packet source: give --pcap FILE or --iface IF");
		return -1;
	}
	if (o->pin_dir && o->pin_dir[0] != '/') {
		struct bpfvm *vm = bpfvm_new(NULL);
		fprintf(stderr, "bpfvm run: --pin-maps: '%s' is a relative path; pins live in an absolute directory, "
				"by default the pin root %s (--pin-maps %s)\n", o->pin_dir,
			vm ? bpfvm_pin_root(vm) : "$XDG_RUNTIME_DIR/bpfvm", vm ? bpfvm_pin_root(vm) : "$XDG_RUNTIME_DIR/bpfvm");
		bpfvm_free(vm);
		return -1;
	}
	return 0;
}

static void print_summary(struct runner *r, const struct bpfvm_pkt_stats *st, FILE *f)
{
	const char *src = r->o.pcap ? r->o.pcap : r->o.iface;

	if (r->o.json) {
		fprintf(f, "{\"object\":");
		json_str(f, r->o.obj_path, strlen(r->o.obj_path));
		fprintf(f, ",\"program\":");
		json_str(f, r->o.prog_name, strlen(r->o.prog_name));
		fprintf(f, ",\"type\":\"%s\",\"source\":", prog_type_name(r->prog_type));
		json_str(f, src, strlen(src));
		fprintf(f, ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"skipped\":%" PRIu64
			   ",\"errors\":%" PRIu64 ",\"written\":%" PRIu64 ",\"verdicts\":{",
			st->pkts, st->bytes, st->skipped, st->errors, st->written);
		for (int i = 0; i < 5; i++)
			fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", action_names[i], st->action[i]);
		fputs("},\"faults\":[", f);
		for (size_t i = 0; i < r->fault_cnt; i++) {
			fprintf(f, "%s{\"insn\":%ld,\"errno\":%d,\"packets\":%" PRIu64 ",\"first_packet\":%" PRIu64
				   ",\"message\":", i ? "," : "", r->faults[i].insn, r->faults[i].err, r->faults[i].pkts,
				r->faults[i].first_pkt);
			json_str(f, r->faults[i].msg, strlen(r->faults[i].msg));
			fputc('}', f);
		}
		fputs("]", f);
		return;
	}
	fprintf(f, "%s: program %s (%s) on %s: %" PRIu64 " packets, %" PRIu64 " bytes", r->o.obj_path,
		r->o.prog_name, prog_type_name(r->prog_type), src, st->pkts, st->bytes);
	if (st->skipped)
		fprintf(f, ", %" PRIu64 " too short to run", st->skipped);
	if (st->errors)
		fprintf(f, ", %" PRIu64 " faulted", st->errors);
	fputs("\nverdicts:\n", f);
	for (int i = 0; i < 5; i++)
		if (st->action[i] || i < 2)
			fprintf(f, "  %-9s %" PRIu64 "\n", action_names[i], st->action[i]);
	if (r->fault_cnt) {
		fprintf(f, "faults (each distinct one once; -v shows every packet):\n");
		for (size_t i = 0; i < r->fault_cnt; i++)
			fprintf(f, "  %s\n    in %" PRIu64 " packet%s, first packet #%" PRIu64 "\n", r->faults[i].msg,
				r->faults[i].pkts, r->faults[i].pkts == 1 ? "" : "s", r->faults[i].first_pkt);
		if (r->faults_unlisted)
			fprintf(f, "  ... and %" PRIu64 " packets with other faults\n", r->faults_unlisted);
	}
	if (r->o.out)
		fprintf(f, "wrote %" PRIu64 " packets to %s\n", st->written, r->o.out);
	else if (r->o.iface)
		fprintf(f, "sent %" PRIu64 " packets back out of %s\n", st->written, r->o.iface);
}

int cmd_run_pcap(int argc, char **argv)
{
	struct runner *r = calloc(1, sizeof(*r));
	struct bpfvm_pkt_stats st;
	int rc = 1, err, prog_fd;

	if (!r)
		return 1;
	if (parse_args(&r->o, argc, argv)) {
		fprintf(stderr, "(bpfvm run --help lists the options)\n");
		free(r);
		return 2;
	}
	r->nr_cpus = r->o.cpus;
	if (!r->nr_cpus) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		r->nr_cpus = n > 0 ? (unsigned int)n : 1;
	}
	r->jp = open_memstream(&r->js_pkts, &r->js_pkts_len);
	r->je = open_memstream(&r->js_events, &r->js_events_len);
	r->jt = open_memstream(&r->js_trace, &r->js_trace_len);
	if (!r->jp || !r->je || !r->jt)
		goto out;
	struct bpfvm_opts vo = { .sz = sizeof(vo), .nr_cpus = r->nr_cpus, .print = on_print, .print_ctx = r,
				 .untrusted = r->o.untrusted, .insn_limit = r->o.insn_limit, .map_mem_max = r->o.map_mem_max,
				 .pin_root = r->o.pin_dir, .interp = r->o.interp,
				 .verify = r->o.no_verify ? BPFVM_VERIFY_OFF : BPFVM_VERIFY_ON };
	if (r->o.pin_dir && mkdir(r->o.pin_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "bpfvm run: --pin-maps: %s: %s\n", r->o.pin_dir, strerror(errno));
		goto out;
	}
	r->vm = bpfvm_new(&vo);
	if (!r->vm) {
		fprintf(stderr, "bpfvm run: cannot create an instance\n");
		goto out;
	}
	err = bpfvm_object_open(r->vm, r->o.obj_path, &r->obj);
	if (err) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(r->vm));
		goto out;
	}
	if (prepare_progs(r))
		goto out;
	legacy_note(r);
	if (r->o.verbose && !r->o.no_verify && verifier_logs(r))
		goto out;
	if ((err = bpfvm_object_load(r->obj))) {
		load_error(r);
		goto out;
	}
	if (pick_prog(r, &prog_fd))
		goto out;
	if (r->o.pin_dir && pin_maps(r))
		goto out;
	for (size_t i = 0; i < r->o.map_file_cnt; i++)
		if (map_init_file(r, r->o.map_files[i]))
			goto out;
	for (size_t i = 0; i < r->o.init_cnt; i++)
		if (map_init_one(r, r->o.inits[i], "--map"))
			goto out;
	if (setup_events(r))
		goto out;
	r->progress = !r->o.verbose && !r->o.json && isatty(STDERR_FILENO);
	r->last_progress_ns = mono_ns();
	tool_stop_on_signals(r->vm); /* stops the packet in progress too, even one that spins */
	if (r->o.pcap) {
		struct bpfvm_pcap_opts po = { .sz = sizeof(po), .out_path = r->o.out, .max_pkts = r->o.count,
					      .cb = on_packet, .cb_ctx = r };
		err = bpfvm_pcap_run(r->vm, prog_fd, r->o.pcap, &po, &st);
	} else {
		struct bpfvm_live_opts lo = { .sz = sizeof(lo), .max_pkts = r->o.count, .timeout_ms = r->o.timeout_ms,
					      .stop = tool_stop_signal(), .cb = on_packet, .cb_ctx = r };
		err = bpfvm_live_run(r->vm, prog_fd, r->o.iface, &lo, &st);
	}
	tool_stop_on_signals(NULL);
	poll_events(r);
	clear_progress(r);
	if (err) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(r->vm));
		goto out;
	}
	fflush(r->jp);
	fflush(r->je);
	fflush(r->jt);
	print_summary(r, &st, stdout);
	if (r->o.json) {
		if (r->o.verbose)
			printf(",\"per_packet\":[%.*s]", (int)r->js_pkts_len, r->js_pkts ? r->js_pkts : "");
		printf(",\"events\":[%.*s],\"trace\":[%.*s]", (int)r->js_events_len, r->js_events ? r->js_events : "",
		       (int)r->js_trace_len, r->js_trace ? r->js_trace : "");
	}
	if (r->o.top_map && dump_top(r, stdout))
		goto out;
	if (!r->o.no_maps)
		dump_maps(r, stdout);
	if (r->o.json)
		puts("}");
	rc = st.errors ? 1 : 0;
	if (*tool_stop_signal()) {
		fflush(stdout);
		fprintf(stderr, "bpfvm run: stopped by %s after %" PRIu64 " packets (counts above are so far)\n",
			*tool_stop_signal() == SIGINT ? "SIGINT" : "SIGTERM", st.pkts + st.skipped);
		rc = 128 + *tool_stop_signal();
	}
out:
	fflush(stdout);
	for (size_t i = 0; i < r->ev_cnt; i++) {
		bpfvm_ringbuf_free(r->ev[i].rb);
		bpfvm_perf_buffer_free(r->ev[i].pb);
	}
	bpfvm_object_close(r->obj);
	bpfvm_free(r->vm);
	for (size_t i = 0; i < r->vlog_cnt; i++)
		free(r->vlogs[i]);
	free(r->vlogs);
	if (r->jp)
		fclose(r->jp);
	if (r->je)
		fclose(r->je);
	if (r->jt)
		fclose(r->jt);
	free(r->js_pkts);
	free(r->js_events);
	free(r->js_trace);
	free(r);
	return rc;
}
