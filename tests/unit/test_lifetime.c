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
#include <bpfvm.h>

#include "test.h"
#include "test_bpf.h"

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MOV_K(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV_X(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_K(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define LD_MAP(d, fd) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), INSN(0, 0, 0, 0, 0)
#define LD_VALUE(d, fd, off) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_VALUE, 0, fd), INSN(0, 0, 0, 0, off)
/* r(d) = the subprogram at (this lddw's pc) + 1 + rel */
#define LD_FUNC(d, rel) INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_FUNC, 0, rel), INSN(0, 0, 0, 0, 0)
#define CALL(i) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, i)
#define CALL_LOCAL(rel) INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, rel)
#define EXIT INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define STORE_REL32(d, s, o) INSN(BPF_STX | BPF_ATOMIC | BPF_W, d, s, o, 0x110)
#define LOAD_ACQ32(d, s, o) INSN(BPF_STX | BPF_ATOMIC | BPF_W, d, s, o, 0x100)

/* The handshake a program makes with the test, through the 8-byte value of the flags map: word 0 is
 * "the program is in the window" (the program sets it), word 1 is "go on" (the test sets it).  r6 and
 * r1 are clobbered; 6 insns. */
#define SIGNAL_AND_WAIT(flags_fd) \
	LD_VALUE(6, flags_fd, 0), \
	MOV_K(1, 1), \
	STORE_REL32(6, 1, 0), \
	LOAD_ACQ32(1, 6, 4), \
	INSN(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, -2, 0)
#define SIGNAL_AND_WAIT_LEN 6

/* A spinning program waits this many back-jumps at most: far more than a test thread takes to be
 * scheduled, and still a bound when something breaks. */
#define SPIN_BUDGET (1ull << 30)

static struct bpfvm *new_vm(void)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2 };
	struct bpfvm *vm = bpfvm_new(&o);
	if (vm)
		bpfvm_set_insn_limit(vm, SPIN_BUDGET);
	return vm;
}

static uint32_t obj_id(struct bpfvm *vm, int fd)
{
	struct bpf_prog_info info; /* the id sits at the same offset in bpf_map_info */
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	if (bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)))
		return 0;
	return info.id;
}

/* Whether the object with this id still exists (a handle by id is taken and closed again). */
static bool alive(struct bpfvm *vm, int cmd, uint32_t id)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	if (cmd == BPF_PROG_GET_FD_BY_ID)
		a.prog_id = id;
	else
		a.map_id = id;
	long fd = bpfvm_bpf(vm, cmd, &a, sizeof(a));
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
	struct bpfvm *vm = new_vm();
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
	uint32_t k0 = 0, k1 = 1, id1 = obj_id(vm, fd1);
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
static void fault_after_delete(bool test_run)
{
	struct bpfvm *vm = new_vm();
	uint32_t type = test_run ? BPF_PROG_TYPE_SOCKET_FILTER : BPF_PROG_TYPE_UNSPEC;
	int flags = mk(vm, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int pa = mk(vm, BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	const struct bpf_insn p1[] = {
		/* 0 */ SIGNAL_AND_WAIT(flags),
		/* 6 */ INSN(BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 0, 0), /* r1 = 1: a read of address 1 */
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
	uint32_t k0 = 0, id1 = obj_id(vm, fd1);
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
	fault_after_delete(false);
}

TEST(tail_call_target_deleted_then_faults_test_run)
{
	fault_after_delete(true);
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
	uint32_t k0 = 0, inner_id = obj_id(vm, inner);
	CHECK(UPD(vm, outer, &k0, &inner, 0) == 0);
	bpfvm_close(vm, inner);

	const struct bpf_insn p[] = {
		/* 0 */ INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
		/* 1 */ INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 0), /* callbacks so far */
		/* 2 */ INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -24, 0), /* the value the second one read */
		/* 3 */ LD_MAP(1, outer),
		/* 5 */ MOV_X(2, 10),
		/* 6 */ ADD_K(2, -4),
		/* 7 */ CALL(BPF_FUNC_map_lookup_elem),
		/* 8 */ INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0),
		/* 9 */ MOV_K(0, 7),
		/* 10 */ EXIT,
		/* 11 */ MOV_X(1, 0),
		/* 12 */ LD_FUNC(2, 8),                 /* -> 21 */
		/* 14 */ MOV_X(3, 10),
		/* 15 */ ADD_K(3, -16),
		/* 16 */ MOV_K(4, 0),
		/* 17 */ CALL(BPF_FUNC_for_each_map_elem),
		/* 18 */ INSN(BPF_LDX | BPF_MEM | BPF_DW, 1, 10, -24, 0),
		/* 19 */ INSN(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 0), /* elements visited + value read */
		/* 20 */ EXIT,
		/* 21 */ MOV_X(7, 3),                   /* callback(map, key, value, ctx) */
		/* 22 */ MOV_X(8, 4),
		/* 23 */ SIGNAL_AND_WAIT(flags),        /* the first call waits for the delete */
		/* 29 */ INSN(BPF_LDX | BPF_MEM | BPF_DW, 1, 8, 0, 0),
		/* 30 */ ADD_K(1, 1),
		/* 31 */ INSN(BPF_STX | BPF_MEM | BPF_DW, 8, 1, 0, 0),
		/* 32 */ INSN(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2, 1),
		/* 33 */ INSN(BPF_LDX | BPF_MEM | BPF_DW, 1, 7, 0, 0), /* a value of the inner map, after the delete */
		/* 34 */ INSN(BPF_STX | BPF_MEM | BPF_DW, 8, 1, -8, 0),
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

int main(void)
{
	RUN(tail_call_target_deleted_while_a_subprogram_runs);
	RUN(tail_call_target_deleted_while_a_subprogram_runs_test_run);
	RUN(tail_call_target_deleted_then_faults);
	RUN(tail_call_target_deleted_then_faults_test_run);
	RUN(inner_map_deleted_while_for_each_walks_it);
	return test_done();
}
