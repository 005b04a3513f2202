/*
 * check_pop2.c - unit tests for the POP2 front end: RFC 937 "Quoting" as
 * pop2_unquote() implements it for HELO (word) and FOLD (rest of line).
 * The protocol dialogues themselves are tested end to end in
 * tests/integ/test_pop2_edge.py.
 */
#include "config.h"

#include <string.h>

#include "pop2.h"
#include "suites.h"

struct unquote_case {
	const char *in;
	int rest;		/* FOLD: the argument is the rest of the line */
	size_t outsz;
	int rc;
	const char *out;	/* expected argument when rc == 0 */
	const char *left;	/* what *p points to afterwards */
};

static const struct unquote_case unquote_cases[] = {
	/* 0: RFC 937: "back-slash, space" is a space in a password */
	{ "my\\ pw", 0, 64, 0, "my pw", "" },
	/* 1: the user word ends at an unquoted space, which is consumed */
	{ "alice my\\ pw", 0, 64, 0, "alice", "my\\ pw" },
	/* 2: "back-slash, back-slash" is one backslash */
	{ "\\\\", 0, 64, 0, "\\", "" },
	/* 3: any other quoted character stands for itself */
	{ "se\\cret", 0, 64, 0, "secret", "" },
	/* 4: a trailing lone backslash quotes nothing: error */
	{ "abc\\", 0, 64, -1, NULL, "abc\\" },
	/* 5: same in rest-of-line mode */
	{ "work\\", 1, 64, -1, NULL, "work\\" },
	/* 6: empty argument */
	{ "", 0, 64, -1, NULL, "" },
	{ "", 1, 64, -1, NULL, "" },
	/* 8: an argument that starts with an unquoted space is empty */
	{ " pw", 0, 64, -1, NULL, " pw" },
	/* 9: FOLD: the rest of the line, spaces included */
	{ "work folder", 1, 64, 0, "work folder", "" },
	/* 10: ... and trailing spaces are part of the name */
	{ "x y ", 1, 64, 0, "x y ", "" },
	/* 11: quoting works in rest mode too */
	{ "a\\ b\\\\c d", 1, 64, 0, "a b\\c d", "" },
	/* 12: word mode stops at the first space */
	{ "work folder", 0, 64, 0, "work", "folder" },
	/* 13: only one separating space is skipped */
	{ "a  b", 0, 64, 0, "a", " b" },
	/* 14: a quoted space alone is a one-character argument */
	{ "\\ ", 0, 64, 0, " ", "" },
	/* 15: exactly fits (6 octets + NUL in 7) */
	{ "abcdef", 0, 7, 0, "abcdef", "" },
	/* 16: one octet too long */
	{ "abcdef", 0, 6, -1, NULL, "abcdef" },
	/* 17: too long counts unquoted octets: "\\ \\ " is 2 */
	{ "\\ \\ ", 0, 3, 0, "  ", "" },
	{ "\\ \\ \\ ", 0, 3, -1, NULL, "\\ \\ \\ " },
	/* 19: too long in rest mode */
	{ "a b c d", 1, 4, -1, NULL, "a b c d" },
	/* 20: no room at all */
	{ "a", 0, 1, -1, NULL, "a" },
	/* 21: a quoted backslash followed by a space ends the word */
	{ "pw\\\\ x", 0, 64, 0, "pw\\", "x" },
	/* 22: control characters are copied (the caller validates) */
	{ "a\tb", 0, 64, 0, "a\tb", "" },
};

START_TEST(test_unquote_table)
{
	const struct unquote_case *c = &unquote_cases[_i];
	char out[128];
	const char *p = c->in;
	int rc;

	ck_assert_msg(c->outsz <= sizeof(out), "case %d: bad outsz", _i);
	memset(out, 'Z', sizeof(out));
	rc = pop2_unquote(&p, out, c->outsz, c->rest);
	ck_assert_msg(rc == c->rc, "case %d (\"%s\", rest=%d): rc %d, want %d",
	    _i, c->in, c->rest, rc, c->rc);
	ck_assert_msg(strcmp(p, c->left) == 0,
	    "case %d (\"%s\"): left \"%s\", want \"%s\"", _i, c->in, p,
	    c->left);
	if (rc == 0)
		ck_assert_msg(strcmp(out, c->out) == 0,
		    "case %d (\"%s\"): got \"%s\", want \"%s\"", _i, c->in,
		    out, c->out);
	else if (c->outsz > 0)
		/* a failed argument may be a password: nothing is left */
		ck_assert_msg(out[0] == '\0',
		    "case %d (\"%s\"): output not wiped", _i, c->in);
}
END_TEST

/* A whole HELO argument list, as pop2.c parses it: user, password,
 * nothing after. */
START_TEST(test_unquote_helo_sequence)
{
	const char *p = "j\\ smith my\\ pass\\\\word";
	char user[64], pass[64];

	ck_assert_int_eq(pop2_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(pop2_unquote(&p, pass, sizeof(pass), 0), 0);
	ck_assert_str_eq(user, "j smith");
	ck_assert_str_eq(pass, "my pass\\word");
	ck_assert_str_eq(p, "");
	/* a third word is left for the caller to reject */
	p = "alice pw extra";
	ck_assert_int_eq(pop2_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(pop2_unquote(&p, pass, sizeof(pass), 0), 0);
	ck_assert_str_eq(p, "extra");
	/* a missing password */
	p = "alice";
	ck_assert_int_eq(pop2_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(pop2_unquote(&p, pass, sizeof(pass), 0), -1);
}
END_TEST

Suite *
suite_pop2(void)
{
	Suite *s = suite_create("pop2");
	TCase *tc = tcase_create("unquote");

	tcase_add_loop_test(tc, test_unquote_table, 0,
	    (int)(sizeof(unquote_cases) / sizeof(unquote_cases[0])));
	tcase_add_test(tc, test_unquote_helo_sequence);
	suite_add_tcase(s, tc);
	return s;
}
