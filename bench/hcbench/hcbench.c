/*
 * bench_compare.c - hostcache against what a host would use instead.
 *
 *   bench_compare [--memcached SOCKET] [--redis SOCKET] [--procs N,N..]
 *                 [--reps N] [--seconds S] [--quick] [--json]
 *                 [--plot-data FILE]
 *
 *   --procs N,N..  process counts (default 1,2)
 *   --reps N       repetitions of everything, interleaved (default 5)
 *   --seconds S    throughput phase of one measurement (default 0.3)
 *   --quick        one repetition of 0.2 s (about half a minute)
 *
 * Implementations, measured side by side in one run, interleaved, so that
 * other work on the machine weighs on all of them alike:
 *
 *   hostcache  the library: a segment per value size with item memory for
 *              three times the keys and avg_item_size set to their item
 *              size, every process attached to it
 *   private    an open-addressing hash table in the process's own memory,
 *              no lock, no sharing: the floor of what any cache can cost
 *   mutex      the same table in shared memory behind one process-shared
 *              pthread mutex (what a naive shared-memory cache does)
 *   rwlock     likewise behind one process-shared pthread rwlock
 *   memcached  memcached over a unix socket, through libmemcached, one
 *              request at a time (ASCII protocol, its default)
 *   redis      redis-server over a unix socket, through hiredis, one
 *              request at a time
 *
 * The servers are started and stopped by bench/compare.sh; an
 * implementation whose socket is not given is skipped.
 *
 * Workloads (16-byte keys):
 *   get_hit   gets of present keys, uniform: 32 B values over 100,000 keys
 *             and 4 KiB values over 10,000 keys
 *   set       overwrites of present keys, uniform, 32 B values
 *   ycsb_b    95% get / 5% set, Zipf(0.99), 256 B values, 100,000 keys
 *   ycsb_a    50% get / 50% set, same keys
 *   hot_key   every process reads one key, 32 B value
 *
 * Each measurement forks N processes; each connects or attaches on its
 * own, warms up for a tenth of the run, then counts operations for S
 * seconds (throughput, wall clock, and the process's CPU time), then times
 * every operation for S/2 seconds into a log-linear histogram (latency;
 * the cost of the clock reads, calibrated at start, is subtracted).  Key
 * choices are drawn before the clock starts.  Every value read is checked
 * against the key it was read for.
 *
 * Numbers from a shared machine move from run to run: compare the ratios
 * taken within one repetition (the implementations of a workload run
 * back to back), never absolute nanoseconds across runs.  The p50 ratio is
 * the steadiest: a process that loses its CPU to other work stretches the
 * wall-clock throughput of its run but barely moves its median operation.
 * The exit status is non-zero only on an error (a failed call, a wrong
 * value), never because of a timing.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <xxhash.h>

#include "hostcache.h"

#define KEY_LEN 16
#define MAX_PROCS 64
#define MAX_REPS 16
#define SEQ_LEN (1u << 20)        /* key choices per process, cycled */
#define HIST_SUB 32               /* log-linear histogram: 32 per octave */
#define HIST_BUCKETS (64 + 40 * HIST_SUB)
#define ZIPF_THETA 0.99

/* ---- failing ----------------------------------------------------------- */

/* One segment per value size, made by the first preload of that size. */
#define MAX_SEGMENTS 4

static struct {
	unsigned value;
	char name[64];
	hc_cache *owner;
} segments[MAX_SEGMENTS];
static unsigned nsegments;
static pid_t main_pid;

static void segment_remove(void)
{
	if (getpid() != main_pid)
		return;
	for (unsigned i = 0; i < nsegments; i++)
		hc_unlink(segments[i].name);
	nsegments = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	segment_remove();
	_exit(130);
}

static void fail(const char *fmt, const char *what)
{
	fprintf(stderr, "bench_compare: ");
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	if (getpid() != main_pid)
		_exit(1);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fail("out of memory%s", "");
	return p;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU time of this process: unlike wall time, it does not grow while other
 * work on the machine has the CPU. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- workloads ------------------------------------------------------- */

enum dist { UNIFORM, ZIPF, HOT };

struct workload {
	const char *bench;
	unsigned value;
	unsigned items;
	unsigned set_percent;
	enum dist dist;
};

static const struct workload workloads[] = {
	{ "get_hit", 32, 100000, 0, UNIFORM },
	{ "get_hit", 4096, 10000, 0, UNIFORM },
	{ "set", 32, 100000, 100, UNIFORM },
	{ "ycsb_b", 256, 100000, 5, ZIPF },
	{ "ycsb_a", 256, 100000, 50, ZIPF },
	{ "hot_key", 32, 100000, 0, HOT },
};
#define NWORKLOADS (sizeof workloads / sizeof *workloads)

/* Key I of the key space of value size V: 16 bytes, distinct per V so
 * that the workloads share one store without meeting. */
static void key_of(unsigned v, uint32_t i, char out[KEY_LEN + 1])
{
	snprintf(out, KEY_LEN + 1, "k%04u:%010u", v % 10000, i);
}

/* The value stored under key I: its first bytes name the key, so a get
 * that returns another key's value is caught. */
static void value_of(uint32_t i, unsigned v, unsigned char *out)
{
	memset(out, 'a' + (int)(i % 26), v);
	memcpy(out, &i, sizeof i < v ? sizeof i : v);
}

static bool value_ok(uint32_t i, unsigned v, const unsigned char *got,
                     size_t len)
{
	return len == v && (v < sizeof i || memcmp(got, &i, sizeof i) == 0);
}

/* Zipf over N ranks (Gray et al.), rank 0 the hottest; ranks are then
 * scattered over the keys so that hot keys do not share cache lines. */
struct zipf {
	double theta, alpha, zetan, eta;
	uint32_t n;
};

static double zeta(uint32_t n, double theta)
{
	double sum = 0;

	for (uint32_t i = 1; i <= n; i++)
		sum += 1.0 / pow((double)i, theta);
	return sum;
}

static void zipf_init(struct zipf *z, uint32_t n, double theta)
{
	double zeta2 = zeta(2, theta);

	z->n = n;
	z->theta = theta;
	z->zetan = zeta(n, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / n, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
}

static uint32_t zipf_next(const struct zipf *z, uint64_t *rng)
{
	double u = (double)(rng_next(rng) >> 11) * 0x1p-53;
	double uz = u * z->zetan;

	if (uz < 1.0)
		return 0;
	if (uz < 1.0 + pow(0.5, z->theta))
		return 1;
	uint64_t r = (uint64_t)((double)z->n * pow(z->eta * u - z->eta + 1.0,
	                                              z->alpha));
	return r >= z->n ? z->n - 1 : (uint32_t)r;
}

/* An operation: the key index, bit 31 set for a set. */
#define OP_SET 0x80000000u

static uint32_t *make_ops(const struct workload *w, uint64_t seed,
                          const struct zipf *z)
{
	uint32_t *ops = xmalloc(SEQ_LEN * sizeof *ops);
	uint64_t rng = seed;

	for (uint32_t i = 0; i < SEQ_LEN; i++) {
		uint32_t k;

		if (w->dist == HOT)
			k = 0;
		else if (w->dist == ZIPF)
			k = (uint32_t)((zipf_next(z, &rng) * 2654435761ULL) % w->items);
		else
			k = (uint32_t)(rng_next(&rng) % w->items);
		if (rng_next(&rng) % 100 < w->set_percent)
			k |= OP_SET;
		ops[i] = k;
	}
	return ops;
}

/* ---- the hash table of private, mutex and rwlock ---------------------- */

enum lock_kind { LOCK_NONE, LOCK_MUTEX, LOCK_RWLOCK };

struct table {
	pthread_mutex_t mutex;
	pthread_rwlock_t rwlock;
	enum lock_kind lock;
	uint32_t mask;             /* slots - 1 */
	uint32_t slot_size;
	unsigned char slots[];     /* used(4) vlen(4) key(16) value */
};

static size_t table_bytes(unsigned items, unsigned value, uint32_t *nslots,
                          uint32_t *slot_size)
{
	uint32_t n = 1;

	while (n < 2 * items)
		n *= 2;
	*nslots = n;
	*slot_size = (uint32_t)((8 + KEY_LEN + value + 7) & ~7u);
	return sizeof(struct table) + (size_t)n * *slot_size;
}

/* A table in SHARED or private anonymous memory. */
static struct table *table_create(unsigned items, unsigned value,
                                  enum lock_kind lock, bool shared)
{
	uint32_t n, ss;
	size_t bytes = table_bytes(items, value, &n, &ss);
	struct table *t = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS,
	                       -1, 0);

	if (t == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	t->lock = lock;
	t->mask = n - 1;
	t->slot_size = ss;
	pthread_mutexattr_t ma;
	pthread_rwlockattr_t ra;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&t->mutex, &ma);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
	pthread_rwlock_init(&t->rwlock, &ra);
	return t;
}

static void table_destroy(struct table *t, unsigned items, unsigned value)
{
	uint32_t n, ss;

	munmap(t, table_bytes(items, value, &n, &ss));
}

static void table_lock(struct table *t, bool write)
{
	if (t->lock == LOCK_MUTEX)
		pthread_mutex_lock(&t->mutex);
	else if (t->lock == LOCK_RWLOCK && write)
		pthread_rwlock_wrlock(&t->rwlock);
	else if (t->lock == LOCK_RWLOCK)
		pthread_rwlock_rdlock(&t->rwlock);
}

static void table_unlock(struct table *t)
{
	if (t->lock == LOCK_MUTEX)
		pthread_mutex_unlock(&t->mutex);
	else if (t->lock == LOCK_RWLOCK)
		pthread_rwlock_unlock(&t->rwlock);
}

/* The slot of KEY: its own, or the empty one where it would go. */
static unsigned char *table_slot(struct table *t, const char *key)
{
	uint32_t i = (uint32_t)XXH3_64bits(key, KEY_LEN) & t->mask;

	for (;;) {
		unsigned char *s = t->slots + (size_t)i * t->slot_size;
		uint32_t used;

		memcpy(&used, s, 4);
		if (!used || memcmp(s + 8, key, KEY_LEN) == 0)
			return s;
		i = (i + 1) & t->mask;
	}
}

static int table_get(struct table *t, const char *key, void *buf, size_t cap,
                     size_t *vlen)
{
	int rc = -1;

	table_lock(t, false);
	unsigned char *s = table_slot(t, key);
	uint32_t used, len;

	memcpy(&used, s, 4);
	memcpy(&len, s + 4, 4);
	if (used && len <= cap) {
		memcpy(buf, s + 8 + KEY_LEN, len);
		*vlen = len;
		rc = 0;
	}
	table_unlock(t);
	return rc;
}

static int table_set(struct table *t, const char *key, const void *val,
                     size_t vlen)
{
	uint32_t one = 1, len = (uint32_t)vlen;

	table_lock(t, true);
	unsigned char *s = table_slot(t, key);

	memcpy(s + 4, &len, 4);
	memcpy(s + 8, key, KEY_LEN);
	memcpy(s + 8 + KEY_LEN, val, vlen);
	memcpy(s, &one, 4);
	table_unlock(t);
	return 0;
}

/* ---- implementations --------------------------------------------------- */

enum impl_id { HOSTCACHE, PRIVATE, MUTEX, RWLOCK, MEMCACHED, REDIS, NIMPLS };

static const char *const impl_names[NIMPLS] = {
	"hostcache", "private", "mutex", "rwlock", "memcached", "redis"
};

static const char *memcached_socket, *redis_socket;

/* One process's connection to one implementation. */
struct conn {
	enum impl_id impl;
	hc_cache *hc;
	struct table *table;
	memcached_st *mc;
	redisContext *redis;
};

/* The segment for values of W's size, made on first use: item memory for
 * three times the workload's items, the index sized for their item size,
 * as a user would size a cache for known data. */
static const char *segment_for(const struct workload *w)
{
	for (unsigned i = 0; i < nsegments; i++)
		if (segments[i].value == w->value)
			return segments[i].name;
	if (nsegments == MAX_SEGMENTS)
		fail("too many segments%s", "");

	unsigned item = (24 + KEY_LEN + w->value + 7) & ~7u;
	hc_config cfg;
	int rc;

	hc_config_init(&cfg);
	cfg.avg_item_size = item;
	cfg.size = 3ULL * w->items * item + (16u << 20);
	segments[nsegments].value = w->value;
	snprintf(segments[nsegments].name, sizeof segments[nsegments].name,
	         "/hc_bench_compare_%ld_%u", (long)getpid(), w->value);
	rc = hc_create(segments[nsegments].name, &cfg, &segments[nsegments].owner);
	if (rc != 0)
		fail("hc_create: %s", hc_last_error());
	return segments[nsegments++].name;
}

static void conn_open(struct conn *c, enum impl_id impl, struct table *table,
                      const struct workload *w)
{
	memset(c, 0, sizeof *c);
	c->impl = impl;
	c->table = table;
	if (impl == HOSTCACHE) {
		int rc = hc_open(segment_for(w), &c->hc);

		if (rc != 0)
			fail("hc_open: %s", hc_strerror(rc));
	} else if (impl == MEMCACHED) {
		c->mc = memcached_create(NULL);
		if (c->mc == NULL ||
		    memcached_server_add_unix_socket(c->mc, memcached_socket) !=
		            MEMCACHED_SUCCESS)
			fail("memcached: cannot use %s", memcached_socket);
	} else if (impl == REDIS) {
		c->redis = redisConnectUnix(redis_socket);
		if (c->redis == NULL || c->redis->err)
			fail("redis: cannot connect to %s", redis_socket);
	}
}

static void conn_close(struct conn *c)
{
	if (c->hc != NULL)
		hc_close(c->hc);
	if (c->mc != NULL)
		memcached_free(c->mc);
	if (c->redis != NULL)
		redisFree(c->redis);
}

/* 0 on a hit with the value copied to BUF, 1 on a miss, -1 on an error. */
static int conn_get(struct conn *c, const char *key, unsigned char *buf,
                    size_t cap, size_t *vlen)
{
	switch (c->impl) {
	case HOSTCACHE: {
		int rc = hc_get(c->hc, key, KEY_LEN, buf, cap, vlen);

		return rc == 0 ? 0 : rc == HC_ENOTFOUND ? 1 : -1;
	}
	case PRIVATE:
	case MUTEX:
	case RWLOCK:
		return table_get(c->table, key, buf, cap, vlen) == 0 ? 0 : 1;
	case MEMCACHED: {
		memcached_return_t rc;
		uint32_t flags;
		char *v = memcached_get(c->mc, key, KEY_LEN, vlen, &flags, &rc);

		if (v == NULL)
			return rc == MEMCACHED_NOTFOUND ? 1 : -1;
		memcpy(buf, v, *vlen < cap ? *vlen : cap);
		free(v);
		return 0;
	}
	case REDIS: {
		redisReply *r = redisCommand(c->redis, "GET %b", key, (size_t)KEY_LEN);
		int rc = -1;

		if (r != NULL && r->type == REDIS_REPLY_STRING) {
			*vlen = r->len;
			memcpy(buf, r->str, r->len < cap ? r->len : cap);
			rc = 0;
		} else if (r != NULL && r->type == REDIS_REPLY_NIL) {
			rc = 1;
		}
		freeReplyObject(r);
		return rc;
	}
	default:
		return -1;
	}
}

static int conn_set(struct conn *c, const char *key, const unsigned char *val,
                    size_t vlen)
{
	switch (c->impl) {
	case HOSTCACHE:
		return hc_set(c->hc, key, KEY_LEN, val, vlen, 0) == 0 ? 0 : -1;
	case PRIVATE:
	case MUTEX:
	case RWLOCK:
		return table_set(c->table, key, val, vlen);
	case MEMCACHED:
		return memcached_set(c->mc, key, KEY_LEN, (const char *)val, vlen, 0,
		                     0) == MEMCACHED_SUCCESS ? 0 : -1;
	case REDIS: {
		redisReply *r = redisCommand(c->redis, "SET %b %b", key,
		                             (size_t)KEY_LEN, val, vlen);
		int rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -1;

		freeReplyObject(r);
		return rc;
	}
	default:
		return -1;
	}
}

/* ---- one measurement --------------------------------------------------- */

struct proc_result {
	uint64_t ops, ns;          /* throughput phase */
	uint64_t cpu_ns;           /* this process's CPU time in that phase */
	uint64_t lat_ops;
	uint64_t errors, misses, wrong;
	uint32_t hist[HIST_BUCKETS];
};

static unsigned hist_bucket(uint64_t ns)
{
	if (ns < 64)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned b = 64 + (e - 6) * HIST_SUB +
	             (unsigned)((ns >> (e - 5)) & (HIST_SUB - 1));

	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The middle of bucket B. */
static double hist_value(unsigned b)
{
	if (b < 64)
		return b;
	unsigned e = (b - 64) / HIST_SUB + 6, sub = (b - 64) % HIST_SUB;

	return ldexp(1.0, (int)e) + (sub + 0.5) * ldexp(1.0, (int)e - 5);
}

static uint64_t timer_cost;    /* ns of one clock read, calibrated */

/* Run OPS for SECONDS, counting; then SECONDS/2 more, timing each op. */
static void proc_run(struct conn *c, const struct workload *w,
                     const uint32_t *ops, double seconds,
                     struct proc_result *r)
{
	char (*keys)[KEY_LEN + 1] = xmalloc((size_t)w->items * sizeof *keys);
	unsigned char *val = xmalloc(w->value), *buf = xmalloc(w->value);
	uint64_t i = 0;

	for (uint32_t k = 0; k < w->items; k++)
		key_of(w->value, k, keys[k]);
	/* One step: the op, with its result checked. */
#define STEP()                                                                 \
	do {                                                                   \
		uint32_t op = ops[i++ & (SEQ_LEN - 1)], k = op & ~OP_SET;     \
		size_t len = 0;                                                \
		int rc;                                                        \
		if (op & OP_SET) {                                             \
			value_of(k, w->value, val);                            \
			rc = conn_set(c, keys[k], val, w->value);              \
		} else {                                                       \
			rc = conn_get(c, keys[k], buf, w->value, &len);        \
			if (rc == 0 && !value_ok(k, w->value, buf, len))       \
				r->wrong++;                                    \
		}                                                              \
		r->errors += rc < 0;                                           \
		r->misses += rc == 1;                                          \
	} while (0)

	uint64_t warm_end = now_ns() + (uint64_t)(seconds * 1e8);

	while (now_ns() < warm_end)
		for (int j = 0; j < 64; j++)
			STEP();
	uint64_t cpu0 = cpu_ns();
	uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t;
	uint64_t counted = i;

	do {
		for (int j = 0; j < 64; j++)
			STEP();
	} while ((t = now_ns()) < end);
	r->ops = i - counted;
	r->ns = t - start;
	r->cpu_ns = cpu_ns() - cpu0;
	end = t + (uint64_t)(seconds * 5e8);
	uint64_t before = now_ns(), after;

	do {
		STEP();
		after = now_ns();
		uint64_t d = after - before;

		d = d > timer_cost ? d - timer_cost : 0;
		r->hist[hist_bucket(d)]++;
		r->lat_ops++;
		before = after;
	} while (after < end);
#undef STEP
	free(keys);
	free(val);
	free(buf);
}

struct measurement {
	const struct workload *w;
	enum impl_id impl;
	unsigned procs, rep;
	double ops_per_sec;
	double cpu_ns_per_op;      /* client CPU per operation */
	double p50, p99, p999;
	uint64_t ops, errors, misses, wrong;
};

static double hist_percentile(const uint32_t *hist, uint64_t total, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;

	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want && hist[b] > 0)
			return hist_value(b);
	}
	return 0;
}

static void preload(const struct workload *w, enum impl_id impl,
                    struct table *table);

/* Fork PROCS processes that each run workload W on IMPL; fill M. */
static void measure(const struct workload *w, enum impl_id impl,
                    unsigned procs, double seconds, struct table *table,
                    const struct zipf *z, struct measurement *m)
{
	struct proc_result *res = mmap(NULL, procs * sizeof *res,
	                               PROT_READ | PROT_WRITE,
	                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int ready[2], go[2];
	pid_t pids[MAX_PROCS];

	if (res == MAP_FAILED || pipe(ready) != 0 || pipe(go) != 0)
		fail("measure: %s", strerror(errno));
	memset(res, 0, procs * sizeof *res);
	for (unsigned p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			fail("fork: %s", strerror(errno));
		if (pids[p] > 0)
			continue;
		char byte = 1;
		struct conn c;
		uint32_t *ops = make_ops(w, 1000 + p * 7919 + w->value, z);

		close(ready[0]);
		close(go[1]);
		/* The floor: each process's own table, made after the fork so
		 * that no page is shared copy-on-write with the parent. */
		if (impl == PRIVATE) {
			table = table_create(w->items, w->value, LOCK_NONE, false);
			preload(w, impl, table);
		}
		conn_open(&c, impl, table, w);
		if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 0)
			_exit(1);
		proc_run(&c, w, ops, seconds, &res[p]);
		conn_close(&c);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	for (unsigned p = 0; p < procs; p++) {
		char byte;

		if (read(ready[0], &byte, 1) != 1)
			fail("a %s process failed to start", impl_names[impl]);
	}
	close(go[1]); /* everyone starts now */
	close(ready[0]);
	bool ok = true;

	for (unsigned p = 0; p < procs; p++) {
		int st;

		if (waitpid(pids[p], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			ok = false;
	}
	if (!ok)
		fail("a %s process failed", impl_names[impl]);

	static uint32_t hist[HIST_BUCKETS];
	uint64_t lat_ops = 0;

	memset(hist, 0, sizeof hist);
	memset(m, 0, sizeof *m);
	m->w = w;
	m->impl = impl;
	m->procs = procs;
	uint64_t cpu = 0;

	for (unsigned p = 0; p < procs; p++) {
		m->ops_per_sec += (double)res[p].ops * 1e9 / (double)res[p].ns;
		cpu += res[p].cpu_ns;
		m->ops += res[p].ops;
		m->errors += res[p].errors;
		m->misses += res[p].misses;
		m->wrong += res[p].wrong;
		lat_ops += res[p].lat_ops;
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			hist[b] += res[p].hist[b];
	}
	m->cpu_ns_per_op = m->ops ? (double)cpu / (double)m->ops : 0;
	m->p50 = hist_percentile(hist, lat_ops, 0.5);
	m->p99 = hist_percentile(hist, lat_ops, 0.99);
	m->p999 = hist_percentile(hist, lat_ops, 0.999);
	munmap(res, procs * sizeof *res);
}

/* Put every key of W into IMPL (once per value size: the stores keep it). */
static void preload(const struct workload *w, enum impl_id impl,
                    struct table *table)
{
	struct conn c;
	unsigned char *val = xmalloc(w->value);

	conn_open(&c, impl, table, w);
	for (uint32_t k = 0; k < w->items; k++) {
		char key[KEY_LEN + 1];

		key_of(w->value, k, key);
		value_of(k, w->value, val);
		if (conn_set(&c, key, val, w->value) != 0)
			fail("preload: a set into %s failed", impl_names[impl]);
	}
	conn_close(&c);
	free(val);
}

/* ---- output ------------------------------------------------------------ */

static struct measurement *results;
static unsigned nresults, results_cap;
static bool json_only;

static void record(const struct measurement *m)
{
	if (nresults == results_cap) {
		results_cap = results_cap ? 2 * results_cap : 256;
		results = realloc(results, results_cap * sizeof *results);
		if (results == NULL)
			fail("out of memory%s", "");
	}
	results[nresults++] = *m;
}

static void print_measurement_json(const struct measurement *m)
{
	printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"procs\":%u,\"key_size\":%u,"
	       "\"value_size\":%u,\"items\":%u,\"dist\":\"%s\",\"set_percent\":%u,"
	       "\"rep\":%u,\"ops\":%llu,\"ops_per_sec\":%.0f,"
	       "\"cpu_ns_per_op\":%.1f,\"p50_ns\":%.0f,"
	       "\"p99_ns\":%.0f,\"p999_ns\":%.0f,\"misses\":%llu}\n",
	       m->w->bench, impl_names[m->impl], m->procs, KEY_LEN, m->w->value,
	       m->w->items, m->w->dist == ZIPF ? "zipf0.99" :
	       m->w->dist == HOT ? "one_key" : "uniform", m->w->set_percent,
	       m->rep, (unsigned long long)m->ops, m->ops_per_sec,
	       m->cpu_ns_per_op, m->p50, m->p99, m->p999,
	       (unsigned long long)m->misses);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Medians over the repetitions of one measurement, and of two ratios to
 * hostcache taken within each repetition: throughput (hostcache's / this
 * one's) and p50 latency (this one's / hostcache's).  On a shared machine
 * the p50 ratio is the steadier one: a descheduled process stretches a run
 * but moves the median operation little. */
struct summary {
	double ops, cpu, p50, p99, p999;
	double speedup, speedup_min, speedup_max;
	double p50_ratio, p50_ratio_min, p50_ratio_max;
	unsigned reps;
};

static const struct measurement *find_hostcache(const struct measurement *m)
{
	for (unsigned j = 0; j < nresults; j++)
		if (results[j].w == m->w && results[j].impl == HOSTCACHE &&
		    results[j].procs == m->procs && results[j].rep == m->rep)
			return &results[j];
	return NULL;
}

static bool summarize(const struct workload *w, enum impl_id impl,
                      unsigned procs, struct summary *s)
{
	double ops[MAX_REPS], cpu[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS];
	double p999[MAX_REPS], speedup[MAX_REPS], p50_ratio[MAX_REPS];
	unsigned n = 0;

	memset(s, 0, sizeof *s);
	for (unsigned i = 0; i < nresults; i++) {
		const struct measurement *m = &results[i], *h;

		if (m->w != w || m->impl != impl || m->procs != procs || n == MAX_REPS)
			continue;
		h = find_hostcache(m);
		ops[n] = m->ops_per_sec;
		cpu[n] = m->cpu_ns_per_op;
		p50[n] = m->p50;
		p99[n] = m->p99;
		p999[n] = m->p999;
		speedup[n] = h ? h->ops_per_sec / m->ops_per_sec : 0;
		p50_ratio[n] = h && h->p50 > 0 ? m->p50 / h->p50 : 0;
		n++;
	}
	if (n == 0)
		return false;
	s->reps = n;
	s->ops = median(ops, n);
	s->cpu = median(cpu, n);
	s->p50 = median(p50, n);
	s->p99 = median(p99, n);
	s->p999 = median(p999, n);
	s->speedup = median(speedup, n);  /* sorts: [0] is the least */
	s->speedup_min = speedup[0];
	s->speedup_max = speedup[n - 1];
	s->p50_ratio = median(p50_ratio, n);
	s->p50_ratio_min = p50_ratio[0];
	s->p50_ratio_max = p50_ratio[n - 1];
	return true;
}

static void print_summary(const unsigned *procs, unsigned nprocs,
                          const bool *enabled)
{
	if (!json_only) {
		printf("\nMedians over the repetitions.  Mops/s: all processes, wall "
		       "clock; CPU ns/op: the\nclients' CPU time per operation (a "
		       "server's own time not included); p50 x:\nthis p50 / "
		       "hostcache's p50, Mops x: hostcache's Mops/s / this one's, "
		       "each taken\nwithin one repetition, median [min-max]:\n");
		printf("\n%-8s %5s %5s %-10s %8s %8s %8s %8s %9s  %-20s %s\n", "bench",
		       "value", "procs", "impl", "Mops/s", "CPU ns", "p50 ns",
		       "p99 ns", "p999 ns", "p50 x", "Mops x");
	}
	for (unsigned wi = 0; wi < NWORKLOADS; wi++) {
		const struct workload *w = &workloads[wi];

		for (unsigned pi = 0; pi < nprocs; pi++) {
			for (int impl = 0; impl < NIMPLS; impl++) {
				struct summary s;

				if (!enabled[impl] ||
				    !summarize(w, (enum impl_id)impl, procs[pi], &s))
					continue;
				if (!json_only) {
					char lat[48] = "", thr[48] = "";

					if (impl != HOSTCACHE) {
						snprintf(lat, sizeof lat, "%.1f [%.1f-%.1f]",
						         s.p50_ratio, s.p50_ratio_min,
						         s.p50_ratio_max);
						snprintf(thr, sizeof thr, "%.2f [%.2f-%.2f]",
						         s.speedup, s.speedup_min,
						         s.speedup_max);
					}
					printf("%-8s %5u %5u %-10s %8.3f %8.0f %8.0f %8.0f "
					       "%9.0f  %-20s %s\n", w->bench, w->value,
					       procs[pi], impl_names[impl], s.ops / 1e6, s.cpu,
					       s.p50, s.p99, s.p999, lat, thr);
				}
				printf("{\"bench\":\"%s\",\"summary\":true,\"impl\":\"%s\","
				       "\"procs\":%u,\"value_size\":%u,\"reps\":%u,"
				       "\"ops_per_sec\":%.0f,\"cpu_ns_per_op\":%.1f,"
				       "\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"p999_ns\":%.0f,"
				       "\"p50_vs_hostcache\":%.3f,"
				       "\"hostcache_speedup\":%.3f,"
				       "\"hostcache_speedup_min\":%.3f,"
				       "\"hostcache_speedup_max\":%.3f}\n",
				       w->bench, impl_names[impl], procs[pi], w->value,
				       s.reps, s.ops, s.cpu, s.p50, s.p99, s.p999,
				       s.p50_ratio, s.speedup, s.speedup_min,
				       s.speedup_max);
			}
			if (!json_only)
				putchar('\n');
		}
	}
}

/* Two matrices for gnuplot (blocks 0 and 1): median ops/s and median p50
 * ns, a row per workload and process count, a column per implementation. */
static void write_plot_data(FILE *plot, const unsigned *procs, unsigned nprocs,
                            const bool *enabled)
{
	for (int block = 0; block < 2; block++) {
		fprintf(plot, "%s", block ? "\n\nworkload" : "workload");
		for (int impl = 0; impl < NIMPLS; impl++)
			if (enabled[impl])
				fprintf(plot, " %s", impl_names[impl]);
		fputc('\n', plot);
		for (unsigned wi = 0; wi < NWORKLOADS; wi++) {
			for (unsigned pi = 0; pi < nprocs; pi++) {
				const struct workload *w = &workloads[wi];

				fprintf(plot, "%s/%uB/%up", w->bench, w->value, procs[pi]);
				for (int impl = 0; impl < NIMPLS; impl++) {
					struct summary s;

					if (!enabled[impl])
						continue;
					if (!summarize(w, (enum impl_id)impl, procs[pi], &s))
						fprintf(plot, " NaN");
					else
						fprintf(plot, " %.0f", block ? s.p50 : s.ops);
				}
				fputc('\n', plot);
			}
		}
	}
}

/* ---- options, main ------------------------------------------------------ */

static uint64_t calibrate_timer(void)
{
	uint64_t best[64];

	for (int i = 0; i < 64; i++) {
		uint64_t a = now_ns(), b = now_ns();

		for (int j = 0; j < 100; j++) {
			a = b;
			b = now_ns();
		}
		best[i] = b - a;
	}
	uint64_t min = best[0];

	for (int i = 1; i < 64; i++)
		if (best[i] < min)
			min = best[i];
	return min;
}

static void print_load(const char *when)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double one;

	if (f == NULL)
		return;
	if (fscanf(f, "%lf", &one) == 1 && !json_only)
		printf("load average %s: %.2f\n", when, one);
	fclose(f);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_compare [--memcached SOCKET] [--redis SOCKET] "
	        "[--procs N,N..] [--reps N] [--seconds S] [--quick] [--json] "
	        "[--plot-data FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned procs[8] = { 1, 2 }, nprocs = 2, reps = 5;
	double seconds = 0.3;
	const char *plot_path = NULL;

	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(opt, "--json") == 0) {
			json_only = true;
			continue;
		}
		if (strcmp(opt, "--quick") == 0) {
			reps = 1;
			seconds = 0.2;
			continue;
		}
		if (arg == NULL)
			return usage();
		i++;
		if (strcmp(opt, "--memcached") == 0) {
			memcached_socket = arg;
		} else if (strcmp(opt, "--redis") == 0) {
			redis_socket = arg;
		} else if (strcmp(opt, "--reps") == 0) {
			reps = (unsigned)atoi(arg);
		} else if (strcmp(opt, "--seconds") == 0) {
			seconds = atof(arg);
		} else if (strcmp(opt, "--plot-data") == 0) {
			plot_path = arg;
		} else if (strcmp(opt, "--procs") == 0) {
			char *end;

			nprocs = 0;
			for (const char *p = arg; *p && nprocs < 8; p = end + (*end == ',')) {
				procs[nprocs] = (unsigned)strtoul(p, &end, 10);
				if (end == p || procs[nprocs] < 1 || procs[nprocs] > MAX_PROCS)
					return usage();
				nprocs++;
			}
		} else {
			return usage();
		}
	}
	if (reps < 1 || reps > MAX_REPS || seconds <= 0 || seconds > 60 ||
	    nprocs == 0)
		return usage();

	main_pid = getpid();
	atexit(segment_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	timer_cost = calibrate_timer();

	bool enabled[NIMPLS] = { true, true, true, true,
	                         memcached_socket != NULL, redis_socket != NULL };
	if (!json_only) {
		printf("hostcache %s against alternatives: %ld CPUs, %u repetitions "
		       "of %.2f s (+%.2f s timed per operation) per measurement, "
		       "implementations interleaved\n", hc_version(),
		       sysconf(_SC_NPROCESSORS_ONLN), reps, seconds, seconds / 2);
		printf("clock read: %llu ns (subtracted from each latency); "
		       "memcached: %s; redis: %s\n", (unsigned long long)timer_cost,
		       memcached_socket ? memcached_socket : "skipped",
		       redis_socket ? redis_socket : "skipped");
		print_load("at start");
	}

	/* Stores that persist for the run: the segment, the servers, one
	 * shared table per lock kind and value size (made per workload). */
	bool loaded[NIMPLS][NWORKLOADS] = { { false } };
	struct zipf z;

	zipf_init(&z, 100000, ZIPF_THETA);
	for (unsigned rep = 0; rep < reps; rep++) {
		for (unsigned wi = 0; wi < NWORKLOADS; wi++) {
			const struct workload *w = &workloads[wi];
			struct table *tables[NIMPLS] = { NULL };

			for (int impl = 0; impl < NIMPLS; impl++) {
				if (!enabled[impl])
					continue;
				if (impl == PRIVATE)
					continue; /* made by each process (measure) */
				if (impl == MUTEX || impl == RWLOCK) {
					tables[impl] = table_create(w->items, w->value,
					                            impl == MUTEX ? LOCK_MUTEX :
					                            LOCK_RWLOCK, true);
					preload(w, (enum impl_id)impl, tables[impl]);
					continue;
				}
				bool done = false;

				for (unsigned wj = 0; wj < NWORKLOADS; wj++)
					done = done || (loaded[impl][wj] &&
					                workloads[wj].value == w->value);
				if (!done)
					preload(w, (enum impl_id)impl, NULL);
				loaded[impl][wi] = true;
			}
			fprintf(stderr, "bench_compare: repetition %u/%u: %s, %u B "
			        "values\n", rep + 1, reps, w->bench, w->value);
			for (unsigned pi = 0; pi < nprocs; pi++) {
				for (int impl = 0; impl < NIMPLS; impl++) {
					struct measurement m;

					if (!enabled[impl])
						continue;
					measure(w, (enum impl_id)impl, procs[pi], seconds,
					        tables[impl], &z, &m);
					m.rep = rep;
					if (m.errors || m.wrong)
						fprintf(stderr, "bench_compare: %s %s: %llu errors, "
						        "%llu wrong values\n", w->bench,
						        impl_names[impl],
						        (unsigned long long)m.errors,
						        (unsigned long long)m.wrong);
					if (m.wrong || m.errors)
						exit(1);
					record(&m);
				}
			}
			for (int impl = MUTEX; impl <= RWLOCK; impl++)
				if (tables[impl] != NULL)
					table_destroy(tables[impl], w->items, w->value);
		}
	}
	print_load("at end");

	FILE *plot = plot_path ? fopen(plot_path, "w") : NULL;

	if (plot_path != NULL && plot == NULL)
		fail("cannot write %s", plot_path);
	print_summary(procs, nprocs, enabled);
	if (plot != NULL)
		write_plot_data(plot, procs, nprocs, enabled);
	for (unsigned i = 0; i < nresults; i++)
		print_measurement_json(&results[i]);
	if (plot != NULL)
		fclose(plot);
	for (unsigned i = 0; i < nsegments; i++)
		hc_close(segments[i].owner);
	return 0;
}
