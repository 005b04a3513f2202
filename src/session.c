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
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "client.h"
#include "compat.h"
#include "deadline.h"
#include "ipc.h"
#include "log.h"
#include "login.h"
#include "peerchan.h"
#include "plugin.h"
#include "pop2.h"
#include "pop3.h"
#include "priv.h"
#include "proto.h"
#include "proxyproto.h"
#include "session.h"

/* The session id: 4 random octets in hex, in every log line. */
#define SESSION_ID_OCTETS	4
/* The random part of the APOP timestamp, in octets. */
#define APOP_RANDOM_OCTETS	8

struct session {
	const struct config *cfg;
	enum proto proto;
	char id[2 * SESSION_ID_OCTETS + 1];
	char peer[80];			/* "addr:port", for logs */
	char apop_challenge[300];	/* "<...@host>", "" if APOP is off */
	int64_t login_deadline;		/* end of the AUTHORIZATION phase */
	struct client client;		/* what the front ends get */
	int master_fd;			/* -1, or a "proxy" listener's
					 * channel to the master */

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

/*
 * A "proxy" listener: read the PROXY header (under the login deadline,
 * like everything before the login), parse it, and send what it says to
 * the monitor, which checks it and answers.  Returns only if the
 * connection goes on; the header's octets are consumed, anything the
 * client sent after it stays buffered.
 */
static void
preauth_proxy(struct client *c, enum proto proto, int64_t deadline)
{
	struct ipc_proxy rec;
	struct ipc_verdict v;
	struct proxy_info pi;
	enum proxy_result r;
	enum net_status st;
	const void *p;
	const char *error;
	size_t have, need;

	for (;;) {
		p = net_pending(&c->net, &have);
		r = proxy_parse(p, have, &pi, &need, &error);
		if (r != PROXY_MORE)
			break;
		if ((st = net_read_raw(&c->net, need)) != NET_LINE) {
			r = PROXY_BAD;
			error = st == NET_EXPIRED ? "no complete PROXY header "
			    "before the login deadline" : st == NET_EOF ?
			    "connection closed inside the PROXY header" :
			    "read error inside the PROXY header";
			break;
		}
	}
	memset(&rec, 0, sizeof(rec));
	if (r == PROXY_OK) {
		net_consume(&c->net, need);
		rec.ok = 1;
		rec.version = (uint32_t)pi.version;
		rec.local = (uint32_t)pi.local;
		rec.src = pi.src;
		rec.src_len = (uint32_t)pi.src_len;
	} else
		strlcpy(rec.error, error, sizeof(rec.error));
	if (ipc_send(c->ipc_fd, IPC_PROXY, &rec, sizeof(rec)) != 0 ||
	    ipc_recv(c->ipc_fd, IPC_VERDICT, &v, sizeof(v), deadline) != 0)
		_exit(0);
	if (v.result == POP23D_TEMPFAIL) {
		/* Over max_per_ip: a client told "later" tries again later
		 * instead of asking its user for a new password (RFC 2449
		 * [SYS/TEMP]; POP2 has only "-"). */
		if (proto == PROTO_POP2)
			net_printf(&c->net, "- too many connections, try "
			    "again later\r\n");
		else
			net_printf(&c->net, "-ERR [SYS/TEMP] too many "
			    "connections, try again later\r\n");
		net_flush(&c->net);
	}
	if (v.result != POP23D_OK)
		_exit(0);
}

/* The pre-auth child: become login_user, speak until a verdict. */
static void __attribute__((noreturn))
preauth_child(struct session *s, int rfd, int wfd, pid_t monitor)
{
	const struct config *cfg = s->cfg;
	struct client *c = &s->client;
	enum client_exit how;
	const char *error;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	/* The master's channel is the monitor's, never ours. */
	if (s->master_fd != -1)
		close(s->master_fd);
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
	net_init(&c->net, rfd, wfd, INPUT_BUF_MAX, cfg->write_timeout);
	/* The whole phase, however busy the client keeps it. */
	net_set_deadline(&c->net, s->login_deadline);
	if (s->master_fd != -1)
		preauth_proxy(c, s->proto, s->login_deadline);
	if (s->proto == PROTO_POP3)
		how = pop3_preauth(c);
	else
		how = pop2_preauth(c);
	/* On a hand-over the monitor owns the connection: not one more
	 * octet to the client from here, only its unparsed input to the
	 * monitor. */
	if (how == CLIENT_HANDOVER && login_handover(c) != 0)
		_exit(1);
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
 * A "proxy" listener, before the child forks: the connection must come
 * from a proxy_trusted network, or it ends here, before a byte of it is
 * read.
 */
static void
monitor_proxy_peer(struct session *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct addr a;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		memset(&ss, 0, sizeof(ss));
	addr_from_sockaddr((struct sockaddr *)&ss, sl, &a);
	if (!config_proxy_trusted(s->cfg, &a)) {
		log_warnx("PROXY header refused: client=%s is not in "
		    "proxy_trusted", s->peer);
		log_info("disconnect client=%s result=untrusted", s->peer);
		_exit(0);
	}
}

/*
 * A "proxy" listener: take the child's PROXY record, check it, name the
 * real client to the master (max_per_ip) and from now on in every log
 * line, then let the child go on to the greeting.
 */
static void
monitor_proxy(struct session *s, int64_t deadline)
{
	struct ipc_proxy rec;
	struct ipc_verdict v;
	struct addr a;
	char host[NI_MAXHOST], serv[NI_MAXSERV], esc[IPC_PROXY_ERROR_MAX * 4],
	    real[sizeof(s->peer)];
	socklen_t want;
	int r;

	if (ipc_recv(s->ipc_fd, IPC_PROXY, &rec, sizeof(rec), deadline) != 0)
		monitor_end(s, errno == ETIMEDOUT ? "expired" : "nologin");
	if (!rec.ok) {
		rec.error[sizeof(rec.error) - 1] = '\0';
		log_escape(rec.error, strlen(rec.error), esc, sizeof(esc));
		log_warnx("PROXY header refused from %s: %s", s->peer, esc);
		monitor_end(s, "badproxy");
	}
	if (rec.local) {
		log_info("PROXY v%u header without a client address (a "
		    "health check): client=%s stays", rec.version == 1 ? 1 : 2,
		    s->peer);
	} else {
		/* The child is not trusted: a family and length we know. */
		want = rec.src.ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : rec.src.ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : 0;
		if (want == 0 || rec.src_len != want ||
		    getnameinfo((struct sockaddr *)&rec.src, want, host,
		    sizeof(host), serv, sizeof(serv),
		    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			log_warnx("bad PROXY record from the pre-auth process");
			monitor_end(s, "nologin");
		}
		snprintf(real, sizeof(real), "%s:%s", host, serv);
		addr_from_sockaddr((struct sockaddr *)&rec.src, want, &a);
		r = peerchan_ask(s->master_fd, &a, deadline);
		if (r != 1) {
			log_warnx("connection from client=%s via %s refused: %s",
			    real, s->peer, r == 0 ? "max_per_ip reached" :
			    "no answer from the master");
			strlcpy(s->peer, real, sizeof(s->peer));
			/* The child tells the client (it owns the output). */
			memset(&v, 0, sizeof(v));
			v.result = POP23D_TEMPFAIL;
			/* ... and is waited for (its end closes the
			 * channel) before monitor_end() kills it. */
			if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) == 0)
				(void)ipc_recv(s->ipc_fd, IPC_PROXY, &rec,
				    sizeof(rec), deadline);
			monitor_end(s, "refused");
		}
		log_info("proxy client=%s via=%s version=%u", real, s->peer,
		    rec.version == 1 ? 1 : 2);
		strlcpy(s->peer, real, sizeof(s->peer));
	}
	close(s->master_fd);
	s->master_fd = -1;
	memset(&v, 0, sizeof(v));
	v.result = POP23D_OK;
	if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) != 0)
		monitor_end(s, "nologin");
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
	if (s->master_fd != -1)
		monitor_proxy(s, deadline);

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
	    h->len > sizeof(h->input)) {
		log_warnx("bad hand-over from the pre-auth process");
		monitor_end(s, "nologin");
	}
	/* Stop the child before touching the connection. */
	monitor_reap(s);
	close(s->ipc_fd);
}

/* ------------------------------------------------------------- session */

/* Become the mail user and serve TRANSACTION and UPDATE. */
static void __attribute__((noreturn))
session_serve(struct session *s, struct loaded_plugin *auth,
    const struct loaded_plugin *store, int rfd, int wfd,
    struct ipc_handover *h)
{
	struct client *c = &s->client;
	char prefix[200], esc[128];
	const char *error;

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
	log_info("login result=ok client=%s method=%s", s->peer,
	    mech_name(s->mech));

	memset(c, 0, sizeof(*c));
	c->cfg = s->cfg;
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
    struct loaded_plugin *auth, const struct loaded_plugin *store,
    const char *peer, int master_fd)
{
	struct session s;
	struct ipc_handover *h;
	pid_t monitor;
	int sv[2];

	session_start(&s, cfg, proto, peer);
	s.master_fd = master_fd;
	if (master_fd != -1)
		monitor_proxy_peer(&s, rfd);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
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
		s.ipc_fd = sv[1];
		preauth_child(&s, rfd, wfd, monitor);
	}
	close(sv[1]);
	s.ipc_fd = sv[0];
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("calloc");
	monitor_login(&s, auth, h);
	session_serve(&s, auth, store, rfd, wfd, h);
}
