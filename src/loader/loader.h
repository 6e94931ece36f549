/* loader.h -- the object loader's one internal header: ELF64 little-endian reading (elf.c), BTF
 * (btf.c), SEC() names (sec.c), map definitions and global data (maps.c), relocations, subprogram
 * linking and CO-RE (reloc.c), and the public bpfvm_object_* API (object.c).
 *
 * Everything in the object file is untrusted: the loader keeps its own copy of the bytes, reads them only
 * through spans with checked arithmetic, and turns every inconsistency into a located message
 * ("prog.o: section .maps: BTF type 12: ...") and a negative errno.  Names point into the copy and are
 * checked to be NUL-terminated inside their string table when they are read.
 * Maps and programs are created through the public bpf() interface only, exactly as libbpf does. */
#ifndef BPFVM_LOADER_H
#define BPFVM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>
#include <linux/btf.h>

#include <bpfvm.h>

struct isa_line; /* src/isa/isa.h */
#include "../util/util.h"

struct bpfvm;

/* ---- ELF ------------------------------------------------------------------------------------ */

enum ldr_sec_kind {
	LDR_SEC_OTHER = 0,
	LDR_SEC_PROG,      /* executable, with a SEC() name: its global functions are programs */
	LDR_SEC_TEXT,      /* .text: subprograms only */
	LDR_SEC_MAPS,      /* .maps (BTF-defined maps) */
	LDR_SEC_LEGACY,    /* maps (struct bpf_map_def) */
	LDR_SEC_DATA,      /* .data, .data.* */
	LDR_SEC_RODATA,    /* .rodata, .rodata.* */
	LDR_SEC_BSS,       /* .bss, .bss.* */
	LDR_SEC_LICENSE,
	LDR_SEC_VERSION,
	LDR_SEC_BTF,
	LDR_SEC_BTF_EXT,
	LDR_SEC_SYMTAB,
	LDR_SEC_REL,
};

struct ldr_sec {
	const char *name;
	uint32_t type, link, info;
	uint64_t flags, off, size, entsize;
	struct span data;        /* the bytes (empty for SHT_NOBITS) */
	enum ldr_sec_kind kind;
	int map;                 /* global data: index of its map, else -1 */
	int rel;                 /* index of the SHT_REL section for it, else -1 */
};

struct ldr_sym {
	const char *name;        /* "" when unnamed */
	uint8_t type, bind;
	uint16_t shndx;
	uint64_t value, size;
};

/* A function in an executable section, from its FUNC symbol. */
struct ldr_func {
	const char *name;
	uint32_t sec;
	size_t off, cnt;         /* instruction index in the section and count */
	bool entry;              /* a program (global, in a SEC() section) rather than a subprogram */
	bool notype;             /* from an STT_NOTYPE symbol (old clang): see elf.c legacy_funcs() */
};

/* ---- BTF ------------------------------------------------------------------------------------ */

struct ldr_btf {
	struct span types, strs;
	uint32_t *offs;          /* type id -> offset in `types`; id 0 (void) has none */
	uint32_t cnt;            /* number of ids including 0 */
};

#define LDR_BTF_MAX_DEPTH 32   /* libbpf's MAX_RESOLVE_DEPTH: longer chains are loops */

/* Parses .BTF.  Returns 0 and *out (free with ldr_btf_free), or a negative errno with a message
 * "file: section .BTF: ..." in the log. */
struct bpfvm_object;
int ldr_btf_parse(struct bpfvm_object *obj, struct span data, struct ldr_btf **out);
void ldr_btf_free(struct ldr_btf *btf);
/* The NUL-terminated string at `off`, or NULL when off or its terminator is outside the string section. */
const char *ldr_btf_str(const struct ldr_btf *btf, uint32_t off);
/* Reads the common header of type `id` (id 0 is void: false).  false when id is not a type. */
bool ldr_btf_type(const struct ldr_btf *btf, uint32_t id, struct btf_type *t);
/* The bytes after the header of type `id` (members, params, array, ...), already bounds-checked at parse. */
struct span ldr_btf_extra(const struct ldr_btf *btf, uint32_t id);
/* Skips typedef/const/volatile/restrict/type_tag.  Errors (bad id, loop) are logged against `sec`. */
int ldr_btf_skip_mods(struct bpfvm_object *obj, const char *sec, uint32_t id, uint32_t *out);
/* The byte size of type `id` (arrays multiplied out, pointers 8).  Logged errors: bad id, loop,
 * a type without a size, overflow. */
int ldr_btf_size(struct bpfvm_object *obj, const char *sec, uint32_t id, uint32_t *size);
/* The type id whose kind is `kind` and name is `name`, or 0. */
uint32_t ldr_btf_find(const struct ldr_btf *btf, const char *name, uint32_t kind);

/* ---- SEC() names ------------------------------------------------------------------------------ */

/* libbpf's section_defs: the program type and expected attach type for a SEC() name.  false when the
 * name is not a program section. */
bool ldr_sec_prog_type(const char *sec_name, uint32_t *prog_type, uint32_t *attach_type);
/* samples/bpf's bpf_load.c and libbpf < 0.7: the type from a prefix of the name ("xdp1", "socket2").
 * For names ldr_sec_prog_type() does not know only.  false when no prefix matches. */
bool ldr_sec_legacy_prog_type(const char *sec_name, uint32_t *prog_type, uint32_t *attach_type);

/* ---- maps --------------------------------------------------------------------------------------- */

enum ldr_map_kind {
	LDR_MAP_BTF,             /* from .maps */
	LDR_MAP_LEGACY,          /* from the `maps` section */
	LDR_MAP_DATA,            /* global data section */
};

/* An initial slot of a prog array or map-in-map: `sym` (a map or a function) goes to index `idx`. */
struct ldr_slot {
	uint32_t idx;
	uint32_t sym;
};

struct ldr_map {
	const char *real_name;   /* the C variable or the section name: lookups use this */
	char name[BPF_OBJ_NAME_LEN]; /* the name given to MAP_CREATE (libbpf's naming for data maps) */
	enum ldr_map_kind kind;
	uint32_t type, key_size, value_size, max_entries, map_flags, numa_node;
	uint64_t map_extra;
	uint32_t value_type;     /* BTF id of __type(value, T), 0 when not given (for struct bpf_spin_lock) */
	uint32_t key_type;       /* BTF id of __type(key, T) (the pointer type, as value_type), 0 when not given */
	uint32_t pinning;        /* LIBBPF_PIN_NONE / LIBBPF_PIN_BY_NAME */
	uint32_t sec;            /* section of the definition or the data */
	uint64_t sec_off;        /* offset of the definition (symbol value) */
	struct ldr_map *inner;   /* map-in-map: the inner map template (owned), else NULL */
	struct ldr_slot *slots;  /* owned */
	size_t slot_cnt;
	bool rodata;
	int fd;                  /* -1 until created */
};

/* Collects every map: BTF .maps, legacy maps, global data.  Called by object open after ELF parsing. */
int ldr_maps_collect(struct bpfvm_object *obj);
/* Creates (or reuses pinned) maps, fills data maps and initial slots, freezes .rodata.  Called by load
 * once programs exist for prog array slots: phase 0 creates maps, phase 1 fills slots. */
int ldr_maps_create(struct bpfvm_object *obj);
int ldr_maps_fill_slots(struct bpfvm_object *obj);
void ldr_map_fini(struct ldr_map *m);
/* map_btf.c: gives the created map m (of obj->maps) the object's BTF and its key and value type ids,
 * for dumps of its pins.  0 also when there is none to give or the map has one already. */
int ldr_map_keep_btf(struct bpfvm_object *obj, const struct ldr_map *m);
/* The map defined at (sec, off), or -1. */
int ldr_map_at(const struct bpfvm_object *obj, uint32_t sec, uint64_t off);

/* ---- programs and relocation ------------------------------------------------------------------- */

struct ldr_prog {
	const char *name;
	const char *sec_name;
	uint32_t sec;
	size_t func;             /* index in obj->funcs */
	uint32_t prog_type, attach_type;
	struct bpf_insn *insns;  /* linked code (owned), built by ldr_prog_link */
	size_t insn_cnt;
	int fd;                  /* -1 until loaded */
	struct isa_line *lines;   /* source lines of the linked code (.BTF.ext line info), by ldr_prog_link */
	size_t line_cnt;
	bool autoload;           /* libbpf's: off for SEC("?...") or by bpfvm_object_prog_set_autoload() */
	uint32_t log_level;      /* PROG_LOAD's verifier log (bpfvm_object_prog_set_log()): 0 none */
	char *log_buf;           /* the caller's */
	size_t log_size;
};

/* Links program `p`: copies its code, appends every subprogram it calls (transitively), and resolves
 * every relocation (maps, global data, calls, function addresses) and CO-RE relocation.  Needs the maps
 * created.  Errors are "file: section S: insn N: ...". */
int ldr_prog_link(struct bpfvm_object *obj, struct ldr_prog *p);

/* The section index holding a relocation table for `sec`, or -1. */
int ldr_rel_for(const struct bpfvm_object *obj, uint32_t sec);

/* ---- the object --------------------------------------------------------------------------------- */

struct bpfvm_object {
	struct bpfvm *vm;
	char name[128];          /* file basename, for messages */
	char obj_name[BPF_OBJ_NAME_LEN]; /* libbpf's obj->name: basename up to the first '.' */
	uint8_t *buf;            /* own copy of the file */
	struct span file;
	struct ldr_sec *secs;
	size_t sec_cnt;
	struct ldr_sym *syms;
	size_t sym_cnt;
	struct ldr_func *funcs;
	size_t func_cnt;
	struct ldr_prog *progs;
	size_t prog_cnt;
	struct ldr_map *maps;
	size_t map_cnt;
	struct ldr_btf *btf;     /* NULL without .BTF */
	uint8_t *map_btf;        /* map_btf.c: the .BTF its maps keep (owned), made at the first map */
	size_t map_btf_len;
	struct span btf_ext;
	int maps_sec, legacy_sec, text_sec; /* -1 when absent */
	char license[128];
	unsigned int legacy;     /* BPFVM_LEGACY_*: the old conventions this object needed */
	bool loaded;
};

/* A new, empty object over `len` bytes at buf, which it owns from here on (freed by
 * bpfvm_object_close(), or here when it fails), named by the last part of the path `name`, with no
 * sections known yet.  NULL (buf freed, "name: out of memory" logged) when out of memory. */
struct bpfvm_object *ldr_obj_new(struct bpfvm *vm, const char *name, uint8_t *buf, size_t len);

/* Logs "file: section S: <msg>" (or "file: <msg>" when sec is NULL) and returns err. */
int ldr_err(struct bpfvm_object *obj, const char *sec, int err, const char *fmt, ...) PRINTF_FMT(4, 5);

/* Parses the ELF header, sections and symbols into obj (elf.c), then the functions of executable
 * sections, which must be whole instructions (what loading needs). */
int ldr_elf_parse(struct bpfvm_object *obj);
/* Only the header, sections (classified, relocation tables attached) and symbols: all a listing needs. */
int ldr_elf_read(struct bpfvm_object *obj);
/* The relocation `i` of REL section `rel`: offset, symbol index, type.  false when out of bounds. */
bool ldr_elf_rel(const struct bpfvm_object *obj, int rel, size_t i, uint64_t *off, uint32_t *sym, uint32_t *type);
size_t ldr_elf_rel_cnt(const struct bpfvm_object *obj, int rel);

#endif
