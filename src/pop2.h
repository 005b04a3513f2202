/*
 * pop2.h - the POP2 front end (RFC 937).  pop2_preauth() runs in the
 * unprivileged pre-auth child (greeting, HELO); pop2_postauth() as the mail
 * user (MBOX, ITEM, NEXT states; FOLD; commit at QUIT or FOLD).  Both get
 * the connection from the session layer and return to it.
 */
#ifndef POP23D_POP2_H
#define POP23D_POP2_H

#include "client.h"

/*
 * Greeting and AUTH state.  CLIENT_HANDOVER when the monitor accepted
 * HELO (nothing more was written; the caller hands over and exits),
 * CLIENT_CLOSE when the dialogue ended.
 */
enum client_exit pop2_preauth(struct client *c);
/* Select the default mailbox, answer HELO with "#n", serve the session. */
void pop2_postauth(struct client *c);

#endif
