/*
 * conn.c - the connections of one thread: non-blocking sockets under one
 * epoll instance, each keeping --pipeline requests in flight.
 *
 * A connection's requests go into its output buffer and out at once; its
 * replies are checked in the order the requests were sent (memcached
 * answers each connection in order), from a ring of the requests in
 * flight.  A request is timed from the moment it is queued to the moment
 * the read that completes its reply returns, so with a pipeline deeper
 * than one a latency includes the wait behind the replies before it.
 *
 * An error ends its connection: after a wrong reply the byte stream can no
 * longer be trusted.  The phase goes on with the others; the count ends up
 * in the report and in mcload's exit status.  A request without a reply
 * for --timeout seconds is an error too, so that a server that swallows
 * requests cannot hang the run.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

#include "mcload.h"

/* Errors printed in full; the rest are only counted. */
#define ERRORS_SHOWN 10
#define EPOLL_BATCH 64
#define TICK_MS 100
#define CONNECT_RETRY_US 20000

struct conn {
	int fd;                         /* -1 once dead */
	unsigned id;                    /* over all threads, for messages */
	char *out, *in;
	size_t out_len, out_sent, in_len;
	struct request *ring;           /* in flight: count from head */
	unsigned head, count;
	bool want_out;                  /* EPOLLOUT is asked for */
	uint32_t next_opaque;
	uint64_t rng;
	uint64_t to_issue;              /* timed phase: requests left */
	uint64_t warm_next, warm_end;   /* warm phase: keys left */
};

struct worker {
	const struct workload *w;
	const struct options *opt;
	int epfd;
	unsigned nconns;
	struct conn *conns;
	size_t out_cap, in_cap;
	bool warming;
	uint64_t deadline_ns;           /* 0: none */
	struct stats stats;
};

static unsigned errors_shown;       /* over all threads */

static void conn_fail(struct worker *k, struct conn *c, const char *fmt, ...)
{
	k->stats.errors++;
	if (__atomic_fetch_add(&errors_shown, 1, __ATOMIC_RELAXED) <
	    ERRORS_SHOWN) {
		char msg[256];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		fprintf(stderr, "mcload: connection %u: %s\n", c->id, msg);
	}
	close(c->fd);                   /* which also leaves the epoll set */
	c->fd = -1;
	c->count = 0;
}

/* ---- connecting ---------------------------------------------------------- */

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int connect_tcp(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *a;
	int fd = -1, one = 1, rc = getaddrinfo(host, port, &hints, &res);

	if (rc != 0) {
		fprintf(stderr, "mcload: %s:%s: %s\n", host, port,
		        gai_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	for (a = res; a != NULL && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
		            a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			fd = -1;
		}
	}
	freeaddrinfo(res);
	/* Requests are whole in one write; Nagle would only delay them. */
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Connect, retrying for --wait seconds while nothing listens there yet:
 * a server just started may not have bound its socket. */
static int connect_target(const struct options *o)
{
	uint64_t until = kit_now_ns() + (uint64_t)(o->wait * 1e9);

	for (;;) {
		int fd = o->unix_path ? connect_unix(o->unix_path)
		                      : connect_tcp(o->tcp_host, o->tcp_port);

		if (fd >= 0 || (errno != ENOENT && errno != ECONNREFUSED) ||
		    kit_now_ns() >= until)
			return fd;
		usleep(CONNECT_RETRY_US);
	}
}

static int conn_open(struct worker *k, struct conn *c)
{
	const struct options *o = k->opt;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	c->fd = connect_target(o);
	if (c->fd < 0) {
		fprintf(stderr, "mcload: cannot connect to %s%s%s: %s (is the "
		        "server running?)\n", o->unix_path ? o->unix_path :
		        o->tcp_host, o->unix_path ? "" : ":",
		        o->unix_path ? "" : o->tcp_port, strerror(errno));
		return -1;
	}
	c->out = malloc(k->out_cap);
	c->in = malloc(k->in_cap);
	c->ring = calloc(o->pipeline, sizeof *c->ring);
	if (c->out == NULL || c->in == NULL || c->ring == NULL) {
		fprintf(stderr, "mcload: out of memory for connection buffers\n");
		return -1;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0 ||
	    epoll_ctl(k->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		fprintf(stderr, "mcload: connection %u: %s\n", c->id,
		        strerror(errno));
		return -1;
	}
	return 0;
}

struct worker *worker_new(const struct workload *w, unsigned index,
                          unsigned first, unsigned count)
{
	struct worker *k = calloc(1, sizeof *k);

	if (k == NULL)
		return NULL;
	k->w = w;
	k->opt = w->opt;
	k->nconns = count;
	/* Every byte not yet sent belongs to a request in flight. */
	k->out_cap = w->opt->pipeline * w->max_request;
	/* Twice the largest reply: a full buffer holds a whole one. */
	k->in_cap = 2 * w->max_reply > 65536 ? 2 * w->max_reply : 65536;
	k->conns = calloc(count, sizeof *k->conns);
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (k->conns == NULL || k->epfd < 0) {
		fprintf(stderr, "mcload: thread %u: %s\n", index, strerror(errno));
		worker_free(k);
		return NULL;
	}
	for (unsigned i = 0; i < count; i++)
		k->conns[i].fd = -1;
	for (unsigned i = 0; i < count; i++) {
		struct conn *c = &k->conns[i];

		c->id = first + i;
		c->rng = kit_mix64(w->opt->seed * 0x9e3779b97f4a7c15ULL + c->id);
		if (conn_open(k, c) < 0) {
			worker_free(k);
			return NULL;
		}
	}
	return k;
}

void worker_free(struct worker *k)
{
	if (k == NULL)
		return;
	for (unsigned i = 0; k->conns != NULL && i < k->nconns; i++) {
		if (k->conns[i].fd >= 0)
			close(k->conns[i].fd);
		free(k->conns[i].out);
		free(k->conns[i].in);
		free(k->conns[i].ring);
	}
	if (k->epfd >= 0)
		close(k->epfd);
	free(k->conns);
	free(k);
}

const struct stats *worker_stats(const struct worker *k)
{
	return &k->stats;
}

/* ---- sending ------------------------------------------------------------- */

static void conn_flush(struct worker *k, struct conn *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent,
		                 c->out_len - c->out_sent, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_sent += (size_t)n;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (errno != EINTR) {
			conn_fail(k, c, "sending: %s", strerror(errno));
			return;
		}
	}
	bool want = c->out_sent < c->out_len;

	if (want != c->want_out) {
		struct epoll_event ev = {
			.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c
		};

		epoll_ctl(k->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
}

static bool can_issue(const struct worker *k, const struct conn *c,
                      uint64_t now)
{
	if (k->warming)
		return c->warm_next < c->warm_end;
	return c->to_issue > 0 && (k->deadline_ns == 0 || now < k->deadline_ns);
}

static void next_request(struct worker *k, struct conn *c, struct request *r)
{
	if (k->warming) {
		r->op = OP_SET;
		r->key = c->warm_next++;
	} else {
		r->op = kit_rng_unit(&c->rng) < k->opt->get_ratio ? OP_GET
		                                                  : OP_SET;
		r->key = key_next(k->w, &c->rng);
		c->to_issue--;
	}
	r->opaque = c->next_opaque++;
}

/* Top the connection up to --pipeline requests in flight and send them. */
static void conn_fill(struct worker *k, struct conn *c)
{
	unsigned depth = k->opt->pipeline;
	uint64_t now = kit_now_ns();

	if (c->out_sent > 0) {
		c->out_len -= c->out_sent;
		memmove(c->out, c->out + c->out_sent, c->out_len);
		c->out_sent = 0;
	}
	while (c->count < depth && can_issue(k, c, now)) {
		struct request *r = &c->ring[(c->head + c->count) % depth];

		next_request(k, c, r);
		r->sent_ns = now;
		c->out_len += proto_encode(k->w, r, c->out + c->out_len);
		c->count++;
	}
	conn_flush(k, c);
}

/* ---- receiving ----------------------------------------------------------- */

static void reply_done(struct worker *k, const struct request *r, bool hit,
                       uint64_t now)
{
	struct stats *s = &k->stats;

	if (k->warming)
		return;
	s->ops[r->op]++;
	kit_hist_add(&s->hist[r->op], now - r->sent_ns);
	if (r->op == OP_GET) {
		if (hit)
			s->hits++;
		else
			s->misses++;
	}
}

/* Check every complete reply in the input buffer, at time NOW. */
static void conn_parse(struct worker *k, struct conn *c, uint64_t now)
{
	size_t off = 0;
	char err[200];

	while (c->count > 0) {
		struct request *r = &c->ring[c->head];
		bool hit = false;
		long n = proto_check(k->w, r, c->in + off, c->in_len - off, &hit,
		                     err, sizeof err);

		if (n < 0) {
			conn_fail(k, c, "%s", err);
			return;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		reply_done(k, r, hit, now);
		c->head = (c->head + 1) % k->opt->pipeline;
		c->count--;
	}
	if (c->count == 0 && off < c->in_len) {
		conn_fail(k, c, "%zu bytes that answer no request",
		          c->in_len - off);
		return;
	}
	c->in_len -= off;
	memmove(c->in, c->in + off, c->in_len);
	if (c->in_len == k->in_cap)
		conn_fail(k, c, "a reply longer than %zu bytes", k->in_cap);
}

static void conn_read(struct worker *k, struct conn *c)
{
	while (c->fd >= 0) {
		size_t room = k->in_cap - c->in_len;
		ssize_t n = read(c->fd, c->in + c->in_len, room);

		if (n > 0) {
			c->in_len += (size_t)n;
			conn_parse(k, c, kit_now_ns());
			/* A short read emptied the socket: epoll (level-
			 * triggered) says when more comes, and a read that
			 * would only return EAGAIN is saved. */
			if ((size_t)n < room)
				return;
		} else if (n == 0) {
			conn_fail(k, c, "the server closed the connection");
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno != EINTR) {
			conn_fail(k, c, "receiving: %s", strerror(errno));
		}
	}
}

/* ---- phases -------------------------------------------------------------- */

static bool phase_busy(const struct worker *k, uint64_t now)
{
	for (unsigned i = 0; i < k->nconns; i++) {
		const struct conn *c = &k->conns[i];

		if (c->fd >= 0 && (c->count > 0 || can_issue(k, c, now)))
			return true;
	}
	return false;
}

static void check_timeouts(struct worker *k, uint64_t now)
{
	uint64_t limit = (uint64_t)(k->opt->timeout * 1e9);

	for (unsigned i = 0; i < k->nconns; i++) {
		struct conn *c = &k->conns[i];

		if (c->fd >= 0 && c->count > 0 &&
		    now - c->ring[c->head].sent_ns > limit)
			conn_fail(k, c, "no reply in %g s", k->opt->timeout);
	}
}

static void run_phase(struct worker *k)
{
	struct epoll_event ev[EPOLL_BATCH];
	uint64_t now = kit_now_ns(), checked = now;

	for (unsigned i = 0; i < k->nconns; i++)
		if (k->conns[i].fd >= 0)
			conn_fill(k, &k->conns[i]);
	while (phase_busy(k, now)) {
		int n = epoll_wait(k->epfd, ev, EPOLL_BATCH, TICK_MS);

		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c->fd >= 0 && (ev[i].events & EPOLLOUT))
				conn_flush(k, c);
			if (c->fd >= 0 && (ev[i].events & ~EPOLLOUT))
				conn_read(k, c);
			if (c->fd >= 0)
				conn_fill(k, c);
		}
		now = kit_now_ns();
		if (now - checked > TICK_MS * 1000000ULL) {
			check_timeouts(k, now);
			checked = now;
		}
	}
}

void worker_warm(struct worker *k)
{
	uint64_t keys = k->opt->keys, conns = k->opt->conns;

	k->warming = true;
	for (unsigned i = 0; i < k->nconns; i++) {
		struct conn *c = &k->conns[i];

		c->warm_next = keys * c->id / conns;
		c->warm_end = keys * (c->id + 1) / conns;
	}
	run_phase(k);
	k->warming = false;
}

void worker_run(struct worker *k, uint64_t deadline_ns, uint64_t ops)
{
	uint64_t conns = k->opt->conns;

	k->deadline_ns = ops ? 0 : deadline_ns;
	for (unsigned i = 0; i < k->nconns; i++) {
		struct conn *c = &k->conns[i];

		c->to_issue = ops ? ops / conns + (c->id < ops % conns)
		                  : UINT64_MAX;
	}
	run_phase(k);
}
