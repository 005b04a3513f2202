/* suites.h - one check suite per module, all run by check_main.c. */
#ifndef POP23D_TEST_SUITES_H
#define POP23D_TEST_SUITES_H

#include <check.h>

Suite *suite_buf(void);
Suite *suite_net(void);
Suite *suite_proto(void);
Suite *suite_conf(void);
Suite *suite_index(void);
Suite *suite_idxsnap(void);
Suite *suite_maildrop(void);
Suite *suite_plugins(void);
Suite *suite_store_maildir(void);
Suite *suite_lex(void);
Suite *suite_wire(void);
Suite *suite_log(void);
Suite *suite_trust(void);
Suite *suite_addr(void);
Suite *suite_proxyproto(void);
Suite *suite_sandbox(void);
Suite *suite_auth_sys(void);
Suite *suite_mbox_parse(void);
Suite *suite_mbox_cache(void);
Suite *suite_store_mbox(void);
Suite *suite_policy(void);
Suite *suite_auth_sasl(void);
Suite *suite_b64(void);
Suite *suite_penalty(void);
Suite *suite_forkmem(void);
Suite *suite_apop(void);
Suite *suite_hostcheck(void);

/* Helpers shared by the suites (check_main.c). */
/* A fresh empty directory under $TMPDIR; the caller owns the string. */
char *test_tmpdir(void);
/* "DIR/NAME", malloc()ed; aborts when out of memory. */
char *test_path_in(const char *dir, const char *name);
/* rm -rf DIR. */
void test_rmtree(const char *dir);
/* A checked fixture (check_index.c, check_idxsnap.c): a fresh directory
 * idx_dir, and in it the paths of the index (idx_path, not created) and
 * of its snapshot (idx_snap); the teardown removes and frees them. */
extern char *idx_dir, *idx_path, *idx_snap;
void test_idx_setup(void);
void test_idx_teardown(void);
/* Write LEN bytes to PATH (created 0600).  ck_assert on failure. */
void test_write_file(const char *path, const void *data, size_t len);
/* Directory holding the built plugins (.libs of the build tree). */
const char *test_plugindir(void);

#endif
