/*
 * auth_sasl.c - the "sasl" auth plugin: users checked by Cyrus SASL
 * (libsasl2): USER/PASS and POP2 HELO through sasl_checkpass(), APOP
 * through the plaintext secret an auxprop backend (sasldb) gives out, and
 * the SASL mechanisms of POP3 AUTH (RFC 5034) through sasl_server_start()
 * and sasl_server_step().
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * PRIVILEGE: the auth ops run in the daemon's auth service (src/authsvc.c)
 * as auth_user, never as root: the plugin does not set NEEDS_ROOT.  With
 * POP23D_PLUGIN_F_BLOCKING (saslauthd, network auxprops) they run in the
 * service's worker processes, forked from it, as the same user.  sasldb
 * needs read access to its file (/etc/sasldb2, mode 0640 root:sasl), and
 * saslauthd access to its socket directory (/run/saslauthd, group sasl),
 * so auth_user must be in group "sasl".  check_config()
 * and pop23d_plugin_init() run in the master; they read the SASL
 * configuration file (only to decide the flags) but never start libsasl2
 * there: libsasl2 is started on first use, in the process that runs the
 * ops, so the master and the pre-auth processes it forks never hold the
 * SASL configuration (which may carry an LDAP or SQL bind password).
 *
 * Config section [sasl]:
 *	conf_dir = /etc/sasl2	directory of libsasl2's configuration file
 *				"pop23d.conf" (the application name)
 *	hostname = (gethostname)  the server's name for libsasl2 (serverFQDN:
 *				the default realm, DIGEST-MD5's realm,
 *				GSSAPI's host principal pop/HOSTNAME)
 *	realm =			the user realm of names without "@" (empty:
 *				libsasl2 uses hostname).  When set, libsasl2
 *				names users "user@realm"; the plugin strips
 *				"@realm" again, so local names stay "user".
 *	userdb = virtual	virtual | passwd: how lookup() maps the
 *				authenticated identity to a uid, gid and
 *				maildrop (below)
 *	home =			userdb virtual: home template
 *	maildrop =		userdb virtual: maildrop template (empty: the
 *				daemon's mail_location)
 *	min_uid = 1000		userdb passwd: lowest uid that may log in
 * Templates: %u the identity, %n its part before "@", %d its part after
 * "@" (or the realm setting), %% a "%".  They must give absolute paths.
 *
 * libsasl2 is set up with three callbacks: SASL_CB_GETCONFPATH (conf_dir),
 * SASL_CB_LOG (to host->log, see sp_cb_log for what is dropped) and
 * SASL_CB_VERIFYFILE: every file libsasl2 asks about (its configuration
 * file, the mechanism plugins it loads) must pass host->trusted_file(),
 * the daemon's rule for files root believes.  A file that fails is
 * refused: an untrusted configuration file stops libsasl2 from starting
 * (TEMPFAIL for every login), an untrusted mechanism plugin is not
 * loaded.  libsasl2 does not ask about the sasldb through that callback
 * (its check runs without the application's callbacks), so the plugin
 * checks the sasldb file itself (sasldb_path of the configuration, or
 * /etc/sasldb2) before every connection it opens: untrusted, every
 * login is TEMPFAIL.
 *
 * Service name "pop" (RFC 5034 section 4), application name "pop23d".
 *
 * How results map (FAIL and NOUSER give the client the same reply):
 *	SASL_OK                                     OK
 *	SASL_NOUSER                                 NOUSER
 *	SASL_BADAUTH, SASL_DISABLED, SASL_EXPIRED,
 *	SASL_NOVERIFY, SASL_NOAUTHZ, SASL_NOUSERPASS,
 *	SASL_WEAKPASS, SASL_BADBINDING              FAIL
 *	SASL_NOMECH, SASL_BADPROT, SASL_BADPARAM,
 *	SASL_TOOWEAK, SASL_ENCRYPT, SASL_BADVERS    PERMFAIL in an exchange
 *	                                            (unknown or refused
 *	                                            mechanism, malformed
 *	                                            input); FAIL in
 *	                                            verify_plain/verify_apop
 *	SASL_TRYAGAIN, SASL_UNAVAIL, SASL_NOMEM,
 *	SASL_NOTINIT, SASL_BUFOVER                  TEMPFAIL
 *	SASL_FAIL                                   TEMPFAIL in verify_plain
 *	                                            and verify_apop (backend
 *	                                            trouble is all that gives
 *	                                            it there); FAIL in an
 *	                                            exchange, where mechanisms
 *	                                            also return it for input
 *	                                            they cannot decode
 * A locked or expired account (SASL_DISABLED, SASL_EXPIRED) is answered
 * like a wrong password: doc/PLUGINS.md section 8.
 *
 * Security properties of every exchange (SASL_SEC_PROPS): no security
 * layer (max_ssf 0: pop23d never encodes the stream after AUTH, so no
 * mechanism may negotiate integrity or confidentiality), no anonymous
 * login (SASL_SEC_NOANONYMOUS), and no mechanism that sends a reusable
 * password in the clear (SASL_SEC_NOPLAINTEXT: PLAIN, LOGIN) when the
 * connection says plaintext is not allowed.  libsasl2 then leaves those
 * mechanisms out of sasl_listmech() and refuses them in
 * sasl_server_start() (SASL_NOMECH), so the check is made once, by the
 * library, in both places.  Authorization: libsasl2's default policy
 * (the authorization identity must be the authentication identity; no
 * proxy logins).
 *
 * Data with success (RFC 4422 section 3.6; SCRAM's server-final message,
 * DIGEST-MD5's rspauth): POP3 has no room for it in "+OK" (RFC 5034
 * section 4), so it is sent as one more challenge (POP23D_CONTINUE), and
 * the client's next response must be empty; only then is the result OK.
 *
 * Unknown users in SCRAM: libsasl2 answers the client-first message of
 * an unknown user with SASL_NOUSER at once, while a known user gets the
 * server-first challenge after PBKDF2 over the iteration count: the
 * reply would tell who exists.  The plugin answers such a client-first
 * message itself with a decoy of the same form ("r=" the client's nonce
 * and 24 random octets, "s=" a salt derived from the name with a random
 * per-process key, "i=" scram_iteration_counter) after the same work
 * (Hi() computed as libsasl2 computes it), and the client's proof then
 * fails (NOUSER), like a wrong
 * password does.  This imitates a reply; it authenticates nobody.
 *
 * APOP: sasl_checkapop() compares the digest with strncasecmp(), which
 * is not constant time.  So verify_apop() asks libsasl2 for the user's
 * plaintext secret (the auxprop "userPassword", which sasldb stores),
 * computes MD5(challenge secret) itself and compares with CRYPTO_memcmp.
 * The lookup runs through sasl_user_exists() on a connection whose
 * pwcheck_method is forced to auxprop (sp_cb_apop_getopt: libsasl2's
 * saslauthd verifier would crash on the NULL password it gets there).
 * A user without a plaintext secret (an unknown user, a saslauthd-only
 * configuration) costs the same MD5 over a stand-in secret and fails
 * (plugins/apop.c: the digest check all APOP plugins share).
 * The secret is erased from libsasl2's property context at once.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <sasl/sasl.h>
#include <sasl/prop.h>

#include "pop23d/plugin.h"
#include "apop.h"
#include "hostcheck.h"
#include "sysuser.h"

#define SP_NAME			"sasl"
#define SP_SERVICE		"pop"		/* RFC 5034 section 4 */
#define SP_APPNAME		"pop23d"	/* reads SP_APPNAME.conf */
#define SP_CONF_DIR_DEFAULT	"/etc/sasl2"
/* libsasl2's SASL_DB_PATH as Debian builds it. */
#define SP_SASLDB_DEFAULT	"/etc/sasldb2"

/* A host name (RFC 1035: 255 octets) and a realm of the same size. */
#define SP_NAME_MAX		255
/* RFC 4422 section 3.1: a mechanism name is 1-20 characters of
 * [A-Z0-9-_]. */
#define SP_MECH_MAX		20
/* One client response the plugin passes on.  The host bounds them far
 * lower (the POP3 line length); this only keeps the size_t -> unsigned
 * conversion for libsasl2 exact. */
#define SP_IN_MAX		(1024 * 1024)
/* libsasl2's configuration file is read here only for two keys; a real
 * one is a few hundred octets. */
#define SP_CONF_MAX		(64 * 1024)
/* "address;port" for libsasl2. */
#define SP_IPPORT_MAX		(64 + 1 + 5 + 1)
/* SCRAM (RFC 5802) as libsasl2 2.1.28 answers a client-first message:
 * "r=" client nonce + 32 base64 characters (24 random octets), "s="
 * base64 of a salt as long as the hash, "i=" the iteration count (its
 * option scram_iteration_counter, default 4096).  The decoy for unknown
 * users has the same form; SP_DECOY_MAX bounds it (a client nonce of up
 * to 256 characters: longer ones are not answered with a decoy). */
#define SP_SCRAM_NONCE_RAW	24
#define SP_SCRAM_ITER_DEFAULT	4096UL
#define SP_SCRAM_ITER_MAX	1000000UL
#define SP_SCRAM_CNONCE_MAX	256
#define SP_DECOY_MAX		512

enum sp_userdb {
	SP_USERDB_VIRTUAL = 1,
	SP_USERDB_PASSWD = 2,
};

struct sp_settings {
	char conf_dir[PATH_MAX];
	char hostname[SP_NAME_MAX + 1];	/* "" = gethostname() */
	char realm[SP_NAME_MAX + 1];	/* "" = none */
	enum sp_userdb userdb;
	char home[PATH_MAX];		/* template or "" */
	char maildrop[PATH_MAX];	/* template or "" */
	unsigned long min_uid;
};

/* One SASL exchange (the state of sasl_start/sasl_step). */
struct sp_exchange {
	sasl_conn_t *conn;
	int success_pending;	/* success data sent as a challenge */
	const EVP_MD *scram_md;	/* a SCRAM mechanism: its hash, else NULL */
	int client_first_seen;	/* SCRAM: the client-first message came */
	int decoy;		/* SCRAM: an unknown user got a decoy */
	char decoy_out[SP_DECOY_MAX];
};

static const struct pop23d_host *host;
static struct sp_settings settings;
static int settings_ok;
static const char *settings_error;	/* static text or errbuf */
static char errbuf[PATH_MAX + 200];
static char fqdn[SP_NAME_MAX + 1];	/* serverFQDN in use */

static int sasl_up;		/* sasl_server_init() done in this process */
/* The sasldb file libsasl2 reads in this process ("" when the
 * configuration uses no sasldb), checked before every connection. */
static char sasldb_path[PATH_MAX];
/* scram_iteration_counter of the configuration in this process. */
static unsigned long scram_iter = SP_SCRAM_ITER_DEFAULT;
/* Key of the decoy salts, random per process (as libsasl2's own). */
static unsigned char decoy_key[16];
static char *mechs_buf;		/* sasl_mechs()'s answer */

static struct pop23d_plugin sp_plugin;

/* ------------------------------------------------------------ settings */

static const char * __attribute__((format(printf, 1, 2)))
sp_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return errbuf;
}

/* A template: absolute, only %u %n %d %% escapes, no control characters.
 * NULL if good, else the reason. */
static const char *
check_template(const char *key, const char *t)
{
	const char *p;

	if (*t != '/')
		return sp_error("%s is not an absolute path", key);
	for (p = t; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return sp_error("control character in %s", key);
		if (*p == '%') {
			p++;
			if (*p != 'u' && *p != 'n' && *p != 'd' && *p != '%')
				return sp_error("%s: only %%u, %%n, %%d and %%%% "
				    "may follow '%%'", key);
		}
	}
	return NULL;
}

/* A host name or realm: printable ASCII without spaces, '@' or '/'. */
static int
name_ok(const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > SP_NAME_MAX)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '@' || *p == '/')
			return 0;
	return 1;
}

/* Copy [sasl] KEY (if set) into BUF of SIZE, checked as a template;
 * S is the settings read so far. */
static int
read_template(const struct sp_settings *s, const char *key, char *buf,
    size_t size)
{
	const char *v = host->config_get(SP_NAME, key), *why;

	buf[0] = '\0';
	if (v == NULL || *v == '\0')
		return 0;
	if (s->userdb != SP_USERDB_VIRTUAL) {
		settings_error = sp_error("%s needs userdb = virtual (with "
		    "userdb = passwd the home is the user's own)", key);
		return -1;
	}
	if (strlen(v) >= size) {
		settings_error = sp_error("%s is too long", key);
		return -1;
	}
	if ((why = check_template(key, v)) != NULL) {
		settings_error = why;
		return -1;
	}
	memcpy(buf, v, strlen(v) + 1);
	return 0;
}

/* Read [sasl] into SETTINGS.  0, or -1 with settings_error set (and
 * SETTINGS as they were). */
static int
sp_read_settings(void)
{
	static struct sp_settings s;	/* 3 paths: not on the stack */
	const char *v, *why;

	memset(&s, 0, sizeof s);

	v = host->config_get(SP_NAME, "conf_dir");
	if (v == NULL || *v == '\0')
		v = SP_CONF_DIR_DEFAULT;
	/* libsasl2 takes a ':'-separated search path: one directory here,
	 * so the file it reads is the one the plugin checks. */
	if (*v != '/' || strchr(v, ':') != NULL ||
	    strlen(v) + sizeof "/" SP_APPNAME ".conf" > sizeof s.conf_dir) {
		settings_error = "conf_dir must be one absolute directory "
		    "(no ':')";
		return -1;
	}
	memcpy(s.conf_dir, v, strlen(v) + 1);

	if ((v = host->config_get(SP_NAME, "hostname")) != NULL && *v != '\0') {
		if (!name_ok(v)) {
			settings_error = "hostname must be 1-255 printable "
			    "characters without spaces, '@' or '/'";
			return -1;
		}
		memcpy(s.hostname, v, strlen(v) + 1);
	}
	if ((v = host->config_get(SP_NAME, "realm")) != NULL && *v != '\0') {
		if (!name_ok(v)) {
			settings_error = "realm must be 1-255 printable "
			    "characters without spaces, '@' or '/'";
			return -1;
		}
		memcpy(s.realm, v, strlen(v) + 1);
	}

	v = host->config_get(SP_NAME, "userdb");
	if (v == NULL || strcmp(v, "virtual") == 0)
		s.userdb = SP_USERDB_VIRTUAL;
	else if (strcmp(v, "passwd") == 0)
		s.userdb = SP_USERDB_PASSWD;
	else {
		settings_error = "userdb must be virtual or passwd";
		return -1;
	}
	if (read_template(&s, "home", s.home, sizeof s.home) != 0 ||
	    read_template(&s, "maildrop", s.maildrop,
	    sizeof s.maildrop) != 0)
		return -1;
	s.min_uid = SYSUSER_MIN_UID_DEFAULT;
	if ((v = host->config_get(SP_NAME, "min_uid")) != NULL) {
		if (s.userdb != SP_USERDB_PASSWD) {
			settings_error = "min_uid needs userdb = passwd";
			return -1;
		}
		if (sysuser_parse_min_uid(v, &s.min_uid, &why) != 0) {
			settings_error = why;
			return -1;
		}
	}
	settings = s;
	settings_ok = 1;
	return 0;
}

/* conf_dir/pop23d.conf into BUF. */
static void
conf_path(char *buf, size_t size)
{
	snprintf(buf, size, "%s/" SP_APPNAME ".conf", settings.conf_dir);
}

/* ---------------------------------------------------- the SASL config */

/* Does the space-separated list LIST hold only words of WORDS? */
static int
only_words(const char *list, const char *const *words)
{
	const char *p = list, *e;
	size_t n, i;
	int any = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return any;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		n = (size_t)(e - p);
		for (i = 0; words[i] != NULL; i++)
			if (strlen(words[i]) == n &&
			    strncasecmp(words[i], p, n) == 0)
				break;
		if (words[i] == NULL)
			return 0;
		any = 1;
		p = e;
	}
}

/* The keys of libsasl2's configuration the plugin looks at. */
struct sp_conf {
	int readable;		/* the file exists, is trusted, was read */
	char pwcheck[256];	/* pwcheck_method; default "auxprop" */
	char auxprop[256];	/* auxprop_plugin; "" = every plugin */
	char sasldb[PATH_MAX];	/* sasldb_path; default SP_SASLDB_DEFAULT */
	char scram_iter[32];	/* scram_iteration_counter; "" = default */
};

/* Copy the first value of each key (libsasl2's rule) into C. */
static void
conf_take(struct sp_conf *c, const char *key, const char *v, int *seen)
{
	static const char *const keys[] = { "pwcheck_method",
	    "auxprop_plugin", "sasldb_path", "scram_iteration_counter" };
	char *dst[] = { c->pwcheck, c->auxprop, c->sasldb, c->scram_iter };
	size_t size[] = { sizeof c->pwcheck, sizeof c->auxprop,
	    sizeof c->sasldb, sizeof c->scram_iter };
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(key, keys[i]) == 0 && !(*seen & (1 << i))) {
			*seen |= 1 << i;
			snprintf(dst[i], size[i], "%s", v);
		}
}

/*
 * Read pwcheck_method, auxprop_plugin and sasldb_path from
 * conf_dir/pop23d.conf with libsasl2's own rules (lib/config.c: "key:
 * value" lines, keys folded to lower case, '#' comments, the first of
 * repeated keys wins).  The file is checked with host->trusted_file()
 * first; a missing, untrusted or unreadable file leaves the defaults and
 * readable == 0.
 */
static void
sp_conf_scan(struct sp_conf *c)
{
	char path[PATH_MAX + 32], *buf = NULL, *line, *next, *v, *e, *k;
	const char *why;
	FILE *f = NULL;
	size_t n;
	int seen = 0;

	memset(c, 0, sizeof *c);
	snprintf(c->pwcheck, sizeof c->pwcheck, "auxprop");
	snprintf(c->sasldb, sizeof c->sasldb, SP_SASLDB_DEFAULT);
	conf_path(path, sizeof path);
	if (access(path, F_OK) != 0)
		return;
	if (host->trusted_file(path, &why) != 0)
		return;
	if ((f = fopen(path, "re")) == NULL ||
	    (buf = malloc(SP_CONF_MAX + 1)) == NULL)
		goto out;
	n = fread(buf, 1, SP_CONF_MAX + 1, f);
	if (n > SP_CONF_MAX || ferror(f))
		goto out;
	buf[n] = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		for (k = line; isalnum((unsigned char)*k) || *k == '-' ||
		    *k == '_'; k++)
			*k = (char)tolower((unsigned char)*k);
		if (*k != ':')
			continue;	/* libsasl2 refuses the whole file */
		*k = '\0';
		v = k + 1;
		while (isspace((unsigned char)*v))
			v++;
		for (e = v + strlen(v); e > v && isspace((unsigned char)e[-1]);
		    e--)
			;
		*e = '\0';
		if (*v != '\0')
			conf_take(c, line, v, &seen);
	}
	c->readable = 1;
out:
	if (f != NULL)
		fclose(f);
	free(buf);
}

/*
 * May the backends of the SASL configuration block for seconds?  Not
 * when passwords are checked by auxprop (the default) and the only
 * auxprop backend is sasldb, a local file.  saslauthd (which may ask
 * LDAP, Kerberos or PAM), authdaemond, ldapdb and sql may wait on the
 * network; with no auxprop_plugin libsasl2 asks every auxprop plugin
 * installed, which may be one of those.  A file that cannot be read or
 * is not trusted counts as blocking (check_config() reports it).
 */
static int
sp_conf_blocking(const struct sp_conf *c)
{
	static const char *const checks[] = { "auxprop", "auxprop-hashed",
	    NULL };
	static const char *const local[] = { "sasldb", NULL };

	return !c->readable || !only_words(c->pwcheck, checks) ||
	    !only_words(c->auxprop, local);
}

/* Does the configuration use the sasldb auxprop plugin (named, or every
 * plugin installed)? */
static int
sp_conf_sasldb(const struct sp_conf *c)
{
	const char *p = c->auxprop;
	size_t n = strlen("sasldb");

	if (*p == '\0')
		return 1;
	for (; (p = strstr(p, "sasldb")) != NULL; p += n)
		if ((p == c->auxprop || p[-1] == ' ' || p[-1] == '\t') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\t'))
			return 1;
	return 0;
}

/* Set the descriptor's flags from the configuration (see the file
 * header: never NEEDS_ROOT). */
static void
sp_set_flags(void)
{
	struct sp_conf c;

	sp_conf_scan(&c);
	sp_plugin.flags = sp_conf_blocking(&c) ? POP23D_PLUGIN_F_BLOCKING : 0;
}

/* ------------------------------------------------------ libsasl2 setup */

static int
sp_cb_getconfpath(void *ctx, char **path)
{
	(void)ctx;
	*path = settings.conf_dir;
	return SASL_OK;
}

/*
 * libsasl2's log lines.  SASL_LOG_TRACE and SASL_LOG_PASS (traces of
 * protocol exchanges, the latter with passwords) are dropped whatever
 * the configuration's log_level says; the rest go to the host, which
 * escapes them (they may quote user names).
 */
static int
sp_cb_log(void *ctx, int level, const char *msg)
{
	int pri;

	(void)ctx;
	if (msg == NULL)
		return SASL_OK;
	switch (level) {
	case SASL_LOG_ERR:
		pri = LOG_ERR;
		break;
	case SASL_LOG_WARN:
		pri = LOG_WARNING;
		break;
	case SASL_LOG_FAIL:
		pri = LOG_INFO;
		break;
	case SASL_LOG_NOTE:
	case SASL_LOG_DEBUG:
		pri = LOG_DEBUG;
		break;
	default:
		return SASL_OK;
	}
	host->log(pri, "libsasl2: %.400s", msg);
	return SASL_OK;
}

/* Every file libsasl2 is about to trust: see the file header. */
static int
sp_cb_verifyfile(void *ctx, const char *file, sasl_verify_type_t type)
{
	static const char *const what[] = { "mechanism plugin",
	    "configuration file", "password database", "file" };
	const char *why;
	struct stat st;

	(void)ctx;
	if (file == NULL)
		return SASL_BADPARAM;
	/* A missing file is libsasl2's business: no configuration file
	 * means its defaults, no sasldb means "no such user". */
	if (lstat(file, &st) == -1 && errno == ENOENT)
		return SASL_OK;
	if (host->api < 3 || host->trusted_file(file, &why) == 0)
		return SASL_OK;
	host->log(LOG_ERR, "libsasl2 %s refused: %s",
	    (unsigned)type < sizeof what / sizeof what[0] ? what[type] :
	    "file", why);
	return SASL_FAIL;
}

/* libsasl2 stores every callback as int (*)(void); the detour through
 * void (*)(void), the generic function pointer type, says the cast is
 * meant (each is called back with its own type). */
#define SP_CB(f)	((int (*)(void))(void (*)(void))(f))

static sasl_callback_t sp_callbacks[] = {
	{ SASL_CB_GETCONFPATH, SP_CB(sp_cb_getconfpath), NULL },
	{ SASL_CB_LOG, SP_CB(sp_cb_log), NULL },
	{ SASL_CB_VERIFYFILE, SP_CB(sp_cb_verifyfile), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/*
 * Non-zero (with the reason in *why_r) if the sasldb file PATH exists
 * and fails host->trusted_file().  Debian installs /etc/sasldb2 mode
 * 0660 root:sasl, so that every member of group sasl could add a user:
 * the reason says what to change.
 */
static int
sasldb_untrusted(const char *path, const char **why_r)
{
	const char *why;

	if (access(path, F_OK) != 0 || host->trusted_file(path, &why) == 0)
		return 0;
	*why_r = sp_error("%s (the sasldb decides who logs in: make it "
	    "mode 0640, e.g. dpkg-statoverride --update --add root sasl 640 "
	    "%s; chmod 640 %s)", why, path, path);
	return 1;
}

/* Start libsasl2 in this process if that has not been done.  0 or -1
 * (logged). */
static int
sp_sasl_start(void)
{
	struct sp_conf c;
	int rc;

	if (sasl_up)
		return 0;
	if (!settings_ok) {
		host->log(LOG_ERR, "[" SP_NAME "]: %s", settings_error);
		return -1;
	}
	if (settings.hostname[0] != '\0')
		memcpy(fqdn, settings.hostname, sizeof fqdn);
	else if (gethostname(fqdn, sizeof fqdn - 1) != 0 || fqdn[0] == '\0')
		snprintf(fqdn, sizeof fqdn, "localhost");
	fqdn[sizeof fqdn - 1] = '\0';
	sp_conf_scan(&c);
	snprintf(sasldb_path, sizeof sasldb_path, "%s",
	    sp_conf_sasldb(&c) ? c.sasldb : "");
	/* libsasl2's rule: a number, else the default. */
	scram_iter = SP_SCRAM_ITER_DEFAULT;
	if (c.scram_iter[0] != '\0') {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(c.scram_iter, &end, 10);
		if (errno == 0 && *end == '\0' && end != c.scram_iter &&
		    v > 0 && v <= SP_SCRAM_ITER_MAX)
			scram_iter = v;
	}
	if (RAND_bytes(decoy_key, sizeof decoy_key) != 1) {
		host->log(LOG_ERR, "RAND_bytes failed");
		return -1;
	}
	rc = sasl_server_init(sp_callbacks, SP_APPNAME);
	if (rc != SASL_OK) {
		host->log(LOG_ERR, "sasl_server_init (configuration %s/"
		    SP_APPNAME ".conf): %s", settings.conf_dir,
		    sasl_errstring(rc, NULL, NULL));
		/* A failed init cleans up after itself: the next op
		 * tries again. */
		return -1;
	}
	sasl_up = 1;
	return 0;
}

/* "ADDR;PORT" into BUF, or NULL when unknown or not numeric. */
static const char *
ipport(const char *ip, unsigned port, char *buf, size_t size)
{
	const char *p;

	if (ip == NULL || *ip == '\0' || port == 0 || port > 65535)
		return NULL;
	for (p = ip; *p != '\0'; p++)
		if (!isxdigit((unsigned char)*p) && *p != '.' && *p != ':' &&
		    *p != '%' && !isalnum((unsigned char)*p))
			return NULL;
	if (snprintf(buf, size, "%s;%u", ip, port) >= (int)size)
		return NULL;
	return buf;
}

/*
 * A server connection for one check or exchange, with the security
 * properties of the file header.  CI may be NULL (USER/PASS, APOP: the
 * ops have no connection data); CBS are the connection's own callbacks
 * (NULL: none; libsasl2 keeps the pointer).  0, or -1 (logged).
 */
static int
sp_conn_new(const struct pop23d_conn_info *ci, const sasl_callback_t *cbs,
    sasl_conn_t **conn_r)
{
	sasl_security_properties_t sp;
	char lbuf[SP_IPPORT_MAX], rbuf[SP_IPPORT_MAX];
	const char *l = NULL, *r = NULL, *why;
	int rc;

	*conn_r = NULL;
	if (sp_sasl_start() != 0)
		return -1;
	/* libsasl2 checks the sasldb through SASL_CB_VERIFYFILE only when
	 * its auxprop plugin starts, and without the application's
	 * callbacks (it has no connection then), so the check is made here,
	 * before every use.  A missing file is "no such user". */
	if (sasldb_path[0] != '\0' && sasldb_untrusted(sasldb_path, &why)) {
		host->log(LOG_ERR, "sasldb refused: %s", why);
		return -1;
	}
	if (ci != NULL) {
		l = ipport(ci->local_ip, ci->local_port, lbuf, sizeof lbuf);
		r = ipport(ci->remote_ip, ci->remote_port, rbuf, sizeof rbuf);
	}
	rc = sasl_server_new(SP_SERVICE, fqdn,
	    settings.realm[0] != '\0' ? settings.realm : NULL, l, r, cbs,
	    SASL_SUCCESS_DATA, conn_r);
	if (rc != SASL_OK) {
		host->log(LOG_ERR, "sasl_server_new: %s",
		    sasl_errstring(rc, NULL, NULL));
		*conn_r = NULL;
		return -1;
	}
	/* A client certificate the pre-auth process verified (TLS, DESIGN
	 * 2.9): its name is the identity SASL EXTERNAL (RFC 4422 appendix
	 * A) asserts; libsasl2 offers EXTERNAL only when it is set. */
	if (ci != NULL && ci->secured && ci->tls_peer_cn != NULL &&
	    ci->tls_peer_cn[0] != '\0' &&
	    (rc = sasl_setprop(*conn_r, SASL_AUTH_EXTERNAL,
	    ci->tls_peer_cn)) != SASL_OK) {
		host->log(LOG_ERR, "sasl_setprop(SASL_AUTH_EXTERNAL): %s",
		    sasl_errstring(rc, NULL, NULL));
		sasl_dispose(conn_r);
		*conn_r = NULL;
		return -1;
	}
	memset(&sp, 0, sizeof sp);
	sp.min_ssf = 0;
	sp.max_ssf = 0;		/* no security layer */
	sp.maxbufsize = 0;
	sp.security_flags = SASL_SEC_NOANONYMOUS;
	if (ci != NULL && !ci->plaintext_ok)
		sp.security_flags |= SASL_SEC_NOPLAINTEXT;
	if ((rc = sasl_setprop(*conn_r, SASL_SEC_PROPS, &sp)) != SASL_OK) {
		host->log(LOG_ERR, "sasl_setprop(SASL_SEC_PROPS): %s",
		    sasl_errstring(rc, NULL, NULL));
		sasl_dispose(conn_r);
		*conn_r = NULL;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ results */

/* The result of a failed libsasl2 call.  EXCHANGE: the call ran a
 * mechanism over client data (see the file header). */
static enum pop23d_result
sp_map(int rc, int exchange)
{
	switch (rc) {
	case SASL_OK:
		return POP23D_OK;
	case SASL_CONTINUE:
		return POP23D_CONTINUE;
	case SASL_NOUSER:
		return POP23D_NOUSER;
	case SASL_BADAUTH:
	case SASL_DISABLED:
	case SASL_EXPIRED:
	case SASL_NOVERIFY:
	case SASL_NOAUTHZ:
	case SASL_NOUSERPASS:
	case SASL_WEAKPASS:
	case SASL_BADBINDING:
		return POP23D_FAIL;
	case SASL_NOMECH:
	case SASL_BADPROT:
	case SASL_BADPARAM:
	case SASL_TOOWEAK:
	case SASL_ENCRYPT:
	case SASL_BADVERS:
		return exchange ? POP23D_PERMFAIL : POP23D_FAIL;
	case SASL_FAIL:
		return exchange ? POP23D_FAIL : POP23D_TEMPFAIL;
	default:
		/* SASL_TRYAGAIN, SASL_UNAVAIL, SASL_NOMEM, SASL_NOTINIT,
		 * SASL_BUFOVER, and anything newer. */
		return POP23D_TEMPFAIL;
	}
}

/* Log why CONN's call failed with RC, at a priority that fits R. */
static void
sp_log_failure(sasl_conn_t *conn, int rc, enum pop23d_result r,
    const char *what, const char *user)
{
	const char *detail = conn != NULL ? sasl_errdetail(conn) : NULL;

	if (detail == NULL)
		detail = sasl_errstring(rc, NULL, NULL);
	host->log(r == POP23D_TEMPFAIL ? LOG_ERR : LOG_INFO, "%s%s%s: %s",
	    what, user != NULL ? " user=" : "", user != NULL ? user : "",
	    detail);
}

/*
 * libsasl2's canonical name NAME as the plugin hands it on: "@realm"
 * stripped when it is the realm setting.  Into BUF of SIZE; -1 if NAME
 * is not a name the daemon takes (1-255 printable ASCII octets without
 * spaces, as for USER) or does not fit.
 */
static int
sp_identity(const char *name, char *buf, size_t size)
{
	size_t n, rl = strlen(settings.realm);
	const char *p;

	if (name == NULL || *name == '\0')
		return -1;
	n = strlen(name);
	if (rl > 0 && n > rl + 1 && name[n - rl - 1] == '@' &&
	    strcmp(name + n - rl, settings.realm) == 0)
		n -= rl + 1;
	if (n == 0 || n > 255 || n >= size)
		return -1;
	for (p = name; p < name + n; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return -1;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return 0;
}

/* ---------------------------------------------------------- verify_* */

static enum pop23d_result
sp_verify_plain(const char *user, const char *pass)
{
	sasl_conn_t *conn = NULL;
	enum pop23d_result r;
	int rc;

	if (user == NULL || pass == NULL || *user == '\0' || *pass == '\0')
		return POP23D_FAIL;
	if (strlen(user) > SP_IN_MAX || strlen(pass) > SP_IN_MAX)
		return POP23D_FAIL;
	if (sp_conn_new(NULL, NULL, &conn) != 0)
		return POP23D_TEMPFAIL;
	rc = sasl_checkpass(conn, user, (unsigned)strlen(user), pass,
	    (unsigned)strlen(pass));
	r = sp_map(rc, 0);
	if (r == POP23D_TEMPFAIL)
		sp_log_failure(conn, rc, r, "sasl_checkpass", user);
	sasl_dispose(&conn);
	return r;
}

/*
 * The APOP connection's own SASL_CB_GETOPT: pwcheck_method is "auxprop"
 * there, whatever the configuration says.  sasl_user_exists() runs each
 * password verifier of pwcheck_method with a NULL password; libsasl2
 * 2.1.28's saslauthd verifier takes strlen() of it and crashes.  Only
 * the auxprop lookup is wanted here anyway.  Every other option comes
 * from the configuration (SASL_FAIL: not answered here).
 */
static int
sp_cb_apop_getopt(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	(void)ctx;
	if (plugin != NULL || option == NULL ||
	    strcmp(option, "pwcheck_method") != 0)
		return SASL_FAIL;
	*result = "auxprop";
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static const sasl_callback_t sp_apop_callbacks[] = {
	{ SASL_CB_GETOPT, SP_CB(sp_cb_apop_getopt), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/*
 * APOP: see the file header.  sasl_user_exists() canonicalizes the user
 * (realm and all) and runs the auxprop lookup of the password verifier;
 * with no password to check it stops there and leaves the properties it
 * fetched in the connection's property context, where prop_getnames()
 * reads userPassword.
 */
static enum pop23d_result
sp_verify_apop(const char *user, const char *challenge, const char *digest)
{
	static const char *const names[] = { SASL_AUX_PASSWORD, NULL };
	struct propval vals[2];
	struct propctx *ctx;
	sasl_conn_t *conn = NULL;
	const char *secret = NULL;
	size_t clen;
	int rc;
	enum apop_result a;
	enum pop23d_result r;

	if ((clen = apop_args(user, challenge, digest)) == 0)
		return POP23D_FAIL;
	if (strlen(user) > SP_IN_MAX)
		return POP23D_FAIL;
	if (sp_conn_new(NULL, sp_apop_callbacks, &conn) != 0)
		return POP23D_TEMPFAIL;

	rc = sasl_user_exists(conn, NULL, NULL, user);
	if (rc != SASL_OK && rc != SASL_NOUSER) {
		r = sp_map(rc, 0);
		sp_log_failure(conn, rc, r, "APOP: sasl_user_exists", user);
		sasl_dispose(&conn);
		return r;
	}
	memset(vals, 0, sizeof vals);
	if (rc == SASL_OK && (ctx = sasl_auxprop_getctx(conn)) != NULL &&
	    prop_getnames(ctx, (const char **)names, vals) >= 0 &&
	    vals[0].values != NULL && vals[0].values[0] != NULL &&
	    vals[0].values[0][0] != '\0')
		secret = vals[0].values[0];
	r = secret != NULL ? POP23D_FAIL : rc == SASL_NOUSER ? POP23D_NOUSER :
	    POP23D_FAIL;

	/* The same MD5 and compare for everyone (apop.c). */
	a = apop_check(challenge, clen, secret,
	    secret != NULL ? strlen(secret) : 0, digest);
	if (a == APOP_NO_MD5) {
		host->log(LOG_ERR, "APOP: MD5 is not available from "
		    "libcrypto");
		r = POP23D_TEMPFAIL;
	} else if (a == APOP_MATCH) {
		r = POP23D_OK;
	}
	if ((ctx = sasl_auxprop_getctx(conn)) != NULL)
		prop_erase(ctx, SASL_AUX_PASSWORD);
	sasl_dispose(&conn);
	return r;
}

/* -------------------------------------------------------------- lookup */

/* Expand template T for identity USER into OUT of SIZE.  0 or -1. */
static int
sp_expand(const char *t, const char *user, char *out, size_t size)
{
	const char *p, *ins, *at = strchr(user, '@');
	size_t w = 0, len;

	if (*user == '.' || strchr(user, '/') != NULL)
		return -1;
	for (p = t; *p != '\0'; p++) {
		ins = p;
		len = 1;
		if (*p == '%') {
			p++;
			switch (*p) {
			case 'u':
				ins = user;
				len = strlen(user);
				break;
			case 'n':
				ins = user;
				len = at != NULL ? (size_t)(at - user) :
				    strlen(user);
				break;
			case 'd':
				ins = at != NULL ? at + 1 : settings.realm;
				len = strlen(ins);
				break;
			default:
				ins = "%";
				len = 1;
				break;
			}
			/* "%n" of "@x" or "%d" without a realm would leave an
			 * empty path component. */
			if (len == 0 || (len > 0 && *ins == '.'))
				return -1;
		}
		if (w + len >= size)
			return -1;
		memcpy(out + w, ins, len);
		w += len;
	}
	out[w] = '\0';
	return 0;
}

static enum pop23d_result
sp_lookup(const char *user, struct pop23d_identity *id_r)
{
	char name[256];
	struct sysuser u;
	enum pop23d_result r;

	id_r->uid = (uid_t)-1;
	id_r->gid = (gid_t)-1;
	id_r->home[0] = '\0';
	id_r->maildrop[0] = '\0';
	if (user == NULL || *user == '\0')
		return POP23D_NOUSER;
	if (!settings_ok)
		return POP23D_TEMPFAIL;
	/* "user@realm" of the default realm is "user" (USER/PASS may name
	 * it either way; sasl_start hands on the short form). */
	if (sp_identity(user, name, sizeof name) != 0) {
		host->log(LOG_WARNING, "user=%s: not a usable name", user);
		return POP23D_PERMFAIL;
	}
	if (settings.userdb == SP_USERDB_PASSWD) {
		if (!sysuser_lookup(host, name, settings.min_uid,
		    POP23D_PERMFAIL, &u, &r))
			return r;
		return sysuser_identity(&u, id_r);
	}
	if ((settings.home[0] != '\0' && sp_expand(settings.home, name,
	    id_r->home, sizeof id_r->home) != 0) ||
	    (settings.maildrop[0] != '\0' && sp_expand(settings.maildrop,
	    name, id_r->maildrop, sizeof id_r->maildrop) != 0)) {
		host->log(LOG_WARNING, "user=%s: the name cannot be part of "
		    "the home or maildrop template", name);
		id_r->home[0] = '\0';
		id_r->maildrop[0] = '\0';
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}

/* ---------------------------------------------------------------- SASL */

/* What sasl_mechs/sasl_start assume when the host gives no connection:
 * nothing known, plaintext not allowed. */
static const struct pop23d_conn_info sp_ci_unknown = {
	.service = "", .remote_ip = "", .local_ip = "", .tls_peer_cn = "",
	.plaintext_ok = 0,
};

static const char *
sp_sasl_mechs(const struct pop23d_conn_info *ci)
{
	sasl_conn_t *conn = NULL;
	const char *list = NULL;
	unsigned len = 0;
	int count = 0, rc;
	char *n;

	if (sp_conn_new(ci != NULL ? ci : &sp_ci_unknown, NULL, &conn) != 0)
		return "";
	rc = sasl_listmech(conn, NULL, "", " ", "", &list, &len, &count);
	if (rc != SASL_OK || list == NULL) {
		/* SASL_NOMECH: nothing fits the security properties. */
		if (rc != SASL_NOMECH)
			sp_log_failure(conn, rc, POP23D_TEMPFAIL,
			    "sasl_listmech", NULL);
		sasl_dispose(&conn);
		return "";
	}
	if ((n = realloc(mechs_buf, (size_t)len + 1)) == NULL) {
		sasl_dispose(&conn);
		return "";
	}
	mechs_buf = n;
	memcpy(mechs_buf, list, len);
	mechs_buf[len] = '\0';
	sasl_dispose(&conn);
	return mechs_buf;
}

/* Non-zero if M is a mechanism name (RFC 4422 section 3.1). */
static int
mech_ok(const char *m)
{
	size_t n = strlen(m), i;

	if (n == 0 || n > SP_MECH_MAX)
		return 0;
	/* Upper case in the RFC; libsasl2 compares without case, and so
	 * do clients' AUTH lines in the wild. */
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)m[i]) && m[i] != '-' &&
		    m[i] != '_')
			return 0;
	return 1;
}

/* The hash of SCRAM mechanism MECH ("SCRAM-SHA-256", "-PLUS" allowed),
 * or NULL if MECH is not SCRAM. */
static const EVP_MD *
scram_md(const char *mech)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} t[] = {
		{ "SCRAM-SHA-1", EVP_sha1 }, { "SCRAM-SHA-224", EVP_sha224 },
		{ "SCRAM-SHA-256", EVP_sha256 }, { "SCRAM-SHA-384", EVP_sha384 },
		{ "SCRAM-SHA-512", EVP_sha512 },
	};
	size_t i, n;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		n = strlen(t[i].name);
		if (strncasecmp(mech, t[i].name, n) == 0 && (mech[n] == '\0' ||
		    strcasecmp(mech + n, "-PLUS") == 0))
			return t[i].md();
	}
	return NULL;
}

/*
 * Hi() of RFC 5802 (PBKDF2 with HMAC over MD, one output block) into
 * OUT, computed the way libsasl2 2.1.28 computes it (one HMAC() call per
 * round), so the decoy costs what a known user's login costs.  0 or -1.
 */
static int
sp_hi(const EVP_MD *md, const void *key, size_t key_len,
    const unsigned char *salt, size_t salt_len, unsigned long rounds,
    unsigned char *out)
{
	unsigned char first[EVP_MAX_MD_SIZE + 4], u[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t k, size = (size_t)EVP_MD_size(md);
	unsigned long i;

	if (salt_len > EVP_MAX_MD_SIZE)
		return -1;
	memcpy(first, salt, salt_len);
	memcpy(first + salt_len, "\0\0\0\1", 4);
	if (HMAC(md, key, (int)key_len, first, salt_len + 4, out, &len) ==
	    NULL || len != size)
		return -1;
	memcpy(u, out, size);
	for (i = 2; i <= rounds; i++) {
		if (HMAC(md, key, (int)key_len, u, size, u, &len) == NULL)
			return -1;
		for (k = 0; k < size; k++)
			out[k] ^= u[k];
	}
	host->secure_zero(u, sizeof u);
	return 0;
}

/*
 * The SCRAM decoy (see the file header).  IN is the client-first message
 * libsasl2 answered with SASL_NOUSER.  Writes the decoy server-first
 * message into X->decoy_out and spends what a known user costs
 * (PBKDF2 over scram_iteration_counter rounds, as libsasl2 does to
 * derive the keys from userPassword).  0, or -1 when IN is not a
 * client-first message the plugin can imitate an answer to (then the
 * client gets the failure at once, as from libsasl2).
 */
static int
scram_decoy(struct sp_exchange *x, const unsigned char *in, size_t in_len)
{
	unsigned char salt[EVP_MAX_MD_SIZE], keys[EVP_MAX_MD_SIZE];
	unsigned char rnd[SP_SCRAM_NONCE_RAW];
	char text[SP_DECOY_MAX], *p, *bare, *user, *nonce, *e;
	char b64salt[((EVP_MAX_MD_SIZE + 2) / 3) * 4 + 1];
	char b64rnd[((SP_SCRAM_NONCE_RAW + 2) / 3) * 4 + 1];
	int mdlen = EVP_MD_size(x->scram_md), n;

	if (in == NULL || in_len == 0 || in_len >= sizeof text ||
	    memchr(in, '\0', in_len) != NULL || mdlen <= 0)
		return -1;
	memcpy(text, in, in_len);
	text[in_len] = '\0';
	/* gs2-header: cbind-flag "," [authzid] "," */
	if ((p = strchr(text, ',')) == NULL ||
	    (bare = strchr(p + 1, ',')) == NULL)
		return -1;
	bare++;
	/* client-first-message-bare: "n=" user "," "r=" nonce ["," ...] */
	if (strncmp(bare, "n=", 2) != 0 || (e = strchr(bare, ',')) == NULL)
		return -1;
	user = bare + 2;
	*e = '\0';
	if (strncmp(e + 1, "r=", 2) != 0)
		return -1;
	nonce = e + 3;
	if ((e = strchr(nonce, ',')) != NULL)
		*e = '\0';
	if (*nonce == '\0' || strlen(nonce) > SP_SCRAM_CNONCE_MAX)
		return -1;
	for (p = nonce; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return -1;
	/* A salt that stays the same for the same name in this process,
	 * as libsasl2's does (Hi() over 20 rounds and a random
	 * per-process key). */
	if (sp_hi(x->scram_md, user, strlen(user), decoy_key,
	    sizeof decoy_key, 20, salt) != 0 ||
	    RAND_bytes(rnd, sizeof rnd) != 1)
		return -1;
	/* The work of a known user: the keys from the password, as
	 * libsasl2 derives them (Hi(), then two HMACs and a hash). */
	(void)sp_hi(x->scram_md, "pop23d-decoy", 12, salt, (size_t)mdlen,
	    scram_iter, keys);
	(void)HMAC(x->scram_md, keys, mdlen,
	    (const unsigned char *)"Client Key", 10, keys, NULL);
	(void)HMAC(x->scram_md, keys, mdlen,
	    (const unsigned char *)"Server Key", 10, keys, NULL);
	(void)EVP_Digest(keys, (size_t)mdlen, keys, NULL, x->scram_md, NULL);
	host->secure_zero(keys, sizeof keys);
	EVP_EncodeBlock((unsigned char *)b64salt, salt, mdlen);
	EVP_EncodeBlock((unsigned char *)b64rnd, rnd, sizeof rnd);
	n = snprintf(x->decoy_out, sizeof x->decoy_out, "r=%s%s,s=%s,i=%lu",
	    nonce, b64rnd, b64salt, scram_iter);
	if (n < 0 || (size_t)n >= sizeof x->decoy_out)
		return -1;
	x->decoy = 1;
	return 0;
}

/*
 * libsasl2 answered RC to IN, the client-first message of a SCRAM
 * exchange.  Non-zero when the answer is a decoy challenge (in *OUT_R):
 * the user is unknown, and the client must not learn that before its
 * proof fails.
 */
static int
sp_scram_first(struct sp_exchange *x, int rc, const unsigned char *in,
    size_t in_len, const unsigned char **out_r, size_t *out_len_r)
{
	x->client_first_seen = 1;
	if (rc != SASL_NOUSER || scram_decoy(x, in, in_len) != 0)
		return 0;
	host->log(LOG_DEBUG, "SASL: %s; a decoy challenge goes out",
	    sasl_errdetail(x->conn));
	*out_r = (const unsigned char *)x->decoy_out;
	*out_len_r = strlen(x->decoy_out);
	return 1;
}

/*
 * Turn libsasl2's answer RC (with OUT, OUTLEN) into the op's result; see
 * the file header for data with success.
 */
static enum pop23d_result
sp_exchange_result(struct sp_exchange *x, int rc, const char *out,
    unsigned outlen, const unsigned char **out_r, size_t *out_len_r,
    char *user_r, size_t user_size)
{
	const void *u = NULL;
	enum pop23d_result r;

	*out_r = (const unsigned char *)"";
	*out_len_r = 0;
	if (rc == SASL_CONTINUE || (rc == SASL_OK && outlen > 0)) {
		if (rc == SASL_OK)
			x->success_pending = 1;
		*out_r = (const unsigned char *)(out != NULL ? out : "");
		*out_len_r = out != NULL ? outlen : 0;
		return POP23D_CONTINUE;
	}
	if (rc != SASL_OK) {
		r = sp_map(rc, 1);
		/* libsasl2 logs wrong credentials itself (SASL_LOG_FAIL) and
		 * the daemon logs the result: the detail is for debugging. */
		if (r == POP23D_FAIL || r == POP23D_NOUSER)
			host->log(LOG_DEBUG, "SASL: %s",
			    sasl_errdetail(x->conn));
		else
			sp_log_failure(x->conn, rc, r, "SASL", NULL);
		return r;
	}
	if (sasl_getprop(x->conn, SASL_USERNAME, &u) != SASL_OK ||
	    sp_identity(u, user_r, user_size) != 0) {
		host->log(LOG_WARNING, "SASL: authenticated, but the "
		    "identity \"%.255s\" is not a usable name",
		    u != NULL ? (const char *)u : "");
		if (user_size > 0)
			user_r[0] = '\0';
		return POP23D_PERMFAIL;
	}
	return POP23D_OK;
}

static enum pop23d_result
sp_sasl_begin(const char *mech, const struct pop23d_conn_info *ci,
    const unsigned char *in, size_t in_len, void **state_r,
    const unsigned char **out_r, size_t *out_len_r, char *user_r,
    size_t user_size)
{
	struct sp_exchange *x;
	const char *out = NULL;
	unsigned outlen = 0;
	int rc;

	*state_r = NULL;
	*out_r = (const unsigned char *)"";
	*out_len_r = 0;
	if (user_size > 0)
		user_r[0] = '\0';
	if (mech == NULL || !mech_ok(mech) || in_len > SP_IN_MAX ||
	    (in == NULL && in_len != 0))
		return POP23D_PERMFAIL;
	if ((x = calloc(1, sizeof *x)) == NULL)
		return POP23D_TEMPFAIL;
	*state_r = x;
	if (sp_conn_new(ci != NULL ? ci : &sp_ci_unknown, NULL, &x->conn) != 0)
		return POP23D_TEMPFAIL;
	x->scram_md = scram_md(mech);
	/* in == NULL: no initial response; in_len == 0 with in set: an
	 * empty one ("=").  libsasl2 makes the same distinction. */
	rc = sasl_server_start(x->conn, mech, (const char *)in,
	    (unsigned)in_len, &out, &outlen);
	if (x->scram_md != NULL && in != NULL && in_len > 0 &&
	    sp_scram_first(x, rc, in, in_len, out_r, out_len_r))
		return POP23D_CONTINUE;
	return sp_exchange_result(x, rc, out, outlen, out_r, out_len_r,
	    user_r, user_size);
}

static enum pop23d_result
sp_sasl_step(void *state, const unsigned char *in, size_t in_len,
    const unsigned char **out_r, size_t *out_len_r, char *user_r,
    size_t user_size)
{
	struct sp_exchange *x = state;
	const char *out = NULL;
	unsigned outlen = 0;
	int rc;

	*out_r = (const unsigned char *)"";
	*out_len_r = 0;
	if (user_size > 0)
		user_r[0] = '\0';
	if (x == NULL || x->conn == NULL || in_len > SP_IN_MAX ||
	    (in == NULL && in_len != 0))
		return POP23D_PERMFAIL;
	if (x->success_pending) {
		/* RFC 4422 section 3.6: the answer to data with success is
		 * an empty response. */
		x->success_pending = 0;
		if (in_len != 0) {
			host->log(LOG_INFO, "SASL: a non-empty response to "
			    "the success data");
			return POP23D_PERMFAIL;
		}
		return sp_exchange_result(x, SASL_OK, NULL, 0, out_r,
		    out_len_r, user_r, user_size);
	}
	if (x->decoy) {
		/* The client-final message of an unknown user: refused as
		 * libsasl2 refuses a wrong proof. */
		x->decoy = 0;
		host->log(LOG_DEBUG, "SASL: SCRAM for an unknown user ends");
		return POP23D_NOUSER;
	}
	rc = sasl_server_step(x->conn, in != NULL ? (const char *)in : "",
	    (unsigned)in_len, &out, &outlen);
	if (x->scram_md != NULL && !x->client_first_seen &&
	    sp_scram_first(x, rc, in, in_len, out_r, out_len_r))
		return POP23D_CONTINUE;
	return sp_exchange_result(x, rc, out, outlen, out_r, out_len_r,
	    user_r, user_size);
}

static void
sp_sasl_end(void *state)
{
	struct sp_exchange *x = state;

	if (x == NULL)
		return;
	if (x->conn != NULL)
		sasl_dispose(&x->conn);
	free(x);
}

/* -------------------------------------------------------- the plugin */

static int
sp_check_config(const char **error_r)
{
	char path[PATH_MAX + 32];
	struct sp_conf c;
	const char *why;

	if (sp_read_settings() != 0) {
		*error_r = settings_error;
		return -1;
	}
	conf_path(path, sizeof path);
	if (access(path, F_OK) != 0) {
		host->log(LOG_WARNING, "[" SP_NAME "] %s: %s: libsasl2's "
		    "defaults apply (sasldb /etc/sasldb2, every auxprop "
		    "plugin installed)", path, strerror(errno));
	} else if (host->api >= 3 && host->trusted_file(path, &why) != 0) {
		*error_r = sp_error("%s", why);
		return -1;
	} else if (access(path, R_OK) != 0) {
		*error_r = sp_error("%s: %s", path, strerror(errno));
		return -1;
	}
	sp_conf_scan(&c);
	if (sp_conf_sasldb(&c) && sasldb_untrusted(c.sasldb, &why)) {
		*error_r = why;
		return -1;
	}
	sp_set_flags();
	return 0;
}

/*
 * The ABI has no "unload" op: stop libsasl2 (it unloads its mechanism
 * plugins and frees its configuration) when the host dlclose()s the
 * plugin and at exit.
 */
static void sp_fini(void) __attribute__((destructor));

static void
sp_fini(void)
{
	if (sasl_up) {
		sasl_server_done();
		sasl_up = 0;
	}
	free(mechs_buf);
	mechs_buf = NULL;
}

static const char *const sp_config_keys[] = { "conf_dir", "hostname",
    "realm", "userdb", "home", "maildrop", "min_uid", NULL };

static const struct pop23d_auth_ops sp_auth_ops = {
	.verify_plain = sp_verify_plain,
	.lookup = sp_lookup,
	.verify_apop = sp_verify_apop,
	.sasl_mechs = sp_sasl_mechs,
	.sasl_start = sp_sasl_begin,
	.sasl_step = sp_sasl_step,
	.sasl_end = sp_sasl_end,
};

static struct pop23d_plugin sp_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 3,		/* host->trusted_file */
	.kind = POP23D_PLUGIN_AUTH,
	.name = SP_NAME,
	.config_keys = sp_config_keys,
	.check_config = sp_check_config,
	.auth = &sp_auth_ops,
	.store = NULL,
	.flags = POP23D_PLUGIN_F_BLOCKING,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, h, plugin_r, &sp_plugin, HOSTCHECK_CONFIG_GET |
	    HOSTCHECK_SECURE_ZERO | HOSTCHECK_TRUSTED_FILE) != 0)
		return -1;
	host = h;
	/* check_config() reports bad settings; until then the defaults. */
	if (sp_read_settings() == 0)
		sp_set_flags();
	*plugin_r = &sp_plugin;
	return 0;
}
