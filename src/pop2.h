/*
 * pop2.h - the POP2 front end (RFC 937).  pop2_preauth() runs in the
 * unprivileged pre-auth child (greeting, HELO); pop2_postauth() as the mail
 * user (MBOX, ITEM, NEXT states; FOLD; commit at QUIT or FOLD).
 */
#ifndef POP23D_POP2_H
#define POP23D_POP2_H

#include <stddef.h>

struct session;

/* Greeting and AUTH state.  1 when HELO was accepted (hand over), 0 when
 * the session ended. */
int pop2_preauth(struct session *s);
/* Select the default mailbox, answer HELO with "#n", serve the session. */
void pop2_postauth(struct session *s);

/*
 * RFC 937 "Quoting": copy the next argument of *P into OUT (size OUTSZ),
 * turning "\x" into "x".  With REST non-zero the argument is the rest of
 * the line (FOLD's mailbox may hold spaces); else it ends at an unquoted
 * space.  Advances *P past the argument and one separating space.
 * Returns 0, or -1 if the argument is empty, too long, or ends in a lone
 * backslash.
 */
int pop2_unquote(const char **p, char *out, size_t outsz, int rest);

#endif
