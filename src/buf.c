/*
 * buf.c - a bounded byte buffer for client bytes.  It grows on demand up
 * to a hard maximum that no append can pass; memory it gives up (on
 * growth, consume and free) is wiped first, because a buffer may hold a
 * PASS line.  (Dovecot buffer_create_dynamic_max, qmail stralloc.)
 * Runs in every process; holds no privilege of its own.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* First allocation; doubled from there up to max. */
#define BUF_MIN_CAP	256

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	/* len <= max always holds, so max - len cannot wrap. */
	if (b->len > b->max || n > b->max - b->len)
		return -1;
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap > 0 ? b->cap : BUF_MIN_CAP;
	while (cap < need) {
		if (cap > b->max / 2) {
			cap = b->max;
			break;
		}
		cap *= 2;
	}
	if (cap > b->max)
		cap = b->max;
	/*
	 * Not realloc(): it would free the old block without wiping it, and
	 * the old block may hold a password.
	 */
	if ((p = malloc(cap)) == NULL)
		return -1;
	if (b->data != NULL) {
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_reserve(b, len) == -1)
		return -1;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n == 0)
		return;
	if (n < b->len)
		memmove(b->data, b->data + n, b->len - n);
	/* Wipe the tail that is no longer in use. */
	explicit_bzero(b->data + (b->len - n), n);
	b->len -= n;
}

void
buf_free(struct buf *b)
{
	if (b->data != NULL) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
