/*
 * check_trust.c - trust_check(), the StrictModes rule for every file root
 * loads or believes: owner, group/other write bits, every directory and
 * symbolic link on the way, sticky directories, loops, kinds.  Each case
 * builds a small tree under a fresh temp dir (itself under /tmp, which is
 * root's and sticky).  Cases that need another owner run only as root.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "trust.h"

#define NOBODY	65534

static char *dir;

static void
setup(void)
{
	dir = test_tmpdir();
	ck_assert_int_eq(chmod(dir, 0755), 0);
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

/* DIR/REL as a path in BUF. */
static const char *
at(char *buf, const char *rel)
{
	ck_assert_int_lt(snprintf(buf, PATH_MAX, "%s/%s", dir, rel), PATH_MAX);
	return buf;
}

static void
mkfile(const char *rel, mode_t mode)
{
	char p[PATH_MAX];

	test_write_file(at(p, rel), "x\n", 2);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void
mkdir_m(const char *rel, mode_t mode)
{
	char p[PATH_MAX];

	ck_assert_int_eq(mkdir(at(p, rel), 0700), 0);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void
mklink(const char *target, const char *rel)
{
	char p[PATH_MAX];

	ck_assert_int_eq(symlink(target, at(p, rel)), 0);
}

static void
own(const char *rel, uid_t uid)
{
	char p[PATH_MAX];

	ck_assert_int_eq(lchown(at(p, rel), uid, uid), 0);
}

/* One case: BUILD makes its tree; ROOT_ONLY cases give things to nobody. */
struct trust_case {
	const char *name;
	int root_only;
	void (*build)(void);
	const char *path;		/* relative to DIR */
	enum trust_kind kind;
	const char *want;		/* NULL: accepted; else a substring */
};

static void b_plain(void) { mkdir_m("d", 0755); mkfile("d/f", 0644); }
static void b_group_w(void) { mkdir_m("d", 0755); mkfile("d/f", 0664); }
static void b_other_w(void) { mkdir_m("d", 0755); mkfile("d/f", 0646); }
static void b_dir_w(void) { mkdir_m("d", 0777); mkfile("d/f", 0644); }
static void b_dir_gw(void) { mkdir_m("d", 0775); mkfile("d/f", 0644); }
static void b_sticky(void) { mkdir_m("d", 01777); mkfile("d/f", 0644); }
static void b_nobody_file(void) { b_plain(); own("d/f", NOBODY); }
static void b_nobody_dir(void) { b_plain(); own("d", NOBODY); }
static void b_sticky_nobody(void) { b_sticky(); own("d/f", NOBODY); }
static void
b_link_ok(void)
{
	b_plain();
	mklink("d/f", "l");
}
static void
b_link_to_bad(void)
{
	b_dir_w();
	mklink("d/f", "l");
}
static void
b_link_in_sticky_nobody(void)
{
	b_plain();
	mkdir_m("s", 01777);
	mklink("../d/f", "s/l");
	own("s/l", NOBODY);
}
static void
b_link_in_sticky_root(void)
{
	b_plain();
	mkdir_m("s", 01777);
	mklink("../d/f", "s/l");
}
static void
b_loop(void)
{
	mklink("b", "a");
	mklink("a", "b");
}
static void
b_link_chain(void)
{
	b_plain();
	mklink("d", "l1");
	mklink("l1", "l2");
}
static void
b_dotdot(void)
{
	b_plain();
	mkdir_m("e", 0755);
}
static void
b_dotdot_past_bad(void)
{
	/* d2 is writable by others: going through it and back up with ".."
	 * is still going through it. */
	b_plain();
	mkdir_m("d2", 0777);
}

static const struct trust_case cases[] = {
	{ "plain file", 0, b_plain, "d/f", TRUST_FILE, NULL },
	{ "plain dir", 0, b_plain, "d", TRUST_DIR, NULL },
	{ "group-writable file", 0, b_group_w, "d/f", TRUST_FILE,
	    "writable by its group (mode 0664)" },
	{ "other-writable file", 0, b_other_w, "d/f", TRUST_FILE,
	    "writable by others (mode 0646)" },
	{ "mode 777 directory above", 0, b_dir_w, "d/f", TRUST_FILE,
	    "/d on the way to it: writable by others" },
	{ "mode 777 directory itself", 0, b_dir_w, "d", TRUST_DIR,
	    "writable by others (mode 0777)" },
	{ "group-writable directory above", 0, b_dir_gw, "d/f", TRUST_FILE,
	    "writable by its group" },
	{ "sticky directory, our file", 0, b_sticky, "d/f", TRUST_FILE,
	    NULL },
	{ "file owned by nobody", 1, b_nobody_file, "d/f", TRUST_FILE,
	    "owned by uid 65534" },
	{ "directory owned by nobody", 1, b_nobody_dir, "d/f", TRUST_FILE,
	    "/d on the way to it: owned by uid 65534" },
	{ "sticky directory, nobody's file", 1, b_sticky_nobody, "d/f",
	    TRUST_FILE, "owned by uid 65534" },
	{ "symlink to a good file", 0, b_link_ok, "l", TRUST_FILE, NULL },
	{ "symlink into a mode 777 directory", 0, b_link_to_bad, "l",
	    TRUST_FILE, "writable by others" },
	{ "nobody's symlink in a sticky directory", 1,
	    b_link_in_sticky_nobody, "s/l", TRUST_FILE,
	    "symbolic link" },
	{ "root's symlink in a sticky directory", 0, b_link_in_sticky_root,
	    "s/l", TRUST_FILE, NULL },
	{ "symlink loop", 0, b_loop, "a", TRUST_FILE,
	    "too many levels of symbolic links" },
	{ "chain of links to a directory", 0, b_link_chain, "l2/f",
	    TRUST_FILE, NULL },
	{ "dot-dot", 0, b_dotdot, "e/../d/./f", TRUST_FILE, NULL },
	{ "dot-dot through a bad directory", 0, b_dotdot_past_bad,
	    "d2/../d/f", TRUST_FILE, "writable by others" },
	{ "missing file", 0, b_plain, "d/nope", TRUST_FILE,
	    "No such file or directory" },
	{ "file is not a directory", 0, b_plain, "d/f", TRUST_DIR,
	    "not a directory" },
	{ "directory is not a file", 0, b_plain, "d", TRUST_FILE,
	    "not a regular file" },
	{ "file in the middle", 0, b_plain, "d/f/g", TRUST_FILE,
	    "not a directory" },
};

START_TEST(test_cases)
{
	const struct trust_case *c = &cases[_i];
	char p[PATH_MAX];
	const char *err = NULL;
	int r;

	if (c->root_only && geteuid() != 0)
		return;		/* needs chown */
	c->build();
	r = trust_check(at(p, c->path), c->kind, &err);
	if (c->want == NULL)
		ck_assert_msg(r == 0, "%s: refused: %s", c->name, err);
	else {
		ck_assert_msg(r == -1, "%s: accepted", c->name);
		ck_assert_msg(strstr(err, c->want) != NULL,
		    "%s: \"%s\" lacks \"%s\"", c->name, err, c->want);
		ck_assert_msg(strncmp(err, p, strlen(p)) == 0,
		    "%s: \"%s\" does not start with the path", c->name, err);
	}
}
END_TEST

/* A relative path is taken from the working directory, checked too. */
START_TEST(test_relative)
{
	const char *err = NULL;

	b_plain();
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_msg(trust_check("d/f", TRUST_FILE, &err) == 0, "%s", err);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(trust_check("d/f", TRUST_FILE, &err), -1);
	ck_assert_msg(strstr(err, "writable by others") != NULL, "%s", err);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(chdir("/"), 0);
}
END_TEST

Suite *
suite_trust(void)
{
	Suite *s = suite_create("trust");
	TCase *tc = tcase_create("strictmodes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_cases, 0,
	    (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, test_relative);
	suite_add_tcase(s, tc);
	return s;
}
