/*
 * authcost.c - the CPU cost of one auth plugin's verify_plain(), without
 * the daemon and without the network: the figure behind "cost per login"
 * in doc/PERFORMANCE.md.  It loads the plugin the way the daemon does
 * (dlopen RTLD_NOW | RTLD_LOCAL, pop23d_plugin_init, check_config) with a
 * minimal host whose settings come from the command line, then measures
 * CPU time (CLOCK_PROCESS_CPUTIME_ID and getrusage), never throughput:
 *
 *   warm   N calls in this process after a first one: a long-lived
 *          process that keeps the plugin's state (the auth service)
 *   fresh  N children, each forked after the plugin was loaded and
 *          calling verify_plain() once: today's per-connection monitor,
 *          which pays for the plugin's first-call set-up every login
 *
 *   authcost PLUGIN.so USER PASS N [SECTION.KEY=VALUE ...]
 *
 * Exit status 0 when every call gave the same result as the first; the
 * result is printed (OK, FAIL, NOUSER ...).  Built on demand (make
 * bench-tools); run it under "valgrind --tool=callgrind" for instruction
 * counts.
 *
 * PRIVILEGE: runs as whoever starts it (the plugin reads its files with
 * that user's rights).
 *
 * GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pop23d/plugin.h"

#define MAX_SETTINGS	32

static struct {
	char *section, *key, *value;
} settings[MAX_SETTINGS];
static size_t nsettings;
static int quiet;

static void host_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
host_log(int pri, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "authcost: plugin <%d>: ", pri);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
host_config_get(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < nsettings; i++)
		if (strcmp(settings[i].section, section) == 0 &&
		    strcmp(settings[i].key, key) == 0)
			return settings[i].value;
	return NULL;
}

static void
host_zero(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* The benchmark trusts every file: it measures, it does not guard. */
static int
host_trusted(const char *path, const char **error_r)
{
	(void)path;
	(void)error_r;
	return 0;
}

static const struct pop23d_host host = {
	.api = POP23D_PLUGIN_API,
	.log = host_log,
	.config_get = host_config_get,
	.secure_zero = host_zero,
	.rootless = 0,
	.trusted_file = host_trusted,
};

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static const char *
rname(enum pop23d_result r)
{
	static const char *const names[] = { "OK", "FAIL", "NOUSER",
	    "TEMPFAIL", "PERMFAIL", "INUSE", "CONTINUE" };

	return (unsigned)r < sizeof names / sizeof names[0] ? names[r] :
	    "other";
}

/* CPU time (user + sys) of all waited-for children so far. */
static double
children_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
}

/*
 * Fork N children that each call verify_plain() once (CALL) or exit at
 * once; *cpu_r the CPU they used.  0, or -1 if their results differed.
 */
static int
run_children(const struct pop23d_plugin *plug, const char *user,
    const char *pass, long n, int call, double *cpu_r)
{
	double t0 = children_cpu();
	int st, want = -1, bad = 0;
	long i;
	pid_t pid;

	for (i = 0; i < n; i++) {
		if ((pid = fork()) == -1) {
			perror("authcost: fork");
			exit(1);
		}
		if (pid == 0)
			_exit(call ? (int)plug->auth->verify_plain(user, pass) :
			    0);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
			bad = 1;
		else if (want == -1)
			want = WEXITSTATUS(st);
		else if (WEXITSTATUS(st) != want)
			bad = 1;
	}
	*cpu_r = children_cpu() - t0;
	return bad ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const struct pop23d_plugin *plug;
	pop23d_plugin_init_fn *init;
	enum pop23d_result first, r;
	const char *err = NULL;
	double t0, warm, fresh, base;
	long n, i, bad = 0;
	char *eq, *dot;
	void *h;

	if (argc < 5) {
		fprintf(stderr, "usage: authcost PLUGIN.so USER PASS N "
		    "[SECTION.KEY=VALUE ...]\n");
		return 2;
	}
	n = strtol(argv[4], NULL, 10);
	if (n < 1 || n > 1000000) {
		fprintf(stderr, "authcost: N must be 1 to 1000000\n");
		return 2;
	}
	for (i = 5; i < argc && nsettings < MAX_SETTINGS; i++) {
		if ((eq = strchr(argv[i], '=')) == NULL ||
		    (dot = strchr(argv[i], '.')) == NULL || dot > eq) {
			fprintf(stderr, "authcost: %s: not SECTION.KEY=VALUE\n",
			    argv[i]);
			return 2;
		}
		*dot = *eq = '\0';
		settings[nsettings].section = argv[i];
		settings[nsettings].key = dot + 1;
		settings[nsettings].value = eq + 1;
		nsettings++;
	}
	if ((h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "authcost: %s\n", dlerror());
		return 1;
	}
	*(void **)&init = dlsym(h, POP23D_PLUGIN_ENTRY);
	if (init == NULL || init(POP23D_PLUGIN_ABI, &host, &plug) != 0 ||
	    plug->auth == NULL) {
		fprintf(stderr, "authcost: %s: not an auth plugin\n", argv[1]);
		return 1;
	}
	if (plug->check_config != NULL && plug->check_config(&err) != 0) {
		fprintf(stderr, "authcost: check_config: %s\n", err);
		return 1;
	}

	/* fresh: one call per forked child, as the per-connection monitor;
	 * and the same children doing nothing, for the fork/exit cost */
	quiet = 1;
	if (run_children(plug, argv[2], argv[3], n, 0, &base) != 0 ||
	    run_children(plug, argv[2], argv[3], n, 1, &fresh) != 0)
		bad++;

	/* warm: the first call pays for the set-up, then N more */
	quiet = 0;
	first = plug->auth->verify_plain(argv[2], argv[3]);
	quiet = 1;
	t0 = cpu_s();
	for (i = 0; i < n; i++)
		if ((r = plug->auth->verify_plain(argv[2], argv[3])) != first)
			bad++;
	warm = cpu_s() - t0;

	printf("result %s\n", rname(first));
	printf("warm  %ld calls: %.1f us CPU per call\n", n, warm / n * 1e6);
	printf("fresh %ld forked children, one call each: %.1f us CPU per "
	    "child (user+sys), %.1f us more than a child that only exits\n",
	    n, fresh / n * 1e6, (fresh - base) / n * 1e6);
	return bad == 0 ? 0 : 1;
}
