/*
 * metrics.c - Prometheus metrics over HTTP: GET /metrics on 127.0.0.1.
 *
 * With --metrics-port N the main thread's event base also serves HTTP
 * (libevent's evhttp) on 127.0.0.1:N.  GET or HEAD of /metrics answers
 * the Prometheus text format (version 0.0.4); any other path is 404, any
 * other method 405.  A scrape is cheap and rare, so it is served on the
 * main thread, off the workers' loops.
 *
 * What it says: the segment's counters, gauges and latency quantiles under
 * the names and labels `cachectl stats --prometheus` gives them (the list
 * is tools/stat_fields.c's), then hostcached's own: its connections and
 * every worker's command counters, labelled by worker, and with --redis
 * the link's (hostcached_redis_*).  Every metric has
 * its # HELP and # TYPE lines; counters end in _total.
 *
 * It reads the segment through its own attachment (one process slot),
 * since an attachment belongs to one thread.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "hostcached.h"
#include "../stat_fields.h"

#define HTTP_TIMEOUT_S 10
#define HTTP_HEADERS_MAX 8192

struct metrics {
	struct evhttp *http;
	hc_cache *cache;
	struct metrics_source src;
};

/* ------------------------------------------------------------------ */
/* The text format                                                     */

static void metric_header(struct evbuffer *out, const char *name,
                          const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	                    name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(out, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void segment_sample(struct evbuffer *out, const char *name,
                           const char *segment, uint64_t value)
{
	evbuffer_add_printf(out, "%s{segment=", name);
	label_value(out, segment);
	evbuffer_add_printf(out, "} %" PRIu64 "\n", value);
}

static void segment_metrics(struct metrics *m, struct evbuffer *out)
{
	struct stat_field f[STAT_FIELDS_MAX];
	const char *segment = m->src.cfg->name;
	hc_latency lat;
	hc_stats s;
	int n;

	if (hc_stats_get(m->cache, &s) != 0 || hc_latency_get(m->cache, &lat)
	    != 0) {
		log_msg(LOG_WARN, "metrics: reading the segment: %s",
		        hc_last_error());
		return;
	}
	n = collect_stat_fields(&s, &lat, f);
	for (int i = 0; i < n; i++) {
		if (f[i].metric == NULL)
			continue; /* sums and the block table: not metrics alone */
		metric_header(out, f[i].metric, f[i].kind == STAT_COUNTER ?
		              "counter" : "gauge", f[i].help);
		segment_sample(out, f[i].metric, segment, f[i].value);
	}
}

#define WORKER_METRIC(field, name, help) \
	{ offsetof(struct worker_counters, field), name, help }

/* The workers' counters (struct worker_counters), each a metric with one
 * sample per worker. */
static const struct {
	size_t offset;
	const char *name, *help;
} worker_metrics[] = {
	WORKER_METRIC(cmd_touch, "hostcached_touch_commands_total",
	              "touch and gat commands."),
	WORKER_METRIC(cmd_flush, "hostcached_flush_commands_total",
	              "flush_all commands."),
	WORKER_METRIC(bytes_read, "hostcached_read_bytes_total",
	              "Bytes of commands read from clients."),
	WORKER_METRIC(bytes_written, "hostcached_written_bytes_total",
	              "Bytes of replies to clients."),
	WORKER_METRIC(delete_hits, "hostcached_delete_hits_total",
	              "Deletes that found the key."),
	WORKER_METRIC(delete_misses, "hostcached_delete_misses_total",
	              "Deletes that found no key."),
	WORKER_METRIC(incr_hits, "hostcached_incr_hits_total",
	              "incr commands that found the key."),
	WORKER_METRIC(incr_misses, "hostcached_incr_misses_total",
	              "incr commands that found no key."),
	WORKER_METRIC(decr_hits, "hostcached_decr_hits_total",
	              "decr commands that found the key."),
	WORKER_METRIC(decr_misses, "hostcached_decr_misses_total",
	              "decr commands that found no key."),
	WORKER_METRIC(cas_hits, "hostcached_cas_hits_total",
	              "CAS stores that matched."),
	WORKER_METRIC(cas_misses, "hostcached_cas_misses_total",
	              "CAS stores that found no key."),
	WORKER_METRIC(cas_badval, "hostcached_cas_badval_total",
	              "CAS stores refused: the item had changed."),
	WORKER_METRIC(touch_hits, "hostcached_touch_hits_total",
	              "Touches that found the key."),
	WORKER_METRIC(touch_misses, "hostcached_touch_misses_total",
	              "Touches that found no key."),
};

static uint64_t load_counter(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void daemon_metrics(struct metrics *m, struct evbuffer *out)
{
	const struct metrics_source *src = &m->src;

	metric_header(out, "hostcached_connections", "gauge",
	              "Client connections open.");
	evbuffer_add_printf(out, "hostcached_connections %" PRIu64 "\n",
	                    load_counter(&src->conns->curr_connections));
	metric_header(out, "hostcached_connections_total", "counter",
	              "Client connections accepted.");
	evbuffer_add_printf(out, "hostcached_connections_total %" PRIu64 "\n",
	                    load_counter(&src->conns->total_connections));
	metric_header(out, "hostcached_rejected_connections_total", "counter",
	              "Client connections refused: --max-conns were open.");
	evbuffer_add_printf(out, "hostcached_rejected_connections_total %"
	                    PRIu64 "\n",
	                    load_counter(&src->conns->rejected_connections));
	metric_header(out, "hostcached_max_connections", "gauge",
	              "Client connections allowed at once (--max-conns).");
	evbuffer_add_printf(out, "hostcached_max_connections %u\n",
	                    src->cfg->max_conns);
	metric_header(out, "hostcached_threads", "gauge", "Worker threads.");
	evbuffer_add_printf(out, "hostcached_threads %u\n", src->threads);
	metric_header(out, "hostcached_uptime_seconds", "gauge",
	              "Seconds since hostcached started.");
	evbuffer_add_printf(out, "hostcached_uptime_seconds %" PRIu64 "\n",
	                    (uint64_t)(time(NULL) - src->started));
	for (size_t i = 0; i < sizeof worker_metrics / sizeof worker_metrics[0];
	     i++) {
		metric_header(out, worker_metrics[i].name, "counter",
		              worker_metrics[i].help);
		for (unsigned w = 0; w < src->threads; w++) {
			const char *base = (const char *)&src->workers[w];

			evbuffer_add_printf(out, "%s{worker=\"%u\"} %" PRIu64 "\n",
			                    worker_metrics[i].name, w,
			                    load_counter((const uint64_t *)
			                                 (base + worker_metrics[i].offset)));
		}
	}
}

/* The link to the other hosts (--redis), and its propagation delay as
 * a histogram in seconds. */
static void redis_metrics(struct evbuffer *out)
{
	static const char delay[] = "hostcached_redis_propagation_delay_seconds";
	struct redis_stats s;
	uint64_t below = 0;

	if (!redis_enabled())
		return;
	redis_stats_get(&s);
	for (size_t i = 0; i < redis_field_count; i++) {
		const struct redis_field *f = &redis_fields[i];

		if (f->metric == NULL)
			continue;
		metric_header(out, f->metric, f->counter ? "counter" : "gauge",
		              f->help);
		evbuffer_add_printf(out, "%s %" PRIu64 "\n", f->metric,
		                    *(const uint64_t *)((const char *)&s +
		                                        f->offset));
	}
	metric_header(out, delay, "histogram", "From an invalidation's "
	              "publishing on another host to its applying here (the "
	              "hosts' wall clocks).");
	for (unsigned b = 0; b < REDIS_DELAY_BUCKETS - 1; b++) {
		below += s.delay_buckets[b];
		evbuffer_add_printf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n",
		                    delay, (double)redis_delay_bounds_us[b] / 1e6,
		                    below);
	}
	evbuffer_add_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
	                    "%s_sum %.6f\n%s_count %" PRIu64 "\n", delay,
	                    s.delay_count, delay, (double)s.delay_sum_us / 1e6,
	                    delay, s.delay_count);
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served");
		return;
	}
	body = evbuffer_new();
	if (body == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	segment_metrics(m, body);
	daemon_metrics(m, body);
	redis_metrics(body);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", "text/plain; version=0.0.4; "
	                  "charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

int metrics_start(struct event_base *base, const struct metrics_source *src,
                  struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof *m);

	*out = m;
	if (m == NULL)
		return -1;
	m->src = *src;
	if (hc_open(src->cfg->name, &m->cache) != 0) {
		log_msg(LOG_ERROR, "segment '%s': attaching for the metrics: %s; "
		        "give more --max-procs", src->cfg->name, hc_last_error());
		return -1;
	}
	m->http = evhttp_new(base);
	if (m->http == NULL)
		return -1;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(m->http, HTTP_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_gencb(m->http, on_request, m);
	if (evhttp_bind_socket(m->http, "127.0.0.1",
	                       (uint16_t)src->cfg->metrics_port) != 0) {
		log_msg(LOG_ERROR, "metrics: HTTP 127.0.0.1:%u: cannot listen; "
		        "give another --metrics-port", src->cfg->metrics_port);
		return -1;
	}
	log_msg(LOG_INFO, "metrics on http://127.0.0.1:%u/metrics",
	        src->cfg->metrics_port);
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->cache != NULL)
		hc_close(m->cache);
	free(m);
}
