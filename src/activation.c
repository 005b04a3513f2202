/*
 * activation.c - systemd socket activation and notifications (see
 * activation.h), on libsystemd's sd_listen_fds(), sd_is_socket_inet()
 * and sd_notify() rather than a copy of their protocol.
 *
 * PRIVILEGE: root in the master only.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "activation.h"
#include "compat.h"

/* NOTIFY_SOCKET: a path or an abstract name, at most sun_path's 108. */
#define NOTIFY_SOCKET_MAX	128

static char notify_socket[NOTIFY_SOCKET_MAX];
static int stderr_journal;

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to
 * our stdout and stderr; it names stderr only if they match. */
static int
journal_stream_is_stderr(const char *v)
{
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
activation_take(const char **error_r)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	int n = 0;

	stderr_journal = journal_stream_is_stderr(getenv("JOURNAL_STREAM"));
	if (ns != NULL && strlen(ns) < sizeof notify_socket)
		strlcpy(notify_socket, ns, sizeof notify_socket);
#ifdef HAVE_LIBSYSTEMD
	/* 1: unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so nothing we
	 * start believes the sockets are its own.  It checks LISTEN_PID
	 * and sets FD_CLOEXEC on each descriptor. */
	n = sd_listen_fds(1);
	if (n < 0) {
		*error_r = "sd_listen_fds: bad LISTEN_FDS or LISTEN_PID";
		return -1;
	}
#else
	(void)error_r;
	if (getenv("LISTEN_FDS") != NULL)
		fprintf(stderr, "pop23d: LISTEN_FDS is set, but this pop23d "
		    "was built without libsystemd (configure "
		    "--without-systemd): the sockets are ignored\n");
#endif
	return n;
}

int
activation_is_tcp_listener(int fd)
{
#ifdef HAVE_LIBSYSTEMD
	return sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0;
#else
	(void)fd;
	return 0;
#endif
}

int
activation_stderr_is_journal(void)
{
	return stderr_journal;
}

void
activation_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	/* sd_notify() reads the socket from the environment: it is there
	 * only for this call, so no child ever inherits it. */
	if (notify_socket[0] == '\0')
		return;
	if (setenv("NOTIFY_SOCKET", notify_socket, 1) == 0) {
		(void)sd_notify(0, state);
		(void)unsetenv("NOTIFY_SOCKET");
	}
#else
	(void)state;
#endif
}
