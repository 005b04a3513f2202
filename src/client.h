/*
 * client.h - one client connection as the protocol front ends see it:
 * the configuration, the line I/O, what the pre-auth child needs to log
 * in (its channel to the monitor), and what the mail-user session needs
 * to serve the maildrop.  The session layer (session.c) fills it in and
 * hands it down; nothing here calls back up.
 *
 * Layering, top-down (doc/DESIGN.md, section 2.4):
 *   main.c -> session.c -> pop3.c / pop2.c -> login.c, proto.c, wire.c,
 *   maildrop.c -> ipc.c, net.c, index.c ...
 * Runs unprivileged: the pre-auth child and the mail-user session.
 */
#ifndef POP23D_CLIENT_H
#define POP23D_CLIENT_H

#include <pop23d/plugin.h>

#include "conf.h"
#include "net.h"

/* How a front end's pre-auth phase ended; the session layer decides what
 * runs next (popa3d's POP_STATE, pop_root.c do_pop_session). */
enum client_exit {
	CLIENT_CLOSE = 0,	/* the dialogue is over: close */
	CLIENT_HANDOVER,	/* the monitor accepted a login: write nothing
				 * more, hand over the unparsed input
				 * (login_handover()) and exit */
};

struct tls_conn;

struct client {
	const struct config *cfg;
	struct net net;

	/* TLS and the plaintext rule (tls.h, login_plaintext_ok()) */
	int tls_mode;			/* enum tls_mode of the listener */
	int loopback;			/* the client is on this host */
	int secured;			/* the client's bytes cross TLS */
	struct tls_conn *tls;		/* the pre-auth child's TLS, or NULL */

	/* AUTHORIZATION: the pre-auth child (login.c) */
	const char *apop_challenge;	/* "<...@host>", "" if APOP is off */
	int ipc_fd;			/* to the monitor */
	int login_checks;		/* credentials the monitor checked */
	int utf8;			/* RFC 6856 UTF8 sent (both phases) */

	/* TRANSACTION: the mail-user session */
	const char *user;		/* the login name */
	const struct pop23d_store_ops *store;
	const char *location;		/* expanded maildrop location */
};

#endif
