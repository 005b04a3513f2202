/*
 * authsvc.c - the auth service (authsvc.h, doc/DESIGN.md section 2.6): a
 * long-lived process, started and restarted by the master, that holds the
 * auth plugin and whatever tables it keeps, and answers the per-connection
 * monitors.  A login costs one request, whatever the size of the user
 * database (the plugin keeps it parsed in this process).
 *
 * Plugins that may block (POP23D_PLUGIN_F_BLOCKING: a PAM conversation,
 * a checkpassword program) get one worker process per monitor
 * connection, forked from this one, so one slow login never holds up
 * another; the workers report failures and successes back for the
 * per-address penalty.  Other plugins are called from a poll() loop, one
 * request at a time per process: in this process when auth_workers is 1,
 * else in a pool of long-lived workers forked from it (authpool.c) that
 * all accept from the one listening socket; this process then holds the
 * penalty table for all of them.
 *
 * PRIVILEGE: auth_user/auth_group with PR_SET_NO_NEW_PRIVS, or root when
 * the plugin sets POP23D_PLUGIN_F_NEEDS_ROOT; in rootless mode the
 * daemon's user.  It accepts only peers that are root (rootless: its own
 * uid): the monitors.  A monitor is trusted to give the client's real
 * address, but every field of a request is bounded and checked, since
 * monitors relay client-chosen strings: a malformed request is a failed
 * login.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "authpool.h"
#include "authsvc.h"
#include "compat.h"
#include "conf.h"
#include "deadline.h"
#include "i18n.h"
#include "ipc.h"
#include "log.h"
#include "penalty.h"
#include "plugin.h"
#include "priv.h"
#include "proto.h"

/* Worker processes for a blocking plugin: logins in flight at once.  A
 * monitor beyond it waits in the listen backlog (it gives up at its own
 * reply deadline) rather than the service forking without bound. */
#define AUTHSVC_WORKERS_MAX	128
/* Monitor connections served by one non-blocking service at once; each
 * is one descriptor. */
#define AUTHSVC_CONNS_MAX	900

/* A penalty note from a worker to the service. */
struct authsvc_note {
	uint32_t ok;
	struct addr a;
};

struct svc_conn {
	int fd;
	char authed[IPC_USER_MAX + 1];	/* verified here, for LOOKUP */
	void *sasl;			/* the SASL exchange, if any */
	int sasl_active;
};

struct authsvc {
	const struct config *cfg;
	const struct pop23d_auth_ops *ops;
	int blocking;
	uid_t peer_uid;			/* who may connect */
	struct penalty pen;
	int note_fd;			/* worker -> service penalty notes */
	int is_worker;
	size_t workers;
	int pool_fd;			/* pool worker: to the supervisor */
	int listen_fd;			/* for the pool workers */
};

static volatile sig_atomic_t svc_stop, svc_chld;

static void
svc_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		svc_stop = 1;
	else if (sig == SIGCHLD)
		svc_chld = 1;
}

/* ------------------------------------------------------------- checks */

/* A NUL-terminated string within its field. */
static int
field_ok(const char *f, size_t size)
{
	return memchr(f, '\0', size) != NULL;
}

/* utf8_user of the configuration this service runs with (set once in
 * authsvc_serve(); a reload starts a new service). */
static int user_utf8;

/* A user name: not empty, no space or control character, printable
 * ASCII or, with utf8_user, well-formed UTF-8 (RFC 6856; i18n.h). */
static int
user_ok(const char *u)
{
	return u[0] != '\0' && strlen(u) <= IPC_USER_MAX &&
	    i18n_name_ok(u, user_utf8);
}

/* RFC 4422 section 3.1: 1-20 of A-Z 0-9 - _ (upper case by now). */
static int
mech_ok(const char *m)
{
	size_t n = strlen(m), i;

	if (n == 0 || n > AUTHSVC_MECH_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((m[i] >= 'A' && m[i] <= 'Z') ||
		    (m[i] >= '0' && m[i] <= '9') || m[i] == '-' ||
		    m[i] == '_'))
			return 0;
	return 1;
}

static int
conn_ok(const struct authsvc_conn *c)
{
	return field_ok(c->service, sizeof(c->service)) &&
	    (strcmp(c->service, "pop3") == 0 ||
	    strcmp(c->service, "pop2") == 0) &&
	    field_ok(c->remote_ip, sizeof(c->remote_ip)) &&
	    proto_printable(c->remote_ip) &&
	    field_ok(c->local_ip, sizeof(c->local_ip)) &&
	    proto_printable(c->local_ip) &&
	    c->remote_port <= 65535 && c->local_port <= 65535 &&
	    field_ok(c->tls_peer_cn, sizeof(c->tls_peer_cn)) &&
	    proto_printable(c->tls_peer_cn) &&
	    c->secured <= 1 && c->plaintext_ok <= 1;
}

static void
conn_info(const struct authsvc_conn *c, struct pop23d_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->service = c->service;
	ci->remote_ip = c->remote_ip;
	ci->local_ip = c->local_ip;
	ci->remote_port = c->remote_port;
	ci->local_port = c->local_port;
	ci->secured = (int)c->secured;
	ci->plaintext_ok = (int)c->plaintext_ok;
	ci->tls_peer_cn = c->tls_peer_cn;
}

/* The client address of a request (AF_UNSPEC if there is none). */
static void
conn_addr(const struct authsvc_conn *c, struct addr *a)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(a, 0, sizeof(*a));
	a->family = AF_UNSPEC;
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, c->remote_ip, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		addr_from_sockaddr((struct sockaddr *)&sin, sizeof(sin), a);
	} else if (inet_pton(AF_INET6, c->remote_ip, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		addr_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), a);
	}
}

/* ------------------------------------------------------------ penalty */

static void
svc_note(struct authsvc *svc, const struct addr *a, int ok)
{
	struct authsvc_note n;

	if (!svc->is_worker || svc->note_fd == -1)
		return;
	memset(&n, 0, sizeof(n));
	n.ok = (uint32_t)ok;
	n.a = *a;
	/* Lost only if the service is gone: then so is its table. */
	(void)send(svc->note_fd, &n, sizeof(n), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A verdict on credentials: count it against the client's address. */
static void
svc_verdict(struct authsvc *svc, const struct authsvc_conn *c,
    struct authsvc_reply *rep, int counts)
{
	struct addr a;

	conn_addr(c, &a);
	if (svc->pool_fd != -1) {
		/* A pool worker: the table is the supervisor's. */
		if (rep->result == POP23D_OK)
			authpool_ok(svc->pool_fd, &a);
		else if (counts)
			rep->penalty_ms = authpool_fail(svc->pool_fd, &a,
			    (uint32_t)(svc->cfg->auth_failure_delay_max_ms >
			    svc->cfg->auth_failure_delay_ms ?
			    svc->cfg->auth_failure_delay_max_ms :
			    svc->cfg->auth_failure_delay_ms));
		else
			rep->penalty_ms =
			    (uint32_t)svc->cfg->auth_failure_delay_ms;
		return;
	}
	if (rep->result == POP23D_OK) {
		penalty_ok(&svc->pen, &a);
		svc_note(svc, &a, 1);
	} else if (counts) {
		rep->penalty_ms = penalty_fail(&svc->pen, &a, time(NULL));
		svc_note(svc, &a, 0);
	} else
		rep->penalty_ms = (uint32_t)svc->cfg->auth_failure_delay_ms;
}

static void
svc_read_notes(struct authsvc *svc)
{
	struct authsvc_note n;

	while (recv(svc->note_fd, &n, sizeof(n), MSG_DONTWAIT) ==
	    (ssize_t)sizeof(n)) {
		if (n.a.family != AF_INET && n.a.family != AF_INET6)
			continue;
		if (n.ok)
			penalty_ok(&svc->pen, &n.a);
		else
			(void)penalty_fail(&svc->pen, &n.a, time(NULL));
	}
}

/* ---------------------------------------------------------------- ops */

static void
sasl_drop(struct authsvc *svc, struct svc_conn *sc)
{
	if (sc->sasl_active && svc->ops->sasl_end != NULL)
		svc->ops->sasl_end(sc->sasl);
	sc->sasl = NULL;
	sc->sasl_active = 0;
}

/* After a SASL result: the challenge, or the identity. */
static void
sasl_result(struct authsvc *svc, struct svc_conn *sc, enum pop23d_result r,
    const unsigned char *out, size_t out_len, const char *user,
    struct authsvc_reply *rep)
{
	if (r == POP23D_CONTINUE) {
		if (out_len > sizeof(rep->out) || (out == NULL && out_len > 0)) {
			log_warnx("plugin %s: SASL challenge of %zu octets "
			    "(at most %zu)", "auth", out_len,
			    sizeof(rep->out));
			r = POP23D_TEMPFAIL;
		} else {
			if (out_len > 0)
				memcpy(rep->out, out, out_len);
			rep->out_len = (uint32_t)out_len;
		}
	} else if (r == POP23D_OK) {
		if (!user_ok(user)) {
			log_warnx("SASL identity is not a usable user name");
			r = POP23D_PERMFAIL;
		} else {
			strlcpy(rep->user, user, sizeof(rep->user));
			strlcpy(sc->authed, user, sizeof(sc->authed));
		}
	} else if (r != POP23D_FAIL && r != POP23D_NOUSER &&
	    r != POP23D_TEMPFAIL && r != POP23D_PERMFAIL)
		r = POP23D_TEMPFAIL;	/* not a result an op may give */
	if (r != POP23D_CONTINUE)
		sasl_drop(svc, sc);
	rep->result = (uint32_t)r;
}

static void
op_sasl(struct authsvc *svc, struct svc_conn *sc,
    const struct authsvc_req *req, struct authsvc_reply *rep)
{
	const struct pop23d_auth_ops *ops = svc->ops;
	struct pop23d_conn_info ci;
	const unsigned char *out = NULL;
	size_t out_len = 0;
	char user[IPC_USER_MAX + 1] = "";
	enum pop23d_result r;
	void *state = NULL;

	if (ops->sasl_start == NULL || ops->sasl_step == NULL ||
	    ops->sasl_end == NULL) {
		rep->result = POP23D_PERMFAIL;
		return;
	}
	if (req->op == AUTHSVC_SASL_START) {
		sasl_drop(svc, sc);
		sc->authed[0] = '\0';
		if (!conn_ok(&req->conn) || !field_ok(req->mech,
		    sizeof(req->mech)) || !mech_ok(req->mech) ||
		    req->has_in > 1) {
			rep->result = POP23D_PERMFAIL;
			return;
		}
		conn_info(&req->conn, &ci);
		r = ops->sasl_start(req->mech, &ci,
		    req->has_in ? req->in : NULL, req->in_len, &state, &out,
		    &out_len, user, sizeof(user));
		sc->sasl = state;
		sc->sasl_active = 1;	/* sasl_end() even for NULL */
	} else {
		if (!sc->sasl_active) {
			rep->result = POP23D_FAIL;
			return;
		}
		r = ops->sasl_step(sc->sasl, req->in, req->in_len, &out,
		    &out_len, user, sizeof(user));
	}
	user[sizeof(user) - 1] = '\0';
	sasl_result(svc, sc, r, out, out_len, user, rep);
	explicit_bzero(user, sizeof(user));
}

static void
op_lookup(struct authsvc *svc, struct svc_conn *sc,
    const struct authsvc_req *req, struct authsvc_reply *rep)
{
	struct pop23d_identity id;
	enum pop23d_result r;

	/* Only the identity this connection has just proved. */
	if (sc->authed[0] == '\0' || strcmp(req->user, sc->authed) != 0) {
		rep->result = POP23D_FAIL;
		return;
	}
	sc->authed[0] = '\0';
	memset(&id, 0, sizeof(id));
	id.uid = (uid_t)-1;
	id.gid = (gid_t)-1;
	r = svc->ops->lookup(req->user, &id);
	rep->result = (uint32_t)r;
	if (r != POP23D_OK)
		return;
	id.home[sizeof(id.home) - 1] = '\0';
	id.maildrop[sizeof(id.maildrop) - 1] = '\0';
	rep->uid_set = id.uid != (uid_t)-1;
	rep->gid_set = id.gid != (gid_t)-1;
	rep->uid = (uint32_t)id.uid;
	rep->gid = (uint32_t)id.gid;
	strlcpy(rep->home, id.home, sizeof(rep->home));
	strlcpy(rep->maildrop, id.maildrop, sizeof(rep->maildrop));
}

/* PLAIN and APOP: one round. */
static void
op_verify(struct authsvc *svc, struct svc_conn *sc,
    const struct authsvc_req *req, struct authsvc_reply *rep)
{
	const struct pop23d_auth_ops *ops = svc->ops;
	char secret[IPC_SECRET_MAX + 1];
	enum pop23d_result r = POP23D_FAIL;

	sasl_drop(svc, sc);
	sc->authed[0] = '\0';
	if (!user_ok(req->user) || req->in_len == 0 ||
	    req->in_len > IPC_SECRET_MAX ||
	    memchr(req->in, '\0', req->in_len) != NULL)
		goto out;
	memcpy(secret, req->in, req->in_len);
	secret[req->in_len] = '\0';
	if (req->op == AUTHSVC_PLAIN)
		r = ops->verify_plain(req->user, secret);
	else if (ops->verify_apop != NULL &&
	    field_ok(req->challenge, sizeof(req->challenge)) &&
	    req->challenge[0] == '<' && proto_printable(req->challenge))
		r = ops->verify_apop(req->user, req->challenge, secret);
	explicit_bzero(secret, sizeof(secret));
	if (r == POP23D_OK)
		strlcpy(sc->authed, req->user, sizeof(sc->authed));
	else if (r != POP23D_FAIL && r != POP23D_NOUSER &&
	    r != POP23D_TEMPFAIL && r != POP23D_PERMFAIL)
		r = POP23D_TEMPFAIL;
out:
	rep->result = (uint32_t)r;
}

/* Answer one request.  The request holds a secret: wiped by the caller. */
static void
svc_handle(struct authsvc *svc, struct svc_conn *sc,
    const struct authsvc_req *req, struct authsvc_reply *rep)
{
	struct pop23d_conn_info ci;
	const char *m;
	int fields;

	memset(rep, 0, sizeof(*rep));
	fields = field_ok(req->user, sizeof(req->user)) &&
	    field_ok(req->mech, sizeof(req->mech)) &&
	    field_ok(req->challenge, sizeof(req->challenge)) &&
	    req->in_len <= sizeof(req->in) && conn_ok(&req->conn);
	switch (req->op) {
	case AUTHSVC_MECHS:
		rep->result = POP23D_OK;
		if (!fields || svc->ops->sasl_mechs == NULL)
			break;
		conn_info(&req->conn, &ci);
		if ((m = svc->ops->sasl_mechs(&ci)) == NULL)
			break;
		if (strlen(m) >= sizeof(rep->mechs) || !proto_printable(m)) {
			log_warnx("SASL mechanism list too long or not "
			    "printable: not offered");
			break;
		}
		strlcpy(rep->mechs, m, sizeof(rep->mechs));
		break;
	case AUTHSVC_PLAIN:
	case AUTHSVC_APOP:
		if (fields)
			op_verify(svc, sc, req, rep);
		else
			rep->result = POP23D_FAIL;
		svc_verdict(svc, &req->conn, rep,
		    rep->result == POP23D_FAIL ||
		    rep->result == POP23D_NOUSER);
		break;
	case AUTHSVC_SASL_START:
	case AUTHSVC_SASL_STEP:
		if (fields)
			op_sasl(svc, sc, req, rep);
		else {
			sasl_drop(svc, sc);
			rep->result = POP23D_PERMFAIL;
		}
		if (rep->result != POP23D_CONTINUE)
			svc_verdict(svc, &req->conn, rep,
			    rep->result != POP23D_TEMPFAIL);
		break;
	case AUTHSVC_SASL_END:
		sasl_drop(svc, sc);
		rep->result = POP23D_OK;
		break;
	case AUTHSVC_LOOKUP:
		if (fields && user_ok(req->user))
			op_lookup(svc, sc, req, rep);
		else
			rep->result = POP23D_FAIL;
		break;
	default:
		rep->result = POP23D_PERMFAIL;
		break;
	}
}

/* One request from SC's monitor: 0, or -1 to close the connection. */
static int
svc_serve_one(struct authsvc *svc, struct svc_conn *sc, int64_t deadline)
{
	struct authsvc_req *req;
	struct authsvc_reply *rep;
	int rc = -1;

	if ((req = calloc(1, sizeof(*req))) == NULL ||
	    (rep = calloc(1, sizeof(*rep))) == NULL) {
		free(req);
		return -1;
	}
	if (ipc_recv(sc->fd, IPC_AUTH_REQ, req, sizeof(*req), deadline) == 0) {
		svc_handle(svc, sc, req, rep);
		rc = ipc_send(sc->fd, IPC_AUTH_REPLY, rep, sizeof(*rep));
	}
	explicit_bzero(req, sizeof(*req));
	explicit_bzero(rep, sizeof(*rep));
	free(req);
	free(rep);
	return rc;
}

static void
svc_close(struct authsvc *svc, struct svc_conn *sc)
{
	sasl_drop(svc, sc);
	close(sc->fd);
	explicit_bzero(sc, sizeof(*sc));
	sc->fd = -1;
}

/* ---------------------------------------------------------- the loops */

/* A worker: serve one monitor until it closes, then exit. */
static void __attribute__((noreturn))
svc_worker(struct authsvc *svc, int fd)
{
	struct svc_conn sc;

	memset(&sc, 0, sizeof(sc));
	sc.fd = fd;
	svc->is_worker = 1;
	while (svc_serve_one(svc, &sc, 0) == 0)
		;
	svc_close(svc, &sc);
	_exit(0);
}

/* Only root (the monitors) may talk to us; rootless: our own uid. */
static int
svc_peer_ok(struct authsvc *svc, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
	    len != sizeof(uc)) {
		log_warn("auth service: SO_PEERCRED");
		return 0;
	}
	if (uc.uid != svc->peer_uid) {
		log_warnx("auth service: refused a connection from uid %ld "
		    "pid %ld", (long)uc.uid, (long)uc.pid);
		return 0;
	}
	return 1;
}

static void
svc_reap(struct authsvc *svc)
{
	int status;

	while (waitpid(-1, &status, WNOHANG) > 0)
		if (svc->workers > 0)
			svc->workers--;
}

static void
svc_accept(struct authsvc *svc, int listen_fd, struct svc_conn *conns,
    size_t *n_conns, int note_peer)
{
	pid_t pid;
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("auth service: accept");
		return;
	}
	if (!svc_peer_ok(svc, fd)) {
		close(fd);
		return;
	}
	if (!svc->blocking) {
		if (svc->pool_fd != -1)
			log_debug("auth worker: serving a monitor");
		memset(&conns[*n_conns], 0, sizeof(conns[*n_conns]));
		conns[(*n_conns)++].fd = fd;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("auth service: fork");
		close(fd);
		return;
	}
	if (pid == 0) {
		close(listen_fd);
		if (svc->note_fd != -1)
			close(svc->note_fd);
		svc->note_fd = note_peer;
		svc_worker(svc, fd);
	}
	svc->workers++;
	close(fd);
}

static void __attribute__((noreturn))
svc_loop(struct authsvc *svc, int listen_fd)
{
	static struct svc_conn conns[AUTHSVC_CONNS_MAX];
	struct pollfd pfd[AUTHSVC_CONNS_MAX + 2];
	size_t n_conns = 0, i, np;
	int notes[2] = { -1, -1 };
	int n;

	if (svc->blocking) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    notes) != 0)
			fatal("auth service: socketpair");
		svc->note_fd = notes[0];
	}
	for (;;) {
		if (svc_chld) {
			svc_chld = 0;
			svc_reap(svc);
		}
		if (svc_stop && listen_fd != -1) {
			/* Stop taking monitors; serve those we have. */
			close(listen_fd);
			listen_fd = -1;
		}
		if (listen_fd == -1 && n_conns == 0 &&
		    (svc->workers == 0 || svc_stop))
			break;
		np = 0;
		pfd[np].fd = -1;
		if (listen_fd != -1 && n_conns < AUTHSVC_CONNS_MAX &&
		    svc->workers < AUTHSVC_WORKERS_MAX)
			pfd[np].fd = listen_fd;
		pfd[np++].events = POLLIN;
		pfd[np].fd = svc->note_fd;
		pfd[np++].events = POLLIN;
		for (i = 0; i < n_conns; i++) {
			pfd[np].fd = conns[i].fd;
			pfd[np++].events = POLLIN;
		}
		n = poll(pfd, np, 1000);
		if (n == -1 && errno != EINTR)
			fatal("auth service: poll");
		if (n <= 0)
			continue;
		if (pfd[1].fd != -1 && (pfd[1].revents & POLLIN))
			svc_read_notes(svc);
		/* Connections first, from the end, so removing one by
		 * moving the last into its slot skips nothing. */
		for (i = n_conns; i-- > 0;) {
			if (pfd[i + 2].revents == 0)
				continue;
			if (svc_serve_one(svc, &conns[i],
			    deadline_now() + AUTHSVC_REPLY_TIMEOUT_MS) != 0) {
				svc_close(svc, &conns[i]);
				conns[i] = conns[--n_conns];
			}
		}
		if (pfd[0].fd != -1 && (pfd[0].revents & POLLIN))
			svc_accept(svc, listen_fd, conns, &n_conns, notes[1]);
	}
	log_info("auth service stopped");
	_exit(0);
}

/* A pool worker (authpool.c): the loop of a service without workers,
 * its penalty verdicts sent to the supervisor. */
static void
svc_pool_worker(void *arg, int chan_fd)
{
	struct authsvc *svc = arg;

	svc->pool_fd = chan_fd;
	log_set_session("auth-worker");
	svc_loop(svc, svc->listen_fd);
}

/*
 * Before the pool forks: a plugin that reads its tables on first use
 * (auth_passwdfile) reads them here, once, so that the workers share
 * them copy-on-write.  "" is never a user name (user_ok()): the plugin
 * answers NOUSER (doc/PLUGINS.md, lookup).
 */
static void
svc_preload(struct authsvc *svc)
{
	struct pop23d_identity id;

	memset(&id, 0, sizeof(id));
	(void)svc->ops->lookup("", &id);
	explicit_bzero(&id, sizeof(id));
}

void
authsvc_serve(int listen_fd, int conn_fd, pid_t parent,
    const struct config *cfg, struct loaded_plugin *auth)
{
	static struct authsvc svc;
	struct sigaction sa;
	const char *error;
	int root = priv_is_root();
	unsigned flags = 0;
	int pool;

	memset(&svc, 0, sizeof(svc));
	svc.cfg = cfg;
	user_utf8 = cfg->utf8_user;
	svc.ops = &auth->auth;
	svc.note_fd = -1;
	svc.pool_fd = -1;
	svc.listen_fd = listen_fd;
	if (auth->desc != NULL && auth->desc->api_built >= 4)
		flags = auth->desc->flags;
	svc.blocking = (flags & POP23D_PLUGIN_F_BLOCKING) != 0 && conn_fd == -1;
	svc.peer_uid = root ? 0 : getuid();
	penalty_init(&svc.pen, cfg->per_ip_prefix4, cfg->per_ip_prefix6,
	    (uint32_t)cfg->auth_failure_delay_ms,
	    (uint32_t)cfg->auth_failure_delay_max_ms);
	log_set_session("auth");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = svc_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);

	if (root && !(flags & POP23D_PLUGIN_F_NEEDS_ROOT)) {
		if (priv_drop(cfg->auth_uid, cfg->auth_gid, NULL) != 0)
			_exit(1);
		if (priv_harden_session(&error) != 0) {	/* NO_NEW_PRIVS */
			log_warnx("auth service hardening: %s", error);
			_exit(1);
		}
	}
#ifdef PR_SET_PDEATHSIG
	/* Die with the master (or, inetd mode, the monitor); set after the
	 * drop, which clears it.  PARENT was taken before the fork: a
	 * master that died while this process loaded its plugin has made
	 * getppid() 1 (or a subreaper), and the service exits here instead
	 * of outliving it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(1);
#endif
	/* auth_workers: 1 is the service alone (inetd mode too). */
	pool = svc.blocking || conn_fd != -1 ? 1 :
	    authpool_size(cfg->auth_workers);
	log_debug("auth service: plugin %s, running as uid %ld%s",
	    auth->desc != NULL ? auth->desc->name : "?", (long)geteuid(),
	    svc.blocking ? ", a worker per monitor" : pool > 1 ?
	    ", a pool of workers" : "");
	if (conn_fd != -1) {
		/* inetd mode: one monitor, then done. */
		struct svc_conn sc;

		memset(&sc, 0, sizeof(sc));
		sc.fd = conn_fd;
		while (svc_serve_one(&svc, &sc, 0) == 0)
			;
		svc_close(&svc, &sc);
		_exit(0);
	}
	if (pool > 1) {
		svc_preload(&svc);
		authpool_run(pool, &svc.pen, listen_fd, svc_pool_worker, &svc,
		    &svc_stop, &svc_chld);
	}
	svc_loop(&svc, listen_fd);
}
