/*
 * wire.h - a message on the wire: the protocol layer's half of RETR, TOP
 * and POP2 RETR (Dovecot pop3-commands.c fetch()/fetch_callback() is the
 * model).  The front end writes the status line; wire_send() writes the
 * body and, for POP3, the terminator, converting the stored octets as it
 * goes: line ends by the rule of crlf.h, POP3 dot-stuffing, TOP's line
 * limit, POP2's exact octet count.  The maildrop core knows nothing of
 * this; it hands out a struct msgstream and the size it measured with
 * the same crlf.h rule.
 * Runs as the mail user.
 */
#ifndef POP23D_WIRE_H
#define POP23D_WIRE_H

#include <stdint.h>

struct msgstream;
struct net;

enum wire_mode {
	WIRE_POP3,	/* dot-stuffed, ".\r\n" terminator (RFC 1939) */
	WIRE_POP2,	/* exactly the announced octets, nothing added
			 * (RFC 937 "Message Length") */
};

/*
 * Send the message IN to OUT.  LINES < 0: the whole message; LINES >= 0:
 * the header, the blank line and at most LINES body lines (TOP).  SIZE is
 * the size announced for the message (LIST, "=n"): the octets sent, not
 * counting stuffing and terminator, must never pass it, and must match it
 * exactly when the whole message went out.
 *
 * Returns 0 when it all went out (POP3: with the terminator).  Otherwise
 * -1 with *ERROR_R; output may have been written, so the stream to the
 * client is out of step and the session must end without UPDATE.
 * *STALE_R is then 1 when the stored message disagrees with SIZE or could
 * not be read to its end: the caller drops its index record at once
 * (maildrop_forget()), so the next look measures it again; 0 when the
 * client connection failed.
 */
int wire_send(struct net *out, struct msgstream *in, enum wire_mode mode,
    long lines, uint64_t size, int *stale_r, const char **error_r);

#endif
