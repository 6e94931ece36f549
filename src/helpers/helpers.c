/* helpers.c -- the helper table and the generic helpers (time, randomness, identity, trace_printk).
 * Map, ring buffer and program-type helpers live in their own files beside this one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "helpers.h"
#include "../core/core.h"

static const struct hlp_proto table[] = {
#define HELPER(id_, name_, ret_, a1_, a2_, a3_, a4_, a5_, flags_, maps_, rsz_, cb_)                              \
	{ .id = id_, .name = #name_, .fn = hlp_##name_, .ret = ret_, .args = { a1_, a2_, a3_, a4_, a5_ },          \
	  .flags = (flags_), .maps = (maps_), .ret_size_arg = (rsz_), .cb = (cb_) },
#include "helpers.def"
#undef HELPER
};

/* Linux's set_loop_callback_state(), set_map_elem_callback_state(), set_timer_callback_state(). */
static const struct hlp_cb callbacks[CB_COUNT] = {
	[CB_LOOP] = { "bpf_loop callback", 2, { CBA_SCALAR, CBA_CTX }, 3, 0, 1, false },
	[CB_FOR_EACH_MAP_ELEM] = { "bpf_for_each_map_elem callback", 4,
				   { CBA_MAP_PTR, CBA_MAP_KEY, CBA_MAP_VALUE, CBA_CTX }, 3, 0, 1, false },
	/* bpf_timer_set_callback(): retval_range(0, 0), called by the timer when it fires */
	[CB_TIMER] = { "bpf_timer callback", 3, { CBA_MAP_PTR, CBA_MAP_KEY, CBA_MAP_VALUE }, 0, 0, 0, true },
};

const struct hlp_cb *hlp_callback(const struct hlp_proto *h)
{
	return h->cb != CB_NONE && h->cb < CB_COUNT ? &callbacks[h->cb] : NULL;
}

uint64_t hlp_tail_call(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	/* the loader's call resolution (sys.c) turns the call into the TAIL_CALL insn and callx refuses
	 * HF_TAIL_CALL rows, so no engine calls this; if one ever does, the run stops instead of going on
	 * as if the call had failed */
	if (NEVER(run != NULL)) /* reaching here at all is the broken invariant */
		vm_fault(run, -EFAULT, "bpf_tail_call reached as a helper function", 0, 0);
	return 0;
}

const struct hlp_proto *hlp_get(uint32_t id)
{
	/* The table is small and sorted by nothing in particular; the fixup pass calls this once per call
	 * site at load time, never at run time. */
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].id == id)
			return &table[i];
	return NULL;
}

uint8_t hlp_nonzero_args(const struct hlp_proto *h)
{
	uint8_t mask = 0;
	for (unsigned i = 0; i < 5; i++)
		if (h->args[i] == ARG_CONST_SIZE)
			mask |= (uint8_t)(1u << i);
	return mask;
}

void *hlp_mem(struct vm_run *run, uint64_t p, uint64_t len, bool write, const char *helper)
{
	if (len == 0)
		return (void *)(uintptr_t)p;
	if (len > (1u << 30) || !vm_mem_ok(run, (uintptr_t)p, (size_t)len, write)) {
		vm_fault(run, -EFAULT, helper, (uintptr_t)p, (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len));
		return NULL;
	}
	return (void *)(uintptr_t)p;
}

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hlp_ktime_get_ns(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t hlp_ktime_get_boot_ns(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			       uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t hlp_ktime_get_coarse_ns(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				 uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return clock_ns(CLOCK_MONOTONIC_COARSE);
}

uint64_t hlp_jiffies64(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4, uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	/* HZ = 1000: Debian's kernels use CONFIG_HZ=250, but user space has no jiffies; ms is the
	 * honest unit that keeps the counter monotonic. */
	return clock_ns(CLOCK_MONOTONIC_COARSE) / 1000000ull;
}

uint64_t hlp_get_prandom_u32(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			     uint64_t r5)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return sys_prandom_u32(run->vm, run->slot);
}

uint64_t hlp_get_smp_processor_id(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return run->slot;
}

uint64_t hlp_get_numa_node_id(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			      uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return 0;
}

uint64_t hlp_get_current_pid_tgid(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				  uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return ((uint64_t)getpid() << 32) | (uint32_t)gettid();
}

uint64_t hlp_get_current_uid_gid(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
				 uint64_t r5)
{
	(void)run, (void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	return ((uint64_t)getgid() << 32) | (uint32_t)getuid();
}

uint64_t hlp_get_current_comm(struct vm_run *run, uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			      uint64_t r5)
{
	(void)r3, (void)r4, (void)r5;
	char *buf = hlp_mem(run, r1, r2, true, "bpf_get_current_comm");
	char comm[16] = "";

	if (!buf)
		return 0;
	if (r2 == 0)
		return (uint64_t)-EINVAL;
	/* the calling thread's name, as Linux gives current->comm (not the process's, /proc/self/comm) */
	if (prctl(PR_GET_NAME, comm, 0, 0, 0))
		comm[0] = '\0';
	comm[sizeof(comm) - 1] = '\0';
	size_t n = strlen(comm);
	if (n >= r2)
		n = (size_t)r2 - 1;
	memset(buf, 0, (size_t)r2);
	memcpy(buf, comm, n);
	return 0;
}
