/*
 * pop2.c - the POP2 front end (RFC 937): its command table (proto.h runs
 * it), its handlers and every reply text.
 *
 * pop2_preauth() runs in the unprivileged pre-auth child (login_user,
 * chrooted): it sends the greeting and reads HELO, whose user and password
 * go to the monitor through login.c; an accepted HELO returns
 * CLIENT_HANDOVER to the session layer.  pop2_postauth() runs as the mail
 * user once the monitor has dropped root: it selects the default mailbox
 * and serves the MBOX, ITEM and NEXT states on the shared maildrop core.
 * Neither half ever runs as root.
 *
 * States (RFC 937 "Server Decision Table"); a (state, command) pair that
 * is not in the table is action 1: "- error" and close.
 *
 *   AUTH  HELO -> "#n" MBOX (monitor takes over) | QUIT -> "+" DONE
 *   MBOX  FOLD -> "#n" MBOX | READ -> "=n" ITEM or MBOX | QUIT -> "+" DONE
 *   ITEM  as MBOX, plus RETR -> message data, NEXT
 *   NEXT  ACKS | ACKD | NACK -> "=n" ITEM or MBOX
 *
 * Choices (doc/PROTOCOLS.md, the POP2 edge cases): READ of a missing,
 * deleted or invalid message answers "=0" and stays open; FOLD to a
 * missing, unreadable or invalid mailbox answers "#0" and selects an empty
 * mailbox; ACKD only marks, and the marks are committed when the mailbox
 * is released (QUIT, or FOLD); a timeout, an error or a dropped connection
 * commits nothing; any case is accepted for command words; bare LF ends a
 * line (net.c).
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"
#include "conf.h"
#include "defaults.h"
#include "ipc.h"
#include "lex.h"
#include "log.h"
#include "login.h"
#include "maildrop.h"
#include "msgstream.h"
#include "net.h"
#include "policy.h"
#include "pop2.h"
#include "proto.h"
#include "wire.h"

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
	POP2_T_GREETING,	/* "+ POP2 <host> " ... */
	POP2_T_BYE,		/* "+ <host> " ... */
	POP2_T_COUNT_INBOX,	/* "#n " ... */
	POP2_T_COUNT_FOLDER,
	POP2_T_SIZE,		/* "=n " ... " <msgno>" */
	POP2_T_NOMORE,		/* "=0 " ... */
	POP2_T_NOMSG,
	POP2_E_UNKNOWN,
	POP2_E_SEQUENCE,	/* "- <CMD> " ... */
	POP2_E_NOARG,		/* "- <CMD> " ... */
	POP2_E_NEEDARG,		/* "- <CMD> " ... */
	POP2_E_EMPTY,
	POP2_E_TOOLONG,
	POP2_E_NUL,
	POP2_E_TIMEOUT,
	POP2_E_EXPIRED,
	POP2_E_HELO_SYNTAX,
	POP2_E_LOGIN,
	POP2_E_LOGIN_TEMP,
	POP2_E_LOGIN_PERM,
	POP2_E_INUSE,
	POP2_E_LOGIN_DELAY,
	POP2_E_OPEN,
	POP2_E_FOLD_SYNTAX,
	POP2_E_FOLD_INUSE,
	POP2_E_FOLD_TEMP,
	POP2_E_COMMIT,
	POP2_E_RETR_NONE,
	POP2_E_PLAINTEXT,
	POP2_T_COUNT
};

static const char *const pop2_texts[POP2_T_COUNT] = {
	[POP2_T_GREETING] = "pop23d server ready",
	[POP2_T_BYE] = "POP2 server signing off",
	[POP2_T_COUNT_INBOX] = "messages in INBOX",
	[POP2_T_COUNT_FOLDER] = "messages in folder",
	[POP2_T_SIZE] = "characters in message",
	[POP2_T_NOMORE] = "no more messages",
	[POP2_T_NOMSG] = "no such message",
	[POP2_E_UNKNOWN] = "unknown command",
	[POP2_E_SEQUENCE] = "is out of sequence here",
	[POP2_E_NOARG] = "takes no argument",
	[POP2_E_NEEDARG] = "needs an argument",
	[POP2_E_EMPTY] = "missing command",
	[POP2_E_TOOLONG] = "command line too long (512 octets at most)",
	[POP2_E_NUL] = "NUL byte in command line",
	[POP2_E_TIMEOUT] = "autologout; idle for too long",
	[POP2_E_EXPIRED] = "login time limit reached",
	[POP2_E_HELO_SYNTAX] = "usage: HELO user password (quote spaces with "
	    "\\)",
	[POP2_E_LOGIN] = "bad login",
	[POP2_E_LOGIN_TEMP] = "login temporarily unavailable, try again later",
	[POP2_E_LOGIN_PERM] = "login unavailable",
	[POP2_E_INUSE] = "maildrop is locked by another session",
	/* RFC 2449's LOGIN-DELAY applies to the maildrop whatever the
	 * protocol; POP2 has no response codes, the text says it. */
	[POP2_E_LOGIN_DELAY] = "[LOGIN-DELAY] logged in too recently, try "
	    "again later",
	[POP2_E_OPEN] = "cannot open maildrop, try again later",
	[POP2_E_FOLD_SYNTAX] = "bad mailbox name quoting",
	[POP2_E_FOLD_INUSE] = "mailbox is locked by another session",
	[POP2_E_FOLD_TEMP] = "cannot open mailbox, try again later",
	[POP2_E_COMMIT] = "could not remove deleted messages",
	[POP2_E_RETR_NONE] = "no message to retrieve",
	[POP2_E_PLAINTEXT] = "plaintext login is not allowed on this "
	    "connection without TLS (use the pop2s port)",
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
	struct client *c;
	enum pop2_state state;
	struct maildrop *md;	/* NULL: an empty mailbox (FOLD to a
				 * missing, unreadable or invalid name) */
	size_t cur;		/* current message, 1-based; 0: none */
	/* for the logout line */
	size_t retrieved, kept, deleted, folds;
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
pop2_reply_err(struct pop2 *p, enum pop2_text t)
{
	net_printf(&p->c->net, "- %s\r\n", pop2_texts[t]);
	net_flush(&p->c->net);
	return POP2_ST_CLOSE;
}

/* "- <CMD> <text>"; CMD is one of our table verbs, never client text. */
static enum pop2_state
pop2_reply_err_cmd(struct pop2 *p, const char *cmd, enum pop2_text t)
{
	net_printf(&p->c->net, "- %s %s\r\n", cmd, pop2_texts[t]);
	net_flush(&p->c->net);
	return POP2_ST_CLOSE;
}

static void
pop2_reply_count(struct pop2 *p, size_t n, enum pop2_text t)
{
	net_printf(&p->c->net, "#%zu %s\r\n", n, pop2_texts[t]);
}

/* Size of the current message: 0 if there is none, it is marked deleted
 * or it is empty (RFC 937 READ, "Message Length"). */
static uint64_t
pop2_cur_size(struct pop2 *p)
{
	struct maildrop_msg *m;

	if (p->md == NULL || p->cur == 0)
		return 0;
	if ((m = maildrop_get(p->md, p->cur)) == NULL)
		return 0;
	return m->size;
}

/* V in decimal, ending just before END; the first digit. */
static char *
pop2_decimal(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	return end;
}

/*
 * "=<size> characters in message <n>" put together without printf: it
 * is the reply to READ and to every ACKS, ACKD and NACK, two or three
 * times per message (doc/PERFORMANCE.md, "POP2's extra round trip":
 * net_printf() cost about 1 500 instructions of the 1 750 of a READ).
 */
static void
pop2_put_size(struct pop2 *p, uint64_t size)
{
	/* "=" 20 digits " " text " " 20 digits CRLF */
	char buf[2 * 20 + 8 + sizeof("characters in message")];
	char num[20], *d, *o = buf;
	const char *t = pop2_texts[POP2_T_SIZE];
	size_t k, tl = strlen(t);

	if (tl > sizeof(buf) - 2 * 20 - 5) {	/* a longer text: printf */
		net_printf(&p->c->net, "=%" PRIu64 " %s %zu\r\n", size, t,
		    p->cur);
		return;
	}
	*o++ = '=';
	d = pop2_decimal(num + sizeof(num), size);
	k = (size_t)(num + sizeof(num) - d);
	memcpy(o, d, k);
	o += k;
	*o++ = ' ';
	memcpy(o, t, tl);
	o += tl;
	*o++ = ' ';
	d = pop2_decimal(num + sizeof(num), (uint64_t)p->cur);
	k = (size_t)(num + sizeof(num) - d);
	memcpy(o, d, k);
	o += k;
	*o++ = '\r';
	*o++ = '\n';
	net_write(&p->c->net, buf, (size_t)(o - buf));
}

/* "=n" for the current message; the next state is ITEM when there is
 * something to retrieve, else MBOX. */
static enum pop2_state
pop2_reply_size(struct pop2 *p)
{
	uint64_t size = pop2_cur_size(p);

	if (size > 0) {
		pop2_put_size(p, size);
		return POP2_ST_ITEM;
	}
	if (p->md == NULL || p->cur == 0 || p->cur > p->md->count)
		net_printf(&p->c->net, "=0 %s\r\n", pop2_texts[POP2_T_NOMORE]);
	else
		net_printf(&p->c->net, "=0 %s\r\n", pop2_texts[POP2_T_NOMSG]);
	return POP2_ST_MBOX;
}

/* ------------------------------------------------------------ AUTH */

static int
pop2_helo(void *fe, char **argv, int argc)
{
	char user[IPC_USER_MAX + 1], pass[IPC_SECRET_MAX + 1];
	struct pop2 *p = fe;
	const char *q = argv[0];
	enum pop23d_result r;
	enum pop2_text t;

	/* HELO carries the password in the clear (login_plaintext_ok();
	 * POP2 has no STLS: TLS is a pop2s listener's). */
	if (!login_plaintext_ok(p->c)) {
		explicit_bzero(argv[0], strlen(argv[0]));
		log_info("login result=refused reason=plaintext-without-tls");
		return pop2_reply_err(p, POP2_E_PLAINTEXT);
	}
	/* RFC 937: HELO SP user SP password, each a <word> with "\"
	 * quoting; nothing may follow the password. */
	if (lex_unquote(&q, user, sizeof(user), 0) == -1 ||
	    lex_unquote(&q, pass, sizeof(pass), 0) == -1 || *q != '\0') {
		explicit_bzero(pass, sizeof(pass));
		log_info("login result=syntax");
		return pop2_reply_err(p, POP2_E_HELO_SYNTAX);
	}
	/* The monitor logs every result ("auth result=..."), after the same
	 * failure deadline as POP3. */
	r = login_plain(p->c, user, pass);
	explicit_bzero(pass, sizeof(pass));
	switch (r) {
	case POP23D_OK:
		return POP2_ST_HANDOVER;
	case POP23D_TEMPFAIL:
		t = POP2_E_LOGIN_TEMP;
		break;
	case POP23D_PERMFAIL:
		t = POP2_E_LOGIN_PERM;
		break;
	default:
		/* FAIL and NOUSER look the same to the client. */
		t = POP2_E_LOGIN;
		break;
	}
	return pop2_reply_err(p, t);
}

static int
pop2_quit_auth(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;

	log_info("quit state=AUTH");
	net_printf(&p->c->net, "+ %s %s\r\n", p->c->cfg->hostname,
	    pop2_texts[POP2_T_BYE]);
	net_flush(&p->c->net);
	return POP2_ST_DONE;
}

/* ------------------------------------------------- MBOX, ITEM, NEXT */

/*
 * Release the selected mailbox: commit its ACKD marks and accessed marks
 * (RFC 937 ACKD: "changed when the mailbox is released"), unlock it.
 * 0, or -1 when the commit failed (the mailbox is released either way).
 * A failure is always logged; a success only for FOLD (LOG_OK): after
 * QUIT the logout line says it (result=quit, deleted=), one line less
 * per session.
 */
static int
pop2_release(struct pop2 *p, int log_ok)
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
	else if (log_ok)
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

/* Open folder NAME (INBOX: the default maildrop) into *md_r. */
static enum pop23d_result
pop2_fold_open(struct pop2 *p, const char *name, struct maildrop **md_r,
    const char **error_r)
{
	const struct client *c = p->c;

	if (strcasecmp(name, "INBOX") == 0)
		return maildrop_open(c->store, c->location, NULL, md_r,
		    error_r);
	if (!pop2_folder_name_ok(name)) {
		*error_r = "invalid name";
		return POP23D_NOUSER;
	}
	/* NOUSER too when the storage has no folder_open */
	return maildrop_open(c->store, c->location, name, md_r, error_r);
}

static int
pop2_fold(void *fe, char **argv, int argc)
{
	char name[POP2_LINE_MAX + 1], esc[128];
	struct pop2 *p = fe;
	const char *q = argv[0], *err = NULL;
	struct maildrop *md = NULL;
	enum pop23d_result r;

	/* RFC 937: <mailbox> is a <string>, the rest of the line. */
	if (lex_unquote(&q, name, sizeof(name), 1) == -1) {
		log_info("fold result=syntax");
		return pop2_reply_err(p, POP2_E_FOLD_SYNTAX);
	}
	log_escape(name, strlen(name), esc, sizeof(esc));
	p->folds++;

	/* Release the old mailbox first (RFC 937 ACKD), even when the new
	 * name is the same one or invalid. */
	if (pop2_release(p, 1) == -1)
		return pop2_reply_err(p, POP2_E_COMMIT);
	p->cur = 1;		/* "set to one when a new folder is selected" */

	switch ((r = pop2_fold_open(p, name, &md, &err))) {
	case POP23D_OK:
		p->md = md;
		log_info("fold name=%s result=ok count=%zu", esc,
		    p->md->count);
		pop2_reply_count(p, p->md->count,
		    strcasecmp(name, "INBOX") == 0 ? POP2_T_COUNT_INBOX :
		    POP2_T_COUNT_FOLDER);
		return POP2_ST_MBOX;
	case POP23D_INUSE:
		log_info("fold name=%s result=inuse", esc);
		return pop2_reply_err(p, POP2_E_FOLD_INUSE);
	case POP23D_TEMPFAIL:
		log_warnx("fold name=%s result=tempfail: %s", esc,
		    err != NULL ? err : "?");
		return pop2_reply_err(p, POP2_E_FOLD_TEMP);
	default:
		/* Missing, unreadable or refused: an empty mailbox (RFC 937
		 * FOLD; doc/PROTOCOLS.md, edge case 24). */
		log_info("fold name=%s result=%s: %s", esc,
		    r == POP23D_NOUSER ? "nomailbox" : "permfail",
		    err != NULL ? err : "?");
		pop2_reply_count(p, 0, POP2_T_COUNT_FOLDER);
		return POP2_ST_MBOX;
	}
}

static int
pop2_read(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;
	unsigned long n;

	if (argv[0][0] != '\0') {
		/* "READ n" sets the current message, even to one that does
		 * not exist; a non-number selects none (doc/PROTOCOLS.md,
		 * edge case 34: "=0"). */
		if (proto_parse_msgnum(argv[0], &n) == -1)
			p->cur = 0;
		else
			p->cur = n;
	}
	return pop2_reply_size(p);
}

static int
pop2_retr(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;
	struct msgstream ms;
	const char *err = "?";
	int rc, stale;

	/* ITEM guarantees a message of size > 0; check anyway, RFC 937
	 * closes on a request for a zero-length message. */
	if (pop2_cur_size(p) == 0)
		return pop2_reply_err(p, POP2_E_RETR_NONE);
	/* "=n" is out already: no reply can say that the message cannot be
	 * sent, so any failure closes.  Nothing is committed. */
	if (maildrop_msg_open(p->md, p->cur, &ms, &err) != 0) {
		log_warnx("retr msg=%zu result=fail: %s", p->cur, err);
		return POP2_ST_CLOSE;
	}
	/* Exactly "=n" octets: CRLF line ends, no stuffing, no terminator
	 * (RFC 937 RETR, "Message Length"). */
	rc = wire_send(&p->c->net, &ms, WIRE_POP2, -1, pop2_cur_size(p),
	    &stale, &err);
	msgstream_close(&ms);
	if (rc != 0) {
		if (stale)
			maildrop_forget(p->md, p->cur);
		log_warnx("retr msg=%zu result=fail: %s", p->cur, err);
		return POP2_ST_CLOSE;
	}
	p->retrieved++;
	return POP2_ST_NEXT;
}

static int
pop2_acks(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;

	maildrop_access(p->md, p->cur);
	p->kept++;
	p->cur++;
	return pop2_reply_size(p);
}

static int
pop2_ackd(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;

	maildrop_access(p->md, p->cur);
	/* RFC 937: "The response is the same whether or not the message
	 * was actually deleted" - a read-only mailbox keeps it. */
	if (!p->md->read_only && maildrop_delete(p->md, p->cur) == 0)
		p->deleted++;
	p->cur++;
	return pop2_reply_size(p);
}

static int
pop2_nack(void *fe, char **argv, int argc)
{
	return pop2_reply_size(fe);
}

static int
pop2_quit(void *fe, char **argv, int argc)
{
	struct pop2 *p = fe;

	if (pop2_release(p, 0) == -1)
		return pop2_reply_err(p, POP2_E_COMMIT);
	net_printf(&p->c->net, "+ %s %s\r\n", p->c->cfg->hostname,
	    pop2_texts[POP2_T_BYE]);
	net_flush(&p->c->net);
	return POP2_ST_DONE;
}

/* ------------------------------------------------------ command table */

#define AUTH	PROTO_STATE(POP2_ST_AUTH)
#define MBOX	PROTO_STATE(POP2_ST_MBOX)
#define ITEM	PROTO_STATE(POP2_ST_ITEM)
#define NEXT	PROTO_STATE(POP2_ST_NEXT)

/*
 * verb, states, words at least, at most, handler (proto.h).  Every RFC 937
 * command word is here, so a known word in the wrong state is "out of
 * sequence" and anything else "unknown".  In NEXT only an ack is valid,
 * not even QUIT (RFC 937 decision table).
 */
static const struct proto_cmd pop2_cmds[] = {
	{ "HELO", AUTH, 1, PROTO_REST, pop2_helo },
	{ "QUIT", AUTH, 0, 0, pop2_quit_auth },
	{ "FOLD", MBOX | ITEM, 1, PROTO_REST, pop2_fold },
	{ "READ", MBOX | ITEM, 0, PROTO_REST, pop2_read },
	{ "RETR", ITEM, 0, 0, pop2_retr },
	{ "QUIT", MBOX | ITEM, 0, 0, pop2_quit },
	{ "ACKS", NEXT, 0, 0, pop2_acks },
	{ "ACKD", NEXT, 0, 0, pop2_ackd },
	{ "NACK", NEXT, 0, 0, pop2_nack },
	{ NULL, 0, 0, 0, NULL }
};

/* A command that does not run: RFC 937 action 1, "-" and close. */
static int
pop2_refuse(void *fe, enum proto_verdict v, const struct proto_cmd *cmd)
{
	struct pop2 *p = fe;
	const char *st = pop2_state_name(p->state);

	switch (v) {
	case PROTO_WRONG_STATE:
		log_info("error state=%s reason=sequence cmd=%s", st,
		    cmd->verb);
		return pop2_reply_err_cmd(p, cmd->verb, POP2_E_SEQUENCE);
	case PROTO_ARGS_EXTRA:
		log_info("error state=%s reason=argument cmd=%s", st,
		    cmd->verb);
		return pop2_reply_err_cmd(p, cmd->verb, POP2_E_NOARG);
	case PROTO_ARGS_MISSING:
		log_info("error state=%s reason=noargument cmd=%s", st,
		    cmd->verb);
		return pop2_reply_err_cmd(p, cmd->verb, POP2_E_NEEDARG);
	default:
		log_info("error state=%s reason=unknown", st);
		return pop2_reply_err(p, POP2_E_UNKNOWN);
	}
}

/* What a line that is not a command leads to: the next state. */
static enum pop2_state
pop2_line_error(struct pop2 *p, enum net_status ns, int timeout_s)
{
	const char *st = pop2_state_name(p->state);

	switch (ns) {
	case NET_TOOLONG:
		log_info("error state=%s reason=toolong", st);
		return pop2_reply_err(p, POP2_E_TOOLONG);
	case NET_NUL:
		log_info("error state=%s reason=nul", st);
		return pop2_reply_err(p, POP2_E_NUL);
	case NET_TIMEOUT:
		log_info("timeout state=%s after=%ds", st, timeout_s);
		return pop2_reply_err(p, POP2_E_TIMEOUT);
	case NET_EXPIRED:
		log_info("timeout state=%s reason=login-time-limit", st);
		return pop2_reply_err(p, POP2_E_EXPIRED);
	case NET_EOF:
		log_info("disconnect state=%s", st);
		return POP2_ST_CLOSE;
	default:
		log_info("disconnect state=%s reason=io", st);
		return POP2_ST_CLOSE;
	}
}

/*
 * Read and run commands until the session leaves the command states.
 * TIMEOUT_S is RFC 937's T2 for the current phase.
 */
static void
pop2_loop(struct pop2 *p, int timeout_s)
{
	char line[POP2_LINE_MAX + 1];
	enum net_status ns;
	enum pop2_state next;
	size_t len;

	while (p->state <= POP2_ST_NEXT) {
		ns = net_readline(&p->c->net, line, POP2_LINE_MAX, &len,
		    timeout_s);
		if (ns != NET_LINE)
			next = pop2_line_error(p, ns, timeout_s);
		else if (len == 0) {
			log_info("error state=%s reason=empty",
			    pop2_state_name(p->state));
			next = pop2_reply_err(p, POP2_E_EMPTY);
		} else
			next = proto_dispatch(pop2_cmds, p->state, line, p,
			    pop2_refuse);
		/* HELO's line held a password. */
		explicit_bzero(line, sizeof(line));
		pop2_enter_state(p, next);
	}
}

enum client_exit
pop2_preauth(struct client *c)
{
	struct pop2 p;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.state = POP2_ST_AUTH;
	/* RFC 937 <greet>: "+ POP2 <host>"; ipop2d notes that some clients
	 * break if anything comes between "+" and "POP2". */
	net_printf(&c->net, "+ POP2 %s %s\r\n", c->cfg->hostname,
	    pop2_texts[POP2_T_GREETING]);
	pop2_loop(&p, c->cfg->timeout_pop2_auth);
	if (p.state == POP2_ST_HANDOVER)
		return CLIENT_HANDOVER;	/* the monitor owns the client */
	net_flush(&c->net);
	return CLIENT_CLOSE;
}

void
pop2_postauth(struct client *c)
{
	struct pop2 p;
	struct maildrop *md = NULL;
	struct maildrop_login ld;
	const char *err = NULL;
	enum pop23d_result r;
	int delay, expire;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.state = POP2_ST_AUTH;

	/* EXPIRE is not applied to POP2 (doc/PROTOCOLS.md, POP3 ambiguity
	 * 17); the user's LOGIN-DELAY is. */
	policy_for_user(c->cfg, c->user, &delay, &expire);
	memset(&ld, 0, sizeof(ld));
	ld.delay = (unsigned)delay;
	ld.now = (int64_t)time(NULL);
	r = maildrop_open_login(c->store, c->location, &ld, &md, &err);
	if (r != POP23D_OK) {
		if (r == POP23D_INUSE && ld.wait > 0) {
			log_info("maildrop result=login-delay wait=%" PRId64,
			    ld.wait);
			pop2_reply_err(&p, POP2_E_LOGIN_DELAY);
		} else if (r == POP23D_INUSE) {
			log_info("maildrop result=in-use");
			pop2_reply_err(&p, POP2_E_INUSE);
		} else {
			log_warnx("maildrop result=error: %s",
			    err != NULL ? err : "?");
			pop2_reply_err(&p, POP2_E_OPEN);
		}
		return;
	}
	p.md = md;
	/* As POP3: no line for a login that went well (the monitor has
	 * logged it); the count is in "#n". */
	log_debug("maildrop result=ok count=%zu", p.md->count);
	p.cur = 1;
	pop2_reply_count(&p, p.md->count, POP2_T_COUNT_INBOX);
	pop2_enter_state(&p, POP2_ST_MBOX);

	pop2_loop(&p, c->cfg->timeout_pop2);

	/* DONE has released the mailbox; anything else commits nothing. */
	if (p.md != NULL)
		maildrop_close(&p.md);
	net_flush(&c->net);
	log_info("logout result=%s retrieved=%zu kept=%zu deleted=%zu"
	    " folds=%zu",
	    p.state == POP2_ST_DONE ? "quit" : "aborted", p.retrieved,
	    p.kept, p.deleted, p.folds);
}
