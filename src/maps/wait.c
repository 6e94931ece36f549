/* wait.c -- blocking consumers of event maps (ringbuf, perf event array): a consumer sleeps on a futex
 * in the map's shared header until a producer signals a commit, in this process or in another one that
 * mapped the same pinned map.
 *
 * Header words (the type-specific counters, unused by these two types): seq[0]'s low 32 bits are the
 * futex word, bumped by a producer that wakes; seq[1] counts consumers that announced they are about
 * to sleep.  A producer reads the count after its commit and makes no syscall while it is 0, so
 * producing with nobody waiting costs one fence.
 *
 * The futex is a shared one (no FUTEX_PRIVATE_FLAG): the mapping is a MAP_SHARED file, so the kernel
 * keys it on the file page and a waiter in one process is woken by a producer in another.
 *
 * Ordering (no lost wakeup): the consumer increments the count, reads the futex word, then checks for
 * data; the producer publishes its record, then reads the count.  A full fence on each side between
 * its write and its read means that either the consumer sees the record or the producer sees the
 * count; in the latter case it bumps the word, so the consumer's FUTEX_WAIT on the old value returns
 * at once or is woken.  A consumer killed while asleep leaves the count high: producers then make a
 * needless FUTEX_WAKE per commit, nothing worse. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "maps.h"

static uint32_t *futex_word(struct map *m)
{
	/* little endian (checked in sys.c): the low half of seq[0] */
	return (uint32_t *)(void *)&m->hdr->seq[0];
}

static uint64_t *waiters(struct map *m)
{
	return &m->hdr->seq[1];
}

void map_wake(struct map *m)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the record's publication before the read of the count */
	if (!__atomic_load_n(waiters(m), __ATOMIC_RELAXED))
		return;
	__atomic_fetch_add(futex_word(m), 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, futex_word(m), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int map_wait(struct map *m, bool (*ready)(struct map *m), const struct timespec *deadline)
{
	int err = 0;

	__atomic_fetch_add(waiters(m), 1, __ATOMIC_SEQ_CST);
	uint32_t seen = __atomic_load_n(futex_word(m), __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the count before the look at the data */
	if (!ready(m)) {
		/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a wakeup that finds nothing
		 * new (another consumer took it) does not stretch the caller's timeout. */
		long r = syscall(SYS_futex, futex_word(m), FUTEX_WAIT_BITSET, seen, deadline, NULL,
				 FUTEX_BITSET_MATCH_ANY);
		if (r < 0 && errno == ETIMEDOUT)
			err = -ETIMEDOUT;
		else if (r < 0 && errno != EAGAIN && errno != EINTR)
			err = -errno;
	}
	__atomic_fetch_sub(waiters(m), 1, __ATOMIC_SEQ_CST);
	return err;
}
