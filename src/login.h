/*
 * login.h - logging in from the pre-auth child: the front ends parse the
 * client's login command, login.c hands the credentials to the monitor
 * (ipc.h) and returns its verdict.  The front end answers the client; on
 * POP23D_OK it returns CLIENT_HANDOVER at once (client.h) and the session
 * layer calls login_handover() and exits: the monitor owns the connection
 * from then on.  Nothing here calls up into the session layer.
 *
 * A login is a dialogue of rounds inside one client command:
 *
 *   login_start(mech, data) -> verdict | POP23D_CONTINUE + challenge
 *   login_step(response)    -> verdict | POP23D_CONTINUE + challenge ...
 *
 * USER/PASS, APOP and POP2 HELO need one round.  SASL (AUTH, RFC 5034):
 * the front end decodes each base64 line, calls login_sasl() with the
 * mechanism and the initial response, sends every challenge as
 * "+ base64" and answers it with login_step().  The SASL library itself
 * runs in the auth service, never here.
 *
 * PRIVILEGE: the pre-auth child (login_user, chrooted).
 */
#ifndef POP23D_LOGIN_H
#define POP23D_LOGIN_H

#include <stddef.h>
#include <pop23d/plugin.h>

#include "client.h"
#include "ipc.h"

enum login_mech {
	/* RFC 4616 PLAIN: [authzid] NUL authcid NUL password.  USER/PASS
	 * and POP2 HELO build it (login_plain()); AUTH PLAIN will pass the
	 * client's own.  The authzid must be empty or the authcid. */
	LOGIN_MECH_PLAIN = 1,
	/* RFC 1939 APOP: user NUL digest; the monitor checks the digest
	 * against its own copy of the greeting's timestamp. */
	LOGIN_MECH_APOP = 2,
	/* SASL (RFC 5034 AUTH): "MECH NUL flag response", see
	 * login_sasl(); further rounds with login_step(). */
	LOGIN_MECH_SASL = 3,
	/* Not a login: ask for the SASL mechanism list (login_mechs()). */
	LOGIN_MECH_LIST = 4,
};

/* What a mechanism that needs another round sends the client. */
struct login_challenge {
	size_t len;
	unsigned char data[IPC_CHALLENGE_MAX];
};

/*
 * Start a login with MECH and its DATA (LEN octets; wiped, it holds a
 * secret).  Output queued for the client (a "+OK" to a pipelined USER)
 * is flushed first.  Returns the monitor's verdict:
 *   POP23D_OK        accepted: write nothing more, return CLIENT_HANDOVER;
 *   POP23D_FAIL, POP23D_NOUSER   bad credentials (look the same);
 *   POP23D_TEMPFAIL  the backend or the link to the monitor failed;
 *   POP23D_PERMFAIL  good credentials, but the account cannot log in;
 *   POP23D_CONTINUE  *CHALLENGE_R holds the next challenge (SASL; never
 *                    returned while CHALLENGE_R is NULL).
 * Every verdict but OK and CONTINUE counts as a check for
 * login_exhausted().
 */
enum pop23d_result login_start(struct client *c, enum login_mech mech,
    void *data, size_t len, struct login_challenge *challenge_r);
/* login_start() with an RFC 4616 message for USER and PASSWORD (wiped). */
enum pop23d_result login_plain(struct client *c, const char *user,
    char *password);
/* login_start() for RFC 1939 APOP: USER and DIGEST (wiped). */
enum pop23d_result login_apop(struct client *c, const char *user,
    char *digest);
/*
 * SASL: start mechanism MECH (upper case, at most 20 characters) with
 * its initial response IN/LEN (IN NULL: none; wiped).  Results as
 * login_start(); on POP23D_CONTINUE answer with login_step().
 */
enum pop23d_result login_sasl(struct client *c, const char *mech,
    unsigned char *in, size_t len, struct login_challenge *challenge_r);
/*
 * SASL: the client's next decoded response IN/LEN (wiped), or CANCEL
 * ("*", RFC 5034: the exchange ends, the verdict is POP23D_FAIL).
 * Results as login_start().
 */
enum pop23d_result login_step(struct client *c, unsigned char *in,
    size_t len, int cancel, struct login_challenge *challenge_r);
/*
 * The SASL mechanisms offered on this connection (the auth plugin's
 * sasl_mechs(), asked through the monitor and kept until
 * login_plaintext_ok()'s answer changes, e.g. after STLS): upper-case
 * names separated by spaces, "" for none.
 */
const char *login_mechs(struct client *c);
/*
 * May plaintext credentials (USER/PASS, APOP, POP2 HELO, SASL mechanisms
 * that send a reusable password) be used on this connection?  Non-zero:
 * yes.  The one place where TLS (or a trusted network) decides it: yes
 * under TLS (c->secured); never before TLS on a tls=required listener;
 * otherwise as plaintext_auth says (no; loopback: only from a loopback
 * address; yes).  Callers refuse with "-ERR [AUTH] ..." that names STLS
 * when login_stls_offered(), and CAPA lists USER only when this is
 * non-zero.
 */
int login_plaintext_ok(const struct client *c);
/* Non-zero if STLS may be given now: TLS is configured for this POP3
 * listener and not active yet. */
int login_stls_offered(const struct client *c);
/*
 * Non-zero once max_auth_failures checks have failed on this connection:
 * the front end answers and closes (the monitor counts too, and refuses
 * any further check).
 */
int login_exhausted(const struct client *c);
/*
 * After POP23D_OK: give the monitor the input the client has already sent
 * after its login command (pipelining), unparsed.  Under TLS the record
 * says that this process stays as the session's TLS proxy.  0 or -1.
 */
int login_handover(struct client *c);

#endif
