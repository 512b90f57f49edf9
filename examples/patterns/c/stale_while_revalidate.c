/*
 * stale_while_revalidate.c - keep serving while a value is recomputed.
 *
 * Stale-while-revalidate: a segment created with a stale grace
 * (hc_config.stale_grace_ms) keeps expired items for that long.
 * hc_get_or_lease() serves such an item with info.stale = 1; the one
 * caller that also gets lease.held refreshes it, and everybody else is
 * served the old value meanwhile instead of waiting.  (hc_get() never
 * returns an expired item.)
 *
 * Early refresh (XFetch): an item set with its compute time
 * (hc_set_options.compute_ms) makes hc_get_ex() set info.refresh now and
 * then before it expires, more often the nearer expiry is and the longer
 * the value took: one reader recomputes ahead of time and nobody misses
 * (refresh_ahead.c shows it with readers at work).
 *
 * Promises checked: while one process refreshes an expired value, another
 * is served the old one at once; the database is asked once.  A value far
 * from expiry with a short compute time is never refreshed early; one near
 * expiry that took long is, before it expires.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Another reader, while the refresh is under way: is it served the old
 * value at once (no wait), without the lease? */
static int served_stale(hc_cache *c)
{
	char buf[64];
	hc_item_info info;
	hc_lease lease;
	int rc = hc_get_or_lease(c, "user:9", 6, buf, sizeof buf - 1, &info,
	                         5000, 0, &lease);

	return rc == 0 && info.stale && !lease.held && info.vlen == 5 &&
	       memcmp(buf, "user9", 5) == 0;
}

static void stale_while_revalidate(hc_cache *c, source *db)
{
	char buf[64];
	hc_item_info info;
	hc_lease lease;
	int status;

	hc_must(hc_set(c, "user:9", 6, "user9", 5, 100), "set user:9");
	source_rename(db, 9, "dave");
	sleep_ms(200);  /* past the TTL, within the grace */
	check(hc_get(c, "user:9", 6, buf, sizeof buf, NULL) == HC_ENOTFOUND,
	      "hc_get misses an expired item");

	int rc = hc_get_or_lease(c, "user:9", 6, buf, sizeof buf - 1, &info,
	                         5000, 5000, &lease);

	check(rc == 0 && info.stale && lease.held, "the first reader is "
	      "served the stale value and given the lease to refresh it");
	pid_t pid = fork();

	if (pid == 0) {
		int ok = served_stale(c);

		hc_close(c);
		_exit(ok ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "meanwhile "
	      "another process is served the stale value without waiting");

	source_user_name(db, 9, buf, sizeof buf);  /* the refresh */
	hc_set_options opt = { .ttl_ms = 60000 };

	rc = hc_lease_fill(c, &lease, "user:9", 6, buf, strlen(buf), &opt);
	if (rc != HC_ENOLEASE)  /* taken over: kept unless a newer came */
		hc_must(rc, "fill user:9");
	size_t len;

	hc_must(hc_get(c, "user:9", 6, buf, sizeof buf - 1, &len), "get");
	buf[len] = '\0';
	check(strcmp(buf, "dave") == 0, "after the refresh: %s", buf);
}

/* How many of N reads of KEY are told to refresh early.  A reader told
 * so recomputes the value and sets it (with its compute time) while the
 * old one still serves everybody else. */
static int early_refreshes(hc_cache *c, const char *key, int n)
{
	char buf[64];
	hc_item_info info;
	int told = 0;

	for (int i = 0; i < n; i++) {
		hc_must(hc_get_ex(c, key, strlen(key), buf, sizeof buf, &info), key);
		told += info.refresh;
	}
	return told;
}

int main(void)
{
	hc_config cfg;

	hc_config_init(&cfg);
	cfg.stale_grace_ms = 60000;
	source_init();
	hc_cache *c = segment_create("swr", &cfg);
	source *db = source_open(100);

	stale_while_revalidate(c, db);
	long queries = source_queries(db);

	check(queries == 1, "the database was asked once (%ld)", queries);

	/* XFetch: compute times as hc_set_ex records them. */
	hc_set_options quick = { .ttl_ms = 60000, .compute_ms = 1 };
	hc_set_options slow = { .ttl_ms = 1000, .compute_ms = 10000 };

	hc_must(hc_set_ex(c, "fresh", 5, "v", 1, &quick), "set fresh");
	hc_must(hc_set_ex(c, "expensive", 9, "v", 1, &slow), "set expensive");
	int fresh = early_refreshes(c, "fresh", 1000);
	int expensive = early_refreshes(c, "expensive", 20);

	printf("early refresh: %d of 1000 reads of a fresh, cheap value; %d "
	       "of 20 of an expensive one near expiry\n", fresh, expensive);
	check(fresh == 0, "a cheap value far from expiry is not refreshed");
	check(expensive > 0, "an expensive value is refreshed before it "
	      "expires");

	source_close(db);
	hc_close(c);
	return check_status();
}
