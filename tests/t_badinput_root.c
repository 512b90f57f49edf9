/*
 * t_badinput_root - the row of the bad-input table (t_badinput.c) that
 * needs two users: a segment file of mode 0600 belongs to one user, and a
 * process of another user tries to use it.  It must get HC_EPERM from
 * hc_open and hc_unlink, HC_ESEGEXISTS from hc_create (O_EXCL decides
 * before permissions), and the file must not change.  The owner, by
 * contrast, attaches.
 *
 * Needs root, to chown the file and to drop to other users in forked
 * children (uid 65534 "nobody", and 65533); elsewhere it says skip, with
 * the reason.  Plain TAP, so that a skip is not counted as a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostcache.h"

#define NOBODY 65534
#define SOMEONE 65533

static char name[64], path[128];
static int tests;

static unsigned char *file_bytes(size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0)
		return NULL;
	unsigned char *b = malloc((size_t)st.st_size);

	if (b == NULL || pread(fd, b, (size_t)st.st_size, 0) != st.st_size) {
		free(b);
		close(fd);
		return NULL;
	}
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void result(int ok, const char *what)
{
	printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tests, what);
	fflush(stdout);
}

/* In a child running as UID: 0 when every expectation held, 100 when the
 * privileges could not be dropped, else the number of the failed step
 * (printed on stderr). */
static int as_user(uid_t uid, int owner)
{
	hc_cache *c = NULL;
	hc_config cfg;
	int rc;

	if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
		return 100;
	if (getuid() != uid || geteuid() != uid)
		return 100;
	if (owner) {
		rc = hc_open(name, &c);
		if (rc != 0) {
			fprintf(stderr, "# the owner could not attach: %s\n",
			        hc_last_error());
			return 1;
		}
		char buf[16];
		size_t len;

		rc = hc_get(c, "k", 1, buf, sizeof buf, &len);
		hc_close(c);
		return rc == 0 && len == 5 && memcmp(buf, "value", 5) == 0 ? 0 : 2;
	}
	rc = hc_open(name, &c);
	if (rc != HC_EPERM || c != NULL) {
		fprintf(stderr, "# hc_open as uid %u returned %d (%s), want HC_EPERM\n",
		        (unsigned)uid, rc, hc_strerror(rc));
		return 3;
	}
	if (strstr(hc_last_error(), "permission") == NULL) {
		fprintf(stderr, "# the message does not say why: %s\n", hc_last_error());
		return 4;
	}
	hc_config_init(&cfg);
	cfg.size = 2 << 20;
	cfg.max_procs = 4;
	rc = hc_create(name, &cfg, &c);
	if (rc != HC_ESEGEXISTS) {
		fprintf(stderr, "# hc_create as uid %u returned %d (%s), want "
		        "HC_ESEGEXISTS\n", (unsigned)uid, rc, hc_strerror(rc));
		return 5;
	}
	rc = hc_unlink(name);
	if (rc != HC_EPERM) {
		fprintf(stderr, "# hc_unlink as uid %u returned %d (%s), want "
		        "HC_EPERM\n", (unsigned)uid, rc, hc_strerror(rc));
		return 6;
	}
	return 0;
}

static int run_as(uid_t uid, int owner)
{
	int st;

	fflush(stdout);
	pid_t pid = fork();

	if (pid == 0)
		_exit(as_user(uid, owner));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	hc_config cfg;
	hc_cache *c;
	struct stat sb;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to give the segment file to another "
		       "user and to run as a third one\n");
		return 0;
	}
	snprintf(name, sizeof name, "/hc-test-perm-%ld", (long)getpid());
	snprintf(path, sizeof path, "/dev/shm%s", name);
	hc_unlink(name);
	hc_config_init(&cfg);
	cfg.size = 2 << 20;
	cfg.max_procs = 4;
	if (hc_create(name, &cfg, &c) != 0 || hc_set(c, "k", 1, "value", 5, 0) != 0) {
		printf("1..0 # SKIP cannot create a segment: %s\n", hc_last_error());
		return 0;
	}
	hc_close(c);

	/* Root's own 0600 file, and a process of another user. */
	int st = run_as(NOBODY, 0);

	if (st == 100) {
		hc_unlink(name);
		printf("1..0 # SKIP cannot drop privileges to uid %d here\n", NOBODY);
		return 0;
	}
	printf("1..5\n");
	size_t len0 = 0, len1 = 0;
	unsigned char *before = file_bytes(&len0);

	result(st == 0, "root's 0600 segment: another user gets HC_EPERM from "
	       "open and unlink, HC_ESEGEXISTS from create");

	/* The file given to nobody, still 0600: a third user is refused,
	 * the owner attaches. */
	int chowned = chown(path, NOBODY, NOBODY) == 0 && stat(path, &sb) == 0 &&
	              sb.st_uid == NOBODY && (sb.st_mode & 0777) == 0600;

	result(chowned, "the segment file now belongs to uid 65534, mode 0600");
	free(before);
	before = file_bytes(&len0);
	result(run_as(SOMEONE, 0) == 0, "a segment of uid 65534: uid 65533 gets "
	       "HC_EPERM from open and unlink, HC_ESEGEXISTS from create");
	unsigned char *after = file_bytes(&len1);

	result(before != NULL && after != NULL && len0 == len1 &&
	       memcmp(before, after, len0) == 0,
	       "the refused calls left the segment file as it was");
	result(run_as(NOBODY, 1) == 0, "its owner, uid 65534, attaches and reads it");
	free(before);
	free(after);
	hc_unlink(name);
	return 0;
}
