/*
 * check_log.c - the line rule of log.c: whatever a caller (a plugin
 * through host->log, a forgotten log_escape()) passes, a log line holds
 * only printable ASCII; octets >= 0x80 and control characters are \xHH,
 * long lines are cut with "...".  log_sanitize() is the rule itself.
 * Runs unprivileged.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "suites.h"

#define S(x)	x, sizeof(x) - 1

static const struct {
	const char *in;
	size_t len;
	size_t outsz;
	const char *want;
} san_cases[] = {
	{ S("alice"), 64, "alice" },
	/* A Maildir key in UTF-8 ("été"), as store_maildir may log it. */
	{ S("\xc3\xa9t\xc3\xa9.M1P1.host"), 64,
	    "\\xc3\\xa9t\\xc3\\xa9.M1P1.host" },
	{ S("\x80\xff"), 64, "\\x80\\xff" },
	{ S("a\r\nb\x1b\x7f"), 64, "a\\x0d\\x0ab\\x1b\\x7f" },
	/* Already escaped text is not escaped twice. */
	{ S("user=\\x1b"), 64, "user=\\x1b" },
	{ S("%n%s"), 64, "%n%s" },
	/* Cut: never inside an escape, "..." at the end. */
	{ S("ab\xe9\xe9\xe9"), 10, "ab\\xe9..." },
	{ S("abc\xe9zzzz"), 10, "abc..." },
};

START_TEST(test_sanitize)
{
	char out[128];

	memset(out, 'Z', sizeof out);
	log_sanitize(san_cases[_i].in, san_cases[_i].len, out,
	    san_cases[_i].outsz);
	ck_assert_msg(strcmp(out, san_cases[_i].want) == 0,
	    "case %d: \"%s\", want \"%s\"", _i, out, san_cases[_i].want);
	ck_assert_msg(out[san_cases[_i].outsz] == 'Z',
	    "case %d: wrote past outsz", _i);
}
END_TEST

/* Run FN with stderr on a pipe (log.c before log_init(): stderr only);
 * returns what it wrote, NUL-terminated, in BUF. */
static void
capture(void (*fn)(void), char *buf, size_t bufsz)
{
	ssize_t k;
	size_t off = 0;
	int p[2], saved;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], STDERR_FILENO), 0);
	close(p[1]);
	fn();
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	while (off < bufsz - 1 &&
	    (k = read(p[0], buf + off, bufsz - 1 - off)) > 0)
		off += (size_t)k;
	close(p[0]);
	buf[off] = '\0';
}

static void
log_high_octets(void)
{
	log_set_session("3f2a9c01");
	/* What store_maildir's host->log() call hands log_vprio(). */
	log_warnx("list duplicate key name=%s", "\xe9t\xe9.M1P1.host");
	errno = ENOENT;
	log_warn("open path=/home/b\xc3\xb6" "b/Maildir");
}

START_TEST(test_line_high_octets)
{
	char got[4096];
	size_t i;

	capture(log_high_octets, got, sizeof got);
	for (i = 0; got[i] != '\0'; i++)
		ck_assert_msg(got[i] == '\n' ||
		    ((unsigned char)got[i] >= 0x20 &&
		    (unsigned char)got[i] <= 0x7e), "octet 0x%02x at %zu in %s",
		    (unsigned char)got[i], i, got);
	ck_assert_msg(strstr(got, " name=\\xe9t\\xe9.M1P1.host\n") != NULL,
	    "%s", got);
	ck_assert_msg(strstr(got, " open path=/home/b\\xc3\\xb6b/Maildir: "
	    "No such file or directory\n") != NULL, "%s", got);
}
END_TEST

static void
log_long_line(void)
{
	char big[3000];

	memset(big, 0xff, sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_set_session("-");
	log_warnx("k=%s", big);
}

/* A line of 8-bit text quadruples when escaped: still one bounded line. */
START_TEST(test_line_cut)
{
	char got[8192], *nl;

	capture(log_long_line, got, sizeof got);
	nl = strchr(got, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_msg(nl[1] == '\0', "more than one line: %s", got);
	ck_assert_msg(nl - got < 1024 + 96, "line of %td octets", nl - got);
	ck_assert_msg(strncmp(nl - 3, "...", 3) == 0, "%s", got);
	ck_assert_ptr_nonnull(strstr(got, " k=\\xff\\xff"));
}
END_TEST

Suite *
suite_log(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("line rule");

	tcase_add_loop_test(tc, test_sanitize, 0,
	    (int)(sizeof san_cases / sizeof san_cases[0]));
	tcase_add_test(tc, test_line_high_octets);
	tcase_add_test(tc, test_line_cut);
	suite_add_tcase(s, tc);
	return s;
}
