/*
 * fuzz_pop3.c - libFuzzer target: a whole POP3 session (RFC 1939, 2449)
 * from the fuzz input, through the real front end, dispatcher, login
 * records, hand-over, maildrop and wire layer, against a fresh temp
 * Maildir (tests/fuzz/session.h says what differs from the daemon).  The
 * first octet picks the monitor's verdicts; the rest is what the client
 * sends, e.g. "USER a\r\nPASS b\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n".
 * APOP is offered, so the greeting has a timestamp and APOP is parsed.
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include "pop3.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		fuzz_session_init("apop = yes\n");
		ready = 1;
	}
	fuzz_session_run(data, size, pop3_preauth, pop3_postauth,
	    "<1234.5678@fuzz>");
	return 0;
}
