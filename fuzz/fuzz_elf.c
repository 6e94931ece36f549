/* fuzz_elf.c -- the object loader on arbitrary bytes: open (ELF, BTF, maps, programs) and, when that
 * succeeds, load (map creation, linking, relocation, CO-RE, PROG_LOAD) in a fresh instance each run.
 * Whatever the input, the result is 0 or a negative errno with a message naming the object; never a
 * crash or a leak.  The object listing (bpfvm_disasm_object) runs on the same bytes.  Pinned maps (LIBBPF_PIN_BY_NAME) go to a private pin root. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpfvm.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bpfvm_opts o;
	struct bpfvm_object *obj = NULL;

	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 2;
	o.pin_root = "/tmp/bpfvm-fuzz-elf";
	mkdir(o.pin_root, 0700);
	struct bpfvm *vm = bpfvm_new(&o);
	if (!vm)
		return 0;
	/* the object listing (bpfvm disasm, llvm-objdump -dr) reads the same bytes its own way, BTF and
	 * CO-RE relocations included: a listing, or a negative errno with a located message */
	static char text[1 << 16];
	long n = bpfvm_disasm_object(vm, "fuzz.o", data, size, NULL, BPFVM_DISASM_HEX | BPFVM_DISASM_RELOCS, text,
				     sizeof(text));
	if (n < 0 && strncmp(bpfvm_errmsg(vm), "fuzz.o: ", 8))
		abort();
	if (n >= 0 && (size_t)n < sizeof(text) && strlen(text) != (size_t)n)
		abort(); /* the length returned is the text's */
	int err = bpfvm_object_open_mem(vm, "fuzz.o", data, size, &obj);
	if (err) {
		if (err >= 0 || strncmp(bpfvm_errmsg(vm), "fuzz.o: ", 8))
			abort(); /* an error must be negative and located */
	} else {
		bpfvm_object_load(obj);
		for (size_t i = 0; i < bpfvm_object_prog_cnt(obj); i++)
			(void)bpfvm_object_prog_fd_at(obj, i);
		bpfvm_object_close(obj);
	}
	bpfvm_free(vm);
	return 0;
}
