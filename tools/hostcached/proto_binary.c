/*
 * proto_binary.c - the memcached binary protocol.
 *
 * A connection whose first byte is 0x80 (a binary request's magic) speaks
 * this protocol for its whole life, as with memcached.  Every request is a
 * 24-byte header (magic, opcode, key length, extras length, data type,
 * vbucket, body length, opaque, CAS; big-endian) followed by a body of
 * extras, key and value.  Every reply echoes the opcode and the opaque.
 *
 * Framing errors cannot be resynchronised with, so they close the
 * connection: a magic other than 0x80, a key longer than 250 bytes, a key
 * and extras longer than the body, or a body beyond BODY_LIMIT.  A request
 * whose frame is sound but whose shape is wrong for its opcode (extras of
 * the wrong size, a key where none belongs) gets "invalid arguments" and
 * the next request is read as usual; an unknown opcode gets "unknown
 * command".  A storage request whose value is larger than the segment
 * takes gets "too large" and its body is dropped unread.
 *
 * Quiet opcodes follow the protocol's description: getq, getkq, gatq and
 * gatkq drop the replies of misses; setq, addq, replaceq, deleteq, incrq,
 * decrq, appendq, prependq, flushq and quitq drop the replies of
 * successes.  Errors are always sent.
 *
 * The item semantics are store.c's, as for the text protocol, and stats,
 * flush and verbosity are proto_text.c's: this file only parses the
 * frames and words the replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proto.h"

#define HEADER_BYTES 24
#define MAGIC_REQUEST 0x80
#define MAGIC_RESPONSE 0x81
#define KEY_LIMIT 250
#define EXTRAS_MAX 20            /* incr and decr's, the largest */
/* Bodies beyond this are not memcached requests (its largest item is
 * 1 GiB): the stream is garbage or hostile. */
#define BODY_LIMIT (1u << 30)

enum {
	OP_GET = 0x00, OP_SET = 0x01, OP_ADD = 0x02, OP_REPLACE = 0x03,
	OP_DELETE = 0x04, OP_INCREMENT = 0x05, OP_DECREMENT = 0x06,
	OP_QUIT = 0x07, OP_FLUSH = 0x08, OP_GETQ = 0x09, OP_NOOP = 0x0a,
	OP_VERSION = 0x0b, OP_GETK = 0x0c, OP_GETKQ = 0x0d, OP_APPEND = 0x0e,
	OP_PREPEND = 0x0f, OP_STAT = 0x10, OP_SETQ = 0x11, OP_ADDQ = 0x12,
	OP_REPLACEQ = 0x13, OP_DELETEQ = 0x14, OP_INCREMENTQ = 0x15,
	OP_DECREMENTQ = 0x16, OP_QUITQ = 0x17, OP_FLUSHQ = 0x18,
	OP_APPENDQ = 0x19, OP_PREPENDQ = 0x1a, OP_VERBOSITY = 0x1b,
	OP_TOUCH = 0x1c, OP_GAT = 0x1d, OP_GATQ = 0x1e, OP_GATK = 0x23,
	OP_GATKQ = 0x24,
};

enum {
	ST_OK = 0x00, ST_NOT_FOUND = 0x01, ST_EXISTS = 0x02,
	ST_TOO_LARGE = 0x03, ST_INVALID = 0x04, ST_NOT_STORED = 0x05,
	ST_NOT_NUMBER = 0x06, ST_UNKNOWN = 0x81, ST_NO_MEMORY = 0x82,
	ST_INTERNAL = 0x84, ST_TEMPORARY = 0x86,
};

struct header {
	uint8_t magic, opcode;
	uint16_t keylen;
	uint8_t extlen, datatype;
	uint16_t vbucket;
	uint32_t bodylen, opaque;
	uint64_t cas;
};

/* One request, whole. */
struct request {
	struct header h;
	uint8_t extras[EXTRAS_MAX];
	char key[KEY_LIMIT];
	const char *val;
	size_t vlen;
	bool quiet;
};

struct bin_ctx {
	const struct proto_env *env;
	struct evbuffer *out;
	const struct request *r;
};

/* ------------------------------------------------------------------ */
/* Frames                                                              */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static void header_parse(const uint8_t *b, struct header *h)
{
	h->magic = b[0];
	h->opcode = b[1];
	h->keylen = get16(b + 2);
	h->extlen = b[4];
	h->datatype = b[5];
	h->vbucket = get16(b + 6);
	h->bodylen = get32(b + 8);
	h->opaque = get32(b + 12);
	h->cas = get64(b + 16);
}

/* A reply to the request in C: its opcode and opaque, then the parts. */
static void respond(struct bin_ctx *c, uint16_t status, uint64_t cas,
                    const void *ext, uint8_t extlen, const void *key,
                    uint16_t klen, const void *val, size_t vlen)
{
	uint8_t h[HEADER_BYTES] = { MAGIC_RESPONSE, c->r->h.opcode };

	h[2] = (uint8_t)(klen >> 8);
	h[3] = (uint8_t)klen;
	h[4] = extlen;
	h[6] = (uint8_t)(status >> 8);
	h[7] = (uint8_t)status;
	put32(h + 8, (uint32_t)(extlen + klen + vlen));
	put32(h + 12, c->r->h.opaque);
	put64(h + 16, cas);
	evbuffer_add(c->out, h, sizeof h);
	if (extlen > 0)
		evbuffer_add(c->out, ext, extlen);
	if (klen > 0)
		evbuffer_add(c->out, key, klen);
	if (vlen > 0)
		evbuffer_add(c->out, val, vlen);
}

static void respond_ok(struct bin_ctx *c, uint64_t cas)
{
	if (!c->r->quiet)
		respond(c, ST_OK, cas, NULL, 0, NULL, 0, NULL, 0);
}

/* An error: its status and memcached's words for it; never quiet. */
static void respond_error(struct bin_ctx *c, uint16_t status)
{
	const char *text;

	switch (status) {
	case ST_NOT_FOUND: text = "Not found"; break;
	case ST_EXISTS: text = "Data exists for key."; break;
	case ST_TOO_LARGE: text = "Too large."; break;
	case ST_INVALID: text = "Invalid arguments"; break;
	case ST_NOT_STORED: text = "Not stored."; break;
	case ST_NOT_NUMBER:
		text = "Non-numeric server-side value for incr or decr";
		break;
	case ST_UNKNOWN: text = "Unknown command"; break;
	case ST_NO_MEMORY: text = "Out of memory"; break;
	case ST_TEMPORARY: text = "Temporary failure"; break;
	default: text = "Internal error, see the server's log";
	}
	respond(c, status, 0, NULL, 0, NULL, 0, text, strlen(text));
}

/* The status of an item-layer outcome; STORE_NOT_STORED is the caller's
 * (it depends on the command). */
static uint16_t status_of(enum store_result r)
{
	switch (r) {
	case STORE_STORED: return ST_OK;
	case STORE_NOT_STORED: return ST_NOT_STORED;
	case STORE_EXISTS: return ST_EXISTS;
	case STORE_NOT_FOUND: return ST_NOT_FOUND;
	case STORE_TOO_LARGE: return ST_TOO_LARGE;
	case STORE_NO_MEMORY: return ST_NO_MEMORY;
	case STORE_BAD_KEY: return ST_INVALID;
	case STORE_NOT_NUMBER: return ST_NOT_NUMBER;
	case STORE_BUSY: return ST_TEMPORARY;
	default: return ST_INTERNAL;
	}
}

/* memcached's binary exptime: an unsigned 32-bit one. */
static int64_t extras_exptime(const uint8_t *p)
{
	return (int64_t)get32(p);
}

/* ------------------------------------------------------------------ */
/* Retrieval: get, getq, getk, getkq, gat, gatq, gatk, gatkq, touch     */

static void get_item(struct bin_ctx *c, bool with_key, bool touch)
{
	const struct request *r = c->r;
	struct store *s = c->env->store;
	struct store_item it;
	uint8_t flags[4];
	int rc;

	if (r->h.keylen > s->key_max) {
		respond_error(c, ST_INVALID);
		return;
	}
	if (touch)
		counter_add(&c->env->counters->cmd_touch, 1);
	rc = store_get(s, r->key, r->h.keylen, s->scratch, s->value_cap, &it);
	if (rc == 0 && touch &&
	    store_touch(s, r->key, r->h.keylen,
	                extras_exptime(r->extras)) != STORE_STORED)
		rc = HC_ENOTFOUND;
	if (touch)
		counter_add(rc == 0 ? &c->env->counters->touch_hits
		                    : &c->env->counters->touch_misses, 1);
	if (rc != 0) {
		if (rc != HC_ENOTFOUND)
			log_msg(LOG_DEBUG, "get: %s", hc_strerror(rc));
		if (r->quiet)
			return;
		/* getk's miss names the key, as memcached's does. */
		respond(c, ST_NOT_FOUND, 0, NULL, 0, r->key,
		        with_key ? r->h.keylen : 0, "Not found", 9);
		return;
	}
	put32(flags, it.flags);
	respond(c, ST_OK, it.cas, flags, 4, r->key, with_key ? r->h.keylen : 0,
	        s->scratch, it.vlen);
}

static void op_get(struct bin_ctx *c) { get_item(c, false, false); }
static void op_getk(struct bin_ctx *c) { get_item(c, true, false); }
static void op_gat(struct bin_ctx *c) { get_item(c, false, true); }
static void op_gatk(struct bin_ctx *c) { get_item(c, true, true); }

static void op_touch(struct bin_ctx *c)
{
	const struct request *r = c->r;
	struct worker_counters *k = c->env->counters;
	enum store_result res;

	counter_add(&k->cmd_touch, 1);
	res = store_touch(c->env->store, r->key, r->h.keylen,
	                  extras_exptime(r->extras));
	count_outcome(res, &k->touch_hits, &k->touch_misses);
	if (res == STORE_STORED)
		respond_ok(c, 0);
	else
		respond_error(c, status_of(res));
}

/* ------------------------------------------------------------------ */
/* Storage: set, add, replace, append, prepend (and their quiet forms)  */

static void store_item(struct bin_ctx *c, enum store_mode mode)
{
	const struct request *r = c->r;
	uint64_t cas = 0;
	struct store_req req = { .mode = mode, .cas = r->h.cas, .cas_out = &cas };
	enum store_result res;

	if (mode == MODE_SET || mode == MODE_ADD || mode == MODE_REPLACE) {
		req.flags = get32(r->extras);
		req.exptime = extras_exptime(r->extras + 4);
	}
	/* A CAS id makes set and replace conditional; add ignores it. */
	if (r->h.cas != 0 && (mode == MODE_SET || mode == MODE_REPLACE))
		req.mode = MODE_CAS;
	res = store_write(c->env->store, &req, r->key, r->h.keylen, r->val,
	                  r->vlen);
	if (req.mode == MODE_CAS)
		count_cas(c->env->counters, res);
	if (res == STORE_STORED) {
		respond_ok(c, cas);
		return;
	}
	/* memcached's words: add finds the key there, replace finds none. */
	if (res == STORE_NOT_STORED && mode == MODE_ADD)
		respond_error(c, ST_EXISTS);
	else if (res == STORE_NOT_STORED && mode == MODE_REPLACE)
		respond_error(c, ST_NOT_FOUND);
	else
		respond_error(c, status_of(res));
}

static void op_set(struct bin_ctx *c) { store_item(c, MODE_SET); }
static void op_add(struct bin_ctx *c) { store_item(c, MODE_ADD); }
static void op_replace(struct bin_ctx *c) { store_item(c, MODE_REPLACE); }
static void op_append(struct bin_ctx *c) { store_item(c, MODE_APPEND); }
static void op_prepend(struct bin_ctx *c) { store_item(c, MODE_PREPEND); }

/* ------------------------------------------------------------------ */
/* delete, incr, decr                                                  */

static void op_delete(struct bin_ctx *c)
{
	const struct request *r = c->r;
	struct worker_counters *k = c->env->counters;
	enum store_result res;

	res = store_delete_if(c->env->store, r->key, r->h.keylen, r->h.cas);
	count_outcome(res, &k->delete_hits, &k->delete_misses);
	if (res == STORE_STORED)
		respond_ok(c, 0);
	else
		respond_error(c, status_of(res));
}

/* Extras: delta, initial value, exptime (0xffffffff: fail if absent). */
static void arith(struct bin_ctx *c, bool incr)
{
	const struct request *r = c->r;
	struct worker_counters *k = c->env->counters;
	uint32_t exptime = get32(r->extras + 16);
	struct counter_req req = {
		.incr = incr,
		.delta = get64(r->extras),
		.create = exptime != UINT32_MAX,
		.initial = get64(r->extras + 8),
		.exptime = (int64_t)exptime,
	};
	uint64_t result = 0, cas = 0;
	uint8_t value[8];
	enum store_result res;

	res = store_counter(c->env->store, &req, r->key, r->h.keylen, &result,
	                    &cas);
	count_outcome(res, incr ? &k->incr_hits : &k->decr_hits,
	              incr ? &k->incr_misses : &k->decr_misses);
	if (res != STORE_STORED) {
		respond_error(c, status_of(res));
		return;
	}
	if (r->quiet)
		return;
	put64(value, result);
	respond(c, ST_OK, cas, NULL, 0, NULL, 0, value, sizeof value);
}

static void op_incr(struct bin_ctx *c) { arith(c, true); }
static void op_decr(struct bin_ctx *c) { arith(c, false); }

/* ------------------------------------------------------------------ */
/* flush, noop, version, stat, verbosity, quit                         */

static void op_flush(struct bin_ctx *c)
{
	int64_t delay = c->r->h.extlen == 4 ? extras_exptime(c->r->extras) : 0;

	if (flush_after(c->env, delay) != 0)
		respond_error(c, ST_INTERNAL);
	else
		respond_ok(c, 0);
}

static void op_noop(struct bin_ctx *c)
{
	respond(c, ST_OK, 0, NULL, 0, NULL, 0, NULL, 0);
}

static void op_version(struct bin_ctx *c)
{
	static const char version[] = HOSTCACHED_PROTOCOL_VERSION;

	respond(c, ST_OK, 0, NULL, 0, NULL, 0, version, sizeof version - 1);
}

static void op_verbosity(struct bin_ctx *c)
{
	verbosity_set(get32(c->r->extras));
	respond_ok(c, 0);
}

/* The general stats, one reply each (key the name, value the value),
 * then an empty reply.  Other groups (settings, items, slabs) are not
 * kept: not found. */
static void op_stat(struct bin_ctx *c)
{
	struct evbuffer *text = c->env->scratch_out;
	char *line;
	size_t len;

	if (c->r->h.keylen > 0) {
		respond_error(c, ST_NOT_FOUND);
		return;
	}
	evbuffer_drain(text, evbuffer_get_length(text));
	stats_write(c->env, text);
	while ((line = evbuffer_readln(text, &len, EVBUFFER_EOL_CRLF_STRICT))
	       != NULL) {
		char *name = line + 5;  /* after "STAT " */
		char *value = strchr(name, ' ');

		if (len > 5 && value != NULL)
			respond(c, ST_OK, 0, NULL, 0, name,
			        (uint16_t)(value - name), value + 1,
			        strlen(value + 1));
		free(line);
	}
	respond(c, ST_OK, 0, NULL, 0, NULL, 0, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

enum key_rule { KEY_NONE, KEY_NEEDED, KEY_MAYBE };

struct opcode {
	void (*run)(struct bin_ctx *c);
	bool quiet;
	uint8_t extlen, extlen_alt;  /* the sizes of extras allowed */
	enum key_rule key;
	bool value;                  /* a value may follow */
};

#define GET_OP(fn, q) { fn, q, 0, 0, KEY_NEEDED, false }
#define GAT_OP(fn, q) { fn, q, 4, 4, KEY_NEEDED, false }
#define SET_OP(fn, q) { fn, q, 8, 8, KEY_NEEDED, true }
#define CONCAT_OP(fn, q) { fn, q, 0, 0, KEY_NEEDED, true }
#define ARITH_OP(fn, q) { fn, q, 20, 20, KEY_NEEDED, false }
#define BARE_OP(fn, q) { fn, q, 0, 0, KEY_NONE, false }

static const struct opcode opcodes[256] = {
	[OP_GET] = GET_OP(op_get, false),
	[OP_GETQ] = GET_OP(op_get, true),
	[OP_GETK] = GET_OP(op_getk, false),
	[OP_GETKQ] = GET_OP(op_getk, true),
	[OP_GAT] = GAT_OP(op_gat, false),
	[OP_GATQ] = GAT_OP(op_gat, true),
	[OP_GATK] = GAT_OP(op_gatk, false),
	[OP_GATKQ] = GAT_OP(op_gatk, true),
	[OP_TOUCH] = GAT_OP(op_touch, false),
	[OP_SET] = SET_OP(op_set, false),
	[OP_SETQ] = SET_OP(op_set, true),
	[OP_ADD] = SET_OP(op_add, false),
	[OP_ADDQ] = SET_OP(op_add, true),
	[OP_REPLACE] = SET_OP(op_replace, false),
	[OP_REPLACEQ] = SET_OP(op_replace, true),
	[OP_APPEND] = CONCAT_OP(op_append, false),
	[OP_APPENDQ] = CONCAT_OP(op_append, true),
	[OP_PREPEND] = CONCAT_OP(op_prepend, false),
	[OP_PREPENDQ] = CONCAT_OP(op_prepend, true),
	[OP_DELETE] = GET_OP(op_delete, false),
	[OP_DELETEQ] = GET_OP(op_delete, true),
	[OP_INCREMENT] = ARITH_OP(op_incr, false),
	[OP_INCREMENTQ] = ARITH_OP(op_incr, true),
	[OP_DECREMENT] = ARITH_OP(op_decr, false),
	[OP_DECREMENTQ] = ARITH_OP(op_decr, true),
	[OP_QUIT] = BARE_OP(NULL, false),
	[OP_QUITQ] = BARE_OP(NULL, true),
	[OP_FLUSH] = { op_flush, false, 0, 4, KEY_NONE, false },
	[OP_FLUSHQ] = { op_flush, true, 0, 4, KEY_NONE, false },
	[OP_NOOP] = BARE_OP(op_noop, false),
	[OP_VERSION] = BARE_OP(op_version, false),
	[OP_VERBOSITY] = { op_verbosity, false, 4, 4, KEY_NONE, false },
	[OP_STAT] = { op_stat, false, 0, 0, KEY_MAYBE, false },
};

static bool is_storage(uint8_t opcode)
{
	return opcodes[opcode].value;
}

/* Whether R's parts are what its opcode takes. */
static bool shape_ok(const struct opcode *op, const struct request *r)
{
	const struct header *h = &r->h;

	if (h->extlen != op->extlen && h->extlen != op->extlen_alt)
		return false;
	if ((op->key == KEY_NEEDED && h->keylen == 0) ||
	    (op->key == KEY_NONE && h->keylen > 0))
		return false;
	return op->value || r->vlen == 0;
}

/* Run the whole request R.  Returns PROTO_CLOSE for quit. */
static enum proto_status run_request(struct bin_ctx *c, struct request *r)
{
	const struct opcode *op = &opcodes[r->h.opcode];

	c->r = r;
	r->quiet = op->quiet;
	if (op->run == NULL && r->h.opcode != OP_QUIT &&
	    r->h.opcode != OP_QUITQ) {
		respond_error(c, ST_UNKNOWN);
		return PROTO_MORE;
	}
	if (!shape_ok(op, r)) {
		respond_error(c, ST_INVALID);
		return PROTO_MORE;
	}
	if (op->run == NULL) {
		respond_ok(c, 0);
		return PROTO_CLOSE;
	}
	op->run(c);
	return PROTO_MORE;
}

/* Take the request of header H (its body all in IN) out of IN. */
static void request_read(struct request *r, const struct proto_env *env,
                         struct evbuffer *in)
{
	evbuffer_drain(in, HEADER_BYTES);
	evbuffer_remove(in, r->extras, r->h.extlen);
	evbuffer_remove(in, r->key, r->h.keylen);
	r->vlen = r->h.bodylen - r->h.extlen - r->h.keylen;
	evbuffer_remove(in, env->value, r->vlen);
	r->val = env->value;
}

/* A storage request whose value the segment cannot take: "too large",
 * and its body is dropped as it comes.  A set that fails must not leave
 * the old value readable, as with the text protocol.  Returns false
 * while the key has not come. */
static bool refuse_too_large(struct bin_ctx *c, struct binary_state *st,
                             struct request *r, struct evbuffer *in)
{
	size_t head = HEADER_BYTES + r->h.extlen + r->h.keylen;

	if (evbuffer_get_length(in) < head)
		return false;
	evbuffer_drain(in, HEADER_BYTES + r->h.extlen);
	evbuffer_remove(in, r->key, r->h.keylen);
	c->r = r;
	if ((r->h.opcode == OP_SET || r->h.opcode == OP_SETQ) && r->h.keylen > 0)
		store_delete(c->env->store, r->key, r->h.keylen);
	respond_error(c, ST_TOO_LARGE);
	st->swallow = r->h.bodylen - r->h.extlen - r->h.keylen;
	return true;
}

enum frame { FRAME_WAIT, FRAME_DONE, FRAME_CLOSE };

/* The next request in IN: run it, refuse it, or wait for more of it. */
static enum frame next_request(struct bin_ctx *c, struct binary_state *st,
                               struct evbuffer *in)
{
	const struct store *s = c->env->store;
	uint8_t raw[HEADER_BYTES];
	struct request r;

	if (evbuffer_copyout(in, raw, sizeof raw) < (ssize_t)sizeof raw)
		return FRAME_WAIT;
	header_parse(raw, &r.h);
	if (r.h.magic != MAGIC_REQUEST || r.h.keylen > KEY_LIMIT ||
	    r.h.extlen > EXTRAS_MAX ||
	    (uint64_t)r.h.extlen + r.h.keylen > r.h.bodylen ||
	    r.h.bodylen > BODY_LIMIT) {
		log_msg(LOG_DEBUG, "binary: bad frame (magic 0x%02x, key %u, "
		        "extras %u, body %" PRIu32 " bytes); closing",
		        r.h.magic, r.h.keylen, r.h.extlen, r.h.bodylen);
		return FRAME_CLOSE;
	}
	if (r.h.bodylen - r.h.extlen - r.h.keylen > s->value_cap) {
		if (!is_storage(r.h.opcode))
			return FRAME_CLOSE;
		return refuse_too_large(c, st, &r, in) ? FRAME_DONE : FRAME_WAIT;
	}
	if (evbuffer_get_length(in) < HEADER_BYTES + (size_t)r.h.bodylen)
		return FRAME_WAIT;
	request_read(&r, c->env, in);
	return run_request(c, &r) == PROTO_CLOSE ? FRAME_CLOSE : FRAME_DONE;
}

enum proto_status proto_binary_process(struct binary_state *st,
                                       const struct proto_env *env,
                                       struct evbuffer *in,
                                       struct evbuffer *out, size_t out_limit)
{
	struct bin_ctx c = { .env = env, .out = out };
	enum proto_status status = PROTO_MORE;

	while (evbuffer_get_length(out) < out_limit) {
		if (st->swallow > 0) {
			size_t avail = evbuffer_get_length(in);
			size_t n = avail < st->swallow ? avail : (size_t)st->swallow;

			evbuffer_drain(in, n);
			st->swallow -= n;
			if (st->swallow > 0)
				break;
		}
		enum frame f = next_request(&c, st, in);

		if (f == FRAME_WAIT)
			break;
		if (f == FRAME_CLOSE) {
			status = PROTO_CLOSE;
			break;
		}
	}
	return status;
}
