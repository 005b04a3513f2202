/*
 * activation.h - running under systemd: the listening sockets it passes
 * (socket activation, sd_listen_fds(3)), the readiness and state
 * notifications of Type=notify services (sd_notify(3)), and whether our
 * stderr already goes to the journal.  Built on libsystemd; without it
 * (configure --without-systemd) every call says "not under systemd".
 *
 * PRIVILEGE: root in the master only.  The values it reads come from the
 * service manager's environment, read once at start-up before the
 * environment is scrubbed; nothing here is ever inherited by a child.
 */
#ifndef POP23D_ACTIVATION_H
#define POP23D_ACTIVATION_H

/* The first descriptor systemd passes (SD_LISTEN_FDS_START). */
#define ACTIVATION_FD_START	3

/*
 * First thing in main(), before descriptors are closed and the
 * environment is scrubbed: take the passed sockets (LISTEN_PID must be
 * ours) and remember NOTIFY_SOCKET and JOURNAL_STREAM.  Returns the
 * number of passed sockets (at ACTIVATION_FD_START on), 0 if none, or -1
 * with *error_r set.
 */
int activation_take(const char **error_r);
/* 1 if FD is a listening TCP socket (IPv4 or IPv6), else 0. */
int activation_is_tcp_listener(int fd);
/* 1 if our stderr is the journal's stream (systemd.exec(5),
 * JOURNAL_STREAM): the syslog lines reach the journal already. */
int activation_stderr_is_journal(void);
/* Send STATE ("READY=1", "RELOADING=1", "STOPPING=1", ...) to the
 * service manager if it asked for notifications; else nothing. */
void activation_notify(const char *state);

#endif
