/*
 * check_store_maildir.c - unit tests of the "maildir" storage plugin.
 * Loads the built store_maildir.so with dlopen() from test_plugindir(),
 * drives it through the shared mock host (mock_host.h) and checks it
 * against temporary
 * Maildirs: listing order and keys, accessed flags, reading, renames by
 * another reader, files that cannot be opened (and how often that is
 * logged), mark_accessed, expunge, the session lock (across processes) and
 * the POP2 FOLD folder-name rules.
 * Runs as whoever runs "make check".
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pop23d/plugin.h>

#include "mock_host.h"
#include "suites.h"
#include "../../plugins/maildir_list.h"
#include "../../src/crc32c.h"

/* [maildir] fsync as config_get() answers it; NULL = unset. */
static void
set_fsync(const char *value)
{
	mock_host_set("maildir", "fsync", value);
}

/* ------------------------------------------------------------- fixture */

static void *dl;
static pop23d_plugin_init_fn *plugin_init;
static const struct pop23d_plugin *plug;
static const struct pop23d_store_ops *ops;
static char *tmp;		/* per-test directory */
static char md[PATH_MAX];	/* tmp/Maildir */

static void
xsnprintf(char *buf, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
xsnprintf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < sz, "path too long: %s", fmt);
}

static void
mkdir_ok(const char *path)
{
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: %s", path,
	    strerror(errno));
}

/* Make DIR a Maildir (DIR, DIR/cur, DIR/new, DIR/tmp). */
static void
mkmaildir(const char *dir)
{
	char p[PATH_MAX];

	mkdir_ok(dir);
	xsnprintf(p, sizeof p, "%s/cur", dir);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/new", dir);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/tmp", dir);
	mkdir_ok(p);
}

static void
setup(void)
{
	mock_host_reset();
	dl = mock_plugin_open("store_maildir.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug),
	    0);
	ck_assert_ptr_nonnull(plug);
	ops = plug->store;
	ck_assert_ptr_nonnull(ops);
	tmp = test_tmpdir();
	xsnprintf(md, sizeof md, "%s/Maildir", tmp);
	mkmaildir(md);
}

static void
teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
	dlclose(dl);
	dl = NULL;
}

/* --------------------------------------------------------------- helpers */

/* The content every test message gets: unique per file name. */
static void
content_for(const char *rel, char *buf, size_t sz)
{
	xsnprintf(buf, sz, "Subject: %s\n\nbody of %s\n", rel, rel);
}

/* Create DIR/REL with content_for(REL). */
static void
put(const char *dir, const char *rel)
{
	char p[PATH_MAX], c[1024];

	xsnprintf(p, sizeof p, "%s/%s", dir, rel);
	content_for(rel, c, sizeof c);
	test_write_file(p, c, strlen(c));
}

static int
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int
exists(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	xsnprintf(p, sizeof p, "%s/%s", dir, rel);
	return path_exists(p);
}

static void
mv(const char *dir, const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	xsnprintf(a, sizeof a, "%s/%s", dir, from);
	xsnprintf(b, sizeof b, "%s/%s", dir, to);
	ck_assert_msg(rename(a, b) == 0, "rename %s: %s", a, strerror(errno));
}

static void
rm(const char *dir, const char *rel)
{
	char p[PATH_MAX];

	xsnprintf(p, sizeof p, "%s/%s", dir, rel);
	ck_assert_msg(unlink(p) == 0, "unlink %s: %s", p, strerror(errno));
}

static struct pop23d_mbox *
open_ok(const char *dir)
{
	struct pop23d_mbox *mb = NULL;
	const char *err = NULL;
	enum pop23d_result r;

	r = ops->open(dir, &mb, &err);
	ck_assert_msg(r == POP23D_OK, "open %s: %d (%s)", dir, r,
	    err != NULL ? err : "");
	ck_assert_ptr_nonnull(mb);
	return mb;
}

static size_t
list_ok(struct pop23d_mbox *mb, const struct pop23d_msg **msgs_r)
{
	size_t n = 0;

	ck_assert_int_eq(ops->list(mb, msgs_r, &n), POP23D_OK);
	ck_assert_ptr_nonnull(*msgs_r);
	return n;
}

/* Index of KEY in MSGS, or -1. */
static long
find_key(const struct pop23d_msg *msgs, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(msgs[i].key, key) == 0)
			return (long)i;
	return -1;
}

/* The key of a file name "dir/base:info" -> "base". */
static void
key_of(const char *rel, char *buf, size_t sz)
{
	const char *b = strchr(rel, '/') + 1;
	size_t n = strcspn(b, ":");

	ck_assert(n < sz);
	memcpy(buf, b, n);
	buf[n] = '\0';
}

/* msg_open message I and check its bytes equal content_for(REL). */
static void
check_bytes(struct pop23d_mbox *mb, size_t i, const char *rel, int ci)
{
	char want[1024], got[1024];
	off_t off = -1, len = -1;
	enum pop23d_result r;
	int fd = -1;

	content_for(rel, want, sizeof want);
	r = ops->msg_open(mb, i, &fd, &off, &len);
	ck_assert_msg(r == POP23D_OK, "case %d: msg_open %zu: %d", ci, i, r);
	ck_assert_msg(fd >= 0, "case %d: fd", ci);
	ck_assert_msg(fcntl(fd, F_GETFD) & FD_CLOEXEC, "case %d: cloexec", ci);
	ck_assert_msg(off == 0 && len == (off_t)strlen(want),
	    "case %d: off %lld len %lld, want 0 %zu", ci, (long long)off,
	    (long long)len, strlen(want));
	ck_assert_int_eq(pread(fd, got, sizeof got, off), len);
	ck_assert_msg(memcmp(got, want, (size_t)len) == 0,
	    "case %d: wrong bytes for %s", ci, rel);
	close(fd);
}

/* Run FN in a child process; returns its exit status (-1 if signalled). */
static int
in_child(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		alarm(5);
		_exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Child: open ARG (a maildir path) and exit with the result. */
static int
child_open(void *arg)
{
	struct pop23d_mbox *mb = NULL;
	const char *err;

	return (int)ops->open(arg, &mb, &err);
}

/* Child: folder_open(md, ARG) and exit with the result. */
static int
child_folder(void *arg)
{
	struct pop23d_mbox *mb = NULL;
	const char *err;

	return (int)ops->folder_open(md, arg, &mb, &err);
}

/* ----------------------------------------------------------------- tests */

START_TEST(test_descriptor)
{
	const struct pop23d_plugin *p2 = NULL;
	const char *err = NULL;
	static const struct {
		const char *val;
		int ok;
	} cfg[] = {
		{ NULL, 1 }, { "yes", 1 }, { "no", 1 }, { "YES", 1 },
		{ "maybe", 0 }, { "", 0 }, { "1", 0 },
	};
	size_t i;

	ck_assert_int_eq(plug->abi, POP23D_PLUGIN_ABI);
	ck_assert_uint_ge(plug->api_built, 2);
	ck_assert_uint_le(plug->api_min, POP23D_PLUGIN_API);
	ck_assert_int_eq(plug->kind, POP23D_PLUGIN_STORE);
	ck_assert_str_eq(plug->name, "maildir");
	ck_assert_ptr_null(plug->auth);
	ck_assert_ptr_nonnull(ops->folder_open);
	ck_assert_ptr_nonnull(plug->config_keys);
	ck_assert_str_eq(plug->config_keys[0], "fsync");
	ck_assert_str_eq(plug->config_keys[1], "list_record");
	ck_assert_ptr_null(plug->config_keys[2]);
	/* a host with another ABI is refused */
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI + 1, &mock_host, &p2), -1);
	for (i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
		set_fsync(cfg[i].val);
		err = NULL;
		ck_assert_msg((plug->check_config(&err) == 0) == cfg[i].ok,
		    "case %zu: check_config(%s)", i,
		    cfg[i].val ? cfg[i].val : "NULL");
		if (!cfg[i].ok)
			ck_assert_msg(err != NULL, "case %zu: no error", i);
	}
	set_fsync(NULL);
	for (i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
		mock_host_set("maildir", "list_record", cfg[i].val);
		err = NULL;
		ck_assert_msg((plug->check_config(&err) == 0) == cfg[i].ok,
		    "case %zu: check_config(list_record=%s)", i,
		    cfg[i].val ? cfg[i].val : "NULL");
	}
	mock_host_set("maildir", "list_record", NULL);
}
END_TEST

/* Files of test_list, in creation order. */
static const char *const list_files[] = {
	"new/1000000002.M1P1.host",
	"cur/1000000001.M2P2.host:2,S",
	"cur/1000000003.M3P3.host:2,RS",
	"cur/1000000004.M4P4.host:2,R",
	"cur/999999999.M0P0.host",		/* no ":2,"; numeric sort */
	"new/1000000005.B.host",
	"new/1000000005.A.host",		/* same second: by key */
	"new/1000000006.D.host",		/* duplicate ... */
	"cur/1000000006.D.host:2,S",		/* ... cur/ wins */
	"new/1000000007.N.host:2,S",		/* S in new/ does not count */
	"cur/nodigits.host:2,",			/* no timestamp: last */
	"cur/1000000008.X,S=1234,W=1260:2,S",	/* S= is no size */
	"new/.hidden",
	"cur/.nfs000001",
	"cur/:2,S",				/* empty key */
	"tmp/1000000000.T.host",
};

/* The expected list, in order. */
static const struct {
	const char *key;
	int accessed;
	const char *file;
} list_want[] = {
	{ "999999999.M0P0.host", 0, "cur/999999999.M0P0.host" },
	{ "1000000001.M2P2.host", 1, "cur/1000000001.M2P2.host:2,S" },
	{ "1000000002.M1P1.host", 0, "new/1000000002.M1P1.host" },
	{ "1000000003.M3P3.host", 1, "cur/1000000003.M3P3.host:2,RS" },
	{ "1000000004.M4P4.host", 0, "cur/1000000004.M4P4.host:2,R" },
	{ "1000000005.A.host", 0, "new/1000000005.A.host" },
	{ "1000000005.B.host", 0, "new/1000000005.B.host" },
	{ "1000000006.D.host", 1, "cur/1000000006.D.host:2,S" },
	{ "1000000007.N.host", 0, "new/1000000007.N.host:2,S" },
	{ "1000000008.X,S=1234,W=1260", 1,
	  "cur/1000000008.X,S=1234,W=1260:2,S" },
	{ "nodigits.host", 0, "cur/nodigits.host:2," },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

START_TEST(test_list)
{
	const struct pop23d_msg *msgs, *msgs2;
	struct pop23d_mbox *mb;
	char p[PATH_MAX];
	size_t i, n, n2;

	for (i = 0; i < NELEM(list_files); i++)
		put(md, list_files[i]);
	xsnprintf(p, sizeof p, "%s/cur/subdir", md);
	mkdir_ok(p);
	mb = open_ok(md);
	ck_assert_str_eq(ops->index_dir(mb), md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, NELEM(list_want));
	for (i = 0; i < n; i++) {
		ck_assert_msg(strcmp(msgs[i].key, list_want[i].key) == 0,
		    "case %zu: key %s, want %s", i, msgs[i].key,
		    list_want[i].key);
		ck_assert_msg(msgs[i].accessed == list_want[i].accessed,
		    "case %zu: accessed %d", i, msgs[i].accessed);
		ck_assert_msg(msgs[i].raw_size == -1, "case %zu: raw_size %lld",
		    i, (long long)msgs[i].raw_size);
		check_bytes(mb, i, list_want[i].file, (int)i);
	}
	/* mail delivered after the first list() is not shown */
	put(md, "new/0000000001.Late.host");
	n2 = list_ok(mb, &msgs2);
	ck_assert_uint_eq(n2, n);
	ck_assert_ptr_eq(msgs2, msgs);
	ck_assert_int_eq(find_key(msgs2, n2, "0000000001.Late.host"), -1);
	ops->close(&mb);
	ck_assert_ptr_null(mb);
	/* ... but in the next session */
	mb = open_ok(md);
	n2 = list_ok(mb, &msgs2);
	ck_assert_uint_eq(n2, n + 1);
	ck_assert_str_eq(msgs2[0].key, "0000000001.Late.host");
	ops->close(&mb);
}
END_TEST

START_TEST(test_list_empty)
{
	const struct pop23d_msg *msgs = NULL;
	struct pop23d_mbox *mb;

	mb = open_ok(md);
	ck_assert_uint_eq(list_ok(mb, &msgs), 0);
	ops->close(&mb);
}
END_TEST

/* Entries that are not plain messages: a subdirectory, a FIFO, a symlink,
 * two copies of one key in cur/. */
START_TEST(test_list_odd)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char p[PATH_MAX];
	static const char *const odd[] = {
		"cur/1000000002.fifo.host:2,", "cur/1000000003.link.host:2,S",
	};
	size_t i, n;
	long k;
	int fd;
	off_t off, len;

	put(md, "cur/1000000001.E.host:2,S");
	put(md, "cur/1000000001.E.host:2,RS");	/* preferred: smaller name */
	put(md, "new/1000000004.ok.host");
	xsnprintf(p, sizeof p, "%s/cur/1000000005.dir.host", md);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/%s", md, odd[0]);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	xsnprintf(p, sizeof p, "%s/%s", md, odd[1]);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	alarm(5);	/* a FIFO must never block */
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_int_ge(find_key(msgs, n, "1000000004.ok.host"), 0);
	ck_assert_int_eq(find_key(msgs, n, "1000000005.dir.host"), -1);
	k = find_key(msgs, n, "1000000001.E.host");
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(msgs[k].accessed, 1);
	check_bytes(mb, (size_t)k, "cur/1000000001.E.host:2,RS", 0);
	/* On file systems with d_type the FIFO and the symlink are not
	 * listed; where d_type is unknown they are, and msg_open must then
	 * refuse them without blocking. */
	for (i = 0; i < NELEM(odd); i++) {
		char key[256];

		key_of(odd[i], key, sizeof key);
		if ((k = find_key(msgs, n, key)) < 0)
			continue;
		ck_assert_msg(ops->msg_open(mb, (size_t)k, &fd, &off, &len) !=
		    POP23D_OK, "case %zu: odd entry opened", i);
	}
	ck_assert_uint_le(n, 4);
	ops->close(&mb);
	alarm(0);
}
END_TEST

/*
 * A rename by link() + unlink() killed between the two leaves one file
 * under two names, new/KEY and cur/KEY:2,S.  The listing keeps the cur/
 * name and removes the new/ one, so that a later expunge removes the
 * message for good; a duplicate key that is another file stays (logged).
 */
START_TEST(test_list_interrupted_rename)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char a[PATH_MAX], b[PATH_MAX];
	size_t idx, n;
	long k;

	put(md, "new/1000000001.L.host");
	xsnprintf(a, sizeof a, "%s/new/1000000001.L.host", md);
	xsnprintf(b, sizeof b, "%s/cur/1000000001.L.host:2,S", md);
	ck_assert_int_eq(link(a, b), 0);
	put(md, "new/1000000002.D.host");		/* another file */
	put(md, "cur/1000000002.D.host:2,S");
	mock_host_lines = 0;
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(mock_host_lines, 2);	/* one removal, one dup */
	k = find_key(msgs, n, "1000000001.L.host");
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(msgs[k].accessed, 1);
	ck_assert(!exists(md, "new/1000000001.L.host"));
	ck_assert(exists(md, "cur/1000000001.L.host:2,S"));
	ck_assert(exists(md, "new/1000000002.D.host"));
	ck_assert(exists(md, "cur/1000000002.D.host:2,S"));
	idx = (size_t)k;
	ck_assert_int_eq(ops->expunge(mb, &idx, 1), POP23D_OK);
	ops->close(&mb);
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(find_key(msgs, n, "1000000001.L.host"), -1);
	ops->close(&mb);
}
END_TEST

/* msg_open after another reader renamed or deleted the file. */
START_TEST(test_msg_open_renamed)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	int fd = -1;
	off_t off, len;
	size_t n;

	put(md, "new/1000000001.a.host");
	put(md, "cur/1000000002.b.host:2,R");
	put(md, "new/1000000003.c.host");
	put(md, "new/1000000004.d.host");
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 4);
	/* another reader: new -> cur, a flag change, a delete, a move
	 * from new/ to cur/ without info */
	mv(md, "new/1000000001.a.host", "cur/1000000001.a.host:2,S");
	mv(md, "cur/1000000002.b.host:2,R", "cur/1000000002.b.host:2,RS");
	rm(md, "new/1000000003.c.host");
	mv(md, "new/1000000004.d.host", "cur/1000000004.d.host");
	check_bytes(mb, 0, "new/1000000001.a.host", 0);
	check_bytes(mb, 1, "cur/1000000002.b.host:2,R", 1);
	ck_assert_int_eq(ops->msg_open(mb, 2, &fd, &off, &len),
	    POP23D_NOUSER);
	check_bytes(mb, 3, "new/1000000004.d.host", 3);
	/* the keys did not change */
	ck_assert_str_eq(msgs[0].key, "1000000001.a.host");
	ck_assert_str_eq(msgs[1].key, "1000000002.b.host");
	/* out of range */
	ck_assert_int_ne(ops->msg_open(mb, 4, &fd, &off, &len), POP23D_OK);
	ops->close(&mb);
}
END_TEST

/*
 * Files that cannot be opened: each fails alone (the others still open),
 * a vanished one is NOUSER without a log line, and the failures are logged
 * at most 10 times per session plus one line at close, however many there
 * are and however often they are tried.
 */
START_TEST(test_msg_open_unopenable)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char rel[64], p[PATH_MAX];
	int fd = -1, round;
	off_t off, len;
	size_t n, i;

	for (i = 0; i < 40; i++) {
		xsnprintf(rel, sizeof rel, "new/%zu.m%zu.host", 1000000000 + i,
		    i);
		put(md, rel);
	}
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 40);
	/* After the listing: 30 become symlinks (ELOOP), one vanishes. */
	for (i = 0; i < 30; i++) {
		xsnprintf(p, sizeof p, "%s/new/%zu.m%zu.host", md,
		    1000000000 + i, i);
		ck_assert_int_eq(unlink(p), 0);
		ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	}
	rm(md, "new/1000000039.m39.host");
	mock_host_lines = 0;
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 30; i++)
			ck_assert_int_eq(ops->msg_open(mb, i, &fd, &off, &len),
			    POP23D_PERMFAIL);
		for (i = 30; i < 39; i++) {
			xsnprintf(rel, sizeof rel, "new/%zu.m%zu.host",
			    1000000000 + i, i);
			check_bytes(mb, i, rel, (int)i);
		}
	}
	ck_assert_int_eq(mock_host_lines, 10);
	/* The re-scan finds the vanished one gone (and the symlinks no
	 * longer messages): NOUSER, no more log lines. */
	ck_assert_int_eq(ops->msg_open(mb, 39, &fd, &off, &len),
	    POP23D_NOUSER);
	ck_assert_int_ne(ops->msg_open(mb, 0, &fd, &off, &len), POP23D_OK);
	check_bytes(mb, 30, "new/1000000030.m30.host", 30);
	ck_assert_int_eq(mock_host_lines, 10);
	ops->close(&mb);
	ck_assert_int_eq(mock_host_lines, 11);
	/* Nothing was removed. */
	for (i = 0; i < 39; i++) {
		xsnprintf(rel, sizeof rel, "new/%zu.m%zu.host", 1000000000 + i,
		    i);
		ck_assert_msg(exists(md, rel), "%s removed", rel);
	}
}
END_TEST

static const struct {
	const char *before;
	const char *after;
} mark_cases[] = {
	{ "new/1000000001.a.host", "cur/1000000001.a.host:2,S" },
	{ "new/1000000002.b.host:2,F", "cur/1000000002.b.host:2,FS" },
	{ "cur/1000000003.c.host", "cur/1000000003.c.host:2,S" },
	{ "cur/1000000004.d.host:2,R", "cur/1000000004.d.host:2,RS" },
	{ "cur/1000000005.e.host:2,FR", "cur/1000000005.e.host:2,FRS" },
	{ "cur/1000000006.f.host:2,T", "cur/1000000006.f.host:2,ST" },
	{ "cur/1000000007.g.host:2,S", "cur/1000000007.g.host:2,S" },
	{ "cur/1000000008.h.host:2,", "cur/1000000008.h.host:2,S" },
	{ "new/1000000009.i.host:2,a", "cur/1000000009.i.host:2,Sa" },
	{ "cur/1000000010.j.host:2,RFR", "cur/1000000010.j.host:2,FRS" },
	/* unknown (experimental) info: left alone in cur/ */
	{ "cur/1000000011.k.host:1,xyz", "cur/1000000011.k.host:1,xyz" },
};

START_TEST(test_mark_accessed)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	size_t i, n;
	long k;

	for (i = 0; i < NELEM(mark_cases); i++)
		put(md, mark_cases[i].before);
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, NELEM(mark_cases));
	for (i = 0; i < NELEM(mark_cases); i++) {
		const char *keyp;
		char key[256];

		key_of(mark_cases[i].before, key, sizeof key);
		k = find_key(msgs, n, key);
		ck_assert_msg(k >= 0, "case %zu: %s not listed", i, key);
		keyp = msgs[k].key;
		ck_assert_msg(ops->mark_accessed(mb, (size_t)k) == POP23D_OK,
		    "case %zu: mark_accessed", i);
		ck_assert_msg(exists(md, mark_cases[i].after),
		    "case %zu: %s missing", i, mark_cases[i].after);
		if (strcmp(mark_cases[i].before, mark_cases[i].after) != 0)
			ck_assert_msg(!exists(md, mark_cases[i].before),
			    "case %zu: %s still there", i,
			    mark_cases[i].before);
		ck_assert_msg(msgs[k].key == keyp &&
		    strcmp(msgs[k].key, key) == 0, "case %zu: key changed", i);
		/* twice is harmless */
		ck_assert_msg(ops->mark_accessed(mb, (size_t)k) == POP23D_OK,
		    "case %zu: second mark_accessed", i);
		ck_assert_msg(exists(md, mark_cases[i].after),
		    "case %zu: %s missing after second mark", i,
		    mark_cases[i].after);
		check_bytes(mb, (size_t)k, mark_cases[i].before, (int)i);
	}
	ops->close(&mb);
	/* the next session sees S everywhere except the unknown info */
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	for (i = 0; i < NELEM(mark_cases); i++) {
		char key[256];

		key_of(mark_cases[i].before, key, sizeof key);
		k = find_key(msgs, n, key);
		ck_assert_msg(k >= 0, "case %zu: %s not listed", i, key);
		ck_assert_msg(msgs[k].accessed ==
		    (strstr(mark_cases[i].after, ":2,") != NULL),
		    "case %zu: accessed %d", i, msgs[k].accessed);
	}
	ops->close(&mb);
}
END_TEST

/* mark_accessed when the file moved, vanished, or the target exists. */
START_TEST(test_mark_accessed_races)
{
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char p[PATH_MAX], buf[64];
	size_t n;
	int fd;
	ssize_t r;

	put(md, "new/1000000001.a.host");
	put(md, "new/1000000002.b.host");
	put(md, "new/1000000003.c.host");
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 3);
	/* another reader flagged it F and moved it to cur/ */
	mv(md, "new/1000000001.a.host", "cur/1000000001.a.host:2,F");
	ck_assert_int_eq(ops->mark_accessed(mb, 0), POP23D_OK);
	ck_assert(exists(md, "cur/1000000001.a.host:2,FS"));
	ck_assert(!exists(md, "cur/1000000001.a.host:2,F"));
	/* deleted by another reader */
	rm(md, "new/1000000002.b.host");
	ck_assert_int_eq(ops->mark_accessed(mb, 1), POP23D_NOUSER);
	/* a different file already has the target name: never replace it */
	xsnprintf(p, sizeof p, "%s/cur/1000000003.c.host:2,S", md);
	test_write_file(p, "other", 5);
	ck_assert_int_eq(ops->mark_accessed(mb, 2), POP23D_OK);
	ck_assert(exists(md, "new/1000000003.c.host"));
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	r = read(fd, buf, sizeof buf);
	close(fd);
	ck_assert_int_eq(r, 5);
	ck_assert(memcmp(buf, "other", 5) == 0);
	ops->close(&mb);
}
END_TEST

static const char *const fsync_values[] = { NULL, "yes", "no" };

START_TEST(test_expunge)
{
	static const char *const files[] = {
		"new/1000000001.a.host",
		"cur/1000000002.b.host:2,S",
		"new/1000000003.c.host",
		"cur/1000000004.d.host:2,RS",
		"cur/1000000005.e.host",
		"new/1000000006.f.host",
		"cur/1000000007.g.host:2,",
	};
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	size_t i, n, del[2] = { 1, 3 }, bad[2] = { 0, 99 }, one;
	int fd;
	off_t off, len;

	set_fsync(fsync_values[_i]);
	for (i = 0; i < NELEM(files); i++)
		put(md, files[i]);
	put(md, "tmp/1000000000.t.host");
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, NELEM(files));
	/* an out-of-range index: nothing is deleted */
	ck_assert_int_ne(ops->expunge(mb, bad, 2), POP23D_OK);
	for (i = 0; i < NELEM(files); i++)
		ck_assert_msg(exists(md, files[i]), "case %zu: deleted", i);
	ck_assert_int_eq(ops->expunge(mb, del, 2), POP23D_OK);
	for (i = 0; i < NELEM(files); i++)
		ck_assert_msg(exists(md, files[i]) == (i != 1 && i != 3),
		    "case %zu: wrong state after expunge", i);
	ck_assert(exists(md, "tmp/1000000000.t.host"));
	ck_assert_int_eq(ops->msg_open(mb, 1, &fd, &off, &len),
	    POP23D_NOUSER);
	/* again: already gone is fine */
	ck_assert_int_eq(ops->expunge(mb, del, 2), POP23D_OK);
	/* deleted behind our back: fine */
	rm(md, files[0]);
	one = 0;
	ck_assert_int_eq(ops->expunge(mb, &one, 1), POP23D_OK);
	/* renamed behind our back: the renamed file goes */
	mv(md, files[2], "cur/1000000003.c.host:2,S");
	one = 2;
	ck_assert_int_eq(ops->expunge(mb, &one, 1), POP23D_OK);
	ck_assert(!exists(md, "cur/1000000003.c.host:2,S"));
	/* after mark_accessed the new name is deleted */
	ck_assert_int_eq(ops->mark_accessed(mb, 5), POP23D_OK);
	one = 5;
	ck_assert_int_eq(ops->expunge(mb, &one, 1), POP23D_OK);
	ck_assert(!exists(md, "cur/1000000006.f.host:2,S"));
	ck_assert(!exists(md, files[5]));
	/* nothing else was touched; an empty expunge is fine */
	ck_assert_int_eq(ops->expunge(mb, NULL, 0), POP23D_OK);
	ck_assert(exists(md, files[4]));
	ck_assert(exists(md, files[6]));
	ck_assert(exists(md, "tmp/1000000000.t.host"));
	ops->close(&mb);
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(msgs[0].key, "1000000005.e.host");
	ck_assert_str_eq(msgs[1].key, "1000000007.g.host");
	ops->close(&mb);
}
END_TEST

/* Many messages, all renamed by another reader before an expunge of all. */
START_TEST(test_many)
{
	enum { N = 3000 };
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char rel[128], to[128];
	size_t i, n, *idx;

	for (i = 0; i < N; i++) {
		/* timestamps out of creation order, some equal */
		xsnprintf(rel, sizeof rel, "new/%zu.M%zu.host",
		    (size_t)1700000000 + (i * 7919) % (N / 2), i);
		put(md, rel);
	}
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, N);
	for (i = 1; i < n; i++) {
		unsigned long a = strtoul(msgs[i - 1].key, NULL, 10);
		unsigned long b = strtoul(msgs[i].key, NULL, 10);

		ck_assert_msg(a < b || (a == b &&
		    strcmp(msgs[i - 1].key, msgs[i].key) < 0),
		    "case %zu: order %s, %s", i, msgs[i - 1].key, msgs[i].key);
	}
	for (i = 0; i < n; i++) {
		xsnprintf(rel, sizeof rel, "new/%s", msgs[i].key);
		xsnprintf(to, sizeof to, "cur/%s:2,S", msgs[i].key);
		mv(md, rel, to);
	}
	idx = calloc(n, sizeof *idx);
	ck_assert_ptr_nonnull(idx);
	for (i = 0; i < n; i++)
		idx[i] = i;
	ck_assert_int_eq(ops->expunge(mb, idx, n), POP23D_OK);
	free(idx);
	ops->close(&mb);
	mb = open_ok(md);
	ck_assert_uint_eq(list_ok(mb, &msgs), 0);
	ops->close(&mb);
}
END_TEST

static int
child_hold(void *arg)
{
	struct pop23d_mbox *mb = NULL;
	const char *err;
	int *pfd = arg;

	if (ops->open(md, &mb, &err) != POP23D_OK)
		return 1;
	if (write(pfd[1], "x", 1) != 1)
		return 2;
	for (;;)
		pause();
}

START_TEST(test_lock)
{
	struct pop23d_mbox *mb, *mb2 = NULL;
	const char *err = NULL;
	char p[PATH_MAX], c;
	struct stat st;
	pid_t pid;
	int pfd[2], status;

	mb = open_ok(md);
	xsnprintf(p, sizeof p, "%s/pop23d.lock", md);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(in_child(child_open, md), POP23D_INUSE);
#ifdef F_OFD_SETLK
	/* the lock is per open, not per process */
	ck_assert_int_eq(ops->open(md, &mb2, &err), POP23D_INUSE);
	ck_assert_ptr_null(mb2);
#endif
	ops->close(&mb);
	ck_assert_ptr_null(mb);
	ck_assert_int_eq(in_child(child_open, md), POP23D_OK);
	/* the lock dies with its process (kill -9) */
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		alarm(5);
		_exit(child_hold(pfd));
	}
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	ck_assert_int_eq(ops->open(md, &mb2, &err), POP23D_INUSE);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(pfd[0]);
	close(pfd[1]);
	mb = open_ok(md);
	ops->close(&mb);
}
END_TEST

/* Open errors of the default maildrop. */
START_TEST(test_open_errors)
{
	struct pop23d_mbox *mb = NULL;
	const char *err = NULL;
	char p[PATH_MAX], q[PATH_MAX];
	struct stat st;

	xsnprintf(p, sizeof p, "%s/nosuch", tmp);
	ck_assert_int_eq(ops->open(p, &mb, &err), POP23D_NOUSER);
	ck_assert_ptr_null(mb);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(ops->folder_open(p, "work", &mb, &err),
	    POP23D_NOUSER);
	xsnprintf(p, sizeof p, "%s/file", tmp);
	test_write_file(p, "x", 1);
	ck_assert_int_eq(ops->open(p, &mb, &err), POP23D_PERMFAIL);
	/* a directory that is not a Maildir */
	xsnprintf(p, sizeof p, "%s/nocur", tmp);
	mkdir_ok(p);
	ck_assert_int_eq(ops->open(p, &mb, &err), POP23D_NOUSER);
	/* cur/ is a symlink */
	xsnprintf(p, sizeof p, "%s/symcur", tmp);
	mkmaildir(p);
	xsnprintf(q, sizeof q, "%s/symcur/cur", tmp);
	ck_assert_int_eq(rmdir(q), 0);
	xsnprintf(p, sizeof p, "%s/cur", md);
	ck_assert_int_eq(symlink(p, q), 0);
	xsnprintf(p, sizeof p, "%s/symcur", tmp);
	ck_assert_int_eq(ops->open(p, &mb, &err), POP23D_PERMFAIL);
	ck_assert_ptr_null(mb);
	/* the lock file is a symlink (dangling: must not be created) */
	xsnprintf(p, sizeof p, "%s/pop23d.lock", md);
	xsnprintf(q, sizeof q, "%s/target", tmp);
	ck_assert_int_eq(symlink(q, p), 0);
	ck_assert_int_eq(ops->open(md, &mb, &err), POP23D_PERMFAIL);
	ck_assert_int_ne(lstat(q, &st), 0);
	ck_assert_int_eq(unlink(p), 0);
	/* the lock file is a FIFO: no blocking */
	alarm(5);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(ops->open(md, &mb, &err), POP23D_PERMFAIL);
	ck_assert_int_eq(unlink(p), 0);
	alarm(0);
	/* the lock file is a directory */
	mkdir_ok(p);
	ck_assert_int_eq(ops->open(md, &mb, &err), POP23D_PERMFAIL);
	ck_assert_int_eq(rmdir(p), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(md, 0), 0);
		ck_assert_int_eq(ops->open(md, &mb, &err), POP23D_PERMFAIL);
		ck_assert_int_eq(chmod(md, 0700), 0);
	}
	ck_assert_ptr_null(mb);
	mb = open_ok(md);
	ops->close(&mb);
	ops->close(&mb);	/* NULL is fine */
}
END_TEST

/* Names that must be refused even though "<maildir>/." NAME exists and is
 * a valid Maildir (so only the name check can refuse them). */
static const char *const fold_bad[] = {
	"../x", "/etc", "~root", ".hidden", "a/b", "..", ".", "", "x..y",
	"\x01x", "x\x7f", "tab\there", "nl\n", "a/",
};

START_TEST(test_folder_open)
{
	static const struct {
		const char *name;
		const char *dir;	/* expected index_dir below md */
	} good[] = {
		{ "work", "/.work" },
		{ "work folder", "/.work folder" },
		{ "a.b", "/.a.b" },
		{ "INBOX", "" },
		{ "inbox", "" },
		{ "InBoX", "" },
	};
	struct pop23d_mbox *mb = NULL, *mb2 = NULL;
	const struct pop23d_msg *msgs;
	const char *err;
	char p[PATH_MAX], want[PATH_MAX], longname[300];
	size_t i, n;

	for (i = 0; i < NELEM(good); i++) {
		if (good[i].dir[0] == '\0')
			continue;
		xsnprintf(p, sizeof p, "%s%s", md, good[i].dir);
		mkmaildir(p);
		put(p, "new/1000000001.folder.host");
	}
	put(md, "new/1000000002.inbox.host");
	for (i = 0; i < NELEM(good); i++) {
		err = NULL;
		ck_assert_msg(ops->folder_open(md, good[i].name, &mb, &err) ==
		    POP23D_OK, "case %zu: folder_open(%s): %s", i,
		    good[i].name, err ? err : "");
		xsnprintf(want, sizeof want, "%s%s", md, good[i].dir);
		ck_assert_msg(strcmp(ops->index_dir(mb), want) == 0,
		    "case %zu: index_dir %s", i, ops->index_dir(mb));
		n = list_ok(mb, &msgs);
		ck_assert_msg(n == 1, "case %zu: %zu messages", i, n);
		ck_assert_str_eq(msgs[0].key, good[i].dir[0] != '\0' ?
		    "1000000001.folder.host" : "1000000002.inbox.host");
		xsnprintf(p, sizeof p, "%s/pop23d.lock", want);
		ck_assert_msg(path_exists(p), "case %zu: no lock file", i);
		/* the folder's lock excludes another process */
		ck_assert_msg(in_child(child_folder, (void *)good[i].name) ==
		    POP23D_INUSE, "case %zu: not locked", i);
		ops->close(&mb);
		ck_assert_ptr_null(mb);
	}
	/* locks are per folder */
	ck_assert_int_eq(ops->folder_open(md, "work", &mb, &err), POP23D_OK);
	ck_assert_int_eq(in_child(child_open, md), POP23D_OK);
	ck_assert_int_eq(in_child(child_folder, "a.b"), POP23D_OK);
	ck_assert_int_eq(ops->folder_open(md, "a.b", &mb2, &err), POP23D_OK);
	ops->close(&mb2);
	ops->close(&mb);

	/* Every refused name exists as a Maildir: "" -> md itself,
	 * "." -> md/.. (tmp), ".." -> md/..., "../x" -> md/.../x,
	 * "/etc" -> md/./etc, "a/b" -> md/.a/b, "a/" -> md/.a/,
	 * ".hidden" -> md/..hidden */
	xsnprintf(p, sizeof p, "%s/cur", tmp);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/new", tmp);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/x", tmp);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/...", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/.../x", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/etc", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/.a", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/.a/b", md);
	mkmaildir(p);
	for (i = 0; i < NELEM(fold_bad); i++) {
		const char *name = fold_bad[i];

		if (name[0] == '\0' || name[0] == '/' || name[0] == '.' ||
		    strchr(name, '/') != NULL)
			continue;	/* made above, or cannot be made */
		xsnprintf(p, sizeof p, "%s/.%s", md, name);
		mkmaildir(p);
	}
	xsnprintf(p, sizeof p, "%s/..hidden", md);
	mkmaildir(p);
	for (i = 0; i < NELEM(fold_bad); i++) {
		mb = NULL;
		ck_assert_msg(ops->folder_open(md, fold_bad[i], &mb, &err) ==
		    POP23D_NOUSER, "case %zu: name accepted", i);
		ck_assert_msg(mb == NULL, "case %zu: mbox set", i);
	}
	/* nothing was locked or created by the refusals */
	{
		static const char *const locks[] = {
			"/../x/pop23d.lock", "/../pop23d.lock",
			"/.../pop23d.lock", "/.../x/pop23d.lock",
			"/etc/pop23d.lock", "/.a/pop23d.lock",
			"/.a/b/pop23d.lock", "/..hidden/pop23d.lock",
			"/.x..y/pop23d.lock",
		};

		for (i = 0; i < NELEM(locks); i++) {
			xsnprintf(p, sizeof p, "%s%s", md, locks[i]);
			ck_assert_msg(!path_exists(p), "case %zu: %s", i,
			    locks[i]);
		}
	}

	/* too long */
	memset(longname, 'a', sizeof longname);
	longname[256] = '\0';
	ck_assert_int_eq(ops->folder_open(md, longname, &mb, &err),
	    POP23D_NOUSER);
	longname[255] = '\0';
	ck_assert_int_eq(ops->folder_open(md, longname, &mb, &err),
	    POP23D_NOUSER);
	ck_assert_int_eq(ops->folder_open(md, "nosuch", &mb, &err),
	    POP23D_NOUSER);
	ck_assert_ptr_null(mb);
}
END_TEST

/* Folders that exist but must not be used: a symlink leading out, a
 * symlink inside, a FIFO, a device-like file, a folder without cur/, a
 * folder whose cur/ is a symlink. */
START_TEST(test_folder_unsafe)
{
	static const char *const bad[] = {
		"sym", "symin", "fifo", "file", "nocur", "curlink",
	};
	struct pop23d_mbox *mb = NULL;
	const char *err;
	char p[PATH_MAX], q[PATH_MAX];
	size_t i;

	xsnprintf(q, sizeof q, "%s/outside", tmp);
	mkmaildir(q);
	put(q, "new/1000000001.secret.host");
	xsnprintf(p, sizeof p, "%s/.sym", md);
	ck_assert_int_eq(symlink(q, p), 0);
	xsnprintf(p, sizeof p, "%s/.work", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/.symin", md);
	ck_assert_int_eq(symlink(".work", p), 0);
	xsnprintf(p, sizeof p, "%s/.fifo", md);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	xsnprintf(p, sizeof p, "%s/.file", md);
	test_write_file(p, "x", 1);
	xsnprintf(p, sizeof p, "%s/.nocur", md);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/.nocur/new", md);
	mkdir_ok(p);
	xsnprintf(p, sizeof p, "%s/.curlink", md);
	mkmaildir(p);
	xsnprintf(p, sizeof p, "%s/.curlink/cur", md);
	ck_assert_int_eq(rmdir(p), 0);
	xsnprintf(q, sizeof q, "%s/outside/cur", tmp);
	ck_assert_int_eq(symlink(q, p), 0);
	alarm(5);	/* the FIFO must not block */
	for (i = 0; i < NELEM(bad); i++) {
		mb = NULL;
		ck_assert_msg(ops->folder_open(md, bad[i], &mb, &err) ==
		    POP23D_NOUSER, "case %zu: %s accepted", i, bad[i]);
		ck_assert_msg(mb == NULL, "case %zu: mbox set", i);
	}
	alarm(0);
	xsnprintf(p, sizeof p, "%s/outside/pop23d.lock", tmp);
	ck_assert(!path_exists(p));
	/* the real folder still works */
	ck_assert_int_eq(ops->folder_open(md, "work", &mb, &err), POP23D_OK);
	ops->close(&mb);
}
END_TEST


/* Sort times of 1, 19 and 20 digits and past 2^64: numeric order up to
 * 2^64 - 1 (key_time()'s fast path for 19 digits, the checked one
 * after); a time that overflows sorts with the keys that have none. */
START_TEST(test_list_long_times)
{
	static const char *const order[] = {
		"5.e", "9999999999999999999.c", "10000000000000000000.d",
		"18446744073709551614.f", "18446744073709551615.a",
		"18446744073709551616.b", "99999999999999999999999.g",
	};
	const struct pop23d_msg *msgs;
	struct pop23d_mbox *mb;
	char p[PATH_MAX];
	size_t i, n;

	for (i = NELEM(order); i-- > 0;) {
		xsnprintf(p, sizeof p, "cur/%s:2,", order[i]);
		put(md, p);
	}
	mb = open_ok(md);
	n = list_ok(mb, &msgs);
	ck_assert_uint_eq(n, NELEM(order));
	for (i = 0; i < n; i++)
		ck_assert_str_eq(msgs[i].key, order[i]);
	ops->close(&mb);
}
END_TEST

/* ------------------------------------------------ the listing record */

struct walked {
	int n;
	char got[4][2][NAME_MAX + 1];
	int dir[4];
};

static int
walk_one(void *arg, int dir, char *key, size_t keylen, char *info)
{
	struct walked *w = arg;

	ck_assert_uint_eq(strlen(key), keylen);
	if (w->n < 4) {
		snprintf(w->got[w->n][0], NAME_MAX + 1, "%s", key);
		snprintf(w->got[w->n][1], NAME_MAX + 1, "%s",
		    info != NULL ? info : "(none)");
		w->dir[w->n] = dir;
	}
	w->n++;
	return 0;
}

/* Walk the entries BUF[0..LEN) (COUNT of them) with a right CRC. */
static int
walk(unsigned char *buf, size_t len, uint32_t count, struct walked *w)
{
	memset(w, 0, sizeof *w);
	return md_list_ents_walk(buf, len, count, crc32c(0, buf, len),
	    POP23D_KEY_MAX, walk_one, w);
}

START_TEST(test_list_record_codec)
{
	unsigned char buf[4 * (3 + NAME_MAX + 2)], hb[MD_LIST_HDR_LEN];
	struct md_list_hdr h, g;
	struct walked w;
	size_t len = 0;
	char longname[NAME_MAX + 2];

	len += md_list_ent_encode(1, "1700.a,S=1,W=2", 14, "2,S", buf + len);
	len += md_list_ent_encode(0, "1701.b", 6, NULL, buf + len);
	len += md_list_ent_encode(1, "1702.c", 6, "", buf + len);
	ck_assert_int_eq(walk(buf, len, 3, &w), 0);
	ck_assert_int_eq(w.n, 3);
	ck_assert_str_eq(w.got[0][0], "1700.a,S=1,W=2");
	ck_assert_str_eq(w.got[0][1], "2,S");
	ck_assert_int_eq(w.dir[0], 1);
	ck_assert_str_eq(w.got[1][1], "(none)");
	ck_assert_int_eq(w.dir[1], 0);
	ck_assert_str_eq(w.got[2][1], "");
	/* a wrong count, a wrong CRC, trailing octets */
	ck_assert_int_eq(walk(buf, len, 2, &w), -1);
	ck_assert_int_eq(walk(buf, len, 4, &w), -1);
	memset(&w, 0, sizeof w);
	ck_assert_int_eq(md_list_ents_walk(buf, len, 3, crc32c(0, buf, len) ^
	    1, POP23D_KEY_MAX, walk_one, &w), -1);
	ck_assert_int_eq(w.n, 0);
	/* names a scan would never take, each with a right CRC */
	len = md_list_ent_encode(0, "../x", 4, NULL, buf);
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(0, ".hidden", 7, NULL, buf);
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "a:b", 3, "2,", buf);
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "ab", 2, "2,/S", buf);
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "abc", 3, NULL, buf);
	buf[4] = '\0';			/* a NUL inside the key */
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "abc", 3, NULL, buf);
	buf[0] |= 0x80;			/* an unknown flag */
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "abc", 3, NULL, buf);
	buf[1] = 0;			/* an empty key */
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	len = md_list_ent_encode(1, "abc", 3, NULL, buf);
	buf[2] = 1;			/* info length without info */
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	/* key + ':' + info longer than NAME_MAX */
	memset(longname, 'k', 200);
	longname[200] = '\0';
	len = md_list_ent_encode(1, longname, 200, "2,SSSSSSSSSSSSSSSSSSSSSSSSSSS"
	    "SSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSSS", buf);
	ck_assert_int_eq(walk(buf, len, 1, &w), -1);
	/* header: round trip, then each damage */
	memset(&h, 0, sizeof h);
	h.count = 2000;
	h.made_s = 1700000000;
	h.dir[0].dev = 8;
	h.dir[0].ino = 1234;
	h.dir[0].mtime_s = 1699999000;
	h.dir[0].mtime_ns = 5;
	h.dir[1].ctime_s = 1699999001;
	h.dir[1].ctime_ns = 999999999;
	h.ents_len = 2000 * 40;
	h.ents_crc = 77;
	ck_assert_uint_eq(md_list_hdr_encode(&h, hb), MD_LIST_HDR_LEN);
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb, &g), 0);
	ck_assert(memcmp(&h, &g, sizeof h) == 0);
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb - 1, &g), -1);
	hb[20] ^= 1;			/* made_s: the header CRC fails */
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb, &g), -1);
	h.dir[1].ctime_ns = 1000000000;	/* not a nanosecond count */
	md_list_hdr_encode(&h, hb);
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb, &g), -1);
	h.dir[1].ctime_ns = 1;
	h.ents_len = 2000 * 4;		/* shorter than 2000 entries can be */
	md_list_hdr_encode(&h, hb);
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb, &g), -1);
	h.ents_len = 2000 * 40;
	h.count = MD_LIST_COUNT_MAX + 1;
	md_list_hdr_encode(&h, hb);
	ck_assert_int_eq(md_list_hdr_decode(hb, sizeof hb, &g), -1);
}
END_TEST

Suite *
suite_store_maildir(void)
{
	Suite *s = suite_create("store_maildir");
	TCase *tc = tcase_create("maildir");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_list_empty);
	tcase_add_test(tc, test_list_odd);
	tcase_add_test(tc, test_list_interrupted_rename);
	tcase_add_test(tc, test_msg_open_renamed);
	tcase_add_test(tc, test_msg_open_unopenable);
	tcase_add_test(tc, test_mark_accessed);
	tcase_add_test(tc, test_mark_accessed_races);
	tcase_add_loop_test(tc, test_expunge, 0, NELEM(fsync_values));
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_folder_open);
	tcase_add_test(tc, test_folder_unsafe);
	tcase_add_test(tc, test_list_record_codec);
	tcase_add_test(tc, test_list_long_times);
	suite_add_tcase(s, tc);
	return s;
}
