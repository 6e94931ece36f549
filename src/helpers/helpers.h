/* helpers.h -- helper prototypes (for the verifier) and implementations (for the engines), one table
 * generated from helpers.def.  Implementations check every pointer argument against the run's regions
 * (hlp_mem()), so an unverified program cannot make a helper touch memory it does not own. */
#ifndef BPFVM_HELPERS_H
#define BPFVM_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/bpf.h>

#include "../vm/vm.h"

enum hlp_ret {
	RET_INTEGER,
	RET_VOID,
	RET_MAP_VALUE_OR_NULL,
	RET_MEM_OR_NULL,            /* ringbuf_reserve: sized by arg 2 */
	RET_PTR_TO_SOCKET_OR_NULL,
};

enum hlp_arg {
	ARG_NONE,
	ARG_ANYTHING,
	ARG_FMT_VALUE,              /* a value a format may print (trace_printk's r3..r5): Linux's proto
				     * declares none, so the verifier checks nothing, not even that it is set;
				     * untrusted runs check it as ARG_ANYTHING */
	ARG_CONST_MAP_PTR,
	ARG_PTR_TO_MAP_KEY,
	ARG_PTR_TO_MAP_VALUE,
	ARG_PTR_TO_MAP_VALUE_OR_NULL,
	ARG_PTR_TO_MEM,             /* readable memory of the size in the next argument */
	ARG_PTR_TO_MEM_RO,
	ARG_PTR_TO_MEM_OR_NULL,
	ARG_PTR_TO_UNINIT_MEM,      /* writable memory of the size in the next argument */
	ARG_CONST_SIZE,
	ARG_CONST_SIZE_OR_ZERO,
	ARG_PTR_TO_CTX,
	ARG_PTR_TO_FUNC,
	ARG_PTR_TO_STACK_OR_NULL,
	ARG_PTR_TO_SPIN_LOCK,
	ARG_PTR_TO_TIMER,
	ARG_PTR_TO_LONG,
	ARG_PTR_TO_CONST_STR,
	ARG_PTR_TO_ALLOC_MEM,       /* from ringbuf_reserve */
	ARG_CONST_ALLOC_SIZE_OR_ZERO,
	ARG_SCALAR,                 /* a number, not a pointer (an embedder's prototype: BPFVM_ARG_SCALAR) */
};

/* helpers.def's flags_ column (see its legend). */
enum hlp_flag {
	HF_GPL = 1u << 0,           /* gpl_only */
	HF_PKT = 1u << 1,           /* changes_pkt_data */
	HF_ACQUIRE = 1u << 2,       /* r0 is an acquired reference */
	HF_RELEASE = 1u << 3,       /* releases its ARG_PTR_TO_ALLOC_MEM argument */
	HF_TAIL_CALL = 1u << 4,     /* run as the TAIL_CALL insn, never through fn */
	HF_KFUNC = 1u << 5,         /* an embedder's prototype of its kfunc (else of its helper) */
	HF_RAW_READ = 1u << 6,      /* reads memory at an address passed as a plain value (a probe_read
				     * source, a %s argument): what it reads is not one of the verifier's accesses */
};

/* helpers.def's maps_ column: one bit per BPF_MAP_TYPE_*.  Map types newer than the uapi header the build
 * sees are spelled by number. */
#define MT(type_) (1ull << BPF_MAP_TYPE_##type_)
#define MT_CGRP_STORAGE (1ull << 32)        /* BPF_MAP_TYPE_CGRP_STORAGE */
#define MAPS_ALL (((1ull << 34) - 1) & ~1ull) /* HASH (1) .. ARENA (33); UNSPEC is no map */
/* The map types Linux's check_map_func_compatibility() lets only the helpers it lists for them take (its
 * first switch, "from map perspective"); every other type is open to any map-taking helper that does not
 * restrict itself. */
#define MAPS_RESTRICTED                                                                                     \
	(MT(PROG_ARRAY) | MT(PERF_EVENT_ARRAY) | MT(RINGBUF) | MT(USER_RINGBUF) | MT(STACK_TRACE) |          \
	 MT(CGROUP_ARRAY) | MT(CGROUP_STORAGE) | MT(PERCPU_CGROUP_STORAGE) | MT(DEVMAP) | MT(DEVMAP_HASH) |  \
	 MT(CPUMAP) | MT(XSKMAP) | MT(ARRAY_OF_MAPS) | MT(HASH_OF_MAPS) | MT(SOCKMAP) | MT(SOCKHASH) |        \
	 MT(REUSEPORT_SOCKARRAY) | MT(QUEUE) | MT(STACK) | MT(SK_STORAGE) | MT(INODE_STORAGE) |              \
	 MT(TASK_STORAGE) | MT_CGRP_STORAGE | MT(BLOOM_FILTER))
#define MAPS_OPEN (MAPS_ALL & ~MAPS_RESTRICTED)
/* map_lookup_elem: the open types, and the restricted ones that list it */
#define MAPS_LOOKUP                                                                                         \
	(MAPS_OPEN | MT(DEVMAP) | MT(DEVMAP_HASH) | MT(XSKMAP) | MT(ARRAY_OF_MAPS) | MT(HASH_OF_MAPS) |       \
	 MT(SOCKMAP) | MT(SOCKHASH))
/* map_update_elem, map_delete_elem: sock maps only for the program types may_update_sockmap() names */
#define MAPS_UPDATE (MAPS_OPEN | MT(SOCKMAP) | MT(SOCKHASH))

/* helpers.def's cb_ column: the callback signatures (Linux's set_*_callback_state()). */
enum hlp_cb_id {
	CB_NONE,
	CB_LOOP,                    /* bpf_loop: (u64 index, void *ctx) */
	CB_FOR_EACH_MAP_ELEM,       /* bpf_for_each_map_elem: (map, key, value, ctx) */
	CB_TIMER,                   /* bpf_timer_set_callback: (map, key, value) of the timer's map */
	CB_COUNT
};

/* What a callback receives in r1..r5. */
enum hlp_cb_arg {
	CBA_NONE,                   /* not initialised */
	CBA_SCALAR,                 /* an unknown scalar (bpf_loop's index) */
	CBA_MAP_PTR,                /* the map (CONST_PTR_TO_MAP) */
	CBA_MAP_KEY,                /* a key of it (PTR_TO_MAP_KEY) */
	CBA_MAP_VALUE,              /* its value (PTR_TO_MAP_VALUE) */
	CBA_CTX,                    /* the caller's callback_ctx argument, as passed (hlp_cb.ctx_arg) */
};

struct hlp_cb {
	const char *name;           /* "bpf_loop callback" */
	uint8_t arg_cnt;            /* r1..r(arg_cnt) are set */
	uint8_t args[5];            /* enum hlp_cb_arg */
	uint8_t ctx_arg;            /* which helper argument (1..5) CBA_CTX copies; 0: none */
	int32_t ret_min, ret_max;   /* the range r0 must be in at the callback's exit (callback_ret_range) */
	bool async;                 /* runs later, on its own stack, not from inside the helper (Linux
	                             * is_async_callback_calling_insn(): timers) */
};

struct hlp_proto {
	uint32_t id;
	const char *name;           /* "map_lookup_elem" */
	vm_helper_fn fn;
	uint8_t ret;                /* enum hlp_ret */
	uint8_t args[5];            /* enum hlp_arg */
	uint8_t flags;              /* enum hlp_flag */
	uint8_t ret_size_arg;       /* 1..5: the argument sizing r0's memory; 0: none */
	uint8_t cb;                 /* enum hlp_cb_id */
	uint64_t maps;              /* MT() bits of the map types its map argument accepts */
};

/* Declarations of every implementation listed in helpers.def. */
#define HELPER(id_, name_, ...) \
	uint64_t hlp_##name_(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5);
#include "helpers.def"
#undef HELPER

/* The helper with Linux id `id`, or NULL. */
const struct hlp_proto *hlp_get(uint32_t id);
/* Does helper h accept a map of type map_type as its map argument (check_map_func_compatibility())? */
static inline bool hlp_map_ok(const struct hlp_proto *h, uint32_t map_type)
{
	return map_type < 64 && (h->maps >> map_type & 1);
}
/* The signature of h's callback, or NULL when it takes none. */
const struct hlp_cb *hlp_callback(const struct hlp_proto *h);

/* The bits of a call insn's vm_insn.size (VM_CALL_NONZERO_MASK) for the helper's ARG_CONST_SIZE
 * arguments, which may not be 0 (vm_zero_size_reg()). */
uint8_t hlp_nonzero_args(const struct hlp_proto *h);
/* The map of the program whose values hold the special field (struct bpf_spin_lock, struct bpf_timer:
 * field_off = map_spin_lock_off, map_timer_off) at address p, or NULL: what Linux's verifier proves of
 * ARG_PTR_TO_SPIN_LOCK / ARG_PTR_TO_TIMER arguments, checked at run time. */
struct map;
struct map *hlp_value_field_map(const struct vm_run *run, uint64_t p, uint32_t (*field_off)(const struct map *));
/* A run that ends (exit or fault) still holding a bpf_spin_lock: the lock is released, and a clean exit
 * becomes a fault, as Linux's verifier refuses such programs. */
void hlp_spin_run_end(struct vm_run *run);

/* Untrusted runs (bpfvm_opts.untrusted; untrusted.c): Linux's pointer-leak rules checked on values.
 * hlp_is_ptr(): is v an address of anything the run can reach (its stack, regions, maps' values and map
 * pointers, code, host-readable ranges)?  hlp_store_leak() records the fault of a store of one outside the
 * stack ("R1 leaks addr into map").  hlp_untrusted_checks(): has the helper arguments to check (set
 * VM_CALL_UNTRUSTED at fixup); hlp_untrusted_args() checks them (ARG_ANYTHING holding an address, or
 * memory it reads that holds one on the stack) and records the fault, returning false;
 * hlp_untrusted_call() is the same for the call insn at `pc` of run->prog. */
bool hlp_is_ptr(const struct vm_run *run, uint64_t v);
void hlp_store_leak(struct vm_run *run, unsigned reg, uintptr_t addr);
bool hlp_untrusted_checks(const struct hlp_proto *h);
bool hlp_untrusted_args(struct vm_run *run, const struct hlp_proto *h, const uint64_t r[5]);
bool hlp_untrusted_call(struct vm_run *run, size_t pc, const uint64_t r[5]);

/* Checks that [p, p+len) is memory the run may read (or write); on failure records a fault naming the
 * helper and returns NULL, else returns p as a pointer. */
void *hlp_mem(struct vm_run *run, uint64_t p, uint64_t len, bool write, const char *helper);

/* A map argument: a map the program references, or an inner map of one; else faults the run. */
struct map;
struct map *hlp_map_arg(struct vm_run *run, uint64_t r, const char *helper);

/* bpf_timer (timer.c): timers are process-local state of the instance; the struct bpf_timer bytes in a
 * map value only name one.  The object layer calls these when the objects timers point at go away:
 * pending timers of a program or map are cancelled, and a running callback is waited for, so no callback
 * runs freed code or touches unmapped memory. */
void hlp_timer_prog_release(struct bpfvm *vm, const struct vm_prog *prog);
void hlp_timer_map_release(struct bpfvm *vm, struct map *m);
/* Stops and joins the timer thread, cancels every timer (bpfvm_free, before objects are closed). */
void hlp_timer_fini(struct bpfvm *vm);

/* The references a run holds (struct vm_run_refs) and the memory they give it (run_refs.c). */
struct sys_obj;
/* Gives the run the reference o the caller took (struct vm_run_refs): kept until hlp_run_put(), or
 * dropped at once when the run already holds o.  -ENOMEM (reference dropped) when the list cannot grow. */
int hlp_run_hold(struct vm_run *run, struct sys_obj *o);
/* The end of a run: drops every reference hlp_run_hold() gave it.  After the fault report, which names
 * vm_fault_prog() (a program only the run may still hold). */
void hlp_run_put(struct vm_run *run);
/* Is m an inner map the run obtained (and so holds)? */
bool hlp_run_has_map(const struct vm_run *run, const struct map *m);
/* The inner map the run holds whose values hold [addr, addr + len), or NULL. */
struct map *hlp_run_map_at(const struct vm_run *run, uintptr_t addr, size_t len);
/* The inner map the run holds with a value whose field (field_off: map_spin_lock_off, map_timer_off) is
 * at p, or NULL (hlp_value_field_map() for the maps a map-in-map gave). */
struct map *hlp_run_field_map(const struct vm_run *run, uint64_t p, uint32_t (*field_off)(const struct map *));
/* Memory outside the program's own maps (vm_prog.map_regions) a run may touch: values of the inner
 * maps it obtained, which it holds until it ends.  Any other map of the instance is not the program's. */
bool hlp_mem_ok_dynamic(const struct vm_run *run, uintptr_t addr, size_t len, bool write);

/* ---- the packet state of a run (pkt.c), shared by the program types and the packet helpers ---- */
/* Defined here, below both users (the packet helpers may not include src/progtypes); the names keep the
 * pt_ prefix of the program types that set a run up on it. */

/* What one packet run did.  action is enum bpfvm_pkt_action (include/bpfvm.h). */
struct pt_pkt_result {
	uint64_t retval;            /* r0 as returned */
	uint32_t action;            /* BPFVM_PKT_* */
	uint32_t len;               /* packet bytes after the run */
	uint32_t redirect_ifindex;  /* REDIRECT: ifindex, or the value found in a DEVMAP/CPUMAP/XSKMAP */
	uint32_t redirect_map_type; /* 0 for bpf_redirect(), else BPF_MAP_TYPE_* of bpf_redirect_map() */
	uint32_t redirect_key;
	uint64_t redirect_flags;
	uint32_t clone_cnt;         /* bpf_clone_redirect() calls that succeeded */
	uint32_t clone_ifindex;     /* the last one's target */
};

#define PT_XDP_HEADROOM   256u   /* XDP_PACKET_HEADROOM */
#define PT_XDP_FRAME_SZ   4096u  /* test_run's frame: headroom + data + tailroom */
#define PT_SHINFO_SZ      320u   /* SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64 */
#define PT_XDP_FRAME_HDR  40u    /* sizeof(struct xdp_frame): headroom adjust_head/meta may not use */
#define PT_SKB_HEADROOM   64u    /* NET_SKB_PAD + NET_IP_ALIGN */
#define PT_SKB_MAX_LEN    65536u /* BPF_SKB_MAX_LEN */
#define PT_CTX_AREA       512u   /* the scratch ctx lives at the start of the mapping */

/* The packet of one run: a MAP_32BIT mapping holding the scratch ctx, then the frame.
 * Offsets are from `frame`: hard start 0, meta <= data <= end <= cap. */
struct pt_pkt {
	uint32_t prog_type;
	uint32_t attach_type;
	uint8_t *map;               /* the mapping (map_len bytes) */
	size_t map_len;
	uint8_t *frame;             /* map + PT_CTX_AREA */
	uint32_t cap;               /* bytes of frame usable for packet data (hard end) */
	uint32_t meta, data, end;
	uint32_t mac, net;          /* skb: mac and network header offsets */
	void *ctx;                  /* scratch struct xdp_md / __sk_buff (at map) */
	struct vm_run *run;
	int region;                 /* index of the packet region in run->regions, -1: none */
	bool pkt_writable;
	/* skb state behind the __sk_buff fields */
	uint16_t protocol;          /* network byte order, from eth_type_trans() */
	bool vlan_present;
	uint16_t vlan_proto, vlan_tci; /* vlan_proto in network byte order */
	uint32_t hash;
	bool hash_valid;
	bool has_sk;                /* test run: the dummy socket Linux gives the skb (received packets: none) */
	uint64_t sk_cookie;         /* its cookie once asked for, 0 before */
	/* what the run asked for */
	struct pt_pkt_result rd;
};

/* bpf_get_socket_cookie() / bpf_get_socket_uid() on the run's skb.  Linux's test run gives each run a
 * fresh dummy socket (uid 0) whose cookie, taken from a counter on first use (sock_gen_cookie()), is
 * nonzero and new per run; a received packet has no socket: cookie 0, uid overflowuid (65534). */
uint64_t pt_sk_cookie(struct vm_run *run);
uint32_t pt_sk_uid(struct vm_run *run);

/* The state of the running program, or NULL (with a fault recorded) when it runs without one. */
struct pt_pkt *pt_pkt_of(struct vm_run *run, const char *helper);

/* Frees the instance's cached packet areas (bpfvm_free() calls it). */
void pt_pool_drain(struct bpfvm *vm);
/* Maps a packet area: frame of `cap` bytes with data at `head`, len bytes copied from src.  0 / -ENOMEM. */
int pt_pkt_alloc(struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src, uint32_t len);
/* The same, reusing one of vm's cached 8 KiB areas when cap fits (pt_pkt_release() gives it back). */
int pt_pkt_get(struct bpfvm *vm, struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src, uint32_t len);
/* The same for a run that reaches the packet only through reads bounded by [data, end) (LD_ABS/LD_IND,
 * the load helpers; no packet region): only the ctx area is cleared, the bytes around the packet may be
 * stale, since nothing can read them. */
int pt_pkt_get_bounded(struct bpfvm *vm, struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src,
		       uint32_t len);
void pt_pkt_release(struct bpfvm *vm, struct pt_pkt *p);
void pt_pkt_free(struct pt_pkt *p);
/* Grows the frame so that `head` more bytes fit before meta and `tail` after end (moves the mapping;
 * callers recompute pointers).  0 or -ENOMEM / -E2BIG. */
int pt_pkt_make_room(struct pt_pkt *p, uint32_t head, uint32_t tail);
/* After any change of meta/data/end: refreshes the ctx pointer fields, the packet region, run->pkt. */
void pt_pkt_sync(struct pt_pkt *p);

#endif
