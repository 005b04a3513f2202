/*
 * loopinetd.c - a minimal inetd for the benchmark: runs an inetd-mode POP
 * server (popa3d, or "pop23d -i pop3") once per connection on a loopback
 * port, the way a stock inetd does, so that such servers can be measured
 * beside standalone daemons (doc/PERFORMANCE.md).
 *
 *   loopinetd [-m MAXCHILD] ADDR PORT PROGRAM [ARG...]
 *
 * ADDR must be in 127.0.0.0/8.  For every accepted connection a child gets
 * the socket as standard input and output, /dev/null as standard error,
 * and executes PROGRAM.  Like a stock inetd it leaves TCP_NODELAY off, so
 * a server that relies on it shows its Nagle stalls.  loopinetd stays in
 * the foreground as the root of the server's process tree (the benchmark
 * sums memory over it) and leads its own process group; SIGTERM or SIGINT
 * stops it and sends SIGTERM to the whole group.  Connections over
 * MAXCHILD (default 20000) running children are closed at once.
 *
 * PRIVILEGE: runs as whoever starts it (root for popa3d, which drops its
 * own privileges).
 *
 * GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t running_children;
static volatile sig_atomic_t quit_signal;

static void
on_child(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		running_children--;
	errno = saved;
}

static void
on_quit(int sig)
{
	quit_signal = sig;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loopinetd [-m MAXCHILD] ADDR PORT PROGRAM "
	    "[ARG...]\n");
	exit(2);
}

static long
number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct sigaction sa;
	struct timespec pause_ts = { 0, 10 * 1000 * 1000 };
	long maxchild = 20000;
	int ls, fd, devnull, one = 1, ch;
	pid_t pid;

	while ((ch = getopt(argc, argv, "+m:")) != -1) {
		if (ch != 'm')
			usage();
		maxchild = number(optarg, 1, 1000000);
	}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)number(argv[1], 1, 65535));
	if (inet_pton(AF_INET, argv[0], &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loopinetd: %s is not a loopback address\n",
		    argv[0]);
		return 2;
	}
	if (access(argv[2], X_OK) != 0) {
		fprintf(stderr, "loopinetd: %s: %s\n", argv[2],
		    strerror(errno));
		return 2;
	}
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		perror("loopinetd: /dev/null");
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(ls, 1024) == -1) {
		fprintf(stderr, "loopinetd: %s port %s: %s\n", argv[0],
		    argv[1], strerror(errno));
		return 1;
	}
	/* Our own process group, so the final kill reaches only our
	 * children (setsid fails harmlessly if we already lead one). */
	(void)setsid();

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_quit;
	sa.sa_flags = 0;		/* let accept() return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	while (!quit_signal) {
		fd = accept4(ls, NULL, NULL, 0);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				nanosleep(&pause_ts, NULL);
			continue;	/* EINTR, ECONNABORTED, ... */
		}
		if (running_children >= maxchild) {
			close(fd);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			signal(SIGCHLD, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGPIPE, SIG_DFL);
			if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 ||
			    dup2(devnull, 2) == -1)
				_exit(127);
			if (fd > 2)
				close(fd);
			execv(argv[2], argv + 2);
			_exit(127);
		}
		if (pid > 0)
			running_children++;
		close(fd);
	}
	close(ls);
	signal(SIGCHLD, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	return 0;
}
