/*
 * mock_host.c - the shared test host for plugin suites (see mock_host.h).
 * Runs as whoever runs "make check".
 */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dotlock.h"
#include "mock_host.h"
#include "suites.h"
#include "trust.h"

/* Settings one suite needs at a time: a handful. */
#define MOCK_SETTINGS	16

static struct {
	const char *section, *key, *value;
} mock_settings[MOCK_SETTINGS];

/* Lines logged through the host since the last mock_host_reset(). */
int mock_host_lines;
int mock_host_last_prio = -1;
char mock_host_last_text[256];

static void mock_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
mock_log(int priority, const char *fmt, ...)
{
	va_list ap;

	mock_host_lines++;
	mock_host_last_prio = priority;
	va_start(ap, fmt);
	vsnprintf(mock_host_last_text, sizeof mock_host_last_text, fmt, ap);
	va_end(ap);
	fprintf(stderr, "[plugin log <%d>] %s\n", priority,
	    mock_host_last_text);
}

static const char *
mock_config_get(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < MOCK_SETTINGS; i++)
		if (mock_settings[i].key != NULL &&
		    strcmp(mock_settings[i].section, section) == 0 &&
		    strcmp(mock_settings[i].key, key) == 0)
			return mock_settings[i].value;
	return NULL;
}

static void
mock_zero(void *p, size_t len)
{
	explicit_bzero(p, len);
}

/* The daemon's own StrictModes rule (trust.c), as the real host has it. */
static int
mock_trusted_file(const char *path, const char **error_r)
{
	return trust_check(path, TRUST_FILE, error_r);
}

/* API 6: the session's user and home come from [session] user/home. */
static const char *
mock_session_user(void)
{
	const char *v = mock_config_get("session", "user");

	return v != NULL ? v : "";
}

static const char *
mock_session_home(void)
{
	const char *v = mock_config_get("session", "home");

	return v != NULL ? v : "";
}

/* API 6: the daemon's own dotlocks, in-process. */
static int
mock_dotlock(const char *mbox_path, int op, unsigned stale_secs)
{
	if (op == POP23D_DOTLOCK_REFRESH)
		return dotlock_refresh(mbox_path);
	return op == POP23D_DOTLOCK_TAKE ? dotlock_take(mbox_path, stale_secs) :
	    dotlock_release(mbox_path);
}

const struct pop23d_host mock_host = {
	.api = POP23D_PLUGIN_API,
	.log = mock_log,
	.config_get = mock_config_get,
	.secure_zero = mock_zero,
	.rootless = 1,
	.trusted_file = mock_trusted_file,
	.session_user = mock_session_user,
	.session_home = mock_session_home,
	.dotlock = mock_dotlock,
};

void
mock_host_reset(void)
{
	memset(mock_settings, 0, sizeof(mock_settings));
	mock_host_lines = 0;
	mock_host_last_prio = -1;
	mock_host_last_text[0] = '\0';
}

void
mock_host_set(const char *section, const char *key, const char *value)
{
	size_t i, free_slot = MOCK_SETTINGS;

	for (i = 0; i < MOCK_SETTINGS; i++) {
		if (mock_settings[i].key == NULL) {
			if (free_slot == MOCK_SETTINGS)
				free_slot = i;
			continue;
		}
		if (strcmp(mock_settings[i].section, section) == 0 &&
		    strcmp(mock_settings[i].key, key) == 0) {
			mock_settings[i].value = value;
			return;
		}
	}
	ck_assert_msg(free_slot < MOCK_SETTINGS, "mock host: too many "
	    "settings");
	mock_settings[free_slot].section = section;
	mock_settings[free_slot].key = key;
	mock_settings[free_slot].value = value;
}

void *
mock_plugin_open(const char *file, pop23d_plugin_init_fn **init_r)
{
	char path[PATH_MAX];
	void *h;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s",
	    test_plugindir(), file), (int)sizeof(path));
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "dlopen %s: %s", path, dlerror());
	*(void **)init_r = dlsym(h, POP23D_PLUGIN_ENTRY);
	ck_assert_msg(*init_r != NULL, "dlsym %s: %s", path, dlerror());
	return h;
}
