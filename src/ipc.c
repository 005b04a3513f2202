/*
 * ipc.c - typed, length-checked records between the pre-auth child and
 * the monitor over a SOCK_SEQPACKET socketpair (the dialogue is in
 * ipc.h).  A record is a 4-byte type (host byte order: both ends are the
 * same binary on the same host) followed by the payload, sent in one
 * sendmsg(2).  The receiver expects
 * an exact type and size; anything else - including a record too large
 * for it (MSG_TRUNC) - fails, and the caller ends the session
 * (OpenSMTPD mproc.c, m_error).
 * PRIVILEGE: runs in the monitor (root), the pre-auth child
 * (unprivileged) and the auth service (auth_user); the monitor and the
 * service never trust what they receive.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "ipc.h"
#include "log.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

#define IPC_HDR_LEN	4

int
ipc_send(int fd, enum ipc_type type, const void *p, size_t len)
{
	uint32_t hdr = (uint32_t)type;
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t r;

	if (len > SIZE_MAX - IPC_HDR_LEN) {
		errno = EMSGSIZE;
		return -1;
	}
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)p;	/* sendmsg does not write */
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len > 0 ? 2 : 1;

	do {
		r = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r == -1) {
		log_warn("ipc: send type %u", (unsigned)type);
		return -1;
	}
	if ((size_t)r != IPC_HDR_LEN + len) {
		/* A seqpacket record goes whole or not at all. */
		log_warnx("ipc: short send type %u (%zd of %zu)",
		    (unsigned)type, r, IPC_HDR_LEN + len);
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Wait until FD is readable or DEADLINE passes.  0, or -1 with errno. */
static int
wait_readable(int fd, int64_t deadline)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, deadline_poll_ms(deadline));
		if (r > 0)
			return 0;	/* data, EOF or error: recvmsg says */
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

int
ipc_recv(int fd, enum ipc_type type, void *p, size_t len, int64_t deadline)
{
	struct iovec iov;
	struct msghdr msg;
	unsigned char *rb;
	uint32_t hdr;
	size_t rbsz;
	ssize_t r;
	int ret = -1, saved;

	if (len > SIZE_MAX - IPC_HDR_LEN - 1) {
		errno = EMSGSIZE;
		return -1;
	}
	if (wait_readable(fd, deadline) == -1) {
		if (errno == ETIMEDOUT)
			log_debug("ipc: deadline passed waiting for type %u",
			    (unsigned)type);
		else
			log_warn("ipc: poll");
		return -1;
	}
	/* One byte more than expected: a larger record shows as too long
	 * even where MSG_TRUNC is not reported. */
	rbsz = IPC_HDR_LEN + len + 1;
	if ((rb = malloc(rbsz)) == NULL) {
		log_warn("ipc: recv buffer");
		return -1;
	}
	iov.iov_base = rb;
	iov.iov_len = rbsz;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;

	do {
		r = recvmsg(fd, &msg, 0);
	} while (r == -1 && errno == EINTR);

	if (r == -1)
		log_warn("ipc: recv type %u", (unsigned)type);
	else if (r == 0) {
		log_debug("ipc: peer closed while waiting for type %u",
		    (unsigned)type);
		errno = ECONNRESET;
	} else if ((msg.msg_flags & MSG_TRUNC) ||
	    (size_t)r != IPC_HDR_LEN + len) {
		log_warnx("ipc: bad message size %zd for type %u "
		    "(expected %zu)", r, (unsigned)type, IPC_HDR_LEN + len);
		errno = EBADMSG;
	} else {
		memcpy(&hdr, rb, sizeof(hdr));
		if (hdr != (uint32_t)type) {
			log_warnx("ipc: message type %u, expected %u",
			    (unsigned)hdr, (unsigned)type);
			errno = EBADMSG;
		} else {
			if (len > 0)
				memcpy(p, rb + IPC_HDR_LEN, len);
			ret = 0;
		}
	}
	saved = errno;
	/* The record may hold a password. */
	explicit_bzero(rb, rbsz);
	free(rb);
	errno = saved;
	return ret;
}
