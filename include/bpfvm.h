/* bpfvm.h -- the public API of bpfvm, a user-space eBPF runtime.
 *
 * Conventions:
 *  - Handles are opaque.  Everything hangs off one `struct bpfvm` instance; there is no global state, so
 *    several instances may live in one process.
 *  - Functions return 0 (or a non-negative count/handle) on success and a negative errno on failure.
 *    The reason for a failure is in the instance's log for the calling thread: bpfvm_errmsg().
 *  - Out-parameters come last and are written only on success.
 *  - Memory the library returns is owned by the handle it came from; callers never free() it.
 *  - Options structs start with their own size (`sz`), so they can grow without new entry points.
 */
#ifndef BPFVM_H
#define BPFVM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include <linux/filter.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version (the shared library is libbpfvm.so.MAJOR, and its SONAME changes with MAJOR). */
#define BPFVM_VERSION_MAJOR 0
#define BPFVM_VERSION_MINOR 1
#define BPFVM_VERSION_PATCH 0
#define BPFVM_VERSION "0.1.0"

/* The version of the library actually linked: "MAJOR.MINOR.PATCH". */
const char *bpfvm_version(void);

struct bpfvm;
struct bpfvm_object;

/* Where trace_printk/bpf_printk output goes: called once per message (no trailing NUL guaranteed in
 * msg[len]).  Default: stderr. */
typedef void (*bpfvm_print_fn)(void *ctx, const char *msg, size_t len);

/* A kfunc the embedder offers (call with src_reg 2, imm = id).  Arguments are r1..r5. */
typedef uint64_t (*bpfvm_kfunc_fn)(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);
struct bpfvm_kfunc {
	uint32_t id;
	const char *name;
	bpfvm_kfunc_fn fn;
};

/* What the verifier proves of an argument of an embedder's kfunc or helper before the call (struct
 * bpfvm_func_proto): Linux's bpf_arg_type, in the kinds a host function takes. */
enum bpfvm_arg_kind {
	BPFVM_ARG_ANY = 0,             /* nothing: passed as it is, set or not (a function without a prototype
					* gets this for all five) */
	BPFVM_ARG_SCALAR,              /* a number, never a pointer (so no address reaches the host) */
	BPFVM_ARG_MEM,                 /* memory the program may read (its stack, a map value, the packet,
					* ...), initialized, of the size in the next argument */
	BPFVM_ARG_MEM_OR_NULL,         /* the same, or 0 */
	BPFVM_ARG_MEM_UNINIT,          /* memory the function may write, of the size in the next argument */
	BPFVM_ARG_SIZE,                /* the size of the memory argument before it: bounded, > 0 */
	BPFVM_ARG_SIZE_OR_ZERO,        /* the same, >= 0 */
	BPFVM_ARG_CTX,                 /* the program's context as it received it */
};

/* What r0 holds after the call. */
enum bpfvm_ret_kind {
	BPFVM_RET_SCALAR = 0,          /* an unknown number */
	BPFVM_RET_VOID,                /* nothing: reading r0 before writing it is refused */
};

/* The verifier's prototype of the embedder's kfunc (kfunc non-zero: bpfvm_opts.kfuncs) or helper
 * (kfunc 0: bpfvm_opts.helpers) with this id.  A memory argument is followed by its size, and a size
 * follows a memory argument.  The run does not check arguments: a program loaded with verification off
 * passes what it holds, as to a function without a prototype. */
struct bpfvm_func_proto {
	uint32_t id;
	int kfunc;
	uint8_t args[5];               /* enum bpfvm_arg_kind of r1..r5 */
	uint8_t ret;                   /* enum bpfvm_ret_kind */
};

struct bpfvm_opts {
	size_t sz;                     /* sizeof(struct bpfvm_opts) */
	unsigned int nr_cpus;          /* execution slots for per-CPU maps; 0: online CPUs */
	const char *pin_root;          /* directory playing bpffs; NULL: $XDG_RUNTIME_DIR/bpfvm, or
					* /dev/shm/bpfvm-UID without it.  It must be owned by the caller's euid
					* and not writable by group or others (else pinning fails, -EPERM, and
					* maps live in memory only); pin paths never follow symbolic links.
					* Pin paths (BPF_OBJ_PIN/GET) are ROOT/NAME or /sys/fs/bpf/NAME (an alias
					* of ROOT/NAME); a relative path is -EINVAL */
	bpfvm_print_fn print;          /* trace_printk sink; NULL: stderr */
	void *print_ctx;
	const struct bpfvm_kfunc *kfuncs; /* copied at bpfvm_new(); NULL: none */
	size_t kfunc_cnt;
	const struct bpfvm_kfunc *helpers; /* host helpers called with `call imm` (src 0); an id here
					    * replaces Linux's helper of that id; copied; NULL: none */
	size_t helper_cnt;
	size_t log_max;                /* cap on each thread's error log in bytes; 0: 1 MiB */
	int untrusted;                 /* non-zero: programs are untrusted and get Linux's unprivileged rules
					* (README "Safety": no probe reads at load; at run time no pointer
					* returned in r0, stored outside the stack or passed to a helper as a
					* scalar or inside memory it copies out).  0: trusted (the default) */
	int verify;                    /* BPFVM_VERIFY_*: whether PROG_LOAD runs the verifier */
	uint64_t insn_limit;           /* instruction budget of each run (bpfvm_set_insn_limit());
					* 0: BPFVM_INSN_LIMIT_DEFAULT */
	int allow_foreign_pins;        /* nonzero: BPF_OBJ_GET opens a pinned map whose file another user
					* owns (refused by default, -EPERM: its owner can rewrite it at will) */
	uint64_t map_mem_max;          /* cap on the bytes of all maps the instance holds (created or opened
					* by OBJ_GET; each counted at its full size); past it MAP_CREATE and
					* OBJ_GET fail with -ENOMEM, as Linux's memory cgroup limit does.
					* 0: 1 GiB; UINT64_MAX: no cap */
	int interp;                    /* non-zero: every run uses the interpreter (PROG_TEST_RUN, packet
					* runs, hooks, BPFVM_ENGINE_DEFAULT); 0: the JIT where available
					* (x86-64), else the interpreter */
	int jit_blind;                 /* non-zero: the JIT blinds constants, as Linux's bpf_jit_harden:
					* no immediate of the program appears as such in native code (each is
					* loaded xor a random key, then xored back), so that a program cannot
					* plant chosen bytes in executable memory (JIT spraying).  Slower;
					* 0: off */
	int checks;                    /* BPFVM_CHECKS_*: which run-time checks runs of verified programs
					* keep */
	const struct bpfvm_func_proto *protos; /* prototypes of kfuncs and helpers above, copied; an id
					* without a function, an unknown kind or a memory argument without
					* its size make bpfvm_new() fail.  NULL: none */
	size_t proto_cnt;
};

/* bpfvm_opts.checks.  A program the verifier accepted (BPFVM_VERIFY_ON) has each memory access proven
 * in bounds and each divisor proven non-zero where it could; its runs by the program type's own runner
 * (PROG_TEST_RUN, packet runs, UNSPEC programs that declared their memory size: bpfvm_prog_load_opts)
 * skip those checks.  Anything not proven, unverified programs, untrusted instances and
 * bpfvm_prog_run() of a typed program over plain memory keep every check. */
enum bpfvm_checks {
	BPFVM_CHECKS_DEFAULT = 0,      /* currently BPFVM_CHECKS_PROVEN */
	BPFVM_CHECKS_PROVEN = 1,       /* skip what the verifier proved */
	BPFVM_CHECKS_ALWAYS = 2,       /* check every access and divisor at run time, proven or not */
};

/* bpfvm_opts.verify.  The verifier (README "Verification") proves XDP, socket filter, tc and tracing
 * programs (classic BPF filters included, through their translation) safe at load, as Linux does; UNSPEC
 * programs that do not declare their memory (bpfvm_prog_opts.declare_mem) and host hooks have
 * plain-memory contexts of a size only the run knows and are not verified.  What a verified program's
 * runs may skip: bpfvm_opts.checks. */
enum bpfvm_verify {
	BPFVM_VERIFY_DEFAULT = 0,      /* BPFVM_VERIFY_ON */
	BPFVM_VERIFY_OFF = 1,          /* load without the proof: the run-time checks only */
	BPFVM_VERIFY_ON = 2,           /* a program the verifier rejects is not loaded (-EACCES and its log) */
	BPFVM_VERIFY_EXACT_LOOPS = 3,  /* BPFVM_VERIFY_ON, walking each round of a bounded loop as Linux does
					* instead of widening the loop's state (README "Verification"): the
					* same verdicts and messages, slower on loops; the processed count of
					* the log is then the insns walked (as with log_level 1 or 2) */
};

/* Creates an instance.  opts may be NULL.  Returns NULL on allocation failure or an invalid opts. */
struct bpfvm *bpfvm_new(const struct bpfvm_opts *opts);
/* The directory this instance pins objects in (bpfvm_opts.pin_root or its default).  Owned by vm. */
const char *bpfvm_pin_root(const struct bpfvm *vm);
/* Frees the instance and every object it still holds.  Accepts NULL. */
void bpfvm_free(struct bpfvm *vm);

/* Why the calling thread's last call on vm failed: one or more lines, the last naming what failed and
 * where ("prog.o: section xdp: insn 17: ...", or "prog 'x': insn 4: invalid memory read ..." for a
 * program that faulted while this thread ran it).  "" when that call succeeded.  Lines are separated
 * by '\n' with none after the last, as strerror() has none: print it with your own line end.
 * Per thread, as errno is: each thread has its own log on each instance, so concurrent calls from other
 * threads (failing or not) never change or move what this returns.  Owned by vm (freed in
 * bpfvm_free()); valid until this thread's next call on vm.  A thread's log outlives the thread, for
 * the next thread that gets the same pthread_t; that thread sees it only until its own first call.
 * Faults of programs run by the library's own threads (bpf_timer callbacks) go to those threads' logs,
 * which nobody reads.  Successful calls take no lock for this. */
const char *bpfvm_errmsg(const struct bpfvm *vm);

/* ---- raw programs ------------------------------------------------------------------------- */

/* Loads insn_cnt raw instructions (copied; the caller keeps insns) as a program of prog_type
 * (BPF_PROG_TYPE_*; 0 / BPF_PROG_TYPE_UNSPEC runs as a plain function of r1 = mem, r2 = mem length).
 * Returns a program handle (>= 0) usable with bpfvm_bpf() and bpfvm_prog_run(), or -EINVAL
 * (malformed), -EACCES (rejected), -E2BIG, -ENOMEM.  Release with bpfvm_close(). */
int bpfvm_prog_load(struct bpfvm *vm, uint32_t prog_type, const struct bpf_insn *insns, size_t insn_cnt,
		    const char *name);

/* Options of bpfvm_prog_load_opts(). */
struct bpfvm_prog_opts {
	size_t sz;                     /* sizeof(struct bpfvm_prog_opts) */
	const char *name;              /* NULL: none */
	int declare_mem;               /* non-zero: an UNSPEC program declares that every run gives it
					* mem_len bytes or more at r1 (r2 = their count).  The verifier
					* (BPFVM_VERIFY_ON) then proves its accesses against mem_len bytes,
					* and runs skip the checks it proved (bpfvm_opts.checks); a run with
					* less memory fails (-EINVAL).  0: the size is the run's business,
					* the program is not verified and every access is checked */
	size_t mem_len;                /* up to UINT32_MAX */
};

/* bpfvm_prog_load() with options (NULL: none).  Errors as bpfvm_prog_load(), and -EINVAL for declare_mem
 * on a program type other than UNSPEC or a mem_len above UINT32_MAX. */
int bpfvm_prog_load_opts(struct bpfvm *vm, uint32_t prog_type, const struct bpf_insn *insns, size_t insn_cnt,
			 const struct bpfvm_prog_opts *opts);

enum bpfvm_engine {
	BPFVM_ENGINE_INTERP = 0,
	BPFVM_ENGINE_JIT = 1,      /* native code (x86-64); -EOPNOTSUPP elsewhere */
	BPFVM_ENGINE_DEFAULT = 2,  /* the instance's: the JIT where available unless bpfvm_opts.interp */
};

/* Runs program `prog` once with r1 = mem and r2 = mem_len (for UNSPEC programs), or with mem as the
 * context of its program type.  mem may be modified by the program.  Stores r0 in *ret.
 * Returns 0, -EBADF (no such program), -EFAULT (a memory access outside what the program may touch;
 * the log says which insn), -ELOOP (instruction budget exhausted), -EOPNOTSUPP (engine unavailable),
 * -EINVAL (less memory than the program declared, bpfvm_prog_opts.declare_mem). */
int bpfvm_prog_run(struct bpfvm *vm, int prog, enum bpfvm_engine engine, void *mem, size_t mem_len,
		   uint64_t *ret);

/* A program prepared for many runs, for an embedder that calls it per event: the handle's lookup, the
 * engine and the run state (stack included) are taken once, so that a call costs little more than the
 * program's own code (an empty program: about a function call).  A runner is used by one thread at a
 * time.  bpfvm_runner_new() prepares program `prog` for `engine` (BPFVM_ENGINE_DEFAULT: the
 * instance's); the runner holds the program until bpfvm_runner_free(), whatever happens to `prog`.
 * Returns 0 and sets *out, or -EBADF, -EINVAL (not an engine), -EOPNOTSUPP (BPFVM_ENGINE_JIT where
 * there is none), -ENOMEM; the reason is in bpfvm_errmsg(vm). */
struct bpfvm_runner;
int bpfvm_runner_new(struct bpfvm *vm, int prog, enum bpfvm_engine engine, struct bpfvm_runner **out);
/* One run, as bpfvm_prog_run() (same arguments, results and errors; each run starts with a fresh
 * instruction budget and tail-call count).  A run that fails replaces the calling thread's
 * bpfvm_errmsg() with its fault; one that succeeds leaves it as it was. */
int bpfvm_runner_run(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret);
/* n runs in one call, for an embedder with a batch of events: run i is bpfvm_runner_run(r, mem[i],
 * mem_len[i], &ret[i]), in order.  Returns 0 with *done = n, or the negative errno of the first run that
 * failed, *done being its index (ret[0 .. *done) hold the runs before it; the batch stops there).  An
 * empty program costs about a call per run this way, as there is no call into the library per run. */
int bpfvm_runner_run_batch(struct bpfvm_runner *r, void *const *mem, const size_t *mem_len, size_t n,
			   uint64_t *ret, size_t *done);
/* Releases r and its reference on the program.  Accepts NULL.  Before bpfvm_free() of its instance. */
void bpfvm_runner_free(struct bpfvm_runner *r);

/* The start of every struct bpfvm_runner, which bpfvm_runner_run_inline() reads; not for any other use.
 * direct is set when the program's native code reads nothing but its arguments and registers (the JIT's
 * stateless code with nothing to prepare: no frame to zero, no packet fields). */
struct bpfvm_runner_head {
	uint64_t (*direct)(uint64_t mem, uint64_t mem_len, uintptr_t stack_top, const void *run);
	uintptr_t stack_top;
	const void *run;
	size_t min_len;             /* the memory a declared UNSPEC program needs (0 for any other) */
};

/* bpfvm_runner_run() with its fast path compiled into the caller: a program with direct code is called
 * with no call into the library in between, so an empty program's run costs one indirect call (issue
 * 11: under 2 ns).  Same arguments, results and errors as bpfvm_runner_run(). */
static inline int bpfvm_runner_run_inline(struct bpfvm_runner *r, void *mem, size_t mem_len, uint64_t *ret)
{
	const struct bpfvm_runner_head *h = (const struct bpfvm_runner_head *)(const void *)r;
	if (h->direct && mem_len >= h->min_len && (mem || !mem_len)) {
		*ret = h->direct((uintptr_t)mem, mem_len, h->stack_top, h->run);
		return 0;
	}
	return bpfvm_runner_run(r, mem, mem_len, ret);
}

/* What the JIT made of program `prog` (bpftool prog dump jited): valid while `prog` stays open.  For a
 * verified program, the code its type's own runs execute, without the checks the verifier's proofs
 * make needless (bpfvm_prog_run() over plain memory runs a twin that keeps them). */
struct bpfvm_jited {
	const uint8_t *code;          /* native code (x86-64): prologue, one block per insn, slow paths, exits */
	size_t len;
	const uint32_t *insn_off;     /* insn i's block is code[insn_off[i] .. insn_off[i + 1]); insn_cnt + 1
				       * entries, the last the end of the blocks (an lddw's second slot has none) */
	const struct bpf_insn *insns; /* the program as loaded (maps relocated) */
	size_t insn_cnt;
};
/* Fills *out.  Returns 0, -EBADF (no such program) or -EOPNOTSUPP (no native code on this host). */
int bpfvm_prog_jited(struct bpfvm *vm, int prog, struct bpfvm_jited *out);

/* Instruction budget of every run (each program invocation: a bpfvm_prog_run(), one packet, one
 * BPF_PROG_TEST_RUN repetition, one bpf_timer callback), so that every run ends: there is no verifier
 * proving termination.  It counts one unit per backward jump taken, per call of any kind (bpf-to-bpf,
 * helper, kfunc, tail call), per callback invocation (bpf_loop, bpf_for_each_map_elem, timers; nested
 * ones share the run's budget) and per yield while waiting for a bpf_spin_lock.  Between two units a
 * program runs straight-line code, at most its own length in instructions.  A run that spends its
 * budget stops with -ELOOP ("instruction budget exhausted").  Default BPFVM_INSN_LIMIT_DEFAULT (Linux's
 * 1M verified-insn limit; a simple loop of 10 insns runs its 1M iterations in a few ms);
 * BPFVM_INSN_UNLIMITED disables it.  Returns 0, or -EINVAL for 0. */
#define BPFVM_INSN_LIMIT_DEFAULT 1000000ull
#define BPFVM_INSN_UNLIMITED     UINT64_MAX
int bpfvm_set_insn_limit(struct bpfvm *vm, uint64_t limit);
uint64_t bpfvm_insn_limit(const struct bpfvm *vm);

/* Stops every run of the instance, those in progress (within about 64K budget units: well under a
 * millisecond) and all later ones, with -EINTR ("run interrupted"), until bpfvm_interrupt_clear().
 * Async-signal-safe: call it from a SIGINT handler.  Timer callbacks are runs too. */
void bpfvm_interrupt(struct bpfvm *vm);
void bpfvm_interrupt_clear(struct bpfvm *vm);

/* Closes any handle (program, map, object link).  Returns 0 or -EBADF. */
int bpfvm_close(struct bpfvm *vm, int fd);

/* ---- assembler and disassembler ---------------------------------------------------------- */

/* Assembles `src` (bpf_conformance syntax "mov %r0, 1" or LLVM syntax "r0 = 1", with labels).  Writes
 * up to buf_cnt instructions to buf and returns how many the program has (call again with a larger
 * buffer if that is more than buf_cnt), or -EINVAL with "line N: ..." in the log. */
long bpfvm_asm(struct bpfvm *vm, const char *src, struct bpf_insn *buf, size_t buf_cnt);

/* Whether insn_cnt raw instructions are whole: every lddw has its second slot, and that slot has code,
 * registers and offset 0 (and imm 0 for the pseudo sources that take no high half).  Returns 0, or
 * -EINVAL with "insn N: ..." naming the slot at fault in bpfvm_errmsg().  Asks nothing else of them
 * (PROG_LOAD checks this and the rest); what `bpfvm disasm` requires of a raw file. */
int bpfvm_insns_check(struct bpfvm *vm, const struct bpf_insn *insns, size_t insn_cnt);

/* How many 8-byte slots the instruction starting at `insn` takes: 2 for lddw (the 64-bit immediate
 * load, whose second slot holds the high half), 1 for every other encoding, unknown ones included.
 * Reads insn[0] only: whether the second slot is there and well formed is bpfvm_insns_check()'s
 * question.  Cannot fail. */
size_t bpfvm_insn_slots(const struct bpf_insn *insn);

/* Disassembles insn_cnt instructions, one per line in LLVM syntax as `llvm-objdump -d` prints them
 * (flags: BPFVM_DISASM_PC prefixes the slot index; BPFVM_DISASM_ALU32 prints as llvm-objdump
 * --mcpu=v3/v4 does, with w registers for sub-word loads and stores).  snprintf semantics: writes at
 * most len bytes including the NUL, and returns the length the whole text needs. */
#define BPFVM_DISASM_PC    1
#define BPFVM_DISASM_ALU32 2
#define BPFVM_DISASM_HEX   4 /* numbers in hex as llvm-objdump's default; decimal (--no-print-imm-hex) without */
size_t bpfvm_disasm(const struct bpf_insn *insns, size_t insn_cnt, int flags, char *buf, size_t len);

/* Disassembles an ELF BPF object (the `len` bytes of what `clang -target bpf -c` writes, named `name` in
 * the header) exactly as `llvm-objdump -d` prints it: every non-empty executable section, a label at
 * each symbol (the last by name where several share an address; the section's name where none starts
 * it), index, raw bytes and text of each instruction, "<label+0xN>" after jumps.  Flags: BPFVM_DISASM_HEX
 * (llvm-objdump's default; without it, as --no-print-imm-hex), BPFVM_DISASM_ALU32 (--mcpu=v3/v4),
 * BPFVM_DISASM_RELOCS (-r: each relocation under the instruction it patches), BPFVM_DISASM_NO_RAW
 * (--no-show-raw-insn).  `func` non-NULL: only the part of its section that function covers, with the
 * labels inside it.  snprintf semantics as bpfvm_disasm(); returns the length of the whole text, or a
 * negative errno with the reason in bpfvm_errmsg(): -EINVAL for input that is not a relocatable BPF ELF
 * object (or is malformed), -ENOENT when `func` is not a function of it. */
#define BPFVM_DISASM_RELOCS 8
#define BPFVM_DISASM_NO_RAW 16
long bpfvm_disasm_object(struct bpfvm *vm, const char *name, const void *buf, size_t len, const char *func, int flags,
			 char *text, size_t text_len);

/* ---- classic BPF: socket filters (tcpdump, SO_ATTACH_FILTER) and seccomp policies ---------- */

/* What a classic program is for: the checks and the translation's context differ. */
#define BPFVM_CBPF_SOCKET  0 /* Linux's bpf_check_classic(); runs on a struct __sk_buff (packet) */
#define BPFVM_CBPF_SECCOMP 1 /* + seccomp_check_filter(); runs on a struct seccomp_data */

/* Parses a classic program given as raw struct sock_filter bytes (host byte order) or as the text
 * `tcpdump -dd`, `-ddd` or `-d` prints (text is recognised by its bytes).  Writes up to buf_cnt insns
 * to buf and returns how many the program has (call again with a larger buffer if that is more than
 * buf_cnt), or -EINVAL ("line N: ..." in the log), -E2BIG (more than 4096 insns), -ENOMEM.  Syntax
 * only: bpfvm_cbpf_check() applies the rules. */
long bpfvm_cbpf_parse(struct bpfvm *vm, const void *src, size_t len, struct sock_filter *buf, size_t buf_cnt);

/* Checks a classic program as Linux does (kind BPFVM_CBPF_*): known opcodes, jumps inside the program,
 * M[] loaded only after a store on every path, no division by a constant 0, a return at the end; for
 * seccomp only its opcode list and aligned loads inside struct seccomp_data.  0 or -EINVAL with
 * "insn N: ..." in the log. */
int bpfvm_cbpf_check(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind);

/* Checks and translates to eBPF as Linux's bpf_convert_filter() (A in r0, X in r7, M[] on the stack,
 * LD_ABS/LD_IND packet loads, ancillary loads from struct __sk_buff).  Writes up to buf_cnt insns and
 * returns how many the translation has, or -EINVAL, -EOPNOTSUPP (ancillary loads bpfvm cannot provide:
 * SKF_AD_NLATTR, SKF_AD_NLATTR_NEST, SKF_AD_PAY_OFFSET), -ENOMEM. */
long bpfvm_cbpf_translate(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind,
			  struct bpf_insn *buf, size_t buf_cnt);

/* Checks, translates and loads: BPFVM_CBPF_SOCKET as a BPF_PROG_TYPE_SOCKET_FILTER program (run it with
 * bpfvm_prog_run_packet(), bpfvm_prog_run_capture(), bpfvm_pcap_run()...), BPFVM_CBPF_SECCOMP as a plain
 * program whose memory is a struct seccomp_data (bpfvm_prog_run(), or bpfvm_seccomp_run()).  Returns the
 * program handle (release with bpfvm_close()) or a negative errno as above. */
int bpfvm_cbpf_load(struct bpfvm *vm, const struct sock_filter *prog, size_t cnt, int kind, const char *name);

/* The program as `tcpdump -d` lists it, one line per insn.  snprintf semantics. */
size_t bpfvm_cbpf_dump(const struct sock_filter *prog, size_t cnt, char *buf, size_t len);

/* Runs socket filter prog_fd on one captured frame pkt[0..caplen) that was wirelen bytes long on the
 * wire, as libpcap's pcap_offline_filter() runs a filter on a capture: packet loads see the caplen
 * bytes (beyond them: the filter returns 0), `len` (__sk_buff.len) is wirelen.  Any length runs, even
 * a frame shorter than an Ethernet header.  *ret is the filter's result, the bytes to keep (0: drop).
 * Returns 0, -EBADF, -EINVAL (not a socket filter, or wirelen < caplen), or the run's fault. */
int bpfvm_prog_run_capture(struct bpfvm *vm, int prog_fd, const void *pkt, uint32_t caplen, uint32_t wirelen,
			   uint32_t *ret);

/* A socket filter prepared for many frames, as a capture loop runs it (bpfvm filter, bench_cbpf): the
 * same results as bpfvm_prog_run_capture() frame by frame, but the program reference, the engine and the
 * run state are taken once, and a filter that calls no helper (every classic program but those using
 * SKF_AD_CPU or SKF_AD_RANDOM) reads the frame in place, so that a frame costs little more than the
 * filter's own code.  A capture is used by one thread at a time. */
struct bpfvm_capture;
/* Prepares socket filter prog_fd to run on `engine` (BPFVM_ENGINE_DEFAULT: the instance's).  The capture
 * holds the program until bpfvm_capture_free(), whatever happens to prog_fd.  Returns 0 and sets *out,
 * or -EBADF, -EINVAL (not a socket filter, not an engine), -EOPNOTSUPP (BPFVM_ENGINE_JIT where there is
 * none), -ENOMEM; the reason is in bpfvm_errmsg(vm). */
int bpfvm_capture_new(struct bpfvm *vm, int prog_fd, enum bpfvm_engine engine, struct bpfvm_capture **out);
/* Runs the filter on one frame, as bpfvm_prog_run_capture() (same arguments, results and errors; the
 * frame is only read, and only during the call). */
int bpfvm_capture_run(struct bpfvm_capture *c, const void *pkt, uint32_t caplen, uint32_t wirelen, uint32_t *ret);
/* Releases c and its reference on the program.  Accepts NULL.  Before bpfvm_free() of its instance. */
void bpfvm_capture_free(struct bpfvm_capture *c);

/* Runs seccomp program prog_fd (from bpfvm_cbpf_load(.., BPFVM_CBPF_SECCOMP, ..)) over *sd as the kernel
 * does at a system call; *ret is the filter's SECCOMP_RET_* value (action | data).  Returns 0 or a
 * negative errno. */
struct seccomp_data;
int bpfvm_seccomp_run(struct bpfvm *vm, int prog_fd, const struct seccomp_data *sd, uint32_t *ret);

/* ---- the bpf() command interface ---------------------------------------------------------- */

/* bpf(2) inside an instance: the same commands, attributes and errors as Linux, but handles are
 * valid only in vm.  Returns a non-negative result or a negative errno. */
long bpfvm_bpf(struct bpfvm *vm, int cmd, union bpf_attr *attr, unsigned int size);

/* Shorthands for the commonest bpf() commands, so an embedder need not fill a union bpf_attr.  Each is
 * exactly bpfvm_bpf() with that command (same results, same errors, same log), as libbpf's
 * bpf_map_lookup_elem() and friends are for bpf(2).  map_fd is a map handle (bpfvm_object_map_fd(),
 * BPF_MAP_CREATE, BPF_OBJ_GET); value buffers of per-CPU maps hold one 8-byte-aligned value per CPU. */
int bpfvm_map_lookup(struct bpfvm *vm, int map_fd, const void *key, void *value);           /* -ENOENT: none */
int bpfvm_map_update(struct bpfvm *vm, int map_fd, const void *key, const void *value,
		     uint64_t flags);                                                       /* BPF_ANY, ... */
int bpfvm_map_delete(struct bpfvm *vm, int map_fd, const void *key);                        /* -ENOENT: none */
/* The key after `key` (key NULL: the first key), in the map's own order.  -ENOENT after the last. */
int bpfvm_map_next_key(struct bpfvm *vm, int map_fd, const void *key, void *next_key);

/* BPF_PROG_TEST_RUN on a buffer, as libbpf's bpf_prog_test_run_opts(): runs program prog_fd once (or
 * `repeat` times) on data_in (a packet for XDP/tc/socket programs) and/or ctx_in (its context struct).
 * data_out/ctx_out (may be NULL) receive what the program left, their sizes updated to the bytes
 * written.  Fills retval and duration (ns per run). */
struct bpfvm_test_run_opts {
	size_t sz;                  /* sizeof(struct bpfvm_test_run_opts) */
	const void *data_in;
	void *data_out;
	uint32_t data_size_in;
	uint32_t data_size_out;     /* in: room at data_out; out: bytes written */
	const void *ctx_in;
	void *ctx_out;
	uint32_t ctx_size_in;
	uint32_t ctx_size_out;      /* in: room at ctx_out; out: bytes written */
	uint32_t retval;            /* out: r0 of the (last) run */
	uint32_t repeat;            /* 0 or 1: once */
	uint32_t duration;          /* out: mean ns per run */
	uint32_t flags;             /* BPF_F_TEST_* */
};
int bpfvm_prog_test_run(struct bpfvm *vm, int prog_fd, struct bpfvm_test_run_opts *opts);

/* ---- events: ring buffers and perf event arrays ------------------------------------------ */

/* Consumes BPF_MAP_TYPE_RINGBUF records as libbpf's ring_buffer does: cb gets each committed record
 * (a non-zero return stops the poll).  The consumer keeps the map alive until freed. */
struct bpfvm_ringbuf;
typedef int (*bpfvm_ringbuf_fn)(void *ctx, void *data, size_t size);
int bpfvm_ringbuf_new(struct bpfvm *vm, int map_fd, bpfvm_ringbuf_fn cb, void *ctx, struct bpfvm_ringbuf **out);
/* Consumes what is available; when there is nothing, blocks until a producer wakes the consumer (or
 * timeout_ms passes; 0: do not wait, negative: no timeout), then consumes.  A producer is a program run
 * in any thread or in any process that opened the same pinned map; it wakes the consumer as Linux's
 * bpf_ringbuf_submit()/output() do: BPF_RB_FORCE_WAKEUP always, BPF_RB_NO_WAKEUP never (the record is
 * seen by the next poll), by default when the consumer had caught up with the record.  The wait is a
 * futex in the map's shared memory, woken within microseconds, costing producers no syscall while
 * nobody waits.  Returns the number of records consumed (0 on timeout), or a negative errno.
 * There is no file descriptor for epoll (libbpf's ring_buffer__epoll_fd): producers in other processes
 * could not signal one, so it would miss their records. */
int bpfvm_ringbuf_poll(struct bpfvm_ringbuf *rb, int timeout_ms);
void bpfvm_ringbuf_free(struct bpfvm_ringbuf *rb);

/* Consumes BPF_MAP_TYPE_PERF_EVENT_ARRAY samples (one ring per index/CPU), like libbpf's perf_buffer. */
struct bpfvm_perf_buffer;
typedef void (*bpfvm_perf_sample_fn)(void *ctx, int cpu, void *data, uint32_t size);
typedef void (*bpfvm_perf_lost_fn)(void *ctx, int cpu, uint64_t cnt);
int bpfvm_perf_buffer_new(struct bpfvm *vm, int map_fd, bpfvm_perf_sample_fn sample, bpfvm_perf_lost_fn lost,
			  void *ctx, struct bpfvm_perf_buffer **out);
/* As bpfvm_ringbuf_poll(): consumes, or blocks up to timeout_ms (negative: no timeout) until a sample
 * (or a lost one) is output to any index, then consumes.  Every output wakes a waiting consumer, as
 * libbpf's perf_buffer (wakeup_events = 1) is.  Returns the samples consumed, or a negative errno. */
int bpfvm_perf_buffer_poll(struct bpfvm_perf_buffer *pb, int timeout_ms);
void bpfvm_perf_buffer_free(struct bpfvm_perf_buffer *pb);

/* ---- objects ----------------------------------------------------------------------------- */

/* ELF objects built by `clang -O2 -g -target bpf` against libbpf's headers, loaded as libbpf does:
 * programs from SEC() sections (libbpf's names give the type), maps from BTF .maps and the legacy
 * `maps` section, global data as array maps, bpf-to-bpf subprograms, relocations and CO-RE.  The file
 * is untrusted: a malformed object fails with "file: section S: ..." in the log and a negative errno. */

/* Reads and parses path (nothing is created yet).  Returns 0 and *out, or -ENOENT/-EIO (unreadable),
 * -EINVAL (malformed), -ENOMEM.  Release with bpfvm_object_close(). */
int bpfvm_object_open(struct bpfvm *vm, const char *path, struct bpfvm_object **out);

struct bpfvm_object_opts {
	size_t sz;                  /* sizeof(struct bpfvm_object_opts) */
	uint32_t prog_type;         /* BPF_PROG_TYPE_* of every program, as libbpf's bpf_program__set_type()
				     * after open (what the old samples/bpf and tc loaders did); 0: from SEC()
				     * names.  Expected attach types then are 0. */
};
/* bpfvm_object_open() with options (opts NULL: the same). */
int bpfvm_object_open_opts(struct bpfvm *vm, const char *path, const struct bpfvm_object_opts *opts,
			   struct bpfvm_object **out);
/* The same from memory (buf is copied; name is used in messages and for global data map names). */
int bpfvm_object_open_mem(struct bpfvm *vm, const char *name, const void *buf, size_t len,
			  struct bpfvm_object **out);
/* Creates the maps (reusing LIBBPF_PIN_BY_NAME pins), relocates and loads every program, fills prog
 * array / map-in-map initial slots.  All or nothing: on failure nothing it created stays open.
 * Returns 0 or a negative errno (the log names the section, insn and problem). */
int bpfvm_object_load(struct bpfvm_object *obj);
/* Closes the object's map and program handles and frees it.  Accepts NULL. */
void bpfvm_object_close(struct bpfvm_object *obj);

/* Program types by name: Linux's BPF_PROG_TYPE_<NAME> in lower case ("xdp", "socket_filter",
 * "sched_cls", "kprobe", ...), the names libbpf's libbpf_bpf_prog_type_str() gives.  By name: the type,
 * or -ENOENT when bpfvm has no such type.  By type: the name (static storage), or NULL. */
int bpfvm_prog_type_by_name(const char *name);
const char *bpfvm_prog_type_name(uint32_t prog_type);

/* Handles by name (programs: the C function name; maps: the C variable name, or for global data the
 * section name ".rodata" or libbpf's map name "obj.rodata").  The object owns them: valid until close.
 * Return -ENOENT (no such name) or -EBADF (not loaded). */
int bpfvm_object_prog_fd(const struct bpfvm_object *obj, const char *name);
int bpfvm_object_map_fd(const struct bpfvm_object *obj, const char *name);

/* Iteration (i < count; out of range gives NULL / 0 / -ENOENT).  Strings are owned by obj. */
const char *bpfvm_object_name(const struct bpfvm_object *obj);
const char *bpfvm_object_license(const struct bpfvm_object *obj);
size_t bpfvm_object_prog_cnt(const struct bpfvm_object *obj);
const char *bpfvm_object_prog_name(const struct bpfvm_object *obj, size_t i);
const char *bpfvm_object_prog_section(const struct bpfvm_object *obj, size_t i);
uint32_t bpfvm_object_prog_type(const struct bpfvm_object *obj, size_t i);        /* BPF_PROG_TYPE_* */
uint32_t bpfvm_object_prog_attach_type(const struct bpfvm_object *obj, size_t i); /* expected attach type */
int bpfvm_object_prog_fd_at(const struct bpfvm_object *obj, size_t i);
/* libbpf's autoload: bpfvm_object_load() skips a program whose autoload is off (its fd stays -EBADF).
 * It starts on, or off for SEC("?name") (libbpf's convention: like SEC("name"), the '?' is not part of
 * the section name reported).  Set before load: 0, -ENOENT (no program i) or -EBUSY (already loaded).
 * Get: 1 or 0, or -ENOENT. */
int bpfvm_object_prog_set_autoload(struct bpfvm_object *obj, size_t i, int autoload);
int bpfvm_object_prog_autoload(const struct bpfvm_object *obj, size_t i);
/* libbpf's bpf_program__set_log_level() + set_log_buf(): PROG_LOAD of program i gets log_level `level`
 * (1: the rejected path's insns and states, 2: every insn's; Linux's notation) and writes the verifier's
 * log into buf[0..size) (the caller's; NUL-terminated; a log that does not fit keeps its end and fails
 * the load with -ENOSPC, as Linux does).  level 0 turns it off.  Before load: 0, -ENOENT (no program i),
 * -EINVAL (level without a buffer) or -EBUSY (already loaded). */
int bpfvm_object_prog_set_log(struct bpfvm_object *obj, size_t i, uint32_t level, char *buf, size_t size);
/* libbpf's bpf_program__set_type(): program i loads as prog_type (BPF_PROG_TYPE_*, expected attach
 * type 0) whatever its SEC() name says.  Before load: 0, -ENOENT (no program i), -EINVAL (a type bpfvm
 * does not know) or -EBUSY (already loaded). */
int bpfvm_object_prog_set_type(struct bpfvm_object *obj, size_t i, uint32_t prog_type);

/* Objects built for the kernel's old samples/bpf loader (bpf_load.c) or libbpf < 1.0 are read by their
 * conventions where libbpf 1.x's do not apply (libbpf 1.x's reading wins wherever both do).  Which of
 * them the object needed, as a mask of BPFVM_LEGACY_* (0: a libbpf 1.x object): */
#define BPFVM_LEGACY_SEC_PREFIX 1 /* a SEC() name typed by its prefix ("xdp1", "socket2") as bpf_load.c did */
#define BPFVM_LEGACY_NOTYPE     2 /* a program from an STT_NOTYPE symbol at offset 0 of its section (old clang) */
#define BPFVM_LEGACY_MAPS       4 /* struct bpf_map_def maps in a `maps` section */
#define BPFVM_LEGACY_PROG_ARRAY 8 /* programs of sections "socket/N", "kprobe/N", "kretprobe/N" put at
				   * index N of the first map, a prog array, at load (bpf_load.c) */
unsigned int bpfvm_object_legacy(const struct bpfvm_object *obj);
/* The relocated instructions given to PROG_LOAD (after load), owned by obj; NULL before. */
const struct bpf_insn *bpfvm_object_prog_insns(const struct bpfvm_object *obj, size_t i, size_t *cnt);
size_t bpfvm_object_map_cnt(const struct bpfvm_object *obj);
const char *bpfvm_object_map_name(const struct bpfvm_object *obj, size_t i);
uint32_t bpfvm_object_map_type(const struct bpfvm_object *obj, size_t i);
int bpfvm_object_map_fd_at(const struct bpfvm_object *obj, size_t i);

/* Data as the object's BTF says (clang -g): structs with field names, integers in decimal, enums by
 * name, char arrays as strings, global data sections by variable.  Text: {pkts: 3, bytes: 180};
 * with BPFVM_FMT_JSON, JSON as bpftool prints a map with BTF: {"pkts":3,"bytes":180}.
 * bpfvm_object_btf_format(): type is a BTF id of obj; snprintf semantics (returns the length the whole
 * text needs); -ENOENT without BTF or no such type.  Data shorter than the type prints "?" (null) where
 * it ends. */
#define BPFVM_FMT_JSON 1
long bpfvm_object_btf_format(const struct bpfvm_object *obj, uint32_t type, const void *data, size_t len, int flags,
			     char *buf, size_t cap);
/* The BTF types of map i's keys and values (__type(key, T), __type(value, T); for global data, the
 * section's variables).  0 when the definition gives none; -ENOENT when it gives neither. */
int bpfvm_object_map_btf(const struct bpfvm_object *obj, size_t i, uint32_t *key_type, uint32_t *value_type);
/* A map's BTF, which its pins carry (Linux: MAP_CREATE's btf_fd, btf_key_type_id, btf_value_type_id),
 * so that another process prints its keys and values by type (`bpfvm map dump PIN`).  The loader gives
 * every map it creates the object's BTF.
 * bpfvm_map_set_btf(): btf is raw BTF (a .BTF section, copied); key_type and value_type are type ids in
 * it, 0 when not known.  Set once: -EEXIST when the map has BTF already; -EINVAL malformed BTF or ids
 * (the log says why), -E2BIG over 16 MiB, -EPERM for a map in memory that cannot be pinned.
 * bpfvm_map_btf(): a new object holding only the map's BTF, for bpfvm_object_btf_format(); close it with
 * bpfvm_object_close().  *key_type and *value_type (either may be NULL) are 0 when not known.  -ENOENT
 * when the map has no BTF; -EINVAL when what its file holds is not BTF. */
int bpfvm_map_set_btf(struct bpfvm *vm, int map_fd, const void *btf, size_t len, uint32_t key_type,
		      uint32_t value_type);
int bpfvm_map_btf(struct bpfvm *vm, int map_fd, struct bpfvm_object **btf, uint32_t *key_type, uint32_t *value_type);
/* A named struct of exactly `size` bytes, to read untyped records (ring buffer, perf events) with: the
 * one whose name contains `hint` when only one does, else the only struct of that size; 0 if none or
 * ambiguous. */
uint32_t bpfvm_object_btf_struct_by_size(const struct bpfvm_object *obj, size_t size, const char *hint);
/* The record type of ring buffer or perf event array `map` (its name in the object) for records of
 * `size` bytes: the struct a global `__event_type_<map>` points to (or is), which the program declares
 * to name it (EVENT_TYPE() in examples/common.h: a map definition cannot), else
 * bpfvm_object_btf_struct_by_size(obj, size, "event").  0: none (print hex).  A record longer than the
 * struct prints the struct; a shorter one prints "?" where it ends. */
uint32_t bpfvm_object_event_type(const struct bpfvm_object *obj, const char *map, size_t size);

/* ---- packets ----------------------------------------------------------------------------- */

/* What the program decided for a packet (from its type's return value: XDP_*, TC_ACT_*, socket filter
 * length). */
enum bpfvm_pkt_action {
	BPFVM_PKT_DROP = 0,     /* XDP_DROP, TC_ACT_SHOT/STOLEN/QUEUED/TRAP, socket filter 0 */
	BPFVM_PKT_PASS = 1,     /* XDP_PASS, TC_ACT_OK/UNSPEC/PIPE/RECLASSIFY/REPEAT, socket filter > 0 */
	BPFVM_PKT_TX = 2,       /* XDP_TX */
	BPFVM_PKT_REDIRECT = 3, /* XDP_REDIRECT, TC_ACT_REDIRECT: see redirect_* */
	BPFVM_PKT_ABORTED = 4,  /* XDP_ABORTED or an unknown XDP action */
};

struct bpfvm_pkt_result {
	uint64_t retval;            /* r0 as the program returned it */
	uint32_t action;            /* enum bpfvm_pkt_action */
	uint32_t len;               /* bytes of the packet after the run (written to out) */
	uint32_t redirect_ifindex;  /* bpf_redirect() ifindex, or the DEVMAP ifindex / CPUMAP cpu / XSKMAP value */
	uint32_t redirect_map_type; /* 0 for bpf_redirect(), else the BPF_MAP_TYPE_* of bpf_redirect_map() */
	uint32_t redirect_key;      /* bpf_redirect_map() key */
	uint64_t redirect_flags;
	uint32_t clone_cnt;         /* tc: successful bpf_clone_redirect() calls */
	uint32_t clone_ifindex;     /* tc: the last clone's target */
};

/* Runs program prog_fd (XDP, SOCKET_FILTER, SCHED_CLS, SCHED_ACT) on one Ethernet frame pkt[0..len)
 * received on interface 1, queue 0.  The packet as the program left it is written to out (out_cap bytes;
 * -ENOSPC if it does not fit) and its length to *out_len; *res says what the program decided.  Socket
 * filters see the frame from the MAC header, as on an AF_PACKET socket, and keep min(retval, len) bytes.
 * Returns 0, -EBADF (no such program), -EINVAL (a type that does not run on packets, or len < 14), or the
 * run's fault (-EFAULT, -ELOOP) with the insn in the log. */
int bpfvm_prog_run_packet(struct bpfvm *vm, int prog_fd, const void *pkt, size_t len, void *out, size_t out_cap,
			  size_t *out_len, struct bpfvm_pkt_result *res);

/* ---- host hooks -------------------------------------------------------------------------- */

/* Programs for host-defined hooks are loaded with this program type (far above Linux's numbering).
 * Their context is plain memory: the hook's own struct, whose fields the hook describes.  At attach
 * time the hook checks the program's helper calls against its list and the ctx accesses it can prove
 * (straight-line code through r1 before r1 changes); at run time the program works on a scratch copy
 * of the ctx and only writable fields are copied back.  Programs of BPF_PROG_TYPE_SYSCALL (libbpf's
 * SEC("syscall"), also a plain-memory ctx) may be attached too, so hook programs can be built with clang. */
#define BPFVM_PROG_TYPE_HOOK 0x10000u

struct bpfvm_hook_field {
	const char *name;
	uint32_t off, size;         /* bytes in the ctx struct */
	int writable;
};

/* Host memory [addr, addr + len). */
struct bpfvm_mem_range {
	const void *addr;
	size_t len;
};

struct bpfvm_hook_desc {
	size_t sz;                  /* sizeof(struct bpfvm_hook_desc) */
	const char *name;
	size_t ctx_size;            /* bytes of the hook's context struct (at most 4096) */
	const struct bpfvm_hook_field *fields; /* readable fields (copied); bytes outside them are unreadable */
	size_t field_cnt;
	const uint32_t *helper_ids; /* Linux helper ids the hook allows (copied); the embedder's own helpers
				     * (bpfvm_opts.helpers) are allowed when listed here too */
	size_t helper_cnt;
	/* Host memory the hook's programs may read with bpf_probe_read*() (helpers 4, 45, 112-115, when
	 * listed in helper_ids), besides their own memory (ctx fields, stack, maps); never with loads or
	 * stores.  The table is copied; the memory must stay mapped and readable while the hook exists.
	 * A probe read of anything else returns -EFAULT with the destination zeroed, as in Linux. */
	const struct bpfvm_mem_range *readable;
	size_t readable_cnt;
};

struct bpfvm_hook;
/* Declares a hook.  Returns 0 and *out, or -EINVAL (bad desc: fields outside ctx_size, overlapping ...)
 * / -ENOMEM.  Free with bpfvm_hook_free(). */
int bpfvm_hook_new(struct bpfvm *vm, const struct bpfvm_hook_desc *d, struct bpfvm_hook **out);
/* Attaches program prog_fd (type BPFVM_PROG_TYPE_HOOK or BPF_PROG_TYPE_SYSCALL); the hook takes its own reference.  Programs run
 * in attach order.  Returns 0, -EBADF, -EINVAL (wrong type), -EACCES (a helper or ctx access the hook
 * does not allow; the log names the insn), -E2BIG (more than 64 programs), -ENOMEM. */
int bpfvm_hook_attach(struct bpfvm_hook *h, int prog_fd);
/* Detaches prog_fd.  0 or -ENOENT. */
int bpfvm_hook_detach(struct bpfvm_hook *h, int prog_fd);
/* Runs every attached program on ctx (ctx_size bytes; writable fields are updated after each program).
 * Stores each program's r0 in ret[i] for i < ret_cnt and returns the number of programs run, or the
 * negative errno of the first fault (programs after it do not run). */
int bpfvm_hook_run(struct bpfvm_hook *h, void *ctx, uint64_t *ret, size_t ret_cnt);
/* bpfvm_hook_run() where the programs' probe reads may also read readable[0..readable_cnt) during this
 * call (host objects of this event: the table and the memory need to live until it returns). */
int bpfvm_hook_run_ex(struct bpfvm_hook *h, void *ctx, const struct bpfvm_mem_range *readable, size_t readable_cnt,
		      uint64_t *ret, size_t ret_cnt);
/* Drops the hook's program references and frees it.  Accepts NULL. */
void bpfvm_hook_free(struct bpfvm_hook *h);

/* ---- packet sources: pcap files and live interfaces (src/hooks/) ------------------------ */

/* One packet after its run, given to a bpfvm_pkt_fn.  Pointers are valid during the call only. */
struct bpfvm_pkt_info {
	uint64_t index;             /* 1-based packet number in the source */
	uint64_t ts_ns;             /* capture time (pcap timestamp, or receive time for live) */
	const uint8_t *data;        /* the packet as the program left it (res.len bytes) */
	size_t orig_len;            /* bytes given to the program */
	struct bpfvm_pkt_result res;
	int err;                    /* 0, or the run's negative errno (counted in errors, not in action[]);
				     * -EINVAL for a frame too short to run (counted in skipped) */
	int written;                /* 1 when the packet was written to out (pcap) or sent (live XDP_TX) */
	const char *errmsg;         /* err from a run: its located message, as bpfvm_errmsg() gives it
				     * ("prog 'x': insn 17 (x.bpf.c:42): invalid memory read packet+54 size=4");
				     * else NULL */
};
/* Called after each packet; a non-zero return stops the source (the run returns 0). */
typedef int (*bpfvm_pkt_fn)(void *ctx, const struct bpfvm_pkt_info *pkt);

struct bpfvm_pkt_stats {
	uint64_t pkts;              /* packets run */
	uint64_t bytes;             /* their input bytes */
	uint64_t action[5];         /* by enum bpfvm_pkt_action */
	uint64_t errors;            /* runs that faulted */
	uint64_t written;           /* packets written to out / sent back out */
	uint64_t skipped;           /* frames shorter than an Ethernet header: not run (as in Linux) */
};

struct bpfvm_pcap_opts {
	size_t sz;                  /* sizeof(struct bpfvm_pcap_opts) */
	const char *out_path;       /* pcap to write PASS and TX packets to, as modified; NULL: none */
	uint64_t max_pkts;          /* stop after this many packets; 0: all */
	bpfvm_pkt_fn cb;            /* NULL: none */
	void *cb_ctx;
	int stop_on_error;          /* a faulting run ends the file with its errno (else counted, go on) */
};

/* Runs program prog_fd (XDP, SOCKET_FILTER, SCHED_CLS/ACT) on every Ethernet frame of the pcap or
 * pcapng file `path` (read through libpcap).  *stats (may be NULL) is filled with what was done, also
 * on failure.  Returns 0, or -ENOENT/-EACCES (cannot open), -EINVAL (not a capture file, or not
 * Ethernet), -EIO (truncated or corrupt: the log says "path: packet N: ..."), -ENOMEM, or a run's
 * errno with stop_on_error.  bpfvm_interrupt() ends the file early (returning 0, as the callback's stop
 * does) at the packet it interrupted, which is not counted; each packet's run has the instance's
 * instruction budget, and one that spends it is counted in `errors` (-ELOOP). */
int bpfvm_pcap_run(struct bpfvm *vm, int prog_fd, const char *path, const struct bpfvm_pcap_opts *opts,
		   struct bpfvm_pkt_stats *stats);

struct bpfvm_live_opts {
	size_t sz;                  /* sizeof(struct bpfvm_live_opts) */
	uint64_t max_pkts;          /* stop after this many packets; 0: no limit */
	int timeout_ms;             /* stop after this long without a packet; 0: no limit */
	const volatile int *stop;   /* stop when *stop becomes non-zero (checked at least every 100 ms; read
				     * with a relaxed atomic load: set it from a signal handler or with
				     * __atomic_store_n / a C11 atomic store) */
	bpfvm_pkt_fn cb;
	void *cb_ctx;
};

/* Runs prog_fd on packets arriving on interface `ifname` (an AF_PACKET socket bound to it; needs
 * CAP_NET_RAW).  Frames the host itself sends are skipped.  XDP_TX sends the modified frame back out of
 * the same interface; other verdicts are counted only (the socket is a tap: it cannot drop what the
 * kernel already delivers).  Returns 0 when a limit is reached, -ENODEV (no such interface), -EPERM,
 * or another negative errno from the socket. */
int bpfvm_live_run(struct bpfvm *vm, int prog_fd, const char *ifname, const struct bpfvm_live_opts *opts,
		   struct bpfvm_pkt_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
