/*
 * measure.c - one measurement: N processes on one implementation from a
 * common start, counted, then timed one operation at a time (the get_hit,
 * set, ycsb_* and hot_key workloads).
 */
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- one measurement --------------------------------------------------- */

uint64_t timer_cost;    /* ns of one clock read, calibrated */

/* One operation of S, its result checked. */
void step(struct conn *c, const struct dataset *d,
	  const struct seq *s, uint64_t i, unsigned char *val,
	  unsigned char *buf, struct proc_result *r)
{
	size_t at = i & (s->len - 1), len = 0;
	uint32_t op = s->ops[at], k = op & ~OP_SET;
	int rc;

	if (op & OP_SET) {
		value_stamp(d->id, k, val);
		rc = conn_set(c, s->keys[at], val, d->value);
		r->sets++;
	} else {
		rc = conn_get(c, s->keys[at], buf, d->value, &len);
		r->gets++;
		if (rc == 0 && !value_ok(d->id, k, d->value, buf, len))
			r->wrong++;
	}
	r->errors += rc < 0;
	r->misses += rc == 1;
}

/* From T0 on the common clock: warm up until T0 + WARM, count operations
 * for LIM->seconds, then time each for half as long. */
static void proc_run(struct conn *c, const struct dataset *d,
                     const struct seq *s, uint64_t t0,
                     const struct run_limit *lim, struct proc_result *r)
{
	unsigned char *val = xmalloc(d->value), *buf = xmalloc(d->value);
	double span = lim->seconds;
	uint64_t warm = (uint64_t)(span * 1e8);
	uint64_t t_count = t0 + warm, t_lat = t_count + (uint64_t)(span * 1e9);
	uint64_t t_end = t_lat + (uint64_t)(span * 5e8);
	uint64_t i = 0, t;

	value_init(d->id, d->value, val);
	while (kit_now_ns() < t0)
		;
	do {
		for (int j = 0; j < 16; j++)
			step(c, d, s, i++, val, buf, r);
	} while ((t = kit_now_ns()) < t_count);

	uint64_t cpu0 = kit_cpu_ns(), start = t, counted = i;

	do {
		for (int j = 0; j < 16; j++)
			step(c, d, s, i++, val, buf, r);
	} while ((t = kit_now_ns()) < t_lat);
	r->ops = i - counted;
	r->ns = t - start;
	r->cpu_ns = kit_cpu_ns() - cpu0;

	uint64_t before = kit_now_ns(), after;

	do {
		step(c, d, s, i++, val, buf, r);
		after = kit_now_ns();
		uint64_t ns = after - before;

		ns = ns > timer_cost ? ns - timer_cost : 0;
		kit_hist_add(&r->hist, ns);
		r->lat_ops++;
		before = after;
	} while (after < t_end);
	free(val);
	free(buf);
}

/* Process P of a run: attach, then FN from the common start. */
static int procs_child(struct kit_team *t, unsigned p, void *arg)
{
	const struct procs_plan *plan = arg;
	struct dataset *d = plan->w->ds;
	struct table *table = d->table;
	struct conn c;

	/* The upper bound: a table in this process's private memory.  Gets
	 * alone read the parent's copy (copy-on-write, pages never
	 * written); a workload with sets makes its own copy, so that no
	 * write is timed with the copying of a page. */
	if (plan->impl == PRIVATE)
		table = plan->w->set_percent == 0 ? d->priv :
		                                    table_copy_private(d->priv);
	conn_open(&c, plan->impl, d, table);
	uint64_t t0 = kit_team_ready(t);

	plan->fn(&c, d, &plan->seqs[p], t0, plan->lim, kit_team_result(t, p));
	conn_close(&c);
	return 0;
}

/* Fork PROCS processes that each attach to IMPL for W, then run FN on
 * their sequence of SEQS within LIM, all from one start, into the team
 * (their results: kit_team_result(); kit_team_free() when read).  Exits if
 * one fails. */
void procs_run(const struct workload *w, enum impl_id impl,
	       unsigned procs, const struct seq *seqs, proc_fn *fn,
	       const struct run_limit *lim)
{
	struct procs_plan plan = { w, impl, seqs, fn, lim };
	struct dataset *d = w->ds;
	int rc;

	if (impl == PRIVATE)
		table_fork(d->priv, true);
	rc = kit_team_start(&team, procs, sizeof(struct proc_result),
	                    procs_child, &plan);
	if (impl == PRIVATE)
		table_fork(d->priv, false);
	if (rc != 0)
		fail("starting the processes: %s", strerror(-rc));
	if (!kit_team_wait(&team))
		fail("a %s process of %s failed", impl_names[impl], w->bench);
}

void proc_totals_add(struct proc_totals *t, const struct proc_result *r)
{
	t->ops += r->ops;
	t->ns = r->ns > t->ns ? r->ns : t->ns;
	t->cpu_ns += r->cpu_ns;
	t->gets += r->gets;
	t->misses += r->misses;
	t->sets += r->sets;
	t->errors += r->errors;
	t->wrong += r->wrong;
	t->lat_ops += r->lat_ops;
}

/* Fork PROCS processes that each run W on IMPL with their sequence of
 * SEQS; fill M.  Exits on any failed call or wrong value. */
void measure(const struct workload *w, enum impl_id impl,
	     unsigned procs, double span, const struct seq *seqs,
	     struct measurement *m)
{
	struct run_limit lim = { .seconds = span };
	struct dataset *d = w->ds;
	static struct kit_hist hist;
	struct proc_totals sum = { 0 };

	procs_run(w, impl, procs, seqs, proc_run, &lim);
	kit_hist_clear(&hist);
	memset(m, 0, sizeof *m);
	m->w = w;
	m->impl = impl;
	m->procs = procs;
	for (unsigned p = 0; p < procs; p++) {
		const struct proc_result *r = kit_team_result(&team, p);

		m->ops_per_sec += r->ns ? (double)r->ops * 1e9 / (double)r->ns : 0;
		proc_totals_add(&sum, r);
		kit_hist_merge(&hist, &r->hist);
	}
	kit_team_free(&team);
	if (sum.errors || sum.wrong)
		fail("%s on %s (%u B values): %llu failed calls, %llu wrong "
		     "values read", impl_names[impl], w->bench, d->value,
		     (unsigned long long)sum.errors,
		     (unsigned long long)sum.wrong);
	m->ops = sum.ops;
	m->gets = sum.gets;
	m->misses = sum.misses;
	m->lat_ops = sum.lat_ops;
	m->cpu_ns_per_op = m->ops ? (double)sum.cpu_ns / (double)m->ops : 0;
	m->p50 = kit_hist_percentile(&hist, 0.5);
	m->p99 = kit_hist_percentile(&hist, 0.99);
	m->p999 = kit_hist_percentile(&hist, 0.999);
}
