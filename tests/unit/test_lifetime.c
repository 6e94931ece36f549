/* test_lifetime.c -- programs and maps a run reached stay alive until the run ends (security issue 8,
 * items 8-10).  Another thread deletes a prog array slot or an outer map's entry while a program runs
 * the code or uses the map that entry held; the run must finish as if nothing happened, and the object
 * must go once the run is over.  The second thread is timed by the program itself: it signals through
 * a flag in a map value that it is inside the window, and spins (bounded by the instruction budget) until
 * the test sets a second flag.  Under ASan (build-asan) a freed object used by the run is a report.
 * Also: a program reaches only its own maps' memory and map arguments (plus inner maps its run got),
 * and a stress test churns maps and slots under running programs (ASan and TSan). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <bpfvm.h>

#include "test.h"
#include "test_util.h"
#include "sys.h"
#include "maps/maps.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define STORE_REL32(d, s, o) INSN_ID(STREL_W, d, s, o, 0)
#define LOAD_ACQ32(d, s, o) INSN_ID(LDACQ_W, d, s, o, 0)

/* The handshake a program makes with the test, through the 8-byte value of the flags map: word 0 is
 * "the program is in the window" (the program sets it), word 1 is "go on" (the test sets it).  r6 and
 * r1 are clobbered; 6 insns. */
#define SIGNAL_AND_WAIT(flags_fd) \
	LD_VALUE(6, flags_fd, 0), \
	MOV_K(1, 1), \
	STORE_REL32(6, 1, 0), \
	LOAD_ACQ32(1, 6, 4), \
	INSN_ID(JEQ_K, 1, 0, -2, 0)
#define SIGNAL_AND_WAIT_LEN 6

/* A spinning program waits this many back-jumps at most: far more than a test thread takes to be
 * scheduled, and still a bound when something breaks. */
#define SPIN_BUDGET (1ull << 30)

static struct bpfvm *new_vm_opts(int verify)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .verify = verify };
	struct bpfvm *vm = bpfvm_new(&o);
	if (vm)
		bpfvm_set_insn_limit(vm, SPIN_BUDGET);
	return vm;
}

static struct bpfvm *new_vm(void)
{
	return new_vm_opts(BPFVM_VERIFY_DEFAULT);
}

/* Whether the object with this id still exists (a handle by id is taken and closed again). */
static bool alive(struct bpfvm *vm, int cmd, uint32_t id)
{
	long fd = test_fd_by_id(vm, cmd, id);
	if (fd < 0)
		return false;
	bpfvm_close(vm, (int)fd);
	return true;
}

/* ---- one run on another thread, and the handshake --------------------------------------------- */

struct runner {
	struct bpfvm *vm;
	int prog;
	bool test_run;          /* BPF_PROG_TEST_RUN (the type's test run) instead of bpfvm_prog_run */
	uint8_t pkt[64];
	int err;
	uint64_t r0;
	char msg[512];
	atomic_bool done;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	if (r->test_run) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)r->prog;
		a.test.data_in = (uintptr_t)r->pkt;
		a.test.data_size_in = sizeof(r->pkt);
		r->err = (int)bpfvm_bpf(r->vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
		r->r0 = a.test.retval;
	} else {
		r->err = bpfvm_prog_run(r->vm, r->prog, BPFVM_ENGINE_INTERP, r->pkt, sizeof(r->pkt), &r->r0);
	}
	snprintf(r->msg, sizeof(r->msg), "%s", bpfvm_errmsg(r->vm));
	atomic_store(&r->done, true);
	return NULL;
}

/* Runs r->prog on a thread; once the program signals through `flags` that it is in the window, calls
 * mid(vm, ctx) and lets the program go on.  Returns whether the program signalled before it ended. */
static bool run_with_window(struct runner *r, int flags, void (*mid)(struct bpfvm *, void *), void *ctx)
{
	pthread_t t;
	uint32_t k = 0, v[2] = { 0, 0 };
	bool signalled = false;

	atomic_store(&r->done, false);
	CHECK(UPD(r->vm, flags, &k, v, 0) == 0);
	if (pthread_create(&t, NULL, runner_main, r)) {
		CHECK(0);
		return false;
	}
	while (!atomic_load(&r->done)) {
		if (LKP(r->vm, flags, &k, v) == 0 && v[0]) {
			signalled = true;
			break;
		}
		sched_yield();
	}
	if (signalled)
		mid(r->vm, ctx);
	v[0] = 1;
	v[1] = 1;
	CHECK(UPD(r->vm, flags, &k, v, 0) == 0);
	pthread_join(t, NULL);
	return signalled;
}

static void delete_key0(struct bpfvm *vm, void *ctx)
{
	uint32_t k = 0;
	CHECK(DEL(vm, *(int *)ctx, &k) == 0);
}

/* ---- item 8: tail-call targets ------------------------------------------------------------------ */

/* P0 tail-calls slot 0 (P1, whose handle is closed: the array holds its only reference).  P1's main
 * calls a subprogram that waits in a bpf_loop callback while the test deletes slot 0, then tail-calls
 * slot 1 (P2); P2's exit returns into P1's main, whose code must still be there. */
static void tail_call_from_subprog(bool test_run)
{
	/* unverified: the callback spins on a map value until the test lets it go, which the verifier (as
	 * Linux's) refuses as an infinite loop */
	struct bpfvm *vm = new_vm_opts(BPFVM_VERIFY_OFF);
	uint32_t type = test_run ? BPF_PROG_TYPE_SOCKET_FILTER : BPF_PROG_TYPE_UNSPEC;
	int flags = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	CHECK(flags >= 0 && pa >= 0);

	const struct bpf_insn p2[] = { MOV_K(0, 42), EXIT };
	const struct bpf_insn p1[] = {
		/* 0 */ CALL_LOCAL(1),
		/* 1 */ EXIT,                           /* r0 of P2, after P2's exit came back here */
		/* 2 */ MOV_X(6, 1),                    /* sub(ctx): */
		/* 3 */ MOV_K(1, 1),
		/* 4 */ LD_FUNC(2, 11),                 /* -> 16 */
		/* 6 */ MOV_K(3, 0),
		/* 7 */ MOV_K(4, 0),
		/* 8 */ CALL(BPF_FUNC_loop),
		/* 9 */ MOV_X(1, 6),
		/* 10 */ LD_MAP(2, pa),
		/* 12 */ MOV_K(3, 1),
		/* 13 */ CALL(BPF_FUNC_tail_call),
		/* 14 */ MOV_K(0, 7),                   /* slot 1 empty: not expected */
		/* 15 */ EXIT,
		/* 16 */ SIGNAL_AND_WAIT(flags),        /* callback(i, ctx) */
		/* 22 */ MOV_K(0, 1),
		/* 23 */ EXIT,
	};
	const struct bpf_insn p0[] = {
		LD_MAP(2, pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 5), EXIT,
	};
	int fd2 = bpfvm_prog_load(vm, type, p2, N(p2), "p2");
	int fd1 = bpfvm_prog_load(vm, type, p1, N(p1), "victim");
	int fd0 = bpfvm_prog_load(vm, type, p0, N(p0), "p0");
	CHECK(fd0 >= 0 && fd1 >= 0 && fd2 >= 0);
	if (fd0 < 0 || fd1 < 0 || fd2 < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	uint32_t k0 = 0, k1 = 1, id1 = test_obj_id(vm, fd1);
	CHECK(UPD(vm, pa, &k0, &fd1, 0) == 0);
	CHECK(UPD(vm, pa, &k1, &fd2, 0) == 0);
	bpfvm_close(vm, fd1);
	bpfvm_close(vm, fd2);

	struct runner r = { .vm = vm, .prog = fd0, .test_run = test_run };
	CHECK(run_with_window(&r, flags, delete_key0, &pa));
	CHECK_EQ_U64(r.err, 0);
	CHECK_EQ_U64(r.r0, 42);
	if (r.err)
		printf("  run: %s\n", r.msg);
	/* the run's reference was the last: P1 went with the run */
	CHECK(!alive(vm, BPF_PROG_GET_FD_BY_ID, id1));
	bpfvm_free(vm);
}

TEST(tail_call_target_deleted_while_a_subprogram_runs)
{
	tail_call_from_subprog(false);
}

TEST(tail_call_target_deleted_while_a_subprogram_runs_test_run)
{
	tail_call_from_subprog(true);
}

/* P1 faults after its slot was deleted: the report names P1, which only the run still holds. */
static void fault_after_delete(bool test_run, uint32_t type)
{
	/* unverified: P1 reads address 1 on purpose, for the run-time fault report */
	struct bpfvm *vm = new_vm_opts(BPFVM_VERIFY_OFF);
	int flags = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	const struct bpf_insn p1[] = {
		/* 0 */ SIGNAL_AND_WAIT(flags),
		/* 6 */ INSN_ID(LDXDW, 0, 1, 0, 0), /* r1 = 1: a read of address 1 */
		/* 7 */ EXIT,
	};
	const struct bpf_insn p0[] = {
		LD_MAP(2, pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 5), EXIT,
	};
	int fd1 = bpfvm_prog_load(vm, type, p1, N(p1), "victim");
	int fd0 = bpfvm_prog_load(vm, type, p0, N(p0), "p0");
	CHECK(fd0 >= 0 && fd1 >= 0);
	if (fd0 < 0 || fd1 < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	uint32_t k0 = 0, id1 = test_obj_id(vm, fd1);
	CHECK(UPD(vm, pa, &k0, &fd1, 0) == 0);
	bpfvm_close(vm, fd1);

	struct runner r = { .vm = vm, .prog = fd0, .test_run = test_run };
	CHECK(run_with_window(&r, flags, delete_key0, &pa));
	CHECK_EQ_U64(r.err, -EFAULT);
	CHECK(strstr(r.msg, "prog 'victim': insn 6: invalid memory read addr=0x1 size=8") != NULL);
	if (!strstr(r.msg, "prog 'victim'"))
		printf("  run: %s\n", r.msg);
	CHECK(!alive(vm, BPF_PROG_GET_FD_BY_ID, id1));
	bpfvm_free(vm);
}

TEST(tail_call_target_deleted_then_faults)
{
	fault_after_delete(false, BPF_PROG_TYPE_UNSPEC);
}

TEST(tail_call_target_deleted_then_faults_test_run)
{
	fault_after_delete(true, BPF_PROG_TYPE_SOCKET_FILTER);
}

/* The test run of a type without a context (tracing.c's run of a function of (mem, len)). */
TEST(tail_call_target_deleted_then_faults_test_run_plain_memory)
{
	fault_after_delete(true, BPF_PROG_TYPE_UNSPEC);
}

/* The same from a bpf_timer callback (run on the timer thread): the callback tail-calls P1, which
 * waits while the test deletes its slot, then faults; the report printed names P1. */
struct printed {
	char msg[512];
	atomic_bool done;
};

static void capture_print(void *ctx, const char *msg, size_t len)
{
	struct printed *p = ctx;
	if (atomic_load(&p->done))
		return;
	snprintf(p->msg, sizeof(p->msg), "%.*s", (int)len, msg);
	atomic_store(&p->done, true);
}

/* Waits until cond(vm, arg) holds; false after 30 s, a bound for a broken build only (the program
 * signals each event this waits for). */
static bool wait_for(bool (*cond)(struct bpfvm *, void *), struct bpfvm *vm, void *arg)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!cond(vm, arg)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 30)
			return false;
		sched_yield();
	}
	return true;
}

static bool flag_set(struct bpfvm *vm, void *arg)
{
	uint32_t k = 0, v[2] = { 0, 0 };
	return LKP(vm, *(int *)arg, &k, v) == 0 && v[0];
}

static bool printed(struct bpfvm *vm, void *arg)
{
	(void)vm;
	return atomic_load(&((struct printed *)arg)->done);
}

static bool prog_gone(struct bpfvm *vm, void *arg)
{
	return !alive(vm, BPF_PROG_GET_FD_BY_ID, *(uint32_t *)arg);
}

TEST(tail_call_target_deleted_then_faults_in_a_timer_callback)
{
	struct printed out = { .done = false };
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2, .print = capture_print, .print_ctx = &out };
	struct bpfvm *vm = bpfvm_new(&o);
	bpfvm_set_insn_limit(vm, SPIN_BUDGET);
	int flags = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	int tmap = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
	int err = 0;
	struct sys_obj *mo = sys_get(vm, tmap, SYS_MAP, &err);
	CHECK(mo && map_set_timer_off(mo->map, 0) == 0); /* what the loader does for a BTF struct bpf_timer */
	sys_put(vm, mo);

	const struct bpf_insn arm[] = {
		/* 0 */ INSN_ID(STW, 10, 0, -4, 0),
		/* 1 */ LD_MAP(1, tmap),
		/* 3 */ MOV_X(2, 10),
		/* 4 */ ADD_K(2, -4),
		/* 5 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 6 */ INSN_ID(JNE_K, 0, 0, 2, 0),
		/* 7 */ MOV_K(0, 1),
		/* 8 */ EXIT,
		/* 9 */ MOV_X(6, 0),
		/* 10 */ MOV_X(1, 6),
		/* 11 */ LD_MAP(2, tmap),
		/* 13 */ MOV_K(3, CLOCK_MONOTONIC),
		/* 14 */ CALL(BPF_FUNC_timer_init),
		/* 15 */ MOV_X(1, 6),
		/* 16 */ LD_FUNC(2, 8),                 /* -> 25 */
		/* 18 */ CALL(BPF_FUNC_timer_set_callback),
		/* 19 */ MOV_X(1, 6),
		/* 20 */ MOV_K(2, 0),
		/* 21 */ MOV_K(3, 0),
		/* 22 */ CALL(BPF_FUNC_timer_start),
		/* 23 */ MOV_K(0, 0),
		/* 24 */ EXIT,
		/* 25 */ LD_MAP(2, pa),                 /* callback(map, key, value): tail_call(map, pa, 0) */
		/* 27 */ MOV_K(3, 0),
		/* 28 */ CALL(BPF_FUNC_tail_call),
		/* 29 */ MOV_K(0, 0),
		/* 30 */ EXIT,
	};
	const struct bpf_insn p1[] = {
		/* 0 */ SIGNAL_AND_WAIT(flags),
		/* 6 */ INSN_ID(LDXDW, 0, 1, 0, 0), /* r1 = 1: a read of address 1 */
		/* 7 */ EXIT,
	};
	int fa = bpfvm_prog_load(vm, BPF_PROG_TYPE_SYSCALL, arm, N(arm), "arm");
	int f1 = bpfvm_prog_load(vm, BPF_PROG_TYPE_SYSCALL, p1, N(p1), "victim");
	CHECK(fa >= 0 && f1 >= 0);
	if (fa < 0 || f1 < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	uint32_t k0 = 0, id1 = test_obj_id(vm, f1);
	CHECK(UPD(vm, pa, &k0, &f1, 0) == 0);
	bpfvm_close(vm, f1);
	uint64_t r0 = 1;
	CHECK(bpfvm_prog_run(vm, fa, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0 && r0 == 0);
	CHECK(wait_for(flag_set, vm, &flags));
	CHECK(DEL(vm, pa, &k0) == 0);
	uint32_t v[2] = { 1, 1 };
	CHECK(UPD(vm, flags, &k0, v, 0) == 0);
	CHECK(wait_for(printed, vm, &out));
	CHECK(strstr(out.msg, "bpf_timer callback of prog 'victim': insn 6: invalid memory read addr=0x1 size=8") != NULL);
	if (!strstr(out.msg, "prog 'victim'"))
		printf("  printed: %s\n", out.msg);
	CHECK(wait_for(prog_gone, vm, &id1));
	bpfvm_free(vm);
}

/* ---- item 9: inner maps ------------------------------------------------------------------------- */

/* inner = lookup(outer, 0); bpf_for_each_map_elem(inner, cb): the first callback waits while the test
 * deletes outer[0] (the only reference left on inner); the helper walks on to the second element, whose
 * value the second callback reads. */
TEST(inner_map_deleted_while_for_each_walks_it)
{
	struct bpfvm *vm = new_vm();
	int flags = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int inner = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	a.inner_map_fd = (uint32_t)inner;
	int outer = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(flags >= 0 && inner >= 0 && outer >= 0);
	for (uint32_t k = 1; k <= 2; k++) {
		uint64_t v = 100 * k;
		CHECK(UPD(vm, inner, &k, &v, 0) == 0);
	}
	uint32_t k0 = 0, inner_id = test_obj_id(vm, inner);
	CHECK(UPD(vm, outer, &k0, &inner, 0) == 0);
	bpfvm_close(vm, inner);

	const struct bpf_insn p[] = {
		/* 0 */ INSN_ID(STW, 10, 0, -4, 0),
		/* 1 */ INSN_ID(STDW, 10, 0, -16, 0), /* callbacks so far */
		/* 2 */ INSN_ID(STDW, 10, 0, -24, 0), /* the value the second one read */
		/* 3 */ LD_MAP(1, outer),
		/* 5 */ MOV_X(2, 10),
		/* 6 */ ADD_K(2, -4),
		/* 7 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 8 */ INSN_ID(JNE_K, 0, 0, 2, 0),
		/* 9 */ MOV_K(0, 7),
		/* 10 */ EXIT,
		/* 11 */ MOV_X(1, 0),
		/* 12 */ LD_FUNC(2, 8),                 /* -> 21 */
		/* 14 */ MOV_X(3, 10),
		/* 15 */ ADD_K(3, -16),
		/* 16 */ MOV_K(4, 0),
		/* 17 */ CALL(BPF_FUNC_for_each_map_elem),
		/* 18 */ INSN_ID(LDXDW, 1, 10, -24, 0),
		/* 19 */ INSN_ID(ADD64_X, 0, 1, 0, 0), /* elements visited + value read */
		/* 20 */ EXIT,
		/* 21 */ MOV_X(7, 3),                   /* callback(map, key, value, ctx) */
		/* 22 */ MOV_X(8, 4),
		/* 23 */ SIGNAL_AND_WAIT(flags),        /* the first call waits for the delete */
		/* 29 */ INSN_ID(LDXDW, 1, 8, 0, 0),
		/* 30 */ ADD_K(1, 1),
		/* 31 */ INSN_ID(STXDW, 8, 1, 0, 0),
		/* 32 */ INSN_ID(JEQ_K, 1, 0, 2, 1),
		/* 33 */ INSN_ID(LDXDW, 1, 7, 0, 0), /* a value of the inner map, after the delete */
		/* 34 */ INSN_ID(STXDW, 8, 1, -8, 0),
		/* 35 */ MOV_K(0, 0),
		/* 36 */ EXIT,
	};
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, p, N(p), "walker");
	CHECK(fd >= 0);
	if (fd < 0) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	struct runner r = { .vm = vm, .prog = fd };
	CHECK(run_with_window(&r, flags, delete_key0, &outer));
	CHECK_EQ_U64(r.err, 0);
	CHECK(r.r0 == 2 + 100 || r.r0 == 2 + 200);
	if (r.err)
		printf("  run: %s\n", r.msg);
	CHECK(!alive(vm, BPF_MAP_GET_FD_BY_ID, inner_id));
	bpfvm_free(vm);
}

/* ---- item 7: a program reaches its own maps only --------------------------------------------------- */

static uint64_t run_ok(struct bpfvm *vm, int fd, void *mem, size_t len)
{
	uint64_t r0 = 0;
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, &r0);
	CHECK_EQ_U64(err, 0);
	if (err)
		printf("  run: %s\n", bpfvm_errmsg(vm));
	return r0;
}

/* Another program's map (its address learnt from a program that returns it) is neither memory nor a map
 * argument for a program that does not reference it, though it lives in the same instance. */
TEST(other_programs_maps_are_out_of_reach)
{
	struct bpfvm *vm = new_vm();
	int secret = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int own = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint32_t k0 = 0;
	uint64_t v = 0x1122334455667788ull;
	CHECK(UPD(vm, secret, &k0, &v, 0) == 0);
	const struct bpf_insn value_addr[] = { LD_VALUE(0, secret, 0), EXIT };
	const struct bpf_insn map_addr[] = { LD_MAP(0, secret), EXIT };
	int fa = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, value_addr, N(value_addr), "value_addr");
	int fm = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, map_addr, N(map_addr), "map_addr");
	CHECK(fa >= 0 && fm >= 0);
	uint64_t addrs[2] = { run_ok(vm, fa, NULL, 0), run_ok(vm, fm, NULL, 0) };
	CHECK(addrs[0] != 0 && addrs[1] != 0);

	/* r0 = *(u64 *)mem[0], by a program whose own map is another one */
	const struct bpf_insn read[] = {
		LD_VALUE(3, own, 0),
		INSN_ID(LDXDW, 2, 1, 0, 0),
		INSN_ID(LDXDW, 0, 2, 0, 0),
		EXIT,
	};
	/* r0 = bpf_map_lookup_elem((map *)mem[1], &0) */
	const struct bpf_insn lookup[] = {
		LD_VALUE(3, own, 0),
		INSN_ID(STW, 10, 0, -4, 0),
		INSN_ID(LDXDW, 1, 1, 8, 0),
		MOV_X(2, 10),
		ADD_K(2, -4),
		CALL(BPF_FUNC_map_lookup_elem),
		EXIT,
	};
	int fr = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, read, N(read), "reader");
	int fl = bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, lookup, N(lookup), "looker");
	CHECK(fr >= 0 && fl >= 0);
	uint64_t r0 = 0;
	CHECK_EQ_U64(bpfvm_prog_run(vm, fr, BPFVM_ENGINE_INTERP, addrs, sizeof(addrs), &r0), -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "prog 'reader': insn 3: invalid memory read") != NULL);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fl, BPFVM_ENGINE_INTERP, addrs, sizeof(addrs), &r0), -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "bpf_map_lookup_elem: R1 is not a map") != NULL);
	bpfvm_free(vm);
}

/* ---- item 10: churn under running programs ----------------------------------------------------------- */

#define CHURN 300
#define RUNNERS 2
#define MUTATORS 2

struct churn {
	struct bpfvm *vm;
	int outer, pa;
	uint32_t entry_id;
	atomic_int mutators_left;
	atomic_long runs, bad;
};

/* Runs the entry program through a handle of its own, until the mutators are done. */
static void *churn_runner(void *arg)
{
	struct churn *c = arg;
	while (atomic_load(&c->mutators_left) > 0) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_id = c->entry_id;
		int fd = (int)bpfvm_bpf(c->vm, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a));
		if (fd < 0) {
			atomic_fetch_add(&c->bad, 1);
			continue;
		}
		uint64_t r0 = 0;
		int err = bpfvm_prog_run(c->vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &r0);
		/* 1: no target in slot 0; 2: the target, slot 1 empty; 3: both */
		if (err || r0 < 1 || r0 > 3) {
			printf("  run: err %d r0 %" PRIu64 ": %s\n", err, r0, bpfvm_errmsg(c->vm));
			atomic_fetch_add(&c->bad, 1);
		}
		atomic_fetch_add(&c->runs, 1);
		bpfvm_close(c->vm, fd);
	}
	return NULL;
}

/* A tail-call target: bumps the inner map's counter if there is one, then tail-calls slot 1 from a
 * subprogram. */
static int load_target(struct bpfvm *vm, int outer, int pa)
{
	const struct bpf_insn t[] = {
		/* 0 */ CALL_LOCAL(2),
		/* 1 */ EXIT,
		/* 2 */ EXIT,                           /* (unreached) */
		/* 3 */ MOV_X(6, 1),
		/* 4 */ INSN_ID(STW, 10, 0, -4, 0),
		/* 5 */ LD_MAP(1, outer),
		/* 7 */ MOV_X(2, 10),
		/* 8 */ ADD_K(2, -4),
		/* 9 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 10 */ INSN_ID(JEQ_K, 0, 0, 7, 0),
		/* 11 */ MOV_X(1, 0),
		/* 12 */ MOV_X(2, 10),
		/* 13 */ ADD_K(2, -4),
		/* 14 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 15 */ INSN_ID(JEQ_K, 0, 0, 2, 0),
		/* 16 */ MOV_K(1, 1),
		/* 17 */ INSN_ID(AADD64, 0, 1, 0, 0),
		/* 18 */ MOV_X(1, 6),
		/* 19 */ LD_MAP(2, pa),
		/* 21 */ MOV_K(3, 1),
		/* 22 */ CALL(BPF_FUNC_tail_call),
		/* 23 */ MOV_K(0, 2),
		/* 24 */ EXIT,
	};
	return bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, t, N(t), "target");
}

/* Replaces and deletes outer[0], prog array slots 0 and 1, with fresh maps and programs whose handles
 * it closes at once: the slot holds the only reference, and two mutators race on each slot. */
static void *churn_mutator(void *arg)
{
	struct churn *c = arg;
	const struct bpf_insn leaf[] = { MOV_K(0, 3), EXIT };
	uint32_t k0 = 0, k1 = 1;
	for (int i = 0; i < CHURN; i++) {
		int inner = mk(c->vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
		int target = load_target(c->vm, c->outer, c->pa);
		int l = bpfvm_prog_load(c->vm, BPF_PROG_TYPE_UNSPEC, leaf, N(leaf), "leaf");
		if (inner < 0 || target < 0 || l < 0) {
			atomic_fetch_add(&c->bad, 1);
			break;
		}
		if (UPD(c->vm, c->outer, &k0, &inner, 0) || UPD(c->vm, c->pa, &k0, &target, 0) ||
		    UPD(c->vm, c->pa, &k1, &l, 0))
			atomic_fetch_add(&c->bad, 1);
		bpfvm_close(c->vm, inner);
		bpfvm_close(c->vm, target);
		bpfvm_close(c->vm, l);
		/* the other mutator may have emptied a slot first: -ENOENT is no error */
		long e1 = i % 3 == 0 ? DEL(c->vm, c->outer, &k0) : 0, e2 = i % 5 == 0 ? DEL(c->vm, c->pa, &k0) : 0;
		long e3 = i % 7 == 0 ? DEL(c->vm, c->pa, &k1) : 0;
		if ((e1 && e1 != -ENOENT) || (e2 && e2 != -ENOENT) || (e3 && e3 != -ENOENT))
			atomic_fetch_add(&c->bad, 1);
	}
	atomic_fetch_sub(&c->mutators_left, 1);
	return NULL;
}

TEST(maps_and_slots_churn_under_running_programs)
{
	struct churn c = { .vm = new_vm() };
	int tmpl = mk(c.vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	a.inner_map_fd = (uint32_t)tmpl;
	c.outer = (int)bpfvm_bpf(c.vm, BPF_MAP_CREATE, &a, sizeof(a));
	c.pa = mk(c.vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	bpfvm_close(c.vm, tmpl);
	/* the entry: tail_call(ctx, pa, 0), else r0 = 1 */
	const struct bpf_insn entry[] = { LD_MAP(2, c.pa), MOV_K(3, 0), CALL(BPF_FUNC_tail_call), MOV_K(0, 1), EXIT };
	int e = bpfvm_prog_load(c.vm, BPF_PROG_TYPE_UNSPEC, entry, N(entry), "entry");
	CHECK(c.outer >= 0 && c.pa >= 0 && e >= 0);
	c.entry_id = test_obj_id(c.vm, e);
	atomic_init(&c.mutators_left, MUTATORS);

	pthread_t rt[RUNNERS], mt[MUTATORS];
	for (int i = 0; i < RUNNERS; i++)
		CHECK(pthread_create(&rt[i], NULL, churn_runner, &c) == 0);
	for (int i = 0; i < MUTATORS; i++)
		CHECK(pthread_create(&mt[i], NULL, churn_mutator, &c) == 0);
	for (int i = 0; i < MUTATORS; i++)
		pthread_join(mt[i], NULL);
	for (int i = 0; i < RUNNERS; i++)
		pthread_join(rt[i], NULL);
	CHECK_EQ_U64(atomic_load(&c.bad), 0);
	CHECK(atomic_load(&c.runs) > 0);

	/* every reference the slots and runs took is gone with the last handles: no object left.  (The
	 * targets reference the prog array that holds them: closing its last handle empties it, which
	 * breaks that cycle, as in Linux.) */
	bpfvm_close(c.vm, e);
	bpfvm_close(c.vm, c.pa);
	bpfvm_close(c.vm, c.outer);
	CHECK_EQ_U64(test_count_ids(c.vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(c.vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(c.vm);
}

/* Two threads replacing one slot at once: each replacement drops the reference of the occupant it
 * replaced, exactly once, so no object goes early (while a handle still names it) or stays. */
#define SWAPS 20000

struct swapper {
	struct bpfvm *vm;
	int map;               /* prog array or array of maps */
	int objs[2];           /* what this thread stores, alternately */
	atomic_long *bad;
};

static void *swapper_main(void *arg)
{
	struct swapper *w = arg;
	uint32_t k0 = 0;
	for (int i = 0; i < SWAPS; i++) {
		long e = i % 16 == 15 ? DEL(w->vm, w->map, &k0) : UPD(w->vm, w->map, &k0, &w->objs[i & 1], 0);
		if (e && e != -ENOENT)
			atomic_fetch_add(w->bad, 1);
	}
	return NULL;
}

TEST(one_slot_replaced_by_two_threads)
{
	struct bpfvm *vm = new_vm();
	atomic_long bad = 0;
	const struct bpf_insn leaf[] = { MOV_K(0, 3), EXIT };
	int tmpl = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH_OF_MAPS;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	a.inner_map_fd = (uint32_t)tmpl;
	int outer = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	CHECK(outer >= 0 && pa >= 0);
	struct swapper w[4];
	uint32_t ids[4][2];
	for (int t = 0; t < 4; t++) {
		w[t] = (struct swapper){ .vm = vm, .map = t < 2 ? pa : outer, .bad = &bad };
		for (int j = 0; j < 2; j++) {
			w[t].objs[j] = t < 2 ? bpfvm_prog_load(vm, BPF_PROG_TYPE_UNSPEC, leaf, N(leaf), "leaf")
					     : mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
			CHECK(w[t].objs[j] >= 0);
			ids[t][j] = test_obj_id(vm, w[t].objs[j]);
		}
	}
	pthread_t th[4];
	for (int t = 0; t < 4; t++)
		CHECK(pthread_create(&th[t], NULL, swapper_main, &w[t]) == 0);
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	CHECK_EQ_U64(atomic_load(&bad), 0);
	/* each object is still there for its handle ... */
	for (int t = 0; t < 4; t++)
		for (int j = 0; j < 2; j++)
			CHECK(alive(vm, t < 2 ? BPF_PROG_GET_FD_BY_ID : BPF_MAP_GET_FD_BY_ID, ids[t][j]));
	/* ... and goes with it once the slots are empty */
	uint32_t k0 = 0;
	DEL(vm, pa, &k0);
	DEL(vm, outer, &k0);
	for (int t = 0; t < 4; t++)
		for (int j = 0; j < 2; j++)
			bpfvm_close(vm, w[t].objs[j]);
	bpfvm_close(vm, tmpl);
	bpfvm_close(vm, pa);
	bpfvm_close(vm, outer);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(tail_call_target_deleted_while_a_subprogram_runs);
	RUN(tail_call_target_deleted_while_a_subprogram_runs_test_run);
	RUN(tail_call_target_deleted_then_faults);
	RUN(tail_call_target_deleted_then_faults_test_run);
	RUN(tail_call_target_deleted_then_faults_test_run_plain_memory);
	RUN(tail_call_target_deleted_then_faults_in_a_timer_callback);
	RUN(inner_map_deleted_while_for_each_walks_it);
	RUN(other_programs_maps_are_out_of_reach);
	RUN(maps_and_slots_churn_under_running_programs);
	RUN(one_slot_replaced_by_two_threads);
	return test_done();
}
