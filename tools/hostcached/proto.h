/*
 * proto.h - what the two protocol files share: the classic text commands
 * (proto_text.c, which also owns the line reader and the dispatch) and the
 * meta commands (proto_meta.c).  Private to the protocol layer.
 */
#ifndef HOSTCACHED_PROTO_H
#define HOSTCACHED_PROTO_H

#include "hostcached.h"

#define MAX_TOKENS 24          /* the most a command line takes, get aside */
#define VLEN_MAX (INT32_MAX - 2)

/* One command line split on spaces (tok[0] is the command). */
struct line {
	char *tok[MAX_TOKENS];
	size_t len[MAX_TOKENS];
	int n;                     /* tokens; MAX_TOKENS + 1: too many */
	char *rest;                /* after the command word (get family) */
	bool noreply;              /* replies but SERVER_ERROR are dropped */
};

struct cmd_ctx {
	struct text_state *st;
	const struct proto_env *env;
	struct evbuffer *out;
	struct line *l;
};

void reply(struct cmd_ctx *c, const char *text);
void reply_server_error(struct cmd_ctx *c, const char *text);
/* The errors of the item layer (too large, busy, not a number, ...). */
void reply_store_error(struct cmd_ctx *c, enum store_result r);
bool parse_u32(const char *s, uint32_t *out);
bool parse_exptime(const char *s, int64_t *out);
bool key_ok(const struct cmd_ctx *c, size_t klen);
void swallow(struct text_state *st, uint64_t bytes);
/* A worker's counters of hits and misses (delete, incr, touch, cas). */
void count_outcome(enum store_result r, uint64_t *hits, uint64_t *misses);
void count_cas(struct worker_counters *k, enum store_result r);
/* Shared with the binary protocol: every "STAT name value" line (no
 * END), a flush now or after DELAY (0 or -1: failed, logged), and the
 * log level of verbosity N. */
void stats_write(const struct proto_env *env, struct evbuffer *out);
int flush_after(const struct proto_env *env, int64_t delay);
void verbosity_set(uint32_t level);
/* Split S on spaces into L->tok[1...] (tok[0] is the command word). */
void tokenize(char *s, struct line *l);

/* The meta commands: mg, ms, md, ma, mn, me. */
void cmd_meta_get(struct cmd_ctx *c);
void cmd_meta_set(struct cmd_ctx *c);
void cmd_meta_delete(struct cmd_ctx *c);
void cmd_meta_arith(struct cmd_ctx *c);
void cmd_meta_noop(struct cmd_ctx *c);
void cmd_meta_debug(struct cmd_ctx *c);
/* ms: its data block VAL (st->vlen bytes) has come. */
void meta_set_complete(struct cmd_ctx *c, const char *val);

/* mg G (readthrough.c): on a miss of KEY, read it from Redis under the
 * library's lease, or wait for the client that does.  RT_WAIT: the
 * command waits (st->read_through), its line is run again once it can
 * go on; RT_GO_ON: serve the mg as usual (the value is in the segment,
 * or is not to be had); RT_FAILED: Redis did not answer. */
enum read_through_outcome { RT_GO_ON, RT_WAIT, RT_FAILED };

enum read_through_outcome read_through(struct cmd_ctx *c, const void *key,
                                       size_t klen);
/* Whether the connection waits for a read through. */
bool read_through_waiting(const struct text_state *st);
/* The connection closes: forget its read through. */
void read_through_closed(struct text_state *st);

/* ms G and md G (writethrough.c): Redis first, then this host. */
struct write_through_req {
	const void *key;
	size_t klen;
	bool del;                  /* DEL, else SET VAL with TTL_MS */
	const void *val;
	size_t vlen;
	uint64_t ttl_ms;           /* 0: no expiry */
};

enum write_through_outcome { WT_WAIT, WT_DONE, WT_FAILED };

/* The first call asks Redis and returns WT_WAIT: the command waits
 * (st->write_through) and runs again once Redis answered; that call
 * returns WT_DONE (*STATUS 1 done, for DEL 0: Redis had no such key) or
 * WT_FAILED (WHY, CAP bytes, says why). */
enum write_through_outcome write_through(struct cmd_ctx *c,
                                         const struct write_through_req *w,
                                         int *status, char *why, size_t cap);
/* Whether the connection waits for Redis to answer a write through. */
bool write_through_waiting(const struct text_state *st);
/* The connection closes: forget its write through. */
void write_through_closed(struct text_state *st);

#endif /* HOSTCACHED_PROTO_H */
