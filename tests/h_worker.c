/*
 * h_worker - a stress worker for the multi-process tests and the torture
 * supervisor.
 *
 *   h_worker NAME ID MILLISECONDS [--keys N] [--zipf] [--seed S]
 *            [--mix basic|full] [--counters FILE]
 *
 * Attaches to segment NAME and, until the time is up, runs a mix of
 * operations on these key spaces:
 *   s:<i>       shared: every worker writes self-verifying values; every
 *               read must verify (selfcheck.h);
 *   p:<ID>:<i>  private: only this worker ID writes them (in this life and
 *               earlier ones); a read must return exactly the value this
 *               life wrote last, or one from an earlier life, or miss:
 *               reads never go back in time;
 *   c:<i>       counters: incr must never find a non-number.
 *   l:<i>       leased: read with hc_get_or_lease; the process granted the
 *               lease "computes" for up to 2 ms (a window for the
 *               supervisor's kills), then fills it with a self-verifying
 *               value with a short TTL, or now and then abandons it; every
 *               value served, stale ones included, must verify (full mix).
 * With --mix full (the torture supervisor's mix) it also runs add,
 * replace, touch, decr, length probes, hc_maintain, short TTLs and now
 * and then an invalidation of the shared keys (after which none of its own earlier
 * writes may read), and keeps
 *   n:<ID>:<i>  private counters: only this worker changes them, so every
 *               incr/decr result and every read follows from the last
 *               result this life saw;
 * and it tracks which private keys it deleted: until it writes one again,
 * a read of it must miss, a replace or touch must find nothing and an add
 * must succeed, since nobody else writes it.
 *
 * --counters FILE is a shared page of per-worker records (struct
 * worker_counters below) that the supervisor sums: a worker killed at any
 * instruction loses at most the last batch of its counts.
 *
 * Exits 0 when every check held, 1 on the first violation (printed on
 * stderr), 2 on a usage or attach error.  Prints one summary line.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"
#include "internal.h"
#include "selfcheck.h"
#include "worker_counters.h"

#define MAX_KEYS 65536
#define MAX_VALUE 2048
#define NCOUNTERS 64
#define ABSENT UINT64_MAX  /* known absent: deleted by this life */
#define BATCH 64
#define LEASE_KEYS 32

struct worker {
	hc_cache *c;
	uint32_t id;
	uint32_t nkeys;
	int full;             /* --mix full */
	uint64_t rng;
	uint64_t life_start;  /* first seq of this life */
	uint64_t seq;
	uint64_t *last;       /* per private key: last seq written, 0 = unknown,
	                         ABSENT = known absent */
	uint64_t nval[NCOUNTERS];   /* private counters: value + 1, 0 = unknown */
	uint64_t inval_all;   /* our last seq before invalidating "s:" */
	uint64_t inval_s1;    /* ... before invalidating "s:1" (a scan) */
	double *cdf;          /* Zipf, when chosen */
	struct worker_counters n;   /* this batch */
	struct worker_counters *shared; /* the supervisor's record, or NULL */
};

static uint64_t clock_ns(clockid_t id)
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

/* For a finding on KEY: every slot of its bucket, the block each one
 * locates and, where the key matches, the item's CAS id and stamp; the CAS
 * id's top bits name the process slot that wrote it. */
static char miss_dump[4096];

static void dump_bucket_to(FILE *out, hc_cache *c, const char *tag,
                           const char *key, size_t klen)
{
	struct key k;

	key_prepare(c, &k, key, klen);
	fprintf(out, "h_worker: %s: bucket %u of '%.*s' (fp %#x), our slot "
	        "%u, stamp now %llu:\n", tag, k.bucket, (int)klen, key, k.fp,
	        c->slot, (unsigned long long)stamp_now(c));
	for (unsigned i = 0; i < HC_BUCKET_SLOTS; i++) {
		uint64_t w = load_acquire(slot_at(c, k.bucket, i));

		if (w == 0) {
			fprintf(out, "  [%u] empty\n", i);
			continue;
		}
		uint64_t loc = sw_loc(w);
		uint64_t bw = loc < c->item_memory
		                      ? load_acquire(&c->block_words[block_of(c, loc)])
		                      : 0;
		fprintf(out, "  [%u] clock %u gen %u fp %#x loc %llu: block %llu "
		        "state %u owner %u gen %llu", i, sw_clock(w), sw_gen(w),
		        sw_fp(w), (unsigned long long)loc,
		        (unsigned long long)(loc < c->item_memory ? block_of(c, loc) : 0),
		        bw_state(bw), bw_owner(bw), (unsigned long long)bw_gen(bw));
		struct found f;

		if (sw_fp(w) == k.fp && found_locate(c, w, &f) == 0 &&
		    key_matches(&f, &k))
			fprintf(out, " KEY cas %#llx (slot %llu) stamp %llu",
			        (unsigned long long)item_cas(&f.hdr),
			        (unsigned long long)(item_cas(&f.hdr) >> 42) - 1,
			        (unsigned long long)item_stamp(&f.hdr));
		fputc('\n', out);
	}
}

static void dump_bucket(hc_cache *c, const char *tag, const char *key,
                        size_t klen)
{
	dump_bucket_to(stderr, c, tag, key, klen);
}

/* The same into miss_dump, printed only if a finding follows. */
static void note_bucket(hc_cache *c, const char *tag, const char *key,
                        size_t klen)
{
	FILE *f = fmemopen(miss_dump, sizeof miss_dump, "w");

	if (f != NULL) {
		dump_bucket_to(f, c, tag, key, klen);
		fclose(f);
	}
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

/*
 * Accept RC if it is 0, OK1 or OK2.  In the full mix, HC_EBUSY and
 * HC_ENOMEM are what the design allows a bounded retry loop to report
 * under contention: counted (the supervisor prints them), not failures.
 * Returns RC, or 1 for such a tolerated error.
 */
static int check_rc(struct worker *w, const char *op, int rc, int ok1, int ok2)
{
	if (rc == 0 || rc == ok1 || rc == ok2)
		return rc;
	if (w->full && (rc == HC_EBUSY || rc == HC_ENOMEM)) {
		w->n.busy++;
		return 1;
	}
	fprintf(stderr, "h_worker: %s failed: %s (%d): %s\n", op,
	        hc_strerror(rc), rc, hc_last_error());
	exit(1);
}

static size_t value_len(struct worker *w)
{
	return SV_MIN + sv_rand(&w->rng) % (MAX_VALUE - SV_MIN);
}

/* A TTL for the full mix: mostly none, sometimes short enough to expire
 * while the run goes on (expiry then happens in reads and evictions). */
static uint64_t some_ttl(struct worker *w)
{
	if (!w->full || sv_rand(&w->rng) % 8 != 0)
		return 0;
	return 1 + sv_rand(&w->rng) % 200;
}

static void verify_shared(struct worker *w, const char *key, int klen,
                          const unsigned char *buf, size_t len)
{
	struct sv_head h;
	char why[160];

	if (sv_verify(buf, len, key, (size_t)klen, &h, why, sizeof why) != 0)
		violation("shared read", key, (size_t)klen, why);
	w->n.verified++;
	/* Once an invalidation returned, nothing written before it reads:
	 * our own writes up to then (and every earlier life's) are known. */
	uint64_t before = w->inval_all;

	if (klen >= 3 && memcmp(key, "s:1", 3) == 0 && w->inval_s1 > before)
		before = w->inval_s1;
	if (h.writer == w->id && h.seq <= before) {
		snprintf(why, sizeof why, "our write seq %llu was before an "
		         "invalidation that returned (our seq then %llu)",
		         (unsigned long long)h.seq, (unsigned long long)before);
		violation("read after invalidation", key, (size_t)klen, why);
	}
}

/* Invalidate the shared keys: all of them ("s:", O(1)) or those starting
 * "s:1" (an incremental scan). */
static void op_invalidate(struct worker *w)
{
	int all = sv_rand(&w->rng) % 2;
	uint64_t seq = w->seq, count = 0;
	int rc = hc_invalidate_prefix(w->c, all ? "s:" : "s:1", all ? 2 : 3,
	                              &count);

	if (check_rc(w, "invalidate", rc, 0, 0) != 0)
		return;
	if (all)
		w->inval_all = seq;
	else
		w->inval_s1 = seq;
	w->n.invalidations++;
}

static void op_shared(struct worker *w, unsigned char *buf, unsigned char *val)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "s:%u", pick_key(w));
	unsigned r = (unsigned)(sv_rand(&w->rng) % 100);
	hc_item_info info;
	int rc;

	if (r < 60) {
		rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);
		check_rc(w, "get", rc, HC_ENOTFOUND, 0);
		if (rc == 0) {
			w->n.hits++;
			verify_shared(w, key, klen, buf, info.vlen);
		} else {
			w->n.misses++;
		}
	} else if (r < 90) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		if (check_rc(w, "set", hc_set(w->c, key, (size_t)klen, val, len,
		                              some_ttl(w)), 0, 0) == 0)
			w->n.sets++;
	} else if (r < 95) {
		rc = hc_delete(w->c, key, (size_t)klen);
		if (check_rc(w, "delete", rc, HC_ENOTFOUND, 0) == 0)
			w->n.deletes++;
	} else if (!w->full || r < 97) {
		rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);
		check_rc(w, "get", rc, HC_ENOTFOUND, 0);
		if (rc != 0)
			return;
		verify_shared(w, key, klen, buf, info.vlen);
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		rc = hc_cas(w->c, key, (size_t)klen, val, len, 0, info.cas, NULL);
		if (check_rc(w, "cas", rc, HC_ECASMISMATCH, HC_ENOTFOUND) == 0)
			w->n.cas++;
	} else if (r < 98) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		rc = r % 2 ? hc_add(w->c, key, (size_t)klen, val, len, some_ttl(w))
		           : hc_replace(w->c, key, (size_t)klen, val, len, 0);
		if (check_rc(w, "add/replace", rc, HC_EEXISTS, HC_ENOTFOUND) == 0)
			w->n.sets++;
	} else if (r < 99) {
		rc = hc_touch(w->c, key, (size_t)klen, some_ttl(w));
		if (check_rc(w, "touch", rc, HC_ENOTFOUND, 0) == 0)
			w->n.touches++;
	} else if (w->full && w->seq % 4 == 0) {
		/* Housekeeping ahead of the writers: killed in the middle,
		 * its walk is finished by the reaper. */
		long freed = hc_maintain(w->c, 200);

		check_rc(w, "maintain", freed < 0 ? (int)freed : 0, 0, 0);
	} else {
		/* A length probe, then a read into a buffer of exactly that
		 * size. */
		size_t len = 0;

		rc = hc_get(w->c, key, (size_t)klen, NULL, 0, &len);
		check_rc(w, "probe", rc, HC_EBUFSIZE, HC_ENOTFOUND);
		if (rc != HC_EBUFSIZE)
			return;
		rc = hc_get_ex(w->c, key, (size_t)klen, buf, len, &info);
		check_rc(w, "get", rc, HC_ENOTFOUND, HC_EBUFSIZE);
		if (rc == 0)
			verify_shared(w, key, klen, buf, info.vlen);
	}
}

/* Read private key I and check it against what this life knows. */
static void private_read(struct worker *w, uint32_t i, const char *key,
                         int klen, unsigned char *buf)
{
	hc_item_info info;
	struct sv_head h;
	char why[200];
	int rc = hc_get_ex(w->c, key, (size_t)klen, buf, MAX_VALUE, &info);

	check_rc(w, "get", rc, HC_ENOTFOUND, 0);
	if (rc != 0) {
		/* A miss proves nothing lasting: a read may give up under
		 * contention (DESIGN: retry caps), so only a delete makes a
		 * key known absent. */
		w->n.misses++;
		return;
	}
	w->n.hits++;
	if (sv_verify(buf, info.vlen, key, (size_t)klen, &h, why, sizeof why) != 0)
		violation("private read", key, (size_t)klen, why);
	w->n.verified++;
	if (w->last[i] == ABSENT)
		violation("private read", key, (size_t)klen,
		          "a key this worker deleted came back");
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

/* A private store that took: the key now holds this life's next seq. */
static void private_stored(struct worker *w, uint32_t i)
{
	w->last[i] = ++w->seq;
	w->n.sets++;
}

/* Only this worker writes its private keys, so one it deleted stays
 * absent: a call that FOUND private key I there anyway is a violation. */
static void check_not_deleted(struct worker *w, uint32_t i, bool found,
                              const char *what, const char *key, int klen,
                              const char *why)
{
	if (found && w->last[i] == ABSENT)
		violation(what, key, (size_t)klen, why);
}

/*
 * RC of a private write OP that needs the key there (replace, delete,
 * touch): HC_ENOTFOUND is an answer, but success on a key this worker
 * deleted is a violation (WHY says which).  Returns what check_rc does:
 * 0 when the write took, HC_ENOTFOUND when the key was not there, 1 for
 * a tolerated error.
 */
static int private_write_on_key(struct worker *w, uint32_t i, const char *op,
                                int rc, const char *key, int klen,
                                const char *why)
{
	char what[32];

	rc = check_rc(w, op, rc, HC_ENOTFOUND, 0);
	if (rc != 1) {
		snprintf(what, sizeof what, "private %s", op);
		check_not_deleted(w, i, rc == 0, what, key, klen, why);
	}
	return rc;
}

/* The full mix's private writes beyond set: add, replace, delete, touch. */
static void private_write_full(struct worker *w, uint32_t i, const char *key,
                               int klen, unsigned char *val)
{
	unsigned r = (unsigned)(sv_rand(&w->rng) % 4);
	size_t len = value_len(w);
	int rc;

	sv_make(val, len, key, (size_t)klen, w->id, w->seq + 1);
	switch (r) {
	case 0:
		rc = hc_add(w->c, key, (size_t)klen, val, len, some_ttl(w));
		if (check_rc(w, "add", rc, HC_EEXISTS, 0) == 1)
			return;
		check_not_deleted(w, i, rc == HC_EEXISTS, "private add", key,
		                  klen, "HC_EEXISTS for a key known absent");
		if (rc == 0)
			private_stored(w, i);
		return;
	case 1:
		rc = hc_replace(w->c, key, (size_t)klen, val, len, some_ttl(w));
		if (private_write_on_key(w, i, "replace", rc, key, klen,
		                         "replaced a key known absent") == 0)
			private_stored(w, i);
		return;
	case 2:
		rc = hc_delete(w->c, key, (size_t)klen);
		rc = private_write_on_key(w, i, "delete", rc, key, klen,
		                          "deleted a key known absent");
		if (rc == 1)
			return;
		if (rc == 0)
			w->n.deletes++;
		w->last[i] = ABSENT;
		return;
	default:
		rc = hc_touch(w->c, key, (size_t)klen, some_ttl(w));
		if (private_write_on_key(w, i, "touch", rc, key, klen,
		                         "touched a key known absent") == 0)
			w->n.touches++;
		return;
	}
}

static void op_private(struct worker *w, unsigned char *buf, unsigned char *val)
{
	uint32_t i = pick_key(w);
	char key[32];
	int klen = snprintf(key, sizeof key, "p:%u:%u", w->id, i);
	unsigned r = (unsigned)(sv_rand(&w->rng) % 8);

	if (r < 3) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, w->seq + 1);
		if (check_rc(w, "set", hc_set(w->c, key, (size_t)klen, val, len,
		                              some_ttl(w)), 0, 0) == 1)
			return;
		private_stored(w, i);
	} else if (r == 3 && w->full) {
		private_write_full(w, i, key, klen, val);
	} else if (r == 3) {
		size_t len = value_len(w);

		sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
		check_rc(w, "set", hc_set(w->c, key, (size_t)klen, val, len, 0), 0, 0);
		w->last[i] = w->seq;
		w->n.sets++;
	} else {
		private_read(w, i, key, klen, buf);
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
	if (check_rc(w, "incr/add", rc, HC_EEXISTS, 0) == 0)
		w->n.arith++;
}

/* A private counter: every result follows from the last one seen. */
static void op_private_counter(struct worker *w, unsigned char *buf)
{
	uint32_t i = (uint32_t)(sv_rand(&w->rng) % NCOUNTERS);
	char key[32], why[160];
	int klen = snprintf(key, sizeof key, "n:%u:%u", w->id, i);
	uint64_t delta = sv_rand(&w->rng) % 1000, v = 0;
	unsigned r = (unsigned)(sv_rand(&w->rng) % 4);
	size_t len;
	int rc;

	if (r == 0) {
		rc = hc_get(w->c, key, (size_t)klen, buf, MAX_VALUE, &len);
		check_rc(w, "get", rc, HC_ENOTFOUND, 0);
		if (rc != 0)
			return;
		char digits[32];

		if (len == 0 || len > 20)
			violation("private counter read", key, (size_t)klen,
			          "not a number");
		memcpy(digits, buf, len);
		digits[len] = '\0';
		v = strtoull(digits, NULL, 10);
		if (w->nval[i] != 0 && v != w->nval[i] - 1) {
			snprintf(why, sizeof why, "read %llu, last result %llu",
			         (unsigned long long)v,
			         (unsigned long long)(w->nval[i] - 1));
			violation("private counter read", key, (size_t)klen, why);
		}
		w->nval[i] = v + 1;
		return;
	}
	rc = r == 1 ? hc_decr(w->c, key, (size_t)klen, delta, &v)
	            : hc_incr(w->c, key, (size_t)klen, delta, &v);
	if (check_rc(w, "incr/decr", rc, HC_ENOTFOUND, 0) == 1)
		return;
	if (rc == 0) {
		if (w->nval[i] != 0) {
			uint64_t was = w->nval[i] - 1;
			uint64_t want = r == 1 ? (was > delta ? was - delta : 0)
			                       : was + delta;

			if (v != want) {
				snprintf(why, sizeof why, "result %llu, expected "
				         "%llu (last %llu, %s %llu)",
				         (unsigned long long)v, (unsigned long long)want,
				         (unsigned long long)was, r == 1 ? "decr" : "incr",
				         (unsigned long long)delta);
				violation("private counter", key, (size_t)klen, why);
			}
		}
		w->nval[i] = v + 1;
		w->n.arith++;
		return;
	}
	/* Missing: nobody else writes it, so an add must succeed. */
	note_bucket(w->c, "incr missed", key, (size_t)klen);
	rc = hc_add(w->c, key, (size_t)klen, "7", 1, 0);
	if (check_rc(w, "add", rc, HC_EEXISTS, 0) == 1) {
		w->nval[i] = 0;
		return;
	}
	if (rc == HC_EEXISTS) {
		fputs(miss_dump, stderr);
		dump_bucket(w->c, "after add", key, (size_t)klen);
		violation("private counter", key, (size_t)klen,
		          "incr found nothing, then add found it present");
	}
	w->nval[i] = 7 + 1;
}

/* A leased key: read it, or compute and fill it under the lease. */
static void op_lease(struct worker *w, unsigned char *buf, unsigned char *val)
{
	char key[32];
	int klen = snprintf(key, sizeof key, "l:%u",
	                    (unsigned)(sv_rand(&w->rng) % LEASE_KEYS));
	uint64_t lease_ms = 20 + sv_rand(&w->rng) % 200;
	uint64_t wait_ms = sv_rand(&w->rng) % 4 == 0 ? 0 : sv_rand(&w->rng) % 30;
	hc_item_info info;
	hc_lease lease;
	int rc = hc_get_or_lease(w->c, key, (size_t)klen, buf, MAX_VALUE, &info,
	                         lease_ms, wait_ms, &lease);

	check_rc(w, "get_or_lease", rc, HC_ENOTFOUND, HC_ETIMEDOUT);
	if (rc == HC_ETIMEDOUT) {
		w->n.lease_waits++;
		return;
	}
	if (rc == 0) {
		char why[160];

		w->n.hits++;
		if (sv_verify(buf, info.vlen, key, (size_t)klen, NULL, why,
		              sizeof why) != 0)
			violation(info.stale ? "stale leased read" : "leased read",
			          key, (size_t)klen, why);
		w->n.verified++;
	}
	if (!lease.held)
		return;
	w->n.lease_grants++;
	/* The computation: a window in which we hold the lease. */
	uint64_t us = sv_rand(&w->rng) % 2000;

	if (us > 0)
		usleep((useconds_t)us);
	if (sv_rand(&w->rng) % 8 == 0) {
		rc = hc_lease_abandon(w->c, &lease);
		check_rc(w, "lease_abandon", rc, HC_ENOLEASE, 0);
		return;
	}
	size_t len = value_len(w);
	hc_set_options opt;

	memset(&opt, 0, sizeof opt);
	opt.ttl_ms = 1 + sv_rand(&w->rng) % 100;
	opt.compute_ms = (uint32_t)(us / 1000);
	sv_make(val, len, key, (size_t)klen, w->id, ++w->seq);
	rc = hc_lease_fill(w->c, &lease, key, (size_t)klen, val, len, &opt);
	if (check_rc(w, "lease_fill", rc, HC_ENOLEASE, 0) == 0)
		w->n.sets++;
}

/* Publish this batch into the supervisor's record. */
static void counters_flush(struct worker *w)
{
	if (w->shared == NULL)
		return;
	worker_counters_add(w->shared, &w->n);
	__atomic_store_n(&w->shared->heartbeat_ns, clock_ns(CLOCK_MONOTONIC),
	                 __ATOMIC_RELAXED);
	memset(&w->n, 0, sizeof w->n);
}

static struct worker_counters *counters_map(const char *path, uint32_t id)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "h_worker: open %s: %s\n", path, strerror(errno));
		exit(2);
	}
	size_t size = WORKER_COUNTERS_MAX * sizeof(struct worker_counters);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	close(fd);
	if (p == MAP_FAILED || id >= WORKER_COUNTERS_MAX) {
		fprintf(stderr, "h_worker: cannot map counters %s for id %u\n",
		        path, id);
		exit(2);
	}
	return (struct worker_counters *)p + id;
}

static void one_op(struct worker *w, unsigned char *buf, unsigned char *val)
{
	unsigned r = (unsigned)(sv_rand(&w->rng) % 10);

	if (r < 5)
		op_shared(w, buf, val);
	else if (r < 9)
		op_private(w, buf, val);
	else if (w->full && sv_rand(&w->rng) % 2048 == 0)
		op_invalidate(w);
	else if (w->full && sv_rand(&w->rng) % 4 == 0)
		op_lease(w, buf, val);
	else if (w->full && sv_rand(&w->rng) % 2)
		op_private_counter(w, buf);
	else
		op_counter(w);
}

int main(int argc, char **argv)
{
	struct worker w;
	const char *counters = NULL;
	double zipf = 0;
	int rc;

	memset(&w, 0, sizeof w);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	signal(SIGFPE, on_crash);
	signal(SIGILL, on_crash);
	if (argc < 4) {
		fprintf(stderr, "usage: h_worker NAME ID MILLISECONDS [--keys N] "
		        "[--zipf] [--seed S] [--mix basic|full] "
		        "[--counters FILE]\n");
		return 2;
	}
	w.id = (uint32_t)atoi(argv[2]);
	uint64_t ms = strtoull(argv[3], NULL, 10);

	w.nkeys = 2000;
	w.rng = clock_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32) ^ w.id;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
			w.nkeys = (uint32_t)atoi(argv[++i]);
		else if (strcmp(argv[i], "--zipf") == 0)
			zipf = 0.99;
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			w.rng = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--mix") == 0 && i + 1 < argc)
			w.full = strcmp(argv[++i], "full") == 0;
		else if (strcmp(argv[i], "--counters") == 0 && i + 1 < argc)
			counters = argv[++i];
	}
	if (w.nkeys == 0 || w.nkeys > MAX_KEYS)
		w.nkeys = 2000;
	if (w.rng == 0)
		w.rng = 1;
	if (zipf > 0)
		zipf_init(&w, zipf);
	if (counters != NULL) {
		w.shared = counters_map(counters, w.id);
		__atomic_fetch_add(&w.shared->lives, 1, __ATOMIC_RELAXED);
	}
	/* Sequence numbers grow across lives: a restarted worker starts
	 * above anything an earlier life of its ID wrote. */
	w.life_start = w.seq = clock_ns(CLOCK_REALTIME);
	w.last = calloc(w.nkeys, sizeof *w.last);
	if ((rc = hc_open(argv[1], &w.c)) != 0) {
		fprintf(stderr, "h_worker: open %s: %s\n", argv[1], hc_last_error());
		return 2;
	}
	if (w.shared != NULL)
		__atomic_fetch_add(&w.shared->attached, 1, __ATOMIC_RELAXED);
	unsigned char *buf = malloc(MAX_VALUE), *val = malloc(MAX_VALUE);
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + ms * 1000000ULL;
	uint64_t ops = 0, hits = 0, misses = 0, sets = 0;

	while (clock_ns(CLOCK_MONOTONIC) < end) {
		for (int i = 0; i < BATCH; i++)
			one_op(&w, buf, val);
		w.n.ops += BATCH;
		ops += w.n.ops;
		hits += w.n.hits;
		misses += w.n.misses;
		sets += w.n.sets;
		if (w.shared != NULL)
			counters_flush(&w);
		else
			memset(&w.n, 0, sizeof w.n);
	}
	printf("worker %u: ops=%llu hits=%llu misses=%llu sets=%llu\n", w.id,
	       (unsigned long long)ops, (unsigned long long)hits,
	       (unsigned long long)misses, (unsigned long long)sets);
	hc_close(w.c);
	free(buf);
	free(val);
	free(w.last);
	free(w.cdf);
	return 0;
}
