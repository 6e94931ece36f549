/* legacy.c -- the legacy packet loads (BPF_ABS / BPF_IND) through LLVM's bpf.load.* intrinsics, as old
 * socket filters use them; compared with llvm-objdump by tests/unit/test_disasm.c for -mcpu=v1..v4. */
typedef unsigned long long u64;

u64 load_byte(void *skb, u64 off) __asm__("llvm.bpf.load.byte");
u64 load_half(void *skb, u64 off) __asm__("llvm.bpf.load.half");
u64 load_word(void *skb, u64 off) __asm__("llvm.bpf.load.word");

__attribute__((section("socket"), used)) int legacy(void *skb)
{
	u64 proto = load_half(skb, 12);
	u64 ihl = load_byte(skb, 14) & 0xf;

	if (proto != 0x0800)
		return 0;
	if (load_byte(skb, 23) != 6)
		return 0;
	return (int)(load_half(skb, 14 + ihl * 4 + 2) + load_word(skb, ihl * 4 + 26) + load_word(skb, 30));
}
