/*
 * proxyproto.h - the HAProxy PROXY protocol header, versions 1 (text) and
 * 2 (binary), as a pure parser: bytes in, addresses out, no I/O and no
 * state, so the pre-auth child, the unit tests and a fuzz target call
 * the same function.  doc/PROTOCOLS.md, "PROXY protocol", has the rules
 * we keep and the choices we made.
 * PRIVILEGE: unprivileged only (the pre-auth child): it parses bytes
 * that arrive on a client connection.
 */
#ifndef POP23D_PROXYPROTO_H
#define POP23D_PROXYPROTO_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

/* Version 1: the whole line, "PROXY" to CRLF, is at most 107 octets (the
 * specification's own bound: TCP6 with the longest addresses). */
#define PROXY_V1_MAX		107
/* Version 2: the fixed part (12-octet signature, version and command,
 * family, length). */
#define PROXY_V2_FIXED		16
/* The longest header we take, TLVs included.  The specification allows
 * 16 + 65535 octets; haproxy's own TLVs (ALPN, authority <= 255, unique
 * id <= 128, SSL details) fit well in 1 KiB, and the header must fit the
 * pre-auth child's input buffer (INPUT_BUF_MAX), which bounds everything
 * a client sends before it logs in. */
#define PROXY_HEADER_MAX	1024

/* TLV types of version 2 that we look at (the rest are skipped). */
#define PROXY_TLV_CRC32C	0x03

enum proxy_result {
	PROXY_OK = 0,		/* a complete, valid header */
	PROXY_MORE,		/* valid so far: read at least *used_r octets */
	PROXY_BAD,		/* not a valid header (*error_r says why) */
};

struct proxy_info {
	int version;		/* 1 or 2 */
	/* 1: no client address in the header (v1 "UNKNOWN", v2 LOCAL,
	 * v2 PROXY with an unspecified or AF_UNIX family): the connection
	 * is the proxy's own (a health check) and keeps its address. */
	int local;
	/* local == 0: the client (src) and the address it connected to
	 * (dst), AF_INET or AF_INET6, ports in network order as in any
	 * sockaddr. */
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
	size_t tlv_octets;	/* v2: octets of TLVs skipped */
	int crc_checked;	/* v2: a CRC32C TLV was present and matched */
};

/*
 * Parse the PROXY header at the start of P (LEN octets buffered so far).
 * PROXY_OK: *pi is filled and *used_r is the header's length (the client's
 * own bytes start after it).  PROXY_MORE: the bytes so far may still
 * become a valid header; read until LEN >= *used_r and call again.
 * PROXY_BAD: *error_r is a static text for the log (no client bytes in
 * it).  A header longer than PROXY_HEADER_MAX is PROXY_BAD.
 */
enum proxy_result proxy_parse(const unsigned char *p, size_t len,
    struct proxy_info *pi, size_t *used_r, const char **error_r);

#endif
