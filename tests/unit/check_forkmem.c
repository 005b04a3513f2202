/*
 * check_forkmem.c - forkmem_grow(): zero-filled blocks that keep their
 * contents when they grow, and that a forked child does not have at all
 * (MADV_DONTFORK), while the parent keeps them.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "forkmem.h"
#include "suites.h"

START_TEST(test_forkmem_grow_keeps_contents)
{
	unsigned char *p, *q;
	size_t i;

	p = forkmem_grow(NULL, 0, 100);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 4096; i++)
		ck_assert_uint_eq(p[i], 0);
	memset(p, 0xa5, 100);
	/* Within the block's pages: the same block. */
	ck_assert_ptr_eq(forkmem_grow(p, 100, 4000), p);
	q = forkmem_grow(p, 4096, 3 * 4096 + 1);
	ck_assert_ptr_nonnull(q);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(q[i], 0xa5);
	for (i = 100; i < 4 * 4096; i++)
		ck_assert_uint_eq(q[i], 0);
	ck_assert_ptr_null(forkmem_grow(NULL, 0, 0));
	munmap(q, 4 * 4096);
}
END_TEST

START_TEST(test_forkmem_not_in_child)
{
	unsigned char *p, vec;
	pid_t pid;
	int status;

	p = forkmem_grow(NULL, 0, 2 * 4096);
	ck_assert_ptr_nonnull(p);
	p[0] = 1;
	p[4096] = 2;
	if ((pid = fork()) == 0) {
		/* mincore() fails with ENOMEM on an address that is not
		 * mapped: the child has no copy of the block. */
		_exit(mincore(p, 4096, &vec) == -1 && errno == ENOMEM ? 0 : 1);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The parent keeps it. */
	ck_assert_int_eq(mincore(p, 4096, &vec), 0);
	ck_assert_uint_eq(p[0], 1);
	ck_assert_uint_eq(p[4096], 2);
	munmap(p, 2 * 4096);
}
END_TEST

Suite *
suite_forkmem(void)
{
	Suite *s = suite_create("forkmem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_forkmem_grow_keeps_contents);
	tcase_add_test(tc, test_forkmem_not_in_child);
	suite_add_tcase(s, tc);
	return s;
}
