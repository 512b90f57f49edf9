/*
 * proto.c - requests and replies of the memcached protocols, text
 * ("set k 0 0 5\r\nhello\r\n") and binary (24-byte headers, see
 * memcached's protocol_binary.h).
 *
 * Every reply is checked in full rather than skimmed: a load generator
 * that counts any answer as success measures a server that answers
 * nonsense quickly.  A get must return the key that was asked for (text)
 * or echo the request's opcode and opaque (binary), with exactly the flags
 * and the bytes that a set of that key stores; a set must be acknowledged
 * as stored.  Anything else is an error, described for the report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcload.h"

/* Text status lines ("STORED", "END", "VALUE k f n") are short; a line
 * longer than this without its CRLF is not one. */
#define TEXT_LINE_EXTRA 64

#define BIN_HEADER 24
#define BIN_REQUEST 0x80
#define BIN_RESPONSE 0x81
#define BIN_OP_GET 0x00
#define BIN_OP_SET 0x01
#define BIN_SET_EXTRAS 8                /* flags, expiry */
#define BIN_GET_EXTRAS 4                /* flags */
#define BIN_STATUS_OK 0x0000
#define BIN_STATUS_NOT_FOUND 0x0001
/* A miss carries a message ("Not found"); nothing legitimate is longer. */
#define BIN_MESSAGE_MAX 256

size_t proto_max_request(const struct options *opt)
{
	/* "set " KEY " 4294967295 0 4294967295\r\n" VALUE "\r\n", or the
	 * binary header, extras, key and value. */
	return opt->key_size + opt->value_size + 64;
}

size_t proto_max_reply(const struct options *opt)
{
	/* "VALUE " KEY " 4294967295 4294967295\r\n" VALUE "\r\nEND\r\n" */
	return opt->key_size + opt->value_size + BIN_MESSAGE_MAX + 64;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static size_t text_encode(const struct workload *w, const struct request *r,
                          char *out)
{
	unsigned ks = w->opt->key_size, vs = w->opt->value_size;
	size_t n;

	memcpy(out, r->op == OP_GET ? "get " : "set ", 4);
	key_format(w, r->key, out + 4);
	n = 4 + ks;
	if (r->op == OP_GET) {
		memcpy(out + n, "\r\n", 2);
		return n + 2;
	}
	n += (size_t)sprintf(out + n, " %u 0 %u\r\n", flags_of(r->key), vs);
	memcpy(out + n, value_of(w, r->key), vs);
	memcpy(out + n + vs, "\r\n", 2);
	return n + vs + 2;
}

static size_t binary_encode(const struct workload *w, const struct request *r,
                            char *out)
{
	unsigned char *h = (unsigned char *)out;
	unsigned ks = w->opt->key_size, vs = w->opt->value_size;
	unsigned extras = r->op == OP_SET ? BIN_SET_EXTRAS : 0;
	uint32_t body = ks + extras + (r->op == OP_SET ? vs : 0);

	memset(h, 0, BIN_HEADER);
	h[0] = BIN_REQUEST;
	h[1] = r->op == OP_SET ? BIN_OP_SET : BIN_OP_GET;
	put16(h + 2, ks);
	h[4] = (unsigned char)extras;
	put32(h + 8, body);
	put32(h + 12, r->opaque);
	if (r->op == OP_SET) {
		put32(h + BIN_HEADER, flags_of(r->key));
		put32(h + BIN_HEADER + 4, 0);     /* never expires */
	}
	key_format(w, r->key, out + BIN_HEADER + extras);
	if (r->op == OP_SET)
		memcpy(out + BIN_HEADER + extras + ks, value_of(w, r->key), vs);
	return BIN_HEADER + body;
}

size_t proto_encode(const struct workload *w, const struct request *r,
                    char *out)
{
	return w->opt->proto == PROTO_TEXT ? text_encode(w, r, out)
	                                   : binary_encode(w, r, out);
}

/* Quote up to 40 bytes of BUF for an error message, unprintables as '.'. */
static const char *quote(const char *buf, size_t len, char *out)
{
	size_t n = len < 40 ? len : 40;

	for (size_t i = 0; i < n; i++)
		out[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '.';
	out[n] = '\0';
	return out;
}

#define FAIL(...) (snprintf(err, err_size, __VA_ARGS__), -1L)

/* The value bytes of a get of R: its length, its flags and its bytes. */
static long check_value(const struct workload *w, const struct request *r,
                        uint32_t flags, const char *data, uint64_t bytes,
                        char *err, size_t err_size)
{
	if (bytes != w->opt->value_size)
		return FAIL("get of key %llu: a value of %llu bytes, want %u",
		            (unsigned long long)r->key,
		            (unsigned long long)bytes, w->opt->value_size);
	if (flags != flags_of(r->key))
		return FAIL("get of key %llu: flags %u, want %u",
		            (unsigned long long)r->key, flags, flags_of(r->key));
	if (memcmp(data, value_of(w, r->key), bytes) != 0)
		return FAIL("get of key %llu: the value differs from the one set",
		            (unsigned long long)r->key);
	return 0;
}

/* "VALUE <key> <flags> <bytes>" (LINE, LINE_LEN bytes, no CRLF): the
 * flags and length, once the key is the one asked for. */
static long text_value_line(const struct workload *w, const struct request *r,
                            const char *line, size_t line_len,
                            uint32_t *flags, uint64_t *bytes,
                            char *err, size_t err_size)
{
	unsigned ks = w->opt->key_size;
	char key[256], text[64], shown[48], *end;
	unsigned long long f, n;

	key_format(w, r->key, key);
	if (line_len < 6 + ks + 4 || memcmp(line + 6, key, ks) != 0 ||
	    line[6 + ks] != ' ')
		return FAIL("get of key %llu: answered \"%s\"",
		            (unsigned long long)r->key,
		            quote(line, line_len, shown));
	memcpy(text, line + 7 + ks, line_len - 7 - ks);
	text[line_len - 7 - ks] = '\0';
	f = strtoull(text, &end, 10);
	if (*end != ' ' || f > UINT32_MAX)
		return FAIL("get of key %llu: bad flags in \"%s\"",
		            (unsigned long long)r->key,
		            quote(line, line_len, shown));
	n = strtoull(end + 1, &end, 10);
	if (*end != '\0')
		return FAIL("get of key %llu: bad length in \"%s\"",
		            (unsigned long long)r->key,
		            quote(line, line_len, shown));
	*flags = (uint32_t)f;
	*bytes = n;
	return 0;
}

static long text_check(const struct workload *w, const struct request *r,
                       const char *buf, size_t len, bool *hit,
                       char *err, size_t err_size)
{
	size_t line_max = w->opt->key_size + TEXT_LINE_EXTRA;
	const char *crlf = memmem(buf, len < line_max ? len : line_max, "\r\n", 2);
	char text[48];
	uint32_t flags;
	uint64_t bytes;

	if (crlf == NULL)
		return len < line_max ? 0
		       : FAIL("no line end in %zu bytes: \"%s\"", len,
		              quote(buf, len, text));
	size_t line_len = (size_t)(crlf - buf);

	if (r->op == OP_SET) {
		if (line_len == 6 && memcmp(buf, "STORED", 6) == 0)
			return 8;
		return FAIL("set of key %llu: answered \"%s\"",
		            (unsigned long long)r->key, quote(buf, line_len, text));
	}
	if (line_len == 3 && memcmp(buf, "END", 3) == 0) {
		*hit = false;
		return 5;
	}
	if (line_len < 6 || memcmp(buf, "VALUE ", 6) != 0)
		return FAIL("get of key %llu: answered \"%s\"",
		            (unsigned long long)r->key, quote(buf, line_len, text));
	if (text_value_line(w, r, buf, line_len, &flags, &bytes, err,
	                    err_size) < 0)
		return -1;
	/* A wrong length fails before its bytes are waited for. */
	if (bytes != w->opt->value_size)
		return check_value(w, r, flags, buf, bytes, err, err_size);
	/* The line, the value and its CRLF, then "END\r\n". */
	size_t total = line_len + 2 + bytes + 2 + 5;

	if (len < total)
		return 0;
	if (check_value(w, r, flags, buf + line_len + 2, bytes, err,
	                err_size) < 0)
		return -1;
	if (memcmp(buf + line_len + 2 + bytes, "\r\nEND\r\n", 7) != 0)
		return FAIL("get of key %llu: no \"END\" after the value",
		            (unsigned long long)r->key);
	*hit = true;
	return (long)total;
}

static long binary_check(const struct workload *w, const struct request *r,
                         const char *buf, size_t len, bool *hit,
                         char *err, size_t err_size)
{
	const unsigned char *h = (const unsigned char *)buf;
	unsigned opcode = r->op == OP_SET ? BIN_OP_SET : BIN_OP_GET;
	const char *what = r->op == OP_SET ? "set" : "get";
	unsigned long long key = (unsigned long long)r->key;

	if (len < BIN_HEADER)
		return 0;
	if (h[0] != BIN_RESPONSE || h[1] != opcode)
		return FAIL("%s of key %llu: magic 0x%02x opcode 0x%02x, want "
		            "0x%02x 0x%02x", what, key, h[0], h[1],
		            BIN_RESPONSE, opcode);
	if (get32(h + 12) != r->opaque)
		return FAIL("%s of key %llu: opaque %u, want %u", what, key,
		            get32(h + 12), r->opaque);
	uint32_t body = get32(h + 8);
	unsigned key_len = get16(h + 2), extras = h[4], status = get16(h + 6);

	if (body > w->opt->value_size + BIN_GET_EXTRAS + BIN_MESSAGE_MAX ||
	    key_len + extras > body)
		return FAIL("%s of key %llu: body of %u bytes (key %u, extras %u)",
		            what, key, body, key_len, extras);
	if (len < BIN_HEADER + body)
		return 0;
	if (r->op == OP_GET && status == BIN_STATUS_NOT_FOUND) {
		*hit = false;
		return BIN_HEADER + body;
	}
	if (status != BIN_STATUS_OK)
		return FAIL("%s of key %llu: status 0x%04x", what, key, status);
	if (r->op == OP_SET)
		return BIN_HEADER + body;
	if (extras != BIN_GET_EXTRAS || key_len != 0)
		return FAIL("get of key %llu: extras %u, key %u bytes, want 4, 0",
		            key, extras, key_len);
	if (check_value(w, r, get32(h + BIN_HEADER), buf + BIN_HEADER + extras,
	                body - extras, err, err_size) < 0)
		return -1;
	*hit = true;
	return BIN_HEADER + body;
}

long proto_check(const struct workload *w, const struct request *r,
                 const char *buf, size_t len, bool *hit,
                 char *err, size_t err_size)
{
	return w->opt->proto == PROTO_TEXT
	       ? text_check(w, r, buf, len, hit, err, err_size)
	       : binary_check(w, r, buf, len, hit, err, err_size);
}
