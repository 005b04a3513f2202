/*
 * authc.h - the monitor's side of the auth service (authsvc.h): one
 * connection per login phase, opened at the first request, one request
 * and its reply at a time.
 *
 * PRIVILEGE: the monitor (root, or the daemon's user rootless).
 */
#ifndef POP23D_AUTHC_H
#define POP23D_AUTHC_H

#include <sys/socket.h>
#include <sys/un.h>

#include "authsvc.h"

/* The master: where the service listens (an abstract socket address). */
void authc_set_address(const struct sockaddr_un *sun, socklen_t len);
/* inetd mode: an already connected socket to a service of our own. */
void authc_set_fd(int fd);
/*
 * Send REQ, wait for the reply into *REP (at most
 * AUTHSVC_REPLY_TIMEOUT_MS, and never past DEADLINE if not 0).  0, or -1
 * when the service cannot be reached or went away (the caller answers
 * TEMPFAIL; the next call connects again).  REQ is wiped.
 */
int authc_call(struct authsvc_req *req, struct authsvc_reply *rep,
    int64_t deadline);
/* Close the connection (before the session drops privileges). */
void authc_close(void);

#endif
