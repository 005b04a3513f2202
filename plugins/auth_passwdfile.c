/*
 * auth_passwdfile.c - the "passwdfile" auth plugin: checks USER/PASS (and
 * POP2 HELO) and APOP against a passwd-file and maps a user to uid, gid
 * and home.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Privilege: runs as root.  check_config() runs in the master at startup
 * and on SIGHUP (and for "pop23d -t"); verify_plain(), verify_apop() and
 * lookup() run in the per-connection monitor, which never reads client
 * bytes itself: it only gets the user name and password (or APOP digest)
 * that the pre-auth child forwarded.  The file is opened by root and maps
 * users to uids, so it must pass the host's trusted_file() check (owned by
 * root, or by the daemon's user in rootless mode, not writable by group or
 * others, and the same for every directory above it): otherwise anyone
 * who could write it could add a user or give one another's uid.
 *
 * Config section [passwdfile]:
 *	path = /etc/pop23d/passwd	(absolute; required)
 *
 * File format, a subset of Dovecot's passwd-file, one user per line:
 *
 *	user:password:uid:gid:gecos:home:shell:extra
 *
 * Fields after the password may be absent.  Empty uid/gid mean "not set"
 * (the daemon uses virtual_uid/virtual_gid); uid 0 and gid 0 are refused
 * because the daemon never runs a session as root.  gecos and shell are
 * ignored; the 8th field (Dovecot's extra fields, e.g. userdb_mail=) is
 * not supported and must be empty, so that it is not silently ignored.
 * home is empty or an absolute path.  Lines starting with '#' (after
 * optional blanks) and blank lines are skipped.  A line holds at most
 * PF_LINE_MAX bytes including its LF; a trailing CR is dropped.  No field
 * can contain ':' (there is no escaping), so neither can a password.
 *
 * Password field:
 *	{PLAIN}secret		plaintext; the only scheme APOP can use
 *	{CRYPT}$6$...		crypt(3) through libxcrypt: $y$ $gy$ $7$
 *				$6$ $5$ $2b$ $2y$ $2a$
 *	{SHA512-CRYPT}$6$...	the same, restricted to $6$
 *	{SHA256-CRYPT}$5$...	the same, restricted to $5$
 *	{BLF-CRYPT}$2b$...	the same, restricted to bcrypt
 *	$6$...			a bare crypt hash, as {CRYPT}
 * Scheme names are case-insensitive.  Anything else is a config error.
 *
 * check_config() (in the master) only validates the file and forgets it,
 * so that no process forked from the master, the pre-auth children among
 * them, has password data in its memory.  The monitor parses the file
 * into memory on its first verify/lookup.  Each later call stat()s the
 * path and reads the file again when its device, inode, size, mtime, mode
 * or owner changed, so edits take effect without a restart.  A file whose
 * mtime is within a second of the moment it was read is "racy" (another
 * write in the same timestamp tick would not change the mtime; compare
 * git's racy-git rule) and is read again on the next use.  A file that
 * became unreadable or malformed makes every call return POP23D_TEMPFAIL
 * (stale data is never used); the error is logged once per version of
 * the file.
 *
 * Timing: every verify_plain() runs exactly one crypt(3): the user's own
 * hash, or for an unknown user or a {PLAIN} user a dummy hash of the same
 * method and cost (the first crypt hash in the file, else SHA-512 crypt
 * with 5000 rounds).  So the time does not tell whether a user exists.
 * Comparisons are constant-time over fixed-size buffers.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "pop23d/plugin.h"
#include "apop.h"
#include "hostcheck.h"

#define PF_NAME		"passwdfile"

/* One line including its LF.  Dovecot's longest sensible line (yescrypt
 * hash, long home) is far below; a longer line is a mistake, and cutting
 * it would change a password or home silently. */
#define PF_LINE_MAX	4096

/* The whole file is read into memory: bound it so a runaway file cannot
 * exhaust the monitor.  64 MiB is several hundred thousand users. */
#define PF_FILE_MAX	((off_t)64 * 1024 * 1024)

/* Longest password field and longest compared string, NUL excluded.
 * crypt outputs are shorter than CRYPT_OUTPUT_SIZE (384); libxcrypt
 * refuses passphrases of CRYPT_MAX_PASSPHRASE_SIZE (512) bytes or more,
 * so a longer client password can never match anything. */
#define PF_CMP_MAX	CRYPT_MAX_PASSPHRASE_SIZE

/* User names: RFC 2449 caps arguments at 40 octets, but sites use longer
 * names (addresses); 255 is the usual mail system limit. */
#define PF_USER_MAX	255

/* Dummy crypt setting when the file holds no crypt hash: SHA-512 crypt at
 * its default cost, 5000 rounds. */
#define PF_DUMMY_SETTING "$6$rounds=5000$pop23dDummySalt$"

enum pf_scheme {
	PF_SCHEME_CRYPT = 1,
	PF_SCHEME_PLAIN = 2,
};

struct pf_entry {
	char *line;		/* private copy of the line; fields point in */
	size_t line_size;	/* bytes allocated for line (for wiping) */
	unsigned long lineno;
	const char *user;
	const char *secret;	/* crypt hash or plaintext secret */
	size_t secret_len;
	enum pf_scheme scheme;
	uid_t uid;		/* (uid_t)-1: not set */
	gid_t gid;		/* (gid_t)-1: not set */
	const char *home;	/* "" if none */
};

/* What identifies one version of the file. */
struct pf_stamp {
	int valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	mode_t mode;		/* a chmod o+w must be noticed */
	uid_t owner;
};

struct pf_table {
	struct pf_entry *v;	/* sorted by user */
	size_t n;
	char dummy[PF_CMP_MAX];	/* crypt setting for the dummy hash */
	struct pf_stamp stamp;	/* the file this was read from */
	int racy;		/* read again on next use */
};

static const struct pop23d_host *pf_host;
static struct pf_table *table;		/* NULL: nothing loaded */
static char cur_path[PATH_MAX];		/* path of table, "" if none */
static struct pf_stamp bad_stamp;	/* a version that failed: logged */
static int bad_racy;			/* ... but may change unseen */
static int bad_errno;			/* last stat() errno logged */
static char errbuf[PATH_MAX + 256];	/* check_config() message */
/* A parser reason with variable text (pf_why()); valid until the next. */
static char pf_whybuf[128];
/* ~32 KiB; static because the monitor is single-threaded and it must be
 * zero before the first crypt_rn().  Wiped after each use. */
static struct crypt_data cdata;

/* crypt method prefixes accepted in the file.  DES, MD5 ($1$) and other
 * legacy methods are refused: they are too cheap to guess. */
static const char *const pf_crypt_prefixes[] = {
	"$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$", "$2a$", NULL
};

static const struct {
	const char *name;
	enum pf_scheme scheme;
	const char *prefix;	/* required crypt prefix; NULL = any */
} pf_schemes[] = {
	{ "PLAIN", PF_SCHEME_PLAIN, NULL },
	{ "CRYPT", PF_SCHEME_CRYPT, NULL },
	{ "SHA512-CRYPT", PF_SCHEME_CRYPT, "$6$" },
	{ "SHA256-CRYPT", PF_SCHEME_CRYPT, "$5$" },
	{ "BLF-CRYPT", PF_SCHEME_CRYPT, "$2" },
};

static void
table_free(struct pf_table **tp)
{
	struct pf_table *t = *tp;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		pf_host->secure_zero(t->v[i].line, t->v[i].line_size);
		free(t->v[i].line);
	}
	free(t->v);
	pf_host->secure_zero(t, sizeof *t);
	free(t);
	*tp = NULL;
}

/*
 * Error idiom of this file: parser functions return -1 and point *why_r at
 * a reason, a literal or pf_whybuf (via pf_why()), valid until the next
 * pf_why(); set_error() and set_line_error() turn a reason into errbuf,
 * the text check_config() returns and the log shows.
 */
static const char * __attribute__((format(printf, 1, 2)))
pf_why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pf_whybuf, sizeof pf_whybuf, fmt, ap);
	va_end(ap);
	return pf_whybuf;
}

/*
 * Parse a uid or gid field: "" -> *id_r = -1 (not set); otherwise decimal
 * digits only, no sign or blanks, not 0, fitting in 32 bits and not the
 * reserved (uid_t)-1.  Returns 0, or -1 with *why_r set.
 */
static int
parse_id(const char *s, unsigned long *id_r, const char **why_r)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0') {
		*id_r = (unsigned long)-1;
		return 0;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			*why_r = "is not a decimal number";
			return -1;
		}
		/* 0xfffffffe is the largest usable id. */
		if (v > (0xfffffffeUL - (unsigned long)(*p - '0')) / 10) {
			*why_r = "is too large";
			return -1;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0) {
		*why_r = "is 0 (root), which is not allowed";
		return -1;
	}
	*id_r = v;
	return 0;
}

/* Non-zero if S has a byte below 0x21 or 0x7f (blank or control). */
static int
has_blank_or_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

/* Non-zero if S has a control byte (below 0x20, or 0x7f). */
static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

/*
 * Check a crypt hash: a supported method (and REQUIRED's prefix if not
 * NULL), crypt alphabet only, and libxcrypt accepts its setting.  Returns
 * 0 (with *weak_r set for a legacy method) or -1 with *why_r set.
 */
static int
check_crypt(const char *h, const char *required, int *weak_r,
    const char **why_r)
{
	const char *p;
	size_t i;

	*weak_r = 0;
	for (i = 0; pf_crypt_prefixes[i] != NULL; i++)
		if (strncmp(h, pf_crypt_prefixes[i],
		    strlen(pf_crypt_prefixes[i])) == 0)
			break;
	if (pf_crypt_prefixes[i] == NULL) {
		*why_r = "unsupported crypt method (use $y$, $6$, $5$ or $2b$)";
		return -1;
	}
	if (required != NULL && strncmp(h, required, strlen(required)) != 0) {
		*why_r = "hash does not match its {SCHEME}";
		return -1;
	}
	for (p = h; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '/' ||
		    *p == '$' || *p == ',' || *p == '=')
			continue;
		*why_r = "bad character in crypt hash";
		return -1;
	}
	switch (crypt_checksalt(h)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
	case CRYPT_SALT_TOO_CHEAP:
		*weak_r = 1;
		break;
	case CRYPT_SALT_METHOD_DISABLED:
		*why_r = "crypt method is disabled in libxcrypt";
		return -1;
	default:
		*why_r = "malformed crypt hash";
		return -1;
	}
	return 0;
}

/*
 * Parse the password field PW into E.  Returns 0 or -1 with *why_r set.
 */
static int
parse_password(char *pw, struct pf_entry *e, int *weak_r,
    const char **why_r)
{
	const char *required = NULL;
	char *close, *rest;
	size_t i, nlen;

	*weak_r = 0;
	if (*pw == '\0') {
		*why_r = "empty password field";
		return -1;
	}
	if (has_ctl(pw)) {
		*why_r = "control character in password field";
		return -1;
	}
	if (*pw == '{') {
		if ((close = strchr(pw, '}')) == NULL) {
			*why_r = "unterminated {SCHEME}";
			return -1;
		}
		nlen = (size_t)(close - (pw + 1));
		for (i = 0; i < sizeof pf_schemes / sizeof pf_schemes[0]; i++)
			if (strlen(pf_schemes[i].name) == nlen &&
			    strncasecmp(pw + 1, pf_schemes[i].name, nlen) == 0)
				break;
		if (i == sizeof pf_schemes / sizeof pf_schemes[0]) {
			/* The name is bounded by the line length and has
			 * no control characters (checked above). */
			*why_r = pf_why("unknown password scheme {%.*s}",
			    nlen > 40 ? 40 : (int)nlen, pw + 1);
			return -1;
		}
		e->scheme = pf_schemes[i].scheme;
		required = pf_schemes[i].prefix;
		rest = close + 1;
	} else if (*pw == '$') {
		e->scheme = PF_SCHEME_CRYPT;
		rest = pw;
	} else {
		*why_r = "password has no {SCHEME} and is not "
		    "a $id$ crypt hash";
		return -1;
	}
	if (*rest == '\0') {
		*why_r = "empty password after {SCHEME}";
		return -1;
	}
	e->secret = rest;
	e->secret_len = strlen(rest);
	if (e->secret_len >= PF_CMP_MAX) {
		*why_r = pf_why("password field longer than %d bytes",
		    PF_CMP_MAX - 1);
		return -1;
	}
	if (e->scheme == PF_SCHEME_CRYPT &&
	    check_crypt(rest, required, weak_r, why_r) == -1)
		return -1;
	return 0;
}

/*
 * Parse one line (NUL-terminated, in E->line, no LF) into E.  Returns 1
 * for an entry, 0 for a comment or blank line, -1 with *why_r set.
 */
static int
pf_parse_line(struct pf_entry *e, int *weak_r, const char **why_r)
{
	char *f[8], *p, *q;
	unsigned long id;
	const char *reason;
	size_t n = 0;

	*weak_r = 0;
	for (p = e->line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0' || *p == '#')
		return 0;

	p = e->line;
	for (;;) {
		f[n++] = p;
		if ((q = strchr(p, ':')) == NULL)
			break;
		if (n == sizeof f / sizeof f[0]) {
			*why_r = pf_why("more than %zu fields (extra "
			    "fields are not supported)",
			    sizeof f / sizeof f[0]);
			return -1;
		}
		*q = '\0';
		p = q + 1;
	}
	if (n < 2) {
		*why_r = "no ':' after the user name";
		return -1;
	}

	e->user = f[0];
	if (*e->user == '\0') {
		*why_r = "empty user name";
		return -1;
	}
	if (strlen(e->user) > PF_USER_MAX) {
		*why_r = pf_why("user name longer than %d bytes",
		    PF_USER_MAX);
		return -1;
	}
	if (has_blank_or_ctl(e->user)) {
		*why_r = "blank or control character in user "
		    "name";
		return -1;
	}
	if (parse_password(f[1], e, weak_r, why_r) == -1)
		return -1;

	if (parse_id(n > 2 ? f[2] : "", &id, &reason) == -1) {
		*why_r = pf_why("uid %s", reason);
		return -1;
	}
	e->uid = id == (unsigned long)-1 ? (uid_t)-1 : (uid_t)id;
	if (parse_id(n > 3 ? f[3] : "", &id, &reason) == -1) {
		*why_r = pf_why("gid %s", reason);
		return -1;
	}
	e->gid = id == (unsigned long)-1 ? (gid_t)-1 : (gid_t)id;

	/* f[4] is gecos, f[6] the shell: both ignored. */
	e->home = n > 5 ? f[5] : "";
	if (*e->home != '\0' && *e->home != '/') {
		*why_r = "home is not an absolute path";
		return -1;
	}
	if (has_ctl(e->home)) {
		*why_r = "control character in home";
		return -1;
	}
	if (n > 7 && *f[7] != '\0') {
		*why_r = "extra fields (8th field) are not "
		    "supported";
		return -1;
	}
	return 1;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct pf_entry *x = a, *y = b;

	return strcmp(x->user, y->user);
}

static int
entry_key_cmp(const void *key, const void *elem)
{
	const struct pf_entry *e = elem;

	return strcmp(key, e->user);
}

/* Error for check_config() and the log: "PATH: line N: REASON". */
static void
set_line_error(const char *path, unsigned long lineno, const char *why)
{
	if (snprintf(errbuf, sizeof errbuf, "%s: line %lu: %s", path, lineno,
	    why) >= (int)sizeof errbuf)
		snprintf(errbuf, sizeof errbuf, "line %lu: %s", lineno, why);
}

static void
set_error(const char *path, const char *why, int err)
{
	int r;

	if (err != 0)
		r = snprintf(errbuf, sizeof errbuf, "%s: %s: %s", path, why,
		    strerror(err));
	else
		r = snprintf(errbuf, sizeof errbuf, "%s: %s", path, why);
	if (r < 0 || r >= (int)sizeof errbuf)
		snprintf(errbuf, sizeof errbuf, "%s", why);
}

static void
stamp_set(struct pf_stamp *s, const struct stat *st)
{
	s->valid = 1;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtim = st->st_mtim;
	s->mode = st->st_mode;
	s->owner = st->st_uid;
}

/* Non-zero if another write could follow in the same mtime tick. */
static int
stamp_racy(const struct stat *st)
{
	return st->st_mtim.tv_sec >= time(NULL) - 1;
}

static int
stamp_eq(const struct pf_stamp *s, const struct stat *st)
{
	return s->valid && s->dev == st->st_dev && s->ino == st->st_ino &&
	    s->size == st->st_size && s->mtim.tv_sec == st->st_mtim.tv_sec &&
	    s->mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    s->mode == st->st_mode && s->owner == st->st_uid;
}

/* Sort T by user; a user listed twice is an error (-1, errbuf set). */
static int
pf_sort_unique(const char *path, struct pf_table *t)
{
	size_t i;

	if (t->n > 0)		/* qsort(NULL, 0, ...) is undefined */
		qsort(t->v, t->n, sizeof *t->v, entry_cmp);
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->v[i - 1].user, t->v[i].user) == 0) {
			unsigned long a = t->v[i - 1].lineno;
			unsigned long b = t->v[i].lineno;

			set_line_error(path, a < b ? b : a,
			    pf_why("duplicate user (also on line %lu)",
			    a < b ? a : b));
			return -1;
		}
	}
	return 0;
}

/*
 * The dummy hash costs what the first crypt hash in the file costs: the
 * full hash is a valid setting for crypt(3).  (crypt_checksalt() does not
 * check costs; pf_verify_plain() falls back to PF_DUMMY_SETTING if
 * crypt(3) rejects this one.)
 */
static void
pf_pick_dummy(struct pf_table *t)
{
	const struct pf_entry *first = NULL;
	size_t i;

	memcpy(t->dummy, PF_DUMMY_SETTING, sizeof PF_DUMMY_SETTING);
	for (i = 0; i < t->n; i++)
		if (t->v[i].scheme == PF_SCHEME_CRYPT &&
		    (first == NULL || t->v[i].lineno < first->lineno))
			first = &t->v[i];
	/* secret_len < PF_CMP_MAX was checked. */
	if (first != NULL)
		memcpy(t->dummy, first->secret, first->secret_len + 1);
}

/*
 * Parse the file's contents BUF (LEN bytes) into T.  Returns 0, or -1
 * with errbuf set.
 */
static int
parse_buffer(const char *path, const char *buf, size_t len,
    struct pf_table *t)
{
	const char *p = buf, *end = buf + len, *nl;
	struct pf_entry e, *v;
	unsigned long lineno = 0;
	size_t cap = 0, ll;
	const char *why = NULL;
	int r, weak;

	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		/* PF_LINE_MAX counts the LF. */
		if (ll >= PF_LINE_MAX) {
			set_line_error(path, lineno, pf_why("line longer "
			    "than %d bytes", PF_LINE_MAX - 1));
			return -1;
		}
		if (memchr(p, '\0', ll) != NULL) {
			set_line_error(path, lineno, "NUL byte in line");
			return -1;
		}
		memset(&e, 0, sizeof e);
		e.lineno = lineno;
		e.line_size = ll + 1;
		if ((e.line = malloc(e.line_size)) == NULL) {
			set_error(path, "out of memory", 0);
			return -1;
		}
		memcpy(e.line, p, ll);
		e.line[ll] = '\0';
		if (ll > 0 && e.line[ll - 1] == '\r')
			e.line[ll - 1] = '\0';
		p = nl != NULL ? nl + 1 : end;

		r = pf_parse_line(&e, &weak, &why);
		if (r == 1 && t->n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((v = reallocarray(t->v, cap, sizeof *v)) == NULL) {
				set_error(path, "out of memory", 0);
				r = -2;
			} else
				t->v = v;
		}
		if (r != 1) {
			if (r == -1)
				set_line_error(path, lineno, why);
			pf_host->secure_zero(e.line, e.line_size);
			free(e.line);
			if (r < 0)
				return -1;
			continue;
		}
		if (weak)
			pf_host->log(LOG_WARNING, "%s: line %lu: legacy or "
			    "cheap crypt method, rehash with $y$ or $6$", path,
			    lineno);
		t->v[t->n++] = e;
	}

	if (pf_sort_unique(path, t) != 0)
		return -1;
	pf_pick_dummy(t);
	return 0;
}

/*
 * Read and parse PATH.  Returns 0 with a new table in *t_r, or -1 with
 * errbuf set.  The table records the fstat() of what was read.
 */
static int
load_file(const char *path, struct pf_table **t_r)
{
	struct pf_table *t = NULL;
	struct stat st;
	const char *why;
	char *buf = NULL;
	size_t got = 0, size = 0;
	ssize_t r;
	int fd, ret = -1;

	*t_r = NULL;
	/* The file says who logs in as which uid: root may believe it only
	 * if nobody else can change it (the host's StrictModes rule, also
	 * for every directory above it). */
	if (pf_host->trusted_file(path, &why) != 0) {
		snprintf(errbuf, sizeof errbuf, "%s", why);
		return -1;
	}
	/* O_NONBLOCK: a FIFO must not hang the monitor; it is refused
	 * below as not a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		set_error(path, "open", errno);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		set_error(path, "fstat", errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_error(path, "not a regular file", 0);
		goto out;
	}
	if (st.st_size > PF_FILE_MAX) {
		set_error(path, "larger than 64 MiB", 0);
		goto out;
	}
	size = (size_t)st.st_size;
	/* One byte more than expected, to notice a file that grew. */
	if ((buf = malloc(size + 1)) == NULL) {
		set_error(path, "out of memory", 0);
		goto out;
	}
	while (got < size + 1) {
		r = read(fd, buf + got, size + 1 - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			set_error(path, "read", errno);
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != size) {
		set_error(path, "changed while being read", 0);
		goto out;
	}
	if ((t = calloc(1, sizeof *t)) == NULL) {
		set_error(path, "out of memory", 0);
		goto out;
	}
	if (parse_buffer(path, buf, got, t) == -1)
		goto out;
	stamp_set(&t->stamp, &st);
	/* Racy: a write in the same timestamp tick would not show. */
	t->racy = stamp_racy(&st);
	*t_r = t;
	t = NULL;
	ret = 0;
out:
	if (buf != NULL) {
		pf_host->secure_zero(buf, size + 1);
		free(buf);
	}
	if (t != NULL)
		table_free(&t);
	close(fd);
	return ret;
}

/*
 * Make sure the table matches the file on disk, re-reading it if it
 * changed.  Returns 0, or -1 (logged once per problem) when the file is
 * missing, unsafe or malformed: the caller answers POP23D_TEMPFAIL.
 */
static int
refresh(void)
{
	struct pf_table *t;
	const char *path;
	struct stat st;
	int seen;

	if (cur_path[0] == '\0') {
		path = pf_host->config_get(PF_NAME, "path");
		if (path == NULL || *path != '/' || snprintf(cur_path,
		    sizeof cur_path, "%s", path) >= (int)sizeof cur_path) {
			cur_path[0] = '\0';
			if (bad_errno != -1)
				pf_host->log(LOG_ERR, "[" PF_NAME "] path is "
				    "not set or not usable");
			bad_errno = -1;
			return -1;
		}
	}
	if (stat(cur_path, &st) == -1) {
		if (errno != bad_errno)
			pf_host->log(LOG_ERR, "%s: stat: %s", cur_path,
			    strerror(errno));
		bad_errno = errno;
		table_free(&table);
		return -1;
	}
	bad_errno = 0;
	/* The stamp includes the mode, so a chmod o+w forces a re-read,
	 * which refuses the file. */
	if (table != NULL && !table->racy && stamp_eq(&table->stamp, &st))
		return 0;
	seen = stamp_eq(&bad_stamp, &st);
	if (seen && !bad_racy)
		return -1;	/* this version failed before: logged */
	if (load_file(cur_path, &t) == -1) {
		if (!seen)
			pf_host->log(LOG_ERR, "%s", errbuf);
		stamp_set(&bad_stamp, &st);
		bad_racy = stamp_racy(&st);
		table_free(&table);
		return -1;
	}
	bad_stamp.valid = 0;
	table_free(&table);
	table = t;
	return 0;
}

static const struct pf_entry *
find(const char *user)
{
	if (table == NULL || table->n == 0)
		return NULL;
	return bsearch(user, table->v, table->n, sizeof *table->v,
	    entry_key_cmp);
}

/*
 * Constant-time string equality: GIVEN (client-derived) against STORED
 * (SLEN bytes, SLEN < PF_CMP_MAX).  Both are copied into zero-padded
 * buffers of PF_CMP_MAX bytes that are compared whole, so the time depends
 * on neither content nor the stored length.  Returns 1 if equal.
 */
static int
ct_equal(const char *given, const char *stored, size_t slen)
{
	static unsigned char a[PF_CMP_MAX], b[PF_CMP_MAX];
	size_t glen = strnlen(given, PF_CMP_MAX);
	int diff;

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	memcpy(a, given, glen);
	memcpy(b, stored, slen);
	diff = CRYPTO_memcmp(a, b, sizeof a);
	/* glen == PF_CMP_MAX (too long) never equals slen. */
	diff |= (int)((glen ^ slen) != 0);
	pf_host->secure_zero(a, sizeof a);
	pf_host->secure_zero(b, sizeof b);
	return diff == 0;
}

static enum pop23d_result
pf_verify_plain(const char *user, const char *pass)
{
	const struct pf_entry *e;
	const char *setting, *phrase, *h;
	int ok, toolong, err;

	if (user == NULL || pass == NULL)
		return POP23D_FAIL;
	/* refresh() == 0 means a table; said again for the analyzer. */
	if (refresh() == -1 || table == NULL)
		return POP23D_TEMPFAIL;
	e = find(user);

	/* libxcrypt refuses passphrases of PF_CMP_MAX bytes or more; hash
	 * "" instead so such a password costs the same and fails. */
	toolong = strnlen(pass, PF_CMP_MAX) >= PF_CMP_MAX;
	phrase = toolong ? "" : pass;

	/* Exactly one crypt(3) per call, whoever the user is. */
	setting = e != NULL && e->scheme == PF_SCHEME_CRYPT ? e->secret :
	    table->dummy;
	h = crypt_rn(phrase, setting, &cdata, sizeof cdata);
	err = errno;
	if (h == NULL && setting == table->dummy &&
	    strcmp(table->dummy, PF_DUMMY_SETTING) != 0) {
		/* A dummy that fails at once would make unknown users fast. */
		pf_host->log(LOG_WARNING, "%s: crypt(3) rejects the first "
		    "crypt hash; using SHA-512 crypt for unknown users",
		    cur_path);
		memcpy(table->dummy, PF_DUMMY_SETTING,
		    sizeof PF_DUMMY_SETTING);
		h = crypt_rn(phrase, table->dummy, &cdata, sizeof cdata);
	}

	if (e == NULL) {
		/* Same comparison work as for a crypt user. */
		(void)ct_equal(h != NULL ? h : "", table->dummy,
		    strlen(table->dummy));
		pf_host->secure_zero(&cdata, sizeof cdata);
		return POP23D_NOUSER;
	}
	if (e->scheme == PF_SCHEME_CRYPT) {
		if (h == NULL) {
			pf_host->secure_zero(&cdata, sizeof cdata);
			pf_host->log(LOG_ERR, "%s: line %lu: crypt failed: %s",
			    cur_path, e->lineno, strerror(err));
			return POP23D_TEMPFAIL;
		}
		ok = ct_equal(h, e->secret, e->secret_len);
	} else
		ok = ct_equal(phrase, e->secret, e->secret_len);
	pf_host->secure_zero(&cdata, sizeof cdata);
	return ok && !toolong ? POP23D_OK : POP23D_FAIL;
}

static enum pop23d_result
pf_lookup(const char *user, struct pop23d_identity *id_r)
{
	const struct pf_entry *e;

	id_r->uid = (uid_t)-1;
	id_r->gid = (gid_t)-1;
	id_r->home[0] = '\0';
	id_r->maildrop[0] = '\0';
	if (user == NULL)
		return POP23D_NOUSER;
	if (refresh() == -1)
		return POP23D_TEMPFAIL;
	if ((e = find(user)) == NULL)
		return POP23D_NOUSER;
	/* home is shorter than PF_LINE_MAX == sizeof home; check anyway. */
	if (snprintf(id_r->home, sizeof id_r->home, "%s", e->home) >=
	    (int)sizeof id_r->home) {
		id_r->home[0] = '\0';
		return POP23D_PERMFAIL;
	}
	id_r->uid = e->uid;
	id_r->gid = e->gid;
	return POP23D_OK;
}

/* APOP: the rules and the check are apop.c's; only {PLAIN} users have
 * the shared secret it needs, everyone else costs the same MD5 over a
 * stand-in secret. */
static enum pop23d_result
pf_verify_apop(const char *user, const char *challenge, const char *digest)
{
	const struct pf_entry *e;
	const char *secret = NULL;
	size_t clen, slen = 0;
	enum apop_result a;

	/* Checks that do not depend on the user come first. */
	if ((clen = apop_args(user, challenge, digest)) == 0)
		return POP23D_FAIL;
	if (refresh() == -1)
		return POP23D_TEMPFAIL;
	e = find(user);
	if (e != NULL && e->scheme == PF_SCHEME_PLAIN) {
		secret = e->secret;
		slen = e->secret_len;
	}
	if ((a = apop_check(challenge, clen, secret, slen, digest)) ==
	    APOP_NO_MD5) {
		pf_host->log(LOG_ERR, "APOP: MD5 is not available from "
		    "libcrypto");
		return POP23D_TEMPFAIL;
	}
	if (e == NULL)
		return POP23D_NOUSER;
	return a == APOP_MATCH ? POP23D_OK : POP23D_FAIL;
}

static int
pf_check_config(const char **error_r)
{
	struct pf_table *t;
	const char *path;
	char newpath[PATH_MAX];

	path = pf_host->config_get(PF_NAME, "path");
	if (path == NULL || *path == '\0') {
		snprintf(errbuf, sizeof errbuf, "path is not set");
		*error_r = errbuf;
		return -1;
	}
	if (*path != '/') {
		set_error(path, "path is not absolute", 0);
		*error_r = errbuf;
		return -1;
	}
	if (snprintf(newpath, sizeof newpath, "%s", path) >=
	    (int)sizeof newpath) {
		snprintf(errbuf, sizeof errbuf, "path is too long");
		*error_r = errbuf;
		return -1;
	}
	if (load_file(newpath, &t) == -1) {
		/* A failed SIGHUP check leaves the path in use alone. */
		*error_r = errbuf;
		return -1;
	}
	/* Checked only: the master keeps no secrets in memory, so the
	 * processes it forks (pre-auth children among them) never hold
	 * them.  The monitor reads the file on first use. */
	table_free(&t);
	table_free(&table);
	memcpy(cur_path, newpath, sizeof cur_path);
	bad_stamp.valid = 0;
	bad_errno = 0;
	return 0;
}

/*
 * The ABI has no "unload" op: free (and wipe) the table when the host
 * dlclose()s the plugin, e.g. on SIGHUP, and at exit().
 */
static void pf_fini(void) __attribute__((destructor));

static void
pf_fini(void)
{
	if (pf_host != NULL)
		table_free(&table);
}

static const char *const pf_config_keys[] = { "path", NULL };

static const struct pop23d_auth_ops pf_auth_ops = {
	.verify_plain = pf_verify_plain,
	.lookup = pf_lookup,
	.verify_apop = pf_verify_apop,
};

static const struct pop23d_plugin pf_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 3,		/* host->trusted_file */
	.kind = POP23D_PLUGIN_AUTH,
	.name = PF_NAME,
	.config_keys = pf_config_keys,
	.check_config = pf_check_config,
	.auth = &pf_auth_ops,
	.store = NULL,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, h, plugin_r, &pf_plugin, HOSTCHECK_CONFIG_GET |
	    HOSTCHECK_SECURE_ZERO | HOSTCHECK_TRUSTED_FILE) != 0)
		return -1;
	pf_host = h;
	*plugin_r = &pf_plugin;
	return 0;
}
