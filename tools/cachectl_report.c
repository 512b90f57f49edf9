/*
 * cachectl_report.c - failure messages, and what to do about them.
 *
 * Every failure prints exactly one line on stderr:
 *
 *   cachectl: COMMAND 'NAME' 'KEY': WHY; WHAT TO DO
 *
 * The command and the names it acted on come first (never a value, which
 * may be large or secret), escaped and cut so that a key holding a newline
 * or a megabyte cannot break the line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cachectl.h"

/* LEN bytes of S in single quotes, escaped as escape_bytes() does, cut
 * after SHOWN_CHARS_MAX characters.  BUF has QUOTED_CAP bytes; returns
 * BUF. */
const char *quote_bytes(const void *s, size_t len, char *buf)
{
	size_t consumed;
	size_t n = escape_bytes(s, len, buf + 1, SHOWN_CHARS_MAX, &consumed);

	buf[0] = '\'';
	strcpy(buf + 1 + n, consumed < len ? "'..." : "'");
	return buf;
}

const char *quote(const char *s, char *buf)
{
	return quote_bytes(s, strlen(s), buf);
}

/* "cachectl: get 'seg' 'key'": the command and the names it acted on. */
static void print_failure_prefix(const struct args *a)
{
	int shown = a->positional_count < 2 ? a->positional_count : 2;
	char quoted[QUOTED_CAP];

	fprintf(stderr, "cachectl: %s", a->cmd->name);
	for (int i = 0; i < shown; i++)
		fprintf(stderr, " %s", quote(a->positional[i], quoted));
}

int fail_msg(const struct args *a, const char *fmt, ...)
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

/* Errors that mean "no value for this key": exit status 1. */
static bool not_found(int err)
{
	if (err == HC_ENEGATIVE)
		return true; /* cached as known absent */
	return err == HC_ENOTFOUND;
}

/* Report a failed hc_* call.  hc_last_error() is read first, before any
 * other library call can replace it; it says more than hc_strerror() when
 * the library knows more (which name was bad, what configuration would
 * fit), and then often what to do as well, which is not repeated here. */
int fail_hc(const struct args *a, int err)
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
	/* The library already named the way back (check --repair). */
	if (strstr(why, "cachectl check --repair") != NULL)
		hint.advice = hint.command = NULL;
	if (hint.advice != NULL)
		fprintf(stderr, "; %s", hint.advice);
	if (hint.command != NULL)
		fprintf(stderr, " cachectl %s %s", hint.command,
		        quote(a->positional[0], quoted));
	fputc('\n', stderr);
	return not_found(err) ? STATUS_NOT_FOUND : STATUS_ERROR;
}

int usage_error(const struct command *cmd, const char *fmt, ...)
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

/* A usage error naming the bad value of option NAME and what it wants. */
int bad_option_value(const struct command *cmd, const char *name,
                     const char *value, const char *wanted)
{
	char quoted[QUOTED_CAP];

	return usage_error(cmd, "bad --%s %s: want %s", name,
	                   quote(value, quoted), wanted);
}
