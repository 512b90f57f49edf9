/*
 * drain.c - the write-behind drain: the segment's write-behind queue
 * (lib/writeback.c) sent to Redis, on the Redis thread.
 *
 * Workers that set with hc_set_options.writeback store locally and queue
 * a record in the segment; this file is the queue's one consumer.  It
 * runs on redis.c's thread and event base and sends on its publisher's
 * connection, which redis_publish.c hands to drain_poll() at every tick
 * while the connection is up.
 *
 *   - One record at a time: peek the oldest, send SET KEY VALUE [PX TTL]
 *     (binary-safe; DEL for a negative item, "known absent"), and pop it
 *     only once Redis answered OK.  One at a time because the library's
 *     peek hands out the oldest record only (a window would need a peek
 *     past it); it also keeps per-key order trivially: the records go
 *     out, and are popped, in queue order, each after the one before
 *     landed.  A landed record is followed by the next at once, not at
 *     the next tick.
 *   - At least once: killed between the answer and the pop, the next
 *     consumer sends the record again (a SET is idempotent).
 *   - Redis down, the connection lost before it answered, or an error
 *     reply that may pass (OOM, LOADING, READONLY, NOAUTH, MISCONF...):
 *     nothing is popped; the record is sent again after a backoff from
 *     100 ms doubling to 5 s, or once the link is up again.  The queue
 *     holds meanwhile, and producers get HC_ENOSPC once it is full.
 *   - An error reply that can never succeed for this record ("ERR ...",
 *     "WRONGTYPE ...": the command itself is refused): retrying it would
 *     stop the whole queue behind it forever, so it is popped, counted in
 *     wb_dropped and logged as an error naming the key.  Nothing else is
 *     ever dropped.
 *   - The claim: the first peek claims the queue.  While another live
 *     process holds it (a second hostcached on the segment), we warn once
 *     and try again every second, so that we take over once it is dead.
 *   - TTL: the record's TTL is relative, as the worker gave it; Redis
 *     counts it from when the SET lands, so a value lives in Redis up to
 *     the queue's delay longer than on this host.
 *
 * Other hosts.  The worker's set journaled an invalidation of the key
 * when it was made, which redis.c published then: the other hosts drop
 * their copies before Redis has the new value.  One of them could read
 * the old value through from Redis (mg G) in between and keep it.  So
 * once the SET lands, ENV->landed publishes the key's invalidation once
 * more: after it, no host keeps a copy older than what Redis holds.
 *
 * Counters are in redis.c's struct redis_stats (one writer: this thread).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "hostcached.h"

#define DRAIN_BACKOFF_MIN_MS 100
#define DRAIN_BACKOFF_MAX_MS 5000
#define DRAIN_CLAIM_RETRY_MS 1000
#define DRAIN_RECORDS_PER_POLL 1024 /* sent back to back before a tick */

static struct {
	struct drain_env env;
	bool enabled;            /* the segment has a queue */
	char *buf;               /* a record's key and value */
	size_t cap;
	hc_writeback_rec rec;    /* the record in flight */
	bool in_flight;
	redisAsyncContext *ac;   /* where it was sent */
	unsigned backoff_ms;
	uint64_t next_try_ms;    /* 0: now */
	bool warned_busy;
	unsigned sent_this_poll;
} d;

static uint64_t now_ms(void)
{
	return monotonic_ns() / 1000000u;
}

static void gauge_set(uint64_t *gauge, uint64_t v)
{
	__atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

static void depth_note(void)
{
	uint64_t records, bytes;

	if (hc_writeback_depth(d.env.cache, &records, &bytes) == 0) {
		gauge_set(&d.env.stats->wb_depth_records, records);
		gauge_set(&d.env.stats->wb_depth_bytes, bytes);
	}
}

int drain_init(const struct drain_env *env)
{
	hc_info info;

	memset(&d, 0, sizeof d);
	d.env = *env;
	d.backoff_ms = DRAIN_BACKOFF_MIN_MS;
	if (hc_info_get(env->cache, &info) != 0)
		return -1;
	if (info.writeback_bytes == 0) {
		gauge_set(&env->stats->wb_claim, DRAIN_CLAIM_NO_QUEUE);
		return 0;
	}
	d.cap = info.writeback_max_record;
	d.buf = malloc(d.cap);
	if (d.buf == NULL)
		return -1;
	d.enabled = true;
	gauge_set(&env->stats->wb_claim, DRAIN_CLAIM_NONE);
	log_msg(LOG_INFO, "write-behind: draining the segment's queue (%" PRIu32
	        " bytes) to Redis", info.writeback_bytes);
	return 0;
}

void drain_stop(void)
{
	free(d.buf);
	d.buf = NULL;
	d.enabled = false;
}

static void later(unsigned ms)
{
	d.next_try_ms = now_ms() + ms;
}

static void backoff(void)
{
	later(d.backoff_ms);
	d.backoff_ms = d.backoff_ms * 2 > DRAIN_BACKOFF_MAX_MS
	               ? DRAIN_BACKOFF_MAX_MS : d.backoff_ms * 2;
}

/* An error Redis will give this record however often it is sent. */
static bool error_is_final(const char *err)
{
	return strncmp(err, "ERR ", 4) == 0 || strncmp(err, "WRONGTYPE", 9) == 0;
}

static void send_next(void);

static void pop_current(void)
{
	int rc = hc_writeback_pop(d.env.cache, &d.rec);

	if (rc != 0)
		log_msg(LOG_ERROR, "write-behind: removing a sent record from the "
		        "queue: %s", hc_last_error());
	depth_note();
}

static void on_drain_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;
	bool ok;

	(void)ac;
	(void)arg;
	d.in_flight = false;
	if (rep == NULL) {
		/* Lost before it answered: Redis may or may not have it; sent
		 * again once the link is back (at least once). */
		counter_add(&d.env.stats->wb_drain_errors, 1);
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		counter_add(&d.env.stats->wb_drain_errors, 1);
		if (error_is_final(rep->str)) {
			log_msg(LOG_ERROR, "write-behind: Redis refused the write of "
			        "key '%.*s' for good (%s); dropped from the queue "
			        "(counted in redis_wb_dropped)", (int)d.rec.klen,
			        (const char *)d.rec.key, rep->str);
			counter_add(&d.env.stats->wb_dropped, 1);
			pop_current();
			send_next();
			return;
		}
		log_msg(d.backoff_ms == DRAIN_BACKOFF_MIN_MS ? LOG_WARN : LOG_DEBUG,
		        "write-behind: Redis refused the write of key '%.*s' (%s); "
		        "kept in the queue, sent again in %u ms", (int)d.rec.klen,
		        (const char *)d.rec.key, rep->str, d.backoff_ms);
		backoff();
		return;
	}
	ok = d.rec.flags & HC_ITEM_NEGATIVE
	     ? rep->type == REDIS_REPLY_INTEGER
	     : rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0;
	if (!ok) {
		counter_add(&d.env.stats->wb_drain_errors, 1);
		log_msg(LOG_WARN, "write-behind: Redis answered the write of key "
		        "'%.*s' with neither OK nor an error; kept in the queue",
		        (int)d.rec.klen, (const char *)d.rec.key);
		backoff();
		return;
	}
	d.backoff_ms = DRAIN_BACKOFF_MIN_MS;
	counter_add(&d.env.stats->wb_drained, 1);
	if (d.env.landed != NULL)
		d.env.landed(d.rec.key, d.rec.klen);
	pop_current();
	send_next();
}

/* Peek the oldest record and send it; false when there is none to send. */
static bool send_one(void)
{
	int rc = hc_writeback_peek(d.env.cache, &d.rec, d.buf, d.cap);

	switch (rc) {
	case 0:
		break;
	case HC_ENOTFOUND:
		gauge_set(&d.env.stats->wb_claim, DRAIN_CLAIM_HELD);
		return false;
	case HC_EBUSY:
		if (!d.warned_busy)
			log_msg(LOG_WARN, "write-behind: another live process "
			        "drains this segment's queue (another hostcached "
			        "on it?); not draining here, trying again every "
			        "%u ms to take over once it is gone",
			        DRAIN_CLAIM_RETRY_MS);
		d.warned_busy = true;
		gauge_set(&d.env.stats->wb_claim, DRAIN_CLAIM_OTHER);
		later(DRAIN_CLAIM_RETRY_MS);
		return false;
	default:
		log_msg(LOG_ERROR, "write-behind: reading the queue: %s",
		        hc_last_error());
		later(DRAIN_BACKOFF_MAX_MS);
		return false;
	}
	if (d.warned_busy)
		log_msg(LOG_INFO, "write-behind: took the queue over; draining");
	d.warned_busy = false;
	gauge_set(&d.env.stats->wb_claim, DRAIN_CLAIM_HELD);
	if (d.rec.flags & HC_ITEM_NEGATIVE)
		rc = redisAsyncCommand(d.ac, on_drain_reply, NULL, "DEL %b",
		                       d.rec.key, (size_t)d.rec.klen);
	else if (d.rec.ttl_ms > 0)
		rc = redisAsyncCommand(d.ac, on_drain_reply, NULL,
		                       "SET %b %b PX %llu", d.rec.key,
		                       (size_t)d.rec.klen, d.rec.value,
		                       (size_t)d.rec.vlen,
		                       (unsigned long long)d.rec.ttl_ms);
	else
		rc = redisAsyncCommand(d.ac, on_drain_reply, NULL, "SET %b %b",
		                       d.rec.key, (size_t)d.rec.klen, d.rec.value,
		                       (size_t)d.rec.vlen);
	if (rc != REDIS_OK) {
		counter_add(&d.env.stats->wb_drain_errors, 1);
		backoff();
		return false;
	}
	d.in_flight = true;
	return true;
}

/* After an answer: the next record at once, while the connection that
 * answered is still the one to send on. */
static void send_next(void)
{
	if (d.ac == NULL || d.sent_this_poll >= DRAIN_RECORDS_PER_POLL)
		return; /* the next tick goes on */
	d.sent_this_poll++;
	send_one();
}

void drain_poll(redisAsyncContext *ac)
{
	if (!d.enabled)
		return;
	depth_note();
	d.ac = ac;
	d.sent_this_poll = 0;
	if (ac == NULL || d.in_flight)
		return;
	if (d.next_try_ms != 0 && now_ms() < d.next_try_ms)
		return;
	d.next_try_ms = 0;
	send_one();
}

void drain_link_lost(void)
{
	d.ac = NULL;
}
