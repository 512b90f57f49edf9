/*
 * kit.c - clocks, key generators, the latency histogram, processes that
 * start together and JSON lines for the benchmarks (kit.h).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

/* ---- clocks ------------------------------------------------------------ */

double kit_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t kit_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The least of 64 samples, each the last of 100 reads in a row: an
 * interrupt or a migration makes a sample longer, never shorter. */
uint64_t kit_clock_cost_ns(void)
{
	uint64_t min = UINT64_MAX;

	for (int i = 0; i < 64; i++) {
		uint64_t a = kit_now_ns(), b = kit_now_ns();

		for (int j = 0; j < 100; j++) {
			a = b;
			b = kit_now_ns();
		}
		if (b - a < min)
			min = b - a;
	}
	return min;
}

/* ---- randomness and keys ----------------------------------------------- */

uint64_t kit_mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static double zeta(uint64_t n, double theta)
{
	double sum = 0;

	for (uint64_t i = 1; i <= n; i++)
		sum += 1.0 / pow((double)i, theta);
	return sum;
}

void kit_zipf_init(struct kit_zipf *z, uint64_t n, double theta)
{
	z->n = (double)n;
	z->theta = theta;
	z->zetan = zeta(n, theta);
	z->alpha = 1.0 / (1.0 - theta);
	z->eta = (1.0 - pow(2.0 / z->n, 1.0 - theta)) /
	         (1.0 - zeta(2, theta) / z->zetan);
	z->two_cut = 1.0 + pow(0.5, theta);
}

uint64_t kit_zipf_rank(const struct kit_zipf *z, double u)
{
	double uz = u * z->zetan;

	if (uz < 1.0)
		return 0;
	if (uz < z->two_cut)
		return 1;
	double r = z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);

	return r < z->n ? (uint64_t)r : (uint64_t)z->n - 1;
}

int kit_zipf_table_init(struct kit_zipf_table *z, uint32_t n, double alpha)
{
	double sum = 0;

	z->n = n;
	z->cum = malloc((n ? n : 1) * sizeof *z->cum);
	if (z->cum == NULL)
		return -ENOMEM;
	for (uint32_t r = 0; r < n; r++) {
		sum += 1.0 / pow((double)r + 1, alpha);
		z->cum[r] = sum;
	}
	return 0;
}

void kit_zipf_table_free(struct kit_zipf_table *z)
{
	free(z->cum);
	z->cum = NULL;
}

uint32_t kit_zipf_table_rank(const struct kit_zipf_table *z, double u)
{
	double want = u * z->cum[z->n - 1];
	uint32_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (z->cum[mid] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- latency histogram ------------------------------------------------- */

void kit_hist_clear(struct kit_hist *h)
{
	memset(h, 0, sizeof *h);
}

void kit_hist_merge(struct kit_hist *into, const struct kit_hist *from)
{
	into->total += from->total;
	if (from->max > into->max)
		into->max = from->max;
	for (unsigned b = 0; b < KIT_HIST_BUCKETS; b++)
		into->n[b] += from->n[b];
}

double kit_hist_value(unsigned b)
{
	if (b < 64)
		return b;
	unsigned e = (b - 64) / KIT_HIST_SUB + 6, sub = (b - 64) % KIT_HIST_SUB;

	return ldexp(1.0, (int)e) + (sub + 0.5) * ldexp(1.0, (int)e - 5);
}

double kit_hist_percentile(const struct kit_hist *h, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)h->total), seen = 0;

	for (unsigned b = 0; b < KIT_HIST_BUCKETS; b++) {
		seen += h->n[b];
		if (seen >= want && h->n[b] > 0)
			return kit_hist_value(b);
	}
	return 0;
}

/* ---- processes that start together ------------------------------------- */

/*
 * The start: every child writes a byte on `ready` once it is ready, then
 * reads `go` until EOF.  The parent, having read a byte from each (or EOF:
 * a child died, which kit_team_wait() reports), stores the start time and
 * then closes `go`; the close happens after the store, and each child
 * loads the time after its read returns EOF, so it sees the store.  The
 * release/acquire pair says so to the compiler as well.
 */
struct team_start {
	uint64_t t0;
	char pad[56];
};

static void team_kill(struct kit_team *t, unsigned forked)
{
	for (unsigned p = 0; p < forked; p++) {
		kill(t->pid[p], SIGKILL);
		waitpid(t->pid[p], NULL, 0);
		t->pid[p] = 0;
	}
}

int kit_team_start(struct kit_team *t, unsigned procs, size_t result_size,
                   kit_child_fn *fn, void *arg)
{
	int err = 0;

	memset(t, 0, sizeof *t);
	if (procs == 0 || procs > KIT_MAX_PROCS)
		return -EINVAL;
	t->procs = procs;
	t->result_size = (result_size + 63) & ~(size_t)63;
	t->shared_bytes = sizeof(struct team_start) + procs * t->result_size;
	t->shared = mmap(NULL, t->shared_bytes, PROT_READ | PROT_WRITE,
	                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t->shared == MAP_FAILED) {
		t->shared = NULL;
		return -errno;
	}
	if (pipe(t->ready) != 0)
		return -errno;
	if (pipe(t->go) != 0) {
		err = -errno;
		close(t->ready[0]);
		close(t->ready[1]);
		return err;
	}
	fflush(NULL);
	for (unsigned p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0) {
			err = -errno;
			team_kill(t, p);
			break;
		}
		if (pid == 0) {
			close(t->ready[0]);
			close(t->go[1]);
			_exit(fn(t, p, arg));
		}
		t->pid[p] = pid;
	}
	close(t->ready[1]);
	close(t->go[0]);
	for (unsigned p = 0; err == 0 && p < procs; p++) {
		char byte;

		if (read(t->ready[0], &byte, 1) != 1)
			break; /* a child died: kit_team_wait() says so */
	}
	struct team_start *s = t->shared;

	__atomic_store_n(&s->t0, kit_now_ns() + 2000000, __ATOMIC_RELEASE);
	close(t->go[1]); /* go */
	close(t->ready[0]);
	return err;
}

uint64_t kit_team_ready(struct kit_team *t)
{
	const struct team_start *s = t->shared;
	char byte = 1;

	if (write(t->ready[1], &byte, 1) != 1)
		_exit(1);
	close(t->ready[1]); /* the parent sees EOF if a sibling died first */
	while (read(t->go[0], &byte, 1) > 0)
		;
	uint64_t t0 = __atomic_load_n(&s->t0, __ATOMIC_ACQUIRE);

	while (kit_now_ns() < t0)
		;
	return t0;
}

uint64_t kit_team_t0(const struct kit_team *t)
{
	const struct team_start *s = t->shared;

	return __atomic_load_n(&s->t0, __ATOMIC_ACQUIRE);
}

void *kit_team_result(const struct kit_team *t, unsigned index)
{
	return (char *)t->shared + sizeof(struct team_start) +
	       index * t->result_size;
}

bool kit_team_wait(struct kit_team *t)
{
	bool ok = true;

	for (unsigned p = 0; p < t->procs; p++) {
		int st;

		if (t->pid[p] <= 0)
			continue;
		if (waitpid(t->pid[p], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			ok = false;
		t->pid[p] = 0;
	}
	return ok;
}

void kit_team_free(struct kit_team *t)
{
	if (t->shared != NULL)
		munmap(t->shared, t->shared_bytes);
	t->shared = NULL;
}

/* ---- JSON lines -------------------------------------------------------- */

static void json_key(struct kit_json *j, const char *key)
{
	fprintf(j->f, "%s\"%s\":", j->first ? "" : ",", key);
	j->first = false;
}

void kit_json_begin(struct kit_json *j, FILE *f)
{
	j->f = f;
	j->first = true;
	fputc('{', f);
}

void kit_json_str(struct kit_json *j, const char *key, const char *value)
{
	json_key(j, key);
	fputc('"', j->f);
	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(j->f, "\\%c", *c);
		else if (*c < 0x20)
			fprintf(j->f, "\\u%04x", *c);
		else
			fputc(*c, j->f);
	}
	fputc('"', j->f);
}

void kit_json_uint(struct kit_json *j, const char *key, uint64_t value)
{
	json_key(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

void kit_json_int(struct kit_json *j, const char *key, int64_t value)
{
	json_key(j, key);
	fprintf(j->f, "%lld", (long long)value);
}

void kit_json_num(struct kit_json *j, const char *key, int decimals,
                  double value)
{
	json_key(j, key);
	fprintf(j->f, "%.*f", decimals, value);
}

void kit_json_g(struct kit_json *j, const char *key, double value)
{
	json_key(j, key);
	fprintf(j->f, "%g", value);
}

void kit_json_null(struct kit_json *j, const char *key)
{
	json_key(j, key);
	fputs("null", j->f);
}

void kit_json_bool(struct kit_json *j, const char *key, bool value)
{
	json_key(j, key);
	fputs(value ? "true" : "false", j->f);
}

void kit_json_end(struct kit_json *j)
{
	fputs("}\n", j->f);
}
