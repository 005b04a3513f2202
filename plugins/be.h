/*
 * be.h - big-endian fields of the storage plugins' own files (the mbox
 * offset record and UPDATE stage, the Maildir listing record): one home
 * for all of them.  Pure computation.
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_BE_H
#define POP23D_BE_H

#include <stdint.h>

static inline void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

#endif
