/*
 * log.c - leveled log lines on stderr.
 *
 * hostcached runs in the foreground and leaves where its lines go to the
 * supervisor (systemd's journal, a terminal, a file by redirection).  Each
 * line is formatted whole and written with one write(2), so that lines of
 * several threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hostcached.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* Read by every thread, written by the main thread (flags, SIGHUP,
 * verbosity): a relaxed atomic is all a level needs. */
static int current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	__atomic_store_n(&current_level, (int)level, __ATOMIC_RELAXED);
}

enum log_level log_get_level(void)
{
	return (enum log_level)__atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

bool log_level_parse(const char *s, enum log_level *out)
{
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return true;
	}
	return false;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if ((int)level > __atomic_load_n(&current_level, __ATOMIC_RELAXED))
		return;
	n = snprintf(line, sizeof line, "hostcached: %s: ", level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* Nothing useful can be done when stderr is gone. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
