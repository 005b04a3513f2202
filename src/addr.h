/*
 * addr.h - client addresses as the master counts them: one family and 16
 * octets, compared by prefix, so a per-address cap can hold a whole IPv6
 * /64 (or an IPv4 /24) to one limit.
 * PRIVILEGE: any; used by the master (root), which never reads client
 * bytes: the address comes from accept().
 */
#ifndef POP23D_ADDR_H
#define POP23D_ADDR_H

#include <sys/socket.h>

/* Octets in an IPv6 address, the longest kind kept. */
#define ADDR_OCTETS_MAX	16

struct addr {
	int family;			/* AF_INET, AF_INET6, or AF_UNSPEC */
	unsigned char octets[ADDR_OCTETS_MAX];	/* network order */
};

/*
 * Fill *A from SA (LEN octets, from accept() or getpeername()).  An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address, so
 * the same client is counted once whatever socket it came in on.  Any
 * other family gives AF_UNSPEC (all such clients share one count).
 */
void addr_from_sockaddr(const struct sockaddr *sa, socklen_t len,
    struct addr *a);
/*
 * 1 if A and B are of one family and agree in their first PREFIX4 (IPv4,
 * 0..32) or PREFIX6 (IPv6, 0..128) bits, else 0.  AF_UNSPEC matches only
 * AF_UNSPEC.
 */
int addr_same_prefix(const struct addr *a, const struct addr *b,
    int prefix4, int prefix6);
/*
 * 1 if A is a loopback address (IPv4 127/8, IPv6 ::1, and so
 * ::ffff:127.x.y.z): the connection does not leave the host, which is
 * where plaintext_auth = loopback lets a password cross without TLS.
 */
int addr_is_loopback(const struct addr *a);

/*
 * Parse a network "ADDRESS/BITS" or a single "ADDRESS" (IPv4 a.b.c.d or
 * IPv6, BITS 0..32 or 0..128; a single address is a /32 or /128) into *A
 * and *BITS_R.  An IPv4-mapped IPv6 network becomes IPv4.  0, or -1 if
 * TEXT is not one.  For the trusted proxies of pop23d.conf.
 */
int addr_parse_net(const char *text, struct addr *a, int *bits_r);
/* 1 if A lies in the network NET/BITS (addr_parse_net()), else 0. */
int addr_in_net(const struct addr *a, const struct addr *net, int bits);

#endif
