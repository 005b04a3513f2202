/*
 * check_idxsnap.c - unit tests for the snapshot of the index's message
 * records (src/idxsnap.c, and its use in src/index.c; doc/DESIGN.md
 * section 7, doc/SECURITY.md D7c): the codec (round trips, the octet
 * layout, every bad header field and entry with the checksums made
 * right, every single-bit flip), and the index's use of it on a temp
 * dir: written at close, used at the next open, removed before a write,
 * and refused - the walk runs instead, with the same answers - whenever
 * any one of the device, inode, size, mtime, ctime, file checksum or
 * generation it names differs from the file's, when it is damaged, a
 * symlink, another index's, or a copy kept from before a write.
 * Runs as whoever runs make check.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "idxsnap.h"
#include "index.h"
#include "suites.h"

/* ------------------------------------------------------------------ codec */

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Recompute the header's own CRC after a test changed an octet. */
static void
hdr_fix(unsigned char *b)
{
	put32(b + 124, crc32c(0, b, 124));
}

static void
sample_hdr(struct idxsnap_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->count = 2;
	h->vlen = 22;
	h->id.dev = 0x0102030405060708u;
	h->id.ino = 0x1112131415161718u;
	h->id.size = 2355200;
	h->id.mtime_s = 1765000000;
	h->id.mtime_ns = 999999999;
	h->id.ctime_s = -5;
	h->id.ctime_ns = 1;
	h->id.gen_id = 0xfedcba9876543210u;
	h->id.gen_ctr = 42;
	h->id.file_crc = 0xdeadbeef;
}

/* A snapshot of two entries in BUF; returns its length. */
static size_t
sample(unsigned char *buf, struct idxsnap_hdr *h)
{
	unsigned char v1[22], v2[22];
	size_t len = IDXSNAP_HDR_LEN;

	memset(v1, 0xa1, sizeof(v1));
	memset(v2, 0x00, sizeof(v2));
	sample_hdr(h);
	len += idxsnap_ent_encode("m:first", 7, v1, 22, buf + len);
	len += idxsnap_ent_encode("m:x", 3, v2, 22, buf + len);
	h->ents_len = len - IDXSNAP_HDR_LEN;
	h->ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, h->ents_len);
	idxsnap_hdr_encode(h, buf);
	return len;
}

struct seen {
	int n;
	char keys[4][16];
	unsigned char vals[4][22];
};

static int
collect(void *arg, const char *key, size_t klen, const unsigned char *val)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 4);
	ck_assert_uint_lt(klen, 16);
	memcpy(s->keys[s->n], key, klen);
	s->keys[s->n][klen] = '\0';
	memcpy(s->vals[s->n], val, 22);
	s->n++;
	return 0;
}

START_TEST(test_codec_roundtrip)
{
	unsigned char buf[512];
	struct idxsnap_hdr h, d;
	struct seen s;
	size_t len;

	len = sample(buf, &h);
	ck_assert_uint_eq(len, IDXSNAP_HDR_LEN + (2 + 7 + 22) + (2 + 3 + 22));
	ck_assert_int_eq(idxsnap_hdr_decode(buf, len, &d), 0);
	ck_assert_uint_eq(d.count, 2);
	ck_assert_uint_eq(d.vlen, 22);
	ck_assert(d.id.dev == h.id.dev && d.id.ino == h.id.ino &&
	    d.id.size == h.id.size && d.id.mtime_s == h.id.mtime_s &&
	    d.id.mtime_ns == h.id.mtime_ns && d.id.ctime_s == h.id.ctime_s &&
	    d.id.ctime_ns == h.id.ctime_ns && d.id.gen_id == h.id.gen_id &&
	    d.id.gen_ctr == h.id.gen_ctr && d.id.file_crc == h.id.file_crc);
	ck_assert(d.ents_len == h.ents_len && d.ents_crc == h.ents_crc);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &d, 4098,
	    collect, &s), 0);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.keys[0], "m:first");
	ck_assert_str_eq(s.keys[1], "m:x");
	ck_assert_int_eq(s.vals[0][21], 0xa1);
	ck_assert_int_eq(s.vals[1][0], 0);
	/* The layout is pinned: magic, version, count, big-endian fields,
	 * an entry's key length in two octets. */
	ck_assert_int_eq(memcmp(buf, "P23IXSNP\0\0\0\1\0\0\0\2", 16), 0);
	ck_assert_int_eq(memcmp(buf + 16, "\1\2\3\4\5\6\7\x08", 8), 0);
	ck_assert_int_eq(memcmp(buf + 96, "\xde\xad\xbe\xef", 4), 0);
	ck_assert_int_eq(memcmp(buf + IDXSNAP_HDR_LEN, "\0\7m:first", 9), 0);
}
END_TEST

/* One octet of the header changed (the header's CRC made right again,
 * so that the check behind it is the one tested), or its length. */
static const struct {
	const char *what;
	size_t off;
	unsigned char val;
	int fix;
} hdr_bad[] = {
	{ "magic", 0, 'X', 1 },
	{ "version", 11, 2, 1 },
	{ "count too big", 12, 0x01, 1 },	/* 2^24 + 2 */
	{ "count over ents_len", 15, 9, 1 },
	{ "mtime_ns 10^9 or more", 48, 0x40, 1 },
	{ "ctime_ns 10^9 or more", 60, 0x40, 1 },
	{ "vlen 0", 95, 0, 1 },
	{ "vlen over 255", 94, 1, 1 },
	{ "padding", 110, 1, 1 },
	{ "ents_len too long for count", 80, 1, 1 },
	{ "header CRC", 124, 0, 0 },
	{ "a field, CRC not fixed", 20, 0x55, 0 },
};

START_TEST(test_codec_hdr_reject)
{
	unsigned char buf[512];
	struct idxsnap_hdr h;
	size_t len;

	len = sample(buf, &h);
	buf[hdr_bad[_i].off] = hdr_bad[_i].off == 124 ?
	    (unsigned char)(buf[124] ^ 1) : hdr_bad[_i].val;
	if (hdr_bad[_i].fix)
		hdr_fix(buf);
	ck_assert_msg(idxsnap_hdr_decode(buf, len, &h) == -1, "%s",
	    hdr_bad[_i].what);
}
END_TEST

START_TEST(test_codec_hdr_short)
{
	unsigned char buf[512];
	struct idxsnap_hdr h;

	(void)sample(buf, &h);
	ck_assert_int_eq(idxsnap_hdr_decode(buf, IDXSNAP_HDR_LEN - 1, &h), -1);
	ck_assert_int_eq(idxsnap_hdr_decode(NULL, 512, &h), -1);
	ck_assert_int_eq(idxsnap_hdr_decode(buf, IDXSNAP_HDR_LEN, NULL), 0);
}
END_TEST

/* Entries that are wrong with a right CRC over them. */
START_TEST(test_codec_ents_reject)
{
	unsigned char buf[512], v[22];
	struct idxsnap_hdr h, d;
	size_t len, n;

	memset(v, 1, sizeof(v));
	/* A NUL inside a key. */
	len = sample(buf, &h);
	buf[IDXSNAP_HDR_LEN + 4] = '\0';
	h.ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, h.ents_len);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 4098,
	    NULL, NULL), -1);
	/* A key length of 0. */
	len = sample(buf, &h);
	buf[IDXSNAP_HDR_LEN] = 0;
	buf[IDXSNAP_HDR_LEN + 1] = 0;
	h.ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, h.ents_len);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 4098,
	    NULL, NULL), -1);
	/* A key longer than the caller allows. */
	len = sample(buf, &h);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 6,
	    NULL, NULL), -1);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 7,
	    NULL, NULL), 0);
	/* A key length that runs past the end. */
	len = sample(buf, &h);
	buf[IDXSNAP_HDR_LEN + 1] = 200;
	h.ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, h.ents_len);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 4098,
	    NULL, NULL), -1);
	/* Fewer entries than the header says, and more. */
	len = sample(buf, &h);
	d = h;
	d.count = 3;
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &d, 4098,
	    NULL, NULL), -1);
	d.count = 1;
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &d, 4098,
	    NULL, NULL), -1);
	/* Octets left over after the last entry. */
	n = idxsnap_ent_encode("m:y", 3, v, 22, buf + len);
	d = h;
	d.ents_len += n - 1;
	d.ents_crc = crc32c(0, buf + IDXSNAP_HDR_LEN, d.ents_len);
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &d, 4098,
	    NULL, NULL), -1);
	/* The CRC over the entries. */
	len = sample(buf, &h);
	h.ents_crc ^= 0x80000000u;
	ck_assert_int_eq(idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &h, 4098,
	    NULL, NULL), -1);
	(void)len;
}
END_TEST

START_TEST(test_codec_encode_refuse)
{
	unsigned char o[64], v[22];

	memset(v, 0, sizeof(v));
	ck_assert_uint_eq(idxsnap_ent_encode("", 0, v, 22, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode("a\0b", 3, v, 22, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode("ab", 2, v, 0, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode("ab", 2, v, 256, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode("ab", 65536, v, 22, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode(NULL, 2, v, 22, o), 0);
	ck_assert_uint_eq(idxsnap_ent_encode("ab", 2, v, 22, o), 26);
}
END_TEST

/* Every single-bit flip anywhere in a snapshot is refused by the header
 * decode or by the entry walk (CRC-32C catches every 1-bit error). */
START_TEST(test_codec_bitflips)
{
	unsigned char buf[512];
	struct idxsnap_hdr h, d;
	size_t len, bit;
	int ok;

	len = sample(buf, &h);
	for (bit = 0; bit < len * 8; bit++) {
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		ok = idxsnap_hdr_decode(buf, len, &d) == 0 &&
		    d.ents_len == len - IDXSNAP_HDR_LEN &&
		    idxsnap_ents_walk(buf + IDXSNAP_HDR_LEN, &d, 4098, NULL,
		    NULL) == 0;
		ck_assert_msg(!ok, "bit %zu accepted", bit);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	ck_assert_int_eq(idxsnap_hdr_decode(buf, len, &d), 0);
}
END_TEST

/* ------------------------------------------------------- in the index */

#define NREC	500

static char *
name_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "%08x%08x%08x%08x", (unsigned)i * 2654435761u,
	    (unsigned)i, 7u, (unsigned)(i ^ 0x5a5a));
	return buf;
}

static void
rec_of(int i, struct index_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->raw_size = 1000 + (uint64_t)i;
	r->size = r->raw_size + 20;
	r->accessed = i % 3 == 0;
}

static void
make_index(int n)
{
	struct index *idx;
	struct index_rec r;
	const char *err = NULL;
	char name[64];
	int i, rebuilt;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	for (i = 0; i < n; i++) {
		rec_of(i, &r);
		ck_assert_int_eq(index_store(idx, name_of(i, name,
		    sizeof(name)), &r), 0);
	}
	index_close(&idx);
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Open the index; every record 0..N-1 must be there and right, as must
 * EXTRA (if not NULL) with EXTRA_REC.  Returns index_from_snapshot(). */
static int
open_check(int n, const char *extra, const struct index_rec *extra_rec)
{
	struct index *idx;
	struct index_rec r, out;
	const char *err = NULL;
	char name[64];
	int i, rebuilt, snap;

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	snap = index_from_snapshot(idx);
	ck_assert_int_eq(index_table_count(idx), n + (extra != NULL));
	for (i = 0; i < n; i++) {
		rec_of(i, &r);
		ck_assert_int_eq(index_lookup(idx, name_of(i, name,
		    sizeof(name)), &out), 1);
		ck_assert(out.size == r.size && out.raw_size == r.raw_size &&
		    out.accessed == r.accessed);
	}
	if (extra != NULL) {
		ck_assert_int_eq(index_lookup(idx, extra, &out), 1);
		ck_assert(out.size == extra_rec->size &&
		    out.raw_size == extra_rec->raw_size);
	}
	ck_assert_int_eq(index_lookup(idx, "not-there", &out), 0);
	index_close(&idx);
	return snap;
}

static size_t
read_file(const char *path, unsigned char **buf_r)
{
	struct stat st;
	unsigned char *b;
	int fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_ptr_nonnull(b = malloc((size_t)st.st_size + 1));
	ck_assert_int_eq(read(fd, b, (size_t)st.st_size), st.st_size);
	close(fd);
	*buf_r = b;
	return (size_t)st.st_size;
}

START_TEST(test_snap_lifecycle)
{
	struct index *idx;
	struct index_rec r;
	const char *err = NULL;
	int rebuilt;

	make_index(NREC);
	/* Closed with its table complete: a snapshot, used next time. */
	ck_assert(exists(idx_snap));
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);

	/* A write removes it first: gone before the close. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_from_snapshot(idx), 1);
	rec_of(9999, &r);
	ck_assert_int_eq(index_store(idx, "added", &r), 0);
	ck_assert(!exists(idx_snap));
	index_close(&idx);
	/* ... and the close writes the new one, with the new record. */
	ck_assert(exists(idx_snap));
	ck_assert_int_eq(open_check(NREC, "added", &r), 1);

	/* Suspended after the load, written to after (a commit): the
	 * table comes back from the snapshot, the close writes a new one. */
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	index_suspend(idx);
	ck_assert_int_eq(index_table_count(idx), -1);
	ck_assert(exists(idx_snap));
	ck_assert_int_eq(index_delete(idx, "added"), 0);
	ck_assert(!exists(idx_snap));
	ck_assert_int_eq(index_table_count(idx), NREC);
	index_close(&idx);
	ck_assert(exists(idx_snap));
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
}
END_TEST

/* A copy of the snapshot kept from before a write (an unlink that did
 * not happen, a restore, a crash between the write and the new
 * snapshot) never matches again: the generation moved, and so did the
 * file. */
START_TEST(test_snap_old_copy)
{
	struct index *idx;
	struct index_rec r;
	const char *err = NULL;
	unsigned char *old;
	size_t len;
	pid_t pid;
	int st, rebuilt;

	make_index(NREC);
	len = read_file(idx_snap, &old);
	/* A session that writes and dies without closing (after a sync,
	 * so the write is in the file). */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (index_open(idx_path, &idx, &rebuilt, &err) != 0)
			_exit(2);
		rec_of(1, &r);
		r.accessed = !r.accessed;	/* a replace, same sizes */
		if (index_store(idx, name_of(1, (char[64]){0}, 64), &r) != 0 ||
		    index_sync(idx) != 0)
			_exit(3);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert(!exists(idx_snap));
	test_write_file(idx_snap, old, len);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(index_from_snapshot(idx), 0);
	rec_of(1, &r);
	{
		struct index_rec out;
		char name[64];

		ck_assert_int_eq(index_lookup(idx, name_of(1, name,
		    sizeof(name)), &out), 1);
		ck_assert_int_eq(out.accessed, !r.accessed);
	}
	index_close(&idx);
	free(old);
}
END_TEST

/*
 * The snapshot rewritten with one field of its header changed (and its
 * CRC made right): each of the checks alone refuses it, and the walk
 * gives the same answers.  Case 0 changes nothing: the rewrite itself
 * keeps a good snapshot good, so the others fail for their field.
 */
enum { F_NONE, F_DEV, F_INO, F_SIZE, F_MTIME, F_MTIME_NS, F_CTIME,
	F_CTIME_NS, F_GEN_ID, F_GEN_CTR, F_FILE_CRC, F_VLEN, F_COUNT,
	F_NFIELDS };

START_TEST(test_snap_field)
{
	struct idxsnap_hdr h;
	unsigned char *b;
	size_t len;

	make_index(NREC);
	len = read_file(idx_snap, &b);
	ck_assert_int_eq(idxsnap_hdr_decode(b, len, &h), 0);
	switch (_i) {
	case F_DEV: h.id.dev ^= 1; break;
	case F_INO: h.id.ino ^= 1; break;
	case F_SIZE: h.id.size += 4096; break;
	case F_MTIME: h.id.mtime_s -= 1; break;
	case F_MTIME_NS: h.id.mtime_ns ^= 1; break;
	case F_CTIME: h.id.ctime_s -= 1; break;
	case F_CTIME_NS: h.id.ctime_ns ^= 1; break;
	case F_GEN_ID: h.id.gen_id ^= 1; break;
	case F_GEN_CTR: h.id.gen_ctr -= 1; break;
	case F_FILE_CRC: h.id.file_crc ^= 1; break;
	case F_VLEN: h.vlen = 21; break;
	case F_COUNT: h.count -= 1; break;
	}
	idxsnap_hdr_encode(&h, b);
	test_write_file(idx_snap, b, len);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), _i == F_NONE);
	/* A refused one is removed, and the close writes a good one. */
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
	free(b);
}
END_TEST

/* Damaged (an octet of an entry), a symlink, not ours to trust (group
 * writable), another index's: refused, the walk answers. */
START_TEST(test_snap_hostile)
{
	unsigned char *b;
	char *other, *otherdir;
	size_t len;

	make_index(NREC);
	len = read_file(idx_snap, &b);
	b[len - 5] ^= 0x10;
	test_write_file(idx_snap, b, len);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
	free(b);

	/* Group-writable. */
	ck_assert_int_eq(chmod(idx_snap, 0620), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);

	/* A symlink to a good snapshot. */
	otherdir = test_tmpdir();
	other = test_path_in(otherdir, "snap");
	len = read_file(idx_snap, &b);
	test_write_file(other, b, len);
	ck_assert_int_eq(chmod(other, 0600), 0);
	ck_assert_int_eq(unlink(idx_snap), 0);
	ck_assert_int_eq(symlink(other, idx_snap), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	ck_assert(exists(other));	/* the link went, not its target */
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
	free(b);

	/* Another index's snapshot (same records, another file). */
	{
		char *saved_path = idx_path, *saved_snap = idx_snap;

		idx_path = test_path_in(otherdir, INDEX_FILE);
		idx_snap = test_path_in(otherdir, INDEX_FILE INDEX_SNAP_SUFFIX);
		make_index(NREC);
		len = read_file(idx_snap, &b);
		free(idx_path);
		free(idx_snap);
		idx_path = saved_path;
		idx_snap = saved_snap;
	}
	test_write_file(idx_snap, b, len);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	free(b);

	/* Random octets, an empty file, a header alone. */
	b = calloc(1, 4096);
	ck_assert_ptr_nonnull(b);
	memset(b, 0x5a, 4096);
	test_write_file(idx_snap, b, 4096);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	test_write_file(idx_snap, b, 0);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	free(b);
	len = read_file(idx_snap, &b);
	test_write_file(idx_snap, b, IDXSNAP_HDR_LEN);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 0);
	ck_assert_int_eq(open_check(NREC, NULL, NULL), 1);
	free(b);

	test_rmtree(otherdir);
	free(otherdir);
	free(other);
}
END_TEST

/* The GDBM file changed behind pop23d's back (a record's value, an
 * octet), its mtime put back and its ctime written into the snapshot (a
 * writer in the same clock tick, as far as the times can show): the
 * file's CRC refuses the snapshot, and the walk finds the damaged record
 * (a miss: the message is measured again). */
START_TEST(test_snap_same_tick)
{
	struct timespec ts[2];
	struct index *idx;
	struct index_rec r, out;
	struct idxsnap_hdr h;
	struct stat st;
	unsigned char *b, *s, rec[INDEX_REC_LEN];
	const char *err = NULL;
	char name[64];
	size_t len, sl, i;
	int fd, rebuilt, found = 0;

	make_index(NREC);
	ck_assert_int_eq(stat(idx_path, &st), 0);
	len = read_file(idx_path, &b);
	rec_of(77, &r);
	ck_assert_uint_eq(index_encode(name_of(77, name, sizeof(name)), &r,
	    rec), INDEX_REC_LEN);
	for (i = 0; i + INDEX_REC_LEN <= len && !found; i++)
		if (memcmp(b + i, rec, INDEX_REC_LEN) == 0)
			found = 1;
	ck_assert(found);
	i--;
	b[i + 1] ^= 0x02;	/* another flag bit */
	ck_assert_int_ne(fd = open(idx_path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, b + i + 1, 1, (off_t)(i + 1)), 1);
	close(fd);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, idx_path, ts, 0), 0);
	ck_assert_int_eq(stat(idx_path, &st), 0);
	sl = read_file(idx_snap, &s);
	ck_assert_int_eq(idxsnap_hdr_decode(s, sl, &h), 0);
	ck_assert(h.id.mtime_s == st.st_mtim.tv_sec &&
	    h.id.mtime_ns == (uint32_t)st.st_mtim.tv_nsec &&
	    h.id.size == (uint64_t)st.st_size);
	h.id.ctime_s = st.st_ctim.tv_sec;
	h.id.ctime_ns = (uint32_t)st.st_ctim.tv_nsec;
	idxsnap_hdr_encode(&h, s);
	/* The snapshot's own ctime moves now, not the index's. */
	test_write_file(idx_snap, s, sl);
	ck_assert_int_eq(chmod(idx_snap, 0600), 0);

	ck_assert_int_eq(index_open(idx_path, &idx, &rebuilt, &err), 0);
	ck_assert_int_eq(rebuilt, 0);
	ck_assert_int_eq(index_from_snapshot(idx), 0);
	ck_assert_int_eq(index_lookup(idx, name, &out), 0);
	ck_assert_uint_eq(index_damaged(idx), 1);
	rec_of(78, &r);
	ck_assert_int_eq(index_lookup(idx, name_of(78, name, sizeof(name)),
	    &out), 1);
	ck_assert(out.size == r.size);
	index_close(&idx);
	free(s);
	free(b);
}
END_TEST

Suite *
suite_idxsnap(void)
{
	Suite *s = suite_create("idxsnap");
	TCase *tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, test_codec_roundtrip);
	tcase_add_loop_test(tc, test_codec_hdr_reject, 0,
	    (int)(sizeof(hdr_bad) / sizeof(hdr_bad[0])));
	tcase_add_test(tc, test_codec_hdr_short);
	tcase_add_test(tc, test_codec_ents_reject);
	tcase_add_test(tc, test_codec_encode_refuse);
	tcase_add_test(tc, test_codec_bitflips);
	suite_add_tcase(s, tc);

	tc = tcase_create("index");
	tcase_add_checked_fixture(tc, test_idx_setup, test_idx_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_snap_lifecycle);
	tcase_add_test(tc, test_snap_old_copy);
	tcase_add_loop_test(tc, test_snap_field, 0, F_NFIELDS);
	tcase_add_test(tc, test_snap_hostile);
	tcase_add_test(tc, test_snap_same_tick);
	suite_add_tcase(s, tc);
	return s;
}
