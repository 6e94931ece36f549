/* progtypes.h -- program types: context layouts (kernel UAPI), which ctx fields and helpers each may use,
 * PROG_TEST_RUN (net/bpf/test_run.c semantics), running on packets, host-defined hooks.
 * The folder's one internal header.  Depends on vm (struct vm_run) and sys (object table).
 *
 * Pre-verifier design (until the verifier issue adds Linux-style ctx access rewriting):
 *  - The context a program sees is a real struct xdp_md / struct __sk_buff, filled with the values Linux's
 *    rewritten loads would produce.  data, data_end and data_meta are u32 fields holding pointers, so the
 *    packet buffer (with headroom for adjust_head/meta and tailroom for adjust_tail) lives in memory mapped
 *    with MAP_32BIT: every packet address fits in 32 bits and a program's `r2 = *(u32 *)(r1 + 0)` yields a
 *    valid pointer with no rewriting.
 *  - pt_ctx_access() is the per-type table of Linux's *_is_valid_access() (progtypes.def's access_ column).  It is enforced in two places:
 *     - at PROG_LOAD (pt_ctx_check_load(), before vm_fixup()): loads and stores through r1 in the entry
 *       block, before r1 is redefined, with their constant offset: a denied one fails the load with
 *       -EACCES and "insn N: invalid bpf_context access off=O size=S", as Linux's verifier says it;
 *     - at run time, for every access: the ctx is region 0 of the run (the whole PT_CTX_AREA, so past
 *       the struct counts too) with vm_run.ctx_ok = pt_run_ctx_ok, so the interpreter's slow memory
 *       check (vm_mem_ok_slow) asks pt_ctx_access() for any load or store inside it; a denied one stops
 *       the run with -EACCES and the same wording for the instruction that did it.  Atomics on the ctx
 *       are always denied (Linux: atomic_ptr_type_ok()).  Helpers that take the ctx as an argument
 *       (skb_load_bytes...) use the run's pt_pkt, not the ctx memory, and are unaffected; a ctx pointer
 *       given as a helper's memory argument is checked by the same rules (and so refused).
 *    Host hooks (hooks/host.c) use both mechanisms with their field table instead of pt_ctx_access().
 *  - The ctx is a scratch copy; after the run only the fields the type may write are copied back (which
 *    the run-time check now makes the only fields a program can have written).  The packet
 *    [data_meta, data_end) is a region writable for XDP/tc and absent (LD_ABS/LD_IND and skb_load_bytes
 *    only) for socket filters.
 *  - The verifier will replace both checks with its proof over all paths.
 */
#ifndef BPFVM_PROGTYPES_H
#define BPFVM_PROGTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpfvm.h>

#include "../vm/vm.h"
#include "../helpers/helpers.h"

struct bpfvm;
struct vm_prog;
union bpf_attr;

/* May a program of prog_type call helper `helper_id`?  Follows Linux's *_func_proto lists (bpfvm runs
 * as if CAP_BPF and CAP_PERFMON were held, so the base set includes trace_printk, snprintf, timers...). */
bool pt_helper_allowed(uint32_t prog_type, uint32_t helper_id);
/* May a program of an untrusted instance (bpfvm_opts.untrusted) call it?  Linux's unprivileged rules:
 * no probe reads (bpf_probe_read*), whatever the type. */
bool pt_helper_untrusted_ok(uint32_t helper_id);

/* Is prog_type a type bpfvm can load (a Linux BPF_PROG_TYPE_* up to SYSCALL, UNSPEC for plain functions
 * of (mem, len), or BPFVM_PROG_TYPE_HOOK)? */
bool pt_known(uint32_t prog_type);

/* What a context load gives (the verifier's VF_CTX_* numbering), or PT_FIELD_DENY for an access the
 * type's rules refuse. */
enum pt_field { PT_FIELD_DENY = -1, PT_FIELD_SCALAR = 0, PT_FIELD_PKT, PT_FIELD_PKT_END, PT_FIELD_PKT_META };
/* One type's Linux <type>_is_valid_access(): a load (write = false) or store of size (1, 2, 4 or 8)
 * bytes at ctx offset off, for a program with expected_attach_type attach.  Cannot fail. */
typedef int (*pt_access_fn)(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);

/* May a program of prog_type (attach type expected_attach) read (write = false) or write `size` bytes at
 * ctx offset `off`?  The type's access_ rule (progtypes.def).  Types with plain-memory contexts (UNSPEC,
 * SYSCALL, hooks: their fields are checked by the hook) answer true for any access. */
bool pt_ctx_access(uint32_t prog_type, uint32_t expected_attach, uint32_t off, uint32_t size, bool write);
/* The same, with what a load of the field gives (enum pt_field). */
int pt_ctx_field(uint32_t prog_type, uint32_t expected_attach, uint32_t off, uint32_t size, bool write);
/* For the verifier: is the type's context described well enough to prove accesses (every Linux type but
 * the plain-memory ones), its size, and whether direct packet stores and LD_ABS/LD_IND are allowed. */
bool pt_verifiable(uint32_t prog_type);
uint32_t pt_ctx_size(uint32_t prog_type);
bool pt_pkt_writable(uint32_t prog_type);
bool pt_ld_abs_ok(uint32_t prog_type);
/* Linux bpf_prog_load_fixup_attach_type() + bpf_prog_load_check_attach(): the attach types a program of
 * prog_type may expect.  *attach 0 becomes the type's original hook where Linux does so (cgroup_sock:
 * sock_create, sk_reuseport: select).  Returns 0, or -EINVAL with *attach unchanged. */
int pt_attach_fixup(uint32_t prog_type, uint32_t *attach);
/* Linux check_return_code(): true with [*lo, *hi] when r0 at the main program's exit must lie in that
 * range for a program of prog_type attached at expected_attach; false when any value goes. */
bool pt_ret_range(uint32_t prog_type, uint32_t expected_attach, int32_t *lo, int32_t *hi);
/* vm_run.ctx_ok for runs of a Linux program type: pt_ctx_access() for run->prog. */
bool pt_run_ctx_ok(const struct vm_run *run, uint32_t off, uint32_t size, bool write);

/* Load-time half of the ctx rules.  The entry block (insn 0 up to the first jump, call, exit or
 * instruction that redefines r1) certainly runs with r1 = ctx, so a load or store through r1 there
 * that `ok` denies is a provable error: -EACCES with Linux's verifier line
 * "insn N: invalid bpf_context access off=O size=S" (atomics: "BPF_ATOMIC stores into R1 ctx is not
 * allowed") in log.  Returns 0 otherwise; later accesses are left to the run-time check. */
typedef bool (*pt_ctx_rule_fn)(const void *arg, uint32_t off, uint32_t size, bool write);
int pt_ctx_check_entry(const struct vm_prog *p, pt_ctx_rule_fn ok, const void *arg, struct diag *log);
/* pt_ctx_check_entry() with the type's pt_ctx_access() (PROG_LOAD, before vm_fixup()). */
int pt_ctx_check_load(const struct vm_prog *p, struct diag *log);

/* BPF_PROG_TEST_RUN with Linux's semantics for the program's type (net/bpf/test_run.c).  Results are
 * written into attr (data_size_out, retval, duration, ctx_size_out) as the kernel writes them, also when
 * returning -ENOSPC.  Returns 0 or a negative errno with a line in the instance log. */
int pt_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr);

/* Runs prog (XDP, SOCKET_FILTER, SCHED_CLS/ACT and other __sk_buff types) on the packet buf[0..*len),
 * an Ethernet frame received on ifindex / rx_queue.  On success the packet as the program left it is
 * written back to buf and *len updated (adjust_head/tail may grow it: up to cap bytes, else -ENOSPC with
 * buf unchanged).  Socket filters see the frame from the MAC header (as on an AF_PACKET socket) and keep
 * min(retval, len) bytes.  Returns 0 or a negative errno (-EFAULT etc. from the run, -EINVAL for
 * types that do not run on packets). */
int pt_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len, uint32_t ifindex,
		  uint32_t rx_queue, struct pt_pkt_result *res);

/* ---- shared by the type files (the packet area they share with the packet helpers: helpers.h) ---- */

/* Sets up run for p: region 0 = ctx (writable scratch), region 1 = the packet when pkt_region. */
void pt_pkt_attach(struct pt_pkt *p, struct vm_run *run, bool pkt_region, bool pkt_writable);
/* Per-type parts (xdp.c, skb.c, tracing.c, sock.c): the access_ column of progtypes.def. */
#define PT_REGS_SIZE         168u  /* struct pt_regs on x86-64 */
#define PT_TRACE_RECORD_MAX  2048u /* PERF_MAX_TRACE_SIZE */
#define PT_RAW_TP_ARGS_SIZE  96u   /* MAX_BPF_FUNC_ARGS u64s */
int pt_plain_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_xdp_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_skb_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_tracing_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sock_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sock_addr_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sock_ops_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sk_msg_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_cgroup_dev_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_flow_dissector_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sk_reuseport_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sysctl_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sockopt_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_sk_lookup_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_lirc_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_deny_access(uint32_t type, uint32_t attach, uint32_t off, uint32_t size, bool write);
int pt_xdp_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr);
int pt_skb_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr);
int pt_tracing_test_run(struct bpfvm *vm, struct vm_prog *prog, union bpf_attr *attr);
int pt_xdp_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len,
		      uint32_t ifindex, uint32_t rx_queue, struct pt_pkt_result *res);
int pt_skb_run_packet(struct bpfvm *vm, struct vm_prog *prog, uint8_t *buf, size_t cap, size_t *len,
		      uint32_t ifindex, uint32_t rx_queue, struct pt_pkt_result *res);
bool pt_is_skb_type(uint32_t type);
/* A socket filter (or other __sk_buff type, filter semantics) on one captured frame of any length:
 * packet loads see pkt[0..caplen), __sk_buff.len is wirelen (pcap_offline_filter()).  r0 in *retval.
 * Returns 0 or the run's negative errno (message in the instance log). */
int pt_skb_run_capture(struct bpfvm *vm, struct vm_prog *prog, const struct vm_services *svc, const uint8_t *pkt,
		       uint32_t caplen, uint32_t wirelen, uint32_t *retval);

/* The same over many frames (bpfvm_capture_*): the run state is set up once.  A socket filter that
 * calls no helper (a classic program's translation, but for SKF_AD_CPU/RANDOM) is "lean": it reads the
 * frame in place and its scratch ctx and run are reused, so a frame costs little more than the
 * program.  Any other program runs as pt_skb_run_capture().  One thread at a time. */
struct pt_capture {
	struct vm_prog *prog;
	const struct vm_services *svc;  /* the engine: the instance's JIT table or the interpreter's */
	bool lean;
	bool kept;                      /* lean, and runs through vm_exec_kept() on `keep` */
	bool ctx_unread;                /* no load or store can reach the ctx: it is not set per frame */
	bool fast;                      /* kept and ctx_unread: pt_capture_run() is all a frame needs */
	struct vm_run run;              /* lean only */
	_Alignas(16) uint8_t keep[VM_NATIVE_KEEP_LEN];
	_Alignas(16) uint8_t ctx[PT_CTX_AREA];
	_Alignas(16) uint8_t stack[VM_MAX_FRAMES * VM_STACK_SIZE];
};
/* Cannot fail but with -ENOMEM.  Nothing to release. */
int pt_capture_init(struct pt_capture *c, struct vm_prog *prog, const struct vm_services *svc);
int pt_capture_run_slow(struct bpfvm *vm, struct pt_capture *c, const uint8_t *pkt, uint32_t caplen,
			uint32_t wirelen, uint32_t *retval);
/* Inline, so that a classic filter's frame is the caller's checks, two stores and the native code. */
static inline int pt_capture_run(struct bpfvm *vm, struct pt_capture *c, const uint8_t *pkt, uint32_t caplen,
				 uint32_t wirelen, uint32_t *retval)
{
	if (LIKELY(c->fast)) {
		uint64_t r0 = 0;
		c->run.pkt = pkt;
		c->run.pkt_len = caplen;
		int err = vm_exec_kept(&c->run, c->keep, &r0);
		if (LIKELY(!err))
			*retval = (uint32_t)r0;
		return err;
	}
	return pt_capture_run_slow(vm, c, pkt, caplen, wirelen, retval);
}

/* Runs prog `repeat` times (0 counts as 1) on run (set up by the caller); r0 of the last run in *retval
 * and the mean ns per run in *duration.  Returns 0 or the run's negative errno. */
int pt_run_repeat(struct vm_run *run, uint32_t repeat, uint32_t *retval, uint32_t *duration);
/* bpf_ctx_init(): ctx_in of up to max bytes (bytes beyond max must be zero: -E2BIG). */
int pt_ctx_in(const union bpf_attr *attr, void *ctx, size_t max);
/* bpf_test_finish() / bpf_ctx_finish(). */
int pt_data_out(union bpf_attr *attr, const void *data, uint32_t size, uint32_t retval, uint32_t duration);
int pt_ctx_out(union bpf_attr *attr, const void *ctx, uint32_t size);

#endif
