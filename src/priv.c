/*
 * priv.c - give up root: chroot, setgroups, setresgid, setresuid, then
 * prove that uid 0 cannot come back (OpenSMTPD dispatcher.c, popa3d); and
 * the descriptor and environment hygiene of every process: what the
 * daemon inherited is closed at start-up, a connection's processes get
 * exactly the descriptors they need, the environment is scrubbed.
 * PRIVILEGE: the master (root) at start-up and in each forked monitor;
 * priv_drop() runs as root in the monitor before it forks the pre-auth
 * child and before it becomes the mail user (a no-op in rootless mode).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <paths.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "defaults.h"
#include "log.h"
#include "priv.h"
#include "sandbox.h"

/* The environment variable kept by priv_scrub_env(): the zone of the log
 * timestamps, the administrator's choice. */
#define PRIV_KEEP_ENV	"TZ"

static int started_as_root = -1;
/* The error text of the last failed call of this module; valid until the
 * next one. */
static char priv_errbuf[256];

static int __attribute__((format(printf, 2, 3)))
priv_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(priv_errbuf, sizeof priv_errbuf, fmt, ap);
	va_end(ap);
	*error_r = priv_errbuf;
	return -1;
}

int
priv_is_root(void)
{
	if (started_as_root == -1)
		started_as_root = geteuid() == 0;
	return started_as_root;
}

int
priv_drop(uid_t uid, gid_t gid, const char *chroot_dir)
{
	if (!priv_is_root())
		return 0;	/* rootless: we already are the only user */
	if (uid == 0 || uid == (uid_t)-1 || gid == 0 || gid == (gid_t)-1) {
		log_warnx("refusing to run a session as uid %ld gid %ld",
		    (long)uid, (long)gid);
		return -1;
	}
	if (chroot_dir != NULL && chroot_dir[0] != '\0') {
		if (chroot(chroot_dir) != 0 || chdir("/") != 0) {
			log_warn("chroot %s", chroot_dir);
			return -1;
		}
	}
	if (setgroups(1, &gid) != 0 ||
	    setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		log_warn("cannot drop privileges to %ld:%ld", (long)uid,
		    (long)gid);
		return -1;
	}
	/* Paranoia: root must be gone for good. */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != uid ||
	    geteuid() != uid || getgid() != gid || getegid() != gid) {
		log_warnx("privilege drop to %ld did not stick", (long)uid);
		return -1;
	}
	return 0;
}

void
priv_stdio_open(void)
{
	int fd;

	/* A daemon started with 0, 1 or 2 closed would give that number to
	 * the next open(): a listener or a client socket on "stderr". */
	while ((fd = open(_PATH_DEVNULL, O_RDWR)) != -1 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

void
priv_close_from(int lowfd)
{
#ifdef HAVE_CLOSEFROM
	closefrom(lowfd);
#else
	long fd, max = sysconf(_SC_OPEN_MAX);

	for (fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
		(void)close((int)fd);
#endif
}

void
priv_scrub_env(void)
{
	extern char **environ;
	char **old = environ, **e;
	const char *tz = getenv(PRIV_KEEP_ENV);
	char keep[256] = "";

	if (tz != NULL && strlen(tz) < sizeof keep)
		memcpy(keep, tz, strlen(tz) + 1);
	(void)clearenv();
	(void)setenv("PATH", _PATH_STDPATH, 1);
	if (keep[0] != '\0')
		(void)setenv(PRIV_KEEP_ENV, keep, 1);
	/* clearenv() only drops the pointers: the strings stay in every
	 * forked process's memory (and in /proc/PID/environ), where a
	 * compromised pre-auth child could read an administrator's tokens.
	 * Wipe them; libc keeps no pointer into them (tzset() and the
	 * sanitizer runtimes copy what they read). */
	for (e = old; e != NULL && *e != NULL; e++)
		explicit_bzero(*e, strlen(*e));
}

int
priv_child_fds(int client_fd, int log_fd, const char **error_r)
{
	int nul;

	if ((nul = open(_PATH_DEVNULL, O_RDWR | O_CLOEXEC)) == -1)
		return priv_error(error_r, "%s: %s", _PATH_DEVNULL,
		    strerror(errno));
	/* 0..2 first: none of them is CLIENT_FD or LOG_FD (the master's
	 * own 0..2 are always open), so nothing is overwritten. */
	if (dup2(log_fd != -1 ? log_fd : nul, STDERR_FILENO) == -1 ||
	    dup2(nul, STDIN_FILENO) == -1 || dup2(nul, STDOUT_FILENO) == -1)
		return priv_error(error_r, "dup2: %s", strerror(errno));
	if (client_fd != PRIV_CLIENT_FD &&
	    dup2(client_fd, PRIV_CLIENT_FD) == -1)
		return priv_error(error_r, "dup2: %s", strerror(errno));
	priv_close_from(PRIV_CLIENT_FD + 1);
	return PRIV_CLIENT_FD;
}

/* setrlimit(2) with soft = hard = V; -1 with *error_r set. */
static int
priv_limit(int resource, rlim_t v, const char *name, const char **error_r)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = v;
#ifdef POP23D_VALGRIND
	/* The valgrind test build (configure --enable-valgrind): valgrind
	 * keeps descriptors of its own above the hard limit it saw at
	 * start and refuses to change that limit; lower the soft one. */
	if (resource == RLIMIT_NOFILE && getrlimit(resource, &rl) == 0)
		rl.rlim_cur = v;
#endif
	if (setrlimit(resource, &rl) != 0)
		return priv_error(error_r, "setrlimit(%s, %lu): %s", name,
		    (unsigned long)v, strerror(errno));
	return 0;
}

int
priv_harden_preauth(const char **error_r)
{
	/* It creates no descriptor, writes no file, forks nothing. */
	if (priv_limit(RLIMIT_NOFILE, PREAUTH_RLIMIT_NOFILE, "RLIMIT_NOFILE",
	    error_r) != 0 ||
	    priv_limit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE", error_r) != 0 ||
	    priv_limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC", error_r) != 0)
		return -1;
	/* A write to a regular file then fails with EFBIG instead of
	 * killing the process (inetd mode may give it a file as stderr). */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		return priv_error(error_r, "signal(SIGXFSZ): %s",
		    strerror(errno));
	/* Last: it sets PR_SET_NO_NEW_PRIVS, and after it setrlimit() and
	 * signal() are no longer allowed. */
	return sandbox_preauth(error_r);
}

int
priv_harden_session(const char **error_r)
{
	/* The mail-user session never gains privileges again: no setuid
	 * or file-capability program could give it any. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return priv_error(error_r, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
	return 0;
}
