/*
 * fuzz_mbox_cache.c - libFuzzer target: the offset record of the "mbox"
 * storage plugin (plugins/mbox_cache.c, compiled in here), which a login
 * reads from a directory of the user and so treats as hostile.  Each
 * input is checked twice: as it is (the CRCs stop almost everything),
 * and with its two CRC-32C fields recomputed, so the fuzzer reaches the
 * structural checks behind them.  Besides "no crash, no sanitizer
 * report", whatever mbox_cache_decode() accepts must satisfy what
 * store_mbox.c relies on: the entries tile [first from, len) in order,
 * from < body <= hend <= end <= next, only the first can be c-client's
 * internal message, every key is a UIDL, and encoding the header and the
 * entries again gives the input back octet for octet.
 * Runs as whoever runs the fuzzer (the plugin runs as the mail user).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "../../plugins/mbox_cache.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const uint8_t *buf;
	size_t size, off;
	uint64_t len, expect;
	uint32_t n;
};

static int
check_ent(const struct mbox_cache_ent *e, void *arg)
{
	struct ctx *c = arg;
	unsigned char out[MBOX_CACHE_ENT_MAX];
	size_t kl = strlen(e->key), i, n;

	if ((c->n > 0 && e->from != c->expect) || e->from >= e->body ||
	    e->body > e->hend || e->hend > e->end || e->end > e->next ||
	    e->next > c->len || kl == 0 || kl > MBOX_UIDL_MAX ||
	    ((e->flags & MBOX_F_INTERNAL) && c->n != 0))
		abort();
	for (i = 0; i < kl; i++)
		if (e->key[i] < 0x21 || e->key[i] > 0x7e)
			abort();
	n = mbox_cache_ent_encode(e, out);
	if (c->off + n > c->size || memcmp(out, c->buf + c->off, n) != 0)
		abort();
	c->off += n;
	c->expect = e->next;
	c->n++;
	return 0;
}

static void
one(const uint8_t *buf, size_t size)
{
	struct mbox_cache_hdr h;
	struct ctx c;
	unsigned char hb[MBOX_CACHE_HDR_LEN];

	memset(&c, 0, sizeof c);
	c.buf = buf;
	c.size = size;
	c.off = MBOX_CACHE_HDR_LEN;
	if (size >= MBOX_CACHE_HDR_LEN)
		c.len = get64(buf + 28);
	if (mbox_cache_decode(buf, size, &h, check_ent, &c) != 0)
		return;
	mbox_cache_hdr_encode(&h, hb);
	if (c.n != h.count || c.off != size || c.expect != h.len ||
	    memcmp(hb, buf, sizeof hb) != 0)
		abort();
}

/* The offset record: its header, no length field, where its CRC fields
 * are (mbox_cache.h). */
static const struct fuzz_crc_layout layout = {
	MBOX_CACHE_HDR_LEN, 0, 80, 92
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_crc_twice(data, size, &layout, one);
	return 0;
}
