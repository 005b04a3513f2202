/*
 * check_sandbox.c - the pre-auth child's seccomp filter, for real: each
 * case forks a process that installs the filter with the production
 * function (sandbox_preauth()), then makes one system call.  The calls
 * the pre-auth child needs work; every other one kills the process with
 * SIGSYS (socket() and connect() fail with EACCES: syslog may try them).
 * Also: NO_NEW_PRIVS and "Seccomp: 2" as /proc shows them.  The
 * "prepared" cases run the same checks with the program the master
 * builds once (sandbox_prepare()) and each child only installs.
 * Runs as any user (the filter needs no privilege).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "priv.h"
#include "sandbox.h"
#include "suites.h"

/* The child's verdicts for allowed calls: exit status 0 = all fine. */
enum { OK = 0, FAIL_INSTALL = 10, FAIL_CALL = 11 };

/* Fork; the child installs the filter and runs FN, then _exit()s with
 * what FN returns.  Returns the raw wait status. */
static int
run_sandboxed(int (*fn)(void))
{
	const char *err;
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (sandbox_preauth(&err) != 0)
			_exit(FAIL_INSTALL);
		_exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* ---- what the pre-auth child does: must keep working ---- */

static int
allowed_io(void)
{
	struct pollfd pfd;
	void *big, *small;

	if (write(STDERR_FILENO, "", 0) != 0)
		return FAIL_CALL;
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	if (poll(&pfd, 0, 0) != 0)
		return FAIL_CALL;
	if (getpid() <= 0 || getppid() <= 0 || time(NULL) == (time_t)-1)
		return FAIL_CALL;
	/* malloc, small and large (brk and mmap), and free */
	if ((small = malloc(100)) == NULL || (big = malloc(4 << 20)) == NULL)
		return FAIL_CALL;
	memset(big, 1, 4 << 20);
	free(big);
	free(small);
	/* OpenSSL's DRBG reseeds from the kernel after fork() (tls.c) */
	{
		unsigned char r[32];

		if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
			return FAIL_CALL;
	}
	return OK;
}

/* A socket pair made before the filter, used inside it. */
static int fds[2] = { -1, -1 };

static int
allowed_socketpair_io(void)
{
	char buf[4];
	struct iovec iov = { buf, 1 };
	struct msghdr mh;
	int one = 1;

	if (send(fds[0], "x", 1, MSG_NOSIGNAL) != 1 ||
	    recv(fds[1], buf, 1, 0) != 1 || buf[0] != 'x')
		return FAIL_CALL;
	/* the TLS BIO and proxy: non-blocking without fcntl() */
	if (send(fds[0], "w", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1 ||
	    recv(fds[1], buf, 1, MSG_DONTWAIT) != 1 || buf[0] != 'w' ||
	    recv(fds[1], buf, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN)
		return FAIL_CALL;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	buf[0] = 'y';
	if (sendmsg(fds[1], &mh, 0) != 1 || recvmsg(fds[0], &mh, 0) != 1 ||
	    buf[0] != 'y')
		return FAIL_CALL;
	if (write(fds[0], "z", 1) != 1 || read(fds[1], buf, 1) != 1)
		return FAIL_CALL;
	/* glibc's syslog() reconnecting: refused, not killed */
	if (socket(AF_UNIX, SOCK_DGRAM, 0) != -1 || errno != EACCES)
		return FAIL_CALL;
	/* TCP_NODELAY is the one socket option allowed (net_init());
	 * on a UNIX socket it fails, but it is not killed */
	(void)setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (close(fds[0]) != 0)
		return FAIL_CALL;
	return OK;
}

START_TEST(test_allowed)
{
	int st;

	st = run_sandboxed(allowed_io);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == OK,
	    "status 0x%x (signal %d)", st, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	st = run_sandboxed(allowed_socketpair_io);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == OK,
	    "status 0x%x (signal %d)", st, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* ---- what a compromised pre-auth child would try: must be killed ---- */

static int
forbid_open(void)
{
	return open("/etc/passwd", O_RDONLY) == -1 ? FAIL_CALL : OK;
}

static int
forbid_openat_root(void)
{
	/* the chroot escape of finding 1.1: a path from outside */
	return (int)syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
}

static int
forbid_fork(void)
{
	return (int)syscall(SYS_fork);
}

static int
forbid_clone(void)
{
	return (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static int
forbid_execve(void)
{
	char *argv[] = { (char *)"/bin/true", NULL };

	return execve("/bin/true", argv, argv + 1);
}

static int
forbid_kill(void)
{
	return kill(getppid(), 0);
}

static int
forbid_ptrace(void)
{
	return (int)syscall(SYS_ptrace, 0, 0, 0, 0);
}

static int
forbid_mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? FAIL_CALL : OK;
}

static int
forbid_setsockopt_other(void)
{
	int one = 1;

	return setsockopt(0, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

static int
forbid_chdir(void)
{
	return chdir("/");
}

static int
forbid_setrlimit(void)
{
	return prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0);
}

static int
forbid_unlink(void)
{
	return unlink("/nonexistent-p23");
}

/*
 * SAN: allowed in sanitizer builds (src/sandbox.c lists what their
 * runtime needs to print a report); there the call must simply not kill.
 */
static const struct {
	const char *name;
	int (*fn)(void);
	int san;
} forbidden[] = {
	{ "open", forbid_open, 0 },	/* libc: openat */
	{ "openat /", forbid_openat_root, 0 },
	{ "fork", forbid_fork, 0 },
	{ "clone", forbid_clone, 0 },
	{ "execve", forbid_execve, 0 },
	{ "kill", forbid_kill, 0 },
	{ "ptrace", forbid_ptrace, 0 },
	{ "mmap PROT_EXEC", forbid_mmap_exec, 0 },
	{ "setsockopt SO_REUSEADDR", forbid_setsockopt_other, 0 },
	{ "chdir", forbid_chdir, 0 },
	{ "prctl", forbid_setrlimit, 1 },
	{ "unlink", forbid_unlink, 0 },
};

START_TEST(test_forbidden_kills)
{
	int st = run_sandboxed(forbidden[_i].fn);

#ifdef POP23D_SANITIZERS
	if (forbidden[_i].san) {
		ck_assert_msg(!WIFSIGNALED(st), "%s: killed by signal %d in a "
		    "sanitizer build", forbidden[_i].name, WTERMSIG(st));
		return;
	}
#endif
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s: not killed by SIGSYS (status 0x%x, exit %d, signal %d)",
	    forbidden[_i].name, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}
END_TEST

/* The same call without the filter is not killed (the test can fail). */
START_TEST(test_control_without_filter)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(forbid_kill() == 0 ? OK : FAIL_CALL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == OK, "0x%x", st);
}
END_TEST

/* What /proc shows of a sandboxed process. */
START_TEST(test_proc_status)
{
	char path[64], line[256], c;
	int p[2], q[2], nnp = -1, mode = -1;
	FILE *f;
	pid_t pid;
	const char *err;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		close(q[1]);
		if (sandbox_preauth(&err) != 0)
			_exit(FAIL_INSTALL);
		/* tell the parent, then wait until it has looked */
		if (write(p[1], "r", 1) != 1 || read(q[0], &c, 1) < 0)
			_exit(FAIL_CALL);
		_exit(OK);
	}
	close(p[1]);
	close(q[0]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f) != NULL) {
		sscanf(line, "NoNewPrivs: %d", &nnp);
		sscanf(line, "Seccomp: %d", &mode);
	}
	fclose(f);
	close(q[1]);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(nnp, 1);
	ck_assert_int_eq(mode, 2);	/* SECCOMP_MODE_FILTER */
}
END_TEST

/* Read /proc/PID/FILE and return whether a line starts with PREFIX and
 * matches WANT after the blanks. */
static int
proc_has(pid_t pid, const char *file, const char *prefix, const char *want)
{
	char path[64], line[256], *v;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			for (v = line + strlen(prefix); *v == ' ' || *v == '\t';
			    v++)
				;
			found = strncmp(v, want, strlen(want)) == 0;
		}
	fclose(f);
	return found;
}

/* The whole pre-auth hardening: rlimits, SIGXFSZ ignored, the filter. */
START_TEST(test_harden_preauth)
{
	char tmpl[] = "/tmp/p23sandbox.XXXXXX", c;
	const char *err;
	int p[2], q[2], fd, st;
	pid_t pid;

	ck_assert_int_ge(fd = mkstemp(tmpl), 0);
	unlink(tmpl);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(q), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(p[0]);
		close(q[1]);
		if (priv_harden_preauth(&err) != 0)
			_exit(FAIL_INSTALL);
		/* RLIMIT_FSIZE 0: a file write fails, it does not kill */
		if (write(fd, "x", 1) != -1 || errno != EFBIG)
			_exit(FAIL_CALL);
		if (write(p[1], "r", 1) != 1 || read(q[0], &c, 1) < 0)
			_exit(FAIL_CALL);
		_exit(OK);
	}
	close(p[1]);
	close(q[0]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert(proc_has(pid, "limits", "Max open files", "3 "));
	ck_assert(proc_has(pid, "limits", "Max file size", "0 "));
	ck_assert(proc_has(pid, "limits", "Max processes", "0 "));
	ck_assert(proc_has(pid, "status", "NoNewPrivs:", "1"));
	ck_assert(proc_has(pid, "status", "Seccomp:", "2"));
	close(q[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == OK, "0x%x", st);
	close(fd);
}
END_TEST

/* The session's hardening: NO_NEW_PRIVS, no filter. */
START_TEST(test_harden_session)
{
	const char *err;
	pid_t pid = fork();
	int st;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (priv_harden_session(&err) != 0)
			_exit(FAIL_INSTALL);
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 &&
		    prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0 ? OK : FAIL_CALL);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == OK, "0x%x", st);
}
END_TEST

/* The master's way: the program built once in the parent. */
static void
prepare(void)
{
	const char *err = NULL;

	ck_assert_msg(sandbox_prepare(&err) == 0, "%s", err);
#ifndef POP23D_VALGRIND
	ck_assert_uint_gt(sandbox_prepared(), 10);
#endif
}

/* A second call keeps the same program. */
START_TEST(test_prepare_once)
{
	const char *err = NULL;
	unsigned n = sandbox_prepared();

	ck_assert_int_eq(sandbox_prepare(&err), 0);
	ck_assert_uint_eq(sandbox_prepared(), n);
}
END_TEST

Suite *
suite_sandbox(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("seccomp");

	tcase_add_test(tc, test_allowed);
	tcase_add_loop_test(tc, test_forbidden_kills, 0,
	    (int)(sizeof forbidden / sizeof forbidden[0]));
	tcase_add_test(tc, test_control_without_filter);
	tcase_add_test(tc, test_proc_status);
	tcase_add_test(tc, test_harden_preauth);
	tcase_add_test(tc, test_harden_session);
	suite_add_tcase(s, tc);
	/* the same with the prepared program (each test is its own forked
	 * process: the fixture prepares it there) */
	tc = tcase_create("prepared");
	tcase_add_checked_fixture(tc, prepare, NULL);
	tcase_add_test(tc, test_prepare_once);
	tcase_add_test(tc, test_allowed);
	tcase_add_loop_test(tc, test_forbidden_kills, 0,
	    (int)(sizeof forbidden / sizeof forbidden[0]));
	tcase_add_test(tc, test_proc_status);
	tcase_add_test(tc, test_harden_preauth);
	suite_add_tcase(s, tc);
	return s;
}
