/*
 * check_b64.c - the strict base64 of POP3 AUTH (b64.c): RFC 4648 test
 * vectors both ways, and every non-canonical form refused (bad
 * characters, white space, "=" inside, short padding, bits after the
 * last octet, a result that does not fit).  Runs unprivileged.
 */
#include "config.h"

#include <string.h>

#include "b64.h"
#include "suites.h"

/* RFC 4648 section 10. */
static const struct {
	const char *plain, *enc;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

START_TEST(test_vectors)
{
	char enc[32];
	unsigned char dec[32];
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t n = strlen(vectors[i].plain);

		ck_assert_int_eq(b64_encode((const unsigned char *)
		    vectors[i].plain, n, enc, sizeof(enc)),
		    (long)strlen(vectors[i].enc));
		ck_assert_str_eq(enc, vectors[i].enc);
		ck_assert_int_eq(b64_decode(vectors[i].enc,
		    strlen(vectors[i].enc), dec, sizeof(dec)), (long)n);
		ck_assert(memcmp(dec, vectors[i].plain, n) == 0);
	}
}
END_TEST

START_TEST(test_binary_round_trip)
{
	unsigned char in[256], dec[256];
	char enc[B64_ENCODED_LEN(256) + 1];
	size_t i, n;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	for (n = 0; n <= sizeof(in); n++) {
		long e = b64_encode(in, n, enc, sizeof(enc));

		ck_assert_int_eq(e, (long)B64_ENCODED_LEN(n));
		ck_assert_int_eq(b64_decode(enc, (size_t)e, dec, sizeof(dec)),
		    (long)n);
		ck_assert(memcmp(in, dec, n) == 0);
	}
}
END_TEST

START_TEST(test_refused)
{
	static const char *const bad[] = {
		"!!!!", "abc", "a", "Zg=", "Zg", "Z===", "====", "Zm9=v",
		"Zm=v", "Zg==Zg==", "Zm9v Yg==", " Zm9v", "Zm9v\r\n",
		"Zh==",		/* bits after the octet: not canonical */
		"Zm9=",		/* the same with one pad */
		"Zm9vYmFy=", "Zm9v*mFy", "Zm9v-mFy", "Zm9v_mFy",
	};
	unsigned char dec[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), dec,
		    sizeof(dec)) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_sizes)
{
	unsigned char dec[3];
	char enc[9];

	/* exactly fits, one octet too many */
	ck_assert_int_eq(b64_decode("Zm9v", 4, dec, 3), 3);
	ck_assert_int_eq(b64_decode("Zm9vYg==", 8, dec, 3), -1);
	ck_assert_int_eq(b64_decode("Zm8=", 4, dec, 2), 2);
	ck_assert_int_eq(b64_decode("Zm8=", 4, dec, 1), -1);
	/* the text and its NUL must fit */
	ck_assert_int_eq(b64_encode((const unsigned char *)"foobar", 6, enc,
	    9), 8);
	ck_assert_int_eq(b64_encode((const unsigned char *)"foobar", 6, enc,
	    8), -1);
	ck_assert_int_eq(b64_encode((const unsigned char *)"", 0, enc, 0),
	    -1);
}
END_TEST

Suite *
suite_b64(void)
{
	Suite *s = suite_create("b64");
	TCase *tc = tcase_create("b64");

	tcase_add_test(tc, test_vectors);
	tcase_add_test(tc, test_binary_round_trip);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_sizes);
	suite_add_tcase(s, tc);
	return s;
}
