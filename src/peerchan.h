/*
 * peerchan.h - the channel on which a monitor tells the master the real
 * client address of a connection that came through a trusted proxy (the
 * PROXY protocol), and the master answers whether the connection may go
 * on under max_per_ip.  The master counted the connection under the
 * proxy's address at accept(); from the answer on it counts it under
 * the client's.
 *
 * One SOCK_DGRAM socketpair for all connections: the master keeps one
 * end, every monitor of a "proxy" listener inherits the other.  A monitor
 * sends its address record with a fresh reply socket (SCM_RIGHTS); the
 * kernel adds the sender's pid (SCM_CREDENTIALS), so a record names only
 * its own connection.  The master reads fixed-size records from its own
 * root monitors, never a client byte.
 *
 * PRIVILEGE: root (master and monitor) only; the pre-auth child closes
 * the descriptor before it drops its privileges.
 */
#ifndef POP23D_PEERCHAN_H
#define POP23D_PEERCHAN_H

#include <sys/types.h>
#include <stdint.h>

#include "addr.h"

/* Make the channel: FDS[0] for the master (credentials on), FDS[1] for
 * the monitors.  0 or -1 (errno). */
int peerchan_open(int fds[2]);
/*
 * Monitor: ask the master about client A.  1: go on; 0: refused (over
 * max_per_ip); -1: no answer by DEADLINE (deadline.h) or an error.
 */
int peerchan_ask(int fd, const struct addr *a, int64_t deadline);
/*
 * Master: take one record.  0 with *pid_r (the sender, from the kernel),
 * *a and *reply_r (answer there with peerchan_answer()), or -1 (nothing
 * usable: the record is dropped).
 */
int peerchan_recv(int fd, pid_t *pid_r, struct addr *a, int *reply_r);
/* Master: answer on REPLY and close it. */
void peerchan_answer(int reply, int allowed);

#endif
