/*
 * maildrop.h - the shared maildrop core behind POP2 and POP3: the message
 * list frozen at login, sizes and UIDLs (from the index or computed once),
 * deletion marks, accessed marks and LAST, and the commit at UPDATE.  A
 * message is handed out as its raw stored octets (a struct msgstream);
 * the protocol layer puts it on the wire (wire.h).  The core's only tie
 * to the wire format is the size rule it measures with (crlf.h).
 * Runs as the mail user, never as root.
 */
#ifndef POP23D_MAILDROP_H
#define POP23D_MAILDROP_H

#include <stddef.h>
#include <stdint.h>
#include <pop23d/plugin.h>
#include "defaults.h"
#include "msgstream.h"

struct index;
struct uidl_block;

struct maildrop_msg {
	const char *key;	/* the storage's unique key */
	size_t sidx;		/* the storage's index (list() order): not
				 * n - 1 once a message was skipped */
	const char *uidl;	/* from the key, never the index: the key
				 * itself, or its MD5 in md->uidl_blocks */
	uint64_t size;		/* CRLF octets sent, no stuffing */
	uint64_t raw_size;	/* stored octets */
	unsigned deleted:1;	/* marked in this session (DELE / ACKD) */
	unsigned accessed:1;	/* accessed, this session or earlier */
	unsigned accessed_before:1;	/* accessed before this session */
	unsigned from_hint:1;	/* sizes from the key's hints, no record */
	unsigned unverified:1;	/* ... not yet checked against the file */
	unsigned mark_failed:1;	/* the storage could not record it seen */
};

struct maildrop {
	const struct pop23d_store_ops *ops;
	struct pop23d_mbox *mbox;
	struct index *index;
	struct maildrop_msg *msgs;
	size_t count;		/* messages at login */
	size_t live;		/* not marked deleted */
	uint64_t live_octets;
	size_t last;		/* RFC 1225 LAST: highest message accessed */
	size_t last_start;	/* LAST at the start of the session */
	int read_only;
	/* RFC 2449 EXPIRE: at a commit, messages accessed (this session or
	 * before) whose stored file is at least this many days old are
	 * removed too; -1 (the default): never.  Set by the front end. */
	int expire_days;
	/* statistics for the log and tests */
	size_t index_hits, index_misses;
	struct uidl_block *uidl_blocks;	/* MD5 UIDLs of keys that are
					 * not UIDLs themselves */
	size_t hinted;		/* sizes taken from key hints */
	size_t hinted_hits;	/* hinted keys that had a record */
	int hinted_lookup;	/* the index may hold records of hinted keys */
	size_t skipped;		/* listed but unreadable: left out */
};

/*
 * Open the maildrop at LOCATION (folder NAME, or the default one when
 * NAME is NULL) through OPS, take its lock, read its index and build the
 * message list.  A listed message that cannot be opened or read (and has
 * no valid index record) is left out and logged; the rest are numbered
 * 1..count without gaps.  Returns POP23D_OK and *md_r, or POP23D_INUSE,
 * POP23D_NOUSER (no such folder), POP23D_TEMPFAIL, POP23D_PERMFAIL with
 * *error_r (static text for the log).
 */
enum pop23d_result maildrop_open(const struct pop23d_store_ops *ops,
    const char *location, const char *name, struct maildrop **md_r,
    const char **error_r);
/*
 * A login's policy check (RFC 2449 LOGIN-DELAY), for maildrop_open_login().
 * DELAY: minimum seconds between accepted logins (0: none); NOW: the
 * time; WAIT: set to the seconds still to wait when the login is refused.
 */
struct maildrop_login {
	unsigned delay;
	int64_t now;
	int64_t wait;
};
/*
 * maildrop_open() of the default maildrop for a login.  After the lock is
 * taken and before anything is listed or measured, the index's login-time
 * record is compared with L->now: less than L->delay seconds since the
 * last accepted login gives POP23D_INUSE with L->wait > 0, and nothing is
 * stored or changed.  Otherwise L->now becomes the new login time.  No
 * index, or a missing, damaged or future record, lets the login in
 * (never a lock-out); a maildrop that does not exist yet has no index.
 */
enum pop23d_result maildrop_open_login(const struct pop23d_store_ops *ops,
    const char *location, struct maildrop_login *l, struct maildrop **md_r,
    const char **error_r);
/*
 * RFC 2449 EXPIRE: 1 if a message of file time MTIME, accessed, is due at
 * NOW under a policy of DAYS (>= 0): at least DAYS * 86400 seconds old.
 * DAYS 0 expires every accessed message.  Pure, for the unit tests.
 */
int maildrop_expired(int64_t mtime, int64_t now, int days);

/* Message N (1-based) if it exists and is not marked deleted, else NULL. */
struct maildrop_msg *maildrop_get(struct maildrop *md, size_t n);
/* Mark N deleted.  0, or -1 if absent or already deleted. */
int maildrop_delete(struct maildrop *md, size_t n);
/* Record N as accessed in this session and raise LAST: after a RETR that
 * sent the whole message, and at a POP2 ACKS or ACKD (TOP and NACK do
 * not). */
void maildrop_access(struct maildrop *md, size_t n);
/* RSET: clear the deletion marks and this session's accessed marks,
 * restore LAST to its starting value. */
void maildrop_reset(struct maildrop *md);
/*
 * Open message N (1-based, not marked deleted) for reading into *ST_R.
 * The stored size is checked against the record first: a mismatch drops
 * the record at once (maildrop_forget()).  Returns 0, or -1 with *ERROR_R
 * (static text) when the message cannot be opened or changed under us;
 * nothing has been sent then, so the caller may answer with an error and
 * go on.  The caller closes the stream (msgstream_close()).
 */
int maildrop_msg_open(struct maildrop *md, size_t n, struct msgstream *st_r,
    const char **error_r);
/*
 * The record of message N disagrees with the stored message (its size, or
 * the octets its stream gave: wire.h's STALE): drop the index record now,
 * so the next look measures the message again.  Logged.
 */
void maildrop_forget(struct maildrop *md, size_t n);
/*
 * UPDATE: delete the marked messages durably, record accessed marks in the
 * storage and the index.  Returns 0, or -1 with *error_r (some messages
 * may be gone; nothing unmarked is ever deleted).
 */
int maildrop_commit(struct maildrop *md, const char **error_r);
/* Unlock and free without committing; *md becomes NULL. */
void maildrop_close(struct maildrop **md);

/*
 * Compute the size of a stored message of LEN raw octets read from FD at
 * OFFSET by the crlf.h rule (used when the index has no record): the
 * octets RETR sends, without stuffing and terminator.  0 or -1.
 */
int maildrop_measure(int fd, off_t offset, off_t len, uint64_t *size_r);

#endif
