/*
 * fuzz_pop2.c - libFuzzer target: a whole POP2 session (RFC 937) from the
 * fuzz input, through the real front end, dispatcher, login records,
 * hand-over, maildrop (with a folder for FOLD) and wire layer, against a
 * fresh temp Maildir (tests/fuzz/session.h).  The first octet picks the
 * monitor's verdicts; the rest is what the client sends, e.g.
 * "HELO a b\r\nREAD 1\r\nRETR\r\nACKD\r\nFOLD old\r\nQUIT\r\n".
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include "pop2.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		fuzz_session_init("");
		ready = 1;
	}
	fuzz_session_run(data, size, pop2_preauth, pop2_postauth, "");
	return 0;
}
