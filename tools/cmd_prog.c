/* cmd_prog.c -- `bpfvm prog load|run|show`: pinned programs, as bpftool's `prog` command.
 *   prog load OBJ.o PATH [--prog NAME] [--no-verify]
 *                                        load an object and pin one program at PATH (the first one
 *                                        without --prog), as `bpftool prog load x.o /sys/fs/bpf/x`;
 *                                        the pin holds the program's maps, so they live on with it;
 *                                        verified unless --no-verify
 *   prog run PATH [--data HEX | --data-file F] [--repeat N]
 *                                        open the pinned program in this process, on its maps, and run it
 *                                        (BPF_PROG_TEST_RUN on the data, 64 zero bytes without one);
 *                                        prints r0 as `bpfvm run` does
 *   prog show PATH                       type, name, instruction and map count
 * PATH is under the pin root: /sys/fs/bpf/NAME (the default root), or an absolute path whose directory
 * is taken as the root, as `bpfvm map` does; --pin-root DIR sets it.  Public API only. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

#define USAGE_PROG                                                                                             \
	"usage: bpfvm prog [--pin-root DIR] load OBJ.o PATH [--prog NAME] [--no-verify]\n"                       \
	"       bpfvm prog [--pin-root DIR] run PATH [--data HEX | --data-file FILE] [--repeat N]\n"              \
	"       bpfvm prog [--pin-root DIR] show PATH"

static void help(void)
{
	printf(USAGE_PROG "\n"
	       "  load  loads OBJ.o and pins one of its programs (the first, or NAME) at PATH, with its maps,\n"
	       "        as `bpftool prog load OBJ.o PATH`: another process can then open and run it.  Every\n"
	       "        program passes the verifier first; --no-verify loads without it (README \"Verification\")\n"
	       "  run   opens the program pinned at PATH in this process, on the same maps, and runs it once\n"
	       "        (or N times) on the data (64 zero bytes without --data), as BPF_PROG_TEST_RUN; prints r0\n"
	       "  show  the pinned program's type, name, instruction count and maps\n"
	       "  PATH: /sys/fs/bpf/NAME (in the default pin root) or DIR/NAME (DIR is then the pin root)\n");
}

struct pctx {
	struct bpfvm *vm;
	const char *pin_root;
	bool no_verify;             /* prog load --no-verify: bpfvm_opts.verify = BPFVM_VERIFY_OFF */
	char root_buf[4096];
};

/* An absolute PATH outside /sys/fs/bpf names its own pin root (its directory), as `bpfvm map` does. */
static int open_vm(struct pctx *c, const char *path)
{
	if (!c->pin_root && path[0] == '/' && strncmp(path, "/sys/fs/bpf/", 12)) {
		const char *slash = strrchr(path, '/');
		size_t len = (size_t)(slash - path);
		if (len == 0 || len >= sizeof(c->root_buf)) {
			fprintf(stderr, "bpfvm prog: %s: cannot pin directly under /\n", path);
			return 1;
		}
		memcpy(c->root_buf, path, len);
		c->root_buf[len] = '\0';
		c->pin_root = c->root_buf;
	}
	struct bpfvm_opts o;
	memset(&o, 0, sizeof(o));
	o.sz = sizeof(o);
	o.pin_root = c->pin_root;
	o.verify = c->no_verify ? BPFVM_VERIFY_OFF : BPFVM_VERIFY_ON;
	c->vm = bpfvm_new(&o);
	if (!c->vm) {
		fprintf(stderr, "bpfvm prog: cannot create a bpfvm instance (pin root %s)\n",
			c->pin_root ? c->pin_root : "default");
		return 1;
	}
	return 0;
}

static long obj_cmd(struct bpfvm *vm, int cmd, const char *path, int fd)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uintptr_t)path;
	a.bpf_fd = fd < 0 ? 0 : (uint32_t)fd;
	return bpfvm_bpf(vm, cmd, &a, sizeof(a));
}

static int prog_load(struct pctx *c, const char *obj_path, const char *pin, const char *name)
{
	struct bpfvm_object *obj = NULL;
	int err = bpfvm_object_open(c->vm, obj_path, &obj);
	if (!err)
		err = bpfvm_object_load(obj);
	if (err) {
		fprintf(stderr, "bpfvm prog load: %s\n", bpfvm_errmsg(c->vm));
		bpfvm_object_close(obj);
		return 1;
	}
	int fd = -1;
	for (size_t i = 0; i < bpfvm_object_prog_cnt(obj) && fd < 0; i++)
		if (name ? !strcmp(bpfvm_object_prog_name(obj, i), name) : bpfvm_object_prog_autoload(obj, i))
			fd = bpfvm_object_prog_fd_at(obj, i);
	int rc = 0;
	if (fd < 0) {
		fprintf(stderr, "bpfvm prog load: %s: no program%s%s\n", obj_path, name ? " named " : "", name ? name : "");
		rc = 1;
	} else if (obj_cmd(c->vm, BPF_OBJ_PIN, pin, fd)) {
		fprintf(stderr, "bpfvm prog load: %s\n", bpfvm_errmsg(c->vm));
		rc = 1;
	}
	bpfvm_object_close(obj);
	return rc;
}

static int get_prog(struct pctx *c, const char *pin)
{
	long fd = obj_cmd(c->vm, BPF_OBJ_GET, pin, -1);
	if (fd < 0) {
		fprintf(stderr, "bpfvm prog: %s\n", bpfvm_errmsg(c->vm));
	} else if (tool_obj_kind(c->vm, (int)fd) != TOOL_OBJ_PROG) {
		fprintf(stderr, "bpfvm prog: %s: not a program (a pinned map? see bpfvm map show)\n", pin);
		bpfvm_close(c->vm, (int)fd);
		fd = -1;
	}
	return (int)fd;
}

static int prog_run(struct pctx *c, const char *pin, const char *hex, const char *file, uint32_t repeat)
{
	uint8_t zeros[64] = { 0 }, *data = NULL;
	size_t len = sizeof(zeros);
	if (hex && tool_parse_hex(hex, &data, &len)) {
		fprintf(stderr, "bpfvm prog run: --data: not hex bytes\n");
		return 2;
	}
	if (file && !(data = tool_read_file(file, &len)))
		return 1;
	int rc = 1, fd = get_prog(c, pin);
	if (fd >= 0) {
		struct bpfvm_test_run_opts o;
		memset(&o, 0, sizeof(o));
		o.sz = sizeof(o);
		o.data_in = data ? data : zeros;
		o.data_size_in = (uint32_t)len;
		o.repeat = repeat;
		if (bpfvm_prog_test_run(c->vm, fd, &o)) {
			fprintf(stderr, "bpfvm prog run: %s: %s\n", pin, bpfvm_errmsg(c->vm));
		} else {
			printf("0x%" PRIx32 "\n", o.retval);
			rc = 0;
		}
	}
	free(data);
	return rc;
}

static int prog_show(struct pctx *c, const char *pin)
{
	int fd = get_prog(c, pin);
	if (fd < 0)
		return 1;
	struct bpf_prog_info info;
	union bpf_attr a;
	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uintptr_t)&info;
	if (bpfvm_bpf(c->vm, BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a))) {
		fprintf(stderr, "bpfvm prog show: %s\n", bpfvm_errmsg(c->vm));
		return 1;
	}
	printf("%s: type %u  name %s  insns %u  maps %u%s\n", pin, info.type, info.name,
	       info.xlated_prog_len / (uint32_t)sizeof(struct bpf_insn), info.nr_map_ids, info.gpl_compatible ? "  gpl" : "");
	return 0;
}

int cmd_prog(int argc, char **argv)
{
	struct pctx c;
	int i = 1, rc;
	memset(&c, 0, sizeof(c));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			help();
			return 0;
		} else if (!strcmp(argv[i], "--pin-root") && i + 1 < argc) {
			c.pin_root = argv[++i];
		} else {
			return tool_usage_error("prog", "unknown option", USAGE_PROG, argv[i]);
		}
	}
	if (i >= argc)
		return tool_usage_error("prog", "no command given", USAGE_PROG);
	const char *verb = argv[i++];
	const char *pos[2] = { NULL, NULL }, *name = NULL, *hex = NULL, *file = NULL;
	uint32_t repeat = 1;
	int npos = 0;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--prog") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(a, "--no-verify"))
			c.no_verify = true;
		else if (!strcmp(a, "--data") && i + 1 < argc)
			hex = argv[++i];
		else if (!strcmp(a, "--data-file") && i + 1 < argc)
			file = argv[++i];
		else if (!strcmp(a, "--repeat") && i + 1 < argc)
			repeat = (uint32_t)strtoul(argv[++i], NULL, 0);
		else if (a[0] == '-' && a[1])
			return tool_usage_error("prog", "unknown option", USAGE_PROG, a);
		else if (npos < 2)
			pos[npos++] = a;
		else
			return tool_usage_error("prog", "unexpected argument", USAGE_PROG, a);
	}
	bool load = !strcmp(verb, "load"), run = !strcmp(verb, "run"), show = !strcmp(verb, "show");
	if (!load && !run && !show)
		return tool_usage_error("prog", "unknown command", USAGE_PROG, verb);
	if (npos != (load ? 2 : 1) || ((name || c.no_verify) && !load) || ((hex || file || repeat != 1) && !run) || (hex && file))
		return tool_usage_error("prog", "wrong arguments for", USAGE_PROG, verb);
	const char *pin = load ? pos[1] : pos[0];
	if (open_vm(&c, pin))
		return 1;
	rc = load ? prog_load(&c, pos[0], pin, name) : run ? prog_run(&c, pin, hex, file, repeat) : prog_show(&c, pin);
	bpfvm_free(c.vm);
	return rc;
}
