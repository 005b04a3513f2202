/*
 * keyhints.c - size hints in a storage key.  Many Maildir deliverers
 * (Dovecot's LDA and LMTP, Courier's maildrop, ...) put ",S=<stored
 * octets>" and ",W=<octets with CRLF line ends>" into the unique name, and
 * the key is that name (the part before ':'); Dovecot takes its sizes from
 * them.  With both present and consistent (S <= W <= 2 S + 2, the bounds
 * of the CRLF rule of crlf.h) a login needs neither to read the message
 * nor to look it up in the index (maildrop.c, load_msg()).
 *
 * The rules, over the ','-separated fields after the first ',':
 *   - a field "S=" or "W=" followed by a decimal digit is a hint; it must
 *     be all digits up to the next ',' or the end, and below KEY_HINT_MAX,
 *     or the whole key has no hint (a name that says "S=12x" or
 *     "S=99999999999999999999" is not trusted for anything);
 *   - the first S= and the first W= count; repeats are ignored;
 *   - every other field (flags, "M=", "S=" without digits) is ignored;
 *   - no S= or no W=, or W < S, or W > 2 S + 2: no hint.
 * A hint is only a claim of whoever named the file: maildrop_msg_open()
 * measures a hinted message before anything of it is sent.
 *
 * Fuzzed by tests/fuzz/fuzz_keyhints.c against an independent model of
 * these rules; unit tests in tests/unit/check_maildrop.c.
 * PRIVILEGE: pure computation; called by the session (the mail user).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "keyhints.h"

int
key_hints(const char *key, uint64_t *size_r, uint64_t *raw_r)
{
	const char *p = strchr(key, ',');
	uint64_t v, s = 0, w = 0;
	int have_s = 0, have_w = 0;
	char tag;

	/* One pass over the ",X=..." fields after the first ','. */
	while (p != NULL) {
		p++;
		tag = p[0];
		if ((tag != 'S' && tag != 'W') || p[1] != '=' ||
		    p[2] < '0' || p[2] > '9') {
			p = strchr(p, ',');
			continue;
		}
		for (v = 0, p += 2; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v >= KEY_HINT_MAX)
				return 0;
		}
		if (*p != '\0' && *p != ',')
			return 0;
		if (tag == 'S' && !have_s) {
			s = v;
			have_s = 1;
		} else if (tag == 'W' && !have_w) {
			w = v;
			have_w = 1;
		}
		if (*p == '\0')
			break;
	}
	if (!have_s || !have_w || w < s || w > 2 * s + 2)
		return 0;
	*size_r = w;
	*raw_r = s;
	return 1;
}
