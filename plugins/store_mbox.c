/*
 * store_mbox.c - the "mbox" storage plugin: serves a Unix mbox spool
 * (/var/mail/USER, written by the MDA while we read it) and, for POP2
 * FOLD, mbox folders in the user's home directory as UW ipop2d did.
 *
 * PRIVILEGE: runs as the mail user in the session process (open ..
 * close); the master (root) only loads it and calls check_config().  The
 * dotlock in a root:mail 2775 spool is made by the host (host->dotlock,
 * API 6), which uses a helper that holds gid mail and nothing else
 * (src/dotlock.c); this plugin never gains a privilege.  It never logs
 * message contents.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * How (doc/DESIGN.md, "The mbox storage"):
 *   - The session lock is an OFD lock on pop23d.lock in the mailbox's
 *     index directory ([mbox] index_dir, below the home directory), as
 *     for Maildir.  The mbox itself is locked (fcntl, then dotlock, or
 *     what [mbox] lock says) only to scan it at login and at UPDATE, so
 *     an MDA is not kept waiting for a whole POP session.
 *   - Messages are found by mbox_parse.c.  A message's key is its X-UIDL
 *     value when it has a valid one, else a SHA-256 digest (32 hex
 *     digits) of its separator line, header block and length; a repeated
 *     key gets "-2", "-3", ...  Keys depend on the message only, so they
 *     survive appends, rewrites and index loss.
 *   - Reading never writes the mbox: the accessed state lives in the
 *     daemon's index only.
 *   - An offset record (pop23d.mbox-cache, mbox_cache.c) lets a warm
 *     login skip the parse: nothing is read of a file not written since
 *     (inode, size, ctime, mtime, a record that is not racy), only the
 *     separators and headers plus the appended tail of a grown one, and
 *     anything else is parsed whole.  UPDATE never trusts it.
 *   - While the mbox is locked the dotlock is touched every
 *     dotlock_stale/5 s (at most 60 s), so a long UPDATE keeps it.
 *   - Before each read (msg_open) the file must be the same inode, no
 *     shorter than at the scan, with "From " at the message's offset.
 *     At UPDATE the whole file is parsed again under the lock: every
 *     message of the scan must be where it was with the same header
 *     checksum, mail appended since is kept.  Anything else removes
 *     nothing.
 *   - UPDATE never replaces the file (an MDA blocked on the old inode's
 *     lock would append to an unlinked file): the surviving octets after
 *     the first deleted message are copied into a stage file in the
 *     index directory and fsync()ed, then written over the mbox in place,
 *     fsync()ed, the file truncated and fsync()ed, the stage unlinked.
 *     A stage found at the next open is replayed first (idempotent).
 */
#include "config.h"

#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <pop23d/plugin.h>

#include "foldername.h"
#include "hostcheck.h"

#include "mbox_cache.h"
#include "mbox_parse.h"
#include "../src/crc32c.h"

#define PLUGIN_NAME	"mbox"
#define LOCK_NAME	"pop23d.lock"
#define STAGE_NAME	"pop23d.mbox-stage"
#define STAGE_TMP	"pop23d.mbox-stage.tmp"
#define CACHE_NAME	"pop23d.mbox-cache"
#define CACHE_TMP	"pop23d.mbox-cache.tmp"
/* The last block of the indexed prefix, checked at every warm login. */
#define CACHE_LAST_BLOCK 4096
/* A record made less than this long after the file's last change is
 * "racy": a write within the same tick of the kernel's coarse clock
 * (at most 10 ms: HZ >= 100) would leave the same ctime, so it never
 * takes the no-read path.  Five ticks of margin. */
#define CACHE_RACY_NS	(50 * 1000000LL)
/* How long UPDATE may wait, holding the locks, for the file's new ctime
 * to fall out of the racy window before it writes the record: more
 * means a clock that disagrees with the file system's (NFS), and the
 * record is written racy instead. */
#define CACHE_WAIT_NS	(200 * 1000000LL)
#define STAGE_MAGIC	"P23MBSTG"
#define STAGE_VERSION	1
#define STAGE_HDR_LEN	64
#define LOG_NAME_MAX	96
#define COPY_CHUNK	(1024 * 1024)
/* Room for one key: an X-UIDL (70) or 32 hex digits, and a "-N" suffix
 * for a repeated one. */
#define KEY_SLOT	80
/* Octets of a message's separator and header that its key hashes. */
#define KEY_HASH_MAX	65536
/* Defaults of the [mbox] keys. */
#define DEF_LOCK	"fcntl dotlock"
#define DEF_LOCK_TIMEOUT 30	/* s: Postfix waits about as long */
#define DEF_DOTLOCK_STALE 300	/* s: liblockfile's 5 minutes */
#define DEF_INDEX_DIR	"%h/.pop23d-mbox"
#define DEF_FOLDERS	"%h"	/* UW ipop2d: relative to the home */
/* Bounds of the [mbox] numbers: a lock wait longer than a POP client's
 * own timeout (RFC 1939 section 3: 10 minutes) helps nobody. */
#define LOCK_TIMEOUT_MAX 600
#define STALE_MIN	30
#define STALE_MAX	86400

enum { LK_FCNTL = 1, LK_FLOCK = 2, LK_DOTLOCK = 3 };
#define LK_MAX	3

struct ment {
	uint64_t from, body, end, next;
	uint64_t hend;		/* end of the header block */
	uint64_t clen_end;	/* a Content-Length's claimed end, or 0 */
	uint32_t hcrc;		/* CRC-32C of separator + header block */
	unsigned flags;
};

struct pop23d_mbox {
	char *path;		/* the mbox file */
	char *idxdir;		/* index_dir() */
	int fd;			/* the mbox, O_RDWR (or O_RDONLY) */
	int rofd;		/* fd opened again O_RDONLY, at the first
				   mb_msg_open(), or -1 */
	int rw;
	int idxfd;
	int lockfd;		/* session lock */
	int do_fsync;
	struct stat st;		/* at the scan */
	uint64_t scanned;	/* file size at the scan */
	struct ment *all;	/* every message of the scan (incl. internal) */
	size_t nall;
	size_t *pos;		/* listed message i is all[pos[i]] */
	struct pop23d_msg *msgs;
	char *keys;		/* count * (POP23D_KEY_MAX + 1) */
	size_t count;
	unsigned char *blen;	/* all[i]'s key length before its "-N"
				   suffix, 0 if it has none (or NULL) */
	int held[LK_MAX + 1];	/* mbox locks held now */
	int cached;		/* cache_load() at the scan: 0, 1, 2 */
	uint64_t hchecked;	/* separator and header octets it checked */
};

static const struct pop23d_host *host;

static void cache_drop(struct pop23d_mbox *);

/* The mailbox whose dotlock this session holds now (one at a time), when
 * it was last touched, and how often to touch it: a long UPDATE must not
 * look stale to an MDA (liblockfile breaks a lock 5 minutes old). */
static struct pop23d_mbox *dl_mb;
static struct timespec dl_touched;
static long dl_every;

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

/* ------------------------------------------------------------ config */

static const char *
cfg(const char *key, const char *def)
{
	const char *v = host->config_get(PLUGIN_NAME, key);

	return v != NULL ? v : def;
}

/* The lock methods in order, into M (LK_MAX + 1 slots, 0-terminated).
 * -1 on an unknown or repeated word. */
static int
lock_methods(int *m)
{
	const char *s = cfg("lock", DEF_LOCK);
	size_t n = 0;

	while (*s != '\0') {
		size_t len;
		int k, j;

		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		len = strcspn(s, " ,\t");
		if (len == 5 && strncmp(s, "fcntl", 5) == 0)
			k = LK_FCNTL;
		else if (len == 5 && strncmp(s, "flock", 5) == 0)
			k = LK_FLOCK;
		else if (len == 7 && strncmp(s, "dotlock", 7) == 0)
			k = LK_DOTLOCK;
		else
			return -1;
		for (j = 0; j < (int)n; j++)
			if (m[j] == k)
				return -1;
		if (n >= LK_MAX)
			return -1;
		m[n++] = k;
		s += len;
	}
	m[n] = 0;
	return 0;
}

static long
cfg_num(const char *key, long def, long lo, long hi)
{
	const char *v = host->config_get(PLUGIN_NAME, key);
	char *end;
	long n;

	if (v == NULL)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	return n;
}

static int
mb_check_config(const char **error_r)
{
	int m[LK_MAX + 1];
	const char *v;

	if (lock_methods(m) != 0) {
		*error_r = "lock: a list of fcntl, flock, dotlock, each once";
		return -1;
	}
	if (cfg_num("lock_timeout", DEF_LOCK_TIMEOUT, 1, LOCK_TIMEOUT_MAX)
	    == -1) {
		*error_r = "lock_timeout: seconds, 1 to 600";
		return -1;
	}
	if (cfg_num("dotlock_stale", DEF_DOTLOCK_STALE, STALE_MIN,
	    STALE_MAX) == -1) {
		*error_r = "dotlock_stale: seconds, 30 to 86400";
		return -1;
	}
	v = cfg("fsync", "yes");
	if (strcasecmp(v, "yes") != 0 && strcasecmp(v, "no") != 0) {
		*error_r = "fsync must be yes or no";
		return -1;
	}
	v = cfg("index_dir", DEF_INDEX_DIR);
	if (v[0] != '/' && strncmp(v, "%h", 2) != 0) {
		*error_r = "index_dir must be absolute or start with %h";
		return -1;
	}
	v = cfg("folders", DEF_FOLDERS);
	if (v[0] != '/' && strncmp(v, "%h", 2) != 0) {
		*error_r = "folders must be absolute or start with %h";
		return -1;
	}
	return 0;
}

/* Expand %h, %u and %% of TMPL into BUF.  -1 if it does not fit, a
 * needed value is unknown, or the user name could be read as a path. */
static int
expand(const char *tmpl, char *buf, size_t bufsz)
{
	const char *user = host->session_user != NULL ?
	    host->session_user() : "";
	const char *home = host->session_home != NULL ?
	    host->session_home() : "";
	size_t o = 0;

	for (; *tmpl != '\0'; tmpl++) {
		const char *ins = NULL;
		char one[2] = { *tmpl, '\0' };
		size_t l;

		if (*tmpl == '%' && tmpl[1] != '\0') {
			tmpl++;
			if (*tmpl == 'h')
				ins = home;
			else if (*tmpl == 'u') {
				ins = user;
				if (strchr(user, '/') != NULL ||
				    user[0] == '.')
					return -1;
			} else if (*tmpl == '%')
				ins = "%";
			else
				return -1;
			if (ins[0] == '\0')
				return -1;
		} else
			ins = one;
		l = strlen(ins);
		if (o + l >= bufsz)
			return -1;
		memcpy(buf + o, ins, l);
		o += l;
	}
	buf[o] = '\0';
	return buf[0] == '/' ? 0 : -1;
}

/* ----------------------------------------------------------- locking */

static void
mbox_unlock(struct pop23d_mbox *mb)
{
	struct flock fl;

	if (mb == dl_mb)
		dl_mb = NULL;
	if (mb->held[LK_DOTLOCK]) {
		if (host->dotlock(mb->path, POP23D_DOTLOCK_RELEASE, 0) != 0)
			host->log(LOG_ERR, "cannot remove the dotlock of %s: "
			    "%s", mb->path, strerror(errno));
		mb->held[LK_DOTLOCK] = 0;
	}
	if (mb->held[LK_FLOCK]) {
		(void)flock(mb->fd, LOCK_UN);
		mb->held[LK_FLOCK] = 0;
	}
	if (mb->held[LK_FCNTL]) {
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		(void)fcntl(mb->fd, F_OFD_SETLK, &fl);
		mb->held[LK_FCNTL] = 0;
	}
}

/* One non-blocking attempt at method K: 0 taken, 1 busy, -1 error. */
static int
try_lock(struct pop23d_mbox *mb, int k, long stale)
{
	struct flock fl;
	int r;

	switch (k) {
	case LK_FCNTL:
		memset(&fl, 0, sizeof fl);
		fl.l_type = mb->rw ? F_WRLCK : F_RDLCK;
		fl.l_whence = SEEK_SET;
		/* An OFD lock conflicts with the classic POSIX locks the MDAs
		 * take, and closing another fd of the file (a RETR stream)
		 * does not drop it. */
		if (fcntl(mb->fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		return (errno == EAGAIN || errno == EACCES) ? 1 : -1;
	case LK_FLOCK:
		if (flock(mb->fd, (mb->rw ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return 0;
		return errno == EWOULDBLOCK ? 1 : -1;
	case LK_DOTLOCK:
		r = host->dotlock(mb->path, POP23D_DOTLOCK_TAKE,
		    (unsigned)stale);
		return r;
	}
	return -1;
}

/*
 * Take every configured lock, in order, without blocking: when one is
 * busy, release the others, wait 50-250 ms and start again (Debian
 * Policy's non-blocking way, so two programs that lock in another order
 * cannot deadlock), for at most lock_timeout seconds.
 */
static enum pop23d_result
mbox_lock(struct pop23d_mbox *mb)
{
	int m[LK_MAX + 1], i, r = 0;
	long timeout = cfg_num("lock_timeout", DEF_LOCK_TIMEOUT, 1,
	    LOCK_TIMEOUT_MAX);
	long stale = cfg_num("dotlock_stale", DEF_DOTLOCK_STALE, STALE_MIN,
	    STALE_MAX);
	struct timespec t0, now, pause;
	unsigned seed = (unsigned)getpid();

	if (lock_methods(m) != 0 || timeout == -1 || stale == -1)
		return POP23D_TEMPFAIL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		for (i = 0; m[i] != 0; i++) {
			if (m[i] == LK_DOTLOCK && host->dotlock == NULL)
				continue;
			if ((r = try_lock(mb, m[i], stale)) != 0)
				break;
			mb->held[m[i]] = 1;
		}
		if (m[i] == 0) {
			if (mb->held[LK_DOTLOCK]) {
				/* touched 5 times per stale age, at least
				 * once a minute: 60 s for the default */
				dl_mb = mb;
				dl_every = stale / 5 < 60 ? stale / 5 : 60;
				clock_gettime(CLOCK_MONOTONIC, &dl_touched);
			}
			return POP23D_OK;
		}
		mbox_unlock(mb);
		if (r == -1) {
			host->log(LOG_ERR, "lock %s path=%s: %s",
			    m[i] == LK_FCNTL ? "fcntl" : m[i] == LK_FLOCK ?
			    "flock" : "dotlock", mb->path, strerror(errno));
			return POP23D_TEMPFAIL;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= timeout) {
			host->log(LOG_WARNING, "mbox path=%s still locked by "
			    "another program after %ld s", mb->path, timeout);
			return POP23D_TEMPFAIL;
		}
		pause.tv_sec = 0;
		pause.tv_nsec = (50 + (long)(rand_r(&seed) % 200)) * 1000000L;
		nanosleep(&pause, NULL);
	}
}

/*
 * Called often (every MiB copied, every 1024 messages parsed) while the
 * mbox is locked: touch our dotlock when dl_every seconds have passed,
 * so that an UPDATE of a huge mbox on a slow disk keeps it.  A failure
 * is logged once per lock and changes nothing else: the fcntl lock still
 * holds, and a broken dotlock is noticed by whoever takes it next.
 */
static void
lock_keepalive(void)
{
	struct timespec now;

	if (dl_mb == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - dl_touched.tv_sec < dl_every)
		return;
	dl_touched = now;
	if (host->dotlock(dl_mb->path, POP23D_DOTLOCK_REFRESH, 0) != 0) {
		host->log(LOG_WARNING, "cannot refresh the dotlock of %s: %s",
		    dl_mb->path, strerror(errno));
		dl_mb = NULL;
	}
}

/* ----------------------------------------------------------- helpers */

static int
read_full(int fd, void *buf, size_t len, uint64_t off)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* CRC-32C of LEN octets of FD at OFF. */
static int
crc_range(int fd, uint64_t off, uint64_t len, unsigned char *buf,
    uint32_t *crc_r)
{
	uint32_t crc = 0;

	while (len > 0) {
		size_t n = len > COPY_CHUNK ? COPY_CHUNK : (size_t)len;

		lock_keepalive();
		if (read_full(fd, buf, n, off) != 0)
			return -1;
		crc = crc32c(crc, buf, n);
		off += n;
		len -= n;
	}
	*crc_r = crc;
	return 0;
}

/* Copy LEN octets of fd IN at OFF to fd OUT at OOFF, adding them to
 * *CRC. */
static int
copy_range(int in, uint64_t off, int out, uint64_t ooff, uint64_t len,
    unsigned char *buf, uint32_t *crc)
{
	while (len > 0) {
		size_t n = len > COPY_CHUNK ? COPY_CHUNK : (size_t)len;

		lock_keepalive();
		if (read_full(in, buf, n, off) != 0 ||
		    write_full(out, buf, n, ooff) != 0)
			return -1;
		*crc = crc32c(*crc, buf, n);
		off += n;
		ooff += n;
		len -= n;
	}
	return 0;
}

/* ------------------------------------------------------------ stage */

/*
 * The stage file: a 64-octet header, then the octets that belong at
 * [dst, new_size) of the mbox.  Header, integers big-endian:
 *    0  8  magic "P23MBSTG"        36  8  new_size
 *    8  4  version 1               44  8  dst
 *   12  8  st_dev of the mbox      52  4  CRC-32C of the mbox's
 *   20  8  st_ino                         [new_size, old_size) before
 *   28  8  old_size                       the truncation
 *                                  56  4  CRC-32C of the data
 *                                  60  4  CRC-32C of octets 0-59
 */
struct stage {
	uint64_t dev, ino, old_size, new_size, dst;
	uint32_t tail_crc, data_crc;
};

static void
stage_encode(const struct stage *s, unsigned char *h)
{
	memcpy(h, STAGE_MAGIC, 8);
	put32(h + 8, STAGE_VERSION);
	put64(h + 12, s->dev);
	put64(h + 20, s->ino);
	put64(h + 28, s->old_size);
	put64(h + 36, s->new_size);
	put64(h + 44, s->dst);
	put32(h + 52, s->tail_crc);
	put32(h + 56, s->data_crc);
	put32(h + 60, crc32c(0, h, 60));
}

static int
stage_decode(const unsigned char *h, struct stage *s)
{
	if (memcmp(h, STAGE_MAGIC, 8) != 0 ||
	    get32(h + 8) != STAGE_VERSION ||
	    get32(h + 60) != crc32c(0, h, 60))
		return -1;
	s->dev = get64(h + 12);
	s->ino = get64(h + 20);
	s->old_size = get64(h + 28);
	s->new_size = get64(h + 36);
	s->dst = get64(h + 44);
	s->tail_crc = get32(h + 52);
	s->data_crc = get32(h + 56);
	if (s->dst > s->new_size || s->new_size >= s->old_size)
		return -1;
	return 0;
}

static int
sync_fd(struct pop23d_mbox *mb, int fd)
{
	return mb->do_fsync ? fsync(fd) : 0;
}

/*
 * Write the staged data (SFD, header S) over the mbox at dst, fsync,
 * truncate to new_size, fsync.  Idempotent: it reads only the stage.
 */
static int
stage_apply(struct pop23d_mbox *mb, int sfd, const struct stage *s,
    unsigned char *buf)
{
	uint64_t done = 0, len = s->new_size - s->dst;

	while (done < len) {
		size_t n = len - done > COPY_CHUNK ? COPY_CHUNK :
		    (size_t)(len - done);

		lock_keepalive();
		if (read_full(sfd, buf, n, STAGE_HDR_LEN + done) != 0 ||
		    write_full(mb->fd, buf, n, s->dst + done) != 0)
			return -1;
		done += n;
	}
	if (sync_fd(mb, mb->fd) != 0 ||
	    ftruncate(mb->fd, (off_t)s->new_size) != 0 ||
	    sync_fd(mb, mb->fd) != 0)
		return -1;
	return 0;
}

/*
 * The stage *SFD (header *S) describes a file of s->old_size octets, and
 * SIZE - old_size octets were appended since (their region was never
 * written by stage_apply()).  Write a new stage that carries them too
 * (old data + appended octets, to be truncated at new_size + appended),
 * fsync it and rename it over the old one; *SFD and *S become the new
 * one.  0 or -1 with errno; on failure the old stage stays.
 */
static int
stage_extend(struct pop23d_mbox *mb, int *sfd, struct stage *s,
    uint64_t size, unsigned char *buf)
{
	unsigned char h[STAGE_HDR_LEN];
	struct stage n = *s;
	uint64_t dlen = s->new_size - s->dst, ext = size - s->old_size;
	int fd, serrno;

	n.old_size = size;
	n.new_size = s->new_size + ext;
	n.data_crc = 0;
	fd = openat(mb->idxfd, STAGE_TMP, O_RDWR | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (copy_range(*sfd, STAGE_HDR_LEN, fd, STAGE_HDR_LEN, dlen, buf,
	    &n.data_crc) != 0 ||
	    copy_range(mb->fd, s->old_size, fd, STAGE_HDR_LEN + dlen, ext, buf,
	    &n.data_crc) != 0 ||
	    crc_range(mb->fd, n.new_size, n.old_size - n.new_size, buf,
	    &n.tail_crc) != 0)
		goto fail;
	stage_encode(&n, h);
	if (write_full(fd, h, sizeof h, 0) != 0 || sync_fd(mb, fd) != 0 ||
	    renameat(mb->idxfd, STAGE_TMP, mb->idxfd, STAGE_NAME) != 0 ||
	    sync_fd(mb, mb->idxfd) != 0)
		goto fail;
	close(*sfd);
	*sfd = fd;
	*s = n;
	return 0;
fail:
	serrno = errno;
	close(fd);
	(void)unlinkat(mb->idxfd, STAGE_TMP, 0);
	errno = serrno;
	return -1;
}

/*
 * A stage left by an UPDATE that did not finish (crash, kill -9, I/O
 * error): finish it.  Called with the mbox locked, before the scan.
 *   - the mbox is still old_size long and its old tail is intact: the
 *     truncation has not happened; apply the stage (again);
 *   - the data is already at [dst, new_size): done (mail may have been
 *     appended since);
 *   - anything else, or another file: leave everything alone, refuse.
 * POP23D_OK when there is no stage (any more).
 */
static enum pop23d_result
replay(struct pop23d_mbox *mb)
{
	unsigned char h[STAGE_HDR_LEN], *buf = NULL;
	struct stage s;
	struct stat st, sst;
	uint32_t crc;
	enum pop23d_result res = POP23D_TEMPFAIL;
	int sfd;

	(void)unlinkat(mb->idxfd, STAGE_TMP, 0);	/* never committed */
	sfd = openat(mb->idxfd, STAGE_NAME, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (sfd == -1) {
		if (errno == ENOENT)
			return POP23D_OK;
		host->log(LOG_ERR, "open stage dir=%s: %s", mb->idxdir,
		    strerror(errno));
		return POP23D_TEMPFAIL;
	}
	cache_drop(mb);		/* the mbox is about to change */
	if ((buf = malloc(COPY_CHUNK)) == NULL)
		goto out;
	if (fstat(sfd, &sst) != 0 || !S_ISREG(sst.st_mode) ||
	    read_full(sfd, h, sizeof h, 0) != 0 || stage_decode(h, &s) != 0 ||
	    (uint64_t)sst.st_size != STAGE_HDR_LEN + s.new_size - s.dst ||
	    crc_range(sfd, STAGE_HDR_LEN, s.new_size - s.dst, buf, &crc) != 0 ||
	    crc != s.data_crc) {
		host->log(LOG_ERR, "stage dir=%s is damaged: the mbox %s is "
		    "not served until someone looks at both", mb->idxdir,
		    mb->path);
		goto out;
	}
	if (fstat(mb->fd, &st) != 0)
		goto out;
	if ((uint64_t)st.st_dev != s.dev || (uint64_t)st.st_ino != s.ino) {
		host->log(LOG_ERR, "stage dir=%s belongs to another file than "
		    "%s: left alone", mb->idxdir, mb->path);
		goto out;
	}
	if ((uint64_t)st.st_size >= s.old_size &&
	    crc_range(mb->fd, s.new_size, s.old_size - s.new_size, buf,
	    &crc) == 0 && crc == s.tail_crc) {
		/* Not truncated yet.  Mail appended after a failed apply
		 * (the locks were released) lies intact after old_size:
		 * take it into a new stage first. */
		if ((uint64_t)st.st_size > s.old_size &&
		    (!mb->rw || stage_extend(mb, &sfd, &s,
		    (uint64_t)st.st_size, buf) != 0)) {
			host->log(LOG_ERR, "extend stage dir=%s: %s",
			    mb->idxdir, strerror(errno));
			goto out;
		}
		if (!mb->rw || stage_apply(mb, sfd, &s, buf) != 0) {
			host->log(LOG_ERR, "replay stage path=%s: %s",
			    mb->path, strerror(errno));
			goto out;
		}
		host->log(LOG_WARNING, "mbox path=%s: finished an interrupted "
		    "UPDATE (%llu octets)", mb->path,
		    (unsigned long long)(s.old_size - s.new_size));
	} else if ((uint64_t)st.st_size >= s.new_size &&
	    crc_range(mb->fd, s.dst, s.new_size - s.dst, buf, &crc) == 0 &&
	    crc == s.data_crc) {
		host->log(LOG_INFO, "mbox path=%s: the interrupted UPDATE had "
		    "finished", mb->path);
	} else {
		host->log(LOG_ERR, "stage dir=%s does not match %s (changed "
		    "by another program?): left alone, not served",
		    mb->idxdir, mb->path);
		goto out;
	}
	if (unlinkat(mb->idxfd, STAGE_NAME, 0) != 0 ||
	    sync_fd(mb, mb->idxfd) != 0) {
		host->log(LOG_ERR, "remove stage dir=%s: %s", mb->idxdir,
		    strerror(errno));
		goto out;
	}
	res = POP23D_OK;
out:
	free(buf);
	close(sfd);
	return res;
}

/* ------------------------------------------------------------- scan */

struct scan {
	struct ment *v;
	size_t n, cap;
	const unsigned char *map;	/* the file from offset base on */
	uint64_t base;
	int no_internal;	/* a parse from the middle of the file */
	int oom;
	EVP_MD_CTX *ctx;	/* non-NULL: also make the keys */
	EVP_MD *sha256;		/* fetched at the first key (make_key) */
	char *keys;		/* cap * KEY_SLOT */
};

/* The key of message M (its octets from MSG on): its X-UIDL, or the first 16
 * octets of the SHA-256 of its separator line and header block (at most
 * KEY_HASH_MAX octets) and its length, in hex.  KEY has KEY_SLOT
 * octets.  0 or -1. */
static int
make_key(const unsigned char *msg, const struct mbox_msg *m,
    struct scan *sc, char *key)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], lenbuf[8];
	unsigned int mdlen = 0, i;
	uint64_t n = m->body_off - m->from_off + m->hdr_len;

	if (m->flags & MBOX_F_UIDL) {
		memcpy(key, m->uidl, strlen(m->uidl) + 1);
		return 0;
	}
	if (n > KEY_HASH_MAX)
		n = KEY_HASH_MAX;
	put64(lenbuf, m->end_off - m->body_off);
	/*
	 * The digest is fetched once, at the first message that needs it,
	 * not by EVP_sha256() in every EVP_DigestInit_ex(): with OpenSSL 3
	 * that implicit fetch costs more than the hash, 2 400 instructions
	 * a message.  Not before: a login served from the offset record
	 * makes no key, and the first fetch in a fresh process (OpenSSL's
	 * provider set up) costs about 5 M instructions, half a small
	 * login (doc/PERFORMANCE.md, run 8b).
	 */
	if (sc->sha256 == NULL &&
	    (sc->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		return -1;
	if (EVP_DigestInit_ex(sc->ctx, sc->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(sc->ctx, msg, (size_t)n) != 1 ||
	    EVP_DigestUpdate(sc->ctx, lenbuf, sizeof lenbuf) != 1 ||
	    EVP_DigestFinal_ex(sc->ctx, md, &mdlen) != 1 || mdlen < 16)
		return -1;
	for (i = 0; i < 16; i++) {
		key[2 * i] = hex[md[i] >> 4];
		key[2 * i + 1] = hex[md[i] & 15];
	}
	key[32] = '\0';
	return 0;
}

/* Room for one more entry (and key) in SC.  0 or -1. */
static int
scan_grow(struct scan *sc)
{
	struct ment *e;

	if (sc->n == sc->cap) {
		size_t ncap = sc->cap == 0 ? 256 : sc->cap * 2;
		char *k;

		if ((e = reallocarray(sc->v, ncap, sizeof *e)) == NULL) {
			sc->oom = 1;
			return 1;
		}
		sc->v = e;
		if (sc->ctx != NULL) {
			if ((k = reallocarray(sc->keys, ncap, KEY_SLOT)) ==
			    NULL) {
				sc->oom = 1;
				return 1;
			}
			sc->keys = k;
		}
		sc->cap = ncap;
	}
	return 0;
}

static int
scan_one(const struct mbox_msg *m, void *arg)
{
	struct scan *sc = arg;
	const unsigned char *msg;
	struct ment *e;

	if (scan_grow(sc) != 0)
		return 1;
	if ((sc->n & 1023) == 1023)
		lock_keepalive();
	msg = sc->map + (m->from_off - sc->base);
	e = &sc->v[sc->n];
	e->from = m->from_off;
	e->body = m->body_off;
	e->end = m->end_off;
	e->next = m->next_off;
	e->hend = m->body_off + m->hdr_len;
	e->clen_end = m->clen_end;
	/* only the file's first message can be c-client's */
	e->flags = sc->no_internal ? m->flags & ~(unsigned)MBOX_F_INTERNAL :
	    m->flags;
	e->hcrc = crc32c(0, msg, (size_t)(e->hend - e->from));
	if (sc->ctx != NULL && make_key(msg, m, sc,
	    sc->keys + sc->n * KEY_SLOT) != 0) {
		sc->oom = 1;
		return 1;
	}
	sc->n++;
	return 0;
}

/* Parse the file from START (0, or a separator) to SIZE, mapped
 * read-only while the mbox is locked; the messages are added to SC. */
static enum pop23d_result
parse_file(struct pop23d_mbox *mb, uint64_t start, uint64_t size,
    struct scan *sc)
{
	uint64_t a = start & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
	unsigned char *map;
	void *m;

	if (size <= start)
		return POP23D_OK;
	if ((uint64_t)(size_t)(size - a) != size - a)
		return POP23D_PERMFAIL;
	m = mmap(NULL, (size_t)(size - a), PROT_READ, MAP_PRIVATE, mb->fd,
	    (off_t)a);
	if (m == MAP_FAILED) {
		host->log(LOG_ERR, "mmap path=%s: %s", mb->path,
		    strerror(errno));
		return POP23D_TEMPFAIL;
	}
	map = m;
	sc->map = map + (start - a);
	sc->base = start;
	sc->no_internal = start > 0;
	(void)madvise(m, (size_t)(size - a), MADV_SEQUENTIAL);
	(void)mbox_parse(sc->map, (size_t)(size - start), start, scan_one, sc,
	    NULL);
	munmap(m, (size_t)(size - a));
	sc->map = NULL;
	if (sc->oom) {
		free(sc->v);
		free(sc->keys);
		sc->v = NULL;
		sc->keys = NULL;
		return POP23D_TEMPFAIL;
	}
	return POP23D_OK;
}

/* A slot of dedup_keys()' table: the first key of a run (never given a
 * suffix) and how many of it were seen. */
struct kslot {
	const char *key;
	size_t run;
};

/* A key's slot hash: CRC-32C (one instruction per 8 octets with
 * SSE 4.2) spreads hex digests and X-UIDL values well enough for an
 * open-addressed table. */
static uint64_t
key_hash(const char *k)
{
	return crc32c(0, k, strlen(k));
}

/*
 * Give repeated keys the suffixes "-2", "-3", ... in file order (the
 * keys are laid out in file order).  One pass with a hash table of the
 * keys seen: a login to a large mbox pays O(n), not a sort.
 */
static int
dedup_keys(struct pop23d_mbox *mb)
{
	struct kslot *t;
	size_t i, size = 64, mask;

	if (mb->count < 2)
		return 0;
	while (size < 2 * mb->count)
		size *= 2;
	if ((t = calloc(size, sizeof *t)) == NULL)
		return -1;
	mask = size - 1;
	for (i = 0; i < mb->count; i++) {
		char *k = mb->msgs[i].key, suf[24];
		size_t h = (size_t)key_hash(k) & mask, l;
		int sl;

		while (t[h].key != NULL && strcmp(t[h].key, k) != 0)
			h = (h + 1) & mask;
		if (t[h].key == NULL) {
			t[h].key = k;
			t[h].run = 1;
			continue;
		}
		sl = snprintf(suf, sizeof suf, "-%zu", ++t[h].run);
		l = strlen(k);
		/* the offset record keeps the key without the suffix */
		if (mb->blen == NULL &&
		    (mb->blen = calloc(mb->nall, 1)) == NULL) {
			free(t);
			return -1;
		}
		mb->blen[(size_t)(k - mb->keys) / KEY_SLOT] = (unsigned char)l;
		if (l + (size_t)sl > KEY_SLOT - 1)
			l = KEY_SLOT - 1 - (size_t)sl;
		memcpy(k + l, suf, (size_t)sl + 1);
	}
	free(t);
	return 0;
}

/* ------------------------------------------------- the offset record */

static int
cache_one(const struct mbox_cache_ent *ce, void *arg)
{
	struct scan *sc = arg;
	struct ment *e;

	if (scan_grow(sc) != 0)
		return 1;
	e = &sc->v[sc->n];
	e->from = ce->from;
	e->body = ce->body;
	e->hend = ce->hend;
	e->end = ce->end;
	e->next = ce->next;
	e->hcrc = ce->hcrc;
	e->flags = ce->flags;
	/* only entries from "reparse" on can have an uncertain claim, and
	 * those are parsed again */
	e->clen_end = 0;
	memcpy(sc->keys + sc->n * KEY_SLOT, ce->key, strlen(ce->key) + 1);
	sc->n++;
	return 0;
}

/* Drop what a failed cache_load() put into SC. */
static void
scan_reset(struct scan *sc)
{
	free(sc->v);
	free(sc->keys);
	sc->v = NULL;
	sc->keys = NULL;
	sc->n = sc->cap = 0;
	sc->oom = 0;
}

/* CRC-32C of the indexed prefix's last block ([len - 4 KiB, len)). */
static int
last_block_crc(struct pop23d_mbox *mb, uint64_t len, uint32_t *crc_r)
{
	unsigned char buf[CACHE_LAST_BLOCK];
	uint64_t n = len < sizeof buf ? len : sizeof buf;

	if (read_full(mb->fd, buf, (size_t)n, len - n) != 0)
		return -1;
	*crc_r = crc32c(0, buf, (size_t)n);
	return 0;
}

/* Every entry before REPARSE still has its separator line and header
 * block where the record says: [from, hend) has its CRC.  Only those
 * pages are read (MADV_RANDOM: no read-ahead over the bodies); the
 * header pages of the next PREFETCH messages that are not in the page
 * cache (one mincore() for the whole prefix says which) are asked for
 * ahead (MADV_WILLNEED), so a file not in the page cache is read with
 * many requests in flight, not one synchronous page fault per message,
 * and a file in the page cache costs no system call per message. */
#define PREFETCH	256
static int
cache_headers_ok(struct pop23d_mbox *mb, const struct scan *sc,
    size_t reparse, uint64_t *checked_r)
{
	uint64_t len = sc->v[reparse].from;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned char *inmem = NULL;
	size_t i, j, npg;
	void *m;
	int ok = 1;

	if (len == 0)
		return 1;
	if ((uint64_t)(size_t)len != len)
		return 0;
	m = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, mb->fd, 0);
	if (m == MAP_FAILED)
		return 0;
	(void)madvise(m, (size_t)len, MADV_RANDOM);
	npg = (size_t)((len + pg - 1) / pg);
	if ((inmem = malloc(npg)) != NULL &&
	    mincore(m, (size_t)len, inmem) != 0) {
		free(inmem);
		inmem = NULL;	/* unknown: ask for every header page */
	}
	for (i = 0, j = 0; ok && i < reparse; i++) {
		const struct ment *e = &sc->v[i];

		for (; j < reparse && j < i + PREFETCH; j++) {
			uint64_t a = sc->v[j].from & ~(pg - 1), k;
			int resident = inmem != NULL;

			for (k = a / pg; resident && k * pg < sc->v[j].hend;
			    k++)
				resident = k < npg && (inmem[k] & 1);
			if (!resident)
				(void)madvise((unsigned char *)m + a,
				    (size_t)(sc->v[j].hend - a),
				    MADV_WILLNEED);
		}
		if ((i & 1023) == 1023)
			lock_keepalive();
		ok = crc32c(0, (const unsigned char *)m + e->from,
		    (size_t)(e->hend - e->from)) == e->hcrc;
		*checked_r += e->hend - e->from;
	}
	free(inmem);
	munmap(m, (size_t)len);
	return ok;
}

/*
 * Load the offset record of the locked mbox (doc/DESIGN.md 13.2) into SC
 * when it may be used for the file as it is now (mb->st):
 *   2  the file has not been written since the record was made: SC is
 *      the whole list, nothing is parsed;
 *   1  it grew and the record's prefix is intact: SC holds the entries
 *      before *TAIL_R, the file is parsed from *TAIL_R on;
 *   0  no record, or in doubt: SC is empty, parse the whole file.
 */
static int
cache_load(struct pop23d_mbox *mb, struct scan *sc, uint64_t *tail_r)
{
	struct mbox_cache_hdr h;
	struct stat cst;
	struct timespec now;
	unsigned char *buf = NULL;
	uint32_t crc;
	int64_t made_ns, ctime_ns;
	int fd, same_time, quiet, r = 0;

	fd = openat(mb->idxfd, CACHE_NAME, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &cst) != 0 || !S_ISREG(cst.st_mode) ||
	    cst.st_uid != geteuid() || cst.st_size < MBOX_CACHE_HDR_LEN ||
	    (uint64_t)cst.st_size > MBOX_CACHE_HDR_LEN +
	    (uint64_t)MBOX_CACHE_COUNT_MAX * MBOX_CACHE_ENT_MAX ||
	    (buf = malloc((size_t)cst.st_size)) == NULL ||
	    read_full(fd, buf, (size_t)cst.st_size, 0) != 0) {
		close(fd);
		free(buf);
		return 0;
	}
	close(fd);
	if (mbox_cache_version(buf, (size_t)cst.st_size) !=
	    MBOX_CACHE_VERSION) {
		/* another pop23d's layout: not damage, just no use */
		if (mbox_cache_version(buf, (size_t)cst.st_size) != 0)
			goto out;
	}
	if (mbox_cache_decode(buf, (size_t)cst.st_size, &h, cache_one, sc) !=
	    0) {
		if (!sc->oom)
			host->log(LOG_WARNING, "mbox path=%s: the offset record "
			    "is damaged; the file is parsed whole", mb->path);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	same_time = h.ctime_s == (int64_t)mb->st.st_ctim.tv_sec &&
	    h.ctime_ns == (uint32_t)mb->st.st_ctim.tv_nsec &&
	    h.mtime_s == (int64_t)mb->st.st_mtim.tv_sec &&
	    h.mtime_ns == (uint32_t)mb->st.st_mtim.tv_nsec;
	/* Another file, a shorter one, or one written in place without
	 * growing (its ctime moved): parse it whole. */
	if (h.dev != (uint64_t)mb->st.st_dev ||
	    h.ino != (uint64_t)mb->st.st_ino || mb->scanned < h.len ||
	    (mb->scanned == h.len && !same_time))
		goto out;
	if (last_block_crc(mb, h.len, &crc) != 0 || crc != h.last_crc)
		goto out;
	/* Not written since (ctime cannot be set by a program), and the
	 * record is not racy: nothing to read. */
	made_ns = h.made_s * 1000000000LL + h.made_ns;
	ctime_ns = h.ctime_s * 1000000000LL + h.ctime_ns;
	quiet = same_time && mb->scanned == h.len &&
	    made_ns - ctime_ns >= CACHE_RACY_NS && h.made_s <= now.tv_sec;
	if (quiet) {
		r = 2;
		goto out;
	}
	/* Written since: an append, perhaps more.  Every separator and
	 * header before the first entry an append can change must be
	 * where it was; those entries are parsed again with the tail. */
	if (h.reparse == 0 || !cache_headers_ok(mb, sc, h.reparse,
	    &mb->hchecked))
		goto out;
	sc->n = h.reparse;
	*tail_r = sc->v[h.reparse].from;
	r = 1;
out:
	free(buf);
	if (r == 0)
		scan_reset(sc);
	return r;
}

/*
 * Write the offset record: the N messages V (keys in KEYS, KEY_SLOT
 * octets each, without "-N" suffixes) tile the file's first LEN octets,
 * the file as it was at the fstat() ST, taken at MADE (before the
 * parse).  No fsync: a record lost or torn by a crash fails its checks
 * and costs one full parse.  Failures are logged and change nothing.
 */
static void
cache_write(struct pop23d_mbox *mb, const struct ment *v, size_t n,
    const char *keys, const struct stat *st, uint64_t len,
    const struct timespec *made)
{
	struct mbox_cache_hdr h;
	unsigned char hb[MBOX_CACHE_HDR_LEN], *buf = NULL;
	uint64_t thr, off = MBOX_CACHE_HDR_LEN;
	size_t i, used = 0;
	int fd;

	if (n == 0 || n > MBOX_CACHE_COUNT_MAX) {
		(void)unlinkat(mb->idxfd, CACHE_NAME, 0);
		return;
	}
	memset(&h, 0, sizeof h);
	h.dev = (uint64_t)st->st_dev;
	h.ino = (uint64_t)st->st_ino;
	h.len = len;
	h.ctime_s = (int64_t)st->st_ctim.tv_sec;
	h.ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
	h.mtime_s = (int64_t)st->st_mtim.tv_sec;
	h.mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	h.made_s = (int64_t)made->tv_sec;
	h.made_ns = (uint32_t)made->tv_nsec;
	h.count = (uint32_t)n;
	/* An append can change the last message, and any message whose
	 * Content-Length claims an end so near the prefix's end (or past
	 * it) that the octets after it decide whether it agrees. */
	thr = h.len > MBOX_FROM_LINE_MAX + 2 ? h.len - MBOX_FROM_LINE_MAX - 2 :
	    0;
	h.reparse = (uint32_t)(n - 1);
	for (i = 0; i < n; i++)
		if (v[i].clen_end != 0 && v[i].clen_end >= thr) {
			h.reparse = (uint32_t)i;
			break;
		}
	if (last_block_crc(mb, h.len, &h.last_crc) != 0)
		return;
	fd = openat(mb->idxfd, CACHE_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1 || (buf = malloc(COPY_CHUNK)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		struct mbox_cache_ent ce;
		const struct ment *e = &v[i];
		const char *k = keys + i * KEY_SLOT;
		size_t kl = strnlen(k, MBOX_UIDL_MAX);

		ce.from = e->from;
		ce.body = e->body;
		ce.hend = e->hend;
		ce.end = e->end;
		ce.next = e->next;
		ce.hcrc = e->hcrc;
		ce.flags = e->flags;
		memcpy(ce.key, k, kl);
		ce.key[kl] = '\0';
		if (COPY_CHUNK - used < MBOX_CACHE_ENT_MAX) {
			if (write_full(fd, buf, used, off) != 0)
				goto fail;
			h.ents_crc = crc32c(h.ents_crc, buf, used);
			off += used;
			used = 0;
		}
		used += mbox_cache_ent_encode(&ce, buf + used);
	}
	if (write_full(fd, buf, used, off) != 0)
		goto fail;
	h.ents_crc = crc32c(h.ents_crc, buf, used);
	mbox_cache_hdr_encode(&h, hb);
	if (write_full(fd, hb, sizeof hb, 0) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(mb->idxfd, CACHE_TMP, mb->idxfd, CACHE_NAME) != 0)
		goto fail;
	free(buf);
	return;
fail:
	host->log(LOG_WARNING, "mbox offset record dir=%s: %s (the next login "
	    "parses the file whole)", mb->idxdir, strerror(errno));
	if (fd != -1)
		close(fd);
	(void)unlinkat(mb->idxfd, CACHE_TMP, 0);
	free(buf);
}

/* Remove the offset record before the mbox is changed by us (UPDATE, a
 * replayed stage).  Not needed for safety (the change moves the file's
 * ctime and size), it saves the next login the check. */
static void
cache_drop(struct pop23d_mbox *mb)
{
	if (unlinkat(mb->idxfd, CACHE_NAME, 0) != 0 && errno != ENOENT)
		host->log(LOG_WARNING, "remove the offset record dir=%s: %s",
		    mb->idxdir, strerror(errno));
}

/*
 * Scan the locked mbox: parse it (or only what was appended since the
 * offset record was made), build the list (the internal pseudo-message
 * left out) and the keys.
 */
static enum pop23d_result
build_list(struct pop23d_mbox *mb)
{
	struct scan sc;
	struct timespec made;
	enum pop23d_result res = POP23D_OK;
	uint64_t tail = 0;
	size_t i, n;
	int cached;

	clock_gettime(CLOCK_REALTIME, &made);
	if (fstat(mb->fd, &mb->st) != 0)
		return POP23D_TEMPFAIL;
	mb->scanned = (uint64_t)mb->st.st_size;
	memset(&sc, 0, sizeof sc);
	if ((sc.ctx = EVP_MD_CTX_new()) == NULL)
		return POP23D_TEMPFAIL;
	cached = cache_load(mb, &sc, &tail);
	if (cached != 2)
		res = parse_file(mb, tail, mb->scanned, &sc);
	EVP_MD_CTX_free(sc.ctx);
	EVP_MD_free(sc.sha256);
	if (res != POP23D_OK)
		return res;
	mb->cached = cached;
	if (cached != 2)
		cache_write(mb, sc.v, sc.n, sc.keys, &mb->st, mb->scanned,
		    &made);
	/* what the scan read of the mbox: parsed= octets parsed, headers=
	 * separator and header octets checked against the record (the
	 * last 4 KiB it compares are not counted) */
	host->log(LOG_DEBUG, "mbox scan path=%s messages=%zu read=%s "
	    "parsed=%llu headers=%llu", mb->path, sc.n, cached == 2 ?
	    "none" : cached == 1 ? "headers+tail" : "all", cached == 2 ?
	    0ULL : (unsigned long long)(mb->scanned - tail),
	    (unsigned long long)mb->hchecked);
	mb->all = sc.v;
	mb->nall = sc.n;
	for (i = n = 0; i < sc.n; i++)
		if (!(sc.v[i].flags & MBOX_F_INTERNAL))
			n++;
	if (n == 0) {
		free(sc.keys);
		return POP23D_OK;
	}
	mb->pos = calloc(n, sizeof *mb->pos);
	mb->msgs = calloc(n, sizeof *mb->msgs);
	if (mb->pos == NULL || mb->msgs == NULL) {
		free(sc.keys);
		return POP23D_TEMPFAIL;
	}
	/* the keys stay where the scan put them (file order; dedup_keys()
	 * relies on it), the internal message's slot unused */
	mb->keys = sc.keys;
	for (i = n = 0; i < sc.n; i++) {
		struct pop23d_msg *m;

		if (sc.v[i].flags & MBOX_F_INTERNAL)
			continue;
		m = &mb->msgs[n];
		mb->pos[n] = i;
		m->key = mb->keys + i * KEY_SLOT;
		m->raw_size = (off_t)(sc.v[i].end - sc.v[i].body);
		m->accessed = 0;	/* the index knows */
		n++;
	}
	mb->count = n;
	return dedup_keys(mb) == 0 ? POP23D_OK : POP23D_TEMPFAIL;
}

/* ------------------------------------------------------------ open */

static void
mb_close(struct pop23d_mbox **mbp)
{
	struct pop23d_mbox *mb;

	if (mbp == NULL || (mb = *mbp) == NULL)
		return;
	if (mb->fd != -1) {
		mbox_unlock(mb);
		close(mb->fd);
	}
	if (mb->rofd != -1)
		close(mb->rofd);
	if (mb->lockfd != -1)
		close(mb->lockfd);
	if (mb->idxfd != -1)
		close(mb->idxfd);
	free(mb->all);
	free(mb->pos);
	free(mb->msgs);
	free(mb->keys);
	free(mb->blen);
	free(mb->path);
	free(mb->idxdir);
	free(mb);
	*mbp = NULL;
}

/* mkdir -p PATH (0700) as the mail user; every component is opened with
 * O_NOFOLLOW below the one before.  An fd of PATH, or -1. */
static int
open_idxdir(const char *path)
{
	char buf[PATH_MAX], *p, *s;
	int fd, nfd;

	if (strlen(path) >= sizeof buf || path[0] != '/')
		return -1;
	memcpy(buf, path, strlen(path) + 1);
	if ((fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (p = buf + 1; *p != '\0'; p = s) {
		s = strchr(p, '/');
		if (s != NULL)
			*s++ = '\0';
		else
			s = p + strlen(p);
		if (*p == '\0')
			continue;
		if (strcmp(p, "..") == 0) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		nfd = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (nfd == -1 && errno == ENOENT) {
			if (mkdirat(fd, p, 0700) != 0 && errno != EEXIST) {
				close(fd);
				return -1;
			}
			nfd = openat(fd, p, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		}
		close(fd);
		if ((fd = nfd) == -1)
			return -1;
	}
	return fd;
}

static enum pop23d_result
take_session_lock(struct pop23d_mbox *mb, const char **error_r)
{
	struct flock fl;
	struct stat st;

	mb->lockfd = openat(mb->idxfd, LOCK_NAME, O_RDWR | O_CREAT |
	    O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (mb->lockfd == -1 || fstat(mb->lockfd, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		host->log(LOG_ERR, "session lock dir=%s: %s", mb->idxdir,
		    strerror(errno));
		*error_r = "cannot open the lock file";
		return POP23D_TEMPFAIL;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(mb->lockfd, F_OFD_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES) {
			*error_r = "maildrop is locked by another session";
			return POP23D_INUSE;
		}
		*error_r = "cannot lock the maildrop";
		return POP23D_TEMPFAIL;
	}
	return POP23D_OK;
}

/*
 * Open the mbox PATH (opened as NAME below DIRFD, or as PATH when DIRFD
 * is AT_FDCWD) whose index lives in IDXDIR: session lock, open, lock the
 * mbox, replay a stage, scan, unlock.  FOLDER: every "cannot use it" is
 * POP23D_NOUSER (a FOLD does not tell what exists).
 */
static enum pop23d_result
open_mbox(int dirfd, const char *name, const char *path, const char *idxdir,
    int folder, struct pop23d_mbox **mbox_r, const char **error_r)
{
	struct pop23d_mbox *mb;
	enum pop23d_result res;
	struct stat st;
	char e[LOG_NAME_MAX];

	*mbox_r = NULL;
	if ((mb = calloc(1, sizeof *mb)) == NULL) {
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	mb->fd = mb->rofd = mb->lockfd = mb->idxfd = -1;
	mb->do_fsync = strcasecmp(cfg("fsync", "yes"), "no") != 0;
	if ((mb->path = strdup(path)) == NULL ||
	    (mb->idxdir = strdup(idxdir)) == NULL) {
		*error_r = "out of memory";
		res = POP23D_TEMPFAIL;
		goto fail;
	}
	mb->rw = 1;
	mb->fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (mb->fd == -1 && (errno == EACCES || errno == EROFS)) {
		mb->rw = 0;
		mb->fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	}
	if (mb->fd == -1) {
		if (errno == ENOENT) {
			*error_r = folder ? "no such folder" :
			    "the mbox does not exist";
			res = POP23D_NOUSER;
		} else {
			host->log(LOG_ERR, "open path=%s: %s",
			    esc(path, e, sizeof e), strerror(errno));
			*error_r = "cannot open the mbox";
			res = folder ? POP23D_NOUSER : POP23D_PERMFAIL;
		}
		goto fail;
	}
	if (fstat(mb->fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (!host->rootless && st.st_uid != geteuid())) {
		host->log(LOG_ERR, "mbox path=%s is not a regular file of this "
		    "user", esc(path, e, sizeof e));
		*error_r = "the mbox is not a regular file of this user";
		res = folder ? POP23D_NOUSER : POP23D_PERMFAIL;
		goto fail;
	}
	/* The index directory only now: a FOLD of a name that does not
	 * exist creates nothing. */
	if ((mb->idxfd = open_idxdir(idxdir)) == -1) {
		host->log(LOG_ERR, "index dir=%s: %s", esc(idxdir, e, sizeof e),
		    strerror(errno));
		*error_r = "cannot use the index directory";
		res = POP23D_TEMPFAIL;
		goto fail;
	}
	if ((res = take_session_lock(mb, error_r)) != POP23D_OK)
		goto fail;
	if ((res = mbox_lock(mb)) != POP23D_OK) {
		*error_r = "the mbox is locked by another program";
		goto fail;
	}
	if ((res = replay(mb)) == POP23D_OK)
		res = build_list(mb);
	mbox_unlock(mb);
	if (res != POP23D_OK) {
		*error_r = "cannot read the mbox";
		goto fail;
	}
	*mbox_r = mb;
	return POP23D_OK;
fail:
	mb_close(&mb);
	return res;
}

/* The index directory of the INBOX (SUB "INBOX") or of folder NAME
 * ("folder-NAME") into BUF. */
static int
idxdir_of(const char *sub, const char *name, char *buf, size_t bufsz)
{
	char root[PATH_MAX];
	int n;

	if (expand(cfg("index_dir", DEF_INDEX_DIR), root, sizeof root) != 0)
		return -1;
	n = snprintf(buf, bufsz, "%s/%s%s", root, sub, name);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

static enum pop23d_result
mb_open(const char *location, struct pop23d_mbox **mbox_r,
    const char **error_r)
{
	char idx[PATH_MAX];

	*mbox_r = NULL;
	if (location[0] != '/') {
		*error_r = "the mbox location is not an absolute path";
		return POP23D_PERMFAIL;
	}
	if (idxdir_of("INBOX", "", idx, sizeof idx) != 0) {
		*error_r = "no index directory (index_dir needs a home)";
		return POP23D_PERMFAIL;
	}
	return open_mbox(AT_FDCWD, location, location, idx, 0, mbox_r,
	    error_r);
}

static enum pop23d_result
mb_folder_open(const char *location, const char *name,
    struct pop23d_mbox **mbox_r, const char **error_r)
{
	char dir[PATH_MAX], path[PATH_MAX], idx[PATH_MAX], e[LOG_NAME_MAX];
	enum pop23d_result res;
	struct stat fst, lst;
	int dfd, n;

	*mbox_r = NULL;
	if (name == NULL || strcasecmp(name, "INBOX") == 0)
		return mb_open(location, mbox_r, error_r);
	if (!folder_name_ok(name)) {
		host->log(LOG_INFO, "folder refused name=%s",
		    esc(name, e, sizeof e));
		*error_r = "invalid folder name";
		return POP23D_NOUSER;
	}
	if (expand(cfg("folders", DEF_FOLDERS), dir, sizeof dir) != 0 ||
	    idxdir_of("folder-", name, idx, sizeof idx) != 0) {
		*error_r = "no folder directory";
		return POP23D_NOUSER;
	}
	n = snprintf(path, sizeof path, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof path) {
		*error_r = "invalid folder name";
		return POP23D_NOUSER;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		*error_r = "no such folder";
		return POP23D_NOUSER;
	}
	/* The spool itself under another name (mail_location %h/mbox and
	 * FOLD mbox): the INBOX, with the INBOX's session lock. */
	if (fstatat(dfd, name, &fst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    stat(location, &lst) == 0 && fst.st_dev == lst.st_dev &&
	    fst.st_ino == lst.st_ino) {
		close(dfd);
		return mb_open(location, mbox_r, error_r);
	}
	/* O_NOFOLLOW | O_NONBLOCK in open_mbox(): a symlink is refused, a
	 * FIFO cannot block, and fstat() refuses anything not regular. */
	res = open_mbox(dfd, name, path, idx, 1, mbox_r, error_r);
	close(dfd);
	return res;
}

static enum pop23d_result
mb_list(struct pop23d_mbox *mb, const struct pop23d_msg **msgs_r,
    size_t *count_r)
{
	static const struct pop23d_msg none;

	*msgs_r = mb->count > 0 ? mb->msgs : &none;
	*count_r = mb->count;
	return POP23D_OK;
}

/*
 * Open message I: a new descriptor of the mbox and the message's range.
 * The descriptor is a dup() of one open file description of the mbox,
 * opened again read-only at the first call and kept: closing a dup never
 * touches our locks (they belong to mb->fd's description, OFD and flock
 * locks alike), every reader uses pread() so the shared offset does not
 * matter, and a dup() costs no path lookup (a first login to a
 * 100 000-message mbox measures every message: 100 000 opens of
 * /proc/self/fd/N were 100 000 path walks, doc/PERFORMANCE.md run 9).
 * The file must still be the one scanned, no shorter, with the separator
 * where it was; otherwise TEMPFAIL and nothing is sent.
 */
static enum pop23d_result
mb_msg_open(struct pop23d_mbox *mb, size_t i, int *fd_r, off_t *offset_r,
    off_t *length_r)
{
	const struct ment *e;
	struct stat st;
	char procpath[64], sep[5];
	int fd;

	*fd_r = -1;
	if (i >= mb->count)
		return POP23D_PERMFAIL;
	e = &mb->all[mb->pos[i]];
	if (mb->rofd == -1) {
		snprintf(procpath, sizeof procpath, "/proc/self/fd/%d",
		    mb->fd);
		mb->rofd = open(procpath, O_RDONLY | O_CLOEXEC);
		if (mb->rofd == -1)	/* no /proc: mb->fd's description */
			mb->rofd = fcntl(mb->fd, F_DUPFD_CLOEXEC, 0);
		if (mb->rofd == -1)
			return POP23D_TEMPFAIL;
	}
	if ((fd = fcntl(mb->rofd, F_DUPFD_CLOEXEC, 0)) == -1)
		return POP23D_TEMPFAIL;
	if (fstat(fd, &st) != 0 || st.st_dev != mb->st.st_dev ||
	    st.st_ino != mb->st.st_ino ||
	    (uint64_t)st.st_size < mb->scanned ||
	    read_full(fd, sep, sizeof sep, e->from) != 0 ||
	    memcmp(sep, "From ", 5) != 0) {
		host->log(LOG_WARNING, "mbox path=%s changed since the scan "
		    "(not by an append): message %zu not served", mb->path,
		    i + 1);
		close(fd);
		return POP23D_TEMPFAIL;
	}
	*fd_r = fd;
	*offset_r = (off_t)e->body;
	*length_r = (off_t)(e->end - e->body);
	return POP23D_OK;
}

/* Reading never writes the mbox: the daemon's index keeps the flag. */
static enum pop23d_result
mb_mark_accessed(struct pop23d_mbox *mb, size_t i)
{
	(void)mb;
	(void)i;
	return POP23D_OK;
}

/*
 * The file as it is now (locked) against the scan: every scanned message
 * at the same place with the same header, and whatever follows the
 * scanned end starts with a separator.  0 if so, and then *FRESH (if not
 * NULL) is that parse (without keys; the caller frees fresh->v).
 */
static int
verify_unchanged(struct pop23d_mbox *mb, uint64_t size, struct scan *fresh)
{
	struct scan sc;
	size_t i;
	int bad = 0;

	if (size < mb->scanned)
		return -1;
	memset(&sc, 0, sizeof sc);
	if (parse_file(mb, 0, size, &sc) != POP23D_OK)
		return -1;
	if (sc.n < mb->nall)
		bad = 1;
	/* appended mail starts with a separator at the scanned end, so
	 * even the last message's end and next stay the same */
	for (i = 0; !bad && i < mb->nall; i++) {
		const struct ment *a = &mb->all[i], *b = &sc.v[i];

		if (a->from != b->from || a->body != b->body ||
		    a->end != b->end || a->next != b->next ||
		    a->hcrc != b->hcrc)
			bad = 1;
	}
	if (!bad && size > mb->scanned && (sc.n == mb->nall ||
	    sc.v[mb->nall].from != mb->scanned))
		bad = 1;
	if (!bad && fresh != NULL) {
		*fresh = sc;
		return 0;
	}
	free(sc.v);
	return bad ? -1 : 0;
}

/*
 * After an UPDATE that removed the messages DEL[] (NDEL, positions in
 * all[], sorted) from the locked file, write the offset record of what
 * is left, so that the next login is a warm one.  FRESH is the parse
 * UPDATE checked the file with (verify_unchanged(): the scanned messages
 * with their Content-Length claims).  The survivors' entries are the
 * scan's, moved down by what was removed before them; they are kept only
 * if a parse of the new file gives exactly them from the first message a
 * removal can have changed on (the one before the first gap, or an
 * earlier one whose Content-Length claim ends near or past it, or the
 * whole file when the first message went: c-client's internal message
 * is only ever the first).  The record describes the file at an fstat()
 * taken before that parse, under the same locks, once its ctime is out
 * of the racy window, so it is used like one made by a login.  On any
 * doubt no record is written (UPDATE removed the old one first): the
 * next login parses the file whole.
 */
static void
cache_after_update(struct pop23d_mbox *mb, const struct scan *fresh,
    const size_t *del, size_t ndel)
{
	struct ment *v = NULL;
	char *keys = NULL;
	struct scan sc;
	struct stat st;
	struct timespec now, made;
	uint64_t shift = 0, newlen, start, thr, dst;
	int64_t wait;
	size_t i, d, nv = 0, k0, g = del[0];
	const char *why = NULL;

	memset(&sc, 0, sizeof sc);
	if ((v = calloc(mb->nall, sizeof *v)) == NULL ||
	    (keys = calloc(mb->nall, KEY_SLOT)) == NULL)
		goto out;
	for (i = 0, d = 0; i < mb->nall; i++) {
		const struct ment *e = &fresh->v[i];
		const char *k = mb->keys + i * KEY_SLOT;
		size_t kl;

		if (d < ndel && del[d] == i) {
			shift += e->next - e->from;
			d++;
			continue;
		}
		v[nv] = *e;
		v[nv].from -= shift;
		v[nv].body -= shift;
		v[nv].hend -= shift;
		v[nv].end -= shift;
		v[nv].next -= shift;
		if (v[nv].clen_end != 0)
			v[nv].clen_end -= shift;
		/* the key as the scan made it, before its "-N" suffix */
		kl = mb->blen != NULL && mb->blen[i] != 0 ? mb->blen[i] :
		    strlen(k);
		memcpy(keys + nv * KEY_SLOT, k, kl);
		keys[nv * KEY_SLOT + kl] = '\0';
		nv++;
	}
	if (nv == 0 || shift > mb->scanned) {
		why = "no message left";
		goto out;
	}
	newlen = mb->scanned - shift;
	/* the first entry a removal can change (survivors before the first
	 * gap keep their positions in v[]) */
	dst = mb->all[g].from;
	thr = dst > MBOX_FROM_LINE_MAX + 2 ? dst - MBOX_FROM_LINE_MAX - 2 : 0;
	k0 = g > 0 ? g - 1 : 0;
	for (i = 0; i < k0; i++)
		if (v[i].clen_end != 0 && v[i].clen_end >= thr) {
			k0 = i;
			break;
		}
	start = k0 == 0 ? 0 : v[k0].from;
	/* out of the racy window (a few ms), then the fstat the record
	 * describes, then the parse */
	if (fstat(mb->fd, &st) != 0) {
		why = strerror(errno);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	wait = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec +
	    CACHE_RACY_NS - ((int64_t)now.tv_sec * 1000000000LL + now.tv_nsec);
	if (wait > 0 && wait <= CACHE_WAIT_NS) {
		struct timespec p = { 0, (long)wait };

		nanosleep(&p, NULL);
	}
	clock_gettime(CLOCK_REALTIME, &made);
	if (fstat(mb->fd, &st) != 0) {
		why = strerror(errno);
		goto out;
	}
	if ((uint64_t)st.st_size < newlen) {
		why = "the file is shorter than expected";
		goto out;
	}
	if (parse_file(mb, start, newlen, &sc) != POP23D_OK) {
		why = "cannot parse it again";
		goto out;
	}
	if (sc.n != nv - k0) {
		why = "another message count";
		goto out;
	}
	for (i = 0; i < sc.n; i++) {
		struct ment *a = &v[k0 + i];
		const struct ment *b = &sc.v[i];

		if (a->from != b->from || a->body != b->body ||
		    a->hend != b->hend || a->end != b->end ||
		    a->next != b->next || a->hcrc != b->hcrc ||
		    a->flags != b->flags) {
			why = "a message is not where the scan said";
			goto out;
		}
		a->clen_end = b->clen_end;	/* claims in the new file */
	}
	cache_write(mb, v, nv, keys, &st, newlen, &made);
	host->log(LOG_DEBUG, "mbox offset record path=%s rewritten after "
	    "UPDATE: messages=%zu checked=%llu", mb->path, nv,
	    (unsigned long long)(newlen - start));
out:
	if (why != NULL)
		host->log(LOG_INFO, "mbox path=%s: no offset record after "
		    "UPDATE (%s); the next login parses the file whole",
		    mb->path, why);
	free(sc.v);
	free(v);
	free(keys);
}

static int
size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * UPDATE: remove the N listed messages IDX[] and keep every other octet,
 * mail appended during the session included (see the file header).
 */
static enum pop23d_result
mb_expunge(struct pop23d_mbox *mb, const size_t *idx, size_t n)
{
	unsigned char h[STAGE_HDR_LEN], *buf = NULL;
	enum pop23d_result res = POP23D_TEMPFAIL;
	struct stage s;
	struct stat st;
	struct scan fresh;
	size_t *del = NULL, k, d, i;
	uint64_t soff;
	int sfd = -1;

	memset(&fresh, 0, sizeof fresh);
	if (n == 0)
		return POP23D_OK;
	if (!mb->rw)
		return POP23D_PERMFAIL;
	for (k = 0; k < n; k++)
		if (idx[k] >= mb->count)
			return POP23D_PERMFAIL;
	if ((del = malloc(n * sizeof *del)) == NULL ||
	    (buf = malloc(COPY_CHUNK)) == NULL)
		goto out;
	for (k = 0; k < n; k++)
		del[k] = mb->pos[idx[k]];	/* positions in all[] */
	qsort(del, n, sizeof *del, size_cmp);
	if (mbox_lock(mb) != POP23D_OK)
		goto out;
	if (fstat(mb->fd, &st) != 0 || st.st_dev != mb->st.st_dev ||
	    st.st_ino != mb->st.st_ino ||
	    verify_unchanged(mb, (uint64_t)st.st_size, &fresh) != 0) {
		host->log(LOG_ERR, "mbox path=%s was changed by another "
		    "program during the session: nothing removed", mb->path);
		/* the record this session was listed from may be the one
		 * that lied: the next login parses the file whole */
		cache_drop(mb);
		goto out;
	}
	cache_drop(mb);
	memset(&s, 0, sizeof s);
	s.dev = (uint64_t)st.st_dev;
	s.ino = (uint64_t)st.st_ino;
	s.old_size = (uint64_t)st.st_size;
	s.dst = mb->all[del[0]].from;
	sfd = openat(mb->idxfd, STAGE_TMP, O_RDWR | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600);
	if (sfd == -1)
		goto io;
	/* 1. stage every surviving octet after the first deleted message */
	soff = STAGE_HDR_LEN;
	for (i = del[0], d = 0; i < mb->nall; i++) {
		const struct ment *e = &mb->all[i];

		if (d < n && del[d] == i) {
			d++;
			continue;
		}
		if (copy_range(mb->fd, e->from, sfd, soff, e->next - e->from,
		    buf, &s.data_crc) != 0)
			goto io;
		soff += e->next - e->from;
	}
	/* the last scanned message's next is the scanned end: appended
	 * mail follows */
	if (s.old_size > mb->scanned) {
		if (copy_range(mb->fd, mb->scanned, sfd, soff,
		    s.old_size - mb->scanned, buf, &s.data_crc) != 0)
			goto io;
		soff += s.old_size - mb->scanned;
	}
	s.new_size = s.dst + (soff - STAGE_HDR_LEN);
	if (s.new_size >= s.old_size) {
		errno = EINVAL;
		goto io;
	}
	if (crc_range(mb->fd, s.new_size, s.old_size - s.new_size, buf,
	    &s.tail_crc) != 0)
		goto io;
	stage_encode(&s, h);
	if (write_full(sfd, h, sizeof h, 0) != 0 || sync_fd(mb, sfd) != 0 ||
	    renameat(mb->idxfd, STAGE_TMP, mb->idxfd, STAGE_NAME) != 0 ||
	    sync_fd(mb, mb->idxfd) != 0)
		goto io;
	/* 2. committed: from here on the next open finishes the job */
	if (stage_apply(mb, sfd, &s, buf) != 0) {
		host->log(LOG_ERR, "UPDATE path=%s: %s; the next login "
		    "finishes it", mb->path, strerror(errno));
		goto out;
	}
	/* 3. done */
	if (unlinkat(mb->idxfd, STAGE_NAME, 0) != 0 ||
	    sync_fd(mb, mb->idxfd) != 0) {
		host->log(LOG_ERR, "remove stage dir=%s: %s", mb->idxdir,
		    strerror(errno));
		res = POP23D_OK;
		goto out;
	}
	/* 4. the offset record of the new file (a crash before or during
	 * it leaves none, or a torn one that fails its checks) */
	cache_after_update(mb, &fresh, del, n);
	res = POP23D_OK;
	goto out;
io:
	host->log(LOG_ERR, "UPDATE stage dir=%s: %s; nothing removed",
	    mb->idxdir, strerror(errno));
	(void)unlinkat(mb->idxfd, STAGE_TMP, 0);
out:
	if (sfd != -1)
		close(sfd);
	mbox_unlock(mb);
	free(fresh.v);
	free(del);
	free(buf);
	return res;
}

static const char *
mb_index_dir(struct pop23d_mbox *mb)
{
	return mb->idxdir;
}

static int
mb_writable(struct pop23d_mbox *mb)
{
	return mb->rw;
}

static const struct pop23d_store_ops mb_ops = {
	.open = mb_open,
	.list = mb_list,
	.msg_open = mb_msg_open,
	.mark_accessed = mb_mark_accessed,
	.expunge = mb_expunge,
	.index_dir = mb_index_dir,
	.close = mb_close,
	.folder_open = mb_folder_open,
	.writable = mb_writable,
};

static const char *const mb_config_keys[] = { "lock", "lock_timeout",
	"dotlock_stale", "dotlock_group", "index_dir", "folders", "fsync",
	NULL };

static const struct pop23d_plugin mb_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 6,		/* session_home, session_user, dotlock */
	.kind = POP23D_PLUGIN_STORE,
	.name = PLUGIN_NAME,
	.config_keys = mb_config_keys,
	.check_config = mb_check_config,
	.auth = NULL,
	.store = &mb_ops,
	.flags = 0,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, h, plugin_r, &mb_plugin,
	    HOSTCHECK_CONFIG_GET) != 0)
		return -1;
	host = h;
	*plugin_r = &mb_plugin;
	return 0;
}
