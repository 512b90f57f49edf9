/*
 * competitors.c - the implementations hcbench measures beside hostcache,
 * behind one interface (competitors.h): a hash table in shared memory,
 * private or behind a process-shared rwlock or mutex, and memcached and
 * redis over unix sockets.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <hiredis/hiredis.h>
#include <libmemcached/memcached.h>
#include <xxhash.h>

#include "hostcache.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"

/* ---- the hash table of private, rwlock and mutex ------------------------- */


struct table {
	pthread_mutex_t mutex;
	pthread_rwlock_t rwlock;
	size_t bytes;              /* of the mapping */
	uint32_t nslots;           /* twice the items: load factor <= 1/2 */
	uint32_t slot_size;
	unsigned char slots[];     /* used(4) vlen(4) key(16) value */
};

size_t table_bytes(uint32_t items, unsigned value)
{
	size_t slot = (8 + KEY_LEN + value + 7) & ~(size_t)7;

	return sizeof(struct table) + 2 * (size_t)items * slot;
}

/* An empty table for D in shared memory. */
struct table *table_create(const struct dataset *d)
{
	size_t bytes = table_bytes(d->items, d->value);
	struct table *t = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_rwlockattr_t ra;

	if (t == MAP_FAILED)
		fail("mmap of %zu bytes: %s", bytes, strerror(errno));
	t->bytes = bytes;
	t->nslots = 2 * d->items;
	t->slot_size = (uint32_t)((8 + KEY_LEN + d->value + 7) & ~7u);
	if (pthread_mutexattr_init(&ma) != 0 ||
	    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutex_init(&t->mutex, &ma) != 0 ||
	    pthread_rwlockattr_init(&ra) != 0 ||
	    pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_rwlock_init(&t->rwlock, &ra) != 0)
		fail("cannot make a process-shared lock");
	pthread_mutexattr_destroy(&ma);
	pthread_rwlockattr_destroy(&ra);
	return t;
}

/* A copy of FROM in this process's own memory, every page its own. */
struct table *table_copy_private(const struct table *from)
{
	struct table *t = mmap(NULL, from->bytes, PROT_READ | PROT_WRITE,
	                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (t == MAP_FAILED)
		fail("mmap of %zu bytes: %s", from->bytes, strerror(errno));
	memcpy(t, from, from->bytes);
	return t;
}

/* Whether children forked from now on inherit T: a large private mapping
 * makes every fork copy its page table. */
void table_fork(struct table *t, bool inherit)
{
	if (madvise(t, t->bytes, inherit ? MADV_DOFORK : MADV_DONTFORK) != 0)
		fail("madvise: %s", strerror(errno));
}

size_t table_mapping_bytes(const struct table *t)
{
	return t->bytes;
}

void table_destroy(struct table *t)
{
	if (t != NULL)
		munmap(t, t->bytes);
}

static void table_lock(struct table *t, enum lock_kind lock, bool write)
{
	int rc = 0;

	if (lock == LOCK_MUTEX)
		rc = pthread_mutex_lock(&t->mutex);
	else if (lock == LOCK_RWLOCK && write)
		rc = pthread_rwlock_wrlock(&t->rwlock);
	else if (lock == LOCK_RWLOCK)
		rc = pthread_rwlock_rdlock(&t->rwlock);
	if (rc != 0)
		fail("taking the table lock: %s", strerror(rc));
}

static void table_unlock(struct table *t, enum lock_kind lock)
{
	int rc = 0;

	if (lock == LOCK_MUTEX)
		rc = pthread_mutex_unlock(&t->mutex);
	else if (lock == LOCK_RWLOCK)
		rc = pthread_rwlock_unlock(&t->rwlock);
	if (rc != 0)
		fail("releasing the table lock: %s", strerror(rc));
}

/* The slot of KEY: its own, or the empty one where it would go. */
static unsigned char *table_slot(struct table *t, const char *key)
{
	uint32_t h = (uint32_t)XXH3_64bits(key, KEY_LEN);
	uint32_t i = (uint32_t)(((uint64_t)h * t->nslots) >> 32);

	for (;;) {
		unsigned char *s = t->slots + (size_t)i * t->slot_size;
		uint32_t used;

		memcpy(&used, s, 4);
		if (!used || memcmp(s + 8, key, KEY_LEN) == 0)
			return s;
		i = i + 1 == t->nslots ? 0 : i + 1;
	}
}

static int table_get(struct table *t, enum lock_kind lock, const char *key,
                     void *buf, size_t cap, size_t *vlen)
{
	int rc = 1;

	table_lock(t, lock, false);
	unsigned char *s = table_slot(t, key);
	uint32_t used, len;

	memcpy(&used, s, 4);
	memcpy(&len, s + 4, 4);
	if (used && len <= cap) {
		memcpy(buf, s + 8 + KEY_LEN, len);
		*vlen = len;
		rc = 0;
	}
	table_unlock(t, lock);
	return rc;
}

int table_set(struct table *t, enum lock_kind lock, const char *key,
	      const void *val, size_t vlen)
{
	uint32_t one = 1, len = (uint32_t)vlen;

	table_lock(t, lock, true);
	unsigned char *s = table_slot(t, key);

	memcpy(s + 4, &len, 4);
	memcpy(s + 8, key, KEY_LEN);
	memcpy(s + 8 + KEY_LEN, val, vlen);
	memcpy(s, &one, 4);
	table_unlock(t, lock);
	return 0;
}

/* ---- connections ------------------------------------------------------- */

const char *memcached_socket, *redis_socket;
char memcached_version_str[32], redis_version_str[32];


void conn_open(struct conn *c, enum impl_id impl, struct dataset *d,
	       struct table *table)
{
	memset(c, 0, sizeof *c);
	c->impl = impl;
	c->table = table;
	c->lock = impl == RWLOCK ? LOCK_RWLOCK : impl == MUTEX ? LOCK_MUTEX :
	                                                      LOCK_NONE;
	if (impl == HOSTCACHE) {
		int rc = hc_open(d->name, &c->hc);

		if (rc != 0)
			fail("hc_open %s: %s", d->name, hc_strerror(rc));
	} else if (impl == MEMCACHED) {
		c->mc = memcached_create(NULL);
		if (c->mc == NULL ||
		    memcached_server_add_unix_socket(c->mc, memcached_socket) !=
		            MEMCACHED_SUCCESS)
			fail("memcached: cannot use %s", memcached_socket);
	} else if (impl == REDIS) {
		struct timeval tv = { 30, 0 };

		c->redis = redisConnectUnix(redis_socket);
		if (c->redis == NULL || c->redis->err)
			fail("redis: cannot connect to %s: %s", redis_socket,
			     c->redis ? c->redis->errstr : "out of memory");
		redisSetTimeout(c->redis, tv);
	}
}

void conn_close(struct conn *c)
{
	if (c->hc != NULL)
		hc_close(c->hc);
	if (c->mc != NULL)
		memcached_free(c->mc);
	if (c->redis != NULL)
		redisFree(c->redis);
}

/* 0 on a hit with the value copied to BUF, 1 on a miss, -1 on an error. */
int conn_get(struct conn *c, const char *key, unsigned char *buf,
	     size_t cap, size_t *vlen)
{
	switch (c->impl) {
	case HOSTCACHE: {
		int rc = hc_get(c->hc, key, KEY_LEN, buf, cap, vlen);

		return rc == 0 ? 0 : rc == HC_ENOTFOUND ? 1 : -1;
	}
	case PRIVATE:
	case RWLOCK:
	case MUTEX:
		return table_get(c->table, c->lock, key, buf, cap, vlen);
	case MEMCACHED: {
		memcached_return_t rc;
		uint32_t flags;
		char *v = memcached_get(c->mc, key, KEY_LEN, vlen, &flags, &rc);

		if (v == NULL)
			return rc == MEMCACHED_NOTFOUND ? 1 : -1;
		memcpy(buf, v, *vlen < cap ? *vlen : cap);
		free(v);
		return 0;
	}
	case REDIS: {
		redisReply *r = redisCommand(c->redis, "GET %b", key,
		                             (size_t)KEY_LEN);
		int rc = -1;

		if (r != NULL && r->type == REDIS_REPLY_STRING) {
			*vlen = r->len;
			memcpy(buf, r->str, r->len < cap ? r->len : cap);
			rc = 0;
		} else if (r != NULL && r->type == REDIS_REPLY_NIL) {
			rc = 1;
		}
		freeReplyObject(r);
		return rc;
	}
	default:
		return -1;
	}
}

int conn_set(struct conn *c, const char *key, const unsigned char *val,
	     size_t vlen)
{
	switch (c->impl) {
	case HOSTCACHE:
		return hc_set(c->hc, key, KEY_LEN, val, vlen, 0) == 0 ? 0 : -1;
	case PRIVATE:
	case RWLOCK:
	case MUTEX:
		return table_set(c->table, c->lock, key, val, vlen);
	case MEMCACHED:
		return memcached_set(c->mc, key, KEY_LEN, (const char *)val, vlen, 0,
		                     0) == MEMCACHED_SUCCESS ? 0 : -1;
	case REDIS: {
		redisReply *r = redisCommand(c->redis, "SET %b %b", key,
		                             (size_t)KEY_LEN, val, vlen);
		int rc = r != NULL && r->type == REDIS_REPLY_STATUS ? 0 : -1;

		freeReplyObject(r);
		return rc;
	}
	default:
		return -1;
	}
}
