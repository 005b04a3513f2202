/*
 * fuzz_maildir_list.c - libFuzzer target: the listing record of the
 * "maildir" storage plugin (plugins/maildir_list.c, compiled in here),
 * which a login reads from the user's Maildir and so treats as hostile.
 * Each input is checked twice: as it is (the CRCs stop almost
 * everything), and with its two CRC-32C fields recomputed, so the fuzzer
 * reaches the checks behind them.  Besides "no crash, no sanitizer
 * report", whatever the header decode and the entry walk accept must be
 * what store_maildir.c relies on: every key 1..255 octets with no NUL,
 * '/' or ':' and no leading '.', every info without NUL or '/', the whole
 * name at most NAME_MAX octets, and encoding the header and the entries
 * again gives the input back octet for octet.
 * Runs as whoever runs the fuzzer (the plugin runs as the mail user).
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#include "../../plugins/maildir_list.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const uint8_t *orig;	/* the entries as they were in the input */
	size_t off;
	uint32_t n;
};

static int
check_ent(void *arg, int dir, char *key, size_t keylen, char *info)
{
	struct ctx *c = arg;
	unsigned char out[3 + NAME_MAX + 2];
	size_t il = info != NULL ? strlen(info) : 0, n;

	if (keylen == 0 || keylen > 255 || strlen(key) != keylen ||
	    key[0] == '.' || strpbrk(key, "/:") != NULL ||
	    (info != NULL && strchr(info, '/') != NULL) ||
	    keylen + (info != NULL ? 1 + il : 0) > NAME_MAX ||
	    (dir != 0 && dir != 1))
		abort();
	n = md_list_ent_encode(dir, key, keylen, info, out);
	if (memcmp(out, c->orig + c->off, n) != 0)
		abort();
	c->off += n;
	c->n++;
	return 0;
}

static void
one(const uint8_t *buf, size_t size)
{
	struct md_list_hdr h;
	struct ctx c;
	unsigned char hb[MD_LIST_HDR_LEN], *ents;
	size_t len;

	if (md_list_hdr_decode(buf, size, &h) != 0)
		return;
	md_list_hdr_encode(&h, hb);
	if (memcmp(hb, buf, sizeof hb) != 0)
		abort();
	len = size - MD_LIST_HDR_LEN;
	if (h.ents_len != len)
		return;		/* store_maildir.c checks the file size */
	/* the walk writes nothing, but is handed a private copy, as the
	 * plugin hands it its own buffer */
	if ((ents = malloc(len + 1)) == NULL)
		return;
	memcpy(ents, buf + MD_LIST_HDR_LEN, len);
	memset(&c, 0, sizeof c);
	c.orig = buf + MD_LIST_HDR_LEN;
	if (md_list_ents_walk(ents, len, h.count, h.ents_crc, 255, check_ent,
	    &c) == 0 && (c.n != h.count || c.off != len))
		abort();
	free(ents);
}

/* The listing record: its header, then where its length and CRC fields
 * are (maildir_list.h). */
static const struct fuzz_crc_layout layout = {
	MD_LIST_HDR_LEN, 104, 112, 124
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_crc_twice(data, size, &layout, one);
	return 0;
}
