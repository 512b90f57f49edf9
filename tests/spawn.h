/*
 * spawn.h - start helper programs (h_*) that live beside the test binary,
 * as unrelated processes: fork + exec, nothing shared but the segment.
 */
#ifndef HC_SPAWN_H
#define HC_SPAWN_H

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Path of helper PROG in the directory of the running test. */
static inline void helper_path(char *out, size_t cap, const char *prog)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n < 0)
		n = 0;
	self[n] = '\0';
	snprintf(out, cap, "%s/%s", dirname(self), prog);
}

/* Start PROG with ARGV (NULL-terminated, argv[0] included). */
static inline pid_t spawn(const char *prog, char *const argv[])
{
	char path[PATH_MAX];
	pid_t pid;

	helper_path(path, sizeof path, prog);
	pid = fork();
	if (pid == 0) {
		/* Die with the test: a failed assertion must not leave
		 * workers running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(path, argv);
		fprintf(stderr, "exec %s failed\n", path);
		_exit(127);
	}
	return pid;
}

/* Start h_worker on segment NAME as worker ID for MS milliseconds. */
static inline pid_t spawn_worker(const char *name, unsigned id, unsigned ms,
                                 int zipf)
{
	char ids[16], mss[16];
	char *argv[] = { "h_worker", (char *)name, ids, mss,
	                 zipf ? "--zipf" : NULL, NULL };

	snprintf(ids, sizeof ids, "%u", id);
	snprintf(mss, sizeof mss, "%u", ms);
	return spawn("h_worker", argv);
}

/* Wait for PID; returns its exit status, or 128 + signal. */
static inline int wait_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

#endif
