/*
 * check_proxyproto.c - the PROXY protocol parser (proxyproto.c): valid
 * v1 and v2 headers give the addresses in them, every prefix of a valid
 * header asks for more, and malformed ones (wrong signature, bad lengths,
 * truncated TLVs, a v1 line over 107 octets, bad fields, a wrong CRC32C)
 * are refused.  Table-driven; runs unprivileged.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "proxyproto.h"
#include "suites.h"

static const unsigned char sig2[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The source address and port of PI as "addr port". */
static void
src_text(const struct proxy_info *pi, char *out, size_t sz)
{
	char a[INET6_ADDRSTRLEN];

	if (pi->src.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&pi->src;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(out, sz, "%s %u", a, ntohs(in->sin_port));
	} else if (pi->src.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&pi->src;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(out, sz, "%s %u", a, ntohs(in6->sin6_port));
	} else
		snprintf(out, sz, "none");
}

static const struct {
	const char *in;
	const char *src;	/* NULL: refused; "local": no address */
} v1_cases[] = {
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\r\n",
	  "192.0.2.1 56324" },
	{ "PROXY TCP6 2001:db8::1 2001:db8::2 65535 995\r\n",
	  "2001:db8::1 65535" },
	{ "PROXY TCP4 10.0.0.1 10.0.0.2 0 110\r\n", "10.0.0.1 0" },
	{ "PROXY UNKNOWN\r\n", "local" },
	{ "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
	  "local" },
	/* the longest valid line: 107 octets */
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535" },
	/* refused */
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\rX", NULL },
	{ "PROXY TCP4 192.0.2.1  198.51.100.2 56324 110\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110 1\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 65536 110\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 0110 110\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1 198.51.100.2 -1 110\r\n", NULL },
	{ "PROXY TCP4 2001:db8::1 198.51.100.2 1 110\r\n", NULL },
	{ "PROXY TCP6 192.0.2.1 2001:db8::2 1 110\r\n", NULL },
	{ "PROXY TCP4 192.0.2.256 198.51.100.2 1 110\r\n", NULL },
	{ "PROXY UDP4 192.0.2.1 198.51.100.2 1 110\r\n", NULL },
	{ "PROXY tcp4 192.0.2.1 198.51.100.2 1 110\r\n", NULL },
	{ "PROXY \r\n", NULL },
	{ "PROXY\r\n", NULL },
	{ "proxy TCP4 192.0.2.1 198.51.100.2 1 110\r\n", NULL },
	{ "USER alice\r\n", NULL },
	{ "PROXY TCP4 192.0.2.1\t198.51.100.2 1 110\r\n", NULL },
	/* 108 octets */
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n", NULL },
};

START_TEST(test_v1)
{
	const char *in = v1_cases[_i].in, *want = v1_cases[_i].src, *error;
	struct proxy_info pi;
	enum proxy_result r;
	size_t used;
	char got[80];

	r = proxy_parse((const unsigned char *)in, strlen(in), &pi, &used,
	    &error);
	if (want == NULL) {
		ck_assert_msg(r == PROXY_BAD, "accepted: %s", in);
		ck_assert(error[0] != '\0');
		return;
	}
	ck_assert_msg(r == PROXY_OK, "refused: %s (%s)", in, error);
	ck_assert_uint_eq(used, strlen(in));
	ck_assert_int_eq(pi.version, 1);
	if (strcmp(want, "local") == 0) {
		ck_assert_int_eq(pi.local, 1);
		return;
	}
	ck_assert_int_eq(pi.local, 0);
	src_text(&pi, got, sizeof got);
	ck_assert_str_eq(got, want);
}
END_TEST

/* Build a v2 header: command, family octet, address block, TLVs. */
static size_t
v2(unsigned char *out, int cmd, int fam, const void *addrs, size_t alen,
    const void *tlvs, size_t tlen)
{
	size_t n = alen + tlen;

	memcpy(out, sig2, 12);
	out[12] = (unsigned char)(0x20 | cmd);
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
	if (alen > 0)
		memcpy(out + 16, addrs, alen);
	if (tlen > 0)
		memcpy(out + 16 + alen, tlvs, tlen);
	return 16 + n;
}

static const unsigned char a4[12] = {
	192, 0, 2, 7, 198, 51, 100, 1, 0xdb, 0x05, 0, 110
};

START_TEST(test_v2_inet)
{
	unsigned char h[256];
	struct proxy_info pi;
	const char *error;
	size_t n, used;
	char got[80];

	n = v2(h, 1, 0x11, a4, sizeof a4, NULL, 0);
	/* The client's first line after it stays for the caller. */
	memcpy(h + n, "CAPA\r\n", 6);
	ck_assert_int_eq(proxy_parse(h, n + 6, &pi, &used, &error), PROXY_OK);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(pi.version, 2);
	ck_assert_int_eq(pi.local, 0);
	src_text(&pi, got, sizeof got);
	ck_assert_str_eq(got, "192.0.2.7 56069");
}
END_TEST

START_TEST(test_v2_inet6_tlvs)
{
	unsigned char h[512], a6[36], t[64];
	struct proxy_info pi;
	const char *error;
	size_t n, used, tl = 0;
	char got[80];

	memset(a6, 0, sizeof a6);
	inet_pton(AF_INET6, "2001:db8::42", a6);
	inet_pton(AF_INET6, "2001:db8::1", a6 + 16);
	a6[32] = 0x04;
	a6[33] = 0x00;
	/* ALPN "pop3", NOOP of length 0, an unknown type 0xe0, then a
	 * CRC32C over the whole header. */
	memcpy(t + tl, "\x01\x00\x04pop3", 7);
	tl += 7;
	memcpy(t + tl, "\x04\x00\x00", 3);
	tl += 3;
	memcpy(t + tl, "\xe0\x00\x02xy", 5);
	tl += 5;
	memcpy(t + tl, "\x03\x00\x04\x00\x00\x00\x00", 7);
	tl += 7;
	n = v2(h, 1, 0x21, a6, sizeof a6, t, tl);
	{
		uint32_t c = crc32c(0, h, n);

		h[n - 4] = (unsigned char)(c >> 24);
		h[n - 3] = (unsigned char)(c >> 16);
		h[n - 2] = (unsigned char)(c >> 8);
		h[n - 1] = (unsigned char)c;
	}
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_OK);
	ck_assert_uint_eq(used, n);
	ck_assert_uint_eq(pi.tlv_octets, tl);
	ck_assert_int_eq(pi.crc_checked, 1);
	src_text(&pi, got, sizeof got);
	ck_assert_str_eq(got, "2001:db8::42 1024");
	/* One bit off: the CRC no longer matches. */
	h[20] ^= 1;
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	ck_assert(strstr(error, "CRC32C") != NULL);
}
END_TEST

START_TEST(test_v2_local)
{
	unsigned char h[64];
	struct proxy_info pi;
	const char *error;
	size_t n, used;

	/* haproxy's health check: LOCAL, family UNSPEC, no addresses */
	n = v2(h, 0, 0x00, NULL, 0, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_OK);
	ck_assert_int_eq(pi.local, 1);
	ck_assert_uint_eq(used, 16);
	/* LOCAL with an address block: ignored, still local */
	n = v2(h, 0, 0x11, a4, sizeof a4, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_OK);
	ck_assert_int_eq(pi.local, 1);
	/* PROXY with family UNSPEC: no address either */
	n = v2(h, 1, 0x00, NULL, 0, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_OK);
	ck_assert_int_eq(pi.local, 1);
}
END_TEST

START_TEST(test_v2_bad)
{
	unsigned char h[2048];
	struct proxy_info pi;
	const char *error;
	size_t n, used;

	/* version 1 in the version nibble */
	n = v2(h, 1, 0x11, a4, sizeof a4, NULL, 0);
	h[12] = 0x11;
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* command 2 */
	n = v2(h, 2, 0x11, a4, sizeof a4, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* family 4 */
	n = v2(h, 1, 0x41, a4, sizeof a4, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* UDP */
	n = v2(h, 1, 0x12, a4, sizeof a4, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* length shorter than the IPv4 address block */
	n = v2(h, 1, 0x11, a4, 8, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* IPv6 family with an IPv4-sized block */
	n = v2(h, 1, 0x21, a4, sizeof a4, NULL, 0);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* a TLV longer than what is left */
	n = v2(h, 1, 0x11, a4, sizeof a4, "\x01\x00\x09pop3", 7);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* two octets of a TLV header */
	n = v2(h, 1, 0x11, a4, sizeof a4, "\x01\x00", 2);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* a CRC32C TLV of 3 octets */
	n = v2(h, 1, 0x11, a4, sizeof a4, "\x03\x00\x03" "abc", 6);
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	/* a header longer than PROXY_HEADER_MAX */
	memcpy(h, sig2, 12);
	h[12] = 0x21;
	h[13] = 0x11;
	h[14] = (PROXY_HEADER_MAX >> 8) & 0xff;
	h[15] = PROXY_HEADER_MAX & 0xff;
	ck_assert_int_eq(proxy_parse(h, 16, &pi, &used, &error), PROXY_BAD);
	h[14] = 0xff;
	h[15] = 0xff;
	ck_assert_int_eq(proxy_parse(h, 16, &pi, &used, &error), PROXY_BAD);
	/* wrong signature octet */
	n = v2(h, 1, 0x11, a4, sizeof a4, NULL, 0);
	h[7] = 'q';
	ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error), PROXY_BAD);
	ck_assert(strstr(error, "signature") != NULL);
}
END_TEST

/*
 * Every proper prefix of a valid header asks for more, and for no more
 * than the header's length; the whole header is accepted.  Fed as a
 * reader would feed it, one octet at a time.
 */
START_TEST(test_prefixes)
{
	unsigned char h[256];
	const char *v1 = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 110\r\n";
	struct proxy_info pi;
	const char *error;
	size_t n, i, used;
	int k;

	for (k = 0; k < 2; k++) {
		if (k == 0) {
			n = strlen(v1);
			memcpy(h, v1, n);
		} else
			n = v2(h, 1, 0x11, a4, sizeof a4, "\xe0\x00\x01z", 4);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(proxy_parse(h, i, &pi, &used,
			    &error), PROXY_MORE);
			ck_assert_uint_gt(used, i);
			ck_assert_uint_le(used, n);
		}
		ck_assert_int_eq(proxy_parse(h, n, &pi, &used, &error),
		    PROXY_OK);
		ck_assert_uint_eq(used, n);
	}
}
END_TEST

/* A v1 line without CRLF is refused once 107 octets are in, never
 * waited for longer. */
START_TEST(test_v1_unended)
{
	unsigned char h[300];
	struct proxy_info pi;
	const char *error;
	size_t used;

	memcpy(h, "PROXY TCP4 ", 11);
	memset(h + 11, '1', sizeof h - 11);
	ck_assert_int_eq(proxy_parse(h, 105, &pi, &used, &error), PROXY_MORE);
	ck_assert_int_eq(proxy_parse(h, 106, &pi, &used, &error), PROXY_BAD);
	ck_assert(strstr(error, "107") != NULL);
	ck_assert_int_eq(proxy_parse(h, sizeof h, &pi, &used, &error),
	    PROXY_BAD);
}
END_TEST

Suite *
suite_proxyproto(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_v1, 0,
	    (int)(sizeof v1_cases / sizeof v1_cases[0]));
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6_tlvs);
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_bad);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_v1_unended);
	suite_add_tcase(s, tc);
	return s;
}
