/*
 * writethrough.c - ms and md with G: Redis first, then this host.
 *
 * "ms KEY S T60 G" sends SET KEY VALUE PX 60000 to Redis (the Redis
 * thread, redis_set) and stores the value here only once Redis answered
 * OK; "md KEY G" sends DEL KEY, then deletes here.  The local write
 * journals as any write does, so the other hosts drop their copies.  The
 * order is the point: the copy on this host never holds what Redis does
 * not, so a reader here never sees a value that a reader of Redis could
 * not (a write-through cache, Redis the record).
 *
 * When Redis refuses, is down, or loses the connection before answering,
 * the command gets SERVER_ERROR with the reason, and the key's local copy
 * is deleted (proto_meta.c): an unanswered SET may have been done, and
 * the old local value would then be older than Redis's.
 *
 * The request thread never waits, as for mg G (readthrough.c): the
 * command parks.  Its bytes stay in the connection's input (the ms's
 * data block, the md's line), the connection reads and runs nothing more
 * meanwhile, so replies keep their order, and once Redis answered the
 * command runs again and finds the answer here.  The Redis thread's
 * answer comes back through an event on the worker's base (event_active;
 * libevent's lock orders the answer's stores before the callback reads
 * them).
 *
 * Ownership.  A write_through belongs to its connection's text_state
 * and is freed on the worker thread only, by the command that consumes
 * its answer.  A connection that closes while Redis has not answered
 * leaves it behind (st NULL); the answer's event then deletes the key's
 * local copy (Redis may hold the new value, this host has the old one)
 * and frees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "proto.h"

struct write_through {
	struct text_state *st;      /* NULL: its connection closed */
	const struct proto_env *env;
	struct event *ev;           /* the answer */
	bool parked;                /* Redis was asked, has not answered */
	/* the answer, written by the Redis thread before EV fires */
	int status;                 /* redis_write_done's */
	char why[160];
	size_t klen;
	char key[251];
};

static void wt_free(struct write_through *wt)
{
	if (wt->st != NULL)
		wt->st->write_through = NULL;
	event_free(wt->ev);
	free(wt);
}

/* The worker's side of EV: Redis answered. */
static void wt_wake(evutil_socket_t fd, short what, void *arg)
{
	struct write_through *wt = arg;

	(void)fd;
	(void)what;
	if (wt->st == NULL) { /* its connection closed meanwhile */
		store_delete(wt->env->store, wt->key, wt->klen);
		wt_free(wt);
		return;
	}
	wt->parked = false;
	wt->env->resume(wt->st);
}

/* The Redis thread's side: keep the answer, wake the worker. */
static void wt_answer(void *arg, int status, const char *why)
{
	struct write_through *wt = arg;

	wt->status = status;
	snprintf(wt->why, sizeof wt->why, "%s", why != NULL ? why : "");
	event_active(wt->ev, EV_TIMEOUT, 1);
}

static struct write_through *wt_new(struct cmd_ctx *c, const void *key,
                                    size_t klen)
{
	struct write_through *wt = calloc(1, sizeof *wt);

	if (wt == NULL)
		return NULL;
	wt->ev = event_new(c->env->base, -1, 0, wt_wake, wt);
	if (wt->ev == NULL || klen > sizeof wt->key) {
		if (wt->ev != NULL)
			event_free(wt->ev);
		free(wt);
		return NULL;
	}
	wt->st = c->st;
	wt->env = c->env;
	wt->klen = klen;
	memcpy(wt->key, key, klen);
	c->st->write_through = wt;
	return wt;
}

enum write_through_outcome write_through(struct cmd_ctx *c,
                                         const struct write_through_req *w,
                                         int *status, char *why, size_t cap)
{
	struct write_through *wt = c->st->write_through;

	if (wt != NULL) { /* the command runs again: Redis answered */
		*status = wt->status;
		snprintf(why, cap, "%s", wt->why);
		wt_free(wt);
		return *status < 0 ? WT_FAILED : WT_DONE;
	}
	if ((wt = wt_new(c, w->key, w->klen)) == NULL) {
		snprintf(why, cap, "out of memory");
		*status = -1;
		return WT_FAILED;
	}
	wt->parked = true;
	/* The answer may come at once (the link is off): parked stays
	 * true until the event runs, after this command returned. */
	if (w->del)
		redis_del(w->key, w->klen, wt_answer, wt);
	else
		redis_set(w->key, w->klen, w->val, w->vlen, w->ttl_ms,
		          wt_answer, wt);
	return WT_WAIT;
}

bool write_through_waiting(const struct text_state *st)
{
	return st->write_through != NULL && st->write_through->parked;
}

void write_through_closed(struct text_state *st)
{
	struct write_through *wt = st->write_through;

	if (wt == NULL)
		return;
	st->write_through = NULL;
	wt->st = NULL;
	if (!wt->parked) {
		/* Answered, and the command did not run again to take it:
		 * the event has fired already, so the orphan's cleanup is
		 * ours. */
		store_delete(wt->env->store, wt->key, wt->klen);
		wt_free(wt);
	}
	/* else the answer's event frees it (wt_wake) */
}
