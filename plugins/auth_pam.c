/*
 * auth_pam.c - the "pam" auth plugin: system users checked through PAM
 * (pam_authenticate, then pam_acct_mgmt) and mapped to their own uid, gid
 * and home from the user database.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * PRIVILEGE: verify_plain() and lookup() run as root: in the
 * per-connection monitor today, in the daemon's auth service once it
 * honours the plugin flags (POP23D_PLUGIN_F_NEEDS_ROOT: pam_unix reads
 * /etc/shadow; POP23D_PLUGIN_F_BLOCKING: a PAM stack may wait on a
 * network service for seconds).  check_config() runs in the master
 * (startup, SIGHUP, "pop23d -t") and only checks the settings.  The
 * plugin sees the user name and password the pre-auth process forwarded,
 * never other client bytes.
 *
 * Config section [pam]:
 *	service = pop23d	PAM service name: /etc/pam.d/SERVICE
 *	min_uid = 1000		lowest uid that may log in
 *
 * What a login runs:
 *	1. getpwnam_r(user).  No entry: NOUSER.  uid 0, gid 0 or a uid below
 *	   min_uid: FAIL without asking PAM (root's password is never tried
 *	   over POP, and a system account cannot be probed).
 *	2. pam_start(service, user), PAM_TTY "pop23d", and PAM_FAIL_DELAY
 *	   set to a function that does not sleep: pam_unix would otherwise
 *	   sleep about 2 s after a wrong password only, and the daemon's own
 *	   failure deadline (auth_failure_delay) must be the one that decides
 *	   when every failure is answered.
 *	3. pam_authenticate(PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK).
 *	4. PAM_USER must still be the user name given (a module may rewrite
 *	   it; the session must run as the user whose password was checked).
 *	5. pam_acct_mgmt(PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK).
 *	No PAM session is opened and no credentials are set: the session is
 *	a mail reader, not a login shell (Dovecot's default too).
 *
 * How results map (the client sees the daemon's replies for them: FAIL
 * and NOUSER are the same "-ERR [AUTH] invalid user name or password"):
 *	pam_start fails                     TEMPFAIL  (-ERR [SYS/TEMP])
 *	pam_authenticate PAM_USER_UNKNOWN   NOUSER    (-ERR [AUTH])
 *	pam_authenticate anything else      FAIL      (-ERR [AUTH])
 *	  (wrong password, a locked account, PAM_AUTHINFO_UNAVAIL,
 *	  PAM_MAXTRIES ...: before a correct password nothing else is
 *	  told; the reason is logged)
 *	pam_acct_mgmt not PAM_SUCCESS       FAIL      (-ERR [AUTH])
 *	  (PAM_ACCT_EXPIRED, PAM_NEW_AUTHTOK_REQD, PAM_PERM_DENIED ...,
 *	  logged as "good password, but ...")
 *	our own malloc failure              TEMPFAIL
 * Dovecot's passdb-pam maps the same PAM results: PAM_USER_UNKNOWN to
 * "unknown user", PAM_NEW_AUTHTOK_REQD and PAM_ACCT_EXPIRED to "password
 * expired", everything else to "password mismatch"; its POP3 login
 * answers all three with the same "-ERR [AUTH] Authentication failed."
 * (only IMAP shows an [EXPIRED] code).  So an expired account here is told
 * no more than Dovecot tells it.  RFC 3206 [SYS/PERM] is given only by the
 * daemon, after a correct password, when the account cannot be served
 * (lookup() refuses it, the maildrop template gives no path).
 *
 * The conversation function answers PAM_PROMPT_ECHO_OFF (the password
 * prompt) with the password, at most CONV_ANSWERS_MAX times in one
 * transaction.  It refuses echo-on prompts (PAM already has the user name
 * from pam_start; something that asks for visible input wants an answer
 * the daemon does not have, and must never get the password) and any
 * other style.  Info and error messages are logged, at most
 * CONV_NOTES_MAX per transaction, each cut at CONV_NOTE_MAX octets.  The
 * copies of the password it hands to PAM are wiped and freed by Linux-PAM
 * (pam_vprompt(), pam_end() wiping PAM_AUTHTOK); on its own error paths
 * it wipes them itself.
 *
 * lookup() returns the entry's uid, gid and home (getpwnam_r), refusing
 * the same accounts as step 1 (PERMFAIL), and leaves the maildrop to the
 * daemon's mail_location template: "/var/mail/%u" for an mbox spool,
 * "%h/Maildir" for a Maildir in the home.
 *
 * Rootless mode: pam_unix can then check only the invoking user's own
 * password (through unix_chkpwd); the session runs as that user anyway.
 *
 * A long-lived process that calls PAM for many users grows with leaks in
 * some PAM modules (Dovecot restarts its PAM workers after 100 requests).
 * The per-connection monitor calls it once and exits; a host that keeps a
 * process should run BLOCKING ops in a short-lived child.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_appl.h>

#include "pop23d/plugin.h"
#include "hostcheck.h"
#include "sysuser.h"

#define PAMP_NAME		"pam"
#define PAMP_SERVICE_DEFAULT	"pop23d"

/* A service name is a file name in /etc/pam.d; Linux-PAM has no limit,
 * 64 octets is far more than any real one. */
#define PAMP_SERVICE_MAX	64

/* Linux-PAM's own limit on one reply (PAM_MAX_RESP_SIZE, 512 with the
 * NUL): pam_unix truncates at it silently.  A longer password can never
 * be the right one, and is refused before PAM sees it. */
#define PAMP_PASS_MAX		(PAM_MAX_RESP_SIZE - 1)

/* Password prompts answered in one transaction: pam_unix asks once; a
 * stack of a few modules without use_first_pass asks once each. */
#define CONV_ANSWERS_MAX	4
/* Info/error messages logged in one transaction, and their length. */
#define CONV_NOTES_MAX		8
#define CONV_NOTE_MAX		200

/* Where Linux-PAM looks for the service file: the administrator's, then
 * the distribution's (Linux-PAM 1.2 and later). */
#define PAMP_ETC_DIR		"/etc/pam.d"
#define PAMP_VENDOR_DIR		"/usr/lib/pam.d"

/* The PAM_TTY item: pam_access and pam_time match on it. */
#define PAMP_TTY		"pop23d"

struct pamp_settings {
	char service[PAMP_SERVICE_MAX + 1];
	unsigned long min_uid;
};

/* One conversation's state (appdata_ptr). */
struct pamp_conv_ctx {
	const char *pass;
	unsigned answers;
	unsigned notes;
	int nomem;		/* our own allocation failed */
	int refused;		/* a prompt we do not answer */
};

static const struct pop23d_host *host;
static struct pamp_settings settings;
static int settings_ok;
/* The reason the settings are unusable, for check_config() and the log;
 * static text or errbuf. */
static const char *settings_error;
static char errbuf[160];

/* Non-zero if S is a usable PAM service name: a plain file name. */
static int
service_name_ok(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (n == 0 || n > PAMP_SERVICE_MAX || s[0] == '.')
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			return 0;
	return 1;
}

/* Read [pam] into SETTINGS.  0, or -1 with settings_error set. */
static int
pamp_read_settings(void)
{
	struct pamp_settings s;
	const char *v, *why;

	memset(&s, 0, sizeof s);
	settings_ok = 0;
	v = host->config_get(PAMP_NAME, "service");
	if (v == NULL)
		v = PAMP_SERVICE_DEFAULT;
	if (!service_name_ok(v)) {
		settings_error = "service must be a file name in /etc/pam.d "
		    "(letters, digits, '.', '_', '-'; at most 64 octets)";
		return -1;
	}
	memcpy(s.service, v, strlen(v) + 1);
	s.min_uid = SYSUSER_MIN_UID_DEFAULT;
	v = host->config_get(PAMP_NAME, "min_uid");
	if (v != NULL && sysuser_parse_min_uid(v, &s.min_uid, &why) != 0) {
		snprintf(errbuf, sizeof errbuf, "%s", why);
		settings_error = errbuf;
		return -1;
	}
	settings = s;
	settings_ok = 1;
	return 0;
}

/* Wipe and free the first N replies of RESP, and RESP. */
static void
conv_drop(struct pam_response *resp, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (resp[i].resp == NULL)
			continue;
		host->secure_zero(resp[i].resp, strlen(resp[i].resp));
		free(resp[i].resp);
	}
	free(resp);
}

/* Log an info or error message of the PAM stack (not client text, but
 * it may quote the user name: the host escapes the line). */
static void
conv_note(struct pamp_conv_ctx *ctx, const struct pam_message *m)
{
	if (ctx->notes >= CONV_NOTES_MAX || m->msg == NULL)
		return;
	ctx->notes++;
	host->log(m->msg_style == PAM_ERROR_MSG ? LOG_WARNING : LOG_INFO,
	    "PAM says: %.*s", CONV_NOTE_MAX, m->msg);
}

/*
 * The PAM conversation: see the file header.  Linux-PAM passes
 * msg as an array of N pointers.
 */
static int
pamp_conv(int n, const struct pam_message **msg, struct pam_response **resp_r,
    void *appdata)
{
	struct pamp_conv_ctx *ctx = appdata;
	struct pam_response *resp;
	int i;

	*resp_r = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((resp = calloc((size_t)n, sizeof *resp)) == NULL) {
		ctx->nomem = 1;
		return PAM_BUF_ERR;
	}
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (ctx->answers >= CONV_ANSWERS_MAX) {
				ctx->refused = 1;
				goto fail;
			}
			ctx->answers++;
			if ((resp[i].resp = strdup(ctx->pass)) == NULL) {
				ctx->nomem = 1;
				goto fail;
			}
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			conv_note(ctx, msg[i]);
			break;
		default:
			/* PAM_PROMPT_ECHO_ON and binary prompts. */
			ctx->refused = 1;
			goto fail;
		}
	}
	*resp_r = resp;
	return PAM_SUCCESS;
fail:
	conv_drop(resp, n);
	return PAM_CONV_ERR;
}

#ifdef PAM_FAIL_DELAY
/* Replaces PAM's own sleep after a failure (see the file header). */
static void
pamp_no_delay(int retval, unsigned usec, void *appdata)
{
	(void)retval;
	(void)usec;
	(void)appdata;
}
#endif

/* The reason a refused prompt or our own failure adds to the log. */
static const char *
conv_trouble(const struct pamp_conv_ctx *ctx)
{
	if (ctx->nomem)
		return " (out of memory in the conversation)";
	if (ctx->refused)
		return " (the PAM stack asked something other than the "
		    "password, or asked too often: pop23d only answers the "
		    "password prompt)";
	return "";
}

/* Steps 2-5 of the file header for USER with PASS. */
static enum pop23d_result
pamp_transaction(const char *user, const char *pass)
{
	struct pamp_conv_ctx ctx;
	struct pam_conv conv;
	pam_handle_t *pamh = NULL;
	const void *item = NULL;
	enum pop23d_result r;
	int st, st_end;

	memset(&ctx, 0, sizeof ctx);
	ctx.pass = pass;
	conv.conv = pamp_conv;
	conv.appdata_ptr = &ctx;
	st = pam_start(settings.service, user, &conv, &pamh);
	if (st != PAM_SUCCESS) {
		host->log(LOG_ERR, "pam_start(\"%s\"): %s", settings.service,
		    pam_strerror(pamh, st));
		if (pamh != NULL)
			pam_end(pamh, st);
		return POP23D_TEMPFAIL;
	}
	(void)pam_set_item(pamh, PAM_TTY, PAMP_TTY);
#ifdef PAM_FAIL_DELAY
	(void)pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)pamp_no_delay);
#endif

	st = pam_authenticate(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (st != PAM_SUCCESS) {
		r = st == PAM_USER_UNKNOWN ? POP23D_NOUSER : POP23D_FAIL;
		if (ctx.nomem)
			r = POP23D_TEMPFAIL;
		host->log(LOG_INFO, "user=%s: pam_authenticate(\"%s\"): %s%s",
		    user, settings.service, pam_strerror(pamh, st),
		    conv_trouble(&ctx));
		goto end;
	}
	st = pam_get_item(pamh, PAM_USER, &item);
	if (st != PAM_SUCCESS || item == NULL ||
	    strcmp((const char *)item, user) != 0) {
		host->log(LOG_WARNING, "user=%s: the PAM stack changed the user "
		    "name; refused", user);
		if (st == PAM_SUCCESS)
			st = PAM_PERM_DENIED;
		r = POP23D_FAIL;
		goto end;
	}
	st = pam_acct_mgmt(pamh, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (st != PAM_SUCCESS) {
		/* Answered like a wrong password: see the file header. */
		host->log(LOG_WARNING, "user=%s: good password, but "
		    "pam_acct_mgmt(\"%s\"): %s; answered as a failed login",
		    user, settings.service, pam_strerror(pamh, st));
		r = ctx.nomem ? POP23D_TEMPFAIL : POP23D_FAIL;
		goto end;
	}
	r = POP23D_OK;
end:
	st_end = pam_end(pamh, st);
	if (st_end != PAM_SUCCESS && r == POP23D_OK) {
		host->log(LOG_ERR, "pam_end: error %d", st_end);
		r = POP23D_TEMPFAIL;
	}
	return r;
}

/*
 * Step 1 of the file header.  1 if USER may be checked (*U filled), or 0
 * with the result to give in *R.
 */
static int
pamp_user(const char *user, struct sysuser *u, enum pop23d_result refused,
    enum pop23d_result *r)
{
	return sysuser_lookup(host, user, settings.min_uid, refused, u, r);
}

static enum pop23d_result
pamp_verify_plain(const char *user, const char *pass)
{
	struct sysuser u;
	enum pop23d_result r;

	if (user == NULL || pass == NULL || *user == '\0' || *pass == '\0')
		return POP23D_FAIL;
	if (!settings_ok) {
		host->log(LOG_ERR, "[" PAMP_NAME "]: %s", settings_error);
		return POP23D_TEMPFAIL;
	}
	if (strlen(pass) > PAMP_PASS_MAX)
		return POP23D_FAIL;
	if (!pamp_user(user, &u, POP23D_FAIL, &r))
		return r;
	return pamp_transaction(user, pass);
}

static enum pop23d_result
pamp_lookup(const char *user, struct pop23d_identity *id_r)
{
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
	if (!pamp_user(user, &u, POP23D_PERMFAIL, &r))
		return r;
	return sysuser_identity(&u, id_r);
}

/*
 * Warn when the service has no file: Linux-PAM then runs its "other"
 * service, which on Debian is the common-* stacks (so logins still work,
 * as if the sample file were there) and elsewhere often pam_deny.
 */
static void
pamp_check_service_file(void)
{
	static const char *const dirs[] = { PAMP_ETC_DIR, PAMP_VENDOR_DIR };
	char path[sizeof PAMP_VENDOR_DIR + PAMP_SERVICE_MAX + 2];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dirs[i],
		    settings.service);
		if (stat(path, &st) == 0)
			return;
	}
	host->log(LOG_WARNING, "[" PAMP_NAME "] service \"%s\": no "
	    PAMP_ETC_DIR "/%s: PAM will use its \"other\" service",
	    settings.service, settings.service);
}

static int
pamp_check_config(const char **error_r)
{
	if (pamp_read_settings() != 0) {
		*error_r = settings_error;
		return -1;
	}
	pamp_check_service_file();
	return 0;
}

static const char *const pamp_config_keys[] = { "service", "min_uid", NULL };

static const struct pop23d_auth_ops pamp_auth_ops = {
	.verify_plain = pamp_verify_plain,
	.lookup = pamp_lookup,
	.verify_apop = NULL,	/* PAM never gives out the secret */
};

static const struct pop23d_plugin pamp_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 1,		/* log, config_get, secure_zero */
	.kind = POP23D_PLUGIN_AUTH,
	.name = PAMP_NAME,
	.config_keys = pamp_config_keys,
	.check_config = pamp_check_config,
	.auth = &pamp_auth_ops,
	.store = NULL,
	.flags = POP23D_PLUGIN_F_NEEDS_ROOT | POP23D_PLUGIN_F_BLOCKING,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, h, plugin_r, &pamp_plugin,
	    HOSTCHECK_CONFIG_GET | HOSTCHECK_SECURE_ZERO) != 0)
		return -1;
	host = h;
	/* check_config() reports bad settings; until then the defaults. */
	(void)pamp_read_settings();
	*plugin_r = &pamp_plugin;
	return 0;
}
