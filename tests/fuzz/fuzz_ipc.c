/*
 * fuzz_ipc.c - libFuzzer target: the monitor's side of the IPC with the
 * pre-auth child (src/ipc.c ipc_recv(), src/session.c monitor_parse(),
 * the hand-over into net_preload()).  The attacker is a compromised
 * pre-auth child: the input is one record it sends over the real
 * SOCK_SEQPACKET socketpair.  The first octet picks what the monitor is
 * waiting for (a login or the hand-over) and whether the record is sent
 * raw (any size: the size and type checks) or cut or padded to the
 * expected size (hostile contents in a well-formed frame).
 * Checks besides the sanitizers: an accepted login has a user and a
 * secret that are NUL-free, within the limits, and lie inside the copy.
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include <sys/socket.h>

#include "defaults.h"
#include "fuzz.h"
#include "ipc.h"
#include "net.h"
#include "session.h"

#define HDR	4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_login(const struct ipc_login *req)
{
	char buf[IPC_LOGIN_DATA_MAX + 1];
	const char *user, *secret;

	if (monitor_parse(req, buf, &user, &secret, 1) != 0)
		return;
	if (user < buf || user >= buf + sizeof(buf) ||
	    secret < buf || secret >= buf + sizeof(buf) ||
	    strlen(user) == 0 || strlen(user) > IPC_USER_MAX ||
	    strlen(secret) == 0 || strlen(secret) > IPC_SECRET_MAX ||
	    strchr(user, ' ') != NULL)
		abort();
}

static void
check_handover(const struct ipc_handover *h)
{
	char line[POP2_LINE_MAX + 1];
	struct net n;
	size_t len;
	int fd;

	/* session_serve(): the length is checked, then the octets go in
	 * front of the connection's input and are read as lines. */
	if (h->len > sizeof(h->input))
		return;
	fd = fuzz_input_fd(NULL, 0);
	net_init(&n, fd, fuzz_null_fd(), INPUT_BUF_MAX, 1);
	if (net_preload(&n, h->input, h->len) == 0)
		while (net_readline(&n, line, POP3_LINE_MAX, &len, 1) !=
		    NET_EOF)
			;
	net_free(&n);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union {
		struct ipc_login login;
		struct ipc_handover handover;
	} u;
	unsigned char *rec;
	size_t want, len;
	enum ipc_type type;
	int sv[2], mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 1) {
		type = IPC_HANDOVER;
		want = sizeof(u.handover);
	} else {
		type = IPC_LOGIN;
		want = sizeof(u.login);
	}
	if (mode & 2) {
		/* A frame of the right size and type, hostile contents. */
		len = HDR + want;
		if ((rec = calloc(1, len)) == NULL)
			fuzz_die("calloc");
		memcpy(rec, &(uint32_t){ (uint32_t)type }, HDR);
		memcpy(rec + HDR, data, size < want ? size : want);
	} else {
		len = size;
		if ((rec = malloc(len + 1)) == NULL)
			fuzz_die("malloc");
		memcpy(rec, data, len);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		fuzz_die("socketpair");
	/* The child's end: one record (an empty one is a record too). */
	if (send(sv[1], rec, len, MSG_NOSIGNAL) != (ssize_t)len &&
	    len <= 65536)
		fuzz_die("send");
	close(sv[1]);
	free(rec);

	memset(&u, 0xa5, sizeof(u));
	if (ipc_recv(sv[0], type, &u, want, 0) == 0) {
		if (type == IPC_LOGIN)
			check_login(&u.login);
		else
			check_handover(&u.handover);
	}
	/* Whatever came, the next read sees the child gone. */
	if (ipc_recv(sv[0], type, &u, want, 0) == 0)
		abort();
	close(sv[0]);
	return 0;
}
