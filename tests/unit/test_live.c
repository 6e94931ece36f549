/* test_live.c -- bpfvm_live_run() on a real interface: a veth pair inside a network namespace this test
 * creates and deletes (`ip netns add`, `ip link add ... type veth`), so only namespace traffic is seen.
 * An XDP program marks frames of a test ethertype and returns XDP_TX; a sender on the peer end sends
 * numbered frames and must get each one back, modified.  Needs root and iproute2: SKIPs otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"

#define TEST_ETHERTYPE 0x88b5 /* IEEE local experimental */
#define FRAMES 20

/* XDP: frames of TEST_ETHERTYPE get byte 14 set to 0xaa and go back out (XDP_TX); the rest pass. */
static const char *const xdp_echo =
	"r2 = *(u32 *)(r1 + 0)\n"
	"r3 = *(u32 *)(r1 + 4)\n"
	"r4 = r2\n"
	"r4 += 15\n"
	"if r4 > r3 goto pass\n"
	"r5 = *(u16 *)(r2 + 12)\n"
	"if r5 != 0xb588 goto pass\n"
	"r5 = 0xaa\n"
	"*(u8 *)(r2 + 14) = r5\n"
	"r0 = 3\n"
	"exit\n"
	"pass:\n"
	"r0 = 2\n"
	"exit\n";

static int load_echo(struct bpfvm *vm)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, xdp_echo, insns, 64);
	if (n <= 0 || n > 64) {
		printf("  asm: %s\n", bpfvm_errmsg(vm));
		return -1;
	}
	int fd = bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "echo");
	if (fd < 0)
		printf("  load: %s\n", bpfvm_errmsg(vm));
	return fd;
}

TEST(errors_without_interface)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load_echo(vm);
	struct bpfvm_pkt_stats st;
	CHECK(fd >= 0);
	CHECK(bpfvm_live_run(vm, fd, "bpfvm-no-such-if0", NULL, &st) == -ENODEV);
	CHECK(strstr(bpfvm_errmsg(vm), "bpfvm-no-such-if0") != NULL);
	CHECK_EQ_U64(st.pkts, 0);
	struct bpfvm_live_opts o = { .sz = sizeof(o) + 16 };
	CHECK(bpfvm_live_run(vm, fd, "lo", &o, &st) == -EINVAL);
	CHECK(bpfvm_live_run(vm, fd, NULL, NULL, &st) == -EINVAL);
	bpfvm_free(vm);
}

struct live_thread {
	struct bpfvm *vm;
	int prog;
	const char *ifname;
	volatile int stop;
	int err;
	struct bpfvm_pkt_stats st;
	uint64_t tx_seen;
};

static int on_live(void *ctx, const struct bpfvm_pkt_info *p)
{
	struct live_thread *t = ctx;
	if (!p->err && p->res.action == BPFVM_PKT_TX && p->written && p->data[14] == 0xaa)
		t->tx_seen++;
	return 0;
}

static void *live_main(void *arg)
{
	struct live_thread *t = arg;
	struct bpfvm_live_opts o = { .sz = sizeof(o), .timeout_ms = 10000, .stop = &t->stop, .cb = on_live, .cb_ctx = t };
	t->err = bpfvm_live_run(t->vm, t->prog, t->ifname, &o, &t->st);
	return NULL;
}

static int sh(const char *cmd)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	return system(full);
}

TEST(veth_xdp_tx)
{
	if (geteuid() != 0)
		SKIP("needs root (network namespace, veth pair, AF_PACKET)");
	if (sh("command -v ip"))
		SKIP("needs iproute2's ip");
	char ns[64], ifa[IFNAMSIZ], ifb[IFNAMSIZ], cmd[512], nspath[128];
	snprintf(ns, sizeof(ns), "bpfvm-live-%d", (int)getpid());
	snprintf(ifa, sizeof(ifa), "bvl%da", (int)getpid() % 100000);
	snprintf(ifb, sizeof(ifb), "bvl%db", (int)getpid() % 100000);
	snprintf(cmd, sizeof(cmd), "ip netns add %s", ns);
	if (sh(cmd))
		SKIP("ip netns add failed (no network namespaces here)");
	int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", ns);
	int new_ns = open(nspath, O_RDONLY | O_CLOEXEC);
	bool entered = self_ns >= 0 && new_ns >= 0 && setns(new_ns, CLONE_NEWNET) == 0;
	CHECK(entered);
	struct bpfvm *vm = NULL;
	int snd = -1;
	if (!entered)
		goto cleanup;
	/* Inside the namespace: no IPv6 (no router/neighbour solicitations), a veth pair, both ends up. */
	sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up",
		 ifa, ifb, ifa, ifb);
	if (sh(cmd)) {
		printf("  %s failed\n", cmd);
		CHECK(0);
		goto cleanup;
	}

	vm = bpfvm_new(NULL);
	struct live_thread t = { .vm = vm, .ifname = ifa };
	t.prog = load_echo(vm);
	CHECK(t.prog >= 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, live_main, &t) == 0);

	/* The sender on the peer end: numbered frames of the test ethertype, each echoed back modified. */
	snd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(TEST_ETHERTYPE));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(TEST_ETHERTYPE),
				   .sll_ifindex = (int)if_nametoindex(ifb), .sll_halen = ETH_ALEN };
	CHECK(snd >= 0 && bind(snd, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	bool got[FRAMES] = { false };
	int echoed = 0;
	for (int i = 0; i < FRAMES; i++) {
		uint8_t f[64] = { 0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb };
		f[12] = TEST_ETHERTYPE >> 8, f[13] = TEST_ETHERTYPE & 0xff;
		f[14] = 0x00;
		f[15] = (uint8_t)i;
		memcpy(sll.sll_addr, f, 6);
		/* The first frames may go out before the runner is bound: resend until echoed (at most 30 s). */
		for (int attempt = 0; attempt < 30 && !got[i]; attempt++) {
			if (sendto(snd, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)sizeof(f))
				break;
			struct pollfd pfd = { .fd = snd, .events = POLLIN };
			while (!got[i] && poll(&pfd, 1, 1000) > 0) {
				uint8_t r[128];
				struct sockaddr_ll from;
				socklen_t fl = sizeof(from);
				ssize_t n = recvfrom(snd, r, sizeof(r), 0, (struct sockaddr *)&from, &fl);
				if (n < 16 || from.sll_pkttype == PACKET_OUTGOING || r[14] != 0xaa || r[15] >= FRAMES)
					continue;
				if (!got[r[15]])
					echoed++;
				got[r[15]] = true;
			}
		}
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	CHECK_EQ_U64(t.err, 0);
	CHECK_EQ_U64(echoed, FRAMES);
	CHECK(t.st.action[BPFVM_PKT_TX] >= FRAMES);     /* resends of early frames are TX too */
	CHECK_EQ_U64(t.st.written, t.st.action[BPFVM_PKT_TX]);
	CHECK_EQ_U64(t.tx_seen, t.st.action[BPFVM_PKT_TX]);
	CHECK_EQ_U64(t.st.errors, 0);
	/* Our own transmissions were not run again: every run was a frame from the peer. */
	CHECK(t.st.pkts <= t.st.action[BPFVM_PKT_TX] + t.st.action[BPFVM_PKT_PASS]);

cleanup:
	if (snd >= 0)
		close(snd);
	bpfvm_free(vm);
	if (self_ns >= 0) {
		if (setns(self_ns, CLONE_NEWNET))
			printf("  could not return to the original namespace\n");
		close(self_ns);
	}
	if (new_ns >= 0)
		close(new_ns);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
	CHECK(sh(cmd) == 0);
}

/* `bpfvm run --iface`: the CLI in a child process on one end of a veth pair in a fresh namespace, the
 * echo program of tests/loader/cli_events.bpf.c; the peer end sends numbered frames and gets each one
 * back; the CLI's JSON report has the TX verdicts and the program's printk lines. */
TEST(cli_iface)
{
	if (geteuid() != 0)
		SKIP("needs root (network namespace, veth pair, AF_PACKET)");
	if (sh("command -v ip") || sh("command -v clang"))
		SKIP("needs iproute2's ip and clang");
	char exe[4096], cli[4200], obj[128], cmd[9000];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (el <= 0)
		SKIP("cannot find this test's binary");
	exe[el] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(cli, sizeof(cli), "%s/../bpfvm", exe);
	if (access(cli, X_OK))
		SKIP("no bpfvm binary next to this test build");
	snprintf(obj, sizeof(obj), "/tmp/bpfvm-live-cli-%d.o", (int)getpid());
	snprintf(cmd, sizeof(cmd), "clang -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu -Wall "
		 "-c tests/loader/cli_events.bpf.c -o %s", obj);
	if (sh(cmd))
		SKIP("clang could not build tests/loader/cli_events.bpf.c");
	char ns[64], ifa[IFNAMSIZ], ifb[IFNAMSIZ], nspath[128];
	snprintf(ns, sizeof(ns), "bpfvm-clil-%d", (int)getpid());
	snprintf(ifa, sizeof(ifa), "bvc%da", (int)getpid() % 100000);
	snprintf(ifb, sizeof(ifb), "bvc%db", (int)getpid() % 100000);
	snprintf(cmd, sizeof(cmd), "ip netns add %s", ns);
	if (sh(cmd)) {
		unlink(obj);
		SKIP("ip netns add failed (no network namespaces here)");
	}
	int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", ns);
	int new_ns = open(nspath, O_RDONLY | O_CLOEXEC);
	bool entered = self_ns >= 0 && new_ns >= 0 && setns(new_ns, CLONE_NEWNET) == 0;
	CHECK(entered);
	FILE *p = NULL;
	int snd = -1;
	if (!entered)
		goto cleanup;
	sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up",
		 ifa, ifb, ifa, ifb);
	if (sh(cmd)) {
		CHECK(0);
		goto cleanup;
	}
	/* the child inherits this thread's (new) network namespace */
	snprintf(cmd, sizeof(cmd), "%s run %s --prog echo --iface %s --count 5 --timeout 30000 --json -v --no-maps 2>&1",
		 cli, obj, ifa);
	p = popen(cmd, "r");
	CHECK(p != NULL);
	snd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(TEST_ETHERTYPE));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(TEST_ETHERTYPE),
				   .sll_ifindex = (int)if_nametoindex(ifb), .sll_halen = ETH_ALEN };
	CHECK(snd >= 0 && bind(snd, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	int echoed = 0;
	for (int i = 0; i < 5 && p && snd >= 0; i++) {
		uint8_t f[64] = { 0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb };
		f[12] = TEST_ETHERTYPE >> 8, f[13] = TEST_ETHERTYPE & 0xff;
		f[15] = (uint8_t)i;
		memcpy(sll.sll_addr, f, 6);
		bool got = false;
		/* until the CLI is up and bound, frames go unseen: resend (at most 30 s) */
		for (int attempt = 0; attempt < 30 && !got; attempt++) {
			if (sendto(snd, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)sizeof(f))
				break;
			struct pollfd pfd = { .fd = snd, .events = POLLIN };
			while (!got && poll(&pfd, 1, 1000) > 0) {
				uint8_t r[128];
				struct sockaddr_ll from;
				socklen_t fl = sizeof(from);
				ssize_t n = recvfrom(snd, r, sizeof(r), 0, (struct sockaddr *)&from, &fl);
				if (n >= 16 && from.sll_pkttype != PACKET_OUTGOING && r[14] == 0xaa && r[15] == i)
					got = true;
			}
		}
		echoed += got;
	}
	CHECK_EQ_U64(echoed, 5);
	if (p) {
		static char out[65536];
		size_t n = fread(out, 1, sizeof(out) - 1, p);
		out[n] = 0;
		int st = pclose(p);
		p = NULL;
		CHECK_EQ_U64(st, 0);
		CHECK(strstr(out, "\"packets\":5,") != NULL);
		CHECK(strstr(out, "\"TX\":5") != NULL);
		CHECK(strstr(out, "\"trace\":[\"echo 0\",\"echo 1\",\"echo 2\",\"echo 3\",\"echo 4\"]") != NULL);
		CHECK(strstr(out, "\"verdict\":\"XDP_TX\"") != NULL);
		if (st || !strstr(out, "\"TX\":5"))
			printf("  CLI output: %.2000s\n", out);
	}

cleanup:
	if (p)
		pclose(p);
	if (snd >= 0)
		close(snd);
	if (self_ns >= 0) {
		if (setns(self_ns, CLONE_NEWNET))
			printf("  could not return to the original namespace\n");
		close(self_ns);
	}
	if (new_ns >= 0)
		close(new_ns);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
	CHECK(sh(cmd) == 0);
	unlink(obj);
}

int main(void)
{
	RUN(errors_without_interface);
	RUN(veth_xdp_tx);
	RUN(cli_iface);
	return test_done();
}
