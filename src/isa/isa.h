/* isa.h -- the eBPF instruction set as data: ids generated from insn.def, per-id properties, decoding and
 * validation of raw instructions, the assembler and the disassembler.  Depends on util only. */
#ifndef BPFVM_ISA_H
#define BPFVM_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "../util/util.h"

/* A source line of an instruction, from an object's .BTF.ext line info (clang -g): what the loader
 * finds and the programs keep, so that fault and verifier messages can say "insn 17 (x.bpf.c:42)". */
struct isa_line {
	uint32_t insn;                /* first insn of the line */
	uint32_t line;
	char file[64];                /* the source file's base name */
};

/* Operand fields an instruction format uses; every field not named must be zero. */
enum {
	U_DST = 1 << 0,
	U_SRC = 1 << 1,
	U_OFF = 1 << 2,
	U_IMM = 1 << 3,
};

/* Format: which fields are operands, and how assembler/disassembler spell them. */
enum isa_fmt {
	FMT_NONE,       /* exit                                   */
	FMT_ALU_K,      /* add %r0, 1        | r0 += 1            */
	FMT_ALU_X,      /* add %r0, %r1      | r0 += r1           */
	FMT_NEG,        /* neg %r0           | r0 = -r0           */
	FMT_MOVSX,      /* movsx864 %r0, %r1 | r0 = (s8)r1        */
	FMT_END,        /* be16 %r0          | r0 = be16 r0       */
	FMT_JA,         /* ja +3             | goto +3            */
	FMT_JA32,       /* ja32 +3           | gotol +3           */
	FMT_JMP_K,      /* jeq %r1, 5, +3    | if r1 == 5 goto +3 */
	FMT_JMP_X,      /* jeq %r1, %r2, +3  | if r1 == r2 goto +3*/
	FMT_CALL,       /* call 1            | call 1             */
	FMT_CALL_LOCAL, /* call local +3     | call 3 (src 1)     */
	FMT_CALL_KFUNC, /* call kfunc 7      | call 7 (src 2)     */
	FMT_CALLX,      /* callx %r2         | callx r2           */
	FMT_LDDW,       /* lddw %r0, 0x1     | r0 = 0x1 ll        */
	FMT_LDABS,      /* ldabsw 12         | r0 = *(u32 *)skb[12] */
	FMT_LDIND,      /* ldindw %r1, 12    | r0 = *(u32 *)skb[r1 + 12] */
	FMT_LDX,        /* ldxw %r0, [%r1+4] | r0 = *(u32 *)(r1 + 4) */
	FMT_ST,         /* stw [%r1+4], 5    | *(u32 *)(r1 + 4) = 5  */
	FMT_STX,        /* stxw [%r1+4], %r2 | *(u32 *)(r1 + 4) = r2 */
	FMT_ATOMIC,     /* lock add [%r1+4], %r2                     */
	FMT_LDACQ,      /* load_acquire64 %r0, [%r1+4]               */
};

enum {
	F_ALU = 1u << 0,
	F_JMP = 1u << 1,
	F_LD = 1u << 2,
	F_LDX = 1u << 3,
	F_ST = 1u << 4,
	F_STX = 1u << 5,
	F_64 = 1u << 6,
	F_32 = 1u << 7,
	F_K = 1u << 8,
	F_X = 1u << 9,
	F_SIGNED = 1u << 10,
	F_COND = 1u << 11,
	F_CALL = 1u << 12,
	F_EXIT = 1u << 13,
	F_WIDE = 1u << 14,     /* two slots (lddw) */
	F_PKT = 1u << 15,      /* legacy LD_ABS/LD_IND */
	F_ATOMIC = 1u << 16,
	F_FETCH = 1u << 17,
	F_ACQREL = 1u << 18,
	F_INTERNAL = 1u << 19, /* produced by fixup only */
	F_R0 = 1u << 20,       /* a fetching atomic that returns the old value in r0, not in src (cmpxchg) */
	F_UNCHECKED = 1u << 21, /* has an unchecked twin (insn.def's XU() list) */
};

enum isa_id {
#define X(name_, ...) ISA_##name_,
#include "insn.def"
#undef X
	ISA_COUNT
};

/* The unchecked twins (insn.def's XU() list): ids after the rows', ISA_U_<name_>.  ISA_ID_COUNT bounds
 * every id a pre-decoded insn may hold. */
enum isa_twin_id {
	ISA_U_BEFORE_FIRST_ = ISA_COUNT - 1,
#define X(...)
#define XU(name_) ISA_U_##name_,
#include "insn.def"
#undef XU
#undef X
	ISA_ID_COUNT
};
_Static_assert(ISA_ID_COUNT <= 256, "vm_insn.id is uint8_t");

/* Twins and F_UNCHECKED agree: each XU() names a flagged row (and only once: a second would redefine
 * its ISA_U_ id), and there are as many as flagged rows. */
enum isa_row_flags {
#define X(name_, opc_, sel_, mnem_, op_, fmt_, sz_, flags_) ISA_FLAGS_##name_ = (int)(flags_),
#include "insn.def"
#undef X
};
#define X(...)
#define XU(name_) _Static_assert(ISA_FLAGS_##name_ & F_UNCHECKED, "XU(" #name_ "): the row has no F_UNCHECKED");
#include "insn.def"
#undef XU
#undef X
enum {
	ISA_UNCHECKED_ROWS = 0
#define X(name_, opc_, sel_, mnem_, op_, fmt_, sz_, flags_) + !!((flags_) & F_UNCHECKED)
#include "insn.def"
#undef X
};
_Static_assert(ISA_UNCHECKED_ROWS == ISA_ID_COUNT - ISA_COUNT, "every F_UNCHECKED row has an XU() twin");

/* The unchecked twin of row id (ISA_U_*), or 0 when it has none (0 is a row, ADD64_K, never a twin). */
extern const uint8_t isa_twin_of[ISA_COUNT];
/* The row of any id a pre-decoded insn may hold: a twin's row, a row itself. */
int isa_row_of(int id);
_Static_assert(sizeof(struct bpf_insn) == 8, "RFC 9669: one slot is 64 bits");

/* Each row's opcode byte and the value its selector puts in off, imm or src (0 where it selects by
 * another field), as constants: ISA_OPC_SDIV64_X == 0x3f, ISA_SELOFF_SDIV64_X == 1, ISA_SELIMM_AFADD64
 * == 0x01, ISA_SELSRC_CALL_LOCAL == 1.  For instruction arrays written as initializers (ISA_INSN()); code
 * that builds insns at run time calls isa_encode(). */
#define ISA_SELOFF_SEL_ANY        0
#define ISA_SELOFF_SEL_NEVER      0
#define ISA_SELOFF_SEL_OFF(n)     (n)
#define ISA_SELOFF_SEL_IMM(n)     0
#define ISA_SELOFF_SEL_SRC(n)     0
#define ISA_SELOFF_SEL_SRC_MAX(n) 0
#define ISA_SELIMM_SEL_ANY        0
#define ISA_SELIMM_SEL_NEVER      0
#define ISA_SELIMM_SEL_OFF(n)     0
#define ISA_SELIMM_SEL_IMM(n)     (n)
#define ISA_SELIMM_SEL_SRC(n)     0
#define ISA_SELIMM_SEL_SRC_MAX(n) 0
#define ISA_SELSRC_SEL_ANY        0
#define ISA_SELSRC_SEL_NEVER      0
#define ISA_SELSRC_SEL_OFF(n)     0
#define ISA_SELSRC_SEL_IMM(n)     0
#define ISA_SELSRC_SEL_SRC(n)     (n)
#define ISA_SELSRC_SEL_SRC_MAX(n) 0    /* lddw: src is the pseudo kind, an operand */
enum {
#define X(name_, opc_, sel_, ...) \
	ISA_OPC_##name_ = (opc_), ISA_SELOFF_##name_ = ISA_SELOFF_##sel_, ISA_SELIMM_##name_ = ISA_SELIMM_##sel_, \
	ISA_SELSRC_##name_ = ISA_SELSRC_##sel_,
#include "insn.def"
#undef X
};

/* One instruction of row ID as an initializer, e.g. struct bpf_insn p[] = { ISA_INSN(SDIV64_K, 1, 0, 0, 7),
 * ISA_INSN(EXIT, 0, 0, 0, 0) }: the opcode and the selector's field come from the row (leave that operand
 * 0).  The second slot of an lddw is ISA_INSN_LDDW_HI(imm). */
#define ISA_INSN(ID, dst_, src_, off_, imm_) \
	{ .code = ISA_OPC_##ID, .dst_reg = (dst_), .src_reg = (src_) + ISA_SELSRC_##ID, \
	  .off = (int16_t)((off_) + ISA_SELOFF_##ID), .imm = (int32_t)((imm_) + ISA_SELIMM_##ID) }
#define ISA_INSN_LDDW_HI(imm_) { .code = 0, .imm = (int32_t)(imm_) }

struct isa_info {
	const char *name;  /* "ADD64_K" */
	const char *mnem;  /* "add" */
	const char *op;    /* "+=" */
	uint8_t opc;
	uint8_t fmt;       /* enum isa_fmt */
	uint8_t size;      /* memory access bytes */
	uint32_t flags;
};

extern const struct isa_info isa_info[ISA_COUNT];

/* Pseudo sources of lddw (src_reg), as in Linux's uapi. */
enum {
	ISA_PSEUDO_IMM = 0,
	ISA_PSEUDO_MAP_FD = 1,
	ISA_PSEUDO_MAP_VALUE = 2,
	ISA_PSEUDO_BTF_ID = 3,
	ISA_PSEUDO_FUNC = 4,
	ISA_PSEUDO_MAP_IDX = 5,
	ISA_PSEUDO_MAP_IDX_VALUE = 6,
};

/* What an lddw's pseudo source says of its operands, here once: does it name a map (by fd, or by index
 * into PROG_LOAD's fd_array), does it name the map by index, and is its second imm an offset into the
 * map's value (the address of the value, not the map)? */
static inline bool isa_pseudo_is_map(unsigned src)
{
	return src == ISA_PSEUDO_MAP_FD || src == ISA_PSEUDO_MAP_IDX || src == ISA_PSEUDO_MAP_VALUE ||
	       src == ISA_PSEUDO_MAP_IDX_VALUE;
}
static inline bool isa_pseudo_by_idx(unsigned src) { return src == ISA_PSEUDO_MAP_IDX || src == ISA_PSEUDO_MAP_IDX_VALUE; }
static inline bool isa_pseudo_is_value(unsigned src) { return src == ISA_PSEUDO_MAP_VALUE || src == ISA_PSEUDO_MAP_IDX_VALUE; }

/* The row an instruction decodes to, or -1 when no row accepts it (internal rows never match).
 * Checks only the selector, not the unused fields: see isa_validate(). */
int isa_decode(const struct bpf_insn *in);

/* Encodes row `id` into *out: the opcode and the field its selector reads (off for sdiv/smod/movsx, imm
 * for atomics and byte swaps, src for calls and may_goto) come from the row, the other fields are the
 * operands as given (fields the format does not use should be 0: isa_validate() refuses them).  Returns
 * 0, or -EINVAL for an internal or unknown row, or operands the row does not accept (an lddw src beyond
 * the pseudo kinds, a register above 15). */
int isa_encode(int id, unsigned dst, unsigned src, int16_t off, int32_t imm, struct bpf_insn *out);

/* Fields of `in` that its format uses (U_* mask, including the field its selector reads). */
unsigned isa_used_fields(int id);

/* The registers an instruction writes, bit n standing for rn: derived from its row (format and flags)
 * here and nowhere else, so that the validator, the verifier, the interpreter's invariants and every
 * pass that asks "does this insn change rX?" agree.  ALU, loads, lddw and load-acquire write dst;
 * fetching atomics write src (cmpxchg r0 instead); legacy packet loads write r0 and scratch r1-r5, and
 * every call writes r0 and scratches r1-r5 (Linux's caller-saved registers); stores, jumps and exit
 * write nothing.  0 for an encoding no row accepts. */
#define ISA_REG(n) (1u << (n))
#define ISA_REGS_CALLER_SAVED 0x3fu /* r0..r5 */
unsigned isa_writes(int id, const struct bpf_insn *in);
unsigned isa_insn_writes(const struct bpf_insn *in);

/* Validates a whole program as raw bytes: every opcode known, unused fields zero, registers in range,
 * r10 never written (isa_writes()), jumps and calls inside the program and not into the middle of an lddw, lddw
 * complete, last instruction an exit or unconditional jump.  Returns 0, or -EINVAL with one line
 * "insn <pc>: <problem>" added to `log`. */
int isa_validate(const struct bpf_insn *insns, size_t cnt, struct diag *log);

/* The second slot of the lddw at pc: present, code/registers/offset zero, high imm zero for the pseudo
 * sources that take none.  0, or -EINVAL with "insn <pc>: ..." (the slot at fault) in `log`. */
int isa_check_wide(const struct bpf_insn *insns, size_t cnt, size_t pc, struct diag *log);
/* isa_check_wide() for every lddw of a sequence, stepping over second slots: whether raw instructions
 * are whole, with nothing else asked of them (a listing, not a program to load). */
int isa_check_slots(const struct bpf_insn *insns, size_t cnt, struct diag *log);
/* How many slots the instruction at `in` takes: 2 for a row with F_WIDE (lddw), 1 for every other
 * encoding, one no row accepts included (a listing steps over it one slot at a time).  Reads in[0] only. */
size_t isa_slots(const struct bpf_insn *in);

#define ISA_MAX_INSNS 1000000u /* Linux BPF_COMPLEXITY_LIMIT_INSNS */

/* Facts about a row's operands, derived from its format here and nowhere else, so that the validator,
 * the fixup pass, the JIT, the verifier, the loader and the objdump agree on them. */

/* Does the row name another insn of the program, pc-relative: jumps (not exit, calls of helpers or
 * kfuncs, or callx) and local calls. */
bool isa_has_target(int id);
/* Is that target's delta in imm (gotol, call local) rather than in off? */
bool isa_target_in_imm(int id);
/* Does `in` refer to a function of the program by its start (call local, or lddw of BPF_PSEUDO_FUNC)? */
bool isa_is_func_ref(const struct bpf_insn *in);
/* The pc an insn at pc names: its jump or call target, or the function an lddw refers to (pc + 1 + the
 * delta in the field its format uses).  Meaningful for isa_has_target() rows and isa_is_func_ref(). */
int64_t isa_target(const struct bpf_insn *in, size_t pc);
/* isa_target() of an insn already decoded as row `id` (isa_decode() is a scan of the table). */
int64_t isa_target_id(int id, const struct bpf_insn *in, size_t pc);

/* An unconditional jump (ja, gotol): the path goes on at its target only. */
static inline bool isa_is_goto(int id) { return id == ISA_JA || id == ISA_JA32; }
/* Does the path go on at the next insn?  Not after exit or an unconditional jump: the insns a function
 * (and a program) may end with (Linux: "last insn is not an exit or jmp"). */
static inline bool isa_falls_through(int id) { return id != ISA_EXIT && !isa_is_goto(id); }

/* Memory access of a row through a register (loads, stores, atomics; not the legacy packet loads, which
 * address the skb, nor lddw).  The access's size is isa_info[id].size. */
#define ISA_MEM_READ     1u  /* reads memory: loads, load-acquire, every read-modify-write atomic */
#define ISA_MEM_WRITE    2u  /* writes memory: stores, store-release, every read-modify-write atomic */
#define ISA_MEM_BASE_SRC 4u  /* the address is src + off (loads); otherwise dst + off */
unsigned isa_mem_access(int id);

/* The uapi operation (BPF_OP()) of an ALU or jump row, e.g. BPF_ADD, BPF_MOV, BPF_JEQ: what a pass that
 * handles a whole family of rows alike (the verifier's abstract ALU and compares) switches on. */
static inline unsigned isa_op(int id) { return BPF_OP(isa_info[id].opc); }

/* Assembler: both bpf_conformance syntax ("mov %r0, 1", "ldxw %r0, [%r1+4]", "lock add [%r1], %r2")
 * and LLVM syntax ("r0 = 1", "r0 = *(u32 *)(r1 + 4)"), with labels.  On success stores a malloc'd array
 * in *out (free() it) and its length in *cnt and returns 0; on failure returns -EINVAL with one line
 * "line <n>: <problem>" in `log`. */
int isa_assemble(const char *src, struct bpf_insn **out, size_t *cnt, struct diag *log);

/* Disassembler: one instruction in LLVM syntax as `llvm-objdump -d` prints it (without the address and
 * bytes columns).  `in` may point at the first slot of an lddw, in which case `avail` must be >= 2.
 * Returns the number of slots consumed (1 or 2); writes "<invalid>"-style text for unknown encodings. */
size_t isa_disasm_one(const struct bpf_insn *in, size_t avail, char *buf, size_t len);
#define ISA_DISASM_ALU32 1u /* as llvm-objdump --mcpu=v3/v4: w registers for sub-word loads/stores */
#define ISA_DISASM_HEX   2u /* numbers as llvm-objdump's default (--print-imm-hex): 0x1f, -0x1f, +0x1f */
#define ISA_DISASM_KERNEL 4u /* the Linux verifier log's notation: (r1 +4), goto pc+5, if r0 == 0x0, lddw in hex */
size_t isa_disasm_one_ex(const struct bpf_insn *in, size_t avail, unsigned flags, char *buf, size_t len);

#endif
