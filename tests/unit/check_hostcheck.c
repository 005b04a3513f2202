/*
 * check_hostcheck.c - what each built plugin's pop23d_plugin_init()
 * refuses (plugins/hostcheck.h, the one home of those checks): every
 * plugin that uses it is dlopen()ed from test_plugindir() and handed a
 * host of another ABI (a pointer into a page that cannot be read: the
 * plugin must not touch it), NULL arguments, a host without log(), one
 * older than the plugin's api_min, and hosts without each service.  What
 * each plugin needs is written out here, not taken from the header, so
 * a wrong shared check or a plugin passing the wrong needs fails.  Runs
 * as whoever runs "make check".
 */
#include "config.h"

#include <sys/mman.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "pop23d/plugin.h"

#include "mock_host.h"
#include "suites.h"

/* The host services the plugins' init checks, one bit each. */
#define NEED_CONFIG_GET		0x1u
#define NEED_SECURE_ZERO	0x2u
#define NEED_TRUSTED_FILE	0x4u
#define NEED_ALL_AUTH	(NEED_CONFIG_GET | NEED_SECURE_ZERO | \
	NEED_TRUSTED_FILE)

static const struct {
	const char *file;
	unsigned api_min;	/* the descriptor's, checked against h->api */
	unsigned needs;
} plugins[] = {
	{ "auth_checkpassword.so", 3, NEED_ALL_AUTH },
	{ "auth_sasl.so", 3, NEED_ALL_AUTH },
	{ "auth_passwdfile.so", 3, NEED_ALL_AUTH },
	{ "auth_pam.so", 1, NEED_CONFIG_GET | NEED_SECURE_ZERO },
	{ "store_mbox.so", 6, NEED_CONFIG_GET },
	{ "example_auth.so", 1, 0 },
};

#define NPLUGINS ((int)(sizeof plugins / sizeof plugins[0]))

/* The plugin keeps the host it accepted: static, not on the stack. */
static struct pop23d_host host;

/* The mock host, its log forgotten, with API HOST_API. */
static const struct pop23d_host *
host_with(unsigned host_api)
{
	host = mock_host;
	host.api = host_api;
	mock_host_reset();
	return &host;
}

/* The plugin under test, loaded by load(), closed by the teardown. */
static void *dl;

static pop23d_plugin_init_fn *
load(int i)
{
	pop23d_plugin_init_fn *init;

	dl = mock_plugin_open(plugins[i].file, &init);
	return init;
}

static void
unload(void)
{
	if (dl != NULL)
		dlclose(dl);
	dl = NULL;
}

/* INIT refused H: -1, *plugin_r left alone, and one LOG_ERR line. */
static void
refused_logged(pop23d_plugin_init_fn *init, const struct pop23d_host *h,
    const char *what)
{
	const struct pop23d_plugin *p = NULL;
	char want[128];

	ck_assert_msg(init(POP23D_PLUGIN_ABI, h, &p) == -1, "%s: accepted",
	    what);
	ck_assert_ptr_null(p);
	snprintf(want, sizeof want,
	    "host API %u lacks services this plugin needs", h->api);
	ck_assert_msg(mock_host_lines == 1, "%s: %d lines logged", what, mock_host_lines);
	ck_assert_int_eq(mock_host_last_prio, LOG_ERR);
	ck_assert_str_eq(mock_host_last_text, want);
}

START_TEST(test_wrong_abi_untouched)
{
	pop23d_plugin_init_fn *init = load(_i);
	long page = sysconf(_SC_PAGESIZE);
	const struct pop23d_plugin *p = NULL;
	void *unreadable;

	/* Any read of *h there is a SIGSEGV, which fails this test. */
	ck_assert_int_ge(page, (long)sizeof(struct pop23d_host));
	unreadable = mmap(NULL, (size_t)page, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(unreadable, MAP_FAILED);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI + 1, unreadable, &p), -1);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI - 1, unreadable, &p), -1);
	ck_assert_int_eq(init(0, unreadable, &p), -1);
	ck_assert_ptr_null(p);
	munmap(unreadable, (size_t)page);
}
END_TEST

START_TEST(test_null_arguments)
{
	pop23d_plugin_init_fn *init = load(_i);
	const struct pop23d_plugin *p = NULL;
	const struct pop23d_host *h = host_with(POP23D_PLUGIN_API);

	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, NULL, &p), -1);
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, h, NULL), -1);
	ck_assert_ptr_null(p);
	/* No log(): refused, and nothing to say it with. */
	host.log = NULL;
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, h, &p), -1);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(mock_host_lines, 0);
}
END_TEST

START_TEST(test_api_min)
{
	pop23d_plugin_init_fn *init = load(_i);
	const struct pop23d_plugin *p = NULL;
	unsigned min = plugins[_i].api_min;

	refused_logged(init, host_with(min - 1), "api_min - 1");
	if (min > 1)
		refused_logged(init, host_with(0), "API 0");
	ck_assert_int_eq(init(POP23D_PLUGIN_ABI, host_with(min), &p), 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->api_min, min);
	ck_assert_uint_eq(p->abi, POP23D_PLUGIN_ABI);
}
END_TEST

START_TEST(test_services)
{
	static const struct {
		unsigned need;
		const char *name;
	} services[] = {
		{ NEED_CONFIG_GET, "config_get" },
		{ NEED_SECURE_ZERO, "secure_zero" },
		{ NEED_TRUSTED_FILE, "trusted_file" },
	};
	pop23d_plugin_init_fn *init = load(_i);
	const struct pop23d_plugin *p;
	const struct pop23d_host *h;
	size_t i;

	for (i = 0; i < sizeof services / sizeof services[0]; i++) {
		h = host_with(POP23D_PLUGIN_API);
		if (services[i].need == NEED_CONFIG_GET)
			host.config_get = NULL;
		else if (services[i].need == NEED_SECURE_ZERO)
			host.secure_zero = NULL;
		else
			host.trusted_file = NULL;
		if (plugins[_i].needs & services[i].need) {
			refused_logged(init, h, services[i].name);
			continue;
		}
		/* Not needed: its absence refuses nothing. */
		p = NULL;
		ck_assert_msg(init(POP23D_PLUGIN_ABI, h, &p) == 0,
		    "refused without %s", services[i].name);
		ck_assert_ptr_nonnull(p);
	}
}
END_TEST

Suite *
suite_hostcheck(void)
{
	Suite *s = suite_create("hostcheck");
	TCase *tc = tcase_create("init");

	tcase_add_checked_fixture(tc, NULL, unload);
	tcase_add_loop_test(tc, test_wrong_abi_untouched, 0, NPLUGINS);
	tcase_add_loop_test(tc, test_null_arguments, 0, NPLUGINS);
	tcase_add_loop_test(tc, test_api_min, 0, NPLUGINS);
	tcase_add_loop_test(tc, test_services, 0, NPLUGINS);
	suite_add_tcase(s, tc);
	return s;
}
