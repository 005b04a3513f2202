/*
 * pop2.h - the POP2 front end (RFC 937).  pop2_preauth() runs in the
 * unprivileged pre-auth child (greeting, HELO); pop2_postauth() as the mail
 * user (MBOX, ITEM, NEXT states; FOLD; commit at QUIT or FOLD).
 */
#ifndef POP23D_POP2_H
#define POP23D_POP2_H

struct session;

/* Greeting and AUTH state.  1 when HELO was accepted (hand over), 0 when
 * the session ended. */
int pop2_preauth(struct session *s);
/* Select the default mailbox, answer HELO with "#n", serve the session. */
void pop2_postauth(struct session *s);

#endif
