/*
 * login.c - the pre-auth child's side of a login (see login.h): one
 * IPC_LOGIN record to the monitor per attempt, the verdict back, and the
 * hand-over of the client's unparsed input after an OK.  The monitor side
 * is in session.c.
 *
 * PRIVILEGE: the pre-auth child (login_user, chrooted); it holds the
 * client's secret only until the record is sent, then wipes it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "compat.h"
#include "ipc.h"
#include "log.h"
#include "login.h"
#include "net.h"
#include "tls.h"

static enum pop23d_result login_verdict(struct client *c,
    enum pop23d_result r, const struct ipc_verdict *v,
    struct login_challenge *challenge_r);

/* The SASL mechanism list (login_mechs()), and the plaintext answer it
 * was asked with: TLS may change it, and then the list. */
static char login_mech_list[IPC_CHALLENGE_MAX + 1];
static int login_have_mechs, login_mechs_plaintext, login_mechs_secured;

enum pop23d_result
login_start(struct client *c, enum login_mech mech, void *data, size_t len,
    struct login_challenge *challenge_r)
{
	struct ipc_login *req;
	struct ipc_verdict v;
	enum pop23d_result r = POP23D_TEMPFAIL;

	memset(&v, 0, sizeof(v));
	if (len > sizeof(req->data)) {
		/* Too long to be right: the monitor gets an empty record,
		 * a failure it logs and delays like any other. */
		explicit_bzero(data, len);
		len = 0;
	}
	/* Whatever we queued (e.g. "+OK" to a pipelined USER) goes first. */
	if (net_flush(&c->net) != 0 ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		explicit_bzero(data, len);
		return POP23D_TEMPFAIL;
	}
	req->mech = (uint32_t)mech;
	req->secured = c->secured ? 1 : 0;
	req->plaintext_ok = login_plaintext_ok(c) ? 1 : 0;
	req->len = (uint32_t)len;
	if (c->tls != NULL)
		strlcpy(req->tls_peer, tls_conn_peer(c->tls),
		    sizeof(req->tls_peer));
	memcpy(req->data, data, len);
	explicit_bzero(data, len);
	if (ipc_send(c->ipc_fd, IPC_LOGIN, req, sizeof(*req)) == 0 &&
	    ipc_recv(c->ipc_fd, IPC_VERDICT, &v, sizeof(v), 0) == 0)
		r = (enum pop23d_result)v.result;
	explicit_bzero(req, sizeof(*req));
	free(req);
	return login_verdict(c, r, &v, challenge_r);
}

/* The monitor's verdict V (R: its result, or TEMPFAIL if none came). */
static enum pop23d_result
login_verdict(struct client *c, enum pop23d_result r,
    const struct ipc_verdict *v, struct login_challenge *challenge_r)
{
	switch (r) {
	case POP23D_OK:
		return r;
	case POP23D_CONTINUE:
		if (challenge_r == NULL ||
		    v->challenge_len > sizeof(v->challenge)) {
			log_warnx("login: unexpected continuation from the "
			    "monitor");
			r = POP23D_TEMPFAIL;
			break;
		}
		challenge_r->len = v->challenge_len;
		memcpy(challenge_r->data, v->challenge, v->challenge_len);
		return r;
	case POP23D_FAIL:
	case POP23D_NOUSER:
	case POP23D_TEMPFAIL:
	case POP23D_PERMFAIL:
		break;
	default:
		r = POP23D_TEMPFAIL;	/* the monitor never sends these */
		break;
	}
	c->login_checks++;
	return r;
}

/* Copy S (with its NUL) to *P; 0, or -1 if it is longer than MAX. */
static int
put_field(unsigned char **p, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return -1;
	memcpy(*p, s, n + 1);
	*p += n + 1;
	return 0;
}

enum pop23d_result
login_plain(struct client *c, const char *user, char *password)
{
	unsigned char msg[IPC_LOGIN_DATA_MAX], *p = msg;
	enum pop23d_result r;

	/* RFC 4616: empty authzid, authcid, password (no NUL after it). */
	*p++ = '\0';
	if (put_field(&p, user, IPC_USER_MAX) == -1 ||
	    put_field(&p, password, IPC_SECRET_MAX) == -1) {
		/* Too long: an empty record, failed by the monitor. */
		explicit_bzero(password, strlen(password));
		explicit_bzero(msg, sizeof(msg));
		return login_start(c, LOGIN_MECH_PLAIN, msg, 0, NULL);
	}
	explicit_bzero(password, strlen(password));
	r = login_start(c, LOGIN_MECH_PLAIN, msg, (size_t)(p - msg) - 1,
	    NULL);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

enum pop23d_result
login_apop(struct client *c, const char *user, char *digest)
{
	unsigned char msg[IPC_LOGIN_DATA_MAX], *p = msg;
	enum pop23d_result r;

	if (put_field(&p, user, IPC_USER_MAX) == -1 ||
	    put_field(&p, digest, IPC_SECRET_MAX) == -1) {
		explicit_bzero(digest, strlen(digest));
		explicit_bzero(msg, sizeof(msg));
		return login_start(c, LOGIN_MECH_APOP, msg, 0, NULL);
	}
	explicit_bzero(digest, strlen(digest));
	r = login_start(c, LOGIN_MECH_APOP, msg, (size_t)(p - msg) - 1, NULL);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

enum pop23d_result
login_sasl(struct client *c, const char *mech, unsigned char *in, size_t len,
    struct login_challenge *challenge_r)
{
	unsigned char msg[IPC_LOGIN_DATA_MAX];
	size_t n = strlen(mech);
	enum pop23d_result r;

	/* MECH NUL flag response: fits, the AUTH line is 255 octets. */
	if (n + 2 + len > sizeof(msg)) {
		if (in != NULL)
			explicit_bzero(in, len);
		return login_start(c, LOGIN_MECH_SASL, msg, 0, NULL);
	}
	memcpy(msg, mech, n + 1);
	msg[n + 1] = in != NULL ? '1' : '0';
	if (in != NULL && len > 0) {
		memcpy(msg + n + 2, in, len);
		explicit_bzero(in, len);
	}
	r = login_start(c, LOGIN_MECH_SASL, msg, n + 2 + (in != NULL ? len :
	    0), challenge_r);
	explicit_bzero(msg, sizeof(msg));
	return r;
}

enum pop23d_result
login_step(struct client *c, unsigned char *in, size_t len, int cancel,
    struct login_challenge *challenge_r)
{
	struct ipc_login_step *st;
	struct ipc_verdict v;
	enum pop23d_result r = POP23D_TEMPFAIL;

	memset(&v, 0, sizeof(v));
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		explicit_bzero(in, len);
		return login_verdict(c, r, &v, challenge_r);
	}
	st->cancel = cancel ? 1 : 0;
	if (!cancel && len <= sizeof(st->data)) {
		st->len = (uint32_t)len;
		memcpy(st->data, in, len);
	} else if (!cancel)
		st->cancel = 1;	/* cannot happen: the line is bounded */
	explicit_bzero(in, len);
	if (ipc_send(c->ipc_fd, IPC_LOGIN_STEP, st, sizeof(*st)) == 0 &&
	    ipc_recv(c->ipc_fd, IPC_VERDICT, &v, sizeof(v), 0) == 0)
		r = (enum pop23d_result)v.result;
	explicit_bzero(st, sizeof(*st));
	free(st);
	return login_verdict(c, r, &v, challenge_r);
}

const char *
login_mechs(struct client *c)
{
	struct ipc_login *req;
	struct ipc_verdict v;

	if (login_have_mechs &&
	    login_mechs_plaintext == (login_plaintext_ok(c) ? 1 : 0) &&
	    login_mechs_secured == (c->secured ? 1 : 0))
		return login_mech_list;
	login_have_mechs = 0;
	login_mech_list[0] = '\0';
	if ((req = calloc(1, sizeof(*req))) == NULL)
		return "";
	req->mech = LOGIN_MECH_LIST;
	req->secured = c->secured ? 1 : 0;
	req->plaintext_ok = login_plaintext_ok(c) ? 1 : 0;
	/* a verified client certificate makes SASL EXTERNAL possible */
	if (c->tls != NULL)
		strlcpy(req->tls_peer, tls_conn_peer(c->tls),
		    sizeof(req->tls_peer));
	memset(&v, 0, sizeof(v));
	if (net_flush(&c->net) == 0 &&
	    ipc_send(c->ipc_fd, IPC_LOGIN, req, sizeof(*req)) == 0 &&
	    ipc_recv(c->ipc_fd, IPC_VERDICT, &v, sizeof(v), 0) == 0 &&
	    v.result == POP23D_OK && v.challenge_len < sizeof(v.challenge)) {
		memcpy(login_mech_list, v.challenge, v.challenge_len);
		login_mech_list[v.challenge_len] = '\0';
		login_have_mechs = 1;
		login_mechs_plaintext = req->plaintext_ok ? 1 : 0;
		login_mechs_secured = req->secured ? 1 : 0;
	}
	free(req);
	return login_mech_list;
}

int
login_plaintext_ok(const struct client *c)
{
	if (c->secured)
		return 1;
	/* RFC 2595 section 2.4 leaves the policy to the site; RFC 8314
	 * section 4 asks for no cleartext secrets on the network. */
	if (c->tls_mode == TLS_MODE_REQUIRED)
		return 0;
	switch (c->cfg->plaintext_auth) {
	case PLAINTEXT_YES:
		return 1;
	case PLAINTEXT_LOOPBACK:
		return c->loopback;
	default:
		return 0;
	}
}

int
login_stls_offered(const struct client *c)
{
	return !c->secured && c->tls == NULL &&
	    (c->tls_mode == TLS_MODE_OPTIONAL ||
	    c->tls_mode == TLS_MODE_REQUIRED) && tls_enabled();
}

int
login_exhausted(const struct client *c)
{
	return c->login_checks >= c->cfg->max_auth_failures;
}

int
login_handover(struct client *c)
{
	struct ipc_handover *h;
	const void *input;
	size_t len;
	int rc;

	input = net_pending(&c->net, &len);
	if (len > sizeof(h->input) || (h = calloc(1, sizeof(*h))) == NULL)
		return -1;	/* cannot happen: the input buffer is smaller */
	memcpy(h->input, input, len);
	h->len = (uint32_t)len;
	h->flags = c->utf8 ? IPC_HANDOVER_UTF8 : 0;
	if (c->tls != NULL) {
		/* We stay, as the TLS proxy of the session (session.c). */
		h->flags |= IPC_HANDOVER_PROXY;
		strlcpy(h->tls_info, tls_conn_info(c->tls),
		    sizeof(h->tls_info));
	}
	rc = ipc_send(c->ipc_fd, IPC_HANDOVER, h, sizeof(*h));
	explicit_bzero(h, sizeof(*h));
	free(h);
	return rc;
}
