/*
 * net.c - line-oriented client I/O on blocking stream descriptors driven
 * by poll(): a socket, or a pair of pipes (input and output are separate
 * fds throughout).  Input is read into a bounded struct buf and split at
 * LF; an over-long
 * line is dropped as it arrives, through its LF, and reported once; a NUL
 * makes a line invalid (popa3d pop_get_line).  Output is queued in a
 * fixed buffer and flushed before we wait for input, with a write timeout
 * so a client that stops reading cannot pin the session.  The mail-user
 * session waits for its next command inside recv(2) with SO_RCVTIMEO
 * instead of poll(2) then read(2) (net_wait_in_recv()): one system call
 * per command less.
 * Runs unprivileged (pre-auth child or mail-user session); never as root
 * on client bytes.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "defaults.h"
#include "log.h"
#include "net.h"

/* Largest read(2) at a time; input is still bounded by in.max. */
#define NET_READ_CHUNK	4096

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif
#ifndef MSG_DONTWAIT
#define MSG_DONTWAIT	0
#endif

void
net_init(struct net *n, int rfd, int wfd, size_t input_max,
    int write_timeout_s)
{
	int one = 1;

	n->rfd = rfd;
	n->wfd = wfd;
	n->wpipe = 0;
	n->deadline = 0;
	buf_init(&n->in, input_max);
	n->discard = 0;
	n->outlen = 0;
	if (write_timeout_s <= 0)
		n->write_timeout_ms = -1;
	else if (write_timeout_s > INT_MAX / 1000)
		n->write_timeout_ms = INT_MAX;
	else
		n->write_timeout_ms = write_timeout_s * 1000;
	n->failed = 0;
	n->rwait = 0;
	n->rcv_ms = -1;
	n->io = NULL;
	n->io_ctx = NULL;
	/*
	 * Replies are flushed whole, before we wait for input, so Nagle only
	 * adds delay.  Fails harmlessly on a pipe or a non-TCP socket
	 * (tests use a socketpair).
	 */
	(void)setsockopt(wfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
net_set_deadline(struct net *n, int64_t deadline)
{
	n->deadline = deadline;
}

void
net_set_io(struct net *n, const struct net_io *io, void *ctx)
{
	struct timeval tv = { 0, 0 };

	/* A transport reads the descriptor itself: no receive timeout of
	 * ours may make it see EAGAIN. */
	if (io != NULL && n->rcv_ms > 0)
		(void)setsockopt(n->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv));
	if (io != NULL)
		n->rcv_ms = -1;
	n->io = io;
	n->io_ctx = ctx;
}

/*
 * From now on net_readline() waits for input inside a blocking recv(2)
 * whose SO_RCVTIMEO is the time left, instead of poll(2) then read(2):
 * one system call less per command (doc/PERFORMANCE.md, "POP2's extra
 * round trip").  Only for a socket read directly (a pipe, or a transport
 * of net_set_io(), keeps poll(2)), and only where setsockopt(SO_RCVTIMEO)
 * is allowed: the mail-user session, not the pre-auth child's seccomp
 * filter.  A non-blocking rfd keeps poll(2) too: recv(2) would not wait.
 */
void
net_wait_in_recv(struct net *n)
{
	int fl = fcntl(n->rfd, F_GETFL);

	n->rwait = fl != -1 && (fl & O_NONBLOCK) == 0;
}

/*
 * Make rfd's SO_RCVTIMEO end the wait within MS (-1: no limit), leaving
 * the one that is set when it is near enough: at most SLACK (1/16 of the
 * time left, 1 s at most) early or late.  Early only costs a turn of the
 * loop, which checks the deadlines; late is the bound on how much later
 * than asked an idle timeout or the phase deadline can fire.  So in a
 * session, where every wait is the same idle timeout, it is set once.
 * 0, or -1 (not a socket, or not allowed: wait in poll(2) instead).
 */
static int
net_rcvtimeo(struct net *n, int ms)
{
	struct timeval tv;
	int slack;

	if (ms < 0) {
		if (n->rcv_ms == 0)
			return 0;
		ms = 0;		/* SO_RCVTIMEO 0: no limit */
	} else {
		slack = ms / 16 < 1000 ? ms / 16 : 1000;
		if (n->rcv_ms > 0 && n->rcv_ms <= ms + slack &&
		    n->rcv_ms >= ms - slack)
			return 0;
		if (ms == 0)
			ms = 1;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(n->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1)
		return -1;
	n->rcv_ms = ms;
	return 0;
}

size_t
net_discard_input(struct net *n)
{
	size_t dropped = n->in.len;

	if (n->in.data != NULL)
		explicit_bzero(n->in.data, n->in.len);
	buf_consume(&n->in, n->in.len);
	n->discard = 0;
	return dropped;
}

int
net_preload(struct net *n, const void *p, size_t len)
{
	return buf_append(&n->in, p, len);
}

/*
 * Look at the buffered input.  Returns a status, or -1 if more input is
 * needed.  While an over-long line is being discarded the buffer is
 * emptied as bytes arrive, so memory stays bounded by in.max whatever the
 * line's length.
 */
static int
parse_line(struct net *n, char *line, size_t maxlen, size_t *len_r)
{
	struct buf *in = &n->in;
	const char *lf;
	size_t raw, l;

	lf = in->len > 0 ? memchr(in->data, '\n', in->len) : NULL;

	if (n->discard > 0) {
		if (lf == NULL) {
			if (n->discard < SIZE_MAX - in->len)
				n->discard += in->len;
			buf_consume(in, in->len);
			return -1;
		}
		buf_consume(in, (size_t)(lf - in->data) + 1);
		n->discard = 0;
		return NET_TOOLONG;
	}

	if (lf == NULL) {
		/*
		 * With maxlen + 2 octets and no LF the line is too long even
		 * if the last is a CR; a full buffer without LF is too long
		 * for us as well.  Start dropping it now.
		 */
		if (in->len >= in->max || (maxlen < SIZE_MAX - 2 &&
		    in->len >= maxlen + 2)) {
			n->discard = in->len > 0 ? in->len : 1;
			buf_consume(in, in->len);
		}
		return -1;
	}

	raw = (size_t)(lf - in->data);
	l = raw;
	if (l > 0 && in->data[l - 1] == '\r')
		l--;
	if (l > maxlen) {
		buf_consume(in, raw + 1);
		return NET_TOOLONG;
	}
	if (memchr(in->data, '\0', l) != NULL) {
		buf_consume(in, raw + 1);
		return NET_NUL;
	}
	memcpy(line, in->data, l);
	line[l] = '\0';
	*len_r = l;
	buf_consume(in, raw + 1);
	return NET_LINE;
}

/* Read what is there into P (at most LEN): the count, 0 at EOF, or -1
 * with errno (EAGAIN: poll for *WANT_R first). */
static ssize_t
read_some(struct net *n, void *p, size_t len, short *want_r)
{
	*want_r = POLLIN;
	if (n->io != NULL)
		return n->io->read(n->io_ctx, p, len, want_r);
	return read(n->rfd, p, len);
}

enum net_status
net_readline(struct net *n, char *line, size_t maxlen, size_t *len_r,
    int timeout_s)
{
	struct pollfd pfd;
	struct buf *in = &n->in;
	int64_t idle;
	size_t want;
	ssize_t r;
	short events = POLLIN;
	int st, ms, in_recv;

	*len_r = 0;
	line[0] = '\0';
	idle = deadline_in(timeout_s);

	for (;;) {
		if ((st = parse_line(n, line, maxlen, len_r)) != -1)
			return (enum net_status)st;

		/* We are about to wait: the client must have our replies. */
		if (net_flush(n) == -1)
			return NET_ERROR;

		if (deadline_passed(n->deadline))
			return NET_EXPIRED;
		if (deadline_passed(idle))
			return NET_TIMEOUT;
		ms = deadline_poll_ms(deadline_min(idle, n->deadline));
		/* The mail-user session waits in recv() below. */
		if (n->rwait && n->io == NULL && net_rcvtimeo(n, ms) == -1)
			n->rwait = 0;
		in_recv = n->rwait && n->io == NULL;
		/* A transport holding input already (decrypted TLS records)
		 * is read without waiting: poll() would not see it. */
		if (!in_recv && (n->io == NULL ||
		    n->io->pending(n->io_ctx) == 0)) {
			pfd.fd = events == POLLOUT ? n->wfd : n->rfd;
			pfd.events = events;
			pfd.revents = 0;
			if ((r = poll(&pfd, 1, ms)) == -1) {
				if (errno == EINTR)
					continue;
				return NET_ERROR;
			}
			if (r == 0)
				continue;	/* a deadline: see above */
			if (pfd.revents & POLLNVAL) {
				errno = EBADF;
				return NET_ERROR;
			}
		}

		/*
		 * parse_line left room: the buffer is not full (or it is
		 * empty while discarding).
		 */
		want = in->max - in->len;
		if (want > NET_READ_CHUNK)
			want = NET_READ_CHUNK;
		if (want == 0 || buf_reserve(in, want) == -1) {
			errno = ENOMEM;
			return NET_ERROR;
		}
		if (in_recv)
			r = recv(n->rfd, in->data + in->len, want, 0);
		else
			r = read_some(n, in->data + in->len, want, &events);
		if (r == -1) {
			/* EAGAIN from recv(): SO_RCVTIMEO ran out; the
			 * deadlines are checked at the top. */
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == ENOTSOCK && in_recv) {
				n->rwait = 0;
				continue;
			}
			return NET_ERROR;
		}
		events = POLLIN;
		if (r == 0) {
			/* A partial line is dropped: nothing may execute. */
			buf_consume(in, in->len);
			n->discard = 0;
			return NET_EOF;
		}
		in->len += (size_t)r;
	}
}

enum net_status
net_read_raw(struct net *n, size_t want)
{
	struct buf *in = &n->in;
	struct pollfd pfd;
	size_t room;
	ssize_t r;

	if (want > in->max) {
		errno = EMSGSIZE;
		return NET_ERROR;
	}
	while (in->len < want) {
		if (net_flush(n) == -1)
			return NET_ERROR;
		if (deadline_passed(n->deadline))
			return NET_EXPIRED;
		pfd.fd = n->rfd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, deadline_poll_ms(n->deadline));
		if (r == -1 && errno != EINTR)
			return NET_ERROR;
		if (r <= 0)
			continue;
		/* What is there, up to the bound: bytes past the header
		 * stay buffered for net_readline(). */
		room = in->max - in->len;
		if (room > NET_READ_CHUNK)
			room = NET_READ_CHUNK;
		if (buf_reserve(in, room) == -1) {
			errno = ENOMEM;
			return NET_ERROR;
		}
		r = read(n->rfd, in->data + in->len, room);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return NET_ERROR;
		}
		if (r == 0)
			return NET_EOF;
		in->len += (size_t)r;
	}
	return NET_LINE;
}

void
net_consume(struct net *n, size_t len)
{
	buf_consume(&n->in, len < n->in.len ? len : n->in.len);
}

int
net_line_pending(const struct net *n)
{
	return n->in.len > 0 && memchr(n->in.data, '\n', n->in.len) != NULL;
}

/* Mark the connection dead: queued and future output is dropped. */
static int
net_fail(struct net *n)
{
	int saved = errno;

	n->failed = 1;
	explicit_bzero(n->out, n->outlen);
	n->outlen = 0;
	errno = saved;
	return -1;
}

/*
 * Write some of P (LEN > 0) without blocking past the poll(2) that said
 * the fd is writable.  A socket gets send(MSG_DONTWAIT); a pipe (inetd
 * under a wrapper) cannot be made non-blocking without changing the
 * wrapper's file description, so it gets at most PIPE_BUF octets, which
 * POLLOUT guarantees room for.  Returns the count, or -1 with errno
 * (EAGAIN: wait for *WANT_R, POLLOUT unless a transport says otherwise).
 */
static ssize_t
write_some(struct net *n, const char *p, size_t len, short *want_r)
{
	ssize_t r;

	*want_r = POLLOUT;
	if (n->io != NULL)
		return n->io->write(n->io_ctx, p, len, want_r);
	if (!n->wpipe) {
		r = send(n->wfd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r != -1 || errno != ENOTSOCK)
			return r;
		n->wpipe = 1;
		errno = EAGAIN;		/* poll first, then write() */
		return -1;
	}
	if (len > PIPE_BUF)
		len = PIPE_BUF;
	return write(n->wfd, p, len);
}

int
net_flush(struct net *n)
{
	struct pollfd pfd;
	int64_t deadline = 0;
	size_t off = 0;
	ssize_t r;
	short events = POLLOUT;
	int ms;

	if (n->failed) {
		errno = EPIPE;
		return -1;
	}
	if (n->write_timeout_ms > 0)
		deadline = deadline_now() + n->write_timeout_ms;
	deadline = deadline_min(deadline, n->deadline);

	/*
	 * The whole flush must finish within write_timeout (and the phase
	 * deadline): a client that reads a trickle cannot keep us here
	 * longer than one that reads nothing (doc/SECURITY.md B9).
	 */
	while (off < n->outlen) {
		r = write_some(n, n->out + off, n->outlen - off, &events);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r == 0) {
			errno = EPIPE;
			return net_fail(n);
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return net_fail(n);

		if ((ms = deadline_poll_ms(deadline)) == 0) {
			errno = ETIMEDOUT;
			return net_fail(n);
		}
		pfd.fd = events == POLLIN ? n->rfd : n->wfd;
		pfd.events = events;
		pfd.revents = 0;
		if ((r = poll(&pfd, 1, ms)) == -1) {
			if (errno == EINTR)
				continue;
			return net_fail(n);
		}
		if (r == 0) {
			errno = ETIMEDOUT;
			return net_fail(n);
		}
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return net_fail(n);
		}
		/* POLLOUT, POLLERR or POLLHUP: the write reports which. */
	}
	n->outlen = 0;
	return 0;
}

int
net_write(struct net *n, const void *p, size_t len)
{
	const char *s = p;
	size_t k;

	if (n->failed) {
		errno = EPIPE;
		return -1;
	}
	while (len > 0) {
		if (n->outlen == sizeof(n->out) && net_flush(n) == -1)
			return -1;
		k = sizeof(n->out) - n->outlen;
		if (k > len)
			k = len;
		memcpy(n->out + n->outlen, s, k);
		n->outlen += k;
		s += k;
		len -= k;
	}
	return 0;
}

int
net_printf(struct net *n, const char *fmt, ...)
{
	char tmp[POP3_REPLY_MAX * 2], *full;
	va_list ap, ap2;
	size_t len;
	int r, crlf;

	if (n->failed) {
		errno = EPIPE;
		return -1;
	}
	va_start(ap, fmt);
	va_copy(ap2, ap);
	r = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (r < 0) {
		va_end(ap2);
		return -1;
	}
	len = (size_t)r;
	/*
	 * RFC 1939 section 3, RFC 2449 section 4, RFC 937: a reply line is
	 * at most 512 octets including CRLF.  Cut a longer one, keeping the
	 * CRLF it ended with, so the client never sees an over-long line
	 * and the framing stays intact.
	 */
	if (len > POP3_REPLY_MAX) {
		if (len < sizeof(tmp))
			crlf = tmp[len - 1] == '\n';
		else if ((full = malloc(len + 1)) != NULL) {
			/* Rare (a bug upstream): find out how it ended. */
			(void)vsnprintf(full, len + 1, fmt, ap2);
			crlf = full[len - 1] == '\n';
			explicit_bzero(full, len + 1);
			free(full);
		} else {
			size_t fl = strlen(fmt);

			crlf = fl > 0 && fmt[fl - 1] == '\n';
		}
		log_debug("net: reply of %zu octets cut to %d", len,
		    POP3_REPLY_MAX);
		len = POP3_REPLY_MAX;
		if (crlf) {
			/* UNSAFE: 2 <= POP3_REPLY_MAX < sizeof(tmp). */
			tmp[len - 2] = '\r';
			tmp[len - 1] = '\n';
		}
	}
	va_end(ap2);
	r = net_write(n, tmp, len);
	explicit_bzero(tmp, sizeof(tmp));
	return r;
}

const void *
net_pending(const struct net *n, size_t *len_r)
{
	*len_r = n->in.len;
	return n->in.data != NULL ? n->in.data : "";
}

void
net_free(struct net *n)
{
	buf_free(&n->in);
	explicit_bzero(n->out, sizeof(n->out));
	n->outlen = 0;
	n->discard = 0;
}
