/*
 * crlf.h - the one home of the line-end rule: how the stored octets of a
 * message become the octets on the wire.  The maildrop core measures a
 * message with it (the size LIST, STAT and POP2 "=n" announce) and the
 * wire module sends with it, so the size promised and the octets sent
 * cannot disagree by construction (doc/DESIGN.md section 5, "Sizes").
 *
 * The rule (RFC 1939 section 3, RFC 937 "Message Length"):
 *   - CRLF stays CRLF; a bare LF becomes CRLF;
 *   - a bare CR (not followed by LF) is an ordinary octet;
 *   - a last line without a line end gets a CRLF;
 *   - an empty message stays empty.
 * Dot-stuffing and the POP3 terminator are not part of it: they are the
 * wire module's, and never counted in a size.
 *
 * The input comes in chunks of any size; a CR at the end of a chunk is
 * held until the next one says whether an LF follows.
 * Pure computation; no I/O, no privilege.
 */
#ifndef POP23D_CRLF_H
#define POP23D_CRLF_H

#include <stddef.h>
#include <stdint.h>

struct crlf {
	int held_cr;		/* the last chunk ended in CR */
	int mid_line;		/* octets of the current line were given */
};

/* One piece of output: line text (no line end in it), or a line end. */
struct crlf_piece {
	const char *p;		/* the octets to send */
	size_t len;		/* their count (an EOL is "\r\n", 2) */
	int eol;		/* 1: this piece ends a line */
};

void crlf_init(struct crlf *c);
/*
 * The next piece of the stored octets BUF[0..LEN).  Returns how many
 * octets of BUF it used (0 is possible: a held CR given out); *PC gets the
 * piece, whose LEN may be 0 (nothing to send yet).  Call with LEN > 0.
 */
size_t crlf_next(struct crlf *c, const char *buf, size_t len,
    struct crlf_piece *pc);
/*
 * After the last chunk: 1 and the next closing piece in *PC (a held CR,
 * then the CRLF an unterminated last line gets), or 0 when none is left.
 */
int crlf_end(struct crlf *c, struct crlf_piece *pc);
/* Octets BUF[0..LEN) become on the wire (crlf_next() summed). */
uint64_t crlf_count(struct crlf *c, const char *buf, size_t len);
/* Octets crlf_end() adds. */
uint64_t crlf_count_end(struct crlf *c);

#endif
