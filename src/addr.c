/*
 * addr.c - client addresses for the master's per-address cap: normalised
 * (IPv4-mapped IPv6 is IPv4) and compared by prefix length.
 * PRIVILEGE: root in the master (and the monitor for the trusted proxy
 * networks); pure computation, no system calls.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
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
addr_parse_net(const char *text, struct addr *a, int *bits_r)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hl = slash != NULL ? (size_t)(slash - text) : strlen(text);
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	int bits = -1, max;
	const char *b;

	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	memset(&in, 0, sizeof in);
	memset(&in6, 0, sizeof in6);
	if (inet_pton(AF_INET, host, &in.sin_addr) == 1) {
		in.sin_family = AF_INET;
		addr_from_sockaddr((struct sockaddr *)&in, sizeof in, a);
		max = 32;
	} else if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
		in6.sin6_family = AF_INET6;
		addr_from_sockaddr((struct sockaddr *)&in6, sizeof in6, a);
		/* ::ffff:a.b.c.d/BITS counts its bits from the IPv6 start. */
		max = 128;
	} else
		return -1;
	if (slash == NULL)
		bits = max;
	else {
		/* 1..3 digits, no sign, no leading zero but "0". */
		b = slash + 1;
		if (b[0] < '0' || b[0] > '9' || (b[0] == '0' && b[1] != '\0'))
			return -1;
		for (bits = 0; *b >= '0' && *b <= '9' && bits <= max; b++)
			bits = bits * 10 + (*b - '0');
		if (*b != '\0' || bits > max)
			return -1;
	}
	if (max == 128 && a->family == AF_INET) {
		/* A mapped network: its IPv4 part, if the bits reach it. */
		if (bits < 96)
			return -1;
		bits -= 96;
	}
	*bits_r = bits;
	return 0;
}

int
addr_in_net(const struct addr *a, const struct addr *net, int bits)
{
	return addr_same_prefix(a, net, bits, bits);
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
