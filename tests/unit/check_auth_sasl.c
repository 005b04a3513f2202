/*
 * check_auth_sasl.c - unit tests of the "sasl" auth plugin
 * (auth_sasl.so) with the real parts: a sasldb made in a temp dir by
 * saslpasswd2, a libsasl2 configuration file "pop23d.conf" next to it
 * ([sasl] conf_dir), and every SASL mechanism the library offers here
 * driven through the plugin's sasl_start/sasl_step by a real libsasl2
 * client context (sasl_client_new) in this process.  Loaded from
 * test_plugindir() through the shared mock host, whose trusted_file() is
 * the daemon's own rule (src/trust.c).  saslauthd is tested with the
 * real daemon in tests/integ/test_sasl.py.  Runs as whoever runs "make
 * check" (root in CI); skipped when saslpasswd2 is missing.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <sasl/sasl.h>

#include "pop23d/plugin.h"

#include "mock_host.h"
#include "suites.h"

#define REALM		"test.example"
#define SASLPASSWD2	"saslpasswd2"

/* The users the sasldb holds (realm REALM). */
static const struct {
	const char *user, *pass;
} users[] = {
	{ "alice", "alicepw" },
	{ "bob", "b0b-Secret!" },
};

static char *tdir;		/* per tcase: the sasldb and pop23d.conf */
static char sasldb[PATH_MAX], confdir[PATH_MAX];
static int have_tools;
static void *handle;
static pop23d_plugin_init_fn *plugin_init;
static const struct pop23d_plugin *plug;
static const struct pop23d_auth_ops *ops;

static const struct pop23d_conn_info ci_open = {
	.service = "pop3", .remote_ip = "127.0.0.1", .local_ip = "127.0.0.1",
	.remote_port = 40000, .local_port = 110, .secured = 1,
	.plaintext_ok = 1, .tls_peer_cn = "",
};
static const struct pop23d_conn_info ci_clear = {
	.service = "pop3", .remote_ip = "192.0.2.7", .local_ip = "192.0.2.1",
	.remote_port = 40001, .local_port = 110, .secured = 0,
	.plaintext_ok = 0, .tls_peer_cn = "",
};

static const char *
rname(enum pop23d_result r)
{
	static const char *const names[] = { "OK", "FAIL", "NOUSER",
	    "TEMPFAIL", "PERMFAIL", "INUSE", "CONTINUE" };

	return (unsigned)r < sizeof names / sizeof names[0] ? names[r] :
	    "other";
}

#define ck_result(got, want) \
	ck_assert_msg((got) == (want), "got %s, want %s", rname(got), \
	    rname(want))

/* TDIR/NAME into BUF. */
static const char *
tpath(char *buf, size_t size, const char *name)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", tdir, name), (int)size);
	return buf;
}

/* Run ARGV with STDIN_TEXT on its standard input; its exit status. */
static int
run(char *const argv[], const char *stdin_text)
{
	int p[2], st;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	if (stdin_text != NULL)
		ck_assert_int_eq(write(p[1], stdin_text, strlen(stdin_text)),
		    (ssize_t)strlen(stdin_text));
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Write the libsasl2 configuration as TDIR/pop23d.conf, mode 0644:
 * EXTRA first (libsasl2 takes the first of repeated keys), then the
 * sasldb set-up. */
static void
write_conf(const char *extra)
{
	char path[PATH_MAX], text[2 * PATH_MAX];

	snprintf(text, sizeof text, "%s"
	    "pwcheck_method: auxprop\n"
	    "auxprop_plugin: sasldb\n"
	    "sasldb_path: %s\n"
	    "# log every level: the plugin must still drop passwords\n"
	    "log_level: 7\n", extra != NULL ? extra : "", sasldb);
	tpath(path, sizeof path, "pop23d.conf");
	test_write_file(path, text, strlen(text));
	ck_assert_int_eq(chmod(path, 0644), 0);
}

/* Unchecked fixture: the sasldb, made once per tcase. */
static void
db_setup(void)
{
	char *argv[] = { SASLPASSWD2, "-p", "-c", "-f", sasldb, "-a",
	    "pop23d", "-u", REALM, NULL, NULL };
	size_t i;

	tdir = test_tmpdir();
	ck_assert_int_eq(chmod(tdir, 0755), 0);
	tpath(sasldb, sizeof sasldb, "sasldb2");
	snprintf(confdir, sizeof confdir, "%s", tdir);
	have_tools = access("/usr/sbin/" SASLPASSWD2, X_OK) == 0;
	if (!have_tools)
		return;
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	for (i = 0; i < sizeof users / sizeof users[0]; i++) {
		argv[9] = (char *)users[i].user;
		ck_assert_int_eq(run(argv, users[i].pass), 0);
	}
}

static void
db_teardown(void)
{
	test_rmtree(tdir);
	free(tdir);
	tdir = NULL;
}

/* Checked fixture: a fresh plugin per test (each test is a process). */
static void
plugin_setup(void)
{
	mock_host_reset();
	mock_host_set("sasl", "conf_dir", confdir);
	mock_host_set("sasl", "hostname", REALM);
	mock_host_set("sasl", "realm", REALM);
	if (have_tools)
		write_conf(NULL);
	handle = mock_plugin_open("auth_sasl.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ops = plug->auth;
	ck_assert_int_eq(sasl_client_init(NULL), SASL_OK);
}

static void
plugin_teardown(void)
{
	sasl_client_done();
	if (handle != NULL)
		dlclose(handle);
	handle = NULL;
}

/* Configure the plugin (check_config, as the daemon does at start). */
static void
configure(void)
{
	const char *err = NULL;

	ck_assert_msg(plug->check_config(&err) == 0, "check_config: %s",
	    err != NULL ? err : "?");
}

#define NEED_TOOLS() do { \
	if (!have_tools) { \
		fprintf(stderr, "check_auth_sasl: no " SASLPASSWD2 \
		    ": skipped\n"); \
		return; \
	} \
} while (0)

/* ------------------------------------------------- a libsasl2 client */

struct creds {
	const char *authid, *authzid, *pass;
	sasl_secret_t *secret;
};

static int
cb_simple(void *ctx, int id, const char **result, unsigned *len)
{
	struct creds *c = ctx;

	*result = id == SASL_CB_USER ? c->authzid : c->authid;
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
cb_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
	struct creds *c = ctx;
	size_t n = strlen(c->pass);

	(void)conn;
	(void)id;
	if (c->secret == NULL) {
		c->secret = calloc(1, sizeof *c->secret + n + 1);
		ck_assert_ptr_nonnull(c->secret);
		c->secret->len = n;
		memcpy(c->secret->data, c->pass, n);
	}
	*psecret = c->secret;
	return SASL_OK;
}

static int
cb_realm(void *ctx, int id, const char **avail, const char **result)
{
	(void)ctx;
	(void)id;
	*result = avail != NULL && avail[0] != NULL ? avail[0] : REALM;
	return SASL_OK;
}

#define CB(f)	((int (*)(void))(void (*)(void))(f))

/* drive()'s first server challenge ("" if none). */
static char first_challenge[1024];

/*
 * Authenticate with MECH on connection CI as AUTHID (authorizing as
 * AUTHZID, "" for the same) with PASS: a real client context talks to
 * the plugin's ops.  Returns the plugin's final result; *USER_R gets the
 * identity on OK; *STEPS_R the number of sasl_step calls.
 * MANGLE_FINAL: answer the success data with a non-empty response.
 */
static enum pop23d_result
drive(const char *mech, const struct pop23d_conn_info *ci,
    const char *authid, const char *authzid, const char *pass,
    char *user_r, size_t user_size, int *steps_r, int mangle_final)
{
	struct creds c = { authid, authzid, pass, NULL };
	sasl_callback_t cbs[] = {
		{ SASL_CB_AUTHNAME, CB(cb_simple), &c },
		{ SASL_CB_USER, CB(cb_simple), &c },
		{ SASL_CB_PASS, CB(cb_pass), &c },
		{ SASL_CB_GETREALM, CB(cb_realm), &c },
		{ SASL_CB_LIST_END, NULL, NULL },
	};
	sasl_security_properties_t sp;
	sasl_conn_t *cc = NULL;
	const char *cout = NULL, *chosen = NULL;
	unsigned coutlen = 0;
	const unsigned char *sout = NULL;
	size_t soutlen = 0;
	void *state = NULL;
	enum pop23d_result r;
	int rc, steps = 0;

	ck_assert_int_eq(sasl_client_new("pop", REALM, NULL, NULL, cbs, 0,
	    &cc), SASL_OK);
	memset(&sp, 0, sizeof sp);
	ck_assert_int_eq(sasl_setprop(cc, SASL_SEC_PROPS, &sp), SASL_OK);
	rc = sasl_client_start(cc, mech, NULL, &cout, &coutlen, &chosen);
	ck_assert_msg(rc == SASL_OK || rc == SASL_CONTINUE,
	    "client start %s: %s", mech, sasl_errdetail(cc));
	r = ops->sasl_start(mech, ci, (const unsigned char *)cout,
	    cout != NULL ? coutlen : 0, &state, &sout, &soutlen, user_r,
	    user_size);
	snprintf(first_challenge, sizeof first_challenge, "%.*s",
	    r == POP23D_CONTINUE ? (int)soutlen : 0, (const char *)sout);
	while (r == POP23D_CONTINUE && steps < 10) {
		rc = sasl_client_step(cc, (const char *)sout,
		    (unsigned)soutlen, NULL, &cout, &coutlen);
		if (rc != SASL_OK && rc != SASL_CONTINUE) {
			/* The client refuses the server's message: a
			 * real client would cancel with "*". */
			r = POP23D_FAIL;
			fprintf(stderr, "client step %s: %s\n", mech,
			    sasl_errdetail(cc));
			break;
		}
		steps++;
		if (mangle_final && rc == SASL_OK && (cout == NULL ||
		    coutlen == 0)) {
			r = ops->sasl_step(state, (const unsigned char *)"x", 1,
			    &sout, &soutlen, user_r, user_size);
			continue;
		}
		r = ops->sasl_step(state, (const unsigned char *)(cout != NULL ?
		    cout : ""), cout != NULL ? coutlen : 0, &sout, &soutlen,
		    user_r, user_size);
	}
	ck_assert_int_lt(steps, 10);
	ops->sasl_end(state);
	sasl_dispose(&cc);
	free(c.secret);
	if (steps_r != NULL)
		*steps_r = steps;
	return r;
}

/* Is WORD one of the space-separated words of LIST? */
static int
has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' ||
		    p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* -------------------------------------------------------------- tests */

START_TEST(test_sasl_descriptor)
{
	ck_assert_str_eq(plug->name, "sasl");
	ck_assert_int_eq(plug->kind, POP23D_PLUGIN_AUTH);
	ck_assert_uint_eq(plug->api_built, POP23D_PLUGIN_API);
	ck_assert_ptr_nonnull(ops->verify_plain);
	ck_assert_ptr_nonnull(ops->lookup);
	ck_assert_ptr_nonnull(ops->verify_apop);
	ck_assert_ptr_nonnull(ops->sasl_mechs);
	ck_assert_ptr_nonnull(ops->sasl_start);
	ck_assert_ptr_nonnull(ops->sasl_step);
	ck_assert_ptr_nonnull(ops->sasl_end);
	/* A wrong ABI is refused without touching the host. */
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI + 1, NULL, &plug), -1);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
}
END_TEST

START_TEST(test_sasl_flags)
{
	NEED_TOOLS();
	/* sasldb only: a local file, never blocking, never root. */
	configure();
	ck_assert_uint_eq(plug->flags, 0);
	/* saslauthd may ask LDAP or Kerberos: blocking. */
	write_conf("pwcheck_method: saslauthd\n");
	configure();
	ck_assert_uint_eq(plug->flags, POP23D_PLUGIN_F_BLOCKING);
	/* A network auxprop. */
	write_conf("auxprop_plugin: sasldb ldapdb\n");
	configure();
	ck_assert_uint_eq(plug->flags, POP23D_PLUGIN_F_BLOCKING);
	/* Keys as libsasl2 reads them: any case, first one wins. */
	write_conf("# pwcheck_method: saslauthd\n  PWCheck_Method:   auxprop  \n"
	    "auxprop_plugin: sasldb\n");
	configure();
	ck_assert_uint_eq(plug->flags, 0);
	write_conf(NULL);
	configure();
	ck_assert_uint_eq(plug->flags, 0);
	ck_assert_uint_eq(plug->flags & POP23D_PLUGIN_F_NEEDS_ROOT, 0);
}
END_TEST

START_TEST(test_sasl_verify_plain)
{
	NEED_TOOLS();
	configure();
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_OK);
	ck_result(ops->verify_plain("bob", "b0b-Secret!"), POP23D_OK);
	ck_result(ops->verify_plain("alice", "alicepw "), POP23D_FAIL);
	ck_result(ops->verify_plain("alice", "b0b-Secret!"), POP23D_FAIL);
	ck_result(ops->verify_plain("alice", "x"), POP23D_FAIL);
	ck_result(ops->verify_plain("carol", "alicepw"), POP23D_NOUSER);
	ck_result(ops->verify_plain("alice", ""), POP23D_FAIL);
	/* The realm may be named; another realm is another user. */
	ck_result(ops->verify_plain("alice@" REALM, "alicepw"), POP23D_OK);
	ck_result(ops->verify_plain("alice@other.example", "alicepw"),
	    POP23D_NOUSER);
}
END_TEST

START_TEST(test_sasl_apop)
{
	/* RFC 1939 section 7's own example: timestamp and secret. */
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	char *argv[] = { SASLPASSWD2, "-p", "-c", "-f", sasldb, "-a",
	    "pop23d", "-u", REALM, "rfc", NULL };

	NEED_TOOLS();
	ck_assert_int_eq(run(argv, "tanstaaf"), 0);
	configure();
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_OK);
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fa"), POP23D_FAIL);
	/* Upper-case hex is not RFC 1939's digest. */
	ck_result(ops->verify_apop("rfc", ts,
	    "C4C9334BAC560ECC979E58001B3E22FB"), POP23D_FAIL);
	ck_result(ops->verify_apop("rfc", ts, "c4c9"), POP23D_FAIL);
	ck_result(ops->verify_apop("rfc", "<1.2@x>",
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_FAIL);
	ck_result(ops->verify_apop("nosuch", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_NOUSER);
	/* The secret was erased after use: a second check still works. */
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_OK);
}
END_TEST

/*
 * APOP with pwcheck_method saslauthd: libsasl2's sasl_user_exists() would
 * hand saslauthd's verifier a NULL password (strlen(NULL)); the plugin
 * asks for the auxprop secret with pwcheck_method forced to auxprop, so
 * APOP still works from the sasldb and nothing crashes.  USER/PASS goes
 * to saslauthd, which is not running here: a temporary failure.
 */
START_TEST(test_sasl_apop_with_saslauthd)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	char *argv[] = { SASLPASSWD2, "-p", "-c", "-f", sasldb, "-a",
	    "pop23d", "-u", REALM, "rfc", NULL };
	char mux[PATH_MAX + 32], line[PATH_MAX + 64];

	NEED_TOOLS();
	ck_assert_int_eq(run(argv, "tanstaaf"), 0);
	snprintf(mux, sizeof mux, "%s/no-saslauthd/mux", tdir);
	snprintf(line, sizeof line, "pwcheck_method: saslauthd auxprop\n"
	    "saslauthd_path: %s\n", mux);
	write_conf(line);
	configure();
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_OK);
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fa"), POP23D_FAIL);
	ck_result(ops->verify_apop("nosuch", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_NOUSER);
	/* saslauthd first, then auxprop: the sasldb still answers */
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_OK);
	write_conf("pwcheck_method: saslauthd\n"
	    "saslauthd_path: /nonexistent-p23/mux\n");
	dlclose(handle);
	handle = mock_plugin_open("auth_sasl.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ops = plug->auth;
	configure();
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_TEMPFAIL);
	ck_result(ops->verify_apop("rfc", ts,
	    "c4c9334bac560ecc979e58001b3e22fb"), POP23D_OK);
}
END_TEST

START_TEST(test_sasl_mechs_listed)
{
	static const char *const want[] = { "PLAIN", "LOGIN", "CRAM-MD5",
	    "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256" };
	const char *m;
	char open_list[1024];
	size_t i;

	NEED_TOOLS();
	configure();
	m = ops->sasl_mechs(&ci_open);
	snprintf(open_list, sizeof open_list, "%s", m);
	fprintf(stderr, "check_auth_sasl: mechanisms offered: %s\n", m);
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(has_word(open_list, want[i]), "%s not in \"%s\"",
		    want[i], open_list);
	ck_assert(!has_word(open_list, "ANONYMOUS"));
	/* Upper case, single spaces. */
	for (i = 0; open_list[i] != '\0'; i++)
		ck_assert(open_list[i] != ' ' || (i > 0 &&
		    open_list[i + 1] != ' ' && open_list[i + 1] != '\0'));
	ck_assert_str_eq(open_list, ops->sasl_mechs(&ci_open));
	/* No plaintext mechanisms where plaintext is not allowed. */
	m = ops->sasl_mechs(&ci_clear);
	ck_assert(!has_word(m, "PLAIN"));
	ck_assert(!has_word(m, "LOGIN"));
	ck_assert(has_word(m, "SCRAM-SHA-256"));
	ck_assert(has_word(m, "CRAM-MD5"));
	/* No connection data: plaintext is not allowed. */
	m = ops->sasl_mechs(NULL);
	ck_assert(!has_word(m, "PLAIN"));
	ck_assert(has_word(m, "SCRAM-SHA-256"));
	/* mech_list in the SASL configuration restricts the list. */
	write_conf("mech_list: SCRAM-SHA-256 PLAIN\n");
	dlclose(handle);
	handle = mock_plugin_open("auth_sasl.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ops = plug->auth;
	configure();
	ck_assert_str_eq(ops->sasl_mechs(&ci_open), "SCRAM-SHA-256 PLAIN");
	ck_assert_str_eq(ops->sasl_mechs(&ci_clear), "SCRAM-SHA-256");
}
END_TEST

/* Every mechanism the library offers, with a real client: right
 * password, wrong password, unknown user. */
START_TEST(test_sasl_every_mech)
{
	char list[1024], user[256], *save = NULL, *mech;
	enum pop23d_result r;
	int n = 0, steps;

	NEED_TOOLS();
	configure();
	snprintf(list, sizeof list, "%s", ops->sasl_mechs(&ci_open));
	for (mech = strtok_r(list, " ", &save); mech != NULL;
	    mech = strtok_r(NULL, " ", &save)) {
		memset(user, 'x', sizeof user);
		r = drive(mech, &ci_open, "bob", "", "b0b-Secret!", user,
		    sizeof user, &steps, 0);
		ck_assert_msg(r == POP23D_OK, "%s: %s", mech, rname(r));
		ck_assert_msg(strcmp(user, "bob") == 0, "%s: user \"%s\"",
		    mech, user);
		r = drive(mech, &ci_open, "bob", "", "b0b-secret!", user,
		    sizeof user, NULL, 0);
		ck_assert_msg(r == POP23D_FAIL || r == POP23D_NOUSER,
		    "%s wrong password: %s", mech, rname(r));
		r = drive(mech, &ci_open, "carol", "", "b0b-Secret!", user,
		    sizeof user, NULL, 0);
		ck_assert_msg(r == POP23D_FAIL || r == POP23D_NOUSER,
		    "%s unknown user: %s", mech, rname(r));
		fprintf(stderr, "check_auth_sasl: %s ok (%d steps)\n", mech,
		    steps);
		n++;
	}
	ck_assert_int_ge(n, 6);
}
END_TEST

/* The form of a SCRAM server-first message: "r=NONCE,s=SALT,i=N". */
static void
scram_form(const char *msg, size_t *nonce_len, size_t *salt_len,
    char *iter, size_t iter_size)
{
	const char *s, *i;

	ck_assert_msg(strncmp(msg, "r=", 2) == 0, "\"%s\"", msg);
	s = strstr(msg, ",s=");
	i = strstr(msg, ",i=");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(i);
	ck_assert(s < i);
	*nonce_len = (size_t)(s - msg - 2);
	*salt_len = (size_t)(i - s - 3);
	snprintf(iter, iter_size, "%s", i + 3);
}

/*
 * SCRAM must not tell an unknown user from a known one before the proof:
 * libsasl2 refuses an unknown user's client-first message at once, so
 * the plugin answers it with a decoy of the same form and the same
 * PBKDF2 work, and fails the proof.
 */
START_TEST(test_sasl_scram_unknown_user_decoy)
{
	static const char *const mechs[] = { "SCRAM-SHA-1", "SCRAM-SHA-256",
	    "SCRAM-SHA-512" };
	char user[256], real[1024], it1[32], it2[32], *salt1;
	size_t n1, s1, n2, s2, i;
	int steps;

	NEED_TOOLS();
	write_conf("scram_iteration_counter: 8192\n");
	configure();
	for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
		/* a known user with a wrong password: one step, FAIL */
		ck_result(drive(mechs[i], &ci_open, "alice", "", "wrong", user,
		    sizeof user, &steps, 0), POP23D_FAIL);
		ck_assert_int_eq(steps, 1);
		snprintf(real, sizeof real, "%s", first_challenge);
		/* an unknown user: the same, NOUSER at the end */
		ck_result(drive(mechs[i], &ci_open, "carol", "", "wrong", user,
		    sizeof user, &steps, 0), POP23D_NOUSER);
		ck_assert_int_eq(steps, 1);
		scram_form(real, &n1, &s1, it1, sizeof it1);
		scram_form(first_challenge, &n2, &s2, it2, sizeof it2);
		ck_assert_uint_eq(n1, n2);
		ck_assert_uint_eq(s1, s2);
		ck_assert_str_eq(it1, "8192");
		ck_assert_str_eq(it2, "8192");
		/* the salt of a name stays the same within the process */
		salt1 = strdup(strstr(first_challenge, ",s="));
		ck_assert_ptr_nonnull(salt1);
		*strstr(salt1, ",i=") = '\0';
		ck_result(drive(mechs[i], &ci_open, "carol", "", "x", user,
		    sizeof user, NULL, 0), POP23D_NOUSER);
		ck_assert_ptr_nonnull(strstr(first_challenge, salt1));
		free(salt1);
	}
	/* Without an initial response the client-first message comes with
	 * the first step: the same decoy. */
	{
		const unsigned char *out;
		size_t outlen;
		void *st = NULL;
		static const char cf[] = "n,,n=carol,r=abcdefghijklmnopqrstuvwx";
		static const char cfinal[] = "c=biws,r=x,p=eA==";

		ck_result(ops->sasl_start("SCRAM-SHA-256", &ci_open, NULL, 0,
		    &st, &out, &outlen, user, sizeof user), POP23D_CONTINUE);
		ck_assert_uint_eq(outlen, 0);
		ck_result(ops->sasl_step(st, (const unsigned char *)cf,
		    sizeof cf - 1, &out, &outlen, user, sizeof user),
		    POP23D_CONTINUE);
		ck_assert(outlen > 2 && memcmp(out,
		    "r=abcdefghijklmnopqrstuvwx", 26) == 0);
		ck_result(ops->sasl_step(st, (const unsigned char *)cfinal,
		    sizeof cfinal - 1, &out, &outlen, user, sizeof user),
		    POP23D_NOUSER);
		ck_assert_str_eq(user, "");
		ops->sasl_end(st);
	}
}
END_TEST

/* Data with success (SCRAM's server-final, DIGEST-MD5's rspauth) goes
 * out as a challenge; only an empty answer completes the login. */
START_TEST(test_sasl_success_data)
{
	char user[256];
	int steps;

	NEED_TOOLS();
	configure();
	ck_result(drive("SCRAM-SHA-256", &ci_open, "alice", "", "alicepw",
	    user, sizeof user, &steps, 0), POP23D_OK);
	/* client-final, then the empty answer to server-final */
	ck_assert_int_eq(steps, 2);
	ck_result(drive("SCRAM-SHA-256", &ci_open, "alice", "", "alicepw",
	    user, sizeof user, NULL, 1), POP23D_PERMFAIL);
	ck_assert_str_eq(user, "");
	ck_result(drive("DIGEST-MD5", &ci_open, "alice", "", "alicepw",
	    user, sizeof user, NULL, 1), POP23D_PERMFAIL);
}
END_TEST

START_TEST(test_sasl_plaintext_refused)
{
	char user[256];
	const unsigned char *out;
	size_t outlen;
	void *st = NULL;
	static const unsigned char ir[] = "\0alice\0alicepw";

	NEED_TOOLS();
	configure();
	/* PLAIN and LOGIN are refused on a connection without plaintext,
	 * whatever the client sends. */
	ck_result(ops->sasl_start("PLAIN", &ci_clear, ir, sizeof ir - 1, &st,
	    &out, &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	st = NULL;
	ck_result(ops->sasl_start("LOGIN", &ci_clear, NULL, 0, &st, &out,
	    &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	/* The others still work there. */
	ck_result(drive("CRAM-MD5", &ci_clear, "alice", "", "alicepw", user,
	    sizeof user, NULL, 0), POP23D_OK);
	ck_result(drive("PLAIN", &ci_open, "alice", "", "alicepw", user,
	    sizeof user, NULL, 0), POP23D_OK);
}
END_TEST

/* The input cases of RFC 5034 the plugin sees (the host decodes base64
 * and handles "*"). */
START_TEST(test_sasl_plain_edges)
{
	char user[256];
	const unsigned char *out;
	size_t outlen;
	void *st = NULL;
	static const unsigned char good[] = "\0alice\0alicepw";
	static const unsigned char authz[] = "alice\0alice\0alicepw";
	static const unsigned char proxy[] = "bob\0alice\0alicepw";
	static const unsigned char nul_in_pass[] = "\0alice\0alice\0pw";
	static const unsigned char two[] = "alicepw";

	NEED_TOOLS();
	configure();
	/* No initial response: an empty challenge, then the response. */
	ck_result(ops->sasl_start("PLAIN", &ci_open, NULL, 0, &st, &out,
	    &outlen, user, sizeof user), POP23D_CONTINUE);
	ck_assert_uint_eq(outlen, 0);
	ck_result(ops->sasl_step(st, good, sizeof good - 1, &out, &outlen,
	    user, sizeof user), POP23D_OK);
	ck_assert_str_eq(user, "alice");
	ops->sasl_end(st);
	/* The mechanism name is not case sensitive. */
	st = NULL;
	ck_result(ops->sasl_start("plain", &ci_open, good, sizeof good - 1,
	    &st, &out, &outlen, user, sizeof user), POP23D_OK);
	ops->sasl_end(st);
	/* "=": an empty initial response is not a PLAIN message. */
	st = NULL;
	ck_result(ops->sasl_start("PLAIN", &ci_open, (const unsigned char *)"",
	    0, &st, &out, &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	/* authzid equal to authcid is fine; another one is a proxy login,
	 * which the default policy refuses. */
	st = NULL;
	ck_result(ops->sasl_start("PLAIN", &ci_open, authz, sizeof authz - 1,
	    &st, &out, &outlen, user, sizeof user), POP23D_OK);
	ck_assert_str_eq(user, "alice");
	ops->sasl_end(st);
	st = NULL;
	ck_assert(ops->sasl_start("PLAIN", &ci_open, proxy, sizeof proxy - 1,
	    &st, &out, &outlen, user, sizeof user) == POP23D_FAIL);
	ck_assert_str_eq(user, "");
	ops->sasl_end(st);
	/* A NUL inside the password field. */
	st = NULL;
	ck_assert(ops->sasl_start("PLAIN", &ci_open, nul_in_pass,
	    sizeof nul_in_pass - 1, &st, &out, &outlen, user, sizeof user) !=
	    POP23D_OK);
	ops->sasl_end(st);
	/* Not three fields at all. */
	st = NULL;
	ck_result(ops->sasl_start("PLAIN", &ci_open, two, sizeof two - 1,
	    &st, &out, &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	/* Unknown, malformed, over-long mechanism names. */
	st = NULL;
	ck_result(ops->sasl_start("X-NOSUCH", &ci_open, NULL, 0, &st, &out,
	    &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	st = NULL;
	ck_result(ops->sasl_start("PL AIN", &ci_open, NULL, 0, &st, &out,
	    &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	st = NULL;
	ck_result(ops->sasl_start("SCRAM-SHA-256-PLUS-XX", &ci_open, NULL, 0,
	    &st, &out, &outlen, user, sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	/* ANONYMOUS is never allowed. */
	st = NULL;
	ck_result(ops->sasl_start("ANONYMOUS", &ci_open,
	    (const unsigned char *)"x", 1, &st, &out, &outlen, user,
	    sizeof user), POP23D_PERMFAIL);
	ops->sasl_end(st);
	/* Garbage in a SCRAM exchange. */
	st = NULL;
	ck_assert(ops->sasl_start("SCRAM-SHA-256", &ci_open,
	    (const unsigned char *)"\xff\x01garbage", 9, &st, &out, &outlen,
	    user, sizeof user) != POP23D_OK);
	ops->sasl_end(st);
	/* sasl_end(NULL) is allowed. */
	ops->sasl_end(NULL);
}
END_TEST

/* The identity must fit user_r: never cut. */
START_TEST(test_sasl_user_size)
{
	char user[4];
	const unsigned char *out;
	size_t outlen;
	void *st = NULL;
	static const unsigned char good[] = "\0alice\0alicepw";

	NEED_TOOLS();
	configure();
	ck_result(ops->sasl_start("PLAIN", &ci_open, good, sizeof good - 1,
	    &st, &out, &outlen, user, sizeof user), POP23D_PERMFAIL);
	ck_assert_str_eq(user, "");
	ops->sasl_end(st);
}
END_TEST

/* Without a realm setting libsasl2 looks users up in the hostname's
 * realm and names them without "@". */
START_TEST(test_sasl_no_realm)
{
	char user[256];

	NEED_TOOLS();
	mock_host_set("sasl", "realm", NULL);
	configure();
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_OK);
	ck_result(drive("SCRAM-SHA-1", &ci_open, "alice", "", "alicepw",
	    user, sizeof user, NULL, 0), POP23D_OK);
	ck_assert_str_eq(user, "alice");
	mock_host_set("sasl", "hostname", "elsewhere.example");
	dlclose(handle);
	handle = mock_plugin_open("auth_sasl.so", &plugin_init);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ops = plug->auth;
	configure();
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_NOUSER);
}
END_TEST

/* Nothing the plugin logs holds a password, even with log_level 7
 * (libsasl2's SASL_LOG_PASS traces). */
START_TEST(test_sasl_no_password_logged)
{
	char logp[PATH_MAX], buf[65536], user[256];
	int fd, saved;
	ssize_t n;
	size_t i;

	NEED_TOOLS();
	configure();
	tpath(logp, sizeof logp, "stderr.log");
	fd = open(logp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(2);
	dup2(fd, 2);
	mock_host_lines = 0;
	(void)ops->verify_plain("alice", "Wr0ngSecretA");
	(void)ops->verify_plain("nosuch", "Wr0ngSecretB");
	(void)drive("PLAIN", &ci_open, "alice", "", "Wr0ngSecretC", user,
	    sizeof user, NULL, 0);
	(void)drive("LOGIN", &ci_open, "alice", "", "Wr0ngSecretD", user,
	    sizeof user, NULL, 0);
	(void)drive("DIGEST-MD5", &ci_open, "alice", "", "Wr0ngSecretE",
	    user, sizeof user, NULL, 0);
	(void)drive("SCRAM-SHA-1", &ci_open, "alice", "", "alicepw", user,
	    sizeof user, NULL, 0);
	(void)ops->verify_plain("alice", "alicepw");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ck_assert_int_gt(mock_host_lines, 0);	/* failures were logged */
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	ck_assert_msg(strstr(buf, "Wr0ngSecret") == NULL, "logged: %s", buf);
	ck_assert_msg(strstr(buf, "alicepw") == NULL, "logged: %s", buf);
}
END_TEST

/* Files libsasl2 trusts go through the host's trusted_file(). */
START_TEST(test_sasl_files_checked)
{
	char conf[PATH_MAX];
	const char *err = NULL;

	NEED_TOOLS();
	tpath(conf, sizeof conf, "pop23d.conf");
	/* A configuration file others may write: refused at check_config,
	 * and libsasl2 does not start on it. */
	ck_assert_int_eq(chmod(conf, 0666), 0);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "pop23d.conf"));
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_TEMPFAIL);
	ck_assert_str_eq(ops->sasl_mechs(&ci_open), "");
	ck_assert_int_eq(chmod(conf, 0644), 0);
}
END_TEST

START_TEST(test_sasl_sasldb_checked)
{
	const char *err = NULL;
	char user[256];
	const unsigned char *out;
	size_t outlen;
	void *st = NULL;
	static const unsigned char good[] = "\0alice\0alicepw";

	NEED_TOOLS();
	configure();
	/* A group-writable sasldb: every lookup fails (TEMPFAIL), and
	 * check_config says why. */
	ck_assert_int_eq(chmod(sasldb, 0660), 0);
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "sasldb2"));
	ck_result(ops->verify_plain("alice", "alicepw"), POP23D_TEMPFAIL);
	ck_assert(ops->sasl_start("PLAIN", &ci_open, good, sizeof good - 1,
	    &st, &out, &outlen, user, sizeof user) != POP23D_OK);
	ops->sasl_end(st);
	ck_assert_int_eq(chmod(sasldb, 0640), 0);
}
END_TEST

START_TEST(test_sasl_settings)
{
	const char *err;

	mock_host_set("sasl", "conf_dir", "relative/dir");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "conf_dir", "/etc/sasl2:/tmp");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "conf_dir", confdir);
	mock_host_set("sasl", "userdb", "ldap");
	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(strstr(err, "userdb"));
	mock_host_set("sasl", "userdb", "passwd");
	mock_host_set("sasl", "home", "/var/vmail/%u");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "userdb", "virtual");
	mock_host_set("sasl", "home", "var/vmail/%u");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "home", "/var/vmail/%x");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "home", "/var/vmail/%d/%n");
	mock_host_set("sasl", "min_uid", "1000");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "min_uid", NULL);
	mock_host_set("sasl", "realm", "bad realm");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "realm", REALM);
	mock_host_set("sasl", "hostname", "a/b");
	ck_assert_int_eq(plug->check_config(&err), -1);
	mock_host_set("sasl", "hostname", REALM);
	if (have_tools)
		ck_assert_int_eq(plug->check_config(&err), 0);
	/* No configuration file: libsasl2's defaults (a warning), so the
	 * sasldb is /etc/sasldb2, which must pass the host's rule if it
	 * exists (Debian installs it 0660 root:sasl: refused). */
	mock_host_set("sasl", "conf_dir", "/nonexistent-p23");
	mock_host_lines = 0;
	if (access("/etc/sasldb2", F_OK) == 0 &&
	    mock_host.trusted_file("/etc/sasldb2", &err) != 0) {
		ck_assert_int_eq(plug->check_config(&err), -1);
		ck_assert_ptr_nonnull(strstr(err, "/etc/sasldb2"));
		ck_assert_ptr_nonnull(strstr(err, "mode 0640"));
	} else {
		ck_assert_int_eq(plug->check_config(&err), 0);
		ck_assert_uint_eq(plug->flags, POP23D_PLUGIN_F_BLOCKING);
	}
	ck_assert_int_gt(mock_host_lines, 0);
}
END_TEST

START_TEST(test_sasl_lookup_virtual)
{
	struct pop23d_identity id;

	mock_host_set("sasl", "home", "/var/vmail/%d/%n");
	mock_host_set("sasl", "maildrop", "/var/vmail/%d/%n/Maildir%%");
	ck_assert_int_eq(plug->check_config(&(const char *){NULL}), 0);
	ck_result(ops->lookup("alice", &id), POP23D_OK);
	ck_assert_int_eq(id.uid, (uid_t)-1);
	ck_assert_int_eq(id.gid, (gid_t)-1);
	ck_assert_str_eq(id.home, "/var/vmail/" REALM "/alice");
	ck_assert_str_eq(id.maildrop, "/var/vmail/" REALM "/alice/Maildir%");
	/* The default realm is the same user. */
	ck_result(ops->lookup("alice@" REALM, &id), POP23D_OK);
	ck_assert_str_eq(id.home, "/var/vmail/" REALM "/alice");
	ck_result(ops->lookup("bob@other.example", &id), POP23D_OK);
	ck_assert_str_eq(id.home, "/var/vmail/other.example/bob");
	/* Names that would leave the template's directory. */
	ck_result(ops->lookup("../etc", &id), POP23D_PERMFAIL);
	ck_result(ops->lookup("a/b", &id), POP23D_PERMFAIL);
	ck_result(ops->lookup("bob@..", &id), POP23D_PERMFAIL);
	ck_result(ops->lookup("@x", &id), POP23D_PERMFAIL);
	ck_assert_str_eq(id.home, "");
	/* %u keeps the whole identity. */
	mock_host_set("sasl", "home", "/h/%u");
	mock_host_set("sasl", "maildrop", NULL);
	ck_assert_int_eq(plug->check_config(&(const char *){NULL}), 0);
	ck_result(ops->lookup("bob@other.example", &id), POP23D_OK);
	ck_assert_str_eq(id.home, "/h/bob@other.example");
	ck_assert_str_eq(id.maildrop, "");
}
END_TEST

START_TEST(test_sasl_lookup_passwd)
{
	struct pop23d_identity id;
	struct passwd *pw = getpwnam("nobody");

	mock_host_set("sasl", "userdb", "passwd");
	ck_assert_int_eq(plug->check_config(&(const char *){NULL}), 0);
	ck_result(ops->lookup("root", &id), POP23D_PERMFAIL);
	ck_result(ops->lookup("no-such-user-p23", &id), POP23D_NOUSER);
	if (pw != NULL && pw->pw_uid >= 1000) {
		ck_result(ops->lookup("nobody", &id), POP23D_OK);
		ck_assert_int_eq(id.uid, pw->pw_uid);
		ck_assert_int_eq(id.gid, pw->pw_gid);
		ck_assert_str_eq(id.home, pw->pw_dir);
		ck_result(ops->lookup("nobody@" REALM, &id), POP23D_OK);
		ck_assert_int_eq(id.uid, pw->pw_uid);
		mock_host_set("sasl", "min_uid", "4294967294");
		ck_assert_int_eq(plug->check_config(&(const char *){NULL}), 0);
		ck_result(ops->lookup("nobody", &id), POP23D_PERMFAIL);
	}
}
END_TEST

Suite *
suite_auth_sasl(void)
{
	Suite *s = suite_create("auth_sasl");
	TCase *tc = tcase_create("sasl");

	tcase_add_unchecked_fixture(tc, db_setup, db_teardown);
	tcase_add_checked_fixture(tc, plugin_setup, plugin_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sasl_descriptor);
	tcase_add_test(tc, test_sasl_flags);
	tcase_add_test(tc, test_sasl_verify_plain);
	tcase_add_test(tc, test_sasl_apop);
	tcase_add_test(tc, test_sasl_apop_with_saslauthd);
	tcase_add_test(tc, test_sasl_mechs_listed);
	tcase_add_test(tc, test_sasl_every_mech);
	tcase_add_test(tc, test_sasl_success_data);
	tcase_add_test(tc, test_sasl_scram_unknown_user_decoy);
	tcase_add_test(tc, test_sasl_plaintext_refused);
	tcase_add_test(tc, test_sasl_plain_edges);
	tcase_add_test(tc, test_sasl_user_size);
	tcase_add_test(tc, test_sasl_no_realm);
	tcase_add_test(tc, test_sasl_no_password_logged);
	tcase_add_test(tc, test_sasl_files_checked);
	tcase_add_test(tc, test_sasl_sasldb_checked);
	tcase_add_test(tc, test_sasl_settings);
	tcase_add_test(tc, test_sasl_lookup_virtual);
	tcase_add_test(tc, test_sasl_lookup_passwd);
	suite_add_tcase(s, tc);
	return s;
}
