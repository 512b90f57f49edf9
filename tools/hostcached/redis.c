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
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

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

static struct {
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
} r;

/* A read or write through (redis_get, redis_set, redis_del): queued by
 * any thread, then the Redis thread's until its callback is called. */
enum request_kind { REQ_GET, REQ_SET, REQ_DEL };

struct request {
	struct request *next;
	enum request_kind kind;
	redis_get_done get_done;   /* REQ_GET */
	redis_write_done write_done; /* REQ_SET, REQ_DEL */
	void *arg;
	int status;                /* what GET said: 0 a value, 1 none, -1 */
	char *value;               /* GET's answer */
	size_t vlen;
	bool alone;                /* PTTL could not be sent: GET finishes */
	uint64_t px_ms;            /* REQ_SET: the TTL, 0 none */
	size_t klen, set_len;      /* DATA: the key, then SET's value */
	char data[];
};

static struct {
	pthread_mutex_t lock;      /* guards all below */
	struct request *head, *tail;
	bool closed;               /* stopping: answered at once with -1 */
} gets = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void stat_add(uint64_t *counter, uint64_t n)
{
	counter_add(counter, n);
}

static void stat_set(uint64_t *gauge, uint64_t v)
{
	__atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

uint32_t redis_own_origin(void)
{
	return r.own_origin_id;
}

bool redis_enabled(void)
{
	/* Acquire: pairs with the release in redis_start, after which the
	 * counters are there to read. */
	return __atomic_load_n(&r.enabled, __ATOMIC_ACQUIRE);
}

void redis_stats_get(struct redis_stats *out)
{
	const uint64_t *from = (const uint64_t *)&r.stats;
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
static uint32_t origin_id(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h != 0 ? h : 1;
}

/* ------------------------------------------------------------------ */
/* Clocks                                                              */

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void link_connect(struct link *l);

static void link_retry_later(struct link *l, const char *why)
{
	struct timeval tv = { .tv_sec = l->backoff_ms / 1000,
	                      .tv_usec = (l->backoff_ms % 1000) * 1000 };

	if (__atomic_load_n(&r.stopping, __ATOMIC_RELAXED))
		return;
	/* The first failure in a row is news; the retries are not. */
	log_msg(l->failing ? LOG_DEBUG : LOG_WARN, "redis %s: %s: %s; "
	        "retrying in %u ms (then less often, up to every %u ms)",
	        l->what, r.cfg->redis_url, why, l->backoff_ms, BACKOFF_MAX_MS);
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
	stat_set(&r.stats.link_up, 0);
	stat_set(&r.stats.track_on, 0);
	if (l == &r.sub)
		r.sub_id = 0;
	if (l == &r.pub) {
		r.need_resync = true; /* what was in flight may be lost */
		r.ping_sent_ms = 0;
		drain_link_lost();
	}
	link_retry_later(l, why);
}

/* L did what it is for (a PUBLISH answered, a SUBSCRIBE confirmed): the
 * next failure is news again, and retried soon.  Not merely connecting,
 * or a Redis that refuses our commands would be retried at 10 Hz. */
static void link_healthy(struct link *l)
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
		stat_add(&r.stats.reconnects, 1);
	l->ever_up = true;
	log_msg(LOG_INFO, "redis %s: connected to %s", l->what,
	        r.cfg->redis_url);
	l->on_up(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;

	if (l->ac != ac)
		return; /* dropped by link_drop, already handled */
	if (__atomic_load_n(&r.stopping, __ATOMIC_RELAXED)) {
		l->ac = NULL;
		return;
	}
	link_down(l, status == REDIS_OK ? "disconnected" : ac->errstr);
}

static void link_connect(struct link *l)
{
	const struct redis_target *t = &r.cfg->redis;
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
	redisLibeventAttach(ac, r.base);
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
static void link_drop(struct link *l, const char *why)
{
	redisAsyncContext *ac = l->ac;

	if (ac == NULL)
		return;
	l->ac = NULL; /* its disconnect callback will not count */
	redisAsyncFree(ac);
	link_down(l, why);
}

/* ------------------------------------------------------------------ */
/* Tracking (--redis-track): Redis's client-side caching               */

/*
 * With --redis-track, Redis itself reports writes by any of its clients to
 * keys under the tracked prefixes (CLIENT TRACKING in broadcasting mode),
 * and this host drops its copies of those keys.  Tracking is turned on from
 * the publisher's connection, so that its own writes (write-through,
 * write-behind), whose copies here are current, are not reported (NOLOOP);
 * the reports are redirected to the subscriber's connection, subscribed to
 * __redis__:invalidate beside the hosts' channel (RESP2).  Tracking lives as
 * long as both connections: when either comes back it is turned on again,
 * and as Redis said nothing of the writes made meanwhile, this host then
 * drops everything under the tracked prefixes.
 */
#define TRACK_CHANNEL "__redis__:invalidate"

/* Drop every tracked prefix here (not published: every host tracks for
 * itself). */
static void track_reset(void)
{
	hc_journal_origin(r.cache, r.own_origin_id);
	for (unsigned i = 0; i < r.cfg->redis_ntrack; i++) {
		const char *p = r.cfg->redis_track[i];

		if (strlen(p) <= r.max_key &&
		    hc_invalidate_prefix(r.cache, p, strlen(p), NULL) != 0)
			log_msg(LOG_ERROR, "redis tracking: dropping prefix '%s': "
			        "%s", p, hc_last_error());
	}
	stat_add(&r.stats.track_resets, 1);
}

static void on_tracking(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;

	(void)ac;
	(void)arg;
	if (rep == NULL)
		return; /* the connection went: on again when it is back */
	if (rep->type == REDIS_REPLY_ERROR) {
		stat_add(&r.stats.track_errors, 1);
		log_msg(LOG_ERROR, "redis publisher: CLIENT TRACKING refused: %s; "
		        "--redis-track needs Redis 6 or later, and the tracked "
		        "prefixes are not kept current meanwhile", rep->str);
		return;
	}
	stat_set(&r.stats.track_on, 1);
	track_reset();
	log_msg(LOG_INFO, "redis publisher: Redis tracks %u prefix(es) for "
	        "this host; dropped what they held here", r.cfg->redis_ntrack);
}

/* Turn tracking on once both connections are up, the first time or again. */
static void track_begin(void)
{
	const char *argv[7 + 2 * TRACK_MAX];
	size_t lens[7 + 2 * TRACK_MAX];
	char id[24];
	int n = 0;

	if (r.cfg->redis_ntrack == 0 || !r.pub.ready || !r.sub.ready ||
	    r.sub_id == 0)
		return;
	snprintf(id, sizeof id, "%lld", r.sub_id);
	const char *head[] = { "CLIENT", "TRACKING", "on", "REDIRECT", id,
		               "BCAST", "NOLOOP" };

	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		argv[n++] = head[i];
	for (unsigned i = 0; i < r.cfg->redis_ntrack; i++) {
		argv[n++] = "PREFIX";
		argv[n++] = r.cfg->redis_track[i];
	}
	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	/* Off first: tracking that is on cannot change its redirection. */
	if (redisAsyncCommand(r.pub.ac, NULL, NULL, "CLIENT TRACKING off") !=
	        REDIS_OK ||
	    redisAsyncCommandArgv(r.pub.ac, on_tracking, NULL, n, argv, lens) !=
	        REDIS_OK)
		log_msg(LOG_ERROR, "redis publisher: cannot send CLIENT TRACKING");
}

/* A report on TRACK_CHANNEL: the keys written, or nil after a FLUSHDB or
 * FLUSHALL. */
static void track_receive(const redisReply *keys)
{
	if (keys->type != REDIS_REPLY_ARRAY) {
		track_reset();
		return;
	}
	hc_journal_origin(r.cache, r.own_origin_id);
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		int rc;

		if (k->type != REDIS_REPLY_STRING || k->len == 0 ||
		    k->len > r.max_key)
			continue; /* no key of this segment */
		stat_add(&r.stats.track_invalidated, 1);
		rc = hc_delete(r.cache, k->str, k->len);
		if (rc != 0 && rc != HC_ENOTFOUND) {
			stat_add(&r.stats.apply_errors, 1);
			log_msg(LOG_WARN, "redis tracking: dropping a key Redis "
			        "reported written: %s", hc_last_error());
		}
	}
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

static void on_published(redisAsyncContext *ac, void *reply, void *resync)
{
	redisReply *rep = reply;

	(void)ac;
	r.in_flight--;
	stat_set(&r.stats.in_flight, r.in_flight);
	if (rep == NULL)
		return; /* the connection went: link_down asks for a resync */
	if (rep->type == REDIS_REPLY_ERROR) {
		stat_add(&r.stats.publish_errors, 1);
		/* Start again from a new connection, after the backoff (not
		 * at every tick), with a resync. */
		link_drop(&r.pub, rep->str);
		return;
	}
	stat_add(resync ? &r.stats.resyncs_sent : &r.stats.published, 1);
	link_healthy(&r.pub);
}

/* PUBLISH one message; false when it could not even be queued (then a
 * resync is due: something went unsaid). */
static bool message_publish(char kind, const void *data, size_t len,
                            uint64_t stamp_us, bool resync)
{
	char msg[MESSAGE_MAX];
	int h = snprintf(msg, HEADER_MAX, MESSAGE_VERSION " %s %016" PRIx64
	                 " %c %" PRIu64 " %" PRIu64 "\n", r.cfg->origin, r.nonce,
	                 kind, clock_us(CLOCK_REALTIME), stamp_us);

	if (r.pub.ac == NULL || h <= 0 || h >= HEADER_MAX ||
	    len > MESSAGE_MAX - (size_t)h) {
		r.need_resync = true;
		return false;
	}
	if (len > 0)
		memcpy(msg + h, data, len);
	if (redisAsyncCommand(r.pub.ac, on_published, resync ? &r : NULL,
	                      "PUBLISH %b %b", r.cfg->redis_channel,
	                      strlen(r.cfg->redis_channel), msg,
	                      (size_t)h + len) != REDIS_OK) {
		stat_add(&r.stats.publish_errors, 1);
		r.need_resync = true;
		return false;
	}
	r.in_flight++;
	stat_set(&r.stats.in_flight, r.in_flight);
	return true;
}

/* Count what the cursor lost since we last looked; true when it grew. */
static bool lost_note(void)
{
	uint64_t lost = r.cursor.lost - r.lost_seen;

	if (lost == 0)
		return false;
	stat_add(&r.stats.journal_lost, lost);
	r.lost_seen = r.cursor.lost;
	return true;
}

/* Skip what the journal holds now (the RESYNC covers it), then publish
 * the RESYNC. */
static void resync_send(void)
{
	for (uint64_t i = 0; i <= r.njournal / BATCH + 1; i++)
		if (hc_journal_read(r.cache, &r.cursor, r.batch, BATCH) < BATCH)
			break;
	lost_note();
	if (message_publish('R', NULL, 0, 0, true)) {
		r.need_resync = false;
		log_msg(LOG_INFO, "redis publisher: sent a resync (every other "
		        "host flushes)");
	}
}

static void entry_publish(const hc_journal_entry *e)
{
	char kind;

	switch (e->kind) {
	case HC_JOURNAL_KEY:
		kind = e->whole ? 'K' : 'P'; /* a long key's first bytes */
		break;
	case HC_JOURNAL_PREFIX:
		kind = 'P'; /* shortened, it only invalidates more */
		break;
	case HC_JOURNAL_TAG:
		kind = 'T';
		break;
	case HC_JOURNAL_FLUSH:
		kind = 'F';
		break;
	default:
		r.need_resync = true; /* a change we cannot describe */
		return;
	}
	message_publish(kind, e->data, e->len, e->stamp_us, false);
}

static void journal_publish(void)
{
	for (int round = 0; round < TICK_ROUNDS; round++) {
		if (r.need_resync)
			resync_send();
		if (r.pub.ac == NULL || r.in_flight >= IN_FLIGHT_MAX)
			return; /* the ring may overrun meanwhile: a resync then */
		long n = hc_journal_read(r.cache, &r.cursor, r.batch, BATCH);

		if (n < 0) {
			log_msg(LOG_ERROR, "redis publisher: reading the journal: %s",
			        hc_last_error());
			return;
		}
		if (lost_note()) {
			log_msg(LOG_WARN, "redis publisher: the journal overran "
			        "(%" PRIu64 " entries lost in all); resyncing",
			        r.lost_seen);
			r.need_resync = true;
		}
		for (long i = 0; i < n; i++)
			if (r.batch[i].origin == 0) /* local; not applied by us */
				entry_publish(&r.batch[i]);
		if (n < BATCH) {
			if (r.need_resync)
				resync_send();
			return;
		}
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (r.pub.ready)
		journal_publish();
	drain_poll(r.pub.ready ? r.pub.ac : NULL);
}

/* A write-behind record landed in Redis: tell the other hosts once more,
 * as one of them may have read the older value from Redis since the
 * set's own invalidation (drain.c). */
static void drain_landed(const void *key, size_t klen)
{
	message_publish('K', key, klen, 0, false);
}

static void pub_up(struct link *l)
{
	l->ready = true;
	r.need_resync = true; /* changes made while we could not publish */
	stat_set(&r.stats.link_up, r.sub.ready);
	journal_publish();
	track_begin();
}

static void on_pong(redisAsyncContext *ac, void *reply, void *arg)
{
	(void)ac;
	(void)reply;
	(void)arg;
	r.ping_sent_ms = 0;
}

static void on_health(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = clock_us(CLOCK_MONOTONIC) / 1000;

	(void)fd;
	(void)what;
	(void)arg;
	if (!r.pub.ready)
		return;
	if (r.ping_sent_ms != 0) {
		if (now - r.ping_sent_ms >= HEALTH_TIMEOUT_MS) {
			link_drop(&r.pub, "no answer to PING for 3 s");
			link_drop(&r.sub, "the publisher's connection hung");
		}
		return;
	}
	if (redisAsyncCommand(r.pub.ac, on_pong, NULL, "PING") == REDIS_OK)
		r.ping_sent_ms = now;
}

/* ------------------------------------------------------------------ */
/* Reading and writing through (mg G, ms G, md G)                      */

static void get_finish(struct request *q, int status, int64_t pttl_ms)
{
	if (status < 0)
		stat_add(&r.stats.read_errors, 1);
	q->get_done(q->arg, status, q->value, q->vlen, pttl_ms);
	free(q->value);
	free(q);
}

static void write_finish(struct request *q, int status, const char *why)
{
	if (status < 0)
		stat_add(&r.stats.write_errors, 1);
	q->write_done(q->arg, status, why);
	free(q);
}

/* Any request that will not be sent: the link is down or stopping. */
static void request_fail(struct request *q, const char *why)
{
	if (q->kind == REQ_GET)
		get_finish(q, -1, -1);
	else
		write_finish(q, -1, why);
}

static void on_get_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct request *q = arg;
	redisReply *rep = reply;

	(void)ac;
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		q->status = -1;
		if (rep != NULL)
			log_msg(LOG_WARN, "redis read-through: GET refused: %s",
			        rep->str);
	} else if (rep->type == REDIS_REPLY_STRING) {
		q->value = malloc(rep->len > 0 ? rep->len : 1);
		q->status = q->value != NULL ? 0 : -1;
		if (q->value != NULL)
			memcpy(q->value, rep->str, rep->len);
		q->vlen = rep->len;
	} else {
		q->status = 1; /* nil: Redis has no such key */
	}
	if (q->alone)
		get_finish(q, q->status < 0 ? -1 : q->status, -1);
}

static void on_pttl_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct request *q = arg;
	redisReply *rep = reply;
	int status = q->status;

	(void)ac;
	if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
		status = -1;
	else if (status == 0 && rep->integer == -2)
		status = 1; /* gone between the GET and the PTTL */
	get_finish(q, status, rep != NULL && rep->type == REDIS_REPLY_INTEGER
	                      ? rep->integer : -1);
}

/* SET answers +OK, DEL the number of keys it removed. */
static void on_write_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct request *q = arg;
	redisReply *rep = reply;
	const char *cmd = q->kind == REQ_SET ? "SET" : "DEL";
	char why[160];

	(void)ac;
	if (rep == NULL) {
		/* Sent, unanswered: Redis may or may not have done it. */
		write_finish(q, -1, "the connection to Redis was lost before "
		             "it answered");
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		log_msg(LOG_WARN, "redis write-through: %s refused: %s", cmd,
		        rep->str);
		snprintf(why, sizeof why, "Redis refused the %s: %.100s", cmd,
		         rep->str);
		write_finish(q, -1, why);
		return;
	}
	if (q->kind == REQ_DEL)
		write_finish(q, rep->type == REDIS_REPLY_INTEGER &&
		                rep->integer > 0 ? 1 : 0, NULL);
	else if (rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0)
		write_finish(q, 1, NULL);
	else
		write_finish(q, -1, "Redis answered the SET with something "
		             "other than OK");
}

/* Send one request (pipelined on the publisher's connection: Redis
 * answers in order). */
static void request_send(struct request *q)
{
	const char *key = q->data, *val = q->data + q->klen;
	int rc;

	stat_add(q->kind == REQ_GET ? &r.stats.reads : &r.stats.writes, 1);
	if (!r.pub.ready) {
		request_fail(q, "the link to Redis is down (see the server's "
		             "log)");
		return;
	}
	switch (q->kind) {
	case REQ_GET:
		if (redisAsyncCommand(r.pub.ac, on_get_reply, q, "GET %b",
		                      key, q->klen) != REDIS_OK)
			break;
		if (redisAsyncCommand(r.pub.ac, on_pttl_reply, q, "PTTL %b",
		                      key, q->klen) != REDIS_OK)
			q->alone = true;
		return;
	case REQ_SET:
		rc = q->px_ms > 0
		     ? redisAsyncCommand(r.pub.ac, on_write_reply, q,
		                         "SET %b %b PX %llu", key, q->klen, val,
		                         q->set_len,
		                         (unsigned long long)q->px_ms)
		     : redisAsyncCommand(r.pub.ac, on_write_reply, q,
		                         "SET %b %b", key, q->klen, val,
		                         q->set_len);
		if (rc == REDIS_OK)
			return;
		break;
	case REQ_DEL:
		if (redisAsyncCommand(r.pub.ac, on_write_reply, q, "DEL %b",
		                      key, q->klen) == REDIS_OK)
			return;
		break;
	}
	request_fail(q, "the command could not be sent to Redis");
}

static struct request *gets_take(void)
{
	struct request *all;

	pthread_mutex_lock(&gets.lock);
	all = gets.head;
	gets.head = gets.tail = NULL;
	pthread_mutex_unlock(&gets.lock);
	return all;
}

static void on_get_wake(evutil_socket_t fd, short what, void *arg)
{
	struct request *q = gets_take(), *next;

	(void)fd;
	(void)what;
	(void)arg;
	for (; q != NULL; q = next) {
		next = q->next;
		request_send(q);
	}
}

/* A request for KLEN bytes of KEY and VLEN of VAL, or NULL. */
static struct request *request_new(enum request_kind kind, const void *key,
                                   size_t klen, const void *val, size_t vlen)
{
	struct request *q = malloc(sizeof *q + klen + vlen);

	if (q == NULL)
		return NULL;
	memset(q, 0, sizeof *q);
	q->kind = kind;
	q->klen = klen;
	q->set_len = vlen;
	memcpy(q->data, key, klen);
	if (vlen > 0)
		memcpy(q->data + klen, val, vlen);
	return q;
}

/* Hand Q to the Redis thread; false (Q freed) when stopping. */
static bool request_queue(struct request *q)
{
	pthread_mutex_lock(&gets.lock);
	if (gets.closed) {
		pthread_mutex_unlock(&gets.lock);
		free(q);
		return false;
	}
	if (gets.tail != NULL)
		gets.tail->next = q;
	else
		gets.head = q;
	gets.tail = q;
	/* Under the lock: redis_stop frees the event only after closing. */
	event_active(r.get_wake, EV_READ, 1);
	pthread_mutex_unlock(&gets.lock);
	return true;
}

void redis_get(const void *key, size_t klen, redis_get_done done, void *arg)
{
	struct request *q = redis_enabled()
	                    ? request_new(REQ_GET, key, klen, NULL, 0) : NULL;

	if (q != NULL) {
		q->get_done = done;
		q->arg = arg;
	}
	if (q == NULL || !request_queue(q))
		done(arg, -1, NULL, 0, -1);
}

static void write_queue(struct request *q, redis_write_done done, void *arg)
{
	if (q != NULL) {
		q->write_done = done;
		q->arg = arg;
	}
	if (q == NULL)
		done(arg, -1, redis_enabled() ? "out of memory"
		                              : "hostcached runs without --redis");
	else if (!request_queue(q))
		done(arg, -1, "hostcached is stopping");
}

void redis_set(const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t px_ms, redis_write_done done, void *arg)
{
	struct request *q = redis_enabled()
	                    ? request_new(REQ_SET, key, klen, val, vlen) : NULL;

	if (q != NULL)
		q->px_ms = px_ms;
	write_queue(q, done, arg);
}

void redis_del(const void *key, size_t klen, redis_write_done done,
               void *arg)
{
	write_queue(redis_enabled() ? request_new(REQ_DEL, key, klen, NULL, 0)
	                            : NULL, done, arg);
}

/* ------------------------------------------------------------------ */
/* Subscribing and applying                                            */

struct message {
	char origin[ORIGIN_CAP];
	uint64_t nonce;
	char kind;
	uint64_t wall_us, stamp_us;
	const char *data;
	size_t len;
};

static bool message_parse(const char *p, size_t n, struct message *m)
{
	const char *nl = memchr(p, '\n', n < HEADER_MAX ? n : HEADER_MAX);
	char head[HEADER_MAX + 1], version[8], kind[2];

	if (nl == NULL)
		return false;
	memcpy(head, p, (size_t)(nl - p));
	head[nl - p] = '\0';
	if (sscanf(head, "%7s %64s %" SCNx64 " %1s %" SCNu64 " %" SCNu64,
	           version, m->origin, &m->nonce, kind, &m->wall_us,
	           &m->stamp_us) != 6 || strcmp(version, MESSAGE_VERSION) != 0)
		return false;
	m->kind = kind[0];
	m->data = nl + 1;
	m->len = n - (size_t)(nl + 1 - p);
	if (strchr("KPTFR", m->kind) == NULL)
		return false;
	return (m->kind == 'F' || m->kind == 'R') ? m->len == 0 : m->len > 0;
}

static void delay_note(uint64_t sent_us)
{
	uint64_t now = clock_us(CLOCK_REALTIME);
	uint64_t d = now > sent_us ? now - sent_us : 0; /* clocks may differ */
	unsigned b = 0;

	while (b < REDIS_DELAY_BUCKETS - 1 && d > redis_delay_bounds_us[b])
		b++;
	stat_add(&r.stats.delay_buckets[b], 1);
	stat_add(&r.stats.delay_count, 1);
	stat_add(&r.stats.delay_sum_us, d);
	stat_set(&r.stats.delay_last_us, d);
	if (d > r.stats.delay_max_us)
		stat_set(&r.stats.delay_max_us, d);
}

/* Apply another host's change.  A key or prefix longer than this
 * segment's keys can be matches nothing here. */
static int message_apply(const struct message *m)
{
	char tag[257];
	int rc;

	hc_journal_origin(r.cache, origin_id(m->origin));
	switch (m->kind) {
	case 'K':
		if (m->len > r.max_key)
			return 0;
		rc = hc_delete(r.cache, m->data, m->len);
		return rc == HC_ENOTFOUND ? 0 : rc;
	case 'P':
		if (m->len > r.max_key)
			return 0;
		return hc_invalidate_prefix(r.cache, m->data, m->len, NULL);
	case 'T':
		if (m->len >= sizeof tag || memchr(m->data, '\0', m->len) != NULL)
			return HC_EINVAL;
		memcpy(tag, m->data, m->len);
		tag[m->len] = '\0';
		return hc_invalidate_tag(r.cache, tag);
	default: /* F, R */
		return hc_flush(r.cache);
	}
}

static void message_receive(const char *p, size_t n)
{
	struct message m;
	int rc;

	if (!message_parse(p, n, &m)) {
		stat_add(&r.stats.bad_messages, 1);
		log_msg(LOG_DEBUG, "redis subscriber: a message not ours "
		        "(%zu bytes), ignored", n);
		return;
	}
	if (strcmp(m.origin, r.cfg->origin) == 0) {
		if (m.nonce == r.nonce) {
			stat_add(&r.stats.own_skipped, 1);
			return;
		}
		if (!r.warned_twin)
			log_msg(LOG_WARN, "redis subscriber: another hostcached "
			        "publishes as origin '%s' on this channel; give "
			        "each host its own --origin", m.origin);
		r.warned_twin = true;
	}
	rc = message_apply(&m);
	if (rc != 0) {
		stat_add(&r.stats.apply_errors, 1);
		log_msg(LOG_WARN, "redis subscriber: applying a change from '%s': "
		        "%s", m.origin, hc_last_error());
	} else if (m.kind == 'R') {
		stat_add(&r.stats.resyncs_received, 1);
		log_msg(LOG_INFO, "redis subscriber: resync from '%s': flushed",
		        m.origin);
	} else {
		stat_add(&r.stats.applied, 1);
	}
	delay_note(m.wall_us);
}

static bool reply_is(const redisReply *rep, size_t n, const char *type)
{
	return rep->type == REDIS_REPLY_ARRAY && rep->elements == n &&
	       rep->element[0]->type == REDIS_REPLY_STRING &&
	       strcmp(rep->element[0]->str, type) == 0;
}

/* The subscription is in place: flush what we may have missed. */
static void subscribed(void)
{
	int rc;

	r.sub.ready = true;
	link_healthy(&r.sub);
	stat_set(&r.stats.link_up, r.pub.ready);
	hc_journal_origin(r.cache, r.own_origin_id); /* not to publish */
	rc = hc_flush(r.cache);
	if (rc != 0) {
		log_msg(LOG_ERROR, "redis subscriber: flushing after "
		        "subscribing: %s", hc_last_error());
		return;
	}
	stat_add(&r.stats.local_flushes, 1);
	log_msg(LOG_INFO, "redis subscriber: subscribed to '%s'; flushed what "
	        "this host may have missed", r.cfg->redis_channel);
	track_begin();
}

static bool reply_names(const redisReply *rep, const char *channel)
{
	return rep->element[1]->type == REDIS_REPLY_STRING &&
	       strcmp(rep->element[1]->str, channel) == 0;
}

static void on_subscription(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;

	(void)ac;
	(void)arg;
	if (rep == NULL)
		return; /* disconnected */
	if (reply_is(rep, 3, "message") && reply_names(rep, TRACK_CHANNEL))
		track_receive(rep->element[2]);
	else if (reply_is(rep, 3, "message") &&
	         rep->element[2]->type == REDIS_REPLY_STRING)
		message_receive(rep->element[2]->str, rep->element[2]->len);
	else if (reply_is(rep, 3, "subscribe") &&
	         ++r.sub_confirmed == (r.cfg->redis_ntrack > 0 ? 2u : 1u))
		subscribed(); /* every channel confirmed */
	else if (rep->type == REDIS_REPLY_ERROR)
		link_drop(&r.sub, rep->str); /* SUBSCRIBE refused: again later */
}

static void on_client_id(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;

	(void)ac;
	(void)arg;
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		r.sub_id = rep->integer;
}

static void sub_up(struct link *l)
{
	const char *ch = r.cfg->redis_channel;
	int rc;

	r.sub_confirmed = 0;
	if (r.cfg->redis_ntrack == 0) {
		rc = redisAsyncCommand(l->ac, on_subscription, NULL,
		                       "SUBSCRIBE %b", ch, strlen(ch));
	} else {
		/* Where tracking's reports are redirected (track_begin). */
		rc = redisAsyncCommand(l->ac, on_client_id, NULL, "CLIENT ID");
		if (rc == REDIS_OK)
			rc = redisAsyncCommand(l->ac, on_subscription, NULL,
			                       "SUBSCRIBE %b %s", ch, strlen(ch),
			                       TRACK_CHANNEL);
	}
	if (rc != REDIS_OK)
		log_msg(LOG_ERROR, "redis subscriber: cannot send SUBSCRIBE");
}

/* ------------------------------------------------------------------ */
/* The thread                                                          */

static void *redis_main(void *arg)
{
	struct timeval tick = { 0, TICK_US };
	struct timeval health = { HEALTH_EVERY_MS / 1000,
	                          (HEALTH_EVERY_MS % 1000) * 1000 };

	(void)arg;
	event_add(r.tick, &tick);
	event_add(r.health, &health);
	link_connect(&r.pub);
	link_connect(&r.sub);
	event_base_dispatch(r.base);
	/* Stopping: close both connections; their callbacks see stopping. */
	if (r.pub.ac != NULL)
		redisAsyncFree(r.pub.ac);
	if (r.sub.ac != NULL)
		redisAsyncFree(r.sub.ac);
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

static int link_init(struct link *l, const char *what,
                     void (*on_up)(struct link *l))
{
	l->what = what;
	l->on_up = on_up;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->retry = evtimer_new(r.base, on_retry, l);
	return l->retry != NULL ? 0 : -1;
}

int redis_start(const struct hcd_config *cfg)
{
	hc_info info;
	int rc;

	if (cfg->redis_url[0] == '\0')
		return 0;
	r.cfg = cfg;
	if ((rc = hc_open(cfg->name, &r.cache)) != 0) {
		log_msg(LOG_ERROR, "segment '%s': attaching for the Redis link: "
		        "%s; give more --max-procs", cfg->name, hc_last_error());
		return -1;
	}
	if (hc_info_get(r.cache, &info) != 0 || info.journal_entries == 0) {
		log_msg(LOG_ERROR, "segment '%s': keeps no journal, which --redis "
		        "needs", cfg->name);
		return -1;
	}
	r.max_key = info.max_key;
	r.njournal = info.journal_entries;
	r.own_origin_id = origin_id(cfg->origin);
	if (getrandom(&r.nonce, sizeof r.nonce, 0) != sizeof r.nonce)
		r.nonce = clock_us(CLOCK_REALTIME) ^ (uint64_t)getpid() << 32;
	r.base = precise_event_base();
	if (r.base == NULL)
		return -1;
	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, NULL);
	r.health = event_new(r.base, -1, EV_PERSIST, on_health, NULL);
	r.get_wake = event_new(r.base, -1, 0, on_get_wake, NULL);
	if (r.tick == NULL || r.health == NULL || r.get_wake == NULL ||
	    link_init(&r.pub, "publisher", pub_up) != 0 ||
	    link_init(&r.sub, "subscriber", sub_up) != 0)
		return -1;
	r.need_resync = true;
	if (drain_init(&(struct drain_env){ .cache = r.cache,
	                                    .stats = &r.stats,
	                                    .landed = drain_landed }) != 0) {
		log_msg(LOG_ERROR, "write-behind: cannot set the drain up: %s",
		        hc_last_error());
		return -1;
	}
	if ((rc = pthread_create(&r.thread, NULL, redis_main, NULL)) != 0) {
		log_msg(LOG_ERROR, "starting the Redis thread: %s", strerror(rc));
		return -1;
	}
	r.running = true;
	__atomic_store_n(&r.enabled, true, __ATOMIC_RELEASE);
	log_msg(LOG_INFO, "redis: origin '%s', channel '%s', via %s",
	        cfg->origin, cfg->redis_channel, cfg->redis_url);
	return 0;
}

void redis_stop(void)
{
	struct request *q, *next;

	if (r.running) {
		__atomic_store_n(&r.stopping, true, __ATOMIC_RELAXED);
		event_base_loopexit(r.base, NULL);
		pthread_join(r.thread, NULL);
		r.running = false;
	}
	pthread_mutex_lock(&gets.lock);
	gets.closed = true;
	pthread_mutex_unlock(&gets.lock);
	for (q = gets_take(); q != NULL; q = next) {
		next = q->next;
		request_fail(q, "hostcached is stopping");
	}
	if (r.get_wake != NULL)
		event_free(r.get_wake);
	if (r.tick != NULL)
		event_free(r.tick);
	if (r.health != NULL)
		event_free(r.health);
	if (r.pub.retry != NULL)
		event_free(r.pub.retry);
	if (r.sub.retry != NULL)
		event_free(r.sub.retry);
	if (r.base != NULL)
		event_base_free(r.base);
	drain_stop();
	if (r.cache != NULL)
		hc_close(r.cache); /* gives up the write-behind claim too */
	/* The counters stay readable: stats may still be asked for. */
	r.tick = r.health = r.pub.retry = r.sub.retry = r.get_wake = NULL;
	r.base = NULL;
	r.cache = NULL;
}
