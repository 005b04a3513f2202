/*
 * check_index.c - unit tests for the GDBM index (src/index.c) and its
 * checksum (src/crc32c.c): CRC-32C against the RFC 3720 vectors, the
 * record codec (round trips, the octet layout, every kind of bad record,
 * every single-bit flip, a record under another key), the operations on a
 * temp dir, and hostile or damaged index files (doc/SECURITY.md B20):
 * empty, random, truncated, foreign, of the old schema, symlinked, not
 * ours, bit-flipped.
 * Runs as whoever runs make check; the owner test needs root.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "index.h"
#include "suites.h"

#define LIMIT62		((uint64_t)1 << 62)
#define UIDL70		"0123456789abcdefghijABCDEFGHIJ0123456789" \
			"abcdefghijABCDEFGHIJ0123456789"
#define STR1(x)		#x
#define STR(x)		STR1(x)
#define SCHEMA_NOW	"pop23d-index " STR(INDEX_SCHEMA)
/* Where the checksum sits in a record (the layout is pinned below). */
#define CRC_OFF		18

/* ---------------------------------------------------------------- helpers */

static void
mkrec(struct index_rec *r, uint64_t size, uint64_t raw, int accessed)
{
	memset(r, 0, sizeof(*r));
	r->size = size;
	r->raw_size = raw;
	r->accessed = accessed;
}

static void
rec_eq(const struct index_rec *a, const struct index_rec *b, int i)
{
	ck_assert_msg(a->size == b->size, "case %d: size %llu != %llu", i,
	    (unsigned long long)a->size, (unsigned long long)b->size);
	ck_assert_msg(a->raw_size == b->raw_size, "case %d: raw_size", i);
	ck_assert_msg(!a->accessed == !b->accessed, "case %d: accessed", i);
}

/* Recompute the checksum of record BUF for KEY (a forged record). */
static void
fix_crc(const char *key, unsigned char *buf)
{
	uint32_t c = crc32c(crc32c(0, key, strlen(key)), buf, CRC_OFF);

	buf[CRC_OFF] = (unsigned char)(c >> 24);
	buf[CRC_OFF + 1] = (unsigned char)(c >> 16);
	buf[CRC_OFF + 2] = (unsigned char)(c >> 8);
	buf[CRC_OFF + 3] = (unsigned char)c;
}

/* Whole file into a malloc'd buffer. */
static unsigned char *
slurp(const char *path, size_t *len_r)
{
	unsigned char *p = NULL;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(p);
	n = read(fd, p, (size_t)st.st_size);
	ck_assert_int_eq(n, st.st_size);
	close(fd);
	*len_r = (size_t)n;
	return p;
}

/* Offset of the only occurrence of NEEDLE in BUF; fails on 0 or 2+. */
static size_t
find_once(const unsigned char *buf, size_t len, const char *needle)
{
	size_t nlen = strlen(needle), i, found = (size_t)-1;
	int hits = 0;

	for (i = 0; i + nlen <= len; i++)
		if (memcmp(buf + i, needle, nlen) == 0) {
			found = i;
			hits++;
		}
	ck_assert_msg(hits == 1, "\"%s\" found %d times in the index file",
	    needle, hits);
	return found;
}

static const char *
msg_name(int i, char *buf, size_t sz)
{
	int n = snprintf(buf, sz, "%d.M%dP%d.host,S=%d", 1700000000 + i,
	    i * 7, 1000 + i, 100 + i);

	ck_assert(n > 0 && (size_t)n < sz);
	return buf;
}

static void
msg_rec(int i, struct index_rec *r)
{
	mkrec(r, 1000 + (uint64_t)i * 13, 990 + (uint64_t)i * 13, i % 3 == 0);
}

/* An index at PATH holding N message records msg_name(i) -> msg_rec(i). */
static void
make_real_index(const char *path, int n)
{
	struct index *idx;
	struct index_rec r;
	const char *err = NULL;
	char name[64];
	int i, rebuilt;

	ck_assert_int_eq(index_open(path, &idx, &rebuilt, &err), 0);
	for (i = 0; i < n; i++) {
		msg_rec(i, &r);
		ck_assert_int_eq(index_store(idx, msg_name(i, name,
		    sizeof(name)), &r), 0);
	}
	ck_assert_int_eq(index_count(idx), n);
	index_close(&idx);
}

/* ----------------------------------------------------------------- CRC-32C */

/* RFC 3720 appendix B.4, and the customary check value. */
static unsigned char rfc_read_pdu[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
	0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

enum { V_ZEROS, V_ONES, V_INC, V_DEC, V_PDU, V_CHECK };

static const struct {
	const char *what;
	int kind;
	uint32_t crc;	/* RFC 3720 prints it low octet first */
} crc_vectors[] = {
	{ "32 octets of zeros", V_ZEROS, 0x8a9136aa },
	{ "32 octets of ones", V_ONES, 0x62a8ab43 },
	{ "32 incrementing octets", V_INC, 0x46dd794e },
	{ "32 decrementing octets", V_DEC, 0x113fdb5c },
	{ "an iSCSI read command PDU", V_PDU, 0xd9963a56 },
	{ "\"123456789\"", V_CHECK, 0xe3069283 },
};

START_TEST(test_crc32c_vectors)
{
	unsigned char buf[64];
	size_t len = 32, i;
	uint32_t sw, all, hw;

	switch (crc_vectors[_i].kind) {
	case V_ZEROS:
		memset(buf, 0, 32);
		break;
	case V_ONES:
		memset(buf, 0xff, 32);
		break;
	case V_INC:
	case V_DEC:
		for (i = 0; i < 32; i++)
			buf[i] = (unsigned char)(crc_vectors[_i].kind ==
			    V_INC ? i : 31 - i);
		break;
	case V_PDU:
		memcpy(buf, rfc_read_pdu, sizeof(rfc_read_pdu));
		len = sizeof(rfc_read_pdu);
		break;
	case V_CHECK:
		memcpy(buf, "123456789", 9);
		len = 9;
		break;
	}
	sw = crc32c_sw(0, buf, len);
	hw = crc32c(0, buf, len);
	ck_assert_msg(sw == crc_vectors[_i].crc, "%s: table %08x",
	    crc_vectors[_i].what, sw);
	ck_assert_msg(hw == crc_vectors[_i].crc, "%s: crc32c (hw %d) %08x",
	    crc_vectors[_i].what, crc32c_hw(), hw);
	/* Chained in two pieces, at every split. */
	for (i = 0; i <= len; i++) {
		all = crc32c(crc32c(0, buf, i), buf + i, len - i);
		ck_assert_msg(all == crc_vectors[_i].crc, "%s: split at %zu",
		    crc_vectors[_i].what, i);
		all = crc32c_sw(crc32c_sw(0, buf, i), buf + i, len - i);
		ck_assert_uint_eq(all, crc_vectors[_i].crc);
	}
}
END_TEST

/* The instruction path (if the CPU has one) and the table agree on every
 * length and alignment. */
START_TEST(test_crc32c_hw_matches_table)
{
	unsigned char buf[600];
	uint32_t x = 2463534242u;
	size_t off, len;

	for (off = 0; off < sizeof(buf); off++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[off] = (unsigned char)x;
	}
	ck_assert_uint_eq(crc32c(0, buf, 0), 0);
	ck_assert_uint_eq(crc32c_sw(0, buf, 0), 0);
	for (off = 0; off < 9; off++)
		for (len = 0; len + off <= 520; len++)
			ck_assert_msg(crc32c(0, buf + off, len) ==
			    crc32c_sw(0, buf + off, len),
			    "offset %zu length %zu (hw %d)", off, len,
			    crc32c_hw());
}
END_TEST

/* ------------------------------------------------------------- the codec */

#define KEY_A		"1700000000.M1P2.host"

static const struct {
	uint64_t size, raw;
	int accessed;
	const char *key;
} codec_ok[] = {
	{ 0, 0, 0, "a" },
	{ 2, 0, 1, "!" },		/* an empty line's CRLF at most */
	{ 1234, 1200, 0, KEY_A },
	{ 0x100000001ULL, 0xffffffffULL, 1, "~" },
	{ LIMIT62 - 1, LIMIT62 - 1, 1, "!~" },
	{ 0x1112131415161718ULL, 0x0a0b0c0d0e0f1011ULL, 0, UIDL70 },
	{ 2 * 1000 + 2, 1000, 0, "key with spaces and \xc3\xa9" },
	{ 5, 5, 0, UIDL70 UIDL70 UIDL70 },
};

START_TEST(test_codec_roundtrip)
{
	unsigned char buf[INDEX_REC_LEN + 8];
	struct index_rec in, out;
	const char *key = codec_ok[_i].key;
	size_t len, n;

	mkrec(&in, codec_ok[_i].size, codec_ok[_i].raw,
	    codec_ok[_i].accessed);
	len = index_encode(key, &in, buf);
	ck_assert_msg(len == INDEX_REC_LEN, "case %d: length %zu", _i, len);
	memset(&out, 0x55, sizeof(out));
	ck_assert_msg(index_decode(key, buf, len, &out) == 0,
	    "case %d: decode", _i);
	rec_eq(&in, &out, _i);
	ck_assert_msg(out.accessed == 0 || out.accessed == 1, "case %d", _i);
	/* Every prefix is rejected ... */
	for (n = 0; n < len; n++)
		ck_assert_msg(index_decode(key, buf, n, &out) == -1,
		    "case %d: truncated to %zu accepted", _i, n);
	/* ... and so is any trailing octet. */
	buf[len] = 'x';
	ck_assert_msg(index_decode(key, buf, len + 1, &out) == -1,
	    "case %d: trailing garbage accepted", _i);
	buf[len] = '\0';
	ck_assert_msg(index_decode(key, buf, len + 1, &out) == -1,
	    "case %d: trailing NUL accepted", _i);
}
END_TEST

/* Every single-bit flip anywhere in a record is caught. */
START_TEST(test_codec_every_bitflip)
{
	unsigned char buf[INDEX_REC_LEN];
	struct index_rec r, out;
	int bit;

	mkrec(&r, codec_ok[_i].size, codec_ok[_i].raw, codec_ok[_i].accessed);
	ck_assert_uint_eq(index_encode(codec_ok[_i].key, &r, buf),
	    INDEX_REC_LEN);
	for (bit = 0; bit < INDEX_REC_LEN * 8; bit++) {
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ck_assert_msg(index_decode(codec_ok[_i].key, buf,
		    INDEX_REC_LEN, &out) == -1, "case %d: bit %d flipped "
		    "and accepted", _i, bit);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	ck_assert_int_eq(index_decode(codec_ok[_i].key, buf, INDEX_REC_LEN,
	    &out), 0);
}
END_TEST

/* A record is valid only under the key it was written for. */
START_TEST(test_codec_other_key)
{
	static const char *others[] = {
		"1700000000.M1P2.hosT", "1700000000.M1P2.hos",
		"1700000000.M1P2.host.", "1700000000.M1P3.host", "",
		"700000000.M1P2.host",
	};
	unsigned char buf[INDEX_REC_LEN];
	struct index_rec r, out;
	size_t i;

	mkrec(&r, 1234, 1200, 1);
	ck_assert_uint_eq(index_encode(KEY_A, &r, buf), INDEX_REC_LEN);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ck_assert_msg(index_decode(others[i], buf, INDEX_REC_LEN,
		    &out) == -1, "accepted under \"%s\"", others[i]);
	ck_assert_int_eq(index_decode(NULL, buf, INDEX_REC_LEN, &out), -1);
	ck_assert_int_eq(index_decode(KEY_A, buf, INDEX_REC_LEN, &out), 0);
}
END_TEST

/* The on-disk layout is a format: pin it down octet by octet (the CRC
 * was computed independently of crc32c.c). */
START_TEST(test_codec_golden)
{
	static const unsigned char want[INDEX_REC_LEN] = {
		2, 1,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
		0xa6, 0x9f, 0xf2, 0x14
	};
	unsigned char buf[INDEX_REC_LEN];
	struct index_rec r;

	mkrec(&r, 0x1112131415161718ULL, 0x0a0b0c0d0e0f1011ULL, 1);
	ck_assert_uint_eq(index_encode(KEY_A, &r, buf), sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	/* Any non-zero accessed value is stored as bit 0. */
	r.accessed = 42;
	ck_assert_uint_eq(index_encode(KEY_A, &r, buf), sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	r.accessed = 0;
	ck_assert_uint_eq(index_encode(KEY_A, &r, buf), sizeof(want));
	ck_assert_int_eq(buf[1], 0);
}
END_TEST

/*
 * Mutations of the valid record of KEY_A {size 10, raw 9}.  Each is
 * rejected twice: as it is (the checksum no longer matches) and with the
 * checksum recomputed (the field checks themselves), except the length
 * changes, which no checksum can mend.
 */
static const struct {
	const char *what;
	int off;		/* octet to overwrite, or -1 */
	int val;
	int dlen;		/* change to the length passed */
} codec_bad[] = {
	{ "version 0", 0, 0, 0 },
	{ "version 1 (schema 1)", 0, 1, 0 },
	{ "version 3", 0, 3, 0 },
	{ "version 255", 0, 255, 0 },
	{ "flag bit 1", 1, 0x02, 0 },
	{ "flag bit 7", 1, 0x80, 0 },
	{ "flags 0xff", 1, 0xff, 0 },
	{ "flags 0x03", 1, 0x03, 0 },
	{ "size >= 2^62", 2, 0x40, 0 },
	{ "size >= 2^63", 2, 0x80, 0 },
	{ "raw_size >= 2^62", 10, 0x40, 0 },
	{ "raw_size >= 2^63", 10, 0xff, 0 },
	{ "size below raw_size", 9, 8, 0 },
	{ "size 0 with raw_size 9", 9, 0, 0 },
	{ "size above 2 * raw_size + 2", 9, 21, 0 },
	{ "raw_size above size", 17, 11, 0 },
	{ "raw_size 0 with size 10", 17, 0, 0 },
	{ "trailing octet", -1, 0, 1 },
	{ "one octet short", -1, 0, -1 },
	{ "empty", -1, 0, -INDEX_REC_LEN },
	{ "the schema 1 length", -1, 0, 19 + 5 - INDEX_REC_LEN },
};

START_TEST(test_codec_reject)
{
	unsigned char buf[64];
	struct index_rec r, out, saved;
	size_t len;
	int fixed;

	for (fixed = 0; fixed < 2; fixed++) {
		mkrec(&r, 10, 9, 0);
		len = index_encode(KEY_A, &r, buf);
		ck_assert_uint_eq(len, INDEX_REC_LEN);
		memset(buf + len, 'z', sizeof(buf) - len);
		if (codec_bad[_i].off >= 0)
			buf[codec_bad[_i].off] =
			    (unsigned char)codec_bad[_i].val;
		if (fixed)
			fix_crc(KEY_A, buf);
		len = (size_t)((long)len + codec_bad[_i].dlen);
		memset(&out, 0x5a, sizeof(out));
		saved = out;
		ck_assert_msg(index_decode(KEY_A, buf, len, &out) == -1,
		    "case %d (%s%s): accepted", _i, codec_bad[_i].what,
		    fixed ? ", checksum recomputed" : "");
		ck_assert_msg(memcmp(&out, &saved, sizeof(out)) == 0,
		    "case %d (%s): output written on failure", _i,
		    codec_bad[_i].what);
	}
}
END_TEST

START_TEST(test_codec_edges)
{
	unsigned char buf[INDEX_REC_LEN];
	struct index_rec r, out;

	/* 2^62 - 1 is the largest size accepted. */
	mkrec(&r, 9, 9, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), INDEX_REC_LEN);
	buf[2] = 0x3f;
	memset(buf + 3, 0xff, 7);
	buf[10] = 0x3f;
	memset(buf + 11, 0xff, 7);
	fix_crc("k", buf);
	ck_assert_int_eq(index_decode("k", buf, INDEX_REC_LEN, &out), 0);
	ck_assert(out.size == LIMIT62 - 1 && out.raw_size == LIMIT62 - 1);
	/* The CRLF rule's bounds themselves are accepted. */
	mkrec(&r, 2 * 77 + 2, 77, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), INDEX_REC_LEN);
	ck_assert_int_eq(index_decode("k", buf, INDEX_REC_LEN, &out), 0);
	mkrec(&r, 77, 77, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), INDEX_REC_LEN);
	ck_assert_int_eq(index_decode("k", buf, INDEX_REC_LEN, &out), 0);
	/* A NULL output is a validity check. */
	ck_assert_int_eq(index_decode("k", buf, INDEX_REC_LEN, NULL), 0);
	/* NULL input. */
	ck_assert_int_eq(index_decode("k", NULL, INDEX_REC_LEN, &out), -1);
	ck_assert_int_eq(index_decode("k", buf, 0, &out), -1);
}
END_TEST

/* Records index_encode must refuse (it returns 0). */
START_TEST(test_codec_encode_refuse)
{
	unsigned char buf[INDEX_REC_LEN];
	struct index_rec r;
	char *longkey;

	mkrec(&r, LIMIT62, LIMIT62 - 1, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, 1, LIMIT62, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, UINT64_MAX, 1, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, 8, 9, 0);		/* smaller than stored */
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, 21, 9, 0);		/* more than 2 * 9 + 2 */
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, 3, 0, 0);
	ck_assert_uint_eq(index_encode("k", &r, buf), 0);
	mkrec(&r, 10, 9, 0);
	ck_assert_uint_eq(index_encode("", &r, buf), 0);
	ck_assert_uint_eq(index_encode(NULL, &r, buf), 0);
	ck_assert_uint_eq(index_encode("k", NULL, buf), 0);
	ck_assert_uint_eq(index_encode("k", &r, NULL), 0);
	longkey = malloc(100000);
	ck_assert_ptr_nonnull(longkey);
	memset(longkey, 'k', 99999);
	longkey[99999] = '\0';
	ck_assert_uint_eq(index_encode(longkey, &r, buf), 0);
	ck_assert_int_eq(index_decode(longkey, buf, INDEX_REC_LEN, NULL), -1);
	free(longkey);
}
END_TEST

static const struct {
	const char *s;
	int ok;
} uidl_cases[] = {
	{ "", 0 },
	{ "a", 1 },
	{ "!", 1 },
	{ "~", 1 },
	{ " a", 0 },
	{ "a b", 0 },
	{ "a\t", 0 },
	{ "\x7f", 0 },
	{ "\xc3\xa9", 0 },
	{ "a\r\n", 0 },
	{ UIDL70, 1 },
	{ UIDL70 "x", 0 },
	{ UIDL70 UIDL70, 0 },
	{ "1700000000.M7P1000.host,S=100:2,S", 1 },
};

START_TEST(test_uidl_valid)
{
	ck_assert_msg(!index_uidl_valid(uidl_cases[_i].s) ==
	    !uidl_cases[_i].ok, "case %d: \"%s\"", _i, uidl_cases[_i].s);
}
END_TEST

START_TEST(test_uidl_valid_null)
{
	ck_assert_int_eq(index_uidl_valid(NULL), 0);
}
END_TEST

/* The eight-at-a-time check against the rule, octet by octet: every
 * octet value at every place of keys of 1 to 20 octets (whole words,
 * words and a tail, a tail alone). */
START_TEST(test_uidl_valid_every_octet)
{
	char k[24];
	size_t len, pos;
	int c;

	for (len = 1; len <= 20; len++)
		for (pos = 0; pos < len; pos++)
			for (c = 1; c < 256; c++) {
				memset(k, 'a', len);
				k[len] = '\0';
				k[pos] = (char)c;
				ck_assert_msg(index_uidl_valid(k) ==
				    (c >= 0x21 && c <= 0x7e),
				    "len %zu pos %zu octet 0x%02x", len, pos, c);
			}
}
END_TEST

/* ------------------------------------------------------ index operations */

/* The snapshot beside the index (src/idxsnap.h). */
static const char *
snap_path(void)
{
	return idx_snap;
}

START_TEST(test_ops_basic)
{
	struct index *idx = NULL;
	struct index_rec a, b, c, out;
	const char *err = NULL;
	struct stat st;
	int rebuilt = -1;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_ptr_nonnull(idx);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(lstat(idx_path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 077, 0);
	ck_assert_int_eq(index_count(idx), 0);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 0);

	mkrec(&a, 100, 97, 0);
	mkrec(&b, 200, 190, 1);
	mkrec(&c, 5, 5, 1);
	ck_assert_int_eq(index_store(idx, "k1", &a), 0);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 1);
	rec_eq(&a, &out, 0);
	/* Replace. */
	ck_assert_int_eq(index_store(idx, "k1", &b), 0);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 1);
	rec_eq(&b, &out, 1);
	ck_assert_int_eq(index_count(idx), 1);
	ck_assert_int_eq(index_store(idx, "k2", &c), 0);
	ck_assert_int_eq(index_count(idx), 2);
	/* A NULL output is allowed for an existence check. */
	ck_assert_int_eq(index_lookup(idx, "k2", NULL), 1);
	ck_assert_int_eq(index_delete(idx, "k1"), 0);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 0);
	ck_assert_int_eq(index_delete(idx, "k1"), 0);
	ck_assert_int_eq(index_delete(idx, "never"), 0);
	ck_assert_int_eq(index_count(idx), 1);
	ck_assert_int_eq(index_sync(idx), 0);
	index_close(&idx);
	ck_assert_ptr_null(idx);
	index_close(&idx);
	index_close(NULL);

	/* Reopen: the data, including the accessed flag, is kept. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_lookup(idx, "k2", &out), 1);
	rec_eq(&c, &out, 2);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 0);
	ck_assert_int_eq(index_count(idx), 1);
	index_close(&idx);
}
END_TEST

START_TEST(test_ops_bad_args)
{
	static char sentinel;
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	char *longkey;
	int rebuilt;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	mkrec(&r, 8, 9, 0);		/* against the CRLF rule */
	ck_assert_int_eq(index_store(idx, "k", &r), -1);
	ck_assert_int_eq(index_lookup(idx, "k", &out), 0);
	mkrec(&r, LIMIT62, 1, 0);
	ck_assert_int_eq(index_store(idx, "k", &r), -1);
	mkrec(&r, 1, 1, 0);
	ck_assert_int_eq(index_store(idx, "", &r), -1);
	ck_assert_int_eq(index_store(idx, NULL, &r), -1);
	ck_assert_int_eq(index_store(idx, "k", NULL), -1);
	ck_assert_int_eq(index_lookup(idx, "", &out), -1);
	ck_assert_int_eq(index_lookup(idx, NULL, &out), -1);
	ck_assert_int_eq(index_delete(idx, ""), -1);
	longkey = malloc(100000);
	ck_assert_ptr_nonnull(longkey);
	memset(longkey, 'k', 99999);
	longkey[99999] = '\0';
	ck_assert_int_eq(index_store(idx, longkey, &r), -1);
	ck_assert_int_eq(index_lookup(idx, longkey, &out), -1);
	free(longkey);
	ck_assert_int_eq(index_count(idx), 0);
	index_close(&idx);

	/* A NULL handle (the caller goes on without an index). */
	ck_assert_int_eq(index_lookup(NULL, "k", &out), 0);
	ck_assert_int_eq(index_store(NULL, "k", &r), -1);
	ck_assert_int_eq(index_delete(NULL, "k"), -1);
	ck_assert_int_eq(index_count(NULL), -1);
	ck_assert_int_eq(index_prune(NULL, NULL, NULL), -1);
	ck_assert_int_eq(index_sync(NULL), -1);

	/* No index can be had: missing directory, empty path. */
	idx = (struct index *)(void *)&sentinel;
	err = NULL;
	free(idx_path);
	idx_path = test_path_in(idx_dir, "no/such/dir/" INDEX_FILE);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), -1);
	ck_assert_ptr_null(idx);
	ck_assert_ptr_nonnull(err);
	err = NULL;
	ck_assert_int_eq(index_open("", &idx, &rebuilt, &err), -1);
	ck_assert_ptr_nonnull(err);
}
END_TEST

/* A storage key that looks like the schema key is just a message key. */
START_TEST(test_ops_schema_key_no_collision)
{
	static const char *keys[] = { "#schema", "schema", ":schema", "m:x",
	    "#", SCHEMA_NOW };
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	size_t i;
	int rebuilt;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		mkrec(&r, 100 + i, 100 + i, 0);
		ck_assert_int_eq(index_store(idx, keys[i], &r), 0);
	}
	index_close(&idx);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_count(idx), (long)(sizeof(keys) /
	    sizeof(keys[0])));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ck_assert_msg(index_lookup(idx, keys[i], &out) == 1,
		    "key %zu", i);
		ck_assert_uint_eq(out.size, 100 + i);
	}
	index_close(&idx);
}
END_TEST

struct keep_ctx {
	int calls;
	int mode;		/* 0 keep none, 1 keep even, 2 keep all */
	char seen[64];
};

static int
keep_fn(void *p, const char *key)
{
	struct keep_ctx *c = p;
	char *end;
	long n;

	c->calls++;
	ck_assert_msg(strncmp(key, "key", 3) == 0, "prune saw \"%s\"", key);
	n = strtol(key + 3, &end, 10);
	ck_assert(*end == '\0' && n >= 0 && n < 64);
	c->seen[n]++;
	if (c->mode == 0)
		return 0;
	if (c->mode == 1)
		return n % 2 == 0;
	return 1;
}

START_TEST(test_ops_prune)
{
	struct index *idx;
	struct index_rec r;
	struct keep_ctx c;
	const char *err = NULL;
	char key[16];
	int i, rebuilt;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "key%02d", i);
		mkrec(&r, (uint64_t)i, (uint64_t)i, 0);
		ck_assert_int_eq(index_store(idx, key, &r), 0);
	}
	memset(&c, 0, sizeof(c));
	c.mode = 1;
	ck_assert_int_eq(index_prune(idx, keep_fn, &c), 10);
	ck_assert_int_eq(c.calls, 20);
	for (i = 0; i < 20; i++)
		ck_assert_msg(c.seen[i] == 1, "key%02d seen %d times", i,
		    c.seen[i]);
	ck_assert_int_eq(index_count(idx), 10);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "key%02d", i);
		ck_assert_msg(index_lookup(idx, key, &r) == (i % 2 == 0),
		    "key%02d", i);
	}
	memset(&c, 0, sizeof(c));
	c.mode = 2;
	ck_assert_int_eq(index_prune(idx, keep_fn, &c), 0);
	ck_assert_int_eq(c.calls, 10);
	ck_assert_int_eq(index_prune(idx, NULL, NULL), -1);
	memset(&c, 0, sizeof(c));
	c.mode = 0;
	ck_assert_int_eq(index_prune(idx, keep_fn, &c), 10);
	ck_assert_int_eq(index_count(idx), 0);
	/* The schema record survived: a reopen is no rebuild. */
	index_close(&idx);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	index_close(&idx);
}
END_TEST

static int
keep_odd_name(void *p, const char *key)
{
	(void)p;
	return (key[strlen(key) - 1] - '0') % 2;
}

START_TEST(test_ops_many)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	char name[64];
	int i, rebuilt;

	make_real_index(idx_path, 2000);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_count(idx), 2000);
	for (i = 0; i < 2000; i++) {
		msg_rec(i, &r);
		ck_assert_int_eq(index_lookup(idx, msg_name(i, name,
		    sizeof(name)), &out), 1);
		rec_eq(&r, &out, i);
	}
	/* msg_name ends in S=<100+i>: odd i ends in an odd digit. */
	ck_assert_int_eq(index_prune(idx, keep_odd_name, NULL), 1000);
	ck_assert_int_eq(index_count(idx), 1000);
	ck_assert_int_eq(index_sync(idx), 0);
	index_close(&idx);
}
END_TEST

/*
 * The login table (index.c): the walk at open takes every record's value,
 * lookups answer from it, every write keeps it right, and it is gone
 * after index_suspend() and a prune, with lookups then going to GDBM.
 */
START_TEST(test_table_after_walk)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	char name[64];
	int i, rebuilt;

	make_real_index(idx_path, 1500);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	/* Every message record, none of the '#' records. */
	ck_assert_int_eq(index_table_count(idx), 1500);
	for (i = 0; i < 1500; i++) {
		msg_rec(i, &r);
		ck_assert_int_eq(index_lookup(idx, msg_name(i, name,
		    sizeof(name)), &out), 1);
		rec_eq(&r, &out, i);
	}
	/* The appended tail: a miss without a fetch. */
	ck_assert_int_eq(index_lookup(idx, msg_name(1500, name,
	    sizeof(name)), &out), 0);
	ck_assert_int_eq(index_table_count(idx), 1500);
	/* Suspended: no table (it became the snapshot); without the
	 * snapshot, the same answers from the file. */
	index_suspend(idx);
	ck_assert_int_eq(index_table_count(idx), -1);
	ck_assert_int_eq(unlink(snap_path()), 0);
	for (i = 0; i < 1500; i += 7) {
		msg_rec(i, &r);
		ck_assert_int_eq(index_lookup(idx, msg_name(i, name,
		    sizeof(name)), &out), 1);
		rec_eq(&r, &out, i);
	}
	ck_assert_int_eq(index_table_count(idx), -1);
	index_close(&idx);
}
END_TEST

START_TEST(test_table_writes)
{
	struct index *idx;
	struct index_rec a, b, out;
	const char *err = NULL;
	char name[64], kept[64];
	int i, rebuilt;

	make_real_index(idx_path, 300);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_table_count(idx), 300);
	/* A new key, then the same key replaced: the table follows. */
	mkrec(&a, 4000, 3990, 0);
	mkrec(&b, 5000, 4900, 1);
	ck_assert_int_eq(index_store(idx, "new-one", &a), 0);
	ck_assert_int_eq(index_table_count(idx), 301);
	ck_assert_int_eq(index_lookup(idx, "new-one", &out), 1);
	rec_eq(&a, &out, 0);
	ck_assert_int_eq(index_store(idx, "new-one", &b), 0);
	ck_assert_int_eq(index_lookup(idx, "new-one", &out), 1);
	rec_eq(&b, &out, 1);
	/* An old key replaced, another deleted (twice). */
	msg_name(5, kept, sizeof(kept));
	ck_assert_int_eq(index_store(idx, kept, &a), 0);
	ck_assert_int_eq(index_lookup(idx, kept, &out), 1);
	rec_eq(&a, &out, 2);
	msg_name(6, name, sizeof(name));
	ck_assert_int_eq(index_delete(idx, name), 0);
	ck_assert_int_eq(index_delete(idx, name), 0);
	ck_assert_int_eq(index_lookup(idx, name, &out), 0);
	ck_assert_int_eq(index_table_count(idx), 300);
	/* Deleted and stored again: found again. */
	ck_assert_int_eq(index_store(idx, name, &b), 0);
	ck_assert_int_eq(index_lookup(idx, name, &out), 1);
	rec_eq(&b, &out, 3);
	/* The table agrees with the file: the same answers after reopen,
	 * which fetches nothing from a table made before the writes. */
	index_close(&idx);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_table_count(idx), 301);
	index_suspend(idx);	/* the lookups below go to GDBM */
	ck_assert_int_eq(unlink(snap_path()), 0);
	ck_assert_int_eq(index_lookup(idx, "new-one", &out), 1);
	rec_eq(&b, &out, 4);
	ck_assert_int_eq(index_lookup(idx, kept, &out), 1);
	rec_eq(&a, &out, 5);
	ck_assert_int_eq(index_lookup(idx, name, &out), 1);
	rec_eq(&b, &out, 6);
	index_close(&idx);

	/* A prune keeps the table (from it, without a walk), and the file
	 * agrees: the same answers with and without it. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_table_count(idx), 301);
	ck_assert(index_prune(idx, keep_odd_name, NULL) > 0);
	ck_assert_int_eq(index_table_count(idx), 151);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(index_lookup(idx, msg_name(i, name,
		    sizeof(name)), NULL), i != 6 && i % 2 == 1);
	index_table_drop(idx);
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(index_lookup(idx, msg_name(i, name,
		    sizeof(name)), NULL), i != 6 && i % 2 == 1);
	ck_assert_int_eq(index_count(idx), 151);
	index_close(&idx);

	/* A new file starts with an empty table that writes fill. */
	ck_assert_int_eq(unlink(idx_path), 0);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_table_count(idx), 0);
	ck_assert_int_eq(index_store(idx, "k", &a), 0);
	ck_assert_int_eq(index_table_count(idx), 1);
	ck_assert_int_eq(index_lookup(idx, "k", &out), 1);
	rec_eq(&a, &out, 7);
	index_close(&idx);
}
END_TEST

/* A record that fails validation reads as absent and is deleted. */
static const struct {
	const char *what;
	int off;		/* from the record start, or -1 */
	int val;
	int fix;		/* recompute the checksum afterwards */
} bad_in_file[] = {
	{ "version 1", 0, 1, 0 },
	{ "version 1, checksum mended", 0, 1, 1 },
	{ "flag bit 3", 1, 0x08, 0 },
	{ "flag bit 3, checksum mended", 1, 0x08, 1 },
	{ "size flipped", 5, 0x20, 0 },
	{ "size 2^63, checksum mended", 2, 0x80, 1 },
	{ "checksum octet", 20, 0x55, 0 },
	{ "the other key's record", -1, 0, 0 },
};

START_TEST(test_ops_invalid_record_deleted)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	unsigned char *buf;
	size_t len, at, other;
	int rebuilt;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	mkrec(&r, 77, 75, 1);
	ck_assert_int_eq(index_store(idx, "victim", &r), 0);
	mkrec(&r, 88, 86, 0);
	ck_assert_int_eq(index_store(idx, "other", &r), 0);
	index_close(&idx);

	/* GDBM keeps a value right after its key. */
	buf = slurp(idx_path, &len);
	at = find_once(buf, len, "m:victim") + strlen("m:victim");
	other = find_once(buf, len, "m:other") + strlen("m:other");
	ck_assert_int_eq(buf[at], 2);
	ck_assert_int_eq(buf[other], 2);
	if (bad_in_file[_i].off < 0)
		memcpy(buf + at, buf + other, INDEX_REC_LEN);
	else
		buf[at + (size_t)bad_in_file[_i].off] =
		    (unsigned char)bad_in_file[_i].val;
	if (bad_in_file[_i].fix)
		fix_crc("victim", buf + at);
	test_write_file(idx_path, buf, len);
	free(buf);

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_msg(rebuilt == 0, "case %d (%s)", _i, bad_in_file[_i].what);
	ck_assert_int_eq(index_count(idx), 2);
	ck_assert_int_eq(index_damaged(idx), 0);
	/* Both records are in the login table: the damaged one is judged
	 * from there (raw, by index_decode()) and leaves it with the file. */
	ck_assert_int_eq(index_table_count(idx), 2);
	ck_assert_msg(index_lookup(idx, "victim", &out) == 0,
	    "case %d (%s): accepted", _i, bad_in_file[_i].what);
	ck_assert_int_eq(index_damaged(idx), 1);
	ck_assert_int_eq(index_table_count(idx), 1);
	ck_assert_int_eq(index_count(idx), 1);
	ck_assert_int_eq(index_lookup(idx, "other", &out), 1);
	rec_eq(&r, &out, _i);
	ck_assert_int_eq(index_damaged(idx), 1);
	index_close(&idx);
}
END_TEST

/* --------------------------------------------------- damaged index files */

enum damage {
	D_EMPTY, D_RANDOM, D_TEXT, D_TRUNC_HALF, D_TRUNC_HEADER, D_TRUNC_ONE,
	D_TRUNC_AFTER_SCHEMA, D_KEY_BYTE,
	D_SCHEMA_VALUE, D_SCHEMA_OLD, D_SCHEMA_KEY, D_MAGIC_SWAPPED,
	D_MAGIC_ZERO,
	D_SYMLINK, D_SYMLINK_EMPTY, D_SYMLINK_DANGLING, D_FIFO,
	D_MODE_GROUP, D_MODE_OTHER, D_HARDLINK, D_OWNER,
	D_GDBMTOOL_FOREIGN, D_GDBMTOOL_NUMSYNC
};

static const struct {
	const char *what;
	enum damage d;
	int rebuilt;		/* -1: either; if 0, nothing was lost */
} damage_cases[] = {
	{ "zero-length file", D_EMPTY, 0 },
	{ "random bytes", D_RANDOM, 1 },
	{ "a text file", D_TEXT, 1 },
	{ "truncated to half", D_TRUNC_HALF, 1 },
	{ "truncated inside the header", D_TRUNC_HEADER, 1 },
	/* The last block may be free space GDBM never reads. */
	{ "last octet cut", D_TRUNC_ONE, -1 },
	/* The schema record reads fine, the message records do not. */
	{ "truncated after the schema record", D_TRUNC_AFTER_SCHEMA, 1 },
	/* A key whose hash no longer matches its bucket entry ends
	 * gdbm_nextkey() early, as if the walk were complete. */
	{ "one key octet changed", D_KEY_BYTE, 1 },
	{ "foreign schema value", D_SCHEMA_VALUE, 1 },
	/* An index written by a pop23d with schema 1 records. */
	{ "schema 1", D_SCHEMA_OLD, 1 },
	{ "no schema record", D_SCHEMA_KEY, 1 },
	{ "byte-swapped GDBM magic", D_MAGIC_SWAPPED, 1 },
	{ "zeroed GDBM magic", D_MAGIC_ZERO, 1 },
	{ "symlink to another file", D_SYMLINK, 1 },
	/* Followed, GDBM would lay a new database out in the target. */
	{ "symlink to an empty file", D_SYMLINK_EMPTY, 1 },
	{ "dangling symlink", D_SYMLINK_DANGLING, 1 },
	{ "FIFO", D_FIFO, 1 },
	{ "group-writable", D_MODE_GROUP, 1 },
	{ "world-writable", D_MODE_OTHER, 1 },
	{ "hard-linked", D_HARDLINK, 1 },
	{ "owned by another user (root only)", D_OWNER, 1 },
	{ "foreign GDBM database (gdbmtool)", D_GDBMTOOL_FOREIGN, 1 },
	{ "numsync GDBM database (gdbmtool)", D_GDBMTOOL_NUMSYNC, 1 },
};

static const char precious[] = "precious data, not an index\n";

/* Patch the only occurrence of FROM (same length as TO) in PATH. */
static void
patch_file(const char *path, const char *from, const char *to)
{
	unsigned char *buf;
	size_t len, at;

	ck_assert_uint_eq(strlen(from), strlen(to));
	buf = slurp(path, &len);
	at = find_once(buf, len, from);
	memcpy(buf + at, to, strlen(to));
	test_write_file(path, buf, len);
	free(buf);
}

static void
truncate_to(const char *path, off_t len)
{
	ck_assert_int_eq(truncate(path, len), 0);
}

static int
have_gdbmtool(void)
{
	return system("command -v gdbmtool >/dev/null 2>&1") == 0;
}

START_TEST(test_damage)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	unsigned char *buf;
	char *other = test_path_in(idx_dir, "other"), *cmd;
	struct stat st;
	size_t len, i;
	uint32_t x;
	int rebuilt = -1;

	switch (damage_cases[_i].d) {
	case D_EMPTY:
		test_write_file(idx_path, "", 0);
		break;
	case D_RANDOM:
		buf = malloc(16384);
		ck_assert_ptr_nonnull(buf);
		x = 12345;
		for (i = 0; i < 16384; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (unsigned char)(x >> 16);
		}
		test_write_file(idx_path, buf, 16384);
		free(buf);
		break;
	case D_TEXT:
		test_write_file(idx_path, precious, sizeof(precious) - 1);
		break;
	case D_TRUNC_HALF:
	case D_TRUNC_HEADER:
	case D_TRUNC_ONE:
		make_real_index(idx_path, 50);
		ck_assert_int_eq(stat(idx_path, &st), 0);
		truncate_to(idx_path, damage_cases[_i].d == D_TRUNC_HALF ?
		    st.st_size / 2 : damage_cases[_i].d == D_TRUNC_ONE ?
		    st.st_size - 1 : 100);
		break;
	case D_TRUNC_AFTER_SCHEMA:
		make_real_index(idx_path, 50);
		buf = slurp(idx_path, &len);
		i = find_once(buf, len, SCHEMA_NOW);
		free(buf);
		truncate_to(idx_path, (off_t)(i + strlen(SCHEMA_NOW)));
		break;
	case D_KEY_BYTE:
		make_real_index(idx_path, 50);
		patch_file(idx_path, "M49P1007", "M49P1008");
		break;
	case D_SCHEMA_VALUE:
		make_real_index(idx_path, 50);
		patch_file(idx_path, SCHEMA_NOW, "pop23d-index 9");
		break;
	case D_SCHEMA_OLD:
		make_real_index(idx_path, 50);
		patch_file(idx_path, SCHEMA_NOW, "pop23d-index 1");
		break;
	case D_SCHEMA_KEY:
		make_real_index(idx_path, 50);
		patch_file(idx_path, "#schema", "#schemX");
		break;
	case D_MAGIC_SWAPPED:
	case D_MAGIC_ZERO:
		make_real_index(idx_path, 50);
		buf = slurp(idx_path, &len);
		if (damage_cases[_i].d == D_MAGIC_ZERO)
			memset(buf, 0, 4);
		else {
			unsigned char t;

			t = buf[0]; buf[0] = buf[3]; buf[3] = t;
			t = buf[1]; buf[1] = buf[2]; buf[2] = t;
		}
		test_write_file(idx_path, buf, len);
		free(buf);
		break;
	case D_SYMLINK:
		test_write_file(other, precious, sizeof(precious) - 1);
		ck_assert_int_eq(symlink(other, idx_path), 0);
		break;
	case D_SYMLINK_EMPTY:
		test_write_file(other, "", 0);
		ck_assert_int_eq(symlink(other, idx_path), 0);
		break;
	case D_SYMLINK_DANGLING:
		ck_assert_int_eq(symlink(other, idx_path), 0);
		break;
	case D_FIFO:
		ck_assert_int_eq(mkfifo(idx_path, 0600), 0);
		break;
	case D_MODE_GROUP:
	case D_MODE_OTHER:
		make_real_index(idx_path, 50);
		ck_assert_int_eq(chmod(idx_path, damage_cases[_i].d ==
		    D_MODE_GROUP ? 0620 : 0602), 0);
		break;
	case D_HARDLINK:
		make_real_index(idx_path, 50);
		ck_assert_int_eq(link(idx_path, other), 0);
		break;
	case D_OWNER:
		if (geteuid() != 0) {
			/* Only root can make a file owned by someone else. */
			free(other);
			return;
		}
		make_real_index(idx_path, 50);
		ck_assert_int_eq(chown(idx_path, 65534, 65534), 0);
		break;
	case D_GDBMTOOL_FOREIGN:
	case D_GDBMTOOL_NUMSYNC:
		if (!have_gdbmtool()) {
			free(other);
			return;
		}
		ck_assert(asprintf(&cmd, "gdbmtool -q -N -n %s '%s' store "
		    "m:k1 notarecord >/dev/null 2>&1",
		    damage_cases[_i].d == D_GDBMTOOL_NUMSYNC ? "-x" : "",
		    idx_path) > 0);
		ck_assert_msg(system(cmd) == 0, "%s", cmd);
		free(cmd);
		ck_assert_int_eq(chmod(idx_path, 0600), 0);
		break;
	}

	ck_assert_msg(index_open(idx_path, &idx, &rebuilt, &err) == 0,
	    "case %d (%s): %s", _i, damage_cases[_i].what, err);
	if (damage_cases[_i].rebuilt == -1 && rebuilt == 0) {
		/* Not rebuilt: then every record must still be there. */
		for (i = 0; i < 50; i++) {
			char name[64];

			msg_rec((int)i, &r);
			ck_assert_int_eq(index_lookup(idx, msg_name((int)i,
			    name, sizeof(name)), &out), 1);
			rec_eq(&r, &out, (int)i);
			ck_assert_int_eq(index_delete(idx, name), 0);
		}
	} else
		ck_assert_msg(rebuilt == damage_cases[_i].rebuilt,
		    "case %d (%s): rebuilt %d", _i, damage_cases[_i].what,
		    rebuilt);
	ck_assert_msg(index_count(idx) == 0, "case %d (%s): not empty", _i,
	    damage_cases[_i].what);
	ck_assert_int_eq(index_lookup(idx, "k1", &out), 0);
	mkrec(&r, 10, 10, 1);
	ck_assert_int_eq(index_store(idx, "fresh", &r), 0);
	ck_assert_int_eq(index_lookup(idx, "fresh", &out), 1);
	rec_eq(&r, &out, _i);
	index_close(&idx);

	/* What is at PATH now is a proper index of ours. */
	ck_assert_int_eq(lstat(idx_path, &st), 0);
	ck_assert_msg(S_ISREG(st.st_mode), "case %d: not a regular file", _i);
	ck_assert_int_eq(st.st_uid, geteuid());
	ck_assert_int_eq(st.st_mode & 077, 0);
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_msg(rebuilt == 0, "case %d (%s): rebuilt twice", _i,
	    damage_cases[_i].what);
	ck_assert_int_eq(index_lookup(idx, "fresh", &out), 1);
	ck_assert_int_eq(index_count(idx), 1);
	index_close(&idx);

	/* A symlink's target, a hard link's other name: untouched. */
	if (damage_cases[_i].d == D_SYMLINK) {
		buf = slurp(other, &len);
		ck_assert_uint_eq(len, sizeof(precious) - 1);
		ck_assert_mem_eq(buf, precious, len);
		free(buf);
	}
	if (damage_cases[_i].d == D_SYMLINK_EMPTY) {
		ck_assert_int_eq(lstat(other, &st), 0);
		ck_assert_int_eq(st.st_size, 0);
	}
	if (damage_cases[_i].d == D_SYMLINK_DANGLING)
		ck_assert_int_eq(lstat(other, &st), -1);
	if (damage_cases[_i].d == D_HARDLINK) {
		ck_assert_int_eq(index_open(other, &idx, &rebuilt, &err), 0);
		ck_assert_int_eq(rebuilt, 0);
		ck_assert_int_eq(index_count(idx), 50);
		ck_assert_int_eq(index_lookup(idx, "fresh", &out), 0);
		index_close(&idx);
	}
	free(other);
}
END_TEST

/* A directory at PATH: no index this session, and nothing removed. */
START_TEST(test_damage_directory)
{
	struct index *idx = NULL;
	const char *err = NULL;
	char *inner;
	struct stat st;
	int rebuilt;

	ck_assert_int_eq(mkdir(idx_path, 0700), 0);
	inner = test_path_in(idx_path, "keep");
	test_write_file(inner, "x", 1);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), -1);
	ck_assert_ptr_null(idx);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(stat(inner, &st), 0);
	free(inner);
}
END_TEST

/* ------------------------------------------------- damage during a session */

/* Number of entries in DIR other than . and .. and the index itself. */
static int
stray_files(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, INDEX_FILE) != 0)
			n++;
	closedir(d);
	return n;
}

static int
keep_all(void *p, const char *key)
{
	(void)p;
	(void)key;
	return 1;
}

/* Open a 50-record index, then cut the file in half under it.  The
 * login table is dropped first, so that the lookups after the damage go
 * to GDBM and meet it (with the table they would answer from the values
 * read by the clean walk at open). */
static struct index *
open_then_truncate(void)
{
	struct index *idx;
	const char *err = NULL;
	struct stat st;
	int rebuilt;

	make_real_index(idx_path, 50);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_table_count(idx), 50);
	ck_assert_int_eq(index_prune(idx, keep_all, NULL), 0);
	index_table_drop(idx);
	ck_assert_int_eq(index_table_count(idx), -1);
	ck_assert_int_eq(stat(idx_path, &st), 0);
	truncate_to(idx_path, st.st_size / 2);
	return idx;
}

/* Look every record up: each is either right or absent.  Returns how many
 * were found. */
static int
lookup_all(struct index *idx)
{
	struct index_rec r, out;
	char name[64];
	int i, lr, found = 0;

	for (i = 0; i < 50; i++) {
		lr = index_lookup(idx, msg_name(i, name, sizeof(name)), &out);
		ck_assert_msg(lr == 0 || lr == 1, "record %d: %d", i, lr);
		if (lr == 1) {
			msg_rec(i, &r);
			rec_eq(&r, &out, i);
			found++;
		}
	}
	return found;
}

/* GDBM finds the damage mid-session: one gdbm_recover(), and the index
 * goes on working with what could be saved. */
START_TEST(test_session_recover)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	struct stat before, after;
	int rebuilt;

	idx = open_then_truncate();
	ck_assert_int_eq(stat(idx_path, &before), 0);
	(void)lookup_all(idx);
	/* gdbm_recover() renamed a new file into place. */
	ck_assert_int_eq(stat(idx_path, &after), 0);
	ck_assert(before.st_ino != after.st_ino);
	ck_assert_int_eq(after.st_mode & 077, 0);
	mkrec(&r, 3, 3, 0);
	ck_assert_int_eq(index_store(idx, "new", &r), 0);
	ck_assert_int_eq(index_lookup(idx, "new", &out), 1);
	ck_assert_int_ge(index_count(idx), 1);
	ck_assert_int_eq(index_sync(idx), 0);
	index_close(&idx);
	ck_assert_int_eq(stray_files(idx_dir), 0);

	/* The schema record was kept or put back: no rebuild next time. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_lookup(idx, "new", &out), 1);
	rec_eq(&r, &out, 0);
	(void)lookup_all(idx);
	index_close(&idx);
}
END_TEST

/* Recovery itself fails (it cannot write its new file): the index is off
 * for the session, the broken file and GDBM's temp file are removed, and
 * the next session starts afresh. */
START_TEST(test_session_recover_fails)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	struct rlimit rl, saved;
	struct stat st;
	char name[64];
	int i, lr[50], rebuilt;

	idx = open_then_truncate();
	/*
	 * Writes past 4 KiB fail with EFBIG (not SIGXFSZ) while the records
	 * are looked up.  No ck_assert in that window: check itself writes
	 * to a file.
	 */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = 4096;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 0; i < 50; i++)
		lr[i] = index_lookup(idx, msg_name(i, name, sizeof(name)),
		    &out);
	(void)setrlimit(RLIMIT_FSIZE, &saved);
	for (i = 0; i < 50; i++)
		ck_assert_msg(lr[i] == 0 || lr[i] == 1, "record %d: %d", i,
		    lr[i]);

	/* Off for the rest of the session, without crashing. */
	ck_assert_int_eq(lookup_all(idx), 0);
	mkrec(&r, 3, 3, 0);
	ck_assert_int_eq(index_store(idx, "new", &r), -1);
	ck_assert_int_eq(index_lookup(idx, "new", &out), 0);
	ck_assert_int_eq(index_delete(idx, "new"), -1);
	ck_assert_int_eq(index_count(idx), -1);
	ck_assert_int_eq(index_prune(idx, keep_odd_name, NULL), -1);
	ck_assert_int_eq(index_sync(idx), -1);
	index_close(&idx);
	ck_assert_ptr_null(idx);
	/* The broken file and GDBM's half-written temp file are gone. */
	ck_assert_int_eq(lstat(idx_path, &st), -1);
	ck_assert_int_eq(stray_files(idx_dir), 0);

	/* The next session starts with an empty, working index. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_count(idx), 0);
	ck_assert_int_eq(index_store(idx, "new", &r), 0);
	ck_assert_int_eq(index_lookup(idx, "new", &out), 1);
	index_close(&idx);
}
END_TEST

/* ------------------------------------------------------------- bit flips */

#define FLIP_RECORDS	50
#define FLIP_CASES	200

static unsigned char *flip_ref;
static size_t flip_ref_len;

/* Unchecked fixture: one real index, built once, kept in memory. */
static void
flip_setup(void)
{
	char *dir = test_tmpdir(), *path = test_path_in(dir, INDEX_FILE);
	struct index *idx;
	struct index_rec r;
	const char *err;
	char name[64];
	int i, rebuilt;
	FILE *f;
	long n;

	if (index_open(path, &idx, &rebuilt, &err) != 0)
		abort();
	for (i = 0; i < FLIP_RECORDS; i++) {
		msg_rec(i, &r);
		if (index_store(idx, msg_name(i, name, sizeof(name)), &r) != 0)
			abort();
	}
	index_close(&idx);
	if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (flip_ref = malloc((size_t)n)) == NULL ||
	    fread(flip_ref, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	flip_ref_len = (size_t)n;
	test_rmtree(dir);
	free(dir);
	free(path);
}

static void
flip_teardown(void)
{
	free(flip_ref);
	flip_ref = NULL;
}

START_TEST(test_bitflip)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	unsigned char *buf;
	char name[64];
	size_t off;
	long n;
	int i, lr, rebuilt, found = 0;

	ck_assert_ptr_nonnull(flip_ref);
	/* Spread the offsets over the file, not all on block starts. */
	off = ((size_t)_i * flip_ref_len) / FLIP_CASES +
	    ((size_t)_i * 37) % (flip_ref_len / FLIP_CASES + 1);
	if (off >= flip_ref_len)
		off = flip_ref_len - 1;
	buf = malloc(flip_ref_len);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, flip_ref, flip_ref_len);
	/* Mostly single bits; every fifth case a whole octet. */
	buf[off] ^= _i % 5 == 4 ? 0xff : (unsigned char)(1u << (_i % 8));
	test_write_file(idx_path, buf, flip_ref_len);
	free(buf);

	ck_assert_msg(index_open(idx_path, &idx, &rebuilt, &err) == 0,
	    "case %d (offset %zu): %s", _i, off, err);
	for (i = 0; i < FLIP_RECORDS; i++) {
		msg_name(i, name, sizeof(name));
		lr = index_lookup(idx, name, &out);
		ck_assert_msg(lr == 0 || lr == 1,
		    "case %d (offset %zu): lookup %d returned %d", _i, off,
		    i, lr);
		if (lr == 1) {
			/* A record read back is the one written: a flip
			 * in it fails its checksum, one in its key or in
			 * GDBM's bookkeeping makes it unreachable. */
			found++;
			msg_rec(i, &r);
			rec_eq(&r, &out, i);
		}
	}
	n = index_count(idx);
	ck_assert_msg(n >= -1 && n <= 2 * FLIP_RECORDS,
	    "case %d (offset %zu): count %ld", _i, off, n);
	if (rebuilt)
		ck_assert_int_eq(found, 0);
	/* A store either works (and reads back) or fails cleanly. */
	mkrec(&r, 1, 1, 0);
	if (index_store(idx, "after", &r) == 0)
		ck_assert_int_ge(index_lookup(idx, "after", &out), 0);
	(void)index_sync(idx);
	index_close(&idx);

	/* Whatever happened, the next session has a working index. */
	ck_assert_msg(index_open(idx_path, &idx, &rebuilt, &err) == 0,
	    "case %d (offset %zu): reopen: %s", _i, off, err);
	mkrec(&r, 2, 2, 1);
	ck_assert_msg(index_store(idx, "next", &r) == 0,
	    "case %d (offset %zu): store in the next session", _i, off);
	ck_assert_msg(index_lookup(idx, "next", &out) == 1,
	    "case %d (offset %zu): lookup in the next session", _i, off);
	rec_eq(&r, &out, _i);
	ck_assert_int_ge(index_count(idx), 1);
	index_close(&idx);
}
END_TEST

Suite *
suite_index(void)
{
	Suite *s = suite_create("index");
	TCase *tc;

	tc = tcase_create("crc32c");
	tcase_add_loop_test(tc, test_crc32c_vectors, 0,
	    (int)(sizeof(crc_vectors) / sizeof(crc_vectors[0])));
	tcase_add_test(tc, test_crc32c_hw_matches_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_loop_test(tc, test_codec_roundtrip, 0,
	    (int)(sizeof(codec_ok) / sizeof(codec_ok[0])));
	tcase_add_loop_test(tc, test_codec_every_bitflip, 0,
	    (int)(sizeof(codec_ok) / sizeof(codec_ok[0])));
	tcase_add_test(tc, test_codec_other_key);
	tcase_add_test(tc, test_codec_golden);
	tcase_add_loop_test(tc, test_codec_reject, 0,
	    (int)(sizeof(codec_bad) / sizeof(codec_bad[0])));
	tcase_add_test(tc, test_codec_edges);
	tcase_add_test(tc, test_codec_encode_refuse);
	tcase_add_loop_test(tc, test_uidl_valid, 0,
	    (int)(sizeof(uidl_cases) / sizeof(uidl_cases[0])));
	tcase_add_test(tc, test_uidl_valid_null);
	tcase_add_test(tc, test_uidl_valid_every_octet);
	suite_add_tcase(s, tc);

	tc = tcase_create("ops");
	tcase_add_checked_fixture(tc, test_idx_setup, test_idx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ops_basic);
	tcase_add_test(tc, test_ops_bad_args);
	tcase_add_test(tc, test_ops_schema_key_no_collision);
	tcase_add_test(tc, test_ops_prune);
	tcase_add_test(tc, test_ops_many);
	tcase_add_test(tc, test_table_after_walk);
	tcase_add_test(tc, test_table_writes);
	tcase_add_loop_test(tc, test_ops_invalid_record_deleted, 0,
	    (int)(sizeof(bad_in_file) / sizeof(bad_in_file[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, test_idx_setup, test_idx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_damage, 0,
	    (int)(sizeof(damage_cases) / sizeof(damage_cases[0])));
	tcase_add_test(tc, test_damage_directory);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_add_checked_fixture(tc, test_idx_setup, test_idx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_session_recover);
	tcase_add_test(tc, test_session_recover_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("bitflip");
	tcase_add_unchecked_fixture(tc, flip_setup, flip_teardown);
	tcase_add_checked_fixture(tc, test_idx_setup, test_idx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_bitflip, 0, FLIP_CASES);
	suite_add_tcase(s, tc);

	return s;
}
