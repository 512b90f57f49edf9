/*
 * competitors.h - one interface to every implementation hcbench measures.
 *
 * A connection (struct conn) is one process's way to one implementation:
 * hostcache (a segment attached with hc_open), private (a hash table in
 * the process's own memory), rwlock and mutex (one hash table in shared
 * memory behind a process-shared lock), memcached and redis (a client on
 * a unix socket).  conn_get() and conn_set() return 0, 1 for a miss, or a
 * negative value on a failed call.
 */
#ifndef BENCH_HCBENCH_COMPETITORS_H
#define BENCH_HCBENCH_COMPETITORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>

#include "hcbench/hcbench.h"

enum lock_kind { LOCK_NONE, LOCK_RWLOCK, LOCK_MUTEX };

struct table;

/* The servers' sockets (NULL: not run) and versions, for the heading. */
extern const char *memcached_socket, *redis_socket;
extern char memcached_version_str[32], redis_version_str[32];

/* One process's way to one implementation. */
struct conn {
	enum impl_id impl;
	enum lock_kind lock;
	hc_cache *hc;
	struct table *table;
	memcached_st *mc;
	redisContext *redis;
};

size_t table_bytes(uint32_t items, unsigned value);
/* An empty table for D in shared memory. */
struct table *table_create(const struct dataset *d);
/* A copy of FROM in this process's own memory, every page its own. */
struct table *table_copy_private(const struct table *from);
/* Whether children forked from now on inherit T: a large private mapping
 * makes every fork copy its page table. */
void table_fork(struct table *t, bool inherit);
/* The bytes of T's mapping. */
size_t table_mapping_bytes(const struct table *t);
void table_destroy(struct table *t);
int table_set(struct table *t, enum lock_kind lock, const char *key,
	      const void *val, size_t vlen);
void conn_open(struct conn *c, enum impl_id impl, struct dataset *d,
	       struct table *table);
void conn_close(struct conn *c);
/* 0 on a hit with the value copied to BUF, 1 on a miss, -1 on an error. */
int conn_get(struct conn *c, const char *key, unsigned char *buf,
	     size_t cap, size_t *vlen);
int conn_set(struct conn *c, const char *key, const unsigned char *val,
	     size_t vlen);

#endif
