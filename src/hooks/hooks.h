/* hooks.h -- where programs meet packets: pcap files (pcap.c) and AF_PACKET sockets (live.c), both
 * public entry points of include/bpfvm.h.  The folder's one internal header.
 *
 * A source reads frames, hands each to hook_run_one() (which runs the program through
 * bpfvm_prog_run_packet(), counts the verdict and calls the user's callback), and then does what the
 * verdict asks of it: pcap.c writes PASS/TX frames to the output file, live.c sends TX frames back out.
 * Depends on the public API, sys (log) and libpcap; no mutable global state. */
#ifndef BPFVM_HOOKS_H
#define BPFVM_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpfvm.h>

/* Largest frame a source accepts, and the room the program gets to grow it (adjust_head/tail). */
#define HOOK_MAX_FRAME  65535u
#define HOOK_OUT_CAP    (HOOK_MAX_FRAME + 4096u)
/* Linux runs no program on a frame without a whole Ethernet header (drivers drop runts; test_run
 * says -EINVAL): sources skip those and count them in stats.skipped. */
#define HOOK_MIN_FRAME  14u

/* The state of one source: program, output buffer, counters, callback. */
struct hook_src {
	struct bpfvm *vm;
	int prog_fd;
	uint8_t *out;               /* HOOK_OUT_CAP bytes: the packet after the run */
	struct bpfvm_pkt_stats *st; /* never NULL (points at a local when the caller passed none) */
	bpfvm_pkt_fn cb;
	void *cb_ctx;
	char errmsg[512];           /* the last run's fault, copied out of the instance log */
};

/* Allocates the output buffer.  0 or -ENOMEM. */
int hook_src_init(struct hook_src *s, struct bpfvm *vm, int prog_fd, struct bpfvm_pkt_stats *st,
		  bpfvm_pkt_fn cb, void *cb_ctx);
void hook_src_fini(struct hook_src *s);

/* Runs the program on pkt[0..len) and counts the outcome.  Fills *info (data points into s->out; the
 * caller sets info->written and then calls hook_notify()).  Returns 0, or the run's negative errno
 * (counted in errors, the message in s->errmsg); frames shorter than HOOK_MIN_FRAME are not run and
 * give -EINVAL without counting an error. */
int hook_run_one(struct hook_src *s, const uint8_t *pkt, size_t len, uint64_t index, uint64_t ts_ns,
		 struct bpfvm_pkt_info *info);
/* Calls the user's callback.  Returns its value (non-zero: stop). */
int hook_notify(struct hook_src *s, const struct bpfvm_pkt_info *info);

/* Does a verdict put the packet on the wire / into the output file? */
static inline bool hook_action_emits(uint32_t action)
{
	return action == BPFVM_PKT_PASS || action == BPFVM_PKT_TX;
}

#endif
