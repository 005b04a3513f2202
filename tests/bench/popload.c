/*
 * popload.c - POP3 load generator and verifier for the benchmark in
 * doc/PERFORMANCE.md.  It runs on the same machine as the servers, over
 * loopback, and checks every message it receives.
 *
 *   popload fetch  [options]   N threads for a fixed time, each looping:
 *                              connect, USER/PASS, STAT, RETR every message,
 *                              QUIT ("fetch" session)
 *   popload poll   [options]   the same without RETR: USER/PASS, STAT, QUIT
 *   popload bulk   [options]   one session that RETRs every message of one
 *                              maildrop; MB/s over the RETR phase
 *   popload idle   [options]   open N logged-in sessions, hold them, sum the
 *                              memory (Rss, Pss) of the server's process tree
 *                              (--pid), NOOP each, QUIT them
 *   popload login  [options]   time USER..PASS and STAT on one maildrop
 *
 * Verification.  With -M DIR (the manifests written by gen-maildrops.py)
 * every retrieved message must be one of that user's messages, byte for
 * byte: its length and its CRC-32 after removing the dot-stuffing must
 * match a manifest line.  Always checked as well: every line ends in CRLF,
 * every line starting with "." is stuffed, the octets received equal the
 * size in "+OK n octets" when the server gives one, the message sizes add
 * up to STAT's total, and with --list the LIST and UIDL listings have
 * STAT's count and LIST's sizes match what RETR sends.  --skip-header NAME
 * leaves header lines NAME: out of the manifest comparison (for a server
 * that adds a header, such as GNU Mailutils' X-UIDL).
 *
 * Output: one line "RESULT key=value ..." on stdout (the run script
 * collects them); problems go to stderr.
 *
 * TLS.  --tls implicit (the port speaks TLS from the first octet, RFC
 * 8314: pop3s) or --tls stls (greeting, STLS, then the handshake, RFC
 * 2595) runs every fetch, poll, bulk and login session over TLS with
 * OpenSSL: TLS 1.3 only and the X25519 group (--tls-groups), the server's
 * certificate verified against --ca FILE and its name against --tls-name
 * (localhost); there is no way to skip the check.  Without --resume every
 * session makes a full handshake; with it each thread offers the last
 * session ticket it got (SSL_get1_session after the session, TLS 1.3
 * tickets arrive after the handshake), so the handshakes after a thread's
 * first are resumed ones where the server accepts the ticket.  The RESULT
 * line counts both (handshakes=, resumed=) and names what was negotiated
 * (tls_version=, cipher=, group=): a server that refuses tickets shows
 * resumed=0 instead of quietly measuring full handshakes.
 *
 * Only 127.0.0.0/8 is contacted unless --any-host.  Every mode stops by
 * itself: fetch and poll after -t seconds (or -N sessions per thread),
 * idle after --hold, and every socket has a --timeout.
 *
 * PRIVILEGE: runs as whoever starts it; idle mode needs to read
 * /proc/PID/smaps_rollup of the server's processes (root for a root
 * server).
 *
 * GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define CONN_BUF	(128 * 1024)	/* longest line we accept, and more */
#define CMD_MAX		512
#define SKIP_MAX	8
#define THREADS_MAX	1024
#define IDLE_MAX	100000

enum mode { M_FETCH, M_POLL, M_BULK, M_IDLE, M_LOGIN };

enum err {
	E_NONE,
	E_IO,		/* connect, read, write, timeout, EOF */
	E_PROTO,	/* an unexpected reply */
	E_VERIFY,	/* the content is not what was delivered */
	E_COUNT
};

static const char *const err_names[E_COUNT] = {
	"ok", "err_io", "err_proto", "err_verify"
};

/* ---------------------------------------------------------- options */

static enum mode o_mode;
static struct in_addr o_addr;
static const char *o_host = "127.0.0.1";
static int o_port = 110;
static const char *o_template, *o_userfile, *o_manifest;
static const char *o_password = "popbench";
static int o_first = 1, o_last = 1;
static int o_threads = 4;
static double o_secs = 10;
static long o_maxsess;		/* per thread; 0: no limit */
static int o_quickack, o_list, o_any_host, o_verbose;
static int o_timeout = 60;
static const char *o_label = "server";
static int o_idle_n = 100, o_openers = 4;
static double o_hold = 2;
static pid_t o_pid;
static int o_reps = 3;
static const char *o_skip[SKIP_MAX];
static int o_nskip;

enum tls_mode { T_NONE, T_IMPLICIT, T_STLS };
static enum tls_mode o_tls;
static int o_resume;
static const char *o_ca;
static const char *o_tls_name = "localhost";
static const char *o_tls_groups = "X25519";
static SSL_CTX *tls_ctx;
/* what the first handshake negotiated, for the RESULT line */
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static char tls_seen[160];

/* ------------------------------------------------------------ users */

struct msgsum {
	uint64_t len;
	uint32_t crc;
};

struct user {
	char *name, *pass;
	struct msgsum *sums;	/* sorted by crc, then len */
	size_t nsums;
};

static struct user *users;
static int nusers;

static volatile sig_atomic_t stop_now;
static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int threads_done;

/* ------------------------------------------------------------ util */

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("popload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n == 0 ? 1 : n, sz);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t crc_table[256];

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* zlib-compatible CRC-32, continued from CRC (start with 0). */
static uint32_t
crc_update(uint32_t crc, const void *p, size_t len)
{
	const unsigned char *s = p;

	crc = ~crc;
	while (len-- > 0)
		crc = crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int
cmp_sum(const void *a, const void *b)
{
	const struct msgsum *x = a, *y = b;

	if (x->crc != y->crc)
		return x->crc < y->crc ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

static void
load_manifest(struct user *u)
{
	char path[PATH_MAX], line[128];
	unsigned long long len;
	unsigned int crc;
	size_t cap = 64;
	FILE *fp;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", o_manifest,
	    u->name) >= sizeof path)
		die("manifest path too long");
	if ((fp = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	u->sums = xcalloc(cap, sizeof *u->sums);
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%llu %x", &len, &crc) != 2)
			die("%s: bad line", path);
		if (u->nsums == cap) {
			cap *= 2;
			u->sums = realloc(u->sums, cap * sizeof *u->sums);
			if (u->sums == NULL)
				die("out of memory");
		}
		u->sums[u->nsums].len = len;
		u->sums[u->nsums].crc = crc;
		u->nsums++;
	}
	fclose(fp);
	qsort(u->sums, u->nsums, sizeof *u->sums, cmp_sum);
}

static void
add_user(const char *name, const char *pass)
{
	users = realloc(users, sizeof *users * (size_t)(nusers + 1));
	if (users == NULL)
		die("out of memory");
	memset(&users[nusers], 0, sizeof *users);
	users[nusers].name = xstrdup(name);
	users[nusers].pass = xstrdup(pass);
	if (strlen(name) > 200 || strlen(pass) > 200 ||
	    strpbrk(name, " \r\n") != NULL || strpbrk(pass, "\r\n") != NULL)
		die("unusable user name or password for %s", name);
	nusers++;
}

static void
load_users(void)
{
	char name[256], line[512], *colon;
	FILE *fp;
	int i;

	if (o_userfile != NULL) {
		if ((fp = fopen(o_userfile, "r")) == NULL)
			die("%s: %s", o_userfile, strerror(errno));
		while (fgets(line, sizeof line, fp) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0' || line[0] == '#')
				continue;
			if ((colon = strchr(line, ':')) == NULL)
				die("%s: want user:password lines", o_userfile);
			*colon = '\0';
			add_user(line, colon + 1);
		}
		fclose(fp);
	} else if (o_template != NULL) {
		/* TEMPLATE holds at most one "%d" and no other '%'; it is
		 * expanded by hand, never used as a format. */
		const char *pct = strstr(o_template, "%d");

		if (strlen(o_template) > 200 || (pct == NULL ?
		    strchr(o_template, '%') != NULL :
		    strchr(pct + 2, '%') != NULL ||
		    (size_t)(strchr(o_template, '%') - o_template) !=
		    (size_t)(pct - o_template)))
			die("-u: one %%d at most, no other %%");
		if (pct == NULL)
			add_user(o_template, o_password);
		else
			for (i = o_first; i <= o_last; i++) {
				snprintf(name, sizeof name, "%.*s%d%s",
				    (int)(pct - o_template), o_template, i,
				    pct + 2);
				add_user(name, o_password);
			}
	}
	if (nusers == 0)
		die("no users: give -u TEMPLATE [-r FIRST:LAST] or -F FILE");
	if (o_manifest != NULL)
		for (i = 0; i < nusers; i++)
			load_manifest(&users[i]);
}

/* ------------------------------------------------------ connection */

struct conn {
	int fd;
	char *buf;
	size_t r, w;		/* unread data is buf[r..w) */
	char why[160];		/* the last problem, for -v and errors */
	SSL *ssl;		/* --tls: this connection's, once started */
	SSL_SESSION *sess;	/* --resume: the ticket to offer next */
	int handshakes, resumed;	/* of the current connection */
};

static void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->buf = xcalloc(1, CONN_BUF);
}

static void
conn_close(struct conn *c)
{
	SSL_SESSION *s;

	if (c->ssl != NULL) {
		/* keep the newest ticket, then close_notify as a client
		 * would (a session freed without it is marked not
		 * resumable) */
		if (o_resume && SSL_is_init_finished(c->ssl) &&
		    (s = SSL_get1_session(c->ssl)) != NULL) {
			if (SSL_SESSION_is_resumable(s)) {
				SSL_SESSION_free(c->sess);
				c->sess = s;
			} else
				SSL_SESSION_free(s);
		}
		if (SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->r = c->w = 0;
}

static enum err
fail(struct conn *c, enum err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return e;
}

/* The TLS client context: TLS 1.3, o_tls_groups, verified against o_ca. */
static void
tls_setup(void)
{
	if (o_ca == NULL)
		die("--tls needs --ca FILE (the CA that signed the server's "
		    "certificate)");
	if ((tls_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set1_groups_list(tls_ctx, o_tls_groups) != 1)
		die("TLS context: %s", ERR_error_string(ERR_get_error(),
		    NULL));
	if (SSL_CTX_load_verify_locations(tls_ctx, o_ca, NULL) != 1)
		die("%s: %s", o_ca, ERR_error_string(ERR_get_error(), NULL));
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	/* the sessions are kept by hand, one per thread (conn.sess) */
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
}

/* Handshake on c->fd (plaintext so far); the server's certificate must
 * verify. */
static enum err
tls_start(struct conn *c)
{
	const char *grp = "?";
	EVP_PKEY *pk = NULL;
	unsigned long ec;
	long vr;
	int r;

	if ((c->ssl = SSL_new(tls_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set1_host(c->ssl, o_tls_name) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, o_tls_name) != 1)
		return fail(c, E_IO, "SSL_new: %s",
		    ERR_error_string(ERR_get_error(), NULL));
	if (o_resume && c->sess != NULL)
		SSL_set_session(c->ssl, c->sess);
	if ((r = SSL_connect(c->ssl)) != 1) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			return fail(c, E_VERIFY, "certificate: %s",
			    X509_verify_cert_error_string(vr));
		ec = ERR_get_error();
		return fail(c, E_IO, "TLS handshake: %s",
		    ec != 0 ? ERR_error_string(ec, NULL) :
		    SSL_get_error(c->ssl, r) == SSL_ERROR_SYSCALL ?
		    (errno == EAGAIN ? "timeout" : strerror(errno)) :
		    "failed");
	}
	c->handshakes = 1;
	c->resumed = SSL_session_reused(c->ssl);
	if (tls_seen[0] == '\0' && !c->resumed) {
		if (SSL_get_peer_tmp_key(c->ssl, &pk) == 1 && pk != NULL)
			grp = OBJ_nid2sn(EVP_PKEY_get_base_id(pk));
		pthread_mutex_lock(&tls_lock);
		if (tls_seen[0] == '\0')
			snprintf(tls_seen, sizeof tls_seen, " tls_version=%s "
			    "cipher=%s group=%s", SSL_get_version(c->ssl),
			    SSL_get_cipher_name(c->ssl), grp);
		pthread_mutex_unlock(&tls_lock);
		EVP_PKEY_free(pk);
	}
	return E_NONE;
}

static enum err
conn_open(struct conn *c)
{
	struct sockaddr_in sin;
	struct timeval tv;
	int one = 1;

	c->r = c->w = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(c, E_IO, "socket: %s", strerror(errno));
	/* A client sends whole commands: no Nagle delay on our side. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	tv.tv_sec = o_timeout;
	tv.tv_usec = 0;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)o_port);
	sin.sin_addr = o_addr;
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		int e = errno;

		conn_close(c);
		return fail(c, E_IO, "connect: %s", strerror(e));
	}
	c->handshakes = c->resumed = 0;
	if (o_tls == T_IMPLICIT) {
		enum err e = tls_start(c);

		if (e != E_NONE)
			conn_close(c);	/* frees the SSL; c->why stays */
		return e;
	}
	return E_NONE;
}

/* SSL_read or SSL_write returned R <= 0: why, as an error. */
static enum err
tls_fail(struct conn *c, int r, const char *what)
{
	unsigned long ec;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return fail(c, E_IO, "connection closed by the server "
		    "(close_notify)");
	case SSL_ERROR_SYSCALL:
		if (r == 0 || errno == 0)
			return fail(c, E_IO, "connection closed by the "
			    "server");
		return fail(c, E_IO, "%s: %s", what, errno == EAGAIN ?
		    "timeout" : strerror(errno));
	default:
		ec = ERR_get_error();
		return fail(c, E_IO, "%s: %s", what, ec != 0 ?
		    ERR_error_string(ec, NULL) : "TLS error");
	}
}

static enum err
conn_fill(struct conn *c)
{
	ssize_t n;
	int one = 1;

	if (c->r > 0) {
		memmove(c->buf, c->buf + c->r, c->w - c->r);
		c->w -= c->r;
		c->r = 0;
	}
	if (c->w == CONN_BUF)
		return fail(c, E_PROTO, "line longer than %d octets", CONN_BUF);
	/* --quickack: ACK at once, so a server whose reply waits on Nagle
	 * is not held up by our delayed ACK (shows its own speed). */
	if (o_quickack)
		setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
	if (c->ssl != NULL) {
		int r;

		errno = 0;
		r = SSL_read(c->ssl, c->buf + c->w, (int)(CONN_BUF - c->w));
		if (r <= 0)
			return tls_fail(c, r, "SSL_read");
		c->w += (size_t)r;
		return E_NONE;
	}
	do
		n = read(c->fd, c->buf + c->w, CONN_BUF - c->w);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return fail(c, E_IO, "read: %s", errno == EAGAIN ?
		    "timeout" : strerror(errno));
	if (n == 0)
		return fail(c, E_IO, "connection closed by the server");
	c->w += (size_t)n;
	return E_NONE;
}

/*
 * The next line, without its line end, NUL-terminated in the buffer (valid
 * until the next call).  *crlf says whether it ended in CRLF.
 */
static enum err
conn_line(struct conn *c, char **line, size_t *len, int *crlf)
{
	char *p, *nl;
	enum err e;

	for (;;) {
		p = c->buf + c->r;
		if ((nl = memchr(p, '\n', c->w - c->r)) != NULL)
			break;
		if ((e = conn_fill(c)) != E_NONE)
			return e;
	}
	*len = (size_t)(nl - p);
	*crlf = *len > 0 && p[*len - 1] == '\r';
	if (*crlf)
		(*len)--;
	p[*len] = '\0';
	c->r = (size_t)(nl - c->buf) + 1;
	*line = p;
	return E_NONE;
}

static enum err
conn_send(struct conn *c, const char *s, size_t len)
{
	ssize_t n;

	while (c->ssl != NULL && len > 0) {
		int r;

		errno = 0;
		r = SSL_write(c->ssl, s, (int)len);
		if (r <= 0)
			return tls_fail(c, r, "SSL_write");
		s += r;
		len -= (size_t)r;
	}
	while (len > 0) {
		n = write(c->fd, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail(c, E_IO, "write: %s", strerror(errno));
		s += n;
		len -= (size_t)n;
	}
	return E_NONE;
}

/* Send a command (CRLF added), read the status line into *reply. */
static enum err
command(struct conn *c, char **reply, const char *fmt, ...)
{
	char cmd[CMD_MAX];
	size_t len;
	va_list ap;
	enum err e;
	int n, crlf;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof cmd - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof cmd - 2)
		return fail(c, E_PROTO, "command too long");
	memcpy(cmd + n, "\r\n", 2);
	if ((e = conn_send(c, cmd, (size_t)n + 2)) != E_NONE)
		return e;
	if ((e = conn_line(c, reply, &len, &crlf)) != E_NONE)
		return e;
	if (!crlf)
		return fail(c, E_PROTO, "reply without CRLF");
	return E_NONE;
}

static int
is_ok(const char *reply)
{
	return strncmp(reply, "+OK", 3) == 0 &&
	    (reply[3] == '\0' || reply[3] == ' ');
}

/* Expect "+OK" to CMD; the reply text goes to the error on failure. */
static enum err
expect_ok(struct conn *c, const char *what, char *reply)
{
	if (!is_ok(reply))
		return fail(c, E_PROTO, "%s: %.100s", what, reply);
	return E_NONE;
}

/* ----------------------------------------------------- multi-line */

struct body {
	uint64_t raw;		/* octets after unstuffing (what LIST counts) */
	uint64_t kept;		/* octets compared with the manifest */
	uint32_t crc;		/* CRC-32 of those */
	uint64_t lines;
};

static int
skipped_header(const char *line, size_t len)
{
	size_t n;
	int i;

	for (i = 0; i < o_nskip; i++) {
		n = strlen(o_skip[i]);
		if (len > n && line[n] == ':' &&
		    strncasecmp(line, o_skip[i], n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Read a multi-line reply up to its "." line, undoing the stuffing.  With
 * B non-NULL the content is measured and checksummed.
 */
static enum err
read_multi(struct conn *c, struct body *b)
{
	char *line;
	size_t len;
	int crlf, in_header = 1, skipping = 0;
	enum err e;

	if (b != NULL)
		memset(b, 0, sizeof *b);
	for (;;) {
		if ((e = conn_line(c, &line, &len, &crlf)) != E_NONE)
			return e;
		if (!crlf)
			return fail(c, E_PROTO, "bare LF in a multi-line reply");
		if (line[0] == '.') {
			if (len == 1)
				return E_NONE;
			if (line[1] != '.')
				return fail(c, E_PROTO, "line starting with "
				    "'.' not stuffed: %.40s", line);
			line++;
			len--;
		}
		if (b == NULL)
			continue;
		b->raw += len + 2;
		b->lines++;
		if (in_header && len == 0)
			in_header = 0;
		/* a header line and its continuation lines */
		if (in_header && len > 0 && line[0] != ' ' && line[0] != '\t')
			skipping = o_nskip > 0 && skipped_header(line, len);
		if (in_header && skipping)
			continue;
		line[len] = '\r';	/* the NUL stood where CR was */
		b->crc = crc_update(b->crc, line, len + 1);
		b->crc = crc_update(b->crc, "\n", 1);
		b->kept += len + 2;
	}
}

/* Is (len, crc) one of U's delivered messages? */
static int
in_manifest(const struct user *u, const struct body *b)
{
	struct msgsum key;

	if (o_manifest == NULL)
		return 1;
	key.len = b->kept;
	key.crc = b->crc;
	return bsearch(&key, u->sums, u->nsums, sizeof *u->sums,
	    cmp_sum) != NULL;
}

/* ------------------------------------------------------- sessions */

struct stats {
	long handshakes, resumed;	/* --tls: of the sessions counted */
	long sessions;
	long errors[E_COUNT];
	long messages;
	uint64_t octets;
	double *lat;		/* session times, seconds */
	size_t nlat, caplat;
	double retr_secs;	/* bulk */
	char last_why[400];
};

static void
stats_lat(struct stats *st, double secs)
{
	if (st->nlat == st->caplat) {
		st->caplat = st->caplat == 0 ? 1024 : st->caplat * 2;
		st->lat = realloc(st->lat, st->caplat * sizeof *st->lat);
		if (st->lat == NULL)
			die("out of memory");
	}
	st->lat[st->nlat++] = secs;
}

/* The greeting, and with --tls stls the STLS command and the handshake. */
static enum err
greeting(struct conn *c)
{
	char *reply;
	size_t len;
	int crlf;
	enum err e;

	if ((e = conn_line(c, &reply, &len, &crlf)) != E_NONE)
		return e;
	if ((e = expect_ok(c, "greeting", reply)) != E_NONE)
		return e;
	if (o_tls != T_STLS)
		return E_NONE;
	if ((e = command(c, &reply, "STLS")) != E_NONE ||
	    (e = expect_ok(c, "STLS", reply)) != E_NONE)
		return e;
	/* nothing may follow the +OK in plaintext (RFC 2595 4) */
	if (c->r != c->w)
		return fail(c, E_PROTO, "octets after the +OK to STLS");
	return tls_start(c);
}

static enum err
login(struct conn *c, const struct user *u)
{
	char *reply;
	enum err e;

	if ((e = greeting(c)) != E_NONE)
		return e;
	if ((e = command(c, &reply, "USER %s", u->name)) != E_NONE ||
	    (e = expect_ok(c, "USER", reply)) != E_NONE)
		return e;
	if ((e = command(c, &reply, "PASS %s", u->pass)) != E_NONE ||
	    (e = expect_ok(c, "PASS", reply)) != E_NONE)
		return e;
	return E_NONE;
}

static enum err
stat_cmd(struct conn *c, unsigned long *count, uint64_t *octets)
{
	char *reply;
	unsigned long long oct;
	enum err e;

	if ((e = command(c, &reply, "STAT")) != E_NONE)
		return e;
	if (sscanf(reply, "+OK %lu %llu", count, &oct) != 2)
		return fail(c, E_PROTO, "STAT: %.100s", reply);
	*octets = oct;
	return E_NONE;
}

/* LIST and UIDL: counts must match STAT; LIST sizes go to SIZES. */
static enum err
listings(struct conn *c, unsigned long count, uint64_t octets,
    uint64_t *sizes)
{
	char *reply, *line;
	unsigned long n, seen = 0;
	unsigned long long sz;
	uint64_t sum = 0;
	size_t len;
	int crlf;
	enum err e;

	if ((e = command(c, &reply, "LIST")) != E_NONE ||
	    (e = expect_ok(c, "LIST", reply)) != E_NONE)
		return e;
	for (;;) {
		if ((e = conn_line(c, &line, &len, &crlf)) != E_NONE)
			return e;
		if (strcmp(line, ".") == 0)
			break;
		if (sscanf(line, "%lu %llu", &n, &sz) != 2 || n < 1 ||
		    n > count)
			return fail(c, E_PROTO, "LIST line: %.60s", line);
		sizes[n - 1] = sz;
		sum += sz;
		seen++;
	}
	if (seen != count || sum != octets)
		return fail(c, E_PROTO, "LIST: %lu entries, %" PRIu64
		    " octets; STAT said %lu, %" PRIu64, seen, sum, count,
		    octets);
	if ((e = command(c, &reply, "UIDL")) != E_NONE ||
	    (e = expect_ok(c, "UIDL", reply)) != E_NONE)
		return e;
	seen = 0;
	for (;;) {
		if ((e = conn_line(c, &line, &len, &crlf)) != E_NONE)
			return e;
		if (strcmp(line, ".") == 0)
			break;
		seen++;
	}
	if (seen != count)
		return fail(c, E_PROTO, "UIDL: %lu entries, STAT said %lu",
		    seen, count);
	return E_NONE;
}

/* RETR message N and check it. */
static enum err
retr(struct conn *c, const struct user *u, unsigned long n,
    uint64_t listed, struct body *b)
{
	char *reply, *p;
	unsigned long long said;
	enum err e;

	if ((e = command(c, &reply, "RETR %lu", n)) != E_NONE ||
	    (e = expect_ok(c, "RETR", reply)) != E_NONE)
		return e;
	/* "+OK 1234 octets" is usual, not required: remember it if there */
	said = 0;
	p = reply + 3;
	if (*p == ' ' && isdigit((unsigned char)p[1]))
		said = strtoull(p + 1, NULL, 10);
	if ((e = read_multi(c, b)) != E_NONE)
		return e;
	if (said != 0 && said != b->raw)
		return fail(c, E_VERIFY, "RETR %lu: %" PRIu64 " octets sent,"
		    " %llu announced", n, b->raw, said);
	if (listed != 0 && listed != b->raw)
		return fail(c, E_VERIFY, "RETR %lu: %" PRIu64 " octets sent,"
		    " LIST said %" PRIu64, n, b->raw, listed);
	if (!in_manifest(u, b))
		return fail(c, E_VERIFY, "RETR %lu: %" PRIu64 " octets, crc "
		    "%08x: not a message of %s", n, b->kept, b->crc, u->name);
	return E_NONE;
}

/* One fetch, poll or bulk session for user U. */
static enum err
session(struct conn *c, const struct user *u, struct stats *st)
{
	unsigned long count, i;
	uint64_t octets, sum = 0, *sizes = NULL;
	struct body b;
	char *reply;
	double t0;
	enum err e;

	if ((e = conn_open(c)) != E_NONE)
		return e;
	if ((e = login(c, u)) != E_NONE ||
	    (e = stat_cmd(c, &count, &octets)) != E_NONE)
		goto out;
	if (o_list) {
		sizes = xcalloc(count, sizeof *sizes);
		if ((e = listings(c, count, octets, sizes)) != E_NONE)
			goto out;
	}
	if (o_mode != M_POLL) {
		t0 = mono();
		for (i = 1; i <= count; i++) {
			if ((e = retr(c, u, i, sizes != NULL ? sizes[i - 1] :
			    0, &b)) != E_NONE)
				goto out;
			sum += b.raw;
			st->messages++;
			st->octets += b.raw;
		}
		st->retr_secs += mono() - t0;
		if (sum != octets) {
			e = fail(c, E_VERIFY, "messages add up to %" PRIu64
			    " octets, STAT said %" PRIu64, sum, octets);
			goto out;
		}
	}
	if ((e = command(c, &reply, "QUIT")) != E_NONE)
		goto out;
	e = expect_ok(c, "QUIT", reply);
out:
	free(sizes);
	conn_close(c);
	return e;
}

struct worker {
	pthread_t tid;
	int id;
	struct stats st;
};

static void
count_result(struct stats *st, struct conn *c, const struct user *u,
    enum err e, double t0)
{
	if (e == E_NONE) {
		st->sessions++;
		st->handshakes += c->handshakes;
		st->resumed += c->resumed;
		stats_lat(st, mono() - t0);
		return;
	}
	st->errors[e]++;
	snprintf(st->last_why, sizeof st->last_why, "%s: %s", u->name,
	    c->why);
	if (o_verbose)
		fprintf(stderr, "popload: %s\n", st->last_why);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct conn c;
	long done = 0;
	int k = 0, u;
	double t0;

	conn_init(&c);
	/* Thread i takes users i, i+T, i+2T, ...: no two threads ever
	 * share a maildrop (POP3 locks it for the session). */
	while (!stop_now && (o_maxsess == 0 || done < o_maxsess)) {
		u = w->id + k * o_threads;
		if (u >= nusers) {
			k = 0;
			u = w->id % nusers;
		}
		k++;
		t0 = mono();
		count_result(&w->st, &c, &users[u], session(&c, &users[u],
		    &w->st), t0);
		done++;
	}
	SSL_SESSION_free(c.sess);
	free(c.buf);
	pthread_mutex_lock(&done_lock);
	threads_done++;
	pthread_mutex_unlock(&done_lock);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
percentile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static void
print_tls(const struct stats *st)
{
	if (o_tls == T_NONE)
		return;
	printf(" tls=%s resume=%d handshakes=%ld resumed=%ld "
	    "resumed_pct=%.1f%s", o_tls == T_IMPLICIT ? "implicit" : "stls",
	    o_resume, st->handshakes, st->resumed, st->handshakes > 0 ?
	    100.0 * (double)st->resumed / (double)st->handshakes : 0,
	    tls_seen[0] != '\0' ? tls_seen : " tls_version=?");
}

static void
print_errors(const struct stats *st)
{
	long total = 0;
	int e;

	for (e = E_IO; e < E_COUNT; e++)
		total += st->errors[e];
	printf(" errors=%ld", total);
	for (e = E_IO; e < E_COUNT; e++)
		printf(" %s=%ld", err_names[e], st->errors[e]);
	printf("\n");
	fflush(stdout);
	if (total > 0)
		fprintf(stderr, "popload: last error: %s\n", st->last_why);
}

static void
run_load(void)
{
	struct worker *w;
	struct stats tot;
	double t0, secs;
	size_t off = 0;
	int i, e;

	if (nusers < o_threads)
		fprintf(stderr, "popload: %d threads but %d users: some "
		    "sessions will share a maildrop\n", o_threads, nusers);
	w = xcalloc((size_t)o_threads, sizeof *w);
	memset(&tot, 0, sizeof tot);
	t0 = mono();
	for (i = 0; i < o_threads; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]) != 0)
			die("pthread_create failed");
	}
	/*
	 * Fixed duration: then tell the threads to stop, and let each finish
	 * the session it is in.  With -N the threads stop by themselves
	 * (bounded by the caller's timeout).
	 */
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (o_maxsess == 0 && mono() - t0 >= o_secs)
			break;
		if (o_maxsess > 0 && threads_done == o_threads)
			break;
		nanosleep(&ts, NULL);
	}
	stop_now = 1;
	for (i = 0; i < o_threads; i++)
		pthread_join(w[i].tid, NULL);
	secs = mono() - t0;
	for (i = 0; i < o_threads; i++) {
		tot.sessions += w[i].st.sessions;
		tot.handshakes += w[i].st.handshakes;
		tot.resumed += w[i].st.resumed;
		tot.messages += w[i].st.messages;
		tot.octets += w[i].st.octets;
		for (e = 0; e < E_COUNT; e++)
			tot.errors[e] += w[i].st.errors[e];
		if (w[i].st.last_why[0] != '\0')
			memcpy(tot.last_why, w[i].st.last_why,
			    sizeof tot.last_why);
		tot.nlat += w[i].st.nlat;
	}
	tot.lat = xcalloc(tot.nlat, sizeof *tot.lat);
	for (i = 0; i < o_threads; i++) {
		if (w[i].st.nlat > 0)
			memcpy(tot.lat + off, w[i].st.lat,
			    w[i].st.nlat * sizeof *tot.lat);
		off += w[i].st.nlat;
		free(w[i].st.lat);
	}
	qsort(tot.lat, tot.nlat, sizeof *tot.lat, cmp_double);
	printf("RESULT mode=%s server=%s threads=%d secs=%.2f sessions=%ld "
	    "sess_per_s=%.1f msgs_per_s=%.1f MB_per_s=%.2f p50_ms=%.1f "
	    "p99_ms=%.1f quickack=%d verify=%s",
	    o_mode == M_POLL ? "poll" : "fetch", o_label, o_threads, secs,
	    tot.sessions, (double)tot.sessions / secs,
	    (double)tot.messages / secs, (double)tot.octets / 1e6 / secs,
	    percentile(tot.lat, tot.nlat, 0.50) * 1000,
	    percentile(tot.lat, tot.nlat, 0.99) * 1000, o_quickack,
	    o_manifest != NULL ? "manifest" : "framing");
	print_tls(&tot);
	print_errors(&tot);
	free(tot.lat);
	free(w);
}

static void
run_bulk(void)
{
	struct stats st;
	struct conn c;
	double t0;
	enum err e;

	memset(&st, 0, sizeof st);
	conn_init(&c);
	t0 = mono();
	e = session(&c, &users[0], &st);
	count_result(&st, &c, &users[0], e, t0);
	printf("RESULT mode=bulk server=%s user=%s ok=%d msgs=%ld "
	    "octets=%" PRIu64 " retr_secs=%.3f total_secs=%.3f "
	    "MB_per_s=%.2f quickack=%d verify=%s", o_label, users[0].name,
	    e == E_NONE, st.messages, st.octets, st.retr_secs, mono() - t0,
	    st.retr_secs > 0 ? (double)st.octets / 1e6 / st.retr_secs : 0,
	    o_quickack, o_manifest != NULL ? "manifest" : "framing");
	print_tls(&st);
	print_errors(&st);
	SSL_SESSION_free(c.sess);
	free(st.lat);
	free(c.buf);
}

/* ----------------------------------------------------------- login */

static void
run_login(void)
{
	struct conn c;
	const struct user *u = &users[0];
	unsigned long count = 0;
	uint64_t octets = 0;
	double *lg, *stt, t0, t1;
	char *reply;
	int i, ok = 0;
	enum err e = E_NONE;

	conn_init(&c);
	lg = xcalloc((size_t)o_reps, sizeof *lg);
	stt = xcalloc((size_t)o_reps, sizeof *stt);
	for (i = 0; i < o_reps; i++) {
		if ((e = conn_open(&c)) != E_NONE)
			break;
		if ((e = greeting(&c)) != E_NONE)
			break;
		/* from USER to the answer to PASS: a server may do the
		 * maildrop work at PASS or at the first command, so STAT
		 * is timed too */
		t0 = mono();
		if ((e = command(&c, &reply, "USER %s", u->name)) != E_NONE ||
		    (e = expect_ok(&c, "USER", reply)) != E_NONE ||
		    (e = command(&c, &reply, "PASS %s", u->pass)) != E_NONE ||
		    (e = expect_ok(&c, "PASS", reply)) != E_NONE)
			break;
		t1 = mono();
		if ((e = stat_cmd(&c, &count, &octets)) != E_NONE)
			break;
		lg[ok] = t1 - t0;
		stt[ok] = mono() - t1;
		ok++;
		if ((e = command(&c, &reply, "QUIT")) != E_NONE)
			break;
		conn_close(&c);
	}
	conn_close(&c);
	printf("RESULT mode=login server=%s user=%s reps=%d ok=%d "
	    "messages=%lu octets=%" PRIu64, o_label, u->name, o_reps, ok,
	    count, octets);
	for (i = 0; i < ok; i++)
		printf(" login%d_s=%.3f stat%d_s=%.3f", i + 1, lg[i], i + 1,
		    stt[i]);
	qsort(lg, (size_t)ok, sizeof *lg, cmp_double);
	qsort(stt, (size_t)ok, sizeof *stt, cmp_double);
	printf(" login_median_s=%.3f stat_median_s=%.3f errors=%d\n",
	    ok > 0 ? lg[ok / 2] : 0, ok > 0 ? stt[ok / 2] : 0,
	    e != E_NONE);
	fflush(stdout);
	if (e != E_NONE)
		fprintf(stderr, "popload: %s: %s\n", u->name, c.why);
	free(lg);
	free(stt);
	SSL_SESSION_free(c.sess);
	free(c.buf);
}

/* ------------------------------------------------------------ idle */

struct mem {
	long procs;
	long long rss_kb, pss_kb;
};

/* Parent pid of P from /proc/P/stat, or -1. */
static pid_t
ppid_of(pid_t p)
{
	char path[64], buf[512], *rp;
	FILE *fp;
	long pp;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)p);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof buf, fp) == NULL) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	/* the command name may hold spaces and ')': skip to the last ')' */
	if ((rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 1, " %*c %ld", &pp) != 1)
		return -1;
	return (pid_t)pp;
}

static void
add_rollup(pid_t p, struct mem *m)
{
	char path[64], line[256];
	long long v;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", (long)p);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "Rss: %lld kB", &v) == 1)
			m->rss_kb += v;
		else if (sscanf(line, "Pss: %lld kB", &v) == 1)
			m->pss_kb += v;
	}
	fclose(fp);
	m->procs++;
}

/* Memory of ROOT and all its descendants. */
static struct mem
tree_mem(pid_t root)
{
	struct mem m;
	pid_t *pids = NULL, *par = NULL, p;
	char *in = NULL;
	size_t n = 0, cap = 0, i;
	struct dirent *de;
	int changed;
	DIR *d;

	memset(&m, 0, sizeof m);
	if ((d = opendir("/proc")) == NULL)
		die("/proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = (pid_t)strtol(de->d_name, NULL, 10);
		if (n == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			pids = realloc(pids, cap * sizeof *pids);
			par = realloc(par, cap * sizeof *par);
			if (pids == NULL || par == NULL)
				die("out of memory");
		}
		pids[n] = p;
		par[n] = ppid_of(p);
		n++;
	}
	closedir(d);
	in = xcalloc(n, 1);
	for (i = 0; i < n; i++)
		if (pids[i] == root)
			in[i] = 1;
	do {
		changed = 0;
		for (i = 0; i < n; i++) {
			size_t j;

			if (in[i])
				continue;
			for (j = 0; j < n; j++)
				if (in[j] && pids[j] == par[i]) {
					in[i] = 1;
					changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < n; i++)
		if (in[i])
			add_rollup(pids[i], &m);
	free(pids);
	free(par);
	free(in);
	return m;
}

struct opener {
	pthread_t tid;
	int id;
	int *fds;		/* shared, one per session */
	long ok, failed;
	char why[400];
};

static void *
opener_run(void *arg)
{
	struct opener *op = arg;
	unsigned long count;
	uint64_t octets;
	struct conn c;
	enum err e;
	int i;

	conn_init(&c);
	for (i = op->id; i < o_idle_n; i += o_openers) {
		const struct user *u = &users[i % nusers];

		if ((e = conn_open(&c)) == E_NONE &&
		    (e = login(&c, u)) == E_NONE &&
		    (e = stat_cmd(&c, &count, &octets)) == E_NONE) {
			op->fds[i] = c.fd;	/* kept open: the session */
			c.fd = -1;
			op->ok++;
		} else {
			conn_close(&c);
			op->fds[i] = -1;
			op->failed++;
			snprintf(op->why, sizeof op->why, "%s: %s", u->name,
			    c.why);
		}
		c.r = c.w = 0;
	}
	free(c.buf);
	return NULL;
}

/* Send CMD on FD and read one line; 0 if it was +OK. */
static int
fd_command(int fd, const char *cmd)
{
	struct conn c;
	char *reply;
	size_t len;
	int crlf, r;

	conn_init(&c);
	c.fd = fd;
	r = conn_send(&c, cmd, strlen(cmd)) == E_NONE &&
	    conn_line(&c, &reply, &len, &crlf) == E_NONE && is_ok(reply) ?
	    0 : -1;
	free(c.buf);
	return r;
}

static void
run_idle(void)
{
	struct opener *ops;
	struct mem base, loaded;
	struct rlimit rl;
	struct timespec hold;
	int *fds, i, alive = 0;
	long ok = 0, failed = 0;
	double t0, open_secs;
	const char *why = "";

	if (o_pid <= 0)
		die("idle needs --pid (the root process of the server)");
	if (o_idle_n > nusers)
		fprintf(stderr, "popload: %d sessions but %d users: a POP3 "
		    "server that locks maildrops refuses the extra ones\n",
		    o_idle_n, nusers);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)o_idle_n + 64)
			die("descriptor limit %llu is too low for %d sessions",
			    (unsigned long long)rl.rlim_cur, o_idle_n);
	}
	base = tree_mem(o_pid);
	fds = xcalloc((size_t)o_idle_n, sizeof *fds);
	ops = xcalloc((size_t)o_openers, sizeof *ops);
	t0 = mono();
	for (i = 0; i < o_openers; i++) {
		ops[i].id = i;
		ops[i].fds = fds;
		if (pthread_create(&ops[i].tid, NULL, opener_run, &ops[i]))
			die("pthread_create failed");
	}
	for (i = 0; i < o_openers; i++) {
		pthread_join(ops[i].tid, NULL);
		ok += ops[i].ok;
		failed += ops[i].failed;
		if (ops[i].why[0] != '\0')
			why = ops[i].why;
	}
	open_secs = mono() - t0;
	hold.tv_sec = (time_t)o_hold;
	hold.tv_nsec = (long)((o_hold - (double)hold.tv_sec) * 1e9);
	nanosleep(&hold, NULL);
	loaded = tree_mem(o_pid);
	for (i = 0; i < o_idle_n; i++)
		if (fds[i] != -1 && fd_command(fds[i], "NOOP\r\n") == 0)
			alive++;
	for (i = 0; i < o_idle_n; i++)
		if (fds[i] != -1) {
			(void)fd_command(fds[i], "QUIT\r\n");
			close(fds[i]);
		}
	printf("RESULT mode=idle server=%s n=%d ok=%ld alive=%d "
	    "open_secs=%.2f base_procs=%ld base_rss_kb=%lld "
	    "base_pss_kb=%lld procs=%ld rss_kb=%lld pss_kb=%lld "
	    "rss_per_sess_kb=%.1f pss_per_sess_kb=%.1f errors=%ld\n",
	    o_label, o_idle_n, ok, alive, open_secs, base.procs,
	    base.rss_kb, base.pss_kb, loaded.procs, loaded.rss_kb,
	    loaded.pss_kb,
	    ok > 0 ? (double)(loaded.rss_kb - base.rss_kb) / (double)ok : 0,
	    ok > 0 ? (double)(loaded.pss_kb - base.pss_kb) / (double)ok : 0,
	    failed + (ok - alive));
	fflush(stdout);
	if (failed > 0)
		fprintf(stderr, "popload: last open error: %s\n", why);
	free(fds);
	free(ops);
}

/* ------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
"usage: popload fetch|poll|bulk|idle|login [options]\n"
"  -h HOST        server address [127.0.0.1] (127.0.0.0/8 only, see --any-host)\n"
"  -p PORT        server port [110]\n"
"  -u TEMPLATE    user name, printf with one %%d (e.g. popbench%%d)\n"
"  -r FIRST:LAST  the %%d range [1:1]\n"
"  -P PASSWORD    the same password for every user [popbench]\n"
"  -F FILE        user:password lines instead of -u/-r/-P\n"
"  -M DIR         manifests from gen-maildrops.py: check every message\n"
"  --skip-header NAME   leave NAME: header lines out of the manifest check\n"
"  --list         also LIST and UIDL in every session, and check them\n"
"  -c THREADS     fetch/poll: concurrent sessions [4]\n"
"  -t SECONDS     fetch/poll: how long [10]\n"
"  -N SESSIONS    fetch/poll: stop each thread after this many (warm-up)\n"
"  --quickack     set TCP_QUICKACK before every read\n"
"  -n SESSIONS    idle: sessions to hold [100]\n"
"  -o OPENERS     idle: threads opening them [4]\n"
"  --hold SECONDS idle: how long to hold them before measuring [2]\n"
"  --pid PID      idle: root process of the server\n"
"  -R REPS        login: repetitions [3]\n"
"  --tls implicit|stls  fetch/poll/bulk/login over TLS: from the first octet\n"
"                 (pop3s) or after STLS; TLS 1.3 only\n"
"  --ca FILE      with --tls: the CA file the server's certificate must verify\n"
"  --tls-name NAME  with --tls: the name the certificate must hold [localhost]\n"
"  --tls-groups LIST  with --tls: key exchange groups offered [X25519]\n"
"  --resume       with --tls: offer each thread's last session ticket\n"
"  -l LABEL       server name in the RESULT line\n"
"  --timeout SECONDS  per socket operation [60]\n"
"  -v             print every failed session\n");
	exit(2);
}

static long
num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("%s must be a number from %ld to %ld", what, lo, hi);
	return v;
}

static double
fnum(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		die("%s must be a number from %g to %g", what, lo, hi);
	return v;
}

int
main(int argc, char **argv)
{
	enum { O_QUICKACK = 256, O_LIST, O_HOLD, O_PID, O_TIMEOUT, O_ANY,
	    O_SKIP, O_TLS, O_CA, O_TLS_NAME, O_TLS_GROUPS, O_RESUME };
	static const struct option lo[] = {
		{ "quickack", no_argument, NULL, O_QUICKACK },
		{ "list", no_argument, NULL, O_LIST },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "pid", required_argument, NULL, O_PID },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "any-host", no_argument, NULL, O_ANY },
		{ "skip-header", required_argument, NULL, O_SKIP },
		{ "tls", required_argument, NULL, O_TLS },
		{ "ca", required_argument, NULL, O_CA },
		{ "tls-name", required_argument, NULL, O_TLS_NAME },
		{ "tls-groups", required_argument, NULL, O_TLS_GROUPS },
		{ "resume", no_argument, NULL, O_RESUME },
		{ NULL, 0, NULL, 0 }
	};
	const char *m;
	char *colon;
	int ch;

	if (argc < 2)
		usage();
	m = argv[1];
	if (strcmp(m, "fetch") == 0)
		o_mode = M_FETCH;
	else if (strcmp(m, "poll") == 0)
		o_mode = M_POLL;
	else if (strcmp(m, "bulk") == 0)
		o_mode = M_BULK;
	else if (strcmp(m, "idle") == 0)
		o_mode = M_IDLE;
	else if (strcmp(m, "login") == 0)
		o_mode = M_LOGIN;
	else
		usage();
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "h:p:u:r:P:F:M:c:t:N:n:o:R:l:v",
	    lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o_host = optarg; break;
		case 'p': o_port = (int)num(optarg, 1, 65535, "-p"); break;
		case 'u': o_template = optarg; break;
		case 'r':
			if ((colon = strchr(optarg, ':')) == NULL)
				die("-r wants FIRST:LAST");
			*colon = '\0';
			o_first = (int)num(optarg, 0, 10000000, "-r FIRST");
			o_last = (int)num(colon + 1, o_first, 10000000,
			    "-r LAST");
			break;
		case 'P': o_password = optarg; break;
		case 'F': o_userfile = optarg; break;
		case 'M': o_manifest = optarg; break;
		case 'c': o_threads = (int)num(optarg, 1, THREADS_MAX, "-c");
			break;
		case 't': o_secs = fnum(optarg, 0.1, 86400, "-t"); break;
		case 'N': o_maxsess = num(optarg, 1, LONG_MAX, "-N"); break;
		case 'n': o_idle_n = (int)num(optarg, 1, IDLE_MAX, "-n");
			break;
		case 'o': o_openers = (int)num(optarg, 1, 256, "-o"); break;
		case 'R': o_reps = (int)num(optarg, 1, 1000, "-R"); break;
		case 'l': o_label = optarg; break;
		case 'v': o_verbose = 1; break;
		case O_QUICKACK: o_quickack = 1; break;
		case O_LIST: o_list = 1; break;
		case O_HOLD: o_hold = fnum(optarg, 0, 3600, "--hold"); break;
		case O_PID: o_pid = (pid_t)num(optarg, 1, INT_MAX, "--pid");
			break;
		case O_TIMEOUT:
			o_timeout = (int)num(optarg, 1, 3600, "--timeout");
			break;
		case O_ANY: o_any_host = 1; break;
		case O_SKIP:
			if (o_nskip == SKIP_MAX)
				die("at most %d --skip-header", SKIP_MAX);
			o_skip[o_nskip++] = optarg;
			break;
		case O_TLS:
			if (strcmp(optarg, "implicit") == 0)
				o_tls = T_IMPLICIT;
			else if (strcmp(optarg, "stls") == 0)
				o_tls = T_STLS;
			else
				die("--tls wants implicit or stls");
			break;
		case O_CA: o_ca = optarg; break;
		case O_TLS_NAME: o_tls_name = optarg; break;
		case O_TLS_GROUPS: o_tls_groups = optarg; break;
		case O_RESUME: o_resume = 1; break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (inet_pton(AF_INET, o_host, &o_addr) != 1)
		die("-h wants an IPv4 address");
	if (!o_any_host && (ntohl(o_addr.s_addr) >> 24) != 127)
		die("%s is not a loopback address (--any-host to allow it)",
		    o_host);
	if (o_tls != T_NONE && o_mode == M_IDLE)
		die("idle holds plaintext sessions only (no --tls)");
	if (o_tls == T_NONE && (o_resume || o_ca != NULL))
		die("--resume and --ca go with --tls");
	if (o_tls != T_NONE)
		tls_setup();
	signal(SIGPIPE, SIG_IGN);
	crc_init();
	load_users();
	switch (o_mode) {
	case M_FETCH:
	case M_POLL:
		run_load();
		break;
	case M_BULK:
		run_bulk();
		break;
	case M_IDLE:
		run_idle();
		break;
	case M_LOGIN:
		run_login();
		break;
	}
	return 0;
}
