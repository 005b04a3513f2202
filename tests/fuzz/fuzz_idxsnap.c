/*
 * fuzz_idxsnap.c - libFuzzer target: the snapshot of the index's message
 * records (src/idxsnap.c), which a login reads from the user's index
 * directory and so treats as hostile (doc/SECURITY.md D7c).  Each input
 * is checked twice: as it is (the CRCs stop almost everything), and with
 * its length and two CRC-32C fields recomputed, so the fuzzer reaches the
 * checks behind them.  Besides "no crash, no sanitizer report", whatever
 * the header decode and the entry walk accept must be what index.c
 * relies on: a value length of 1-255, every key 1..keymax octets with no
 * NUL, the walk delivering exactly the header's count over exactly its
 * length, and encoding the header and the entries again giving the input
 * back octet for octet.
 * Runs as whoever runs the fuzzer (index.c runs as the mail user).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "idxsnap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* index.c's limit: "m:" and a storage key of up to 4096 octets. */
#define KEYMAX		(2 + 4096)

struct ctx {
	const uint8_t *orig;	/* the entries as they were in the input */
	size_t off;
	uint32_t n, vlen;
};

static int
check_ent(void *arg, const char *key, size_t klen, const unsigned char *val)
{
	struct ctx *c = arg;
	unsigned char out[2 + KEYMAX + IDXSNAP_VAL_MAX];
	size_t n;

	if (klen == 0 || klen > KEYMAX || memchr(key, '\0', klen) != NULL)
		abort();
	n = idxsnap_ent_encode(key, klen, val, c->vlen, out);
	if (n == 0 || memcmp(out, c->orig + c->off, n) != 0)
		abort();
	c->off += n;
	c->n++;
	return 0;
}

static void
one(const uint8_t *buf, size_t size)
{
	struct idxsnap_hdr h;
	struct ctx c;
	unsigned char hb[IDXSNAP_HDR_LEN], *ents;
	size_t len;

	if (idxsnap_hdr_decode(buf, size, &h) != 0)
		return;
	if (h.vlen == 0 || h.vlen > IDXSNAP_VAL_MAX ||
	    h.count > IDXSNAP_COUNT_MAX || h.id.mtime_ns >= 1000000000u ||
	    h.id.ctime_ns >= 1000000000u)
		abort();
	idxsnap_hdr_encode(&h, hb);
	if (memcmp(hb, buf, sizeof hb) != 0)
		abort();
	len = size - IDXSNAP_HDR_LEN;
	if (h.ents_len != len)
		return;		/* index.c checks the file size */
	/* a private copy of exactly the entries, so that ASan sees any
	 * read past them */
	if ((ents = malloc(len + 1)) == NULL)
		return;
	memcpy(ents, buf + IDXSNAP_HDR_LEN, len);
	memset(&c, 0, sizeof c);
	c.orig = buf + IDXSNAP_HDR_LEN;
	c.vlen = h.vlen;
	if (idxsnap_ents_walk(ents, &h, KEYMAX, check_ent, &c) == 0 &&
	    (c.n != h.count || c.off != len))
		abort();
	free(ents);
}

/* The snapshot's header, then where its length and CRC fields are
 * (idxsnap.h). */
static const struct fuzz_crc_layout layout = {
	IDXSNAP_HDR_LEN, 80, 88, 124
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_crc_twice(data, size, &layout, one);
	return 0;
}
