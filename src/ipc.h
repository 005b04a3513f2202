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
 *
 * Reserved for SASL (AUTH, RFC 5034; not written yet): a verdict of
 * POP23D_CONTINUE carries a challenge, and the child answers with an
 * IPC_LOGIN_STEP record holding the client's decoded response; the
 * monitor answers that with another verdict.  Neither is sent yet (no
 * mechanism needs a second round), so IPC_LOGIN_STEP has no record
 * layout here.
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
	/* IPC_LOGIN_STEP = 4: reserved, see above */
	IPC_PROXY = 5,		/* child -> monitor, first, on a "proxy"
				 * listener: struct ipc_proxy; answered by
				 * IPC_VERDICT (OK: go on to the greeting) */
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
/* Input the client pipelined after its login command: the whole input
 * buffer (INPUT_BUF_MAX) fits. */
#define IPC_LEFTOVER_MAX	4096

struct ipc_login {
	uint32_t mech;			/* enum login_mech */
	uint32_t len;			/* octets of data in use */
	unsigned char data[IPC_LOGIN_DATA_MAX];
};

struct ipc_verdict {
	uint32_t result;		/* enum pop23d_result */
	uint32_t challenge_len;		/* POP23D_CONTINUE only */
	unsigned char challenge[IPC_CHALLENGE_MAX];
};

struct ipc_handover {
	uint32_t len;
	unsigned char input[IPC_LEFTOVER_MAX];
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
