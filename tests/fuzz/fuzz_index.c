/*
 * fuzz_index.c - libFuzzer target: the per-maildrop index (src/index.c)
 * against hostile files.  The first octet picks the mode:
 *   0  the record decoder alone: a 22-octet record and a key (the CRC may
 *      be fixed up so the checks after it are reached); a record that
 *      decodes must encode back to the same octets;
 *   1  a well-formed GDBM file holding hostile keys and records (built
 *      with GDBM from the input: klen, key, vlen, value, ...), then
 *      index_open(), a lookup of every key, count, prune, store, sync;
 *   2  the input is the index file itself (GDBM's parser and every
 *      check around it), then the same operations.
 * In modes 1 and 2 the index is then opened once more: the close wrote
 * its snapshot (pop23d.index.snap), so that open takes the records from
 * it (src/idxsnap.c), and every key is looked up again.
 * Runs as whoever runs the fuzzer (as the daemon's session does, as the
 * mail user).
 */
#include "config.h"

#include <gdbm.h>

#include "crc32c.h"
#include "fuzz.h"
#include "index.h"

#define KEYS_MAX	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* CRC-32C over the key and bytes 0-17, stored big-endian in 18-21. */
static void
fix_crc(const char *key, unsigned char *rec)
{
	uint32_t c = crc32c(crc32c(0, key, strlen(key)), rec, 18);

	rec[18] = (unsigned char)(c >> 24);
	rec[19] = (unsigned char)(c >> 16);
	rec[20] = (unsigned char)(c >> 8);
	rec[21] = (unsigned char)c;
}

static void
decode_only(const uint8_t *d, size_t n, int fix)
{
	unsigned char rec[INDEX_REC_LEN], back[INDEX_REC_LEN];
	char key[256];
	struct index_rec r;
	size_t klen;

	if (n < INDEX_REC_LEN)
		return;
	memcpy(rec, d, INDEX_REC_LEN);
	klen = n - INDEX_REC_LEN < sizeof(key) - 1 ? n - INDEX_REC_LEN :
	    sizeof(key) - 1;
	memcpy(key, d + INDEX_REC_LEN, klen);
	key[klen] = '\0';
	if (fix)
		fix_crc(key, rec);
	if (index_decode(key, rec, INDEX_REC_LEN, &r) == 0 &&
	    (index_encode(key, &r, back) != INDEX_REC_LEN ||
	    memcmp(back, rec, INDEX_REC_LEN) != 0))
		abort();
	/* Every other length is refused. */
	if (index_decode(key, rec, INDEX_REC_LEN - 1, &r) == 0)
		abort();
	/* The LOGIN-DELAY record: what decodes encodes back the same. */
	{
		unsigned char lb[INDEX_LOGIN_LEN];
		int64_t t;

		if (index_login_decode(d, INDEX_LOGIN_LEN, &t) == 0 &&
		    (t < 0 || index_login_encode(t, lb) != INDEX_LOGIN_LEN ||
		    memcmp(lb, d, INDEX_LOGIN_LEN) != 0))
			abort();
		if (index_login_decode(d, INDEX_LOGIN_LEN - 1, &t) == 0)
			abort();
	}
}

static int
keep_odd(void *ctx, const char *key)
{
	(void)ctx;
	return strlen(key) & 1;
}

/* Open the index at PATH and use it as a session would. */
static void
use_index(const char *path, char keys[][256], size_t nkeys)
{
	struct index *idx;
	struct index_rec r;
	const char *err;
	int rebuilt;
	size_t i;

	if (index_open(path, &idx, &rebuilt, &err) != 0)
		return;
	for (i = 0; i < nkeys; i++)
		(void)index_lookup(idx, keys[i], &r);
	(void)index_count(idx);
	(void)index_prune(idx, keep_odd, NULL);
	memset(&r, 0, sizeof(r));
	r.size = 12;
	r.raw_size = 10;
	(void)index_store(idx, "1700000000.fuzz.host", &r);
	if (nkeys > 0)
		(void)index_delete(idx, keys[0]);
	(void)index_lookup(idx, "1700000000.fuzz.host", &r);
	(void)index_sync(idx);
	(void)index_damaged(idx);
	index_close(&idx);
	/* Again, from the snapshot the close just wrote. */
	if (index_open(path, &idx, &rebuilt, &err) != 0)
		return;
	for (i = 0; i < nkeys; i++)
		(void)index_lookup(idx, keys[i], &r);
	(void)index_lookup(idx, "1700000000.fuzz.host", &r);
	index_close(&idx);
}

static void
build_gdbm(const char *path, const uint8_t *d, size_t n, int fix,
    char keys[][256], size_t *nkeys)
{
	GDBM_FILE db;
	datum k, v;
	unsigned char val[256], kb[258];
	size_t klen, vlen;

	db = gdbm_open(path, 0, GDBM_NEWDB | GDBM_NOLOCK | GDBM_NOMMAP,
	    0600, NULL);
	if (db == NULL)
		fuzz_die("gdbm_open");
	*nkeys = 0;
	while (n >= 2 && *nkeys < KEYS_MAX) {
		klen = d[0];
		d++;
		n--;
		if (klen > n)
			klen = n;
		memcpy(kb, d, klen);
		d += klen;
		n -= klen;
		if (n == 0)
			break;
		vlen = d[0];
		d++;
		n--;
		if (vlen > n)
			vlen = n;
		memcpy(val, d, vlen);
		d += vlen;
		n -= vlen;
		/* Remember the storage key a lookup would use. */
		if (klen > 2 && memcmp(kb, "m:", 2) == 0) {
			memcpy(keys[*nkeys], kb + 2, klen - 2);
			keys[*nkeys][klen - 2] = '\0';
			if (fix && vlen == INDEX_REC_LEN)
				fix_crc(keys[*nkeys], val);
			(*nkeys)++;
		}
		k.dptr = (char *)kb;
		k.dsize = (int)klen;
		v.dptr = (char *)val;
		v.dsize = (int)vlen;
		if (klen > 0)
			(void)gdbm_store(db, k, v, GDBM_REPLACE);
	}
	gdbm_close(db);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char keys[KEYS_MAX][256];
	char path[512];
	size_t nkeys = 0;
	int mode, fix;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	fix = (data[0] & 0x80) != 0;
	data++;
	size--;
	if (mode == 0) {
		decode_only(data, size, fix);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/pop23d.index" INDEX_SNAP_SUFFIX,
	    fuzz_dir());
	(void)unlink(path);	/* the last input's snapshot */
	snprintf(path, sizeof(path), "%s/pop23d.index", fuzz_dir());
	(void)unlink(path);
	if (mode == 1)
		build_gdbm(path, data, size, fix, keys, &nkeys);
	else if (fuzz_write_file(path, data, size, 0600) == -1)
		fuzz_die(path);
	if (mode == 2) {
		/* Keys to look up: the names a maildrop would have. */
		strcpy(keys[0], "1700000000.M1P1.host");
		strcpy(keys[1], "1700000001.M2P2.host:2,S");
		nkeys = 2;
	}
	use_index(path, keys, nkeys);
	return 0;
}
