/*
 * apop.h - the one APOP digest check (RFC 1939 section 7) of the auth
 * plugins that have one: the argument rules (the digest's form, the
 * timestamp's length) and the MD5 and constant-time compare.  Built into
 * auth_passwdfile, auth_sasl and auth_checkpassword (Makefile.am), like
 * foldername.c into the storage plugins; exported by none.  Runs where
 * the plugin's verify_apop() runs (the auth service, root or the auth
 * user, doc/DESIGN.md).  GPL-3.0-or-later.
 */
#ifndef POP23D_APOP_H
#define POP23D_APOP_H

#include <stddef.h>

/* RFC 1939 section 7: the digest is 16 octets as 32 lower-case hex. */
#define APOP_DIGEST_HEX		32
/* The timestamp is a substring of the greeting, which RFC 1939 (and
 * RFC 2449's 512-octet response line) bound; one of this length or more
 * is refused. */
#define APOP_CHALLENGE_MAX	512
/* The secret hashed for a user who has none APOP could use (unknown, or
 * only a one-way hash): the same MD5 and compare for everyone, and a
 * digest of it never matches (apop_check() is not asked to accept it). */
#define APOP_DUMMY_SECRET	"pop23d-dummy-apop-secret"

/*
 * The checks of verify_apop()'s arguments that do not depend on the
 * user: USER non-empty, DIGEST exactly APOP_DIGEST_HEX lower-case hex
 * digits, CHALLENGE 1 to APOP_CHALLENGE_MAX - 1 octets.  The length of
 * CHALLENGE, or 0 if any rule fails (the plugin answers POP23D_FAIL).
 */
size_t apop_args(const char *user, const char *challenge,
    const char *digest);

/* Non-zero if D is exactly APOP_DIGEST_HEX lower-case hex digits. */
int apop_digest_ok(const char *d);

enum apop_result {
	APOP_MISMATCH = 0,
	APOP_MATCH = 1,
	APOP_NO_MD5 = -1	/* libcrypto has no MD5 (a FIPS provider) */
};

/*
 * Does DIGEST equal MD5(CHALLENGE[0..CLEN) SECRET[0..SLEN)) in hex?  The
 * compare takes the same time wherever the first difference is
 * (CRYPTO_memcmp); the computed digest is wiped.  SECRET NULL hashes
 * APOP_DUMMY_SECRET instead and never matches, at the same cost.
 */
enum apop_result apop_check(const char *challenge, size_t clen,
    const char *secret, size_t slen, const char *digest);

#endif
