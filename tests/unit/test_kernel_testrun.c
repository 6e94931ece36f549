/* test_kernel_testrun.c -- differential: the same XDP / tc / socket filter programs, run with
 * BPF_PROG_TEST_RUN in the kernel (syscall(__NR_bpf)) and in bpfvm on the same packets; retval,
 * data_out bytes and ctx_out must match.  Skips with a reason when bpf() is unavailable (not root,
 * no CONFIG_BPF_SYSCALL, seccomp). */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/if_ether.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

static char klog[65536];

struct side {
	long err;
	uint32_t retval, out_len, ctx_out_len;
	uint8_t out[512];
	uint8_t ctx_out[256];
};

static void fill_attr(union bpf_attr *a, int fd, const void *pkt, uint32_t len, const void *ctx, uint32_t ctx_len,
		      struct side *s, uint32_t out_cap)
{
	memset(a, 0, sizeof(*a));
	a->test.prog_fd = (uint32_t)fd;
	a->test.data_in = (uintptr_t)pkt;
	a->test.data_size_in = len;
	a->test.data_out = (uintptr_t)s->out;
	a->test.data_size_out = out_cap;
	if (ctx) {
		a->test.ctx_in = (uintptr_t)ctx;
		a->test.ctx_size_in = ctx_len;
		a->test.ctx_out = (uintptr_t)s->ctx_out;
		a->test.ctx_size_out = sizeof(s->ctx_out);
	}
}

/* Assembles src, loads it in both, runs it on pkt in both and compares.  Returns 0 when both agree. */
static int both(const char *name, uint32_t type, const char *src, const void *pkt, uint32_t len, const void *ctx,
		uint32_t ctx_len, uint32_t out_cap)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpf_insn insns[512];
	long n = bpfvm_asm(vm, src, insns, 512);
	int bad = 0;
	if (n <= 0 || n > 512) {
		printf("  %s: asm: %s\n", name, bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return 1;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)klog;
	a.log_size = sizeof(klog);
	a.log_level = 1;
	long kfd = kbpf(BPF_PROG_LOAD, &a);
	if (kfd < 0) {
		printf("  %s: kernel rejects the program (%ld): %s\n", name, kfd, klog);
		bpfvm_free(vm);
		return 1;
	}
	int vfd = bpfvm_prog_load(vm, type, insns, (size_t)n, "t");
	if (vfd < 0) {
		printf("  %s: bpfvm rejects the program: %s\n", name, bpfvm_errmsg(vm));
		close((int)kfd);
		bpfvm_free(vm);
		return 1;
	}
	static struct side k, v;
	memset(&k, 0xcd, sizeof(k));
	memset(&v, 0xcd, sizeof(v));
	fill_attr(&a, (int)kfd, pkt, len, ctx, ctx_len, &k, out_cap);
	k.err = kbpf(BPF_PROG_TEST_RUN, &a);
	k.retval = a.test.retval;
	k.out_len = a.test.data_size_out;
	k.ctx_out_len = a.test.ctx_size_out;
	fill_attr(&a, vfd, pkt, len, ctx, ctx_len, &v, out_cap);
	v.err = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	v.retval = a.test.retval;
	v.out_len = a.test.data_size_out;
	v.ctx_out_len = a.test.ctx_size_out;
	if (k.err != v.err) {
		printf("  %s: errno kernel %ld bpfvm %ld (%s); kernel retval %u size_out %u\n", name, k.err, v.err,
		       bpfvm_errmsg(vm), k.retval, k.out_len);
		bad = 1;
	} else if (k.err == 0 || k.err == -ENOSPC) {
		if (k.retval != v.retval) {
			printf("  %s: retval kernel 0x%x bpfvm 0x%x\n", name, k.retval, v.retval);
			bad = 1;
		}
		if (k.out_len != v.out_len) {
			printf("  %s: data_size_out kernel %u bpfvm %u\n", name, k.out_len, v.out_len);
			bad = 1;
		} else {
			uint32_t m = k.out_len < out_cap ? k.out_len : out_cap;
			for (uint32_t i = 0; i < m && !bad; i++)
				if (k.out[i] != v.out[i]) {
					printf("  %s: data_out[%u] kernel 0x%02x bpfvm 0x%02x\n", name, i, k.out[i], v.out[i]);
					printf("    kernel:");
					for (uint32_t j = 0; j < 16 && j < m; j++)
						printf(" %02x", k.out[j]);
					printf("\n    bpfvm: ");
					for (uint32_t j = 0; j < 16 && j < m; j++)
						printf(" %02x", v.out[j]);
					printf("\n");
					bad = 1;
				}
		}
		if (ctx && (k.ctx_out_len != v.ctx_out_len || memcmp(k.ctx_out, v.ctx_out, k.ctx_out_len))) {
			printf("  %s: ctx_out differs (len %u / %u)\n", name, k.ctx_out_len, v.ctx_out_len);
			for (uint32_t i = 0; i + 4 <= k.ctx_out_len; i += 4)
				if (memcmp(k.ctx_out + i, v.ctx_out + i, 4))
					printf("    off %u: kernel %08x bpfvm %08x\n", i, *(uint32_t *)(void *)(k.ctx_out + i),
					       *(uint32_t *)(void *)(v.ctx_out + i));
			bad = 1;
		}
	}
	close((int)kfd);
	bpfvm_free(vm);
	return bad;
}

static size_t frame(uint8_t *f, uint16_t ethertype, uint8_t l4)
{
	static const uint8_t eth[] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };
	memset(f, 0, 128);
	memcpy(f, eth, 12);
	f[12] = (uint8_t)(ethertype >> 8);
	f[13] = (uint8_t)ethertype;
	static const uint8_t ip[] = { 0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 0, 0, 0, 192, 168, 1, 10, 10, 1, 2, 3 };
	memcpy(f + 14, ip, sizeof(ip));
	f[23] = l4;
	uint32_t sum = 0;
	for (int i = 14; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	static const uint8_t udp[] = { 0x30, 0x39, 0x00, 0x35, 0, 20, 0x12, 0x34, 'h', 'e', 'l', 'l', 'o', '!', 0, 1 };
	memcpy(f + 34, udp, sizeof(udp));
	return 64;
}

/* XDP programs store r7 and r8 at the packet start (after a bounds check the verifier accepts) */
#define XDP_STORE_R7_R8 \
	"r2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 4)\nr4 = r2\nr4 += 16\nif r4 > r3 goto out\n" \
	"*(u64 *)(r2 + 0) = r7\n*(u64 *)(r2 + 8) = r8\nout:\nr0 = 2\nexit\n"

TEST(xdp_adjust_and_csum_vs_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	uint8_t f[128];
	size_t n = frame(f, ETH_P_IP, 17);
	CHECK(!both("pass", BPF_PROG_TYPE_XDP, "r0 = 2\nexit\n", f, (uint32_t)n, NULL, 0, 512));
	CHECK(!both("short", BPF_PROG_TYPE_XDP, "r0 = 2\nexit\n", f, 13, NULL, 0, 512));
	CHECK(!both("enospc", BPF_PROG_TYPE_XDP, "r0 = 1\nexit\n", f, (uint32_t)n, NULL, 0, 20));
	static const int32_t heads[] = { -14, -200, -216, -217, -256, -300, 10, 50, 51 };
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		char src[512], name[32];
		snprintf(src, sizeof(src), "r6 = r1\nr2 = %d\ncall 44\nr7 = r0\nr8 = 0\n" XDP_STORE_R7_R8, heads[i]);
		snprintf(name, sizeof(name), "adjust_head %d", heads[i]);
		CHECK(!both(name, BPF_PROG_TYPE_XDP, src, f, (uint32_t)n, NULL, 0, 512));
	}
	static const int32_t tails[] = { 100, -20, -50, -51, 3456, 3457, 4000 };
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		char src[512], name[32];
		snprintf(src, sizeof(src), "r6 = r1\nr2 = %d\ncall 65\nr7 = r0\nr8 = 0\n" XDP_STORE_R7_R8, tails[i]);
		snprintf(name, sizeof(name), "adjust_tail %d", tails[i]);
		CHECK(!both(name, BPF_PROG_TYPE_XDP, src, f, (uint32_t)n, NULL, 0, 4096 > 512 ? 512 : 512));
	}
	static const int32_t metas[] = { -8, -4, -3, -32, -36, -252, -256, 4 };
	for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++) {
		char src[512], name[32];
		snprintf(src, sizeof(src), "r6 = r1\nr2 = %d\ncall 54\nr7 = r0\nr8 = 0\n" XDP_STORE_R7_R8, metas[i]);
		snprintf(name, sizeof(name), "adjust_meta %d", metas[i]);
		struct xdp_md md = { .data_end = (uint32_t)n };
		CHECK(!both(name, BPF_PROG_TYPE_XDP, src, f, (uint32_t)n, &md, sizeof(md), 512));
	}
	/* csum_diff: from = 8 bytes of the stack, to = 12 bytes, seeds */
	static const uint32_t seeds[] = { 0, 1, 0xffff, 0xffffffff, 0x12345678 };
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char src[1024], name[32];
		snprintf(src, sizeof(src),
			 "r6 = r1\nr1 = 0x0a000001\n*(u32 *)(r10 - 16) = r1\nr1 = 0xc0a80101\n*(u32 *)(r10 - 12) = r1\n"
			 "r1 = 0xffffffff\n*(u32 *)(r10 - 8) = r1\nr1 = 0x1\n*(u32 *)(r10 - 4) = r1\n"
			 "r1 = r10\nr1 += -16\nr2 = 8\nr3 = r10\nr3 += -12\nr4 = 12\nr5 = %u ll\ncall 28\nr7 = r0\n"
			 "r1 = 0\nr2 = 0\nr3 = r10\nr3 += -16\nr4 = 16\nr5 = %u ll\ncall 28\nr8 = r0\n" XDP_STORE_R7_R8,
			 seeds[i], seeds[i]);
		snprintf(name, sizeof(name), "csum_diff seed %u", seeds[i]);
		CHECK(!both(name, BPF_PROG_TYPE_XDP, src, f, (uint32_t)n, NULL, 0, 512));
	}
	/* ctx_in variants */
	struct xdp_md md = { .data = 8, .data_end = (uint32_t)n, .ingress_ifindex = 1 };
	const char *rd = "r7 = *(u32 *)(r1 + 12)\nr8 = *(u32 *)(r1 + 16)\nr6 = r1\n" XDP_STORE_R7_R8;
	CHECK(!both("ctx meta 8", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
	md.data = 6;
	CHECK(!both("ctx meta 6", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
	md.data = 8;
	md.rx_queue_index = 1;
	CHECK(!both("ctx rxq 1", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
	md.rx_queue_index = 0;
	md.ingress_ifindex = 0;
	md.data_end = 10;
	/* (data_end below data_size_in: Linux 6.18 builds fragments, bpfvm answers -EOPNOTSUPP) */
	md.data = 8;
	md.data_end = 0;
	CHECK(!both("ctx data_end 0", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
	md.data_end = (uint32_t)n + 1;
	CHECK(!both("ctx data_end n+1", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
	md.data = 12;
	md.data_end = 8;
	CHECK(!both("ctx data > data_end", BPF_PROG_TYPE_XDP, rd, f, (uint32_t)n, &md, sizeof(md), 512));
}

TEST(tc_vs_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	uint8_t f[128];
	size_t n = frame(f, ETH_P_IP, 17);
	struct __sk_buff ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.mark = 7;
	ctx.priority = 3;
	ctx.cb[2] = 99;
	ctx.tstamp = 1000;
	/* r0 mixes fields: len, protocol, pkt_type, ifindex, wire_len, ingress_ifindex, vlan_present */
	const char *fields =
		"r0 = *(u32 *)(r1 + 0)\nr2 = *(u32 *)(r1 + 16)\nr0 ^= r2\nr2 = *(u32 *)(r1 + 4)\nr2 <<= 4\nr0 ^= r2\n"
		"r2 = *(u32 *)(r1 + 40)\nr2 <<= 8\nr0 ^= r2\nr2 = *(u32 *)(r1 + 160)\nr2 <<= 12\nr0 ^= r2\n"
		"r2 = *(u32 *)(r1 + 36)\nr2 <<= 16\nr0 ^= r2\nr2 = *(u32 *)(r1 + 8)\nr2 <<= 20\nr0 ^= r2\n"
		"r2 = *(u16 *)(r1 + 16)\nr2 <<= 24\nr0 ^= r2\n"
		"r2 = 0x1234\n*(u32 *)(r1 + 8) = r2\nr2 = 5\n*(u32 *)(r1 + 32) = r2\nr2 = 77\n*(u32 *)(r1 + 48) = r2\n"
		"r2 = 555\n*(u64 *)(r1 + 152) = r2\nexit\n";
	CHECK(!both("tc fields", BPF_PROG_TYPE_SCHED_CLS, fields, f, (uint32_t)n, &ctx, sizeof(ctx), 512));
	CHECK(!both("tc fields no ctx", BPF_PROG_TYPE_SCHED_CLS, fields, f, (uint32_t)n, NULL, 0, 512));
	uint8_t v6[128];
	memcpy(v6, f, n);
	v6[12] = 0x86;
	v6[13] = 0xdd;
	CHECK(!both("tc ipv6 proto", BPF_PROG_TYPE_SCHED_CLS, fields, v6, (uint32_t)n, &ctx, sizeof(ctx), 512));
	uint8_t bc[128];
	memcpy(bc, f, n);
	memset(bc, 0xff, 6);
	CHECK(!both("tc broadcast", BPF_PROG_TYPE_SCHED_CLS, fields, bc, (uint32_t)n, NULL, 0, 512));
	bc[0] = 0x01;
	CHECK(!both("tc multicast", BPF_PROG_TYPE_SCHED_CLS, fields, bc, (uint32_t)n, NULL, 0, 512));
	memset(bc, 0, 6);
	CHECK(!both("tc host", BPF_PROG_TYPE_SCHED_CLS, fields, bc, (uint32_t)n, NULL, 0, 512));
	struct __sk_buff badctx = ctx;
	badctx.len = 1;
	CHECK(!both("tc bad ctx", BPF_PROG_TYPE_SCHED_CLS, fields, f, (uint32_t)n, &badctx, sizeof(badctx), 512));
	badctx = ctx;
	badctx.wire_len = 10;
	CHECK(!both("tc wire_len", BPF_PROG_TYPE_SCHED_CLS, fields, f, (uint32_t)n, &badctx, sizeof(badctx), 512));
	badctx.wire_len = 2000;
	CHECK(!both("tc wire_len ok", BPF_PROG_TYPE_SCHED_CLS, fields, f, (uint32_t)n, &badctx, sizeof(badctx), 512));

	/* NAT the daddr and fix both checksums (l3 and l4 with the pseudo header flag) */
	const char *nat =
		"r6 = r1\nr1 = r6\nr2 = 30\nr3 = r10\nr3 += -4\nr4 = 4\ncall 26\n"
		"r1 = 0x0900000a\n*(u32 *)(r10 - 8) = r1\n"
		"r1 = r6\nr2 = 30\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall 9\nr7 = r0\n"
		"r3 = *(u32 *)(r10 - 4)\nr4 = *(u32 *)(r10 - 8)\nr1 = r6\nr2 = 24\nr5 = 4\ncall 10\nr7 += r0\n"
		"r3 = *(u32 *)(r10 - 4)\nr4 = *(u32 *)(r10 - 8)\nr1 = r6\nr2 = 40\nr5 = 0x14\ncall 11\nr7 += r0\n"
		"r1 = r6\nr2 = 40\nr3 = 0x3412\nr4 = 0x0100\nr5 = 2\ncall 11\nr7 += r0\n"
		"r1 = r6\nr2 = 40\nr3 = 0\nr4 = 0x00ff00ff\nr5 = 0x30\ncall 11\nr7 += r0\n"
		"r1 = r6\nr2 = 25\nr3 = 0\nr4 = 0\nr5 = 2\ncall 10\nr7 += r0\n"
		"r1 = r6\nr2 = 24\nr3 = 1\nr4 = 0\nr5 = 3\ncall 10\nr7 += r0\n"
		"r0 = r7\nexit\n";
	CHECK(!both("tc nat csum", BPF_PROG_TYPE_SCHED_CLS, nat, f, (uint32_t)n, NULL, 0, 512));
	uint8_t zc[128];
	memcpy(zc, f, n);
	zc[40] = zc[41] = 0; /* UDP checksum 0: MARK_MANGLED_0 leaves it */
	CHECK(!both("tc nat zero udp csum", BPF_PROG_TYPE_SCHED_CLS, nat, zc, (uint32_t)n, NULL, 0, 512));

	/* resizing: change_tail, change_head, adjust_room, pull_data */
	static const char *const resize[] = {
		"r6 = r1\nr2 = 100\nr3 = 0\ncall 38\nr7 = r0\nr1 = r6\nr2 = 20\nr3 = 0\ncall 38\nr7 += r0\n"
		"r1 = r6\nr2 = 13\nr3 = 0\ncall 38\nr7 += r0\nr1 = r6\nr2 = 40\nr3 = 1\ncall 38\nr0 = r7\nexit\n",
		"r6 = r1\nr2 = 8\nr3 = 0\ncall 43\nr7 = r0\nr1 = r6\nr2 = 4\nr3 = 1\ncall 43\nr7 += r0\n"
		"r0 = *(u32 *)(r6 + 0)\nr0 += r7\nexit\n",
		"r6 = r1\nr2 = 8\nr3 = 0\nr4 = 0\ncall 50\nr7 = r0\nr1 = r6\nr2 = -4\nr3 = 1\nr4 = 0\ncall 50\n"
		"r7 += r0\nr1 = r6\nr2 = 4\nr3 = 2\nr4 = 0\ncall 50\nr7 += r0\nr0 = *(u32 *)(r6 + 0)\nr0 += r7\nexit\n",
		"r6 = r1\nr2 = -30\nr3 = 0\nr4 = 0\ncall 50\nr7 = r0\nr1 = r6\nr2 = -26\nr3 = 0\nr4 = 0\ncall 50\n"
		"r7 += r0\nr1 = r6\nr2 = 0x1000\nr3 = 0\nr4 = 0\ncall 50\nr7 += r0\nr0 = r7\nexit\n",
		"r6 = r1\nr2 = 64\ncall 39\nr7 = r0\nr1 = r6\nr2 = 65\ncall 39\nr0 += r7\nexit\n",
		"r6 = r1\nr2 = 0x0081\nr3 = 5\ncall 18\nr7 = *(u32 *)(r6 + 24)\nr1 = r6\nr2 = 0xa888\nr3 = 6\ncall 18\n"
		"r8 = *(u32 *)(r6 + 28)\nr7 <<= 16\nr7 |= r8\nr0 = *(u32 *)(r6 + 0)\nr0 <<= 32\nr0 |= r7\n"
		"r1 = r6\ncall 19\nr1 = *(u32 *)(r6 + 20)\nr0 += r1\nexit\n",
		"r6 = r1\nr2 = 0\nr3 = 0x0081\ncall 18\nr1 = r6\ncall 19\nr1 = r6\ncall 19\nr0 = *(u32 *)(r6 + 0)\nexit\n",
	};
	for (size_t i = 0; i < sizeof(resize) / sizeof(resize[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "tc resize %zu", i);
		CHECK(!both(name, BPF_PROG_TYPE_SCHED_CLS, resize[i], f, (uint32_t)n, NULL, 0, 512));
		CHECK(!both(name, BPF_PROG_TYPE_SCHED_CLS, resize[i], v6, (uint32_t)n, NULL, 0, 512));
	}
	/* tagged frame: vlan pop of an in-frame tag */
	uint8_t tagged[128];
	memcpy(tagged, f, 12);
	tagged[12] = 0x81, tagged[13] = 0, tagged[14] = 0, tagged[15] = 9;
	memcpy(tagged + 16, f + 12, n - 12);
	CHECK(!both("tc vlan pop frame", BPF_PROG_TYPE_SCHED_CLS,
		    "r6 = r1\nr7 = *(u32 *)(r6 + 16)\ncall 19\nr0 = *(u32 *)(r6 + 16)\nr0 <<= 16\nr0 |= r7\n"
		    "r1 = *(u32 *)(r6 + 0)\nr1 <<= 32\nr0 |= r1\nexit\n", tagged, (uint32_t)n + 4, NULL, 0, 512));
	/* redirect and bad flags */
	CHECK(!both("tc redirect", BPF_PROG_TYPE_SCHED_CLS, "r1 = 1\nr2 = 1\ncall 23\nexit\n", f, (uint32_t)n,
		    NULL, 0, 512));
	CHECK(!both("tc redirect flags", BPF_PROG_TYPE_SCHED_CLS, "r1 = 1\nr2 = 2\ncall 23\nexit\n", f, (uint32_t)n,
		    NULL, 0, 512));
}

TEST(socket_filter_vs_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	uint8_t f[128];
	size_t n = frame(f, ETH_P_IP, 6);
	const char *ld = "r6 = r1\nr0 = *(u8 *)skb[9]\nr7 = r0\nr0 = *(u32 *)skb[16]\nr7 += r0\nr0 = *(u16 *)skb[0]\n"
			 "r0 += r7\nr7 = *(u32 *)(r6 + 0)\nr0 += r7\nr7 = *(u32 *)(r6 + 4)\nr0 += r7\nexit\n";
	CHECK(!both("sf ld_abs", BPF_PROG_TYPE_SOCKET_FILTER, ld, f, (uint32_t)n, NULL, 0, 512));
	CHECK(!both("sf ld_abs oob", BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr0 = *(u32 *)skb[48]\nr0 += 1\nexit\n", f,
		    (uint32_t)n, NULL, 0, 512));
	const char *lb =
		"r6 = r1\nr2 = 2\nr3 = r10\nr3 += -8\nr4 = 8\ncall 26\nr7 = r0\nr8 = *(u64 *)(r10 - 8)\n"
		"r1 = r6\nr2 = 6\nr3 = r10\nr3 += -8\nr4 = 8\nr5 = 0\ncall 68\nr7 += r0\nr9 = *(u64 *)(r10 - 8)\n"
		"r8 ^= r9\nr1 = r6\nr2 = 40\nr3 = r10\nr3 += -8\nr4 = 8\nr5 = 1\ncall 68\nr7 += r0\n"
		"r9 = *(u64 *)(r10 - 8)\nr8 ^= r9\nr1 = r6\nr2 = 47\nr3 = r10\nr3 += -8\nr4 = 4\ncall 26\nr7 += r0\n"
		"r1 = r6\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 2\ncall 68\nr7 += r0\n"
		"r0 = r8\nr0 += r7\nexit\n";
	CHECK(!both("sf load_bytes", BPF_PROG_TYPE_SOCKET_FILTER, lb, f, (uint32_t)n, NULL, 0, 512));
	struct __sk_buff ctx;
	memset(&ctx, 0, sizeof(ctx));
	ctx.cb[0] = 5;
	ctx.mark = 9;
	CHECK(!both("sf cb", BPF_PROG_TYPE_SOCKET_FILTER,
		    "r0 = *(u32 *)(r1 + 48)\nr2 = *(u32 *)(r1 + 8)\nr0 += r2\nr2 = 3\n*(u32 *)(r1 + 56) = r2\nexit\n",
		    f, (uint32_t)n, &ctx, sizeof(ctx), 512));
}

/* Runs src once with PROG_TEST_RUN on f in the kernel (kfd) and bpfvm (vfd); retvals out. */
static int run_once(struct bpfvm *vm, int kfd, int vfd, const uint8_t *f, uint32_t n, uint32_t *kr, uint32_t *vr)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)kfd;
	a.test.data_in = (uintptr_t)f;
	a.test.data_size_in = n;
	long ke = kbpf(BPF_PROG_TEST_RUN, &a);
	*kr = a.test.retval;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)vfd;
	a.test.data_in = (uintptr_t)f;
	a.test.data_size_in = n;
	long ve = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	*vr = a.test.retval;
	if (ke || ve)
		printf("  test run: kernel %ld bpfvm %ld (%s)\n", ke, ve, bpfvm_errmsg(vm));
	return ke || ve;
}

/* Loads src in both (log in klog for the kernel); fds out, or -1. */
static void load_both(struct bpfvm *vm, uint32_t type, const char *src, long *kfd, int *vfd)
{
	struct bpf_insn insns[128];
	long n = bpfvm_asm(vm, src, insns, 128);
	*kfd = -1;
	*vfd = -1;
	if (n <= 0 || n > 128)
		return;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	a.log_buf = (uintptr_t)klog;
	a.log_size = sizeof(klog);
	a.log_level = 1;
	klog[0] = 0;
	*kfd = kbpf(BPF_PROG_LOAD, &a);
	*vfd = bpfvm_prog_load(vm, type, insns, (size_t)n, "t");
}

/* get_socket_cookie / get_socket_uid / get_hash_recalc / set_hash[_invalid] against the kernel's test run.
 * Linux gives each test run a fresh dummy socket (uid 0) whose cookie comes from a machine-wide counter
 * on first use, so the kernel's values cannot be equal to bpfvm's (per instance, from 1): what is
 * compared is what a program can rely on (nonzero, one value within a run, a new one each run).  The
 * flow hash is seeded randomly at boot, so again properties: nonzero, stable, equal to skb->hash,
 * equal for the same flow and different for another; set_hash / set_hash_invalid exactly. */
TEST(socket_identity_and_hash_vs_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	struct bpfvm *vm = bpfvm_new(NULL);
	uint8_t f[128], g[128];
	size_t n = frame(f, ETH_P_IP, 17);
	memcpy(g, f, n);
	g[35] ^= 1; /* another UDP source port: another flow */
	static const uint32_t types[] = { BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SOCKET_FILTER };
	for (size_t t = 0; t < 2; t++) {
		/* cookie: the same value from two calls (else 0), its low 32 bits */
		long kfd;
		int vfd;
		load_both(vm, types[t], "r6 = r1\ncall 46\nr7 = r0\nr1 = r6\ncall 46\nif r0 != r7 goto bad\n"
					"r0 = r7\nexit\nbad:\nr0 = 0\nexit\n", &kfd, &vfd);
		CHECK(kfd >= 0 && vfd >= 0);
		uint32_t kprev = 0, vprev = 0;
		for (int i = 0; i < 3 && kfd >= 0 && vfd >= 0; i++) {
			uint32_t kr, vr;
			CHECK(!run_once(vm, (int)kfd, vfd, f, (uint32_t)n, &kr, &vr));
			CHECK(kr != 0 && vr != 0);
			CHECK(kr > kprev && vr > vprev); /* a new socket each run */
			kprev = kr;
			vprev = vr;
		}
		if (kfd >= 0)
			close((int)kfd);
		/* uid of the dummy socket: 0 on both */
		CHECK(!both("socket uid", types[t], "call 47\nexit\n", f, (uint32_t)n, NULL, 0, 512));
	}
	/* hashes (tc only: socket filters may not call these, on both sides) */
	long kfd;
	int vfd;
	load_both(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\ncall 34\nr7 = r0\nr0 = *(u32 *)(r6 + 68)\n"
						"if r0 != r7 goto bad\nexit\nbad:\nr0 = 0\nexit\n", &kfd, &vfd);
	CHECK(kfd >= 0 && vfd >= 0);
	if (kfd >= 0 && vfd >= 0) {
		uint32_t kf1, vf1, kf2, vf2, kg, vg;
		CHECK(!run_once(vm, (int)kfd, vfd, f, (uint32_t)n, &kf1, &vf1));
		CHECK(!run_once(vm, (int)kfd, vfd, f, (uint32_t)n, &kf2, &vf2));
		CHECK(!run_once(vm, (int)kfd, vfd, g, (uint32_t)n, &kg, &vg));
		CHECK(kf1 != 0 && vf1 != 0); /* nonzero, and skb->hash reads what the helper returned */
		CHECK(kf1 == kf2 && vf1 == vf2);
		CHECK(kg != kf1 && vg != vf1);
		close((int)kfd);
	}
	CHECK(!both("hash unset", BPF_PROG_TYPE_SCHED_CLS, "r0 = *(u32 *)(r1 + 68)\nexit\n", f, (uint32_t)n, NULL, 0,
		    512));
	CHECK(!both("set_hash", BPF_PROG_TYPE_SCHED_CLS,
		    "r6 = r1\nr2 = 0x1234\ncall 48\nr1 = r6\ncall 34\nr7 = *(u32 *)(r6 + 68)\nr0 += r7\nexit\n", f,
		    (uint32_t)n, NULL, 0, 512));
	/* set_hash_invalid then recalc: a fresh flow hash, so compare "differs from 0x1234" */
	CHECK(!both("set_hash_invalid", BPF_PROG_TYPE_SCHED_CLS,
		    "r6 = r1\nr2 = 0x1234\ncall 48\nr1 = r6\ncall 41\nr0 = *(u32 *)(r6 + 68)\nr1 = r6\ncall 34\n"
		    "r1 = 1\nif r0 != 0x1234 goto out\nr1 = 0\nout:\nr0 = r1\nexit\n", f, (uint32_t)n, NULL, 0, 512));
	/* a received packet has no socket: cookie 0, uid overflowuid */
	int c = bpfvm_prog_load(vm, BPF_PROG_TYPE_SCHED_CLS, (const struct bpf_insn[]){ { .code = 0x85, .imm = 46 },
			{ .code = 0x95 } }, 2, "c");
	int u = bpfvm_prog_load(vm, BPF_PROG_TYPE_SCHED_CLS, (const struct bpf_insn[]){ { .code = 0x85, .imm = 47 },
			{ .code = 0x95 } }, 2, "u");
	uint8_t out[128];
	size_t out_len;
	struct bpfvm_pkt_result res;
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, c, f, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, 0);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, u, f, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, 65534);
	bpfvm_free(vm);
}

/* Context accesses both refuse at load, with the same errno and the same verifier line. */
static int both_reject(const char *name, uint32_t type, const char *src, const char *line)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	long kfd;
	int vfd, bad = 0;
	load_both(vm, type, src, &kfd, &vfd);
	if (kfd != -EACCES || !strstr(klog, line)) {
		printf("  %s: kernel %ld, log lacks \"%s\":\n%s\n", name, kfd, line, klog);
		bad = 1;
	}
	if (vfd != -EACCES || !strstr(bpfvm_errmsg(vm), line)) {
		printf("  %s: bpfvm %d: %s\n", name, vfd, bpfvm_errmsg(vm));
		bad = 1;
	}
	if (kfd >= 0)
		close((int)kfd);
	bpfvm_free(vm);
	return bad;
}

TEST(ctx_rules_vs_kernel)
{
	const char *why = kernel_skip_reason();
	if (why)
		SKIP(why);
	CHECK(!both_reject("tc writes len", BPF_PROG_TYPE_SCHED_CLS, "r2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit\n",
			   "invalid bpf_context access off=0 size=4"));
	CHECK(!both_reject("tc writes pkt_type", BPF_PROG_TYPE_SCHED_CLS, "r2 = 1\n*(u32 *)(r1 + 4) = r2\nr0 = 0\nexit\n",
			   "invalid bpf_context access off=4 size=4"));
	CHECK(!both_reject("socket filter reads data", BPF_PROG_TYPE_SOCKET_FILTER, "r0 = *(u32 *)(r1 + 76)\nexit\n",
			   "invalid bpf_context access off=76 size=4"));
	CHECK(!both_reject("socket filter writes mark", BPF_PROG_TYPE_SOCKET_FILTER,
			   "r2 = 1\n*(u32 *)(r1 + 8) = r2\nr0 = 0\nexit\n", "invalid bpf_context access off=8 size=4"));
	CHECK(!both_reject("xdp u64 data", BPF_PROG_TYPE_XDP, "r0 = *(u64 *)(r1 + 0)\nexit\n",
			   "invalid bpf_context access off=0 size=8"));
	CHECK(!both_reject("xdp past the struct", BPF_PROG_TYPE_XDP, "r0 = *(u32 *)(r1 + 24)\nexit\n",
			   "invalid bpf_context access off=24 size=4"));
	CHECK(!both_reject("xdp egress_ifindex", BPF_PROG_TYPE_XDP, "r0 = *(u32 *)(r1 + 20)\nexit\n",
			   "invalid bpf_context access off=20 size=4"));
	CHECK(!both_reject("xdp writes data", BPF_PROG_TYPE_XDP, "r2 = 0\n*(u32 *)(r1 + 0) = r2\nr0 = 2\nexit\n",
			   "invalid bpf_context access off=0 size=4"));
	CHECK(!both_reject("tc atomic on mark", BPF_PROG_TYPE_SCHED_CLS,
			   "r2 = 1\nlock *(u32 *)(r1 + 8) += r2\nr0 = 0\nexit\n", "BPF_ATOMIC stores into R1 ctx is not allowed"));
}

int main(void)
{
	RUN(xdp_adjust_and_csum_vs_kernel);
	RUN(tc_vs_kernel);
	RUN(socket_filter_vs_kernel);
	RUN(socket_identity_and_hash_vs_kernel);
	RUN(ctx_rules_vs_kernel);
	return test_done();
}
