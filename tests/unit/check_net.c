/*
 * check_net.c - net.c line reading and output, driven through an
 * AF_UNIX socketpair with the client side written by a forked process:
 * CRLF and bare LF, the 253-octet limit, over-long lines discarded
 * through their LF with exactly one NET_TOOLONG (memory bounded), NUL,
 * split and 1-byte segments, EOF mid-line, timeouts, preloaded input,
 * pipelining, flush-before-wait, the reply cap and the write timeout,
 * separate input and output fds (two pipes, as inetd wrappers give) and
 * the phase deadline; STLS's discarded input and a transport (TLS) that
 * holds input the descriptor does not show.  The "recv" test cases run
 * the same tests with net_wait_in_recv() (the mail-user session's wait
 * inside recv(2) with SO_RCVTIMEO), plus its own: the timeout set once
 * and kept, a pipe and a non-blocking socket falling back to poll(2).
 * The ipc.c tests live here too (same socketpair harness).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "defaults.h"
#include "ipc.h"
#include "net.h"
#include "suites.h"

/* Every readline in these tests gives up after this long, so a bug shows
 * as a failure, not a hang. */
#define T_READ_TIMEOUT	10

static double
t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
t_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* 1 in the "recv" test cases: every struct net waits in recv(2). */
static int t_rwait;

static void
t_rwait_on(void)
{
	t_rwait = 1;
}

static void
t_rwait_off(void)
{
	t_rwait = 0;
}

static void
t_net_init(struct net *n, int rfd, int wfd, size_t input_max,
    int write_timeout_s)
{
	net_init(n, rfd, wfd, input_max, write_timeout_s);
	if (t_rwait)
		net_wait_in_recv(n);
}

static void
t_socketpair(int type, int sv[2])
{
	ck_assert_msg(socketpair(AF_UNIX, type, 0, sv) == 0, "socketpair: %s",
	    strerror(errno));
}

static int
t_write_all(int fd, const char *p, size_t len)
{
	ssize_t r;

	while (len > 0) {
		if ((r = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Children of a test never outlive it by much, even if it fails. */
#define T_CHILD_ALARM	20

/*
 * Fork a client that writes DATA to SV[1] in CHUNK-octet writes (0: one
 * write), sleeping DELAY_MS between them, then exits (closing it).  The
 * child closes SV[0], so a reader that gives up does not leave it blocked
 * on its own socket; the caller closes SV[1] so the reader sees EOF.
 */
static pid_t
t_writer(const int sv[2], const char *data, size_t len, size_t chunk,
    int delay_ms)
{
	pid_t pid = fork();
	int fd = sv[1];
	size_t k;

	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid != 0)
		return pid;
	close(sv[0]);
	alarm(T_CHILD_ALARM);
	if (chunk == 0)
		chunk = len;
	while (len > 0) {
		k = len < chunk ? len : chunk;
		if (t_write_all(fd, data, k) == -1)
			_exit(1);
		data += k;
		len -= k;
		if (delay_ms > 0 && len > 0)
			t_sleep_ms(delay_ms);
	}
	_exit(0);
}

static int
t_reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Read what the peer has for us: up to SZ octets, stopping when nothing
 * arrives for MS milliseconds. */
static size_t
t_peer_read(int fd, char *buf, size_t sz, int ms)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t r;

	while (got < sz) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, ms) <= 0)
			break;
		if ((r = read(fd, buf + got, sz - got)) <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static const char *
t_status_name(int st)
{
	static const char *const names[] = { "LINE", "TOOLONG", "NUL", "EOF",
	    "TIMEOUT", "EXPIRED", "ERROR" };

	return st >= 0 && st <= NET_ERROR ? names[st] : "?";
}

/* ------------------------------------------------------------ lines */

#define S(x)	x, sizeof(x) - 1

struct exp {
	int st;			/* enum net_status */
	const char *line;	/* NET_LINE: text; NULL = FILL 'x' + TAIL */
	size_t fill;
	const char *tail;
};

/* Input is REPEAT x (PRE, NFILL octets 'x', POST). */
struct line_case {
	const char *pre;
	size_t prelen;
	size_t nfill;
	const char *post;
	size_t postlen;
	int repeat;
	size_t input_max;	/* 0: INPUT_BUF_MAX */
	struct exp ex[8];	/* up to and including NET_EOF */
};

#define L(s)	{ NET_LINE, s, 0, "" }
#define LF(n)	{ NET_LINE, NULL, n, "" }
#define LFT(n, t) { NET_LINE, NULL, n, t }
#define TL	{ NET_TOOLONG, NULL, 0, "" }
#define NUL	{ NET_NUL, NULL, 0, "" }
#define EOF_	{ NET_EOF, NULL, 0, "" }

static const struct line_case line_cases[] = {
	/* 0 */ { S("USER alice\r\n"), 0, S(""), 1, 0,
	    { L("USER alice"), EOF_ } },
	/* 1: bare LF accepted */
	{ S("NOOP\n"), 0, S(""), 1, 0, { L("NOOP"), EOF_ } },
	/* 2: empty line */
	{ S("\r\n"), 0, S(""), 1, 0, { L(""), EOF_ } },
	/* 3: one CR removed, not two */
	{ S("A\r\r\n"), 0, S(""), 1, 0, { L("A\r"), EOF_ } },
	/* 4: LF, then CRLF, then a line */
	{ S("A\n\r\nB\r\n"), 0, S(""), 1, 0,
	    { L("A"), L(""), L("B"), EOF_ } },
	/* 5: pipelining, three commands in one write (RFC 2449 6.6) */
	{ S("STAT\r\nLIST\r\nUIDL\r\n"), 0, S(""), 1, 0,
	    { L("STAT"), L("LIST"), L("UIDL"), EOF_ } },
	/* 6: 253 octets + CRLF = 255, the RFC 2449 maximum */
	{ S(""), 253, S("\r\n"), 1, 0, { LF(253), EOF_ } },
	/* 7: 253 octets + bare LF */
	{ S(""), 253, S("\n"), 1, 0, { LF(253), EOF_ } },
	/* 8: 254 octets: one TOOLONG, the next line is parsed */
	{ S(""), 254, S("\r\nNOOP\r\n"), 1, 0,
	    { TL, L("NOOP"), EOF_ } },
	/* 9: 253 + CR + CR: 254 octets after removing one CR */
	{ S(""), 253, S("\r\r\nNOOP\r\n"), 1, 0,
	    { TL, L("NOOP"), EOF_ } },
	/* 10: 254 + bare LF */
	{ S(""), 254, S("\nNOOP\n"), 1, 0, { TL, L("NOOP"), EOF_ } },
	/* 11: NUL in a line: rejected, next line fine */
	{ S("US\0ER a\r\nNOOP\r\n"), 0, S(""), 1, 0,
	    { NUL, L("NOOP"), EOF_ } },
	/* 12: NUL as the first octet */
	{ S("\0\r\n"), 0, S(""), 1, 0, { NUL, EOF_ } },
	/* 13: NUL just before the LF (after a CR) */
	{ S("abc\r\0\n"), 0, S(""), 1, 0, { NUL, EOF_ } },
	/* 14: EOF mid-line: nothing executes */
	{ S("NOOP"), 0, S(""), 1, 0, { EOF_ } },
	/* 15: a full line, then a partial one */
	{ S("QUIT\r\nPART"), 0, S(""), 1, 0, { L("QUIT"), EOF_ } },
	/* 16: EOF with a CR but no LF */
	{ S("NOOP\r"), 0, S(""), 1, 0, { EOF_ } },
	/* 17: EOF while an over-long line is being discarded */
	{ S(""), 600, S(""), 1, 0, { EOF_ } },
	/* 18: 64 KiB without LF in a 2 KiB buffer, then NOOP */
	{ S(""), 65536, S("\r\nNOOP\r\n"), 1, 2048,
	    { TL, L("NOOP"), EOF_ } },
	/* 19: three over-long lines in a row, each reported once */
	{ S(""), 300, S("\r\nNOOP\r\n"), 3, 0,
	    { TL, L("NOOP"), TL, L("NOOP"), TL, L("NOOP"), EOF_ } },
	/* 20: lines longer than the input buffer, twice */
	{ S(""), 2100, S("\r\nNOOP\r\n"), 2, 2048,
	    { TL, L("NOOP"), TL, L("NOOP"), EOF_ } },
	/* 21: an over-long line with a NUL is one TOOLONG */
	{ S("\0"), 300, S("\r\nNOOP\r\n"), 1, 0, { TL, L("NOOP"), EOF_ } },
	/* 22: two empty bare-LF lines */
	{ S("\n\n"), 0, S(""), 1, 0, { L(""), L(""), EOF_ } },
	/* 23: 252 + CR is a 253-octet line whose last octet is CR */
	{ S(""), 252, S("\r\r\n"), 1, 0, { LFT(252, "\r"), EOF_ } },
	/* 24: exactly maxlen + 1 octets then EOF */
	{ S(""), 254, S(""), 1, 0, { EOF_ } },
};

/* Build the input of case C; the caller frees it. */
static char *
t_case_input(const struct line_case *c, size_t *len_r)
{
	size_t one = c->prelen + c->nfill + c->postlen, off = 0;
	char *p = malloc(one * (size_t)c->repeat + 1);
	int i;

	ck_assert(p != NULL);
	for (i = 0; i < c->repeat; i++) {
		memcpy(p + off, c->pre, c->prelen);
		off += c->prelen;
		memset(p + off, 'x', c->nfill);
		off += c->nfill;
		memcpy(p + off, c->post, c->postlen);
		off += c->postlen;
	}
	*len_r = off;
	return p;
}

static void
t_run_line_case(int ci, size_t chunk, int delay_ms)
{
	const struct line_case *c = &line_cases[ci];
	size_t inlen, len, k, imax;
	char line[POP3_LINE_MAX + 1], *in;
	struct net n;
	pid_t pid;
	int sv[2], st;

	imax = c->input_max ? c->input_max : INPUT_BUF_MAX;
	in = t_case_input(c, &inlen);
	t_socketpair(SOCK_STREAM, sv);
	pid = t_writer(sv, in, inlen, chunk, delay_ms);
	close(sv[1]);
	t_net_init(&n, sv[0], sv[0], imax, 5);

	for (k = 0; k < sizeof(c->ex) / sizeof(c->ex[0]); k++) {
		const struct exp *e = &c->ex[k];

		st = net_readline(&n, line, POP3_LINE_MAX, &len,
		    T_READ_TIMEOUT);
		ck_assert_msg(st == e->st,
		    "case %d chunk %zu step %zu: %s, want %s", ci, chunk, k,
		    t_status_name(st), t_status_name(e->st));
		ck_assert_msg(n.in.cap <= imax && n.in.len <= imax,
		    "case %d step %zu: buffer %zu/%zu beyond %zu", ci, k,
		    n.in.len, n.in.cap, imax);
		if (st == NET_LINE) {
			ck_assert_msg(line[len] == '\0' &&
			    len <= POP3_LINE_MAX, "case %d step %zu: len %zu",
			    ci, k, len);
			if (e->line != NULL) {
				ck_assert_msg(len == strlen(e->line) &&
				    memcmp(line, e->line, len) == 0,
				    "case %d chunk %zu step %zu: \"%s\", "
				    "want \"%s\"", ci, chunk, k, line, e->line);
			} else {
				size_t j, tl = strlen(e->tail);

				ck_assert_msg(len == e->fill + tl,
				    "case %d step %zu: len %zu, want %zu", ci,
				    k, len, e->fill + tl);
				for (j = 0; j < e->fill; j++)
					ck_assert_msg(line[j] == 'x',
					    "case %d step %zu: byte %zu", ci,
					    k, j);
				ck_assert_msg(memcmp(line + e->fill, e->tail,
				    tl) == 0, "case %d step %zu: tail", ci, k);
			}
		}
		if (st == NET_EOF)
			break;
	}
	/* After EOF, EOF again: nothing was left to execute or hand on. */
	(void)net_pending(&n, &k);
	ck_assert_msg(k == 0, "case %d: %zu octets pending after EOF", ci, k);
	st = net_readline(&n, line, POP3_LINE_MAX, &len, T_READ_TIMEOUT);
	ck_assert_msg(st == NET_EOF, "case %d: after EOF: %s", ci,
	    t_status_name(st));
	net_free(&n);
	close(sv[0]);
	ck_assert_int_eq(t_reap(pid), 0);
	free(in);
}

START_TEST(test_lines_one_write)
{
	t_run_line_case(_i, 0, 0);
}
END_TEST

START_TEST(test_lines_1byte)
{
	t_run_line_case(_i, 1, 0);
}
END_TEST

START_TEST(test_lines_7byte)
{
	t_run_line_case(_i, 7, 0);
}
END_TEST

/* Segments split inside CRLF, with time for the reader to see each. */
START_TEST(test_split_crlf)
{
	static const char in[] = "NOOP\r\nSTAT\r\nUSER a\r\n";
	char line[POP3_LINE_MAX + 1];
	static const char *const want[] = { "NOOP", "STAT", "USER a" };
	struct net n;
	size_t len, k;
	pid_t pid;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	/* 1-byte writes 5 ms apart: every CR arrives before its LF. */
	pid = t_writer(sv, in, sizeof(in) - 1, 1, 5);
	close(sv[1]);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	for (k = 0; k < 3; k++) {
		ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
		    T_READ_TIMEOUT), NET_LINE);
		ck_assert_str_eq(line, want[k]);
	}
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_EOF);
	net_free(&n);
	close(sv[0]);
	ck_assert_int_eq(t_reap(pid), 0);
}
END_TEST

/*
 * An over-long line whose LF arrives across calls (the first call times
 * out mid-discard): one TOOLONG, memory bounded, and nothing of the line
 * is left for net_pending().
 */
START_TEST(test_toolong_across_calls)
{
	char line[POP3_LINE_MAX + 1], chunk[1000];
	struct net n;
	size_t len, plen;
	int sv[2], i;

	t_socketpair(SOCK_STREAM, sv);
	t_net_init(&n, sv[0], sv[0], 2048, 5);
	memset(chunk, 'y', sizeof(chunk));
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(t_write_all(sv[1], chunk, sizeof(chunk)), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	ck_assert_msg(n.discard > 0, "not discarding");
	(void)net_pending(&n, &plen);
	ck_assert_uint_eq(plen, 0);
	ck_assert_uint_le(n.in.cap, 2048);
	ck_assert(!net_line_pending(&n));
	/* more of the same line, then its end and a command */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(t_write_all(sv[1], chunk, sizeof(chunk)), 0);
	ck_assert_int_eq(t_write_all(sv[1], S("\r\nNOOP\r\n")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_TOOLONG);
	ck_assert_uint_eq(n.discard, 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "NOOP");
	ck_assert_uint_le(n.in.cap, 2048);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Nothing arrives: NET_TIMEOUT after about a second. */
START_TEST(test_timeout)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	double t0, dt;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	t0 = t_now();
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	dt = t_now() - t0;
	ck_assert_msg(dt >= 0.9 && dt < 4.0, "timeout took %.2f s", dt);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * The timeout runs from the call, not from the last byte: a client that
 * sends one byte every 200 ms without ever finishing a line is timed
 * out.  A partial line survives the timeout.
 */
START_TEST(test_timeout_trickle)
{
	/* 15 x "NOOP", one octet every 200 ms: 12 s if left alone. */
	static const char in[] = "NOOPNOOPNOOPNOOPNOOPNOOPNOOPNOOPNOOPNOOP"
	    "NOOPNOOPNOOPNOOPNOOP";
	char line[POP3_LINE_MAX + 1];
	struct net n;
	double t0, dt;
	size_t len;
	pid_t pid;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	pid = t_writer(sv, in, sizeof(in) - 1, 1, 200);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	t0 = t_now();
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	dt = t_now() - t0;
	/* A timer restarted by each octet would run for 12 s or more. */
	ck_assert_msg(dt >= 0.9 && dt < 4.0, "timeout took %.2f s", dt);
	kill(pid, SIGKILL);
	(void)t_reap(pid);
	/* what arrived so far is still there, and completes a line */
	ck_assert_int_eq(t_write_all(sv[1], S("\r\n")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_msg(len >= 3 && len < sizeof(in) - 1 &&
	    memcmp(line, in, len) == 0, "partial line \"%s\"", line);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Bytes handed over by the pre-auth child come before the socket's. */
START_TEST(test_preload)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	ck_assert_int_eq(t_write_all(sv[1], S("SS b\r\nSTAT\r\n")), 0);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_preload(&n, S("USER a\r\nPA")), 0);
	ck_assert(net_line_pending(&n));
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "USER a");
	ck_assert(!net_line_pending(&n));
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "PASS b");
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "STAT");
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A preload larger than the input bound is refused. */
START_TEST(test_preload_bound)
{
	static char big[INPUT_BUF_MAX + 1];
	struct net n;

	t_net_init(&n, -1, -1, INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_preload(&n, big, sizeof(big)), -1);
	ck_assert_int_eq(net_preload(&n, big, INPUT_BUF_MAX), 0);
	net_free(&n);
}
END_TEST

/* net_pending / net_line_pending after a pipelined burst. */
START_TEST(test_pending)
{
	char line[POP3_LINE_MAX + 1];
	const char *p;
	struct net n;
	size_t len, plen;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	(void)net_pending(&n, &plen);
	ck_assert_uint_eq(plen, 0);
	ck_assert(!net_line_pending(&n));
	ck_assert_int_eq(t_write_all(sv[1], S("STLS\r\nUSER x\r\nPA")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "STLS");
	ck_assert(net_line_pending(&n));
	p = net_pending(&n, &plen);
	ck_assert_uint_eq(plen, 10);
	ck_assert(memcmp(p, "USER x\r\nPA", 10) == 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert(!net_line_pending(&n));
	p = net_pending(&n, &plen);
	ck_assert_uint_eq(plen, 2);
	ck_assert(memcmp(p, "PA", 2) == 0);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A reply is flushed before we wait: the peer answers only after it has
 * read our greeting, so without the flush both sides would wait.
 */
START_TEST(test_flush_before_wait)
{
	static const char greet[] = "+OK pop23d ready\r\n";
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	pid_t pid;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0) {
		char buf[64];
		size_t got;

		close(sv[0]);
		alarm(T_CHILD_ALARM);
		got = t_peer_read(sv[1], buf, sizeof(greet) - 1, 3000);
		if (got == sizeof(greet) - 1 &&
		    memcmp(buf, greet, got) == 0)
			(void)t_write_all(sv[1], S("QUIT\r\n"));
		else
			(void)t_write_all(sv[1], S("BAD\r\n"));
		_exit(0);
	}
	close(sv[1]);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_printf(&n, "+OK %s ready\r\n", "pop23d"), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "QUIT");
	ck_assert_uint_eq(n.outlen, 0);
	net_free(&n);
	close(sv[0]);
	ck_assert_int_eq(t_reap(pid), 0);
}
END_TEST

/*
 * Pipelined commands get their replies together: no flush while another
 * line is already buffered, one flush when we would wait.
 */
START_TEST(test_pipelined_replies)
{
	char line[POP3_LINE_MAX + 1], got[64];
	struct pollfd pfd;
	struct net n;
	size_t len, k;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	ck_assert_int_eq(t_write_all(sv[1], S("STAT\r\nLIST 1\r\n")), 0);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "STAT");
	ck_assert_int_eq(net_printf(&n, "+OK %d %d\r\n", 2, 320), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "LIST 1");
	pfd.fd = sv[1];
	pfd.events = POLLIN;
	ck_assert_msg(poll(&pfd, 1, 0) == 0, "flushed with a line buffered");
	ck_assert_int_eq(net_printf(&n, "+OK 1 %d\r\n", 120), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	k = t_peer_read(sv[1], got, sizeof(got), 200);
	ck_assert_uint_eq(k, 22);
	ck_assert(memcmp(got, "+OK 2 320\r\n+OK 1 120\r\n", 22) == 0);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

struct cap_case {
	size_t arglen;		/* %s of this many 'z' */
	const char *suffix;
	size_t want_len;
	int want_crlf;
};

static const struct cap_case cap_cases[] = {
	{ 10, "\r\n", 4 + 10 + 2, 1 },
	{ 506, "\r\n", 512, 1 },	/* "+OK " + 506 + CRLF = 512 exactly */
	{ 507, "\r\n", 512, 1 },	/* 513 -> cut to 512 keeping CRLF */
	{ 600, "\r\n", 512, 1 },
	{ 3000, "\r\n", 512, 1 },	/* longer than the local buffer */
	{ 600, "", 512, 0 },		/* no CRLF: cut, none added */
};

START_TEST(test_printf_cap)
{
	const struct cap_case *c = &cap_cases[_i];
	char *arg, got[4096];
	struct net n;
	size_t k;
	int sv[2];

	arg = malloc(c->arglen + 1);
	ck_assert(arg != NULL);
	memset(arg, 'z', c->arglen);
	arg[c->arglen] = '\0';
	t_socketpair(SOCK_STREAM, sv);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_printf(&n, "+OK %s%s", arg, c->suffix), 0);
	ck_assert_int_eq(net_flush(&n), 0);
	k = t_peer_read(sv[1], got, sizeof(got), 200);
	ck_assert_msg(k == c->want_len, "case %d: %zu octets, want %zu", _i,
	    k, c->want_len);
	ck_assert_msg(k <= POP3_REPLY_MAX, "case %d: reply over 512", _i);
	ck_assert_msg(memcmp(got, "+OK zz", 6) == 0, "case %d", _i);
	if (c->want_crlf)
		ck_assert_msg(got[k - 2] == '\r' && got[k - 1] == '\n',
		    "case %d: no CRLF at the end", _i);
	else
		ck_assert_msg(got[k - 1] == 'z', "case %d: tail", _i);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
	free(arg);
}
END_TEST

/* Output larger than NET_OUTBUF arrives whole and in order. */
START_TEST(test_write_large)
{
	const size_t total = 5 * NET_OUTBUF + 123;
	char *data;
	struct net n;
	size_t i;
	pid_t pid;
	int sv[2];

	data = malloc(total);
	ck_assert(data != NULL);
	for (i = 0; i < total; i++)
		data[i] = (char)(i * 7 + i / 251);
	t_socketpair(SOCK_STREAM, sv);
	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0) {
		char *got = malloc(total + 1);
		size_t k;

		close(sv[0]);
		alarm(T_CHILD_ALARM);
		if (got == NULL)
			_exit(2);
		k = t_peer_read(sv[1], got, total + 1, 3000);
		_exit(k == total && memcmp(got, data, total) == 0 ? 0 : 1);
	}
	close(sv[1]);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	/* in uneven pieces */
	for (i = 0; i < total; i += 1000)
		ck_assert_int_eq(net_write(&n, data + i,
		    total - i < 1000 ? total - i : 1000), 0);
	ck_assert_int_eq(net_flush(&n), 0);
	net_free(&n);
	close(sv[0]);
	ck_assert_int_eq(t_reap(pid), 0);
	free(data);
}
END_TEST

/* A client that never reads is dropped after write_timeout
 * (doc/SECURITY.md B9). */
START_TEST(test_write_timeout)
{
	static char chunk[65536];
	struct net n;
	double t0, dt;
	size_t sent = 0;
	int sv[2], sz = 4096, r = 0, err = 0;

	t_socketpair(SOCK_STREAM, sv);
	ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
	    sizeof(sz)), 0);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz,
	    sizeof(sz)), 0);
	memset(chunk, 'm', sizeof(chunk));
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 1);
	t0 = t_now();
	while (sent < 8 * 1024 * 1024) {
		if ((r = net_write(&n, chunk, sizeof(chunk))) == -1) {
			err = errno;
			break;
		}
		sent += sizeof(chunk);
	}
	dt = t_now() - t0;
	ck_assert_msg(r == -1, "wrote %zu octets to a stalled peer", sent);
	ck_assert_msg(dt < 8.0, "took %.2f s to give up", dt);
	ck_assert_msg(dt >= 0.9, "gave up after only %.2f s", dt);
	ck_assert_int_eq(err, ETIMEDOUT);
	ck_assert_int_eq(n.failed, 1);
	/* from now on everything fails at once */
	ck_assert_int_eq(net_write(&n, "x", 1), -1);
	ck_assert_int_eq(net_printf(&n, "+OK\r\n"), -1);
	ck_assert_int_eq(net_flush(&n), -1);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Writing to a closed peer fails with EPIPE, without SIGPIPE. */
START_TEST(test_closed_peer)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	close(sv[1]);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_printf(&n, "+OK bye\r\n"), 0);
	ck_assert_int_eq(net_flush(&n), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(n.failed, 1);
	/* readline on a failed connection does not block */
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 0),
	    NET_ERROR);
	net_free(&n);
	close(sv[0]);
}
END_TEST

/*
 * Input on one pipe, output on another (inetd under socat EXEC or
 * stunnel: fd 0 and fd 1 are different pipes).  Before net.c took two
 * fds it wrote its replies to the input fd and nothing arrived.  More
 * than PIPE_BUF octets go out, so the pipe write path is exercised.
 */
START_TEST(test_two_pipes)
{
	char line[POP3_LINE_MAX + 1], *big, *got;
	int in[2], out[2];
	size_t len, bigsz = 3 * NET_OUTBUF + 7, n = 0;
	ssize_t r;
	struct net net;
	pid_t pid;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	big = malloc(bigsz);
	got = malloc(bigsz);
	ck_assert(big != NULL && got != NULL);
	memset(big, 'p', bigsz);
	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0) {
		/* the client: send two commands, read everything back */
		alarm(T_CHILD_ALARM);
		close(in[0]);
		close(out[1]);
		if (t_write_all(in[1], S("USER a\r\nSTAT\n")) == -1)
			_exit(1);
		while (n < bigsz + 5 &&
		    (r = read(out[0], got, bigsz)) > 0)
			n += (size_t)r;
		_exit(n == bigsz + 5 ? 0 : 2);
	}
	close(in[1]);
	close(out[0]);
	t_net_init(&net, in[0], out[1], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_readline(&net, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "USER a");
	ck_assert_int_eq(net_printf(&net, "+OK\r\n"), 0);
	ck_assert_int_eq(net_readline(&net, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "STAT");
	ck_assert_int_eq(net_write(&net, big, bigsz), 0);
	ck_assert_int_eq(net_flush(&net), 0);
	ck_assert_int_eq(t_reap(pid), 0);
	net_free(&net);
	close(in[0]);
	close(out[1]);
	free(big);
	free(got);
}
END_TEST

/*
 * The phase deadline bounds a client that keeps sending complete
 * commands (each one would reset a per-command timer): NET_EXPIRED once
 * it has passed, although every single line arrives in time.
 */
START_TEST(test_deadline)
{
	static const char in[] = "CAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\n"
	    "CAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\n"
	    "CAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\n";
	char line[POP3_LINE_MAX + 1];
	struct net n;
	double t0, dt;
	size_t len;
	pid_t pid;
	int sv[2], st, lines = 0;

	t_socketpair(SOCK_STREAM, sv);
	/* one line every 300 ms: about 5 s in all */
	pid = t_writer(sv, in, sizeof(in) - 1, 6, 300);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	t0 = t_now();
	net_set_deadline(&n, deadline_now() + 1000);
	while ((st = net_readline(&n, line, POP3_LINE_MAX, &len, 2)) ==
	    NET_LINE)
		lines++;
	dt = t_now() - t0;
	ck_assert_msg(st == NET_EXPIRED, "status %s after %d lines",
	    t_status_name(st), lines);
	ck_assert_msg(lines >= 1 && lines < 16, "%d lines", lines);
	ck_assert_msg(dt >= 0.9 && dt < 2.5, "deadline took %.2f s", dt);
	/* and a flush after it fails instead of waiting */
	ck_assert_int_eq(net_printf(&n, "-ERR\r\n"), 0);
	kill(pid, SIGKILL);
	(void)t_reap(pid);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A descriptor that is not open: NET_ERROR at once, no hang. */
START_TEST(test_readline_bad_fd)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	close(sv[1]);
	close(sv[0]);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_ERROR);
	net_free(&n);
}
END_TEST

/* ------------------------------------------------- recv(2) waiting */

/* SO_RCVTIMEO of FD in ms, 0: none. */
static long
t_rcvtimeo(int fd)
{
	struct timeval tv;
	socklen_t sl = sizeof tv;

	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &sl), 0);
	return (long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * The session's wait: lines come in through recv(2); SO_RCVTIMEO is the
 * idle timeout, set at the first wait and kept while every wait has about
 * the same time left; a shorter timeout sets it again and fires on time.
 */
START_TEST(test_recv_wait)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	double t0, dt;
	size_t len;
	long first;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	net_wait_in_recv(&n);
	ck_assert_int_eq(n.rwait, 1);
	ck_assert_int_eq(t_rcvtimeo(sv[0]), 0);
	ck_assert_int_eq(t_write_all(sv[1], S("STAT\r\n")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 30),
	    NET_LINE);
	ck_assert_str_eq(line, "STAT");
	first = t_rcvtimeo(sv[0]);
	ck_assert_msg(first > 29000 && first <= 30000, "SO_RCVTIMEO %ld",
	    first);
	ck_assert_int_eq(net_printf(&n, "+OK\r\n"), 0);
	/* now it waits: the reply goes out first, the line comes later */
	if (fork() == 0) {
		alarm(T_CHILD_ALARM);
		if (recv(sv[1], line, sizeof line, 0) != 5)
			_exit(1);
		t_sleep_ms(100);
		_exit(t_write_all(sv[1], S("LIST 1\r\nNOOP")) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 30),
	    NET_LINE);
	ck_assert_str_eq(line, "LIST 1");
	/* kept (within the slack), and still waiting in recv(2) */
	ck_assert_int_eq(t_rcvtimeo(sv[0]), first);
	ck_assert_int_eq(n.rwait, 1);
	(void)wait(NULL);
	ck_assert_int_eq(t_write_all(sv[1], S("\r\n")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 30),
	    NET_LINE);
	ck_assert_str_eq(line, "NOOP");
	ck_assert_int_eq(t_rcvtimeo(sv[0]), first);
	/* a 1 s timeout replaces it, and fires after about a second */
	t0 = t_now();
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	dt = t_now() - t0;
	ck_assert_msg(dt >= 0.9 && dt < 2.0, "timeout took %.2f s", dt);
	ck_assert_msg(t_rcvtimeo(sv[0]) <= 1000, "SO_RCVTIMEO %ld",
	    t_rcvtimeo(sv[0]));
	/* EOF */
	close(sv[1]);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 30),
	    NET_EOF);
	net_free(&n);
	close(sv[0]);
}
END_TEST

/* A non-blocking socket would make recv(2) return at once, a busy loop:
 * it keeps poll(2), and a timeout takes its time without the CPU. */
START_TEST(test_recv_wait_nonblocking)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	clock_t c0;
	double t0, dt;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	net_wait_in_recv(&n);
	ck_assert_int_eq(n.rwait, 0);
	t0 = t_now();
	c0 = clock();
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	dt = t_now() - t0;
	ck_assert_msg(dt >= 0.9 && dt < 2.0, "timeout took %.2f s", dt);
	ck_assert_msg((double)(clock() - c0) / CLOCKS_PER_SEC < 0.3,
	    "%.2f s of CPU while waiting",
	    (double)(clock() - c0) / CLOCKS_PER_SEC);
	ck_assert_int_eq(t_rcvtimeo(sv[0]), 0);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A pipe has no SO_RCVTIMEO: the first wait falls back to poll(2). */
START_TEST(test_recv_wait_pipe)
{
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	int in[2], out[2];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	net_init(&n, in[0], out[1], INPUT_BUF_MAX, 5);
	net_wait_in_recv(&n);
	ck_assert_int_eq(n.rwait, 1);
	ck_assert_int_eq(t_write_all(in[1], S("QUIT\r\n")), 0);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 5),
	    NET_LINE);
	ck_assert_str_eq(line, "QUIT");
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	ck_assert_int_eq(n.rwait, 0);
	close(in[1]);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 5),
	    NET_EOF);
	net_free(&n);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}
END_TEST

/* ------------------------------------------------------------- ipc */

struct ipc_case {
	int send_type;
	size_t send_len;
	int recv_type;
	size_t recv_len;
	int expect;
};

static const struct ipc_case ipc_cases[] = {
	/* 0: the credentials record, round trip */
	{ IPC_LOGIN, sizeof(struct ipc_login), IPC_LOGIN,
	    sizeof(struct ipc_login), 0 },
	/* 1: a small result */
	{ IPC_VERDICT, 4, IPC_VERDICT, 4, 0 },
	/* 2: an empty payload */
	{ IPC_VERDICT, 0, IPC_VERDICT, 0, 0 },
	/* 3: wrong type */
	{ IPC_VERDICT, 4, IPC_LOGIN, 4, -1 },
	{ IPC_LOGIN, sizeof(struct ipc_login), IPC_VERDICT,
	    sizeof(struct ipc_login), -1 },
	/* 5: shorter than expected */
	{ IPC_LOGIN, sizeof(struct ipc_login) - 1, IPC_LOGIN,
	    sizeof(struct ipc_login), -1 },
	{ IPC_VERDICT, 0, IPC_VERDICT, 4, -1 },
	/* 7: longer than expected, by one and by a lot */
	{ IPC_VERDICT, 5, IPC_VERDICT, 4, -1 },
	{ IPC_VERDICT, sizeof(struct ipc_login), IPC_VERDICT, 4, -1 },
	{ IPC_LOGIN, sizeof(struct ipc_login) + 1, IPC_LOGIN,
	    sizeof(struct ipc_login), -1 },
	/* 10: an unknown type number */
	{ 77, 4, IPC_VERDICT, 4, -1 },
};

START_TEST(test_ipc)
{
	const struct ipc_case *c = &ipc_cases[_i];
	unsigned char *out, *in;
	size_t i, big = sizeof(struct ipc_login) + 16;
	int sv[2], r;

	out = malloc(big);
	in = malloc(big);
	ck_assert(out != NULL && in != NULL);
	for (i = 0; i < big; i++)
		out[i] = (unsigned char)(i * 13 + 5);
	memset(in, 0xaa, big);
	t_socketpair(SOCK_SEQPACKET, sv);
	ck_assert_msg(ipc_send(sv[1], (enum ipc_type)c->send_type, out,
	    c->send_len) == 0, "case %d: send: %s", _i, strerror(errno));
	r = ipc_recv(sv[0], (enum ipc_type)c->recv_type, in, c->recv_len,
	    0);
	ck_assert_msg(r == c->expect, "case %d: recv %d, want %d", _i, r,
	    c->expect);
	if (r == 0)
		ck_assert_msg(c->recv_len == 0 ||
		    memcmp(in, out, c->recv_len) == 0, "case %d: payload", _i);
	else
		for (i = 0; i < big; i++)
			ck_assert_msg(in[i] == 0xaa,
			    "case %d: output written on failure", _i);
	/* One record per call: a following message is intact. */
	ck_assert_int_eq(ipc_send(sv[1], IPC_VERDICT, "abcd", 4), 0);
	ck_assert_int_eq(ipc_recv(sv[0], IPC_VERDICT, in, 4, 0), 0);
	ck_assert(memcmp(in, "abcd", 4) == 0);
	close(sv[0]);
	close(sv[1]);
	free(out);
	free(in);
}
END_TEST

/* The login records with real contents survive the trip. */
START_TEST(test_ipc_auth_struct)
{
	struct ipc_login a, b;
	struct ipc_handover h, g;
	int sv[2];

	memset(&a, 0, sizeof(a));
	memset(&b, 0x55, sizeof(b));
	a.mech = 1;
	memcpy(a.data, "\0alice\0s3cr3t", 14);
	a.len = 14;
	memset(&h, 0, sizeof(h));
	memset(&g, 0x55, sizeof(g));
	h.len = 6;
	memcpy(h.input, "STAT\r\n", 6);
	t_socketpair(SOCK_SEQPACKET, sv);
	ck_assert_int_eq(ipc_send(sv[1], IPC_LOGIN, &a, sizeof(a)), 0);
	ck_assert_int_eq(ipc_send(sv[1], IPC_HANDOVER, &h, sizeof(h)), 0);
	ck_assert_int_eq(ipc_recv(sv[0], IPC_LOGIN, &b, sizeof(b), 0), 0);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	ck_assert_int_eq(ipc_recv(sv[0], IPC_HANDOVER, &g, sizeof(g), 0), 0);
	ck_assert(memcmp(&h, &g, sizeof(h)) == 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Nothing arrives: recv gives up at its deadline (the monitor's bound on
 * a pre-auth child that stopped talking). */
START_TEST(test_ipc_deadline)
{
	uint32_t v = 0;
	double t0, dt;
	int sv[2];

	t_socketpair(SOCK_SEQPACKET, sv);
	t0 = t_now();
	errno = 0;
	ck_assert_int_eq(ipc_recv(sv[0], IPC_VERDICT, &v, sizeof(v),
	    deadline_now() + 500), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	dt = t_now() - t0;
	ck_assert_msg(dt >= 0.45 && dt < 3.0, "deadline took %.2f s", dt);
	/* a record that is there is taken even at a passed deadline */
	ck_assert_int_eq(ipc_send(sv[1], IPC_VERDICT, &v, sizeof(v)), 0);
	ck_assert_int_eq(ipc_recv(sv[0], IPC_VERDICT, &v, sizeof(v),
	    deadline_now() - 1), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* The peer goes away: recv fails instead of blocking or succeeding. */
START_TEST(test_ipc_eof)
{
	uint32_t v = 0;
	int sv[2];

	t_socketpair(SOCK_SEQPACKET, sv);
	close(sv[1]);
	ck_assert_int_eq(ipc_recv(sv[0], IPC_VERDICT, &v, sizeof(v), 0),
	    -1);
	/* and sending to a closed peer fails without SIGPIPE */
	ck_assert_int_eq(ipc_send(sv[0], IPC_VERDICT, &v, sizeof(v)), -1);
	close(sv[0]);
}
END_TEST

/*
 * STLS: what the client sent after STLS, before the handshake, is dropped
 * (net_discard_input()) and never comes back as a line.
 */
START_TEST(test_discard_input)
{
	static const char in[] = "STLS\r\nCAPA\r\nUS";
	char line[POP3_LINE_MAX + 1];
	struct net n;
	size_t len;
	int sv[2];

	t_socketpair(SOCK_STREAM, sv);
	ck_assert_int_eq(send(sv[1], in, sizeof(in) - 1, 0),
	    (ssize_t)sizeof(in) - 1);
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "STLS");
	ck_assert(net_line_pending(&n));
	ck_assert_uint_eq(net_discard_input(&n), 8);
	ck_assert(!net_line_pending(&n));
	(void)net_pending(&n, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(send(sv[1], "ER a\r\nNOOP\r\n", 12, 0), 12);
	/* "ER a" is a line of its own now, not the rest of "USER a" */
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "ER a");
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len,
	    T_READ_TIMEOUT), NET_LINE);
	ck_assert_str_eq(line, "NOOP");
	/* an over-long line being skipped is forgotten too */
	ck_assert_int_eq(send(sv[1], "x", 1, 0), 1);
	n.discard = 5;
	(void)net_discard_input(&n);
	ck_assert_uint_eq(n.discard, 0);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A transport as TLS is one (net_io): it holds input the descriptor no
 * longer shows, and it may ask to wait for the other direction. */
struct t_io {
	int fd;			/* the "record" arrives here */
	const char *in;
	size_t inlen, inoff;
	char out[256];
	size_t outlen;
	int reads, writes;
};

static ssize_t
t_io_read(void *ctx, void *buf, size_t len, short *want_r)
{
	struct t_io *t = ctx;

	if (t->reads++ == 0) {
		char rec;

		/* the whole input came as one "record" on the socket */
		ck_assert_int_eq(recv(t->fd, &rec, 1, 0), 1);
		*want_r = POLLOUT;	/* like SSL_ERROR_WANT_WRITE */
		errno = EAGAIN;
		return -1;
	}
	if (t->inoff == t->inlen) {
		*want_r = POLLIN;
		errno = EAGAIN;
		return -1;
	}
	/* one octet at a time: everything else stays "pending" */
	(void)len;
	((char *)buf)[0] = t->in[t->inoff++];
	return 1;
}

static ssize_t
t_io_write(void *ctx, const void *buf, size_t len, short *want_r)
{
	struct t_io *t = ctx;

	if (t->writes++ == 0) {
		*want_r = POLLOUT;
		errno = EAGAIN;
		return -1;
	}
	if (len > sizeof(t->out) - t->outlen)
		len = sizeof(t->out) - t->outlen;
	memcpy(t->out + t->outlen, buf, len);
	t->outlen += len;
	return (ssize_t)len;
}

static size_t
t_io_pending(void *ctx)
{
	struct t_io *t = ctx;

	return t->reads == 0 ? 0 : t->inlen - t->inoff;
}

START_TEST(test_transport)
{
	static const struct net_io io = { t_io_read, t_io_write,
	    t_io_pending };
	static const char in[] = "USER a\r\nPASS b\r\n";
	char line[POP3_LINE_MAX + 1];
	struct t_io t;
	struct net n;
	size_t len;
	double t0;
	int sv[2];

	memset(&t, 0, sizeof t);
	t.in = in;
	t.inlen = sizeof(in) - 1;
	t_socketpair(SOCK_STREAM, sv);
	t.fd = sv[0];
	t_net_init(&n, sv[0], sv[0], INPUT_BUF_MAX, 5);
	net_set_io(&n, &io, &t);
	/* One octet (a "record") makes the descriptor readable once; the
	 * transport takes it and then holds both lines, which must come
	 * out without another wait. */
	ck_assert_int_eq(send(sv[1], "r", 1, 0), 1);
	t0 = t_now();
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 2),
	    NET_LINE);
	ck_assert_str_eq(line, "USER a");
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 2),
	    NET_LINE);
	ck_assert_str_eq(line, "PASS b");
	ck_assert_msg(t_now() - t0 < 1.0, "waited %.2f s", t_now() - t0);
	/* nothing left: it waits for the descriptor, and times out */
	ck_assert_int_eq(net_readline(&n, line, POP3_LINE_MAX, &len, 1),
	    NET_TIMEOUT);
	/* output goes through the transport, after one EAGAIN */
	ck_assert_int_eq(net_printf(&n, "+OK %s\r\n", "fine"), 0);
	ck_assert_int_eq(net_flush(&n), 0);
	ck_assert_uint_eq(t.outlen, 10);
	ck_assert(memcmp(t.out, "+OK fine\r\n", 10) == 0);
	ck_assert_int_eq(t.writes, 2);
	/* and off again: the descriptor itself */
	net_set_io(&n, NULL, NULL);
	ck_assert_int_eq(net_printf(&n, "plain\r\n"), 0);
	ck_assert_int_eq(net_flush(&n), 0);
	ck_assert_int_eq(recv(sv[1], line, sizeof line, 0), 7);
	net_free(&n);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * The line and output tests, listed once and added for both ways net.c
 * waits for input: poll(2) then read(2) (the default) into the "lines"
 * and "output" test cases, and recv(2) with SO_RCVTIMEO
 * (net_wait_in_recv(), set by the fixture of "recv") into that one test
 * case for both.  Three run in the poll mode only: test_preload_bound,
 * test_printf_cap and test_write_large never wait for input, which is
 * all that the recv mode changes.
 */
static void
add_line_output_tests(TCase *lines, TCase *output, int recv)
{
	int nlines = (int)(sizeof(line_cases) / sizeof(line_cases[0]));
	int ncaps = (int)(sizeof(cap_cases) / sizeof(cap_cases[0]));

	tcase_add_loop_test(lines, test_lines_one_write, 0, nlines);
	tcase_add_loop_test(lines, test_lines_1byte, 0, nlines);
	tcase_add_loop_test(lines, test_lines_7byte, 0, nlines);
	tcase_add_test(lines, test_split_crlf);
	tcase_add_test(lines, test_toolong_across_calls);
	tcase_add_test(lines, test_timeout);
	tcase_add_test(lines, test_timeout_trickle);
	tcase_add_test(lines, test_preload);
	if (!recv)
		tcase_add_test(lines, test_preload_bound);
	tcase_add_test(lines, test_pending);
	tcase_add_test(lines, test_readline_bad_fd);
	tcase_add_test(lines, test_two_pipes);
	tcase_add_test(lines, test_deadline);
	tcase_add_test(lines, test_discard_input);
	tcase_add_test(lines, test_transport);

	tcase_add_test(output, test_flush_before_wait);
	tcase_add_test(output, test_pipelined_replies);
	if (!recv) {
		tcase_add_loop_test(output, test_printf_cap, 0, ncaps);
		tcase_add_test(output, test_write_large);
	}
	tcase_add_test(output, test_write_timeout);
	tcase_add_test(output, test_closed_peer);
}

Suite *
suite_net(void)
{
	Suite *s = suite_create("net");
	TCase *lines = tcase_create("lines");
	TCase *output = tcase_create("output");
	TCase *tc;

	tcase_set_timeout(lines, 30);
	tcase_set_timeout(output, 30);
	add_line_output_tests(lines, output, 0);
	suite_add_tcase(s, lines);
	suite_add_tcase(s, output);

	/* The same line and output tests, waiting in recv(2), and its own. */
	tc = tcase_create("recv");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, t_rwait_on, t_rwait_off);
	add_line_output_tests(tc, tc, 1);
	tcase_add_test(tc, test_recv_wait);
	tcase_add_test(tc, test_recv_wait_nonblocking);
	tcase_add_test(tc, test_recv_wait_pipe);
	suite_add_tcase(s, tc);

	/* ipc.c: no suite of its own in suites.h. */
	tc = tcase_create("ipc");
	tcase_add_loop_test(tc, test_ipc, 0,
	    (int)(sizeof(ipc_cases) / sizeof(ipc_cases[0])));
	tcase_add_test(tc, test_ipc_auth_struct);
	tcase_add_test(tc, test_ipc_deadline);
	tcase_add_test(tc, test_ipc_eof);
	suite_add_tcase(s, tc);
	return s;
}
