/*
 * check_plugins.c - unit tests of the built auth plugins: dlopen()s
 * auth_passwdfile.so and example_auth.so from test_plugindir() and drives
 * them through the shared mock host (mock_host.h; [passwdfile] path is a
 * temp passwd file).  Runs unprivileged.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <crypt.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pop23d/plugin.h"

#include "mock_host.h"
#include "suites.h"

/* [passwdfile] path as config_get() answers it; NULL = unset. */
static void
set_path(const char *path)
{
	mock_host_set("passwdfile", "path", path);
}

/* ------------------------------------------------------------------ */
/* Real hashes, made once per process by the unchecked fixture. */

static char h_sha512[CRYPT_OUTPUT_SIZE];
static char h_bare6[CRYPT_OUTPUT_SIZE];
static char h_yescrypt[CRYPT_OUTPUT_SIZE];
static char h_bcrypt[CRYPT_OUTPUT_SIZE];
static char h_sha256[CRYPT_OUTPUT_SIZE];
static char apop_plainu[33];	/* MD5(APOP_CHALLENGE2 "secret") */
static char apop_sha512[33];	/* MD5(APOP_CHALLENGE2 "pw-sha512") */
/* MD5(APOP_CHALLENGE2 + the plugin's stand-in secret for users without
 * a {PLAIN} secret): must never log anyone in. */
static char apop_dummy[33];

#define RFC_CHALLENGE	"<1896.697170952@dbc.mtview.ca.us>"
#define RFC_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"
#define APOP_CHALLENGE2	"<4242.1700000000@pop23d.test>"

static void
make_hash(const char *prefix, unsigned long count, const char *pass,
    char *out, size_t outlen)
{
	static struct crypt_data cd;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *h;

	memset(&cd, 0, sizeof cd);
	ck_assert_msg(crypt_gensalt_rn(prefix, count, NULL, 0, salt,
	    sizeof salt) != NULL, "gensalt %s: %s", prefix, strerror(errno));
	h = crypt_rn(pass, salt, &cd, sizeof cd);
	ck_assert_msg(h != NULL && h[0] == '$', "crypt %s failed", prefix);
	ck_assert_int_lt(snprintf(out, outlen, "%s", h), (int)outlen);
}

static void
md5_hex(const char *a, const char *b, char hex[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, a, strlen(a)), 1);
	ck_assert_int_eq(EVP_DigestUpdate(ctx, b, strlen(b)), 1);
	ck_assert_int_eq(EVP_DigestFinal_ex(ctx, md, &len), 1);
	EVP_MD_CTX_free(ctx);
	ck_assert_uint_eq(len, 16);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int hashes_made;

static void
make_hashes(void)
{
	if (hashes_made)
		return;
	/* Low costs keep the suite fast; the plugin does not care. */
	make_hash("$6$", 0, "pw-sha512", h_sha512, sizeof h_sha512);
	make_hash("$6$", 1000, "pw-bare6", h_bare6, sizeof h_bare6);
	make_hash("$y$", 1, "pw-yescrypt", h_yescrypt, sizeof h_yescrypt);
	make_hash("$2b$", 4, "pw-bcrypt", h_bcrypt, sizeof h_bcrypt);
	make_hash("$5$", 0, "pw-sha256", h_sha256, sizeof h_sha256);
	md5_hex(APOP_CHALLENGE2, "secret", apop_plainu);
	md5_hex(APOP_CHALLENGE2, "pw-sha512", apop_sha512);
	md5_hex(APOP_CHALLENGE2, "pop23d-dummy-apop-secret", apop_dummy);
	hashes_made = 1;
}

/* ------------------------------------------------------------------ */
/* Per-test fixture: a temp dir and the loaded passwdfile plugin. */

static char *tdir;
static char pw_path[PATH_MAX];
static void *handle;
static pop23d_plugin_init_fn *auth_init;
static const struct pop23d_plugin *plug;

static void
setup(void)
{
	make_hashes();
	tdir = test_tmpdir();
	ck_assert_int_lt(snprintf(pw_path, sizeof pw_path, "%s/passwd", tdir),
	    (int)sizeof pw_path);
	mock_host_reset();
	set_path(pw_path);
	handle = mock_plugin_open("auth_passwdfile.so", &auth_init);
	plug = NULL;
	ck_assert_int_eq(auth_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ck_assert_ptr_nonnull(plug);
}

static void
teardown(void)
{
	if (handle != NULL)
		dlclose(handle);
	handle = NULL;
	plug = NULL;
	if (tdir != NULL) {
		test_rmtree(tdir);
		free(tdir);
	}
	tdir = NULL;
	mock_host_reset();
}

static void
write_pw(const char *text)
{
	test_write_file(pw_path, text, strlen(text));
}

/* Set the passwd file's mtime (and atime) to T. */
static void
set_mtime(time_t t)
{
	struct timespec ts[2];

	ts[0].tv_sec = t;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	ck_assert_msg(utimensat(AT_FDCWD, pw_path, ts, 0) == 0, "utimensat: %s",
	    strerror(errno));
}

/* Set the passwd file's mtime to now - AGO seconds. */
static void
set_mtime_ago(time_t ago)
{
	set_mtime(time(NULL) - ago);
}

static void
check_ok(void)
{
	const char *err = NULL;

	ck_assert_msg(plug->check_config(&err) == 0, "check_config: %s",
	    err != NULL ? err : "(null)");
}

/* The main passwd file; the crypt hashes are made at run time. */
static void
write_main_file(void)
{
	char *text;

	ck_assert_int_ge(asprintf(&text,
	    "# pop23d test users\n"
	    "\n"
	    "plainu:{PLAIN}secret:1001:1002::/home/plainu::\n"
	    "spaceu:{plain}two words:1001:1002\n"
	    "sha512:{SHA512-CRYPT}%s:1003:1004:Gecos Text:/home/sha512:"
	    "/bin/false:\n"
	    "bare6:%s:::\n"
	    "ycrypt:{CRYPT}%s\n"
	    "   \t\n"
	    "bf:{BLF-CRYPT}%s:1005::::\n"
	    "\t# indented comment\n"
	    "sha256:{crypt}%s:1006:1007::/srv/mail/sha256::\n"
	    "apopu:{PLAIN}tanstaaf:2001:2001::/home/apopu::\n"
	    "crlf:{PLAIN}crlfpw:3001:3001::/home/crlf::\r\n"
	    "last:{PLAIN}nonewline:4001:4001::/home/last",
	    h_sha512, h_bare6, h_yescrypt, h_bcrypt, h_sha256), 0);
	write_pw(text);
	free(text);
}

static const char *
result_name(enum pop23d_result r)
{
	switch (r) {
	case POP23D_OK:
		return "OK";
	case POP23D_FAIL:
		return "FAIL";
	case POP23D_NOUSER:
		return "NOUSER";
	case POP23D_TEMPFAIL:
		return "TEMPFAIL";
	case POP23D_PERMFAIL:
		return "PERMFAIL";
	default:
		return "other";
	}
}

#define ck_result(got, want, i) \
	ck_assert_msg((got) == (want), "case %d: got %s, want %s", (int)(i), \
	    result_name(got), result_name(want))

/* ------------------------------------------------------------------ */
/* Descriptor and init. */

START_TEST(test_descriptor)
{
	ck_assert_uint_eq(plug->abi, POP23D_PLUGIN_ABI);
	ck_assert_uint_eq(plug->api_built, POP23D_PLUGIN_API);
	ck_assert_uint_le(plug->api_min, POP23D_PLUGIN_API);
	ck_assert_int_eq(plug->kind, POP23D_PLUGIN_AUTH);
	ck_assert_str_eq(plug->name, "passwdfile");
	ck_assert_ptr_nonnull(plug->config_keys);
	ck_assert_str_eq(plug->config_keys[0], "path");
	ck_assert_ptr_null(plug->config_keys[1]);
	ck_assert_ptr_nonnull(plug->check_config);
	ck_assert_ptr_nonnull(plug->auth);
	ck_assert_ptr_null(plug->store);
	ck_assert_ptr_nonnull(plug->auth->verify_plain);
	ck_assert_ptr_nonnull(plug->auth->lookup);
	ck_assert_ptr_nonnull(plug->auth->verify_apop);
}
END_TEST

START_TEST(test_init_refused)
{
	pop23d_plugin_init_fn *init = auth_init;
	const struct pop23d_plugin *p = NULL;
	struct pop23d_host nozero = mock_host;

	ck_assert_int_eq(init(999, &mock_host, &p), -1);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI - 1, &mock_host, &p), -1);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, NULL, &p), -1);
	nozero.secure_zero = NULL;
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, &nozero, &p), -1);
	ck_assert_ptr_null(p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* verify_plain. */

static const struct {
	const char *user;
	const char *pass;
	enum pop23d_result want;
} plain_cases[] = {
	/* 0 */ { "plainu", "secret", POP23D_OK },
	{ "plainu", "Secret", POP23D_FAIL },
	{ "plainu", "secre", POP23D_FAIL },
	{ "plainu", "secret2", POP23D_FAIL },
	{ "plainu", "", POP23D_FAIL },
	/* 5 */ { "plainu", "{PLAIN}secret", POP23D_FAIL },
	{ "spaceu", "two words", POP23D_OK },
	{ "spaceu", "two", POP23D_FAIL },
	{ "sha512", "pw-sha512", POP23D_OK },
	{ "sha512", "pw-sha51", POP23D_FAIL },
	/* 10 */ { "sha512", "pw-bare6", POP23D_FAIL },
	{ "sha512", h_sha512, POP23D_FAIL },	/* the hash is no password */
	{ "bare6", "pw-bare6", POP23D_OK },
	{ "bare6", "pw-sha512", POP23D_FAIL },
	{ "ycrypt", "pw-yescrypt", POP23D_OK },
	/* 15 */ { "ycrypt", "pw-yescrypT", POP23D_FAIL },
	{ "bf", "pw-bcrypt", POP23D_OK },
	{ "bf", "pw-bcrypt ", POP23D_FAIL },
	{ "sha256", "pw-sha256", POP23D_OK },
	{ "sha256", "", POP23D_FAIL },
	/* 20 */ { "apopu", "tanstaaf", POP23D_OK },
	{ "crlf", "crlfpw", POP23D_OK },	/* CR of CRLF dropped */
	{ "crlf", "crlfpw\r", POP23D_FAIL },
	{ "last", "nonewline", POP23D_OK },
	{ "nosuch", "secret", POP23D_NOUSER },
	/* 25 */ { "", "secret", POP23D_NOUSER },
	{ "PLAINU", "secret", POP23D_NOUSER },	/* names are exact */
	{ "plainu ", "secret", POP23D_NOUSER },
	{ "# pop23d test users", "", POP23D_NOUSER },
	{ "plain", "secret", POP23D_NOUSER },
};

START_TEST(test_verify_plain)
{
	enum pop23d_result r;

	write_main_file();
	check_ok();
	r = plug->auth->verify_plain(plain_cases[_i].user,
	    plain_cases[_i].pass);
	ck_result(r, plain_cases[_i].want, _i);
}
END_TEST

/* Without check_config(): the file is read on first use. */
START_TEST(test_verify_lazy_load)
{
	write_main_file();
	ck_result(plug->auth->verify_plain("plainu", "secret"), POP23D_OK, 0);
	ck_result(plug->auth->verify_plain("bf", "pw-bcrypt"), POP23D_OK, 1);
}
END_TEST

/* Passwords of 512 bytes or more never match, even a {PLAIN} one. */
START_TEST(test_verify_long)
{
	char pw[700], *text;
	size_t i;

	for (i = 0; i < sizeof pw - 1; i++)
		pw[i] = 'a' + (char)(i % 26);
	pw[sizeof pw - 1] = '\0';
	/* A {PLAIN} secret of 511 bytes is allowed and works. */
	ck_assert_int_ge(asprintf(&text, "long:{PLAIN}%.511s\n"
	    "crypt:%s\n", pw, h_sha512), 0);
	write_pw(text);
	free(text);
	check_ok();
	pw[511] = '\0';
	ck_result(plug->auth->verify_plain("long", pw), POP23D_OK, 0);
	pw[511] = 'x';
	ck_result(plug->auth->verify_plain("long", pw), POP23D_FAIL, 1);
	ck_result(plug->auth->verify_plain("crypt", pw), POP23D_FAIL, 2);
	ck_result(plug->auth->verify_plain("nosuch", pw), POP23D_NOUSER, 3);
}
END_TEST

/* A file without crypt hashes still works (fixed dummy hash). */
START_TEST(test_verify_plain_only)
{
	write_pw("a:{PLAIN}x\n");
	check_ok();
	ck_result(plug->auth->verify_plain("a", "x"), POP23D_OK, 0);
	ck_result(plug->auth->verify_plain("a", "y"), POP23D_FAIL, 1);
	ck_result(plug->auth->verify_plain("b", "x"), POP23D_NOUSER, 2);
	write_pw("");
	check_ok();
	ck_result(plug->auth->verify_plain("a", "x"), POP23D_NOUSER, 3);
}
END_TEST

/* A hash that crypt(3) rejects (bcrypt cost 99; crypt_checksalt() lets
 * it pass): its user gets TEMPFAIL, the others still work, and the dummy
 * for unknown users falls back to a working hash. */
START_TEST(test_verify_bad_cost)
{
	char *text;

	ck_assert_int_ge(asprintf(&text,
	    "bad:$2b$99$zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n"
	    "good:%s\n", h_bcrypt), 0);
	write_pw(text);
	free(text);
	check_ok();
	ck_result(plug->auth->verify_plain("bad", "x"), POP23D_TEMPFAIL, 0);
	ck_result(plug->auth->verify_plain("good", "pw-bcrypt"), POP23D_OK, 1);
	ck_result(plug->auth->verify_plain("nosuch", "x"), POP23D_NOUSER, 2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* lookup. */

static const struct {
	const char *user;
	enum pop23d_result want;
	uid_t uid;
	gid_t gid;
	const char *home;
} lookup_cases[] = {
	/* 0 */ { "plainu", POP23D_OK, 1001, 1002, "/home/plainu" },
	{ "spaceu", POP23D_OK, 1001, 1002, "" },
	{ "sha512", POP23D_OK, 1003, 1004, "/home/sha512" },
	{ "bare6", POP23D_OK, (uid_t)-1, (gid_t)-1, "" },
	{ "ycrypt", POP23D_OK, (uid_t)-1, (gid_t)-1, "" },
	/* 5 */ { "bf", POP23D_OK, 1005, (gid_t)-1, "" },
	{ "sha256", POP23D_OK, 1006, 1007, "/srv/mail/sha256" },
	{ "crlf", POP23D_OK, 3001, 3001, "/home/crlf" },
	{ "last", POP23D_OK, 4001, 4001, "/home/last" },
	{ "nosuch", POP23D_NOUSER, (uid_t)-1, (gid_t)-1, "" },
};

START_TEST(test_lookup)
{
	struct pop23d_identity id;
	enum pop23d_result r;

	write_main_file();
	check_ok();
	memset(&id, 'x', sizeof id);	/* the plugin must set every field */
	r = plug->auth->lookup(lookup_cases[_i].user, &id);
	ck_result(r, lookup_cases[_i].want, _i);
	ck_assert_msg(id.uid == lookup_cases[_i].uid, "case %d: uid %ld",
	    _i, (long)id.uid);
	ck_assert_msg(id.gid == lookup_cases[_i].gid, "case %d: gid %ld",
	    _i, (long)id.gid);
	ck_assert_msg(memchr(id.home, '\0', sizeof id.home) != NULL &&
	    strcmp(id.home, lookup_cases[_i].home) == 0,
	    "case %d: home \"%.80s\"", _i, id.home);
	ck_assert_msg(id.maildrop[0] == '\0', "case %d: maildrop set", _i);
}
END_TEST

/* ------------------------------------------------------------------ */
/* APOP. */

static const struct {
	const char *user;
	const char *challenge;
	const char *digest;
	enum pop23d_result want;
} apop_cases[] = {
	/* 0: RFC 1939 section 7 example */
	{ "apopu", RFC_CHALLENGE, RFC_DIGEST, POP23D_OK },
	{ "apopu", RFC_CHALLENGE, "c4c9334bac560ecc979e58001b3e22fc",
	    POP23D_FAIL },
	{ "apopu", RFC_CHALLENGE, "C4C9334BAC560ECC979E58001B3E22FB",
	    POP23D_FAIL },
	{ "apopu", RFC_CHALLENGE, "c4c9334bac560ecc979e58001b3e22f",
	    POP23D_FAIL },
	{ "apopu", RFC_CHALLENGE, RFC_DIGEST "0", POP23D_FAIL },
	/* 5 */ { "apopu", RFC_CHALLENGE, "", POP23D_FAIL },
	{ "apopu", RFC_CHALLENGE, "g4c9334bac560ecc979e58001b3e22fb",
	    POP23D_FAIL },
	{ "apopu", RFC_CHALLENGE, " c4c9334bac560ecc979e58001b3e22f",
	    POP23D_FAIL },
	{ "apopu", APOP_CHALLENGE2, RFC_DIGEST, POP23D_FAIL },
	{ "apopu", "", RFC_DIGEST, POP23D_FAIL },
	/* 10 */ { "plainu", APOP_CHALLENGE2, apop_plainu, POP23D_OK },
	{ "plainu", RFC_CHALLENGE, apop_plainu, POP23D_FAIL },
	{ "sha512", APOP_CHALLENGE2, apop_sha512, POP23D_FAIL },
	{ "nosuch", RFC_CHALLENGE, RFC_DIGEST, POP23D_NOUSER },
	{ "APOPU", RFC_CHALLENGE, RFC_DIGEST, POP23D_NOUSER },
	/* 15 */ { "sha512", APOP_CHALLENGE2, apop_dummy, POP23D_FAIL },
	{ "nosuch", APOP_CHALLENGE2, apop_dummy, POP23D_NOUSER },
};

START_TEST(test_apop)
{
	enum pop23d_result r;

	write_main_file();
	check_ok();
	r = plug->auth->verify_apop(apop_cases[_i].user,
	    apop_cases[_i].challenge, apop_cases[_i].digest);
	ck_result(r, apop_cases[_i].want, _i);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Re-reading the file. */

START_TEST(test_reread)
{
	struct pop23d_identity id;
	time_t now;

	/* An old file is parsed once and then served from memory. */
	write_pw("u:{PLAIN}one:1:1::/one\n");
	set_mtime_ago(100);
	check_ok();
	ck_result(plug->auth->verify_plain("u", "one"), POP23D_OK, 0);

	/* Same inode, size and mtime: not read again. */
	write_pw("u:{PLAIN}two:1:1::/two\n");
	set_mtime_ago(100);
	ck_result(plug->auth->verify_plain("u", "one"), POP23D_OK, 1);
	ck_result(plug->auth->verify_plain("u", "two"), POP23D_FAIL, 2);

	/* A new mtime: read again, the old password is gone. */
	set_mtime_ago(50);
	ck_result(plug->auth->verify_plain("u", "two"), POP23D_OK, 3);
	ck_result(plug->auth->verify_plain("u", "one"), POP23D_FAIL, 4);
	ck_result(plug->auth->lookup("u", &id), POP23D_OK, 5);
	ck_assert_str_eq(id.home, "/two");

	/*
	 * Racy: an edit that keeps size, inode and the exact mtime is seen
	 * as long as the mtime is this second or the last (the timestamp
	 * tick may hold two writes).
	 */
	now = time(NULL);
	write_pw("u:{PLAIN}aaa:1:1::/aaa\n");
	set_mtime(now);
	ck_result(plug->auth->verify_plain("u", "aaa"), POP23D_OK, 100);
	write_pw("u:{PLAIN}bbb:1:1::/bbb\n");
	set_mtime(now);
	ck_result(plug->auth->verify_plain("u", "bbb"), POP23D_OK, 101);

	/* Edits in the same second (same size) are seen. */
	write_pw("u:{PLAIN}333:1:1::/333\n");
	ck_result(plug->auth->verify_plain("u", "333"), POP23D_OK, 6);
	write_pw("u:{PLAIN}444:1:1::/444\n");
	ck_result(plug->auth->verify_plain("u", "444"), POP23D_OK, 7);
	ck_result(plug->auth->verify_plain("v", "new"), POP23D_NOUSER, 8);

	/* A user added. */
	write_pw("u:{PLAIN}444:1:1::/444\nv:{PLAIN}new:2:2::/v\n");
	ck_result(plug->auth->verify_plain("v", "new"), POP23D_OK, 9);

	/* A malformed edit: TEMPFAIL for everyone, never stale data. */
	write_pw("u:{PLAIN}444:1:1::/444\nv:{SSHA}new:2:2::/v\n");
	ck_result(plug->auth->verify_plain("u", "444"), POP23D_TEMPFAIL, 10);
	ck_result(plug->auth->verify_plain("v", "new"), POP23D_TEMPFAIL, 11);
	ck_result(plug->auth->lookup("u", &id), POP23D_TEMPFAIL, 12);
	ck_result(plug->auth->verify_apop("u", RFC_CHALLENGE, RFC_DIGEST),
	    POP23D_TEMPFAIL, 13);

	/* Fixed again. */
	write_pw("u:{PLAIN}555:1:1::/555\n");
	ck_result(plug->auth->verify_plain("u", "555"), POP23D_OK, 14);

	/* Removed: TEMPFAIL (the file is unreadable, not the user). */
	ck_assert_int_eq(unlink(pw_path), 0);
	ck_result(plug->auth->verify_plain("u", "555"), POP23D_TEMPFAIL, 15);
	ck_result(plug->auth->lookup("u", &id), POP23D_TEMPFAIL, 16);
	write_pw("u:{PLAIN}666:1:1::/666\n");
	ck_result(plug->auth->verify_plain("u", "666"), POP23D_OK, 17);

	/* chmod o+w alone (no content change) is noticed and refused. */
	set_mtime_ago(100);
	ck_result(plug->auth->verify_plain("u", "666"), POP23D_OK, 18);
	ck_assert_int_eq(chmod(pw_path, 0602), 0);
	ck_result(plug->auth->verify_plain("u", "666"), POP23D_TEMPFAIL, 19);
	ck_assert_int_eq(chmod(pw_path, 0600), 0);
	ck_result(plug->auth->verify_plain("u", "666"), POP23D_OK, 20);
}
END_TEST

/* ------------------------------------------------------------------ */
/* check_config errors. */

static const struct {
	const char *text;	/* file contents */
	size_t len;		/* 0: strlen(text) */
	const char *want;	/* substring of the error */
} bad_cases[] = {
	/* 0 */ { "u:{PLAIN}a\nbroken line without colon\n", 0,
	    "line 2: no ':'" },
	{ "u:{SSHA}abc:1:1::/h\n", 0,
	    "line 1: unknown password scheme {SSHA}" },
	{ "u:{PLAIN}\n", 0, "line 1: empty password after {SCHEME}" },
	{ "u:\n", 0, "line 1: empty password field" },
	{ ":{PLAIN}x\n", 0, "line 1: empty user name" },
	/* 5 */ { "#c\nu:{PLAIN}x:abc\n", 0, "line 2: uid is not a decimal" },
	{ "u:{PLAIN}x:0:1\n", 0, "line 1: uid is 0" },
	{ "u:{PLAIN}x:1:4294967295\n", 0, "line 1: gid is too large" },
	{ "u:{PLAIN}x:-1:1\n", 0, "line 1: uid is not a decimal" },
	{ "u:{PLAIN}x:1:1::rel/home\n", 0, "line 1: home is not an absolute" },
	/* 10 */ { "u:{PLAIN}x:1:1::/h::userdb_mail=maildir\n", 0,
	    "line 1: extra fields (8th field) are not supported" },
	{ "u:{PLAIN}x:1:1::/h:::\n", 0, "line 1: more than 8 fields" },
	{ "u:$1$abcdefgh$0123456789012345678901\n", 0,
	    "line 1: unsupported crypt method" },
	{ "u:{SHA512-CRYPT}$5$abcdefgh$0123456789\n", 0,
	    "line 1: hash does not match its {SCHEME}" },
	{ "u:{PLAIN\n", 0, "line 1: unterminated {SCHEME}" },
	/* 15 */ { "u:plaintext\n", 0, "line 1: password has no {SCHEME}" },
	{ "u:{PLAIN}a\nv:{PLAIN}b\nu:{PLAIN}c\n", 0,
	    "line 3: duplicate user (also on line 1)" },
	{ "u:{PLAIN}a\0b\n", sizeof "u:{PLAIN}a\0b\n" - 1, "line 1: NUL byte" },
	{ "u:$6$bad!chars$xyz\n", 0, "line 1: bad character in crypt hash" },
	{ "a b:{PLAIN}x\n", 0, "line 1: blank or control character" },
	/* 20 */ { "u:{PLAIN}a\tb\n", 0,
	    "line 1: control character in password" },
	{ "u:{BLF-CRYPT}$6$abcdefgh$0123456789\n", 0,
	    "line 1: hash does not match" },
	{ "u:{PLAIN}x:1:1::/h\x01\n", 0, "line 1: control character in home" },
	{ "u:{PLAIN}x:1:1::/h::userdb_mail=maildir:~/M\n", 0,
	    "line 1: more than 8 fields (extra fields are not supported)" },
	/* 25 */ { "u:{PLAIN}x:1:1:gecos:/h:/bin/sh::\n", 0,
	    "line 1: more than 8 fields" },
	{ "u:$6$abcdefgh$0123456789:1:1\n#\nu2:{PLAIN}x:1:1::/h:/sh:\n"
	    "u3:$1$\n", 0, "line 4: unsupported crypt method" },
};

START_TEST(test_check_config_bad)
{
	const char *err = NULL;
	size_t len = bad_cases[_i].len;

	if (len == 0)
		len = strlen(bad_cases[_i].text);
	test_write_file(pw_path, bad_cases[_i].text, len);
	ck_assert_msg(plug->check_config(&err) == -1, "case %d: accepted", _i);
	ck_assert_msg(err != NULL && strstr(err, bad_cases[_i].want) != NULL,
	    "case %d: error \"%s\", want \"%s\"", _i,
	    err != NULL ? err : "(null)", bad_cases[_i].want);
	ck_assert_msg(strstr(err, pw_path) != NULL, "case %d: no path in %s",
	    _i, err);
}
END_TEST

/* A line may hold 4096 bytes including its LF; 4097 is too long. */
START_TEST(test_check_config_long_line)
{
	const char *err = NULL;
	char *text;
	size_t n;

	for (n = 4094; n <= 4096; n++) {
		/* "u:{PLAIN}" + secret + "::::/" padding to n bytes + LF */
		text = malloc(n + 2);
		ck_assert_ptr_nonnull(text);
		memcpy(text, "u:{PLAIN}x:1:1::/", 17);
		memset(text + 17, 'h', n - 17);
		text[n] = '\n';
		text[n + 1] = '\0';
		write_pw(text);
		free(text);
		err = NULL;
		if (n < 4096) {
			ck_assert_msg(plug->check_config(&err) == 0,
			    "n=%zu: %s", n, err != NULL ? err : "");
		} else {
			ck_assert_msg(plug->check_config(&err) == -1,
			    "n=%zu", n);
			ck_assert_msg(strstr(err, "line 1: line longer") !=
			    NULL, "n=%zu: %s", n, err);
		}
	}
}
END_TEST

START_TEST(test_check_config_file)
{
	const char *err = NULL;
	char dirpath[PATH_MAX];

	/* Unset, relative, missing, a directory, world-writable. */
	set_path(NULL);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not set"));
	set_path("");
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not set"));
	set_path("relative/passwd");
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not absolute"));

	set_path(pw_path);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);

	snprintf(dirpath, sizeof dirpath, "%s/", tdir);
	set_path(dirpath);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);

	/* StrictModes: writable by others or by the group, or owned by
	 * someone else, is refused, with the file named. */
	set_path(pw_path);
	write_pw("u:{PLAIN}x\n");
	ck_assert_int_eq(chmod(pw_path, 0666), 0);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_msg(strstr(err, pw_path) != NULL &&
	    strstr(err, "writable by others") != NULL, "%s", err);
	ck_assert_int_eq(chmod(pw_path, 0620), 0);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_msg(strstr(err, "writable by its group") != NULL, "%s",
	    err);
	ck_assert_int_eq(chmod(pw_path, 0600), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(pw_path, 65534, 65534), 0);
		ck_assert_int_eq(plug->check_config(&err), -1);
		ck_assert_msg(strstr(err, "owned by uid 65534") != NULL, "%s",
		    err);
		ck_assert_int_eq(chown(pw_path, 0, 0), 0);
	}
	/* ... and so is a directory above it that others may write. */
	ck_assert_int_eq(chmod(tdir, 0777), 0);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_msg(strstr(err, "the directory") != NULL &&
	    strstr(err, "writable by others") != NULL, "%s", err);
	ck_assert_int_eq(chmod(tdir, 0700), 0);

	/* Unreadable (root reads anything, so only as a user). */
	ck_assert_int_eq(chmod(pw_path, 0), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(plug->check_config(&err), -1);
		ck_assert_msg(strstr(err, "Permission denied") != NULL, "%s",
		    err);
	}
	ck_assert_int_eq(chmod(pw_path, 0640), 0);
	check_ok();

	/* Empty and comment-only files are valid (no users). */
	write_pw("");
	check_ok();
	write_pw("# nothing\n\n  # here\n");
	check_ok();
}
END_TEST

/* A failed check_config() (e.g. on SIGHUP) keeps the file in use. */
START_TEST(test_check_config_keeps_path)
{
	const char *err = NULL;
	char other[PATH_MAX];

	write_pw("u:{PLAIN}x\n");
	check_ok();
	snprintf(other, sizeof other, "%s/other", tdir);
	test_write_file(other, "bad line\n", 9);
	set_path(other);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_result(plug->auth->verify_plain("u", "x"), POP23D_OK, 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* example_auth.so */

START_TEST(test_example_plugin)
{
	pop23d_plugin_init_fn *init;
	void *h = mock_plugin_open("example_auth.so", &init);
	const struct pop23d_plugin *p = NULL;
	struct pop23d_identity id;

	ck_assert_int_eq(init(999, &mock_host, &p), -1);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, &mock_host, &p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->abi, POP23D_PLUGIN_ABI);
	ck_assert_int_eq(p->kind, POP23D_PLUGIN_AUTH);
	ck_assert_str_eq(p->name, "example");
	ck_assert_ptr_nonnull(p->config_keys);
	ck_assert_ptr_null(p->config_keys[0]);
	ck_assert_ptr_nonnull(p->auth);
	ck_result(p->auth->verify_plain("example", "example"), POP23D_OK, 0);
	ck_result(p->auth->verify_plain("example", "wrong"), POP23D_FAIL, 1);
	ck_result(p->auth->verify_plain("other", "example"), POP23D_NOUSER, 2);
	memset(&id, 'x', sizeof id);
	ck_result(p->auth->lookup("example", &id), POP23D_OK, 3);
	ck_assert(id.uid == (uid_t)-1 && id.gid == (gid_t)-1);
	ck_assert_str_eq(id.home, "");
	ck_assert_str_eq(id.maildrop, "");
	ck_result(p->auth->lookup("other", &id), POP23D_NOUSER, 4);
	dlclose(h);
}
END_TEST

#define NCASES(a) ((int)(sizeof (a) / sizeof (a)[0]))

Suite *
suite_plugins(void)
{
	Suite *s = suite_create("plugins");
	TCase *tc;

	tc = tcase_create("passwdfile");
	/* Hashes once in the parent; forked tests inherit them. */
	tcase_add_unchecked_fixture(tc, make_hashes, NULL);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_descriptor);
	tcase_add_test(tc, test_init_refused);
	tcase_add_loop_test(tc, test_verify_plain, 0, NCASES(plain_cases));
	tcase_add_test(tc, test_verify_lazy_load);
	tcase_add_test(tc, test_verify_long);
	tcase_add_test(tc, test_verify_plain_only);
	tcase_add_test(tc, test_verify_bad_cost);
	tcase_add_loop_test(tc, test_lookup, 0, NCASES(lookup_cases));
	tcase_add_loop_test(tc, test_apop, 0, NCASES(apop_cases));
	tcase_add_test(tc, test_reread);
	tcase_add_loop_test(tc, test_check_config_bad, 0, NCASES(bad_cases));
	tcase_add_test(tc, test_check_config_long_line);
	tcase_add_test(tc, test_check_config_file);
	tcase_add_test(tc, test_check_config_keeps_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("example");
	tcase_add_test(tc, test_example_plugin);
	suite_add_tcase(s, tc);
	return s;
}
