/*
 * priv.c - give up root: chroot, setgroups, setresgid, setresuid, then
 * prove that uid 0 cannot come back (OpenSMTPD dispatcher.c, popa3d).
 * Runs as root (the monitor before it forks the pre-auth child, and before
 * it becomes the mail user); a no-op in rootless mode.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static int started_as_root = -1;

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
