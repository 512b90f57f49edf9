/*
 * h_worker - a stress worker for the multi-process tests.
 *
 *   h_worker NAME ID MILLISECONDS [--keys N] [--zipf] [--seed S]
 *
 * Attaches to segment NAME and, until the time is up, runs a mix of get,
 * set, delete, incr and cas on three key spaces:
 *   s:<i>       shared: every worker writes self-verifying values; every
 *               read must verify (selfcheck.h);
 *   p:<ID>:<i>  private: only this worker ID writes them (in this life and
 *               earlier ones); a read must return exactly the value this
 *               life wrote last, or one from an earlier life, or miss:
 *               reads never go back in time;
 *   c:<i>       counters: incr must never find a non-number.
 * Exits 0 when every check held, 1 on the first violation (printed on
 * stderr), 2 on a usage or attach error.  Prints one summary line.
 */
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "selfcheck.h"

#define MAX_KEYS 65536
#define MAX_VALUE 2048

struct worker {
	hc_cache *c;
	uint32_t id;
	uint32_t nkeys;
	uint64_t rng;
	uint64_t life_start;  /* first seq of this life */
	uint64_t seq;
	uint64_t *last;       /* per private key: last seq written, 0 = none */
	double *cdf;          /* Zipf, when chosen */
	uint64_t ops, hits, misses, sets, errors;
};

static uint64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static __attribute__((noreturn)) void violation(const char *what, const char *key,
                                                size_t klen, const char *why)
{
	fprintf(stderr, "h_worker: VIOLATION %s on key '%.*s': %s\n", what,
	        (int)klen, key, why);
	exit(1);
}

/* A crash is a finding: say where, then die of the same signal. */
static void on_crash(int sig)
{
	void *frames[64];
	int n = backtrace(frames, 64);

	fprintf(stderr, "h_worker: CRASH signal %d\n", sig);
	backtrace_symbols_fd(frames, n, 2);
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint32_t pick_key(struct worker *w)
{
	if (w->cdf == NULL)
		return (uint32_t)(sv_rand(&w->rng) % w->nkeys);
	double u = (double)(sv_rand(&w->rng) >> 11) / 9007199254740992.0;
	uint32_t lo = 0, hi = w->nkeys - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (w->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void zipf_init(struct worker *w, double s)
{
	double sum = 0;

	w->cdf = malloc(sizeof(double) * w->nkeys);
	for (uint32_t i = 0; i < w->nkeys; i++)
		sum += 1.0 / pow(i + 1, s);
	double acc = 0;

	for (uint32_t i = 0; i < w->nkeys; i++) {
		acc += 1.0 / pow(i + 1, s) / sum;
		w->cdf[i] = acc;
	}
}

static void check_rc(const char *op, int rc, int ok1, int ok2)
{
	if (rc == 0 || rc == ok1 || rc == ok2)
		return;
	fprintf(stderr, "h_worker: %s failed: %s (%d): %s\n", op,
	        hc_strerror(rc), rc, hc_last_error());
	exit(1);
}

static size_t value_len(struct worker *w)
{
	return SV_MIN + sv_rand(&w->rng) % (MAX_VALUE - SV_MIN);
}

static void op_shared(struct worker *w, unsigned char *buf, unsigned char *val)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "s:%u", pick_key(w));
	unsigned r = (unsigned)(sv_rand(&w->rng) % 100);
	hc_item_info info;
	char why[160];

	if (r < 60) {
		int rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);

		check_rc("get", rc, HC_ENOTFOUND, 0);
		if (rc == 0) {
			w->hits++;
			if (sv_verify(buf, info.vlen, key, (size_t)klen, NULL, why,
			              sizeof why) != 0)
				violation("shared read", key, (size_t)klen, why);
		} else {
			w->misses++;
		}
	} else if (r < 90) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		check_rc("set", hc_set(w->c, key, (size_t)klen, val, len, 0), 0, 0);
		w->sets++;
	} else if (r < 95) {
		check_rc("delete", hc_delete(w->c, key, (size_t)klen), HC_ENOTFOUND, 0);
	} else {
		int rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);

		check_rc("get", rc, HC_ENOTFOUND, 0);
		if (rc != 0)
			return;
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		rc = hc_cas(w->c, key, (size_t)klen, val, len, 0, info.cas, NULL);
		check_rc("cas", rc, HC_ECASMISMATCH, HC_ENOTFOUND);
	}
}

static void op_private(struct worker *w, unsigned char *buf, unsigned char *val)
{
	uint32_t i = pick_key(w);
	char key[32];
	int klen = snprintf(key, sizeof key, "p:%u:%u", w->id, i);
	hc_item_info info;
	struct sv_head h;
	char why[200];

	if (sv_rand(&w->rng) % 2) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		check_rc("set", hc_set(w->c, key, (size_t)klen, val, len, 0), 0, 0);
		w->last[i] = w->seq;
		w->sets++;
		return;
	}
	int rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);

	check_rc("get", rc, HC_ENOTFOUND, 0);
	if (rc != 0)
		return;
	if (sv_verify(buf, info.vlen, key, (size_t)klen, &h, why, sizeof why) != 0)
		violation("private read", key, (size_t)klen, why);
	if (w->last[i] != 0 && h.seq != w->last[i]) {
		snprintf(why, sizeof why, "read seq %llu, last written %llu",
		         (unsigned long long)h.seq, (unsigned long long)w->last[i]);
		violation("private read went back in time", key, (size_t)klen, why);
	}
	if (w->last[i] == 0 && h.seq >= w->life_start) {
		snprintf(why, sizeof why, "read seq %llu never written",
		         (unsigned long long)h.seq);
		violation("private read", key, (size_t)klen, why);
	}
}

static void op_counter(struct worker *w)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "c:%u", pick_key(w) % 64);
	uint64_t v;
	int rc = hc_incr(w->c, key, (size_t)klen, 1, &v);

	if (rc == HC_ENOTFOUND)
		rc = hc_add(w->c, key, (size_t)klen, "0", 1, 0);
	check_rc("incr/add", rc, HC_EEXISTS, 0);
}

int main(int argc, char **argv)
{
	struct worker w;
	double zipf = 0;
	int rc;

	memset(&w, 0, sizeof w);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	if (argc < 4) {
		fprintf(stderr, "usage: h_worker NAME ID MILLISECONDS [--keys N] "
		        "[--zipf] [--seed S]\n");
		return 2;
	}
	w.id = (uint32_t)atoi(argv[2]);
	uint64_t ms = strtoull(argv[3], NULL, 10);

	w.nkeys = 2000;
	w.rng = now_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32) ^ w.id;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
			w.nkeys = (uint32_t)atoi(argv[++i]);
		else if (strcmp(argv[i], "--zipf") == 0)
			zipf = 0.99;
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			w.rng = strtoull(argv[++i], NULL, 10);
	}
	if (w.nkeys == 0 || w.nkeys > MAX_KEYS)
		w.nkeys = 2000;
	if (w.rng == 0)
		w.rng = 1;
	if (zipf > 0)
		zipf_init(&w, zipf);
	/* Sequence numbers grow across lives: a restarted worker starts
	 * above anything an earlier life of its ID wrote. */
	w.life_start = w.seq = now_ns(CLOCK_REALTIME);
	w.last = calloc(w.nkeys, sizeof *w.last);
	if ((rc = hc_open(argv[1], &w.c)) != 0) {
		fprintf(stderr, "h_worker: open %s: %s\n", argv[1], hc_last_error());
		return 2;
	}
	unsigned char *buf = malloc(MAX_VALUE), *val = malloc(MAX_VALUE);
	uint64_t end = now_ns(CLOCK_MONOTONIC) + ms * 1000000ULL;

	while (now_ns(CLOCK_MONOTONIC) < end) {
		for (int i = 0; i < 64; i++, w.ops++) {
			unsigned r = (unsigned)(sv_rand(&w.rng) % 10);

			if (r < 5)
				op_shared(&w, buf, val);
			else if (r < 9)
				op_private(&w, buf, val);
			else
				op_counter(&w);
		}
	}
	printf("worker %u: ops=%llu hits=%llu misses=%llu sets=%llu\n", w.id,
	       (unsigned long long)w.ops, (unsigned long long)w.hits,
	       (unsigned long long)w.misses, (unsigned long long)w.sets);
	hc_close(w.c);
	free(buf);
	free(val);
	free(w.last);
	free(w.cdf);
	return 0;
}
