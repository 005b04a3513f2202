/*
 * check_main.c - runs every unit suite.  Set CK_RUN_SUITE=name to run one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suites.h"
#include "index.h"

char *
test_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *p;

	if (t == NULL || *t == '\0')
		t = "/tmp";
	if (asprintf(&p, "%s/p23unit.XXXXXX", t) < 0)
		abort();
	if (mkdtemp(p) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

char *
test_path_in(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

char *idx_dir, *idx_path, *idx_snap;

void
test_idx_setup(void)
{
	idx_dir = test_tmpdir();
	idx_path = test_path_in(idx_dir, INDEX_FILE);
	idx_snap = test_path_in(idx_dir, INDEX_FILE INDEX_SNAP_SUFFIX);
}

void
test_idx_teardown(void)
{
	test_rmtree(idx_dir);
	free(idx_dir);
	free(idx_path);
	free(idx_snap);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

void
test_rmtree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
test_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

const char *
test_plugindir(void)
{
	const char *d = getenv("POP23D_PLUGINDIR");

	return d != NULL ? d : ".libs";
}

int
main(void)
{
	SRunner *sr = srunner_create(suite_buf());
	int failed;

	srunner_add_suite(sr, suite_net());
	srunner_add_suite(sr, suite_proto());
	srunner_add_suite(sr, suite_conf());
	srunner_add_suite(sr, suite_index());
	srunner_add_suite(sr, suite_idxsnap());
	srunner_add_suite(sr, suite_maildrop());
	srunner_add_suite(sr, suite_plugins());
	srunner_add_suite(sr, suite_store_maildir());
	srunner_add_suite(sr, suite_lex());
	srunner_add_suite(sr, suite_wire());
	srunner_add_suite(sr, suite_log());
	srunner_add_suite(sr, suite_forkmem());
	srunner_add_suite(sr, suite_trust());
	srunner_add_suite(sr, suite_addr());
	srunner_add_suite(sr, suite_proxyproto());
	srunner_add_suite(sr, suite_sandbox());
	srunner_add_suite(sr, suite_auth_sys());
	srunner_add_suite(sr, suite_mbox_parse());
	srunner_add_suite(sr, suite_mbox_cache());
	srunner_add_suite(sr, suite_store_mbox());
	srunner_add_suite(sr, suite_policy());
	srunner_add_suite(sr, suite_auth_sasl());
	srunner_add_suite(sr, suite_b64());
	srunner_add_suite(sr, suite_penalty());
	srunner_add_suite(sr, suite_apop());
	srunner_add_suite(sr, suite_hostcheck());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
