/* slots.c -- execution slots ("CPUs"): a thread that runs a program holds one, per-CPU map values and
 * bpf_get_smp_processor_id() are per slot, and each slot keeps its own bpf_get_prandom_u32() state. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

int sys_slots_init(struct bpfvm *vm)
{
	vm->slots = aligned_alloc(_Alignof(struct sys_slot), vm->nr_cpus * sizeof(*vm->slots));
	if (!vm->slots)
		return -ENOMEM;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)vm;
	for (unsigned int i = 0; i < vm->nr_cpus; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		atomic_init(&vm->slots[i].busy, 0);
		vm->slots[i].prandom = seed | 1;
	}
	return 0;
}

unsigned int sys_slot_get_near(struct bpfvm *vm, unsigned int hint)
{
	unsigned int n = vm->nr_cpus, first = hint < n ? hint : 0;

	for (;;) {
		for (unsigned int k = 0; k < n; k++) {
			unsigned int slot = first + k < n ? first + k : first + k - n;
			atomic_uint *busy = &vm->slots[slot].busy;
			if (!atomic_load_explicit(busy, memory_order_relaxed) &&
			    !atomic_exchange_explicit(busy, 1, memory_order_acquire))
				return slot;
		}
		sched_yield();
	}
}

unsigned int sys_slot_get(struct bpfvm *vm)
{
	return sys_slot_get_near(vm, 0);
}

void sys_slot_put(struct bpfvm *vm, unsigned int slot)
{
	atomic_store_explicit(&vm->slots[slot].busy, 0, memory_order_release);
}

uint32_t sys_prandom_u32(struct bpfvm *vm, unsigned int slot)
{
	/* xorshift64*: the slot is held exclusively by the caller, so no lock is needed. */
	uint64_t x = vm->slots[slot].prandom;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	vm->slots[slot].prandom = x;
	return (uint32_t)((x * 2685821657736338717ull) >> 32);
}
