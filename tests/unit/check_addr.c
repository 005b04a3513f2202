/*
 * check_addr.c - client addresses for max_per_ip: IPv4-mapped IPv6 is
 * IPv4, and addresses are compared by prefix (IPv6 /64 by default, so a
 * client cannot escape the cap by hopping addresses inside its /64).
 * Table-driven; runs unprivileged.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"
#include "defaults.h"
#include "suites.h"

/* Parse TEXT (IPv4 or IPv6) into *A through a sockaddr, as accept()
 * would give it. */
static void
parse(const char *text, struct addr *a)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	memset(&in, 0, sizeof in);
	memset(&in6, 0, sizeof in6);
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
		addr_from_sockaddr((struct sockaddr *)&in, sizeof in, a);
		return;
	}
	ck_assert_msg(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1,
	    "bad test address %s", text);
	in6.sin6_family = AF_INET6;
	addr_from_sockaddr((struct sockaddr *)&in6, sizeof in6, a);
}

static const struct {
	const char *a, *b;
	int prefix4, prefix6;
	int same;
} cases[] = {
	/* IPv6: the default /64 holds a whole site's subnet together */
	{ "2001:db8:1:2::1", "2001:db8:1:2::1", 32, 64, 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 32, 64, 1 },
	{ "2001:db8:1:2:aaaa::1", "2001:db8:1:2:5555::2", 32, 64, 1 },
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", 32, 64, 0 },
	{ "2001:db8:1:2::1", "2001:db9:1:2::1", 32, 64, 0 },
	/* ... or as the administrator sets it */
	{ "2001:db8:1:2::1", "2001:db8:1:2::2", 32, 128, 0 },
	{ "2001:db8:1:2::1", "2001:db8:1:3::1", 32, 48, 1 },
	{ "2001:db8:1:2::1", "2001:db8:2:2::1", 32, 48, 0 },
	/* prefix not on an octet boundary: /60 and /57 */
	{ "2001:db8:1:20::1", "2001:db8:1:2f::1", 32, 60, 1 },
	{ "2001:db8:1:20::1", "2001:db8:1:30::1", 32, 60, 0 },
	{ "2001:db8:1:80::", "2001:db8:1:ff::", 32, 57, 1 },
	{ "2001:db8:1:80::", "2001:db8:1:7f::", 32, 57, 0 },
	{ "::1", "2001:db8::1", 32, 0, 1 },
	/* IPv4: one address by default, a /24 if asked */
	{ "192.0.2.1", "192.0.2.1", 32, 64, 1 },
	{ "192.0.2.1", "192.0.2.2", 32, 64, 0 },
	{ "192.0.2.1", "192.0.2.254", 24, 64, 1 },
	{ "192.0.2.1", "192.0.3.1", 24, 64, 0 },
	{ "192.0.2.1", "192.0.2.127", 25, 64, 1 },
	{ "192.0.2.1", "192.0.2.128", 25, 64, 0 },
	{ "10.1.2.3", "10.200.0.0", 8, 64, 1 },
	/* IPv4-mapped IPv6 is the IPv4 client */
	{ "::ffff:192.0.2.1", "192.0.2.1", 32, 64, 1 },
	{ "::ffff:192.0.2.1", "192.0.2.9", 24, 128, 1 },
	/* different families never match, even with /0 */
	{ "192.0.2.1", "2001:db8::1", 0, 0, 0 },
	{ "::c000:201", "192.0.2.1", 32, 128, 0 },
};

START_TEST(test_same_prefix)
{
	struct addr a, b;

	parse(cases[_i].a, &a);
	parse(cases[_i].b, &b);
	ck_assert_msg(addr_same_prefix(&a, &b, cases[_i].prefix4,
	    cases[_i].prefix6) == cases[_i].same, "case %d: %s %s /%d /%d",
	    _i, cases[_i].a, cases[_i].b, cases[_i].prefix4,
	    cases[_i].prefix6);
	ck_assert_msg(addr_same_prefix(&b, &a, cases[_i].prefix4,
	    cases[_i].prefix6) == cases[_i].same, "case %d: not symmetric",
	    _i);
}
END_TEST

/* The defaults are the ones pop23d.conf(5) documents. */
START_TEST(test_defaults)
{
	struct addr a, b;

	ck_assert_int_eq(DEF_PER_IP_PREFIX4, 32);
	ck_assert_int_eq(DEF_PER_IP_PREFIX6, 64);
	parse("2001:db8:0:1:1111::1", &a);
	parse("2001:db8:0:1:2222::2", &b);
	ck_assert(addr_same_prefix(&a, &b, DEF_PER_IP_PREFIX4,
	    DEF_PER_IP_PREFIX6));
}
END_TEST

/* A family the master does not know (AF_UNIX) is one shared bucket. */
START_TEST(test_other_family)
{
	struct sockaddr sa;
	struct addr a, b;

	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNIX;
	addr_from_sockaddr(&sa, sizeof sa, &a);
	ck_assert_int_eq(a.family, AF_UNSPEC);
	parse("192.0.2.1", &b);
	ck_assert(addr_same_prefix(&a, &a, 32, 64));
	ck_assert(!addr_same_prefix(&a, &b, 0, 0));
}
END_TEST

/* proxy_trusted networks: "ADDRESS[/BITS]", and who is inside. */
static const struct {
	const char *net, *addr;
	int ok, inside;
} nets[] = {
	{ "10.0.0.0/8", "10.200.1.1", 1, 1 },
	{ "10.0.0.0/8", "11.0.0.1", 1, 0 },
	{ "127.0.0.1", "127.0.0.1", 1, 1 },
	{ "127.0.0.1", "127.0.0.2", 1, 0 },
	{ "0.0.0.0/0", "192.0.2.1", 1, 1 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 1, 1 },
	{ "2001:db8::/32", "2001:db9::1", 1, 0 },
	{ "2001:db8::/32", "10.0.0.1", 1, 0 },
	{ "::ffff:10.0.0.0/104", "10.1.2.3", 1, 1 },
	{ "::1", "::1", 1, 1 },
	{ "10.0.0.0/33", NULL, 0, 0 },
	{ "10.0.0.0/", NULL, 0, 0 },
	{ "10.0.0.0/08", NULL, 0, 0 },
	{ "10.0.0.0/-1", NULL, 0, 0 },
	{ "::1/129", NULL, 0, 0 },
	{ "::ffff:10.0.0.0/64", NULL, 0, 0 },
	{ "10.0.0", NULL, 0, 0 },
	{ "", NULL, 0, 0 },
	{ "/8", NULL, 0, 0 },
	{ "example.org/8", NULL, 0, 0 },
};

START_TEST(test_parse_net)
{
	struct addr net, a;
	int bits, r;

	r = addr_parse_net(nets[_i].net, &net, &bits);
	ck_assert_msg((r == 0) == nets[_i].ok, "%s", nets[_i].net);
	if (!nets[_i].ok)
		return;
	parse(nets[_i].addr, &a);
	ck_assert_msg(addr_in_net(&a, &net, bits) == nets[_i].inside,
	    "%s in %s", nets[_i].addr, nets[_i].net);
}
END_TEST

/* plaintext_auth = loopback: which clients are on this host. */
static const struct {
	const char *a;
	int loopback;
} loops[] = {
	{ "127.0.0.1", 1 },
	{ "127.255.0.9", 1 },		/* all of 127/8 */
	{ "::1", 1 },
	{ "::ffff:127.0.0.1", 1 },	/* mapped: the IPv4 client */
	{ "128.0.0.1", 0 },
	{ "126.255.255.255", 0 },
	{ "10.0.0.1", 0 },
	{ "::ffff:10.0.0.1", 0 },
	{ "::2", 0 },
	{ "::", 0 },
	{ "::127.0.0.1", 0 },		/* IPv4-compatible is not mapped */
	{ "fe80::1", 0 },
	{ "2001:db8::1", 0 },
};

START_TEST(test_loopback)
{
	struct addr a;

	parse(loops[_i].a, &a);
	ck_assert_msg(addr_is_loopback(&a) == loops[_i].loopback, "%s",
	    loops[_i].a);
}
END_TEST

START_TEST(test_loopback_other_family)
{
	struct sockaddr sa;
	struct addr a;

	memset(&sa, 0, sizeof sa);
	sa.sa_family = AF_UNIX;
	addr_from_sockaddr(&sa, sizeof sa, &a);
	ck_assert(!addr_is_loopback(&a));
}
END_TEST

Suite *
suite_addr(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("prefix");

	tcase_add_loop_test(tc, test_same_prefix, 0,
	    (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_other_family);
	tcase_add_loop_test(tc, test_parse_net, 0,
	    (int)(sizeof nets / sizeof nets[0]));
	tcase_add_loop_test(tc, test_loopback, 0,
	    (int)(sizeof loops / sizeof loops[0]));
	tcase_add_test(tc, test_loopback_other_family);
	suite_add_tcase(s, tc);
	return s;
}
