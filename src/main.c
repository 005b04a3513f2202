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
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "conf.h"
#include "log.h"
#include "plugin.h"
#include "priv.h"
#include "session.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

struct listener {
	int fd;
	enum proto proto;
	char name[100];		/* "pop3 127.0.0.1 110" for logs */
};

struct child {
	pid_t pid;
	char addr[INET6_ADDRSTRLEN];
};

static struct config cfg;
static struct loaded_plugin auth_plugin, store_plugin;
static struct listener listeners[4 * MAX_LISTENERS];
static size_t n_listeners;
static struct child *children;
static size_t n_children;
static volatile sig_atomic_t got_term, got_hup, got_chld;
static int sig_pipe[2] = { -1, -1 };

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: pop23d [-c FILE] [-f] [-t] [-d] [-i pop3|pop2]\n"
	    "  -c FILE    configuration file (default %s/pop23d.conf)\n"
	    "  -f         stay in the foreground, log to stderr too\n"
	    "  -t         check the configuration and the plugins, then exit\n"
	    "  -d         debug logging\n"
	    "  -i PROTO   inetd mode: serve one connection on stdin/stdout\n"
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
	if (sig_pipe[1] != -1)
		(void)write(sig_pipe[1], &c, 1);
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

/* Load both plugins named by C and check the plugin sections. */
static int
load_plugins(const struct config *c, struct loaded_plugin *auth,
    struct loaded_plugin *store, char *err, size_t errsz)
{
	struct loaded_plugin *all[2] = { auth, store };

	char e[900], where[32] = "";

	plugin_set_config(c);
	if (plugin_load(c->plugin_dir, c->auth_plugin, POP23D_PLUGIN_AUTH,
	    auth, e, sizeof e) != 0) {
		/* The line of "auth =", or none for the built-in default. */
		if (c->auth_line > 0)
			snprintf(where, sizeof where, ":%d", c->auth_line);
		snprintf(err, errsz, "%s%s: %s", c->path, where, e);
		return -1;
	}
	if (plugin_load(c->plugin_dir, c->store_plugin, POP23D_PLUGIN_STORE,
	    store, e, sizeof e) != 0) {
		if (c->store_line > 0)
			snprintf(where, sizeof where, ":%d", c->store_line);
		snprintf(err, errsz, "%s%s: %s", c->path, where, e);
		plugin_unload(auth);
		return -1;
	}
	if (plugin_check_config(c, all, 2, err, errsz) != 0) {
		plugin_unload(auth);
		plugin_unload(store);
		return -1;
	}
	return 0;
}

/* Root mode: the pre-auth user and chroot must exist and be safe. */
static int
check_login_user(struct config *c, char *err, size_t errsz)
{
	struct passwd *pw = getpwnam(c->login_user);
	struct stat st;

	if (pw == NULL || pw->pw_uid == 0) {
		snprintf(err, errsz, "%s: login_user \"%s\" %s (create it: "
		    "useradd -r -s /usr/sbin/nologin %s)", c->path,
		    c->login_user, pw == NULL ? "does not exist" : "is root",
		    c->login_user);
		return -1;
	}
	c->login_uid = pw->pw_uid;
	c->login_gid = pw->pw_gid;
	if (c->login_chroot[0] != '\0' && (stat(c->login_chroot, &st) != 0 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0)) {
		snprintf(err, errsz, "%s: login_chroot %s must be an existing "
		    "directory owned by root and not writable by others",
		    c->path, c->login_chroot);
		return -1;
	}
	return 0;
}

static int
bind_one(const struct listener_conf *lc, char *err, size_t errsz)
{
	struct addrinfo hints, *res, *ai;
	int e, bound = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(strcmp(lc->host, "*") == 0 ? NULL : lc->host,
	    lc->port, &hints, &res);
	if (e != 0) {
		snprintf(err, errsz, "%s:%d: listen %s: %s", cfg.path,
		    lc->line, lc->host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct listener *l;
		int fd, one = 1;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char host[64], serv[16];

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
		    listen(fd, 1024) != 0) {
			snprintf(err, errsz, "%s:%d: listen %s:%s: %s",
			    cfg.path, lc->line, lc->host, lc->port,
			    strerror(errno));
			close(fd);
			freeaddrinfo(res);
			return -1;
		}
		l = &listeners[n_listeners++];
		l->fd = fd;
		l->proto = lc->proto;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host,
		    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
			strlcpy(host, "?", sizeof host);
			strlcpy(serv, "?", sizeof serv);
		}
		snprintf(l->name, sizeof l->name, "%s %s %s",
		    config_proto_name(l->proto), host, serv);
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		snprintf(err, errsz, "%s:%d: listen %s:%s: no usable address",
		    cfg.path, lc->line, lc->host, lc->port);
		return -1;
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
bind_all(char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < cfg.n_listeners; i++)
		if (bind_one(&cfg.listeners[i], err, errsz) != 0) {
			close_listeners();
			return -1;
		}
	for (i = 0; i < n_listeners; i++)
		log_info("listening: %s", listeners[i].name);
	return 0;
}

/* Write a small file atomically (tmp + rename), for pid and port files. */
static void
write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	int fd;

	if (path[0] == '\0')
		return;
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (fd == -1) {
		log_warn("%s", tmp);
		return;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    close(fd) != 0 || rename(tmp, path) != 0)
		log_warn("%s", path);
}

static void
write_port_file(void)
{
	char text[4 * MAX_LISTENERS * 110];
	size_t i, o = 0;

	for (i = 0; i < n_listeners && o < sizeof text; i++)
		o += (size_t)snprintf(text + o, sizeof text - o, "%s\n",
		    listeners[i].name);
	text[sizeof text - 1] = '\0';
	write_file(cfg.port_file, text);
}

static size_t
count_from(const char *addr)
{
	size_t i, n = 0;

	for (i = 0; i < n_children; i++)
		if (strcmp(children[i].addr, addr) == 0)
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
handle_accept(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[64] = "?", serv[16] = "?", peer[90];
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
	if (n_children >= (size_t)cfg.max_sessions ||
	    count_from(host) >= (size_t)cfg.max_per_ip) {
		static time_t last_warn;

		/* Rate-limited: a flood must not flood the log. */
		if (time(NULL) != last_warn) {
			last_warn = time(NULL);
			log_warnx("connection from %s refused: %s", host,
			    n_children >= (size_t)cfg.max_sessions ?
			    "max_sessions reached" : "max_per_ip reached");
		}
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	snprintf(peer, sizeof peer, "%s:%s", host, serv);
	pid = fork();
	if (pid == -1) {
		log_warn("fork");
		close(fd);
		return;
	}
	if (pid == 0) {
		size_t i;

		set_signals(SIG_DFL);
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		for (i = 0; i < n_listeners; i++)
			close(listeners[i].fd);
		/* The session's socket must survive exec-less forks only. */
		session_run(fd, fd, &cfg, l->proto, &auth_plugin,
		    &store_plugin, peer);
	}
	close(fd);
	{
		struct child *n = reallocarray(children, n_children + 1,
		    sizeof *n);

		if (n == NULL) {
			log_warnx("out of memory tracking sessions");
			return;
		}
		children = n;
		children[n_children].pid = pid;
		strlcpy(children[n_children].addr, host,
		    sizeof children[n_children].addr);
		n_children++;
	}
}

static int
listeners_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->n_listeners != b->n_listeners)
		return 0;
	for (i = 0; i < a->n_listeners; i++)
		if (a->listeners[i].proto != b->listeners[i].proto ||
		    strcmp(a->listeners[i].host, b->listeners[i].host) != 0 ||
		    strcmp(a->listeners[i].port, b->listeners[i].port) != 0)
			return 0;
	return 1;
}

static void
reload(void)
{
	struct config ncfg;
	struct loaded_plugin na, ns;
	char err[1024];
	int same;

	if (config_load(cfg.path, &ncfg, err, sizeof err) != 0) {
		log_warnx("reload refused, keeping the old configuration: %s",
		    err);
		return;
	}
	if ((priv_is_root() && check_login_user(&ncfg, err, sizeof err) != 0) ||
	    load_plugins(&ncfg, &na, &ns, err, sizeof err) != 0) {
		log_warnx("reload refused, keeping the old configuration: %s",
		    err);
		plugin_set_config(&cfg);
		config_free(&ncfg);
		return;
	}
	same = listeners_equal(&cfg, &ncfg);
	plugin_unload(&auth_plugin);
	plugin_unload(&store_plugin);
	auth_plugin = na;
	store_plugin = ns;
	config_free(&cfg);
	cfg = ncfg;
	plugin_set_config(&cfg);
	log_init(cfg.syslog_facility, -1, cfg.debug);
	/* Listeners are re-bound only if the listen lines changed, so
	 * clients never see a refused connection on a plain reload. */
	if (!same) {
		close_listeners();
		if (bind_all(err, sizeof err) != 0)
			fatalx("reload: %s", err);
		write_port_file();
	}
	log_info("configuration reloaded");
}

static void
shutdown_sessions(void)
{
	time_t end = time(NULL) + cfg.shutdown_timeout;
	size_t i;

	close_listeners();
	log_info("stopping: %zu session(s) open", n_children);
	while (n_children > 0 && time(NULL) < end) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
		reap_children();
	}
	/* Sessions that did not finish end without UPDATE. */
	for (i = 0; i < n_children; i++)
		kill(children[i].pid, SIGTERM);
	while (n_children > 0) {
		struct timespec ts = { 0, 50 * 1000000L };

		nanosleep(&ts, NULL);
		reap_children();
		if (time(NULL) > end + 5) {
			for (i = 0; i < n_children; i++)
				kill(children[i].pid, SIGKILL);
		}
	}
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

/*
 * inetd mode (also systemd Accept=yes): the connection is on stdin and
 * stdout.  The listen lines are not used; PROTO says what to speak.
 */
static void __attribute__((noreturn))
inetd_session(const char *proto_name)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[64] = "?", serv[16] = "?", peer[90];
	enum proto proto;
	int one = 1;

	if (strcmp(proto_name, "pop3") == 0)
		proto = PROTO_POP3;
	else if (strcmp(proto_name, "pop2") == 0)
		proto = PROTO_POP2;
	else
		fatalx("-i takes pop3 or pop2, not \"%s\"", proto_name);
	log_init(cfg.syslog_facility, 0, cfg.debug);
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host,
		    serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
	else
		strlcpy(host, "stdin", sizeof host);
	snprintf(peer, sizeof peer, "%s:%s", host, serv);
	setsockopt(STDIN_FILENO, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	signal(SIGPIPE, SIG_IGN);
	session_run(STDIN_FILENO, STDOUT_FILENO, &cfg, proto, &auth_plugin,
	    &store_plugin, peer);
}

int
main(int argc, char *argv[])
{
	const char *conf_path = SYSCONFDIR "/pop23d.conf";
	int foreground = 0, check_only = 0, debug = 0, ch;
	const char *inetd_proto = NULL;
	char err[1024];
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};

	while ((ch = getopt_long(argc, argv, "c:ftdi:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'i':
			inetd_proto = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pop23d %s (plugin ABI %d, API %d)\n",
			    PACKAGE_VERSION, POP23D_PLUGIN_ABI,
			    POP23D_PLUGIN_API);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	log_init(LOG_MAIL, foreground || check_only, debug);
	if (config_load(conf_path, &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "pop23d: %s\n", err);
		return 1;
	}
	if (debug)
		cfg.debug = 1;
	if (load_plugins(&cfg, &auth_plugin, &store_plugin, err,
	    sizeof err) != 0) {
		fprintf(stderr, "pop23d: %s\n", err);
		return 1;
	}
	if (priv_is_root() && check_login_user(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "pop23d: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("pop23d: %s: configuration OK (auth %s, storage %s, "
		    "%zu listener(s))\n", cfg.path, auth_plugin.desc->name,
		    store_plugin.desc->name, cfg.n_listeners);
		return 0;
	}
	if (inetd_proto != NULL)
		inetd_session(inetd_proto);	/* does not return */
	log_init(cfg.syslog_facility, foreground, cfg.debug);
	if (!priv_is_root())
		log_info("not started as root: running rootless, every "
		    "session runs as uid %ld", (long)getuid());

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("pipe");
	if (bind_all(err, sizeof err) != 0) {
		fprintf(stderr, "pop23d: %s\n", err);
		return 1;
	}
	if (!foreground)
		daemonize();
	set_signals(on_signal);
	{
		char pid[32];

		snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		write_file(cfg.pid_file, pid);
	}
	write_port_file();
	log_info("pop23d %s started", PACKAGE_VERSION);

	while (!got_term) {
		struct pollfd pfd[4 * MAX_LISTENERS + 1];
		size_t i;
		int n;

		pfd[0].fd = sig_pipe[0];
		pfd[0].events = POLLIN;
		for (i = 0; i < n_listeners; i++) {
			pfd[i + 1].fd = listeners[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		n = poll(pfd, n_listeners + 1, -1);
		if (n == -1 && errno != EINTR)
			fatal("poll");
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			char buf[64];

			while (read(sig_pipe[0], buf, sizeof buf) > 0)
				;
		}
		if (got_chld) {
			got_chld = 0;
			reap_children();
		}
		if (got_term)
			break;
		if (got_hup) {
			got_hup = 0;
			reload();
			continue;
		}
		for (i = 0; n > 0 && i < n_listeners; i++)
			if (pfd[i + 1].revents & POLLIN)
				handle_accept(&listeners[i]);
	}
	shutdown_sessions();
	if (cfg.pid_file[0] != '\0')
		unlink(cfg.pid_file);
	log_info("pop23d stopped");
	return 0;
}
