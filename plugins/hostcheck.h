/*
 * hostcheck.h - the checks every plugin's pop23d_plugin_init() makes of
 * the host before it keeps the host pointer (doc/PLUGINS.md section 4):
 * refuse a host of another ABI without touching it, refuse one without
 * log(), and refuse, with one log line, one older than the plugin's
 * api_min or without a host service the plugin calls.
 *
 * A header of one static inline function, not a .c file linked in like
 * sysuser.c: example_auth.c, the template plugin authors copy, is built
 * out of tree with nothing but cc and pkg-config (tests/integ/
 * test_sdk.py), and tests/fuzz/fuzz_passwdfile.c compiles
 * auth_passwdfile.c into itself; a header beside the plugin's source
 * reaches both without a line more in their builds.  It includes only
 * the public <pop23d/plugin.h>, so a plugin author can copy it with
 * example_auth.c.
 *
 * PRIVILEGE: runs where the plugin's init runs: as root in the daemon's
 * master (start, SIGHUP, "pop23d -t"), or as the daemon's user in
 * rootless mode.  It reads only the host struct the daemon passes, never
 * client bytes.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 */
#ifndef POP23D_HOSTCHECK_H
#define POP23D_HOSTCHECK_H

#include <stddef.h>
#include <syslog.h>

#include <pop23d/plugin.h>

/*
 * The host services a plugin calls besides log() (which every plugin
 * needs), for hostcheck()'s NEEDS.  Each is checked only on a host whose
 * API has it, so asking for one never reads past an older host's struct.
 */
#define HOSTCHECK_CONFIG_GET	0x1u	/* h->config_get, API 1 */
#define HOSTCHECK_SECURE_ZERO	0x2u	/* h->secure_zero, API 1 */
#define HOSTCHECK_TRUSTED_FILE	0x4u	/* h->trusted_file, API 3 */

/*
 * May a plugin whose descriptor is SELF keep the host H, and answer
 * through PLUGIN_R?  HOST_ABI, H and PLUGIN_R are pop23d_plugin_init()'s
 * arguments; NEEDS is an OR of HOSTCHECK_* (0: log() only).  Returns 0,
 * or -1 if:
 *   - H or PLUGIN_R is NULL;
 *   - HOST_ABI is not POP23D_PLUGIN_ABI: *H has a layout this plugin does
 *     not know, so it is not read at all, not even to log; the daemon
 *     reports the refusal itself;
 *   - H->log is NULL (nothing to say it with);
 *   - H->api is below SELF->api_min, or a service in NEEDS is missing:
 *     logged as "host API N lacks services this plugin needs".
 * *PLUGIN_R is never written: that is the plugin's own last step.
 */
static inline int
hostcheck(unsigned host_abi, const struct pop23d_host *h,
    const struct pop23d_plugin **plugin_r, const struct pop23d_plugin *self,
    unsigned needs)
{
	if (h == NULL || plugin_r == NULL)
		return -1;
	if (host_abi != POP23D_PLUGIN_ABI)
		return -1;
	if (h->log == NULL)
		return -1;
	/* h->api first: it says which members *h has. */
	if (h->api < self->api_min ||
	    ((needs & HOSTCHECK_CONFIG_GET) != 0 && h->config_get == NULL) ||
	    ((needs & HOSTCHECK_SECURE_ZERO) != 0 && h->secure_zero == NULL) ||
	    ((needs & HOSTCHECK_TRUSTED_FILE) != 0 &&
	    (h->api < 3 || h->trusted_file == NULL))) {
		h->log(LOG_ERR, "host API %u lacks services this plugin needs",
		    h->api);
		return -1;
	}
	return 0;
}

#endif
