/*
 * apop.c - the APOP digest check shared by the auth plugins (apop.h).
 * RFC 1939 section 7: the client sends MD5(timestamp secret) as 32
 * lower-case hex digits, the timestamp being the "<...>" of our greeting.
 * Pure computation over libcrypto's MD5; runs with the privilege of the
 * plugin it is built into (the auth service).  GPL-3.0-or-later.
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "apop.h"

int
apop_digest_ok(const char *d)
{
	size_t i;

	for (i = 0; i < APOP_DIGEST_HEX; i++)
		if (!((d[i] >= '0' && d[i] <= '9') ||
		    (d[i] >= 'a' && d[i] <= 'f')))
			return 0;	/* also stops at NUL */
	return d[APOP_DIGEST_HEX] == '\0';
}

size_t
apop_args(const char *user, const char *challenge, const char *digest)
{
	size_t clen;

	if (user == NULL || challenge == NULL || digest == NULL ||
	    *user == '\0' || !apop_digest_ok(digest))
		return 0;
	clen = strnlen(challenge, APOP_CHALLENGE_MAX);
	return clen == APOP_CHALLENGE_MAX ? 0 : clen;
}

enum apop_result
apop_check(const char *challenge, size_t clen, const char *secret,
    size_t slen, const char *digest)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[APOP_DIGEST_HEX];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	int ok, real = secret != NULL;

	if (!real) {
		secret = APOP_DUMMY_SECRET;
		slen = sizeof APOP_DUMMY_SECRET - 1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return APOP_NO_MD5;
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, challenge, clen) == 1 &&
	    EVP_DigestUpdate(ctx, secret, slen) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
	    mdlen * 2 == APOP_DIGEST_HEX;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(md, sizeof md);
		return APOP_NO_MD5;
	}
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	ok = CRYPTO_memcmp(hex, digest, APOP_DIGEST_HEX) == 0;
	OPENSSL_cleanse(md, sizeof md);
	OPENSSL_cleanse(hex, sizeof hex);
	return ok && real ? APOP_MATCH : APOP_MISMATCH;
}
