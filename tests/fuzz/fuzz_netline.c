/*
 * fuzz_netline.c - libFuzzer target: the line reader (src/net.c over
 * src/buf.c), as both front ends use it.  The input is what a client
 * sends; the first octet picks the line limit and whether a hand-over
 * (net_preload()) comes first.  Checks: a line is never longer than the
 * limit and holds no NUL or LF; the reader always ends (EOF).
 * Runs as whoever runs the fuzzer.
 */
#include "config.h"

#include "defaults.h"
#include "fuzz.h"
#include "net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { POP3_LINE_MAX, POP2_LINE_MAX, 1, 8 };
	char line[POP2_LINE_MAX + 1];
	struct net n;
	size_t maxlen, len, pre = 0, guard = 0;
	enum net_status st;
	int fd;

	if (size < 1)
		return 0;
	maxlen = limits[data[0] & 3];
	if (data[0] & 4) {
		/* Part of the input arrives as a hand-over from the
		 * pre-auth process, the rest from the connection. */
		pre = size - 1 < 100 ? size - 1 : 100;
		pre = (data[0] >> 3) % (pre + 1);
	}
	fd = fuzz_input_fd(data + 1 + pre, size - 1 - pre);
	net_init(&n, fd, fuzz_null_fd(), INPUT_BUF_MAX, 1);
	if (pre > 0 && net_preload(&n, data + 1, pre) != 0)
		abort();	/* 100 octets always fit */
	for (;;) {
		if (++guard > size + 2)
			abort();	/* every call consumes input or ends */
		st = net_readline(&n, line, maxlen, &len, 1);
		if (st == NET_LINE) {
			if (len > maxlen || strlen(line) != len ||
			    memchr(line, '\n', len) != NULL)
				abort();
			(void)net_line_pending(&n);
			(void)net_printf(&n, "+OK %s\r\n", line);
			continue;
		}
		if (st == NET_TOOLONG || st == NET_NUL)
			continue;
		if (st != NET_EOF)
			abort();	/* a memfd neither times out nor fails */
		break;
	}
	net_flush(&n);
	net_free(&n);
	close(fd);
	return 0;
}
