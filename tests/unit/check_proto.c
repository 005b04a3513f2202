/*
 * check_proto.c - the table-driven command dispatcher (lookup by verb and
 * state, "known in another state", argument rules, the handler and the
 * refusal hook), strict number parsing (message numbers and TOP counts),
 * command splitting, the printable check, log_escape() (which guards
 * every client string on its way into the log), and the log line format.
 * Table-driven: every failure names its case index.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "suites.h"

struct num_case {
	const char *in;
	int msgnum_ok;		/* proto_parse_msgnum succeeds */
	int count_ok;		/* proto_parse_count succeeds */
	unsigned long value;
};

static const struct num_case num_cases[] = {
	{ "1", 1, 1, 1 },
	{ "9", 1, 1, 9 },
	{ "10", 1, 1, 10 },
	{ "123456", 1, 1, 123456 },
	{ "0", 0, 1, 0 },
	{ "00", 0, 0, 0 },
	{ "01", 0, 0, 0 },
	{ "000000000001", 0, 0, 0 },
	{ "-1", 0, 0, 0 },
	{ "-0", 0, 0, 0 },
	{ "+1", 0, 0, 0 },
	{ " 1", 0, 0, 0 },
	{ "1 ", 0, 0, 0 },
	{ "1\t", 0, 0, 0 },
	{ "1\r", 0, 0, 0 },
	{ "1e3", 0, 0, 0 },
	{ "0x1", 0, 0, 0 },
	{ "1.0", 0, 0, 0 },
	{ "", 0, 0, 0 },
	{ "abc", 0, 0, 0 },
	{ "12a", 0, 0, 0 },
	{ "999999999", 1, 1, 999999999 },
	{ "1000000000", 1, 1, 1000000000 },
	{ "4294967294", 1, 1, 4294967294UL },
	{ "4294967295", 1, 1, 4294967295UL },
	{ "4294967296", 0, 0, 0 },
	{ "4294967297", 0, 0, 0 },
	{ "9999999999", 0, 0, 0 },
	{ "10000000000", 0, 0, 0 },
	{ "999999999999", 0, 0, 0 },
	{ "18446744073709551615", 0, 0, 0 },
	{ "18446744073709551616", 0, 0, 0 },
	{ "18446744073709551617", 0, 0, 0 },
	{ "123456789012345678901234567890", 0, 0, 0 },
	{ "\xc2\xb9", 0, 0, 0 },		/* superscript one */
};

START_TEST(test_parse_msgnum)
{
	const struct num_case *c = &num_cases[_i];
	unsigned long v = 777;
	int r;

	r = proto_parse_msgnum(c->in, &v);
	ck_assert_msg(r == (c->msgnum_ok ? 0 : -1),
	    "case %d (\"%s\"): msgnum returned %d", _i, c->in, r);
	if (c->msgnum_ok)
		ck_assert_msg(v == c->value, "case %d (\"%s\"): %lu, want %lu",
		    _i, c->in, v, c->value);
	else
		ck_assert_msg(v == 777, "case %d: *n_r written on error", _i);
}
END_TEST

START_TEST(test_parse_count)
{
	const struct num_case *c = &num_cases[_i];
	unsigned long v = 777;
	int r;

	r = proto_parse_count(c->in, &v);
	ck_assert_msg(r == (c->count_ok ? 0 : -1),
	    "case %d (\"%s\"): count returned %d", _i, c->in, r);
	if (c->count_ok)
		ck_assert_msg(v == c->value, "case %d (\"%s\"): %lu, want %lu",
		    _i, c->in, v, c->value);
	else
		ck_assert_msg(v == 777, "case %d: *n_r written on error", _i);
}
END_TEST

START_TEST(test_parse_null)
{
	unsigned long v;

	ck_assert_int_eq(proto_parse_msgnum(NULL, &v), -1);
	ck_assert_int_eq(proto_parse_count(NULL, &v), -1);
}
END_TEST

struct split_case {
	const char *line;
	const char *kw;
	const char *args;
};

static const struct split_case split_cases[] = {
	{ "STAT", "STAT", "" },
	{ "RETR 1", "RETR", "1" },
	{ "TOP 1 10", "TOP", "1 10" },
	{ "RETR  1", "RETR", " 1" },		/* two spaces: args keep one */
	{ "RETR ", "RETR", "" },
	{ " RETR 1", "", "RETR 1" },
	{ "", "", "" },
	{ " ", "", "" },
	{ "USER a b", "USER", "a b" },
	{ "NOOP\t1", "NOOP\t1", "" },		/* only SPACE separates */
	{ "PASS  secret with spaces ", "PASS", " secret with spaces " },
};

START_TEST(test_split)
{
	const struct split_case *c = &split_cases[_i];
	char line[256], *kw, *args = NULL;

	ck_assert(strlen(c->line) < sizeof(line));
	memcpy(line, c->line, strlen(c->line) + 1);
	kw = proto_split(line, &args);
	ck_assert_msg(kw == line, "case %d: keyword not at start", _i);
	ck_assert_msg(strcmp(kw, c->kw) == 0,
	    "case %d (\"%s\"): keyword \"%s\", want \"%s\"", _i, c->line, kw,
	    c->kw);
	ck_assert_msg(args != NULL && strcmp(args, c->args) == 0,
	    "case %d (\"%s\"): args \"%s\", want \"%s\"", _i, c->line,
	    args != NULL ? args : "(null)", c->args);
}
END_TEST

/* ---------------------------------------------------------- dispatch */

/* A table with the shapes POP3, POP2 and the coming AUTH/STLS use. */
enum { ST_A, ST_B, ST_C };
#define A	PROTO_STATE(ST_A)
#define B	PROTO_STATE(ST_B)
#define C	PROTO_STATE(ST_C)

static int t_called;			/* which handler ran, 0: none */
static int t_argc;
static char t_argv[PROTO_ARGS_MAX][64];
static enum proto_verdict t_refused;	/* what the refusal hook got */
static const char *t_refused_verb;

#define T_HANDLER(n)							\
static int								\
t_fn##n(void *fe, char **argv, int argc)				\
{									\
	int i;								\
									\
	ck_assert_ptr_eq(fe, &t_called);				\
	t_called = n;							\
	t_argc = argc;							\
	for (i = 0; i < argc; i++)					\
		snprintf(t_argv[i], sizeof(t_argv[i]), "%s", argv[i]);	\
	return 100 + n;							\
}
T_HANDLER(1)
T_HANDLER(2)
T_HANDLER(3)
T_HANDLER(4)
T_HANDLER(5)
T_HANDLER(6)
T_HANDLER(7)
T_HANDLER(8)
T_HANDLER(9)

static int
t_refuse(void *fe, enum proto_verdict v, const struct proto_cmd *cmd)
{
	ck_assert_ptr_eq(fe, &t_called);
	t_refused = v;
	t_refused_verb = cmd != NULL ? cmd->verb : NULL;
	return -1;
}

static const struct proto_cmd t_cmds[] = {
	{ "USER", A, 1, 1, t_fn1 },
	{ "PASS", A, 0, PROTO_REST, t_fn2 },
	{ "QUIT", A, 0, 0, t_fn3 },
	{ "QUIT", B | C, 0, 0, t_fn4 },		/* same verb, other state */
	{ "LIST", B, 0, 1, t_fn5 },
	{ "TOP", B, 2, 2, t_fn6 },
	{ "FOLD", B | C, 1, PROTO_REST, t_fn7 },	/* POP2: not empty */
	{ "AUTH", A, 1, 2, t_fn8 },		/* RFC 5034: mech [ir] */
	{ "STLS", A, 0, 0, t_fn9 },
	{ NULL, 0, 0, 0, NULL }
};

struct dispatch_case {
	unsigned state;
	const char *line;
	enum proto_verdict verdict;
	int handler;		/* expected handler for PROTO_RUN */
	const char *verb;	/* entry the verdict names (NULL: none) */
	int argc;
	const char *argv[PROTO_ARGS_MAX];
};

static const struct dispatch_case dispatch_cases[] = {
	/* 0: found, any case */
	{ ST_A, "USER alice", PROTO_RUN, 1, "USER", 1, { "alice" } },
	{ ST_A, "user alice", PROTO_RUN, 1, "USER", 1, { "alice" } },
	{ ST_A, "uSeR alice", PROTO_RUN, 1, "USER", 1, { "alice" } },
	/* 3: one verb, a handler per state */
	{ ST_A, "QUIT", PROTO_RUN, 3, "QUIT", 0, { NULL } },
	{ ST_B, "QUIT", PROTO_RUN, 4, "QUIT", 0, { NULL } },
	{ ST_C, "quit", PROTO_RUN, 4, "QUIT", 0, { NULL } },
	/* 6: known, but in another state: the canonical verb comes back */
	{ ST_B, "user alice", PROTO_WRONG_STATE, 0, "USER", 0, { NULL } },
	{ ST_A, "list", PROTO_WRONG_STATE, 0, "LIST", 0, { NULL } },
	{ ST_C, "TOP 1 2", PROTO_WRONG_STATE, 0, "TOP", 0, { NULL } },
	/* 9: unknown anywhere */
	{ ST_A, "XYZZY", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	{ ST_A, "", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	{ ST_A, " USER alice", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	{ ST_A, "USERS alice", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	{ ST_A, "USE", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	{ ST_A, "USER\talice", PROTO_UNKNOWN, 0, NULL, 0, { NULL } },
	/* 15: argument counts */
	{ ST_A, "USER", PROTO_ARGS_MISSING, 0, "USER", 0, { NULL } },
	{ ST_A, "USER ", PROTO_ARGS_MISSING, 0, "USER", 0, { NULL } },
	{ ST_A, "USER a b", PROTO_ARGS_EXTRA, 0, "USER", 0, { NULL } },
	{ ST_A, "QUIT now", PROTO_ARGS_EXTRA, 0, "QUIT", 0, { NULL } },
	{ ST_B, "TOP 1", PROTO_ARGS_MISSING, 0, "TOP", 0, { NULL } },
	/* 20 */
	{ ST_B, "TOP 1 2", PROTO_RUN, 6, "TOP", 2, { "1", "2" } },
	{ ST_B, "TOP 1 2 3", PROTO_ARGS_EXTRA, 0, "TOP", 0, { NULL } },
	{ ST_B, "LIST", PROTO_RUN, 5, "LIST", 0, { NULL } },
	{ ST_B, "LIST 7", PROTO_RUN, 5, "LIST", 1, { "7" } },
	{ ST_B, "LIST 7 8", PROTO_ARGS_EXTRA, 0, "LIST", 0, { NULL } },
	/* 25: RFC 1939 section 3: single spaces; an empty word is wrong */
	{ ST_B, "LIST  7", PROTO_ARGS_EXTRA, 0, "LIST", 0, { NULL } },
	{ ST_B, "LIST 7 ", PROTO_ARGS_EXTRA, 0, "LIST", 0, { NULL } },
	{ ST_B, "TOP 1  2", PROTO_ARGS_EXTRA, 0, "TOP", 0, { NULL } },
	{ ST_B, "LIST ", PROTO_RUN, 5, "LIST", 0, { NULL } },
	{ ST_A, "QUIT ", PROTO_RUN, 3, "QUIT", 0, { NULL } },
	/* 30: the rest of the line, spaces included */
	{ ST_A, "PASS my secret ", PROTO_RUN, 2, "PASS", 1,
	    { "my secret " } },
	{ ST_A, "PASS  x", PROTO_RUN, 2, "PASS", 1, { " x" } },
	{ ST_A, "PASS", PROTO_RUN, 2, "PASS", 1, { "" } },
	{ ST_C, "FOLD work mail", PROTO_RUN, 7, "FOLD", 1,
	    { "work mail" } },
	{ ST_C, "FOLD", PROTO_ARGS_MISSING, 0, "FOLD", 0, { NULL } },
	/* 35 */
	{ ST_C, "FOLD ", PROTO_ARGS_MISSING, 0, "FOLD", 0, { NULL } },
	/* 36: AUTH mechanism [initial-response]; STLS */
	{ ST_A, "AUTH PLAIN", PROTO_RUN, 8, "AUTH", 1, { "PLAIN" } },
	{ ST_A, "AUTH PLAIN AGFsaWNlAHB3", PROTO_RUN, 8, "AUTH", 2,
	    { "PLAIN", "AGFsaWNlAHB3" } },
	{ ST_A, "AUTH", PROTO_ARGS_MISSING, 0, "AUTH", 0, { NULL } },
	{ ST_A, "AUTH a b c", PROTO_ARGS_EXTRA, 0, "AUTH", 0, { NULL } },
	/* 40 */
	{ ST_A, "STLS", PROTO_RUN, 9, "STLS", 0, { NULL } },
	{ ST_B, "STLS", PROTO_WRONG_STATE, 0, "STLS", 0, { NULL } },
	/* 42: a state outside the mask's range matches nothing */
	{ 40, "QUIT", PROTO_WRONG_STATE, 0, "QUIT", 0, { NULL } },
};

START_TEST(test_dispatch_table)
{
	const struct dispatch_case *c = &dispatch_cases[_i];
	char line[256];
	int r, k;

	ck_assert(strlen(c->line) < sizeof(line));
	memcpy(line, c->line, strlen(c->line) + 1);
	t_called = 0;
	t_argc = -1;
	t_refused = PROTO_RUN;
	t_refused_verb = "none";
	r = proto_dispatch(t_cmds, c->state, line, &t_called, t_refuse);
	if (c->verdict == PROTO_RUN) {
		ck_assert_msg(t_called == c->handler && r == 100 + c->handler,
		    "case %d (\"%s\"): handler %d returned %d, want %d",
		    _i, c->line, t_called, r, c->handler);
		ck_assert_msg(t_argc == c->argc, "case %d: argc %d, want %d",
		    _i, t_argc, c->argc);
		for (k = 0; k < c->argc; k++)
			ck_assert_msg(strcmp(t_argv[k], c->argv[k]) == 0,
			    "case %d: argv[%d] \"%s\", want \"%s\"", _i, k,
			    t_argv[k], c->argv[k]);
		return;
	}
	ck_assert_msg(t_called == 0 && r == -1,
	    "case %d (\"%s\"): handler %d ran", _i, c->line, t_called);
	ck_assert_msg(t_refused == c->verdict,
	    "case %d (\"%s\"): verdict %d, want %d", _i, c->line, t_refused,
	    c->verdict);
	ck_assert_msg(c->verb == NULL ? t_refused_verb == NULL :
	    t_refused_verb != NULL && strcmp(t_refused_verb, c->verb) == 0,
	    "case %d (\"%s\"): verb %s, want %s", _i, c->line,
	    t_refused_verb != NULL ? t_refused_verb : "NULL",
	    c->verb != NULL ? c->verb : "NULL");
}
END_TEST

/* proto_lookup() alone: the entry and the words, without running. */
START_TEST(test_lookup)
{
	struct proto_call call;
	char line[] = "top 3 10";

	ck_assert_int_eq(proto_lookup(t_cmds, ST_B, line, &call), PROTO_RUN);
	ck_assert_ptr_eq(call.cmd, &t_cmds[5]);
	ck_assert_int_eq(call.argc, 2);
	ck_assert_str_eq(call.argv[0], "3");
	ck_assert_str_eq(call.argv[1], "10");
}
END_TEST

struct printable_case {
	const char *s;
	int ok;
};

static const struct printable_case printable_cases[] = {
	{ "", 1 },
	{ "alice", 1 },
	{ " !~", 1 },
	{ "a b", 1 },
	{ "a\tb", 0 },
	{ "a\rb", 0 },
	{ "a\nb", 0 },
	{ "\x1b[1m", 0 },
	{ "\x7f", 0 },
	{ "caf\xc3\xa9", 0 },
	{ "\xff", 0 },
	{ "\x01", 0 },
};

START_TEST(test_printable)
{
	const struct printable_case *c = &printable_cases[_i];
	int r = proto_printable(c->s);

	ck_assert_msg((r != 0) == c->ok, "case %d: printable = %d, want %d",
	    _i, r, c->ok);
}
END_TEST

#define S(x)	x, sizeof(x) - 1

struct esc_case {
	const char *in;
	size_t len;
	size_t outsz;
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{ S("alice"), 64, "alice" },
	{ S(""), 64, "" },
	{ S("a b~"), 64, "a b~" },
	{ S("a\\b"), 64, "a\\x5cb" },
	{ S("x\r\ny"), 64, "x\\x0d\\x0ay" },
	{ S("\x1b[2J"), 64, "\\x1b[2J" },
	{ S("\x7f\x80\xff"), 64, "\\x7f\\x80\\xff" },
	{ S("a\0b"), 64, "a\\x00b" },	/* NUL does not end it */
	{ S("%n%s"), 64, "%n%s" },
	{ S("\t"), 64, "\\x09" },
	/* exactly fits: 5 chars + NUL in 6 */
	{ S("abcde"), 6, "abcde" },
	/* one too many: cut at 6 - 4 = 2, then "..." */
	{ S("abcdef"), 6, "ab..." },
	{ S("abcdefghijklmnop"), 10, "abcdef..." },
	/* an escape that just fits in outsz - 4 is kept ... */
	{ S("ab\rcdefgh"), 10, "ab\\x0d..." },
	/* ... one that would pass it is never split */
	{ S("abc\rdefgh"), 10, "abc..." },
	{ S("\r\r\r\r"), 12, "\\x0d\\x0d..." },
	{ S("\r\r\r"), 13, "\\x0d\\x0d\\x0d" },
	{ S("abcd"), 4, "..." },
	{ S("abc"), 4, "abc" },
	{ S("abcd"), 3, ".." },
	{ S("abcd"), 2, "." },
	{ S("abcd"), 1, "" },
};

START_TEST(test_log_escape)
{
	const struct esc_case *c = &esc_cases[_i];
	char out[128], *r;

	ck_assert(c->outsz < sizeof(out));
	memset(out, 'Z', sizeof(out));
	r = log_escape(c->in, c->len, out, c->outsz);
	ck_assert_msg(r == out, "case %d: return value", _i);
	ck_assert_msg(strcmp(out, c->want) == 0,
	    "case %d: \"%s\", want \"%s\"", _i, out, c->want);
	ck_assert_msg(strlen(out) < c->outsz, "case %d: overflow", _i);
	ck_assert_msg(out[c->outsz] == 'Z', "case %d: wrote past outsz", _i);
}
END_TEST

/* A long hostile user name: bounded, escaped, no control byte survives. */
START_TEST(test_log_escape_long)
{
	char in[4096], out[256];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (char)(i % 256);
	log_escape(in, sizeof(in), out, sizeof(out));
	ck_assert_uint_le(strlen(out), sizeof(out) - 1);
	ck_assert(strcmp(out + strlen(out) - 3, "...") == 0);
	for (i = 0; out[i] != '\0'; i++)
		ck_assert_msg((unsigned char)out[i] >= 0x20 &&
		    (unsigned char)out[i] <= 0x7e, "byte %zu is 0x%02x", i,
		    (unsigned char)out[i]);
	ck_assert(strncmp(out, "\\x00\\x01\\x02", 12) == 0);
}
END_TEST

/*
 * Lines on stderr (before log_init: stderr only, no debug): session id
 * first, ": strerror" from log_warn, errno kept, no control characters.
 */
START_TEST(test_log_lines)
{
	char got[4096];
	ssize_t k;
	size_t off = 0;
	int p[2], saved;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(p[1], STDERR_FILENO), 0);
	close(p[1]);

	log_set_session("3f2a9c01");
	ck_assert_str_eq(log_session(), "3f2a9c01");
	errno = ENOENT;
	log_warn("open %s", "/x");
	ck_assert_int_eq(errno, ENOENT);
	log_info("user=%s", "a\r\nb\x1b");
	log_debug("hidden %d", 1);
	log_set_session(NULL);
	log_warnx("%s", "master");

	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	while (off < sizeof(got) - 1 &&
	    (k = read(p[0], got + off, sizeof(got) - 1 - off)) > 0)
		off += (size_t)k;
	close(p[0]);
	got[off] = '\0';

	ck_assert_msg(strstr(got, " warning ") != NULL, "%s", got);
	ck_assert_msg(strstr(got, " 3f2a9c01 open /x: No such file or "
	    "directory\n") != NULL, "%s", got);
	ck_assert_msg(strstr(got, " info ") != NULL, "%s", got);
	ck_assert_msg(strstr(got, " 3f2a9c01 user=a\\x0d\\x0ab\\x1b\n") !=
	    NULL, "%s", got);
	ck_assert_msg(strstr(got, "hidden") == NULL, "%s", got);
	ck_assert_msg(strstr(got, " - master\n") != NULL, "%s", got);
}
END_TEST

Suite *
suite_proto(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("dispatch");

	tcase_add_loop_test(tc, test_dispatch_table, 0,
	    (int)(sizeof(dispatch_cases) / sizeof(dispatch_cases[0])));
	tcase_add_test(tc, test_lookup);
	suite_add_tcase(s, tc);

	tc = tcase_create("numbers");

	tcase_add_loop_test(tc, test_parse_msgnum, 0,
	    (int)(sizeof(num_cases) / sizeof(num_cases[0])));
	tcase_add_loop_test(tc, test_parse_count, 0,
	    (int)(sizeof(num_cases) / sizeof(num_cases[0])));
	tcase_add_test(tc, test_parse_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("split");
	tcase_add_loop_test(tc, test_split, 0,
	    (int)(sizeof(split_cases) / sizeof(split_cases[0])));
	tcase_add_loop_test(tc, test_printable, 0,
	    (int)(sizeof(printable_cases) / sizeof(printable_cases[0])));
	suite_add_tcase(s, tc);

	/* log_escape lives in log.c; its suite would hold one test. */
	tc = tcase_create("log_escape");
	tcase_add_loop_test(tc, test_log_escape, 0,
	    (int)(sizeof(esc_cases) / sizeof(esc_cases[0])));
	tcase_add_test(tc, test_log_escape_long);
	tcase_add_test(tc, test_log_lines);
	suite_add_tcase(s, tc);
	return s;
}
