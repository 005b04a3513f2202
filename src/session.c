/*
 * session.c - one connection: the monitor, the pre-auth child, and the
 * hand-over to the mail-user session.  The top of the per-connection code
 * (main -> session -> front ends -> login/ipc): it runs a front end for
 * each phase and acts on how the phase ended; nothing calls back up.
 *
 * PRIVILEGE: session_run() starts as root (forked by the master).  It never
 * reads the client's input while it is root: the pre-auth child does,
 * after priv_drop() to login_user inside login_chroot, and sends the
 * monitor typed, size-checked login records (ipc.h).  The monitor checks
 * them with the auth plugin (root may be needed to read the password
 * database), bounds the whole login phase and every failed check by
 * deadlines of its own, then calls priv_drop() to the mail user and only
 * then touches the connection and the maildrop.  In rootless mode the
 * same processes run as the invoking user.
 *
 * TLS (tls.h, doc/DESIGN.md section 2.6): the monitor frees the TLS
 * context the master loaded (and the private key in it) right after the
 * fork; only the pre-auth child speaks TLS.  A child that logged a client
 * in under TLS does not exit at the hand-over: it stays, still sandboxed,
 * as the session's TLS proxy, and the session speaks plaintext on its end
 * of a socketpair the monitor made before the fork.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "compat.h"
#include "deadline.h"
#include "ipc.h"
#include "log.h"
#include "login.h"
#include "plugin.h"
#include "pop2.h"
#include "pop3.h"
#include "priv.h"
#include "proto.h"
#include "session.h"
#include "tls.h"

/* The session id: 4 random octets in hex, in every log line. */
#define SESSION_ID_OCTETS	4
/* The random part of the APOP timestamp, in octets. */
#define APOP_RANDOM_OCTETS	8
/* How often the ended session looks whether its TLS proxy has exited. */
#define SESSION_PROXY_POLL_MS	10

struct session {
	const struct config *cfg;
	enum proto proto;
	char id[2 * SESSION_ID_OCTETS + 1];
	char peer[80];			/* "addr:port", for logs */
	char apop_challenge[300];	/* "<...@host>", "" if APOP is off */
	int64_t login_deadline;		/* end of the AUTHORIZATION phase */
	struct client client;		/* what the front ends get */
	int tls_mode;			/* enum tls_mode of the listener */
	int loopback;			/* the client is on this host */
	int proxy_fd;			/* our end of the TLS proxy's
					 * socketpair, or -1 */

	/* the monitor's side of the login */
	pid_t child;			/* the pre-auth child */
	int ipc_fd;
	int checks;			/* credentials checked */
	enum login_mech mech;		/* of the accepted login */
	char user[IPC_USER_MAX + 1];
	struct pop23d_identity ident;
	char location[PATH_MAX];	/* expanded maildrop location */
	uid_t uid;
	gid_t gid;
	/* What the child reported with the accepted login (ipc_login): for
	 * pop23d_conn_info's secured and tls_peer_cn. */
	int secured;
	char tls_peer[IPC_TLS_PEER_MAX + 1];
	/* The hand-over: the child stays as the TLS proxy */
	int proxied;
	char tls_info[IPC_TLS_INFO_MAX];
};

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char r[16];
	size_t i;

	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
		/* Not a secret: only an id.  Fall back to time and pid. */
		unsigned long v = (unsigned long)time(NULL) ^
		    ((unsigned long)getpid() << 16);

		for (i = 0; i < nbytes; i++)
			r[i] = (unsigned char)(v >> (8 * (i % sizeof(v))));
	}
	for (i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Expand %h (home), %u (user), %% in the mail_location template. */
static int
expand_location(const char *tmpl, const char *user, const char *home,
    char *out, size_t outsz)
{
	size_t o = 0;
	const char *p, *ins;

	for (p = tmpl; *p != '\0'; p++) {
		char one[2] = { *p, '\0' };

		ins = one;
		if (*p == '%') {
			p++;
			if (*p == 'h')
				ins = home;
			else if (*p == 'u')
				ins = user;
			else if (*p == '%')
				ins = "%";
			else
				return -1;
		}
		if (o + strlen(ins) >= outsz)
			return -1;
		memcpy(out + o, ins, strlen(ins));
		o += strlen(ins);
	}
	out[o] = '\0';
	return out[0] == '/' ? 0 : -1;
}

static const char *
result_name(enum pop23d_result r)
{
	switch (r) {
	case POP23D_OK:
		return "ok";
	case POP23D_FAIL:
		return "fail";
	case POP23D_NOUSER:
		return "nouser";
	case POP23D_TEMPFAIL:
		return "tempfail";
	case POP23D_PERMFAIL:
		return "permfail";
	default:
		return "error";
	}
}

static const char *
mech_name(enum login_mech m)
{
	return m == LOGIN_MECH_APOP ? "apop" : "plain";
}

/* ------------------------------------------------------ pre-auth child */

/* The pre-auth child: become login_user, speak until a verdict. */
static void __attribute__((noreturn))
preauth_child(struct session *s, int rfd, int wfd, pid_t monitor,
    int proxy_fd)
{
	const struct config *cfg = s->cfg;
	struct client *c = &s->client;
	enum client_exit how;
	const char *error;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (priv_is_root()) {
		/* Looked up once by the master (check_login_user). */
		uid = cfg->login_uid;
		gid = cfg->login_gid;
	}
	if (priv_drop(uid, gid, cfg->login_chroot) != 0)
		_exit(1);
#ifdef PR_SET_PDEATHSIG
	/* Die with the monitor (e.g. SIGTERM at shutdown) instead of
	 * lingering until the client's timeout.  Set after priv_drop():
	 * a credential change clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != monitor)
		_exit(1);
#endif
	/* rlimits, NO_NEW_PRIVS, seccomp (priv.c, sandbox.c) */
	if (priv_harden_preauth(&error) != 0) {
		log_warnx("pre-auth hardening: %s", error);
		_exit(1);
	}
	c->cfg = cfg;
	c->apop_challenge = s->apop_challenge;
	c->ipc_fd = s->ipc_fd;
	c->tls_mode = s->tls_mode;
	c->loopback = s->loopback;
	net_init(&c->net, rfd, wfd, INPUT_BUF_MAX, cfg->write_timeout);
	/* The whole phase, however busy the client keeps it (the TLS
	 * handshake included). */
	net_set_deadline(&c->net, s->login_deadline);
	if (s->tls_mode == TLS_MODE_IMPLICIT) {
		/* RFC 8314 section 3.3: TLS from the first octet. */
		if (tls_accept(&c->net, &c->tls, &error) != 0) {
			log_info("tls: %s", error);
			_exit(0);
		}
		c->secured = 1;
		tls_conn_log(c->tls);
	}
	if (s->proto == PROTO_POP3)
		how = pop3_preauth(c);
	else
		how = pop2_preauth(c);
	/* On a hand-over the monitor owns the connection: not one more
	 * octet to the client from here, only its unparsed input to the
	 * monitor.  Under TLS we stay as the session's proxy. */
	if (how == CLIENT_HANDOVER) {
		if (login_handover(c) != 0)
			_exit(1);
		if (c->tls == NULL)
			_exit(0);
		tls_proxy(c->tls, &c->net, proxy_fd);
	}
	tls_close(c->tls, &c->net);	/* close_notify */
	_exit(0);
}

/* ------------------------------------------------------------- monitor */

/* Log how the pre-auth child ended, if it died of a signal of its own. */
static void
monitor_child_status(int status)
{
	/* A child that died by itself (the seccomp filter's SIGSYS, a
	 * crash) is logged: otherwise the only trace is a closed
	 * connection.  Our own SIGKILL is not news. */
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		log_warnx("pre-auth process died of signal %d%s",
		    WTERMSIG(status), WTERMSIG(status) == SIGSYS ?
		    " (a system call the sandbox forbids)" : "");
}

/* Stop the pre-auth child and wait for it. */
static void
monitor_reap(struct session *s)
{
	int status;
	pid_t r;

	while ((r = waitpid(s->child, &status, WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (r == s->child) {
		monitor_child_status(status);
		return;
	}
	/* Still there, or still dying (its socket closes before it is a
	 * zombie): SIGKILL does not change the status of one that is
	 * already on its way out. */
	kill(s->child, SIGKILL);
	while ((r = waitpid(s->child, &status, 0)) == -1 && errno == EINTR)
		;
	if (r == s->child)
		monitor_child_status(status);
}

/* End a connection that did not log in. */
static void __attribute__((noreturn))
monitor_end(struct session *s, const char *result)
{
	monitor_reap(s);
	log_info("disconnect client=%s result=%s", s->peer, result);
	_exit(0);
}

/*
 * Split a login record's data into USER and SECRET by its mechanism (the
 * data is copied into BUF, size IPC_LOGIN_DATA_MAX + 1, NUL-terminated).
 * 0, or -1 if it is malformed (a FAIL, like bad credentials: with SASL the
 * bytes will be the client's own).
 */
int
monitor_parse(const struct ipc_login *req, char *buf, const char **user_r,
    const char **secret_r)
{
	size_t len = req->len, n;
	const char *authzid;

	if (len > sizeof(req->data))
		return -1;
	memcpy(buf, req->data, len);
	buf[len] = '\0';
	switch (req->mech) {
	case LOGIN_MECH_PLAIN:
		/* RFC 4616: [authzid] NUL authcid NUL passwd */
		authzid = buf;
		n = strlen(authzid) + 1;
		if (n >= len)
			return -1;
		*user_r = buf + n;
		n += strlen(*user_r) + 1;
		if (n > len)
			return -1;
		*secret_r = buf + n;
		if (authzid[0] != '\0' && strcmp(authzid, *user_r) != 0)
			return -1;	/* no proxy logins */
		break;
	case LOGIN_MECH_APOP:
		*user_r = buf;
		n = strlen(buf) + 1;
		if (n > len)
			return -1;
		*secret_r = buf + n;
		break;
	default:
		return -1;
	}
	/* Exactly the rest: no NUL inside the secret. */
	if ((size_t)(*secret_r - buf) + strlen(*secret_r) != len)
		return -1;
	if ((*user_r)[0] == '\0' || strlen(*user_r) > IPC_USER_MAX ||
	    !proto_printable(*user_r) || strchr(*user_r, ' ') != NULL ||
	    (*secret_r)[0] == '\0' || strlen(*secret_r) > IPC_SECRET_MAX)
		return -1;
	return 0;
}

/* After good credentials: the identity, the maildrop, the ids. */
static enum pop23d_result
monitor_identity(struct session *s, const struct pop23d_auth_ops *ops,
    const char *user, const char *esc)
{
	const struct config *cfg = s->cfg;
	enum pop23d_result r;

	memset(&s->ident, 0, sizeof(s->ident));
	if ((r = ops->lookup(user, &s->ident)) != POP23D_OK) {
		log_warnx("auth result=%s user=%s: lookup failed after a "
		    "good password", result_name(r), esc);
		return r == POP23D_NOUSER ? POP23D_PERMFAIL : r;
	}
	strlcpy(s->user, user, sizeof(s->user));
	s->ident.home[sizeof(s->ident.home) - 1] = '\0';
	s->ident.maildrop[sizeof(s->ident.maildrop) - 1] = '\0';
	if (s->ident.maildrop[0] != '\0') {
		if (strlcpy(s->location, s->ident.maildrop,
		    sizeof(s->location)) >= sizeof(s->location))
			return POP23D_PERMFAIL;
	} else if (expand_location(cfg->mail_location, s->user,
	    s->ident.home, s->location, sizeof(s->location)) != 0) {
		log_warnx("auth user=%s: mail_location does not give an "
		    "absolute path (home \"%s\")", esc, s->ident.home);
		return POP23D_PERMFAIL;
	}
	s->uid = s->ident.uid != (uid_t)-1 ? s->ident.uid : cfg->virtual_uid;
	s->gid = s->ident.gid != (gid_t)-1 ? s->ident.gid : cfg->virtual_gid;
	if (priv_is_root() && (s->uid == 0 || s->uid == (uid_t)-1 ||
	    s->gid == 0 || s->gid == (gid_t)-1)) {
		log_warnx("auth user=%s: no usable uid/gid (uid 0, gid 0 and "
		    "unset ids are refused; set virtual_uid/virtual_gid)", esc);
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}

/* Non-zero if BUF (SIZE octets) holds a NUL-terminated printable
 * string. */
static int
monitor_text_ok(const char *buf, size_t size)
{
	const char *nul = memchr(buf, '\0', size);

	return nul != NULL && proto_printable(buf);
}

/* The TLS facts of a login record: 0, or -1 if they are malformed. */
static int
monitor_tls_facts(struct session *s, const struct ipc_login *req)
{
	if (req->secured > 1 ||
	    !monitor_text_ok(req->tls_peer, sizeof(req->tls_peer)))
		return -1;
	s->secured = req->secured != 0;
	strlcpy(s->tls_peer, req->tls_peer, sizeof(s->tls_peer));
	return 0;
}

/* Check one login record with the auth plugin.  On OK fills s->user,
 * s->ident, s->location, s->uid and s->gid. */
static enum pop23d_result
monitor_check(struct session *s, const struct loaded_plugin *auth,
    const struct ipc_login *req)
{
	const struct pop23d_auth_ops *ops = &auth->auth;
	char buf[IPC_LOGIN_DATA_MAX + 1], esc[128];
	const char *user = "", *secret = "";
	enum pop23d_result r;

	if (monitor_parse(req, buf, &user, &secret) != 0)
		r = POP23D_FAIL;
	else if (req->mech == LOGIN_MECH_PLAIN)
		r = ops->verify_plain(user, secret);
	else if (s->cfg->apop && s->apop_challenge[0] != '\0' &&
	    ops->verify_apop != NULL)
		r = ops->verify_apop(user, s->apop_challenge, secret);
	else
		r = POP23D_FAIL;
	log_escape(user, strlen(user), esc, sizeof(esc));
	if (r == POP23D_OK)
		r = monitor_identity(s, ops, user, esc);
	else
		log_info("auth result=%s user=%s method=%s client=%s",
		    result_name(r), esc, mech_name(req->mech), s->peer);
	explicit_bzero(buf, sizeof(buf));
	if (r == POP23D_OK)
		s->mech = (enum login_mech)req->mech;
	return r;
}

/*
 * Answer login records until one is accepted, then take the hand-over
 * into *H.  Every other way out (the child leaves, a bad record, the
 * phase deadline, too many failures) ends the connection here.
 */
static void
monitor_login(struct session *s, const struct loaded_plugin *auth,
    struct ipc_handover *h)
{
	const struct config *cfg = s->cfg;
	struct ipc_login req;
	struct ipc_verdict v;
	enum pop23d_result r;
	int64_t arrived, deadline = 0;

	/* The child is not trusted to keep its own deadline. */
	if (s->login_deadline != 0)
		deadline = s->login_deadline + LOGIN_DEADLINE_GRACE_MS;

	for (;;) {
		if (ipc_recv(s->ipc_fd, IPC_LOGIN, &req, sizeof(req),
		    deadline) != 0) {
			/* The child ended the dialogue (QUIT, error,
			 * timeout), sent garbage or let the phase run out:
			 * either way we are done. */
			monitor_end(s, errno == ETIMEDOUT ? "expired" :
			    "nologin");
		}
		/* Counted here too: the child is not trusted to stop
		 * after max_auth_failures checks. */
		if (s->checks >= cfg->max_auth_failures) {
			log_warnx("too many failed logins, closing");
			monitor_end(s, "nologin");
		}
		arrived = deadline_now();
		s->checks++;
		if (monitor_tls_facts(s, &req) != 0) {
			log_warnx("bad login record from the pre-auth process");
			monitor_end(s, "nologin");
		}
		r = monitor_check(s, auth, &req);
		explicit_bzero(&req, sizeof(req));
		/* A failure is answered at one fixed time after the request
		 * arrived, whatever the user and the hash cost, so timing
		 * does not tell which users exist (the delay must exceed the
		 * slowest check). */
		if (r != POP23D_OK)
			deadline_sleep(arrived + cfg->auth_failure_delay_ms);
		memset(&v, 0, sizeof(v));
		v.result = (uint32_t)r;
		if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) != 0)
			monitor_end(s, "nologin");
		if (r == POP23D_OK)
			break;
	}
	if (ipc_recv(s->ipc_fd, IPC_HANDOVER, h, sizeof(*h), deadline) != 0 ||
	    h->len > sizeof(h->input) || (h->flags & ~IPC_HANDOVER_PROXY) ||
	    ((h->flags & IPC_HANDOVER_PROXY) && (s->proxy_fd == -1 ||
	    !monitor_text_ok(h->tls_info, sizeof(h->tls_info))))) {
		log_warnx("bad hand-over from the pre-auth process");
		monitor_end(s, "nologin");
	}
	close(s->ipc_fd);
	if (h->flags & IPC_HANDOVER_PROXY) {
		/* The child stays as the TLS proxy; the session speaks on
		 * our end of its socketpair.  (A lying child gains nothing:
		 * it holds the client's connection either way.) */
		s->proxied = 1;
		strlcpy(s->tls_info, h->tls_info, sizeof(s->tls_info));
		return;
	}
	/* Stop the child before touching the connection. */
	monitor_reap(s);
	if (s->proxy_fd != -1) {
		close(s->proxy_fd);
		s->proxy_fd = -1;
	}
}

/* ------------------------------------------------------------- session */

/*
 * The session is over: close our end of the proxy's socketpair, so the
 * proxy sends what is left and a close_notify, and wait for it (it dies
 * with us, PR_SET_PDEATHSIG, which would cut the last reply short).  It
 * bounds its own writes by write_timeout; we wait that long and a little
 * more, then go anyway.
 */
static void
session_end_proxy(struct session *s, int fd)
{
	int64_t end = deadline_now() + (int64_t)s->cfg->write_timeout *
	    1000 + LOGIN_DEADLINE_GRACE_MS;
	int status;
	pid_t r;

	close(fd);
	for (;;) {
		r = waitpid(s->child, &status, WNOHANG);
		if (r == s->child || (r == -1 && errno != EINTR))
			return;
		if (deadline_passed(end)) {
			log_warnx("tls proxy did not end, leaving it");
			return;
		}
		deadline_sleep(deadline_now() + SESSION_PROXY_POLL_MS);
	}
}

/* Become the mail user and serve TRANSACTION and UPDATE. */
static void __attribute__((noreturn))
session_serve(struct session *s, struct loaded_plugin *auth,
    const struct loaded_plugin *store, int rfd, int wfd,
    struct ipc_handover *h)
{
	struct client *c = &s->client;
	char prefix[200], esc[128];
	char tlsdesc[IPC_TLS_INFO_MAX + IPC_TLS_PEER_MAX + 32] = "";
	const char *error;

	if (s->proxied) {
		/* Only the proxy holds the client's socket from now on, so
		 * it closes when the proxy ends.  (0 and 1 stay: inetd mode
		 * must not leave them free for the next open().) */
		if (rfd > STDERR_FILENO)
			close(rfd);
		if (wfd != rfd && wfd > STDERR_FILENO)
			close(wfd);
		rfd = wfd = s->proxy_fd;
		snprintf(tlsdesc, sizeof(tlsdesc), " tls=%s%s%s", s->tls_info,
		    s->tls_peer[0] != '\0' ? " tls_peer=" : "", s->tls_peer);
	}
	/* The session needs no credentials: unload the auth plugin (its
	 * destructor wipes what it read) and give the memory back. */
	plugin_unload(auth);
	malloc_trim(0);
	if (priv_drop(s->uid, s->gid, NULL) != 0)
		_exit(1);
	if (priv_harden_session(&error) != 0) {		/* NO_NEW_PRIVS */
		log_warnx("session hardening: %s", error);
		_exit(1);
	}
	log_escape(s->user, strlen(s->user), esc, sizeof(esc));
	snprintf(prefix, sizeof(prefix), "%s %s user=%s", s->id,
	    config_proto_name(s->proto), esc);
	log_set_session(prefix);
	log_info("login result=ok client=%s method=%s%s", s->peer,
	    mech_name(s->mech), tlsdesc);

	memset(c, 0, sizeof(*c));
	c->cfg = s->cfg;
	c->tls_mode = s->tls_mode;
	c->loopback = s->loopback;
	c->secured = s->proxied;
	c->apop_challenge = "";
	c->ipc_fd = -1;
	c->user = s->user;
	c->store = &store->store;
	c->location = s->location;
	net_init(&c->net, rfd, wfd, INPUT_BUF_MAX, s->cfg->write_timeout);
	/* What the client pipelined after its login command: parsed only
	 * now, as the mail user. */
	if (net_preload(&c->net, h->input, h->len) != 0) {
		log_warnx("bad hand-over from the pre-auth process");
		_exit(1);
	}
	explicit_bzero(h, sizeof(*h));
	free(h);
	if (s->proto == PROTO_POP3)
		pop3_postauth(c);
	else
		pop2_postauth(c);
	net_flush(&c->net);
	net_free(&c->net);
	if (s->proxied)
		session_end_proxy(s, rfd);
	_exit(0);
}

/* Session id, log prefix, APOP timestamp (made before the fork, so the
 * monitor checks digests against its own copy). */
static void
session_start(struct session *s, const struct config *cfg, enum proto proto,
    const char *peer)
{
	char prefix[200], r[2 * APOP_RANDOM_OCTETS + 1];

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->proto = proto;
	random_hex(s->id, SESSION_ID_OCTETS);
	strlcpy(s->peer, peer, sizeof(s->peer));
	snprintf(prefix, sizeof(prefix), "%s %s", s->id,
	    config_proto_name(proto));
	log_set_session(prefix);
	log_info("connect client=%s", peer);
	s->login_deadline = deadline_in(proto == PROTO_POP3 ?
	    cfg->timeout_preauth : cfg->timeout_pop2_auth);
	if (proto == PROTO_POP3 && cfg->apop) {
		random_hex(r, APOP_RANDOM_OCTETS);
		snprintf(s->apop_challenge, sizeof(s->apop_challenge),
		    "<%ld.%s@%s>", (long)getpid(), r, cfg->hostname);
	}
}

void
session_run(int rfd, int wfd, const struct config *cfg, enum proto proto,
    int tls_mode, int loopback, struct loaded_plugin *auth,
    const struct loaded_plugin *store, const char *peer)
{
	struct session s;
	struct ipc_handover *h;
	pid_t monitor;
	int sv[2], pv[2] = { -1, -1 };

	session_start(&s, cfg, proto, peer);
	s.tls_mode = tls_enabled() ? tls_mode : TLS_MODE_NONE;
	s.loopback = loopback;
	s.proxy_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    (s.tls_mode != TLS_MODE_NONE && socketpair(AF_UNIX, SOCK_STREAM |
	    SOCK_CLOEXEC, 0, pv) != 0)) {
		log_warn("socketpair");
		_exit(1);
	}
	monitor = getpid();
	if ((s.child = fork()) == -1) {
		log_warn("fork");
		_exit(1);
	}
	if (s.child == 0) {
		close(sv[0]);
		if (pv[0] != -1)
			close(pv[0]);
		s.ipc_fd = sv[1];
		preauth_child(&s, rfd, wfd, monitor, pv[1]);
	}
	/* The monitor never speaks TLS and becomes the mail user: the
	 * context, the private key in it and the ticket keys go now. */
	tls_forget();
	close(sv[1]);
	if (pv[1] != -1)
		close(pv[1]);
	s.proxy_fd = pv[0];
	s.ipc_fd = sv[0];
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("calloc");
	monitor_login(&s, auth, h);
	session_serve(&s, auth, store, rfd, wfd, h);
}
