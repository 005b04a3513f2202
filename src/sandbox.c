/*
 * sandbox.c - the seccomp filter of the pre-auth child (libseccomp).
 *
 * The pre-auth child is the only process that parses client bytes before
 * a login, so it is the one an attacker reaches first.  After the
 * privilege drop and the chroot it needs very little: read the client and
 * write to it, poll with a timeout, talk to the monitor over its socket
 * pair, log (stderr relay and syslog), allocate memory, run TLS (tls.c:
 * the same reads and writes, plus getrandom() for OpenSSL's DRBG) and
 * exit.  The
 * filter allows exactly that (SANDBOX_ALLOW below, with the reason for
 * each call); any other system call kills the whole process with SIGSYS
 * (SCMP_ACT_KILL_PROCESS), so a compromised child cannot open a file,
 * create a socket, fork, exec, ptrace or signal another process.  Two
 * calls are refused with EACCES instead of a kill: socket() and connect(),
 * which glibc's syslog() makes when it (re)connects to /dev/log (no
 * /dev/log in the chroot, or syslogd restarted); refusing them costs that
 * one log line, killing would cost the connection.
 *
 * Sanitizer builds (ASan + UBSan, --enable-sanitizers) get a wider list,
 * SANDBOX_ALLOW_SANITIZER, only so that a report can still be printed
 * from the pre-auth child.  Found by running reports (heap overflow, use
 * after free, stack index, integer overflow) under the filter with
 * strace: the runtime looks at the terminal (ioctl TCGETS), probes memory
 * through a pipe (pipe2) before dumping it, names its mappings (prctl),
 * sets up an alternate signal stack, and reads /proc/self/{exe,cmdline,
 * environ,maps} (open, readlink; in the chroot, and with RLIMIT_NOFILE
 * at 3, these fail harmlessly).  Production builds never allow them.  The
 * pre-auth child only ever leaves through _exit(), so LeakSanitizer's
 * exit-time check, which needs clone() and ptrace(), never runs there and
 * is not allowed even in sanitizer builds.
 *
 * The filter is built once: sandbox_prepare() in the master (before the
 * first fork) has libseccomp generate the BPF program and keeps it; each
 * pre-auth child only installs it with one seccomp(2) call.  Building it
 * in every child cost each connection libseccomp's generation, about ten
 * probing seccomp(2) calls and the lazy binding of libseccomp's own
 * calls into libc (doc/PERFORMANCE.md, "Where a session's CPU goes").
 * Without sandbox_prepare() (the unit tests, inetd mode) the child
 * builds and loads it itself, as before.
 *
 * PRIVILEGE: sandbox_prepare() runs in the master as root (it reads no
 * client byte and no file: it turns the static list below into BPF);
 * sandbox_preauth() in the pre-auth child as login_user, after
 * priv_drop() (PR_SET_NO_NEW_PRIVS makes the filter legal without
 * CAP_SYS_ADMIN).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

/* Calls the pre-auth child makes, and why. */
static const int sandbox_allow[] = {
	SCMP_SYS(read),		/* the client (net.c) */
	SCMP_SYS(write),	/* stderr log lines (log.c) */
	SCMP_SYS(sendto),	/* replies (net.c send()), syslog's send() */
	SCMP_SYS(recvfrom),	/* recv() on the client */
	SCMP_SYS(sendmsg),	/* IPC to the monitor (ipc.c) */
	SCMP_SYS(recvmsg),	/* IPC from the monitor */
	SCMP_SYS(poll),		/* timeouts (net.c) */
	SCMP_SYS(ppoll),
	SCMP_SYS(close),
	SCMP_SYS(getpid),	/* log lines ([pid], LOG_PID) */
	SCMP_SYS(getppid),
	SCMP_SYS(clock_gettime),	/* time(), when not in the vDSO */
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(brk),		/* malloc */
	SCMP_SYS(munmap),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),	/* free() giving memory back */
	SCMP_SYS(futex),	/* libc locks (syslog) */
	SCMP_SYS(getrandom),	/* OpenSSL reseeds its DRBG after fork():
				 * TLS randoms, key shares, ticket IVs */
	SCMP_SYS(rt_sigreturn),	/* PDEATHSIG and other handlers */
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

#ifdef POP23D_SANITIZERS
/* What the ASan/UBSan runtime needs to print a report (file comment). */
static const int sandbox_allow_sanitizer[] = {
	SCMP_SYS(ioctl),	/* isatty() on stderr */
	SCMP_SYS(pipe2),	/* IsAccessibleMemoryRange() */
	SCMP_SYS(prctl),
	SCMP_SYS(sigaltstack),
	SCMP_SYS(open),		/* /proc/self/... */
	SCMP_SYS(readlink),	/* /proc/self/exe */
};
#endif

/* Add one rule; -1 with the reason in *error_r. */
static int
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int sys, unsigned nargs,
    const struct scmp_arg_cmp *args, const char **error_r)
{
	int r = seccomp_rule_add_array(ctx, action, sys, nargs, args);

	if (r != 0) {
		*error_r = "seccomp: cannot add a rule";
		errno = -r;
		return -1;
	}
	return 0;
}

/* The rules with arguments: memory never executable, only TCP_NODELAY
 * on sockets, socket()/connect() refused without a kill. */
static int
sandbox_arg_rules(scmp_filter_ctx ctx, const char **error_r)
{
	const struct scmp_arg_cmp noexec =
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	const struct scmp_arg_cmp nodelay[2] = {
		SCMP_A1(SCMP_CMP_EQ, IPPROTO_TCP),
		SCMP_A2(SCMP_CMP_EQ, TCP_NODELAY),
	};

	if (sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, &noexec,
	    error_r) != 0 ||
	    sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, &noexec,
	    error_r) != 0 ||
	    /* net_init() sets TCP_NODELAY on the client socket */
	    sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(setsockopt), 2,
	    nodelay, error_r) != 0 ||
	    sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0,
	    NULL, error_r) != 0 ||
	    sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(connect), 0,
	    NULL, error_r) != 0)
		return -1;
	return 0;
}

/* The filter as libseccomp builds it: a context the caller releases,
 * or NULL with the reason in *error_r. */
static scmp_filter_ctx
sandbox_build(const char **error_r)
{
	scmp_filter_ctx ctx;
	size_t i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		*error_r = "seccomp_init failed";
		return NULL;
	}
	/* A call made through another ABI (i386 int 0x80, x32) would
	 * bypass a filter written for the native one: kill it too. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) != 0) {
		*error_r = "seccomp: cannot set the bad-architecture action";
		goto fail;
	}
	for (i = 0; i < sizeof sandbox_allow / sizeof sandbox_allow[0]; i++)
		if (sandbox_rule(ctx, SCMP_ACT_ALLOW, sandbox_allow[i], 0,
		    NULL, error_r) != 0)
			goto fail;
#ifdef POP23D_SANITIZERS
	for (i = 0; i < sizeof sandbox_allow_sanitizer /
	    sizeof sandbox_allow_sanitizer[0]; i++)
		if (sandbox_rule(ctx, SCMP_ACT_ALLOW,
		    sandbox_allow_sanitizer[i], 0, NULL, error_r) != 0)
			goto fail;
#endif
	if (sandbox_arg_rules(ctx, error_r) != 0)
		goto fail;
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

/* The BPF program of sandbox_build(), made once by sandbox_prepare(). */
static struct sock_filter *sandbox_prog;
static unsigned short sandbox_prog_len;

int
sandbox_prepare(const char **error_r)
{
	scmp_filter_ctx ctx;
	struct sock_filter *prog = NULL;
	off_t size;
	int fd = -1, r;

	if (sandbox_prog != NULL)
		return 0;
#ifdef POP23D_VALGRIND
	/* no filter in this build (sandbox_preauth()) */
	return 0;
#endif
	if ((ctx = sandbox_build(error_r)) == NULL)
		return -1;
	/* libseccomp 2.5 exports only to a descriptor */
	if ((fd = memfd_create("pop23d-seccomp", MFD_CLOEXEC)) == -1) {
		*error_r = "seccomp: memfd_create failed";
		goto fail;
	}
	if ((r = seccomp_export_bpf(ctx, fd)) != 0) {
		*error_r = "seccomp_export_bpf failed";
		errno = -r;
		goto fail;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof *prog != 0 ||
	    size / (off_t)sizeof *prog > BPF_MAXINSNS) {
		*error_r = "seccomp: the exported filter has a bad size";
		goto fail;
	}
	if ((prog = malloc((size_t)size)) == NULL ||
	    pread(fd, prog, (size_t)size, 0) != (ssize_t)size) {
		*error_r = "seccomp: cannot read the exported filter";
		goto fail;
	}
	close(fd);
	seccomp_release(ctx);
	sandbox_prog = prog;
	sandbox_prog_len = (unsigned short)(size / (off_t)sizeof *prog);
	return 0;
fail:
	free(prog);
	if (fd != -1)
		close(fd);
	seccomp_release(ctx);
	return -1;
}

unsigned
sandbox_prepared(void)
{
	return sandbox_prog_len;
}

int
sandbox_preauth(const char **error_r)
{
	struct sock_fprog fprog;
	scmp_filter_ctx ctx;
	int r;

	/* Required for an unprivileged filter; also keeps any setuid
	 * program from granting privileges later. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		*error_r = "prctl(PR_SET_NO_NEW_PRIVS) failed";
		return -1;
	}
#ifdef POP23D_VALGRIND
	/* The valgrind test build (configure --enable-valgrind): valgrind
	 * implements no seccomp(2) (its own system calls would meet the
	 * filter), so this build runs without one. */
	return 0;
#endif
	if (sandbox_prog != NULL) {
		/* The program the master exported: the same octets that
		 * seccomp_load() would install (flags 0: libseccomp's
		 * defaults, no TSYNC, no LOG, no SPEC_ALLOW), without
		 * building it again in every child. */
		fprog.len = sandbox_prog_len;
		fprog.filter = sandbox_prog;
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
		    &fprog) != 0) {
			*error_r = "seccomp(SECCOMP_SET_MODE_FILTER) failed "
			    "(a kernel without seccomp filters?)";
			return -1;
		}
		return 0;
	}
	if ((ctx = sandbox_build(error_r)) == NULL)
		return -1;
	if ((r = seccomp_load(ctx)) != 0) {
		*error_r = "seccomp_load failed (a kernel without seccomp "
		    "filters?)";
		errno = -r;
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	return 0;
}
