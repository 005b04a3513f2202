/*
 * mbox_parse.h - find the messages of an mbox file held in a buffer.
 * Pure: no I/O, no allocation, no global state; the storage plugin
 * (store_mbox.c), the unit tests and the libFuzzer target call it.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_MBOX_PARSE_H
#define POP23D_MBOX_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* The longest "From " line the parser looks at; a longer one is not a
 * separator (c-client and mutt read at most a line buffer's worth). */
#define MBOX_FROM_LINE_MAX	1000
/* An X-UIDL value is a UIDL: 1-70 octets 0x21-0x7E (RFC 1939 section 7). */
#define MBOX_UIDL_MAX		70

enum {
	MBOX_F_INTERNAL = 0x1,	/* c-client "FOLDER INTERNAL DATA" */
	MBOX_F_CLEN = 0x2,	/* ended by a Content-Length that agrees */
	MBOX_F_UIDL = 0x4,	/* uidl[] holds an X-UIDL: value */
};

struct mbox_msg {
	uint64_t from_off;	/* the "From " separator line */
	uint64_t body_off;	/* first octet of the message */
	uint64_t end_off;	/* one past its last octet */
	uint64_t next_off;	/* next separator, or the end of the buffer */
	uint64_t hdr_len;	/* octets of the header block incl. the blank
				   line (the whole message if it has none) */
	uint64_t clen_end;	/* where a Content-Length header claims the
				   message ends (used or not), or 0 */
	unsigned flags;
	char uidl[MBOX_UIDL_MAX + 1];
};

/* Called once per message in file order; non-zero stops the parse. */
typedef int mbox_msg_fn(const struct mbox_msg *m, void *arg);

/*
 * Parse BUF (LEN octets, the whole file from offset BASE on; BASE is
 * added to every offset reported).  *PREAMBLE_R (may be NULL) gets the
 * number of octets before the first separator (not a message: kept, never
 * served).  Returns the number of messages reported, or -1 if FN stopped
 * the parse.
 */
long mbox_parse(const unsigned char *buf, size_t len, uint64_t base,
    mbox_msg_fn *fn, void *arg, uint64_t *preamble_r);

/* Is the line at P (LEN octets up to, not including, its '\n') an mbox
 * separator: "From " and a ctime(3)-style date (exposed for tests). */
int mbox_is_from_line(const unsigned char *p, size_t len);

#endif
