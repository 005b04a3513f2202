/*
 * auth_checkpassword.c - the "checkpassword" auth plugin: runs a site's
 * own program through qmail's checkpassword interface and takes its exit
 * status as the verdict.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * PRIVILEGE: verify_plain(), verify_apop() and lookup() run in the
 * per-connection monitor today, as root, so the program runs as root;
 * once the daemon's auth service honours the plugin flags, the program
 * runs as root only when "needs_root = yes" (POP23D_PLUGIN_F_NEEDS_ROOT;
 * many checkpassword programs read /etc/shadow), otherwise as the auth
 * service's unprivileged user.  Every call may take up to "timeout"
 * seconds (POP23D_PLUGIN_F_BLOCKING).  check_config() runs in the master
 * and only checks the settings and the program file.
 *
 * Config section [checkpassword]:
 *	program = /usr/local/sbin/checkpw	absolute; required; must pass
 *					the host's trusted_file() check
 *	timeout = 5		seconds a run may take, 1-30
 *	needs_root = yes	yes | no (sets POP23D_PLUGIN_F_NEEDS_ROOT)
 *	userdb = passwd		passwd | virtual (what lookup() answers)
 *	min_uid = 1000		userdb passwd: lowest uid that may log in
 *	home = /var/vmail/%u	userdb virtual: home template (%u, %%)
 *	apop = no		yes: APOP is checked by the program too
 *
 * The interface (qmail's checkpassword, as Dovecot and vpopmail use it):
 *	argv	PROGRAM NEXT, where NEXT is true(1) (CHECKPASSWORD_NEXT, the
 *		path configure found).  A checkpassword program that accepts
 *		the login execs NEXT, whose exit status 0 then becomes its
 *		own.  NEXT is fixed when pop23d is built: it is never taken
 *		from the configuration or the client, and it does nothing
 *		but exit 0, whoever runs it.
 *	fd 3	"user NUL password NUL timestamp NUL", at most 512 octets
 *		(CP_INPUT_MAX), then end of file.  USER/PASS and POP2 HELO
 *		send an empty timestamp; APOP sends the digest as the
 *		password and the greeting's <...> timestamp, so a program
 *		that knows the plaintext secret can check
 *		MD5(timestamp secret).  Longer credentials are refused
 *		(FAIL) without running the program.
 *	fd 0	/dev/null.
 *	fd 1, 2	one pipe to the plugin.  It is drained while the program
 *		runs; the first CP_OUTPUT_LOG octets are logged (escaped);
 *		more than CP_OUTPUT_MAX octets in all is a fault: the program
 *		is killed.  Nothing ever reaches the client.
 *	other	no other descriptor is inherited (closefrom in the child).
 *	env	only PATH (CP_ENV_PATH); cwd "/"; every signal at its
 *		default action and none blocked; its own process group.
 *	exit	0 OK; 1 FAIL; 3 NOUSER (Dovecot's "unknown user"); 111
 *		TEMPFAIL; every other status FAIL (2 is qmail's "misused").
 *		Killed by a signal: TEMPFAIL.
 *	time	at "timeout" seconds the whole process group gets SIGKILL
 *		and the call is TEMPFAIL.  When the program exits, whatever
 *		is left in its process group is killed too (a shell script's
 *		stray background job), and the program is reaped: nothing
 *		is left running and no zombie stays behind.  The host must
 *		not reap children it did not start (waitpid(-1)) nor ignore
 *		SIGCHLD.
 *
 * userdb passwd: verify_plain() first looks the user up (getpwnam_r): no
 * entry is NOUSER, and uid 0, gid 0 or a uid below min_uid is FAIL,
 * without running the program (root's password is never tried over POP).
 * lookup() gives the entry's uid, gid and home.  userdb virtual: the
 * program alone decides; lookup() gives no uid or gid (the daemon's
 * virtual_uid and virtual_gid) and the home template with %u expanded, a
 * user name with '/' or a leading '.' being refused (PERMFAIL) because it
 * would leave the template's directory.  Either way the maildrop is the
 * daemon's mail_location.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pop23d/plugin.h"
#include "apop.h"
#include "hostcheck.h"
#include "sysuser.h"

#define CP_NAME		"checkpassword"

/* qmail's checkpassword(8): "at most 512 bytes" on descriptor 3. */
#define CP_INPUT_MAX	512
/* Seconds a run may take.  5 s covers a program that asks a network
 * service.  At most 30 s: doc/SECURITY.md A4 wants every hung auth call
 * ended by then.  A host that bounds an auth op itself must allow more
 * than this: a process killed by the host leaves its checkpassword
 * program (in a process group of its own) running. */
#define CP_TIMEOUT_DEFAULT	5
#define CP_TIMEOUT_MAX		30
/* Output: a checkpassword program has nothing to say on success; a few
 * lines of diagnostics fit in 64 KiB.  More is a fault. */
#define CP_OUTPUT_MAX	(64 * 1024)
/* Octets of output copied into the log, escaped. */
#define CP_OUTPUT_LOG	200
/* The one variable of the program's environment. */
#define CP_ENV_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"
/* Our pipe ends are moved to this descriptor or above, so the child's
 * dup2() onto 1, 2 and 3 never meets one of them. */
#define CP_FD_LOW	10
/* The exit statuses with a meaning (see the file header). */
#define CP_EXIT_OK	0
#define CP_EXIT_NOUSER	3
#define CP_EXIT_TEMP	111
/* Without pidfd_open(): how often a running program is checked. */
#define CP_POLL_MS	10

#ifndef CHECKPASSWORD_NEXT
#define CHECKPASSWORD_NEXT	"/bin/true"
#endif

enum cp_userdb {
	CP_USERDB_PASSWD = 1,
	CP_USERDB_VIRTUAL = 2,
};

struct cp_settings {
	char program[PATH_MAX];
	int timeout_s;
	int needs_root;
	enum cp_userdb userdb;
	unsigned long min_uid;
	char home[PATH_MAX];	/* userdb virtual: template, "" if none */
	int apop;
};

/* How a run ended. */
struct cp_outcome {
	int status;		/* waitpid() status */
	int lost;		/* could not be waited for */
	int timed_out;
	int flooded;		/* more than CP_OUTPUT_MAX octets */
	size_t out_len;		/* octets of output seen */
	char out[CP_OUTPUT_LOG];	/* the first of them */
};

static const struct pop23d_host *host;
static struct cp_settings settings;
static int settings_ok;
static const char *settings_error;	/* static text or errbuf */
static char errbuf[PATH_MAX + 200];
static int apop_off_logged;

static struct pop23d_plugin cp_plugin;

/* ------------------------------------------------------------ settings */

static const char * __attribute__((format(printf, 1, 2)))
cp_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return errbuf;
}

/* "yes"/"no" into *B (DEF when V is NULL).  0, or -1. */
static int
parse_bool(const char *v, int def, int *b)
{
	if (v == NULL)
		*b = def;
	else if (strcmp(v, "yes") == 0)
		*b = 1;
	else if (strcmp(v, "no") == 0)
		*b = 0;
	else
		return -1;
	return 0;
}

/* A home template: absolute, only %u and %% escapes, no control
 * characters.  NULL if good, else the reason. */
static const char *
check_template(const char *t)
{
	const char *p;

	if (*t != '/')
		return "home is not an absolute path";
	for (p = t; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "control character in home";
		if (*p == '%') {
			p++;
			if (*p != 'u' && *p != '%')
				return "home: only %u and %% may follow '%'";
		}
	}
	return NULL;
}

/* Check the program file.  NULL if good, else the reason. */
static const char *
check_program(const char *path)
{
	const char *why;

	/* Root runs it at every login: like a plugin, it must be root's
	 * and writable by nobody else, all the way up (StrictModes). */
	if (host->api >= 3 && host->trusted_file(path, &why) != 0)
		return cp_error("program %s", why);
	if (access(path, X_OK) != 0)
		return cp_error("program %s: %s", path, strerror(errno));
	return NULL;
}

/* Read [checkpassword] into SETTINGS and set the descriptor's flags.
 * 0, or -1 with settings_error set.  CHECK_FILE: also check the
 * program file (check_config(); a run checks it anyway). */
static int
cp_read_settings(int check_file)
{
	struct cp_settings s;
	const char *v, *why;
	char *end;
	long n;

	memset(&s, 0, sizeof s);
	settings_ok = 0;
	v = host->config_get(CP_NAME, "program");
	if (v == NULL || *v == '\0') {
		settings_error = "program is not set";
		return -1;
	}
	if (*v != '/' || strlen(v) >= sizeof s.program) {
		settings_error = "program must be an absolute path";
		return -1;
	}
	memcpy(s.program, v, strlen(v) + 1);

	s.timeout_s = CP_TIMEOUT_DEFAULT;
	if ((v = host->config_get(CP_NAME, "timeout")) != NULL) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || *v == '+' ||
		    n < 1 || n > CP_TIMEOUT_MAX) {
			settings_error = "timeout must be a number of seconds "
			    "from 1 to 30";
			return -1;
		}
		s.timeout_s = (int)n;
	}
	if (parse_bool(host->config_get(CP_NAME, "needs_root"), 1,
	    &s.needs_root) != 0) {
		settings_error = "needs_root must be yes or no";
		return -1;
	}
	if (parse_bool(host->config_get(CP_NAME, "apop"), 0, &s.apop) != 0) {
		settings_error = "apop must be yes or no";
		return -1;
	}

	v = host->config_get(CP_NAME, "userdb");
	if (v == NULL || strcmp(v, "passwd") == 0)
		s.userdb = CP_USERDB_PASSWD;
	else if (strcmp(v, "virtual") == 0)
		s.userdb = CP_USERDB_VIRTUAL;
	else {
		settings_error = "userdb must be passwd or virtual";
		return -1;
	}
	s.min_uid = SYSUSER_MIN_UID_DEFAULT;
	if ((v = host->config_get(CP_NAME, "min_uid")) != NULL) {
		if (s.userdb != CP_USERDB_PASSWD) {
			settings_error = "min_uid needs userdb = passwd";
			return -1;
		}
		if (sysuser_parse_min_uid(v, &s.min_uid, &why) != 0) {
			settings_error = why;
			return -1;
		}
	}
	if ((v = host->config_get(CP_NAME, "home")) != NULL) {
		if (s.userdb != CP_USERDB_VIRTUAL) {
			settings_error = "home needs userdb = virtual (with "
			    "userdb = passwd the home is the user's own)";
			return -1;
		}
		if (strlen(v) >= sizeof s.home) {
			settings_error = "home is too long";
			return -1;
		}
		if ((why = check_template(v)) != NULL) {
			settings_error = why;
			return -1;
		}
		memcpy(s.home, v, strlen(v) + 1);
	}
	if (check_file && (why = check_program(s.program)) != NULL) {
		settings_error = why;
		return -1;
	}
	settings = s;
	settings_ok = 1;
	cp_plugin.flags = POP23D_PLUGIN_F_BLOCKING |
	    (s.needs_root ? POP23D_PLUGIN_F_NEEDS_ROOT : 0);
	return 0;
}

/* ----------------------------------------------------------------- run */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A close-on-exec pipe whose ends are both at CP_FD_LOW or above. */
static int
pipe_high(int p[2])
{
	int q[2], i;

	if (pipe2(q, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		p[i] = fcntl(q[i], F_DUPFD_CLOEXEC, CP_FD_LOW);
		close(q[i]);
	}
	if (p[0] == -1 || p[1] == -1) {
		if (p[0] != -1)
			close(p[0]);
		if (p[1] != -1)
			close(p[1]);
		p[0] = p[1] = -1;
		return -1;
	}
	return 0;
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* Close every descriptor from 4 up in the child. */
static int
spawn_closefrom(posix_spawn_file_actions_t *fa)
{
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	return posix_spawn_file_actions_addclosefrom_np(fa, 4);
#else
	struct dirent *de;
	DIR *d;
	long fd;
	int r = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return errno;
	while (r == 0 && (de = readdir(d)) != NULL) {
		fd = strtol(de->d_name, NULL, 10);
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && fd >= 4 &&
		    fd != dirfd(d))
			r = posix_spawn_file_actions_addclose(fa, (int)fd);
	}
	closedir(d);
	return r;
#endif
}

/*
 * Start the program with CRED_FD as its descriptor 3 and OUT_FD as 1 and
 * 2 (see the file header).  0 with *PID_R, or an errno value.
 */
static int
cp_spawn(int cred_fd, int out_fd, pid_t *pid_r)
{
	static char env_path[] = CP_ENV_PATH;
	char *const envp[] = { env_path, NULL };
	char *argv[3];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int r;

	argv[0] = settings.program;
	argv[1] = (char *)CHECKPASSWORD_NEXT;
	argv[2] = NULL;
	sigfillset(&all);
	sigemptyset(&none);
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	if ((r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, out_fd, 2)) == 0 &&
	    (r = posix_spawn_file_actions_adddup2(&fa, cred_fd, 3)) == 0 &&
	    (r = spawn_closefrom(&fa)) == 0 &&
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
	    (r = posix_spawn_file_actions_addchdir_np(&fa, "/")) == 0 &&
#endif
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
	    (r = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (r = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP)) == 0)
		r = posix_spawn(pid_r, settings.program, &fa, &attr, argv,
		    envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

/* A descriptor that becomes readable when PID exits, or -1. */
static int
cp_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/*
 * 1 once PID has exited (it is not reaped: its process group stays valid
 * for kill()), 0 while it runs, -1 if it cannot be waited for (ECHILD: a
 * host that ignores SIGCHLD or reaps children it did not start).
 */
static int
cp_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
	    -1) {
		if (errno != EINTR)
			return -1;
	}
	return si.si_pid == pid;
}

/* Read what OUT_FD has now into O; close it at end of file. */
static void
cp_drain(int *out_fd, struct cp_outcome *o)
{
	char buf[4096];
	size_t keep;
	ssize_t n;

	while (*out_fd != -1 && !o->flooded) {
		n = read(*out_fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(out_fd);
			return;
		}
		if (o->out_len < sizeof o->out) {
			keep = sizeof o->out - o->out_len;
			if (keep > (size_t)n)
				keep = (size_t)n;
			memcpy(o->out + o->out_len, buf, keep);
		}
		o->out_len += (size_t)n;
		if (o->out_len > CP_OUTPUT_MAX)
			o->flooded = 1;
	}
}

/*
 * Wait for PID until it exits, floods its output or the deadline passes;
 * then kill what is left of its process group and reap it.
 */
static void
cp_wait(pid_t pid, int out_fd, struct cp_outcome *o)
{
	int64_t deadline = now_ms() + (int64_t)settings.timeout_s * 1000;
	int64_t left;
	struct pollfd pfd[2];
	int pidfd = cp_pidfd(pid), n, exited = 0;

	(void)fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		if ((exited = cp_exited(pid)) != 0)
			break;
		left = deadline - now_ms();
		if (left <= 0) {
			o->timed_out = 1;
			break;
		}
		n = 0;
		if (out_fd != -1) {
			pfd[n].fd = out_fd;
			pfd[n++].events = POLLIN;
		}
		if (pidfd != -1) {
			pfd[n].fd = pidfd;
			pfd[n++].events = POLLIN;
		} else if (left > CP_POLL_MS)
			left = CP_POLL_MS;
		if (poll(pfd, (nfds_t)n, (int)left) == -1 && errno != EINTR) {
			host->log(LOG_ERR, "poll: %s", strerror(errno));
			o->timed_out = 1;
			break;
		}
		cp_drain(&out_fd, o);
		if (o->flooded)
			break;
	}
	if (exited == -1) {
		/* Reaped behind our back: the pid may already belong to
		 * someone else, so nothing is killed. */
		host->log(LOG_ERR, "cannot wait for %s: %s (the host must not "
		    "ignore SIGCHLD nor reap children it did not start)",
		    settings.program, strerror(errno));
		o->lost = 1;
	} else {
		/* The program is a zombie or still running, not reaped: its
		 * process group is still ours to kill.  Then reap it. */
		(void)kill(-pid, SIGKILL);
		if (exited == 0)
			(void)kill(pid, SIGKILL);
		else
			cp_drain(&out_fd, o);
		while (waitpid(pid, &o->status, 0) == -1 && errno == EINTR)
			;
	}
	close_fd(&out_fd);
	if (pidfd != -1)
		close(pidfd);
}

/* Copy the first octets of the output into OUT, escaped, for the log. */
static void
cp_escape(const struct cp_outcome *o, char *out, size_t size)
{
	size_t i, n = o->out_len < sizeof o->out ? o->out_len : sizeof o->out;
	size_t w = 0;
	unsigned char c;

	for (i = 0; i < n && w + 5 < size; i++) {
		c = (unsigned char)o->out[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[w++] = (char)c;
		else
			w += (size_t)snprintf(out + w, size - w, "\\x%02x", c);
	}
	out[w] = '\0';
}

/* The verdict of a finished run (see the file header), logged. */
static enum pop23d_result
cp_verdict(const char *user, const struct cp_outcome *o)
{
	char shown[CP_OUTPUT_LOG * 4 + 1];
	int code;

	if (o->out_len > 0) {
		cp_escape(o, shown, sizeof shown);
		host->log(LOG_WARNING, "user=%s: %s wrote %zu octets%s: %s",
		    user, settings.program, o->out_len,
		    o->flooded ? " (too many: killed)" : "", shown);
	}
	if (o->flooded || o->lost)
		return POP23D_TEMPFAIL;
	if (o->timed_out) {
		host->log(LOG_ERR, "user=%s: %s gave no answer within %d s: "
		    "killed", user, settings.program, settings.timeout_s);
		return POP23D_TEMPFAIL;
	}
	if (WIFSIGNALED(o->status)) {
		host->log(LOG_ERR, "user=%s: %s died of signal %d", user,
		    settings.program, WTERMSIG(o->status));
		return POP23D_TEMPFAIL;
	}
	if (!WIFEXITED(o->status))
		return POP23D_TEMPFAIL;
	code = WEXITSTATUS(o->status);
	switch (code) {
	case CP_EXIT_OK:
		return POP23D_OK;
	case 1:
		return POP23D_FAIL;
	case CP_EXIT_NOUSER:
		return POP23D_NOUSER;
	case CP_EXIT_TEMP:
		host->log(LOG_WARNING, "user=%s: %s: temporary failure (exit "
		    "111)", user, settings.program);
		return POP23D_TEMPFAIL;
	default:
		host->log(LOG_WARNING, "user=%s: %s exited with %d: taken as "
		    "a refusal", user, settings.program, code);
		return POP23D_FAIL;
	}
}

/* Write all LEN octets of BUF to FD.  0 or -1. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Run the program on USER, SECRET, TIMESTAMP (see the file header). */
static enum pop23d_result
cp_run(const char *user, const char *secret, const char *timestamp)
{
	char in[CP_INPUT_MAX];
	size_t ul = strlen(user), sl = strlen(secret), tl = strlen(timestamp);
	size_t n = ul + 1 + sl + 1 + tl + 1;
	struct cp_outcome o;
	int cred[2] = { -1, -1 }, out[2] = { -1, -1 }, r, e;
	const char *why;
	pid_t pid = -1;		/* set by posix_spawn() when it returns 0 */

	if (ul > CP_INPUT_MAX || sl > CP_INPUT_MAX || n > CP_INPUT_MAX) {
		host->log(LOG_INFO, "user=%s: credentials longer than %d "
		    "octets: refused", user, CP_INPUT_MAX);
		return POP23D_FAIL;
	}
	if ((why = check_program(settings.program)) != NULL) {
		host->log(LOG_ERR, "%s", why);
		return POP23D_TEMPFAIL;
	}
	if (pipe_high(cred) == -1 || pipe_high(out) == -1) {
		e = errno;
		close_fd(&cred[0]);
		close_fd(&cred[1]);
		host->log(LOG_ERR, "pipe: %s", strerror(e));
		return POP23D_TEMPFAIL;
	}
	memcpy(in, user, ul + 1);
	memcpy(in + ul + 1, secret, sl + 1);
	memcpy(in + ul + 1 + sl + 1, timestamp, tl + 1);
	/* At most 512 octets: the pipe takes them without blocking
	 * (PIPE_BUF is 4096), so they are written before the start. */
	r = write_all(cred[1], in, n);
	e = errno;
	host->secure_zero(in, sizeof in);
	close_fd(&cred[1]);
	if (r == 0)
		r = cp_spawn(cred[0], out[1], &pid);
	else
		r = e;
	close_fd(&cred[0]);
	close_fd(&out[1]);
	if (r != 0) {
		close_fd(&out[0]);
		host->log(LOG_ERR, "cannot run %s: %s", settings.program,
		    strerror(r));
		return POP23D_TEMPFAIL;
	}
	memset(&o, 0, sizeof o);
	cp_wait(pid, out[0], &o);
	return cp_verdict(user, &o);
}

/* ---------------------------------------------------------------- ops */

/* userdb passwd: may USER be checked at all?  1, or 0 with *R set. */
static int
cp_passwd_user(const char *user, struct sysuser *u,
    enum pop23d_result refused, enum pop23d_result *r)
{
	return sysuser_lookup(host, user, settings.min_uid, refused, u, r);
}

static enum pop23d_result
cp_check(const char *user, const char *secret, const char *timestamp)
{
	struct sysuser u;
	enum pop23d_result r;

	if (!settings_ok) {
		host->log(LOG_ERR, "[" CP_NAME "]: %s", settings_error);
		return POP23D_TEMPFAIL;
	}
	if (settings.userdb == CP_USERDB_PASSWD &&
	    !cp_passwd_user(user, &u, POP23D_FAIL, &r))
		return r;
	return cp_run(user, secret, timestamp);
}

static enum pop23d_result
cp_verify_plain(const char *user, const char *pass)
{
	if (user == NULL || pass == NULL || *user == '\0' || *pass == '\0')
		return POP23D_FAIL;
	return cp_check(user, pass, "");
}

static enum pop23d_result
cp_verify_apop(const char *user, const char *challenge, const char *digest)
{
	/* The argument rules are apop.c's; the digest itself is the
	 * program's to check (it has the secret). */
	if (apop_args(user, challenge, digest) == 0)
		return POP23D_FAIL;
	if (settings_ok && !settings.apop) {
		if (!apop_off_logged)
			host->log(LOG_INFO, "APOP refused: [" CP_NAME "] apop "
			    "is not enabled");
		apop_off_logged = 1;
		return POP23D_FAIL;
	}
	return cp_check(user, digest, challenge);
}

/* Expand the home template for USER into OUT.  0, or -1 if USER cannot
 * be part of a path or the result does not fit. */
static int
cp_expand_home(const char *user, char *out, size_t size)
{
	const char *p, *ins;
	size_t w = 0, len;

	if (*user == '.' || strchr(user, '/') != NULL)
		return -1;
	for (p = settings.home; *p != '\0'; p++) {
		ins = p;
		len = 1;
		if (*p == '%') {
			p++;
			ins = *p == 'u' ? user : "%";
			len = strlen(ins);
		}
		if (w + len >= size)
			return -1;
		memcpy(out + w, ins, len);
		w += len;
	}
	out[w] = '\0';
	return 0;
}

static enum pop23d_result
cp_lookup(const char *user, struct pop23d_identity *id_r)
{
	struct sysuser u;
	enum pop23d_result r;

	id_r->uid = (uid_t)-1;
	id_r->gid = (gid_t)-1;
	id_r->home[0] = '\0';
	id_r->maildrop[0] = '\0';
	if (user == NULL || *user == '\0')
		return POP23D_NOUSER;
	if (!settings_ok)
		return POP23D_TEMPFAIL;
	if (settings.userdb == CP_USERDB_PASSWD) {
		if (!cp_passwd_user(user, &u, POP23D_PERMFAIL, &r))
			return r;
		return sysuser_identity(&u, id_r);
	}
	if (settings.home[0] != '\0' &&
	    cp_expand_home(user, id_r->home, sizeof id_r->home) != 0) {
		host->log(LOG_WARNING, "user=%s: the name cannot be part of "
		    "the home template", user);
		id_r->home[0] = '\0';
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}

static int
cp_check_config(const char **error_r)
{
	if (cp_read_settings(1) != 0) {
		*error_r = settings_error;
		return -1;
	}
	return 0;
}

static const char *const cp_config_keys[] = {
	"program", "timeout", "needs_root", "userdb", "min_uid", "home",
	"apop", NULL
};

static const struct pop23d_auth_ops cp_auth_ops = {
	.verify_plain = cp_verify_plain,
	.lookup = cp_lookup,
	.verify_apop = cp_verify_apop,
};

/* Not const: the flags follow needs_root. */
static struct pop23d_plugin cp_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 3,		/* host->trusted_file */
	.kind = POP23D_PLUGIN_AUTH,
	.name = CP_NAME,
	.config_keys = cp_config_keys,
	.check_config = cp_check_config,
	.auth = &cp_auth_ops,
	.store = NULL,
	.flags = POP23D_PLUGIN_F_NEEDS_ROOT | POP23D_PLUGIN_F_BLOCKING,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, h, plugin_r, &cp_plugin, HOSTCHECK_CONFIG_GET |
	    HOSTCHECK_SECURE_ZERO | HOSTCHECK_TRUSTED_FILE) != 0)
		return -1;
	host = h;
	apop_off_logged = 0;
	/* The flags must be right before check_config(): the host may read
	 * them as soon as init returns.  check_config() reports errors. */
	(void)cp_read_settings(0);
	*plugin_r = &cp_plugin;
	return 0;
}
