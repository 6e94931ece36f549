/* test_objtab.c -- the object table under concurrency: handles and ids are looked up without the
 * instance lock, so these tests close, reuse and grow the table while other threads use it, and check
 * that a command either sees the object alive or fails with the errno of a missing one, that a handle
 * got by id keeps its map alive, and that no reference is lost or leaked (all ids gone at the end).
 * Most useful under ASan (make asan), which catches a map payload used after its last reference. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <bpfvm.h>

#include "test.h"

#define CHURN 20000

static int map_create(struct bpfvm *vm, uint32_t max_entries)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = max_entries;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static long elem(struct bpfvm *vm, int cmd, int fd, uint32_t key, uint64_t *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)val;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

static uint32_t map_id(struct bpfvm *vm, int fd)
{
	struct bpf_map_info info;
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	return bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)) ? 0 : info.id;
}

struct shared {
	struct bpfvm *vm;
	atomic_bool stop;
	atomic_uint last_id;     /* id of the newest map the churner created */
	atomic_long bad;         /* results no correct table could give */
	atomic_long hits_fd, hits_id;
};

/* Creates a map and writes its own id into element 0, keeping the newest 3 open; CHURN times. */
static void *churner(void *arg)
{
	struct shared *s = arg;
	int open_fds[3] = { -1, -1, -1 };
	for (int i = 0; i < CHURN; i++) {
		int *slot = &open_fds[i % 3];
		if (*slot >= 0 && bpfvm_close(s->vm, *slot))
			atomic_fetch_add(&s->bad, 1);
		int fd = map_create(s->vm, 1);
		uint32_t id = fd >= 0 ? map_id(s->vm, fd) : 0;
		uint64_t v = id;
		*slot = fd;
		if (fd < 0 || !id || elem(s->vm, BPF_MAP_UPDATE_ELEM, fd, 0, &v)) {
			atomic_fetch_add(&s->bad, 1);
			break;
		}
		atomic_store(&s->last_id, id);
	}
	for (int i = 0; i < 3; i++)
		if (open_fds[i] >= 0 && bpfvm_close(s->vm, open_fds[i]))
			atomic_fetch_add(&s->bad, 1);
	atomic_store(&s->stop, true);
	return NULL;
}

/* Uses whatever the low fds name at the moment, and maps reached by recent ids. */
static void *reader(void *arg)
{
	struct shared *s = arg;
	while (!atomic_load(&s->stop)) {
		for (int fd = 0; fd < 4; fd++) {
			uint64_t v = 0;
			long r = elem(s->vm, BPF_MAP_LOOKUP_ELEM, fd, 0, &v);
			if (r == 0 && v > atomic_load(&s->last_id) + 1)
				atomic_fetch_add(&s->bad, 1); /* not an id the churner could have written yet */
			else if (r == 0)
				atomic_fetch_add(&s->hits_fd, 1);
			else if (r != -EBADF)
				atomic_fetch_add(&s->bad, 1);
		}
		uint32_t last = atomic_load(&s->last_id);
		for (uint32_t id = last > 2 ? last - 2 : 1; id <= last + 1; id++) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_id = id;
			long fd = bpfvm_bpf(s->vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a));
			if (fd == -ENOENT)
				continue;
			if (fd < 0) {
				atomic_fetch_add(&s->bad, 1);
				continue;
			}
			/* Our own handle keeps the map alive: element 0 holds 0 (not yet written) or its id. */
			uint64_t v = 1;
			if (elem(s->vm, BPF_MAP_LOOKUP_ELEM, (int)fd, 0, &v) || (v != 0 && v != id) ||
			    map_id(s->vm, (int)fd) != id)
				atomic_fetch_add(&s->bad, 1);
			else
				atomic_fetch_add(&s->hits_id, 1);
			if (bpfvm_close(s->vm, (int)fd))
				atomic_fetch_add(&s->bad, 1);
		}
	}
	return NULL;
}

TEST(handles_closed_and_reused_concurrently)
{
	struct shared s = { .vm = bpfvm_new(NULL) };
	pthread_t th[3];

	CHECK(s.vm != NULL);
	if (!s.vm)
		return;
	pthread_create(&th[0], NULL, churner, &s);
	pthread_create(&th[1], NULL, reader, &s);
	pthread_create(&th[2], NULL, reader, &s);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_U64(atomic_load(&s.bad), 0);
	CHECK(atomic_load(&s.last_id) >= CHURN);
	/* every reference was dropped: no map is left, and the next one reuses fd 0 with a new id */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	CHECK(bpfvm_bpf(s.vm, BPF_MAP_GET_NEXT_ID, &a, sizeof(a)) == -ENOENT);
	int fd = map_create(s.vm, 1);
	CHECK_EQ_U64(fd, 0);
	CHECK(map_id(s.vm, fd) > atomic_load(&s.last_id));
	printf("  lookups that found a map: %ld by fd, %ld by id\n", atomic_load(&s.hits_fd),
	       atomic_load(&s.hits_id));
	bpfvm_free(s.vm);
}

struct grow_reader {
	struct bpfvm *vm;
	int fd;
	atomic_bool stop;
	long bad, n;
};

static void *steady_reader(void *arg)
{
	struct grow_reader *g = arg;
	while (!atomic_load(&g->stop)) {
		uint64_t v = 0;
		if (elem(g->vm, BPF_MAP_LOOKUP_ELEM, g->fd, 3, &v) || v != 0x1234)
			g->bad++;
		g->n++;
	}
	return NULL;
}

TEST(table_grows_under_readers)
{
	struct grow_reader g = { .vm = bpfvm_new(NULL) };
	enum { MANY = 600 };
	static int fds[MANY];
	pthread_t th;

	CHECK(g.vm != NULL);
	if (!g.vm)
		return;
	g.fd = map_create(g.vm, 4);
	uint64_t v = 0x1234;
	CHECK(elem(g.vm, BPF_MAP_UPDATE_ELEM, g.fd, 3, &v) == 0);
	pthread_create(&th, NULL, steady_reader, &g);
	/* 16 -> 1024 entries: the fd and id tables are replaced several times while the reader runs */
	for (int i = 0; i < MANY; i++) {
		fds[i] = map_create(g.vm, 1);
		CHECK_EQ_U64(fds[i], i + 1);
	}
	for (int i = 0; i < MANY; i++)
		CHECK(bpfvm_close(g.vm, fds[i]) == 0);
	atomic_store(&g.stop, true);
	pthread_join(th, NULL);
	CHECK_EQ_U64(g.bad, 0);
	CHECK(g.n > 0);
	/* the ids of closed maps are gone; the first map's id is still found, and only it */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	CHECK(bpfvm_bpf(g.vm, BPF_MAP_GET_NEXT_ID, &a, sizeof(a)) == 0);
	CHECK_EQ_U64(a.next_id, map_id(g.vm, g.fd));
	a.start_id = a.next_id;
	CHECK(bpfvm_bpf(g.vm, BPF_MAP_GET_NEXT_ID, &a, sizeof(a)) == -ENOENT);
	CHECK(bpfvm_close(g.vm, g.fd) == 0);
	CHECK(bpfvm_close(g.vm, g.fd) == -EBADF);
	bpfvm_free(g.vm);
}

TEST(kind_and_range_errors)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	const struct bpf_insn p[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = 1 }, { .code = BPF_JMP | BPF_EXIT } };
	int pfd = bpfvm_prog_load(vm, BPF_PROG_TYPE_SOCKET_FILTER, p, 2, "one");
	uint64_t v = 0;

	CHECK(pfd >= 0);
	/* a program handle given as a map: -EINVAL, and the program is still usable afterwards */
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, pfd, 0, &v) == -EINVAL);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, -1, 0, &v) == -EBADF);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, 1 << 20, 0, &v) == -EBADF);
	CHECK(elem(vm, BPF_MAP_LOOKUP_ELEM, pfd + 1, 0, &v) == -EBADF);
	uint64_t r0 = 0;
	CHECK(bpfvm_prog_run(vm, pfd, BPFVM_ENGINE_INTERP, NULL, 0, &r0) == 0);
	CHECK_EQ_U64(r0, 1);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_id = 1; /* the program's id */
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	a.map_id = 0;
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	a.map_id = UINT32_MAX;
	CHECK(bpfvm_bpf(vm, BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)) == -ENOENT);
	CHECK(bpfvm_close(vm, pfd) == 0);
	bpfvm_free(vm);
}

/* bpfvm_prog_run() of a program whose run calls nothing borrows it without a reference (core.h
 * sys_borrow()): while other threads run whatever the low handles name, one thread loads programs and
 * creates maps into those handles and closes them, so that the objects die under the runs and their
 * memory comes back as the other kind.  A run either ran a program some handle named (its r0 says
 * which kind of thing it ran) or failed as a missing program fails; under ASan, a program freed while
 * it ran is a use after free. */
#define PROG_CHURN 1500
#define CHURN_PROG_LEN 1001 /* an even count of xors: r0 comes out as it went in */
struct prog_churn {
	struct bpfvm *vm;
	atomic_bool stop;
	atomic_long bad, ran;
};

static void *prog_churner(void *arg)
{
	struct prog_churn *c = arg;
	int open_fds[4] = { -1, -1, -1, -1 };

	for (int i = 0; i < PROG_CHURN; i++) {
		int *slot = &open_fds[i % 4];
		if (*slot >= 0 && bpfvm_close(c->vm, *slot))
			atomic_fetch_add(&c->bad, 1);
		if (i % 3 == 2) {
			*slot = map_create(c->vm, 1);
		} else {
			/* long enough (CHURN_PROG_LEN insns, no back-edge: still a run without calls) that runs
			 * overlap the closes */
			struct bpf_insn p[CHURN_PROG_LEN];
			p[0] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0x5eed00 | (i & 0xff) };
			p[1] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10, .src_reg = 0, .off = -8 };
			p[2] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = 0, .src_reg = 10, .off = -8 };
			for (int k = 3; k < CHURN_PROG_LEN - 2; k++)
				p[k] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_XOR | BPF_K, .dst_reg = 0, .imm = 0x10000 };
			p[CHURN_PROG_LEN - 2] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_OR | BPF_K, .dst_reg = 0 };
			p[CHURN_PROG_LEN - 1] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
			*slot = bpfvm_prog_load(c->vm, 0, p, CHURN_PROG_LEN, "churn");
		}
		if (*slot < 0)
			atomic_fetch_add(&c->bad, 1);
	}
	for (int i = 0; i < 4; i++)
		if (open_fds[i] >= 0)
			bpfvm_close(c->vm, open_fds[i]);
	atomic_store(&c->stop, true);
	return NULL;
}

static void *prog_runner(void *arg)
{
	struct prog_churn *c = arg;

	for (unsigned int n = 0; !atomic_load(&c->stop); n++) {
		uint64_t r0 = 0;
		int err = bpfvm_prog_run(c->vm, (int)(n % 6), BPFVM_ENGINE_DEFAULT, NULL, 0, &r0);
		if (err == 0 && r0 >> 8 == 0x5eed)
			atomic_fetch_add(&c->ran, 1);
		else if (err != -EBADF && err != -EINVAL) /* no handle / a map's handle */
			atomic_fetch_add(&c->bad, 1);
	}
	return NULL;
}

TEST(prog_run_races_close)
{
	struct prog_churn c = { .vm = bpfvm_new(NULL) };
	pthread_t ch, rn[2];

	atomic_init(&c.stop, false);
	atomic_init(&c.bad, 0);
	atomic_init(&c.ran, 0);
	CHECK(pthread_create(&rn[0], NULL, prog_runner, &c) == 0);
	CHECK(pthread_create(&rn[1], NULL, prog_runner, &c) == 0);
	CHECK(pthread_create(&ch, NULL, prog_churner, &c) == 0);
	pthread_join(ch, NULL);
	pthread_join(rn[0], NULL);
	pthread_join(rn[1], NULL);
	printf("  runs of a churned program: %ld\n", atomic_load(&c.ran));
	CHECK_EQ_U64(atomic_load(&c.bad), 0);
	CHECK(atomic_load(&c.ran) > 0);
	bpfvm_free(c.vm);
}

int main(void)
{
	RUN(prog_run_races_close);
	RUN(handles_closed_and_reused_concurrently);
	RUN(table_grows_under_readers);
	RUN(kind_and_range_errors);
	return test_done();
}
