/*
 * redis_link.c - the Redis link's state and counters, its options, and
 * its two connections: connecting, losing, retrying with a backoff
 * (redis_link.h shows the files of the link).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <hiredis/adapters/libevent.h>

#include "redis_link.h"

struct redis_link rl;

/* ------------------------------------------------------------------ */
/* Counters                                                            */

#define FIELD(stat, metric, counter, field, help) \
	{ stat, metric, help, counter, offsetof(struct redis_stats, field) }

const struct redis_field redis_fields[] = {
	FIELD("redis_link_up", "hostcached_redis_link_up", false, link_up,
	      "1 while both connections to Redis are up and subscribed."),
	FIELD("redis_published", "hostcached_redis_published_total", true,
	      published, "Local invalidations published (Redis answered)."),
	FIELD("redis_publish_errors", "hostcached_redis_publish_errors_total",
	      true, publish_errors, "PUBLISHes Redis refused or could not take."),
	FIELD("redis_in_flight", "hostcached_redis_in_flight", false, in_flight,
	      "PUBLISHes sent and not answered yet."),
	FIELD("redis_applied", "hostcached_redis_applied_total", true, applied,
	      "Other hosts' invalidations applied to this segment."),
	FIELD("redis_apply_errors", "hostcached_redis_apply_errors_total", true,
	      apply_errors, "Other hosts' invalidations the library refused."),
	FIELD("redis_own_skipped", "hostcached_redis_own_skipped_total", true,
	      own_skipped, "This host's own messages seen on the channel, skipped."),
	FIELD("redis_bad_messages", "hostcached_redis_bad_messages_total", true,
	      bad_messages, "Messages on the channel that are not ours to read."),
	FIELD("redis_resyncs_sent", "hostcached_redis_resyncs_sent_total", true,
	      resyncs_sent, "RESYNCs published: every other host flushed."),
	FIELD("redis_resyncs_received", "hostcached_redis_resyncs_received_total",
	      true, resyncs_received, "RESYNCs from other hosts: flushed here."),
	FIELD("redis_local_flushes", "hostcached_redis_local_flushes_total", true,
	      local_flushes, "Flushes here on (re)subscribing: what was missed."),
	FIELD("redis_journal_lost", "hostcached_redis_journal_lost_total", true,
	      journal_lost, "Journal entries overwritten before publishing."),
	FIELD("redis_reconnects", "hostcached_redis_reconnects_total", true,
	      reconnects, "Connections to Redis made again after a loss."),
	FIELD("redis_reads", "hostcached_redis_reads_total", true, reads,
	      "Misses read through from Redis (mg G): GET and PTTL asked."),
	FIELD("redis_read_errors", "hostcached_redis_read_errors_total", true,
	      read_errors, "Reads through that Redis could not answer."),
	FIELD("redis_writes", "hostcached_redis_writes_total", true, writes,
	      "Writes through to Redis (ms G: SET, md G: DEL) asked."),
	FIELD("redis_write_errors", "hostcached_redis_write_errors_total", true,
	      write_errors, "Writes through that Redis refused or did not answer."),
	FIELD("redis_track_on", "hostcached_redis_track_on", false, track_on,
	      "1 while Redis tracks the --redis-track prefixes for this host."),
	FIELD("redis_track_invalidated", "hostcached_redis_track_invalidated_total",
	      true, track_invalidated, "Keys dropped here because a Redis client "
	      "wrote them (--redis-track)."),
	FIELD("redis_track_resets", "hostcached_redis_track_resets_total", true,
	      track_resets, "Tracked prefixes dropped here when tracking (re)began: "
	      "writes while it was off."),
	FIELD("redis_track_errors", "hostcached_redis_track_errors_total", true,
	      track_errors, "CLIENT TRACKING refused by Redis (6 or later needed)."),
	FIELD("redis_wb_claim", "hostcached_redis_wb_claim", false, wb_claim,
	      "Write-behind queue: 0 none, 1 not claimed yet, 2 drained here, "
	      "3 another process drains it."),
	FIELD("redis_wb_drained", "hostcached_redis_wb_drained_total", true,
	      wb_drained, "Write-behind records written to Redis (it said OK)."),
	FIELD("redis_wb_drain_errors", "hostcached_redis_wb_drain_errors_total",
	      true, wb_drain_errors, "Write-behind writes Redis refused or did "
	      "not answer (kept and sent again, or dropped)."),
	FIELD("redis_wb_dropped", "hostcached_redis_wb_dropped_total", true,
	      wb_dropped, "Write-behind records Redis refused for good, dropped."),
	FIELD("redis_wb_depth_records", "hostcached_redis_wb_depth_records",
	      false, wb_depth_records, "Write-behind records waiting."),
	FIELD("redis_wb_depth_bytes", "hostcached_redis_wb_depth_bytes", false,
	      wb_depth_bytes, "Write-behind queue bytes in use."),
	FIELD("redis_delay_count", NULL, true, delay_count, NULL),
	FIELD("redis_delay_max_us", NULL, false, delay_max_us, NULL),
	FIELD("redis_delay_last_us", NULL, false, delay_last_us, NULL),
};
const size_t redis_field_count = sizeof redis_fields / sizeof redis_fields[0];

const uint64_t redis_delay_bounds_us[REDIS_DELAY_BUCKETS - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000,
};

uint32_t redis_own_origin(void)
{
	return rl.own_origin_id;
}

bool redis_enabled(void)
{
	/* Acquire: pairs with the release in redis_start, after which the
	 * counters are there to read. */
	return __atomic_load_n(&rl.enabled, __ATOMIC_ACQUIRE);
}

void redis_stats_get(struct redis_stats *out)
{
	const uint64_t *from = (const uint64_t *)&rl.stats;
	uint64_t *to = (uint64_t *)out;

	_Static_assert(sizeof(struct redis_stats) % sizeof(uint64_t) == 0,
	               "redis_stats is made of uint64_t");
	for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
		to[i] = __atomic_load_n(&from[i], __ATOMIC_RELAXED);
}

uint64_t redis_delay_quantile_us(const struct redis_stats *s, double q)
{
	uint64_t want = (uint64_t)((double)s->delay_count * q + 0.5), seen = 0;

	for (unsigned i = 0; i < REDIS_DELAY_BUCKETS - 1; i++) {
		seen += s->delay_buckets[i];
		if (seen >= want && want > 0)
			return redis_delay_bounds_us[i];
	}
	return s->delay_count ? s->delay_max_us : 0;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

static bool url_fail(char *why, size_t cap, const char *what)
{
	snprintf(why, cap, "%s; give redis://HOST[:PORT] or unix:/PATH", what);
	return false;
}

bool redis_url_parse(const char *url, struct redis_target *t, char *why,
                     size_t cap)
{
	memset(t, 0, sizeof *t);
	if (strncmp(url, "unix:", 5) == 0) {
		const char *path = url + 5;

		if (strncmp(path, "//", 2) == 0)
			path += 2; /* unix:///run/redis.sock */
		if (path[0] != '/')
			return url_fail(why, cap, "the socket path is not absolute");
		if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return url_fail(why, cap, "the socket path is too long");
		strcpy(t->unix_path, path);
		return true;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return url_fail(why, cap, "not a Redis URL");
	const char *host = url + 8, *end, *port = NULL;

	if (strpbrk(host, "@?#") != NULL)
		return url_fail(why, cap, "a password or options in the URL are "
		                "not supported");
	if (host[0] == '[') { /* redis://[::1]:6379 */
		end = strchr(host, ']');
		if (end == NULL)
			return url_fail(why, cap, "an IPv6 address without ']'");
		host++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0' && strcmp(end + 1, "/") != 0)
			return url_fail(why, cap, "text after the address");
	} else {
		end = host + strcspn(host, ":/");
		if (*end == ':')
			port = end + 1;
		else if (*end != '\0' && strcmp(end, "/") != 0)
			return url_fail(why, cap, "a database number is not supported "
			                "(pub/sub ignores it)");
	}
	if (end == host || (size_t)(end - host) >= sizeof t->host)
		return url_fail(why, cap, "no host, or a host name too long");
	memcpy(t->host, host, (size_t)(end - host));
	t->port = 6379;
	if (port != NULL) {
		char *stop;
		unsigned long p = strtoul(port, &stop, 10);

		if (port[0] < '0' || port[0] > '9' || p == 0 || p > 65535 ||
		    (*stop != '\0' && strcmp(stop, "/") != 0))
			return url_fail(why, cap, "the port is not a number from 1 to "
			                "65535");
		t->port = (unsigned)p;
	}
	return true;
}

bool redis_origin_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < ORIGIN_CAP &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                    "0123456789._-") == n;
}

/* The journal origin of host NAME: FNV-1a, never 0 (0 is this host). */
uint32_t origin_id(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h != 0 ? h : 1;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void link_retry_later(struct link *l, const char *why)
{
	struct timeval tv = { .tv_sec = l->backoff_ms / 1000,
	                      .tv_usec = (l->backoff_ms % 1000) * 1000 };

	if (__atomic_load_n(&rl.stopping, __ATOMIC_RELAXED))
		return;
	/* The first failure in a row is news; the retries are not. */
	log_msg(l->failing ? LOG_DEBUG : LOG_WARN, "redis %s: %s: %s; "
	        "retrying in %u ms (then less often, up to every %u ms)",
	        l->what, rl.cfg->redis_url, why, l->backoff_ms, BACKOFF_MAX_MS);
	l->failing = true;
	evtimer_add(l->retry, &tv);
	l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
	                                                   : l->backoff_ms * 2;
}

/* The link L lost (or never got) its connection. */
static void link_down(struct link *l, const char *why)
{
	l->ac = NULL;
	l->ready = false;
	stat_set(&rl.stats.link_up, 0);
	stat_set(&rl.stats.track_on, 0);
	if (l == &rl.sub)
		rl.sub_id = 0;
	if (l == &rl.pub) {
		rl.need_resync = true; /* what was in flight may be lost */
		rl.ping_sent_ms = 0;
		drain_link_lost();
	}
	link_retry_later(l, why);
}

/* L did what it is for (a PUBLISH answered, a SUBSCRIBE confirmed): the
 * next failure is news again, and retried soon.  Not merely connecting,
 * or a Redis that refuses our commands would be retried at 10 Hz. */
void link_healthy(struct link *l)
{
	l->failing = false;
	l->backoff_ms = BACKOFF_MIN_MS;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;

	if (l->ac != ac)
		return;
	if (status != REDIS_OK) {
		link_down(l, ac->errstr); /* hiredis frees AC */
		return;
	}
	if (l->ever_up)
		stat_add(&rl.stats.reconnects, 1);
	l->ever_up = true;
	log_msg(LOG_INFO, "redis %s: connected to %s", l->what,
	        rl.cfg->redis_url);
	l->on_up(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;

	if (l->ac != ac)
		return; /* dropped by link_drop, already handled */
	if (__atomic_load_n(&rl.stopping, __ATOMIC_RELAXED)) {
		l->ac = NULL;
		return;
	}
	link_down(l, status == REDIS_OK ? "disconnected" : ac->errstr);
}

void link_connect(struct link *l)
{
	const struct redis_target *t = &rl.cfg->redis;
	redisAsyncContext *ac = t->unix_path[0] != '\0'
	                        ? redisAsyncConnectUnix(t->unix_path)
	                        : redisAsyncConnect(t->host, (int)t->port);
	char why[128];

	if (ac == NULL) {
		link_down(l, "out of memory");
		return;
	}
	if (ac->err) {
		snprintf(why, sizeof why, "%s", ac->errstr);
		redisAsyncFree(ac);
		link_down(l, why);
		return;
	}
	if (t->unix_path[0] == '\0')
		redisEnableKeepAlive(&ac->c);
	ac->data = l;
	l->ac = ac;
	redisLibeventAttach(ac, rl.base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_connect(arg);
}

/* Close L now and retry after the backoff.  From one of L's own
 * callbacks too: hiredis then frees the context once the callback
 * returns, and its disconnect callback finds L->ac changed. */
void link_drop(struct link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;

	if (ac == NULL)
		return;
	l->ac = NULL; /* its disconnect callback will not count */
	redisAsyncFree(ac);
	link_down(l, why);
}

int link_init(struct link *l, const char *what,
                     void (*on_up)(struct link *l))
{
	l->what = what;
	l->on_up = on_up;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->retry = evtimer_new(rl.base, on_retry, l);
	return l->retry != NULL ? 0 : -1;
}

