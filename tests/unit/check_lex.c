/*
 * check_lex.c - the lexical rules the daemon and pop2get(1) share
 * (lex.c): strict numbers, RFC 937 "Quoting" as lex_unquote() reads it
 * for HELO (word) and FOLD (rest of line) and as lex_quote() writes it,
 * and the round trip between the two.  Table-driven; the case index is in
 * every failure message.  The protocol dialogues themselves are tested
 * end to end in tests/integ/test_pop2_edge.py.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "lex.h"
#include "suites.h"

struct number_case {
	const char *in;
	uint64_t max;
	int rc;
	uint64_t value;
	const char *end;	/* what follows the number */
};

static const struct number_case number_cases[] = {
	/* 0 */ { "1", 10, 0, 1, "" },
	{ "0", 10, 0, 0, "" },
	{ "10", 10, 0, 10, "" },
	{ "11", 10, -1, 0, NULL },		/* over MAX */
	{ "01", 10, -1, 0, NULL },		/* leading zero */
	/* 5 */ { "00", 10, -1, 0, NULL },
	{ "", 10, -1, 0, NULL },
	{ "-1", 10, -1, 0, NULL },
	{ "+1", 10, -1, 0, NULL },
	{ " 1", 10, -1, 0, NULL },
	/* 10: the number ends where the digits end; the caller judges */
	{ "12 characters", 100, 0, 12, " characters" },
	{ "7x", 100, 0, 7, "x" },
	{ "0 no more", 100, 0, 0, " no more" },
	{ "0x1", 100, 0, 0, "x1" },
	/* 14: the limits of uint64_t */
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX, "" },
	{ "18446744073709551616", UINT64_MAX, -1, 0, NULL },
	{ "99999999999999999999", UINT64_MAX, -1, 0, NULL },
	{ "184467440737095516150", UINT64_MAX, -1, 0, NULL },
	/* 18: the POP3 message number limit */
	{ "4294967295", 4294967295ULL, 0, 4294967295ULL, "" },
	{ "4294967296", 4294967295ULL, -1, 0, NULL },
	/* 20: a MAX below 10 */
	{ "9", 9, 0, 9, "" },
	{ "3", 2, -1, 0, NULL },
	{ "0", 0, 0, 0, "" },
	{ "\xc2\xb9", 100, -1, 0, NULL },	/* superscript one */
};

START_TEST(test_number_table)
{
	const struct number_case *c = &number_cases[_i];
	const char *end = "unchanged";
	uint64_t v = 777;
	int rc;

	rc = lex_number(c->in, c->max, &v, &end);
	ck_assert_msg(rc == c->rc, "case %d (\"%s\"): rc %d, want %d", _i,
	    c->in, rc, c->rc);
	if (rc == 0) {
		ck_assert_msg(v == c->value, "case %d (\"%s\"): %llu", _i,
		    c->in, (unsigned long long)v);
		ck_assert_msg(strcmp(end, c->end) == 0,
		    "case %d (\"%s\"): end \"%s\"", _i, c->in, end);
	} else
		ck_assert_msg(v == 777 && strcmp(end, "unchanged") == 0,
		    "case %d (\"%s\"): output written on error", _i, c->in);
}
END_TEST

struct quote_case {
	const char *in;
	size_t outsz;
	int rc;
	const char *out;
};

static const struct quote_case quote_cases[] = {
	/* 0 */ { "alice", 64, 0, "alice" },
	{ "my pw", 64, 0, "my\\ pw" },
	{ "a\\b", 64, 0, "a\\\\b" },
	{ " \\ ", 64, 0, "\\ \\\\\\ " },
	{ "", 64, 0, "" },
	/* 5: CR and LF cannot be carried */
	{ "a\rb", 64, -1, NULL },
	{ "a\nb", 64, -1, NULL },
	/* 7: exact fit and one too long, counting the added backslashes */
	{ "a b", 5, 0, "a\\ b" },
	{ "a b", 4, -1, NULL },
	{ "ab", 3, 0, "ab" },
	/* 10 */ { "ab", 2, -1, NULL },
	{ "x", 0, -1, NULL },
};

START_TEST(test_quote_table)
{
	const struct quote_case *c = &quote_cases[_i];
	char out[128];
	int rc;

	ck_assert_msg(c->outsz <= sizeof(out), "case %d: bad outsz", _i);
	memset(out, 'Z', sizeof(out));
	rc = lex_quote(c->in, out, c->outsz);
	ck_assert_msg(rc == c->rc, "case %d (\"%s\"): rc %d, want %d", _i,
	    c->in, rc, c->rc);
	if (rc == 0)
		ck_assert_msg(strcmp(out, c->out) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i, out, c->out);
	else if (c->outsz > 0)
		ck_assert_msg(out[0] == '\0', "case %d: output not wiped", _i);
}
END_TEST

/* What pop2get quotes, the daemon reads back as the same text. */
START_TEST(test_quote_roundtrip)
{
	static const char *const words[] = { "alice", "my pw", "\\", " ",
	    "a\\ b", "  two  spaces  ", "tab\tok", "end\\" };
	char q[128], back[128];
	const char *p;
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		ck_assert_msg(lex_quote(words[i], q, sizeof(q)) == 0,
		    "word %zu", i);
		p = q;
		ck_assert_msg(lex_unquote(&p, back, sizeof(back), 0) == 0,
		    "word %zu: \"%s\"", i, q);
		ck_assert_msg(strcmp(back, words[i]) == 0 && *p == '\0',
		    "word %zu: \"%s\" came back as \"%s\"", i, words[i],
		    back);
	}
}
END_TEST

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
	rc = lex_unquote(&p, out, c->outsz, c->rest);
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

	ck_assert_int_eq(lex_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(lex_unquote(&p, pass, sizeof(pass), 0), 0);
	ck_assert_str_eq(user, "j smith");
	ck_assert_str_eq(pass, "my pass\\word");
	ck_assert_str_eq(p, "");
	/* a third word is left for the caller to reject */
	p = "alice pw extra";
	ck_assert_int_eq(lex_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(lex_unquote(&p, pass, sizeof(pass), 0), 0);
	ck_assert_str_eq(p, "extra");
	/* a missing password */
	p = "alice";
	ck_assert_int_eq(lex_unquote(&p, user, sizeof(user), 0), 0);
	ck_assert_int_eq(lex_unquote(&p, pass, sizeof(pass), 0), -1);
}
END_TEST

Suite *
suite_lex(void)
{
	Suite *s = suite_create("lex");
	TCase *tc = tcase_create("number");

	tcase_add_loop_test(tc, test_number_table, 0,
	    (int)(sizeof(number_cases) / sizeof(number_cases[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("quote");
	tcase_add_loop_test(tc, test_quote_table, 0,
	    (int)(sizeof(quote_cases) / sizeof(quote_cases[0])));
	tcase_add_loop_test(tc, test_unquote_table, 0,
	    (int)(sizeof(unquote_cases) / sizeof(unquote_cases[0])));
	tcase_add_test(tc, test_unquote_helo_sequence);
	tcase_add_test(tc, test_quote_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
