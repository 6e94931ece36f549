/* map.c -- what every map type shares: attribute checks, the shared mapping (create, pin, open), the
 * robust lock, and the program- and user-side entry points that dispatch to the type's ops. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"

static const struct map_ops *const ops_by_type[] = {
#define MAP(type_, ops_) [type_] = &ops_,
#include "maps.def"
#undef MAP
};

static const struct map_ops *ops_of(uint32_t type)
{
	return type < ARRAY_SIZE(ops_by_type) ? ops_by_type[type] : NULL;
}

uint32_t map_hash(const void *key, uint32_t len, uint32_t seed)
{
	return map_hash_inline(key, len, seed);
}

#define KNOWN_FLAGS (BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | \
		     BPF_F_STACK_BUILD_ID | BPF_F_ZERO_SEED | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG | BPF_F_CLONE | \
		     BPF_F_MMAPABLE | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP)

static int common_checks(const union bpf_attr *a, struct diag *log)
{
	if (a->map_flags & ~(uint32_t)KNOWN_FLAGS) {
		diag_printf(log, "MAP_CREATE: unknown map_flags 0x%x", a->map_flags);
		return -EINVAL;
	}
	if (a->map_extra && a->map_type != BPF_MAP_TYPE_BLOOM_FILTER) { /* Linux map_create(): bloom and arena only */
		diag_printf(log, "MAP_CREATE: map_extra 0x%llx is only for bloom filters", (unsigned long long)a->map_extra);
		return -EINVAL;
	}
	if ((a->map_flags & BPF_F_RDONLY) && (a->map_flags & BPF_F_WRONLY)) {
		diag_printf(log, "MAP_CREATE: BPF_F_RDONLY and BPF_F_WRONLY together");
		return -EINVAL;
	}
	if ((a->map_flags & BPF_F_RDONLY_PROG) && (a->map_flags & BPF_F_WRONLY_PROG)) {
		diag_printf(log, "MAP_CREATE: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(a->map_name); i++) {
		char c = a->map_name[i];
		if (!c)
			return 0;
		if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			diag_printf(log, "MAP_CREATE: invalid character in map_name");
			return -EINVAL;
		}
	}
	diag_printf(log, "MAP_CREATE: map_name is not NUL-terminated");
	return -EINVAL;
}

/* A file for the mapping: unlinked, in the pin root so that pinning is a link on the same filesystem.
 * A root that fails pin_root_open()'s checks (another user's, say) is not used: the map then lives in a
 * memfd, works, and cannot be pinned (OBJ_PIN reports why); *sealable says so (see seal()). */
static int backing_file(const char *pin_root, bool *sealable)
{
	*sealable = false;
	int fd = -1;
	if (pin_root) {
		int root = pin_root_open(pin_root, NULL);
		if (root >= 0) {
			fd = openat(root, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			close(root);
		}
	}
	if (fd < 0) {
		fd = memfd_create("bpfvm-map", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		*sealable = fd >= 0;
	}
	return fd;
}

/* A memfd map cannot be pinned, but a process of the same user can still open it through /proc/PID/fd:
 * sealing its size keeps even that one from shrinking it under us (guard.c says why pinnable maps
 * cannot be sealed). */
static int seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) ? -errno : 0;
}

bool map_file_shrunk(const struct map *m)
{
	struct stat st;
	return fstat(m->fd, &st) == 0 && (uint64_t)st.st_size < m->file_len;
}

void map_lock(struct map *m)
{
	int r = pthread_mutex_trylock(&m->hdr->lock);
	while (r == EBUSY || r == ETIMEDOUT) {
		/* In slices: if the file is shrunk while we sleep, the holder unlocks (if at all) in other
		 * pages than the ones we sleep on, and nobody wakes us; the next try faults, and the handler
		 * (guard.c) turns the mapping, lock included, into zeros we can lock. */
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1;
		r = pthread_mutex_timedlock(&m->hdr->lock, &t);
	}
	if (r == EOWNERDEAD) {
		/* a process died holding the lock, maybe mid-update: repair, then carry on */
		if (m->ops->recover)
			m->ops->recover(m);
		pthread_mutex_consistent(&m->hdr->lock);
	}
}

void map_unlock(struct map *m)
{
	pthread_mutex_unlock(&m->hdr->lock);
}

/* The constants of a header that is known good (ours, or checked against its file). */
static void geom_from(struct map_geom *g, const struct map_hdr *h, uint64_t seq0)
{
	*g = (struct map_geom){
		.type = h->type, .key_size = h->key_size, .value_size = h->value_size, .max_entries = h->max_entries,
		.flags = h->flags, .nr_cpus = h->nr_cpus, .spin_lock_off = h->spin_lock_off, .timer_off = h->timer_off,
		.seed = (uint32_t)h->seq[3], .map_extra = h->map_extra_lo | (uint64_t)h->map_extra_hi << 32,
		.off_a = h->off_a, .off_b = h->off_b, .off_c = h->off_c, .off_d = h->off_d,
		.values_off = h->values_off, .values_len = h->values_len, .seq0 = seq0,
	};
	memcpy(g->name, h->name, sizeof(g->name));
	g->name[sizeof(g->name) - 1] = 0;
}

/* Maps len bytes of fd, then, for mirror > 0, the file's last mirror bytes once more right after them
 * (one reservation first, so nothing else can land between the two). */
static int map_from_fd(int fd, size_t len, size_t mirror, struct map **out)
{
	struct map *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	uint8_t *p = mmap(NULL, len + mirror, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED ||
	    mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED ||
	    (mirror && mmap(p + len, mirror, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			    (off_t)(len - mirror)) == MAP_FAILED)) {
		if (p != MAP_FAILED)
			munmap(p, len + mirror);
		free(m);
		return -ENOMEM;
	}
	m->guard = map_guard_add(p, len + mirror);
	if (!m->guard) {
		munmap(p, len + mirror);
		free(m);
		return -ENOMEM;
	}
	m->base = p;
	m->len = len + mirror;
	m->file_len = len;
	m->hdr = (struct map_hdr *)p;
	m->fd = fd;
	*out = m;
	return 0;
}

/* Counts len bytes against the instance's cap, as Linux charges map memory to the creator's memory
 * cgroup (and fails with -ENOMEM past its limit). */
static int charge(const struct map_env *env, uint64_t len, const char *cmd, const char *name, struct diag *log)
{
	if (!env->mem_used)
		return 0;
	uint64_t cur = __atomic_load_n(env->mem_used, __ATOMIC_RELAXED);
	do {
		if (len > env->mem_max || cur > env->mem_max - len) {
			diag_printf(log, "%s: map '%s' needs %llu bytes of memory, and this instance's maps already use %llu "
				    "of their limit of %llu (bpfvm_opts.map_mem_max, bpfvm --map-mem-max)", cmd, name,
				    (unsigned long long)len, (unsigned long long)cur, (unsigned long long)env->mem_max);
			return -ENOMEM;
		}
	} while (!__atomic_compare_exchange_n(env->mem_used, &cur, cur + len, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

static void uncharge(uint64_t *mem_used, uint64_t len)
{
	if (mem_used)
		__atomic_fetch_sub(mem_used, len, __ATOMIC_RELAXED);
}

bool map_reserve(struct map *m, uint64_t off, uint64_t len)
{
	if (off > m->file_len || len > m->file_len - off)
		return false;
	return posix_fallocate(m->fd, (off_t)off, (off_t)len) == 0;
}

int map_create(const union bpf_attr *a, const struct map_env *env, struct map **out, struct diag *log)
{
	const struct map_ops *ops = ops_of(a->map_type);
	struct map_hdr h;
	struct map *m;
	int err, fd;

	if (!ops) {
		diag_printf(log, "MAP_CREATE: map_type %u is not supported", a->map_type);
		return -EINVAL;
	}
	if ((err = common_checks(a, log)) || (err = ops->check(a, env->nr_cpus, log)))
		return err;
	memset(&h, 0, sizeof(h));
	h.magic = MAP_MAGIC;
	h.version = MAP_LAYOUT_VERSION;
	h.type = a->map_type;
	h.key_size = a->key_size;
	h.value_size = a->value_size;
	h.max_entries = a->max_entries;
	h.flags = a->map_flags;
	h.nr_cpus = env->nr_cpus;
	h.map_extra_lo = (uint32_t)a->map_extra;
	h.map_extra_hi = (uint32_t)(a->map_extra >> 32);
	h.spin_lock_off = UINT32_MAX;
	h.timer_off = UINT32_MAX;
	memcpy(h.name, a->map_name, sizeof(h.name));
	uint64_t body = ops->layout(&h);
	uint64_t hdr_len = MAP_HDR_LEN;
	if (body > (1ull << 36)) {
		diag_printf(log, "MAP_CREATE: map too large (%llu bytes)", (unsigned long long)body);
		return -E2BIG;
	}
	/* layout() gave offsets relative to the end of the header */
	h.off_a += hdr_len;
	h.off_b += hdr_len;
	h.off_c += hdr_len;
	h.off_d += hdr_len;
	h.values_off += hdr_len;
	h.total_len = hdr_len + body;
	if ((err = charge(env, h.total_len, "MAP_CREATE", h.name, log)))
		return err;
	bool sealable;
	fd = backing_file(env->pin_root, &sealable);
	if (fd < 0 || ftruncate(fd, (off_t)h.total_len)) {
		if (fd >= 0)
			close(fd);
		uncharge(env->mem_used, h.total_len);
		diag_printf(log, "MAP_CREATE: cannot create %llu bytes of map memory", (unsigned long long)h.total_len);
		return -ENOMEM;
	}
	/* A file is sparse after ftruncate(): its pages are allocated when first stored to, and a store that
	 * finds the filesystem full is a SIGBUS.  So the space is taken now, where failing is an errno. */
	uint64_t reserve = ops->reserved_head ? ops->reserved_head(&h) : h.total_len;
	if (reserve > h.total_len)
		reserve = h.total_len;
	if ((err = posix_fallocate(fd, 0, (off_t)reserve)) || (sealable && (err = -seal(fd)))) {
		close(fd);
		uncharge(env->mem_used, h.total_len);
		diag_printf(log, "MAP_CREATE: cannot reserve %llu bytes of map memory in %s: %s", (unsigned long long)reserve,
			    sealable || !env->pin_root ? "memory" : env->pin_root, strerror(err));
		return -err;
	}
	err = map_from_fd(fd, h.total_len, ops->mirror_tail ? h.max_entries : 0, &m);
	if (err) {
		close(fd);
		uncharge(env->mem_used, h.total_len);
		return err;
	}
	m->mem_used = env->mem_used;
	memcpy(m->hdr, &h, sizeof(h));
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&m->hdr->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	m->ops = ops;
	geom_from(&m->g, &h, h.seq[0]);
	m->user_rdonly = a->map_flags & BPF_F_RDONLY;
	m->user_wronly = a->map_flags & BPF_F_WRONLY;
	if (ops->init)
		ops->init(m);
	*out = m;
	return 0;
}

void map_free(struct map *m)
{
	if (!m)
		return;
	free(m->priv);
	uncharge(m->mem_used, m->file_len);
	map_guard_del(m->guard);
	munmap(m->base, m->len);
	close(m->fd);
	free(m);
}

uint32_t map_type(const struct map *m) { return m->g.type; }
uint32_t map_key_size(const struct map *m) { return m->g.key_size; }
uint32_t map_value_size(const struct map *m) { return m->g.value_size; }
uint32_t map_max_entries(const struct map *m) { return m->g.max_entries; }
uint32_t map_flags(const struct map *m) { return m->g.flags; }
const char *map_name(const struct map *m) { return m->g.name; }
uint32_t map_nr_cpus(const struct map *m) { return m->g.nr_cpus; }
bool map_is_fd_map(const struct map *m) { return m->ops->fd_values; }
bool map_is_percpu(const struct map *m) { return m->ops->percpu; }

size_t map_user_value_size(const struct map *m)
{
	if (m->ops->percpu)
		return (size_t)map_round8(m->g.value_size) * m->g.nr_cpus;
	return m->g.value_size;
}

void map_region(const struct map *m, void **lo, size_t *len, bool *prog_writable)
{
	*lo = m->base + m->g.values_off;
	/* a ring buffer's record may run on into the second mapping of its data */
	*len = m->ops->mirror_tail ? 2 * m->g.values_len : m->g.values_len;
	*prog_writable = !(m->g.flags & BPF_F_RDONLY_PROG);
}

bool map_prog_readable(const struct map *m)
{
	return !(m->g.flags & BPF_F_WRONLY_PROG);
}

bool map_array_layout(const struct map *m, uint8_t **base, uint64_t *stride, uint32_t *max_entries)
{
	if (m->g.type != BPF_MAP_TYPE_ARRAY)
		return false;
	*base = m->base + m->g.values_off;
	*stride = map_round8(m->g.value_size);
	*max_entries = m->g.max_entries;
	return true;
}

void *map_direct_value_addr(struct map *m, uint32_t off)
{
	if (m->g.type != BPF_MAP_TYPE_ARRAY || m->g.max_entries != 1 || off >= m->g.value_size)
		return NULL;
	return m->base + m->g.values_off + off;
}

int map_set_spin_lock_off(struct map *m, uint32_t off)
{
	uint32_t t = m->g.type;
	/* Linux map_check_btf(): of the types bpfvm has, only HASH and ARRAY values may hold a spin lock */
	if (t != BPF_MAP_TYPE_HASH && t != BPF_MAP_TYPE_ARRAY)
		return -EOPNOTSUPP;
	if (off > m->g.value_size || m->g.value_size - off < 4 || off % 4)
		return -EINVAL;
	/* before the map is shared (the loader sets it right after create): the header for processes that
	 * open the pin later, the copy for us */
	m->hdr->spin_lock_off = m->g.spin_lock_off = off;
	return 0;
}

int map_set_timer_off(struct map *m, uint32_t off)
{
	uint32_t t = m->g.type, vs = m->g.value_size;
	if (t != BPF_MAP_TYPE_ARRAY && t != BPF_MAP_TYPE_HASH && t != BPF_MAP_TYPE_LRU_HASH)
		return -EOPNOTSUPP;
	if (off > vs || vs - off < MAP_TIMER_SIZE || off % 8)
		return -EINVAL;
	if (m->g.timer_off != UINT32_MAX && m->g.timer_off != off)
		return -EINVAL; /* a pinned map laid out by another object */
	m->hdr->timer_off = m->g.timer_off = off;
	return 0;
}

uint32_t map_timer_off(const struct map *m) { return m->g.timer_off; }
uint32_t map_spin_lock_off(const struct map *m) { return m->g.spin_lock_off; }

void map_inner_template(const struct map *m, uint32_t *type, uint32_t *key_size, uint32_t *value_size,
			uint32_t *max_entries, uint32_t *flags)
{
	/* sys_map.c set_template()'s encoding */
	uint64_t a = m->hdr->seq[1], b = m->hdr->seq[2];
	*type = (uint32_t)a;
	*key_size = (uint32_t)(a >> 32);
	*value_size = (uint32_t)b;
	*max_entries = (uint32_t)(b >> 32);
	*flags = m->hdr->reserved;
}

void map_inner_special(const struct map *m, uint32_t *spin_lock_off, uint32_t *timer_off)
{
	*spin_lock_off = m->hdr->inner_lock_off1 - 1; /* 0 - 1: UINT32_MAX, none */
	*timer_off = m->hdr->inner_timer_off1 - 1;
}

void map_set_timer_hook(struct map *m, map_timer_free_fn fn, void *ctx)
{
	__atomic_store_n(&m->timer_ctx, ctx, __ATOMIC_RELAXED);
	__atomic_store_n(&m->timer_free, fn, __ATOMIC_RELEASE);
}

int map_value_elem(struct map *m, const void *value, void *key)
{
	void *lo;
	size_t len;
	bool w;
	map_region(m, &lo, &len, &w);
	if (!m->ops->value_elem || (uintptr_t)value < (uintptr_t)lo || (uintptr_t)value >= (uintptr_t)lo + len)
		return -EINVAL;
	if (m->ops->fixed_elems)
		return m->ops->value_elem(m, value, key);
	map_lock(m);
	int r = m->ops->value_elem(m, value, key);
	map_unlock(m);
	return r;
}

void map_value_free_timer(struct map *m, void *value)
{
	uint32_t t = m->g.timer_off;
	if (t == UINT32_MAX || m->ops->percpu)
		return;
	uint64_t *words = (uint64_t *)((uint8_t *)value + t);
	map_timer_free_fn fn = __atomic_load_n(&m->timer_free, __ATOMIC_ACQUIRE);
	if (fn && (__atomic_load_n(&words[0], __ATOMIC_RELAXED) || __atomic_load_n(&words[1], __ATOMIC_RELAXED)))
		fn(__atomic_load_n(&m->timer_ctx, __ATOMIC_RELAXED), m, words);
	/* whoever else (another process) owned it finds its name gone and drops it when it fires */
	__atomic_store_n(&words[0], 0, __ATOMIC_RELEASE);
	__atomic_store_n(&words[1], 0, __ATOMIC_RELEASE);
}

void map_copy_racy(void *dst, const void *src, size_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	size_t i = 0;
	while (i < len) {
		uintptr_t al = (uintptr_t)(d + i) | (uintptr_t)(s ? s + i : 0);
		if (!(al & 7) && len - i >= 8) {
			__atomic_store_n((uint64_t *)(void *)(d + i), s ? __atomic_load_n((const uint64_t *)(const void *)(s + i),
				__ATOMIC_RELAXED) : 0, __ATOMIC_RELAXED);
			i += 8;
		} else if (!(al & 3) && len - i >= 4) {
			__atomic_store_n((uint32_t *)(void *)(d + i), s ? __atomic_load_n((const uint32_t *)(const void *)(s + i),
				__ATOMIC_RELAXED) : 0, __ATOMIC_RELAXED);
			i += 4;
		} else {
			__atomic_store_n(d + i, s ? __atomic_load_n(s + i, __ATOMIC_RELAXED) : 0, __ATOMIC_RELAXED);
			i++;
		}
	}
}

void map_copy_fields(const struct map *m, uint8_t *dst, const uint8_t *src, uint32_t from, uint32_t to)
{
	uint32_t t = m->g.timer_off;
	if (t == UINT32_MAX || to <= t || from >= t + MAP_TIMER_SIZE) {
		map_copy_racy(dst + from, src + from, to - from);
		return;
	}
	if (from < t)
		map_copy_racy(dst + from, src + from, t - from);
	if (to > t + MAP_TIMER_SIZE)
		map_copy_racy(dst + t + MAP_TIMER_SIZE, src + t + MAP_TIMER_SIZE, to - t - MAP_TIMER_SIZE);
}

/* ---- program side --------------------------------------------------------------------------- */

static void *slot_value(struct map *m, void *base, unsigned slot)
{
	if (!base || !m->ops->percpu)
		return base;
	if (NEVER(slot >= m->g.nr_cpus))
		return NULL;
	return (uint8_t *)base + (size_t)slot * map_round8(m->g.value_size);
}

map_lookup_fn map_direct_lookup(const struct map *m)
{
	return m->ops->direct_lookup ? m->ops->direct_lookup(m) : NULL;
}

void *map_lookup(struct map *m, const void *key, unsigned slot)
{
	void *v;
	if (m->ops->no_key_ops || m->ops->fd_values || !m->ops->lookup)
		return NULL;
	if (m->ops->lockless_lookup)
		return slot_value(m, m->ops->lookup(m, key), slot);
	map_lock(m);
	v = m->ops->lookup(m, key);
	map_unlock(m);
	return slot_value(m, v, slot);
}

/* key's slot in an fd map (lock held) */
static struct map_fd_slot slot_read(struct map *m, const void *key)
{
	struct map_fd_slot s = { 0, 0 };
	if (m->ops->slot_get) {
		m->ops->slot_get(m, key, &s);
		return s;
	}
	void *v = m->ops->lookup(m, key);
	if (v)
		memcpy(&s.id, v, 4);
	return s;
}

/* stores s into key's slot (id 0: empties it), lock held */
static long slot_write(struct map *m, const void *key, struct map_fd_slot s, uint64_t flags)
{
	if (m->ops->slot_set)
		return m->ops->slot_set(m, key, &s, flags);
	return s.id ? m->ops->update(m, key, &s.id, flags, MAP_ALL_CPUS) : m->ops->delete(m, key);
}

struct map_fd_slot map_lookup_slot(struct map *m, const void *key)
{
	struct map_fd_slot s = { 0, 0 };
	if (!m->ops->fd_values)
		return s;
	map_lock(m);
	s = slot_read(m, key);
	map_unlock(m);
	return s;
}

uint32_t map_lookup_id(struct map *m, const void *key)
{
	return map_lookup_slot(m, key).id;
}

int map_sys_swap_id(struct map *m, const void *key, struct map_fd_slot s, uint64_t flags, struct map_fd_slot *old)
{
	*old = (struct map_fd_slot){ 0, 0 };
	if (!m->ops->fd_values)
		return -EINVAL;
	if (m->user_rdonly || m->hdr->frozen)
		return -EPERM;
	if (s.id && ((flags & 0xffffffffu) > BPF_F_LOCK || (flags >> 32)))
		return -EINVAL;
	if (s.id && (flags & BPF_F_LOCK))
		return -EINVAL; /* no spin lock in an id */
	map_lock(m);
	struct map_fd_slot prev = slot_read(m, key);
	long r = slot_write(m, key, s, flags);
	map_unlock(m);
	if (!r)
		*old = prev;
	return (int)r;
}

int map_clear_id(struct map *m, const void *key, struct map_fd_slot expect)
{
	if (!m->ops->fd_values || !expect.id)
		return -EINVAL;
	map_lock(m);
	struct map_fd_slot cur = slot_read(m, key);
	long r = cur.id == expect.id && cur.owner == expect.owner ? slot_write(m, key, (struct map_fd_slot){ 0, 0 }, 0)
								  : -ENOENT;
	map_unlock(m);
	return (int)r;
}

bool map_pinned(const struct map *m)
{
	struct stat st;
	/* made unlinked (O_TMPFILE or memfd: no links); OBJ_PIN adds one, unlinking the pin removes it */
	return fstat(m->fd, &st) == 0 && st.st_nlink > 0;
}

bool map_same_file(const struct map *a, const struct map *b)
{
	struct stat sa, sb;
	return a == b || (fstat(a->fd, &sa) == 0 && fstat(b->fd, &sb) == 0 && sa.st_dev == sb.st_dev &&
			  sa.st_ino == sb.st_ino);
}

long map_update(struct map *m, const void *key, const void *value, uint64_t flags, unsigned slot)
{
	long r;
	if (m->ops->no_key_ops || m->ops->fd_values || !m->ops->update)
		return -EINVAL;
	if (flags > BPF_F_LOCK)
		return -EINVAL;
	if (m->ops->fixed_elems && !(flags & BPF_F_LOCK))
		return m->ops->update(m, key, value, flags, slot);
	map_lock(m);
	r = m->ops->update(m, key, value, flags, slot);
	map_unlock(m);
	return r;
}

long map_delete(struct map *m, const void *key)
{
	long r;
	if (m->ops->no_key_ops || !m->ops->delete)
		return -EINVAL;
	map_lock(m);
	r = m->ops->delete(m, key);
	map_unlock(m);
	return r;
}

long map_push(struct map *m, const void *value, uint64_t flags)
{
	long r;
	if (!m->ops->push)
		return -EINVAL;
	map_lock(m);
	r = m->ops->push(m, value, flags);
	map_unlock(m);
	return r;
}

long map_pop(struct map *m, void *value, bool peek)
{
	long r;
	if (!m->ops->pop)
		return -EINVAL;
	map_lock(m);
	r = m->ops->pop(m, value, peek);
	map_unlock(m);
	return r;
}

/* ---- user side --------------------------------------------------------------------------------- */

int map_spin_acquire(uint32_t *w, bool (*cont)(void *), void *arg)
{
	uint64_t deadline = 0;

	for (unsigned n = 0;; n++) {
		uint32_t zero = 0;
		if (__atomic_compare_exchange_n(w, &zero, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return 0;
		if (n < 64)
			continue; /* critical sections are a few instructions: spin a little first */
		if (cont && !cont(arg))
			return -EINTR;
		if ((n & 63) == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			if (!deadline)
				deadline = now + MAP_SPIN_TIMEOUT_NS;
			else if (now >= deadline)
				return -EBUSY;
		}
		sched_yield();
	}
}

/* Copies a value out (all CPUs for per-CPU maps).  With BPF_F_LOCK the copy happens under the value's
 * own spin lock, the word programs take with bpf_spin_lock(), so it never sees half of a critical
 * section (Linux copy_map_value_locked()).  The lock word itself is never handed out: it reads as 0
 * (check_and_init_map_value()).  Callers checked that BPF_F_LOCK implies a spin lock. */
static int copy_out_locked(struct map *m, void *dst, const void *src, uint64_t flags)
{
	uint32_t sl = m->g.spin_lock_off;
	if (m->ops->percpu) {
		map_copy_racy(dst, src, map_user_value_size(m));
		return 0;
	}
	uint32_t *lockw = sl != UINT32_MAX && (flags & BPF_F_LOCK) ? (uint32_t *)((uint8_t *)src + sl) : NULL;
	if (lockw) {
		int err = map_spin_acquire(lockw, NULL, NULL);
		if (err)
			return err;
	}
	/* Around the lock word and the timer, never through them: programs CAS the one and the timer
	 * helpers store the other atomically while we copy (Linux copy_map_value() skips both too). */
	uint32_t vs = m->g.value_size;
	if (sl == UINT32_MAX) {
		map_copy_fields(m, dst, src, 0, vs);
	} else {
		map_copy_fields(m, dst, src, 0, sl);
		map_copy_fields(m, dst, src, sl + 4, vs);
	}
	if (lockw)
		map_spin_release(lockw);
	if (sl != UINT32_MAX)
		memset((uint8_t *)dst + sl, 0, 4);
	if (m->g.timer_off != UINT32_MAX) /* nor the timer (check_and_init_map_value()) */
		memset((uint8_t *)dst + m->g.timer_off, 0, MAP_TIMER_SIZE);
	return 0;
}

/* For the types' read(): called without BPF_F_LOCK only (map_sys_lookup takes the other path), so it
 * takes no lock and cannot fail. */
static void copy_out(struct map *m, void *dst, const void *src, uint64_t flags)
{
	if (NEVER(flags & BPF_F_LOCK))
		flags &= ~(uint64_t)BPF_F_LOCK;
	copy_out_locked(m, dst, src, flags);
}

int map_sys_lookup(struct map *m, const void *key, void *value, uint64_t flags)
{
	if (m->user_wronly)
		return -EPERM;
	if (flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	if ((flags & BPF_F_LOCK) && m->g.spin_lock_off == UINT32_MAX)
		return -EINVAL;
	if (m->ops->no_key_ops) {
		if (m->ops->pop) /* queue/stack: lookup is peek; bloom: check */
			return (int)map_pop(m, (void *)value, true);
		return -ENOTSUPP;
	}
	if (!m->ops->lookup)
		return -ENOTSUPP;
	void *v;
	if (!(flags & BPF_F_LOCK) && m->ops->read)
		return m->ops->read(m, key, value, flags, copy_out);
	if (!(flags & BPF_F_LOCK) && m->ops->fixed_elems) {
		/* the value is where it always was: a copy racing an update may be torn, as in Linux */
		v = m->ops->lookup(m, key);
		if (v)
			copy_out(m, value, v, flags);
		return v ? 0 : -ENOENT;
	}
	map_lock(m);
	v = m->ops->lookup(m, key);
	int err = v ? copy_out_locked(m, value, v, flags) : -ENOENT;
	map_unlock(m);
	return err;
}

int map_sys_update(struct map *m, const void *key, const void *value, uint64_t flags)
{
	if (m->user_rdonly)
		return -EPERM;
	if (m->hdr->frozen)
		return -EPERM;
	if ((flags & 0xffffffffu) > BPF_F_LOCK || (flags >> 32))
		return -EINVAL;
	if ((flags & BPF_F_LOCK) && m->g.spin_lock_off == UINT32_MAX)
		return -EINVAL;
	if (m->ops->no_key_ops) {
		if (m->ops->push)
			return (int)map_push(m, value, flags);
		return -ENOTSUPP;
	}
	if (!m->ops->update)
		return -ENOTSUPP;
	if (m->ops->fixed_elems && !(flags & BPF_F_LOCK))
		return (int)m->ops->update(m, key, value, flags, MAP_ALL_CPUS);
	map_lock(m);
	long r = m->ops->update(m, key, value, flags, MAP_ALL_CPUS);
	map_unlock(m);
	return (int)r;
}

/* Linux's errno for delete/get_next_key on maps without keys: queue/stack -EINVAL, bloom -EOPNOTSUPP,
 * ring buffer -ENOTSUPP. */
static int keyless_err(const struct map *m)
{
	switch (m->g.type) {
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		return -EINVAL;
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return -EOPNOTSUPP;
	default:
		return -ENOTSUPP;
	}
}

int map_sys_delete(struct map *m, const void *key)
{
	if (m->user_rdonly || m->hdr->frozen)
		return -EPERM;
	if (m->ops->no_key_ops)
		return keyless_err(m);
	if (!m->ops->delete)
		return -ENOTSUPP;
	map_lock(m);
	long r = m->ops->delete(m, key);
	map_unlock(m);
	return (int)r;
}

int map_sys_get_next_key(struct map *m, const void *key, void *next)
{
	if (m->user_wronly)
		return -EPERM;
	if (m->ops->no_key_ops)
		return keyless_err(m);
	if (!m->ops->next_key)
		return -ENOTSUPP;
	map_lock(m);
	int r = m->ops->next_key(m, key, next);
	map_unlock(m);
	return r;
}

int map_sys_lookup_and_delete(struct map *m, const void *key, void *value, uint64_t flags)
{
	if (m->user_rdonly || m->user_wronly || m->hdr->frozen)
		return -EPERM;
	if (m->ops->no_key_ops) {
		if (flags)
			return -EINVAL;
		if (m->g.type == BPF_MAP_TYPE_BLOOM_FILTER || !m->ops->pop)
			return -ENOTSUPP;
		return (int)map_pop(m, value, false);
	}
	uint32_t t = m->g.type;
	if (t != BPF_MAP_TYPE_HASH && t != BPF_MAP_TYPE_PERCPU_HASH && t != BPF_MAP_TYPE_LRU_HASH &&
	    t != BPF_MAP_TYPE_LRU_PERCPU_HASH)
		return -ENOTSUPP;
	if (flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	if ((flags & BPF_F_LOCK) && m->g.spin_lock_off == UINT32_MAX)
		return -EINVAL;
	map_lock(m);
	void *v = m->ops->lookup(m, key);
	int r = -ENOENT;
	if (v && !(r = copy_out_locked(m, value, v, flags)))
		r = (int)m->ops->delete(m, key);
	map_unlock(m);
	return r;
}

int map_freeze(struct map *m)
{
	if (m->g.type == BPF_MAP_TYPE_STRUCT_OPS || m->ops->fd_values)
		return -ENOTSUPP;
	/* Linux checks write permission first, and a frozen map has none: a second freeze is -EPERM */
	if (m->user_rdonly || m->hdr->frozen)
		return -EPERM;
	m->hdr->frozen = 1;
	return 0;
}

/* ---- BTF trailer (maps.h) ------------------------------------------------------------------------- */

int map_set_btf(struct map *m, const void *btf, size_t len, uint32_t key_type, uint32_t value_type)
{
	struct map_btf_trailer t = { .magic = MAP_BTF_MAGIC, .hdr_len = sizeof(t), .key_type = key_type,
				     .value_type = value_type };
	struct stat st;
	int err = 0;

	if (len == 0 || len > MAP_BTF_MAX)
		return len ? -E2BIG : -EINVAL;
	t.btf_len = (uint32_t)len;
	/* the lock orders two processes setting it on one pinned map; the first one wins */
	map_lock(m);
	if (fstat(m->fd, &st)) {
		err = -errno;
	} else if ((uint64_t)st.st_size > m->file_len) {
		err = -EEXIST;
	} else {
		/* the BTF first, the trailer's header last: a reader sees the magic only once all is there */
		off_t at = (off_t)m->file_len;
		errno = 0;
		ssize_t w = pwrite(m->fd, btf, len, at + (off_t)sizeof(t));
		if (w == (ssize_t)len)
			w = pwrite(m->fd, &t, sizeof(t), at) == (ssize_t)sizeof(t) ? w : -1;
		if (w != (ssize_t)len) {
			err = errno ? -errno : -EIO;
			if (ftruncate(m->fd, at)) /* what the file was: nothing is left */
				err = -errno;
		}
	}
	map_unlock(m);
	return err;
}

long map_get_btf(struct map *m, void *buf, size_t cap, uint32_t *key_type, uint32_t *value_type)
{
	struct map_btf_trailer t;
	struct stat st;

	if (fstat(m->fd, &st))
		return -errno;
	if ((uint64_t)st.st_size <= m->file_len)
		return -ENOENT;
	uint64_t have = (uint64_t)st.st_size - m->file_len;
	if (have < sizeof(t) || pread(m->fd, &t, sizeof(t), (off_t)m->file_len) != (ssize_t)sizeof(t) ||
	    t.magic != MAP_BTF_MAGIC)
		return -ENOENT; /* being written (map_set_btf() writes the magic last) */
	if (t.hdr_len != sizeof(t) || t.btf_len == 0 || t.btf_len > MAP_BTF_MAX || have - sizeof(t) != t.btf_len)
		return -EINVAL;
	if (buf && cap >= t.btf_len &&
	    pread(m->fd, buf, t.btf_len, (off_t)(m->file_len + sizeof(t))) != (ssize_t)t.btf_len)
		return -EIO;
	if (key_type)
		*key_type = t.key_type;
	if (value_type)
		*value_type = t.value_type;
	return t.btf_len;
}

/* ---- pinning -------------------------------------------------------------------------------------- */

int map_pin(struct map *m, int rootfd, const char *rel, const char *shown, struct diag *log)
{
	char proc[64], dir[PATH_MAX];
	const char *base = strrchr(rel, '/');
	int dirfd = rootfd;
	if (base) {
		if ((size_t)(base - rel) >= sizeof(dir)) {
			diag_printf(log, "OBJ_PIN: %s: path too long", shown);
			return -ENAMETOOLONG;
		}
		memcpy(dir, rel, (size_t)(base - rel));
		dir[base - rel] = 0;
		dirfd = pin_openat(rootfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, false, log, shown);
		if (dirfd < 0)
			return dirfd;
		base++;
	} else {
		base = rel;
	}
	/* The name is made by link(), which neither replaces an existing name (-EEXIST, a symbolic link
	 * included) nor follows one: O_CREAT | O_EXCL | O_NOFOLLOW for a file that exists already. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->fd);
	int err = 0;
	if (linkat(AT_FDCWD, proc, dirfd, base, AT_SYMLINK_FOLLOW)) {
		err = -errno;
		if (err == -EXDEV)
			diag_printf(log, "OBJ_PIN: %s: the map's memory is not in the pin root (it was created while "
				    "the pin root was unusable, or the path crosses into another filesystem)", shown);
		else
			diag_printf(log, "OBJ_PIN: %s: %s", shown, strerror(-err));
	}
	if (dirfd != rootfd)
		close(dirfd);
	return err;
}

int map_open_pinned(const struct map_env *env, int rootfd, const char *rel, const char *shown, struct map **out,
		    struct diag *log)
{
	/* O_NONBLOCK: a FIFO or device planted under the name must not block the open */
	int fd = pin_openat(rootfd, rel, O_RDWR | O_CLOEXEC | O_NONBLOCK, 0, false, log, shown);
	struct stat stt;
	struct map_hdr h;
	struct map *m;
	int err;

	if (fd < 0)
		return fd;
	if (fstat(fd, &stt) || !S_ISREG(stt.st_mode)) {
		diag_printf(log, "OBJ_GET: %s: not a bpfvm pinned map (not a regular file)", shown);
		close(fd);
		return -EINVAL;
	}
	/* Its owner can rewrite or shrink the file under us at any time: opening another user's map is a
	 * decision the embedder makes (bpfvm_opts.allow_foreign_pins), not a default. */
	if (stt.st_uid != geteuid() && !env->allow_foreign_pins) {
		diag_printf(log, "OBJ_GET: %s: owned by uid %u, not by this process's uid %u (allow_foreign_pins "
			    "opens it anyway)", shown, (unsigned)stt.st_uid, (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	/* the file is input: check every header field against what its type needs before using it */
	if ((uint64_t)stt.st_size < sizeof(h) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    h.magic != MAP_MAGIC || h.version != MAP_LAYOUT_VERSION) {
		diag_printf(log, "OBJ_GET: %s: not a bpfvm pinned map", shown);
		close(fd);
		return -EINVAL;
	}
	/* The constants must be ones MAP_CREATE accepts, and the layout they give (recomputed here, never
	 * taken from the file) must be the file's: then this process's copy bounds every access. */
	const struct map_ops *ops = ops_of(h.type);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = h.type;
	a.key_size = h.key_size;
	a.value_size = h.value_size;
	a.max_entries = h.max_entries;
	a.map_flags = h.flags;
	a.map_extra = h.map_extra_lo | (uint64_t)h.map_extra_hi << 32;
	memcpy(a.map_name, h.name, sizeof(a.map_name));
	struct diag quiet; /* the checks' own MAP_CREATE wording would mislead here */
	diag_init(&quiet, 4096);
	bool ok = ops && h.nr_cpus > 0 && h.nr_cpus <= 1024 && !common_checks(&a, &quiet) &&
		  !ops->check(&a, h.nr_cpus, &quiet);
	diag_fini(&quiet);
	struct map_hdr want = h;
	uint64_t hdr_len = MAP_HDR_LEN, body = 0;
	want.off_a = want.off_b = want.off_c = want.off_d = want.values_off = want.values_len = 0;
	want.seq[0] = 0;
	if (ok)
		body = ops->layout(&want);
	uint32_t sl = h.spin_lock_off, to = h.timer_off, vs = h.value_size;
	if (!ok || body > (1ull << 36) || h.total_len != hdr_len + body || (uint64_t)stt.st_size < h.total_len ||
	    (uint64_t)stt.st_size - h.total_len > sizeof(struct map_btf_trailer) + MAP_BTF_MAX || /* its BTF */
	    h.off_a != want.off_a + hdr_len || h.off_b != want.off_b + hdr_len || h.off_c != want.off_c + hdr_len ||
	    h.off_d != want.off_d + hdr_len || h.values_off != want.values_off + hdr_len ||
	    h.values_len != want.values_len ||
	    (sl != UINT32_MAX && (sl > vs || vs - sl < 4 || sl % 4 ||
				  (h.type != BPF_MAP_TYPE_HASH && h.type != BPF_MAP_TYPE_ARRAY))) ||
	    (to != UINT32_MAX && (to > vs || vs - to < MAP_TIMER_SIZE || to % 8 ||
				  (h.type != BPF_MAP_TYPE_ARRAY && h.type != BPF_MAP_TYPE_HASH &&
				   h.type != BPF_MAP_TYPE_LRU_HASH)))) {
		diag_printf(log, "OBJ_GET: %s: corrupt map header", shown);
		close(fd);
		return -EINVAL;
	}
	if ((err = charge(env, h.total_len, "OBJ_GET", h.name, log))) {
		close(fd);
		return err;
	}
	err = map_from_fd(fd, h.total_len, ops->mirror_tail ? h.max_entries : 0, &m);
	if (err) {
		close(fd);
		uncharge(env->mem_used, h.total_len);
		return err;
	}
	m->mem_used = env->mem_used;
	m->ops = ops;
	geom_from(&m->g, &h, want.seq[0]);
	*out = m;
	return 0;
}
