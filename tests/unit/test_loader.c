/* test_loader.c -- the object loader: BPF C objects from tests/loader/ compiled with clang (skipped with a
 * reason when clang or libbpf's headers are missing), opened, loaded and run; and deliberately broken
 * objects derived from a good one, each of which must fail with its exact message. */
#include <elf.h>
#include <errno.h>
#include <linux/btf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpfvm.h>
#include "test.h"
#include "test_util.h"

static char tmpdir[256];
static uint8_t *basic_buf;
static size_t basic_len;

/* tests/loader/<name>.bpf.c built into tmpdir/<name>.bpf.o (path in out); 0 or clang's failure. */
static int compile(const char *name, char *out, size_t out_len)
{
	char src[256];
	snprintf(out, out_len, "%s/%s.bpf.o", tmpdir, name);
	snprintf(src, sizeof(src), "tests/loader/%s.bpf.c", name);
	return test_clang(src, out, NULL);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	return (uint8_t *)test_read_file(path, len);
}

static struct bpfvm *new_vm(void)
{
	return test_vm(2, tmpdir);
}

static int find_prog(struct bpfvm_object *obj, const char *name)
{
	for (size_t i = 0; i < bpfvm_object_prog_cnt(obj); i++)
		if (!strcmp(bpfvm_object_prog_name(obj, i), name))
			return (int)i;
	return -1;
}

static uint64_t run(struct bpfvm *vm, int fd)
{
	uint8_t mem[64] = { 0 };
	uint64_t r = UINT64_MAX;
	int err = bpfvm_prog_run(vm, fd, BPFVM_ENGINE_INTERP, mem, sizeof(mem), &r);
	if (err)
		printf("  run fd %d: %d %s\n", fd, err, bpfvm_errmsg(vm));
	return r;
}

static int lookup(struct bpfvm *vm, int fd, uint32_t key, void *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)&key;
	a.value = (uintptr_t)val;
	return (int)bpfvm_bpf(vm, BPF_MAP_LOOKUP_ELEM, &a, sizeof(a));
}

TEST(open_basic)
{
	if (!basic_buf)
		SKIP("clang could not build tests/loader/basic.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "basic.bpf.o", basic_buf, basic_len, &obj), 0);
	if (!obj) {
		printf("  %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return;
	}
	CHECK_EQ_STR(bpfvm_object_license(obj), "GPL");
	CHECK_EQ_U64(bpfvm_object_prog_cnt(obj), 18);
	static const struct {
		const char *name, *sec;
		uint32_t type, attach;
	} want[] = {
		{ "xdp_first", "xdp", BPF_PROG_TYPE_XDP, BPF_XDP },
		{ "xdp_second", "xdp", BPF_PROG_TYPE_XDP, BPF_XDP },
		{ "tail_target", "xdp", BPF_PROG_TYPE_XDP, BPF_XDP },
		{ "tc_prog", "tc", BPF_PROG_TYPE_SCHED_CLS, 0 },
		{ "sock_prog", "socket", BPF_PROG_TYPE_SOCKET_FILTER, 0 },
		{ "kp", "kprobe/do_sys_open", BPF_PROG_TYPE_KPROBE, 0 },
		{ "krp", "kretprobe/do_sys_open", BPF_PROG_TYPE_KPROBE, 0 },
		{ "tp", "tracepoint/syscalls/sys_enter_open", BPF_PROG_TYPE_TRACEPOINT, 0 },
		{ "rtp", "raw_tp/sys_enter", BPF_PROG_TYPE_RAW_TRACEPOINT, 0 },
		{ "pe", "perf_event", BPF_PROG_TYPE_PERF_EVENT, 0 },
		{ "cgi", "cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS },
		{ "cge", "cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS },
		{ "skv", "sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT },
		{ "sops", "sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS },
		{ "tci", "tc/ingress", BPF_PROG_TYPE_SCHED_CLS, 46 },
		{ "tcxe", "tcx/egress", BPF_PROG_TYPE_SCHED_CLS, 47 },
		{ "xdpf", "xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP },
		{ "sysc", "syscall", BPF_PROG_TYPE_SYSCALL, 0 },
	};
	for (size_t i = 0; i < (sizeof(want) / sizeof(want[0])); i++) {
		int p = find_prog(obj, want[i].name);
		CHECK(p >= 0);
		if (p < 0)
			continue;
		CHECK_EQ_STR(bpfvm_object_prog_section(obj, (size_t)p), want[i].sec);
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, (size_t)p), want[i].type);
		CHECK_EQ_U64(bpfvm_object_prog_attach_type(obj, (size_t)p), want[i].attach);
	}
	CHECK(find_prog(obj, "global_add") < 0); /* .text functions are subprograms */
	CHECK(find_prog(obj, "twice") < 0);
	/* maps: 6 BTF + 1 legacy + 5 global data sections */
	CHECK_EQ_U64(bpfvm_object_map_cnt(obj), 12);
	CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "xdp_first"), (uint64_t)-EBADF); /* not loaded yet */
	CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "nope"), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_object_map_fd(obj, "counters"), (uint64_t)-EBADF);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

TEST(load_and_run_basic)
{
	if (!basic_buf)
		SKIP("clang could not build tests/loader/basic.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "basic.bpf.o", basic_buf, basic_len, &obj), 0);
	if (!obj) {
		bpfvm_free(vm);
		return;
	}
	int err = bpfvm_object_load(obj);
	CHECK_EQ_U64(err, 0);
	if (err) {
		printf("  load: %s\n", bpfvm_errmsg(vm));
		goto out;
	}
	CHECK_EQ_U64(bpfvm_object_load(obj), (uint64_t)-EINVAL); /* twice */

	/* map types and libbpf's names */
	struct {
		const char *name;
		uint32_t type;
	} maps[] = {
		{ "counters", BPF_MAP_TYPE_ARRAY }, { "sized_hash", BPF_MAP_TYPE_HASH }, { "outer", BPF_MAP_TYPE_ARRAY_OF_MAPS },
		{ "jumps", BPF_MAP_TYPE_PROG_ARRAY }, { "legacy_hash", BPF_MAP_TYPE_HASH }, { ".rodata", BPF_MAP_TYPE_ARRAY },
		{ "basic.rodata", BPF_MAP_TYPE_ARRAY }, { ".rodata.cfg", BPF_MAP_TYPE_ARRAY }, { "basic.data", BPF_MAP_TYPE_ARRAY },
		{ "basic.bss", BPF_MAP_TYPE_ARRAY }, { ".data.custom", BPF_MAP_TYPE_ARRAY },
	};
	for (size_t i = 0; i < (sizeof(maps) / sizeof(maps[0])); i++)
		CHECK(bpfvm_object_map_fd(obj, maps[i].name) >= 0);
	int hfd = bpfvm_object_map_fd(obj, "sized_hash");
	struct bpf_map_info info;
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)hfd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)), 0);
	CHECK_EQ_U64(info.type, BPF_MAP_TYPE_HASH);
	CHECK_EQ_U64(info.key_size, 8);
	CHECK_EQ_U64(info.value_size, 16);
	CHECK_EQ_U64(info.max_entries, 128);
	CHECK_EQ_U64(info.map_flags, BPF_F_NO_PREALLOC);
	CHECK_EQ_STR(info.name, "sized_hash");
	memset(&info, 0, sizeof(info));
	a.info.bpf_fd = (uint32_t)bpfvm_object_map_fd(obj, ".rodata");
	a.info.info_len = sizeof(info);
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a)), 0);
	CHECK_EQ_STR(info.name, "basic.rodata");
	CHECK_EQ_U64(info.value_size, 4);
	CHECK_EQ_U64(info.map_flags & BPF_F_RDONLY_PROG, BPF_F_RDONLY_PROG);

	/* programs run: subprograms, global data, bpf_loop callback, maps */
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "xdp_second")), 13);
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "tc_prog")), 155);
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "tail_target")), XDP_DROP);
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "xdp_first")), XDP_PASS);
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "xdp_first")), XDP_PASS);
	CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "sock_prog")), 42);
	uint64_t v64 = 0;
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "counters"), 1, &v64), 0);
	CHECK_EQ_U64(v64, 2);
	uint8_t data[16] = { 0 };
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, ".data"), 0, data), 0);
	memcpy(&v64, data, 8);
	CHECK_EQ_U64(v64, 9); /* hits = 7, +2 */
	uint32_t v32;
	memcpy(&v32, data + 8, 4);
	CHECK_EQ_U64(v32, 6); /* static_counter = 5, +1 */
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, ".bss"), 0, &v32), 0);
	CHECK_EQ_U64(v32, 2);
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "legacy_hash"), 0, &v64), 0);
	CHECK_EQ_U64(v64, 42);
	/* .rodata is frozen: user space cannot write it */
	v32 = 9;
	uint32_t k0 = 0;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)bpfvm_object_map_fd(obj, ".rodata");
	a.key = (uintptr_t)&k0;
	a.value = (uintptr_t)&v32;
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a)), (uint64_t)-EPERM);
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, ".rodata"), 0, &v32), 0);
	CHECK_EQ_U64(v32, 3);
	/* initial slots: outer[0], outer[2] hold maps, jumps[1] the program */
	uint32_t id = 0;
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "outer"), 0, &id), 0);
	CHECK(id != 0);
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "outer"), 1, &id), (uint64_t)-ENOENT);
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "outer"), 2, &id), 0);
	id = 0;
	int jr = lookup(vm, bpfvm_object_map_fd(obj, "jumps"), 1, &id);
	CHECK(jr == 0 && id != 0);
	CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "jumps"), 0, &id), (uint64_t)-ENOENT);

	/* linked code of xdp_second: its 11 insns, then global_add (7), then twice (3) */
	int p = find_prog(obj, "xdp_second");
	size_t cnt = 0;
	const struct bpf_insn *in = bpfvm_object_prog_insns(obj, (size_t)p, &cnt);
	CHECK_EQ_U64(cnt, 21);
	if (in && cnt == 21) {
		CHECK_EQ_U64(in[0].src_reg, BPF_PSEUDO_MAP_VALUE);
		CHECK_EQ_U64(in[4].code, BPF_JMP | BPF_CALL);
		CHECK_EQ_U64(in[4].imm, 11 - 4 - 1);     /* global_add at 11 */
		CHECK_EQ_U64(in[7].imm, 18 - 7 - 1);     /* twice at 18 */
		CHECK_EQ_U64(in[14].imm, 18 - 14 - 1);   /* global_add's call of twice */
	}
out:
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

TEST(open_file_errors)
{
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open(vm, "/nonexistent/x.o", &obj), (uint64_t)-ENOENT);
	CHECK(strstr(bpfvm_errmsg(vm), "/nonexistent/x.o: cannot read") != NULL);
	CHECK(obj == NULL);
	bpfvm_object_close(NULL);
	bpfvm_free(vm);
}

/* ---- broken objects ------------------------------------------------------------------------------ */

/* A writable copy of the good object with helpers to find its parts (the test trusts the good file). */
struct mut {
	uint8_t *b;
	size_t len;
};

static Elf64_Ehdr *ehdr(struct mut *m)
{
	return (Elf64_Ehdr *)(void *)m->b;
}

static Elf64_Shdr *shdr(struct mut *m, size_t i)
{
	return (Elf64_Shdr *)(void *)(m->b + ehdr(m)->e_shoff + i * sizeof(Elf64_Shdr));
}

static int sec_by_name(struct mut *m, const char *name)
{
	Elf64_Shdr *str = shdr(m, ehdr(m)->e_shstrndx);
	for (size_t i = 1; i < ehdr(m)->e_shnum; i++)
		if (!strcmp((const char *)m->b + str->sh_offset + shdr(m, i)->sh_name, name))
			return (int)i;
	return -1;
}

static Elf64_Sym *sym_by_name(struct mut *m, const char *name)
{
	int st = -1;
	for (size_t i = 1; i < ehdr(m)->e_shnum; i++)
		if (shdr(m, i)->sh_type == SHT_SYMTAB)
			st = (int)i;
	Elf64_Shdr *s = shdr(m, (size_t)st), *str = shdr(m, s->sh_link);
	for (size_t i = 0; i < s->sh_size / sizeof(Elf64_Sym); i++) {
		Elf64_Sym *y = (Elf64_Sym *)(void *)(m->b + s->sh_offset + i * sizeof(Elf64_Sym));
		if (!strcmp((const char *)m->b + str->sh_offset + y->st_name, name))
			return y;
	}
	return NULL;
}

static struct btf_header *btf_hdr(struct mut *m)
{
	return (struct btf_header *)(void *)(m->b + shdr(m, (size_t)sec_by_name(m, ".BTF"))->sh_offset);
}

/* The BTF type `id` header and its id by name and kind (0 when absent). */
static struct btf_type *btf_type_at(struct mut *m, uint32_t want, uint32_t *id_out, const char *name, uint32_t kind)
{
	struct btf_header *h = btf_hdr(m);
	uint8_t *types = (uint8_t *)h + h->hdr_len + h->type_off;
	const char *strs = (const char *)h + h->hdr_len + h->str_off;
	uint32_t id = 1;
	for (uint32_t off = 0; off < h->type_len; id++) {
		struct btf_type *t = (struct btf_type *)(void *)(types + off);
		uint32_t k = BTF_INFO_KIND(t->info), vlen = BTF_INFO_VLEN(t->info);
		if ((want && id == want) || (!want && k == kind && (!name || !strcmp(strs + t->name_off, name)))) {
			if (id_out)
				*id_out = id;
			return t;
		}
		off += sizeof(*t);
		switch (k) {
		case BTF_KIND_INT: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG: off += 4; break;
		case BTF_KIND_ARRAY: off += 12; break;
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_DATASEC: case BTF_KIND_ENUM64: off += 12 * vlen; break;
		case BTF_KIND_ENUM: case BTF_KIND_FUNC_PROTO: off += 8 * vlen; break;
		default: break;
		}
	}
	return NULL;
}

static void expect_fail(const char *what, struct mut *m, bool load, int want_err, const char *want_msg)
{
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	int err = bpfvm_object_open_mem(vm, "prog.o", m->b, m->len, &obj);
	if (!err && load)
		err = bpfvm_object_load(obj);
	const char *msg = bpfvm_errmsg(vm);
	if (err != want_err || !strstr(msg, want_msg)) {
		printf("  %s: got %d \"%s\", want %d \"%s\"\n", what, err, msg, want_err, want_msg);
		test_cur_failed = 1;
	}
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

static struct mut fresh(void)
{
	struct mut m = { malloc(basic_len), basic_len };
	memcpy(m.b, basic_buf, basic_len);
	return m;
}

TEST(broken_elf)
{
	if (!basic_buf)
		SKIP("clang could not build tests/loader/basic.bpf.c");
	struct mut m = fresh();

	m.len = 10;
	expect_fail("short", &m, false, -EINVAL, "prog.o: ELF: file of 10 bytes is shorter than an ELF header (64)");
	m.len = basic_len;
	m.b[0] = 0;
	expect_fail("magic", &m, false, -EINVAL, "prog.o: ELF: bad magic (not an ELF file)");
	m.b[0] = 0x7f;
	m.b[EI_CLASS] = ELFCLASS32;
	expect_fail("class", &m, false, -EINVAL, "prog.o: ELF: class 1 is not ELFCLASS64");
	m.b[EI_CLASS] = ELFCLASS64;
	m.b[EI_DATA] = ELFDATA2MSB;
	expect_fail("endian", &m, false, -EINVAL, "prog.o: ELF: data encoding 2 is not little-endian");
	m.b[EI_DATA] = ELFDATA2LSB;
	ehdr(&m)->e_machine = 62;
	expect_fail("machine", &m, false, -EINVAL, "prog.o: ELF: machine 62 is not BPF (247)");
	ehdr(&m)->e_machine = 247;
	ehdr(&m)->e_type = ET_EXEC;
	expect_fail("type", &m, false, -EINVAL, "prog.o: ELF: type 2 is not a relocatable object (ET_REL)");
	ehdr(&m)->e_type = ET_REL;
	ehdr(&m)->e_shentsize = 32;
	expect_fail("shentsize", &m, false, -EINVAL, "prog.o: ELF: e_shentsize 32 is not 64");
	ehdr(&m)->e_shentsize = 64;
	uint64_t shoff = ehdr(&m)->e_shoff;
	ehdr(&m)->e_shoff = basic_len - 100;
	expect_fail("shoff", &m, false, -EINVAL, "is outside the file");
	ehdr(&m)->e_shoff = shoff;
	uint16_t shstr = ehdr(&m)->e_shstrndx;
	ehdr(&m)->e_shstrndx = ehdr(&m)->e_shnum;
	expect_fail("shstrndx", &m, false, -EINVAL, "ELF: section name table index");
	ehdr(&m)->e_shstrndx = shstr;

	/* truncated file: section data past the end (the section table moved to the front is still read) */
	struct mut t = fresh();
	t.len = basic_len / 2;
	memcpy(t.b + 64, basic_buf + shoff, (size_t)ehdr(&t)->e_shnum * 64 < t.len - 64 ? (size_t)ehdr(&t)->e_shnum * 64 : 0);
	ehdr(&t)->e_shoff = 64;
	expect_fail("truncated", &t, false, -EINVAL, "data (offset");
	free(t.b);

	int xdp = sec_by_name(&m, "xdp");
	Elf64_Shdr *sx = shdr(&m, (size_t)xdp);
	uint32_t nm = sx->sh_name;
	sx->sh_name = 0x7fffffff;
	expect_fail("section name", &m, false, -EINVAL, "prog.o: ELF: section 3: name offset 2147483647 is outside the section name table");
	sx->sh_name = nm;
	uint64_t sz = sx->sh_size;
	sx->sh_size = 0x1000000;
	expect_fail("section size", &m, false, -EINVAL, "data (offset");
	sx->sh_size = sz + 4;
	expect_fail("section not insns", &m, false, -EINVAL, "prog.o: section xdp: size 284 is not a multiple of the insn size 8");
	sx->sh_size = sz;

	Elf64_Sym *y = sym_by_name(&m, "xdp_second");
	uint16_t shndx = y->st_shndx;
	y->st_shndx = 999;
	expect_fail("symbol shndx", &m, false, -EINVAL, "symbol 39 'xdp_second': section index 999 is not below the section count");
	y->st_shndx = shndx;
	uint32_t yn = y->st_name;
	y->st_name = 0xfffffff0;
	expect_fail("symbol name", &m, false, -EINVAL, "name offset 4294967280 is outside the string table");
	y->st_name = yn;
	uint64_t yv = y->st_value;
	y->st_value = 4;
	expect_fail("func offset", &m, false, -EINVAL, "prog.o: section xdp: function 'xdp_second': offset 4 or size 88 is not a whole number of insns");
	y->st_value = 0x10000;
	expect_fail("func range", &m, false, -EINVAL, "prog.o: section xdp: function 'xdp_second': offset 65536 + size 88 is outside the section (280 bytes)");
	y->st_value = yv;

	/* relocations */
	int rx = sec_by_name(&m, ".relxdp");
	Elf64_Rel *r = (Elf64_Rel *)(void *)(m.b + shdr(&m, (size_t)rx)->sh_offset);
	uint64_t info = r[0].r_info;
	r[0].r_info = ELF64_R_INFO(5000, 1);
	expect_fail("reloc symbol", &m, true, -EINVAL, "prog.o: section xdp: insn 6: relocation symbol index 5000 is not below the symbol count 65");
	r[0].r_info = info;
	uint64_t roff = r[0].r_offset;
	r[0].r_offset = roff + 3;
	expect_fail("reloc offset", &m, true, -EINVAL, "prog.o: section xdp: relocation at offset 51 is not at an insn boundary");
	r[0].r_offset = 0x10; /* xdp_first insn 0: a mov, not lddw */
	expect_fail("reloc insn", &m, true, -EINVAL, "prog.o: section xdp: insn 2: relocation to 'counters' on an insn that is neither lddw nor call (code 0xb4)");
	r[0].r_offset = roff;
	r[0].r_info = ELF64_R_INFO(ELF64_R_SYM(info), 10);
	expect_fail("reloc type", &m, true, -EINVAL, "prog.o: section xdp: insn 6: lddw relocation type 10 is not R_BPF_64_64");
	r[0].r_info = info;
	Elf64_Shdr *rs = shdr(&m, (size_t)rx);
	uint32_t rinfo = rs->sh_info;
	rs->sh_info = 4000;
	expect_fail("rel target", &m, false, -EINVAL, "prog.o: section .relxdp: target section index 4000 is not below the section count 52");
	rs->sh_info = rinfo;

	/* a call into the middle of nowhere */
	struct bpf_insn *code = (struct bpf_insn *)(void *)(m.b + sx->sh_offset);
	int32_t imm = code[31].imm;
	code[31].imm = 1000; /* xdp_second's call of twice, relocated against .text */
	expect_fail("call target", &m, true, -EINVAL, "prog.o: section .text: insn 31: call target insn 1001 of section .text is not inside a function");
	code[31].imm = imm;
	/* the load error of PROG_LOAD is located in the object */
	struct bpf_insn saved = code[22];
	code[22].code = 0xff; /* xdp_first insn 20 */
	expect_fail("bad opcode", &m, true, -EINVAL, "prog.o: section xdp: insn 22: ");
	code[22] = saved;

	/* license string longer than the section: cut, still loads */
	free(m.b);
}

TEST(broken_btf)
{
	if (!basic_buf)
		SKIP("clang could not build tests/loader/basic.bpf.c");
	struct mut m = fresh();
	struct btf_header *h = btf_hdr(&m);

	h->magic = 0x1234;
	expect_fail("btf magic", &m, false, -EINVAL, "prog.o: section .BTF: bad magic 0x1234");
	h->magic = BTF_MAGIC;
	uint32_t tl = h->type_len;
	h->type_len = 0x7fffffff;
	expect_fail("btf type_len", &m, false, -EINVAL, "prog.o: section .BTF: type section (offset 0, length 2147483647) is outside");
	h->type_len = tl;
	uint32_t sl = h->str_len;
	h->str_len = sl - 1; /* no final NUL */
	expect_fail("btf strings", &m, false, -EINVAL, "prog.o: section .BTF: string section must start and end with a NUL byte");
	h->str_len = sl;

	/* the definition of `counters`: member 'type' is `int (*)[2]`; point it at a bad type id */
	uint32_t sid = 0;
	struct btf_type *vt = btf_type_at(&m, 0, NULL, "counters", BTF_KIND_VAR);
	CHECK(vt != NULL);
	if (!vt)
		goto out;
	sid = vt->type;
	struct btf_type *st = btf_type_at(&m, sid, NULL, NULL, 0);
	CHECK(st && BTF_INFO_KIND(st->info) == BTF_KIND_STRUCT);
	struct btf_member *mb = (struct btf_member *)(st + 1);
	uint32_t mt = mb[0].type;
	mb[0].type = 100000;
	expect_fail("btf bad id", &m, false, -EINVAL, "prog.o: section .maps: BTF type 100000: type id is not below the type count");
	mb[0].type = mt;
	/* a loop: a typedef/const chain that points to itself */
	uint32_t cid = 0;
	struct btf_type *ct = btf_type_at(&m, 0, &cid, NULL, BTF_KIND_TYPEDEF);
	CHECK(ct != NULL);
	if (ct) {
		uint32_t ot = ct->type;
		ct->type = cid;
		mb[0].type = cid;
		char want[128];
		snprintf(want, sizeof(want), "prog.o: section .maps: BTF type %u: modifier chain longer than 32 (a loop?)", cid);
		expect_fail("btf loop", &m, false, -ELOOP, want);
		ct->type = ot;
		mb[0].type = mt;
	}
	/* the member is not a pointer */
	mb[0].type = sid;
	char want[160];
	snprintf(want, sizeof(want), "prog.o: section .maps: map 'counters': BTF type %u: attr 'type': expected a pointer (__uint)", sid);
	expect_fail("btf not ptr", &m, false, -EINVAL, want);
	mb[0].type = mt;
	/* a name offset outside the strings */
	uint32_t no = st->name_off;
	st->name_off = 0x7ffffff0;
	expect_fail("btf name", &m, false, -EINVAL, "name offset 2147483632 is outside the string section");
	st->name_off = no;
	/* an unknown kind */
	uint32_t inf = st->info;
	st->info = (inf & ~(0x1fu << 24)) | (30u << 24);
	expect_fail("btf kind", &m, false, -EINVAL, "prog.o: section .BTF: type ");
	st->info = inf;
	/* map def without 'type' */
	uint32_t mn = mb[0].name_off;
	mb[0].name_off = mb[1].name_off; /* two max_entries, no type */
	snprintf(want, sizeof(want), "prog.o: section .maps: map 'counters': BTF type %u: no 'type'", sid);
	expect_fail("btf no type", &m, false, -EINVAL, want);
	mb[0].name_off = mn;
	/* untouched again: opens */
	expect_fail("restored", &m, false, 0, "");
out:
	free(m.b);
}

/* Random byte flips of the good object must fail or succeed cleanly (the sanitizer build checks). */
TEST(mutations_never_crash)
{
	if (!basic_buf)
		SKIP("clang could not build tests/loader/basic.bpf.c");
	struct mut m = fresh();
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	int opened = 0;
	for (int round = 0; round < 600; round++) {
		memcpy(m.b, basic_buf, basic_len);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			/* mostly headers, tables and BTF: the first and last parts of the file */
			size_t pos = (size_t)(seed >> 8) % basic_len;
			m.b[pos] ^= (uint8_t)(1u << ((seed >> 3) & 7));
		}
		struct bpfvm *vm = new_vm();
		struct bpfvm_object *obj = NULL;
		if (!bpfvm_object_open_mem(vm, "fuzz.o", m.b, m.len, &obj)) {
			opened++;
			if (round % 8 == 0)
				bpfvm_object_load(obj);
			bpfvm_object_close(obj);
		} else {
			CHECK(strncmp(bpfvm_errmsg(vm), "fuzz.o: ", 8) == 0);
		}
		bpfvm_free(vm);
	}
	CHECK(opened > 0);
	free(m.b);
}

/* Compiles tests/loader/<name>.bpf.c and returns its bytes (NULL when clang is unavailable). */
static uint8_t *build(const char *name, size_t *len)
{
	char path[512];
	if (compile(name, path, sizeof(path)))
		return NULL;
	return read_file(path, len);
}

static int open_load(struct bpfvm *vm, const char *name, const uint8_t *b, size_t len, struct bpfvm_object **out)
{
	int err = bpfvm_object_open_mem(vm, name, b, len, out);
	if (err)
		return err;
	return bpfvm_object_load(*out);
}

TEST(core_relocations)
{
	size_t len;
	uint8_t *b = build("core", &len);
	if (!b)
		SKIP("clang could not build tests/loader/core.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	int err = open_load(vm, "core.bpf.o", b, len, &obj);
	CHECK_EQ_U64(err, 0);
	if (err)
		printf("  %s\n", bpfvm_errmsg(vm));
	size_t cnt = 0;
	const struct bpf_insn *in = obj ? bpfvm_object_prog_insns(obj, 0, &cnt) : NULL;
	CHECK(cnt >= 13);
	if (in && cnt >= 13) {
		CHECK_EQ_U64(in[0].off, 12);   /* ingress_ifindex: local 4, UAPI 12 */
		CHECK_EQ_U64(in[1].off, 16);   /* rx_queue_index: local 0, UAPI 16 */
		CHECK_EQ_U64(in[4].imm, 0);    /* field_exists(not_in_uapi) */
		CHECK_EQ_U64(in[7].imm, 4);    /* field_size(ingress_ifindex) */
		CHECK_EQ_U64(in[10].imm, 24);  /* type_size: sizeof(struct xdp_md) */
	}
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	free(b);
}

TEST(core_unknown_type_fails)
{
	size_t len;
	uint8_t *b = build("core_bad", &len);
	if (!b)
		SKIP("clang could not build tests/loader/core_bad.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(open_load(vm, "prog.o", b, len, &obj), (uint64_t)-ESRCH);
	CHECK(strstr(bpfvm_errmsg(vm), "prog.o: section kprobe/do_exit: prog 'bad': relo #0: byte_off of 'struct task_struct' "
					"(access '0:0'): no such type in bpfvm (only UAPI context types)") != NULL);
	CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "bad"), (uint64_t)-EBADF); /* all or nothing */
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	free(b);
}

TEST(unknown_section_fails_at_load)
{
	size_t len;
	uint8_t *b = build("badsec", &len);
	if (!b)
		SKIP("clang could not build tests/loader/badsec.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "prog.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_cnt(obj), 1);
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, 0), 0);
		CHECK_EQ_STR(bpfvm_object_license(obj), "Dual BSD/GPL");
		CHECK_EQ_U64(bpfvm_object_load(obj), (uint64_t)-EINVAL);
		CHECK(strstr(bpfvm_errmsg(vm), "prog.o: section no_such_type/x: program 'odd': unknown SEC() name") != NULL);
	}
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	free(b);
}

/* An Ethernet + IPv4 frame of 60 bytes (the payload is not looked at). */
static size_t ipv4_frame(uint8_t *f)
{
	memset(f, 0, 60);
	memcpy(f, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00\x45", 15);
	f[17] = 46; /* IP total length */
	return 60;
}

TEST(section_names_and_autoload)
{
	size_t len;
	uint8_t *b = build("secnames", &len);
	if (!b)
		SKIP("clang could not build tests/loader/secnames.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "sec.o", b, len, &obj), 0);
	if (!obj) {
		printf("  %s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		free(b);
		return;
	}
	static const struct {
		const char *name, *sec;
		uint32_t type, attach;
		int autoload;
	} want[] = {
		{ "cls", "classifier", BPF_PROG_TYPE_SCHED_CLS, 0, 1 },
		{ "act", "action", BPF_PROG_TYPE_SCHED_ACT, 0, 1 },
		{ "tcxi", "tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, 46 /* BPF_TCX_INGRESS */, 1 },
		{ "up", "uprobe/usr/bin/true:main", BPF_PROG_TYPE_KPROBE, 0, 1 },
		{ "skv", "sk_skb/verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_VERDICT, 1 },
		{ "lazy", "xdp", BPF_PROG_TYPE_XDP, BPF_XDP, 0 },     /* SEC("?xdp"): the '?' is not in the name */
		{ "bad_write", "tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0 },
	};
	CHECK_EQ_U64(bpfvm_object_prog_cnt(obj), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int p = find_prog(obj, want[i].name);
		CHECK(p >= 0);
		if (p < 0)
			continue;
		CHECK_EQ_STR(bpfvm_object_prog_section(obj, (size_t)p), want[i].sec);
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, (size_t)p), want[i].type);
		CHECK_EQ_U64(bpfvm_object_prog_attach_type(obj, (size_t)p), want[i].attach);
		CHECK_EQ_U64(bpfvm_object_prog_autoload(obj, (size_t)p), want[i].autoload);
	}
	CHECK_EQ_U64(bpfvm_object_prog_autoload(obj, 99), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_object_prog_set_autoload(obj, 99, 1), (uint64_t)-ENOENT);
	/* as libbpf: the '?' programs are skipped (bad_write would fail PROG_LOAD), the others load */
	CHECK_EQ_U64(bpfvm_object_load(obj), 0);
	CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "lazy"), (uint64_t)-EBADF);
	CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "bad_write"), (uint64_t)-EBADF);
	CHECK_EQ_U64(bpfvm_object_prog_set_autoload(obj, (size_t)find_prog(obj, "lazy"), 1), (uint64_t)-EBUSY);
	for (size_t i = 0; i < 5; i++)
		CHECK(bpfvm_object_prog_fd(obj, want[i].name) >= 0);

	/* SCHED_ACT runs as tc does: on a packet, and in PROG_TEST_RUN with the mark written back */
	uint8_t pkt[64], out[64];
	size_t n = ipv4_frame(pkt), out_len = 0;
	struct bpfvm_pkt_result res;
	int act = bpfvm_object_prog_fd(obj, "act");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, act, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, n);
	CHECK_EQ_U64(res.action, BPFVM_PKT_PASS); /* 60 is no TC_ACT_* that drops or redirects */
	CHECK_EQ_U64(out_len, n);
	struct __sk_buff ctx;
	memset(&ctx, 0, sizeof(ctx));
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)act;
	a.test.data_in = (uintptr_t)pkt;
	a.test.data_size_in = (uint32_t)n;
	a.test.ctx_out = (uintptr_t)&ctx;
	a.test.ctx_size_out = sizeof(ctx);
	CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), 0);
	CHECK_EQ_U64(a.test.retval, n);
	CHECK_EQ_U64(ctx.mark, 0x5a);
	int cls = bpfvm_object_prog_fd(obj, "cls");
	CHECK_EQ_U64(bpfvm_prog_run_packet(vm, cls, pkt, n, out, sizeof(out), &out_len, &res), 0);
	CHECK_EQ_U64(res.retval, 0); /* TC_ACT_OK for IPv4 */
	bpfvm_object_close(obj);

	/* turned on before load: lazy loads; bad_write makes the whole load fail with the verifier's words */
	obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "sec.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_set_autoload(obj, (size_t)find_prog(obj, "lazy"), 1), 0);
		CHECK_EQ_U64(bpfvm_object_load(obj), 0);
		CHECK(bpfvm_object_prog_fd(obj, "lazy") >= 0);
		bpfvm_object_close(obj);
	}
	obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "sec.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_set_autoload(obj, (size_t)find_prog(obj, "bad_write"), 1), 0);
		CHECK_EQ_U64(bpfvm_object_load(obj), (uint64_t)-EACCES);
		CHECK(strstr(bpfvm_errmsg(vm), "sec.o: section tc: insn 1: invalid bpf_context access off=0 size=4 "
					       "(program 'bad_write')") != NULL);
		CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "act"), (uint64_t)-EBADF); /* all or nothing */
		bpfvm_object_close(obj);
	}
	bpfvm_free(vm);
	free(b);
}

TEST(pin_by_name_reuses)
{
	size_t len;
	uint8_t *b = build("pin", &len);
	if (!b)
		SKIP("clang could not build tests/loader/pin.bpf.c");
	struct bpfvm *vm1 = new_vm(), *vm2 = new_vm();
	struct bpfvm_object *o1 = NULL, *o2 = NULL;
	CHECK_EQ_U64(open_load(vm1, "pin.bpf.o", b, len, &o1), 0);
	CHECK_EQ_U64(run(vm1, bpfvm_object_prog_fd(o1, "bump")), 1);
	CHECK_EQ_U64(run(vm1, bpfvm_object_prog_fd(o1, "bump")), 2);
	char pinned[600];
	snprintf(pinned, sizeof(pinned), "%s/shared_cnt", tmpdir);
	CHECK(access(pinned, F_OK) == 0);
	/* a second instance (as another process would) reuses the pinned map */
	int err = open_load(vm2, "pin.bpf.o", b, len, &o2);
	CHECK_EQ_U64(err, 0);
	if (err)
		printf("  %s\n", bpfvm_errmsg(vm2));
	CHECK_EQ_U64(run(vm2, bpfvm_object_prog_fd(o2, "bump")), 3);
	CHECK_EQ_U64(run(vm1, bpfvm_object_prog_fd(o1, "bump")), 4);
	bpfvm_object_close(o1);
	bpfvm_object_close(o2);
	bpfvm_free(vm1);
	bpfvm_free(vm2);
	unlink(pinned);
	free(b);
}

/* ---- old-style objects (legacy mode) ---------------------------------------------------------------- */

/* Rewrites symbols as old clang wrote them: every STT_FUNC symbol (name NULL) or the one named `name`
 * gets type `type`, binding `bind` and size `size`.  Returns how many it changed. */
static int patch_syms(uint8_t *b, size_t len, const char *name, int type, int bind, uint64_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	int n = 0;
	for (size_t i = 0; i < eh->e_shnum; i++) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff + i * sizeof(Elf64_Shdr));
		if (sh->sh_type != SHT_SYMTAB)
			continue;
		const Elf64_Shdr *st = (const Elf64_Shdr *)(b + eh->e_shoff + sh->sh_link * sizeof(Elf64_Shdr));
		for (size_t j = 0; j < sh->sh_size / sizeof(Elf64_Sym) && sh->sh_offset + sh->sh_size <= len; j++) {
			Elf64_Sym *y = (Elf64_Sym *)(b + sh->sh_offset + j * sizeof(Elf64_Sym));
			const char *yn = (const char *)b + st->sh_offset + y->st_name;
			if (name ? strcmp(yn, name) : ELF64_ST_TYPE(y->st_info) != STT_FUNC)
				continue;
			y->st_info = ELF64_ST_INFO(bind, type);
			y->st_size = size;
			n++;
		}
	}
	return n;
}

static const struct {
	const char *name, *sec;
	uint32_t type, attach;
} legacy_want[] = {
	{ "x1", "xdp1", BPF_PROG_TYPE_XDP, 0 },            /* bpf_load.c: prefix "xdp", no attach type */
	{ "x0", "xdp", BPF_PROG_TYPE_XDP, BPF_XDP },       /* libbpf 1.x's reading wins */
	{ "s2", "socket2", BPF_PROG_TYPE_SOCKET_FILTER, 0 },
	{ "cl", "classifier_egress", BPF_PROG_TYPE_SCHED_CLS, 0 },
	{ "cg", "cgroup/skb1", BPF_PROG_TYPE_CGROUP_SKB, 0 },
	{ "so", "sockops_1", BPF_PROG_TYPE_SOCK_OPS, 0 },
	{ "lw", "lwt_xmit_a", BPF_PROG_TYPE_LWT_XMIT, 0 },
	{ "pe", "perf_event_x", BPF_PROG_TYPE_PERF_EVENT, 0 },
	{ "kp", "kprobe/sys_write", BPF_PROG_TYPE_KPROBE, 0 },
};

static void check_legacy_progs(struct bpfvm_object *obj)
{
	CHECK_EQ_U64(bpfvm_object_prog_cnt(obj), sizeof(legacy_want) / sizeof(legacy_want[0]));
	for (size_t i = 0; i < sizeof(legacy_want) / sizeof(legacy_want[0]); i++) {
		int p = find_prog(obj, legacy_want[i].name);
		CHECK(p >= 0);
		if (p < 0)
			continue;
		CHECK_EQ_STR(bpfvm_object_prog_section(obj, (size_t)p), legacy_want[i].sec);
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, (size_t)p), legacy_want[i].type);
		CHECK_EQ_U64(bpfvm_object_prog_attach_type(obj, (size_t)p), legacy_want[i].attach);
	}
}

TEST(legacy_section_prefixes)
{
	size_t len;
	uint8_t *b = build("legacy", &len);
	if (!b)
		SKIP("clang could not build tests/loader/legacy.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(open_load(vm, "legacy.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_legacy(obj), BPFVM_LEGACY_SEC_PREFIX);
		check_legacy_progs(obj);
		for (size_t i = 0; i < bpfvm_object_prog_cnt(obj); i++)
			CHECK(bpfvm_object_prog_fd_at(obj, i) >= 0);
		CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "x1")), XDP_PASS);
	}
	bpfvm_object_close(obj);

	/* libbpf 1.x objects are not legacy; one with a `maps` section is */
	obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "basic.o", basic_buf, basic_len, &obj), 0);
	if (obj)
		CHECK_EQ_U64(bpfvm_object_legacy(obj), BPFVM_LEGACY_MAPS);
	bpfvm_object_close(obj);
	size_t slen;
	uint8_t *sb = build("secnames", &slen);
	obj = NULL;
	CHECK(sb && bpfvm_object_open_mem(vm, "sec.o", sb, slen, &obj) == 0);
	if (obj)
		CHECK_EQ_U64(bpfvm_object_legacy(obj), 0);
	bpfvm_object_close(obj);
	free(sb);
	bpfvm_free(vm);
	free(b);
}

/* Old clang: function symbols typed STT_NOTYPE (size 0).  Each section's global NOTYPE symbol at offset
 * 0 is its program; a local one is a label, not a program; a size that is not whole insns is refused. */
TEST(legacy_notype_symbols)
{
	size_t len;
	uint8_t *b = build("legacy", &len);
	if (!b)
		SKIP("clang could not build tests/loader/legacy.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(patch_syms(b, len, NULL, STT_NOTYPE, STB_GLOBAL, 0), 9);
	CHECK_EQ_U64(open_load(vm, "old.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_legacy(obj), BPFVM_LEGACY_SEC_PREFIX | BPFVM_LEGACY_NOTYPE);
		check_legacy_progs(obj);
		CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "x0")), XDP_DROP);
	}
	bpfvm_object_close(obj);

	obj = NULL;
	CHECK_EQ_U64(patch_syms(b, len, "x1", STT_NOTYPE, STB_LOCAL, 0), 1);
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "old.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_cnt(obj), 8);
		CHECK(find_prog(obj, "x1") < 0);
	}
	bpfvm_object_close(obj);

	obj = NULL;
	CHECK_EQ_U64(patch_syms(b, len, "x1", STT_NOTYPE, STB_GLOBAL, 13), 1);
	CHECK_EQ_U64(bpfvm_object_open_mem(vm, "old.o", b, len, &obj), (uint64_t)-EINVAL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "old.o: section xdp1: program 'x1' (STT_NOTYPE at offset 0): size 13 is not a whole "
				       "number of insns inside the section (16 bytes)");
	bpfvm_free(vm);
	free(b);
}

/* Objects compiled here from `src` into tmpdir/<name>.bpf.o; NULL when clang is unavailable. */
static uint8_t *build_src(const char *name, const char *src, size_t *len)
{
	char c_path[512], o_path[512];
	snprintf(c_path, sizeof(c_path), "%s/%s.c", tmpdir, name);
	snprintf(o_path, sizeof(o_path), "%s/%s.bpf.o", tmpdir, name);
	FILE *f = fopen(c_path, "w");
	if (!f)
		return NULL;
	fputs(src, f);
	fclose(f);
	if (test_clang(c_path, o_path, "-g0"))
		return NULL;
	return read_file(o_path, len);
}

#define LEGACY_HDR "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"

/* `maps` records of other sizes than 20 (libbpf 0.x: the section size over the map count; a shorter
 * record leaves the later fields 0, bytes past the known ones must be 0) and bpf_load.c's
 * inner_map_idx for maps of maps.  Built without -g: no BTF, as old objects had none. */
TEST(legacy_map_records)
{
	size_t len;
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	/* 16 bytes: no map_flags */
	uint8_t *b = build_src("rec16", LEGACY_HDR
		"struct def16 { unsigned int type, key_size, value_size, max_entries; };\n"
		"struct def16 SEC(\"maps\") a = { BPF_MAP_TYPE_ARRAY, 4, 8, 4 };\n"
		"struct def16 SEC(\"maps\") h = { BPF_MAP_TYPE_HASH, 4, 8, 16 };\n"
		"SEC(\"xdp1\") int p(struct xdp_md *c) { unsigned int k = 2; long v = 7, *x = bpf_map_lookup_elem(&a, &k);\n"
		"  if (x) *x = 41; bpf_map_update_elem(&h, &k, &v, 0); return XDP_PASS; }\n", &len);
	if (!b) {
		bpfvm_free(vm);
		SKIP("clang could not build a test object");
	}
	CHECK_EQ_U64(open_load(vm, "rec16.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_legacy(obj), BPFVM_LEGACY_SEC_PREFIX | BPFVM_LEGACY_MAPS);
		CHECK_EQ_U64(bpfvm_object_map_cnt(obj), 2);
		CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "p")), XDP_PASS);
		uint64_t v = 0;
		CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "a"), 2, &v), 0);
		CHECK_EQ_U64(v, 41);
		CHECK_EQ_U64(lookup(vm, bpfvm_object_map_fd(obj, "h"), 2, &v), 0);
		CHECK_EQ_U64(v, 7);
	}
	bpfvm_object_close(obj);
	free(b);

	/* 32 bytes: zero past bpf_load.c's 28 is fine, anything else is refused */
	static const char rec32[] = LEGACY_HDR
		"struct def32 { unsigned int type, key_size, value_size, max_entries, flags, inner, numa, extra; };\n"
		"struct def32 SEC(\"maps\") a = { BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, 0, 0, EXTRA };\n"
		"SEC(\"socket1\") int p(struct __sk_buff *s) { unsigned int k = 0; long *x = bpf_map_lookup_elem(&a, &k);\n"
		"  return x ? 1 : 0; }\n";
	char src[1024];
	snprintf(src, sizeof(src), "#define EXTRA 0\n%s", rec32);
	obj = NULL;
	b = build_src("rec32", src, &len);
	CHECK(b && open_load(vm, "rec32.o", b, len, &obj) == 0);
	bpfvm_object_close(obj);
	free(b);
	snprintf(src, sizeof(src), "#define EXTRA 5\n%s", rec32);
	obj = NULL;
	b = build_src("rec32x", src, &len);
	CHECK(b && bpfvm_object_open_mem(vm, "rec32x.o", b, len, &obj) == -EINVAL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "rec32x.o: section maps: map 'a': unknown non-zero bytes in the definition at +28");
	free(b);

	/* maps of maps: the inner template is the record at inner_map_idx */
	static const char mim[] = LEGACY_HDR
		"struct bpf_load_map_def { unsigned int type, key_size, value_size, max_entries, flags, inner, numa; };\n"
		"struct bpf_load_map_def SEC(\"maps\") inner = { BPF_MAP_TYPE_ARRAY, 4, 8, 2 };\n"
		"struct bpf_load_map_def SEC(\"maps\") outer = { OUTER_TYPE, 4, 4, 2, 0, INNER_IDX };\n"
		"SEC(\"xdp1\") int p(struct xdp_md *c) { unsigned int k = 0; void *m = bpf_map_lookup_elem(&outer, &k);\n"
		"  if (!m) return XDP_DROP; long *x = bpf_map_lookup_elem(m, &k); if (x) *x += 5; return XDP_PASS; }\n";
	snprintf(src, sizeof(src), "#define OUTER_TYPE BPF_MAP_TYPE_ARRAY_OF_MAPS\n#define INNER_IDX 0\n%s", mim);
	obj = NULL;
	b = build_src("mim", src, &len);
	CHECK(b && open_load(vm, "mim.o", b, len, &obj) == 0);
	if (obj) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_ARRAY, a.key_size = 4, a.value_size = 8, a.max_entries = 2;
		int in = (int)bpfvm_bpf(vm, BPF_MAP_CREATE, &a, sizeof(a));
		uint32_t k = 0, fd = (uint32_t)in;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)bpfvm_object_map_fd(obj, "outer"), a.key = (uintptr_t)&k, a.value = (uintptr_t)&fd;
		CHECK_EQ_U64(bpfvm_bpf(vm, BPF_MAP_UPDATE_ELEM, &a, sizeof(a)), 0);
		CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "p")), XDP_PASS);
		uint64_t v = 0;
		CHECK_EQ_U64(lookup(vm, in, 0, &v), 0);
		CHECK_EQ_U64(v, 5);
		bpfvm_close(vm, in);
	}
	bpfvm_object_close(obj);
	free(b);
	snprintf(src, sizeof(src), "#define OUTER_TYPE BPF_MAP_TYPE_ARRAY_OF_MAPS\n#define INNER_IDX 1\n%s", mim);
	obj = NULL;
	b = build_src("mim_self", src, &len);
	CHECK(b && bpfvm_object_open_mem(vm, "mim.o", b, len, &obj) == -EINVAL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "mim.o: section maps: map 'outer': inner_map_idx 1 names no other map definition");
	free(b);
	snprintf(src, sizeof(src), "#define OUTER_TYPE BPF_MAP_TYPE_ARRAY\n#define INNER_IDX 3\n%s", mim);
	b = build_src("mim_plain", src, &len);
	CHECK(b && bpfvm_object_open_mem(vm, "mim.o", b, len, &obj) == -EINVAL);
	CHECK_EQ_STR(bpfvm_errmsg(vm), "mim.o: section maps: map 'outer': inner_map_idx 3 on a map that is not a map of maps "
				       "(type 2)");
	free(b);
	bpfvm_free(vm);
}

/* bpf_load.c's numbered sections: "socket/N" goes to slot N of the first map when it is a prog array;
 * "socket/" and "socket/1a" are no numbers; a slot past max_entries fails the load, located. */
/* entry sits in slot 0 of the array it tail-calls through (a cycle: the program holds the array, the
 * array the program), so each close below frees everything only because closing the array's last
 * handle empties it. */
TEST(legacy_prog_array_slots)
{
	static const char src[] = LEGACY_HDR
		"struct def { unsigned int type, key_size, value_size, max_entries; };\n"
		"struct def SEC(\"maps\") jmp = { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4 };\n"
		"struct def SEC(\"maps\") hits = { BPF_MAP_TYPE_ARRAY, 4, 8, 1 };\n"
		"SEC(\"socket/0\") int entry(struct __sk_buff *s) { bpf_tail_call(s, &jmp, 2); return 1; }\n"
		"SEC(\"socket/2\") int two(struct __sk_buff *s) { unsigned int k = 0; long *h = bpf_map_lookup_elem(&hits, &k);\n"
		"  if (h) *h += 1; return 22; }\n"
		"SEC(\"socket/\") int none(struct __sk_buff *s) { return 0; }\n"
		"SEC(\"socket/1a\") int odd(struct __sk_buff *s) { return 0; }\n"
		"SEC(SLOT) int far(struct __sk_buff *s) { return 0; }\n";
	char text[2048];
	size_t len;
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	snprintf(text, sizeof(text), "#define SLOT \"socket/3\"\n%s", src);
	uint8_t *b = build_src("slots", text, &len);
	if (!b) {
		bpfvm_free(vm);
		SKIP("clang could not build a test object");
	}
	CHECK_EQ_U64(open_load(vm, "slots.o", b, len, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_legacy(obj), BPFVM_LEGACY_SEC_PREFIX | BPFVM_LEGACY_MAPS | BPFVM_LEGACY_PROG_ARRAY);
		int jmp = bpfvm_object_map_fd(obj, "jmp");
		for (uint32_t k = 0; k < 4; k++) {
			uint32_t id = 0;
			CHECK_EQ_U64(lookup(vm, jmp, k, &id) == 0, k == 0 || k == 2 || k == 3);
		}
		uint8_t pkt[64] = { 0 };
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)bpfvm_object_prog_fd(obj, "entry");
		a.test.data_in = (uintptr_t)pkt;
		a.test.data_size_in = sizeof(pkt);
		CHECK_EQ_U64(bpfvm_bpf(vm, BPF_PROG_TEST_RUN, &a, sizeof(a)), 0);
		CHECK_EQ_U64(a.test.retval, 22); /* through slot 2 */
	}
	bpfvm_object_close(obj);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	free(b);
	snprintf(text, sizeof(text), "#define SLOT \"socket/9\"\n%s", src);
	obj = NULL;
	b = build_src("slots9", text, &len);
	CHECK(b && bpfvm_object_open_mem(vm, "slots.o", b, len, &obj) == 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_load(obj), (uint64_t)-E2BIG);
		CHECK(strstr(bpfvm_errmsg(vm), "slots.o: section socket/9: program 'far': cannot go to slot 9 of prog array "
					       "'jmp' (bpf_load.c's numbered sections; max_entries 4)") != NULL);
		CHECK_EQ_U64(bpfvm_object_prog_fd(obj, "entry"), (uint64_t)-EBADF); /* all or nothing */
	}
	bpfvm_object_close(obj);
	CHECK_EQ_U64(test_count_ids(vm, BPF_PROG_GET_NEXT_ID), 0);
	CHECK_EQ_U64(test_count_ids(vm, BPF_MAP_GET_NEXT_ID), 0);
	free(b);
	bpfvm_free(vm);
}

/* The type given by the caller, as bpf_program__set_type() / the old loaders: per program after open,
 * or for every program in the open options; names as bpfvm_prog_type_by_name() reads them. */
TEST(legacy_set_type)
{
	CHECK_EQ_U64(bpfvm_prog_type_by_name("xdp"), BPF_PROG_TYPE_XDP);
	CHECK_EQ_U64(bpfvm_prog_type_by_name("socket_filter"), BPF_PROG_TYPE_SOCKET_FILTER);
	CHECK_EQ_U64(bpfvm_prog_type_by_name("sched_cls"), BPF_PROG_TYPE_SCHED_CLS);
	CHECK_EQ_U64(bpfvm_prog_type_by_name("unspec"), BPF_PROG_TYPE_UNSPEC);
	CHECK_EQ_U64(bpfvm_prog_type_by_name("XDP"), (uint64_t)-ENOENT);
	CHECK_EQ_U64(bpfvm_prog_type_by_name(NULL), (uint64_t)-ENOENT);
	CHECK_EQ_STR(bpfvm_prog_type_name(BPF_PROG_TYPE_CGROUP_SOCK_ADDR), "cgroup_sock_addr");
	CHECK(bpfvm_prog_type_name(9999) == NULL);

	char path[512];
	if (compile("badsec", path, sizeof(path)))
		SKIP("clang could not build tests/loader/badsec.bpf.c");
	struct bpfvm *vm = new_vm();
	struct bpfvm_object *obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open(vm, path, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_set_type(obj, 0, 9999), (uint64_t)-EINVAL);
		CHECK_EQ_STR(bpfvm_errmsg(vm), "badsec.bpf.o: section no_such_type/x: program 'odd': program type 9999 is not one "
					       "bpfvm knows");
		CHECK_EQ_U64(bpfvm_object_prog_set_type(obj, 1, BPF_PROG_TYPE_XDP), (uint64_t)-ENOENT);
		CHECK_EQ_U64(bpfvm_object_prog_set_type(obj, 0, BPF_PROG_TYPE_XDP), 0);
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, 0), BPF_PROG_TYPE_XDP);
		CHECK_EQ_U64(bpfvm_object_load(obj), 0);
		CHECK_EQ_U64(run(vm, bpfvm_object_prog_fd(obj, "odd")), 0);
		CHECK_EQ_U64(bpfvm_object_prog_set_type(obj, 0, BPF_PROG_TYPE_XDP), (uint64_t)-EBUSY);
		CHECK_EQ_STR(bpfvm_errmsg(vm), "badsec.bpf.o: section no_such_type/x: program 'odd': type set after load");
		CHECK_EQ_U64(bpfvm_object_legacy(obj), 0); /* a type given is not a legacy reading */
	}
	bpfvm_object_close(obj);

	struct bpfvm_object_opts oo = { .sz = sizeof(oo), .prog_type = BPF_PROG_TYPE_SCHED_CLS };
	obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_opts(vm, path, &oo, &obj), 0);
	if (obj) {
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, 0), BPF_PROG_TYPE_SCHED_CLS);
		CHECK_EQ_U64(bpfvm_object_prog_attach_type(obj, 0), 0);
		CHECK_EQ_U64(bpfvm_object_load(obj), 0);
	}
	bpfvm_object_close(obj);
	oo.prog_type = 9999;
	CHECK_EQ_U64(bpfvm_object_open_opts(vm, path, &oo, &obj), (uint64_t)-EINVAL);
	oo.sz = 4;
	CHECK_EQ_U64(bpfvm_object_open_opts(vm, path, &oo, &obj), (uint64_t)-EINVAL);
	CHECK(strstr(bpfvm_errmsg(vm), "bpfvm_object_opts.sz 4 is too small") != NULL);
	obj = NULL;
	CHECK_EQ_U64(bpfvm_object_open_opts(vm, path, NULL, &obj), 0); /* NULL: as bpfvm_object_open() */
	if (obj)
		CHECK_EQ_U64(bpfvm_object_prog_type(obj, 0), 0);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bpfvm-test-loader-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL setup: mkdtemp\n");
		return 1;
	}
	char path[512];
	if (compile("basic", path, sizeof(path)) == 0)
		basic_buf = read_file(path, &basic_len);
	RUN(open_basic);
	RUN(load_and_run_basic);
	RUN(open_file_errors);
	RUN(broken_elf);
	RUN(broken_btf);
	RUN(mutations_never_crash);
	RUN(core_relocations);
	RUN(core_unknown_type_fails);
	RUN(unknown_section_fails_at_load);
	RUN(pin_by_name_reuses);
	RUN(section_names_and_autoload);
	RUN(legacy_section_prefixes);
	RUN(legacy_notype_symbols);
	RUN(legacy_map_records);
	RUN(legacy_set_type);
	RUN(legacy_prog_array_slots);
	free(basic_buf);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		printf("  cleanup of %s failed\n", tmpdir);
	return test_done();
}
