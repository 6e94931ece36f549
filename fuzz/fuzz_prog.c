/* fuzz_prog.c -- arbitrary instructions through PROG_LOAD and, when they load, one run on the
 * interpreter.  Until the verifier exists this is the safety net's own test: whatever a loaded program
 * does, the engine's run-time checks must keep it inside its stack, its context and packet, and the
 * maps it references (ASan sees any escape), and every refusal must be a negative errno with a message.
 *
 * Input: byte 0 picks the program type, byte 1 the memory length; the rest is struct bpf_insn[].
 * Three maps exist before the load (fds 0..2: array, hash, ring buffer) so that map references in the
 * input can resolve, and helpers that take them get exercised. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t types[] = {
	0 /* UNSPEC: r1 = mem, r2 = len */, BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER,
	BPF_PROG_TYPE_RAW_TRACEPOINT,
};

static void make_map(struct bpfvm *vm, uint32_t type, uint32_t ks, uint32_t vs, uint32_t max)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	if (bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a)) < 0)
		abort(); /* the fixture itself must work */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 + sizeof(struct bpf_insn))
		return 0;
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 2;
	o.pin_root = "/tmp/bpfvm-fuzz-prog";
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
		uint8_t mem[256], out[512];
		uint64_t r0 = 0;
		for (size_t i = 0; i < sizeof(mem); i++)
			mem[i] = (uint8_t)(i * 7 + 1);
		if (type == 0 || type == BPF_PROG_TYPE_RAW_TRACEPOINT) {
			int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, mem_len, &r0);
			if (verbose)
				fprintf(stderr, "run: %d r0=0x%llx %s\n", err, (unsigned long long)r0, err ? bpfvm_errmsg(vm) : "");
			if (err > 0)
				abort();
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
