/*
 * mcload.h - what the parts of mcload share: the options, the workload
 * (keys, values, the key distribution), requests in flight, the two
 * protocols and the per-thread counters.
 *
 * Files: proto.c encodes requests and checks replies in the memcached
 * text and binary protocols; conn.c runs the connections of one thread
 * (non-blocking sockets under epoll); main.c reads the options, starts
 * the threads and reports.
 */
#ifndef MCLOAD_H
#define MCLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kit/kit.h"

enum op { OP_GET, OP_SET, OP_COUNT };
enum proto { PROTO_TEXT, PROTO_BINARY };

/* Value windows start at one of this many offsets into the pattern, by
 * key (a prime, so that neighbouring keys differ). */
#define PATTERN_SHIFTS 251u

struct options {
	const char *unix_path;          /* --unix, or NULL */
	const char *tcp_host;           /* --tcp HOST:PORT, split */
	const char *tcp_port;
	enum proto proto;
	unsigned conns, threads, pipeline;
	uint64_t keys;
	unsigned key_size, value_size;
	double zipf;                    /* 0: uniform */
	double get_ratio;
	double seconds;                 /* used when ops is 0 */
	uint64_t ops;
	bool warm;
	uint64_t seed;
	double timeout;                 /* seconds without a reply: an error */
	double wait;                    /* seconds to retry connecting */
	const char *label;              /* the server's name in the output */
};

/* Read-only once the threads start. */
struct workload {
	const struct options *opt;
	char *pattern;                  /* value_size + PATTERN_SHIFTS bytes */
	struct kit_zipf zipf;           /* 0 < zipf < 1 */
	struct kit_zipf_table table;    /* zipf >= 1 */
	size_t max_request, max_reply;  /* bytes, for the buffers */
};

/* One request in flight; replies come back in the order sent. */
struct request {
	enum op op;
	uint64_t key;
	uint32_t opaque;                /* binary protocol only */
	uint64_t sent_ns;
};

/* What one thread counted; merged at the end. */
struct stats {
	struct kit_hist hist[OP_COUNT];
	uint64_t ops[OP_COUNT];
	uint64_t hits, misses;
	uint64_t errors;
};

/* ---- workload (main.c) --------------------------------------------------- */

/* The KEY_SIZE bytes of key INDEX into OUT (no terminator). */
void key_format(const struct workload *w, uint64_t index, char *out);

/* The value that a set of key INDEX stores, and its flags. */
static inline const char *value_of(const struct workload *w, uint64_t index)
{
	return w->pattern + index % PATTERN_SHIFTS;
}

static inline uint32_t flags_of(uint64_t index)
{
	return (uint32_t)index;
}

/* The next key of the timed phase, by the chosen distribution. */
uint64_t key_next(const struct workload *w, uint64_t *rng);

/* ---- protocols (proto.c) ------------------------------------------------- */

/* The largest request and reply for W's sizes. */
size_t proto_max_request(const struct options *opt);
size_t proto_max_reply(const struct options *opt);

/* Append request R to OUT (proto_max_request() bytes free); its length. */
size_t proto_encode(const struct workload *w, const struct request *r,
                    char *out);

/*
 * Check the reply to R at the start of BUF (LEN bytes).  Returns the bytes
 * it takes, with *HIT saying whether a get found its value; 0 when more
 * bytes are needed; -1 when the reply is wrong, with why in ERR.
 */
long proto_check(const struct workload *w, const struct request *r,
                 const char *buf, size_t len, bool *hit,
                 char *err, size_t err_size);

/* ---- connections (conn.c) ------------------------------------------------ */

struct worker;

/* Connect thread INDEX's connections (of FIRST .. FIRST + COUNT - 1 over
 * all threads).  NULL with a message on stderr when one cannot connect. */
struct worker *worker_new(const struct workload *w, unsigned index,
                          unsigned first, unsigned count);

/* Set every key of this thread's share once, untimed except for errors. */
void worker_warm(struct worker *k);

/* The timed phase: until DEADLINE_NS (kit_now_ns()) or, when OPS is not
 * 0, until this thread's connections have had their share of OPS replies
 * (OPS spread evenly over all connections). */
void worker_run(struct worker *k, uint64_t deadline_ns, uint64_t ops);

const struct stats *worker_stats(const struct worker *k);
void worker_free(struct worker *k);

#endif
