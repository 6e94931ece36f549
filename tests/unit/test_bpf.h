/* test_bpf.h -- bpf() commands in one call each, for the tests that build maps by hand.  Returns are
 * bpfvm_bpf()'s: a handle or 0, else a negative errno. */
#ifndef BPFVM_TEST_BPF_H
#define BPFVM_TEST_BPF_H

#include <stdint.h>
#include <string.h>

#include <bpfvm.h>

static inline int mk(struct bpfvm *vm, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	a.map_flags = flags;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static inline long elem(struct bpfvm *vm, int cmd, int fd, const void *k, void *v, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)k;
	a.value = (uintptr_t)v;
	a.flags = flags;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}
#define UPD(vm, fd, k, v, f) elem(vm, BPF_MAP_UPDATE_ELEM, fd, k, v, f)
#define LKP(vm, fd, k, v) elem(vm, BPF_MAP_LOOKUP_ELEM, fd, k, v, 0)
#define DEL(vm, fd, k) elem(vm, BPF_MAP_DELETE_ELEM, fd, k, NULL, 0)

#endif
