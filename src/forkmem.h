/*
 * forkmem.h - memory that a forking master writes after its forks and
 * its children never use (the table of sessions, the log relay's
 * buffer).
 */
#ifndef POP23D_FORKMEM_H
#define POP23D_FORKMEM_H

#include <stddef.h>

/*
 * Grow (or first allocate, OLD NULL and OLD_SIZE 0) a block of anonymous
 * memory, marked MADV_DONTFORK, to NEW_SIZE octets (zero-filled beyond
 * OLD_SIZE).  The new block, or NULL (OLD unchanged).
 */
void *forkmem_grow(void *old, size_t old_size, size_t new_size);

#endif
