/* fuzz_verifier.c -- the verifier's promise, checked: a program it accepts never makes a run fault on
 * memory.  Programs are loaded with BPFVM_VERIFY_ON; those accepted run once through PROG_TEST_RUN
 * on a packet, with the interpreter's run-time checks still on (BPFVM_CHECKS_ALWAYS), and a memory
 * fault there (-EFAULT, or -EACCES for a context access) is a verifier bug: abort.  In the checked build
 * (-DBPFVM_CHECKED: asan, fuzz) the run skips what the verifier proved instead, and the interpreter's
 * own assertion aborts on an unchecked access outside the run's memory.  Budget exhaustion (-ELOOP) is
 * not a bug: a proven program may still run long.
 *
 * Input: byte 0 picks the type (XDP, tc, socket filter), byte 1 the packet length; then either raw
 * struct bpf_insn[] (byte 2 even) or, byte 2 odd, bytes 3..10 seed a generator of programs made of the
 * shapes verifiers see (packet bounds checks and loads, map lookups with or without null checks, stack
 * stores and loads, ALU on bounded values, forward branches), which reach the verifier's deeper checks
 * far more often than random bytes.  Maps: fds 0..2 are an array, a hash and a ring buffer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t types[] = { BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER };

#define INSN(c, d, s_, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) })

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Appends one idiom at in[*n] (room for 16 insns is guaranteed by the caller). */
static void idiom(uint64_t *s, struct bpf_insn *in, size_t *n, uint32_t type)
{
	size_t k = *n;
	uint8_t r = (uint8_t)(rnd(s) % 10), q = (uint8_t)(rnd(s) % 10);
	int16_t off = (int16_t)(rnd(s) % 2 ? (int)(rnd(s) % 64) : (int)(rnd(s) % 600) - 300);
	switch (rnd(s) % 9) {
	case 0: /* packet pointers and a bounds check of a random width, then a load */
		if (type == BPF_PROG_TYPE_XDP) {
			in[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 6, 1, 0, 0);
			in[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 7, 1, 4, 0);
		} else {
			in[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 6, 1, 76, 0);
			in[k++] = INSN(BPF_LDX | BPF_W | BPF_MEM, 7, 1, 80, 0);
		}
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 8, 6, 0, 0);
		in[k++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 8, 0, 0, (int32_t)(rnd(s) % 40));
		in[k++] = INSN(BPF_JMP | (rnd(s) % 2 ? BPF_JGT : BPF_JGE) | BPF_X, 8, 7, 1, 0);
		in[k++] = INSN(BPF_LDX | BPF_B | BPF_MEM, 0, 6, (int16_t)(rnd(s) % 48), 0);
		break;
	case 1: /* a map lookup with a stack key, maybe null-checked, then a load through it */
		in[k++] = INSN(BPF_ST | BPF_W | BPF_MEM, 10, 0, -8, (int32_t)(rnd(s) % 6));
		in[k++] = INSN(BPF_ST | BPF_W | BPF_MEM, 10, 0, -4, 0);
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
		in[k++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8);
		in[k++] = INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, (int32_t)(rnd(s) % 2));
		in[k++] = INSN(0, 0, 0, 0, 0);
		in[k++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		if (rnd(s) % 4)
			in[k++] = INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1, 0);
		in[k++] = INSN(BPF_LDX | BPF_DW | BPF_MEM, 3, 0, (int16_t)(rnd(s) % 24), 0);
		break;
	case 2: /* stack store and load at a random offset and size */
		in[k++] = INSN(BPF_STX | BPF_DW | BPF_MEM, 10, r, (int16_t)(-8 * (int)(1 + rnd(s) % 70)), 0);
		in[k++] = INSN(BPF_LDX | (uint8_t)((rnd(s) % 4) << 3) | BPF_MEM, q, 10, (int16_t)(-(int)(1 + rnd(s) % 520)), 0);
		break;
	case 3: /* bounded index into a map value */
		in[k++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, q, 0, 0, (int32_t)(rnd(s) % 32));
		in[k++] = INSN(BPF_ALU64 | BPF_ADD | BPF_X, r, q, 0, 0);
		in[k++] = INSN(BPF_LDX | BPF_B | BPF_MEM, 0, r, off, 0);
		break;
	case 4: /* ALU on random registers */
		in[k++] = INSN((uint8_t)((rnd(s) % 2 ? BPF_ALU64 : BPF_ALU) | ((rnd(s) % 13) << 4) | (rnd(s) % 2 ? BPF_X : BPF_K)), r,
			       q, 0, (int32_t)(rnd(s) % 70) - 5);
		break;
	case 5: /* a forward conditional jump */
		in[k++] = INSN((uint8_t)(BPF_JMP | ((1 + rnd(s) % 13) << 4) | (rnd(s) % 2 ? BPF_X : BPF_K)), r, q,
			       (int16_t)(rnd(s) % 3), (int32_t)(rnd(s) % 40));
		break;
	case 6: /* a load through a random register */
		in[k++] = INSN(BPF_LDX | (uint8_t)((rnd(s) % 4) << 3) | BPF_MEM, q, r, off, 0);
		break;
	case 7: /* a store through a random register */
		in[k++] = INSN(BPF_STX | (uint8_t)((rnd(s) % 4) << 3) | BPF_MEM, r, q, off, 0);
		break;
	default: /* a ring buffer reservation, submitted or not */
		in[k++] = INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, 2);
		in[k++] = INSN(0, 0, 0, 0, 0);
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, (int32_t)(rnd(s) % 64));
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 0);
		in[k++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_reserve);
		in[k++] = INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 4, 0);
		in[k++] = INSN(BPF_STX | BPF_B | BPF_MEM, 0, 0, (int16_t)(rnd(s) % 70), 0);
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 0, 0, 0);
		in[k++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 0);
		in[k++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, rnd(s) % 2 ? BPF_FUNC_ringbuf_submit : BPF_FUNC_ringbuf_discard);
		break;
	}
	*n = k;
}

/* FUZZ_VERIFIER_STATS set: how many inputs loaded and ran, printed at exit (is the generator reaching
 * accepted programs at all?) */
static unsigned long loaded, tried;

static void stats(void)
{
	fprintf(stderr, "fuzz_verifier: %lu of %lu programs verified and ran\n", loaded, tried);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tried++ && getenv("FUZZ_VERIFIER_STATS"))
		atexit(stats);
	if (size < 3)
		return 0;
	uint32_t type = types[data[0] % 3];
	uint32_t pkt_len = 14u + data[1];
	struct bpf_insn prog[512];
	size_t n = 0;
	if (data[2] & 1) {
		if (size < 11)
			return 0;
		uint64_t seed;
		memcpy(&seed, data + 3, 8);
		seed |= 1;
		/* r1 (ctx) kept in r9; every idiom may use registers as they are */
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 9, 1, 0, 0);
		size_t parts = 1 + (size > 11 ? data[11] % 12 : 4);
		for (size_t i = 0; i < parts && n < 480; i++) {
			prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 1, 9, 0, 0);
			idiom(&seed, prog, &n, type);
		}
		prog[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 2);
		prog[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	} else {
		n = (size - 3) / sizeof(struct bpf_insn);
		if (!n || n > 512)
			return 0;
		memcpy(prog, data + 3, n * sizeof(struct bpf_insn));
	}
	struct bpfvm_opts o = { .sz = sizeof(o), .nr_cpus = 1, .verify = BPFVM_VERIFY_ON,
#ifdef BPFVM_CHECKED
		/* the checked build asserts that each unchecked access lies in the run's memory: runs skip
		 * what the verifier proved, and a wrong proof aborts at the insn */
		.checks = BPFVM_CHECKS_DEFAULT,
#else
		/* elsewhere a wrong proof must show as a fault: every check stays */
		.checks = BPFVM_CHECKS_ALWAYS,
#endif
	};
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		abort();
	union bpf_attr a;
	static const uint32_t maps[3][4] = { { BPF_MAP_TYPE_ARRAY, 4, 16, 4 }, { BPF_MAP_TYPE_HASH, 8, 16, 8 },
					     { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096 } };
	for (int i = 0; i < 3; i++) {
		memset(&a, 0, sizeof(a));
		a.map_type = maps[i][0];
		a.key_size = maps[i][1];
		a.value_size = maps[i][2];
		a.max_entries = maps[i][3];
		if (bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a)) != i)
			abort();
	}
	int fd = bpfvm_prog_load(vm, type, prog, n, "f");
	if (fd >= 0) {
		loaded++;
		uint8_t pkt[14 + 256];
		for (size_t i = 0; i < sizeof(pkt); i++)
			pkt[i] = (uint8_t)(i * 13 + data[1]);
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)fd;
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = pkt_len;
		bpfvm_set_insn_limit(vm, 100000);
		long err = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
		if (err == -EFAULT || err == -EACCES) {
			fprintf(stderr, "fuzz_verifier: a verified program faulted: %s\n", bpfvm_errmsg(vm));
			abort();
		}
	}
	bpfvm_free(vm);
	return 0;
}
