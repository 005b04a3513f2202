/*
 * mock_host.h - the one test host for the plugin suites (check_plugins.c,
 * check_store_maildir.c, and the storage and auth suites to come): the
 * daemon's side of struct pop23d_host without the daemon, as collectd's
 * libplugin_mock does.  Log lines go to stderr, tagged with their
 * priority; config_get() answers from a small table the test sets;
 * secure_zero is explicit_bzero; rootless is set; trusted_file is the
 * daemon's own trust_check() (src/trust.c).
 */
#ifndef POP23D_TEST_MOCK_HOST_H
#define POP23D_TEST_MOCK_HOST_H

#include <pop23d/plugin.h>

extern const struct pop23d_host mock_host;
/* Lines the plugin logged through the host since the last reset, and
 * the last one's priority (-1: none) and text. */
extern int mock_host_lines;
extern int mock_host_last_prio;
extern char mock_host_last_text[256];

/* Forget every setting: config_get() answers NULL for all keys. */
void mock_host_reset(void);
/*
 * From now on config_get(SECTION, KEY) answers VALUE (NULL: unset).  The
 * strings are not copied; they must live until the next reset.
 */
void mock_host_set(const char *section, const char *key, const char *value);
/*
 * dlopen() FILE (e.g. "store_maildir.so") from test_plugindir() with
 * RTLD_NOW | RTLD_LOCAL, as the daemon does; *INIT_R gets its entry
 * point.  Asserts on failure.  Returns the handle for dlclose().
 */
void *mock_plugin_open(const char *file, pop23d_plugin_init_fn **init_r);

#endif
