/*
 * wire.c - a message's body on the wire (see wire.h): line ends by the
 * crlf.h rule, POP3 dot-stuffing, TOP's header and line limit, the POP3
 * terminator, and a check of every octet against the announced size.
 * The stored octets are read in fixed chunks and written through the
 * connection's fixed output buffer; a message is never loaded whole.
 * PRIVILEGE: the mail-user session.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crlf.h"
#include "msgstream.h"
#include "net.h"
#include "wire.h"

/* Stored octets read at a time (64 KiB: few system calls, bounded). */
#define WIRE_CHUNK	65536

struct wire {
	struct net *out;
	int stuff;		/* POP3 dot-stuffing */
	long lines;		/* TOP: body lines still allowed; < 0: all */
	int in_header;		/* TOP: still in the header */
	int at_bol;		/* nothing of the current line sent yet */
	int line_empty;		/* the current line has no text */
	int done;		/* TOP: the limit is reached */
	uint64_t size;		/* announced */
	uint64_t sent;		/* octets sent, not counting stuffing */
	int stale;		/* the message disagrees with SIZE */
};

/* A line end was sent: TOP counts header and body lines. */
static void
wire_end_line(struct wire *w)
{
	if (w->in_header) {
		if (w->line_empty)
			w->in_header = 0;	/* the blank separator line */
	} else if (w->lines > 0)
		w->lines--;
	w->at_bol = 1;
	w->line_empty = 1;
	if (!w->in_header && w->lines == 0)
		w->done = 1;
}

/* Send one piece.  0, or -1 (write failed, or the size is passed). */
static int
wire_put(struct wire *w, const struct crlf_piece *pc)
{
	if (pc->len == 0)
		return 0;
	if (pc->len > w->size - w->sent) {
		/* More octets than announced: the record is wrong (or the
		 * file changed).  Not one octet past SIZE. */
		w->stale = 1;
		return -1;
	}
	if (!pc->eol) {
		/* RFC 1939 section 3: a line starting with "." gets one
		 * more; never counted in a size. */
		if (w->at_bol && w->stuff && pc->p[0] == '.' &&
		    net_write(w->out, ".", 1) != 0)
			return -1;
		w->at_bol = 0;
		w->line_empty = 0;
	}
	if (net_write(w->out, pc->p, pc->len) != 0)
		return -1;
	w->sent += pc->len;
	if (pc->eol)
		wire_end_line(w);
	return 0;
}

/* Send the stored octets of IN until its end or TOP's limit. */
static int
wire_body(struct wire *w, struct msgstream *in, char *buf,
    const char **error_r)
{
	struct crlf cr;
	struct crlf_piece pc;
	const char *p;
	ssize_t r;
	size_t k;

	crlf_init(&cr);
	while (!w->done) {
		if ((r = msgstream_read(in, buf, WIRE_CHUNK)) == -1) {
			w->stale = 1;
			*error_r = "read error";
			return -1;
		}
		if (r == 0)
			break;
		for (p = buf; r > 0 && !w->done; p += k, r -= (ssize_t)k) {
			k = crlf_next(&cr, p, (size_t)r, &pc);
			if (wire_put(w, &pc) != 0)
				goto failed;
		}
	}
	while (!w->done && crlf_end(&cr, &pc))
		if (wire_put(w, &pc) != 0)
			goto failed;
	/* The whole message went out (TOP too, if it had fewer lines than
	 * asked for): exactly the announced size. */
	if (!w->done && w->sent != w->size) {
		w->stale = 1;
		*error_r = "message size changed under us";
		return -1;
	}
	return 0;
failed:
	*error_r = w->stale ? "message larger than its recorded size" :
	    "write error";
	return -1;
}

int
wire_send(struct net *out, struct msgstream *in, enum wire_mode mode,
    long lines, uint64_t size, int *stale_r, const char **error_r)
{
	struct wire w;
	char *buf;
	int rc;

	*stale_r = 0;
	if ((buf = malloc(WIRE_CHUNK)) == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.stuff = mode == WIRE_POP3;
	w.lines = lines;
	w.in_header = lines >= 0;
	w.at_bol = 1;
	w.line_empty = 1;
	w.size = size;
	rc = wire_body(&w, in, buf, error_r);
	free(buf);
	*stale_r = w.stale;
	if (rc == 0 && mode == WIRE_POP3 && net_write(out, ".\r\n", 3) != 0) {
		*error_r = "write error";
		rc = -1;
	}
	return rc;
}
