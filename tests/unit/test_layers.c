/* test_layers.c -- scripts/check-layers.sh (make check-layers) rejects what it exists to reject: an
 * include the folder matrix does not allow, an include of or from a folder the matrix does not name, an
 * include outside src/ and include/, and a matrix with a cycle; it accepts the real tree, an allowed
 * include, and an exception while scripts/layers-known-violations.txt lists it.  Each case runs the
 * script on a small tree written to a temporary directory, and asserts its exit status and the line
 * it prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define SCRIPT "scripts/check-layers.sh"

/* A three-folder matrix: util <- isa <- vm, and sys above both. */
static const char matrix_ok[] =
	"<!-- layers:begin -->\n"
	"| folder | may include |\n"
	"|---|---|\n"
	"| `util` | — |\n"
	"| `isa` | `util` |\n"
	"| `vm` | `isa`, `util` |\n"
	"| `sys` | `isa`, `vm`, `util` |\n"
	"<!-- layers:end -->\n";

static char root[64];

static int write_file(const char *rel, const char *text)
{
	char path[512], dir[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	/* mkdir -p of the file's folders */
	for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(s - path), path);
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -1;
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A fresh tree: the matrix, an empty exception list, and one allowed include per folder. */
static int tree(const char *matrix)
{
	char cmd[128];

	if (root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd))
			return -1;
	}
	snprintf(root, sizeof(root), "/tmp/bpfvm-layers-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	return write_file("src/README.md", matrix) || write_file("scripts/layers-known-violations.txt", "# none\n") ||
	       write_file("src/util/util.h", "#pragma once\n") ||
	       write_file("src/isa/isa.h", "#include \"../util/util.h\"\n") ||
	       write_file("src/vm/vm.h", "#include \"../isa/isa.h\"\n#include <stdint.h>\n") ||
	       write_file("src/sys.c", "#include \"vm/vm.h\"\n#include \"isa/isa.h\"\n");
}

/* Runs the check on dir: its exit status, and its output in out. */
static int check(const char *dir, char *out, size_t len)
{
	char cmd[640];
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "%s '%s' 2>&1", SCRIPT, dir);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(the_real_tree_passes)
{
	char out[4096];

	if (access(SCRIPT, X_OK))
		SKIP("scripts/check-layers.sh not found: run from the source tree");
	CHECK_EQ_U64(check(".", out, sizeof(out)), 0);
	CHECK(strstr(out, "check-layers: ok") != NULL);
}

TEST(allowed_includes_pass)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 0);
	CHECK(strstr(out, "check-layers: ok (0 known violations") != NULL);
}

TEST(an_include_up_the_matrix_fails)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK(write_file("src/vm/interp.c", "#include \"vm.h\"\n#include \"../sys.h\"\n") == 0);
	CHECK(write_file("src/sys.h", "#pragma once\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 1);
	CHECK(strstr(out, "src/vm/interp.c:2: includes src/sys.h: folder \"vm\" may include only: isa util") != NULL);
	CHECK(strstr(out, "check-layers: FAILED") != NULL);
}

TEST(a_listed_exception_passes_and_a_stale_one_is_named)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK(write_file("src/vm/interp.c", "#include \"../sys.h\"\n") == 0);
	CHECK(write_file("src/sys.h", "#pragma once\n") == 0);
	CHECK(write_file("scripts/layers-known-violations.txt",
			 "src/vm/interp.c src/sys.h issue-1: a reason\n"
			 "src/isa/isa.h src/vm/vm.h issue-1: gone already\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 0);
	CHECK(strstr(out, "check-layers: ok (1 known violations") != NULL);
	CHECK(strstr(out, "lists \"src/isa/isa.h src/vm/vm.h\", which no longer happens") != NULL);
}

TEST(an_include_of_a_folder_not_in_the_matrix_fails)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK(write_file("src/extra/extra.h", "#pragma once\n") == 0);
	CHECK(write_file("src/vm/interp.c", "#include \"../extra/extra.h\"\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 1);
	CHECK(strstr(out, "src/vm/interp.c:1: includes src/extra/extra.h: folder \"vm\" may include only") != NULL);
}

TEST(an_include_from_a_folder_not_in_the_matrix_fails)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK(write_file("src/extra/extra.c", "#include \"../util/util.h\"\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 1);
	CHECK(strstr(out, "src/extra/extra.c:1: folder \"extra\" is not in the matrix of src/README.md") != NULL);
}

TEST(an_include_outside_src_fails)
{
	char out[4096];

	CHECK(tree(matrix_ok) == 0);
	CHECK(write_file("tests/helper.h", "#pragma once\n") == 0);
	CHECK(write_file("src/vm/interp.c", "#include \"../../tests/helper.h\"\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 1);
	CHECK(strstr(out, "src/vm/interp.c:1: includes tests/helper.h, outside src/ and include/") != NULL);
}

TEST(a_cycle_in_the_matrix_fails)
{
	/* isa may include vm and vm isa: every include the tree has is allowed, the table itself is not */
	static const char matrix_cycle[] =
		"<!-- layers:begin -->\n"
		"| folder | may include |\n"
		"|---|---|\n"
		"| `util` | — |\n"
		"| `isa` | `util`, `vm` |\n"
		"| `vm` | `isa`, `util` |\n"
		"| `sys` | `isa`, `vm`, `util` |\n"
		"<!-- layers:end -->\n";
	char out[4096];

	CHECK(tree(matrix_cycle) == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 1);
	CHECK(strstr(out, "check-layers: the matrix of src/README.md has a cycle:") != NULL);
}

TEST(a_missing_matrix_fails)
{
	char out[4096];

	CHECK(tree("no table here\n") == 0);
	CHECK_EQ_U64(check(root, out, sizeof(out)), 2);
	CHECK(strstr(out, "check-layers: no matrix between the layers markers of src/README.md") != NULL);
}

int main(void)
{
	RUN(the_real_tree_passes);
	if (access(SCRIPT, X_OK)) {
		printf("SKIP check_layers_trees: %s not found (run from the source tree)\n", SCRIPT);
		return test_done();
	}
	RUN(allowed_includes_pass);
	RUN(an_include_up_the_matrix_fails);
	RUN(a_listed_exception_passes_and_a_stale_one_is_named);
	RUN(an_include_of_a_folder_not_in_the_matrix_fails);
	RUN(an_include_from_a_folder_not_in_the_matrix_fails);
	RUN(an_include_outside_src_fails);
	RUN(a_cycle_in_the_matrix_fails);
	RUN(a_missing_matrix_fails);
	if (root[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		CHECK(system(cmd) == 0);
	}
	return test_done();
}
