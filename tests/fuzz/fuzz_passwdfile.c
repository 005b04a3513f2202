/*
 * fuzz_passwdfile.c - libFuzzer target: the passwd-file parser of the
 * "passwdfile" auth plugin (plugins/auth_passwdfile.c, compiled in here).
 * The input is the file.  Each run: check_config() (the master's
 * validation), lookup() of a user named in the file and of an unknown one
 * (the monitor's parse into its table, the sort, the search), and APOP
 * against {PLAIN} entries.  verify_plain() is left out: it runs one
 * crypt(3) at the file's own cost by design, so a fuzzed "$2b$31$" would
 * only measure bcrypt (the file is root's, doc/SECURITY.md).
 * Runs as whoever runs the fuzzer (the plugin runs as root in the
 * monitor; the file is trusted input there, but must still never crash
 * it).
 */
#include "config.h"

#include "fuzz.h"

#include "../../plugins/auth_passwdfile.c"
/* Built into the plugin beside it (Makefile.am). */
#include "../../plugins/apop.c"

static char pf_path[512];

static void pf_fuzz_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
pf_fuzz_log(int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	/* Format it (the plugin's format strings are exercised) and drop
	 * it: a log line per input would only slow the run down. */
	(void)prio;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

static const char *
pf_fuzz_config_get(const char *plugin, const char *key)
{
	if (strcmp(plugin, "passwdfile") == 0 && strcmp(key, "path") == 0)
		return pf_path;
	return NULL;
}

static void
pf_fuzz_zero(void *p, size_t len)
{
	explicit_bzero(p, len);
}

/* The file is the fuzzer's own, in its private directory: trusted. */
static int
pf_fuzz_trusted(const char *path, const char **error_r)
{
	(void)path;
	(void)error_r;
	return 0;
}

static const struct pop23d_host pf_fuzz_host = {
	.api = POP23D_PLUGIN_API,
	.log = pf_fuzz_log,
	.config_get = pf_fuzz_config_get,
	.secure_zero = pf_fuzz_zero,
	.rootless = 1,
	.trusted_file = pf_fuzz_trusted,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pop23d_plugin *plug;
	struct pop23d_identity id;
	char user[300];
	const char *err, *colon;
	size_t ulen;

	if (plug == NULL) {
		snprintf(pf_path, sizeof(pf_path), "%s/passwd", fuzz_dir());
		if (pop23d_plugin_init(POP23D_PLUGIN_ABI, &pf_fuzz_host,
		    &plug) != 0)
			abort();
	}
	/* A new file each time: a new inode, so the plugin reads it. */
	(void)unlink(pf_path);
	if (fuzz_write_file(pf_path, data, size, 0600) == -1)
		fuzz_die(pf_path);
	(void)plug->check_config(&err);

	/* The first line's user, as a client would name it. */
	colon = memchr(data, ':', size);
	ulen = colon != NULL ? (size_t)(colon - (const char *)data) : 0;
	if (ulen >= sizeof(user))
		ulen = sizeof(user) - 1;
	memcpy(user, data, ulen);
	user[ulen] = '\0';
	memset(&id, 0, sizeof(id));
	(void)plug->auth->lookup(user, &id);
	memset(&id, 0, sizeof(id));
	(void)plug->auth->lookup("nosuchuser", &id);
	(void)plug->auth->verify_apop(user, "<1.2@fuzz>",
	    "0123456789abcdef0123456789abcdef");
	return 0;
}
