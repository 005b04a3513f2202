/*
 * ipc.h - typed, length-checked records between the pre-auth child and
 * the monitor over a socketpair (SOCK_SEQPACKET: one record per message).
 * The monitor trusts nothing in them: sizes are checked and a malformed
 * record ends the session (OpenSMTPD mproc.c).
 *
 * A login is a dialogue (login.h):
 *
 *   child                                monitor
 *   IPC_LOGIN {mech, data}        ->     checks it (auth plugin, as root)
 *                                 <-     IPC_VERDICT {result}
 *   ... FAIL: the child answers the client and may try again ...
 *   OK:  IPC_HANDOVER {input}     ->     takes over the connection
 *        (under TLS the child stays: it proxies the session's bytes
 *        through TLS over a socketpair the monitor made, tls.h)
 *
 * SASL (AUTH, RFC 5034): a verdict of POP23D_CONTINUE carries a challenge,
 * and the child answers with an IPC_LOGIN_STEP record holding the
 * client's decoded response (or a cancel); the monitor answers that with
 * another verdict, until one is not CONTINUE.
 *
 * A login record whose mechanism is LOGIN_MECH_LIST is no check: the
 * monitor answers it with an OK verdict whose challenge holds the SASL
 * mechanism list (for CAPA and a bare AUTH).
 *
 * The monitor and the auth service (authsvc.h) use the same framing with
 * IPC_AUTH_REQ and IPC_AUTH_REPLY.
 */
#ifndef POP23D_IPC_H
#define POP23D_IPC_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

enum ipc_type {
	IPC_LOGIN = 1,		/* child -> monitor: struct ipc_login */
	IPC_VERDICT = 2,	/* monitor -> child: struct ipc_verdict */
	IPC_HANDOVER = 3,	/* child -> monitor after an OK verdict:
				 * struct ipc_handover */
	IPC_LOGIN_STEP = 4,	/* child -> monitor after CONTINUE:
				 * struct ipc_login_step */
	IPC_PROXY = 5,		/* child -> monitor, first, on a "proxy"
				 * listener: struct ipc_proxy; answered by
				 * IPC_VERDICT (OK: go on to the greeting) */
	IPC_AUTH_REQ = 16,	/* monitor -> auth service (authsvc.h) */
	IPC_AUTH_REPLY = 17,	/* auth service -> monitor */
};

/* The text of a refused PROXY header, for the monitor's log line. */
#define IPC_PROXY_ERROR_MAX	96

/* The PROXY header as the pre-auth child parsed it (proxyproto.h).  The
 * monitor checks the families and lengths before it believes it. */
struct ipc_proxy {
	uint32_t ok;			/* 1: a valid header */
	uint32_t version;		/* 1 or 2 */
	uint32_t local;			/* no client address: keep the
					 * connection's own */
	uint32_t src_len;		/* octets of src in use */
	struct sockaddr_storage src;	/* the real client */
	char error[IPC_PROXY_ERROR_MAX]; /* ok == 0: why */
};

/* A user name or a secret (password, APOP digest): RFC 1939 arguments
 * fit a 255-octet line (RFC 2449 section 4), so neither is longer. */
#define IPC_USER_MAX		255
#define IPC_SECRET_MAX		255
/* The mechanism's data: an RFC 4616 PLAIN message (authzid NUL authcid
 * NUL password) at most, with its two NULs. */
#define IPC_LOGIN_DATA_MAX	(IPC_USER_MAX * 2 + IPC_SECRET_MAX + 2)
/* A SASL challenge (POP23D_CONTINUE), before base64. */
#define IPC_CHALLENGE_MAX	512
/*
 * A SASL response line from the client, in base64 characters: the whole
 * input buffer (INPUT_BUF_MAX, 2048) less its CRLF, rounded down to a
 * multiple of 4.  RFC 5034 sets no limit on these lines; every mechanism
 * offered here (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM) answers in
 * well under 1 KiB, a GSSAPI token with a large Kerberos PAC may not fit
 * (doc/DESIGN.md section 4).
 */
#define SASL_LINE_MAX		2044
/* One decoded SASL response. */
#define IPC_STEP_MAX		(3 * SASL_LINE_MAX / 4)
/* Input the client pipelined after its login command: the whole input
 * buffer (INPUT_BUF_MAX) fits. */
#define IPC_LEFTOVER_MAX	4096
/* TLS facts the child reports (tls.h TLS_PEER_MAX, TLS_INFO_MAX): a
 * client certificate's name, "TLSv1.3/TLS_AES_128_GCM_SHA256". */
#define IPC_TLS_PEER_MAX	255
#define IPC_TLS_INFO_MAX	96

struct ipc_login {
	uint32_t mech;			/* enum login_mech */
	/* What the child knows of the connection (login_plaintext_ok(),
	 * TLS): it holds the plaintext anyway, so it is believed here (see
	 * doc/DESIGN.md section 2.9); with tls_peer below, for
	 * pop23d_conn_info's secured, plaintext_ok and tls_peer_cn. */
	uint32_t secured, plaintext_ok;
	uint32_t len;			/* octets of data in use */
	unsigned char data[IPC_LOGIN_DATA_MAX];
	char tls_peer[IPC_TLS_PEER_MAX + 1];	/* NUL-terminated, "" none */
};

struct ipc_login_step {
	uint32_t cancel;		/* the client sent "*" */
	uint32_t len;
	unsigned char data[IPC_STEP_MAX];
};

struct ipc_verdict {
	uint32_t result;		/* enum pop23d_result */
	uint32_t challenge_len;		/* POP23D_CONTINUE only */
	unsigned char challenge[IPC_CHALLENGE_MAX];
};

/* ipc_handover.flags: the client sent UTF8 (RFC 6856).  A claim of the
 * client's, not a privilege: it only lets the session send 8-bit
 * headers as they are stored.  Other bits: a bad record. */
#define IPC_HANDOVER_UTF8	0x1u
/* ipc_handover.flags: the child stays as the TLS proxy, the session
 * speaks on its end of the proxy socketpair (tls.h). */
#define IPC_HANDOVER_PROXY	0x2u

struct ipc_handover {
	uint32_t len;
	unsigned char input[IPC_LEFTOVER_MAX];
	uint32_t flags;			/* IPC_HANDOVER_* */
	char tls_info[IPC_TLS_INFO_MAX];	/* NUL-terminated, for logs */
};

/* Send one record.  0 or -1. */
int ipc_send(int fd, enum ipc_type type, const void *p, size_t len);
/*
 * Receive one record of TYPE into P (exactly LEN bytes expected), waiting
 * at most until DEADLINE (deadline.h; 0: no limit).  0, or -1 on EOF,
 * error, the deadline (errno ETIMEDOUT) or a record of the wrong type or
 * size.  The buffer used is wiped: a record may hold a password.
 */
int ipc_recv(int fd, enum ipc_type type, void *p, size_t len,
    int64_t deadline);

#endif
