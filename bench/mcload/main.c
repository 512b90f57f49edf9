/*
 * mcload - a load generator for memcached-compatible servers.
 *
 *   mcload (--unix PATH | --tcp HOST:PORT) [--proto text|binary]
 *          [--conns N] [--threads T] [--pipeline D]
 *          [--keys K] [--key-size B] [--value-size B] [--zipf THETA]
 *          [--get-ratio R] [--seconds S | --ops N] [--warm] [--seed N]
 *          [--timeout S] [--wait S] [--label NAME]
 *
 * N connections (default 1) spread over T threads (default 1), each
 * connection keeping D requests in flight (default 1).  Requests are gets
 * (a fraction R of them, default 0.9) and sets of K keys (default 10000)
 * of B bytes ("k000…123", default 16), uniform or Zipf(THETA) over the
 * keys (rank 0 the hottest; THETA >= 1 is drawn exactly), with values of
 * --value-size bytes (default 64).  A key's value and flags depend only on
 * the key and the value size, so that every get can be checked against
 * what any set of that key stored.  --warm sets every key once, untimed,
 * before the timed phase of S seconds (default 2) or N requests.  A
 * request unanswered for --timeout seconds (default 5) is an error;
 * --wait S retries connecting for S seconds (default 0) while nothing
 * listens yet, for a server just started.
 *
 * Prints one JSON object a line for gets, sets and all requests, then a
 * table: requests per second, the hit ratio of gets, p50, p99 and p999 of
 * the time from queueing a request to reading its reply.  Every reply is
 * checked (proto.c); the exit status is 1 when any was wrong or any
 * connection failed, 2 when the run could not start.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcload.h"

static const char *const op_names[OP_COUNT] = { "get", "set" };

/* ---- workload ------------------------------------------------------------ */

void key_format(const struct workload *w, uint64_t index, char *out)
{
	unsigned i = w->opt->key_size;

	/* Digits from the end, zeros before them, a letter first. */
	while (i > 1) {
		out[--i] = (char)('0' + index % 10);
		index /= 10;
	}
	out[0] = 'k';
}

uint64_t key_next(const struct workload *w, uint64_t *rng)
{
	double theta = w->opt->zipf;

	if (theta == 0)
		return kit_uniform(rng, w->opt->keys);
	if (theta < 1)
		return kit_zipf_next(&w->zipf, rng);
	return kit_zipf_table_rank(&w->table, kit_rng_unit(rng));
}

static int workload_init(struct workload *w, const struct options *o)
{
	size_t n = o->value_size + PATTERN_SHIFTS;
	uint64_t state = 0x6d636c6f6164;       /* the same in every run */

	w->opt = o;
	w->max_request = proto_max_request(o);
	w->max_reply = proto_max_reply(o);
	w->pattern = malloc(n);
	if (w->pattern == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		w->pattern[i] = (char)('a' + kit_rng_next(&state) % 26);
	if (o->zipf > 0 && o->zipf < 1)
		kit_zipf_init(&w->zipf, o->keys, o->zipf);
	if (o->zipf >= 1)
		return kit_zipf_table_init(&w->table, (uint32_t)o->keys, o->zipf);
	return 0;
}

/* ---- options ------------------------------------------------------------- */

/* Print the usage, to stderr with WHY and exit status 2, or to stdout
 * (--help, WHY NULL) with 0. */
static void usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "mcload: %s\n", why);
	fprintf(why != NULL ? stderr : stdout,
	    "usage: mcload (--unix PATH | --tcp HOST:PORT) [--proto text|binary]\n"
	    "              [--conns N] [--threads T] [--pipeline D] [--keys K]\n"
	    "              [--key-size B] [--value-size B] [--zipf THETA]\n"
	    "              [--get-ratio R] [--seconds S | --ops N] [--warm]\n"
	    "              [--seed N] [--timeout S] [--wait S] [--label NAME]\n");
	exit(why != NULL ? 2 : 0);
}

static double number(const char *arg, const char *name, double lo, double hi)
{
	char *end, why[128];
	double v = strtod(arg, &end);

	if (end == arg || *end != '\0' || !(v >= lo && v <= hi)) {
		snprintf(why, sizeof why, "%s %s: want a number from %g to %g",
		         name, arg, lo, hi);
		usage(why);
	}
	return v;
}

static void split_host_port(struct options *o, char *arg)
{
	char *colon = strrchr(arg, ':');

	if (colon == NULL || colon == arg || colon[1] == '\0')
		usage("--tcp wants HOST:PORT, for example 127.0.0.1:11211");
	*colon = '\0';
	o->tcp_host = arg;
	o->tcp_port = colon + 1;
}

static void check_options(const struct options *o)
{
	unsigned digits = 1;

	for (uint64_t k = o->keys - 1; k >= 10; k /= 10)
		digits++;
	if ((o->unix_path == NULL) == (o->tcp_host == NULL))
		usage("give one target: --unix PATH or --tcp HOST:PORT");
	if (o->key_size < digits + 1)
		usage("--key-size too small to number --keys keys");
	if (o->threads > o->conns)
		usage("--threads more than --conns would leave threads idle");
	if (o->zipf >= 1 && o->keys > UINT32_MAX)
		usage("--zipf >= 1 draws from a table of at most 2^32 keys");
}

static void parse_options(struct options *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "unix", 1, 0, 'u' }, { "tcp", 1, 0, 't' },
		{ "proto", 1, 0, 'P' }, { "conns", 1, 0, 'c' },
		{ "threads", 1, 0, 'T' }, { "pipeline", 1, 0, 'd' },
		{ "keys", 1, 0, 'k' }, { "key-size", 1, 0, 'K' },
		{ "value-size", 1, 0, 'v' }, { "zipf", 1, 0, 'z' },
		{ "get-ratio", 1, 0, 'g' }, { "seconds", 1, 0, 's' },
		{ "ops", 1, 0, 'n' }, { "warm", 0, 0, 'w' },
		{ "seed", 1, 0, 'S' }, { "timeout", 1, 0, 'o' },
		{ "wait", 1, 0, 'W' }, { "label", 1, 0, 'l' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (ch) {
		case 'u': o->unix_path = optarg; break;
		case 't': split_host_port(o, optarg); break;
		case 'P':
			if (strcmp(optarg, "text") && strcmp(optarg, "binary"))
				usage("--proto is text or binary");
			o->proto = optarg[0] == 't' ? PROTO_TEXT : PROTO_BINARY;
			break;
		case 'c': o->conns = (unsigned)number(optarg, "--conns", 1, 10000); break;
		case 'T': o->threads = (unsigned)number(optarg, "--threads", 1, 256); break;
		case 'd': o->pipeline = (unsigned)number(optarg, "--pipeline", 1, 4096); break;
		case 'k': o->keys = (uint64_t)number(optarg, "--keys", 1, 1e12); break;
		case 'K': o->key_size = (unsigned)number(optarg, "--key-size", 2, 250); break;
		case 'v': o->value_size = (unsigned)number(optarg, "--value-size", 0, 1 << 20); break;
		case 'z': o->zipf = number(optarg, "--zipf", 0, 10); break;
		case 'g': o->get_ratio = number(optarg, "--get-ratio", 0, 1); break;
		case 's': o->seconds = number(optarg, "--seconds", 0.001, 1e6); break;
		case 'n': o->ops = (uint64_t)number(optarg, "--ops", 1, 1e15); break;
		case 'w': o->warm = true; break;
		case 'S': o->seed = (uint64_t)number(optarg, "--seed", 0, 1e18); break;
		case 'o': o->timeout = number(optarg, "--timeout", 0.001, 1e6); break;
		case 'W': o->wait = number(optarg, "--wait", 0, 3600); break;
		case 'l': o->label = optarg; break;
		case 'h': usage(NULL); break;
		default: usage("unknown option (--help lists them)");
		}
	}
	if (optind < argc)
		usage("unexpected arguments");
	check_options(o);
}

/* ---- threads ------------------------------------------------------------- */

struct thread {
	pthread_t tid;
	struct worker *worker;
	const struct options *opt;
	pthread_barrier_t *start;       /* after the warm phase */
	uint64_t end_ns;
};

static void *thread_main(void *arg)
{
	struct thread *t = arg;

	if (t->opt->warm)
		worker_warm(t->worker);
	pthread_barrier_wait(t->start);
	worker_run(t->worker, kit_now_ns() + (uint64_t)(t->opt->seconds * 1e9),
	           t->opt->ops);
	t->end_ns = kit_now_ns();
	return NULL;
}

/* Run the threads; the seconds of the timed phase, from the common start
 * to the last thread's end, and in *CPU_NS the CPU time mcload took in it
 * (the server's share of the machine is what is left). */
static double run_threads(struct thread *t, unsigned n, uint64_t *cpu_ns)
{
	pthread_barrier_t start;
	uint64_t t0, cpu0, end = 0;

	pthread_barrier_init(&start, NULL, n + 1);
	for (unsigned i = 0; i < n; i++) {
		t[i].start = &start;
		if (pthread_create(&t[i].tid, NULL, thread_main, &t[i]) != 0) {
			fprintf(stderr, "mcload: cannot start a thread\n");
			exit(2);
		}
	}
	pthread_barrier_wait(&start);
	t0 = kit_now_ns();
	cpu0 = kit_cpu_ns();
	for (unsigned i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		if (t[i].end_ns > end)
			end = t[i].end_ns;
	}
	*cpu_ns = kit_cpu_ns() - cpu0;
	pthread_barrier_destroy(&start);
	return (double)(end - t0) / 1e9;
}

static void stats_merge(struct stats *into, const struct stats *from)
{
	for (int op = 0; op < OP_COUNT; op++) {
		kit_hist_merge(&into->hist[op], &from->hist[op]);
		into->ops[op] += from->ops[op];
	}
	into->hits += from->hits;
	into->misses += from->misses;
	into->errors += from->errors;
}

/* ---- report -------------------------------------------------------------- */

struct line {
	const char *op;
	uint64_t ops;
	const struct kit_hist *hist;
	double hit_ratio;               /* < 0: not a get */
};

/* The timed phase as a whole. */
struct run {
	double seconds;
	uint64_t cpu_ns;                /* mcload's own */
	uint64_t ops, errors;
};

static void print_json(const struct options *o, const struct line *l,
                       const struct run *run)
{
	double seconds = run->seconds;
	struct kit_json j;

	kit_json_begin(&j, stdout);
	kit_json_str(&j, "bench", "mcload");
	kit_json_str(&j, "server", o->label);
	kit_json_str(&j, "transport", o->unix_path ? "unix" : "tcp");
	kit_json_str(&j, "proto", o->proto == PROTO_TEXT ? "text" : "binary");
	kit_json_uint(&j, "conns", o->conns);
	kit_json_uint(&j, "threads", o->threads);
	kit_json_uint(&j, "pipeline", o->pipeline);
	kit_json_uint(&j, "keys", o->keys);
	kit_json_uint(&j, "key_size", o->key_size);
	kit_json_uint(&j, "value_size", o->value_size);
	kit_json_g(&j, "zipf", o->zipf);
	kit_json_num(&j, "get_ratio", 3, o->get_ratio);
	kit_json_str(&j, "op", l->op);
	kit_json_uint(&j, "ops", l->ops);
	kit_json_num(&j, "seconds", 3, seconds);
	kit_json_num(&j, "ops_per_sec", 0, seconds > 0 ? l->ops / seconds : 0);
	if (l->hit_ratio >= 0)
		kit_json_num(&j, "hit_ratio", 4, l->hit_ratio);
	else
		kit_json_null(&j, "hit_ratio");
	kit_json_num(&j, "p50_ns", 0, kit_hist_percentile(l->hist, 0.50));
	kit_json_num(&j, "p99_ns", 0, kit_hist_percentile(l->hist, 0.99));
	kit_json_num(&j, "p999_ns", 0, kit_hist_percentile(l->hist, 0.999));
	kit_json_num(&j, "client_cpus", 3,
	             seconds > 0 ? run->cpu_ns / 1e9 / seconds : 0);
	kit_json_num(&j, "client_cpu_ns_per_op", 0,
	             run->ops ? (double)run->cpu_ns / (double)run->ops : 0);
	kit_json_uint(&j, "errors", run->errors);
	kit_json_end(&j);
}

static void print_header(const struct options *o, const struct run *run)
{
	double seconds = run->seconds;

	printf("# mcload against %s: %s protocol over %s%s%s%s\n", o->label,
	       o->proto == PROTO_TEXT ? "text" : "binary",
	       o->unix_path ? "unix:" : "tcp:",
	       o->unix_path ? o->unix_path : o->tcp_host,
	       o->unix_path ? "" : ":", o->unix_path ? "" : o->tcp_port);
	printf("# %u connection%s on %u thread%s, %u request%s in flight each; "
	       "%llu keys of %u B, values of %u B, ", o->conns,
	       o->conns > 1 ? "s" : "", o->threads, o->threads > 1 ? "s" : "",
	       o->pipeline, o->pipeline > 1 ? "s" : "",
	       (unsigned long long)o->keys, o->key_size, o->value_size);
	if (o->zipf > 0)
		printf("Zipf %.2f", o->zipf);
	else
		printf("uniform");
	printf(", %.0f%% gets; %.2f s%s\n", o->get_ratio * 100, seconds,
	       o->warm ? ", after setting every key" : "");
	printf("# mcload itself used %.2f CPUs, %.1f us of CPU a request\n",
	       seconds > 0 ? run->cpu_ns / 1e9 / seconds : 0,
	       run->ops ? (double)run->cpu_ns / (double)run->ops / 1e3 : 0);
	if (o->pipeline > 1)
		printf("# latency: queued to replied, %u requests in flight a "
		       "connection (the wait behind earlier replies included)\n",
		       o->pipeline);
	printf("%-4s %12s %12s %8s %10s %10s %10s\n", "op", "requests",
	       "per second", "hits", "p50 us", "p99 us", "p999 us");
}

static void print_row(const struct line *l, double seconds)
{
	char hits[16] = "-";

	if (l->hit_ratio >= 0)
		snprintf(hits, sizeof hits, "%.4f", l->hit_ratio);
	printf("%-4s %12llu %12.0f %8s %10.1f %10.1f %10.1f\n", l->op,
	       (unsigned long long)l->ops, seconds > 0 ? l->ops / seconds : 0,
	       hits, kit_hist_percentile(l->hist, 0.50) / 1e3,
	       kit_hist_percentile(l->hist, 0.99) / 1e3,
	       kit_hist_percentile(l->hist, 0.999) / 1e3);
}

static void report(const struct options *o, const struct stats *s,
                   struct run *run)
{
	static struct kit_hist all;
	struct line lines[OP_COUNT + 1];
	uint64_t gets = s->hits + s->misses;

	kit_hist_clear(&all);
	for (int op = 0; op < OP_COUNT; op++) {
		kit_hist_merge(&all, &s->hist[op]);
		lines[op] = (struct line){ op_names[op], s->ops[op], &s->hist[op],
		                           -1 };
	}
	lines[OP_GET].hit_ratio = gets ? (double)s->hits / (double)gets : -1;
	lines[OP_COUNT] = (struct line){ "all", s->ops[OP_GET] + s->ops[OP_SET],
	                                 &all, lines[OP_GET].hit_ratio };
	run->ops = lines[OP_COUNT].ops;
	run->errors = s->errors;
	for (int i = 0; i <= OP_COUNT; i++)
		print_json(o, &lines[i], run);
	print_header(o, run);
	for (int i = 0; i <= OP_COUNT; i++)
		print_row(&lines[i], run->seconds);
	printf("protocol errors: %llu\n", (unsigned long long)s->errors);
}

static void workload_free(struct workload *w)
{
	free(w->pattern);
	if (w->opt->zipf >= 1)
		kit_zipf_table_free(&w->table);
}

/* Connect every thread's share of the connections: 0, or -1 with a
 * message printed. */
static int connect_all(struct thread *t, const struct workload *w)
{
	const struct options *o = w->opt;

	for (unsigned i = 0; i < o->threads; i++) {
		unsigned first = o->conns * i / o->threads;

		t[i].opt = o;
		t[i].worker = worker_new(w, i, first,
		                         o->conns * (i + 1) / o->threads - first);
		if (t[i].worker == NULL)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = {
		.proto = PROTO_TEXT, .conns = 1, .threads = 1, .pipeline = 1,
		.keys = 10000, .key_size = 16, .value_size = 64,
		.get_ratio = 0.9, .seconds = 2, .seed = 1, .timeout = 5,
		.label = "server",
	};
	static struct stats total;
	struct workload w = { .opt = &o };
	struct thread *t = NULL;
	struct run run = { 0 };
	int status = 2;

	parse_options(&o, argc, argv);
	if (workload_init(&w, &o) < 0 ||
	    (t = calloc(o.threads, sizeof *t)) == NULL) {
		fprintf(stderr, "mcload: out of memory for the workload\n");
		goto out;
	}
	if (connect_all(t, &w) < 0)
		goto out;
	run.seconds = run_threads(t, o.threads, &run.cpu_ns);

	for (unsigned i = 0; i < o.threads; i++)
		stats_merge(&total, worker_stats(t[i].worker));
	report(&o, &total, &run);
	status = total.errors ? 1 : 0;
out:
	for (unsigned i = 0; t != NULL && i < o.threads; i++)
		worker_free(t[i].worker);
	free(t);
	workload_free(&w);
	return status;
}
