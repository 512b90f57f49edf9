/*
 * cachectl_items.c - one key at a time (get, set, del, incr, decr, touch)
 * and the listing of keys.
 *
 * Keys are binary.  On the command line a key is taken byte for byte, or,
 * with --escaped, in the form keys prints it ("\xNN" is the byte NN), so
 * that any key keys shows can be pasted back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachectl.h"

/* A value can change size between the length probe and the copy; a few
 * retries cover any honest writer, and the cap keeps a pathological one
 * from holding us forever. */
#define GET_ATTEMPTS 8

/* A key or prefix from the command line: TEXT itself, or its unescaped
 * copy (OWNED, to be freed). */
struct bytes {
	const char *ptr;
	size_t len;
	char *owned;
};

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Undo escape_bytes(): "\xNN" is the byte NN; any other backslash is an
 * error.  OUT has strlen(TEXT) bytes.  Returns the length, or -1 with
 * *BAD_AT the offending position. */
static long unescape(const char *text, char *out, size_t *bad_at)
{
	size_t o = 0;

	for (size_t i = 0; text[i] != '\0'; i++) {
		int hi, lo;

		if (text[i] != '\\') {
			out[o++] = text[i];
			continue;
		}
		if (text[i + 1] != 'x' || (hi = hex_digit(text[i + 2])) < 0 ||
		    (lo = hex_digit(text[i + 3])) < 0) {
			*bad_at = i;
			return -1;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 3;
	}
	return (long)o;
}

/* TEXT, the command line's WHAT, as bytes: unescaped with --escaped. */
static int bytes_argument(const struct args *a, const char *text,
                          const char *what, struct bytes *out)
{
	size_t bad_at = 0;
	long len;

	out->ptr = text;
	out->len = strlen(text);
	out->owned = NULL;
	if (!option_given(a, "escaped"))
		return STATUS_OK;
	if ((out->owned = malloc(out->len + 1)) == NULL)
		return fail_msg(a, "no memory for the %s", what);
	if ((len = unescape(text, out->owned, &bad_at)) < 0) {
		free(out->owned);
		return usage_error(a->cmd, "bad escape in the %s at character "
		                   "%zu: with --escaped, a backslash starts "
		                   "\\xNN", what, bad_at + 1);
	}
	out->ptr = out->owned;
	out->len = (size_t)len;
	return STATUS_OK;
}

static int key_argument(const struct args *a, struct bytes *key)
{
	return bytes_argument(a, a->positional[1], "key", key);
}

/* Run BODY on KEY of the segment, attached.  The key is checked first: a
 * typo should not cost a process slot. */
static int with_key(const struct args *a,
                    int (*body)(const struct args *a, hc_cache *c,
                                const struct bytes *key))
{
	struct bytes key;
	hc_cache *c;
	int status = key_argument(a, &key);

	if (status != STATUS_OK)
		return status;
	if ((status = open_segment(a, &c)) == STATUS_OK)
		status = close_segment(a, c, body(a, c, &key));
	free(key.owned);
	return status;
}

/* ------------------------------------------------------------------ */
/* set                                                                 */

/* Read all of stdin, binary-safe, but no more than LIMIT bytes: a value
 * beyond the segment's limit is refused anyway, and must not first fill
 * our memory.  On success *BUF is malloc'd (or NULL when empty). */
static int read_stdin(size_t limit, char **buf, size_t *len)
{
	size_t cap = 0, used = 0;
	char *data = NULL;

	while (used < limit) {
		ssize_t n;

		if (used == cap) {
			size_t grown = cap == 0 ? 65536 : cap * 2;
			char *bigger;

			if (grown > limit)
				grown = limit;
			if ((bigger = realloc(data, grown)) == NULL)
				goto fail;
			data = bigger;
			cap = grown;
		}
		n = read(STDIN_FILENO, data + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*buf = data;
	*len = used;
	return 0;
fail:
	free(data);
	return -1;
}

struct set_request {
	const struct bytes *key;
	const char *value;
	size_t vlen;
	uint64_t ttl_ms;
	const struct option_given *tags; /* --tag, repeatable */
	uint32_t client_flags;           /* --flags */
	bool writeback;                  /* --writeback */
};

static int store(const struct args *a, hc_cache *c,
                 const struct set_request *r)
{
	int err;

	if (r->tags->count > 0 || r->client_flags != 0 || r->writeback) {
		hc_set_options opt;

		memset(&opt, 0, sizeof(opt));
		opt.ttl_ms = r->ttl_ms;
		opt.tags = r->tags->all;
		opt.ntags = (unsigned)r->tags->count;
		opt.client_flags = r->client_flags;
		opt.writeback = r->writeback;
		err = hc_set_ex(c, r->key->ptr, r->key->len, r->value, r->vlen,
		                &opt);
		return err != 0 ? fail_hc(a, err) : STATUS_OK;
	}
	err = hc_set(c, r->key->ptr, r->key->len, r->value, r->vlen, r->ttl_ms);
	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

/* set with VALUE "-": the value is stdin.  Reading stops one byte past the
 * segment's max_value, so that the library reports a value too large with
 * its own message. */
static int store_stdin(const struct args *a, hc_cache *c,
                       struct set_request *r)
{
	hc_info info;
	char *value;
	int err = hc_info_get(c, &info);
	int status;

	if (err != 0)
		return fail_hc(a, err);
	if (read_stdin((size_t)info.max_value + 1, &value, &r->vlen) != 0)
		return fail_msg(a, "reading stdin: %s", strerror(errno));
	r->value = value;
	status = store(a, c, r);
	free(value);
	return status;
}

int cmd_set(const struct args *a)
{
	const char *ttl = option_value(a, "ttl");
	const char *flags = option_value(a, "flags");
	struct set_request r = {NULL, a->positional[2], 0, 0,
	                        option_all(a, "tag"), 0,
	                        option_given(a, "writeback")};
	struct bytes key;
	uint64_t n;
	hc_cache *c;
	int status;

	if (ttl != NULL && !parse_ttl_ms(ttl, &r.ttl_ms))
		return bad_option_value(a->cmd, "ttl", ttl,
		                        "seconds such as 30 or 0.5");
	if (flags != NULL && (!parse_u64(flags, &n) || n > UINT32_MAX))
		return bad_option_value(a->cmd, "flags", flags,
		                        "a number from 0 to 4294967295");
	if (flags != NULL)
		r.client_flags = (uint32_t)n;
	if ((status = key_argument(a, &key)) != STATUS_OK)
		return status;
	r.key = &key;
	if ((status = open_segment(a, &c)) == STATUS_OK) {
		if (strcmp(r.value, "-") == 0) {
			status = store_stdin(a, c, &r);
		} else {
			r.vlen = strlen(r.value);
			status = store(a, c, &r);
		}
		status = close_segment(a, c, status);
	}
	free(key.owned);
	return status;
}

/* ------------------------------------------------------------------ */
/* get, del                                                            */

/* fetch_value() result besides 0 and the HC_E* codes. */
#define FETCH_NO_MEMORY 1

/* Copy KEY's value into a buffer sized by a length probe.  The value can
 * be replaced between two calls, so a too-small buffer is grown and the
 * copy retried, a bounded number of times.  On success *BUF is malloc'd
 * (NULL for an empty value). */
static int fetch_value(hc_cache *c, const struct bytes *key, char **buf,
                       size_t *len)
{
	size_t vlen = 0;
	char *data = NULL;
	int err = hc_get(c, key->ptr, key->len, NULL, 0, &vlen);

	for (int attempt = 0; err == HC_EBUFSIZE && attempt < GET_ATTEMPTS;
	     attempt++) {
		char *bigger = realloc(data, vlen > 0 ? vlen : 1);

		if (bigger == NULL) {
			err = FETCH_NO_MEMORY;
			break;
		}
		data = bigger;
		err = hc_get(c, key->ptr, key->len, data, vlen, &vlen);
	}
	if (err != 0) {
		free(data);
		return err;
	}
	*buf = data;
	*len = vlen;
	return 0;
}

static int print_value(const struct args *a, hc_cache *c,
                       const struct bytes *key)
{
	char *value = NULL;
	size_t len = 0;
	int err = fetch_value(c, key, &value, &len);
	int status = STATUS_OK;

	if (err == FETCH_NO_MEMORY)
		return fail_msg(a, "no memory for the value");
	if (err == HC_EBUFSIZE)
		return fail_msg(a, "the value kept changing size while being "
		                "read; try again");
	if (err != 0)
		return fail_hc(a, err);
	/* Byte-exact in a pipe; on a terminal a newline ends the value, so
	 * the prompt starts on a line of its own (as redis-cli does). */
	if (write_all(STDOUT_FILENO, value, len) != 0 ||
	    (isatty(STDOUT_FILENO) && write_all(STDOUT_FILENO, "\n", 1) != 0))
		status = fail_msg(a, "writing stdout: %s", strerror(errno));
	free(value);
	return status;
}

int cmd_get(const struct args *a)
{
	return with_key(a, print_value);
}

static int delete_key(const struct args *a, hc_cache *c,
                      const struct bytes *key)
{
	int err = hc_delete(c, key->ptr, key->len);

	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

int cmd_del(const struct args *a)
{
	return with_key(a, delete_key);
}

/* ------------------------------------------------------------------ */
/* incr, decr, touch                                                   */

static int add_delta(const struct args *a, hc_cache *c,
                     const struct bytes *key)
{
	const char *text = a->positional_count > 2 ? a->positional[2] : "1";
	bool up = strcmp(a->cmd->name, "incr") == 0;
	uint64_t delta = 1, result;
	int err;

	parse_u64(text, &delta); /* checked by cmd_incr */
	err = up ? hc_incr(c, key->ptr, key->len, delta, &result)
	         : hc_decr(c, key->ptr, key->len, delta, &result);
	if (err != 0)
		return fail_hc(a, err);
	printf("%" PRIu64 "\n", result);
	return STATUS_OK;
}

int cmd_incr(const struct args *a)
{
	uint64_t delta;
	char quoted[QUOTED_CAP];

	/* Checked before attaching, as a usage error. */
	if (a->positional_count > 2 && !parse_u64(a->positional[2], &delta))
		return usage_error(a->cmd, "bad DELTA %s: want a number from 0 "
		                   "to 18446744073709551615",
		                   quote(a->positional[2], quoted));
	return with_key(a, add_delta);
}

int cmd_decr(const struct args *a)
{
	return cmd_incr(a);
}

static int touch_key(const struct args *a, hc_cache *c,
                     const struct bytes *key)
{
	uint64_t ttl_ms = 0;
	int err;

	parse_ttl_ms(a->positional[2], &ttl_ms); /* checked by cmd_touch */
	err = hc_touch(c, key->ptr, key->len, ttl_ms);
	return err != 0 ? fail_hc(a, err) : STATUS_OK;
}

int cmd_touch(const struct args *a)
{
	uint64_t ttl_ms;
	char quoted[QUOTED_CAP];

	if (!parse_ttl_ms(a->positional[2], &ttl_ms))
		return usage_error(a->cmd, "bad SECONDS %s: want seconds such "
		                   "as 30 or 0.5, or 0 for no expiry",
		                   quote(a->positional[2], quoted));
	return with_key(a, touch_key);
}

/* ------------------------------------------------------------------ */
/* keys                                                                */

struct listed_key {
	char *key;          /* malloc'd copy */
	uint32_t klen, vlen;
	uint64_t ttl_ms;
	unsigned flags, ntags;
	uint32_t tags[4];
	uint32_t client_flags;
};

struct listing {
	struct listed_key *keys;
	size_t count, cap;
	uint64_t limit;     /* 0: none */
	bool by_tag;        /* only items with the tag hash TAG */
	uint32_t tag;
	bool out_of_memory;
};

static bool has_tag(const hc_item_view *v, uint32_t tag)
{
	for (unsigned i = 0; i < v->ntags && i < 4; i++)
		if (v->tags[i] == tag)
			return true;
	return false;
}

static int collect_key(void *arg, const hc_item_view *v)
{
	struct listing *l = arg;
	struct listed_key *k;

	if (l->by_tag && !has_tag(v, l->tag))
		return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap == 0 ? 256 : l->cap * 2;
		struct listed_key *bigger = realloc(l->keys, cap * sizeof(*bigger));

		if (bigger == NULL) {
			l->out_of_memory = true;
			return 1;
		}
		l->keys = bigger;
		l->cap = cap;
	}
	k = &l->keys[l->count];
	if ((k->key = malloc(v->klen > 0 ? v->klen : 1)) == NULL) {
		l->out_of_memory = true;
		return 1;
	}
	memcpy(k->key, v->key, v->klen);
	k->klen = v->klen;
	k->vlen = v->vlen;
	k->ttl_ms = v->ttl_ms;
	k->flags = v->flags;
	k->client_flags = v->client_flags;
	k->ntags = v->ntags < 4 ? v->ntags : 4;
	memcpy(k->tags, v->tags, sizeof(k->tags));
	l->count++;
	return l->limit != 0 && l->count >= l->limit;
}

static int compare_keys(const void *pa, const void *pb)
{
	const struct listed_key *ka = pa, *kb = pb;
	uint32_t n = ka->klen < kb->klen ? ka->klen : kb->klen;
	int c = memcmp(ka->key, kb->key, n);

	if (c != 0)
		return c;
	return ka->klen < kb->klen ? -1 : ka->klen > kb->klen;
}

static void format_tags(const struct listed_key *k, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < k->ntags && used + 10 < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%08" PRIx32,
		                         i > 0 ? "," : "", k->tags[i]);
	if (k->ntags == 0)
		snprintf(buf, cap, "-");
}

static const char *flags_name(unsigned flags)
{
	return flags & HC_ITEM_NEGATIVE ? "negative" : "-";
}

static void print_keys_json(const struct listing *l)
{
	fputs("{\"keys\":[", stdout);
	for (size_t i = 0; i < l->count; i++) {
		const struct listed_key *k = &l->keys[i];

		fputs(i > 0 ? ",{\"key\":" : "{\"key\":", stdout);
		json_bytes(stdout, k->key, k->klen);
		printf(",\"size\":%" PRIu32 ",\"ttl_ms\":", k->vlen);
		if (k->ttl_ms == 0)
			fputs("null", stdout);
		else
			printf("%" PRIu64, k->ttl_ms);
		printf(",\"flags\":%u,\"client_flags\":%" PRIu32 ",\"tags\":[",
		       k->flags, k->client_flags);
		for (unsigned t = 0; t < k->ntags; t++)
			printf("%s\"%08" PRIx32 "\"", t > 0 ? "," : "", k->tags[t]);
		fputs("]}", stdout);
	}
	printf("],\"count\":%zu}\n", l->count);
}

static int print_keys_table(const struct args *a, const struct listing *l)
{
	static const char *const headers[] = {"KEY", "SIZE", "TTL", "FLAGS",
	                                      "TAGS"};
	static const bool right[] = {false, true, true, false, false};
	struct table *t = table_new(5, headers, right);
	bool ok = t != NULL;

	for (size_t i = 0; ok && i < l->count; i++) {
		const struct listed_key *k = &l->keys[i];
		char size[24], ttl[32], tags[48];
		char *key = escape_alloc(k->key, k->klen);
		const char *cells[5] = {key, size, ttl, flags_name(k->flags),
		                        tags};

		snprintf(size, sizeof(size), "%" PRIu32, k->vlen);
		if (k->ttl_ms == 0)
			snprintf(ttl, sizeof(ttl), "-");
		else
			format_duration_ms(k->ttl_ms, ttl, sizeof(ttl));
		format_tags(k, tags, sizeof(tags));
		ok = key != NULL && table_add(t, cells);
		free(key);
	}
	if (ok)
		table_print(t, stdout);
	table_free(t);
	return ok ? STATUS_OK : fail_msg(a, "no memory for the listing");
}

/* --raw: each key's bytes and a newline, nothing else, for scripts. */
static void print_keys_raw(const struct listing *l)
{
	for (size_t i = 0; i < l->count; i++) {
		fwrite(l->keys[i].key, 1, l->keys[i].klen, stdout);
		putchar('\n');
	}
}

static int list_keys(const struct args *a, hc_cache *c,
                     const struct bytes *prefix, struct listing *filter)
{
	struct listing l = *filter;
	long visited = hc_walk(c, prefix->ptr, prefix->len, 0, collect_key, &l);
	int status;

	if (visited < 0)
		status = fail_hc(a, (int)visited);
	else if (l.out_of_memory)
		status = fail_msg(a, "no memory for the listing; use --prefix "
		                  "or --limit");
	else {
		if (l.count > 1) /* qsort() wants a pointer even for none */
			qsort(l.keys, l.count, sizeof(*l.keys), compare_keys);
		status = STATUS_OK;
		if (option_given(a, "json"))
			print_keys_json(&l);
		else if (option_given(a, "raw"))
			print_keys_raw(&l);
		else
			status = print_keys_table(a, &l);
	}
	for (size_t i = 0; i < l.count; i++)
		free(l.keys[i].key);
	free(l.keys);
	return status;
}

/* The hash the library gives tag TAG.  It hashes tag names but does not
 * export the hash, while hc_walk() reports items' tags only as hashes; so
 * ask it the one way the API allows: tag an item in a scratch segment of
 * our own (the smallest that works, unlinked at once, so nothing is left
 * behind) and read the hash back with hc_walk().  Hashes do not depend on
 * the segment: dumps carry them from one segment to another. */
static int learn_hash(void *arg, const hc_item_view *v)
{
	if (v->ntags > 0)
		*(uint32_t *)arg = v->tags[0];
	return 1;
}

static int tag_hash_of(const struct args *a, const char *tag, uint32_t *hash)
{
	const char *tags[1] = {tag};
	char name[64];
	hc_set_options opt;
	hc_config cfg;
	hc_cache *scratch;
	int err;

	snprintf(name, sizeof(name), "/cachectl-tag-%ld-%llx", (long)getpid(),
	         (unsigned long long)monotonic_ns());
	hc_config_init(&cfg);
	cfg.size = 256 << 10;
	cfg.max_procs = 1;
	if ((err = hc_create(name, &cfg, &scratch)) != 0)
		return fail_msg(a, "hashing the tag in a scratch segment: %s",
		                hc_last_error());
	hc_unlink(name);
	memset(&opt, 0, sizeof(opt));
	opt.tags = tags;
	opt.ntags = 1;
	*hash = 0;
	if ((err = hc_set_ex(scratch, "t", 1, "", 0, &opt)) == 0 &&
	    hc_walk(scratch, NULL, 0, 0, learn_hash, hash) < 0)
		err = HC_ESYS;
	if (err != 0) {
		int status = fail_hc(a, err);

		hc_close(scratch);
		return status;
	}
	hc_close(scratch);
	return STATUS_OK;
}

int cmd_keys(const struct args *a)
{
	const char *limit_text = option_value(a, "limit");
	const char *prefix_text = option_value(a, "prefix");
	const char *tag = option_value(a, "tag");
	struct listing filter = {NULL, 0, 0, 0, false, 0, false};
	struct bytes prefix = {"", 0, NULL};
	hc_cache *c;
	int status;

	if (limit_text != NULL &&
	    (!parse_u64(limit_text, &filter.limit) || filter.limit == 0))
		return bad_option_value(a->cmd, "limit", limit_text,
		                        "a positive number");
	if (option_given(a, "json") && option_given(a, "raw"))
		return usage_error(a->cmd, "choose one of --json and --raw "
		                   "(JSON keys are always escaped)");
	if (tag != NULL &&
	    (status = tag_hash_of(a, tag, &filter.tag)) != STATUS_OK)
		return status;
	filter.by_tag = tag != NULL;
	if (prefix_text != NULL &&
	    (status = bytes_argument(a, prefix_text, "prefix", &prefix)) !=
	            STATUS_OK)
		return status;
	if ((status = open_segment(a, &c)) == STATUS_OK)
		status = close_segment(a, c, list_keys(a, c, &prefix, &filter));
	free(prefix.owned);
	return status;
}

/* For dump: the --prefix option as bytes. */
int prefix_option(const struct args *a, const char **ptr, size_t *len,
                  char **owned)
{
	const char *text = option_value(a, "prefix");
	struct bytes prefix = {"", 0, NULL};
	int status = STATUS_OK;

	if (text != NULL)
		status = bytes_argument(a, text, "prefix", &prefix);
	*ptr = prefix.ptr;
	*len = prefix.len;
	*owned = prefix.owned;
	return status;
}

/* ------------------------------------------------------------------ */
/* invalidate, flush                                                   */


static int invalidate_prefix(const struct args *a, hc_cache *c,
                             const struct bytes *prefix)
{
	char quoted[QUOTED_CAP];
	uint64_t count = 0;
	hc_info info;
	int err;

	if ((err = hc_info_get(c, &info)) != 0 ||
	    (err = hc_invalidate_prefix(c, prefix->ptr, prefix->len, &count)) != 0)
		return fail_hc(a, err);
	quote_bytes(prefix->ptr, prefix->len, quoted);
	/* A prefix ending with the delimiter is invalidated in O(1), as a
	 * whole; any other is a scan, which counts what it dropped. */
	if (prefix->len > 0 && prefix->ptr[prefix->len - 1] == info.delimiter)
		printf("invalidated every key starting with %s\n", quoted);
	else
		printf("invalidated %" PRIu64 " items starting with %s\n", count,
		       quoted);
	return STATUS_OK;
}

static int invalidate_tag(const struct args *a, hc_cache *c, const char *tag)
{
	char quoted[QUOTED_CAP];
	int err = hc_invalidate_tag(c, tag);

	if (err != 0)
		return fail_hc(a, err);
	printf("invalidated every item tagged %s\n", quote(tag, quoted));
	return STATUS_OK;
}

int cmd_invalidate(const struct args *a)
{
	const char *prefix_text = option_value(a, "prefix");
	const char *tag = option_value(a, "tag");
	struct bytes prefix = {"", 0, NULL};
	hc_cache *c;
	int status;

	if ((prefix_text == NULL) == (tag == NULL))
		return usage_error(a->cmd, "give one of --prefix and --tag");
	if (prefix_text != NULL &&
	    (status = bytes_argument(a, prefix_text, "prefix", &prefix)) !=
	            STATUS_OK)
		return status;
	if ((status = open_segment(a, &c)) == STATUS_OK)
		status = close_segment(a, c, tag != NULL ?
		                       invalidate_tag(a, c, tag) :
		                       invalidate_prefix(a, c, &prefix));
	free(prefix.owned);
	return status;
}

static int flush_all(const struct args *a, hc_cache *c)
{
	char quoted[QUOTED_CAP];
	int err = hc_flush(c);

	if (err != 0)
		return fail_hc(a, err);
	printf("flushed %s: every item written before now is a miss\n",
	       quote(a->positional[0], quoted));
	return STATUS_OK;
}

int cmd_flush(const struct args *a)
{
	return with_segment(a, flush_all);
}

