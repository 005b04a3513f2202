/*
 * check_penalty.c - the per-address failure penalty of the auth service
 * (penalty.c): base, doubling, the cap, a success clearing the address,
 * prefixes as for max_per_ip, forgetting after PENALTY_FORGET_S, and a
 * full table reusing the least recent slot.  Runs unprivileged.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "penalty.h"
#include "suites.h"

static void
addr4(const char *text, struct addr *a)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	ck_assert(inet_pton(AF_INET, text, &in.sin_addr) == 1);
	addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), a);
}

static void
addr6(const char *text, struct addr *a)
{
	struct sockaddr_in6 in6;

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	ck_assert(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
	addr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), a);
}

static struct penalty *
mk(void)
{
	struct penalty *p = malloc(sizeof(*p));

	ck_assert_ptr_nonnull(p);
	penalty_init(p, 32, 64, 2000, 15000);
	return p;
}

START_TEST(test_doubles_to_cap_and_resets)
{
	struct penalty *p = mk();
	struct addr a, b;
	static const uint32_t want[] = { 2000, 4000, 8000, 15000, 15000 };
	size_t i;

	addr4("192.0.2.1", &a);
	addr4("192.0.2.2", &b);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(penalty_fail(p, &a, 1000), want[i]);
	ck_assert_uint_eq(penalty_count(p, &a, 1000), 5);
	/* another address is not delayed more */
	ck_assert_uint_eq(penalty_fail(p, &b, 1000), 2000);
	penalty_ok(p, &a);
	ck_assert_uint_eq(penalty_count(p, &a, 1000), 0);
	ck_assert_uint_eq(penalty_fail(p, &a, 1000), 2000);
	ck_assert_uint_eq(penalty_count(p, &b, 1000), 1);
	free(p);
}
END_TEST

START_TEST(test_many_failures_no_overflow)
{
	struct penalty *p = mk();
	struct addr a;
	int i;

	addr4("198.51.100.7", &a);
	for (i = 0; i < 100; i++)
		ck_assert_uint_le(penalty_fail(p, &a, 5), 15000);
	ck_assert_uint_eq(penalty_fail(p, &a, 5), 15000);
	free(p);
}
END_TEST

START_TEST(test_prefix_and_forget)
{
	struct penalty *p = mk();
	struct addr a, b, c;

	addr6("2001:db8:1:2::1", &a);
	addr6("2001:db8:1:2::ffff", &b);	/* same /64 */
	addr6("2001:db8:1:3::1", &c);		/* another /64 */
	ck_assert_uint_eq(penalty_fail(p, &a, 100), 2000);
	ck_assert_uint_eq(penalty_fail(p, &b, 100), 4000);
	ck_assert_uint_eq(penalty_fail(p, &c, 100), 2000);
	/* an hour without failures: forgotten */
	ck_assert_uint_eq(penalty_count(p, &a, 100 + PENALTY_FORGET_S), 0);
	ck_assert_uint_eq(penalty_fail(p, &a, 100 + PENALTY_FORGET_S), 2000);
	free(p);
}
END_TEST

START_TEST(test_no_address)
{
	struct penalty *p = mk();
	struct addr none;

	memset(&none, 0, sizeof(none));
	none.family = AF_UNSPEC;
	ck_assert_uint_eq(penalty_fail(p, &none, 1), 2000);
	ck_assert_uint_eq(penalty_fail(p, &none, 1), 2000);
	ck_assert_uint_eq(penalty_count(p, &none, 1), 0);
	free(p);
}
END_TEST

START_TEST(test_full_table_reuses_oldest)
{
	struct penalty *p = mk();
	struct addr a, first;
	char text[32];
	size_t i;

	addr4("10.0.0.0", &first);
	ck_assert_uint_eq(penalty_fail(p, &first, 1), 2000);
	for (i = 1; i < PENALTY_SLOTS; i++) {
		snprintf(text, sizeof(text), "10.%zu.%zu.%zu", i >> 16,
		    (i >> 8) & 255, i & 255);
		addr4(text, &a);
		penalty_fail(p, &a, 2);
	}
	/* the table is full: a new address takes the oldest slot */
	addr4("203.0.113.9", &a);
	ck_assert_uint_eq(penalty_fail(p, &a, 3), 2000);
	ck_assert_uint_eq(penalty_count(p, &a, 3), 1);
	ck_assert_uint_eq(penalty_count(p, &first, 3), 0);
	free(p);
}
END_TEST

Suite *
suite_penalty(void)
{
	Suite *s = suite_create("penalty");
	TCase *tc = tcase_create("penalty");

	tcase_add_test(tc, test_doubles_to_cap_and_resets);
	tcase_add_test(tc, test_many_failures_no_overflow);
	tcase_add_test(tc, test_prefix_and_forget);
	tcase_add_test(tc, test_no_address);
	tcase_add_test(tc, test_full_table_reuses_oldest);
	suite_add_tcase(s, tc);
	return s;
}
