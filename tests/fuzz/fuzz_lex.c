/*
 * fuzz_lex.c - libFuzzer target: the lexical rules the daemon and
 * pop2get(1) share (src/lex.c: strict numbers, RFC 937 quoting) and the
 * command splitting and number rules of the dispatcher (src/proto.c),
 * and the escaping of client bytes for the log (src/log.c).
 * Besides the sanitizers it checks properties: quoting then unquoting
 * gives the input back; a number that parses prints back as the same
 * digits; the dispatcher's words never hold a space; an escaped or
 * sanitized log text is printable ASCII, fits its buffer, and (uncut)
 * unescapes to the input.
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include <inttypes.h>

#include "fuzz.h"
#include "i18n.h"
#include "lex.h"
#include "log.h"
#include "proto.h"

#define LINE_MAX_	1024

static int
fn_any(void *fe, char **argv, int argc)
{
	int i;

	(void)fe;
	for (i = 0; i < argc; i++)
		if (argc > 1 && (argv[i][0] == '\0' ||
		    strchr(argv[i], ' ') != NULL))
			abort();	/* a word holds a space or is empty */
	return argc;
}

/* A table like the front ends' (states 0 and 1, every argument rule). */
static const struct proto_cmd table[] = {
	{ "USER", PROTO_STATE(0), 1, 1, fn_any },
	{ "PASS", PROTO_STATE(0), 0, PROTO_REST, fn_any },
	{ "APOP", PROTO_STATE(0), 2, 2, fn_any },
	{ "LIST", PROTO_STATE(1), 0, 1, fn_any },
	{ "TOP", PROTO_STATE(1), 2, 2, fn_any },
	{ "QUIT", PROTO_STATE(0) | PROTO_STATE(1), 0, 0, fn_any },
	{ "HELO", PROTO_STATE(0), 1, PROTO_REST, fn_any },
	{ NULL, 0, 0, 0, NULL },
};

static int
refuse(void *fe, enum proto_verdict v, const struct proto_cmd *cmd)
{
	(void)fe;
	if ((v == PROTO_UNKNOWN) != (cmd == NULL))
		abort();
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* log_escape() and log_sanitize() on all of DATA (NULs included). */
static void
check_log(const uint8_t *data, size_t size)
{
	char out[4 * 64 + 8], small[16];
	const char *o;
	size_t i, k;

	(void)log_escape((const char *)data, size, out, sizeof(out));
	for (o = out; *o != '\0'; o++)
		if (*o < 0x20 || *o > 0x7e)
			abort();
	if ((size_t)(o - out) >= sizeof(out))
		abort();
	if (size * 4 + 1 <= sizeof(out) - 4) {
		/* Not cut: decoding \xHH gives the input back. */
		for (o = out, k = 0; *o != '\0'; k++) {
			int c = (unsigned char)*o, h, l;

			if (c == '\\') {
				if (o[1] != 'x' || (h = hexval(o[2])) < 0 ||
				    (l = hexval(o[3])) < 0)
					abort();
				c = h * 16 + l;
				o += 4;
			} else
				o++;
			if (k >= size || data[k] != c)
				abort();
		}
		if (k != size)
			abort();
	}
	for (i = 4; i < sizeof(small); i += 5) {
		(void)log_escape((const char *)data, size, small, i);
		(void)log_sanitize((const char *)data, size, small, i);
		if (strlen(small) >= i)
			abort();
	}
	(void)log_sanitize((const char *)data, size, out, sizeof(out));
	for (o = out; *o != '\0'; o++)
		if (*o < 0x20 || *o > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[LINE_MAX_ + 1], q[LINE_MAX_ * 2 + 2], u[LINE_MAX_ + 1];
	char line[LINE_MAX_ + 1], back[32], *args;
	const char *p, *end;
	uint64_t n;
	unsigned long m;
	struct proto_call call;
	size_t len = size < LINE_MAX_ ? size : LINE_MAX_;
	unsigned state;

	check_log(data, size);
	memcpy(in, data, len);
	in[len] = '\0';			/* C string: up to the first NUL */

	/* Numbers: parse, print back, compare. */
	if (lex_number(in, UINT64_MAX, &n, &end) == 0) {
		snprintf(back, sizeof(back), "%" PRIu64, n);
		if ((size_t)(end - in) != strlen(back) ||
		    memcmp(in, back, strlen(back)) != 0)
			abort();
	}
	if (lex_number(in, 1000, &n, &end) == 0 && n > 1000)
		abort();
	if (proto_parse_msgnum(in, &m) == 0 && m == 0)
		abort();
	(void)proto_parse_count(in, &m);

	/* Quoting round trip, whole rest and word by word. */
	if (lex_quote(in, q, sizeof(q)) == 0) {
		p = q;
		if (in[0] == '\0') {
			if (lex_unquote(&p, u, sizeof(u), 1) == 0)
				abort();	/* an empty argument is refused */
		} else if (lex_unquote(&p, u, sizeof(u), 1) != 0 ||
		    strcmp(u, in) != 0 || *p != '\0')
			abort();
		p = q;
		if (in[0] != '\0' && (lex_unquote(&p, u, sizeof(u), 0) != 0 ||
		    strcmp(u, in) != 0))
			abort();	/* quoted spaces keep it one word */
	}
	/* Small output buffers: must fail cleanly, never overrun. */
	(void)lex_quote(in, q, 1 + (len % 7));
	p = in;
	while (lex_unquote(&p, u, 1 + (len % 13), 0) == 0)
		;
	p = in;
	while (lex_unquote(&p, u, sizeof(u), 0) == 0)
		;

	/* The dispatcher: split, look up, run in both states. */
	for (state = 0; state < 3; state++) {
		memcpy(line, in, len + 1);
		(void)proto_dispatch(table, state, line, NULL, refuse);
		memcpy(line, in, len + 1);
		(void)proto_lookup(table, state, line, &call);
	}
	memcpy(line, in, len + 1);
	(void)proto_split(line, &args);
	(void)proto_printable(in);

	/* RFC 6856: a name accepted with UTF-8 is well-formed UTF-8, one
	 * accepted without is printable ASCII; a LANG range selects a
	 * listed tag or nothing. */
	if (i18n_name_ok(in, 1) && !i18n_utf8_valid(in, strlen(in)))
		abort();
	if (i18n_name_ok(in, 0) && (!proto_printable(in) ||
	    strchr(in, ' ') != NULL))
		abort();
	{
		const struct i18n_lang *l = i18n_lang_select(in);

		if (l != NULL && strcmp(l->tag, "en") != 0)
			abort();
	}
	return 0;
}
