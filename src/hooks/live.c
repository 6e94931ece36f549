/* live.c -- bpfvm_live_run(): a program over frames arriving on a network interface, through an
 * AF_PACKET socket bound (by ifindex) to it; XDP_TX frames go back out of the same interface.
 *
 * The socket is a tap, not a driver hook: the kernel has already delivered what we receive, so only
 * XDP_TX has an effect here.  Frames the host sends (PACKET_OUTGOING, our own XDP_TX included) are
 * skipped, so a transmitted frame is never run again.  Waits in poll() with at most 100 ms per wait so
 * that the caller's stop flag and timeout are honoured. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include "../sys.h"
#include "hooks.h"

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bpfvm_live_run(struct bpfvm *vm, int prog_fd, const char *ifname, const struct bpfvm_live_opts *opts,
		   struct bpfvm_pkt_stats *stats)
{
	static const size_t rx_cap = HOOK_MAX_FRAME + 1;
	struct bpfvm_live_opts o = { 0 };
	struct bpfvm_pkt_stats local;
	struct hook_src src;
	uint8_t *rx = NULL;
	int fd = -1, err;

	sys_log_reset(vm);
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (!ifname)
		return sys_err(vm, -EINVAL, "live run: no interface");
	if (opts) {
		if (opts->sz < sizeof(size_t) || opts->sz > sizeof(o))
			return sys_err(vm, -EINVAL, "live run: opts.sz %zu unknown", opts->sz);
		memcpy(&o, opts, opts->sz);
	}
	unsigned int ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return sys_err(vm, -ENODEV, "%s: no such interface", ifname);
	err = hook_src_init(&src, vm, prog_fd, stats, o.cb, o.cb_ctx);
	if (err)
		return sys_err(vm, err, "%s: out of memory", ifname);
	rx = malloc(rx_cap);
	if (!rx) {
		err = sys_err(vm, -ENOMEM, "%s: out of memory", ifname);
		goto out;
	}
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (fd < 0) {
		err = -errno;
		err = sys_err(vm, err, "%s: AF_PACKET socket: %s", ifname, strerror(-err));
		goto out;
	}
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)ifindex,
	};
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		err = -errno;
		err = sys_err(vm, err, "%s: bind: %s", ifname, strerror(-err));
		goto out;
	}
	/* Frames queued before bind() may come from other interfaces: drain them. */
	{
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		while (recvfrom(fd, rx, rx_cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl) >= 0)
			fl = sizeof(from);
	}

	uint64_t idle_since = now_ns(CLOCK_MONOTONIC), index = 0;
	for (;;) {
		if (o.stop && __atomic_load_n(o.stop, __ATOMIC_RELAXED)) /* another thread's store (TSan) */
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = 100;
		if (o.timeout_ms > 0) {
			uint64_t idle_ms = (now_ns(CLOCK_MONOTONIC) - idle_since) / 1000000u;
			if (idle_ms >= (uint64_t)o.timeout_ms)
				break;
			if ((uint64_t)o.timeout_ms - idle_ms < (uint64_t)wait)
				wait = (int)((uint64_t)o.timeout_ms - idle_ms);
		}
		int n = poll(&pfd, 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			err = sys_err(vm, err, "%s: poll: %s", ifname, strerror(-err));
			goto out;
		}
		if (n == 0)
			continue;

		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(fd, rx, rx_cap, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err = -errno;
			err = sys_err(vm, err, "%s: recv: %s", ifname, strerror(-err));
			goto out;
		}
		if (from.sll_pkttype == PACKET_OUTGOING || from.sll_ifindex != (int)ifindex)
			continue;
		if ((size_t)len > HOOK_MAX_FRAME)
			continue;       /* jumbo frame beyond what a program may see: not ours to run */
		idle_since = now_ns(CLOCK_MONOTONIC);

		struct bpfvm_pkt_info info;
		int run = hook_run_one(&src, rx, (size_t)len, ++index, now_ns(CLOCK_REALTIME), &info);
		if (run == -EINTR)
			break; /* bpfvm_interrupt() */
		if (!run && info.res.action == BPFVM_PKT_TX) {
			struct sockaddr_ll to = {
				.sll_family = AF_PACKET,
				.sll_ifindex = (int)ifindex,
				.sll_halen = ETH_ALEN,
			};
			memcpy(to.sll_addr, info.data, ETH_ALEN);
			if (sendto(fd, info.data, info.res.len, 0, (struct sockaddr *)&to, sizeof(to)) ==
			    (ssize_t)info.res.len)
				info.written = 1;
		}
		if (hook_notify(&src, &info))
			break;
		if (o.max_pkts && index >= o.max_pkts)
			break;
	}
	sys_log_reset(vm);
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	free(rx);
	hook_src_fini(&src);
	return err;
}
