/*
 * main.c - hostcached's life: options, pid file, segment, then the
 * maintenance thread, the server and (--redis) the link to the other
 * hosts, until SIGTERM or SIGINT.
 *
 * The segment outlives the daemon: stopping keeps it (and its data), so
 * that a restart attaches to it again, warm; only --unlink-on-exit
 * removes it.  A segment that exists but does not match what was asked
 * (another layout or version, another size) is refused, never silently
 * replaced: it may hold data that other processes use.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "hostcached.h"

/* The maintenance thread's pace: a call every few ms, each of at most
 * about 1 ms, keeps free blocks ahead of the writers without a core. */
#define MAINT_INTERVAL_MS 5
#define MAINT_BUDGET_US 1000

static struct hcd_config config;

/* ------------------------------------------------------------------ */
/* The pid file: locked while we run, so that a second daemon given the
 * same file refuses to start instead of overwriting it.               */

static int pidfile_fd = -1;

static int pidfile_take(const char *path)
{
	char text[32] = "";
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int n;

	if (fd < 0) {
		fprintf(stderr, "hostcached: pid file %s: %s; create its "
		        "directory or give another --pidfile\n", path,
		        strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		n = (int)read(fd, text, sizeof text - 1);
		text[n > 0 ? n : 0] = '\0';
		text[strcspn(text, "\n")] = '\0';
		fprintf(stderr, "hostcached: pid file %s: held by a running "
		        "hostcached (pid %s); stop it, or give another "
		        "--pidfile\n", path, text[0] ? text : "unknown");
		close(fd);
		return -1;
	}
	n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
		fprintf(stderr, "hostcached: pid file %s: %s\n", path,
		        strerror(errno));
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	return 0;
}

static void pidfile_remove(const char *path)
{
	if (pidfile_fd < 0)
		return;
	unlink(path);
	close(pidfile_fd);
	pidfile_fd = -1;
}

/* ------------------------------------------------------------------ */
/* The segment                                                         */

static int exit_status_of(int rc)
{
	return rc == HC_ENAME || rc == HC_ECONFIG || rc == HC_ETOOBIG
	       ? EXIT_USAGE : EXIT_RUNTIME;
}

/* One line saying why NAME could not be opened or made, and what to do. */
static int segment_refused(const char *name, int rc)
{
	const char *advice;

	switch (rc) {
	case HC_EVERSION:
		advice = "it was made by another version of hostcache: run the "
		         "hostcached of that version, or remove it with "
		         "'cachectl destroy NAME' (its data is lost)";
		break;
	case HC_ECORRUPT:
	case HC_EINIT:
		advice = "repair it with 'cachectl check --repair NAME', or "
		         "remove it with 'cachectl destroy NAME'";
		break;
	case HC_EPERM:
		advice = "run as the user that owns it, or create it with a "
		         "group --mode";
		break;
	case HC_ECONFIG:
	case HC_ETOOBIG:
		advice = "change --size or --max-procs";
		break;
	case HC_ENOSPC:
		advice = "give a smaller --size, or make /dev/shm larger";
		break;
	case HC_EPROCS:
		advice = "every process slot is taken; stop some users of it";
		break;
	default:
		advice = NULL;
	}
	fprintf(stderr, "hostcached: segment '%s': %s", name, hc_last_error());
	/* The library's message may already say which cachectl command
	 * helps; then that is the advice. */
	if (advice != NULL && strstr(hc_last_error(), "cachectl") == NULL) {
		fputs("; ", stderr);
		for (const char *p = advice; *p != '\0'; p++) {
			if (strncmp(p, "NAME", 4) == 0) {
				fputs(name, stderr);
				p += 3;
			} else {
				fputc(*p, stderr);
			}
		}
	}
	fputc('\n', stderr);
	return exit_status_of(rc);
}

/* An existing segment is kept only if it is what the options ask for. */
static int segment_check_existing(const struct hcd_config *cfg, hc_cache *c)
{
	hc_info info;
	hc_stats st;

	if (hc_info_get(c, &info) != 0 || hc_stats_get(c, &st) != 0)
		return segment_refused(cfg->name, HC_ECORRUPT);
	if (cfg->size_given && info.size != cfg->size) {
		fprintf(stderr, "hostcached: segment '%s': exists with %" PRIu64
		        " bytes, not the %" PRIu64 " that --size asks for; start "
		        "with --size %" PRIu64 " to keep its data, or remove it "
		        "with 'cachectl destroy %s' (its data is lost)\n",
		        cfg->name, info.size, cfg->size, info.size, cfg->name);
		return EXIT_RUNTIME;
	}
	if (cfg->max_procs != 0 && info.max_procs != cfg->max_procs) {
		fprintf(stderr, "hostcached: segment '%s': exists with %" PRIu32
		        " process slots, not the %" PRIu32 " that --max-procs "
		        "asks for; leave --max-procs out to keep its data, or "
		        "remove it with 'cachectl destroy %s'\n", cfg->name,
		        info.max_procs, cfg->max_procs, cfg->name);
		return EXIT_RUNTIME;
	}
	if (cfg->redis_url[0] != '\0' && info.journal_entries == 0) {
		fprintf(stderr, "hostcached: segment '%s': exists without a "
		        "journal, which --redis needs to tell the other hosts what "
		        "changed here; remove it with 'cachectl destroy %s' so that "
		        "hostcached creates it with one (its data is lost), or "
		        "create it with 'cachectl create %s --journal N'\n",
		        cfg->name, cfg->name, cfg->name);
		return EXIT_RUNTIME;
	}
	if (cfg->journal_given && info.journal_entries != cfg->journal_entries)
		log_msg(LOG_WARN, "segment '%s': exists with a journal of %" PRIu32
		        " entries; --journal %" PRIu32 " applies only when "
		        "creating it", cfg->name, info.journal_entries,
		        cfg->journal_entries);
	if (cfg->writeback_given && info.writeback_bytes != cfg->writeback_bytes)
		log_msg(LOG_WARN, "segment '%s': exists with a write-behind queue "
		        "of %" PRIu32 " bytes; --writeback %" PRIu64 " applies only "
		        "when creating it", cfg->name, info.writeback_bytes,
		        cfg->writeback_bytes);
	log_msg(LOG_INFO, "segment '%s': attached to the existing segment "
	        "(%" PRIu64 " bytes, %" PRIu64 " items kept)", cfg->name,
	        info.size, st.items);
	return 0;
}

/* Whether this run made the segment: a start that fails then removes it,
 * as it holds nothing yet. */
static bool segment_created;

static int segment_attach(const struct hcd_config *cfg, hc_cache **out)
{
	hc_config hc;
	int rc = hc_open(cfg->name, out);

	if (rc == HC_ENOSEG) {
		hc_config_init(&hc);
		hc.size = cfg->size;
		hc.mode = cfg->mode;
		hc.stale_grace_ms = cfg->stale_grace_ms;
		hc.journal_entries = config_journal_entries(cfg);
		hc.writeback_bytes = cfg->writeback_bytes;
		if (cfg->max_procs != 0)
			hc.max_procs = cfg->max_procs;
		rc = hc_create(cfg->name, &hc, out);
		if (rc == 0) {
			segment_created = true;
			log_msg(LOG_INFO, "segment '%s': created (%" PRIu64
			        " bytes, journal of %" PRIu32 " entries, write-behind "
			        "queue of %" PRIu64 " bytes)", cfg->name, cfg->size,
			        hc.journal_entries, hc.writeback_bytes);
			return 0;
		}
		if (rc != HC_ESEGEXISTS)
			return segment_refused(cfg->name, rc);
		rc = hc_open(cfg->name, out); /* made meanwhile by another */
	}
	if (rc != 0)
		return segment_refused(cfg->name, rc);
	rc = segment_check_existing(cfg, *out);
	if (rc != 0) {
		hc_close(*out);
		*out = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------ */

static void reload(void)
{
	config_reload(&config);
}

int main(int argc, char **argv)
{
	struct server *srv = NULL;
	hc_cache *cache = NULL;
	int status;

	status = config_from_args(&config, argc, argv);
	if (status != 0)
		return status < 0 ? EXIT_OK : status;
	log_set_level(config.log_level);
	signal(SIGPIPE, SIG_IGN);
	if (config.pidfile[0] != '\0' && pidfile_take(config.pidfile) != 0)
		return EXIT_RUNTIME;
	status = segment_attach(&config, &cache);
	if (status != 0)
		goto out;
	status = EXIT_RUNTIME;
	if (maint_start(cache, MAINT_INTERVAL_MS, MAINT_BUDGET_US) != 0)
		goto out;
	server_on_reload = reload;
	if (server_start(&config, &srv) != 0)
		goto out;
	/* After server_start: libevent's threading is set up. */
	if (redis_start(&config) != 0)
		goto out;
	log_msg(LOG_INFO, "hostcached %s ready: segment '%s', %u threads, pid "
	        "%ld", HOSTCACHED_VERSION, config.name, config.threads,
	        (long)getpid());
	server_run(srv);
	status = EXIT_OK;
out:
	redis_stop();
	server_stop(srv);
	maint_stop();
	server_free(srv);
	if (cache != NULL)
		hc_close(cache);
	if (cache != NULL && (config.unlink_on_exit ||
	                      (status != EXIT_OK && segment_created))) {
		int rc = hc_unlink(config.name);

		if (rc != 0)
			log_msg(LOG_WARN, "removing segment '%s': %s", config.name,
			        hc_strerror(rc));
		else
			log_msg(LOG_INFO, "segment '%s' removed", config.name);
	}
	pidfile_remove(config.pidfile);
	if (status == EXIT_OK)
		log_msg(LOG_INFO, "stopped");
	return status;
}
