/*
 * plugin.c - load auth and storage plugins: dlopen(RTLD_NOW), one entry
 * symbol, ABI and API checks on both sides, config-key validation, and the
 * host services struct plugins reach the daemon through.
 * Runs as root in the master (startup, SIGHUP, "pop23d -t"); the ops are
 * then called by the monitor (auth, root) and the session (storage, mail
 * user).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "log.h"
#include "plugin.h"
#include "priv.h"

static const struct config *host_cfg;

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

static struct pop23d_host host = {
	.api = POP23D_PLUGIN_API,
	.log = host_log,
	.config_get = host_config_get,
	.secure_zero = host_secure_zero,
	.rootless = 0,
};

const struct pop23d_host *
plugin_host(void)
{
	host.rootless = !priv_is_root();
	return &host;
}

void
plugin_set_config(const struct config *cfg)
{
	host_cfg = cfg;
}

static const char *
kind_name(enum pop23d_plugin_kind kind)
{
	return kind == POP23D_PLUGIN_AUTH ? "auth" : "storage";
}

int
plugin_load(const char *dir, const char *name, enum pop23d_plugin_kind kind,
    struct loaded_plugin *lp, char *err, size_t errsz)
{
	pop23d_plugin_init_fn *init;
	const struct pop23d_plugin *desc = NULL;
	const char *prefix = kind == POP23D_PLUGIN_AUTH ? "auth_" : "store_";
	int n;

	memset(lp, 0, sizeof *lp);
	n = snprintf(lp->path, sizeof lp->path, "%s/%s%s.so", dir, prefix,
	    name);
	if (n < 0 || (size_t)n >= sizeof lp->path) {
		snprintf(err, errsz, "plugin path too long");
		return -1;
	}
	lp->handle = dlopen(lp->path, RTLD_NOW | RTLD_LOCAL);
	if (lp->handle == NULL) {
		snprintf(err, errsz, "cannot load %s plugin: %s",
		    kind_name(kind), dlerror());
		return -1;
	}
	*(void **)&init = dlsym(lp->handle, POP23D_PLUGIN_ENTRY);
	if (init == NULL) {
		snprintf(err, errsz, "%s: no symbol %s: %s", lp->path,
		    POP23D_PLUGIN_ENTRY, dlerror());
		goto bad;
	}
	if (init(POP23D_PLUGIN_ABI, plugin_host(), &desc) != 0 ||
	    desc == NULL) {
		snprintf(err, errsz, "%s: the plugin refused to start "
		    "(host ABI %d)", lp->path, POP23D_PLUGIN_ABI);
		goto bad;
	}
	if (desc->abi != POP23D_PLUGIN_ABI) {
		snprintf(err, errsz, "%s: plugin ABI %u, daemon ABI %d: "
		    "rebuild the plugin", lp->path, desc->abi,
		    POP23D_PLUGIN_ABI);
		goto bad;
	}
	if (desc->api_min > POP23D_PLUGIN_API) {
		snprintf(err, errsz, "%s: plugin needs API %u, daemon has %d",
		    lp->path, desc->api_min, POP23D_PLUGIN_API);
		goto bad;
	}
	if (desc->kind != kind || desc->name == NULL ||
	    (kind == POP23D_PLUGIN_AUTH && (desc->auth == NULL ||
	    desc->auth->verify_plain == NULL || desc->auth->lookup == NULL)) ||
	    (kind == POP23D_PLUGIN_STORE && (desc->store == NULL ||
	    desc->store->open == NULL || desc->store->list == NULL ||
	    desc->store->msg_open == NULL || desc->store->expunge == NULL ||
	    desc->store->mark_accessed == NULL ||
	    desc->store->index_dir == NULL || desc->store->close == NULL))) {
		snprintf(err, errsz, "%s: not a complete %s plugin", lp->path,
		    kind_name(kind));
		goto bad;
	}
	lp->desc = desc;
	/* Copy only what the plugin's API version defines (ABI 1: API 2
	 * appended verify_apop and folder_open). */
	if (kind == POP23D_PLUGIN_AUTH)
		memcpy(&lp->auth, desc->auth, desc->api_built >= 2 ?
		    sizeof lp->auth :
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
find_plugin(struct loaded_plugin *const *plugins, size_t n, const char *name)
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
    struct loaded_plugin *const *plugins, size_t n, char *err, size_t errsz)
{
	size_t i;
	const char *e;

	plugin_set_config(cfg);
	for (i = 0; i < cfg->n_plugin_settings; i++) {
		const struct plugin_setting *ps = &cfg->plugin_settings[i];
		const struct loaded_plugin *lp;
		const char *const *k;

		lp = find_plugin(plugins, n, ps->section);
		if (lp == NULL) {
			snprintf(err, errsz, "%s:%d: section [%s] names no "
			    "loaded plugin", cfg->path, ps->line, ps->section);
			return -1;
		}
		for (k = lp->desc->config_keys; k != NULL && *k != NULL; k++)
			if (strcmp(*k, ps->key) == 0)
				break;
		if (k == NULL || *k == NULL) {
			snprintf(err, errsz, "%s:%d: unknown key \"%s\" in "
			    "[%s]", cfg->path, ps->line, ps->key, ps->section);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (plugins[i] == NULL || plugins[i]->desc == NULL ||
		    plugins[i]->desc->check_config == NULL)
			continue;
		e = NULL;
		if (plugins[i]->desc->check_config(&e) != 0) {
			snprintf(err, errsz, "%s: [%s]: %s", cfg->path,
			    plugins[i]->desc->name, e != NULL ? e : "error");
			return -1;
		}
	}
	return 0;
}

void
plugin_unload(struct loaded_plugin *lp)
{
	if (lp->handle != NULL)
		dlclose(lp->handle);
	memset(lp, 0, sizeof *lp);
}
