/*
 * fuzz_b64.c - libFuzzer target: the strict base64 of POP3 AUTH
 * (src/b64.c), which the pre-auth child runs on every AUTH argument and
 * response line.  Besides the sanitizers it checks properties: text that
 * decodes is canonical (encoding the result gives the same text back);
 * any octets encode to text that decodes to them again; the decoder
 * never writes past the size it was given (a buffer one octet short
 * makes it refuse).
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include "b64.h"
#include "fuzz.h"

#define IN_MAX	4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char dec[IN_MAX];
	static char enc[B64_ENCODED_LEN(IN_MAX) + 1];
	long n, e;

	if (size > IN_MAX)
		return 0;
	/* as text: decode, then encode back */
	n = b64_decode((const char *)data, size, dec, sizeof(dec));
	if (n >= 0) {
		e = b64_encode(dec, (size_t)n, enc, sizeof(enc));
		if (e != (long)size || memcmp(enc, data, size) != 0)
			abort();	/* accepted a non-canonical form */
		if (n > 0 && b64_decode((const char *)data, size, dec,
		    (size_t)n - 1) != -1)
			abort();	/* wrote past the size it was given */
	}
	/* as octets: encode, then decode back */
	e = b64_encode(data, size, enc, sizeof(enc));
	if (e != (long)B64_ENCODED_LEN(size))
		abort();
	n = b64_decode(enc, (size_t)e, dec, sizeof(dec));
	if (n != (long)size || memcmp(dec, data, size) != 0)
		abort();
	return 0;
}
