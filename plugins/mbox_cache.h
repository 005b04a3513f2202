/*
 * mbox_cache.h - the offset record of an mbox (pop23d.mbox-cache in the
 * mailbox's index directory): what a login needs to skip parsing the
 * part of the file it has seen before.  Pure encode and decode, no I/O:
 * store_mbox.c, the unit suite and the libFuzzer target call it.
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_MBOX_CACHE_H
#define POP23D_MBOX_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../src/be.h"
#include "mbox_parse.h"

#define MBOX_CACHE_HDR_LEN	96
/* An entry: 5 offsets, a CRC, flags, the key's length, the key. */
#define MBOX_CACHE_ENT_MIN	(5 * 8 + 4 + 1 + 1 + 1)
#define MBOX_CACHE_ENT_MAX	(5 * 8 + 4 + 1 + 1 + MBOX_UIDL_MAX)
/* At most 2^22 messages (4 194 304; 330 MiB of record at most): a
 * record that claims more is damaged; a bigger mbox is parsed whole. */
#define MBOX_CACHE_COUNT_MAX	((uint32_t)1 << 22)

struct mbox_cache_hdr {
	uint64_t dev, ino;
	uint64_t len;		/* the indexed prefix: the file's size then */
	int64_t ctime_s, mtime_s, made_s;
	uint32_t ctime_ns, mtime_ns, made_ns;
	uint32_t count;		/* messages, c-client's internal one too */
	uint32_t reparse;	/* first entry an append can change */
	uint32_t last_crc;	/* CRC-32C of the prefix's last 4 KiB */
	uint32_t ents_crc;	/* CRC-32C of all entry octets */
};

struct mbox_cache_ent {
	uint64_t from, body, hend, end, next;	/* hend: end of the header */
	uint32_t hcrc;		/* CRC-32C of [from, hend) */
	unsigned flags;		/* MBOX_F_* */
	char key[MBOX_UIDL_MAX + 1];	/* the key before "-N" suffixes */
};

/* Encode into OUT (MBOX_CACHE_HDR_LEN or MBOX_CACHE_ENT_MAX octets);
 * the number of octets written.  The header's ents_crc must be set. */
size_t mbox_cache_hdr_encode(const struct mbox_cache_hdr *h,
    unsigned char *out);
size_t mbox_cache_ent_encode(const struct mbox_cache_ent *e,
    unsigned char *out);

/* The layout's version (octets 8-11); a record of another version is
 * not damaged, only of no use (mbox_cache_version()). */
#define MBOX_CACHE_VERSION	2

/* The version a record BUF of LEN octets claims, or 0 if it is not one
 * of ours at all. */
uint32_t mbox_cache_version(const unsigned char *buf, size_t len);

/*
 * Check a whole record BUF (LEN octets) and report its entries in order
 * to FN (non-zero stops: -1).  Every rule of doc/DESIGN.md 13.2 is
 * checked before FN sees an entry: magic, version, the header's and the
 * entries' CRC-32C, the count, every offset inside the prefix and in
 * order, the entries tiling the prefix after the preamble, known flags,
 * keys that are UIDLs.  0, or -1 for a record that must not be used.
 */
int mbox_cache_decode(const unsigned char *buf, size_t len,
    struct mbox_cache_hdr *h, int (*fn)(const struct mbox_cache_ent *,
    void *), void *arg);

#endif
