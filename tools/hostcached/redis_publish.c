/*
 * redis_publish.c - this host's changes out to the other hosts: the
 * journal tailed and PUBLISHed, a RESYNC for every gap, the publisher's
 * health PING (redis.c tells the whole story; redis_link.h the files).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

static void on_published(redisAsyncContext *ac, void *reply, void *resync)
{
	redisReply *rep = reply;

	(void)ac;
	rl.in_flight--;
	stat_set(&rl.stats.in_flight, rl.in_flight);
	if (rep == NULL)
		return; /* the connection went: link_down asks for a resync */
	if (rep->type == REDIS_REPLY_ERROR) {
		stat_add(&rl.stats.publish_errors, 1);
		/* Start again from a new connection, after the backoff (not
		 * at every tick), with a resync. */
		link_drop(&rl.pub, rep->str);
		return;
	}
	stat_add(resync ? &rl.stats.resyncs_sent : &rl.stats.published, 1);
	link_healthy(&rl.pub);
}

/* PUBLISH one message; false when it could not even be queued (then a
 * resync is due: something went unsaid). */
static bool message_publish(char kind, const void *data, size_t len,
                            uint64_t stamp_us, bool resync)
{
	char msg[MESSAGE_MAX];
	int h = snprintf(msg, HEADER_MAX, MESSAGE_VERSION " %s %016" PRIx64
	                 " %c %" PRIu64 " %" PRIu64 "\n", rl.cfg->origin, rl.nonce,
	                 kind, clock_ns(CLOCK_REALTIME) / 1000u, stamp_us);

	if (rl.pub.ac == NULL || h <= 0 || h >= HEADER_MAX ||
	    len > MESSAGE_MAX - (size_t)h) {
		rl.need_resync = true;
		return false;
	}
	if (len > 0)
		memcpy(msg + h, data, len);
	if (redisAsyncCommand(rl.pub.ac, on_published, resync ? &rl : NULL,
	                      "PUBLISH %b %b", rl.cfg->redis_channel,
	                      strlen(rl.cfg->redis_channel), msg,
	                      (size_t)h + len) != REDIS_OK) {
		stat_add(&rl.stats.publish_errors, 1);
		rl.need_resync = true;
		return false;
	}
	rl.in_flight++;
	stat_set(&rl.stats.in_flight, rl.in_flight);
	return true;
}

/* Count what the cursor lost since we last looked; true when it grew. */
static bool lost_note(void)
{
	uint64_t lost = rl.cursor.lost - rl.lost_seen;

	if (lost == 0)
		return false;
	stat_add(&rl.stats.journal_lost, lost);
	rl.lost_seen = rl.cursor.lost;
	return true;
}

/* Skip what the journal holds now (the RESYNC covers it), then publish
 * the RESYNC. */
static void resync_send(void)
{
	for (uint64_t i = 0; i <= rl.njournal / BATCH + 1; i++)
		if (hc_journal_read(rl.cache, &rl.cursor, rl.batch, BATCH) < BATCH)
			break;
	lost_note();
	if (message_publish('R', NULL, 0, 0, true)) {
		rl.need_resync = false;
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
		rl.need_resync = true; /* a change we cannot describe */
		return;
	}
	message_publish(kind, e->data, e->len, e->stamp_us, false);
}

static void journal_publish(void)
{
	for (int round = 0; round < TICK_ROUNDS; round++) {
		if (rl.need_resync)
			resync_send();
		if (rl.pub.ac == NULL || rl.in_flight >= IN_FLIGHT_MAX)
			return; /* the ring may overrun meanwhile: a resync then */
		long n = hc_journal_read(rl.cache, &rl.cursor, rl.batch, BATCH);

		if (n < 0) {
			log_msg(LOG_ERROR, "redis publisher: reading the journal: %s",
			        hc_last_error());
			return;
		}
		if (lost_note()) {
			log_msg(LOG_WARN, "redis publisher: the journal overran "
			        "(%" PRIu64 " entries lost in all); resyncing",
			        rl.lost_seen);
			rl.need_resync = true;
		}
		for (long i = 0; i < n; i++)
			if (rl.batch[i].origin == 0) /* local; not applied by us */
				entry_publish(&rl.batch[i]);
		if (n < BATCH) {
			if (rl.need_resync)
				resync_send();
			return;
		}
	}
}

void publish_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (rl.pub.ready)
		journal_publish();
	drain_poll(rl.pub.ready ? rl.pub.ac : NULL);
}

/* A write-behind record landed in Redis: tell the other hosts once more,
 * as one of them may have read the older value from Redis since the
 * set's own invalidation (drain.c). */
void drain_landed(const void *key, size_t klen)
{
	message_publish('K', key, klen, 0, false);
}

void publish_up(struct link *l)
{
	l->ready = true;
	rl.need_resync = true; /* changes made while we could not publish */
	stat_set(&rl.stats.link_up, rl.sub.ready);
	journal_publish();
	track_begin();
}

static void on_pong(redisAsyncContext *ac, void *reply, void *arg)
{
	(void)ac;
	(void)reply;
	(void)arg;
	rl.ping_sent_ms = 0;
}

void publish_health(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = monotonic_ns() / 1000000u;

	(void)fd;
	(void)what;
	(void)arg;
	if (!rl.pub.ready)
		return;
	if (rl.ping_sent_ms != 0) {
		if (now - rl.ping_sent_ms >= HEALTH_TIMEOUT_MS) {
			link_drop(&rl.pub, "no answer to PING for 3 s");
			link_drop(&rl.sub, "the publisher's connection hung");
		}
		return;
	}
	if (redisAsyncCommand(rl.pub.ac, on_pong, NULL, "PING") == REDIS_OK)
		rl.ping_sent_ms = now;
}

