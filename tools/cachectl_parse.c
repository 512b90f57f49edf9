/*
 * cachectl_parse.c - numbers from the command line.
 *
 * Decimal arithmetic throughout rather than strtoull()/strtod(): those
 * accept signs, spaces, "inf" and exponents, and wrap or round where a
 * user would want a refusal.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cachectl_parse.h"

/* Parse leading decimal digits of S into *OUT.  Returns the first
 * character after them, or NULL when there are none or they overflow. */
const char *parse_digits(const char *s, uint64_t *out)
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
bool parse_size(const char *s, uint64_t max, uint64_t *out)
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
bool parse_count(const char *s, uint32_t *out)
{
	uint64_t n;
	const char *rest = parse_digits(s, &n);

	if (rest == NULL || *rest != '\0' || n == 0 || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

/* Any decimal number from 0 to UINT64_MAX, digits only. */
bool parse_u64(const char *s, uint64_t *out)
{
	const char *rest = parse_digits(s, out);

	return rest != NULL && *rest == '\0';
}

/* A file mode in octal, 1 to 0777 ("0660", "660").  Zero is refused: in
 * hc_config it would mean the default 0600, not what was asked. */
bool parse_mode(const char *s, uint32_t *out)
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
 * "0.2" is exactly 200 ms; "inf", "1e3" and "-1" are refused. */
bool parse_ttl_ms(const char *s, uint64_t *out)
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
