/*
 * t_threads - threads of one process sharing the mapping: two share one
 * handle (and its open block, under the handle's lock), two have handles of
 * their own.  All write and read self-verifying values on shared and
 * per-thread keys under eviction.  Built with -fsanitize=thread by
 * `make tsan`, this is the data-race check of the library.
 */
#include <pthread.h>
#include <time.h>

#include "testutil.h"

#define THREADS 4
#define VALUE_MAX 1024

static char name[64];
static hc_cache *shared_handle;

struct thread_arg {
	unsigned id;
	hc_cache *c;
	unsigned long ops;
	char failure[400];
};

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int one_op(struct thread_arg *a, uint64_t *rng, uint64_t *seq,
                  unsigned char *buf, unsigned char *val)
{
	char key[32];
	unsigned k = (unsigned)(sv_rand(rng) % 500);
	int kl = sv_rand(rng) % 2 ? snprintf(key, sizeof key, "shared:%u", k)
	                          : snprintf(key, sizeof key, "t%u:%u", a->id, k);
	size_t len = SV_MIN + sv_rand(rng) % (VALUE_MAX - SV_MIN);
	hc_item_info info;
	char why[160];
	int rc;

	switch (sv_rand(rng) % 6) {
	case 4: {
		/* Leases and invalidation share the mapping too. */
		hc_lease l;

		rc = hc_get_or_lease(a->c, key, (size_t)kl, buf, VALUE_MAX, &info,
		                     1000, 0, &l);
		if (rc == 0 && sv_verify(buf, info.vlen, key, (size_t)kl, NULL,
		                         why, sizeof why) != 0) {
			snprintf(a->failure, sizeof a->failure, "lease get %s: %s",
			         key, why);
			return -1;
		}
		if (l.held) {
			sv_make(val, len, key, (size_t)kl, a->id, ++*seq);
			rc = hc_lease_fill(a->c, &l, key, (size_t)kl, val, len, NULL);
			if (rc == HC_ENOLEASE)
				rc = 0;
		} else {
			rc = 0;
		}
		break;
	}
	case 5:
		rc = sv_rand(rng) % 64 ? 0 : hc_invalidate_prefix(a->c, key, 3, NULL);
		break;
	case 0:
	case 1:
		rc = hc_get_ex(a->c, key, (size_t)kl, buf, VALUE_MAX, &info);
		if (rc == HC_ENOTFOUND)
			return 0;
		if (rc != 0 || sv_verify(buf, info.vlen, key, (size_t)kl, NULL,
		                         why, sizeof why) != 0) {
			snprintf(a->failure, sizeof a->failure, "get %s: %s", key,
			         rc ? hc_strerror(rc) : why);
			return -1;
		}
		return 0;
	case 2:
		sv_make(val, len, key, (size_t)kl, a->id, ++*seq);
		rc = hc_set(a->c, key, (size_t)kl, val, len, 0);
		break;
	default:
		rc = hc_delete(a->c, key, (size_t)kl);
		if (rc == HC_ENOTFOUND)
			rc = 0;
		break;
	}
	if (rc != 0) {
		snprintf(a->failure, sizeof a->failure, "%s: %s", key, hc_strerror(rc));
		return -1;
	}
	return 0;
}

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (a->id + 1), seq = 0;
	unsigned char buf[VALUE_MAX], val[VALUE_MAX];
	uint64_t end = ms_now() + 2000;

	while (ms_now() < end)
		for (int i = 0; i < 256; i++, a->ops++)
			if (one_op(a, &rng, &seq, buf, val) != 0)
				return NULL;
	return NULL;
}

static void test_threads_share_segment(void **state)
{
	hc_config cfg;
	struct thread_arg args[THREADS];
	pthread_t tids[THREADS];
	hc_cache *own[THREADS] = { 0 };

	(void)state;
	cfg = test_config(2 << 20, 8);
	assert_hc_ok(test_segment_create(name, sizeof name, "threads",
	                                 &cfg, &shared_handle));
	for (unsigned i = 0; i < THREADS; i++) {
		memset(&args[i], 0, sizeof args[i]);
		args[i].id = i + 1;
		if (i < 2) {
			args[i].c = shared_handle;
		} else {
			assert_hc_ok(hc_open(name, &own[i]));
			args[i].c = own[i];
		}
		assert_int_equal(pthread_create(&tids[i], NULL, thread_main, &args[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(tids[i], NULL);
	for (unsigned i = 0; i < THREADS; i++) {
		print_message("thread %u: %lu ops\n", i + 1, args[i].ops);
		if (args[i].failure[0])
			fail_msg("thread %u: %s", i + 1, args[i].failure);
		assert_true(args[i].ops > 1000);
	}
	for (unsigned i = 2; i < THREADS; i++)
		assert_hc_ok(hc_close(own[i]));

	hc_check_result r;
	hc_stats s;

	assert_int_equal(hc_check(shared_handle, 0, NULL, NULL, &r), 0);
	assert_hc_ok(hc_stats_get(shared_handle, &s));
	/* The log wrapped: blocks were freed, by cleaning or by eviction. */
	if (s.blocks_evicted + s.blocks_cleaned == 0)
		fail_msg("no block was evicted or cleaned: the log never wrapped");
	test_segment_remove(name, shared_handle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_share_segment),
	};

	return run_tap_group(tests, NULL, NULL);
}
