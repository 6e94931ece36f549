/* api.c -- the version, the pin root, and the public shorthands over bpfvm_bpf(): map element calls by
 * handle and PROG_TEST_RUN on a buffer.  Nothing here has semantics of its own; each call fills a union bpf_attr and hands it on, so
 * the bpf() command is the one place that checks and logs. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sys.h"

const char *bpfvm_version(void)
{
	return BPFVM_VERSION;
}

/* value and next_key share one field of union bpf_attr: `value` is either. */
const char *bpfvm_pin_root(const struct bpfvm *vm)
{
	return vm->pin_root;
}

static int elem_cmd(struct bpfvm *vm, int cmd, int map_fd, const void *key, const void *value, uint64_t flags)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.value = (uint64_t)(uintptr_t)value;
	a.flags = flags;
	return (int)bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

int bpfvm_map_lookup(struct bpfvm *vm, int map_fd, const void *key, void *value)
{
	return elem_cmd(vm, BPF_MAP_LOOKUP_ELEM, map_fd, key, value, 0);
}

int bpfvm_map_update(struct bpfvm *vm, int map_fd, const void *key, const void *value, uint64_t flags)
{
	return elem_cmd(vm, BPF_MAP_UPDATE_ELEM, map_fd, key, value, flags);
}

int bpfvm_map_delete(struct bpfvm *vm, int map_fd, const void *key)
{
	return elem_cmd(vm, BPF_MAP_DELETE_ELEM, map_fd, key, NULL, 0);
}

int bpfvm_map_next_key(struct bpfvm *vm, int map_fd, const void *key, void *next_key)
{
	return elem_cmd(vm, BPF_MAP_GET_NEXT_KEY, map_fd, key, next_key, 0);
}

int bpfvm_prog_test_run(struct bpfvm *vm, int prog_fd, struct bpfvm_test_run_opts *o)
{
	union bpf_attr a;
	long err;

	/* Like every options struct: sz covers the fields this build knows; an older caller's smaller
	 * struct is accepted (missing fields read as 0), a newer one is refused unless its tail is zero. */
	struct bpfvm_test_run_opts t;
	memset(&t, 0, sizeof(t));
	sys_log_reset(vm);
	if (!o || o->sz < offsetof(struct bpfvm_test_run_opts, data_out))
		return sys_err(vm, -EINVAL, "bpfvm_prog_test_run: opts is NULL or its sz is too small");
	memcpy(&t, o, o->sz < sizeof(t) ? o->sz : sizeof(t));
	for (size_t i = sizeof(t); i < o->sz; i++)
		if (((const unsigned char *)o)[i])
			return sys_err(vm, -E2BIG, "bpfvm_prog_test_run: opts byte %zu (beyond this build's struct) "
					       "is not zero", i);
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog_fd;
	a.test.data_in = (uint64_t)(uintptr_t)t.data_in;
	a.test.data_out = (uint64_t)(uintptr_t)t.data_out;
	a.test.data_size_in = t.data_size_in;
	a.test.data_size_out = t.data_out ? t.data_size_out : 0;
	a.test.ctx_in = (uint64_t)(uintptr_t)t.ctx_in;
	a.test.ctx_out = (uint64_t)(uintptr_t)t.ctx_out;
	a.test.ctx_size_in = t.ctx_size_in;
	a.test.ctx_size_out = t.ctx_out ? t.ctx_size_out : 0;
	a.test.repeat = t.repeat;
	a.test.flags = t.flags;
	err = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	if (err)
		return (int)err; /* out-parameters are written only on success */
	t.retval = a.test.retval;
	t.duration = a.test.duration;
	t.data_size_out = a.test.data_size_out;
	t.ctx_size_out = a.test.ctx_size_out;
	memcpy(o, &t, o->sz < sizeof(t) ? o->sz : sizeof(t));
	return (int)err;
}
