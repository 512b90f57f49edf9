/*
 * testutil.h - shared bits of the test programs.
 *
 * Every test program is a cmocka group printed as TAP, run by prove.  Each
 * test makes its own segment with a name unique to the process and the
 * test, and unlinks it at the end, so tests can run in parallel.
 */
#ifndef HC_TESTUTIL_H
#define HC_TESTUTIL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hostcache.h"

/* Fill NAME with a segment name unique to this process and TAG. */
static inline void test_segment_name(char *name, size_t cap, const char *tag)
{
	snprintf(name, cap, "/hc-test-%s-%ld", tag, (long)getpid());
}

/* Assert that an hc_* call returned WANT, printing both codes and the
 * messages when it did not. */
#define assert_hc(call, want)                                                  \
	do {                                                                   \
		int got_ = (call);                                             \
		int want_ = (want);                                            \
		if (got_ != want_)                                             \
			fail_msg("%s returned %d (%s), expected %d (%s)", #call, \
			         got_, hc_strerror(got_), want_,               \
			         hc_strerror(want_));                          \
	} while (0)

#define assert_hc_ok(call) assert_hc(call, 0)

/* An hc_check_fn that prints each problem as a TAP comment. */
static inline void check_say(void *arg, const char *problem)
{
	(void)arg;
	printf("# check: %s\n", problem);
}

/* Assert that hc_check() finds nothing wrong with C, printing what it
 * found when it does. */
#define assert_check_clean(c)                                                  \
	do {                                                                   \
		hc_check_result r_;                                            \
		int n_ = hc_check((c), 0, check_say, NULL, &r_);               \
		if (n_ != 0)                                                   \
			fail_msg("check returned %d (%s), %llu problems", n_,  \
			         n_ < 0 ? hc_strerror(n_) : "found",           \
			         (unsigned long long)r_.problems);             \
	} while (0)

/* Run GROUP as TAP. */
#define run_tap_group(group, setup, teardown)                                  \
	(cmocka_set_message_output(CM_OUTPUT_TAP),                             \
	 cmocka_run_group_tests(group, setup, teardown))

#endif
