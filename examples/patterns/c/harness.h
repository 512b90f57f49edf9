/*
 * harness.h - what the pattern examples share, so that each of them shows
 * its pattern and little else:
 *
 *  - the slow source: a small SQLite database of users (ids 1..SOURCE_USERS,
 *    each with a name and a team).  Every read it answers adds one to a
 *    counter kept in the database itself, so that the reads of forked
 *    processes add up in one place and an example can say how often the
 *    database was asked;
 *  - a segment of the example's own, named after it and the pid, removed
 *    when the example exits;
 *  - the self-check: each promise of the pattern is one check() line, and
 *    check_status() is the exit status (0 when every check held).
 *
 * Errors from SQLite or hostcache end the example with exit status 2 and
 * a line saying what failed.
 */
#ifndef PATTERNS_HARNESS_H
#define PATTERNS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include "hostcache.h"

#define SOURCE_USERS 100

typedef struct source source;

/* Create this run's database (users 1..SOURCE_USERS, query count 0); it
 * is removed at exit.  Call once, before forking. */
void source_init(void);

/* A connection of this process (SQLite connections do not survive a
 * fork: open one in each process).  Every read sleeps DELAY_MS first, to
 * stand for a query that is expensive. */
source *source_open(unsigned delay_ms);
void source_close(source *s);

/* User ID's name into BUF: 1 found, 0 no such user.  Counts one query. */
int source_user_name(source *s, long id, char *buf, size_t cap);

/* Users of team TEAM, as "name,name,..." into BUF.  Counts one query. */
void source_team_members(source *s, long team, char *buf, size_t cap);

/* Writes: rename user ID (insert it if absent).  Not counted. */
void source_rename(source *s, long id, const char *name);

/* How many reads the database has answered, over every process. */
long source_queries(source *s);

/* Create the segment "hc-pattern-PATTERN-PID" (CFG may be NULL: 8 MiB,
 * 16 process slots), removed at exit. */
hc_cache *segment_create(const char *pattern, hc_config *cfg);

/* hc_get of KEY into BUF as a string: at most CAP - 1 bytes, then a NUL
 * (BUF is left as it was unless the get succeeds).  hc_get's result. */
int get_string(hc_cache *c, const char *key, size_t klen, char *buf,
               size_t cap);

/* An hc_* call that must succeed: on an error, say which and exit 2. */
void hc_must(int rc, const char *what);

/* Sleep MS milliseconds; the CLOCK_MONOTONIC time in ms, to time with. */
void sleep_ms(long ms);
long now_ms(void);

/* Print "ok - WHAT" or "FAIL - WHAT" and remember a failure. */
bool check(bool cond, const char *what, ...)
	__attribute__((format(printf, 2, 3)));

/* 0 when every check held, 1 otherwise. */
int check_status(void);

#endif /* PATTERNS_HARNESS_H */
