/*
 * fuzz_proxyproto.c - libFuzzer target: the PROXY protocol header parser
 * (src/proxyproto.c), the first thing the pre-auth process parses on a
 * "proxy" listener.  Besides the sanitizers it checks properties: an
 * accepted header is at most PROXY_HEADER_MAX octets and within the
 * input, names an AF_INET or AF_INET6 client of the right length unless
 * it is "local", and every shorter prefix of it asks for more; a request
 * for more asks past what it was given and never past the bound; a
 * refusal has a reason; the answer depends only on the header's own
 * octets (the same header followed by other bytes parses the same).
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info pi, pj;
	const char *error, *e2;
	enum proxy_result r, r2;
	size_t used, used2, k;
	uint8_t *copy;

	/* An exact-size copy, so ASan sees any read past the input. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	r = proxy_parse(copy, size, &pi, &used, &error);
	switch (r) {
	case PROXY_OK:
		if (used == 0 || used > size || used > PROXY_HEADER_MAX)
			abort();
		if (pi.version != 1 && pi.version != 2)
			abort();
		if (!pi.local && !((pi.src.ss_family == AF_INET &&
		    pi.src_len == sizeof(struct sockaddr_in)) ||
		    (pi.src.ss_family == AF_INET6 &&
		    pi.src_len == sizeof(struct sockaddr_in6))))
			abort();
		/* The header alone parses the same. */
		r2 = proxy_parse(copy, used, &pj, &used2, &e2);
		if (r2 != PROXY_OK || used2 != used ||
		    memcmp(&pi, &pj, sizeof pi) != 0)
			abort();
		/* Every shorter prefix asks for more, and not past it. */
		for (k = 0; k < used; k++) {
			r2 = proxy_parse(copy, k, &pj, &used2, &e2);
			if (r2 != PROXY_MORE || used2 <= k || used2 > used)
				abort();
		}
		break;
	case PROXY_MORE:
		if (used <= size || used > PROXY_HEADER_MAX)
			abort();
		break;
	case PROXY_BAD:
		if (error == NULL || error[0] == '\0')
			abort();
		break;
	default:
		abort();
	}
	free(copy);
	return 0;
}
