/*
 * session.h - one client connection, from accept() to close.
 *
 * Process ladder for each connection (see doc/DESIGN.md):
 *
 *   master (root) --fork--> monitor (root; never reads client bytes)
 *                              |--fork--> pre-auth child (login_user,
 *                              |          chrooted): greeting, USER/PASS/
 *                              |          APOP/HELO; sends credentials to
 *                              |          the monitor over a socketpair
 *                              |<-- credentials + unparsed input
 *                           monitor checks them with the auth plugin, then
 *                           drops to the mail user and becomes the session:
 *                           TRANSACTION and UPDATE as the mail user.
 *
 * Rootless (started by a non-root user): the same processes, no uid change.
 */
#ifndef POP23D_SESSION_H
#define POP23D_SESSION_H

#include <limits.h>
#include <pop23d/plugin.h>
#include "conf.h"
#include "net.h"

struct loaded_plugin;

enum auth_kind {
	AUTH_KIND_PLAIN = 1,	/* USER/PASS, POP2 HELO */
	AUTH_KIND_APOP = 2,	/* secret = the digest */
};

struct session {
	const struct config *cfg;
	enum proto proto;
	char id[17];			/* hex session id, in every log line */
	char peer[80];			/* "addr port", for logs */
	char apop_challenge[300];	/* "<...@host>", "" if APOP is off */
	struct net net;
	int ipc_fd;			/* pre-auth child <-> monitor */

	/* set by the monitor after a successful login */
	char user[256];
	struct pop23d_identity ident;
	const struct pop23d_store_ops *store;
	char location[PATH_MAX];	/* expanded maildrop location */
	int auth_failures;
};

/*
 * Run a whole connection in the current (freshly forked) process and exit:
 * client input on RFD, output on WFD (the same socket, or inetd's fd 0
 * and fd 1, which a wrapper may make two pipes).  Called by the master's accept loop.  After a login the auth
 * plugin is unloaded in this process (its user table, password hashes
 * included, is wiped by the plugin's destructor), so the mail-user session
 * holds no credentials.
 */
void session_run(int rfd, int wfd, const struct config *cfg, enum proto proto,
    struct loaded_plugin *auth, const struct loaded_plugin *store,
    const char *peer) __attribute__((noreturn));

/*
 * Pre-auth side: hand USER (and SECRET: the password, or the APOP digest)
 * to the monitor, with any input the client already pipelined after the
 * command, and wait for the verdict.  SECRET is wiped.  Returns POP23D_OK
 * (the caller must then return at once without writing to the client: the
 * monitor takes over the connection), POP23D_FAIL or POP23D_NOUSER (bad
 * credentials), POP23D_TEMPFAIL or POP23D_PERMFAIL (backend trouble).
 */
enum pop23d_result session_authenticate(struct session *s,
    enum auth_kind kind, const char *user, char *secret);

#endif
