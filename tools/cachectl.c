/*
 * cachectl - create, inspect and change a hostcache segment from a shell.
 *
 *   cachectl create NAME [--size 64M] [--mode 0600] [--max-procs N]
 *                        [--max-key N] [--max-value N]
 *   cachectl destroy NAME
 *   cachectl info NAME
 *   cachectl set NAME KEY VALUE [--ttl SECONDS]     (VALUE "-" reads stdin)
 *   cachectl get NAME KEY
 *   cachectl del NAME KEY
 *   cachectl stats NAME [--json]
 *
 * Exit status, so that a script can tell a miss from a failure:
 *   0 success, 1 key not found, 2 usage error, 3 any other error.
 * Every failure prints exactly one line on stderr, "cachectl: WHAT: WHY",
 * followed by what to do about it where there is something to do.
 *
 * Options start with "--" and may stand before or after the positional
 * arguments; "--" ends them, so that a key such as "--x" can be named.  A
 * lone "-" and any other word starting with a single dash are positional,
 * so that "set NAME KEY -1" stores "-1".
 *
 * Each command attaches for one operation and detaches, so cachectl holds a
 * process slot only for a moment; if it is killed while attached, the next
 * process that attaches reaps the slot.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "hostcache.h"

enum status {
	STATUS_OK = 0,
	STATUS_NOT_FOUND = 1,
	STATUS_USAGE = 2,
	STATUS_ERROR = 3,
};

#define MAX_POSITIONAL 3
#define MAX_OPTIONS 8 /* the most any command takes (create: 5) */

/* A value can change size between the length probe and the copy; a few
 * retries cover any honest writer, and the cap keeps a pathological one
 * from holding us forever. */
#define GET_ATTEMPTS 8

/* Width of the label column in info and stats output. */
#define LABEL_WIDTH 20

/* Keys and names are echoed in messages; a long one is cut here, so that a
 * message stays one readable line. */
#define SHOWN_CHARS_MAX 64

struct option_spec {
	const char *name; /* without the leading "--" */
	bool takes_value; /* false: a flag such as --json */
};

struct args;

struct command {
	const char *name;
	const char *synopsis;    /* what follows "cachectl NAME" in usage */
	const char *description; /* the rest of "cachectl NAME --help" */
	const char *const *positional_names; /* NULL-terminated */
	const struct option_spec *options;   /* ends with a NULL name */
	int (*run)(const struct args *a);
};

/* One parsed command line. */
struct args {
	const struct command *cmd;
	const char *positional[MAX_POSITIONAL];
	int positional_count;
	/* Indexed like cmd->options: NULL when absent, "" for a given flag. */
	const char *option_values[MAX_OPTIONS];
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */

/* Room for a quoted, escaped and cut string (see quote()). */
#define QUOTED_CAP (SHOWN_CHARS_MAX * 4 + 8)

/* LEN bytes of S in single quotes, control characters as \xNN, cut after
 * SHOWN_CHARS_MAX characters: a key may hold a newline, and one failure
 * must stay one line.  BUF has QUOTED_CAP bytes; returns BUF. */
static const char *quote_bytes(const char *s, size_t len, char *buf)
{
	size_t shown = len < SHOWN_CHARS_MAX ? len : SHOWN_CHARS_MAX;
	char *out = buf;

	*out++ = '\'';
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			out += sprintf(out, "\\x%02x", ch);
		else
			*out++ = (char)ch;
	}
	strcpy(out, shown < len ? "'..." : "'");
	return buf;
}

static const char *quote(const char *s, char *buf)
{
	return quote_bytes(s, strlen(s), buf);
}

/* "cachectl: get 'seg' 'key'": the command and the names it acted on
 * (never the value, which may be large or secret). */
static void print_failure_prefix(const struct args *a)
{
	int shown = a->positional_count < 2 ? a->positional_count : 2;
	char quoted[QUOTED_CAP];

	fprintf(stderr, "cachectl: %s", a->cmd->name);
	for (int i = 0; i < shown; i++)
		fprintf(stderr, " %s", quote(a->positional[i], quoted));
}

__attribute__((format(printf, 2, 3)))
static int fail_msg(const struct args *a, const char *fmt, ...)
{
	va_list ap;

	print_failure_prefix(a);
	fputs(": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return STATUS_ERROR;
}

/* What a user can do about an error: ADVICE, then, when COMMAND is set,
 * "cachectl COMMAND 'NAME'" ready to paste into a shell.  Advice without a
 * command only stands in for a library message that gives none. */
struct hint {
	const char *advice;
	const char *command;
};

static struct hint error_hint(const struct command *cmd, int err)
{
	switch (err) {
	case HC_ENOSEG:
		/* Suggesting "create" to someone removing it would be odd. */
		if (strcmp(cmd->name, "destroy") == 0)
			return (struct hint){NULL, NULL};
		return (struct hint){"create it with:", "create"};
	case HC_EPERM:
		return (struct hint){"check the segment's mode and owner in "
		                     "/dev/shm", NULL};
	case HC_ESEGEXISTS:
		return (struct hint){"choose another name, or remove it with:",
		                     "destroy"};
	case HC_EVERSION:
	case HC_ECORRUPT:
	case HC_EINIT:
		return (struct hint){"remove it with:", "destroy"};
	case HC_ENAME:
		return (struct hint){"a name is one word such as 'mycache' or "
		                     "'/mycache', with no other '/'", NULL};
	case HC_EKEYLEN:
	case HC_EVALUE:
		return (struct hint){"the limits are shown by:", "info"};
	case HC_EPROCS:
		return (struct hint){"wait for a process to detach, or recreate "
		                     "the segment with a larger --max-procs",
		                     NULL};
	case HC_ENOSPC:
		return (struct hint){"free space in /dev/shm or choose a smaller "
		                     "--size", NULL};
	default:
		return (struct hint){NULL, NULL};
	}
}

/* Report a failed hc_* call.  hc_last_error() is read first, before any
 * other library call can replace it; it says more than hc_strerror() when
 * the library knows more (which name was bad, what configuration would
 * fit), and then often what to do as well, which is not repeated here. */
static int fail_hc(const struct args *a, int err)
{
	const char *why = hc_last_error();
	bool library_explained = strcmp(why, hc_strerror(err)) != 0;
	struct hint hint = error_hint(a->cmd, err);
	char quoted[QUOTED_CAP];

	if (why[0] == '\0')
		why = hc_strerror(err);
	print_failure_prefix(a);
	fprintf(stderr, ": %s", why);
	if (hint.command == NULL && library_explained)
		hint.advice = NULL;
	if (hint.advice != NULL)
		fprintf(stderr, "; %s", hint.advice);
	if (hint.command != NULL)
		fprintf(stderr, " cachectl %s %s", hint.command,
		        quote(a->positional[0], quoted));
	fputc('\n', stderr);
	return err == HC_ENOTFOUND ? STATUS_NOT_FOUND : STATUS_ERROR;
}

__attribute__((format(printf, 2, 3)))
static int usage_error(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("cachectl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "; see 'cachectl %s --help'\n", cmd->name);
	else
		fputs("; see 'cachectl --help'\n", stderr);
	return STATUS_USAGE;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

/* Parse leading decimal digits of S into *OUT.  Returns the first
 * character after them, or NULL when there are none or they overflow. */
static const char *parse_digits(const char *s, uint64_t *out)
{
	const char *p = s;
	uint64_t n = 0;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - digit) / 10)
			return NULL;
		n = n * 10 + digit;
	}
	if (p == s)
		return NULL;
	*out = n;
	return p;
}

/* Binary shift for a size suffix: "" is bytes; K, M, G, T (any case,
 * optionally followed by "B" or "iB") are powers of 1024, as memory is
 * sized.  -1 for anything else. */
static int size_suffix_shift(const char *suffix)
{
	static const char units[] = "KMGT";
	const char *unit;

	if (suffix[0] == '\0')
		return 0;
	unit = memchr(units, toupper((unsigned char)suffix[0]),
	              sizeof(units) - 1);
	if (unit == NULL)
		return -1;
	if (strcasecmp(suffix + 1, "") != 0 && strcasecmp(suffix + 1, "b") != 0 &&
	    strcasecmp(suffix + 1, "ib") != 0)
		return -1;
	return 10 * (int)(unit - units + 1);
}

/* A byte count such as "4096", "64M" or "1G", from 1 to MAX. */
static bool parse_size(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t n;
	const char *rest = parse_digits(s, &n);
	int shift;

	if (rest == NULL)
		return false;
	shift = size_suffix_shift(rest);
	if (shift < 0 || n == 0 || n > (max >> shift))
		return false;
	*out = n << shift;
	return true;
}

/* A plain count from 1 to UINT32_MAX.  Zero is refused rather than passed
 * on, because in hc_config zero silently means "the default". */
static bool parse_count(const char *s, uint32_t *out)
{
	uint64_t n;
	const char *rest = parse_digits(s, &n);

	if (rest == NULL || *rest != '\0' || n == 0 || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

/* A file mode in octal, 1 to 0777 ("0660", "660").  Zero is refused: in
 * hc_config it would mean the default 0600, not what was asked. */
static bool parse_mode(const char *s, uint32_t *out)
{
	uint32_t mode = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '7'; p++) {
		mode = mode * 8 + (uint32_t)(*p - '0');
		if (mode > 0777)
			return false;
	}
	if (p == s || *p != '\0' || mode == 0)
		return false;
	*out = mode;
	return true;
}

/* Milliseconds in the fraction after a decimal point ("5" of "0.005"):
 * three digits are kept; any finer non-zero digit rounds up, so that a
 * positive TTL never becomes 0, which would mean "never expires".  Returns
 * the end of the digits, or NULL when there are none. */
static const char *parse_fraction_ms(const char *s, uint64_t *out)
{
	uint64_t ms = 0;
	bool finer = false;
	int digits = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits < 3)
			ms = ms * 10 + (uint64_t)(*p - '0');
		else if (*p != '0')
			finer = true;
	}
	if (digits == 0)
		return NULL;
	for (; digits < 3; digits++)
		ms *= 10;
	*out = ms + (finer ? 1 : 0);
	return p;
}

/* Seconds, possibly fractional ("30", "0.5", ".25"), to milliseconds.
 * Decimal arithmetic rather than strtod(), so that "0.2" is exactly 200 ms
 * and "inf", "1e3" or "-1" are refused. */
static bool parse_ttl_ms(const char *s, uint64_t *out)
{
	uint64_t seconds = 0, fraction_ms = 0;
	const char *p = s;

	if (*p != '.' && (p = parse_digits(s, &seconds)) == NULL)
		return false;
	if (*p == '.' && (p = parse_fraction_ms(p + 1, &fraction_ms)) == NULL)
		return false;
	if (*p != '\0' || seconds > (UINT64_MAX - fraction_ms) / 1000)
		return false;
	*out = seconds * 1000 + fraction_ms;
	return true;
}

/* ------------------------------------------------------------------ */
/* Command lines                                                       */

static const char *option_value(const struct args *a, const char *name)
{
	for (int i = 0; a->cmd->options[i].name != NULL; i++)
		if (strcmp(a->cmd->options[i].name, name) == 0)
			return a->option_values[i];
	return NULL;
}

static int positional_capacity(const struct command *cmd)
{
	int n = 0;

	while (cmd->positional_names[n] != NULL)
		n++;
	return n;
}

/* Take the option at ARGV[*I] ("--ttl 5" or "--ttl=5"), advancing *I past
 * a separate value. */
static int take_option(const struct command *cmd, int argc, char **argv,
                       int *i, struct args *a)
{
	const char *word = argv[*i] + 2;
	const char *equals = strchr(word, '=');
	size_t length = equals ? (size_t)(equals - word) : strlen(word);
	char quoted[QUOTED_CAP];

	for (int k = 0; cmd->options[k].name != NULL; k++) {
		const struct option_spec *spec = &cmd->options[k];

		if (strlen(spec->name) != length ||
		    strncmp(spec->name, word, length) != 0)
			continue;
		if (!spec->takes_value) {
			if (equals != NULL)
				return usage_error(cmd, "--%s takes no value",
				                   spec->name);
			a->option_values[k] = "";
		} else if (equals != NULL) {
			a->option_values[k] = equals + 1;
		} else if (*i + 1 < argc) {
			a->option_values[k] = argv[++*i];
		} else {
			return usage_error(cmd, "--%s needs a value", spec->name);
		}
		return STATUS_OK;
	}
	return usage_error(cmd, "unknown option %s",
	                   quote_bytes(argv[*i], length + 2, quoted));
}

static int parse_args(const struct command *cmd, int argc, char **argv,
                      struct args *a)
{
	int capacity = positional_capacity(cmd);
	bool options_ended = false;
	char quoted[QUOTED_CAP];

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	for (int i = 0; i < argc; i++) {
		if (!options_ended && strcmp(argv[i], "--") == 0) {
			options_ended = true;
		} else if (!options_ended && strncmp(argv[i], "--", 2) == 0) {
			int status = take_option(cmd, argc, argv, &i, a);

			if (status != STATUS_OK)
				return status;
		} else if (a->positional_count == capacity) {
			return usage_error(cmd, "unexpected argument %s",
			                   quote(argv[i], quoted));
		} else {
			a->positional[a->positional_count++] = argv[i];
		}
	}
	if (a->positional_count < capacity)
		return usage_error(cmd, "missing %s",
		                   cmd->positional_names[a->positional_count]);
	return STATUS_OK;
}

/* True when the command line asks for help: "--help" or "-h" anywhere
 * before "--", whatever else is wrong with it. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Attaching                                                           */

static int open_segment(const struct args *a, hc_cache **c)
{
	int err = hc_open(a->positional[0], c);

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

/* Detach, keeping STATUS when the command already failed: a failure
 * prints one line, and the first cause is the one worth reading. */
static int close_segment(const struct args *a, hc_cache *c, int status)
{
	int err = hc_close(c);

	if (err != 0 && status == STATUS_OK)
		return fail_hc(a, err);
	return status;
}

/* Run BODY on the segment named by the first argument, attached. */
static int with_segment(const struct args *a,
                        int (*body)(const struct args *a, hc_cache *c))
{
	hc_cache *c;
	int status = open_segment(a, &c);

	if (status != STATUS_OK)
		return status;
	return close_segment(a, c, body(a, c));
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */

__attribute__((format(printf, 2, 3)))
static void print_field(const char *label, const char *fmt, ...)
{
	va_list ap;
	int pad = LABEL_WIDTH - (int)strlen(label);

	printf("%s:%*s ", label, pad > 0 ? pad : 0, "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* "67108864 (64.0 MiB)": exact bytes for scripts, a unit for people. */
static void format_bytes(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double scaled = (double)n;
	int unit = -1;

	while (scaled >= 1024 && unit < 3) {
		scaled /= 1024;
		unit++;
	}
	if (unit < 0)
		snprintf(buf, cap, "%" PRIu64, n);
	else
		snprintf(buf, cap, "%" PRIu64 " (%.1f %s)", n, scaled,
		         units[unit]);
}

static void print_bytes_field(const char *label, uint64_t n)
{
	char text[64];

	format_bytes(n, text, sizeof(text));
	print_field(label, "%s", text);
}

/* Write all of BUF to FD, resuming after signals and short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* create, destroy                                                     */

/* A usage error naming the bad value of option NAME and what it wants. */
static int bad_option_value(const struct command *cmd, const char *name,
                            const char *value, const char *wanted)
{
	char quoted[QUOTED_CAP];

	return usage_error(cmd, "bad --%s %s: want %s", name,
	                   quote(value, quoted), wanted);
}

/* Fill CFG from the options of "create"; a usage error for a bad one. */
static int config_from_options(const struct args *a, hc_config *cfg)
{
	const struct command *cmd = a->cmd;
	const char *v;
	uint64_t max_value;

	hc_config_init(cfg);
	if ((v = option_value(a, "size")) != NULL &&
	    !parse_size(v, UINT64_MAX, &cfg->size))
		return bad_option_value(cmd, "size", v, "bytes, or a number "
		                        "with K, M or G such as 64M");
	if ((v = option_value(a, "mode")) != NULL && !parse_mode(v, &cfg->mode))
		return bad_option_value(cmd, "mode", v, "octal permission bits "
		                        "such as 0600 or 0660");
	if ((v = option_value(a, "max-procs")) != NULL &&
	    !parse_count(v, &cfg->max_procs))
		return bad_option_value(cmd, "max-procs", v, "a positive number");
	if ((v = option_value(a, "max-key")) != NULL &&
	    !parse_count(v, &cfg->max_key))
		return bad_option_value(cmd, "max-key", v, "a positive number");
	if ((v = option_value(a, "ttl-jitter")) != NULL &&
	    (!parse_count(v, &cfg->ttl_jitter_pct) || cfg->ttl_jitter_pct > 50))
		return bad_option_value(cmd, "ttl-jitter", v, "a percentage "
		                        "from 1 to 50");
	if ((v = option_value(a, "max-value")) != NULL) {
		if (!parse_size(v, UINT32_MAX, &max_value))
			return bad_option_value(cmd, "max-value", v, "bytes, or a "
			                        "number with K or M such as 64K");
		cfg->max_value = (uint32_t)max_value;
	}
	return STATUS_OK;
}

static int cmd_create(const struct args *a)
{
	hc_config cfg;
	hc_cache *c;
	int status = config_from_options(a, &cfg);
	int err;

	if (status != STATUS_OK)
		return status;
	err = hc_create(a->positional[0], &cfg, &c);
	if (err != 0)
		return fail_hc(a, err);
	return close_segment(a, c, STATUS_OK);
}

static int cmd_destroy(const struct args *a)
{
	int err = hc_unlink(a->positional[0]);

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

/* ------------------------------------------------------------------ */
/* info                                                                */

/* CLOCK_REALTIME nanoseconds as local time, "2024-05-01 14:03:12 +0200". */
static void print_time_field(const char *label, uint64_t ns)
{
	time_t seconds = (time_t)(ns / 1000000000u);
	struct tm local;
	char text[64];

	if (localtime_r(&seconds, &local) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S %z", &local) == 0)
		snprintf(text, sizeof(text), "%" PRIu64 " ns since the epoch",
		         ns);
	print_field(label, "%s", text);
}

static void print_delimiter_field(const char *label, char delimiter)
{
	unsigned char ch = (unsigned char)delimiter;

	if (ch >= 0x20 && ch < 0x7f)
		print_field(label, "'%c'", ch);
	else
		print_field(label, "\\x%02x", ch);
}

static void print_info(const hc_info *info, const hc_stats *stats)
{
	print_field("name", "%s", info->name);
	print_field("layout", "0x%016" PRIx64, info->layout);
	print_field("version", "%" PRIu32 ".%" PRIu32, info->version_major,
	            info->version_minor);
	print_bytes_field("size", info->size);
	print_time_field("created", info->created_ns);
	print_field("max key", "%" PRIu32 " bytes", info->max_key);
	print_field("max value", "%" PRIu32 " bytes", info->max_value);
	print_field("ttl jitter", "%" PRIu32 "%%", info->ttl_jitter_pct);
	print_bytes_field("block size", info->block_size);
	print_field("blocks", "%" PRIu32, info->blocks);
	print_field("index buckets", "%" PRIu32, info->index_buckets);
	print_field("index slots", "%" PRIu32, info->index_slots);
	print_bytes_field("item memory", info->item_memory);
	print_bytes_field("index memory", info->index_memory);
	print_field("per-item overhead", "%" PRIu32 " bytes",
	            info->item_overhead);
	print_field("mode", "%04" PRIo32, info->mode);
	print_delimiter_field("delimiter", info->delimiter);
	/* This cachectl is attached while it looks, so it counts itself. */
	print_field("attached processes", "%" PRIu32 " of %" PRIu32
	            " (this cachectl included)", stats->procs_attached,
	            stats->procs_max);
}

static int show_info(const struct args *a, hc_cache *c)
{
	hc_info info;
	hc_stats stats;
	int err;

	if ((err = hc_info_get(c, &info)) != 0 ||
	    (err = hc_stats_get(c, &stats)) != 0)
		return fail_hc(a, err);
	print_info(&info, &stats);
	return STATUS_OK;
}

static int cmd_info(const struct args *a)
{
	return with_segment(a, show_info);
}

/* ------------------------------------------------------------------ */
/* set, get, del                                                       */

/* Read all of stdin, binary-safe, but no more than LIMIT bytes: a value
 * beyond the segment's limit is refused anyway, and must not first fill
 * our memory.  On success *BUF is malloc'd (or NULL when empty). */
static int read_stdin(size_t limit, char **buf, size_t *len)
{
	size_t cap = 0, used = 0;
	char *data = NULL;

	while (used < limit) {
		ssize_t n;

		if (used == cap) {
			size_t grown = cap == 0 ? 65536 : cap * 2;
			char *bigger;

			if (grown > limit)
				grown = limit;
			if ((bigger = realloc(data, grown)) == NULL)
				goto fail;
			data = bigger;
			cap = grown;
		}
		n = read(STDIN_FILENO, data + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*buf = data;
	*len = used;
	return 0;
fail:
	free(data);
	return -1;
}

/* set with VALUE "-": the value is stdin.  Reading stops one byte past the
 * segment's max_value, so that hc_set() reports a value too large with the
 * library's own message. */
static int store_stdin(const struct args *a, hc_cache *c, uint64_t ttl_ms)
{
	const char *key = a->positional[1];
	hc_info info;
	char *value;
	size_t len;
	int err = hc_info_get(c, &info);

	if (err != 0)
		return fail_hc(a, err);
	if (read_stdin((size_t)info.max_value + 1, &value, &len) != 0)
		return fail_msg(a, "reading stdin: %s", strerror(errno));
	err = hc_set(c, key, strlen(key), value, len, ttl_ms);
	free(value);
	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

static int store_value(const struct args *a, hc_cache *c, uint64_t ttl_ms)
{
	const char *key = a->positional[1];
	const char *value = a->positional[2];
	int err;

	if (strcmp(value, "-") == 0)
		return store_stdin(a, c, ttl_ms);
	err = hc_set(c, key, strlen(key), value, strlen(value), ttl_ms);
	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

static int cmd_set(const struct args *a)
{
	const char *ttl = option_value(a, "ttl");
	uint64_t ttl_ms = 0;
	hc_cache *c;
	int status;

	/* Checked before attaching: a typo should not cost a process slot. */
	if (ttl != NULL && !parse_ttl_ms(ttl, &ttl_ms))
		return bad_option_value(a->cmd, "ttl", ttl,
		                        "seconds such as 30 or 0.5");
	if ((status = open_segment(a, &c)) != STATUS_OK)
		return status;
	return close_segment(a, c, store_value(a, c, ttl_ms));
}

/* fetch_value() result besides 0 and the HC_E* codes. */
#define FETCH_NO_MEMORY 1

/* Copy KEY's value into a buffer sized by a length probe.  The value can
 * be replaced between two calls, so a too-small buffer is grown and the
 * copy retried, a bounded number of times.  On success *BUF is malloc'd
 * (NULL for an empty value). */
static int fetch_value(hc_cache *c, const char *key, char **buf, size_t *len)
{
	size_t klen = strlen(key), vlen = 0;
	char *data = NULL;
	int err = hc_get(c, key, klen, NULL, 0, &vlen);

	for (int attempt = 0; err == HC_EBUFSIZE && attempt < GET_ATTEMPTS;
	     attempt++) {
		char *bigger = realloc(data, vlen > 0 ? vlen : 1);

		if (bigger == NULL) {
			err = FETCH_NO_MEMORY;
			break;
		}
		data = bigger;
		err = hc_get(c, key, klen, data, vlen, &vlen);
	}
	if (err != 0) {
		free(data);
		return err;
	}
	*buf = data;
	*len = vlen;
	return 0;
}

static int print_value(const struct args *a, hc_cache *c)
{
	char *value = NULL;
	size_t len = 0;
	int err = fetch_value(c, a->positional[1], &value, &len);
	int status = STATUS_OK;

	if (err == FETCH_NO_MEMORY)
		return fail_msg(a, "no memory for the value");
	if (err == HC_EBUFSIZE)
		return fail_msg(a, "the value kept changing size while being "
		                "read; try again");
	if (err != 0)
		return fail_hc(a, err);
	if (write_all(STDOUT_FILENO, value, len) != 0)
		status = fail_msg(a, "writing stdout: %s", strerror(errno));
	free(value);
	return status;
}

static int cmd_get(const struct args *a)
{
	return with_segment(a, print_value);
}

static int delete_key(const struct args *a, hc_cache *c)
{
	const char *key = a->positional[1];
	int err = hc_delete(c, key, strlen(key));

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

static int cmd_del(const struct args *a)
{
	return with_segment(a, delete_key);
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

struct stat_field {
	const char *key; /* JSON key; the table shows it with spaces */
	uint64_t value;
	bool is_bytes;
};

#define STAT_FIELDS_MAX 32

/* One list of fields for both outputs, so that the table and the JSON
 * never disagree.  Returns the number filled in. */
static int collect_stat_fields(const hc_stats *s, struct stat_field *f)
{
	const struct stat_field fields[] = {
		{"gets", s->gets, false},
		{"hits", s->hits, false},
		{"misses", s->misses, false},
		{"sets", s->sets, false},
		{"deletes", s->deletes, false},
		{"evictions", s->evictions, false},
		{"second_chances", s->second_chances, false},
		{"expirations", s->expirations, false},
		{"blocks_evicted", s->blocks_evicted, false},
		{"bucket_evictions", s->bucket_evictions, false},
		{"items", s->items, false},
		{"bytes_live", s->bytes_live, true},
		{"bytes_dead", s->bytes_dead, true},
		{"bytes_used", s->bytes_live + s->bytes_dead, true},
		{"bytes_limit", s->bytes_limit, true},
		{"blocks_total", s->blocks_total, false},
		{"blocks_free", s->blocks_free, false},
		{"blocks_open", s->blocks_open, false},
		{"blocks_sealed", s->blocks_sealed, false},
		{"blocks_evicting", s->blocks_evicting, false},
		{"procs_attached", s->procs_attached, false},
		{"procs_max", s->procs_max, false},
	};
	int count = (int)(sizeof(fields) / sizeof(fields[0]));

	_Static_assert(sizeof(fields) / sizeof(fields[0]) <= STAT_FIELDS_MAX,
	               "raise STAT_FIELDS_MAX");
	memcpy(f, fields, sizeof(fields));
	return count;
}

static double hit_ratio(const hc_stats *s)
{
	return s->gets == 0 ? 0.0 : (double)s->hits / (double)s->gets;
}

static void print_stats_json(const hc_stats *s)
{
	struct stat_field f[STAT_FIELDS_MAX];
	int count = collect_stat_fields(s, f);

	putchar('{');
	for (int i = 0; i < count; i++)
		printf("\"%s\":%" PRIu64 ",", f[i].key, f[i].value);
	printf("\"hit_ratio\":%.6f}\n", hit_ratio(s));
}

static void print_stats_table(const hc_stats *s)
{
	struct stat_field f[STAT_FIELDS_MAX];
	int count = collect_stat_fields(s, f);

	for (int i = 0; i < count; i++) {
		char label[LABEL_WIDTH + 1];

		snprintf(label, sizeof(label), "%s", f[i].key);
		for (char *p = label; *p != '\0'; p++)
			if (*p == '_')
				*p = ' ';
		if (f[i].is_bytes)
			print_bytes_field(label, f[i].value);
		else
			print_field(label, "%" PRIu64, f[i].value);
	}
	print_field("hit ratio", "%.4f", hit_ratio(s));
}

static int show_stats(const struct args *a, hc_cache *c)
{
	hc_stats stats;
	int err = hc_stats_get(c, &stats);

	if (err != 0)
		return fail_hc(a, err);
	if (option_value(a, "json") != NULL)
		print_stats_json(&stats);
	else
		print_stats_table(&stats);
	return STATUS_OK;
}

static int cmd_stats(const struct args *a)
{
	return with_segment(a, show_stats);
}

/* ------------------------------------------------------------------ */
/* The command table and main                                          */

static const char *const name_only[] = {"NAME", NULL};
static const char *const name_key[] = {"NAME", "KEY", NULL};
static const char *const name_key_value[] = {"NAME", "KEY", "VALUE", NULL};

static const struct option_spec no_options[] = {{NULL, false}};
static const struct option_spec create_options[] = {
	{"size", true}, {"mode", true}, {"max-procs", true},
	{"max-key", true}, {"max-value", true}, {"ttl-jitter", true},
	{NULL, false},
};
static const struct option_spec set_options[] = {
	{"ttl", true}, {NULL, false},
};
static const struct option_spec stats_options[] = {
	{"json", false}, {NULL, false},
};

static const struct command commands[] = {
	{"create",
	 "NAME [--size 64M] [--mode 0600] [--max-procs N] [--max-key N] "
	 "[--max-value N] [--ttl-jitter PCT]",
	 "Create the segment NAME (\"name\" or \"/name\") in /dev/shm.\n"
	 "  --size       segment bytes, with K, M or G (default 64M)\n"
	 "  --mode       octal file mode (default 0600; 0660 shares with "
	 "the group)\n"
	 "  --max-procs  process slots, processes attached at once "
	 "(default 64)\n"
	 "  --max-key    longest key in bytes (default 250, at most 65535)\n"
	 "  --max-value  longest value in bytes, with K or M (default: as "
	 "large as a block)\n"
	 "  --ttl-jitter shorten every TTL by a random 0..PCT percent, so keys "
	 "set\n               together do not expire together (1-50; default "
	 "none)\n"
	 "Fails if NAME exists, or says what would fit if the "
	 "configuration cannot work.\n",
	 name_only, create_options, cmd_create},
	{"destroy", "NAME",
	 "Remove the segment NAME.  Processes still attached keep their "
	 "mapping;\nnew attachments fail.\n",
	 name_only, no_options, cmd_destroy},
	{"info", "NAME",
	 "Print the segment's static facts: size, limits, layout, mode.\n",
	 name_only, no_options, cmd_info},
	{"set", "NAME KEY VALUE [--ttl SECONDS]",
	 "Store VALUE under KEY.  VALUE \"-\" reads the value from stdin "
	 "(binary-safe).\n"
	 "  --ttl  seconds until the item expires, fractions allowed "
	 "(0.5);\n"
	 "         0 or none: no expiry\n",
	 name_key_value, set_options, cmd_set},
	{"get", "NAME KEY",
	 "Write KEY's value to stdout, byte for byte, with no newline "
	 "added.\nExit status 1 if KEY is not found.\n",
	 name_key, no_options, cmd_get},
	{"del", "NAME KEY",
	 "Delete KEY.  Exit status 1 if KEY is not found.\n",
	 name_key, no_options, cmd_del},
	{"stats", "NAME [--json]",
	 "Print the segment's counters and gauges, summed over all "
	 "processes.\n"
	 "  --json  one JSON object on one line\n",
	 name_only, stats_options, cmd_stats},
};

#define COMMAND_COUNT ((int)(sizeof(commands) / sizeof(commands[0])))

static void print_usage(void)
{
	printf("usage: cachectl COMMAND NAME [ARGUMENTS] [OPTIONS]\n\n"
	       "Create, inspect and change a hostcache segment, the shared "
	       "memory object NAME.\n\ncommands:\n");
	for (int i = 0; i < COMMAND_COUNT; i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].synopsis);
	printf("\n'cachectl COMMAND --help' describes one command.\n"
	       "Exit status: 0 success, 1 key not found, 2 usage error, "
	       "3 other error.\n");
}

static void print_command_usage(const struct command *cmd)
{
	printf("usage: cachectl %s %s\n\n%s", cmd->name, cmd->synopsis,
	       cmd->description);
}

static const struct command *find_command(const char *name)
{
	for (int i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* stdout is checked once at the end: a full disk or a closed pipe must not
 * pass for success when a script reads what we printed. */
static int flush_stdout(int status)
{
	if (fflush(stdout) != 0 && status == STATUS_OK) {
		fprintf(stderr, "cachectl: writing stdout: %s\n",
		        strerror(errno));
		return STATUS_ERROR;
	}
	return status;
}

static int run(int argc, char **argv)
{
	const struct command *cmd;
	struct args a;
	char quoted[QUOTED_CAP];
	int status;

	if (argc < 2)
		return usage_error(NULL, "missing command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage();
		return STATUS_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cachectl (hostcache) %s\n", hc_version());
		return STATUS_OK;
	}
	if ((cmd = find_command(argv[1])) == NULL)
		return usage_error(NULL, "unknown command %s",
		                   quote(argv[1], quoted));
	if (wants_help(argc - 2, argv + 2)) {
		print_command_usage(cmd);
		return STATUS_OK;
	}
	status = parse_args(cmd, argc - 2, argv + 2, &a);
	return status != STATUS_OK ? status : cmd->run(&a);
}

/* Hold descriptors 0, 1 and 2 if the caller left any closed.  Otherwise
 * the segment's descriptor could get one of those numbers, and writing a
 * value to "stdout" would write it over the segment's header.  /dev/null
 * is opened in the direction that fails, so that a closed stdin or stdout
 * still reports an error rather than passing for empty or written. */
static bool hold_standard_fds(void)
{
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		int flags = fd == STDIN_FILENO ? O_WRONLY : O_RDONLY;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* open() returns the lowest free number: this one. */
		if (open("/dev/null", flags) != fd)
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	if (!hold_standard_fds()) {
		fprintf(stderr, "cachectl: cannot open /dev/null for a closed "
		        "standard descriptor: %s\n", strerror(errno));
		return STATUS_ERROR;
	}
	return flush_stdout(run(argc, argv));
}
