/*
 * prefork_http.c - a prefork HTTP/1.1 server whose workers share one
 * hostcache segment, cache-aside in front of SQLite.
 *
 *     prefork_http --init-db FILE [--users N] [--orders N]
 *     prefork_http --db FILE --segment NAME [--create SIZE [--unlink-on-exit]]
 *                  [--port N] [--workers N] [--ttl SECONDS] [--no-cache]
 *
 *     GET  /item/ID           item ID's page: the order count and total of
 *                             user ID (a join and an aggregate)
 *     POST /item/ID?amount=N  add an order of N cents (default 100) and
 *     GET  /update/ID?...     invalidate the item's tag, so that the next
 *                             read renders the page again
 *
 * The data model is examples/wsgi/app.py's (users, and orders among them),
 * so that the two examples compare.  The parent opens the segment (or
 * creates it with --create), listens on 127.0.0.1:PORT (0: any free port;
 * the line printed at start says which) and forks the workers.  Each worker
 * accepts on the shared socket and serves up to MAX_CONNS connections at
 * once with poll(), since keep-alive clients (wrk) hold theirs open.  It
 * maps the segment through the inherited handle: the library attaches a
 * forked child anew on its first call, so workers need no hc_open.  Every page is cached under
 * "item:ID:page" with the tag "item:ID" for --ttl seconds; hc_get_or_load()
 * makes one worker render a missing page while the others wait for it.
 *
 * Responses say which worker answered (X-Worker: pid) and whether the page
 * came from the cache (X-Cache: hit, miss or off).  A worker killed by a
 * signal is replaced.  SIGTERM or SIGINT stops the workers, detaches and
 * exits; the segment is removed only when this server created it and was
 * told --unlink-on-exit.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <sqlite3.h>

#include "hostcache.h"

#define MAX_WORKERS 32         /* each takes a process slot of the segment */
#define MAX_CONNS 64            /* connections one worker multiplexes */
#define REQUEST_MAX 8192        /* request line, headers and body */
#define PAGE_MAX 4096
#define NO_ITEM (-1)            /* loader results outside the HC_E* range: */
#define DB_FAILED (-2)          /*   no such item; SQLite failed (reported) */

static struct {
	const char *db, *segment, *init_db;
	uint64_t create_size;
	int port, workers, unlink_on_exit, no_cache;
	long users, orders, ttl_s;
} opt = { .port = 8080, .workers = 4, .users = 10000, .orders = 200000,
          .ttl_s = 300 };

static hc_cache *cache;         /* NULL with --no-cache */
static sqlite3 *db;             /* this worker's connection */
static volatile sig_atomic_t stopping;

static void die(const char *what, const char *why, const char *todo)
{
	fprintf(stderr, "prefork_http: %s: %s%s%s\n", what, why,
	        todo ? "; " : "", todo ? todo : "");
	exit(2);
}

/* ---- the slow source: SQLite ----------------------------------------- */

static void db_init(const char *path)
{
	char sql[1024];
	char *err = NULL;

	if (access(path, F_OK) == 0)
		die(path, "exists", "remove it or name another file");
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(path, sqlite3_errmsg(db), "check the directory");
	/* What app.py init makes, generated inside SQLite. */
	snprintf(sql, sizeof sql,
	         "PRAGMA journal_mode=WAL; BEGIN;"
	         "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
	         "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER,"
	         " amount INTEGER);"
	         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	         " WHERE i < %ld) INSERT INTO users SELECT i, 'user ' || i FROM n;"
	         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	         " WHERE i < %ld) INSERT INTO orders (user_id, amount) SELECT"
	         " abs(random() %% %ld) + 1, abs(random() %% 9901) + 100 FROM n;"
	         "CREATE INDEX orders_user ON orders (user_id); COMMIT;",
	         opt.users, opt.orders, opt.users);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(path, err ? err : "cannot fill it", NULL);
	sqlite3_close(db);
	printf("%s: %ld users, %ld orders\n", path, opt.users, opt.orders);
}

static void db_open(void)
{
	if (sqlite3_open_v2(opt.db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		die(opt.db, sqlite3_errmsg(db), "make it with --init-db FILE");
	/* Writers of several workers take turns on SQLite's lock. */
	sqlite3_busy_timeout(db, 5000);
}

/* The two statements, prepared once per worker (as Python's sqlite3 does
 * for app.py), so that the baseline pays for the query and not its
 * compilation. */
enum { PAGE_QUERY, ORDER_INSERT };
static const char *const statement_sql[2] = {
	[PAGE_QUERY] = "SELECT u.name, count(o.id), coalesce(sum(o.amount), 0)"
	               " FROM users u LEFT JOIN orders o ON o.user_id = u.id"
	               " WHERE u.id = ?1 GROUP BY u.id",
	[ORDER_INSERT] = "INSERT INTO orders (user_id, amount) SELECT id, ?2"
	                 " FROM users WHERE id = ?1",
};
static sqlite3_stmt *statements[2];

/* Run statement WHICH with ID (and AMOUNT); a row's text column goes to
 * TEXT and its next two to OUT.  1: a row, 0: none, -1: an error,
 * reported. */
static int db_query(int which, long id, long amount, char *text, size_t cap,
                    long long out[2])
{
	sqlite3_stmt **st = &statements[which];
	int rc;

	if (*st == NULL &&
	    sqlite3_prepare_v2(db, statement_sql[which], -1, st, NULL) != SQLITE_OK) {
		fprintf(stderr, "prefork_http: %s: %s\n", opt.db, sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(*st, 1, id);
	if (which == ORDER_INSERT)
		sqlite3_bind_int64(*st, 2, amount);
	if ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(*st, 0);

		snprintf(text, cap, "%s", name ? (const char *)name : "");
		out[0] = sqlite3_column_int64(*st, 1);
		out[1] = sqlite3_column_int64(*st, 2);
	} else if (rc != SQLITE_DONE) {
		fprintf(stderr, "prefork_http: %s: %s\n", opt.db, sqlite3_errmsg(db));
	}
	sqlite3_reset(*st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static void db_close(void)
{
	for (int i = 0; i < 2; i++)
		sqlite3_finalize(statements[i]);
	sqlite3_close(db);
}

/* What the loader of hc_get_or_load() is given. */
struct render {
	long id;
	int rendered;           /* set when it ran: the page was a miss */
};

/* The loader, and the whole story without the cache. */
static int page_render(void *arg, const void *key, size_t klen, void *buf,
                       size_t cap, size_t *vlen, uint64_t *ttl_ms)
{
	struct render *r = arg;
	long long n[2];
	char name[64];
	int rc = db_query(PAGE_QUERY, r->id, 0, name, sizeof name, n);

	r->rendered = 1;
	if (rc <= 0)
		return rc < 0 ? DB_FAILED : NO_ITEM;
	*vlen = (size_t)snprintf(buf, cap, "<!doctype html>\n<title>item %ld"
	                         "</title>\n<h1>%s</h1>\n<p>orders: %lld</p>\n"
	                         "<p>total: %lld.%02lld</p>\n", r->id, name,
	                         n[0], n[1] / 100, n[1] % 100);
	return 0;
}

/* The page of item ID into BUF (PAGE_MAX); *source says where it came
 * from.  0, NO_ITEM or an error. */
static int page_get(long id, char *buf, size_t *len, const char **source)
{
	struct render r = { id, 0 };
	char key[48], tag[40];
	const char *tags[1] = { tag };

	if (cache == NULL) {
		*source = "off";
		return page_render(&r, NULL, 0, buf, PAGE_MAX, len, NULL);
	}
	snprintf(key, sizeof key, "item:%ld:page", id);
	snprintf(tag, sizeof tag, "item:%ld", id);
	hc_load_options lo = { .ttl_ms = (uint64_t)opt.ttl_s * 1000,
	                       .lease_ms = 2000, .wait_ms = 1000,
	                       .tags = tags, .ntags = 1 };
	int rc = hc_get_or_load(cache, key, strlen(key), buf, PAGE_MAX, len, &lo,
	                        page_render, &r);

	*source = r.rendered ? "miss" : "hit";
	if (rc < 0 && rc != NO_ITEM && rc != DB_FAILED) {
		/* A cache that fails costs speed, never the answer. */
		fprintf(stderr, "prefork_http: cache get %s: %s; serving from the"
		        " database\n", key, hc_last_error());
		*source = "off";
		return page_render(&r, NULL, 0, buf, PAGE_MAX, len, NULL);
	}
	return rc;
}

/* Add an order to item ID, then invalidate its tag: after the commit, so
 * that a page rendered from now on has the order (and a render that began
 * before it loses to the invalidation). */
static int order_add(long id, long amount)
{
	long long none[2];
	char tag[40];
	int rc = db_query(ORDER_INSERT, id, amount, tag, sizeof tag, none);

	if (rc < 0)
		return DB_FAILED;
	if (sqlite3_changes(db) == 0)
		return NO_ITEM;
	snprintf(tag, sizeof tag, "item:%ld", id);
	if (cache != NULL && hc_invalidate_tag(cache, tag) < 0)
		fprintf(stderr, "prefork_http: invalidate %s: %s; its page may be"
		        " stale for up to --ttl\n", tag, hc_last_error());
	return 0;
}

/* ---- HTTP/1.1 --------------------------------------------------------- */

struct conn {
	int fd;
	size_t len;             /* bytes in buf, maybe several requests */
	char buf[REQUEST_MAX];
};

struct request {
	char head[REQUEST_MAX]; /* a copy of the headers, cut into strings */
	char method[8];
	const char *target;     /* in head */
	size_t size;            /* bytes of the request, body included */
	int keep_alive;
	int status;             /* when the request cannot be served: 400 */
	const char *why;
};

/* "METHOD /target HTTP/1.x" at P, nothing else: 0, or -1. */
static int request_line(char *p, struct request *rq)
{
	size_t m = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	char *sp = p[m] == ' ' ? strchr(p + m + 1, ' ') : NULL;

	if (m == 0 || m >= sizeof rq->method || p[m + 1] != '/' || sp == NULL ||
	    (strcmp(sp + 1, "HTTP/1.1") != 0 && strcmp(sp + 1, "HTTP/1.0") != 0))
		return -1;
	memcpy(rq->method, p, m);
	rq->method[m] = '\0';
	*sp = '\0';
	rq->target = p + m + 1;
	rq->keep_alive = sp[8] == '1';  /* HTTP/1.1 keeps it by default */
	return 0;
}

/* Fill RQ from the request at the start of CN's buffer, which stays as it
 * is.  1: a whole request (with RQ->status set when it is bad), 0: more
 * bytes needed. */
static int request_parse(const struct conn *cn, struct request *rq)
{
	const char *end = memmem(cn->buf, cn->len, "\r\n\r\n", 4);
	char *p, *line;
	long length = 0;

	rq->status = 400;
	rq->why = "request headers too large\n";
	if (end == NULL)
		return cn->len == sizeof cn->buf;
	rq->size = (size_t)(end - cn->buf) + 4;
	memcpy(rq->head, cn->buf, rq->size - 4);
	rq->head[rq->size - 4] = '\0';
	if ((line = strstr(rq->head, "\r\n")) != NULL)
		*line = '\0';
	rq->why = "malformed request line\n";
	if (request_line(rq->head, rq) < 0)
		return 1;
	for (p = line; p != NULL; p = line) {
		if ((line = strstr(p + 2, "\r\n")) != NULL)
			*line = '\0';
		p += 2;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			length = strtol(p + 15, NULL, 10);
		else if (strncasecmp(p, "Transfer-Encoding:", 18) == 0)
			return rq->why = "chunked bodies are not supported\n", 1;
		else if (strncasecmp(p, "Connection:", 11) == 0)
			rq->keep_alive = strcasestr(p, "keep-alive") != NULL ||
			                 (rq->keep_alive && !strcasestr(p, "close"));
	}
	rq->why = "bad or too large Content-Length\n";
	if (length < 0 || (size_t)length > sizeof cn->buf - rq->size)
		return 1;
	rq->size += (size_t)length;
	rq->status = 0;
	return cn->len >= rq->size;
}

/* One response in one write.  0, or -1 when the client is gone. */
static int respond(int fd, int status, const char *body, size_t len,
                   const char *source, int keep_alive)
{
	static const char *const reasons[] = { [200] = "OK", [400] = "Bad Request",
		[404] = "Not Found", [405] = "Method Not Allowed",
		[500] = "Internal Server Error" };
	char head[256];
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\nX-Worker: %d\r\n%s%s%s%s\r\n",
	                 status, reasons[status], status == 200 && source ?
	                 "text/html; charset=utf-8" : "text/plain", len,
	                 (int)getpid(), source ? "X-Cache: " : "",
	                 source ? source : "", source ? "\r\n" : "",
	                 keep_alive ? "" : "Connection: close\r\n");
	struct iovec iov[2] = { { head, (size_t)n }, { (void *)body, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	return sendmsg(fd, &msg, MSG_NOSIGNAL) == n + (ssize_t)len ? 0 : -1;
}

/* "ID" or "ID?amount=N" after a route's prefix: the id, or 0 when bad. */
static long target_id(const char *s, long *amount)
{
	char *end;
	long id = strtol(s, &end, 10);

	*amount = 100;
	if (*end == '?' && strncmp(end, "?amount=", 8) == 0)
		*amount = strtol(end + 8, &end, 10);
	return *end == '\0' && id > 0 && s[0] >= '0' && s[0] <= '9' ? id : 0;
}

static int serve(int fd, const struct request *rq)
{
	char page[PAGE_MAX];
	const char *source = NULL, *t = rq->target;
	int get = strcmp(rq->method, "GET") == 0, rc = 0;
	long id = 0, amount;
	size_t len;

	if (rq->status)
		return respond(fd, rq->status, rq->why, strlen(rq->why), NULL, 0);
	if (strncmp(t, "/item/", 6) == 0 && (get || !strcmp(rq->method, "POST")))
		id = target_id(t + 6, &amount);
	else if (strncmp(t, "/update/", 8) == 0 && get)
		id = target_id(t + 8, &amount), get = 0;
	else if (strncmp(t, "/item/", 6) == 0 || strncmp(t, "/update/", 8) == 0)
		return respond(fd, 405, "method not allowed\n", 19, NULL,
		               rq->keep_alive);
	else
		return respond(fd, 404, "no such path\n", 13, NULL, rq->keep_alive);
	if (id == 0)
		return respond(fd, 400, "bad id\n", 7, NULL, rq->keep_alive);
	if (get) {
		rc = page_get(id, page, &len, &source);
	} else if ((rc = order_add(id, amount)) == 0) {
		len = (size_t)snprintf(page, sizeof page, "item %ld: order of %ld"
		                       " added\n", id, amount);
	}
	if (rc == NO_ITEM)
		return respond(fd, 404, "no such item\n", 13, source, rq->keep_alive);
	if (rc < 0)
		return respond(fd, 500, "database error\n", 15, source, 0);
	return respond(fd, 200, page, len, source, rq->keep_alive);
}

/* Read what CN's client sent and answer every whole request in it.  0, or
 * -1 when the connection is to be closed. */
static int conn_read(struct conn *cn)
{
	struct request rq;
	ssize_t n = read(cn->fd, cn->buf + cn->len, sizeof cn->buf - cn->len);

	if (n <= 0)
		return -1;
	cn->len += (size_t)n;
	while (request_parse(cn, &rq)) {
		if (serve(cn->fd, &rq) < 0 || rq.status || !rq.keep_alive)
			return -1;
		cn->len -= rq.size;
		memmove(cn->buf, cn->buf + rq.size, cn->len);
	}
	return 0;
}

/* ---- workers ----------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig != SIGCHLD)
		stopping = 1;
}

static void conn_accept(int lfd, struct conn **conns)
{
	struct timeval send_limit = { 5, 0 };  /* a client that reads nothing */
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), i;

	if (fd < 0)
		return;         /* EAGAIN: another worker took it */
	for (i = 0; i < MAX_CONNS && conns[i] != NULL; i++)
		;
	if (i == MAX_CONNS || (conns[i] = malloc(sizeof **conns)) == NULL) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_limit, sizeof send_limit);
	conns[i]->fd = fd;
	conns[i]->len = 0;
}

/* Serve until SIGTERM: poll the shared listening socket and this worker's
 * connections.  The signals stay blocked but inside ppoll, so none is lost
 * between the check of STOPPING and the wait. */
static void worker_run(int lfd, const sigset_t *waiting)
{
	struct conn *conns[MAX_CONNS] = { 0 };
	struct pollfd pf[MAX_CONNS + 1];
	int slot[MAX_CONNS + 1];

	prctl(PR_SET_PDEATHSIG, SIGTERM);       /* no worker outlives the server */
	db_open();
	while (!stopping) {
		nfds_t n = 1;

		pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i] != NULL) {
				slot[n] = i;
				pf[n++] = (struct pollfd){ .fd = conns[i]->fd,
				                           .events = POLLIN };
			}
		if (ppoll(pf, n, NULL, waiting) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", strerror(errno), NULL);
		}
		for (nfds_t j = 1; j < n; j++)
			if (pf[j].revents && conn_read(conns[slot[j]]) < 0) {
				close(conns[slot[j]]->fd);
				free(conns[slot[j]]);
				conns[slot[j]] = NULL;
			}
		if (pf[0].revents & POLLIN)
			conn_accept(lfd, conns);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i] != NULL) {
			close(conns[i]->fd);
			free(conns[i]);
		}
	if (cache != NULL)
		hc_close(cache);  /* frees the slot this worker attached */
	db_close();
	exit(0);
}

/* ---- the parent ------------------------------------------------------- */

static pid_t worker_pids[MAX_WORKERS];

static pid_t worker_start(int lfd, const sigset_t *waiting)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", strerror(errno), "lower --workers");
	if (pid == 0)
		worker_run(lfd, waiting);
	return pid;
}

/* Replace a worker that a signal killed (or a stray SIGTERM stopped); one
 * that failed on its own would fail again: stop.  Returns the exit status
 * the server will have. */
static int workers_reap(int lfd, const sigset_t *waiting)
{
	int status, rc = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int i;

		for (i = 0; i < opt.workers && worker_pids[i] != pid; i++)
			;
		if (i == opt.workers)
			continue;
		worker_pids[i] = 0;
		if (stopping)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			fprintf(stderr, "prefork_http: worker %d failed (exit status"
			        " %d); stopping\n", (int)pid, WEXITSTATUS(status));
			stopping = 1;
			rc = 1;
			continue;
		}
		/* Reclaim what it held (its open block, a lease it was filling)
		 * now, not when some process next attaches. */
		if (cache != NULL && hc_reap(cache) < 0)
			fprintf(stderr, "prefork_http: reap: %s\n", hc_last_error());
		if (WIFSIGNALED(status))
			fprintf(stderr, "prefork_http: worker %d killed by signal %d;"
			        " its slot reaped, starting another\n", (int)pid,
			        WTERMSIG(status));
		worker_pids[i] = worker_start(lfd, waiting);
	}
	return rc;
}

/* A worker ends within one request of SIGTERM: the signal is let in only
 * while it waits in ppoll, and a request is bounded by SQLite's busy
 * timeout and the send timeout. */
static void workers_stop(void)
{
	for (int i = 0; i < opt.workers; i++)
		if (worker_pids[i] > 0)
			kill(worker_pids[i], SIGTERM);
	for (int i = 0; i < opt.workers; i++)
		if (worker_pids[i] > 0)
			waitpid(worker_pids[i], NULL, 0);
}

/* Open the segment, or create it with --create when it is missing.
 * Returns 1 when this process created it. */
static int segment_attach(void)
{
	int rc = hc_open(opt.segment, &cache);

	if (rc == HC_ENOSEG && opt.create_size) {
		hc_config cfg;

		hc_config_init(&cfg);
		cfg.size = opt.create_size;
		if ((rc = hc_create(opt.segment, &cfg, &cache)) == 0)
			return 1;
		if (rc == HC_ESEGEXISTS)        /* made by someone else meanwhile */
			rc = hc_open(opt.segment, &cache);
	}
	if (rc == HC_ENOSEG)
		die(opt.segment, "no such segment", "create it (cachectl create"
		    " NAME, or a sidecar) or pass --create SIZE");
	if (rc < 0)
		die(opt.segment, hc_last_error(), rc == HC_EPERM ?
		    "run as the segment's owner or a member of its group" : NULL);
	hc_info info;

	/* Said now, rather than by every worker that finds no slot left. */
	if (hc_info_get(cache, &info) == 0 &&
	    info.max_procs < (uint32_t)opt.workers + 2) {
		fprintf(stderr, "prefork_http: %s: %u process slots, and %d workers,"
		        " this server and a cachectl need %d; lower --workers or"
		        " recreate it with more (cachectl create --max-procs)\n",
		        opt.segment, info.max_procs, opt.workers, opt.workers + 2);
		exit(2);
	}
	return 0;
}

/* The listening socket on 127.0.0.1:opt.port (0: a free port, written
 * back to opt.port). */
static int listen_on(void)
{
	int port = opt.port;
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_port = htons((uint16_t)port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof sa;
	int one = 1;
	/* Non-blocking: every worker wakes for a new connection, one gets it. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", strerror(errno), NULL);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
		char where[32];

		snprintf(where, sizeof where, "127.0.0.1:%d", port);
		die(where, strerror(errno), "choose another --port");
	}
	getsockname(fd, (struct sockaddr *)&sa, &salen);
	opt.port = ntohs(sa.sin_port);
	return fd;
}

static const char usage[] =
	"usage: prefork_http --init-db FILE [--users N] [--orders N]\n"
	"       prefork_http --db FILE --segment NAME [--create SIZE"
	" [--unlink-on-exit]]\n"
	"                    [--port N] [--workers N] [--ttl SECONDS]\n"
	"       prefork_http --db FILE --no-cache [--port N] [--workers N]\n";

static long number(const char *flag, const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "prefork_http: %s %s: want a number from %ld to %ld\n",
		        flag, s, lo, hi);
		exit(2);
	}
	return v;
}

/* "64M": bytes, with an optional K, M or G. */
static uint64_t size_arg(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;

	if (end == s || s[0] == '-' || v == 0 || end[shift != 0] != '\0' ||
	    v > (UINT64_MAX >> shift)) {
		fprintf(stderr, "prefork_http: --create %s: want a size such as"
		        " 64M\n", s);
		exit(2);
	}
	return (uint64_t)v << shift;
}

static void args_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", 1, NULL, 'd' }, { "segment", 1, NULL, 's' },
		{ "create", 1, NULL, 'c' }, { "unlink-on-exit", 0, NULL, 'u' },
		{ "port", 1, NULL, 'p' }, { "workers", 1, NULL, 'w' },
		{ "ttl", 1, NULL, 't' }, { "no-cache", 0, NULL, 'n' },
		{ "init-db", 1, NULL, 'i' }, { "users", 1, NULL, 'U' },
		{ "orders", 1, NULL, 'O' }, { "help", 0, NULL, 'h' }, { 0 } };
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': opt.db = optarg; break;
		case 's': opt.segment = optarg; break;
		case 'c': opt.create_size = size_arg(optarg); break;
		case 'u': opt.unlink_on_exit = 1; break;
		case 'p': opt.port = (int)number("--port", optarg, 0, 65535); break;
		case 'w': opt.workers = (int)number("--workers", optarg, 1,
		                                     MAX_WORKERS); break;
		case 't': opt.ttl_s = number("--ttl", optarg, 0, 86400 * 365); break;
		case 'n': opt.no_cache = 1; break;
		case 'i': opt.init_db = optarg; break;
		case 'U': opt.users = number("--users", optarg, 1, 100000000); break;
		case 'O': opt.orders = number("--orders", optarg, 0, 1000000000); break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (optind < argc || (!opt.init_db && (!opt.db ||
	                                       (!opt.segment && !opt.no_cache)))) {
		fputs(usage, stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	static const int signals[3] = { SIGTERM, SIGINT, SIGCHLD };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waiting;
	int created = 0, rc = 0, lfd;

	args_parse(argc, argv);
	if (opt.init_db) {
		db_init(opt.init_db);
		return 0;
	}
	db_open();      /* say now, not in every worker, that it is wrong */
	if (sqlite3_exec(db, "SELECT 1 FROM users, orders LIMIT 1", NULL, NULL,
	                 NULL) != SQLITE_OK)
		die(opt.db, sqlite3_errmsg(db), "make it with --init-db FILE");
	sqlite3_close(db);      /* a connection must not cross a fork */
	if (!opt.no_cache)
		created = segment_attach();
	lfd = listen_on();
	/* The signals that end or wake us are blocked but while waiting. */
	sigemptyset(&block);
	for (int i = 0; i < 3; i++)
		sigaddset(&block, signals[i]);
	sigprocmask(SIG_BLOCK, &block, &waiting);
	for (int i = 0; i < 3; i++) {
		sigdelset(&waiting, signals[i]);
		sigaction(signals[i], &sa, NULL);
	}
	printf("prefork_http: listening on http://127.0.0.1:%d/ with %d workers,"
	       " %s%s\n", opt.port, opt.workers, opt.no_cache ? "no cache" :
	       "cache segment ", opt.no_cache ? "" : opt.segment);
	fflush(stdout);
	for (int i = 0; i < opt.workers; i++)
		worker_pids[i] = worker_start(lfd, &waiting);
	while (!stopping) {
		rc |= workers_reap(lfd, &waiting);
		if (!stopping)
			sigsuspend(&waiting);
	}
	workers_stop();
	close(lfd);
	if (cache != NULL)
		hc_close(cache);
	if (created && opt.unlink_on_exit && hc_unlink(opt.segment) < 0)
		die(opt.segment, hc_last_error(), "remove it with cachectl destroy");
	printf("prefork_http: stopped\n");
	return rc;
}
