/*
 * plugin.c - load auth and storage plugins: dlopen(RTLD_NOW), one entry
 * symbol, ABI and API checks on both sides, config-key validation, and the
 * host services struct plugins reach the daemon through.
 * plugin_dir and every plugin file must pass trust_check() (root-owned,
 * writable by nobody else, all the way up) before dlopen().
 * Runs as root in the master (startup, SIGHUP, "pop23d -t"); the ops are
 * then called by the monitor (auth, root) and the session (storage, mail
 * user).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "compat.h"
#include "conf.h"
#include "log.h"
#include "plugin.h"
#include "dotlock.h"
#include "priv.h"
#include "trust.h"

/* Longest error text; the reasons are short, paths are up to PATH_MAX. */
#define PLUGIN_ERROR_MAX	(2 * PATH_MAX)

static const struct config *host_cfg;
/* The error text of the last failed call of this module; valid until the
 * next call. */
static char plugin_errbuf[PLUGIN_ERROR_MAX];

/* Format an error into plugin_errbuf and point *ERROR_R at it; -1. */
static int __attribute__((format(printf, 2, 3)))
plugin_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(plugin_errbuf, sizeof plugin_errbuf, fmt, ap);
	va_end(ap);
	*error_r = plugin_errbuf;
	return -1;
}

static void __attribute__((format(printf, 2, 3)))
host_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprio(priority, fmt, ap);
	va_end(ap);
}

static const char *
host_config_get(const char *plugin, const char *key)
{
	if (host_cfg == NULL)
		return NULL;
	return config_plugin_get(host_cfg, plugin, key);
}

static void
host_secure_zero(void *p, size_t len)
{
	explicit_bzero(p, len);
}

static int
host_trusted_file(const char *path, const char **error_r)
{
	return trust_check(path, TRUST_FILE, error_r);
}

/* The logged-in user of this session process (API 6), "" elsewhere.
 * Pointers to the caller's strings, not copies: they live as long as the
 * session (session.c's static storage), and 4 KiB of copies would be one
 * more page of its own for every idle session (doc/PERFORMANCE.md, "Idle
 * memory, run 5"). */
static const char *session_user_p = "", *session_home_p = "";

static const char *
host_session_user(void)
{
	return session_user_p;
}

static const char *
host_session_home(void)
{
	return session_home_p;
}

void
plugin_set_session(const char *user, const char *home)
{
	session_user_p = user;
	session_home_p = home;
}

static int
host_dotlock(const char *mbox_path, int op, unsigned stale_secs)
{
	if (op == POP23D_DOTLOCK_TAKE)
		return dotlock_take(mbox_path, stale_secs);
	if (op == POP23D_DOTLOCK_RELEASE)
		return dotlock_release(mbox_path);
	if (op == POP23D_DOTLOCK_REFRESH)
		return dotlock_refresh(mbox_path);
	errno = EINVAL;
	return -1;
}

static struct pop23d_host plugin_services = {
	.api = POP23D_PLUGIN_API,
	.log = host_log,
	.config_get = host_config_get,
	.secure_zero = host_secure_zero,
	.rootless = 0,
	.trusted_file = host_trusted_file,
	.session_user = host_session_user,
	.session_home = host_session_home,
	.dotlock = host_dotlock,
};

const struct pop23d_host *
plugin_host(void)
{
	plugin_services.rootless = !priv_is_root();
	return &plugin_services;
}

void
plugin_set_config(const struct config *cfg)
{
	host_cfg = cfg;
}

static const char *
plugin_kind_name(enum pop23d_plugin_kind kind)
{
	return kind == POP23D_PLUGIN_AUTH ? "auth" : "storage";
}

/* The plugin's descriptor has every operation its KIND requires. */
static int
plugin_complete(const struct pop23d_plugin *desc,
    enum pop23d_plugin_kind kind)
{
	const struct pop23d_auth_ops *a = desc->auth;
	const struct pop23d_store_ops *s = desc->store;

	if (desc->kind != kind || desc->name == NULL)
		return 0;
	if (kind == POP23D_PLUGIN_AUTH)
		return a != NULL && a->verify_plain != NULL &&
		    a->lookup != NULL;
	return s != NULL && s->open != NULL && s->list != NULL &&
	    s->msg_open != NULL && s->expunge != NULL &&
	    s->mark_accessed != NULL && s->index_dir != NULL &&
	    s->close != NULL;
}

int
plugin_load(const char *dir, const char *name, enum pop23d_plugin_kind kind,
    struct loaded_plugin *lp, const char **error_r)
{
	pop23d_plugin_init_fn *init;
	const struct pop23d_plugin *desc = NULL;
	const char *prefix = kind == POP23D_PLUGIN_AUTH ? "auth_" : "store_";
	const char *e;
	int n;

	memset(lp, 0, sizeof *lp);
	n = snprintf(lp->path, sizeof lp->path, "%s/%s%s.so", dir, prefix,
	    name);
	if (n < 0 || (size_t)n >= sizeof lp->path)
		return plugin_error(error_r, "plugin path too long");
	/* Root maps this code into every process: the directory and the
	 * file must be root's and writable by nobody else. */
	if (trust_check(dir, TRUST_DIR, &e) != 0 ||
	    trust_check(lp->path, TRUST_FILE, &e) != 0)
		return plugin_error(error_r, "%s plugin: %s",
		    plugin_kind_name(kind), e);
	lp->handle = dlopen(lp->path, RTLD_NOW | RTLD_LOCAL);
	if (lp->handle == NULL)
		return plugin_error(error_r, "cannot load %s plugin: %s",
		    plugin_kind_name(kind), dlerror());
	*(void **)&init = dlsym(lp->handle, POP23D_PLUGIN_ENTRY);
	if (init == NULL) {
		plugin_error(error_r, "%s: no symbol %s: %s", lp->path,
		    POP23D_PLUGIN_ENTRY, dlerror());
		goto bad;
	}
	if (init(POP23D_PLUGIN_ABI, plugin_host(), &desc) != 0 ||
	    desc == NULL) {
		/* A plugin built for another ABI refuses here (it must not
		 * touch a host struct of unknown layout, so it cannot say
		 * why); any other reason it logged itself. */
		plugin_error(error_r, "%s: the plugin refused to start with "
		    "plugin ABI %d: rebuild it against this pop23d's "
		    "<pop23d/plugin.h>", lp->path, POP23D_PLUGIN_ABI);
		goto bad;
	}
	if (desc->abi != POP23D_PLUGIN_ABI) {
		plugin_error(error_r, "%s: plugin ABI %u, daemon ABI %d: "
		    "rebuild the plugin", lp->path, desc->abi,
		    POP23D_PLUGIN_ABI);
		goto bad;
	}
	if (desc->api_min > POP23D_PLUGIN_API) {
		plugin_error(error_r, "%s: plugin needs API %u, daemon has %d",
		    lp->path, desc->api_min, POP23D_PLUGIN_API);
		goto bad;
	}
	if (!plugin_complete(desc, kind)) {
		plugin_error(error_r, "%s: not a complete %s plugin", lp->path,
		    plugin_kind_name(kind));
		goto bad;
	}
	lp->desc = desc;
	/* Copy only what the plugin's API version defines: API 2 appended
	 * verify_apop and folder_open/writable, API 5 the SASL ops (API 3,
	 * 4 and 6 appended host services and flags, no ops).  What a
	 * plugin built against an older API lacks stays NULL. */
	if (kind == POP23D_PLUGIN_AUTH)
		memcpy(&lp->auth, desc->auth, desc->api_built >= 5 ?
		    sizeof lp->auth : desc->api_built >= 2 ?
		    offsetof(struct pop23d_auth_ops, sasl_mechs) :
		    offsetof(struct pop23d_auth_ops, verify_apop));
	else
		memcpy(&lp->store, desc->store, desc->api_built >= 2 ?
		    sizeof lp->store :
		    offsetof(struct pop23d_store_ops, folder_open));
	return 0;
bad:
	dlclose(lp->handle);
	lp->handle = NULL;
	return -1;
}

static const struct loaded_plugin *
plugin_find(struct loaded_plugin *const *plugins, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (plugins[i] != NULL && plugins[i]->desc != NULL &&
		    strcmp(plugins[i]->desc->name, name) == 0)
			return plugins[i];
	return NULL;
}

int
plugin_check_config(const struct config *cfg,
    struct loaded_plugin *const *plugins, size_t n, const char **error_r)
{
	size_t i;
	const char *e;

	plugin_set_config(cfg);
	for (i = 0; i < cfg->n_plugin_settings; i++) {
		const struct plugin_setting *ps = &cfg->plugin_settings[i];
		const struct loaded_plugin *lp;
		const char *const *k;

		lp = plugin_find(plugins, n, ps->section);
		if (lp == NULL)
			return plugin_error(error_r, "%s:%d: section [%s] "
			    "names no loaded plugin", cfg->path, ps->line,
			    ps->section);
		for (k = lp->desc->config_keys; k != NULL && *k != NULL; k++)
			if (strcmp(*k, ps->key) == 0)
				break;
		if (k == NULL || *k == NULL)
			return plugin_error(error_r, "%s:%d: unknown key "
			    "\"%s\" in [%s]", cfg->path, ps->line, ps->key,
			    ps->section);
	}
	for (i = 0; i < n; i++) {
		if (plugins[i] == NULL || plugins[i]->desc == NULL ||
		    plugins[i]->desc->check_config == NULL)
			continue;
		e = NULL;
		if (plugins[i]->desc->check_config(&e) != 0)
			return plugin_error(error_r, "%s: [%s]: %s",
			    cfg->path, plugins[i]->desc->name,
			    e != NULL ? e : "error");
	}
	return 0;
}

/* Load one plugin of CFG; errors get "FILE:LINE: " of its line (LINE 0:
 * the built-in default, just "FILE: "). */
static int
plugin_load_one(const struct config *cfg, const char *name, int line,
    enum pop23d_plugin_kind kind, struct loaded_plugin *lp,
    const char **error_r)
{
	char reason[PLUGIN_ERROR_MAX], where[32] = "";
	const char *e;

	if (plugin_load(cfg->plugin_dir, name, kind, lp, &e) == 0)
		return 0;
	strlcpy(reason, e, sizeof reason);
	if (line > 0)
		snprintf(where, sizeof where, ":%d", line);
	return plugin_error(error_r, "%s%s: %s", cfg->path, where, reason);
}

int
plugin_load_config(const struct config *cfg, struct loaded_plugin *auth,
    struct loaded_plugin *store, const char **error_r)
{
	struct loaded_plugin *all[2] = { auth, store };

	plugin_set_config(cfg);
	if (plugin_load_one(cfg, cfg->auth_plugin, cfg->auth_line,
	    POP23D_PLUGIN_AUTH, auth, error_r) != 0)
		return -1;
	if (plugin_load_one(cfg, cfg->store_plugin, cfg->store_line,
	    POP23D_PLUGIN_STORE, store, error_r) != 0) {
		plugin_unload(auth);
		return -1;
	}
	if (plugin_check_config(cfg, all, 2, error_r) != 0) {
		plugin_unload(auth);
		plugin_unload(store);
		return -1;
	}
	return 0;
}

void
plugin_unload(struct loaded_plugin *lp)
{
	/* Nothing loaded (or parked): write nothing, a session would own
	 * the page (doc/PERFORMANCE.md, "Idle memory, run 5"). */
	if (lp->handle == NULL && lp->desc == NULL)
		return;
	if (lp->handle != NULL)
		dlclose(lp->handle);
	memset(lp, 0, sizeof *lp);
}

void
plugin_park(struct loaded_plugin *lp)
{
	int sasl = lp->auth.sasl_mechs != NULL && lp->auth.sasl_start != NULL;

	if (lp->handle == NULL)
		return;
	plugin_unload(lp);
	lp->parked = 1;
	lp->sasl = sasl;
	/* The plugin's check_config() may have read and freed a large
	 * table (a passwd-file of 100 000 users); hand the free heap pages
	 * back, so that every fork of the master copies less
	 * (doc/PERFORMANCE.md, run 5, "Login rates"). */
	(void)malloc_trim(0);
}

int
plugin_unpark(const struct config *cfg, struct loaded_plugin *lp,
    const char **error_r)
{
	const char *e;

	if (!lp->parked)
		return 0;
	plugin_set_config(cfg);
	if (plugin_load_one(cfg, cfg->auth_plugin, cfg->auth_line,
	    POP23D_PLUGIN_AUTH, lp, error_r) != 0)
		return -1;
	/* The master's check passed with this configuration; if the files
	 * changed since (a mode, an owner), say so and go on: the plugin's
	 * operations check them again at every use and refuse with their
	 * own reason, as they did when the service inherited the master's
	 * copy. */
	e = NULL;
	if (lp->desc->check_config != NULL && lp->desc->check_config(&e) != 0)
		log_warnx("%s: [%s]: %s (since the configuration was checked)",
		    cfg->path, cfg->auth_plugin, e != NULL ? e : "error");
	return 0;
}
