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

/* Run GROUP as TAP. */
#define run_tap_group(group, setup, teardown)                                  \
	(cmocka_set_message_output(CM_OUTPUT_TAP),                             \
	 cmocka_run_group_tests(group, setup, teardown))

#endif
