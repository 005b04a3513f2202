/*
 * lex.h - lexical rules shared by the daemon and pop2get(1), so that the
 * server and its client cannot drift apart (OpenSMTPD's smtpctl links
 * smtpd's own files): strict decimal numbers, and RFC 937 quoting in both
 * directions.  Pure functions on strings; no I/O, no privilege.
 */
#ifndef POP23D_LEX_H
#define POP23D_LEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse the decimal number at the start of S: one or more digits, no sign,
 * no leading zero ("0" itself is the number 0), at most MAX (overflow
 * caught).  It ends at the first octet that is not a digit, which the
 * caller judges (*END_R points at it).  Returns 0 with *N_R and *END_R, or
 * -1 with neither written.
 */
int lex_number(const char *s, uint64_t max, uint64_t *n_r,
    const char **end_r);

/*
 * RFC 937 "Quoting": copy IN to OUT (size OUTSZ) with a backslash before
 * every space and backslash, so it travels as one HELO or FOLD argument.
 * Returns 0, or -1 if it does not fit or holds CR or LF (which no quoting
 * can carry).  A failed OUT is wiped (it may hold a password).
 */
int lex_quote(const char *in, char *out, size_t outsz);

/*
 * The inverse: copy the next argument of *P into OUT (size OUTSZ),
 * turning "\x" into "x".  With REST non-zero the argument is the rest of
 * the line (FOLD's mailbox may hold spaces); else it ends at an unquoted
 * space.  Advances *P past the argument and one separating space.
 * Returns 0, or -1 if the argument is empty, too long, or ends in a lone
 * backslash (*P unchanged, OUT wiped: it may hold a password).
 */
int lex_unquote(const char **p, char *out, size_t outsz, int rest);

#endif
