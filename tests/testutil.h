/*
 * testutil.h - shared bits of the test programs.
 *
 * Every test program is a cmocka group printed as TAP, run by prove.  Each
 * test makes its own segment with a name unique to the process and the
 * test, and unlinks it at the end, so tests can run in parallel:
 * test_segment_create() for a segment a test keeps in its own variables,
 * struct test_fixture (with test_fixture_setup and test_fixture_teardown)
 * for one the teardown removes even when the test fails.
 *
 * Including this header is enough for every test program: it brings
 * selfcheck.h (values that verify themselves) and spawn.h (helper
 * programs, waiting for children) along.  The helper programs and the
 * torture supervisor, which do not run under cmocka, include those two
 * (and worker_counters.h) directly.
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
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "hostcache.h"
#include "selfcheck.h" /* self-verifying values */
#include "spawn.h"     /* helper programs; wait_status() for any child */

/* Fill NAME with a segment name unique to this process and TAG. */
static inline void test_segment_name(char *name, size_t cap, const char *tag)
{
	snprintf(name, cap, "/hc-test-%s-%ld", tag, (long)getpid());
}

/* The usual small segment: 8 MiB and 8 process slots. */
#define TEST_SEG_SIZE ((uint64_t)8 << 20)
#define TEST_SEG_PROCS 8
#define TEST_NAME_CAP 128

/* A configuration of SIZE bytes and PROCS process slots, the rest the
 * defaults. */
static inline hc_config test_config(uint64_t size, uint32_t procs)
{
	hc_config cfg;

	hc_config_init(&cfg);
	cfg.size = size;
	cfg.max_procs = procs;
	return cfg;
}

/* Create the segment named after TAG (the name goes to NAME) from CFG,
 * removing first what a dead run with our pid left under that name.
 * Returns what hc_create() returned. */
static inline int test_segment_create(char *name, size_t cap,
                                      const char *tag, const hc_config *cfg,
                                      hc_cache **c)
{
	test_segment_name(name, cap, tag);
	shm_unlink(name);
	return hc_create(name, cfg, c);
}

/* Detach C (if not NULL) and remove the segment NAME: the end of a test. */
static inline void test_segment_remove(const char *name, hc_cache *c)
{
	if (c != NULL)
		hc_close(c);
	shm_unlink(name);
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

/* Compare two unsigned values and print both in decimal on failure. */
#define assert_u64_equal(got, want)                                            \
	do {                                                                   \
		uint64_t got_ = (uint64_t)(got);                               \
		uint64_t want_ = (uint64_t)(want);                             \
		if (got_ != want_)                                             \
			fail_msg("%s is %llu, expected %s = %llu", #got,       \
			         (unsigned long long)got_, #want,              \
			         (unsigned long long)want_);                   \
	} while (0)

/* A string literal as the pointer and length arguments of a key. */
#define KEY(literal) (literal), (sizeof(literal) - 1)

/* Assert that KEY reads back as exactly WANT (WANTLEN bytes, any size: the
 * buffer has room for more, so that a longer value shows as a wrong
 * length).  The indirection lets KEY() expand into two arguments. */
#define assert_value(...) assert_value_(__VA_ARGS__)
#define assert_value_(c, key, klen, want, wantlen)                             \
	do {                                                                   \
		size_t wantlen_ = (wantlen);                                   \
		char *buf_ = malloc(wantlen_ + 512);                           \
		size_t vlen_ = (size_t)-1;                                     \
		assert_non_null(buf_);                                         \
		assert_hc_ok(hc_get((c), (key), (klen), buf_, wantlen_ + 512,  \
		                    &vlen_));                                  \
		assert_u64_equal(vlen_, wantlen_);                             \
		assert_memory_equal(buf_, (want), wantlen_);                   \
		free(buf_);                                                    \
	} while (0)

/* Assert that KEY is absent. */
#define assert_missing(...) assert_missing_(__VA_ARGS__)
#define assert_missing_(c, key, klen)                                          \
	do {                                                                   \
		char buf_[512];                                                \
		size_t vlen_;                                                  \
		assert_hc(hc_get((c), (key), (klen), buf_, sizeof(buf_),       \
		                 &vlen_),                                      \
		          HC_ENOTFOUND);                                       \
	} while (0)

/* Fork a child attached to the segment NAME: returns the child's pid in
 * the parent, and 0 in the child, with *C its own handle.  A child that
 * cannot attach exits with status 2. */
static inline pid_t fork_attached(const char *name, hc_cache **c)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0 && hc_open(name, c) != 0)
		_exit(2);
	return pid;
}

/* In a forked child: tell the parent through the pipe READY that it is
 * set (it holds a slot, a reservation...), then wait to be killed. */
static inline void child_park(int ready[2])
{
	if (write(ready[1], "x", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* In the parent: wait until the child is parked, and close READY. */
static inline void child_parked(int ready[2])
{
	char byte;

	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	close(ready[1]);
}

/* One test's segment, closed and removed by the teardown even when the
 * test fails.  NAME is empty until test_fixture_create(). */
struct test_fixture {
	char name[TEST_NAME_CAP];
	hc_cache *c;
	hc_info info;  /* the segment's, once created */
};

static inline int test_fixture_setup(void **state)
{
	struct test_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	*state = f;
	return 0;
}

static inline int test_fixture_teardown(void **state)
{
	struct test_fixture *f = *state;

	if (f->name[0] != '\0')
		test_segment_remove(f->name, f->c);
	free(f);
	return 0;
}

/* A test FN run with a fresh struct test_fixture as its state. */
#define fixture_test(fn)                                                       \
	cmocka_unit_test_setup_teardown(fn, test_fixture_setup,                \
	                                test_fixture_teardown)

/* Create F's segment, named after TAG, from CFG (NULL: TEST_SEG_SIZE and
 * TEST_SEG_PROCS); asserts that it worked. */
static inline hc_cache *test_fixture_create(struct test_fixture *f,
                                            const char *tag,
                                            const hc_config *cfg)
{
	hc_config usual = test_config(TEST_SEG_SIZE, TEST_SEG_PROCS);

	assert_hc_ok(test_segment_create(f->name, sizeof(f->name), tag,
	                                 cfg != NULL ? cfg : &usual, &f->c));
	assert_non_null(f->c);
	assert_hc_ok(hc_info_get(f->c, &f->info));
	return f->c;
}

/* Run GROUP as TAP. */
#define run_tap_group(group, setup, teardown)                                  \
	(cmocka_set_message_output(CM_OUTPUT_TAP),                             \
	 cmocka_run_group_tests(group, setup, teardown))

/* Create the segment named after TAG (the name goes to NAME) of SIZE bytes
 * and PROCS process slots, its index sized for items of AVG_ITEM bytes on
 * average: small for a roomy index, large for one that fills before item
 * memory does.  Asserts that it worked. */
static inline hc_cache *test_segment_shaped(char *name, size_t cap,
                                            const char *tag, uint64_t size,
                                            uint32_t procs, uint32_t avg_item)
{
	hc_config cfg = test_config(size, procs);
	hc_cache *c;

	cfg.avg_item_size = avg_item;
	assert_hc_ok(test_segment_create(name, cap, tag, &cfg, &c));
	return c;
}

/* What hc_get_ex() reports about KEY, which must be present with a value
 * of at most 256 bytes.  The report starts out as a pattern no call
 * writes, so that a field the call leaves alone shows as garbage rather
 * than as a plausible zero. */
static inline hc_item_info item_info_of(hc_cache *c, const void *key,
                                        size_t klen)
{
	char buf[256];
	hc_item_info info;

	memset(&info, 0xa5, sizeof(info));
	assert_hc_ok(hc_get_ex(c, key, klen, buf, sizeof(buf), &info));
	return info;
}


#endif
