/*
 * fuzz_input.h - what both fuzzers share: how they read their input
 * (bytes taken in order, zeros once it runs out, so that every input is a
 * whole program) and how they stop at a finding.
 */
#ifndef HC_FUZZ_INPUT_H
#define HC_FUZZ_INPUT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t next(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint32_t next32(struct input *in)
{
	return (uint32_t)next(in) | (uint32_t)next(in) << 8 |
	       (uint32_t)next(in) << 16 | (uint32_t)next(in) << 24;
}

static inline uint64_t next64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)next(in) << (8 * i);
	return v;
}

/* A finding: say WHO found what, then abort, which libFuzzer reports as a
 * crash and keeps the input of. */
static inline __attribute__((noreturn, format(printf, 2, 3)))
void fuzz_fail(const char *who, const char *fmt, ...)
{
	va_list ap;

	fputs(who, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#endif
