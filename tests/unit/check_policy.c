/*
 * check_policy.c - the pure parts of the RFC 2449 / RFC 6856 policy:
 * strict UTF-8 and the login-name rule, LANG range matching, the 8-bit
 * header scan (i18n.c), the index's LOGIN-DELAY record (codec and a real
 * GDBM file), and the EXPIRE age rule (maildrop.c).
 */
#include "config.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "i18n.h"
#include "index.h"
#include "maildrop.h"
#include "policy.h"
#include "suites.h"

/* ------------------------------------------------------------- UTF-8 */

static const struct {
	const char *s;
	int ok;
} utf8_cases[] = {
	{ "", 1 },
	{ "plain ascii", 1 },
	{ "j\xc3\xbcrgen", 1 },			/* U+00FC */
	{ "\xe2\x82\xac", 1 },			/* U+20AC */
	{ "\xf0\x9f\x98\x80", 1 },		/* U+1F600 */
	{ "\xf4\x8f\xbf\xbf", 1 },		/* U+10FFFF */
	{ "\xed\x9f\xbf", 1 },			/* U+D7FF */
	{ "\xee\x80\x80", 1 },			/* U+E000 */
	{ "\xc2\x80", 1 },			/* U+0080 (well-formed) */
	{ "j\xfcrgen", 0 },			/* Latin-1 */
	{ "\xc0\xaf", 0 },			/* overlong '/' */
	{ "\xc1\xbf", 0 },			/* overlong */
	{ "\xe0\x80\xaf", 0 },			/* overlong */
	{ "\xe0\x9f\xbf", 0 },			/* overlong U+07FF */
	{ "\xf0\x8f\xbf\xbf", 0 },		/* overlong U+FFFF */
	{ "\xed\xa0\x80", 0 },			/* U+D800 surrogate */
	{ "\xed\xbf\xbf", 0 },			/* U+DFFF surrogate */
	{ "\xf4\x90\x80\x80", 0 },		/* U+110000 */
	{ "\xf5\x80\x80\x80", 0 },
	{ "\xff", 0 },
	{ "\xfe", 0 },
	{ "\x80", 0 },				/* lone continuation */
	{ "a\xbf", 0 },
	{ "\xc3", 0 },				/* truncated */
	{ "\xe2\x82", 0 },
	{ "\xf0\x9f\x98", 0 },
	{ "\xc3\x28", 0 },			/* bad continuation */
	{ "\xe2\x28\xa1", 0 },
};

START_TEST(test_utf8_valid)
{
	const char *s = utf8_cases[_i].s;

	ck_assert_msg(i18n_utf8_valid(s, strlen(s)) == utf8_cases[_i].ok,
	    "case %d", _i);
}
END_TEST

START_TEST(test_utf8_len_bound)
{
	/* The length is obeyed: a sequence cut by LEN is truncated. */
	ck_assert_int_eq(i18n_utf8_valid("\xc3\xbc", 1), 0);
	ck_assert_int_eq(i18n_utf8_valid("\xc3\xbc", 2), 1);
	ck_assert_int_eq(i18n_utf8_valid("ab\xff", 2), 1);
}
END_TEST

static const struct {
	const char *s;
	int ascii, utf8;
} name_cases[] = {
	{ "alice", 1, 1 },
	{ "a.b-c_d@example.org", 1, 1 },
	{ "~!#$%^&*()", 1, 1 },
	{ "", 0, 0 },
	{ "a b", 0, 0 },
	{ "a\tb", 0, 0 },
	{ "a\x7f", 0, 0 },
	{ "a\x01", 0, 0 },
	{ "j\xc3\xbcrgen", 0, 1 },
	{ "\xe6\x97\xa5\xe6\x9c\xac", 0, 1 },
	{ "j\xfcrgen", 0, 0 },
	{ "a\xc2\x85", 0, 0 },			/* C1: NEL */
	{ "\xc2\x80", 0, 0 },			/* C1 */
	{ "\xc2\x9f", 0, 0 },			/* C1 */
	{ "\xc2\xa0", 0, 1 },			/* U+00A0: not C1 */
	{ "\xc0\xaf", 0, 0 },
};

START_TEST(test_name_ok)
{
	ck_assert_msg(i18n_name_ok(name_cases[_i].s, 0) ==
	    name_cases[_i].ascii, "ascii case %d", _i);
	ck_assert_msg(i18n_name_ok(name_cases[_i].s, 1) ==
	    name_cases[_i].utf8, "utf8 case %d", _i);
}
END_TEST

START_TEST(test_name_null)
{
	ck_assert_int_eq(i18n_name_ok(NULL, 1), 0);
}
END_TEST

/* -------------------------------------------------------------- LANG */

static const struct {
	const char *range;
	const char *tag;	/* NULL: refused */
} lang_cases[] = {
	{ "en", "en" },
	{ "EN", "en" },
	{ "eN", "en" },
	{ "*", "en" },
	{ "en-US", NULL },	/* basic filtering: a longer range does not
				 * match a shorter tag */
	{ "de", NULL },
	{ "e", NULL },
	{ "english", NULL },
	{ "en-", NULL },
	{ "-en", NULL },
	{ "en--us", NULL },
	{ "1en", NULL },
	{ "en-123456789", NULL },
	{ "abcdefghi", NULL },
	{ "**", NULL },
	{ "en*", NULL },
	{ "", NULL },
	{ "i-default", NULL },
	{ "en us", NULL },
};

START_TEST(test_lang_select)
{
	const struct i18n_lang *l = i18n_lang_select(lang_cases[_i].range);

	if (lang_cases[_i].tag == NULL)
		ck_assert_msg(l == NULL, "range \"%s\" selected %s",
		    lang_cases[_i].range, l != NULL ? l->tag : "");
	else {
		ck_assert_msg(l != NULL, "range \"%s\" refused",
		    lang_cases[_i].range);
		ck_assert_str_eq(l->tag, lang_cases[_i].tag);
	}
}
END_TEST

START_TEST(test_lang_table)
{
	ck_assert_ptr_null(i18n_lang_select(NULL));
	ck_assert_str_eq(i18n_langs[0].tag, "en");
	ck_assert_ptr_nonnull(i18n_langs[0].name);
	ck_assert_ptr_null(i18n_langs[1].tag);
}
END_TEST

/* ----------------------------------------------------- header scan */

static const struct {
	const char *msg;
	int eight;
} hdr_cases[] = {
	{ "Subject: plain\n\nbody\n", 0 },
	{ "Subject: plain\n\ncaf\xc3\xa9\n", 0 },
	{ "Subject: plain\r\n\r\ncaf\xc3\xa9\r\n", 0 },
	{ "Subject: caf\xc3\xa9\n\nbody\n", 1 },
	{ "Subject: x\nFrom: \xc3\xa9@x\n\nbody\n", 1 },
	{ "Subject: x\r\nX: \xe9\r\n\r\n", 1 },
	{ "\nX: \xe9\n", 0 },			/* empty header */
	{ "\r\n\xe9", 0 },
	{ "Subject: no body at all \xe9", 1 },	/* all header */
	{ "Subject: no end\n", 0 },
	{ "", 0 },
	{ "A: b\n\r\rC: \xe9\n\n", 1 },		/* "\r\r" is no empty line */
	{ "A: b\n \n\xe9\n\n", 1 },		/* " " line: not empty */
};

START_TEST(test_header_8bit)
{
	char *dir = test_tmpdir(), path[4096];
	const char *m = hdr_cases[_i].msg;
	int fd, has = -1;

	snprintf(path, sizeof path, "%s/msg", dir);
	/* at an offset, as a range of a bigger file */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "\xff\xff\xff", 3), 3);
	ck_assert_int_eq(write(fd, m, strlen(m)), (ssize_t)strlen(m));
	ck_assert_int_eq(write(fd, "\xff", 1), 1);
	ck_assert_int_eq(i18n_header_8bit(fd, 3, (off_t)strlen(m), &has), 0);
	ck_assert_msg(has == hdr_cases[_i].eight, "case %d: %d", _i, has);
	close(fd);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_header_8bit_long_and_errors)
{
	char *dir = test_tmpdir(), path[4096];
	static char big[40000];
	int fd, has = -1;

	snprintf(path, sizeof path, "%s/msg", dir);
	/* a header longer than one read chunk, the 8-bit octet at its end */
	memset(big, 'a', sizeof big);
	for (size_t i = 79; i < sizeof big; i += 80)
		big[i] = '\n';
	big[sizeof big - 3] = (char)0xe9;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, big, sizeof big), (ssize_t)sizeof big);
	ck_assert_int_eq(i18n_header_8bit(fd, 0, sizeof big, &has), 0);
	ck_assert_int_eq(has, 1);
	/* a length past the end of the file is a read error (no 8-bit
	 * octet and no empty line to stop the scan before it) */
	big[sizeof big - 3] = 'a';
	ck_assert_int_eq(pwrite(fd, big, sizeof big, 0), (ssize_t)sizeof big);
	ck_assert_int_eq(i18n_header_8bit(fd, 0, sizeof big, &has), 0);
	ck_assert_int_eq(has, 0);
	ck_assert_int_eq(i18n_header_8bit(fd, 0, sizeof big + 10, &has), -1);
	close(fd);
	ck_assert_int_eq(i18n_header_8bit(-1, 0, 10, &has), -1);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------- LOGIN-DELAY record */

START_TEST(test_login_codec)
{
	static const int64_t times[] = { 0, 1, 1700000000, INT64_MAX };
	unsigned char buf[INDEX_LOGIN_LEN], bad[INDEX_LOGIN_LEN];
	int64_t t;
	size_t i, bit;

	for (i = 0; i < sizeof times / sizeof times[0]; i++) {
		ck_assert_uint_eq(index_login_encode(times[i], buf),
		    INDEX_LOGIN_LEN);
		ck_assert_int_eq(index_login_decode(buf, sizeof buf, &t), 0);
		ck_assert(t == times[i]);
		/* every single-bit error is caught */
		for (bit = 0; bit < 8 * sizeof buf; bit++) {
			memcpy(bad, buf, sizeof bad);
			bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			ck_assert_int_eq(index_login_decode(bad, sizeof bad,
			    &t), -1);
		}
		ck_assert_int_eq(index_login_decode(buf, sizeof buf - 1, &t),
		    -1);
		ck_assert_int_eq(index_login_decode(buf, sizeof buf + 1, &t),
		    -1);
	}
	ck_assert_uint_eq(index_login_encode(-1, buf), 0);
	ck_assert_uint_eq(index_login_encode(1, NULL), 0);
	ck_assert_int_eq(index_login_decode(NULL, INDEX_LOGIN_LEN, &t), -1);
	/* golden: version 1, flags 0, time 1700000000 */
	ck_assert_uint_eq(index_login_encode(1700000000, buf),
	    INDEX_LOGIN_LEN);
	ck_assert_int_eq(buf[0], 1);
	ck_assert_int_eq(buf[1], 0);
	ck_assert_int_eq(buf[6], 0x65);
	ck_assert_int_eq(buf[7], 0x53);
	ck_assert_int_eq(buf[8], 0xf1);
	ck_assert_int_eq(buf[9], 0x00);
}
END_TEST

START_TEST(test_login_record_in_file)
{
	char *dir = test_tmpdir(), path[4096];
	struct index *idx = NULL;
	struct index_rec rec;
	const char *err = NULL;
	int rebuilt = 0;
	int64_t t = -1;

	snprintf(path, sizeof path, "%s/%s", dir, INDEX_FILE);
	ck_assert_int_eq(index_login_get(NULL, &t), -1);
	ck_assert_int_eq(index_login_put(NULL, 5), -1);
	ck_assert_int_eq(index_open(path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_login_get(idx, &t), 0);
	ck_assert_int_eq(index_login_put(idx, -5), -1);
	ck_assert_int_eq(index_login_put(idx, 1700000000), 0);
	ck_assert_int_eq(index_login_get(idx, &t), 1);
	ck_assert(t == 1700000000);
	/* not a message record: not counted, never pruned */
	memset(&rec, 0, sizeof rec);
	rec.size = rec.raw_size = 10;
	ck_assert_int_eq(index_store(idx, "k", &rec), 0);
	ck_assert_int_eq(index_count(idx), 1);
	ck_assert_int_eq(index_prune(idx, NULL, NULL), -1);
	index_close(&idx);
	/* it survives a reopen (the walk at open accepts it) */
	ck_assert_int_eq(index_open(path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_login_get(idx, &t), 1);
	ck_assert(t == 1700000000);
	ck_assert_int_eq(index_login_put(idx, 1700000100), 0);
	ck_assert_int_eq(index_login_get(idx, &t), 1);
	ck_assert(t == 1700000100);
	index_close(&idx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static int
keep_none(void *ctx, const char *key)
{
	(void)ctx;
	(void)key;
	return 0;
}

START_TEST(test_login_record_survives_prune)
{
	char *dir = test_tmpdir(), path[4096];
	struct index *idx = NULL;
	struct index_rec rec;
	const char *err = NULL;
	int rebuilt = 0;
	int64_t t = -1;

	snprintf(path, sizeof path, "%s/%s", dir, INDEX_FILE);
	ck_assert_int_eq(index_open(path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_login_put(idx, 42), 0);
	memset(&rec, 0, sizeof rec);
	rec.size = rec.raw_size = 10;
	ck_assert_int_eq(index_store(idx, "a", &rec), 0);
	ck_assert_int_eq(index_store(idx, "b", &rec), 0);
	ck_assert_int_eq(index_prune(idx, keep_none, NULL), 2);
	ck_assert_int_eq(index_login_get(idx, &t), 1);
	ck_assert(t == 42);
	index_close(&idx);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* -------------------------------------------------------------- EXPIRE */

START_TEST(test_expired)
{
	const int64_t now = 1700000000, day = 86400;

	ck_assert_int_eq(maildrop_expired(now - 1000 * day, now, -1), 0);
	ck_assert_int_eq(maildrop_expired(now, now, 0), 1);
	ck_assert_int_eq(maildrop_expired(now + 100, now, 0), 1);
	ck_assert_int_eq(maildrop_expired(now - 5 * day, now, 5), 1);
	ck_assert_int_eq(maildrop_expired(now - 5 * day + 1, now, 5), 0);
	ck_assert_int_eq(maildrop_expired(now - 6 * day, now, 5), 1);
	ck_assert_int_eq(maildrop_expired(now + day, now, 5), 0);
	ck_assert_int_eq(maildrop_expired(0, now, 36500), 0);
	ck_assert_int_eq(maildrop_expired(now - 36500 * day, now, 36500), 1);
}
END_TEST

/* ------------------------------------------------------ pop23d.conf */

static int
load_conf(const char *dir, const char *text, struct config *cfg,
    const char **error_r)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/p.conf", dir);
	test_write_file(path, text, strlen(text));
	*error_r = "";
	return config_load(path, cfg, error_r);
}

START_TEST(test_conf_policy)
{
	char *dir = test_tmpdir();
	struct config cfg;
	const char *err;

	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n", &cfg,
	    &err) == 0, "%s", err);
	ck_assert_int_eq(cfg.login_delay, 0);
	ck_assert_int_eq(cfg.expire_days, -1);
	ck_assert_int_eq(cfg.utf8_user, 1);
	ck_assert_int_eq(cfg.send_8bit_headers, 0);
	config_free(&cfg);
	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "login_delay = 900\nexpire = 30\nutf8_user = no\n"
	    "legacy_8bit_headers = send\n", &cfg, &err) == 0, "%s", err);
	ck_assert_int_eq(cfg.login_delay, 900);
	ck_assert_int_eq(cfg.expire_days, 30);
	ck_assert_int_eq(cfg.utf8_user, 0);
	ck_assert_int_eq(cfg.send_8bit_headers, 1);
	config_free(&cfg);
	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "expire = 0\nlegacy_8bit_headers = refuse\nexpire = NEVER\n",
	    &cfg, &err) == 0, "%s", err);
	ck_assert_int_eq(cfg.expire_days, -1);
	ck_assert_int_eq(cfg.send_8bit_headers, 0);
	config_free(&cfg);
	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "expire = 0\n", &cfg, &err) == 0, "%s", err);
	ck_assert_int_eq(cfg.expire_days, 0);
	config_free(&cfg);
	test_rmtree(dir);
	free(dir);
}
END_TEST

static const struct {
	const char *text;
	const char *want;
} conf_bad[] = {
	{ "login_delay = -1\n", ":2: login_delay" },
	{ "login_delay = 86401\n", ":2: login_delay" },
	{ "login_delay = soon\n", ":2: login_delay" },
	{ "expire = -1\n", ":2: expire" },
	{ "expire = 36501\n", ":2: expire" },
	{ "expire = always\n", ":2: expire" },
	{ "expire = 5 USER\n", ":2: expire" },
	{ "utf8_user = maybe\n", ":2: utf8_user" },
	{ "legacy_8bit_headers = drop\n", ":2: legacy_8bit_headers" },
};

START_TEST(test_conf_policy_bad)
{
	char *dir = test_tmpdir(), text[256];
	struct config cfg;
	const char *err;

	snprintf(text, sizeof text, "listen = pop3 127.0.0.1:1\n%s",
	    conf_bad[_i].text);
	ck_assert_msg(load_conf(dir, text, &cfg, &err) == -1,
	    "case %d accepted", _i);
	ck_assert_msg(strstr(err, conf_bad[_i].want) != NULL,
	    "case %d: \"%s\" lacks \"%s\"", _i, err, conf_bad[_i].want);
	test_rmtree(dir);
	free(dir);
}
END_TEST

/* ------------------------------------------------------ user_policy */

static const struct {
	const char *line;
	int ok;
	const char *user;
	int delay, expire;
} up_cases[] = {
	{ "alice login_delay=900", 1, "alice", 900, POLICY_EXPIRE_UNSET },
	{ "alice expire=30", 1, "alice", POLICY_DELAY_UNSET, 30 },
	{ "alice expire=never", 1, "alice", POLICY_DELAY_UNSET,
	    POLICY_NEVER },
	{ "alice expire=NEVER login_delay=0", 1, "alice", 0, POLICY_NEVER },
	{ "j\xc3\xbcrgen expire=0", 1, "j\xc3\xbcrgen", POLICY_DELAY_UNSET,
	    0 },
	{ "alice", 0, NULL, 0, 0 },
	{ "alice ", 0, NULL, 0, 0 },
	{ "", 0, NULL, 0, 0 },
	{ " login_delay=5", 0, NULL, 0, 0 },
	{ "alice login_delay=5 login_delay=6", 0, NULL, 0, 0 },
	{ "alice login_delay=-1", 0, NULL, 0, 0 },
	{ "alice login_delay=86401", 0, NULL, 0, 0 },
	{ "alice login_delay=05", 0, NULL, 0, 0 },
	{ "alice login_delay=", 0, NULL, 0, 0 },
	{ "alice expire=36501", 0, NULL, 0, 0 },
	{ "alice expire=soon", 0, NULL, 0, 0 },
	{ "alice  expire=5", 0, NULL, 0, 0 },
	{ "alice expire=5 ", 0, NULL, 0, 0 },
	{ "alice quota=5", 0, NULL, 0, 0 },
	{ "j\xfcrgen expire=5", 0, NULL, 0, 0 },
};

START_TEST(test_user_policy_parse)
{
	struct user_policy up;
	const char *why = NULL;
	int r = config_parse_user_policy(up_cases[_i].line, &up, &why);

	if (!up_cases[_i].ok) {
		ck_assert_msg(r == -1, "case %d accepted", _i);
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_msg(r == 0, "case %d: %s", _i, why);
	ck_assert_str_eq(up.user, up_cases[_i].user);
	ck_assert_int_eq(up.login_delay, up_cases[_i].delay);
	ck_assert_int_eq(up.expire_days, up_cases[_i].expire);
}
END_TEST

START_TEST(test_user_policy_lookup_and_capa)
{
	char *dir = test_tmpdir();
	struct config cfg;
	const char *err;
	int d, e, du, eu;

	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "login_delay = 60\nexpire = 30\n"
	    "user_policy = alice login_delay=900\n"
	    "user_policy = bob expire=7\n"
	    "user_policy = carol expire=never login_delay=0\n"
	    "user_policy = bob expire=3\n", &cfg, &err) == 0, "%s", err);
	ck_assert_uint_eq(cfg.n_user_policies, 4);
	policy_for_user(&cfg, "alice", &d, &e);
	ck_assert_int_eq(d, 900);
	ck_assert_int_eq(e, 30);
	policy_for_user(&cfg, "bob", &d, &e);	/* the last line wins */
	ck_assert_int_eq(d, 60);
	ck_assert_int_eq(e, 3);
	policy_for_user(&cfg, "carol", &d, &e);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(e, POLICY_NEVER);
	policy_for_user(&cfg, "dave", &d, &e);
	ck_assert_int_eq(d, 60);
	ck_assert_int_eq(e, 30);
	policy_for_user(&cfg, NULL, &d, &e);
	ck_assert_int_eq(d, 60);
	/* before login: the largest delay, the shortest retention */
	policy_capa_preauth(&cfg, &d, &du, &e, &eu);
	ck_assert_int_eq(d, 900);
	ck_assert_int_eq(du, 1);
	ck_assert_int_eq(e, 3);
	ck_assert_int_eq(eu, 1);
	config_free(&cfg);
	ck_assert_uint_eq(cfg.n_user_policies, 0);

	/* no user differs: no USER token; NEVER is the longest */
	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "login_delay = 60\n"
	    "user_policy = alice login_delay=60 expire=never\n",
	    &cfg, &err) == 0, "%s", err);
	policy_capa_preauth(&cfg, &d, &du, &e, &eu);
	ck_assert_int_eq(d, 60);
	ck_assert_int_eq(du, 0);
	ck_assert_int_eq(e, POLICY_NEVER);
	ck_assert_int_eq(eu, 0);
	config_free(&cfg);

	/* a user with a retention next to a server that never expires */
	ck_assert_msg(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "user_policy = alice expire=10\n", &cfg, &err) == 0, "%s", err);
	policy_capa_preauth(&cfg, &d, &du, &e, &eu);
	ck_assert_int_eq(e, 10);
	ck_assert_int_eq(eu, 1);
	ck_assert_int_eq(d, 0);
	ck_assert_int_eq(du, 0);
	config_free(&cfg);

	ck_assert_int_eq(load_conf(dir, "listen = pop3 127.0.0.1:1\n"
	    "user_policy = alice\n", &cfg, &err), -1);
	ck_assert_msg(strstr(err, ":2: user_policy") != NULL, "%s", err);
	test_rmtree(dir);
	free(dir);
}
END_TEST

Suite *
suite_policy(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("i18n");
	tcase_add_loop_test(tc, test_utf8_valid, 0,
	    (int)(sizeof utf8_cases / sizeof utf8_cases[0]));
	tcase_add_test(tc, test_utf8_len_bound);
	tcase_add_loop_test(tc, test_name_ok, 0,
	    (int)(sizeof name_cases / sizeof name_cases[0]));
	tcase_add_test(tc, test_name_null);
	tcase_add_loop_test(tc, test_lang_select, 0,
	    (int)(sizeof lang_cases / sizeof lang_cases[0]));
	tcase_add_test(tc, test_lang_table);
	tcase_add_loop_test(tc, test_header_8bit, 0,
	    (int)(sizeof hdr_cases / sizeof hdr_cases[0]));
	tcase_add_test(tc, test_header_8bit_long_and_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("login-delay");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_login_codec);
	tcase_add_test(tc, test_login_record_in_file);
	tcase_add_test(tc, test_login_record_survives_prune);
	suite_add_tcase(s, tc);

	tc = tcase_create("expire");
	tcase_add_test(tc, test_expired);
	suite_add_tcase(s, tc);

	tc = tcase_create("conf");
	tcase_add_test(tc, test_conf_policy);
	tcase_add_loop_test(tc, test_user_policy_parse, 0,
	    (int)(sizeof up_cases / sizeof up_cases[0]));
	tcase_add_test(tc, test_user_policy_lookup_and_capa);
	tcase_add_loop_test(tc, test_conf_policy_bad, 0,
	    (int)(sizeof conf_bad / sizeof conf_bad[0]));
	suite_add_tcase(s, tc);
	return s;
}
