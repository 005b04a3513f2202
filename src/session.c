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
 * them through the auth service (authc.h, authsvc.c: the process that
 * holds the auth plugin; the monitor no longer maps it), bounds the whole
 * login phase and every failed check by deadlines of its own, then calls priv_drop() to the mail user and only
 * then touches the connection and the maildrop.  In rootless mode the
 * same processes run as the invoking user.
 *
 * TLS (tls.h, doc/DESIGN.md section 2.9): the monitor frees the TLS
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
#include <netdb.h>
#include <sys/wait.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "authc.h"
#include "client.h"
#include "compat.h"
#include "deadline.h"
#include "dotlock.h"
#include "i18n.h"
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
	struct authsvc_conn conn;	/* addresses, for the auth service */
	char mechs[IPC_CHALLENGE_MAX];	/* SASL list, once asked for */
	int have_mechs;
	uint32_t mechs_secured, mechs_plaintext_ok;	/* asked with these */
	int plugin_sasl;		/* the auth plugin has SASL ops */
	char apop_challenge[300];	/* "<...@host>", "" if APOP is off */
	int64_t login_deadline;		/* end of the AUTHORIZATION phase */
	struct client client;		/* what the front ends get */
	int master_fd;			/* -1, or a "proxy" listener's
					 * channel to the master */
	int tls_mode;			/* enum tls_mode of the listener */
	int loopback;			/* the client is on this host (the
					 * real client's, behind PROXY) */
	int proxy_fd;			/* our end of the TLS proxy's
					 * socketpair, or -1 */

	/* the monitor's side of the login */
	pid_t child;			/* the pre-auth child */
	int ipc_fd;
	int checks;			/* credentials checked */
	enum login_mech mech;		/* of the accepted login */
	uid_t uid;
	gid_t gid;
	/* What the child reported with the accepted login (ipc_login): for
	 * pop23d_conn_info's secured and tls_peer_cn. */
	int secured;
	char tls_peer[IPC_TLS_PEER_MAX + 1];
	/* The hand-over: the child stays as the TLS proxy */
	int proxied;
	char tls_info[IPC_TLS_INFO_MAX];
	uint32_t penalty_ms;		/* of the last failed check */
	/* Last, the big arrays, of which a session writes only the first
	 * octets: the small fields above share a page with the end of
	 * client.net.out and the start of user and location, so an idle
	 * session owns 3 pages of this struct, not 6 (doc/PERFORMANCE.md,
	 * "Idle memory, run 5"). */
	char user[IPC_USER_MAX + 1];
	char location[PATH_MAX];	/* expanded maildrop location */
	struct pop23d_identity ident;
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

/* strlcpy() SRC into DST unless DST already holds it: an empty
 * maildrop field copied over an empty one would still make its page the
 * session's own. */
static void
copy_if_changed(char *dst, const char *src, size_t size)
{
	if (strncmp(dst, src, size) != 0)
		strlcpy(dst, src, size);
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
	return m == LOGIN_MECH_APOP ? "apop" : m == LOGIN_MECH_SASL ?
	    "sasl" : "plain";
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
		if (!pi.local) {
			/* The plaintext rule (login_plaintext_ok()) is about
			 * the real client: a balancer on this host connects
			 * from loopback for clients anywhere. */
			struct addr a;

			addr_from_sockaddr((const struct sockaddr *)&pi.src,
			    pi.src_len, &a);
			c->loopback = addr_is_loopback(&a);
		}
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
preauth_child(struct session *s, int rfd, int wfd, pid_t monitor,
    int proxy_fd)
{
	const struct config *cfg = s->cfg;
	struct client *c = &s->client;
	enum client_exit how;
	const char *error;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	/* inetd mode: the monitor's socket to its auth service is not for
	 * this process (daemon mode: it is opened only after this fork). */
	authc_close();
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
	c->tls_mode = s->tls_mode;
	c->loopback = s->loopback;
	net_init(&c->net, rfd, wfd, INPUT_BUF_MAX, cfg->write_timeout);
	/* The whole phase, however busy the client keeps it (the TLS
	 * handshake included). */
	net_set_deadline(&c->net, s->login_deadline);
	/* A PROXY header comes first, in clear, before any TLS. */
	if (s->master_fd != -1)
		preauth_proxy(c, s->proto, s->login_deadline);
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
		s->loopback = addr_is_loopback(&a);
		strlcpy(s->peer, real, sizeof(s->peer));
		/* The auth service's view too: its failed-login line (rip=)
		 * and its per-address penalty are the real client's. */
		if (strlcpy(s->conn.remote_ip, host,
		    sizeof(s->conn.remote_ip)) >= sizeof(s->conn.remote_ip))
			s->conn.remote_ip[0] = '\0';
		s->conn.remote_port = (uint32_t)strtoul(serv, NULL, 10);
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
    const char **secret_r, int utf8_user)
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
	    !i18n_name_ok(*user_r, utf8_user) ||
	    (*secret_r)[0] == '\0' || strlen(*secret_r) > IPC_SECRET_MAX)
		return -1;
	return 0;
}

/* After good credentials: the identity (LOOKUP in the auth service),
 * the maildrop, the ids. */
static enum pop23d_result
monitor_identity(struct session *s, const char *user, const char *esc)
{
	const struct config *cfg = s->cfg;
	struct authsvc_req *req;
	struct authsvc_reply *rep;
	enum pop23d_result r = POP23D_TEMPFAIL;

	/* Not memset(): its 8 KiB would be 2-3 more pages of the idle
	 * session's own; every field is set below before it is used. */
	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (rep = calloc(1, sizeof(*rep))) == NULL) {
		free(req);
		return POP23D_TEMPFAIL;
	}
	req->op = AUTHSVC_LOOKUP;
	req->conn = s->conn;
	strlcpy(req->user, user, sizeof(req->user));
	if (authc_call(req, rep, 0) == 0)
		r = (enum pop23d_result)rep->result;
	if (r != POP23D_OK) {
		log_warnx("auth result=%s user=%s: lookup failed after a "
		    "good password", result_name(r), esc);
		free(req);
		free(rep);
		return r == POP23D_NOUSER || r == POP23D_FAIL ?
		    POP23D_PERMFAIL : r;
	}
	s->ident.uid = rep->uid_set ? (uid_t)rep->uid : (uid_t)-1;
	s->ident.gid = rep->gid_set ? (gid_t)rep->gid : (gid_t)-1;
	rep->home[sizeof(rep->home) - 1] = '\0';
	rep->maildrop[sizeof(rep->maildrop) - 1] = '\0';
	copy_if_changed(s->ident.home, rep->home, sizeof(s->ident.home));
	copy_if_changed(s->ident.maildrop, rep->maildrop,
	    sizeof(s->ident.maildrop));
	free(req);
	free(rep);
	strlcpy(s->user, user, sizeof(s->user));
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

/*
 * The one log line per failed login (doc/SECURITY.md, "The failed-login
 * line"): fixed text, the escaped user in <>, the client address alone
 * in rip=, so a fail2ban filter can match it.
 */
static void
monitor_log_failure(struct session *s, const char *user, const char *method,
    enum pop23d_result r)
{
	char esc[128];
	size_t i, o = 0;

	/* log_escape()'s rule, and also "<", ">" and ",": the user ends
	 * at the first ">" and no field can be forged into the line. */
	for (i = 0; user[i] != '\0' && o + 5 < sizeof(esc) - 4; i++) {
		unsigned char ch = (unsigned char)user[i];

		if (ch < 0x21 || ch > 0x7e || ch == '\\' || ch == '<' ||
		    ch == '>' || ch == ',')
			o += (size_t)snprintf(esc + o, sizeof(esc) - o,
			    "\\x%02x", ch);
		else
			esc[o++] = (char)ch;
	}
	if (user[i] != '\0')
		o += (size_t)snprintf(esc + o, sizeof(esc) - o, "...");
	esc[o] = '\0';
	if (user[0] != '\0')
		log_info("auth failed: user=<%s>, method=%s, result=%s, "
		    "rip=%s, lip=%s, session=<%s>", esc, method,
		    result_name(r), s->conn.remote_ip[0] != '\0' ?
		    s->conn.remote_ip : "unknown", s->conn.local_ip[0] !=
		    '\0' ? s->conn.local_ip : "unknown", s->id);
	else
		log_info("auth failed: method=%s, result=%s, rip=%s, lip=%s, "
		    "session=<%s>", method, result_name(r),
		    s->conn.remote_ip[0] != '\0' ? s->conn.remote_ip :
		    "unknown", s->conn.local_ip[0] != '\0' ?
		    s->conn.local_ip : "unknown", s->id);
}

/* The monitor's request for the auth service, with the connection. */
static struct authsvc_req *
monitor_req(struct session *s, enum authsvc_op op,
    const struct ipc_login *login)
{
	struct authsvc_req *req = calloc(1, sizeof(*req));

	if (req == NULL)
		return NULL;
	req->op = (uint32_t)op;
	req->conn = s->conn;
	if (login != NULL) {
		req->conn.secured = login->secured ? 1 : 0;
		req->conn.plaintext_ok = login->plaintext_ok ? 1 : 0;
	}
	/* checked by monitor_tls_facts() */
	strlcpy(req->conn.tls_peer_cn, s->tls_peer,
	    sizeof(req->conn.tls_peer_cn));
	return req;
}

/* One SASL round trip; the reply's result (TEMPFAIL if none). */
static enum pop23d_result
monitor_sasl_call(struct authsvc_req *req, struct authsvc_reply *rep,
    int64_t deadline)
{
	memset(rep, 0, sizeof(*rep));
	if (authc_call(req, rep, deadline) != 0)
		return POP23D_TEMPFAIL;
	if (rep->result == POP23D_CONTINUE &&
	    rep->out_len > sizeof(rep->out))
		return POP23D_TEMPFAIL;
	return (enum pop23d_result)rep->result;
}

/*
 * SASL (RFC 5034 AUTH): the child's record holds "MECH NUL flag initial
 * response" (flag '1': an initial response follows, possibly empty).
 * Every challenge goes to the child as a CONTINUE verdict, every response
 * comes back as IPC_LOGIN_STEP and is relayed to the auth service, where
 * the SASL library parses it.  On OK *user_r holds the identity.
 */
static enum pop23d_result
monitor_sasl(struct session *s, const struct ipc_login *login,
    int64_t deadline, char *user_r, size_t user_size, int *cancelled_r,
    char *mech_r, size_t mech_size)
{
	struct authsvc_req *req;
	struct authsvc_reply *rep;
	struct ipc_login_step *step;
	struct ipc_verdict v;
	enum pop23d_result r = POP23D_PERMFAIL;
	size_t len = login->len, n;
	const unsigned char *d = login->data;

	*cancelled_r = 0;
	if (len > sizeof(login->data))
		return POP23D_PERMFAIL;
	n = strnlen((const char *)d, len);
	if (n == 0 || n > AUTHSVC_MECH_MAX || n + 2 > len ||
	    (d[n + 1] != '0' && d[n + 1] != '1') ||
	    len - (n + 2) > AUTHSVC_IN_MAX)
		return POP23D_PERMFAIL;
	if ((req = monitor_req(s, AUTHSVC_SASL_START, login)) == NULL)
		return POP23D_TEMPFAIL;
	rep = calloc(1, sizeof(*rep));
	step = calloc(1, sizeof(*step));
	if (rep == NULL || step == NULL) {
		free(req);
		free(rep);
		free(step);
		return POP23D_TEMPFAIL;
	}
	memcpy(req->mech, d, n);
	/* For the log: the name as the service will check it. */
	if (proto_printable(req->mech) && strchr(req->mech, ' ') == NULL &&
	    strchr(req->mech, ',') == NULL)
		strlcpy(mech_r, req->mech, mech_size);
	req->has_in = d[n + 1] == '1';
	req->in_len = (uint32_t)(len - (n + 2));
	memcpy(req->in, d + n + 2, req->in_len);
	for (;;) {
		r = monitor_sasl_call(req, rep, 0);
		if (r != POP23D_CONTINUE)
			break;
		memset(&v, 0, sizeof(v));
		v.result = POP23D_CONTINUE;
		v.challenge_len = rep->out_len;
		memcpy(v.challenge, rep->out, rep->out_len);
		if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) != 0 ||
		    ipc_recv(s->ipc_fd, IPC_LOGIN_STEP, step, sizeof(*step),
		    deadline) != 0 || step->len > sizeof(step->data)) {
			/* The child left mid-exchange: end it there too. */
			memset(req, 0, sizeof(*req));
			req->op = AUTHSVC_SASL_END;
			req->conn = s->conn;
			(void)monitor_sasl_call(req, rep, 0);
			explicit_bzero(step, sizeof(*step));
			free(req);
			free(rep);
			free(step);
			monitor_end(s, errno == ETIMEDOUT ? "expired" :
			    "nologin");
		}
		memset(req, 0, sizeof(*req));
		req->conn = s->conn;
		req->conn.secured = login->secured ? 1 : 0;
		req->conn.plaintext_ok = login->plaintext_ok ? 1 : 0;
		if (step->cancel) {
			req->op = AUTHSVC_SASL_END;
			(void)monitor_sasl_call(req, rep, 0);
			*cancelled_r = 1;
			r = POP23D_FAIL;
			break;
		}
		req->op = AUTHSVC_SASL_STEP;
		req->in_len = step->len;
		memcpy(req->in, step->data, step->len);
		explicit_bzero(step, sizeof(*step));
	}
	if (r == POP23D_OK) {
		rep->user[sizeof(rep->user) - 1] = '\0';
		strlcpy(user_r, rep->user, user_size);
	}
	s->penalty_ms = rep->penalty_ms;
	explicit_bzero(req, sizeof(*req));
	explicit_bzero(step, sizeof(*step));
	free(req);
	free(rep);
	free(step);
	return r;
}

/* Check one login record through the auth service.  On OK fills
 * s->user, s->ident, s->location, s->uid and s->gid. */
static enum pop23d_result
monitor_check(struct session *s, const struct ipc_login *req,
    int64_t deadline)
{
	char buf[IPC_LOGIN_DATA_MAX + 1], esc[128];
	char sasl_user[IPC_USER_MAX + 1] = "", mech[AUTHSVC_MECH_MAX + 1];
	const char *user = "", *secret = "", *method = "PLAIN";
	struct authsvc_req *ar = NULL;
	struct authsvc_reply *rep = NULL;
	enum pop23d_result r = POP23D_TEMPFAIL;
	int cancelled = 0;

	s->penalty_ms = (uint32_t)s->cfg->auth_failure_delay_ms;
	if (req->mech == LOGIN_MECH_SASL) {
		strlcpy(mech, "SASL", sizeof(mech));
		r = monitor_sasl(s, req, deadline, sasl_user,
		    sizeof(sasl_user), &cancelled, mech, sizeof(mech));
		method = mech;
		/* The SASL ops' PERMFAIL is a refused mechanism or
		 * malformed input: a failed login ([AUTH]).  [SYS/PERM]
		 * comes only after good credentials (lookup, below). */
		if (r == POP23D_PERMFAIL)
			r = POP23D_FAIL;
		user = sasl_user;
	} else {
		if (req->mech == LOGIN_MECH_APOP)
			method = "APOP";
		ar = monitor_req(s, req->mech == LOGIN_MECH_APOP ?
		    AUTHSVC_APOP : AUTHSVC_PLAIN, req);
		rep = calloc(1, sizeof(*rep));
		if (ar == NULL || rep == NULL)
			r = POP23D_TEMPFAIL;
		else {
			/* A malformed record goes to the service as an
			 * empty one: a failure it counts like any other. */
			if (monitor_parse(req, buf, &user, &secret,
			    s->cfg->utf8_user) == 0 &&
			    (req->mech == LOGIN_MECH_PLAIN ||
			    (s->cfg->apop && s->apop_challenge[0] != '\0'))) {
				strlcpy(ar->user, user, sizeof(ar->user));
				strlcpy(sasl_user, user, sizeof(sasl_user));
				ar->in_len = (uint32_t)strlen(secret);
				memcpy(ar->in, secret, ar->in_len);
				strlcpy(ar->challenge, s->apop_challenge,
				    sizeof(ar->challenge));
			}
			r = POP23D_TEMPFAIL;
			if (authc_call(ar, rep, 0) == 0) {
				r = (enum pop23d_result)rep->result;
				s->penalty_ms = rep->penalty_ms;
			}
		}
		/* The user outlives BUF, which held the secret. */
		if (user != sasl_user && user >= buf &&
		    user < buf + sizeof(buf))
			strlcpy(sasl_user, user, sizeof(sasl_user));
		user = sasl_user;
		explicit_bzero(buf, sizeof(buf));
		if (ar != NULL)
			explicit_bzero(ar, sizeof(*ar));
		free(ar);
		free(rep);
	}
	if (r == POP23D_CONTINUE)
		r = POP23D_TEMPFAIL;	/* not from a one-round mechanism */
	log_escape(user, strlen(user), esc, sizeof(esc));
	if (r == POP23D_OK) {
		r = monitor_identity(s, user, esc);
		if (r == POP23D_OK)
			s->mech = (enum login_mech)req->mech;
	} else if (cancelled) {
		s->penalty_ms = 0;	/* nothing was checked */
		log_info("auth cancelled by the client: method=%s", method);
	} else
		monitor_log_failure(s, user, method, r);
	explicit_bzero(sasl_user, sizeof(sasl_user));
	return r;
}

/* The SASL mechanisms for the child (asked once per connection). */
static void
monitor_mechs(struct session *s, const struct ipc_login *login)
{
	struct authsvc_req *req;
	struct authsvc_reply *rep;
	struct ipc_verdict v;

	/* A plugin without SASL ops offers none: no need to ask (CAPA
	 * comes with most connections). */
	if (!s->plugin_sasl)
		s->have_mechs = 1;
	/* The list depends on the connection (TLS, plaintext allowed):
	 * asked again when the child says it changed. */
	else if (s->have_mechs && (login->secured != s->mechs_secured ||
	    login->plaintext_ok != s->mechs_plaintext_ok))
		s->have_mechs = 0;
	if (!s->have_mechs && (req = monitor_req(s, AUTHSVC_MECHS,
	    login)) != NULL) {
		if ((rep = calloc(1, sizeof(*rep))) != NULL &&
		    authc_call(req, rep, 0) == 0) {
			rep->mechs[sizeof(rep->mechs) - 1] = '\0';
			strlcpy(s->mechs, rep->mechs, sizeof(s->mechs));
			s->have_mechs = 1;
			s->mechs_secured = login->secured;
			s->mechs_plaintext_ok = login->plaintext_ok;
		}
		free(req);
		free(rep);
	}
	memset(&v, 0, sizeof(v));
	v.result = POP23D_OK;
	v.challenge_len = (uint32_t)strlen(s->mechs);
	memcpy(v.challenge, s->mechs, v.challenge_len);
	if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) != 0)
		monitor_end(s, "nologin");
}

/*
 * Answer login records until one is accepted, then take the hand-over
 * into *H.  Every other way out (the child leaves, a bad record, the
 * phase deadline, too many failures) ends the connection here.
 */
static void
monitor_login(struct session *s, struct ipc_handover *h)
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
		/* TLS and the client certificate's name, for this record
		 * and the auth service's pop23d_conn_info */
		if (monitor_tls_facts(s, &req) != 0) {
			log_warnx("bad login record from the pre-auth process");
			monitor_end(s, "nologin");
		}
		if (req.mech == LOGIN_MECH_LIST) {
			monitor_mechs(s, &req);	/* not a check */
			continue;
		}
		/* Counted here too: the child is not trusted to stop
		 * after max_auth_failures checks. */
		if (s->checks >= cfg->max_auth_failures) {
			log_warnx("too many failed logins, closing");
			monitor_end(s, "nologin");
		}
		arrived = deadline_now();
		s->checks++;
		r = monitor_check(s, &req, deadline);
		explicit_bzero(&req, sizeof(req));
		/* A failure is answered at one fixed time after the request
		 * arrived, whatever the user and the hash cost, so timing
		 * does not tell which users exist (the delay must exceed the
		 * slowest check).  The auth service doubles it for an
		 * address that keeps failing (penalty.h). */
		if (r != POP23D_OK)
			deadline_sleep(arrived + s->penalty_ms);
		memset(&v, 0, sizeof(v));
		v.result = (uint32_t)r;
		if (ipc_send(s->ipc_fd, IPC_VERDICT, &v, sizeof(v)) != 0)
			monitor_end(s, "nologin");
		if (r == POP23D_OK)
			break;
	}
	if (ipc_recv(s->ipc_fd, IPC_HANDOVER, h, sizeof(*h), deadline) != 0 ||
	    h->len > sizeof(h->input) ||
	    (h->flags & ~(IPC_HANDOVER_UTF8 | IPC_HANDOVER_PROXY)) != 0 ||
	    ((h->flags & IPC_HANDOVER_PROXY) && (s->proxy_fd == -1 ||
	    !monitor_text_ok(h->tls_info, sizeof(h->tls_info))))) {
		log_warnx("bad hand-over from the pre-auth process");
		monitor_end(s, "nologin");
	}
	close(s->ipc_fd);
	authc_close();
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
	/* mbox storage (API 6): who we serve, and the dotlock helper, which
	 * must be forked while we are still root (src/dotlock.c). */
	plugin_set_session(s->user, s->ident.home);
	if (dotlock_helper_start(s->cfg, s->location, s->uid, s->gid) != 0)
		_exit(1);
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

	/* Zero all of *c but net.out, whose 16 KiB net_init() does not
	 * need zeroed: an idle session owns only the pages it writes. */
	memset(c, 0, offsetof(struct client, net) + offsetof(struct net, out));
	memset(c->net.out + sizeof(c->net.out), 0, sizeof(*c) -
	    (offsetof(struct client, net) + offsetof(struct net, out) +
	    sizeof(c->net.out)));
	c->cfg = s->cfg;
	c->tls_mode = s->tls_mode;
	c->loopback = s->loopback;
	c->secured = s->proxied;
	c->apop_challenge = "";
	c->ipc_fd = -1;
	c->user = s->user;
	c->store = &store->store;
	c->location = s->location;
	c->utf8 = (h->flags & IPC_HANDOVER_UTF8) != 0;
	net_init(&c->net, rfd, wfd, INPUT_BUF_MAX, s->cfg->write_timeout);
	/* What the client pipelined after its login command: parsed only
	 * now, as the mail user. */
	if (net_preload(&c->net, h->input, h->len) != 0) {
		log_warnx("bad hand-over from the pre-auth process");
		_exit(1);
	}
	explicit_bzero(h, sizeof(*h));
	free(h);
	/* No seccomp filter here: wait for commands inside recv(2). */
	net_wait_in_recv(&c->net);
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

	/* Already zero the first time (static storage the master never
	 * touches); clearing it again would dirty all of its pages. */
	if (s->cfg != NULL)
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

/* The connection's addresses for the auth service ("" when rfd is not a
 * socket: inetd mode on pipes).  getpeername() and getsockname() only:
 * the monitor reads nothing from the client. */
static void
session_conn(struct session *s, int rfd, enum proto proto)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char serv[16];

	strlcpy(s->conn.service, config_proto_name(proto),
	    sizeof(s->conn.service));
	sl = sizeof(ss);
	if (getpeername(rfd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, s->conn.remote_ip,
	    sizeof(s->conn.remote_ip), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		s->conn.remote_port = (uint32_t)strtoul(serv, NULL, 10);
	else
		s->conn.remote_ip[0] = '\0';
	sl = sizeof(ss);
	if (getsockname(rfd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, s->conn.local_ip,
	    sizeof(s->conn.local_ip), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		s->conn.local_port = (uint32_t)strtoul(serv, NULL, 10);
	else
		s->conn.local_ip[0] = '\0';
	if (s->conn.remote_port > 65535 || s->conn.local_port > 65535)
		s->conn.remote_port = s->conn.local_port = 0;
}

void
session_run(int rfd, int wfd, const struct config *cfg, enum proto proto,
    int tls_mode, int loopback, struct loaded_plugin *auth,
    const struct loaded_plugin *store, const char *peer, int master_fd)
{
	/*
	 * Static, not on the stack: session_run() runs once per process
	 * (a child of the master, or inetd mode), and an idle session keeps
	 * every stack page above its command loop.  In static storage only
	 * the pages it writes become its own (about 29 KiB, mostly buffers
	 * it never fills).
	 */
	static struct session s;
	struct ipc_handover *h;
	pid_t monitor;
	int sv[2], pv[2] = { -1, -1 };

	session_start(&s, cfg, proto, peer);
	s.tls_mode = tls_enabled() ? tls_mode : TLS_MODE_NONE;
	s.loopback = loopback;
	s.proxy_fd = -1;
	/* The auth service holds the plugin: not mapped here at all (the
	 * master parked it, plugin_park(); inetd mode unloads it here). */
	s.plugin_sasl = (auth->auth.sasl_mechs != NULL &&
	    auth->auth.sasl_start != NULL) || auth->sasl;
	plugin_unload(auth);
	session_conn(&s, rfd, proto);
	s.master_fd = master_fd;
	if (master_fd != -1)
		monitor_proxy_peer(&s, rfd);
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
	monitor_login(&s, h);
	session_serve(&s, auth, store, rfd, wfd, h);
}
