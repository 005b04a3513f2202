/*
 * keyhints.h - the size hints some Maildir deliverers write into a
 * message's unique name (",S=<stored octets>,W=<CRLF octets>").  A pure
 * parser of its own so that the maildrop core, the unit tests and a
 * libFuzzer target (tests/fuzz/fuzz_keyhints.c) share the one definition.
 * Pure computation; no I/O, no privilege.
 */
#ifndef POP23D_KEYHINTS_H
#define POP23D_KEYHINTS_H

#include <stdint.h>

/* Hints at or above this are refused as nonsense (1 TiB). */
#define KEY_HINT_MAX	((uint64_t)1 << 40)

/*
 * The hinted sizes of the storage key KEY (a NUL-terminated string): 1
 * with *SIZE_R = W (the CRLF size) and *RAW_R = S (the stored size), or
 * 0 (no usable hint; the outputs are untouched).  The rules are in
 * keyhints.c.
 */
int key_hints(const char *key, uint64_t *size_r, uint64_t *raw_r);

#endif
