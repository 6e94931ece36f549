/* fuzz_btf.c -- BTF on arbitrary bytes: the input becomes the .BTF section of a minimal ELF object that
 * also has an all-zero .maps section, so the BTF parser and the BTF map-definition parser (DATASEC .maps,
 * __uint/__type/__array members, inner maps, reference chains and loops) see every input.  The internal
 * type walkers are then run over every type id. */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>
#include "loader/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAPS_LEN 4096

static const char shstr[] = "\0.shstrtab\0.strtab\0.symtab\0.maps\0.BTF\0";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* layout: ehdr | shstrtab | strtab(1) | symtab(1 sym) | .maps | .BTF | section headers */
	size_t off_shstr = sizeof(Elf64_Ehdr), off_str = off_shstr + sizeof(shstr);
	size_t off_sym = (off_str + 1 + 7) & ~(size_t)7, off_maps = off_sym + sizeof(Elf64_Sym);
	size_t off_btf = off_maps + MAPS_LEN, off_sh = (off_btf + size + 7) & ~(size_t)7;
	size_t len = off_sh + 6 * sizeof(Elf64_Shdr);
	uint8_t *elf = calloc(1, len);
	if (!elf)
		return 0;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)(void *)elf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_REL;
	eh->e_machine = 247;
	eh->e_shoff = off_sh;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 6;
	eh->e_shstrndx = 1;
	memcpy(elf + off_shstr, shstr, sizeof(shstr));
	memcpy(elf + off_btf, data, size);
	Elf64_Shdr sh[6];
	memset(sh, 0, sizeof(sh));
	sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB, .sh_offset = off_shstr, .sh_size = sizeof(shstr) };
	sh[2] = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_STRTAB, .sh_offset = off_str, .sh_size = 1 };
	sh[3] = (Elf64_Shdr){ .sh_name = 19, .sh_type = SHT_SYMTAB, .sh_offset = off_sym, .sh_size = sizeof(Elf64_Sym),
			      .sh_link = 2, .sh_entsize = sizeof(Elf64_Sym) };
	sh[4] = (Elf64_Shdr){ .sh_name = 27, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC | SHF_WRITE,
			      .sh_offset = off_maps, .sh_size = MAPS_LEN };
	sh[5] = (Elf64_Shdr){ .sh_name = 33, .sh_type = SHT_PROGBITS, .sh_offset = off_btf, .sh_size = size };
	memcpy(elf + off_sh, sh, sizeof(sh));

	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.nr_cpus = 1;
	o.pin_root = "/tmp";
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpfvm_object *obj = NULL;
	if (vm && bpfvm_object_open_mem(vm, "btf.o", elf, len, &obj) == 0) {
		if (obj->btf) {
			for (uint32_t id = 0; id < obj->btf->cnt; id++) {
				uint32_t sz, rid;
				(void)ldr_btf_size(obj, ".BTF", id, &sz);
				(void)ldr_btf_skip_mods(obj, ".BTF", id, &rid);
			}
		}
		bpfvm_object_close(obj);
	}
	bpfvm_free(vm);
	free(elf);
	return 0;
}
