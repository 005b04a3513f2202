/*
 * check_conf.c - pop23d.conf parsing: every key, bad values and unknown
 * keys reported as FILE:LINE.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "client.h"
#include "conf.h"
#include "login.h"
#include "suites.h"

static char *dir;

static int
load(const char *text, struct config *cfg, const char **error_r)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/test.conf", dir);
	test_write_file(path, text, strlen(text));
	*error_r = "";
	return config_load(path, cfg, error_r);
}

static void
setup(void)
{
	dir = test_tmpdir();
}

static void
teardown(void)
{
	test_rmtree(dir);
	free(dir);
}

START_TEST(test_defaults_and_values)
{
	struct config cfg;
	const char *err;

	ck_assert_msg(load("listen = pop3 127.0.0.1:1110\n"
	    "listen = pop2 [::1]:1109\n"
	    "listen = pop3 *:0\n"
	    "# comment\n; comment\n"
	    "hostname = mail.example.org\n"
	    "apop = yes\nlast = no\n"
	    "timeout_pop3 = 900\n"
	    "auth_failure_delay = 0\n"
	    "syslog_facility = local3\n"
	    "max_per_ip_ipv4_prefix = 24\n"
	    "mail_location = /var/mail/%u\n"
	    "[passwdfile]\npath = /etc/x\n", &cfg, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(cfg.n_listeners, 3);
	ck_assert_int_eq(cfg.listeners[0].proto, PROTO_POP3);
	ck_assert_str_eq(cfg.listeners[0].host, "127.0.0.1");
	ck_assert_str_eq(cfg.listeners[0].port, "1110");
	ck_assert_int_eq(cfg.listeners[1].proto, PROTO_POP2);
	ck_assert_str_eq(cfg.listeners[1].host, "::1");
	ck_assert_int_eq(cfg.listeners[1].line, 2);
	ck_assert_str_eq(cfg.listeners[2].host, "*");
	ck_assert_str_eq(cfg.listeners[2].port, "0");
	ck_assert_str_eq(cfg.hostname, "mail.example.org");
	ck_assert_int_eq(cfg.apop, 1);
	ck_assert_int_eq(cfg.last, 0);
	ck_assert_int_eq(cfg.timeout_pop3, 900);
	ck_assert_int_eq(cfg.auth_failure_delay_ms, 0);
	ck_assert_int_eq(cfg.syslog_facility, LOG_LOCAL3);
	ck_assert_int_eq(cfg.timeout_pop2, DEF_POP2_TIMEOUT);
	ck_assert_int_eq(cfg.per_ip_prefix4, 24);
	ck_assert_int_eq(cfg.per_ip_prefix6, DEF_PER_IP_PREFIX6);
	ck_assert_str_eq(cfg.auth_plugin, "passwdfile");
	ck_assert_str_eq(config_plugin_get(&cfg, "passwdfile", "path"),
	    "/etc/x");
	ck_assert_ptr_null(config_plugin_get(&cfg, "passwdfile", "nope"));
	config_free(&cfg);
}
END_TEST

START_TEST(test_auth_workers)
{
	static const struct {
		const char *value;
		int want;
	} v[] = { { "auto", 0 }, { "AUTO", 0 }, { "0", 0 }, { "1", 1 },
	    { "256", 256 } };
	struct config cfg;
	const char *err;
	char text[128];
	size_t i;

	ck_assert_int_eq(load("listen = pop3 127.0.0.1:1\n", &cfg, &err), 0);
	ck_assert_int_eq(cfg.auth_workers, 0);		/* auto */
	config_free(&cfg);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(text, sizeof text, "listen = pop3 127.0.0.1:1\n"
		    "auth_workers = %s\n", v[i].value);
		ck_assert_msg(load(text, &cfg, &err) == 0, "%s", err);
		ck_assert_int_eq(cfg.auth_workers, v[i].want);
		config_free(&cfg);
	}
}
END_TEST

static const struct {
	const char *text;
	const char *want;	/* substring of the error */
} bad[] = {
	{ "listen = pop3 127.0.0.1:1\nbogus = 1\n", "test.conf:2: unknown key \"bogus\"" },
	{ "listen = pop3 127.0.0.1:1\nauth_workers = 257\n", "test.conf:2: auth_workers" },
	{ "listen = pop3 127.0.0.1:1\nauth_workers = -1\n", "test.conf:2: auth_workers" },
	{ "listen = pop3 127.0.0.1:1\nauth_workers = some\n", "test.conf:2: auth_workers" },
	{ "listen = pop3 127.0.0.1:1\ntimeout_pop3 = abc\n", "test.conf:2: timeout_pop3" },
	/* RFC 1939 section 3: autologout at least 10 minutes */
	{ "listen = pop3 127.0.0.1:1\n\ntimeout_pop3 = 599\n", "test.conf:3: timeout_pop3" },
	{ "listen = pop3 127.0.0.1:1\ntimeout_pop3 = 600x\n", ":2:" },
	{ "listen = pop4 127.0.0.1:1\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1\n", "test.conf:1: listen" },
	{ "listen = pop3 ::1:110\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:65536\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1\napop = maybe\n", "test.conf:2: apop" },
	{ "listen = pop3 127.0.0.1:1\nauth = ../evil\n", "test.conf:2: auth" },
	{ "listen = pop3 127.0.0.1:1\nsyslog_facility = kern\n", "test.conf:2: syslog_facility" },
	{ "listen = pop3 127.0.0.1:1\nvirtual_uid = no-such-user-p23\n", "test.conf:2: virtual_uid" },
	{ "listen = pop3 127.0.0.1:1\nhostname = a b\n", "test.conf:2: hostname" },
	{ "listen = pop3 127.0.0.1:1\nthis line has no equals sign\n", "test.conf:2:" },
	{ "hostname = x\n", "no \"listen\" line" },
	{ "listen = pop3 127.0.0.1:1\nmax_sessions = 0\n", "test.conf:2: max_sessions" },
	{ "listen = pop3 127.0.0.1:1\nmax_per_ip_ipv4_prefix = 33\n", "test.conf:2: max_per_ip_ipv4_prefix" },
	{ "listen = pop3 127.0.0.1:1\nmax_per_ip_ipv6_prefix = 129\n", "test.conf:2: max_per_ip_ipv6_prefix" },
	/* PROXY protocol listeners */
	{ "listen = pop3 127.0.0.1:1 proxy\n", "test.conf:1: listen ... proxy: no proxy_trusted" },
	{ "listen = pop3 127.0.0.1:1 proxi\nproxy_trusted = ::1\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1x proxy\nproxy_trusted = ::1\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1\nproxy_trusted = 10.0.0.0/33\n", "test.conf:2: proxy_trusted: not a network: 10.0.0.0/33" },
	{ "listen = pop3 127.0.0.1:1\nproxy_trusted = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", "test.conf:2: proxy_trusted" },
	{ "listen = pop3 127.0.0.1:1\nproxy_trusted = 10.0.0.1,,host.example\n", "test.conf:2: proxy_trusted: not a network: host.example" },
	/* TLS */
	{ "listen = pop3 127.0.0.1:1 tls=maybe\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1 tls=\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1 tls=optional tls=none\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1 proxy=yes\n", "test.conf:1: listen" },
	{ "listen = pop3s 127.0.0.1:1 tls=optional\n", "test.conf:1: listen" },
	{ "listen = pop3x 127.0.0.1:1\n", "test.conf:1: listen" },
	{ "listen = pop3 127.0.0.1:1\ntls = sometimes\n", "test.conf:2: tls" },
	{ "listen = pop3 127.0.0.1:1\nplaintext_auth = maybe\n", "test.conf:2: plaintext_auth" },
	{ "listen = pop3 127.0.0.1:1\ntls_ticket_rotate = 0\n", "test.conf:2: tls_ticket_rotate" },
	{ "listen = pop3 127.0.0.1:1\ntls_ticket_rotate = 302401\n", "test.conf:2: tls_ticket_rotate" },
	{ "listen = pop3s 127.0.0.1:1\n", "test.conf:1: tls=implicit needs tls_cert" },
	{ "listen = pop3 127.0.0.1:1\ntls = required\n", "test.conf:1: tls=required needs tls_cert" },
	{ "listen = pop3 127.0.0.1:1\ntls_cert = /c\n", "tls_cert and tls_key go together" },
	{ "listen = pop3 127.0.0.1:1\ntls_client_ca = /c\n", "need tls_cert" },
	{ "tls_cert = /c\ntls_key = /k\nlisten = pop2 127.0.0.1:1 tls=optional\n", "test.conf:3: POP2 has no STLS" },
	{ "tls_cert = /c\ntls_key = /k\nlisten = pop2 127.0.0.1:1 tls=required\n", "test.conf:3: POP2 has no STLS" },
};

START_TEST(test_proxy_listener)
{
	struct config cfg;
	struct addr a;
	int bits;
	const char *err;

	ck_assert_msg(load("listen = pop3 127.0.0.1:1110   proxy\n"
	    "listen = pop3 127.0.0.1:1111\n"
	    "proxy_trusted = 10.0.0.0/8, 192.0.2.1\n"
	    "proxy_trusted = 2001:db8::/32\n", &cfg, &err) == 0, "%s", err);
	ck_assert_int_eq(cfg.listeners[0].proxy, 1);
	ck_assert_str_eq(cfg.listeners[0].port, "1110");
	ck_assert_int_eq(cfg.listeners[1].proxy, 0);
	ck_assert_uint_eq(cfg.n_proxy_nets, 3);
	ck_assert_int_eq(addr_parse_net("10.200.0.9", &a, &bits), 0);
	ck_assert_int_eq(config_proxy_trusted(&cfg, &a), 1);
	ck_assert_int_eq(addr_parse_net("192.0.2.2", &a, &bits), 0);
	ck_assert_int_eq(config_proxy_trusted(&cfg, &a), 0);
	ck_assert_int_eq(addr_parse_net("2001:db8:1::1", &a, &bits), 0);
	ck_assert_int_eq(config_proxy_trusted(&cfg, &a), 1);
	config_free(&cfg);
}
END_TEST

/* Listener TLS modes, the "tls" default and plaintext_auth. */
START_TEST(test_tls_modes)
{
	struct config cfg;
	const char *err;

	ck_assert_msg(load("listen = pop3 127.0.0.1:110\n"
	    "listen = pop2 127.0.0.1:109\n", &cfg, &err) == 0, "%s", err);
	/* no certificate: no TLS anywhere; loopback may log in plain */
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[0]),
	    TLS_MODE_NONE);
	ck_assert_int_eq(cfg.plaintext_auth, PLAINTEXT_LOOPBACK);
	ck_assert_int_eq(cfg.tls_ticket_rotate, 3600);
	config_free(&cfg);

	ck_assert_msg(load("tls_cert = /etc/c.pem\ntls_key = /etc/k.pem\n"
	    "listen = pop3 127.0.0.1:110\n"
	    "listen = pop3 127.0.0.1:111 tls=required\n"
	    "listen = POP3S [::1]:995\n"
	    "listen = pop2 127.0.0.1:109\n"
	    "listen = pop2s 127.0.0.1:1109\n"
	    "listen = pop3   127.0.0.1:112   tls=NONE  \n"
	    "plaintext_auth = no\ntls_ticket_rotate = 60\n", &cfg,
	    &err) == 0, "%s", err);
	ck_assert_uint_eq(cfg.n_listeners, 6);
	/* a certificate makes STLS optional by default */
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[0]),
	    TLS_MODE_OPTIONAL);
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[1]),
	    TLS_MODE_REQUIRED);
	ck_assert_int_eq(cfg.listeners[2].proto, PROTO_POP3);
	ck_assert_str_eq(cfg.listeners[2].host, "::1");
	ck_assert_str_eq(cfg.listeners[2].port, "995");
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[2]),
	    TLS_MODE_IMPLICIT);
	/* POP2 has no STLS: plaintext unless pop2s */
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[3]),
	    TLS_MODE_NONE);
	ck_assert_int_eq(cfg.listeners[4].proto, PROTO_POP2);
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[4]),
	    TLS_MODE_IMPLICIT);
	ck_assert_str_eq(cfg.listeners[5].port, "112");
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[5]),
	    TLS_MODE_NONE);
	ck_assert_int_eq(cfg.plaintext_auth, PLAINTEXT_NO);
	ck_assert_int_eq(cfg.tls_ticket_rotate, 60);
	ck_assert_str_eq(config_tls_name(TLS_MODE_IMPLICIT), "implicit");
	config_free(&cfg);

	/* "tls" sets the default of pop3 listeners only */
	ck_assert_msg(load("tls_cert = /c\ntls_key = /k\ntls = required\n"
	    "listen = pop3 127.0.0.1:110\nlisten = pop2 127.0.0.1:109\n"
	    "plaintext_auth = yes\n", &cfg, &err) == 0, "%s", err);
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[0]),
	    TLS_MODE_REQUIRED);
	ck_assert_int_eq(config_listener_tls(&cfg, &cfg.listeners[1]),
	    TLS_MODE_NONE);
	ck_assert_int_eq(cfg.plaintext_auth, PLAINTEXT_YES);
	config_free(&cfg);
}
END_TEST

START_TEST(test_bad)
{
	struct config cfg;
	const char *err;

	ck_assert_msg(load(bad[_i].text, &cfg, &err) == -1,
	    "case %d accepted", _i);
	ck_assert_msg(strstr(err, bad[_i].want) != NULL,
	    "case %d: error \"%s\" lacks \"%s\"", _i, err, bad[_i].want);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config cfg;
	const char *err = NULL;

	ck_assert_int_eq(config_load("/nonexistent/p23.conf", &cfg, &err),
	    -1);
	ck_assert_msg(strstr(err, "/nonexistent/p23.conf") != NULL, "%s", err);
}
END_TEST

/* login_plaintext_ok(): plaintext_auth x listener mode x loopback x TLS.
 * (No TLS context is loaded here, so STLS is never offered.) */
START_TEST(test_plaintext_rule)
{
	static const struct {
		const char *setting;
		int mode, loopback, secured, ok;
	} t[] = {
		{ "no", TLS_MODE_NONE, 1, 0, 0 },
		{ "no", TLS_MODE_OPTIONAL, 0, 1, 1 },
		{ "no", TLS_MODE_IMPLICIT, 0, 1, 1 },
		{ "loopback", TLS_MODE_NONE, 1, 0, 1 },
		{ "loopback", TLS_MODE_NONE, 0, 0, 0 },
		{ "loopback", TLS_MODE_OPTIONAL, 0, 0, 0 },
		{ "loopback", TLS_MODE_OPTIONAL, 0, 1, 1 },
		{ "loopback", TLS_MODE_REQUIRED, 1, 0, 0 },
		{ "loopback", TLS_MODE_REQUIRED, 1, 1, 1 },
		{ "yes", TLS_MODE_NONE, 0, 0, 1 },
		{ "yes", TLS_MODE_OPTIONAL, 0, 0, 1 },
		{ "yes", TLS_MODE_REQUIRED, 0, 0, 0 },
		{ "yes", TLS_MODE_REQUIRED, 0, 1, 1 },
	};
	struct config cfg;
	struct client c;
	const char *err;
	char text[128];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(text, sizeof text, "listen = pop3 127.0.0.1:1\n"
		    "plaintext_auth = %s\n", t[i].setting);
		ck_assert_msg(load(text, &cfg, &err) == 0, "%s", err);
		memset(&c, 0, sizeof c);
		c.cfg = &cfg;
		c.tls_mode = t[i].mode;
		c.loopback = t[i].loopback;
		c.secured = t[i].secured;
		ck_assert_msg(login_plaintext_ok(&c) == t[i].ok, "case %zu", i);
		ck_assert(!login_stls_offered(&c));
		config_free(&cfg);
	}
}
END_TEST

Suite *
suite_conf(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_and_values);
	tcase_add_test(tc, test_auth_workers);
	tcase_add_loop_test(tc, test_bad, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_proxy_listener);
	tcase_add_test(tc, test_tls_modes);
	tcase_add_test(tc, test_plaintext_rule);
	suite_add_tcase(s, tc);
	return s;
}
