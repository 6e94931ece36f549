/* test.h -- the unit-test harness.  Each tests/unit/test_*.c is one binary; it prints one line per
 * case ("PASS name", "FAIL name: why", "SKIP name: reason") and tests/run_all.sh adds them up.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ_U64(a, b); }
 *   int main(void) { RUN(name); return test_done(); }
 */
#ifndef BPFVM_TEST_H
#define BPFVM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNUSED_T __attribute__((unused))

static int test_failed_cnt UNUSED_T, test_passed_cnt UNUSED_T, test_cur_failed UNUSED_T;
static const char *test_skip_reason UNUSED_T;

#define TEST(name) static void test_##name(void)
#define RUN(name) do { \
		test_cur_failed = 0; test_skip_reason = NULL; \
		test_##name(); \
		if (test_skip_reason) printf("SKIP %s: %s\n", #name, test_skip_reason); \
		else if (test_cur_failed) { printf("FAIL %s\n", #name); test_failed_cnt++; } \
		else { printf("PASS %s\n", #name); test_passed_cnt++; } \
		fflush(stdout); \
	} while (0)
#define SKIP(reason) do { test_skip_reason = (reason); return; } while (0)
#define CHECK(cond) do { if (!(cond)) { \
		printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); test_cur_failed = 1; } } while (0)
#define CHECK_EQ_U64(a, b) do { uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b); if (a_ != b_) { \
		printf("  %s:%d: %s == %s: 0x%" PRIx64 " != 0x%" PRIx64 "\n", __FILE__, __LINE__, #a, #b, a_, b_); \
		test_cur_failed = 1; } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b); if (!a_ || !b_ || strcmp(a_, b_)) { \
		printf("  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", \
		       b_ ? b_ : "(null)"); test_cur_failed = 1; } } while (0)

static inline int test_done(void)
{
	return test_failed_cnt ? 1 : 0;
}

#endif
