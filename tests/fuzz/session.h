/*
 * session.h - a whole client session in-process, for the POP3 and POP2
 * fuzz targets: the real front end (pop3.c / pop2.c), dispatcher
 * (proto.c), line reader (net.c), login records (login.c, ipc.c over a
 * real SOCK_SEQPACKET socketpair), hand-over (net_preload()), maildrop
 * core (maildrop.c, index.c) and wire layer (wire.c), on a fresh temp
 * Maildir with the real "maildir" storage plugin compiled in.
 *
 * What differs from the daemon, and why: no fork and no privilege
 * change (one process runs what the pre-auth child and the session run;
 * both parse client bytes unprivileged anyway); the monitor's verdicts
 * are queued in advance, chosen by the input's first octet (so the
 * fuzzer reaches TRANSACTION without guessing a password), and the
 * monitor's decoder (monitor_parse()) runs on every login record the
 * child sent, afterwards; the client is a memfd holding the rest of the
 * input (so it sends it all and closes; nothing waits) and its output
 * goes to /dev/null.
 * Runs as whoever runs the fuzzer.
 */
#ifndef POP23D_FUZZ_SESSION_H
#define POP23D_FUZZ_SESSION_H

#include <sys/socket.h>

#include "client.h"
#include "defaults.h"
#include "fuzz.h"
#include "ipc.h"
#include "login.h"
#include "plugin.h"
#include "session.h"

#include "../../plugins/store_maildir.c"
/* Built into the storage plugin beside it (Makefile.am). */
#include "../../plugins/foldername.c"
#include "../../plugins/maildir_list.c"

/* The maildrop every run starts from: the edge cases of the integration
 * tests (dot lines, bare LF, no final newline, empty, From_ lines, a
 * line longer than any limit, 8-bit), in new/ and cur/, and a folder. */
static const struct {
	const char *name;
	const char *text;
} fuzz_msgs[] = {
	{ "new/1700000001.M1P1.fuzz",
	  "From: a@b\r\nSubject: one\r\n\r\nbody\r\n.\r\n..two\r\n" },
	{ "new/1700000002.M2P2.fuzz",
	  "Subject: bare LF\n\nline\n.\nFrom me\n>From you\nlast" },
	{ "cur/1700000003.M3P3.fuzz:2,S", "" },
	{ "cur/1700000004.M4P4.fuzz:2,",
	  "Subject: mixed\r\n\n\r\r\n\xff\xfe 8bit\r\n\r\n.\r\n" },
	{ ".old/cur/1700000005.M5P5.fuzz:2,S",
	  "Subject: in a folder\r\n\r\nfolder body\r\n" },
};

struct fuzz_session {
	struct config cfg;
	const struct pop23d_plugin *store;
	char maildir[512];
	char bigmsg[600];
};

static struct fuzz_session fuzz_s;

static void
fuzz_session_init(const char *extra_conf)
{
	const char *err;

	fuzz_config(&fuzz_s.cfg, extra_conf);
	plugin_set_config(&fuzz_s.cfg);
	if (pop23d_plugin_init(POP23D_PLUGIN_ABI, plugin_host(),
	    &fuzz_s.store) != 0)
		abort();
	if (fuzz_s.store->check_config != NULL &&
	    fuzz_s.store->check_config(&err) != 0) {
		fprintf(stderr, "fuzz setup: maildir: %s\n", err);
		abort();
	}
	snprintf(fuzz_s.maildir, sizeof(fuzz_s.maildir), "%s/Maildir",
	    fuzz_dir());
	/* A line longer than POP2's 512-octet lines, no CRLF at all. */
	memset(fuzz_s.bigmsg, 'x', sizeof(fuzz_s.bigmsg) - 1);
	fuzz_s.bigmsg[sizeof(fuzz_s.bigmsg) - 1] = '\0';
}

/* A fresh maildrop (the last run may have deleted, read, indexed). */
static void
fuzz_maildrop_reset(void)
{
	static const char *const dirs[] = {
		"", "/new", "/cur", "/tmp", "/.old", "/.old/new",
		"/.old/cur", "/.old/tmp",
	};
	char path[1024];
	size_t i;

	if (fuzz_rmtree(fuzz_s.maildir) == -1)
		fuzz_die("rm Maildir");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", fuzz_s.maildir, dirs[i]);
		if (mkdir(path, 0700) == -1)
			fuzz_die(path);
	}
	for (i = 0; i < sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_s.maildir,
		    fuzz_msgs[i].name);
		if (fuzz_write_file(path, fuzz_msgs[i].text,
		    strlen(fuzz_msgs[i].text), 0600) == -1)
			fuzz_die(path);
	}
	snprintf(path, sizeof(path), "%s/cur/1700000006.M6P6.fuzz:2,",
	    fuzz_s.maildir);
	if (fuzz_write_file(path, fuzz_s.bigmsg, strlen(fuzz_s.bigmsg),
	    0600) == -1)
		fuzz_die(path);
}

/* Queue the monitor's verdicts: the attempt CTL & 3 is accepted (3: none
 * is), the others get FAIL, NOUSER, TEMPFAIL or PERMFAIL by CTL's upper
 * bits; after them the monitor is gone (EOF). */
static void
fuzz_queue_verdicts(int fd, unsigned ctl)
{
	static const enum pop23d_result fails[] = {
		POP23D_FAIL, POP23D_NOUSER, POP23D_TEMPFAIL, POP23D_PERMFAIL,
	};
	struct ipc_verdict v;
	unsigned i;

	for (i = 0; i < (unsigned)DEF_AUTH_FAILURES + 1; i++) {
		memset(&v, 0, sizeof(v));
		v.result = (uint32_t)(i == (ctl & 3) ? POP23D_OK :
		    fails[(ctl >> (2 + (i % 3) * 2)) & 3]);
		if (ipc_send(fd, IPC_VERDICT, &v, sizeof(v)) != 0)
			fuzz_die("queue verdict");
	}
	if (shutdown(fd, SHUT_WR) != 0)
		fuzz_die("shutdown");
}

/* The monitor's decoder on every login record the child sent, then the
 * hand-over if there is one.  Returns 1 with *H filled after a hand-over
 * with a valid length. */
static int
fuzz_monitor_drain(int fd, struct ipc_handover *h)
{
	struct ipc_login req;
	char buf[IPC_LOGIN_DATA_MAX + 1];
	const char *user, *secret;
	uint32_t type;

	/* Peek at each record's type; deadline 1 (long past): nothing
	 * here ever waits. */
	while (recv(fd, &type, sizeof(type), MSG_PEEK | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(type)) {
		if (type == IPC_HANDOVER)
			return ipc_recv(fd, IPC_HANDOVER, h, sizeof(*h),
			    1) == 0 && h->len <= sizeof(h->input);
		if (type != IPC_LOGIN ||
		    ipc_recv(fd, IPC_LOGIN, &req, sizeof(req), 1) != 0)
			abort();	/* our own child sent it */
		if (monitor_parse(&req, buf, &user, &secret, 1) == 0 &&
		    (strlen(user) > IPC_USER_MAX ||
		    strlen(secret) > IPC_SECRET_MAX))
			abort();
	}
	return 0;
}

/*
 * One session: DATA[0] picks the verdicts, the rest is the client's
 * input.  PREAUTH and POSTAUTH are the front end's two halves.
 */
static void
fuzz_session_run(const uint8_t *data, size_t size,
    enum client_exit (*preauth)(struct client *),
    void (*postauth)(struct client *), const char *apop)
{
	struct client c;
	struct ipc_handover *h;
	int sv[2], in;
	enum client_exit how;

	if (size < 1)
		return;
	fuzz_maildrop_reset();
	in = fuzz_input_fd(data + 1, size - 1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		fuzz_die("socketpair");
	fuzz_queue_verdicts(sv[0], data[0]);

	/* The pre-auth child's part. */
	memset(&c, 0, sizeof(c));
	c.cfg = &fuzz_s.cfg;
	c.apop_challenge = apop;
	c.ipc_fd = sv[1];
	/* A client on this host: plaintext logins allowed (plaintext_auth
	 * = loopback, login_plaintext_ok()), so inputs reach TRANSACTION. */
	c.loopback = 1;
	net_init(&c.net, in, fuzz_null_fd(), INPUT_BUF_MAX,
	    fuzz_s.cfg.write_timeout);
	how = preauth(&c);
	if (how == CLIENT_HANDOVER && login_handover(&c) != 0)
		abort();	/* the input buffer always fits the record */
	net_free(&c.net);

	/* The monitor's part, then the session as the mail user. */
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fuzz_die("calloc");
	if (fuzz_monitor_drain(sv[0], h) && how == CLIENT_HANDOVER) {
		memset(&c, 0, sizeof(c));
		c.cfg = &fuzz_s.cfg;
		c.apop_challenge = "";
		c.ipc_fd = -1;
		c.loopback = 1;
		c.user = "fuzz";
		c.store = fuzz_s.store->store;
		c.location = fuzz_s.maildir;
		net_init(&c.net, in, fuzz_null_fd(), INPUT_BUF_MAX,
		    fuzz_s.cfg.write_timeout);
		if (net_preload(&c.net, h->input, h->len) != 0)
			abort();
		postauth(&c);
		net_flush(&c.net);
		net_free(&c.net);
	} else if (how == CLIENT_HANDOVER)
		abort();	/* the child handed over, the monitor lost it */
	free(h);
	/* Closed only now: a SOCK_SEQPACKET end closed with records unread
	 * (verdicts not needed) resets the connection for its peer. */
	close(sv[1]);
	close(sv[0]);
	close(in);
}

#endif
