/*
 * proto.c - pieces shared by the POP2 and POP3 front ends: strict number
 * parsing (digits only, no sign, no leading zero, overflow caught; Dovecot
 * get_msgnum(), popa3d), command splitting and a printable-ASCII check.
 * Runs unprivileged (pre-auth child or mail-user session) on client bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "proto.h"

/* popa3d: "LIST 4294967297" is an error, not message 1. */
#define PROTO_NUM_MAX		4294967295ULL
/* Ten digits hold PROTO_NUM_MAX; more can never be in range. */
#define PROTO_NUM_DIGITS	10

static int
parse_num(const char *s, int allow_zero, unsigned long *n_r)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	if (s[0] == '0') {
		/* "0" only where allowed; "01", "00" never. */
		if (allow_zero && s[1] == '\0') {
			*n_r = 0;
			return 0;
		}
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if (i == PROTO_NUM_DIGITS)
			return -1;
		if (s[i] < '0' || s[i] > '9')
			return -1;
		/* At most 10 digits: v < 10^10, no uint64_t overflow. */
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > PROTO_NUM_MAX)
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
