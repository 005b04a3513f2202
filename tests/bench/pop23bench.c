/*
 * pop23bench - POP2 and POP3 session-rate benchmark for the same work.
 *
 * popload (tests/bench/popload.c) speaks only POP3; this tool runs the same
 * fetch-everything session over POP3 (USER/PASS, STAT, RETR n..., QUIT) and
 * over POP2 (HELO, then READ/RETR/ACKS for every message, QUIT), in
 * alternating phases against the same maildrops, so the two rates come
 * from one run.  It is written in C so the client is not the bottleneck
 * (a Python client was: it measured its own interpreter).  Every message is
 * verified: POP2 must deliver exactly the announced "=n" octets; POP3's
 * unstuffed octets must equal the "+OK n octets" count.  With -M DIR (the
 * manifests of gen-maildrops.py, one file per user of "length crc32"
 * lines) every message must also be one of that user's messages byte for
 * byte: the CRC-32 and length of the POP2 octets, and of POP3's unstuffed
 * CRLF lines, must match a manifest line (both protocols send the message
 * in its CRLF form; only POP3 stuffs dots).
 *
 *   pop23bench -2 POP2PORT -3 POP3PORT -F users.txt [-M DIR] [-c THREADS]
 *              [-t SECS] [-r ROUNDS] [--style ack|fetchmail] [--control]
 *
 * users.txt: "user:password" lines.  Only 127.0.0.0/8 is contacted.  Each
 * phase stops after -t seconds; the whole run after ROUNDS x 2 phases.
 * Prints "RESULT proto=... sess_per_s=... errors=..." lines and a ratio.
 *
 * --control adds a third phase to every round: POP3 with the same round
 * trips per message as the POP2 dialogue, the extra ones cheap commands
 * where POP2 has its cheap ones.  POP2's "ack" dialogue makes two per
 * message (RETR with its data, ACKS), so its control sends "RETR n" and
 * "NOOP" (style=retr-noop); the fetchmail dialogue makes three (READ n,
 * RETR, ACKS), so its control sends "LIST n", "RETR n" and "NOOP"
 * (style=list-retr-noop; LIST's size must equal RETR's octets).  The
 * control's rate against plain POP3 is what the round trips cost on their
 * own (client, kernel, one more wake-up of each side); POP2's rate
 * against the control's is what POP2's server code costs beyond them.
 * Extra lines: "RESULT proto=pop3 style=<control> ...", then "RATIO
 * pop2/pop3-control" and "RATIO pop3-control/pop3".  Every RESULT line
 * ends with round=N (0-based).
 *
 * GPL-3.0-or-later.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	(256 * 1024)

/* a session's result: counted as a session, an error, a wrong message */
#define S_OK		0
#define S_ERR		(-1)
#define S_VERIFY	(-2)

struct conn {
	int fd;
	char *buf;
	size_t start, end;
};

static int o_pop2 = 1109, o_pop3 = 1110, o_threads = 16, o_rounds = 2;
static double o_secs = 8;
static int o_fetchmail;		/* POP2 style: READ n before every RETR */
static int o_control;		/* a POP3 phase with POP2's round trips */
static char **users, **passes;
static int nusers;
static const char *o_manifest;

struct msgsum {
	unsigned long long len;
	unsigned int crc;
};

/* per user: the delivered messages, sorted by crc, then length */
static struct msgsum **sums;
static size_t *nsums;
static unsigned int crc_table[256];

static volatile int stop_flag;
/* the last failure of any thread, for stderr (a race only garbles it) */
static char last_err[256];

static void
note_err(int proto, int u, const char *what, const char *line)
{
	snprintf(last_err, sizeof last_err, "pop%d %s: %s: %.120s", proto,
	    users[u], what, line);
}
static int phase_proto;		/* 2 or 3 */
/* POP3 phase: 0 plain; CTL_NOOP: NOOP after every RETR; CTL_LIST too:
 * LIST n before every RETR n */
#define CTL_NOOP	1
#define CTL_LIST	2
static int phase_ctl;

struct stats {
	long sessions, messages, errors, verify;
	double bytes;
};

static void
crc_init(void)
{
	unsigned int c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (unsigned int)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* zlib-compatible CRC-32 (as gen-maildrops.py writes it), continued */
static unsigned int
crc_update(unsigned int crc, const char *p, size_t len)
{
	const unsigned char *q = (const unsigned char *)p;

	crc = ~crc & 0xffffffffU;
	while (len-- > 0)
		crc = crc_table[(crc ^ *q++) & 0xff] ^ (crc >> 8);
	return ~crc & 0xffffffffU;
}

static int
cmp_sum(const void *a, const void *b)
{
	const struct msgsum *x = a, *y = b;

	if (x->crc != y->crc)
		return x->crc < y->crc ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return 0;
}

/* Is (len, crc) one of user U's messages?  Always yes without -M. */
static int
delivered(int u, long len, unsigned int crc)
{
	struct msgsum key;

	if (o_manifest == NULL)
		return 1;
	key.len = (unsigned long long)len;
	key.crc = crc;
	return bsearch(&key, sums[u], nsums[u], sizeof key, cmp_sum) != NULL;
}

static void
load_manifest(int u)
{
	char path[4096], line[128];
	unsigned long long len;
	unsigned int crc;
	size_t cap = 64;
	FILE *fp;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", o_manifest,
	    users[u]) >= sizeof path || strchr(users[u], '/') != NULL) {
		fprintf(stderr, "pop23bench: bad user name for -M\n");
		exit(2);
	}
	if ((fp = fopen(path, "r")) == NULL) {
		perror(path);
		exit(2);
	}
	sums[u] = malloc(cap * sizeof **sums);
	while (sums[u] != NULL && fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%llu %x", &len, &crc) != 2) {
			fprintf(stderr, "%s: bad line\n", path);
			exit(2);
		}
		if (nsums[u] == cap) {
			cap *= 2;
			sums[u] = realloc(sums[u], cap * sizeof **sums);
			if (sums[u] == NULL)
				break;
		}
		sums[u][nsums[u]].len = len;
		sums[u][nsums[u]].crc = crc;
		nsums[u]++;
	}
	if (sums[u] == NULL)
		exit(2);
	fclose(fp);
	qsort(sums[u], nsums[u], sizeof **sums, cmp_sum);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
conn_open(struct conn *c, int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { 30, 0 };

	c->start = c->end = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(c->fd);
		return -1;
	}
	return 0;
}

static int
fill(struct conn *c)
{
	ssize_t r;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == BUFSZ)
		return -1;
	r = read(c->fd, c->buf + c->end, BUFSZ - c->end);
	if (r <= 0)
		return -1;
	c->end += (size_t)r;
	return 0;
}

/* One line without CRLF into line (NUL-terminated); 0 or -1. */
static int
get_line(struct conn *c, char *line, size_t sz)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);

		if (nl != NULL) {
			size_t n = (size_t)(nl - (c->buf + c->start));
			size_t k = n > 0 && nl[-1] == '\r' ? n - 1 : n;

			if (k >= sz)
				k = sz - 1;
			memcpy(line, c->buf + c->start, k);
			line[k] = '\0';
			c->start += n + 1;
			return 0;
		}
		if (fill(c) != 0)
			return -1;
	}
}

static int
put(struct conn *c, const char *s)
{
	size_t len = strlen(s);

	return write(c->fd, s, len) == (ssize_t)len ? 0 : -1;
}

static int
cmd(struct conn *c, const char *s, char *line, size_t sz)
{
	if (put(c, s) != 0)
		return -1;
	return get_line(c, line, sz);
}

/* POP2: read exactly n octets, their CRC-32 into *crc. */
static int
read_exact(struct conn *c, long n, unsigned int *crc)
{
	while (n > 0) {
		size_t have = c->end - c->start;

		if (have == 0) {
			if (fill(c) != 0)
				return -1;
			continue;
		}
		if ((long)have > n)
			have = (size_t)n;
		if (o_manifest != NULL)
			*crc = crc_update(*crc, c->buf + c->start, have);
		c->start += have;
		n -= (long)have;
	}
	return 0;
}

/* POP3: read a dot-terminated response, return unstuffed octets; the
 * CRC-32 of those into *crc. */
static long
read_multi(struct conn *c, unsigned int *crc)
{
	char *line = malloc(BUFSZ);
	long total = 0;

	if (line == NULL)
		return -1;
	for (;;) {
		char *nl, *p;
		size_t n;

		while ((nl = memchr(c->buf + c->start, '\n',
		    c->end - c->start)) == NULL)
			if (fill(c) != 0) {
				free(line);
				return -1;
			}
		p = c->buf + c->start;
		n = (size_t)(nl - p) + 1;
		c->start += n;
		if (n == 3 && p[0] == '.' && p[1] == '\r') {
			free(line);
			return total;
		}
		if (p[0] == '.') {
			n--;	/* unstuff */
			p++;
		}
		if (o_manifest != NULL)
			*crc = crc_update(*crc, p, n);
		total += (long)n;
	}
}

static int
pop3_session(struct conn *c, int u, int ctl, struct stats *st)
{
	char line[1024] = "";
	long n, i, size, lsize = -1, num;

	if (conn_open(c, o_pop3) != 0)
		return -1;
	if (get_line(c, line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	snprintf(line, sizeof line, "USER %s\r\n", users[u]);
	if (cmd(c, line, line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	snprintf(line, sizeof line, "PASS %s\r\n", passes[u]);
	if (cmd(c, line, line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	if (cmd(c, "STAT\r\n", line, sizeof line) != 0 ||
	    sscanf(line, "+OK %ld", &n) != 1)
		goto bad;
	for (i = 1; i <= n; i++) {
		unsigned int crc = 0;
		long got;

		if (ctl & CTL_LIST) {
			snprintf(line, sizeof line, "LIST %ld\r\n", i);
			if (cmd(c, line, line, sizeof line) != 0 ||
			    sscanf(line, "+OK %ld %ld", &num, &lsize) != 2 ||
			    num != i)
				goto bad;
		}
		snprintf(line, sizeof line, "RETR %ld\r\n", i);
		if (cmd(c, line, line, sizeof line) != 0 ||
		    sscanf(line, "+OK %ld", &size) != 1)
			goto bad;
		got = read_multi(c, &crc);
		if (got != size || !delivered(u, got, crc) ||
		    ((ctl & CTL_LIST) && lsize != size)) {
			note_err(3, u, "not a delivered message", "RETR");
			close(c->fd);
			return S_VERIFY;
		}
		st->messages++;
		st->bytes += (double)size;
		if ((ctl & CTL_NOOP) && (cmd(c, "NOOP\r\n", line,
		    sizeof line) != 0 || strncmp(line, "+OK", 3) != 0))
			goto bad;
	}
	if (cmd(c, "QUIT\r\n", line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	close(c->fd);
	return 0;
bad:
	note_err(3, u, "unexpected reply or I/O error", line);
	close(c->fd);
	return -1;
}

static int
pop2_session(struct conn *c, int u, struct stats *st)
{
	char line[1024] = "";
	long n, i, size;
	unsigned int crc;

	if (conn_open(c, o_pop2) != 0)
		return -1;
	if (get_line(c, line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	snprintf(line, sizeof line, "HELO %s %s\r\n", users[u], passes[u]);
	if (cmd(c, line, line, sizeof line) != 0 ||
	    sscanf(line, "#%ld", &n) != 1)
		goto bad;
	/* ack style: one READ, then each ACKS announces the next size */
	if (!o_fetchmail && n > 0 &&
	    (cmd(c, "READ\r\n", line, sizeof line) != 0 ||
	    sscanf(line, "=%ld", &size) != 1))
		goto bad;
	for (i = 1; i <= n; i++) {
		if (o_fetchmail) {
			snprintf(line, sizeof line, "READ %ld\r\n", i);
			if (cmd(c, line, line, sizeof line) != 0 ||
			    sscanf(line, "=%ld", &size) != 1)
				goto bad;
		}
		crc = 0;
		if (size <= 0 || put(c, "RETR\r\n") != 0 ||
		    read_exact(c, size, &crc) != 0)
			goto bad;
		if (!delivered(u, size, crc)) {
			note_err(2, u, "not a delivered message", "RETR");
			close(c->fd);
			return S_VERIFY;
		}
		st->messages++;
		st->bytes += (double)size;
		if (cmd(c, "ACKS\r\n", line, sizeof line) != 0 ||
		    sscanf(line, "=%ld", &size) != 1)
			goto bad;
	}
	if (cmd(c, "QUIT\r\n", line, sizeof line) != 0 || line[0] != '+')
		goto bad;
	close(c->fd);
	return 0;
bad:
	note_err(2, u, "unexpected reply or I/O error", line);
	close(c->fd);
	return -1;
}

struct worker {
	pthread_t tid;
	int id;
	struct stats st;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn c;
	int u = w->id % nusers;

	c.buf = malloc(BUFSZ);
	if (c.buf == NULL)
		return NULL;
	while (!stop_flag) {
		int r = phase_proto == 2 ? pop2_session(&c, u, &w->st) :
		    pop3_session(&c, u, phase_ctl, &w->st);

		if (r == S_OK)
			w->st.sessions++;
		else if (r == S_VERIFY)
			w->st.verify++;
		else
			w->st.errors++;
		/* threads use users id, id+T, id+2T ... : no two concurrent
		 * sessions share a maildrop (POP locks it) */
		u += o_threads;
		if (u >= nusers)
			u = w->id % nusers;
	}
	free(c.buf);
	return NULL;
}

/* The POP3 control's name (see the head of this file). */
static const char *
ctl_name(int ctl)
{
	if (ctl == 0)
		return "-";
	return (ctl & CTL_LIST) ? "list-retr-noop" : "retr-noop";
}

static double
run_phase(int proto, int ctl, int round)
{
	struct worker *w = calloc((size_t)o_threads, sizeof *w);
	struct stats tot = { 0, 0, 0, 0, 0 };
	double t0, t1, rate;
	int i;

	if (w == NULL)
		exit(2);
	stop_flag = 0;
	phase_proto = proto;
	phase_ctl = ctl;
	/* the last sessions of the phase before may still hold their
	 * maildrop locks for a moment after +OK to QUIT (the process
	 * exits after it): untimed pause, so no session gets [IN-USE] */
	usleep(500000);
	last_err[0] = '\0';
	t0 = now();
	for (i = 0; i < o_threads; i++) {
		w[i].id = i;
		pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
	}
	while (now() - t0 < o_secs)
		usleep(50000);
	stop_flag = 1;
	for (i = 0; i < o_threads; i++) {
		pthread_join(w[i].tid, NULL);
		tot.sessions += w[i].st.sessions;
		tot.messages += w[i].st.messages;
		tot.errors += w[i].st.errors;
		tot.verify += w[i].st.verify;
		tot.bytes += w[i].st.bytes;
	}
	t1 = now();
	rate = tot.sessions / (t1 - t0);
	printf("RESULT proto=pop%d style=%s threads=%d secs=%.2f sessions=%ld "
	    "sess_per_s=%.1f msgs_per_s=%.1f MB_per_s=%.2f errors=%ld "
	    "err_verify=%ld verify=%s round=%d\n",
	    proto, proto == 2 ? (o_fetchmail ? "fetchmail" : "ack") :
	    ctl_name(ctl),
	    o_threads, t1 - t0, tot.sessions, rate,
	    tot.messages / (t1 - t0), tot.bytes / 1e6 / (t1 - t0),
	    tot.errors + tot.verify, tot.verify,
	    o_manifest != NULL ? "manifest" : "size", round);
	fflush(stdout);
	if (tot.errors + tot.verify > 0)
		fprintf(stderr, "pop23bench: last error: %s\n", last_err);
	free(w);
	return rate;
}

static void
load_users(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[512];

	if (fp == NULL) {
		perror(path);
		exit(2);
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		char *colon = strchr(line, ':');

		line[strcspn(line, "\r\n")] = '\0';
		if (colon == NULL)
			continue;
		*colon = '\0';
		users = realloc(users, sizeof *users * (size_t)(nusers + 1));
		passes = realloc(passes, sizeof *passes * (size_t)(nusers + 1));
		if (users == NULL || passes == NULL)
			exit(2);
		users[nusers] = strdup(line);
		passes[nusers] = strdup(colon + 1);
		nusers++;
	}
	fclose(fp);
	if (nusers == 0) {
		fprintf(stderr, "%s: no user:password lines\n", path);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "style", required_argument, NULL, 's' },
		{ "manifest", required_argument, NULL, 'M' },
		{ "control", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL;
	double r2 = 0, r3 = 0, rc = 0;
	int ch, i, ctl;

	while ((ch = getopt_long(argc, argv, "2:3:F:M:c:t:r:", lo, NULL)) != -1) {
		switch (ch) {
		case '2': o_pop2 = atoi(optarg); break;
		case '3': o_pop3 = atoi(optarg); break;
		case 'F': file = optarg; break;
		case 'M': o_manifest = optarg; break;
		case 'c': o_threads = atoi(optarg); break;
		case 't': o_secs = atof(optarg); break;
		case 'r': o_rounds = atoi(optarg); break;
		case 's': o_fetchmail = strcmp(optarg, "fetchmail") == 0; break;
		case 'C': o_control = 1; break;
		default:
			fprintf(stderr, "usage: pop23bench -2 PORT -3 PORT -F "
			    "users.txt [-M DIR] [-c N] [-t SECS] [-r ROUNDS] "
			    "[--style ack|fetchmail] [--control]\n");
			return 2;
		}
	}
	if (file == NULL || o_threads < 1 || o_threads > 256 ||
	    o_secs <= 0 || o_secs > 600 || o_rounds < 1 || o_rounds > 20) {
		fprintf(stderr, "pop23bench: need -F users.txt; 1..256 "
		    "threads, 0..600 s, 1..20 rounds\n");
		return 2;
	}
	load_users(file);
	crc_init();
	if (o_manifest != NULL) {
		sums = calloc((size_t)nusers, sizeof *sums);
		nsums = calloc((size_t)nusers, sizeof *nsums);
		if (sums == NULL || nsums == NULL)
			return 2;
		for (i = 0; i < nusers; i++)
			load_manifest(i);
	}
	/* the control's round trips per message are the POP2 dialogue's */
	ctl = o_fetchmail ? CTL_NOOP | CTL_LIST : CTL_NOOP;
	for (i = 0; i < o_rounds; i++) {
		/* alternate the order so neither protocol always goes first;
		 * the control, if any, runs between the two */
		if (i % 2 == 0) {
			r3 += run_phase(3, 0, i);
			if (o_control)
				rc += run_phase(3, ctl, i);
			r2 += run_phase(2, 0, i);
		} else {
			r2 += run_phase(2, 0, i);
			if (o_control)
				rc += run_phase(3, ctl, i);
			r3 += run_phase(3, 0, i);
		}
	}
	printf("RATIO pop2/pop3 style=%s %.3f\n",
	    o_fetchmail ? "fetchmail" : "ack", r3 > 0 ? r2 / r3 : 0);
	if (o_control) {
		printf("RATIO pop2/pop3-control style=%s control=%s %.3f\n",
		    o_fetchmail ? "fetchmail" : "ack", ctl_name(ctl),
		    rc > 0 ? r2 / rc : 0);
		printf("RATIO pop3-control/pop3 style=%s control=%s %.3f\n",
		    o_fetchmail ? "fetchmail" : "ack", ctl_name(ctl),
		    r3 > 0 ? rc / r3 : 0);
	}
	return 0;
}
