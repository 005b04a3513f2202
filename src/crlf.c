/*
 * crlf.c - the line-end rule, one piece at a time (see crlf.h).
 * PRIVILEGE: none; pure computation on message octets (the mail-user
 * session).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "crlf.h"

static const char crlf_eol[] = "\r\n";

void
crlf_init(struct crlf *c)
{
	c->held_cr = 0;
	c->mid_line = 0;
}

static size_t
piece(struct crlf_piece *pc, const char *p, size_t len, int eol)
{
	pc->p = p;
	pc->len = len;
	pc->eol = eol;
	return len;
}

size_t
crlf_next(struct crlf *c, const char *buf, size_t len, struct crlf_piece *pc)
{
	const char *nl;
	size_t text;

	if (c->held_cr) {
		c->held_cr = 0;
		if (buf[0] == '\n') {
			/* CR | LF across two chunks: one line end */
			c->mid_line = 0;
			piece(pc, crlf_eol, 2, 1);
			return 1;
		}
		c->mid_line = 1;	/* a bare CR: an ordinary octet */
		piece(pc, "\r", 1, 0);
		return 0;
	}
	if ((nl = memchr(buf, '\n', len)) == NULL) {
		/* No line end in this chunk.  A CR at its end may be the
		 * first half of one: hold it. */
		text = len;
		if (buf[len - 1] == '\r') {
			c->held_cr = 1;
			text--;
		}
		if (text > 0)
			c->mid_line = 1;
		piece(pc, buf, text, 0);
		return len;
	}
	text = (size_t)(nl - buf);
	if (text > 0 && nl[-1] == '\r')
		text--;			/* CRLF: the CR is the line end's */
	if (text > 0) {
		c->mid_line = 1;
		return piece(pc, buf, text, 0);
	}
	/* The line end itself: "\n" or "\r\n" at BUF. */
	c->mid_line = 0;
	piece(pc, crlf_eol, 2, 1);
	return buf[0] == '\r' ? 2 : 1;
}

int
crlf_end(struct crlf *c, struct crlf_piece *pc)
{
	if (c->held_cr) {
		/* The message ended in a bare CR. */
		c->held_cr = 0;
		c->mid_line = 1;
		piece(pc, "\r", 1, 0);
		return 1;
	}
	if (c->mid_line) {
		/* A last line without a line end gets one. */
		c->mid_line = 0;
		piece(pc, crlf_eol, 2, 1);
		return 1;
	}
	return 0;
}

/*
 * The sum of crlf_next()'s pieces, without making them: memchr() from one
 * line end to the next, and the same state left behind, so that chunks
 * may be counted in any split and crlf_count_end() still closes them
 * right.  Measuring a message (maildrop.c) costs a fraction of what
 * producing its pieces does.  tests/unit check_wire.c compares the two
 * on random octets in random chunks.
 */
uint64_t
crlf_count(struct crlf *c, const char *buf, size_t len)
{
	const char *p = buf, *start = buf, *end = buf + len, *nl;
	uint64_t n = 0;

	if (len == 0)
		return 0;
	if (c->held_cr) {
		c->held_cr = 0;
		if (buf[0] == '\n') {
			n += 2;		/* CR | LF across two chunks */
			c->mid_line = 0;
			p = start = buf + 1;
		} else {
			n += 1;		/* a bare CR: an ordinary octet */
			c->mid_line = 1;
		}
	}
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) !=
	    NULL) {
		/* the line's text, then its end: "\r\n" already or a bare
		 * "\n" that gains a CR */
		n += (uint64_t)(nl - p) + (nl > start && nl[-1] == '\r' ?
		    1 : 2);
		c->mid_line = 0;
		p = nl + 1;
	}
	if (p < end) {
		size_t text = (size_t)(end - p);

		if (end[-1] == '\r') {
			c->held_cr = 1;
			text--;
		}
		if (text > 0)
			c->mid_line = 1;
		n += text;
	}
	return n;
}

uint64_t
crlf_count_end(struct crlf *c)
{
	struct crlf_piece pc;
	uint64_t n = 0;

	while (crlf_end(c, &pc))
		n += pc.len;
	return n;
}
