/*
 * redis_request.c - reading and writing through: requests queued by the
 * request threads (redis_get, redis_set, redis_del) and sent by the Redis
 * thread on the publisher's connection, in order (redis.c tells the whole
 * story; redis_link.h the files).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_link.h"

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

/* ------------------------------------------------------------------ */
/* Reading and writing through (mg G, ms G, md G)                      */

static void get_finish(struct request *q, int status, int64_t pttl_ms)
{
	if (status < 0)
		stat_add(&rl.stats.read_errors, 1);
	q->get_done(q->arg, status, q->value, q->vlen, pttl_ms);
	free(q->value);
	free(q);
}

static void write_finish(struct request *q, int status, const char *why)
{
	if (status < 0)
		stat_add(&rl.stats.write_errors, 1);
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

	stat_add(q->kind == REQ_GET ? &rl.stats.reads : &rl.stats.writes, 1);
	if (!rl.pub.ready) {
		request_fail(q, "the link to Redis is down (see the server's "
		             "log)");
		return;
	}
	switch (q->kind) {
	case REQ_GET:
		if (redisAsyncCommand(rl.pub.ac, on_get_reply, q, "GET %b",
		                      key, q->klen) != REDIS_OK)
			break;
		if (redisAsyncCommand(rl.pub.ac, on_pttl_reply, q, "PTTL %b",
		                      key, q->klen) != REDIS_OK)
			q->alone = true;
		return;
	case REQ_SET:
		rc = q->px_ms > 0
		     ? redisAsyncCommand(rl.pub.ac, on_write_reply, q,
		                         "SET %b %b PX %llu", key, q->klen, val,
		                         q->set_len,
		                         (unsigned long long)q->px_ms)
		     : redisAsyncCommand(rl.pub.ac, on_write_reply, q,
		                         "SET %b %b", key, q->klen, val,
		                         q->set_len);
		if (rc == REDIS_OK)
			return;
		break;
	case REQ_DEL:
		if (redisAsyncCommand(rl.pub.ac, on_write_reply, q, "DEL %b",
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

void requests_wake(evutil_socket_t fd, short what, void *arg)
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
	event_active(rl.get_wake, EV_READ, 1);
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


void requests_close(void)
{
	struct request *q, *next;

	pthread_mutex_lock(&gets.lock);
	gets.closed = true;
	pthread_mutex_unlock(&gets.lock);
	for (q = gets_take(); q != NULL; q = next) {
		next = q->next;
		request_fail(q, "hostcached is stopping");
	}
}
