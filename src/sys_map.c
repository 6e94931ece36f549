/* sys_map.c -- the bpf() commands on maps: create, element operations (single and batched), freeze,
 * pin/get, info.  fd-valued maps (prog arrays, maps of maps) store object ids; this file translates
 * handles to ids and holds a reference on every object such a map contains. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"
#include "maps/maps.h"

static int tail_zero(const union bpf_attr *attr, unsigned int size, size_t used)
{
	return sys_bytes_zero(attr, used, size) ? 0 : -EINVAL;
}

struct map_env sys_map_env(struct bpfvm *vm)
{
	return (struct map_env){ .nr_cpus = vm->nr_cpus, .pin_root = vm->pin_root,
				 .allow_foreign_pins = vm->allow_foreign_pins, .mem_max = vm->map_mem_max,
				 .mem_used = &vm->map_mem_used };
}

static struct sys_obj *get_map(struct bpfvm *vm, uint32_t fd, int *err)
{
	struct sys_obj *o = sys_get(vm, (int)fd, SYS_MAP, err);
	if (!o)
		sys_err(vm, *err, "fd %u is not a map", fd);
	return o;
}

/* The inner-map template of a map-in-map, kept in the outer header so that processes opening its pin
 * have it too: type and key size in seq[1], value size and max_entries in seq[2] (both free for these
 * types), map_flags in `reserved`, where its values hold a spin lock and a timer in inner_*_off1 (the
 * verifier proves lock and timer calls on inner values against them). */
static void set_template(struct map *outer, const struct map *inner)
{
	outer->hdr->seq[1] = map_type(inner) | ((uint64_t)map_key_size(inner) << 32);
	outer->hdr->seq[2] = map_value_size(inner) | ((uint64_t)map_max_entries(inner) << 32);
	outer->hdr->reserved = map_flags(inner);
	outer->hdr->inner_lock_off1 = map_spin_lock_off(inner) + 1; /* UINT32_MAX (none) + 1: 0 */
	outer->hdr->inner_timer_off1 = map_timer_off(inner) + 1;
}

/* Linux bpf_map_meta_equal(): type, key and value size, flags and the special fields (btf_record_equal():
 * spin lock, timer) equal; array_map_meta_equal() (ARRAY, PERCPU_ARRAY) also max_entries, unless the
 * template has BPF_F_INNER_MAP. */
static bool matches_template(const struct map *outer, const struct map *inner)
{
	uint64_t a = map_type(inner) | ((uint64_t)map_key_size(inner) << 32);
	uint64_t b = outer->hdr->seq[2];
	uint32_t tflags = outer->hdr->reserved, t = map_type(inner);
	if (a != outer->hdr->seq[1] || map_value_size(inner) != (uint32_t)b || map_flags(inner) != tflags)
		return false;
	if (map_spin_lock_off(inner) + 1 != outer->hdr->inner_lock_off1 ||
	    map_timer_off(inner) + 1 != outer->hdr->inner_timer_off1)
		return false;
	if ((t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY) && !(tflags & BPF_F_INNER_MAP))
		return map_max_entries(inner) == (uint32_t)(b >> 32);
	return true;
}

static bool is_map_in_map(uint32_t t)
{
	return t == BPF_MAP_TYPE_ARRAY_OF_MAPS || t == BPF_MAP_TYPE_HASH_OF_MAPS;
}

static long map_create_cmd(struct bpfvm *vm, union bpf_attr *a, unsigned int size)
{
	struct map_env env = sys_map_env(vm);
	struct map *m;
	struct sys_obj *inner = NULL;
	int err;

	if (tail_zero(a, size, offsetofend(union bpf_attr, map_extra)))
		return sys_err(vm, -EINVAL, "MAP_CREATE: unknown attribute bytes are not zero");
	if (a->map_ifindex)
		return sys_err(vm, -EINVAL, "MAP_CREATE: map_ifindex (device offload) is not supported");
	if (!is_map_in_map(a->map_type) && a->inner_map_fd)
		return sys_err(vm, -EINVAL, "MAP_CREATE: inner_map_fd only for map-in-map types");
	err = map_create(a, &env, &m, sys_log(vm));
	if (err)
		return err;
	if (is_map_in_map(a->map_type)) {
		/* Linux bpf_map_meta_alloc(), after the attribute checks.  Handles start at 0 here, so
		 * inner_map_fd 0 is a valid handle, as fd 0 is in Linux. */
		inner = get_map(vm, a->inner_map_fd, &err);
		if (inner && is_map_in_map(map_type(inner->map)))
			err = sys_err(vm, -EINVAL, "MAP_CREATE: inner map cannot itself be a map-in-map");
		else if (inner && map_type(inner->map) == BPF_MAP_TYPE_PROG_ARRAY) /* no map_meta_equal */
			err = sys_err(vm, -ENOTSUPP, "MAP_CREATE: a prog array cannot be an inner map");
		if (inner && !err)
			set_template(m, inner->map);
		sys_put(vm, inner);
		if (err) {
			map_free(m);
			return err;
		}
	}
	int fd = sys_install(vm, SYS_MAP, m);
	if (fd < 0) {
		map_free(m);
		return sys_err(vm, fd, "MAP_CREATE: no handle available");
	}
	return fd;
}

/* Translate a user fd value into the object id stored in an fd map, with a reference. */
static int fd_value_to_id(struct bpfvm *vm, struct map *m, const void *value, uint32_t *id, struct sys_obj **obj)
{
	uint32_t fd;
	int err = 0;
	memcpy(&fd, value, 4);
	bool progs = map_type(m) == BPF_MAP_TYPE_PROG_ARRAY;
	struct sys_obj *o = sys_get(vm, (int)fd, progs ? SYS_PROG : SYS_MAP, &err);
	if (!o)
		return sys_err(vm, err, "value fd %u is not a %s", fd, progs ? "program" : "map");
	if (!progs && !matches_template(m, o->map)) {
		sys_put(vm, o);
		return sys_err(vm, -EINVAL, "inner map fd %u does not match the map-in-map's template", fd);
	}
	*id = o->id;
	*obj = o;
	return 0;
}

/* ---- references held by fd-map slots ------------------------------------------------------------
 * A slot stores an object id, and the handle that stored it holds a reference on that object.  The map's
 * memory is shared: other handles on its file (OBJ_GET of a pin, here or in another process) see the
 * same slots, but an id names an object of the instance that stored it only.  So each handle keeps, in
 * its own memory, how many references it holds on each id (struct held), and drops a reference only
 * when it holds one: a slot filled through another handle is emptied or replaced without touching this
 * handle's objects, and its holder drops its reference when its own handle goes.  (A slot's id may thus
 * outlive its object for a while; a lookup of a dead id finds nothing, as ids are never reused.)
 * Another instance's handle may hold the same number for an object of its own, so a prog array's or map
 * of maps' slot also records the instance that filled it (vm->tag, maps/array.c): a handle takes back or
 * empties only slots its own instance filled, and a tail call or a program's lookup resolves only those. */
struct held_ent {
	uint32_t id;                 /* 0: never used; an entry whose n fell to 0 keeps its id */
	uint32_t n;                  /* references held on id */
};

struct held {
	pthread_mutex_t lock;
	size_t cap;                  /* power of two, 0 before the first entry */
	size_t used;                 /* entries with an id */
	struct held_ent *ent;
};

static size_t held_slot(const struct held *h, uint32_t id)
{
	size_t i = (id * 2654435761u) & (h->cap - 1);
	while (h->ent[i].id && h->ent[i].id != id)
		i = (i + 1) & (h->cap - 1);
	return i;
}

/* Rehashes into room for twice the entries still counting (lock held): 0 or -ENOMEM. */
static int held_grow(struct held *h)
{
	size_t live = 0;
	for (size_t i = 0; i < h->cap; i++)
		live += h->ent[i].n != 0;
	size_t cap = 16;
	while (cap < 4 * (live + 1))
		cap *= 2;
	struct held n = { .cap = cap, .ent = calloc(cap, sizeof(struct held_ent)) };
	if (!n.ent)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++)
		if (h->ent[i].n) {
			n.ent[held_slot(&n, h->ent[i].id)] = h->ent[i];
			n.used++;
		}
	free(h->ent);
	h->ent = n.ent;
	h->cap = n.cap;
	h->used = n.used;
	return 0;
}

/* Counts a reference m's slots now hold on id: 0 or -ENOMEM (nothing counted). */
static int held_add(struct map *m, uint32_t id)
{
	struct held *h = __atomic_load_n(&m->held, __ATOMIC_ACQUIRE);
	if (!h) {
		/* made by the first store; stores through one handle may race, so under the map lock */
		map_lock(m);
		h = m->held;
		if (!h && (h = calloc(1, sizeof(*h)))) {
			pthread_mutex_init(&h->lock, NULL);
			__atomic_store_n(&m->held, h, __ATOMIC_RELEASE);
		}
		map_unlock(m);
		if (!h)
			return -ENOMEM;
	}
	int err = 0;
	pthread_mutex_lock(&h->lock);
	if ((h->used + 1) * 4 > h->cap * 3)
		err = held_grow(h);
	if (!err) {
		struct held_ent *e = &h->ent[held_slot(h, id)];
		if (!e->id) {
			e->id = id;
			h->used++;
		}
		e->n++;
	}
	pthread_mutex_unlock(&h->lock);
	return err;
}

/* Whether m's slots hold a reference on id; `take`: and gives it back to the caller, who drops it. */
static bool held_check(struct map *m, uint32_t id, bool take)
{
	struct held *h = __atomic_load_n(&m->held, __ATOMIC_ACQUIRE);
	bool has = false;
	if (!h || !id)
		return false;
	pthread_mutex_lock(&h->lock);
	if (h->cap) {
		struct held_ent *e = &h->ent[held_slot(h, id)];
		has = e->id == id && e->n;
		if (has && take)
			e->n--;
	}
	pthread_mutex_unlock(&h->lock);
	return has;
}

/* Drops a reference a slot of m held on the object with that id. */
static void put_held(struct bpfvm *vm, struct map *m, uint32_t id)
{
	struct sys_obj *o = sys_get_by_id(vm, id, map_type(m) == BPF_MAP_TYPE_PROG_ARRAY ? SYS_PROG : SYS_MAP);
	if (NEVER(!o)) /* the slot's reference keeps it alive */
		return;
	sys_put(vm, o); /* the lookup's */
	sys_put(vm, o); /* the slot's */
}

/* A slot of m stopped holding id: drops the reference if it was this handle's. */
static void put_id(struct bpfvm *vm, struct map *m, uint32_t id)
{
	if (held_check(m, id, true))
		put_held(vm, m, id);
}

/* The owner tag this instance stores with an id in m's slots: its own (prog arrays and maps of maps keep
 * it; the other fd maps keep none: 0). */
static uint64_t slot_owner(const struct bpfvm *vm, const struct map *m)
{
	uint32_t t = map_type(m);
	return t == BPF_MAP_TYPE_PROG_ARRAY || is_map_in_map(t) ? vm->tag : 0;
}

/* A slot of m stopped holding s: as put_id() when this instance filled it (another's id names another
 * instance's object, whatever this handle holds under that number). */
static void put_slot(struct bpfvm *vm, struct map *m, struct map_fd_slot s)
{
	if (s.id && s.owner == slot_owner(vm, m))
		put_id(vm, m, s.id);
}

void sys_map_release(struct bpfvm *vm, struct map *m)
{
	/* the handle's last reference: every reference its slots hold goes (the slots of a map nobody else
	 * maps go with its memory; a pinned map's keep ids that name nothing any more) */
	struct held *h = m->held;
	if (h) {
		for (size_t i = 0; i < h->cap; i++)
			for (; h->ent[i].n; h->ent[i].n--)
				put_held(vm, m, h->ent[i].id);
		pthread_mutex_destroy(&h->lock);
		free(h->ent);
		free(h);
		m->held = NULL;
	}
	map_free(m);
}

/* Empties every slot of a prog array that holds a reference of this handle (filled by this instance
 * with an id the handle holds), and drops it (Linux
 * prog_array_map_clear(), done there by a workqueue, here at once: a run holds what it tail-called,
 * hlp_run_hold(), so no run needs the slot's reference). */
static void prog_array_clear(struct bpfvm *vm, struct map *m)
{
	if (!__atomic_load_n(&m->held, __ATOMIC_ACQUIRE))
		return;
	for (uint32_t i = 0; i < map_max_entries(m); i++) {
		struct map_fd_slot s = map_lookup_slot(m, &i);
		if (s.id && s.owner == vm->tag && held_check(m, s.id, false) && map_clear_id(m, &i, s) == 0)
			put_id(vm, m, s.id);
	}
}

/* Calls fn on each prog array of the instance on the file of `m` (every one, m NULL), each held by a
 * reference for the call; stops at the first that returns true, and returns whether one did. */
static bool each_prog_array(struct bpfvm *vm, const struct map *m, bool (*fn)(struct bpfvm *, struct sys_obj *))
{
	bool stop = false;
	for (uint32_t id = 0; !stop && sys_next_id(vm, SYS_MAP, id, &id) == 0;) {
		struct sys_obj *o = sys_get_by_id(vm, id, SYS_MAP);
		if (!o)
			continue;
		if (map_type(o->map) == BPF_MAP_TYPE_PROG_ARRAY && (!m || map_same_file(o->map, m)))
			stop = fn(vm, o);
		sys_put(vm, o);
	}
	return stop;
}

static bool has_user_refs(struct bpfvm *vm, struct sys_obj *o)
{
	(void)vm;
	return atomic_load(&o->usercnt) > 0;
}

static bool clear_slots(struct bpfvm *vm, struct sys_obj *o)
{
	prog_array_clear(vm, o->map);
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Drops the references o's handle holds for slots that no longer hold them: slots another instance
 * overwrote (it cannot drop this instance's reference, so it stays counted here) or another handle of
 * this instance emptied.  Run once every object on the file has emptied its slots (clear_slots()):
 * such a reference holds the program of no slot, and a program holding the array would keep itself
 * alive through it.  An id still in a slot this instance filled (stored meanwhile) keeps its references. */
static bool drop_stale(struct bpfvm *vm, struct sys_obj *o)
{
	struct map *m = o->map;
	struct held *h = __atomic_load_n(&m->held, __ATOMIC_ACQUIRE);
	uint32_t n = map_max_entries(m), cnt = 0;
	if (!h)
		return false;
	uint32_t *ids = malloc((size_t)n * sizeof(*ids));
	if (!ids)
		return false; /* they stay: a leak at worst, never a reference dropped twice */
	for (uint32_t i = 0; i < n; i++) {
		struct map_fd_slot s = map_lookup_slot(m, &i);
		if (s.id && s.owner == vm->tag)
			ids[cnt++] = s.id;
	}
	qsort(ids, cnt, sizeof(*ids), cmp_u32);
	for (;;) {
		uint32_t id = 0;
		pthread_mutex_lock(&h->lock);
		for (size_t i = 0; i < h->cap && !id; i++)
			if (h->ent[i].n && !bsearch(&h->ent[i].id, ids, cnt, sizeof(*ids), cmp_u32)) {
				id = h->ent[i].id;
				h->ent[i].n--;
			}
		pthread_mutex_unlock(&h->lock);
		if (!id)
			break;
		put_held(vm, m, id); /* not under h->lock: it may free programs, whose maps it puts (o stays) */
	}
	free(ids);
	return false;
}

void sys_map_release_uref(struct bpfvm *vm, struct sys_obj *o)
{
	/* Linux bpf_map_put_uref() -> prog_array_map_clear(): a prog array whose last user reference went
	 * is emptied, so that programs in it that tail-call through it (holding it) can go.  The user
	 * references of a map are all its handles -- this instance's handles on the map's file, through
	 * whichever object (MAP_CREATE's, each OBJ_GET's) -- and its pins, which outlive handles: a pinned
	 * array keeps its slots.  Once none is left, each object on the file empties the slots it filled,
	 * then drops what it held for slots other instances took over. */
	if (o->kind != SYS_MAP || map_type(o->map) != BPF_MAP_TYPE_PROG_ARRAY || map_pinned(o->map) ||
	    each_prog_array(vm, o->map, has_user_refs))
		return;
	each_prog_array(vm, o->map, clear_slots);
	each_prog_array(vm, o->map, drop_stale);
}

void sys_maps_teardown(struct bpfvm *vm)
{
	/* Every handle is closed: what lives on is held by programs, slots and runs only.  The slots of the
	 * instance's prog arrays name its programs, which go with it, so they are emptied even where a pin
	 * kept them: that breaks every cycle (only a prog array's slots hold programs), and each object then
	 * goes with its last reference. */
	each_prog_array(vm, NULL, clear_slots);
	each_prog_array(vm, NULL, drop_stale);
}

static int do_update(struct bpfvm *vm, struct map *m, const void *key, const void *value, uint64_t flags)
{
	if (!map_is_fd_map(m))
		return map_sys_update(m, key, value, flags);
	/* Linux: permission and BPF_F_LOCK (map_update_elem()) come before the fd is looked at, and the
	 * arrays (bpf_fd_array_map_update_elem()) take BPF_ANY alone and check the index first too */
	if (m->user_rdonly || m->hdr->frozen)
		return -EPERM;
	if (flags & BPF_F_LOCK)
		return -EINVAL; /* no spin lock in an fd map's values */
	if (map_type(m) != BPF_MAP_TYPE_HASH_OF_MAPS) {
		uint32_t index;
		memcpy(&index, key, 4);
		if (flags != BPF_ANY)
			return sys_err(vm, -EINVAL, "update of a %s: flags must be BPF_ANY",
				       map_type(m) == BPF_MAP_TYPE_PROG_ARRAY ? "prog array" : "map-in-map array");
		if (index >= map_max_entries(m))
			return -E2BIG;
	}
	uint32_t id = 0;
	struct map_fd_slot old;
	struct sys_obj *o = NULL;
	int err = fd_value_to_id(vm, m, value, &id, &o);
	if (err)
		return err;
	/* the map holds o's reference from here, counted before the store (a thread replacing it at once
	 * must find it counted); the previous occupant's goes (read in the same lock hold as the store:
	 * two threads replacing one slot must not both drop the same occupant) */
	if ((err = held_add(m, id))) {
		sys_put(vm, o);
		return sys_err(vm, err, "update of fd map '%s': no memory to count the reference", map_name(m));
	}
	err = map_sys_swap_id(m, key, (struct map_fd_slot){ slot_owner(vm, m), id }, flags, &old);
	if (err) {
		if (held_check(m, id, true))
			sys_put(vm, o);
		return err;
	}
	put_slot(vm, m, old);
	return 0;
}

static int do_delete(struct bpfvm *vm, struct map *m, const void *key)
{
	if (!map_is_fd_map(m))
		return map_sys_delete(m, key);
	struct map_fd_slot old;
	int err = map_sys_swap_id(m, key, (struct map_fd_slot){ 0, 0 }, 0, &old);
	if (!err)
		put_slot(vm, m, old);
	return err;
}

static int do_lookup(struct map *m, const void *key, void *value, uint64_t flags)
{
	if (!map_is_fd_map(m))
		return map_sys_lookup(m, key, value, flags);
	/* fd maps answer with the id of the object (Linux map_fd_sys_lookup_elem) */
	if (map_type(m) == BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -ENOTSUPP;
	uint32_t id = map_lookup_id(m, key);
	if (!id)
		return -ENOENT;
	memcpy(value, &id, 4);
	return 0;
}

/* Linux's checks of an element command that come before its key is copied: the handle's permission
 * (map_get_sys_perms(): a frozen map is not writable) and the flags that need no map op. */
static int elem_perm(const struct map *m, int cmd, uint64_t flags)
{
	bool ro = m->user_rdonly || m->hdr->frozen, wo = m->user_wronly;
	switch (cmd) {
	case BPF_MAP_LOOKUP_ELEM:
		return (flags & ~(uint64_t)BPF_F_LOCK) ? -EINVAL : wo ? -EPERM : (flags & BPF_F_LOCK) ? -EINVAL : 0;
	case BPF_MAP_UPDATE_ELEM:
		return ro ? -EPERM : (flags & BPF_F_LOCK) ? -EINVAL : 0;
	case BPF_MAP_DELETE_ELEM:
		return ro ? -EPERM : 0;
	case BPF_MAP_GET_NEXT_KEY:
		return wo ? -EPERM : 0;
	default: /* LOOKUP_AND_DELETE: flags are checked before the map is even looked up */
		return (flags & ~(uint64_t)BPF_F_LOCK) ? -EINVAL : ro || wo ? -EPERM : flags ? -EINVAL : 0;
	}
}

/* bytes the key/value pointers of a command must cover; user pointers are in-process */
static const void *ukey(const union bpf_attr *a, const struct map *m)
{
	(void)m;
	return (const void *)(uintptr_t)a->key;
}

/* The map's file was shrunk by another process and its memory is gone (guard.c). */
static int lost_err(struct bpfvm *vm, uint32_t fd)
{
	return sys_err(vm, -EIO, "map fd %u: another process truncated the map's file; its contents are lost", fd);
}

static long elem_cmd(struct bpfvm *vm, int cmd, union bpf_attr *a)
{
	int err = 0;
	struct sys_obj *o = get_map(vm, a->map_fd, &err);
	if (!o)
		return err;
	struct map *m = o->map;
	const void *key = ukey(a, m);
	void *value = (void *)(uintptr_t)a->value;
	bool keyless = map_key_size(m) == 0;

	if (!keyless && !key && cmd != BPF_MAP_GET_NEXT_KEY)
		err = sys_err(vm, -EFAULT, "key is NULL");
	else if (keyless && key && !(err = elem_perm(m, cmd, a->flags)))
		err = sys_err(vm, -EINVAL, "map type %u has no keys: key must be NULL", map_type(m)); /* __bpf_copy_key() */
	else if (!value && (cmd == BPF_MAP_LOOKUP_ELEM || cmd == BPF_MAP_UPDATE_ELEM ||
			    cmd == BPF_MAP_LOOKUP_AND_DELETE_ELEM) && map_value_size(m))
		err = sys_err(vm, -EFAULT, "value is NULL");
	else if (cmd == BPF_MAP_LOOKUP_ELEM)
		err = do_lookup(m, key, value, a->flags);
	else if (cmd == BPF_MAP_UPDATE_ELEM)
		err = do_update(vm, m, key, value, a->flags);
	else if (cmd == BPF_MAP_DELETE_ELEM)
		err = do_delete(vm, m, key);
	else if (cmd == BPF_MAP_GET_NEXT_KEY)
		err = map_sys_get_next_key(m, key, (void *)(uintptr_t)a->next_key);
	else if (cmd == BPF_MAP_LOOKUP_AND_DELETE_ELEM)
		err = map_is_fd_map(m) ? -ENOTSUPP : map_sys_lookup_and_delete(m, key, value, a->flags);
	/* after, not before: a shrink during the call left it working on zeros (guard.c) */
	if (map_lost(m))
		err = lost_err(vm, a->map_fd);
	sys_put(vm, o);
	return err;
}

/* Which batch commands a type has: Linux sets map_lookup_batch etc. per type and answers -ENOTSUPP for
 * the rest (bpf_map_do_batch()); arrays have no deleting batches since their elements cannot go. */
static bool batch_supported(uint32_t t, int cmd)
{
	bool hash = t == BPF_MAP_TYPE_HASH || t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_HASH ||
		    t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_HASH_OF_MAPS;
	bool array = t == BPF_MAP_TYPE_ARRAY || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_ARRAY_OF_MAPS;
	switch (cmd) {
	case BPF_MAP_LOOKUP_BATCH:
	case BPF_MAP_UPDATE_BATCH:
		return hash || array || t == BPF_MAP_TYPE_LPM_TRIE;
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		return hash;
	default:
		return hash || t == BPF_MAP_TYPE_LPM_TRIE;
	}
}

/* Batches: the token is a u32 count of elements already returned (in_batch/out_batch point at one).
 * Checks come in Linux's order: permissions (-EPERM), then whether the type has the command
 * (-ENOTSUPP), then the command's own arguments (-EINVAL).  batch.count is written back only once the
 * command ran: the elements done, also when one of them failed. */
static long batch_cmd(struct bpfvm *vm, int cmd, union bpf_attr *a)
{
	int err = 0;
	struct sys_obj *o = get_map(vm, a->batch.map_fd, &err);
	if (!o)
		return err;
	struct map *m = o->map;
	uint32_t ks = map_key_size(m);
	size_t vs = map_is_fd_map(m) ? 4 : map_user_value_size(m);
	uint8_t *keys = (uint8_t *)(uintptr_t)a->batch.keys, *values = (uint8_t *)(uintptr_t)a->batch.values;
	uint32_t want = a->batch.count, done = 0;
	uint8_t *cur = NULL, *next = NULL;
	bool writes = cmd != BPF_MAP_LOOKUP_BATCH, reads = cmd != BPF_MAP_UPDATE_BATCH && cmd != BPF_MAP_DELETE_BATCH;
	uint64_t ef = a->batch.elem_flags;
	bool has_lock = m->g.spin_lock_off != UINT32_MAX;

	if ((writes && (m->user_rdonly || m->hdr->frozen)) || (reads && m->user_wronly)) {
		err = sys_err(vm, -EPERM, "batch: map fd %u is not %s", a->batch.map_fd, writes ? "writable" : "readable");
		goto put;
	}
	if (!batch_supported(map_type(m), cmd)) {
		err = sys_err(vm, -ENOTSUPP, "batch: command %d is not supported for map type %u", cmd, map_type(m));
		goto put;
	}
	/* only the hash walks (htab_map_lookup_batch) look at batch.flags; elem_flags is BPF_F_LOCK or
	 * nothing for every command, updates included (generic_map_update_batch) */
	uint32_t t = map_type(m);
	bool hash_walk = reads && t != BPF_MAP_TYPE_ARRAY && t != BPF_MAP_TYPE_PERCPU_ARRAY &&
			 t != BPF_MAP_TYPE_ARRAY_OF_MAPS && t != BPF_MAP_TYPE_LPM_TRIE;
	if ((hash_walk && a->batch.flags) || (ef & ~(uint64_t)BPF_F_LOCK) || ((ef & BPF_F_LOCK) && !has_lock)) {
		err = sys_err(vm, -EINVAL, "batch: invalid flags 0x%llx elem_flags 0x%llx%s", (unsigned long long)a->batch.flags,
			      (unsigned long long)ef, (ef & BPF_F_LOCK) && !has_lock ? " (BPF_F_LOCK without a spin lock)" : "");
		goto put;
	}
	if (!keys || (!values && cmd != BPF_MAP_DELETE_BATCH)) {
		err = sys_err(vm, -EFAULT, "batch: keys or values is NULL");
		goto put;
	}
	if (cmd == BPF_MAP_UPDATE_BATCH || cmd == BPF_MAP_DELETE_BATCH) {
		for (; done < want; done++) {
			err = cmd == BPF_MAP_UPDATE_BATCH
				      ? do_update(vm, m, keys + (size_t)done * ks, values + done * vs, ef)
				      : do_delete(vm, m, keys + (size_t)done * ks);
			if (err)
				break;
		}
		goto out;
	}
	uint32_t skip = 0;
	if (a->batch.in_batch)
		memcpy(&skip, (void *)(uintptr_t)a->batch.in_batch, 4);
	cur = malloc(ks);
	next = malloc(ks);
	if (!cur || !next) {
		err = -ENOMEM;
		goto out;
	}
	bool deleting = cmd == BPF_MAP_LOOKUP_AND_DELETE_BATCH;
	bool first = true;
	uint32_t pos = 0;
	while (done < want) {
		int r = map_sys_get_next_key(m, first ? NULL : cur, next);
		if (r) {
			err = -ENOENT; /* iteration finished: Linux returns ENOENT with the last count */
			break;
		}
		first = false;
		memcpy(cur, next, ks);
		if (!deleting && pos++ < skip)
			continue;
		err = do_lookup(m, cur, values + done * vs, ef);
		if (err == -ENOENT)
			continue;
		if (err)
			break;
		memcpy(keys + (size_t)done * ks, cur, ks);
		if (deleting) {
			/* a failed delete would leave the key first in the walk forever: report it */
			err = do_delete(vm, m, cur);
			if (err) {
				sys_err(vm, err, "batch: deleting a returned element failed");
				break;
			}
			first = true; /* restart: the deleted key has no successor */
		}
		done++;
	}
	if (a->batch.out_batch) {
		uint32_t tok = deleting ? 0 : pos; /* keys walked, counting empty fd-array slots too */
		memcpy((void *)(uintptr_t)a->batch.out_batch, &tok, 4);
	}
out:
	a->batch.count = done;
	if (map_lost(m))
		err = lost_err(vm, a->batch.map_fd);
put:
	free(cur);
	free(next);
	sys_put(vm, o);
	return err;
}

/* Pin paths live under the instance's pin root; "/sys/fs/bpf/x" is accepted as an alias of ROOT/x.  Sets
 * *rel to the path below the root and `shown` to the whole path, for messages. */
static int pin_path(struct bpfvm *vm, const char *upath, const char **rel, char *shown, size_t len)
{
	if (!upath || !*upath)
		return sys_err(vm, -EINVAL, "pathname is empty");
	const char *r = upath;
	size_t rl = strlen(vm->pin_root);
	if (!strncmp(upath, "/sys/fs/bpf/", 12))
		r = upath + 12;
	else if (!strncmp(upath, vm->pin_root, rl) && upath[rl] == '/')
		r = upath + rl + 1;
	else if (upath[0] == '/')
		return sys_err(vm, -EINVAL, "%s: pinned objects live under %s (or /sys/fs/bpf/)", upath, vm->pin_root);
	else /* Linux would take it relative to the cwd, which is never bpffs here: say where pins are */
		return sys_err(vm, -EINVAL, "%s: a pin path is absolute: pins live under %s (%s/NAME, or /sys/fs/bpf/NAME)",
			       upath, vm->pin_root, vm->pin_root);
	if ((size_t)snprintf(shown, len, "%s/%s", vm->pin_root, r) >= len)
		return sys_err(vm, -ENAMETOOLONG, "%s: path too long", upath);
	int err = pin_check_rel(r, sys_log(vm), upath);
	if (err)
		return err;
	*rel = r;
	return 0;
}

static long obj_cmd(struct bpfvm *vm, int cmd, union bpf_attr *a)
{
	char shown[PATH_MAX];
	const char *rel = NULL;
	/* Linux bpf_obj_pin() / bpf_obj_get(): OBJ_PIN takes no file_flags, OBJ_GET no bpf_fd and one of
	 * BPF_F_RDONLY, BPF_F_WRONLY or neither (bpf_get_file_flag()); BPF_F_PATH_FD is not supported */
	uint32_t ff = a->file_flags;
	if (cmd == BPF_OBJ_PIN && ff)
		return sys_err(vm, -EINVAL, "OBJ_PIN: file_flags 0x%x must be 0", ff);
	if (cmd == BPF_OBJ_GET && (a->bpf_fd || (ff & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY)) ||
				   ff == (BPF_F_RDONLY | BPF_F_WRONLY)))
		return sys_err(vm, -EINVAL, "OBJ_GET: bpf_fd %u must be 0 and file_flags 0x%x one of 0, BPF_F_RDONLY, BPF_F_WRONLY",
			       a->bpf_fd, ff);
	int err = pin_path(vm, (const char *)(uintptr_t)a->pathname, &rel, shown, sizeof(shown));
	if (err)
		return err;
	struct sys_obj *o = NULL;
	if (cmd == BPF_OBJ_PIN) {
		o = sys_get(vm, (int)a->bpf_fd, SYS_NONE, &err);
		if (!o)
			return sys_err(vm, err, "OBJ_PIN: bad fd %u", a->bpf_fd);
	}
	int root = pin_root_open(vm->pin_root, sys_log(vm));
	if (root < 0) {
		sys_put(vm, o);
		return root;
	}
	if (cmd == BPF_OBJ_PIN) {
		if (o->kind == SYS_PROG)
			err = sys_prog_pin(vm, o->prog, root, rel, shown);
		else
			err = map_pin(o->map, root, rel, shown, sys_log(vm));
		sys_put(vm, o);
		close(root);
		return err;
	}
	/* a directory: a pinned program (sys_pin.c); anything else is for map_open_pinned() to judge */
	int pin = pin_openat(root, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, false, NULL, shown);
	if (pin >= 0) {
		long r = sys_prog_get(vm, pin, shown, ff);
		close(pin);
		close(root);
		return r;
	}
	struct map *m;
	struct map_env env = sys_map_env(vm);
	err = map_open_pinned(&env, root, rel, shown, &m, sys_log(vm));
	close(root);
	if (err)
		return err;
	/* the access of this handle is the open's alone, as a file's (the map's own BPF_F_RDONLY/WRONLY
	 * only ever bound the handle MAP_CREATE returned) */
	m->user_rdonly = ff & BPF_F_RDONLY;
	m->user_wronly = ff & BPF_F_WRONLY;
	int fd = sys_install(vm, SYS_MAP, m);
	if (fd < 0)
		map_free(m);
	return fd;
}

static long map_info(struct bpfvm *vm, union bpf_attr *a)
{
	int err = 0;
	struct sys_obj *o = get_map(vm, a->info.bpf_fd, &err);
	if (!o)
		return err;
	struct map *m = o->map;
	struct bpf_map_info info;
	uint32_t ulen = a->info.info_len;
	memset(&info, 0, sizeof(info));
	info.type = map_type(m);
	info.id = o->id;
	info.key_size = map_key_size(m);
	info.value_size = map_value_size(m);
	info.max_entries = map_max_entries(m);
	info.map_flags = map_flags(m);
	memcpy(info.name, map_name(m), sizeof(info.name));
	info.map_extra = m->hdr->map_extra_lo | ((uint64_t)m->hdr->map_extra_hi << 32);
	/* the type ids of the BTF the map keeps (bpfvm_map_btf() gives the BTF itself: there are no BTF
	 * objects, so btf_id stays 0) */
	(void)map_get_btf(m, NULL, 0, &info.btf_key_type_id, &info.btf_value_type_id);
	if (ulen > sizeof(info))
		ulen = sizeof(info);
	memcpy((void *)(uintptr_t)a->info.info, &info, ulen);
	a->info.info_len = ulen;
	sys_put(vm, o);
	return 0;
}

/* Linux's CHECK_ATTR(): bytes past the last field a command uses must be zero (-EINVAL). */
static size_t last_field_end(int cmd)
{
	switch (cmd) {
	case BPF_MAP_LOOKUP_ELEM:
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
		return offsetofend(union bpf_attr, flags);
	case BPF_MAP_DELETE_ELEM:
		return offsetofend(union bpf_attr, key);
	case BPF_MAP_GET_NEXT_KEY:
		return offsetofend(union bpf_attr, next_key);
	case BPF_MAP_FREEZE:
		return offsetofend(union bpf_attr, map_fd);
	case BPF_MAP_LOOKUP_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
		return offsetofend(union bpf_attr, batch.flags);
	case BPF_OBJ_PIN:
	case BPF_OBJ_GET:
		return offsetofend(union bpf_attr, file_flags); /* path_fd (newer headers) unsupported */
	case BPF_OBJ_GET_INFO_BY_FD:
		return offsetofend(union bpf_attr, info.info);
	default:
		return sizeof(union bpf_attr);
	}
}

long sys_map_cmd(struct bpfvm *vm, int cmd, union bpf_attr *a, unsigned int size)
{
	if (cmd != BPF_MAP_CREATE && tail_zero(a, size, last_field_end(cmd)))
		return sys_err(vm, -EINVAL, "bpf: command %d: attribute bytes past its last field are not zero", cmd);
	switch (cmd) {
	case BPF_MAP_CREATE:
		return map_create_cmd(vm, a, size);
	case BPF_MAP_LOOKUP_ELEM:
	case BPF_MAP_UPDATE_ELEM:
	case BPF_MAP_DELETE_ELEM:
	case BPF_MAP_GET_NEXT_KEY:
	case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
		return elem_cmd(vm, cmd, a);
	case BPF_MAP_FREEZE: {
		int err = 0;
		struct sys_obj *o = get_map(vm, a->map_fd, &err);
		if (!o)
			return err;
		err = map_freeze(o->map);
		sys_put(vm, o);
		return err;
	}
	case BPF_MAP_LOOKUP_BATCH:
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
	case BPF_MAP_UPDATE_BATCH:
	case BPF_MAP_DELETE_BATCH:
		return batch_cmd(vm, cmd, a);
	case BPF_OBJ_PIN:
	case BPF_OBJ_GET:
		return obj_cmd(vm, cmd, a);
	case BPF_OBJ_GET_INFO_BY_FD:
		return map_info(vm, a);
	default:
		return sys_err(vm, -EINVAL, "bpf: command %d is not supported", cmd);
	}
}

/* ---- user-space consumers of ring buffers and perf event arrays (libbpf's ring_buffer/perf_buffer) */

struct bpfvm_ringbuf {
	struct bpfvm *vm;
	struct sys_obj *obj;
	bpfvm_ringbuf_fn cb;
	void *ctx;
	int fd;
};

struct bpfvm_perf_buffer {
	struct bpfvm *vm;
	struct sys_obj *obj;
	bpfvm_perf_sample_fn sample;
	bpfvm_perf_lost_fn lost;
	void *ctx;
	int fd;
};

/* The CLOCK_MONOTONIC instant timeout_ms from now (map_wait()'s deadline). */
static struct timespec deadline_in(int timeout_ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += timeout_ms / 1000;
	t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Consume, and while nothing came and time is left, sleep until a producer signals (map_wait()).  Sleeps
 * are at most a second each: a file shrunk by another process while we sleep wakes nobody, so each slice
 * ends with a look at the file (guard.c).  Returns records consumed, 0 at the deadline, or -EIO (lost). */
static int poll_map(struct bpfvm *vm, int fd, struct map *m, int timeout_ms, int (*consume)(void *c), void *c,
		    bool (*ready)(struct map *m))
{
	struct timespec deadline = timeout_ms > 0 ? deadline_in(timeout_ms) : (struct timespec){ 0, 0 };

	for (;;) {
		int n = consume(c);
		if (map_lost(m) || (n == 0 && timeout_ms != 0 && map_file_shrunk(m)))
			return lost_err(vm, (uint32_t)fd);
		if (n != 0 || timeout_ms == 0)
			return n;
		struct timespec slice = deadline_in(1000);
		bool last = timeout_ms > 0 && !before(&slice, &deadline);
		int err = map_wait(m, ready, last ? &deadline : &slice);
		if (err == -ETIMEDOUT && last)
			return 0;
		if (err && err != -ETIMEDOUT)
			return err;
	}
}

int bpfvm_ringbuf_new(struct bpfvm *vm, int map_fd, bpfvm_ringbuf_fn cb, void *ctx, struct bpfvm_ringbuf **out)
{
	int err = 0;
	sys_log_reset(vm);
	struct sys_obj *o = get_map(vm, (uint32_t)map_fd, &err);
	if (!o)
		return err;
	if (map_type(o->map) != BPF_MAP_TYPE_RINGBUF || !cb) {
		sys_put(vm, o);
		return sys_err(vm, -EINVAL, "fd %d: not a ring buffer map", map_fd);
	}
	struct bpfvm_ringbuf *rb = calloc(1, sizeof(*rb));
	if (!rb) {
		sys_put(vm, o);
		return -ENOMEM;
	}
	*rb = (struct bpfvm_ringbuf){ vm, o, cb, ctx, map_fd };
	*out = rb;
	return 0;
}

static int rb_consume(void *c)
{
	struct bpfvm_ringbuf *rb = c;
	return map_ringbuf_consume(rb->obj->map, rb->cb, rb->ctx);
}

int bpfvm_ringbuf_poll(struct bpfvm_ringbuf *rb, int timeout_ms)
{
	sys_log_reset(rb->vm);
	return poll_map(rb->vm, rb->fd, rb->obj->map, timeout_ms, rb_consume, rb, map_ringbuf_ready);
}

void bpfvm_ringbuf_free(struct bpfvm_ringbuf *rb)
{
	if (!rb)
		return;
	sys_put(rb->vm, rb->obj);
	free(rb);
}

int bpfvm_perf_buffer_new(struct bpfvm *vm, int map_fd, bpfvm_perf_sample_fn sample, bpfvm_perf_lost_fn lost,
			  void *ctx, struct bpfvm_perf_buffer **out)
{
	int err = 0;
	sys_log_reset(vm);
	struct sys_obj *o = get_map(vm, (uint32_t)map_fd, &err);
	if (!o)
		return err;
	if (map_type(o->map) != BPF_MAP_TYPE_PERF_EVENT_ARRAY) {
		sys_put(vm, o);
		return sys_err(vm, -EINVAL, "fd %d: not a perf event array", map_fd);
	}
	struct bpfvm_perf_buffer *pb = calloc(1, sizeof(*pb));
	if (!pb) {
		sys_put(vm, o);
		return -ENOMEM;
	}
	*pb = (struct bpfvm_perf_buffer){ vm, o, sample, lost, ctx, map_fd };
	*out = pb;
	return 0;
}

static int pb_consume(void *c)
{
	struct bpfvm_perf_buffer *pb = c;
	return map_perf_consume(pb->obj->map, pb->sample, pb->lost, pb->ctx);
}

int bpfvm_perf_buffer_poll(struct bpfvm_perf_buffer *pb, int timeout_ms)
{
	sys_log_reset(pb->vm);
	return poll_map(pb->vm, pb->fd, pb->obj->map, timeout_ms, pb_consume, pb, map_perf_ready);
}

void bpfvm_perf_buffer_free(struct bpfvm_perf_buffer *pb)
{
	if (!pb)
		return;
	sys_put(pb->vm, pb->obj);
	free(pb);
}
