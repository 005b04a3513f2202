/*
 * proto.h - pieces shared by the POP2 and POP3 front ends: strict number
 * parsing, command splitting, and the command-table dispatcher types.
 * Runs unprivileged.
 */
#ifndef POP23D_PROTO_H
#define POP23D_PROTO_H

#include <stddef.h>

/*
 * Parse S as a message number: decimal digits only, no sign, no spaces, no
 * leading zero, 1 <= n <= 4294967295 (popa3d: "LIST 4294967297" is an
 * error).  Returns 0 and *n_r, or -1.
 */
int proto_parse_msgnum(const char *s, unsigned long *n_r);
/* As above but 0 is allowed (TOP line count, RFC 1939: non-negative). */
int proto_parse_count(const char *s, unsigned long *n_r);

/*
 * Split LINE in place into a keyword and the rest: the keyword ends at the
 * first space (or the end); *args_r points after that one space ("" if
 * none).  Returns the keyword (may be "").
 */
char *proto_split(char *line, char **args_r);

/* Non-zero if S has only printable ASCII (0x20-0x7E); no controls. */
int proto_printable(const char *s);

#endif
