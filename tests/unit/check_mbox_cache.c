/*
 * check_mbox_cache.c - the offset record of the mbox plugin
 * (plugins/mbox_cache.c): a record made from a real parse decodes to the
 * same entries; every single-bit flip, every truncation and a record
 * with valid CRC-32Cs but entries that do not tile the prefix, a foreign
 * flag, an internal message that is not first, a key that is not a UIDL
 * or a count over the limit is refused.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "../../plugins/mbox_cache.h"
#include "../../src/crc32c.h"

#define SEP "From a@b Mon Dec  7 01:00:00 2026\n"
#define MAXE 8

static const char mbox[] =
    "preamble\n"
    SEP "Subject: one\n\nbody 1\n\n"
    SEP "X-UIDL: qpopper.0042\nSubject: two\n\nbody 2\n\n"
    SEP "Content-Length: 7\n\nbody 3\n";

struct got {
	struct mbox_cache_ent e[MAXE];
	size_t n;
};

static int
collect(const struct mbox_cache_ent *e, void *arg)
{
	struct got *g = arg;

	if (g->n < MAXE)
		g->e[g->n] = *e;
	g->n++;
	return 0;
}

static int
from_parse(const struct mbox_msg *m, void *arg)
{
	struct got *g = arg;
	struct mbox_cache_ent *e = &g->e[g->n++];

	memset(e, 0, sizeof *e);
	e->from = m->from_off;
	e->body = m->body_off;
	e->hend = m->body_off + m->hdr_len;
	e->end = m->end_off;
	e->next = m->next_off;
	e->hcrc = crc32c(0, (const unsigned char *)mbox + m->from_off,
	    (size_t)(e->hend - e->from));
	e->flags = m->flags;
	if (m->flags & MBOX_F_UIDL)
		strcpy(e->key, m->uidl);
	else
		memcpy(e->key, "0123456789abcdef0123456789abcdef", 33);
	return 0;
}

/* A record of ENTS (N of them) for a prefix of LEN octets into OUT;
 * its length. */
static size_t
make(const struct mbox_cache_ent *ents, size_t n, uint64_t len,
    unsigned char *out)
{
	struct mbox_cache_hdr h;
	size_t off = MBOX_CACHE_HDR_LEN, i;

	for (i = 0; i < n; i++)
		off += mbox_cache_ent_encode(&ents[i], out + off);
	memset(&h, 0, sizeof h);
	h.dev = 2049;
	h.ino = 77;
	h.len = len;
	h.ctime_s = 1765000000;
	h.ctime_ns = 123;
	h.made_s = 1765000100;
	h.count = (uint32_t)n;
	h.reparse = (uint32_t)(n - 1);
	h.ents_crc = crc32c(0, out + MBOX_CACHE_HDR_LEN,
	    off - MBOX_CACHE_HDR_LEN);
	mbox_cache_hdr_encode(&h, out);
	return off;
}

static struct got src;
static unsigned char rec[MBOX_CACHE_HDR_LEN + MAXE * MBOX_CACHE_ENT_MAX];
static size_t reclen;

static void
setup(void)
{
	memset(&src, 0, sizeof src);
	ck_assert_int_eq(mbox_parse((const unsigned char *)mbox,
	    sizeof mbox - 1, 0, from_parse, &src, NULL), 3);
	reclen = make(src.e, src.n, sizeof mbox - 1, rec);
}

START_TEST(t_roundtrip)
{
	struct mbox_cache_hdr h;
	struct got g;
	size_t i;

	setup();
	memset(&g, 0, sizeof g);
	ck_assert_int_eq(mbox_cache_decode(rec, reclen, &h, collect, &g), 0);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_uint_eq(h.len, sizeof mbox - 1);
	ck_assert_uint_eq(h.ino, 77);
	ck_assert_uint_eq(h.ctime_ns, 123);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(g.e[i].from, src.e[i].from);
		ck_assert_uint_eq(g.e[i].body, src.e[i].body);
		ck_assert_uint_eq(g.e[i].hend, src.e[i].hend);
		ck_assert_uint_eq(g.e[i].end, src.e[i].end);
		ck_assert_uint_eq(g.e[i].next, src.e[i].next);
		ck_assert_uint_eq(g.e[i].hcrc, src.e[i].hcrc);
		ck_assert_uint_eq(g.e[i].flags, src.e[i].flags);
		ck_assert_str_eq(g.e[i].key, src.e[i].key);
	}
	ck_assert_str_eq(g.e[1].key, "qpopper.0042");
	ck_assert(g.e[2].flags & MBOX_F_CLEN);
}
END_TEST

START_TEST(t_damage_refused)
{
	struct mbox_cache_hdr h;
	unsigned char *d;
	size_t i, bit;

	setup();
	d = malloc(reclen);
	ck_assert_ptr_nonnull(d);
	for (i = 0; i < reclen; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(d, rec, reclen);
			d[i] ^= (unsigned char)(1u << bit);
			ck_assert_msg(mbox_cache_decode(d, reclen, &h, NULL,
			    NULL) == -1, "flip %zu.%zu accepted", i, bit);
		}
	for (i = 0; i < reclen; i++)
		ck_assert_int_eq(mbox_cache_decode(rec, i, &h, NULL, NULL),
		    -1);
	memcpy(d, rec, reclen);
	ck_assert_int_eq(mbox_cache_decode(d, reclen, &h, NULL, NULL), 0);
	free(d);
}
END_TEST

/* Valid CRCs, wrong structure: each is refused. */
START_TEST(t_structure_refused)
{
	struct mbox_cache_hdr h;
	struct mbox_cache_ent e[MAXE];
	unsigned char r[sizeof rec];
	size_t n, len = sizeof mbox - 1;
	int k;

	setup();
	for (k = 0; k < 10; k++) {
		memcpy(e, src.e, sizeof e);
		switch (k) {
		case 0: e[1].from++; break;		/* gap */
		case 1: e[0].next = e[1].from + 1; break;
		case 2: e[2].end = e[2].next + 1; break;
		case 3: e[1].body = e[1].from; break;
		case 4: e[1].flags |= MBOX_F_INTERNAL; break;
		case 5: e[0].flags |= 0x40; break;
		case 6: memcpy(e[0].key, "0123456789ABCDEF0123456789abcdef",
		    33); break;			/* not our hex */
		case 7: strcpy(e[1].key, "bad key"); break;
		case 8: e[1].hend = e[1].end + 1; break;
		case 9: len++; break;		/* the last does not end it */
		}
		n = make(e, 3, len, r);
		ck_assert_msg(mbox_cache_decode(r, n, &h, NULL, NULL) == -1,
		    "case %d accepted", k);
	}
	/* an entry more than the count says, or fewer */
	n = make(src.e, 3, sizeof mbox - 1, r);
	r[71] = 2;
	{
		uint32_t c = crc32c(0, r, 92);

		r[92] = (unsigned char)(c >> 24);
		r[93] = (unsigned char)(c >> 16);
		r[94] = (unsigned char)(c >> 8);
		r[95] = (unsigned char)c;
	}
	ck_assert_int_eq(mbox_cache_decode(r, n, &h, NULL, NULL), -1);
	/* a count over the limit */
	r[68] = 0x7f;
	r[71] = 3;
	{
		uint32_t c = crc32c(0, r, 92);

		r[92] = (unsigned char)(c >> 24);
		r[93] = (unsigned char)(c >> 16);
		r[94] = (unsigned char)(c >> 8);
		r[95] = (unsigned char)c;
	}
	ck_assert_int_eq(mbox_cache_decode(r, n, &h, NULL, NULL), -1);
}
END_TEST

/* made_ns round-trips and is range-checked; a record of layout version
 * 1 (or any other) is refused and told apart from damage by its
 * version, which store_mbox.c ignores without a warning. */
START_TEST(t_made_ns_and_version)
{
	struct mbox_cache_hdr h;
	unsigned char r[sizeof rec], hb[MBOX_CACHE_HDR_LEN];
	size_t n;

	setup();
	ck_assert_uint_eq(mbox_cache_version(rec, reclen), MBOX_CACHE_VERSION);
	ck_assert_uint_eq(mbox_cache_version(rec, 10), 0);
	ck_assert_int_eq(mbox_cache_decode(rec, reclen, &h, NULL, NULL), 0);
	h.made_ns = 999999999u;
	mbox_cache_hdr_encode(&h, hb);
	memcpy(r, rec, reclen);
	memcpy(r, hb, sizeof hb);
	ck_assert_int_eq(mbox_cache_decode(r, reclen, &h, NULL, NULL), 0);
	ck_assert_uint_eq(h.made_ns, 999999999u);
	h.made_ns = 1000000000u;
	mbox_cache_hdr_encode(&h, hb);
	memcpy(r, hb, sizeof hb);
	ck_assert_int_eq(mbox_cache_decode(r, reclen, &h, NULL, NULL), -1);
	/* version 1, CRC made good */
	n = reclen;
	memcpy(r, rec, n);
	r[11] = 1;
	{
		uint32_t c = crc32c(0, r, 92);

		r[92] = (unsigned char)(c >> 24);
		r[93] = (unsigned char)(c >> 16);
		r[94] = (unsigned char)(c >> 8);
		r[95] = (unsigned char)c;
	}
	ck_assert_uint_eq(mbox_cache_version(r, n), 1);
	ck_assert_int_eq(mbox_cache_decode(r, n, &h, NULL, NULL), -1);
}
END_TEST

Suite *
suite_mbox_cache(void)
{
	Suite *s = suite_create("mbox_cache");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, t_roundtrip);
	tcase_add_test(tc, t_damage_refused);
	tcase_add_test(tc, t_structure_refused);
	tcase_add_test(tc, t_made_ns_and_version);
	suite_add_tcase(s, tc);
	return s;
}
