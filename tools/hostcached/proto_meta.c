/*
 * proto_meta.c - memcached's meta commands: mg, ms, md, ma, mn, me.
 *
 * A meta command is a two-letter code, a key, then flags: single letters,
 * some followed by a token (T30, F5, Oopaque).  Replies are a two-letter
 * code (VA, HD, EN, NS, EX, NF, MN, ME) followed by the flags that asked
 * for something back, in the order the request gave them.  The item
 * semantics are store.c's, as for the classic commands, so an item set by
 * ms reads back through get and the other way round.
 *
 * Served flags:
 *   mg  b c f G k N O q R s t u v T  ms  b c C F G k O q T M(E A P R S)
 *   md  b G I k O q T                ma  b c k O q t v D J N T M(I + D -)
 * Others (E of mg, I of ms, C of md and ma, h, l, x) get
 * "CLIENT_ERROR invalid flag": they need state the segment does not keep
 * (last access, a stale mark on a live item) or a compare-and-delete the
 * library does not offer, and a flag silently ignored would promise what
 * is not done.
 *
 * Stampede protection (N, R; W, X, Z in replies) maps onto the library's
 * leases: mg with N<ttl> calls hc_get_or_lease without waiting; the one
 * client granted the lease gets W, the others Z, and the lease lasts ttl.
 * The connection remembers its leases: its ms of the key fills the lease
 * (hc_lease_fill), its md or closing abandons it.  An item expired within
 * the segment's stale grace period (--stale-grace) is served with X, and
 * W or Z, to mg with N or R.  What differs from memcached: no item is
 * made on a miss (plain get and mg without N miss while the lease is out);
 * R wins only once the item has expired into the grace period, since the
 * library leases missing or expired keys only; md I deletes (see there).
 *
 * G (ours, with --redis): through Redis.  On mg a miss is read from
 * Redis (GET and PTTL) under the lease, stored with Redis's TTL and
 * served (readthrough.c); on ms (a plain set) the value is SET in Redis
 * with the item's TTL first and stored here once Redis said OK, on md
 * the key is DELeted in Redis first, then here (writethrough.c).  No
 * standard meta flag is G (memcached 1.6: none of mg, ms, md, ma).
 *
 * Quiet mode (q) drops the replies that say "as expected": EN of mg, HD
 * of ms, md and ma, and NF of md.  Errors are always sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "proto.h"
#include "../cachectl_parse.h"

#define OPAQUE_MAX 32          /* memcached's bound on an O token */
#define META_SET_FLAGS "bcCFGkOqTM"
#define META_DELETE_FLAGS "bGIkOqT"
#define META_GET_FLAGS "bcfGkNOqRstuvT"

struct meta_flags {
	bool base64, quiet, ret_value;
	const char *opaque;
	size_t opaque_len;
	bool has_ttl;              /* T */
	int64_t ttl;
	bool has_cas;              /* C */
	uint64_t cas;
	uint32_t client_flags;     /* F */
	char mode;                 /* M; 0 = the command's default */
	bool has_vivify;           /* N */
	int64_t vivify_ttl;
	bool has_recache;          /* R */
	int64_t recache_ttl;
	bool invalidate;           /* I */
	bool through_redis;        /* G */
	uint64_t initial;          /* J */
	uint64_t delta;            /* D */
	/* The flags that ask for something back, in request order. */
	char ret[MAX_TOKENS];
	int nret;
};

/* A key as the command gave it, and as the segment knows it. */
struct meta_key {
	const char *text;          /* as sent (base64 when b) */
	size_t text_len;
	char bytes[256];
	size_t len;
};

/* ------------------------------------------------------------------ */
/* Base64 keys (flag b)                                                */

static int base64_value(char ch)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch != '\0' ? strchr(alphabet, ch) : NULL;

	return p != NULL ? (int)(p - alphabet) : -1;
}

/* Decode LEN characters of S (padded, standard alphabet) into OUT (CAP
 * bytes).  Returns the decoded length, or -1. */
static long base64_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		size_t pad = 0;

		for (size_t j = 0; j < 4; j++) {
			bool last_group = i + 4 == len;

			if (s[i + j] == '=' && last_group && j >= 2) {
				v[j] = 0;
				pad++;
			} else if (pad > 0 || (v[j] = base64_value(s[i + j])) < 0) {
				return -1;
			}
		}
		if (n + 3 - pad > cap)
			return -1;
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)n;
}

/* Decode (or copy) the key token into K.  False when it cannot be a key. */
static bool meta_key_read(const struct cmd_ctx *c, const char *tok,
                          size_t len, bool base64, struct meta_key *k)
{
	long n;

	k->text = tok;
	k->text_len = len;
	if (!base64) {
		if (!key_ok(c, len))
			return false;
		memcpy(k->bytes, tok, len);
		k->len = len;
		return true;
	}
	n = base64_decode(tok, len, k->bytes, sizeof k->bytes);
	if (n < 0 || !key_ok(c, (size_t)n))
		return false;
	k->len = (size_t)n;
	return true;
}

/* ------------------------------------------------------------------ */
/* Flags                                                               */

static bool token_u64(const char *s, uint64_t *out)
{
	return parse_u64(s, out);
}

/* One flag token TOK into F; ALLOWED lists the letters this command
 * serves.  False for a flag it does not serve or a bad token. */
static bool meta_flag(const char *tok, size_t len, const char *allowed,
                      struct meta_flags *f)
{
	char letter = tok[0];
	const char *arg = tok + 1;

	if (strchr(allowed, letter) == NULL)
		return false;
	switch (letter) {
	case 'b': f->base64 = true; return len == 1;
	case 'q': f->quiet = true; return len == 1;
	case 'v': f->ret_value = true; return len == 1;
	case 'u': return len == 1;  /* CLOCK has no LRU position to spare */
	case 'c': case 'f': case 'k': case 's': case 't':
		if (len != 1 || f->nret == MAX_TOKENS)
			return false;
		f->ret[f->nret++] = letter;
		return true;
	case 'O':
		if (len - 1 > OPAQUE_MAX || f->nret == MAX_TOKENS)
			return false;
		f->opaque = arg;
		f->opaque_len = len - 1;
		f->ret[f->nret++] = 'O';
		return true;
	case 'T':
		f->has_ttl = true;
		return parse_exptime(arg, &f->ttl);
	case 'N':
		f->has_vivify = true;
		return parse_exptime(arg, &f->vivify_ttl);
	case 'R':
		f->has_recache = true;
		return parse_exptime(arg, &f->recache_ttl);
	case 'I':
		f->invalidate = true;
		return len == 1;
	case 'G':
		f->through_redis = true;
		return len == 1;
	case 'C':
		f->has_cas = true;
		return token_u64(arg, &f->cas);
	case 'F':
		return parse_u32(arg, &f->client_flags);
	case 'J':
		return token_u64(arg, &f->initial);
	case 'D':
		return token_u64(arg, &f->delta);
	case 'M':
		f->mode = arg[0];
		return len == 2;
	default:
		return false;
	}
}

/* The flags of L from token FIRST on. */
static bool meta_flags_read(const struct line *l, int first,
                            const char *allowed, struct meta_flags *f)
{
	memset(f, 0, sizeof *f);
	f->delta = 1;
	for (int i = first; i < l->n; i++)
		if (!meta_flag(l->tok[i], l->len[i], allowed, f))
			return false;
	return true;
}

/* The flags asked back: " c123 f5 kfoo Oxyz ...".  IT may be NULL when
 * there is no item (NF, NS). */
static void meta_ret_flags(struct evbuffer *out, const struct meta_flags *f,
                           const struct meta_key *k,
                           const struct store_item *it)
{
	for (int i = 0; i < f->nret; i++) {
		switch (f->ret[i]) {
		case 'O':
			evbuffer_add_printf(out, " O%.*s", (int)f->opaque_len,
			                    f->opaque);
			break;
		case 'k':
			evbuffer_add_printf(out, " k%.*s%s", (int)k->text_len,
			                    k->text, f->base64 ? " b" : "");
			break;
		case 'c':
			if (it != NULL)
				evbuffer_add_printf(out, " c%" PRIu64, it->cas);
			break;
		case 'f':
			if (it != NULL)
				evbuffer_add_printf(out, " f%" PRIu32, it->flags);
			break;
		case 's':
			if (it != NULL)
				evbuffer_add_printf(out, " s%" PRIu32, it->vlen);
			break;
		case 't':
			if (it != NULL && it->ttl_ms == 0)
				evbuffer_add(out, " t-1", 4);
			else if (it != NULL)
				evbuffer_add_printf(out, " t%" PRIu64,
				                    (it->ttl_ms + 999) / 1000);
			break;
		}
	}
}

/* CODE and the flags asked back, as one line; dropped when QUIET. */
static void meta_reply(struct cmd_ctx *c, const char *code, bool quiet,
                       const struct meta_flags *f, const struct meta_key *k,
                       const struct store_item *it)
{
	if (quiet)
		return;
	evbuffer_add(c->out, code, strlen(code));
	meta_ret_flags(c->out, f, k, it);
	evbuffer_add(c->out, "\r\n", 2);
}

/* Parse "CMD KEY FLAGS..." (FIRST_FLAG: index of the first flag token).
 * Replies with the error and returns false when it cannot be served. */
static bool meta_begin(struct cmd_ctx *c, int first_flag, const char *allowed,
                       struct meta_flags *f, struct meta_key *k)
{
	struct line *l = c->l;

	l->noreply = false;  /* "noreply" means nothing to a meta command */
	if (l->n < first_flag || l->n > MAX_TOKENS) {
		reply(c, "CLIENT_ERROR bad command line format");
		return false;
	}
	if (!meta_flags_read(l, first_flag, allowed, f)) {
		reply(c, "CLIENT_ERROR invalid flag");
		return false;
	}
	if (!meta_key_read(c, l->tok[1], l->len[1], f->base64, k)) {
		reply(c, f->base64 ? "CLIENT_ERROR error decoding key"
		                   : "CLIENT_ERROR bad command line format");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Win tokens: the leases a connection holds                           */

static struct meta_lease *meta_lease_find(struct text_state *st,
                                          const void *key, size_t klen)
{
	for (int i = 0; i < META_LEASES_MAX; i++) {
		struct meta_lease *ml = &st->leases[i];

		if (ml->lease.held && ml->klen == klen &&
		    memcmp(ml->key, key, klen) == 0)
			return ml;
	}
	return NULL;
}

/* Give ML's lease back: the next client to miss its key wins. */
static void meta_lease_abandon(struct store *s, struct meta_lease *ml)
{
	hc_lease_abandon(s->cache, &ml->lease);
	ml->lease.held = 0;
}

/* Remember LEASE, just granted for K, so that this connection's ms of K
 * fills it.  When every entry is in use the oldest is abandoned: it is
 * the likeliest to have overrun its lease time already. */
static void meta_lease_keep(struct cmd_ctx *c, const hc_lease *lease,
                            const struct meta_key *k, uint64_t cas)
{
	struct text_state *st = c->st;
	struct meta_lease *ml = meta_lease_find(st, k->bytes, k->len);

	/* One for the key already: a lease that ran out and was granted to
	 * this worker again.  Replaced, not abandoned, as the two may name
	 * the same entry and owner. */
	if (ml != NULL)
		ml->lease.held = 0;
	else
		ml = &st->leases[0];
	for (int i = 0; i < META_LEASES_MAX && ml->lease.held; i++)
		if (!st->leases[i].lease.held || st->leases[i].seq < ml->seq)
			ml = &st->leases[i];
	if (ml->lease.held)
		meta_lease_abandon(c->env->store, ml);
	ml->lease = *lease;
	ml->cas = cas;
	ml->seq = ++st->lease_seq;
	ml->klen = k->len;
	memcpy(ml->key, k->bytes, k->len);
}

void proto_text_closed(struct text_state *st, const struct proto_env *env)
{
	for (int i = 0; i < META_LEASES_MAX; i++)
		if (st->leases[i].lease.held)
			meta_lease_abandon(env->store, &st->leases[i]);
	read_through_closed(st);
	write_through_closed(st);
}

/* ------------------------------------------------------------------ */
/* mg                                                                  */

/* The reply to a found item IT (its value in the scratch buffer), or to a
 * win token's empty stand-in; WIN is what to add: " W", " X Z", ... */
static void meta_get_value(struct cmd_ctx *c, const struct meta_flags *f,
                           const struct meta_key *k,
                           const struct store_item *it, const char *win)
{
	if (f->ret_value)
		evbuffer_add_printf(c->out, "VA %" PRIu32, it->vlen);
	else
		evbuffer_add(c->out, "HD", 2);
	meta_ret_flags(c->out, f, k, it);
	evbuffer_add_printf(c->out, "%s\r\n", win);
	if (f->ret_value) {
		evbuffer_add(c->out, c->env->store->scratch, it->vlen);
		evbuffer_add(c->out, "\r\n", 2);
	}
}

/* A plain read: RC is store_get's, IT the item when it is 0. */
static void meta_get_found(struct cmd_ctx *c, const struct meta_flags *f,
                           const struct meta_key *k, int rc,
                           struct store_item *it)
{
	struct store *s = c->env->store;

	if (rc == 0 && f->has_ttl) {
		if (store_touch(s, k->bytes, k->len, f->ttl) != STORE_STORED)
			rc = HC_ENOTFOUND;
		else if (!exptime_to_ttl_ms(f->ttl, &it->ttl_ms))
			it->ttl_ms = 1; /* expired now: "t1", the value served once */
	}
	if (rc != 0) {
		if (rc != HC_ENOTFOUND)
			log_msg(LOG_DEBUG, "mg: %s", hc_strerror(rc));
		if (!f->quiet)
			evbuffer_add(c->out, "EN\r\n", 4);
		return;
	}
	meta_get_value(c, f, k, it, "");
}

/* The lease time of mg's N (or, without N, R) token, in ms.  False for a
 * TTL of 0 or one already past: a win token must run out. */
static bool meta_lease_ms(const struct meta_flags *f, uint64_t *ms)
{
	int64_t ttl = f->has_vivify ? f->vivify_ttl : f->recache_ttl;

	return exptime_to_ttl_ms(ttl, ms) && *ms != 0;
}

/* mg with N or R: stampede protection over hc_get_or_lease, which never
 * waits here (wait 0) so that the worker's other connections go on.  A
 * miss with N hands out the lease as W, or says Z while another client
 * holds it, with an empty value as memcached's vivified item; a value in
 * its stale grace period comes with X, and W or Z.  R alone adds no reply
 * to a miss. */
static void meta_get_leased(struct cmd_ctx *c, const struct meta_flags *f,
                            const struct meta_key *k, uint64_t lease_ms)
{
	struct store *s = c->env->store;
	hc_item_info info = { 0 };
	struct store_item it = { .ttl_ms = lease_ms };
	hc_lease lease;
	int rc = hc_get_or_lease(s->cache, k->bytes, k->len, s->scratch,
	                         s->value_cap, &info, lease_ms, 0, &lease);

	if (rc == 0 && !info.stale) {
		store_item_from(&it, &info);
		meta_get_found(c, f, k, 0, &it);
		return;
	}
	if (rc == 0) {
		store_item_from(&it, &info);
		it.ttl_ms = 1; /* expired: "t1", as for a value served once */
		if (lease.held)
			meta_lease_keep(c, &lease, k, info.cas);
		meta_get_value(c, f, k, &it, lease.held ? " W X" : " X Z");
		return;
	}
	if (f->has_vivify && (rc == HC_ENOTFOUND || rc == HC_ETIMEDOUT)) {
		/* HC_ENOTFOUND without the lease: the lease table is full,
		 * and the library's advice is to compute all the same. */
		if (lease.held)
			meta_lease_keep(c, &lease, k, 0);
		meta_get_value(c, f, k, &it, rc == HC_ENOTFOUND ? " W" : " Z");
		return;
	}
	if (lease.held)
		hc_lease_abandon(s->cache, &lease);
	meta_get_found(c, f, k, rc == HC_ETIMEDOUT || rc == HC_ENEGATIVE
	                        ? HC_ENOTFOUND : rc, &it);
}

/* mg G: a miss read from Redis first (readthrough.c).  False when the
 * command waits or was answered here. */
static bool meta_get_read_through(struct cmd_ctx *c,
                                  const struct meta_flags *f,
                                  const struct meta_key *k)
{
	if (!redis_enabled()) {
		reply(c, "CLIENT_ERROR G reads through from Redis: start "
		      "hostcached with --redis");
		return false;
	}
	if (f->has_vivify || f->has_recache) {
		reply(c, "CLIENT_ERROR invalid flag");  /* one lease, one use */
		return false;
	}
	switch (read_through(c, k->bytes, k->len)) {
	case RT_WAIT:
		return false;
	case RT_FAILED:
		reply_server_error(c, "reading through from Redis failed, see "
		                   "the server's log");
		return false;
	default:
		return true;
	}
}

void cmd_meta_get(struct cmd_ctx *c)
{
	struct store *s = c->env->store;
	struct meta_flags f;
	struct meta_key k;
	struct store_item it;
	uint64_t lease_ms;

	if (!meta_begin(c, 2, META_GET_FLAGS, &f, &k))
		return;
	if (f.through_redis && !meta_get_read_through(c, &f, &k))
		return;
	if (!f.has_vivify && !f.has_recache) {
		int rc = store_get(s, k.bytes, k.len, s->scratch, s->value_cap,
		                   &it);

		meta_get_found(c, &f, &k, rc, &it);
		return;
	}
	if (!meta_lease_ms(&f, &lease_ms)) {
		reply(c, "CLIENT_ERROR invalid flag");
		return;
	}
	meta_get_leased(c, &f, &k, lease_ms);
}

/* ------------------------------------------------------------------ */
/* ms                                                                  */

/* The mode letter of ms to a storage mode; false for one it lacks. */
static bool meta_set_mode(const struct meta_flags *f, enum store_mode *mode)
{
	switch (f->mode) {
	case 0: case 'S': case 's':
		*mode = f->has_cas ? MODE_CAS : MODE_SET;
		return true;
	case 'E': case 'e':
		*mode = MODE_ADD;
		break;
	case 'A': case 'a':
		*mode = MODE_APPEND;
		break;
	case 'P': case 'p':
		*mode = MODE_PREPEND;
		break;
	case 'R': case 'r':
		*mode = MODE_REPLACE;
		break;
	default:
		return false;
	}
	return !f->has_cas;  /* a compared CAS only with set */
}

/* Keep the key as sent and the flag tokens of an ms line, for when its
 * data has come: "KEY FLAG FLAG ...". */
static bool meta_keep_flags(struct text_state *st, const struct line *l)
{
	size_t at = 0;

	for (int i = 1; i < l->n; i++) {
		if (i == 2)
			continue;  /* the data length */
		if (at + l->len[i] + 1 >= sizeof st->meta_flags)
			return false;
		memcpy(st->meta_flags + at, l->tok[i], l->len[i]);
		at += l->len[i];
		st->meta_flags[at++] = ' ';
	}
	st->meta_flags[at] = '\0';
	return true;
}

/* ms G and md G need the link, and G on ms a plain set: an add, append
 * or compared CAS would have to be decided in Redis, which a SET does
 * not do.  Replies and returns false when not to be served. */
static bool meta_write_through_ok(struct cmd_ctx *c, enum store_mode mode)
{
	if (!redis_enabled()) {
		reply(c, "CLIENT_ERROR G writes through to Redis: start "
		      "hostcached with --redis");
		return false;
	}
	if (mode != MODE_SET) {
		reply(c, "CLIENT_ERROR G writes through with a plain set only "
		      "(no M mode, no C)");
		return false;
	}
	return true;
}

/* Redis first (writethrough.c).  True to go on with the local write;
 * false when the command waits or was answered here.  Either way, a
 * write through that failed drops the local copy: an unanswered SET or
 * DEL may have been done, and the old value here would then be older
 * than Redis's. */
static bool meta_write_through(struct cmd_ctx *c,
                               const struct write_through_req *w,
                               int *status)
{
	char why[200], text[280];

	switch (write_through(c, w, status, why, sizeof why)) {
	case WT_WAIT:
		return false;
	case WT_FAILED:
		store_delete(c->env->store, w->key, w->klen);
		snprintf(text, sizeof text, "writing through to Redis failed, "
		         "not stored here either: %s", why);
		reply_server_error(c, text);
		return false;
	default:
		return true;
	}
}

void cmd_meta_set(struct cmd_ctx *c)
{
	struct line *l = c->l;
	struct text_state *st = c->st;
	struct meta_flags f;
	struct meta_key k;
	enum store_mode mode;
	uint64_t vlen;

	l->noreply = false;
	if (l->n < 3 || !parse_u64(l->tok[2], &vlen) || vlen > VLEN_MAX) {
		reply(c, "CLIENT_ERROR bad data chunk");
		return;
	}
	/* From here the data block's length is known: a refused command
	 * drops its data rather than read it as commands. */
	if (!meta_begin(c, 3, META_SET_FLAGS, &f, &k)) {
		swallow(st, vlen + 2);
		return;
	}
	if (!meta_set_mode(&f, &mode) || !meta_keep_flags(st, l)) {
		reply(c, "CLIENT_ERROR invalid flag");
		swallow(st, vlen + 2);
		return;
	}
	if (f.through_redis && !meta_write_through_ok(c, mode)) {
		swallow(st, vlen + 2);
		return;
	}
	if (vlen > c->env->store->value_cap) {
		reply_server_error(c, "object too large for cache");
		if (mode == MODE_SET)
			store_delete(c->env->store, k.bytes, k.len);
		swallow(st, vlen + 2);
		return;
	}
	st->phase = TEXT_DATA;
	st->meta = true;
	st->mode = mode;
	memcpy(st->key, k.bytes, k.len);
	st->klen = k.len;
	st->vlen = (size_t)vlen;
	st->noreply = false;
}

/* Store the data of an ms.  The set of a key this connection holds the
 * win token of fills its lease (with C: only the CAS id sent with W); any
 * other write that stores gives the lease back. */
static enum store_result meta_set_store(struct cmd_ctx *c,
                                        struct store_req *req,
                                        const char *val)
{
	struct text_state *st = c->st;
	struct store *s = c->env->store;
	struct meta_lease *ml = meta_lease_find(st, st->key, st->klen);
	enum store_result r;

	if (ml != NULL && (req->mode == MODE_SET ||
	                   (req->mode == MODE_CAS && req->cas == ml->cas))) {
		r = store_fill(s, &ml->lease, req, st->key, st->klen, val,
		               st->vlen);
		ml->lease.held = 0;
		return r;
	}
	r = store_write(s, req, st->key, st->klen, val, st->vlen);
	if (ml != NULL && r == STORE_STORED)
		meta_lease_abandon(s, ml);
	return r;
}

void meta_set_complete(struct cmd_ctx *c, const char *val)
{
	struct text_state *st = c->st;
	char kept[META_FLAGS_MAX];
	struct line l = { .tok = { "ms" } };
	struct meta_flags f;
	struct meta_key k;
	struct store_item it = { 0 };
	struct store_req req = { .mode = st->mode, .cas_out = &it.cas };
	enum store_result r;

	/* Checked when the command line came. */
	memcpy(kept, st->meta_flags, sizeof kept);
	tokenize(kept, &l);
	meta_flags_read(&l, 2, META_SET_FLAGS, &f);
	meta_key_read(c, l.tok[1], l.len[1], f.base64, &k);
	req.flags = f.client_flags;
	req.exptime = f.has_ttl ? f.ttl : 0;
	req.cas = f.cas;
	if (f.through_redis) {
		/* The item's TTL as Redis's PX; a TTL already past is a
		 * DEL there (and the set here stores nothing). */
		struct write_through_req w = { .key = k.bytes, .klen = k.len,
		                               .val = val, .vlen = st->vlen };
		int status;

		w.del = !exptime_to_ttl_ms(req.exptime, &w.ttl_ms);
		if (!meta_write_through(c, &w, &status))
			return;
	}
	r = meta_set_store(c, &req, val);
	if (req.mode == MODE_CAS)
		count_cas(c->env->counters, r);
	switch (r) {
	case STORE_STORED:
		meta_reply(c, "HD", f.quiet, &f, &k, &it);
		break;
	case STORE_NOT_STORED:
		meta_reply(c, "NS", false, &f, &k, NULL);
		break;
	case STORE_EXISTS:
		meta_reply(c, "EX", false, &f, &k, NULL);
		break;
	case STORE_NOT_FOUND:
		meta_reply(c, "NF", false, &f, &k, NULL);
		break;
	default:
		reply_store_error(c, r);
	}
}

/* ------------------------------------------------------------------ */
/* md, ma, mn, me                                                      */

void cmd_meta_delete(struct cmd_ctx *c)
{
	struct meta_flags f;
	struct meta_key k;
	struct meta_lease *ml;
	enum store_result r;
	int in_redis = 0;

	if (!meta_begin(c, 2, META_DELETE_FLAGS, &f, &k))
		return;
	if (f.has_ttl && !f.invalidate) {
		reply(c, "CLIENT_ERROR invalid flag");  /* T goes with I */
		return;
	}
	if (f.through_redis) {
		struct write_through_req w = { .key = k.bytes, .klen = k.len,
		                               .del = true };

		if (!redis_enabled()) {
			reply(c, "CLIENT_ERROR G deletes through Redis: start "
			      "hostcached with --redis");
			return;
		}
		if (!meta_write_through(c, &w, &in_redis))
			return;
	}
	/* I asks to keep the item as stale; the library cannot mark a live
	 * item so, and a TTL cut short would leave it fresh for another
	 * millisecond.  So I deletes (and T, the stale item's TTL, has
	 * nothing to apply to): the next mg with N misses, and one client
	 * wins. */
	r = store_delete(c->env->store, k.bytes, k.len);
	ml = meta_lease_find(c->st, k.bytes, k.len);
	if (ml != NULL)
		meta_lease_abandon(c->env->store, ml);
	count_outcome(r, &c->env->counters->delete_hits,
	              &c->env->counters->delete_misses);
	/* With G: HD when Redis or this host had the key. */
	if (r == STORE_NOT_FOUND && in_redis == 1)
		r = STORE_STORED;
	if (r == STORE_STORED)
		meta_reply(c, "HD", f.quiet, &f, &k, NULL);
	else if (r == STORE_NOT_FOUND)
		meta_reply(c, "NF", f.quiet, &f, &k, NULL);
	else
		reply_store_error(c, r);
}

/* ma on a missing key with N: create it with J (default 0), which is
 * then the result; if another client created it meanwhile, count on
 * theirs. */
static enum store_result meta_vivify(struct store *s, bool incr,
                                     const struct meta_flags *f,
                                     const struct meta_key *k,
                                     uint64_t *result)
{
	struct store_req req = { .mode = MODE_ADD, .exptime = f->vivify_ttl };
	char number[24];
	int n = snprintf(number, sizeof number, "%" PRIu64, f->initial);
	enum store_result r;

	r = store_write(s, &req, k->bytes, k->len, number, (size_t)n);
	if (r == STORE_STORED) {
		*result = f->initial;
		return r;
	}
	if (r == STORE_NOT_STORED)
		return store_arith(s, incr, k->bytes, k->len, f->delta, result);
	return r;
}

/* After a successful ma: the item's CAS id and TTL, for c and t.  Read
 * after the change, so another write may come between: the flags then
 * describe that one. */
static void meta_arith_item(struct store *s, const struct meta_key *k,
                            size_t vlen, struct store_item *it)
{
	if (store_get(s, k->bytes, k->len, s->scratch, s->value_cap, it) != 0)
		memset(it, 0, sizeof *it);
	it->vlen = (uint32_t)vlen;
}

void cmd_meta_arith(struct cmd_ctx *c)
{
	struct store *s = c->env->store;
	struct meta_flags f;
	struct meta_key k;
	struct store_item it;
	enum store_result r;
	uint64_t result;
	char number[24];
	bool incr;
	int n;

	if (!meta_begin(c, 2, "bcDJkMNOqtTv", &f, &k))
		return;
	if (strchr("Ii+", f.mode) == NULL && strchr("Dd-", f.mode) == NULL) {
		reply(c, "CLIENT_ERROR invalid mode for ma M token");
		return;
	}
	incr = f.mode == 0 || strchr("Ii+", f.mode) != NULL;
	r = store_arith(s, incr, k.bytes, k.len, f.delta, &result);
	count_outcome(r, incr ? &c->env->counters->incr_hits
	                      : &c->env->counters->decr_hits,
	              incr ? &c->env->counters->incr_misses
	                   : &c->env->counters->decr_misses);
	if (r == STORE_NOT_FOUND && f.has_vivify)
		r = meta_vivify(s, incr, &f, &k, &result);
	if (r == STORE_STORED && f.has_ttl)
		store_touch(s, k.bytes, k.len, f.ttl);
	if (r != STORE_STORED) {
		if (r == STORE_NOT_FOUND)
			meta_reply(c, "NF", false, &f, &k, NULL);
		else if (r == STORE_NOT_STORED)
			meta_reply(c, "NS", false, &f, &k, NULL);
		else
			reply_store_error(c, r);
		return;
	}
	n = snprintf(number, sizeof number, "%" PRIu64, result);
	meta_arith_item(s, &k, (size_t)n, &it);
	if (!f.ret_value) {
		meta_reply(c, "HD", f.quiet, &f, &k, &it);
		return;
	}
	evbuffer_add_printf(c->out, "VA %d", n);
	meta_ret_flags(c->out, &f, &k, &it);
	evbuffer_add_printf(c->out, "\r\n%s\r\n", number);
}

void cmd_meta_noop(struct cmd_ctx *c)
{
	c->l->noreply = false;
	reply(c, "MN");
}

/* me: what the segment knows of an item, as key=value pairs. */
void cmd_meta_debug(struct cmd_ctx *c)
{
	struct store *s = c->env->store;
	struct meta_flags f;
	struct meta_key k;
	struct store_item it;

	if (!meta_begin(c, 2, "b", &f, &k))
		return;
	if (store_get(s, k.bytes, k.len, s->scratch, s->value_cap, &it) != 0) {
		reply(c, "EN");
		return;
	}
	evbuffer_add_printf(c->out, "ME %.*s exp=%" PRId64 " cas=%" PRIu64
	                    " size=%" PRIu32 " flags=%" PRIu32 "\r\n",
	                    (int)k.text_len, k.text,
	                    it.ttl_ms == 0 ? (int64_t)-1
	                                   : (int64_t)((it.ttl_ms + 999) / 1000),
	                    it.cas, it.vlen, it.flags);
}
