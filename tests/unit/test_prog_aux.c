/* test_prog_aux.c -- what loading records on a program besides its code (struct vm_insn_aux, the
 * subprogram table): which map each lddw refers to and how (fd or value, with the offset), kept after
 * relocation patched the address in; and where every subprogram starts.  White-box: reads the loaded
 * vm_prog through the object table. */
#include <errno.h>
#include <string.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"
#include "test_util.h"
#include "core/core.h"
#include "vm/vm.h"


TEST(lddw_maps_and_subprograms_recorded)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int a = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
	int h = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	CHECK(a >= 0 && h >= 0);
	const struct bpf_insn p[] = {
		LDDW(1, BPF_PSEUDO_MAP_FD, h, 0),        /* 0: the hash map */
		LDDW(2, BPF_PSEUDO_MAP_VALUE, a, 8),     /* 2: the array's value + 8 */
		LDDW(3, BPF_PSEUDO_MAP_FD, a, 0),        /* 4: the array again: same index */
		LDDW(4, BPF_PSEUDO_FUNC, 5, 0),          /* 6: callback at 6 + 1 + 5 = 12 */
		INSN_ID(CALL_LOCAL, 0, 0, 0, 3),    /* 8: call 8 + 1 + 3 = 12 */
		INSN_ID(MOV64_X, 4, 4, 0, 0),
		INSN_ID(MOV64_K, 0, 0, 0, 0),
		INSN_ID(EXIT, 0, 0, 0, 0),                  /* 11 */
		INSN_ID(MOV64_K, 0, 0, 0, 1),                  /* 12: subprogram */
		INSN_ID(EXIT, 0, 0, 0, 0),
	};
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, p, sizeof(p) / sizeof(p[0]), "aux");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	CHECK(fd >= 0);
	int err = 0;
	struct sys_obj *o = fd >= 0 ? sys_get(vm, fd, SYS_PROG, &err) : NULL;
	CHECK(o != NULL);
	if (o) {
		const struct vm_prog *vp = o->prog;
		CHECK_EQ_U64(vp->used_map_cnt, 2);
		CHECK_EQ_U64(vp->aux[0].map_idx, 0);
		CHECK_EQ_U64(vp->aux[0].ldimm64_src, BPF_PSEUDO_MAP_FD);
		CHECK_EQ_U64(vp->aux[2].map_idx, 1);
		CHECK_EQ_U64(vp->aux[2].ldimm64_src, BPF_PSEUDO_MAP_VALUE);
		CHECK_EQ_U64(vp->aux[2].value_off, 8);
		CHECK_EQ_U64(vp->aux[4].map_idx, 1);
		CHECK_EQ_U64(vp->aux[6].map_idx, VM_AUX_NO_MAP);
		CHECK_EQ_U64(vp->aux[6].ldimm64_src, BPF_PSEUDO_FUNC);
		CHECK_EQ_U64(vp->aux[8].map_idx, VM_AUX_NO_MAP);
		/* the address relocation patched in is the map the aux entry names */
		CHECK_EQ_U64((uint32_t)vp->orig[0].imm | (uint64_t)(uint32_t)vp->orig[1].imm << 32,
			     (uintptr_t)vp->used_maps[vp->aux[0].map_idx]);
		CHECK_EQ_U64(vp->subprog_cnt, 2);
		CHECK_EQ_U64(vp->subprogs[0], 0);
		CHECK_EQ_U64(vp->subprogs[1], 12);
		CHECK(vp->aux[12].subprog_start && !vp->aux[11].subprog_start);
		sys_put(vm, o);
	}
	bpfvm_free(vm);
}

int main(void)
{
	RUN(lddw_maps_and_subprograms_recorded);
	return test_done();
}
