/* cmd_verify.c -- `bpfvm verify OBJ.o [--prog NAME] [--type TYPE]`: loads every program of an object (or
 * one) with the verifier on and reports each verdict, as `bpftool prog load` reports the kernel's. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

#include "cmd.h"

static const char usage[] = "usage: bpfvm verify OBJ.o [--prog NAME] [--type TYPE]";

int cmd_verify(int argc, char **argv)
{
	const char *path = NULL, *only = NULL, *type = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("%s\n  Loads each program with the verifier on (bpfvm_opts.verify) and prints its verdict;\n"
			       "  exit status 1 when one is rejected.  --type sets the type of programs whose section names none.\n",
			       usage);
			return 0;
		} else if (!strcmp(argv[i], "--prog") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			type = argv[++i];
		} else if (argv[i][0] == '-') {
			return tool_usage_error("verify", "unknown option", usage, argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage_error("verify", "unexpected argument", usage, argv[i]);
		}
	}
	if (!path)
		return tool_usage_error("verify", "missing object file", usage);
	int t = 0;
	if (type && (t = bpfvm_prog_type_by_name(type)) < 0)
		return tool_usage_error("verify", "unknown program type", usage, type);
	struct bpfvm_opts o = { .sz = sizeof(o), .verify = BPFVM_VERIFY_ON };
	struct bpfvm *vm = bpfvm_new(&o);
	struct bpfvm_object *obj = NULL;
	if (!vm) {
		fprintf(stderr, "bpfvm verify: out of memory\n");
		return 1;
	}
	if (bpfvm_object_open(vm, path, &obj)) {
		fprintf(stderr, "%s\n", bpfvm_errmsg(vm));
		bpfvm_free(vm);
		return 1;
	}
	size_t n = bpfvm_object_prog_cnt(obj), found = 0;
	int bad = 0;
	/* one program per load, so that each gets its own verdict */
	for (size_t i = 0; i < n; i++) {
		const char *name = bpfvm_object_prog_name(obj, i), *sec = bpfvm_object_prog_section(obj, i);
		bool pick = !only || !strcmp(only, name) || !strcmp(only, sec);
		found += pick;
		bpfvm_object_prog_set_autoload(obj, i, pick);
		if (t && !bpfvm_object_prog_type(obj, i))
			bpfvm_object_prog_set_type(obj, i, (uint32_t)t);
	}
	if (only && !found) {
		fprintf(stderr, "bpfvm verify: %s: no program '%s'\n", path, only);
		bpfvm_object_close(obj);
		bpfvm_free(vm);
		return 1;
	}
	if (bpfvm_object_load(obj)) {
		/* the log's last line names object, section, program and instruction */
		const char *msg = bpfvm_errmsg(vm), *end = msg + strlen(msg), *st;
		while (end > msg && end[-1] == '\n')
			end--;
		for (st = end; st > msg && st[-1] != '\n'; st--)
			;
		printf("%.*s\n", (int)(end - st), st);
		bad = 1;
	} else {
		for (size_t i = 0; i < n; i++)
			if (bpfvm_object_prog_autoload(obj, i))
				printf("%s: section %s: program '%s': verified\n", path, bpfvm_object_prog_section(obj, i),
				       bpfvm_object_prog_name(obj, i));
	}
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return bad;
}
