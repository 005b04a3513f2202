/*
 * pop3.c - the POP3 front end: RFC 1939, RFC 1225 LAST, RFC 2449 CAPA,
 * PIPELINING and response codes, RFC 3206 [AUTH] and [SYS/...].
 *
 * What is here: the command table (proto.h runs it: a handler never
 * checks the state or its argument count), the handlers, and every reply
 * text.  Handlers write their replies and return an event; every -ERR text
 * lives in pop3_errors[].  Logging in goes through login.c; on an accepted
 * login pop3_preauth() returns CLIENT_HANDOVER to the session layer.
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
#include <time.h>

#include "b64.h"
#include "client.h"
#include "conf.h"
#include "defaults.h"
#include "i18n.h"
#include "log.h"
#include "authsvc.h"
#include "login.h"
#include "maildrop.h"
#include "msgstream.h"
#include "net.h"
#include "policy.h"
#include "pop3.h"
#include "proto.h"
#include "tls.h"
#include "wire.h"

enum pop3_state {
	POP3_ST_AUTHORIZATION,
	POP3_ST_TRANSACTION,
	POP3_ST_UPDATE,
};

/* What a handler tells the command loop. */
enum pop3_event {
	POP3_EV_OK,		/* reply written */
	POP3_EV_BAD,		/* reply written; counts as a bad command */
	POP3_EV_LEAVE,		/* reply written; end the session */
	POP3_EV_HANDOVER,	/* login accepted: the monitor takes over */
	POP3_EV_CRASH,		/* the connection is unusable: close now */
};

/* Every -ERR text in one place (GNU Mailutils pop3d/cmd.c). */
enum pop3_err {
	POP3_E_UNKNOWN,
	POP3_E_STATE,
	POP3_E_SYNTAX,
	POP3_E_TOOLONG,
	POP3_E_NUL,
	POP3_E_TOOMANY,
	POP3_E_NEEDUSER,
	POP3_E_AUTH,
	POP3_E_AUTHTEMP,
	POP3_E_AUTHPERM,
	POP3_E_AUTHCLOSE,
	POP3_E_NOAPOP,
	POP3_E_RPOP,
	POP3_E_INUSE,
	POP3_E_OPENTEMP,
	POP3_E_OPENPERM,
	POP3_E_BADNUM,
	POP3_E_NOLINES,
	POP3_E_UPDATE,
	POP3_E_READ,
	POP3_E_READONLY,
	POP3_E_PLAIN_STLS,
	POP3_E_PLAIN_NOTLS,
	POP3_E_TLS_ACTIVE,
	POP3_E_TLS_NONE,
	POP3_E_UTF8MSG,
	POP3_E_UTF8PASS,
	POP3_E_LANG,
	POP3_E_SASL_NOMECH,
	POP3_E_SASL_CANCEL,
	POP3_E_SASL_B64,
	POP3_E_SASL_TOOLONG,
};

static const char *const pop3_errors[] = {
	[POP3_E_UNKNOWN] = "-ERR unknown command",
	[POP3_E_STATE] = "-ERR command not valid in this state",
	[POP3_E_SYNTAX] = "-ERR syntax error: wrong number of arguments",
	[POP3_E_TOOLONG] = "-ERR command line too long",
	[POP3_E_NUL] = "-ERR NUL byte in command",
	[POP3_E_TOOMANY] = "-ERR too many bad commands, closing",
	[POP3_E_NEEDUSER] = "-ERR USER first",
	[POP3_E_AUTH] = "-ERR [AUTH] invalid user name or password",
	[POP3_E_AUTHTEMP] = "-ERR [SYS/TEMP] authentication is temporarily "
	    "unavailable",
	[POP3_E_AUTHPERM] = "-ERR [SYS/PERM] this account cannot log in",
	[POP3_E_AUTHCLOSE] = "-ERR [AUTH] too many failed logins, closing",
	[POP3_E_NOAPOP] = "-ERR APOP is not enabled",
	[POP3_E_RPOP] = "-ERR RPOP is not supported (removed in RFC 1460)",
	[POP3_E_INUSE] = "-ERR [IN-USE] maildrop is locked by another session",
	[POP3_E_OPENTEMP] = "-ERR [SYS/TEMP] cannot open the maildrop, try "
	    "later",
	[POP3_E_OPENPERM] = "-ERR [SYS/PERM] cannot open the maildrop",
	[POP3_E_BADNUM] = "-ERR invalid message number",
	[POP3_E_NOLINES] = "-ERR invalid line count",
	[POP3_E_UPDATE] = "-ERR [SYS/TEMP] some deleted messages were not "
	    "removed",
	[POP3_E_READ] = "-ERR [SYS/TEMP] cannot read the message",
	[POP3_E_READONLY] = "-ERR [SYS/PERM] the maildrop is read-only",
	/* login_plaintext_ok() says no: [AUTH] as Dovecot's, and what to
	 * do about it. */
	[POP3_E_PLAIN_STLS] = "-ERR [AUTH] plaintext authentication is not "
	    "allowed before TLS: use STLS first",
	[POP3_E_PLAIN_NOTLS] = "-ERR [AUTH] plaintext authentication is not "
	    "allowed on this connection without TLS",
	/* RFC 2595 section 4's example text */
	[POP3_E_TLS_ACTIVE] = "-ERR command not permitted when TLS active",
	[POP3_E_TLS_NONE] = "-ERR STLS is not available on this port",
	/* RFC 6856 section 5 */
	[POP3_E_UTF8MSG] = "-ERR [UTF8] the message has 8-bit header "
	    "fields; send UTF8 first",
	[POP3_E_UTF8PASS] = "-ERR the password is not valid UTF-8",
	[POP3_E_LANG] = "-ERR unknown or invalid language range",
	[POP3_E_SASL_NOMECH] = "-ERR [AUTH] unsupported authentication "
	    "mechanism",
	[POP3_E_SASL_CANCEL] = "-ERR [AUTH] authentication cancelled",
	[POP3_E_SASL_B64] = "-ERR [AUTH] invalid base64 data",
	[POP3_E_SASL_TOOLONG] = "-ERR [AUTH] response too long",
};

struct pop3 {
	struct client *c;
	enum pop3_state state;
	struct maildrop *md;
	char user[IPC_USER_MAX + 1];	/* pending USER name */
	int have_user;
	int bad;			/* bad commands so far */
	/* statistics for the logout line */
	unsigned long n_retr, n_top, n_dele;
	uint64_t bytes_sent;
};

static int
pop3_reply_err(struct pop3 *p, enum pop3_err e)
{
	net_printf(&p->c->net, "%s\r\n", pop3_errors[e]);
	return POP3_EV_OK;
}

static int
pop3_reply_bad(struct pop3 *p, enum pop3_err e)
{
	pop3_reply_err(p, e);
	return POP3_EV_BAD;
}

/* RFC 1225's dialogue says "2 messages"; one is "1 message". */
static const char *
pop3_plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static void
pop3_enter_state(struct pop3 *p, enum pop3_state st)
{
	static const char *const names[] = {
		"AUTHORIZATION", "TRANSACTION", "UPDATE"
	};

	log_debug("pop3 state %s -> %s", names[p->state], names[st]);
	p->state = st;
}

/* ---------------------------------------------------------------- CAPA */

/*
 * The policy lines (RFC 2449 sections 6.5 and 6.7, RFC 6856 sections 2
 * and 3).  Before login: the largest delay and the shortest retention any
 * user may have, with "USER" when user_policy lines make them differ;
 * after login: the user's own (policy.h).
 */
static void
pop3_capa_policy(struct pop3 *p)
{
	const struct config *cfg = p->c->cfg;
	struct net *n = &p->c->net;
	int delay, expire, delay_user = 0, expire_user = 0;

	if (p->state == POP3_ST_TRANSACTION)
		policy_for_user(cfg, p->c->user, &delay, &expire);
	else
		policy_capa_preauth(cfg, &delay, &delay_user, &expire,
		    &expire_user);
	if (expire == POLICY_NEVER)
		net_printf(n, "EXPIRE NEVER%s\r\n", expire_user ? " USER" : "");
	else
		net_printf(n, "EXPIRE %d%s\r\n", expire,
		    expire_user ? " USER" : "");
	net_printf(n, "LOGIN-DELAY %d%s\r\n", delay, delay_user ? " USER" : "");
	net_printf(n, "UTF8%s\r\nLANG\r\n", cfg->utf8_user ? " USER" : "");
}

static int
pop3_capa(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct net *n = &p->c->net;

	/* RFC 2449: anything listed before login is listed after it too;
	 * LOGIN-DELAY and EXPIRE may differ.  USER only where plaintext
	 * passwords may be used; STLS only where it may be given now (RFC
	 * 2595 section 4: "permitted in the current state"). */
	net_printf(n, "+OK capability list follows\r\n"
	    "TOP\r\n%sUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
	    "PIPELINING\r\n", login_plaintext_ok(p->c) ? "USER\r\n" : "");
	pop3_capa_policy(p);
	/* RFC 5034 section 5: SASL and the mechanisms, before login only
	 * (the AUTH command is valid in AUTHORIZATION only; the session
	 * has no link to the auth service, and Dovecot lists none either).
	 * Nothing when the auth plugin has no SASL. */
	if (p->state == POP3_ST_AUTHORIZATION) {
		const char *m = login_mechs(p->c);

		if (m[0] != '\0')
			net_printf(n, "SASL %s\r\n", m);
	}
	if (p->state == POP3_ST_AUTHORIZATION && login_stls_offered(p->c))
		net_printf(n, "STLS\r\n");
	if (p->state == POP3_ST_TRANSACTION)
		net_printf(n, "IMPLEMENTATION pop23d-%s\r\n", PACKAGE_VERSION);
	net_printf(n, ".\r\n");
	return POP3_EV_OK;
}

/* ------------------------------------------------------- AUTHORIZATION */

/* The plaintext rule's refusal, naming STLS where it is offered.  Not a
 * bad command: a client that tries USER, then APOP, then STLS is doing
 * what it should (the login deadline bounds the dialogue). */
static int
pop3_refuse_plaintext(struct pop3 *p)
{
	p->have_user = 0;
	return pop3_reply_err(p, login_stls_offered(p->c) ?
	    POP3_E_PLAIN_STLS : POP3_E_PLAIN_NOTLS);
}

/*
 * RFC 2595 section 4: "+OK", then the TLS handshake right after its CRLF;
 * the state stays AUTHORIZATION, and anything learnt before (a USER name)
 * is forgotten.  Whatever the client sent after STLS in the same packet
 * was sent in the clear, before TLS: it is dropped unread (the STARTTLS
 * command injection of CVE-2011-0411 and CVE-2021-38084).  A failed
 * handshake ends the connection: nothing can be said to the client.
 */
static int
pop3_stls(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct client *c = p->c;
	const char *err;
	size_t dropped;

	if (c->secured)
		return pop3_reply_bad(p, POP3_E_TLS_ACTIVE);
	if (!login_stls_offered(c))
		return pop3_reply_bad(p, POP3_E_TLS_NONE);
	if ((dropped = net_discard_input(&c->net)) > 0)
		log_warnx("STLS: %zu octets sent after STLS before the "
		    "handshake were discarded", dropped);
	net_printf(&c->net, "+OK begin TLS negotiation\r\n");
	if (net_flush(&c->net) != 0)
		return POP3_EV_CRASH;
	if (tls_accept(&c->net, &c->tls, &err) != 0) {
		log_info("STLS: TLS failed: %s", err);
		return POP3_EV_CRASH;
	}
	c->secured = 1;
	p->have_user = 0;
	explicit_bzero(p->user, sizeof(p->user));
	tls_conn_log(c->tls);
	return POP3_EV_OK;
}

static int
pop3_user(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	if (!login_plaintext_ok(p->c))
		return pop3_refuse_plaintext(p);
	/* RFC 6856 section 2.2: with "UTF8 USER" a UTF-8 name may come
	 * before the UTF8 command too; ill-formed UTF-8 never. */
	if (strlen(argv[0]) >= sizeof(p->user) ||
	    !i18n_name_ok(argv[0], p->c->cfg->utf8_user))
		return pop3_reply_bad(p, POP3_E_SYNTAX);
	memcpy(p->user, argv[0], strlen(argv[0]) + 1);
	p->have_user = 1;
	net_printf(&p->c->net, "+OK send PASS\r\n");
	return POP3_EV_OK;
}

/*
 * The monitor's verdict on a login: hand over, or answer the failure.
 * Every check counts towards max_auth_failures, whatever its result.
 */
static int
pop3_verdict(struct pop3 *p, enum pop23d_result r)
{
	enum pop3_err e;

	p->have_user = 0;
	if (r == POP23D_OK)
		return POP3_EV_HANDOVER;
	if (r == POP23D_TEMPFAIL)
		e = POP3_E_AUTHTEMP;
	else if (r == POP23D_PERMFAIL)
		e = POP3_E_AUTHPERM;
	else
		e = POP3_E_AUTH;	/* FAIL and NOUSER look the same */
	if (login_exhausted(p->c)) {
		pop3_reply_err(p, e == POP3_E_AUTH ? POP3_E_AUTHCLOSE : e);
		return POP3_EV_LEAVE;
	}
	return pop3_reply_err(p, e);
}

static int
pop3_pass(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	/* RFC 1939 section 7: PASS only right after a successful USER.
	 * The argument is the rest of the line: spaces may be part of the
	 * password. */
	if (!p->have_user) {
		explicit_bzero(argv[0], strlen(argv[0]));
		return pop3_reply_bad(p, POP3_E_NEEDUSER);
	}
	if (!login_plaintext_ok(p->c)) {	/* not reached: USER refused */
		explicit_bzero(argv[0], strlen(argv[0]));
		return pop3_refuse_plaintext(p);
	}
	if (argv[0][0] == '\0') {
		p->have_user = 0;
		return pop3_reply_bad(p, POP3_E_SYNTAX);
	}
	/* RFC 6856 section 2.2: in UTF-8 mode a password must be UTF-8. */
	if (p->c->utf8 && !i18n_utf8_valid(argv[0], strlen(argv[0]))) {
		explicit_bzero(argv[0], strlen(argv[0]));
		p->have_user = 0;
		return pop3_reply_bad(p, POP3_E_UTF8PASS);
	}
	return pop3_verdict(p, login_plain(p->c, p->user, argv[0]));
}

static int
pop3_apop(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	if (p->c->apop_challenge[0] == '\0')
		return pop3_reply_bad(p, POP3_E_NOAPOP);
	/* MD5 of a challenge and the password: as good as plaintext to an
	 * eavesdropper with a dictionary (RFC 1939 section 13). */
	if (!login_plaintext_ok(p->c)) {
		explicit_bzero(argv[1], strlen(argv[1]));
		return pop3_refuse_plaintext(p);
	}
	if (strlen(argv[0]) > IPC_USER_MAX ||
	    !i18n_name_ok(argv[0], p->c->cfg->utf8_user))
		return pop3_reply_bad(p, POP3_E_SYNTAX);
	return pop3_verdict(p, login_apop(p->c, argv[0], argv[1]));
}

/* RFC 6856 section 2.1: UTF-8 mode, from here to the end of the
 * session (the flag goes to the session with the hand-over). */
static int
pop3_utf8(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	p->c->utf8 = 1;
	net_printf(&p->c->net, "+OK UTF-8 mode enabled\r\n");
	return POP3_EV_OK;
}

/*
 * RFC 6856 section 3: LANG lists the languages; LANG range selects one
 * ("*": the default).  A failure leaves the language as it was.
 */
static int
pop3_lang(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct net *n = &p->c->net;
	const struct i18n_lang *l;

	if (argc == 0) {
		net_printf(n, "+OK language listing follows\r\n");
		for (l = i18n_langs; l->tag != NULL; l++)
			net_printf(n, "%s %s\r\n", l->tag, l->name);
		net_printf(n, ".\r\n");
		return POP3_EV_OK;
	}
	if ((l = i18n_lang_select(argv[0])) == NULL)
		return pop3_reply_err(p, POP3_E_LANG);
	net_printf(n, "+OK %s language is now %s\r\n", l->tag, l->name);
	return POP3_EV_OK;
}

/*
 * AUTH (RFC 5034).  Only base64 is parsed here (b64.c); the mechanism's
 * octets go to the monitor and on to the auth service, where the SASL
 * library reads them.  Every response line is bounded by SASL_LINE_MAX
 * (ipc.h); a longer one ends the exchange with -ERR.
 */
static int
pop3_auth(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct net *n = &p->c->net;
	struct login_challenge ch;
	char mech[AUTHSVC_MECH_MAX + 1], line[SASL_LINE_MAX + 1];
	char enc[B64_ENCODED_LEN(IPC_CHALLENGE_MAX) + 1];
	unsigned char dec[IPC_STEP_MAX];
	const char *list;
	enum pop23d_result r;
	size_t i, len;
	long dl = 0;
	int ev = POP3_EV_OK, has_ir = argc == 2;

	p->have_user = 0;
	list = login_mechs(p->c);
	if (argc == 0) {
		/* RFC 5034 section 4 leaves a bare AUTH open; Dovecot and
		 * Cyrus answer it with the list, as CAPA's SASL line. */
		net_printf(n, "+OK\r\n");
		for (i = 0; list[i] != '\0'; i++)
			net_write(n, list[i] == ' ' ? "\r\n" : &list[i], list[i]
			    == ' ' ? 2 : 1);
		net_printf(n, "%s.\r\n", list[0] != '\0' ? "\r\n" : "");
		return POP3_EV_OK;
	}
	/* Mechanism names are case-insensitive (RFC 4422 section 3.1). */
	len = strlen(argv[0]);
	if (len > AUTHSVC_MECH_MAX)
		return pop3_reply_bad(p, POP3_E_SASL_NOMECH);
	for (i = 0; i <= len; i++)
		mech[i] = (argv[0][i] >= 'a' && argv[0][i] <= 'z') ?
		    (char)(argv[0][i] - 'a' + 'A') : argv[0][i];
	/* Only what is offered: the list is the plugin's, for this
	 * connection (plaintext ones left out where not allowed). */
	for (i = 0; list[i] != '\0';) {
		size_t w = strcspn(list + i, " ");

		if (w == len && memcmp(list + i, mech, len) == 0)
			break;
		i += w + (list[i + w] == ' ');
	}
	if (list[i] == '\0')
		return pop3_reply_bad(p, POP3_E_SASL_NOMECH);
	if (has_ir) {
		/* "=" is a present but empty initial response. */
		if (strcmp(argv[1], "=") == 0)
			dl = 0;
		else if ((dl = b64_decode(argv[1], strlen(argv[1]), dec,
		    sizeof(dec))) < 0) {
			explicit_bzero(argv[1], strlen(argv[1]));
			return pop3_reply_bad(p, POP3_E_SASL_B64);
		}
		explicit_bzero(argv[1], strlen(argv[1]));
	}
	r = login_sasl(p->c, mech, has_ir ? dec : NULL, (size_t)dl, &ch);
	while (r == POP23D_CONTINUE) {
		enum net_status st;
		int cancel = 0;

		/* An empty challenge is "+ " (RFC 5034 section 4). */
		if (b64_encode(ch.data, ch.len, enc, sizeof(enc)) < 0)
			enc[0] = '\0';
		net_printf(n, "+ %s\r\n", enc);
		st = net_readline(n, line, SASL_LINE_MAX, &len,
		    p->c->cfg->timeout_preauth);
		dl = 0;
		if (st == NET_LINE && strcmp(line, "*") == 0)
			cancel = 1;
		else if (st == NET_LINE) {
			if ((dl = b64_decode(line, len, dec, sizeof(dec))) < 0) {
				/* The exchange ends: cancel it with the
				 * monitor, answer the client. */
				ev = POP3_EV_BAD;
				cancel = 2;
				dl = 0;
			}
		} else if (st == NET_TOOLONG || st == NET_NUL) {
			ev = POP3_EV_BAD;
			cancel = st == NET_TOOLONG ? 3 : 2;
		} else {
			/* EOF, timeout, the phase deadline: gone. */
			explicit_bzero(line, sizeof(line));
			return POP3_EV_CRASH;
		}
		explicit_bzero(line, sizeof(line));
		r = login_step(p->c, dec, (size_t)dl, cancel != 0, &ch);
		if (cancel != 0 && r != POP23D_TEMPFAIL) {
			pop3_reply_err(p, cancel == 1 ? POP3_E_SASL_CANCEL :
			    cancel == 2 ? POP3_E_SASL_B64 :
			    POP3_E_SASL_TOOLONG);
			if (login_exhausted(p->c))
				return POP3_EV_LEAVE;
			return ev;
		}
	}
	explicit_bzero(dec, sizeof(dec));
	return pop3_verdict(p, r);
}

static int
pop3_rpop(void *fe, char **argv, int argc)
{
	return pop3_reply_bad(fe, POP3_E_RPOP);
}

static int
pop3_quit_auth(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	net_printf(&p->c->net, "+OK %s POP3 server signing off\r\n",
	    p->c->cfg->hostname);
	return POP3_EV_LEAVE;
}

/* --------------------------------------------------------- TRANSACTION */

/*
 * Look up message argument S.  Returns the message, or NULL after writing
 * the -ERR (RFC 1225 wording).
 */
static struct maildrop_msg *
pop3_get_msg(struct pop3 *p, const char *s, size_t *n_r)
{
	unsigned long n;
	struct maildrop *md = p->md;

	if (proto_parse_msgnum(s, &n) != 0) {
		/* "0" is a number, just not a message */
		if (strcmp(s, "0") != 0) {
			pop3_reply_err(p, POP3_E_BADNUM);
			return NULL;
		}
		n = 0;
	}
	if (n < 1 || n > md->count) {
		net_printf(&p->c->net, "-ERR no such message, only %zu "
		    "messages in maildrop\r\n", md->count);
		return NULL;
	}
	if (md->msgs[n - 1].deleted) {
		net_printf(&p->c->net, "-ERR message %lu already deleted\r\n",
		    n);
		return NULL;
	}
	*n_r = n;
	return &md->msgs[n - 1];
}

static int
pop3_stat(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	net_printf(&p->c->net, "+OK %zu %" PRIu64 "\r\n", p->md->live,
	    p->md->live_octets);
	return POP3_EV_OK;
}

/*
 * LIST and UIDL have one shape (popa3d pop_trans_list_or_uidl): one
 * message, or a listing of every message not marked deleted; only the
 * value after the number differs (the size, or the unique-id).
 */
static int
pop3_list_or_uidl(struct pop3 *p, char **argv, int argc, int uidl)
{
	struct net *n = &p->c->net;
	struct maildrop_msg *m;
	size_t i, num;

	if (argc == 1) {
		if ((m = pop3_get_msg(p, argv[0], &num)) == NULL)
			return POP3_EV_OK;
		if (uidl)
			net_printf(n, "+OK %zu %s\r\n", num, m->uidl);
		else
			net_printf(n, "+OK %zu %" PRIu64 "\r\n", num, m->size);
		return POP3_EV_OK;
	}
	if (uidl)
		net_printf(n, "+OK unique-id listing follows\r\n");
	else
		net_printf(n, "+OK %zu message%s (%" PRIu64 " octets)\r\n",
		    p->md->live, pop3_plural(p->md->live),
		    p->md->live_octets);
	for (i = 0; i < p->md->count; i++) {
		m = &p->md->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			net_printf(n, "%zu %s\r\n", i + 1, m->uidl);
		else
			net_printf(n, "%zu %" PRIu64 "\r\n", i + 1, m->size);
	}
	net_printf(n, ".\r\n");
	return POP3_EV_OK;
}

static int
pop3_list(void *fe, char **argv, int argc)
{
	return pop3_list_or_uidl(fe, argv, argc, 0);
}

static int
pop3_uidl(void *fe, char **argv, int argc)
{
	return pop3_list_or_uidl(fe, argv, argc, 1);
}

/*
 * RETR (LINES < 0) and TOP: the status line is ours, the body and the
 * terminator wire.c's.  A message that disagrees with its record loses
 * the record at once (maildrop.c, wire.c): before anything is sent that
 * is an -ERR and the session goes on; once the status line is out, the
 * session ends without UPDATE.
 */
static int
pop3_send_msg(struct pop3 *p, size_t num, struct maildrop_msg *m,
    long lines)
{
	struct net *n = &p->c->net;
	struct msgstream ms;
	const char *err = "?";
	int rc, stale;

	if (maildrop_msg_open(p->md, num, &ms, &err) != 0) {
		log_warnx("message %zu: %s", num, err);
		return pop3_reply_err(p, POP3_E_READ);
	}
	/* RFC 6856 section 2.1: without UTF-8 mode, a message whose
	 * header holds 8-bit octets is refused (doc/PROTOCOLS.md). */
	if (!p->c->utf8 && !p->c->cfg->send_8bit_headers) {
		int eight = 0;

		if (i18n_header_8bit(ms.fd, ms.off, ms.len, &eight) != 0) {
			msgstream_close(&ms);
			log_warnx("message %zu: cannot read its header", num);
			return pop3_reply_err(p, POP3_E_READ);
		}
		if (eight) {
			msgstream_close(&ms);
			return pop3_reply_err(p, POP3_E_UTF8MSG);
		}
	}
	if (lines < 0)
		net_printf(n, "+OK %" PRIu64 " octets\r\n", m->size);
	else
		net_printf(n, "+OK top of message follows\r\n");
	rc = wire_send(n, &ms, WIRE_POP3, lines, m->size, &stale, &err);
	msgstream_close(&ms);
	if (rc != 0) {
		if (stale)
			maildrop_forget(p->md, num);
		log_warnx("message %zu: %s; closing without update", num, err);
		return POP3_EV_CRASH;
	}
	if (lines < 0) {
		/* Sent whole: only now is it accessed.  RFC 1225: LAST is
		 * the highest message referenced by RETR. */
		maildrop_access(p->md, num);
		p->bytes_sent += m->size;
	}
	return POP3_EV_OK;
}

static int
pop3_retr(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct maildrop_msg *m;
	size_t num;

	if ((m = pop3_get_msg(p, argv[0], &num)) == NULL)
		return POP3_EV_OK;
	p->n_retr++;
	return pop3_send_msg(p, num, m, -1);
}

static int
pop3_top(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	struct maildrop_msg *m;
	unsigned long lines;
	size_t num;

	if ((m = pop3_get_msg(p, argv[0], &num)) == NULL)
		return POP3_EV_OK;
	/* RFC 1939 section 7: the line count must be non-negative. */
	if (proto_parse_count(argv[1], &lines) != 0 || lines > LONG_MAX / 2)
		return pop3_reply_err(p, POP3_E_NOLINES);
	p->n_top++;
	return pop3_send_msg(p, num, m, (long)lines);
}

static int
pop3_dele(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	size_t num;

	if (pop3_get_msg(p, argv[0], &num) == NULL)
		return POP3_EV_OK;
	if (p->md->read_only)
		return pop3_reply_err(p, POP3_E_READONLY);
	maildrop_delete(p->md, num);
	p->n_dele++;
	net_printf(&p->c->net, "+OK message %zu deleted\r\n", num);
	return POP3_EV_OK;
}

static int
pop3_noop(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	net_printf(&p->c->net, "+OK\r\n");
	return POP3_EV_OK;
}

static int
pop3_rset(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	maildrop_reset(p->md);
	net_printf(&p->c->net, "+OK maildrop has %zu message%s (%" PRIu64
	    " octets)\r\n", p->md->live, pop3_plural(p->md->live),
	    p->md->live_octets);
	return POP3_EV_OK;
}

static int
pop3_last(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;

	if (!p->c->cfg->last)
		return pop3_reply_bad(p, POP3_E_UNKNOWN);
	net_printf(&p->c->net, "+OK %zu\r\n", p->md->last);
	return POP3_EV_OK;
}

static int
pop3_quit_trans(void *fe, char **argv, int argc)
{
	struct pop3 *p = fe;
	const char *err = NULL;

	pop3_enter_state(p, POP3_ST_UPDATE);
	if (maildrop_commit(p->md, &err) != 0) {
		log_warnx("update failed: %s", err != NULL ? err : "?");
		pop3_reply_err(p, POP3_E_UPDATE);
		return POP3_EV_LEAVE;
	}
	if (p->md->live == 0)
		net_printf(&p->c->net, "+OK %s POP3 server signing off "
		    "(maildrop empty)\r\n", p->c->cfg->hostname);
	else
		net_printf(&p->c->net, "+OK %s POP3 server signing off "
		    "(%zu message%s left)\r\n", p->c->cfg->hostname,
		    p->md->live, pop3_plural(p->md->live));
	return POP3_EV_LEAVE;
}

/* ------------------------------------------------------ command table */

#define AUTHZ	PROTO_STATE(POP3_ST_AUTHORIZATION)
#define TRANS	PROTO_STATE(POP3_ST_TRANSACTION)

/* verb, states, words at least, at most, handler (proto.h) */
static const struct proto_cmd pop3_cmds[] = {
	{ "USER", AUTHZ, 1, 1, pop3_user },
	/* the rest of the line: a password may hold spaces */
	{ "PASS", AUTHZ, 0, PROTO_REST, pop3_pass },
	{ "APOP", AUTHZ, 2, 2, pop3_apop },
	{ "AUTH", AUTHZ, 0, 2, pop3_auth },
	{ "RPOP", AUTHZ, 0, PROTO_REST, pop3_rpop },
	{ "QUIT", AUTHZ, 0, 0, pop3_quit_auth },
	{ "STLS", AUTHZ, 0, 0, pop3_stls },
	{ "CAPA", AUTHZ | TRANS, 0, 0, pop3_capa },
	{ "UTF8", AUTHZ, 0, 0, pop3_utf8 },
	{ "LANG", AUTHZ | TRANS, 0, 1, pop3_lang },
	{ "STAT", TRANS, 0, 0, pop3_stat },
	{ "LIST", TRANS, 0, 1, pop3_list },
	{ "RETR", TRANS, 1, 1, pop3_retr },
	{ "DELE", TRANS, 1, 1, pop3_dele },
	{ "NOOP", TRANS, 0, 0, pop3_noop },
	{ "RSET", TRANS, 0, 0, pop3_rset },
	{ "QUIT", TRANS, 0, 0, pop3_quit_trans },
	{ "TOP", TRANS, 2, 2, pop3_top },
	{ "UIDL", TRANS, 0, 1, pop3_uidl },
	{ "LAST", TRANS, 0, 0, pop3_last },
	{ NULL, 0, 0, 0, NULL }
};

/* A command that does not run: its -ERR, counted as a bad command. */
static int
pop3_refuse(void *fe, enum proto_verdict v, const struct proto_cmd *cmd)
{
	switch (v) {
	case PROTO_WRONG_STATE:
		return pop3_reply_bad(fe, POP3_E_STATE);
	case PROTO_ARGS_MISSING:
	case PROTO_ARGS_EXTRA:
		return pop3_reply_bad(fe, POP3_E_SYNTAX);
	default:
		return pop3_reply_bad(fe, POP3_E_UNKNOWN);
	}
}

/*
 * Read and run commands until the session ends.  Returns the last event.
 */
static int
pop3_loop(struct pop3 *p, int timeout, int max_bad)
{
	char line[POP3_LINE_MAX + 1];
	struct net *n = &p->c->net;
	size_t len;
	int ev;

	for (;;) {
		switch (net_readline(n, line, POP3_LINE_MAX, &len, timeout)) {
		case NET_LINE:
			ev = proto_dispatch(pop3_cmds, p->state, line, p,
			    pop3_refuse);
			explicit_bzero(line, sizeof(line));
			break;
		case NET_TOOLONG:
			/* RFC 2449 section 4: 255 octets.  One -ERR for the
			 * whole line; its rest was discarded. */
			ev = pop3_reply_bad(p, POP3_E_TOOLONG);
			break;
		case NET_NUL:
			ev = pop3_reply_bad(p, POP3_E_NUL);
			break;
		case NET_TIMEOUT:
			/* RFC 1939 section 3: autologout closes without a
			 * response and without entering UPDATE. */
			log_info("autologout: idle for %d s", timeout);
			return POP3_EV_CRASH;
		case NET_EXPIRED:
			/* The whole AUTHORIZATION phase is bounded, however
			 * busy the client keeps it; it ends like the
			 * autologout above. */
			log_info("autologout: login time limit reached");
			return POP3_EV_CRASH;
		default:
			return POP3_EV_CRASH;	/* EOF or error */
		}
		if (ev == POP3_EV_BAD && ++p->bad >= max_bad) {
			pop3_reply_err(p, POP3_E_TOOMANY);
			return POP3_EV_LEAVE;
		}
		if (ev == POP3_EV_LEAVE || ev == POP3_EV_CRASH ||
		    ev == POP3_EV_HANDOVER)
			return ev;
		if (n->failed)
			return POP3_EV_CRASH;
	}
}

enum client_exit
pop3_preauth(struct client *c)
{
	const struct config *cfg = c->cfg;
	struct pop3 p;
	int ev;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.state = POP3_ST_AUTHORIZATION;
	if (c->apop_challenge[0] != '\0')
		net_printf(&c->net, "+OK %s POP3 server ready %s\r\n",
		    cfg->hostname, c->apop_challenge);
	else
		net_printf(&c->net, "+OK %s POP3 server ready\r\n",
		    cfg->hostname);
	ev = pop3_loop(&p, cfg->timeout_preauth,
	    cfg->max_bad_commands_preauth);
	explicit_bzero(&p, sizeof(p));
	if (ev == POP3_EV_HANDOVER)
		return CLIENT_HANDOVER;	/* the monitor owns the client */
	net_flush(&c->net);
	return CLIENT_CLOSE;
}

void
pop3_postauth(struct client *c)
{
	struct pop3 p;
	struct maildrop_login ld;
	const char *err = NULL;
	enum pop23d_result r;
	int delay, expire;
	size_t live;
	int ev;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.state = POP3_ST_AUTHORIZATION;
	policy_for_user(c->cfg, c->user, &delay, &expire);
	memset(&ld, 0, sizeof(ld));
	ld.delay = (unsigned)delay;
	ld.now = (int64_t)time(NULL);
	r = maildrop_open_login(c->store, c->location, &ld, &p.md, &err);
	if (r == POP23D_INUSE && ld.wait > 0) {
		/* RFC 2449 section 8.1.1, after the password was checked. */
		log_info("maildrop result=login-delay wait=%" PRId64, ld.wait);
		net_printf(&c->net, "-ERR [LOGIN-DELAY] logged in less than "
		    "%d seconds ago; wait %" PRId64 " seconds\r\n",
		    delay, ld.wait);
		net_flush(&c->net);
		return;
	}
	if (r != POP23D_OK) {
		log_info("maildrop result=%s %s",
		    r == POP23D_INUSE ? "in-use" : "error",
		    err != NULL ? err : "");
		pop3_reply_err(&p, r == POP23D_INUSE ? POP3_E_INUSE :
		    r == POP23D_PERMFAIL ? POP3_E_OPENPERM : POP3_E_OPENTEMP);
		net_flush(&c->net);
		return;
	}
	p.md->expire_days = expire;
	pop3_enter_state(&p, POP3_ST_TRANSACTION);
	/* RFC 6856 section 2.1: no raw UTF-8 (a UTF-8 name) in a reply
	 * before UTF8. */
	net_printf(&c->net, "+OK %s%smaildrop has %zu message%s (%" PRIu64
	    " octets)\r\n", c->utf8 || proto_printable(c->user) ? c->user :
	    "your", c->utf8 || proto_printable(c->user) ? "'s " : " ",
	    p.md->live, pop3_plural(p.md->live), p.md->live_octets);
	ev = pop3_loop(&p, c->cfg->timeout_pop3, c->cfg->max_bad_commands);
	live = p.md->live;
	/* Unlock before the last reply leaves: a client that logs in again
	 * right after "+OK" to QUIT must not find the maildrop locked. */
	maildrop_close(&p.md);
	net_flush(&c->net);
	log_info("logout result=%s retr=%lu top=%lu dele=%lu bytes=%" PRIu64
	    " left=%zu", p.state == POP3_ST_UPDATE ? "ok" :
	    ev == POP3_EV_CRASH ? "dropped" : "noupdate", p.n_retr, p.n_top,
	    p.n_dele, p.bytes_sent, live);
}
