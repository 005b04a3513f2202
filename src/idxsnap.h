/*
 * idxsnap.h - the snapshot of the GDBM index's message records
 * (pop23d.index.snap beside pop23d.index): every record's key and value
 * as they were when a session last closed the index, with what the GDBM
 * file looked like then (device, inode, size, mtime and ctime to the
 * nanosecond, a CRC-32C of all its octets) and the generation record
 * inside it, so that a login to an unchanged index reads one flat file instead of walking GDBM key by key
 * (index.c, doc/DESIGN.md section 7).  Pure encode and decode, no I/O:
 * index.c, the unit suite and the fuzzer call it.  The file lives in a
 * directory of the user, so it is read as hostile: every field and every
 * entry is checked here; the values are index records, which index.c
 * checks again (index_decode()) before it uses one.
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_IDXSNAP_H
#define POP23D_IDXSNAP_H

#include <stddef.h>
#include <stdint.h>

#define IDXSNAP_HDR_LEN		128
/* A key is 1..IDXSNAP_KEY_MAX octets without NUL; every value has the
 * header's vlen octets, 1..IDXSNAP_VAL_MAX. */
#define IDXSNAP_KEY_MAX		65535
#define IDXSNAP_VAL_MAX		255
/* At most 2^24 entries: a header that claims more is damaged. */
#define IDXSNAP_COUNT_MAX	((uint32_t)1 << 24)

/* What the GDBM file looked like, and its generation record. */
struct idxsnap_id {
	uint64_t dev, ino, size;
	int64_t mtime_s, ctime_s;
	uint32_t mtime_ns, ctime_ns;
	uint64_t gen_id;	/* the file's random identity */
	uint64_t gen_ctr;	/* bumped before every session's first write */
	uint32_t file_crc;	/* CRC-32C of all the file's octets */
};

struct idxsnap_hdr {
	uint32_t count;		/* entries */
	uint32_t vlen;		/* octets of every value */
	struct idxsnap_id id;
	uint64_t ents_len;	/* octets of entries after the header */
	uint32_t ents_crc;	/* CRC-32C of those octets */
};

/* Encode H into O (IDXSNAP_HDR_LEN octets).  Returns IDXSNAP_HDR_LEN. */
size_t idxsnap_hdr_encode(const struct idxsnap_hdr *h, unsigned char *o);
/* Decode the header at B (LEN octets available): 0, or -1 if it is not a
 * version 1 header with a good checksum, zero padding and sane counts. */
int idxsnap_hdr_decode(const unsigned char *b, size_t len,
    struct idxsnap_hdr *h);
/* The most octets one entry with a KLEN-octet key and VLEN-octet value
 * takes. */
#define IDXSNAP_ENT_LEN(klen, vlen)	(2 + (size_t)(klen) + (size_t)(vlen))
/* Encode one entry into O: the key (KLEN octets) and VLEN octets of VAL.
 * Returns its length, or 0 if the key or value cannot be encoded (empty,
 * too long, a NUL in the key). */
size_t idxsnap_ent_encode(const char *key, size_t klen,
    const unsigned char *val, size_t vlen, unsigned char *o);

/* Called for each entry, in order; KEY and VAL point into the buffer (KEY
 * is not NUL-terminated).  0 to go on, -1 to stop. */
typedef int idxsnap_ent_fn(void *arg, const char *key, size_t klen,
    const unsigned char *val);
/*
 * Check and walk the entries of header H in BUF (h->ents_len octets):
 * the CRC, then every entry (a key of 1..KEYMAX octets without NUL, a
 * value of h->vlen octets), exactly h->count of them filling the buffer.
 * 0, or -1 (damaged, or FN stopped).
 */
int idxsnap_ents_walk(const unsigned char *buf, const struct idxsnap_hdr *h,
    size_t keymax, idxsnap_ent_fn *fn, void *arg);

#endif
