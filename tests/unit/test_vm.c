/* test_vm.c -- the core VM through the public API: program load errors and logs, handles and ids,
 * helpers and host functions, callbacks, the instruction budget, concurrent runs. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

#define ADD_X(d, s) INSN_ID(ADD64_X, d, s, 0, 0)
#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t run_prog(struct bpfvm *vm, const struct bpf_insn *p, size_t n, void *mem, size_t len, int *err)
{
	uint64_t r0 = 0;
	int fd = bpfvm_prog_load(vm, 0, p, n, "t");
	if (fd < 0) {
		*err = fd;
		return 0;
	}
	*err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, len, &r0);
	bpfvm_close(vm, fd);
	return r0;
}

TEST(new_free_opts)
{
	struct bpfvm_opts bad = { .sz = 1 };
	CHECK(bpfvm_new(&bad) == NULL);
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 3 };
	struct bpfvm *vm = bpfvm_new(&o);
	CHECK(vm != NULL);
	bpfvm_free(vm);
	bpfvm_free(NULL);
}

TEST(load_errors_are_located)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const struct bpf_insn bad[] = { MOV_K(0, 1), INSN_ID(ADD64_K, 11, 0, 0, 1), EXIT };
	int fd = bpfvm_prog_load(vm, 0, bad, N(bad), "t");
	CHECK(fd == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: invalid register r11") != NULL);
	CHECK(bpfvm_prog_load(vm, 0, bad, 0, "t") == -EINVAL);
	CHECK(bpfvm_prog_load(vm, 9999, bad, N(bad), "t") == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "unknown prog_type 9999") != NULL);
	bpfvm_free(vm);
}

TEST(prog_load_log_buf)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const struct bpf_insn bad[] = { INSN_ID(JA, 0, 0, 7, 0), EXIT };
	char log[256];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	memset(log, 'x', sizeof(log));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)bad;
	a.insn_cnt = N(bad);
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	a.log_level = 1;
	CHECK(bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a)) == -EINVAL);
	CHECK(strstr(log, "insn 0: jump out of range from insn 0 to 8") != NULL);
	/* log_level without a buffer is invalid, as in Linux */
	a.log_buf = 0;
	CHECK(bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a)) == -EINVAL);
	/* non-zero bytes past the known attr are E2BIG */
	uint8_t big[sizeof(a) + 8];
	memset(big, 0, sizeof(big));
	memcpy(big, &a, sizeof(a));
	big[sizeof(a) + 3] = 1;
	CHECK(bpfvm_bpf(vm, BPF_PROG_LOAD, (union bpf_attr *)big, sizeof(big)) == -E2BIG);
	bpfvm_free(vm);
}

TEST(handles_ids_and_info)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const struct bpf_insn p[] = { MOV_K(0, 42), EXIT };
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, N(p), "answer");
	CHECK(fd >= 0);
	struct bpf_prog_info info;
	struct bpf_insn xlated[2];
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = sizeof(xlated);
	info.xlated_prog_insns = (uintptr_t)xlated;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) == 0);
	CHECK_EQ_STR(info.name, "answer");
	CHECK_EQ_U64(info.type, BPF_PROG_TYPE_SOCKET_FILTER);
	CHECK_EQ_U64(info.xlated_prog_len, sizeof(xlated));
	CHECK(!memcmp(xlated, p, sizeof(p)));
	uint32_t id = info.id;
	CHECK(id > 0);
	memset(&a, 0, sizeof(a));
	CHECK(bpfvm_bpf(vm, BPF_PROG_GET_NEXT_ID, &a, sizeof(a)) == 0);
	CHECK_EQ_U64(a.next_id, id);
	a.start_id = id;
	CHECK(bpfvm_bpf(vm, BPF_PROG_GET_NEXT_ID, &a, sizeof(a)) == -ENOENT);
	memset(&a, 0, sizeof(a));
	a.prog_id = id;
	int fd2 = (int)bpfvm_bpf(vm, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a));
	CHECK(fd2 >= 0 && fd2 != fd);
	CHECK(bpfvm_close(vm, fd) == 0);
	CHECK(bpfvm_close(vm, fd) == -EBADF);
	uint64_t r0 = 0;
	CHECK(bpfvm_prog_run(vm, fd2, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 42);
	CHECK(bpfvm_close(vm, fd2) == 0);
	a.prog_id = id;
	CHECK(bpfvm_bpf(vm, BPF_PROG_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	bpfvm_free(vm);
}

static uint64_t host_add(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return a + b + c + d + e;
}

TEST(kfuncs_and_host_helpers)
{
	static const struct bpfvm_kfunc kf[] = { { 7, "add5", host_add } };
	struct bpfvm_opts o = { .sz = sizeof(o), .kfuncs = kf, .kfunc_cnt = 1, .helpers = kf, .helper_cnt = 1 };
	struct bpfvm *vm = bpfvm_new(&o);
	int err;
	const struct bpf_insn p[] = {
		MOV_K(1, 1), MOV_K(2, 2), MOV_K(3, 3), MOV_K(4, 4), MOV_K(5, 5),
		INSN_ID(CALL_KFUNC, 0, 0, 0, 7), /* kfunc 7 */
		MOV_X(6, 0),
		MOV_K(1, 10), MOV_K(2, 0), MOV_K(3, 0), MOV_K(4, 0), MOV_K(5, 0),
		CALL(7),                /* host helper 7 (overrides Linux's get_prandom_u32) */
		ADD_X(0, 6),
		EXIT,
	};
	CHECK_EQ_U64(run_prog(vm, p, N(p), NULL, 0, &err), 25);
	CHECK(err == 0);
	const struct bpf_insn q[] = { INSN_ID(CALL_KFUNC, 0, 0, 0, 8), EXIT };
	CHECK(bpfvm_prog_load(vm, 0, q, N(q), "t") == -EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 0: unknown kfunc id 8") != NULL);
	bpfvm_free(vm);
}

static char printed[256];
static size_t printed_len;
static void sink(void *ctx, const char *msg, size_t len)
{
	(void)ctx;
	if (len >= sizeof(printed))
		len = sizeof(printed) - 1;
	memcpy(printed, msg, len);
	printed[len] = '\0';
	printed_len = len;
}

TEST(trace_printk_to_sink)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .print = sink };
	struct bpfvm *vm = bpfvm_new(&o);
	int err;
	/* "v=%d s=%s" on the stack, the %s argument a string on the stack too */
	char fmt[16] = "v=%d s=%s\n";
	uint64_t f0, f1;
	memcpy(&f0, fmt, 8);
	memcpy(&f1, fmt + 8, 8);
	const struct bpf_insn p[] = {
		INSN_ID(LDDW, 1, 0, 0, (int32_t)(uint32_t)f0), LDDW_HI((int32_t)(uint32_t)(f0 >> 32)),
		INSN_ID(STXDW, 10, 1, -16, 0),
		INSN_ID(LDDW, 1, 0, 0, (int32_t)(uint32_t)f1), LDDW_HI((int32_t)(uint32_t)(f1 >> 32)),
		INSN_ID(STXDW, 10, 1, -8, 0),
		INSN_ID(STDW, 10, 0, -24, 0x6968), /* "hi\0" */
		MOV_X(1, 10), ADD_K(1, -16),
		MOV_K(2, 11),
		MOV_K(3, -5),
		MOV_X(4, 10), ADD_K(4, -24),
		CALL(6),
		EXIT,
	};
	uint64_t r = run_prog(vm, p, N(p), NULL, 0, &err);
	CHECK(err == 0);
	CHECK_EQ_STR(printed, "v=-5 s=hi\n");
	CHECK_EQ_U64(r, printed_len);
	bpfvm_free(vm);
}

TEST(helper_pointer_checks)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int err;
	/* bpf_get_current_comm(ptr outside the program's memory, 16) must fault, not write */
	const struct bpf_insn p[] = { INSN_ID(LDDW, 1, 0, 0, 0x1000), LDDW_HI(0), MOV_K(2, 16), CALL(16), EXIT };
	run_prog(vm, p, N(p), NULL, 0, &err);
	CHECK(err == -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 3: bpf_get_current_comm addr=0x1000 size=16") != NULL);
	/* probe_read of unmapped host memory fails cleanly with -EFAULT returned to the program */
	const struct bpf_insn q[] = {
		MOV_X(1, 10), ADD_K(1, -8), MOV_K(2, 8), MOV_K(3, 16), CALL(4), EXIT,
	};
	uint64_t r = run_prog(vm, q, N(q), NULL, 0, &err);
	CHECK(err == 0);
	CHECK_EQ_U64(r, (uint64_t)-EFAULT);
	bpfvm_free(vm);
}

TEST(bpf_loop_callback)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int err;
	/* sum i for i in 0..9 through bpf_loop with a callback that adds into a stack slot of the caller */
	const struct bpf_insn q[] = {
		INSN_ID(STDW, 10, 0, -8, 0),             /* 0 */
		MOV_K(1, 10),                         /* 1 */
		INSN_ID(LDDW, 2, 4, 0, 9),               /* 2: r2 = func at 2+1+9 = 12 */
		LDDW_HI(0),                  /* 3 */
		MOV_X(3, 10), ADD_K(3, -8),           /* 4,5 */
		MOV_K(4, 0),                          /* 6 */
		CALL(181),                            /* 7 */
		INSN_ID(LDXDW, 1, 10, -8, 0),             /* 8 */
		INSN_ID(MUL64_K, 0, 0, 0, 1000),            /* 9 */
		ADD_X(0, 1),                          /* 10 */
		EXIT,                                 /* 11 */
		INSN_ID(LDXDW, 3, 2, 0, 0),               /* 12: callback(i=r1, ctx=r2): r3 = *ctx */
		ADD_X(3, 1),                          /* 13 */
		INSN_ID(STXDW, 2, 3, 0, 0),               /* 14: *ctx = r3 */
		MOV_K(0, 0),                          /* 15: continue */
		EXIT,                                 /* 16 */
	};
	CHECK_EQ_U64(run_prog(vm, q, N(q), NULL, 0, &err), 10 * 1000 + 45);
	CHECK(err == 0);
	bpfvm_free(vm);
}

TEST(insn_limit)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int err;
	const struct bpf_insn p[] = { INSN_ID(JA, 0, 0, -1, 0) };
	bpfvm_set_insn_limit(vm, 1000);
	run_prog(vm, p, N(p), NULL, 0, &err);
	CHECK(err == -ELOOP);
	CHECK(strstr(bpfvm_errmsg(vm), "instruction budget exhausted") != NULL);
	/* a fault that is no memory access says so without a made-up address */
	CHECK(strstr(bpfvm_errmsg(vm), "addr=") == NULL);
	bpfvm_free(vm);
}

/* Where there is a JIT (x86-64) it runs; elsewhere asking for it is -EOPNOTSUPP, said in the log. */
TEST(jit_engine_runs_or_is_reported)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const struct bpf_insn p[] = { MOV_K(0, 1), EXIT };
	int fd = bpfvm_prog_load(vm, 0, p, N(p), "t");
	uint64_t r0 = 0;
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_JIT, NULL, 0, &r0);
#if defined(__x86_64__)
	CHECK_EQ_U64(err, 0);
	CHECK_EQ_U64(r0, 1);
#else
	CHECK(err == -EOPNOTSUPP);
	CHECK(strstr(bpfvm_errmsg(vm), "JIT") != NULL);
#endif
	CHECK(bpfvm_prog_run(vm, fd, (enum bpfvm_engine)9, NULL, 0, &r0) == -EINVAL);
	bpfvm_free(vm);
}

struct thr {
	struct bpfvm *vm;
	int fd;
	uint64_t *counter;
	int ok;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	t->ok = 1;
	for (int i = 0; i < 20000; i++) {
		uint64_t r0;
		if (bpfvm_prog_run(t->vm, t->fd, BPFVM_ENGINE_INTERP, t->counter, 8, &r0))
			t->ok = 0;
	}
	return NULL;
}

TEST(concurrent_runs_atomic_add_and_slots)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 2 };
	struct bpfvm *vm = bpfvm_new(&o);
	static uint64_t counter;
	/* lock *(u64 *)(r1 + 0) += 1; r0 = smp_processor_id() */
	const struct bpf_insn p[] = { MOV_K(2, 1), INSN_ID(AADD64, 1, 2, 0, 0), CALL(8), EXIT };
	int fd = bpfvm_prog_load(vm, 0, p, N(p), "t");
	struct thr t[4];
	pthread_t th[4];
	counter = 0;
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ vm, fd, &counter, 0 };
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(t[i].ok);
	}
	CHECK_EQ_U64(counter, 4 * 20000);
	uint64_t r0;
	CHECK(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, &counter, 8, &r0) == 0);
	CHECK(r0 < 2);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(new_free_opts);
	RUN(load_errors_are_located);
	RUN(prog_load_log_buf);
	RUN(handles_ids_and_info);
	RUN(kfuncs_and_host_helpers);
	RUN(trace_printk_to_sink);
	RUN(helper_pointer_checks);
	RUN(bpf_loop_callback);
	RUN(insn_limit);
	RUN(jit_engine_runs_or_is_reported);
	RUN(concurrent_runs_atomic_add_and_slots);
	return test_done();
}
