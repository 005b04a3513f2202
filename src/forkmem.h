/*
 * forkmem.h - where a forking master keeps what it writes after its
 * forks: memory its children never use (the table of sessions, the log
 * relay's buffer), and SESSION_PAGE for the few static variables that
 * are written in every session process anyway.
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

/*
 * For a static variable written after the fork, by the session or by
 * the master, in every session process: placed in .data, next to log.c's
 * session id, which every session writes, so that it shares that page
 * instead of making one more page the session's own (a page the master
 * writes after a fork becomes private to every child that still shares
 * it).  doc/PERFORMANCE.md, "Idle memory, run 5".
 */
#if defined(__GNUC__) && defined(__ELF__)
#define SESSION_PAGE	__attribute__((section(".data")))
#else
#define SESSION_PAGE
#endif

#endif
