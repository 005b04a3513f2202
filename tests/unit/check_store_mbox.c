/*
 * check_store_mbox.c - unit tests of the "mbox" storage plugin.  Loads
 * the built store_mbox.so with dlopen() and drives it through the mock
 * host (mock_host.h; the host's dotlock is the daemon's own, src/
 * dotlock.c): listing and exact octets, keys (X-UIDL, duplicates),
 * UPDATE that keeps every other octet, the replay of a stage left by a
 * crash (before, during and after the in-place write, with mail appended
 * since, for another file, damaged), a file changed behind our back,
 * folder names, the session lock and the dotlock.
 * Runs as whoever runs "make check".
 */
#include "config.h"

#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pop23d/plugin.h>

#include "crc32c.h"
#include "mock_host.h"
#include "suites.h"

#define SEP	"From a@b Mon Dec  7 01:00:00 2026\n"
#define MA	SEP "Subject: A\n\naaa\n\n"
#define MB	SEP "Subject: B\nX-UIDL: uidl-b\n\nbbbb\n\n"
#define MC	SEP "Subject: C\n\ncc\nFrom x\n\n"
#define MD	SEP "Subject: D\n\nd\n\n"

static void *dl;
static pop23d_plugin_init_fn *plugin_init;
static const struct pop23d_plugin *plug;
static const struct pop23d_store_ops *ops;
static char *tmp, box[PATH_MAX], stage[PATH_MAX];

static void
put(const char *path, const char *data, size_t len)
{
	test_write_file(path, data, len);
}

static char *
get(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, 1 << 16, f);
	fclose(f);
	buf[n] = '\0';
	*len_r = n;
	return buf;
}

static void
file_is(const char *path, const char *want)
{
	size_t n;
	char *got = get(path, &n);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert_msg(memcmp(got, want, n) == 0, "%s is\n%s\nwant\n%s", path,
	    got, want);
	free(got);
}

static void
setup(void)
{
	mock_host_reset();
	dl = mock_plugin_open("store_mbox.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug),
	    0);
	ops = plug->store;
	tmp = test_tmpdir();
	mock_host_set("session", "user", "alice");
	mock_host_set("session", "home", tmp);
	mock_host_set("mbox", "lock_timeout", "1");
	snprintf(box, sizeof box, "%s/inbox", tmp);
	snprintf(stage, sizeof stage, "%s/.pop23d-mbox/INBOX/"
	    "pop23d.mbox-stage", tmp);
}

static void
teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
	dlclose(dl);
}

static struct pop23d_mbox *
open_ok(size_t want)
{
	struct pop23d_mbox *mb = NULL;
	const struct pop23d_msg *m;
	const char *err = NULL;
	size_t n;

	ck_assert_int_eq(ops->open(box, &mb, &err), POP23D_OK);
	ck_assert_int_eq(ops->list(mb, &m, &n), POP23D_OK);
	ck_assert_uint_eq(n, want);
	return mb;
}

/* The octets msg_open() gives for message I. */
static void
msg_is(struct pop23d_mbox *mb, size_t i, const char *want)
{
	off_t off, len;
	char buf[4096];
	int fd;

	ck_assert_int_eq(ops->msg_open(mb, i, &fd, &off, &len), POP23D_OK);
	ck_assert_int_eq(len, (off_t)strlen(want));
	ck_assert_int_eq(pread(fd, buf, (size_t)len, off), len);
	ck_assert(memcmp(buf, want, (size_t)len) == 0);
	close(fd);
}

START_TEST(t_list_read_keys)
{
	const char data[] = MA MB MA MC;
	struct pop23d_mbox *mb;
	const struct pop23d_msg *m;
	size_t n;

	put(box, data, sizeof data - 1);
	mb = open_ok(4);
	ck_assert_int_eq(ops->list(mb, &m, &n), POP23D_OK);
	msg_is(mb, 0, "Subject: A\n\naaa\n");
	msg_is(mb, 3, "Subject: C\n\ncc\nFrom x\n");
	ck_assert_str_eq(m[1].key, "uidl-b");
	ck_assert_uint_eq(strlen(m[0].key), 32);
	/* the same message twice: the second key gets "-2" */
	ck_assert(strncmp(m[2].key, m[0].key, 32) == 0);
	ck_assert_str_eq(m[2].key + 32, "-2");
	ck_assert_int_eq(m[0].raw_size, (off_t)strlen("Subject: A\n\naaa\n"));
	ck_assert(ops->writable(mb));
	ops->close(&mb);
	/* keys are the same at the next open */
	mb = open_ok(4);
	ck_assert_int_eq(ops->list(mb, &m, &n), POP23D_OK);
	ck_assert_str_eq(m[1].key, "uidl-b");
	ops->close(&mb);
}
END_TEST

/* Runs of equal keys, interleaved: each run is numbered in file order,
 * its first message keeps the bare key (dedup_keys()). */
START_TEST(t_duplicate_runs)
{
	const char data[] = MA MD MA MB MD MA MB;
	struct pop23d_mbox *mb;
	const struct pop23d_msg *m;
	size_t n;

	put(box, data, sizeof data - 1);
	mb = open_ok(7);
	ck_assert_int_eq(ops->list(mb, &m, &n), POP23D_OK);
	ck_assert_uint_eq(strlen(m[0].key), 32);
	ck_assert_uint_eq(strlen(m[1].key), 32);
	ck_assert(strcmp(m[0].key, m[1].key) != 0);
	ck_assert(strncmp(m[2].key, m[0].key, 32) == 0);
	ck_assert_str_eq(m[2].key + 32, "-2");
	ck_assert(strncmp(m[5].key, m[0].key, 32) == 0);
	ck_assert_str_eq(m[5].key + 32, "-3");
	ck_assert(strncmp(m[4].key, m[1].key, 32) == 0);
	ck_assert_str_eq(m[4].key + 32, "-2");
	ck_assert_str_eq(m[3].key, "uidl-b");
	ck_assert_str_eq(m[6].key, "uidl-b-2");
	ops->close(&mb);
	/* the same from the offset record */
	mb = open_ok(7);
	ck_assert_int_eq(ops->list(mb, &m, &n), POP23D_OK);
	ck_assert_str_eq(m[5].key + 32, "-3");
	ck_assert_str_eq(m[6].key, "uidl-b-2");
	ops->close(&mb);
}
END_TEST

START_TEST(t_expunge_keeps_octets)
{
	const char data[] = MA MB MC MD;
	struct pop23d_mbox *mb;
	size_t del[] = { 1, 3 };
	char lock[PATH_MAX];

	put(box, data, sizeof data - 1);
	mb = open_ok(4);
	ck_assert_int_eq(ops->expunge(mb, del, 2), POP23D_OK);
	ops->close(&mb);
	file_is(box, MA MC);
	ck_assert_int_eq(access(stage, F_OK), -1);
	snprintf(lock, sizeof lock, "%s.lock", box);
	ck_assert_int_eq(access(lock, F_OK), -1);
}
END_TEST

START_TEST(t_expunge_keeps_appended)
{
	const char data[] = MA MB;
	struct pop23d_mbox *mb;
	size_t del[] = { 0 };
	int fd;

	put(box, data, sizeof data - 1);
	mb = open_ok(2);
	fd = open(box, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, MD, strlen(MD)), (ssize_t)strlen(MD));
	close(fd);
	msg_is(mb, 1, "Subject: B\nX-UIDL: uidl-b\n\nbbbb\n");
	ck_assert_int_eq(ops->expunge(mb, del, 1), POP23D_OK);
	ops->close(&mb);
	file_is(box, MB MD);
}
END_TEST

START_TEST(t_changed_file_refused)
{
	const char data[] = MA MB;
	char other[] = MA MB;
	struct pop23d_mbox *mb;
	size_t del[] = { 0 };
	off_t off, len;
	int fd;

	put(box, data, sizeof data - 1);
	mb = open_ok(2);
	/* another program rewrites a header in place (same size) */
	other[strlen(SEP) + 9] = 'Z';
	fd = open(box, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, other, sizeof other - 1, 0),
	    (ssize_t)sizeof other - 1);
	close(fd);
	ck_assert_int_eq(ops->expunge(mb, del, 1), POP23D_TEMPFAIL);
	file_is(box, other);
	/* and one that cuts it short */
	ck_assert_int_eq(truncate(box, 10), 0);
	ck_assert_int_eq(ops->msg_open(mb, 1, &fd, &off, &len),
	    POP23D_TEMPFAIL);
	ops->close(&mb);
}
END_TEST

/* A stage as store_mbox.c writes it (its header comment): move DATA to
 * DST, truncate at DST + len(DATA), in a file of OLD_SIZE octets whose
 * content is FILE. */
static void
make_stage(const char *file, size_t old_size, size_t dst, const char *data,
    int damage)
{
	unsigned char h[64];
	size_t dlen = strlen(data), nsz = dst + dlen;
	struct stat st;
	char dir[PATH_MAX], buf[1 << 16];
	uint64_t v[5];
	uint32_t c;
	int i, k;
	FILE *f;

	ck_assert_int_eq(stat(box, &st), 0);
	snprintf(dir, sizeof dir, "%s/.pop23d-mbox", tmp);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/.pop23d-mbox/INBOX", tmp);
	mkdir(dir, 0700);
	memcpy(h, "P23MBSTG", 8);
	h[8] = h[9] = h[10] = 0;
	h[11] = 1;
	v[0] = (uint64_t)st.st_dev;
	v[1] = (uint64_t)st.st_ino + (damage == 2);
	v[2] = old_size;
	v[3] = nsz;
	v[4] = dst;
	for (k = 0; k < 5; k++)
		for (i = 0; i < 8; i++)
			h[12 + 8 * k + i] = (unsigned char)(v[k] >> (56 - 8 * i));
	c = crc32c(0, file + nsz, old_size - nsz);
	for (i = 0; i < 4; i++)
		h[52 + i] = (unsigned char)(c >> (24 - 8 * i));
	c = crc32c(0, data, dlen);
	for (i = 0; i < 4; i++)
		h[56 + i] = (unsigned char)(c >> (24 - 8 * i));
	c = crc32c(0, h, 60);
	for (i = 0; i < 4; i++)
		h[60 + i] = (unsigned char)(c >> (24 - 8 * i));
	if (damage == 1)
		h[30] ^= 1;
	memcpy(buf, h, 64);
	memcpy(buf + 64, data, dlen);
	f = fopen(stage, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, 64 + dlen, f), 64 + dlen);
	fclose(f);
}

START_TEST(t_replay_before_write)
{
	const char data[] = MA MB MC;
	struct pop23d_mbox *mb;

	put(box, data, sizeof data - 1);
	make_stage(data, sizeof data - 1, strlen(MA), MC, 0);
	mb = open_ok(2);
	ops->close(&mb);
	file_is(box, MA MC);
	ck_assert_int_eq(access(stage, F_OK), -1);
}
END_TEST

START_TEST(t_replay_half_written)
{
	const char data[] = MA MB MC;
	char half[sizeof data];
	struct pop23d_mbox *mb;

	memcpy(half, data, sizeof data);
	memcpy(half + strlen(MA), MC, strlen(MC) / 2);	/* crash mid-write */
	put(box, half, sizeof data - 1);
	make_stage(data, sizeof data - 1, strlen(MA), MC, 0);
	mb = open_ok(2);
	ops->close(&mb);
	file_is(box, MA MC);
}
END_TEST

START_TEST(t_replay_after_truncate_and_append)
{
	/* the crash came after the truncation; an MDA appended since */
	const char data[] = MA MB MC;
	struct pop23d_mbox *mb;

	put(box, data, sizeof data - 1);
	make_stage(data, sizeof data - 1, strlen(MA), MC, 0);
	put(box, MA MC MD, strlen(MA MC MD));
	mb = open_ok(3);
	ops->close(&mb);
	file_is(box, MA MC MD);
	ck_assert_int_eq(access(stage, F_OK), -1);
}
END_TEST

START_TEST(t_replay_untruncated_with_append)
{
	/* the in-place write failed half way, the locks went, an MDA
	 * appended after the old end: the stage takes the new mail in */
	const char data[] = MA MB MC;
	char half[sizeof data + sizeof MD];
	struct pop23d_mbox *mb;

	memcpy(half, data, sizeof data);
	memcpy(half + strlen(MA), MC, 5);
	memcpy(half + sizeof data - 1, MD, sizeof MD);
	put(box, half, sizeof data - 1 + strlen(MD));
	make_stage(data, sizeof data - 1, strlen(MA), MC, 0);
	mb = open_ok(3);
	ops->close(&mb);
	file_is(box, MA MC MD);
}
END_TEST

START_TEST(t_replay_refused)
{
	const char data[] = MA MB MC;
	struct pop23d_mbox *mb = NULL;
	const char *err;
	int damage;

	for (damage = 1; damage <= 2; damage++) {
		put(box, data, sizeof data - 1);
		make_stage(data, sizeof data - 1, strlen(MA), MC, damage);
		ck_assert_int_eq(ops->open(box, &mb, &err), POP23D_TEMPFAIL);
		ck_assert_ptr_null(mb);
		file_is(box, data);		/* never touched */
		ck_assert_int_eq(access(stage, F_OK), 0);
		unlink(stage);
	}
}
END_TEST

START_TEST(t_folders)
{
	static const char *const bad[] = { "../inbox", "/etc/passwd", ".x",
	    "~alice/x", "", "a/b", "x\ny", "..", "link", "fifo", "dir" };
	struct pop23d_mbox *mb = NULL;
	char p[PATH_MAX];
	const char *err;
	size_t i;

	put(box, MA, strlen(MA));
	mock_host_set("mbox", "folders", "%h/mail");
	snprintf(p, sizeof p, "%s/mail", tmp);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/mail/saved", tmp);
	put(p, MA MB, strlen(MA MB));
	snprintf(p, sizeof p, "%s/mail/link", tmp);
	ck_assert_int_eq(symlink(box, p), 0);
	snprintf(p, sizeof p, "%s/mail/fifo", tmp);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	snprintf(p, sizeof p, "%s/mail/dir", tmp);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(ops->folder_open(box, bad[i], &mb, &err) ==
		    POP23D_NOUSER, "%s", bad[i]);
		ck_assert_ptr_null(mb);
	}
	/* refused names and missing folders leave no index directory */
	ck_assert_int_eq(ops->folder_open(box, "nosuch", &mb, &err),
	    POP23D_NOUSER);
	snprintf(p, sizeof p, "%s/.pop23d-mbox/folder-nosuch", tmp);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_int_eq(ops->folder_open(box, "saved", &mb, &err),
	    POP23D_OK);
	ops->close(&mb);
	ck_assert_int_eq(ops->folder_open(box, "INBOX", &mb, &err),
	    POP23D_OK);
	ops->close(&mb);
	/* the spool under its own name is the INBOX, with its lock */
	mock_host_set("mbox", "folders", "%h");
	ck_assert_int_eq(ops->folder_open(box, "inbox", &mb, &err),
	    POP23D_OK);
	{
		struct pop23d_mbox *mb2 = NULL;

		ck_assert_int_eq(ops->open(box, &mb2, &err), POP23D_INUSE);
	}
	ops->close(&mb);
}
END_TEST

START_TEST(t_session_lock_and_dotlock)
{
	struct pop23d_mbox *mb, *mb2 = NULL;
	char lock[PATH_MAX];
	const char *err;

	put(box, MA, strlen(MA));
	mb = open_ok(1);
	ck_assert_int_eq(ops->open(box, &mb2, &err), POP23D_INUSE);
	ops->close(&mb);
	/* a live dotlock (our own pid) is respected: TEMPFAIL after
	 * lock_timeout; a dead one is broken */
	snprintf(lock, sizeof lock, "%s.lock", box);
	put(lock, "1\n", 2);		/* init: alive, not ours */
	ck_assert_int_eq(ops->open(box, &mb2, &err), POP23D_TEMPFAIL);
	put(lock, "999999999\n", 10);
	mb = open_ok(1);
	ops->close(&mb);
	ck_assert_int_eq(access(lock, F_OK), -1);
}
END_TEST

Suite *
suite_store_mbox(void)
{
	Suite *s = suite_create("store_mbox");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, t_list_read_keys);
	tcase_add_test(tc, t_duplicate_runs);
	tcase_add_test(tc, t_expunge_keeps_octets);
	tcase_add_test(tc, t_expunge_keeps_appended);
	tcase_add_test(tc, t_changed_file_refused);
	tcase_add_test(tc, t_replay_before_write);
	tcase_add_test(tc, t_replay_half_written);
	tcase_add_test(tc, t_replay_after_truncate_and_append);
	tcase_add_test(tc, t_replay_untruncated_with_append);
	tcase_add_test(tc, t_replay_refused);
	tcase_add_test(tc, t_folders);
	tcase_add_test(tc, t_session_lock_and_dotlock);
	suite_add_tcase(s, tc);
	return s;
}
