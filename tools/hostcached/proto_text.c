/*
 * proto_text.c - the memcached text protocol.
 *
 * A connection alternates between three phases: a command line (up to
 * LINE_MAX_BYTES, or GET_LINE_MAX_BYTES for the get family, which may
 * name many keys), the data block of a storage command (its declared
 * length plus "\r\n"), and swallowing the data block of a storage command
 * that was refused before its data came (too large), so that the data is
 * never taken for commands.
 *
 * Replies follow memcached 1.6: the same words, the same CLIENT_ERROR and
 * SERVER_ERROR texts, noreply suppressing every reply but a SERVER_ERROR.
 * A line longer than its limit cannot be resynchronised with: the
 * connection gets one CLIENT_ERROR and is closed.  A line holding a NUL
 * byte gets a CLIENT_ERROR and the next line is read as usual.
 *
 * This file reads the lines, dispatches them and serves the classic
 * commands; the meta commands are proto_meta.c's.  The item semantics
 * (exptime, flags, append) are store.c's: the protocol files only parse
 * and word the replies.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "proto.h"
#include "../cachectl_parse.h"
#include "../stat_fields.h"

#define EXPTIME_LIMIT INT32_MAX

/* ------------------------------------------------------------------ */
/* Replies                                                             */

void reply(struct cmd_ctx *c, const char *text)
{
	if (c->l != NULL && c->l->noreply)
		return;
	evbuffer_add(c->out, text, strlen(text));
	evbuffer_add(c->out, "\r\n", 2);
}

/* SERVER_ERROR replies are sent even under noreply, as memcached does:
 * the client must learn that its data was not kept. */
void reply_server_error(struct cmd_ctx *c, const char *text)
{
	evbuffer_add_printf(c->out, "SERVER_ERROR %s\r\n", text);
}

void reply_store_error(struct cmd_ctx *c, enum store_result r)
{
	switch (r) {
	case STORE_TOO_LARGE:
		reply_server_error(c, "object too large for cache");
		break;
	case STORE_NO_MEMORY:
		reply_server_error(c, "out of memory storing object");
		break;
	case STORE_BUSY:
		reply_server_error(c, "too much contention on the key, try "
		                   "again");
		break;
	case STORE_NOT_NUMBER:
		reply(c, "CLIENT_ERROR cannot increment or decrement "
		      "non-numeric value");
		break;
	case STORE_BAD_KEY:
		reply(c, "CLIENT_ERROR bad command line format");
		break;
	default:
		reply_server_error(c, "internal error, see the server's log");
	}
}

static void reply_store(struct cmd_ctx *c, enum store_result r)
{
	static const char *const words[] = {
		[STORE_STORED] = "STORED",
		[STORE_NOT_STORED] = "NOT_STORED",
		[STORE_EXISTS] = "EXISTS",
		[STORE_NOT_FOUND] = "NOT_FOUND",
	};

	if (r < sizeof words / sizeof words[0] && words[r] != NULL)
		reply(c, words[r]);
	else
		reply_store_error(c, r);
}

/* ------------------------------------------------------------------ */
/* Tokens and numbers                                                  */

/* Split the words after the command word (L->tok[0]) on spaces, as
 * memcached does. */
void tokenize(char *s, struct line *l)
{
	l->n = 1;
	while (*s != '\0') {
		char *start;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (l->n == MAX_TOKENS) {
			l->n++;
			break;
		}
		start = s;
		while (*s != ' ' && *s != '\0')
			s++;
		l->tok[l->n] = start;
		l->len[l->n] = (size_t)(s - start);
		l->n++;
		if (*s == ' ')
			*s++ = '\0';
	}
	l->noreply = l->n > 1 && l->n <= MAX_TOKENS &&
	             strcmp(l->tok[l->n - 1], "noreply") == 0;
}

bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t n;

	if (!parse_u64(s, &n) || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

/* A signed decimal within memcached's 32-bit range. */
bool parse_exptime(const char *s, int64_t *out)
{
	bool negative = s[0] == '-';
	uint64_t n;

	if (!parse_u64(s + negative, &n) || n > EXPTIME_LIMIT)
		return false;
	*out = negative ? -(int64_t)n : (int64_t)n;
	return true;
}

bool key_ok(const struct cmd_ctx *c, size_t klen)
{
	return klen >= 1 && klen <= c->env->store->key_max;
}

/* Count a keyed command's outcome: found (R is STORED) or missing. */
void count_outcome(enum store_result r, uint64_t *hits, uint64_t *misses)
{
	if (r == STORE_STORED)
		counter_add(hits, 1);
	else if (r == STORE_NOT_FOUND)
		counter_add(misses, 1);
}

void count_cas(struct worker_counters *k, enum store_result r)
{
	if (r == STORE_EXISTS)
		counter_add(&k->cas_badval, 1);
	else
		count_outcome(r, &k->cas_hits, &k->cas_misses);
}

/* ------------------------------------------------------------------ */
/* Retrieval: get, gets, gat, gats                                     */

/* Append KEY's VALUE block to REPLY on a hit.  GAT: touch it after. */
static void get_one(struct cmd_ctx *c, struct evbuffer *reply_buf,
                    const char *key, size_t klen, bool with_cas,
                    const int64_t *touch_exptime)
{
	struct store *s = c->env->store;
	struct store_item it;
	int rc = store_get(s, key, klen, s->scratch, s->value_cap, &it);

	if (rc != 0) {
		if (rc != HC_ENOTFOUND)
			log_msg(LOG_DEBUG, "get: %s", hc_strerror(rc));
		return;
	}
	if (touch_exptime != NULL &&
	    store_touch(s, key, klen, *touch_exptime) != STORE_STORED)
		return;
	evbuffer_add_printf(reply_buf, "VALUE %.*s %" PRIu32 " %" PRIu32,
	                    (int)klen, key, it.flags, it.vlen);
	if (with_cas)
		evbuffer_add_printf(reply_buf, " %" PRIu64, it.cas);
	evbuffer_add(reply_buf, "\r\n", 2);
	evbuffer_add(reply_buf, s->scratch, it.vlen);
	evbuffer_add(reply_buf, "\r\n", 2);
}

/* The keys of a get line: KEYS (the text after the command word, or after
 * gat's exptime).  The reply is built whole, so that an error midway (a
 * bad key, a reply too large) replaces it. */
static void get_keys(struct cmd_ctx *c, char *keys, bool with_cas,
                     const int64_t *touch_exptime)
{
	struct evbuffer *r = c->env->scratch_out;
	size_t nkeys = 0;

	evbuffer_drain(r, evbuffer_get_length(r));
	while (*keys != '\0') {
		char *key;
		size_t klen;

		while (*keys == ' ')
			keys++;
		if (*keys == '\0')
			break;
		key = keys;
		while (*keys != ' ' && *keys != '\0')
			keys++;
		klen = (size_t)(keys - key);
		if (!key_ok(c, klen)) {
			evbuffer_drain(r, evbuffer_get_length(r));
			reply(c, "CLIENT_ERROR bad command line format");
			return;
		}
		get_one(c, r, key, klen, with_cas, touch_exptime);
		nkeys++;
		if (evbuffer_get_length(r) > REPLY_MAX_BYTES) {
			evbuffer_drain(r, evbuffer_get_length(r));
			reply_server_error(c, "out of memory writing get response");
			return;
		}
	}
	if (nkeys == 0) {
		reply(c, "ERROR");
		return;
	}
	evbuffer_add(r, "END\r\n", 5);
	evbuffer_add_buffer(c->out, r);
}

static void cmd_get(struct cmd_ctx *c)
{
	c->l->noreply = false;
	get_keys(c, c->l->rest, c->l->tok[0][3] == 's', NULL);
}

static void cmd_gat(struct cmd_ctx *c)
{
	char *rest = c->l->rest, *exptime_text;
	int64_t exptime;

	c->l->noreply = false;
	while (*rest == ' ' || *rest == '\0') {
		if (*rest == '\0') {
			reply(c, "ERROR");
			return;
		}
		rest++;
	}
	exptime_text = rest;
	while (*rest != ' ' && *rest != '\0')
		rest++;
	if (*rest == ' ')
		*rest++ = '\0';
	if (!parse_exptime(exptime_text, &exptime)) {
		reply(c, "CLIENT_ERROR invalid exptime argument");
		return;
	}
	counter_add(&c->env->counters->cmd_touch, 1);
	get_keys(c, rest, c->l->tok[0][3] == 's', &exptime);
}

/* ------------------------------------------------------------------ */
/* Storage: set, add, replace, append, prepend, cas                    */

void swallow(struct text_state *st, uint64_t bytes)
{
	st->phase = TEXT_SWALLOW;
	st->swallow = bytes;
}

/* Does the line have WANT tokens, or WANT and noreply?  Else ERROR, as
 * memcached answers a command with the wrong number of arguments. */
static bool args_counted(struct cmd_ctx *c, int want)
{
	if (c->l->n == want || (c->l->n == want + 1 && c->l->noreply))
		return true;
	reply(c, "ERROR");
	return false;
}

/* The command line of a storage command: check it, then wait for the
 * data block (TEXT_DATA) or drop it (TEXT_SWALLOW). */
static void cmd_store(struct cmd_ctx *c, enum store_mode mode)
{
	struct line *l = c->l;
	struct text_state *st = c->st;
	int want = mode == MODE_CAS ? 6 : 5;
	uint32_t flags;
	int64_t exptime;
	uint64_t vlen, cas = 0;

	if (!args_counted(c, want))
		return;
	if (!parse_u32(l->tok[2], &flags) || !parse_exptime(l->tok[3], &exptime) ||
	    !parse_u64(l->tok[4], &vlen) || vlen > VLEN_MAX ||
	    (mode == MODE_CAS && !parse_u64(l->tok[5], &cas))) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (!key_ok(c, l->len[1])) {
		reply(c, "CLIENT_ERROR bad command line format");
		swallow(st, vlen + 2);
		return;
	}
	if (vlen > c->env->store->value_cap) {
		reply_server_error(c, "object too large for cache");
		/* A set that fails must not leave the old value readable. */
		if (mode == MODE_SET)
			store_delete(c->env->store, l->tok[1], l->len[1]);
		swallow(st, vlen + 2);
		return;
	}
	st->phase = TEXT_DATA;
	st->mode = mode;
	memcpy(st->key, l->tok[1], l->len[1]);
	st->klen = l->len[1];
	st->flags = flags;
	st->exptime = exptime;
	st->cas = cas;
	st->vlen = (size_t)vlen;
	st->noreply = l->noreply;
	st->meta = false;
}

static void cmd_set(struct cmd_ctx *c) { cmd_store(c, MODE_SET); }
static void cmd_add(struct cmd_ctx *c) { cmd_store(c, MODE_ADD); }
static void cmd_replace(struct cmd_ctx *c) { cmd_store(c, MODE_REPLACE); }
static void cmd_append(struct cmd_ctx *c) { cmd_store(c, MODE_APPEND); }
static void cmd_prepend(struct cmd_ctx *c) { cmd_store(c, MODE_PREPEND); }
static void cmd_cas(struct cmd_ctx *c) { cmd_store(c, MODE_CAS); }

/* Whether a command of the connection waits for Redis (mg, ms, md G):
 * its bytes stay in the input, and nothing after it runs. */
static bool command_waiting(const struct text_state *st)
{
	return read_through_waiting(st) || write_through_waiting(st);
}

/* The data block has come whole (IN holds vlen + 2 bytes of it).  It is
 * consumed once the command is done: an ms G waiting for Redis finds it
 * there again when it runs again. */
static void complete_data(struct cmd_ctx *c, struct evbuffer *in)
{
	struct text_state *st = c->st;
	char *val = c->env->value;
	struct line l = { .noreply = st->noreply };
	struct store_req req = { 0 };
	enum store_result r;

	evbuffer_copyout(in, val, st->vlen + 2);
	c->l = &l;
	if (val[st->vlen] != '\r' || val[st->vlen + 1] != '\n') {
		evbuffer_drain(in, st->vlen + 2);
		st->phase = TEXT_COMMAND;
		/* A meta set reports its errors even when quiet. */
		l.noreply = l.noreply && !st->meta;
		reply(c, "CLIENT_ERROR bad data chunk");
		return;
	}
	if (st->meta) {
		meta_set_complete(c, val);
		if (command_waiting(st))
			return;
		evbuffer_drain(in, st->vlen + 2);
		st->phase = TEXT_COMMAND;
		return;
	}
	evbuffer_drain(in, st->vlen + 2);
	st->phase = TEXT_COMMAND;
	req.mode = st->mode;
	req.flags = st->flags;
	req.exptime = st->exptime;
	req.cas = st->cas;
	r = store_write(c->env->store, &req, st->key, st->klen, val, st->vlen);
	if (st->mode == MODE_CAS)
		count_cas(c->env->counters, r);
	reply_store(c, r);
}

/* ------------------------------------------------------------------ */
/* delete, incr, decr, touch                                           */

static void cmd_delete(struct cmd_ctx *c)
{
	struct line *l = c->l;
	int extra = l->n - 2 - (l->noreply ? 1 : 0);
	enum store_result r;

	if (l->n < 2 || extra > 1 || (extra == 1 && strcmp(l->tok[2], "0") != 0)) {
		reply(c, "CLIENT_ERROR bad command line format.  "
		      "Usage: delete <key> [noreply]");
		return;
	}
	r = store_delete(c->env->store, l->tok[1], l->len[1]);
	count_outcome(r, &c->env->counters->delete_hits,
	              &c->env->counters->delete_misses);
	if (r == STORE_STORED)
		reply(c, "DELETED");
	else
		reply_store(c, r);
}

static void cmd_arith(struct cmd_ctx *c)
{
	struct line *l = c->l;
	struct worker_counters *k = c->env->counters;
	uint64_t delta, result;
	enum store_result r;
	char number[24];
	bool incr;

	if (!args_counted(c, 3))
		return;
	if (!parse_u64(l->tok[2], &delta)) {
		reply(c, "CLIENT_ERROR invalid numeric delta argument");
		return;
	}
	incr = l->tok[0][0] == 'i';
	r = store_arith(c->env->store, incr, l->tok[1], l->len[1], delta,
	                &result);
	count_outcome(r, incr ? &k->incr_hits : &k->decr_hits,
	              incr ? &k->incr_misses : &k->decr_misses);
	if (r == STORE_STORED) {
		snprintf(number, sizeof number, "%" PRIu64, result);
		reply(c, number);
	} else {
		reply_store(c, r);
	}
}

static void cmd_touch(struct cmd_ctx *c)
{
	struct line *l = c->l;
	int64_t exptime;
	enum store_result r;

	if (!args_counted(c, 3))
		return;
	if (!parse_exptime(l->tok[2], &exptime)) {
		reply(c, "CLIENT_ERROR invalid exptime argument");
		return;
	}
	counter_add(&c->env->counters->cmd_touch, 1);
	r = store_touch(c->env->store, l->tok[1], l->len[1], exptime);
	count_outcome(r, &c->env->counters->touch_hits,
	              &c->env->counters->touch_misses);
	if (r == STORE_STORED)
		reply(c, "TOUCHED");
	else
		reply_store(c, r);
}

/* ------------------------------------------------------------------ */
/* flush_all, stats, version, verbosity, quit                          */

/* Flush now (DELAY 0, or a time already past) or when DELAY (an exptime)
 * comes, on the maintenance thread; a new flush replaces a pending one.
 * Returns 0, or -1 when the flush failed (logged). */
int flush_after(const struct proto_env *env, int64_t delay)
{
	uint64_t ttl_ms;

	counter_add(&env->counters->cmd_flush, 1);
	if (delay != 0 && exptime_to_ttl_ms(delay, &ttl_ms)) {
		maint_flush_at(monotonic_ns() + ttl_ms * 1000000ull);
		return 0;
	}
	maint_flush_at(0);
	if (hc_flush(env->store->cache) != 0) {
		log_msg(LOG_WARN, "flush_all: %s", hc_last_error());
		return -1;
	}
	return 0;
}

/* flush_all [DELAY] [noreply] */
static void cmd_flush_all(struct cmd_ctx *c)
{
	struct line *l = c->l;
	int args = l->n - 1 - (l->noreply ? 1 : 0);
	int64_t delay = 0;

	if (args > 1 || (args == 1 && !parse_exptime(l->tok[1], &delay))) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	if (flush_after(c->env, delay) != 0) {
		reply_server_error(c, "flush failed, see the server's log");
		return;
	}
	reply(c, "OK");
}

static void stat_u64(struct evbuffer *out, const char *name, uint64_t v)
{
	evbuffer_add_printf(out, "STAT %s %" PRIu64 "\r\n", name, v);
}

static void stat_counter(struct evbuffer *out, const char *name,
                         const uint64_t *counter)
{
	stat_u64(out, name, __atomic_load_n(counter, __ATOMIC_RELAXED));
}

static void stats_process(const struct proto_env *env, struct evbuffer *out)
{
	struct rusage ru;
	time_t now = time(NULL);

	getrusage(RUSAGE_SELF, &ru);
	stat_u64(out, "pid", (uint64_t)getpid());
	stat_u64(out, "uptime", (uint64_t)(now - env->started));
	stat_u64(out, "time", (uint64_t)now);
	evbuffer_add_printf(out, "STAT version %s\r\n",
	                    HOSTCACHED_PROTOCOL_VERSION);
	evbuffer_add_printf(out, "STAT libevent %s\r\n", event_get_version());
	stat_u64(out, "pointer_size", sizeof(void *) * 8);
	evbuffer_add_printf(out, "STAT rusage_user %ld.%06ld\r\n",
	                    (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
	evbuffer_add_printf(out, "STAT rusage_system %ld.%06ld\r\n",
	                    (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
	stat_u64(out, "max_connections", env->cfg->max_conns);
	stat_counter(out, "curr_connections", &env->conns->curr_connections);
	stat_counter(out, "total_connections", &env->conns->total_connections);
	stat_counter(out, "rejected_connections",
	             &env->conns->rejected_connections);
	stat_u64(out, "threads", env->threads);
}

#define SEGMENT_STAT(name, field) { name, offsetof(hc_stats, field) }
#define WORKER_STAT(name, field) { name, offsetof(struct worker_counters, field) }

struct counter_stat {
	const char *name;
	size_t offset;
};

/* The segment's counters, summed over every process that uses it, under
 * memcached's names, then the rest under hostcache's. */
static const struct counter_stat segment_stats[] = {
	SEGMENT_STAT("cmd_get", gets),
	SEGMENT_STAT("cmd_set", sets),
	SEGMENT_STAT("get_hits", hits),
	SEGMENT_STAT("get_misses", misses),
	SEGMENT_STAT("evictions", evictions),
	SEGMENT_STAT("reclaimed", expirations),
	SEGMENT_STAT("limit_maxbytes", bytes_limit),
	SEGMENT_STAT("curr_items", items),
	SEGMENT_STAT("total_items", sets),
	SEGMENT_STAT("bytes", bytes_live),
	SEGMENT_STAT("hc_bytes_dead", bytes_dead),
	SEGMENT_STAT("hc_deletes", deletes),
	SEGMENT_STAT("hc_second_chances", second_chances),
	SEGMENT_STAT("hc_blocks_total", blocks_total),
	SEGMENT_STAT("hc_blocks_free", blocks_free),
	SEGMENT_STAT("hc_blocks_cleaned", blocks_cleaned),
};

/* This daemon's own, summed over its workers. */
static const struct counter_stat worker_stats[] = {
	WORKER_STAT("cmd_flush", cmd_flush),
	WORKER_STAT("cmd_touch", cmd_touch),
	WORKER_STAT("delete_misses", delete_misses),
	WORKER_STAT("delete_hits", delete_hits),
	WORKER_STAT("incr_misses", incr_misses),
	WORKER_STAT("incr_hits", incr_hits),
	WORKER_STAT("decr_misses", decr_misses),
	WORKER_STAT("decr_hits", decr_hits),
	WORKER_STAT("cas_misses", cas_misses),
	WORKER_STAT("cas_hits", cas_hits),
	WORKER_STAT("cas_badval", cas_badval),
	WORKER_STAT("touch_hits", touch_hits),
	WORKER_STAT("touch_misses", touch_misses),
	WORKER_STAT("bytes_read", bytes_read),
	WORKER_STAT("bytes_written", bytes_written),
};

static uint64_t worker_stat_sum(const struct proto_env *env, size_t offset)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < env->threads; i++)
		sum += __atomic_load_n((const uint64_t *)((const char *)&env->all[i] +
		                                          offset),
		                       __ATOMIC_RELAXED);
	return sum;
}

/* Get and store latency since the segment was created, from the one
 * operation in latency_every that every process times: get_p50_ns,
 * get_p99_ns, ..., under the keys cachectl stats --json gives them. */
static void stats_latency(const struct proto_env *env, struct evbuffer *out)
{
	struct stat_field f[STAT_FIELDS_MAX];
	hc_latency lat;
	int n;

	if (hc_latency_get(env->store->cache, &lat) != 0)
		return;
	n = collect_latency_fields(&lat, f);
	for (int i = 0; i < n; i++)
		stat_u64(out, f[i].key, f[i].value);
}

static void stats_segment(const struct proto_env *env, struct evbuffer *out)
{
	struct maint_sample sample;
	hc_stats s;

	if (hc_stats_get(env->store->cache, &s) != 0)
		memset(&s, 0, sizeof s);
	for (size_t i = 0; i < sizeof segment_stats / sizeof segment_stats[0];
	     i++)
		stat_u64(out, segment_stats[i].name,
		         *(const uint64_t *)((const char *)&s +
		                             segment_stats[i].offset));
	stat_u64(out, "hc_procs_attached", s.procs_attached);
	for (size_t i = 0; i < sizeof worker_stats / sizeof worker_stats[0]; i++)
		stat_u64(out, worker_stats[i].name,
		         worker_stat_sum(env, worker_stats[i].offset));
	stats_latency(env, out);
	maint_latest(&sample);
	if (sample.have_rates)
		evbuffer_add_printf(out,
		    "STAT hc_gets_per_sec %.1f\r\nSTAT hc_hits_per_sec %.1f\r\n"
		    "STAT hc_sets_per_sec %.1f\r\nSTAT hc_evictions_per_sec %.1f\r\n",
		    sample.gets_per_sec, sample.hits_per_sec, sample.sets_per_sec,
		    sample.evictions_per_sec);
}

/* The link to the other hosts (--redis): redis.c's counters, and the
 * propagation delay's average and quantiles in us. */
static void stats_redis(struct evbuffer *out)
{
	struct redis_stats s;

	if (!redis_enabled())
		return;
	redis_stats_get(&s);
	for (size_t i = 0; i < redis_field_count; i++)
		stat_u64(out, redis_fields[i].stat,
		         *(const uint64_t *)((const char *)&s +
		                             redis_fields[i].offset));
	stat_u64(out, "redis_delay_avg_us",
	         s.delay_count ? s.delay_sum_us / s.delay_count : 0);
	stat_u64(out, "redis_delay_p50_us", redis_delay_quantile_us(&s, 0.50));
	stat_u64(out, "redis_delay_p99_us", redis_delay_quantile_us(&s, 0.99));
}

void stats_write(const struct proto_env *env, struct evbuffer *out)
{
	stats_process(env, out);
	stats_segment(env, out);
	stats_redis(out);
}

static void cmd_stats(struct cmd_ctx *c)
{
	c->l->noreply = false;
	if (c->l->n > 1) {
		reply(c, "ERROR");
		return;
	}
	stats_write(c->env, c->out);
	evbuffer_add(c->out, "END\r\n", 5);
}

static void cmd_version(struct cmd_ctx *c)
{
	c->l->noreply = false;
	reply(c, "VERSION " HOSTCACHED_PROTOCOL_VERSION);
}

/* verbosity N: 0 warnings and errors, 1 info, 2 or more debug. */
void verbosity_set(uint32_t level)
{
	log_set_level(level == 0 ? LOG_WARN : level == 1 ? LOG_INFO : LOG_DEBUG);
}

static void cmd_verbosity(struct cmd_ctx *c)
{
	struct line *l = c->l;
	uint32_t level;

	if (!args_counted(c, 2))
		return;
	if (!parse_u32(l->tok[1], &level)) {
		reply(c, "CLIENT_ERROR bad command line format");
		return;
	}
	verbosity_set(level);
	reply(c, "OK");
}

/* ------------------------------------------------------------------ */
/* Lines and dispatch                                                  */

struct command {
	const char *name;
	void (*run)(struct cmd_ctx *c);
	bool keys_follow;          /* get family: the rest is not tokenized */
};

static const struct command commands[] = {
	{ "get", cmd_get, true },
	{ "gets", cmd_get, true },
	{ "gat", cmd_gat, true },
	{ "gats", cmd_gat, true },
	{ "set", cmd_set, false },
	{ "add", cmd_add, false },
	{ "replace", cmd_replace, false },
	{ "append", cmd_append, false },
	{ "prepend", cmd_prepend, false },
	{ "cas", cmd_cas, false },
	{ "delete", cmd_delete, false },
	{ "incr", cmd_arith, false },
	{ "decr", cmd_arith, false },
	{ "touch", cmd_touch, false },
	{ "flush_all", cmd_flush_all, false },
	{ "stats", cmd_stats, false },
	{ "version", cmd_version, false },
	{ "verbosity", cmd_verbosity, false },
	{ "mg", cmd_meta_get, false },
	{ "ms", cmd_meta_set, false },
	{ "md", cmd_meta_delete, false },
	{ "ma", cmd_meta_arith, false },
	{ "mn", cmd_meta_noop, false },
	{ "me", cmd_meta_debug, false },
};

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Run one command line (NUL-terminated, without its end of line). */
static enum proto_status run_line(struct cmd_ctx *c, char *s, size_t len)
{
	struct line l = { 0 };
	const struct command *cmd;
	char *word;

	c->l = &l;
	if (memchr(s, '\0', len) != NULL) {
		reply(c, "CLIENT_ERROR bad command line format");
		return PROTO_MORE;
	}
	while (*s == ' ')
		s++;
	word = s;
	while (*s != ' ' && *s != '\0')
		s++;
	if (*s == ' ')
		*s++ = '\0';
	if (strcmp(word, "quit") == 0)
		return PROTO_CLOSE;
	cmd = command_find(word);
	if (cmd == NULL) {
		reply(c, "ERROR");
		return PROTO_MORE;
	}
	l.tok[0] = word;
	l.len[0] = strlen(word);
	l.rest = s;
	if (!cmd->keys_follow) {
		tokenize(s, &l);
		if (l.n > MAX_TOKENS) {
			l.noreply = false;
			reply(c, "ERROR");
			return PROTO_MORE;
		}
	}
	cmd->run(c);
	return PROTO_MORE;
}

/* The longest line IN may hold: more for the get family. */
static size_t line_limit(struct evbuffer *in)
{
	char head[16] = { 0 };
	const char *p = head;

	evbuffer_copyout(in, head, sizeof head - 1);
	while (*p == ' ')
		p++;
	if (strncmp(p, "get ", 4) == 0 || strncmp(p, "gets ", 5) == 0 ||
	    strncmp(p, "gat ", 4) == 0 || strncmp(p, "gats ", 5) == 0)
		return GET_LINE_MAX_BYTES;
	return LINE_MAX_BYTES;
}

enum line_outcome { LINE_NONE, LINE_DONE, LINE_CLOSE, LINE_WAIT };

static enum line_outcome next_line(struct cmd_ctx *c, struct evbuffer *in)
{
	size_t eol_len = 0, len, cmd_len, limit = line_limit(in);
	enum proto_status status;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len,
	                                              EVBUFFER_EOL_LF);
	char *s = c->env->line;

	if (eol.pos < 0 || (size_t)eol.pos > limit) {
		if (eol.pos < 0 && evbuffer_get_length(in) <= limit)
			return LINE_NONE;
		c->l = NULL;
		reply(c, "CLIENT_ERROR line too long");
		return LINE_CLOSE;
	}
	len = (size_t)eol.pos;
	evbuffer_copyout(in, s, len);
	cmd_len = len > 0 && s[len - 1] == '\r' ? len - 1 : len;
	s[cmd_len] = '\0';
	status = run_line(c, s, cmd_len);
	if (status != PROTO_CLOSE && command_waiting(c->st))
		return LINE_WAIT; /* mg G, md G keep their line, to run again */
	evbuffer_drain(in, len + eol_len);
	return status == PROTO_CLOSE ? LINE_CLOSE : LINE_DONE;
}

enum proto_status proto_text_process(struct text_state *st,
                                     const struct proto_env *env,
                                     struct evbuffer *in,
                                     struct evbuffer *out, size_t out_limit)
{
	struct cmd_ctx c = { .st = st, .env = env, .out = out };
	enum proto_status status = PROTO_MORE;

	if (command_waiting(st))
		return PROTO_WAIT;
	while (evbuffer_get_length(out) < out_limit) {
		size_t avail = evbuffer_get_length(in);

		if (st->phase == TEXT_SWALLOW) {
			size_t n = avail < st->swallow ? avail : (size_t)st->swallow;

			evbuffer_drain(in, n);
			st->swallow -= n;
			if (st->swallow > 0)
				break;
			st->phase = TEXT_COMMAND;
		} else if (st->phase == TEXT_DATA) {
			if (avail < st->vlen + 2)
				break;
			complete_data(&c, in);
			if (command_waiting(st)) {
				status = PROTO_WAIT; /* ms G */
				break;
			}
		} else {
			enum line_outcome o = next_line(&c, in);

			if (o == LINE_NONE)
				break;
			if (o == LINE_CLOSE) {
				status = PROTO_CLOSE;
				break;
			}
			if (o == LINE_WAIT) {
				status = PROTO_WAIT;
				break;
			}
		}
	}
	return status;
}
