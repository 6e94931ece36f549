/* objdump.c -- bpfvm_disasm_object(): an ELF BPF object as `llvm-objdump -d` (and -dr) prints it, byte
 * for byte: the "file format" line, each non-empty executable section, a label at each symbol (one per
 * address: the last by name, as llvm-objdump without --show-all-symbols; the section's name where no
 * symbol starts it), each instruction with its index, raw bytes and LLVM-syntax text (isa's
 * disassembler), "<sym+0xN>" after a jump, and with -r the relocations under the instruction they patch.
 * The object is untrusted input, read through the loader's ELF reader: what is not a relocatable BPF
 * ELF object is an error with its reason, never a listing of garbage. */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>

#include "loader.h"
#include "objdump.h"
#include "../isa/isa.h"
#include "../sys.h"

struct out {
	char *buf;
	size_t len, pos;
};

PRINTF_FMT(2, 3)
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL, o->pos < o->len ? o->len - o->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

/* A label candidate of one section: llvm-objdump's SymbolInfoTy (address, name). */
struct label {
	uint64_t addr;
	const char *name;
};

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The labels of section `sec`, sorted as llvm-objdump sorts them (address, then name): every symbol of
 * the section with a name, but section and file symbols; a dummy named after the section at 0 when no
 * symbol is there.  Returns the count, or -ENOMEM. */
static long section_labels(const struct bpfvm_object *obj, uint32_t sec, struct label **out)
{
	size_t n = 0;
	struct label *l = malloc((obj->sym_cnt + 1) * sizeof(*l));

	if (!l)
		return -ENOMEM;
	for (size_t i = 1; i < obj->sym_cnt; i++) {
		const struct ldr_sym *y = &obj->syms[i];
		if (y->shndx == sec && sec < SHN_LORESERVE && y->name[0] && y->type != STT_SECTION && y->type != STT_FILE)
			l[n++] = (struct label){ y->value, y->name };
	}
	qsort(l, n, sizeof(*l), label_cmp);
	if (!n || l[0].addr != 0) {
		memmove(l + 1, l, n * sizeof(*l));
		l[0] = (struct label){ 0, obj->secs[sec].name };
		n++;
	}
	*out = l;
	return (long)n;
}

/* The last label at or before `addr` (llvm-objdump's partition_point search); labels[0] is at 0. */
static const struct label *label_at_or_before(const struct label *l, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n; /* first index whose address is above addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &l[lo - 1] : NULL;
}

static const char *rel_type_name(uint32_t type)
{
	switch (type) {
	case 0: return "R_BPF_NONE";
	case 1: return "R_BPF_64_64";
	case 2: return "R_BPF_64_ABS64";
	case 3: return "R_BPF_64_ABS32";
	case 4: return "R_BPF_64_NODYLD32";
	case 10: return "R_BPF_64_32";
	default: return "Unknown";
	}
}

struct rel {
	uint64_t off;
	uint32_t sym, type;
};

static int rel_cmp(const void *a, const void *b)
{
	const struct rel *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The relocations patching section `sec`, sorted by offset (llvm-objdump sorts them too). */
static long section_rels(struct bpfvm_object *obj, uint32_t sec, struct rel **out)
{
	int rs = ldr_rel_for(obj, sec);
	size_t n = ldr_elf_rel_cnt(obj, rs);
	struct rel *r = malloc((n ? n : 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!ldr_elf_rel(obj, rs, i, &r[i].off, &r[i].sym, &r[i].type)) {
			free(r);
			return ldr_err(obj, obj->secs[rs].name, -EINVAL, "relocation %zu is outside the section", i);
		}
		if (r[i].sym >= obj->sym_cnt) {
			uint32_t sym = r[i].sym;
			free(r);
			return ldr_err(obj, obj->secs[rs].name, -EINVAL, "relocation %zu: symbol %u is not below the symbol count %zu",
				       i, sym, obj->sym_cnt);
		}
	}
	qsort(r, n, sizeof(*r), rel_cmp);
	*out = r;
	return (long)n;
}

/* What llvm-objdump prints for a relocation's target: the section's name for a section symbol, "*ABS*"
 * for symbol 0, else the symbol's name. */
static const char *rel_target(const struct bpfvm_object *obj, uint32_t sym)
{
	const struct ldr_sym *y = &obj->syms[sym];
	if (sym == 0)
		return "*ABS*";
	if (y->type == STT_SECTION)
		return y->shndx < obj->sec_cnt ? obj->secs[y->shndx].name : "";
	return y->name;
}

/* The byte address a jump at `addr` goes to, as BPFMCInstrAnalysis::evaluateBranch() computes it (in
 * 64-bit unsigned arithmetic, so a jump before the section wraps), or false for other instructions
 * (calls included: llvm-objdump labels no local call). */
static bool branch_target(const struct bpf_insn *in, int id, uint64_t addr, uint64_t *target)
{
	if (!isa_has_target(id) || (isa_info[id].flags & F_CALL))
		return false;
	int64_t rel = isa_target_in_imm(id) ? in->imm : in->off;
	*target = addr + 8 + (uint64_t)rel * 8;
	return true;
}

struct dis {
	struct bpfvm_object *obj;
	struct out *o;
	int flags;
	uint32_t sec;
	const struct od_core *core; /* CO-RE relocations (with BPFVM_DISASM_RELOCS), or NULL */
	const struct label *labels;
	size_t label_cnt;
	const struct rel *rels;
	size_t rel_cnt, rel_cur;
};

static void put_bytes(struct dis *d, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(d->o, i ? " %02x" : "%02x", b[i]);
}

/* Relocations of the bytes [from, to): every one not printed yet below `to`, as llvm-objdump does. */
static void put_rels(struct dis *d, uint64_t to)
{
	if (!(d->flags & BPFVM_DISASM_RELOCS))
		return;
	for (; d->rel_cur < d->rel_cnt && d->rels[d->rel_cur].off < to; d->rel_cur++) {
		const struct rel *r = &d->rels[d->rel_cur];
		put(d->o, "\t\t%016" PRIx64 ":  %s\t%s\n", r->off, rel_type_name(r->type), rel_target(d->obj, r->sym));
	}
}

/* The CO-RE relocation of the instruction at `addr`, if any ("\t\t<addr>:  CO-RE <what>"). */
static void put_core(struct dis *d, uint64_t addr)
{
	char small[512];
	size_t n = od_core_line(d->core, d->sec, addr, small, sizeof(small));
	if (!n)
		return;
	char *text = small;
	if (n >= sizeof(small) && (text = malloc(n + 1)))
		od_core_line(d->core, d->sec, addr, text, n + 1);
	put(d->o, "\t\t%016" PRIx64 ":  CO-RE %s\n", addr, text ? text : small);
	if (text != small)
		free(text);
}

/* LLVM 19 without --mcpu=v3/v4 decodes the 32-bit atomics with its generic table, which has only XADDW
 * ("lock *(u32 *)(rD + off) += rS"), and reads 32-bit fetch-add as that too; the others are <unknown>
 * there.  (isa's disassembler prints what the instruction is; this is for byte-exact listings.) */
static void generic_atomic32(const struct bpf_insn *in, int id, unsigned fl, char *text, size_t len)
{
	if (id == ISA_AADD32 || id == ISA_AFADD32) {
		struct bpf_insn t = in[0];
		t.imm = 0;
		isa_disasm_one_ex(&t, 1, fl, text, len);
	} else {
		snprintf(text, len, "<unknown>");
	}
}

/* One region of a section: the instructions from `start` up to (not including) `end`. */
static void put_region(struct dis *d, const struct ldr_sec *s, uint64_t start, uint64_t end)
{
	unsigned fl = ((d->flags & BPFVM_DISASM_ALU32) ? ISA_DISASM_ALU32 : 0) |
		      ((d->flags & BPFVM_DISASM_HEX) ? ISA_DISASM_HEX : 0);
	bool raw = !(d->flags & BPFVM_DISASM_NO_RAW);

	/* relocations of bytes before the region (a region not printed) are skipped */
	while (d->rel_cur < d->rel_cnt && d->rels[d->rel_cur].off < start)
		d->rel_cur++;
	for (uint64_t addr = start; addr < end;) {
		struct bpf_insn in[2]; /* copied: section bytes need not be aligned in the file */
		size_t avail = (size_t)((s->data.len - addr) / sizeof(struct bpf_insn));
		memset(in, 0, sizeof(in));
		memcpy(in, s->data.p + addr, (avail < 2 ? avail : 2) * sizeof(struct bpf_insn));
		int id = avail ? isa_decode(in) : -1;
		if (!avail || (id >= 0 && (isa_info[id].flags & F_WIDE) && avail < 2)) {
			/* less than an instruction left (or a truncated lddw): LLVM's decoder consumes nothing and
			 * llvm-objdump steps one byte, to decode again from there */
			put(d->o, "%8" PRIu64 ":\t", addr / 8);
			if (raw)
				put(d->o, "%02x\t", s->data.p[addr]);
			put(d->o, "<unknown>\n");
			if (d->core)
				put_core(d, addr);
			addr++;
			put_rels(d, addr);
			continue;
		}
		char text[160];
		size_t slots = isa_disasm_one_ex(in, avail, fl, text, sizeof(text));
		if (id >= 0 && !(fl & ISA_DISASM_ALU32) && (isa_info[id].flags & F_ATOMIC) && isa_info[id].size == 4 &&
		    !(isa_info[id].flags & F_ACQREL))
			generic_atomic32(in, id, fl, text, sizeof(text));
		put(d->o, "%8" PRIu64 ":\t", addr / 8);
		if (raw) {
			put_bytes(d, s->data.p + addr, slots * sizeof(struct bpf_insn));
			put(d->o, "\t");
		}
		put(d->o, "%s", text);
		uint64_t target;
		if (id >= 0 && branch_target(in, id, addr, &target)) {
			const struct label *t = label_at_or_before(d->labels, d->label_cnt, target);
			if (t && target == t->addr)
				put(d->o, " <%s>", t->name);
			else if (t)
				put(d->o, " <%s+0x%" PRIx64 ">", t->name, target - t->addr);
		}
		put(d->o, "\n");
		if (d->core)
			put_core(d, addr);
		addr += slots * sizeof(struct bpf_insn);
		put_rels(d, addr);
	}
}

/* One executable section, or the part of it that function `func` covers. */
static int put_section(struct bpfvm_object *obj, struct out *o, uint32_t sec, const struct ldr_sym *func, int flags,
		       const struct od_core *core)
{
	const struct ldr_sec *s = &obj->secs[sec];
	struct label *labels = NULL;
	struct rel *rels = NULL;
	long nl = section_labels(obj, sec, &labels);
	long nr = nl < 0 ? nl : section_rels(obj, sec, &rels);
	if (nl < 0 || nr < 0) {
		free(labels);
		return nl < 0 ? ldr_err(obj, s->name, (int)nl, "out of memory") : (int)nr;
	}
	struct dis d = { obj, o, flags, sec, core, labels, (size_t)nl, rels, (size_t)nr, 0 };
	/* a function's bytes: its symbol's value and size, within the section */
	uint64_t lo = 0, hi = s->data.len;
	if (func) {
		lo = func->value < hi ? func->value : hi;
		if (func->size && func->size <= hi - lo) /* size 0 (a bare label): to the section's end */
			hi = lo + func->size;
	}

	put(o, "\nDisassembly of section %s:\n", s->name);
	for (size_t i = 0; i < d.label_cnt;) {
		/* all labels at one address make one location; llvm-objdump prints the last (by name) */
		size_t j = i;
		while (j + 1 < d.label_cnt && labels[j + 1].addr == labels[i].addr)
			j++;
		uint64_t start = labels[i].addr, end = j + 1 < d.label_cnt ? labels[j + 1].addr : s->data.len;
		i = j + 1;
		if (end > hi)
			end = hi;
		if (start < lo || start >= end) /* outside the function, or at/after the section's end */
			continue;
		put(o, "\n%016" PRIx64 " <%s>:\n", start, labels[j].name);
		put_region(&d, s, start, end);
	}
	free(labels);
	free(rels);
	return 0;
}

long bpfvm_disasm_object(struct bpfvm *vm, const char *name, const void *buf, size_t len, const char *func, int flags,
			 char *text, size_t text_len)
{
	struct bpfvm_object obj;
	struct out o = { text, text_len, 0 };
	struct od_core *core = NULL;
	long ret = 0;

	sys_log_reset(vm);
	if (text_len)
		text[0] = '\0';
	if (!name)
		name = "mem.o";
	if (!buf && len)
		return sys_err(vm, -EINVAL, "%s: NULL buffer of %zu bytes", name, len);
	memset(&obj, 0, sizeof(obj));
	obj.vm = vm;
	obj.file = (struct span){ buf, len };
	snprintf(obj.name, sizeof(obj.name), "%s", strrchr(name, '/') ? strrchr(name, '/') + 1 : name);
	int err = ldr_elf_read(&obj);
	if (err) {
		ret = err;
		goto out;
	}
	const struct ldr_sym *want = NULL;
	if (func) {
		for (size_t i = 1; i < obj.sym_cnt && !want; i++) {
			const struct ldr_sym *y = &obj.syms[i];
			if (y->type == STT_FUNC && !strcmp(y->name, func) && y->shndx < obj.sec_cnt &&
			    (obj.secs[y->shndx].flags & SHF_EXECINSTR))
				want = y;
		}
		if (!want) {
			ret = ldr_err(&obj, NULL, -ENOENT, "no function '%s' in the object's code", func);
			goto out;
		}
	}
	/* llvm-objdump reads BTF only for -r, and lists CO-RE relocations only when it could read all of it */
	core = (flags & BPFVM_DISASM_RELOCS) ? od_core_load(&obj) : NULL;
	put(&o, "\n%s:\tfile format elf64-bpf\n", name);
	for (uint32_t i = 1; i < obj.sec_cnt; i++) {
		const struct ldr_sec *s = &obj.secs[i];
		if (!(s->flags & SHF_EXECINSTR) || s->type == SHT_NOBITS || !s->data.len || (want && want->shndx != i))
			continue;
		if ((err = put_section(&obj, &o, i, want, flags, core))) {
			ret = err;
			goto out;
		}
	}
	ret = (long)o.pos;
out:
	od_core_free(core);
	free(obj.funcs);
	free(obj.syms);
	free(obj.secs);
	return ret;
}
