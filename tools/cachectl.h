/*
 * cachectl.h - what the files of cachectl share.
 *
 * The layers.  A file calls only files below it (or beside it on its own
 * row, never back); nothing calls up.
 *
 *   main      cachectl.c         the command table, usage, main
 *   commands  cachectl_segment.c create, destroy, info
 *             cachectl_items.c   get, set, del, incr, decr, touch, keys,
 *                                invalidate, flush
 *             cachectl_dump.c    dump and restore, and their file format
 *                                (uses the --prefix option of items)
 *             cachectl_stats.c   stats (table, JSON, Prometheus), ps
 *             cachectl_top.c     top: live rates (uses the slots of stats)
 *             cachectl_check.c   check [--repair]
 *   args      cachectl_args.c    command lines, options, attaching
 *   report    cachectl_report.c  failure messages and what to do about them
 *   base      cachectl_format.c  escaping, units, aligned tables, JSON
 *                                (cachectl_format.h)
 *             cachectl_parse.c   numbers, sizes, durations from the command
 *                                line (cachectl_parse.h)
 *
 * Conventions every command keeps:
 *  - exit status 0 success, 1 key not found, 2 usage error, 3 any other
 *    error (enum status);
 *  - a failure prints exactly one line on stderr, "cachectl: WHAT: WHY",
 *    with what to do where there is something to do;
 *  - people get aligned tables, programs get --json (one JSON document on
 *    stdout, or one per line where the command streams);
 *  - keys and other binary data are shown escaped (escape_bytes) unless
 *    --raw asks for the bytes;
 *  - a command attaches for as short a time as it can: cachectl holds a
 *    process slot only while it works.
 */
#ifndef CACHECTL_H
#define CACHECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hostcache.h"
#include "cachectl_format.h"
#include "cachectl_parse.h"

enum status {
	STATUS_OK = 0,
	STATUS_NOT_FOUND = 1,
	STATUS_USAGE = 2,
	STATUS_ERROR = 3,
};

#define MAX_POSITIONAL 3
#define MAX_OPTIONS 12   /* the most any command takes */
#define MAX_REPEATS 8    /* occurrences kept of a repeatable option */

struct option_spec {
	const char *name;  /* without the leading "--" */
	bool takes_value;  /* false: a flag such as --json */
	bool repeatable;   /* may be given several times (--tag) */
};

struct args;

struct command {
	const char *name;
	const char *synopsis;    /* what follows "cachectl NAME" in usage */
	const char *description; /* the rest of "cachectl NAME --help" */
	/* NULL-terminated; a name in brackets ("[DELTA]") is optional and
	 * only optional names may follow it. */
	const char *const *positional_names;
	const struct option_spec *options;   /* ends with a NULL name */
	int (*run)(const struct args *a);
};

/* What the command line gave for one option. */
struct option_given {
	const char *value;               /* the last; "" for a flag */
	const char *all[MAX_REPEATS];    /* every value, for repeatable ones */
	int count;
};

/* One parsed command line. */
struct args {
	const struct command *cmd;
	const char *positional[MAX_POSITIONAL];
	int positional_count;
	struct option_given options[MAX_OPTIONS]; /* indexed like cmd->options */
};

/* cachectl_args.c: command lines, options and attaching */
int parse_args(const struct command *cmd, int argc, char **argv,
               struct args *a);
bool wants_help(int argc, char **argv);
const char *option_value(const struct args *a, const char *name);
bool option_given(const struct args *a, const char *name);
const struct option_given *option_all(const struct args *a, const char *name);
int open_segment(const struct args *a, hc_cache **c);
int with_segment_observing(const struct args *a,
                           int (*body)(const struct args *a, hc_cache *c));
int close_segment(const struct args *a, hc_cache *c, int status);
int with_segment(const struct args *a,
                 int (*body)(const struct args *a, hc_cache *c));

/* cachectl_report.c */

/* Keys and names are echoed in messages; a long one is cut here, so that a
 * message stays one readable line. */
#define SHOWN_CHARS_MAX 64
/* Room for a quoted, escaped and cut string (see quote_bytes()). */
#define QUOTED_CAP (SHOWN_CHARS_MAX * 4 + 8)

const char *quote_bytes(const void *s, size_t len, char *buf);
const char *quote(const char *s, char *buf);
int fail_msg(const struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fail_hc(const struct args *a, int err);
int usage_error(const struct command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int bad_option_value(const struct command *cmd, const char *name,
                     const char *value, const char *wanted);

/* Commands */
int cmd_create(const struct args *a);
int cmd_destroy(const struct args *a);
int cmd_info(const struct args *a);
int cmd_set(const struct args *a);
int cmd_get(const struct args *a);
int cmd_del(const struct args *a);
int cmd_incr(const struct args *a);
int cmd_decr(const struct args *a);
int cmd_touch(const struct args *a);
int cmd_keys(const struct args *a);
int cmd_invalidate(const struct args *a);
int cmd_flush(const struct args *a);
int cmd_journal(const struct args *a);
int cmd_stats(const struct args *a);
int cmd_ps(const struct args *a);
int cmd_top(const struct args *a);
int cmd_check(const struct args *a);
int cmd_dump(const struct args *a);
int cmd_restore(const struct args *a);

/* cachectl_items.c, for dump: the --prefix option as bytes (--escaped
 * applies); *OWNED is to be freed. */
int prefix_option(const struct args *a, const char **ptr, size_t *len,
                  char **owned);

/* cachectl_stats.c, for top */
const char *proc_state_name(const hc_proc_info *p);
int fetch_procs(hc_cache *c, hc_proc_info **out, unsigned *n);

#endif /* CACHECTL_H */
