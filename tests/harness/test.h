/*
 * test.h - the project's test registry, assertions and runner interface.
 *
 * A test is a function registered with TEST(name) (run once) or
 * TEST_LOOPS(name) (run once under each event-loop binding: the function
 * gets the loop kind).  The runner (runner.c) forks each test, with a
 * timeout, and prints TAP; its last line is "N passed, N failed, N skipped".
 *
 * Inside a test:
 *   ASSERT_*()    on failure print both sides and end the test as failed;
 *   SKIP(...)     end the test as skipped, saying why (exit status 4).
 * After a test returns, the runner checks that it left no fd open and no
 * child process behind.
 */
#ifndef CKPT_TEST_H
#define CKPT_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckptdev/ao.h"

#define TEST_EXIT_SKIP 4

typedef void test_fn(void);
typedef void test_loop_fn(enum ckpt_loop_kind loop);

void test_register(const char *name, test_fn *fn, test_loop_fn *loop_fn, unsigned timeout_s);

/* Seconds before the runner kills a test; scaled by CKPT_TEST_TIMEOUT_SCALE. */
#define TEST_DEFAULT_TIMEOUT 30

#define TEST_T(name, timeout_s)                                                                    \
	static void test_##name(void);                                                             \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		test_register(#name, test_##name, NULL, (timeout_s));                              \
	}                                                                                          \
	static void test_##name(void)

#define TEST(name) TEST_T(name, TEST_DEFAULT_TIMEOUT)

#define TEST_LOOPS_T(name, timeout_s)                                                              \
	static void test_##name(enum ckpt_loop_kind loop);                                         \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		test_register(#name, NULL, test_##name, (timeout_s));                              \
	}                                                                                          \
	static void test_##name(enum ckpt_loop_kind loop)

#define TEST_LOOPS(name) TEST_LOOPS_T(name, TEST_DEFAULT_TIMEOUT)

__attribute__((noreturn, format(printf, 3, 4))) void test_fail(const char *file, int line,
                                                               const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void test_skip(const char *fmt, ...);

#define SKIP(...) test_skip(__VA_ARGS__)
#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT_TRUE(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			test_fail(__FILE__, __LINE__, "ASSERT_TRUE(%s) failed", #cond);            \
	} while (0)

#define ASSERT_INT_OP(a, op, b)                                                                    \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (!(a_ op b_))                                                                   \
			test_fail(__FILE__, __LINE__, "%s %s %s failed: %lld vs %lld", #a, #op,    \
			          #b, a_, b_);                                                     \
	} while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP(a, >=, b)

/* A ckptdev rc, printed with its name. */
#define ASSERT_RC(expr, want)                                                                      \
	do {                                                                                       \
		int got_ = (expr), want_ = (want);                                                 \
		if (got_ != want_)                                                                 \
			test_fail(__FILE__, __LINE__, "%s gave %d (%s), expected %d (%s)", #expr,  \
			          got_, ckpt_strerror(got_), want_, ckpt_strerror(want_));         \
	} while (0)

#define ASSERT_OK(expr) ASSERT_RC(expr, 0)

#define ASSERT_STR_EQ(a, b)                                                                        \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_))                                                  \
			test_fail(__FILE__, __LINE__, "%s == %s failed: \"%s\" vs \"%s\"", #a, #b, \
			          a_ ? a_ : "(null)", b_ ? b_ : "(null)");                         \
	} while (0)

/* ------------------------------------------------------------- helpers */

/* Number of open fds of this process. */
int test_fd_count(void);
/* Milliseconds on CLOCK_MONOTONIC. */
long long test_now_ms(void);
/* The directory holding the test binaries (for helper programs). */
const char *test_bin_dir(void);
/* "/tmp/ckpt-test-PID-name": a path of this test's own (PID is the test
 * process), so that test runs side by side (other checkouts, other
 * tiers) never share a file.  The last 8 results stay valid. */
const char *test_tmp_path(const char *name);
/* Write an executable /bin/sh script at path with the given body. */
void test_write_script(const char *path, const char *body);
/* Scaled timeout (CKPT_TEST_TIMEOUT_SCALE, e.g. 5 under valgrind). */
unsigned test_scale_ms(unsigned ms);

#endif /* CKPT_TEST_H */
