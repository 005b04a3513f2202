/*
 * fuzz_wire.c - libFuzzer target: a stored message on its way to the
 * client (src/crlf.c, src/wire.c, src/msgstream.c).  Message contents are
 * the one input anyone on the internet can put on the server (by mailing
 * it), and the session target only sends fixed messages, so this target
 * sends the fuzz input as the message and checks the result against an
 * independent model of the rules (crlf.h, RFC 1939 section 3, RFC 937):
 *   - the line-end rule: CRLF stays, a bare LF becomes CRLF, a bare CR is
 *     an ordinary octet, an unterminated last line gets CRLF;
 *   - crlf_count() over chunks of any size gives the same size;
 *   - POP3: the output is the message dot-stuffed plus ".\r\n"; TOP n:
 *     the header, the blank line and at most n body lines;
 *   - POP2: exactly the message octets;
 *   - never more message octets than the announced size; a wrong size is
 *     reported as stale.
 * Octet 0: bits 0-1 the mode (RETR, TOP, POP2), bits 2-3 the announced
 * size (exact, one less, one more), bits 4-7 TOP's line count and the
 * chunk size for crlf_count(); the rest is the stored message.
 * Runs as whoever runs the fuzzer (the session runs as the mail user).
 */
#include "config.h"

#include "crlf.h"
#include "defaults.h"
#include "fuzz.h"
#include "msgstream.h"
#include "net.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct bytes *b, const void *p, size_t len)
{
	if (b->p == NULL || b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			fuzz_die("realloc");
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

/*
 * The model: the message's lines (text without line end) after the rule.
 * Returns their count; STARTS[i], LENS[i] index into M.
 */
static size_t
model_lines(const unsigned char *m, size_t n, size_t *starts, size_t *lens)
{
	size_t i = 0, nl = 0, s = 0;

	while (i < n) {
		if (m[i] == '\n' || (m[i] == '\r' && i + 1 < n &&
		    m[i + 1] == '\n')) {
			starts[nl] = s;
			lens[nl++] = i - s;
			i += m[i] == '\r' ? 2 : 1;
			s = i;
		} else
			i++;
	}
	if (s < n) {		/* an unterminated last line */
		starts[nl] = s;
		lens[nl++] = n - s;
	}
	return nl;
}

static uint64_t
counted(const unsigned char *m, size_t n, size_t chunk)
{
	struct crlf c;
	uint64_t total = 0;
	size_t i, k;

	crlf_init(&c);
	for (i = 0; i < n; i += k) {
		k = n - i < chunk ? n - i : chunk;
		total += crlf_count(&c, (const char *)m + i, k);
	}
	return total + crlf_count_end(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *m;
	size_t n, nl, i, sent_lines, *starts, *lens;
	struct bytes want = { NULL, 0, 0 };
	struct msgstream in;
	struct net out;
	enum wire_mode mode;
	uint64_t exact, announced;
	long lines;
	int ctl, infd, outfd, stale, rc, top;
	const char *err;
	unsigned char *got;
	off_t glen;

	if (size < 1)
		return 0;
	ctl = data[0];
	m = data + 1;
	n = size - 1;
	if ((starts = calloc(n + 1, sizeof(*starts))) == NULL ||
	    (lens = calloc(n + 1, sizeof(*lens))) == NULL)
		fuzz_die("calloc");
	nl = model_lines(m, n, starts, lens);
	put(&want, "", 0);	/* never NULL, even when empty */

	/* The size: every line and its CRLF. */
	exact = 0;
	for (i = 0; i < nl; i++)
		exact += lens[i] + 2;
	if (counted(m, n, 1 + (size_t)(ctl >> 4)) != exact ||
	    counted(m, n, n + 1) != exact || counted(m, n, 1) != exact)
		abort();

	top = (ctl & 3) == 1;
	mode = (ctl & 3) == 2 ? WIRE_POP2 : WIRE_POP3;
	lines = top ? (long)(ctl >> 4) : -1;
	announced = exact;
	if ((ctl & 0x0c) == 4 && exact > 0)
		announced = exact - 1;
	else if ((ctl & 0x0c) == 8)
		announced = exact + 1;

	/* What the client should get when the size is right. */
	sent_lines = nl;
	if (top) {
		/* The header: up to and with the first empty line (all of
		 * the message if it has none); then LINES body lines. */
		for (i = 0; i < nl && lens[i] != 0; i++)
			;
		if (i < nl)
			i++;
		sent_lines = i + ((size_t)lines < nl - i ? (size_t)lines :
		    nl - i);
	}
	for (i = 0; i < sent_lines; i++) {
		if (mode == WIRE_POP3 && lens[i] > 0 && m[starts[i]] == '.')
			put(&want, ".", 1);
		put(&want, m + starts[i], lens[i]);
		put(&want, "\r\n", 2);
	}
	if (mode == WIRE_POP3)
		put(&want, ".\r\n", 3);

	infd = fuzz_input_fd(m, n);
	outfd = fuzz_input_fd(NULL, 0);
	msgstream_init(&in, infd, 0, (off_t)n);
	net_init(&out, -1, outfd, INPUT_BUF_MAX, 1);
	rc = wire_send(&out, &in, mode, lines, announced, &stale, &err);
	if (net_flush(&out) != 0)
		abort();
	net_free(&out);
	msgstream_close(&in);

	glen = lseek(outfd, 0, SEEK_END);
	if ((got = malloc((size_t)glen + 1)) == NULL)
		fuzz_die("malloc");
	if (pread(outfd, got, (size_t)glen, 0) != glen)
		fuzz_die("pread");
	close(outfd);

	if (announced == exact) {
		if (rc != 0 || stale || (size_t)glen != want.len ||
		    memcmp(got, want.p, want.len) != 0)
			abort();
	} else if (!top && (rc == 0 || !stale))
		abort();	/* a wrong size never goes unnoticed */
	else if (rc == 0 && ((size_t)glen != want.len ||
	    memcmp(got, want.p, want.len) != 0))
		abort();	/* TOP done before the size mattered */
	if (rc != 0 && (size_t)glen > want.len + 3)
		abort();
	free(got);
	free(want.p);
	free(starts);
	free(lens);
	return 0;
}
