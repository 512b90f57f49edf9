/*
 * cachectl_args.c - command lines and attaching: what every command's
 * run() is given and the calls it makes on it.
 *
 * Options start with "--" and may stand before or after the positional
 * arguments; "--" ends them, so that a key such as "--x" can be named.  A
 * lone "-" and any other word starting with a single dash are positional,
 * so that "set NAME KEY -1" stores "-1".
 *
 * Each command attaches for one operation and detaches, so cachectl holds a
 * process slot only for a moment (top holds one while it runs); if it is
 * killed while attached, the next process that attaches reaps the slot.
 *
 * Below the commands and above the reports: this file calls
 * cachectl_report.c and the library, never a command.
 */
#include <stdio.h>
#include <string.h>

#include "cachectl.h"

/* ------------------------------------------------------------------ */
/* Command lines                                                       */

static int option_index(const struct args *a, const char *name)
{
	for (int i = 0; a->cmd->options[i].name != NULL; i++)
		if (strcmp(a->cmd->options[i].name, name) == 0)
			return i;
	return -1;
}

/* The value of option NAME (the last one given), "" for a flag, NULL when
 * absent. */
const char *option_value(const struct args *a, const char *name)
{
	int i = option_index(a, name);

	return i < 0 ? NULL : a->options[i].value;
}

bool option_given(const struct args *a, const char *name)
{
	return option_value(a, name) != NULL;
}

/* Every value of a repeatable option, in order. */
const struct option_given *option_all(const struct args *a, const char *name)
{
	static const struct option_given none;
	int i = option_index(a, name);

	return i < 0 ? &none : &a->options[i];
}

static bool is_optional(const char *positional_name)
{
	return positional_name[0] == '[';
}

static int positional_capacity(const struct command *cmd, int *required)
{
	int n = 0;

	*required = 0;
	for (; cmd->positional_names[n] != NULL; n++)
		if (!is_optional(cmd->positional_names[n]))
			*required = n + 1;
	return n;
}

static int record_option(const struct command *cmd, struct args *a, int k,
                         const char *value)
{
	struct option_given *given = &a->options[k];

	if (cmd->options[k].repeatable) {
		if (given->count == MAX_REPEATS)
			return usage_error(cmd, "--%s given more than %d times",
			                   cmd->options[k].name, MAX_REPEATS);
		given->all[given->count] = value;
	}
	given->count++;
	given->value = value;
	return STATUS_OK;
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
			return record_option(cmd, a, k, "");
		}
		if (equals != NULL)
			return record_option(cmd, a, k, equals + 1);
		if (*i + 1 < argc)
			return record_option(cmd, a, k, argv[++*i]);
		return usage_error(cmd, "--%s needs a value", spec->name);
	}
	return usage_error(cmd, "unknown option %s",
	                   quote_bytes(argv[*i], length + 2, quoted));
}

int parse_args(const struct command *cmd, int argc, char **argv,
                      struct args *a)
{
	int required;
	int capacity = positional_capacity(cmd, &required);
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
	if (a->positional_count < required)
		return usage_error(cmd, "missing %s",
		                   cmd->positional_names[a->positional_count]);
	return STATUS_OK;
}

/* True when the command line asks for help: "--help" or "-h" anywhere
 * before "--", whatever else is wrong with it. */
bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Attaching                                                           */

static int open_segment_flags(const struct args *a, unsigned flags,
                              hc_cache **c)
{
	int err = hc_open_ex(a->positional[0], flags, c);

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

int open_segment(const struct args *a, hc_cache **c)
{
	return open_segment_flags(a, 0, c);
}

/* Detach, keeping STATUS when the command already failed: a failure
 * prints one line, and the first cause is the one worth reading. */
int close_segment(const struct args *a, hc_cache *c, int status)
{
	int err = hc_close(c);

	if (err != 0 && status == STATUS_OK)
		return fail_hc(a, err);
	return status;
}

static int with_segment_flags(const struct args *a, unsigned flags,
                              int (*body)(const struct args *a, hc_cache *c))
{
	hc_cache *c;
	int status = open_segment_flags(a, flags, &c);

	if (status != STATUS_OK)
		return status;
	return close_segment(a, c, body(a, c));
}

/* Run BODY on the segment named by the first argument, attached. */
int with_segment(const struct args *a,
                 int (*body)(const struct args *a, hc_cache *c))
{
	return with_segment_flags(a, 0, body);
}

/* The same, for commands that inspect: attaching leaves the slots of dead
 * processes as they are, so that they can be seen. */
int with_segment_observing(const struct args *a,
                           int (*body)(const struct args *a, hc_cache *c))
{
	return with_segment_flags(a, HC_OPEN_NO_REAP, body);
}

