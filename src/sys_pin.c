/* sys_pin.c -- BPF_OBJ_PIN / BPF_OBJ_GET of programs.  A map is already a file (pinning is a link()); a
 * program lives in its process, so its pin is what reloading it needs, and OBJ_GET loads it again in the
 * caller's instance, on the same maps -- what a program pinned in bpffs gives another process.
 *
 * The pin is a directory PATH in the pin root holding
 *   prog      struct pin_prog (type, attach type, name, license, counts) and the instructions as
 *             PROG_LOAD took them, after the loader's relocation, every map reference rewritten as an
 *             index into the program's maps (BPF_PSEUDO_MAP_IDX / _IDX_VALUE, the value offset in the
 *             second slot);
 *   map0 ...  the program's maps, as map pins (links to the same files: the same memory, also for the
 *             maps' own pins elsewhere), each one a pin OBJ_GET opens as a map too.
 * It is built under a temporary name and renamed into place, so a reader sees all of it or nothing;
 * `rm -r PATH` unpins it.  Every name is resolved beneath the pin root without following a link
 * (pinfs.c), relative to directory fds, and every file is made with O_EXCL or link(). 
 *
 * On OBJ_GET the pin is untrusted input: the header is checked field by field against the file's size,
 * every map index against the map count, each map by map_open_pinned(), and the instructions by
 * PROG_LOAD's own checks, as a program from any other source. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"
#include "isa/isa.h"
#include "maps/maps.h"
#include "vm/vm.h"

#define PIN_PROG_MAGIC   0x6772706d76667062ull /* "bpfvmprg" */
#define PIN_PROG_VERSION 1u
#define PIN_MAX_MAPS     64u                   /* Linux MAX_USED_MAPS */

struct pin_prog {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_len;            /* sizeof(struct pin_prog): the instructions follow */
	uint32_t prog_type, expected_attach_type;
	uint32_t insn_cnt, map_cnt;
	uint32_t gpl;                /* 0 or 1: the license was GPL-compatible */
	uint32_t reserved;           /* 0 */
	char name[BPF_OBJ_NAME_LEN]; /* NUL-terminated */
};

/* p's instructions with each map reference as an index into p->used_maps (the pin's map<i>). */
static int pin_insns(struct bpfvm *vm, const struct vm_prog *p, struct bpf_insn **out)
{
	struct bpf_insn *in = malloc(p->cnt * sizeof(*in));
	if (!in)
		return -ENOMEM;
	memcpy(in, p->orig, p->cnt * sizeof(*in));
	for (size_t pc = 0; pc + 1 < p->cnt; pc++) {
		if (isa_decode(&in[pc]) != ISA_LDDW)
			continue;
		uint8_t src = in[pc].src_reg;
		uint64_t v = (uint64_t)(uint32_t)in[pc].imm | (uint64_t)(uint32_t)in[pc + 1].imm << 32;
		bool value = isa_pseudo_is_value(src);
		size_t i = p->used_map_cnt;
		uint32_t off = 0;
		if (isa_pseudo_is_map(src)) {
			/* PROG_LOAD resolved the reference to the map, or to the address of its value + off */
			for (i = 0; i < p->used_map_cnt; i++) {
				struct map *m = p->used_maps[i];
				uintptr_t base = value ? (uintptr_t)map_direct_value_addr(m, 0) : 0;
				if (!value && v == (uintptr_t)m)
					break;
				if (value && base && v >= base && v - base < map_value_size(m)) {
					off = (uint32_t)(v - base);
					break;
				}
			}
			if (i == p->used_map_cnt) {
				free(in);
				return sys_err(vm, -EINVAL, "OBJ_PIN: insn %zu: map reference not among the program's maps", pc);
			}
			in[pc].src_reg = value ? ISA_PSEUDO_MAP_IDX_VALUE : ISA_PSEUDO_MAP_IDX;
			in[pc].imm = (int32_t)i;
			in[pc + 1].imm = (int32_t)off;
		}
		pc++;
	}
	*out = in;
	return 0;
}

static void remove_pin_dir(int dirfd, const char *tmp, int tmpfd, uint32_t maps)
{
	char f[32];
	unlinkat(tmpfd, "prog", 0);
	for (uint32_t i = 0; i < maps; i++) {
		snprintf(f, sizeof(f), "map%u", i);
		unlinkat(tmpfd, f, 0);
	}
	unlinkat(dirfd, tmp, AT_REMOVEDIR);
}

/* mkdtemp() beneath dirfd: "<base>.XXXXXX" made with mkdirat (which never follows a link). */
static int mkdtemp_at(int dirfd, const char *base, char *tmp, size_t len)
{
	uint64_t x = (uint64_t)getpid() * 6364136223846793005ull ^ (uint64_t)(uintptr_t)tmp;
	for (int tries = 0; tries < 100; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (x ^ (uint64_t)ts.tv_nsec) * 6364136223846793005ull + 1442695040888963407ull;
		if ((size_t)snprintf(tmp, len, "%s.%06llx", base, (unsigned long long)(x >> 40)) >= len)
			return -ENAMETOOLONG;
		if (!mkdirat(dirfd, tmp, 0700))
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int sys_prog_pin(struct bpfvm *vm, struct vm_prog *p, int rootfd, const char *rel, const char *shown)
{
	struct diag *log = sys_log(vm);
	struct bpf_insn *insns = NULL;
	const char *path = shown;
	char tmp[NAME_MAX + 1], f[32], dir[PATH_MAX];
	int err, fd = -1, dirfd = rootfd, tmpfd = -1;

	if (p->used_map_cnt > PIN_MAX_MAPS)
		return sys_err(vm, -E2BIG, "OBJ_PIN: program uses %zu maps (at most %u)", p->used_map_cnt, PIN_MAX_MAPS);
	for (size_t i = 0; i < p->used_map_cnt; i++)
		if (map_is_fd_map(p->used_maps[i]))
			return sys_err(vm, -EOPNOTSUPP,
				       "OBJ_PIN: program '%s' uses map '%s', a prog array or map of maps: its slots name objects "
				       "of this process only, so the program cannot be pinned", p->name, map_name(p->used_maps[i]));
	if ((err = pin_insns(vm, p, &insns)))
		return err;
	const char *base = strrchr(rel, '/');
	if (base) {
		if ((size_t)(base - rel) >= sizeof(dir)) {
			free(insns);
			return sys_err(vm, -ENAMETOOLONG, "OBJ_PIN: %s: path too long", path);
		}
		memcpy(dir, rel, (size_t)(base - rel));
		dir[base - rel] = 0;
		dirfd = pin_openat(rootfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, false, log, path);
		if (dirfd < 0) {
			free(insns);
			return dirfd;
		}
		base++;
	} else {
		base = rel;
	}
	if ((err = mkdtemp_at(dirfd, base, tmp, sizeof(tmp))) == 0) {
		tmpfd = openat(dirfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (tmpfd < 0) {
			err = -errno;
			unlinkat(dirfd, tmp, AT_REMOVEDIR);
		}
	}
	if (err) {
		if (dirfd != rootfd)
			close(dirfd);
		free(insns);
		return sys_err(vm, err, "OBJ_PIN: %s: cannot create the pin: %s", path, strerror(-err));
	}
	struct pin_prog h;
	memset(&h, 0, sizeof(h));
	h.magic = PIN_PROG_MAGIC;
	h.version = PIN_PROG_VERSION;
	h.hdr_len = sizeof(h);
	h.prog_type = p->type;
	h.expected_attach_type = p->expected_attach_type;
	h.insn_cnt = (uint32_t)p->cnt;
	h.map_cnt = (uint32_t)p->used_map_cnt;
	h.gpl = p->gpl;
	memcpy(h.name, p->name, sizeof(h.name));
	h.name[sizeof(h.name) - 1] = '\0';
	fd = openat(tmpfd, "prog", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t ilen = p->cnt * sizeof(*insns);
	errno = 0;
	if (fd < 0 || write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h) || write(fd, insns, ilen) != (ssize_t)ilen) {
		err = errno ? -errno : -EIO;
		err = sys_err(vm, err, "OBJ_PIN: %s: cannot write the program: %s", path, strerror(-err));
		goto fail;
	}
	for (size_t i = 0; i < p->used_map_cnt; i++) {
		char fshown[PATH_MAX + 48];
		snprintf(f, sizeof(f), "map%u", (unsigned)i); /* i < PIN_MAX_MAPS */
		snprintf(fshown, sizeof(fshown), "%s/%s", path, f); /* its name once the pin is in place */
		if ((err = map_pin(p->used_maps[i], tmpfd, f, fshown, log)))
			goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat2(dirfd, tmp, dirfd, base, RENAME_NOREPLACE)) {
		err = sys_err(vm, -errno, "OBJ_PIN: %s: %s", path, strerror(errno));
		goto fail;
	}
	close(tmpfd);
	if (dirfd != rootfd)
		close(dirfd);
	free(insns);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	remove_pin_dir(dirfd, tmp, tmpfd, (uint32_t)p->used_map_cnt);
	close(tmpfd);
	if (dirfd != rootfd)
		close(dirfd);
	free(insns);
	return err;
}

/* Reads and checks the program file of the pin open as `pinfd`: *h and the instructions (malloc'd). */
static int read_prog_file(struct bpfvm *vm, int pinfd, const char *path, struct pin_prog *h, struct bpf_insn **insns)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO planted as prog must not block */
	int fd = openat(pinfd, "prog", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return sys_err(vm, errno == ENOENT ? -EINVAL : -errno, "OBJ_GET: %s: not a pinned program (no prog file: %s)",
			       path, strerror(errno));
	int err = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid != geteuid() && !vm->allow_foreign_pins) {
		/* another user's program would run here with this process's rights, as for maps (map.c) */
		err = sys_err(vm, -EPERM, "OBJ_GET: %s: owned by uid %u, not by this process's uid %u (allow_foreign_pins "
			      "opens it anyway)", path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(*h) ||
	    pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h)) {
		err = sys_err(vm, -EINVAL, "OBJ_GET: %s: prog is not a program file (%lld bytes)", path,
			      (long long)st.st_size);
		goto out;
	}
	const char *why = NULL;
	if (h->magic != PIN_PROG_MAGIC)
		why = "bad magic";
	else if (h->version != PIN_PROG_VERSION)
		why = "unknown version";
	else if (h->hdr_len != sizeof(*h) || h->reserved || h->gpl > 1)
		why = "bad header";
	else if (h->insn_cnt == 0 || h->insn_cnt > ISA_MAX_INSNS)
		why = "instruction count outside 1..1000000";
	else if (h->map_cnt > PIN_MAX_MAPS)
		why = "more than 64 maps";
	else if ((uint64_t)st.st_size != sizeof(*h) + (uint64_t)h->insn_cnt * sizeof(struct bpf_insn))
		why = "file size is not the header and its instructions";
	else if (!memchr(h->name, '\0', sizeof(h->name)))
		why = "name is not NUL-terminated";
	if (why) {
		err = sys_err(vm, -EINVAL, "OBJ_GET: %s: corrupt pinned program: %s", path, why);
		goto out;
	}
	size_t ilen = (size_t)h->insn_cnt * sizeof(**insns);
	*insns = malloc(ilen);
	if (!*insns || pread(fd, *insns, ilen, sizeof(*h)) != (ssize_t)ilen) {
		free(*insns);
		*insns = NULL;
		err = sys_err(vm, -EIO, "OBJ_GET: %s: cannot read the instructions", path);
		goto out;
	}
	/* every map reference is an index below map_cnt (a raw fd would name this instance's objects) */
	for (uint32_t pc = 0; pc < h->insn_cnt; pc++) {
		const struct bpf_insn *in = &(*insns)[pc];
		if (isa_decode(in) != ISA_LDDW)
			continue;
		if (isa_pseudo_is_map(in->src_reg) && !isa_pseudo_by_idx(in->src_reg)) {
			err = sys_err(vm, -EINVAL, "OBJ_GET: %s: corrupt pinned program: insn %u: a map by fd, not by index", path, pc);
			break;
		}
		if (isa_pseudo_by_idx(in->src_reg) &&
		    (in->imm < 0 || (uint32_t)in->imm >= h->map_cnt)) {
			err = sys_err(vm, -EINVAL, "OBJ_GET: %s: corrupt pinned program: insn %u: map index %d is not below the map count %u",
				      path, pc, in->imm, h->map_cnt);
			break;
		}
		pc++;
	}
	if (err) {
		free(*insns);
		*insns = NULL;
	}
out:
	close(fd);
	return err;
}

long sys_prog_get(struct bpfvm *vm, int pinfd, const char *path, uint32_t file_flags)
{
	struct pin_prog h;
	struct bpf_insn *insns = NULL;
	int32_t fds[PIN_MAX_MAPS];
	uint32_t opened = 0;
	long ret;

	(void)file_flags; /* Linux 6.18's bpf_obj_get_user() opens a program whatever BPF_F_RDONLY/WRONLY say */
	if ((ret = read_prog_file(vm, pinfd, path, &h, &insns)))
		return ret;
	for (; opened < h.map_cnt; opened++) {
		char f[32], fshown[PATH_MAX + 32];
		struct map *m;
		snprintf(f, sizeof(f), "map%u", opened);
		snprintf(fshown, sizeof(fshown), "%s/%s", path, f);
		struct map_env env = sys_map_env(vm);
		if ((ret = map_open_pinned(&env, pinfd, f, fshown, &m, sys_log(vm))))
			goto out;
		int fd = sys_install(vm, SYS_MAP, m);
		if (fd < 0) {
			map_free(m);
			ret = sys_err(vm, fd, "OBJ_GET: %s: no handle for map %u", path, opened);
			goto out;
		}
		fds[opened] = fd;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = h.prog_type;
	a.expected_attach_type = h.expected_attach_type;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = h.insn_cnt;
	a.license = (uintptr_t)(h.gpl ? "GPL" : "Proprietary");
	a.fd_array = (uintptr_t)fds;
	memcpy(a.prog_name, h.name, sizeof(a.prog_name));
	ret = sys_prog_load(vm, &a);
	if (ret < 0) {
		char last[512];
		diag_last(sys_log(vm), last, sizeof(last));
		sys_log_reset(vm);
		ret = sys_err(vm, (int)ret, "OBJ_GET: %s: the pinned program does not load: %s", path, last);
	}
out:
	for (uint32_t i = 0; i < opened; i++) /* the program holds its own references */
		bpfvm_close(vm, fds[i]);
	free(insns);
	return ret;
}
