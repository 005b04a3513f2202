/*
 * proto.c - what the POP2 and POP3 front ends share: the table-driven
 * command dispatcher (see proto.h), strict number parsing (digits only,
 * no sign, no leading zero, overflow caught; Dovecot get_msgnum(),
 * popa3d), command splitting and a printable-ASCII check.
 * PRIVILEGE: runs unprivileged (pre-auth child or mail-user session) on
 * client bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

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

/*
 * Split ARGS at single spaces (RFC 1939 section 3) into at most
 * PROTO_ARGS_MAX words.  Returns the count, PROTO_ARGS_MAX + 1 for more
 * words, or -1 for an empty word (two spaces, a trailing space).
 */
static int
split_words(char *args, char **argv)
{
	int argc = 0;
	char *p = args, *sp;

	if (*p == '\0')
		return 0;
	for (;;) {
		if (argc == PROTO_ARGS_MAX)
			return PROTO_ARGS_MAX + 1;
		sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		if (*p == '\0')
			return -1;
		argv[argc++] = p;
		if (sp == NULL)
			return argc;
		p = sp + 1;
	}
}

/* Split ARGS by C's rule into CALL.  PROTO_RUN or an argument verdict. */
static enum proto_verdict
split_args(const struct proto_cmd *c, char *args, struct proto_call *call)
{
	int n;

	if (c->argmax == PROTO_REST) {
		if (c->argmin > 0 && *args == '\0')
			return PROTO_ARGS_MISSING;
		call->argv[0] = args;
		call->argc = 1;
		return PROTO_RUN;
	}
	n = split_words(args, call->argv);
	if (n < 0 || n > c->argmax)
		return PROTO_ARGS_EXTRA;
	if (n < c->argmin)
		return PROTO_ARGS_MISSING;
	call->argc = n;
	return PROTO_RUN;
}

enum proto_verdict
proto_lookup(const struct proto_cmd *table, unsigned state, char *line,
    struct proto_call *call_r)
{
	const struct proto_cmd *c, *other = NULL;
	char *verb, *args;

	memset(call_r, 0, sizeof(*call_r));
	verb = proto_split(line, &args);
	for (c = table; c->verb != NULL; c++) {
		if (strcasecmp(c->verb, verb) != 0)
			continue;
		if (state < 32 && (c->states & PROTO_STATE(state))) {
			call_r->cmd = c;
			return split_args(c, args, call_r);
		}
		if (other == NULL)
			other = c;
	}
	call_r->cmd = other;
	return other != NULL ? PROTO_WRONG_STATE : PROTO_UNKNOWN;
}

int
proto_dispatch(const struct proto_cmd *table, unsigned state, char *line,
    void *fe, int (*refuse)(void *fe, enum proto_verdict v,
    const struct proto_cmd *cmd))
{
	struct proto_call call;
	enum proto_verdict v;

	v = proto_lookup(table, state, line, &call);
	if (v != PROTO_RUN)
		return refuse(fe, v, call.cmd);
	return call.cmd->fn(fe, call.argv, call.argc);
}
