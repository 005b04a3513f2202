/*
 * authc.c - the monitor's side of the auth service (authc.h).  The
 * service's listening socket is held by the master for the daemon's
 * life, so a connect() always reaches the current service (or waits in
 * the backlog while the master restarts it), and no other process can
 * take over the address.
 *
 * PRIVILEGE: the monitor (root); it sends only fields it has bounded.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "authc.h"
#include "deadline.h"
#include "ipc.h"
#include "log.h"

/* How often a connect() to a full backlog is tried again. */
#define AUTHC_RETRY_MS	50

static struct sockaddr_un authc_sun;
static socklen_t authc_sunlen;
static int authc_fd = -1;
static int authc_fixed;		/* inetd mode: no reconnecting */

void
authc_set_address(const struct sockaddr_un *sun, socklen_t len)
{
	if (len > sizeof(authc_sun))
		len = sizeof(authc_sun);
	memcpy(&authc_sun, sun, len);
	authc_sunlen = len;
}

void
authc_set_fd(int fd)
{
	authc_fd = fd;
	authc_fixed = 1;
}

/*
 * Connect, never past DEADLINE: a full backlog (a service that is stuck
 * or restarting under a flood) makes a non-blocking connect() fail with
 * EAGAIN at once, so it is tried again every 50 ms instead of blocking
 * the monitor without a bound.
 */
static int
authc_connect(int64_t deadline)
{
	int fd, flags;

	if (authc_fd != -1)
		return 0;
	if (authc_fixed || authc_sunlen == 0) {
		log_warnx("auth service: not reachable");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("auth service: socket");
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&authc_sun, authc_sunlen) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && !deadline_passed(deadline)) {
			deadline_sleep(deadline_min(deadline,
			    deadline_now() + AUTHC_RETRY_MS));
			continue;
		}
		log_warn("auth service: connect");
		close(fd);
		return -1;
	}
	/* Records are sent whole: blocking from here (ipc.c waits for
	 * replies with poll() and a deadline of its own). */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		log_warn("auth service: fcntl");
		close(fd);
		return -1;
	}
	authc_fd = fd;
	return 0;
}

void
authc_close(void)
{
	if (authc_fd != -1)
		close(authc_fd);
	authc_fd = -1;
}

int
authc_call(struct authsvc_req *req, struct authsvc_reply *rep,
    int64_t deadline)
{
	int64_t d = deadline_now() + AUTHSVC_REPLY_TIMEOUT_MS;
	int rc = -1;

	if (deadline != 0)
		d = deadline_min(d, deadline);
	if (authc_connect(d) == 0) {
		if (ipc_send(authc_fd, IPC_AUTH_REQ, req, sizeof(*req)) == 0 &&
		    ipc_recv(authc_fd, IPC_AUTH_REPLY, rep, sizeof(*rep),
		    d) == 0)
			rc = 0;
		else {
			log_warnx("auth service: no answer (%s)",
			    errno == ETIMEDOUT ? "timed out" :
			    "it went away");
			/* Half a dialogue is worth nothing: start again
			 * next time (the master restarts the service). */
			authc_close();
			if (authc_fixed)
				authc_fixed = 2;
		}
	}
	explicit_bzero(req, sizeof(*req));
	return rc;
}
