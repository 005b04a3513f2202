/*
 * example_auth.c - the smallest useful pop23d auth plugin, for plugin
 * authors.  It knows one user, "example", with the password "example".
 * It is built on every build (never installed) so that the public header
 * keeps compiling as a plugin author would use it.
 *
 * Privilege: like every auth plugin it runs as root in the per-connection
 * monitor (and in the master for check_config()).
 *
 * Build outside the tree, with hostcheck.h (the checks every init makes
 * of the host, in the same plugins/ directory) copied beside this file:
 *   cc -shared -fPIC $(pkg-config --cflags pop23d-plugin) \
 *       -o auth_example.so example_auth.c
 * and set "auth = example" in pop23d.conf (the daemon loads auth_NAME.so).
 *
 * A real plugin must also compare secrets in constant time and spend the
 * same time on unknown users (a dummy hash): see auth_passwdfile.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"		/* only inside the pop23d tree */
#endif

#include <string.h>
#include <syslog.h>

#include <pop23d/plugin.h>

#include "hostcheck.h"

/* Called as root in the monitor with what the client sent. */
static enum pop23d_result
example_verify_plain(const char *user, const char *pass)
{
	if (strcmp(user, "example") != 0)
		return POP23D_NOUSER;
	return strcmp(pass, "example") == 0 ? POP23D_OK : POP23D_FAIL;
}

/* Called after a successful verify: who to run the session as. */
static enum pop23d_result
example_lookup(const char *user, struct pop23d_identity *id_r)
{
	if (strcmp(user, "example") != 0)
		return POP23D_NOUSER;
	id_r->uid = (uid_t)-1;		/* use virtual_uid */
	id_r->gid = (gid_t)-1;		/* use virtual_gid */
	id_r->home[0] = '\0';		/* none: so no %h in mail_location */
	id_r->maildrop[0] = '\0';	/* the daemon expands mail_location */
	return POP23D_OK;
}

static const struct pop23d_auth_ops example_ops = {
	.verify_plain = example_verify_plain,
	.lookup = example_lookup,
	.verify_apop = NULL,		/* no plaintext secret: no APOP */
};

static const char *const example_keys[] = { NULL };	/* no [example] keys */

static const struct pop23d_plugin example_plugin = {
	.abi = POP23D_PLUGIN_ABI,
	.api_built = POP23D_PLUGIN_API,
	.api_min = 1,
	.kind = POP23D_PLUGIN_AUTH,
	.name = "example",
	.config_keys = example_keys,
	.check_config = NULL,		/* nothing to check */
	.auth = &example_ops,
};

/*
 * The one exported symbol.  hostcheck() refuses a daemon of another ABI
 * without touching *host (its layout is unknown), and one older than
 * api_min above or without a service the plugin calls: this one calls
 * only host->log, so it asks for no HOSTCHECK_* service.
 */
int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *host,
    const struct pop23d_plugin **plugin_r)
{
	if (hostcheck(host_abi, host, plugin_r, &example_plugin, 0) != 0)
		return -1;
	host->log(LOG_DEBUG, "example plugin loaded");
	*plugin_r = &example_plugin;
	return 0;
}
