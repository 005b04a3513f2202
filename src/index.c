/*
 * index.c - the per-maildrop GDBM index: for each message (by the storage's
 * unique key) the size RETR sends, the stored size and the accessed flag,
 * in an explicit versioned byte layout with a CRC-32C over key and
 * contents, plus one schema record.  The file is an untrusted cache
 * (doc/SECURITY.md D7, B20): it is opened without following symlinks and
 * only if it is a regular file of ours that nobody else can write; every
 * record is checked on read (checksum, version, flags, sizes against the
 * CRLF rule) and a record that fails is deleted and reads as absent, so
 * the caller measures the message again; a file GDBM cannot read, one that
 * does not walk cleanly, or one of another schema is replaced by an empty
 * index; a structural error found later gets one gdbm_recover() and
 * otherwise switches the index off for the session.  Nothing here is
 * fatal.  The key walk at open also copies the records into memory (the
 * login table), so the load's lookups need no file access; it is freed
 * before the session goes idle.  A session that closes the index with
 * the table complete writes it to a snapshot beside the file
 * (src/idxsnap.c), which the next open reads instead of walking, but only
 * while the file is exactly the one it was taken from (identity, a CRC
 * of its octets, and a generation record bumped before every session's
 * first write, after the snapshot is removed; doc/SECURITY.md D7c).
 * This is the only file that includes <gdbm.h>.
 *
 * PRIVILEGE: runs as the mail user (the session process, after the
 * privilege drop), under the maildrop's session lock, which is why GDBM's
 * own locking is off.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gdbm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "be.h"
#include "crc32c.h"
#include "idxsnap.h"
#include "index.h"
#include "log.h"

/*
 * GDBM_NOLOCK: the maildrop's session lock already serialises writers, and
 *   a GDBM lock would only add a second, unrelated way to fail.
 * GDBM_NOMMAP: a mapped file that shrinks under us raises SIGBUS; pread()
 *   returns an error we can handle.  The index is small, so mmap buys
 *   little.
 * GDBM_XVERIFY: check the avail lists at open, so damage is found while we
 *   can still start afresh instead of in the middle of a session.
 * GDBM_CLOERROR: gdbm_fd_open() owns the descriptor whatever happens.
 */
#define INDEX_GDBM_FLAGS	(GDBM_WRCREAT | GDBM_NOLOCK | GDBM_NOMMAP | \
				 GDBM_CLOEXEC | GDBM_XVERIFY | GDBM_CLOERROR)

/* Message records live under "m:" + storage key.  The schema record's key
 * starts with '#', so no message key can ever equal it. */
#define MSG_PREFIX		"m:"
#define MSG_PREFIX_LEN		2
#define SCHEMA_KEY		"#schema"
/* Present (value "1") while records of hinted keys may exist. */
#define HINTED_KEY		"#hinted"
#define STR1(x)			#x
#define STR(x)			STR1(x)
#define SCHEMA_VALUE		"pop23d-index " STR(INDEX_SCHEMA)

/* Storage keys are file names or hashes; anything longer is a caller bug
 * (and would overflow GDBM's int sizes long before memory runs out). */
#define INDEX_KEY_MAX		4096
/* Keys up to this long are built on the stack by index_lookup(), which
 * a login calls once per message. */
#define MSG_KEY_STACK		256

/*
 * Record layout, version 2 (schema 2).  This is an on-disk format: a
 * change needs a new REC_VERSION and INDEX_SCHEMA, never a silent
 * reinterpretation.  Exactly INDEX_REC_LEN (22) octets:
 *   byte 0       record version (2)
 *   byte 1       flags: bit 0 = accessed; the other bits must be 0
 *   bytes 2-9    size, big-endian unsigned 64 bits
 *   bytes 10-17  raw_size, big-endian unsigned 64 bits
 *   bytes 18-21  CRC-32C (RFC 3720) of the storage key's octets (without
 *                the "m:" prefix and the NUL) followed by bytes 0-17,
 *                big-endian
 * The checksum binds a record to its key: a record copied or moved to
 * another key fails it like a damaged one.  It is no defence against a
 * forger (who could recompute it) - whoever can write the index can also
 * change the mail; it catches damage: every error of up to 3 bits and
 * every burst of up to 32 bits, and anything else with odds of 2^-32.
 * Version 1 (schema 1) held the UIDL after byte 18 and had no checksum.
 */
#define REC_VERSION		2
#define REC_F_ACCESSED		0x01
#define REC_CRC_OFF		18
/* Sizes at or above 2^62 are nonsense for one message and would come near
 * off_t overflow in the callers' arithmetic. */
#define REC_SIZE_LIMIT		((uint64_t)1 << 62)

/* The first damaged record of a session is logged as a warning, the rest
 * only at debug level and in one summary line at close. */
#define INDEX_DAMAGE_LOG_MAX	1

/*
 * The generation record (schema 4): key "#gen", 22 octets: version 1,
 * flags 0, the file's identity (8 random octets, drawn when the record is
 * first written to a file), a counter (8 octets, big-endian) and a
 * CRC-32C of the key's octets and octets 0-17.  snap_drop() bumps the
 * counter before the first write of every session (and before the first
 * write after a snapshot): a snapshot names the identity and counter it
 * was taken at, so it can never match a file that was written after it,
 * even when the write left size, mtime and ctime as they were (the same
 * clock tick).  A missing or damaged record matches no snapshot.
 */
#define GEN_KEY			"#gen"
#define GEN_VERSION		1
#define GEN_LEN			(1 + 1 + 8 + 8 + 4)
#define GEN_CRC_OFF		18

/* The snapshot of the message records (idxsnap.h), beside the file. */
#define SNAP_SUFFIX		INDEX_SNAP_SUFFIX
#define SNAP_TMP_SUFFIX		".snap.tmp"

/* The LOGIN-DELAY record (index.h).  Its key starts with '#' like the
 * schema's, so it is never a message key and prune never touches it. */
#define LOGIN_KEY		"#login"
#define LOGIN_VERSION		1
#define LOGIN_CRC_OFF		10

struct table;

struct index {
	GDBM_FILE	 dbf;		/* NULL once unusable */
	char		*path;
	int		 recovered;	/* gdbm_recover() was tried */
	int		 unusable;	/* off until the session ends */
	int		 suspended;	/* dbf closed by index_suspend() */
	unsigned long	 damaged;	/* dropped by index_lookup() */
	struct table	*table;		/* the login table, or NULL */
	char		*snap_path;	/* path + SNAP_SUFFIX */
	int		 gen_ok;	/* gen_id/gen_ctr are the file's */
	uint64_t	 gen_id, gen_ctr;
	/* Written since open or since our last snapshot: the snapshot file
	 * was removed and the generation bumped (snap_drop()). */
	int		 written;
	/* The snapshot file describes the GDBM file as it is now. */
	int		 snap_valid;
	int		 from_snap;	/* the table came from the snapshot */
};

/*
 * LEN octets at S form a valid UIDL (RFC 1939 section 7: 0x21-0x7E).
 * Eight octets at a time (a login checks every key of the maildrop):
 * with b = 0x01 in every octet, (w - 0x21 b) & ~w & 0x80 b is non-zero
 * iff some octet of w is below 0x21, and ((w + 0x01 b) | w) & 0x80 b iff
 * some octet is above 0x7E (carries and borrows between octets only ever
 * start at an octet that already answers yes); the rest one at a time.
 */
static int
uidl_valid_n(const unsigned char *s, size_t len)
{
	const uint64_t b = 0x0101010101010101u, hi = 0x8080808080808080u;
	uint64_t w;
	size_t i = 0;

	if (len < 1 || len > UIDL_MAX)
		return 0;
	for (; len - i >= 8; i += 8) {
		memcpy(&w, s + i, 8);
		if ((((w - 0x21 * b) & ~w) | ((w + b) | w)) & hi)
			return 0;
	}
	for (; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

int
index_uidl_valid(const char *s)
{
	size_t len;

	if (s == NULL)
		return 0;
	/* Never read past UIDL_MAX + 1 octets of a hostile string. */
	len = strnlen(s, UIDL_MAX + 1);
	return uidl_valid_n((const unsigned char *)s, len);
}

/*
 * Sizes a real message can have.  Each stored octet is sent as at most
 * two (a bare LF gains a CR) and at most one CRLF is added at the end (a
 * missing final newline), and nothing is dropped: raw_size <= size <=
 * 2 * raw_size + 2.  Both are below REC_SIZE_LIMIT.
 */
static int
sizes_plausible(uint64_t size, uint64_t raw_size)
{
	return size < REC_SIZE_LIMIT && raw_size < REC_SIZE_LIMIT &&
	    size >= raw_size && size <= 2 * raw_size + 2;
}

/* The length of storage key KEY, or 0 if it is empty or too long. */
static size_t
key_len(const char *key)
{
	size_t len;

	if (key == NULL)
		return 0;
	len = strnlen(key, INDEX_KEY_MAX + 1);
	return len > INDEX_KEY_MAX ? 0 : len;
}

/* CRC-32C of the KLEN key octets and the first REC_CRC_OFF octets of REC. */
static uint32_t
rec_crc(const char *key, size_t klen, const unsigned char *rec)
{
	return crc32c(crc32c(0, key, klen), rec, REC_CRC_OFF);
}

size_t
index_encode(const char *key, const struct index_rec *rec,
    unsigned char *out)
{
	size_t klen;

	if (rec == NULL || out == NULL || (klen = key_len(key)) == 0 ||
	    !sizes_plausible(rec->size, rec->raw_size))
		return 0;
	out[0] = REC_VERSION;
	out[1] = rec->accessed ? REC_F_ACCESSED : 0;
	put64(out + 2, rec->size);
	put64(out + 10, rec->raw_size);
	put32(out + REC_CRC_OFF, rec_crc(key, klen, out));
	return INDEX_REC_LEN;
}

int
index_decode(const char *key, const unsigned char *in, size_t len,
    struct index_rec *rec_r)
{
	struct index_rec rec;
	size_t klen;

	if (in == NULL || len != INDEX_REC_LEN || (klen = key_len(key)) == 0)
		return -1;
	/* The checksum first: it covers everything else. */
	if (get32(in + REC_CRC_OFF) != rec_crc(key, klen, in))
		return -1;
	if (in[0] != REC_VERSION || (in[1] & ~REC_F_ACCESSED) != 0)
		return -1;
	memset(&rec, 0, sizeof(rec));
	rec.size = get64(in + 2);
	rec.raw_size = get64(in + 10);
	if (!sizes_plausible(rec.size, rec.raw_size))
		return -1;
	rec.accessed = (in[1] & REC_F_ACCESSED) != 0;
	if (rec_r != NULL)
		*rec_r = rec;
	return 0;
}

size_t
index_login_encode(int64_t t, unsigned char *out)
{
	if (out == NULL || t < 0)
		return 0;
	out[0] = LOGIN_VERSION;
	out[1] = 0;
	put64(out + 2, (uint64_t)t);
	put32(out + LOGIN_CRC_OFF, crc32c(crc32c(0, LOGIN_KEY,
	    sizeof(LOGIN_KEY) - 1), out, LOGIN_CRC_OFF));
	return INDEX_LOGIN_LEN;
}

int
index_login_decode(const unsigned char *in, size_t len, int64_t *t_r)
{
	uint64_t t;

	if (in == NULL || len != INDEX_LOGIN_LEN)
		return -1;
	if (get32(in + LOGIN_CRC_OFF) != crc32c(crc32c(0, LOGIN_KEY,
	    sizeof(LOGIN_KEY) - 1), in, LOGIN_CRC_OFF))
		return -1;
	if (in[0] != LOGIN_VERSION || in[1] != 0)
		return -1;
	t = get64(in + 2);
	if (t > (uint64_t)INT64_MAX)
		return -1;
	if (t_r != NULL)
		*t_r = (int64_t)t;
	return 0;
}

/* Build the GDBM key "m:" + KEY into *D, in BUF if it fits in its SIZE
 * octets, else in memory to free.  Returns the buffer used, or NULL for
 * an empty or over-long key or no memory. */
static char *
msg_key_in(const char *key, datum *d, char *buf, size_t size)
{
	size_t len;
	char *p;

	if (key == NULL)
		return NULL;
	len = strnlen(key, INDEX_KEY_MAX + 1);
	if (len == 0 || len > INDEX_KEY_MAX)
		return NULL;
	if (MSG_PREFIX_LEN + len <= size)
		p = buf;
	else if ((p = malloc(MSG_PREFIX_LEN + len)) == NULL)
		return NULL;
	memcpy(p, MSG_PREFIX, MSG_PREFIX_LEN);
	memcpy(p + MSG_PREFIX_LEN, key, len);
	d->dptr = p;
	d->dsize = (int)(MSG_PREFIX_LEN + len);
	return p;
}

/* The same, always in memory to free. */
static char *
msg_key(const char *key, datum *d)
{
	return msg_key_in(key, d, NULL, 0);
}

/* K is a well-formed message key: "m:" and a non-empty name without NUL. */
static int
is_msg_key(datum k)
{
	size_t len;

	if (k.dptr == NULL || k.dsize <= MSG_PREFIX_LEN ||
	    k.dsize > MSG_PREFIX_LEN + INDEX_KEY_MAX)
		return 0;
	len = (size_t)k.dsize;
	return memcmp(k.dptr, MSG_PREFIX, MSG_PREFIX_LEN) == 0 &&
	    memchr(k.dptr + MSG_PREFIX_LEN, '\0', len - MSG_PREFIX_LEN) ==
	    NULL;
}

/* A key that starts "m:" but is not well-formed: junk from a damaged
 * file, which prune removes. */
static int
is_bad_msg_key(datum k)
{
	return k.dptr != NULL && k.dsize >= MSG_PREFIX_LEN &&
	    memcmp(k.dptr, MSG_PREFIX, MSG_PREFIX_LEN) == 0 && !is_msg_key(k);
}

/*
 * The login table: the raw values of the message records, taken during
 * walk_check()'s walk at open, so that index_lookup() during the load
 * that follows needs no gdbm_fetch().  GDBM reads a key and its value
 * together, so the walk's gdbm_fetch() is served from GDBM's cache
 * without a system call; a lookup's gdbm_fetch() in the load's (mailbox)
 * order is not: with GDBM_NOMMAP it is an lseek() and a read() each.  The
 * values are kept raw and go through index_decode() at lookup exactly
 * like a fetched one, so a damaged record is handled as before.
 *
 * While the table is there it holds every message record of the file:
 * every write keeps it so (index_store() puts, index_delete() and the
 * damage path remove) and anything else - a recovery, a prune, a
 * rebuild, a failed write, a fetch the walk could not make - frees it,
 * and lookups go to GDBM again.  So a key not in the table is a miss
 * without a fetch (the appended tail of an mbox).  index_suspend(), when
 * the load is done, frees it: an idle session holds none of it.
 *
 * The entries sit one after another in one buffer (no allocation per
 * record); the open-addressed slots hold their offsets.  TABLE_MAX_BYTES
 * bounds both together: 32 MiB holds about 400 000 records of 32-octet
 * keys (mbox; about 80 octets each with the slot) and some 240 000 of
 * Maildir file names, four times the largest maildrop this server is
 * sized for (100 000 messages, doc/PERFORMANCE.md; 8 MiB fell just short
 * of it).  The memory is held only during the load, next to the
 * session's own message list of the same order, and index_suspend()
 * frees it, so an idle session costs nothing more.  Past the bound the
 * table is dropped and the load fetches as before; an index file over
 * twice the bound (GDBM takes more room per record than the table) gets
 * no table at all, so that no work is wasted on one.
 */
#define TABLE_MAX_BYTES		((size_t)32 << 20)
#define TABLE_MIN_SLOTS		1024		/* a power of 2 */
#define TAB_EMPTY		0		/* slot values: offset + 1 */
#define TAB_GONE		UINT32_MAX	/* a removed entry's slot */

struct tab_ent {
	uint32_t	 hash;
	uint32_t	 klen;		/* the GDBM key, "m:" included */
	uint32_t	 vlen;
	char		 data[];	/* key octets, then value octets */
};

struct table {
	uint32_t	*slot;		/* TAB_EMPTY, TAB_GONE or offset + 1 */
	size_t		 nslot;		/* a power of 2 */
	size_t		 used;		/* slots not TAB_EMPTY */
	size_t		 live;		/* entries */
	char		*buf;		/* the entries */
	size_t		 len, cap;
};

static void
table_free(struct table **tp)
{
	if (*tp == NULL)
		return;
	free((*tp)->slot);
	free((*tp)->buf);
	free(*tp);
	*tp = NULL;
}

/* A table with slots for WANT records and CAP octets of entries. */
static struct table *
table_make(size_t want, size_t cap)
{
	struct table *t;
	size_t n = TABLE_MIN_SLOTS;

	while (n * 3 / 4 < want && n < TABLE_MAX_BYTES / sizeof(*t->slot))
		n *= 2;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->slot = calloc(n, sizeof(*t->slot))) == NULL) {
		free(t);
		return NULL;
	}
	t->nslot = n;
	/* Pages of it that are never written are never touched. */
	if (cap > 0 && cap + n * sizeof(*t->slot) <= TABLE_MAX_BYTES &&
	    (t->buf = malloc(cap)) != NULL)
		t->cap = cap;
	return t;
}

/* A table sized for an index file of SIZE octets (every record takes
 * 48 octets or more there), so that a login does not grow it. */
static struct table *
table_new(off_t size)
{
	size_t want;

	want = size > 0 && (uintmax_t)size < TABLE_MAX_BYTES ?
	    (size_t)size / 48 : 0;
	return table_make(want, want > 0 ? (size_t)size : 0);
}

static struct tab_ent *
tab_at(const struct table *t, uint32_t s)
{
	return (struct tab_ent *)(void *)(t->buf + (s - 1));
}

static uint32_t
tab_hash(datum k)
{
	return crc32c(0, k.dptr, (size_t)k.dsize);
}

/* The slot of key K (hash H): its entry's, or else the empty one where
 * it would go. */
static size_t
table_find(const struct table *t, datum k, uint32_t h)
{
	const struct tab_ent *e;
	size_t i, mask = t->nslot - 1;
	uint32_t s;

	for (i = h & mask; (s = t->slot[i]) != TAB_EMPTY; i = (i + 1) & mask) {
		if (s == TAB_GONE)
			continue;
		e = tab_at(t, s);
		if (e->hash == h && e->klen == (uint32_t)k.dsize &&
		    memcmp(e->data, k.dptr, (size_t)k.dsize) == 0)
			break;
	}
	return i;
}

/* Double the slots (dropping TAB_GONE ones).  0, or -1. */
static int
table_grow(struct table *t)
{
	uint32_t *old = t->slot, s;
	size_t i, j, n = t->nslot * 2, mask = n - 1;

	if (t->cap + n * sizeof(*old) > TABLE_MAX_BYTES ||
	    (t->slot = calloc(n, sizeof(*old))) == NULL) {
		t->slot = old;
		return -1;
	}
	t->used = 0;
	for (i = 0; i < t->nslot; i++) {
		if ((s = old[i]) == TAB_EMPTY || s == TAB_GONE)
			continue;
		for (j = tab_at(t, s)->hash & mask; t->slot[j] != TAB_EMPTY;
		    j = (j + 1) & mask)
			;
		t->slot[j] = s;
		t->used++;
	}
	free(old);
	t->nslot = n;
	return 0;
}

/* Put (or replace) K's value V.  0, or -1 (over the bound, no memory):
 * the caller then frees the table, which no longer holds every record. */
static int
table_put(struct table *t, datum k, datum v)
{
	struct tab_ent *e;
	size_t i, sz, ncap;
	uint32_t h;
	char *nb;

	if (k.dsize <= 0 || v.dsize < 0 || k.dsize > MSG_PREFIX_LEN +
	    INDEX_KEY_MAX || v.dsize > INDEX_KEY_MAX)
		return -1;
	h = tab_hash(k);
	i = table_find(t, k, h);
	if (t->slot[i] != TAB_EMPTY &&
	    (e = tab_at(t, t->slot[i]))->vlen == (uint32_t)v.dsize) {
		memcpy(e->data + e->klen, v.dptr, (size_t)v.dsize);
		return 0;	/* the common case: same length, in place */
	}
	/* Entries start at multiples of 4, for the header's alignment. */
	sz = (sizeof(*e) + (size_t)k.dsize + (size_t)v.dsize + 3) & ~(size_t)3;
	if (t->len + sz > t->cap) {
		ncap = t->cap != 0 ? t->cap * 2 : 64 * 1024;
		while (ncap < t->len + sz)
			ncap *= 2;
		if (ncap + t->nslot * sizeof(*t->slot) > TABLE_MAX_BYTES ||
		    (nb = realloc(t->buf, ncap)) == NULL)
			return -1;
		t->buf = nb;
		t->cap = ncap;
	}
	e = (struct tab_ent *)(void *)(t->buf + t->len);
	e->hash = h;
	e->klen = (uint32_t)k.dsize;
	e->vlen = (uint32_t)v.dsize;
	memcpy(e->data, k.dptr, (size_t)k.dsize);
	memcpy(e->data + k.dsize, v.dptr, (size_t)v.dsize);
	if (t->slot[i] == TAB_EMPTY) {
		t->used++;
		t->live++;
	}
	/* A replaced entry of another length stays behind, unused. */
	t->slot[i] = (uint32_t)t->len + 1;
	t->len += sz;
	if (t->used * 4 > t->nslot * 3 && table_grow(t) == -1)
		return -1;
	return 0;
}

/* K's entry, or NULL. */
static const struct tab_ent *
table_get(const struct table *t, datum k)
{
	uint32_t s = t->slot[table_find(t, k, tab_hash(k))];

	return s != TAB_EMPTY ? tab_at(t, s) : NULL;
}

static void
table_del(struct table *t, datum k)
{
	size_t i = table_find(t, k, tab_hash(k));

	if (t->slot[i] == TAB_EMPTY)
		return;
	t->slot[i] = TAB_GONE;
	t->live--;
}

/* Upper bound on the keys a walk may return: every key takes a bucket
 * element (24 octets) in the file, so more means GDBM is going round in
 * circles over a damaged directory. */
static long
walk_limit(GDBM_FILE dbf)
{
	struct stat st;

	if (fstat(gdbm_fdesc(dbf), &st) == -1 || st.st_size < 0)
		return 1024;
	return (long)(st.st_size / 16) + 64;
}

static int
schema_store(GDBM_FILE dbf)
{
	datum k, v;

	k.dptr = (char *)SCHEMA_KEY;
	k.dsize = (int)(sizeof(SCHEMA_KEY) - 1);
	v.dptr = (char *)SCHEMA_VALUE;
	v.dsize = (int)(sizeof(SCHEMA_VALUE) - 1);
	return gdbm_store(dbf, k, v, GDBM_REPLACE) == 0 ? 0 : -1;
}

/* NULL if the schema record says this is our index, else why not. */
static const char *
schema_check(GDBM_FILE dbf)
{
	static const char other[] = "pop23d-index ";
	datum k, v;
	const char *why;

	k.dptr = (char *)SCHEMA_KEY;
	k.dsize = (int)(sizeof(SCHEMA_KEY) - 1);
	v = gdbm_fetch(dbf, k);
	if (v.dptr == NULL) {
		if (gdbm_last_errno(dbf) == GDBM_ITEM_NOT_FOUND)
			return "no schema record (not a pop23d index)";
		return gdbm_strerror(gdbm_last_errno(dbf));
	}
	if (v.dsize == (int)(sizeof(SCHEMA_VALUE) - 1) &&
	    memcmp(v.dptr, SCHEMA_VALUE, sizeof(SCHEMA_VALUE) - 1) == 0)
		why = NULL;
	else if (v.dsize > (int)(sizeof(other) - 1) &&
	    memcmp(v.dptr, other, sizeof(other) - 1) == 0)
		/* An index of an older (or newer) pop23d: its records
		 * cannot be read by this one, and need not be. */
		why = "another index schema (this pop23d writes "
		    "schema " STR(INDEX_SCHEMA) ")";
	else
		why = "foreign schema record";
	free(v.dptr);
	return why;
}

/* Add message key K's value to *TP, if there is a table; any failure
 * frees it (it must hold every record or none). */
static void
walk_take(GDBM_FILE dbf, datum k, struct table **tp)
{
	datum v;

	if (*tp == NULL)
		return;
	/* Junk under "m:" (a damaged file) is not in the table, so a prune
	 * from the table would keep it: no table, prune walks the file. */
	if (is_bad_msg_key(k)) {
		table_free(tp);
		return;
	}
	if (!is_msg_key(k))
		return;
	/* Served from GDBM's cache: gdbm_firstkey()/gdbm_nextkey() have
	 * just read this entry, key and value together. */
	v = gdbm_fetch(dbf, k);
	if (v.dptr == NULL || table_put(*tp, k, v) == -1)
		table_free(tp);
	free(v.dptr);
}

/*
 * Walk every key once, reading every bucket and entry, so that damage
 * (a truncated file, a bad bucket, a key in the wrong bucket) shows up
 * now.  NULL if the walk ends cleanly, else why not.  On the way, the
 * values of the message records go into the login table *TP (if not
 * NULL); it is freed if the walk fails.
 */
static const char *
walk_check(GDBM_FILE dbf, struct table **tp)
{
	datum k, next;
	long n, limit;
	int lost;

	limit = walk_limit(dbf);
	n = 0;
	k = gdbm_firstkey(dbf);
	while (k.dptr != NULL) {
		if (++n > limit) {
			free(k.dptr);
			table_free(tp);
			return "key walk does not end";
		}
		walk_take(dbf, k, tp);
		next = gdbm_nextkey(dbf, k);
		if (next.dptr == NULL &&
		    gdbm_last_errno(dbf) == GDBM_ITEM_NOT_FOUND) {
			/*
			 * gdbm_nextkey() finds its place by looking the
			 * previous key up, so a key it cannot find again
			 * ends the walk early with "not found", as if it were
			 * complete.  GDBM 1.23 already rejects a key whose
			 * hash is wrong; this also covers whatever it misses.
			 */
			lost = !gdbm_exists(dbf, k);
			free(k.dptr);
			if (lost) {
				table_free(tp);
				return "key stored in the wrong bucket";
			}
			return NULL;
		}
		free(k.dptr);
		k = next;
	}
	if (gdbm_last_errno(dbf) != GDBM_ITEM_NOT_FOUND) {
		table_free(tp);
		return gdbm_strerror(gdbm_last_errno(dbf));
	}
	return NULL;
}

/*
 * The text of GDBM error CODE from a call that left no handle to ask
 * (gdbm_fd_open()), with the system error when GDBM says there is one, so
 * that a full disk reads "File write error: No space left on device".
 * Call it at once, errno still intact.  Points to a static buffer, valid
 * until the next call.
 */
static const char *
open_strerror(gdbm_error code)
{
	static char buf[200];
	int serrno = errno;

	if (!gdbm_check_syserr(code) || serrno == 0)
		return gdbm_strerror(code);
	snprintf(buf, sizeof(buf), "%s: %s", gdbm_strerror(code),
	    strerror(serrno));
	return buf;
}

/* NULL if ST is a file the index may live in, else what is wrong. */
static const char *
bad_file(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_uid != geteuid())
		return "is owned by another user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "is writable by group or others";
	/* Rebuilding in place would clobber the other name's data. */
	if (st->st_nlink != 1)
		return "has more than one link";
	return NULL;
}

/*
 * Open PATH for the index: never through a symlink, and only a regular
 * file owned by us, with one link, that group and others cannot write
 * (GNU Mailutils libmu_dbm checks owner and mode the same way).  Anything
 * else at PATH is removed - a symlink itself, never its target - and a
 * fresh file is created in its place; *replaced_r is then 1.  Returns the
 * descriptor with the file size in *size_r, or -1 with *error_r.
 */
static int
open_file(const char *path, off_t *size_r, int *replaced_r,
    const char **error_r)
{
	struct stat st;
	const char *why;
	int fd, fl, flags, attempt;

	/* O_NONBLOCK: opening a FIFO planted at PATH must not hang. */
	flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((fd = open(path, flags, 0600)) == -1) {
			if (errno == ELOOP)
				why = "is a symbolic link";
			else if (errno != ENOENT && errno != EISDIR &&
			    lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
				why = "cannot be opened";
			else {
				log_warn("index %s: open", path);
				*error_r = "cannot open the index file";
				return -1;
			}
		} else if (fstat(fd, &st) == -1) {
			log_warn("index %s: fstat", path);
			close(fd);
			*error_r = "cannot stat the index file";
			return -1;
		} else if ((why = bad_file(&st)) != NULL)
			close(fd);
		else if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
			log_warn("index %s: fcntl", path);
			close(fd);
			*error_r = "cannot set up the index file";
			return -1;
		} else {
			*size_r = st.st_size;
			return fd;
		}
		if (attempt > 0) {
			/* We just created it with O_EXCL: someone races us. */
			log_warnx("index %s: new file %s", path, why);
			*error_r = "cannot create the index file";
			return -1;
		}
		log_warnx("index %s: %s; replacing it", path, why);
		if (unlink(path) == -1 && errno != ENOENT) {
			log_warn("index %s: unlink", path);
			*error_r = "cannot remove the bad index file";
			return -1;
		}
		*replaced_r = 1;
		flags |= O_EXCL;
	}
	*error_r = "cannot open the index file";
	return -1;
}

/* ------------------------------------------------------------------ */
/* The generation record and the snapshot (doc/DESIGN.md section 7). */

static void index_disable(struct index *);
static int index_trouble(struct index *, const char *);

static void
gen_encode(uint64_t id, uint64_t ctr, unsigned char *out)
{
	out[0] = GEN_VERSION;
	out[1] = 0;
	put64(out + 2, id);
	put64(out + 10, ctr);
	put32(out + GEN_CRC_OFF, crc32c(crc32c(0, GEN_KEY,
	    sizeof(GEN_KEY) - 1), out, GEN_CRC_OFF));
}

/* 0 and the identity and counter, or -1 if IN is not a valid record. */
static int
gen_decode(const unsigned char *in, size_t len, uint64_t *id_r,
    uint64_t *ctr_r)
{
	if (in == NULL || len != GEN_LEN || in[0] != GEN_VERSION ||
	    in[1] != 0 || get32(in + GEN_CRC_OFF) != crc32c(crc32c(0,
	    GEN_KEY, sizeof(GEN_KEY) - 1), in, GEN_CRC_OFF))
		return -1;
	*id_r = get64(in + 2);
	*ctr_r = get64(in + 10);
	return 0;
}

/* Read the generation record into idx->gen_*; gen_ok says if there is a
 * valid one (a missing or damaged one matches no snapshot). */
static void
gen_load(struct index *idx)
{
	datum k, v;

	idx->gen_ok = 0;
	k.dptr = (char *)GEN_KEY;
	k.dsize = (int)(sizeof(GEN_KEY) - 1);
	v = gdbm_fetch(idx->dbf, k);
	if (v.dptr == NULL)
		return;
	if (v.dsize >= 0 && gen_decode((unsigned char *)v.dptr,
	    (size_t)v.dsize, &idx->gen_id, &idx->gen_ctr) == 0)
		idx->gen_ok = 1;
	free(v.dptr);
}

/* Remove the snapshot file: it no longer describes the GDBM file (or is
 * about not to).  0, or -1 if it is still there. */
static int
snap_forget(struct index *idx)
{
	idx->snap_valid = 0;
	if (unlink(idx->snap_path) == -1 && errno != ENOENT) {
		log_warn("index %s: unlink", idx->snap_path);
		return -1;
	}
	return 0;
}

/*
 * Before the first write since the index was opened, or since this
 * session's last snapshot: remove the snapshot, then bump the generation
 * record (a new random identity if the file has no valid one), so that
 * neither the old snapshot nor any copy of it can match the file again,
 * whatever happens next (a crash before the new snapshot, a write in the
 * same clock tick as the last one).  A snapshot that cannot be removed
 * switches the index off for the session: no write may follow it.  0, or
 * -1 (the caller's write must not happen).
 */
static int
snap_drop(struct index *idx)
{
	unsigned char buf[GEN_LEN];
	datum k, v;

	if (idx->written)
		return 0;
	if (snap_forget(idx) == -1) {
		index_disable(idx);
		return -1;
	}
	if (!idx->gen_ok) {
		if (getrandom(&idx->gen_id, sizeof(idx->gen_id), 0) !=
		    (ssize_t)sizeof(idx->gen_id)) {
			/* Not secret, only unlikely to repeat. */
			struct timespec ts;

			(void)clock_gettime(CLOCK_REALTIME, &ts);
			idx->gen_id = ((uint64_t)ts.tv_sec * 1000000000u +
			    (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid() << 40;
		}
		idx->gen_ctr = 0;
	}
	gen_encode(idx->gen_id, idx->gen_ctr + 1, buf);
	k.dptr = (char *)GEN_KEY;
	k.dsize = (int)(sizeof(GEN_KEY) - 1);
	v.dptr = (char *)buf;
	v.dsize = (int)sizeof(buf);
	if (gdbm_store(idx->dbf, k, v, GDBM_REPLACE) != 0) {
		/* Unknown now: a new identity at the next attempt. */
		idx->gen_ok = 0;
		(void)index_trouble(idx, "store");
		return -1;
	}
	idx->gen_ctr++;
	idx->gen_ok = 1;
	idx->written = 1;
	return 0;
}

/* The identity of the GDBM file open as FD, with the generation. */
static int
snap_ident(const struct index *idx, int fd, struct idxsnap_id *id)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	memset(id, 0, sizeof(*id));
	id->dev = (uint64_t)st.st_dev;
	id->ino = (uint64_t)st.st_ino;
	id->size = (uint64_t)st.st_size;
	id->mtime_s = (int64_t)st.st_mtim.tv_sec;
	id->mtime_ns = (uint32_t)st.st_mtim.tv_nsec;
	id->ctime_s = (int64_t)st.st_ctim.tv_sec;
	id->ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
	id->gen_id = idx->gen_id;
	id->gen_ctr = idx->gen_ctr;
	return 0;
}

/* The same identity, the file's CRC aside. */
static int
ident_eq(const struct idxsnap_id *a, const struct idxsnap_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	    a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns &&
	    a->gen_id == b->gen_id && a->gen_ctr == b->gen_ctr;
}

/* Read unit for file_crc(): a few reads for an index of some MB. */
#define CRC_CHUNK		((size_t)512 * 1024)

/*
 * CRC-32C of the SIZE octets of the file open as FD, read with pread()
 * (GDBM seeks before every read of its own, so its position does not
 * matter).  0, or -1 if it cannot be read or is not SIZE octets long.
 */
static int
file_crc(int fd, uint64_t size, uint32_t *crc_r)
{
	unsigned char *buf;
	uint64_t off = 0;
	uint32_t crc = 0;
	ssize_t r;
	size_t n;

	if ((buf = malloc(CRC_CHUNK)) == NULL)
		return -1;
	while (off < size) {
		n = size - off < CRC_CHUNK ? (size_t)(size - off) : CRC_CHUNK;
		r = pread(fd, buf, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		crc = crc32c(crc, buf, (size_t)r);
		off += (uint64_t)r;
	}
	free(buf);
	if (off != size)
		return -1;
	*crc_r = crc;
	return 0;
}

static int
snap_put(void *arg, const char *key, size_t klen, const unsigned char *val)
{
	struct table *t = arg;
	datum k, v;

	k.dptr = (char *)key;
	k.dsize = (int)klen;
	v.dptr = (char *)val;
	v.dsize = INDEX_REC_LEN;
	/* Message keys only: what the walk would have put in the table. */
	if (!is_msg_key(k))
		return -1;
	return table_put(t, k, v);
}

/* The most octets of entries a snapshot may hold: no more than the table
 * it is loaded into. */
#define SNAP_MAX_BYTES		TABLE_MAX_BYTES

/*
 * Load the login table from the snapshot, if it describes the GDBM file
 * as it is open now (every check of doc/SECURITY.md D7c): AT_OPEN in
 * place of the walk, else after index_resume().  0 with
 * idx->table set, or -1 (the table is left alone; a snapshot that is
 * there but unusable is logged and removed).
 */
static int
snap_load(struct index *idx, int at_open)
{
	struct idxsnap_hdr h;
	struct idxsnap_id cur;
	struct stat st;
	struct table *t = NULL;
	unsigned char *buf = NULL;
	const char *why;
	size_t len, done = 0;
	ssize_t r;
	int fd;

	if (!idx->gen_ok || idx->dbf == NULL)
		return -1;
	fd = open(idx->snap_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return -1;
		why = errno == ELOOP ? "is a symbolic link" : "cannot be opened";
		goto bad;
	}
	if (fstat(fd, &st) == -1) {
		why = "cannot be read";
		goto bad;
	}
	if ((why = bad_file(&st)) != NULL)
		goto bad;
	why = "has a bad length";
	if (st.st_size < IDXSNAP_HDR_LEN ||
	    (uintmax_t)st.st_size > IDXSNAP_HDR_LEN + SNAP_MAX_BYTES)
		goto bad;
	len = (size_t)st.st_size;
	why = "out of memory";
	if ((buf = malloc(len)) == NULL)
		goto bad;
	while (done < len) {
		r = pread(fd, buf + done, len - done, (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		why = "cannot be read";
		if (r <= 0)
			goto bad;
		done += (size_t)r;
	}
	why = "is damaged (header)";
	if (idxsnap_hdr_decode(buf, len, &h) != 0 ||
	    h.ents_len != len - IDXSNAP_HDR_LEN || h.vlen != INDEX_REC_LEN)
		goto bad;
	why = "cannot stat the index";
	if (snap_ident(idx, gdbm_fdesc(idx->dbf), &cur) != 0)
		goto bad;
	/* Who writes the file moves its mtime and ctime, except in the
	 * same clock tick; pop23d's own writes bump the generation first;
	 * the CRC catches any other writer, in any tick. */
	why = "does not describe the index as it is (stale)";
	if (!ident_eq(&h.id, &cur) || file_crc(gdbm_fdesc(idx->dbf),
	    cur.size, &cur.file_crc) != 0 || cur.file_crc != h.id.file_crc)
		goto bad;
	why = "out of memory";
	if ((t = table_make(h.count, (size_t)h.count * (sizeof(struct tab_ent) +
	    MSG_PREFIX_LEN + 36 + INDEX_REC_LEN))) == NULL)
		goto bad;
	why = "is damaged (entries)";
	if (idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, MSG_PREFIX_LEN +
	    INDEX_KEY_MAX, snap_put, t) != 0 || t->live != h.count)
		goto bad;
	close(fd);
	free(buf);
	table_free(&idx->table);
	idx->table = t;
	idx->snap_valid = 1;
	log_debug("index %s: %u records %s the snapshot", idx->path,
	    (unsigned)h.count, at_open ? "from" : "back from");
	if (at_open)
		idx->from_snap = 1;
	return 0;
bad:
	log_warnx("index %s: snapshot %s; not used", idx->path, why);
	if (fd != -1)
		close(fd);
	free(buf);
	table_free(&t);
	(void)snap_forget(idx);
	return -1;
}

/* write(2) all of BUF.  0 or -1. */
static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Close the GDBM handle and, if the login table holds every record and
 * no snapshot describes the file yet, write one: the table's entries and
 * the file's identity as it is after the close (device, inode, size,
 * mtime, ctime) and its generation.  Written to a temporary name and
 * renamed, without fsync (a torn snapshot fails its CRC; one that
 * outlives a crash the GDBM writes did not still holds records that
 * describe the messages as they were measured).  Failures are logged at
 * most and leave no snapshot.
 */
static void
snap_close(struct index *idx)
{
	struct idxsnap_hdr h;
	struct idxsnap_id id;
	const struct tab_ent *e;
	struct table *t = idx->table;
	unsigned char *buf = NULL;
	char *tmp = NULL;
	size_t i, len, cap;
	uint32_t s;
	int dfd = -1, fd = -1, want;

	if (idx->dbf == NULL)
		return;
	want = t != NULL && !idx->unusable && !idx->snap_valid &&
	    (idx->gen_ok || snap_drop(idx) == 0) && idx->gen_ok &&
	    idx->table != NULL;
	if (idx->dbf == NULL)
		return;		/* snap_drop() gave up on the index */
	if (want)
		dfd = fcntl(gdbm_fdesc(idx->dbf), F_DUPFD_CLOEXEC, 0);
	if (gdbm_close(idx->dbf) != 0)
		log_warnx("index %s: close: %s", idx->path,
		    gdbm_strerror(gdbm_errno));
	idx->dbf = NULL;
	if (dfd == -1)
		return;
	t = idx->table;
	if (snap_ident(idx, dfd, &id) != 0 ||
	    file_crc(dfd, id.size, &id.file_crc) != 0)
		goto out;
	cap = IDXSNAP_HDR_LEN;
	for (i = 0; i < t->nslot; i++)
		if ((s = t->slot[i]) != TAB_EMPTY && s != TAB_GONE)
			cap += IDXSNAP_ENT_LEN(tab_at(t, s)->klen,
			    INDEX_REC_LEN);
	if (cap - IDXSNAP_HDR_LEN > SNAP_MAX_BYTES ||
	    (buf = malloc(cap)) == NULL)
		goto out;
	len = IDXSNAP_HDR_LEN;
	memset(&h, 0, sizeof(h));
	for (i = 0; i < t->nslot; i++) {
		if ((s = t->slot[i]) == TAB_EMPTY || s == TAB_GONE)
			continue;
		e = tab_at(t, s);
		/* A value that is not a record (damaged, from the walk) is
		 * left out: a miss, as its lookup would have been. */
		if (e->vlen != INDEX_REC_LEN)
			continue;
		len += idxsnap_ent_encode(e->data, e->klen,
		    (const unsigned char *)e->data + e->klen, INDEX_REC_LEN,
		    buf + len);
		h.count++;
	}
	h.vlen = INDEX_REC_LEN;
	h.id = id;
	h.ents_len = len - IDXSNAP_HDR_LEN;
	h.ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, len - IDXSNAP_HDR_LEN);
	idxsnap_hdr_encode(&h, buf);
	if (asprintf(&tmp, "%s%s", idx->path, SNAP_TMP_SUFFIX) == -1) {
		tmp = NULL;
		goto out;
	}
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0600);
	if (fd == -1 && (errno == EACCES || errno == EPERM ||
	    errno == EROFS)) {
		/* A directory we may not create in: no snapshot, as for a
		 * read-only Maildir's listing record; logins walk. */
		log_debug("index %s: no snapshot: %s", idx->path,
		    strerror(errno));
		goto out;
	}
	if (fd == -1 || write_all(fd, buf, len) != 0 || close(fd) != 0) {
		fd = -1;
		log_warn("index %s: cannot write the snapshot", idx->path);
		(void)unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, idx->snap_path) != 0) {
		log_warn("index %s: cannot rename the snapshot", idx->path);
		(void)unlink(tmp);
		goto out;
	}
	idx->snap_valid = 1;
	idx->written = 0;
out:
	if (fd != -1)
		close(fd);
	close(dfd);
	free(tmp);
	free(buf);
}

/*
 * Throw away whatever is at idx->path (the handle is closed first) and
 * start an empty index with only the schema record.  0, or -1 with
 * *error_r (and no handle).
 */
static int
index_recreate(struct index *idx, const char **error_r)
{
	int fd;

	table_free(&idx->table);
	if (idx->dbf != NULL) {
		gdbm_close(idx->dbf);
		idx->dbf = NULL;
	}
	/* A new file has no generation record until its first write, so
	 * no snapshot can match it; the old one goes now all the same. */
	(void)snap_forget(idx);
	idx->gen_ok = 0;
	idx->written = 0;
	idx->from_snap = 0;
	if (unlink(idx->path) == -1 && errno != ENOENT) {
		log_warn("index %s: unlink", idx->path);
		*error_r = "cannot remove the damaged index file";
		return -1;
	}
	fd = open(idx->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		log_warn("index %s: create", idx->path);
		*error_r = "cannot create the index file";
		return -1;
	}
	idx->dbf = gdbm_fd_open(fd, idx->path, 0, INDEX_GDBM_FLAGS, NULL);
	if (idx->dbf == NULL) {
		log_warnx("index %s: new database: %s", idx->path,
		    open_strerror(gdbm_errno));
		(void)unlink(idx->path);
		*error_r = "cannot create the index database";
		return -1;
	}
	if (schema_store(idx->dbf) == -1) {
		log_warnx("index %s: schema record: %s", idx->path,
		    gdbm_db_strerror(idx->dbf));
		gdbm_close(idx->dbf);
		idx->dbf = NULL;
		(void)unlink(idx->path);
		*error_r = "cannot write the index schema record";
		return -1;
	}
	idx->recovered = 0;
	idx->unusable = 0;
	/* Empty, so the (empty) table holds every record. */
	idx->table = table_new(0);
	return 0;
}

int
index_open(const char *path, struct index **idx_r, int *rebuilt_r,
    const char **error_r)
{
	struct index *idx;
	const char *why = NULL;
	off_t size = 0;
	int fd;

	*idx_r = NULL;
	*rebuilt_r = 0;
	if (path == NULL || *path == '\0') {
		*error_r = "no index path";
		return -1;
	}
	if ((idx = calloc(1, sizeof(*idx))) == NULL ||
	    (idx->path = strdup(path)) == NULL ||
	    asprintf(&idx->snap_path, "%s%s", path, SNAP_SUFFIX) == -1) {
		if (idx != NULL)
			free(idx->path);
		free(idx);
		*error_r = "out of memory";
		return -1;
	}
	if ((fd = open_file(path, &size, rebuilt_r, error_r)) == -1)
		goto fail;

	idx->dbf = gdbm_fd_open(fd, path, 0, INDEX_GDBM_FLAGS, NULL);
	if (idx->dbf == NULL)
		why = open_strerror(gdbm_errno);
	else if (size == 0) {
		/* A new (or empty) file: GDBM has just laid it out. */
		if (schema_store(idx->dbf) == -1) {
			log_warnx("index %s: schema record: %s", path,
			    gdbm_db_strerror(idx->dbf));
			why = "cannot write the schema record";
		} else
			idx->table = table_new(0);
	} else if (gdbm_needs_recovery(idx->dbf))
		why = gdbm_last_errno(idx->dbf) != GDBM_NO_ERROR ?
		    gdbm_strerror(gdbm_last_errno(idx->dbf)) :
		    "GDBM wants recovery";
	else if ((why = schema_check(idx->dbf)) == NULL) {
		gen_load(idx);
		/*
		 * The snapshot, if it describes this file as it is, stands
		 * for the walk: the file is then, octet for octet, the one
		 * a session walked (or built) and closed cleanly.
		 */
		if ((uintmax_t)size <= 2 * (uintmax_t)TABLE_MAX_BYTES &&
		    snap_load(idx, 1) == 0)
			why = NULL;
		else {
			if ((uintmax_t)size <= 2 * (uintmax_t)TABLE_MAX_BYTES)
				idx->table = table_new(size);
			why = walk_check(idx->dbf, &idx->table);
		}
	}

	if (why != NULL) {
		/*
		 * At open a damaged index is cheaper to rebuild than to
		 * repair: UIDLs and sizes come back from the mailbox.
		 */
		log_warnx("index %s: %s; starting an empty index", path, why);
		if (index_recreate(idx, error_r) == -1)
			goto fail;
		*rebuilt_r = 1;
	}
	*idx_r = idx;
	return 0;

fail:
	table_free(&idx->table);
	if (idx->dbf != NULL)
		gdbm_close(idx->dbf);
	free(idx->snap_path);
	free(idx->path);
	free(idx);
	return -1;
}

/*
 * gdbm_recover() builds the new file next to the index, as mkstemp(PATH
 * ".XXXXXX"), and leaves it behind when it fails.  Remove such leftovers
 * (regular files of ours only); we hold the session lock, so nobody else
 * is recovering this index.
 */
static void
remove_recover_temps(const char *path)
{
	const char *slash, *base;
	struct dirent *de;
	struct stat st;
	size_t blen, i;
	char *dir;
	DIR *d;

	if ((slash = strrchr(path, '/')) == NULL) {
		dir = strdup(".");
		base = path;
	} else {
		dir = slash == path ? strdup("/") :
		    strndup(path, (size_t)(slash - path));
		base = slash + 1;
	}
	if (dir == NULL)
		return;
	blen = strlen(base);
	if ((d = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != blen + 7 ||
		    strncmp(de->d_name, base, blen) != 0 ||
		    de->d_name[blen] != '.')
			continue;
		for (i = blen + 1; i < blen + 7; i++)
			if (!isalnum((unsigned char)de->d_name[i]))
				break;
		if (i < blen + 7)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_uid == geteuid() &&
		    unlinkat(dirfd(d), de->d_name, 0) == -1)
			log_warn("index %s/%s: unlink", dir, de->d_name);
	}
	closedir(d);
	free(dir);
}

/*
 * Give up on the index for the rest of the session.  The file is removed
 * (if it is still the one we have open) so that the next session starts
 * with a fresh one instead of tripping over the same damage.
 */
static void
index_disable(struct index *idx)
{
	struct stat st_fd, st_path;

	if (idx->unusable)
		return;
	idx->unusable = 1;
	table_free(&idx->table);
	(void)snap_forget(idx);
	log_warnx("index %s: unusable for this session; it will be rebuilt",
	    idx->path);
	if (idx->dbf == NULL)
		return;
	if (fstat(gdbm_fdesc(idx->dbf), &st_fd) == 0 &&
	    lstat(idx->path, &st_path) == 0 &&
	    st_fd.st_dev == st_path.st_dev && st_fd.st_ino == st_path.st_ino &&
	    unlink(idx->path) == -1)
		log_warn("index %s: unlink", idx->path);
	gdbm_close(idx->dbf);
	idx->dbf = NULL;
}

/*
 * A GDBM call (OP) on IDX failed with something other than "not found".
 * If GDBM wants recovery, gdbm_recover() runs, at most once per session,
 * and 1 tells the caller to try again.  If recovery is not possible the
 * index is disabled and 0 is returned.  -1: a plain error that left the
 * index usable.
 */
static int
index_trouble(struct index *idx, const char *op)
{
	gdbm_recovery rcvr;

	if (!gdbm_needs_recovery(idx->dbf)) {
		log_warnx("index %s: %s: %s", idx->path, op,
		    gdbm_db_strerror(idx->dbf));
		return -1;
	}
	log_warnx("index %s: %s: %s; trying to recover", idx->path, op,
	    gdbm_db_strerror(idx->dbf));
	/* Recovery may lose records: the table would no longer match, and
	 * it rewrites the file: no snapshot may describe it. */
	table_free(&idx->table);
	(void)snap_forget(idx);
	if (!idx->recovered) {
		idx->recovered = 1;
		memset(&rcvr, 0, sizeof(rcvr));
		/* No GDBM_RCVR_BACKUP: the index is only a cache. */
		if (gdbm_recover(idx->dbf, &rcvr, GDBM_RCVR_DEFAULT) == 0) {
			log_warnx("index %s: recovered, %zu records kept, "
			    "%zu lost", idx->path, rcvr.recovered_keys,
			    rcvr.failed_keys);
			/* We checked the schema at open, so a missing or
			 * damaged schema record is merely lost: put it back. */
			if (schema_check(idx->dbf) == NULL ||
			    schema_store(idx->dbf) == 0)
				return 1;
		} else {
			log_warnx("index %s: recovery failed: %s", idx->path,
			    gdbm_strerror(gdbm_errno));
			remove_recover_temps(idx->path);
		}
	}
	index_disable(idx);
	return 0;
}

void
index_suspend(struct index *idx)
{
	if (idx != NULL && (idx->unusable || idx->suspended ||
	    idx->dbf == NULL))
		table_free(&idx->table);
	if (idx == NULL || idx->unusable || idx->suspended || idx->dbf == NULL)
		return;
	/* The table, while it is complete, becomes the snapshot. */
	snap_close(idx);
	table_free(&idx->table);
	idx->suspended = 1;
}

/* Reopen after index_suspend().  0, or -1 with the index switched off. */
static int
index_resume(struct index *idx)
{
	const char *why = NULL, *e = NULL;
	off_t size = 0;
	int fd, replaced = 0;

	if (!idx->suspended)
		return 0;
	idx->suspended = 0;
	fd = open_file(idx->path, &size, &replaced, &e);
	if (fd == -1)
		why = e != NULL ? e : "cannot open";
	else if ((idx->dbf = gdbm_fd_open(fd, idx->path, 0,
	    INDEX_GDBM_FLAGS, NULL)) == NULL)
		why = open_strerror(gdbm_errno);
	else if (replaced || size == 0)
		why = "replaced while the session held it closed";
	else
		why = schema_check(idx->dbf);
	if (why == NULL) {
		/* A write is likely to follow (a commit): with the table
		 * back from the snapshot, the close can write a new one. */
		gen_load(idx);
		if (idx->snap_valid && idx->table == NULL)
			(void)snap_load(idx, 0);
		return 0;
	}
	log_warnx("index %s: reopen: %s; off for this session", idx->path,
	    why);
	if (idx->dbf != NULL)
		gdbm_close(idx->dbf);
	idx->dbf = NULL;
	idx->unusable = 1;
	return -1;
}

int
index_lookup(struct index *idx, const char *key, struct index_rec *rec_r)
{
	const struct tab_ent *e;
	struct index_rec rec;
	datum k, v;
	char *kbuf, kst[MSG_KEY_STACK], esc[128];
	int r, ok;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return 0;
	if ((kbuf = msg_key_in(key, &k, kst, sizeof(kst))) == NULL)
		return -1;
	if (idx->table != NULL) {
		/* The table holds every record: not there, not in the file. */
		if ((e = table_get(idx->table, k)) == NULL) {
			r = 0;
			goto out;
		}
		ok = index_decode(key, (const unsigned char *)e->data +
		    e->klen, e->vlen, &rec) == 0;
	} else {
		for (;;) {
			v = gdbm_fetch(idx->dbf, k);
			if (v.dptr != NULL)
				break;
			if (gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND) {
				r = 0;
				goto out;
			}
			if ((r = index_trouble(idx, "fetch")) != 1)
				goto out;
		}
		ok = v.dsize >= 0 && index_decode(key,
		    (unsigned char *)v.dptr, (size_t)v.dsize, &rec) == 0;
		free(v.dptr);
	}
	if (!ok) {
		/* Damaged, or moved here from another key: a miss, and the
		 * caller stores a fresh record. */
		if (idx->damaged++ < INDEX_DAMAGE_LOG_MAX)
			log_warnx("index %s: damaged record for %s, dropped",
			    idx->path, log_escape(key, strlen(key), esc,
			    sizeof(esc)));
		else
			log_debug("index %s: damaged record for %s, dropped",
			    idx->path, log_escape(key, strlen(key), esc,
			    sizeof(esc)));
		if (idx->table != NULL)
			table_del(idx->table, k);
		if (snap_drop(idx) == 0 && gdbm_delete(idx->dbf, k) != 0 &&
		    gdbm_last_errno(idx->dbf) != GDBM_ITEM_NOT_FOUND)
			(void)index_trouble(idx, "delete");
		r = 0;
		goto out;
	}
	if (rec_r != NULL)
		*rec_r = rec;
	r = 1;
out:
	if (kbuf != kst)
		free(kbuf);
	return r;
}

int
index_store(struct index *idx, const char *key, const struct index_rec *rec)
{
	unsigned char buf[INDEX_REC_LEN];
	datum k, v;
	size_t len;
	char *kbuf;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return -1;
	if ((len = index_encode(key, rec, buf)) == 0)
		return -1;
	if (snap_drop(idx) != 0)
		return -1;
	if ((kbuf = msg_key(key, &k)) == NULL)
		return -1;
	v.dptr = (char *)buf;
	v.dsize = (int)len;
	for (;;) {
		if (gdbm_store(idx->dbf, k, v, GDBM_REPLACE) == 0) {
			if (idx->table != NULL &&
			    table_put(idx->table, k, v) == -1)
				table_free(&idx->table);
			free(kbuf);
			return 0;
		}
		if (index_trouble(idx, "store") != 1)
			break;
	}
	/* The file may or may not have the new value now. */
	table_free(&idx->table);
	free(kbuf);
	return -1;
}

int
index_delete(struct index *idx, const char *key)
{
	datum k;
	char *kbuf;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return -1;
	if (snap_drop(idx) != 0)
		return -1;
	if ((kbuf = msg_key(key, &k)) == NULL)
		return -1;
	for (;;) {
		if (gdbm_delete(idx->dbf, k) == 0 ||
		    gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND) {
			if (idx->table != NULL)
				table_del(idx->table, k);
			free(kbuf);
			return 0;
		}
		if (index_trouble(idx, "delete") != 1)
			break;
	}
	table_free(&idx->table);
	free(kbuf);
	return -1;
}

/*
 * Walk all keys, calling FN(CTX, key) for each; the key's memory passes
 * to FN.  If the walk fails and a recovery succeeds, RESET(CTX) drops what
 * was collected and the walk starts over (once: index_trouble() recovers
 * at most once).  Returns 0, or -1 if the walk failed.
 */
static int
index_walk(struct index *idx, const char *op,
    void (*fn)(void *, datum), void (*reset)(void *), void *ctx)
{
	datum k, next;
	long n, limit;

	for (;;) {
		limit = walk_limit(idx->dbf);
		n = 0;
		k = gdbm_firstkey(idx->dbf);
		while (k.dptr != NULL) {
			if (++n > limit) {
				free(k.dptr);
				log_warnx("index %s: %s: key walk does not "
				    "end", idx->path, op);
				index_disable(idx);
				return -1;
			}
			next = gdbm_nextkey(idx->dbf, k);
			fn(ctx, k);
			k = next;
		}
		if (gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND)
			return 0;
		if (index_trouble(idx, op) != 1)
			return -1;
		reset(ctx);
	}
}

struct count_ctx {
	long n;
};

static void
count_one(void *p, datum k)
{
	struct count_ctx *c = p;

	if (is_msg_key(k))
		c->n++;
	free(k.dptr);
}

static void
count_reset(void *p)
{
	((struct count_ctx *)p)->n = 0;
}

long
index_count(struct index *idx)
{
	struct count_ctx c;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return -1;
	c.n = 0;
	if (index_walk(idx, "count", count_one, count_reset, &c) == -1)
		return -1;
	return c.n;
}

struct prune_ctx {
	int (*keep)(void *, const char *);
	void *keep_ctx;
	datum *doomed;		/* keys to delete after the walk */
	size_t n, cap;
	int failed;		/* out of memory */
	char *name;		/* scratch: the key as a C string */
	size_t name_cap;
};

static void
prune_reset(void *p)
{
	struct prune_ctx *c = p;
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->doomed[i].dptr);
	c->n = 0;
	c->failed = 0;
}

static void
prune_one(void *p, datum k)
{
	struct prune_ctx *c = p;
	size_t len;
	datum *nd;
	char *nn;
	int doom;

	if (is_msg_key(k)) {
		len = (size_t)k.dsize - MSG_PREFIX_LEN;
		if (len + 1 > c->name_cap) {
			if ((nn = realloc(c->name, len + 1)) == NULL) {
				c->failed = 1;
				free(k.dptr);
				return;
			}
			c->name = nn;
			c->name_cap = len + 1;
		}
		memcpy(c->name, k.dptr + MSG_PREFIX_LEN, len);
		c->name[len] = '\0';
		doom = c->keep(c->keep_ctx, c->name) == 0;
	} else
		doom = is_bad_msg_key(k);
	if (!doom) {
		free(k.dptr);
		return;
	}
	if (c->n == c->cap) {
		nd = reallocarray(c->doomed, c->cap ? c->cap * 2 : 64,
		    sizeof(*nd));
		if (nd == NULL) {
			c->failed = 1;
			free(k.dptr);
			return;
		}
		c->doomed = nd;
		c->cap = c->cap ? c->cap * 2 : 64;
	}
	c->doomed[c->n++] = k;
}

/* Collect the doomed keys from the login table, which holds every
 * message record (and no junk: walk_take()).  0, or -1 (no memory). */
static int
prune_table(const struct table *t, struct prune_ctx *c)
{
	const struct tab_ent *e;
	datum k;
	size_t i;
	uint32_t s;

	for (i = 0; i < t->nslot && !c->failed; i++) {
		if ((s = t->slot[i]) == TAB_EMPTY || s == TAB_GONE)
			continue;
		e = tab_at(t, s);
		if ((k.dptr = malloc(e->klen)) == NULL)
			return -1;
		memcpy(k.dptr, e->data, e->klen);
		k.dsize = (int)e->klen;
		prune_one(c, k);
	}
	return c->failed ? -1 : 0;
}

/*
 * GDBM forbids deleting while walking (gdbm.info "Sequential access"): the
 * hash table is rearranged and keys are skipped or seen twice.  So the
 * walk only collects the keys, and they are deleted afterwards.  With
 * the login table there is no walk: the table has every record.
 */
long
index_prune(struct index *idx, int (*keep)(void *ctx, const char *key),
    void *ctx)
{
	struct prune_ctx c;
	long removed = 0;
	size_t i;

	if (idx == NULL || idx->unusable || keep == NULL ||
	    index_resume(idx) != 0)
		return -1;
	memset(&c, 0, sizeof(c));
	c.keep = keep;
	c.keep_ctx = ctx;
	if ((idx->table != NULL ? prune_table(idx->table, &c) :
	    index_walk(idx, "prune", prune_one, prune_reset, &c)) == -1 ||
	    c.failed) {
		if (c.failed || idx->table != NULL)
			log_warnx("index %s: prune: out of memory", idx->path);
		removed = -1;
		goto out;
	}
	if (c.n > 0 && snap_drop(idx) != 0) {
		removed = -1;
		goto out;
	}
	for (i = 0; i < c.n; i++) {
		for (;;) {
			if (gdbm_delete(idx->dbf, c.doomed[i]) == 0) {
				removed++;
				if (idx->table != NULL)
					table_del(idx->table, c.doomed[i]);
				break;
			}
			/* Seen twice by a walk over a damaged file. */
			if (gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND)
				break;
			if (index_trouble(idx, "prune") != 1) {
				removed = -1;
				goto out;
			}
		}
	}
out:
	/* Whatever failed may have left the file and the table apart. */
	if (removed == -1)
		table_free(&idx->table);
	prune_reset(&c);
	free(c.doomed);
	free(c.name);
	return removed;
}

int
index_hinted_get(struct index *idx)
{
	datum k, v;

	if (idx == NULL || idx->unusable)
		return 0;	/* no records at all */
	if (index_resume(idx) != 0)
		return 0;	/* off now: no records either */
	k.dptr = (char *)HINTED_KEY;
	k.dsize = (int)(sizeof(HINTED_KEY) - 1);
	v = gdbm_fetch(idx->dbf, k);
	if (v.dptr != NULL) {
		free(v.dptr);
		return 1;
	}
	return gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND ? 0 : 1;
}

int
index_hinted_set(struct index *idx, int on)
{
	datum k, v;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return -1;
	if (snap_drop(idx) != 0)
		return -1;
	k.dptr = (char *)HINTED_KEY;
	k.dsize = (int)(sizeof(HINTED_KEY) - 1);
	if (!on)
		return gdbm_delete(idx->dbf, k) == 0 ||
		    gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND ? 0 : -1;
	v.dptr = (char *)"1";
	v.dsize = 1;
	return gdbm_store(idx->dbf, k, v, GDBM_REPLACE) == 0 ? 0 : -1;
}

int
index_sync(struct index *idx)
{
	if (idx == NULL || idx->unusable)
		return -1;
	if (idx->suspended)
		return 0;	/* gdbm_close() wrote everything out */
	for (;;) {
		if (gdbm_sync(idx->dbf) == 0)
			return 0;
		if (index_trouble(idx, "sync") != 1)
			return -1;
	}
}

int
index_login_get(struct index *idx, int64_t *t_r)
{
	datum k, v;
	int r;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0)
		return -1;
	k.dptr = (char *)LOGIN_KEY;
	k.dsize = (int)(sizeof(LOGIN_KEY) - 1);
	for (;;) {
		v = gdbm_fetch(idx->dbf, k);
		if (v.dptr != NULL)
			break;
		if (gdbm_last_errno(idx->dbf) == GDBM_ITEM_NOT_FOUND)
			return 0;
		if ((r = index_trouble(idx, "fetch")) != 1)
			return r == 0 ? -1 : r;
	}
	r = v.dsize >= 0 && index_login_decode((unsigned char *)v.dptr,
	    (size_t)v.dsize, t_r) == 0;
	free(v.dptr);
	if (r)
		return 1;
	/* Damaged: drop it, and the login it would have delayed goes in. */
	log_warnx("index %s: damaged login-time record, dropped", idx->path);
	if (snap_drop(idx) == 0 && gdbm_delete(idx->dbf, k) != 0 &&
	    gdbm_last_errno(idx->dbf) != GDBM_ITEM_NOT_FOUND)
		(void)index_trouble(idx, "delete");
	return 0;
}

int
index_login_put(struct index *idx, int64_t t)
{
	unsigned char buf[INDEX_LOGIN_LEN];
	datum k, v;

	if (idx == NULL || idx->unusable || index_resume(idx) != 0 ||
	    index_login_encode(t, buf) == 0 || snap_drop(idx) != 0)
		return -1;
	k.dptr = (char *)LOGIN_KEY;
	k.dsize = (int)(sizeof(LOGIN_KEY) - 1);
	v.dptr = (char *)buf;
	v.dsize = (int)sizeof buf;
	for (;;) {
		if (gdbm_store(idx->dbf, k, v, GDBM_REPLACE) == 0)
			return 0;
		if (index_trouble(idx, "store") != 1)
			return -1;
	}
}

unsigned long
index_damaged(const struct index *idx)
{
	return idx != NULL ? idx->damaged : 0;
}

void
index_close(struct index **idxp)
{
	struct index *idx;

	if (idxp == NULL || (idx = *idxp) == NULL)
		return;
	if (idx->damaged > INDEX_DAMAGE_LOG_MAX)
		log_warnx("index %s: %lu damaged records dropped in this "
		    "session", idx->path, idx->damaged);
	/* Writes since the load (a commit) leave the table complete when
	 * it came back from the snapshot: a new snapshot, for the next
	 * login. */
	snap_close(idx);
	table_free(&idx->table);
	free(idx->snap_path);
	free(idx->path);
	free(idx);
	*idxp = NULL;
}

long
index_table_count(const struct index *idx)
{
	if (idx == NULL || idx->table == NULL)
		return -1;
	return (long)idx->table->live;
}

int
index_from_snapshot(const struct index *idx)
{
	return idx != NULL && idx->from_snap;
}

void
index_table_drop(struct index *idx)
{
	if (idx != NULL)
		table_free(&idx->table);
}
