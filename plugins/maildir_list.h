/*
 * maildir_list.h - the listing record of a Maildir (pop23d.list in the
 * maildir directory): the sorted names of new/ and cur/ as the last full
 * scan found them, with what new/ and cur/ looked like then, so that a
 * login into an unchanged Maildir reads no directory (store_maildir.c).
 * Pure encode and decode, no I/O: store_maildir.c and the unit suite call
 * it.  The record lives in a directory of the user, so it is read as
 * hostile: every field and every name is checked here.
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_MAILDIR_LIST_H
#define POP23D_MAILDIR_LIST_H

#include <stddef.h>
#include <stdint.h>

#define MD_LIST_HDR_LEN		128
/* An entry: flags, key length, info length, "key\0" and, if the flags
 * say so, "info\0". */
#define MD_LIST_ENT_MIN		(3 + 2)
/* At most 2^24 names (16 777 216): a record that claims more is
 * damaged; a bigger Maildir is scanned at every login. */
#define MD_LIST_COUNT_MAX	((uint32_t)1 << 24)
#define MD_LIST_F_CUR		0x01	/* in cur/ (else new/) */
#define MD_LIST_F_INFO		0x02	/* the name had a ':' */

/* What new/ (0) or cur/ (1) looked like at the scan. */
struct md_list_dir {
	uint64_t dev, ino;
	int64_t mtime_s, ctime_s;
	uint32_t mtime_ns, ctime_ns;
};

struct md_list_hdr {
	uint32_t count;		/* entries */
	int64_t made_s;		/* the clock when the scan began */
	struct md_list_dir dir[2];
	uint64_t ents_len;	/* octets of entries after the header */
	uint32_t ents_crc;	/* CRC-32C of those octets */
};

/* Encode H into O (MD_LIST_HDR_LEN octets).  Returns MD_LIST_HDR_LEN. */
size_t md_list_hdr_encode(const struct md_list_hdr *h, unsigned char *o);
/* Decode the header at B (LEN octets available): 0, or -1 if it is not a
 * version 1 record with a good checksum and sane counts. */
int md_list_hdr_decode(const unsigned char *b, size_t len,
    struct md_list_hdr *h);
/* Encode one entry into O (room for 3 + NAME_MAX + 2 octets): DIR 0/1,
 * the key (KEYLEN octets) and INFO (NULL: none).  Returns its length. */
size_t md_list_ent_encode(int dir, const char *key, size_t keylen,
    const char *info, unsigned char *o);

/* Called for each entry, in order; "key" and "info" point into the
 * buffer, NUL-terminated.  0 to go on, -1 to stop. */
typedef int md_list_ent_fn(void *arg, int dir, char *key, size_t keylen,
    char *info);
/*
 * Check and walk the COUNT entries in BUF (LEN octets, the header's
 * ents_len) against CRC: every name must be one the scan would take (no
 * '/', no NUL inside, no leading '.', key of 1..KEYMAX octets without
 * ':', the whole name at most NAME_MAX octets).  0, or -1 (damaged, or
 * FN stopped).
 */
int md_list_ents_walk(unsigned char *buf, size_t len, uint32_t count,
    uint32_t crc, size_t keymax, md_list_ent_fn *fn, void *arg);

#endif
