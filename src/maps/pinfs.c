/* pinfs.c -- the pin root, bpfvm's stand-in for bpffs: a directory of map files that other processes
 * open by path.  Whoever controls that directory or a link inside it controls which memory a process
 * maps, so the root must be the caller's own and not writable by others, and a pin path is resolved
 * strictly beneath it without following any symbolic link. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "maps.h"

int pin_root_open(const char *root, struct diag *log)
{
	struct stat st;
	/* 0700: the directory is ours and nobody else's business; an existing one is checked below, since
	 * whoever created it first (anyone, in /dev/shm) owns it */
	if (mkdir(root, 0700) && errno != EEXIST) {
		int e = errno;
		diag_printf(log, "pin root %s: cannot create it: %s", root, strerror(e));
		return -e;
	}
	/* not O_DIRECTORY, which makes a link ENOTDIR; O_NONBLOCK: a FIFO in its place does not block */
	int fd = open(root, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			diag_printf(log, "pin root %s is a symbolic link (name the directory itself)", root);
		else
			diag_printf(log, "pin root %s: %s", root, strerror(e));
		return -e;
	}
	/* checked on the open directory, not the name, so a rename after the check changes nothing */
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		diag_printf(log, "pin root %s: %s", root, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		diag_printf(log, "pin root %s is not a directory", root);
		close(fd);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		diag_printf(log, "pin root %s is owned by uid %u, not by this process's uid %u (another user could "
			    "replace its pins); use a directory of your own", root, (unsigned)st.st_uid,
			    (unsigned)geteuid());
		close(fd);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_printf(log, "pin root %s is writable by %s (mode %04o); it must be writable by its owner only",
			    root, (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

int pin_check_rel(const char *rel, struct diag *log, const char *shown)
{
	if (!*rel || rel[0] == '/') {
		diag_printf(log, "%s: invalid pin path (empty, or not under the pin root)", shown);
		return -EINVAL;
	}
	for (const char *c = rel; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
			diag_printf(log, "%s: invalid pin path (empty, '.' or '..' component)", shown);
			return -EINVAL;
		}
		c += n;
		if (*c == '/' && !*++c) {
			diag_printf(log, "%s: invalid pin path (ends in '/')", shown);
			return -EINVAL;
		}
	}
	return 0;
}

/* The same as openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) for a path pin_check_rel() accepted (no
 * '..', no '.', not absolute): one component at a time, each directory opened with O_NOFOLLOW and
 * checked to be a directory, the last one opened with O_NOFOLLOW. */
static int walk_beneath(int rootfd, const char *rel, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	int cur = rootfd;
	const char *c = rel;
	for (;;) {
		size_t n = strcspn(c, "/");
		if (n > NAME_MAX) {
			if (cur != rootfd)
				close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, c, n);
		comp[n] = 0;
		c += n;
		if (!*c) {
			/* O_NOFOLLOW alone answers ENOTDIR for a link with O_DIRECTORY, and opens the link
			 * itself with O_PATH: say ELOOP for both, as openat2 does (a link put here after
			 * this check still is not followed) */
			struct stat st;
			int fd = -1, e = ELOOP;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				fd = -1;
			else if ((fd = openat(cur, comp, flags | O_NOFOLLOW, mode)) < 0)
				e = errno;
			if (cur != rootfd)
				close(cur);
			return fd >= 0 ? fd : -e;
		}
		c++;
		int next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		struct stat st;
		if (next >= 0 && fstat(next, &st))
			e = errno;
		else if (next >= 0 && !S_ISDIR(st.st_mode))
			e = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
		else if (next >= 0)
			e = 0;
		if (cur != rootfd)
			close(cur);
		if (e) {
			if (next >= 0)
				close(next);
			return -e;
		}
		cur = next;
	}
}

int pin_openat(int rootfd, const char *rel, int flags, mode_t mode, bool walk_only, struct diag *log,
	       const char *shown)
{
	int fd = -ENOSYS;
	if (!walk_only) {
		struct open_how how = {
			.flags = (uint64_t)flags, /* not O_NOFOLLOW: with O_PATH it opens a final link */
			.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};
		long r = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		fd = r >= 0 ? (int)r : -errno;
	}
	if (fd == -ENOSYS) /* kernels before 5.6 */
		fd = walk_beneath(rootfd, rel, flags, mode);
	if (fd >= 0)
		return fd;
	if (fd == -ELOOP)
		diag_printf(log, "%s: a component of the pin path is a symbolic link (pins never follow links)", shown);
	else if (fd == -EXDEV)
		diag_printf(log, "%s: the pin path leaves the pin root", shown);
	else
		diag_printf(log, "%s: %s", shown, strerror(-fd));
	return fd;
}
