/*
 * dotlock.h - mbox dotlocks for storage plugins (host->dotlock, API 6),
 * and the helper that makes them in a root:mail spool.
 */
#ifndef POP23D_DOTLOCK_H
#define POP23D_DOTLOCK_H

#include <sys/types.h>

struct config;

/* One attempt at LOCKPATH (liblockfile's link() method): 0 taken (its
 * inode in *INO_R), 1 held by another program, -1 with errno.  A lock
 * whose process is gone or older than STALE seconds is broken first. */
int dotlock_try(const char *lockpath, unsigned stale, ino_t *ino_r);
/* Remove LOCKPATH if it is still the inode INO.  0 or -1 with errno. */
int dotlock_remove(const char *lockpath, ino_t ino);

/*
 * In the session process, as root, before the privilege drop: if the
 * storage is "mbox", [mbox] dotlock_group names a group and LOCATION's
 * directory is writable by that group only (Debian's root:mail 2775
 * /var/mail), fork the helper: uid UID, gid GID plus that one group,
 * PR_SET_NO_NEW_PRIVS, serving lock and unlock of LOCATION.lock only.
 * 0 (also when no helper is needed) or -1 (logged).
 */
int dotlock_helper_start(const struct config *cfg, const char *location,
    uid_t uid, gid_t gid);

/* Take (one attempt: 0, 1 busy, -1) or remove the dotlock of MBOX_PATH:
 * through the helper for the helper's mbox, else in this process.  The
 * host service host->dotlock (plugin.c) is these two. */
int dotlock_take(const char *mbox_path, unsigned stale);
int dotlock_release(const char *mbox_path);
/* Touch the dotlock of MBOX_PATH that this process holds (a long UPDATE:
 * nobody may judge it stale by age).  0, or -1 with errno. */
int dotlock_refresh(const char *mbox_path);

#endif
