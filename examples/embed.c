/* embed.c -- the smallest useful embedder: loads a clang-built object, changes one of its maps, runs its
 * program on a packet and reads the maps back, with the shorthands of bpfvm.h (no union bpf_attr).
 *
 *   cc embed.c $(pkg-config --cflags --libs bpfvm) -o embed
 *   ./embed build/examples/xdp_firewall.bpf.o
 *
 * It blocks 192.0.2.0/24 in the firewall's block_v4 LPM trie, sends a UDP packet from 192.0.2.7
 * (dropped), unblocks the prefix, sends it again (passed) and prints the firewall's maps.  Exit status 0
 * when the verdicts are those. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

struct lpm_v4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};

/* Ethernet + IPv4 + UDP from 192.0.2.7:1234 to 10.0.0.1:53 (checksums do not matter to the firewall). */
static const uint8_t pkt[] = {
	0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00,                      /* Ethernet, IPv4 */
	0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 7, 10, 0, 0, 1,      /* IPv4, UDP */
	0x04, 0xd2, 0, 53, 0, 8, 0, 0,                                              /* UDP */
};

static int run(struct bpfvm *vm, int prog, uint32_t *verdict)
{
	uint8_t out[sizeof(pkt)];
	struct bpfvm_test_run_opts o = { .sz = sizeof(o), .data_in = pkt, .data_size_in = sizeof(pkt),
					 .data_out = out, .data_size_out = sizeof(out) };
	int err = bpfvm_prog_test_run(vm, prog, &o);

	if (err)
		fprintf(stderr, "run: %s\n", bpfvm_errmsg(vm));
	*verdict = o.retval;
	return err;
}

int main(int argc, char **argv)
{
	/* one CPU, so a per-CPU map's value is one value */
	struct bpfvm_opts vo = { .sz = sizeof(vo), .nr_cpus = 1 };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct bpfvm_object *obj = NULL;
	struct lpm_v4 block = { 24, { 192, 0, 2, 0 } };
	uint32_t rule = 7, dropped = 0, passed = 0;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s xdp_firewall.bpf.o\n", argv[0]);
		return 2;
	}
	if (!vm)
		return 1;
	printf("bpfvm %s\n", bpfvm_version());
	if (bpfvm_object_open(vm, argv[1], &obj) || bpfvm_object_load(obj)) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(vm));
		goto out;
	}
	int prog = bpfvm_object_prog_fd(obj, "xdp_firewall");
	int blocklist = bpfvm_object_map_fd(obj, "block_v4");
	int stats = bpfvm_object_map_fd(obj, "stats");
	if (prog < 0 || blocklist < 0 || stats < 0) {
		fprintf(stderr, "%s: not the firewall example\n", argv[1]);
		goto out;
	}
	if (bpfvm_map_update(vm, blocklist, &block, &rule, BPF_ANY) || run(vm, prog, &dropped) ||
	    bpfvm_map_delete(vm, blocklist, &block) || run(vm, prog, &passed)) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(vm));
		goto out;
	}
	printf("blocked: verdict %u (XDP_DROP is %u)\n", dropped, XDP_DROP);
	printf("unblocked: verdict %u (XDP_PASS is %u)\n", passed, XDP_PASS);

	/* Every counter of the per-CPU stats array, walked key by key. */
	uint32_t key, *prev = NULL;
	while (bpfvm_map_next_key(vm, stats, prev, &key) == 0) {
		uint64_t v;
		if (bpfvm_map_lookup(vm, stats, &key, &v) == 0 && v)
			printf("stats[%u] = %llu\n", key, (unsigned long long)v);
		prev = &key;
	}
	rc = dropped == XDP_DROP && passed == XDP_PASS ? 0 : 1;
out:
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return rc;
}
