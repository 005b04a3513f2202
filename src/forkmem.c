/*
 * forkmem.c - memory that a forking master writes after its forks and
 * its children never use.
 *
 * Every page a child inherits is shared with the master until one of
 * them writes it; a master that writes a page after a fork leaves the
 * child a page of its own, so each idle session would own a copy of
 * every page the master wrote while it lived (the table of sessions grows
 * with every connection; the log relay's buffer is written with every
 * line).  Such memory lives in its own mappings marked MADV_DONTFORK: a
 * child has no copy at all (doc/PERFORMANCE.md, "Idle memory, run 5").
 *
 * PRIVILEGE: none of its own (the master calls it, as root or rootless).
 */
#include "config.h"

#include <sys/mman.h>
#include <string.h>

#include "forkmem.h"

static size_t
round_pages(size_t n)
{
	const size_t pg = 4096;

	return (n + pg - 1) / pg * pg;
}

void *
forkmem_grow(void *old, size_t old_size, size_t new_size)
{
	void *p;

	new_size = round_pages(new_size);
	old_size = round_pages(old_size);
	if (new_size == 0)
		return NULL;
	if (old != NULL && new_size <= old_size)
		return old;
	p = mmap(NULL, new_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* Without it the block still works; only the saving is lost. */
	(void)madvise(p, new_size, MADV_DONTFORK);
	if (old != NULL) {
		memcpy(p, old, old_size);
		munmap(old, old_size);
	}
	return p;
}
