/*
 * lex.c - strict numbers and RFC 937 quoting, shared by the daemon
 * (proto.c, pop2.c) and pop2get(1).  See lex.h.
 * PRIVILEGE: none; pure string functions.  In the daemon they run
 * unprivileged on client bytes (pre-auth child, mail-user session).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "lex.h"

int
lex_number(const char *s, uint64_t max, uint64_t *n_r, const char **end_r)
{
	uint64_t v = 0, d;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;		/* "01", "00": never */
	for (; *p >= '0' && *p <= '9'; p++) {
		d = (uint64_t)(*p - '0');
		if (d > max || v > (max - d) / 10)
			return -1;	/* v * 10 + d > max, or overflow */
		v = v * 10 + d;
	}
	*n_r = v;
	*end_r = p;
	return 0;
}

int
lex_quote(const char *in, char *out, size_t outsz)
{
	size_t n = 0;

	if (outsz == 0)
		return -1;
	for (; *in != '\0'; in++) {
		if (*in == '\r' || *in == '\n')
			goto fail;
		if (*in == ' ' || *in == '\\') {
			if (n + 1 >= outsz)
				goto fail;
			out[n++] = '\\';
		}
		if (n + 1 >= outsz)
			goto fail;
		out[n++] = *in;
	}
	out[n] = '\0';
	return 0;
fail:
	explicit_bzero(out, outsz);
	return -1;
}

int
lex_unquote(const char **p, char *out, size_t outsz, int rest)
{
	const char *s = *p;
	size_t n = 0;
	char c;

	if (outsz == 0)
		return -1;
	while (*s != '\0' && (rest || *s != ' ')) {
		c = *s++;
		if (c == '\\') {
			if (*s == '\0')
				goto fail;	/* a lone trailing backslash */
			c = *s++;
		}
		if (n + 1 >= outsz)
			goto fail;
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == 0)
		return -1;
	if (*s == ' ')
		s++;
	*p = s;
	return 0;
fail:
	explicit_bzero(out, outsz);
	return -1;
}
