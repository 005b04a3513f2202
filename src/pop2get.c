/*
 * pop2get.c - a small POP2 (RFC 937) client for administrators: log in,
 * list or fetch every message of a mailbox into a Maildir, an mbox file or
 * standard output, check each message against its announced size, then
 * keep (ACKS) or delete (ACKD) it.  See pop2get(1).
 *
 * Runs as the invoking user with no privilege of its own.  It links the
 * daemon's own RFC 937 quoting and number parsing (lex.c) and its
 * escaping (log_escape() in log.c), so client and server cannot drift
 * apart.  Server text is never printed raw: a hostile server's control
 * and terminal escape sequences reach the terminal as \xHH.
 *
 * Exit codes: 0 ok, 1 usage, 2 connect or I/O error, 3 login refused,
 * 4 protocol error (bad reply, size mismatch), 5 delivery error.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "defaults.h"
#include "lex.h"
#include "log.h"

#define EX_OK_		0
#define EX_USAGE_	1
#define EX_IO		2
#define EX_LOGIN	3
#define EX_PROTO	4
#define EX_DELIVERY	5

/* RFC 937 "Sizes": a reply line is at most 512 octets with its CRLF. */
#define REPLY_MAX	POP2_REPLY_MAX
/* RFC 937 "Sizes": a command line is at most 512 octets with its CRLF. */
#define CMD_MAX		(POP2_LINE_MAX + 2)
/* The longest password the daemon's login takes (IPC_SECRET_MAX). */
#define SECRET_MAX	255
/* Server text in an error message: this many octets, escaped. */
#define SHOWN_MAX	80
#define DEF_PORT	"109"	/* no "pop2" in Debian's /etc/services */
#define DEF_TIMEOUT	120

static const char *progname = "pop2get";
static int verbose;

static void __attribute__((format(printf, 1, 2)))
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Server text made safe for a terminal: every control character, every
 * octet >= 0x80 and the backslash become \xHH (log_escape()), so escape
 * sequences of a hostile server are shown, not obeyed.  At most MAX
 * octets of S are shown, then "...".  The text lives in one of two static
 * buffers, which alternate, so two calls may share one printf.
 */
static const char *
shown(const char *s, size_t max)
{
	static char buf[2][4 * REPLY_MAX + 4];
	static int which;
	size_t len = strlen(s);

	which = !which;
	if (len <= max)
		return log_escape(s, len, buf[which], sizeof(buf[0]));
	log_escape(s, max, buf[which], sizeof(buf[0]) - 3);
	/* UNSAFE: 4 * max + 1 <= sizeof - 3 for max <= REPLY_MAX. */
	memcpy(buf[which] + strlen(buf[which]), "...", 4);
	return buf[which];
}

/* ------------------------------------------------------- connection */

struct conn {
	int fd;
	int timeout_ms;		/* per read or write, without progress */
	char buf[16384];
	size_t start, end;	/* unread bytes are buf[start..end) */
	int eof;
};

/* Wait for FD to become readable (POLLIN) or writable.  0, or -1 with
 * errno ETIMEDOUT. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd;
	int r;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* Read more bytes into the buffer.  1 got some, 0 EOF, -1 error. */
static int
conn_fill(struct conn *c)
{
	ssize_t r;

	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->end == sizeof(c->buf) && c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof(c->buf)) {
		errno = ENOBUFS;
		return -1;
	}
	if (wait_fd(c->fd, POLLIN, c->timeout_ms) == -1)
		return -1;
	do
		r = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (r == 0) {
		c->eof = 1;
		return 0;
	}
	c->end += (size_t)r;
	return 1;
}

/*
 * Read one reply line into OUT (size REPLY_MAX + 1), without its CRLF (a
 * bare LF is accepted).  Returns 0, or the exit code to use.
 */
static int
conn_reply(struct conn *c, char *out)
{
	char *lf;
	size_t len;
	int r;

	for (;;) {
		lf = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (lf != NULL)
			break;
		if (c->end - c->start > REPLY_MAX) {
			warnmsg("reply line longer than %d octets", REPLY_MAX);
			return EX_PROTO;
		}
		if ((r = conn_fill(c)) == 0) {
			warnmsg("server closed the connection");
			return EX_PROTO;
		}
		if (r == -1) {
			warnmsg("read: %s", strerror(errno));
			return EX_IO;
		}
	}
	len = (size_t)(lf - (c->buf + c->start));
	if (len + 1 > REPLY_MAX) {
		warnmsg("reply line longer than %d octets", REPLY_MAX);
		return EX_PROTO;
	}
	memcpy(out, c->buf + c->start, len);
	c->start += len + 1;
	if (len > 0 && out[len - 1] == '\r')
		len--;
	out[len] = '\0';
	if (memchr(out, '\0', len) != NULL) {
		warnmsg("NUL byte in a reply line");
		return EX_PROTO;
	}
	if (verbose)
		fprintf(stderr, "S: %s\n", shown(out, REPLY_MAX));
	return 0;
}

static int
write_all(int fd, const void *p, size_t len, int timeout_ms)
{
	const char *s = p;
	ssize_t r;

	while (len > 0) {
		if (timeout_ms >= 0 && wait_fd(fd, POLLOUT, timeout_ms) == -1)
			return -1;
		r = write(fd, s, len);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		s += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Send "LINE\r\n"; SHOWN is what -v prints (NULL: LINE).  0 or EX_IO. */
static int
conn_cmd(struct conn *c, const char *line, const char *shown)
{
	char buf[CMD_MAX + 1];
	int n;

	n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		warnmsg("command longer than %d octets", CMD_MAX);
		explicit_bzero(buf, sizeof(buf));
		return EX_USAGE_;
	}
	if (verbose)
		fprintf(stderr, "C: %s\n", shown != NULL ? shown : line);
	if (write_all(c->fd, buf, (size_t)n, c->timeout_ms) == -1) {
		warnmsg("write: %s", strerror(errno));
		explicit_bzero(buf, sizeof(buf));
		return EX_IO;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Parse the number after '#' or '=' (lex_number(): the daemon's own
 * rules), followed by the end or a space. */
static int
parse_number(const char *s, uint64_t *n_r)
{
	const char *end;

	if (lex_number(s, UINT64_MAX, n_r, &end) != 0 ||
	    (*end != '\0' && *end != ' '))
		return -1;
	return 0;
}

/*
 * Read a reply that must start with INDICATOR ('#' or '=') and a number.
 * A '-' reply is reported with its text.  0, or an exit code.
 */
static int
conn_number(struct conn *c, char indicator, const char *what, uint64_t *n_r)
{
	char line[REPLY_MAX + 1];
	int rc;

	if ((rc = conn_reply(c, line)) != 0)
		return rc;
	if (line[0] == indicator && parse_number(line + 1, n_r) == 0)
		return 0;
	if (line[0] == '-')
		warnmsg("%s refused: %s", what, shown(line, SHOWN_MAX));
	else
		warnmsg("unexpected reply to %s: %s", what,
		    shown(line, SHOWN_MAX));
	return EX_PROTO;
}

static int
conn_open(struct conn *c, const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, err = 0, soerr;
	socklen_t len;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		warnmsg("%s port %s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS &&
		    wait_fd(fd, POLLOUT, c->timeout_ms) == 0) {
			len = sizeof(soerr);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &len) == 0 && soerr == 0)
				break;
			errno = soerr;
		}
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		warnmsg("connect to %s port %s: %s", host, port,
		    strerror(err));
		return -1;
	}
	/* Back to blocking; every read and write is guarded by poll(). */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1) {
		warnmsg("fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

/* ------------------------------------------------------ delivery */

enum dest { DEST_NONE, DEST_MAILDIR, DEST_MBOX, DEST_STDOUT };

struct sink {
	enum dest kind;
	const char *path;
	int fd;			/* output file (mbox, Maildir tmp, stdout) */
	/* Maildir */
	char tmpname[PATH_MAX], newname[PATH_MAX];
	unsigned seq;
	/* mbox */
	off_t start;		/* file size before this message */
	/* output buffer */
	char out[16384];
	size_t outlen;
	int failed;
	/* conversion state */
	int pending_cr;		/* a CR was seen, the next byte decides */
	int at_bol;		/* at the beginning of a line */
	size_t gt;		/* mbox: '>' seen at the line start */
	size_t from;		/* mbox: octets of "From " matched after them */
	char last;		/* last octet written */
};

static void
sink_put(struct sink *k, const char *p, size_t len)
{
	if (k->failed || len == 0)
		return;
	k->last = p[len - 1];
	if (k->outlen + len > sizeof(k->out)) {
		if (write_all(k->fd, k->out, k->outlen, -1) == -1) {
			k->failed = errno;
			return;
		}
		k->outlen = 0;
	}
	if (len > sizeof(k->out)) {
		if (write_all(k->fd, p, len, -1) == -1)
			k->failed = errno;
		return;
	}
	memcpy(k->out + k->outlen, p, len);
	k->outlen += len;
}

static int
sink_flush(struct sink *k)
{
	if (!k->failed && k->outlen > 0 &&
	    write_all(k->fd, k->out, k->outlen, -1) == -1)
		k->failed = errno;
	k->outlen = 0;
	return k->failed ? -1 : 0;
}

/* mbox: emit the pending line-start octets, quoted if they were a From_
 * line ("From " after any number of '>': mboxrd). */
static void
mbox_release_prefix(struct sink *k, int quote)
{
	static const char from[] = "From ";
	size_t i;

	if (quote)
		sink_put(k, ">", 1);
	for (i = 0; i < k->gt; i++)
		sink_put(k, ">", 1);
	sink_put(k, from, k->from);
	k->gt = k->from = 0;
}

/* One octet of message text with LF line ends into the file. */
static void
sink_text_octet(struct sink *k, char ch)
{
	static const char from[] = "From ";

	if (k->kind != DEST_MBOX) {
		sink_put(k, &ch, 1);
		return;
	}
	if (k->at_bol) {
		if (ch == '>' && k->from == 0) {
			k->gt++;
			return;
		}
		if (k->from < 5 && ch == from[k->from]) {
			if (++k->from == 5) {
				mbox_release_prefix(k, 1);
				k->at_bol = 0;
			}
			return;
		}
		mbox_release_prefix(k, 0);
		k->at_bol = 0;
	}
	sink_put(k, &ch, 1);
	if (ch == '\n')
		k->at_bol = 1;
}

/* Message octets as received: CRLF becomes LF for files, stdout gets
 * them unchanged. */
static void
sink_write(struct sink *k, const char *p, size_t len)
{
	size_t i;

	if (k->kind == DEST_STDOUT) {
		sink_put(k, p, len);
		return;
	}
	for (i = 0; i < len; i++) {
		if (k->pending_cr) {
			k->pending_cr = 0;
			if (p[i] == '\n') {
				sink_text_octet(k, '\n');
				continue;
			}
			sink_text_octet(k, '\r');
		}
		if (p[i] == '\r')
			k->pending_cr = 1;
		else
			sink_text_octet(k, p[i]);
	}
}

static int
mkdir_p1(const char *path)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		warnmsg("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Open the destination once, before the first message.  0 or -1. */
static int
sink_open(struct sink *k)
{
	char p[PATH_MAX];
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct flock fl;
	size_t i;
	int n;

	k->fd = -1;
	switch (k->kind) {
	case DEST_MAILDIR:
		if (mkdir_p1(k->path) == -1)
			return -1;
		for (i = 0; i < 3; i++) {
			n = snprintf(p, sizeof(p), "%s/%s", k->path, sub[i]);
			if (n < 0 || (size_t)n >= sizeof(p)) {
				warnmsg("%s: path too long", k->path);
				return -1;
			}
			if (mkdir_p1(p) == -1)
				return -1;
		}
		return 0;
	case DEST_MBOX:
		k->fd = open(k->path, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (k->fd == -1) {
			warnmsg("%s: %s", k->path, strerror(errno));
			return -1;
		}
		/* The lock other mbox programs honour (fcntl, as procmail
		 * and mutt use), held for the whole run. */
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(k->fd, F_SETLK, &fl) == -1) {
			warnmsg("%s: cannot lock: %s", k->path,
			    strerror(errno));
			close(k->fd);
			k->fd = -1;
			return -1;
		}
		return 0;
	case DEST_STDOUT:
		k->fd = STDOUT_FILENO;
		return 0;
	default:
		return 0;
	}
}

/* Maildir: a new file in tmp/ named time.MusecPpidQseq.host.  0 or -1. */
static int
sink_begin_maildir(struct sink *k)
{
	char host[256];
	struct timeval tv;
	size_t i;
	int len;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (host[i] == '/' || host[i] == ':')
			host[i] = '_';
	gettimeofday(&tv, NULL);
	k->seq++;
	len = snprintf(k->tmpname, sizeof(k->tmpname),
	    "%s/tmp/%lld.M%ldP%ldQ%u.%s", k->path, (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), k->seq, host);
	if (len < 0 || (size_t)len >= sizeof(k->tmpname))
		goto toolong;
	len = snprintf(k->newname, sizeof(k->newname),
	    "%s/new/%lld.M%ldP%ldQ%u.%s", k->path, (long long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), k->seq, host);
	if (len < 0 || (size_t)len >= sizeof(k->newname))
		goto toolong;
	k->fd = open(k->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (k->fd == -1) {
		warnmsg("%s: %s", k->tmpname, strerror(errno));
		return -1;
	}
	return 0;
toolong:
	warnmsg("%s: path too long", k->path);
	return -1;
}

/* mbox: remember where the message starts, make sure an empty line
 * comes before its From_ line, write that line.  0 or -1. */
static int
sink_begin_mbox(struct sink *k)
{
	char from[128], tail[2] = { '\n', '\n' };
	struct stat st;
	time_t now;
	off_t off;
	size_t want;
	int len, fd;

	if (fstat(k->fd, &st) == -1) {
		warnmsg("%s: %s", k->path, strerror(errno));
		return -1;
	}
	k->start = st.st_size;
	/* A From_ line must follow an empty line (or start the file):
	 * finish a foreign file that does not end so. */
	if (st.st_size > 0) {
		off = st.st_size >= 2 ? st.st_size - 2 : 0;
		want = st.st_size >= 2 ? 2 : 1;
		fd = open(k->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 || pread(fd, tail + 2 - want, want, off) !=
		    (ssize_t)want) {
			warnmsg("%s: %s", k->path, strerror(errno));
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
		if (tail[1] != '\n')
			sink_put(k, "\n\n", 2);
		else if (tail[0] != '\n')
			sink_put(k, "\n", 1);
	}
	now = time(NULL);
	len = snprintf(from, sizeof(from), "From MAILER-DAEMON %s",
	    ctime(&now));	/* ctime's text ends in "\n" */
	if (len < 0 || (size_t)len >= sizeof(from))
		return -1;
	sink_put(k, from, (size_t)len);
	k->at_bol = 1;
	return 0;
}

/* Start message N (1-based).  0 or -1. */
static int
sink_begin(struct sink *k, uint64_t n)
{
	k->outlen = 0;
	k->failed = 0;
	k->pending_cr = 0;
	k->at_bol = 1;
	k->gt = k->from = 0;
	k->last = '\n';
	switch (k->kind) {
	case DEST_MAILDIR:
		return sink_begin_maildir(k);
	case DEST_MBOX:
		return sink_begin_mbox(k);
	default:
		(void)n;
		return 0;
	}
}

/* Finish the message durably.  0 or -1 (then sink_abort). */
static int
sink_end(struct sink *k)
{
	char dir[PATH_MAX];
	int n;

	if (k->pending_cr) {
		k->pending_cr = 0;
		sink_text_octet(k, '\r');
	}
	if (k->kind == DEST_MBOX) {
		if (k->gt > 0 || k->from > 0)
			mbox_release_prefix(k, 0);
		/* The message ends in a newline, then one empty line
		 * separates it from the next From_ line. */
		if (k->last != '\n')
			sink_put(k, "\n", 1);
		sink_put(k, "\n", 1);
	}
	if (sink_flush(k) == -1) {
		warnmsg("%s: write: %s", k->kind == DEST_STDOUT ? "stdout" :
		    k->path, strerror(k->failed));
		return -1;
	}
	switch (k->kind) {
	case DEST_MAILDIR:
		if (fsync(k->fd) == -1 || close(k->fd) == -1) {
			warnmsg("%s: %s", k->tmpname, strerror(errno));
			k->fd = -1;
			return -1;
		}
		k->fd = -1;
		if (rename(k->tmpname, k->newname) == -1) {
			warnmsg("rename %s: %s", k->tmpname, strerror(errno));
			return -1;
		}
		n = snprintf(dir, sizeof(dir), "%s/new", k->path);
		if (n > 0 && (size_t)n < sizeof(dir) &&
		    fsync_dir(dir) == -1) {
			warnmsg("fsync %s: %s", dir, strerror(errno));
			return -1;
		}
		k->tmpname[0] = '\0';
		return 0;
	case DEST_MBOX:
		if (fsync(k->fd) == -1) {
			warnmsg("%s: fsync: %s", k->path, strerror(errno));
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* Undo a half-written message. */
static void
sink_abort(struct sink *k)
{
	k->outlen = 0;
	switch (k->kind) {
	case DEST_MAILDIR:
		if (k->fd != -1)
			close(k->fd);
		k->fd = -1;
		if (k->tmpname[0] != '\0')
			unlink(k->tmpname);
		k->tmpname[0] = '\0';
		break;
	case DEST_MBOX:
		if (ftruncate(k->fd, k->start) == -1)
			warnmsg("%s: cannot undo a partial message: %s",
			    k->path, strerror(errno));
		break;
	default:
		break;
	}
}

static void
sink_close(struct sink *k)
{
	if (k->kind == DEST_MBOX && k->fd != -1)
		close(k->fd);	/* releases the lock */
	k->fd = -1;
}

/* --------------------------------------------------------- password */

static int
read_secret_fd(int fd, char *out, size_t outsz)
{
	size_t n = 0;
	ssize_t r;
	char ch;

	for (;;) {
		r = read(fd, &ch, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0 || ch == '\n')
			break;
		if (n + 1 >= outsz) {
			explicit_bzero(out, outsz);
			errno = ENAMETOOLONG;
			return -1;
		}
		out[n++] = ch;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return 0;
}

static int
read_secret_file(const char *path, char *out, size_t outsz)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warnmsg("%s: %s", path, strerror(errno));
		return -1;
	}
	rc = read_secret_fd(fd, out, outsz);
	if (rc == -1)
		warnmsg("%s: %s", path, errno == ENAMETOOLONG ?
		    "password too long" : strerror(errno));
	close(fd);
	return rc;
}

/* Prompt on the terminal with echo off. */
static int
read_secret_tty(const char *user, const char *host, char *out,
    size_t outsz)
{
	struct termios old, noecho;
	char prompt[600];
	int fd, rc, n;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1) {
		warnmsg("no terminal to ask for the password: use -P FILE"
		    " or --password-fd N");
		return -1;
	}
	n = snprintf(prompt, sizeof(prompt), "Password for %s@%s: ", user,
	    host);
	if (n < 0 || (size_t)n >= sizeof(prompt))
		n = snprintf(prompt, sizeof(prompt), "Password: ");
	if (tcgetattr(fd, &old) == -1) {
		warnmsg("/dev/tty: %s", strerror(errno));
		close(fd);
		return -1;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	/* Echo off (and stale input dropped) before the prompt, so
	 * nothing typed after it is echoed or lost. */
	if (tcsetattr(fd, TCSAFLUSH, &noecho) == -1) {
		warnmsg("/dev/tty: %s", strerror(errno));
		close(fd);
		return -1;
	}
	(void)write_all(fd, prompt, (size_t)n, -1);
	rc = read_secret_fd(fd, out, outsz);
	tcsetattr(fd, TCSANOW, &old);
	(void)write_all(fd, "\n", 1, -1);
	close(fd);
	if (rc == -1)
		warnmsg("cannot read the password");
	return rc;
}

/* ------------------------------------------------------------- main */

struct opts {
	const char *host, *port, *user, *passfile, *folder, *dest_path;
	int passfd;
	int list, delete;
	enum dest dest;
	int timeout;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: %s [-h host] [-p port] -u user [-P passfile | --password-fd N]\n"
"              [--folder NAME] [--list] [--keep | --delete]\n"
"              [--maildir DIR | --mbox FILE | --stdout] [-t secs] [-v]\n"
"  -h, --host HOST        POP2 server (default localhost)\n"
"  -p, --port PORT        port (default 109)\n"
"  -u, --user USER        login name\n"
"  -P, --password-file F  read the password from the first line of F\n"
"      --password-fd N    read the password from file descriptor N\n"
"                         (default: ask on the terminal)\n"
"      --folder NAME      FOLD to this mailbox after login\n"
"      --list             print \"n size\" for every message\n"
"      --keep             keep fetched messages (ACKS; default)\n"
"      --delete           delete fetched messages (ACKD)\n"
"      --maildir DIR      deliver into Maildir DIR (LF line ends)\n"
"      --mbox FILE        append to mbox FILE (From_ lines, >From quoting)\n"
"      --stdout           write messages to stdout as received (CRLF)\n"
"  -t, --timeout SECS     idle timeout for each reply (default %d)\n"
"  -v, --verbose          show the dialogue on stderr (never the password)\n"
"exit: 0 ok, 1 usage, 2 connect/IO error, 3 login refused,\n"
"      4 protocol error, 5 delivery error\n", progname, DEF_TIMEOUT);
}

static int
set_dest(struct opts *o, enum dest d, const char *path)
{
	if (o->dest != DEST_NONE) {
		warnmsg("choose one of --maildir, --mbox, --stdout");
		return -1;
	}
	o->dest = d;
	o->dest_path = path;
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_PWFD = 256, O_FOLDER, O_LIST, O_KEEP, O_DELETE, O_MAILDIR,
	    O_MBOX, O_STDOUT, O_HELP, O_VERSION };
	static const struct option lopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "password-fd", required_argument, NULL, O_PWFD },
		{ "folder", required_argument, NULL, O_FOLDER },
		{ "list", no_argument, NULL, O_LIST },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "delete", no_argument, NULL, O_DELETE },
		{ "maildir", required_argument, NULL, O_MAILDIR },
		{ "mbox", required_argument, NULL, O_MBOX },
		{ "stdout", no_argument, NULL, O_STDOUT },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	long v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "localhost";
	o->port = DEF_PORT;
	o->passfd = -1;
	o->timeout = DEF_TIMEOUT;
	while ((ch = getopt_long(argc, argv, "h:p:u:P:t:v", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			o->host = optarg;
			break;
		case 'p':
			o->port = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'P':
			o->passfile = optarg;
			break;
		case O_PWFD:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    v < 0 || v > INT_MAX) {
				warnmsg("bad --password-fd: %s", optarg);
				return -1;
			}
			o->passfd = (int)v;
			break;
		case O_FOLDER:
			o->folder = optarg;
			break;
		case O_LIST:
			o->list = 1;
			break;
		case O_KEEP:
			o->delete = 0;
			break;
		case O_DELETE:
			o->delete = 1;
			break;
		case O_MAILDIR:
			if (set_dest(o, DEST_MAILDIR, optarg) == -1)
				return -1;
			break;
		case O_MBOX:
			if (set_dest(o, DEST_MBOX, optarg) == -1)
				return -1;
			break;
		case O_STDOUT:
			if (set_dest(o, DEST_STDOUT, NULL) == -1)
				return -1;
			break;
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    v < 1 || v > 86400) {
				warnmsg("bad --timeout: %s", optarg);
				return -1;
			}
			o->timeout = (int)v;
			break;
		case 'v':
			verbose = 1;
			break;
		case O_HELP:
			usage(stdout);
			exit(EX_OK_);
		case O_VERSION:
			printf("pop2get (%s) %s\n", PACKAGE_NAME,
			    PACKAGE_VERSION);
			exit(EX_OK_);
		default:
			return -1;
		}
	}
	if (optind != argc) {
		warnmsg("unexpected argument: %s", argv[optind]);
		return -1;
	}
	if (o->user == NULL || *o->user == '\0') {
		warnmsg("-u USER is required");
		return -1;
	}
	if (o->passfile != NULL && o->passfd != -1) {
		warnmsg("choose one of -P and --password-fd");
		return -1;
	}
	if (o->dest == DEST_NONE && !o->list) {
		warnmsg("nothing to do: give --list, --maildir, --mbox or"
		    " --stdout");
		return -1;
	}
	return 0;
}

/*
 * After RETR: read exactly SIZE octets (the "=SIZE" of READ) into the
 * sink K, or discard them when K is NULL.  0, or an exit code.  A write
 * error in the sink is not reported here but by sink_end().
 */
static int
fetch_data(struct conn *c, struct sink *k, uint64_t size)
{
	uint64_t left = size;
	size_t chunk;
	int r;

	while (left > 0) {
		if (c->start == c->end) {
			r = conn_fill(c);
			if (r == 0) {
				warnmsg("connection closed after %" PRIu64
				    " of %" PRIu64 " octets", size - left,
				    size);
				return EX_PROTO;
			}
			if (r == -1) {
				warnmsg("read: %s", strerror(errno));
				return EX_IO;
			}
		}
		chunk = c->end - c->start;
		if ((uint64_t)chunk > left)
			chunk = (size_t)left;
		if (k != NULL)
			sink_write(k, c->buf + c->start, chunk);
		c->start += chunk;
		left -= chunk;
	}
	/* RFC 937: nothing follows the data until our ack.  Octets already
	 * here mean the "=n" count was too small. */
	if (c->start != c->end) {
		warnmsg("server sent more than the announced %" PRIu64
		    " octets", size);
		return EX_PROTO;
	}
	return 0;
}

/*
 * The HELO line for O's user and SECRET, quoted (RFC 937), into QLINE
 * (CMD_MAX + 1), and the quoted user into QUSER (CMD_MAX) for -v.
 * 0 or EX_USAGE_.
 */
static int
helo_line(const struct opts *o, const char *secret, char *qline,
    char *quser)
{
	char qpass[CMD_MAX];
	int len;

	if (lex_quote(o->user, quser, CMD_MAX) == -1 ||
	    lex_quote(secret, qpass, sizeof(qpass)) == -1) {
		explicit_bzero(qpass, sizeof(qpass));
		warnmsg("user name or password cannot be sent (line break"
		    " or too long)");
		return EX_USAGE_;
	}
	len = snprintf(qline, CMD_MAX + 1, "HELO %s %s", quser, qpass);
	explicit_bzero(qpass, sizeof(qpass));
	if (len < 0 || (size_t)len + 2 > CMD_MAX) {
		explicit_bzero(qline, CMD_MAX + 1);
		warnmsg("HELO line longer than %d octets", CMD_MAX);
		return EX_USAGE_;
	}
	return 0;
}

/* Greeting, then HELO (QLINE, wiped); *COUNT_R from "#n".  0 or exit. */
static int
login(struct conn *c, char *qline, const char *quser, uint64_t *count_r)
{
	char line[REPLY_MAX + 1], masked[CMD_MAX + 16];
	int rc;

	/* Greeting: "+ POP2 host ..." */
	if ((rc = conn_reply(c, line)) != 0)
		goto out;
	if (line[0] == '-') {
		warnmsg("server refused the connection: %s",
		    shown(line, SHOWN_MAX));
		rc = EX_IO;
		goto out;
	}
	/* RFC 937 <greet>: "+ POP2 <host> ...".  A POP3 server ("+OK")
	 * must not get our password in a HELO. */
	if (line[0] != '+' || strstr(line, "POP2") == NULL) {
		warnmsg("not a POP2 server: %s", shown(line, SHOWN_MAX));
		rc = EX_PROTO;
		goto out;
	}
	snprintf(masked, sizeof(masked), "HELO %s ********", quser);
	rc = conn_cmd(c, qline, masked);
	explicit_bzero(qline, CMD_MAX + 1);
	if (rc != 0 || (rc = conn_reply(c, line)) != 0)
		return rc;
	if (line[0] == '-') {
		warnmsg("login refused: %s", shown(line, SHOWN_MAX));
		return EX_LOGIN;
	}
	if (line[0] != '#' || parse_number(line + 1, count_r) == -1) {
		warnmsg("unexpected reply to HELO: %s",
		    shown(line, SHOWN_MAX));
		return EX_PROTO;
	}
	return 0;
out:
	explicit_bzero(qline, CMD_MAX + 1);
	return rc;
}

/* FOLD FOLDER; *COUNT_R from "#n".  0 or an exit code. */
static int
fold(struct conn *c, const char *folder, uint64_t *count_r)
{
	char qline[CMD_MAX + 1], qarg[CMD_MAX];
	int len, rc;

	if (lex_quote(folder, qarg, sizeof(qarg)) == -1) {
		warnmsg("folder name cannot be sent");
		return EX_USAGE_;
	}
	len = snprintf(qline, sizeof(qline), "FOLD %s", qarg);
	if (len < 0 || (size_t)len + 2 > CMD_MAX) {
		warnmsg("FOLD line longer than %d octets", CMD_MAX);
		return EX_USAGE_;
	}
	if ((rc = conn_cmd(c, qline, NULL)) != 0)
		return rc;
	return conn_number(c, '#', "FOLD", count_r);
}

/* READ N; *SIZE_R from "=n".  0 or an exit code. */
static int
read_size(struct conn *c, uint64_t n, uint64_t *size_r)
{
	char qline[CMD_MAX + 1];
	int rc;

	snprintf(qline, sizeof(qline), "READ %" PRIu64, n);
	if ((rc = conn_cmd(c, qline, NULL)) != 0)
		return rc;
	return conn_number(c, '=', "READ", size_r);
}

/* "n size" for every message on LISTF.  0 or an exit code. */
static int
list_sizes(struct conn *c, uint64_t count, FILE *listf)
{
	uint64_t n, size;
	int rc;

	for (n = 1; n <= count; n++) {
		if ((rc = read_size(c, n, &size)) != 0)
			return rc;
		fprintf(listf, "%" PRIu64 " %" PRIu64 "\n", n, size);
	}
	fflush(listf);
	return 0;
}

/*
 * Keep the message on the server, then leave without committing anything
 * else in doubt: NACK, QUIT.  Returns RC.
 */
static int
nack_quit(struct conn *c, int rc)
{
	char line[REPLY_MAX + 1];
	uint64_t size;

	if (conn_cmd(c, "NACK", NULL) == 0 &&
	    conn_number(c, '=', "NACK", &size) == 0 &&
	    conn_cmd(c, "QUIT", NULL) == 0)
		(void)conn_reply(c, line);
	return rc;
}

/*
 * Message N: READ, RETR into K, then ACKS or ACKD once the copy is safe.
 * *SIZE_R gets its size (0: nothing to get).  0 or an exit code; after a
 * delivery error the server has been told NACK and QUIT.
 */
static int
fetch_one(struct conn *c, struct sink *k, const struct opts *o, uint64_t n,
    uint64_t *size_r)
{
	const char *ack = o->delete ? "ACKD" : "ACKS";
	uint64_t size, next;
	int rc;

	if ((rc = read_size(c, n, &size)) != 0)
		return rc;
	*size_r = size;
	if (size == 0)
		return 0;	/* deleted or empty: nothing to get */
	if ((rc = conn_cmd(c, "RETR", NULL)) != 0)
		return rc;
	if (sink_begin(k, n) == -1) {
		/* Read the data anyway so we can NACK cleanly. */
		if ((rc = fetch_data(c, NULL, size)) != 0)
			return rc;
		return nack_quit(c, EX_DELIVERY);
	}
	if ((rc = fetch_data(c, k, size)) != 0) {
		sink_abort(k);
		return rc;
	}
	if (sink_end(k) == -1) {
		sink_abort(k);
		return nack_quit(c, EX_DELIVERY);
	}
	if (verbose)
		fprintf(stderr, "%s: message %" PRIu64 ": %" PRIu64
		    " octets\n", progname, n, size);
	/* Only now that the copy is safe may the server drop it. */
	if ((rc = conn_cmd(c, ack, NULL)) != 0)
		return rc;
	return conn_number(c, '=', ack, &next);
}

/* Every message into K, then QUIT.  0 or an exit code. */
static int
fetch_all(struct conn *c, struct sink *k, const struct opts *o,
    uint64_t count)
{
	char line[REPLY_MAX + 1];
	uint64_t n, size, fetched = 0, octets = 0;
	int rc;

	for (n = 1; o->dest != DEST_NONE && n <= count; n++) {
		if ((rc = fetch_one(c, k, o, n, &size)) != 0)
			return rc;
		if (size > 0) {
			fetched++;
			octets += size;
		}
	}
	if ((rc = conn_cmd(c, "QUIT", NULL)) != 0 ||
	    (rc = conn_reply(c, line)) != 0)
		return rc;
	if (line[0] != '+') {
		warnmsg("QUIT refused: %s", shown(line, SHOWN_MAX));
		return EX_PROTO;
	}
	if (verbose)
		fprintf(stderr, "%s: fetched %" PRIu64 " messages, %" PRIu64
		    " octets\n", progname, fetched, octets);
	return EX_OK_;
}

static int
run(const struct opts *o, char *secret)
{
	char qline[CMD_MAX + 1], quser[CMD_MAX];
	struct conn c;
	struct sink k;
	uint64_t count;
	FILE *listf;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&k, 0, sizeof(k));
	c.fd = -1;
	c.timeout_ms = o->timeout * 1000;
	k.kind = o->dest;
	k.path = o->dest_path;
	k.fd = -1;

	if ((rc = helo_line(o, secret, qline, quser)) != 0)
		return rc;
	if (o->dest != DEST_NONE && sink_open(&k) == -1) {
		explicit_bzero(qline, sizeof(qline));
		return EX_DELIVERY;
	}
	if (conn_open(&c, o->host, o->port) == -1) {
		explicit_bzero(qline, sizeof(qline));
		rc = EX_IO;
		goto out;
	}
	if ((rc = login(&c, qline, quser, &count)) != 0)
		goto out;
	if (o->folder != NULL && (rc = fold(&c, o->folder, &count)) != 0)
		goto out;
	listf = o->dest == DEST_STDOUT ? stderr : stdout;
	if (o->list || verbose)
		fprintf(listf, "%" PRIu64 " messages\n", count);
	if (o->list && (rc = list_sizes(&c, count, listf)) != 0)
		goto out;
	rc = fetch_all(&c, &k, o, count);
out:
	sink_close(&k);
	if (c.fd != -1)
		close(c.fd);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	char secret[SECRET_MAX + 1];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &o) == -1) {
		usage(stderr);
		return EX_USAGE_;
	}
	if (o.passfile != NULL)
		rc = read_secret_file(o.passfile, secret, sizeof(secret));
	else if (o.passfd != -1) {
		rc = read_secret_fd(o.passfd, secret, sizeof(secret));
		if (rc == -1)
			warnmsg("--password-fd %d: %s", o.passfd,
			    errno == ENAMETOOLONG ? "password too long" :
			    strerror(errno));
	} else
		rc = read_secret_tty(o.user, o.host, secret, sizeof(secret));
	if (rc == -1) {
		explicit_bzero(secret, sizeof(secret));
		return EX_USAGE_;
	}
	if (secret[0] == '\0') {
		warnmsg("empty password");
		return EX_USAGE_;
	}
	rc = run(&o, secret);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}
