/* spin_lock.bpf.c -- the rejections that need a bpf_spin_lock or bpf_timer the map's BTF places in its
 * value (Linux check_func_arg(), process_spin_lock(), check_map_access()), one program each, and one
 * that locks and unlocks as it should.  test_kernel_verdicts compares every verdict with the kernel's;
 * test_verifier checks bpfvm's reasons word for word. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct lv {
	struct bpf_spin_lock lock;
	__u64 n;
};

struct tv {
	struct bpf_timer t;
	__u64 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct lv);
} locks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tv);
} timers SEC(".maps");

/* maps of maps whose inner values hold a lock or a timer: the verifier knows them from the inner template */
struct inner_locks {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lv);
} inner_l0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_locks);
} outer_locks SEC(".maps") = { .values = { &inner_l0 } };

struct inner_timers {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tv);
} inner_t0 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_timers);
} outer_timers SEC(".maps") = { .values = { &inner_t0 } };

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

static struct lv *slot(__u32 k)
{
	return bpf_map_lookup_elem(&locks, &k);
}

/* v->n + 1 under v's lock (v may be NULL: nothing) */
static __attribute__((always_inline)) int count_locked(struct lv *v)
{
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int locked(struct __sk_buff *skb)
{
	return count_locked(slot(0));
}

SEC("tc")
int never_unlocked(struct __sk_buff *skb)
{
	struct lv *v = slot(0);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	return 0;
}

SEC("tc")
int unlock_only(struct __sk_buff *skb)
{
	struct lv *v = slot(0);

	if (!v)
		return 0;
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int call_while_locked(struct __sk_buff *skb)
{
	struct lv *v = slot(0);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n = bpf_get_prandom_u32();
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int other_unlocked(struct __sk_buff *skb)
{
	/* keys the walk does not know: two lookups, two ids */
	struct lv *a = slot(skb->mark & 1), *b = slot(skb->len & 1);

	if (!a || !b)
		return 0;
	bpf_spin_lock(&a->lock);
	bpf_spin_unlock(&b->lock);
	return 0;
}

SEC("tc")
int lock_written(struct __sk_buff *skb)
{
	struct lv *v = slot(0);

	if (!v)
		return 0;
	*(volatile __u32 *)&v->lock = 0;
	return 0;
}

SEC("tc")
int lock_elsewhere(struct __sk_buff *skb)
{
	struct lv *v = slot(0);

	if (!v)
		return 0;
	bpf_spin_lock((struct bpf_spin_lock *)&v->n);
	bpf_spin_unlock((struct bpf_spin_lock *)&v->n);
	return 0;
}

SEC("tc")
int timer_read(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct tv *v = bpf_map_lookup_elem(&timers, &k);

	if (!v)
		return 0;
	return *(volatile __u32 *)&v->t;
}

SEC("socket")
int ld_abs_locked(struct __sk_buff *skb)
{
	struct lv *v = slot(0);
	__u64 b;

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	b = load_byte(skb, 0);
	v->n = b;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* Value 0 of the inner map at slot 0 of outer (that map in *in), or NULL. */
static __attribute__((always_inline)) void *inner_value(void *outer, void **in)
{
	__u32 k = 0;

	*in = bpf_map_lookup_elem(outer, &k);
	return *in ? bpf_map_lookup_elem(*in, &k) : 0;
}

SEC("tc")
int inner_locked(struct __sk_buff *skb)
{
	void *in;

	return count_locked(inner_value(&outer_locks, &in));
}

SEC("tc")
int inner_timer(struct __sk_buff *skb)
{
	void *in;
	struct tv *v = inner_value(&outer_timers, &in);

	if (!v)
		return 0;
	bpf_timer_init(&v->t, in, 1 /* CLOCK_MONOTONIC */);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
