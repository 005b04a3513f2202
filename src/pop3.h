/*
 * pop3.h - the POP3 front end (RFC 1939, RFC 1225 LAST, RFC 2449 CAPA and
 * response codes).  pop3_preauth() runs in the unprivileged pre-auth child;
 * pop3_postauth() as the mail user.
 */
#ifndef POP23D_POP3_H
#define POP23D_POP3_H

struct session;

/* Greeting and AUTHORIZATION.  Returns 1 when a login was accepted by the
 * monitor (hand over), 0 when the session ended. */
int pop3_preauth(struct session *s);
/* Open the maildrop, answer the login, run TRANSACTION and UPDATE. */
void pop3_postauth(struct session *s);

#endif
