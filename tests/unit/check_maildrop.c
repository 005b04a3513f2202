/*
 * check_maildrop.c - the maildrop core against the real Maildir plugin in
 * a temp dir: sizes, UIDLs, streaming (CRLF, stuffing, TOP), marks,
 * RSET, commit, the warm index, LAST across sessions, and messages left
 * out because they vanished or cannot be opened.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "keyhints.h"
#include "maildrop.h"
#include "msgstream.h"
#include "net.h"
#include "plugin.h"
#include "suites.h"
#include "wire.h"

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
	char path[PATH_MAX];
	const char *err = "";
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
	    POP23D_PLUGIN_STORE, &store, &err) == 0, "%s", err);
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

/* Send message N through a socketpair (the message stream and the wire
 * module, as the front ends do) and return what arrived. */
static char *
send_msg(struct maildrop *md, size_t n, long lines, int stuff)
{
	int sv[2], stale = -1;
	struct net net;
	struct msgstream ms;
	const char *err = NULL;
	static char got[8192];
	ssize_t r;
	size_t len = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	net_init(&net, sv[0], sv[0], 2048, 5);
	ck_assert_int_eq(maildrop_msg_open(md, n, &ms, &err), 0);
	ck_assert_int_eq(wire_send(&net, &ms, stuff ? WIRE_POP3 : WIRE_POP2,
	    lines, md->msgs[n - 1].size, &stale, &err), 0);
	ck_assert_int_eq(stale, 0);
	msgstream_close(&ms);
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
	const char *got;
	size_t i;
	uint64_t total = 0;

	ck_assert_uint_eq(md->count, NMSGS);
	for (i = 0; i < NMSGS; i++) {
		ck_assert_msg(md->msgs[i].size == msgs[i].size,
		    "msg %zu size %llu", i,
		    (unsigned long long)md->msgs[i].size);
		ck_assert_str_eq(md->msgs[i].uidl, msgs[i].name);
		got = send_msg(md, i + 1, -1, 1);
		/* the body, then the POP3 terminator */
		ck_assert_msg(strlen(got) == strlen(msgs[i].stuffed) + 3 &&
		    strncmp(got, msgs[i].stuffed, strlen(msgs[i].stuffed)) ==
		    0 && strcmp(got + strlen(msgs[i].stuffed), ".\r\n") == 0,
		    "msg %zu: \"%s\"", i, got);
		total += msgs[i].size;
	}
	ck_assert_uint_eq(md->live_octets, total);
	/* POP2: no stuffing, exactly size octets */
	ck_assert_str_eq(send_msg(md, 1, -1, 0),
	    "Subject: a\r\n\r\nline\r\n.\r\n..x\r\n");
	ck_assert_uint_eq(strlen(send_msg(md, 1, -1, 0)), msgs[0].size);
	/* TOP */
	ck_assert_str_eq(send_msg(md, 1, 0, 1), "Subject: a\r\n\r\n.\r\n");
	ck_assert_str_eq(send_msg(md, 1, 1, 1),
	    "Subject: a\r\n\r\nline\r\n.\r\n");
	ck_assert_str_eq(send_msg(md, 1, 2, 1),
	    "Subject: a\r\n\r\nline\r\n..\r\n.\r\n");
	ck_assert_msg(strncmp(send_msg(md, 3, 9999, 1), msgs[2].stuffed,
	    strlen(msgs[2].stuffed)) == 0, "TOP past the end");
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

/* The crlf.h size of TEXT as the core measures it.  0 or -1. */
static int
maildrop_measure_str(const char *text, uint64_t *size_r)
{
	char path[PATH_MAX];
	FILE *fp;
	int rc;

	snprintf(path, sizeof path, "%s/measure", dir);
	test_write_file(path, text, strlen(text));
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	rc = maildrop_measure(fileno(fp), 0, (off_t)strlen(text), size_r);
	fclose(fp);
	return rc;
}

/* Whether the index holds a record for message KEY right now (a second
 * handle on the file, while the session still has it open). */
static int
record_present(const char *key)
{
	struct index *idx = NULL;
	struct index_rec rec;
	const char *err = NULL;
	char path[PATH_MAX];
	int rebuilt = 0, r;

	snprintf(path, sizeof path, "%s/%s", md_path, INDEX_FILE);
	ck_assert_msg(index_open(path, &idx, &rebuilt, &err) == 0, "%s", err);
	ck_assert_int_eq(rebuilt, 0);
	r = index_lookup(idx, key, &rec);
	index_close(&idx);
	return r;
}

/*
 * The stored size changed behind the session's back: refused before
 * anything is sent, and the record is dropped at once, so the next look
 * measures the message again (finding 1.2).
 */
START_TEST(test_changed_message_refused)
{
	struct maildrop *md = open_md();
	struct msgstream ms;
	const char *err = NULL;
	char path[PATH_MAX];

	ck_assert_int_eq(record_present(msgs[0].name), 1);
	/* Grow message 1 behind the session's back. */
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[0].name);
	test_write_file(path, "Subject: a\n\nchanged and longer\n", 31);
	ck_assert_int_eq(maildrop_msg_open(md, 1, &ms, &err), -1);
	ck_assert_ptr_nonnull(err);
	/* the record is gone while this session still runs */
	ck_assert_int_eq(record_present(msgs[0].name), 0);
	maildrop_close(&md);
	md = open_md();
	ck_assert_uint_eq(md->msgs[0].size, 34);
	maildrop_close(&md);
}
END_TEST

/*
 * Same stored size, other content (line ends rewritten in place): the
 * octets the wire gives disagree with the recorded size in the middle of
 * the message.  wire_send() stops at the announced size and says STALE,
 * and maildrop_forget() drops the record at once (before: it was kept,
 * and every later session failed on the same message).
 */
START_TEST(test_stale_record_dropped_mid_stream)
{
	static const char *const rewritten[] = {
		"Subject: a\nXline\n.\n..x\n",	/* fewer octets */
		"Subject: a\n\n\n\n\n\n\n\n\n\n\n\n\n",	/* more */
	};
	struct maildrop *md;
	struct msgstream ms;
	struct net net;
	const char *err = NULL;
	char path[PATH_MAX];
	uint64_t want;
	size_t k;
	int sv[2], stale;

	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[0].name);
	for (k = 0; k < 2; k++) {
		md = open_md();
		ck_assert_int_eq(record_present(msgs[0].name), 1);
		ck_assert_uint_eq(strlen(rewritten[k]), strlen(msgs[0].raw));
		test_write_file(path, rewritten[k], strlen(rewritten[k]));
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		net_init(&net, sv[0], sv[0], 2048, 5);
		ck_assert_int_eq(maildrop_msg_open(md, 1, &ms, &err), 0);
		stale = 0;
		ck_assert_int_eq(wire_send(&net, &ms, WIRE_POP3, -1,
		    md->msgs[0].size, &stale, &err), -1);
		msgstream_close(&ms);
		ck_assert_msg(stale == 1, "case %zu: not stale (%s)", k, err);
		maildrop_forget(md, 1);
		ck_assert_msg(record_present(msgs[0].name) == 0,
		    "case %zu: record kept", k);
		maildrop_close(&md);
		net_free(&net);
		close(sv[0]);
		close(sv[1]);
		/* the next session measures it again */
		ck_assert_int_eq(maildrop_measure_str(rewritten[k], &want), 0);
		md = open_md();
		ck_assert_uint_eq(md->msgs[0].size, want);
		maildrop_close(&md);
		/* back to the original for the next case */
		test_write_file(path, msgs[0].raw, strlen(msgs[0].raw));
		md = open_md();
		maildrop_close(&md);
	}
}
END_TEST

/* Keys that are not UIDLs get the MD5 of the key; cold and warm logins
 * (UIDL computed again on every index hit) agree. */
static const struct {
	const char *name;
	const char *uidl;
} odd_keys[] = {
	{ "1003.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
	  "kkkkkkkkkkkkkkkkkkkkkk", "744ca315c4c5c4407f1c7488643bab11" },
	{ "1004.has space:2,S", "15de0c8b14fead9163702810fc45348e" },
	{ "1005.caf\xc3\xa9", "6dbf03bb4b8336be81e787b8516c5866" },
#define KEY70	"1006.exactly-seventy-octets-xxxxxxxxxxxxxxxxxxxxxxxxxxx" \
		"xxxxxxxxxxxxxxx"
	{ KEY70, KEY70 },
};
#define NODD (sizeof odd_keys / sizeof odd_keys[0])

START_TEST(test_uidl_from_key)
{
	struct maildrop *md;
	char path[PATH_MAX];
	size_t i, round;

	ck_assert_uint_eq(strlen(odd_keys[3].uidl), 70);
	for (i = 0; i < NODD; i++) {
		snprintf(path, sizeof path, "%s/%s/%s", md_path,
		    strchr(odd_keys[i].name, ':') ? "cur" : "new",
		    odd_keys[i].name);
		test_write_file(path, "Subject: odd\n\nkey\n", 19);
	}
	for (round = 0; round < 2; round++) {
		md = open_md();
		ck_assert_uint_eq(md->count, NMSGS + NODD);
		ck_assert_uint_eq(md->index_hits,
		    round == 0 ? 0 : NMSGS + NODD);
		for (i = 0; i < NMSGS; i++)
			ck_assert_str_eq(md->msgs[i].uidl, msgs[i].name);
		for (i = 0; i < NODD; i++)
			ck_assert_msg(strcmp(md->msgs[NMSGS + i].uidl,
			    odd_keys[i].uidl) == 0, "round %zu key %zu: %s",
			    round, i, md->msgs[NMSGS + i].uidl);
		/* The S flag in the name: LAST is message 5. */
		ck_assert_uint_eq(md->last, NMSGS + 2);
		maildrop_close(&md);
	}
}
END_TEST

/*
 * The storage's own ops with list() wrapped: after the real listing,
 * SABOTAGE runs - the moment between the scan and the measurement, made
 * deterministic.
 */
static struct pop23d_store_ops wrapped;
static void (*sabotage)(void);

static enum pop23d_result
list_then_sabotage(struct pop23d_mbox *mb, const struct pop23d_msg **msgs_r,
    size_t *count_r)
{
	enum pop23d_result r = store.desc->store->list(mb, msgs_r, count_r);

	if (r == POP23D_OK && sabotage != NULL)
		sabotage();
	return r;
}

/* Message 2 becomes a symlink (cannot be opened: ELOOP), message 4
 * vanishes. */
static void
link_and_vanish(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[1].name);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof path, "%s/new/1003.D.host", md_path);
	ck_assert_int_eq(unlink(path), 0);
}

static const char *const extra[][2] = {
	{ "1003.D.host", "Subject: d\n\nd\n" },
	{ "1004.E.host", "Subject: e\n\ne\n" },
	{ "1005.F.host", "Subject: f\n\nf\n" },
};

/*
 * Issue 6 finding 1.4: a message that cannot be opened, or vanished
 * between the scan and the measurement, no longer fails the login: it is
 * left out, the others are numbered without a gap, and DELE / RETR of
 * messages after the gaps reach the right files at UPDATE.
 */
START_TEST(test_skip_unreadable)
{
	struct maildrop *md = NULL;
	const char *err = NULL, *got;
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/new/%s", md_path, extra[i][0]);
		test_write_file(path, extra[i][1], strlen(extra[i][1]));
	}
	wrapped = *store.desc->store;
	wrapped.list = list_then_sabotage;
	sabotage = link_and_vanish;
	ck_assert_int_eq(maildrop_open(&wrapped, md_path, NULL, &md, &err),
	    POP23D_OK);
	sabotage = NULL;
	ck_assert_uint_eq(md->count, 4);
	ck_assert_str_eq(md->msgs[0].uidl, msgs[0].name);
	ck_assert_str_eq(md->msgs[1].uidl, msgs[2].name);
	ck_assert_str_eq(md->msgs[2].uidl, "1004.E.host");
	ck_assert_str_eq(md->msgs[3].uidl, "1005.F.host");
	ck_assert_uint_eq(md->live_octets,
	    msgs[0].size + msgs[2].size + 17 + 17);
	/* The wire module writes the POP3 terminator after the body. */
	got = send_msg(md, 2, -1, 1);
	ck_assert_uint_eq(strlen(got), strlen(msgs[2].stuffed) + 3);
	ck_assert(strncmp(got, msgs[2].stuffed, strlen(msgs[2].stuffed)) == 0);
	ck_assert_str_eq(got + strlen(msgs[2].stuffed), ".\r\n");
	ck_assert_str_eq(send_msg(md, 4, -1, 1),
	    "Subject: f\r\n\r\nf\r\n.\r\n");
	ck_assert_ptr_null(maildrop_get(md, 5));
	/* DELE 2 (message C), RETR 4 (message F), QUIT. */
	ck_assert_int_eq(maildrop_delete(md, 2), 0);
	maildrop_access(md, 4);
	ck_assert_int_eq(maildrop_commit(md, &err), 0);
	maildrop_close(&md);
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[0].name);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[2].name);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/new/1004.E.host", md_path);
	ck_assert_int_eq(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/cur/1005.F.host:2,S", md_path);
	ck_assert_int_eq(access(path, F_OK), 0);
	/* The one that could not be opened is never touched. */
	snprintf(path, sizeof path, "%s/new/%s", md_path, msgs[1].name);
	ck_assert_int_eq(faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW),
	    0);

	/* Next session (plain ops; the symlink is no message): A, E, F,
	 * LAST = 3. */
	md = open_md();
	ck_assert_uint_eq(md->count, 3);
	ck_assert_str_eq(md->msgs[2].uidl, "1005.F.host");
	ck_assert_uint_eq(md->last, 3);
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

/* key_hints() (keyhints.c): the ",S=" and ",W=" rules, case by case. */
static const struct {
	const char *key;
	int ok;
	uint64_t size, raw;	/* W and S when ok */
} hints[] = {
	{ "1700000000.M1P2.host,S=2345,W=2398", 1, 2398, 2345 },
	{ "1700000000.M1P2.host,W=2398,S=2345", 1, 2398, 2345 },
	{ "1.h,M=3,S=10,X=9,W=12,Y", 1, 12, 10 },
	{ "1.h,,,S=10,,W=12,,", 1, 12, 10 },
	{ "1.h,S=0,W=0", 1, 0, 0 },
	{ "1.h,S=5,W=7", 1, 7, 5 },		/* no final LF: S + 2 */
	{ "1.h,S=5,W=10", 1, 10, 5 },		/* all LF: 2 S */
	{ "1.h,S=100,W=202", 1, 202, 100 },	/* 2 S + 2: the bound */
	{ "1.h,S=00012,W=0000000000000000000013", 1, 13, 12 },
	{ "1.h,S=1099511627775,W=1099511627775", 1, 1099511627775ULL,
	    1099511627775ULL },
	{ "1.h,S=10,W=12,S=99,W=1", 1, 12, 10 },	/* first ones count */
	{ "1.h,S=,W=12,S=10", 1, 12, 10 },	/* "S=" alone is no field */
	{ "S=10,W=12,S=11", 1, 12, 11 },	/* the first field is the name */
	{ "1.h,S=100,W=99", 0, 0, 0 },		/* W < S */
	{ "1.h,S=100,W=203", 0, 0, 0 },		/* W > 2 S + 2 */
	{ "1.h,S=1099511627776,W=1099511627776", 0, 0, 0 },	/* 2^40 */
	{ "1.h,S=18446744073709551617,W=18446744073709551617", 0, 0, 0 },
	{ "1.h,S=99999999999999999999999999,W=1", 0, 0, 0 },
	{ "1.h,S=10,W=12,S=1x", 0, 0, 0 },	/* a bad repeat spoils it */
	{ "1.h,S=10,W=12,W=99999999999999999", 0, 0, 0 },
	{ "1.h,S=10x,W=12", 0, 0, 0 },
	{ "1.h,S=10W=12", 0, 0, 0 },		/* a missing comma */
	{ "1.hS=10W=12", 0, 0, 0 },
	{ "1.h,S=10,W=12:2,S", 0, 0, 0 },	/* the info is not the key's */
	{ "1.h,S=17", 0, 0, 0 },		/* half a hint */
	{ "1.h,W=17", 0, 0, 0 },
	{ "1.h,s=10,w=12", 0, 0, 0 },
	{ "1.h,S=-10,W=12", 0, 0, 0 },
	{ "1.h,S=+10,W=12", 0, 0, 0 },
	{ "1.h,S= 10,W=12", 0, 0, 0 },
	{ "1700000003.M7P8.host", 0, 0, 0 },
	{ ",", 0, 0, 0 },
	{ "a,", 0, 0, 0 },
	{ "", 0, 0, 0 },
};

START_TEST(test_key_hints)
{
	uint64_t size = 77, raw = 78;
	int ok = key_hints(hints[_i].key, &size, &raw);

	ck_assert_msg(ok == hints[_i].ok, "%s: %d", hints[_i].key, ok);
	if (ok) {
		ck_assert_msg(size == hints[_i].size && raw == hints[_i].raw,
		    "%s: W %llu S %llu", hints[_i].key,
		    (unsigned long long)size, (unsigned long long)raw);
	} else {
		ck_assert(size == 77 && raw == 78);	/* untouched */
	}
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
	tcase_add_test(tc, test_stale_record_dropped_mid_stream);
	tcase_add_test(tc, test_changed_message_refused);
	tcase_add_test(tc, test_uidl_from_key);
	tcase_add_test(tc, test_skip_unreadable);
	tcase_add_test(tc, test_empty_new_user);
	tcase_add_loop_test(tc, test_measure, 0,
	    sizeof measures / sizeof measures[0]);
	suite_add_tcase(s, tc);
	tc = tcase_create("key_hints");
	tcase_add_loop_test(tc, test_key_hints, 0,
	    sizeof hints / sizeof hints[0]);
	suite_add_tcase(s, tc);
	return s;
}
