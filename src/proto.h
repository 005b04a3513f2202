/*
 * proto.h - what the POP2 and POP3 front ends share: one table-driven
 * command dispatcher, strict number parsing, command splitting.
 * Runs unprivileged (pre-auth child or mail-user session).
 *
 * A front end describes its protocol as one table of struct proto_cmd:
 * verb, the states it is valid in, its argument rule and its handler.
 * proto_dispatch() finds the entry for a command line in the current
 * state, splits the arguments by the rule and runs the handler, or tells
 * the front end why not (unknown verb, a verb of another state, too few or
 * too many arguments) so it can answer in its own words.  A handler never
 * checks the state or counts arguments itself (doc/DESIGN.md section 2.4;
 * qmail commands.c, OpenSMTPD smtp_session.c commands[]).
 */
#ifndef POP23D_PROTO_H
#define POP23D_PROTO_H

#include <stddef.h>

/* The bit of state ST (0..31) in a struct proto_cmd's STATES mask. */
#define PROTO_STATE(st)		(1u << (st))
/* Words a command takes at most: TOP msg n, APOP name digest; AUTH
 * mechanism [initial-response] (RFC 5034) fits too. */
#define PROTO_ARGS_MAX		2
/* ARGMAX value: the rest of the line after the verb and one space is one
 * argument, spaces included (PASS, POP2 HELO and FOLD). */
#define PROTO_REST		255

struct proto_cmd {
	const char *verb;	/* matched without regard to case */
	unsigned states;	/* PROTO_STATE() of each state it is valid in */
	unsigned char argmin;	/* words at least (REST: 1 = not empty) */
	unsigned char argmax;	/* words at most, or PROTO_REST */
	/* FE is the front end's own context.  ARGV holds ARGC words; with
	 * PROTO_REST, ARGC is 1 and ARGV[0] the rest of the line ("" if
	 * empty and ARGMIN is 0).  Returns the front end's event. */
	int (*fn)(void *fe, char **argv, int argc);
};

/* Why a command line does not run. */
enum proto_verdict {
	PROTO_RUN = 0,		/* found for this state, arguments fit */
	PROTO_UNKNOWN,		/* no entry has this verb */
	PROTO_WRONG_STATE,	/* the verb exists, but not in this state */
	PROTO_ARGS_MISSING,	/* fewer words than ARGMIN */
	PROTO_ARGS_EXTRA,	/* more words than ARGMAX, or an empty word
				 * (two spaces, a trailing space) */
};

struct proto_call {
	/* The entry: for PROTO_RUN and the argument verdicts the one of
	 * this state, for PROTO_WRONG_STATE one with the same verb (its
	 * canonical spelling for a reply); NULL for PROTO_UNKNOWN. */
	const struct proto_cmd *cmd;
	char *argv[PROTO_ARGS_MAX];
	int argc;
};

/*
 * Look LINE up in TABLE (ended by an entry with a NULL verb) for STATE
 * (a state number, not a mask) and split its arguments in place.  Returns
 * the verdict; *CALL_R is filled as described above.
 */
enum proto_verdict proto_lookup(const struct proto_cmd *table,
    unsigned state, char *line, struct proto_call *call_r);
/*
 * proto_lookup(), then run the entry's handler with FE (PROTO_RUN), or
 * REFUSE(FE, verdict, call.cmd): how the front end answers a command that
 * does not run.  Returns what the one that ran returned (an event).
 */
int proto_dispatch(const struct proto_cmd *table, unsigned state, char *line,
    void *fe, int (*refuse)(void *fe, enum proto_verdict v,
    const struct proto_cmd *cmd));

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
