/*
 * refresh_ahead.c - refresh-ahead (probabilistic early refresh, XFetch):
 * an expensive value is recomputed by one reader shortly before it
 * expires, while everybody else is still served the old one, so that no
 * reader ever misses it and waits for the database.
 *
 *     hc_set_ex(key, value, { .ttl_ms = TTL, .compute_ms = took })
 *     hc_get_ex(key, ..., &info)
 *     hit and info.refresh:  if hc_add(lock, ...) succeeds: recompute, set
 *                            (with its new compute time), delete the lock
 *     miss:                  recompute (refresh-ahead failed to be ahead)
 *
 * hc_get_ex() sets info.refresh with a probability that grows as expiry
 * nears, the faster the longer the value took to compute (Vattani et al.:
 * now - compute * ln(random) >= expiry).  With many reads, some read is
 * told to refresh about compute * ln(compute / time between reads) before
 * expiry: early enough for the recompute to finish in time, late enough
 * that the value is recomputed about once per TTL.  Readers told so at
 * once are several; the lock (hc_add of a key with a TTL, so that a
 * refresher that dies frees it) lets one of them recompute.
 *
 * Promises checked: 4 processes reading one value every millisecond for
 * two TTLs, the value taking 200 ms to compute, never miss it; the
 * database is asked once to load it and once per refresh, and the
 * refreshes are about a TTL apart (at most two per TTL).
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define READERS 4
#define TTL_MS 4000      /* the value's lifetime */
#define QUERY_MS 200     /* what it takes to compute */
#define RUN_MS 8000      /* how long the readers read: two TTLs */
#define LOCK_MS 5000     /* a refresher that dies frees the lock after this */

/* What a reader saw, sent to the parent. */
struct reading {
	long reads, misses, told, refreshes;
	long least_left_ms;  /* the least TTL left at a refresh */
};

/* Compute user 5's name and set it with the time that took. */
static void load(hc_cache *c, source *db)
{
	char name[64];
	long t0 = now_ms();

	source_user_name(db, 5, name, sizeof name);
	hc_set_options opt = { .ttl_ms = TTL_MS,
	                       .compute_ms = (uint32_t)(now_ms() - t0) };

	hc_must(hc_set_ex(c, "user:5", 6, name, strlen(name), &opt), "set");
}

/* The pattern: one read of user 5's name. */
static void read_once(hc_cache *c, source *db, struct reading *r)
{
	char buf[64];
	hc_item_info info, now;
	int rc = hc_get_ex(c, "user:5", 6, buf, sizeof buf, &info);

	r->reads++;
	if (rc == HC_ENOTFOUND) {
		r->misses++;
		load(c, db);
		return;
	}
	hc_must(rc, "get");
	if (!info.refresh)
		return;
	r->told++;
	if (hc_add(c, "lock:user:5", 11, "1", 1, LOCK_MS) != 0)
		return;  /* another reader refreshes it */
	/* Refreshed since this read said so (between the read and the add)? */
	if (hc_get_ex(c, "user:5", 6, buf, sizeof buf, &now) == 0 &&
	    now.cas == info.cas) {
		load(c, db);
		r->refreshes++;
		if ((long)info.ttl_ms < r->least_left_ms)
			r->least_left_ms = (long)info.ttl_ms;
	}
	hc_delete(c, "lock:user:5", 11);
}

static struct reading reader(hc_cache *c, int start)
{
	struct reading r = { 0, 0, 0, 0, TTL_MS };
	char byte;

	if (read(start, &byte, 1) < 0)  /* released together: EOF */
		hc_must(HC_ESYS, "start");
	source *db = source_open(QUERY_MS);

	for (long end = now_ms() + RUN_MS; now_ms() < end; sleep_ms(1))
		read_once(c, db, &r);
	source_close(db);
	return r;
}

int main(void)
{
	int start[2], results[2];
	struct reading all = { 0, 0, 0, 0, TTL_MS }, r;
	pid_t pids[READERS];

	source_init();
	hc_cache *c = segment_create("refresh-ahead", NULL);
	source *db = source_open(QUERY_MS);

	load(c, db);
	if (pipe(start) != 0 || pipe(results) != 0)
		hc_must(HC_ESYS, "pipe");
	fflush(stdout);
	for (int i = 0; i < READERS; i++) {
		if ((pids[i] = fork()) == 0) {
			close(start[1]);
			r = reader(c, start[0]);
			hc_close(c);
			/* Smaller than PIPE_BUF: written whole. */
			_exit(write(results[1], &r, sizeof r) == sizeof r ? 0 : 1);
		}
	}
	close(start[1]);  /* every reader's read() returns now */
	close(results[1]);
	for (int i = 0; i < READERS; i++) {
		waitpid(pids[i], NULL, 0);
		if (read(results[0], &r, sizeof r) != (ssize_t)sizeof r)
			hc_must(HC_ESYS, "a reader's results");
		all.reads += r.reads;
		all.misses += r.misses;
		all.told += r.told;
		all.refreshes += r.refreshes;
		if (r.least_left_ms < all.least_left_ms)
			all.least_left_ms = r.least_left_ms;
	}
	long queries = source_queries(db);

	printf("%d readers, %d s, TTL %d s: %ld reads, %ld misses, %ld told to "
	       "refresh early, %ld refreshes (%ld ms or more before expiry), %ld "
	       "queries\n", READERS, RUN_MS / 1000, TTL_MS / 1000, all.reads,
	       all.misses, all.told, all.refreshes, all.least_left_ms, queries);
	check(all.misses == 0, "no reader missed the value (misses: %ld)",
	      all.misses);
	check(all.refreshes >= RUN_MS / TTL_MS, "it was refreshed before it "
	      "expired, every TTL (%ld refreshes)", all.refreshes);
	check(all.refreshes <= 2 * RUN_MS / TTL_MS, "about once per TTL, not "
	      "once per reader told to (%ld refreshes, %ld told)",
	      all.refreshes, all.told);
	check(queries == 1 + all.refreshes + all.misses, "the database was "
	      "asked once to load and once per refresh (%ld)", queries);

	close(results[0]);
	close(start[0]);
	source_close(db);
	hc_close(c);
	return check_status();
}
