/*
 * redis_link.h - what the files of the Redis link share: the thread's
 * state, its counters' helpers and the calls between the files.
 *
 *   redis.c            the thread: starts and stops it, and the three below
 *   redis_publish.c    this host's journal out to Redis, the health PING
 *   redis_subscribe.c  the other hosts' changes in, and --redis-track
 *   redis_request.c    reading and writing through (mg G, ms G, md G)
 *   redis_link.c       the state, the counters, the options, the two
 *                      connections (with their backoff)
 *
 * Each calls only the files below it: redis_publish.c calls
 * redis_subscribe.c (tracking begins when the publisher comes up), and
 * redis_link.c calls none of them (a link's on_up is the callback it is
 * given).  Everything runs on the Redis thread, but for redis_get,
 * redis_set and redis_del, which queue from any thread (redis_request.c).
 */
#ifndef HCD_REDIS_LINK_H
#define HCD_REDIS_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "hostcached.h"

#define TICK_US 1000             /* journal poll */
#define BATCH 64                 /* entries per hc_journal_read */
#define TICK_ROUNDS 16           /* batches per tick at most */
#define IN_FLIGHT_MAX 4096       /* PUBLISHes unanswered before we wait */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define HEALTH_EVERY_MS 1000
#define HEALTH_TIMEOUT_MS 3000
#define HEADER_MAX 160           /* "hc1 ORIGIN NONCE K WALL STAMP\n" */
#define MESSAGE_MAX (HEADER_MAX + 256)
#define MESSAGE_VERSION "hc1"

/* ------------------------------------------------------------------ */
/* State, all the thread's own but the counters and `stopping`         */

struct link {
	const char *what;          /* "publisher", "subscriber" */
	redisAsyncContext *ac;     /* NULL: down */
	bool ready;                /* connected; the subscriber: subscribed */
	bool ever_up;
	bool failing;              /* the last attempt failed (logged once) */
	unsigned backoff_ms;
	struct event *retry;
	void (*on_up)(struct link *l);
};

struct redis_link {
	bool enabled;              /* set once, before the thread starts */
	bool running;
	bool stopping;             /* atomic: set by redis_stop */
	pthread_t thread;
	struct event_base *base;
	struct event *tick, *health;
	hc_cache *cache;
	const struct hcd_config *cfg;
	uint32_t max_key;
	uint64_t njournal;
	uint64_t nonce;
	uint32_t own_origin_id;
	hc_journal_cursor cursor;
	uint64_t lost_seen;
	bool need_resync;
	bool warned_twin;          /* another host with our origin name */
	uint64_t in_flight;
	uint64_t ping_sent_ms;     /* 0: no PING unanswered */
	struct link pub, sub;
	long long sub_id;          /* the subscriber's CLIENT ID; 0 unknown */
	unsigned sub_confirmed;    /* SUBSCRIBE confirmations on this connection */
	struct event *get_wake;    /* requests are queued (redis_get, ...) */
	hc_journal_entry batch[BATCH];
	struct redis_stats stats;
};

extern struct redis_link rl;

static inline void stat_add(uint64_t *counter, uint64_t n)
{
	counter_add(counter, n);
}

static inline void stat_set(uint64_t *gauge, uint64_t v)
{
	__atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

/* redis_link.c */
uint32_t origin_id(const char *name);
int link_init(struct link *l, const char *what,
              void (*on_up)(struct link *l));
void link_connect(struct link *l);
void link_drop(struct link *l, const char *why);
void link_healthy(struct link *l);

/* redis_subscribe.c */
void subscribe_up(struct link *l);
void track_begin(void);

/* redis_publish.c */
void publish_up(struct link *l);
void publish_tick(evutil_socket_t fd, short what, void *arg);
void publish_health(evutil_socket_t fd, short what, void *arg);
/* drain.c's landed callback: a write-behind record reached Redis. */
void drain_landed(const void *key, size_t klen);

/* redis_request.c */
void requests_wake(evutil_socket_t fd, short what, void *arg);
/* Stopping: answer every queued request with an error, and any later one
 * at once. */
void requests_close(void);

#endif
