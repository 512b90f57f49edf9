/*
 * readthrough.c - mg with G: a miss read from Redis under the library's
 * lease, so that one client on this host asks Redis once per key.
 *
 * "mg KEY v t G" on a hit is a plain mg.  On a miss the worker asks
 * hc_get_or_lease (never waiting):
 *
 *   - granted the lease (or the lease table is full): it asks the Redis
 *     thread for GET and PTTL of KEY (redis_get), stores the value with
 *     that TTL by hc_lease_fill (stamped with the grant, so that a flush,
 *     tag or prefix invalidation meanwhile wins; a delete of the key,
 *     such as another host's change applied here, does not: the fill may
 *     then keep the value Redis had before, until its TTL), journaled as
 *     not to publish (the other hosts' copies are not older), and serves
 *     the mg as usual: a hit now, or EN when Redis has no such key;
 *   - another client holds the lease: it looks again every millisecond,
 *     until the value is there, the lease comes free (then it may win it),
 *     or READ_LEASE_MS pass (then EN);
 *   - Redis does not answer (down, refusing): SERVER_ERROR, and the lease
 *     is given back.
 *
 * The request thread never waits: the command parks.  Its line stays in
 * the connection's input (proto_text.c reads it again once the command
 * can go on), and the connection reads and runs nothing more meanwhile,
 * so replies keep their order.  The Redis thread's answer comes back
 * through an event on the worker's base (event_active; libevent's lock
 * orders the answer's stores before the callback reads them).
 *
 * Ownership.  A read_through belongs to its connection's text_state,
 * and is freed on the worker thread only.  Once Redis is asked, only the
 * answer's event may free it: a connection that closes meanwhile leaves
 * it behind (st NULL), and the event frees it and gives the lease back.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "proto.h"

#define READ_LEASE_MS 5000      /* a read through may take this long */
#define LOOK_AGAIN_US 1000      /* how often a waiting client looks */

struct read_through {
	struct text_state *st;      /* NULL: its connection closed */
	const struct proto_env *env;
	struct event *ev;           /* the answer, or the next look */
	hc_lease lease;
	bool asked;                 /* Redis was asked; the answer frees us */
	bool parked;                /* the command waits for EV */
	uint64_t deadline_ns;       /* a waiting client gives up then */
	/* the answer, written by the Redis thread before EV fires */
	int status;                 /* 0 a value, 1 Redis has none, -1 */
	char *value;
	size_t vlen;
	int64_t pttl_ms;
};

static void rt_free(struct read_through *rt)
{
	if (rt->st != NULL)
		rt->st->read_through = NULL;
	event_free(rt->ev);
	free(rt->value);
	free(rt);
}

/* The worker's side of EV: the answer came, or it is time to look. */
static void rt_wake(evutil_socket_t fd, short what, void *arg)
{
	struct read_through *rt = arg;

	(void)fd;
	(void)what;
	if (rt->st == NULL) { /* its connection closed meanwhile */
		if (rt->lease.held)
			hc_lease_abandon(rt->env->store->cache, &rt->lease);
		rt_free(rt);
		return;
	}
	rt->parked = false;
	rt->env->resume(rt->st);
}

/* The Redis thread's side: keep the answer, wake the worker. */
static void rt_answer(void *arg, int status, const char *value, size_t vlen,
                      int64_t pttl_ms)
{
	struct read_through *rt = arg;

	if (status == 0 && (rt->value = malloc(vlen > 0 ? vlen : 1)) == NULL)
		status = -1;
	if (status == 0)
		memcpy(rt->value, value, vlen);
	rt->vlen = vlen;
	rt->pttl_ms = pttl_ms;
	rt->status = status;
	event_active(rt->ev, EV_TIMEOUT, 1);
}

static struct read_through *rt_new(struct cmd_ctx *c)
{
	struct read_through *rt = calloc(1, sizeof *rt);

	if (rt == NULL)
		return NULL;
	rt->ev = event_new(c->env->base, -1, 0, rt_wake, rt);
	if (rt->ev == NULL) {
		free(rt);
		return NULL;
	}
	rt->st = c->st;
	rt->env = c->env;
	rt->deadline_ns = monotonic_ns() + READ_LEASE_MS * 1000000ull;
	c->st->read_through = rt;
	return rt;
}

/* Redis answered: store what it said under the lease, then go on. */
static enum read_through_outcome rt_store(struct read_through *rt,
                                          const void *key, size_t klen)
{
	hc_cache *cache = rt->env->store->cache;
	int status = rt->status;

	if (status == 0) {
		/* PTTL: -1 no expiry; 0 (due now) still a millisecond. */
		hc_set_options o = { .ttl_ms = rt->pttl_ms < 0 ? 0
		                               : rt->pttl_ms == 0 ? 1
		                               : (uint64_t)rt->pttl_ms };
		/* The value came from Redis: the other hosts have nothing to
		 * drop, so the fill is journaled as not to publish (else two
		 * hosts reading one key would evict each other's copy). */
		hc_journal_origin(cache, redis_own_origin());
		int rc = rt->lease.held
		         ? hc_lease_fill(cache, &rt->lease, key, klen, rt->value,
		                         rt->vlen, &o)
		         : hc_set_ex(cache, key, klen, rt->value, rt->vlen, &o);

		hc_journal_origin(cache, 0);
		if (rc != 0 && rc != HC_ENOLEASE)
			log_msg(LOG_WARN, "mg G: storing what Redis answered: %s",
			        hc_last_error());
	} else if (rt->lease.held) {
		hc_lease_abandon(cache, &rt->lease);
	}
	rt_free(rt);
	return status < 0 ? RT_FAILED : RT_GO_ON;
}

enum read_through_outcome read_through(struct cmd_ctx *c, const void *key,
                                       size_t klen)
{
	struct store *s = c->env->store;
	struct read_through *rt = c->st->read_through;
	struct timeval look = { 0, LOOK_AGAIN_US };
	hc_item_info info;
	int rc;

	if (rt != NULL && rt->asked)
		return rt_store(rt, key, klen);
	if (rt == NULL && (rt = rt_new(c)) == NULL)
		return RT_FAILED;
	rc = hc_get_or_lease(s->cache, key, klen, s->scratch, s->value_cap,
	                     &info, READ_LEASE_MS, 0, &rt->lease);
	if (rc == HC_ENOTFOUND) {
		/* Ours to read (or no room to lease: read it anyway). */
		rt->asked = rt->parked = true;
		redis_get(key, klen, rt_answer, rt);
		return RT_WAIT;
	}
	if (rc == HC_ETIMEDOUT && monotonic_ns() < rt->deadline_ns) {
		rt->parked = true; /* another client reads it: look again */
		evtimer_add(rt->ev, &look);
		return RT_WAIT;
	}
	/* A hit (a stale one is not ours to refresh), a negative entry, a
	 * wait given up, a bad key: the plain mg says what it is. */
	if (rt->lease.held)
		hc_lease_abandon(s->cache, &rt->lease);
	rt_free(rt);
	return RT_GO_ON;
}

bool read_through_waiting(const struct text_state *st)
{
	return st->read_through != NULL && st->read_through->parked;
}

void read_through_closed(struct text_state *st)
{
	struct read_through *rt = st->read_through;

	if (rt == NULL)
		return;
	st->read_through = NULL;
	rt->st = NULL;
	if (!rt->asked)
		rt_free(rt); /* only a look pending: ours to cancel */
	/* else the answer's event frees it (rt_wake) */
}
