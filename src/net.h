/*
 * net.h - line-oriented client I/O with timeouts, on any pair of blocking
 * stream descriptors driven by poll(): one socket for both directions, or
 * two pipes (inetd mode under a wrapper: read fd 0, write fd 1).  Input
 * goes through a bounded struct buf; output is collected in a fixed buffer
 * and flushed before the server waits for input, so a pipelining client
 * gets its replies in one segment and a plain client never waits on Nagle
 * (a TCP socket gets TCP_NODELAY).
 * Runs unprivileged (pre-auth child or mail-user session).
 */
#ifndef POP23D_NET_H
#define POP23D_NET_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define NET_OUTBUF	16384

enum net_status {
	NET_LINE = 0,		/* a complete line, terminator removed */
	NET_TOOLONG,		/* line longer than max: it was discarded up
				 * to and including its LF */
	NET_NUL,		/* the line held a NUL byte (discarded) */
	NET_EOF,		/* peer closed (a partial line is dropped) */
	NET_TIMEOUT,		/* no complete line within the idle timeout */
	NET_EXPIRED,		/* the deadline of net_set_deadline() passed */
	NET_ERROR,		/* read or write error (errno set) */
};

/*
 * A transport between the line I/O and the descriptors: TLS (tls.c)
 * installs one with net_set_io(); without one net.c uses read(2) and
 * send(2)/write(2) itself.  Both calls are non-blocking: -1 with errno
 * EAGAIN means "poll for *WANT_R (POLLIN or POLLOUT) and call again with
 * the same arguments".  read returns 0 at the peer's end of the stream.
 * PENDING says how many octets the transport has already read and can
 * hand out without waiting (decrypted TLS records): net.c does not poll
 * while it is non-zero.
 */
struct net_io {
	ssize_t (*read)(void *ctx, void *buf, size_t len, short *want_r);
	ssize_t (*write)(void *ctx, const void *buf, size_t len,
	    short *want_r);
	size_t (*pending)(void *ctx);
};

struct net {
	int rfd;		/* client input */
	int wfd;		/* client output (the same fd for a socket) */
	int wpipe;		/* wfd is not a socket: write(2), PIPE_BUF */
	struct buf in;		/* unparsed input */
	size_t discard;		/* >0: skipping an over-long line */
	char out[NET_OUTBUF];
	size_t outlen;
	int write_timeout_ms;	/* a client that does not read is dropped */
	int64_t deadline;	/* end of the current phase (deadline.h), 0:
				 * none; bounds every read and flush */
	int failed;		/* a write failed; further output is dropped */
	int rwait;		/* wait for input inside recv(2), not poll(2)
				 * (net_wait_in_recv()) */
	int rcv_ms;		/* the SO_RCVTIMEO set on rfd: 0 none, -1
				 * never set */
	const struct net_io *io;	/* NULL: the descriptors directly */
	void *io_ctx;
};

/*
 * Set up for input on RFD and output on WFD (equal for a socket; sets
 * TCP_NODELAY on a TCP socket).  INPUT_MAX bounds buffered input and must
 * be at least the longest line read plus 2.  The caller owns both fds.
 */
void net_init(struct net *n, int rfd, int wfd, size_t input_max,
    int write_timeout_s);
/*
 * Bound everything from now on by DEADLINE (deadline.h; 0: no bound):
 * net_readline() returns NET_EXPIRED once it passes, however often the
 * client sends, and a flush fails.  Used for the whole AUTHORIZATION
 * phase, which a client must not stretch by sending commands.
 */
void net_set_deadline(struct net *n, int64_t deadline);
/* Send and receive through IO (with its CTX) from now on; NULL: the
 * descriptors directly again. */
void net_set_io(struct net *n, const struct net_io *io, void *ctx);
/* Wait for input inside recv(2) with SO_RCVTIMEO from now on, not in
 * poll(2) (the mail-user session: no seccomp filter); see net.c. */
void net_wait_in_recv(struct net *n);
/*
 * Drop every octet of input read but not yet parsed (and an over-long
 * line being skipped); returns how many were dropped.  STLS: nothing the
 * client sent before the TLS handshake may be read as a command after it
 * (RFC 2595 section 4; CVE-2011-0411, CVE-2021-38084).
 */
size_t net_discard_input(struct net *n);
/* Pre-load bytes that an earlier process read from the same client. */
int net_preload(struct net *n, const void *p, size_t len);
/*
 * Read one line into LINE (size MAXLEN + 1): at most MAXLEN octets not
 * counting CRLF (a bare LF is accepted as the end of a line).  Flushes
 * pending output before it blocks.  TIMEOUT_S is the idle timeout for
 * this line, <= 0 for none; the deadline (if set) bounds it too.
 * *len_r gets the line length.  On NET_TOOLONG the rest of the line is
 * skipped so it is never parsed as a command.
 */
enum net_status net_readline(struct net *n, char *line, size_t maxlen,
    size_t *len_r, int timeout_s);
/*
 * Read until at least WANT octets (at most the input bound) are buffered,
 * whatever they are: for a binary header before the first line (the
 * PROXY protocol).  Bounded by the deadline only.  NET_LINE once they
 * are there, else NET_EOF, NET_EXPIRED or NET_ERROR.  The octets are
 * then at net_pending() and are dropped with net_consume().
 */
enum net_status net_read_raw(struct net *n, size_t want);
/* Drop the first LEN buffered octets (at most what is buffered). */
void net_consume(struct net *n, size_t len);
/* Non-zero if a complete line is already buffered. */
int net_line_pending(const struct net *n);
/* Queue bytes for the client.  0, or -1 if the connection failed. */
int net_write(struct net *n, const void *p, size_t len);
/* One reply line: at most POP3_REPLY_MAX octets per call (cut, keeping
 * the CRLF); longer multi-line blocks go through net_write(). */
int net_printf(struct net *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Send everything queued.  0 or -1. */
int net_flush(struct net *n);
/* Take the unparsed input (for hand-over to another process). */
const void *net_pending(const struct net *n, size_t *len_r);
/* Free the buffers; the fd stays open (the caller owns it). */
void net_free(struct net *n);

#endif
