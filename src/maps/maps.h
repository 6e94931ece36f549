/* maps.h -- maps: one ops table per type (maps.def), common checks in map.c.  Map memory is a shared
 * mapping laid out with offsets, so a pinned map can be opened by another process.  Knows nothing of
 * programs.  (Skeleton by the lead with the functions the core already calls; the maps work owns it.) */
#ifndef BPFVM_MAPS_H
#define BPFVM_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "../util/util.h"

struct map;

struct map_env {
	unsigned int nr_cpus;
	const char *pin_root;
};

int map_create(const union bpf_attr *attr, const struct map_env *env, struct map **out, struct diag *log);
void map_free(struct map *m);

uint32_t map_type(const struct map *m);
uint32_t map_key_size(const struct map *m);
uint32_t map_value_size(const struct map *m);
uint32_t map_max_entries(const struct map *m);
uint32_t map_flags(const struct map *m);

/* The memory programs may touch (values), for the engines' pointer checks. */
void map_region(const struct map *m, void **lo, size_t *len, bool *prog_writable);
/* BPF_PSEUDO_MAP_VALUE: address of byte `off` of the (single) value of an array-like map that allows
 * direct value access (ARRAY with max_entries 1, as global data), or NULL (Linux: map_direct_value_addr). */
void *map_direct_value_addr(struct map *m, uint32_t off);
/* PROG_ARRAY slot -> program object id, 0 when empty. */
uint32_t map_prog_array_get(struct map *m, uint32_t index);

#endif
