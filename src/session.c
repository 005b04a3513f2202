/*
 * session.c - one connection: the monitor, the pre-auth child, and the
 * hand-over to the mail-user session.
 *
 * PRIVILEGE: session_run() starts as root (forked by the master).  It never
 * reads the client's socket while it is root: the pre-auth child does,
 * after priv_drop() to login_user inside login_chroot, and sends the
 * monitor typed, size-checked credentials.  The monitor checks them with
 * the auth plugin (root may be needed to read the password database), then
 * calls priv_drop() to the mail user and only then touches the socket and
 * the maildrop.  In rootless mode the same processes run as the invoking
 * user.
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

#include "compat.h"
#include "ipc.h"
#include "log.h"
#include "plugin.h"
#include "pop2.h"
#include "pop3.h"
#include "priv.h"
#include "proto.h"
#include "session.h"

static void
random_hex(char *out, size_t nbytes)
{
	unsigned char r[16];
	size_t i;

	if (nbytes > sizeof r)
		nbytes = sizeof r;
	if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
		/* Not a secret: only an id.  Fall back to time and pid. */
		unsigned long v = (unsigned long)time(NULL) ^
		    ((unsigned long)getpid() << 16);

		for (i = 0; i < nbytes; i++)
			r[i] = (unsigned char)(v >> (8 * (i % sizeof v)));
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

/* The session's sleep before a failure reply, so guessing is slow. */
static void
failure_delay(const struct config *cfg)
{
	struct timespec ts;

	if (cfg->auth_failure_delay_ms <= 0)
		return;
	ts.tv_sec = cfg->auth_failure_delay_ms / 1000;
	ts.tv_nsec = (long)(cfg->auth_failure_delay_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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

/*
 * Monitor side: check one IPC_AUTH request.  On success fills s->user,
 * s->ident, s->location, *uid_r and *gid_r.
 */
static enum pop23d_result
monitor_check(struct session *s, const struct loaded_plugin *auth,
    struct ipc_auth *a, uid_t *uid_r, gid_t *gid_r)
{
	const struct config *cfg = s->cfg;
	const struct pop23d_auth_ops *ops = &auth->auth;
	enum pop23d_result r;
	char esc[128];

	a->user[sizeof a->user - 1] = '\0';
	a->secret[sizeof a->secret - 1] = '\0';
	log_escape(a->user, strlen(a->user), esc, sizeof esc);
	if (a->user[0] == '\0' || !proto_printable(a->user) ||
	    strchr(a->user, ' ') != NULL) {
		r = POP23D_FAIL;
	} else if (a->kind == AUTH_KIND_PLAIN) {
		r = ops->verify_plain(a->user, a->secret);
	} else if (a->kind == AUTH_KIND_APOP && cfg->apop &&
	    s->apop_challenge[0] != '\0' && ops->verify_apop != NULL) {
		r = ops->verify_apop(a->user, s->apop_challenge, a->secret);
	} else {
		r = POP23D_FAIL;
	}
	explicit_bzero(a->secret, sizeof a->secret);
	if (r != POP23D_OK) {
		log_info("auth result=%s user=%s method=%s client=%s",
		    result_name(r), esc,
		    a->kind == AUTH_KIND_APOP ? "apop" : "plain", s->peer);
		return r;
	}
	memset(&s->ident, 0, sizeof s->ident);
	r = ops->lookup(a->user, &s->ident);
	if (r != POP23D_OK) {
		log_warnx("auth result=%s user=%s: lookup failed after a "
		    "good password", result_name(r), esc);
		return r == POP23D_NOUSER ? POP23D_PERMFAIL : r;
	}
	strlcpy(s->user, a->user, sizeof s->user);
	s->ident.home[sizeof s->ident.home - 1] = '\0';
	s->ident.maildrop[sizeof s->ident.maildrop - 1] = '\0';
	if (s->ident.maildrop[0] != '\0') {
		if (strlcpy(s->location, s->ident.maildrop,
		    sizeof s->location) >= sizeof s->location)
			return POP23D_PERMFAIL;
	} else if (expand_location(cfg->mail_location, s->user,
	    s->ident.home, s->location, sizeof s->location) != 0) {
		log_warnx("auth user=%s: mail_location does not give an "
		    "absolute path (home \"%s\")", esc, s->ident.home);
		return POP23D_PERMFAIL;
	}
	*uid_r = s->ident.uid != (uid_t)-1 ? s->ident.uid : cfg->virtual_uid;
	*gid_r = s->ident.gid != (gid_t)-1 ? s->ident.gid : cfg->virtual_gid;
	if (priv_is_root() && (*uid_r == 0 || *uid_r == (uid_t)-1 ||
	    *gid_r == 0 || *gid_r == (gid_t)-1)) {
		log_warnx("auth user=%s: no usable uid/gid (uid 0, gid 0 and "
		    "unset ids are refused; set virtual_uid/virtual_gid)", esc);
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}

enum pop23d_result
session_authenticate(struct session *s, enum auth_kind kind,
    const char *user, char *secret)
{
	struct ipc_auth *a;
	const void *left;
	size_t leftlen;
	uint32_t res;

	/* Whatever we queued (e.g. "+OK" to a pipelined USER) goes first. */
	if (net_flush(&s->net) != 0) {
		explicit_bzero(secret, strlen(secret));
		return POP23D_TEMPFAIL;
	}
	if ((a = calloc(1, sizeof *a)) == NULL) {
		explicit_bzero(secret, strlen(secret));
		return POP23D_TEMPFAIL;
	}
	a->kind = kind;
	if (strlcpy(a->user, user, sizeof a->user) >= sizeof a->user ||
	    strlcpy(a->secret, secret, sizeof a->secret) >= sizeof a->secret) {
		explicit_bzero(secret, strlen(secret));
		explicit_bzero(a, sizeof *a);
		free(a);
		return POP23D_FAIL;
	}
	explicit_bzero(secret, strlen(secret));
	left = net_pending(&s->net, &leftlen);
	if (leftlen > sizeof a->leftover)
		leftlen = sizeof a->leftover;	/* cannot happen: input cap */
	memcpy(a->leftover, left, leftlen);
	a->leftover_len = (uint32_t)leftlen;
	if (ipc_send(s->ipc_fd, IPC_AUTH, a, sizeof *a) != 0) {
		explicit_bzero(a, sizeof *a);
		free(a);
		return POP23D_TEMPFAIL;
	}
	explicit_bzero(a, sizeof *a);
	free(a);
	if (ipc_recv(s->ipc_fd, IPC_RESULT, &res, sizeof res) != 0)
		return POP23D_TEMPFAIL;
	if (res == POP23D_OK) {
		/* The monitor owns the connection from here on. */
		_exit(0);
	}
	if (res > POP23D_INUSE)
		return POP23D_TEMPFAIL;
	return (enum pop23d_result)res;
}

/* The pre-auth child: become login_user, speak until credentials. */
static void __attribute__((noreturn))
preauth_child(struct session *s, int rfd, int wfd, pid_t monitor)
{
	const struct config *cfg = s->cfg;
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
	net_init(&s->net, rfd, wfd, INPUT_BUF_MAX, cfg->write_timeout);
	if (s->proto == PROTO_POP3)
		pop3_preauth(s);
	else
		pop2_preauth(s);
	net_flush(&s->net);
	_exit(0);
}

void
session_run(int rfd, int wfd, const struct config *cfg, enum proto proto,
    struct loaded_plugin *auth, const struct loaded_plugin *store,
    const char *peer)
{
	struct session s;
	struct ipc_auth *a;
	int sv[2], status, failures = 0;
	pid_t child, monitor;
	char prefix[200];
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	s.proto = proto;
	random_hex(s.id, 4);
	strlcpy(s.peer, peer, sizeof s.peer);
	snprintf(prefix, sizeof prefix, "%s %s", s.id,
	    config_proto_name(proto));
	log_set_session(prefix);
	log_info("connect client=%s", peer);
	if (proto == PROTO_POP3 && cfg->apop) {
		char r[17];

		random_hex(r, 8);
		snprintf(s.apop_challenge, sizeof s.apop_challenge,
		    "<%ld.%s@%s>", (long)getpid(), r, cfg->hostname);
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("socketpair");
		_exit(1);
	}
	monitor = getpid();
	if ((child = fork()) == -1) {
		log_warn("fork");
		_exit(1);
	}
	if (child == 0) {
		close(sv[0]);
		s.ipc_fd = sv[1];
		preauth_child(&s, rfd, wfd, monitor);
	}
	close(sv[1]);

	/* Monitor: answer credential requests until one succeeds or the
	 * child goes away. */
	if ((a = calloc(1, sizeof *a)) == NULL)
		fatal("calloc");
	for (;;) {
		enum pop23d_result r;
		uint32_t res;

		if (ipc_recv(sv[0], IPC_AUTH, a, sizeof *a) != 0) {
			/* The child ended the session (QUIT, error, timeout)
			 * or sent garbage: either way we are done. */
			kill(child, SIGKILL);
			while (waitpid(child, &status, 0) == -1 &&
			    errno == EINTR)
				;
			log_info("disconnect client=%s result=nologin", peer);
			_exit(0);
		}
		r = monitor_check(&s, auth, a, &uid, &gid);
		if (r != POP23D_OK && r != POP23D_TEMPFAIL) {
			failure_delay(cfg);
			/* Counted here too: the child is not trusted to
			 * stop guessing after max_auth_failures. */
			if (++failures > cfg->max_auth_failures) {
				log_warnx("too many failed logins, closing");
				kill(child, SIGKILL);
				_exit(0);
			}
		}
		res = (uint32_t)r;
		if (r == POP23D_OK) {
			/* Stop the child before touching the socket. */
			ipc_send(sv[0], IPC_RESULT, &res, sizeof res);
			kill(child, SIGKILL);
			while (waitpid(child, &status, 0) == -1 &&
			    errno == EINTR)
				;
			break;
		}
		if (ipc_send(sv[0], IPC_RESULT, &res, sizeof res) != 0)
			_exit(0);
	}
	close(sv[0]);
	/* The session needs no credentials: unload the auth plugin (its
	 * destructor wipes what it read) and give the memory back. */
	plugin_unload(auth);
	malloc_trim(0);

	/* Become the mail user, then serve TRANSACTION and UPDATE. */
	if (priv_drop(uid, gid, NULL) != 0)
		_exit(1);
	{
		char esc[128];

		log_escape(s.user, strlen(s.user), esc, sizeof esc);
		snprintf(prefix, sizeof prefix, "%s %s user=%s", s.id,
		    config_proto_name(proto), esc);
		log_set_session(prefix);
	}
	log_info("login result=ok client=%s method=%s", peer,
	    a->kind == AUTH_KIND_APOP ? "apop" : "plain");
	s.store = &store->store;
	net_init(&s.net, rfd, wfd, INPUT_BUF_MAX, cfg->write_timeout);
	if (a->leftover_len > sizeof a->leftover ||
	    net_preload(&s.net, a->leftover, a->leftover_len) != 0) {
		log_warnx("bad hand-over from the pre-auth process");
		_exit(1);
	}
	explicit_bzero(a, sizeof *a);
	free(a);
	if (proto == PROTO_POP3)
		pop3_postauth(&s);
	else
		pop2_postauth(&s);
	net_flush(&s.net);
	net_free(&s.net);
	_exit(0);
}
