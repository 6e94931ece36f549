/* test_verifier.c -- the verifier against the kernel's.  Each case is a program in assembly, loaded by
 * BPF_PROG_LOAD in the running kernel and in a bpfvm instance that verifies (BPFVM_VERIFY_ON), with maps
 * of the same shape on both sides.  Both must accept it, or both reject it with a log containing the
 * case's expected reason (Linux's wording).  Without bpf() the cases still run against bpfvm alone with
 * their expected verdicts.  Then: every example object loads with verification on. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"
#include "verifier/verifier.h"

static char klog[1 << 20];

/* Maps a case refers to by marker: lddw rN, MARK ll becomes a map reference. */
enum { M_ARRAY, M_HASH, M_RINGBUF, M_PROGS, M_RDONLY, M_WRONLY, M_COUNT };
static const uint32_t mark_base = 0x7eadc000;
/* lddw rN, FUNC_REL(k) ll: the address of the function at insn (this one + 1 + k) (src 4, BPF_PSEUDO_FUNC) */
static const uint32_t func_base = 0x7eadd000;
#define FUNC_REL(k) "0x7eadd0" #k

struct vcase {
	const char *name;
	uint32_t type;      /* BPF_PROG_TYPE_*, or AT(type, expected_attach_type) */
	const char *src;
	const char *reject; /* NULL: accepted; else bpfvm's message exactly, after "insn N: " */
	const char *kwords; /* the kernel's line where its words differ (why in a comment); NULL: reject */
	const char *nokernel; /* why the kernel is not asked; NULL: it must agree (verdict, words, insn) */
	const char *license;  /* NULL: "GPL" */
};

#define AT(type_, attach_) ((type_) | (uint32_t)(attach_) << 16)

#define XDP BPF_PROG_TYPE_XDP
#define SKF BPF_PROG_TYPE_SOCKET_FILTER
#define TC BPF_PROG_TYPE_SCHED_CLS
#define KP BPF_PROG_TYPE_KPROBE
#define CGSKB BPF_PROG_TYPE_CGROUP_SKB
#define CGSOCK BPF_PROG_TYPE_CGROUP_SOCK
#define SOCKADDR BPF_PROG_TYPE_CGROUP_SOCK_ADDR
#define SOCKOPS BPF_PROG_TYPE_SOCK_OPS
#define CGDEV BPF_PROG_TYPE_CGROUP_DEVICE
#define SKMSG BPF_PROG_TYPE_SK_MSG
#define SYSCTL BPF_PROG_TYPE_CGROUP_SYSCTL
#define SKLOOKUP BPF_PROG_TYPE_SK_LOOKUP
#define FLOWD BPF_PROG_TYPE_FLOW_DISSECTOR
#define TP BPF_PROG_TYPE_TRACEPOINT
#define PE BPF_PROG_TYPE_PERF_EVENT
#define RAWTP BPF_PROG_TYPE_RAW_TRACEPOINT

/* r6 = data, r7 = data_end for XDP */
#define XDP_PKT "r6 = *(u32 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 4)\n"
#define LOOKUP(m) "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = " m " ll\ncall 1\n"
#define LOOKUP8(m) "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = " m " ll\ncall 1\n"
/* the key from the packet: not a constant, so an array lookup may fail */
#define LOOKUPV(m) "r2 = *(u32 *)(r1 + 12)\n*(u32 *)(r10 - 4) = r2\nr2 = r10\nr2 += -4\nr1 = " m " ll\ncall 1\n"
#define ARRAY "0x7eadc000"
#define HASH "0x7eadc001"
#define RINGBUF "0x7eadc002"
#define PROGS "0x7eadc003"
#define RDONLY "0x7eadc004"
#define WRONLY "0x7eadc005"
/* Linux permits these to privileged programs (allow_ptr_leaks); bpfvm refuses them always */
#define RESERVE "r1 = " RINGBUF " ll\nr2 = 8\nr3 = 0\ncall 131\n"
#define RESERVE8 RESERVE RESERVE RESERVE RESERVE RESERVE RESERVE RESERVE RESERVE
#define RESERVE64 RESERVE8 RESERVE8 RESERVE8 RESERVE8 RESERVE8 RESERVE8 RESERVE8 RESERVE8
#define PTR_LEAK_RULE "the kernel refuses it to unprivileged programs only, and bpf() is unprivileged-disabled here"

#define PAD "r9 = 0\nr9 = 0\nr9 = 0\nr9 = 0\nr9 = 0\nr9 = 0\nr9 = 0\nr9 = 0\n"
/* r2 an unknown scalar; `a` on the fall-through path, `b` on the taken one, then the join */
#define PREC_SPLIT(a, b) "r2 = *(u32 *)(r1 + 12)\n" a "\nif r2 > 10 goto +9\n" PAD "goto +1\n" b "\n" PAD PAD "r9 = 1\n"

/* the same split on r2 as it is (r2 set by the caller) */
#define SPLIT_R2(a, b) a "\nif r2 > 10 goto +9\n" PAD "goto +1\n" b "\n" PAD PAD "r9 = 1\n"

/* Most cases name no kwords or nokernel: those fields stay NULL without being written out */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct vcase cases[] = {
	{ "minimal", XDP, "r0 = 2\nexit\n", NULL },
	{ "r0 uninitialized at exit", XDP, "exit\n", "R0 !read_ok" },
	{ "uninitialized register read", XDP, "r0 = r5\nexit\n", "R5 !read_ok" },
	{ "stack write then read", XDP, "r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit\n", NULL },
	/* Linux lets CAP_PERFMON programs read stack they never wrote (allow_uninit_stack) */
	{ "uninitialized stack read", XDP, "r0 = *(u64 *)(r10 - 8)\nexit\n", NULL },
	{ "stack out of bounds", XDP, "r1 = 0\n*(u64 *)(r10 - 520) = r1\nr0 = 0\nexit\n", "invalid write to stack R10 off=-520 size=8" },
	{ "misaligned stack", XDP, "r1 = 0\n*(u32 *)(r10 - 6) = r1\nr0 = 0\nexit\n", "misaligned stack access off 0+0+-6 size 4" },
	/* atomics are checked strictly, variable offsets included (check_ptr_alignment()) */
	{ "atomic on a map value aligned", XDP, LOOKUP(ARRAY) "if r0 == 0 goto +2\nr1 = 1\nlock *(u64 *)(r0 + 0) += r1\nr0 = 0\nexit\n", NULL },
	{ "atomic on a map value misaligned", XDP, LOOKUP(ARRAY) "if r0 == 0 goto +2\nr1 = 1\nlock *(u32 *)(r0 + 2) += r1\nr0 = 0\nexit\n",
	  "misaligned value access off 0+0+2 size 4" },
	{ "atomic on a map value at a variable offset", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +5\nr2 = *(u32 *)(r0 + 0)\nr2 &= 2\nr0 += r2\nr1 = 1\nlock *(u32 *)(r0 + 0) += r1\nr0 = 0\nexit\n",
	  "misaligned value access off (0x0; 0x2)+0+0 size 4" },
	/* load-acquire and store-release too (Linux check_atomic_load/store(): strict_alignment_once), and
	 * neither on ctx or packet (atomic_ptr_type_ok()) */
	{ "load-acquire from a map value misaligned", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +1\nr0 = load_acquire((u16 *)(r0 + 5))\nr0 = 0\nexit\n",
	  "misaligned value access off 0+0+5 size 2" },
	{ "store-release into a map value misaligned", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +2\nr1 = 1\nstore_release((u32 *)(r0 + 2), r1)\nr0 = 0\nexit\n",
	  "misaligned value access off 0+0+2 size 4" },
	{ "load-acquire from a map value aligned", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +1\nr0 = load_acquire((u32 *)(r0 + 4))\nr0 = 0\nexit\n", NULL },
	{ "load-acquire from ctx", XDP, "r0 = load_acquire((u32 *)(r1 + 0))\nr0 = 0\nexit\n",
	  "BPF_ATOMIC loads from R1 ctx is not allowed" },
	{ "store-release into ctx", XDP, "r2 = 0\nstore_release((u32 *)(r1 + 0), r2)\nr0 = 0\nexit\n",
	  "invalid bpf_context access off=0 size=4" },
	{ "store-release into the packet", XDP,
	  "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto +2\n"
	  "r5 = 0\nstore_release((u32 *)(r2 + 0), r5)\nr0 = 0\nexit\n", "misaligned packet access off 2+0+0+0 size 4" },
	{ "store-release into the packet, aligned", XDP,
	  "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto +2\n"
	  "r5 = 0\nstore_release((u32 *)(r2 + 2), r5)\nr0 = 0\nexit\n", "BPF_ATOMIC stores into R2 pkt is not allowed" },
	{ "load-acquire from the packet", XDP,
	  "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto +1\n"
	  "r0 = load_acquire((u32 *)(r2 + 0))\nr0 = 0\nexit\n", "BPF_ATOMIC loads from R2 pkt is not allowed" },
	{ "scalar dereference", XDP, "r1 = 100\nr0 = *(u32 *)(r1 + 0)\nexit\n", "R1 invalid mem access 'scalar'" },
	{ "unreachable insn", XDP, "r0 = 0\nexit\nr0 = 1\nexit\n", "unreachable insn 2" },
	{ "jump out of range", XDP, "r0 = 0\nif r0 == 0 goto +5\nexit\n", "jump out of range from insn 1 to 7" },
	{ "div by zero constant", XDP, "r0 = 1\nr0 /= 0\nexit\n", "div by zero" },
	{ "invalid shift", XDP, "r0 = 1\nr0 <<= 64\nexit\n", "invalid shift 64" },
	{ "packet read proven", XDP, XDP_PKT "r2 = r6\nr2 += 14\nif r2 > r7 goto +2\nr0 = *(u8 *)(r6 + 13)\nexit\nr0 = 1\nexit\n",
	  NULL },
	{ "packet read past the check", XDP,
	  XDP_PKT "r2 = r6\nr2 += 14\nif r2 > r7 goto +2\nr0 = *(u8 *)(r6 + 14)\nexit\nr0 = 1\nexit\n",
	  "invalid access to packet, off=14 size=1, R6(id=0,off=14,r=14)" },
	{ "packet read unchecked", XDP, XDP_PKT "r0 = *(u8 *)(r6 + 0)\nexit\n", "invalid access to packet, off=0 size=1, R6(id=0,off=0,r=0)" },
	{ "packet check reversed operands", XDP,
	  XDP_PKT "r2 = r6\nr2 += 8\nif r7 < r2 goto +2\nr0 = *(u64 *)(r6 + 0)\nexit\nr0 = 1\nexit\n", NULL },
	{ "packet check right-open", XDP,
	  XDP_PKT "r2 = r6\nr2 += 8\nif r2 >= r7 goto +2\nr0 = *(u64 *)(r6 + 0)\nexit\nr0 = 1\nexit\n", NULL },
	{ "packet write xdp", XDP,
	  XDP_PKT "r2 = r6\nr2 += 1\nif r2 > r7 goto +1\n*(u8 *)(r6 + 0) = 1\nr0 = 2\nexit\n", NULL },
	{ "ctx bad offset", XDP, "r0 = *(u32 *)(r1 + 64)\nexit\n", "invalid bpf_context access off=64 size=4" },
	{ "ctx write xdp", XDP, "r2 = 0\n*(u32 *)(r1 + 12) = r2\nr0 = 0\nexit\n", "invalid bpf_context access off=12 size=4" },
	{ "socket filter reads len", SKF, "r0 = *(u32 *)(r1 + 0)\nexit\n", NULL },
	{ "socket filter data denied", SKF, "r0 = *(u32 *)(r1 + 76)\nexit\n", "invalid bpf_context access off=76 size=4" },
	{ "tc packet via skb data", TC,
	  "r6 = *(u32 *)(r1 + 76)\nr7 = *(u32 *)(r1 + 80)\nr2 = r6\nr2 += 4\nif r2 > r7 goto +2\nr0 = *(u32 *)(r6 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "ld_abs in socket filter", SKF, "r6 = r1\nr0 = *(u8 *)skb[12]\nexit\n", NULL },
	{ "ld_abs in xdp", XDP, "r6 = r1\nr0 = *(u8 *)skb[12]\nexit\n", "BPF_LD_[ABS|IND] instructions not allowed for this program type" },
	{ "map lookup null-checked", XDP, LOOKUP(ARRAY) "if r0 == 0 goto +2\nr0 = *(u64 *)(r0 + 0)\nexit\nr0 = 0\nexit\n", NULL },
	{ "hash lookup not null-checked", XDP, LOOKUP8(HASH) "r0 = *(u64 *)(r0 + 0)\nexit\n", "R0 invalid mem access 'map_value_or_null'" },
	{ "array lookup of a variable key not null-checked", XDP, LOOKUPV(ARRAY) "r0 = *(u64 *)(r0 + 0)\nexit\n",
	  "R0 invalid mem access 'map_value_or_null'" },
	/* Linux 6.14+: an array lookup with a constant key in range cannot fail */
	{ "array lookup of a constant key", XDP, LOOKUP(ARRAY) "r0 = *(u64 *)(r0 + 0)\nexit\n", NULL },
	{ "array lookup of a constant key out of range", XDP,
	  "r1 = 9\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = " ARRAY " ll\ncall 1\nr0 = *(u64 *)(r0 + 0)\nexit\n",
	  "R0 invalid mem access 'map_value_or_null'" },
	{ "map value past its size", XDP, LOOKUP(ARRAY) "if r0 == 0 goto +2\nr0 = *(u64 *)(r0 + 8)\nexit\nr0 = 0\nexit\n",
	  "invalid access to map value, value_size=8 off=8 size=8" },
	{ "map value variable index bounded", XDP,
	  LOOKUPV(ARRAY) "if r0 == 0 goto +5\nr1 = *(u32 *)(r0 + 0)\nr1 &= 7\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "map value variable index unbounded", XDP,
	  LOOKUPV(ARRAY) "if r0 == 0 goto +4\nr1 = *(u32 *)(r0 + 0)\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nexit\nr0 = 0\nexit\n",
	  "R0 unbounded memory access, make sure to bounds check any such access" },
	{ "map key from uninitialized stack", XDP, "r2 = r10\nr2 += -8\nr1 = " HASH " ll\ncall 1\nr0 = 0\nexit\n", NULL },
	{ "map key past the stack", XDP, "r2 = r10\nr2 += -4\nr1 = " HASH " ll\ncall 1\nr0 = 0\nexit\n",
	  "invalid read from stack R2 off=-4 size=8" },
	{ "lookup on a ring buffer", XDP, LOOKUP(RINGBUF) "r0 = 0\nexit\n", "invalid zero-sized read" },
	{ "ringbuf output into an array", XDP,
	  "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = " ARRAY " ll\nr3 = 8\nr4 = 0\ncall 130\nr0 = 0\nexit\n",
	  "cannot pass map_type 2 into func bpf_ringbuf_output#130" },
	{ "pointer arithmetic on map_ptr", XDP, "r1 = " ARRAY " ll\nr1 += 8\nr0 = 0\nexit\n", "R1 pointer arithmetic on map_ptr prohibited" },
	{ "bitwise on pointer", XDP, "r2 = r10\nr2 &= 8\nr0 = 0\nexit\n", "R2 bitwise operator &= on pointer prohibited" },
	{ "pointer arithmetic on or-null", XDP, LOOKUP8(HASH) "r0 += 8\nr0 = 0\nexit\n", "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first" },
	{ "ringbuf reserve and submit", XDP,
	  "r1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +5\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit\nr0 = 0\nexit\n", NULL },
	/* the kernel's reservation takes two ids of one counter (the or-null id, then the reference) */
	{ "ringbuf reservation leaked", XDP, "r1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nr0 = 0\nexit\n", "Unreleased reference id=1 alloc_insn=4",
	  .kwords = "Unreleased reference id=2 alloc_insn=4" },
	{ "ringbuf size not constant", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr1 = " RINGBUF " ll\nr3 = 0\ncall 131\nr0 = 0\nexit\n", "R2 is not a known constant'" },
	{ "helper not allowed for type", SKF, "r1 = r1\nr2 = 0\ncall 44\nr0 = 0\nexit\n", "program of this type cannot use helper bpf_xdp_adjust_head#44" },
	/* bpf_printk("%u", v) sets r1..r3 only: Linux's proto has two arguments, the rest are unchecked */
	{ "trace_printk with r4 and r5 unset", XDP,
	  "r1 = 0x7525\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 7\ncall 6\nr0 = 2\nexit\n", NULL },
	{ "unknown helper", XDP, "call 100000\nr0 = 0\nexit\n", "invalid func unknown#100000" },
	{ "bounded loop", XDP, "r0 = 0\nr1 = 0\nr1 += 1\nr0 += 2\nif r1 < 100 goto -3\nexit\n", NULL },
	/* a state equal to one of its own ancestors: Linux is_state_visited() */
	{ "infinite loop", XDP, "r0 = 2\nr1 = 0\nif r1 == 0 goto -1\nexit\n", "infinite loop detected at insn 2" },
	{ "infinite loop on a stack slot", XDP,
	  "r0 = 2\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = *(u64 *)(r10 - 8)\nif r1 == 0 goto -2\nexit\n",
	  "infinite loop detected at insn 3" },
	/* a may_goto round's imprecise scalars that changed since the round before become unknown (Linux
	 * widen_imprecise_scalars()): three rounds, not the 1,000,000-insn limit (found by fuzz_jitv) */
	{ "may_goto loop of an accumulator", XDP,
	  "r8 = 0\nr4 = 0\nl: may_goto e\nr8 += r4\nr8 *= 6\nr8 &= 65535\nr4 += 1\ngoto l\ne: r0 = r8\nr0 &= 3\nexit\n", NULL },
	/* the way out of a may_goto loop leads back to it: once the budget is spent this never ends, and a
	 * state there with as many rounds begun as its ancestor is no later round (Linux may_goto_depth) */
	{ "may_goto's way out leads back to it", XDP,
	  "r0 = 0\nl: may_goto e\ngoto l\ne: if r0 == 1 goto x\ngoto l\nx: exit\n", "infinite loop detected at insn 1" },
	/* converges to an unknown value the walk has seen before: not a loop that never ends */
	{ "loop halving an unknown", XDP,
	  "r1 = *(u32 *)(r1 + 12)\nr0 = 2\nif r1 == 0 goto +2\nr1 >>= 1\ngoto -3\nexit\n", NULL },
	/* bench_jit's array lookup loop: the null and non-null paths meet at the loop's end 200 times */
	{ "loop of map lookups", XDP,
	  "r6 = 0\nr7 = 200\nr1 = r7\nr1 &= 3\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = " ARRAY " ll\n"
	  "call 1\nif r0 == 0 goto +2\nr1 = *(u64 *)(r0 + 0)\nr6 += r1\nr7 += -1\nif r7 != 0 goto -13\nr0 = 2\nexit\n", NULL },
	{ "bpf-to-bpf call", XDP, "r1 = 3\ncall local +2\nr0 = 0\nexit\nr0 = r1\nr0 += 1\nexit\n", NULL },
	{ "callee reads caller's uninitialized r6", XDP, "call local +2\nr0 = 0\nexit\nr0 = r6\nexit\n", "R6 !read_ok" },
	/* a bound checked on a copy holds for the original (Linux links scalars copied by mov) */
	{ "bounds of a copy", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nif r3 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "bounds of a copy, then changed", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr3 *= 1\nif r3 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  "invalid unbounded variable-offset read from stack R4" },
	/* linked scalars (Linux sync_linked_regs()): through a spill, `r += K`, 32-bit and sign-extending
	 * copies, and at most 6 copies followed per jump */
	{ "bounds of a spilled copy", XDP,
	  "r2 = *(u32 *)(r1 + 12)\n*(u64 *)(r10 - 8) = r2\nif r2 > 56 goto +6\nr3 = *(u64 *)(r10 - 8)\nr4 = r10\n"
	  "r4 += -64\nr4 += r3\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "bounds of a copy plus a constant", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr3 += 8\nif r3 > 64 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\n"
	  "r0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "a copy plus two constants is not linked", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr3 += 4\nr3 += 4\nif r3 > 64 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\n"
	  "r0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  "invalid unbounded variable-offset read from stack R4" },
	{ "bounds of a 32-bit copy", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nw3 = w2\nif w3 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "a 32-bit copy of a wider value is not linked", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 <<= 8\nw3 = w2\nif r3 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  "invalid unbounded variable-offset read from stack R4" },
	{ "bounds of a sign-extended copy", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 127\nr3 = (s8)r2\nif r3 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "six linked copies", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr4 = r2\nr5 = r2\nr6 = r2\nr7 = r2\nr8 = r2\nif r2 > 56 goto +10\nr1 = r10\n"
	  "r1 += -64\nr1 += r7\nr0 = *(u8 *)(r1 + 0)\nr0 += r3\nr0 += r4\nr0 += r5\nr0 += r6\nr0 += r8\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "the seventh linked copy is not followed", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr4 = r2\nr5 = r2\nr6 = r2\nr7 = r2\nr8 = r2\nif r2 > 56 goto +10\nr1 = r10\n"
	  "r1 += -64\nr1 += r8\nr0 = *(u8 *)(r1 + 0)\nr0 += r3\nr0 += r4\nr0 += r5\nr0 += r6\nr0 += r7\nexit\nr0 = 0\nexit\n",
	  "invalid unbounded variable-offset read from stack R1" },
	/* dead copies are not counted (Linux forgets dead registers) */
	{ "dead copies do not count", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = r2\nr4 = r2\nr5 = r2\nr6 = r2\nr7 = r2\nr8 = r2\nif r8 > 56 goto +5\nr1 = r10\nr1 += -64\n"
	  "r1 += r2\nr0 = *(u8 *)(r1 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	/* callx (Linux refuses every one: "unknown opcode 8d"): bpfvm checks one whose target it proves as
	 * the call it makes, and refuses any other in Linux's words */
	{ "callx of a loaded function", XDP, "r1 = " FUNC_REL(03) " ll\ncallx r1\nexit\nr0 = 2\nexit\n", NULL,
	  .nokernel = "Linux refuses every callx (unknown opcode 8d)" },
	{ "callx of a helper id", XDP, "r1 = 5\ncallx r1\nr0 = 2\nexit\n", NULL,
	  .nokernel = "Linux refuses every callx (unknown opcode 8d)" },
	{ "callx callee reads the caller's r6", XDP, "r1 = " FUNC_REL(04) " ll\ncallx r1\nr0 = 2\nexit\nr0 = r6\nexit\n",
	  "R6 !read_ok", .nokernel = "Linux refuses every callx (unknown opcode 8d)" },
	{ "callx of a helper checks its arguments", XDP, "r1 = 0\nr2 = 1\ncallx r2\nr0 = 2\nexit\n",
	  "R1 type=scalar expected=map_ptr", .nokernel = "Linux refuses every callx (unknown opcode 8d)" },
	{ "callx of an unknown scalar", XDP, "r2 = *(u32 *)(r1 + 12)\ncallx r2\nr0 = 2\nexit\n", "unknown opcode 8d" },
	{ "callx past a loaded function", XDP, "r1 = " FUNC_REL(04) " ll\nr1 += 8\ncallx r1\nexit\nr0 = 2\nexit\n",
	  "R1 pointer arithmetic on func prohibited" , .kwords = "unknown opcode 8d" },
	{ "bounds of a narrowing fill", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nif r2 > 56 goto +7\n*(u64 *)(r10 - 8) = r2\nr3 = *(u32 *)(r10 - 8)\nr4 = r10\nr4 += -64\n"
	  "r4 += r3\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  NULL },
	{ "a narrowing fill of a wider value is not linked", XDP,
	  "r2 = *(u32 *)(r1 + 12)\n*(u64 *)(r10 - 8) = r2\nr3 = *(u16 *)(r10 - 8)\nif r2 > 56 goto +5\nr4 = r10\nr4 += -64\n"
	  "r4 += r3\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n",
	  "invalid variable-offset read from stack R4 var_off=(0x0; 0xffff) off=-64 size=1" },
	{ "tail call", XDP, "r2 = " PROGS " ll\nr3 = 0\ncall 12\nr0 = 2\nexit\n", NULL },
	{ "write into read-only map", XDP, LOOKUP(RDONLY) "if r0 == 0 goto +1\n*(u32 *)(r0 + 0) = 1\nr0 = 0\nexit\n",
	  "write into map forbidden, value_size=8 off=0 size=4" },
	{ "size argument zero", KP, "r1 = r10\nr1 += -8\nr2 = 0\ncall 16\nr0 = 0\nexit\n", "R2 invalid zero-sized read: u64=[0,0]" },
	/* return ranges (Linux check_return_code) */
	{ "cgroup_skb returns 1", CGSKB, "r0 = 1\nexit\n", NULL },
	{ "cgroup_skb returns 2", CGSKB, "r0 = 2\nexit\n",
	  "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]" },
	{ "cgroup_skb egress returns 3", AT(CGSKB, BPF_CGROUP_INET_EGRESS), "r0 = 3\nexit\n", NULL },
	{ "cgroup_skb returns a pointer", CGSKB, "r0 = r1\nexit\n", "At program exit the register R0 is not a known value (ctx)" },
	{ "cgroup_skb returns a field", CGSKB, "r0 = *(u32 *)(r1 + 0)\nexit\n",
	  "At program exit the register R0 has smin=0 smax=4294967295 should have been in [0, 1]" },
	{ "sock_addr returns 2", AT(SOCKADDR, BPF_CGROUP_INET4_CONNECT), "r0 = 2\nexit\n", "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]" },
	{ "sock_addr bind4 returns 3", AT(SOCKADDR, BPF_CGROUP_INET4_BIND), "r0 = 3\nexit\n", NULL },
	{ "sk_lookup returns 2", AT(SKLOOKUP, BPF_SK_LOOKUP), "r0 = 2\nexit\n", "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]" },
	/* context rules of each type (Linux *_is_valid_access) */
	{ "cgroup_skb reads family", CGSKB, "r0 = *(u32 *)(r1 + 88)\nr0 &= 1\nexit\n", NULL },
	{ "socket filter reads family", SKF, "r0 = *(u32 *)(r1 + 88)\nexit\n", "invalid bpf_context access off=88 size=4" },
	{ "sock_ops writes reply", SOCKOPS, "r2 = 0\n*(u32 *)(r1 + 4) = r2\nr0 = 1\nexit\n", NULL },
	{ "sock_ops writes op", SOCKOPS, "r2 = 0\n*(u32 *)(r1 + 0) = r2\nr0 = 1\nexit\n", "invalid bpf_context access off=0 size=4" },
	{ "sock_ops bytes_received as u32", SOCKOPS, "r0 = *(u32 *)(r1 + 168)\nr0 = 1\nexit\n", "invalid bpf_context access off=168 size=4" },
	{ "sock_ops packet via skb_data", SOCKOPS,
	  "r6 = *(u64 *)(r1 + 192)\nr7 = *(u64 *)(r1 + 200)\nr2 = r6\nr2 += 1\nif r2 > r7 goto +1\nr0 = *(u8 *)(r6 + 0)\nr0 = 1\nexit\n",
	  NULL },
	{ "sock_ops packet unchecked", SOCKOPS, "r6 = *(u64 *)(r1 + 192)\nr0 = *(u8 *)(r6 + 0)\nr0 = 1\nexit\n",
	  "invalid access to packet, off=0 size=1, R6(id=0,off=0,r=0)" },
	{ "cgroup_sock create writes mark", CGSOCK, "r2 = 1\n*(u32 *)(r1 + 16) = r2\nr0 = 1\nexit\n", NULL },
	{ "cgroup_sock post_bind4 writes mark", AT(CGSOCK, BPF_CGROUP_INET4_POST_BIND), "r2 = 1\n*(u32 *)(r1 + 16) = r2\nr0 = 1\nexit\n", "invalid bpf_context access off=16 size=4" },
	{ "cgroup_sock post_bind4 reads src_ip4", AT(CGSOCK, BPF_CGROUP_INET4_POST_BIND), "r0 = *(u32 *)(r1 + 24)\nr0 = 1\nexit\n", NULL },
	{ "cgroup_sock create reads src_ip4", CGSOCK, "r0 = *(u32 *)(r1 + 24)\nr0 = 1\nexit\n", "invalid bpf_context access off=24 size=4" },
	{ "sock_addr connect4 writes user_ip4", AT(SOCKADDR, BPF_CGROUP_INET4_CONNECT), "r2 = 1\n*(u32 *)(r1 + 4) = r2\nr0 = 1\nexit\n", NULL },
	{ "sock_addr connect4 reads user_ip6", AT(SOCKADDR, BPF_CGROUP_INET4_CONNECT), "r0 = *(u32 *)(r1 + 8)\nr0 = 1\nexit\n", "invalid bpf_context access off=8 size=4" },
	{ "sock_addr connect6 reads user_ip6 by u64", AT(SOCKADDR, BPF_CGROUP_INET6_CONNECT), "r0 = *(u64 *)(r1 + 8)\nr0 = 1\nexit\n", NULL },
	{ "cgroup_device narrow access_type", CGDEV, "r0 = *(u16 *)(r1 + 0)\nr0 = 1\nexit\n", NULL },
	{ "cgroup_device narrow major", CGDEV, "r0 = *(u16 *)(r1 + 4)\nr0 = 1\nexit\n", "invalid bpf_context access off=4 size=2" },
	{ "sk_msg packet", SKMSG,
	  "r6 = *(u64 *)(r1 + 0)\nr7 = *(u64 *)(r1 + 8)\nr2 = r6\nr2 += 4\nif r2 > r7 goto +1\nr0 = *(u32 *)(r6 + 0)\nr0 = 1\nexit\n",
	  NULL },
	{ "sk_msg data as u32", SKMSG, "r0 = *(u32 *)(r1 + 0)\nexit\n", "invalid bpf_context access off=0 size=4" },
	{ "sysctl narrow write field", SYSCTL, "r0 = *(u8 *)(r1 + 0)\nr0 = 1\nexit\n", NULL },
	{ "sysctl writes write", SYSCTL, "r2 = 0\n*(u32 *)(r1 + 0) = r2\nr0 = 1\nexit\n", "invalid bpf_context access off=0 size=4" },
	{ "sk_lookup remote_port u16", AT(SKLOOKUP, BPF_SK_LOOKUP), "r0 = *(u16 *)(r1 + 36)\nr0 = 1\nexit\n", NULL },
	{ "flow_dissector reads mark", FLOWD, "r0 = *(u32 *)(r1 + 8)\nexit\n", "invalid bpf_context access off=8 size=4" },
	{ "flow_dissector packet", FLOWD,
	  "r6 = *(u32 *)(r1 + 76)\nr7 = *(u32 *)(r1 + 80)\nr2 = r6\nr2 += 1\nif r2 > r7 goto +1\nr0 = *(u8 *)(r6 + 0)\nr0 = 0\nexit\n",
	  NULL },
	{ "tracepoint common header", TP, "r0 = *(u64 *)(r1 + 0)\nexit\n", "invalid bpf_context access off=0 size=8" },
	{ "perf_event narrow regs", PE, "r0 = *(u32 *)(r1 + 0)\nexit\n", "invalid bpf_context access off=0 size=4" },
	{ "raw_tp narrow arg", RAWTP, "r0 = *(u32 *)(r1 + 0)\nr0 = 0\nexit\n", NULL },
	/* ---- accepted: what issue 10 names as the tricky programs ---- */
	{ "lookup result spilled, filled, null-checked", XDP,
	  LOOKUP8(HASH) "*(u64 *)(r10 - 16) = r0\nr6 = *(u64 *)(r10 - 16)\nif r6 == 0 goto +2\nr0 = *(u64 *)(r6 + 0)\nexit\nr0 = 0\nexit\n", NULL },
	{ "bound from a 32-bit comparison", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nif w2 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n", NULL },
	/* a 32-bit comparison bounds only the low half of a 64-bit value */
	{ "32-bit comparison of a 64-bit value", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 <<= 32\nr3 = *(u32 *)(r1 + 12)\nr2 |= r3\nif w2 > 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\n"
	  "r0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n", "math between fp pointer and register with unbounded min value is not allowed" },
	{ "bound from two signed comparisons", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 <<= 32\nr2 s>>= 32\nif r2 s< 0 goto +6\nif r2 s> 56 goto +5\nr4 = r10\nr4 += -64\nr4 += r2\n"
	  "r0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n", NULL },
	/* ---- pointer arithmetic (Linux adjust_ptr_min_max_vals, check_reg_sane_offset) ---- */
	{ "pointer plus an unbounded register", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 <<= 32\nr3 = r10\nr3 += r2\nr0 = 0\nexit\n", "math between fp pointer and register with unbounded min value is not allowed" },
	{ "pointer plus a huge variable", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 <<= 32\nr2 s>>= 32\nr3 = r10\nr3 += r2\nr0 = 0\nexit\n", "value -2147483648 makes fp pointer be out of bounds" },
	{ "pointer plus a huge constant", XDP, "r2 = r10\nr2 += -600000000\nr0 = 0\nexit\n", "math between fp pointer and -600000000 is not allowed" },
	{ "pointer offset accumulates", XDP, "r2 = r10\nr2 += 0x1fffffff\nr2 += 0x1fffffff\nr0 = 0\nexit\n", "fp pointer offset 1073741822 is not allowed" },
	{ "scalar minus pointer", XDP, "r2 = 4\nr2 -= r1\nr0 = 0\nexit\n", "R2 tried to subtract pointer from scalar" },
	{ "scalar minus pointer register", XDP, "r2 = *(u32 *)(r1 + 12)\nr3 = r10\nr2 -= r3\nr0 = 0\nexit\n", "R2 tried to subtract pointer from scalar" },
	{ "pointer times two", XDP, "r2 = r10\nr2 *= 2\nr0 = 0\nexit\n", "R2 pointer arithmetic with *= operator prohibited" },
	{ "pointer shifted", XDP, "r2 = r10\nr2 <<= 2\nr0 = 0\nexit\n", "R2 pointer arithmetic with <<= operator prohibited" },
	{ "32-bit pointer arithmetic", XDP, "r2 = r10\nw2 += 8\nr0 = 0\nexit\n", "R2 32-bit pointer arithmetic prohibited" },
	{ "pointer plus pointer", XDP, "r2 = r10\nr2 += r10\nr0 = 0\nexit\n", "R2 pointer += pointer prohibited" },
	{ "pointer sign-extended", XDP, "r2 = r10\nr3 = (s32)r2\nr0 = 0\nexit\n", "R2 sign-extension part of pointer", .nokernel = PTR_LEAK_RULE },
	{ "pointer negated", XDP, "r2 = r10\nr2 = -r2\nr0 = 0\nexit\n", "R2 pointer arithmetic prohibited", .nokernel = PTR_LEAK_RULE },
	{ "pointer byte-swapped", XDP, "r2 = r10\nr2 = be16 r2\nr0 = 0\nexit\n", "R2 pointer arithmetic prohibited", .nokernel = PTR_LEAK_RULE },
	/* accepted: a 32-bit copy of a pointer is a scalar */
	{ "pointer copied by mov32", XDP, "r2 = r10\nw3 = w2\nr0 = 0\nexit\n", NULL },
	/* ---- stack ---- */
	{ "spilled pointer filled narrow", XDP, "r2 = r10\n*(u64 *)(r10 - 8) = r2\nr0 = *(u32 *)(r10 - 8)\nr0 = 0\nexit\n", "invalid size of register fill" },
	{ "spilled pointer read at its middle", XDP, "r2 = r10\n*(u64 *)(r10 - 8) = r2\nr0 = *(u32 *)(r10 - 4)\nr0 = 0\nexit\n", "invalid size of register fill" },
	{ "atomic add on a spilled pointer", XDP, "r2 = r10\n*(u64 *)(r10 - 8) = r2\nr3 = 1\nlock *(u64 *)(r10 - 8) += r3\nr0 = 0\nexit\n",
	  "BPF_ATOMIC stores into R10 fp is not allowed on a spilled pointer", .nokernel = "the kernel lets privileged programs add to a spilled pointer, which becomes a scalar; bpfvm refuses it" },
	{ "variable stack read past fp", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr3 = r10\nr3 += -4\nr3 += r2\nr0 = *(u8 *)(r3 + 0)\nexit\n", "invalid variable-offset read from stack R3 var_off=(0x0; 0x7) off=-4 size=1" },
	{ "variable stack write past fp", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr3 = r10\nr3 += -4\nr3 += r2\nr0 = 0\n*(u8 *)(r3 + 0) = r0\nexit\n", "invalid variable-offset write to stack R3 var_off=(0x0; 0x7) off=-4 size=1" },
	{ "unbounded variable stack write", XDP, "r2 = *(u32 *)(r1 + 12)\nr3 = r10\nr3 += r2\nr0 = 0\n*(u8 *)(r3 + 0) = r0\nexit\n", "invalid unbounded variable-offset write to stack R3" },
	{ "variable stack read in bounds", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr3 = r10\nr3 += -16\nr3 += r2\nr0 = *(u8 *)(r3 + 0)\nexit\n", NULL },
	{ "misaligned stack through a copy", XDP, "r2 = r10\nr2 += -8\nr1 = 0\n*(u32 *)(r2 + 2) = r1\nr0 = 0\nexit\n", "misaligned stack access off 0+-8+2 size 4" },
	/* ---- memory ---- */
	{ "map value at a negative index", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +6\nr1 = *(u8 *)(r0 + 0)\nr1 -= 4\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nr0 = 0\nexit\nr0 = 0\nexit\n", "R0 min value is negative, either use unsigned index or do a if (index >=0) check." },
	{ "packet at a negative index", XDP,
	  XDP_PKT "r5 = r6\nr5 += 8\nif r5 > r7 goto +4\nr3 = *(u8 *)(r6 + 0)\nr3 -= 4\nr6 += r3\nr0 = *(u8 *)(r6 + 0)\nr0 = 0\nexit\n", "R6 min value is negative, either use unsigned index or do a if (index >=0) check." },
	{ "ringbuf memory past its size", XDP,
	  "r1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +4\nr1 = *(u64 *)(r0 + 16)\nr1 = r0\nr2 = 0\ncall 132\nr0 = 0\nexit\n", "invalid access to memory, mem_size=16 off=16 size=8" },
	{ "read from a write-only map", XDP, LOOKUP(WRONLY) "if r0 == 0 goto +1\nr0 = *(u32 *)(r0 + 0)\nr0 = 0\nexit\n", "read from map forbidden, value_size=8 off=0 size=4" },
	{ "atomic add on ctx", XDP, "r3 = 1\nlock *(u32 *)(r1 + 0) += r3\nr0 = 0\nexit\n", "BPF_ATOMIC stores into R1 ctx is not allowed" },
	{ "atomic add on packet", XDP,
	  XDP_PKT "r3 = 1\nr5 = r6\nr5 += 8\nif r5 > r7 goto +1\nlock *(u32 *)(r6 + 0) += r3\nr0 = 0\nexit\n", "BPF_ATOMIC stores into R6 pkt is not allowed" },
	{ "variable ctx offset", BPF_PROG_TYPE_LWT_IN, "r2 = *(u32 *)(r1 + 0)\nr2 &= 4\nr1 += r2\nr0 = *(u32 *)(r1 + 0)\nexit\n", "variable ctx access var_off=(0x0; 0x4) disallowed" },
	{ "cgroup_skb writes packet", CGSKB,
	  "r2 = *(u32 *)(r1 + 76)\nr4 = *(u32 *)(r1 + 80)\nr5 = r2\nr5 += 8\nif r5 > r4 goto +2\nr3 = 1\n*(u8 *)(r2 + 0) = r3\nr0 = 1\nexit\n", "cannot write into packet" },
	/* Precision: the first path through a join leaves a state whose scalars look irrelevant there until a
	 * later insn uses one; the second path, with another value, must not be pruned by it (the walk
	 * takes the fall-through first, so the safe value is seen first).  PAD: enough work between the
	 * branch and the join for the join's state to be recorded. */
	{ "precision: join then stack offset", XDP, PREC_SPLIT("r3 = -8", "r3 = -600") "r4 = r3\nr5 = r10\nr5 += r4\n"
	  "r0 = 0\n*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-600 size=8" },
	{ "precision: join then stack offset, both safe", XDP, PREC_SPLIT("r3 = -8", "r3 = -16") "r4 = r3\nr5 = r10\n"
	  "r5 += r4\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", NULL },
	{ "precision: through a spill and a move", XDP, PREC_SPLIT("r3 = -8", "r3 = -600")
	  "*(u64 *)(r10 - 16) = r3\n" PAD "r4 = *(u64 *)(r10 - 16)\nr7 = r4\nr5 = r10\nr5 += r7\nr0 = 0\n"
	  "*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-600 size=8" },
	{ "precision: through a spill and a narrower fill", XDP, PREC_SPLIT("r3 = 8", "r3 = 600")
	  "*(u64 *)(r10 - 16) = r3\n" PAD "r4 = *(u32 *)(r10 - 16)\nr4 = -r4\nr5 = r10\nr5 += r4\nr0 = 0\n"
	  "*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-600 size=8" },
	{ "precision: a branch decided by the joined value", XDP, XDP_PKT PREC_SPLIT("r3 = 0", "r3 = 1")
	  "if r3 == 0 goto +2\nr0 = *(u8 *)(r6 + 0)\nexit\nr0 = 2\nexit\n", "invalid access to packet, off=0 size=1, R6(id=0,off=0,r=0)" },
	{ "precision: a branch decided the same on both paths", XDP, XDP_PKT PREC_SPLIT("r3 = 0", "r3 = 1")
	  "if r3 < 5 goto +2\nr0 = *(u8 *)(r6 + 0)\nexit\nr0 = 2\nexit\n", NULL },
	{ "precision: the return value", CGSKB, PREC_SPLIT("r0 = 1", "r0 = 5") "exit\n", "At program exit the register R0 has smin=5 smax=5 should have been in [0, 1]" },
	{ "precision: through arithmetic", XDP, PREC_SPLIT("r3 = 92", "r3 = 1") "r4 = -100\nr4 += r3\nr5 = r10\n"
	  "r4 *= 8\nr5 += r4\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-792 size=8" },
	/* a join at a spill: the spill's history entry is the first of the join state's segment, which
	 * backtracking must end at (it went on into the other path's insns, and the join's r3 stayed
	 * imprecise: the -600 path was pruned) */
	{ "precision: a join at a spill", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr3 = -8\nif r2 > 10 goto +9\n" PAD "goto +1\nr3 = -600\n*(u64 *)(r10 - 16) = r3\n" PAD PAD
	  "r4 = *(u64 *)(r10 - 16)\nr5 = r10\nr5 += r4\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n",
	  "invalid write to stack R5 off=-600 size=8" },
	/* Precision across bpf-to-bpf calls: backtracking follows the value into and out of the callee
	 * (its r0 at the exit, r1-r5 at the call, the caller's stack slots through a pointer), so the join's
	 * state before the call gets the mark and the second path is walked. */
	{ "precision: a subprog's r0 bounds a stack offset after a join", XDP, PREC_SPLIT("r1 = -8", "r1 = -600")
	  "call local +5\nr5 = r10\nr5 += r0\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\nr0 = r1\nexit\n",
	  "invalid write to stack R5 off=-600 size=8" },
	{ "precision: a subprog's r0 from a join inside it", XDP,
	  "r2 = *(u32 *)(r1 + 12)\ncall local +5\nr5 = r10\nr5 += r0\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\n"
	  SPLIT_R2("r0 = -8", "r0 = -600") "exit\n", "invalid write to stack R5 off=-600 size=8" },
	{ "precision: an argument bounded only in the caller", XDP, PREC_SPLIT("r1 = -8", "r1 = -600")
	  "call local +2\nr0 = 2\nexit\nr5 = r10\nr5 += r1\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\n",
	  "invalid write to stack R5 off=-600 size=8" },
	{ "precision: an argument bounded only in the caller, both safe", XDP, PREC_SPLIT("r1 = -8", "r1 = -16")
	  "call local +2\nr0 = 2\nexit\nr5 = r10\nr5 += r1\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\n", NULL },
	{ "precision: the caller's spill filled by the callee", XDP, PREC_SPLIT("r3 = -8", "r3 = -600")
	  "*(u64 *)(r10 - 16) = r3\nr1 = r10\nr1 += -16\ncall local +2\nr0 = 2\nexit\nr2 = *(u64 *)(r1 + 0)\nr5 = r10\n"
	  "r5 += r2\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\n",
	  "invalid write to stack R5 off=-600 size=8" },
	{ "precision: a callee's spill of an argument", XDP, PREC_SPLIT("r1 = -8", "r1 = -600")
	  "call local +2\nr0 = 2\nexit\n*(u64 *)(r10 - 8) = r1\n" PAD "r2 = *(u64 *)(r10 - 8)\nr5 = r10\n"
	  "r5 += r2\nr0 = 0\n*(u64 *)(r5 - 16) = r0\nexit\n",
	  "invalid write to stack R5 off=-616 size=8" },
	{ "precision: two calls deep", XDP, PREC_SPLIT("r1 = -8", "r1 = -600")
	  "call local +5\nr5 = r10\nr5 += r0\nr0 = 0\n*(u64 *)(r5 + 0) = r0\nexit\ncall local +1\nexit\nr0 = r1\nexit\n",
	  "invalid write to stack R5 off=-600 size=8" },
	/* ... and callbacks (the kernel gets BTF func_info for them: kbtf_for_callbacks()): a callback's r0
	 * must be in [0, 1] at its exit, whether it comes from a join in the callback, from the caller's
	 * stack through the callback's ctx, or from a subprog the callback calls */
	{ "precision: a callback's r0 from a join", XDP,
	  "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr2 = r1\n" SPLIT_R2("r0 = 1", "r0 = 5") "exit\n",
	  "At callback return the register R0 has smin=5 smax=5 should have been in [0, 1]" },
	{ "precision: a callback's r0 from the caller's spill", XDP, PREC_SPLIT("r3 = 0", "r3 = 5")
	  "*(u64 *)(r10 - 8) = r3\nr1 = 4\nr2 = " FUNC_REL(07) " ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall 181\nr0 = 2\nexit\n"
	  "r0 = *(u64 *)(r2 + 0)\nexit\n",
	  "At callback return the register R0 has smin=5 smax=5 should have been in [0, 1]" },
	{ "precision: a callback's r0 from a subprog", XDP,
	  "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr2 = r1\n" SPLIT_R2("r1 = 1", "r1 = 5")
	  "call local +1\nexit\nr0 = r1\nexit\n",
	  "At callback return the register R0 has smin=5 smax=5 should have been in [0, 1]" },
	{ "precision: a callback's r0 from a subprog, both in range", XDP,
	  "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr2 = r1\n" SPLIT_R2("r1 = 1", "r1 = 0")
	  "call local +1\nexit\nr0 = r1\nexit\n", NULL },
	/* a subprog's r0 is the loop counter: precise through the call, while the accumulator that differs
	 * between the two paths of each round stays imprecise and the paths join */
	{ "precision: a loop counted by a subprog's r0", XDP,
	  "r6 = 0\nr7 = 0\ncall 7\nif r0 == 0 goto +2\nr7 += 3\ngoto +1\nr7 ^= 5\nr1 = r6\ncall local +4\nr6 = r0\n"
	  "if r6 < 64 goto -9\nr0 = 2\nexit\nr0 = r1\nr0 += 1\nexit\n", NULL },
	/* The counter of an outer loop, imprecise while the first path walks, becomes precise at the end:
	 * the backtrack steps over the inner loop's states (whose insns never touch it) without walking
	 * them, and must still mark it in each, or the second path is pruned inside the inner loop. */
	{ "precision: an outer counter across an inner loop's states", XDP, PREC_SPLIT("r3 = 0", "r3 = 60")
	  "r4 = 0\nr5 = 0\nr5 += 1\nif r5 < 30 goto -2\nr3 += 1\nr4 += 1\nif r4 < 3 goto -6\nr3 *= -8\nr5 = r10\n"
	  "r5 += r3\nr0 = 0\n*(u64 *)(r5 - 16) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-520 size=8" },
	/* A loop counter whose sources are marked (its every branch asks) takes in another value after the
	 * loop: what it depends on now is not marked, and is walked to. */
	{ "precision: a marked counter added to after the loop", XDP, PREC_SPLIT("r3 = 0", "r3 = 60")
	  "r4 = 0\nr4 += 1\nif r4 < 25 goto -2\nr4 += r3\nr4 *= -8\nr5 = r10\nr5 += r4\nr0 = 0\n"
	  "*(u64 *)(r5 - 8) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-688 size=8" },
	/* Narrower spills (Linux save_register_state()): a scalar stored from a slot's start keeps what is
	 * known of it for a fill of no more bytes; a constant stored by BPF_ST too; a pointer may only be
	 * spilled whole. */
	{ "a u32 spill keeps the bounds", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\n*(u32 *)(r10 - 8) = r2\n"
	  "r3 = *(u32 *)(r10 - 8)\nr3 *= -8\nr4 = r10\nr4 += -16\nr4 += r3\nr0 = 0\n*(u64 *)(r4 + 0) = r0\nr0 = 2\nexit\n", NULL },
	{ "a u32 constant stored keeps its value", XDP, "*(u32 *)(r10 - 8) = 5\nr3 = *(u32 *)(r10 - 8)\nr3 *= -8\n"
	  "r4 = r10\nr4 += r3\nr0 = 0\n*(u64 *)(r4 - 8) = r0\nr0 = 2\nexit\n", NULL },
	{ "a u16 fill of a u32 spill", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 &= 0x3ff\n*(u32 *)(r10 - 8) = r2\n"
	  "r3 = *(u16 *)(r10 - 8)\nr3 &= 7\nr3 *= -8\nr4 = r10\nr4 += -16\nr4 += r3\nr0 = 0\n*(u64 *)(r4 + 0) = r0\nr0 = 2\nexit\n", NULL },
	{ "a u64 fill of a u32 spill", XDP, "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\n*(u64 *)(r10 - 8) = r2\nr2 = 1\n"
	  "*(u32 *)(r10 - 8) = r2\nr3 = *(u64 *)(r10 - 8)\nr3 *= -8\nr4 = r10\nr4 += r3\nr0 = 0\n*(u64 *)(r4 - 8) = r0\nr0 = 2\nexit\n",
	  "math between fp pointer and register with unbounded min value is not allowed" },
	{ "a narrow pointer spill", XDP, "*(u32 *)(r10 - 8) = r1\nr0 = 2\nexit\n", "invalid size of register spill" },
	/* sign-extending fills of a spill (Linux coerce_reg_to_size_sx() of the spilled register) */
	{ "a sign-extending fill of a bounded spill", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nif r2 > 56 goto +7\n*(u64 *)(r10 - 8) = r2\nr3 = *(s32 *)(r10 - 8)\nr4 = r10\nr4 += -64\n"
	  "r4 += r3\nr0 = *(u8 *)(r4 + 0)\nexit\nr0 = 0\nexit\n", NULL },
	{ "a sign-extending fill past the sign bit is negative", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 0x7f\nr2 |= 0x80\n*(u64 *)(r10 - 8) = r2\nr3 = *(s8 *)(r10 - 8)\n"
	  "if r3 s< 0 goto +1\nr0 = *(u8 *)(r1 + 5000)\nr0 = 2\nexit\n", NULL },
	{ "a sign-extending fill below the sign bit is not negative", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 0x7f\n*(u64 *)(r10 - 8) = r2\nr3 = *(s8 *)(r10 - 8)\n"
	  "if r3 s< 0 goto +1\nr0 = *(u8 *)(r1 + 5000)\nr0 = 2\nexit\n", "invalid bpf_context access off=5000 size=1" },
	{ "movsx of a range past the sign bit is negative", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 0x7fff\nr2 |= 0x8000\nr3 = (s16)r2\n"
	  "if r3 s< 0 goto +1\nr0 = *(u8 *)(r1 + 5000)\nr0 = 2\nexit\n", NULL },
	{ "movsx32 of a range past the sign bit is negative", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 0x7f\nr2 |= 0x80\nw3 = (s8)w2\n"
	  "if w3 s< 0 goto +1\nr0 = *(u8 *)(r1 + 5000)\nr0 = 2\nexit\n", NULL },
	{ "a sign-extending fill of a spilled zero", XDP,
	  "r2 = 0\n*(u64 *)(r10 - 8) = r2\nr3 = *(s16 *)(r10 - 8)\nif r3 == 0 goto +1\nr0 = *(u8 *)(r1 + 5000)\nr0 = 2\nexit\n",
	  NULL },
	{ "precision: through a u32 spill", XDP, PREC_SPLIT("r3 = 8", "r3 = 600")
	  "*(u32 *)(r10 - 16) = r3\n" PAD "r4 = *(u32 *)(r10 - 16)\nr4 = -r4\nr5 = r10\nr5 += r4\nr0 = 0\n"
	  "*(u64 *)(r5 + 0) = r0\nr0 = 2\nexit\n", "invalid write to stack R5 off=-600 size=8" },
	{ "precision: a byte of a spilled zero", XDP, PREC_SPLIT("r3 = 0", "r3 = 0x100")
	  "*(u64 *)(r10 - 16) = r3\n" PAD "r4 = *(u8 *)(r10 - 15)\nif r4 == 0 goto +2\nr0 = *(u8 *)(r1 + 5000)\nexit\n"
	  "r0 = 2\nexit\n", "invalid bpf_context access off=5000 size=1" },
	/* ---- helper arguments (Linux check_func_arg, check_helper_mem_access) ---- */
	{ "helper size unbounded", KP, "r2 = *(u32 *)(r1 + 12)\nr2 += 1\nr1 = r10\nr1 += -8\ncall 16\nr0 = 0\nexit\n", "R2 unbounded memory access, use 'var &= const' or 'if (var < const)'" },
	{ "helper size negative", KP, "r1 = r10\nr1 += -8\nr2 = -1\ncall 16\nr0 = 0\nexit\n", "R2 min value is negative, either use unsigned or 'var &= const'" },
	{ "helper size a pointer", KP, "r1 = r10\nr1 += -8\nr2 = r10\ncall 16\nr0 = 0\nexit\n", "R2 type=fp expected=scalar" },
	{ "helper writes a variable stack range past fp", KP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr1 = r10\nr1 += -8\nr1 += r2\nr2 = 4\ncall 16\nr0 = 0\nexit\n", "invalid variable-offset write to stack R1 var_off=(0x0; 0x7) off=-8 size=4" },
	{ "helper reads a variable stack range past fp", XDP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr1 = r10\nr1 += -8\nr1 += r2\nr2 = 4\ncall 6\nr0 = 0\nexit\n", "invalid variable-offset read from stack R1 var_off=(0x0; 0x7) off=-8 size=4" },
	{ "helper writes a variable stack range", KP,
	  "r2 = *(u32 *)(r1 + 12)\nr2 &= 7\nr1 = r10\nr1 += -16\nr1 += r2\nr2 = 4\ncall 16\nr0 = 0\nexit\n", NULL },
	{ "helper memory from ctx", KP, "r2 = 8\ncall 16\nr0 = 0\nexit\n", "R1 type=ctx expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_" },
	{ "helper memory from a scalar", KP, "r1 = 0\nr2 = 8\ncall 16\nr0 = 0\nexit\n", "R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_" },
	{ "lookup without a map", XDP, "r1 = 0\nr2 = r10\nr2 += -8\ncall 1\nr0 = 0\nexit\n", "R1 type=scalar expected=map_ptr" },
	{ "helper ctx moved", XDP, "r1 += 4\nr2 = 0\ncall 44\nr0 = 0\nexit\n", "dereference of modified ctx ptr R1 off=4 disallowed" },
	{ "bpf_loop without a callback", XDP, "r1 = 4\nr2 = 0\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\n", "R2 type=scalar expected=func" },
	{ "ringbuf submit of stack", XDP, "r1 = r10\nr2 = 0\ncall 132\nr0 = 0\nexit\n", "R1 type=fp expected=ringbuf_mem" },
	{ "ringbuf submit at an offset", XDP,
	  "r1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +4\nr1 = r0\nr1 += 8\nr2 = 0\ncall 132\nr0 = 0\nexit\n", "R1 must have zero offset when passed to release func or trusted arg to kfunc" },
	{ "ringbuf submitted twice", XDP,
	  "r1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +6\nr6 = r0\nr1 = r0\nr2 = 0\ncall 132\nr1 = r6\nr2 = 0\ncall 132\nr0 = 0\nexit\n",
	  "R1 type=scalar expected=ringbuf_mem" },
	{ "GPL-only helper in a non-GPL program", KP, "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 4\nr0 = 0\nexit\n", "cannot call GPL-restricted function from non-GPL compatible program",
	  .license = "MIT" },
	{ "spin lock on the stack", TC, "r1 = r10\ncall 93\nr0 = 0\nexit\n", "R1 type=fp expected=map_value, ptr_" },
	{ "timer on the stack", XDP, "r1 = r10\nr1 += -16\nr2 = " ARRAY " ll\nr3 = 0\ncall 169\nr0 = 0\nexit\n", "R1 type=fp expected=map_value" },
	{ "pointer stored into ctx", SOCKOPS, "r2 = r10\n*(u32 *)(r1 + 4) = r2\nr0 = 1\nexit\n", "R2 leaks addr into ctx", .nokernel = PTR_LEAK_RULE },
	{ "pointer added atomically", XDP, "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nlock *(u64 *)(r10 - 8) += r2\nr0 = 0\nexit\n", "R2 leaks addr into mem",
	  .nokernel = PTR_LEAK_RULE },
	/* bpfvm's maps here have no BTF: the kernel says so, bpfvm that there is no lock in the value */
	{ "spin lock in a value without one", TC, LOOKUP(ARRAY) "if r0 == 0 goto +4\nr1 = r0\ncall 93\nr0 = 0\nexit\nr0 = 0\nexit\n", "map '' has no valid bpf_spin_lock",
	  .kwords = "map '' has to have BTF in order to use bpf_spin_lock" },
	{ "spin lock at a variable offset", TC,
	  LOOKUP(ARRAY) "if r0 == 0 goto +7\nr1 = *(u32 *)(r0 + 0)\nr1 &= 4\nr0 += r1\nr1 = r0\ncall 93\nr0 = 0\nexit\nr0 = 0\nexit\n", "R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset" },
	{ "snprintf format on the stack", XDP,
	  "r1 = r10\nr1 += -8\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = 0\nr5 = 0\ncall 165\nr0 = 0\nexit\n", "R3 type=fp expected=map_value" },
	{ "snprintf format in a writable map", XDP,
	  LOOKUP(ARRAY) "if r0 == 0 goto +7\nr3 = r0\nr1 = r10\nr1 += -8\nr2 = 8\nr4 = 0\nr5 = 0\ncall 165\nr0 = 0\nexit\n", "R3 does not point to a readonly map'" },
	/* ---- tail calls ---- */
	{ "tail call with a scalar ctx", XDP, "r1 = 0\nr2 = " PROGS " ll\nr3 = 0\ncall 12\nr0 = 0\nexit\n", "R1 type=scalar expected=ctx" },
	{ "tail call into an array map", XDP, "r2 = " ARRAY " ll\nr3 = 0\ncall 12\nr0 = 0\nexit\n", "expected prog array map for tail call" },
	{ "tail call index a pointer", XDP, "r2 = " PROGS " ll\nr3 = r10\ncall 12\nr0 = 0\nexit\n", "R3 type=fp expected=scalar",
	  .nokernel = "the kernel takes any value as the index (ARG_ANYTHING); bpfvm wants a scalar" },
	{ "tail call with a reservation held", XDP,
	  "r6 = r1\nr1 = " RINGBUF " ll\nr2 = 16\nr3 = 0\ncall 131\nif r0 == 0 goto +7\nr7 = r0\nr1 = r6\nr2 = " PROGS " ll\nr3 = 0\n"
	  "call 12\nr1 = r7\nr2 = 0\ncall 132\nr0 = 0\nexit\n", "tail_call would lead to reference leak" },
	{ "for_each_map_elem callback writes the key", XDP,
	  "r1 = " ARRAY " ll\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 164\nr0 = 0\nexit\nr0 = 0\n*(u32 *)(r2 + 0) = r0\nexit\n", "write to change key R2 not allowed",
},
	{ "for_each_map_elem callback reads past the key", XDP,
	  "r1 = " ARRAY " ll\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 164\nr0 = 0\nexit\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n", "invalid access to map key, key_size=4 off=0 size=8",
},
	{ "for_each_map_elem callback reads key and value", XDP,
	  "r1 = " ARRAY " ll\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 164\nr0 = 0\nexit\nr0 = *(u32 *)(r2 + 0)\nr0 = *(u64 *)(r3 + 0)\nr0 = 0\nexit\n",
	  NULL },
	/* ---- limits ---- */
	{ "65 references held", XDP, RESERVE64 RESERVE "r0 = 0\nexit\n", "too many references",
	  .nokernel = "bpfvm holds at most 64 references (MAX_REFS); the kernel has no such limit and refuses this program at its exit for the leaks" },
	/* the kernel (JIT on) rounds each frame to 16 bytes and counts the frames; bpfvm rounds to 32 as Linux's interpreter does */
	{ "combined stack too large", XDP,
	  "r1 = 0\n*(u64 *)(r10 - 304) = r1\ncall local +2\nr0 = 0\nexit\nr1 = 0\n*(u64 *)(r10 - 304) = r1\nr0 = 0\nexit\n", "combined stack size of calls is 640. Too large",
	  .kwords = "combined stack size of 2 calls is 608. Too large" },
	/* ---- calls and control flow ---- */
	{ "nine frames", XDP,
	  "call local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\n"
	  "call local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\n"
	  "r0 = 0\nexit\n", "the call stack of 9 frames is too deep" },
	{ "eight frames", XDP,
	  "call local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\n"
	  "call local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\ncall local +2\nr0 = 0\nexit\nr0 = 0\nexit\n", NULL },
	/* a callee's frame ends at its exit: no pointer to it may outlive it */
	{ "callee returns a pointer to its frame", XDP,
	  "call local +3\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr0 = r10\nr0 += -8\nexit\n",
	  "cannot return stack pointer to the caller" },
	{ "callee spills its frame's address into the caller's", XDP,
	  "r1 = r10\nr1 += -8\ncall local +4\nr0 = *(u64 *)(r10 - 8)\nr0 = *(u64 *)(r0 + 0)\nr0 = 0\nexit\n"
	  "r2 = r10\nr2 += -16\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit\n",
	  "cannot spill pointers to stack into stack frame of the caller" },
	{ "callee spills the caller's frame address into the caller's", XDP,
	  "r1 = r10\nr1 += -8\ncall local +2\nr0 = 0\nexit\n*(u64 *)(r1 + 0) = r1\nr0 = 0\nexit\n",
	  "cannot spill pointers to stack into stack frame of the caller" },
	{ "subprogram falls into the next", XDP, "call local +2\nr0 = 0\nr0 = 0\nr0 = 1\nexit\n", "last insn is not an exit or jmp" },
	{ "jump out of a subprogram", XDP, "call local +2\nr0 = 0\nexit\nif r1 == 0 goto -3\nr0 = 1\nexit\n", "jump out of range from insn 3 to 1" },
	{ "call past the end", XDP, "call local +20\nr0 = 0\nexit\n", "call to invalid destination" },
	{ "a function's address past the end", XDP, "r1 = " FUNC_REL(40) " ll\nr0 = 0\nexit\n", "call to invalid destination" },
	{ "frame pointer written", XDP, "r10 = 0\nr0 = 0\nexit\n", "frame pointer is read only" },
	{ "ld_abs with r6 a scalar", SKF, "r6 = 0\nr0 = *(u8 *)skb[12]\nexit\n", "at the time of BPF_LD_ABS|IND R6 != pointer to skb" },
	/* ---- callbacks ---- */
	{ "bpf_loop callback", XDP, "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr0 = 0\nexit\n", NULL,
},
	{ "bpf_loop callback reads its ctx", XDP,
	  "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nr2 = " FUNC_REL(07) " ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall 181\nr0 = 2\nexit\n"
	  "r0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit\n", NULL },
	/* the kernel checks for a stack pointer first (prepare_func_exit()); bpfvm for any pointer */
	{ "bpf_loop callback returns a pointer", XDP, "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr0 = r10\nexit\n",
	  "R0 not a scalar value", .kwords = "cannot return stack pointer to the caller" },
	{ "bpf_loop callback returns 2", XDP, "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 0\nr4 = 0\ncall 181\nr0 = 2\nexit\nr0 = 2\nexit\n", "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]",
},
	/* a callback's changes to the caller's stack: imprecise, widened at its return to the call (Linux
	 * widen_imprecise_scalars()), so after the loop the value is unknown */
	{ "bpf_loop callback's store reaches the caller widened", XDP,
	  "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 4\nr2 = " FUNC_REL(0d) " ll\nr3 = r10\nr3 += -8\nr4 = 0\ncall 181\n"
	  "r1 = *(u64 *)(r10 - 8)\nr2 = r10\nr2 += -64\nr2 += r1\nr0 = 0\n*(u8 *)(r2 + 0) = r0\nr0 = 2\nexit\n"
	  "r1 = 64\n*(u64 *)(r2 + 0) = r1\nr0 = 0\nexit\n",
	  "invalid write to stack R2 off=0 size=1" },
	{ "bpf_loop ctx a scalar", XDP, "r1 = 4\nr2 = " FUNC_REL(06) " ll\nr3 = 5\nr4 = 0\ncall 181\nr0 = 2\nexit\nr0 = 0\nexit\n", "R3 type=scalar expected=fp",
},
	{ "spin lock held at exit", XDP, NULL, NULL }, /* placeholder: needs BTF for spin locks; skipped below */
};
#pragma GCC diagnostic pop

struct side {
	long maps[M_COUNT];
	struct bpfvm *vm; /* NULL: the kernel */
};

static void patch(struct bpf_insn *in, long n, const long *fds)
{
	for (long i = 0; i + 1 < n; i++)
		if (in[i].code == (BPF_LD | BPF_DW | BPF_IMM)) {
			uint32_t k = (uint32_t)in[i].imm;
			if (k >= mark_base && k < mark_base + M_COUNT && in[i + 1].imm == 0) {
				in[i].src_reg = BPF_PSEUDO_MAP_FD;
				in[i].imm = (int32_t)fds[k - mark_base];
			} else if (k >= func_base && k < func_base + 256 && in[i + 1].imm == 0) {
				in[i].src_reg = BPF_PSEUDO_FUNC;
				in[i].imm = (int32_t)(k - func_base);
			}
			i++;
		}
}

static int open_side(struct side *s, struct bpfvm *vm)
{
	static const uint32_t spec[M_COUNT][5] = {
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 8, 8, 16, 0 },
		{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_WRONLY_PROG },
	};
	s->vm = vm;
	for (int i = 0; i < M_COUNT; i++) {
		s->maps[i] = vm ? mk(vm, spec[i][0], spec[i][1], spec[i][2], spec[i][3], spec[i][4]) :
				  kmap(spec[i][0], spec[i][1], spec[i][2], spec[i][3], spec[i][4]);
		if (s->maps[i] < 0)
			return -1;
	}
	return 0;
}

/* The messages bpfvm gave for the cases that passed (each "insn N: " line of the log, that prefix
 * stripped): every_message_has_a_case matches each rejection format of src/verifier/ against them. */
#define MAX_SEEN 1024
static char *seen_msg[MAX_SEEN];
static int nseen_msg;

/* The text after "insn N: " of a log line, and N; NULL when the line is not a located message. */
static const char *located(const char *line, long *pc)
{
	char *end;
	if (strncmp(line, "insn ", 5) || line[5] < '0' || line[5] > '9')
		return NULL;
	*pc = strtol(line + 5, &end, 10);
	return !strncmp(end, ": ", 2) ? end + 2 : NULL;
}

static void note_messages(const char *log)
{
	for (const char *l = log; *l;) {
		const char *nl = strchr(l, '\n'), *e = nl ? nl : l + strlen(l);
		char line[600];
		long pc;
		snprintf(line, sizeof(line), "%.*s", (int)(e - l), l);
		const char *m = located(line, &pc);
		bool dup = false;
		for (int i = 0; m && i < nseen_msg && !dup; i++)
			dup = !strcmp(seen_msg[i], m);
		if (m && !dup && nseen_msg < MAX_SEEN)
			seen_msg[nseen_msg++] = strdup(m);
		l = nl ? nl + 1 : e;
	}
}

/* The kernel's log: does a line read exactly `want` (or `want` and the statistics line, where the
 * kernel's message ends without its newline: "expected prog array map for tail call")?  *pc gets the insn of the last "N: (op) ..."
 * line before it (-1: none, as for the checks made before the walk). */
static bool kernel_line(const char *log, const char *want, long *pc)
{
	*pc = -1;
	for (const char *l = log; *l;) {
		const char *nl = strchr(l, '\n'), *e = nl ? nl : l + strlen(l);
		char *end;
		long n = strtol(l, &end, 10);
		if (end > l && end < e && !strncmp(end, ": (", 3))
			*pc = n;
		size_t wn = strlen(want);
		if (!strncmp(l, want, wn) && ((size_t)(e - l) == wn || !strncmp(l + wn, "processed ", 10)))
			return true;
		l = nl ? nl + 1 : e;
	}
	return false;
}

/* 0 accepted, else the errno; the log in buf */
static long load(struct side *s, struct bpfvm *as, const struct vcase *vc, char *buf, size_t len)
{
	long n = bpfvm_asm(as, vc->src, NULL, 0);
	struct bpf_insn *insns = n > 0 ? calloc((size_t)n, sizeof(*insns)) : NULL;
	if (!insns || bpfvm_asm(as, vc->src, insns, (size_t)n) != n) {
		snprintf(buf, len, "asm: %s", bpfvm_errmsg(as));
		free(insns);
		return -1000;
	}
	patch(insns, n, s->maps);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = vc->type & 0xffff;
	a.expected_attach_type = vc->type >> 16;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)(vc->license ? vc->license : "GPL");
	a.log_buf = (uintptr_t)buf;
	a.log_size = (uint32_t)len;
	a.log_level = 1;
	buf[0] = 0;
	struct bpf_func_info fi[64];
	long btf = s->vm ? -1 : kbtf_for_callbacks(&a, fi);
	long fd = s->vm ? bpfvm_bpf(s->vm, BPF_PROG_LOAD, &a, sizeof(a)) : kbpf(BPF_PROG_LOAD, &a);
	if (btf >= 0)
		close((int)btf);
	free(insns);
	if (fd >= 0) {
		if (s->vm)
			bpfvm_close(s->vm, (int)fd);
		else
			close((int)fd);
		return 0;
	}
	if (s->vm && !buf[0])
		snprintf(buf, len, "%s", bpfvm_errmsg(s->vm));
	return fd;
}

static const char *last_line(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log);
	while (end > log && end[-1] == '\n')
		end--;
	const char *st = end;
	while (st > log && st[-1] != '\n')
		st--;
	snprintf(out, len, "%.*s", (int)(end - st), st);
	return out;
}

/* Each case in bpfvm: the verdict, and for a rejection its message exactly (bpfvm_errmsg() is
 * "insn N: <reject>").  Then in the kernel: the same verdict, a log line that reads exactly the same
 * (or the case's kwords) and, where the kernel's log names the insn it failed at, the same N. */
TEST(verdicts_match_the_kernel)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct side v, k;
	static char vlog[1 << 20];
	bool kernel = open_side(&k, NULL) == 0;
	int agree = 0, checked = 0, rejects = 0, kconfirmed = 0, kasked = 0;
	CHECK(!open_side(&v, vm));
	if (!kernel)
		printf("  kernel comparison skipped: bpf() unavailable (not root or no CONFIG_BPF_SYSCALL); bpfvm alone\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct vcase *vc = &cases[i];
		char a[600], b[600];
		long vpc = -1, kpc = -1;
		if (!vc->src)
			continue;
		long ve = load(&v, vm, vc, vlog, sizeof(vlog));
		bool vok = ve == 0, want_ok = vc->reject == NULL;
		const char *vmsg = vok ? NULL : located(bpfvm_errmsg(vm), &vpc);
		checked++;
		if (vok != want_ok || (!vok && (!vmsg || strcmp(vmsg, vc->reject)))) {
			printf("  %s: bpfvm %s (%ld): %s\n    expected: %s\n", vc->name, vok ? "accepts" : "rejects", ve,
			       vok ? last_line(vlog, a, sizeof(a)) : bpfvm_errmsg(vm), vc->reject ? vc->reject : "accepted");
			CHECK(0);
			continue;
		}
		if (!vok) {
			rejects++;
			note_messages(vlog);
		}
		if (!kernel || vc->nokernel) {
			agree++;
			continue;
		}
		kasked++;
		long ke = load(&k, vm, vc, klog, sizeof(klog));
		bool kok = ke == 0;
		const char *kwant = vc->kwords ? vc->kwords : vc->reject;
		/* a message naming its insn itself (a loop head) comes before the kernel logs that insn */
		bool where = kwant && !strstr(kwant, "insn ");
		if (kok != vok || (!kok && (!kernel_line(klog, kwant, &kpc) || (where && kpc >= 0 && kpc != vpc)))) {
			printf("  %s: kernel %s (%ld), expected '%s' at insn %ld (kernel's insn %ld):\n%s\n    bpfvm %s: %s\n",
			       vc->name, kok ? "accepts" : "rejects", ke, kok ? "" : kwant, vpc, kpc, klog,
			       vok ? "accepts" : "rejects", vok ? last_line(vlog, b, sizeof(b)) : bpfvm_errmsg(vm));
			CHECK(0);
			continue;
		}
		kconfirmed += !kok && !vc->kwords;
		agree++;
	}
	printf("  %d of %d cases as expected (%d rejections, %d distinct messages); kernel asked on %d%s, same words on %d "
	       "rejections\n",
	       agree, checked, rejects, nseen_msg, kasked, kernel ? "" : " (not usable)", kconfirmed);
	for (int i = 0; kernel && i < M_COUNT; i++)
		close((int)k.maps[i]);
	bpfvm_free(vm);
}

/* The complexity limit: a loop of 600000 iterations is walked insn by insn until 1,000,000 are processed.
 * No log (at level 1 it would hold every insn); the kernel gives the same line at the same limit. */
TEST(complexity_limit)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpf_insn in[8];
	long n = bpfvm_asm(vm, "r0 = 0\nr1 = 0\nr1 += 1\nif r1 < 600000 goto -2\nexit\n", in, 8);
	CHECK(n == 5);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)in;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	CHECK(bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a)) == -E2BIG);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "insn 2: BPF program is too large. Processed 1000001 insn");
	note_messages(bpfvm_errmsg(vm));
	bpfvm_free(vm);
}

/* Linux's unprivileged rules (vf_env.unpriv): bpfvm's loads never ask for them (sys_verify.c: an untrusted
 * instance keeps its run-time pointer checks instead), and the kernel here refuses unprivileged bpf()
 * (kernel.unprivileged_bpf_disabled), so these run the verifier directly, bpfvm alone.  They are kept
 * for the embedder that wants Linux's unprivileged verdicts. */
static const struct vf_map unpriv_array = { BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, UINT32_MAX, UINT32_MAX, NULL };

static const struct vf_map *unpriv_map_at(void *arg, size_t pc)
{
	(void)arg;
	(void)pc;
	return &unpriv_array;
}

TEST(unprivileged_rules)
{
	static const struct {
		const char *src, *msg;
	} ucases[] = {
		{ "r0 = r10\nexit\n", "R0 leaks addr as return value" },
		{ "r2 = r10\nr3 = 5\nif r2 > r3 goto +0\nr0 = 0\nexit\n", "R2 pointer comparison prohibited" },
		{ "r2 = r10\nw3 = w2\nr0 = 0\nexit\n", "R2 partial copy of pointer" },
		{ "r2 = r10\n*(u64 *)(r10 - 8) = r2\nr3 = 0\n*(u32 *)(r10 - 8) = r3\nr0 = 0\nexit\n",
		  "attempt to corrupt spilled pointer on stack" },
		{ "r0 = *(u64 *)(r10 - 8)\nexit\n", "invalid read from stack off -8+0 size 8" },
		{ "call 7\nr0 &= 7\nr3 = r10\nr3 += -16\nr3 += r0\nr0 = *(u8 *)(r3 + 0)\nexit\n",
		  "invalid variable-offset read from stack R3 off=-16 size=1" },
		{ "call 7\nr0 &= 7\nr1 = r10\nr1 += -16\nr1 += r0\nr2 = 4\ncall 6\nr0 = 0\nexit\n",
		  "invalid indirect read from stack R1 var_off=(0x0; 0x7)+0 size 4" },
		{ "r1 = r10\nr1 += -8\nr2 = 8\ncall 6\nr0 = 0\nexit\n", "invalid indirect read from stack R1 off -8+0 size 8" },
		{ "r1 = 0\n*(u32 *)(r10 - 4) = r1\n*(u64 *)(r10 - 16) = r1\nr1 = 0x7eadc000 ll\nr2 = r10\nr2 += -4\nr3 = r10\n"
		  "r3 += -16\nr4 = r10\ncall 2\nr0 = 0\nexit\n", "R4 leaks addr into helper function" },
		{ "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr1 = 0x7eadc000 ll\nr2 = r10\nr2 += -4\ncall 1\nif r0 == 0 goto +1\n"
		  "*(u64 *)(r0 + 0) = r10\nr0 = 0\nexit\n", "R10 leaks addr into map" },
	};
	for (size_t i = 0; i < sizeof(ucases) / sizeof(ucases[0]); i++) {
		struct bpf_insn in[64];
		long n = test_asm(ucases[i].src, in, 64);
		CHECK(n > 0);
		if (n <= 0)
			continue;
		for (long k = 0; k + 1 < n; k++)
			if (in[k].code == (BPF_LD | BPF_DW | BPF_IMM) && (uint32_t)in[k].imm == mark_base)
				in[k].src_reg = BPF_PSEUDO_MAP_FD;
		struct vf_env env;
		memset(&env, 0, sizeof(env));
		env.insns = in;
		env.cnt = (size_t)n;
		env.prog_type = BPF_PROG_TYPE_XDP;
		env.unpriv = true;
		env.gpl = true;
		env.map_at = unpriv_map_at;
		int err = vf_verify(&env);
		long pc;
		const char *m = located(env.errmsg, &pc);
		if (!err || !m || strcmp(m, ucases[i].msg))
			printf("  unprivileged '%s': %d '%s', expected '%s'\n", ucases[i].src, err, env.errmsg, ucases[i].msg);
		CHECK(err && m && !strcmp(m, ucases[i].msg));
		note_messages(env.errmsg);
	}
}

/* Builds src into the file named by the mkstemp() template obj; NULL when built, else why not (obj is
 * gone then). */
static const char *clang_obj(const char *src, char *obj)
{
	int fd = mkstemp(obj);
	if (fd < 0)
		return "no temporary file";
	close(fd);
	if (test_clang(src, obj, NULL)) {
		unlink(obj);
		return "clang cannot build BPF here";
	}
	return NULL;
}

/* cmd's output (stdout, and stderr where cmd redirects it), NUL-terminated, cut at len - 1 bytes */
static void run_out(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(out, 1, len - 1, p) : 0;
	out[n] = 0;
	if (p)
		pclose(p);
}

/* The rejections that need a lock or a timer placed in a map value by BTF: tests/loader/spin_lock.bpf.c,
 * one program each (test_kernel_verdicts compares each verdict with the kernel's), here bpfvm's words. */
TEST(spin_lock_and_timer_values)
{
	static const char *const want[] = {
		"section tc: program 'locked': verified",
		"bpf_spin_unlock is missing (program 'never_unlocked')",
		"bpf_spin_unlock without taking a lock (program 'unlock_only')",
		"function calls are not allowed while holding a lock (program 'call_while_locked')",
		"bpf_spin_unlock of different lock (program 'other_unlocked')",
		"bpf_spin_lock cannot be accessed directly by load/store (program 'lock_written')",
		"off 8 doesn't point to 'struct bpf_spin_lock' that is at 0 (program 'lock_elsewhere')",
		"bpf_timer cannot be accessed directly by load/store (program 'timer_read')",
		"BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region (program 'ld_abs_locked')",
		/* the lock and the timer of an inner map's value, known from the inner template */
		"section tc: program 'inner_locked': verified",
		"section tc: program 'inner_timer': verified",
	};
	char obj[] = "/tmp/bpfvm-spin-lock-XXXXXX", cmd[256];
	static char out[8192];
	const char *why = clang_obj("tests/loader/spin_lock.bpf.c", obj);
	if (why)
		SKIP(why);
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s 2>&1", obj);
	run_out(cmd, out, sizeof(out));
	unlink(obj);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *at = strstr(out, want[i]);
		if (!at)
			printf("  no '%s' in:\n%s", want[i], out);
		CHECK(at != NULL);
		/* the line's "insn N: <message>" counts for every_message_has_a_case */
		const char *ln = at;
		while (ln > out && ln[-1] != '\n')
			ln--;
		const char *m = ln, *end = at ? strstr(at, " (program") : NULL;
		while (m && m < at && strncmp(m, "insn ", 5))
			m++;
		if (at && end && m < at) {
			char line[300];
			snprintf(line, sizeof(line), "%.*s", (int)(end - m), m);
			note_messages(line);
		}
	}
}

/* An inner map's lock at run time: 'inner_locked' verified and run twice counts 2 under the lock of
 * inner_l0's value; a map without the lock cannot stand in for the template (Linux bpf_map_meta_equal()
 * compares the special fields). */
TEST(inner_map_lock_runs)
{
	char obj[] = "/tmp/bpfvm-inner-lock-XXXXXX";
	const char *why = clang_obj("tests/loader/spin_lock.bpf.c", obj);
	if (why)
		SKIP(why);
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpfvm_object *ob = NULL;
	CHECK(vm && bpfvm_object_open(vm, obj, &ob) == 0);
	unlink(obj);
	if (!ob) {
		bpfvm_free(vm);
		return;
	}
	for (size_t i = 0; i < bpfvm_object_prog_cnt(ob); i++)
		bpfvm_object_prog_set_autoload(ob, i, !strncmp(bpfvm_object_prog_name(ob, i), "inner_", 6));
	CHECK(bpfvm_object_load(ob) == 0);
	int prog = bpfvm_object_prog_fd(ob, "inner_locked"), inner = bpfvm_object_map_fd(ob, "inner_l0");
	int outer = bpfvm_object_map_fd(ob, "outer_locks");
	uint8_t pkt[64] = { 0 };
	for (int i = 0; i < 2; i++) {
		struct bpfvm_test_run_opts t = { .sz = sizeof(t), .data_in = pkt, .data_size_in = sizeof(pkt) };
		int rc = bpfvm_prog_test_run(vm, prog, &t);
		if (rc)
			printf("  test run: %d %s\n", rc, bpfvm_errmsg(vm));
		CHECK(rc == 0);
	}
	/* a timer in an inner map's value initialises at run time too */
	struct bpfvm_test_run_opts tt = { .sz = sizeof(tt), .data_in = pkt, .data_size_in = sizeof(pkt) };
	CHECK(bpfvm_prog_test_run(vm, bpfvm_object_prog_fd(ob, "inner_timer"), &tt) == 0 && tt.retval == 0);
	uint32_t k = 0;
	struct {
		uint32_t lock, pad;
		uint64_t n;
	} v = { 0 };
	CHECK(bpfvm_map_lookup(vm, inner, &k, &v) == 0);
	CHECK(v.n == 2);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = sizeof(v);
	a.max_entries = 1;
	long plain = bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
	CHECK(plain >= 0);
	uint32_t pfd = (uint32_t)plain;
	CHECK(bpfvm_map_update(vm, outer, &k, &pfd, 0) == -EINVAL);
	bpfvm_object_close(ob);
	bpfvm_close(vm, (int)plain);
	bpfvm_free(vm);
}

/* ---- every rejection message has a case ------------------------------------------------------ */

/* A rejection's format, from an err_at() call in src/verifier/ */
struct vfmt {
	char text[512];
	char where[320];
};

/* Could conversion `conv` (with '#' when alt) print exactly the n chars at m? */
static bool conv_prints(char conv, bool alt, const char *m, size_t n)
{
	size_t i = 0;
	if (conv == 's')
		return !memchr(m, '\n', n);
	if (conv == 'c')
		return n == 1;
	if ((conv == 'd' || conv == 'i') && n && m[0] == '-')
		i = 1;
	if (conv == 'x' && alt && n > 2 && m[0] == '0' && m[1] == 'x')
		i = 2;
	else if (conv == 'x' && alt)
		return n == 1 && m[0] == '0';
	if (i == n)
		return false;
	for (; i < n; i++)
		if (!isdigit((unsigned char)m[i]) && !(conv == 'x' && m[i] >= 'a' && m[i] <= 'f'))
			return false;
	return conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x';
}

/* Does message m read as printf format f would print it? */
static bool fmt_matches(const char *f, const char *m)
{
	if (!*f)
		return !*m;
	if (*f != '%' || f[1] == '%')
		return *m == *f && fmt_matches(f + (*f == '%' ? 2 : 1), m + 1);
	const char *p = f + 1;
	bool alt = false;
	while (*p && strchr("#-+ 0", *p))
		alt |= *p++ == '#';
	while (isdigit((unsigned char)*p))
		p++;
	while (*p && strchr("hlzjt", *p))
		p++;
	char conv = *p ? *p++ : 0;
	for (size_t n = 0, len = strlen(m); n <= len; n++)
		if (conv_prints(conv, alt, m, n) && fmt_matches(p, m + n))
			return true;
	return false;
}

/* One C string literal at *pp (at its opening quote), unescaped onto out; *pp moves past it. */
static void c_literal(const char **pp, char *out, size_t *olen, size_t cap)
{
	const char *p = *pp + 1;
	for (; *p && *p != '"'; p++) {
		char ch = *p;
		if (ch == '\\' && p[1]) {
			p++;
			ch = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
		}
		if (*olen + 1 < cap)
			out[(*olen)++] = ch;
	}
	out[*olen] = 0;
	*pp = *p ? p + 1 : p;
}

/* The formats of the err_at() calls in one source text: its fourth argument's string literals, those
 * adjacent concatenated, each alternative of a ?: its own format.  A fourth argument with no literal
 * is reported as a format "?" so the check fails rather than skip it. */
static int formats_of(const char *file, const char *src, struct vfmt *out, int max)
{
	int n = 0;
	for (const char *s = src; (s = strstr(s, "err_at(")); s += 7) {
		if (s > src && (isalnum((unsigned char)s[-1]) || s[-1] == '_'))
			continue;
		const char *p = s + 7, *argv[8] = { p };
		int depth = 0, argc = 1;
		for (; *p && depth >= 0; p++) {
			if (*p == '"' || *p == '\'') {
				char q = *p;
				for (p++; *p && *p != q; p++)
					p += *p == '\\' && p[1];
			} else if (*p == '(' || *p == '[' || *p == '{') {
				depth++;
			} else if (*p == ')' || *p == ']' || *p == '}') {
				depth--;
			} else if (*p == ',' && !depth && argc < 8) {
				argv[argc++] = p + 1;
			}
		}
		if (argc < 4 || !strncmp(argv[0], "struct", 6))
			continue; /* the prototype and definition */
		int line = 1;
		for (const char *q = src; q < s; q++)
			line += *q == '\n';
		const char *end = argc > 4 ? argv[4] - 1 : p - 1;
		bool any = false;
		for (const char *q = argv[3]; q < end && n < max;) {
			if (*q != '"') {
				q++;
				continue;
			}
			size_t len = 0;
			while (q < end && *q == '"') {
				c_literal(&q, out[n].text, &len, sizeof(out[n].text));
				while (q < end && isspace((unsigned char)*q))
					q++;
			}
			snprintf(out[n].where, sizeof(out[n].where), "%s:%d", file, line);
			n++;
			any = true;
		}
		if (!any && n < max) {
			snprintf(out[n].text, sizeof(out[n].text), "?");
			snprintf(out[n].where, sizeof(out[n].where), "%s:%d", file, line);
			n++;
		}
	}
	return n;
}

/* Run after verdicts_match_the_kernel: each format must have produced a message in one of its cases,
 * so a new rejection comes with its case (Linux's words, the kernel asked where it can be). */
TEST(every_message_has_a_case)
{
	static struct vfmt f[1024];
	int n = 0;
	DIR *d = opendir("src/verifier");
	CHECK(d != NULL);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		char path[300];
		if (l < 3 || strcmp(e->d_name + l - 2, ".c"))
			continue;
		snprintf(path, sizeof(path), "src/verifier/%s", e->d_name);
		size_t len = 0;
		char *src = test_read_file(path, &len);
		CHECK(src != NULL);
		if (src)
			n += formats_of(path, src, f + n, (int)(sizeof(f) / sizeof(f[0])) - n);
		free(src);
	}
	closedir(d);
	int covered = 0;
	for (int i = 0; i < n; i++) {
		bool hit = false;
		for (int j = 0; j < nseen_msg && !hit; j++)
			hit = fmt_matches(f[i].text, seen_msg[j]);
		if (!hit)
			printf("  %s: no case rejects with \"%s\" (add one to tests/unit/test_verifier.c)\n", f[i].where, f[i].text);
		CHECK(hit);
		covered += hit;
	}
	printf("  %d of %d rejection formats in src/verifier/ produced by a case\n", covered, n);
	CHECK(n > 50);
}

/* One program through PROG_LOAD with a log: in the kernel (vm NULL) or bpfvm.  Returns the fd or errno;
 * *true_size gets log_true_size where the attr has it. */
static long load_logged(struct bpfvm *vm, long map_fd, const char *src, uint32_t level, char *buf, uint32_t size,
			uint32_t *true_size)
{
	struct bpf_insn insns[128];
	struct bpfvm *as = bpfvm_new(NULL);
	long n = bpfvm_asm(as, src, insns, 128);
	bpfvm_free(as);
	if (n <= 0)
		return -1000;
	for (long i = 0; i < n; i++)
		if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && (uint32_t)insns[i].imm == mark_base + M_HASH) {
			insns[i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[i].imm = (int32_t)map_fd;
		} else if (insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && (uint32_t)insns[i].imm >= func_base &&
			   (uint32_t)insns[i].imm < func_base + 256) {
			insns[i].src_reg = BPF_PSEUDO_FUNC;
			insns[i].imm -= (int32_t)func_base;
		}
	/* the attr as Linux 6.4+ lays it out: log_true_size after core_relo_rec_size */
	struct {
		union bpf_attr a;
		uint8_t tail[8];
	} x;
	memset(&x, 0, sizeof(x));
	size_t ts_off = offsetof(union bpf_attr, core_relo_rec_size) + sizeof(x.a.core_relo_rec_size);
	x.a.prog_type = BPF_PROG_TYPE_XDP;
	x.a.insns = (uintptr_t)insns;
	x.a.insn_cnt = (uint32_t)n;
	x.a.license = (uintptr_t)"GPL";
	x.a.log_level = level;
	x.a.log_buf = (uintptr_t)buf;
	x.a.log_size = size;
	size_t asz = ts_off + 4 > sizeof(x.a) ? ts_off + 4 : sizeof(x.a);
	struct bpf_func_info fi[64];
	long btf = vm ? -1 : kbtf_for_callbacks(&x.a, fi); /* the kernel wants BTF func_info with callbacks */
	long fd = vm ? bpfvm_bpf(vm, BPF_PROG_LOAD, &x.a, (unsigned)asz) : syscall(__NR_bpf, BPF_PROG_LOAD, &x.a, asz);
	if (!vm && fd < 0)
		fd = -errno;
	if (btf >= 0)
		close((int)btf);
	memcpy(true_size, (char *)&x + ts_off, 4);
	if (fd >= 0) {
		if (vm)
			bpfvm_close(vm, (int)fd);
		else
			close((int)fd);
		return 0;
	}
	return fd;
}

#define LOGGED LOOKUP(HASH) "if r0 == 0 goto +1\nr0 = *(u64 *)(r0 + 0)\nr0 = 2\nexit\n"

/* The statistics line: total_states counts every state kept at a prune point, peak_states the most kept
 * at once.  A loop's states stay while its walk goes on (those that keep missing leave the list but
 * not memory: the paths that rejoin later may need them), so on this one-path loop the two agree, as
 * in the kernel (Linux 6.18: 16 and 16); they stay within a state or two of the kernel's. */
TEST(statistics_peak_states)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static char vlog[1 << 16];
	uint32_t ts = 0;
	unsigned total = 0, peak = 0;
	CHECK(load_logged(vm, -1, "r1 = 0\nr0 = 0\nloop: r1 += 1\nr0 += 1\nif r1 < 300 goto loop\nr0 = 2\nexit\n", 1, vlog,
			  sizeof(vlog), &ts) == 0);
	const char *st = strstr(vlog, "total_states ");
	CHECK(st && sscanf(st, "total_states %u peak_states %u", &total, &peak) == 2);
	if (!(peak >= 1 && peak <= total && total < 30))
		printf("  total_states %u peak_states %u:\n%s\n", total, peak, vlog);
	CHECK(peak >= 1 && peak <= total && total < 30); /* one state every 20 jumps in a loop (Linux) */
	bpfvm_free(vm);
}

/* A loop of 64 rounds whose counter a subprog computes (r6 = next(r6)), each round with two paths (a
 * random bit) that leave an accumulator different: the counter must be precise through the call (its
 * r0 back into the callee, the callee's r1 out to the caller), the accumulator not, so the paths join.
 * It must take no more than twice the insns of the same loop with next() written inline (before
 * precision followed calls, a path through one marked every scalar precise: 60,887 insns against
 * 1,028).  The kernel's count is printed beside. */
TEST(precision_through_a_call_prunes_as_inlined)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static char vlog[1 << 16], kl[1 << 16];
	static const char call[] = "r6 = 0\nr7 = 0\nloop: call 7\nif r0 == 0 goto +2\nr7 += 3\ngoto +1\nr7 ^= 5\nr1 = r6\n"
				   "call local +4\nr6 = r0\nif r6 < 64 goto loop\nr0 = 2\nexit\nr0 = r1\nr0 += 1\nexit\n";
	static const char inlined[] = "r6 = 0\nr7 = 0\nloop: call 7\nif r0 == 0 goto +2\nr7 += 3\ngoto +1\nr7 ^= 5\n"
				      "r1 = r6\nr0 = r1\nr0 += 1\nr6 = r0\nif r6 < 64 goto loop\nr0 = 2\nexit\n";
	uint32_t ts = 0;
	unsigned long pc = 0, pi = 0, kpc = 0;
	const char *p;
	CHECK(load_logged(vm, -1, call, 4, vlog, sizeof(vlog), &ts) == 0);
	CHECK((p = strstr(vlog, "processed ")) && sscanf(p, "processed %lu", &pc) == 1);
	CHECK(load_logged(vm, -1, inlined, 4, vlog, sizeof(vlog), &ts) == 0);
	CHECK((p = strstr(vlog, "processed ")) && sscanf(p, "processed %lu", &pi) == 1);
	CHECK(pi > 0 && pc <= 2 * pi);
	/* the same through callx (bpfvm's: Linux refuses callx): precision follows it as a call insn */
	static const char callx[] = "r6 = 0\nr7 = 0\nloop: call 7\nif r0 == 0 goto +2\nr7 += 3\ngoto +1\nr7 ^= 5\nr1 = r6\n"
				    "r2 = " FUNC_REL(06) " ll\ncallx r2\nr6 = r0\nif r6 < 64 goto loop\nr0 = 2\nexit\nr0 = r1\nr0 += 1\nexit\n";
	static const char callv[] = "r6 = 0\nr7 = 0\nloop: call 7\nif r0 == 0 goto +2\nr7 += 3\ngoto +1\nr7 ^= 5\nr1 = r6\n"
				    "r2 = " FUNC_REL(06) " ll\ncall local +4\nr6 = r0\nif r6 < 64 goto loop\nr0 = 2\nexit\nr0 = r1\nr0 += 1\nexit\n";
	unsigned long px = 0, pv = 0;
	CHECK(load_logged(vm, -1, callx, 4, vlog, sizeof(vlog), &ts) == 0);
	CHECK((p = strstr(vlog, "processed ")) && sscanf(p, "processed %lu", &px) == 1);
	CHECK(load_logged(vm, -1, callv, 4, vlog, sizeof(vlog), &ts) == 0);
	CHECK((p = strstr(vlog, "processed ")) && sscanf(p, "processed %lu", &pv) == 1);
	if (px != pv)
		printf("  through callx: %lu insns processed, through a call insn %lu\n", px, pv);
	CHECK(px == pv);
	if (load_logged(NULL, -1, call, 4, kl, sizeof(kl), &ts) == 0 && (p = strstr(kl, "processed ")))
		sscanf(p, "processed %lu", &kpc);
	printf("  a loop counted by a subprog: %lu insns processed, inlined %lu (the kernel: %lu%s)\n", pc, pi, kpc,
	       kpc ? "" : ", not asked");
	bpfvm_free(vm);
}

/* Loops widened (verifier.c loop_of()): the default walk widens a counted loop's state after a round and
 * walks the rest at once; BPFVM_VERIFY_EXACT_LOOPS walks every round as Linux does.  Both must reach the
 * same verdict with the same words (the widened walk's own refusals are no verdict: the exact walk
 * decides), the processed count stays Linux's measure (the rounds widened are counted), and the kernel,
 * where it is asked, agrees. */
static long stat_of(const char *log, const char *key)
{
	const char *p = strstr(log, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

TEST(loops_are_widened)
{
	static const struct {
		const char *what, *src;
		bool ok;
		bool widened; /* accepted walking few states (not the exact walk after a widened refusal) */
		bool estimate; /* processed: the rounds at the first round's pace, not within a tenth */
	} loops[] = {
		{ "1000 rounds up", "r0 = 0\nr1 = 0\nloop: r0 += r1\nr1 += 1\nif r1 < 1000 goto loop\nr0 &= 3\nexit\n", true, true, false },
		{ "1000 rounds down", "r0 = 0\nr1 = 1000\nloop: r0 += r1\nr1 += -1\nif r1 != 0 goto loop\nr0 &= 3\nexit\n", true, true, false },
		{ "nested 100x100", "r0 = 0\nr1 = 0\nouter: r2 = 0\ninner: r0 += r2\nr2 += 1\nif r2 < 100 goto inner\n"
		  "r1 += 1\nif r1 < 100 goto outer\nr0 &= 3\nexit\n", true, true, false },
		{ "32-bit counter", "w1 = 0\nloop: w1 += 2\nif w1 < 600 goto loop\nr0 = 2\nexit\n", true, true, false },
		{ "stack indexed by the counter", "r0 = 0\nr1 = 0\nloop: r2 = r10\nr2 += -64\nr2 += r1\n*(u8 *)(r2 + 0) = r0\n"
		  "r1 += 1\nif r1 < 64 goto loop\nr0 = 2\nexit\n", true, true, false },
		/* r0 counts the rounds too, and only its exact value keeps the store in the stack */
		{ "accumulator needed exactly", "r0 = 0\nr1 = 0\nloop: r0 += 1\nr1 += 1\nif r1 < 10 goto loop\nr2 = r10\nr2 += -16\n"
		  "r2 += r0\n*(u8 *)(r2 + 0) = r1\nr0 = 2\nexit\n", true, false, false },
		/* the second round's increment could wrap the widened range: the guard gives up widening */
		{ "32-bit step that could wrap", "w1 = 0\nloop: w1 += 0x7fffffff\nif w1 < -16 goto loop\nr0 = 2\nexit\n", true, false, false },
		{ "stack indexed past its end", "r0 = 0\nr1 = 0\nloop: r2 = r10\nr2 += -64\nr2 += r1\n*(u8 *)(r2 + 0) = r0\n"
		  "r1 += 1\nif r1 < 80 goto loop\nr0 = 2\nexit\n", false, false, false },
		/* the counter is reset outside the loop's body: no ranking, and the outer loop never ends */
		{ "counter reset by an endless outer loop", "r0 = 0\nr1 = 0\nloop: r1 += 1\nif r1 < 10 goto loop\nr1 = 0\ngoto loop\n", false, false, false },
		/* the inner loop widens; the outer one has no counter and repeats itself */
		{ "endless loop around a counted one", "r0 = 0\nouter: r2 = 0\ninner: r2 += 1\nif r2 < 10 goto inner\ngoto outer\n", false, false, false },
		/* two bounds: widened to the first, then again to the second, each counted */
		{ "two bounds", "r0 = 0\nr1 = 0\nloop: if r1 > 100 goto x\nr0 += 1\nx: r1 += 1\nif r1 < 3000 goto loop\nr0 = 2\nexit\n", true, true,
		  true },
		{ "two bounds, too many rounds", "r0 = 0\nr1 = 0\nloop: if r1 > 100 goto x\nr0 += 1\nx: r1 += 1\nif r1 < 400000 goto loop\n"
		  "r0 = 2\nexit\n", false, false, false },
		/* the inner loop's rounds follow the outer counter: the first outer round does not stand for
		 * the others, so the exact walk confirms an acceptance (and counts past the limit) */
		{ "inner rounds following the outer counter", "r0 = 0\nr1 = 0\nouter: r2 = 0\ninner: r0 += 1\nr2 += 1\n"
		  "if r2 < r1 goto inner\nr1 += 1\nif r1 < 100 goto outer\nr0 = 2\nexit\n", true, false, false },
		{ "inner rounds following the outer counter, too many", "r0 = 0\nr1 = 0\nouter: r2 = 0\ninner: r0 += 1\n"
		  "r2 += 1\nif r2 < r1 goto inner\nr1 += 1\nif r1 < 1000 goto outer\nr0 = 2\nexit\n", false, false, false },
		{ "too many rounds", "r0 = 0\nr1 = 0\nloop: r1 += 1\nif r1 < 600000 goto loop\nexit\n", false, false, false },
		{ "too many rounds, nested", "r0 = 0\nr1 = 0\nouter: r2 = 0\ninner: r2 += 1\nif r2 < 1000 goto inner\n"
		  "r1 += 1\nif r1 < 1000 goto outer\nexit\n", false, false, false },
	};
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	o.verify = BPFVM_VERIFY_EXACT_LOOPS;
	struct bpfvm *ex = bpfvm_new(&o);
	static char wlog[1 << 12], xlog[1 << 12], kl_[1 << 12];
	int kasked = 0;
	for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		uint32_t ts;
		wlog[0] = xlog[0] = kl_[0] = 0;
		long w = load_logged(vm, -1, loops[i].src, 4, wlog, sizeof(wlog), &ts);
		char wmsg[600];
		snprintf(wmsg, sizeof(wmsg), "%s", bpfvm_errmsg(vm));
		long x = load_logged(ex, -1, loops[i].src, 4, xlog, sizeof(xlog), &ts);
		long k = load_logged(NULL, -1, loops[i].src, 4, kl_, sizeof(kl_), &ts);
		long wp = stat_of(wlog, "processed "), ws = stat_of(wlog, "total_states "), xp = stat_of(xlog, "processed "),
		     xs = stat_of(xlog, "total_states "), kp = stat_of(kl_, "processed ");
		printf("  %s: %s; widened %ld insns %ld states, exact %ld insns %ld states, kernel %s %ld insns\n", loops[i].what,
		       w >= 0 ? "accepted" : wmsg, wp, ws, xp, xs, k >= 0 ? "accepted" : k == -EPERM ? "not usable" : "refused", kp);
		CHECK((w >= 0) == loops[i].ok);
		CHECK((x >= 0) == loops[i].ok);
		if (w < 0)
			CHECK_EQ_STR(wmsg, bpfvm_errmsg(ex));
		if (loops[i].widened)
			CHECK(ws >= 0 && ws <= 16 && xs > ws);
		if (w >= 0 && loops[i].widened && !loops[i].estimate) /* Linux's measure: within a tenth of the exact */
			CHECK(wp * 10 >= xp * 9 && wp * 10 <= xp * 11);
		if (w >= 0 && loops[i].estimate) /* an estimate, never below: the limit refuses no later than Linux */
			CHECK(wp >= xp && wp < 2 * xp);
		if (k != -EPERM) {
			kasked++;
			CHECK((k >= 0) == loops[i].ok);
		}
		if (w >= 0)
			close((int)w), close((int)x);
		if (k >= 0)
			close((int)k);
	}
	printf("  %zu loops; the kernel asked on %d\n", sizeof(loops) / sizeof(loops[0]), kasked);
	bpfvm_free(ex);
	bpfvm_free(vm);
}

/* One program's load in bpfvm and in the kernel, with the insns each walk processed (0: not known, the
 * kernel's also when it was not asked).  Returns bpfvm's result. */
static long processed_by(struct bpfvm *vm, const char *src, unsigned long *mine, unsigned long *kernel)
{
	static char vlog[1 << 16], kl[1 << 16];
	uint32_t ts = 0;
	long r = load_logged(vm, -1, src, 4, vlog, sizeof(vlog), &ts);
	const char *p = strstr(vlog, "processed ");
	*mine = *kernel = 0;
	if (r >= 0 && p)
		sscanf(p, "processed %lu", mine);
	if (load_logged(NULL, -1, src, 4, kl, sizeof(kl), &ts) >= 0 && (p = strstr(kl, "processed ")))
		sscanf(p, "processed %lu", kernel);
	return r;
}

/* A loop of 1,000 rounds with a packet check in each: the path where a check fails rejoins the loop one
 * round later, at states of rounds the first path walked long before (kept dormant while that walk
 * went on, prune_or_record()).  The kernel drops those states and walks 900,000+ insns; bpfvm must
 * reach the same verdict walking a small part of that. */
TEST(packet_loop_rejoins_later_rounds)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static const char src[] = "r6 = *(u32 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 4)\nr0 = 0\nr1 = 0\n"
				  "loop: r2 = r6\nr2 += 1\nif r2 > r7 goto skip\nr3 = *(u8 *)(r6 + 0)\nr0 += r3\n"
				  "skip: r0 += r1\nr1 += 1\nif r1 < 1000 goto loop\nr0 &= 3\nexit\n";
	unsigned long processed, kprocessed;
	CHECK(processed_by(vm, src, &processed, &kprocessed) == 0);
	CHECK(processed > 1000 && processed < 100000);
	printf("  packet-check loop of 1000 rounds: %lu insns processed (the kernel: %lu%s)\n", processed, kprocessed,
	       kprocessed ? "" : ", not asked");
	bpfvm_free(vm);
}

/* Ten may_goto loops in a row, after a packet check that leaves r8 unknown on one path and 0 on the
 * other, r8 made precise at the end: walked in Linux's order (a may_goto's jump first, the rest of the
 * round queued), the unknown path's states cover the constant one's at each loop, and the walk is
 * linear; the other order walked every way out of every loop with its own constant (too large;
 * found by fuzz_jitv). */
TEST(sequential_may_goto_loops_converge)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static char src[4096];
	snprintf(src, sizeof(src), "r6 = *(u32 *)(r1 + 0)\nr7 = *(u32 *)(r1 + 4)\nr8 = 0\nr1 = r6\nr1 += 1\n"
		 "if r1 > r7 goto s\nr8 = *(u8 *)(r6 + 0)\ns: r8 += 0\n");
	for (int i = 0; i < 10; i++)
		snprintf(src + strlen(src), sizeof(src) - strlen(src),
			 "r4 = 0\nl%d: may_goto e%d\nr8 += r4\nr8 *= 10\nr8 &= 65535\nr4 += 1\nif r4 < 11 goto l%d\ne%d: r8 += 0\n",
			 i, i, i, i);
	strcat(src, "r3 = r8\nr3 &= 0\nr3 += r10\n*(u64 *)(r3 - 8) = r8\nr0 = 2\nexit\n");
	unsigned long processed, kprocessed;
	CHECK(processed_by(vm, src, &processed, &kprocessed) >= 0);
	CHECK(processed > 700 && processed < 50000);
	printf("  ten may_goto loops in a row: %lu insns processed (the kernel: %lu%s)\n", processed, kprocessed,
	       kprocessed ? "" : ", not asked");
	bpfvm_free(vm);
}

/* A bpf_loop whose callback changes the caller's stack on two paths (bench_verifier's "bpf_loop of 64"):
 * the changed values are imprecise and widen at the callback's return, so the walk converges after a
 * few calls, as the kernel's does (before, bpfvm widened after four walks: 107 insns, the kernel 42). */
TEST(callback_loop_converges)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static const char src[] = "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = 64\nr2 = " FUNC_REL(07) " ll\nr3 = r10\nr3 += -8\n"
				  "r4 = 0\ncall 181\nr0 = 2\nexit\n"
				  "r6 = r2\ncall 7\nr1 = *(u64 *)(r6 + 0)\nif r0 == 0 goto +2\nr1 += 3\ngoto +1\nr1 ^= 5\n"
				  "*(u64 *)(r6 + 0) = r1\nr0 = 0\nexit\n";
	unsigned long processed, kprocessed;
	CHECK(processed_by(vm, src, &processed, &kprocessed) >= 0);
	CHECK(processed > 20 && processed < 80);
	printf("  bpf_loop callback changing the caller's stack: %lu insns processed (the kernel: %lu%s)\n", processed,
	       kprocessed, kprocessed ? "" : ", not asked");
	bpfvm_free(vm);
}

/* ---- prototypes of the embedder's host functions (bpfvm_opts.protos) ---- */

static uint64_t host_sum(uint64_t p, uint64_t n, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r3, (void)r4, (void)r5;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += ((const uint8_t *)(uintptr_t)p)[i];
	return sum;
}

static uint64_t host_fill(uint64_t p, uint64_t n, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r4, (void)r5;
	memset((void *)(uintptr_t)p, (int)r3, (size_t)n);
	return 0;
}

static uint64_t host_num(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return r1 * 2;
}

/* Loads src as XDP in vm, its "call N" for N >= 0x10000 made kfunc calls of N - 0x10000: the fd, or a
 * negative errno with bpfvm_errmsg() in why. */
static long load_host(struct bpfvm *vm, const char *src, char *why, size_t len)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	if (n <= 0)
		return -1000;
	for (long i = 0; i < n; i++)
		if (insns[i].code == (BPF_JMP | BPF_CALL) && insns[i].imm >= 0x10000) {
			insns[i].src_reg = BPF_PSEUDO_KFUNC_CALL;
			insns[i].imm -= 0x10000;
		}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	long fd = bpfvm_bpf(vm, BPF_PROG_LOAD, &a, sizeof(a));
	snprintf(why, len, "%s", fd < 0 ? bpfvm_errmsg(vm) : "");
	return fd;
}

TEST(host_function_prototypes)
{
	static const struct bpfvm_kfunc kf[] = { { 1, "sum", host_sum }, { 2, "fill", host_fill }, { 3, "num", host_num },
						 { 4, "raw", host_sum } };
	static const struct bpfvm_kfunc hf[] = { { 7, "quiet", host_num } }; /* replaces get_prandom_u32 */
	static const struct bpfvm_func_proto pr[] = {
		{ 1, 1, { BPFVM_ARG_MEM, BPFVM_ARG_SIZE }, BPFVM_RET_SCALAR },
		{ 2, 1, { BPFVM_ARG_MEM_UNINIT, BPFVM_ARG_SIZE_OR_ZERO, BPFVM_ARG_SCALAR }, BPFVM_RET_SCALAR },
		{ 3, 1, { BPFVM_ARG_SCALAR }, BPFVM_RET_SCALAR },
		{ 7, 0, { BPFVM_ARG_SCALAR }, BPFVM_RET_VOID },
	};
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON, .kfuncs = kf, .kfunc_cnt = 4, .helpers = hf,
				.helper_cnt = 1, .protos = pr, .proto_cnt = 4 };
	struct bpfvm *vm = bpfvm_new(&o);
	char why[600];
	CHECK(vm != NULL);
	if (!vm)
		return;
	static const struct {
		const char *src, *err; /* NULL: accepted */
	} hc[] = {
		/* memory and its size: initialized stack of that size */
		{ "r1 = 0x01020304\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\ncall 0x10001\nexit\n", NULL },
		/* never written: a privileged program reads it as unknown bytes (Linux's allow_uninit_stack) */
		{ "r1 = r10\nr1 += -8\nr2 = 8\ncall 0x10001\nexit\n", NULL },
		{ "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 16\ncall 0x10001\nexit\n",
		  "invalid read from stack R1 off=-8 size=16" },
		{ "r1 = 5\nr2 = 8\ncall 0x10001\nexit\n",
		  "R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_" },
		{ "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 0\ncall 0x10001\nexit\n",
		  "R2 invalid zero-sized read: u64=[0,0]" },
		/* memory it writes: uninitialized stack is fine, and it is initialized after */
		{ "r1 = r10\nr1 += -16\nr2 = 16\nr3 = 7\ncall 0x10002\nr0 = *(u64 *)(r10 - 8)\nexit\n", NULL },
		{ "r1 = r10\nr1 += -16\nr2 = 24\nr3 = 7\ncall 0x10002\nr0 = 0\nexit\n",
		  "invalid write to stack R1 off=-16 size=24" },
		{ "r1 = r10\nr1 += -16\nr2 = 16\nr3 = r10\ncall 0x10002\nr0 = 0\nexit\n", "R3 type=fp expected=scalar" },
		/* a scalar: no address reaches the host */
		{ "r1 = r10\ncall 0x10003\nexit\n", "R1 type=fp expected=scalar" },
		{ "call 0x10003\nexit\n", "R1 type=ctx expected=scalar" },
		{ "r2 = 1\nr1 = 5\ncall 0x10003\nr0 = r2\nexit\n", "R2 !read_ok" }, /* r1-r5 clobbered */
		/* no prototype: anything, as before */
		{ "r1 = r10\ncall 0x10004\nexit\n", NULL },
		/* a host helper's prototype: r0 unset after a void one */
		{ "r1 = 3\ncall 7\nexit\n", "R0 !read_ok" },
		{ "r1 = 3\ncall 7\nr0 = 2\nexit\n", NULL },
	};
	for (size_t i = 0; i < sizeof(hc) / sizeof(hc[0]); i++) {
		long fd = load_host(vm, hc[i].src, why, sizeof(why));
		bool ok = hc[i].err ? fd < 0 && strstr(why, hc[i].err) != NULL : fd >= 0;
		if (!ok)
			printf("  host prototype case %zu: %s (expected %s)\n", i, fd >= 0 ? "accepted" : why,
			       hc[i].err ? hc[i].err : "accepted");
		CHECK(ok);
		if (fd >= 0)
			bpfvm_close(vm, (int)fd);
	}
	/* the run passes what the verifier proved: the sum of the 8 bytes of 0x01020304 */
	long fd = load_host(vm, hc[0].src, why, sizeof(why));
	CHECK(fd >= 0);
	uint8_t pkt[64] = { 0 };
	union bpf_attr t;
	memset(&t, 0, sizeof(t));
	t.test.prog_fd = (uint32_t)fd;
	t.test.data_in = (uintptr_t)pkt;
	t.test.data_size_in = sizeof(pkt);
	CHECK(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &t, sizeof(t)) == 0);
	CHECK(t.test.retval == 1 + 2 + 3 + 4);
	bpfvm_close(vm, (int)fd);
	bpfvm_free(vm);

	/* prototypes that cannot be: bpfvm_new() refuses them */
	static const struct bpfvm_func_proto bad[][1] = {
		{ { 9, 1, { BPFVM_ARG_SCALAR }, 0 } },                       /* no kfunc 9 */
		{ { 1, 0, { BPFVM_ARG_SCALAR }, 0 } },                       /* no helper 1 */
		{ { 1, 1, { BPFVM_ARG_MEM, BPFVM_ARG_SCALAR }, 0 } },        /* memory without its size */
		{ { 1, 1, { BPFVM_ARG_SIZE }, 0 } },                         /* a size of nothing */
		{ { 1, 1, { 99 }, 0 } },                                     /* an unknown kind */
		{ { 1, 1, { BPFVM_ARG_SCALAR }, 7 } },                       /* an unknown return */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bpfvm_opts b = o;
		b.protos = bad[i];
		b.proto_cnt = 1;
		struct bpfvm *v = bpfvm_new(&b);
		if (v)
			printf("  bad prototype %zu accepted\n", i);
		CHECK(v == NULL);
		bpfvm_free(v);
	}
	struct bpfvm_func_proto twice[2] = { pr[2], pr[2] };
	struct bpfvm_opts b2 = o;
	b2.protos = twice;
	b2.proto_cnt = 2;
	struct bpfvm *v2 = bpfvm_new(&b2);
	CHECK(v2 == NULL);
	bpfvm_free(v2);
}

/* Levels 1 and 2 in Linux's notation, line for line where bpfvm and the kernel walk alike. */
TEST(log_levels)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static char vlog[1 << 16], kl[1 << 16];
	uint32_t ts = 0;
	long vmap = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0), kmap_fd = kmap(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	static const char *const lines[] = {
		"0: R1=ctx() R10=fp0",
		"0: (b7) r1 = 0                        ; R1=0",
		"2: (bf) r2 = r10                      ; R2=fp0 R10=fp0",
		"3: (07) r2 += -4                      ; R2=fp-4",
		"6: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,ks=4,vs=8)",
		"7: (15) if r0 == 0x0 goto pc+1        ; R0=map_value(ks=4,vs=8)",
		"8: (79) r0 = *(u64 *)(r0 +0)          ; R0=scalar()",
		"9: (b7) r0 = 2                        ; R0=2",
		"processed 11 insns (limit 1000000) max_states_per_insn ",
	};
	CHECK(load_logged(vm, vmap, LOGGED, 2, vlog, sizeof(vlog), &ts) == 0);
	CHECK(strlen(vlog) + 1 == ts);
	uint32_t kts = 0;
	bool kernel = kmap_fd >= 0 && load_logged(NULL, kmap_fd, LOGGED, 2, kl, sizeof(kl), &kts) == 0;
	if (!kernel)
		printf("  kernel comparison skipped: bpf() unavailable; bpfvm alone\n");
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!strstr(vlog, lines[i]))
			printf("  bpfvm's level 2 log lacks '%s':\n%s\n", lines[i], vlog);
		CHECK(strstr(vlog, lines[i]) != NULL);
		if (kernel && !strstr(kl, lines[i]))
			printf("  the kernel's level 2 log lacks '%s' (the test's expectation is stale)\n", lines[i]);
		CHECK(!kernel || strstr(kl, lines[i]) != NULL);
	}
	/* level 1 of a rejection: the failing path, its reason, the statistics */
	const char *bad = LOOKUP(HASH) "r0 = *(u64 *)(r0 + 0)\nexit\n";
	CHECK(load_logged(vm, vmap, bad, 1, vlog, sizeof(vlog), &ts) == -EACCES);
	const char *want = "7: (79) r0 = *(u64 *)(r0 +0)\ninsn 7: R0 invalid mem access 'map_value_or_null'\nprocessed 7 insns (limit 1000000)";
	if (!strstr(vlog, want))
		printf("  bpfvm's level 1 log lacks '%s':\n%s\n", want, vlog);
	CHECK(strstr(vlog, want) != NULL);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 7: R0 invalid mem access 'map_value_or_null'") != NULL);
	/* level 1 keeps only the path walked last: the branch's other side is gone */
	const char *two = "r0 = *(u32 *)(r1 + 12)\nif r0 > 3 goto +2\nr0 = 1\nexit\nr0 = 2\nr1 = *(u64 *)(r1 + 64)\nexit\n";
	CHECK(load_logged(vm, vmap, two, 1, vlog, sizeof(vlog), &ts) == -EACCES);
	CHECK(strstr(vlog, "from 1 to 4: R0=scalar(") != NULL);
	CHECK(strstr(vlog, "2: (b7) r0 = 1") == NULL);
	CHECK(load_logged(vm, vmap, two, 2, vlog, sizeof(vlog), &ts) == -EACCES);
	CHECK(strstr(vlog, "2: (b7) r0 = 1") != NULL);
	if (kmap_fd >= 0)
		close((int)kmap_fd);
	bpfvm_free(vm);
}

/* log_size, log_true_size and BPF_LOG_FIXED as Linux: a log that does not fit fails the load with ENOSPC
 * (whatever the verdict), keeping its end (its start when fixed); log_true_size is what it needed. */
TEST(log_buffer_rules)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	static char full[1 << 16];
	char small[128];
	uint32_t need = 0, ts = 0;
	long vmap = mk(vm, BPF_MAP_TYPE_HASH, 4, 8, 4, 0), kmap_fd = kmap(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	CHECK(load_logged(vm, vmap, LOGGED, 2, full, sizeof(full), &need) == 0);
	CHECK(need == strlen(full) + 1 && need > sizeof(small));
	CHECK(load_logged(vm, vmap, LOGGED, 2, small, sizeof(small), &ts) == -ENOSPC);
	CHECK(ts == need);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(!strcmp(small, full + (need - sizeof(small)))); /* the end */
	CHECK(strstr(bpfvm_errmsg(vm), "does not fit log_size 128") != NULL);
	CHECK(load_logged(vm, vmap, LOGGED, 2 | 8, small, sizeof(small), &ts) == -ENOSPC);
	CHECK(!strncmp(small, full, sizeof(small) - 1)); /* BPF_LOG_FIXED: the start */
	CHECK(load_logged(vm, vmap, LOGGED, 16, small, sizeof(small), &ts) == -EINVAL);
	CHECK(load_logged(vm, vmap, LOGGED, 2, small, 100, &ts) == -ENOSPC);
	CHECK(load_logged(vm, vmap, LOGGED, 2, NULL, 0, &ts) == 0 && ts == need); /* only the size asked */
	if (kmap_fd >= 0) {
		/* the kernel agrees on each verdict */
		CHECK(load_logged(NULL, kmap_fd, LOGGED, 2, small, sizeof(small), &ts) == -ENOSPC);
		CHECK(ts > sizeof(small) && strlen(small) == sizeof(small) - 1);
		CHECK(load_logged(NULL, kmap_fd, LOGGED, 16, small, sizeof(small), &ts) == -EINVAL);
		CHECK(load_logged(NULL, kmap_fd, LOGGED, 2, small, 100, &ts) == -ENOSPC);
		CHECK(load_logged(NULL, kmap_fd, LOGGED, 2, NULL, 0, &ts) == 0 && ts > sizeof(small));
		close((int)kmap_fd);
	}
	bpfvm_free(vm);
}

/* Every example object: each program loads with the verifier on (the kernel accepts them all: see
 * test_examples). */
TEST(examples_verify)
{
	static const char *const objs[] = { "xdp_firewall.bpf", "xdp_lb.bpf", "socket_filter.bpf", "tc_classifier.bpf",
					    "tail_calls.bpf", "hook_prog.bpf", "legacy/xdp1_kern", "legacy/sockex1_kern",
					    "legacy/sockex2_kern", "legacy/tcbpf1_kern" };
	int progs = 0;
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), "build/examples/%s.o", objs[i]);
		struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
		struct bpfvm *vm = bpfvm_new(&o);
		struct bpfvm_object *obj = NULL;
		int err = bpfvm_object_open(vm, path, &obj);
		if (err) {
			printf("  %s: open: %s\n", path, bpfvm_errmsg(vm));
			CHECK(0);
			bpfvm_free(vm);
			continue;
		}
		/* tcbpf1's sections name no type: its loader (tc) gives them sched_cls */
		for (size_t k = 0; k < bpfvm_object_prog_cnt(obj); k++)
			if (!bpfvm_object_prog_type(obj, k))
				bpfvm_object_prog_set_type(obj, k, BPF_PROG_TYPE_SCHED_CLS);
		err = bpfvm_object_load(obj);
		if (err) {
			printf("  %s: %s\n", path, bpfvm_errmsg(vm));
			CHECK(0);
		} else {
			progs += (int)bpfvm_object_prog_cnt(obj);
		}
		bpfvm_object_close(obj);
		bpfvm_free(vm);
	}
	printf("  %d programs of the examples verified\n", progs);
	CHECK(progs > 5);
}

/* bpf_timer_init() with another map than the timer's: refused with Linux's words (tests/loader/timer_map.bpf.c;
 * test_kernel_verdicts compares both programs' verdicts with the kernel's). */
TEST(timer_init_names_its_map)
{
	char obj[] = "/tmp/bpfvm-timer-map-XXXXXX", cmd[256], out[4096];
	const char *why = clang_obj("tests/loader/timer_map.bpf.c", obj);
	if (why)
		SKIP(why);
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s 2>&1; echo rc=$?", obj);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, ": section xdp: program 'same_map': verified\n") != NULL);
	CHECK(strstr(out, ": timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0 (program 'other_map')") != NULL);
	CHECK(strstr(out, "rc=1\n") != NULL);
	/* its message counts for every_message_has_a_case: "insn N: <message> (program 'other_map')" */
	const char *m = strstr(out, "insn "), *end = m ? strstr(m, " (program") : NULL;
	if (m && end) {
		char line[300];
		snprintf(line, sizeof(line), "%.*s", (int)(end - m), m);
		note_messages(line);
	}
	if (!strstr(out, "map_uid=0 doesn't match"))
		printf("  got: %s\n", out);
	unlink(obj);
}

/* A timer's callback is an async callback (tests/loader/timer_async.bpf.c; test_kernel_verdicts compares
 * the three verdicts with the kernel's): walked on its own stack as frame 0, so neither the frames nor the
 * stack of the path that set it count, and its return value must be 0 in Linux's words. */
TEST(timer_callbacks_are_async)
{
	char obj[] = "/tmp/bpfvm-timer-async-XXXXXX", cmd[256], out[4096];
	const char *why = clang_obj("tests/loader/timer_async.bpf.c", obj);
	if (why)
		SKIP(why);
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s 2>&1; echo rc=$?", obj);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, "program 'returns_one': insn 25 (in a subprogram): At async callback return the register R0 has "
			  "smin=1 smax=1 should have been in [0, 0]") != NULL);
	CHECK(strstr(out, ": program 'big_stacks': verified\n") != NULL);
	CHECK(strstr(out, ": program 'eighth_frame': verified\n") != NULL);
	CHECK(strstr(out, "rc=1\n") != NULL);
	if (test_cur_failed)
		printf("  got: %s\n", out);
	/* the callback's walk starts from its own state: level 2 marks it */
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s --prog eighth_frame --log 2 2>&1", obj);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, " R1=map_ptr(ks=4,vs=56) R2=map_key(ks=4,vs=56) R3=map_value(ks=4,vs=56) R10=fp0 async_cb\n") != NULL);
	unlink(obj);
}

/* A call through a function pointer as clang emits it (tests/loader/callx.bpf.c; clang before 19 puts the
 * register in imm, the loader moves it to dst): verified, and both engines call the function the pointer
 * names on every packet of examples/sample.pcap (the kernel refuses it: known-differences.txt). */
TEST(callx_from_clang)
{
	char obj[] = "/tmp/bpfvm-callx-XXXXXX", cmd[512], out[4096], out2[4096];
	const char *why = clang_obj("tests/loader/callx.bpf.c", obj);
	if (why)
		SKIP(why);
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s 2>&1", obj);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, "program 'by_pointer': verified") != NULL);
	snprintf(cmd, sizeof(cmd), "build/bpfvm run %s --pcap examples/sample.pcap 2>&1", obj);
	run_out(cmd, out, sizeof(out));
	snprintf(cmd, sizeof(cmd), "build/bpfvm run %s --pcap examples/sample.pcap --interp 2>&1", obj);
	run_out(cmd, out2, sizeof(out2));
	unsigned long pass = 0, v0 = 0, v1 = 0;
	const char *p = strstr(out, "PASS"), *k0 = strstr(out, "key 0  value "), *k1 = strstr(out, "key 1  value ");
	CHECK(p && k0 && k1);
	if (p && k0 && k1) {
		pass = strtoul(p + 4, NULL, 10);
		v0 = strtoul(k0 + 13, NULL, 10);
		v1 = strtoul(k1 + 13, NULL, 10);
	}
	CHECK(pass > 0 && v0 > 0 && v1 > 0 && v0 + v1 == pass); /* each packet counted once, by either function */
	const char *m = strstr(out, "maps:"), *m2 = strstr(out2, "maps:");
	CHECK(m && m2 && !strcmp(m, m2)); /* the interpreter's counts are the JIT's */
	if (test_cur_failed)
		printf("  jit: %s\n  interp: %s\n", out, out2);
	unlink(obj);
}

TEST(cli_verify)
{
	char dir[] = "/tmp/bpfvm-verify-XXXXXX", cmd[1024], out[4096];
	if (!mkdtemp(dir))
		SKIP("no temporary directory");
	snprintf(cmd, sizeof(cmd), "%s/bad.bpf.c", dir);
	FILE *f = fopen(cmd, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
	      "struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64);\n"
	      "\t__uint(max_entries, 4); } m SEC(\".maps\");\n"
	      "SEC(\"xdp\") int bad(struct xdp_md *ctx) { __u32 k = 1; __u64 *v = bpf_map_lookup_elem(&m, &k); return *v; }\n"
	      "char LICENSE[] SEC(\"license\") = \"GPL\";\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "build/bpfvm cc %s/bad.bpf.c -o %s/bad.o 2>&1 && build/bpfvm verify %s/bad.o 2>&1; echo rc=$?",
		 dir, dir, dir);
	run_out(cmd, out, sizeof(out));
	if (strstr(out, "clang") && !strstr(out, "rc=")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
		SKIP("clang cannot build BPF here");
	}
	CHECK(strstr(out, "bad.o: section xdp: insn 7: R0 invalid mem access 'map_value_or_null' (program 'bad')") != NULL);
	CHECK(strstr(out, "rc=1") != NULL);
	/* the log before the verdict; JSON; exit 2 when there is no verdict */
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s/bad.o --log 1 2>&1; echo rc=$?", dir);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, "0: R1=ctx() R10=fp0") != NULL);
	CHECK(strstr(out, " insns (limit 1000000) max_states_per_insn ") != NULL);
	CHECK(strstr(out, "rc=1") != NULL);
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s/bad.o --json 2>&1; echo rc=$?", dir);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, "\"name\": \"bad\", \"section\": \"xdp\", \"type\": \"xdp\", \"verdict\": \"rejected\", \"error\": ") != NULL);
	CHECK(strstr(out, "rc=1") != NULL);
	static const char *const no_verdict[] = { "--prog nosuch", "--type nosuch", "--log 3", "--bogus" };
	for (size_t i = 0; i < sizeof(no_verdict) / sizeof(no_verdict[0]); i++) {
		snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s/bad.o %s >/dev/null 2>&1; echo rc=$?", dir, no_verdict[i]);
		run_out(cmd, out, sizeof(out));
		CHECK(strstr(out, "rc=2") != NULL);
	}
	/* --type overrides SEC(): as a socket filter the xdp program's code still fails at insn 7 */
	snprintf(cmd, sizeof(cmd), "build/bpfvm verify %s/bad.o --type socket_filter 2>&1; echo rc=$?", dir);
	run_out(cmd, out, sizeof(out));
	CHECK(strstr(out, "insn 7: R0 invalid mem access 'map_value_or_null'") != NULL);
	run_out("build/bpfvm verify build/examples/xdp_lb.bpf.o; echo rc=$?", out, sizeof(out));
	CHECK(strstr(out, "section xdp: program 'xdp_lb': verified") != NULL);
	CHECK(strstr(out, "rc=0") != NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	RUN(verdicts_match_the_kernel);
	RUN(log_levels);
	RUN(statistics_peak_states);
	RUN(loops_are_widened);
	RUN(packet_loop_rejoins_later_rounds);
	RUN(sequential_may_goto_loops_converge);
	RUN(callback_loop_converges);
	RUN(host_function_prototypes);
	RUN(inner_map_lock_runs);
	RUN(precision_through_a_call_prunes_as_inlined);
	RUN(log_buffer_rules);
	RUN(examples_verify);
	RUN(timer_init_names_its_map);
	RUN(timer_callbacks_are_async);
	RUN(callx_from_clang);
	RUN(cli_verify);
	RUN(complexity_limit);
	RUN(unprivileged_rules);
	RUN(spin_lock_and_timer_values);
	RUN(every_message_has_a_case); /* last: it counts the messages the tests above produced */
	return test_done();
}
