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

enum pop23d_result
login_start(struct client *c, enum login_mech mech, void *data, size_t len,
    struct login_challenge *challenge_r)
{
	struct ipc_login *req;
	struct ipc_verdict v;
	enum pop23d_result r = POP23D_TEMPFAIL;

	memset(&v, 0, sizeof(v));
	if (len > sizeof(req->data)) {
		explicit_bzero(data, len);
		c->login_checks++;	/* refused here, counted the same */
		return POP23D_FAIL;
	}
	/* Whatever we queued (e.g. "+OK" to a pipelined USER) goes first. */
	if (net_flush(&c->net) != 0 ||
	    (req = calloc(1, sizeof(*req))) == NULL) {
		explicit_bzero(data, len);
		return POP23D_TEMPFAIL;
	}
	req->mech = (uint32_t)mech;
	req->len = (uint32_t)len;
	req->secured = c->secured ? 1 : 0;
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
	switch (r) {
	case POP23D_OK:
		return r;
	case POP23D_CONTINUE:
		if (challenge_r == NULL ||
		    v.challenge_len > sizeof(v.challenge)) {
			log_warnx("login: unexpected continuation from the "
			    "monitor");
			r = POP23D_TEMPFAIL;
			break;
		}
		challenge_r->len = v.challenge_len;
		memcpy(challenge_r->data, v.challenge, v.challenge_len);
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
		explicit_bzero(password, strlen(password));
		explicit_bzero(msg, sizeof(msg));
		c->login_checks++;	/* refused here, counted the same */
		return POP23D_FAIL;
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
		c->login_checks++;
		return POP23D_FAIL;
	}
	explicit_bzero(digest, strlen(digest));
	r = login_start(c, LOGIN_MECH_APOP, msg, (size_t)(p - msg) - 1, NULL);
	explicit_bzero(msg, sizeof(msg));
	return r;
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
	if (c->tls != NULL) {
		/* We stay, as the TLS proxy of the session (session.c). */
		h->flags = IPC_HANDOVER_PROXY;
		strlcpy(h->tls_info, tls_conn_info(c->tls),
		    sizeof(h->tls_info));
	}
	rc = ipc_send(c->ipc_fd, IPC_HANDOVER, h, sizeof(*h));
	explicit_bzero(h, sizeof(*h));
	free(h);
	return rc;
}
