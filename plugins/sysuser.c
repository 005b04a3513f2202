/*
 * sysuser.c - system users for the auth plugins that check them: the user
 * database entry and the "never root, never a system account" rule (see
 * sysuser.h).
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * PRIVILEGE: runs wherever the calling plugin's ops run: as root in the
 * per-connection monitor today, or in the daemon's auth service.  Reading
 * the passwd database needs no privilege; NSS modules (LDAP ...) may
 * block, which is why the plugins that use this set
 * POP23D_PLUGIN_F_BLOCKING.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sysuser.h"

/* getpwnam_r() buffer: start at what sysconf() suggests and double while
 * the entry does not fit, up to 1 MiB (an entry's text fields; glibc's
 * own limit for a group is far beyond any sane passwd line). */
#define SYSUSER_BUF_START	1024
#define SYSUSER_BUF_MAX		(1024 * 1024)

int
sysuser_get(const char *user, struct sysuser *u)
{
	struct passwd pw, *res = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 && hint <= SYSUSER_BUF_MAX ? (size_t)hint :
	    SYSUSER_BUF_START;
	char *buf = NULL, *nbuf;
	int e;

	memset(u, 0, sizeof *u);
	for (;;) {
		if ((nbuf = realloc(buf, size)) == NULL) {
			free(buf);
			errno = ENOMEM;
			return -1;
		}
		buf = nbuf;
		e = getpwnam_r(user, &pw, buf, size, &res);
		if (e != ERANGE || size >= SYSUSER_BUF_MAX)
			break;
		size *= 2;
	}
	if (res == NULL) {
		free(buf);
		/* Not found is 0 with res NULL; glibc also reports ENOENT,
		 * ESRCH, EBADF or EPERM for "no such user" from some NSS
		 * modules (getpwnam_r(3), NOTES). */
		if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF ||
		    e == EPERM)
			return 0;
		errno = e;
		return -1;
	}
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	if (pw.pw_dir == NULL || snprintf(u->home, sizeof u->home, "%s",
	    pw.pw_dir) >= (int)sizeof u->home)
		u->home[0] = '\0';
	free(buf);
	return 1;
}

int
sysuser_allowed(const struct sysuser *u, unsigned long min_uid,
    const char **why_r)
{
	if (u->uid == 0) {
		*why_r = "uid 0 (root) never logs in";
		return 0;
	}
	if (u->gid == 0) {
		*why_r = "primary group 0 (root) is refused";
		return 0;
	}
	if ((unsigned long)u->uid < min_uid) {
		*why_r = "uid below min_uid (a system account)";
		return 0;
	}
	return 1;
}

int
sysuser_lookup(const struct pop23d_host *host, const char *user,
    unsigned long min_uid, enum pop23d_result refused, struct sysuser *u,
    enum pop23d_result *r)
{
	const char *why;

	switch (sysuser_get(user, u)) {
	case 1:
		break;
	case 0:
		*r = POP23D_NOUSER;
		return 0;
	default:
		host->log(LOG_ERR, "user=%s: user database: %s", user,
		    strerror(errno));
		*r = POP23D_TEMPFAIL;
		return 0;
	}
	if (!sysuser_allowed(u, min_uid, &why)) {
		host->log(LOG_WARNING, "user=%s: refused: %s", user, why);
		*r = refused;
		return 0;
	}
	return 1;
}

int
sysuser_parse_min_uid(const char *s, unsigned long *min_uid_r,
    const char **why_r)
{
	unsigned long v = 0;
	const char *p;

	if (s == NULL || *s == '\0') {
		*why_r = "min_uid is empty";
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*why_r = "min_uid is not a decimal number";
			return -1;
		}
		/* (uid_t)-1 means "unset": 4294967294 is the largest uid. */
		if (v > (0xfffffffeUL - (unsigned long)(*p - '0')) / 10) {
			*why_r = "min_uid is too large";
			return -1;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0) {
		*why_r = "min_uid 0 would let root log in";
		return -1;
	}
	*min_uid_r = v;
	return 0;
}

enum pop23d_result
sysuser_identity(const struct sysuser *u, struct pop23d_identity *id)
{
	id->uid = u->uid;
	id->gid = u->gid;
	id->maildrop[0] = '\0';
	if (snprintf(id->home, sizeof id->home, "%s", u->home) >=
	    (int)sizeof id->home) {
		id->home[0] = '\0';
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}
