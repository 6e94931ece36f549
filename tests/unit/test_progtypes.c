/* test_progtypes.c -- program types: XDP and __sk_buff contexts, PROG_TEST_RUN semantics (Linux's
 * net/bpf/test_run.c), packet helpers, packet runs, ctx access and helper tables. */
#include <errno.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h" /* test_run_via_bpf() */
#include "progtypes/progtypes.h"

/* An instance that loads without the verifier, for programs that break the rules on purpose: the
 * run-time checks (and the load-time ctx check of the entry block) are what they test. */
static struct bpfvm *new_unverified(void)
{
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_OFF };
	return bpfvm_new(&o);
}

static int load(struct bpfvm *vm, uint32_t type, const char *src)
{
	struct bpf_insn insns[256];
	long n = bpfvm_asm(vm, src, insns, 256);
	if (n <= 0 || n > 256) {
		printf("  asm failed: %s\n", bpfvm_errmsg(vm));
		return -1;
	}
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "t");
	if (fd < 0)
		printf("  load failed: %s\n", bpfvm_errmsg(vm));
	return fd;
}

/* An Ethernet + IPv4 + UDP frame with a correct IP header checksum. */
static size_t udp_frame(uint8_t *f)
{
	static const uint8_t hdr[] = {
		0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,         /* eth */
		0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* ip, csum at 24 */
		0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0,                                 /* udp 12345 -> 53 */
		'a', 'b', 'c', 'd',
	};
	memcpy(f, hdr, sizeof(hdr));
	uint32_t sum = 0;
	for (int i = 14; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	return sizeof(hdr);
}

static int ip_csum_ok(const uint8_t *ip)
{
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

TEST(xdp_data_pointers_and_len)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, BPF_PROG_TYPE_XDP, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\n"
					   "r0 = r3\nr0 -= r2\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, n);
	CHECK_EQ_U64(t.data_size_out, n);
	CHECK(memcmp(out, pkt, n) == 0);
	/* too short: Linux's bpf_test_init() wants an Ethernet header */
	t.data_size_in = 13;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	t.data_size_in = 3521; /* above the 4096-byte frame's data room */
	uint8_t big[4000] = { 0 };
	t.data_in = big;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	t.data_size_in = 3520;
	t.data_out = NULL;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, 3520);
	bpfvm_free(vm);
}

TEST(xdp_writes_packet_and_enospc)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, BPF_PROG_TYPE_XDP, "r0 = 3\nr2 = *(u32 *)(r1 + 0)\nr4 = *(u32 *)(r1 + 4)\nr5 = r2\n"
					   "r5 += 1\nif r5 > r4 goto +2\nr3 = 0xaa\n*(u8 *)(r2 + 0) = r3\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, XDP_TX);
	CHECK_EQ_U64(out[0], 0xaa);
	CHECK(memcmp(out + 1, pkt + 1, n - 1) == 0);
	memset(out, 0, sizeof(out));
	t.data_size_out = 10; /* Linux: copies what fits, reports the full size, -ENOSPC */
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -ENOSPC);
	CHECK_EQ_U64(t.data_size_out, n);
	CHECK_EQ_U64(t.retval, XDP_TX);
	CHECK_EQ_U64(out[0], 0xaa);
	CHECK_EQ_U64(out[10], 0);
	t.flags = 4;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bpfvm_free(vm);
}

TEST(xdp_reads_outside_packet_fault)
{
	struct bpfvm *vm = new_unverified();
	/* reads data_end[0]: one byte past the packet */
	int fd = load(vm, BPF_PROG_TYPE_XDP, "r2 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nexit\n");
	uint8_t pkt[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1") != NULL);
	bpfvm_free(vm);
}

TEST(xdp_adjust_head_tail_meta)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* push 4 bytes in front, write 0x11 there, grow the tail by 6; r0 = new length */
	int fd = load(vm, BPF_PROG_TYPE_XDP,
		      "r6 = r1\nr2 = -4\ncall 44\nif r0 != 0 goto err\n"
		      "r1 = r6\nr2 = 6\ncall 65\nif r0 != 0 goto err\n"
		      "r2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 4)\nr4 = r2\nr4 += 1\nif r4 > r3 goto err\n"
		      "r5 = 0x11\n*(u8 *)(r2 + 0) = r5\nr0 = r3\nr0 -= r2\nexit\n"
		      "err:\nr0 = 1000\nexit\n");
	uint8_t pkt[64], out[80];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, n + 10);
	CHECK_EQ_U64(t.data_size_out, n + 10);
	CHECK_EQ_U64(out[0], 0x11);
	CHECK(memcmp(out + 4, pkt, n) == 0);
	CHECK_EQ_U64(out[n + 4], 0);
	/* limits: adjust_head beyond the headroom, tail below an Ethernet header */
	int fd2 = load(vm, BPF_PROG_TYPE_XDP, "r6 = r1\nr2 = -300\ncall 44\nr7 = r0\n"
					    "r1 = r6\nr2 = -60\ncall 65\nr0 += r7\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t), 0);
	CHECK_EQ_U64(t.retval, (uint32_t)(-2 * EINVAL));
	/* metadata: 8 bytes, then data_meta + 8 == data */
	int fd3 = load(vm, BPF_PROG_TYPE_XDP, "r6 = r1\nr2 = -8\ncall 54\nif r0 != 0 goto e\n"
					    "r2 = *(u32 *)(r6 + 8)\nr3 = *(u32 *)(r6 + 0)\nr0 = r3\nr0 -= r2\nexit\n"
					    "e:\nr0 = 99\nexit\n");
	struct xdp_md ctx_out, ctx_in = { .data_end = (uint32_t)n };
	memset(&ctx_out, 0xff, sizeof(ctx_out));
	t.ctx_out = &ctx_out;
	t.ctx_in = &ctx_in;
	t.ctx_size_in = sizeof(ctx_in);
	t.ctx_size_out = sizeof(ctx_out);
	t.data_size_out = sizeof(out);
	CHECK_EQ_U64(test_run_via_bpf(vm, fd3, &t), 0);
	CHECK_EQ_U64(t.retval, 8);
	CHECK_EQ_U64(t.data_size_out, n + 8); /* data_out starts at data_meta */
	CHECK_EQ_U64(ctx_out.data_meta, 0);
	CHECK_EQ_U64(ctx_out.data, 8);
	CHECK_EQ_U64(ctx_out.data_end, n + 8);
	bpfvm_free(vm);
}

TEST(xdp_ctx_in_checks)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, BPF_PROG_TYPE_XDP, "r2 = *(u32 *)(r1 + 8)\nr3 = *(u32 *)(r1 + 0)\nr0 = r3\nr0 -= r2\n"
					   "r4 = *(u32 *)(r1 + 12)\nr0 <<= 8\nr0 |= r4\nexit\n");
	uint8_t pkt[64];
	size_t n = udp_frame(pkt);
	struct xdp_md in = { .data = 4, .data_end = (uint32_t)n, .ingress_ifindex = 1 }, out;
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .ctx_in = &in, .ctx_size_in = sizeof(in), .ctx_out = &out,
			.ctx_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, (4 << 8) | 1); /* 4 bytes of metadata from data_in, ingress_ifindex 1 */
	CHECK_EQ_U64(out.data, 4);
	CHECK_EQ_U64(out.ingress_ifindex, 1);
	struct xdp_md bad = in;
	bad.data_meta = 1;
	t.ctx_in = &bad;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bad = in;
	bad.data_end = (uint32_t)n + 1;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bad = in;
	bad.data = 3; /* metadata must be 4-byte aligned */
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bad = in;
	bad.egress_ifindex = 1;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bad = in;
	bad.ingress_ifindex = 0;
	bad.rx_queue_index = 1;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	/* ctx_in larger than xdp_md: the tail must be zero */
	uint8_t large[32] = { 0 };
	memcpy(large, &in, sizeof(in));
	t.ctx_in = large;
	t.ctx_size_in = sizeof(large);
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	large[30] = 1;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -E2BIG);
	/* ctx_out too small */
	t.ctx_in = &in;
	t.ctx_size_in = sizeof(in);
	t.ctx_size_out = 8;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -ENOSPC);
	CHECK_EQ_U64(t.ctx_size_out, sizeof(struct xdp_md));
	bpfvm_free(vm);
}

TEST(xdp_repeat_and_redirect)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, BPF_PROG_TYPE_XDP, "r1 = 7\nr2 = 0\ncall 23\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .repeat = 100 };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, XDP_REDIRECT);
	struct bpfvm_pkt_result res;
	size_t out_len = 0;
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, fd, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_REDIRECT);
	CHECK_EQ_U64(res.redirect_ifindex, 7);
	CHECK_EQ_U64(res.redirect_map_type, 0);
	CHECK_EQ_U64(out_len, n);
	int fd2 = load(vm, BPF_PROG_TYPE_XDP, "r1 = 7\nr2 = 1\ncall 23\nexit\n"); /* flags: XDP_ABORTED */
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, fd2, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_ABORTED);
	bpfvm_free(vm);
}

TEST(xdp_csum_diff)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* csum_diff(NULL, 0, &word, 4, 0) of 0x01020304 at fp-8, and from = to = same word -> 0xffffffff */
	int fd = load(vm, BPF_PROG_TYPE_XDP,
		      "r1 = 0x04030201\n*(u32 *)(r10 - 8) = r1\nr1 = 0\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\n"
		      "call 28\nr6 = r0\nr1 = r10\nr1 += -8\nr2 = 4\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall 28\n"
		      "r0 <<= 32\nr0 |= r6\nexit\n");
	uint8_t pkt[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, 0x0604); /* folded to 16 bits as Linux 6.13+ does */
	int fd2 = load(vm, BPF_PROG_TYPE_XDP, "r1 = 0\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 3\nr5 = 0\ncall 28\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t), 0);
	CHECK_EQ_U64(t.retval, (uint32_t)-EINVAL);
	bpfvm_free(vm);
}

TEST(tc_ctx_fields_and_writes)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* r0 = len << 16 | protocol; mark = 0x55; cb[1] = 9; tc_index = 0x77 (writable, not in ctx_out) */
	int fd = load(vm, BPF_PROG_TYPE_SCHED_CLS,
		      "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 16)\nr0 = r2\nr0 <<= 16\nr0 |= r3\n"
		      "r4 = 0x55\n*(u32 *)(r1 + 8) = r4\nr4 = 9\n*(u32 *)(r1 + 52) = r4\n"
		      "r4 = 0x77\n*(u32 *)(r1 + 44) = r4\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct __sk_buff in, ctx;
	memset(&in, 0, sizeof(in));
	in.mark = 3;
	in.cb[0] = 42;
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out), .ctx_in = &in,
			.ctx_size_in = sizeof(in), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, (n << 16) | htons(ETH_P_IP));
	CHECK_EQ_U64(ctx.mark, 0x55);
	CHECK_EQ_U64(ctx.cb[0], 42);
	CHECK_EQ_U64(ctx.cb[1], 9);
	CHECK_EQ_U64(ctx.ifindex, 1);
	CHECK_EQ_U64(ctx.pkt_type, 0);    /* not writable, and not reported */
	CHECK_EQ_U64(ctx.wire_len, n);
	CHECK_EQ_U64(t.data_size_out, n);
	/* fields that must be zero in ctx_in */
	in.len = 5;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	in.len = 0;
	in.ifindex = 77;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -ENODEV);
	in.ifindex = 0;
	in.wire_len = 3; /* below the packet length */
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	bpfvm_free(vm);
}

TEST(tc_store_bytes_and_l3_csum)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* rewrite the IPv4 daddr (offset 30) to 10.0.0.9 and fix the checksum at 24 with l3_csum_replace */
	int fd = load(vm, BPF_PROG_TYPE_SCHED_CLS,
		      "r6 = r1\n"
		      "r1 = r6\nr2 = 30\nr3 = r10\nr3 += -4\nr4 = 4\ncall 26\n"          /* old daddr at fp-4 */
		      "r1 = 0x0900000a\n*(u32 *)(r10 - 8) = r1\n"
		      "r1 = r6\nr2 = 30\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall 9\nif r0 != 0 goto e\n"
		      "r3 = *(u32 *)(r10 - 4)\nr4 = *(u32 *)(r10 - 8)\nr1 = r6\nr2 = 24\nr5 = 4\ncall 10\n"
		      "if r0 != 0 goto e\nr0 = 0\nexit\ne:\nr0 = 2\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, TC_ACT_OK);
	CHECK_EQ_U64(out[33], 9);
	CHECK(ip_csum_ok(out + 14));
	CHECK(!ip_csum_ok(pkt + 14) || memcmp(pkt + 30, out + 30, 4) != 0);
	/* store beyond the packet: -EFAULT; bad flags: -EINVAL */
	int fd2 = load(vm, BPF_PROG_TYPE_SCHED_CLS,
		       "r6 = r1\nr2 = 60\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall 9\nr7 = r0\n"
		       "r1 = r6\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 8\ncall 9\nr0 += r7\nexit\n");
	*(uint32_t *)(void *)out = 0;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t), 0);
	CHECK_EQ_U64(t.retval, (uint32_t)(-EFAULT - EINVAL));
	bpfvm_free(vm);
}

TEST(tc_change_tail_head_and_adjust_room)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, BPF_PROG_TYPE_SCHED_CLS,
		      "r6 = r1\nr2 = 100\nr3 = 0\ncall 38\nif r0 != 0 goto e\n"
		      "r1 = r6\nr2 = 8\nr3 = 0\ncall 43\nif r0 != 0 goto e\n"
		      "r1 = r6\nr2 = 4\nr3 = 1\nr4 = 0\ncall 50\nif r0 != 0 goto e\n"   /* BPF_ADJ_ROOM_MAC */
		      "r0 = *(u32 *)(r6 + 0)\nexit\ne:\nr0 = 1000\nexit\n");
	uint8_t pkt[64], out[256];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, 112);
	CHECK_EQ_U64(t.data_size_out, 112);
	/* 8 zero bytes, then the MAC header, 4 zero bytes of room, then the IPv4 header */
	static const uint8_t zero[8];
	CHECK(memcmp(out, zero, 8) == 0);
	CHECK(memcmp(out + 8, pkt, 14) == 0);
	CHECK(memcmp(out + 22, zero, 4) == 0);
	CHECK(memcmp(out + 26, pkt + 14, n - 14) == 0);
	CHECK(memcmp(out + 26 + n - 14, zero, 8) == 0);
	bpfvm_free(vm);
}

TEST(tc_vlan_push_pop)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* push 802.1Q tag 5: hw-accel only (packet bytes unchanged); push 7: tag 5 goes into the frame */
	int fd = load(vm, BPF_PROG_TYPE_SCHED_CLS,
		      "r6 = r1\nr2 = 0x0081\nr3 = 5\ncall 18\nr7 = *(u32 *)(r6 + 24)\n"
		      "r1 = r6\nr2 = 0x0081\nr3 = 7\ncall 18\nr8 = *(u32 *)(r6 + 0)\n"
		      "r0 = r8\nr0 <<= 16\nr0 |= r7\nexit\n");
	uint8_t pkt[64], out[128];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, ((n + 4) << 16) | 5);
	CHECK_EQ_U64(t.data_size_out, n + 4);
	CHECK(memcmp(out, pkt, 12) == 0);
	CHECK_EQ_U64(out[12], 0x81);
	CHECK_EQ_U64(out[13], 0x00);
	CHECK_EQ_U64(out[15], 5);
	CHECK(memcmp(out + 16, pkt + 12, n - 12) == 0);
	/* pop twice: the hw tag, then the frame's tag moves up and is cleared by the second pop */
	int fd2 = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\ncall 19\nr1 = r6\ncall 19\nr0 = *(u32 *)(r6 + 0)\nexit\n");
	uint8_t tagged[80];
	memcpy(tagged, out, n + 4);
	t.data_in = tagged;
	t.data_size_in = (uint32_t)n + 4;
	t.data_size_out = sizeof(out);
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t), 0);
	CHECK_EQ_U64(t.retval, n);
	CHECK(memcmp(out, pkt, n) == 0);
	bpfvm_free(vm);
}

TEST(socket_filter_ld_abs_and_truncation)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* test run: skb->data is the network header, so byte 9 is the IPv4 protocol */
	int fd = load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr0 = *(u8 *)skb[9]\nexit\n");
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt);
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, 17);
	CHECK_EQ_U64(t.data_size_out, n); /* data_out has the Ethernet header back */
	/* len is without the Ethernet header in the test run */
	int fd2 = load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r0 = *(u32 *)(r1 + 0)\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t), 0);
	CHECK_EQ_U64(t.retval, n - 14);
	/* on a packet (AF_PACKET view): from the MAC header; keeps min(retval, len) bytes */
	int fd3 = load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr0 = *(u8 *)skb[23]\nexit\n");
	struct bpfvm_pkt_result res;
	size_t out_len;
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, fd3, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, 17);
	CHECK_EQ_U64(res.action, BPFVM_PKT_PASS);
	CHECK_EQ_U64(out_len, 17);
	CHECK_EQ_U64(res.len, 17);
	int fd4 = load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r0 = 0\nexit\n");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, fd4, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_DROP);
	/* socket filters may not call tc helpers nor touch the packet directly */
	CHECK(load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r2 = 0\nr3 = 0\nr4 = 0\nr5 = 0\ncall 9\nexit\n") < 0);
	CHECK(strstr(bpfvm_errmsg(vm), "program of this type cannot use helper bpf_skb_store_bytes#9") != NULL);
	/* skb->data is not a socket filter's: refused at load (entry block) and at run time */
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r2 = *(u32 *)(r1 + 76)\nr0 = *(u8 *)(r2 + 0)\nexit\n"),
		     -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 0: invalid bpf_context access off=76 size=4") != NULL);
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr2 = *(u32 *)(r6 + 76)\nr0 = 1\nexit\n"), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: invalid bpf_context access off=76 size=4") != NULL);
	struct bpfvm *uvm = new_unverified();
	int fd5 = load(uvm, BPF_PROG_TYPE_SOCKET_FILTER, "r6 = r1\nr2 = *(u32 *)(r6 + 76)\nr0 = 1\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(uvm, fd5, &t), -EACCES);
	CHECK(strstr(bpfvm_errmsg(uvm), "insn 1: invalid bpf_context access off=76 size=4") != NULL);
	bpfvm_free(uvm);
	bpfvm_free(vm);
}

TEST(tc_packet_run_actions)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt), out_len;
	struct bpfvm_pkt_result res;
	int shot = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r0 = 2\nexit\n");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, shot, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_DROP);
	int red = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr2 = 3\nr3 = 0\ncall 13\nr1 = 4\nr2 = 1\ncall 23\nexit\n");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, red, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, TC_ACT_REDIRECT);
	CHECK_EQ_U64(res.action, BPFVM_PKT_REDIRECT);
	CHECK_EQ_U64(res.redirect_ifindex, 4);
	CHECK_EQ_U64(res.redirect_flags, BPF_F_INGRESS);
	CHECK_EQ_U64(res.clone_cnt, 1);
	CHECK_EQ_U64(res.clone_ifindex, 3);
	/* hash: set_hash then read skb->hash */
	int h = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr2 = 0x1234\ncall 48\nr0 = *(u32 *)(r6 + 68)\nexit\n");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, h, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, 0x1234);
	/* types that do not run on packets */
	int kp = load(vm, BPF_PROG_TYPE_KPROBE, "r0 = 0\nexit\n");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, kp, pkt, n, out, sizeof(out), &out_len, &res), -EINVAL);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, shot, pkt, 10, out, sizeof(out), &out_len, &res), -EINVAL);
	bpfvm_free(vm);
}

TEST(ctx_access_table)
{
	/* XDP: u32 reads only, egress_ifindex only for devmap programs */
	CHECK(pt_ctx_access(BPF_PROG_TYPE_XDP, 0, 0, 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_XDP, 0, 0, 8, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_XDP, 0, 0, 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_XDP, 0, 20, 4, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 20, 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_XDP, 0, 24, 4, false));
	/* tc: mark writable, len not; data u32 only; narrow reads of len; family not readable */
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, mark), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, 0, 4, true));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, 0, 2, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, data), 2, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, family), 4, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, tstamp), 8, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, tstamp), 4, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, cb), 8, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SCHED_CLS, 0, offsetof(struct __sk_buff, cb[4]), 8, false));
	/* socket filter: only cb writable; no data, tc_classid, tstamp */
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, offsetof(struct __sk_buff, cb[2]), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, offsetof(struct __sk_buff, mark), 4, true));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, offsetof(struct __sk_buff, mark), 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, offsetof(struct __sk_buff, data), 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, offsetof(struct __sk_buff, tc_classid), 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SOCKET_FILTER, 0, 192, 4, false));
	/* raw_tp: u64 args, narrower aligned reads too (bpf_tracing_ctx_access()), none past the 12th */
	CHECK(pt_ctx_access(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 8, 8, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 8, 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 6, 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 96, 8, false));
	/* the types bpfvm only verifies: a sample of each rule set */
	CHECK(pt_ctx_access(BPF_PROG_TYPE_SOCK_OPS, 0, offsetof(struct bpf_sock_ops, reply), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SOCK_OPS, 0, offsetof(struct bpf_sock_ops, op), 4, true));
	CHECK_EQ_U64(pt_ctx_field(BPF_PROG_TYPE_SOCK_OPS, 0, offsetof(struct bpf_sock_ops, skb_data), 8, false),
		     PT_FIELD_PKT);
	CHECK_EQ_U64(pt_ctx_field(BPF_PROG_TYPE_SK_MSG, 0, offsetof(struct sk_msg_md, data_end), 8, false),
		     PT_FIELD_PKT_END);
	CHECK(pt_ctx_access(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, offsetof(struct bpf_sock, mark), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, offsetof(struct bpf_sock, mark), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT,
			     offsetof(struct bpf_sock_addr, user_ip6), 4, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT,
			    offsetof(struct bpf_sock_addr, user_ip6[2]), 8, true));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_CGROUP_DEVICE, 0, 0, 2, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_CGROUP_DEVICE, 0, 4, 2, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_CGROUP_SKB, 0, offsetof(struct __sk_buff, family), 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_LWT_IN, 0, offsetof(struct __sk_buff, family), 4, false));
	CHECK(pt_ctx_access(BPF_PROG_TYPE_LWT_XMIT, 0, offsetof(struct __sk_buff, mark), 4, true));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_SK_SKB, 0, offsetof(struct __sk_buff, mark), 4, false));
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_FLOW_DISSECTOR, 0, offsetof(struct __sk_buff, mark), 4, false));
	/* return ranges: Linux check_return_code() */
	int32_t lo, hi;
	CHECK(!pt_ret_range(BPF_PROG_TYPE_XDP, 0, &lo, &hi));
	CHECK(pt_ret_range(BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, &lo, &hi) && lo == 0 && hi == 1);
	CHECK(pt_ret_range(BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, &lo, &hi) && lo == 0 && hi == 3);
	CHECK(pt_ret_range(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG, &lo, &hi) && lo == 1 && hi == 1);
	CHECK(pt_ret_range(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, &lo, &hi) && lo == 0 && hi == 0);
	/* attach types (bpf_prog_load_check_attach()) */
	uint32_t at = 0;
	CHECK(!pt_attach_fixup(BPF_PROG_TYPE_CGROUP_SOCK, &at) && at == BPF_CGROUP_INET_SOCK_CREATE);
	at = 0;
	CHECK_EQ_U64(pt_attach_fixup(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, &at), -EINVAL);
	CHECK(!pt_ctx_access(BPF_PROG_TYPE_KPROBE, 0, 0, 8, true));
}

/* The audit's cases: Linux's verifier refuses each, so bpfvm must too, with -EACCES and the verifier's
 * wording.  Unverified (bpfvm_opts.verify off), at load when the access is in the entry block through
 * r1, at run time otherwise: this test; verified, all at load: ctx_rules_verified below. */
TEST(ctx_rules_enforced)
{
	struct bpfvm *vm = new_unverified();
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt), out_len;
	struct bpfvm_pkt_result res;
	struct bpfvm_test_run_opts t = { .data_in = pkt, .data_size_in = (uint32_t)n, .data_out = out, .data_size_out = sizeof(out) };

	/* tc writing skb->len (read-only) */
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_SCHED_CLS, "r2 = 1\n*(u32 *)(r1 + 0) = r2\nr0 = 0\nexit\n"), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: invalid bpf_context access off=0 size=4") != NULL);
	int tc = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr0 = 0\nif r0 != 0 goto +0\nr2 = 1\n"
						"*(u32 *)(r6 + 0) = r2\nexit\n");
	CHECK(tc >= 0);
	CHECK_EQ_U64(test_run_via_bpf(vm, tc, &t), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 4: invalid bpf_context access off=0 size=4") != NULL);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, tc, pkt, n, out, sizeof(out), &out_len, &res), -EACCES);
	/* ... while its writable fields and narrow reads still work through a copy */
	int tc2 = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr2 = 7\n*(u32 *)(r6 + 8) = r2\n"
						 "r0 = *(u8 *)(r6 + 16)\nr3 = *(u16 *)(r6 + 16)\nr0 += r3\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(vm, tc2, &t), 0);
	CHECK_EQ_U64(t.retval, 0x08 + 0x0008); /* protocol: htons(0x0800), bytes 08 00 */
	/* atomics on the ctx: refused at load through r1, at run time through a copy */
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_SCHED_CLS, "r2 = 1\nlock *(u32 *)(r1 + 8) += r2\nr0 = 0\nexit\n"),
		     -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: BPF_ATOMIC stores into R1 ctx is not allowed") != NULL);
	int tc3 = load(vm, BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr2 = 1\nlock *(u32 *)(r6 + 8) += r2\nr0 = 0\nexit\n");
	CHECK_EQ_U64(test_run_via_bpf(vm, tc3, &t), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 2: BPF_ATOMIC access to the ctx is not allowed") != NULL);

	/* XDP: an 8-byte read of data (it would return data and data_end packed together), past the struct,
	 * a negative offset, a write */
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_XDP, "r0 = *(u64 *)(r1 + 0)\nexit\n"), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 0: invalid bpf_context access off=0 size=8") != NULL);
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_XDP, "r0 = *(u32 *)(r1 - 4)\nexit\n"), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 0: invalid bpf_context access off=-4 size=4") != NULL);
	static const char *const xdp_bad[] = {
		"r6 = r1\nr0 = *(u64 *)(r6 + 0)\nexit\n",
		"r6 = r1\nr0 = *(u32 *)(r6 + 24)\nexit\n",
		"r6 = r1\nr0 = *(u32 *)(r6 + 20)\nexit\n",   /* egress_ifindex: devmap programs only */
		"r6 = r1\nr2 = 0\n*(u32 *)(r6 + 12) = r2\nr0 = 2\nexit\n",
	};
	static const char *const xdp_msg[] = { "off=0 size=8", "off=24 size=4", "off=20 size=4", "off=12 size=4" };
	for (size_t i = 0; i < sizeof(xdp_bad) / sizeof(xdp_bad[0]); i++) {
		int fd = load(vm, BPF_PROG_TYPE_XDP, xdp_bad[i]);
		CHECK(fd >= 0);
		CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EACCES);
		CHECK(strstr(bpfvm_errmsg(vm), xdp_msg[i]) != NULL);
		CHECK_EQ_U64(bpfvm_prog_run_packet(vm, fd, pkt, n, out, sizeof(out), &out_len, &res), -EACCES);
		bpfvm_close(vm, fd);
	}
	/* the load-time check stops at the first jump: a bad access on a path never taken loads and runs */
	int ok = load(vm, BPF_PROG_TYPE_XDP, "r0 = 2\nif r0 == 2 goto +1\nr0 = *(u64 *)(r1 + 0)\nexit\n");
	CHECK(ok >= 0);
	CHECK_EQ_U64(test_run_via_bpf(vm, ok, &t), 0);
	CHECK_EQ_U64(t.retval, 2);
	/* and so does r1 redefined: these are stack accesses */
	int stk = load(vm, BPF_PROG_TYPE_XDP, "r1 = r10\nr1 += -8\nr2 = 0\n*(u64 *)(r1 + 0) = r2\n"
					      "r0 = *(u64 *)(r1 + 0)\nr0 += 2\nexit\n");
	CHECK(stk >= 0);
	CHECK_EQ_U64(test_run_via_bpf(vm, stk, &t), 0);
	CHECK_EQ_U64(t.retval, 2);

	/* raw_tp: the args are read-only, each read aligned */
	CHECK_EQ_U64(load(vm, BPF_PROG_TYPE_RAW_TRACEPOINT, "r2 = 1\n*(u64 *)(r1 + 0) = r2\nr0 = 0\nexit\n"), -EACCES);
	int tp = load(vm, BPF_PROG_TYPE_RAW_TRACEPOINT, "r6 = r1\nr0 = *(u64 *)(r6 + 4)\nexit\n");
	uint64_t args[2] = { 5, 6 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)tp;
	a.test.ctx_in = (uintptr_t)args;
	a.test.ctx_size_in = sizeof(args);
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: invalid bpf_context access off=4 size=8") != NULL);
	bpfvm_free(vm);
}

/* The same programs on a verifying instance (the default): every one refused at load. */
TEST(ctx_rules_verified)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	static const struct {
		uint32_t type;
		const char *src, *msg;
	} bad[] = {
		{ BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr0 = 0\nif r0 != 0 goto +0\nr2 = 1\n*(u32 *)(r6 + 0) = r2\nexit\n",
		  "insn 4: invalid bpf_context access off=0 size=4" },
		{ BPF_PROG_TYPE_SCHED_CLS, "r6 = r1\nr2 = 1\nlock *(u32 *)(r6 + 8) += r2\nr0 = 0\nexit\n",
		  "insn 2: BPF_ATOMIC stores into R6 ctx is not allowed" },
		{ BPF_PROG_TYPE_XDP, "r6 = r1\nr0 = *(u64 *)(r6 + 0)\nexit\n", "insn 1: invalid bpf_context access off=0 size=8" },
		{ BPF_PROG_TYPE_XDP, "r6 = r1\nr0 = *(u32 *)(r6 + 24)\nexit\n", "insn 1: invalid bpf_context access off=24 size=4" },
		{ BPF_PROG_TYPE_XDP, "r6 = r1\nr0 = *(u32 *)(r6 + 20)\nexit\n", "insn 1: invalid bpf_context access off=20 size=4" },
		{ BPF_PROG_TYPE_XDP, "r6 = r1\nr2 = 0\n*(u32 *)(r6 + 12) = r2\nr0 = 2\nexit\n",
		  "insn 2: invalid bpf_context access off=12 size=4" },
		{ BPF_PROG_TYPE_XDP, "r2 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nexit\n", "insn 1: R2 invalid mem access 'pkt_end'" },
		{ BPF_PROG_TYPE_RAW_TRACEPOINT, "r6 = r1\nr0 = *(u64 *)(r6 + 4)\nexit\n",
		  "insn 1: invalid bpf_context access off=4 size=8" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = load(vm, bad[i].type, bad[i].src);
		CHECK_EQ_U64(fd, -EACCES);
		if (!strstr(bpfvm_errmsg(vm), bad[i].msg))
			printf("  case %zu: got '%s', want '%s'\n", i, bpfvm_errmsg(vm), bad[i].msg);
		CHECK(strstr(bpfvm_errmsg(vm), bad[i].msg) != NULL);
	}
	bpfvm_free(vm);
}

TEST(helper_table)
{
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_XDP, 44));
	CHECK(!pt_helper_allowed(BPF_PROG_TYPE_XDP, 9));
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_SCHED_CLS, 9));
	CHECK(!pt_helper_allowed(BPF_PROG_TYPE_SCHED_CLS, 44));
	CHECK(!pt_helper_allowed(BPF_PROG_TYPE_SCHED_CLS, 51)); /* redirect_map is XDP's */
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_SOCKET_FILTER, 26));
	CHECK(!pt_helper_allowed(BPF_PROG_TYPE_SOCKET_FILTER, 23));
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_KPROBE, 14));
	CHECK(!pt_helper_allowed(BPF_PROG_TYPE_XDP, 14));   /* get_current_pid_tgid: tracing only */
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_XDP, 1));
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_SOCKET_FILTER, 12));
	CHECK(pt_helper_allowed(BPF_PROG_TYPE_UNSPEC, 9));
	CHECK(pt_known(BPFVM_PROG_TYPE_HOOK));
	CHECK(!pt_known(9999));
}

TEST(tracing_test_runs)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	/* raw_tp: ctx_in are the u64 args */
	int fd = load(vm, BPF_PROG_TYPE_RAW_TRACEPOINT, "r0 = *(u64 *)(r1 + 8)\nr0 += 1\nexit\n");
	uint64_t args[2] = { 5, 41 };
	struct bpfvm_test_run_opts t = { .ctx_in = args, .ctx_size_in = sizeof(args) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), 0);
	CHECK_EQ_U64(t.retval, 42);
	t.repeat = 2;
	CHECK_EQ_U64(test_run_via_bpf(vm, fd, &t), -EINVAL);
	/* syscall: ctx written back to ctx_in */
	int fd2 = load(vm, BPF_PROG_TYPE_SYSCALL, "r2 = 7\n*(u32 *)(r1 + 0) = r2\nr0 = 1\nexit\n");
	uint32_t c[2] = { 0, 0 };
	struct bpfvm_test_run_opts t2 = { .ctx_in = c, .ctx_size_in = sizeof(c) };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd2, &t2), 0);
	CHECK_EQ_U64(c[0], 7);
	/* kprobe: no test run in Linux */
	int fd3 = load(vm, BPF_PROG_TYPE_KPROBE, "r0 = 0\nexit\n");
	struct bpfvm_test_run_opts t3 = { 0 };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd3, &t3), -524);
	/* UNSPEC: r1 = data, r2 = len */
	int fd4 = load(vm, BPF_PROG_TYPE_UNSPEC, "r0 = r2\nr3 = *(u8 *)(r1 + 1)\nr0 += r3\nexit\n");
	uint8_t mem[5] = { 0, 10, 0, 0, 0 };
	struct bpfvm_test_run_opts t4 = { .data_in = mem, .data_size_in = 5 };
	CHECK_EQ_U64(test_run_via_bpf(vm, fd4, &t4), 0);
	CHECK_EQ_U64(t4.retval, 15);
	bpfvm_free(vm);
}

static int map_create(struct bpfvm *vm, uint32_t type, uint32_t vs, uint32_t max)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = 4;
	a.value_size = vs;
	a.max_entries = max;
	return (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
}

static long map_upd(struct bpfvm *vm, int fd, uint32_t key, const void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)val;
	a.flags = flags;
	return bpfvm_bpf(vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a));
}

/* r1 = map; r2 = key; r3 = flags; call redirect_map */
static int load_redirect_map(struct bpfvm *vm, int map_fd, uint32_t key, uint32_t flags)
{
	char src[256];
	struct bpf_insn insns[16];
	snprintf(src, sizeof(src), "r1 = 0 ll\nr2 = %u\nr3 = %u\ncall 51\nexit\n", key, flags);
	long n = bpfvm_asm(vm, src, insns, 16);
	if (n <= 0)
		return -1;
	insns[0].src_reg = BPF_PSEUDO_MAP_FD;
	insns[0].imm = map_fd;
	return bpfvm_prog_load(vm, BPF_PROG_TYPE_XDP, insns, (size_t)n, "rm");
}

TEST(redirect_maps)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	uint8_t pkt[64], out[64];
	size_t n = udp_frame(pkt), out_len;
	struct bpfvm_pkt_result res;
	int dev = map_create(vm, BPF_MAP_TYPE_DEVMAP, 4, 4);
	CHECK(dev >= 0);
	uint32_t ifx = 9, zero = 0;
	CHECK_EQ_U64(map_upd(vm, dev, 1, &ifx, 0), 0);
	CHECK_EQ_U64(map_upd(vm, dev, 4, &ifx, 0), -E2BIG);
	int p1 = load_redirect_map(vm, dev, 1, XDP_PASS);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p1, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, XDP_REDIRECT);
	CHECK_EQ_U64(res.redirect_ifindex, 9);
	CHECK_EQ_U64(res.redirect_map_type, BPF_MAP_TYPE_DEVMAP);
	CHECK_EQ_U64(res.redirect_key, 1);
	int p2 = load_redirect_map(vm, dev, 2, XDP_PASS); /* empty slot: the flags' action */
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p2, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, XDP_PASS);
	CHECK_EQ_U64(res.action, BPFVM_PKT_PASS);
	CHECK_EQ_U64(map_upd(vm, dev, 1, &zero, 0), 0); /* ifindex 0 clears */
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p1, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, XDP_PASS);
	/* DEVMAP_HASH: any key */
	int dh = map_create(vm, BPF_MAP_TYPE_DEVMAP_HASH, 8, 4);
	CHECK(dh >= 0);
	uint32_t val[2] = { 12, 0 };
	CHECK_EQ_U64(map_upd(vm, dh, 1000, val, BPF_NOEXIST), 0);
	CHECK_EQ_U64(map_upd(vm, dh, 1000, val, BPF_NOEXIST), -EEXIST);
	int p3 = load_redirect_map(vm, dh, 1000, XDP_DROP);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p3, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.redirect_ifindex, 12);
	int p4 = load_redirect_map(vm, dh, 1001, XDP_DROP);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p4, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_DROP);
	/* CPUMAP: the target is the cpu (key); bad flags abort */
	int cpu = map_create(vm, BPF_MAP_TYPE_CPUMAP, 4, 2);
	uint32_t qsize = 192;
	CHECK_EQ_U64(map_upd(vm, cpu, 1, &qsize, 0), 0);
	int p5 = load_redirect_map(vm, cpu, 1, 0);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p5, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.redirect_map_type, BPF_MAP_TYPE_CPUMAP);
	CHECK_EQ_U64(res.redirect_ifindex, 1);
	int p6 = load_redirect_map(vm, cpu, 1, 64);
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, p6, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.action, BPFVM_PKT_ABORTED);
	/* XSKMAP records the socket value */
	int xsk = map_create(vm, BPF_MAP_TYPE_XSKMAP, 4, 4);
	CHECK(xsk >= 0);
	CHECK_EQ_U64(map_create(vm, BPF_MAP_TYPE_XSKMAP, 8, 4), -EINVAL);
	/* redirect_map on an array faults */
	int arr = map_create(vm, BPF_MAP_TYPE_ARRAY, 4, 4);
	CHECK_EQ_U64(load_redirect_map(vm, arr, 0, 0), -EINVAL); /* the verifier, as Linux: not a redirect map */
	CHECK(strstr(bpfvm_errmsg(vm), "cannot pass map_type 2 into func bpf_redirect_map#51") != NULL);
	if (!strstr(bpfvm_errmsg(vm), "cannot pass map_type 2 into func bpf_redirect_map#51"))
		printf("  got '%s'\n", bpfvm_errmsg(vm));
	struct bpfvm *uvm = new_unverified();
	arr = map_create(uvm, BPF_MAP_TYPE_ARRAY, 4, 4);
	int p7 = load_redirect_map(uvm, arr, 0, 0);
	CHECK_EQ_U64(bpfvm_prog_run_packet(uvm, p7, pkt, n, out, sizeof(out), &out_len, &res), -EINVAL);
	bpfvm_free(uvm);
	bpfvm_free(vm);
}

struct hreq {
	uint32_t a, b, out, secret;
};

TEST(host_hook)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	static const struct bpfvm_hook_field fields[] = { { "a", 0, 4, 0 }, { "b", 4, 4, 0 }, { "out", 8, 4, 1 } };
	static const uint32_t helpers[] = { 1, 2 };
	struct bpfvm_hook_desc d = { .sz = sizeof(d), .name = "h", .ctx_size = sizeof(struct hreq), .fields = fields,
				     .field_cnt = 3, .helper_ids = helpers, .helper_cnt = 2 };
	struct bpfvm_hook *h = NULL;
	CHECK_EQ_U64(bpfvm_hook_new(vm, &d, &h), 0);
	/* out = a + b; also writes a and secret through a pointer copy (not provable, so not copied back) */
	int fd = load(vm, BPFVM_PROG_TYPE_HOOK, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr2 += r3\n"
					      "*(u32 *)(r1 + 8) = r2\nr0 = *(u32 *)(r1 + 12)\nr4 = r1\nr5 = 1\n"
					      "*(u32 *)(r4 + 0) = r5\n*(u32 *)(r4 + 12) = r5\nexit\n");
	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd), -EACCES); /* reads `secret` at +12: not a field */
	CHECK(strstr(bpfvm_errmsg(vm), "insn 4: invalid bpf_context access off=12 size=4") != NULL);
	/* the same writes through a copy of r1: not visible at attach, refused at run time */
	int fd2w = load(vm, BPFVM_PROG_TYPE_HOOK, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr2 += r3\n"
					       "*(u32 *)(r1 + 8) = r2\nr4 = r1\nr5 = 1\n"
					       "*(u32 *)(r4 + 0) = r5\n*(u32 *)(r4 + 12) = r5\nr0 = r2\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd2w), 0);
	struct hreq r = { 2, 40, 0, 7 };
	uint64_t ret[2] = { 0, 0 };
	CHECK_EQ_U64(bpfvm_hook_run(h, &r, ret, 2), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 6: invalid bpf_context access off=0 size=4") != NULL);
	CHECK_EQ_U64(r.out, 0);    /* a failed run copies nothing back */
	CHECK_EQ_U64(r.a, 2);
	CHECK_EQ_U64(bpfvm_hook_detach(h, fd2w), 0);
	/* reads through a copy are judged the same way: a byte of a field is fine, a byte outside is not */
	int fd2r = load(vm, BPFVM_PROG_TYPE_HOOK, "r4 = r1\nr0 = *(u8 *)(r4 + 5)\nr0 = *(u8 *)(r4 + 12)\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd2r), 0);
	CHECK_EQ_U64(bpfvm_hook_run(h, &r, ret, 2), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 2: invalid bpf_context access off=12 size=1") != NULL);
	CHECK_EQ_U64(bpfvm_hook_detach(h, fd2r), 0);
	/* load-acquire takes its address from src: r1 there is a ctx read (and atomics on a ctx are refused) */
	int fdacq = load(vm, BPFVM_PROG_TYPE_HOOK, "r0 = load_acquire((u32 *)(r1 + 0))\nexit\n");
	if (fdacq >= 0) {
		CHECK_EQ_U64(bpfvm_hook_attach(h, fdacq), -EACCES);
		CHECK(strstr(bpfvm_errmsg(vm), "insn 0: BPF_ATOMIC loads from R1 ctx is not allowed") != NULL);
	}
	int fd2 = load(vm, BPFVM_PROG_TYPE_HOOK, "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr2 += r3\n"
					       "*(u32 *)(r1 + 8) = r2\nr0 = r2\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd2), 0);
	CHECK_EQ_U64(bpfvm_hook_run(h, &r, ret, 2), 1);
	CHECK_EQ_U64(ret[0], 42);
	CHECK_EQ_U64(r.out, 42);
	CHECK_EQ_U64(r.a, 2);
	CHECK_EQ_U64(r.secret, 7);
	/* a write to a read-only field, a helper the hook does not allow, a wrong program type */
	int fd3 = load(vm, BPFVM_PROG_TYPE_HOOK, "r2 = 1\n*(u32 *)(r1 + 4) = r2\nr0 = 0\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd3), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "insn 1: invalid bpf_context access off=4 size=4") != NULL);
	int fd4 = load(vm, BPFVM_PROG_TYPE_HOOK, "call 5\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd4), -EACCES);
	CHECK(strstr(bpfvm_errmsg(vm), "helper #5 not allowed") != NULL);
	int fd5 = load(vm, BPF_PROG_TYPE_XDP, "r0 = 2\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd5), -EINVAL);
	/* two programs run in order; the second sees the first's writable output */
	int fd6 = load(vm, BPFVM_PROG_TYPE_HOOK, "r0 = *(u32 *)(r1 + 8)\nr0 *= 2\n*(u32 *)(r1 + 8) = r0\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd6), 0);
	bpfvm_close(vm, fd6); /* the hook holds its own reference */
	r.out = 0;
	CHECK_EQ_U64(bpfvm_hook_run(h, &r, ret, 2), 2);
	CHECK_EQ_U64(ret[1], 84);
	CHECK_EQ_U64(r.out, 84);
	CHECK_EQ_U64(bpfvm_hook_detach(h, fd2), 0);
	CHECK_EQ_U64(bpfvm_hook_detach(h, fd2), -ENOENT);
	CHECK_EQ_U64(bpfvm_hook_run(h, &r, ret, 2), 1);
	/* a fault is reported */
	int fd7 = load(vm, BPFVM_PROG_TYPE_HOOK, "r0 = *(u32 *)(r1 + 4096)\nexit\n");
	CHECK_EQ_U64(bpfvm_hook_attach(h, fd7), -EACCES);
	/* bad descriptions */
	struct bpfvm_hook *h2 = NULL;
	static const struct bpfvm_hook_field over[] = { { "x", 0, 8, 0 }, { "y", 4, 4, 0 } };
	struct bpfvm_hook_desc d2 = d;
	d2.fields = over;
	d2.field_cnt = 2;
	CHECK_EQ_U64(bpfvm_hook_new(vm, &d2, &h2), -EINVAL);
	d2.field_cnt = 1;
	d2.ctx_size = 4;
	CHECK_EQ_U64(bpfvm_hook_new(vm, &d2, &h2), -EINVAL);
	CHECK(h2 == NULL);
	bpfvm_hook_free(h);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(xdp_data_pointers_and_len);
	RUN(xdp_writes_packet_and_enospc);
	RUN(xdp_reads_outside_packet_fault);
	RUN(xdp_adjust_head_tail_meta);
	RUN(xdp_ctx_in_checks);
	RUN(xdp_repeat_and_redirect);
	RUN(xdp_csum_diff);
	RUN(tc_ctx_fields_and_writes);
	RUN(tc_store_bytes_and_l3_csum);
	RUN(tc_change_tail_head_and_adjust_room);
	RUN(tc_vlan_push_pop);
	RUN(socket_filter_ld_abs_and_truncation);
	RUN(tc_packet_run_actions);
	RUN(ctx_access_table);
	RUN(ctx_rules_enforced);
	RUN(ctx_rules_verified);
	RUN(helper_table);
	RUN(tracing_test_runs);
	RUN(host_hook);
	RUN(redirect_maps);
	return test_done();
}
