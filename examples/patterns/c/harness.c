/*
 * harness.c - the slow source (SQLite), the example's own segment, and the
 * self-check; see harness.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"

struct source {
	sqlite3 *db;
	unsigned delay_ms;
};

static char db_path[256];
static char segment_name[128];
static pid_t owner;       /* the process that made both; it removes them */
static int failures;

static void die(const char *what, const char *why)
{
	fprintf(stderr, "%s: %s\n", what, why);
	exit(2);
}

static void remove_at_exit(void)
{
	if (getpid() != owner)
		return;  /* a forked child: the parent still uses them */
	if (segment_name[0] != '\0')
		hc_unlink(segment_name);
	if (db_path[0] != '\0')
		unlink(db_path);
}

static void remember_owner(void)
{
	if (owner == 0) {
		owner = getpid();
		atexit(remove_at_exit);
	}
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err ? err : "failed");
}

void source_init(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char sql[128];
	sqlite3 *db;

	remember_owner();
	snprintf(db_path, sizeof db_path, "%s/hc-pattern-%d.db", dir,
	         (int)getpid());
	unlink(db_path);
	if (sqlite3_open(db_path, &db) != SQLITE_OK)
		die(db_path, sqlite3_errmsg(db));
	exec_sql(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT,"
	             " team INTEGER);"
	             "CREATE TABLE queries (n INTEGER); INSERT INTO queries"
	             " VALUES (0); BEGIN");
	for (int id = 1; id <= SOURCE_USERS; id++) {
		snprintf(sql, sizeof sql, "INSERT INTO users VALUES"
		         " (%d, 'user%d', %d)", id, id, id % 10);
		exec_sql(db, sql);
	}
	exec_sql(db, "COMMIT");
	sqlite3_close(db);
}

source *source_open(unsigned delay_ms)
{
	source *s = calloc(1, sizeof *s);

	if (s == NULL || sqlite3_open(db_path, &s->db) != SQLITE_OK)
		die(db_path, "cannot open the database");
	/* Processes that count queries at once take turns on the lock. */
	sqlite3_busy_timeout(s->db, 10000);
	s->delay_ms = delay_ms;
	return s;
}

void source_close(source *s)
{
	sqlite3_close(s->db);
	free(s);
}

/* Run SQL with ?1 = ARG; the first column of the first row into BUF (if
 * not NULL).  Returns whether there was a row. */
static int query(source *s, const char *sql, long arg, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sql, sqlite3_errmsg(s->db));
	sqlite3_bind_int64(st, 1, arg);
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW) {
		found = 1;
		if (buf != NULL)
			snprintf(buf, cap, "%s", sqlite3_column_text(st, 0));
	} else if (rc != SQLITE_DONE) {
		die(sql, sqlite3_errmsg(s->db));
	}
	sqlite3_finalize(st);
	return found;
}

/* One read from the source: slow, and counted. */
static void count_query(source *s)
{
	struct timespec delay = { s->delay_ms / 1000,
	                          (long)(s->delay_ms % 1000) * 1000000L };

	nanosleep(&delay, NULL);
	exec_sql(s->db, "UPDATE queries SET n = n + 1");
}

int source_user_name(source *s, long id, char *buf, size_t cap)
{
	count_query(s);
	return query(s, "SELECT name FROM users WHERE id = ?1", id, buf, cap);
}

void source_team_members(source *s, long team, char *buf, size_t cap)
{
	count_query(s);
	if (!query(s, "SELECT group_concat(name, ',') FROM (SELECT name FROM"
	              " users WHERE team = ?1 ORDER BY id)", team, buf, cap))
		buf[0] = '\0';
}

void source_rename(source *s, long id, const char *name)
{
	sqlite3_stmt *st;
	const char *sql = "INSERT INTO users (id, name, team) VALUES"
	                  " (?1, ?2, ?1 % 10) ON CONFLICT (id) DO UPDATE"
	                  " SET name = excluded.name";

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sql, sqlite3_errmsg(s->db));
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		die(sql, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
}

long source_queries(source *s)
{
	char buf[32];

	query(s, "SELECT n FROM queries", 0, buf, sizeof buf);
	return atol(buf);
}

hc_cache *segment_create(const char *pattern, hc_config *cfg)
{
	hc_config defaults;
	hc_cache *c;

	if (cfg == NULL) {
		hc_config_init(&defaults);
		cfg = &defaults;
	}
	if (cfg->size == 0)
		cfg->size = 8 << 20;
	if (cfg->max_procs == 0)
		cfg->max_procs = 16;
	remember_owner();
	snprintf(segment_name, sizeof segment_name, "hc-pattern-%s-%d",
	         pattern, (int)getpid());
	hc_must(hc_create(segment_name, cfg, &c), segment_name);
	return c;
}

int get_string(hc_cache *c, const char *key, size_t klen, char *buf,
               size_t cap)
{
	size_t len;
	int rc = hc_get(c, key, klen, buf, cap - 1, &len);

	if (rc == 0)
		buf[len] = '\0';
	return rc;
}

void hc_must(int rc, const char *what)
{
	/* HC_ESYS from an example's own system call: errno says why. */
	if (rc == HC_ESYS)
		die(what, strerror(errno));
	if (rc < 0)
		die(what, hc_last_error());
}

void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

bool check(bool cond, const char *what, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "FAIL");
	va_start(ap, what);
	vprintf(what, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		failures++;
	return cond;
}

int check_status(void)
{
	return failures ? 1 : 0;
}
