/*
 * cachectl_parse.h - numbers, sizes, durations and modes from the command
 * line.  Beside cachectl_format.c at the bottom: it calls no other file of
 * cachectl.
 */
#ifndef CACHECTL_PARSE_H
#define CACHECTL_PARSE_H

#include <stdbool.h>
#include <stdint.h>

const char *parse_digits(const char *s, uint64_t *out);
bool parse_size(const char *s, uint64_t max, uint64_t *out);
bool parse_count(const char *s, uint32_t *out);
bool parse_u64(const char *s, uint64_t *out);
bool parse_mode(const char *s, uint32_t *out);
bool parse_ttl_ms(const char *s, uint64_t *out);

#endif /* CACHECTL_PARSE_H */
