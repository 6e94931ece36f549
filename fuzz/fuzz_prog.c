/* fuzz_prog.c -- arbitrary instructions through PROG_LOAD and, when they load, one run on the
 * interpreter.  Until the verifier exists this is the safety net's own test: whatever a loaded program
 * does, the engine's run-time checks must keep it inside its stack, its context and packet, and the
 * maps it references (ASan sees any escape), and every refusal must be a negative errno with a message.
 *
 * Input: byte 0 picks the program type (and with its bit 7 an untrusted instance: bpfvm_opts.untrusted), byte 1
 * the memory length; the rest is struct bpf_insn[].
 * Three maps exist before the load (fds 0..2: array, hash, ring buffer) so that map references in the
 * input can resolve, and helpers that take them get exercised.
 *
 * Invariant mode (byte 0 == 0xff): bytes 2..9 seed a generator of (byte 1 + 1) * 16 random plain
 * programs built from what moves or uses the frame (r10 copies and arithmetic, stack stores and loads,
 * atomics with any registers, r10 as a fetch source included, local calls, back-jumps) and accesses
 * around the run's memory.  Each is loaded and run; the checks are the sandbox's invariants:
 *  - r10 never changes and every access the interpreter lets through is inside the run's stack or
 *    regions: asserted by the interpreter itself at every insn in checked builds (-DBPFVM_CHECKED:
 *    build-asan, whose fuzz_prog-replay `make test` runs, and build-fuzz);
 *  - nothing around the run's memory changes: guard bytes on both sides, checked after every run of
 *    either mode, in every build. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <bpfvm.h>
#include "../tests/unit/test_util.h" /* INSN(), INSN_ID() */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t types[] = {
	0 /* UNSPEC: r1 = mem, r2 = len */, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER,
	BPF_PROG_TYPE_RAW_TRACEPOINT,
};

static void make_map(struct bpfvm *vm, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max)
{
	if (mk(vm, type, ks, vs, max, 0) < 0)
		abort(); /* the fixture itself must work */
}

#define GUARD 64
#define MEM_MAX 256

/* Runs a loaded plain program on mem_len bytes inside guards; aborts if the guards change, or if a run
 * of an untrusted instance returned an address of its memory (the "no pointer in r0" rule). */
static int run_guarded(struct bpfvm *vm, int fd, size_t mem_len, uint64_t *r0, bool untrusted)
{
	uint8_t buf[GUARD + MEM_MAX + GUARD], *mem = buf + GUARD;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, mem_len, r0);
	for (size_t i = 0; i < sizeof(buf); i++)
		if ((i < GUARD || i >= GUARD + mem_len) && buf[i] != (uint8_t)(i * 7 + 1)) {
			fprintf(stderr, "fuzz_prog: byte %zd outside the run's memory changed\n", (ssize_t)i - GUARD);
			abort();
		}
	if (err > 0)
		abort();
	if (!err && untrusted && mem_len && *r0 >= (uintptr_t)mem && *r0 <= (uintptr_t)mem + mem_len) {
		fprintf(stderr, "fuzz_prog: an untrusted run returned the address of its memory\n");
		abort();
	}
	return err;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13; /* xorshift64 */
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One instruction of a generated program at pc (of cnt, the last being exit). */
static struct bpf_insn gen_insn(uint64_t *s, size_t pc, size_t cnt)
{
	static const int32_t atomic_imm[] = { 0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110 };
	/* r10 as a written register now and then only: the validator refuses those, and the rest of the
	 * program should mostly get to run */
	uint8_t d = (uint8_t)(rnd(s) % 32 ? rnd(s) % 10 : 10), r = (uint8_t)(rnd(s) % 11);
	int16_t slot = (int16_t)(-8 * (int)(1 + rnd(s) % 70)); /* below r10, past a frame sometimes */
	int16_t moff = (int16_t)((int)(rnd(s) % 300) - 20);    /* around the memory at r1 */

	switch (rnd(s) % 25 % 13) { /* raw random bytes (the default) 1 time in 25 */
	case 0: return INSN_ID(MOV64_X, d, 10, 0, 0);                              /* mov rD, r10 */
	case 1: return INSN_ID(ADD64_K, d, 0, 0, (int32_t)slot);                   /* add rD, -8k */
	case 2: return INSN_ID(ADD64_X, d, r, 0, 0);                               /* add rD, rS */
	case 3: return INSN_ID(STXDW, 10, r, slot, 0);                           /* stxdw [r10-8k], rS */
	case 4: return INSN_ID(LDXDW, d, 10, slot, 0);                           /* ldxdw rD, [r10-8k] */
	case 5: return INSN(rnd(s) & 1 ? OPC(AADD64) : OPC(AADD32), rnd(s) & 1 ? 10 : d, r, slot, /* imm picks the op */
			    atomic_imm[rnd(s) % (sizeof(atomic_imm) / sizeof(atomic_imm[0]))]);
	case 6: return INSN(rnd(s) & 1 ? OPC(LDXB) : OPC(LDXDW), d, 1, moff, 0); /* ldx rD, [r1+off] */
	case 7: return INSN(rnd(s) & 1 ? OPC(STB) : OPC(STDW), 1, 0, moff, 0x5a); /* st [r1+off], 0x5a */
	case 8: return INSN_ID(LDXDW, d, r, (int16_t)(rnd(s) % 16 * 8 - 64), 0); /* ldxdw rD, [rS+off] */
	case 9:                                                               /* call local, forward */
		return pc + 2 < cnt ? INSN_ID(CALL_LOCAL, 0, 0, 0, (int32_t)(rnd(s) % (cnt - pc - 2))) : INSN_ID(EXIT, 0, 0, 0, 0);
	case 10: return INSN_ID(JA, 0, 0, (int16_t)-(int)(1 + rnd(s) % (pc + 1)), 0); /* ja back (budget) */
	case 11: return INSN_ID(EXIT, 0, 0, 0, 0);                              /* exit */
	default: { uint64_t v = rnd(s); struct bpf_insn in; memcpy(&in, &v, sizeof(in)); return in; }
	}
}

static int invariant_mode(const uint8_t *data, size_t size)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	memcpy(&seed, data + 2, size - 2 < 8 ? size - 2 : 8);
	seed |= 1;
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 1;
	o.pin_root = "/tmp/bpfvm-fuzz-prog";
	o.untrusted = (int)(seed >> 1 & 1); /* half the seeds */
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		return 0;
	bpfvm_set_insn_limit(vm, 1000);
	unsigned loaded = 0, faulted = 0, total = ((unsigned)data[1] + 1) * 16;
	for (unsigned n = 0; n < total; n++) {
		struct bpf_insn p[40];
		size_t cnt = 4 + rnd(&seed) % 36;
		for (size_t pc = 0; pc + 1 < cnt; pc++)
			p[pc] = gen_insn(&seed, pc, cnt);
		p[cnt - 1] = INSN_ID(EXIT, 0, 0, 0, 0);
		int fd = bpfvm_prog_load(vm, 0, p, cnt, "gen");
		if (fd < 0) {
			if (!bpfvm_errmsg(vm)[0])
				abort();
			continue;
		}
		uint64_t r0;
		loaded++;
		faulted += run_guarded(vm, fd, 1 + rnd(&seed) % MEM_MAX, &r0, o.untrusted) != 0;
		bpfvm_close(vm, fd);
	}
	if (getenv("FUZZ_PROG_VERBOSE"))
		fprintf(stderr, "invariants: %u programs, %u loaded, %u faulted\n", total, loaded, faulted);
	bpfvm_free(vm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == 0xff)
		return invariant_mode(data, size);
	if (size < 2 + sizeof(struct bpf_insn))
		return 0;
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 2;
	o.pin_root = "/tmp/bpfvm-fuzz-prog";
	o.untrusted = data[0] >> 7;
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		return 0;
	bpfvm_set_insn_limit(vm, 100000); /* programs may loop: the budget ends them with -ELOOP */
	make_map(vm, BPF_MAP_TYPE_ARRAY, 4, 16, 4);
	make_map(vm, BPF_MAP_TYPE_HASH, 4, 8, 8);
	make_map(vm, BPF_MAP_TYPE_RINGBUF, 0, 0, 4096);

	uint32_t type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	size_t mem_len = data[1];
	size_t cnt = (size - 2) / sizeof(struct bpf_insn);
	struct bpf_insn *insns = malloc(cnt * sizeof(*insns));
	if (!insns) {
		bpfvm_free(vm);
		return 0;
	}
	memcpy(insns, data + 2, cnt * sizeof(*insns)); /* aligned copy */
	int fd = bpfvm_prog_load(vm, type, insns, cnt, "fuzz");
	bool verbose = getenv("FUZZ_PROG_VERBOSE") != NULL; /* corpus triage: what each input does */
	if (fd < 0 && verbose)
		fprintf(stderr, "load: %d %s", fd, bpfvm_errmsg(vm));
	if (fd < 0) {
		if (!bpfvm_errmsg(vm)[0])
			abort(); /* a refusal must say why */
	} else {
		uint8_t mem[MEM_MAX], out[512];
		uint64_t r0 = 0;
		for (size_t i = 0; i < sizeof(mem); i++)
			mem[i] = (uint8_t)(i * 7 + 1);
		if (type == 0 || type == BPF_PROG_TYPE_RAW_TRACEPOINT) {
			int err = run_guarded(vm, fd, mem_len, &r0, o.untrusted);
			if (verbose)
				fprintf(stderr, "run: %d r0=0x%llx %s\n", err, (unsigned long long)r0, err ? bpfvm_errmsg(vm) : "");
		} else {
			size_t out_len = 0;
			struct bpfvm_pkt_result res;
			int err = bpfvm_prog_run_packet(vm, fd, mem, mem_len < 14 ? 14 : mem_len, out, sizeof(out),
							&out_len, &res);
			if (verbose)
				fprintf(stderr, "run packet: %d r0=0x%llx %s\n", err, (unsigned long long)res.retval,
					err ? bpfvm_errmsg(vm) : "");
			if (err > 0 || (!err && out_len > sizeof(out)))
				abort();
		}
		bpfvm_close(vm, fd);
	}
	free(insns);
	bpfvm_free(vm);
	return 0;
}
