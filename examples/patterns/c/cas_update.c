/*
 * cas_update.c - read-modify-write with CAS: hc_get_ex() returns a value
 * with its CAS id; hc_cas() stores the changed value only if nobody wrote
 * the key since, else HC_ECASMISMATCH and the caller reads again.  No
 * lock, and no update lost between processes that change one entry at
 * once (for plain counters, hc_incr() is one call).
 *
 *     loop:  value, cas = gets(key)
 *            new = change(value)
 *            cas(key, new, cas):  stored, or changed meanwhile: loop
 *
 * Here 4 processes each add 500 visits to a user's cached "name visits"
 * record, loaded once from the database.
 *
 * Promise checked: the record ends at 2000 visits: no update was lost, at
 * any number of retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PROCS 4
#define VISITS 500

/* The pattern: add one visit; returns how many retries it took. */
static int add_visit(hc_cache *c)
{
	char buf[96], name[64];
	hc_item_info info;
	long visits;

	for (int retries = 0;; retries++) {
		hc_must(hc_get_ex(c, "user:3:visits", 13, buf, sizeof buf - 1,
		                  &info), "gets");
		buf[info.vlen] = '\0';
		if (sscanf(buf, "%63s %ld", name, &visits) != 2)
			hc_must(HC_ECORRUPT, buf);
		int len = snprintf(buf, sizeof buf, "%s %ld", name, visits + 1);
		int rc = hc_cas(c, "user:3:visits", 13, buf, (size_t)len, 0,
		                info.cas, NULL);

		if (rc == 0)
			return retries;
		if (rc != HC_ECASMISMATCH)
			hc_must(rc, "cas");
	}
}

int main(void)
{
	char buf[96], want[96];
	size_t len;
	pid_t pids[PROCS];
	int failed = 0, start[2];

	source_init();
	hc_cache *c = segment_create("cas", NULL);
	source *db = source_open(1);

	source_user_name(db, 3, buf, sizeof buf - 3);
	strcat(buf, " 0");
	hc_must(hc_set(c, "user:3:visits", 13, buf, strlen(buf), 0), "set");
	if (pipe(start) != 0)
		hc_must(HC_ESYS, "pipe");
	for (int i = 0; i < PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			int retries = 0;

			close(start[1]);
			if (read(start[0], buf, 1) < 0)  /* all at once: EOF */
				_exit(1);
			for (int v = 0; v < VISITS; v++)
				retries += add_visit(c);
			printf("process %d: %d visits, %d retries\n", i, VISITS,
			       retries);
			fflush(stdout);  /* _exit() would not */
			hc_close(c);
			_exit(0);
		}
	}
	close(start[1]);
	for (int i = 0; i < PROCS; i++) {
		int status;

		waitpid(pids[i], &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	hc_must(hc_get(c, "user:3:visits", 13, buf, sizeof buf - 1, &len), "get");
	buf[len] = '\0';
	check(failed == 0, "every process finished its updates");
	snprintf(want, sizeof want, "user3 %d", PROCS * VISITS);
	check(strcmp(buf, want) == 0, "no update was lost: \"%s\" (want "
	      "\"%s\")", buf, want);

	close(start[0]);
	source_close(db);
	hc_close(c);
	return check_status();
}
