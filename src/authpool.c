/*
 * authpool.c - the auth service's pool of workers (authpool.h,
 * doc/DESIGN.md section 2.6).  The supervisor forks the workers, restarts
 * one that dies (its monitors' logins in flight get [SYS/TEMP] from their
 * monitors; nothing else notices) and keeps the per-address penalty
 * table: a worker asks it for the delay of every counted failure and
 * tells it of every success, so failures spread over the workers add up
 * for one address exactly as in one process.
 *
 * PRIVILEGE: the auth service's user (auth_user with PR_SET_NO_NEW_PRIVS,
 * or root for a plugin that needs it); no client bytes reach this file,
 * only addresses the monitors read with getpeername().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "authpool.h"
#include "deadline.h"
#include "log.h"
#include "penalty.h"

enum authpool_op {
	AUTHPOOL_FAIL = 1,
	AUTHPOOL_OK = 2,
};

struct pool_msg {
	uint32_t op;			/* enum authpool_op */
	uint32_t seq;			/* FAIL: echoed in the answer */
	struct addr a;
};

struct pool_ans {
	uint32_t seq;
	uint32_t ms;
};

struct pool_worker {
	pid_t pid;			/* 0: not running */
	int fd;				/* the supervisor's end, -1 none */
	int64_t started;		/* deadline_now() at the fork */
	int64_t restart_at;		/* 0: nothing to do */
};

/* The signal mask before the supervisor blocked its signals: what the
 * workers run with and what ppoll() waits with. */
static sigset_t pool_mask;

int
authpool_size(int configured)
{
	long n;

	if (configured > 0)
		return configured;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > AUTHPOOL_AUTO_MAX)
		n = AUTHPOOL_AUTO_MAX;
	return (int)n;
}

/* Fork worker W (of ALL, N of them). */
static void
pool_spawn(struct pool_worker *all, int n, struct pool_worker *w,
    authpool_worker_fn fn, void *arg)
{
	pid_t parent = getpid(), pid;
	int sv[2], i;

	w->started = deadline_now();
	w->restart_at = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("auth service: socketpair");
		w->restart_at = w->started + AUTHPOOL_RESTART_MIN_MS;
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("auth service: fork");
		close(sv[0]);
		close(sv[1]);
		w->restart_at = w->started + AUTHPOOL_RESTART_MIN_MS;
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < n; i++)
			if (all[i].fd != -1)
				close(all[i].fd);
#ifdef PR_SET_PDEATHSIG
		/* A worker is part of its service: when the service dies
		 * (kill -9, a crash), so do its workers and their logins in
		 * flight, and the master starts a new service with a new
		 * pool, as for a service without workers. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(1);
#endif
		sigprocmask(SIG_SETMASK, &pool_mask, NULL);
		fn(arg, sv[1]);
		_exit(1);	/* fn does not return */
	}
	close(sv[1]);
	w->pid = pid;
	w->fd = sv[0];
}

/* Answer what worker W has sent. */
static void
pool_serve(struct penalty *pen, struct pool_worker *w)
{
	struct pool_msg m;
	struct pool_ans ans;
	ssize_t r;

	for (;;) {
		r = recv(w->fd, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			/* The worker is gone; SIGCHLD brings the rest. */
			close(w->fd);
			w->fd = -1;
			return;
		}
		if (r != (ssize_t)sizeof(m) || (m.a.family != AF_INET &&
		    m.a.family != AF_INET6 && m.a.family != AF_UNSPEC))
			continue;
		if (m.op == AUTHPOOL_FAIL) {
			memset(&ans, 0, sizeof(ans));
			ans.seq = m.seq;
			ans.ms = penalty_fail(pen, &m.a, time(NULL));
			/* Lost only if the worker is gone. */
			(void)send(w->fd, &ans, sizeof(ans),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		} else if (m.op == AUTHPOOL_OK)
			penalty_ok(pen, &m.a);
	}
}

static void
pool_reap(struct pool_worker *w, int n, int stopping)
{
	int64_t now = deadline_now();
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n && w[i].pid != pid; i++)
			;
		if (i == n)
			continue;
		w[i].pid = 0;
		if (w[i].fd != -1)
			close(w[i].fd);
		w[i].fd = -1;
		if (stopping)
			continue;
		log_warnx("auth worker (pid %ld) %s %d; restarting it",
		    (long)pid, WIFSIGNALED(status) ? "died of signal" :
		    "exited with status", WIFSIGNALED(status) ?
		    WTERMSIG(status) : WEXITSTATUS(status));
		w[i].restart_at = now;
		if (w[i].started + AUTHPOOL_RESTART_MIN_MS > now)
			w[i].restart_at = w[i].started +
			    AUTHPOOL_RESTART_MIN_MS;
	}
}

void
authpool_run(int n, struct penalty *pen, int listen_fd,
    authpool_worker_fn fn, void *arg, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *chld)
{
	struct pool_worker *w;
	struct pollfd *pfd;
	struct timespec ts;
	sigset_t block;
	int64_t now, next;
	int i, r, live, stopping = 0;

	if ((w = calloc((size_t)n, sizeof(*w))) == NULL ||
	    (pfd = calloc((size_t)n, sizeof(*pfd))) == NULL)
		fatal("auth service: calloc");
	/* Flags are looked at with the signals blocked and waited for in
	 * ppoll(): none is missed between the check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &pool_mask) != 0)
		fatal("auth service: sigprocmask");
	for (i = 0; i < n; i++) {
		w[i].fd = -1;
		w[i].restart_at = 1;	/* start now */
	}
	log_debug("auth service: %d workers", n);
	for (;;) {
		if (*chld) {
			*chld = 0;
			pool_reap(w, n, stopping);
		}
		if (*stop && !stopping) {
			/* Each worker finishes the monitors it has. */
			stopping = 1;
			for (i = 0; i < n; i++)
				if (w[i].pid > 0)
					kill(w[i].pid, SIGTERM);
			if (listen_fd != -1)
				close(listen_fd);
			listen_fd = -1;
		}
		now = deadline_now();
		next = 0;
		live = 0;
		for (i = 0; i < n; i++) {
			if (w[i].pid == 0 && !stopping && w[i].restart_at != 0) {
				if (w[i].restart_at <= now)
					pool_spawn(w, n, &w[i], fn, arg);
				if (w[i].restart_at != 0)
					next = deadline_min(next,
					    w[i].restart_at);
			}
			if (w[i].pid > 0)
				live++;
			pfd[i].fd = w[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (stopping && live == 0)
			break;
		if (next != 0) {
			int ms = deadline_poll_ms(next);

			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		}
		r = ppoll(pfd, (nfds_t)n, next != 0 ? &ts : NULL, &pool_mask);
		if (r == -1 && errno != EINTR)
			fatal("auth service: poll");
		if (r <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (pfd[i].fd != -1 && pfd[i].revents != 0 &&
			    w[i].fd == pfd[i].fd)
				pool_serve(pen, &w[i]);
	}
	log_info("auth service stopped");
	_exit(0);
}

/* --------------------------------------------------------- the workers */

static uint32_t pool_seq;

uint32_t
authpool_fail(int chan_fd, const struct addr *a, uint32_t max_ms)
{
	int64_t deadline = deadline_now() + AUTHPOOL_ANSWER_MS;
	struct pool_msg m;
	struct pool_ans ans;
	struct pollfd p;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	m.op = AUTHPOOL_FAIL;
	m.seq = ++pool_seq;
	m.a = *a;
	if (send(chan_fd, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
		return max_ms;
	for (;;) {
		p.fd = chan_fd;
		p.events = POLLIN;
		r = poll(&p, 1, deadline_poll_ms(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		r = recv(chan_fd, &ans, sizeof(ans), MSG_DONTWAIT);
		if (r == (ssize_t)sizeof(ans) && ans.seq == m.seq)
			return ans.ms;
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
			break;
		/* An answer to an earlier request that timed out: next. */
	}
	log_warnx("auth worker: no penalty answer from the service");
	return max_ms;
}

void
authpool_ok(int chan_fd, const struct addr *a)
{
	struct pool_msg m;

	memset(&m, 0, sizeof(m));
	m.op = AUTHPOOL_OK;
	m.a = *a;
	/* Lost only if the service is gone: then so is its table. */
	(void)send(chan_fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}
