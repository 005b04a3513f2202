/*
 * idxsnap.c - encode and check the snapshot of the index's message
 * records (see idxsnap.h and doc/DESIGN.md section 7).
 *
 * PRIVILEGE: runs as the mail user in the session process (index.c); the
 * unit tests and the fuzzer run it as whoever runs them.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * Layout, integers big-endian:
 *   header (128 octets)
 *     0  8  magic "P23IXSNP"        52  8  ctime_s
 *     8  4  version 1               60  4  ctime_ns
 *    12  4  count                   64  8  gen_id
 *    16  8  dev                     72  8  gen_ctr
 *    24  8  ino                     80  8  ents_len
 *    32  8  size                    88  4  ents_crc (CRC-32C)
 *    40  8  mtime_s                 92  4  vlen
 *    48  4  mtime_ns                96  4  file_crc (CRC-32C)
 *                                  100 24  zero
 *                                  124  4  CRC-32C of octets 0-123
 *   count entries
 *     key length (2), key, value (vlen octets)
 */
#include "config.h"

#include <string.h>

#include "be.h"
#include "crc32c.h"
#include "idxsnap.h"

#define MAGIC		"P23IXSNP"
#define SNAP_VERSION	1
#define PAD_OFF		100
#define HDR_CRC_OFF	124

size_t
idxsnap_hdr_encode(const struct idxsnap_hdr *h, unsigned char *o)
{
	memset(o, 0, IDXSNAP_HDR_LEN);
	memcpy(o, MAGIC, 8);
	put32(o + 8, SNAP_VERSION);
	put32(o + 12, h->count);
	put64(o + 16, h->id.dev);
	put64(o + 24, h->id.ino);
	put64(o + 32, h->id.size);
	put64(o + 40, (uint64_t)h->id.mtime_s);
	put32(o + 48, h->id.mtime_ns);
	put64(o + 52, (uint64_t)h->id.ctime_s);
	put32(o + 60, h->id.ctime_ns);
	put64(o + 64, h->id.gen_id);
	put64(o + 72, h->id.gen_ctr);
	put64(o + 80, h->ents_len);
	put32(o + 88, h->ents_crc);
	put32(o + 92, h->vlen);
	put32(o + 96, h->id.file_crc);
	put32(o + HDR_CRC_OFF, crc32c(0, o, HDR_CRC_OFF));
	return IDXSNAP_HDR_LEN;
}

int
idxsnap_hdr_decode(const unsigned char *b, size_t len, struct idxsnap_hdr *h)
{
	struct idxsnap_hdr d;
	size_t i;

	if (b == NULL || len < IDXSNAP_HDR_LEN || memcmp(b, MAGIC, 8) != 0 ||
	    get32(b + 8) != SNAP_VERSION ||
	    get32(b + HDR_CRC_OFF) != crc32c(0, b, HDR_CRC_OFF))
		return -1;
	for (i = PAD_OFF; i < HDR_CRC_OFF; i++)
		if (b[i] != 0)
			return -1;
	memset(&d, 0, sizeof d);
	d.count = get32(b + 12);
	d.id.dev = get64(b + 16);
	d.id.ino = get64(b + 24);
	d.id.size = get64(b + 32);
	d.id.mtime_s = (int64_t)get64(b + 40);
	d.id.mtime_ns = get32(b + 48);
	d.id.ctime_s = (int64_t)get64(b + 52);
	d.id.ctime_ns = get32(b + 60);
	d.id.gen_id = get64(b + 64);
	d.id.gen_ctr = get64(b + 72);
	d.ents_len = get64(b + 80);
	d.ents_crc = get32(b + 88);
	d.vlen = get32(b + 92);
	d.id.file_crc = get32(b + 96);
	if (d.count > IDXSNAP_COUNT_MAX || d.vlen == 0 ||
	    d.vlen > IDXSNAP_VAL_MAX ||
	    d.ents_len < (uint64_t)d.count * IDXSNAP_ENT_LEN(1, d.vlen) ||
	    d.ents_len > (uint64_t)d.count *
	    IDXSNAP_ENT_LEN(IDXSNAP_KEY_MAX, d.vlen) ||
	    d.id.mtime_ns >= 1000000000u || d.id.ctime_ns >= 1000000000u)
		return -1;
	if (h != NULL)
		*h = d;
	return 0;
}

size_t
idxsnap_ent_encode(const char *key, size_t klen, const unsigned char *val,
    size_t vlen, unsigned char *o)
{
	if (key == NULL || val == NULL || klen == 0 ||
	    klen > IDXSNAP_KEY_MAX || vlen == 0 || vlen > IDXSNAP_VAL_MAX ||
	    memchr(key, '\0', klen) != NULL)
		return 0;
	o[0] = (unsigned char)(klen >> 8);
	o[1] = (unsigned char)klen;
	memcpy(o + 2, key, klen);
	memcpy(o + 2 + klen, val, vlen);
	return IDXSNAP_ENT_LEN(klen, vlen);
}

int
idxsnap_ents_walk(const unsigned char *buf, const struct idxsnap_hdr *h,
    size_t keymax, idxsnap_ent_fn *fn, void *arg)
{
	size_t off = 0, len, kl, vl;
	uint32_t i;

	if (buf == NULL || h == NULL || h->ents_len > SIZE_MAX ||
	    h->vlen == 0 || h->vlen > IDXSNAP_VAL_MAX)
		return -1;
	len = (size_t)h->ents_len;
	vl = h->vlen;
	if (keymax > IDXSNAP_KEY_MAX)
		keymax = IDXSNAP_KEY_MAX;
	if (crc32c(0, buf, len) != h->ents_crc)
		return -1;
	for (i = 0; i < h->count; i++) {
		if (len - off < IDXSNAP_ENT_LEN(1, vl))
			return -1;
		kl = (size_t)buf[off] << 8 | buf[off + 1];
		if (kl == 0 || kl > keymax ||
		    len - off - 2 < kl + vl ||
		    memchr(buf + off + 2, '\0', kl) != NULL)
			return -1;
		if (fn != NULL && fn(arg, (const char *)buf + off + 2, kl,
		    buf + off + 2 + kl) != 0)
			return -1;
		off += IDXSNAP_ENT_LEN(kl, vl);
	}
	return off == len ? 0 : -1;
}
