/*
 * fuzz_conf.c - libFuzzer target: the configuration parser (src/conf.c
 * over libinih): the input is pop23d.conf.  The file is root's and
 * trusted (trust.c checks who can write it), so this is about robustness:
 * whatever it holds, config_load() returns 0 or -1 with a message and
 * never crashes; a file it accepts has at least one listener and values
 * within their bounds, and loads again to the same result.
 * Runs as whoever runs the fuzzer (the master parses it as root).
 */
#include "config.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[512];
	struct config *a, *b;
	const char *err;
	int ra, rb;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/pop23d.conf", fuzz_dir());
	if (fuzz_write_file(path, data, size, 0600) == -1)
		fuzz_die(path);
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		fuzz_die("calloc");
	ra = config_load(path, a, &err);
	if (ra != 0 && (err == NULL || *err == '\0'))
		abort();	/* a refusal always says why */
	if (ra == 0) {
		if (a->n_listeners == 0 || a->n_listeners > MAX_LISTENERS ||
		    a->max_auth_failures < 0 || a->timeout_pop3 < 0)
			abort();
		(void)config_plugin_get(a, "passwdfile", "path");
		rb = config_load(path, b, &err);
		if (rb != 0 || b->n_listeners != a->n_listeners ||
		    b->n_plugin_settings != a->n_plugin_settings)
			abort();	/* the same file, the same result */
		config_free(b);
		config_free(a);
	}
	free(a);
	free(b);
	return 0;
}
