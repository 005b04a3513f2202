/*
 * tls.c - TLS with OpenSSL 3 (see tls.h): the server context the master
 * loads, the handshake and record I/O of the pre-auth child, the TLS
 * proxy that carries a logged-in session, and session tickets.
 *
 * The context.  TLS 1.2 at least (RFC 8996 retired 1.0 and 1.1; RFC 8314
 * section 4.1 asks for 1.2), otherwise OpenSSL's defaults and the
 * system's openssl.cnf (Debian: SECLEVEL 2): pop23d picks no ciphers of
 * its own.  No renegotiation.  A client certificate is asked for only
 * when tls_client_ca is set; one that does not verify fails nothing, its
 * name is just not passed on (tls_conn_peer()).  The CAs are loaded from
 * one file into memory: a CA directory would be opened at handshake time,
 * inside the sandbox, where open() kills.
 *
 * The private key.  The master reads the key file itself (open/read into
 * a buffer it wipes) and parses it from memory, so no stdio buffer holds
 * a copy.  Parsing a PEM key leaves copies of the private number in
 * blocks OpenSSL frees without clearing them (the DER and decoder
 * temporaries: measured, three copies of an EC scalar per load), so
 * tls_init_memory() makes OpenSSL's allocator wipe every block it frees
 * (malloc_usable_size() octets).  The context lives in the master and is
 * inherited by each monitor, which frees it (tls_forget()) right after
 * forking the pre-auth child and before it ever becomes the mail user:
 * every byte of the key is wiped then.  test_tls.py searches a live
 * session's memory for the key (and, as a control, the TLS proxy's, where
 * it must be found) and finds nothing.
 *
 * I/O.  The client socket is used through a small BIO of our own that
 * calls recv()/send() with MSG_DONTWAIT: the socket's file description
 * (shared with the monitor) stays blocking, no fcntl() is needed in the
 * sandbox, and every wait is a poll() with the phase's deadline, so a
 * client that stalls in the middle of a handshake or a record is timed
 * out like one that stalls in a command.
 *
 * Tickets.  Each connection is a new process, so a server-side session
 * cache would never be hit: resumption uses stateless tickets (RFC 5077,
 * RFC 8446 section 4.6.1), encrypted with AES-256-CBC and authenticated
 * with HMAC-SHA256 under a key the master makes, rotates every
 * tls_ticket_rotate seconds, and hands to every connection by fork().
 * The key before the current one still opens a ticket (which is then
 * renewed); anything older is a full handshake.
 *
 * PRIVILEGE: tls_server_load(), tls_server_install(),
 * tls_server_warm() and tls_tickets_tick() run as root in the master and only read the
 * administrator's files; tls_forget() runs as root in the monitor.
 * Everything that touches a client's bytes (tls_accept(), the record
 * layer, tls_proxy()) runs in the pre-auth child: login_user, chrooted,
 * under its seccomp filter.  Never as root, never as a mail user.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "compat.h"
#include "deadline.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "trust.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

/* A certificate or key file larger than this is not one (a chain of a
 * dozen 4096-bit certificates is under 30 KiB). */
#define TLS_FILE_MAX		(1024 * 1024)
/* Tickets per full handshake (TLS 1.3; OpenSSL's default is 2): a POP
 * client makes one connection at a time. */
#define TLS_TICKETS_PER_HANDSHAKE	1
/* Client certificate chains: leaf, intermediates, root. */
#define TLS_VERIFY_DEPTH	5
/* Proxy buffers, one per direction: one TLS record's payload. */
#define TLS_PROXY_BUF		16384
/* The session id context: resumption with a client certificate needs
 * one (SSL_CTX_set_session_id_context(3)). */
#define TLS_SID_CTX		"pop23d"

/* RFC 5077 section 4's recommended ticket protection. */
#define TLS_TICKET_NAME		16
#define TLS_TICKET_AES		32
#define TLS_TICKET_HMAC		32

struct tls_server {
	SSL_CTX *ctx;
	char desc[512];		/* for the log: subject, expiry */
};

struct tls_conn {
	SSL *ssl;
	struct net *net;
	int rfd, wfd;		/* the client socket (inetd: 0 and 1) */
	char info[TLS_INFO_MAX];
	char peer[TLS_PEER_MAX + 1];
	int resumed;
};

struct tls_ticket_key {
	int valid;
	unsigned char name[TLS_TICKET_NAME];
	unsigned char aes[TLS_TICKET_AES];
	unsigned char hmac[TLS_TICKET_HMAC];
};

/* The installed context, inherited by every process of a connection. */
static struct tls_server *tls_current;
/* [0] the current ticket key, [1] the one before it. */
static struct tls_ticket_key tls_keys[2];
static int64_t tls_keys_made;		/* deadline_now() of keys[0] */
static EVP_CIPHER *tls_ticket_cipher;
static BIO_METHOD *tls_bio_method;
/* The error text of the last failed call of this module. */
static char tls_errbuf[PATH_MAX + 256];

static int __attribute__((format(printf, 2, 3)))
tls_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tls_errbuf, sizeof tls_errbuf, fmt, ap);
	va_end(ap);
	*error_r = tls_errbuf;
	return -1;
}

/* OpenSSL's reason for the last failure (and clear its error queue). */
static const char *
tls_ossl_reason(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		strlcpy(buf, "unknown error", sizeof buf);
	else
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return buf;
}

/* ------------------------------------------------ OpenSSL's allocator */

/*
 * Whether tls_mem_free() wipes.  It must in every process whose memory
 * a later process inherits: the master (its forks become monitors, then
 * mail-user sessions) and the monitor (it frees the context before it
 * becomes the session).  The pre-auth child turns it off in tls_accept():
 * that process holds the private key and the connection's secrets by
 * design, forks nothing, and a block it frees can only be reused by
 * itself; its memory goes back to the kernel, which clears it, when it
 * exits.  Wiping there cost a fifth of a full handshake's instructions
 * (OpenSSL frees and reallocates its 17 KiB record buffers around every
 * record, SSL_MODE_RELEASE_BUFFERS) and dirtied pages the handshake never
 * touched (doc/PERFORMANCE.md, "TLS: counted per session").
 */
static int tls_wipe_frees = 1;

static void *
tls_mem_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

/* Wipe before free: no freed block keeps a key, a DER copy of one, or a
 * connection's secrets (file comment). */
static void
tls_mem_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p != NULL && tls_wipe_frees)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* realloc() may move the block and free the old one unwiped: move it
 * ourselves. */
static void *
tls_mem_realloc(void *p, size_t n, const char *file, int line)
{
	size_t old;
	void *q;

	if (p == NULL || !tls_wipe_frees)
		return realloc(p, n);
	if (n == 0) {
		tls_mem_free(p, file, line);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;	/* fits: the tail stays ours */
	if ((q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old);
	tls_mem_free(p, file, line);
	return q;
}

int
tls_init_memory(void)
{
	return CRYPTO_set_mem_functions(tls_mem_malloc, tls_mem_realloc,
	    tls_mem_free) == 1 ? 0 : -1;
}

/* ------------------------------------------------------------ the BIO */

/*
 * recv()/send() with MSG_DONTWAIT on the client socket (file comment);
 * the BIO's data is the struct tls_conn.  Reads go to its rfd, writes to
 * its wfd: in inetd mode the one socket is descriptors 0 and 1.  (Two
 * pipes fail here with ENOTSOCK: a wrapper on pipes does its own TLS.)
 */
static int
tls_bio_read(BIO *b, char *buf, int len)
{
	const struct tls_conn *c = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do {
		r = recv(c->rfd, buf, (size_t)len, MSG_DONTWAIT);
	} while (r == -1 && errno == EINTR);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)r;
}

static int
tls_bio_write(BIO *b, const char *buf, int len)
{
	const struct tls_conn *c = BIO_get_data(b);
	ssize_t r;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	do {
		r = send(c->wfd, buf, (size_t)len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (r == -1 && errno == EINTR);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)r;
}

static long
tls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* nothing is buffered here; everything else is "not supported" */
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
tls_bio_create(BIO *b)
{
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

/* The method, made once in the master (allocation only). */
static BIO_METHOD *
tls_bio_meth(void)
{
	BIO_METHOD *m;

	if (tls_bio_method != NULL)
		return tls_bio_method;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "pop23d client socket");
	if (m == NULL || BIO_meth_set_read(m, tls_bio_read) != 1 ||
	    BIO_meth_set_write(m, tls_bio_write) != 1 ||
	    BIO_meth_set_ctrl(m, tls_bio_ctrl) != 1 ||
	    BIO_meth_set_create(m, tls_bio_create) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return tls_bio_method = m;
}

/* ------------------------------------------------------------ tickets */

/*
 * Fill K with a new random key from the kernel; 0 or -1.  Not from
 * OpenSSL's DRBG: every monitor, and so every mail-user session, holds a
 * copy of the master's DRBG state from its fork, and could compute what
 * the master draws from it next, before a reseed.
 */
static int
tls_ticket_key_new(struct tls_ticket_key *k)
{
	if (getrandom(k->name, sizeof k->name, 0) != sizeof k->name ||
	    getrandom(k->aes, sizeof k->aes, 0) != sizeof k->aes ||
	    getrandom(k->hmac, sizeof k->hmac, 0) != sizeof k->hmac) {
		explicit_bzero(k, sizeof *k);
		return -1;
	}
	k->valid = 1;
	return 0;
}

static void
tls_tickets_rotate(void)
{
	struct tls_ticket_key k;

	if (tls_ticket_key_new(&k) != 0) {
		/* Keep the old key rather than none: resumption goes on. */
		log_warn("tls: cannot make a new ticket key");
		return;
	}
	tls_keys[1] = tls_keys[0];
	tls_keys[0] = k;
	explicit_bzero(&k, sizeof k);
	tls_keys_made = deadline_now();
	log_debug("tls: ticket key rotated");
}

int
tls_tickets_tick(int rotate_s)
{
	int64_t due, now;

	if (tls_current == NULL)
		return -1;
	now = deadline_now();
	due = tls_keys_made + (int64_t)rotate_s * 1000;
	if (!tls_keys[0].valid || now >= due) {
		tls_tickets_rotate();
		due = tls_keys_made + (int64_t)rotate_s * 1000;
	}
	if (due - now > INT32_MAX)
		return INT32_MAX;
	return due > now ? (int)(due - now) : 0;
}

/*
 * OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)),
 * in the pre-auth child.  ENC: seal a new ticket under the current key.
 * Else open one: 1 under the current key, 2 (open, then issue a new
 * ticket) under the previous one, 0 (a full handshake) under any other.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_ticket_key *k = NULL;
	OSSL_PARAM params[3];
	int i;

	(void)ssl;
	if (tls_ticket_cipher == NULL)
		return -1;
	if (enc) {
		k = &tls_keys[0];
		if (!k->valid)
			return 0;	/* no ticket */
		memcpy(name, k->name, TLS_TICKET_NAME);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(
		    tls_ticket_cipher)) != 1 ||
		    EVP_EncryptInit_ex2(ectx, tls_ticket_cipher, k->aes, iv,
		    NULL) != 1)
			return -1;
	} else {
		for (i = 0; i < 2; i++)
			if (tls_keys[i].valid && memcmp(name, tls_keys[i].name,
			    TLS_TICKET_NAME) == 0)
				k = &tls_keys[i];
		if (k == NULL)
			return 0;
		if (EVP_DecryptInit_ex2(ectx, tls_ticket_cipher, k->aes, iv,
		    NULL) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    (void *)(uintptr_t)k->hmac, sizeof k->hmac);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return enc || k == &tls_keys[0] ? 1 : 2;
}

/* ------------------------------------------------------ loading files */

/*
 * Read the whole of PATH (checked by trust_check() first) into a new
 * buffer, *BUF_R (LEN_R octets, plus a NUL); the caller wipes and frees
 * it.  WHAT names the setting in messages.  0 or -1.
 */
static int
tls_read_file(const char *what, const char *path, char **buf_r,
    size_t *len_r, const char **error_r)
{
	struct stat st;
	const char *e;
	size_t off = 0;
	ssize_t r;
	char *buf;
	int fd;

	if (trust_check(path, TRUST_FILE, &e) != 0)
		return tls_error(error_r, "%s: %s", what, e);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return tls_error(error_r, "%s: %s: %s", what, path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		close(fd);
		return tls_error(error_r, "%s: %s: not a regular file of 1 to "
		    "%d octets", what, path, TLS_FILE_MAX);
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return tls_error(error_r, "%s: out of memory", what);
	}
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		explicit_bzero(buf, (size_t)st.st_size + 1);
		free(buf);
		return tls_error(error_r, "%s: %s: short read", what, path);
	}
	buf[off] = '\0';
	*buf_r = buf;
	*len_r = off;
	return 0;
}

static void
tls_wipe_free(char *buf, size_t len)
{
	if (buf != NULL) {
		explicit_bzero(buf, len + 1);
		free(buf);
	}
}

/* Never ask for a pass phrase (OpenSSL's default would read the
 * terminal): an encrypted key is an error. */
static int
tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Every certificate in a PEM buffer, in order; NULL when there is none. */
static STACK_OF(X509) *
tls_pem_certs(const char *buf, size_t len)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	X509 *x;

	if (sk == NULL || bio == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, tls_no_passphrase,
	    NULL)) != NULL)
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			goto fail;
		}
	/* The loop ends on "no start line" after the last one. */
	ERR_clear_error();
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
fail:
	BIO_free(bio);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/*
 * Every certificate of the PEM file PATH (the setting WHAT), read into
 * memory we wipe and parsed in order: tls_cert, tls_chain and
 * tls_client_ca all come this way.  NULL (*ERROR_R set) when the file
 * cannot be read or holds no certificate.
 */
static STACK_OF(X509) *
tls_load_pem_certs(const char *what, const char *path, const char **error_r)
{
	STACK_OF(X509) *sk;
	char *buf;
	size_t len;

	if (tls_read_file(what, path, &buf, &len, error_r) != 0)
		return NULL;
	sk = tls_pem_certs(buf, len);
	tls_wipe_free(buf, len);
	if (sk == NULL)
		(void)tls_error(error_r, "%s: %s: no PEM certificate", what,
		    path);
	return sk;
}

/* Certificates FROM.. of SK (from the file PATH of the setting WHAT)
 * into CTX's chain.  0 or -1. */
static int
tls_add_chain(SSL_CTX *ctx, STACK_OF(X509) *sk, int from, const char *what,
    const char *path, const char **error_r)
{
	int i;

	for (i = from; i < sk_X509_num(sk); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(sk, i)) != 1)
			return tls_error(error_r, "%s: %s: %s", what, path,
			    tls_ossl_reason());
	return 0;
}

/* The certificate and its chain: tls_cert (leaf first, as certbot's
 * fullchain.pem) and tls_chain. */
static int
tls_load_certs(SSL_CTX *ctx, const struct config *cfg, X509 **leaf_r,
    const char **error_r)
{
	STACK_OF(X509) *sk;
	int rc;

	if ((sk = tls_load_pem_certs("tls_cert", cfg->tls_cert,
	    error_r)) == NULL)
		return -1;
	if (SSL_CTX_use_certificate(ctx, sk_X509_value(sk, 0)) != 1)
		rc = tls_error(error_r, "tls_cert: %s: %s", cfg->tls_cert,
		    tls_ossl_reason());
	else
		rc = tls_add_chain(ctx, sk, 1, "tls_cert", cfg->tls_cert,
		    error_r);
	if (rc == 0) {
		*leaf_r = sk_X509_value(sk, 0);
		X509_up_ref(*leaf_r);
	}
	sk_X509_pop_free(sk, X509_free);
	if (rc != 0 || cfg->tls_chain[0] == '\0')
		return rc;
	if ((sk = tls_load_pem_certs("tls_chain", cfg->tls_chain,
	    error_r)) == NULL)
		return -1;
	rc = tls_add_chain(ctx, sk, 0, "tls_chain", cfg->tls_chain, error_r);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* The private key, read and parsed from memory we wipe (file comment). */
static int
tls_load_key(SSL_CTX *ctx, const struct config *cfg, const char **error_r)
{
	struct stat st;
	EVP_PKEY *pkey;
	BIO *bio;
	char *buf;
	size_t len;
	int rc;

	if (tls_read_file("tls_key", cfg->tls_key, &buf, &len, error_r) != 0)
		return -1;
	/* Not fatal (certbot's archive directory is 0700 and older
	 * versions wrote 0644 keys into it), but worth a line. */
	if (stat(cfg->tls_key, &st) == 0 && (st.st_mode & (S_IRGRP |
	    S_IROTH)) != 0)
		log_warnx("tls_key: %s is readable by group or others "
		    "(chmod 600 it)", cfg->tls_key);
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		tls_wipe_free(buf, len);
		return tls_error(error_r, "tls_key: out of memory");
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, tls_no_passphrase, NULL);
	BIO_free(bio);
	tls_wipe_free(buf, len);
	if (pkey == NULL)
		return tls_error(error_r, "tls_key: %s: no usable PEM private "
		    "key (an encrypted key cannot be used): %s", cfg->tls_key,
		    tls_ossl_reason());
	rc = SSL_CTX_use_PrivateKey(ctx, pkey);
	EVP_PKEY_free(pkey);
	if (rc != 1)
		return tls_error(error_r, "tls_key: %s: %s", cfg->tls_key,
		    tls_ossl_reason());
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_error(error_r, "tls_key: %s does not belong to the "
		    "certificate in %s", cfg->tls_key, cfg->tls_cert);
	return 0;
}

/* Accept any client certificate chain here: whether it verified is read
 * afterwards (SSL_get_verify_result()), and only a verified one gives a
 * name.  A bad certificate costs the client its name, not the
 * connection. */
static int
tls_verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
	(void)preverify_ok;
	(void)x;
	return 1;
}

/* Client certificates, signed by a CA in tls_client_ca. */
static int
tls_load_client_ca(SSL_CTX *ctx, const struct config *cfg,
    const char **error_r)
{
	STACK_OF(X509) *sk;
	STACK_OF(X509_NAME) *names;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	int i;

	if ((sk = tls_load_pem_certs("tls_client_ca", cfg->tls_client_ca,
	    error_r)) == NULL)
		return -1;
	if ((names = sk_X509_NAME_new_null()) == NULL)
		goto fail;
	for (i = 0; i < sk_X509_num(sk); i++) {
		X509_NAME *n = X509_NAME_dup(X509_get_subject_name(
		    sk_X509_value(sk, i)));

		if (X509_STORE_add_cert(store, sk_X509_value(sk, i)) != 1 ||
		    n == NULL || sk_X509_NAME_push(names, n) <= 0) {
			X509_NAME_free(n);
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
	}
	sk_X509_pop_free(sk, X509_free);
	/* The CAs the client may choose a certificate from. */
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
	SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
	return 0;
fail:
	sk_X509_pop_free(sk, X509_free);
	return tls_error(error_r, "tls_client_ca: %s: %s", cfg->tls_client_ca,
	    tls_ossl_reason());
}

/* "CN=pop.example.org, valid until Mar  1 12:00:00 2027 GMT". */
static void
tls_describe(struct tls_server *srv, X509 *leaf)
{
	char subj[256] = "?", until[64] = "?";
	const ASN1_TIME *t = X509_get0_notAfter(leaf);
	BIO *b;
	int n;

	X509_NAME_oneline(X509_get_subject_name(leaf), subj, sizeof subj);
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		if (ASN1_TIME_print(b, t) == 1 &&
		    (n = BIO_read(b, until, sizeof until - 1)) > 0)
			until[n] = '\0';
		BIO_free(b);
	}
	snprintf(srv->desc, sizeof srv->desc, "certificate %s, valid until "
	    "%s%s", subj, until, X509_cmp_current_time(t) < 0 ?
	    " (EXPIRED)" : "");
}

int
tls_server_load(const struct config *cfg, struct tls_server **srv_r,
    const char **error_r)
{
	struct tls_server *srv;
	X509 *leaf = NULL;
	SSL_CTX *ctx;

	*srv_r = NULL;
	if (cfg->tls_cert[0] == '\0')
		return 0;
	if (tls_bio_meth() == NULL)
		return tls_error(error_r, "tls: %s", tls_ossl_reason());
	if (tls_ticket_cipher == NULL &&
	    (tls_ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC",
	    NULL)) == NULL)
		return tls_error(error_r, "tls: AES-256-CBC: %s",
		    tls_ossl_reason());
	if ((srv = calloc(1, sizeof *srv)) == NULL ||
	    (ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		free(srv);
		return tls_error(error_r, "tls: %s", tls_ossl_reason());
	}
	srv->ctx = ctx;
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto ossl_fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	/* Partial and moving writes: net.c flushes whatever it can and
	 * retries from where it stopped.  Idle sessions give their record
	 * buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* No cache (each connection is a new process): tickets only. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, 2L * cfg->tls_ticket_rotate);
	if (SSL_CTX_set_num_tickets(ctx, TLS_TICKETS_PER_HANDSHAKE) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb) != 1 ||
	    SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)TLS_SID_CTX, strlen(TLS_SID_CTX)) != 1 ||
	    SSL_CTX_set_dh_auto(ctx, 1) != 1)
		goto ossl_fail;
	if (tls_load_certs(ctx, cfg, &leaf, error_r) != 0 ||
	    tls_load_key(ctx, cfg, error_r) != 0 ||
	    (cfg->tls_client_ca[0] != '\0' &&
	    tls_load_client_ca(ctx, cfg, error_r) != 0)) {
		X509_free(leaf);
		tls_server_free(srv);
		return -1;
	}
	tls_describe(srv, leaf);
	X509_free(leaf);
	*srv_r = srv;
	return 0;
ossl_fail:
	tls_error(error_r, "tls: %s", tls_ossl_reason());
	tls_server_free(srv);
	return -1;
}

void
tls_server_free(struct tls_server *srv)
{
	if (srv == NULL)
		return;
	SSL_CTX_free(srv->ctx);
	explicit_bzero(srv, sizeof *srv);
	free(srv);
}

/*
 * One TLS 1.3 handshake of CTX with a client of our own, over a pair of
 * memory BIOs, in the master, as root: no byte of it comes from the
 * network.  OpenSSL 3 finds the algorithms a handshake uses (the key
 * exchange, the signature, HKDF, the record cipher, the ticket's HMAC) the
 * first time a process asks for them, and caches them in the library's
 * method store; without this every pre-auth child made those first
 * fetches itself, in pages it then had to copy from the master, on every
 * connection (doc/PERFORMANCE.md, "TLS: counted per session").  The
 * handshake's secrets are in blocks the wiping allocator clears when they
 * are freed here; the private key's own precomputations stay in the
 * context and go with it in tls_forget().  A failure only costs the
 * children their first fetches: it is not an error.
 */
static void *
tls_warm(void *arg)
{
	SSL_CTX *sctx = arg;
	SSL_CTX *cctx;
	SSL *cl = NULL, *sv = NULL;
	BIO *cb = NULL, *sb = NULL;
	char byte = 0;
	size_t k;
	int i, rc = 0, rs = 0;

	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out;
	/* No verification: the peer is ourselves. */
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if ((cl = SSL_new(cctx)) == NULL || (sv = SSL_new(sctx)) == NULL ||
	    BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		goto out;
	SSL_set_bio(cl, cb, cb);
	SSL_set_bio(sv, sb, sb);
	cb = sb = NULL;
	SSL_set_connect_state(cl);
	SSL_set_accept_state(sv);
	/* A handshake takes a few flights each way; bounded. */
	for (i = 0; i < 16 && (rc != 1 || rs != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(cl);
		if (rs != 1)
			rs = SSL_do_handshake(sv);
	}
	/* One record each way: the record layer, and the client reads
	 * the ticket. */
	if (rc == 1 && rs == 1 && SSL_write_ex(sv, "+", 1, &k) == 1 &&
	    SSL_read_ex(cl, &byte, 1, &k) == 1)
		(void)(SSL_write_ex(cl, "+", 1, &k) == 1 &&
		    SSL_read_ex(sv, &byte, 1, &k) == 1);
	log_debug("tls: warm-up handshake %s", rc == 1 && rs == 1 ? "done" :
	    "failed");
out:
	SSL_free(cl);
	SSL_free(sv);
	BIO_free(cb);
	BIO_free(sb);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return NULL;
}

void
tls_server_install(struct tls_server *srv)
{
	tls_server_free(tls_current);
	tls_current = srv;
	if (srv == NULL) {
		explicit_bzero(tls_keys, sizeof tls_keys);
		tls_keys_made = 0;
		return;
	}
	if (!tls_keys[0].valid)
		tls_tickets_rotate();	/* before the first connection */
}

void
tls_server_warm(void)
{
	pthread_t t;

	if (tls_current == NULL)
		return;
	/* In a thread of its own: its short-lived blocks (record buffers,
	 * the handshake's messages) come from that thread's malloc arena
	 * and leave no holes in the main heap for the children to copy,
	 * and its random generators go with the thread. */
	if (pthread_create(&t, NULL, tls_warm, tls_current->ctx) != 0)
		(void)tls_warm(tls_current->ctx);
	else
		(void)pthread_join(t, NULL);
}

int
tls_enabled(void)
{
	return tls_current != NULL;
}

const char *
tls_server_desc(void)
{
	return tls_current != NULL ? tls_current->desc : "";
}

void
tls_forget(void)
{
	static const struct tls_ticket_key zero[2];

	/* Without TLS there is nothing to free or wipe, and rewriting the
	 * zeros would give every idle session a page of its own
	 * (doc/PERFORMANCE.md, "Idle memory, run 5"). */
	if (tls_current != NULL) {
		tls_server_free(tls_current);
		tls_current = NULL;
	}
	if (memcmp(tls_keys, zero, sizeof tls_keys) != 0 ||
	    tls_keys_made != 0) {
		explicit_bzero(tls_keys, sizeof tls_keys);
		tls_keys_made = 0;
	}
}

/* ------------------------------------------------- the pre-auth child */

/* Wait (poll) for what SSL_get_error() asked for, until DEADLINE.  0, or
 * -1 with errno (ETIMEDOUT). */
static int
tls_wait(const struct tls_conn *c, int ssl_err, int64_t deadline)
{
	struct pollfd pfd;
	int r;

	pfd.fd = ssl_err == SSL_ERROR_WANT_WRITE ? c->wfd : c->rfd;
	pfd.events = ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
	for (;;) {
		pfd.revents = 0;
		if (deadline_passed(deadline)) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, deadline_poll_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r > 0)
			return 0;
	}
}

/* The verified client certificate's common name into C->peer. */
static void
tls_get_peer(struct tls_conn *c)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	const X509_NAME *name;
	unsigned char *utf8 = NULL;
	long vr;
	int i, len;

	c->peer[0] = '\0';
	if (x == NULL)
		return;
	if ((vr = SSL_get_verify_result(c->ssl)) != X509_V_OK) {
		log_info("tls: client certificate not verified: %s",
		    X509_verify_cert_error_string(vr));
		return;
	}
	name = X509_get_subject_name(x);
	i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	/* exactly one CN, or no name at all */
	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(name, i)));
	if (len > 0 && len <= TLS_PEER_MAX && memchr(utf8, '\0',
	    (size_t)len) == NULL) {
		memcpy(c->peer, utf8, (size_t)len);
		c->peer[len] = '\0';
		/* Printable ASCII only: it may become a login name. */
		for (i = 0; i < len; i++)
			if (utf8[i] < 0x20 || utf8[i] > 0x7e)
				c->peer[0] = '\0';
	}
	OPENSSL_free(utf8);
	if (c->peer[0] == '\0')
		log_info("tls: client certificate has no usable common name");
}

/* net_io over SSL (net.h). */
static ssize_t
tls_io_read(void *ctx, void *buf, size_t len, short *want_r)
{
	struct tls_conn *c = ctx;
	size_t got = 0;
	int e;

	if (SSL_read_ex(c->ssl, buf, len, &got) == 1)
		return (ssize_t)got;
	e = SSL_get_error(c->ssl, 0);
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		*want_r = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;		/* close_notify */
	default:
		log_debug("tls: read: %s", tls_ossl_reason());
		errno = ECONNRESET;
		return -1;
	}
}

static ssize_t
tls_io_write(void *ctx, const void *buf, size_t len, short *want_r)
{
	struct tls_conn *c = ctx;
	size_t put = 0;
	int e;

	if (SSL_write_ex(c->ssl, buf, len, &put) == 1)
		return (ssize_t)put;
	e = SSL_get_error(c->ssl, 0);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_r = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		errno = EAGAIN;
		return -1;
	}
	log_debug("tls: write: %s", tls_ossl_reason());
	errno = EPIPE;
	return -1;
}

static size_t
tls_io_pending(void *ctx)
{
	struct tls_conn *c = ctx;

	return (size_t)SSL_pending(c->ssl);
}

static const struct net_io tls_net_io = {
	tls_io_read, tls_io_write, tls_io_pending
};

int
tls_accept(struct net *n, struct tls_conn **conn_r, const char **error_r)
{
	struct tls_conn *c;
	BIO *bio;
	int r, e;

	*conn_r = NULL;
	if (tls_current == NULL)
		return tls_error(error_r, "TLS is not configured");
	/* Only the pre-auth child gets here: no wiping of its frees (see
	 * tls_wipe_frees). */
	tls_wipe_frees = 0;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return tls_error(error_r, "out of memory");
	c->net = n;
	c->rfd = n->rfd;
	c->wfd = n->wfd;
	if ((c->ssl = SSL_new(tls_current->ctx)) == NULL ||
	    (bio = BIO_new(tls_bio_method)) == NULL) {
		SSL_free(c->ssl);
		free(c);
		return tls_error(error_r, "%s", tls_ossl_reason());
	}
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_accept(c->ssl)) == 1)
			break;
		e = SSL_get_error(c->ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    tls_wait(c, e, n->deadline) == 0)
			continue;
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			tls_error(error_r, "handshake: %s", errno == ETIMEDOUT ?
			    "timed out (login time limit)" : strerror(errno));
		else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			tls_error(error_r, "handshake: connection closed");
		else
			tls_error(error_r, "handshake: %s", tls_ossl_reason());
		SSL_free(c->ssl);
		free(c);
		return -1;
	}
	snprintf(c->info, sizeof c->info, "%s/%s", SSL_get_version(c->ssl),
	    SSL_get_cipher_name(c->ssl));
	c->resumed = SSL_session_reused(c->ssl);
	tls_get_peer(c);
	net_set_io(n, &tls_net_io, c);
	*conn_r = c;
	return 0;
}

const char *
tls_conn_info(const struct tls_conn *c)
{
	return c->info;
}

const char *
tls_conn_peer(const struct tls_conn *c)
{
	return c->peer;
}

int
tls_conn_resumed(const struct tls_conn *c)
{
	return c->resumed;
}

void
tls_conn_log(const struct tls_conn *c)
{
	log_info("tls: %s%s%s%s", c->info, c->resumed ? " resumed" : "",
	    c->peer[0] != '\0' ? " peer=" : "", c->peer);
}

void
tls_close(struct tls_conn *c, struct net *n)
{
	int64_t deadline;
	int r, e;

	if (c == NULL)
		return;
	/* One close_notify (clients such as openssl s_client report an
	 * unexpected EOF without it); we do not wait for the client's. */
	deadline = deadline_now() + (n->write_timeout_ms > 0 ?
	    n->write_timeout_ms : 0);
	deadline = deadline_min(deadline, n->deadline);
	if (!n->failed)
		for (;;) {
			ERR_clear_error();
			if ((r = SSL_shutdown(c->ssl)) >= 0)
				break;
			e = SSL_get_error(c->ssl, r);
			if ((e != SSL_ERROR_WANT_WRITE &&
			    e != SSL_ERROR_WANT_READ) ||
			    tls_wait(c, e, deadline) != 0)
				break;
		}
	ERR_clear_error();
	net_set_io(n, NULL, NULL);
	SSL_free(c->ssl);
	explicit_bzero(c, sizeof *c);
	free(c);
}

/* --------------------------------------------------------- the proxy */

struct tls_pipe {
	char *buf;
	size_t len, off;
};

int
tls_proxy(struct tls_conn *c, struct net *n, int plain_fd)
{
	struct tls_pipe up = { NULL, 0, 0 }, down = { NULL, 0, 0 };
	/* the client's input, its output (one socket, maybe as two
	 * descriptors in inetd mode), the session's socket pair */
	enum { P_CIN, P_COUT, P_PLAIN, P_N };
	struct pollfd pfd[P_N];
	int client_eof = 0, session_eof = 0, failed = 0, progress, e;
	/* Whether a read of that side may find something: cleared when
	 * one finds nothing, set again by poll().  A side that poll() did
	 * not report is not tried (a recv() that could only fail with
	 * EAGAIN), unless OpenSSL holds bytes of its own. */
	int cin_ready = 1, plain_ready = 1;
	int64_t stalled = 0;
	size_t k;
	ssize_t r;

	/* up: client -> session; down: session -> client */
	if ((up.buf = malloc(TLS_PROXY_BUF)) == NULL ||
	    (down.buf = malloc(TLS_PROXY_BUF)) == NULL) {
		free(up.buf);
		return -1;
	}
	/* The login deadline is over; the session keeps the time now. */
	n->deadline = 0;
	for (;;) {
		pfd[P_CIN].events = pfd[P_COUT].events = 0;
		pfd[P_PLAIN].events = 0;
		do {
			progress = 0;
			if (up.len == 0 && !client_eof && !cin_ready &&
			    !SSL_has_pending(c->ssl))
				pfd[P_CIN].events |= POLLIN;
			else if (up.len == 0 && !client_eof) {
				ERR_clear_error();
				if (SSL_read_ex(c->ssl, up.buf, TLS_PROXY_BUF,
				    &k) == 1) {
					up.len = k;
					up.off = 0;
					progress = 1;
				} else if ((e = SSL_get_error(c->ssl, 0)) ==
				    SSL_ERROR_WANT_READ) {
					cin_ready = 0;
					pfd[P_CIN].events |= POLLIN;
				} else if (e == SSL_ERROR_WANT_WRITE)
					pfd[P_COUT].events |= POLLOUT;
				else
					client_eof = 1;	/* or an error */
			}
			if (up.len > 0) {
				r = send(plain_fd, up.buf + up.off, up.len,
				    MSG_DONTWAIT | MSG_NOSIGNAL);
				if (r > 0) {
					up.off += (size_t)r;
					up.len -= (size_t)r;
					progress = 1;
				} else if (r == -1 && (errno == EAGAIN ||
				    errno == EWOULDBLOCK || errno == EINTR))
					pfd[P_PLAIN].events |= POLLOUT;
				else {
					session_eof = 1;
					up.len = 0;
				}
			}
			if (down.len == 0 && !session_eof && !plain_ready)
				pfd[P_PLAIN].events |= POLLIN;
			else if (down.len == 0 && !session_eof) {
				r = recv(plain_fd, down.buf, TLS_PROXY_BUF,
				    MSG_DONTWAIT);
				if (r > 0) {
					down.len = (size_t)r;
					down.off = 0;
					progress = 1;
				} else if (r == -1 && (errno == EAGAIN ||
				    errno == EWOULDBLOCK || errno == EINTR)) {
					plain_ready = 0;
					pfd[P_PLAIN].events |= POLLIN;
				} else
					session_eof = 1;
			}
			if (down.len > 0 && !failed) {
				ERR_clear_error();
				if (SSL_write_ex(c->ssl, down.buf + down.off,
				    down.len, &k) == 1) {
					down.off += k;
					down.len -= k;
					progress = 1;
					stalled = 0;
				} else if ((e = SSL_get_error(c->ssl, 0)) ==
				    SSL_ERROR_WANT_WRITE)
					pfd[P_COUT].events |= POLLOUT;
				else if (e == SSL_ERROR_WANT_READ)
					pfd[P_CIN].events |= POLLIN;
				else
					failed = 1;
			}
		} while (progress);
		if (failed || (client_eof && up.len == 0) ||
		    (session_eof && down.len == 0))
			break;
		/* A client that does not read us for write_timeout is
		 * dropped, as net_flush() would drop it. */
		if (down.len > 0 && n->write_timeout_ms > 0) {
			if (stalled == 0)
				stalled = deadline_now() +
				    n->write_timeout_ms;
			else if (deadline_passed(stalled)) {
				log_info("tls proxy: client does not read, "
				    "closing");
				failed = 1;
				break;
			}
		}
		/* Only what we wait for: a hung-up descriptor we are not
		 * reading would wake poll() at once, again and again. */
		pfd[P_CIN].fd = pfd[P_CIN].events ? c->rfd : -1;
		pfd[P_COUT].fd = pfd[P_COUT].events ? c->wfd : -1;
		pfd[P_PLAIN].fd = pfd[P_PLAIN].events ? plain_fd : -1;
		pfd[P_CIN].revents = pfd[P_COUT].revents = 0;
		pfd[P_PLAIN].revents = 0;
		if (poll(pfd, P_N, stalled != 0 ? deadline_poll_ms(stalled) :
		    -1) == -1) {
			if (errno != EINTR) {
				failed = 1;
				break;
			}
			/* interrupted: try both sides again */
			cin_ready = plain_ready = 1;
			continue;
		}
		/* Readable, hung up or in error: a read says which. */
		if (pfd[P_CIN].revents & (POLLIN | POLLHUP | POLLERR))
			cin_ready = 1;
		if (pfd[P_PLAIN].revents & (POLLIN | POLLHUP | POLLERR))
			plain_ready = 1;
	}
	explicit_bzero(up.buf, TLS_PROXY_BUF);
	explicit_bzero(down.buf, TLS_PROXY_BUF);
	free(up.buf);
	free(down.buf);
	/* The session learns that the client is gone (EOF), or it has
	 * already closed its end. */
	close(plain_fd);
	if (failed)
		n->failed = 1;
	return failed ? -1 : 0;
}
