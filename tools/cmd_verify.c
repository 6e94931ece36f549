/* cmd_verify.c -- `bpfvm verify OBJ.o [--prog NAME] [--type TYPE] [--log 1|2] [--json]`: loads each program
 * of an object (or the one named) with the verifier on and reports its verdict, as `bpftool prog load`
 * reports the kernel's.  Exit status: 0 every selected program accepted, 1 one or more rejected, 2 no
 * verdict (usage error, unreadable object, unknown program, a load that fails with the verifier off too).
 *
 * Each program is loaded from a fresh open of the object, so that each gets its own verdict; a rejection
 * is told from other load failures by loading the program once more with verification off. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfvm.h>

#include "cmd.h"

static const char usage[] = "usage: bpfvm verify OBJ.o [--prog NAME] [--type TYPE] [--log 1|2] [--json]";

#define LOG_SIZE (16u << 20) /* the verifier's log of one program at --log 2 */

struct opts {
	const char *path, *only;
	int type;          /* 0: as SEC() says */
	unsigned level;
	bool json;
};

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* The last line of a message (the located reason: "prog.o: section xdp: insn 7: ... (program 'p')"). */
static const char *last_line(const char *msg, char *buf, size_t len)
{
	const char *end = msg + strlen(msg), *st;
	while (end > msg && end[-1] == '\n')
		end--;
	for (st = end; st > msg && st[-1] != '\n'; st--)
		;
	snprintf(buf, len, "%.*s", (int)(end - st), st);
	return buf;
}

/* Loads program i alone from a fresh open of the object: 0 loaded, else the negative errno with the
 * located reason in why. */
static int load_one(const struct opts *o, size_t i, int verify, char *log, char *why, size_t why_len)
{
	struct bpfvm_opts vo = { .sz = sizeof(vo), .verify = verify };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct bpfvm_object *obj = NULL;
	int err;

	if (!vm)
		return -ENOMEM;
	err = bpfvm_object_open(vm, o->path, &obj);
	if (!err) {
		size_t n = bpfvm_object_prog_cnt(obj);
		for (size_t k = 0; k < n && !err; k++)
			err = bpfvm_object_prog_set_autoload(obj, k, k == i);
		/* --type overrides SEC(); a section libbpf does not know is a socket filter */
		uint32_t t = o->type ? (uint32_t)o->type : bpfvm_object_prog_type(obj, i);
		if (!err && (t != bpfvm_object_prog_type(obj, i) || !t))
			err = bpfvm_object_prog_set_type(obj, i, t ? t : BPF_PROG_TYPE_SOCKET_FILTER);
		if (!err && log && o->level)
			err = bpfvm_object_prog_set_log(obj, i, o->level, log, LOG_SIZE);
		if (!err)
			err = bpfvm_object_load(obj);
	}
	if (err)
		last_line(bpfvm_errmsg(vm), why, why_len);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return err;
}

int cmd_verify(int argc, char **argv)
{
	struct opts o = { 0 };
	const char *type = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("%s\n"
			       "  Loads each program of OBJ.o with the verifier on and prints its verdict: 'verified', or the\n"
			       "  instruction and reason of the rejection (prog.o: section S: insn N: REASON (program 'P')).\n"
			       "  --prog NAME   only the program (or section) NAME\n"
			       "  --type TYPE   load as TYPE (libbpf's names: socket_filter, kprobe, sched_cls, xdp, cgroup_skb,\n"
			       "                sock_ops, ...) whatever SEC() says; without it SEC() decides as libbpf does and\n"
			       "                a section libbpf does not know loads as a socket filter\n"
			       "  --log 1|2     the verifier's log: 1 the rejected path's instructions and states, 2 every\n"
			       "                instruction's (Linux's notation: R1=ctx() R10=fp0), then its statistics\n"
			       "  --json        one JSON object: {\"file\", \"programs\": [{\"name\", \"section\", \"type\",\n"
			       "                \"verdict\": \"accepted\"|\"rejected\", \"error\", \"log\"}]}\n"
			       "  Exit status: 0 all accepted, 1 one or more rejected, 2 no verdict (usage, unreadable object,\n"
			       "  unknown program, a load that fails with the verifier off too).\n",
			       usage);
			return 0;
		} else if (!strcmp(argv[i], "--prog") || !strcmp(argv[i], "--type") || !strcmp(argv[i], "--log")) {
			if (i + 1 >= argc)
				return tool_usage_error("verify", "missing value of", usage, argv[i]);
			const char *v = argv[++i];
			if (!strcmp(argv[i - 1], "--prog"))
				o.only = v;
			else if (!strcmp(argv[i - 1], "--type"))
				type = v;
			else if (!strcmp(v, "1") || !strcmp(v, "2"))
				o.level = (unsigned)(v[0] - '0');
			else
				return tool_usage_error("verify", "--log takes 1 or 2, not", usage, v);
		} else if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (argv[i][0] == '-') {
			return tool_usage_error("verify", "unknown option", usage, argv[i]);
		} else if (!o.path) {
			o.path = argv[i];
		} else {
			return tool_usage_error("verify", "unexpected argument", usage, argv[i]);
		}
	}
	if (!o.path)
		return tool_usage_error("verify", "missing object file", usage);
	if (type && (o.type = bpfvm_prog_type_by_name(type)) < 0)
		return tool_usage_error("verify", "unknown program type", usage, type);

	/* the programs, from one open */
	struct bpfvm_opts vo = { .sz = sizeof(vo) };
	struct bpfvm *vm = bpfvm_new(&vo);
	struct bpfvm_object *obj = NULL;
	if (!vm) {
		fprintf(stderr, "bpfvm verify: out of memory\n");
		return 2;
	}
	if (bpfvm_object_open(vm, o.path, &obj)) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return 2;
	}
	size_t n = bpfvm_object_prog_cnt(obj), found = 0;
	for (size_t i = 0; i < n; i++)
		found += !o.only || !strcmp(o.only, bpfvm_object_prog_name(obj, i)) ||
			 !strcmp(o.only, bpfvm_object_prog_section(obj, i));
	if (o.only && !found) {
		fprintf(stderr, "bpfvm verify: %s: no program '%s'\n", o.path, o.only);
		bpfvm_object_close(obj);
		bpfvm_free(vm);
		return 2;
	}
	char *log = o.level ? malloc(LOG_SIZE) : NULL;
	if (o.level && !log) {
		fprintf(stderr, "bpfvm verify: out of memory\n");
		bpfvm_object_close(obj);
		bpfvm_free(vm);
		return 2;
	}
	int status = 0, first = 1;
	if (o.json) {
		printf("{\"file\": ");
		json_str(o.path);
		printf(", \"programs\": [");
	}
	for (size_t i = 0; i < n && status != 2; i++) {
		const char *name = bpfvm_object_prog_name(obj, i), *sec = bpfvm_object_prog_section(obj, i);
		if (o.only && strcmp(o.only, name) && strcmp(o.only, sec))
			continue;
		char why[1024] = "", why_off[1024] = "";
		if (log)
			log[0] = 0;
		int err = load_one(&o, i, BPFVM_VERIFY_ON, log, why, sizeof(why));
		bool rejected = false;
		if (err) {
			/* a verdict only when the program loads without the verifier (and the log fitted) */
			if (err == -ENOSPC || load_one(&o, i, BPFVM_VERIFY_OFF, NULL, why_off, sizeof(why_off))) {
				fprintf(stderr, "%s\n", why);
				status = 2;
				break;
			}
			rejected = true;
			status = 1;
		}
		uint32_t t = o.type ? (uint32_t)o.type : bpfvm_object_prog_type(obj, i);
		const char *tname = bpfvm_prog_type_name(t ? t : BPF_PROG_TYPE_SOCKET_FILTER);
		if (o.json) {
			printf("%s{\"name\": ", first ? "" : ", ");
			json_str(name);
			printf(", \"section\": ");
			json_str(sec);
			printf(", \"type\": ");
			json_str(tname);
			printf(", \"verdict\": \"%s\"", rejected ? "rejected" : "accepted");
			if (rejected) {
				printf(", \"error\": ");
				json_str(why);
			}
			if (log) {
				printf(", \"log\": ");
				json_str(log);
			}
			printf("}");
			first = 0;
			continue;
		}
		if (log && log[0])
			printf("%s%s", log, log[strlen(log) - 1] == '\n' ? "" : "\n");
		if (rejected)
			printf("%s\n", why);
		else
			printf("%s: section %s: program '%s': verified\n", o.path, sec, name);
	}
	if (o.json && status != 2)
		printf("]}\n");
	free(log);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return status;
}
