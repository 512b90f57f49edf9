/*
 * t_tsan_planted - proof that ThreadSanitizer sees through the atomics
 * layer, so that a clean `make tsan` means something.
 *
 * Two threads touch one word of a real segment mapping.  In "race" mode one
 * stores through lib/atomic.h and the other with a plain store: TSan must
 * report a data race.  In "atomic" mode both go through lib/atomic.h, and
 * in "publish" mode plain data is handed over by store_release/load_acquire:
 * TSan must report nothing.  Each mode runs in a child process (TSan exits
 * 66 on a report) and the parent reads the child's stderr.
 *
 * Only meaningful under -fsanitize=thread; elsewhere the test says skip.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "testutil.h"
#include "internal.h"

#if defined(__SANITIZE_THREAD__)
#define HAVE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HAVE_TSAN 1
#endif
#endif

#ifdef HAVE_TSAN
static hc_word *word;
static uint64_t plain_data;
static int mode;

enum { MODE_RACE, MODE_ATOMIC, MODE_PUBLISH };

static void *writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (mode == MODE_PUBLISH) {
			plain_data = 42;
			store_release(word, 1);
			return NULL;
		}
		store_relaxed(word, (uint64_t)i);
	}
	return NULL;
}

static void *other(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		if (mode == MODE_RACE)
			*(volatile uint64_t *)word = (uint64_t)i; /* planted */
		else if (mode == MODE_ATOMIC)
			store_relaxed(word, (uint64_t)i);
		else if (load_acquire(word) == 1 && plain_data != 42)
			abort();
	}
	return NULL;
}

/* Run MODE in this process: a segment mapping, two threads. */
static int run_mode(int m)
{
	char shm[64];
	pthread_t a, b;
	hc_config cfg;
	hc_cache *c;

	mode = m;
	test_segment_name(shm, sizeof shm, "planted");
	hc_config_init(&cfg);
	cfg.size = 1 << 20;
	cfg.max_procs = 2;
	if (hc_create(shm, &cfg, &c) != 0)
		return 3;
	hc_unlink(shm);
	/* A word of the real mapping: the header's flush word, which
	 * nothing else touches yet. */
	word = &c->hdr->flush_at;
	pthread_create(&a, NULL, writer, NULL);
	pthread_create(&b, NULL, other, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	hc_close(c);
	return 0;
}

static int child_reports_race(int m, char *out, size_t cap)
{
	int pipefd[2];

	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();

	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		_exit(run_mode(m));
	}
	close(pipefd[1]);
	size_t n = 0;
	ssize_t r;

	while (n + 1 < cap && (r = read(pipefd[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(pipefd[0]);
	int st;

	waitpid(pid, &st, 0);
	return strstr(out, "ThreadSanitizer: data race") != NULL;
}

static void test_planted_race_is_reported(void **state)
{
	static char out[65536];

	(void)state;
	assert_true(child_reports_race(MODE_RACE, out, sizeof out));
}

static void test_atomics_layer_is_race_free(void **state)
{
	static char out[65536];

	(void)state;
	if (child_reports_race(MODE_ATOMIC, out, sizeof out))
		fail_msg("TSan flagged relaxed atomics:\n%s", out);
	if (child_reports_race(MODE_PUBLISH, out, sizeof out))
		fail_msg("TSan flagged release/acquire publication:\n%s", out);
}
#endif

int main(void)
{
#ifdef HAVE_TSAN
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_planted_race_is_reported),
		cmocka_unit_test(test_atomics_layer_is_race_free),
	};

	return run_tap_group(tests, NULL, NULL);
#else
	/* cmocka prints a skipped test as "not ok", which prove counts as a
	 * failure: skip the whole file in plain TAP instead. */
	printf("1..0 # SKIP not built with ThreadSanitizer (make tsan runs it)\n");
	return 0;
#endif
}
