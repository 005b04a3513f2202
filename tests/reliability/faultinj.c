/*
 * faultinj.c - an LD_PRELOAD shim for the crash and I/O-error tests
 * (doc/RELIABILITY.md, "Crash safety"; doc/SECURITY.md R1, R6, R7).  It
 * counts the calls that change a file below one directory (the test's
 * maildrops) and, at the k-th such call of a process, makes it fail with a
 * chosen errno, or kills the process with SIGKILL before the call runs.
 *
 * PRIVILEGE: loaded into every pop23d process of a test server (master,
 * monitor, pre-auth child, session); it acts only in a process that
 * touches a file below the configured prefix, which in pop23d is the
 * mail-user session.  Never installed, never built into the daemon.
 *
 * GPL-3.0-or-later.
 *
 * The calls counted ("steps"): write, pwrite, writev, pwritev, fsync,
 * fdatasync, ftruncate, fallocate on a descriptor of a file below the
 * prefix; close of such a descriptor when it was open for writing;
 * open/openat with O_CREAT; rename, renameat, renameat2, link, linkat,
 * unlink, unlinkat, mkdir(at), rmdir of a name below the prefix.  A path
 * is resolved through /proc/self/fd (the daemon works with directory
 * descriptors and relative names).  Calls made by glibc internally (stdio
 * flushing, mkstemp's open) are not seen; GDBM and the storage plugin
 * call these functions directly.
 *
 * Control: the environment variable P23FI_CONTROL names a file that each
 * process reads when it is forked (and the first process at its first
 * intercepted call), so one daemon serves many test runs, and a child
 * reads it before it is chrooted or sandboxed; the name is taken from the
 * environment when the shim is loaded, before the daemon cleans its
 * environment.  One line of words:
 *
 *   mode=off|count|fail1|failall|kill  k=N  errno=EIO|ENOSPC|EDQUOT|...
 *   prefix=/dir  trace=/file  ops=write,fsync,close,open,rename,link,
 *   unlink,dir,trunc  renameat2=no  delay=MS
 *
 *   count    only count (and trace)
 *   fail1    the k-th step fails with errno (a transient error)
 *   failall  the k-th step and every later one fail (a full disk)
 *   kill     SIGKILL at the k-th step, before it runs (a crash)
 *
 * delay=MS sleeps MS milliseconds (at most 10 000) before every step in any
 * mode but off: a slow disk, so that a test can watch what the daemon does
 * while a long UPDATE runs (the dotlock refresh).
 *
 * renameat2=no makes renameat2() with flags fail with EINVAL (not counted
 * as a step), as on a file system without RENAME_NOREPLACE (NFS), so the
 * code's link() + unlink() fallback runs.
 *
 * With trace= every step is appended to that file as one line
 * "pid step op result path"; the file must be writable by the session's
 * user.  A failed write, rename or unlink does nothing; a failed close
 * closes the descriptor anyway (as Linux does) and reports the error.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { M_OFF, M_COUNT, M_FAIL1, M_FAILALL, M_KILL };

enum op {
	OP_WRITE = 1 << 0,
	OP_FSYNC = 1 << 1,
	OP_CLOSE = 1 << 2,
	OP_OPEN = 1 << 3,
	OP_RENAME = 1 << 4,
	OP_LINK = 1 << 5,
	OP_UNLINK = 1 << 6,
	OP_DIR = 1 << 7,
	OP_TRUNC = 1 << 8,
	OP_ALL = (1 << 9) - 1
};

static const struct {
	const char *name;
	int op;
} op_names[] = {
	{ "write", OP_WRITE }, { "fsync", OP_FSYNC }, { "close", OP_CLOSE },
	{ "open", OP_OPEN }, { "rename", OP_RENAME }, { "link", OP_LINK },
	{ "unlink", OP_UNLINK }, { "dir", OP_DIR }, { "trunc", OP_TRUNC },
};

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
	{ "EROFS", EROFS }, { "ENOMEM", ENOMEM }, { "EINTR", EINTR },
	{ "EPERM", EPERM }, { "EACCES", EACCES },
};

/* Per process: reset when getpid() changes (a fork). */
static struct {
	pid_t pid;
	enum mode mode;
	long k;
	int err;
	int ops;
	long step;
	int failing;		/* failall reached */
	char prefix[PATH_MAX];
	size_t prefix_len;
	char trace[PATH_MAX];
	int no_renameat2;	/* renameat2() says EINVAL, as on NFS */
	long delay_ms;		/* sleep before every step */
} st;

static char control_path[PATH_MAX];
static __thread int busy;	/* inside the shim: no recursion */

/* Read the whole control file into BUF with raw system calls (so that
 * nothing here passes through the wrappers below). */
static ssize_t
read_control(char *buf, size_t size)
{
	ssize_t n, got = 0;
	long fd;

	fd = syscall(SYS_openat, AT_FDCWD, control_path,
	    O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t)got + 1 < size) {
		n = syscall(SYS_read, (int)fd, buf + got, size - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	syscall(SYS_close, (int)fd);
	buf[got] = '\0';
	return got;
}

static void
parse_word(const char *w, size_t len)
{
	const char *v = memchr(w, '=', len);
	size_t klen, vlen, i;
	char val[PATH_MAX];

	if (v == NULL)
		return;
	klen = (size_t)(v - w);
	v++;
	vlen = len - klen - 1;
	if (vlen >= sizeof(val))
		return;
	memcpy(val, v, vlen);
	val[vlen] = '\0';
	if (klen == 4 && memcmp(w, "mode", 4) == 0) {
		st.mode = strcmp(val, "count") == 0 ? M_COUNT :
		    strcmp(val, "fail1") == 0 ? M_FAIL1 :
		    strcmp(val, "failall") == 0 ? M_FAILALL :
		    strcmp(val, "kill") == 0 ? M_KILL : M_OFF;
	} else if (klen == 1 && w[0] == 'k') {
		st.k = strtol(val, NULL, 10);
	} else if (klen == 5 && memcmp(w, "errno", 5) == 0) {
		for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]);
		    i++)
			if (strcmp(val, errno_names[i].name) == 0)
				st.err = errno_names[i].value;
	} else if (klen == 6 && memcmp(w, "prefix", 6) == 0) {
		memcpy(st.prefix, val, vlen + 1);
		st.prefix_len = vlen;
	} else if (klen == 5 && memcmp(w, "trace", 5) == 0) {
		memcpy(st.trace, val, vlen + 1);
	} else if (klen == 5 && memcmp(w, "delay", 5) == 0) {
		st.delay_ms = strtol(val, NULL, 10);
		if (st.delay_ms < 0 || st.delay_ms > 10000)
			st.delay_ms = 0;
	} else if (klen == 9 && memcmp(w, "renameat2", 9) == 0) {
		st.no_renameat2 = strcmp(val, "no") == 0;
	} else if (klen == 3 && memcmp(w, "ops", 3) == 0) {
		char *save = NULL, *t;

		st.ops = 0;
		for (t = strtok_r(val, ",", &save); t != NULL;
		    t = strtok_r(NULL, ",", &save))
			for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]);
			    i++)
				if (strcmp(t, op_names[i].name) == 0)
					st.ops |= op_names[i].op;
	}
}

/* Load this process's settings once (again after a fork). */
static void
load(void)
{
	char buf[4096];
	size_t i, start;
	pid_t me = (pid_t)syscall(SYS_getpid);

	if (st.pid == me)
		return;
	memset(&st, 0, sizeof(st));
	st.pid = me;
	st.ops = OP_ALL;
	st.err = EIO;
	if (control_path[0] == '\0' || read_control(buf, sizeof(buf)) <= 0)
		return;
	for (i = 0; buf[i] != '\0';) {
		while (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n')
			i++;
		start = i;
		while (buf[i] != '\0' && buf[i] != ' ' && buf[i] != '\t' &&
		    buf[i] != '\n')
			i++;
		if (i > start)
			parse_word(buf + start, i - start);
	}
	if (st.prefix_len == 0)
		st.mode = M_OFF;	/* never act on every file */
}

/* In a new child, at once: later it may be chrooted, or under a seccomp
 * filter that kills it for an open(). */
static void
faultinj_atfork_child(void)
{
	load();
}

__attribute__((constructor)) static void
faultinj_init(void)
{
	const char *p = getenv("P23FI_CONTROL");

	if (p != NULL && strlen(p) < sizeof(control_path))
		memcpy(control_path, p, strlen(p) + 1);
	(void)pthread_atfork(NULL, NULL, faultinj_atfork_child);
}

/* Is PATH below the prefix (or the prefix itself)? */
static int
below(const char *path)
{
	return st.prefix_len > 0 &&
	    strncmp(path, st.prefix, st.prefix_len) == 0 &&
	    (path[st.prefix_len] == '/' || path[st.prefix_len] == '\0');
}

/* The path of descriptor FD into BUF, or "" */
static void
fd_path(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
}

/* DIRFD + NAME as an absolute path into BUF (best effort). */
static void
at_path(int dirfd, const char *name, char *buf, size_t size)
{
	char dir[PATH_MAX];

	if (name == NULL) {
		buf[0] = '\0';
		return;
	}
	if (name[0] == '/') {
		snprintf(buf, size, "%s", name);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			dir[0] = '\0';
	} else
		fd_path(dirfd, dir, sizeof(dir));
	snprintf(buf, size, "%s/%s", dir, name);
}

static void
trace(const char *op, const char *result, const char *path)
{
	char line[PATH_MAX + 128];
	long fd;
	int n;

	if (st.trace[0] == '\0')
		return;
	n = snprintf(line, sizeof(line), "%ld %ld %s %s %s\n",
	    (long)st.pid, st.step, op, result, path);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	fd = syscall(SYS_openat, AT_FDCWD, st.trace,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	(void)syscall(SYS_write, (int)fd, line, (size_t)n);
	syscall(SYS_close, (int)fd);
}

/*
 * Decide about one call of class OP on PATH.  Returns 0 to let it run, or
 * an errno to fail it with.  Kills the process in kill mode.
 */
static int
step(int op, const char *opname, const char *path)
{
	int saved = errno, fail = 0;

	load();
	if (st.mode == M_OFF || !(st.ops & op) || !below(path)) {
		errno = saved;
		return 0;
	}
	st.step++;
	if (st.delay_ms > 0) {
		struct timespec ts = { st.delay_ms / 1000,
		    (st.delay_ms % 1000) * 1000000L };

		while (syscall(SYS_nanosleep, &ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (st.mode == M_KILL && st.step == st.k) {
		trace(opname, "KILL", path);
		syscall(SYS_kill, st.pid, SIGKILL);
	}
	if (st.mode == M_FAIL1 && st.step == st.k)
		fail = st.err;
	if (st.mode == M_FAILALL && st.step >= st.k)
		fail = st.err;
	trace(opname, fail ? "FAIL" : "ok", path);
	errno = saved;
	return fail;
}

static int
fd_step(int op, const char *opname, int fd)
{
	char path[PATH_MAX];

	load();
	if (st.mode == M_OFF || !(st.ops & op))
		return 0;
	fd_path(fd, path, sizeof(path));
	return step(op, opname, path);
}

static int
at_step(int op, const char *opname, int dirfd, const char *name)
{
	char path[PATH_MAX];

	load();
	if (st.mode == M_OFF || !(st.ops & op))
		return 0;
	at_path(dirfd, name, path, sizeof(path));
	return step(op, opname, path);
}

/* The next definition of NAME (libc's, or a sanitizer's interceptor). */
#define REAL(name)							\
	static __typeof__(&name) real_##name;				\
	if (real_##name == NULL)					\
		real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

/* Wrap one call: run the check unless we are inside the shim already. */
#define CHECK(expr, failret)						\
	do {								\
		int e_;							\
		if (!busy) {						\
			busy = 1;					\
			e_ = (expr);					\
			busy = 0;					\
			if (e_ != 0) {					\
				errno = e_;				\
				return failret;				\
			}						\
		}							\
	} while (0)

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(write);
	CHECK(fd_step(OP_WRITE, "write", fd), -1);
	return real_write(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite);
	CHECK(fd_step(OP_WRITE, "pwrite", fd), -1);
	return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	REAL(pwrite64);
	CHECK(fd_step(OP_WRITE, "pwrite", fd), -1);
	return real_pwrite64(fd, buf, n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	REAL(writev);
	CHECK(fd_step(OP_WRITE, "writev", fd), -1);
	return real_writev(fd, iov, cnt);
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	REAL(pwritev);
	CHECK(fd_step(OP_WRITE, "pwritev", fd), -1);
	return real_pwritev(fd, iov, cnt, off);
}

int
fsync(int fd)
{
	REAL(fsync);
	CHECK(fd_step(OP_FSYNC, "fsync", fd), -1);
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync);
	CHECK(fd_step(OP_FSYNC, "fdatasync", fd), -1);
	return real_fdatasync(fd);
}

int
ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	CHECK(fd_step(OP_TRUNC, "ftruncate", fd), -1);
	return real_ftruncate(fd, len);
}

int
ftruncate64(int fd, off_t len)
{
	REAL(ftruncate64);
	CHECK(fd_step(OP_TRUNC, "ftruncate", fd), -1);
	return real_ftruncate64(fd, len);
}

int
fallocate(int fd, int mode, off_t off, off_t len)
{
	REAL(fallocate);
	CHECK(fd_step(OP_TRUNC, "fallocate", fd), -1);
	return real_fallocate(fd, mode, off, len);
}

int
posix_fallocate(int fd, off_t off, off_t len)
{
	int e;

	REAL(posix_fallocate);
	if (!busy) {
		busy = 1;
		e = fd_step(OP_TRUNC, "posix_fallocate", fd);
		busy = 0;
		if (e != 0)
			return e;	/* the error itself; errno as it was */
	}
	return real_posix_fallocate(fd, off, len);
}

int
close(int fd)
{
	int e = 0, fl, r;

	REAL(close);
	if (!busy) {
		busy = 1;
		fl = fcntl(fd, F_GETFL);
		if (fl != -1 && (fl & O_ACCMODE) != O_RDONLY)
			e = fd_step(OP_CLOSE, "close", fd);
		busy = 0;
	}
	r = real_close(fd);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return r;
}

static int
open_mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ?
	    va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	REAL(open);
	va_start(ap, flags);
	mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (flags & O_CREAT)
		CHECK(at_step(OP_OPEN, "open", AT_FDCWD, path), -1);
	return real_open(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	REAL(open64);
	va_start(ap, flags);
	mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (flags & O_CREAT)
		CHECK(at_step(OP_OPEN, "open", AT_FDCWD, path), -1);
	return real_open64(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	REAL(openat);
	va_start(ap, flags);
	mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (flags & O_CREAT)
		CHECK(at_step(OP_OPEN, "open", dirfd, path), -1);
	return real_openat(dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	REAL(openat64);
	va_start(ap, flags);
	mode = open_mode_arg(flags, ap);
	va_end(ap);
	if (flags & O_CREAT)
		CHECK(at_step(OP_OPEN, "open", dirfd, path), -1);
	return real_openat64(dirfd, path, flags, mode);
}

int
rename(const char *from, const char *to)
{
	REAL(rename);
	CHECK(at_step(OP_RENAME, "rename", AT_FDCWD, from), -1);
	return real_rename(from, to);
}

int
renameat(int fd1, const char *from, int fd2, const char *to)
{
	REAL(renameat);
	CHECK(at_step(OP_RENAME, "rename", fd1, from), -1);
	return real_renameat(fd1, from, fd2, to);
}

int
renameat2(int fd1, const char *from, int fd2, const char *to,
    unsigned int flags)
{
	REAL(renameat2);
	if (!busy) {
		load();
		if (st.no_renameat2 && flags != 0) {
			/* A file system without RENAME_NOREPLACE: callers fall
			 * back to link() + unlink(). */
			errno = EINVAL;
			return -1;
		}
	}
	CHECK(at_step(OP_RENAME, "rename", fd1, from), -1);
	return real_renameat2(fd1, from, fd2, to, flags);
}

int
link(const char *from, const char *to)
{
	REAL(link);
	CHECK(at_step(OP_LINK, "link", AT_FDCWD, from), -1);
	return real_link(from, to);
}

int
linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	REAL(linkat);
	CHECK(at_step(OP_LINK, "link", fd1, from), -1);
	return real_linkat(fd1, from, fd2, to, flags);
}

int
unlink(const char *path)
{
	REAL(unlink);
	CHECK(at_step(OP_UNLINK, "unlink", AT_FDCWD, path), -1);
	return real_unlink(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	REAL(unlinkat);
	CHECK(at_step(OP_UNLINK, "unlink", dirfd, path), -1);
	return real_unlinkat(dirfd, path, flags);
}

int
mkdir(const char *path, mode_t mode)
{
	REAL(mkdir);
	CHECK(at_step(OP_DIR, "mkdir", AT_FDCWD, path), -1);
	return real_mkdir(path, mode);
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
	REAL(mkdirat);
	CHECK(at_step(OP_DIR, "mkdir", dirfd, path), -1);
	return real_mkdirat(dirfd, path, mode);
}

int
rmdir(const char *path)
{
	REAL(rmdir);
	CHECK(at_step(OP_DIR, "rmdir", AT_FDCWD, path), -1);
	return real_rmdir(path);
}
