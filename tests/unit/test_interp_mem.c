/* test_interp_mem.c -- the interpreter's memory checks around its shortcuts: the region an access fell
 * in is remembered only while it is valid (a helper that moves the packet end must make an old packet
 * pointer fault again), and the stack's precomputed 8-byte limit still admits narrow accesses at the
 * very top of a frame. */
#include <errno.h>
#include <string.h>

#include <bpfvm.h>
#include <linux/bpf.h>

#include "test.h"

static int load(struct bpfvm *vm, uint32_t type, const char *src)
{
	struct bpf_insn insns[64];
	long n = bpfvm_asm(vm, src, insns, 64);
	if (n <= 0 || n > 64) {
		printf("  asm failed: %s\n", bpfvm_errmsg(vm));
		return -1;
	}
	int fd = bpfvm_prog_load(vm, type, insns, (size_t)n, "t");
	if (fd < 0)
		printf("  load failed: %s\n", bpfvm_errmsg(vm));
	return fd;
}

static long xdp_run(struct bpfvm *vm, int fd, const void *pkt, uint32_t len, uint32_t *retval)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = len;
	long r = bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a));
	*retval = a.test.retval;
	return r;
}

/* Read the packet's last byte, shrink the tail by 20 (bpf_xdp_adjust_tail), read the same byte again:
 * the first read makes the packet region the remembered one; the second must fault as it would have
 * without the shortcut. */
TEST(packet_pointer_after_adjust_tail_faults)
{
	/* unverified: the verifier refuses packet pointers derived from data_end and stale after the call,
	 * which is exactly what the run-time checks must catch here */
	struct bpfvm_opts vo = { .sz = sizeof(vo), .verify = BPFVM_VERIFY_OFF };
	struct bpfvm *vm = bpfvm_new(&vo);
#define BODY(then_) \
		"r6 = r1\nr2 = *(u32 *)(r6 + 0)\nr3 = *(u32 *)(r6 + 4)\nr7 = r3\nr7 += -1\n" \
		"if r7 < r2 goto out\nr0 = *(u8 *)(r7 + 0)\n" \
		"r1 = r6\nr2 = -20\ncall 65\nif r0 != 0 goto out\n" \
		then_ \
		"exit\nout:\nr0 = 1000\nexit\n"
	uint8_t pkt[64];
	uint32_t retval = 0;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	/* control: without the second read the program runs and returns adjust_tail's 0 */
	int ok = load(vm, BPF_PROG_TYPE_XDP, BODY(""));
	CHECK(ok >= 0);
	CHECK_EQ_U64(xdp_run(vm, ok, pkt, sizeof(pkt), &retval), 0);
	CHECK_EQ_U64(retval, 0);
	/* the stale pointer: past the new end now */
	int stale = load(vm, BPF_PROG_TYPE_XDP, BODY("r0 = *(u8 *)(r7 + 0)\n"));
	CHECK(stale >= 0);
	CHECK_EQ_U64(xdp_run(vm, stale, pkt, sizeof(pkt), &retval), (uint64_t)(int64_t)-EFAULT);
	CHECK(strstr(bpfvm_errmsg(vm), "invalid memory read") != NULL);
	/* and one still inside the shrunk packet reads fine after the call */
	int inside = load(vm, BPF_PROG_TYPE_XDP, BODY("r7 += -20\nr0 = *(u8 *)(r7 + 0)\n"));
	CHECK(inside >= 0);
	CHECK_EQ_U64(xdp_run(vm, inside, pkt, sizeof(pkt), &retval), 0);
	CHECK_EQ_U64(retval, sizeof(pkt) - 21);
#undef BODY
	bpfvm_free(vm);
}

/* Writes of 1, 2 and 4 bytes ending exactly at r10 (past the 8-byte fast limit) are the frame's; one
 * byte more is not. */
TEST(narrow_stack_accesses_at_the_top)
{
	struct bpfvm *vm = bpfvm_new(NULL);
	int fd = load(vm, 0, "r1 = 0x11\n*(u8 *)(r10 - 1) = r1\n*(u16 *)(r10 - 4) = r1\n*(u32 *)(r10 - 8) = r1\n"
			     "r0 = *(u8 *)(r10 - 1)\nr2 = *(u16 *)(r10 - 4)\nr0 += r2\nr2 = *(u32 *)(r10 - 8)\nr0 += r2\n"
			     "exit\n");
	uint64_t r0 = 0;
	CHECK(fd >= 0);
	CHECK_EQ_U64(bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, NULL, 0, &r0), 0);
	CHECK_EQ_U64(r0, 0x33);
	int over = load(vm, 0, "r1 = 1\n*(u16 *)(r10 - 1) = r1\nr0 = 0\nexit\n");
	CHECK(over >= 0);
	CHECK_EQ_U64(bpfvm_prog_run(vm, over, BPFVM_ENGINE_INTERP, NULL, 0, &r0), (uint64_t)(int64_t)-EFAULT);
	bpfvm_free(vm);
}

int main(void)
{
	RUN(packet_pointer_after_adjust_tail_faults);
	RUN(narrow_stack_accesses_at_the_top);
	return test_done();
}
