/*
 * sysuser.h - system users for the auth plugins that check them (auth_pam,
 * auth_checkpassword): the user database entry (getpwnam_r) and the rule
 * that no session ever runs as root or as a system account.  Compiled
 * into each plugin; nothing here is exported.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_SYSUSER_H
#define POP23D_SYSUSER_H

#include <sys/types.h>

#include <pop23d/plugin.h>

/*
 * Default lowest uid that may log in: Debian's UID_MIN in
 * /etc/login.defs.  Below it are root and the system accounts (daemon,
 * mail, www-data ...), which own files a mail session must never reach.
 */
#define SYSUSER_MIN_UID_DEFAULT	1000

/* The fields of a passwd entry a plugin needs. */
struct sysuser {
	uid_t uid;
	gid_t gid;
	char home[4096];		/* as in the entry; may be "" */
};

/*
 * Look USER up in the user database (NSS: /etc/passwd, LDAP ...).
 * 1 and *U filled, 0 if there is no such user, -1 on a lookup error (the
 * database could not be read; errno set).
 */
int sysuser_get(const char *user, struct sysuser *u);

/*
 * May U log in?  Not if its uid is 0 or below MIN_UID, or its gid is 0.
 * 1 if it may, else 0 with the reason in *why_r (static text).
 */
int sysuser_allowed(const struct sysuser *u, unsigned long min_uid,
    const char **why_r);

/*
 * sysuser_get() and sysuser_allowed() together, as every plugin that
 * checks system users needs them: 1 if USER exists and may log in (*U
 * filled), else 0 with *R set to POP23D_NOUSER (no such user),
 * POP23D_TEMPFAIL (the database could not be read; logged through HOST)
 * or REFUSED (root or a system account; logged).
 */
int sysuser_lookup(const struct pop23d_host *host, const char *user,
    unsigned long min_uid, enum pop23d_result refused, struct sysuser *u,
    enum pop23d_result *r);

/*
 * Parse a "min_uid" value: decimal digits, 1 to 4294967294 (0 would let
 * root in).  0, or -1 with the reason in *why_r.
 */
int sysuser_parse_min_uid(const char *s, unsigned long *min_uid_r,
    const char **why_r);

/*
 * Fill *ID from U (uid, gid, home; maildrop left "" so the daemon expands
 * mail_location).  POP23D_OK, or POP23D_PERMFAIL if the home does not
 * fit.
 */
enum pop23d_result sysuser_identity(const struct sysuser *u,
    struct pop23d_identity *id);

#endif
