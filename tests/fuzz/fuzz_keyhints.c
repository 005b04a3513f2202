/*
 * fuzz_keyhints.c - libFuzzer target: key_hints() (src/keyhints.c), the
 * parser of the ",S=<stored size>,W=<CRLF size>" hints in a Maildir
 * unique name.  Whoever can deliver into a maildrop chooses the name, so
 * the name is hostile input to the session that lists it.
 *
 * The input, up to its first NUL, is the key (an exact-size copy, so
 * ASan sees any read past its end).  Besides the sanitizers the target
 * aborts unless key_hints() agrees with an independent model of the rules
 * written here from the comment in keyhints.c (split at ',' with memchr,
 * numbers by counting significant digits and strtoull), an accepted hint
 * obeys S <= W <= 2 S + 2 and W < 2^40, a refusal leaves the outputs
 * untouched, and the accepted sizes written back as
 * "KEY-PREFIX,S=s,W=w" give the same sizes again.
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyhints.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is [P, P+N) a hint field "S=<digit>..." or "W=<digit>..."? */
static int
is_hint_field(const char *p, size_t n)
{
	return n >= 3 && (p[0] == 'S' || p[0] == 'W') && p[1] == '=' &&
	    p[2] >= '0' && p[2] <= '9';
}

/*
 * The value of the digits [P, P+N) (all checked to be digits), or -1 if
 * a non-digit is among them or the value is at or over KEY_HINT_MAX.
 */
static int
model_number(const char *p, size_t n, uint64_t *v)
{
	char buf[32];
	size_t i, sig;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	while (n > 0 && *p == '0') {	/* leading zeros say nothing */
		p++;
		n--;
	}
	/* 2^40 = 1099511627776 has 13 digits: 14 or more are over it. */
	sig = n;
	if (sig > 13)
		return -1;
	memcpy(buf, p, sig);
	buf[sig] = '\0';
	*v = sig == 0 ? 0 : strtoull(buf, NULL, 10);
	return *v >= KEY_HINT_MAX ? -1 : 0;
}

/* The rules of keyhints.c, written a second way. */
static int
model(const char *key, size_t len, uint64_t *size_r, uint64_t *raw_r)
{
	const char *p = memchr(key, ',', len), *end = key + len, *f, *c;
	uint64_t v, s = 0, w = 0;
	int have_s = 0, have_w = 0;

	if (p == NULL)
		return 0;
	for (f = p + 1; f <= end; f = c + 1) {
		size_t n;

		c = memchr(f, ',', (size_t)(end - f));
		if (c == NULL)
			c = end;
		n = (size_t)(c - f);
		if (is_hint_field(f, n)) {
			if (model_number(f + 2, n - 2, &v) != 0)
				return 0;
			if (f[0] == 'S' && !have_s) {
				s = v;
				have_s = 1;
			} else if (f[0] == 'W' && !have_w) {
				w = v;
				have_w = 1;
			}
		}
	}
	if (!have_s || !have_w || w < s || w > 2 * s + 2)
		return 0;
	*size_r = w;
	*raw_r = s;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t untouched = 0xdeadbeefcafef00dULL;
	uint64_t hs = untouched, hr = untouched, ms, mr, s2, r2;
	const char *comma;
	char *key, *again;
	size_t len, plen;
	int got, want;

	len = strnlen((const char *)data, size);
	if ((key = malloc(len + 1)) == NULL)
		return 0;
	memcpy(key, data, len);
	key[len] = '\0';

	got = key_hints(key, &hs, &hr);
	want = model(key, len, &ms, &mr);
	if (got != want)
		abort();
	if (got == 1) {
		if (hs != ms || hr != mr)
			abort();
		if (hr > hs || hs > 2 * hr + 2 || hs >= KEY_HINT_MAX)
			abort();
		/* The sizes written back into a name read the same. */
		comma = strchr(key, ',');
		plen = (size_t)(comma - key);
		if ((again = malloc(plen + 64)) == NULL)
			abort();
		snprintf(again, plen + 64, "%.*s,S=%llu,W=%llu", (int)plen,
		    key, (unsigned long long)hr, (unsigned long long)hs);
		if (key_hints(again, &s2, &r2) != 1 || s2 != hs || r2 != hr)
			abort();
		free(again);
	} else if (hs != untouched || hr != untouched) {
		abort();
	}
	free(key);
	return 0;
}
