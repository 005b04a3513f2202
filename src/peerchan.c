/*
 * peerchan.c - the monitor -> master address channel of peerchan.h: one
 * record (a struct addr) with a reply socket attached, and a one-octet
 * answer on that socket.
 *
 * PRIVILEGE: root (master and monitors); no client bytes: the address in
 * a record is one the monitor checked (ipc_proxy from the pre-auth child,
 * validated in session.c).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "deadline.h"
#include "peerchan.h"

#define PEERCHAN_YES	'y'
#define PEERCHAN_NO	'n'

int
peerchan_open(int fds[2])
{
	int one = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) != 0)
		return -1;
	if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &one,
	    sizeof one) != 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

int
peerchan_ask(int fd, const struct addr *a, int64_t deadline)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	struct iovec iov;
	struct cmsghdr *c;
	struct pollfd pfd;
	struct addr rec = *a;
	int sp[2], r;
	char ans;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		return -1;
	memset(&m, 0, sizeof m);
	memset(&u, 0, sizeof u);
	iov.iov_base = &rec;
	iov.iov_len = sizeof rec;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sp[1], sizeof(int));
	while ((r = (int)sendmsg(fd, &m, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	close(sp[1]);
	if (r != (int)sizeof rec) {
		close(sp[0]);
		return -1;
	}
	for (;;) {
		pfd.fd = sp[0];
		pfd.events = POLLIN;
		r = poll(&pfd, 1, deadline_poll_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		r = (int)read(sp[0], &ans, 1);
		if (r == -1 && errno == EINTR)
			continue;
		break;
	}
	close(sp[0]);
	if (r != 1)
		return -1;
	return ans == PEERCHAN_YES ? 1 : 0;
}

int
peerchan_recv(int fd, pid_t *pid_r, struct addr *a, int *reply_r)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
		    CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m;
	struct iovec iov;
	struct cmsghdr *c;
	struct ucred cred;
	int have_cred = 0, reply = -1, bad = 0;
	ssize_t r;

	memset(&m, 0, sizeof m);
	iov.iov_base = a;
	iov.iov_len = sizeof *a;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	r = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r == -1)
		return -1;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof cred)) {
			memcpy(&cred, CMSG_DATA(c), sizeof cred);
			have_cred = 1;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t i, n = (c->cmsg_len - CMSG_LEN(0)) /
			    sizeof(int);

			/* One descriptor is ours; any other is closed. */
			for (i = 0; i < n; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int),
				    sizeof f);
				if (reply == -1)
					reply = f;
				else
					close(f);
			}
		}
	}
	if (r != (ssize_t)sizeof *a || (m.msg_flags & (MSG_TRUNC |
	    MSG_CTRUNC)) || !have_cred || reply == -1)
		bad = 1;
	if (a->family != AF_INET && a->family != AF_INET6)
		bad = 1;
	if (bad) {
		if (reply != -1)
			close(reply);
		return -1;
	}
	*pid_r = cred.pid;
	*reply_r = reply;
	return 0;
}

void
peerchan_answer(int reply, int allowed)
{
	char c = allowed ? PEERCHAN_YES : PEERCHAN_NO;

	/* A monitor that is gone does not need the answer. */
	(void)send(reply, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(reply);
}
