/*
 * maint.c - the maintenance thread: the segment's housekeeping off the
 * writers' path.
 *
 * Every few milliseconds it calls hc_maintain() with a small budget, which
 * reaps the slots of dead processes and frees blocks (cleaning, or CLOCK
 * eviction) until free blocks are a step ahead of the point where a set
 * would have to free one itself.  Once a second it samples the segment's
 * counters, so that the stats command can report rates from the last two
 * samples.  It also runs a delayed flush_all when its time comes.
 *
 * The thread sleeps on a condition variable over CLOCK_MONOTONIC, so that
 * maint_stop() wakes it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "hostcached.h"

#define SAMPLE_INTERVAL_NS 1000000000ull

static struct {
	pthread_t thread;
	pthread_mutex_t lock;    /* guards everything below */
	pthread_cond_t wake;
	bool running, stopping;
	hc_cache *cache;
	unsigned interval_ms, budget_us;
	uint64_t flush_at_ns;    /* 0: no flush pending */
	struct maint_sample latest;
	uint64_t latest_ns;
} maint = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static double per_sec(uint64_t now, uint64_t before, double seconds)
{
	return now >= before ? (double)(now - before) / seconds : 0.0;
}

/* Take a sample; called with the lock held, NOW_NS a second or more after
 * the last one. */
static void sample_counters(uint64_t now_ns)
{
	struct maint_sample *l = &maint.latest;
	hc_stats s;
	double seconds;

	if (hc_stats_get(maint.cache, &s) != 0) {
		log_msg(LOG_WARN, "maintenance: reading the counters: %s",
		        hc_last_error());
		return;
	}
	if (maint.latest_ns != 0) {
		seconds = (double)(now_ns - maint.latest_ns) / 1e9;
		l->gets_per_sec = per_sec(s.gets, l->now.gets, seconds);
		l->sets_per_sec = per_sec(s.sets, l->now.sets, seconds);
		l->hits_per_sec = per_sec(s.hits, l->now.hits, seconds);
		l->evictions_per_sec = per_sec(s.evictions, l->now.evictions,
		                               seconds);
		l->have_rates = true;
	}
	l->now = s;
	maint.latest_ns = now_ns;
}

static void run_due_flush(uint64_t now_ns)
{
	int rc;

	if (maint.flush_at_ns == 0 || now_ns < maint.flush_at_ns)
		return;
	maint.flush_at_ns = 0;
	rc = hc_flush(maint.cache);
	if (rc != 0)
		log_msg(LOG_WARN, "delayed flush_all: %s", hc_last_error());
	else
		log_msg(LOG_INFO, "delayed flush_all done");
}

static void one_round(void)
{
	long freed;
	uint64_t now_ns;

	freed = hc_maintain(maint.cache, maint.budget_us);
	if (freed < 0)
		log_msg(LOG_WARN, "maintenance: %s", hc_last_error());
	now_ns = monotonic_ns();
	pthread_mutex_lock(&maint.lock);
	run_due_flush(now_ns);
	if (now_ns - maint.latest_ns >= SAMPLE_INTERVAL_NS)
		sample_counters(now_ns);
	pthread_mutex_unlock(&maint.lock);
}

static void *maint_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&maint.lock);
	while (!maint.stopping) {
		struct timespec until;

		pthread_mutex_unlock(&maint.lock);
		one_round();
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)maint.interval_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&maint.lock);
		while (!maint.stopping &&
		       pthread_cond_timedwait(&maint.wake, &maint.lock,
		                              &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&maint.lock);
	return NULL;
}

int maint_start(hc_cache *cache, unsigned interval_ms, unsigned budget_us)
{
	pthread_condattr_t attr;
	int rc;

	maint.cache = cache;
	maint.interval_ms = interval_ms;
	maint.budget_us = budget_us;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&maint.wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&maint.lock);
	sample_counters(monotonic_ns());
	pthread_mutex_unlock(&maint.lock);
	rc = pthread_create(&maint.thread, NULL, maint_main, NULL);
	if (rc != 0) {
		log_msg(LOG_ERROR, "starting the maintenance thread: %s",
		        strerror(rc));
		return -1;
	}
	maint.running = true;
	return 0;
}

void maint_stop(void)
{
	if (!maint.running)
		return;
	pthread_mutex_lock(&maint.lock);
	maint.stopping = true;
	pthread_cond_signal(&maint.wake);
	pthread_mutex_unlock(&maint.lock);
	pthread_join(maint.thread, NULL);
	maint.running = false;
}

void maint_latest(struct maint_sample *out)
{
	pthread_mutex_lock(&maint.lock);
	*out = maint.latest;
	pthread_mutex_unlock(&maint.lock);
}

void maint_flush_at(uint64_t at_ns)
{
	pthread_mutex_lock(&maint.lock);
	maint.flush_at_ns = at_ns;
	pthread_mutex_unlock(&maint.lock);
}
