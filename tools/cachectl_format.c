/*
 * cachectl_format.c - what output looks like: escaping, units, aligned
 * tables, JSON.
 *
 * Keys and values are binary.  Anything cachectl shows a person or puts in
 * JSON goes through escape_bytes(), whose output is always valid UTF-8
 * with no control characters, and which can be undone exactly: every
 * backslash in it starts "\xNN", one byte.  Printable ASCII and valid
 * UTF-8 text pass through, so ordinary keys read as themselves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cachectl_format.h"

/* ------------------------------------------------------------------ */
/* Escaping                                                            */

/* Length of the valid UTF-8 sequence at S (at most LEN bytes) that
 * encodes a printable character (U+00A0 and above: the C1 controls
 * U+0080..U+009F are refused, as terminals act on some of them); 0 when
 * there is none.  Overlong forms and surrogates are invalid. */
static size_t utf8_printable_length(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xc2)
		lo = 0xa0;          /* U+0080..U+009F are C1 controls */
	else if (s[0] == 0xe0)
		lo = 0xa0;          /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;          /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;          /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;          /* beyond U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Escape LEN bytes of S into OUT: printable ASCII and printable UTF-8 as
 * they are, every other byte (and the backslash) as "\xNN".  Stops after
 * MAX_CHARS characters (SIZE_MAX: no limit); *CONSUMED (if not NULL) gets
 * how many input bytes were used.  OUT needs ESCAPED_CAP(LEN) bytes, or
 * 4 * MAX_CHARS + 1 when that is less.  Returns the length written; OUT is
 * NUL-terminated.
 */
size_t escape_bytes(const void *s, size_t len, char *out, size_t max_chars,
                    size_t *consumed)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t i = 0, o = 0;

	for (size_t chars = 0; i < len && chars < max_chars; chars++) {
		unsigned char ch = p[i];
		size_t n;

		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			out[o++] = (char)ch;
			i++;
		} else if (ch >= 0x80 &&
		           (n = utf8_printable_length(p + i, len - i)) > 0) {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
			i++;
		}
	}
	out[o] = '\0';
	if (consumed != NULL)
		*consumed = i;
	return o;
}

/* escape_bytes() into a malloc'd string; NULL when out of memory. */
char *escape_alloc(const void *s, size_t len)
{
	char *out = malloc(ESCAPED_CAP(len));

	if (out != NULL)
		escape_bytes(s, len, out, SIZE_MAX, NULL);
	return out;
}

/* ------------------------------------------------------------------ */
/* Fields and units                                                    */

void print_field(const char *label, const char *fmt, ...)
{
	va_list ap;
	int pad = LABEL_WIDTH - (int)strlen(label);

	printf("%s:%*s ", label, pad > 0 ? pad : 0, "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* N in the largest binary unit it reaches, up to TiB: *SCALED gets the
 * number of them; returns the unit's name, NULL for under 1 KiB. */
static const char *binary_unit(uint64_t n, double *scaled)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	int unit = -1;

	*scaled = (double)n;
	while (*scaled >= 1024 && unit < 3) {
		*scaled /= 1024;
		unit++;
	}
	return unit < 0 ? NULL : units[unit];
}

/* "67108864 (64.0 MiB)": exact bytes for scripts, a unit for people. */
void format_bytes(uint64_t n, char *buf, size_t cap)
{
	double scaled;
	const char *unit = binary_unit(n, &scaled);

	if (unit == NULL)
		snprintf(buf, cap, "%" PRIu64, n);
	else
		snprintf(buf, cap, "%" PRIu64 " (%.1f %s)", n, scaled, unit);
}

/* "512B", "12.3MiB": one word, for table cells. */
void format_bytes_short(uint64_t n, char *buf, size_t cap)
{
	double scaled;
	const char *unit = binary_unit(n, &scaled);

	if (unit == NULL)
		snprintf(buf, cap, "%" PRIu64 "B", n);
	else
		snprintf(buf, cap, "%.1f%s", scaled, unit);
}

void print_bytes_field(const char *label, uint64_t n)
{
	char text[64];

	format_bytes(n, text, sizeof(text));
	print_field(label, "%s", text);
}

/* CLOCK_REALTIME nanoseconds as local time with strftime() format FMT;
 * the number itself if the time cannot be converted. */
void format_local_time(uint64_t ns, const char *fmt, char *buf, size_t cap)
{
	time_t seconds = (time_t)(ns / 1000000000u);
	struct tm local;

	if (localtime_r(&seconds, &local) == NULL ||
	    strftime(buf, cap, fmt, &local) == 0)
		snprintf(buf, cap, "%" PRIu64 " ns since the epoch", ns);
}

/* A duration for people: "0.250s", "59.000s", "12m03s", "5h07m", "3d04h". */
void format_duration_ms(uint64_t ms, char *buf, size_t cap)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, cap, "%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
	else if (s < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
		         s / 60 % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
		         s / 3600 % 24);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Write all of BUF to FD, resuming after signals and short writes. */
int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */

/* S, valid UTF-8, as a JSON string. */
void json_string(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			putc(ch, f);
	}
	putc('"', f);
}

/* LEN bytes of S, escaped (escape_bytes) and then as a JSON string. */
void json_bytes(FILE *f, const void *s, size_t len)
{
	char small[256];
	char *text = len < sizeof(small) / 4 ? small : escape_alloc(s, len);

	if (text == NULL) {
		fputs("null", f);
		return;
	}
	if (text == small)
		escape_bytes(s, len, small, SIZE_MAX, NULL);
	json_string(f, text);
	if (text != small)
		free(text);
}

/* ------------------------------------------------------------------ */
/* Aligned tables                                                      */

struct table {
	int columns;
	const char *const *headers;
	const bool *right;
	char **cells;      /* rows * columns, row-major */
	size_t rows, cap;
};

struct table *table_new(int columns, const char *const *headers,
                        const bool *right_aligned)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->columns = columns;
	t->headers = headers;
	t->right = right_aligned;
	return t;
}

bool table_add(struct table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap == 0 ? 64 : t->cap * 2;
		char **bigger = realloc(t->cells,
		                        cap * (size_t)t->columns * sizeof(char *));

		if (bigger == NULL)
			return false;
		t->cells = bigger;
		t->cap = cap;
	}
	for (int i = 0; i < t->columns; i++) {
		char *copy = strdup(cells[i]);

		if (copy == NULL) {
			while (i-- > 0)
				free(t->cells[t->rows * (size_t)t->columns + (size_t)i]);
			return false;
		}
		t->cells[t->rows * (size_t)t->columns + (size_t)i] = copy;
	}
	t->rows++;
	return true;
}

/* Characters, not bytes: escaped text is valid UTF-8. */
static size_t display_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void print_cell(FILE *f, const char *text, size_t width, bool right,
                       bool last)
{
	size_t pad = width - display_width(text);

	if (right)
		fprintf(f, "%*s%s", (int)pad, "", text);
	else if (last)
		fputs(text, f); /* no trailing blanks */
	else
		fprintf(f, "%s%*s", text, (int)pad, "");
}

static void print_row(const struct table *t, FILE *f, const char *const *row,
                      const size_t *width)
{
	for (int i = 0; i < t->columns; i++) {
		if (i > 0)
			fputs("  ", f);
		print_cell(f, row[i], width[i], t->right[i], i == t->columns - 1);
	}
	putc('\n', f);
}

void table_print(const struct table *t, FILE *f)
{
	size_t width[32] = {0};

	if (t->columns > 32)
		return;
	for (int i = 0; i < t->columns; i++)
		width[i] = display_width(t->headers[i]);
	for (size_t r = 0; r < t->rows; r++)
		for (int i = 0; i < t->columns; i++) {
			size_t w = display_width(t->cells[r * (size_t)t->columns +
			                                  (size_t)i]);

			if (w > width[i])
				width[i] = w;
		}
	print_row(t, f, t->headers, width);
	for (size_t r = 0; r < t->rows; r++)
		print_row(t, f,
		          (const char *const *)&t->cells[r * (size_t)t->columns],
		          width);
}

void table_free(struct table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rows * (size_t)t->columns; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
