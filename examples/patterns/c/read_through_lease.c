/*
 * read_through_lease.c - read-through with a lease: when many processes
 * miss one key at once (a popular entry expired, a deploy emptied the
 * cache), only one of them queries the database; the others wait for its
 * value instead of all asking the database the same question (a
 * "stampede", or "dog-pile").
 *
 *     rc = hc_get_or_lease(key, ..., &lease)
 *     hit:                        use the value
 *     miss and lease.held:        value = query(db); hc_lease_fill(key, value)
 *     miss, no lease (or timed out waiting): query(db) all the same
 *
 * hc_get_or_load() wraps exactly this around a loader callback.
 *
 * Promise checked: 6 processes released together on a missing key, the
 * query taking 300 ms, ask the database once between them (counted in the
 * database), and every one of them gets the right value.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PROCS 6
#define LEASE_MS 5000   /* a loader slower than this loses its lease */
#define WAIT_MS 10000   /* how long the others wait for its value */

enum { GOT_FROM_CACHE = 0, QUERIED = 1, WRONG = 2 };

/* One reader: get user 7's name, or compute it under the lease. */
static int reader(hc_cache *c, int start)
{
	char buf[64];
	hc_item_info info;
	hc_lease lease;
	int outcome = GOT_FROM_CACHE;

	if (read(start, buf, 1) < 0)  /* released together: EOF */
		return WRONG;
	int rc = hc_get_or_lease(c, "user:7", 6, buf, sizeof buf - 1, &info,
	                         LEASE_MS, WAIT_MS, &lease);

	if (rc == HC_ENOTFOUND || rc == HC_ETIMEDOUT) {
		source *db = source_open(300);

		if (!source_user_name(db, 7, buf, sizeof buf))
			buf[0] = '\0';
		source_close(db);
		hc_set_options opt = { .ttl_ms = 60000 };

		if (lease.held) {  /* wakes the waiters */
			rc = hc_lease_fill(c, &lease, "user:7", 6, buf,
			                   strlen(buf), &opt);
			/* HC_ENOLEASE: this loader overran LEASE_MS and was
			 * taken over; its value is kept unless a newer one
			 * came. */
			if (rc != HC_ENOLEASE)
				hc_must(rc, "lease fill");
		} else {
			hc_must(hc_set_ex(c, "user:7", 6, buf, strlen(buf),
			                  &opt), "set");
		}
		outcome = QUERIED;
	} else {
		hc_must(rc, "get or lease");
		buf[info.vlen] = '\0';
	}
	return strcmp(buf, "user7") == 0 ? outcome : WRONG;
}

int main(void)
{
	int start[2], got[3] = { 0 };
	pid_t pids[PROCS];

	source_init();
	hc_cache *c = segment_create("read-through", NULL);

	if (pipe(start) != 0)
		hc_must(HC_ESYS, "pipe");
	for (int i = 0; i < PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			close(start[1]);
			int outcome = reader(c, start[0]);

			hc_close(c);
			_exit(outcome);
		}
	}
	close(start[1]);  /* every reader's read() returns now */
	for (int i = 0; i < PROCS; i++) {
		int status;

		waitpid(pids[i], &status, 0);
		got[WIFEXITED(status) && WEXITSTATUS(status) < 3
		    ? WEXITSTATUS(status) : WRONG]++;
	}
	source *db = source_open(0);
	long queries = source_queries(db);
	hc_stats st;

	hc_must(hc_stats_get(c, &st), "stats");
	printf("%d processes missed user:7 at once: %d queried, %d were given"
	       " its value (%llu waited on the lease)\n", PROCS, got[QUERIED],
	       got[GOT_FROM_CACHE], (unsigned long long)st.lease_waits);
	check(got[WRONG] == 0, "every process got the right value");
	check(queries == 1, "the database was asked once (%ld)", queries);
	source_close(db);
	close(start[0]);
	hc_close(c);
	return check_status();
}
