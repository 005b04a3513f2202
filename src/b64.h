/*
 * b64.h - strict base64 (RFC 4648 section 4) for SASL lines (RFC 5034).
 *
 * PRIVILEGE: the pre-auth child; it decodes client bytes.
 */
#ifndef POP23D_B64_H
#define POP23D_B64_H

#include <stddef.h>

/* Octets of base64 text for LEN octets, without the NUL. */
#define B64_ENCODED_LEN(len)	(((len) + 2) / 3 * 4)

/* Encode IN/LEN into OUT (OUTSZ, room for the text and a NUL).  The text
 * length, or -1 if it does not fit. */
long b64_encode(const unsigned char *in, size_t len, char *out,
    size_t outsz);
/*
 * Decode the LEN characters at IN into OUT (at most OUTSZ octets).  Only
 * the canonical form is accepted: the alphabet A-Z a-z 0-9 + /, a length
 * that is a multiple of 4, "=" only as the last one or two characters,
 * and zero bits after the last octet.  No white space.  The octet count,
 * or -1 (invalid, or it does not fit).
 */
long b64_decode(const char *in, size_t len, unsigned char *out,
    size_t outsz);

#endif
