/*
 * ipc.h - typed, length-checked messages between the pre-auth child and
 * the monitor over a socketpair (SOCK_SEQPACKET: one message per record).
 * The monitor trusts nothing in them: sizes are checked and a malformed
 * message ends the session (OpenSMTPD mproc.c).
 */
#ifndef POP23D_IPC_H
#define POP23D_IPC_H

#include <stddef.h>
#include <stdint.h>

enum ipc_type {
	IPC_AUTH = 1,		/* child -> monitor: credentials + leftover */
	IPC_RESULT = 2,		/* monitor -> child: enum pop23d_result */
};

#define IPC_USER_MAX	255
#define IPC_SECRET_MAX	255
#define IPC_LEFTOVER_MAX	4096

struct ipc_auth {
	uint32_t kind;			/* enum auth_kind */
	char user[IPC_USER_MAX + 1];
	char secret[IPC_SECRET_MAX + 1];
	uint32_t leftover_len;
	unsigned char leftover[IPC_LEFTOVER_MAX];
};

/* Send one message.  0 or -1. */
int ipc_send(int fd, enum ipc_type type, const void *p, size_t len);
/*
 * Receive one message of TYPE into P (exactly LEN bytes expected).
 * 0, or -1 on EOF, error or a message of the wrong type or size.
 */
int ipc_recv(int fd, enum ipc_type type, void *p, size_t len);

#endif
