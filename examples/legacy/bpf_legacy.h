/* bpf_legacy.h -- what programs written for the kernel's old samples/bpf loader (bpf_load.c) and for
 * libbpf < 1.0 included, in one place: SEC(), the map definition structs of the `maps` section, helpers
 * declared as pointers to their ids, and the LD_ABS packet loads (samples/bpf/bpf_legacy.h).
 *
 * Nothing here needs libbpf's headers: that is the point of these examples.  Include after
 * <linux/bpf.h>. */
#ifndef BPFVM_EXAMPLES_BPF_LEGACY_H
#define BPFVM_EXAMPLES_BPF_LEGACY_H

#define SEC(NAME) __attribute__((section(NAME), used))

/* libbpf 0.x's map definition (20 bytes): the loader takes the record size from the section size. */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

/* samples/bpf's own, read by bpf_load.c (28 bytes): map of maps and NUMA fields after libbpf's five. */
struct bpf_load_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
	unsigned int inner_map_idx;
	unsigned int numa_node;
};

/* Helpers as the old bpf_helpers.h declared them: a pointer whose value is the helper id. */
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static int (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				  unsigned long long flags) = (void *)BPF_FUNC_map_update_elem;
static int (*bpf_skb_store_bytes)(void *ctx, int off, void *from, int len, int flags) =
	(void *)BPF_FUNC_skb_store_bytes;
static int (*bpf_l3_csum_replace)(void *ctx, int off, int from, int to, int flags) =
	(void *)BPF_FUNC_l3_csum_replace;
static int (*bpf_redirect)(int ifindex, int flags) = (void *)BPF_FUNC_redirect;
static void (*bpf_tail_call)(void *ctx, void *map, int index) = (void *)BPF_FUNC_tail_call;

/* LD_ABS loads (socket filters): clang turns these into BPF_LD | BPF_ABS; the value comes back in host
 * order, and an offset past the packet ends the program with 0. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

#endif
