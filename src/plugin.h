/*
 * plugin.h (daemon side) - load auth and storage plugins with
 * dlopen(RTLD_NOW), check their ABI and API numbers and their config keys,
 * and hand their ops to the rest of the daemon.
 * Runs as root in the master at startup and on SIGHUP.
 */
#ifndef POP23D_PLUGIN_HOST_H
#define POP23D_PLUGIN_HOST_H

#include <pop23d/plugin.h>

struct config;

struct loaded_plugin {
	void *handle;
	const struct pop23d_plugin *desc;
	/* Full-size copies of the plugin's ops: members appended after the
	 * plugin's api_built are NULL here, so the daemon never reads past
	 * the end of an older plugin's struct. */
	struct pop23d_auth_ops auth;
	struct pop23d_store_ops store;
	char path[4096];
	/* plugin_park(): unmapped here, loaded again by plugin_unpark() */
	int parked;
	int sasl;		/* it had sasl_mechs and sasl_start */
};

/*
 * Errors: every function below that fails returns -1 and points *error_r
 * at text owned by plugin.c, valid until the next call of this module.
 */

/*
 * Load plugin NAME (file DIR/auth_NAME.so or DIR/store_NAME.so, by KIND)
 * and check that it is of KIND.
 * 0, or -1 with the reason (dlerror(), ABI mismatch ...) in *error_r.
 */
int plugin_load(const char *dir, const char *name,
    enum pop23d_plugin_kind kind, struct loaded_plugin *lp,
    const char **error_r);
/*
 * Check the config keys of every [section] of CFG against the loaded
 * plugins (a section must name a loaded plugin, a key must be one the
 * plugin declares), then run each plugin's check_config().  0, or -1 with
 * "FILE:LINE: reason" in *error_r.
 */
int plugin_check_config(const struct config *cfg,
    struct loaded_plugin *const *plugins, size_t n, const char **error_r);
/*
 * Load the auth and storage plugins CFG names into AUTH and STORE and run
 * plugin_check_config().  0, or -1 (nothing stays loaded) with
 * "FILE:LINE: reason" in *error_r, LINE being that of the "auth" or
 * "storage" line (just "FILE: reason" for a built-in default).
 */
int plugin_load_config(const struct config *cfg, struct loaded_plugin *auth,
    struct loaded_plugin *store, const char **error_r);
void plugin_unload(struct loaded_plugin *lp);
/*
 * The master's auth plugin between loads (doc/DESIGN.md section 10): run
 * only in the auth service, it is not kept mapped in the master, so the
 * monitors it forks have nothing to dlclose() (a dlclose() writes every
 * link map and ld.so's state: about 32 KiB of pages of its own in each
 * idle session).  plugin_park() remembers whether it has SASL ops, then
 * unloads it; plugin_unpark() loads it again from the same configuration
 * (trust checks, ABI checks, its check_config()), in the auth service
 * before it drops root.  0, or -1 with the reason in *error_r (nothing
 * loaded).  A check_config() that fails now (the files changed since the
 * master's check) is logged, not fatal: the plugin's operations check
 * again at every use.
 */
void plugin_park(struct loaded_plugin *lp);
int plugin_unpark(const struct config *cfg, struct loaded_plugin *lp,
    const char **error_r);
/* The host services given to plugins; reads the current config. */
const struct pop23d_host *plugin_host(void);
void plugin_set_config(const struct config *cfg);

/* API 6: the user a session process serves (session.c, before the
 * privilege drop); host->session_user/session_home give them out.  The
 * strings are kept by reference: they must live as long as the process. */
void plugin_set_session(const char *user, const char *home);

#endif
