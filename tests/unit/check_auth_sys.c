/*
 * check_auth_sys.c - unit tests of the plugins that check system users
 * or run a program: auth_checkpassword.so (driven with real programs, a
 * shell script written by the test) and the parts of auth_pam.so that do
 * not need a PAM service file (settings, the user rules, lookup()).  The
 * PAM conversation itself is tested with a real user and a real service
 * in tests/integ/test_pam.py.  Loaded from test_plugindir() through the
 * shared mock host.  Runs as whoever runs "make check" (root in CI).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pop23d/plugin.h"

#include "mock_host.h"
#include "suites.h"

static char *tdir;
static char prog_path[PATH_MAX];
static void *handle;
static pop23d_plugin_init_fn *plugin_init;
static const struct pop23d_plugin *plug;

static const char *
rname(enum pop23d_result r)
{
	static const char *const names[] = { "OK", "FAIL", "NOUSER",
	    "TEMPFAIL", "PERMFAIL", "INUSE", "CONTINUE" };

	return (unsigned)r < sizeof names / sizeof names[0] ? names[r] :
	    "other";
}

#define ck_result(got, want) \
	ck_assert_msg((got) == (want), "got %s, want %s", rname(got), \
	    rname(want))

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* TDIR/NAME into BUF. */
static const char *
tpath(char *buf, size_t size, const char *name)
{
	ck_assert_int_lt(snprintf(buf, size, "%s/%s", tdir, name), (int)size);
	return buf;
}

/* Non-zero if the file TDIR/NAME exists. */
static int
texists(const char *name)
{
	char p[PATH_MAX];

	return access(tpath(p, sizeof p, name), F_OK) == 0;
}

/* The contents of TDIR/NAME (static buffer), "" if absent. */
static const char *
tread(const char *name)
{
	static char buf[8192];
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = open(tpath(p, sizeof p, name), O_RDONLY)) == -1)
		return buf;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Load FILE from the plugin dir and start it with the mock host. */
static void
load(const char *file)
{
	handle = mock_plugin_open(file, &plugin_init);
	plug = NULL;
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI, &mock_host, &plug), 0);
	ck_assert_ptr_nonnull(plug);
}

static void
unload(void)
{
	if (handle != NULL)
		dlclose(handle);
	handle = NULL;
	plug = NULL;
}

static void
check_ok(void)
{
	const char *err = NULL;

	ck_assert_msg(plug->check_config(&err) == 0, "check_config: %s",
	    err != NULL ? err : "(null)");
}

/* check_config() fails with a reason containing WANT. */
static void
check_fails(const char *want)
{
	const char *err = NULL;

	ck_assert_int_eq(plug->check_config(&err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"",
	    err, want);
}

/* ------------------------------------------------------ checkpassword */

/*
 * The test program: a checkpassword program in sh whose behaviour the
 * user name selects.  @DIR@ is the test's directory.  It reads the three
 * fields from descriptor 3 exactly as a real one must.
 */
static const char cp_script[] =
    "#!/bin/sh\n"
    "D=@DIR@\n"
    "{ IFS= read -r user; IFS= read -r pass; IFS= read -r ts; } <<EOF\n"
    "$(tr '\\000' '\\n' <&3)\n"
    "EOF\n"
    "echo \"$user\" >\"$D/ran\"\n"
    "case \"$user\" in\n"
    "ok|nobody)\n"
    "	[ \"$pass\" = secret ] && [ -z \"$ts\" ] && exec \"$1\"; exit 1 ;;\n"
    "apop)\n"
    "	[ \"$ts\" = '<1.2@test>' ] &&\n"
    "	    [ \"$pass\" = 0123456789abcdef0123456789abcdef ] && exec \"$1\"\n"
    "	exit 1 ;;\n"
    "temp) exit 111 ;;\n"
    "nouser) exit 3 ;;\n"
    "misuse) exit 2 ;;\n"
    "zero) exit 0 ;;\n"
    "hang) exec sleep 30 ;;\n"
    "hangkids) sleep 30 & echo $! >\"$D/kid.pid\"; sleep 30; exit 0 ;;\n"
    "stray) sleep 30 & echo $! >\"$D/kid.pid\"; exec \"$1\" ;;\n"
    "closeout) exec >&- 2>&-; sleep 30 ;;\n"
    "garbage) printf 'bad\\001\\033[31m\\377\\000tail\\n'; exit 1 ;;\n"
    "chatty) head -c 60000 /dev/zero | tr '\\000' a; exec \"$1\" ;;\n"
    "flood) while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done ;;\n"
    "segv) kill -SEGV $$; sleep 5; exit 0 ;;\n"
    "report)\n"
    "	fd0=$(readlink /proc/$$/fd/0)\n"
    "	fd1=$(readlink /proc/$$/fd/1)\n"
    "	fd2=$(readlink /proc/$$/fd/2)\n"
    "	{\n"
    "	echo \"argc=$#\"\n"
    "	echo \"next=$1\"\n"
    "	echo \"fd0=$fd0\"\n"
    "	echo \"fd1=$fd1\"\n"
    "	echo \"fd2=$fd2\"\n"
    "	[ -e /proc/$$/fd/@CANARY@ ] && echo canary=leaked\n"
    "	echo \"cwd=$(pwd)\"\n"
    "	echo \"pgid=$(ps -o pgid= -p $$ | tr -d ' ')\" \"pid=$$\"\n"
    "	env | sort | sed 's/^/env /'\n"
    "	} >\"$D/report\"\n"
    "	exec \"$1\" ;;\n"
    "*) exit 1 ;;\n"
    "esac\n";

/* A descriptor open in the test, without close-on-exec. */
#define CANARY_FD	57

/* Write the test program (mode MODE) as TDIR/checkpw. */
static void
write_program(mode_t mode)
{
	char *text, *p, *q, *out;
	size_t n;

	ck_assert_int_lt(snprintf(prog_path, sizeof prog_path, "%s/checkpw",
	    tdir), (int)sizeof prog_path);
	n = sizeof cp_script + strlen(tdir) + 16;
	out = calloc(1, n);
	ck_assert_ptr_nonnull(out);
	text = strdup(cp_script);
	ck_assert_ptr_nonnull(text);
	/* Substitute @DIR@ and @CANARY@. */
	for (p = text, q = out; *p != '\0';) {
		if (strncmp(p, "@DIR@", 5) == 0) {
			q += sprintf(q, "%s", tdir);
			p += 5;
		} else if (strncmp(p, "@CANARY@", 8) == 0) {
			q += sprintf(q, "%d", CANARY_FD);
			p += 8;
		} else
			*q++ = *p++;
	}
	test_write_file(prog_path, out, strlen(out));
	ck_assert_int_eq(chmod(prog_path, mode), 0);
	free(text);
	free(out);
}

static void
cp_setup(void)
{
	tdir = test_tmpdir();
	mock_host_reset();
	write_program(0700);
	mock_host_set("checkpassword", "program", prog_path);
	mock_host_set("checkpassword", "userdb", "virtual");
	mock_host_set("checkpassword", "timeout", "1");
	load("auth_checkpassword.so");
	check_ok();
}

static void
cp_teardown(void)
{
	unload();
	if (tdir != NULL) {
		test_rmtree(tdir);
		free(tdir);
	}
	tdir = NULL;
	mock_host_reset();
}

/* No child of ours is left, running or as a zombie. */
static void
assert_no_children(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

/* The process whose pid is in TDIR/NAME is gone or a zombie (reparented
 * to init) within a second: it was killed.  (A process that got SIGKILL
 * may show as running until it is scheduled to die.) */
static void
assert_not_running(const char *name)
{
	char path[64], buf[512], *rp;
	const char *pidtext = tread(name);
	long pid = strtol(pidtext, NULL, 10);
	double until = now_s() + 1.0;
	ssize_t n;
	int fd;

	ck_assert_msg(pid > 1, "no pid in %s", name);
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	for (;;) {
		if ((fd = open(path, O_RDONLY)) == -1)
			return;		/* gone */
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		rp = strrchr(buf, ')');
		ck_assert_ptr_nonnull(rp);
		if (rp[2] == 'Z' || rp[2] == 'X')
			return;
		ck_assert_msg(now_s() < until, "pid %ld still runs: %s", pid,
		    buf);
		usleep(10000);
	}
}

static enum pop23d_result
plain(const char *user, const char *pass)
{
	return plug->auth->verify_plain(user, pass);
}

START_TEST(test_cp_descriptor)
{
	ck_assert_uint_eq(plug->abi, POP23D_PLUGIN_ABI);
	ck_assert_uint_eq(plug->api_built, POP23D_PLUGIN_API);
	ck_assert_uint_eq(plug->api_min, 3);
	ck_assert_str_eq(plug->name, "checkpassword");
	ck_assert_int_eq(plug->kind, POP23D_PLUGIN_AUTH);
	ck_assert_ptr_nonnull(plug->auth->verify_apop);
	ck_assert_uint_eq(plug->flags,
	    POP23D_PLUGIN_F_NEEDS_ROOT | POP23D_PLUGIN_F_BLOCKING);
}
END_TEST

START_TEST(test_cp_needs_root_flag)
{
	unload();
	mock_host_set("checkpassword", "needs_root", "no");
	load("auth_checkpassword.so");
	/* The host may read the flags as soon as init returns. */
	ck_assert_uint_eq(plug->flags, POP23D_PLUGIN_F_BLOCKING);
	check_ok();
	ck_assert_uint_eq(plug->flags, POP23D_PLUGIN_F_BLOCKING);
	mock_host_set("checkpassword", "needs_root", "yes");
	check_ok();
	ck_assert_uint_eq(plug->flags,
	    POP23D_PLUGIN_F_NEEDS_ROOT | POP23D_PLUGIN_F_BLOCKING);
}
END_TEST

START_TEST(test_cp_accept_refuse)
{
	ck_result(plain("ok", "secret"), POP23D_OK);
	ck_assert_str_eq(tread("ran"), "ok\n");
	ck_result(plain("ok", "wrong"), POP23D_FAIL);
	ck_result(plain("someone", "secret"), POP23D_FAIL);
	ck_result(plain("nouser", "x"), POP23D_NOUSER);
	ck_result(plain("misuse", "x"), POP23D_FAIL);
	/* Exit 0 without running the next program is still exit 0. */
	ck_result(plain("zero", "x"), POP23D_OK);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_tempfail)
{
	ck_result(plain("temp", "x"), POP23D_TEMPFAIL);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_hang_killed)
{
	double t0 = now_s(), dt;

	ck_result(plain("hang", "x"), POP23D_TEMPFAIL);
	dt = now_s() - t0;
	ck_assert_msg(dt >= 0.95 && dt < 2.0, "took %.2f s, timeout 1 s", dt);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_hang_kills_group)
{
	double t0 = now_s(), dt;

	ck_result(plain("hangkids", "x"), POP23D_TEMPFAIL);
	dt = now_s() - t0;
	ck_assert_msg(dt < 2.0, "took %.2f s, timeout 1 s", dt);
	assert_no_children();
	assert_not_running("kid.pid");
}
END_TEST

START_TEST(test_cp_stray_killed)
{
	double t0 = now_s(), dt;

	/* Succeeds at once, but leaves a background job behind. */
	ck_result(plain("stray", "secret"), POP23D_OK);
	dt = now_s() - t0;
	ck_assert_msg(dt < 0.9, "took %.2f s: waited for the stray job", dt);
	assert_no_children();
	assert_not_running("kid.pid");
}
END_TEST

START_TEST(test_cp_closed_output_still_timed)
{
	double t0 = now_s(), dt;

	ck_result(plain("closeout", "x"), POP23D_TEMPFAIL);
	dt = now_s() - t0;
	ck_assert_msg(dt >= 0.95 && dt < 2.0, "took %.2f s", dt);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_garbage_output)
{
	int lines = mock_host_lines;

	/* The exit status decides; the output is only logged (escaped). */
	ck_result(plain("garbage", "x"), POP23D_FAIL);
	ck_assert_int_gt(mock_host_lines, lines);
	ck_result(plain("chatty", "x"), POP23D_OK);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_flood_killed)
{
	double t0 = now_s(), dt;

	ck_result(plain("flood", "x"), POP23D_TEMPFAIL);
	dt = now_s() - t0;
	/* Killed at the 64 KiB cap, long before the timeout. */
	ck_assert_msg(dt < 0.9, "took %.2f s", dt);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_signal)
{
	ck_result(plain("segv", "x"), POP23D_TEMPFAIL);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_sigchld_ignored)
{
	double t0 = now_s(), dt;

	/* A host that ignores SIGCHLD loses the exit status: TEMPFAIL at
	 * once, not a wait for the deadline, and no stray kill. */
	ck_assert(signal(SIGCHLD, SIG_IGN) != SIG_ERR);
	ck_result(plain("ok", "secret"), POP23D_TEMPFAIL);
	dt = now_s() - t0;
	ck_assert_msg(dt < 0.9, "took %.2f s", dt);
	ck_assert(signal(SIGCHLD, SIG_DFL) != SIG_ERR);
	ck_result(plain("ok", "secret"), POP23D_OK);
}
END_TEST

START_TEST(test_cp_clean_start)
{
	const char *r;
	char want[64];
	int fd;

	/* A descriptor without close-on-exec, an environment variable and
	 * a cwd of ours: none of them may reach the program. */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, CANARY_FD), CANARY_FD);
	close(fd);
	ck_assert_int_eq(setenv("P23_SECRET_ENV", "leak", 1), 0);
	ck_assert_int_eq(chdir(tdir), 0);
	ck_result(plain("report", "x"), POP23D_OK);
	close(CANARY_FD);
	r = tread("report");
	ck_assert_msg(strstr(r, "argc=1\n") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "next=" CHECKPASSWORD_NEXT "\n") != NULL, "%s",
	    r);
	ck_assert_msg(strstr(r, "fd0=/dev/null\n") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "fd1=pipe:") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "fd2=pipe:") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "canary") == NULL, "%s", r);
	ck_assert_msg(strstr(r, "cwd=/\n") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "P23_SECRET_ENV") == NULL, "%s", r);
	ck_assert_msg(strstr(r, "env PATH=/usr/local/bin:/usr/bin:/bin\n") !=
	    NULL, "%s", r);
	/* Its own process group (killed as a whole at the deadline). */
	r = strstr(r, "pgid=");
	ck_assert_ptr_nonnull(r);
	snprintf(want, sizeof want, "pid=%ld", strtol(r + 5, NULL, 10));
	ck_assert_msg(strstr(r, want) != NULL, "%s", r);
	assert_no_children();
}
END_TEST

START_TEST(test_cp_input_bounded)
{
	char user[300], pass[300];

	/* 299 + 1 + 299 + 1 + 0 + 1 > 512: refused, the program never
	 * runs. */
	memset(user, 'u', sizeof user - 1);
	user[sizeof user - 1] = '\0';
	memset(pass, 'p', sizeof pass - 1);
	pass[sizeof pass - 1] = '\0';
	ck_result(plain(user, pass), POP23D_FAIL);
	ck_assert(!texists("ran"));
	/* 412 octets in all: it runs. */
	pass[sizeof pass - 1 - 90] = '\0';
	user[200] = '\0';
	ck_result(plain(user, pass), POP23D_FAIL);
	ck_assert(texists("ran"));
}
END_TEST

START_TEST(test_cp_apop)
{
	const char *digest = "0123456789abcdef0123456789abcdef";
	char ran[PATH_MAX];

	/* Off by default: the program is not even asked. */
	ck_result(plug->auth->verify_apop("apop", "<1.2@test>", digest),
	    POP23D_FAIL);
	ck_assert(!texists("ran"));
	mock_host_set("checkpassword", "apop", "yes");
	check_ok();
	ck_result(plug->auth->verify_apop("apop", "<1.2@test>", digest),
	    POP23D_OK);
	ck_result(plug->auth->verify_apop("apop", "<9.9@test>", digest),
	    POP23D_FAIL);
	/* Not an RFC 1939 digest: refused before the program. */
	unlink(tpath(ran, sizeof ran, "ran"));
	ck_result(plug->auth->verify_apop("apop", "<1.2@test>",
	    "0123456789ABCDEF0123456789ABCDEF"), POP23D_FAIL);
	ck_result(plug->auth->verify_apop("apop", "<1.2@test>", "secret"),
	    POP23D_FAIL);
	ck_assert(!texists("ran"));
}
END_TEST

START_TEST(test_cp_program_checked)
{
	/* Writable by others: refused at check_config() and at run time. */
	ck_assert_int_eq(chmod(prog_path, 0757), 0);
	check_fails("program");
	ck_result(plain("ok", "secret"), POP23D_TEMPFAIL);
	ck_assert(!texists("ran"));
	ck_assert_int_eq(chmod(prog_path, 0600), 0);
	check_fails("Permission denied");
	ck_assert_int_eq(unlink(prog_path), 0);
	check_fails("No such file");
}
END_TEST

START_TEST(test_cp_settings)
{
	static const struct {
		const char *key, *value, *want;
	} bad[] = {
		{ "program", "relative/path", "absolute" },
		{ "program", "", "not set" },
		{ "timeout", "0", "timeout" },
		{ "timeout", "31", "timeout" },
		{ "timeout", "5s", "timeout" },
		{ "timeout", "+5", "timeout" },
		{ "needs_root", "maybe", "needs_root" },
		{ "apop", "1", "apop" },
		{ "userdb", "ldap", "userdb" },
		{ "min_uid", "500", "min_uid needs userdb = passwd" },
		{ "home", "relative/%u", "absolute" },
		{ "home", "/var/vmail/%h", "%u" },
		{ "home", "/var/vmail/%", "%u" },
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mock_host_reset();
		mock_host_set("checkpassword", "program", prog_path);
		mock_host_set("checkpassword", "userdb", "virtual");
		mock_host_set("checkpassword", bad[i].key, bad[i].value);
		check_fails(bad[i].want);
		/* Unusable settings: every call is TEMPFAIL. */
		ck_result(plain("ok", "secret"), POP23D_TEMPFAIL);
	}
	mock_host_reset();
	mock_host_set("checkpassword", "program", prog_path);
	mock_host_set("checkpassword", "home", "/var/vmail/%u");
	check_fails("home needs userdb = virtual");
	mock_host_set("checkpassword", "home", NULL);
	mock_host_set("checkpassword", "min_uid", "0");
	check_fails("root");
	mock_host_set("checkpassword", "min_uid", "500");
	check_ok();
}
END_TEST

START_TEST(test_cp_lookup_virtual)
{
	struct pop23d_identity id;

	memset(&id, 0x55, sizeof id);
	ck_result(plug->auth->lookup("ok", &id), POP23D_OK);
	ck_assert(id.uid == (uid_t)-1);
	ck_assert(id.gid == (gid_t)-1);
	ck_assert_str_eq(id.home, "");
	ck_assert_str_eq(id.maildrop, "");
	mock_host_set("checkpassword", "home", "/srv/vmail/%u/%%x");
	check_ok();
	ck_result(plug->auth->lookup("ok", &id), POP23D_OK);
	ck_assert_str_eq(id.home, "/srv/vmail/ok/%x");
	/* A name that would leave the template's directory. */
	ck_result(plug->auth->lookup("../root", &id), POP23D_PERMFAIL);
	ck_result(plug->auth->lookup("a/b", &id), POP23D_PERMFAIL);
	ck_result(plug->auth->lookup(".hidden", &id), POP23D_PERMFAIL);
	ck_assert_str_eq(id.home, "");
}
END_TEST

START_TEST(test_cp_userdb_passwd)
{
	struct pop23d_identity id;
	struct passwd *pw;

	mock_host_set("checkpassword", "userdb", "passwd");
	check_ok();
	/* Root's password is never tried: refused before the program. */
	ck_result(plain("root", "secret"), POP23D_FAIL);
	ck_assert(!texists("ran"));
	ck_result(plug->auth->lookup("root", &id), POP23D_PERMFAIL);
	/* A system account (uid below 1000) likewise. */
	if ((pw = getpwnam("daemon")) != NULL && pw->pw_uid < 1000) {
		ck_result(plain("daemon", "secret"), POP23D_FAIL);
		ck_assert(!texists("ran"));
		ck_result(plug->auth->lookup("daemon", &id), POP23D_PERMFAIL);
	}
	/* Unknown to the user database: NOUSER, no program. */
	ck_result(plain("p23-no-such-user", "secret"), POP23D_NOUSER);
	ck_result(plug->auth->lookup("p23-no-such-user", &id),
	    POP23D_NOUSER);
	ck_assert(!texists("ran"));
	/* nobody (65534) is above min_uid: the program decides. */
	if ((pw = getpwnam("nobody")) != NULL && pw->pw_uid >= 1000 &&
	    pw->pw_gid != 0) {
		ck_result(plain("nobody", "secret"), POP23D_OK);
		ck_assert_str_eq(tread("ran"), "nobody\n");
		ck_result(plug->auth->lookup("nobody", &id), POP23D_OK);
		ck_assert_int_eq((long)id.uid, (long)pw->pw_uid);
		ck_assert_int_eq((long)id.gid, (long)pw->pw_gid);
		ck_assert_str_eq(id.home, pw->pw_dir);
		ck_assert_str_eq(id.maildrop, "");
		/* Unless min_uid says otherwise. */
		mock_host_set("checkpassword", "min_uid", "65535");
		check_ok();
		ck_result(plug->auth->lookup("nobody", &id), POP23D_PERMFAIL);
	}
}
END_TEST

/* --------------------------------------------------------------- pam */

static void
pam_setup(void)
{
	tdir = test_tmpdir();
	mock_host_reset();
	load("auth_pam.so");
	check_ok();
}

START_TEST(test_pam_descriptor)
{
	ck_assert_uint_eq(plug->abi, POP23D_PLUGIN_ABI);
	ck_assert_uint_eq(plug->api_built, POP23D_PLUGIN_API);
	ck_assert_str_eq(plug->name, "pam");
	ck_assert_ptr_null(plug->auth->verify_apop);
	ck_assert_uint_eq(plug->flags,
	    POP23D_PLUGIN_F_NEEDS_ROOT | POP23D_PLUGIN_F_BLOCKING);
	ck_assert_int_eq(plugin_init(POP23D_PLUGIN_ABI + 1, &mock_host,
	    &plug), -1);
}
END_TEST

START_TEST(test_pam_settings)
{
	static const struct {
		const char *key, *value, *want;
	} bad[] = {
		{ "service", "", "service" },
		{ "service", "../etc/passwd", "service" },
		{ "service", ".hidden", "service" },
		{ "service", "a b", "service" },
		{ "service", "x234567890123456789012345678901234567890"
		    "12345678901234567890123456", "service" },
		{ "min_uid", "0", "root" },
		{ "min_uid", "-1", "decimal" },
		{ "min_uid", "4294967295", "too large" },
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mock_host_reset();
		mock_host_set("pam", bad[i].key, bad[i].value);
		check_fails(bad[i].want);
		ck_result(plain("nobody", "secret"), POP23D_TEMPFAIL);
	}
	mock_host_reset();
	mock_host_set("pam", "service", "pop23d-test_1.x");
	mock_host_set("pam", "min_uid", "4294967294");
	check_ok();
}
END_TEST

START_TEST(test_pam_refused_before_pam)
{
	struct pop23d_identity id;
	struct passwd *pw;
	int lines;

	/* Root never reaches PAM: FAIL (the same reply as a wrong
	 * password), one log line saying why. */
	lines = mock_host_lines;
	ck_result(plain("root", "anything"), POP23D_FAIL);
	ck_assert_int_eq(mock_host_lines, lines + 1);
	ck_result(plug->auth->lookup("root", &id), POP23D_PERMFAIL);
	if ((pw = getpwnam("daemon")) != NULL && pw->pw_uid < 1000) {
		ck_result(plain("daemon", "anything"), POP23D_FAIL);
		ck_result(plug->auth->lookup("daemon", &id), POP23D_PERMFAIL);
	}
	ck_result(plain("p23-no-such-user", "x"), POP23D_NOUSER);
	ck_result(plug->auth->lookup("p23-no-such-user", &id), POP23D_NOUSER);
	/* Longer than PAM's reply limit: refused, whoever asks. */
	{
		char pass[600];

		memset(pass, 'p', sizeof pass - 1);
		pass[sizeof pass - 1] = '\0';
		ck_result(plain("nobody", pass), POP23D_FAIL);
	}
	ck_result(plain("nobody", ""), POP23D_FAIL);
}
END_TEST

START_TEST(test_pam_lookup)
{
	struct pop23d_identity id;
	struct passwd *pw = getpwnam("nobody");

	if (pw == NULL || pw->pw_uid < 1000 || pw->pw_gid == 0)
		return;		/* no usable "nobody" on this system */
	memset(&id, 0x55, sizeof id);
	ck_result(plug->auth->lookup("nobody", &id), POP23D_OK);
	ck_assert_int_eq((long)id.uid, (long)pw->pw_uid);
	ck_assert_int_eq((long)id.gid, (long)pw->pw_gid);
	ck_assert_str_eq(id.home, pw->pw_dir);
	ck_assert_str_eq(id.maildrop, "");
	mock_host_set("pam", "min_uid", "65535");
	check_ok();
	ck_result(plug->auth->lookup("nobody", &id), POP23D_PERMFAIL);
}
END_TEST

Suite *
suite_auth_sys(void)
{
	Suite *s = suite_create("auth_sys");
	TCase *tc;

	tc = tcase_create("checkpassword");
	tcase_add_checked_fixture(tc, cp_setup, cp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_cp_descriptor);
	tcase_add_test(tc, test_cp_needs_root_flag);
	tcase_add_test(tc, test_cp_accept_refuse);
	tcase_add_test(tc, test_cp_tempfail);
	tcase_add_test(tc, test_cp_hang_killed);
	tcase_add_test(tc, test_cp_hang_kills_group);
	tcase_add_test(tc, test_cp_stray_killed);
	tcase_add_test(tc, test_cp_closed_output_still_timed);
	tcase_add_test(tc, test_cp_garbage_output);
	tcase_add_test(tc, test_cp_flood_killed);
	tcase_add_test(tc, test_cp_signal);
	tcase_add_test(tc, test_cp_sigchld_ignored);
	tcase_add_test(tc, test_cp_clean_start);
	tcase_add_test(tc, test_cp_input_bounded);
	tcase_add_test(tc, test_cp_apop);
	tcase_add_test(tc, test_cp_program_checked);
	tcase_add_test(tc, test_cp_settings);
	tcase_add_test(tc, test_cp_lookup_virtual);
	tcase_add_test(tc, test_cp_userdb_passwd);
	suite_add_tcase(s, tc);

	tc = tcase_create("pam");
	tcase_add_checked_fixture(tc, pam_setup, cp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_pam_descriptor);
	tcase_add_test(tc, test_pam_settings);
	tcase_add_test(tc, test_pam_refused_before_pam);
	tcase_add_test(tc, test_pam_lookup);
	suite_add_tcase(s, tc);
	return s;
}
