/*
 * priv.h - privilege changes.  All of it runs as root (or is a no-op when
 * the daemon is rootless).
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

#endif
