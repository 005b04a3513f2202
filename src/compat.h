/*
 * compat.h - the few BSD functions glibc lacks; implementations live in
 * compat/ so src/ reads as plain POSIX (OpenSMTPD openbsd-compat/).
 */
#ifndef POP23D_COMPAT_H
#define POP23D_COMPAT_H

#include <stddef.h>

#ifndef HAVE_STRLCPY
size_t strlcpy(char *dst, const char *src, size_t dstsize);
#endif

#endif
