/*
 * check_mbox_parse.c - the mbox parser (plugins/mbox_parse.c) against
 * hostile mboxes: a stray "From " in a body, lying Content-Length
 * (garbage, short, 4 GiB), NULs, CR-only and mixed line ends, no final
 * newline, an empty file, a file that is only a separator, a preamble,
 * c-client's internal message and X-UIDL headers.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "../../plugins/mbox_parse.h"

#define SEP "From a@b Mon Dec  7 01:00:00 2026\n"
#define MAXM 16

struct got {
	struct mbox_msg m[MAXM];
	long n;
	uint64_t pre;
};

static int
collect(const struct mbox_msg *m, void *arg)
{
	struct got *g = arg;

	if (g->n < MAXM)
		g->m[g->n] = *m;
	g->n++;
	return 0;
}

static void
parse(const char *s, size_t len, struct got *g)
{
	long r;

	memset(g, 0, sizeof *g);
	r = mbox_parse((const unsigned char *)s, len, 0, collect, g, &g->pre);
	ck_assert_int_eq(r, g->n);
}

/* Message I of G equals the string WANT within S. */
static void
body_is(const char *s, const struct got *g, long i, const char *want)
{
	const struct mbox_msg *m = &g->m[i];

	ck_assert_uint_eq(m->end_off - m->body_off, strlen(want));
	ck_assert(memcmp(s + m->body_off, want, strlen(want)) == 0);
}

START_TEST(t_basic)
{
	const char s[] = SEP "Subject: 1\n\nbody one\n\n"
	    SEP "Subject: 2\n\n>From quoted\nFrom me, not a separator\n\n";
	struct got g;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 2);
	ck_assert_uint_eq(g.pre, 0);
	body_is(s, &g, 0, "Subject: 1\n\nbody one\n");
	body_is(s, &g, 1, "Subject: 2\n\n>From quoted\nFrom me, not a "
	    "separator\n");
	ck_assert_uint_eq(g.m[1].next_off, sizeof s - 1);
}
END_TEST

START_TEST(t_stray_from_with_date_splits)
{
	/* an unquoted separator-like line after a blank line is a
	 * separator (that is why MDAs quote): two messages */
	const char s[] = SEP "A: 1\n\nx\n\n" SEP "y\n";
	struct got g;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 2);
}
END_TEST

START_TEST(t_content_length_agrees)
{
	/* the body holds a separator-like line; Content-Length says where
	 * the message really ends, and the file agrees */
	const char body[] = "x\n" SEP "y\n";
	char s[512];
	struct got g;
	int n;

	n = snprintf(s, sizeof s, SEP "Content-Length: %zu\n\n%s\n" SEP
	    "B: 2\n\nz\n", strlen(body), body);
	parse(s, (size_t)n, &g);
	ck_assert_int_eq(g.n, 2);
	ck_assert(g.m[0].flags & MBOX_F_CLEN);
	ck_assert_uint_eq(g.m[0].end_off - g.m[0].body_off,
	    strlen("Content-Length: 00\n\n") + strlen(body));
}
END_TEST

START_TEST(t_content_length_lies)
{
	const char *lies[] = { "4", "7", "999999", "4294967296",
	    "18446744073709551615", "-3", "12abc", "", "99999999999999999999" };
	char s[512];
	struct got g;
	size_t i;
	int n;

	for (i = 0; i < sizeof lies / sizeof lies[0]; i++) {
		n = snprintf(s, sizeof s, SEP "Content-Length: %s\n\nbody\n\n"
		    SEP "B: 2\n\nz\n", lies[i]);
		parse(s, (size_t)n, &g);
		ck_assert_int_eq(g.n, 2);
		ck_assert(!(g.m[0].flags & MBOX_F_CLEN));
		ck_assert_uint_eq(g.m[0].end_off - g.m[0].body_off,
		    strlen("Content-Length: \n\nbody\n") + strlen(lies[i]));
	}
}
END_TEST

START_TEST(t_nul_cr_mixed)
{
	const char s[] = SEP "A: 1\r\n\r\nnul\0here\rcr only\r\n\r\n"
	    SEP "B: 2\n\nlf\n";
	struct got g;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 2);
	ck_assert_uint_eq(g.m[0].end_off - g.m[0].body_off,
	    strlen("A: 1\r\n\r\n") + 8 + strlen("\rcr only\r\n"));
	body_is(s, &g, 1, "B: 2\n\nlf\n");
}
END_TEST

START_TEST(t_no_final_newline_empty_only_sep)
{
	const char s1[] = SEP "A: 1\n\nno newline";
	const char s2[] = "From a@b Mon Dec  7 01:00:00 2026";
	const char s3[] = SEP;
	struct got g;

	parse(s1, sizeof s1 - 1, &g);
	ck_assert_int_eq(g.n, 1);
	body_is(s1, &g, 0, "A: 1\n\nno newline");
	parse("", 0, &g);
	ck_assert_int_eq(g.n, 0);
	parse(s2, sizeof s2 - 1, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.m[0].end_off, g.m[0].body_off);
	parse(s3, sizeof s3 - 1, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.m[0].end_off, g.m[0].body_off);
}
END_TEST

START_TEST(t_preamble_and_not_separators)
{
	const char s[] = "garbage before\nFrom nobody\nFrom x Mon Foo  7 "
	    "01:00:00 2026\n" SEP "A: 1\n\nb\n";
	struct got g;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_uint_eq(g.pre, strstr(s, SEP) - s);
}
END_TEST

START_TEST(t_internal_and_uidl)
{
	const char s[] = SEP "Subject: DON'T DELETE THIS MESSAGE -- FOLDER "
	    "INTERNAL DATA\nX-IMAP: 1 2\n\ntext\n\n"
	    SEP "X-UIDL:  abc.42 \n\nb\n\n"
	    SEP "X-UIDL: has space\n\nb\n\n"
	    SEP "A: 1\n\nX-UIDL: in-body\n";
	struct got g;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 4);
	ck_assert(g.m[0].flags & MBOX_F_INTERNAL);
	ck_assert(!(g.m[1].flags & MBOX_F_INTERNAL));
	ck_assert_str_eq(g.m[1].uidl, "abc.42");
	ck_assert(!(g.m[2].flags & MBOX_F_UIDL));
	ck_assert(!(g.m[3].flags & MBOX_F_UIDL));
}
END_TEST

START_TEST(t_offsets_cover_file)
{
	/* every octet after the preamble belongs to exactly one
	 * [from, next) range, in order */
	const char s[] = "pre\n" SEP "a\n\n" SEP "\n\n\n" SEP SEP "x";
	struct got g;
	long i;

	parse(s, sizeof s - 1, &g);
	ck_assert_int_eq(g.n, 4);
	ck_assert_uint_eq(g.m[0].from_off, g.pre);
	for (i = 0; i < g.n; i++) {
		ck_assert(g.m[i].from_off < g.m[i].body_off ||
		    g.m[i].body_off == sizeof s - 1);
		ck_assert(g.m[i].body_off <= g.m[i].end_off);
		ck_assert(g.m[i].end_off <= g.m[i].next_off);
		if (i + 1 < g.n)
			ck_assert_uint_eq(g.m[i].next_off, g.m[i + 1].from_off);
	}
	ck_assert_uint_eq(g.m[g.n - 1].next_off, sizeof s - 1);
}
END_TEST

START_TEST(t_from_line_rule)
{
	const char *yes[] = { "From a@b Mon Dec  7 01:00:00 2026",
	    "From a@b Mon Dec 7 1:00 2026", "From a@b Tue Jan 13 12:34:56 "
	    "+0100 2026\r", "From \"a b\"@c Sun Feb 1 00:00:00 1999" };
	const char *no[] = { "From here on", "From: a@b", "from a@b Mon Dec "
	    "7 01:00:00 2026", "From a@b Mon Dec 7 2026", "From a@b Mon Dec "
	    "777 01:00 2026", "From a@b Mon Dec 7 01:0 2026" };
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(mbox_is_from_line((const unsigned char *)yes[i],
		    strlen(yes[i])), "%s", yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!mbox_is_from_line((const unsigned char *)no[i],
		    strlen(no[i])), "%s", no[i]);
}
END_TEST

Suite *
suite_mbox_parse(void)
{
	Suite *s = suite_create("mbox_parse");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, t_basic);
	tcase_add_test(tc, t_stray_from_with_date_splits);
	tcase_add_test(tc, t_content_length_agrees);
	tcase_add_test(tc, t_content_length_lies);
	tcase_add_test(tc, t_nul_cr_mixed);
	tcase_add_test(tc, t_no_final_newline_empty_only_sep);
	tcase_add_test(tc, t_preamble_and_not_separators);
	tcase_add_test(tc, t_internal_and_uidl);
	tcase_add_test(tc, t_offsets_cover_file);
	tcase_add_test(tc, t_from_line_rule);
	suite_add_tcase(s, tc);
	return s;
}
