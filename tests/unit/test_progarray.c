/* test_progarray.c -- a prog array is emptied when its last user reference goes (Linux
 * map_release_uref() -> prog_array_map_clear()).  A program that tail-calls through a prog array holding
 * itself makes a cycle (the program holds the array, the array the program) that no reference count
 * breaks; Linux breaks it when the array's last fd or pin goes, and so does bpfvm: closing the last
 * handle of an unpinned prog array empties it (a tail call through it then falls through), a pinned one
 * keeps its slots until the pin is gone, and bpfvm_free() frees everything the instance made.  The
 * freeing is checked by the object ids left (GET_NEXT_ID) and, for bpfvm_free(), by the leak checkers
 * (the asan build's LeakSanitizer, `make valgrind`).  The kernel is the oracle for the handle and pin
 * behaviour where bpf() and a bpffs are usable. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <bpfvm.h>

#include "test.h"
#include "test_util.h"
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
	RUN(kernel_agrees);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		printf("  could not remove %s\n", tmpdir);
	return test_done();
}
