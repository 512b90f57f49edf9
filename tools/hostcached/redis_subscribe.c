/*
 * redis_subscribe.c - the other hosts' changes in: the hosts' channel
 * subscribed and applied, with a flush for what the subscriber may have
 * missed; and --redis-track, Redis's own reports of writes by any of its
 * clients (redis.c tells the whole story; redis_link.h the files).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"

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
	hc_journal_origin(rl.cache, rl.own_origin_id);
	for (unsigned i = 0; i < rl.cfg->redis_ntrack; i++) {
		const char *p = rl.cfg->redis_track[i];
		size_t len = strlen(p);

		if (len <= rl.max_key &&
		    hc_invalidate_prefix(rl.cache, p, len, NULL) != 0)
			log_msg(LOG_ERROR, "redis tracking: dropping prefix '%s': "
			        "%s", p, hc_last_error());
	}
	stat_add(&rl.stats.track_resets, 1);
}

static void on_tracking(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;

	(void)ac;
	(void)arg;
	if (rep == NULL)
		return; /* the connection went: on again when it is back */
	if (rep->type == REDIS_REPLY_ERROR) {
		stat_add(&rl.stats.track_errors, 1);
		log_msg(LOG_ERROR, "redis publisher: CLIENT TRACKING refused: %s; "
		        "--redis-track needs Redis 6 or later, and the tracked "
		        "prefixes are not kept current meanwhile", rep->str);
		return;
	}
	/* The reset first: whoever reads track_on 1 finds it done. */
	track_reset();
	stat_set(&rl.stats.track_on, 1);
	log_msg(LOG_INFO, "redis publisher: Redis tracks %u prefix(es) for "
	        "this host; dropped what they held here", rl.cfg->redis_ntrack);
}

/* Turn tracking on once both connections are up, the first time or again. */
void track_begin(void)
{
	const char *argv[7 + 2 * TRACK_MAX];
	size_t lens[7 + 2 * TRACK_MAX];
	char id[24];
	int n = 0;

	if (rl.cfg->redis_ntrack == 0 || !rl.pub.ready || !rl.sub.ready ||
	    rl.sub_id == 0)
		return;
	snprintf(id, sizeof id, "%lld", rl.sub_id);
	const char *head[] = { "CLIENT", "TRACKING", "on", "REDIRECT", id,
		               "BCAST", "NOLOOP" };

	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		argv[n++] = head[i];
	for (unsigned i = 0; i < rl.cfg->redis_ntrack; i++) {
		argv[n++] = "PREFIX";
		argv[n++] = rl.cfg->redis_track[i];
	}
	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	/* Off first: tracking that is on cannot change its redirection. */
	if (redisAsyncCommand(rl.pub.ac, NULL, NULL, "CLIENT TRACKING off") !=
	        REDIS_OK ||
	    redisAsyncCommandArgv(rl.pub.ac, on_tracking, NULL, n, argv, lens) !=
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
	hc_journal_origin(rl.cache, rl.own_origin_id);
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		int rc;

		if (k->type != REDIS_REPLY_STRING || k->len == 0 ||
		    k->len > rl.max_key)
			continue; /* no key of this segment */
		stat_add(&rl.stats.track_invalidated, 1);
		rc = hc_delete(rl.cache, k->str, k->len);
		if (rc != 0 && rc != HC_ENOTFOUND) {
			stat_add(&rl.stats.apply_errors, 1);
			log_msg(LOG_WARN, "redis tracking: dropping a key Redis "
			        "reported written: %s", hc_last_error());
		}
	}
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
	uint64_t now = clock_ns(CLOCK_REALTIME) / 1000u;
	uint64_t d = now > sent_us ? now - sent_us : 0; /* clocks may differ */
	unsigned b = 0;

	while (b < REDIS_DELAY_BUCKETS - 1 && d > redis_delay_bounds_us[b])
		b++;
	stat_add(&rl.stats.delay_buckets[b], 1);
	stat_add(&rl.stats.delay_count, 1);
	stat_add(&rl.stats.delay_sum_us, d);
	stat_set(&rl.stats.delay_last_us, d);
	if (d > rl.stats.delay_max_us)
		stat_set(&rl.stats.delay_max_us, d);
}

/* Apply another host's change.  A key or prefix longer than this
 * segment's keys can be matches nothing here. */
static int message_apply(const struct message *m)
{
	char tag[257];
	int rc;

	hc_journal_origin(rl.cache, origin_id(m->origin));
	switch (m->kind) {
	case 'K':
		if (m->len > rl.max_key)
			return 0;
		rc = hc_delete(rl.cache, m->data, m->len);
		return rc == HC_ENOTFOUND ? 0 : rc;
	case 'P':
		if (m->len > rl.max_key)
			return 0;
		return hc_invalidate_prefix(rl.cache, m->data, m->len, NULL);
	case 'T':
		if (m->len >= sizeof tag || memchr(m->data, '\0', m->len) != NULL)
			return HC_EINVAL;
		memcpy(tag, m->data, m->len);
		tag[m->len] = '\0';
		return hc_invalidate_tag(rl.cache, tag);
	default: /* F, R */
		return hc_flush(rl.cache);
	}
}

static void message_receive(const char *p, size_t n)
{
	struct message m;
	int rc;

	if (!message_parse(p, n, &m)) {
		stat_add(&rl.stats.bad_messages, 1);
		log_msg(LOG_DEBUG, "redis subscriber: a message not ours "
		        "(%zu bytes), ignored", n);
		return;
	}
	if (strcmp(m.origin, rl.cfg->origin) == 0) {
		if (m.nonce == rl.nonce) {
			stat_add(&rl.stats.own_skipped, 1);
			return;
		}
		if (!rl.warned_twin)
			log_msg(LOG_WARN, "redis subscriber: another hostcached "
			        "publishes as origin '%s' on this channel; give "
			        "each host its own --origin", m.origin);
		rl.warned_twin = true;
	}
	rc = message_apply(&m);
	if (rc != 0) {
		stat_add(&rl.stats.apply_errors, 1);
		log_msg(LOG_WARN, "redis subscriber: applying a change from '%s': "
		        "%s", m.origin, hc_last_error());
	} else if (m.kind == 'R') {
		stat_add(&rl.stats.resyncs_received, 1);
		log_msg(LOG_INFO, "redis subscriber: resync from '%s': flushed",
		        m.origin);
	} else {
		stat_add(&rl.stats.applied, 1);
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

	rl.sub.ready = true;
	link_healthy(&rl.sub);
	stat_set(&rl.stats.link_up, rl.pub.ready);
	hc_journal_origin(rl.cache, rl.own_origin_id); /* not to publish */
	rc = hc_flush(rl.cache);
	if (rc != 0) {
		log_msg(LOG_ERROR, "redis subscriber: flushing after "
		        "subscribing: %s", hc_last_error());
		return;
	}
	stat_add(&rl.stats.local_flushes, 1);
	log_msg(LOG_INFO, "redis subscriber: subscribed to '%s'; flushed what "
	        "this host may have missed", rl.cfg->redis_channel);
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
	         ++rl.sub_confirmed == (rl.cfg->redis_ntrack > 0 ? 2u : 1u))
		subscribed(); /* every channel confirmed */
	else if (rep->type == REDIS_REPLY_ERROR)
		link_drop(&rl.sub, rep->str); /* SUBSCRIBE refused: again later */
}

static void on_client_id(redisAsyncContext *ac, void *reply, void *arg)
{
	redisReply *rep = reply;

	(void)ac;
	(void)arg;
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		rl.sub_id = rep->integer;
}

void subscribe_up(struct link *l)
{
	const char *ch = rl.cfg->redis_channel;
	int rc;

	rl.sub_confirmed = 0;
	if (rl.cfg->redis_ntrack == 0) {
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

