/*
 * log.c - one-line event logging to syslog(3) and, in the foreground, to
 * stderr.  Every line starts with the session id ("-" until one is set).
 * Every octet outside printable ASCII that reaches a line is written as
 * \xHH, so a caller that forgot log_escape() still cannot forge log
 * lines or put raw 8-bit text in them (doc/SECURITY.md B15).
 * In the foreground (-f) the processes of a connection do not share the
 * daemon's stderr: their descriptor 2 is a datagram socket whose other end
 * only the master reads (log_relay_*()).  The master takes each line with
 * the sender's pid from the kernel (SCM_CREDENTIALS), applies the line
 * rule again and writes it to its stderr; a line whose "[pid]" is not the
 * sender's, or text that is not a log line of ours (a sanitizer report),
 * is written as "... [PID] - stderr: TEXT" with the true pid.
 * Runs in every process (master, monitor, pre-auth child, session); holds
 * no privilege of its own.  errno is preserved across every call.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "forkmem.h"
#include "log.h"

/* One formatted message; longer ones are cut with "...". */
#define LOG_MSG_MAX	1024
/* Session ids are short hex strings. */
#define LOG_SESSION_MAX	32
/* A whole stderr line: time, priority, pid, session id and message. */
#define LOG_LINE_MAX	(LOG_MSG_MAX + LOG_SESSION_MAX + 96)
/* The relay reads one datagram (one line of ours; a sanitizer report
 * may be longer) into a buffer this big; more is cut. */
#define LOG_RELAY_DGRAM_MAX	(64 * 1024)
/* Datagrams relayed per log_relay_drain(), so a chatty child cannot keep
 * the master from accept(). */
#define LOG_RELAY_BATCH		64

/* Written again by every monitor (log_close(), log_init()): next to
 * log_sid, which every session writes (forkmem.h, SESSION_PAGE). */
static int log_inited SESSION_PAGE;
static int log_relay_rfd = -1;	/* master, -f: children's stderr lines */
static int log_stderr = 1;	/* before log_init: stderr only */
static int log_debug_on SESSION_PAGE;
static char log_sid[LOG_SESSION_MAX + 1] = "-";

void
log_init(int facility, int to_stderr, int debug)
{
	/* Read the zone now: after chroot /etc/localtime is gone. */
	tzset();
	openlog("pop23d", LOG_PID | LOG_NDELAY, facility);
	log_inited = 1;
	/* A reload passes -1: keep what the command line chose. */
	if (to_stderr >= 0)
		log_stderr = to_stderr != 0;
	log_debug_on = debug;
}

void
log_set_session(const char *id)
{
	if (id == NULL || *id == '\0')
		id = "-";
	/* Ids are ours (short hex), so a cut one is only cosmetic. */
	(void)strlcpy(log_sid, id, sizeof(log_sid));
}

const char *
log_session(void)
{
	return log_sid;
}

static const char *
prio_name(int prio)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err",
		"warning", "notice", "info", "debug",
	};

	return names[LOG_PRI(prio) & 7];
}

/* An octet that stays as it is in a log line. */
static int
log_plain(unsigned char c, int esc_backslash)
{
	return c >= 0x20 && c <= 0x7e && !(esc_backslash && c == '\\');
}

/*
 * Copy LEN octets of IN into OUT (OUTSZ >= 4) as printable ASCII: octets
 * 0x20..0x7e stay (the backslash too unless ESC_BACKSLASH), every other one
 * becomes \xHH; what does not fit is cut and "..." is appended.  Returns
 * OUT.
 */
static char *
log_quote(const char *in, size_t len, char *out, size_t outsz,
    int esc_backslash)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o, need, w, cut;
	unsigned char c;

	if (outsz == 0)
		return out;
	/* Escaped length of the whole input. */
	need = 0;
	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		need += log_plain(c, esc_backslash) ? 1 : 4;
	}
	/* Everything fits (with its NUL), or cut at outsz - 4 for "...". */
	cut = need < outsz ? outsz - 1 : (outsz >= 4 ? outsz - 4 : 0);

	for (i = 0, o = 0; i < len; i++) {
		c = (unsigned char)in[i];
		w = log_plain(c, esc_backslash) ? 1 : 4;
		if (w > cut - o)
			break;
		if (w == 1)
			out[o++] = (char)c;
		else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0x0f];
		}
	}
	if (i < len) {
		/* UNSAFE: o <= outsz - 4 when outsz >= 4, else o == 0. */
		for (w = 0; w < 3 && o < outsz - 1; w++)
			out[o++] = '.';
	}
	out[o] = '\0';
	return out;
}

char *
log_escape(const char *in, size_t len, char *out, size_t outsz)
{
	return log_quote(in, len, out, outsz, 1);
}

char *
log_sanitize(const char *in, size_t len, char *out, size_t outsz)
{
	return log_quote(in, len, out, outsz, 0);
}

/*
 * Format FMT into MSG (size LOG_MSG_MAX), optionally with ": ERRSTR", and
 * apply the line rule: whatever the caller passed (a client's bytes, a
 * Maildir key with octets >= 0x80 from a plugin), the line holds only
 * printable ASCII; anything else is \xHH (log_sanitize()).
 */
static void
log_format(char *msg, const char *errstr, const char *fmt, va_list ap)
{
	char raw[LOG_MSG_MAX];
	size_t len;
	int r, cut;

	r = vsnprintf(raw, sizeof raw, fmt, ap);
	if (r < 0)
		(void)snprintf(raw, sizeof raw, "(log format error)");
	cut = r >= (int)sizeof raw;
	len = strlen(raw);
	if (!cut && errstr != NULL) {
		r = snprintf(raw + len, sizeof raw - len, ": %s", errstr);
		cut = r >= (int)(sizeof raw - len);
		len = strlen(raw);
	}
	if (cut)
		/* UNSAFE: len == LOG_MSG_MAX - 1 and LOG_MSG_MAX > 4. */
		memcpy(raw + sizeof raw - 4, "...", 4);
	log_sanitize(raw, len, msg, LOG_MSG_MAX);
}

/* Write "TIME PRIO [PID] SID MSG" to stderr in one write(2). */
static void
log_write_stderr(int prio, long pid, const char *sid, const char *msg)
{
	char line[LOG_LINE_MAX];
	char tbuf[32];
	struct tm tm;
	time_t now;
	int r;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		(void)snprintf(tbuf, sizeof(tbuf), "%lld", (long long)now);
	r = snprintf(line, sizeof(line), "%s %s [%ld] %s %s\n", tbuf,
	    prio_name(prio), pid, sid, msg);
	if (r < 0)
		return;
	if ((size_t)r >= sizeof(line)) {
		r = (int)sizeof(line) - 1;
		line[r - 1] = '\n';
	}
	/* One write(2) per line: a pipe or datagram socket keeps it whole
	 * (LOG_LINE_MAX < PIPE_BUF). */
	if (write(STDERR_FILENO, line, (size_t)r) == -1)
		return;		/* nowhere left to report it */
}

static void
log_emit(int prio, const char *msg)
{
	if (log_inited)
		syslog(prio, "%s %s", log_sid, msg);
	if (log_stderr)
		log_write_stderr(prio, (long)getpid(), log_sid, msg);
}

/* Format and emit one line; ERR != 0 appends ": strerror(ERR)". */
static void
log_line(int prio, int err, const char *fmt, va_list ap)
{
	char msg[LOG_MSG_MAX];

	log_format(msg, err != 0 ? strerror(err) : NULL, fmt, ap);
	log_emit(prio, msg);
}

void
log_vprio(int prio, const char *fmt, va_list ap)
{
	int saved = errno;

	if (LOG_PRI(prio) == LOG_DEBUG && !log_debug_on)
		return;
	log_line(prio, 0, fmt, ap);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_WARNING, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprio(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprio(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vprio(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_close(void)
{
	closelog();
	log_inited = 0;
}

int
log_relay_init(int *child_fd_r, const char **error_r)
{
	int sv[2], one = 1;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*error_r = "log relay: socketpair failed";
		return -1;
	}
	/* One way only: children send, the master receives. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0 ||
	    shutdown(sv[0], SHUT_WR) != 0 || shutdown(sv[1], SHUT_RD) != 0) {
		close(sv[0]);
		close(sv[1]);
		*error_r = "log relay: cannot set up the socket";
		return -1;
	}
	log_relay_rfd = sv[0];
	*child_fd_r = sv[1];
	return 0;
}

int
log_relay_fd(void)
{
	return log_relay_rfd;
}

/*
 * If LINE (LEN octets, no LF) is a stderr line of ours ("TIME PRIO [PID]
 * ...") written by PID, the length of its "TIME PRIO [PID] " head, else 0.
 */
static size_t
log_relay_head(const char *line, size_t len, long pid)
{
	const char *p = line, *end = line + len;
	long v = 0;
	int field;

	for (field = 0; field < 2; field++) {	/* time, priority */
		while (p < end && *p != ' ')
			p++;
		if (p == end)
			return 0;
		p++;
	}
	if (p == end || *p++ != '[')
		return 0;
	while (p < end && *p >= '0' && *p <= '9' && v < 1000000000L)
		v = v * 10 + (*p++ - '0');
	if (end - p < 2 || p[0] != ']' || p[1] != ' ' || v != pid)
		return 0;
	return (size_t)(p + 2 - line);
}

/* Relay one line of a child (sender PID) to stderr, sanitised. */
static void
log_relay_line(long pid, const char *line, size_t len)
{
	char safe[LOG_LINE_MAX];
	size_t head;

	if (len == 0)
		return;
	head = log_relay_head(line, len, pid);
	if (head > 0) {
		log_sanitize(line, len, safe, sizeof safe - 1);
		len = strlen(safe);
		safe[len++] = '\n';
		if (write(STDERR_FILENO, safe, len) == -1)
			return;		/* nowhere left to report it */
		return;
	}
	log_sanitize(line, len, safe, LOG_MSG_MAX - 8);
	{
		char msg[LOG_MSG_MAX];

		(void)snprintf(msg, sizeof msg, "stderr: %s", safe);
		log_write_stderr(LOG_WARNING, pid, "-", msg);
	}
}

void
log_relay_drain(void)
{
	/* Not static storage: written with every line, after the forks
	 * (forkmem.c). */
	static char *buf;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct cmsghdr *c;
	struct msghdr mh;
	struct iovec iov;
	ssize_t r;
	long pid;
	size_t i, start;
	int n, saved = errno;

	if (log_relay_rfd == -1)
		return;
	if (buf == NULL &&
	    (buf = forkmem_grow(NULL, 0, LOG_RELAY_DGRAM_MAX)) == NULL)
		return;
	for (n = 0; n < LOG_RELAY_BATCH; n++) {
		memset(&mh, 0, sizeof mh);
		iov.iov_base = buf;
		iov.iov_len = LOG_RELAY_DGRAM_MAX;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof cm.b;
		/* Room for the credentials only: descriptors a child might
		 * send along do not fit and are discarded by the kernel. */
		r = recvmsg(log_relay_rfd, &mh,
		    MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		pid = 0;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
				struct ucred uc;

				memcpy(&uc, CMSG_DATA(c), sizeof uc);
				pid = (long)uc.pid;
			}
		for (i = start = 0; i <= (size_t)r; i++)
			if (i == (size_t)r || buf[i] == '\n') {
				log_relay_line(pid, buf + start, i - start);
				start = i + 1;
			}
	}
	errno = saved;
}
