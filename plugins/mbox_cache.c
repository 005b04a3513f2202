/*
 * mbox_cache.c - encode and check the offset record of an mbox (see
 * mbox_cache.h and doc/DESIGN.md 13.2).  The record lives in a directory
 * of the user, so it is read as hostile: every field is checked here
 * before the plugin uses any of it.
 *
 * PRIVILEGE: runs as the mail user in the session process (built into
 * store_mbox.so); the fuzzer and unit tests run it as whoever runs them.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Layout, integers big-endian:
 *   header (96 octets)
 *     0  8  magic "P23MBOXC"          60  8  made_s (when it was made)
 *     8  4  version 2                 68  4  count
 *    12  8  st_dev                    72  4  reparse
 *    20  8  st_ino                    76  4  last_crc
 *    28  8  len                       80  4  ents_crc
 *    36  8  ctime_s   44  4 ctime_ns  84  4  made_ns
 *    48  8  mtime_s   56  4 mtime_ns  88  4  zero
 *                                     92  4  CRC-32C of octets 0-91
 * (version 1 had no made_ns: its records are simply not used)
 *   count entries
 *     from, body, hend, end, next (8 each), hcrc (4), flags (1),
 *     key length (1), key
 */
#include "config.h"

#include <string.h>

#include "mbox_cache.h"
#include "../src/crc32c.h"

#define MAGIC		"P23MBOXC"
#define CACHE_VERSION	MBOX_CACHE_VERSION
#define KNOWN_FLAGS	(MBOX_F_INTERNAL | MBOX_F_CLEN | MBOX_F_UIDL)
/* Limits of sizes: the parser's (2^62) */
#define OFF_MAX		((uint64_t)1 << 62)

size_t
mbox_cache_hdr_encode(const struct mbox_cache_hdr *h, unsigned char *o)
{
	memset(o, 0, MBOX_CACHE_HDR_LEN);
	memcpy(o, MAGIC, 8);
	put32(o + 8, CACHE_VERSION);
	put64(o + 12, h->dev);
	put64(o + 20, h->ino);
	put64(o + 28, h->len);
	put64(o + 36, (uint64_t)h->ctime_s);
	put32(o + 44, h->ctime_ns);
	put64(o + 48, (uint64_t)h->mtime_s);
	put32(o + 56, h->mtime_ns);
	put64(o + 60, (uint64_t)h->made_s);
	put32(o + 68, h->count);
	put32(o + 72, h->reparse);
	put32(o + 76, h->last_crc);
	put32(o + 80, h->ents_crc);
	put32(o + 84, h->made_ns);
	put32(o + 92, crc32c(0, o, 92));
	return MBOX_CACHE_HDR_LEN;
}

size_t
mbox_cache_ent_encode(const struct mbox_cache_ent *e, unsigned char *o)
{
	size_t kl = strnlen(e->key, MBOX_UIDL_MAX);

	put64(o, e->from);
	put64(o + 8, e->body);
	put64(o + 16, e->hend);
	put64(o + 24, e->end);
	put64(o + 32, e->next);
	put32(o + 40, e->hcrc);
	o[44] = (unsigned char)e->flags;
	o[45] = (unsigned char)kl;
	memcpy(o + 46, e->key, kl);
	return 46 + kl;
}

/* A key as the plugin makes it: an X-UIDL value (1-70 octets 0x21-0x7E)
 * when the UIDL flag says so, else 32 lower-case hex digits.  Branch-free
 * loops of fixed shape (the compiler vectorizes them): a warm login
 * checks every key of the record. */
static int
key_ok(const unsigned char *k, size_t kl, unsigned flags)
{
	unsigned bad = 0;
	size_t i;

	if (kl == 0 || kl > MBOX_UIDL_MAX)
		return 0;
	if (!(flags & MBOX_F_UIDL)) {
		if (kl != 32)
			return 0;
		for (i = 0; i < 32; i++)
			bad |= (unsigned)((unsigned char)(k[i] - '0') > 9 &&
			    (unsigned char)(k[i] - 'a') > 5);
		return bad == 0;
	}
	for (i = 0; i < kl; i++)
		bad |= (unsigned)((unsigned char)(k[i] - 0x21) > 0x7e - 0x21);
	return bad == 0;
}

uint32_t
mbox_cache_version(const unsigned char *buf, size_t len)
{
	if (len < MBOX_CACHE_HDR_LEN || memcmp(buf, MAGIC, 8) != 0)
		return 0;
	return get32(buf + 8);
}

int
mbox_cache_decode(const unsigned char *buf, size_t len,
    struct mbox_cache_hdr *h, int (*fn)(const struct mbox_cache_ent *,
    void *), void *arg)
{
	struct mbox_cache_ent e;
	const unsigned char *p, *end;
	uint64_t expect = 0;
	uint32_t i;
	size_t kl;

	if (len < MBOX_CACHE_HDR_LEN || memcmp(buf, MAGIC, 8) != 0 ||
	    get32(buf + 8) != CACHE_VERSION ||
	    get32(buf + 92) != crc32c(0, buf, 92))
		return -1;
	for (i = 88; i < 92; i++)
		if (buf[i] != 0)
			return -1;
	h->dev = get64(buf + 12);
	h->ino = get64(buf + 20);
	h->len = get64(buf + 28);
	h->ctime_s = (int64_t)get64(buf + 36);
	h->ctime_ns = get32(buf + 44);
	h->mtime_s = (int64_t)get64(buf + 48);
	h->mtime_ns = get32(buf + 56);
	h->made_s = (int64_t)get64(buf + 60);
	h->count = get32(buf + 68);
	h->reparse = get32(buf + 72);
	h->last_crc = get32(buf + 76);
	h->ents_crc = get32(buf + 80);
	h->made_ns = get32(buf + 84);
	if (h->len >= OFF_MAX || h->count == 0 ||
	    h->count > MBOX_CACHE_COUNT_MAX || h->reparse >= h->count ||
	    h->ctime_ns >= 1000000000u || h->mtime_ns >= 1000000000u ||
	    h->made_ns >= 1000000000u ||
	    (len - MBOX_CACHE_HDR_LEN) / MBOX_CACHE_ENT_MIN < h->count ||
	    (len - MBOX_CACHE_HDR_LEN) > (size_t)h->count * MBOX_CACHE_ENT_MAX)
		return -1;
	p = buf + MBOX_CACHE_HDR_LEN;
	end = buf + len;
	if (crc32c(0, p, (size_t)(end - p)) != h->ents_crc)
		return -1;
	for (i = 0; i < h->count; i++) {
		if ((size_t)(end - p) < 46)
			return -1;
		e.from = get64(p);
		e.body = get64(p + 8);
		e.hend = get64(p + 16);
		e.end = get64(p + 24);
		e.next = get64(p + 32);
		e.hcrc = get32(p + 40);
		e.flags = p[44];
		kl = p[45];
		if ((size_t)(end - p) - 46 < kl)
			return -1;
		/* the messages tile the prefix after the preamble, each
		 * in order: from < body <= hend <= end <= next */
		if ((i == 0 ? e.from > h->len : e.from != expect) ||
		    e.from >= e.body || e.body > e.hend || e.hend > e.end ||
		    e.end > e.next || e.next > h->len ||
		    e.body - e.from > MBOX_FROM_LINE_MAX + 1 ||
		    (e.flags & ~(unsigned)KNOWN_FLAGS) != 0 ||
		    ((e.flags & MBOX_F_INTERNAL) && i != 0) ||
		    !key_ok(p + 46, kl, e.flags))
			return -1;
		memcpy(e.key, p + 46, kl);
		e.key[kl] = '\0';
		expect = e.next;
		p += 46 + kl;
		if (fn != NULL && fn(&e, arg) != 0)
			return -1;
	}
	if (p != end || expect != h->len)
		return -1;
	return 0;
}
