/* pkt.c -- the packet state of a packet program's run (struct pt_pkt, helpers.h): the MAP_32BIT area that
 * holds the scratch ctx and the frame, the instance's pool of such areas, and the sync of the ctx
 * pointer fields and run regions after the packet moved.  Shared by the program types (src/progtypes/,
 * which set a run up on it) and the packet helpers (pkt_helpers.c, which change it), so it sits in the
 * lower of the two folders.  Knows the two ctx layouts (struct xdp_md, struct __sk_buff) only as far
 * as their packet pointer fields go. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/bpf.h>

#include "helpers.h"
#include "../core/core.h"

/* ---- the packet area --------------------------------------------------------------------------- */

static uint8_t *map_low(size_t len)
{
	/* MAP_32BIT: below 2 GiB on x86-64, so packet pointers fit the u32 ctx fields. */
#ifdef MAP_32BIT
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p != MAP_FAILED && (uintptr_t)p + len <= UINT32_MAX)
		return p;
	if (p != MAP_FAILED)
		munmap(p, len);
#endif
	/* elsewhere: probe hints below 4 GiB */
	for (uintptr_t hint = 0x10000000u; hint < 0xf0000000u; hint += 0x01000000u) {
		void *q = mmap((void *)hint, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (q == MAP_FAILED)
			continue;
		if ((uintptr_t)q + len <= UINT32_MAX)
			return q;
		munmap(q, len);
	}
	return NULL;
}

int pt_pkt_alloc(struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src, uint32_t len)
{
	size_t n = ((size_t)PT_CTX_AREA + cap + 4095) & ~(size_t)4095;

	if (head > cap || len > cap - head)
		return -EINVAL;
	p->map = map_low(n);
	if (!p->map)
		return -ENOMEM;
	p->map_len = n;
	p->frame = p->map + PT_CTX_AREA;
	p->cap = (uint32_t)(n - PT_CTX_AREA);
	p->meta = p->data = head;
	p->end = head + len;
	p->ctx = p->map;
	p->region = -1;
	if (len)
		memcpy(p->frame + head, src, len);
	return 0;
}

/* Packet areas of PT_POOL_LEN bytes are cached per instance: mmap + munmap cost ~10 us a packet, a
 * cached area's memset ~0.2 us.  Lock-free: a slot holds an area or NULL; take = exchange with NULL,
 * give back = compare-and-swap into an empty slot, else unmap. */
#define PT_POOL_LEN 8192u

/* clear_len: the bytes of a cached area to zero from its start (a fresh mapping is zero already). */
static int pkt_get(struct bpfvm *vm, struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src, uint32_t len,
		   size_t clear_len)
{
	if ((size_t)PT_CTX_AREA + cap > PT_POOL_LEN || head > cap || len > cap - head)
		return pt_pkt_alloc(p, cap, head, src, len);
	for (size_t i = 0; i < sizeof(vm->pt_pool) / sizeof(vm->pt_pool[0]); i++) {
		uint8_t *m = atomic_exchange(&vm->pt_pool[i], NULL);
		if (!m)
			continue;
		memset(m, 0, clear_len);
		p->map = m;
		p->map_len = PT_POOL_LEN;
		p->frame = m + PT_CTX_AREA;
		p->cap = PT_POOL_LEN - PT_CTX_AREA;
		p->meta = p->data = head;
		p->end = head + len;
		p->ctx = m;
		p->region = -1;
		if (len)
			memcpy(p->frame + head, src, len);
		return 0;
	}
	return pt_pkt_alloc(p, PT_POOL_LEN - PT_CTX_AREA, head, src, len);
}

int pt_pkt_get(struct bpfvm *vm, struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src, uint32_t len)
{
	return pkt_get(vm, p, cap, head, src, len, PT_POOL_LEN); /* as the kernel's kzalloc'd test buffers:
								   * no stale bytes */
}

int pt_pkt_get_bounded(struct bpfvm *vm, struct pt_pkt *p, uint32_t cap, uint32_t head, const void *src,
		       uint32_t len)
{
	/* Clearing the whole 8 KiB area was half the time of a classic filter's run over a small frame. */
	return pkt_get(vm, p, cap, head, src, len, PT_CTX_AREA);
}

void pt_pkt_release(struct bpfvm *vm, struct pt_pkt *p)
{
	if (p->map && p->map_len == PT_POOL_LEN) {
		for (size_t i = 0; i < sizeof(vm->pt_pool) / sizeof(vm->pt_pool[0]); i++) {
			void *expect = NULL;
			if (atomic_compare_exchange_strong(&vm->pt_pool[i], &expect, p->map)) {
				p->map = NULL;
				return;
			}
		}
	}
	pt_pkt_free(p);
}

void pt_pool_drain(struct bpfvm *vm)
{
	for (size_t i = 0; i < sizeof(vm->pt_pool) / sizeof(vm->pt_pool[0]); i++) {
		void *m = atomic_exchange(&vm->pt_pool[i], NULL);
		if (m)
			munmap(m, PT_POOL_LEN);
	}
}

void pt_pkt_free(struct pt_pkt *p)
{
	if (p->map)
		munmap(p->map, p->map_len);
	p->map = NULL;
}

int pt_pkt_make_room(struct pt_pkt *p, uint32_t head, uint32_t tail)
{
	uint32_t have_head = p->meta, have_tail = p->cap - p->end;
	if (head <= have_head && tail <= have_tail)
		return 0;
	uint32_t grow_head = head > have_head ? head - have_head + 64 : 0;
	uint64_t cap = (uint64_t)p->cap + grow_head + (tail > have_tail ? tail - have_tail + 64 : 0);
	if (cap > 4u * PT_SKB_MAX_LEN)
		return -E2BIG;
	struct pt_pkt q = *p;
	int err = pt_pkt_alloc(&q, (uint32_t)cap, 0, NULL, 0);
	if (err)
		return err;
	memcpy(q.map, p->map, PT_CTX_AREA);
	memcpy(q.frame + grow_head, p->frame, p->cap);
	q.meta = p->meta + grow_head;
	q.data = p->data + grow_head;
	q.end = p->end + grow_head;
	q.mac = p->mac + grow_head;
	q.net = p->net + grow_head;
	q.region = p->region;
	pt_pkt_free(p);
	*p = q;
	if (p->run)
		p->run->ctx = p->ctx;
	return 0;
}

struct pt_pkt *pt_pkt_of(struct vm_run *run, const char *helper)
{
	struct pt_pkt *p = run->hook;
	if (!p || !p->map) {
		vm_fault(run, -EINVAL, helper, 0, 0);
		return NULL;
	}
	return p;
}

uint64_t pt_sk_cookie(struct vm_run *run)
{
	struct pt_pkt *p = pt_pkt_of(run, "bpf_get_socket_cookie");
	if (!p || !p->has_sk)
		return 0;
	if (!p->sk_cookie)
		p->sk_cookie = atomic_fetch_add(&run->vm->pt_sk_cookie, 1) + 1;
	return p->sk_cookie;
}

uint32_t pt_sk_uid(struct vm_run *run)
{
	struct pt_pkt *p = pt_pkt_of(run, "bpf_get_socket_uid");
	return p && p->has_sk ? 0 : 65534;
}

void pt_pkt_sync(struct pt_pkt *p)
{
	uint32_t meta = (uint32_t)(uintptr_t)(p->frame + p->meta);
	uint32_t data = (uint32_t)(uintptr_t)(p->frame + p->data);
	uint32_t end = (uint32_t)(uintptr_t)(p->frame + p->end);

	p->ctx = p->map;
	if (p->prog_type == BPF_PROG_TYPE_XDP) {
		struct xdp_md *md = p->ctx;
		md->data = data;
		md->data_end = end;
		md->data_meta = meta;
	} else {
		struct __sk_buff *s = p->ctx;
		s->len = p->end - p->data;
		s->data = data;
		s->data_end = end;
		s->data_meta = meta;
		s->protocol = p->protocol;
		s->vlan_present = p->vlan_present;
		s->vlan_tci = p->vlan_tci;
		s->vlan_proto = p->vlan_proto;
		s->hash = p->hash;
	}
	if (p->run) {
		struct vm_run *run = p->run;
		run->ctx = p->ctx;
		run->pkt = p->frame + p->data;
		run->pkt_len = p->end - p->data;
		if (p->region >= 0) {
			run->regions[p->region].lo = (uintptr_t)(p->frame + p->meta);
			run->regions[p->region].hi = (uintptr_t)(p->frame + p->end);
		}
		/* region 0 is always the ctx: the whole area, so that an access past the struct is the type's
		 * "invalid bpf_context access" too */
		run->regions[0].lo = (uintptr_t)p->ctx;
		run->regions[0].hi = (uintptr_t)p->ctx + PT_CTX_AREA;
	}
}
