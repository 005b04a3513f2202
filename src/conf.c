/*
 * conf.c - read pop23d.conf with libinih into a struct config.
 * Every key is checked here; an unknown key or a bad value is an error
 * reported as FILE:LINE.  Plugin sections are collected as they are and
 * checked against the plugins' declared keys by plugin.c.
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

#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/pop23d"
#endif

struct parse_ctx {
	struct config *cfg;
	char err[512];		/* first error, without FILE:LINE */
	int line;		/* lines seen so far (see handler) */
};

static const struct {
	const char *name;
	int value;
} facilities[] = {
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
	cfg->max_auth_failures = DEF_AUTH_FAILURES;
	cfg->max_bad_commands_preauth = DEF_BAD_COMMANDS_PREAUTH;
	cfg->max_bad_commands = DEF_BAD_COMMANDS;
	cfg->max_sessions = DEF_MAX_SESSIONS;
	cfg->max_per_ip = DEF_MAX_PER_IP;
	cfg->shutdown_timeout = DEF_SHUTDOWN_TIMEOUT;
	cfg->syslog_facility = LOG_MAIL;
}

static int __attribute__((format(printf, 2, 3)))
fail(struct parse_ctx *ctx, const char *fmt, ...)
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
parse_int(const char *v, long min, long max, int *out)
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
parse_bool(const char *v, int *out)
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
copy(char *dst, size_t sz, const char *v)
{
	return strlcpy(dst, v, sz) >= sz ? -1 : 0;
}

/* "pop3 127.0.0.1:110", "pop2 [::1]:109", "pop3 *:110" */
static int
parse_listen(const char *v, struct listener_conf *l)
{
	const char *sp, *addr, *colon;
	size_t alen;

	sp = strchr(v, ' ');
	if (sp == NULL)
		return -1;
	if ((size_t)(sp - v) == 4 && strncasecmp(v, "pop3", 4) == 0)
		l->proto = PROTO_POP3;
	else if ((size_t)(sp - v) == 4 && strncasecmp(v, "pop2", 4) == 0)
		l->proto = PROTO_POP2;
	else
		return -1;
	addr = sp + 1;
	while (*addr == ' ')
		addr++;
	if (*addr == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		alen = (size_t)(close - addr - 1);
		addr++;
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
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
	if (strchr(l->host, ' ') != NULL)
		return -1;
	{
		int port;

		if (parse_int(colon + 1, 0, 65535, &port) != 0)
			return -1;
		snprintf(l->port, sizeof l->port, "%d", port);
	}
	return 0;
}

static int
lookup_uid(const char *v, uid_t *out)
{
	int n;
	struct passwd *pw;

	if (parse_int(v, 0, INT_MAX, &n) == 0) {
		*out = (uid_t)n;
		return 0;
	}
	if ((pw = getpwnam(v)) == NULL)
		return -1;
	*out = pw->pw_uid;
	return 0;
}

static int
lookup_gid(const char *v, gid_t *out)
{
	int n;
	struct group *gr;

	if (parse_int(v, 0, INT_MAX, &n) == 0) {
		*out = (gid_t)n;
		return 0;
	}
	if ((gr = getgrnam(v)) == NULL)
		return -1;
	*out = gr->gr_gid;
	return 0;
}

/* Integer settings: name, field offset, min, max. */
static const struct int_key {
	const char *name;
	size_t off;
	long min, max;
} int_keys[] = {
	{ "timeout_preauth", offsetof(struct config, timeout_preauth), 1, 86400 },
	/* RFC 1939 section 3: an autologout timer MUST be of at least 10
	 * minutes' duration. */
	{ "timeout_pop3", offsetof(struct config, timeout_pop3),
	    POP3_TIMEOUT_MIN, 86400 },
	{ "timeout_pop2_auth", offsetof(struct config, timeout_pop2_auth), 1, 86400 },
	{ "timeout_pop2", offsetof(struct config, timeout_pop2), 1, 86400 },
	{ "write_timeout", offsetof(struct config, write_timeout), 1, 86400 },
	{ "auth_failure_delay", offsetof(struct config, auth_failure_delay_ms), 0, 60000 },
	{ "max_auth_failures", offsetof(struct config, max_auth_failures), 1, 100 },
	{ "max_bad_commands_preauth", offsetof(struct config, max_bad_commands_preauth), 1, 1000 },
	{ "max_bad_commands", offsetof(struct config, max_bad_commands), 1, 1000 },
	{ "max_sessions", offsetof(struct config, max_sessions), 1, 1000000 },
	{ "max_per_ip", offsetof(struct config, max_per_ip), 1, 1000000 },
	{ "shutdown_timeout", offsetof(struct config, shutdown_timeout), 0, 3600 },
};

/* String settings: name, field offset, size. */
static const struct str_key {
	const char *name;
	size_t off;
	size_t size;
} str_keys[] = {
	{ "plugin_dir", offsetof(struct config, plugin_dir), PATH_MAX },
	{ "auth", offsetof(struct config, auth_plugin), 64 },
	{ "storage", offsetof(struct config, store_plugin), 64 },
	{ "hostname", offsetof(struct config, hostname), 256 },
	{ "login_user", offsetof(struct config, login_user), 64 },
	{ "login_chroot", offsetof(struct config, login_chroot), PATH_MAX },
	{ "mail_location", offsetof(struct config, mail_location), PATH_MAX },
	{ "pid_file", offsetof(struct config, pid_file), PATH_MAX },
	{ "port_file", offsetof(struct config, port_file), PATH_MAX },
};

static int
global_key(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *cfg = ctx->cfg;
	size_t i;

	for (i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
		if (strcmp(name, int_keys[i].name) != 0)
			continue;
		if (parse_int(value, int_keys[i].min, int_keys[i].max,
		    (int *)((char *)cfg + int_keys[i].off)) != 0) {
			char range[64];

			snprintf(range, sizeof range, "%ld..%ld",
			    int_keys[i].min, int_keys[i].max);
			return fail(ctx, "%s: expected a whole number in %s",
			    name, range);
		}
		return 1;
	}
	for (i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
		if (strcmp(name, str_keys[i].name) != 0)
			continue;
		if (copy((char *)cfg + str_keys[i].off, str_keys[i].size,
		    value) != 0)
			return fail(ctx, "%s: value too long", name);
		if ((strcmp(name, "auth") == 0 || strcmp(name, "storage") == 0)
		    && (value[0] == '\0' || strpbrk(value, "/.") != NULL))
			return fail(ctx, "%s: not a plugin name: %s", name,
			    value);
		if (strcmp(name, "auth") == 0)
			cfg->auth_line = ctx->line;
		else if (strcmp(name, "storage") == 0)
			cfg->store_line = ctx->line;
		if (strcmp(name, "hostname") == 0 &&
		    (value[0] == '\0' || strpbrk(value, " <>@\t") != NULL))
			return fail(ctx, "%s: not a host name: %s", name,
			    value);
		return 1;
	}
	if (strcmp(name, "listen") == 0) {
		struct listener_conf *l;

		if (cfg->n_listeners >= MAX_LISTENERS)
			return fail(ctx, "listen: more than %d listeners",
			    MAX_LISTENERS);
		l = &cfg->listeners[cfg->n_listeners];
		memset(l, 0, sizeof *l);
		if (parse_listen(value, l) != 0)
			return fail(ctx, "listen: expected \"pop3|pop2 "
			    "ADDRESS:PORT\", got \"%s\"", value);
		l->line = ctx->line;
		cfg->n_listeners++;
		return 1;
	}
	if (strcmp(name, "apop") == 0 || strcmp(name, "last") == 0 ||
	    strcmp(name, "debug") == 0) {
		int *f = name[0] == 'a' ? &cfg->apop :
		    name[0] == 'l' ? &cfg->last : &cfg->debug;

		if (parse_bool(value, f) != 0)
			return fail(ctx, "%s: expected yes or no, got \"%s\"",
			    name, value);
		return 1;
	}
	if (strcmp(name, "virtual_uid") == 0) {
		if (lookup_uid(value, &cfg->virtual_uid) != 0)
			return fail(ctx, "%s: no such user: %s", name, value);
		return 1;
	}
	if (strcmp(name, "virtual_gid") == 0) {
		if (lookup_gid(value, &cfg->virtual_gid) != 0)
			return fail(ctx, "%s: no such group: %s", name, value);
		return 1;
	}
	if (strcmp(name, "syslog_facility") == 0) {
		for (i = 0; i < sizeof facilities / sizeof facilities[0]; i++)
			if (strcasecmp(value, facilities[i].name) == 0) {
				cfg->syslog_facility = facilities[i].value;
				return 1;
			}
		return fail(ctx, "%s: unknown facility \"%s\"", name, value);
	}
	return fail(ctx, "unknown key \"%s\"", name);
}

static int
plugin_key(struct parse_ctx *ctx, const char *section, const char *name,
    const char *value)
{
	struct config *cfg = ctx->cfg;
	struct plugin_setting *ps, *n;

	n = reallocarray(cfg->plugin_settings, cfg->n_plugin_settings + 1,
	    sizeof *n);
	if (n == NULL)
		return fail(ctx, "out of memory");
	cfg->plugin_settings = n;
	ps = &n[cfg->n_plugin_settings];
	memset(ps, 0, sizeof *ps);
	if (copy(ps->section, sizeof ps->section, section) != 0 ||
	    copy(ps->key, sizeof ps->key, name) != 0 ||
	    copy(ps->value, sizeof ps->value, value) != 0)
		return fail(ctx, "[%s] %s: too long", section, name);
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
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;

	if (section[0] == '\0')
		return global_key(ctx, name, value);
	return plugin_key(ctx, section, name, value);
}

struct reader {
	FILE *fp;
	struct parse_ctx *ctx;
};

/* ini_parse_stream reader that counts lines, so the handler knows the
 * line it is looking at (the line just read). */
static char *
read_line(char *str, int num, void *stream)
{
	struct reader *r = stream;
	char *p = fgets(str, num, r->fp);

	if (p != NULL)
		r->ctx->line++;
	return p;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errsz)
{
	struct parse_ctx ctx;
	struct reader rd;
	int line;

	config_defaults(cfg);
	if (strlcpy(cfg->path, path, sizeof cfg->path) >= sizeof cfg->path) {
		snprintf(err, errsz, "%s: path too long", path);
		return -1;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.cfg = cfg;
	rd.ctx = &ctx;
	if ((rd.fp = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	line = ini_parse_stream(read_line, &rd, handler, &ctx);
	fclose(rd.fp);
	if (line != 0) {
		if (ctx.err[0] == '\0')
			snprintf(ctx.err, sizeof ctx.err, "syntax error "
			    "(expected \"key = value\" or \"[section]\", "
			    "at most %d characters)", INI_MAX_LINE - 1);
		snprintf(err, errsz, "%s:%d: %s", path, line < 0 ? 0 : line,
		    ctx.err);
		config_free(cfg);
		return -1;
	}
	if (cfg->n_listeners == 0) {
		snprintf(err, errsz, "%s: no \"listen\" line", path);
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
