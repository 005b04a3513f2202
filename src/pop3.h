/*
 * pop3.h - the POP3 front end (RFC 1939, RFC 1225 LAST, RFC 2449 CAPA and
 * response codes).  pop3_preauth() runs in the unprivileged pre-auth
 * child; pop3_postauth() as the mail user.  Both get the connection from
 * the session layer and return to it; neither calls back up.
 */
#ifndef POP23D_POP3_H
#define POP23D_POP3_H

#include "client.h"

/*
 * Greeting and AUTHORIZATION.  Returns CLIENT_HANDOVER when the monitor
 * accepted a login (nothing more was written; the caller hands over and
 * exits), CLIENT_CLOSE when the dialogue ended (QUIT, too many failures
 * or bad commands, the phase deadline, a lost client).
 */
enum client_exit pop3_preauth(struct client *c);
/* Open the maildrop, answer the login, run TRANSACTION and UPDATE. */
void pop3_postauth(struct client *c);

#endif
