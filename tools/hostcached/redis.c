/*
 * redis.c - the link between hosts: this host's invalidations out to
 * Redis, the other hosts' in.
 *
 * Each host keeps its own segment; what changes on one makes the others'
 * copies stale.  The library journals every change made on this host
 * (lib/journal.c); this thread tails that journal and PUBLISHes each
 * change on a Redis channel, and SUBSCRIBEs to the same channel to apply
 * what the other hosts publish.  Redis pub/sub delivers at most once and
 * only while a subscriber is connected, so the link keeps one promise in
 * place of exactly-once delivery: whatever gap it knows of ends in a flush.
 *
 *   - The publisher's connection came up (the first time too: the journal
 *     may hold changes made while no sidecar ran), or the journal overran
 *     before it was read (cursor.lost grew), or a PUBLISH failed: it
 *     publishes a RESYNC, which makes every subscriber flush its segment.
 *     What the journal holds at that moment is skipped: the RESYNC
 *     covers it.
 *   - The subscriber's SUBSCRIBE is confirmed (the first time too): this
 *     host may have missed what others published while it was not
 *     subscribed, so it flushes its own segment.
 *
 * Together: an invalidation made on A either reaches B as a message, or
 * B flushes after it (A's RESYNC if A's link had the gap, B's own flush
 * if B's had it).  Nothing stays stale once both links are up again.
 *
 * The message, one per change (binary-safe, at most ~450 bytes):
 *
 *   "hc1 ORIGIN NONCE KIND WALL_US STAMP_US\n" DATA
 *
 * ORIGIN is the host's --origin name, NONCE a random 64-bit number per
 * run in hex (a subscriber skips messages with its own origin and nonce:
 * it sees what it publishes), KIND one of K (key), P (prefix, also a key
 * longer than the journal holds), T (tag), F (flush), R (resync), WALL_US
 * CLOCK_REALTIME when published (the segment's stamps count from each
 * segment's own CLOCK_MONOTONIC epoch and mean nothing on another host),
 * STAMP_US the journal entry's stamp (for reading logs only).
 *
 * Applying.  The thread's attachment sets hc_journal_origin() to a
 * nonzero hash of the sending host's name before each change it applies,
 * so the library journals it with that origin and the publisher, which
 * publishes origin 0 only, does not send it back: no loops.
 *
 * Reading and writing through.  redis_get() (mg G, readthrough.c)
 * queues a key from a request thread; this thread sends GET and PTTL on
 * the publisher's connection and calls back with the answer, still on
 * this thread.  redis_set() and redis_del() (ms G and md G,
 * writethrough.c) go the same way, with SET KEY VALUE [PX ms] and DEL.
 * One queue for all three, so that Redis sees a worker's requests in the
 * order it made them.
 *
 * Writing behind.  drain.c, on this thread, sends the segment's
 * write-behind queue to Redis on the publisher's connection (the tick
 * hands it over) and, once a write landed, publishes the key once more.
 *
 * Threads.  Everything here runs on one thread with its own event base
 * and its own attachment; the request threads never touch Redis.  The
 * counters have one writer, this thread; stats and /metrics read them
 * with relaxed loads.  hiredis (async API, libevent adapter) reconnects
 * nothing by itself: each connection retries with a backoff from 100 ms
 * doubling to 5 s.  A PING every second on the publisher's connection
 * that goes unanswered for 3 s drops both connections, so that a Redis
 * that hangs or a network that drops packets ends in a resync too.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "redis_link.h"

/* ------------------------------------------------------------------ */
/* The thread                                                          */

static void *redis_main(void *arg)
{
	struct timeval tick = { 0, TICK_US };
	struct timeval health = { HEALTH_EVERY_MS / 1000,
	                          (HEALTH_EVERY_MS % 1000) * 1000 };

	(void)arg;
	event_add(rl.tick, &tick);
	event_add(rl.health, &health);
	link_connect(&rl.pub);
	link_connect(&rl.sub);
	event_base_dispatch(rl.base);
	/* Stopping: close both connections; their callbacks see stopping. */
	if (rl.pub.ac != NULL)
		redisAsyncFree(rl.pub.ac);
	if (rl.sub.ac != NULL)
		redisAsyncFree(rl.sub.ac);
	return NULL;
}

/* An event base whose timers keep the 1 ms tick: by default libevent
 * reads CLOCK_MONOTONIC_COARSE, whose steps (a jiffy, 4 ms at HZ=250)
 * would make every publish wait up to 4 ms. */
static struct event_base *precise_event_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

int redis_start(const struct hcd_config *cfg)
{
	hc_info info;
	int rc;

	if (cfg->redis_url[0] == '\0')
		return 0;
	rl.cfg = cfg;
	if ((rc = hc_open(cfg->name, &rl.cache)) != 0) {
		log_msg(LOG_ERROR, "segment '%s': attaching for the Redis link: "
		        "%s; give more --max-procs", cfg->name, hc_last_error());
		return -1;
	}
	if (hc_info_get(rl.cache, &info) != 0 || info.journal_entries == 0) {
		log_msg(LOG_ERROR, "segment '%s': keeps no journal, which --redis "
		        "needs", cfg->name);
		return -1;
	}
	rl.max_key = info.max_key;
	rl.njournal = info.journal_entries;
	rl.own_origin_id = origin_id(cfg->origin);
	if (getrandom(&rl.nonce, sizeof rl.nonce, 0) != sizeof rl.nonce)
		rl.nonce = clock_ns(CLOCK_REALTIME) / 1000u ^ (uint64_t)getpid() << 32;
	rl.base = precise_event_base();
	if (rl.base == NULL)
		return -1;
	rl.tick = event_new(rl.base, -1, EV_PERSIST, publish_tick, NULL);
	rl.health = event_new(rl.base, -1, EV_PERSIST, publish_health, NULL);
	rl.get_wake = event_new(rl.base, -1, 0, requests_wake, NULL);
	if (rl.tick == NULL || rl.health == NULL || rl.get_wake == NULL ||
	    link_init(&rl.pub, "publisher", publish_up) != 0 ||
	    link_init(&rl.sub, "subscriber", subscribe_up) != 0)
		return -1;
	rl.need_resync = true;
	if (drain_init(&(struct drain_env){ .cache = rl.cache,
	                                    .stats = &rl.stats,
	                                    .landed = drain_landed }) != 0) {
		log_msg(LOG_ERROR, "write-behind: cannot set the drain up: %s",
		        hc_last_error());
		return -1;
	}
	if ((rc = pthread_create(&rl.thread, NULL, redis_main, NULL)) != 0) {
		log_msg(LOG_ERROR, "starting the Redis thread: %s", strerror(rc));
		return -1;
	}
	rl.running = true;
	__atomic_store_n(&rl.enabled, true, __ATOMIC_RELEASE);
	log_msg(LOG_INFO, "redis: origin '%s', channel '%s', via %s",
	        cfg->origin, cfg->redis_channel, cfg->redis_url);
	return 0;
}

void redis_stop(void)
{
	if (rl.running) {
		__atomic_store_n(&rl.stopping, true, __ATOMIC_RELAXED);
		event_base_loopexit(rl.base, NULL);
		pthread_join(rl.thread, NULL);
		rl.running = false;
	}
	requests_close();
	if (rl.get_wake != NULL)
		event_free(rl.get_wake);
	if (rl.tick != NULL)
		event_free(rl.tick);
	if (rl.health != NULL)
		event_free(rl.health);
	if (rl.pub.retry != NULL)
		event_free(rl.pub.retry);
	if (rl.sub.retry != NULL)
		event_free(rl.sub.retry);
	if (rl.base != NULL)
		event_base_free(rl.base);
	drain_stop();
	if (rl.cache != NULL)
		hc_close(rl.cache); /* gives up the write-behind claim too */
	/* The counters stay readable: stats may still be asked for. */
	rl.tick = rl.health = rl.pub.retry = rl.sub.retry = rl.get_wake = NULL;
	rl.base = NULL;
	rl.cache = NULL;
}
