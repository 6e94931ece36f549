/* cmd_map.c -- `bpfvm map ...`: create, inspect and change pinned maps from a separate process, like
 * bpftool's `map` command.  Uses the public API only: every map is reached through BPF_OBJ_GET on its
 * pin path (maps are shared files, so this process sees the live contents of a map another process is
 * using).
 *
 *   bpfvm map [-j|-p] [--pin-root DIR] [--allow-foreign-pins] [--map-mem-max BYTES] COMMAND ...
 *     create PATH type TYPE key KSIZE value VSIZE entries N [name NAME] [flags F] [inner_map PATH]
 *     show|info PATH
 *     lookup PATH key BYTES
 *     update PATH key BYTES value BYTES [any|noexist|exist]
 *     delete PATH key BYTES
 *     getnext PATH [key BYTES]
 *     dump PATH
 *     push|enqueue PATH value BYTES;  pop|dequeue|peek PATH
 *     freeze PATH
 *     pin PATH NEWPATH            (another name for the same map)
 *     event PATH [count N] [timeout MS]   (print ring buffer / perf event array records)
 *
 * BYTES are bytes as separate tokens, decimal or 0x-prefixed ("key 0x01 0 0 0"), or "hex 01 00 00 00".
 * PATH: /sys/fs/bpf/NAME (NAME under the pin root) or another absolute path (its directory then becomes
 * the pin root unless --pin-root is given).  A relative PATH is an error that names the pin root. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

struct mctx {
	struct bpfvm *vm;
	bool json, pretty;
	bool allow_foreign;          /* --allow-foreign-pins */
	uint64_t map_mem_max;        /* --map-mem-max (0: the library's default) */
	const char *pin_root;
	char root_buf[PATH_MAX];
};

static const struct {
	const char *name;
	uint32_t type;
} types[] = {
	{ "hash", BPF_MAP_TYPE_HASH },
	{ "array", BPF_MAP_TYPE_ARRAY },
	{ "prog_array", BPF_MAP_TYPE_PROG_ARRAY },
	{ "perf_event_array", BPF_MAP_TYPE_PERF_EVENT_ARRAY },
	{ "percpu_hash", BPF_MAP_TYPE_PERCPU_HASH },
	{ "percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY },
	{ "stack_trace", BPF_MAP_TYPE_STACK_TRACE },
	{ "lru_hash", BPF_MAP_TYPE_LRU_HASH },
	{ "lru_percpu_hash", BPF_MAP_TYPE_LRU_PERCPU_HASH },
	{ "lpm_trie", BPF_MAP_TYPE_LPM_TRIE },
	{ "array_of_maps", BPF_MAP_TYPE_ARRAY_OF_MAPS },
	{ "hash_of_maps", BPF_MAP_TYPE_HASH_OF_MAPS },
	{ "queue", BPF_MAP_TYPE_QUEUE },
	{ "stack", BPF_MAP_TYPE_STACK },
	{ "ringbuf", BPF_MAP_TYPE_RINGBUF },
	{ "bloom_filter", BPF_MAP_TYPE_BLOOM_FILTER },
};

static const char *type_name(uint32_t t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == t)
			return types[i].name;
	return "unknown";
}

__attribute__((format(printf, 2, 3))) static int fail(const struct mctx *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->json) {
		printf("{\"error\":\"");
		for (const char *p = msg; *p; p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p < 0x20)
				printf("\\u%04x", (unsigned char)*p);
			else
				putchar(*p);
		}
		printf("\"}\n");
	} else {
		fprintf(stderr, "Error: %s\n", msg);
	}
	return 1;
}

static int fail_vm(const struct mctx *c, long err, const char *what)
{
	const char *m = c->vm ? bpfvm_errmsg(c->vm) : "";
	if (m && *m)
		return fail(c, "%s: %s (%s)", what, strerror((int)-err), m);
	return fail(c, "%s: %s", what, strerror((int)-err));
}

static bool is_keyword(const char *s)
{
	static const char *const kw[] = { "key", "value", "any", "noexist", "exist", "type", "entries", "name",
					   "flags", "inner_map", "count", "timeout" };
	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (!strcmp(s, kw[i]))
			return true;
	return false;
}

/* Parses byte tokens from argv[*i] on into buf (exactly want bytes). */
static int parse_bytes(const struct mctx *c, int argc, char **argv, int *i, uint8_t *buf, size_t want,
		       const char *what)
{
	size_t n = 0;
	int base = 0;
	if (*i < argc && !strcmp(argv[*i], "hex")) {
		base = 16;
		(*i)++;
	}
	for (; *i < argc && !is_keyword(argv[*i]); (*i)++) {
		const char *s = argv[*i];
		if (base == 16 && strlen(s) > 2 && strspn(s, "0123456789abcdefABCDEF") == strlen(s) && strlen(s) % 2 == 0) {
			/* "hex 01000000": packed bytes */
			for (size_t j = 0; s[j]; j += 2) {
				char t[3] = { s[j], s[j + 1], 0 };
				if (n >= want)
					return fail(c, "%s: too many bytes (expected %zu)", what, want);
				buf[n++] = (uint8_t)strtoul(t, NULL, 16);
			}
			continue;
		}
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, base);
		if (errno || *end || end == s || v > 255)
			return fail(c, "%s: '%s' is not a byte", what, s);
		if (n >= want)
			return fail(c, "%s: too many bytes (expected %zu)", what, want);
		buf[n++] = (uint8_t)v;
	}
	if (n != want)
		return fail(c, "%s: got %zu bytes, expected %zu", what, n, want);
	return 0;
}

static int set_root_for(struct mctx *c, const char *path)
{
	if (path[0] != '/') {
		struct bpfvm_opts o = { .sz = sizeof(o), .pin_root = c->pin_root };
		struct bpfvm *vm = bpfvm_new(&o);
		fail(c, "%s: a pin path is absolute: pins live under %s (PATH is %s/NAME or /sys/fs/bpf/NAME)", path,
		     vm ? bpfvm_pin_root(vm) : "the pin root", vm ? bpfvm_pin_root(vm) : "ROOT");
		bpfvm_free(vm);
		return 1;
	}
	if (c->pin_root || path[0] != '/' || !strncmp(path, "/sys/fs/bpf/", 12))
		return 0;
	const char *slash = strrchr(path, '/');
	size_t len = (size_t)(slash - path);
	if (len == 0 || len >= sizeof(c->root_buf))
		return fail(c, "%s: cannot pin directly under /", path);
	memcpy(c->root_buf, path, len);
	c->root_buf[len] = '\0';
	c->pin_root = c->root_buf;
	return 0;
}

static int open_vm(struct mctx *c)
{
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.pin_root = c->pin_root;
	o.allow_foreign_pins = c->allow_foreign;
	o.map_mem_max = c->map_mem_max;
	c->vm = bpfvm_new(&o);
	if (!c->vm)
		return fail(c, "cannot create a bpfvm instance (pin root %s)", c->pin_root ? c->pin_root : "default");
	return 0;
}

static int get_pinned(struct mctx *c, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	long fd = bpfvm_bpf(c->vm, BPF_OBJ_GET, &a, sizeof(a));
	if (fd < 0)
		return fail_vm(c, fd, path), -1;
	if (tool_obj_kind(c->vm, (int)fd) != TOOL_OBJ_MAP) { /* a pinned program (bpfvm prog) */
		bpfvm_close(c->vm, (int)fd);
		return fail(c, "%s: not a map (a pinned program? see bpfvm prog show)", path), -1;
	}
	return (int)fd;
}

static int get_info(struct mctx *c, int fd, struct bpf_map_info *info)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(info, 0, sizeof(*info));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(*info);
	a.info.info = (uintptr_t)info;
	long err = bpfvm_bpf(c->vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a));
	return err ? fail_vm(c, err, "OBJ_GET_INFO_BY_FD") : 0;
}

static bool is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* ---- printing --------------------------------------------------------------------------- */

static void json_bytes(const uint8_t *b, size_t n)
{
	putchar('[');
	for (size_t i = 0; i < n; i++)
		printf("%s\"0x%02x\"", i ? "," : "", b[i]);
	putchar(']');
}

static void plain_bytes(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s%02x", i ? " " : "", b[i]);
}

struct shape {
	uint32_t type, ks, vs, ncpu;
	size_t uvs; /* user value buffer bytes */
	/* the map's BTF (bpfvm_map_btf()) and its key and value type ids, or NULL: hex */
	struct bpfvm_object *btf;
	uint32_t kt, vt;
};

/* p as BTF type `type` of s->btf says; false (nothing printed) without one.  An array's key without a
 * type (global data) is its index. */
static bool typed(const struct shape *s, uint32_t type, const uint8_t *p, size_t len, bool json)
{
	char small[512];
	if (!s->btf)
		return false;
	if (!type && len == 4 && (s->type == BPF_MAP_TYPE_ARRAY || s->type == BPF_MAP_TYPE_PERCPU_ARRAY)) {
		uint32_t k;
		memcpy(&k, p, 4);
		printf("%u", k);
		return true;
	}
	long n = type ? bpfvm_object_btf_format(s->btf, type, p, len, json ? BPFVM_FMT_JSON : 0, small, sizeof(small)) : -1;
	if (n < 0)
		return false;
	if ((size_t)n < sizeof(small)) {
		fputs(small, stdout);
		return true;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		return false;
	bpfvm_object_btf_format(s->btf, type, p, len, json ? BPFVM_FMT_JSON : 0, big, (size_t)n + 1);
	fputs(big, stdout);
	free(big);
	return true;
}

static void part(const struct shape *s, uint32_t type, const uint8_t *p, size_t len, bool json)
{
	if (typed(s, type, p, len, json))
		return;
	if (json)
		json_bytes(p, len);
	else
		plain_bytes(p, len);
}

static void print_elem(const struct mctx *c, const struct shape *s, const uint8_t *key, const uint8_t *val, bool first)
{
	if (c->json) {
		printf("%s%s{", first ? "" : ",", c->pretty ? "\n  " : "");
		if (s->ks) {
			printf("\"key\":");
			part(s, s->kt, key, s->ks, true);
			putchar(',');
		}
		if (is_percpu(s->type)) {
			printf("\"values\":[");
			for (uint32_t i = 0; i < s->ncpu; i++) {
				printf("%s{\"cpu\":%u,\"value\":", i ? "," : "", i);
				part(s, s->vt, val + (size_t)i * ((s->vs + 7) & ~7u), s->vs, true);
				putchar('}');
			}
			putchar(']');
		} else {
			printf("\"value\":");
			part(s, s->vt, val, s->vs, true);
		}
		putchar('}');
		return;
	}
	if (s->ks) {
		printf("key: ");
		part(s, s->kt, key, s->ks, false);
		printf("  ");
	}
	if (is_percpu(s->type)) {
		putchar('\n');
		for (uint32_t i = 0; i < s->ncpu; i++) {
			printf("value (CPU %02u): ", i);
			part(s, s->vt, val + (size_t)i * ((s->vs + 7) & ~7u), s->vs, false);
			putchar('\n');
		}
	} else {
		printf("value: ");
		part(s, s->vt, val, s->vs, false);
		putchar('\n');
	}
}

/* ---- commands ----------------------------------------------------------------------------- */

static long elem_cmd(struct mctx *c, int cmd, int fd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)val;
	a.flags = flags;
	return bpfvm_bpf(c->vm, cmd, &a, sizeof(a));
}

static int get_shape(struct mctx *c, int fd, struct shape *s)
{
	struct bpf_map_info info;
	if (get_info(c, fd, &info))
		return 1;
	s->type = info.type;
	s->ks = info.key_size;
	s->vs = info.value_size;
	s->ncpu = 1;
	s->uvs = info.value_size;
	s->btf = NULL;
	s->kt = s->vt = 0;
	return 0;
}

static int cmd_create(struct mctx *c, int argc, char **argv)
{
	union bpf_attr a;
	const char *path = argc > 0 ? argv[0] : NULL, *inner = NULL;
	bool have_type = false;
	memset(&a, 0, sizeof(a));
	if (!path)
		return fail(c, "map create: missing PATH");
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return fail(c, "map create: '%s' needs an argument", argv[i]);
		const char *k = argv[i], *v = argv[i + 1];
		char *end;
		unsigned long n = strtoul(v, &end, 0);
		bool num = *v && !*end && n <= UINT32_MAX;
		if (!strcmp(k, "type")) {
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
				if (!strcmp(types[t].name, v)) {
					a.map_type = types[t].type;
					have_type = true;
				}
			if (!have_type)
				return fail(c, "map create: unknown type '%s'", v);
		} else if (!strcmp(k, "name")) {
			snprintf(a.map_name, sizeof(a.map_name), "%s", v);
		} else if (!strcmp(k, "inner_map")) {
			inner = v;
		} else if (!num) {
			return fail(c, "map create: '%s %s': expected a number", k, v);
		} else if (!strcmp(k, "key")) {
			a.key_size = (uint32_t)n;
		} else if (!strcmp(k, "value")) {
			a.value_size = (uint32_t)n;
		} else if (!strcmp(k, "entries")) {
			a.max_entries = (uint32_t)n;
		} else if (!strcmp(k, "flags")) {
			a.map_flags = (uint32_t)n;
		} else {
			return fail(c, "map create: unknown argument '%s'", k);
		}
	}
	if (!have_type)
		return fail(c, "map create: missing 'type TYPE'");
	if (set_root_for(c, path) || open_vm(c))
		return 1;
	if (inner) {
		int ifd = get_pinned(c, inner);
		if (ifd < 0)
			return 1;
		a.inner_map_fd = (uint32_t)ifd;
	}
	long fd = bpfvm_bpf(c->vm, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0)
		return fail_vm(c, fd, "map create");
	union bpf_attr p;
	memset(&p, 0, sizeof(p));
	p.pathname = (uintptr_t)path;
	p.bpf_fd = (uint32_t)fd;
	long err = bpfvm_bpf(c->vm, BPF_OBJ_PIN, &p, sizeof(p));
	if (err)
		return fail_vm(c, err, path);
	if (c->json)
		printf("null\n");
	return 0;
}

static int cmd_show(struct mctx *c, int fd)
{
	struct bpf_map_info info;
	if (get_info(c, fd, &info))
		return 1;
	if (c->json) {
		printf("{\"id\":%u,\"type\":\"%s\",\"name\":\"%s\",\"flags\":%u,\"bytes_key\":%u,\"bytes_value\":%u,"
		       "\"max_entries\":%u}\n",
		       info.id, type_name(info.type), info.name, info.map_flags, info.key_size, info.value_size,
		       info.max_entries);
		return 0;
	}
	printf("%u: %s  name %s  flags 0x%x\n\tkey %uB  value %uB  max_entries %u\n", info.id, type_name(info.type),
	       info.name, info.map_flags, info.key_size, info.value_size, info.max_entries);
	return 0;
}

/* Per-CPU maps: the number of CPUs the map was made for (by another process, maybe) is not in
 * bpf_map_info.  A lookup fills round_up(vs, 8) * ncpu bytes, so look up into a buffer for 1024 CPUs
 * prefilled with a pattern (twice, with two patterns) and find the last block written. */
static uint32_t detect_ncpu(struct mctx *c, int fd, const struct shape *s, const uint8_t *key)
{
	size_t stride = (s->vs + 7) & ~7u, max = 1024;
	uint8_t *buf = malloc(stride * max);
	uint32_t n = 1;
	if (!buf)
		return 1;
	for (int pass = 0; pass < 2; pass++) {
		memset(buf, pass ? 0xa5 : 0x5a, stride * max);
		if (elem_cmd(c, BPF_MAP_LOOKUP_ELEM, fd, key, buf, 0) != 0)
			break;
		for (size_t i = max; i-- > 0;) {
			const uint8_t *b = buf + i * stride;
			bool touched = false;
			for (size_t j = 0; j < stride; j++)
				if (b[j] != (pass ? 0xa5 : 0x5a))
					touched = true;
			if (touched) {
				if (i + 1 > n)
					n = (uint32_t)(i + 1);
				break;
			}
		}
	}
	free(buf);
	return n;
}

/* Keys of up to 8 bytes as the little-endian numbers they are (1 < 2 < 256), longer ones bytewise. */
static int cmp_key(const void *a, const void *b, void *ksz)
{
	const uint8_t *x = a, *y = b;
	size_t n = *(const size_t *)ksz;

	if (n <= 8) {
		uint64_t u = 0, v = 0;
		for (size_t i = n; i-- > 0;) {
			u = u << 8 | x[i];
			v = v << 8 | y[i];
		}
		return u < v ? -1 : u > v;
	}
	return memcmp(x, y, n);
}

static int cmd_dump(struct mctx *c, int fd)
{
	struct shape s;
	if (get_shape(c, fd, &s))
		return 1;
	if (s.type == BPF_MAP_TYPE_QUEUE || s.type == BPF_MAP_TYPE_STACK || s.type == BPF_MAP_TYPE_RINGBUF ||
	    s.type == BPF_MAP_TYPE_BLOOM_FILTER || s.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return fail(c, "map dump: %s maps cannot be iterated", type_name(s.type));
	/* typed as bpftool prints a map with BTF, when the map keeps the BTF of the object that made it;
	 * else (a map made by `bpfvm map create`, say) hex */
	if (bpfvm_map_btf(c->vm, fd, &s.btf, &s.kt, &s.vt))
		s.btf = NULL;
	uint8_t *key = calloc(1, s.ks + 1), *next = calloc(1, s.ks + 1), *val = NULL;
	size_t vcap = is_percpu(s.type) ? ((s.vs + 7) & ~7u) * 1024 : s.vs;
	val = calloc(1, vcap + 8);
	int ret = 0;
	unsigned cnt = 0;
	if (!key || !next || !val) {
		ret = fail(c, "out of memory");
		goto out;
	}
	/* all keys first, then the elements in key order: a hash map iterates in hash order, which changes
	 * from run to run; sorted dumps can be compared */
	uint8_t *keys = NULL;
	size_t nkeys = 0, kcap = 0;
	long err = elem_cmd(c, BPF_MAP_GET_NEXT_KEY, fd, NULL, next, 0);
	if (err == 0 && is_percpu(s.type))
		s.ncpu = detect_ncpu(c, fd, &s, next);
	while (err == 0) {
		if (nkeys == kcap) {
			size_t nc = kcap ? kcap * 2 : 256;
			uint8_t *nk = realloc(keys, nc * (s.ks ? s.ks : 1));
			if (!nk) {
				free(keys);
				ret = fail(c, "out of memory");
				goto out;
			}
			keys = nk;
			kcap = nc;
		}
		memcpy(keys + nkeys++ * s.ks, next, s.ks);
		memcpy(key, next, s.ks);
		err = elem_cmd(c, BPF_MAP_GET_NEXT_KEY, fd, key, next, 0);
	}
	if (err != -ENOENT) {
		free(keys);
		ret = fail_vm(c, err, "map get_next_key");
		goto out;
	}
	size_t ks = s.ks;
	if (nkeys)
		qsort_r(keys, nkeys, ks, cmp_key, &ks);
	if (c->json)
		putchar('[');
	for (size_t i = 0; i < nkeys; i++) {
		/* the element may have gone meanwhile (another process) */
		err = elem_cmd(c, BPF_MAP_LOOKUP_ELEM, fd, keys + i * ks, val, 0);
		if (err == 0) {
			print_elem(c, &s, keys + i * ks, val, cnt == 0);
			cnt++;
		} else if (err != -ENOENT) {
			free(keys);
			ret = fail_vm(c, err, "map lookup");
			goto out;
		}
	}
	free(keys);
	if (c->json)
		printf("%s]\n", c->pretty && cnt ? "\n" : "");
	else
		printf("Found %u element%s\n", cnt, cnt == 1 ? "" : "s");
out:
	bpfvm_object_close(s.btf);
	free(key);
	free(next);
	free(val);
	return ret;
}

static int cmd_elem(struct mctx *c, const char *verb, int fd, int argc, char **argv)
{
	struct shape s;
	if (get_shape(c, fd, &s))
		return 1;
	size_t stride = (s.vs + 7) & ~7u;
	uint8_t *key = calloc(1, s.ks + 1), *val = calloc(1, (is_percpu(s.type) ? stride * 1024 : s.vs) + 8);
	uint64_t flags = BPF_ANY;
	bool have_key = false, have_val = false;
	int ret = 0;
	if (!key || !val) {
		ret = fail(c, "out of memory");
		goto out;
	}
	for (int i = 0; i < argc;) {
		if (!strcmp(argv[i], "key")) {
			i++;
			if (parse_bytes(c, argc, argv, &i, key, s.ks, "key")) {
				ret = 1;
				goto out;
			}
			have_key = true;
		} else if (!strcmp(argv[i], "value")) {
			i++;
			/* per-CPU update: one value given is written to every CPU */
			if (parse_bytes(c, argc, argv, &i, val, s.vs, "value")) {
				ret = 1;
				goto out;
			}
			have_val = true;
		} else if (!strcmp(argv[i], "any") || !strcmp(argv[i], "noexist") || !strcmp(argv[i], "exist")) {
			flags = !strcmp(argv[i], "any") ? BPF_ANY : !strcmp(argv[i], "noexist") ? BPF_NOEXIST : BPF_EXIST;
			i++;
		} else {
			ret = fail(c, "map %s: unexpected '%s'", verb, argv[i]);
			goto out;
		}
	}
	bool keyless = s.type == BPF_MAP_TYPE_QUEUE || s.type == BPF_MAP_TYPE_STACK || s.type == BPF_MAP_TYPE_BLOOM_FILTER;
	bool want_key = !strcmp(verb, "lookup") || !strcmp(verb, "delete") ||
			(!strcmp(verb, "update") && !keyless);
	bool want_val = !strcmp(verb, "update") || !strcmp(verb, "push") || !strcmp(verb, "enqueue");
	if ((want_key && !have_key) || (want_val && !have_val)) {
		ret = fail(c, "map %s: missing %s", verb, want_key && !have_key ? "key" : "value");
		goto out;
	}
	long err;
	if (!strcmp(verb, "getnext")) {
		uint8_t *next = calloc(1, s.ks + 1);
		err = next ? elem_cmd(c, BPF_MAP_GET_NEXT_KEY, fd, have_key ? key : NULL, next, 0) : -ENOMEM;
		if (err == 0) {
			if (c->json) {
				printf("{\"key\":");
				if (have_key)
					json_bytes(key, s.ks);
				else
					printf("null");
				printf(",\"next_key\":");
				json_bytes(next, s.ks);
				printf("}\n");
			} else {
				printf("key:\n");
				if (have_key)
					plain_bytes(key, s.ks);
				else
					printf("None");
				printf("\nnext key:\n");
				plain_bytes(next, s.ks);
				putchar('\n');
			}
		}
		free(next);
		if (err)
			ret = fail_vm(c, err, "map getnext");
		goto out;
	}
	if (!strcmp(verb, "update") || !strcmp(verb, "push") || !strcmp(verb, "enqueue")) {
		if (is_percpu(s.type)) /* the map reads as many of these as it has CPUs */
			for (size_t i = 1; i < 1024; i++)
				memcpy(val + i * stride, val, s.vs);
		err = elem_cmd(c, BPF_MAP_UPDATE_ELEM, fd, keyless ? NULL : key, val, flags);
		if (err)
			ret = fail_vm(c, err, "map update");
		else if (c->json)
			printf("null\n");
		goto out;
	}
	if (!strcmp(verb, "delete")) {
		err = elem_cmd(c, BPF_MAP_DELETE_ELEM, fd, key, NULL, 0);
		if (err)
			ret = fail_vm(c, err, "map delete");
		else if (c->json)
			printf("null\n");
		goto out;
	}
	/* lookup, pop/dequeue, peek */
	int cmd = !strcmp(verb, "lookup") || !strcmp(verb, "peek") ? BPF_MAP_LOOKUP_ELEM : BPF_MAP_LOOKUP_AND_DELETE_ELEM;
	err = elem_cmd(c, cmd, fd, keyless ? NULL : key, val, 0);
	if (err) {
		ret = err == -ENOENT ? fail(c, "%s", keyless ? "empty" : "key not found") : fail_vm(c, err, verb);
		goto out;
	}
	if (is_percpu(s.type))
		s.ncpu = detect_ncpu(c, fd, &s, key);
	if (keyless)
		s.ks = 0;
	print_elem(c, &s, key, val, true);
	if (c->json)
		putchar('\n');
out:
	free(key);
	free(val);
	return ret;
}

struct ev_ctx {
	struct mctx *c;
	long left;
};

static void print_event(struct ev_ctx *e, int cpu, const void *data, size_t size)
{
	if (e->c->json) {
		printf("{");
		if (cpu >= 0)
			printf("\"cpu\":%d,", cpu);
		printf("\"size\":%zu,\"data\":", size);
		json_bytes(data, size);
		printf("}\n");
	} else {
		if (cpu >= 0)
			printf("CPU %02d: ", cpu);
		printf("%zu bytes: ", size);
		plain_bytes(data, size);
		putchar('\n');
	}
	fflush(stdout);
	if (e->left > 0)
		e->left--;
}

static int on_rb(void *ctx, void *data, size_t size)
{
	struct ev_ctx *e = ctx;
	print_event(e, -1, data, size);
	return e->left == 0 ? 1 : 0;
}

static void on_sample(void *ctx, int cpu, void *data, uint32_t size)
{
	print_event(ctx, cpu, data, size);
}

static void on_lost(void *ctx, int cpu, uint64_t cnt)
{
	struct ev_ctx *e = ctx;
	if (e->c->json)
		printf("{\"cpu\":%d,\"lost\":%llu}\n", cpu, (unsigned long long)cnt);
	else
		printf("CPU %02d: lost %llu samples\n", cpu, (unsigned long long)cnt);
	fflush(stdout);
}

static int cmd_event(struct mctx *c, int fd, int argc, char **argv)
{
	struct ev_ctx e = { c, -1 };
	long timeout = -1;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "count"))
			e.left = strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "timeout"))
			timeout = strtol(argv[i + 1], NULL, 0);
		else
			return fail(c, "map event: unexpected '%s'", argv[i]);
	}
	if (argc % 2)
		return fail(c, "map event: '%s' needs an argument", argv[argc - 1]);
	struct bpf_map_info info;
	if (get_info(c, fd, &info))
		return 1;
	struct bpfvm_ringbuf *rb = NULL;
	struct bpfvm_perf_buffer *pb = NULL;
	int err;
	if (info.type == BPF_MAP_TYPE_RINGBUF)
		err = bpfvm_ringbuf_new(c->vm, fd, on_rb, &e, &rb);
	else if (info.type == BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		err = bpfvm_perf_buffer_new(c->vm, fd, on_sample, on_lost, &e, &pb);
	else
		return fail(c, "map event: %s is not a ringbuf or perf_event_array map", type_name(info.type));
	if (err)
		return fail_vm(c, err, "map event");
	long waited = 0;
	while (e.left != 0 && (timeout < 0 || waited < timeout)) {
		int n = rb ? bpfvm_ringbuf_poll(rb, 100) : bpfvm_perf_buffer_poll(pb, 100);
		if (n < 0) {
			err = n;
			break;
		}
		if (n == 0)
			waited += 100;
	}
	bpfvm_ringbuf_free(rb);
	bpfvm_perf_buffer_free(pb);
	return err < 0 ? fail_vm(c, err, "map event") : 0;
}

static void usage(FILE *f, const char *pin_root)
{
	fprintf(f,
		"usage: bpfvm map [-j|-p] [--pin-root DIR] [--allow-foreign-pins] [--map-mem-max BYTES] COMMAND ...\n"
		"  create PATH type TYPE key KSIZE value VSIZE entries N [name NAME] [flags F] [inner_map PATH]\n"
		"  show PATH | dump PATH | freeze PATH | pin PATH NEWPATH\n"
		"  lookup PATH key BYTES | delete PATH key BYTES | getnext PATH [key BYTES]\n"
		"  update PATH key BYTES value BYTES [any|noexist|exist]\n"
		"  push|enqueue PATH value BYTES | pop|dequeue|peek PATH\n"
		"  event PATH [count N] [timeout MS]\n"
		"BYTES: byte tokens (\"0x01 0 0 0\") or \"hex 01 00 00 00\"; TYPE: hash, array, percpu_array, ...\n"
		"The pin root must be yours and writable by you only; --allow-foreign-pins opens maps whose file\n"
		"another user owns (refused by default: the owner can change them at will).\n"
		"--map-mem-max caps the bytes of the maps this command creates or opens (default 1G).\n"
		"PATH: where a map is pinned, an absolute path: /sys/fs/bpf/NAME means NAME under the pin root,\n"
		"  another directory becomes the pin root for the command (maps a `bpfvm run --pin-maps DIR` left\n"
		"  are DIR/NAME).\n");
	/* the pin root in effect: --pin-root, else the library's default (XDG_RUNTIME_DIR or /dev/shm/bpfvm-UID) */
	struct bpfvm_opts o = { .sz = sizeof(o), .pin_root = pin_root };
	struct bpfvm *vm = bpfvm_new(&o);
	if (vm)
		fprintf(f, "pin root: %s%s\n", bpfvm_pin_root(vm),
			pin_root ? " (--pin-root)" : " ($XDG_RUNTIME_DIR/bpfvm, or /dev/shm/bpfvm-UID without XDG_RUNTIME_DIR)");
	bpfvm_free(vm);
}

int cmd_map(int argc, char **argv)
{
	struct mctx c;
	int i = 1, ret;
	memset(&c, 0, sizeof(c));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			c.json = true;
		else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--pretty"))
			c.json = c.pretty = true;
		else if (!strcmp(argv[i], "--pin-root") && i + 1 < argc)
			c.pin_root = argv[++i];
		else if (!strcmp(argv[i], "--allow-foreign-pins"))
			c.allow_foreign = true;
		else if (!strcmp(argv[i], "--map-mem-max") && i + 1 < argc) {
			if (tool_parse_size(argv[++i], &c.map_mem_max))
				return 2;
		}
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, c.pin_root);
			return 0;
		} else {
			fprintf(stderr, "bpfvm map: %s '%s'\n",
				!strcmp(argv[i], "--pin-root") ? "missing the directory after" : "unknown option", argv[i]);
			usage(stderr, c.pin_root);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "bpfvm map: no command given\n");
		usage(stderr, c.pin_root);
		return 2;
	}
	const char *verb = argv[i++];
	if (!strcmp(verb, "help")) {
		usage(stdout, c.pin_root);
		return 0;
	}
	static const char *const verbs[] = { "create", "show", "info", "dump", "freeze", "pin", "event", "lookup",
					     "update", "delete", "getnext", "push", "enqueue", "pop", "dequeue", "peek" };
	bool known = false;
	for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++)
		known |= !strcmp(verb, verbs[v]);
	if (!known) {
		fprintf(stderr, "bpfvm map: unknown command '%s'\n", verb);
		usage(stderr, c.pin_root);
		return 2;
	}
	if (!strcmp(verb, "create")) {
		ret = cmd_create(&c, argc - i, argv + i);
		bpfvm_free(c.vm);
		return ret;
	}
	if (i >= argc)
		return fail(&c, "map %s: missing PATH", verb);
	const char *path = argv[i++];
	if (set_root_for(&c, path) || open_vm(&c)) {
		bpfvm_free(c.vm);
		return 1;
	}
	int fd = get_pinned(&c, path);
	if (fd < 0) {
		bpfvm_free(c.vm);
		return 1;
	}
	if (!strcmp(verb, "show") || !strcmp(verb, "info")) {
		ret = cmd_show(&c, fd);
	} else if (!strcmp(verb, "dump")) {
		ret = cmd_dump(&c, fd);
	} else if (!strcmp(verb, "freeze")) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd;
		long err = bpfvm_bpf(c.vm, BPF_MAP_FREEZE, &a, sizeof(a));
		ret = err ? fail_vm(&c, err, "map freeze") : 0;
	} else if (!strcmp(verb, "pin")) {
		if (i >= argc) {
			ret = fail(&c, "map pin: missing NEWPATH");
		} else {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.pathname = (uintptr_t)argv[i];
			a.bpf_fd = (uint32_t)fd;
			long err = bpfvm_bpf(c.vm, BPF_OBJ_PIN, &a, sizeof(a));
			ret = err ? fail_vm(&c, err, argv[i]) : 0;
		}
	} else if (!strcmp(verb, "event")) {
		ret = cmd_event(&c, fd, argc - i, argv + i);
	} else if (!strcmp(verb, "lookup") || !strcmp(verb, "update") || !strcmp(verb, "delete") ||
		   !strcmp(verb, "getnext") || !strcmp(verb, "push") || !strcmp(verb, "enqueue") ||
		   !strcmp(verb, "pop") || !strcmp(verb, "dequeue") || !strcmp(verb, "peek")) {
		ret = cmd_elem(&c, verb, fd, argc - i, argv + i);
	} else {
		usage(stderr, c.pin_root);
		ret = 2;
	}
	bpfvm_free(c.vm);
	return ret;
}
