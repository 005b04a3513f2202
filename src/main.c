/*
 * main.c - the master: options, configuration, plugins, listeners, and the
 * accept loop that forks one process per connection (session.c).
 *
 * PRIVILEGE: the master keeps the privileges it was started with (root in
 * production) because it binds ports below 1024 and forks monitors that
 * must read the password database.  It never reads a byte from a client:
 * accept() and fork() only.  Started by a non-root user it runs
 * "rootless": everything as that user.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "activation.h"
#include "addr.h"
#include "authc.h"
#include "authpool.h"
#include "authsvc.h"
#include "compat.h"
#include "forkmem.h"
#include "conf.h"
#include "log.h"
#include "peerchan.h"
#include "plugin.h"
#include "priv.h"
#include "sandbox.h"
#include "session.h"
#include "tls.h"
#include "trust.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* listen(2) backlog: connections the kernel queues before accept(). */
#define LISTEN_BACKLOG		1024
/* Sockets per "listen" line: a name may resolve to several addresses
 * ("*" gives one IPv4 and one IPv6 socket). */
#define SOCKETS_PER_LISTEN	4
#define MAX_SOCKETS		(SOCKETS_PER_LISTEN * MAX_LISTENERS)
/* "proto address port" of one socket; an IPv6 address and a port fit. */
#define SOCKET_NAME_MAX		(INET6_ADDRSTRLEN + 32)
/* Numeric host and service of a peer, and "host:port" for logs. */
#define PEER_HOST_MAX		INET6_ADDRSTRLEN
#define PEER_SERV_MAX		16
#define PEER_NAME_MAX		(PEER_HOST_MAX + PEER_SERV_MAX + 2)
/* Shutdown: poll for exited sessions this often; SIGKILL what is left
 * this long after the SIGTERM. */
#define SHUTDOWN_POLL_MS	100
#define SHUTDOWN_KILL_POLL_MS	50
#define SHUTDOWN_KILL_GRACE	5
/* Error texts of this module: FILE:LINE plus a reason or a plugin's. */
#define MASTER_ERROR_MAX	(3 * PATH_MAX)

struct listener {
	int fd;
	enum proto proto;
	int proxy;			/* a PROXY header comes first */
	int tls;			/* enum tls_mode */
	char name[SOCKET_NAME_MAX];	/* "pop3 127.0.0.1 110" for logs */
};

struct child {
	pid_t pid;
	struct addr addr;	/* the client, for max_per_ip */
};

struct options {
	const char *conf_path;
	const char *inetd_proto;	/* -i: NULL, "pop3" or "pop2" */
	int foreground;
	int check_only;
	int debug;
};

static struct config cfg;
static struct loaded_plugin auth_plugin, store_plugin;
static struct listener listeners[MAX_SOCKETS];
static size_t n_listeners;
/* The table itself is forkmem (the children get no copy); its size and
 * the signal flags are written after the forks: SESSION_PAGE. */
static struct child *children SESSION_PAGE;
static size_t n_children SESSION_PAGE, children_cap SESSION_PAGE;
static volatile sig_atomic_t got_term SESSION_PAGE, got_hup SESSION_PAGE,
    got_chld SESSION_PAGE;
static int sig_pipe[2] = { -1, -1 };
/* The monitors of "proxy" listeners tell us their real client here
 * (peerchan.h): [0] ours, [1] theirs. */
static int peer_chan[2] = { -1, -1 };
/* Sockets systemd passed (socket activation), from ACTIVATION_FD_START
 * on; 0: we bind the listen lines ourselves. */
static int n_activated;
/* -f: the children's end of the log relay (their stderr), else -1. */
static int log_child_fd = -1;
/* The error text of the last failed call in this file; valid until the
 * next one. */
static char master_errbuf[MASTER_ERROR_MAX];
/* The auth service (authsvc.c): its listening socket, held here for the
 * daemon's life, its pid (0: not running) and when it last started. */
static int auth_listen_fd = -1;
static pid_t auth_pid;
static time_t auth_started;
/* A service that dies within this many seconds of its start is started
 * again only after that long: a plugin that crashes at once must not
 * make the master fork in a loop. */
#define AUTH_RESTART_MIN_S	1

static void
master_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pop23d [-c FILE] [-f] [-t] [-d] [-i pop3|pop2|pop3s|pop2s]\n"
	    "  -c FILE    configuration file (default %s/pop23d.conf)\n"
	    "  -f         stay in the foreground, log to stderr too\n"
	    "  -t         check the configuration and the plugins, then exit\n"
	    "  -d         debug logging\n"
	    "  -i PROTO   inetd mode: serve one connection on stdin/stdout\n"
	    "             (pop3s, pop2s: implicit TLS)\n"
	    "  --help     this text\n"
	    "  --version  print the version\n"
	    "POP2 (RFC 937) and POP3 (RFC 1939) server.  See pop23d(8) and\n"
	    "pop23d.conf(5).\n", SYSCONFDIR);
}

static void
on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	/* A full pipe already wakes the loop: a lost byte is harmless. */
	if (sig_pipe[1] != -1 && write(sig_pipe[1], &c, 1) == -1)
		errno = saved;
	errno = saved;
}

static void
set_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = fn == SIG_DFL ? 0 : SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = fn == SIG_DFL ? SIG_DFL : SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * fork() for a child of the master's loop (the auth service, a
 * connection's monitor), whose handlers go back to the defaults in the
 * child.  The signals on_signal() takes are blocked across the fork and
 * until then: one that arrived in between (a SIGTERM the master sends
 * right after the fork, at shutdown) would otherwise run the master's
 * handler in the child, set the child's copy of got_term, and be lost:
 * the auth service then served on until the master killed it 5 s later.
 * Blocked, it stays pending and the default action ends the child as
 * soon as the mask is restored.  Returns fork()'s result.
 */
static pid_t
fork_child(void)
{
	sigset_t block, old;
	pid_t pid;
	int saved;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old);
	pid = fork();
	saved = errno;
	if (pid == 0)
		set_signals(SIG_DFL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

/* Format an error into master_errbuf and point *ERROR_R at it; -1. */
static int __attribute__((format(printf, 2, 3)))
master_error(const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(master_errbuf, sizeof master_errbuf, fmt, ap);
	va_end(ap);
	*error_r = master_errbuf;
	return -1;
}

/* Root mode: the pre-auth user and chroot must exist and be safe. */
static int
check_login_user(struct config *c, const char **error_r)
{
	struct passwd *pw = getpwnam(c->login_user);
	const char *e;

	if (pw == NULL || pw->pw_uid == 0)
		return master_error(error_r, "%s: login_user \"%s\" %s "
		    "(create it: useradd -r -s /usr/sbin/nologin %s)", c->path,
		    c->login_user, pw == NULL ? "does not exist" : "is root",
		    c->login_user);
	c->login_uid = pw->pw_uid;
	c->login_gid = pw->pw_gid;
	/* The pre-auth child's whole file system: root's, and nobody else
	 * may write to it or to a directory above it. */
	if (c->login_chroot[0] != '\0' &&
	    trust_check(c->login_chroot, TRUST_DIR, &e) != 0)
		return master_error(error_r, "%s: login_chroot: %s", c->path,
		    e);
	return 0;
}

/* Root mode: the auth service's user, unless the plugin needs root. */
static int
check_auth_user(struct config *c, const struct loaded_plugin *auth,
    const char **error_r)
{
	struct passwd *pw;
	struct group *gr;

	if (auth->desc->api_built >= 4 &&
	    (auth->desc->flags & POP23D_PLUGIN_F_NEEDS_ROOT)) {
		c->auth_uid = 0;
		c->auth_gid = 0;
		return 0;
	}
	pw = getpwnam(c->auth_user);
	if (pw == NULL || pw->pw_uid == 0)
		return master_error(error_r, "%s: auth_user \"%s\" %s "
		    "(create it: useradd -r -s /usr/sbin/nologin %s)", c->path,
		    c->auth_user, pw == NULL ? "does not exist" : "is root",
		    c->auth_user);
	/* Not the pre-auth processes' user: they could signal or trace
	 * the process that holds the password database. */
	if (pw->pw_uid == c->login_uid)
		return master_error(error_r, "%s: auth_user \"%s\" must not "
		    "be login_user's uid", c->path, c->auth_user);
	c->auth_uid = pw->pw_uid;
	c->auth_gid = pw->pw_gid;
	if (c->auth_group[0] != '\0') {
		if ((gr = getgrnam(c->auth_group)) == NULL ||
		    gr->gr_gid == 0)
			return master_error(error_r, "%s: auth_group \"%s\" %s",
			    c->path, c->auth_group, gr == NULL ?
			    "does not exist" : "is root's group");
		c->auth_gid = gr->gr_gid;
	}
	if (c->auth_gid == 0)
		return master_error(error_r, "%s: auth_user \"%s\" has gid 0: "
		    "set auth_group", c->path, c->auth_user);
	return 0;
}

static int
bind_one(const struct listener_conf *lc, const char **error_r)
{
	struct addrinfo hints, *res, *ai;
	int e, bound = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(strcmp(lc->host, "*") == 0 ? NULL : lc->host,
	    lc->port, &hints, &res);
	if (e != 0)
		return master_error(error_r, "%s:%d: listen %s: %s", cfg.path,
		    lc->line, lc->host, gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct listener *l;
		int fd, one = 1;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char host[PEER_HOST_MAX], serv[PEER_SERV_MAX];

		if (n_listeners >= sizeof listeners / sizeof listeners[0])
			break;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
		    listen(fd, LISTEN_BACKLOG) != 0) {
			master_error(error_r, "%s:%d: listen %s:%s: %s",
			    cfg.path, lc->line, lc->host, lc->port,
			    strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		l = &listeners[n_listeners++];
		l->fd = fd;
		l->proto = lc->proto;
		l->proxy = lc->proxy;
		l->tls = config_listener_tls(&cfg, lc);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host,
		    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			strlcpy(host, "?", sizeof host);
			strlcpy(serv, "?", sizeof serv);
		}
		snprintf(l->name, sizeof l->name, "%s%s %s %s",
		    config_proto_name(l->proto),
		    l->tls == TLS_MODE_IMPLICIT ? "s" : "", host, serv);
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0)
		return master_error(error_r, "%s:%d: listen %s:%s: no usable "
		    "address", cfg.path, lc->line, lc->host, lc->port);
	return 0;
}

/*
 * Socket activation: serve the sockets systemd passed instead of binding.
 * Each takes the protocol and options of the listen line with its port,
 * else the protocol of its well-known port (109 POP2, 110 and 995 POP3).
 */
static int
adopt_activated(const char **error_r)
{
	int i;

	for (i = 0; i < n_activated; i++) {
		int fd = ACTIVATION_FD_START + i, fl;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char host[PEER_HOST_MAX] = "?", serv[PEER_SERV_MAX] = "?";
		const struct listener_conf *lc = NULL;
		struct listener *l;
		size_t j;

		if (!activation_is_tcp_listener(fd))
			return master_error(error_r, "socket activation: "
			    "descriptor %d is not a listening TCP socket", fd);
		if (n_listeners >= sizeof listeners / sizeof listeners[0])
			return master_error(error_r, "socket activation: more "
			    "than %d sockets", MAX_SOCKETS);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host,
		    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			return master_error(error_r, "socket activation: "
			    "descriptor %d: no address", fd);
		for (j = 0; j < cfg.n_listeners && lc == NULL; j++)
			if (strcmp(cfg.listeners[j].port, serv) == 0)
				lc = &cfg.listeners[j];
		l = &listeners[n_listeners];
		memset(l, 0, sizeof *l);
		l->fd = fd;
		if (lc != NULL) {
			l->proto = lc->proto;
			l->proxy = lc->proxy;
			l->tls = config_listener_tls(&cfg, lc);
		} else {
			/* A well-known port: its protocol, and for 995
			 * implicit TLS (RFC 8314), as a listen line would. */
			struct listener_conf wk;

			memset(&wk, 0, sizeof wk);
			wk.tls = TLS_MODE_UNSET;
			if (strcmp(serv, "109") == 0)
				wk.proto = PROTO_POP2;
			else if (strcmp(serv, "110") == 0)
				wk.proto = PROTO_POP3;
			else if (strcmp(serv, "995") == 0) {
				wk.proto = PROTO_POP3;
				wk.tls = TLS_MODE_IMPLICIT;
			} else
				return master_error(error_r, "socket "
				    "activation: port %s (descriptor %d) has "
				    "no listen line in %s and is not 109, 110 "
				    "or 995", serv, fd, cfg.path);
			l->proto = wk.proto;
			l->tls = config_listener_tls(&cfg, &wk);
		}
		if (l->tls != TLS_MODE_NONE && !tls_enabled())
			return master_error(error_r, "socket activation: port "
			    "%s needs TLS, and tls_cert/tls_key are not set",
			    serv);
		/* The accept loop never blocks in accept(). */
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			return master_error(error_r, "socket activation: "
			    "descriptor %d: %s", fd, strerror(errno));
		snprintf(l->name, sizeof l->name, "%s %s %s",
		    config_proto_name(l->proto), host, serv);
		n_listeners++;
		log_info("listening: %s (from systemd)%s", l->name,
		    l->proxy ? " with PROXY headers" : "");
	}
	return 0;
}

static void
close_listeners(void)
{
	size_t i;

	for (i = 0; i < n_listeners; i++)
		close(listeners[i].fd);
	n_listeners = 0;
}

static int
bind_all(const char **error_r)
{
	size_t i;

	for (i = 0; i < cfg.n_listeners; i++)
		if (bind_one(&cfg.listeners[i], error_r) != 0) {
			close_listeners();
			return -1;
		}
	for (i = 0; i < n_listeners; i++)
		log_info("listening: %s%s%s", listeners[i].name,
		    listeners[i].tls == TLS_MODE_OPTIONAL ||
		    listeners[i].tls == TLS_MODE_REQUIRED ? " tls=" : "",
		    listeners[i].tls == TLS_MODE_OPTIONAL ||
		    listeners[i].tls == TLS_MODE_REQUIRED ?
		    config_tls_name(listeners[i].tls) : "");
	return 0;
}

/*
 * Write TEXT to PATH for the pid and port files.  The master is root and
 * the directory may not be ours alone, so nothing found at PATH or at
 * PATH.tmp is trusted: PATH.tmp is removed and created anew with O_EXCL
 * (never through a planted symlink or hard link, never truncating someone
 * else's file), O_NOFOLLOW and O_NONBLOCK (a planted FIFO cannot block
 * the master), then renamed over PATH: rename(2) replaces whatever is at
 * PATH, it does not follow it, and a reader never sees half a file.
 * 0, or -1 with the reason in *error_r.
 */
static int
write_file(const char *path, const char *text, const char **error_r)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	ssize_t w;
	int fd, err;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return master_error(error_r, "%s: path too long", path);
	if (unlink(tmp) == -1 && errno != ENOENT)
		return master_error(error_r, "%s: %s", tmp, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0644);
	if (fd == -1)
		return master_error(error_r, "%s: %s", tmp, strerror(errno));
	w = write(fd, text, len);
	/* A short write means the disk is full. */
	err = w == -1 ? errno : EIO;
	if (close(fd) != 0 && w == (ssize_t)len) {
		err = errno;
		w = -1;
	}
	if (w != (ssize_t)len) {
		unlink(tmp);
		return master_error(error_r, "%s: %s", tmp, strerror(err));
	}
	if (rename(tmp, path) != 0) {
		master_error(error_r, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The pid or port file PATH ("": none): failures are logged. */
static void
write_state_file(const char *path, const char *text)
{
	const char *error;

	if (path[0] != '\0' && write_file(path, text, &error) != 0)
		log_warnx("%s", error);
}

static void
write_port_file(void)
{
	char text[MAX_SOCKETS * (SOCKET_NAME_MAX + 1)];
	size_t i, o = 0;

	for (i = 0; i < n_listeners && o < sizeof text; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "%s\n",
		    listeners[i].name);
	text[sizeof text - 1] = '\0';
	write_state_file(cfg.port_file, text);
}

static void
write_pid_file(void)
{
	char pid[32];

	snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	write_state_file(cfg.pid_file, pid);
}

/* Children serving a client in the same prefix as A (max_per_ip). */
static size_t
count_from(const struct addr *a)
{
	size_t i, n = 0;

	for (i = 0; i < n_children; i++)
		if (addr_same_prefix(&children[i].addr, a, cfg.per_ip_prefix4,
		    cfg.per_ip_prefix6))
			n++;
	return n;
}

static void
reap_children(void)
{
	pid_t pid;
	int status;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == auth_pid) {
			auth_pid = 0;
			log_warnx("auth service (pid %ld) %s %d; restarting it",
			    (long)pid, WIFSIGNALED(status) ?
			    "died of signal" : "exited with status",
			    WIFSIGNALED(status) ? WTERMSIG(status) :
			    WEXITSTATUS(status));
			continue;
		}
		for (i = 0; i < n_children; i++)
			if (children[i].pid == pid) {
				children[i] = children[--n_children];
				break;
			}
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM &&
		    WTERMSIG(status) != SIGKILL)
			log_warnx("session process %ld died of signal %d",
			    (long)pid, WTERMSIG(status));
	}
}

static void
track_child(pid_t pid, const struct addr *a)
{
	struct child *n;
	size_t cap;

	if (n_children == children_cap) {
		/* Not on the heap: a table the master writes after every
		 * fork would leave each idle session a copy of its pages
		 * (forkmem.c). */
		cap = children_cap == 0 ? 256 : 2 * children_cap;
		n = forkmem_grow(children, children_cap * sizeof *n,
		    cap * sizeof *n);
		if (n == NULL) {
			log_warnx("out of memory tracking sessions");
			return;
		}
		children = n;
		children_cap = cap;
	}
	children[n_children].pid = pid;
	children[n_children].addr = *a;
	n_children++;
}

/* Over max_sessions or max_per_ip: the reason (valid until the next
 * call), else NULL. */
static const char *
over_limit(const struct addr *a)
{
	static char why[64];

	if (n_children >= (size_t)cfg.max_sessions)
		return "max_sessions reached";
	if (count_from(a) >= (size_t)cfg.max_per_ip) {
		snprintf(why, sizeof why, "max_per_ip reached for its /%d",
		    a->family == AF_INET6 ? cfg.per_ip_prefix6 :
		    cfg.per_ip_prefix4);
		return why;
	}
	return NULL;
}

/*
 * In the new monitor process: keep only the client socket (on
 * PRIV_CLIENT_FD), /dev/null on 0 and 1 and the log relay (or /dev/null)
 * on 2; the listeners, the signal pipe, the relay's reading end and
 * anything else of the master's are closed.  Then run the connection
 * (does not return).
 */
static void __attribute__((noreturn))
start_monitor(int fd, const struct listener *l, const char *peer,
    int loopback)
{
	const char *error;

	/* fork_child() has put the handlers back to the defaults. */
	log_close();
	if ((fd = priv_child_fds(fd, log_child_fd, l->proxy ? peer_chan[1] :
	    -1, &error)) == -1) {
		log_init(cfg.syslog_facility, -1, cfg.debug);
		fatalx("%s", error);
	}
	log_init(cfg.syslog_facility, -1, cfg.debug);
	session_run(fd, fd, &cfg, l->proto, l->tls, loopback, &auth_plugin,
	    &store_plugin, peer, l->proxy ? PRIV_MASTER_FD : -1);
}

/*
 * The auth service's socket: SOCK_SEQPACKET in the abstract namespace
 * under a random name, bound here once.  The master holds it for the
 * daemon's life, so no other process can take the name, and monitors
 * that connect while the service restarts wait in its backlog.  The
 * service accepts only root (rootless: our uid) as its peer.
 */
static void
auth_socket_init(void)
{
	struct sockaddr_un sun;
	unsigned char r[16];
	socklen_t len;
	size_t i;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	memcpy(sun.sun_path + 1, "pop23d-auth-", 12);
	for (i = 0; i < sizeof(r); i++)
		snprintf(sun.sun_path + 13 + 2 * i, 3, "%02x", r[i]);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 13 +
	    2 * sizeof(r));
	auth_listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (auth_listen_fd == -1 ||
	    bind(auth_listen_fd, (struct sockaddr *)&sun, len) != 0 ||
	    listen(auth_listen_fd, LISTEN_BACKLOG) != 0)
		fatal("auth service socket");
	authc_set_address(&sun, len);
}

/* pop23d -t: how the auth service will check passwords (authpool.h). */
static void
print_auth_workers(void)
{
	const struct pop23d_plugin *d = auth_plugin.desc;
	int n = authpool_size(cfg.auth_workers);

	if (d != NULL && d->api_built >= 4 &&
	    (d->flags & POP23D_PLUGIN_F_BLOCKING))
		printf("pop23d: auth service: a worker per login (the plugin "
		    "may block; auth_workers does not apply)\n");
	else
		printf("pop23d: auth service: %d worker%s (auth_workers = "
		    "%s%d)\n", n, n == 1 ? " (the service itself)" : "s",
		    cfg.auth_workers == 0 ? "auto: " : "", n);
}

/* Fork the auth service (it keeps only its socket and the log). */
static void
start_authsvc(void)
{
	const char *error;
	pid_t pid, master = getpid();
	int fd;

	auth_started = time(NULL);
	if ((pid = fork_child()) == -1) {
		log_warn("fork (auth service)");
		return;
	}
	if (pid > 0) {
		auth_pid = pid;
		return;
	}
	log_close();
	if ((fd = priv_child_fds(auth_listen_fd, log_child_fd, -1,
	    &error)) == -1) {
		log_init(cfg.syslog_facility, -1, cfg.debug);
		fatalx("%s", error);
	}
	log_init(cfg.syslog_facility, -1, cfg.debug);
	plugin_unload(&store_plugin);
	/* It checks passwords, it never speaks TLS: no private key, no
	 * ticket keys (tls.c). */
	tls_forget();
	/* The master parked it (plugin_park()): load it here, as root. */
	if (plugin_unpark(&cfg, &auth_plugin, &error) != 0) {
		log_warnx("auth service: %s", error);
		_exit(1);
	}
	authsvc_serve(fd, -1, master, &cfg, &auth_plugin);
}

/* A SIGTERM to the running service (it finishes what it has); then a
 * new one is started by the loop. */
static void
stop_authsvc(void)
{
	if (auth_pid > 0)
		kill(auth_pid, SIGTERM);
	auth_pid = 0;
	auth_started = 0;
}

/*
 * Tell a client refused by a limit why, in one fixed line, then the caller
 * closes: RFC 2449 section 8 / RFC 3206 [SYS/TEMP] for POP3 (a client
 * tries again later instead of asking for a new password), "-" for POP2
 * (RFC 937: an error reply, then the close).  The master reads nothing
 * and never waits: one non-blocking send into an empty socket buffer;
 * if even that fails the close alone says it.
 */
static void
refuse_over_limit(int fd, enum proto proto)
{
	static const char pop3[] = "-ERR [SYS/TEMP] too many connections, "
	    "try again later\r\n";
	static const char pop2[] = "- too many connections, try again "
	    "later\r\n";

	if (proto == PROTO_POP2)
		(void)send(fd, pop2, sizeof(pop2) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		(void)send(fd, pop3, sizeof(pop3) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
handle_accept(struct listener *l)
{
	static time_t last_warn;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[PEER_HOST_MAX] = "?", serv[PEER_SERV_MAX] = "?";
	char peer[PEER_NAME_MAX];
	const char *why;
	struct addr a;
	int fd, one = 1;
	pid_t pid;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv,
	    sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
	addr_from_sockaddr((struct sockaddr *)&ss, sl, &a);
	/* From a trusted proxy, max_per_ip waits for the real client
	 * (handle_peer()); the proxy's own address is not the client's. */
	if (l->proxy && config_proxy_trusted(&cfg, &a))
		why = n_children >= (size_t)cfg.max_sessions ?
		    "max_sessions reached" : NULL;
	else
		why = over_limit(&a);
	if (why != NULL) {
		/* Rate-limited: a flood must not flood the log. */
		if (time(NULL) != last_warn) {
			last_warn = time(NULL);
			log_warnx("connection from %s refused: %s", host,
			    why);
		}
		refuse_over_limit(fd, l->proto);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(peer, sizeof peer, "%s:%s", host, serv);
	pid = fork_child();
	if (pid == -1) {
		log_warn("fork");
		close(fd);
		return;
	}
	if (pid == 0)
		start_monitor(fd, l, peer, addr_is_loopback(&a));
	close(fd);
	track_child(pid, &a);
}

/*
 * A monitor of a "proxy" listener names its real client: count the
 * connection under that address from now on, and answer whether it is
 * within max_per_ip.
 */
static void
handle_peer(void)
{
	static time_t last_warn;
	struct addr a;
	pid_t pid;
	size_t i, n;
	int reply, ok = 0;

	if (peerchan_recv(peer_chan[0], &pid, &a, &reply) != 0)
		return;
	for (i = 0; i < n_children; i++)
		if (children[i].pid == pid)
			break;
	if (i < n_children) {
		children[i].addr = a;
		/* count_from() counts this connection too. */
		n = count_from(&a);
		ok = n <= (size_t)cfg.max_per_ip;
		if (!ok && time(NULL) != last_warn) {
			last_warn = time(NULL);
			log_warnx("proxied connection (pid %ld) refused: "
			    "max_per_ip reached for its /%d", (long)pid,
			    a.family == AF_INET6 ? cfg.per_ip_prefix6 :
			    cfg.per_ip_prefix4);
		}
	}
	peerchan_answer(reply, ok);
}

static int
listeners_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->n_listeners != b->n_listeners)
		return 0;
	for (i = 0; i < a->n_listeners; i++)
		if (a->listeners[i].proto != b->listeners[i].proto ||
		    a->listeners[i].proxy != b->listeners[i].proxy ||
		    config_listener_tls(a, &a->listeners[i]) !=
		    config_listener_tls(b, &b->listeners[i]) ||
		    strcmp(a->listeners[i].host, b->listeners[i].host) != 0 ||
		    strcmp(a->listeners[i].port, b->listeners[i].port) != 0)
			return 0;
	return 1;
}

/*
 * Read the configuration at C->path into *C, load its plugins into AUTH
 * and STORE and, as root, resolve login_user.  0, or -1 with the reason
 * in *error_r (nothing loaded, *C freed).
 */
static int
load_everything(const char *path, struct config *c, struct loaded_plugin *auth,
    struct loaded_plugin *store, struct tls_server **tls_r,
    const char **error_r)
{
	if (config_load(path, c, error_r) != 0)
		return -1;
	if (plugin_load_config(c, auth, store, error_r) != 0) {
		config_free(c);
		return -1;
	}
	/* The certificate and key are read again on every load: a SIGHUP
	 * after a renewal (certbot's deploy hook) picks up the new ones. */
	if ((priv_is_root() && (check_login_user(c, error_r) != 0 ||
	    check_auth_user(c, auth, error_r) != 0)) ||
	    tls_server_load(c, tls_r, error_r) != 0) {
		plugin_unload(auth);
		plugin_unload(store);
		config_free(c);
		return -1;
	}
	return 0;
}

static void
reload(void)
{
	struct config ncfg;
	struct loaded_plugin na, ns;
	struct tls_server *ntls;
	const char *error;
	int same;

	if (load_everything(cfg.path, &ncfg, &na, &ns, &ntls, &error) != 0) {
		log_warnx("reload refused, keeping the old configuration: %s",
		    error);
		plugin_set_config(&cfg);
		return;
	}
	same = listeners_equal(&cfg, &ncfg);
	activation_notify("RELOADING=1");
	if (!same && n_activated > 0) {
		/* systemd owns the sockets: a change is the .socket unit's
		 * to make. */
		log_warnx("reload: the listen lines changed, but the sockets "
		    "came from systemd and are kept (change pop23d.socket)");
		same = 1;
	}
	plugin_unload(&auth_plugin);
	plugin_unload(&store_plugin);
	auth_plugin = na;
	store_plugin = ns;
	plugin_park(&auth_plugin);	/* as run_daemon() */
	config_free(&cfg);
	cfg = ncfg;
	plugin_set_config(&cfg);
	tls_server_install(ntls);
	tls_server_warm();
	log_init(cfg.syslog_facility, -1, cfg.debug);
	if (tls_enabled())
		log_info("tls: %s", tls_server_desc());
	/* The new plugin and settings: a new auth service; the old one
	 * answers the monitors it has, then exits. */
	stop_authsvc();
	/* Listeners are re-bound only if the listen lines changed, so
	 * clients never see a refused connection on a plain reload. */
	if (!same) {
		close_listeners();
		if (bind_all(&error) != 0)
			fatalx("reload: %s", error);
		write_port_file();
	}
	log_info("configuration reloaded");
	activation_notify("READY=1");
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * At shutdown: stop the auth service and wait until it is gone (SIGKILL
 * after SHUTDOWN_KILL_GRACE seconds).  A service forked just before the
 * SIGTERM may not yet have closed the master's descriptors
 * (priv_child_fds()), listening sockets included: a master that left
 * without waiting let clients connect to a stopped server for as long,
 * and a restart could find its port still taken.
 */
static void
end_authsvc(void)
{
	time_t end = time(NULL) + SHUTDOWN_KILL_GRACE;
	pid_t pid = auth_pid, r;
	int status;

	if (pid <= 0)
		return;
	stop_authsvc();
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return;
		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			return;
		}
		sleep_ms(SHUTDOWN_KILL_POLL_MS);
	}
}

static void
shutdown_sessions(void)
{
	time_t end = time(NULL) + cfg.shutdown_timeout;
	size_t i;

	close_listeners();
	log_info("stopping: %zu session(s) open", n_children);
	while (n_children > 0 && time(NULL) < end) {
		sleep_ms(SHUTDOWN_POLL_MS);
		log_relay_drain();
		reap_children();
	}
	/* Sessions that did not finish end without UPDATE. */
	for (i = 0; i < n_children; i++)
		kill(children[i].pid, SIGTERM);
	while (n_children > 0) {
		sleep_ms(SHUTDOWN_KILL_POLL_MS);
		log_relay_drain();
		reap_children();
		if (time(NULL) > end + SHUTDOWN_KILL_GRACE) {
			for (i = 0; i < n_children; i++)
				kill(children[i].pid, SIGKILL);
		}
	}
	/* The last lines of the sessions that just ended. */
	log_relay_drain();
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	/* daemon(7): fork, setsid, fork again, stdio to /dev/null. */
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (setsid() == -1)
		fatal("setsid");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	umask(022);
	if (chdir("/") != 0)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

/* inetd mode: an auth service of this connection's own, on a socketpair;
 * it ends when the monitor closes its end (authc_close()). */
static void
inetd_authsvc(void)
{
	int sv[2];
	pid_t pid, monitor = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		plugin_unload(&store_plugin);
		tls_forget();		/* as start_authsvc() */
		authsvc_serve(-1, sv[1], monitor, &cfg, &auth_plugin);
	}
	close(sv[1]);
	authc_set_fd(sv[0]);
}

/*
 * inetd mode (also systemd Accept=yes): the connection is on stdin and
 * stdout.  The listen lines are not used; PROTO says what to speak.
 */
static void __attribute__((noreturn))
inetd_session(const char *proto_name)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[PEER_HOST_MAX] = "?", serv[PEER_SERV_MAX] = "?";
	char peer[PEER_NAME_MAX];
	struct listener_conf lc;
	struct addr a;
	int one = 1, loopback = 1;

	memset(&lc, 0, sizeof lc);
	lc.tls = TLS_MODE_UNSET;
	if (strcmp(proto_name, "pop3") == 0 || strcmp(proto_name, "pop3s") == 0)
		lc.proto = PROTO_POP3;
	else if (strcmp(proto_name, "pop2") == 0 ||
	    strcmp(proto_name, "pop2s") == 0)
		lc.proto = PROTO_POP2;
	else
		fatalx("-i takes pop3, pop2, pop3s or pop2s, not \"%s\"",
		    proto_name);
	if (proto_name[4] == 's')
		lc.tls = TLS_MODE_IMPLICIT;
	if (config_listener_tls(&cfg, &lc) != TLS_MODE_NONE && !tls_enabled())
		fatalx("-i %s: TLS needs tls_cert and tls_key", proto_name);
	log_init(cfg.syslog_facility, 0, cfg.debug);
	/* A TCP client is on this host only from a loopback address; a
	 * Unix socket or pipes come from a local program (a wrapper such
	 * as stunnel, which does the TLS itself). */
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) == 0) {
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host,
		    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
			addr_from_sockaddr((struct sockaddr *)&ss, sl, &a);
			loopback = addr_is_loopback(&a);
		}
	} else
		strlcpy(host, "stdin", sizeof host);
	snprintf(peer, sizeof peer, "%s:%s", host, serv);
	setsockopt(STDIN_FILENO, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	signal(SIGPIPE, SIG_IGN);
	inetd_authsvc();
	session_run(STDIN_FILENO, STDOUT_FILENO, &cfg, lc.proto,
	    config_listener_tls(&cfg, &lc), loopback, &auth_plugin,
	    &store_plugin, peer, -1);
}

/* Drain the signal pipe after poll() said it is readable. */
static void
drain_sig_pipe(void)
{
	char buf[64];

	while (read(sig_pipe[0], buf, sizeof buf) > 0)
		;
}

/* pfd[] slots before the listeners: the signal pipe, the log relay,
 * the monitors' address channel. */
#define POLL_SIG	0
#define POLL_RELAY	1
#define POLL_PEER	2
#define POLL_FIXED	3

/* The accept loop, until SIGTERM or SIGINT. */
static void
master_loop(void)
{
	struct pollfd pfd[MAX_SOCKETS + POLL_FIXED];
	size_t i;
	int n;

	while (!got_term) {
		int timeout;

		/* Rotates the TLS ticket key when it is due; -1: no TLS. */
		timeout = tls_tickets_tick(cfg.tls_ticket_rotate);
		if (auth_pid == 0) {
			if (time(NULL) - auth_started >= AUTH_RESTART_MIN_S)
				start_authsvc();
			else if (timeout == -1 || timeout > 200)
				timeout = 200;
		}
		pfd[POLL_SIG].fd = sig_pipe[0];
		pfd[POLL_SIG].events = POLLIN;
		pfd[POLL_RELAY].fd = log_relay_fd();	/* -1: ignored */
		pfd[POLL_RELAY].events = POLLIN;
		pfd[POLL_PEER].fd = peer_chan[0];
		pfd[POLL_PEER].events = POLLIN;
		for (i = 0; i < n_listeners; i++) {
			pfd[i + POLL_FIXED].fd = listeners[i].fd;
			pfd[i + POLL_FIXED].events = POLLIN;
		}
		n = poll(pfd, n_listeners + POLL_FIXED, timeout);
		if (n == -1 && errno != EINTR)
			fatal("poll");
		if (n > 0 && (pfd[POLL_SIG].revents & POLLIN))
			drain_sig_pipe();
		if (n > 0 && (pfd[POLL_RELAY].revents & POLLIN))
			log_relay_drain();
		if (got_chld) {
			got_chld = 0;
			reap_children();
		}
		if (n > 0 && (pfd[POLL_PEER].revents & POLLIN))
			handle_peer();
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload();
			continue;
		}
		for (i = 0; n > 0 && i < n_listeners; i++)
			if (pfd[i + POLL_FIXED].revents & POLLIN)
				handle_accept(&listeners[i]);
	}
}

/*
 * Parse the command line into *O.  Returns -1 to go on, or the exit
 * status (0 after --help or --version, 2 after a usage error).
 */
static int
parse_options(int argc, char *argv[], struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof *o);
	o->conf_path = SYSCONFDIR "/pop23d.conf";
	while ((ch = getopt_long(argc, argv, "c:ftdi:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf_path = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 't':
			o->check_only = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'i':
			o->inetd_proto = optarg;
			break;
		case 'h':
			master_usage(stdout);
			return 0;
		case 'V':
			printf("pop23d %s (plugin ABI %d, API %d)\n",
			    PACKAGE_VERSION, POP23D_PLUGIN_ABI,
			    POP23D_PLUGIN_API);
			return 0;
		default:
			master_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		master_usage(stderr);
		return 2;
	}
	return -1;
}

/* Bind, detach, write the pid and port files and serve until SIGTERM. */
static int
run_daemon(const struct options *o)
{
	const char *error;

	/* Under systemd our stderr may be the journal, which gets the
	 * syslog lines already: log each line once. */
	log_init(cfg.syslog_facility, o->foreground &&
	    !activation_stderr_is_journal(), cfg.debug);
	if (!priv_is_root())
		log_info("not started as root: running rootless, every "
		    "session runs as uid %ld", (long)getuid());
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	if (peerchan_open(peer_chan) != 0)
		fatal("socketpair");
	/* In the foreground the children do not get our stderr (the
	 * daemon's log): their lines come to us through the relay. */
	if (o->foreground && !activation_stderr_is_journal() &&
	    log_relay_init(&log_child_fd, &error) != 0)
		fatalx("%s", error);
	if ((n_activated > 0 ? adopt_activated(&error) : bind_all(&error))
	    != 0) {
		fprintf(stderr, "pop23d: %s\n", error);
		return 1;
	}
	if (!o->foreground)
		daemonize();
	set_signals(on_signal);
	auth_socket_init();
	/* Only the auth service runs the auth plugin: unmapped here before
	 * the first fork, so no monitor has to dlclose() it
	 * (plugin_park()). */
	tls_server_warm();
	plugin_park(&auth_plugin);
	/* The pre-auth children's seccomp filter, built once here rather
	 * than in every child (sandbox.c). */
	if (sandbox_prepare(&error) != 0)
		log_warnx("%s: each pre-auth child builds its own filter",
		    error);
	/* Logged before the pid and port files say we are ready, so that
	 * whoever waits for them finds the line (test_sdk.py once read the
	 * log between the port file and this line). */
	log_info("pop23d %s started", PACKAGE_VERSION);
	if (tls_enabled())
		log_info("tls: %s", tls_server_desc());
	write_pid_file();
	write_port_file();
	activation_notify("READY=1");
	master_loop();
	activation_notify("STOPPING=1");
	shutdown_sessions();
	end_authsvc();
	if (cfg.pid_file[0] != '\0')
		unlink(cfg.pid_file);
	tls_server_install(NULL);
	log_info("pop23d stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct options o;
	struct tls_server *tls;
	const char *error;
	int r, tls_hooked;

	/* Nothing inherited reaches a child: no descriptor of whoever
	 * started us (a directory on the real /, a root-only file), no
	 * environment but PATH and TZ. */
	priv_stdio_open();
	/* systemd's sockets (and what to tell it), before both go. */
	if ((n_activated = activation_take(&error)) < 0) {
		fprintf(stderr, "pop23d: %s\n", error);
		return 1;
	}
	priv_close_from(n_activated > 0 ? ACTIVATION_FD_START + n_activated :
	    STDERR_FILENO + 1);
	priv_scrub_env();
	/* Before OpenSSL allocates: freed blocks are wiped (tls.c). */
	tls_hooked = tls_init_memory() == 0;
	if ((r = parse_options(argc, argv, &o)) >= 0)
		return r;
	if (o.inetd_proto != NULL && n_activated > 0) {
		/* Accept=yes: the connection is on stdin and stdout. */
		priv_close_from(STDERR_FILENO + 1);
		n_activated = 0;
	}
	log_init(LOG_MAIL, o.foreground || o.check_only, o.debug);
	if (load_everything(o.conf_path, &cfg, &auth_plugin, &store_plugin,
	    &tls, &error) != 0) {
		fprintf(stderr, "pop23d: %s\n", error);
		return 1;
	}
	if (!tls_hooked && tls != NULL)
		log_warnx("tls: OpenSSL's allocator cannot be set: freed "
		    "copies of the private key may stay in memory");
	tls_server_install(tls);
	if (o.debug)
		cfg.debug = 1;
	if (o.check_only) {
		printf("pop23d: %s: configuration OK (auth %s, storage %s, "
		    "%zu listener(s))\n", cfg.path, auth_plugin.desc->name,
		    store_plugin.desc->name, cfg.n_listeners);
		if (tls_enabled())
			printf("pop23d: tls: %s\n", tls_server_desc());
		print_auth_workers();
		tls_server_install(NULL);
		return 0;
	}
	if (o.inetd_proto != NULL)
		inetd_session(o.inetd_proto);	/* does not return */
	return run_daemon(&o);
}
