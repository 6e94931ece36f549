/* cbpf.h -- classic BPF (struct sock_filter): Linux's checkers (net/core/filter.c bpf_check_classic(),
 * kernel/seccomp.c seccomp_check_filter()), the translation to eBPF (bpf_convert_filter()), the text
 * tcpdump prints (-d, -dd, -ddd) both ways, and raw sock_filter bytes.  The instruction list is
 * cbpf.def.  Depends on isa (and util). */
#ifndef BPFVM_CBPF_H
#define BPFVM_CBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>

#include "../isa/isa.h"

/* Operand syntax of a row (libpcap bpf_image()). */
enum cbpf_opd {
	OPD_NONE,   /* neg, tax, txa                    */
	OPD_A,      /* ret a (older libpcap: "ret")     */
	OPD_X,      /* add x, jeq x                     */
	OPD_IMM_D,  /* #%d: ret, add, sub, mul, div...  */
	OPD_IMM_X,  /* #0x%x: ld, and, or, jeq...       */
	OPD_PKT,    /* [%d]                             */
	OPD_IND,    /* [x + %d]                         */
	OPD_MEM,    /* M[%d]                            */
	OPD_MSH,    /* 4*([%d]&0xf)                     */
	OPD_LEN,    /* #pktlen                          */
	OPD_TARGET, /* ja: the absolute target          */
};

enum {
	CF_RET = 1u << 0,
	CF_LDABS = 1u << 1,       /* packet load at k, or an ancillary load (k >= SKF_AD_OFF) */
	CF_MEM_LD = 1u << 2,      /* reads M[k] */
	CF_MEM_ST = 1u << 3,      /* writes M[k] */
	CF_ALU = 1u << 4,
	CF_DIV = 1u << 5,         /* div/mod: k == 0 refused, X == 0 returns 0 */
	CF_SHIFT = 1u << 6,       /* k >= 32 refused */
	CF_JA = 1u << 7,
	CF_JCOND = 1u << 8,
	CF_SECCOMP = 1u << 9,     /* allowed in a seccomp filter as is */
	CF_SECCOMP_LD = 1u << 10, /* seccomp: a 32-bit aligned load from struct seccomp_data */
	CF_SECCOMP_LEN = 1u << 11,/* seccomp: sizeof(struct seccomp_data) */
};

enum cbpf_id {
#define CB(name_, ...) CBPF_##name_,
#include "cbpf.def"
#undef CB
	CBPF_COUNT
};

struct cbpf_info {
	const char *name;  /* "LD_H_ABS" */
	const char *mnem;  /* "ldh" */
	uint16_t code;
	uint8_t opd;       /* enum cbpf_opd */
	uint32_t flags;    /* CF_* */
};
extern const struct cbpf_info cbpf_info[CBPF_COUNT];

/* The row of a classic opcode, or -1 for one Linux refuses. */
int cbpf_decode(uint16_t code);

/* What the program is for: the checks and the translation's context differ. */
enum cbpf_kind {
	CBPF_SOCKET = 0,  /* socket filter: ctx is struct __sk_buff, packet loads through LD_ABS/LD_IND */
	CBPF_SECCOMP = 1, /* seccomp: ctx is struct seccomp_data (64 bytes) */
};

#define CBPF_MAX_INSNS BPF_MAXINSNS /* 4096 */

/* Linux's checks: bpf_check_classic() (every opcode known, jumps inside the program, M[] in range and
 * loaded only after a store on every path, division by a constant 0 and shifts by >= 32 refused,
 * unknown ancillary offsets refused, last insn a return), then for seccomp seccomp_check_filter() (the
 * allowed opcode list, loads from struct seccomp_data 32-bit aligned and in range).
 * Returns 0, or -EINVAL with one line "insn <pc>: <problem>" in log. */
int cbpf_check(const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind, struct diag *log);

/* Translates a checked program to eBPF as bpf_convert_filter() does: A in r0, X in r7, ctx in r6, r2
 * scratch, M[k] at r10 - 4 * (k + 1); packet loads are eBPF LD_ABS/LD_IND (out of bounds: the program
 * returns 0); ancillary loads read struct __sk_buff fields or call helpers.  Checks first (cbpf_check).
 * Returns 0 with a malloc'd array in *out (free() it) and its length in *cnt, or -EINVAL, -EOPNOTSUPP
 * (an ancillary load bpfvm cannot provide: nlattr, nlattr_nest, pay_offset) or -ENOMEM, with a line in
 * log. */
int cbpf_translate(const struct sock_filter *prog, size_t cnt, enum cbpf_kind kind, struct bpf_insn **out,
		   size_t *out_cnt, struct diag *log);

/* Input formats for cbpf_parse(). */
enum cbpf_fmt {
	CBPF_FMT_AUTO = 0, /* raw when the bytes are not text, else whichever text form it is */
	CBPF_FMT_RAW = 1,  /* struct sock_filter array, host byte order */
	CBPF_FMT_TEXT = 2, /* tcpdump -dd ("{ 0x28, 0, 0, 0x0000000c },"), -ddd (count line, then
			    * "40 0 0 12"), or -d ("(000) ldh      [12]") */
};

/* Parses a classic program.  Returns 0 with a malloc'd array in *out (free() it) and its length in *cnt,
 * or -EINVAL with "line <n>: <problem>" (text) or "<problem>" (raw) in log, -E2BIG above
 * CBPF_MAX_INSNS, -ENOMEM.  Parsing checks the syntax only: use cbpf_check() for the rules. */
int cbpf_parse(const void *src, size_t len, enum cbpf_fmt fmt, struct sock_filter **out, size_t *cnt,
	       struct diag *log);

/* One instruction as tcpdump -d prints it, "(003) jeq      #0x800           jt 4\tjf 5" (no newline).
 * snprintf semantics. */
size_t cbpf_image(const struct sock_filter *in, size_t pc, char *buf, size_t len);

#endif
