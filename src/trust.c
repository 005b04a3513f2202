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

/* Where a walk is: CUR (checked, no link in it) and what is left. */
struct trust_walk {
	const char *path;	/* as the caller gave it, for messages */
	char cur[PATH_MAX];
	char rest[PATH_MAX];
	int sticky;		/* CUR is sticky and writable by others */
	int links;		/* symbolic links followed so far */
};

/* Go up to the parent of W->cur for a ".." component. */
static int
trust_up(struct trust_walk *w, const char **error_r)
{
	struct stat st;
	char *slash = strrchr(w->cur, '/');

	/* CUR has no symbolic link in it: lexical is right, and every
	 * directory above it was checked on the way down. */
	if (slash != NULL && slash != w->cur)
		*slash = '\0';
	else
		strlcpy(w->cur, "/", sizeof w->cur);
	if (lstat(w->cur, &st) != 0)
		return trust_lstat_error(w->path, w->cur, 0, error_r);
	w->sticky = trust_sticky(&st);
	return 0;
}

/* Put the target of the link NEXT in front of what is left to walk. */
static int
trust_follow(struct trust_walk *w, const char *next, const char **error_r)
{
	char link[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (++w->links > TRUST_LINKS_MAX)
		return trust_error(error_r, "%s: too many levels of symbolic "
		    "links", w->path);
	if ((n = readlink(next, link, sizeof link - 1)) < 0)
		return trust_lstat_error(w->path, next, 0, error_r);
	link[n] = '\0';
	if (trust_prepend(w->rest, sizeof w->rest, link) != 0)
		return trust_error(error_r, "%s: path too long", w->path);
	/* A relative link leaves CUR as it is (checked); an absolute one
	 * starts again at "/" (checked first thing). */
	if (link[0] == '/') {
		strlcpy(w->cur, "/", sizeof w->cur);
		if (lstat(w->cur, &st) != 0)
			return trust_lstat_error(w->path, w->cur, 0, error_r);
		w->sticky = trust_sticky(&st);
	}
	return 0;
}

/* Walk one component NAME (the last one if LAST). */
static int
trust_component(struct trust_walk *w, const char *name, int last,
    const char **error_r)
{
	char next[PATH_MAX];
	struct stat st;

	if (strcmp(name, ".") == 0)
		return 0;
	if (strcmp(name, "..") == 0)
		return trust_up(w, error_r);
	if ((size_t)snprintf(next, sizeof next, "%s%s%s", w->cur,
	    strcmp(w->cur, "/") != 0 ? "/" : "", name) >= sizeof next)
		return trust_error(error_r, "%s: path too long", w->path);
	if (lstat(next, &st) != 0)
		return trust_lstat_error(w->path, next, last, error_r);
	if (trust_one(w->path, next, &st, last, w->sticky, error_r) != 0)
		return -1;
	if (S_ISLNK(st.st_mode))
		return trust_follow(w, next, error_r);
	if (!S_ISDIR(st.st_mode) && !last)
		return trust_error(error_r, "%s: %s: not a directory",
		    w->path, next);
	strlcpy(w->cur, next, sizeof w->cur);
	w->sticky = trust_sticky(&st);
	return 0;
}

int
trust_check(const char *path, enum trust_kind kind, const char **error_r)
{
	struct trust_walk w;
	char name[NAME_MAX + 1];
	struct stat st;
	int more;

	memset(&w, 0, sizeof w);
	w.path = path;
	if (strlcpy(w.rest, path, sizeof w.rest) >= sizeof w.rest)
		return trust_error(error_r, "%s: path too long", path);
	if (path[0] != '/') {
		/* Relative to the working directory, which is checked too. */
		if (getcwd(w.cur, sizeof w.cur) == NULL)
			return trust_error(error_r, "%s: getcwd: %s", path,
			    strerror(errno));
		if (trust_prepend(w.rest, sizeof w.rest, w.cur) != 0)
			return trust_error(error_r, "%s: path too long", path);
	}
	strlcpy(w.cur, "/", sizeof w.cur);
	if (lstat(w.cur, &st) != 0)
		return trust_lstat_error(path, w.cur, 0, error_r);
	if (trust_one(path, w.cur, &st, 0, 0, error_r) != 0)
		return -1;
	w.sticky = trust_sticky(&st);
	while ((more = trust_next(w.rest, name, sizeof name)) != 0) {
		if (more < 0)
			return trust_error(error_r, "%s: file name too long",
			    path);
		if (trust_component(&w, name,
		    w.rest[strspn(w.rest, "/")] == '\0', error_r) != 0)
			return -1;
	}
	/* CUR is the object PATH names, all links resolved. */
	if (lstat(w.cur, &st) != 0)
		return trust_lstat_error(path, w.cur, 1, error_r);
	if (kind == TRUST_DIR && !S_ISDIR(st.st_mode))
		return trust_error(error_r, "%s: not a directory", path);
	if (kind == TRUST_FILE && !S_ISREG(st.st_mode))
		return trust_error(error_r, "%s: not a regular file", path);
	return 0;
}
