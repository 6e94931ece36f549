/* reloc.c -- from a program's function to the instructions given to PROG_LOAD, as libbpf's
 * bpf_object__relocate() does:
 *  - subprograms: the program's code comes first; every function it calls (bpf-to-bpf call, src_reg 1) or
 *    takes the address of (lddw src_reg 4) is appended once after it, transitively, and the call's imm is
 *    rewritten to the new relative offset.  Call targets: relocation against a FUNC symbol (global
 *    function: imm -1), against a section symbol (static function: sym value / 8 + imm + 1), or no
 *    relocation (same section: pc + imm + 1);
 *  - R_BPF_64_64 on lddw: map definition -> BPF_PSEUDO_MAP_FD with imm = fd; global data -> BPF_PSEUDO_MAP_VALUE
 *    with imm = fd and the second imm = offset; a function -> BPF_PSEUDO_FUNC;
 *  - CO-RE relocations (.BTF.ext core_relo) against bpfvm's own context types: Linux's UAPI layouts of
 *    struct __sk_buff, xdp_md, bpf_sock, sk_msg_md, bpf_sock_addr (what the program types implement).
 *    A relocation that cannot be resolved fails the load with libbpf's wording
 *    ("prog 'x': relo #3: ...").  Relocations of .BTF/.BTF.ext/.debug sections are ignored, as libbpf does.
 * Every index from the object (symbol, offset, access string) is bounds-checked. */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "../isa/isa.h"

#define R_BPF_64_64_ 1
#define R_BPF_64_32_ 10
#define INSN_SZ sizeof(struct bpf_insn)
#define ISA_MAX_INSNS_LDR 1000000u /* Linux BPF_COMPLEXITY_LIMIT_INSNS, as PROG_LOAD enforces */

struct link {
	struct bpfvm_object *obj;
	struct ldr_prog *p;
	struct bpf_insn *buf;
	size_t cnt, cap;
	size_t *funcs;       /* appended functions (index in obj->funcs) */
	size_t *at;          /* their position in buf */
	size_t func_cnt;
};

static int append_func(struct link *l, size_t fi, size_t *pos)
{
	struct bpfvm_object *obj = l->obj;
	const struct ldr_func *f = &obj->funcs[fi];

	for (size_t i = 0; i < l->func_cnt; i++)
		if (l->funcs[i] == fi) {
			*pos = l->at[i];
			return 0;
		}
	size_t need;
	if (CKD_ADD(&need, l->cnt, f->cnt) || need > ISA_MAX_INSNS_LDR)
		return ldr_err(obj, l->p->sec_name, -E2BIG, "program '%s': more than %u insns with its subprograms",
			       l->p->name, ISA_MAX_INSNS_LDR);
	if (need > l->cap) {
		size_t cap = l->cap ? l->cap : 64;
		while (cap < need)
			cap *= 2;
		struct bpf_insn *nb = realloc(l->buf, cap * INSN_SZ);
		if (!nb)
			return ldr_err(obj, l->p->sec_name, -ENOMEM, "out of memory");
		l->buf = nb;
		l->cap = cap;
	}
	size_t *nf = realloc(l->funcs, (l->func_cnt + 1) * sizeof(*nf));
	if (!nf)
		return ldr_err(obj, l->p->sec_name, -ENOMEM, "out of memory");
	l->funcs = nf;
	size_t *na = realloc(l->at, (l->func_cnt + 1) * sizeof(*na));
	if (!na)
		return ldr_err(obj, l->p->sec_name, -ENOMEM, "out of memory");
	l->at = na;
	/* the function's range was checked against its section when it was collected */
	if (!span_read(obj->secs[f->sec].data, (uint64_t)f->off * INSN_SZ, l->buf + l->cnt, f->cnt * INSN_SZ))
		return ldr_err(obj, obj->secs[f->sec].name, -EINVAL, "function '%s' is outside its section", f->name);
	l->funcs[l->func_cnt] = fi;
	l->at[l->func_cnt] = l->cnt;
	l->func_cnt++;
	*pos = l->cnt;
	l->cnt = need;
	return 0;
}

/* Points the call/lddw at buf[bi] (from function f, insn index si in its section) to section insn
 * `target` of section `tsec`. */
static int link_target(struct link *l, size_t bi, uint32_t tsec, int64_t target, size_t si)
{
	struct bpfvm_object *obj = l->obj;
	const char *sname = obj->secs[tsec].name;

	for (size_t g = 0; g < obj->func_cnt; g++) {
		const struct ldr_func *fn = &obj->funcs[g];
		if (fn->sec != tsec || target < (int64_t)fn->off || target >= (int64_t)(fn->off + fn->cnt))
			continue;
		size_t pos;
		int err = append_func(l, g, &pos);
		if (err)
			return err;
		int64_t rel = (int64_t)(pos + (size_t)(target - (int64_t)fn->off)) - (int64_t)bi - 1;
		l->buf[bi].imm = (int32_t)rel;
		return 0;
	}
	return ldr_err(obj, sname, -EINVAL, "insn %zu: call target insn %lld of section %s is not inside a function", si,
		       (long long)target, sname);
}

static int reloc_one(struct link *l, const struct ldr_func *f, size_t at, uint64_t roff, uint32_t symi, uint32_t rtype)
{
	struct bpfvm_object *obj = l->obj;
	const struct ldr_sec *s = &obj->secs[f->sec];
	size_t si = (size_t)(roff / INSN_SZ), i = si - f->off, bi = at + i;
	struct bpf_insn *in = &l->buf[bi];

	if (roff % INSN_SZ)
		return ldr_err(obj, s->name, -EINVAL, "relocation at offset %llu is not at an insn boundary",
			       (unsigned long long)roff);
	if (symi == 0 || symi >= obj->sym_cnt)
		return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation symbol index %u is not below the symbol count %zu", si,
			       symi, obj->sym_cnt);
	const struct ldr_sym *y = &obj->syms[symi];
	int id = isa_decode(in);
	if (in->code == isa_info[ISA_CALL].opc) { /* any call, whatever src says: the checks below name it */
		if (rtype != R_BPF_64_32_)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: call relocation type %u is not R_BPF_64_32", si, rtype);
		if (id != ISA_CALL_LOCAL)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation on a helper call (src_reg %u)", si, in->src_reg);
		if (y->shndx == SHN_UNDEF || y->shndx >= obj->sec_cnt)
			return ldr_err(obj, s->name, -ENOTSUP, "insn %zu: call to undefined function '%s' (externs are not supported)",
				       si, y->name);
		const struct ldr_sec *ts = &obj->secs[y->shndx];
		if (ts->kind != LDR_SEC_TEXT && y->shndx != f->sec)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: call to '%s' in section %s (only .text or the same section)",
				       si, y->name, ts->name);
		if (y->value % INSN_SZ)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: call target '%s' offset %llu is not at an insn boundary", si,
				       y->name, (unsigned long long)y->value);
		int64_t target = isa_target(in, (size_t)(y->value / INSN_SZ)); /* relative to the symbol */
		return link_target(l, bi, y->shndx, target, si);
	}
	if (id != ISA_LDDW)
		return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation to '%s' on an insn that is neither lddw nor call (code 0x%02x)",
			       si, y->name, in->code);
	if (i + 1 >= f->cnt)
		return ldr_err(obj, s->name, -EINVAL, "insn %zu: lddw is cut off by the end of function '%s'", si, f->name);
	if (rtype != R_BPF_64_64_)
		return ldr_err(obj, s->name, -EINVAL, "insn %zu: lddw relocation type %u is not R_BPF_64_64", si, rtype);
	if (y->shndx == SHN_UNDEF || y->shndx >= obj->sec_cnt)
		return ldr_err(obj, s->name, -ENOTSUP, "insn %zu: extern '%s' is not supported (.kconfig/.ksyms)", si, y->name);
	const struct ldr_sec *ts = &obj->secs[y->shndx];
	switch (ts->kind) {
	case LDR_SEC_MAPS:
	case LDR_SEC_LEGACY: {
		int mi = ldr_map_at(obj, y->shndx, y->value);
		if (mi < 0)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation to '%s' (offset %llu of %s) is not a map definition",
				       si, y->name, (unsigned long long)y->value, ts->name);
		in->src_reg = BPF_PSEUDO_MAP_FD;
		in->imm = obj->maps[mi].fd;
		return 0;
	}
	case LDR_SEC_DATA:
	case LDR_SEC_RODATA:
	case LDR_SEC_BSS: {
		if (ts->map < 0)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation to '%s' in empty section %s", si, y->name, ts->name);
		uint64_t off = y->value + (uint64_t)(int64_t)in->imm;
		if (y->value > ts->size || off >= ts->size)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation to '%s' at offset %lld is outside section %s (%llu bytes)",
				       si, y->name, (long long)(y->value + (uint64_t)(int64_t)in->imm), ts->name,
				       (unsigned long long)ts->size);
		in->src_reg = BPF_PSEUDO_MAP_VALUE;
		in->imm = obj->maps[ts->map].fd;
		in[1].imm = (int32_t)off;
		return 0;
	}
	case LDR_SEC_TEXT:
	case LDR_SEC_PROG: {
		if (y->type != STT_FUNC && y->type != STT_SECTION)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: lddw of '%s' in code section %s is not a function", si, y->name,
				       ts->name);
		int64_t boff = (int64_t)y->value + in->imm;
		if (boff < 0 || boff % (int64_t)INSN_SZ)
			return ldr_err(obj, s->name, -EINVAL, "insn %zu: function address '%s'%+d is not at an insn boundary", si,
				       y->name, in->imm);
		in->src_reg = BPF_PSEUDO_FUNC;
		return link_target(l, bi, y->shndx, boff / (int64_t)INSN_SZ, si);
	}
	default:
		return ldr_err(obj, s->name, -EINVAL, "insn %zu: relocation to '%s' in section %s is not supported", si, y->name,
			       ts->name);
	}
}

/* ---- CO-RE ---------------------------------------------------------------------------------------- */

struct ctx_field {
	const char *type, *field;
	uint32_t off, size;
};

#define F(t, f) { #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f) }
static const struct ctx_field ctx_fields[] = {
	F(__sk_buff, len), F(__sk_buff, pkt_type), F(__sk_buff, mark), F(__sk_buff, queue_mapping),
	F(__sk_buff, protocol), F(__sk_buff, vlan_present), F(__sk_buff, vlan_tci), F(__sk_buff, vlan_proto),
	F(__sk_buff, priority), F(__sk_buff, ingress_ifindex), F(__sk_buff, ifindex), F(__sk_buff, tc_index),
	F(__sk_buff, cb), F(__sk_buff, hash), F(__sk_buff, tc_classid), F(__sk_buff, data), F(__sk_buff, data_end),
	F(__sk_buff, napi_id), F(__sk_buff, family), F(__sk_buff, remote_ip4), F(__sk_buff, local_ip4),
	F(__sk_buff, remote_ip6), F(__sk_buff, local_ip6), F(__sk_buff, remote_port), F(__sk_buff, local_port),
	F(__sk_buff, data_meta), F(__sk_buff, flow_keys), F(__sk_buff, tstamp), F(__sk_buff, wire_len),
	F(__sk_buff, gso_segs), F(__sk_buff, sk), F(__sk_buff, gso_size), F(__sk_buff, tstamp_type),
	F(__sk_buff, hwtstamp),
	F(xdp_md, data), F(xdp_md, data_end), F(xdp_md, data_meta), F(xdp_md, ingress_ifindex),
	F(xdp_md, rx_queue_index), F(xdp_md, egress_ifindex),
	F(bpf_sock, bound_dev_if), F(bpf_sock, family), F(bpf_sock, type), F(bpf_sock, protocol), F(bpf_sock, mark),
	F(bpf_sock, priority), F(bpf_sock, src_ip4), F(bpf_sock, src_ip6), F(bpf_sock, src_port),
	F(bpf_sock, dst_port), F(bpf_sock, dst_ip4), F(bpf_sock, dst_ip6), F(bpf_sock, state),
	F(bpf_sock, rx_queue_mapping),
	F(sk_msg_md, data), F(sk_msg_md, data_end), F(sk_msg_md, family), F(sk_msg_md, remote_ip4),
	F(sk_msg_md, local_ip4), F(sk_msg_md, remote_ip6), F(sk_msg_md, local_ip6), F(sk_msg_md, remote_port),
	F(sk_msg_md, local_port), F(sk_msg_md, size), F(sk_msg_md, sk),
	F(bpf_sock_addr, user_family), F(bpf_sock_addr, user_ip4), F(bpf_sock_addr, user_ip6),
	F(bpf_sock_addr, user_port), F(bpf_sock_addr, family), F(bpf_sock_addr, type), F(bpf_sock_addr, protocol),
	F(bpf_sock_addr, msg_src_ip4), F(bpf_sock_addr, msg_src_ip6), F(bpf_sock_addr, sk),
};
#undef F

static const struct {
	const char *name;
	uint32_t size;
} ctx_types[] = {
	{ "__sk_buff", sizeof(struct __sk_buff) }, { "xdp_md", sizeof(struct xdp_md) },
	{ "bpf_sock", sizeof(struct bpf_sock) }, { "sk_msg_md", sizeof(struct sk_msg_md) },
	{ "bpf_sock_addr", sizeof(struct bpf_sock_addr) },
};

static int ctx_type(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctx_types); i++)
		if (!strcmp(ctx_types[i].name, name))
			return (int)i;
	return -1;
}

static const struct ctx_field *ctx_field(const char *type, const char *field)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctx_fields); i++)
		if (!strcmp(ctx_fields[i].type, type) && !strcmp(ctx_fields[i].field, field))
			return &ctx_fields[i];
	return NULL;
}

static const char *const relo_kind_names[] = {
	"byte_off", "byte_sz", "field_exists", "signed", "lshift_u64", "rshift_u64", "local_type_id",
	"target_type_id", "type_exists", "type_size", "enumval_exists", "enumval_value", "type_matches",
};

struct core_rec {
	uint32_t insn_off, type_id, access_off, kind;
};

/* The value of one CO-RE relocation, or an error naming the relocation. */
static int core_value(struct link *l, const char *sec, uint32_t relo_no, const struct core_rec *r, uint64_t *val,
		      uint32_t *local_val)
{
	struct bpfvm_object *obj = l->obj;
	const char *pn = l->p->name;
	const char *kname = r->kind < ARRAY_SIZE(relo_kind_names) ? relo_kind_names[r->kind] : "unknown";
	const char *spec = ldr_btf_str(obj->btf, r->access_off);
	uint32_t id;
	struct btf_type t;
	int err;

	if (!spec)
		return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: access string offset %u is outside the BTF strings", pn,
			       relo_no, r->access_off);
	if ((err = ldr_btf_skip_mods(obj, sec, r->type_id, &id)))
		return err;
	if (!ldr_btf_type(obj->btf, id, &t))
		return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: BTF type %u is not a type", pn, relo_no, r->type_id);
	const char *tname = ldr_btf_str(obj->btf, t.name_off);
	char ess[128]; /* libbpf's essential name: "xdp_md___mine" is a flavor of "xdp_md" */
	snprintf(ess, sizeof(ess), "%s", tname ? tname : "");
	char *flavor = strstr(ess, "___");
	if (flavor && flavor != ess)
		*flavor = '\0';
	tname = ess;
	uint32_t kind = BTF_INFO_KIND(t.info);

	switch (r->kind) {
	case BPF_CORE_TYPE_ID_LOCAL:
	case BPF_CORE_TYPE_ID_TARGET:
		*val = *local_val = r->type_id;
		return 0;
	case BPF_CORE_TYPE_EXISTS:
	case BPF_CORE_TYPE_MATCHES:
	case BPF_CORE_TYPE_SIZE: {
		int ct = ctx_type(tname);
		uint32_t lsz = 0;
		if (r->kind == BPF_CORE_TYPE_SIZE && (err = ldr_btf_size(obj, sec, id, &lsz)))
			return err;
		*local_val = r->kind == BPF_CORE_TYPE_SIZE ? lsz : 1;
		if (ct < 0 && (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION))
			return ldr_err(obj, sec, -ESRCH, "prog '%s': relo #%u: %s of 'struct %s': no such type in bpfvm (only UAPI context types)",
				       pn, relo_no, kname, tname);
		*val = r->kind == BPF_CORE_TYPE_SIZE ? (ct >= 0 ? ctx_types[ct].size : lsz) : 1;
		return 0;
	}
	case BPF_CORE_ENUMVAL_EXISTS:
	case BPF_CORE_ENUMVAL_VALUE: {
		/* no kernel BTF: the program's own enum (UAPI enums are the same) */
		uint32_t idx = (uint32_t)strtoul(spec, NULL, 10);
		struct btf_enum e;
		if (kind != BTF_KIND_ENUM || idx >= BTF_INFO_VLEN(t.info) ||
		    !SPAN_READ(ldr_btf_extra(obj->btf, id), (uint64_t)idx * sizeof(e), &e))
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: %s: enumerator %s of BTF type %u not found", pn,
				       relo_no, kname, spec, id);
		*val = *local_val = r->kind == BPF_CORE_ENUMVAL_EXISTS ? 1 : (uint64_t)(int64_t)e.val;
		return 0;
	}
	default:
		break;
	}
	if (r->kind > BPF_CORE_FIELD_RSHIFT_U64)
		return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: unknown relocation kind %u", pn, relo_no, r->kind);

	/* field relocations: walk "a:b:c" over the local type */
	const char *p = spec;
	char *end;
	unsigned long first = strtoul(p, &end, 10);
	if (end == p)
		return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: bad access string '%s'", pn, relo_no, spec);
	uint32_t rsz;
	if ((err = ldr_btf_size(obj, sec, id, &rsz)))
		return err;
	uint64_t loff = (uint64_t)first * rsz;  /* local offset of the current position */
	uint64_t named_off = 0;                   /* local offset where the named root member starts */
	const char *named = NULL;                 /* first named member below the root */
	uint32_t cur = id, fsz = rsz;
	bool bitfield = false;
	for (int depth = 0; *end == ':'; depth++) {
		if (depth > LDR_BTF_MAX_DEPTH)
			return ldr_err(obj, sec, -ELOOP, "prog '%s': relo #%u: access string '%s' too deep", pn, relo_no, spec);
		p = end + 1;
		unsigned long idx = strtoul(p, &end, 10);
		if (end == p)
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: bad access string '%s'", pn, relo_no, spec);
		if ((err = ldr_btf_skip_mods(obj, sec, cur, &cur)))
			return err;
		ldr_btf_type(obj->btf, cur, &t);
		kind = BTF_INFO_KIND(t.info);
		if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION) {
			struct btf_member m;
			if (idx >= BTF_INFO_VLEN(t.info) || !SPAN_READ(ldr_btf_extra(obj->btf, cur), idx * sizeof(m), &m))
				return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: member %lu of BTF type %u not found (access '%s')",
					       pn, relo_no, idx, cur, spec);
			uint32_t bitoff = BTF_INFO_KFLAG(t.info) ? BTF_MEMBER_BIT_OFFSET(m.offset) : m.offset;
			bitfield = BTF_INFO_KFLAG(t.info) && BTF_MEMBER_BITFIELD_SIZE(m.offset);
			if (bitoff % 8)
				bitfield = true;
			loff += bitoff / 8;
			const char *mn = ldr_btf_str(obj->btf, m.name_off);
			if (!named && mn && *mn) {
				named = mn;
				named_off = loff;
			}
			cur = m.type;
		} else if (kind == BTF_KIND_ARRAY) {
			struct btf_array a;
			uint32_t esz;
			SPAN_READ(ldr_btf_extra(obj->btf, cur), 0, &a);
			if ((err = ldr_btf_size(obj, sec, a.type, &esz)))
				return err;
			loff += (uint64_t)idx * esz;
			cur = a.type;
		} else {
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: access '%s' indexes BTF type %u, not a struct or array",
				       pn, relo_no, spec, cur);
		}
		if ((err = ldr_btf_size(obj, sec, cur, &fsz)))
			return err;
	}
	if (bitfield)
		return ldr_err(obj, sec, -ENOTSUP, "prog '%s': relo #%u: %s of 'struct %s' (access '%s'): bitfields are not supported",
			       pn, relo_no, kname, tname, spec);
	uint32_t fid;
	ldr_btf_skip_mods(obj, sec, cur, &fid);
	struct btf_type ft;
	uint32_t enc = 0;
	bool is_signed = ldr_btf_type(obj->btf, fid, &ft) && BTF_INFO_KIND(ft.info) == BTF_KIND_INT &&
			 SPAN_READ(ldr_btf_extra(obj->btf, fid), 0, &enc) && (BTF_INT_ENCODING(enc) & BTF_INT_SIGNED);
	uint64_t toff = loff;
	uint32_t tsz = fsz;
	bool exists = true;
	int ct = ctx_type(tname);
	if (ct >= 0 && named) {
		const struct ctx_field *cf = ctx_field(tname, named);
		if (!cf) {
			exists = false;
		} else {
			toff = (uint64_t)first * ctx_types[ct].size + cf->off + (loff - named_off);
			if (loff == named_off && fsz != cf->size && fsz >= cf->size)
				tsz = cf->size;
		}
	} else if (ct < 0) {
		return ldr_err(obj, sec, -ESRCH, "prog '%s': relo #%u: %s of 'struct %s' (access '%s'): no such type in bpfvm (only UAPI context types)",
			       pn, relo_no, kname, tname, spec);
	}
	*local_val = r->kind == BPF_CORE_FIELD_BYTE_OFFSET ? (uint32_t)loff : r->kind == BPF_CORE_FIELD_BYTE_SIZE ? fsz : 1;
	switch (r->kind) {
	case BPF_CORE_FIELD_EXISTS:
		*val = exists;
		*local_val = 1;
		return 0;
	case BPF_CORE_FIELD_SIGNED:
		*val = *local_val = is_signed;
		return 0;
	case BPF_CORE_FIELD_LSHIFT_U64:
		*val = *local_val = 64 - 8 * tsz;
		return 0;
	case BPF_CORE_FIELD_RSHIFT_U64:
		*val = *local_val = 64 - 8 * tsz;
		return 0;
	default:
		break;
	}
	if (!exists)
		return ldr_err(obj, sec, -ESRCH, "prog '%s': relo #%u: %s of 'struct %s.%s' (access '%s'): field not found in bpfvm's struct %s",
			       pn, relo_no, kname, tname, named, spec, tname);
	*val = r->kind == BPF_CORE_FIELD_BYTE_OFFSET ? toff : tsz;
	return 0;
}

/* libbpf's bpf_core_patch_insn(): ALU/MOV imm, LDX/ST/STX off, or lddw imm64. */
static int core_patch(struct link *l, const char *sec, uint32_t relo_no, size_t si, struct bpf_insn *in, size_t room,
		      const struct core_rec *r, uint64_t val, uint32_t local_val)
{
	struct bpfvm_object *obj = l->obj;
	int id = isa_decode(in);
	uint32_t fl = id < 0 ? 0 : isa_info[id].flags;

	if (fl & F_ALU) {
		if (isa_info[id].fmt != FMT_ALU_K)
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: insn %zu: ALU insn has no immediate operand",
				       l->p->name, relo_no, si);
		if ((uint32_t)in->imm != local_val && r->kind != BPF_CORE_FIELD_EXISTS && r->kind != BPF_CORE_TYPE_EXISTS)
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: insn %zu: unexpected imm %d (expected %u)",
				       l->p->name, relo_no, si, in->imm, local_val);
		in->imm = (int32_t)(uint32_t)val;
		return 0;
	}
	if (id >= 0 && isa_mem_access(id)) {
		if (r->kind != BPF_CORE_FIELD_BYTE_OFFSET)
			return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: insn %zu: memory insn with relocation kind %u",
				       l->p->name, relo_no, si, r->kind);
		if (val > INT16_MAX)
			return ldr_err(obj, sec, -ERANGE, "prog '%s': relo #%u: insn %zu: offset %llu does not fit the insn",
				       l->p->name, relo_no, si, (unsigned long long)val);
		in->off = (int16_t)val;
		return 0;
	}
	if (id == ISA_LDDW && room >= 2) {
		in[0].imm = (int32_t)(uint32_t)val;
		in[1].imm = (int32_t)(uint32_t)(val >> 32);
		return 0;
	}
	return ldr_err(obj, sec, -EINVAL, "prog '%s': relo #%u: insn %zu: cannot patch insn with code 0x%02x", l->p->name,
		       relo_no, si, in->code);
}

static int core_relocate(struct link *l)
{
	struct bpfvm_object *obj = l->obj;
	struct span ext = obj->btf_ext;
	struct btf_ext_hdr {
		uint16_t magic;
		uint8_t version, flags;
		uint32_t hdr_len, func_info_off, func_info_len, line_info_off, line_info_len, core_relo_off, core_relo_len;
	} h;

	if (!ext.len)
		return 0;
	memset(&h, 0, sizeof(h));
	if (!span_read(ext, 0, &h, 24))
		return ldr_err(obj, ".BTF.ext", -EINVAL, "%zu bytes are shorter than the header", ext.len);
	if (h.magic != BTF_MAGIC || h.version != 1)
		return ldr_err(obj, ".BTF.ext", -EINVAL, "bad magic 0x%04x or version %u", h.magic, h.version);
	if (h.hdr_len < 32 || !span_read(ext, 0, &h, 32))
		return 0; /* no core_relo part */
	struct span cr;
	if (h.core_relo_len == 0)
		return 0;
	if (!span_sub(ext, (uint64_t)h.hdr_len + h.core_relo_off, h.core_relo_len, &cr))
		return ldr_err(obj, ".BTF.ext", -EINVAL, "core_relo (offset %u, length %u) is outside the section", h.core_relo_off,
			       h.core_relo_len);
	if (!obj->btf)
		return ldr_err(obj, ".BTF.ext", -EINVAL, "CO-RE relocations without .BTF");
	uint32_t rec_size;
	if (!SPAN_READ(cr, 0, &rec_size) || rec_size < sizeof(struct core_rec))
		return ldr_err(obj, ".BTF.ext", -EINVAL, "core_relo record size is below %zu", sizeof(struct core_rec));
	uint32_t relo_no = 0;
	for (uint64_t off = 4; off < cr.len;) {
		uint32_t hdr[2];
		if (!SPAN_READ(cr, off, &hdr))
			return ldr_err(obj, ".BTF.ext", -EINVAL, "core_relo block at %llu is cut off", (unsigned long long)off);
		off += sizeof(hdr);
		const char *sname = ldr_btf_str(obj->btf, hdr[0]);
		if (!sname)
			return ldr_err(obj, ".BTF.ext", -EINVAL, "core_relo section name offset %u is outside the BTF strings", hdr[0]);
		uint64_t blen = (uint64_t)hdr[1] * rec_size;
		if (!span_ok(cr, off, blen))
			return ldr_err(obj, ".BTF.ext", -EINVAL, "core_relo for section %s: %u records are cut off", sname, hdr[1]);
		for (uint32_t k = 0; k < hdr[1]; k++, relo_no++) {
			struct core_rec r;
			SPAN_READ(cr, off + (uint64_t)k * rec_size, &r);
			if (r.insn_off % INSN_SZ)
				return ldr_err(obj, sname, -EINVAL, "relo #%u: insn offset %u is not at an insn boundary", relo_no, r.insn_off);
			size_t si = r.insn_off / INSN_SZ;
			for (size_t fi = 0; fi < l->func_cnt; fi++) {
				const struct ldr_func *f = &obj->funcs[l->funcs[fi]];
				if (strcmp(obj->secs[f->sec].name, sname) || si < f->off || si >= f->off + f->cnt)
					continue;
				uint64_t val = 0;
				uint32_t lval = 0;
				int err = core_value(l, sname, relo_no, &r, &val, &lval);
				if (!err)
					err = core_patch(l, sname, relo_no, si, &l->buf[l->at[fi] + si - f->off], f->off + f->cnt - si, &r,
							 val, lval);
				if (err)
					return err;
			}
		}
		off += blen;
	}
	return 0;
}

/* The source lines of the linked code, from .BTF.ext line_info: each record of a linked function's
 * section and range, moved to where the function now sits.  Line info only decorates fault messages,
 * so a malformed table is skipped, not an error (libbpf would refuse it at load; we check it no less
 * strictly than the rest of .BTF.ext, we just do not need it). */
static void collect_lines(struct link *l)
{
	struct bpfvm_object *obj = l->obj;
	struct span ext = obj->btf_ext, li;
	struct {
		uint16_t magic;
		uint8_t version, flags;
		uint32_t hdr_len, func_info_off, func_info_len, line_info_off, line_info_len;
	} h;
	uint32_t rec_size;

	free(l->p->lines);
	l->p->lines = NULL;
	l->p->line_cnt = 0;
	if (!ext.len || !obj->btf || !span_read(ext, 0, &h, sizeof(h)) || h.magic != BTF_MAGIC || !h.line_info_len ||
	    !span_sub(ext, (uint64_t)h.hdr_len + h.line_info_off, h.line_info_len, &li) || !SPAN_READ(li, 0, &rec_size) ||
	    rec_size < 16)
		return;
	struct isa_line *out = NULL;
	size_t cnt = 0, cap = 0;
	for (uint64_t off = 4; off < li.len;) {
		uint32_t bh[2];
		if (!SPAN_READ(li, off, &bh))
			break;
		off += sizeof(bh);
		const char *sname = ldr_btf_str(obj->btf, bh[0]);
		uint64_t blen = (uint64_t)bh[1] * rec_size;
		if (!sname || !span_ok(li, off, blen))
			break;
		for (size_t fi = 0; fi < l->func_cnt; fi++) {
			const struct ldr_func *f = &obj->funcs[l->funcs[fi]];
			if (strcmp(obj->secs[f->sec].name, sname))
				continue;
			for (uint32_t k = 0; k < bh[1]; k++) {
				uint32_t r[4]; /* insn_off, file_name_off, line_off, line_col */
				if (!SPAN_READ(li, off + (uint64_t)k * rec_size, &r) || r[0] % INSN_SZ)
					continue;
				size_t si = r[0] / INSN_SZ;
				const char *file = ldr_btf_str(obj->btf, r[1]);
				if (si < f->off || si >= f->off + f->cnt || !file)
					continue;
				if (cnt == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct isa_line *n = realloc(out, nc * sizeof(*n));
					if (!n)
						goto done;
					out = n;
					cap = nc;
				}
				const char *base = strrchr(file, '/');
				out[cnt].insn = (uint32_t)(l->at[fi] + si - f->off);
				out[cnt].line = r[3] >> 10;
				snprintf(out[cnt].file, sizeof(out[cnt].file), "%s", base ? base + 1 : file);
				cnt++;
			}
		}
		off += blen;
	}
done:
	l->p->lines = out;
	l->p->line_cnt = cnt;
}

int ldr_prog_link(struct bpfvm_object *obj, struct ldr_prog *p)
{
	struct link l = { .obj = obj, .p = p };
	size_t pos;
	int err;

	err = append_func(&l, p->func, &pos);
	/* appended functions grow the list while it is walked */
	for (size_t k = 0; !err && k < l.func_cnt; k++) {
		const struct ldr_func *f = &obj->funcs[l.funcs[k]];
		const struct ldr_sec *s = &obj->secs[f->sec];
		size_t at = l.at[k];
		bool *has_rel = calloc(f->cnt, sizeof(*has_rel));
		if (!has_rel) {
			err = ldr_err(obj, s->name, -ENOMEM, "out of memory");
			break;
		}
		int rel = ldr_rel_for(obj, f->sec);
		size_t rcnt = ldr_elf_rel_cnt(obj, rel);
		for (size_t r = 0; !err && r < rcnt; r++) {
			uint64_t roff;
			uint32_t sym, type;
			ldr_elf_rel(obj, rel, r, &roff, &sym, &type);
			if (roff / INSN_SZ < f->off || roff / INSN_SZ >= f->off + f->cnt)
				continue;
			has_rel[roff / INSN_SZ - f->off] = true;
			err = reloc_one(&l, f, at, roff, sym, type);
		}
		/* calls without a relocation: to a function of the same section */
		for (size_t i = 0; !err && i < f->cnt; i++) {
			struct bpf_insn *in = &l.buf[at + i];
			/* clang before 19 puts callx's register in imm (dst 0); the callx the engines and the
			 * verifier know (and LLVM's since) has it in dst, imm 0 */
			if (in->code == (BPF_JMP | BPF_CALL | BPF_X) && !in->dst_reg && !in->src_reg && !in->off &&
			    in->imm > 0 && in->imm < 10) {
				in->dst_reg = (uint8_t)(in->imm & 0xf);
				in->imm = 0;
			}
			if (has_rel[i] || isa_decode(in) != ISA_CALL_LOCAL)
				continue;
			err = link_target(&l, at + i, f->sec, isa_target(in, f->off + i), f->off + i);
		}
		free(has_rel);
	}
	if (!err)
		err = core_relocate(&l);
	if (!err)
		collect_lines(&l);
	free(l.funcs);
	free(l.at);
	if (err) {
		free(l.buf);
		return err;
	}
	free(p->insns);
	p->insns = l.buf;
	p->insn_cnt = l.cnt;
	return 0;
}
