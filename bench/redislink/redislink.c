/*
 * redislink - what the link between hosts costs and how fast it carries
 * (hostcached --redis; bench/redisbench.sh starts the servers).
 *
 *   redislink latency   --segment NAME --socket PATH --redis-unix PATH
 *                       --redis-port N [--ops N] [--keys N]
 *   redislink propagate --segment-a NAME --segment-b NAME
 *                       --socket-a PATH --socket-b PATH
 *                       [--rate N] [--seconds S]
 *
 * latency: a get hit of a 16-byte key with a 64-byte value, timed one by
 * one, from the local segment through the C library (hc_get), through
 * hostcached's unix socket (mg KEY v, one request in flight), and as a
 * Redis GET round trip (hiredis, synchronous) over Redis's unix socket and
 * loopback TCP.  KEYS keys (default 1000) are set in the segment and in
 * Redis first, then read in turn.  p50, p99, p999 and the mean, in ns.
 *
 * propagate: two segments, A and B, each owned by a hostcached linked to
 * one Redis, stand for two hosts.  Every key is set on B first (through
 * the library); then a writer thread changes key i on A (through the
 * library: a set for even i, a delete for odd i, both journaled and
 * published by A's sidecar) at RATE a second (default 10000) for SECONDS
 * (default 10), on a fixed schedule (clock_nanosleep to each instant),
 * while a poller thread looks at every changed key still on B (hc_get on
 * B's segment, a pass every 20 us) and takes the time at which it misses
 * there.  The delay is from the moment A's call returned to B's first
 * miss: journal poll, publish, Redis, subscriber, apply, plus up to one
 * poll pass.  Keys that never miss on B within 3 s after the last change
 * are counted lost.  The sidecars' own counters (stats over their
 * sockets) are read before and after: resyncs, journal entries lost,
 * reconnects, publish errors, and B's own delay quantiles.
 *
 * Output: a readable table and one JSON object a line (bench, then the
 * numbers), as the other benchmarks.  Exit status 0, or 1 when something
 * cannot run (a segment, Redis or a socket not there, a failed call); a
 * slow number never fails it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "hostcache.h"
#include "kit/kit.h"

#define KEY_LEN 16
#define VALUE_LEN 64
#define POLL_PASS_US 20
#define LOST_AFTER_S 3

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "redislink: %s: %s\n", what, why);
	exit(1);
}

static void key_of(char *key, const char *prefix, uint64_t i)
{
	char buf[48]; /* the prefix and up to 20 digits */

	snprintf(buf, sizeof buf, "%s%0*" PRIu64, prefix,
	         (int)(KEY_LEN - strlen(prefix)), i);
	memcpy(key, buf, KEY_LEN);
}

static void value_of(char *value, uint64_t i)
{
	for (size_t j = 0; j < VALUE_LEN; j++)
		value[j] = (char)('a' + (i + j) % 26);
}

/* ------------------------------------------------------------------ */
/* A blocking unix-socket client of hostcached                         */

static int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof a.sun_path)
		fail(path, "cannot make a socket");
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		fail(path, strerror(errno));
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("hostcached", "write failed");
		p += w;
		n -= (size_t)w;
	}
}

/* Read exactly N bytes into BUF. */
static void recv_exactly(int fd, char *buf, size_t n)
{
	while (n > 0) {
		ssize_t got = read(fd, buf, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			fail("hostcached", "connection closed");
		buf += got;
		n -= (size_t)got;
	}
}

/* The value of "STAT NAME value" from hostcached's stats, or 0. */
struct stats_text {
	char text[65536];
};

static void stats_read(const char *sock, struct stats_text *s)
{
	int fd = unix_connect(sock);
	size_t have = 0;

	send_all(fd, "stats\r\n", 7);
	for (;;) {
		ssize_t got = read(fd, s->text + have, sizeof s->text - 1 - have);

		if (got <= 0)
			fail(sock, "stats: connection closed");
		have += (size_t)got;
		s->text[have] = '\0';
		if (have >= 5 && strcmp(s->text + have - 5, "END\r\n") == 0)
			break;
		if (have == sizeof s->text - 1)
			fail(sock, "stats: reply too long");
	}
	close(fd);
}

static uint64_t stat_of(const struct stats_text *s, const char *name)
{
	char pattern[128];
	const char *p;

	snprintf(pattern, sizeof pattern, "STAT %s ", name);
	p = strstr(s->text, pattern);
	return p != NULL ? strtoull(p + strlen(pattern), NULL, 10) : 0;
}

/* ------------------------------------------------------------------ */
/* latency                                                             */

struct result {
	const char *path;
	struct kit_hist h;
};

static void result_print(const struct result *r, struct kit_json *j)
{
	const struct kit_hist *h = &r->h;
	double sum = 0;

	for (unsigned b = 0; b < KIT_HIST_BUCKETS; b++)
		sum += (double)h->n[b] * kit_hist_value(b);
	printf("%-26s %9" PRIu64 " %9.0f %9.0f %9.0f %9.0f\n", r->path,
	       h->total, kit_hist_percentile(h, 0.50),
	       kit_hist_percentile(h, 0.99), kit_hist_percentile(h, 0.999),
	       h->total > 0 ? sum / (double)h->total : 0.0);
	kit_json_begin(j, stdout);
	kit_json_str(j, "bench", "redislink_latency");
	kit_json_str(j, "path", r->path);
	kit_json_uint(j, "ops", h->total);
	kit_json_num(j, "p50_ns", 0, kit_hist_percentile(h, 0.50));
	kit_json_num(j, "p99_ns", 0, kit_hist_percentile(h, 0.99));
	kit_json_num(j, "p999_ns", 0, kit_hist_percentile(h, 0.999));
	kit_json_num(j, "mean_ns", 0, h->total > 0 ? sum / (double)h->total : 0);
	kit_json_uint(j, "key_bytes", KEY_LEN);
	kit_json_uint(j, "value_bytes", VALUE_LEN);
	kit_json_end(j);
}

static void time_library(hc_cache *c, uint64_t ops, uint64_t keys,
                         uint64_t clock_ns, struct kit_hist *h)
{
	char key[KEY_LEN], buf[VALUE_LEN];
	size_t vlen;

	for (uint64_t i = 0; i < ops; i++) {
		uint64_t t0, t1;

		key_of(key, "lat:", i % keys);
		t0 = kit_now_ns();
		if (hc_get(c, key, KEY_LEN, buf, sizeof buf, &vlen) != 0)
			fail("hc_get", hc_last_error());
		t1 = kit_now_ns();
		kit_hist_add(h, t1 - t0 > clock_ns ? t1 - t0 - clock_ns : 0);
	}
}

static void time_hostcached(const char *sock, uint64_t ops, uint64_t keys,
                            struct kit_hist *h)
{
	int fd = unix_connect(sock);
	char req[64], reply[128];
	const size_t want = strlen("VA 64\r\n") + VALUE_LEN + 2;

	memcpy(req, "mg ", 3);
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t t0;

		key_of(req + 3, "lat:", i % keys);
		memcpy(req + 3 + KEY_LEN, " v\r\n", 4);
		t0 = kit_now_ns();
		send_all(fd, req, 3 + KEY_LEN + 4);
		recv_exactly(fd, reply, want);
		kit_hist_add(h, kit_now_ns() - t0);
		if (memcmp(reply, "VA 64\r\n", 7) != 0)
			fail("hostcached", "mg: not a hit");
	}
	close(fd);
}

static void time_redis(redisContext *rc, uint64_t ops, uint64_t keys,
                       struct kit_hist *h)
{
	char key[KEY_LEN];

	for (uint64_t i = 0; i < ops; i++) {
		redisReply *rep;
		uint64_t t0;

		key_of(key, "lat:", i % keys);
		t0 = kit_now_ns();
		rep = redisCommand(rc, "GET %b", key, (size_t)KEY_LEN);
		kit_hist_add(h, kit_now_ns() - t0);
		if (rep == NULL || rep->type != REDIS_REPLY_STRING ||
		    rep->len != VALUE_LEN)
			fail("redis", rc->errstr[0] != '\0' ? rc->errstr
			                                    : "GET: not a hit");
		freeReplyObject(rep);
	}
}

static redisContext *redis_open(const char *unix_path, unsigned port)
{
	redisContext *rc = unix_path != NULL ? redisConnectUnix(unix_path)
	                                     : redisConnect("127.0.0.1",
	                                                    (int)port);

	if (rc == NULL || rc->err)
		fail("redis", rc != NULL ? rc->errstr : "out of memory");
	return rc;
}

static int run_latency(const char *segment, const char *sock,
                       const char *redis_unix, unsigned redis_port,
                       uint64_t ops, uint64_t keys)
{
	struct result r[4] = {
		{ .path = "library hc_get" },
		{ .path = "hostcached mg (unix)" },
		{ .path = "redis GET (unix)" },
		{ .path = "redis GET (tcp 127.0.0.1)" },
	};
	redisContext *ru = redis_open(redis_unix, 0);
	redisContext *rt = redis_open(NULL, redis_port);
	char key[KEY_LEN], value[VALUE_LEN];
	uint64_t clock_ns = kit_clock_cost_ns();
	uint64_t sock_ops = ops / 10 > 0 ? ops / 10 : 1;
	struct kit_json j;
	hc_cache *c;

	if (hc_open(segment, &c) != 0)
		fail(segment, hc_last_error());
	for (uint64_t i = 0; i < keys; i++) {
		redisReply *rep;

		key_of(key, "lat:", i);
		value_of(value, i);
		if (hc_set(c, key, KEY_LEN, value, VALUE_LEN, 0) != 0)
			fail("hc_set", hc_last_error());
		rep = redisCommand(ru, "SET %b %b", key, (size_t)KEY_LEN, value,
		                   (size_t)VALUE_LEN);
		if (rep == NULL)
			fail("redis", ru->errstr);
		freeReplyObject(rep);
	}
	/* Warm every path, then time each in turn. */
	time_library(c, keys, keys, clock_ns, &r[0].h);
	time_hostcached(sock, keys, keys, &r[1].h);
	time_redis(ru, keys, keys, &r[2].h);
	time_redis(rt, keys, keys, &r[3].h);
	for (int i = 0; i < 4; i++)
		kit_hist_clear(&r[i].h);
	time_library(c, ops, keys, clock_ns, &r[0].h);
	time_hostcached(sock, sock_ops, keys, &r[1].h);
	time_redis(ru, sock_ops, keys, &r[2].h);
	time_redis(rt, sock_ops, keys, &r[3].h);
	printf("get hit, %d-byte keys, %d-byte values, %" PRIu64 " keys, one "
	       "request in flight; ns (library: minus one clock read, %" PRIu64
	       " ns)\n", KEY_LEN, VALUE_LEN, keys, clock_ns);
	printf("%-26s %9s %9s %9s %9s %9s\n", "path", "ops", "p50", "p99",
	       "p999", "mean");
	for (int i = 0; i < 4; i++)
		result_print(&r[i], &j);
	redisFree(ru);
	redisFree(rt);
	hc_close(c);
	return 0;
}

/* ------------------------------------------------------------------ */
/* propagate                                                           */

static struct {
	hc_cache *a, *b;
	uint64_t n;               /* changes to make */
	uint64_t period_ns;
	uint64_t *done_at;        /* A's call returned (0: not yet) */
	uint64_t issued;          /* atomic: changes made on A */
	uint64_t writer_end_ns;   /* atomic */
	uint64_t t0;
	struct kit_hist h;
	uint64_t seen, lost, late_passes;
} p;

static void *writer(void *arg)
{
	char key[KEY_LEN], value[VALUE_LEN];

	(void)arg;
	value_of(value, 7);
	for (uint64_t i = 0; i < p.n; i++) {
		uint64_t at = p.t0 + i * p.period_ns;
		struct timespec ts = { (time_t)(at / 1000000000ull),
		                       (long)(at % 1000000000ull) };
		int rc;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                       NULL) == EINTR)
			;
		key_of(key, "prop:", i);
		rc = i % 2 == 0 ? hc_set(p.a, key, KEY_LEN, value, VALUE_LEN, 0)
		                : hc_delete(p.a, key, KEY_LEN);
		if (rc != 0 && rc != HC_ENOTFOUND)
			fail("A", hc_last_error());
		__atomic_store_n(&p.done_at[i], kit_now_ns(), __ATOMIC_RELAXED);
		/* Pairs with the poller's acquire load of issued: done_at[i]
		 * is there before i counts as issued. */
		__atomic_store_n(&p.issued, i + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&p.writer_end_ns, kit_now_ns(), __ATOMIC_RELEASE);
	return NULL;
}

/* Look at every changed key still on B; note the first miss of each. */
static void poll_b(void)
{
	char key[KEY_LEN], buf[VALUE_LEN];
	unsigned char *missed = calloc(p.n, 1);
	uint64_t oldest = 0, deadline = 0;
	struct timespec pass = { 0, POLL_PASS_US * 1000 };
	size_t vlen;

	if (missed == NULL)
		fail("poller", "out of memory");
	while (oldest < p.n) {
		uint64_t issued = __atomic_load_n(&p.issued, __ATOMIC_ACQUIRE);

		for (uint64_t i = oldest; i < issued; i++) {
			if (missed[i])
				continue;
			key_of(key, "prop:", i);
			if (hc_get(p.b, key, KEY_LEN, buf, sizeof buf, &vlen)
			    == HC_ENOTFOUND) {
				uint64_t now = kit_now_ns();
				uint64_t from = __atomic_load_n(&p.done_at[i],
				                                __ATOMIC_RELAXED);

				missed[i] = 1;
				kit_hist_add(&p.h, now > from ? now - from : 0);
				p.seen++;
			}
		}
		while (oldest < issued && missed[oldest])
			oldest++;
		if (issued == p.n && deadline == 0)
			deadline = kit_now_ns() + LOST_AFTER_S * 1000000000ull;
		if (deadline != 0 && kit_now_ns() > deadline)
			break;
		nanosleep(&pass, NULL);
	}
	for (uint64_t i = oldest; i < p.n; i++)
		p.lost += !missed[i];
	free(missed);
}

struct link_counts {
	uint64_t resyncs_sent, resyncs_received, local_flushes, journal_lost;
	uint64_t reconnects, publish_errors, published, applied;
};

static void link_counts_read(const char *sock, struct link_counts *c,
                             struct stats_text *s)
{
	stats_read(sock, s);
	c->resyncs_sent = stat_of(s, "redis_resyncs_sent");
	c->resyncs_received = stat_of(s, "redis_resyncs_received");
	c->local_flushes = stat_of(s, "redis_local_flushes");
	c->journal_lost = stat_of(s, "redis_journal_lost");
	c->reconnects = stat_of(s, "redis_reconnects");
	c->publish_errors = stat_of(s, "redis_publish_errors");
	c->published = stat_of(s, "redis_published");
	c->applied = stat_of(s, "redis_applied");
}

static int run_propagate(const char *seg_a, const char *seg_b,
                         const char *sock_a, const char *sock_b,
                         uint64_t rate, double seconds)
{
	static struct stats_text sa, sb;
	struct link_counts a0, a1, b0, b1;
	char key[KEY_LEN], value[VALUE_LEN], buf[VALUE_LEN];
	uint64_t absent = 0, t_end;
	struct kit_json j;
	pthread_t w;
	size_t vlen;

	p.n = (uint64_t)((double)rate * seconds);
	p.period_ns = 1000000000ull / rate;
	p.done_at = calloc(p.n, sizeof *p.done_at);
	if (p.done_at == NULL || p.n == 0)
		fail("propagate", "out of memory, or no changes to make");
	if (hc_open(seg_a, &p.a) != 0)
		fail(seg_a, hc_last_error());
	if (hc_open(seg_b, &p.b) != 0)
		fail(seg_b, hc_last_error());
	/* Every key on B; B's sidecar publishes these sets too (A drops
	 * nothing: it has none), so let that settle before starting. */
	value_of(value, 3);
	for (uint64_t i = 0; i < p.n; i++) {
		key_of(key, "prop:", i);
		if (hc_set(p.b, key, KEY_LEN, value, VALUE_LEN, 0) != 0)
			fail("B", hc_last_error());
	}
	sleep(2);
	for (uint64_t i = 0; i < p.n; i++) {
		key_of(key, "prop:", i);
		absent += hc_get(p.b, key, KEY_LEN, buf, sizeof buf, &vlen) != 0;
	}
	link_counts_read(sock_a, &a0, &sa);
	link_counts_read(sock_b, &b0, &sb);
	p.t0 = kit_now_ns() + 10000000ull;
	if (pthread_create(&w, NULL, writer, NULL) != 0)
		fail("propagate", "cannot start the writer thread");
	poll_b();
	pthread_join(w, NULL);
	t_end = __atomic_load_n(&p.writer_end_ns, __ATOMIC_ACQUIRE);
	usleep(100000);
	link_counts_read(sock_a, &a1, &sa);
	link_counts_read(sock_b, &b1, &sb);

	double took = (double)(t_end - p.t0) / 1e9;
	printf("propagation A -> B: %" PRIu64 " changes on A (sets and "
	       "deletes in turn, %d-byte keys) at %" PRIu64 "/s for %.1f s "
	       "(%.0f/s achieved); B polled every %d us\n", p.n, KEY_LEN, rate,
	       seconds, (double)p.n / took, POLL_PASS_US);
	printf("  delay from A's call returning to B's miss: p50 %.0f us, "
	       "p99 %.0f us, p999 %.0f us, max %.0f us\n",
	       kit_hist_percentile(&p.h, 0.50) / 1e3,
	       kit_hist_percentile(&p.h, 0.99) / 1e3,
	       kit_hist_percentile(&p.h, 0.999) / 1e3, (double)p.h.max / 1e3);
	printf("  seen missing on B: %" PRIu64 ", never missed within %d s "
	       "(lost): %" PRIu64 ", absent on B before the start: %" PRIu64 "\n",
	       p.seen, LOST_AFTER_S, p.lost, absent);
	printf("  during the run: A published %" PRIu64 ", publish errors %"
	       PRIu64 ", resyncs sent %" PRIu64 ", journal entries lost %" PRIu64
	       ", reconnects %" PRIu64 "; B applied %" PRIu64 ", resyncs "
	       "received %" PRIu64 ", local flushes %" PRIu64 "\n",
	       a1.published - a0.published, a1.publish_errors - a0.publish_errors,
	       a1.resyncs_sent - a0.resyncs_sent,
	       a1.journal_lost - a0.journal_lost, a1.reconnects - a0.reconnects,
	       b1.applied - b0.applied, b1.resyncs_received - b0.resyncs_received,
	       b1.local_flushes - b0.local_flushes);
	printf("  B's own count, publish to apply (wall clocks, its "
	       "histogram's bucket bounds): p50 <= %" PRIu64 " us, p99 <= %"
	       PRIu64 " us, max %" PRIu64 " us (since B started)\n",
	       stat_of(&sb, "redis_delay_p50_us"),
	       stat_of(&sb, "redis_delay_p99_us"),
	       stat_of(&sb, "redis_delay_max_us"));
	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "redislink_propagation");
	kit_json_uint(&j, "changes", p.n);
	kit_json_uint(&j, "rate", rate);
	kit_json_num(&j, "achieved_rate", 0, (double)p.n / took);
	kit_json_num(&j, "seconds", 1, seconds);
	kit_json_uint(&j, "poll_us", POLL_PASS_US);
	kit_json_num(&j, "p50_us", 0, kit_hist_percentile(&p.h, 0.50) / 1e3);
	kit_json_num(&j, "p99_us", 0, kit_hist_percentile(&p.h, 0.99) / 1e3);
	kit_json_num(&j, "p999_us", 0, kit_hist_percentile(&p.h, 0.999) / 1e3);
	kit_json_num(&j, "max_us", 0, (double)p.h.max / 1e3);
	kit_json_uint(&j, "seen", p.seen);
	kit_json_uint(&j, "lost", p.lost);
	kit_json_uint(&j, "absent_before", absent);
	kit_json_uint(&j, "a_published", a1.published - a0.published);
	kit_json_uint(&j, "a_publish_errors",
	              a1.publish_errors - a0.publish_errors);
	kit_json_uint(&j, "a_resyncs_sent", a1.resyncs_sent - a0.resyncs_sent);
	kit_json_uint(&j, "a_journal_lost", a1.journal_lost - a0.journal_lost);
	kit_json_uint(&j, "a_reconnects", a1.reconnects - a0.reconnects);
	kit_json_uint(&j, "b_applied", b1.applied - b0.applied);
	kit_json_uint(&j, "b_resyncs_received",
	              b1.resyncs_received - b0.resyncs_received);
	kit_json_uint(&j, "b_local_flushes",
	              b1.local_flushes - b0.local_flushes);
	kit_json_end(&j);
	hc_close(p.a);
	hc_close(p.b);
	free(p.done_at);
	return 0;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
	        "usage: redislink latency --segment NAME --socket PATH "
	        "--redis-unix PATH --redis-port N [--ops N] [--keys N]\n"
	        "       redislink propagate --segment-a NAME --segment-b NAME "
	        "--socket-a PATH --socket-b PATH [--rate N] [--seconds S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *segment = NULL, *sock = NULL, *redis_unix = NULL;
	const char *seg_a = NULL, *seg_b = NULL, *sock_a = NULL, *sock_b = NULL;
	unsigned long redis_port = 0;
	uint64_t ops = 1000000, keys = 1000, rate = 10000;
	double seconds = 10;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--segment") == 0) segment = v;
		else if (strcmp(o, "--socket") == 0) sock = v;
		else if (strcmp(o, "--redis-unix") == 0) redis_unix = v;
		else if (strcmp(o, "--redis-port") == 0) redis_port = strtoul(v, NULL, 10);
		else if (strcmp(o, "--ops") == 0) ops = strtoull(v, NULL, 10);
		else if (strcmp(o, "--keys") == 0) keys = strtoull(v, NULL, 10);
		else if (strcmp(o, "--segment-a") == 0) seg_a = v;
		else if (strcmp(o, "--segment-b") == 0) seg_b = v;
		else if (strcmp(o, "--socket-a") == 0) sock_a = v;
		else if (strcmp(o, "--socket-b") == 0) sock_b = v;
		else if (strcmp(o, "--rate") == 0) rate = strtoull(v, NULL, 10);
		else if (strcmp(o, "--seconds") == 0) seconds = strtod(v, NULL);
		else usage();
	}
	if (strcmp(argv[1], "latency") == 0) {
		if (segment == NULL || sock == NULL || redis_unix == NULL ||
		    redis_port == 0 || redis_port > 65535 || keys == 0 || ops == 0)
			usage();
		return run_latency(segment, sock, redis_unix,
		                   (unsigned)redis_port, ops, keys);
	}
	if (strcmp(argv[1], "propagate") == 0) {
		if (seg_a == NULL || seg_b == NULL || sock_a == NULL ||
		    sock_b == NULL || rate == 0 || rate > 1000000 || seconds <= 0)
			usage();
		return run_propagate(seg_a, seg_b, sock_a, sock_b, rate, seconds);
	}
	usage();
	return 2;
}
