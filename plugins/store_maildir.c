/*
 * store_maildir.c - the "maildir" storage plugin: lists, reads, marks as
 * read and deletes the messages of a Maildir (maildir(5)), opens its
 * Maildir++ folders for POP2 FOLD, and holds the per-maildrop session lock
 * (<maildir>/pop23d.lock).
 *
 * PRIVILEGE: runs as the mail user in the session process (open ..
 * close); the master (root) only loads it and calls check_config().  It
 * never reads a message body itself and never logs message contents.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Rules it follows (doc/SECURITY.md D5, B13, B19, S5):
 *   - Every file is opened relative to directory fds (openat) with
 *     O_NOFOLLOW and O_NONBLOCK, and fstat() must say "regular file", so a
 *     symlink or FIFO planted in the Maildir can neither lead out nor block.
 *   - The unique name (the part before ':') is the key; it survives the
 *     renames other readers do (new/ -> cur/, flag changes).  An ENOENT
 *     means another reader renamed the file: re-scan new/ and cur/ for the
 *     key before giving up.
 *   - A message file that cannot be opened (another user's, not a regular
 *     file, gone) makes msg_open() fail for that message only; the daemon
 *     leaves it out of the session.  Such failures are logged at most
 *     SCAN_LOG_MAX times per session, then counted once at close.
 *   - Deletion is unlink() followed by fsync() of the directory.  tmp/ is
 *     never touched.
 *   - Two names of one file with the same key are the remains of an
 *     interrupted link() + unlink() rename: the listing removes the
 *     second one, which would otherwise outlive a deletion.
 *   - Client-supplied folder names never become paths: they are checked,
 *     prefixed with '.', and opened with openat() below the maildir fd.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <pop23d/plugin.h>

#include "foldername.h"
#include "maildir_list.h"
#include "../src/crc32c.h"

#define PLUGIN_NAME	"maildir"
/* The session lock file, in the maildir (or folder) directory itself. */
#define LOCK_NAME	"pop23d.lock"
/* A client folder name is at most this long: one path component (NAME_MAX
 * on Linux), so "." + name fails with ENAMETOOLONG at worst. */
/* Log at most this many skipped or duplicate names per scan, then one
 * summary line: a maildir full of odd names must not flood the log. */
#define SCAN_LOG_MAX	10
/* Escaped names in log lines are cut to this many bytes. */
#define LOG_NAME_MAX	96
/* The listing record (maildir_list.h) and its temporary name. */
#define LIST_NAME	"pop23d.list"
#define LIST_TMP	"pop23d.list.tmp"
/* A listing of fewer names is not recorded: reading two small
 * directories costs no more than reading the record, and a small
 * maildrop that changes at every session would rewrite it every time. */
#define LIST_RECORD_MIN	1000
/* A scan that began less than this many seconds after the last change of
 * new/ or cur/ is "racy" (a change in the same clock tick could leave the
 * directory's times as they were): it is not recorded. */
#define LIST_RACY_SECS	2
/* A record larger than this is damaged (2^24 names of NAME_MAX). */
#define LIST_FILE_MAX	((off_t)MD_LIST_COUNT_MAX * (3 + NAME_MAX + 2) + \
	MD_LIST_HDR_LEN)

enum { D_NEW = 0, D_CUR = 1, D_COUNT = 2 };
static const char *const subdir_name[D_COUNT] = { "new", "cur" };

/*
 * The keys and file names of a listing live in a chain of large blocks,
 * freed together at close: 100 000 messages cost a few hundred
 * allocations instead of 200 000 (a warm login must be fast).
 */
#define ARENA_BLOCK	(64 * 1024)
/* The first block: small, and each next one twice as big up to
 * ARENA_BLOCK, so a small maildrop's listing touches one page, not the
 * first and last of a 64 KiB block (idle memory, doc/PERFORMANCE.md). */
#define ARENA_FIRST	(1024 - 32)
struct arena {
	struct arena *next;
	size_t used, size;
	char data[];
};

/*
 * One listed message; ents[i] belongs to msgs[i].  The listed name is
 * kept once, as "key\0info\0" in the arena (the ':' became the key's
 * end), so the key needs no copy of its own; ent_name() puts the name
 * together again when a file is opened, renamed or removed.
 */
struct md_ent {
	char *key;		/* unique name (before ':'), never changes */
	char *info;		/* what followed the ':' (maybe ""), or NULL */
	char *name;		/* malloc()ed name after a rename, or NULL */
	uint64_t ts;		/* leading timestamp of the key, for sorting */
	unsigned char dir;	/* D_NEW or D_CUR */
	unsigned char gone;	/* unlinked by us or vanished (re-scan) */
	unsigned char seen;	/* found by the running re-scan */
};

struct pop23d_mbox {
	char *path;		/* maildir or folder path (index_dir()) */
	int dfd;		/* the maildir (or folder) directory */
	int sub[D_COUNT];	/* new/ and cur/ */
	int lockfd;		/* pop23d.lock, locked for the session */
	int do_fsync;		/* [maildir] fsync */
	int dirty[D_COUNT];	/* renamed or unlinked since the last fsync */
	int listed;		/* ents/msgs are built */
	struct md_ent *ents;
	struct pop23d_msg *msgs;
	size_t count;
	struct arena *arena;	/* keys and names of ents */
	unsigned char *listbuf;	/* ... or the listing record they came from */
	int use_record;		/* [maildir] list_record */
	size_t logged;		/* log lines written by the running scan */
	size_t unlogged;	/* ... and the ones left out */
	size_t msg_logged;	/* msg_open() failures logged this session */
	size_t msg_unlogged;	/* ... and the ones left out */
};

/* What a scan does with each acceptable directory entry. */
typedef int scan_fn(struct pop23d_mbox *, int, const char *, size_t, void *);

static const struct pop23d_host *host;

/*
 * Copy S into BUF (size BUFSZ > 4) for a log line: bytes outside printable
 * ASCII become '?', and a long S is cut and ends in "...".  Returns BUF.
 */
static const char *
esc(const char *s, char *buf, size_t bufsz)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < bufsz; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[i] = '\0';
	if (s[i] != '\0')
		memcpy(buf + bufsz - 4, "...", 4);
	return buf;
}

/* Log one line about a scanned name, at most SCAN_LOG_MAX per scan. */
static void
scan_log(struct pop23d_mbox *mb, const char *what, int d, const char *name)
{
	char e[LOG_NAME_MAX];

	if (mb->logged >= SCAN_LOG_MAX) {
		mb->unlogged++;
		return;
	}
	mb->logged++;
	host->log(LOG_WARNING, "%s dir=%s name=%s", what, subdir_name[d],
	    esc(name, e, sizeof e));
}

/*
 * Log one msg_open() failure, at most SCAN_LOG_MAX per session: an
 * unreadable file is tried at every login (and every RETR), and a maildrop
 * may hold thousands of them.  md_close() reports the rest.
 */
static void __attribute__((format(printf, 3, 4)))
msg_log(struct pop23d_mbox *mb, int prio, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (mb->msg_logged >= SCAN_LOG_MAX) {
		mb->msg_unlogged++;
		return;
	}
	mb->msg_logged++;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	host->log(prio, "%s", line);
}

/* "yes" (the default, also when unset or invalid) or "no". */
static int
fsync_enabled(void)
{
	const char *v = host->config_get(PLUGIN_NAME, "fsync");

	return !(v != NULL && strcasecmp(v, "no") == 0);
}

/* [maildir] list_record: "yes" (the default) or "no". */
static int
list_record_enabled(void)
{
	const char *v = host->config_get(PLUGIN_NAME, "list_record");

	return !(v != NULL && strcasecmp(v, "no") == 0);
}

static int
md_check_config(const char **error_r)
{
	const char *v = host->config_get(PLUGIN_NAME, "fsync");

	if (v != NULL && strcasecmp(v, "yes") != 0 &&
	    strcasecmp(v, "no") != 0) {
		*error_r = "fsync must be yes or no";
		return -1;
	}
	v = host->config_get(PLUGIN_NAME, "list_record");
	if (v != NULL && strcasecmp(v, "yes") != 0 &&
	    strcasecmp(v, "no") != 0) {
		*error_r = "list_record must be yes or no";
		return -1;
	}
	return 0;
}

/*
 * The sort time of a key: the decimal number before the first '.'
 * (maildir(5) names start with the delivery time).  Keys without one, or
 * with a number too large for 64 bits, sort after all others.
 */
static uint64_t
key_time(const char *key)
{
	const char *p;
	uint64_t t = 0;
	unsigned d;

	/* 19 digits never overflow (10^19 - 1 < 2^64): no check per digit
	 * for the usual 10-digit time; a longer number goes on below. */
	for (p = key; (d = (unsigned char)*p - '0') <= 9 && p - key < 19; p++)
		t = t * 10 + d;
	for (; (d = (unsigned char)*p - '0') <= 9; p++) {
		if (t > (UINT64_MAX - d) / 10)
			return UINT64_MAX;
		t = t * 10 + d;
	}
	if (p == key || *p != '.')
		return UINT64_MAX;
	return t;
}

/* The flags of a cur/ file name ("key:2,FLAGS"), or NULL if it has no
 * ":2," info. */
static const char *
name_flags(const char *name)
{
	const char *info = strchr(name, ':');

	if (info == NULL || strncmp(info + 1, "2,", 2) != 0)
		return NULL;
	return info + 3;
}

/*
 * The current file name of E: its own after a rename, the key if the
 * listed name had no ':', else "key:info" put together in BUF (NAME_MAX +
 * 1 octets: both parts came from one directory entry, or were checked to
 * fit as one).
 */
static const char *
ent_name(const struct md_ent *e, char *buf)
{
	size_t kl, il;

	if (e->name != NULL)
		return e->name;
	if (e->info == NULL)
		return e->key;
	kl = strlen(e->key);
	il = strlen(e->info);
	if (kl + 1 + il > NAME_MAX)	/* cannot happen: see above */
		il = kl + 1 < NAME_MAX ? NAME_MAX - kl - 1 : 0;
	memcpy(buf, e->key, kl);
	buf[kl] = ':';
	memcpy(buf + kl + 1, e->info, il);
	buf[kl + 1 + il] = '\0';
	return buf;
}

static int
ent_accessed(const struct md_ent *e)
{
	const char *f;

	if (e->dir != D_CUR)
		return 0;
	if (e->name != NULL)
		f = name_flags(e->name);
	else if (e->info != NULL && e->info[0] == '2' && e->info[1] == ',')
		f = e->info + 2;
	else
		return 0;
	return f != NULL && strchr(f, 'S') != NULL;
}

/*
 * Sort order: oldest first (timestamp, then key), and among entries with
 * the same key (duplicates) the preferred one first: cur/ before new/,
 * then the smaller file name.
 */
static int
ent_cmp(const void *a, const void *b)
{
	const struct md_ent *x = a, *y = b;
	char bx[NAME_MAX + 1], by[NAME_MAX + 1];
	int c;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	if (x->dir != y->dir)
		return x->dir == D_CUR ? -1 : 1;
	return strcmp(ent_name(x, bx), ent_name(y, by));
}

/* ent_cmp() on pointers, for runs of equal timestamps. */
static int
ent_ptr_cmp(const void *a, const void *b)
{
	return ent_cmp(*(const struct md_ent *const *)a,
	    *(const struct md_ent *const *)b);
}

struct ts_ref {
	uint64_t ts;
	struct md_ent *e;
};

/*
 * Sort the N entries of *VP in ent_cmp() order: a radix sort on the
 * timestamp (a byte at a time, skipping the bytes all keys share), then
 * qsort() with ent_cmp() inside each run of equal timestamps, then each
 * entry moved once.  For 100 000 messages this is about a tenth of the
 * instructions of qsort() over the entries (which copies every 32-octet
 * entry some 17 times and calls ent_cmp() 1.7 million times).
 * 0, or -1 (no memory).
 */
static int
sort_ents(struct md_ent **vp, size_t n)
{
	struct ts_ref *a, *b, *t;
	struct md_ent *out, **run;
	size_t i, j, k, count[256];
	uint64_t diff = 0;
	int shift;

	if (n < 2)
		return 0;
	if (n > SIZE_MAX / (2 * sizeof *a) ||
	    (a = calloc(2 * n, sizeof *a)) == NULL)
		return -1;
	b = a + n;
	for (i = 0; i < n; i++) {
		a[i].ts = (*vp)[i].ts;
		a[i].e = &(*vp)[i];
		diff |= a[i].ts ^ a[0].ts;
	}
	for (shift = 0; shift < 64; shift += 8) {
		if (((diff >> shift) & 0xff) == 0)
			continue;	/* every key has the same byte here */
		memset(count, 0, sizeof count);
		for (i = 0; i < n; i++)
			count[(a[i].ts >> shift) & 0xff]++;
		for (i = 0, k = 0; i < 256; i++) {
			j = count[i];
			count[i] = k;
			k += j;
		}
		for (i = 0; i < n; i++)
			b[count[(a[i].ts >> shift) & 0xff]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	/* a holds the order; b is free scratch: the pointers of a run. */
	run = (struct md_ent **)b;
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && a[j].ts == a[i].ts; j++)
			;
		if (j - i < 2)
			continue;
		for (k = i; k < j; k++)
			run[k - i] = a[k].e;
		qsort(run, j - i, sizeof *run, ent_ptr_cmp);
		for (k = i; k < j; k++)
			a[k].e = run[k - i];
	}
	if ((out = calloc(n, sizeof *out)) == NULL) {
		free(a < b ? a : b);
		return -1;
	}
	for (i = 0; i < n; i++)
		out[i] = *a[i].e;
	free(a < b ? a : b);
	free(*vp);
	*vp = out;
	return 0;
}

/* bsearch() by (ts, key) only. */
static int
ent_key_cmp(const void *a, const void *b)
{
	const struct md_ent *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * Read directory D (new/ or cur/) once with readdir(): no stat(), no
 * open() per file.  Skips dot files, entries whose d_type says they are
 * not regular files (DT_UNKNOWN is accepted: msg_open() checks), and names
 * whose key is empty or longer than POP23D_KEY_MAX.  Calls FN(mb, D, name,
 * keylen, arg) for the others; FN returns 0 or -1 (stop, errno set).
 * Returns 0 or -1 with errno set.
 */
static int
scan_dir(struct pop23d_mbox *mb, int d, scan_fn *fn, void *arg)
{
	struct dirent *de;
	DIR *dp;
	int fd, serrno = 0;

	fd = openat(mb->sub[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		serrno = errno;
		close(fd);
		errno = serrno;
		return -1;
	}
	for (;;) {
		size_t keylen;

		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			serrno = errno;		/* 0 at the end */
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_UNKNOWN && de->d_type != DT_REG)
			continue;
		keylen = strcspn(de->d_name, ":");
		if (keylen == 0 || keylen > POP23D_KEY_MAX) {
			scan_log(mb, "list skipped reason=bad-key", d,
			    de->d_name);
			continue;
		}
		if (fn(mb, d, de->d_name, keylen, arg) == -1) {
			serrno = errno != 0 ? errno : ENOMEM;
			break;
		}
	}
	closedir(dp);
	errno = serrno;
	return serrno == 0 ? 0 : -1;
}

/* Scan both directories, then log how many lines were left out. */
static int
scan_all(struct pop23d_mbox *mb, scan_fn *fn, void *arg)
{
	int d, r = 0;

	mb->logged = mb->unlogged = 0;
	for (d = 0; d < D_COUNT && r == 0; d++)
		if ((r = scan_dir(mb, d, fn, arg)) == -1)
			host->log(LOG_ERR, "scan dir=%s path=%s: %s",
			    subdir_name[d], mb->path, strerror(errno));
	if (mb->unlogged > 0)
		host->log(LOG_WARNING, "scan: %zu more odd names not logged",
		    mb->unlogged);
	return r;
}

/* A NUL-terminated copy of the LEN bytes at S in *AP, or NULL. */
static char *
arena_dup(struct arena **ap, const char *s, size_t len)
{
	struct arena *b = *ap;
	char *p;

	if (b == NULL || b->size - b->used < len + 1) {
		size_t sz = b == NULL ? ARENA_FIRST : b->size >= ARENA_BLOCK / 2 ?
		    ARENA_BLOCK : 2 * b->size;

		if (len + 1 > sz)
			sz = len + 1;
		if ((b = malloc(sizeof *b + sz)) == NULL)
			return NULL;
		b->next = *ap;
		b->used = 0;
		b->size = sz;
		*ap = b;
	}
	p = b->data + b->used;
	memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

static void
arena_free(struct arena **ap)
{
	struct arena *b, *next;

	for (b = *ap; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	*ap = NULL;
}

/* Give E the malloc()ed name COPY, freeing its old one if it owned it. */
static void
set_name(struct md_ent *e, char *copy)
{
	free(e->name);
	e->name = copy;
}

struct collect {
	struct md_ent *v;
	size_t n, cap;
	struct arena *arena;
};

static int
collect_one(struct pop23d_mbox *mb, int d, const char *name, size_t keylen,
    void *arg)
{
	struct collect *c = arg;
	struct md_ent *e;

	(void)mb;
	if (c->n == c->cap) {
		size_t ncap = c->cap == 0 ? 256 : c->cap * 2;

		if (ncap > SIZE_MAX / sizeof *c->v) {
			errno = ENOMEM;
			return -1;
		}
		if ((e = realloc(c->v, ncap * sizeof *e)) == NULL)
			return -1;
		c->v = e;
		c->cap = ncap;
	}
	e = &c->v[c->n];
	memset(e, 0, sizeof *e);
	/* One copy: "key\0info\0" (the ':' at KEYLEN becomes the key's
	 * end), or "key\0" for a name without info. */
	if (name[keylen] == '\0') {
		if ((e->key = arena_dup(&c->arena, name, keylen)) == NULL)
			return -1;
	} else {
		if ((e->key = arena_dup(&c->arena, name,
		    keylen + 1 + strlen(name + keylen + 1))) == NULL)
			return -1;
		e->key[keylen] = '\0';
		e->info = e->key + keylen + 1;
	}
	e->ts = key_time(e->key);
	e->dir = (unsigned char)d;
	c->n++;
	return 0;
}

/* Free the N entries V and the names they own (not the arena). */
static void
free_ents(struct md_ent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].name != NULL)
			free(v[i].name);
	free(v);
}

/*
 * DUP has the same key as KEEP, the copy the list keeps (ent_cmp()).  If
 * both names are links to one inode, DUP is what an interrupted link() +
 * unlink() rename left behind (rename_noreplace() on a file system
 * without RENAME_NOREPLACE, killed between the two): finish that rename
 * by removing DUP.  Otherwise, or when that fails (a read-only maildrop),
 * DUP is only logged.  Left alone, the second name would bring the
 * message back after the user deleted it: expunge removes the listed name
 * only.  1 if DUP was removed, else 0.
 */
static int
drop_duplicate(struct pop23d_mbox *mb, const struct md_ent *keep,
    const struct md_ent *dup)
{
	struct stat a, b;
	char e[LOG_NAME_MAX], ek[LOG_NAME_MAX];
	char kb[NAME_MAX + 1], db[NAME_MAX + 1];
	const char *kname = ent_name(keep, kb), *dname = ent_name(dup, db);

	if (fstatat(mb->sub[keep->dir], kname, &a,
	    AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(mb->sub[dup->dir], dname, &b,
	    AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(a.st_mode) && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino && (keep->dir != dup->dir ||
	    strcmp(kname, dname) != 0)) {
		if (unlinkat(mb->sub[dup->dir], dname, 0) == 0) {
			mb->dirty[dup->dir] = 1;
			host->log(LOG_WARNING, "list: removed %s/%s, a second "
			    "name of %s/%s left by an interrupted rename",
			    subdir_name[dup->dir], esc(dname, e, sizeof e),
			    subdir_name[keep->dir],
			    esc(kname, ek, sizeof ek));
			return 1;
		}
		host->log(LOG_WARNING, "list: cannot remove %s/%s, a second "
		    "name of the same message: %s", subdir_name[dup->dir],
		    esc(dname, e, sizeof e), strerror(errno));
	}
	scan_log(mb, "list duplicate key, ignored", dup->dir, dname);
	return 0;
}


/*
 * The listing record (pop23d.list, maildir_list.h; doc/DESIGN.md section
 * 7): the sorted list of the last full scan, with the device, inode,
 * mtime and ctime (to the nanosecond) that new/ and cur/ had when it
 * began.  Every delivery, rename or removal in a directory moves its
 * mtime and ctime, and no program can set a ctime back, so a record whose
 * directories still look the same lists what a scan would find, provided
 * the scan did not begin within LIST_RACY_SECS of the directories' last
 * change (a change in the same clock tick could leave the times as they
 * were): such a scan is not recorded.  A record that fails any check
 * costs one full scan, never a wrong list.  No fsync: a record lost or
 * torn by a crash fails its checksums.
 */

/* What new/ and cur/ look like now, into D[].  0, or -1. */
static int
list_dirs(struct pop23d_mbox *mb, struct md_list_dir *d)
{
	struct stat st;
	int i;

	for (i = 0; i < D_COUNT; i++) {
		if (fstat(mb->sub[i], &st) == -1)
			return -1;
		memset(&d[i], 0, sizeof d[i]);
		d[i].dev = (uint64_t)st.st_dev;
		d[i].ino = (uint64_t)st.st_ino;
		d[i].mtime_s = (int64_t)st.st_mtim.tv_sec;
		d[i].mtime_ns = (uint32_t)st.st_mtim.tv_nsec;
		d[i].ctime_s = (int64_t)st.st_ctim.tv_sec;
		d[i].ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
	}
	return 0;
}

static int
same_dirs(const struct md_list_dir *a, const struct md_list_dir *b)
{
	int i;

	for (i = 0; i < D_COUNT; i++)
		if (a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
		    a[i].mtime_s != b[i].mtime_s ||
		    a[i].mtime_ns != b[i].mtime_ns ||
		    a[i].ctime_s != b[i].ctime_s ||
		    a[i].ctime_ns != b[i].ctime_ns)
			return 0;
	return 1;
}

/* Neither directory changed within LIST_RACY_SECS before MADE_S (and
 * none in the future of the clock). */
static int
settled_dirs(const struct md_list_dir *d, int64_t made_s)
{
	int i;

	for (i = 0; i < D_COUNT; i++)
		if (d[i].mtime_s + LIST_RACY_SECS >= made_s ||
		    d[i].ctime_s + LIST_RACY_SECS >= made_s)
			return 0;
	return 1;
}

static int
record_one(void *arg, int dir, char *key, size_t keylen, char *info)
{
	struct collect *c = arg;
	struct md_ent *e = &c->v[c->n];

	(void)keylen;
	memset(e, 0, sizeof *e);
	e->key = key;
	e->info = info;
	e->ts = key_time(key);
	e->dir = (unsigned char)dir;
	/* in the listing's order, as a sort would leave it */
	if (c->n > 0 && ent_cmp(&c->v[c->n - 1], e) >= 0)
		return -1;
	c->n++;
	return 0;
}

/*
 * Fill C from the listing record if new/ and cur/ still look as NOW says
 * they did at its scan (and that scan was not racy).  1 if C holds the
 * list (mb->listbuf owns its names), 0 if not (C empty; *FOUND_R set if a
 * record was there).
 */
static int
record_load(struct pop23d_mbox *mb, const struct md_list_dir *now,
    int64_t now_s, struct collect *c, int *found_r)
{
	unsigned char hb[MD_LIST_HDR_LEN], *buf = NULL;
	struct md_list_hdr h;
	struct stat st;
	ssize_t r;
	size_t got;
	int fd;

	*found_r = 0;
	fd = openat(mb->dfd, LIST_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	*found_r = 1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < MD_LIST_HDR_LEN || st.st_size > LIST_FILE_MAX ||
	    pread(fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb ||
	    md_list_hdr_decode(hb, sizeof hb, &h) != 0 ||
	    h.ents_len != (uint64_t)st.st_size - MD_LIST_HDR_LEN ||
	    h.count < LIST_RECORD_MIN || h.made_s > now_s ||
	    !settled_dirs(h.dir, h.made_s) || !same_dirs(h.dir, now))
		goto fail;
	/* one read of the whole record; the names stay in it */
	if ((buf = malloc(h.ents_len + 1)) == NULL ||
	    (c->v = calloc(h.count, sizeof *c->v)) == NULL)
		goto fail;
	for (got = 0; got < h.ents_len; got += (size_t)r) {
		r = pread(fd, buf + got, h.ents_len - got,
		    MD_LIST_HDR_LEN + (off_t)got);
		if (r <= 0)
			goto fail;
	}
	c->cap = h.count;
	if (md_list_ents_walk(buf, h.ents_len, h.count, h.ents_crc,
	    POP23D_KEY_MAX, record_one, c) != 0 || c->n != h.count) {
		host->log(LOG_WARNING, "list path=%s: the listing record is "
		    "damaged; scanning", mb->path);
		goto fail;
	}
	close(fd);
	mb->listbuf = buf;
	return 1;
fail:
	close(fd);
	free(buf);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
	return 0;
}

/* Write all of LEN octets of BUF at OFF.  0 or -1. */
static int
write_at(int fd, const unsigned char *buf, size_t len, off_t off)
{
	ssize_t w;

	while (len > 0) {
		if ((w = pwrite(fd, buf, len, off)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

/*
 * Record the N entries of V (sorted, duplicates dropped), the list of a
 * scan that began at MADE_S with new/ and cur/ as D says: written to
 * LIST_TMP, then renamed over LIST_NAME.  Failures are logged at most and
 * change nothing.
 */
static void
record_store(struct pop23d_mbox *mb, const struct md_ent *v, size_t n,
    const struct md_list_dir *d, int64_t made_s)
{
	unsigned char hb[MD_LIST_HDR_LEN], *buf = NULL;
	struct md_list_hdr h;
	size_t i, len = 0, kl;
	int fd = -1;

	if (n > MD_LIST_COUNT_MAX || n > SIZE_MAX / (3 + NAME_MAX + 2) ||
	    (buf = malloc(n * (3 + NAME_MAX + 2))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (v[i].name != NULL)	/* renamed already: scan next time */
			goto out;
		kl = strlen(v[i].key);
		len += md_list_ent_encode(v[i].dir == D_CUR, v[i].key, kl,
		    v[i].info, buf + len);
	}
	memset(&h, 0, sizeof h);
	h.count = (uint32_t)n;
	h.made_s = made_s;
	h.dir[0] = d[0];
	h.dir[1] = d[1];
	h.ents_len = len;
	h.ents_crc = crc32c(0, buf, len);
	md_list_hdr_encode(&h, hb);
	fd = openat(mb->dfd, LIST_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1 || write_at(fd, hb, sizeof hb, 0) != 0 ||
	    write_at(fd, buf, len, MD_LIST_HDR_LEN) != 0 ||
	    close(fd) != 0) {
		if (fd == -1 && (errno == EACCES || errno == EROFS ||
		    errno == EPERM))
			goto out;	/* a read-only maildrop: no record */
		fd = -1;
		host->log(LOG_WARNING, "list path=%s: cannot write %s: %s",
		    mb->path, LIST_TMP, strerror(errno));
		(void)unlinkat(mb->dfd, LIST_TMP, 0);
		goto out;
	}
	fd = -1;
	if (renameat(mb->dfd, LIST_TMP, mb->dfd, LIST_NAME) != 0) {
		host->log(LOG_WARNING, "list path=%s: cannot rename %s: %s",
		    mb->path, LIST_TMP, strerror(errno));
		(void)unlinkat(mb->dfd, LIST_TMP, 0);
	}
out:
	if (fd != -1)
		close(fd);
	free(buf);
}

/*
 * Build the message list: from the listing record if new/ and cur/ have
 * not changed since it was made, else scan, sort, drop duplicate keys
 * (keeping the preferred copy, see ent_cmp(); a second name of the same
 * file is removed, see drop_duplicate()) and record the result.
 * POP23D_OK or POP23D_TEMPFAIL.
 */
static enum pop23d_result
build_list(struct pop23d_mbox *mb)
{
	struct collect c = { NULL, 0, 0, NULL };
	struct pop23d_msg *msgs = NULL;
	struct md_list_dir before[D_COUNT], after[D_COUNT];
	struct timespec made;
	int from_record = 0, found = 0, can_store = 0;
	size_t i, n;

	if (mb->use_record && list_dirs(mb, before) == 0 &&
	    clock_gettime(CLOCK_REALTIME, &made) == 0) {
		from_record = record_load(mb, before, (int64_t)made.tv_sec, &c,
		    &found);
		can_store = !from_record &&
		    settled_dirs(before, (int64_t)made.tv_sec);
	}
	if (from_record) {
		host->log(LOG_DEBUG, "list path=%s: %zu names from the "
		    "listing record", mb->path, c.n);
		goto listed;
	}
	if (scan_all(mb, collect_one, &c) == -1) {
		free_ents(c.v, c.n);
		arena_free(&c.arena);
		return POP23D_TEMPFAIL;
	}
	if (sort_ents(&c.v, c.n) != 0) {
		host->log(LOG_ERR, "list: out of memory for %zu messages",
		    c.n);
		free_ents(c.v, c.n);
		arena_free(&c.arena);
		return POP23D_TEMPFAIL;
	}
listed:
	mb->logged = mb->unlogged = 0;
	for (i = n = 0; i < c.n; i++) {
		if (n > 0 && strcmp(c.v[n - 1].key, c.v[i].key) == 0) {
			(void)drop_duplicate(mb, &c.v[n - 1], &c.v[i]);
			continue;
		}
		c.v[n++] = c.v[i];
	}
	if (mb->unlogged > 0)
		host->log(LOG_WARNING, "list: %zu more duplicates not logged",
		    mb->unlogged);
	/* Recorded only if nothing changed new/ or cur/ during the scan
	 * (nor the removal of a duplicate above). */
	if (can_store && n >= LIST_RECORD_MIN && list_dirs(mb, after) == 0 &&
	    same_dirs(before, after))
		record_store(mb, c.v, n, before, (int64_t)made.tv_sec);
	else if (found && !from_record)
		(void)unlinkat(mb->dfd, LIST_NAME, 0);	/* stale */
	if (n > 0 && (msgs = calloc(n, sizeof *msgs)) == NULL) {
		host->log(LOG_ERR, "list: out of memory for %zu messages", n);
		free_ents(c.v, n);
		arena_free(&c.arena);
		return POP23D_TEMPFAIL;
	}
	for (i = 0; i < n; i++) {
		msgs[i].key = c.v[i].key;
		msgs[i].raw_size = -1;	/* the daemon measures */
		msgs[i].accessed = ent_accessed(&c.v[i]);
	}
	mb->ents = c.v;
	mb->arena = c.arena;
	mb->msgs = msgs;
	mb->count = n;
	mb->listed = 1;
	return POP23D_OK;
}

/*
 * Re-scan callback: find the listed message with this key and record
 * where it is now.  Names not in the list (new mail) are ignored.
 */
static int
rescan_one(struct pop23d_mbox *mb, int d, const char *name, size_t keylen,
    void *arg)
{
	char kbuf[POP23D_KEY_MAX + 1], nbuf[NAME_MAX + 1];
	struct md_ent probe, *e;
	const char *cur;
	char *copy;

	(void)arg;
	if (mb->count == 0)
		return 0;
	memset(&probe, 0, sizeof probe);
	memcpy(kbuf, name, keylen);
	kbuf[keylen] = '\0';
	probe.key = kbuf;
	probe.ts = key_time(kbuf);
	e = bsearch(&probe, mb->ents, mb->count, sizeof *mb->ents,
	    ent_key_cmp);
	if (e == NULL)
		return 0;
	/* A duplicate: keep the preferred copy, as build_list() does
	 * (cur/ before new/, then the smaller name). */
	cur = ent_name(e, nbuf);
	if (e->seen && (e->dir > d || (e->dir == d &&
	    strcmp(cur, name) <= 0)))
		return 0;
	if (e->dir != d || strcmp(cur, name) != 0) {
		if ((copy = strdup(name)) == NULL)
			return -1;
		set_name(e, copy);
		e->dir = (unsigned char)d;
	}
	e->seen = 1;
	return 0;
}

/*
 * Find every listed message again after an ENOENT (another reader renamed
 * or deleted files).  Messages not found are marked gone.  0, or -1 after
 * logging (the old locations are kept).
 */
static int
rescan(struct pop23d_mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->count; i++)
		mb->ents[i].seen = 0;
	if (scan_all(mb, rescan_one, NULL) == -1)
		return -1;
	for (i = 0; i < mb->count; i++) {
		mb->ents[i].gone = !mb->ents[i].seen;
		mb->msgs[i].accessed = ent_accessed(&mb->ents[i]);
	}
	return 0;
}

/* Close an mbox's descriptors (the lock goes with lockfd) and free it. */
static void
md_close(struct pop23d_mbox **mbp)
{
	struct pop23d_mbox *mb;
	int d;

	if (mbp == NULL || (mb = *mbp) == NULL)
		return;
	if (mb->msg_unlogged > 0)
		host->log(LOG_WARNING, "%zu more message open errors not "
		    "logged", mb->msg_unlogged);
	if (mb->lockfd != -1)
		close(mb->lockfd);
	for (d = 0; d < D_COUNT; d++)
		if (mb->sub[d] != -1)
			close(mb->sub[d]);
	if (mb->dfd != -1)
		close(mb->dfd);
	free_ents(mb->ents, mb->count);
	arena_free(&mb->arena);
	free(mb->listbuf);
	free(mb->msgs);
	free(mb->path);
	free(mb);
	*mbp = NULL;
}

/*
 * Take the session lock on DFD/pop23d.lock (created 0600).  An open file
 * description lock (F_OFD_SETLK) where the kernel has it, else a classic
 * POSIX lock: both are dropped by the kernel when the process dies
 * (kill -9), and both conflict with each other.  The OFD lock also
 * conflicts with a second open() of the same maildrop inside this process
 * and is not lost when some other fd of the file is closed.
 */
static enum pop23d_result
take_lock(struct pop23d_mbox *mb, const char **error_r)
{
	struct flock fl;
	struct stat st;
	int r;

	mb->lockfd = openat(mb->dfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (mb->lockfd == -1) {
		int serrno = errno;

		host->log(LOG_ERR, "open lock path=%s/%s: %s", mb->path,
		    LOCK_NAME, strerror(serrno));
		*error_r = "cannot open the lock file";
		return (serrno == ELOOP || serrno == EACCES ||
		    serrno == EPERM || serrno == EROFS || serrno == ENXIO ||
		    serrno == EISDIR) ? POP23D_PERMFAIL : POP23D_TEMPFAIL;
	}
	if (fstat(mb->lockfd, &st) == -1) {
		host->log(LOG_ERR, "fstat lock path=%s: %s", mb->path,
		    strerror(errno));
		*error_r = "cannot check the lock file";
		return POP23D_TEMPFAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		host->log(LOG_ERR, "lock path=%s/%s is not a regular file",
		    mb->path, LOCK_NAME);
		*error_r = "the lock file is not a regular file";
		return POP23D_PERMFAIL;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;		/* the whole file */
#ifdef F_OFD_SETLK
	r = fcntl(mb->lockfd, F_OFD_SETLK, &fl);
	if (r == -1 && errno == EINVAL)	/* kernel before 3.15 */
		r = fcntl(mb->lockfd, F_SETLK, &fl);
#else
	r = fcntl(mb->lockfd, F_SETLK, &fl);
#endif
	if (r == -1) {
		if (errno == EAGAIN || errno == EACCES) {
			*error_r = "maildrop is locked by another session";
			return POP23D_INUSE;
		}
		host->log(LOG_ERR, "lock path=%s: %s", mb->path,
		    strerror(errno));
		*error_r = "cannot lock the maildrop";
		return POP23D_TEMPFAIL;
	}
	return POP23D_OK;
}

/*
 * Finish opening a maildir whose directory is already open as DFD (taken
 * over, closed on failure) and whose path is PATH (taken over, freed on
 * failure): open new/ and cur/ (never through a symlink) and take the
 * lock.  FOLDER: map every "cannot use it" error to POP23D_NOUSER, so a
 * FOLD does not tell what exists (doc/PROTOCOLS.md, edge case 24).
 */
static enum pop23d_result
open_at(int dfd, char *path, int folder, struct pop23d_mbox **mbox_r,
    const char **error_r)
{
	struct pop23d_mbox *mb;
	enum pop23d_result res;
	int d;

	*mbox_r = NULL;
	if ((mb = calloc(1, sizeof *mb)) == NULL) {
		close(dfd);
		free(path);
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	mb->dfd = dfd;
	mb->path = path;
	mb->lockfd = -1;
	mb->sub[D_NEW] = mb->sub[D_CUR] = -1;
	mb->do_fsync = fsync_enabled();
	mb->use_record = list_record_enabled();
	for (d = 0; d < D_COUNT; d++) {
		mb->sub[d] = openat(dfd, subdir_name[d], O_RDONLY |
		    O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (mb->sub[d] != -1)
			continue;
		if (errno == ENOENT) {
			*error_r = "not a Maildir (no cur/ or new/)";
			res = POP23D_NOUSER;
		} else if (errno == ENOTDIR || errno == ELOOP ||
		    errno == EACCES || errno == EPERM) {
			host->log(LOG_ERR, "open dir=%s path=%s: %s",
			    subdir_name[d], path, strerror(errno));
			*error_r = "cannot use the Maildir's cur/ or new/";
			res = folder ? POP23D_NOUSER : POP23D_PERMFAIL;
		} else {
			host->log(LOG_ERR, "open dir=%s path=%s: %s",
			    subdir_name[d], path, strerror(errno));
			*error_r = "cannot open the Maildir's cur/ or new/";
			res = POP23D_TEMPFAIL;
		}
		md_close(&mb);
		return res;
	}
	if ((res = take_lock(mb, error_r)) != POP23D_OK) {
		md_close(&mb);
		return res;
	}
	*mbox_r = mb;
	return POP23D_OK;
}

static enum pop23d_result
open_location(const char *location, int *dfd_r, const char **error_r)
{
	int serrno;

	*dfd_r = open(location, O_RDONLY | O_DIRECTORY | O_NONBLOCK |
	    O_CLOEXEC);
	if (*dfd_r != -1)
		return POP23D_OK;
	if ((serrno = errno) == ENOENT) {
		*error_r = "the Maildir does not exist";
		return POP23D_NOUSER;
	}
	host->log(LOG_ERR, "open path=%s: %s", location, strerror(serrno));
	if (serrno == ENOTDIR || serrno == EACCES || serrno == EPERM ||
	    serrno == ELOOP || serrno == ENAMETOOLONG) {
		*error_r = "the Maildir is not a usable directory";
		return POP23D_PERMFAIL;
	}
	*error_r = "cannot open the Maildir";
	return POP23D_TEMPFAIL;
}

static enum pop23d_result
md_open(const char *location, struct pop23d_mbox **mbox_r,
    const char **error_r)
{
	enum pop23d_result res;
	char *path;
	int dfd;

	*mbox_r = NULL;
	if ((res = open_location(location, &dfd, error_r)) != POP23D_OK)
		return res;
	if ((path = strdup(location)) == NULL) {
		close(dfd);
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	return open_at(dfd, path, 0, mbox_r, error_r);
}

static enum pop23d_result
md_folder_open(const char *location, const char *name,
    struct pop23d_mbox **mbox_r, const char **error_r)
{
	char dname[FOLDER_NAME_MAX + 2], e[LOG_NAME_MAX];
	struct stat st, fst;
	enum pop23d_result res;
	char *path;
	size_t plen;
	int dfd, fd, n;

	*mbox_r = NULL;
	if (name == NULL || strcasecmp(name, "INBOX") == 0)
		return md_open(location, mbox_r, error_r);
	if (!folder_name_ok(name)) {
		host->log(LOG_INFO, "folder refused name=%s",
		    esc(name, e, sizeof e));
		*error_r = "invalid folder name";
		return POP23D_NOUSER;
	}
	n = snprintf(dname, sizeof dname, ".%s", name);
	if (n < 0 || (size_t)n >= sizeof dname) {
		*error_r = "invalid folder name";
		return POP23D_NOUSER;
	}
	if ((res = open_location(location, &dfd, error_r)) != POP23D_OK)
		return res;
	/* lstat first: a symlink, FIFO, device or file is refused without
	 * being opened, so it can neither lead out nor block. */
	if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode)) {
		close(dfd);
		*error_r = "no such folder";
		return POP23D_NOUSER;
	}
	fd = openat(dfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		int serrno = errno;

		close(dfd);
		if (serrno == EMFILE || serrno == ENFILE ||
		    serrno == ENOMEM || serrno == EIO) {
			host->log(LOG_ERR, "open folder name=%s: %s",
			    esc(name, e, sizeof e), strerror(serrno));
			*error_r = "cannot open the folder";
			return POP23D_TEMPFAIL;
		}
		*error_r = "no such folder";
		return POP23D_NOUSER;
	}
	close(dfd);
	/* The directory must still be the one lstat saw (no swap in
	 * between). */
	if (fstat(fd, &fst) == -1 || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino) {
		close(fd);
		*error_r = "no such folder";
		return POP23D_NOUSER;
	}
	plen = strlen(location) + 1 + strlen(dname) + 1;
	if ((path = malloc(plen)) == NULL) {
		close(fd);
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	n = snprintf(path, plen, "%s/%s", location, dname);
	if (n < 0 || (size_t)n >= plen) {	/* cannot happen: sized above */
		free(path);
		close(fd);
		*error_r = "folder path too long";
		return POP23D_PERMFAIL;
	}
	return open_at(fd, path, 1, mbox_r, error_r);
}

static enum pop23d_result
md_list(struct pop23d_mbox *mb, const struct pop23d_msg **msgs_r,
    size_t *count_r)
{
	static const struct pop23d_msg none;
	enum pop23d_result res;

	if (!mb->listed && (res = build_list(mb)) != POP23D_OK)
		return res;
	*msgs_r = mb->count > 0 ? mb->msgs : &none;
	*count_r = mb->count;
	return POP23D_OK;
}

/* Message I of MB, or NULL (logged) when I is out of range. */
static struct md_ent *
get_ent(struct pop23d_mbox *mb, size_t i, const char *op)
{
	if (!mb->listed || i >= mb->count) {
		host->log(LOG_ERR, "%s: message index %zu out of range (%zu)",
		    op, i, mb->count);
		return NULL;
	}
	return &mb->ents[i];
}

static enum pop23d_result
md_msg_open(struct pop23d_mbox *mb, size_t i, int *fd_r, off_t *offset_r,
    off_t *length_r)
{
	struct md_ent *e;
	struct stat st;
	int fd, tries;
	char en[LOG_NAME_MAX], nbuf[NAME_MAX + 1];

	*fd_r = -1;
	if ((e = get_ent(mb, i, "msg_open")) == NULL)
		return POP23D_PERMFAIL;
	for (tries = 0;; tries++) {
		if (e->gone)
			return POP23D_NOUSER;
		/* O_NONBLOCK: a FIFO with this name must not block us. */
		fd = openat(mb->sub[e->dir], ent_name(e, nbuf), O_RDONLY |
		    O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd != -1)
			break;
		if (errno != ENOENT || tries > 0)
			break;
		/* another reader renamed (or deleted) it: find it again */
		if (rescan(mb) == -1)
			return POP23D_TEMPFAIL;
	}
	if (fd == -1) {
		int serrno = errno;

		if (serrno == ENOENT)
			return POP23D_NOUSER;
		msg_log(mb, LOG_ERR, "open message dir=%s name=%s: %s",
		    subdir_name[e->dir], esc(ent_name(e, nbuf), en, sizeof en),
		    strerror(serrno));
		return (serrno == ELOOP || serrno == EACCES ||
		    serrno == EPERM || serrno == ENXIO || serrno == ENODEV) ?
		    POP23D_PERMFAIL : POP23D_TEMPFAIL;
	}
	if (fstat(fd, &st) == -1) {
		msg_log(mb, LOG_ERR, "fstat message name=%s: %s",
		    esc(ent_name(e, nbuf), en, sizeof en), strerror(errno));
		close(fd);
		return POP23D_TEMPFAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		msg_log(mb, LOG_WARNING, "message dir=%s name=%s is not a "
		    "regular file", subdir_name[e->dir],
		    esc(ent_name(e, nbuf), en, sizeof en));
		close(fd);
		return POP23D_PERMFAIL;
	}
	/* O_NONBLOCK (there against a FIFO at open) stays on: reads of a
	 * regular file do not look at it (open(2), read(2)), and clearing
	 * it cost two system calls per message opened. */
	*fd_r = fd;
	*offset_r = 0;
	*length_r = st.st_size;
	return POP23D_OK;
}

/*
 * The name E should have once it has been read, in BUF (size BUFSZ):
 * "key:2,FLAGS" with 'S' added and the flags in ASCII order without
 * repeats (maildir(5)).  A new/ file with an info that is not "2,..." keeps
 * its name (it only moves to cur/).  Returns 1 if E must be renamed, 0 if
 * it is already right (or has an unknown info in cur/, left alone), -1 if
 * the name does not fit.
 */
static int
accessed_name(const struct md_ent *e, char *buf, size_t bufsz)
{
	unsigned char have[256];
	char nbuf[NAME_MAX + 1];
	const char *name = ent_name(e, nbuf), *info, *f;
	size_t keylen, len;
	int c;

	info = strchr(name, ':');
	if (info != NULL && strncmp(info + 1, "2,", 2) != 0) {
		if (e->dir == D_CUR)
			return 0;
		len = strlen(name);
		if (len >= bufsz)
			return -1;
		memcpy(buf, name, len + 1);
		return 1;
	}
	f = info != NULL ? info + 3 : "";
	if (e->dir == D_CUR && strchr(f, 'S') != NULL)
		return 0;
	memset(have, 0, sizeof have);
	for (; *f != '\0'; f++)
		have[(unsigned char)*f] = 1;
	have['S'] = 1;
	keylen = strlen(e->key);
	if (keylen + 3 >= bufsz)
		return -1;
	memcpy(buf, e->key, keylen);
	memcpy(buf + keylen, ":2,", 3);
	len = keylen + 3;
	for (c = 1; c < 256; c++) {
		if (!have[c])
			continue;
		if (len + 1 >= bufsz)
			return -1;
		buf[len++] = (char)c;
	}
	buf[len] = '\0';
	return 1;
}

/*
 * Rename FROM in directory FD1 to TO in FD2 without ever replacing an
 * existing TO (that would unlink another copy of a message).  0, or -1
 * with errno (EEXIST if TO exists).
 */
static int
rename_noreplace(int fd1, const char *from, int fd2, const char *to)
{
	struct stat st;

#ifdef RENAME_NOREPLACE
	if (renameat2(fd1, from, fd2, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
#endif
	/* The classic Maildir way: link, then unlink the old name. */
	if (linkat(fd1, from, fd2, to, 0) == 0) {
		if (unlinkat(fd1, from, 0) == -1 && errno != ENOENT)
			return -1;
		return 0;
	}
	if (errno == EEXIST || errno == ENOENT)
		return -1;
	/* No hard links on this file system: check, then rename. */
	if (fstatat(fd2, to, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EEXIST;
		return -1;
	}
	return renameat(fd1, from, fd2, to);
}

static enum pop23d_result
md_mark_accessed(struct pop23d_mbox *mb, size_t i)
{
	char nname[NAME_MAX + 1], en[LOG_NAME_MAX], obuf[NAME_MAX + 1];
	struct md_ent *e;
	char *copy;
	int r, tries, from;

	if ((e = get_ent(mb, i, "mark_accessed")) == NULL)
		return POP23D_PERMFAIL;
	for (tries = 0;; tries++) {
		if (e->gone)
			return POP23D_NOUSER;
		if ((r = accessed_name(e, nname, sizeof nname)) == 0)
			return POP23D_OK;
		if (r == -1) {
			host->log(LOG_WARNING, "mark_accessed: name too long "
			    "key=%s", esc(e->key, en, sizeof en));
			return POP23D_OK;	/* the index still knows */
		}
		if ((copy = strdup(nname)) == NULL)
			return POP23D_TEMPFAIL;
		from = e->dir;
		if (rename_noreplace(mb->sub[from], ent_name(e, obuf),
		    mb->sub[D_CUR], nname) == 0) {
			set_name(e, copy);
			e->dir = D_CUR;
			mb->dirty[from] = mb->dirty[D_CUR] = 1;
			mb->msgs[i].accessed = ent_accessed(e);
			return POP23D_OK;
		}
		free(copy);
		if (errno == EEXIST) {
			/* another copy already has the read name */
			host->log(LOG_WARNING, "mark_accessed: cur/%s exists, "
			    "left alone", esc(nname, en, sizeof en));
			return POP23D_OK;
		}
		if (errno != ENOENT || tries > 0)
			break;
		if (rescan(mb) == -1)
			return POP23D_TEMPFAIL;
	}
	if (errno == ENOENT)
		return POP23D_NOUSER;
	host->log(LOG_ERR, "mark_accessed rename dir=%s name=%s: %s",
	    subdir_name[e->dir], esc(ent_name(e, obuf), en, sizeof en),
	    strerror(errno));
	return POP23D_TEMPFAIL;
}

static enum pop23d_result
md_expunge(struct pop23d_mbox *mb, const size_t *idx, size_t n)
{
	enum pop23d_result res = POP23D_OK;
	char en[LOG_NAME_MAX], nbuf[NAME_MAX + 1];
	struct md_ent *e;
	size_t k;
	int d, tries;

	/* Check every index before deleting anything. */
	for (k = 0; k < n; k++)
		if (get_ent(mb, idx[k], "expunge") == NULL)
			return POP23D_PERMFAIL;
	for (k = 0; k < n; k++) {
		e = &mb->ents[idx[k]];
		for (tries = 0;; tries++) {
			if (e->gone)
				break;
			if (unlinkat(mb->sub[e->dir], ent_name(e, nbuf), 0) ==
			    0) {
				e->gone = 1;
				mb->dirty[e->dir] = 1;
				break;
			}
			if (errno != ENOENT) {
				host->log(LOG_ERR, "expunge dir=%s name=%s: %s",
				    subdir_name[e->dir],
				    esc(ent_name(e, nbuf), en, sizeof en),
				    strerror(errno));
				res = POP23D_TEMPFAIL;
				break;
			}
			if (tries > 0) {	/* gone since the re-scan */
				e->gone = 1;
				break;
			}
			if (rescan(mb) == -1) {
				res = POP23D_TEMPFAIL;
				break;
			}
		}
	}
	/* unlink() is durable only once the directory is synced (doc/SECURITY.md D5). */
	for (d = 0; d < D_COUNT; d++) {
		if (!mb->dirty[d] || !mb->do_fsync)
			continue;
		if (fsync(mb->sub[d]) == -1) {
			host->log(LOG_ERR, "fsync dir=%s path=%s: %s",
			    subdir_name[d], mb->path, strerror(errno));
			res = POP23D_TEMPFAIL;
			continue;
		}
		mb->dirty[d] = 0;
	}
	return res;
}

static const char *
md_index_dir(struct pop23d_mbox *mb)
{
	return mb->path;
}

/* Deleting and flagging need write access to new/ and cur/. */
static int
md_writable(struct pop23d_mbox *mb)
{
	return faccessat(mb->dfd, "new", W_OK, 0) == 0 &&
	    faccessat(mb->dfd, "cur", W_OK, 0) == 0;
}

static const struct pop23d_store_ops md_ops = {
	.open = md_open,
	.list = md_list,
	.msg_open = md_msg_open,
	.mark_accessed = md_mark_accessed,
	.expunge = md_expunge,
	.index_dir = md_index_dir,
	.close = md_close,
	.folder_open = md_folder_open,
	.writable = md_writable,
};

static const char *const md_config_keys[] = { "fsync", "list_record",
	NULL };

static const struct pop23d_plugin md_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 1,		/* folder_open is optional for the host */
	.kind = POP23D_PLUGIN_STORE,
	.name = PLUGIN_NAME,
	.config_keys = md_config_keys,
	.check_config = md_check_config,
	.auth = NULL,
	.store = &md_ops,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (h == NULL || h->log == NULL || h->config_get == NULL)
		return -1;
	if (host_abi != POP23D_PLUGIN_ABI) {
		h->log(LOG_ERR, "maildir plugin built for ABI %d, host has %u",
		    POP23D_PLUGIN_ABI, host_abi);
		return -1;
	}
	host = h;
	*plugin_r = &md_plugin;
	return 0;
}
