/* test_progarray.c -- a prog array is emptied when its last user reference goes (Linux
 * map_release_uref() -> prog_array_map_clear()).  A program that tail-calls through a prog array holding
 * itself makes a cycle (the program holds the array, the array the program) that no reference count
 * breaks; Linux breaks it when the array's last fd or pin goes, and so does bpfvm: closing the last
 * handle of an unpinned prog array empties it (a tail call through it then falls through), a pinned one
 * keeps its slots until the pin is gone, and bpfvm_free() frees everything the instance made.  The
 * freeing is checked by the object ids left (GET_NEXT_ID) and, for bpfvm_free(), by the leak checkers
 * (the asan build's LeakSanitizer, `make valgrind`).  The kernel is the oracle for the handle and pin
 * behaviour where bpf() and a bpffs are usable.
 * An array shared through a pin between instances (in this process or a child) is filled by each with
 * ids that name its own programs, the same numbers naming others elsewhere: each instance's tail calls
 * take only the slots it filled (array.c: each slot keeps its filler's tag), on both engines. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <bpfvm.h>

#include "test.h"
#include "test_util.h"
#include "maps/maps.h"
#include "vm/vm.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[128];

static struct bpfvm *new_vm(void)
{
	return test_vm(2, tmpdir);
}

static long pin_cmd(struct bpfvm *vm, int cmd, int fd, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = cmd == BPF_OBJ_PIN ? (uint32_t)fd : 0;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

/* One XDP test run of prog over a 64-byte packet: its r0, or UINT64_MAX (with the message) when the
 * run failed. */
static uint64_t xdp_run(struct bpfvm *vm, int prog)
{
	uint8_t pkt[64] = { 0 };
	struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt) };
	long err = test_run_via_bpf(vm, prog, &t);
	if (err) {
		printf("  test run: %ld: %s\n", err, bpfvm_errmsg(vm));
		return UINT64_MAX;
	}
	return t.retval;
}

/* The entry: tail_call(ctx, pa, 0), else r0 = 1.  With a counter map (cnt >= 0): each entry first adds
 * 1 to its value 0, so a run through a self-cycle counts 1 + the tail-call limit. */
static int load_entry(struct bpfvm *vm, int pa, int cnt, const char *name)
{
	const struct bpf_insn counted[] = {
		LD_VALUE(6, cnt, 0), MOV_K(7, 1), INSN_ID(AADD32, 6, 7, 0, BPF_ADD),
		LD_MAP(2, pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT,
	};
	const struct bpf_insn plain[] = { LD_MAP(2, pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT };
	int fd = cnt >= 0 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, counted, N(counted), name)
			  : bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, plain, N(plain), name);
	if (fd < 0)
		printf("  load %s: %s\n", name, bpfvm_errmsg(vm));
	return fd;
}

static int load_ret(struct bpfvm *vm, int32_t r0)
{
	const struct bpf_insn t[] = { MOV_K(0, r0), EXIT };
	return bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, t, N(t), "target");
}

static uint32_t counter(struct bpfvm *vm, int cnt)
{
	uint32_t k = 0, v[2] = { 0, 0 };
	CHECK(LKP(vm, cnt, &k, v) == 0);
	return v[0];
}

/* ---- the cycle, from raw instructions ------------------------------------------------------------ */

/* The entry sits in slot 0 of the array it tail-calls through: a run enters it 1 + 33 times. */
static void build_self_cycle(struct bpfvm *vm, int *pa, int *prog, int *cnt)
{
	*cnt = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	*pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	CHECK(*cnt >= 0 && *pa >= 0);
	*prog = load_entry(vm, *pa, *cnt, "self");
	CHECK(*prog >= 0);
	uint32_t k0 = 0;
	CHECK(UPD(vm, *pa, &k0, prog, 0) == 0);
	CHECK_EQ_U64(xdp_run(vm, *prog), 1);
	CHECK_EQ_U64(counter(vm, *cnt), 1 + VM_MAX_TAIL_CALLS);
}

/* Closing every handle frees the whole cycle: the array's last handle empties it. */
TEST(self_cycle_goes_with_the_last_handles)
{
	struct bpfvm *vm = new_vm();
	int pa, prog, cnt;
	build_self_cycle(vm, &pa, &prog, &cnt);
	/* the program first: the array's slot still holds it */
	bpfvm_close(vm, prog);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 1);
	bpfvm_close(vm, pa);
	bpfvm_close(vm, cnt);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
}

/* bpfvm_free() with every handle still open: nothing leaks (LeakSanitizer, valgrind). */
TEST(self_cycle_freed_by_bpfvm_free)
{
	struct bpfvm *vm = new_vm();
	int pa, prog, cnt;
	build_self_cycle(vm, &pa, &prog, &cnt);
	bpfvm_free(vm);
}

/* A pinned array keeps the cycle after its handles close, yet bpfvm_free() frees it: the instance's
 * programs go with the instance, and the pin is left with its slots empty. */
TEST(pinned_self_cycle_freed_by_bpfvm_free)
{
	struct bpfvm *vm = new_vm();
	int pa, prog, cnt;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/self_cycle", tmpdir);
	build_self_cycle(vm, &pa, &prog, &cnt);
	CHECK(pin_cmd(vm, BPF_OBJ_PIN, pa, path) == 0);
	bpfvm_close(vm, prog);
	bpfvm_close(vm, pa);
	bpfvm_close(vm, cnt);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 1); /* held by the pinned array's slot */
	bpfvm_free(vm);

	/* another instance opening the pin finds the slots empty */
	vm = new_vm();
	long fd = pin_cmd(vm, BPF_OBJ_GET, -1, path);
	CHECK(fd >= 0);
	uint32_t k0 = 0, v = 0;
	CHECK_EQ_U64(LKP(vm, (int)fd, &k0, &v), -ENOENT);
	bpfvm_free(vm);
	CHECK(unlink(path) == 0);
}

/* ---- the cycle, from a clang object --------------------------------------------------------------- */

static struct bpfvm_object *open_self_tail(struct bpfvm *vm, const char **skip)
{
	static char out[PATH_MAX];
	static int built = -1;
	struct bpfvm_object *obj = NULL;
	if (built < 0) {
		snprintf(out, sizeof(out), "%s/self_tail.bpf.o", tmpdir);
		built = test_clang("tests/loader/self_tail.bpf.c", out, NULL) == 0;
	}
	if (!built) {
		*skip = "clang cannot build tests/loader/self_tail.bpf.c";
		return NULL;
	}
	if (bpfvm_object_open(vm, out, &obj) || bpfvm_object_load(obj)) {
		printf("  %s: %s\n", out, bpfvm_errmsg(vm));
		CHECK(0);
		bpfvm_object_close(obj);
		return NULL;
	}
	return obj;
}

/* The object's program, in slot 0 of the array it tail-calls through (libbpf's `.values`), counts
 * 1 + 33 entries; the object's close takes the array's only handle, and everything goes with it. */
TEST(clang_self_cycle_goes_with_the_object)
{
	struct bpfvm *vm = new_vm();
	const char *skip = NULL;
	struct bpfvm_object *obj = open_self_tail(vm, &skip);
	if (skip) {
		bpfvm_free(vm);
		SKIP(skip);
	}
	if (!obj) {
		bpfvm_free(vm);
		return;
	}
	int prog = bpfvm_object_prog_fd(obj, "self");
	CHECK_EQ_U64(xdp_run(vm, prog), XDP_PASS);
	CHECK_EQ_U64(counter(vm, bpfvm_object_map_fd(obj, ".bss")), 1 + VM_MAX_TAIL_CALLS);
	bpfvm_object_close(obj);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
}

/* The object closed while a handle on its array (by id) keeps the cycle; bpfvm_free() frees it. */
TEST(clang_self_cycle_freed_by_bpfvm_free)
{
	struct bpfvm *vm = new_vm();
	const char *skip = NULL;
	struct bpfvm_object *obj = open_self_tail(vm, &skip);
	if (skip) {
		bpfvm_free(vm);
		SKIP(skip);
	}
	if (!obj) {
		bpfvm_free(vm);
		return;
	}
	long pa = test_fd_by_id(vm, BPF_MAP_GET_FD_BY_ID, test_obj_id(vm, bpfvm_object_map_fd(obj, "jmp")));
	CHECK(pa >= 0);
	bpfvm_object_close(obj);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 1);
	uint32_t k0 = 0, v = 0;
	CHECK(LKP(vm, (int)pa, &k0, &v) == 0 && v != 0);
	bpfvm_free(vm);
}

/* ---- Linux's behaviour through the API ------------------------------------------------------------ */

/* The entry tail-calls slot 0 (a program returning 2), else returns 1.  Closing the array's last handle
 * while the entry still holds the array empties it: the entry then falls through.  A handle taken by
 * id after that is a user reference again, and slots filled through it stay while it is open. */
TEST(last_handle_closed_empties_the_slots)
{
	struct bpfvm *vm = new_vm();
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	int entry = load_entry(vm, pa, -1, "entry");
	int target = load_ret(vm, 2);
	CHECK(pa >= 0 && entry >= 0 && target >= 0);
	uint32_t k0 = 0, pa_id = test_obj_id(vm, pa), v = 0;
	CHECK(UPD(vm, pa, &k0, &target, 0) == 0);
	CHECK_EQ_U64(xdp_run(vm, entry), 2);

	/* two handles: closing one leaves a user reference */
	long pa2 = test_fd_by_id(vm, BPF_MAP_GET_FD_BY_ID, pa_id);
	CHECK(pa2 >= 0);
	bpfvm_close(vm, pa);
	CHECK_EQ_U64(xdp_run(vm, entry), 2);
	bpfvm_close(vm, (int)pa2);
	CHECK_EQ_U64(xdp_run(vm, entry), 1);
	/* the map is the program's still, and empty; the target lives on through its own handle */
	long pa3 = test_fd_by_id(vm, BPF_MAP_GET_FD_BY_ID, pa_id);
	CHECK(pa3 >= 0);
	CHECK_EQ_U64(LKP(vm, (int)pa3, &k0, &v), -ENOENT);
	CHECK(UPD(vm, (int)pa3, &k0, &target, 0) == 0);
	CHECK_EQ_U64(xdp_run(vm, entry), 2);
	bpfvm_close(vm, target);
	CHECK_EQ_U64(xdp_run(vm, entry), 2); /* the slot holds it */
	bpfvm_close(vm, (int)pa3);
	CHECK_EQ_U64(xdp_run(vm, entry), 1);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 1); /* the entry alone */
	bpfvm_close(vm, entry);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
}

/* Only prog arrays are emptied (Linux: map_release_uref is prog_array_map_clear): an array of maps
 * keeps its inner map when its handle closes under a program that uses it. */
TEST(array_of_maps_keeps_its_slots)
{
	struct bpfvm *vm = new_vm();
	int inner = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	union bpf_attr a = map_attr(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0);
	a.inner_map_fd = (uint32_t)inner;
	int outer = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(inner >= 0 && outer >= 0);
	uint32_t k0 = 0, v = 0, outer_id = test_obj_id(vm, outer);
	CHECK(UPD(vm, outer, &k0, &inner, 0) == 0);
	/* a program holding the outer map */
	const struct bpf_insn p[] = { LD_MAP(1, outer), MOV_K(0, 0), EXIT };
	int prog = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, p, N(p), "holder");
	CHECK(prog >= 0);
	bpfvm_close(vm, outer);
	long fd = test_fd_by_id(vm, BPF_MAP_GET_FD_BY_ID, outer_id);
	CHECK(fd >= 0);
	CHECK(LKP(vm, (int)fd, &k0, &v) == 0 && v == test_obj_id(vm, inner));
	bpfvm_free(vm);
}

/* A pinned array keeps its slots when its handles close; once the pin is gone, the last handle (of
 * OBJ_GET, here) empties it. */
TEST(pinned_array_keeps_its_slots_until_unpinned)
{
	struct bpfvm *vm = new_vm();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/keeps_slots", tmpdir);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	int entry = load_entry(vm, pa, -1, "entry");
	int target = load_ret(vm, 2);
	CHECK(pa >= 0 && entry >= 0 && target >= 0);
	uint32_t k0 = 0, v = 0;
	CHECK(UPD(vm, pa, &k0, &target, 0) == 0);
	CHECK(pin_cmd(vm, BPF_OBJ_PIN, pa, path) == 0);
	bpfvm_close(vm, pa);
	bpfvm_close(vm, target);
	CHECK_EQ_U64(xdp_run(vm, entry), 2);
	long got = pin_cmd(vm, BPF_OBJ_GET, -1, path);
	CHECK(got >= 0);
	CHECK(LKP(vm, (int)got, &k0, &v) == 0 && v != 0);
	bpfvm_close(vm, (int)got);
	CHECK_EQ_U64(xdp_run(vm, entry), 2); /* still pinned */
	got = pin_cmd(vm, BPF_OBJ_GET, -1, path);
	CHECK(got >= 0);
	CHECK(unlink(path) == 0); /* unpinned */
	CHECK_EQ_U64(xdp_run(vm, entry), 2); /* a handle is still open */
	bpfvm_close(vm, (int)got);
	CHECK_EQ_U64(xdp_run(vm, entry), 1);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 1); /* the target went with its slot */
	bpfvm_close(vm, entry);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
}

/* ---- shared maps: references are per handle -------------------------------------------------------- */

/* Instance A fills slot 0 of a pinned array with its program (A's id 2); instance B opens the pin and
 * has an object of its own under id 2.  B's handle filled no slot, so closing it drops nothing: B's
 * program lives on for its handle and A's target for A's slot.  B's own slot (1) holds B's reference,
 * which goes with B's handle, and never one of A's. */
TEST(a_pin_opened_elsewhere_drops_only_its_own_references)
{
	struct bpfvm *a = new_vm(), *b = new_vm();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/shared_pa", tmpdir);
	int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	int target_a = load_ret(a, 2);
	int entry_a = load_entry(a, pa, -1, "entry");
	CHECK(pa >= 0 && entry_a >= 0 && target_a >= 0);
	uint32_t k0 = 0, k1 = 1, v = 0, target_a_id = test_obj_id(a, target_a);
	CHECK(UPD(a, pa, &k0, &target_a, 0) == 0);
	CHECK(pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
	bpfvm_close(a, target_a); /* the slot holds it */

	long got = pin_cmd(b, BPF_OBJ_GET, -1, path);
	int prog_b = load_ret(b, 3);
	CHECK(got >= 0 && prog_b >= 0);
	CHECK_EQ_U64(test_obj_id(b, prog_b), target_a_id); /* the same number, another object */
	CHECK(LKP(b, (int)got, &k0, &v) == 0 && v == target_a_id);
	bpfvm_close(b, (int)got);
	CHECK_EQ_U64(xdp_run(b, prog_b), 3);
	CHECK_EQ_U64(xdp_run(a, entry_a), 2);

	/* B fills slot 1 with its program and goes: its reference goes, A's stays */
	got = pin_cmd(b, BPF_OBJ_GET, -1, path);
	CHECK(got >= 0 && UPD(b, (int)got, &k1, &prog_b, 0) == 0);
	bpfvm_close(b, prog_b);
	CHECK_EQ_U64(test_count_ids(b, BPF_PROG_GET_NEXT_ID), 1); /* held by B's slot */
	bpfvm_free(b);
	CHECK_EQ_U64(xdp_run(a, entry_a), 2);
	CHECK_EQ_U64(test_count_ids(a, BPF_PROG_GET_NEXT_ID), 2);
	CHECK(unlink(path) == 0);
	bpfvm_free(a);
}

/* ---- shared arrays: a slot names a program of the instance that filled it ------------------------- */

static const char *const engine_name[2] = { "jit", "interp" };

/* An instance on the tests' pin root running everything on the JIT (interp 0) or the interpreter. */
static struct bpfvm *engine_vm(int interp, int verify)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = tmpdir, .interp = interp, .verify = verify };
	return bpfvm_new(&o);
}

/* tail_call(ctx, pa, slot), else r0 = 1 */
static int load_tail(struct bpfvm *vm, int pa, int32_t slot)
{
	const struct bpf_insn t[] = { LD_MAP(2, pa), MOV_K(3, slot), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT };
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, t, N(t), "tail");
	if (fd < 0)
		printf("  load tail: %s\n", bpfvm_errmsg(vm));
	return fd;
}

/* Loads programs returning r0 into vm until one has object id `id` (ids count maps and programs alike):
 * its fd, or -1 once the ids are past it. */
static int load_ret_with_id(struct bpfvm *vm, int32_t r0, uint32_t id)
{
	for (;;) {
		int fd = load_ret(vm, r0);
		uint32_t got = fd >= 0 ? test_obj_id(vm, fd) : 0;
		if (fd < 0 || got == id)
			return fd;
		bpfvm_close(vm, fd);
		if (got > id)
			return -1;
	}
}

/* Instances A and B share a pinned array of 3 and each has a target under the same id (A's returns 10,
 * B's 20).  Each runs only what it put in: A's slot falls through in B and B's in A (without the tag, B
 * ran its own id-2 program from A's slot); a lookup still gives the id, whoever stored it; a slot B
 * overwrites stops resolving in A; an empty slot falls through in both.  On either engine. */
TEST(each_instance_runs_only_its_own_programs)
{
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm *a = engine_vm(interp, 0), *b = engine_vm(interp, 0);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/own_%s", tmpdir, engine_name[interp]);
		int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 3, 0);
		CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
		long pb = pin_cmd(b, BPF_OBJ_GET, -1, path);
		CHECK(pb >= 0);
		int ta = load_ret(a, 10), tb = load_ret_with_id(b, 20, test_obj_id(a, ta));
		int tb2 = load_ret(b, 22);
		CHECK(ta >= 0 && tb >= 0 && tb2 >= 0);
		int ea[3], eb[3];
		for (int s = 0; s < 3; s++) {
			ea[s] = load_tail(a, pa, s);
			eb[s] = load_tail(b, (int)pb, s);
			CHECK(ea[s] >= 0 && eb[s] >= 0);
		}
		uint32_t k0 = 0, k1 = 1, v = 0, id = test_obj_id(a, ta);
		CHECK(UPD(a, pa, &k0, &ta, 0) == 0);
		CHECK(UPD(b, (int)pb, &k1, &tb, 0) == 0);

		CHECK_EQ_U64(xdp_run(a, ea[0]), 10);
		CHECK_EQ_U64(xdp_run(a, ea[1]), 1); /* B's slot, B's id 2 */
		CHECK_EQ_U64(xdp_run(b, eb[0]), 1); /* A's slot, A's id 2 */
		CHECK_EQ_U64(xdp_run(b, eb[1]), 20);
		CHECK_EQ_U64(xdp_run(a, ea[2]), 1);
		CHECK_EQ_U64(xdp_run(b, eb[2]), 1);
		CHECK(LKP(a, pa, &k1, &v) == 0 && v == id);
		CHECK(LKP(b, (int)pb, &k0, &v) == 0 && v == id);

		/* B takes over A's slot: it stops resolving in A; A takes it back */
		CHECK(UPD(b, (int)pb, &k0, &tb2, 0) == 0);
		CHECK_EQ_U64(xdp_run(a, ea[0]), 1);
		CHECK_EQ_U64(xdp_run(b, eb[0]), 22);
		CHECK(UPD(a, pa, &k0, &ta, 0) == 0);
		CHECK_EQ_U64(xdp_run(a, ea[0]), 10);
		CHECK_EQ_U64(xdp_run(b, eb[0]), 1);
		/* A deletes B's slot: no reference of A's goes (ta still runs from slot 0) */
		CHECK(DEL(a, pa, &k1) == 0);
		CHECK_EQ_U64(xdp_run(b, eb[1]), 1);
		CHECK_EQ_U64(xdp_run(a, ea[0]), 10);

		bpfvm_free(b);
		bpfvm_free(a);
		CHECK(unlink(path) == 0);
	}
}

/* A's last handle goes (its pin gone first) while B's slot 0 and A's slot 1 hold programs under the same
 * id: A empties its own slot only.  B's slot is visited first, so without the tag A emptied it (its id
 * was one A's handle held) and left its own. */
TEST(last_handle_empties_only_its_instances_slots)
{
	struct bpfvm *a = new_vm(), *b = new_vm();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/uref_shared", tmpdir);
	int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
	long pb = pin_cmd(b, BPF_OBJ_GET, -1, path);
	CHECK(pb >= 0);
	int ta = load_ret(a, 10), tb = load_ret_with_id(b, 20, test_obj_id(a, ta));
	int ea = load_tail(a, pa, 1), eb = load_tail(b, (int)pb, 0);
	CHECK(ta >= 0 && tb >= 0 && ea >= 0 && eb >= 0);
	uint32_t k0 = 0, k1 = 1, v = 0, id = test_obj_id(a, ta);
	CHECK(UPD(b, (int)pb, &k0, &tb, 0) == 0);
	CHECK(UPD(a, pa, &k1, &ta, 0) == 0);
	bpfvm_close(a, ta);
	bpfvm_close(b, tb); /* both live on in their slots */
	CHECK_EQ_U64(xdp_run(a, ea), 10);
	CHECK_EQ_U64(xdp_run(b, eb), 20);

	CHECK(unlink(path) == 0);
	bpfvm_close(a, pa); /* A's last user reference; ea still holds the map */
	CHECK_EQ_U64(xdp_run(a, ea), 1);
	CHECK_EQ_U64(test_count_ids(a, BPF_PROG_GET_NEXT_ID), 1); /* ta went with its slot */
	CHECK_EQ_U64(xdp_run(b, eb), 20);
	CHECK(LKP(b, (int)pb, &k0, &v) == 0 && v == id);
	CHECK_EQ_U64(LKP(b, (int)pb, &k1, &v), -ENOENT);
	CHECK_EQ_U64(test_count_ids(b, BPF_PROG_GET_NEXT_ID), 2); /* tb held by B's slot, and eb */
	bpfvm_free(a);
	CHECK_EQ_U64(xdp_run(b, eb), 20);
	bpfvm_free(b);
}

/* The JIT's native tail call compares the slot's word with the one its run resolved: instance A
 * storing its own program of the same id into the slot mid-run (from a host helper B's program calls)
 * changes the word, so the next tail call resolves again and finds a foreign slot.  B's program P sits
 * in slot 0 and tail-calls slot 0, counting its entries; on its second entry it has A overwrite the slot.
 * It must end there: 2 entries (without the tag, P ran on to the tail-call limit). */
#define OVERWRITE_HELPER 0x7001
static struct {
	struct bpfvm *vm;
	int pa, prog;
} overwriter;

static uint64_t overwrite_slot0(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	uint32_t k0 = 0;
	return (uint64_t)UPD(overwriter.vm, overwriter.pa, &k0, &overwriter.prog, 0);
}

TEST(a_slot_overwritten_mid_run_stops_resolving)
{
	const struct bpfvm_kfunc helpers[] = { { OVERWRITE_HELPER, "overwrite_slot0", overwrite_slot0 } };
	for (int interp = 0; interp < 2; interp++) {
		/* unverified: the host helper has no prototype the verifier knows */
		struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .pin_root = tmpdir, .interp = interp,
					.verify = BPFVM_VERIFY_OFF, .helpers = helpers, .helper_cnt = 1 };
		struct bpfvm *a = engine_vm(interp, 0), *b = bpfvm_new(&o);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/midrun_%s", tmpdir, engine_name[interp]);
		int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
		long pb = pin_cmd(b, BPF_OBJ_GET, -1, path);
		int cnt = mk(b, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
		CHECK(pb >= 0 && cnt >= 0);
		const struct bpf_insn p[] = {
			MOV_X(9, 1),
			LD_VALUE(6, cnt, 0), MOV_K(7, 1), INSN_ID(AADD32, 6, 7, 0, BPF_ADD),
			LDX_W(7, 6, 0),
			INSN_ID(JNE_K, 7, 0, 1, 2),     /* if entries != 2 skip the call */
			CALL(OVERWRITE_HELPER),
			MOV_X(1, 9), LD_MAP(2, (int)pb), MOV_K(3, 0), CALL(BPF_FUNC_tail_call),
			MOV_K(0, 1), EXIT,
		};
		int prog = bpfvm_prog_load(b, BPF_PROG_TYPE_XDP, p, N(p), "self");
		int entry = load_tail(b, (int)pb, 0);
		CHECK(prog >= 0 && entry >= 0);
		if (prog < 0)
			printf("  load: %s\n", bpfvm_errmsg(b));
		overwriter.vm = a;
		overwriter.pa = pa;
		overwriter.prog = load_ret_with_id(a, 10, test_obj_id(b, prog));
		CHECK(overwriter.prog >= 0);
		uint32_t k0 = 0;
		CHECK(UPD(b, (int)pb, &k0, &prog, 0) == 0);
		CHECK_EQ_U64(xdp_run(b, entry), 1);
		CHECK_EQ_U64(counter(b, cnt), 2);
		/* and the slot is A's now: B's entry falls through at once */
		CHECK_EQ_U64(xdp_run(b, entry), 1);
		CHECK_EQ_U64(counter(b, cnt), 2);
		/* B's handle still counts its reference on P, which A's store could not drop; once B's last
		 * handle goes (the pin gone), that reference goes too, and P with it, though P holds the array */
		CHECK(unlink(path) == 0);
		bpfvm_close(b, prog);
		bpfvm_close(b, entry);
		bpfvm_close(b, cnt);
		CHECK_EQ_U64(test_count_ids(b, BPF_PROG_GET_NEXT_ID), 1);
		bpfvm_close(b, (int)pb);
		CHECK_EQ_U64(test_count_ids(b, BPF_PROG_GET_NEXT_ID), 0);
		CHECK_EQ_U64(test_count_ids(b, BPF_MAP_GET_NEXT_ID), 0);
		bpfvm_free(b);
		bpfvm_free(a);
	}
}

/* The same across processes: the parent fills slot 0; a child with an instance of its own, whose
 * target has the same id, finds slot 0 foreign (its lookup gives the id), fills slot 1 and runs it; the
 * parent then finds slot 1 foreign, before and after the child is gone. */
static int child_side(const char *path, int interp, uint32_t id)
{
	struct bpfvm *c = engine_vm(interp, 0);
	long pc = pin_cmd(c, BPF_OBJ_GET, -1, path);
	if (pc < 0)
		return 10;
	int tc = load_ret_with_id(c, 30, id);
	int e0 = load_tail(c, (int)pc, 0), e1 = load_tail(c, (int)pc, 1);
	if (tc < 0 || e0 < 0 || e1 < 0)
		return 11;
	uint32_t k0 = 0, k1 = 1, v = 0;
	if (xdp_run(c, e0) != 1)
		return 12; /* the parent's slot, the parent's id */
	if (LKP(c, (int)pc, &k0, &v) != 0 || v != id)
		return 13;
	if (UPD(c, (int)pc, &k1, &tc, 0) != 0)
		return 14;
	if (xdp_run(c, e1) != 30)
		return 15;
	return 0; /* exits without bpfvm_free(): slot 1 stays the child's */
}

TEST(a_child_process_runs_only_its_own_programs)
{
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm *a = engine_vm(interp, 0);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/fork_%s", tmpdir, engine_name[interp]);
		int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
		CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
		int ta = load_ret(a, 10), e0 = load_tail(a, pa, 0), e1 = load_tail(a, pa, 1);
		CHECK(ta >= 0 && e0 >= 0 && e1 >= 0);
		uint32_t k0 = 0, k1 = 1, v = 0, id = test_obj_id(a, ta);
		CHECK(UPD(a, pa, &k0, &ta, 0) == 0);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_side(path, interp, id));
		int st = 0;
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			printf("  %s: child exit status 0x%x\n", engine_name[interp], st);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK_EQ_U64(xdp_run(a, e0), 10);
		CHECK_EQ_U64(xdp_run(a, e1), 1); /* the child's slot, the child's id */
		CHECK(LKP(a, pa, &k1, &v) == 0 && v == id);
		/* and the parent takes it over */
		CHECK(UPD(a, pa, &k1, &ta, 0) == 0);
		CHECK_EQ_U64(xdp_run(a, e1), 10);
		bpfvm_free(a);
		CHECK(unlink(path) == 0);
	}
}

/* Stores racing tail calls: slot 0 flips between A's program of id X (returns 10) and B's of id Y
 * (returns 20) while both instances tail-call through it; each also has a program under the other's id
 * (A's Y returns 11, B's X 21).  A read that paired one store's id with the other's tag would run one of
 * those; every run must give its own program's answer or fall through (1).  Both engines. */
struct flipper {
	struct bpfvm *a, *b;
	int pa, pb, ax, by;
	int rounds;
	int stop;
};

static void *flip_main(void *arg)
{
	struct flipper *f = arg;
	uint32_t k0 = 0;
	for (int i = 0; i < f->rounds; i++) {
		UPD(f->a, f->pa, &k0, &f->ax, 0);
		UPD(f->b, f->pb, &k0, &f->by, 0);
	}
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST(racing_stores_never_pair_an_id_with_another_tag)
{
	for (int interp = 0; interp < 2; interp++) {
		struct bpfvm *a = engine_vm(interp, 0), *b = engine_vm(interp, 0);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/race_%s", tmpdir, engine_name[interp]);
		int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
		long pb = pin_cmd(b, BPF_OBJ_GET, -1, path);
		CHECK(pb >= 0);
		int ax = load_ret(a, 10), ay = load_ret(a, 11);
		int bx = load_ret_with_id(b, 21, test_obj_id(a, ax)), by = load_ret_with_id(b, 20, test_obj_id(a, ay));
		int ea = load_tail(a, pa, 0), eb = load_tail(b, (int)pb, 0);
		CHECK(ax >= 0 && ay >= 0 && bx >= 0 && by >= 0 && ea >= 0 && eb >= 0);
		struct flipper f = { a, b, pa, (int)pb, ax, by, 20000, 0 };
		pthread_t th;
		CHECK(pthread_create(&th, NULL, flip_main, &f) == 0);
		uint64_t seen_a[3] = { 0 }, seen_b[3] = { 0 }, wrong = 0;
		while (!__atomic_load_n(&f.stop, __ATOMIC_ACQUIRE)) {
			uint64_t ra = xdp_run(a, ea), rb = xdp_run(b, eb);
			if (ra == 10 || ra == 1)
				seen_a[ra == 10]++;
			else
				wrong++, seen_a[2] = ra;
			if (rb == 20 || rb == 1)
				seen_b[rb == 20]++;
			else
				wrong++, seen_b[2] = rb;
		}
		pthread_join(th, NULL);
		if (wrong)
			printf("  %s: %" PRIu64 " wrong runs (A last %" PRIu64 ", B last %" PRIu64 ")\n", engine_name[interp],
			       wrong, seen_a[2], seen_b[2]);
		CHECK_EQ_U64(wrong, 0);
		printf("  %s: A ran its own %" PRIu64 ", fell through %" PRIu64 "; B %" PRIu64 ", %" PRIu64 "\n",
		       engine_name[interp], seen_a[1], seen_a[0], seen_b[1], seen_b[0]);
		bpfvm_free(b);
		bpfvm_free(a);
		CHECK(unlink(path) == 0);
	}
}

/* A process that dies in the middle of storing into a slot (here: a child that takes the map's lock
 * through its own mapping of the pin, marks slot 0 as being written, as array.c's writer does first,
 * and exits) leaves it unreadable to tail calls, which wait a bounded while and fall through; the next
 * locker (a lookup) sees the dead owner and empties the slot, and it works again. */
TEST(a_writer_dead_mid_store_leaves_the_slot_empty)
{
	struct bpfvm *a = new_vm();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/dead_writer", tmpdir);
	int pa = mk(a, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	CHECK(pa >= 0 && pin_cmd(a, BPF_OBJ_PIN, pa, path) == 0);
	int ta = load_ret(a, 10), e0 = load_tail(a, pa, 0);
	CHECK(ta >= 0 && e0 >= 0);
	uint32_t k0 = 0, v = 0;
	CHECK(UPD(a, pa, &k0, &ta, 0) == 0);
	CHECK_EQ_U64(xdp_run(a, e0), 10);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR);
		struct stat st;
		if (fd < 0 || fstat(fd, &st))
			_exit(2);
		uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(3);
		struct map_hdr *h = (struct map_hdr *)(void *)p;
		if (pthread_mutex_lock(&h->lock))
			_exit(4);
		uint64_t *w = (uint64_t *)(void *)(p + h->off_a);
		__atomic_store_n(w, (__atomic_load_n(w, __ATOMIC_RELAXED) | 1ull << 32), __ATOMIC_RELAXED);
		_exit(0); /* holding the lock */
	}
	int st = 0;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_U64(xdp_run(a, e0), 1);
	CHECK_EQ_U64(LKP(a, pa, &k0, &v), -ENOENT); /* repaired: empty */
	CHECK(UPD(a, pa, &k0, &ta, 0) == 0);
	CHECK_EQ_U64(xdp_run(a, e0), 10);
	bpfvm_free(a);
	CHECK(unlink(path) == 0);
}

/* ---- the kernel as oracle ------------------------------------------------------------------------- */

static long kprog(const struct bpf_insn *insns, uint32_t cnt)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = cnt;
	a.license = (uintptr_t)"GPL";
	return kbpf(BPF_PROG_LOAD, &a);
}

static uint64_t krun(int prog)
{
	uint8_t pkt[64] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	return kbpf(BPF_PROG_TEST_RUN, &a) ? UINT64_MAX : a.test.retval;
}

/* The kernel empties the array from a workqueue: its answer once that ran.  Waits up to ~10 s for the
 * answer to become `want` (a bound for a stuck kernel, not a timing assertion), then gives the last. */
static uint64_t krun_settled(int prog, uint64_t want)
{
	uint64_t r = krun(prog);
	for (int i = 0; i < 10000 && r != want; i++) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		r = krun(prog);
	}
	return r;
}

static long kpin(int cmd, int fd, const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = cmd == BPF_OBJ_PIN ? (uint32_t)fd : 0;
	return kbpf(cmd, &a);
}

/* The same steps on both sides: the last fd closed empties the array (the entry falls through); a
 * pinned array keeps its slots until the pin is removed and its last fd closes. */
TEST(kernel_agrees)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	char kdir[] = "/tmp/bpfvm-test-progarray-bpffs-XXXXXX";
	if (unshare(CLONE_NEWNS) || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) /* types named: valgrind checks them */)
		SKIP("cannot make a private mount namespace for a bpffs");
	if (!mkdtemp(kdir))
		SKIP("mkdtemp failed");
	if (mount("bpf", kdir, "bpf", 0, NULL)) {
		rmdir(kdir);
		SKIP("cannot mount a bpffs");
	}
	struct bpfvm *vm = new_vm();
	for (int pinned = 0; pinned < 2; pinned++) {
		char kpath[PATH_MAX], vpath[PATH_MAX];
		snprintf(kpath, sizeof(kpath), "%s/pa", kdir);
		snprintf(vpath, sizeof(vpath), "%s/pa", tmpdir);
		long kpa = kmap(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		int vpa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		CHECK(kpa >= 0 && vpa >= 0);
		const struct bpf_insn entry[] = { LD_MAP(2, (int)kpa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 1),
						  EXIT };
		const struct bpf_insn two[] = { MOV_K(0, 2), EXIT };
		long kentry = kprog(entry, N(entry)), ktarget = kprog(two, N(two));
		int ventry = load_entry(vm, vpa, -1, "entry"), vtarget = load_ret(vm, 2);
		CHECK(kentry >= 0 && ktarget >= 0 && ventry >= 0 && vtarget >= 0);
		uint32_t k0 = 0;
		CHECK(kelem(BPF_MAP_UPDATE_ELEM, (int)kpa, &k0, &ktarget, 0) == 0);
		CHECK(UPD(vm, vpa, &k0, &vtarget, 0) == 0);
		close((int)ktarget);
		bpfvm_close(vm, vtarget);
		CHECK_EQ_U64(krun((int)kentry), 2);
		CHECK_EQ_U64(xdp_run(vm, ventry), 2);
		if (pinned) {
			CHECK(kpin(BPF_OBJ_PIN, (int)kpa, kpath) == 0);
			CHECK(pin_cmd(vm, BPF_OBJ_PIN, vpa, vpath) == 0);
		}
		close((int)kpa);
		bpfvm_close(vm, vpa);
		if (pinned) {
			/* nothing to wait for: with a pin the kernel never schedules the clearing */
			CHECK_EQ_U64(krun((int)kentry), 2);
			CHECK_EQ_U64(xdp_run(vm, ventry), 2);
			long kgot = kpin(BPF_OBJ_GET, -1, kpath), vgot = pin_cmd(vm, BPF_OBJ_GET, -1, vpath);
			CHECK(kgot >= 0 && vgot >= 0);
			CHECK(unlink(kpath) == 0 && unlink(vpath) == 0);
			close((int)kgot);
			bpfvm_close(vm, (int)vgot);
		}
		CHECK_EQ_U64(krun_settled((int)kentry, 1), 1);
		CHECK_EQ_U64(xdp_run(vm, ventry), 1);
		close((int)kentry);
		bpfvm_close(vm, ventry);
	}
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
	umount(kdir);
	rmdir(kdir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bpfvm-test-progarray-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	RUN(self_cycle_goes_with_the_last_handles);
	RUN(self_cycle_freed_by_bpfvm_free);
	RUN(pinned_self_cycle_freed_by_bpfvm_free);
	RUN(clang_self_cycle_goes_with_the_object);
	RUN(clang_self_cycle_freed_by_bpfvm_free);
	RUN(last_handle_closed_empties_the_slots);
	RUN(array_of_maps_keeps_its_slots);
	RUN(pinned_array_keeps_its_slots_until_unpinned);
	RUN(a_pin_opened_elsewhere_drops_only_its_own_references);
	RUN(each_instance_runs_only_its_own_programs);
	RUN(last_handle_empties_only_its_instances_slots);
	RUN(a_slot_overwritten_mid_run_stops_resolving);
	RUN(a_child_process_runs_only_its_own_programs);
	RUN(racing_stores_never_pair_an_id_with_another_tag);
	RUN(a_writer_dead_mid_store_leaves_the_slot_empty);
	RUN(kernel_agrees);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		printf("  could not remove %s\n", tmpdir);
	return test_done();
}
