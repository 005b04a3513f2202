/*
 * popstress.c - the load and abuse client of tests/reliability/
 * test_abuse.py (doc/RELIABILITY.md, "Load and abuse"; doc/SECURITY.md
 * L1, L3, L4, R4).  It is not a benchmark: it checks every answer and
 * counts what went wrong; the test decides.  One thread, epoll, over
 * loopback only; source addresses from 127.0.0.0/8 so that per-address
 * caps see many clients.
 *
 *   popstress sessions  N sessions, user1..userN, each from one of
 *       --sources addresses: greeting, USER, PASS, STAT, LIST; when all
 *       are logged in it prints "READY" and waits for a line on stdin
 *       (the test measures the server then); then RETR of every message
 *       (size checked against LIST, the "X-P23-User: userK" header
 *       checked: no session sees another user's mail) and QUIT, with a
 *       random think time before each command.  Latency of every command
 *       from its write to its complete reply.
 *   popstress slowloris  --slow N connections from --slow-sources
 *       addresses that send one octet every --drip seconds and never end
 *       a line, while a real login (greeting, USER, PASS, STAT, QUIT, as
 *       user1..user--users in turn) starts every --every ms from other
 *       addresses, for --duration seconds; then it waits until the
 *       server has closed every slow connection (or --grace runs out).
 *   popstress flood  --flood N connections from the one address --from,
 *       held open: each either gets a greeting or is closed without one
 *       (refused by a cap); meanwhile --logins real logins from other
 *       addresses.
 *   popstress race  --rounds N: a POP3 client (USER, then PASS) and a
 *       POP2 client (HELO) log in to the same maildrop at the same
 *       moment; exactly one must win, the other must get "-ERR [IN-USE]"
 *       (POP3) or "-" (POP2); the winner QUITs; next round.
 *
 * Common options: -p PORT (POP3), -P PORT (POP2), -w PASSWORD,
 * --timeout S (per session, default 60), --seed N.  Output: "RESULT
 * key=value ..." lines on stdout, details of failures on stderr (the
 * first 20).  Exit 0 when it ran, 2 on a usage or setup error.  Every
 * loop is bounded by a count or a deadline.
 *
 * PRIVILEGE: runs as whoever starts it (the test, root in CI).  Raises
 * its own RLIMIT_NOFILE soft limit to the hard limit.
 *
 * GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RBUF		(64 * 1024)	/* longest reply line, more */
#define SHOW_MAX	20		/* failures described on stderr */

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ------------------------------------------------------------ options */

static int o_port = 110, o_port2 = 109;
static const char *o_pass = "pw";
static const char *o_user = "user1";
static int o_n = 100, o_sources = 10, o_users = 1;
static double o_rate = 500;		/* connects per second */
static int o_think_ms = 50;
static double o_timeout = 60;
static int o_slow = 100, o_slow_sources = 1;
static double o_drip = 2, o_duration = 10, o_grace = 30;
static int o_every_ms = 50;
static int o_flood = 100, o_logins = 10;
static const char *o_from = "127.0.0.9";
static int o_rounds = 100;
static unsigned o_seed = 1939;
static int o_wait_ready = 1;

/* ------------------------------------------------------------- helpers */

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("popstress: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static int shown;

static void __attribute__((format(printf, 1, 2)))
show(const char *fmt, ...)
{
	va_list ap;

	if (shown++ >= SHOW_MAX)
		return;
	va_start(ap, fmt);
	fputs("popstress: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n == 0 ? 1 : n, sz);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* Source address number I of the block 127.B.x.y (B = 1..255). */
static struct in_addr
src_addr(int block, int i)
{
	struct in_addr a;

	a.s_addr = htonl((127u << 24) | ((unsigned)block << 16) |
	    ((unsigned)(i / 250) << 8) | (unsigned)(i % 250 + 1));
	return a;
}

/* A non-blocking socket from SRC connecting to 127.0.0.1:PORT; -1 on a
 * local error (errno set). */
static int
connect_from(struct in_addr src, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* The port is picked at connect() for the whole 4-tuple, so each
	 * source address has the whole ephemeral range. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr = src;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(fd);
		return -1;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ------------------------------------------------------------ latency */

enum cmd { C_GREET, C_USER, C_PASS, C_STAT, C_LIST, C_RETR, C_QUIT,
	C_COUNT };
static const char *const cmd_name[C_COUNT] = {
	"greeting", "USER", "PASS", "STAT", "LIST", "RETR", "QUIT"
};

struct lat {
	int64_t *v;
	size_t n, cap;
};
static struct lat lat[C_COUNT], lat_all;

static void
lat_add(struct lat *l, int64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		if ((l->v = realloc(l->v, l->cap * sizeof *l->v)) == NULL)
			die("out of memory");
	}
	l->v[l->n++] = us;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* " NAME_n=.. NAME_p50=.. NAME_p99=.. NAME_max=.." in milliseconds. */
static void
lat_print(const char *name, struct lat *l)
{
	if (l->n == 0) {
		printf(" %s_n=0", name);
		return;
	}
	qsort(l->v, l->n, sizeof *l->v, cmp64);
	printf(" %s_n=%zu %s_p50=%.2f %s_p99=%.2f %s_max=%.2f", name, l->n,
	    name, l->v[l->n / 2] / 1000.0, name,
	    l->v[(l->n * 99) / 100 < l->n ? (l->n * 99) / 100 : l->n - 1] /
	    1000.0, name, l->v[l->n - 1] / 1000.0);
}

/* ---------------------------------------------------------- connection */

enum kind { K_SESSION, K_SLOW, K_FLOOD };

enum st {
	S_CONNECT,	/* waiting for the greeting */
	S_REPLY,	/* a command sent, waiting for its reply */
	S_IDLE,		/* waiting for next_at (think time, drip) */
	S_BARRIER,	/* logged in, waiting for the others */
	S_HELD,		/* flood: greeted, held open */
	S_DONE
};

struct conn {
	int fd;
	enum kind kind;
	enum st st;
	int user;		/* 1-based */
	enum cmd cmd;		/* the command waiting for its reply */
	int multi;		/* its reply is multi-line */
	int in_body;		/* status line of a multi-line reply seen */
	int64_t sent_at, next_at, started, deadline;
	char rbuf[RBUF];
	size_t rlen;
	/* sessions */
	int nmsg, cur;		/* messages (LIST), current RETR */
	uint64_t *sizes;
	uint64_t got;		/* octets of the current message */
	int user_seen;		/* the X-P23-User header of this user */
	int in_header;
	/* slow */
	int greeted, dripped;
	int64_t greeted_at, closed_at;
	int failed;
};

static int ep;
static struct conn **conns;
static size_t nconns, capconns;
static unsigned rnd_state;

static unsigned
rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) & 0xffffff;
}

static struct conn *
conn_new(int fd, enum kind kind)
{
	struct conn *c = xcalloc(1, sizeof *c);
	struct epoll_event ev;

	c->fd = fd;
	c->kind = kind;
	c->st = S_CONNECT;
	c->started = now_us();
	c->sent_at = c->started;
	c->deadline = c->started + (int64_t)(o_timeout * 1e6);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
	if (nconns == capconns) {
		capconns = capconns ? capconns * 2 : 1024;
		if ((conns = realloc(conns, capconns * sizeof *conns)) == NULL)
			die("out of memory");
	}
	conns[nconns++] = c;
	return c;
}

static void
conn_close(struct conn *c)
{
	if (c->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->closed_at == 0)
		c->closed_at = now_us();
	c->st = S_DONE;
}

static void
conn_fail(struct conn *c, const char *why, const char *line)
{
	if (!c->failed)
		show("user%d (%s): %s%s%.80s", c->user,
		    c->cmd < C_COUNT ? cmd_name[c->cmd] : "?", why,
		    line ? ": " : "", line ? line : "");
	c->failed = 1;
	conn_close(c);
}

/* Fail C and return from the (void) handler. */
#define FAIL(c, why, line)						\
	do {								\
		conn_fail((c), (why), (line));				\
		return;							\
	} while (0)

/* Write a whole command (short: it fits the socket buffer). */
static int
conn_send(struct conn *c, enum cmd cmd, int multi, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		die("command too long");
	c->cmd = cmd;
	c->multi = multi;
	c->in_body = 0;
	c->st = S_REPLY;
	c->sent_at = now_us();
	if (write(c->fd, buf, (size_t)n) != n) {
		conn_fail(c, "write failed", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------- sessions (L1) */

static int ready, finished;
static long n_ok, n_fail;

static void
sess_next(struct conn *c)
{
	if (c->cur < c->nmsg) {
		c->got = 0;
		c->user_seen = 0;
		c->in_header = 1;
		conn_send(c, C_RETR, 1, "RETR %d\r\n", c->cur + 1);
	} else
		conn_send(c, C_QUIT, 0, "QUIT\r\n");
}

static void
think(struct conn *c)
{
	c->st = S_IDLE;
	c->next_at = now_us() + (o_think_ms > 0 ?
	    (int64_t)(rnd() % (unsigned)(o_think_ms * 1000)) : 0);
}

/* One complete status line of a single-line reply, or the end of a
 * multi-line one (LINE is then "."). */
static void
sess_reply(struct conn *c, const char *line)
{
	char want[64];

	switch (c->cmd) {
	case C_GREET:
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "greeting", line);
		conn_send(c, C_USER, 0, "USER user%d\r\n", c->user);
		return;
	case C_USER:
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "USER refused", line);
		conn_send(c, C_PASS, 0, "PASS %s\r\n", o_pass);
		return;
	case C_PASS:
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "login refused", line);
		conn_send(c, C_STAT, 0, "STAT\r\n");
		return;
	case C_STAT:
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "STAT", line);
		conn_send(c, C_LIST, 1, "LIST\r\n");
		return;
	case C_LIST:
		c->st = S_BARRIER;
		ready++;
		return;
	case C_RETR:
		snprintf(want, sizeof want, "user%d", c->user);
		if (c->got != c->sizes[c->cur])
			FAIL(c, "RETR size differs from LIST",
			    NULL);
		if (!c->user_seen)
			FAIL(c, "RETR: not this user's message",
			    NULL);
		c->cur++;
		think(c);
		return;
	case C_QUIT:
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "QUIT", line);
		n_ok++;
		conn_close(c);
		return;
	default:
		FAIL(c, "internal: reply to nothing", line);
	}
}

/* A line of the body of a multi-line reply (LIST or RETR). */
static void
sess_body(struct conn *c, const char *line, size_t len)
{
	char want[64];
	int n;
	unsigned long long sz;

	if (c->cmd == C_LIST) {
		if (sscanf(line, "%d %llu", &n, &sz) != 2 || n != c->nmsg + 1) {
			conn_fail(c, "LIST line", line);
			return;
		}
		c->sizes = realloc(c->sizes, (size_t)(n) * sizeof *c->sizes);
		if (c->sizes == NULL)
			die("out of memory");
		c->sizes[c->nmsg++] = sz;
		return;
	}
	/* RETR: unstuff, count octets with CRLF, look at the header */
	if (line[0] == '.')
		len--, line++;
	c->got += len + 2;
	if (c->in_header) {
		if (len == 0)
			c->in_header = 0;
		else {
			snprintf(want, sizeof want, "X-P23-User: user%d",
			    c->user);
			if (strlen(want) == len && memcmp(line, want, len) == 0)
				c->user_seen = 1;
		}
	}
}

/* ---------------------------------------------------------- the loop */

/* Feed the reply lines in C's buffer to the handlers. */
static void
handle_lines(struct conn *c)
{
	size_t off = 0;
	char *nl;

	while (c->st != S_DONE && off < c->rlen &&
	    (nl = memchr(c->rbuf + off, '\n', c->rlen - off)) != NULL) {
		char *line = c->rbuf + off;
		size_t len = (size_t)(nl - line);

		off += len + 1;
		if (len == 0 || line[len - 1] != '\r') {
			conn_fail(c, "line without CRLF", NULL);
			return;
		}
		line[--len] = '\0';
		if (c->kind == K_SLOW) {
			/* A connection over a cap gets one "-ERR
			 * [SYS/TEMP]" line and a close: not a greeting. */
			if (c->greeted || strncmp(line, "+OK", 3) != 0)
				continue;
			c->greeted_at = now_us();
			c->greeted = 1;
			continue;
		}
		if (c->kind == K_FLOOD) {
			if (c->st == S_CONNECT &&
			    strncmp(line, "+OK", 3) == 0) {
				c->greeted = 1;
				c->st = S_HELD;
			}
			continue;
		}
		if (c->st != S_REPLY && c->st != S_CONNECT) {
			conn_fail(c, "unexpected line", line);
			return;
		}
		if (c->multi && c->in_body) {
			if (len == 1 && line[0] == '.') {
				lat_add(&lat[c->cmd], now_us() - c->sent_at);
				lat_add(&lat_all, now_us() - c->sent_at);
				sess_reply(c, ".");
			} else
				sess_body(c, line, len);
			continue;
		}
		lat_add(&lat[c->cmd], now_us() - c->sent_at);
		if (c->cmd != C_GREET)
			lat_add(&lat_all, now_us() - c->sent_at);
		if (c->multi) {
			if (strncmp(line, "+OK", 3) != 0) {
				conn_fail(c, "multi-line command refused",
				    line);
				return;
			}
			/* the time to the whole reply counts, not this */
			lat[c->cmd].n--;
			lat_all.n--;
			c->in_body = 1;
			continue;
		}
		sess_reply(c, line);
	}
	if (c->st == S_DONE)
		return;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	if (c->rlen == sizeof c->rbuf)
		conn_fail(c, "reply line too long", NULL);
}

static void
on_readable(struct conn *c)
{
	ssize_t r;

	for (;;) {
		r = read(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
		if (r > 0) {
			c->rlen += (size_t)r;
			handle_lines(c);
			if (c->st == S_DONE)
				return;
			continue;
		}
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF or reset */
		if (c->kind == K_SESSION)
			conn_fail(c, "connection closed by the server", NULL);
		else
			conn_close(c);
		return;
	}
}

/* One round of the loop: events, then timers.  Returns the number of
 * connections still open. */
static size_t
loop_once(int max_wait_ms, void (*timer)(struct conn *))
{
	struct epoll_event evs[256];
	int64_t now, next = INT64_MAX;
	size_t i, open = 0;
	int n, k, wait;

	for (i = 0; i < nconns; i++)
		if (conns[i]->st == S_IDLE && conns[i]->next_at < next)
			next = conns[i]->next_at;
	now = now_us();
	wait = next == INT64_MAX ? max_wait_ms :
	    next <= now ? 0 : (int)((next - now) / 1000);
	if (wait > max_wait_ms)
		wait = max_wait_ms;
	n = epoll_wait(ep, evs, 256, wait);
	for (k = 0; k < n; k++)
		on_readable(evs[k].data.ptr);
	now = now_us();
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st == S_DONE)
			continue;
		if (c->st == S_IDLE && c->next_at <= now && timer != NULL)
			timer(c);
		if (c->st != S_DONE && c->kind == K_SESSION &&
		    now > c->deadline)
			conn_fail(c, "timeout", NULL);
		if (c->st != S_DONE)
			open++;
	}
	return open;
}

static void
sess_timer(struct conn *c)
{
	sess_next(c);
}

/* Wait for a line on stdin (the test measured the server), at most
 * 120 s. */
static void
wait_go(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char buf[64];

	fflush(stdout);
	if (poll(&p, 1, 120000) == 1)
		(void)read(0, buf, sizeof buf);
}

static int
run_sessions(void)
{
	int64_t t0 = now_us(), gap = (int64_t)(1e6 / o_rate), end;
	int started = 0, released = 0;
	size_t i;

	while (started < o_n || finished == 0) {
		/* ramp: one connect every GAP */
		while (started < o_n &&
		    now_us() >= t0 + (int64_t)started * gap) {
			int fd = connect_from(src_addr(1, started % o_sources),
			    o_port);
			struct conn *c;

			if (fd == -1) {
				show("connect: %s", strerror(errno));
				n_fail++;
				started++;
				continue;
			}
			c = conn_new(fd, K_SESSION);
			c->user = started + 1;
			c->cmd = C_GREET;
			started++;
		}
		loop_once(5, sess_timer);
		if (!released) {
			int failed = 0;

			for (i = 0; i < nconns; i++)
				failed += conns[i]->failed;
			if (started == o_n && ready + failed == o_n) {
				printf("READY logged_in=%d failed=%d\n", ready,
				    failed);
				if (o_wait_ready)
					wait_go();
				released = 1;
				for (i = 0; i < nconns; i++)
					if (conns[i]->st == S_BARRIER)
						think(conns[i]);
			}
		}
		if (released) {
			size_t open = 0;

			for (i = 0; i < nconns; i++)
				open += conns[i]->st != S_DONE;
			if (open == 0)
				break;
		}
	}
	end = now_us();
	for (i = 0; i < nconns; i++)
		n_fail += conns[i]->failed;
	printf("RESULT mode=sessions sessions=%d ok=%ld failed=%ld "
	    "concurrent=%d seconds=%.2f", o_n, n_ok, n_fail, ready,
	    (end - t0) / 1e6);
	lat_print("all", &lat_all);
	for (i = 0; i < C_COUNT; i++)
		lat_print(cmd_name[i], &lat[i]);
	printf("\n");
	return 0;
}

/* ---------------------------------------------------- slowloris (L3) */

static const char drip_text[] = "USER slowloris-never-ends-this-line";

static void
slow_timer(struct conn *c)
{
	char b = drip_text[c->dripped % (sizeof drip_text - 1)];

	if (write(c->fd, &b, 1) != 1) {
		conn_close(c);		/* the server closed it */
		return;
	}
	c->dripped++;
	c->next_at = now_us() + (int64_t)(o_drip * 1e6);
}

/* A real login in the slowloris and flood modes: greeting, USER, PASS,
 * STAT, QUIT, each checked; uses the session handlers without LIST. */
static void
real_reply(struct conn *c, const char *line)
{
	if (c->cmd == C_STAT) {
		if (strncmp(line, "+OK", 3) != 0)
			FAIL(c, "STAT", line);
		conn_send(c, C_QUIT, 0, "QUIT\r\n");
		return;
	}
	sess_reply(c, line);
}

static void
real_lines(struct conn *c)
{
	size_t off = 0;
	char *nl;

	while (c->st != S_DONE &&
	    (nl = memchr(c->rbuf + off, '\n', c->rlen - off)) != NULL) {
		char *line = c->rbuf + off;
		size_t len = (size_t)(nl - line);

		off += len + 1;
		if (len == 0 || line[len - 1] != '\r')
			FAIL(c, "line without CRLF", NULL);
		line[len - 1] = '\0';
		lat_add(&lat[c->cmd], now_us() - c->sent_at);
		real_reply(c, line);
	}
	if (c->st != S_DONE) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

/* The real logins are K_SESSION conns with user > 0 driven by
 * real_lines(): mark them with st S_REPLY and handle them here. */
static struct conn **reals;
static size_t nreals, capreals;

static void
real_start(int i)
{
	int fd = connect_from(src_addr(3, i % 250), o_port);
	struct conn *c;

	if (fd == -1) {
		show("real connect: %s", strerror(errno));
		n_fail++;
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->kind = K_SESSION;
	c->st = S_REPLY;
	c->cmd = C_GREET;
	c->user = i % o_users + 1;
	c->started = c->sent_at = now_us();
	c->deadline = c->started + (int64_t)(o_timeout * 1e6);
	if (nreals == capreals) {
		capreals = capreals ? capreals * 2 : 1024;
		if ((reals = realloc(reals, capreals * sizeof *reals)) == NULL)
			die("out of memory");
	}
	reals[nreals++] = c;
}

/* Poll the real logins (few at a time): blocking is not an option. */
static size_t
real_poll(void)
{
	size_t i, open = 0;
	int64_t now = now_us();

	for (i = 0; i < nreals; i++) {
		struct conn *c = reals[i];
		ssize_t r;

		if (c->st == S_DONE)
			continue;
		r = read(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen);
		if (r > 0) {
			c->rlen += (size_t)r;
			real_lines(c);
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR))
			conn_fail(c, "connection closed by the server", NULL);
		if (c->st != S_DONE && now > c->deadline)
			conn_fail(c, "timeout", NULL);
		if (c->st != S_DONE)
			open++;
	}
	return open;
}

static void
real_totals(long *ok, long *fail)
{
	size_t i;

	*ok = n_ok;
	*fail = n_fail;
	for (i = 0; i < nreals; i++)
		*fail += reals[i]->failed;
}

static int
run_slowloris(void)
{
	int64_t t0 = now_us(), gap, end_logins, end;
	int started = 0, logins = 0, refused = 0, greeted = 0;
	int by_deadline = 0, still_open = 0, local_err = 0;
	long ok, fail;
	size_t i, open;
	int64_t last_close = 0, last_after_greet = 0;

	gap = (int64_t)(1e6 / o_rate);
	end_logins = t0 + (int64_t)(o_duration * 1e6);
	end = end_logins + (int64_t)(o_grace * 1e6);
	for (;;) {
		int64_t now = now_us();

		while (started < o_slow && now >= t0 + (int64_t)started * gap) {
			int fd = connect_from(src_addr(2, started %
			    o_slow_sources), o_port);
			struct conn *c;

			started++;
			if (fd == -1) {
				local_err++;
				continue;
			}
			c = conn_new(fd, K_SLOW);
			c->st = S_IDLE;
			c->next_at = now + (int64_t)(o_drip * 1e6);
		}
		if (now < end_logins && now >= t0 + (int64_t)logins *
		    o_every_ms * 1000) {
			real_start(logins);
			logins++;
		}
		open = loop_once(2, slow_timer);
		open += real_poll();
		if ((now >= end_logins && open == 0 && started == o_slow) ||
		    now >= end)
			break;
	}
	for (i = 0; i < nconns; i++) {
		struct conn *c = conns[i];

		if (c->st != S_DONE) {
			still_open++;
			conn_close(c);
			continue;
		}
		if (!c->greeted) {
			refused++;
			continue;
		}
		greeted++;
		by_deadline++;
		if (c->closed_at - c->started > last_close)
			last_close = c->closed_at - c->started;
		if (c->closed_at - c->greeted_at > last_after_greet)
			last_after_greet = c->closed_at - c->greeted_at;
	}
	real_totals(&ok, &fail);
	printf("RESULT mode=slowloris slow=%d refused=%d greeted=%d "
	    "closed_by_server=%d still_open=%d local_errors=%d "
	    "longest_slow_s=%.1f longest_after_greeting_s=%.1f logins=%d "
	    "logins_ok=%ld logins_failed=%ld seconds=%.1f", o_slow, refused,
	    greeted, by_deadline, still_open, local_err, last_close / 1e6,
	    last_after_greet / 1e6, logins, ok, fail,
	    (now_us() - t0) / 1e6);
	lat_print("greeting", &lat[C_GREET]);
	lat_print("PASS", &lat[C_PASS]);
	printf("\n");
	return 0;
}

/* -------------------------------------------------------- flood (L4) */

static int
run_flood(void)
{
	struct in_addr from;
	int64_t t0 = now_us(), end = t0 + (int64_t)(o_timeout * 1e6);
	int i, greeted = 0, refused = 0, pending = 0, local_err = 0;
	long ok, fail;
	size_t k, open;

	if (inet_pton(AF_INET, o_from, &from) != 1)
		die("--from: not an IPv4 address");
	if ((ntohl(from.s_addr) >> 24) != 127)
		die("--from must be in 127.0.0.0/8");
	for (i = 0; i < o_flood; i++) {
		int fd = connect_from(from, o_port);

		if (fd == -1) {
			local_err++;
			continue;
		}
		conn_new(fd, K_FLOOD);
		if (i % 64 == 63)
			loop_once(0, NULL);
	}
	for (i = 0; i < o_logins; i++)
		real_start(i);
	for (;;) {
		int undecided = 0;

		loop_once(5, NULL);
		open = real_poll();
		for (k = 0; k < nconns; k++)
			undecided += conns[k]->st == S_CONNECT;
		if ((undecided == 0 && open == 0) || now_us() > end)
			break;
	}
	for (k = 0; k < nconns; k++) {
		if (conns[k]->greeted)
			greeted++;
		else if (conns[k]->st == S_DONE)
			refused++;
		else
			pending++;
		conn_close(conns[k]);
	}
	real_totals(&ok, &fail);
	printf("RESULT mode=flood from=%s connections=%d greeted=%d "
	    "refused=%d undecided=%d local_errors=%d logins=%d "
	    "logins_ok=%ld logins_failed=%ld seconds=%.2f\n", o_from,
	    o_flood, greeted, refused, pending, local_err, o_logins, ok,
	    fail, (now_us() - t0) / 1e6);
	return 0;
}

/* --------------------------------------------------------- race (R4) */

/* Blocking helpers for the race: one line within the timeout, or -1. */
static int
read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n + 1 < size) {
		if (poll(&p, 1, timeout_ms) != 1)
			return -1;
		if (read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

/* Wait until the server closes FD (at most TIMEOUT_MS): 0, or -1. */
static int
wait_eof(int fd, int timeout_ms)
{
	char b[512];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t end = now_us() + (int64_t)timeout_ms * 1000;

	while (now_us() < end) {
		if (poll(&p, 1, 100) == 1) {
			ssize_t r = read(fd, b, sizeof b);

			if (r <= 0)
				return 0;
		}
	}
	return -1;
}

static int
blocking(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (fd == -1 || poll(&p, 1, 10000) != 1)
		return -1;
	return 0;
}

static void
send_str(int fd, const char *s)
{
	(void)write(fd, s, strlen(s));
}

static int
run_race(void)
{
	long r3 = 0, r2 = 0, both = 0, none = 0, bad = 0, errs = 0;
	int64_t t0 = now_us();
	char l3[600], l2[600], cmd[300];
	int round;

	for (round = 0; round < o_rounds; round++) {
		int a = connect_from(src_addr(5, round % 200), o_port);
		int b = connect_from(src_addr(6, round % 200), o_port2);
		int w3, w2;

		if (blocking(a) || blocking(b) ||
		    read_line(a, l3, sizeof l3, 10000) <= 0 ||
		    read_line(b, l2, sizeof l2, 10000) <= 0 ||
		    strncmp(l3, "+OK", 3) != 0 || l2[0] != '+') {
			show("round %d: no greeting", round);
			errs++;
			goto next;
		}
		snprintf(cmd, sizeof cmd, "USER %s\r\n", o_user);
		send_str(a, cmd);
		if (read_line(a, l3, sizeof l3, 10000) <= 0 ||
		    strncmp(l3, "+OK", 3) != 0) {
			show("round %d: USER: %s", round, l3);
			errs++;
			goto next;
		}
		/* the race: both logins leave together, in random order */
		if (rnd() & 1) {
			snprintf(cmd, sizeof cmd, "PASS %s\r\n", o_pass);
			send_str(a, cmd);
			snprintf(cmd, sizeof cmd, "HELO %s %s\r\n", o_user,
			    o_pass);
			send_str(b, cmd);
		} else {
			snprintf(cmd, sizeof cmd, "HELO %s %s\r\n", o_user,
			    o_pass);
			send_str(b, cmd);
			snprintf(cmd, sizeof cmd, "PASS %s\r\n", o_pass);
			send_str(a, cmd);
		}
		if (read_line(a, l3, sizeof l3, 20000) <= 0 ||
		    read_line(b, l2, sizeof l2, 20000) <= 0) {
			show("round %d: no login reply", round);
			errs++;
			goto next;
		}
		w3 = strncmp(l3, "+OK", 3) == 0;
		w2 = l2[0] == '#';
		if (w3 && w2) {
			both++;
			show("round %d: both won: %.60s / %.60s", round, l3,
			    l2);
		} else if (!w3 && !w2) {
			none++;
			show("round %d: none won: %.60s / %.60s", round, l3,
			    l2);
		} else if (w3 && (l2[0] != '-' ||
		    strstr(l2, "locked") == NULL)) {
			bad++;
			show("round %d: POP2 loser got %.60s", round, l2);
		} else if (w2 && strncmp(l3, "-ERR [IN-USE]", 13) != 0) {
			bad++;
			show("round %d: POP3 loser got %.60s", round, l3);
		} else if (w3)
			r3++;
		else
			r2++;
		/* the winner leaves; wait until both connections are gone,
		 * so the lock is free for the next round */
		if (w3) {
			send_str(a, "QUIT\r\n");
			if (read_line(a, l3, sizeof l3, 10000) <= 0 ||
			    strncmp(l3, "+OK", 3) != 0) {
				show("round %d: POP3 QUIT: %s", round, l3);
				errs++;
			}
		}
		if (w2) {
			send_str(b, "QUIT\r\n");
			if (read_line(b, l2, sizeof l2, 10000) <= 0 ||
			    l2[0] != '+') {
				show("round %d: POP2 QUIT: %s", round, l2);
				errs++;
			}
		}
		if (wait_eof(a, 10000) || wait_eof(b, 10000)) {
			show("round %d: connection not closed", round);
			errs++;
		}
next:
		if (a != -1)
			close(a);
		if (b != -1)
			close(b);
	}
	printf("RESULT mode=race rounds=%d pop3_won=%ld pop2_won=%ld "
	    "both_won=%ld none_won=%ld wrong_loser_reply=%ld errors=%ld "
	    "seconds=%.1f\n", o_rounds, r3, r2, both, none, bad, errs,
	    (now_us() - t0) / 1e6);
	return 0;
}

/* ------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sources", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "think", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "slow", required_argument, NULL, 'S' },
		{ "slow-sources", required_argument, NULL, 'Q' },
		{ "drip", required_argument, NULL, 'd' },
		{ "duration", required_argument, NULL, 'D' },
		{ "grace", required_argument, NULL, 'g' },
		{ "every", required_argument, NULL, 'e' },
		{ "users", required_argument, NULL, 'U' },
		{ "flood", required_argument, NULL, 'F' },
		{ "from", required_argument, NULL, 'f' },
		{ "logins", required_argument, NULL, 'l' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "seed", required_argument, NULL, 'x' },
		{ "no-wait", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	const char *mode;
	int ch;

	if (argc < 2)
		die("usage: popstress sessions|slowloris|flood|race [options]"
		    " (see the source)");
	mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "p:P:w:u:n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o_port = atoi(optarg); break;
		case 'P': o_port2 = atoi(optarg); break;
		case 'w': o_pass = optarg; break;
		case 'u': o_user = optarg; break;
		case 'n': o_n = atoi(optarg); break;
		case 's': o_sources = atoi(optarg); break;
		case 'r': o_rate = atof(optarg); break;
		case 'k': o_think_ms = atoi(optarg); break;
		case 't': o_timeout = atof(optarg); break;
		case 'S': o_slow = atoi(optarg); break;
		case 'Q': o_slow_sources = atoi(optarg); break;
		case 'd': o_drip = atof(optarg); break;
		case 'D': o_duration = atof(optarg); break;
		case 'g': o_grace = atof(optarg); break;
		case 'e': o_every_ms = atoi(optarg); break;
		case 'U': o_users = atoi(optarg); break;
		case 'F': o_flood = atoi(optarg); break;
		case 'f': o_from = optarg; break;
		case 'l': o_logins = atoi(optarg); break;
		case 'R': o_rounds = atoi(optarg); break;
		case 'x': o_seed = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'W': o_wait_ready = 0; break;
		default: die("bad option");
		}
	}
	if (o_n < 1 || o_n > 100000 || o_sources < 1 || o_sources > 60000 ||
	    o_slow < 0 || o_slow > 100000 || o_slow_sources < 1 ||
	    o_slow_sources > 60000 || o_rate <= 0 || o_users < 1 ||
	    o_flood < 0 || o_flood > 100000 || o_rounds < 0 ||
	    o_rounds > 1000000 || o_drip <= 0 || o_every_ms < 1 ||
	    o_think_ms < 0 || o_timeout <= 0 || o_duration < 0 ||
	    o_grace < 0)
		die("an option is out of range");
	rnd_state = o_seed;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "sessions") == 0)
		return run_sessions();
	if (strcmp(mode, "slowloris") == 0)
		return run_slowloris();
	if (strcmp(mode, "flood") == 0)
		return run_flood();
	if (strcmp(mode, "race") == 0)
		return run_race();
	die("unknown mode %s", mode);
	return 2;
}
