/* sys_verify.c -- the verifier's view of a program being loaded: its maps (from the lddw values
 * resolve_ldimm64() patched in), its type's context rules and helpers (progtypes), and the choice of
 * which programs are verified. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "progtypes/progtypes.h"
#include "sys.h"
#include "verifier/verifier.h"

struct vctx_env {
	struct vm_prog *p;
	struct vf_map *maps;       /* one per used map, same order */
	struct vf_map *inner;      /* map-in-map templates, same order */
};

static void describe(struct vf_map *d, struct vf_map *inner, struct map *m)
{
	memset(d, 0, sizeof(*d));
	d->type = map_type(m);
	d->key_size = map_key_size(m);
	d->value_size = map_value_size(m);
	d->max_entries = map_max_entries(m);
	d->flags = map_flags(m);
	d->spin_lock_off = map_spin_lock_off(m);
	d->timer_off = map_timer_off(m);
	if (d->type == BPF_MAP_TYPE_ARRAY_OF_MAPS || d->type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		/* the template set at MAP_CREATE (sys_map.c set_template) */
		map_inner_template(m, &inner->type, &inner->key_size, &inner->value_size, &inner->max_entries,
				   &inner->flags);
		map_inner_special(m, &inner->spin_lock_off, &inner->timer_off);
		d->inner = inner;
	}
}

/* The used map an lddw refers to (PSEUDO_MAP_FD/IDX: the map, *_VALUE: one of its values at *off), as
 * relocation recorded it in the program's aux data. */
static int find_map(struct vctx_env *e, size_t pc, int32_t *off)
{
	const struct vm_insn_aux *a = &e->p->aux[pc];
	if (a->map_idx == VM_AUX_NO_MAP)
		return -1;
	if (isa_pseudo_is_value(a->ldimm64_src))
		*off = (int32_t)a->value_off;
	return (int)a->map_idx;
}

static const struct vf_map *map_at(void *arg, size_t pc)
{
	struct vctx_env *e = arg;
	int32_t off = 0;
	int i = find_map(e, pc, &off);
	return i < 0 ? NULL : &e->maps[i];
}

static int32_t value_off(void *arg, size_t pc)
{
	struct vctx_env *e = arg;
	int32_t off = 0;
	(void)find_map(e, pc, &off);
	return off;
}

_Static_assert(VF_PROOF_REACHED == VM_PROOF_REACHED && VF_PROOF_MEM == VM_PROOF_MEM &&
	       VF_PROOF_DIV_NONZERO == VM_PROOF_DIV_NONZERO, "one numbering of proof facts");

static int ctx_access(void *arg, uint32_t off, uint32_t size, bool write)
{
	struct vctx_env *e = arg;
	const struct vm_prog *p = e->p;
	_Static_assert((int)PT_FIELD_DENY == (int)VF_CTX_DENY && (int)PT_FIELD_PKT_META == (int)VF_CTX_PKT_META,
		       "one numbering of ctx field kinds");
	return pt_ctx_field(p->type, p->expected_attach_type, off, size, write);
}

static bool host_helper(void *arg, uint32_t id)
{
	struct vctx_env *e = arg;
	return sys_host_helper(e->p->vm, id);
}

static const struct hlp_proto *host_proto(void *arg, uint32_t id, bool kfunc)
{
	struct vctx_env *e = arg;
	return sys_host_proto(e->p->vm, id, kfunc);
}

static bool helper_ok(void *arg, uint32_t id)
{
	struct vctx_env *e = arg;
	return pt_helper_allowed(e->p->type, id);
}

int sys_verify_prog(struct bpfvm *vm, struct vm_prog *p, unsigned log_level, struct diag *log, char *why,
		    size_t why_len)
{
	struct vctx_env e = { .p = p };
	struct vf_env env;
	int err;

	/* UNSPEC programs that declared their memory are proven against it (vf_env.plain_mem) */
	bool plain = p->type == BPF_PROG_TYPE_UNSPEC && p->mem_declared;
	if (!pt_verifiable(p->type) && !plain)
		return 0; /* plain memory of a size only the run knows: the run-time checks stay the proof */
	e.maps = calloc(p->used_map_cnt + 1, sizeof(*e.maps));
	e.inner = calloc(p->used_map_cnt + 1, sizeof(*e.inner));
	if (!e.maps || !e.inner) {
		free(e.maps);
		free(e.inner);
		return -ENOMEM;
	}
	for (size_t i = 0; i < p->used_map_cnt; i++)
		describe(&e.maps[i], &e.inner[i], p->used_maps[i]);
	memset(&env, 0, sizeof(env));
	env.insns = p->orig;
	env.cnt = p->cnt;
	env.prog_type = p->type;
	/* Linux's unprivileged pointer rules would refuse most packet programs (they may not be loaded
	 * unprivileged at all there); an untrusted instance keeps its run-time pointer checks instead */
	env.unpriv = false;
	env.gpl = p->gpl;
	env.map_at = map_at;
	env.map_value_off = value_off;
	env.ctx_access = ctx_access;
	env.ctx_size = pt_ctx_size(p->type);
	env.plain_mem = plain;
	env.mem_size = p->mem_len;
	env.helper_allowed = helper_ok;
	env.host_helper = host_helper;
	env.host_proto = host_proto;
	env.pkt_writable = pt_pkt_writable(p->type);
	env.ld_abs_ok = pt_ld_abs_ok(p->type);
	env.ret_check = pt_ret_range(p->type, p->expected_attach_type, &env.ret_lo, &env.ret_hi);
	env.arg = &e;
	env.log = log;
	env.log_level = log_level;
	env.exact_loops = vm->exact_loops;
	env.proof = calloc(p->cnt, 1);
	env.frame_depth = calloc(p->cnt, sizeof(*env.frame_depth));
	err = env.proof && env.frame_depth ? vf_verify(&env) : -ENOMEM;
	if (err && why_len)
		snprintf(why, why_len, "%s", env.errmsg[0] ? env.errmsg : "verification failed");
	if (!err) {
		/* what the engines may rely on (vm_insn_aux.proof) */
		for (size_t i = 0; i < p->cnt; i++) {
			p->aux[i].proof = env.proof[i];
			p->aux[i].frame_depth = (uint16_t)env.frame_depth[i];
		}
		p->verified = true;
	}
	free(env.proof);
	free(env.frame_depth);
	free(e.maps);
	free(e.inner);
	return err;
}
