/* bench_maps.c -- user-space map operation cost: ns per lookup and per update through bpfvm_bpf() for
 * ARRAY, HASH, LRU_HASH and LPM_TRIE with 1 and 2 threads, and the same through the kernel's bpf() when
 * it is usable (root).  Each figure is the best of 3 runs of N operations on 1000 pre-inserted keys. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpfvm.h>

#define NKEYS 1000
#define NOPS 200000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct target {
	struct bpfvm *vm; /* NULL: kernel */
	int fd;
	uint32_t type, ks;
};

static long do_bpf(const struct target *t, int cmd, union bpf_attr *a)
{
	if (t->vm)
		return bpfvm_bpf(t->vm, cmd, a, sizeof(*a));
	long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static void make_key(const struct target *t, uint32_t i, uint8_t key[8])
{
	memset(key, 0, 8);
	if (t->type == BPF_MAP_TYPE_LPM_TRIE) {
		uint32_t plen = 32, addr = 0x0a000000u + i * 256;
		memcpy(key, &plen, 4);
		key[4] = (uint8_t)(addr >> 24), key[5] = (uint8_t)(addr >> 16), key[6] = (uint8_t)(addr >> 8);
		key[7] = (uint8_t)addr;
	} else {
		memcpy(key, &i, 4);
	}
}

static long elem(const struct target *t, int cmd, const void *key, void *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)t->fd;
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)val;
	return do_bpf(t, cmd, &a);
}

static bool setup(struct target *t, struct bpfvm *vm, uint32_t type)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	t->vm = vm;
	t->type = type;
	t->ks = type == BPF_MAP_TYPE_LPM_TRIE ? 8 : 4;
	a.map_type = type;
	a.key_size = t->ks;
	a.value_size = 8;
	a.max_entries = type == BPF_MAP_TYPE_LPM_TRIE ? NKEYS : NKEYS * 2;
	a.map_flags = type == BPF_MAP_TYPE_LPM_TRIE ? BPF_F_NO_PREALLOC : 0;
	long fd = do_bpf(t, BPF_MAP_CREATE, &a);
	if (fd < 0)
		return false;
	t->fd = (int)fd;
	for (uint32_t i = 0; i < NKEYS; i++) {
		uint8_t key[8];
		uint64_t v = i;
		make_key(t, i, key);
		if (elem(t, BPF_MAP_UPDATE_ELEM, key, &v))
			return false;
	}
	return true;
}

struct job {
	const struct target *t;
	int cmd;
	uint32_t seed;
	long errors;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	uint32_t x = j->seed;
	for (int i = 0; i < NOPS; i++) {
		uint8_t key[8];
		uint64_t v = (uint64_t)i;
		x = x * 1103515245u + 12345u;
		make_key(j->t, (x >> 8) % NKEYS, key);
		if (elem(j->t, j->cmd, key, &v))
			j->errors++;
	}
	return NULL;
}

static double run(const struct target *t, int cmd, int threads, long *errors)
{
	double best = 1e30;
	*errors = 0;
	for (int rep = 0; rep < 3; rep++) {
		pthread_t th[2];
		struct job jobs[2];
		double t0 = now_ns();
		for (int i = 0; i < threads; i++) {
			jobs[i] = (struct job){ t, cmd, 1u + (uint32_t)i * 7919u, 0 };
			pthread_create(&th[i], NULL, worker, &jobs[i]);
		}
		for (int i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
			*errors += jobs[i].errors;
		}
		double ns = (now_ns() - t0) / NOPS; /* per op per thread: wall time / ops of one thread */
		if (ns < best)
			best = ns;
	}
	return best;
}

static const char *tname(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_LPM_TRIE: return "lpm_trie";
	default: return "?";
	}
}

int main(void)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH,
					  BPF_MAP_TYPE_LPM_TRIE };
	struct bpfvm *vm = bpfvm_new(NULL);
	if (!vm) {
		fprintf(stderr, "bench_maps: bpfvm_new failed\n");
		return 1;
	}
	printf("user-space map ops, ns/op (wall time per op of one thread; %d keys, %d ops per thread)\n", NKEYS, NOPS);
	for (int k = 0; k < 2; k++) {
		bool kernel = k == 1;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
			struct target t;
			memset(&t, 0, sizeof(t));
			if (!setup(&t, kernel ? NULL : vm, types[i])) {
				printf("%-6s %-9s skipped: %s\n", kernel ? "kernel" : "bpfvm", tname(types[i]),
				       kernel ? "bpf() MAP_CREATE/UPDATE unavailable (needs root)" : bpfvm_errmsg(vm));
				if (kernel)
					break;
				continue;
			}
			for (int threads = 1; threads <= 2; threads++) {
				long el, eu;
				double lk = run(&t, BPF_MAP_LOOKUP_ELEM, threads, &el);
				double up = run(&t, BPF_MAP_UPDATE_ELEM, threads, &eu);
				printf("%-6s %-9s %d thread%s  lookup %7.1f ns  update %7.1f ns%s\n", kernel ? "kernel" : "bpfvm",
				       tname(types[i]), threads, threads > 1 ? "s" : " ", lk, up,
				       el || eu ? "  (errors!)" : "");
			}
			if (kernel)
				close(t.fd);
			else
				bpfvm_close(vm, t.fd);
		}
	}
	bpfvm_free(vm);
	return 0;
}
