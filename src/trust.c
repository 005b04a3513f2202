/*
 * trust.c - may root trust this file?  The StrictModes rule (sshd's, for
 * the files root reads): the configuration file, the plugin directory and
 * every plugin it dlopen()s, the passwd-file and login_chroot must be
 * owned by root (or by the daemon's own uid, in rootless mode) and not
 * writable by group or others, and so must every directory on the way to
 * them, since whoever can rename an entry of a directory can swap the file.
 * A directory with the sticky bit (/tmp) may be writable by others: there
 * only the owner of an entry can rename or remove it, so the entry we walk
 * through must itself be owned by root or us.  Symbolic links are followed
 * component by component, so the link and everything it leads through are
 * checked too.  The walk uses lstat(2) only and needs no privilege.
 *
 * Because nobody but root (or us) can change anything on the checked
 * path, a later open() or dlopen() of the same path reaches the same file:
 * the check-then-use window an attacker would need does not exist.
 *
 * PRIVILEGE: runs as root in the master (start-up, SIGHUP, "pop23d -t")
 * and in the monitor (the passwd-file plugin re-reads its file there).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "trust.h"

/* Symbolic links followed in one walk, as the kernel's own limit
 * (MAXSYMLINKS, 40 on Linux): more is a loop. */
#define TRUST_LINKS_MAX	40

/* The reason of the last refusal; valid until the next call. */
static char trust_errbuf[4 * PATH_MAX + 128];

static int __attribute__((format(printf, 2, 3)))
trust_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(trust_errbuf, sizeof trust_errbuf, fmt, ap);
	va_end(ap);
	*error_r = trust_errbuf;
	return -1;
}

/* Owned by root or by the user we run as. */
static int
trust_owner_ok(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/*
 * Name OBJ for a message about PATH: "PATH" when OBJ is what PATH names
 * (LAST and not a link), "PATH (OBJ)" if a link led there, else "PATH:
 * the directory OBJ on the way to it".
 */
static const char *
trust_where(const char *path, const char *obj, const struct stat *st,
    int last, char *buf, size_t bufsz)
{
	if (last && !S_ISLNK(st->st_mode)) {
		if (strcmp(path, obj) == 0)
			return path;
		snprintf(buf, bufsz, "%s (%s)", path, obj);
	} else
		snprintf(buf, bufsz, "%s: the %s %s on the way to it", path,
		    S_ISLNK(st->st_mode) ? "symbolic link" :
		    S_ISDIR(st->st_mode) ? "directory" : "file", obj);
	return buf;
}

/*
 * Check one object OBJ met on the walk to PATH (the last one if LAST),
 * with status ST, in a directory that is sticky and writable by others if
 * IN_STICKY.  Symbolic links are judged only by where they live.
 */
static int
trust_one(const char *path, const char *obj, const struct stat *st,
    int last, int in_sticky, const char **error_r)
{
	char where[2 * PATH_MAX + 64];

	if ((in_sticky || !S_ISLNK(st->st_mode)) && !trust_owner_ok(st))
		return trust_error(error_r, "%s: owned by uid %ld, not by "
		    "root%s: refusing to trust it",
		    trust_where(path, obj, st, last, where, sizeof where),
		    (long)st->st_uid,
		    geteuid() != 0 ? " or the daemon's user" : "");
	if (S_ISLNK(st->st_mode))
		return 0;
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) != 0))
		return trust_error(error_r, "%s: writable by %s (mode %04o): "
		    "refusing to trust it",
		    trust_where(path, obj, st, last, where, sizeof where),
		    (st->st_mode & S_IWOTH) != 0 ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
	return 0;
}

/* lstat() or readlink() failed on OBJ (the last component if LAST) on
 * the way to PATH. */
static int
trust_lstat_error(const char *path, const char *obj, int last,
    const char **error_r)
{
	if (last)
		return trust_error(error_r, "%s: %s", path, strerror(errno));
	return trust_error(error_r, "%s: %s: %s", path, obj, strerror(errno));
}

/* Writable by others, but sticky: entries must be checked for owner. */
static int
trust_sticky(const struct stat *st)
{
	return S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) != 0 &&
	    (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/*
 * Put the components of TODO (a path) in front of REST (the components
 * still to walk, '/'-separated, may be empty) in REST.  -1 if too long.
 */
static int
trust_prepend(char *rest, size_t restsz, const char *todo)
{
	char tmp[PATH_MAX * 2];
	int n;

	n = snprintf(tmp, sizeof tmp, "%s%s%s", todo,
	    rest[0] != '\0' ? "/" : "", rest);
	if (n < 0 || (size_t)n >= restsz || (size_t)n >= sizeof tmp)
		return -1;
	memcpy(rest, tmp, (size_t)n + 1);
	return 0;
}

/* Take the first component of REST into NAME (NAMESZ): 1, 0 when REST
 * is empty, -1 when the component is too long to be a file name. */
static int
trust_next(char *rest, char *name, size_t namesz)
{
	char *p = rest;
	size_t len;

	while (*p == '/')
		p++;
	if (*p == '\0') {
		rest[0] = '\0';
		return 0;
	}
	len = strcspn(p, "/");
	if (len >= namesz)
		return -1;
	memcpy(name, p, len);
	name[len] = '\0';
	p += len;
	memmove(rest, p, strlen(p) + 1);
	return 1;
}

int
trust_check(const char *path, enum trust_kind kind, const char **error_r)
{
	char cur[PATH_MAX], rest[PATH_MAX], name[NAME_MAX + 1];
	char link[PATH_MAX];
	struct stat st;
	int links = 0, sticky, more;
	ssize_t n;

	if (strlcpy(rest, path, sizeof rest) >= sizeof rest)
		return trust_error(error_r, "%s: path too long", path);
	if (path[0] != '/') {
		/* Relative to the working directory, which is checked too. */
		if (getcwd(cur, sizeof cur) == NULL)
			return trust_error(error_r, "%s: getcwd: %s", path,
			    strerror(errno));
		if (trust_prepend(rest, sizeof rest, cur) != 0)
			return trust_error(error_r, "%s: path too long", path);
	}
	strlcpy(cur, "/", sizeof cur);
	if (lstat(cur, &st) != 0)
		return trust_lstat_error(path, cur, 0, error_r);
	if (trust_one(path, cur, &st, 0, 0, error_r) != 0)
		return -1;
	sticky = trust_sticky(&st);
	while ((more = trust_next(rest, name, sizeof name)) != 0) {
		char next[PATH_MAX];
		size_t l = strlen(cur);
		int last;

		if (more < 0)
			return trust_error(error_r, "%s: file name too long",
			    path);
		last = rest[strspn(rest, "/")] == '\0';
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			/* CUR has no symbolic link in it: lexical is right,
			 * and every directory above it was checked. */
			char *slash = strrchr(cur, '/');

			if (slash != NULL && slash != cur)
				*slash = '\0';
			else
				strlcpy(cur, "/", sizeof cur);
			if (lstat(cur, &st) != 0)
				return trust_lstat_error(path, cur, 0,
				    error_r);
			sticky = trust_sticky(&st);
			continue;
		}
		if ((size_t)snprintf(next, sizeof next, "%s%s%s", cur,
		    l > 1 ? "/" : "", name) >= sizeof next)
			return trust_error(error_r, "%s: path too long", path);
		if (lstat(next, &st) != 0)
			return trust_lstat_error(path, next, last, error_r);
		if (trust_one(path, next, &st, last, sticky, error_r) != 0)
			return -1;
		if (S_ISLNK(st.st_mode)) {
			if (++links > TRUST_LINKS_MAX)
				return trust_error(error_r, "%s: too many "
				    "levels of symbolic links", path);
			n = readlink(next, link, sizeof link - 1);
			if (n < 0)
				return trust_lstat_error(path, next, 0,
				    error_r);
			link[n] = '\0';
			if (trust_prepend(rest, sizeof rest, link) != 0)
				return trust_error(error_r, "%s: path too "
				    "long", path);
			/* A relative link leaves CUR as it is (checked);
			 * an absolute one starts again at "/". */
			if (link[0] == '/') {
				strlcpy(cur, "/", sizeof cur);
				if (lstat(cur, &st) != 0)
					return trust_lstat_error(path, cur, 0,
					    error_r);
				sticky = trust_sticky(&st);
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode) && rest[strspn(rest, "/")] != '\0')
			return trust_error(error_r, "%s: %s: not a directory",
			    path, next);
		strlcpy(cur, next, sizeof cur);
		sticky = trust_sticky(&st);
	}
	/* CUR is the object PATH names, all links resolved. */
	if (lstat(cur, &st) != 0)
		return trust_lstat_error(path, cur, 1, error_r);
	if (kind == TRUST_DIR && !S_ISDIR(st.st_mode))
		return trust_error(error_r, "%s: not a directory", path);
	if (kind == TRUST_FILE && !S_ISREG(st.st_mode))
		return trust_error(error_r, "%s: not a regular file", path);
	return 0;
}
