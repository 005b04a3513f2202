/*
 * check_apop.c - the APOP digest check all APOP plugins share
 * (plugins/apop.c): RFC 1939's own example, a digest that differs in its
 * first or its last digit, the digest's form (length, case, non-hex),
 * the timestamp's length rule (1 to 511 octets), the empty or missing
 * user, the stand-in secret (same MD5, never a match, even for a client
 * that sends exactly its digest), and a secret with a NUL-free tail.
 * The expected digests are computed here with libcrypto's one-shot
 * EVP_Digest(), not with the code under test.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "suites.h"
#include "../../plugins/apop.h"

/* RFC 1939 section 7's example. */
#define RFC_CHALLENGE	"<1896.697170952@dbc.mtview.ca.us>"
#define RFC_SECRET	"tanstaaf"
#define RFC_DIGEST	"c4c9334bac560ecc979e58001b3e22fb"

static void
md5_hex(const char *a, const char *b, char hex[APOP_DIGEST_HEX + 1])
{
	unsigned char in[1024], md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;
	size_t la = strlen(a), lb = strlen(b);

	ck_assert_uint_lt(la + lb, sizeof in);
	memcpy(in, a, la);
	memcpy(in + la, b, lb);
	ck_assert_int_eq(EVP_Digest(in, la + lb, md, &len, EVP_md5(), NULL),
	    1);
	ck_assert_uint_eq(len, APOP_DIGEST_HEX / 2);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static enum apop_result
check(const char *challenge, const char *secret, const char *digest)
{
	return apop_check(challenge, strlen(challenge), secret,
	    secret != NULL ? strlen(secret) : 0, digest);
}

START_TEST(test_rfc_example)
{
	char hex[APOP_DIGEST_HEX + 1];

	md5_hex(RFC_CHALLENGE, RFC_SECRET, hex);
	ck_assert_str_eq(hex, RFC_DIGEST);	/* the harness agrees */
	ck_assert_uint_eq(apop_args("mrose", RFC_CHALLENGE, RFC_DIGEST),
	    strlen(RFC_CHALLENGE));
	ck_assert_int_eq(check(RFC_CHALLENGE, RFC_SECRET, RFC_DIGEST),
	    APOP_MATCH);
	ck_assert_int_eq(check(RFC_CHALLENGE, "tanstaa", RFC_DIGEST),
	    APOP_MISMATCH);
	ck_assert_int_eq(check(RFC_CHALLENGE, "tanstaaff", RFC_DIGEST),
	    APOP_MISMATCH);
	/* Another timestamp, the same secret. */
	ck_assert_int_eq(check("<1897.697170952@dbc.mtview.ca.us>",
	    RFC_SECRET, RFC_DIGEST), APOP_MISMATCH);
	/* Only CLEN octets of the timestamp count. */
	ck_assert_int_eq(apop_check(RFC_CHALLENGE "junk",
	    strlen(RFC_CHALLENGE), RFC_SECRET, strlen(RFC_SECRET),
	    RFC_DIGEST), APOP_MATCH);
	/* Only SLEN octets of the secret count. */
	ck_assert_int_eq(apop_check(RFC_CHALLENGE, strlen(RFC_CHALLENGE),
	    RFC_SECRET "x", strlen(RFC_SECRET), RFC_DIGEST), APOP_MATCH);
}
END_TEST

START_TEST(test_one_digit_off)
{
	char hex[APOP_DIGEST_HEX + 1];
	size_t pos[] = { 0, 1, 15, 16, APOP_DIGEST_HEX - 1 }, i;

	for (i = 0; i < sizeof pos / sizeof pos[0]; i++) {
		memcpy(hex, RFC_DIGEST, sizeof hex);
		hex[pos[i]] = hex[pos[i]] == '0' ? '1' : '0';
		ck_assert(apop_digest_ok(hex));
		ck_assert_msg(check(RFC_CHALLENGE, RFC_SECRET, hex) ==
		    APOP_MISMATCH, "digit %zu", pos[i]);
	}
}
END_TEST

START_TEST(test_digest_form)
{
	char upper[APOP_DIGEST_HEX + 1];
	size_t i;

	ck_assert(apop_digest_ok(RFC_DIGEST));
	for (i = 0; i < APOP_DIGEST_HEX; i++)
		upper[i] = (char)(RFC_DIGEST[i] >= 'a' ?
		    RFC_DIGEST[i] - 'a' + 'A' : RFC_DIGEST[i]);
	upper[APOP_DIGEST_HEX] = '\0';
	ck_assert(!apop_digest_ok(upper));	/* RFC 1939: lower case */
	ck_assert(!apop_digest_ok("c4c9334bac560ecc979e58001b3e22f"));
	ck_assert(!apop_digest_ok("c4c9334bac560ecc979e58001b3e22fb0"));
	ck_assert(!apop_digest_ok("g4c9334bac560ecc979e58001b3e22fb"));
	ck_assert(!apop_digest_ok(" c4c9334bac560ecc979e58001b3e22f"));
	ck_assert(!apop_digest_ok(""));
	ck_assert_uint_eq(apop_args("mrose", RFC_CHALLENGE, upper), 0);
	ck_assert_uint_eq(apop_args("mrose", RFC_CHALLENGE,
	    "c4c9334bac560ecc979e58001b3e22fb "), 0);
}
END_TEST

START_TEST(test_args)
{
	char ts[APOP_CHALLENGE_MAX + 2];

	ck_assert_uint_eq(apop_args(NULL, RFC_CHALLENGE, RFC_DIGEST), 0);
	ck_assert_uint_eq(apop_args("", RFC_CHALLENGE, RFC_DIGEST), 0);
	ck_assert_uint_eq(apop_args("mrose", NULL, RFC_DIGEST), 0);
	ck_assert_uint_eq(apop_args("mrose", RFC_CHALLENGE, NULL), 0);
	ck_assert_uint_eq(apop_args("mrose", "", RFC_DIGEST), 0);
	/* The timestamp: 1 to APOP_CHALLENGE_MAX - 1 octets. */
	memset(ts, 'x', sizeof ts);
	ts[0] = '<';
	ts[APOP_CHALLENGE_MAX - 2] = '>';
	ts[APOP_CHALLENGE_MAX - 1] = '\0';
	ck_assert_uint_eq(apop_args("mrose", ts, RFC_DIGEST),
	    APOP_CHALLENGE_MAX - 1);
	ts[APOP_CHALLENGE_MAX - 1] = '>';
	ts[APOP_CHALLENGE_MAX] = '\0';
	ck_assert_uint_eq(apop_args("mrose", ts, RFC_DIGEST), 0);
	ts[APOP_CHALLENGE_MAX] = 'x';
	ts[APOP_CHALLENGE_MAX + 1] = '\0';
	ck_assert_uint_eq(apop_args("mrose", ts, RFC_DIGEST), 0);
	ck_assert_uint_eq(apop_args("mrose", "<", RFC_DIGEST), 1);
}
END_TEST

START_TEST(test_stand_in)
{
	char hex[APOP_DIGEST_HEX + 1];

	/* A client that knows the stand-in secret still gets nowhere. */
	md5_hex(RFC_CHALLENGE, APOP_DUMMY_SECRET, hex);
	ck_assert_int_eq(check(RFC_CHALLENGE, NULL, hex), APOP_MISMATCH);
	ck_assert_int_eq(check(RFC_CHALLENGE, NULL, RFC_DIGEST),
	    APOP_MISMATCH);
	/* The same secret named by a user is a real one. */
	ck_assert_int_eq(check(RFC_CHALLENGE, APOP_DUMMY_SECRET, hex),
	    APOP_MATCH);
}
END_TEST

Suite *
suite_apop(void)
{
	Suite *s = suite_create("apop");
	TCase *tc = tcase_create("apop");

	tcase_add_test(tc, test_rfc_example);
	tcase_add_test(tc, test_one_digit_off);
	tcase_add_test(tc, test_digest_form);
	tcase_add_test(tc, test_args);
	tcase_add_test(tc, test_stand_in);
	suite_add_tcase(s, tc);
	return s;
}
