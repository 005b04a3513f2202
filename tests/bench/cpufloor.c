/*
 * cpufloor.c - the CPU cost of the pieces that pop23d's design makes
 * unavoidable per session, each measured alone without pop23d: the floor
 * of tests/bench/cpusplit.py's ceiling (doc/PERFORMANCE.md, "Where a
 * session's CPU goes, and the ceiling of each ratio").  CPU time from
 * getrusage(), never throughput; one line "FLOOR name=value_us" each.
 *
 *   cpufloor fork N KB     N x (fork, child _exit, waitpid) from a process
 *                          that has written KB kilobytes of heap (the size
 *                          of the process being forked): parent + child
 *   cpufloor fsync N DIR   N x (pwrite 512 octets, fsync) of a file in DIR
 *   cpufloor ipc N         N round trips of 64 octets over a socketpair to
 *                          a child that answers (both sides): the auth
 *                          worker's request and answer
 *   cpufloor conn N R      the server side of N loopback TCP connections:
 *                          accept, a greeting, R one-line requests each
 *                          answered with one line, EOF, close; the client
 *                          is a child and not counted
 *   cpufloor wire MB       per MB of message: LF->CRLF and dot-stuffing
 *                          into a buffer (user), pread from the page cache
 *                          and write to a loopback TCP socket drained by a
 *                          child (server side only)
 *
 * PRIVILEGE: runs as whoever starts it.  GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static double
tv_us(struct timeval tv)
{
	return tv.tv_sec * 1e6 + tv.tv_usec;
}

/* CPU (user + sys) in microseconds of this process, or of its reaped
 * children (WHO) */
static double
cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "cpufloor: %s: not a number in %ld..%ld\n", s,
		    lo, hi);
		exit(2);
	}
	return v;
}

static void
reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		fprintf(stderr, "cpufloor: helper child failed\n");
		exit(1);
	}
}

static void
do_fork(long n, long kb)
{
	char *heap = malloc((size_t)kb * 1024 + 1);
	double s0, c0;
	long i;
	pid_t pid;

	if (heap == NULL)
		die("malloc");
	memset(heap, 1, (size_t)kb * 1024 + 1);
	s0 = cpu_us(RUSAGE_SELF);
	c0 = cpu_us(RUSAGE_CHILDREN);
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0)
			_exit(0);
		reap(pid);
	}
	printf("FLOOR fork_exit_us=%.1f heap_kb=%ld\n",
	    (cpu_us(RUSAGE_SELF) - s0 + cpu_us(RUSAGE_CHILDREN) - c0) / n,
	    kb);
	free(heap);
}

static void
do_fsync(long n, const char *dir)
{
	char path[4096], buf[512];
	double t0;
	long i;
	int fd;

	snprintf(path, sizeof path, "%s/cpufloor.%ld", dir, (long)getpid());
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		die(path);
	memset(buf, 'x', sizeof buf);
	t0 = cpu_us(RUSAGE_SELF);
	for (i = 0; i < n; i++) {
		if (pwrite(fd, buf, sizeof buf, (i % 8) * 512) !=
		    (ssize_t)sizeof buf)
			die("pwrite");
		if (fsync(fd) == -1)
			die("fsync");
	}
	printf("FLOOR fsync_us=%.1f\n", (cpu_us(RUSAGE_SELF) - t0) / n);
	close(fd);
	unlink(path);
}

static void
do_ipc(long n)
{
	char buf[64];
	double s0, c0;
	int sv[2];
	long i;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		die("socketpair");
	c0 = cpu_us(RUSAGE_CHILDREN);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], buf, sizeof buf) == sizeof buf)
			if (write(sv[1], buf, sizeof buf) != sizeof buf)
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	memset(buf, 'q', sizeof buf);
	s0 = cpu_us(RUSAGE_SELF);
	for (i = 0; i < n; i++)
		if (write(sv[0], buf, sizeof buf) != sizeof buf ||
		    read(sv[0], buf, sizeof buf) != sizeof buf)
			die("ipc");
	close(sv[0]);
	reap(pid);
	printf("FLOOR ipc_roundtrip_us=%.1f\n",
	    (cpu_us(RUSAGE_SELF) - s0 + cpu_us(RUSAGE_CHILDREN) - c0) / n);
}

static int
listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof *sin;
	int l;

	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)sin, sizeof *sin) == -1 ||
	    listen(l, 64) == -1 ||
	    getsockname(l, (struct sockaddr *)sin, &len) == -1)
		die("listen");
	return l;
}

static int
dial(const struct sockaddr_in *sin)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s == -1 || connect(s, (const struct sockaddr *)sin,
	    sizeof *sin) == -1)
		die("connect");
	return s;
}

static void
do_conn(long n, long r)
{
	static const char hello[] = "+OK ready\r\n", ok[] = "+OK\r\n",
	    req[] = "NOOP\r\n";
	struct sockaddr_in sin;
	char buf[256];
	double t0;
	long i, k;
	int l, s, one = 1;
	pid_t pid;

	l = listener(&sin);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(l);
		for (i = 0; i < n; i++) {
			s = dial(&sin);
			if (read(s, buf, sizeof buf) <= 0)
				_exit(1);
			for (k = 0; k < r; k++)
				if (write(s, req, sizeof req - 1) !=
				    sizeof req - 1 ||
				    read(s, buf, sizeof buf) <= 0)
					_exit(1);
			close(s);
		}
		_exit(0);
	}
	t0 = cpu_us(RUSAGE_SELF);
	for (i = 0; i < n; i++) {
		if ((s = accept(l, NULL, NULL)) == -1)
			die("accept");
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (write(s, hello, sizeof hello - 1) != sizeof hello - 1)
			die("write");
		for (k = 0; k < r; k++)
			if (read(s, buf, sizeof buf) <= 0 ||
			    write(s, ok, sizeof ok - 1) != sizeof ok - 1)
				die("conn");
		if (read(s, buf, sizeof buf) != 0)
			die("no EOF");
		close(s);
	}
	printf("FLOOR conn_us=%.1f requests=%ld\n",
	    (cpu_us(RUSAGE_SELF) - t0) / n, r);
	close(l);
	reap(pid);
}

/* LF -> CRLF, "." at a line start doubled, a line at a time (memchr,
 * memcpy); OUT holds 2 x LEN */
static size_t
wire(const char *in, size_t len, char *out, int *bol)
{
	const char *p = in, *end = in + len, *nl;
	size_t o = 0, n;

	while (p < end) {
		if (*bol && *p == '.')
			out[o++] = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		memcpy(out + o, p, n);
		o += n;
		p += n;
		*bol = 0;
		if (nl != NULL) {
			out[o++] = '\r';
			out[o++] = '\n';
			p++;
			*bol = 1;
		}
	}
	return o;
}

static void
do_wire(long mb)
{
	static const char line[] =
	    "a line of a benchmark message body, sixty-odd octets long.\n";
	size_t len = (size_t)mb << 20, chunk = 65536, off, o;
	char path[] = "/tmp/cpufloor.XXXXXX", *data, *in, *out;
	double t0, conv, rd, snd;
	struct sockaddr_in sin;
	int fd, l, s, c, bol = 1;
	pid_t pid;

	if ((data = malloc(len)) == NULL || (in = malloc(chunk)) == NULL ||
	    (out = malloc(2 * chunk)) == NULL)
		die("malloc");
	for (off = 0; off < len; off++)
		data[off] = line[off % (sizeof line - 1)];
	if ((fd = mkstemp(path)) == -1)
		die("mkstemp");
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len)
		die("write");
	/* the conversion alone */
	t0 = cpu_us(RUSAGE_SELF);
	for (off = 0; off < len; off += chunk)
		wire(data + off, chunk, out, &bol);
	conv = cpu_us(RUSAGE_SELF) - t0;
	/* reading from the page cache */
	t0 = cpu_us(RUSAGE_SELF);
	for (off = 0; off < len; off += chunk)
		if (pread(fd, in, chunk, (off_t)off) != (ssize_t)chunk)
			die("pread");
	rd = cpu_us(RUSAGE_SELF) - t0;
	/* the converted octets into a loopback TCP socket */
	l = listener(&sin);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(l);
		c = dial(&sin);
		while (read(c, in, chunk) > 0)
			;
		_exit(0);
	}
	if ((s = accept(l, NULL, NULL)) == -1)
		die("accept");
	o = wire(data, chunk, out, &bol);
	t0 = cpu_us(RUSAGE_SELF);
	for (off = 0; off < len; off += chunk)
		if (write(s, out, o) != (ssize_t)o)
			die("send");
	snd = cpu_us(RUSAGE_SELF) - t0;
	close(s);
	close(l);
	reap(pid);
	printf("FLOOR crlf_us_per_mb=%.1f pread_us_per_mb=%.1f "
	    "send_us_per_mb=%.1f wire_mb_per_mb=%.3f\n", conv / mb, rd / mb,
	    snd / mb, (double)o / chunk);
	close(fd);
	free(data);
	free(in);
	free(out);
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "fork") == 0)
		do_fork(num(argv[2], 1, 1000000), num(argv[3], 0, 1 << 22));
	else if (argc == 4 && strcmp(argv[1], "fsync") == 0)
		do_fsync(num(argv[2], 1, 1000000), argv[3]);
	else if (argc == 3 && strcmp(argv[1], "ipc") == 0)
		do_ipc(num(argv[2], 1, 10000000));
	else if (argc == 4 && strcmp(argv[1], "conn") == 0)
		do_conn(num(argv[2], 1, 1000000), num(argv[3], 0, 1000));
	else if (argc == 3 && strcmp(argv[1], "wire") == 0)
		do_wire(num(argv[2], 1, 4096));
	else {
		fprintf(stderr, "usage: cpufloor fork N KB | fsync N DIR | "
		    "ipc N | conn N R | wire MB\n");
		return 2;
	}
	return 0;
}
