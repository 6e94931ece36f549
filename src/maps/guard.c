/* guard.c -- a process survives the shrinking of a map's file under it.
 *
 * A map is a MAP_SHARED mapping of a file that other processes open by its pin path.  Whoever may write
 * the file may also shrink it (ftruncate), and any load or store in the part of a mapping past the new
 * end of the file raises SIGBUS: without a handler the owner of a pin kills every process that opened it
 * (`bpfvm map event rb`, or the programs of a loader that reused the pin).
 *
 * Sealing the memory (memfd + F_SEAL_SHRINK) would forbid the shrink, but only a memfd can be sealed (a
 * tmpfs file made by open() or O_TMPFILE starts with F_SEAL_SEAL set), and a memfd cannot be given a
 * name in a directory (linkat() of /proc/self/fd/N crosses from the kernel's internal shm mount: EXDEV),
 * so a map that can be pinned cannot be a sealed one.  Maps that can never be pinned (the pin root is
 * unusable, map.c backing_file()) are sealed memfds.  For the others bpfvm takes the SIGBUS-safe route
 * that Wayland compositors take for the shared buffers of their clients (wl_shm): a SIGBUS handler that,
 * when the faulting address lies in a map's mapping, maps private zero pages over the whole mapping
 * (MAP_FIXED, same address and length) and marks the map lost.  The faulting access then completes on
 * zeros, and so does every later one: programs and helpers run on (maps.h: everything they read from a
 * mapping is range-checked, since another process may scribble on it anyway), and the user-space calls on
 * a lost map fail with -EIO (sys_map.c).  A thread blocked on the map's lock or futex in the file's old
 * pages is not woken by anyone: the blocking calls wait in slices and look again (map_lock, sys_map.c).
 *
 * A signal handler is per process, so this is the one place with process-wide state: the list of
 * mapped maps.  Installed once, when the first map is mapped; a SIGBUS outside every map goes on to the
 * handler installed before, or to the default action.  Entries are reused but never freed, and each is
 * published with release stores, so the handler walks the list with no lock at any time. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "maps.h"

struct map_guard {
	uintptr_t lo;                /* __atomic: start of the mapping; 0 while the entry is free */
	size_t len;                  /* __atomic: its length */
	int lost;                    /* __atomic: set by the handler once the mapping was replaced */
	int taken;                   /* __atomic: the entry belongs to a map */
	struct map_guard *next;      /* never changes once the entry is on the list */
};

static struct map_guard *guards;          /* __atomic: head of the list */
static struct sigaction prev_action;      /* written once, before our handler is installed */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if (prev_action.sa_flags & SA_SIGINFO) {
		prev_action.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_action.sa_handler != SIG_DFL && prev_action.sa_handler != SIG_IGN) {
		prev_action.sa_handler(sig);
		return;
	}
	/* the default action (ignoring a fault's SIGBUS is not possible either): with it back in place, a
	 * faulting access faults again on return and kills; a SIGBUS sent by kill() is raised again */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	for (struct map_guard *g = __atomic_load_n(&guards, __ATOMIC_ACQUIRE); g; g = g->next) {
		uintptr_t lo = __atomic_load_n(&g->lo, __ATOMIC_ACQUIRE);
		size_t len = __atomic_load_n(&g->len, __ATOMIC_RELAXED);
		if (!lo || a - lo >= len)
			continue;
		/* mmap() is a plain system call, safe in a handler (as Wayland's relies on) */
		if (mmap((void *)lo, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			break;
		__atomic_store_n(&g->lost, 1, __ATOMIC_RELEASE);
		errno = saved;
		return;
	}
	errno = saved;
	pass_on(sig, si, uc);
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, NULL, &prev_action);
	sigaction(SIGBUS, &sa, NULL);
}

struct map_guard *map_guard_add(void *lo, size_t len)
{
	pthread_once(&install_once, install);
	struct map_guard *g;
	for (g = __atomic_load_n(&guards, __ATOMIC_ACQUIRE); g; g = g->next) {
		int free_ = 0;
		if (__atomic_compare_exchange_n(&g->taken, &free_, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
	}
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		g->taken = 1;
		struct map_guard *head = __atomic_load_n(&guards, __ATOMIC_RELAXED);
		do
			g->next = head;
		while (!__atomic_compare_exchange_n(&guards, &head, g, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	}
	__atomic_store_n(&g->lost, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&g->len, len, __ATOMIC_RELAXED);
	__atomic_store_n(&g->lo, (uintptr_t)lo, __ATOMIC_RELEASE);
	return g;
}

void map_guard_del(struct map_guard *g)
{
	if (!g)
		return;
	/* before the munmap(): then no entry ever names memory that may be someone else's */
	__atomic_store_n(&g->lo, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&g->taken, 0, __ATOMIC_RELEASE);
}

bool map_guard_lost(const struct map_guard *g)
{
	return g && __atomic_load_n(&g->lost, __ATOMIC_ACQUIRE);
}
