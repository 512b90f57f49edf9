/*
 * cachectl_format.h - what output looks like: escaping, units, aligned
 * tables, JSON, and the clocks and writes they need.
 *
 * The bottom of cachectl: cachectl_format.c calls no other file of
 * cachectl, and every other file may use it (cachectl.h includes this).
 */
#ifndef CACHECTL_FORMAT_H
#define CACHECTL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Width of the label column in info and stats output. */
#define LABEL_WIDTH 20

/* Bytes escape_bytes() needs for LEN input bytes, with no limit on
 * characters: "\xNN" for each, and the NUL. */
#define ESCAPED_CAP(len) ((len) * 4 + 1)

size_t escape_bytes(const void *s, size_t len, char *out, size_t max_chars,
                    size_t *consumed);
char *escape_alloc(const void *s, size_t len);

void print_field(const char *label, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void format_bytes(uint64_t n, char *buf, size_t cap);
void format_bytes_short(uint64_t n, char *buf, size_t cap);
void print_bytes_field(const char *label, uint64_t n);
void format_local_time(uint64_t realtime_ns, const char *fmt, char *buf,
                       size_t cap);
void format_duration_ms(uint64_t ms, char *buf, size_t cap);
uint64_t realtime_ns(void);
uint64_t monotonic_ns(void);
int write_all(int fd, const void *buf, size_t len);
void json_string(FILE *f, const char *s);
void json_bytes(FILE *f, const void *s, size_t len);

/* An aligned table: add rows of preformatted cells, then print. */
struct table;
struct table *table_new(int columns, const char *const *headers,
                        const bool *right_aligned);
bool table_add(struct table *t, const char *const *cells);
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

#endif /* CACHECTL_FORMAT_H */
