/*
 * fuzz_mbox_parse.c - libFuzzer target: the mbox parser of the "mbox"
 * storage plugin (plugins/mbox_parse.c, compiled in here).  The input is
 * the mbox file.  Besides "no crash, no sanitizer report", every parse
 * must satisfy what store_mbox.c relies on for UPDATE:
 *   - the messages tile the file after the preamble: the first starts
 *     at the preamble's end, each next_off is the following from_off,
 *     the last ends at the end of the buffer;
 *   - from_off < body_off <= end_off <= next_off (body_off may equal the
 *     end of the buffer for a separator without a newline);
 *   - every from_off starts a line that mbox_is_from_line() accepts;
 *   - an X-UIDL is a valid UIDL; hdr_len fits the message; only the
 *     first message can be c-client's internal one;
 *   - a second parse with another base gives the same offsets shifted.
 * Runs as whoever runs the fuzzer (the plugin runs as the mail user).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "../../plugins/mbox_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEEP	256

struct ctx {
	const uint8_t *buf;
	size_t size;
	uint64_t base, expect_from;
	long n;
	struct mbox_msg first[KEEP];
};

static int
check_one(const struct mbox_msg *m, void *arg)
{
	struct ctx *c = arg;
	uint64_t from = m->from_off - c->base, body = m->body_off - c->base;
	uint64_t end = m->end_off - c->base, next = m->next_off - c->base;
	size_t i, e;

	if (m->from_off < c->base || m->from_off != c->expect_from + c->base)
		abort();
	if (!(from < body || body == c->size) || body > end || end > next ||
	    next > c->size)
		abort();
	if (from > 0 && c->buf[from - 1] != '\n')
		abort();
	for (e = (size_t)from; e < c->size && c->buf[e] != '\n'; e++)
		;
	if (!mbox_is_from_line(c->buf + from, e - (size_t)from))
		abort();
	if (m->hdr_len > end - body)
		abort();
	if ((m->flags & MBOX_F_INTERNAL) && c->n != 0)
		abort();
	if (m->flags & MBOX_F_UIDL) {
		size_t l = strlen(m->uidl);

		if (l < 1 || l > MBOX_UIDL_MAX)
			abort();
		for (i = 0; i < l; i++)
			if (m->uidl[i] < 0x21 || m->uidl[i] > 0x7e)
				abort();
	} else if (m->uidl[0] != '\0')
		abort();
	if (c->base == 0 && c->n < KEEP)
		c->first[c->n] = *m;
	else if (c->base != 0 && c->n < KEEP) {
		const struct mbox_msg *f = &c->first[c->n];

		if (f->from_off + c->base != m->from_off ||
		    f->body_off + c->base != m->body_off ||
		    f->end_off + c->base != m->end_off ||
		    f->next_off + c->base != m->next_off ||
		    f->flags != m->flags || f->hdr_len != m->hdr_len)
			abort();
	}
	c->expect_from = next;
	c->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctx c;
	uint64_t pre;
	long n1, n2;

	memset(&c, 0, sizeof c);
	c.buf = data;
	c.size = size;
	n1 = mbox_parse(data, size, 0, NULL, NULL, &pre);
	c.expect_from = pre;
	if (mbox_parse(data, size, 0, check_one, &c, &pre) != n1 ||
	    c.n != n1 || (n1 > 0 ? c.expect_from != size : pre != size))
		abort();
	c.base = (uint64_t)1 << 40;
	c.expect_from = pre;
	c.n = 0;
	n2 = mbox_parse(data, size, c.base, check_one, &c, NULL);
	if (n2 != n1)
		abort();
	return 0;
}
