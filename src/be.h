/*
 * be.h - big-endian fields of pop23d's own files (the index's records and
 * its snapshot, the mbox offset record and UPDATE stage, the Maildir
 * listing record): one home for all of them, in the daemon and in the
 * storage plugins.  Pure computation.
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_BE_H
#define POP23D_BE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

/* memcpy() and the byte-order macros compile to one load or store and
 * a bswap: a warm mbox login decodes five 64-bit fields per message of
 * its offset record. */
static inline void
put64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static inline void
put32(unsigned char *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static inline uint64_t
get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

static inline uint32_t
get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

#endif
