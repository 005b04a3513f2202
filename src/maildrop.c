/*
 * maildrop.c - the maildrop core shared by POP2 and POP3.  It knows
 * nothing of the wire: it hands a message out as a struct msgstream
 * (maildrop_msg_open()) and measures sizes with the crlf.h rule that the
 * wire module (wire.c) sends with.
 *
 * At login the storage plugin lists the messages once; each message's
 * CRLF size comes from the GDBM index, or is computed by reading the
 * message once and then stored.  A warm login therefore reads no message
 * bodies.  The UIDL is never taken from the index: it is computed from the
 * storage key at every login (cheaply: the key itself, in the common
 * case).  A message that cannot be opened or read at login (a file of
 * another user, one that vanished since the listing) is left out of the
 * session and logged, never deleted; the others are served.  Deletion and
 * accessed marks live in memory until maildrop_commit() (UPDATE); a
 * dropped connection loses them and removes nothing.
 *
 * PRIVILEGE: runs as the mail user (never root: session.c has dropped).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "compat.h"
#include "crlf.h"
#include "index.h"
#include "keyhints.h"
#include "log.h"
#include "maildrop.h"
#include "msgstream.h"

#define READ_CHUNK	65536
/* Messages skipped at login are named in the log up to this many per
 * session, the rest counted in one line: a maildrop full of unreadable
 * files must not flood the log at every login. */
#define SKIP_LOG_MAX	10
#define MD5_LEN		16

/* Storage for MD5 UIDLs (33 octets each), freed at close. */
#define UIDL_MD5_STR	(2 * MD5_LEN + 1)
#define UIDL_BLOCK_N	120
struct uidl_block {
	struct uidl_block *next;
	size_t used;
	char s[UIDL_BLOCK_N][UIDL_MD5_STR];
};

/* One MD5 context for all the UIDLs of a login (make_uidl). */
struct uidl_maker {
	struct uidl_block **blocks;	/* the maildrop's */
	EVP_MD_CTX *ctx;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MD *md5;		/* fetched once, not per message */
#endif
};

static void
uidl_maker_free(struct uidl_maker *um)
{
	EVP_MD_CTX_free(um->ctx);
	um->ctx = NULL;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MD_free(um->md5);
	um->md5 = NULL;
#endif
}

/*
 * The UIDL of the message with storage key KEY, into *UIDL_R: the key
 * itself when it is a valid UIDL (RFC 1939 section 7: 1-70 octets
 * 0x21-0x7E; then nothing is copied: a key lives as long as the
 * maildrop), else the MD5 of the key in lower-case hex, kept in the
 * maildrop's uidl blocks.  It depends on the key alone, so neither losing
 * nor damaging the index can change a UIDL, and no two keys of a maildrop
 * share one (up to MD5 collisions between keys that are not UIDLs).  0,
 * or -1 if libcrypto has no MD5 (a FIPS-only configuration) or no memory.
 */
static int
make_uidl(struct uidl_maker *um, const char *key, const char **uidl_r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	const EVP_MD *type;
	struct uidl_block *b;
	char *out;

	if (index_uidl_valid(key)) {
		*uidl_r = key;
		return 0;
	}
	b = *um->blocks;
	if (b == NULL || b->used == UIDL_BLOCK_N) {
		if ((b = calloc(1, sizeof *b)) == NULL)
			return -1;
		b->next = *um->blocks;
		*um->blocks = b;
	}
	out = b->s[b->used];
	if (um->ctx == NULL && (um->ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	if (um->md5 == NULL && (um->md5 = EVP_MD_fetch(NULL, "MD5",
	    NULL)) == NULL)
		return -1;
	type = um->md5;
#else
	type = EVP_md5();
#endif
	if (EVP_DigestInit_ex(um->ctx, type, NULL) != 1 ||
	    EVP_DigestUpdate(um->ctx, key, strlen(key)) != 1 ||
	    EVP_DigestFinal_ex(um->ctx, md, &mdlen) != 1 || mdlen != MD5_LEN)
		return -1;
	for (i = 0; i < MD5_LEN; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[2 * MD5_LEN] = '\0';
	b->used++;
	*uidl_r = out;
	return 0;
}

int
maildrop_measure(int fd, off_t offset, off_t len, uint64_t *size_r)
{
	struct crlf cr;
	char *buf;
	uint64_t size = 0;
	off_t done = 0;

	if ((buf = malloc(READ_CHUNK)) == NULL)
		return -1;
	/* The same rule, in the same module, as the wire uses to send. */
	crlf_init(&cr);
	while (done < len) {
		size_t want = (size_t)(len - done < READ_CHUNK ?
		    len - done : READ_CHUNK);
		ssize_t r = pread(fd, buf, want, offset + done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -1;
		}
		size += crlf_count(&cr, buf, (size_t)r);
		done += r;
	}
	free(buf);
	*size_r = size + crlf_count_end(&cr);
	return 0;
}

/* Sorted copy of the message keys, for index_prune(). */
struct keyset {
	const char **keys;
	size_t n;
};

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
keep_key(void *ctx, const char *key)
{
	const struct keyset *ks = ctx;

	return bsearch(&key, ks->keys, ks->n, sizeof *ks->keys, cmp_key) !=
	    NULL;
}

/* Drop index records of messages that are gone (O(n log n)). */
static long
prune_index(struct maildrop *md)
{
	struct keyset ks;
	size_t i;
	long pruned;

	ks.n = md->count;
	if ((ks.keys = calloc(ks.n + 1, sizeof *ks.keys)) == NULL)
		return -1;
	for (i = 0; i < ks.n; i++)
		ks.keys[i] = md->msgs[i].key;
	qsort(ks.keys, ks.n, sizeof *ks.keys, cmp_key);
	pruned = index_prune(md->index, keep_key, &ks);
	free(ks.keys);
	return pruned;
}

/* Log that listed message PM was left out of the session, and WHY. */
static void
skip_log(struct maildrop *md, const struct pop23d_msg *pm, const char *why)
{
	char esc[128];

	if (md->skipped++ >= SKIP_LOG_MAX)
		return;
	log_warnx("maildrop: message %s %s; left out of this session",
	    log_escape(pm->key, strlen(pm->key), esc, sizeof esc), why);
}

enum load_result { LOAD_OK, LOAD_SKIP, LOAD_FAIL };

/*
 * Fill M for the storage's message SIDX (listed as PM): the size, raw size
 * and accessed flag from a valid index record, or by measuring the file
 * (the record is then stored); the UIDL from the key, always.  LOAD_SKIP:
 * the file cannot be opened or read (vanished, another user's, not a
 * file): the message is left out of the session.  LOAD_FAIL: no UIDL.
 */
static enum load_result
load_msg(struct maildrop *md, struct uidl_maker *um,
    const struct pop23d_msg *pm, size_t sidx, struct maildrop_msg *m,
    int *dirty)
{
	struct index_rec rec;
	enum pop23d_result r;
	uint64_t hsize, hraw;
	int fd, hinted;
	off_t off, len;

	m->key = pm->key;
	m->sidx = sidx;
	if (make_uidl(um, pm->key, &m->uidl) != 0)
		return LOAD_FAIL;
	/* Sizes named in the key (keyhints.c) are only a claim of whoever
	 * named the file: maildrop_msg_open() measures a hinted message
	 * before anything of it is sent, and a wrong hint is replaced by a
	 * measured index record (maildrop_forget()), which wins over the
	 * hint at every later login. */
	hinted = key_hints(pm->key, &hsize, &hraw);
	/* A record counts only if the raw size the storage knows (if it
	 * knows one without a stat) agrees with it as well.  A hinted key
	 * is looked up only while the index may hold such records. */
	if (md->index != NULL && (!hinted || md->hinted_lookup) &&
	    index_lookup(md->index, pm->key, &rec) == 1 &&
	    (pm->raw_size < 0 || (uint64_t)pm->raw_size == rec.raw_size)) {
		m->size = rec.size;
		m->raw_size = rec.raw_size;
		m->accessed = rec.accessed || pm->accessed;
		md->index_hits++;
		if (hinted)
			md->hinted_hits++;
		return LOAD_OK;
	}
	if (hinted && (pm->raw_size < 0 || (uint64_t)pm->raw_size == hraw)) {
		m->size = hsize;
		m->raw_size = hraw;
		m->accessed = pm->accessed;
		m->from_hint = 1;
		m->unverified = 1;
		md->hinted++;
		return LOAD_OK;
	}
	md->index_misses++;
	if ((r = md->ops->msg_open(md->mbox, sidx, &fd, &off, &len)) !=
	    POP23D_OK) {
		skip_log(md, pm, r == POP23D_NOUSER ? "vanished" :
		    "cannot be opened");
		return LOAD_SKIP;
	}
	if (maildrop_measure(fd, off, len, &m->size) != 0) {
		close(fd);
		skip_log(md, pm, "cannot be read");
		return LOAD_SKIP;
	}
	close(fd);
	m->raw_size = (uint64_t)len;
	m->accessed = pm->accessed;
	if (md->index != NULL) {
		memset(&rec, 0, sizeof rec);
		rec.size = m->size;
		rec.raw_size = m->raw_size;
		rec.accessed = m->accessed;
		if (index_store(md->index, pm->key, &rec) == 0)
			*dirty = 1;
	}
	return LOAD_OK;
}

/* Open (or rebuild) the index in the storage's index_dir, if it has one;
 * without one the session goes on, only slower. */
static void
open_index(struct maildrop *md)
{
	char path[PATH_MAX];
	const char *dir, *e = NULL;
	int rebuilt = 0;

	dir = md->ops->index_dir(md->mbox);
	if (dir == NULL || (size_t)snprintf(path, sizeof path, "%s/%s", dir,
	    INDEX_FILE) >= sizeof path)
		return;
	if (index_open(path, &md->index, &rebuilt, &e) != 0) {
		log_warnx("index %s unusable, going on without: %s", path,
		    e != NULL ? e : "?");
		md->index = NULL;
	} else if (rebuilt)
		log_warnx("index %s was rebuilt", path);
}

/*
 * Build md->msgs from the N listed messages PM: every message that can be
 * loaded gets the next number, the others are skipped.  0, or -1 with
 * *error_r.
 */
static int
load_all(struct maildrop *md, const struct pop23d_msg *pm, size_t n,
    const char **error_r)
{
	struct uidl_maker um;
	struct maildrop_msg *m;
	enum load_result lr;
	size_t i;
	int dirty = 0;

	memset(&um, 0, sizeof um);
	um.blocks = &md->uidl_blocks;
	md->hinted_lookup = index_hinted_get(md->index);
	if (n > 0 && (md->msgs = calloc(n, sizeof *md->msgs)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (i = 0; i < n; i++) {
		m = &md->msgs[md->count];
		if ((lr = load_msg(md, &um, &pm[i], i, m, &dirty)) == LOAD_SKIP)
			continue;
		if (lr == LOAD_FAIL) {
			uidl_maker_free(&um);
			log_warnx("maildrop: cannot compute UIDLs (no MD5 in "
			    "libcrypto?)");
			*error_r = "cannot compute a UIDL";
			return -1;
		}
		m->accessed_before = m->accessed;
		md->count++;
		if (m->accessed)
			md->last = md->count;
		md->live_octets += m->size;
	}
	uidl_maker_free(&um);
	md->live = md->count;
	md->last_start = md->last;
	if (md->skipped > SKIP_LOG_MAX)
		log_warnx("maildrop: %zu more messages left out of this "
		    "session (cannot be read)", md->skipped - SKIP_LOG_MAX);
	/* New mail was indexed (or damaged records replaced): drop the
	 * records of messages other clients removed too.  Skipped messages
	 * alone do not trigger this walk at every login. */
	if (md->index != NULL && md->index_misses > md->skipped &&
	    prune_index(md) > 0)
		dirty = 1;
	/* The flag was up, but no listed hinted key has a record any more
	 * (the messages whose hints were wrong are gone): drop what is left
	 * of them and stop looking hinted keys up. */
	if (md->index != NULL && md->hinted_lookup && md->hinted_hits == 0) {
		if (prune_index(md) >= 0 &&
		    index_hinted_set(md->index, 0) == 0) {
			md->hinted_lookup = 0;
			dirty = 1;
		}
	}
	if (dirty && md->index != NULL)
		index_sync(md->index);
	return 0;
}

/*
 * Idle-session memory (doc/PERFORMANCE.md, "Idle memory").  Once the
 * maildrop is loaded, a session mostly waits for its client, and what it
 * dirtied to get there stays its own: the monitor's password check and
 * the load touched stack pages far below where the command loop runs,
 * and the load's temporary arrays left free heap.  Hand both back: free
 * heap pages with malloc_trim(0), and the stack pages below this frame
 * with MADV_DONTNEED (they hold only dead frames; touched again, they
 * come back as zero pages).  STACK_KEEP octets under this frame stay, for
 * the system call's own frame; STACK_SHED is the window below that:
 * smaller than the kernel's 1 MiB guard gap under the stack, so the range
 * holds nothing but this stack (madvise() skips the unmapped part and
 * says ENOMEM, which is ignored).
 */
#define STACK_KEEP	(16 * 1024)
#define STACK_SHED	(512 * 1024)

static void __attribute__((noinline))
shed_memory(void)
{
	volatile char here = 0;
	uintptr_t top, page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)malloc_trim(0);
	top = ((uintptr_t)&here - STACK_KEEP) & ~(page - 1);
	(void)madvise((void *)(top - STACK_SHED), STACK_SHED, MADV_DONTNEED);
}

/*
 * LOGIN-DELAY (RFC 2449 section 6.5): 0 to let the login in (and record
 * its time), -1 when it comes too early (L->wait set).  Only an intact
 * record younger than the delay refuses; a record from the future (the
 * clock was set back) is treated as damaged, so a wrong clock never
 * keeps a user out for longer than it takes to notice.
 */
static int
login_delay_check(struct maildrop *md, struct maildrop_login *l)
{
	int64_t last;

	l->wait = 0;
	if (md->index == NULL || l->delay == 0)
		return 0;	/* off: no record read or written */
	if (index_login_get(md->index, &last) == 1) {
		if (last > l->now)
			log_warnx("login-time record is in the future; "
			    "ignored");
		else if (l->now - last < (int64_t)l->delay) {
			l->wait = (int64_t)l->delay - (l->now - last);
			return -1;
		}
	}
	/* Not synced on its own: a crash that loses it lets one login in
	 * early, which is not worth an fsync at every login.  The
	 * index's next sync or close writes it. */
	(void)index_login_put(md->index, l->now);
	return 0;
}

int
maildrop_expired(int64_t mtime, int64_t now, int days)
{
	if (days < 0)
		return 0;
	if (days == 0)
		return 1;	/* RFC 2449: an implicit DELE, any age */
	return now - mtime >= (int64_t)days * 86400;
}

static enum pop23d_result
open_common(const struct pop23d_store_ops *ops, const char *location,
    const char *name, struct maildrop_login *l, struct maildrop **md_r,
    const char **error_r)
{
	struct maildrop *md;
	const struct pop23d_msg *pm;
	enum pop23d_result r;
	size_t n;
	const char *e = NULL;

	*md_r = NULL;
	if ((md = calloc(1, sizeof *md)) == NULL) {
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	md->ops = ops;
	md->expire_days = -1;
	if (name != NULL) {
		if (ops->folder_open == NULL) {
			free(md);
			*error_r = "the storage has no folders";
			return POP23D_NOUSER;
		}
		r = ops->folder_open(location, name, &md->mbox, &e);
	} else {
		r = ops->open(location, &md->mbox, &e);
	}
	if (r == POP23D_NOUSER && name == NULL) {
		/* A user whose Maildir was never delivered to has an empty
		 * maildrop, not an error; nothing to lock or index. */
		md->mbox = NULL;
		*md_r = md;
		return POP23D_OK;
	}
	if (r != POP23D_OK) {
		free(md);
		*error_r = e != NULL ? e : "cannot open the maildrop";
		return r;
	}
	/* The index is opened before the listing: a login refused by
	 * LOGIN-DELAY lists, measures and stores nothing. */
	open_index(md);
	if (l != NULL && login_delay_check(md, l) != 0) {
		maildrop_close(&md);
		*error_r = "login delay";
		return POP23D_INUSE;
	}
	if ((r = ops->list(md->mbox, &pm, &n)) != POP23D_OK) {
		maildrop_close(&md);
		*error_r = "cannot list the maildrop";
		return r;
	}
	/* RFC 937 ACKD: "only if the user has write access"; POP3 DELE
	 * is refused instead.  Nothing is ever removed from a maildrop the
	 * user may not change. */
	md->read_only = ops->writable != NULL && !ops->writable(md->mbox);
	if (load_all(md, pm, n, error_r) != 0) {
		maildrop_close(&md);
		return POP23D_TEMPFAIL;
	}
	log_debug("maildrop open: %zu messages (%zu skipped), index hits=%zu "
	    "misses=%zu damaged=%lu hinted=%zu", md->count, md->skipped,
	    md->index_hits, md->index_misses, index_damaged(md->index),
	    md->hinted);
	*md_r = md;
	/* An idle session need not hold the index open (its GDBM buffers,
	 * a descriptor): reopened by the first use, if any. */
	index_suspend(md->index);
	shed_memory();
	return POP23D_OK;
}

enum pop23d_result
maildrop_open(const struct pop23d_store_ops *ops, const char *location,
    const char *name, struct maildrop **md_r, const char **error_r)
{
	return open_common(ops, location, name, NULL, md_r, error_r);
}

enum pop23d_result
maildrop_open_login(const struct pop23d_store_ops *ops, const char *location,
    struct maildrop_login *l, struct maildrop **md_r, const char **error_r)
{
	return open_common(ops, location, NULL, l, md_r, error_r);
}

struct maildrop_msg *
maildrop_get(struct maildrop *md, size_t n)
{
	if (md == NULL || n < 1 || n > md->count || md->msgs[n - 1].deleted)
		return NULL;
	return &md->msgs[n - 1];
}

int
maildrop_delete(struct maildrop *md, size_t n)
{
	struct maildrop_msg *m = maildrop_get(md, n);

	if (m == NULL)
		return -1;
	m->deleted = 1;
	md->live--;
	md->live_octets -= m->size;
	return 0;
}

void
maildrop_access(struct maildrop *md, size_t n)
{
	if (md == NULL || n < 1 || n > md->count)
		return;
	md->msgs[n - 1].accessed = 1;
	if (n > md->last)
		md->last = n;
}

void
maildrop_reset(struct maildrop *md)
{
	size_t i;

	md->live = md->count;
	md->live_octets = 0;
	for (i = 0; i < md->count; i++) {
		md->msgs[i].deleted = 0;
		md->msgs[i].accessed = md->msgs[i].accessed_before;
		md->live_octets += md->msgs[i].size;
	}
	md->last = md->last_start;
}

/*
 * Measure message M's file and store what it really holds as M's record,
 * with the "hinted" flag up first, so that from the next login on the
 * record wins over the key's hints.  0, or -1 (nothing stored).
 */
static int
record_measured(struct maildrop *md, struct maildrop_msg *m)
{
	struct index_rec rec;
	off_t off, len;
	int fd, r;

	if (md->index == NULL || md->ops->msg_open(md->mbox, m->sidx, &fd,
	    &off, &len) != POP23D_OK)
		return -1;
	memset(&rec, 0, sizeof rec);
	r = maildrop_measure(fd, off, len, &rec.size);
	close(fd);
	if (r != 0)
		return -1;
	rec.raw_size = (uint64_t)len;
	rec.accessed = m->accessed_before;
	if (index_hinted_set(md->index, 1) != 0 ||
	    index_store(md->index, m->key, &rec) != 0)
		return -1;
	md->hinted_lookup = 1;
	return 0;
}

/*
 * The record of message N disagrees with the message: drop it now, so the
 * next look (this session's index lookups, the next login) measures the
 * file again instead of trusting it.  For a message whose sizes came from
 * its key's hints, "measure again" would only meet the same hints: the
 * file is measured now and the result stored (record_measured()).
 */
void
maildrop_forget(struct maildrop *md, size_t n)
{
	struct maildrop_msg *m;

	if (md == NULL || n < 1 || n > md->count)
		return;
	m = &md->msgs[n - 1];
	log_warnx("message %zu: stored message and %s disagree; %s", n,
	    m->from_hint ? "the size hints in its name" : "index record",
	    m->from_hint ? "measured and recorded" : "record dropped");
	if (md->index != NULL) {
		if (!m->from_hint || record_measured(md, m) != 0)
			index_delete(md->index, m->key);
		index_sync(md->index);
	}
}

int
maildrop_msg_open(struct maildrop *md, size_t n, struct msgstream *st_r,
    const char **error_r)
{
	struct maildrop_msg *m = maildrop_get(md, n);
	struct stat st;
	uint64_t size;
	off_t off, len;
	int fd;

	if (m == NULL) {
		*error_r = "no such message";
		return -1;
	}
	if (md->ops->msg_open(md->mbox, m->sidx, &fd, &off, &len) !=
	    POP23D_OK) {
		*error_r = "message vanished";
		return -1;
	}
	if ((uint64_t)len != m->raw_size ||
	    (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < off + len)) {
		/* The index (or this session's list) is stale. */
		close(fd);
		maildrop_forget(md, n);
		*error_r = "message changed under us";
		return -1;
	}
	/* Sizes from the name's hints are checked before the first octet
	 * (and "+OK n octets") goes out: a name that lies must not make
	 * us announce a size we do not send. */
	if (m->unverified) {
		if (maildrop_measure(fd, off, len, &size) != 0 ||
		    size != m->size) {
			close(fd);
			maildrop_forget(md, n);
			*error_r = "message size differs from its name's hint";
			return -1;
		}
		m->unverified = 0;
	}
	msgstream_init(st_r, fd, off, len);
	return 0;
}

/*
 * EXPIRE (RFC 2449 section 6.7) at a commit: mark deleted every message
 * that was retrieved (the accessed mark: this session's RETR, or an
 * earlier session's, POP2's ACKS/ACKD included, from the index or the
 * storage's seen flag) and whose stored file is expire_days old or more.
 * The age is the file's modification time, which is a Maildir message's
 * delivery time (deliverers write the file once; renames keep it).  A
 * message that is a range of a larger file (offset not 0, or a file
 * longer than the message: a future mbox storage) has no time of its
 * own and never expires; nor does one that cannot be opened now.
 */
static void
expire_mark(struct maildrop *md)
{
	struct stat st;
	off_t off, len;
	size_t i, n = 0;
	int64_t now;
	int fd;

	if (md->expire_days < 0)
		return;
	now = (int64_t)time(NULL);
	for (i = 0; i < md->count; i++) {
		struct maildrop_msg *m = &md->msgs[i];

		if (m->deleted || !m->accessed)
			continue;
		if (md->ops->msg_open(md->mbox, m->sidx, &fd, &off, &len) !=
		    POP23D_OK)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && off == 0 &&
		    st.st_size == len &&
		    maildrop_expired((int64_t)st.st_mtime, now,
		    md->expire_days)) {
			m->deleted = 1;
			md->live--;
			md->live_octets -= m->size;
			n++;
		}
		close(fd);
	}
	if (n > 0)
		log_info("expire: %zu retrieved message%s at least %d days "
		    "old removed", n, n == 1 ? "" : "s", md->expire_days);
}

int
maildrop_commit(struct maildrop *md, const char **error_r)
{
	size_t i, n = 0, marked = 0, *idx = NULL;
	int rc = 0;

	if (md->mbox == NULL || md->read_only)
		return 0;	/* a new user's empty maildrop; read-only */
	expire_mark(md);
	if (md->count > 0 && (idx = calloc(md->count, sizeof *idx)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* Seen flags first (Maildir: renames new/ -> cur/), so that the
	 * directory fsync done by expunge makes them durable too. */
	for (i = 0; i < md->count; i++) {
		struct maildrop_msg *m = &md->msgs[i];

		if (m->deleted)
			idx[n++] = m->sidx;
		else if (m->accessed && !m->accessed_before) {
			marked++;
			if (md->ops->mark_accessed(md->mbox, m->sidx) !=
			    POP23D_OK) {
				log_warnx("cannot flag message %zu as seen",
				    i + 1);
				m->mark_failed = 1;
			}
		}
	}
	/* Nothing changed (a poll session): no expunge, no fsync. */
	if ((n > 0 || marked > 0) &&
	    md->ops->expunge(md->mbox, idx, n) != POP23D_OK) {
		*error_r = "cannot remove the deleted messages";
		rc = -1;
	}
	/* The index follows the maildrop, never the other way round: its
	 * records change only after the expunge above is durable. */
	for (i = 0; md->index != NULL && i < md->count; i++) {
		struct maildrop_msg *m = &md->msgs[i];
		struct index_rec rec;

		if (m->deleted) {
			/* A hinted key has no record while the flag is
			 * down: nothing to delete. */
			if (rc == 0 && (!m->from_hint || md->hinted_lookup))
				index_delete(md->index, m->key);
			continue;
		}
		if (!m->accessed || m->accessed_before)
			continue;
		/* The maildrop itself keeps the seen flag of a hinted
		 * message; a record only if that failed (and the size was
		 * checked, which a RETR does). */
		if (m->from_hint && (!m->mark_failed || m->unverified ||
		    index_hinted_set(md->index, 1) != 0))
			continue;
		if (m->from_hint)
			md->hinted_lookup = 1;
		memset(&rec, 0, sizeof rec);
		rec.size = m->size;
		rec.raw_size = m->raw_size;
		rec.accessed = 1;
		index_store(md->index, m->key, &rec);
	}
	if (md->index != NULL && (n > 0 || marked > 0))
		index_sync(md->index);
	free(idx);
	if (rc == 0)
		log_debug("commit: %zu deleted, %zu flagged seen", n, marked);
	return rc;
}

void
maildrop_close(struct maildrop **mdp)
{
	struct maildrop *md = *mdp;

	if (md == NULL)
		return;
	index_close(&md->index);
	if (md->mbox != NULL)
		md->ops->close(&md->mbox);
	while (md->uidl_blocks != NULL) {
		struct uidl_block *b = md->uidl_blocks;

		md->uidl_blocks = b->next;
		free(b);
	}
	free(md->msgs);
	free(md);
	*mdp = NULL;
}
