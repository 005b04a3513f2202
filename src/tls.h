/*
 * tls.h - TLS (OpenSSL 3) for the front ends: STLS (RFC 2595), implicit
 * TLS (pop3s/pop2s, RFC 8314), the TLS proxy that carries a logged-in
 * session, and session tickets whose keys the master holds and rotates.
 *
 * Who calls what (doc/DESIGN.md section 2.9):
 *   master (root)      tls_server_load() and tls_server_install() at
 *                      start-up and on SIGHUP: reads and checks the files
 *                      (trust.c), builds the server context; and
 *                      tls_tickets_tick().  It never runs a handshake
 *                      with a client (tls_server_warm(): one with itself,
 *                      in memory).
 *   monitor (root)     tls_forget() right after it forked the pre-auth
 *                      child: the context (the private key with it) and
 *                      the ticket keys are wiped from its memory before it
 *                      becomes the mail user.
 *   pre-auth child     tls_accept(): the handshake and every record; after
 *   (login_user,       a login tls_proxy() carries the session's bytes
 *    chrooted)         until the session ends.
 * The mail-user session never holds the key, a ticket key or the
 * connection's TLS secrets: it speaks plaintext to the proxy over a
 * socketpair.
 */
#ifndef POP23D_TLS_H
#define POP23D_TLS_H

#include "conf.h"
#include "net.h"

struct tls_server;	/* a loaded certificate, key and settings */
struct tls_conn;	/* one connection's TLS */

/* The longest client certificate name passed on (tls_conn_peer()). */
#define TLS_PEER_MAX	255
/* "TLSv1.3/TLS_AES_256_GCM_SHA384" and the like, for logs. */
#define TLS_INFO_MAX	96

/*
 * First thing in main(), before OpenSSL allocates anything: OpenSSL's
 * allocator wipes every block it frees, so no copy of the private key
 * outlives its use in freed memory (tls.c).  0, or -1 if it is too late.
 */
int tls_init_memory(void);
/*
 * Master: read CFG's tls_cert, tls_key, tls_chain and tls_client_ca
 * (each must pass trust_check()) into a new server context.  0 with
 * *SRV_R NULL when no certificate is configured; -1 with the reason in
 * *ERROR_R (text owned by tls.c, valid until the next call).
 */
int tls_server_load(const struct config *cfg, struct tls_server **srv_r,
    const char **error_r);
/* Master: make SRV the one connections use (NULL: none) and free the one
 * before.  The first call with a server makes the ticket keys. */
void tls_server_install(struct tls_server *srv);
/*
 * Master of the daemon, after each tls_server_install(): one TLS 1.3
 * handshake of the installed context with a client of our own over memory
 * BIOs, in a thread, so that OpenSSL's fetched algorithms are cached
 * before the first fork (doc/DESIGN.md 2.9).  Not for inetd mode or
 * pop23d -t, where the process would pay it and no child would gain.
 */
void tls_server_warm(void);
/* Free a server that was loaded but not installed (pop23d -t). */
void tls_server_free(struct tls_server *srv);
/* Non-zero if a server context is installed (TLS can be offered). */
int tls_enabled(void);
/* One line about the installed certificate for the log ("" if none). */
const char *tls_server_desc(void);
/*
 * Master: make a new ticket key when ROTATE_S seconds have passed since
 * the last one; the one before it is kept, so a ticket is good for at
 * most two rotations.  Returns the milliseconds until the next rotation
 * (for the accept loop's poll), or -1 when TLS is off.
 */
int tls_tickets_tick(int rotate_s);
/*
 * Monitor: free the installed server context and wipe the ticket keys in
 * this process.  Called right after the pre-auth child is forked: the
 * monitor never speaks TLS, and it becomes the mail user later.
 */
void tls_forget(void);

/*
 * Pre-auth child: run the server handshake on N's descriptors (one
 * stream socket), bounded by N's deadline.  On success N sends and
 * receives through TLS from now on and *CONN_R is the connection; -1
 * with the reason in *ERROR_R (OpenSSL's text) otherwise.
 */
int tls_accept(struct net *n, struct tls_conn **conn_r,
    const char **error_r);
/* Protocol and cipher ("TLSv1.3/TLS_AES_128_GCM_SHA256"). */
const char *tls_conn_info(const struct tls_conn *c);
/* The verified client certificate's common name (printable ASCII, at
 * most TLS_PEER_MAX octets), or "" if none was given or verified. */
const char *tls_conn_peer(const struct tls_conn *c);
/* Non-zero if the session was resumed from a ticket. */
int tls_conn_resumed(const struct tls_conn *c);
/* Log "tls: TLSv1.3/... [resumed] [peer=NAME]" for a new connection. */
void tls_conn_log(const struct tls_conn *c);
/*
 * Pre-auth child, after the hand-over: carry bytes between the client
 * (N, through TLS) and the session's end of PLAIN_FD (a stream socket)
 * until one side ends; then send the client a close_notify.  A client
 * that does not read for N's write timeout ends it too.  0, or -1 after
 * an error.
 */
int tls_proxy(struct tls_conn *c, struct net *n, int plain_fd);
/* Send a close_notify (bounded by N's write timeout and deadline) and
 * free C; N is back on its descriptors. */
void tls_close(struct tls_conn *c, struct net *n);

#endif
