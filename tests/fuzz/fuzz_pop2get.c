/*
 * fuzz_pop2get.c - libFuzzer target: pop2get(1) against a hostile POP2
 * server (src/pop2get.c, compiled in here so its static reply parser,
 * login, FOLD, READ/RETR/ACK loop and delivery can be driven directly).
 * The input is everything the server sends, over a real socketpair (the
 * server's end then closes); the first octet picks the options: folder,
 * --list, --delete, and the destination (mbox, Maildir or stdout, the
 * last into /dev/null).  pop2get's commands are read off and dropped.
 * Runs as whoever runs the fuzzer (pop2get runs as its user).
 */
#include "config.h"

#include "fuzz.h"

int pop2get_main(int argc, char **argv);
#define main pop2get_main
#include "../../src/pop2get.c"
#undef main

/* run() with the connection already made (FD) and stdout as /dev/null. */
static int
fuzz_run(const struct opts *o, int fd, char *secret)
{
	char qline[CMD_MAX + 1], quser[CMD_MAX];
	struct conn c;
	struct sink k;
	uint64_t count;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&k, 0, sizeof(k));
	c.fd = fd;
	c.timeout_ms = o->timeout * 1000;
	k.kind = o->dest;
	k.path = o->dest_path;
	k.fd = -1;
	if ((rc = helo_line(o, secret, qline, quser)) != 0)
		return rc;
	if (o->dest != DEST_NONE && sink_open(&k) == -1)
		return EX_DELIVERY;
	if (k.kind == DEST_STDOUT && (k.fd = dup(fuzz_null_fd())) == -1)
		fuzz_die("dup");
	if ((rc = login(&c, qline, quser, &count)) != 0)
		goto out;
	if (o->folder != NULL && (rc = fold(&c, o->folder, &count)) != 0)
		goto out;
	if (o->list && (rc = list_sizes(&c, count, stderr)) != 0)
		goto out;
	rc = fetch_all(&c, &k, o, count);
out:
	if (k.kind == DEST_STDOUT) {
		sink_flush(&k);
		close(k.fd);
		k.fd = -1;
	}
	sink_close(&k);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dest dests[] = {
		DEST_MBOX, DEST_MAILDIR, DEST_STDOUT, DEST_NONE,
	};
	char path[512], secret[] = "pass word\\";
	struct opts o;
	int sv[2], ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	/* One socket buffer holds it all: the server sends, then closes. */
	if (size > 65536)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.user = "fuzz user";
	o.folder = ctl & 1 ? "old mail" : NULL;
	o.list = (ctl & 2) != 0;
	o.delete = (ctl & 4) != 0;
	o.dest = dests[(ctl >> 3) & 3];
	o.timeout = 5;
	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(),
	    o.dest == DEST_MAILDIR ? "Maildir" : "mbox");
	o.dest_path = path;
	(void)fuzz_rmtree(path);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		fuzz_die("socketpair");
	/* Room for all of pop2get's commands without reading them. */
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 },
	    sizeof(int));
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 },
	    sizeof(int));
	if (size > 0 && write(sv[1], data, size) != (ssize_t)size)
		fuzz_die("write to pop2get");
	shutdown(sv[1], SHUT_WR);
	(void)fuzz_run(&o, sv[0], secret);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
