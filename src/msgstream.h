/*
 * msgstream.h - a message as the maildrop core hands it out: its raw
 * stored octets, LENGTH of them at an OFFSET of a descriptor.  A Maildir
 * message is a whole file (offset 0); an mbox message will be a range of
 * the mailbox file.  The reader knows nothing of line ends or the wire
 * (crlf.h and wire.h do); the core opens one with maildrop_msg_open().
 * Runs as the mail user.
 */
#ifndef POP23D_MSGSTREAM_H
#define POP23D_MSGSTREAM_H

#include <sys/types.h>
#include <stdint.h>

struct msgstream {
	int fd;			/* owned: msgstream_close() closes it */
	off_t off;		/* where the message starts in fd */
	off_t len;		/* its stored octets */
	off_t pos;		/* octets read so far */
};

/* Take FD (owned from now on) with the message at OFF, LEN octets. */
void msgstream_init(struct msgstream *s, int fd, off_t off, off_t len);
/*
 * Read up to SIZE octets at the current position into BUF.  Returns the
 * count, 0 at the end of the message, or -1 with errno (EIO too when the
 * file ends before the message does: it shrank under us).
 */
ssize_t msgstream_read(struct msgstream *s, void *buf, size_t size);
/* The stored octets of the message. */
uint64_t msgstream_size(const struct msgstream *s);
/* Close the descriptor; the stream may not be read again. */
void msgstream_close(struct msgstream *s);

#endif
