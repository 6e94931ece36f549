/* elf.c -- a reader for ELF64 little-endian relocatable BPF objects (what `clang -target bpf -c` writes):
 * the header, the section table with names, the symbol table, relocation tables, and the functions of
 * executable sections.  No libelf: every field comes through SPAN_READ with checked arithmetic, every
 * index is tested in the accepting form (`idx < cnt`), and every name is checked to end inside its
 * string table.  Classifies sections the way libbpf does (bpf_object__elf_collect). */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

#define MAX_SECTIONS 65535u

/* The NUL-terminated string at `off` in string-table section `strtab`, or NULL. */
static const char *elf_str(const struct bpfvm_object *obj, uint32_t strtab, uint64_t off)
{
	if (strtab >= obj->sec_cnt)
		return NULL;
	struct span s = obj->secs[strtab].data;
	if (off >= s.len)
		return NULL;
	if (!memchr(s.p + off, '\0', s.len - (size_t)off))
		return NULL;
	return (const char *)s.p + off;
}

static bool has_prefix(const char *s, const char *pfx)
{
	return !strncmp(s, pfx, strlen(pfx));
}

/* Exact name or the name followed by ".<anything>" (libbpf: .data.foo, .rodata.str1.1). */
static bool name_or_sub(const char *s, const char *base)
{
	size_t n = strlen(base);
	return !strncmp(s, base, n) && (s[n] == '\0' || s[n] == '.');
}

static enum ldr_sec_kind classify(const struct ldr_sec *s)
{
	const char *n = s->name;

	if (s->type == SHT_SYMTAB)
		return LDR_SEC_SYMTAB;
	if (s->type == SHT_REL)
		return LDR_SEC_REL;
	if (!strcmp(n, "license"))
		return LDR_SEC_LICENSE;
	if (!strcmp(n, "version"))
		return LDR_SEC_VERSION;
	if (!strcmp(n, ".BTF"))
		return LDR_SEC_BTF;
	if (!strcmp(n, ".BTF.ext"))
		return LDR_SEC_BTF_EXT;
	if (!strcmp(n, ".maps"))
		return LDR_SEC_MAPS;
	if (!strcmp(n, "maps"))
		return LDR_SEC_LEGACY;
	if (s->type == SHT_PROGBITS && (s->flags & SHF_EXECINSTR))
		return !strcmp(n, ".text") ? LDR_SEC_TEXT : LDR_SEC_PROG;
	if (s->type == SHT_PROGBITS && (s->flags & SHF_ALLOC) && name_or_sub(n, ".rodata"))
		return LDR_SEC_RODATA;
	if (s->type == SHT_PROGBITS && (s->flags & SHF_ALLOC) && name_or_sub(n, ".data"))
		return has_prefix(n, ".data.rel") ? LDR_SEC_OTHER : LDR_SEC_DATA;
	if (s->type == SHT_NOBITS && name_or_sub(n, ".bss"))
		return LDR_SEC_BSS;
	return LDR_SEC_OTHER;
}

static int read_sections(struct bpfvm_object *obj, const Elf64_Ehdr *eh)
{
	uint64_t shnum = eh->e_shnum, shstrndx = eh->e_shstrndx;
	Elf64_Shdr sh;

	if (eh->e_shoff == 0)
		return ldr_err(obj, NULL, -EINVAL, "ELF: no section header table");
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return ldr_err(obj, NULL, -EINVAL, "ELF: e_shentsize %u is not %zu", eh->e_shentsize, sizeof(Elf64_Shdr));
	if (shnum == 0 || shstrndx == SHN_XINDEX) {
		/* extended numbering: the real values are in section header 0 */
		if (!SPAN_READ(obj->file, eh->e_shoff, &sh))
			return ldr_err(obj, NULL, -EINVAL, "ELF: section header 0 at offset %llu is outside the file (%zu bytes)",
				       (unsigned long long)eh->e_shoff, obj->file.len);
		if (shnum == 0)
			shnum = sh.sh_size;
		if (shstrndx == SHN_XINDEX)
			shstrndx = sh.sh_link;
	}
	if (shnum == 0 || shnum > MAX_SECTIONS)
		return ldr_err(obj, NULL, -EINVAL, "ELF: section count %llu is outside 1..%u", (unsigned long long)shnum,
			       MAX_SECTIONS);
	uint64_t tab_len;
	if (CKD_MUL(&tab_len, shnum, (uint64_t)sizeof(Elf64_Shdr)) || !span_ok(obj->file, eh->e_shoff, tab_len))
		return ldr_err(obj, NULL, -EINVAL, "ELF: section header table (%llu entries at offset %llu) is outside the file (%zu bytes)",
			       (unsigned long long)shnum, (unsigned long long)eh->e_shoff, obj->file.len);
	if (shstrndx >= shnum)
		return ldr_err(obj, NULL, -EINVAL, "ELF: section name table index %llu is not below the section count %llu",
			       (unsigned long long)shstrndx, (unsigned long long)shnum);

	obj->secs = calloc((size_t)shnum, sizeof(*obj->secs));
	if (!obj->secs)
		return ldr_err(obj, NULL, -ENOMEM, "out of memory for %llu sections", (unsigned long long)shnum);
	obj->sec_cnt = (size_t)shnum;
	for (size_t i = 0; i < obj->sec_cnt; i++) {
		struct ldr_sec *s = &obj->secs[i];
		uint64_t off = eh->e_shoff + i * sizeof(Elf64_Shdr); /* inside the table checked above */
		if (!SPAN_READ(obj->file, off, &sh))
			return ldr_err(obj, NULL, -EINVAL, "ELF: section header %zu is outside the file", i);
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->off = sh.sh_offset;
		s->size = sh.sh_size;
		s->entsize = sh.sh_entsize;
		s->link = sh.sh_link;
		s->info = sh.sh_info;
		s->map = -1;
		s->rel = -1;
		s->name = "";
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    !span_sub(obj->file, sh.sh_offset, sh.sh_size, &s->data))
			return ldr_err(obj, NULL, -EINVAL, "ELF: section %zu: data (offset %llu, size %llu) is outside the file (%zu bytes)",
				       i, (unsigned long long)sh.sh_offset, (unsigned long long)sh.sh_size, obj->file.len);
	}
	if (obj->secs[shstrndx].type != SHT_STRTAB)
		return ldr_err(obj, NULL, -EINVAL, "ELF: section name table %llu is not a string table (type %u)",
			       (unsigned long long)shstrndx, obj->secs[shstrndx].type);
	for (size_t i = 1; i < obj->sec_cnt; i++) {
		Elf64_Shdr h;
		SPAN_READ(obj->file, eh->e_shoff + i * sizeof(Elf64_Shdr), &h); /* read above */
		const char *name = elf_str(obj, (uint32_t)shstrndx, h.sh_name);
		if (!name)
			return ldr_err(obj, NULL, -EINVAL, "ELF: section %zu: name offset %u is outside the section name table",
				       i, h.sh_name);
		obj->secs[i].name = name;
	}
	return 0;
}

static int read_symbols(struct bpfvm_object *obj)
{
	int symtab = -1;

	for (size_t i = 1; i < obj->sec_cnt; i++) {
		if (obj->secs[i].type != SHT_SYMTAB)
			continue;
		if (symtab >= 0)
			return ldr_err(obj, obj->secs[i].name, -EINVAL, "more than one symbol table");
		symtab = (int)i;
	}
	if (symtab < 0)
		return ldr_err(obj, NULL, -EINVAL, "ELF: no symbol table");
	struct ldr_sec *st = &obj->secs[symtab];
	if (st->entsize != sizeof(Elf64_Sym))
		return ldr_err(obj, st->name, -EINVAL, "symbol size %llu is not %zu", (unsigned long long)st->entsize,
			       sizeof(Elf64_Sym));
	if (st->link >= obj->sec_cnt || obj->secs[st->link].type != SHT_STRTAB)
		return ldr_err(obj, st->name, -EINVAL, "string table index %u is not a string table", st->link);
	size_t cnt = st->data.len / sizeof(Elf64_Sym);
	if (cnt == 0)
		return ldr_err(obj, st->name, -EINVAL, "no symbols");
	obj->syms = calloc(cnt, sizeof(*obj->syms));
	if (!obj->syms)
		return ldr_err(obj, st->name, -ENOMEM, "out of memory for %zu symbols", cnt);
	obj->sym_cnt = cnt;
	for (size_t i = 0; i < cnt; i++) {
		Elf64_Sym es;
		SPAN_READ(st->data, i * sizeof(es), &es); /* i < len / size */
		struct ldr_sym *y = &obj->syms[i];
		const char *name = elf_str(obj, st->link, es.st_name);
		if (!name)
			return ldr_err(obj, st->name, -EINVAL, "symbol %zu: name offset %u is outside the string table", i,
				       es.st_name);
		y->name = name;
		y->type = ELF64_ST_TYPE(es.st_info);
		y->bind = ELF64_ST_BIND(es.st_info);
		y->shndx = es.st_shndx;
		y->value = es.st_value;
		y->size = es.st_size;
		if (y->shndx != SHN_UNDEF && y->shndx < SHN_LORESERVE && y->shndx >= obj->sec_cnt)
			return ldr_err(obj, st->name, -EINVAL, "symbol %zu '%s': section index %u is not below the section count %zu",
				       i, name, y->shndx, obj->sec_cnt);
	}
	return 0;
}

/* Old clang (before LLVM 4) typed functions STT_NOTYPE, and samples/bpf's bpf_load.c never looked at
 * symbols: each program section was one program.  So a program section holding no STT_FUNC symbol (a
 * libbpf 1.x object always has one; then this does nothing) takes a global STT_NOTYPE symbol at offset 0
 * as its program, covering the symbol's size, or the whole section when the size is 0 as old clang left
 * it.  Local NOTYPE symbols are branch labels (LBB0_3) and are never programs. */
static int legacy_funcs(struct bpfvm_object *obj)
{
	for (size_t si = 1; si < obj->sec_cnt; si++) {
		const struct ldr_sec *s = &obj->secs[si];
		bool has_func = false;
		if (s->kind != LDR_SEC_PROG)
			continue;
		for (size_t j = 0; j < obj->func_cnt && !has_func; j++)
			has_func = obj->funcs[j].sec == si;
		if (has_func)
			continue;
		for (size_t i = 0; i < obj->sym_cnt; i++) {
			const struct ldr_sym *y = &obj->syms[i];
			if (y->shndx != si || y->type != STT_NOTYPE || y->value != 0 || !*y->name ||
			    (y->bind != STB_GLOBAL && y->bind != STB_WEAK))
				continue;
			uint64_t size = y->size ? y->size : s->data.len;
			if (size % sizeof(struct bpf_insn) || size == 0 || size > s->data.len)
				return ldr_err(obj, s->name, -EINVAL, "program '%s' (STT_NOTYPE at offset 0): size %llu is not a whole number of insns inside the section (%zu bytes)",
					       y->name, (unsigned long long)size, s->data.len);
			struct ldr_func *f = &obj->funcs[obj->func_cnt++];
			f->name = y->name;
			f->sec = (uint32_t)si;
			f->off = 0;
			f->cnt = (size_t)(size / sizeof(struct bpf_insn));
			f->entry = true;
			f->notype = true;
			obj->legacy |= BPFVM_LEGACY_NOTYPE;
			break;
		}
	}
	return 0;
}

static int collect_funcs(struct bpfvm_object *obj)
{
	size_t n = 0;

	for (size_t i = 0; i < obj->sym_cnt; i++) {
		const struct ldr_sym *y = &obj->syms[i];
		if (y->type == STT_FUNC && y->shndx != SHN_UNDEF && y->shndx < obj->sec_cnt)
			n++;
	}
	for (size_t i = 1; i < obj->sec_cnt; i++) /* room for one legacy program per section */
		n += obj->secs[i].kind == LDR_SEC_PROG;
	obj->funcs = calloc(n ? n : 1, sizeof(*obj->funcs));
	if (!obj->funcs)
		return ldr_err(obj, NULL, -ENOMEM, "out of memory for %zu functions", n);
	for (size_t i = 0; i < obj->sym_cnt; i++) {
		const struct ldr_sym *y = &obj->syms[i];
		if (y->type != STT_FUNC || y->shndx == SHN_UNDEF || y->shndx >= obj->sec_cnt)
			continue;
		const struct ldr_sec *s = &obj->secs[y->shndx];
		if (s->kind != LDR_SEC_PROG && s->kind != LDR_SEC_TEXT)
			return ldr_err(obj, s->name, -EINVAL, "function '%s' is not in an executable section", y->name);
		if (y->value % sizeof(struct bpf_insn) || y->size % sizeof(struct bpf_insn) || y->size == 0)
			return ldr_err(obj, s->name, -EINVAL, "function '%s': offset %llu or size %llu is not a whole number of insns",
				       y->name, (unsigned long long)y->value, (unsigned long long)y->size);
		if (!span_ok(s->data, y->value, y->size))
			return ldr_err(obj, s->name, -EINVAL, "function '%s': offset %llu + size %llu is outside the section (%zu bytes)",
				       y->name, (unsigned long long)y->value, (unsigned long long)y->size, s->data.len);
		for (size_t j = 0; j < obj->func_cnt; j++)
			if (obj->funcs[j].sec == y->shndx && !strcmp(obj->funcs[j].name, y->name))
				return ldr_err(obj, s->name, -EINVAL, "function '%s' is defined twice", y->name);
		struct ldr_func *f = &obj->funcs[obj->func_cnt++];
		f->name = y->name;
		f->sec = y->shndx;
		f->off = (size_t)(y->value / sizeof(struct bpf_insn));
		f->cnt = (size_t)(y->size / sizeof(struct bpf_insn));
		f->entry = s->kind == LDR_SEC_PROG && (y->bind == STB_GLOBAL || y->bind == STB_WEAK);
	}
	return legacy_funcs(obj);
}

int ldr_elf_read(struct bpfvm_object *obj)
{
	Elf64_Ehdr eh;
	int err;

	if (!SPAN_READ(obj->file, 0, &eh))
		return ldr_err(obj, NULL, -EINVAL, "ELF: file of %zu bytes is shorter than an ELF header (%zu)", obj->file.len,
			       sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return ldr_err(obj, NULL, -EINVAL, "ELF: bad magic (not an ELF file)");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return ldr_err(obj, NULL, -EINVAL, "ELF: class %u is not ELFCLASS64", eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return ldr_err(obj, NULL, -EINVAL, "ELF: data encoding %u is not little-endian (big-endian BPF objects are not supported)",
			       eh.e_ident[EI_DATA]);
	if (eh.e_type != ET_REL)
		return ldr_err(obj, NULL, -EINVAL, "ELF: type %u is not a relocatable object (ET_REL)", eh.e_type);
	if (eh.e_machine != EM_BPF)
		return ldr_err(obj, NULL, -EINVAL, "ELF: machine %u is not BPF (%u)", eh.e_machine, EM_BPF);
	if ((err = read_sections(obj, &eh)) || (err = read_symbols(obj)))
		return err;

	obj->maps_sec = obj->legacy_sec = obj->text_sec = -1;
	for (size_t i = 1; i < obj->sec_cnt; i++) {
		struct ldr_sec *s = &obj->secs[i];
		s->kind = classify(s);
		switch (s->kind) {
		case LDR_SEC_MAPS:
			obj->maps_sec = (int)i;
			break;
		case LDR_SEC_LEGACY:
			obj->legacy_sec = (int)i;
			break;
		case LDR_SEC_TEXT:
			obj->text_sec = (int)i;
			break;
		case LDR_SEC_LICENSE: {
			size_t n = s->data.len < sizeof(obj->license) - 1 ? s->data.len : sizeof(obj->license) - 1;
			if (n) /* a NOBITS license section has no bytes */
				memcpy(obj->license, s->data.p, n);
			obj->license[n] = '\0';
			break;
		}
		case LDR_SEC_BTF_EXT:
			obj->btf_ext = s->data;
			break;
		case LDR_SEC_REL: {
			if (s->entsize != sizeof(Elf64_Rel))
				return ldr_err(obj, s->name, -EINVAL, "relocation size %llu is not %zu",
					       (unsigned long long)s->entsize, sizeof(Elf64_Rel));
			if (s->info == 0 || s->info >= obj->sec_cnt)
				return ldr_err(obj, s->name, -EINVAL, "target section index %u is not below the section count %zu",
					       s->info, obj->sec_cnt);
			if (s->link >= obj->sec_cnt || obj->secs[s->link].type != SHT_SYMTAB)
				return ldr_err(obj, s->name, -EINVAL, "symbol table index %u is not the symbol table", s->link);
			struct ldr_sec *t = &obj->secs[s->info];
			if (t->rel >= 0)
				return ldr_err(obj, s->name, -EINVAL, "second relocation section for section %u", s->info);
			t->rel = (int)i;
			break;
		}
		default:
			break;
		}
	}
	return 0;
}

int ldr_elf_parse(struct bpfvm_object *obj)
{
	int err;

	if ((err = ldr_elf_read(obj)) || (err = collect_funcs(obj)))
		return err;
	/* each function reached by a relocation or call must be a whole function; code sections whose size is
	 * not a multiple of 8 cannot hold instructions */
	for (size_t i = 1; i < obj->sec_cnt; i++) {
		const struct ldr_sec *s = &obj->secs[i];
		if ((s->kind == LDR_SEC_PROG || s->kind == LDR_SEC_TEXT) && s->data.len % sizeof(struct bpf_insn))
			return ldr_err(obj, s->name, -EINVAL, "size %zu is not a multiple of the insn size 8", s->data.len);
	}
	return 0;
}

size_t ldr_elf_rel_cnt(const struct bpfvm_object *obj, int rel)
{
	if (rel < 0 || (size_t)rel >= obj->sec_cnt)
		return 0;
	return obj->secs[rel].data.len / sizeof(Elf64_Rel);
}

bool ldr_elf_rel(const struct bpfvm_object *obj, int rel, size_t i, uint64_t *off, uint32_t *sym, uint32_t *type)
{
	Elf64_Rel r;
	uint64_t at;

	if (rel < 0 || (size_t)rel >= obj->sec_cnt || CKD_MUL(&at, (uint64_t)i, (uint64_t)sizeof(r)) ||
	    !SPAN_READ(obj->secs[rel].data, at, &r))
		return false;
	*off = r.r_offset;
	*sym = (uint32_t)ELF64_R_SYM(r.r_info);
	*type = (uint32_t)ELF64_R_TYPE(r.r_info);
	return true;
}

int ldr_rel_for(const struct bpfvm_object *obj, uint32_t sec)
{
	return sec < obj->sec_cnt ? obj->secs[sec].rel : -1;
}
