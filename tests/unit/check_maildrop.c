/*
 * check_maildrop.c - the maildrop core against the real Maildir plugin in
 * a temp dir: sizes, UIDLs, streaming (CRLF, stuffing, TOP), marks,
 * RSET, commit, the warm index, and LAST across sessions.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildrop.h"
#include "net.h"
#include "plugin.h"
#include "suites.h"

static char *dir;
static char md_path[PATH_MAX];
static struct loaded_plugin store;

/* name, stored bytes, expected CRLF size, expected POP3 body (stuffed) */
static const struct {
	const char *name;
	const char *raw;
	uint64_t size;
	const char *stuffed;
} msgs[] = {
	{ "1000.A.host", "Subject: a\n\nline\n.\n..x\n", 28,
	  "Subject: a\r\n\r\nline\r\n..\r\n...x\r\n" },
	{ "1001.B.host", "Subject: b\r\n\r\ncrlf\r\n", 20,
	  "Subject: b\r\n\r\ncrlf\r\n" },
	{ "1002.C.host", "Subject: c\n\nno newline", 26,
	  "Subject: c\r\n\r\nno newline\r\n" },
};
#define NMSGS (sizeof msgs / sizeof msgs[0])

static void
setup(void)
{
	char path[PATH_MAX], err[512];
	size_t i;

	dir = test_tmpdir();
	snprintf(md_path, sizeof md_path, "%s/Maildir", dir);
	mkdir(md_path, 0700);
	snprintf(path, sizeof path, "%s/cur", md_path);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/new", md_path);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/tmp", md_path);
	mkdir(path, 0700);
	for (i = 0; i < NMSGS; i++) {
		snprintf(path, sizeof path, "%s/new/%s", md_path,
		    msgs[i].name);
		test_write_file(path, msgs[i].raw, strlen(msgs[i].raw));
	}
	ck_assert_msg(plugin_load(test_plugindir(), "maildir",
	    POP23D_PLUGIN_STORE, &store, err, sizeof err) == 0, "%s", err);
}

static void
teardown(void)
{
	plugin_unload(&store);
	test_rmtree(dir);
	free(dir);
}

static struct maildrop *
open_md(void)
{
	struct maildrop *md = NULL;
	const char *err = NULL;

	ck_assert_int_eq(maildrop_open(store.desc->store, md_path, NULL, &md,
	    &err), POP23D_OK);
	ck_assert_ptr_nonnull(md);
	return md;
}

/* Send message N through a socketpair and return what arrived. */
static char *
send_msg(struct maildrop *md, size_t n, long lines, int stuff)
{
	int sv[2];
	struct net net;
	const char *err = NULL;
	static char got[8192];
	ssize_t r;
	size_t len = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	net_init(&net, sv[0], sv[0], 2048, 5);
	ck_assert_int_eq(maildrop_send(md, n, &net, lines, stuff, NULL, &err), 0);
	ck_assert_int_eq(net_flush(&net), 0);
	close(sv[0]);
	while ((r = read(sv[1], got + len, sizeof got - 1 - len)) > 0)
		len += (size_t)r;
	got[len] = '\0';
	close(sv[1]);
	net_free(&net);
	return got;
}

START_TEST(test_sizes_and_streaming)
{
	struct maildrop *md = open_md();
	size_t i;
	uint64_t total = 0;

	ck_assert_uint_eq(md->count, NMSGS);
	for (i = 0; i < NMSGS; i++) {
		ck_assert_msg(md->msgs[i].size == msgs[i].size,
		    "msg %zu size %llu", i,
		    (unsigned long long)md->msgs[i].size);
		ck_assert_str_eq(md->msgs[i].uidl, msgs[i].name);
		ck_assert_str_eq(send_msg(md, i + 1, -1, 1), msgs[i].stuffed);
		total += msgs[i].size;
	}
	ck_assert_uint_eq(md->live_octets, total);
	/* POP2: no stuffing, exactly size octets */
	ck_assert_str_eq(send_msg(md, 1, -1, 0),
	    "Subject: a\r\n\r\nline\r\n.\r\n..x\r\n");
	ck_assert_uint_eq(strlen(send_msg(md, 1, -1, 0)), msgs[0].size);
	/* TOP */
	ck_assert_str_eq(send_msg(md, 1, 0, 1), "Subject: a\r\n\r\n");
	ck_assert_str_eq(send_msg(md, 1, 1, 1), "Subject: a\r\n\r\nline\r\n");
	ck_assert_str_eq(send_msg(md, 1, 2, 1),
	    "Subject: a\r\n\r\nline\r\n..\r\n");
	ck_assert_str_eq(send_msg(md, 3, 9999, 1), msgs[2].stuffed);
	maildrop_close(&md);
	ck_assert_ptr_null(md);
}
END_TEST

START_TEST(test_marks_reset_commit)
{
	struct maildrop *md = open_md();
	const char *err = NULL;
	char path[PATH_MAX];

	ck_assert_uint_eq(md->last, 0);
	ck_assert_int_eq(maildrop_delete(md, 2), 0);
	ck_assert_int_eq(maildrop_delete(md, 2), -1);
	ck_assert_int_eq(maildrop_delete(md, 4), -1);
	ck_assert_int_eq(maildrop_delete(md, 0), -1);
	ck_assert_ptr_null(maildrop_get(md, 2));
	ck_assert_uint_eq(md->live, 2);
	ck_assert_uint_eq(md->live_octets, msgs[0].size + msgs[2].size);
	maildrop_access(md, 3);
	ck_assert_uint_eq(md->last, 3);
	maildrop_reset(md);
	ck_assert_uint_eq(md->live, 3);
	ck_assert_uint_eq(md->last, 0);
	ck_assert_ptr_nonnull(maildrop_get(md, 2));
	/* now for real: delete 1, access 3, commit */
	ck_assert_int_eq(maildrop_delete(md, 1), 0);
	maildrop_access(md, 3);
	ck_assert_int_eq(maildrop_commit(md, &err), 0);
	maildrop_close(&md);
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[0].name);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[1].name);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* message 3 moved to cur/ with the S flag */
	snprintf(path, sizeof path, "%s/cur/%s:2,S", md_path, msgs[2].name);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* next session: 2 messages, warm index, LAST = 2 (was message 3) */
	md = open_md();
	ck_assert_uint_eq(md->count, 2);
	ck_assert_uint_eq(md->index_misses, 0);
	ck_assert_uint_eq(md->index_hits, 2);
	ck_assert_uint_eq(md->last, 2);
	ck_assert_str_eq(md->msgs[1].uidl, msgs[2].name);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_no_commit_no_change)
{
	struct maildrop *md = open_md();

	ck_assert_int_eq(maildrop_delete(md, 1), 0);
	maildrop_access(md, 2);
	maildrop_close(&md);	/* dropped connection: no UPDATE */
	md = open_md();
	ck_assert_uint_eq(md->count, NMSGS);
	ck_assert_uint_eq(md->last, 0);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_changed_message_refused)
{
	struct maildrop *md = open_md();
	const char *err = NULL;
	char path[PATH_MAX];
	int sv[2];
	struct net net;

	/* Grow message 1 behind the session's back. */
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[0].name);
	test_write_file(path, "Subject: a\n\nchanged and longer\n", 31);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	net_init(&net, sv[0], sv[0], 2048, 5);
	ck_assert_int_eq(maildrop_send(md, 1, &net, -1, 1, "+OK\r\n", &err), -1);
	ck_assert_ptr_nonnull(err);
	net_free(&net);
	close(sv[0]);
	close(sv[1]);
	maildrop_close(&md);
}
END_TEST

START_TEST(test_empty_new_user)
{
	struct maildrop *md = NULL;
	const char *err = NULL;
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/nosuch/Maildir", dir);
	ck_assert_int_eq(maildrop_open(store.desc->store, path, NULL, &md,
	    &err), POP23D_OK);
	ck_assert_uint_eq(md->count, 0);
	ck_assert_int_eq(maildrop_commit(md, &err), 0);
	maildrop_close(&md);
}
END_TEST

static const struct {
	const char *raw;
	uint64_t size;
} measures[] = {
	{ "", 0 }, { "a", 3 }, { "a\n", 3 }, { "a\r\n", 3 }, { "\n\n", 4 },
	{ "a\rb\n", 5 }, { "x\r", 4 }, { "a\nb", 6 },
};

START_TEST(test_measure)
{
	char path[PATH_MAX];
	uint64_t size = 99;
	FILE *fp;

	snprintf(path, sizeof path, "%s/m", dir);
	test_write_file(path, measures[_i].raw, strlen(measures[_i].raw));
	fp = fopen(path, "r");
	ck_assert_int_eq(maildrop_measure(fileno(fp), 0,
	    (off_t)strlen(measures[_i].raw), &size), 0);
	fclose(fp);
	ck_assert_msg(size == measures[_i].size, "case %d: %llu", _i,
	    (unsigned long long)size);
}
END_TEST

Suite *
suite_maildrop(void)
{
	Suite *s = suite_create("maildrop");
	TCase *tc = tcase_create("maildrop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sizes_and_streaming);
	tcase_add_test(tc, test_marks_reset_commit);
	tcase_add_test(tc, test_no_commit_no_change);
	tcase_add_test(tc, test_changed_message_refused);
	tcase_add_test(tc, test_empty_new_user);
	tcase_add_loop_test(tc, test_measure, 0,
	    sizeof measures / sizeof measures[0]);
	suite_add_tcase(s, tc);
	return s;
}
