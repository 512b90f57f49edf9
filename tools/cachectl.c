/*
 * cachectl - create, inspect, operate and repair a hostcache segment from a
 * shell.
 *
 *   cachectl create NAME [--size 64M] [--mode 0600] [--max-procs N] ...
 *   cachectl destroy NAME
 *   cachectl info NAME [--json]
 *   cachectl stats NAME [--json | --prometheus] [--blocks] [--per-process]
 *   cachectl top NAME [--interval S] [--iterations N] [--json]
 *   cachectl ps NAME [--all] [--json]
 *   cachectl keys NAME [--prefix P] [--tag T] [--limit N] [--json] [--raw]
 *   cachectl get|set|del|incr|decr|touch NAME KEY ...
 *   cachectl invalidate NAME --prefix P | --tag T;  cachectl flush NAME
 *   cachectl check NAME [--repair] [--json]
 *   cachectl dump NAME FILE / restore NAME FILE
 *
 * Exit status, so that a script can tell a miss from a failure:
 *   0 success, 1 key not found, 2 usage error, 3 any other error.
 * Every failure prints exactly one line on stderr, "cachectl: WHAT: WHY",
 * followed by what to do about it where there is something to do.
 *
 * Options may stand before or after the positional arguments, and "--"
 * ends them (cachectl_args.c).  Each command attaches for one operation
 * and detaches, so cachectl holds a process slot only for a moment.
 *
 * This file holds the command table and main, the top of cachectl: it
 * calls the commands, which never call it back; cachectl.h shows the
 * layers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cachectl.h"

/* ------------------------------------------------------------------ */
/* The command table                                                   */

static const char *const name_only[] = {"NAME", NULL};
static const char *const name_key[] = {"NAME", "KEY", NULL};
static const char *const name_key_value[] = {"NAME", "KEY", "VALUE", NULL};
static const char *const name_key_delta[] = {"NAME", "KEY", "[DELTA]", NULL};
static const char *const name_key_seconds[] = {"NAME", "KEY", "SECONDS",
                                               NULL};
static const char *const name_file[] = {"NAME", "FILE", NULL};

static const struct option_spec no_options[] = {{NULL, false, false}};
static const struct option_spec json_options[] = {
	{"json", false, false}, {NULL, false, false},
};
static const struct option_spec create_options[] = {
	{"size", true, false}, {"mode", true, false},
	{"max-procs", true, false}, {"max-key", true, false},
	{"max-value", true, false}, {"ttl-jitter", true, false},
	{"delimiter", true, false}, {"clean-watermark", true, false},
	{"avg-item", true, false}, {"latency-every", true, false},
	{"journal", true, false}, {"writeback", true, false},
	{NULL, false, false},
};
_Static_assert(sizeof create_options / sizeof create_options[0] - 1 <=
               MAX_OPTIONS, "create takes more options than args can hold");
static const struct option_spec key_options[] = {
	{"escaped", false, false}, {NULL, false, false},
};
static const struct option_spec set_options[] = {
	{"ttl", true, false}, {"escaped", false, false},
	{"tag", true, true}, {"flags", true, false},
	{"writeback", false, false}, {NULL, false, false},
};
static const struct option_spec journal_options[] = {
	{"follow", false, false}, {"json", false, false}, {NULL, false, false},
};
static const struct option_spec keys_options[] = {
	{"prefix", true, false}, {"tag", true, false}, {"limit", true, false},
	{"json", false, false}, {"raw", false, false},
	{"escaped", false, false}, {NULL, false, false},
};
static const struct option_spec stats_options[] = {
	{"json", false, false}, {"prometheus", false, false},
	{"blocks", false, false}, {"per-process", false, false},
	{NULL, false, false},
};
static const struct option_spec top_options[] = {
	{"interval", true, false}, {"iterations", true, false},
	{"json", false, false}, {NULL, false, false},
};
static const struct option_spec ps_options[] = {
	{"all", false, false}, {"json", false, false}, {NULL, false, false},
};
static const struct option_spec check_options[] = {
	{"repair", false, false}, {"json", false, false}, {NULL, false, false},
};
static const struct option_spec dump_options[] = {
	{"prefix", true, false}, {"escaped", false, false},
	{NULL, false, false},
};
static const struct option_spec invalidate_options[] = {
	{"prefix", true, false}, {"tag", true, false},
	{"escaped", false, false}, {NULL, false, false},
};
#define SET_SYNOPSIS "NAME KEY VALUE [--ttl SECONDS] [--tag T]... [--flags N] [--writeback] [--escaped]"
#define SET_TAG_HELP                                                        \
	"  --tag      a tag for invalidate --tag, 1 to 64 bytes; up to "    \
	"4 of them\n"
static const struct option_spec restore_options[] = {
	{"keep-ttl", false, false}, {NULL, false, false},
};

#define ESCAPED_HELP                                                         \
	"  --escaped  KEY is written as keys prints it: \\xNN stands for "   \
	"the byte NN\n"

static const struct command commands[] = {
	{"create",
	 "NAME [--size 64M] [--mode 0600] [--max-procs N] [--max-key N] "
	 "[--max-value N] [--ttl-jitter PCT] [--delimiter C] "
	 "[--clean-watermark PCT] [--avg-item BYTES] [--latency-every N] "
	 "[--journal N] [--writeback SIZE]",
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
	 "  --delimiter  the character that ends a key prefix for "
	 "invalidation\n               (default ':', so 'user:42:' is a "
	 "prefix of 'user:42:name')\n"
	 "  --clean-watermark  while live data is under PCT percent of item "
	 "memory,\n               reclaim dead space by moving live items "
	 "instead of evicting\n               (1-100; default 90)\n"
	 "  --avg-item   expected bytes per item (header, key and value): "
	 "3/2 index\n               slots per BYTES of item memory "
	 "(32-65536; default 80)\n"
	 "  --latency-every  time one get and one set in N per thread, for "
	 "the\n               latency quantiles of stats (1-1000000 or off; "
	 "default 64)\n"
	 "  --journal    keep a journal of the last N changes for other hosts "
	 "(see\n               journal; up to 1048576, 320 bytes each; "
	 "default none)\n"
	 "  --writeback  keep a write-behind queue of SIZE bytes, with K or M, "
	 "for\n               writes a sidecar sends upstream "
	 "(hc_set_options.writeback;\n               64K to 256M; default "
	 "none)\n"
	 "Fails if NAME exists, or says what would fit if the "
	 "configuration cannot work.\n",
	 name_only, create_options, cmd_create},
	{"destroy", "NAME",
	 "Remove the segment NAME.  Processes still attached keep their "
	 "mapping;\nnew attachments fail.\n",
	 name_only, no_options, cmd_destroy},
	{"info", "NAME [--json]",
	 "Print the segment's static facts: size, limits, layout and version, "
	 "creation\ntime, mode, and how many processes are attached.\n"
	 "  --json  one JSON object on one line\n",
	 name_only, json_options, cmd_info},
	{"stats", "NAME [--json | --prometheus] [--blocks] [--per-process]",
	 "Print the segment's counters and gauges, summed over all "
	 "processes.\n"
	 "  --json         one JSON object on one line\n"
	 "  --prometheus   the node_exporter textfile format (# HELP, # TYPE, "
	 "metrics\n                 named hostcache_*, labelled with the "
	 "segment)\n"
	 "  --blocks       add the blocks of item memory by state\n"
	 "  --per-process  add each attached process's own counters\n",
	 name_only, stats_options, cmd_stats},
	{"top", "NAME [--interval S] [--iterations N] [--json]",
	 "Show live rates: gets/s, hit ratio, sets/s, evictions/s, for the "
	 "segment and\neach attached process.  On a terminal the screen "
	 "refreshes in place; q quits.\nOtherwise, or with --json, one line "
	 "per interval.\n"
	 "  --interval    seconds between samples, fractions allowed (default "
	 "1)\n"
	 "  --iterations  stop after N samples (default: until q or a "
	 "signal)\n"
	 "  --json        one JSON object per line\n",
	 name_only, top_options, cmd_top},
	{"ps", "NAME [--all] [--json]",
	 "List the process slots: slot, pid, command, state (alive, or dead "
	 "and awaiting\nreap), and each process's own counters since it "
	 "attached.\n"
	 "  --all   include slots that were attached before and are free now\n"
	 "  --json  one JSON object on one line\n",
	 name_only, ps_options, cmd_ps},
	{"keys",
	 "NAME [--prefix P] [--tag T] [--limit N] [--json] [--raw] "
	 "[--escaped]",
	 "List live keys, sorted, with value size, TTL left and tags.  Keys "
	 "are shown\nescaped: \\xNN is a byte that is not printable text.\n"
	 "  --prefix   only keys that start with P\n"
	 "  --tag      only items set with the tag T\n"
	 "  --limit    list at most N keys\n"
	 "  --json     one JSON object on one line\n"
	 "  --raw      print only the keys, as they are, one per line\n"
	 "  --escaped  P is written as keys prints it\n",
	 name_only, keys_options, cmd_keys},
	{"set", SET_SYNOPSIS,
	 "Store VALUE under KEY.  VALUE \"-\" reads the value from stdin "
	 "(binary-safe).\n"
	 "  --ttl      seconds until the item expires, fractions allowed "
	 "(0.5);\n"
	 "             0 or none: no expiry\n"
	 "  --flags    client flags, 0..4294967295, kept with the item and\n"
	 "             returned by memcached's get (keys --json shows them)\n"
	 "  --writeback  also queue the write for the sidecar to send "
	 "upstream\n             (a segment created with --writeback)\n"
	 SET_TAG_HELP ESCAPED_HELP,
	 name_key_value, set_options, cmd_set},
	{"get", "NAME KEY [--escaped]",
	 "Write KEY's value to stdout, byte for byte, with no newline "
	 "added\n(on a terminal, a newline follows it).\nExit status 1 if KEY "
	 "is not found.\n" ESCAPED_HELP,
	 name_key, key_options, cmd_get},
	{"del", "NAME KEY [--escaped]",
	 "Delete KEY.  Exit status 1 if KEY is not found.\n" ESCAPED_HELP,
	 name_key, key_options, cmd_del},
	{"incr", "NAME KEY [DELTA] [--escaped]",
	 "Add DELTA (default 1) to KEY's decimal value, wrapping at 2^64, and "
	 "print the\nresult.  Exit status 1 if KEY is not found.\n"
	 ESCAPED_HELP,
	 name_key_delta, key_options, cmd_incr},
	{"decr", "NAME KEY [DELTA] [--escaped]",
	 "Subtract DELTA (default 1) from KEY's decimal value, stopping at 0, "
	 "and print\nthe result.  Exit status 1 if KEY is not found.\n"
	 ESCAPED_HELP,
	 name_key_delta, key_options, cmd_decr},
	{"touch", "NAME KEY SECONDS [--escaped]",
	 "Give KEY a new TTL in seconds (fractions allowed; 0: no expiry).  "
	 "Exit status 1\nif KEY is not found.\n" ESCAPED_HELP,
	 name_key_seconds, key_options, cmd_touch},
	{"invalidate", "NAME --prefix P | --tag T [--escaped]",
	 "Make items a miss for every process, at once: every key starting "
	 "with P, or\nevery item set with the tag T.  A prefix that ends with "
	 "the segment's delimiter\n(info shows it; default ':') costs the same "
	 "whatever the number of keys; any\nother prefix is a scan, which says "
	 "how many items it dropped.\n"
	 "  --escaped  P is written as keys prints it\n",
	 name_only, invalidate_options, cmd_invalidate},
	{"flush", "NAME",
	 "Make every item a miss for every process, at once.  Items set "
	 "afterwards are\nvisible as usual.\n",
	 name_only, no_options, cmd_flush},
	{"journal", "NAME [--follow] [--json]",
	 "Print the changes the segment's journal holds (created with "
	 "--journal N),\noldest first, one a line: sequence, kind (key, prefix, "
	 "tag, flush), origin,\nand the key, prefix or tag, escaped (\"...\" "
	 "after the first 256 bytes of a\nlonger key).  Entries lost are "
	 "counted on stderr.\n"
	 "  --follow  keep printing new entries until interrupted\n"
	 "  --json    one JSON object a line\n",
	 name_only, journal_options, cmd_journal},
	{"check", "NAME [--repair] [--json]",
	 "Walk the whole segment while other processes keep working: every "
	 "block, every\nindex entry, every process slot.  Prints each problem "
	 "found and a summary;\nexit status 3 if there is any problem.\n"
	 "  --repair  reclaim what dead processes left, settle blocks no "
	 "process owns and\n            clear malformed index entries (never "
	 "a well-formed live item),\n            then check again: exit "
	 "status 0 if nothing is left\n"
	 "  --json    one JSON object on one line\n",
	 name_only, check_options, cmd_check},
	{"dump", "NAME FILE [--prefix P] [--escaped]",
	 "Write every live item (key, value, flags, TTL left, tags) to FILE, "
	 "a portable\nversioned file that restore reads back; FILE \"-\" is "
	 "stdout.  A dump to a\nfile is written beside it and renamed into "
	 "place when complete.\n"
	 "  --prefix   only keys that start with P\n"
	 "  --escaped  P is written as keys prints it\n",
	 name_file, dump_options, cmd_dump},
	{"restore", "NAME FILE [--keep-ttl]",
	 "Load the items of a dump FILE (\"-\": stdin) into the segment NAME, "
	 "which may\nbe another segment than the one dumped.  A file that is "
	 "not a dump, is of a\nnewer format or is damaged is refused before "
	 "anything is stored (from stdin:\nas soon as the damage is read).  "
	 "TTLs count down from the time of the dump;\nitems that have expired "
	 "since are skipped.\n"
	 "  --keep-ttl  give each item the TTL it had left when dumped\n",
	 name_file, restore_options, cmd_restore},
};

#define COMMAND_COUNT ((int)(sizeof(commands) / sizeof(commands[0])))

static void print_usage(void)
{
	printf("usage: cachectl COMMAND NAME [ARGUMENTS] [OPTIONS]\n\n"
	       "Create, inspect, operate and repair a hostcache segment, the "
	       "shared memory\nobject NAME.\n\ncommands:\n");
	for (int i = 0; i < COMMAND_COUNT; i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].synopsis);
	printf("\n'cachectl COMMAND --help' describes one command; 'man "
	       "cachectl' all of them.\n"
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

/* ------------------------------------------------------------------ */
/* main                                                                */

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
