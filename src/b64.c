/*
 * b64.c - strict base64 (see b64.h).
 *
 * PRIVILEGE: the pre-auth child (login_user, chrooted, sandboxed).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "b64.h"

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long
b64_encode(const unsigned char *in, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;
	unsigned v;

	if (outsz == 0 || len > (SIZE_MAX - 2) / 4 ||
	    B64_ENCODED_LEN(len) >= outsz)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alpha[v >> 18];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = b64_alpha[(v >> 6) & 63];
		out[o++] = b64_alpha[v & 63];
	}
	if (i < len) {
		v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		out[o++] = b64_alpha[v >> 18];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
	size_t i, o = 0, pad = 0;
	int v[4], k;
	unsigned w;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > outsz)
		return -1;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			/* "=" only in the last quantum's padding. */
			if (i + 4 == len && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_val(in[i + k])) < 0)
				return -1;
		}
		w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
		    (unsigned)v[2] << 6 | (unsigned)v[3];
		if (i + 4 == len && pad == 2) {
			if ((w & 0xffff) != 0)
				return -1;	/* bits after the octet */
			out[o++] = (unsigned char)(w >> 16);
		} else if (i + 4 == len && pad == 1) {
			if ((w & 0xff) != 0)
				return -1;
			out[o++] = (unsigned char)(w >> 16);
			out[o++] = (unsigned char)(w >> 8);
		} else {
			out[o++] = (unsigned char)(w >> 16);
			out[o++] = (unsigned char)(w >> 8);
			out[o++] = (unsigned char)w;
		}
	}
	return (long)o;
}
