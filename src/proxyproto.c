/*
 * proxyproto.c - the HAProxy PROXY protocol header (versions 1 and 2),
 * parsed as a pure function: no I/O, no allocation, no global state.
 * The reader (proxy_read() in session.c's pre-auth child) feeds it the
 * bytes it has and reads more while it answers PROXY_MORE.
 *
 * Every length is checked before it is used: version 1 is a line of at
 * most 107 octets ended by CRLF with single spaces between exact fields;
 * version 2 is a 16-octet fixed part, an address block whose size the
 * family fixes, and TLVs each of which must lie wholly inside the header.
 * Unknown TLVs are skipped; a CRC32C TLV, if present, must match.
 *
 * PRIVILEGE: unprivileged only (pre-auth child, unit tests, fuzzer): it
 * parses bytes from the network.
 */
#include "config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "crc32c.h"
#include "proxyproto.h"

/* Version 2's signature: it cannot start a valid POP or HTTP line. */
static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN	(sizeof v1_sig - 1)

/* Version 2, octet 13: the command (low nibble of the version octet)
 * and the address family and transport. */
#define V2_VERSION	0x2
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_AF_UNSPEC	0x0
#define V2_AF_INET	0x1
#define V2_AF_INET6	0x2
#define V2_AF_UNIX	0x3
#define V2_TR_UNSPEC	0x0
#define V2_TR_STREAM	0x1
/* Address block sizes: two addresses and two ports (AF_UNIX: two
 * 108-octet paths, no ports). */
#define V2_ADDR_INET	12
#define V2_ADDR_INET6	36
#define V2_ADDR_UNIX	216
/* A TLV: type, then a 16-bit length, then the value. */
#define V2_TLV_HEAD	3
#define V2_CRC_LEN	4
/* Version 1 fields after "PROXY": protocol, src, dst, sport, dport. */
#define V1_FIELDS	5
#define V1_PORT_DIGITS	5

static enum proxy_result
bad(const char **error_r, const char *why)
{
	*error_r = why;
	return PROXY_BAD;
}

/* A version 1 port: 1..5 digits, no leading zero, at most 65535. */
static int
v1_port(const char *s, uint16_t *port)
{
	size_t n = strlen(s), i;
	unsigned long v = 0;

	if (n == 0 || n > V1_PORT_DIGITS || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

/* Fill SS from an address of FAMILY in text, and a port. */
static int
v1_addr(int family, const char *text, const char *port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	uint16_t p;

	memset(ss, 0, sizeof *ss);
	if (v1_port(port, &p) != 0)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = p;
		*len = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = p;
		*len = sizeof *in6;
	}
	return 0;
}

static enum proxy_result
parse_v1(const unsigned char *p, size_t len, struct proxy_info *pi,
    size_t *used_r, const char **error_r)
{
	char line[PROXY_V1_MAX + 1], *f[V1_FIELDS], *s;
	size_t i, end, nf = 0;
	int family;

	if (memcmp(p, v1_sig, len < V1_SIG_LEN ? len : V1_SIG_LEN) != 0)
		return bad(error_r, "no PROXY header (wrong signature)");
	/* The line: printable ASCII up to CRLF, within 107 octets. */
	for (end = 0; end < len && end < PROXY_V1_MAX - 1; end++) {
		if (p[end] == '\r')
			break;
		if (p[end] < 0x20 || p[end] > 0x7e)
			return bad(error_r, "PROXY v1 header holds a control "
			    "or 8-bit octet");
	}
	if (end == PROXY_V1_MAX - 1)
		return bad(error_r, "PROXY v1 header longer than 107 octets");
	if (end + 1 >= len) {
		/* No CR yet, or CR without the octet after it. */
		*used_r = len + 1;
		return PROXY_MORE;
	}
	if (p[end + 1] != '\n')
		return bad(error_r, "PROXY v1 header: CR without LF");
	if (end < V1_SIG_LEN)
		return bad(error_r, "no PROXY header (wrong signature)");
	memcpy(line, p, end);
	line[end] = '\0';
	*used_r = end + 2;
	pi->version = 1;

	s = line + V1_SIG_LEN;
	if (strncmp(s, "UNKNOWN", 7) == 0 && (s[7] == '\0' || s[7] == ' ')) {
		/* The proxy does not know the client: whatever follows is
		 * ignored (the specification's rule). */
		pi->local = 1;
		return PROXY_OK;
	}
	/* Fields after "PROXY ", split at single spaces. */
	for (;;) {
		if (nf == V1_FIELDS)
			return bad(error_r, "PROXY v1 header: too many fields");
		f[nf++] = s;
		if ((s = strchr(s, ' ')) == NULL)
			break;
		*s++ = '\0';
	}
	for (i = 0; i < nf; i++)
		if (f[i][0] == '\0')
			return bad(error_r, "PROXY v1 header: empty field");
	if (strcmp(f[0], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[0], "TCP6") == 0)
		family = AF_INET6;
	else
		return bad(error_r, "PROXY v1 header: protocol not TCP4, "
		    "TCP6 or UNKNOWN");
	if (nf != V1_FIELDS)
		return bad(error_r, "PROXY v1 header: too few fields");
	if (v1_addr(family, f[1], f[3], &pi->src, &pi->src_len) != 0 ||
	    v1_addr(family, f[2], f[4], &pi->dst, &pi->dst_len) != 0)
		return bad(error_r, "PROXY v1 header: bad address or port");
	return PROXY_OK;
}

/* Version 2 addresses of FAM from the address block A. */
static void
v2_addrs(int fam, const unsigned char *a, struct proxy_info *pi)
{
	memset(&pi->src, 0, sizeof pi->src);
	memset(&pi->dst, 0, sizeof pi->dst);
	if (fam == V2_AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&pi->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&pi->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		pi->src_len = pi->dst_len = sizeof *s;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&pi->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&pi->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		pi->src_len = pi->dst_len = sizeof *s;
	}
}

/* Walk the TLVs in P[from, total): each must fit; a CRC32C is checked
 * over the whole header with its own value taken as zero. */
static enum proxy_result
v2_tlvs(const unsigned char *p, size_t from, size_t total,
    struct proxy_info *pi, const char **error_r)
{
	static const unsigned char zero[V2_CRC_LEN];
	size_t off = from, vlen;
	uint32_t want, got;

	while (off < total) {
		if (total - off < V2_TLV_HEAD)
			return bad(error_r, "PROXY v2 header: truncated TLV");
		vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (vlen > total - off - V2_TLV_HEAD)
			return bad(error_r, "PROXY v2 header: TLV longer than "
			    "the header");
		if (p[off] == PROXY_TLV_CRC32C) {
			const unsigned char *v = p + off + V2_TLV_HEAD;

			if (vlen != V2_CRC_LEN)
				return bad(error_r, "PROXY v2 header: CRC32C "
				    "TLV of a wrong length");
			want = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
			    (uint32_t)v[2] << 8 | v[3];
			got = crc32c(0, p, (size_t)(v - p));
			got = crc32c(got, zero, V2_CRC_LEN);
			got = crc32c(got, v + V2_CRC_LEN,
			    total - (size_t)(v - p) - V2_CRC_LEN);
			if (got != want)
				return bad(error_r, "PROXY v2 header: CRC32C "
				    "mismatch");
			pi->crc_checked = 1;
		}
		off += V2_TLV_HEAD + vlen;
	}
	pi->tlv_octets = total - from;
	return PROXY_OK;
}

static enum proxy_result
parse_v2(const unsigned char *p, size_t len, struct proxy_info *pi,
    size_t *used_r, const char **error_r)
{
	size_t n = len < sizeof v2_sig ? len : sizeof v2_sig, total, asize;
	int cmd, fam, tr;

	if (memcmp(p, v2_sig, n) != 0)
		return bad(error_r, "no PROXY header (wrong signature)");
	if (len < PROXY_V2_FIXED) {
		*used_r = PROXY_V2_FIXED;
		return PROXY_MORE;
	}
	if (p[12] >> 4 != V2_VERSION)
		return bad(error_r, "PROXY v2 header: version not 2");
	cmd = p[12] & 0x0f;
	fam = p[13] >> 4;
	tr = p[13] & 0x0f;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return bad(error_r, "PROXY v2 header: unknown command");
	if (fam > V2_AF_UNIX || tr > 2)
		return bad(error_r, "PROXY v2 header: unknown family or "
		    "transport");
	total = PROXY_V2_FIXED + ((size_t)p[14] << 8 | p[15]);
	if (total > PROXY_HEADER_MAX)
		return bad(error_r, "PROXY v2 header longer than we accept");
	*used_r = total;
	if (len < total)
		return PROXY_MORE;
	asize = fam == V2_AF_INET ? V2_ADDR_INET : fam == V2_AF_INET6 ?
	    V2_ADDR_INET6 : fam == V2_AF_UNIX ? V2_ADDR_UNIX : 0;
	if (asize > total - PROXY_V2_FIXED)
		return bad(error_r, "PROXY v2 header: length shorter than "
		    "its address block");
	pi->version = 2;
	if (cmd == V2_CMD_LOCAL || fam == V2_AF_UNSPEC || fam == V2_AF_UNIX) {
		/* A health check of the proxy's own, or a client we cannot
		 * name by an IP address: the connection's own address
		 * stands (the specification's rule for LOCAL and UNSPEC). */
		pi->local = 1;
	} else {
		if (tr != V2_TR_STREAM)
			return bad(error_r, "PROXY v2 header: not a stream "
			    "connection");
		v2_addrs(fam, p + PROXY_V2_FIXED, pi);
	}
	return v2_tlvs(p, PROXY_V2_FIXED + asize, total, pi, error_r);
}

enum proxy_result
proxy_parse(const unsigned char *p, size_t len, struct proxy_info *pi,
    size_t *used_r, const char **error_r)
{
	memset(pi, 0, sizeof *pi);
	*used_r = 0;
	*error_r = "";
	if (len == 0) {
		*used_r = 1;
		return PROXY_MORE;
	}
	if (p[0] == v1_sig[0])
		return parse_v1(p, len, pi, used_r, error_r);
	if (p[0] == v2_sig[0])
		return parse_v2(p, len, pi, used_r, error_r);
	return bad(error_r, "no PROXY header (wrong signature)");
}
