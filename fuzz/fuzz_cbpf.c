/* fuzz_cbpf.c -- classic BPF from arbitrary bytes: parsed as raw struct sock_filter or tcpdump text,
 * checked by both rule sets, translated, loaded and run.  A translation of a program the checker
 * accepted must pass the eBPF structural validation, load, and run without a fault (classic programs
 * cannot loop or touch memory outside the packet, M[] and the context); a refusal must say why.
 * Anything else aborts, so libFuzzer keeps the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/seccomp.h>

#include <bpfvm.h>
#include "cbpf/cbpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_kind(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind)
{
	struct diag log;
	struct bpf_insn *out = NULL;
	size_t out_cnt = 0;

	diag_init(&log, 1 << 14);
	int err = cbpf_translate(prog, cnt, kind, &out, &out_cnt, &log);
	if (err) {
		if (!log.len || (err != -EINVAL && err != -EOPNOTSUPP && err != -ENOMEM))
			abort(); /* a refusal must say why, with a documented errno */
		diag_fini(&log);
		return;
	}
	if (isa_validate(out, out_cnt, &log))
		abort(); /* the translation produced eBPF the validator refuses */
	free(out);
	diag_fini(&log);

	int fd = bpfvm_cbpf_load(vm, prog, cnt, kind, "fuzz");
	if (fd < 0)
		abort();
	if (kind == CBPF_SOCKET) {
		uint8_t pkt[96];
		uint32_t r = 0;
		for (size_t i = 0; i < sizeof(pkt); i++)
			pkt[i] = (uint8_t)(i * 13 + 5);
		for (uint32_t caplen = 0; caplen <= sizeof(pkt); caplen += 24)
			if (bpfvm_prog_run_capture(vm, fd, pkt, caplen, caplen + 10, &r))
				abort();
	} else {
		struct seccomp_data sd = { .nr = 1, .arch = 0xc000003e, .args = { 1, 2, 3 } };
		uint32_t r = 0;
		if (bpfvm_seccomp_run(vm, fd, &sd, &r))
			abort();
	}
	bpfvm_close(vm, fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag log;
	struct sock_filter *prog = NULL;
	size_t cnt = 0;

	diag_init(&log, 1 << 14);
	int err = cbpf_parse(data, size, CBPF_FMT_AUTO, &prog, &cnt, &log);
	if (err) {
		if (!log.len)
			abort();
		diag_fini(&log);
		return 0;
	}
	diag_fini(&log);

	/* what -d prints must parse back (k of operand-less insns aside, the same program) */
	size_t need = 0;
	char line[128];
	for (size_t i = 0; i < cnt; i++)
		need += cbpf_image(&prog[i], i, line, sizeof(line)) + 1;
	char *text = malloc(need + 1);
	if (text) {
		size_t at = 0;
		int ok = 1;
		for (size_t i = 0; i < cnt; i++) {
			if (cbpf_decode(prog[i].code) < 0)
				ok = 0; /* printed as "unimp": not parseable, by design */
			at += cbpf_image(&prog[i], i, text + at, need + 1 - at);
			text[at++] = '\n';
		}
		text[at] = 0;
		struct sock_filter *back = NULL;
		size_t bcnt = 0;
		diag_init(&log, 1 << 14);
		/* jump targets past 8 bits / beyond the program print fine but cannot be parsed back */
		if (ok && cbpf_check(prog, cnt, CBPF_SOCKET, &log) == 0) {
			if (cbpf_parse(text, at, CBPF_FMT_TEXT, &back, &bcnt, &log) || bcnt != cnt)
				abort();
			for (size_t i = 0; i < cnt; i++)
				if (back[i].code != prog[i].code || back[i].jt != prog[i].jt || back[i].jf != prog[i].jf)
					abort();
		}
		free(back);
		diag_fini(&log);
		free(text);
	}

	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 1;
	o.pin_root = "/tmp/bpfvm-fuzz-cbpf";
	struct bpfvm *vm = bpfvm_new(&o);
	if (vm) {
		one_kind(vm, prog, cnt, CBPF_SOCKET);
		one_kind(vm, prog, cnt, CBPF_SECCOMP);
		bpfvm_free(vm);
	}
	free(prog);
	return 0;
}
