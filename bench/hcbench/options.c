/*
 * options.c - the options of hcbench and the servers' versions.
 */
#include <errno.h>
#include <string.h>


#include "hostcache.h"
#include "kit/kit.h"
#include "hcbench/hcbench.h"
#include "hcbench/competitors.h"
#include "hcbench/parts.h"

/* ---- options ------------------------------------------------------------ */

const char usage_text[] =
	"usage: hcbench [--quick] [--json] [--table FILE] [--plot-data DIR]\n"
	"               [--memcached SOCKET] [--redis SOCKET]\n"
	"               [--reps N] [--seconds S] [--procs N,N..]\n"
	"               [--bench NAME,..] [--impl NAME,..] [--fits l2,l3,dram]\n"
	"               [--dram-items N] [--ycsb-items N] [--l2 BYTES] "
	"[--l3 BYTES]\n";

const char help_text[] =
	"\n"
	"  --quick          1 repetition of 0.06 s, no DRAM sets, a 100,000-key "
	"YCSB set\n"
	"                   (well under a minute without the servers)\n"
	"  --json           JSON lines on stdout instead of the table\n"
	"  --table FILE     the table into FILE as well\n"
	"  --plot-data DIR  data files for bench/plot.gp into DIR\n"
	"  --memcached, --redis SOCKET\n"
	"                   unix sockets of running servers (else skipped)\n"
	"  --reps N         repetitions, interleaved (default 3, 1..16)\n"
	"  --seconds S      counted phase of a measurement (default 0.25)\n"
	"  --procs LIST     process counts of ycsb_* and hot_key (default "
	"1,2,4,8)\n"
	"  --bench LIST     of get_hit,set,ycsb_c,ycsb_b,ycsb_a,hot_key,fit_a,"
	"fit_b\n"
	"  --impl LIST      of hostcache,private,rwlock,mutex,memcached,redis\n"
	"  --fits LIST      data sets of get_hit and set: l2,l3,dram\n"
	"  --dram-items N   items of the 32 B DRAM set (default 10,000,000)\n"
	"  --ycsb-items N   items of the YCSB set (default 1,000,000)\n"
	"  --l2, --l3 BYTES cache sizes, taken as given (default: from sysfs, "
	"else sysconf,\n"
	"                   at most 2 MiB and 32 MiB); K, M, G suffixes\n";

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(2);
}

uint64_t parse_count(const char *opt, const char *arg, uint64_t min,
		     uint64_t max, bool suffix)
{
	char *end;
	uint64_t n;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (end == arg || errno != 0 || arg[0] == '-')
		usage_error("%s wants a number, not '%s'", opt, arg);
	if (suffix && *end != '\0' && strchr("KkMG", *end) != NULL) {
		n <<= *end == 'G' ? 30 : *end == 'M' ? 20 : 10;
		end++;
	}
	if (*end != '\0')
		usage_error("%s wants a number, not '%s'", opt, arg);
	if (n < min || n > max)
		usage_error("%s wants a number from %llu to %llu, not '%s'", opt,
		            (unsigned long long)min, (unsigned long long)max, arg);
	return n;
}

/* Whether NAME is in the comma-separated LIST (NULL: everything is). */
bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	if (list == NULL)
		return true;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, name, n) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Every name of LIST is one of NAMES. */
void check_list(const char *opt, const char *list,
		const char *const *names, unsigned nnames)
{
	if (list == NULL)
		return;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");
		bool known = false;

		for (unsigned i = 0; i < nnames; i++)
			known = known || (strlen(names[i]) == n &&
			                  strncmp(p, names[i], n) == 0);
		if (!known)
			usage_error("%s: unknown name '%.*s'", opt, (int)n, p);
		p += n + (p[n] == ',');
	}
}

void server_versions(void)
{
	if (memcached_socket != NULL) {
		memcached_st *mc = memcached_create(NULL);

		if (mc == NULL ||
		    memcached_server_add_unix_socket(mc, memcached_socket) !=
		            MEMCACHED_SUCCESS ||
		    memcached_version(mc) != MEMCACHED_SUCCESS)
			fail("memcached: no answer on %s", memcached_socket);
		const memcached_instance_st *in =
			memcached_server_instance_by_position(mc, 0);

		snprintf(memcached_version_str, sizeof memcached_version_str,
		         "%u.%u.%u", memcached_server_major_version(in),
		         memcached_server_minor_version(in),
		         memcached_server_micro_version(in));
		memcached_free(mc);
	}
	if (redis_socket != NULL) {
		redisContext *r = redisConnectUnix(redis_socket);
		redisReply *rep;
		const char *v;

		if (r == NULL || r->err)
			fail("redis: cannot connect to %s", redis_socket);
		rep = redisCommand(r, "INFO server");
		if (rep == NULL || rep->type != REDIS_REPLY_STRING)
			fail("redis: no answer to INFO on %s", redis_socket);
		v = strstr(rep->str, "redis_version:");
		snprintf(redis_version_str, sizeof redis_version_str, "%.*s",
		         v ? (int)strcspn(v + 14, "\r\n") : 1, v ? v + 14 : "?");
		freeReplyObject(rep);
		redisFree(r);
	}
}
