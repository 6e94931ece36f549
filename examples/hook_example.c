/* hook_example.c -- embedding bpfvm with a host-defined hook.
 *
 * A server declares a hook "admit" whose context is its own struct request: uid and bytes are
 * readable, verdict is also writable, and programs may call map lookup/update only.  It loads the BPF
 * object built from hook_prog.bpf.c, attaches its program and runs it for a few requests.
 *
 *   build/examples/hook_example [path/to/hook_prog.bpf.o]
 */
#include <errno.h>
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <bpfvm.h>

struct request {
	uint32_t uid;
	uint32_t bytes;
	uint32_t verdict;
	uint32_t reserved;
};

int main(int argc, char **argv)
{
	static const struct bpfvm_hook_field fields[] = {
		{ "uid", offsetof(struct request, uid), 4, 0 },
		{ "bytes", offsetof(struct request, bytes), 4, 0 },
		{ "verdict", offsetof(struct request, verdict), 4, 1 },
	};
	static const uint32_t helpers[] = { BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem };
	const struct bpfvm_hook_desc desc = {
		.sz = sizeof(desc), .name = "admit", .ctx_size = sizeof(struct request),
		.fields = fields, .field_cnt = 3, .helper_ids = helpers, .helper_cnt = 2,
	};
	char path[4096];
	struct bpfvm *vm = bpfvm_new(NULL);
	struct bpfvm_object *obj = NULL;
	struct bpfvm_hook *hook = NULL;
	int err, rc = 1;

	if (argc > 1) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else {
		char self[4096];
		snprintf(self, sizeof(self), "%s", argv[0]);
		snprintf(path, sizeof(path), "%s/hook_prog.bpf.o", dirname(self));
	}
	if (!vm)
		return 1;
	if ((err = bpfvm_hook_new(vm, &desc, &hook)) || (err = bpfvm_object_open(vm, path, &obj)) ||
	    (err = bpfvm_object_load(obj))) {
		fprintf(stderr, "hook_example: %s: %s\n", path, bpfvm_errmsg(vm));
		goto out;
	}
	int fd = bpfvm_object_prog_fd(obj, "admit");
	if (fd < 0 || (err = bpfvm_hook_attach(hook, fd))) {
		fprintf(stderr, "hook_example: attach: %s\n", bpfvm_errmsg(vm));
		goto out;
	}
	static const struct request reqs[] = { { 1000, 4000, 0, 0 }, { 1001, 300, 0, 0 }, { 1000, 5000, 0, 0 },
						 { 1000, 2000, 0, 0 }, { 1001, 9000, 0, 0 } };
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		struct request r = reqs[i];
		uint64_t ret = 0;
		err = bpfvm_hook_run(hook, &r, &ret, 1);
		if (err < 0) {
			fprintf(stderr, "hook_example: run: %s\n", bpfvm_errmsg(vm));
			goto out;
		}
		printf("uid %u bytes %5u -> total %3llu KiB, %s\n", r.uid, r.bytes, (unsigned long long)ret,
		       r.verdict ? "over quota" : "admitted");
	}
	rc = 0;
out:
	bpfvm_hook_free(hook);
	bpfvm_object_close(obj);
	bpfvm_free(vm);
	return rc;
}
