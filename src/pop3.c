/*
 * pop3.c - the POP3 front end: RFC 1939, RFC 1225 LAST, RFC 2449 CAPA,
 * PIPELINING and response codes, RFC 3206 [AUTH] and [SYS/...].
 *
 * Each state has its own command table; the dispatcher looks only in the
 * current state's table, so no handler checks the state itself.  Handlers
 * write their own replies and return an event; every -ERR text lives in
 * the errors[] table below.
 *
 * PRIVILEGE: pop3_preauth() runs in the pre-auth child as login_user,
 * chrooted; pop3_postauth() as the mail user.  Neither ever runs as root.
 */
#include "config.h"

#include <sys/types.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compat.h"
#include "conf.h"
#include "defaults.h"
#include "log.h"
#include "maildrop.h"
#include "net.h"
#include "pop3.h"
#include "proto.h"
#include "session.h"

enum pop3_state {
	POP3_ST_AUTHORIZATION,
	POP3_ST_TRANSACTION,
	POP3_ST_UPDATE,
};

/* What a handler tells the dispatcher. */
enum pop3_event {
	EV_OK,			/* reply written */
	EV_BAD,			/* reply written; counts as a bad command */
	EV_LEAVE,		/* reply written; end the session */
	EV_HANDOVER,		/* login accepted: the monitor takes over */
	EV_CRASH,		/* the connection is unusable: close now */
};

enum args {
	ARGS_NONE,		/* no argument */
	ARGS_OPT1,		/* zero or one */
	ARGS_ONE,		/* exactly one */
	ARGS_TWO,		/* exactly two */
	ARGS_REST,		/* the rest of the line, spaces included */
};

/* Every -ERR text in one place (GNU Mailutils pop3d/cmd.c). */
enum pop3_err {
	E_UNKNOWN,
	E_STATE,
	E_SYNTAX,
	E_TOOLONG,
	E_NUL,
	E_TOOMANY,
	E_NEEDUSER,
	E_AUTH,
	E_AUTHTEMP,
	E_AUTHPERM,
	E_AUTHCLOSE,
	E_NOAPOP,
	E_RPOP,
	E_INUSE,
	E_OPENTEMP,
	E_OPENPERM,
	E_BADNUM,
	E_NOLINES,
	E_UPDATE,
	E_READ,
	E_READONLY,
};

static const char *const errors[] = {
	[E_UNKNOWN] = "-ERR unknown command",
	[E_STATE] = "-ERR command not valid in this state",
	[E_SYNTAX] = "-ERR syntax error: wrong number of arguments",
	[E_TOOLONG] = "-ERR command line too long",
	[E_NUL] = "-ERR NUL byte in command",
	[E_TOOMANY] = "-ERR too many bad commands, closing",
	[E_NEEDUSER] = "-ERR USER first",
	[E_AUTH] = "-ERR [AUTH] invalid user name or password",
	[E_AUTHTEMP] = "-ERR [SYS/TEMP] authentication is temporarily "
	    "unavailable",
	[E_AUTHPERM] = "-ERR [SYS/PERM] this account cannot log in",
	[E_AUTHCLOSE] = "-ERR [AUTH] too many failed logins, closing",
	[E_NOAPOP] = "-ERR APOP is not enabled",
	[E_RPOP] = "-ERR RPOP is not supported (removed in RFC 1460)",
	[E_INUSE] = "-ERR [IN-USE] maildrop is locked by another session",
	[E_OPENTEMP] = "-ERR [SYS/TEMP] cannot open the maildrop, try later",
	[E_OPENPERM] = "-ERR [SYS/PERM] cannot open the maildrop",
	[E_BADNUM] = "-ERR invalid message number",
	[E_NOLINES] = "-ERR invalid line count",
	[E_UPDATE] = "-ERR [SYS/TEMP] some deleted messages were not removed",
	[E_READ] = "-ERR [SYS/TEMP] cannot read the message",
	[E_READONLY] = "-ERR [SYS/PERM] the maildrop is read-only",
};

struct pop3 {
	struct session *s;
	enum pop3_state state;
	struct maildrop *md;
	char user[255 + 1];	/* pending USER name */
	int have_user;
	int bad;			/* bad commands so far */
	/* statistics for the logout line */
	unsigned long n_retr, n_top, n_dele;
	uint64_t bytes_sent;
};

struct pop3_cmd {
	const char *name;
	enum pop3_event (*fn)(struct pop3 *p, char **argv, int argc);
	enum args args;
};

static enum pop3_event
reply_err(struct pop3 *p, enum pop3_err e)
{
	net_printf(&p->s->net, "%s\r\n", errors[e]);
	return EV_OK;
}

static enum pop3_event
reply_bad(struct pop3 *p, enum pop3_err e)
{
	reply_err(p, e);
	return EV_BAD;
}

/* RFC 1225's dialogue says "2 messages"; one is "1 message". */
static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static void
enter_state(struct pop3 *p, enum pop3_state st)
{
	static const char *const names[] = {
		"AUTHORIZATION", "TRANSACTION", "UPDATE"
	};

	log_debug("pop3 state %s -> %s", names[p->state], names[st]);
	p->state = st;
}

/* ---------------------------------------------------------------- CAPA */

static enum pop3_event
cmd_capa(struct pop3 *p, char **argv, int argc)
{
	struct net *n = &p->s->net;

	/* RFC 2449: anything listed before login is listed after it too;
	 * LOGIN-DELAY and EXPIRE may differ. */
	net_printf(n, "+OK capability list follows\r\n"
	    "TOP\r\nUSER\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\n");
	if (p->state == POP3_ST_TRANSACTION)
		net_printf(n, "IMPLEMENTATION pop23d-%s\r\n", PACKAGE_VERSION);
	net_printf(n, ".\r\n");
	return EV_OK;
}

/* ------------------------------------------------------- AUTHORIZATION */

static enum pop3_event
cmd_user(struct pop3 *p, char **argv, int argc)
{
	if (strlen(argv[0]) >= sizeof p->user || !proto_printable(argv[0]))
		return reply_bad(p, E_SYNTAX);
	memcpy(p->user, argv[0], strlen(argv[0]) + 1);
	p->have_user = 1;
	net_printf(&p->s->net, "+OK send PASS\r\n");
	return EV_OK;
}

/* Hand credentials to the monitor; answer a failure. */
static enum pop3_event
login(struct pop3 *p, enum auth_kind kind, const char *user, char *secret)
{
	enum pop23d_result r;

	p->have_user = 0;
	r = session_authenticate(p->s, kind, user, secret);
	switch (r) {
	case POP23D_OK:
		return EV_HANDOVER;	/* not reached: the child exits */
	case POP23D_TEMPFAIL:
		reply_err(p, E_AUTHTEMP);
		return EV_OK;
	case POP23D_PERMFAIL:
		reply_err(p, E_AUTHPERM);
		return EV_OK;
	default:
		break;
	}
	if (++p->s->auth_failures >= p->s->cfg->max_auth_failures) {
		reply_err(p, E_AUTHCLOSE);
		return EV_LEAVE;
	}
	reply_err(p, E_AUTH);
	return EV_OK;
}

static enum pop3_event
cmd_pass(struct pop3 *p, char **argv, int argc)
{
	/* RFC 1939 section 7: PASS only right after a successful USER.
	 * The argument is the rest of the line: spaces may be part of the
	 * password. */
	if (!p->have_user) {
		explicit_bzero(argv[0], strlen(argv[0]));
		return reply_bad(p, E_NEEDUSER);
	}
	if (argv[0][0] == '\0') {
		p->have_user = 0;
		return reply_bad(p, E_SYNTAX);
	}
	return login(p, AUTH_KIND_PLAIN, p->user, argv[0]);
}

static enum pop3_event
cmd_apop(struct pop3 *p, char **argv, int argc)
{
	char user[255 + 1];

	if (p->s->apop_challenge[0] == '\0')
		return reply_bad(p, E_NOAPOP);
	if (strlen(argv[0]) >= sizeof user || !proto_printable(argv[0]))
		return reply_bad(p, E_SYNTAX);
	memcpy(user, argv[0], strlen(argv[0]) + 1);
	return login(p, AUTH_KIND_APOP, user, argv[1]);
}

static enum pop3_event
cmd_rpop(struct pop3 *p, char **argv, int argc)
{
	return reply_bad(p, E_RPOP);
}

static enum pop3_event
cmd_quit_auth(struct pop3 *p, char **argv, int argc)
{
	net_printf(&p->s->net, "+OK %s POP3 server signing off\r\n",
	    p->s->cfg->hostname);
	return EV_LEAVE;
}

/* --------------------------------------------------------- TRANSACTION */

/*
 * Look up message argument S.  Returns the message, or NULL after writing
 * the -ERR (RFC 1225 wording).
 */
static struct maildrop_msg *
get_msg(struct pop3 *p, const char *s, size_t *n_r)
{
	unsigned long n;
	struct maildrop *md = p->md;

	if (proto_parse_msgnum(s, &n) != 0) {
		/* "0" is a number, just not a message */
		if (strcmp(s, "0") != 0) {
			reply_err(p, E_BADNUM);
			return NULL;
		}
		n = 0;
	}
	if (n < 1 || n > md->count) {
		net_printf(&p->s->net, "-ERR no such message, only %zu "
		    "messages in maildrop\r\n", md->count);
		return NULL;
	}
	if (md->msgs[n - 1].deleted) {
		net_printf(&p->s->net, "-ERR message %lu already deleted\r\n",
		    n);
		return NULL;
	}
	*n_r = n;
	return &md->msgs[n - 1];
}

static enum pop3_event
cmd_stat(struct pop3 *p, char **argv, int argc)
{
	net_printf(&p->s->net, "+OK %zu %" PRIu64 "\r\n", p->md->live,
	    p->md->live_octets);
	return EV_OK;
}

static enum pop3_event
cmd_list(struct pop3 *p, char **argv, int argc)
{
	struct net *n = &p->s->net;
	size_t i, num;
	struct maildrop_msg *m;

	if (argc == 1) {
		if ((m = get_msg(p, argv[0], &num)) != NULL)
			net_printf(n, "+OK %zu %" PRIu64 "\r\n", num, m->size);
		return EV_OK;
	}
	net_printf(n, "+OK %zu message%s (%" PRIu64 " octets)\r\n",
	    p->md->live, plural(p->md->live), p->md->live_octets);
	for (i = 0; i < p->md->count; i++)
		if (!p->md->msgs[i].deleted)
			net_printf(n, "%zu %" PRIu64 "\r\n", i + 1,
			    p->md->msgs[i].size);
	net_printf(n, ".\r\n");
	return EV_OK;
}

static enum pop3_event
cmd_uidl(struct pop3 *p, char **argv, int argc)
{
	struct net *n = &p->s->net;
	size_t i, num;
	struct maildrop_msg *m;

	if (argc == 1) {
		if ((m = get_msg(p, argv[0], &num)) != NULL)
			net_printf(n, "+OK %zu %s\r\n", num, m->uidl);
		return EV_OK;
	}
	net_printf(n, "+OK unique-id listing follows\r\n");
	for (i = 0; i < p->md->count; i++)
		if (!p->md->msgs[i].deleted)
			net_printf(n, "%zu %s\r\n", i + 1, p->md->msgs[i].uidl);
	net_printf(n, ".\r\n");
	return EV_OK;
}

/* RETR and TOP: stream the message, dot-stuffed, then the terminator. */
static enum pop3_event
send_msg(struct pop3 *p, size_t num, struct maildrop_msg *m, long lines)
{
	const char *err = NULL;
	char first[64];
	int r;

	if (lines < 0)
		snprintf(first, sizeof first, "+OK %" PRIu64 " octets\r\n",
		    m->size);
	else
		snprintf(first, sizeof first, "+OK top of message follows\r\n");
	r = maildrop_send(p->md, num, &p->s->net, lines, 1, first, &err);
	if (r == -1) {
		/* Nothing sent yet: say so and go on. */
		log_warnx("message %zu: %s", num, err != NULL ? err : "?");
		return reply_err(p, E_READ);
	}
	if (r != 0) {
		/* Part of the message is out already: the only honest
		 * thing left is to close without UPDATE. */
		log_warnx("message %zu: %s; closing without update", num,
		    err != NULL ? err : "?");
		return EV_CRASH;
	}
	net_write(&p->s->net, ".\r\n", 3);
	if (lines < 0)
		p->bytes_sent += m->size;
	return EV_OK;
}

static enum pop3_event
cmd_retr(struct pop3 *p, char **argv, int argc)
{
	size_t num;
	struct maildrop_msg *m = get_msg(p, argv[0], &num);

	if (m == NULL)
		return EV_OK;
	p->n_retr++;
	/* RFC 1225: LAST is the highest message referenced by RETR. */
	maildrop_access(p->md, num);
	return send_msg(p, num, m, -1);
}

static enum pop3_event
cmd_top(struct pop3 *p, char **argv, int argc)
{
	size_t num;
	unsigned long lines;
	struct maildrop_msg *m = get_msg(p, argv[0], &num);

	if (m == NULL)
		return EV_OK;
	/* RFC 1939 section 7: the line count must be non-negative. */
	if (proto_parse_count(argv[1], &lines) != 0 || lines > LONG_MAX / 2)
		return reply_err(p, E_NOLINES);
	p->n_top++;
	return send_msg(p, num, m, (long)lines);
}

static enum pop3_event
cmd_dele(struct pop3 *p, char **argv, int argc)
{
	size_t num;

	if (get_msg(p, argv[0], &num) == NULL)
		return EV_OK;
	if (p->md->read_only)
		return reply_err(p, E_READONLY);
	maildrop_delete(p->md, num);
	p->n_dele++;
	net_printf(&p->s->net, "+OK message %zu deleted\r\n", num);
	return EV_OK;
}

static enum pop3_event
cmd_noop(struct pop3 *p, char **argv, int argc)
{
	net_printf(&p->s->net, "+OK\r\n");
	return EV_OK;
}

static enum pop3_event
cmd_rset(struct pop3 *p, char **argv, int argc)
{
	maildrop_reset(p->md);
	net_printf(&p->s->net, "+OK maildrop has %zu message%s (%" PRIu64
	    " octets)\r\n", p->md->live, plural(p->md->live),
	    p->md->live_octets);
	return EV_OK;
}

static enum pop3_event
cmd_last(struct pop3 *p, char **argv, int argc)
{
	if (!p->s->cfg->last)
		return reply_bad(p, E_UNKNOWN);
	net_printf(&p->s->net, "+OK %zu\r\n", p->md->last);
	return EV_OK;
}

static enum pop3_event
cmd_quit_trans(struct pop3 *p, char **argv, int argc)
{
	const char *err = NULL;

	enter_state(p, POP3_ST_UPDATE);
	if (maildrop_commit(p->md, &err) != 0) {
		log_warnx("update failed: %s", err != NULL ? err : "?");
		reply_err(p, E_UPDATE);
		return EV_LEAVE;
	}
	if (p->md->live == 0)
		net_printf(&p->s->net, "+OK %s POP3 server signing off "
		    "(maildrop empty)\r\n", p->s->cfg->hostname);
	else
		net_printf(&p->s->net, "+OK %s POP3 server signing off "
		    "(%zu message%s left)\r\n", p->s->cfg->hostname,
		    p->md->live, plural(p->md->live));
	return EV_LEAVE;
}

/* ------------------------------------------------------ command tables */

static const struct pop3_cmd auth_cmds[] = {
	{ "USER", cmd_user, ARGS_ONE },
	{ "PASS", cmd_pass, ARGS_REST },
	{ "APOP", cmd_apop, ARGS_TWO },
	{ "RPOP", cmd_rpop, ARGS_REST },
	{ "CAPA", cmd_capa, ARGS_NONE },
	{ "QUIT", cmd_quit_auth, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

static const struct pop3_cmd trans_cmds[] = {
	{ "STAT", cmd_stat, ARGS_NONE },
	{ "LIST", cmd_list, ARGS_OPT1 },
	{ "RETR", cmd_retr, ARGS_ONE },
	{ "DELE", cmd_dele, ARGS_ONE },
	{ "NOOP", cmd_noop, ARGS_NONE },
	{ "RSET", cmd_rset, ARGS_NONE },
	{ "QUIT", cmd_quit_trans, ARGS_NONE },
	{ "TOP", cmd_top, ARGS_TWO },
	{ "UIDL", cmd_uidl, ARGS_OPT1 },
	{ "LAST", cmd_last, ARGS_NONE },
	{ "CAPA", cmd_capa, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

static const struct pop3_cmd *
find_cmd(const struct pop3_cmd *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (strcasecmp(table->name, name) == 0)
			return table;
	return NULL;
}

/*
 * Split ARGS at single spaces (RFC 1939 section 3) into at most 2 words.
 * Returns the count, or -1 for an empty word (two spaces, trailing space)
 * or more than two words.
 */
static int
split_args(char *args, char **argv)
{
	int argc = 0;
	char *p = args, *sp;

	if (*p == '\0')
		return 0;
	for (;;) {
		if (argc == 2)
			return -1;
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

static enum pop3_event
dispatch(struct pop3 *p, char *line)
{
	const struct pop3_cmd *table, *other, *c;
	char *args, *kw, *argv[2] = { NULL, NULL };
	int argc;

	table = p->state == POP3_ST_AUTHORIZATION ? auth_cmds : trans_cmds;
	other = p->state == POP3_ST_AUTHORIZATION ? trans_cmds : auth_cmds;
	kw = proto_split(line, &args);
	if ((c = find_cmd(table, kw)) == NULL) {
		if (find_cmd(other, kw) != NULL)
			return reply_bad(p, E_STATE);
		return reply_bad(p, E_UNKNOWN);
	}
	if (c->args == ARGS_REST) {
		argv[0] = args;
		argc = 1;
	} else {
		argc = split_args(args, argv);
		if (argc < 0 ||
		    (c->args == ARGS_NONE && argc != 0) ||
		    (c->args == ARGS_OPT1 && argc > 1) ||
		    (c->args == ARGS_ONE && argc != 1) ||
		    (c->args == ARGS_TWO && argc != 2))
			return reply_bad(p, E_SYNTAX);
	}
	return c->fn(p, argv, argc);
}

/*
 * Read and run commands until the session ends.  Returns the last event.
 */
static enum pop3_event
command_loop(struct pop3 *p, int timeout, int max_bad)
{
	char line[POP3_LINE_MAX + 1];
	size_t len;
	enum pop3_event ev;

	for (;;) {
		switch (net_readline(&p->s->net, line, POP3_LINE_MAX, &len,
		    timeout)) {
		case NET_LINE:
			ev = dispatch(p, line);
			explicit_bzero(line, sizeof line);
			break;
		case NET_TOOLONG:
			/* RFC 2449 section 4: 255 octets.  One -ERR for the
			 * whole line; its rest was discarded. */
			ev = reply_bad(p, E_TOOLONG);
			break;
		case NET_NUL:
			ev = reply_bad(p, E_NUL);
			break;
		case NET_TIMEOUT:
			/* RFC 1939 section 3: autologout closes without a
			 * response and without entering UPDATE. */
			log_info("autologout: idle for %d s", timeout);
			return EV_CRASH;
		default:
			return EV_CRASH;	/* EOF or error */
		}
		if (ev == EV_BAD && ++p->bad >= max_bad) {
			reply_err(p, E_TOOMANY);
			net_flush(&p->s->net);
			return EV_LEAVE;
		}
		if (ev == EV_LEAVE || ev == EV_CRASH || ev == EV_HANDOVER)
			return ev;
		if (p->s->net.failed)
			return EV_CRASH;
	}
}

int
pop3_preauth(struct session *s)
{
	struct pop3 p;
	const struct config *cfg = s->cfg;

	memset(&p, 0, sizeof p);
	p.s = s;
	p.state = POP3_ST_AUTHORIZATION;
	if (s->apop_challenge[0] != '\0')
		net_printf(&s->net, "+OK %s POP3 server ready %s\r\n",
		    cfg->hostname, s->apop_challenge);
	else
		net_printf(&s->net, "+OK %s POP3 server ready\r\n",
		    cfg->hostname);
	command_loop(&p, cfg->timeout_preauth, cfg->max_bad_commands_preauth);
	net_flush(&s->net);
	explicit_bzero(&p, sizeof p);
	return 0;
}

void
pop3_postauth(struct session *s)
{
	struct pop3 p;
	const char *err = NULL;
	enum pop23d_result r;
	enum pop3_event ev;

	memset(&p, 0, sizeof p);
	p.s = s;
	p.state = POP3_ST_AUTHORIZATION;
	r = maildrop_open(s->store, s->location, NULL, &p.md, &err);
	if (r != POP23D_OK) {
		log_info("maildrop result=%s %s",
		    r == POP23D_INUSE ? "in-use" : "error",
		    err != NULL ? err : "");
		reply_err(&p, r == POP23D_INUSE ? E_INUSE :
		    r == POP23D_PERMFAIL ? E_OPENPERM : E_OPENTEMP);
		net_flush(&s->net);
		return;
	}
	enter_state(&p, POP3_ST_TRANSACTION);
	net_printf(&s->net, "+OK %s's maildrop has %zu message%s (%" PRIu64
	    " octets)\r\n", s->user, p.md->live, plural(p.md->live),
	    p.md->live_octets);
	ev = command_loop(&p, s->cfg->timeout_pop3, s->cfg->max_bad_commands);
	net_flush(&s->net);
	log_info("logout result=%s retr=%lu top=%lu dele=%lu bytes=%" PRIu64
	    " left=%zu", p.state == POP3_ST_UPDATE ? "ok" :
	    ev == EV_CRASH ? "dropped" : "noupdate", p.n_retr, p.n_top,
	    p.n_dele, p.bytes_sent, p.md->live);
	maildrop_close(&p.md);
}
