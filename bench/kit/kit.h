/*
 * kit.h - what the benchmarks share.
 *
 * Clocks.  kit_now_ns() is CLOCK_MONOTONIC, the clock every benchmark
 * times with; kit_cpu_ns() is the CPU time of the calling process, which
 * does not grow while other work has the CPU; kit_cycles() reads the CPU's
 * cycle counter where there is one (x86-64), else it is kit_now_ns().
 * kit_clock_cost_ns() calibrates one clock read, for benchmarks that time
 * single operations and subtract it.
 *
 * Randomness.  splitmix64 (kit_rng_next): good enough for key choices, and
 * seeds well from anything.  Key generators: uniform (kit_uniform), Zipf by
 * the method of Gray et al. for theta < 1 (struct kit_zipf, as YCSB draws
 * it: O(1) per draw after one pass over n), and an exact Zipf for any
 * exponent by its cumulative table (struct kit_zipf_table, O(log n) a draw).
 *
 * Latency.  struct kit_hist: a log-linear histogram of nanoseconds, exact
 * below 64 ns, then 32 buckets an octave (within 1.6%) up to 2^46 ns; its
 * percentiles are bucket middles.
 *
 * Processes.  struct kit_team forks N processes, lets each get ready (open
 * a cache, connect), then starts them all at one instant on the common
 * clock; each reports back through its own slot of shared memory.
 *
 * JSON lines.  struct kit_json writes one object a line, field by field, in
 * the order called: {"a":1,"b":"x"}.
 *
 * Nothing here prints except the JSON writer, to the stream it is given;
 * failures are returned.
 */
#ifndef BENCH_KIT_H
#define BENCH_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

/* ---- clocks ------------------------------------------------------------ */

static inline uint64_t kit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* kit_now_ns() in seconds. */
double kit_now_s(void);

/* CPU time of this process, in ns. */
uint64_t kit_cpu_ns(void);

static inline uint64_t kit_cycles(void)
{
#if defined(__x86_64__)
	return __builtin_ia32_rdtsc();
#else
	return kit_now_ns();
#endif
}

/* The cost of one kit_now_ns(): the least of 64 samples. */
uint64_t kit_clock_cost_ns(void);

/* ---- randomness and keys ----------------------------------------------- */

/* splitmix64: the next number of the sequence in *STATE. */
static inline uint64_t kit_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1), 53 bits. */
static inline double kit_rng_unit(uint64_t *state)
{
	return (double)(kit_rng_next(state) >> 11) * 0x1p-53;
}

/* Uniform in [0, N). */
static inline uint64_t kit_uniform(uint64_t *state, uint64_t n)
{
	return kit_rng_next(state) % n;
}

/* The murmur3 finaliser: scatters ranks over a key space. */
uint64_t kit_mix64(uint64_t k);

/*
 * Zipf(theta), 0 < theta < 1, over ranks 0..n-1, by the method of Gray et
 * al., "Quickly generating billion-record synthetic databases" (SIGMOD
 * '94), as YCSB uses it: one pass to compute zeta(n), then O(1) a draw.
 */
struct kit_zipf {
	double n, theta, alpha, zetan, eta, two_cut;
};

void kit_zipf_init(struct kit_zipf *z, uint64_t n, double theta);

/* The rank for U, uniform in [0, 1). */
uint64_t kit_zipf_rank(const struct kit_zipf *z, double u);

static inline uint64_t kit_zipf_next(const struct kit_zipf *z, uint64_t *rng)
{
	return kit_zipf_rank(z, kit_rng_unit(rng));
}

/* Zipf(alpha), any alpha > 0, over ranks 0..n-1 exactly: rank r with
 * probability proportional to 1/(r+1)^alpha, by bisection of the
 * cumulative weights. */
struct kit_zipf_table {
	double *cum;       /* cum[r]: the weights of ranks 0..r */
	uint32_t n;
};

/* 0, or -ENOMEM. */
int kit_zipf_table_init(struct kit_zipf_table *z, uint32_t n, double alpha);
void kit_zipf_table_free(struct kit_zipf_table *z);
uint32_t kit_zipf_table_rank(const struct kit_zipf_table *z, double u);

/* ---- latency histogram ------------------------------------------------- */

#define KIT_HIST_SUB 32                   /* buckets an octave */
#define KIT_HIST_BUCKETS (64 + 40 * KIT_HIST_SUB)

struct kit_hist {
	uint64_t total;
	uint64_t max;                     /* the largest value added */
	uint64_t n[KIT_HIST_BUCKETS];
};

static inline unsigned kit_hist_bucket(uint64_t ns)
{
	if (ns < 64)
		return (unsigned)ns;
	unsigned e = 63u - (unsigned)__builtin_clzll(ns);
	unsigned b = 64 + (e - 6) * KIT_HIST_SUB +
	             (unsigned)((ns >> (e - 5)) & (KIT_HIST_SUB - 1));

	return b < KIT_HIST_BUCKETS ? b : KIT_HIST_BUCKETS - 1;
}

/* Inline: the benchmarks that time each operation add between two clock
 * reads. */
static inline void kit_hist_add(struct kit_hist *h, uint64_t ns)
{
	h->n[kit_hist_bucket(ns)]++;
	h->total++;
	if (ns > h->max)
		h->max = ns;
}

void kit_hist_clear(struct kit_hist *h);
void kit_hist_merge(struct kit_hist *into, const struct kit_hist *from);

/* The middle of bucket B. */
double kit_hist_value(unsigned b);

/* The Q quantile (0.99 for p99) of H, 0 when H is empty. */
double kit_hist_percentile(const struct kit_hist *h, double q);

/* ---- processes that start together ------------------------------------- */

#define KIT_MAX_PROCS 64

struct kit_team {
	unsigned procs;
	pid_t pid[KIT_MAX_PROCS];          /* 0 once reaped */
	size_t result_size;
	void *shared;                      /* the start, then the results */
	size_t shared_bytes;
	int ready[2], go[2];
};

/* What child INDEX runs; its return value is its exit status.  It calls
 * kit_team_ready() once it is ready to start. */
typedef int kit_child_fn(struct kit_team *t, unsigned index, void *arg);

/* Fork PROCS (at most KIT_MAX_PROCS) children running FN(T, i, ARG), each
 * with RESULT_SIZE zeroed bytes of shared memory (kit_team_result()); wait
 * until every child is ready (or dead) and start them 2 ms later.  0, or a
 * negative errno when a process, pipe or mapping could not be made (the
 * children already forked are killed and reaped). */
int kit_team_start(struct kit_team *t, unsigned procs, size_t result_size,
                   kit_child_fn *fn, void *arg);

/* In a child: say it is ready, wait for the start; returns the start time
 * (kit_now_ns()), which has passed on return. */
uint64_t kit_team_ready(struct kit_team *t);

/* The start time the children were given (in the parent, once started). */
uint64_t kit_team_t0(const struct kit_team *t);

void *kit_team_result(const struct kit_team *t, unsigned index);

/* Reap the children: true when every one exited with status 0. */
bool kit_team_wait(struct kit_team *t);

/* Unmap the results. */
void kit_team_free(struct kit_team *t);

/* ---- JSON lines -------------------------------------------------------- */

struct kit_json {
	FILE *f;
	bool first;
};

/* Open an object on F: "{". */
void kit_json_begin(struct kit_json *j, FILE *f);
/* "key":"value", with '"', '\\' and control characters escaped. */
void kit_json_str(struct kit_json *j, const char *key, const char *value);
void kit_json_uint(struct kit_json *j, const char *key, uint64_t value);
void kit_json_int(struct kit_json *j, const char *key, int64_t value);
/* "key":value with DECIMALS digits after the point (printf %.*f). */
void kit_json_num(struct kit_json *j, const char *key, int decimals,
                  double value);
/* "key":value in printf's %g. */
void kit_json_g(struct kit_json *j, const char *key, double value);
void kit_json_bool(struct kit_json *j, const char *key, bool value);
void kit_json_null(struct kit_json *j, const char *key);
/* Close the object and the line: "}\n". */
void kit_json_end(struct kit_json *j);

#endif
