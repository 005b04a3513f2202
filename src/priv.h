/*
 * priv.h - privilege changes and process hygiene (descriptors,
 * environment).  Runs as root in the master and the monitor (priv_drop()
 * is a no-op when the daemon is rootless).
 */
#ifndef POP23D_PRIV_H
#define POP23D_PRIV_H

#include <sys/types.h>

/* Non-zero if the daemon started as root. */
int priv_is_root(void);
/*
 * Become USER (a system user, looked up in the master before any fork:
 * pass its uid/gid) and chroot to DIR (if non-empty) first.  Verifies that
 * uid 0 can no longer be regained.  0 or -1 (caller must exit).
 */
int priv_drop(uid_t uid, gid_t gid, const char *chroot_dir);

/*
 * Errors: the functions below that can fail return -1 and point *error_r
 * at text owned by priv.c, valid until the next call of this module.
 */

/* Where a connection's processes find the client socket. */
#define PRIV_CLIENT_FD	3
/* ... and a monitor of a "proxy" listener its channel to the master
 * (peerchan.h). */
#define PRIV_MASTER_FD	4

/* Make sure descriptors 0, 1 and 2 are open (on /dev/null if they were
 * closed), so no socket or file the daemon opens lands on one of them. */
void priv_stdio_open(void);
/* Close every descriptor from LOWFD up (what the daemon inherited from
 * whoever started it: a directory on the real /, a root-only file ...). */
void priv_close_from(int lowfd);
/* Replace the environment by PATH=_PATH_STDPATH and, if set, TZ.  Nothing
 * the daemon runs reads anything else; the rest could only carry an
 * inheriting user's choices into root's processes. */
void priv_scrub_env(void);
/*
 * In a freshly forked connection process: 0 and 1 on /dev/null, 2 on
 * LOG_FD (the master's log relay) or on /dev/null if LOG_FD is -1, the
 * client socket CLIENT_FD moved to PRIV_CLIENT_FD, and every descriptor
 * above that closed.  (Call closelog() before and log_init() after: the
 * syslog socket is closed too.)  PRIV_CLIENT_FD, or -1.
 * MASTER_FD, if not -1, is kept as PRIV_MASTER_FD.
 */
int priv_child_fds(int client_fd, int log_fd, int master_fd,
    const char **error_r);

/*
 * The pre-auth child, right after priv_drop() (and PR_SET_PDEATHSIG):
 * RLIMIT_NOFILE to PREAUTH_RLIMIT_NOFILE, RLIMIT_FSIZE and RLIMIT_NPROC to
 * 0, SIGXFSZ ignored, then PR_SET_NO_NEW_PRIVS and the seccomp filter
 * (sandbox.c).  0, or -1: the caller must exit.
 */
int priv_harden_preauth(const char **error_r);
/*
 * The session, right after priv_drop() to the mail user:
 * PR_SET_NO_NEW_PRIVS.  0, or -1: the caller must exit.
 */
int priv_harden_session(const char **error_r);

#endif
