/*
 * strlcpy - copy SRC into DST (size DSTSIZE), always NUL-terminated when
 * DSTSIZE > 0.  Returns strlen(SRC); truncation happened if that is
 * >= DSTSIZE.  Written from the OpenBSD strlcpy(3) contract.
 */
#include "config.h"

#include <string.h>

#include "compat.h"

#ifndef HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif
