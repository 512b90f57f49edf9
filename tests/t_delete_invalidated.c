/*
 * t_delete_invalidated - hc_delete() of a key whose item an invalidation
 * made a miss must say HC_ENOTFOUND, like every read of it does ("Remove
 * KEY.  HC_ENOTFOUND if it was absent").  Found by fuzz/fuzz_diff.c, whose
 * model knows such a key absent.
 *
 * Plain TAP.  (The bug: index_remove_key counted an unexpired entry live
 * without asking whether it was invalidated.)
 */
#include <stdio.h>
#include <unistd.h>

#include "hostcache.h"

int main(void)
{
	char name[64], buf[16];
	hc_config cfg;
	hc_cache *c;
	size_t len;
	int rc;

	snprintf(name, sizeof name, "/hc-test-delinval-%ld", (long)getpid());
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 1 << 20;
	cfg.max_procs = 4;
	if (hc_create(name, &cfg, &c) != 0) {
		printf("1..0 # SKIP cannot create a segment: %s\n", hc_last_error());
		return 0;
	}
	hc_unlink(name);
	printf("1..4\n");
	hc_set(c, "user:1", 6, "v", 1, 0);
	hc_set(c, "user:2", 6, "v", 1, 0);
	hc_invalidate_prefix(c, "user:", 5, NULL);
	rc = hc_get(c, "user:1", 6, buf, sizeof buf, &len);
	printf("%s 1 - after invalidating \"user:\", get of user:1 misses (%d)\n",
	       rc == HC_ENOTFOUND ? "ok" : "not ok", rc);
	/* user:2 was not read since: its entry is still in the index. */
	rc = hc_delete(c, "user:2", 6);
	printf("%s 2 - delete of the invalidated user:2 says HC_ENOTFOUND "
	       "(got %d %s)\n", rc == HC_ENOTFOUND ? "ok" : "not ok", rc,
	       hc_strerror(rc));
	hc_set(c, "t", 1, "v", 1, 0);
	hc_flush(c);
	rc = hc_delete(c, "t", 1);
	printf("%s 3 - delete after hc_flush says HC_ENOTFOUND (got %d %s)\n",
	       rc == HC_ENOTFOUND ? "ok" : "not ok", rc, hc_strerror(rc));
	rc = hc_get(c, "t", 1, buf, sizeof buf, &len);
	printf("%s 4 - and the key stays absent (%d)\n",
	       rc == HC_ENOTFOUND ? "ok" : "not ok", rc);
	hc_close(c);
	return 0;
}
