/*
 * proto.c - pieces shared by the POP2 and POP3 front ends: strict number
 * parsing (digits only, no sign, no leading zero, overflow caught; Dovecot
 * get_msgnum(), popa3d), command splitting and a printable-ASCII check.
 * Runs unprivileged (pre-auth child or mail-user session) on client bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "lex.h"
#include "proto.h"

/* popa3d: "LIST 4294967297" is an error, not message 1. */
#define PROTO_NUM_MAX		4294967295ULL

/* The whole of S is a number (lex.h rules) of at most PROTO_NUM_MAX. */
static int
parse_num(const char *s, int allow_zero, unsigned long *n_r)
{
	uint64_t v;
	const char *end;

	if (lex_number(s, PROTO_NUM_MAX, &v, &end) != 0 || *end != '\0')
		return -1;
	if (v == 0 && !allow_zero)
		return -1;
	*n_r = (unsigned long)v;
	return 0;
}

int
proto_parse_msgnum(const char *s, unsigned long *n_r)
{
	return parse_num(s, 0, n_r);
}

int
proto_parse_count(const char *s, unsigned long *n_r)
{
	return parse_num(s, 1, n_r);
}

char *
proto_split(char *line, char **args_r)
{
	char *sp;

	/*
	 * RFC 1939 section 3: keywords and arguments are separated by a
	 * single SPACE.  Whatever follows that one space is the argument
	 * text, extra spaces included; the caller judges it.
	 */
	if ((sp = strchr(line, ' ')) != NULL) {
		*sp = '\0';
		*args_r = sp + 1;
	} else
		*args_r = line + strlen(line);
	return line;
}

int
proto_printable(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return 0;
	return 1;
}
