/*
 * session.h - one client connection, from accept() to close: the top of
 * the per-connection code.  It runs the front ends (pop3.h, pop2.h) and
 * decides what comes after each phase; they never call back up.
 *
 * Process ladder for each connection (see doc/DESIGN.md, section 2):
 *
 *   master (root) --fork--> monitor (root; never reads client bytes)
 *                              |--fork--> pre-auth child (login_user,
 *                              |          chrooted): greeting, USER/PASS/
 *                              |          APOP/HELO; login.c sends the
 *                              |          credentials to the monitor
 *                              |<-- verdict OK: hand-over of the unparsed
 *                              |    input, the child exits (under TLS it
 *                              |    stays as the session's TLS proxy)
 *                           monitor drops to the mail user and becomes
 *                           the session: TRANSACTION and UPDATE.
 *
 * Rootless (started by a non-root user): the same processes, no uid change.
 */
#ifndef POP23D_SESSION_H
#define POP23D_SESSION_H

#include "conf.h"

struct loaded_plugin;

/*
 * Run a whole connection in the current (freshly forked) process and exit:
 * client input on RFD, output on WFD (the same socket, or inetd's fd 0
 * and fd 1, which a wrapper may make two pipes).  Called by the master's
 * accept loop and by inetd mode.  After a login the auth plugin is
 * unloaded in this process (its user table, password hashes included, is
 * wiped by the plugin's destructor), so the mail-user session holds no
 * credentials.  TLS_MODE is the listener's enum tls_mode; LOOPBACK says
 * that the client is on this host (login_plaintext_ok()).
 *
 * MASTER_FD is -1, or the connection came in on a "proxy" listener: the
 * pre-auth child reads the PROXY header first, and the monitor names the
 * real client to the master on MASTER_FD (peerchan.h), which answers
 * under max_per_ip.  LOOPBACK then describes the real client, not the
 * proxy (a balancer on this host connects from 127.0.0.1).
 */
void session_run(int rfd, int wfd, const struct config *cfg,
    enum proto proto, int tls_mode, int loopback, struct loaded_plugin *auth,
    const struct loaded_plugin *store, const char *peer, int master_fd)
    __attribute__((noreturn));

struct ipc_login;

/*
 * The monitor's decoder of a login record from the pre-auth child (which
 * it does not trust): split REQ's data into *USER_R and *SECRET_R by its
 * mechanism, copied into BUF (IPC_LOGIN_DATA_MAX + 1 octets).  0, or -1
 * if the record is malformed, or the user name breaks i18n_name_ok()
 * (UTF-8 names allowed when UTF8_USER is non-zero: the utf8_user
 * setting).  Called by the monitor and by the IPC fuzz target
 * (tests/fuzz/fuzz_ipc.c).
 */
int monitor_parse(const struct ipc_login *req, char *buf,
    const char **user_r, const char **secret_r, int utf8_user);

#endif
