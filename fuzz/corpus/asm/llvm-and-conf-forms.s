mov %r0, 1
mov32 %r1, 2
add32 %r0, %r1
ldxw %r0, [%r1+4]
ldxdw %r0, [%r1]
stw [%r1-4], 5
stxdw [%r10-8], %r1
lock add [%r1], %r2
lock fetch add32 [%r10-4], %r1
lock xchg [%r1], %r2
lock cmpxchg [%r1+8], %r2
be16 %r0
le32 %r0
bswap16 %r0
swap16 %r0
neg %r0
movsx832 %r0, %r1
ldxsb %r0, [%r1-1]
lddw %r0, 0x1122334455667788
ja +2
ja L1
ja32 L1
L1:
jeq %r1, 0x80000000, +1
jne32 %r0, %r1, L1
call 5
call local func1
call %r2
callx %r2
r0 = 1 ; comment
w0 = 1 // comment
r0 += r1 # comment
w0 s/= 3
r0 s>>= 2
r0 = -r0
w0 = -w0
r0 = (s8)r1
r0 = be16 r0
r0 = bswap32 r0
r0 = *(u32 *)(r1 + 4)
r0 = *(s16 *)(r1 - 2)
*(u64 *)(r10 - 8) = r1
*(u32 *)(r1 + 0) = 5
lock *(u64 *)(r1 + 0) += r2
lock *(u32 *)(r1 + 0) += w2
r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)
r2 = xchg_64(r1 + 0, r2)
w2 = xchg32_32(r1 + 0, w2)
r0 = cmpxchg_64(r1 + 0, r0, r2)
w0 = cmpxchg32_32(r1 + 0, w0, w2)
r0 = 0x1122 ll
goto +3
gotol +3
if r1 == r2 goto +3
if w1 s< 5 goto L1
call 1
callx r2
r0 = *(u8 *)skb[12]
r0 = *(u16 *)skb[r1 + 0]
r0 = *(u16 *)skb[r1]
may_goto +2
r0 = load_acquire((u64 *)(r1 + 0))
w0 = load_acquire((u8 *)(r1 + 0))
store_release((u64 *)(r1 + 0), r2)
store_release((u16 *)(r1 + 0), w2)
func1:
exit
