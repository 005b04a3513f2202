/*
 * trust.h - may root trust this file?  sshd's StrictModes for the files
 * the daemon loads or believes: see trust.c for the rule.
 * PRIVILEGE: any; used as root by the master and the monitor.
 */
#ifndef POP23D_TRUST_H
#define POP23D_TRUST_H

enum trust_kind {
	TRUST_FILE = 1,	/* a regular file (config, plugin, passwd) */
	TRUST_DIR = 2,	/* a directory (plugin_dir, login_chroot) */
};

/*
 * PATH (absolute, or relative to the working directory) names an object
 * of KIND that is owned by root or by the daemon's own uid and not
 * writable by group or others, and so is every directory and symbolic
 * link on the way to it (a sticky directory may be writable by others if
 * the entry we pass through is ours or root's).
 * 0, or -1 with "PATH: reason" in *error_r (text owned by trust.c, valid
 * until the next call).
 */
int trust_check(const char *path, enum trust_kind kind, const char **error_r);

#endif
