/*
 * authsvc.h - the auth service: one long-lived process (Dovecot's auth
 * service is the model) that holds the auth plugin and its tables and
 * answers the per-connection monitors over a local SOCK_SEQPACKET socket
 * with fixed-size typed records (ipc.c).  doc/DESIGN.md section 2.6.
 *
 *   monitor (root)                       auth service
 *   AUTHSVC_REQ {op, fields}      ->     checks every field, calls the op
 *                                 <-     AUTHSVC_REPLY {result, ...}
 *
 * One request at a time per connection; a monitor keeps one connection
 * for its login phase.  Ops and what they need:
 *   MECHS       conn info               -> mechs (the plugin's sasl_mechs)
 *   PLAIN       conn, user, in=password -> result, penalty_ms
 *   APOP        conn, user, challenge, in=digest -> result, penalty_ms
 *   SASL_START  conn, mech, has_in, in  -> result, out (CONTINUE), user (OK)
 *   SASL_STEP   in                      -> as SASL_START
 *   SASL_END    -                       -> OK (the exchange is dropped)
 *   LOOKUP      user                    -> result, identity; answered only
 *               for the user this connection has just authenticated.
 * Results are enum pop23d_result.  Every failed PLAIN, APOP or SASL
 * verdict counts against the client address (penalty.h) and carries the
 * delay the monitor must wait before it answers; a success clears it.
 *
 * PRIVILEGE: authsvc.c runs as auth_user/auth_group (root only for a
 * plugin with POP23D_PLUGIN_F_NEEDS_ROOT); it trusts nothing in a request
 * beyond the peer being root (or, rootless, its own uid).
 */
#ifndef POP23D_AUTHSVC_H
#define POP23D_AUTHSVC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"

struct config;
struct loaded_plugin;

enum authsvc_op {
	AUTHSVC_MECHS = 1,
	AUTHSVC_PLAIN = 2,
	AUTHSVC_APOP = 3,
	AUTHSVC_LOOKUP = 4,
	AUTHSVC_SASL_START = 5,
	AUTHSVC_SASL_STEP = 6,
	AUTHSVC_SASL_END = 7,
};

/* RFC 4422 section 3.1: mechanism names are at most 20 characters. */
#define AUTHSVC_MECH_MAX	20
/* The mechanism list of CAPA and of a bare AUTH: one 512-octet reply
 * line (RFC 2449) minus "SASL " and CRLF. */
#define AUTHSVC_MECHS_MAX	500
/* The APOP timestamp the monitor made ("<pid.random@host>"). */
#define AUTHSVC_CHALLENGE_MAX	300
/* A numeric IPv6 address with a zone fits in 64. */
#define AUTHSVC_IP_MAX		64
/* One decoded client response (SASL, ipc.h) or a password/digest. */
#define AUTHSVC_IN_MAX		IPC_STEP_MAX
/* How long a monitor waits for one reply: longer than the slowest
 * plugin's own bound (auth_checkpassword: 30 s, doc/SECURITY.md A4). */
#define AUTHSVC_REPLY_TIMEOUT_MS	35000

struct authsvc_conn {
	char service[8];		/* "pop3" or "pop2" */
	char remote_ip[AUTHSVC_IP_MAX], local_ip[AUTHSVC_IP_MAX];
	uint32_t remote_port, local_port;
	uint32_t secured, plaintext_ok;
	/* the verified client certificate's name under TLS, "" none */
	char tls_peer_cn[IPC_TLS_PEER_MAX + 1];
};

struct authsvc_req {
	uint32_t op;			/* enum authsvc_op */
	uint32_t has_in;		/* SASL_START: an initial response */
	uint32_t in_len;
	struct authsvc_conn conn;
	char user[IPC_USER_MAX + 1];
	char mech[AUTHSVC_MECH_MAX + 1];
	char challenge[AUTHSVC_CHALLENGE_MAX + 1];
	unsigned char in[AUTHSVC_IN_MAX];
};

struct authsvc_reply {
	uint32_t result;		/* enum pop23d_result */
	uint32_t penalty_ms;		/* failures: answer after this long */
	uint32_t out_len;
	uint32_t uid_set, gid_set;	/* LOOKUP: the ids are set */
	uint32_t uid, gid;
	char user[IPC_USER_MAX + 1];	/* SASL OK: the identity */
	char mechs[AUTHSVC_MECHS_MAX + 1];
	unsigned char out[IPC_CHALLENGE_MAX];
	char home[4096];
	char maildrop[4096];
};

/*
 * Serve monitors until told to stop (SIGTERM: finish the connections
 * already accepted, then exit).  LISTEN_FD is the listening socket the
 * master holds (-1: none); CONN_FD one already connected monitor (-1:
 * none; inetd mode, where the service ends with that connection).  Drops
 * privileges first (auth_user/auth_group unless the plugin needs root),
 * then, for a plugin that does not block and auth_workers > 1, forks its
 * pool (authpool.h).  PARENT is the pid of the process that forked it
 * (the master, or the monitor in inetd mode), taken before the fork: the
 * service dies with it (PR_SET_PDEATHSIG), and exits at once if it is
 * already gone.
 * Does not return.
 */
void authsvc_serve(int listen_fd, int conn_fd, pid_t parent,
    const struct config *cfg, struct loaded_plugin *auth)
    __attribute__((noreturn));

#endif
