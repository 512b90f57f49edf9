/*
 * hostcached.h - what the files of hostcached share.
 *
 * hostcached owns one hostcache segment and serves it over the memcached
 * text and binary protocols, on a unix socket (and TCP on 127.0.0.1 when asked), while
 * a background thread keeps the segment's housekeeping off the writers'
 * path.  Items set through the socket and through the library are the same
 * items.
 *
 * The layers.  A file calls only files below it (or beside it on its own
 * row); nothing calls up.
 *
 *   main      main.c        lifecycle: segment, pid file, signals, start
 *                           and stop of everything below
 *   config    config.c      the options: flags, the INI file, validation
 *   serve     server.c      listeners, worker threads, connections,
 *                           buffers and backpressure
 *             metrics.c     HTTP /metrics (Prometheus) on the main thread
 *   protocol  proto_text.c  the memcached text protocol: parsing, replies
 *             proto_meta.c  its meta commands
 *             proto_binary.c the binary protocol, on the same listeners
 *             readthrough.c mg G: a miss read from Redis under the lease
 *             writethrough.c ms G, md G: Redis first, then this host
 *   items     store.c       memcached item semantics over the library:
 *                           exptime, client flags, append/prepend by CAS
 *   upkeep    maint.c       the maintenance thread: hc_maintain, counter
 *                           samples and rates, delayed flush_all
 *             redis*.c      the Redis thread (--redis): this host's journal
 *                           out to the other hosts, theirs in, reads and
 *                           writes through (redis_link.h shows its files)
 *   base      log.c         leveled log lines on stderr
 *
 * Threads.  The main thread runs the listeners and the signal events on
 * its own event base and hands each accepted connection to a worker, round
 * robin.  Each worker runs its own event base and owns its connections and
 * its own attachment (hc_cache handle) and counters, so workers share
 * nothing but the segment and the connection counts.  The maintenance thread has the main
 * attachment.  With --redis, one more thread, with its own event base and
 * attachment, carries invalidations to and from Redis (redis.c).
 */
#ifndef HOSTCACHED_H
#define HOSTCACHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "hostcache.h"

#define HOSTCACHED_VERSION HC_VERSION_STRING
/* What "version" and stats answer: the memcached protocol version served
 * (1.6: meta commands), then ours.  Clients read the first number as
 * memcached's major version, and libmemcached refuses a 0 there. */
#define HOSTCACHED_PROTOCOL_VERSION "1.6.0-hostcached-" HOSTCACHED_VERSION

/* Exit statuses. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* could not start or keep running */
	EXIT_USAGE = 2,   /* bad flag, bad configuration value */
};

/* ------------------------------------------------------------------ */
/* log.c                                                               */

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clock ID in nanoseconds. */
static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds: deadlines and intervals. */
static inline uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------------ */
/* config.c                                                            */

#define PATH_CAP 256
#define THREADS_MAX 64
#define ORIGIN_CAP 65            /* an origin name and its NUL */
#define CHANNEL_CAP 300
#define TRACK_MAX 16             /* --redis-track prefixes */
#define TRACK_CAP 257            /* a prefix and its NUL */

/* Where Redis is: a unix socket path, or a host and port. */
struct redis_target {
	char unix_path[108];     /* "" = TCP */
	char host[256];
	unsigned port;
};

struct hcd_config {
	char name[256];          /* segment name */
	uint64_t size;           /* segment bytes */
	bool size_given;         /* --size or size=: must match an existing one */
	uint32_t max_procs;      /* process slots (0: the library's default) */
	uint32_t mode;           /* segment file mode */
	char socket_path[PATH_CAP];
	uint32_t socket_mode;
	unsigned port;           /* TCP on 127.0.0.1; 0 = off */
	unsigned metrics_port;   /* HTTP /metrics on 127.0.0.1; 0 = off */
	unsigned threads;
	unsigned max_conns;
	char pidfile[PATH_CAP];  /* "" = none */
	char config_path[PATH_CAP];
	enum log_level log_level;
	bool unlink_on_exit;
	uint32_t stale_grace_ms; /* segment's stale grace when creating it */
	uint32_t journal_entries; /* when creating it: 0 = none, or the
	                           default under --redis */
	bool journal_given;
	uint64_t writeback_bytes; /* when creating it: write-behind queue
	                           bytes (0 = none) */
	bool writeback_given;
	char redis_url[PATH_CAP]; /* --redis; "" = no link to other hosts */
	struct redis_target redis;
	char redis_channel[CHANNEL_CAP]; /* default hostcache:NAME */
	char origin[ORIGIN_CAP];  /* this host's name to the others */
	/* --redis-track: key prefixes whose writes by any Redis client
	 * invalidate this host's copies (Redis client-side caching) */
	char redis_track[TRACK_MAX][TRACK_CAP];
	unsigned redis_ntrack;
};

/* The journal to create a segment with: --journal, else under --redis 65536
 * entries or as many as take 1/16 of the segment, whichever is fewer. */
uint32_t config_journal_entries(const struct hcd_config *cfg);

/* Fill CFG from ARGV: defaults, then the --config file, then the flags.
 * Returns -1 to exit EXIT_OK (--help, --version printed), 0 to run, or
 * EXIT_USAGE after printing one line that says what is wrong. */
int config_from_args(struct hcd_config *cfg, int argc, char **argv);

/* SIGHUP: reread CFG->config_path and apply what can change while running
 * (the log level); say which other changes need a restart. */
void config_reload(struct hcd_config *cfg);

/* ------------------------------------------------------------------ */
/* store.c                                                             */

/* Outcome of a storage command, as the protocol names it. */
enum store_result {
	STORE_STORED,
	STORE_NOT_STORED,
	STORE_EXISTS,
	STORE_NOT_FOUND,
	STORE_TOO_LARGE,
	STORE_NO_MEMORY,
	STORE_BAD_KEY,
	STORE_NOT_NUMBER,
	STORE_BUSY,
	STORE_ERROR,
};

enum store_mode {
	MODE_SET, MODE_ADD, MODE_REPLACE, MODE_APPEND, MODE_PREPEND, MODE_CAS,
};

/* memcached's exptime: 0 never, up to 30 days relative seconds, larger an
 * absolute unix time, negative (or an absolute time passed) expired at
 * once.  Returns false for "expired at once", else the TTL in ms. */
bool exptime_to_ttl_ms(int64_t exptime, uint64_t *ttl_ms);

struct store_item {
	uint64_t cas;
	uint64_t ttl_ms;         /* left; 0 = no expiry */
	uint32_t flags;          /* memcached client flags */
	uint32_t vlen;
};

/* A write: what it is and its conditions. */
struct store_req {
	enum store_mode mode;
	uint32_t flags;          /* client flags (set, add, replace, cas) */
	int64_t exptime;         /* memcached's (set, add, replace, cas) */
	uint64_t cas;            /* MODE_CAS: the CAS id the item must have */
	uint64_t *cas_out;       /* if not NULL: the new item's CAS id */
};

/* What store_* needs from a worker: its attachment and a scratch buffer
 * of VALUE_CAP bytes for read-modify-write (append, prepend). */
struct store {
	hc_cache *cache;
	char *scratch;
	size_t value_cap;        /* the segment's max_value */
	size_t key_max;          /* min(250, the segment's max_key) */
};

/* 0 hit (value in BUF, metadata in *IT), HC_ENOTFOUND, HC_EBUFSIZE or
 * another HC_E* error. */
int store_get(struct store *s, const void *key, size_t klen, void *buf,
              size_t cap, struct store_item *it);
/* What the library reports of an item, as the protocols see it. */
void store_item_from(struct store_item *it, const hc_item_info *info);
enum store_result store_write(struct store *s, const struct store_req *req,
                              const void *key, size_t klen, const void *val,
                              size_t vlen);
enum store_result store_delete(struct store *s, const void *key, size_t klen);
/* Delete KEY if its CAS id is CAS (0: whatever it is).  The check and the
 * delete are two steps: a write between them is deleted too. */
enum store_result store_delete_if(struct store *s, const void *key,
                                  size_t klen, uint64_t cas);
/* Store the value computed under LEASE (hc_lease_fill), as a set with
 * REQ's exptime and client flags, and release the lease.  A lease taken
 * over meanwhile still stores, unless a newer value is there. */
enum store_result store_fill(struct store *s, hc_lease *lease,
                             const struct store_req *req, const void *key,
                             size_t klen, const void *val, size_t vlen);
enum store_result store_touch(struct store *s, const void *key, size_t klen,
                              int64_t exptime);
enum store_result store_arith(struct store *s, bool incr, const void *key,
                              size_t klen, uint64_t delta, uint64_t *result);

/* The binary protocol's incr and decr: an absent key is created with
 * INITIAL (and EXPTIME) when CREATE, and then *RESULT is INITIAL. */
struct counter_req {
	bool incr;
	uint64_t delta;
	bool create;
	uint64_t initial;
	int64_t exptime;
};

enum store_result store_counter(struct store *s, const struct counter_req *req,
                                const void *key, size_t klen,
                                uint64_t *result, uint64_t *cas_out);

/* ------------------------------------------------------------------ */
/* maint.c                                                             */

/* Counters sampled once a second, and the rates between two samples. */
struct maint_sample {
	hc_stats now;
	double gets_per_sec, sets_per_sec, hits_per_sec, evictions_per_sec;
	bool have_rates;
};

int maint_start(hc_cache *cache, unsigned interval_ms, unsigned budget_us);
void maint_stop(void);
void maint_latest(struct maint_sample *out);
/* flush_all DELAY: flush when the CLOCK_MONOTONIC ns AT comes (0: cancel
 * a pending one). */
void maint_flush_at(uint64_t at_ns);

/* ------------------------------------------------------------------ */
/* redis*.c                                                            */

#define REDIS_DELAY_BUCKETS 16

/* The link's counters.  One writer, the Redis thread; read with
 * redis_stats_get.  Only uint64_t fields. */
struct redis_stats {
	uint64_t link_up;        /* gauge: 1 both connections up, subscribed */
	uint64_t published, publish_errors, in_flight;
	uint64_t applied, apply_errors, own_skipped, bad_messages;
	uint64_t resyncs_sent, resyncs_received, local_flushes;
	uint64_t journal_lost, reconnects;
	uint64_t reads, read_errors;   /* read through (mg G) */
	uint64_t writes, write_errors; /* write through (ms G, md G) */
	/* --redis-track: CLIENT TRACKING's invalidations */
	uint64_t track_on;       /* gauge: 1 while Redis tracks for us */
	uint64_t track_invalidated, track_resets, track_errors;
	/* write-behind drain (drain.c) */
	uint64_t wb_claim;       /* gauge: DRAIN_CLAIM_* */
	uint64_t wb_drained, wb_drain_errors, wb_dropped;
	uint64_t wb_depth_records, wb_depth_bytes; /* gauges, at each tick */
	/* propagation delay: publisher's wall clock to our receipt, in us */
	uint64_t delay_count, delay_sum_us, delay_max_us, delay_last_us;
	uint64_t delay_buckets[REDIS_DELAY_BUCKETS]; /* the last: larger */
};

/* Each field of struct redis_stats the stats command and /metrics show:
 * its stat name, its metric (NULL: the delay histogram says it), kind. */
struct redis_field {
	const char *stat, *metric, *help;
	bool counter;
	size_t offset;
};

extern const struct redis_field redis_fields[];
extern const size_t redis_field_count;
/* The upper bounds of delay_buckets but the last. */
extern const uint64_t redis_delay_bounds_us[REDIS_DELAY_BUCKETS - 1];

/* Parse --redis URL into T, or say why not in WHY. */
bool redis_url_parse(const char *url, struct redis_target *t, char *why,
                     size_t cap);
/* 1..64 of [A-Za-z0-9._-]: an origin name fits a message's header. */
bool redis_origin_valid(const char *name);
/* Start the Redis thread when CFG has --redis (0 also when it has not). */
int redis_start(const struct hcd_config *cfg);
void redis_stop(void);
bool redis_enabled(void);
/* This host's origin id: a handle set to it journals entries the link
 * does not publish (a fill from Redis tells the other hosts nothing). */
uint32_t redis_own_origin(void);
void redis_stats_get(struct redis_stats *out);
/* Ask Redis for KEY's value and TTL, from any thread.  DONE is called
 * once, on the Redis thread (or at once on this one when the link is
 * off or stopping): STATUS 0 VALUE (VLEN bytes, valid during the call)
 * with PTTL_MS (-1: no expiry), 1 Redis has no such key, -1 no answer. */
typedef void (*redis_get_done)(void *arg, int status, const char *value,
                               size_t vlen, int64_t pttl_ms);
void redis_get(const void *key, size_t klen, redis_get_done done, void *arg);
/* Write KEY through to Redis, from any thread: SET KEY VAL (VLEN bytes,
 * binary-safe) with PX PX_MS (0: no expiry), or DEL KEY.  DONE is
 * called once, on the Redis thread (or at once on this one when the link
 * is off or stopping): STATUS 1 done (DEL: a key was removed), 0 DEL
 * removed none, -1 not done or not known to be, WHY says which. */
typedef void (*redis_write_done)(void *arg, int status, const char *why);
void redis_set(const void *key, size_t klen, const void *val, size_t vlen,
               uint64_t px_ms, redis_write_done done, void *arg);
void redis_del(const void *key, size_t klen, redis_write_done done,
               void *arg);
/* ------------------------------------------------------------------ */
/* drain.c                                                             */

/* redis_stats.wb_claim: who drains the segment's write-behind queue. */
enum {
	DRAIN_CLAIM_NO_QUEUE = 0, /* the segment has none (writeback_bytes 0) */
	DRAIN_CLAIM_NONE = 1,     /* not claimed yet (Redis not reached yet) */
	DRAIN_CLAIM_HELD = 2,     /* this hostcached drains it */
	DRAIN_CLAIM_OTHER = 3,    /* another live process does; we retry */
};

struct redisAsyncContext;

/* What the drain needs from the Redis thread: its attachment, its
 * counters, and LANDED, called when a record's write landed in Redis
 * (redis_publish.c publishes the key's invalidation once more). */
struct drain_env {
	hc_cache *cache;
	struct redis_stats *stats;
	void (*landed)(const void *key, size_t klen);
};

/* All on the Redis thread.  drain_init: before the thread runs; 0 also
 * when the segment has no queue (then the rest does nothing). */
int drain_init(const struct drain_env *env);
/* At every tick: AC is the connection to send on (NULL: down). */
void drain_poll(struct redisAsyncContext *ac);
/* The connection handed to drain_poll is gone. */
void drain_link_lost(void);
void drain_stop(void);

/* The delay under which a share Q of the deliveries came (a bucket's
 * bound). */
uint64_t redis_delay_quantile_us(const struct redis_stats *s, double q);

/* ------------------------------------------------------------------ */
/* server.c                                                            */

/* Connection counters, shared: the listener counts connections in, the
 * workers count them out (atomic adds). */
struct server_counters {
	uint64_t curr_connections;
	uint64_t total_connections;
	uint64_t rejected_connections;
};

/* A worker's command counters.  One writer, its worker (counter_add);
 * stats sums every worker's with relaxed loads.  A cache line each, so
 * that workers never write a line another writes. */
struct worker_counters {
	uint64_t cmd_touch, cmd_flush;
	uint64_t bytes_read, bytes_written;
	uint64_t delete_hits, delete_misses;
	uint64_t incr_hits, incr_misses, decr_hits, decr_misses;
	uint64_t cas_hits, cas_misses, cas_badval;
	uint64_t touch_hits, touch_misses;
} __attribute__((aligned(64)));

static inline void counter_add(uint64_t *counter, uint64_t n)
{
	/* Single writer: a relaxed load and store, no locked instruction. */
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n,
	                 __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* metrics.c                                                           */

struct event_base;
struct metrics;

/* What /metrics reports besides the segment: the server's counters. */
struct metrics_source {
	const struct hcd_config *cfg;
	const struct server_counters *conns;
	const struct worker_counters *workers;  /* THREADS of them */
	unsigned threads;
	time_t started;
};

/* Serve GET /metrics over HTTP on 127.0.0.1:cfg->metrics_port from BASE
 * (the main thread's).  On failure (logged), *OUT is still to be freed. */
int metrics_start(struct event_base *base, const struct metrics_source *src,
                  struct metrics **out);
void metrics_free(struct metrics *m);

struct server;

int server_start(const struct hcd_config *cfg, struct server **out);
/* Run the listeners and signals on the main thread until server_stop(). */
int server_run(struct server *srv);
void server_stop(struct server *srv);
void server_free(struct server *srv);
/* Callbacks of the main loop's signal events, set by main.c. */
extern void (*server_on_reload)(void);

/* ------------------------------------------------------------------ */
/* proto_text.c                                                        */

struct evbuffer;
struct conn;

#define META_FLAGS_MAX 256      /* the flags of one ms line */
#define META_LEASES_MAX 8       /* win tokens (W) one connection holds */

/* A win token that mg handed out: the lease that the same connection's ms
 * of KEY fills, and that closing the connection abandons. */
struct meta_lease {
	hc_lease lease;          /* lease.held: this entry is in use */
	uint64_t cas;            /* the CAS id sent with W (0: a miss) */
	uint64_t seq;            /* age: the oldest gives way when all are used */
	size_t klen;
	char key[251];
};

/* What the protocol layer sees of a connection. */
struct text_state {
	enum { TEXT_COMMAND, TEXT_DATA, TEXT_SWALLOW } phase;
	/* TEXT_DATA: the storage command waiting for its data block */
	enum store_mode mode;
	char key[251];
	size_t klen;
	uint32_t flags;
	int64_t exptime;
	uint64_t cas;
	size_t vlen;
	bool noreply;
	/* a meta set (ms): its flags, replied to once the data is stored */
	bool meta;
	char meta_flags[META_FLAGS_MAX];
	/* TEXT_SWALLOW: bytes of a refused data block still to drop */
	uint64_t swallow;
	/* win tokens held (proto_meta.c) */
	struct meta_lease leases[META_LEASES_MAX];
	uint64_t lease_seq;
	/* an mg G reading through (readthrough.c); while it waits, the
	 * connection's commands wait behind it, its line still unread */
	struct read_through *read_through;
	/* an ms G or md G waiting for Redis (writethrough.c); its data
	 * block or line stays unread meanwhile, as mg G's */
	struct write_through *write_through;
};

/* What a connection offers the protocol layer. */
struct proto_env {
	struct store *store;
	struct evbuffer *scratch_out;  /* a worker's buffer for whole replies */
	char *line;                    /* GET_LINE_MAX_BYTES + 1 bytes */
	char *value;                   /* store->value_cap + 2 bytes: a data
	                                  block as it arrives */
	struct server_counters *conns;
	struct worker_counters *counters;     /* this worker's */
	const struct worker_counters *all;    /* every worker's, for stats */
	const struct hcd_config *cfg;
	time_t started;
	unsigned threads;
	struct event_base *base;       /* the worker's */
	/* A connection that got PROTO_WAIT can go on: run its commands. */
	void (*resume)(struct text_state *st);
};

enum proto_status {
	PROTO_MORE,       /* waiting for more input */
	PROTO_CLOSE,      /* quit, or input beyond repair: flush and close */
	PROTO_WAIT,       /* a command waits (mg, ms, md G): read nothing more until
	                     env->resume */
};

#define LINE_MAX_BYTES 2048       /* a command line other than get */
#define GET_LINE_MAX_BYTES 65536  /* get/gets/gat/gats with many keys */
#define REPLY_MAX_BYTES (32u << 20) /* one multi-get reply at most */

/* Consume whole commands from IN, appending replies to OUT, until IN has
 * no whole command left or OUT holds OUT_LIMIT bytes. */
enum proto_status proto_text_process(struct text_state *st,
                                     const struct proto_env *env,
                                     struct evbuffer *in,
                                     struct evbuffer *out, size_t out_limit);

/* The connection of ST is closing: abandon the leases it holds, so that
 * the next client to miss their keys wins. */
void proto_text_closed(struct text_state *st, const struct proto_env *env);

/* ------------------------------------------------------------------ */
/* proto_binary.c                                                      */

/* What the binary protocol keeps between reads of a connection. */
struct binary_state {
	uint64_t swallow;        /* bytes of a refused body still to drop */
};

/* As proto_text_process, for a connection that speaks the binary
 * protocol (its first byte was 0x80). */
enum proto_status proto_binary_process(struct binary_state *st,
                                       const struct proto_env *env,
                                       struct evbuffer *in,
                                       struct evbuffer *out, size_t out_limit);

#endif /* HOSTCACHED_H */
