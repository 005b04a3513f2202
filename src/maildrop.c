/*
 * maildrop.c - the maildrop core shared by POP2 and POP3.  It knows
 * nothing of the wire: it hands a message out as a struct msgstream
 * (maildrop_msg_open()) and measures sizes with the crlf.h rule that the
 * wire module (wire.c) sends with.
 *
 * At login the storage plugin lists the messages once; each message's
 * CRLF size and UIDL come from the GDBM index, or are computed by reading
 * the message once and then stored.  A warm login therefore reads no
 * message bodies.  Deletion and accessed marks live in memory until
 * maildrop_commit() (UPDATE); a dropped connection loses them and removes
 * nothing.
 *
 * PRIVILEGE: runs as the mail user (never root: session.c has dropped).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "compat.h"
#include "crlf.h"
#include "index.h"
#include "log.h"
#include "maildrop.h"
#include "msgstream.h"

#define READ_CHUNK	65536

/* UIDL of a message: its storage key when that is a valid UIDL (RFC 1939:
 * 1-70 octets 0x21-0x7E), else the MD5 of the key in hex.  Both are
 * derived from the mailbox alone, so losing the index never changes a
 * UIDL. */
static void
make_uidl(const char *key, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (strlen(key) <= UIDL_MAX && index_uidl_valid(key)) {
		strlcpy(out, key, UIDL_MAX + 1);
		return;
	}
	if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_md5(), NULL) != 1)
		mdlen = 0;
	for (i = 0; i < mdlen && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * i] = '\0';
	if (i == 0)
		strlcpy(out, "x", UIDL_MAX + 1);	/* cannot happen */
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

/* Fill msg from the index, or measure the message and index it. */
static int
load_msg(struct maildrop *md, const struct pop23d_msg *pm,
    struct maildrop_msg *m, size_t i, int *dirty)
{
	struct index_rec rec;
	int fd;
	off_t off, len;

	m->key = pm->key;
	if (md->index != NULL && index_lookup(md->index, pm->key, &rec) == 1 &&
	    (pm->raw_size < 0 || (uint64_t)pm->raw_size == rec.raw_size)) {
		m->size = rec.size;
		m->raw_size = rec.raw_size;
		strlcpy(m->uidl, rec.uidl, sizeof m->uidl);
		m->accessed = rec.accessed || pm->accessed;
		md->index_hits++;
		return 0;
	}
	md->index_misses++;
	if (md->ops->msg_open(md->mbox, i, &fd, &off, &len) != POP23D_OK)
		return -1;
	if (maildrop_measure(fd, off, len, &m->size) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	m->raw_size = (uint64_t)len;
	make_uidl(pm->key, m->uidl);
	m->accessed = pm->accessed;
	if (md->index != NULL) {
		memset(&rec, 0, sizeof rec);
		rec.size = m->size;
		rec.raw_size = m->raw_size;
		rec.accessed = m->accessed;
		strlcpy(rec.uidl, m->uidl, sizeof rec.uidl);
		if (index_store(md->index, pm->key, &rec) == 0)
			*dirty = 1;
	}
	return 0;
}

enum pop23d_result
maildrop_open(const struct pop23d_store_ops *ops, const char *location,
    const char *name, struct maildrop **md_r, const char **error_r)
{
	struct maildrop *md;
	const struct pop23d_msg *pm;
	enum pop23d_result r;
	size_t i, n;
	int dirty = 0, rebuilt = 0;
	char path[PATH_MAX];
	const char *dir, *e = NULL;

	*md_r = NULL;
	if ((md = calloc(1, sizeof *md)) == NULL) {
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	md->ops = ops;
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
	if ((r = ops->list(md->mbox, &pm, &n)) != POP23D_OK) {
		ops->close(&md->mbox);
		free(md);
		*error_r = "cannot list the maildrop";
		return r;
	}
	dir = ops->index_dir(md->mbox);
	/* RFC 937 ACKD: "only if the user has write access"; POP3 DELE
	 * is refused instead.  Nothing is ever removed from a maildrop the
	 * user may not change. */
	md->read_only = ops->writable != NULL && !ops->writable(md->mbox);
	if (dir != NULL && (size_t)snprintf(path, sizeof path, "%s/%s", dir,
	    INDEX_FILE) < sizeof path) {
		if (index_open(path, &md->index, &rebuilt, &e) != 0) {
			log_warnx("index %s unusable, going on without: %s",
			    path, e != NULL ? e : "?");
			md->index = NULL;
		} else if (rebuilt) {
			log_warnx("index %s was rebuilt", path);
		}
	}
	if (n > 0 && (md->msgs = calloc(n, sizeof *md->msgs)) == NULL) {
		maildrop_close(&md);
		*error_r = "out of memory";
		return POP23D_TEMPFAIL;
	}
	md->count = n;
	for (i = 0; i < n; i++) {
		struct maildrop_msg *m = &md->msgs[i];

		if (load_msg(md, &pm[i], m, i, &dirty) != 0) {
			log_warnx("cannot read message %zu (%s)", i + 1,
			    pm[i].key);
			maildrop_close(&md);
			*error_r = "cannot read a message";
			return POP23D_TEMPFAIL;
		}
		m->accessed_before = m->accessed;
		if (m->accessed)
			md->last = i + 1;
		md->live_octets += m->size;
	}
	md->live = n;
	md->last_start = md->last;
	if (md->index != NULL && md->index_misses > 0) {
		/* New mail arrived since the index was written: drop records
		 * of messages that were removed by other clients too. */
		long pruned = prune_index(md);

		if (pruned > 0)
			dirty = 1;
	}
	if (dirty && md->index != NULL)
		index_sync(md->index);
	log_debug("maildrop open: %zu messages, index hits=%zu misses=%zu",
	    md->count, md->index_hits, md->index_misses);
	*md_r = md;
	return POP23D_OK;
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
 * The record of message N disagrees with the message: drop it now, so the
 * next look (this session's index lookups, the next login) measures the
 * file again instead of trusting it.
 */
void
maildrop_forget(struct maildrop *md, size_t n)
{
	struct maildrop_msg *m;

	if (md == NULL || n < 1 || n > md->count)
		return;
	m = &md->msgs[n - 1];
	log_warnx("message %zu: stored message and index record disagree; "
	    "record dropped", n);
	if (md->index != NULL) {
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
	off_t off, len;
	int fd;

	if (m == NULL) {
		*error_r = "no such message";
		return -1;
	}
	if (md->ops->msg_open(md->mbox, n - 1, &fd, &off, &len) !=
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
	msgstream_init(st_r, fd, off, len);
	return 0;
}

int
maildrop_commit(struct maildrop *md, const char **error_r)
{
	size_t i, n = 0, marked = 0, *idx = NULL;
	int rc = 0;

	if (md->mbox == NULL || md->read_only)
		return 0;	/* a new user's empty maildrop; read-only */
	if (md->count > 0 && (idx = calloc(md->count, sizeof *idx)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	/* Seen flags first (Maildir: renames new/ -> cur/), so that the
	 * directory fsync done by expunge makes them durable too. */
	for (i = 0; i < md->count; i++) {
		struct maildrop_msg *m = &md->msgs[i];

		if (m->deleted)
			idx[n++] = i;
		else if (m->accessed && !m->accessed_before) {
			marked++;
			if (md->ops->mark_accessed(md->mbox, i) != POP23D_OK)
				log_warnx("cannot flag message %zu as seen",
				    i + 1);
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
			if (rc == 0)
				index_delete(md->index, m->key);
			continue;
		}
		if (!m->accessed || m->accessed_before)
			continue;
		memset(&rec, 0, sizeof rec);
		rec.size = m->size;
		rec.raw_size = m->raw_size;
		rec.accessed = 1;
		strlcpy(rec.uidl, m->uidl, sizeof rec.uidl);
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
	free(md->msgs);
	free(md);
	*mdp = NULL;
}
