/*
 * pop2.c - the POP2 front end (RFC 937).
 *
 * pop2_preauth() runs in the unprivileged pre-auth child (login_user,
 * chrooted): it sends the greeting and reads HELO, whose user and password
 * go to the monitor through session_authenticate().  pop2_postauth() runs
 * as the mail user once the monitor has dropped root: it selects the
 * default mailbox and serves the MBOX, ITEM and NEXT states on the shared
 * maildrop core.  Neither half ever runs as root.
 *
 * States (RFC 937 "Server Decision Table"); each has its own command
 * table, and a (state, command) pair that is not in the table is
 * action 1: "- error" and close.
 *
 *   AUTH  HELO -> "#n" MBOX (monitor takes over) | QUIT -> "+" DONE
 *   MBOX  FOLD -> "#n" MBOX | READ -> "=n" ITEM or MBOX | QUIT -> "+" DONE
 *   ITEM  as MBOX, plus RETR -> message data, NEXT
 *   NEXT  ACKS | ACKD | NACK -> "=n" ITEM or MBOX
 *
 * Choices (shared/notes/protocols.md section 1 and the POP2 edge cases):
 * READ of a missing, deleted or invalid message answers "=0" and stays
 * open; FOLD to a missing, unreadable or invalid mailbox answers "#0" and
 * selects an empty mailbox; ACKD only marks, and the marks are committed
 * when the mailbox is released (QUIT, or FOLD); a timeout, an error or a
 * dropped connection commits nothing; any case is accepted for command
 * words; bare LF ends a line (net.c).
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "defaults.h"
#include "ipc.h"
#include "lex.h"
#include "log.h"
#include "maildrop.h"
#include "net.h"
#include "pop2.h"
#include "proto.h"
#include "session.h"

/* The four command states come first: pop2_loop() runs while
 * state <= POP2_ST_NEXT. */
enum pop2_state {
	POP2_ST_AUTH = 0,	/* greeting sent, waiting for HELO */
	POP2_ST_MBOX,		/* a mailbox is selected, no message chosen */
	POP2_ST_ITEM,		/* a message size (> 0) has been announced */
	POP2_ST_NEXT,		/* message data sent, waiting for an ack */
	POP2_ST_DONE,		/* QUIT answered: close */
	POP2_ST_CLOSE,		/* error answered or link lost: close, no
				 * commit */
	POP2_ST_HANDOVER,	/* HELO accepted: the monitor takes over */
};

/*
 * Every reply text, in one place.  The first character of a reply and the
 * number after it are fixed by RFC 937 ("Reply Strings"); the text after
 * them is ours.  Error texts follow "- ".
 */
enum pop2_text {
	T_GREETING,		/* "+ POP2 <host> " ... */
	T_BYE,			/* "+ <host> " ... */
	T_COUNT_INBOX,		/* "#n " ... */
	T_COUNT_FOLDER,
	T_SIZE,			/* "=n " ... " <msgno>" */
	T_NOMORE,		/* "=0 " ... */
	T_NOMSG,
	E_UNKNOWN,
	E_SEQUENCE,		/* "- <CMD> " ... */
	E_NOARG,		/* "- <CMD> " ... */
	E_NEEDARG,		/* "- <CMD> " ... */
	E_EMPTY,
	E_TOOLONG,
	E_NUL,
	E_TIMEOUT,
	E_HELO_SYNTAX,
	E_LOGIN,
	E_LOGIN_TEMP,
	E_LOGIN_PERM,
	E_INUSE,
	E_OPEN,
	E_FOLD_SYNTAX,
	E_FOLD_INUSE,
	E_FOLD_TEMP,
	E_COMMIT,
	E_RETR_NONE,
	E_READ_FAIL,
	T_COUNT
};

static const char *const pop2_texts[T_COUNT] = {
	[T_GREETING] = "pop23d server ready",
	[T_BYE] = "POP2 server signing off",
	[T_COUNT_INBOX] = "messages in INBOX",
	[T_COUNT_FOLDER] = "messages in folder",
	[T_SIZE] = "characters in message",
	[T_NOMORE] = "no more messages",
	[T_NOMSG] = "no such message",
	[E_UNKNOWN] = "unknown command",
	[E_SEQUENCE] = "is out of sequence here",
	[E_NOARG] = "takes no argument",
	[E_NEEDARG] = "needs an argument",
	[E_EMPTY] = "missing command",
	[E_TOOLONG] = "command line too long (512 octets at most)",
	[E_NUL] = "NUL byte in command line",
	[E_TIMEOUT] = "autologout; idle for too long",
	[E_HELO_SYNTAX] = "usage: HELO user password (quote spaces with \\)",
	[E_LOGIN] = "bad login",
	[E_LOGIN_TEMP] = "login temporarily unavailable, try again later",
	[E_LOGIN_PERM] = "login unavailable",
	[E_INUSE] = "maildrop is locked by another session",
	[E_OPEN] = "cannot open maildrop, try again later",
	[E_FOLD_SYNTAX] = "bad mailbox name quoting",
	[E_FOLD_INUSE] = "mailbox is locked by another session",
	[E_FOLD_TEMP] = "cannot open mailbox, try again later",
	[E_COMMIT] = "could not remove deleted messages",
	[E_RETR_NONE] = "no message to retrieve",
	[E_READ_FAIL] = "cannot read message",
};

static const char *const pop2_state_names[] = {
	[POP2_ST_AUTH] = "AUTH",
	[POP2_ST_MBOX] = "MBOX",
	[POP2_ST_ITEM] = "ITEM",
	[POP2_ST_NEXT] = "NEXT",
	[POP2_ST_DONE] = "DONE",
	[POP2_ST_CLOSE] = "CLOSE",
	[POP2_ST_HANDOVER] = "HANDOVER",
};

struct pop2 {
	struct session *s;
	enum pop2_state state;
	struct maildrop *md;	/* NULL: an empty mailbox (FOLD to a
				 * missing, unreadable or invalid name) */
	size_t cur;		/* current message, 1-based; 0: none */
	/* for the logout line */
	size_t retrieved, kept, deleted, folds;
};

enum pop2_args {
	ARGS_NONE,		/* nothing may follow the keyword */
	ARGS_OPT,		/* READ [n] */
	ARGS_REQ,		/* HELO, FOLD */
};

struct pop2_cmd {
	const char *name;
	enum pop2_state (*fn)(struct pop2 *, const char *);
	enum pop2_args args;
};

static enum pop2_state cmd_helo(struct pop2 *, const char *);
static enum pop2_state cmd_quit_auth(struct pop2 *, const char *);
static enum pop2_state cmd_fold(struct pop2 *, const char *);
static enum pop2_state cmd_read(struct pop2 *, const char *);
static enum pop2_state cmd_retr(struct pop2 *, const char *);
static enum pop2_state cmd_acks(struct pop2 *, const char *);
static enum pop2_state cmd_ackd(struct pop2 *, const char *);
static enum pop2_state cmd_nack(struct pop2 *, const char *);
static enum pop2_state cmd_quit(struct pop2 *, const char *);

static const struct pop2_cmd pop2_auth_cmds[] = {
	{ "HELO", cmd_helo, ARGS_REQ },
	{ "QUIT", cmd_quit_auth, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

static const struct pop2_cmd pop2_mbox_cmds[] = {
	{ "FOLD", cmd_fold, ARGS_REQ },
	{ "READ", cmd_read, ARGS_OPT },
	{ "QUIT", cmd_quit, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

static const struct pop2_cmd pop2_item_cmds[] = {
	{ "FOLD", cmd_fold, ARGS_REQ },
	{ "READ", cmd_read, ARGS_OPT },
	{ "RETR", cmd_retr, ARGS_NONE },
	{ "QUIT", cmd_quit, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

/* RFC 937 decision table: in NEXT only an ack is valid, not even QUIT. */
static const struct pop2_cmd pop2_next_cmds[] = {
	{ "ACKS", cmd_acks, ARGS_NONE },
	{ "ACKD", cmd_ackd, ARGS_NONE },
	{ "NACK", cmd_nack, ARGS_NONE },
	{ NULL, NULL, ARGS_NONE }
};

static const struct pop2_cmd *const pop2_state_cmds[] = {
	[POP2_ST_AUTH] = pop2_auth_cmds,
	[POP2_ST_MBOX] = pop2_mbox_cmds,
	[POP2_ST_ITEM] = pop2_item_cmds,
	[POP2_ST_NEXT] = pop2_next_cmds,
	[POP2_ST_DONE] = NULL,
	[POP2_ST_CLOSE] = NULL,
	[POP2_ST_HANDOVER] = NULL,
};

/* Every RFC 937 command word, to tell "out of sequence" from "unknown". */
static const char *const pop2_all_cmds[] = {
	"HELO", "FOLD", "READ", "RETR", "ACKS", "ACKD", "NACK", "QUIT", NULL
};

static const char *
pop2_state_name(enum pop2_state st)
{
	if ((size_t)st >= sizeof(pop2_state_names) /
	    sizeof(pop2_state_names[0]) || pop2_state_names[st] == NULL)
		return "?";
	return pop2_state_names[st];
}

static void
pop2_enter_state(struct pop2 *p, enum pop2_state st)
{
	if (st != p->state)
		log_debug("state %s -> %s", pop2_state_name(p->state),
		    pop2_state_name(st));
	p->state = st;
}

/* "- <text>", flushed: the caller closes the connection next. */
static enum pop2_state
reply_err(struct pop2 *p, enum pop2_text t)
{
	net_printf(&p->s->net, "- %s\r\n", pop2_texts[t]);
	net_flush(&p->s->net);
	return POP2_ST_CLOSE;
}

/* "- <CMD> <text>"; CMD is one of our table names, never client text. */
static enum pop2_state
reply_err_cmd(struct pop2 *p, const char *cmd, enum pop2_text t)
{
	net_printf(&p->s->net, "- %s %s\r\n", cmd, pop2_texts[t]);
	net_flush(&p->s->net);
	return POP2_ST_CLOSE;
}

static void
reply_count(struct pop2 *p, size_t n, enum pop2_text t)
{
	net_printf(&p->s->net, "#%zu %s\r\n", n, pop2_texts[t]);
}

/* Size of the current message: 0 if there is none, it is marked deleted
 * or it is empty (RFC 937 READ, "Message Length"). */
static uint64_t
cur_size(struct pop2 *p)
{
	struct maildrop_msg *m;

	if (p->md == NULL || p->cur == 0)
		return 0;
	if ((m = maildrop_get(p->md, p->cur)) == NULL)
		return 0;
	return m->size;
}

/* "=n" for the current message; the next state is ITEM when there is
 * something to retrieve, else MBOX. */
static enum pop2_state
reply_size(struct pop2 *p)
{
	uint64_t size = cur_size(p);

	if (size > 0) {
		net_printf(&p->s->net, "=%" PRIu64 " %s %zu\r\n", size,
		    pop2_texts[T_SIZE], p->cur);
		return POP2_ST_ITEM;
	}
	if (p->md == NULL || p->cur == 0 || p->cur > p->md->count)
		net_printf(&p->s->net, "=0 %s\r\n", pop2_texts[T_NOMORE]);
	else
		net_printf(&p->s->net, "=0 %s\r\n", pop2_texts[T_NOMSG]);
	return POP2_ST_MBOX;
}

/*
 * Read and run commands until the session leaves the command states.
 * TIMEOUT_S is RFC 937's T2 for the current phase.
 */
static void
pop2_loop(struct pop2 *p, int timeout_s)
{
	char line[POP2_LINE_MAX + 1];
	const struct pop2_cmd *tab, *c;
	enum net_status ns;
	enum pop2_state next;
	char *kw, *args;
	size_t len, i;

	while (p->state <= POP2_ST_NEXT) {
		ns = net_readline(&p->s->net, line, POP2_LINE_MAX, &len,
		    timeout_s);
		switch (ns) {
		case NET_LINE:
			break;
		case NET_TOOLONG:
			log_info("error state=%s reason=toolong",
			    pop2_state_name(p->state));
			pop2_enter_state(p, reply_err(p, E_TOOLONG));
			continue;
		case NET_NUL:
			log_info("error state=%s reason=nul",
			    pop2_state_name(p->state));
			pop2_enter_state(p, reply_err(p, E_NUL));
			continue;
		case NET_TIMEOUT:
			log_info("timeout state=%s after=%ds",
			    pop2_state_name(p->state), timeout_s);
			pop2_enter_state(p, reply_err(p, E_TIMEOUT));
			continue;
		case NET_EOF:
			log_info("disconnect state=%s",
			    pop2_state_name(p->state));
			pop2_enter_state(p, POP2_ST_CLOSE);
			continue;
		case NET_ERROR:
		default:
			log_info("disconnect state=%s reason=io",
			    pop2_state_name(p->state));
			pop2_enter_state(p, POP2_ST_CLOSE);
			continue;
		}
		if (len == 0) {
			log_info("error state=%s reason=empty",
			    pop2_state_name(p->state));
			pop2_enter_state(p, reply_err(p, E_EMPTY));
			continue;
		}

		kw = proto_split(line, &args);
		tab = pop2_state_cmds[p->state];
		for (c = tab; c->name != NULL; c++)
			if (strcasecmp(kw, c->name) == 0)
				break;
		if (c->name == NULL) {
			/* action 1: not valid in this state */
			for (i = 0; pop2_all_cmds[i] != NULL; i++)
				if (strcasecmp(kw, pop2_all_cmds[i]) == 0)
					break;
			if (pop2_all_cmds[i] != NULL) {
				log_info("error state=%s reason=sequence"
				    " cmd=%s", pop2_state_name(p->state),
				    pop2_all_cmds[i]);
				next = reply_err_cmd(p, pop2_all_cmds[i],
				    E_SEQUENCE);
			} else {
				log_info("error state=%s reason=unknown",
				    pop2_state_name(p->state));
				next = reply_err(p, E_UNKNOWN);
			}
		} else if (c->args == ARGS_NONE && *args != '\0') {
			log_info("error state=%s reason=argument cmd=%s",
			    pop2_state_name(p->state), c->name);
			next = reply_err_cmd(p, c->name, E_NOARG);
		} else if (c->args == ARGS_REQ && *args == '\0') {
			log_info("error state=%s reason=noargument"
			    " cmd=%s", pop2_state_name(p->state), c->name);
			next = reply_err_cmd(p, c->name, E_NEEDARG);
		} else
			next = c->fn(p, args);
		/* HELO's line held a password. */
		explicit_bzero(line, sizeof(line));
		pop2_enter_state(p, next);
	}
}

/* ------------------------------------------------------------ AUTH */

int
pop2_preauth(struct session *s)
{
	struct pop2 p;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.state = POP2_ST_AUTH;
	/* RFC 937 <greet>: "+ POP2 <host>"; ipop2d notes that some clients
	 * break if anything comes between "+" and "POP2". */
	net_printf(&s->net, "+ POP2 %s %s\r\n", s->cfg->hostname,
	    pop2_texts[T_GREETING]);
	pop2_loop(&p, s->cfg->timeout_pop2_auth);
	if (p.state == POP2_ST_HANDOVER)
		return 1;
	net_flush(&s->net);
	return 0;
}

static enum pop2_state
cmd_helo(struct pop2 *p, const char *args)
{
	char user[IPC_USER_MAX + 1], pass[IPC_SECRET_MAX + 1];
	const char *q = args;
	enum pop23d_result r;
	enum pop2_text t;

	/* RFC 937: HELO SP user SP password, each a <word> with "\"
	 * quoting; nothing may follow the password. */
	if (lex_unquote(&q, user, sizeof(user), 0) == -1 ||
	    lex_unquote(&q, pass, sizeof(pass), 0) == -1 || *q != '\0') {
		explicit_bzero(pass, sizeof(pass));
		log_info("login result=syntax");
		return reply_err(p, E_HELO_SYNTAX);
	}
	r = session_authenticate(p->s, AUTH_KIND_PLAIN, user, pass);
	explicit_bzero(pass, sizeof(pass));
	/* On POP23D_OK session_authenticate() does not return: the monitor
	 * answers "#n" and serves the session.  The monitor also logs every
	 * result ("auth result=..."), after the same failure delay as POP3. */
	switch (r) {
	case POP23D_OK:
		return POP2_ST_HANDOVER;
	case POP23D_TEMPFAIL:
		t = E_LOGIN_TEMP;
		break;
	case POP23D_PERMFAIL:
		t = E_LOGIN_PERM;
		break;
	default:
		/* FAIL and NOUSER look the same to the client. */
		t = E_LOGIN;
		break;
	}
	return reply_err(p, t);
}

static enum pop2_state
cmd_quit_auth(struct pop2 *p, const char *args)
{
	log_info("quit state=AUTH");
	net_printf(&p->s->net, "+ %s %s\r\n", p->s->cfg->hostname,
	    pop2_texts[T_BYE]);
	net_flush(&p->s->net);
	return POP2_ST_DONE;
}

/* ------------------------------------------------- MBOX, ITEM, NEXT */

/*
 * Release the selected mailbox: commit its ACKD marks and accessed marks
 * (RFC 937 ACKD: "changed when the mailbox is released"), unlock it.
 * 0, or -1 when the commit failed (the mailbox is released either way).
 */
static int
pop2_release(struct pop2 *p)
{
	const char *err = NULL;
	size_t marked;
	int rc;

	if (p->md == NULL)
		return 0;
	marked = p->md->count - p->md->live;
	rc = maildrop_commit(p->md, &err);
	if (rc == -1)
		log_warnx("commit deleted=%zu result=fail: %s", marked,
		    err != NULL ? err : "?");
	else
		log_info("commit deleted=%zu result=ok", marked);
	maildrop_close(&p->md);
	return rc;
}

/*
 * A FOLD name we will not even hand to the storage plugin (which checks
 * again): empty, control characters or non-ASCII, a path separator, a
 * leading "." or "~", or "..".  Such a name gives "#0" like a missing
 * mailbox, so FOLD reveals nothing about the file system.
 */
static int
pop2_folder_name_ok(const char *name)
{
	if (*name == '\0' || !proto_printable(name))
		return 0;
	if (strchr(name, '/') != NULL || strstr(name, "..") != NULL)
		return 0;
	if (name[0] == '.' || name[0] == '~')
		return 0;
	return 1;
}

static enum pop2_state
cmd_fold(struct pop2 *p, const char *args)
{
	char name[POP2_LINE_MAX + 1], esc[128];
	const struct pop23d_store_ops *ops = p->s->store;
	const char *q = args, *err = NULL, *what;
	struct maildrop *md = NULL;
	enum pop23d_result r;
	int inbox;

	/* RFC 937: <mailbox> is a <string>, the rest of the line. */
	if (lex_unquote(&q, name, sizeof(name), 1) == -1) {
		log_info("fold result=syntax");
		return reply_err(p, E_FOLD_SYNTAX);
	}
	log_escape(name, strlen(name), esc, sizeof(esc));
	p->folds++;

	/* Release the old mailbox first (RFC 937 ACKD), even when the new
	 * name is the same one or invalid. */
	if (pop2_release(p) == -1)
		return reply_err(p, E_COMMIT);
	p->cur = 1;		/* "set to one when a new folder is selected" */

	inbox = strcasecmp(name, "INBOX") == 0;
	if (inbox)
		r = maildrop_open(ops, p->s->location, NULL, &md, &err);
	else if (!pop2_folder_name_ok(name)) {
		r = POP23D_NOUSER;
		err = "invalid name";
	} else	/* NOUSER too when the storage has no folder_open */
		r = maildrop_open(ops, p->s->location, name, &md, &err);

	switch (r) {
	case POP23D_OK:
		p->md = md;
		log_info("fold name=%s result=ok count=%zu", esc,
		    p->md->count);
		reply_count(p, p->md->count,
		    inbox ? T_COUNT_INBOX : T_COUNT_FOLDER);
		return POP2_ST_MBOX;
	case POP23D_INUSE:
		log_info("fold name=%s result=inuse", esc);
		return reply_err(p, E_FOLD_INUSE);
	case POP23D_TEMPFAIL:
		log_warnx("fold name=%s result=tempfail: %s", esc,
		    err != NULL ? err : "?");
		return reply_err(p, E_FOLD_TEMP);
	default:
		/* Missing, unreadable or refused: an empty mailbox (RFC 937
		 * FOLD; protocols.md Choice 24). */
		what = r == POP23D_NOUSER ? "nomailbox" : "permfail";
		log_info("fold name=%s result=%s: %s", esc, what,
		    err != NULL ? err : "?");
		reply_count(p, 0, T_COUNT_FOLDER);
		return POP2_ST_MBOX;
	}
}

static enum pop2_state
cmd_read(struct pop2 *p, const char *args)
{
	unsigned long n;

	if (*args != '\0') {
		/* "READ n" sets the current message, even to one that does
		 * not exist; a non-number selects none (Choice 34: "=0"). */
		if (proto_parse_msgnum(args, &n) == -1)
			p->cur = 0;
		else
			p->cur = n;
	}
	return reply_size(p);
}

static enum pop2_state
cmd_retr(struct pop2 *p, const char *args)
{
	const char *err = NULL;

	/* ITEM guarantees a message of size > 0; check anyway, RFC 937
	 * closes on a request for a zero-length message. */
	if (cur_size(p) == 0)
		return reply_err(p, E_RETR_NONE);
	/* Exactly "=n" octets: CRLF line ends, no stuffing, no terminator
	 * (RFC 937 RETR, "Message Length"). */
	if (maildrop_send(p->md, p->cur, &p->s->net, -1, 0, NULL,
	    &err) != 0) {
		/* Part of the message may be out: the stream is out of
		 * step, so no reply can follow.  Nothing is committed. */
		log_warnx("retr msg=%zu result=fail: %s", p->cur,
		    err != NULL ? err : "?");
		return POP2_ST_CLOSE;
	}
	p->retrieved++;
	return POP2_ST_NEXT;
}

static enum pop2_state
cmd_acks(struct pop2 *p, const char *args)
{
	maildrop_access(p->md, p->cur);
	p->kept++;
	p->cur++;
	return reply_size(p);
}

static enum pop2_state
cmd_ackd(struct pop2 *p, const char *args)
{
	maildrop_access(p->md, p->cur);
	/* RFC 937: "The response is the same whether or not the message
	 * was actually deleted" - a read-only mailbox keeps it. */
	if (!p->md->read_only && maildrop_delete(p->md, p->cur) == 0)
		p->deleted++;
	p->cur++;
	return reply_size(p);
}

static enum pop2_state
cmd_nack(struct pop2 *p, const char *args)
{
	return reply_size(p);
}

static enum pop2_state
cmd_quit(struct pop2 *p, const char *args)
{
	if (pop2_release(p) == -1)
		return reply_err(p, E_COMMIT);
	net_printf(&p->s->net, "+ %s %s\r\n", p->s->cfg->hostname,
	    pop2_texts[T_BYE]);
	net_flush(&p->s->net);
	return POP2_ST_DONE;
}

void
pop2_postauth(struct session *s)
{
	struct pop2 p;
	struct maildrop *md = NULL;
	const char *err = NULL;
	enum pop23d_result r;

	memset(&p, 0, sizeof(p));
	p.s = s;
	p.state = POP2_ST_AUTH;

	r = maildrop_open(s->store, s->location, NULL, &md, &err);
	if (r != POP23D_OK) {
		if (r == POP23D_INUSE) {
			log_info("maildrop result=in-use");
			reply_err(&p, E_INUSE);
		} else {
			log_warnx("maildrop result=error: %s",
			    err != NULL ? err : "?");
			reply_err(&p, E_OPEN);
		}
		return;
	}
	p.md = md;
	log_info("maildrop result=ok count=%zu", p.md->count);
	p.cur = 1;
	reply_count(&p, p.md->count, T_COUNT_INBOX);
	pop2_enter_state(&p, POP2_ST_MBOX);

	pop2_loop(&p, s->cfg->timeout_pop2);

	/* DONE has released the mailbox; anything else commits nothing. */
	if (p.md != NULL)
		maildrop_close(&p.md);
	net_flush(&s->net);
	log_info("logout result=%s retrieved=%zu kept=%zu deleted=%zu"
	    " folds=%zu",
	    p.state == POP2_ST_DONE ? "quit" : "aborted", p.retrieved,
	    p.kept, p.deleted, p.folds);
}
