/*
 * addr.c - client addresses for the master's per-address cap: normalised
 * (IPv4-mapped IPv6 is IPv4) and compared by prefix length.
 * PRIVILEGE: root in the master; pure computation, no system calls.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

/* Octets in an IPv4 address; the first 12 octets of ::ffff:a.b.c.d. */
#define ADDR_V4_OCTETS	4
#define ADDR_V4MAPPED_PREFIX	12

void
addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct addr *a)
{
	static const unsigned char v4mapped[ADDR_V4MAPPED_PREFIX] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	memset(a, 0, sizeof *a);
	a->family = AF_UNSPEC;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		a->family = AF_INET;
		memcpy(a->octets, &in->sin_addr, ADDR_V4_OCTETS);
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;
		const unsigned char *o = in6->sin6_addr.s6_addr;

		if (memcmp(o, v4mapped, sizeof v4mapped) == 0) {
			a->family = AF_INET;
			memcpy(a->octets, o + ADDR_V4MAPPED_PREFIX,
			    ADDR_V4_OCTETS);
		} else {
			a->family = AF_INET6;
			memcpy(a->octets, o, ADDR_OCTETS_MAX);
		}
	}
}

int
addr_same_prefix(const struct addr *a, const struct addr *b, int prefix4,
    int prefix6)
{
	int bits, whole, rest;
	unsigned char mask;

	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET)
		bits = prefix4;
	else if (a->family == AF_INET6)
		bits = prefix6;
	else
		return 1;
	if (bits < 0)
		bits = 0;
	if (bits > 8 * ADDR_OCTETS_MAX)
		bits = 8 * ADDR_OCTETS_MAX;
	whole = bits / 8;
	rest = bits % 8;
	if (memcmp(a->octets, b->octets, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a->octets[whole] & mask) == (b->octets[whole] & mask);
}

int
addr_is_loopback(const struct addr *a)
{
	static const unsigned char v6loop[ADDR_OCTETS_MAX] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	/* RFC 1122 section 3.2.1.3: 127/8 never leaves the host; RFC 4291
	 * section 2.5.3: ::1.  (::ffff:127.x is IPv4 here already.) */
	if (a->family == AF_INET)
		return a->octets[0] == 127;
	if (a->family == AF_INET6)
		return memcmp(a->octets, v6loop, sizeof v6loop) == 0;
	return 0;
}
