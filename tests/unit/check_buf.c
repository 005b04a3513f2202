/*
 * check_buf.c - struct buf: appends up to and past the hard maximum,
 * reserve, consume, free and reuse.  Each case is a list of operations
 * checked against a shadow copy of the expected contents.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "suites.h"

enum buf_op_kind { OP_END = 0, OP_APPEND, OP_RESERVE, OP_CONSUME, OP_FREE };

struct buf_op {
	enum buf_op_kind kind;
	size_t n;
	int expect;		/* return value of append/reserve */
	size_t len_after;
};

struct buf_case {
	size_t max;
	struct buf_op ops[8];
};

static const struct buf_case buf_cases[] = {
	/* 0: simple append and consume */
	{ 16, { { OP_APPEND, 5, 0, 5 }, { OP_CONSUME, 2, 0, 3 },
	    { OP_APPEND, 4, 0, 7 }, { OP_CONSUME, 7, 0, 0 } } },
	/* 1: fill to exactly max, then one more octet fails unchanged */
	{ 16, { { OP_APPEND, 16, 0, 16 }, { OP_APPEND, 1, -1, 16 },
	    { OP_CONSUME, 1, 0, 15 }, { OP_APPEND, 1, 0, 16 } } },
	/* 2: one append larger than max fails on an empty buffer */
	{ 8, { { OP_APPEND, 9, -1, 0 }, { OP_APPEND, 8, 0, 8 } } },
	/* 3: zero-length append always works, even when full */
	{ 4, { { OP_APPEND, 0, 0, 0 }, { OP_APPEND, 4, 0, 4 },
	    { OP_APPEND, 0, 0, 4 } } },
	/* 4: a size that would wrap len + n */
	{ 64, { { OP_APPEND, 10, 0, 10 }, { OP_RESERVE, SIZE_MAX, -1, 10 },
	    { OP_RESERVE, SIZE_MAX - 5, -1, 10 },
	    { OP_RESERVE, 54, 0, 10 }, { OP_RESERVE, 55, -1, 10 } } },
	/* 5: growth past the first allocation, across several doublings */
	{ 5000, { { OP_APPEND, 200, 0, 200 }, { OP_APPEND, 300, 0, 500 },
	    { OP_APPEND, 3000, 0, 3500 }, { OP_APPEND, 1500, 0, 5000 },
	    { OP_APPEND, 1, -1, 5000 }, { OP_CONSUME, 4999, 0, 1 } } },
	/* 6: consume more than held is clamped; free then reuse */
	{ 32, { { OP_APPEND, 3, 0, 3 }, { OP_CONSUME, 10, 0, 0 },
	    { OP_APPEND, 32, 0, 32 }, { OP_FREE, 0, 0, 0 },
	    { OP_APPEND, 32, 0, 32 }, { OP_APPEND, 1, -1, 32 } } },
	/* 7: max 0 accepts nothing but empty appends */
	{ 0, { { OP_APPEND, 1, -1, 0 }, { OP_APPEND, 0, 0, 0 },
	    { OP_RESERVE, 0, 0, 0 }, { OP_RESERVE, 1, -1, 0 } } },
	/* 8: a max that is not a power of two is reached exactly */
	{ 1000, { { OP_APPEND, 999, 0, 999 }, { OP_APPEND, 1, 0, 1000 },
	    { OP_APPEND, 1, -1, 1000 } } },
};

START_TEST(test_buf_ops)
{
	const struct buf_case *c = &buf_cases[_i];
	static unsigned char shadow[8192], src[8192];
	size_t slen = 0, k;
	unsigned char next = 1;
	struct buf b;
	int r;

	buf_init(&b, c->max);
	for (k = 0; k < sizeof(c->ops) / sizeof(c->ops[0]) &&
	    c->ops[k].kind != OP_END; k++) {
		const struct buf_op *op = &c->ops[k];
		size_t j;

		switch (op->kind) {
		case OP_APPEND:
			ck_assert_msg(op->n <= sizeof(src), "case %d", _i);
			for (j = 0; j < op->n; j++)
				src[j] = next++;
			r = buf_append(&b, src, op->n);
			ck_assert_msg(r == op->expect,
			    "case %d op %zu: append(%zu) = %d, want %d",
			    _i, k, op->n, r, op->expect);
			if (r == 0) {
				memcpy(shadow + slen, src, op->n);
				slen += op->n;
			}
			break;
		case OP_RESERVE:
			r = buf_reserve(&b, op->n);
			ck_assert_msg(r == op->expect,
			    "case %d op %zu: reserve(%zu) = %d, want %d",
			    _i, k, op->n, r, op->expect);
			if (r == 0)
				ck_assert_msg(b.cap - b.len >= op->n,
				    "case %d op %zu: reserve left %zu", _i, k,
				    b.cap - b.len);
			break;
		case OP_CONSUME:
			buf_consume(&b, op->n);
			j = op->n < slen ? op->n : slen;
			memmove(shadow, shadow + j, slen - j);
			slen -= j;
			break;
		case OP_FREE:
			buf_free(&b);
			ck_assert_msg(b.data == NULL && b.cap == 0,
			    "case %d op %zu: free left memory", _i, k);
			buf_init(&b, c->max);
			slen = 0;
			break;
		case OP_END:
			break;
		}
		ck_assert_msg(b.len == op->len_after,
		    "case %d op %zu: len %zu, want %zu", _i, k, b.len,
		    op->len_after);
		ck_assert_msg(b.len == slen, "case %d op %zu: shadow", _i, k);
		ck_assert_msg(b.cap <= b.max,
		    "case %d op %zu: cap %zu > max %zu", _i, k, b.cap, b.max);
		ck_assert_msg(b.len <= b.cap, "case %d op %zu: len > cap",
		    _i, k);
		ck_assert_msg(slen == 0 || memcmp(b.data, shadow, slen) == 0,
		    "case %d op %zu: contents differ", _i, k);
	}
	buf_free(&b);
	ck_assert_msg(b.data == NULL && b.len == 0 && b.cap == 0,
	    "case %d: free", _i);
}
END_TEST

/* A failed append leaves pointer and contents untouched. */
START_TEST(test_buf_fail_unchanged)
{
	struct buf b;
	char *before;

	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, "abcdefgh", 8), 0);
	before = b.data;
	ck_assert_int_eq(buf_append(&b, "xyz", 3), -1);
	ck_assert_ptr_eq(b.data, before);
	ck_assert_uint_eq(b.len, 8);
	ck_assert(memcmp(b.data, "abcdefgh", 8) == 0);
	ck_assert_int_eq(buf_append(&b, "xy", 2), 0);
	ck_assert(memcmp(b.data, "abcdefghxy", 10) == 0);
	buf_free(&b);
	/* free twice is harmless */
	buf_free(&b);
}
END_TEST

/* After consume the vacated tail is wiped (it may hold a password). */
START_TEST(test_buf_consume_wipes)
{
	struct buf b;
	size_t i;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append(&b, "PASS secret\r\nNOOP", 17), 0);
	buf_consume(&b, 13);
	ck_assert_uint_eq(b.len, 4);
	ck_assert(memcmp(b.data, "NOOP", 4) == 0);
	for (i = 4; i < 17; i++)
		ck_assert_msg(b.data[i] == '\0', "byte %zu not wiped", i);
	buf_free(&b);
}
END_TEST

Suite *
suite_buf(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_buf_ops, 0,
	    (int)(sizeof(buf_cases) / sizeof(buf_cases[0])));
	tcase_add_test(tc, test_buf_fail_unchanged);
	tcase_add_test(tc, test_buf_consume_wipes);
	suite_add_tcase(s, tc);
	return s;
}
