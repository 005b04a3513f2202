/*
 * buf.h - a bounded byte buffer.  Client bytes only ever go into a struct
 * buf, whose hard maximum cannot be exceeded: an append past it fails.
 * (Dovecot buffer_create_dynamic_max, qmail stralloc.)
 */
#ifndef POP23D_BUF_H
#define POP23D_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;		/* bytes in use */
	size_t cap;		/* bytes allocated */
	size_t max;		/* hard limit on cap */
};

/* Initialise an empty buffer that may grow to MAX bytes. */
void buf_init(struct buf *b, size_t max);
/* Append LEN bytes.  0, or -1 (buffer unchanged) if MAX would be passed
 * or memory is short. */
int buf_append(struct buf *b, const void *p, size_t len);
/* Remove the first N bytes (N <= len). */
void buf_consume(struct buf *b, size_t n);
/* Make room for at least N more bytes; 0 or -1 as buf_append. */
int buf_reserve(struct buf *b, size_t n);
/* Wipe (explicit_bzero) and free; the buffer may be reused after
 * buf_init. */
void buf_free(struct buf *b);

#endif
