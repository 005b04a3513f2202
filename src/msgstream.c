/*
 * msgstream.c - raw stored octets of one message with pread(2), so the
 * descriptor's file offset never matters (see msgstream.h).
 * PRIVILEGE: the mail-user session.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <unistd.h>

#include "msgstream.h"

void
msgstream_init(struct msgstream *s, int fd, off_t off, off_t len)
{
	s->fd = fd;
	s->off = off;
	s->len = len;
	s->pos = 0;
}

ssize_t
msgstream_read(struct msgstream *s, void *buf, size_t size)
{
	ssize_t r;

	if (s->pos >= s->len)
		return 0;
	if ((off_t)size > s->len - s->pos)
		size = (size_t)(s->len - s->pos);
	do {
		r = pread(s->fd, buf, size, s->off + s->pos);
	} while (r == -1 && errno == EINTR);
	if (r == 0) {
		errno = EIO;	/* the file ended before the message */
		return -1;
	}
	if (r > 0)
		s->pos += r;
	return r;
}

uint64_t
msgstream_size(const struct msgstream *s)
{
	return (uint64_t)s->len;
}

void
msgstream_close(struct msgstream *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}
