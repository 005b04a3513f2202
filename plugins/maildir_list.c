/*
 * maildir_list.c - encode and check the listing record of a Maildir (see
 * maildir_list.h and doc/DESIGN.md section 7).
 *
 * PRIVILEGE: runs as the mail user in the session process (built into
 * store_maildir.so); the unit tests run it as whoever runs them.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Layout, integers big-endian:
 *   header (128 octets)
 *     0  8  magic "P23MDLST"       24  40  new/: dev 8, ino 8, mtime_s 8,
 *     8  4  version 1                      mtime_ns 4, ctime_s 8,
 *    12  4  count                          ctime_ns 4
 *    16  8  made_s                 64  40  cur/: the same
 *   104  8  ents_len              112   4  ents_crc (CRC-32C)
 *   116  8  zero                  124   4  CRC-32C of octets 0-123
 *   count entries, in the listing's order
 *     flags (1), key length (1), info length (1), key, NUL,
 *     and if flags has MD_LIST_F_INFO: info, NUL
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "../src/be.h"
#include "maildir_list.h"
#include "../src/crc32c.h"

#define MAGIC		"P23MDLST"
#define LIST_VERSION	1

static void
dir_encode(const struct md_list_dir *d, unsigned char *o)
{
	put64(o, d->dev);
	put64(o + 8, d->ino);
	put64(o + 16, (uint64_t)d->mtime_s);
	put32(o + 24, d->mtime_ns);
	put64(o + 28, (uint64_t)d->ctime_s);
	put32(o + 36, d->ctime_ns);
}

static void
dir_decode(const unsigned char *b, struct md_list_dir *d)
{
	d->dev = get64(b);
	d->ino = get64(b + 8);
	d->mtime_s = (int64_t)get64(b + 16);
	d->mtime_ns = get32(b + 24);
	d->ctime_s = (int64_t)get64(b + 28);
	d->ctime_ns = get32(b + 36);
}

size_t
md_list_hdr_encode(const struct md_list_hdr *h, unsigned char *o)
{
	memset(o, 0, MD_LIST_HDR_LEN);
	memcpy(o, MAGIC, 8);
	put32(o + 8, LIST_VERSION);
	put32(o + 12, h->count);
	put64(o + 16, (uint64_t)h->made_s);
	dir_encode(&h->dir[0], o + 24);
	dir_encode(&h->dir[1], o + 64);
	put64(o + 104, h->ents_len);
	put32(o + 112, h->ents_crc);
	put32(o + 124, crc32c(0, o, 124));
	return MD_LIST_HDR_LEN;
}

int
md_list_hdr_decode(const unsigned char *b, size_t len, struct md_list_hdr *h)
{
	size_t i;

	if (len < MD_LIST_HDR_LEN || memcmp(b, MAGIC, 8) != 0 ||
	    get32(b + 8) != LIST_VERSION ||
	    get32(b + 124) != crc32c(0, b, 124))
		return -1;
	for (i = 116; i < 124; i++)
		if (b[i] != 0)
			return -1;
	memset(h, 0, sizeof *h);
	h->count = get32(b + 12);
	h->made_s = (int64_t)get64(b + 16);
	dir_decode(b + 24, &h->dir[0]);
	dir_decode(b + 64, &h->dir[1]);
	h->ents_len = get64(b + 104);
	h->ents_crc = get32(b + 112);
	if (h->count > MD_LIST_COUNT_MAX ||
	    h->ents_len < (uint64_t)h->count * MD_LIST_ENT_MIN ||
	    h->ents_len > (uint64_t)h->count * (3 + NAME_MAX + 2) ||
	    h->dir[0].mtime_ns >= 1000000000u ||
	    h->dir[0].ctime_ns >= 1000000000u ||
	    h->dir[1].mtime_ns >= 1000000000u ||
	    h->dir[1].ctime_ns >= 1000000000u)
		return -1;
	return 0;
}

size_t
md_list_ent_encode(int dir, const char *key, size_t keylen, const char *info,
    unsigned char *o)
{
	size_t il = info != NULL ? strlen(info) : 0, n;

	o[0] = (unsigned char)((dir ? MD_LIST_F_CUR : 0) |
	    (info != NULL ? MD_LIST_F_INFO : 0));
	o[1] = (unsigned char)keylen;
	o[2] = (unsigned char)il;
	memcpy(o + 3, key, keylen);
	o[3 + keylen] = '\0';
	n = 3 + keylen + 1;
	if (info != NULL) {
		memcpy(o + n, info, il);
		o[n + il] = '\0';
		n += il + 1;
	}
	return n;
}

/* The LEN octets at S (followed by a NUL) hold no NUL and no '/' (and,
 * for a key, no ':'): strlen() and memchr(), which look at many octets
 * at a time. */
static int
part_ok(const unsigned char *s, size_t len, int key)
{
	return strlen((const char *)s) == len && memchr(s, '/', len) == NULL &&
	    (!key || memchr(s, ':', len) == NULL);
}

int
md_list_ents_walk(unsigned char *buf, size_t len, uint32_t count,
    uint32_t crc, size_t keymax, md_list_ent_fn *fn, void *arg)
{
	size_t off = 0, kl, il;
	uint32_t i;
	unsigned char f, *key, *info;

	if (crc32c(0, buf, len) != crc)
		return -1;
	for (i = 0; i < count; i++) {
		if (len - off < MD_LIST_ENT_MIN)
			return -1;
		f = buf[off];
		kl = buf[off + 1];
		il = buf[off + 2];
		if ((f & ~(MD_LIST_F_CUR | MD_LIST_F_INFO)) != 0 || kl == 0 ||
		    kl > keymax || (!(f & MD_LIST_F_INFO) && il != 0) ||
		    kl + ((f & MD_LIST_F_INFO) ? 1 + il : 0) > NAME_MAX)
			return -1;
		key = buf + off + 3;
		off += 3 + kl + 1;
		if (off > len || key[kl] != '\0' || key[0] == '.' ||
		    !part_ok(key, kl, 1))
			return -1;
		info = NULL;
		if (f & MD_LIST_F_INFO) {
			info = buf + off;
			if (len - off < il + 1 || info[il] != '\0' ||
			    !part_ok(info, il, 0))
				return -1;
			off += il + 1;
		}
		if (fn(arg, (f & MD_LIST_F_CUR) != 0, (char *)key, kl,
		    (char *)info) != 0)
			return -1;
	}
	return off == len ? 0 : -1;
}
