/*
 * server.c - listeners, worker threads and connections.
 *
 * The main thread's event base holds the listeners (a unix socket, and
 * TCP on 127.0.0.1 when --port is given) and the signal events.  Each
 * accepted descriptor goes to the next worker round robin, written as an
 * int into the worker's pipe (atomic: fewer than PIPE_BUF bytes).  A
 * worker owns its event base, its connections, its attachment to the
 * segment and its buffers; nothing else touches them.  A connection's
 * first byte picks its protocol for good, as memcached does: 0x80 (a
 * binary request's magic) the binary protocol, anything else the text one.
 * With --metrics-port the main thread's base also serves HTTP /metrics.
 *
 * A connection is a descriptor with two events: readable, armed while it
 * is read (a request costs one read, one writev and its share of an
 * epoll_wait, no epoll_ctl; reading stops while its output is full, while
 * a command waits on Redis, and at its end), and writable, armed only
 * while a reply waits for room in the socket.  A request that fills the
 * input bound behind a waiting command is judged once that command has
 * answered; so is the end of the stream.
 *
 * Bounds per connection.  Input: reading stops at read_high bytes, room
 * for the largest data block and the longest line; a request that fills
 * it without the protocol taking any of it closes the connection.  Output:
 * once a connection's replies reach OUT_LIMIT bytes it is no longer read
 * (so a client that never reads its replies stops being served, and
 * costs at most OUT_LIMIT plus one reply); it is read again when the
 * output drains to half that.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "hostcached.h"

#define OUT_LIMIT (4u << 20)
#define LISTEN_BACKLOG 1024
#define READ_CHUNK (16u << 10)

void (*server_on_reload)(void);

struct conn {
	int fd;
	struct event *rev, *wev;   /* readable (kept armed), writable */
	struct evbuffer *in, *out;
	size_t read_high;          /* input bound */
	struct worker *w;
	/* Which protocol it speaks, from its first byte, as memcached. */
	enum { WIRE_UNKNOWN, WIRE_TEXT, WIRE_BINARY } wire;
	struct text_state st;
	struct binary_state bst;
	struct conn *prev, *next;
	bool reading, writing;     /* rev, wev armed */
	bool paused;               /* not read: its output is full */
	bool parked;               /* not read: a command waits (mg/ms/md G) */
	bool eof;                  /* the client closed its side */
	bool closing;              /* flushing its last replies */
};

struct worker {
	pthread_t thread;
	bool started;
	struct server *srv;
	struct event_base *base;
	int notify_recv, notify_send;
	struct event *notify_event;
	struct store store;
	struct proto_env env;
	struct conn *conns;
};

struct server {
	const struct hcd_config *cfg;
	struct event_base *base;
	struct evconnlistener *unix_listener, *tcp_listener;
	struct event *signals[3];
	struct worker *workers;
	unsigned nworkers, next_worker;
	struct server_counters counters;
	struct worker_counters *worker_counters;  /* one per worker */
	struct metrics *metrics;                  /* NULL: no --metrics-port */
	time_t started;
	bool socket_created;
};

/* ------------------------------------------------------------------ */
/* Connections (worker threads)                                        */

/* C's events and buffers, whichever were made. */
static void conn_parts_free(struct conn *c)
{
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->in != NULL)
		evbuffer_free(c->in);
	if (c->out != NULL)
		evbuffer_free(c->out);
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;

	if (c->wire == WIRE_TEXT)
		proto_text_closed(&c->st, &w->env);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	conn_parts_free(c);
	close(c->fd);
	free(c);
	__atomic_fetch_sub(&w->srv->counters.curr_connections, 1,
	                   __ATOMIC_RELAXED);
}

static void conn_reading(struct conn *c, bool on)
{
	if (on != c->reading) {
		c->reading = on;
		if (on)
			event_add(c->rev, NULL);
		else
			event_del(c->rev);
	}
}

/* Write what the socket takes of C's replies; the rest waits for the
 * socket to be writable (the only time the write event is armed).
 * Returns true when C is freed. */
static bool conn_flush(struct conn *c)
{
	size_t left = evbuffer_get_length(c->out);

	if (left > 0 && evbuffer_write(c->out, c->fd) < 0 &&
	    errno != EAGAIN && errno != EINTR) {
		conn_free(c);
		return true;
	}
	left = evbuffer_get_length(c->out);
	if (left == 0 && c->closing) {
		conn_free(c);
		return true;
	}
	if ((left > 0) != c->writing) {
		c->writing = left > 0;
		if (c->writing)
			event_add(c->wev, NULL);
		else
			event_del(c->wev);
	}
	return false;
}

/* Stop reading; free the connection once its replies are written.
 * Returns true when C is already freed. */
static bool conn_close_after_write(struct conn *c)
{
	c->closing = true;
	conn_reading(c, false);
	return conn_flush(c);
}

/* Run the commands that have come, and write the replies now (left to a
 * write event they would wait for another turn of the event loop).
 * Returns true when C is freed. */
static bool conn_process(struct conn *c)
{
	enum proto_status status;
	size_t in_before, out_before;
	unsigned char first;

	if (c->wire == WIRE_UNKNOWN) {
		if (evbuffer_copyout(c->in, &first, 1) != 1)
			return false;
		c->wire = first == 0x80 ? WIRE_BINARY : WIRE_TEXT;
	}
	in_before = evbuffer_get_length(c->in);
	out_before = evbuffer_get_length(c->out);
	if (c->wire == WIRE_BINARY)
		status = proto_binary_process(&c->bst, &c->w->env, c->in, c->out,
		                              OUT_LIMIT);
	else
		status = proto_text_process(&c->st, &c->w->env, c->in, c->out,
		                            OUT_LIMIT);
	counter_add(&c->w->env.counters->bytes_read,
	            in_before - evbuffer_get_length(c->in));
	counter_add(&c->w->env.counters->bytes_written,
	            evbuffer_get_length(c->out) - out_before);
	if (status == PROTO_CLOSE)
		return conn_close_after_write(c);
	c->parked = status == PROTO_WAIT;
	if (c->parked)
		conn_reading(c, false); /* until conn_resume */
	if (conn_flush(c))
		return true;
	if (evbuffer_get_length(c->out) >= OUT_LIMIT && !c->paused) {
		c->paused = true;
		conn_reading(c, false);
	}
	return false;
}

/* Read into C's input up to its bound.  A read that does not fill the
 * space offered means the socket is drained: no second read to learn it
 * from EAGAIN.  Returns 1 data came, 0 nothing new, -1 end of stream or
 * an error (errno 0 for the end). */
static int conn_fill(struct conn *c)
{
	bool got = false;

	for (;;) {
		size_t have = evbuffer_get_length(c->in), want = READ_CHUNK;
		struct evbuffer_iovec v;
		ssize_t n;

		if (have >= c->read_high)
			return got;
		if (want > c->read_high - have)
			want = c->read_high - have;
		if (evbuffer_reserve_space(c->in, (ev_ssize_t)want, &v, 1) < 1)
			return got;
		if (v.iov_len > want)
			v.iov_len = want;
		n = read(c->fd, v.iov_base, v.iov_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? got : -1;
		}
		if (n == 0) {
			errno = 0;
			return -1;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(c->in, &v, 1);
		got = true;
		if ((size_t)n < want)
			return 1;
	}
}

/* After C's commands ran (C not freed): at the end of its stream, or
 * with a request that fills the input bound, it goes; but a parked
 * command answers first (conn_resume comes back here). */
static void conn_after(struct conn *c)
{
	if (c->closing || c->parked)
		return;
	if (c->eof) /* answered, now go */
		conn_close_after_write(c);
	else if (evbuffer_get_length(c->in) >= c->read_high && !c->paused)
		conn_free(c); /* a request larger than any the protocol takes */
}

/* A command of the connection whose text state is ST waited (mg G) and
 * can go on: run it and what came after it, and read again. */
static void conn_resume(struct text_state *st)
{
	struct conn *c = (struct conn *)((char *)st - offsetof(struct conn, st));

	if (!c->paused && !c->closing && !c->eof)
		conn_reading(c, true);
	/* Which stops reading again if a command waits again. */
	if (!conn_process(c))
		conn_after(c);
}

static void conn_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int rc = conn_fill(c);

	(void)fd;
	(void)what;
	if (rc < 0 && errno != 0) {
		conn_free(c);
		return;
	}
	if (rc < 0) {
		c->eof = true;
		conn_reading(c, false);
	}
	if ((rc != 0 || evbuffer_get_length(c->in) > 0) && conn_process(c))
		return;
	conn_after(c);
}

static void conn_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (conn_flush(c))
		return;
	if (c->paused && !c->closing &&
	    evbuffer_get_length(c->out) <= OUT_LIMIT / 2) {
		c->paused = false;
		conn_reading(c, !c->eof && !c->parked);
		if (!conn_process(c))
			conn_after(c);
	}
}

static void conn_new(struct worker *w, int fd)
{
	struct conn *c = calloc(1, sizeof *c);

	if (c != NULL) {
		c->fd = fd;
		c->w = w;
		c->read_high = w->store.value_cap + 2 + GET_LINE_MAX_BYTES + 4096;
		c->in = evbuffer_new();
		c->out = evbuffer_new();
		c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST,
		                   conn_readable, c);
		c->wev = event_new(w->base, fd, EV_WRITE | EV_PERSIST,
		                   conn_writable, c);
	}
	if (c == NULL || c->in == NULL || c->out == NULL || c->rev == NULL ||
	    c->wev == NULL || evutil_make_socket_nonblocking(fd) != 0) {
		log_msg(LOG_WARN, "out of memory for a new connection; closed");
		if (c != NULL)
			conn_parts_free(c);
		free(c);
		close(fd);
		__atomic_fetch_sub(&w->srv->counters.curr_connections, 1,
		                   __ATOMIC_RELAXED);
		return;
	}
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	conn_reading(c, true);
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */

static void worker_take_fds(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int fds[64];
	ssize_t n;

	(void)what;
	while ((n = read(fd, fds, sizeof fds)) > 0)
		for (ssize_t i = 0; i < n / (ssize_t)sizeof fds[0]; i++)
			conn_new(w, fds[i]);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	while (w->conns != NULL)
		conn_free(w->conns);
	return NULL;
}

static int worker_attach(struct worker *w, const struct hcd_config *cfg)
{
	hc_info info;
	int rc = hc_open(cfg->name, &w->store.cache);

	if (rc == 0)
		rc = hc_info_get(w->store.cache, &info);
	if (rc != 0) {
		log_msg(LOG_ERROR, "segment '%s': attaching a worker: %s; give "
		        "fewer --threads or more --max-procs", cfg->name,
		        hc_last_error());
		return -1;
	}
	w->store.value_cap = info.max_value;
	w->store.key_max = info.max_key < 250 ? info.max_key : 250;
	w->store.scratch = malloc(w->store.value_cap);
	w->env.value = malloc(w->store.value_cap + 2);
	w->env.line = malloc(GET_LINE_MAX_BYTES + 1);
	w->env.scratch_out = evbuffer_new();
	if (w->store.scratch == NULL || w->env.value == NULL ||
	    w->env.line == NULL || w->env.scratch_out == NULL) {
		log_msg(LOG_ERROR, "out of memory for a worker's buffers");
		return -1;
	}
	return 0;
}

static int worker_init(struct server *srv, struct worker *w)
{
	int pipefd[2];

	w->srv = srv;
	w->notify_recv = w->notify_send = -1;
	if (worker_attach(w, srv->cfg) != 0)
		return -1;
	w->env.store = &w->store;
	w->env.conns = &srv->counters;
	w->env.counters = &srv->worker_counters[w - srv->workers];
	w->env.all = srv->worker_counters;
	w->env.cfg = srv->cfg;
	w->env.started = srv->started;
	w->env.threads = srv->nworkers;
	w->env.resume = conn_resume;
	w->base = event_base_new();
	w->env.base = w->base;
	if (w->base == NULL || pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_msg(LOG_ERROR, "creating a worker's event base: %s",
		        strerror(errno));
		return -1;
	}
	w->notify_recv = pipefd[0];
	w->notify_send = pipefd[1];
	w->notify_event = event_new(w->base, w->notify_recv, EV_READ | EV_PERSIST,
	                            worker_take_fds, w);
	if (w->notify_event == NULL || event_add(w->notify_event, NULL) != 0)
		return -1;
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		log_msg(LOG_ERROR, "starting a worker thread: %s",
		        strerror(errno));
		return -1;
	}
	w->started = true;
	return 0;
}

static void worker_stop(struct worker *w)
{
	if (w->started) {
		event_base_loopexit(w->base, NULL);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
}

static void worker_free(struct worker *w)
{
	if (w->srv == NULL)
		return;  /* never initialised */
	if (w->notify_event != NULL)
		event_free(w->notify_event);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->notify_recv >= 0)
		close(w->notify_recv);
	if (w->notify_send >= 0)
		close(w->notify_send);
	if (w->env.scratch_out != NULL)
		evbuffer_free(w->env.scratch_out);
	free(w->store.scratch);
	free(w->env.value);
	free(w->env.line);
	if (w->store.cache != NULL)
		hc_close(w->store.cache);
}

/* ------------------------------------------------------------------ */
/* Listeners (main thread)                                             */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *addr, int len, void *arg)
{
	static const char busy[] = "SERVER_ERROR too many open connections\r\n";
	struct server *srv = arg;
	struct worker *w;
	uint64_t now;
	int one = 1;

	(void)l;
	(void)len;
	now = __atomic_add_fetch(&srv->counters.curr_connections, 1,
	                         __ATOMIC_RELAXED);
	if (now > srv->cfg->max_conns) {
		__atomic_fetch_sub(&srv->counters.curr_connections, 1,
		                   __ATOMIC_RELAXED);
		__atomic_fetch_add(&srv->counters.rejected_connections, 1,
		                   __ATOMIC_RELAXED);
		if (write(fd, busy, sizeof busy - 1) < 0)
			log_msg(LOG_DEBUG, "telling a rejected client: %s",
			        strerror(errno));
		close(fd);
		return;
	}
	__atomic_fetch_add(&srv->counters.total_connections, 1,
	                   __ATOMIC_RELAXED);
	if (addr->sa_family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	w = &srv->workers[srv->next_worker++ % srv->nworkers];
	if (write(w->notify_send, &fd, sizeof fd) != (ssize_t)sizeof fd) {
		log_msg(LOG_WARN, "handing a connection to a worker: %s; closed",
		        strerror(errno));
		__atomic_fetch_sub(&srv->counters.curr_connections, 1,
		                   __ATOMIC_RELAXED);
		close(fd);
	}
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and the like: the connection waits in the backlog. */
	log_msg(LOG_WARN, "accepting a connection: %s",
	        strerror(EVUTIL_SOCKET_ERROR()));
}

/* Whether a server answers on the unix socket PATH. */
static bool socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return false;
	used = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	close(fd);
	return used;
}

/* Make room for the socket at PATH: a stale socket is removed, anything
 * else is refused. */
static int socket_path_free(const struct sockaddr_un *sun)
{
	const char *path = sun->sun_path;
	struct stat st;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_msg(LOG_ERROR, "socket %s: exists and is not a socket; "
		        "remove it or give another --socket", path);
		return -1;
	}
	if (socket_in_use(sun)) {
		log_msg(LOG_ERROR, "socket %s: another server answers on it; "
		        "stop it or give another --socket", path);
		return -1;
	}
	log_msg(LOG_INFO, "socket %s: removing a stale socket", path);
	unlink(path);
	return 0;
}

static int listen_unix(struct server *srv)
{
	const struct hcd_config *cfg = srv->cfg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, rc;

	strcpy(sun.sun_path, cfg->socket_path);
	if (socket_path_free(&sun) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* The socket is born with its mode: no window where it is open to
	 * more users than asked.  Single-threaded here, so the umask is
	 * ours to change. */
	old_umask = umask(~(mode_t)cfg->socket_mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old_umask);
	if (rc != 0)
		goto fail;
	srv->socket_created = true;
	srv->unix_listener = evconnlistener_new(srv->base, on_accept, srv,
	                                        LEV_OPT_CLOSE_ON_FREE |
	                                        LEV_OPT_CLOSE_ON_EXEC,
	                                        LISTEN_BACKLOG, fd);
	if (srv->unix_listener == NULL)
		goto fail;
	evconnlistener_set_error_cb(srv->unix_listener, on_accept_error);
	log_msg(LOG_INFO, "listening on %s", cfg->socket_path);
	return 0;
fail:
	log_msg(LOG_ERROR, "socket %s: %s; create its directory or give "
	        "another --socket", cfg->socket_path, strerror(errno));
	if (fd >= 0 && srv->unix_listener == NULL)
		close(fd);
	return -1;
}

static int listen_tcp(struct server *srv)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)srv->cfg->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	srv->tcp_listener = evconnlistener_new_bind(
		srv->base, on_accept, srv,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		LISTEN_BACKLOG, (struct sockaddr *)&sin, sizeof sin);
	if (srv->tcp_listener == NULL) {
		log_msg(LOG_ERROR, "TCP 127.0.0.1:%u: %s; give another --port",
		        srv->cfg->port, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(srv->tcp_listener, on_accept_error);
	log_msg(LOG_INFO, "listening on 127.0.0.1:%u", srv->cfg->port);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Signals and the server's life                                       */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		if (server_on_reload != NULL)
			server_on_reload();
		return;
	}
	log_msg(LOG_INFO, "SIG%s: stopping", sigabbrev_np((int)sig));
	event_base_loopexit(srv->base, NULL);
}

static int add_signals(struct server *srv)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

	for (int i = 0; i < 3; i++) {
		srv->signals[i] = evsignal_new(srv->base, sigs[i], on_signal, srv);
		if (srv->signals[i] == NULL ||
		    event_add(srv->signals[i], NULL) != 0)
			return -1;
	}
	return 0;
}

int server_start(const struct hcd_config *cfg, struct server **out)
{
	struct server *srv = calloc(1, sizeof *srv);

	*out = srv;
	if (srv == NULL || evthread_use_pthreads() != 0)
		return -1;
	srv->cfg = cfg;
	srv->started = time(NULL);
	srv->nworkers = cfg->threads;
	srv->base = event_base_new();
	srv->workers = calloc(cfg->threads, sizeof *srv->workers);
	srv->worker_counters = aligned_alloc(64, cfg->threads *
	                                     sizeof *srv->worker_counters);
	if (srv->base == NULL || srv->workers == NULL ||
	    srv->worker_counters == NULL)
		return -1;
	memset(srv->worker_counters, 0,
	       cfg->threads * sizeof *srv->worker_counters);
	for (unsigned i = 0; i < cfg->threads; i++)
		if (worker_init(srv, &srv->workers[i]) != 0)
			return -1;
	if (add_signals(srv) != 0 || listen_unix(srv) != 0)
		return -1;
	if (cfg->port != 0 && listen_tcp(srv) != 0)
		return -1;
	if (cfg->metrics_port != 0) {
		struct metrics_source src = {
			.cfg = cfg, .conns = &srv->counters,
			.workers = srv->worker_counters, .threads = srv->nworkers,
			.started = srv->started,
		};

		if (metrics_start(srv->base, &src, &srv->metrics) != 0)
			return -1;
	}
	return 0;
}

int server_run(struct server *srv)
{
	return event_base_dispatch(srv->base);
}

/* Stop listening, then stop the workers (they close their connections). */
void server_stop(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->unix_listener != NULL) {
		evconnlistener_free(srv->unix_listener);
		srv->unix_listener = NULL;
	}
	if (srv->tcp_listener != NULL) {
		evconnlistener_free(srv->tcp_listener);
		srv->tcp_listener = NULL;
	}
	metrics_free(srv->metrics);
	srv->metrics = NULL;
	if (srv->socket_created) {
		unlink(srv->cfg->socket_path);
		srv->socket_created = false;
	}
	for (unsigned i = 0; srv->workers != NULL && i < srv->nworkers; i++)
		worker_stop(&srv->workers[i]);
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	server_stop(srv);
	for (unsigned i = 0; srv->workers != NULL && i < srv->nworkers; i++)
		worker_free(&srv->workers[i]);
	free(srv->workers);
	free(srv->worker_counters);
	for (int i = 0; i < 3; i++)
		if (srv->signals[i] != NULL)
			event_free(srv->signals[i]);
	if (srv->base != NULL)
		event_base_free(srv->base);
	free(srv);
}
