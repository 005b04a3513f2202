/*
 * dotlock.c - mbox dotlocks (MBOX.lock) for storage plugins, the host
 * service host->dotlock (plugin API 6), and the dotlock helper.
 *
 * PRIVILEGE: dotlock_helper_start() runs as root in the session process
 * before its privilege drop and forks the helper, which runs as the mail
 * user with one extra group (the spool's, "mail" on Debian) and
 * PR_SET_NO_NEW_PRIVS.  Everything else runs as the mail user in the
 * session.
 *
 * Why a helper (doc/DESIGN.md, "The mbox storage", and SECURITY.md):
 * Debian's /var/mail is root:mail 2775, so creating /var/mail/USER.lock
 * needs gid mail.  The session must not have it: with gid mail it could
 * open every spool that is group mail (mode 0660 ones).  Debian's own
 * answer, the setgid dotlockfile(1), cannot run from the session either
 * (PR_SET_NO_NEW_PRIVS ignores the setgid bit).  So the session forks,
 * before it drops root, a helper that keeps gid mail, knows one lock
 * name (LOCATION.lock, fixed before the fork, never from the session) and
 * understands three requests: take it, touch it (a long UPDATE keeps it
 * from looking stale), remove it.  A compromised session can make it do
 * nothing else.  When the session ends (also kill -9) the
 * helper reads EOF, removes the lock if it holds it, and exits.
 *
 * The lock is made as liblockfile makes it (NFS-safe): a unique file in
 * the same directory holding our pid, link()ed to the lock name; the link
 * count of the unique file says whether it worked.  A lock is stale when
 * the pid it holds is not a live process, or when it is older than the
 * plugin's stale age (liblockfile: 5 minutes); a stale lock is removed
 * and the link tried once more.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "dotlock.h"
#include "log.h"
#include "priv.h"

/* A request to the helper: op (u32: DL_TAKE, DL_RELEASE or DL_REFRESH),
 * stale seconds (u32). */
enum { DL_RELEASE = 0, DL_TAKE = 1, DL_REFRESH = 2 };
struct dl_req {
	unsigned op, stale;
};
struct dl_rep {
	int r, err;
};

static int helper_fd = -1;
static char helper_mbox[PATH_MAX];

/* Locks this process took in-process, by path (FOLD opens one mailbox at
 * a time; a few slots are plenty). */
#define HELD_MAX	4
static struct {
	char path[PATH_MAX];
	ino_t ino;
	int stuck;	/* released, but the unlink failed: still ours */
} held[HELD_MAX];

/* Is the lock at LOCKPATH (lstat'ed as ST) stale? */
static int
stale_lock(const char *lockpath, const struct stat *st, unsigned stale)
{
	char buf[32];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			errno = 0;
			pid = strtol(buf, &end, 10);
			if (errno == 0 && end != buf && pid > 1 &&
			    pid < INT_MAX && (*end == '\n' || *end == '\0') &&
			    kill((pid_t)pid, 0) == -1 && errno == ESRCH)
				return 1;
		}
	}
	return time(NULL) - st->st_mtime > (time_t)stale;
}

int
dotlock_try(const char *lockpath, unsigned stale, ino_t *ino_r)
{
	char tmp[PATH_MAX], pidbuf[24], host[64];
	const char *slash = strrchr(lockpath, '/');
	struct stat st, lst;
	int fd, n, tries, linked, serrno;
	size_t dlen;

	if (slash == NULL) {
		errno = EINVAL;
		return -1;
	}
	dlen = (size_t)(slash - lockpath) + 1;
	if (gethostname(host, sizeof host) != 0)
		strlcpy(host, "localhost", sizeof host);
	host[strcspn(host, "./")] = '\0';
	for (tries = 0; tries < 2; tries++) {
		n = snprintf(tmp, sizeof tmp, "%.*s.lk%05ld%lx%s", (int)dlen,
		    lockpath, (long)getpid(), (unsigned long)time(NULL) ^
		    (unsigned long)random(), host);
		if (n < 0 || (size_t)n >= sizeof tmp) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd == -1)
			return -1;
		n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
		if (write(fd, pidbuf, (size_t)n) != n) {
			serrno = errno;
			close(fd);
			unlink(tmp);
			errno = serrno;
			return -1;
		}
		close(fd);
		linked = link(tmp, lockpath) == 0;
		serrno = errno;
		/* NFS may report a failure of a link() that worked: the link
		 * count of the unique file is the truth (liblockfile). */
		if (stat(tmp, &st) == 0 && st.st_nlink == 2)
			linked = 1;
		unlink(tmp);
		if (linked) {
			if (lstat(lockpath, &lst) != 0)
				return -1;
			*ino_r = lst.st_ino;
			return 0;
		}
		if (serrno != EEXIST) {
			errno = serrno;
			return -1;
		}
		if (lstat(lockpath, &lst) != 0) {
			if (errno == ENOENT)
				continue;	/* just released: again */
			return -1;
		}
		if (tries > 0 || !S_ISREG(lst.st_mode) ||
		    !stale_lock(lockpath, &lst, stale))
			return 1;
		/* Break it, but only if it is still the lock we judged. */
		if (lstat(lockpath, &st) == 0 && st.st_ino == lst.st_ino &&
		    st.st_mtime == lst.st_mtime && unlink(lockpath) == 0)
			log_warnx("removed the stale dotlock %s", lockpath);
	}
	return 1;
}

int
dotlock_remove(const char *lockpath, ino_t ino)
{
	struct stat st;

	if (lstat(lockpath, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (st.st_ino != ino) {
		log_warnx("dotlock %s was replaced by another program: left "
		    "alone", lockpath);
		return 0;
	}
	return unlink(lockpath);
}

/*
 * A release whose unlink failed (EIO, a full or read-only disk) leaves
 * our own lock file behind, with our pid in it: nobody else may break
 * it while we live, and neither may we, so the next take would wait for
 * lock_timeout and fail.  The lock is still ours: the next take reclaims
 * it (0) when the file is the one we made, refreshing its time so it is
 * not judged stale by age; 1 when it is gone or was replaced.
 */
static int
dotlock_reclaim(const char *lockpath, ino_t ino)
{
	struct stat st;

	if (lstat(lockpath, &st) != 0 || st.st_ino != ino ||
	    !S_ISREG(st.st_mode))
		return 1;
	(void)utimensat(AT_FDCWD, lockpath, NULL, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/*
 * Touch the lock we hold (its inode INO) so that nobody judges it stale
 * by age while a long UPDATE runs (liblockfile breaks a lock older than
 * 5 minutes).  0, or -1 with errno (ESTALE: it is gone or was replaced,
 * by a program that broke it).
 */
static int
dotlock_touch(const char *lockpath, ino_t ino)
{
	struct stat st;

	if (lstat(lockpath, &st) != 0)
		return -1;
	if (st.st_ino != ino || !S_ISREG(st.st_mode)) {
		errno = ESTALE;
		return -1;
	}
	return utimensat(AT_FDCWD, lockpath, NULL, AT_SYMLINK_NOFOLLOW);
}

/* The helper's loop: never returns. */
static void __attribute__((noreturn))
helper_main(int fd, const char *lockpath)
{
	struct dl_req q;
	struct dl_rep p;
	ino_t ino = 0;
	int have = 0;		/* 0 none, 1 held, 2 stuck (dotlock_reclaim) */
	ssize_t n;

	for (;;) {
		n = recv(fd, &q, sizeof q, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof q)
			break;		/* EOF: the session is gone */
		p.err = 0;
		if (q.op == DL_TAKE && have == 2 &&
		    dotlock_reclaim(lockpath, ino) == 0) {
			p.r = 0;
			have = 1;
		} else if (q.op == DL_TAKE && have != 1) {
			p.r = dotlock_try(lockpath, q.stale, &ino);
			have = p.r == 0;
		} else if (q.op == DL_REFRESH && have == 1) {
			p.r = dotlock_touch(lockpath, ino);
		} else if (q.op == DL_RELEASE && have == 1) {
			p.r = dotlock_remove(lockpath, ino);
			have = p.r == 0 ? 0 : 2;
		} else {
			p.r = -1;
			errno = EINVAL;
		}
		if (p.r == -1)
			p.err = errno;
		if (send(fd, &p, sizeof p, MSG_NOSIGNAL) != (ssize_t)sizeof p)
			break;
	}
	if (have)
		(void)dotlock_remove(lockpath, ino);
	_exit(0);
}

int
dotlock_helper_start(const struct config *cfg, const char *location,
    uid_t uid, gid_t gid)
{
	char lockpath[PATH_MAX], dir[PATH_MAX], buf[4096];
	const char *group, *slash;
	struct group gr, *grp = NULL;
	struct stat st;
	int sv[2], fd;
	pid_t pid;

	if (!priv_is_root() || strcmp(cfg->store_plugin, "mbox") != 0 ||
	    (group = config_plugin_get(cfg, "mbox", "dotlock_group")) ==
	    NULL || location[0] != '/')
		return 0;
	if (getgrnam_r(group, &gr, buf, sizeof buf, &grp) != 0 ||
	    grp == NULL || grp->gr_gid == 0) {
		log_warnx("[mbox] dotlock_group %s: no such group (or root)",
		    group);
		return -1;
	}
	slash = strrchr(location, '/');
	snprintf(dir, sizeof dir, "%.*s", (int)(slash - location + 1),
	    location);
	/* Only for a spool the user cannot write but the group can. */
	if (stat(dir, &st) != 0 || st.st_gid != grp->gr_gid ||
	    !(st.st_mode & S_IWGRP) || (st.st_mode & S_IWOTH) ||
	    st.st_uid == uid)
		return 0;
	if (snprintf(lockpath, sizeof lockpath, "%s.lock", location) >=
	    (int)sizeof lockpath)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("dotlock helper socketpair");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("dotlock helper fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		gid_t groups[2] = { gid, grp->gr_gid };

		/* Nothing but the socket: not the client, not the log;
		 * 0-2 on /dev/null so no later file lands there. */
		for (fd = 0; fd < 1024; fd++)
			if (fd != sv[1])
				close(fd);
		for (fd = 0; fd < 3; fd++)
			if (open("/dev/null", O_RDWR | O_CLOEXEC) == -1)
				_exit(1);
		if (setgroups(2, groups) != 0 ||
		    setresgid(gid, gid, gid) != 0 ||
		    setresuid(uid, uid, uid) != 0 || setuid(0) == 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(1);
		helper_main(sv[1], lockpath);
	}
	close(sv[1]);
	helper_fd = sv[0];
	strlcpy(helper_mbox, location, sizeof helper_mbox);
	return 0;
}

static int
via_helper(int op, unsigned stale)
{
	struct dl_req q = { (unsigned)op, stale };
	struct dl_rep p;
	ssize_t n;

	if (send(helper_fd, &q, sizeof q, MSG_NOSIGNAL) != (ssize_t)sizeof q)
		return -1;
	while ((n = recv(helper_fd, &p, sizeof p, 0)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof p) {
		errno = EIO;
		return -1;
	}
	if (p.r == -1)
		errno = p.err;
	return p.r;
}

/* OP: DL_TAKE, DL_RELEASE or DL_REFRESH. */
static int
dotlock_path(const char *mbox_path, int op, unsigned stale)
{
	char lockpath[PATH_MAX];
	size_t i;
	int r, take = op == DL_TAKE;

	if (helper_fd != -1 && strcmp(mbox_path, helper_mbox) == 0)
		return via_helper(op, stale);
	if (snprintf(lockpath, sizeof lockpath, "%s.lock", mbox_path) >=
	    (int)sizeof lockpath) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = 0; i < HELD_MAX; i++)
		if (held[i].path[0] != '\0' &&
		    strcmp(held[i].path, lockpath) == 0)
			break;
	if (op == DL_REFRESH) {
		if (i == HELD_MAX || held[i].stuck) {
			errno = EINVAL;
			return -1;
		}
		return dotlock_touch(lockpath, held[i].ino);
	}
	if (!take) {
		if (i == HELD_MAX || held[i].stuck) {
			errno = EINVAL;
			return -1;
		}
		if ((r = dotlock_remove(lockpath, held[i].ino)) == 0)
			held[i].path[0] = '\0';
		else
			held[i].stuck = 1;
		return r;
	}
	if (i != HELD_MAX) {
		if (!held[i].stuck) {
			errno = EINVAL;
			return -1;
		}
		held[i].stuck = 0;
		if (dotlock_reclaim(lockpath, held[i].ino) == 0)
			return 0;
		held[i].path[0] = '\0';
	}
	for (i = 0; i < HELD_MAX && held[i].path[0] != '\0'; i++)
		;
	if (i == HELD_MAX) {
		errno = ENOLCK;
		return -1;
	}
	if ((r = dotlock_try(lockpath, stale, &held[i].ino)) == 0) {
		strlcpy(held[i].path, lockpath, sizeof held[i].path);
		held[i].stuck = 0;
	}
	return r;
}

int
dotlock_take(const char *mbox_path, unsigned stale)
{
	return dotlock_path(mbox_path, DL_TAKE, stale);
}

int
dotlock_release(const char *mbox_path)
{
	return dotlock_path(mbox_path, DL_RELEASE, 0);
}

int
dotlock_refresh(const char *mbox_path)
{
	return dotlock_path(mbox_path, DL_REFRESH, 0);
}
