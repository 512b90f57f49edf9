/*
 * replay.h - run a libFuzzer corpus through a fuzzer's entry point once,
 * without libFuzzer, printing TAP (t_fuzz_replay_*.c).
 */
#ifndef HC_REPLAY_H
#define HC_REPLAY_H

#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char replay_current[512];

/* A divergence aborts: say which input it was. */
static void replay_on_abort(int sig)
{
	static const char msg[] = "# while replaying ";

	if (write(2, msg, sizeof msg - 1) < 0 ||
	    write(2, replay_current, strlen(replay_current)) < 0 ||
	    write(2, "\n", 1) < 0) {
		/* nothing more to say */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_corpus(const char *dir, int *argc, char ***argv,
                         int (*init)(int *, char ***),
                         int (*one)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0, bytes = 0;

	if (d == NULL) {
		printf("1..0 # SKIP no %s here (run from the top of the source "
		       "tree)\n", dir);
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap)
			names = realloc(names, (cap = cap ? 2 * cap : 256) * sizeof *names);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, replay_name_cmp);
	printf("1..1\n");
	fflush(stdout);
	snprintf(replay_current, sizeof replay_current, "(the fuzzer's set-up)");
	signal(SIGABRT, replay_on_abort);
	signal(SIGSEGV, replay_on_abort);
	signal(SIGBUS, replay_on_abort);
	if (init != NULL)
		init(argc, argv);
	for (size_t i = 0; i < n; i++) {
		snprintf(replay_current, sizeof replay_current, "%s/%s", dir, names[i]);
		FILE *f = fopen(replay_current, "rb");
		uint8_t *buf = malloc(1 << 16);
		size_t len = f ? fread(buf, 1, 1 << 16, f) : 0;

		if (f != NULL)
			fclose(f);
		one(buf, len);
		bytes += len;
		free(buf);
		free(names[i]);
	}
	free(names);
	printf("ok 1 - %zu inputs of %s (%zu bytes) replayed\n", n, dir, bytes);
	return 0;
}

#endif
