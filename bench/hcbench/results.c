/*
 * results.c - the measurements kept, and their medians and ratios over
 * the repetitions.
 */
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- results ------------------------------------------------------------ */

static struct measurement *results;
static unsigned nresults, results_cap;
unsigned reps = 3;
double seconds = 0.25;
bool quick;

void record(const struct measurement *m)
{
	if (nresults == results_cap) {
		results_cap = results_cap ? 2 * results_cap : 256;
		results = realloc(results, results_cap * sizeof *results);
		if (results == NULL)
			fail("out of memory");
	}
	results[nresults++] = *m;
}

const struct measurement *find(const struct workload *w, int impl,
			       unsigned procs, unsigned rep)
{
	for (unsigned i = 0; i < nresults; i++) {
		const struct measurement *m = &results[i];

		if (m->w == w && (int)m->impl == impl && m->procs == procs &&
		    m->rep == rep)
			return m;
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of N values, which it sorts. */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double field_of(const struct measurement *m, enum field f)
{
	switch (f) {
	case F_OPS:
		return m->ops_per_sec;
	case F_P50:
		return m->p50;
	case F_P99:
		return m->p99;
	case F_P999:
		return m->p999;
	case F_CPU:
		return m->cpu_ns_per_op;
	case F_MISS:
		return m->gets ? (double)m->misses / (double)m->gets : 0;
	}
	return 0;
}

/* S from the N values of V (sorted by median()); false when N is 0. */
static bool stat_fill(struct stat *s, double *v, unsigned n)
{
	memset(s, 0, sizeof *s);
	if (n == 0)
		return false;
	s->n = n;
	s->med = median(v, n);
	s->min = v[0];
	s->max = v[n - 1];
	return true;
}

bool stat_of(const struct workload *w, int impl, unsigned procs,
	     enum field f, struct stat *s)
{
	double v[MAX_REPS];
	unsigned n = 0;

	for (unsigned rep = 0; rep < reps; rep++) {
		const struct measurement *m = find(w, impl, procs, rep);

		if (m != NULL)
			v[n++] = field_of(m, f);
	}
	return stat_fill(s, v, n);
}

/* The median over the repetitions of A's F over B's F, each pair taken
 * within one repetition. */
bool ratio_of(const struct workload *wa, int ia, unsigned pa,
	      const struct workload *wb, int ib, unsigned pb,
	      enum field f, struct stat *s)
{
	double v[MAX_REPS];
	unsigned n = 0;

	for (unsigned rep = 0; rep < reps; rep++) {
		const struct measurement *a = find(wa, ia, pa, rep);
		const struct measurement *b = find(wb, ib, pb, rep);

		if (a != NULL && b != NULL && field_of(b, f) > 0)
			v[n++] = field_of(a, f) / field_of(b, f);
	}
	return stat_fill(s, v, n);
}

const struct workload *find_workload(const char *bench, enum dist dist,
				     unsigned value, const char *fits)
{
	for (unsigned i = 0; i < nworkloads; i++) {
		const struct workload *w = &workloads[i];

		if (strcmp(w->bench, bench) == 0 && w->dist == dist &&
		    (value == 0 || w->ds->value == value) &&
		    (fits == NULL || strcmp(w->ds->fits, fits) == 0))
			return w;
	}
	return NULL;
}
