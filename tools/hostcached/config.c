/*
 * config.c - hostcached's options, from the command line and from an INI
 * file (libinih).
 *
 * One table describes every option once: its flag, its INI key (the same
 * name, '-' or '_' alike), its argument and the function that checks and
 * stores it.  The file is read first and the flags override it.  A bad
 * value stops the start with one line that names the option, the value,
 * why it is refused and what would do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include "hostcached.h"
#include "../cachectl_parse.h"

#define WHY_CAP 320
#define JOURNAL_MAX 1048576u     /* the library's limit */
#define JOURNAL_DEFAULT 65536u

/* Store VALUE in CFG, or write why it cannot be used into WHY. */
typedef bool (*option_setter)(struct hcd_config *cfg, const char *value,
                              char *why);

struct option_def {
	const char *name;      /* flag without "--"; INI key */
	const char *arg;       /* NULL: a switch */
	const char *help;
	option_setter set;
	bool flag_only;        /* --config, --help, --version */
};

static bool because(char *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool because(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WHY_CAP, fmt, ap);
	va_end(ap);
	return false;
}

static bool copy_path(char *dst, const char *value, size_t cap, char *why)
{
	if (value[0] == '\0')
		return because(why, "empty; give a path");
	if (strlen(value) >= cap)
		return because(why, "longer than %zu bytes; give a shorter path",
		               cap - 1);
	strcpy(dst, value);
	return true;
}

static bool set_name(struct hcd_config *cfg, const char *value, char *why)
{
	const char *bare = value[0] == '/' ? value + 1 : value;

	if (bare[0] == '\0' || strchr(bare, '/') != NULL ||
	    strlen(bare) > 250)
		return because(why, "not a segment name; give 1 to 250 "
		               "characters without '/' (a leading '/' is allowed)");
	strcpy(cfg->name, bare);
	return true;
}

static bool set_size(struct hcd_config *cfg, const char *value, char *why)
{
	if (!parse_size(value, (uint64_t)1 << 50, &cfg->size))
		return because(why, "not a size; give bytes with an optional K, "
		               "M, G or T suffix, such as 64M or 1G");
	cfg->size_given = true;
	return true;
}

static bool set_max_procs(struct hcd_config *cfg, const char *value, char *why)
{
	if (!parse_count(value, &cfg->max_procs) || cfg->max_procs > 4096)
		return because(why, "not a count from 1 to 4096");
	return true;
}

static bool set_stale_grace(struct hcd_config *cfg, const char *value,
                            char *why)
{
	uint64_t ms;

	if (!parse_u64(value, &ms) || ms > UINT32_MAX)
		return because(why, "not a number of milliseconds from 0 to "
		               "%" PRIu32, UINT32_MAX);
	cfg->stale_grace_ms = (uint32_t)ms;
	return true;
}

static bool mode_into(uint32_t *out, const char *value, char *why)
{
	if (!parse_mode(value, out))
		return because(why, "not a file mode; give octal such as 0600 "
		               "or 0660");
	return true;
}

static bool set_mode(struct hcd_config *cfg, const char *value, char *why)
{
	return mode_into(&cfg->mode, value, why);
}

static bool set_socket(struct hcd_config *cfg, const char *value, char *why)
{
	return copy_path(cfg->socket_path, value,
	                 sizeof(((struct sockaddr_un *)0)->sun_path), why);
}

static bool set_socket_mode(struct hcd_config *cfg, const char *value,
                            char *why)
{
	return mode_into(&cfg->socket_mode, value, why);
}

static bool set_bounded(unsigned *out, const char *value, unsigned max,
                        char *why)
{
	uint32_t n;

	if (!parse_count(value, &n) || n > max)
		return because(why, "not a number from 1 to %u", max);
	*out = n;
	return true;
}

static bool set_port(struct hcd_config *cfg, const char *value, char *why)
{
	return set_bounded(&cfg->port, value, 65535, why);
}

static bool set_metrics_port(struct hcd_config *cfg, const char *value,
                             char *why)
{
	return set_bounded(&cfg->metrics_port, value, 65535, why);
}

static bool set_threads(struct hcd_config *cfg, const char *value, char *why)
{
	return set_bounded(&cfg->threads, value, THREADS_MAX, why);
}

static bool set_max_conns(struct hcd_config *cfg, const char *value, char *why)
{
	return set_bounded(&cfg->max_conns, value, 1000000, why);
}

static bool set_pidfile(struct hcd_config *cfg, const char *value, char *why)
{
	return copy_path(cfg->pidfile, value, sizeof cfg->pidfile, why);
}

static bool set_config(struct hcd_config *cfg, const char *value, char *why)
{
	return copy_path(cfg->config_path, value, sizeof cfg->config_path, why);
}

static bool set_log_level(struct hcd_config *cfg, const char *value,
                          char *why)
{
	if (!log_level_parse(value, &cfg->log_level))
		return because(why, "not a log level; give error, warn, info "
		               "or debug");
	return true;
}

/* A switch: NULL from a flag (on), a boolean word from the file. */
static bool set_unlink_on_exit(struct hcd_config *cfg, const char *value,
                               char *why)
{
	static const char *const words[] = { "no", "yes", "false", "true",
	                                     "off", "on", "0", "1" };

	if (value == NULL) {
		cfg->unlink_on_exit = true;
		return true;
	}
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strcasecmp(value, words[i]) == 0) {
			cfg->unlink_on_exit = i % 2 == 1;
			return true;
		}
	}
	return because(why, "not a boolean; give yes or no");
}

static bool set_journal(struct hcd_config *cfg, const char *value, char *why)
{
	if (!parse_count(value, &cfg->journal_entries) ||
	    cfg->journal_entries > JOURNAL_MAX)
		return because(why, "not a number of entries from 1 to %u",
		               JOURNAL_MAX);
	cfg->journal_given = true;
	return true;
}

static bool set_writeback(struct hcd_config *cfg, const char *value,
                          char *why)
{
	if (!parse_size(value, (uint64_t)1 << 28, &cfg->writeback_bytes) ||
	    cfg->writeback_bytes < 65536)
		return because(why, "not a size from 64K to 256M; give bytes "
		               "with an optional K or M suffix, such as 4M");
	cfg->writeback_given = true;
	return true;
}

static bool set_redis(struct hcd_config *cfg, const char *value, char *why)
{
	if (strlen(value) >= sizeof cfg->redis_url)
		return because(why, "longer than %zu bytes",
		               sizeof cfg->redis_url - 1);
	if (!redis_url_parse(value, &cfg->redis, why, WHY_CAP))
		return false;
	strcpy(cfg->redis_url, value);
	return true;
}

static bool set_redis_channel(struct hcd_config *cfg, const char *value,
                              char *why)
{
	if (value[0] == '\0' || strlen(value) >= sizeof cfg->redis_channel)
		return because(why, "not a channel name; give 1 to %zu bytes",
		               sizeof cfg->redis_channel - 1);
	if (strncmp(value, "__redis__", 9) == 0)
		return because(why, "a channel of Redis's own; give another "
		               "name, such as hostcache:NAME");
	strcpy(cfg->redis_channel, value);
	return true;
}

/* Redis refuses BCAST prefixes of which one starts the other. */
static bool set_redis_track(struct hcd_config *cfg, const char *value,
                            char *why)
{
	size_t len = strlen(value);

	if (len == 0 || len >= TRACK_CAP)
		return because(why, "not a key prefix; give 1 to %d bytes",
		               TRACK_CAP - 1);
	if (cfg->redis_ntrack == TRACK_MAX)
		return because(why, "more than %d prefixes; give fewer, "
		               "shorter ones", TRACK_MAX);
	for (unsigned i = 0; i < cfg->redis_ntrack; i++) {
		const char *t = cfg->redis_track[i];
		size_t tl = strlen(t);

		if (strncmp(t, value, tl < len ? tl : len) == 0)
			return because(why, "overlaps '%s', given before (Redis "
			               "tracks no prefix of another); give the "
			               "shorter one only", t);
	}
	strcpy(cfg->redis_track[cfg->redis_ntrack++], value);
	return true;
}

static bool set_origin(struct hcd_config *cfg, const char *value, char *why)
{
	if (!redis_origin_valid(value))
		return because(why, "not an origin name; give 1 to %d letters, "
		               "digits, '.', '_' or '-', unique to this host",
		               ORIGIN_CAP - 1);
	strcpy(cfg->origin, value);
	return true;
}

static const struct option_def options[] = {
	{ "name", "NAME", "segment name (default hostcached)", set_name, false },
	{ "size", "SIZE", "segment size when creating it, such as 64M or 1G "
	  "(default 64M); an existing segment must have this size", set_size,
	  false },
	{ "max-procs", "N", "process slots when creating the segment "
	  "(default 64)", set_max_procs, false },
	{ "stale-grace", "MS", "when creating the segment: how long an "
	  "expired item is still served, flagged stale (X), to mg with N or R "
	  "while one client recomputes it (default 0: not at all)",
	  set_stale_grace, false },
	{ "mode", "MODE", "segment file mode when creating it (default 0600)",
	  set_mode, false },
	{ "socket", "PATH", "unix socket to listen on (default "
	  "/run/hostcached/NAME.sock)", set_socket, false },
	{ "socket-mode", "MODE", "file mode of the socket (default 0600)",
	  set_socket_mode, false },
	{ "port", "N", "also listen on TCP 127.0.0.1:N (default off)",
	  set_port, false },
	{ "metrics-port", "N", "serve Prometheus metrics over HTTP at "
	  "127.0.0.1:N/metrics (default off)", set_metrics_port, false },
	{ "threads", "N", "worker threads (default 4)", set_threads, false },
	{ "max-conns", "N", "most connections at once (default 1024)",
	  set_max_conns, false },
	{ "pidfile", "PATH", "write the pid here (default none)", set_pidfile,
	  false },
	{ "log-level", "LEVEL", "error, warn, info or debug (default info)",
	  set_log_level, false },
	{ "journal", "N", "when creating the segment: keep a journal of the "
	  "last N changes for other hosts (320 bytes each; default none, or "
	  "with --redis 65536 or as many as take 1/16 of --size, whichever is "
	  "fewer)", set_journal, false },
	{ "writeback", "SIZE", "when creating the segment: keep a "
	  "write-behind queue of SIZE bytes (64K to 256M; default none), which "
	  "hostcached --redis drains to Redis", set_writeback, false },
	{ "redis", "URL", "carry invalidations to and from the other hosts "
	  "through Redis at redis://HOST[:PORT] or unix:/PATH (default off)",
	  set_redis, false },
	{ "redis-channel", "NAME", "the Redis channel of the hosts that share "
	  "data (default hostcache:NAME)", set_redis_channel, false },
	{ "redis-track", "PREFIX", "with --redis: have Redis (6 or later) tell "
	  "this host of every write to keys starting with PREFIX, by any "
	  "client, and drop its copies of them (client-side caching, BCAST; "
	  "repeat for up to 16 prefixes, none the start of another)",
	  set_redis_track, false },
	{ "origin", "NAME", "this host's name to the others on the channel "
	  "(default the hostname)", set_origin, false },
	{ "unlink-on-exit", NULL, "remove the segment when stopping (default: "
	  "keep it, so that a restart finds its data)", set_unlink_on_exit,
	  false },
	{ "config", "FILE", "read options from this INI file first (section "
	  "[hostcached], keys as the flags: size = 1G)", set_config, true },
	{ "help", NULL, "print this help and exit", NULL, true },
	{ "version", NULL, "print the version and exit", NULL, true },
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

static void config_defaults(struct hcd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strcpy(cfg->name, "hostcached");
	cfg->size = (uint64_t)64 << 20;
	cfg->mode = 0600;
	cfg->socket_mode = 0600;
	cfg->threads = 4;
	cfg->max_conns = 1024;
	cfg->log_level = LOG_INFO;
}

/* TEXT folded to lines of at most WIDTH characters, each after INDENT
 * spaces but the first. */
static void print_folded(const char *text, int indent, int width)
{
	int column = 0;

	while (*text != '\0') {
		int word = (int)strcspn(text, " ");

		if (column > 0 && column + 1 + word > width) {
			printf("\n%*s", indent, "");
			column = 0;
		} else if (column > 0) {
			putchar(' ');
			column++;
		}
		printf("%.*s", word, text);
		column += word;
		text += word;
		text += strspn(text, " ");
	}
	putchar('\n');
}

static void print_help(void)
{
	printf("usage: hostcached [OPTION]...\n"
	       "Own a hostcache segment and serve it over the memcached "
	       "protocols:\ntext, meta and binary, told apart by the first "
	       "byte of each connection.\n\n");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		char left[40];

		snprintf(left, sizeof left, "--%s%s%s", options[i].name,
		         options[i].arg ? " " : "",
		         options[i].arg ? options[i].arg : "");
		printf("  %-22s ", left);
		print_folded(options[i].help, 25, 54);
	}
	printf("\nWith --redis, every host's hostcached publishes the "
	       "invalidations made on its\nsegment and applies the others': "
	       "at most once, and any gap it knows of (Redis\nlost, the "
	       "journal overran) ends in a flush of the hosts that may have "
	       "missed\nsomething.  The stats command and /metrics show "
	       "the redis_* counters.\n");
	printf("\nWith --redis-track PREFIX, Redis (6 or later) also reports "
	       "every write to a key\nstarting with PREFIX, by any of its "
	       "clients, and this host drops its copy;\nwhenever tracking "
	       "begins again (a connection came back), this host drops\n"
	       "everything under the tracked prefixes, as Redis said nothing "
	       "meanwhile.\n");
	printf("\nWith --redis and a segment with a write-behind queue "
	       "(--writeback), hostcached\nis the queue's one consumer: it "
	       "sends each queued write to Redis (SET, in\nqueue order, at "
	       "least once) and removes it only once Redis said OK.\n");
	printf("\nSIGTERM or SIGINT stop (the segment is kept unless "
	       "--unlink-on-exit); SIGHUP\nrereads the config file's "
	       "log_level.  Exit status: 0 stopped cleanly, 1 could\nnot "
	       "run, 2 bad option or configuration.\n");
}

/* The option named NAME (LEN bytes), '-' and '_' alike. */
static const struct option_def *option_find(const char *name, size_t len)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const char *o = options[i].name;
		size_t j;

		if (strlen(o) != len)
			continue;
		for (j = 0; j < len; j++) {
			char c = name[j] == '_' ? '-' : name[j];

			if (c != o[j])
				break;
		}
		if (j == len)
			return &options[i];
	}
	return NULL;
}

/* One flag ARGV[*I], with its value from "=VALUE" or the next word.
 * PASS_CONFIG: only --config counts (the file is read before the other
 * flags apply); otherwise everything but --config. */
static int apply_flag(struct hcd_config *cfg, int argc, char **argv, int *i,
                      bool pass_config)
{
	const char *word = argv[*i], *eq, *value = NULL;
	const struct option_def *o;
	char why[WHY_CAP];

	if (strncmp(word, "--", 2) != 0) {
		fprintf(stderr, "hostcached: '%s': not an option; options start "
		        "with --, see hostcached --help\n", word);
		return EXIT_USAGE;
	}
	eq = strchr(word, '=');
	o = option_find(word + 2, eq ? (size_t)(eq - word - 2)
	                             : strlen(word + 2));
	if (o == NULL || strchr(word + 2, '_') != NULL) {
		fprintf(stderr, "hostcached: %.*s: unknown option; see "
		        "hostcached --help\n", eq ? (int)(eq - word) : (int)strlen(word),
		        word);
		return EXIT_USAGE;
	}
	if (o->arg != NULL) {
		if (eq != NULL)
			value = eq + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else {
			fprintf(stderr, "hostcached: --%s needs a value (%s); see "
			        "hostcached --help\n", o->name, o->arg);
			return EXIT_USAGE;
		}
	} else if (eq != NULL) {
		fprintf(stderr, "hostcached: --%s takes no value\n", o->name);
		return EXIT_USAGE;
	}
	if (o->set == NULL || pass_config != (o->set == set_config))
		return 0;
	if (!o->set(cfg, value, why)) {
		fprintf(stderr, "hostcached: --%s '%s': %s\n", o->name, value, why);
		return EXIT_USAGE;
	}
	return 0;
}

static int apply_flags(struct hcd_config *cfg, int argc, char **argv,
                       bool pass_config)
{
	for (int i = 1; i < argc; i++) {
		int rc = apply_flag(cfg, argc, argv, &i, pass_config);

		if (rc != 0)
			return rc;
	}
	return 0;
}

struct ini_state {
	struct hcd_config *cfg;
	const char *path;
	FILE *file;
	int line;              /* lines read so far: the one being parsed */
	char error[WHY_CAP + PATH_CAP + 64];
};

/* Debian's libinih passes no line numbers to handlers: the reader counts
 * them. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct ini_state *st = stream;

	st->line++;
	return fgets(str, num, st->file);
}

/* libinih calls this for each "key = value"; the first error is kept. */
static int ini_entry(void *user, const char *section, const char *key,
                     const char *value)
{
	struct ini_state *st = user;
	int line = st->line;
	const struct option_def *o;
	char why[WHY_CAP];

	if (st->error[0] != '\0')
		return 1;
	if (section[0] != '\0' && strcmp(section, "hostcached") != 0) {
		snprintf(st->error, sizeof st->error, "%s:%d: section [%s]: "
		         "unknown; the options go in [hostcached]", st->path, line,
		         section);
		return 0;
	}
	o = option_find(key, strlen(key));
	if (o == NULL || o->flag_only) {
		snprintf(st->error, sizeof st->error, "%s:%d: '%s': not an "
		         "option of the file; the keys are the long flags of "
		         "hostcached --help (log_level or log-level)", st->path,
		         line, key);
		return 0;
	}
	if (!o->set(st->cfg, value, why)) {
		snprintf(st->error, sizeof st->error, "%s:%d: %s = '%s': %s",
		         st->path, line, key, value, why);
		return 0;
	}
	return 1;
}

/* Read PATH into CFG.  0, or a message in ERROR (ERROR_CAP bytes). */
static int config_read_file(struct hcd_config *cfg, const char *path,
                            char *error, size_t error_cap)
{
	struct ini_state st = { .cfg = cfg, .path = path };
	int rc = -1;

	st.file = fopen(path, "re");
	if (st.file != NULL) {
		rc = ini_parse_stream(ini_read_line, &st, ini_entry, &st);
		fclose(st.file);
	}
	if (st.error[0] != '\0')
		snprintf(error, error_cap, "%s", st.error);
	else if (rc == -1)
		snprintf(error, error_cap, "%s: cannot read: %s; give an "
		         "existing file to --config", path, strerror(errno));
	else if (rc > 0)
		snprintf(error, error_cap, "%s:%d: not 'key = value' nor "
		         "'[section]'", path, rc);
	else if (rc != 0)
		snprintf(error, error_cap, "%s: cannot parse (out of memory)",
		         path);
	else
		return 0;
	return -1;
}

/* The hostname as the default origin. */
static int default_origin(struct hcd_config *cfg)
{
	char host[256] = "";

	if (gethostname(host, sizeof host - 1) != 0 ||
	    !redis_origin_valid(host)) {
		fprintf(stderr, "hostcached: the hostname '%s' cannot name this "
		        "host to the others (1 to %d letters, digits, '.', '_' "
		        "or '-'); give --origin NAME\n", host, ORIGIN_CAP - 1);
		return EXIT_USAGE;
	}
	strcpy(cfg->origin, host);
	return 0;
}

/* What depends on other options, once all are known. */
static int config_finish(struct hcd_config *cfg)
{
	if (cfg->socket_path[0] == '\0')
		snprintf(cfg->socket_path, sizeof cfg->socket_path,
		         "/run/hostcached/%.80s.sock", cfg->name);
	if (cfg->redis_channel[0] == '\0')
		snprintf(cfg->redis_channel, sizeof cfg->redis_channel,
		         "hostcache:%s", cfg->name);
	if (cfg->redis_ntrack > 0 && cfg->redis_url[0] == '\0') {
		fprintf(stderr, "hostcached: --redis-track needs --redis URL: "
		        "Redis is what tells of the writes\n");
		return EXIT_USAGE;
	}
	if (cfg->redis_url[0] != '\0' && cfg->origin[0] == '\0')
		return default_origin(cfg);
	return 0;
}

uint32_t config_journal_entries(const struct hcd_config *cfg)
{
	uint64_t fit = cfg->size / 16 / 320;

	if (cfg->journal_given || cfg->redis_url[0] == '\0')
		return cfg->journal_entries;
	return fit < JOURNAL_DEFAULT ? (uint32_t)(fit > 0 ? fit : 1)
	                             : JOURNAL_DEFAULT;
}

/* The file's options alone, as read at start: SIGHUP compares with it. */
static struct hcd_config file_options;

int config_from_args(struct hcd_config *cfg, int argc, char **argv)
{
	char error[WHY_CAP + PATH_CAP + 64];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			print_help();
			return -1;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("hostcached %s\n", HOSTCACHED_VERSION);
			return -1;
		}
	}
	config_defaults(cfg);
	rc = apply_flags(cfg, argc, argv, true);
	if (rc != 0)
		return rc;
	if (cfg->config_path[0] != '\0') {
		if (config_read_file(cfg, cfg->config_path, error,
		                     sizeof error) != 0) {
			fprintf(stderr, "hostcached: %s\n", error);
			return EXIT_USAGE;
		}
		file_options = *cfg;
	}
	rc = apply_flags(cfg, argc, argv, false);
	if (rc != 0)
		return rc;
	rc = config_finish(cfg);
	if (rc != 0)
		return rc;
	if (cfg->port != 0 && cfg->port == cfg->metrics_port) {
		fprintf(stderr, "hostcached: --port and --metrics-port are both "
		        "%u; give them different ports\n", cfg->port);
		return EXIT_USAGE;
	}
	return 0;
}

/* Which option differs between A and B, where a restart is needed. */
static const char *config_restart_change(const struct hcd_config *a,
                                         const struct hcd_config *b)
{
	if (strcmp(a->name, b->name) != 0)
		return "name";
	if (a->size != b->size)
		return "size";
	if (strcmp(a->socket_path, b->socket_path) != 0)
		return "socket";
	if (a->port != b->port)
		return "port";
	if (a->metrics_port != b->metrics_port)
		return "metrics_port";
	if (a->threads != b->threads)
		return "threads";
	if (strcmp(a->pidfile, b->pidfile) != 0)
		return "pidfile";
	if (strcmp(a->redis_url, b->redis_url) != 0)
		return "redis";
	if (strcmp(a->redis_channel, b->redis_channel) != 0)
		return "redis_channel";
	if (strcmp(a->origin, b->origin) != 0)
		return "origin";
	if (a->redis_ntrack != b->redis_ntrack ||
	    memcmp(a->redis_track, b->redis_track, sizeof a->redis_track) != 0)
		return "redis_track";
	return NULL;
}

void config_reload(struct hcd_config *cfg)
{
	struct hcd_config fresh;
	char error[WHY_CAP + PATH_CAP + 64];
	const char *changed;

	if (cfg->config_path[0] == '\0') {
		log_msg(LOG_INFO, "SIGHUP: no config file to reread (started "
		        "without --config)");
		return;
	}
	config_defaults(&fresh);
	strcpy(fresh.config_path, cfg->config_path);
	if (config_read_file(&fresh, cfg->config_path, error,
	                     sizeof error) != 0) {
		log_msg(LOG_ERROR, "SIGHUP: %s; keeping the running "
		        "configuration", error);
		return;
	}
	if (fresh.log_level != file_options.log_level) {
		cfg->log_level = fresh.log_level;
		log_set_level(fresh.log_level);
		log_msg(LOG_INFO, "SIGHUP: log level now %s",
		        log_level_name(fresh.log_level));
	}
	changed = config_restart_change(&fresh, &file_options);
	if (changed != NULL)
		log_msg(LOG_WARN, "SIGHUP: %s changed in %s; restart hostcached "
		        "to apply it", changed, cfg->config_path);
	file_options = fresh;
	log_msg(LOG_INFO, "SIGHUP: reread %s", cfg->config_path);
}
