/*
 * conf.c - read pop23d.conf with libinih into a struct config.
 * Every key is checked here; an unknown key or a bad value is an error
 * reported as FILE:LINE.  Plugin sections are collected as they are and
 * checked against the plugins' declared keys by plugin.c.  The file itself
 * must pass trust_check() (root's, writable by nobody else, all the way
 * up), as sshd's StrictModes asks of its files.
 * Runs as root in the master (startup, SIGHUP) and for "pop23d -t".
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "compat.h"
#include "conf.h"
#include "i18n.h"
#include "lex.h"
#include "trust.h"

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/pop23d"
#endif

/* The error text of the last failed config_load() ("FILE:LINE: reason");
 * valid until the next call. */
static char conf_errbuf[PATH_MAX + CONF_REASON_MAX];

struct conf_parse_ctx {
	struct config *cfg;
	char err[CONF_REASON_MAX];	/* first error, without FILE:LINE */
	int line;		/* lines seen so far (see handler) */
};

static const struct {
	const char *name;
	int value;
} conf_facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

const char *
config_proto_name(enum proto p)
{
	return p == PROTO_POP2 ? "pop2" : "pop3";
}

static const char *const conf_tls_names[] = {
	[TLS_MODE_NONE] = "none",
	[TLS_MODE_OPTIONAL] = "optional",
	[TLS_MODE_REQUIRED] = "required",
	[TLS_MODE_IMPLICIT] = "implicit",
};

const char *
config_tls_name(int mode)
{
	if (mode < TLS_MODE_NONE || mode > TLS_MODE_IMPLICIT)
		return "?";
	return conf_tls_names[mode];
}

int
config_listener_tls(const struct config *cfg, const struct listener_conf *l)
{
	if (l->tls != TLS_MODE_UNSET)
		return l->tls;
	/* POP2 has no STLS (RFC 937): plaintext unless pop2s. */
	if (l->proto == PROTO_POP2)
		return TLS_MODE_NONE;
	if (cfg->tls_default != TLS_MODE_UNSET)
		return cfg->tls_default;
	return cfg->tls_cert[0] != '\0' ? TLS_MODE_OPTIONAL : TLS_MODE_NONE;
}

/* "none", "optional" or "required" (the values of tls= and "tls"). */
static int
conf_parse_tls(const char *v, size_t len, int *out)
{
	int m;

	for (m = TLS_MODE_NONE; m <= TLS_MODE_REQUIRED; m++)
		if (strlen(conf_tls_names[m]) == len &&
		    strncasecmp(v, conf_tls_names[m], len) == 0) {
			*out = m;
			return 0;
		}
	return -1;
}

static void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	strlcpy(cfg->plugin_dir, PLUGINDIR, sizeof cfg->plugin_dir);
	strlcpy(cfg->auth_plugin, "passwdfile", sizeof cfg->auth_plugin);
	strlcpy(cfg->store_plugin, "maildir", sizeof cfg->store_plugin);
	if (gethostname(cfg->hostname, sizeof cfg->hostname) != 0 ||
	    cfg->hostname[0] == '\0')
		strlcpy(cfg->hostname, "localhost", sizeof cfg->hostname);
	cfg->hostname[sizeof cfg->hostname - 1] = '\0';
	strlcpy(cfg->login_user, "pop23d", sizeof cfg->login_user);
	strlcpy(cfg->login_chroot, "/var/empty", sizeof cfg->login_chroot);
	strlcpy(cfg->auth_user, "pop23d-auth", sizeof cfg->auth_user);
	cfg->virtual_uid = (uid_t)-1;
	cfg->virtual_gid = (gid_t)-1;
	strlcpy(cfg->mail_location, "%h/Maildir", sizeof cfg->mail_location);
	cfg->apop = 0;
	cfg->last = 1;
	cfg->timeout_preauth = DEF_PREAUTH_TIMEOUT;
	cfg->timeout_pop3 = DEF_POP3_TIMEOUT;
	cfg->timeout_pop2_auth = DEF_POP2_AUTH_TIMEOUT;
	cfg->timeout_pop2 = DEF_POP2_TIMEOUT;
	cfg->write_timeout = DEF_WRITE_TIMEOUT;
	cfg->auth_failure_delay_ms = DEF_AUTH_FAILURE_DELAY;
	cfg->auth_failure_delay_max_ms = DEF_AUTH_FAILURE_DELAY_MAX;
	cfg->max_auth_failures = DEF_AUTH_FAILURES;
	cfg->max_bad_commands_preauth = DEF_BAD_COMMANDS_PREAUTH;
	cfg->max_bad_commands = DEF_BAD_COMMANDS;
	cfg->max_sessions = DEF_MAX_SESSIONS;
	cfg->max_per_ip = DEF_MAX_PER_IP;
	cfg->per_ip_prefix4 = DEF_PER_IP_PREFIX4;
	cfg->per_ip_prefix6 = DEF_PER_IP_PREFIX6;
	cfg->shutdown_timeout = DEF_SHUTDOWN_TIMEOUT;
	cfg->expire_days = CONF_EXPIRE_NEVER;
	cfg->utf8_user = 1;
	cfg->syslog_facility = LOG_MAIL;
	cfg->tls_default = TLS_MODE_UNSET;
	cfg->tls_ticket_rotate = DEF_TLS_TICKET_ROTATE;
	cfg->plaintext_auth = PLAINTEXT_LOOPBACK;
}

static int __attribute__((format(printf, 2, 3)))
conf_fail(struct conf_parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* Strict integer in [min, max]. */
static int
conf_parse_int(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	if (*v == '\0' || !((*v >= '0' && *v <= '9') || *v == '-'))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

static int
conf_parse_bool(const char *v, int *out)
{
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0)
		*out = 1;
	else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
conf_copy(char *dst, size_t sz, const char *v)
{
	return strlcpy(dst, v, sz) >= sz ? -1 : 0;
}

/*
 * "pop3 127.0.0.1:110", "pop2 [::1]:109", "pop3 *:110 tls=required",
 * "pop3s *:995" (implicit TLS, RFC 8314), "pop2s HOST:PORT".  Words after
 * the address: "tls=MODE" and "proxy" (a PROXY header comes first).
 */
static int
conf_parse_listen(const char *v, struct listener_conf *l)
{
	const char *sp, *addr, *colon, *end, *opt;
	size_t alen, plen;

	l->tls = TLS_MODE_UNSET;
	sp = strchr(v, ' ');
	if (sp == NULL)
		return -1;
	plen = (size_t)(sp - v);
	if ((plen == 4 || plen == 5) && strncasecmp(v, "pop3", 4) == 0)
		l->proto = PROTO_POP3;
	else if ((plen == 4 || plen == 5) && strncasecmp(v, "pop2", 4) == 0)
		l->proto = PROTO_POP2;
	else
		return -1;
	if (plen == 5) {
		if (v[4] != 's' && v[4] != 'S')
			return -1;
		l->tls = TLS_MODE_IMPLICIT;
	}
	addr = sp + 1;
	while (*addr == ' ')
		addr++;
	/* the address ends at the first space: options follow */
	end = addr + strcspn(addr, " ");
	if (*addr == '[') {
		const char *close = memchr(addr, ']', (size_t)(end - addr));

		if (close == NULL || close[1] != ':')
			return -1;
		alen = (size_t)(close - addr - 1);
		addr++;
		colon = close + 1;
	} else {
		colon = NULL;
		for (opt = addr; opt < end; opt++)
			if (*opt == ':')
				colon = opt;
		if (colon == NULL)
			return -1;
		alen = (size_t)(colon - addr);
		if (memchr(addr, ':', alen) != NULL)
			return -1;	/* IPv6 needs brackets */
	}
	if (alen == 0 || alen >= sizeof l->host)
		return -1;
	memcpy(l->host, addr, alen);
	l->host[alen] = '\0';
	{
		char num[16];
		size_t nlen = (size_t)(end - colon - 1);
		int port;

		if (nlen == 0 || nlen >= sizeof num)
			return -1;
		memcpy(num, colon + 1, nlen);
		num[nlen] = '\0';
		if (conf_parse_int(num, 0, 65535, &port) != 0)
			return -1;
		snprintf(l->port, sizeof l->port, "%d", port);
	}
	for (opt = end; *opt != '\0'; opt = end) {
		while (*opt == ' ')
			opt++;
		if (*opt == '\0')
			break;
		end = opt + strcspn(opt, " ");
		if ((size_t)(end - opt) > 4 && strncasecmp(opt, "tls=", 4) == 0 &&
		    l->tls == TLS_MODE_UNSET &&
		    conf_parse_tls(opt + 4, (size_t)(end - opt - 4), &l->tls) == 0)
			continue;
		if ((size_t)(end - opt) == 5 && strncmp(opt, "proxy", 5) == 0 &&
		    !l->proxy) {
			l->proxy = 1;
			continue;
		}
		return -1;
	}
	return 0;
}

static int
conf_lookup_uid(const char *v, uid_t *out)
{
	int n;
	struct passwd *pw;

	if (conf_parse_int(v, 0, INT_MAX, &n) == 0) {
		*out = (uid_t)n;
		return 0;
	}
	if ((pw = getpwnam(v)) == NULL)
		return -1;
	*out = pw->pw_uid;
	return 0;
}

static int
conf_lookup_gid(const char *v, gid_t *out)
{
	int n;
	struct group *gr;

	if (conf_parse_int(v, 0, INT_MAX, &n) == 0) {
		*out = (gid_t)n;
		return 0;
	}
	if ((gr = getgrnam(v)) == NULL)
		return -1;
	*out = gr->gr_gid;
	return 0;
}

/* Integer settings: name, field offset, min, max. */
#define INT_KEY(name, field, min, max) \
	{ name, offsetof(struct config, field), min, max }
static const struct conf_int_key {
	const char *name;
	size_t off;
	long min, max;
} conf_int_keys[] = {
	INT_KEY("timeout_preauth", timeout_preauth, 1, CONF_SECONDS_MAX),
	/* RFC 1939 section 3: an autologout timer MUST be of at least 10
	 * minutes' duration. */
	INT_KEY("timeout_pop3", timeout_pop3, POP3_TIMEOUT_MIN,
	    CONF_SECONDS_MAX),
	INT_KEY("timeout_pop2_auth", timeout_pop2_auth, 1, CONF_SECONDS_MAX),
	INT_KEY("timeout_pop2", timeout_pop2, 1, CONF_SECONDS_MAX),
	INT_KEY("write_timeout", write_timeout, 1, CONF_SECONDS_MAX),
	INT_KEY("auth_failure_delay", auth_failure_delay_ms, 0,
	    CONF_FAILURE_DELAY_MAX),
	INT_KEY("auth_failure_delay_max", auth_failure_delay_max_ms, 0,
	    CONF_FAILURE_DELAY_MAX),
	INT_KEY("max_auth_failures", max_auth_failures, 1,
	    CONF_AUTH_FAILURES_MAX),
	INT_KEY("max_bad_commands_preauth", max_bad_commands_preauth, 1,
	    CONF_BAD_COMMANDS_MAX),
	INT_KEY("max_bad_commands", max_bad_commands, 1,
	    CONF_BAD_COMMANDS_MAX),
	INT_KEY("max_sessions", max_sessions, 1, CONF_CONNECTIONS_MAX),
	INT_KEY("max_per_ip", max_per_ip, 1, CONF_CONNECTIONS_MAX),
	INT_KEY("max_per_ip_ipv4_prefix", per_ip_prefix4, 0, 32),
	INT_KEY("max_per_ip_ipv6_prefix", per_ip_prefix6, 0, 128),
	INT_KEY("shutdown_timeout", shutdown_timeout, 0,
	    CONF_SHUTDOWN_TIMEOUT_MAX),
	INT_KEY("tls_ticket_rotate", tls_ticket_rotate, 1,
	    CONF_TICKET_ROTATE_MAX),
	INT_KEY("login_delay", login_delay, 0, CONF_SECONDS_MAX),
};

/* String settings: name, field offset, size of the field. */
#define STR_KEY(name, field) { name, offsetof(struct config, field), \
	sizeof(((struct config *)0)->field) }
static const struct conf_str_key {
	const char *name;
	size_t off;
	size_t size;
} conf_str_keys[] = {
	STR_KEY("plugin_dir", plugin_dir),
	STR_KEY("auth", auth_plugin),
	STR_KEY("storage", store_plugin),
	STR_KEY("hostname", hostname),
	STR_KEY("login_user", login_user),
	STR_KEY("login_chroot", login_chroot),
	STR_KEY("auth_user", auth_user),
	STR_KEY("auth_group", auth_group),
	STR_KEY("mail_location", mail_location),
	STR_KEY("pid_file", pid_file),
	STR_KEY("port_file", port_file),
	STR_KEY("tls_cert", tls_cert),
	STR_KEY("tls_key", tls_key),
	STR_KEY("tls_chain", tls_chain),
	STR_KEY("tls_client_ca", tls_client_ca),
};


/* S is all decimal digits (lex.h rules) and at most MAX: 0 and *N_R. */
static int
conf_parse_policy_number(const char *s, long max, int *n_r)
{
	uint64_t v;
	const char *end;

	if (lex_number(s, (uint64_t)max, &v, &end) != 0 || *end != '\0')
		return -1;
	*n_r = (int)v;
	return 0;
}

int
config_parse_user_policy(const char *value, struct user_policy *out,
    const char **why_r)
{
	char buf[512], *word, *next;
	size_t len;

	memset(out, 0, sizeof *out);
	out->login_delay = CONF_POLICY_UNSET_DELAY;
	out->expire_days = CONF_POLICY_UNSET_EXPIRE;
	if ((len = strlen(value)) >= sizeof buf) {
		*why_r = "line too long";
		return -1;
	}
	memcpy(buf, value, len + 1);
	if ((next = strchr(buf, ' ')) != NULL)
		*next++ = '\0';
	if (strlen(buf) >= sizeof out->user || !i18n_name_ok(buf, 1)) {
		*why_r = "expected a user name first";
		return -1;
	}
	memcpy(out->user, buf, strlen(buf) + 1);
	if (next == NULL) {
		*why_r = "expected login_delay=SECONDS or expire=DAYS|never "
		    "after the name";
		return -1;
	}
	while (next != NULL) {
		word = next;
		if ((next = strchr(word, ' ')) != NULL)
			*next++ = '\0';
		if (strncmp(word, "login_delay=", 12) == 0 &&
		    out->login_delay == CONF_POLICY_UNSET_DELAY) {
			if (conf_parse_policy_number(word + 12,
			    CONF_SECONDS_MAX, &out->login_delay) != 0) {
				*why_r = "login_delay: expected 0..86400";
				return -1;
			}
		} else if (strncmp(word, "expire=", 7) == 0 &&
		    out->expire_days == CONF_POLICY_UNSET_EXPIRE) {
			if (strcasecmp(word + 7, "never") == 0)
				out->expire_days = CONF_EXPIRE_NEVER;
			else if (conf_parse_policy_number(word + 7,
			    CONF_EXPIRE_DAYS_MAX, &out->expire_days) != 0) {
				*why_r = "expire: expected never or 0..36500";
				return -1;
			}
		} else {
			*why_r = "expected login_delay=SECONDS or "
			    "expire=DAYS|never, each once";
			return -1;
		}
	}
	return 0;
}

/* An integer key: 1 if NAME is one (ctx->err set when its value is bad),
 * 0 if it is not. */
static int
conf_int_key(struct conf_parse_ctx *ctx, const char *name, const char *value)
{
	const struct conf_int_key *k;
	size_t i;

	for (i = 0; i < sizeof conf_int_keys / sizeof conf_int_keys[0]; i++) {
		k = &conf_int_keys[i];
		if (strcmp(name, k->name) != 0)
			continue;
		if (conf_parse_int(value, k->min, k->max,
		    (int *)((char *)ctx->cfg + k->off)) != 0)
			conf_fail(ctx, "%s: expected a whole number in "
			    "%ld..%ld", name, k->min, k->max);
		return 1;
	}
	return 0;
}

/* A string key: as conf_int_key(). */
static int
conf_str_key(struct conf_parse_ctx *ctx, const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	const struct conf_str_key *k;
	size_t i;

	for (i = 0; i < sizeof conf_str_keys / sizeof conf_str_keys[0]; i++) {
		k = &conf_str_keys[i];
		if (strcmp(name, k->name) != 0)
			continue;
		if (conf_copy((char *)cfg + k->off, k->size, value) != 0) {
			conf_fail(ctx, "%s: value too long", name);
			return 1;
		}
		if ((strcmp(name, "auth") == 0 || strcmp(name, "storage") == 0)
		    && (value[0] == '\0' || strpbrk(value, "/.") != NULL))
			conf_fail(ctx, "%s: not a plugin name: %s", name,
			    value);
		if (strcmp(name, "auth") == 0)
			cfg->auth_line = ctx->line;
		else if (strcmp(name, "storage") == 0)
			cfg->store_line = ctx->line;
		if (strcmp(name, "hostname") == 0 &&
		    (value[0] == '\0' || strpbrk(value, " <>@\t") != NULL))
			conf_fail(ctx, "%s: not a host name: %s", name, value);
		return 1;
	}
	return 0;
}

/* proxy_trusted: networks, separated by spaces or commas; each line
 * adds to the list. */
static void
conf_proxy_trusted(struct conf_parse_ctx *ctx, const char *v)
{
	struct config *cfg = ctx->cfg;
	char net[64];
	size_t n;

	for (;;) {
		v += strspn(v, " ,");
		if (*v == '\0')
			return;
		n = strcspn(v, " ,");
		if (n >= sizeof net) {
			conf_fail(ctx, "proxy_trusted: not a network: %.*s",
			    (int)n, v);
			return;
		}
		memcpy(net, v, n);
		net[n] = '\0';
		v += n;
		if (cfg->n_proxy_nets >= CONF_PROXY_NETS_MAX) {
			conf_fail(ctx, "proxy_trusted: more than %d networks",
			    CONF_PROXY_NETS_MAX);
			return;
		}
		if (addr_parse_net(net, &cfg->proxy_nets[cfg->n_proxy_nets],
		    &cfg->proxy_bits[cfg->n_proxy_nets]) != 0) {
			conf_fail(ctx, "proxy_trusted: not a network: %s", net);
			return;
		}
		cfg->n_proxy_nets++;
	}
}

/* The keys with a syntax of their own: as conf_int_key(). */
static int
conf_other_key(struct conf_parse_ctx *ctx, const char *name,
    const char *value)
{
	struct config *cfg = ctx->cfg;
	size_t i;

	if (strcmp(name, "listen") == 0) {
		struct listener_conf *l;

		if (cfg->n_listeners >= MAX_LISTENERS) {
			conf_fail(ctx, "listen: more than %d listeners",
			    MAX_LISTENERS);
			return 1;
		}
		l = &cfg->listeners[cfg->n_listeners];
		memset(l, 0, sizeof *l);
		if (conf_parse_listen(value, l) != 0) {
			conf_fail(ctx, "listen: expected \"pop3|pop2|pop3s|"
			    "pop2s ADDRESS:PORT [tls=none|optional|required] "
			    "[proxy]\", got \"%s\"", value);
			return 1;
		}
		l->line = ctx->line;
		cfg->n_listeners++;
		return 1;
	}
	if (strcmp(name, "proxy_trusted") == 0) {
		conf_proxy_trusted(ctx, value);
		return 1;
	}
	if (strcmp(name, "apop") == 0 || strcmp(name, "last") == 0 ||
	    strcmp(name, "debug") == 0) {
		int *f = name[0] == 'a' ? &cfg->apop :
		    name[0] == 'l' ? &cfg->last : &cfg->debug;

		if (conf_parse_bool(value, f) != 0)
			conf_fail(ctx, "%s: expected yes or no, got \"%s\"",
			    name, value);
		return 1;
	}
	if (strcmp(name, "tls") == 0) {
		if (conf_parse_tls(value, strlen(value), &cfg->tls_default) != 0)
			conf_fail(ctx, "%s: expected none, optional or required, "
			    "got \"%s\"", name, value);
		return 1;
	}
	if (strcmp(name, "plaintext_auth") == 0) {
		if (strcasecmp(value, "no") == 0)
			cfg->plaintext_auth = PLAINTEXT_NO;
		else if (strcasecmp(value, "loopback") == 0)
			cfg->plaintext_auth = PLAINTEXT_LOOPBACK;
		else if (strcasecmp(value, "yes") == 0)
			cfg->plaintext_auth = PLAINTEXT_YES;
		else
			conf_fail(ctx, "%s: expected no, loopback or yes, got "
			    "\"%s\"", name, value);
		return 1;
	}
	if (strcmp(name, "utf8_user") == 0) {
		if (conf_parse_bool(value, &cfg->utf8_user) != 0)
			conf_fail(ctx, "%s: expected yes or no, got \"%s\"",
			    name, value);
		return 1;
	}
	if (strcmp(name, "auth_workers") == 0) {
		if (strcasecmp(value, "auto") == 0)
			cfg->auth_workers = 0;
		else if (conf_parse_int(value, 0, CONF_AUTH_WORKERS_MAX,
		    &cfg->auth_workers) != 0)
			conf_fail(ctx, "%s: expected auto or a number of "
			    "workers in 0..%d, got \"%s\"", name,
			    CONF_AUTH_WORKERS_MAX, value);
		return 1;
	}
	if (strcmp(name, "expire") == 0) {
		if (strcasecmp(value, "never") == 0)
			cfg->expire_days = CONF_EXPIRE_NEVER;
		else if (conf_parse_int(value, 0, CONF_EXPIRE_DAYS_MAX,
		    &cfg->expire_days) != 0)
			conf_fail(ctx, "%s: expected never or a number of "
			    "days in 0..%d, got \"%s\"", name,
			    CONF_EXPIRE_DAYS_MAX, value);
		return 1;
	}
	if (strcmp(name, "user_policy") == 0) {
		struct user_policy up, *n;
		const char *why = NULL;

		if (config_parse_user_policy(value, &up, &why) != 0) {
			conf_fail(ctx, "%s: %s", name, why);
			return 1;
		}
		n = reallocarray(cfg->user_policies, cfg->n_user_policies + 1,
		    sizeof *n);
		if (n == NULL) {
			conf_fail(ctx, "out of memory");
			return 1;
		}
		cfg->user_policies = n;
		n[cfg->n_user_policies++] = up;
		return 1;
	}
	if (strcmp(name, "legacy_8bit_headers") == 0) {
		if (strcmp(value, "refuse") == 0)
			cfg->send_8bit_headers = 0;
		else if (strcmp(value, "send") == 0)
			cfg->send_8bit_headers = 1;
		else
			conf_fail(ctx, "%s: expected refuse or send, got "
			    "\"%s\"", name, value);
		return 1;
	}
	if (strcmp(name, "virtual_uid") == 0) {
		if (conf_lookup_uid(value, &cfg->virtual_uid) != 0)
			conf_fail(ctx, "%s: no such user: %s", name, value);
		return 1;
	}
	if (strcmp(name, "virtual_gid") == 0) {
		if (conf_lookup_gid(value, &cfg->virtual_gid) != 0)
			conf_fail(ctx, "%s: no such group: %s", name, value);
		return 1;
	}
	if (strcmp(name, "syslog_facility") == 0) {
		for (i = 0; i < sizeof conf_facilities /
		    sizeof conf_facilities[0]; i++)
			if (strcasecmp(value, conf_facilities[i].name) == 0) {
				cfg->syslog_facility = conf_facilities[i].value;
				return 1;
			}
		conf_fail(ctx, "%s: unknown facility \"%s\"", name, value);
		return 1;
	}
	return 0;
}

/* A key outside any section.  libinih's handler protocol: 1 = fine,
 * 0 = error (ctx->err says which). */
static int
conf_global_key(struct conf_parse_ctx *ctx, const char *name,
    const char *value)
{
	if (!conf_int_key(ctx, name, value) &&
	    !conf_str_key(ctx, name, value) &&
	    !conf_other_key(ctx, name, value))
		conf_fail(ctx, "unknown key \"%s\"", name);
	return ctx->err[0] == '\0';
}

static int
conf_plugin_key(struct conf_parse_ctx *ctx, const char *section,
    const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	struct plugin_setting *ps, *n;

	n = reallocarray(cfg->plugin_settings, cfg->n_plugin_settings + 1,
	    sizeof *n);
	if (n == NULL)
		return conf_fail(ctx, "out of memory");
	cfg->plugin_settings = n;
	ps = &n[cfg->n_plugin_settings];
	memset(ps, 0, sizeof *ps);
	if (conf_copy(ps->section, sizeof ps->section, section) != 0 ||
	    conf_copy(ps->key, sizeof ps->key, name) != 0 ||
	    conf_copy(ps->value, sizeof ps->value, value) != 0)
		return conf_fail(ctx, "[%s] %s: too long", section, name);
	ps->line = ctx->line;
	cfg->n_plugin_settings++;
	return 1;
}

/*
 * libinih calls this once per key.  Debian builds libinih without line
 * numbers in the handler, but ini_parse() returns the line of the first
 * handler error; for the line of a listener we count with a reader
 * wrapper below.
 */
static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_parse_ctx *ctx = user;

	if (section[0] == '\0')
		return conf_global_key(ctx, name, value);
	return conf_plugin_key(ctx, section, name, value);
}

struct conf_reader {
	FILE *fp;
	struct conf_parse_ctx *ctx;
};

/* ini_parse_stream reader that counts lines, so the handler knows the
 * line it is looking at (the line just read). */
static char *
conf_read_line(char *str, int num, void *stream)
{
	struct conf_reader *r = stream;
	char *p = fgets(str, num, r->fp);

	if (p != NULL)
		r->ctx->line++;
	return p;
}

/* Format the error of config_load() into conf_errbuf; returns -1. */
static int __attribute__((format(printf, 2, 3)))
conf_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(conf_errbuf, sizeof conf_errbuf, fmt, ap);
	va_end(ap);
	*error_r = conf_errbuf;
	return -1;
}

/* The TLS settings fit together: a listener with TLS has a certificate
 * and a key, POP2 has no STLS. */
static int
conf_check_tls(const struct config *cfg, const char **error_r)
{
	const struct listener_conf *l;
	size_t i;
	int m;

	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
		return conf_error(error_r, "%s: tls_cert and tls_key go "
		    "together", cfg->path);
	if (cfg->tls_cert[0] == '\0' && (cfg->tls_chain[0] != '\0' ||
	    cfg->tls_client_ca[0] != '\0'))
		return conf_error(error_r, "%s: tls_chain and tls_client_ca "
		    "need tls_cert and tls_key", cfg->path);
	for (i = 0; i < cfg->n_listeners; i++) {
		l = &cfg->listeners[i];
		m = config_listener_tls(cfg, l);
		if (l->proto == PROTO_POP2 && (m == TLS_MODE_OPTIONAL ||
		    m == TLS_MODE_REQUIRED))
			return conf_error(error_r, "%s:%d: POP2 has no STLS: "
			    "use \"pop2s\" for implicit TLS", cfg->path,
			    l->line);
		if (m != TLS_MODE_NONE && cfg->tls_cert[0] == '\0')
			return conf_error(error_r, "%s:%d: tls=%s needs "
			    "tls_cert and tls_key", cfg->path, l->line,
			    config_tls_name(m));
	}
	return 0;
}

int
config_load(const char *path, struct config *cfg, const char **error_r)
{
	struct conf_parse_ctx ctx;
	struct conf_reader rd;
	const char *e;
	size_t i;
	int line;

	config_defaults(cfg);
	if (strlcpy(cfg->path, path, sizeof cfg->path) >= sizeof cfg->path)
		return conf_error(error_r, "%s: path too long", path);
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	rd.ctx = &ctx;
	/* The file names the code root loads and the users it believes. */
	if (trust_check(path, TRUST_FILE, &e) != 0)
		return conf_error(error_r, "%s", e);
	if ((rd.fp = fopen(path, "re")) == NULL)
		return conf_error(error_r, "%s: %s", path, strerror(errno));
	line = ini_parse_stream(conf_read_line, &rd, conf_handler, &ctx);
	fclose(rd.fp);
	if (line != 0) {
		if (ctx.err[0] == '\0')
			snprintf(ctx.err, sizeof ctx.err, "syntax error "
			    "(expected \"key = value\" or \"[section]\", "
			    "at most %d characters)", INI_MAX_LINE - 1);
		config_free(cfg);
		return conf_error(error_r, "%s:%d: %s", path,
		    line < 0 ? 0 : line, ctx.err);
	}
	if (cfg->n_listeners == 0) {
		config_free(cfg);
		return conf_error(error_r, "%s: no \"listen\" line", path);
	}
	for (i = 0; i < cfg->n_listeners; i++)
		if (cfg->listeners[i].proxy && cfg->n_proxy_nets == 0) {
			line = cfg->listeners[i].line;
			config_free(cfg);
			return conf_error(error_r, "%s:%d: listen ... proxy: no "
			    "proxy_trusted networks are set", path, line);
		}
	if (conf_check_tls(cfg, error_r) != 0) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

void
config_free(struct config *cfg)
{
	free(cfg->plugin_settings);
	cfg->plugin_settings = NULL;
	cfg->n_plugin_settings = 0;
	free(cfg->user_policies);
	cfg->user_policies = NULL;
	cfg->n_user_policies = 0;
}

const char *
config_plugin_get(const struct config *cfg, const char *section,
    const char *key)
{
	size_t i;

	for (i = cfg->n_plugin_settings; i-- > 0;) {
		const struct plugin_setting *ps = &cfg->plugin_settings[i];

		if (strcmp(ps->section, section) == 0 &&
		    strcmp(ps->key, key) == 0)
			return ps->value;
	}
	return NULL;
}

int
config_proxy_trusted(const struct config *cfg, const struct addr *a)
{
	size_t i;

	for (i = 0; i < cfg->n_proxy_nets; i++)
		if (addr_in_net(a, &cfg->proxy_nets[i], cfg->proxy_bits[i]))
			return 1;
	return 0;
}
