/*
 * check_wire.c - the wire module (wire.c) and the line-end rule it shares
 * with the maildrop core (crlf.c): stored octets in a temp file, read
 * through a struct msgstream, sent through a struct net into another
 * temp file.  LF, CRLF, mixed, bare CR, no final newline, dot lines, TOP 0,
 * TOP n past the end, POP2's exact octets, chunk boundaries, and for every
 * case the octets sent (without stuffing and terminator) == the size the
 * core measures.  Then the mismatches: a record that promises more or
 * fewer octets than the message gives, and a file that shrank.
 * Table-driven; every failure names its case index.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crlf.h"
#include "maildrop.h"
#include "msgstream.h"
#include "net.h"
#include "suites.h"
#include "wire.h"

static char *dir;

static void
setup(void)
{
	dir = test_tmpdir();
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

/* A temp file holding LEN octets of P, open for reading. */
static int
t_file(const char *name, const void *p, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	test_write_file(path, p, len);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/* The size the core measures for RAW (maildrop_measure(): crlf.h). */
static uint64_t
t_measure(const char *raw, size_t len)
{
	uint64_t size = 0;
	int fd = t_file("measure", raw, len);

	ck_assert_int_eq(maildrop_measure(fd, 0, (off_t)len, &size), 0);
	close(fd);
	return size;
}

struct t_result {
	int rc;
	int stale;
	char *out;		/* what reached the client (malloc) */
	size_t outlen;
};

/*
 * Store RAW (LEN octets; STORED octets claimed, as a record might), send
 * it with MODE, LINES and SIZE; the client's bytes land in a file.
 */
static void
t_send(const char *raw, size_t len, off_t stored, enum wire_mode mode,
    long lines, uint64_t size, struct t_result *res)
{
	char path[PATH_MAX];
	const char *err = NULL;
	struct msgstream ms;
	struct net net;
	int in, out;
	ssize_t r;

	in = t_file("stored", raw, len);
	snprintf(path, sizeof(path), "%s/client", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert(out >= 0);
	net_init(&net, -1, out, 2048, 5);
	msgstream_init(&ms, in, 0, stored);
	ck_assert_uint_eq(msgstream_size(&ms), (uint64_t)stored);
	res->stale = -1;
	res->rc = wire_send(&net, &ms, mode, lines, size, &res->stale, &err);
	ck_assert(res->rc == 0 || err != NULL);
	ck_assert_int_eq(net_flush(&net), 0);
	msgstream_close(&ms);
	net_free(&net);
	res->outlen = (size_t)lseek(out, 0, SEEK_END);
	res->out = malloc(res->outlen + 1);
	ck_assert(res->out != NULL);
	r = pread(out, res->out, res->outlen, 0);
	ck_assert_int_eq(r, (ssize_t)res->outlen);
	res->out[res->outlen] = '\0';
	close(out);
}

/* Octets of OUT without POP3 stuffing and terminator: every line on the
 * wire that starts with "." carries one stuffed dot. */
static size_t
t_unstuffed_len(const char *out, size_t len)
{
	size_t n, i;
	int bol = 1;

	if (len >= 3 && memcmp(out + len - 3, ".\r\n", 3) == 0)
		len -= 3;
	n = len;
	for (i = 0; i < len; i++) {
		if (bol && out[i] == '.')
			n--;
		bol = out[i] == '\n';
	}
	return n;
}

struct wire_case {
	const char *raw;
	enum wire_mode mode;
	long lines;		/* < 0: RETR */
	const char *out;	/* exactly what the client gets */
};

#define P3	WIRE_POP3
#define P2	WIRE_POP2

static const struct wire_case wire_cases[] = {
	/* 0: line ends */
	{ "a\nb\n", P3, -1, "a\r\nb\r\n.\r\n" },
	{ "a\r\nb\r\n", P3, -1, "a\r\nb\r\n.\r\n" },
	{ "a\r\nb\nc\r\n", P3, -1, "a\r\nb\r\nc\r\n.\r\n" },
	{ "a\nb", P3, -1, "a\r\nb\r\n.\r\n" },		/* no final LF */
	{ "", P3, -1, ".\r\n" },
	/* 5 */
	{ "\n", P3, -1, "\r\n.\r\n" },
	{ "\n\n", P3, -1, "\r\n\r\n.\r\n" },
	{ "a\rb\n", P3, -1, "a\rb\r\n.\r\n" },		/* bare CR */
	{ "x\r", P3, -1, "x\r\r\n.\r\n" },		/* CR at the end */
	{ "a\r\r\n", P3, -1, "a\r\r\n.\r\n" },
	/* 10: dot-stuffing (RFC 1939 section 3) */
	{ ".\n..\n.x\nx.\n", P3, -1, "..\r\n...\r\n..x\r\nx.\r\n.\r\n" },
	{ ".", P3, -1, "..\r\n.\r\n" },
	{ "a\n.\r\n", P3, -1, "a\r\n..\r\n.\r\n" },
	{ "\r.\n", P3, -1, "\r.\r\n.\r\n" },		/* "." not first */
	/* 14: TOP */
	{ "H: 1\nH: 2\n\nb1\nb2\n", P3, 0, "H: 1\r\nH: 2\r\n\r\n.\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\n", P3, 1,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\n.\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\n", P3, 2,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\n", P3, 99,
	    "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n.\r\n" },	/* n > lines */
	{ "H: 1\nH: 2", P3, 0, "H: 1\r\nH: 2\r\n.\r\n" },	/* no body */
	/* 19 */
	{ "H\r\n\r\nb\r\n", P3, 0, "H\r\n\r\n.\r\n" },
	{ "H\n\r\r\nb\nc\n", P3, 0, "H\r\n\r\r\nb\r\nc\r\n.\r\n" },
	{ "H\n\n.x\n.y\n", P3, 1, "H\r\n\r\n..x\r\n.\r\n" },
	{ "H\n\nb1\nb2", P3, 5, "H\r\n\r\nb1\r\nb2\r\n.\r\n" },
	{ "", P3, 0, ".\r\n" },
	/* 24: POP2: exactly the octets, no stuffing, no terminator */
	{ "a\n.\nb", P2, -1, "a\r\n.\r\nb\r\n" },
	{ "a\r\n", P2, -1, "a\r\n" },
	{ ".\n..\n", P2, -1, ".\r\n..\r\n" },
	{ "x\r", P2, -1, "x\r\r\n" },
};

START_TEST(test_wire_table)
{
	const struct wire_case *c = &wire_cases[_i];
	size_t len = strlen(c->raw);
	uint64_t size = t_measure(c->raw, len);
	struct t_result res;

	t_send(c->raw, len, (off_t)len, c->mode, c->lines, size, &res);
	ck_assert_msg(res.rc == 0 && res.stale == 0,
	    "case %d: rc %d stale %d", _i, res.rc, res.stale);
	ck_assert_msg(res.outlen == strlen(c->out) &&
	    memcmp(res.out, c->out, res.outlen) == 0,
	    "case %d: got \"%s\"", _i, res.out);
	/* The size promised is the octets sent: every RETR, and a TOP
	 * that reached the end of the message. */
	if (c->mode == WIRE_POP2)
		ck_assert_msg(res.outlen == size, "case %d: %zu octets, size "
		    "%llu", _i, res.outlen, (unsigned long long)size);
	else if (c->lines < 0)
		ck_assert_msg(t_unstuffed_len(res.out, res.outlen) == size,
		    "case %d: %zu octets, size %llu", _i,
		    t_unstuffed_len(res.out, res.outlen),
		    (unsigned long long)size);
	free(res.out);
}
END_TEST

/*
 * Chunk boundaries: the stored octets are read 64 KiB at a time.  A CRLF,
 * a CR that is not one, and a line starting with "." may straddle the
 * boundary; the result is the same as in one piece.
 */
struct chunk_case {
	const char *tail;	/* after 65535 'x' */
	const char *want;	/* after the 65535 'x' on the wire */
	enum wire_mode mode;
};

static const struct chunk_case chunk_cases[] = {
	/* 0: CR | LF */
	{ "\r\ny\n", "\r\ny\r\n.\r\n", P3 },
	/* 1: CR | not LF */
	{ "\ry\n", "\ry\r\n.\r\n", P3 },
	/* 2: LF | "." */
	{ "\n.y\n", "\r\n..y\r\n.\r\n", P3 },
	/* 3: CR | LF "." */
	{ "\r\n.\n", "\r\n..\r\n.\r\n", P3 },
	/* 4: POP2 over the boundary */
	{ "\r\n.\n", "\r\n.\r\n", P2 },
	/* 5: the message ends in a CR exactly at the boundary */
	{ "\r", "\r\r\n.\r\n", P3 },
};

START_TEST(test_wire_chunks)
{
	const struct chunk_case *c = &chunk_cases[_i];
	size_t xs = 65535, tl = strlen(c->tail), wl = strlen(c->want);
	char *raw = malloc(xs + tl), *want = malloc(xs + wl);
	struct t_result res;
	uint64_t size;

	ck_assert(raw != NULL && want != NULL);
	memset(raw, 'x', xs);
	memcpy(raw + xs, c->tail, tl);
	memset(want, 'x', xs);
	memcpy(want + xs, c->want, wl);
	size = t_measure(raw, xs + tl);
	t_send(raw, xs + tl, (off_t)(xs + tl), c->mode, -1, size, &res);
	ck_assert_msg(res.rc == 0, "case %d: rc %d", _i, res.rc);
	ck_assert_msg(res.outlen == xs + wl &&
	    memcmp(res.out, want, xs + wl) == 0, "case %d: \"%s\"", _i,
	    res.out + xs);
	if (c->mode == WIRE_POP2)
		ck_assert_uint_eq(res.outlen, size);
	else
		ck_assert_uint_eq(t_unstuffed_len(res.out, res.outlen), size);
	free(res.out);
	free(raw);
	free(want);
}
END_TEST

/*
 * The record and the message disagree (finding 1.2): never more octets
 * than announced, never a terminator after a short message, and STALE so
 * the caller drops the record.
 */
struct stale_case {
	const char *raw;
	long delta;		/* announced size = measured + delta */
	enum wire_mode mode;
	long lines;
};

static const struct stale_case stale_cases[] = {
	/* 0: the record promises one octet less (a flipped size bit) */
	{ "Subject: x\n\nbody\n", -1, P3, -1 },
	{ "Subject: x\n\nbody\n", -1, P2, -1 },
	/* 2: ... or one more: the message ends short */
	{ "Subject: x\n\nbody\n", 1, P3, -1 },
	{ "Subject: x\n\nbody\n", 1, P2, -1 },
	/* 4: far off either way */
	{ "a\nb\nc\nd\n", -7, P3, -1 },
	{ "a\nb\nc\nd\n", 1000, P2, -1 },
	/* 6: TOP past the end of the message checks the size too */
	{ "H\n\nb\n", 2, P3, 99 },
	/* 7: TOP can never send more than the whole message */
	{ "H\n\nb\nc\n", -4, P3, 99 },
};

START_TEST(test_wire_stale)
{
	const struct stale_case *c = &stale_cases[_i];
	size_t len = strlen(c->raw);
	uint64_t size = t_measure(c->raw, len) + (uint64_t)c->delta;
	struct t_result res;
	size_t body;

	t_send(c->raw, len, (off_t)len, c->mode, c->lines, size, &res);
	ck_assert_msg(res.rc == -1 && res.stale == 1,
	    "case %d: rc %d stale %d", _i, res.rc, res.stale);
	body = c->mode == WIRE_POP2 ? res.outlen :
	    t_unstuffed_len(res.out, res.outlen);
	ck_assert_msg(body <= size, "case %d: %zu octets past size %llu", _i,
	    body, (unsigned long long)size);
	ck_assert_msg(res.outlen < 3 ||
	    memcmp(res.out + res.outlen - 3, ".\r\n", 3) != 0 ||
	    c->mode == WIRE_POP2, "case %d: a terminator after a bad message",
	    _i);
	free(res.out);
}
END_TEST

/* The file is shorter than the message the storage announced (it shrank
 * under us): a read error, STALE. */
START_TEST(test_wire_short_file)
{
	static const char raw[] = "a\nb\n";
	struct t_result res;

	t_send(raw, 4, 10, WIRE_POP3, -1, 100, &res);
	ck_assert_int_eq(res.rc, -1);
	ck_assert_int_eq(res.stale, 1);
	free(res.out);
}
END_TEST

/* A client that is gone: -1, but the message is fine (not STALE). */
START_TEST(test_wire_write_error)
{
	static const char raw[] = "a\nb\n";
	const char *err = NULL;
	struct msgstream ms;
	struct net net;
	int in, stale = -1, p[2];

	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);		/* nobody reads: EPIPE (SIGPIPE ignored) */
	in = t_file("stored", raw, 4);
	net_init(&net, -1, p[1], 2048, 5);
	msgstream_init(&ms, in, 0, 4);
	net_printf(&net, "+OK\r\n");
	ck_assert_int_eq(net_flush(&net), -1);
	ck_assert_int_eq(wire_send(&net, &ms, WIRE_POP3, -1, 6, &stale,
	    &err), -1);
	ck_assert_int_eq(stale, 0);
	msgstream_close(&ms);
	net_free(&net);
	close(p[1]);
}
END_TEST

/* crlf.h alone: a message fed in any chunking counts the same. */
START_TEST(test_crlf_chunking)
{
	static const char raw[] = "a\r\nb\rc\n\r\r\n.\nend\r";
	size_t len = sizeof(raw) - 1, step, i;
	struct crlf cr;
	uint64_t whole, n;

	crlf_init(&cr);
	whole = crlf_count(&cr, raw, len) + crlf_count_end(&cr);
	ck_assert_uint_eq(whole, 20);
	for (step = 1; step <= len; step++) {
		crlf_init(&cr);
		n = 0;
		for (i = 0; i < len; i += step)
			n += crlf_count(&cr, raw + i,
			    len - i < step ? len - i : step);
		n += crlf_count_end(&cr);
		ck_assert_msg(n == whole, "step %zu: %llu", step,
		    (unsigned long long)n);
	}
}
END_TEST

/* crlf_count() against the sum of crlf_next()'s pieces, on random octets
 * (mostly CR, LF, '.', 'x') cut into random chunks. */
START_TEST(test_crlf_count_matches_next)
{
	static const char alphabet[] = "\r\n.x";
	char raw[300];
	struct crlf a, b;
	struct crlf_piece pc;
	uint64_t na, nb;
	size_t len, i, step, k, used;
	unsigned seed = 1939;
	int round;

	for (round = 0; round < 3000; round++) {
		len = (size_t)(rand_r(&seed) % sizeof(raw));
		for (i = 0; i < len; i++)
			raw[i] = alphabet[rand_r(&seed) % 4];
		crlf_init(&a);
		crlf_init(&b);
		na = nb = 0;
		for (i = 0; i < len; i += step) {
			step = 1 + (size_t)(rand_r(&seed) % 40);
			if (step > len - i)
				step = len - i;
			na += crlf_count(&a, raw + i, step);
			for (k = 0; k < step; k += used) {
				used = crlf_next(&b, raw + i + k, step - k, &pc);
				nb += pc.len;
			}
		}
		na += crlf_count_end(&a);
		while (crlf_end(&b, &pc))
			nb += pc.len;
		ck_assert_msg(na == nb, "round %d len %zu: %llu != %llu",
		    round, len, (unsigned long long)na,
		    (unsigned long long)nb);
	}
}
END_TEST

Suite *
suite_wire(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("wire");

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_wire_table, 0,
	    (int)(sizeof(wire_cases) / sizeof(wire_cases[0])));
	tcase_add_loop_test(tc, test_wire_chunks, 0,
	    (int)(sizeof(chunk_cases) / sizeof(chunk_cases[0])));
	tcase_add_loop_test(tc, test_wire_stale, 0,
	    (int)(sizeof(stale_cases) / sizeof(stale_cases[0])));
	tcase_add_test(tc, test_wire_short_file);
	tcase_add_test(tc, test_wire_write_error);
	tcase_add_test(tc, test_crlf_chunking);
	tcase_add_test(tc, test_crlf_count_matches_next);
	suite_add_tcase(s, tc);
	return s;
}
