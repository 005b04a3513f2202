/*
 * index.h - the per-maildrop GDBM index: for each message (by the storage's
 * unique key) the CRLF size RETR sends, the stored size and the accessed
 * flag, each record with a CRC-32C over key and contents, plus a schema
 * version.  It is a derived, untrusted cache: every record is checked on
 * read, a damaged one is a miss, and a bad file is rebuilt, never fatal.
 * index.c is the only file that includes <gdbm.h>.
 * Runs as the mail user, under the maildrop's session lock.
 */
#ifndef POP23D_INDEX_H
#define POP23D_INDEX_H

#include <stdint.h>
#include "defaults.h"

#define INDEX_FILE		"pop23d.index"
/* Schema 1 records held the UIDL and had no checksum; a schema 1 file is
 * rebuilt (see doc/DESIGN.md section 7).  Schema 3 has schema 2's record
 * layout, but a message whose key carries size hints (maildrop.c) has a
 * record only by exception, flagged by the "#hinted" record
 * (index_hinted_get()); a schema 2 file, with a record for every message,
 * is rebuilt once so that logins stop walking and reading them.  Schema 4
 * adds the generation record ("#gen") that every write bumps first, which
 * the snapshot of the records (INDEX_SNAP_SUFFIX, idxsnap.h) is bound to;
 * a schema 3 file is rebuilt once, so that no writer that does not bump
 * it (an older pop23d) can share a file with one that trusts it. */
#define INDEX_SCHEMA		4
/* The snapshot of the message records beside the index file: written
 * when a session closes the index with its login table complete, removed
 * before the first write of a session, used at open instead of the key
 * walk when it describes the file exactly (doc/DESIGN.md section 7). */
#define INDEX_SNAP_SUFFIX	".snap"

struct index;

/*
 * What the index remembers about one message.  The UIDL is not stored: it
 * is a function of the storage key (maildrop.c make_uidl), computed at
 * every login, so no damage to the index can change it.
 */
struct index_rec {
	uint64_t size;		/* octets RETR sends, CRLF line ends, without
				 * dot-stuffing and terminator */
	uint64_t raw_size;	/* octets stored (detects a changed file) */
	int accessed;		/* retrieved in an earlier session */
};

/*
 * Open (or create) the index file PATH, which must be a regular file owned
 * by the current uid and not a symlink.  A file that is corrupt, truncated,
 * foreign or of another schema is moved out of the way and an empty index
 * is created; *rebuilt_r is then 1 (and the reason is logged).
 * Returns 0, or -1 with *error_r if no index can be had at all (the caller
 * goes on without one).  The handle is freed by index_close().
 */
int index_open(const char *path, struct index **idx_r, int *rebuilt_r,
    const char **error_r);
/*
 * Look KEY up.  Returns 1 and fills *rec_r when a valid record exists: its
 * checksum matches KEY and its contents, and its sizes obey the CRLF rule
 * (index_decode).  0 when there is none or it fails validation (it is
 * then deleted, so the caller measures the message again and stores a new
 * one), and also 0 once the index was switched off after an unrecoverable
 * error (or IDX is NULL); -1 on an I/O error.
 */
int index_lookup(struct index *idx, const char *key, struct index_rec *rec_r);
/* Insert or replace KEY's record.  0 or -1. */
int index_store(struct index *idx, const char *key,
    const struct index_rec *rec);
/* Remove KEY's record; absent is not an error.  0 or -1. */
int index_delete(struct index *idx, const char *key);
/* Number of message records (walks the file). -1 on error. */
long index_count(struct index *idx);
/* Remove every message record for which KEEP(ctx, key) returns 0.  KEEP
 * must not call other index functions.  Returns the number removed, or
 * -1. */
long index_prune(struct index *idx, int (*keep)(void *ctx, const char *key),
    void *ctx);
/*
 * The "hinted" flag: 1 if records of messages whose keys carry size hints
 * may exist (maildrop.c stores one only when a hint proved wrong, or a
 * seen flag could not be stored in the maildrop).  While it is 0 the
 * caller need not look such keys up: one fetch instead of one per
 * message.  index_hinted_get() says 1 when it cannot tell (an error).
 * index_hinted_set() returns 0 or -1.
 */
int index_hinted_get(struct index *idx);
int index_hinted_set(struct index *idx, int on);
/*
 * Close the GDBM handle until the next call that needs it, which reopens
 * the file (owner, mode and schema checked again; without the full walk
 * of index_open(): the session lock kept everyone else out meanwhile).
 * For the idle part of a session: its buffers and descriptor go.  A
 * reopen that fails switches the index off for the session.
 */
void index_suspend(struct index *idx);
/* Flush to disk (gdbm_sync).  0 or -1. */
int index_sync(struct index *idx);
/* Records found damaged (and dropped) by index_lookup() since open. */
unsigned long index_damaged(const struct index *idx);
/* The records in the login table index_lookup() answers from after
 * index_open() (index.c), or -1 when there is none (for the tests). */
long index_table_count(const struct index *idx);
/* 1 if index_open() took the login table from the snapshot instead of
 * walking the file (for the tests). */
int index_from_snapshot(const struct index *idx);
/* Free the login table, so that lookups go to GDBM (for the tests, which
 * damage the file under an open index). */
void index_table_drop(struct index *idx);
/* Close and free; sets *idx to NULL.  NULL is fine. */
void index_close(struct index **idx);

/*
 * Encode / decode the record of storage key KEY in the versioned byte
 * layout (exposed for the unit tests and the fuzzer).  The checksum covers
 * KEY, so a record is valid only under its own key.  index_encode writes
 * INDEX_REC_LEN octets and returns that length, or 0 if REC or KEY cannot
 * be encoded (a size out of range, sizes against the CRLF rule, an empty
 * or over-long key); index_decode returns 0, or -1 (and leaves *rec_r
 * alone) if the octets are not a valid record of KEY.
 */
#define INDEX_REC_LEN	(1 + 1 + 8 + 8 + 4)
size_t index_encode(const char *key, const struct index_rec *rec,
    unsigned char *out);
int index_decode(const char *key, const unsigned char *in, size_t len,
    struct index_rec *rec_r);

/*
 * The time of the maildrop's last accepted login (RFC 2449 LOGIN-DELAY),
 * under the key "#login": version (1 octet, 1), flags (1 octet, 0), the
 * time in seconds since the epoch (8 octets, big-endian, signed), and a
 * CRC-32C of the key's octets and octets 0-9 (4 octets, big-endian).
 * index_login_get() returns 1 and *t_r for a valid record, 0 when there
 * is none or it fails a check (it is then deleted: a damaged record lets
 * the next login in, it never keeps a user out), -1 on an I/O error (or
 * no index).  index_login_put() stores T: 0 or -1.
 */
#define INDEX_LOGIN_LEN	(1 + 1 + 8 + 4)
int index_login_get(struct index *idx, int64_t *t_r);
int index_login_put(struct index *idx, int64_t t);
/* Encode / decode the "#login" record (exposed for the unit tests):
 * encode writes INDEX_LOGIN_LEN octets and returns that length (0 for a
 * negative T); decode returns 0, or -1 if the octets are not a valid
 * record. */
size_t index_login_encode(int64_t t, unsigned char *out);
int index_login_decode(const unsigned char *in, size_t len, int64_t *t_r);

/* Non-zero if S (NUL-terminated) is a valid UIDL: 1-70 octets 0x21-0x7E
 * (RFC 1939 section 7).  make_uidl() in maildrop.c uses it. */
int index_uidl_valid(const char *s);

#endif
