/* check.c -- the classic BPF opcode table and Linux's checks on classic programs:
 * net/core/filter.c bpf_check_classic() + check_load_and_stores(), kernel/seccomp.c
 * seccomp_check_filter().  Linux answers only -EINVAL; the log here says which insn and why. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>

#include "cbpf.h"

const struct cbpf_info cbpf_info[CBPF_COUNT] = {
#define CB(name_, code_, mnem_, opd_, flags_) [CBPF_##name_] = { #name_, mnem_, code_, opd_, flags_ },
#include "cbpf.def"
#undef CB
};

int cbpf_decode(uint16_t code)
{
	/* A scan of the ~50 rows: no second, hand-made index to keep in step with cbpf.def. */
#define CB(name_, code_, ...) if (code == (code_)) return CBPF_##name_;
#include "cbpf.def"
#undef CB
	return -1;
}

/* bpf_anc_helper(): the ancillary offsets Linux knows (SKF_AD_OFF + SKF_AD_*), as a byte offset from
 * SKF_AD_OFF, or -1.  SKF_AD_MAX itself is past the end. */
static bool anc_known(uint32_t k)
{
	uint32_t off = k - (uint32_t)SKF_AD_OFF;

	return k >= (uint32_t)SKF_AD_OFF && off < SKF_AD_MAX && off % 4 == 0;
}

static int reject(struct diag *log, size_t pc, const char *fmt, ...) PRINTF_FMT(3, 4);
static int reject(struct diag *log, size_t pc, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_printf(log, "insn %zu: %s", pc, msg);
	return -EINVAL;
}

/* check_load_and_stores(): along every path, M[k] is read only after a store to it.  One pass in
 * program order suffices because all jumps go forward: masks[pc] is what is valid on every edge into pc. */
static int check_mem(const struct sock_filter *prog, size_t cnt, struct diag *log)
{
	uint16_t *masks = malloc(cnt * sizeof(*masks));
	uint16_t valid = 0;
	int err = 0;

	if (!masks) {
		diag_printf(log, "out of memory checking %zu insns", cnt);
		return -ENOMEM;
	}
	memset(masks, 0xff, cnt * sizeof(*masks));
	for (size_t pc = 0; pc < cnt && !err; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t fl = cbpf_info[cbpf_decode(f->code)].flags;

		valid &= masks[pc];
		if (fl & CF_MEM_ST) {
			valid |= (uint16_t)(1u << f->k);
		} else if (fl & CF_MEM_LD) {
			if (!(valid & (1u << f->k)))
				err = reject(log, pc, "M[%u] is read before it is written on some path", f->k);
		} else if (fl & CF_JA) {
			masks[pc + 1 + f->k] &= valid;
			valid = 0xffff;
		} else if (fl & CF_JCOND) {
			masks[pc + 1 + f->jt] &= valid;
			masks[pc + 1 + f->jf] &= valid;
			valid = 0xffff;
		}
	}
	free(masks);
	return err;
}

/* seccomp_check_filter() on a program bpf_check_classic() accepted. */
static int check_seccomp(const struct sock_filter *prog, size_t cnt, struct diag *log)
{
	for (size_t pc = 0; pc < cnt; pc++) {
		const struct sock_filter *f = &prog[pc];
		const struct cbpf_info *ci = &cbpf_info[cbpf_decode(f->code)];

		if (ci->flags & CF_SECCOMP_LD) {
			if (f->k >= sizeof(struct seccomp_data) || f->k % 4)
				return reject(log, pc, "seccomp: load from struct seccomp_data at %d: must be 32-bit "
					      "aligned and below %zu", (int32_t)f->k, sizeof(struct seccomp_data));
		} else if (!(ci->flags & (CF_SECCOMP | CF_SECCOMP_LEN))) {
			return reject(log, pc, "seccomp: opcode 0x%02x (%s) is not allowed in a seccomp filter",
				      f->code, ci->name);
		}
	}
	return 0;
}

int cbpf_check(const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind, struct diag *log)
{
	if (!prog || cnt == 0) {
		diag_printf(log, "empty program");
		return -EINVAL;
	}
	if (cnt > CBPF_MAX_INSNS) {
		diag_printf(log, "program has %zu insns, more than the limit %u", cnt, CBPF_MAX_INSNS);
		return -EINVAL;
	}
	for (size_t pc = 0; pc < cnt; pc++) {
		const struct sock_filter *f = &prog[pc];
		int id = cbpf_decode(f->code);

		if (id < 0)
			return reject(log, pc, "unknown opcode 0x%02x", f->code);
		uint32_t fl = cbpf_info[id].flags;
		if ((fl & CF_DIV) && BPF_SRC(f->code) == BPF_K && f->k == 0)
			return reject(log, pc, "%s by constant 0", cbpf_info[id].mnem);
		if ((fl & CF_SHIFT) && f->k >= 32)
			return reject(log, pc, "shift by %u (must be below 32)", f->k);
		if ((fl & (CF_MEM_LD | CF_MEM_ST)) && f->k >= BPF_MEMWORDS)
			return reject(log, pc, "scratch memory M[%u] out of range (M[0..%d])", f->k, BPF_MEMWORDS - 1);
		/* libpcap's bpf_filter() wraps pc + 1 + k around 32 bits, so the loops it compiles `protochain`
		 * to jump back; Linux accepts forward jumps only. */
		if ((fl & CF_JA) && (uint32_t)(pc + 1 + f->k) <= pc)
			return reject(log, pc, "ja jumps back to insn %u: only forward jumps are allowed (libpcap "
				      "loops, e.g. for 'protochain', cannot run as a Linux filter)", (uint32_t)(pc + 1 + f->k));
		if ((fl & CF_JA) && f->k >= cnt - pc - 1)
			return reject(log, pc, "ja target %zu out of range (program has %zu insns)",
				      pc + 1 + (size_t)f->k, cnt);
		if ((fl & CF_JCOND) && (pc + f->jt + 1 >= cnt || pc + f->jf + 1 >= cnt))
			return reject(log, pc, "%s target jt %zu / jf %zu out of range (program has %zu insns)",
				      cbpf_info[id].mnem, pc + 1 + f->jt, pc + 1 + f->jf, cnt);
		if ((fl & CF_LDABS) && f->k >= (uint32_t)SKF_AD_OFF && !anc_known(f->k))
			return reject(log, pc, "unknown ancillary load at SKF_AD_OFF + %u", f->k - (uint32_t)SKF_AD_OFF);
	}
	if (!(cbpf_info[cbpf_decode(prog[cnt - 1].code)].flags & CF_RET))
		return reject(log, cnt - 1, "last insn is not a return");
	int err = check_mem(prog, cnt, log);
	if (!err && kind == CBPF_SECCOMP)
		err = check_seccomp(prog, cnt, log);
	return err;
}
