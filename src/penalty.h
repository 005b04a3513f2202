/*
 * penalty.h - failed logins per client address (Dovecot's auth penalty):
 * the Nth recent failure from an address prefix is answered after
 * base * 2^(N-1) ms, at most max ms; a success clears the address; an
 * address without a failure for PENALTY_FORGET_S is forgotten.  The
 * table has a fixed size: when it is full the entry least recently
 * touched is reused, so a flood of addresses cannot grow it.
 *
 * PRIVILEGE: the auth service (auth_user, or root for a plugin that needs
 * it).  The addresses come from the monitors (getpeername(), never client
 * text).
 */
#ifndef POP23D_PENALTY_H
#define POP23D_PENALTY_H

#include <stdint.h>
#include <time.h>

#include "addr.h"

/* Entries kept: 4096 x 40 octets.  More distinct failing addresses than
 * this in an hour means a distributed attack, which a per-address delay
 * does not stop anyway; the oldest entries give way. */
#define PENALTY_SLOTS		4096
/* Dovecot's AUTH_PENALTY_TIMEOUT: an hour without a failure resets. */
#define PENALTY_FORGET_S	3600

struct penalty_slot {
	struct addr a;
	uint32_t failures;
	time_t last;
};

struct penalty {
	int prefix4, prefix6;		/* compared like max_per_ip */
	uint32_t base_ms, max_ms;
	struct penalty_slot slot[PENALTY_SLOTS];
};

void penalty_init(struct penalty *p, int prefix4, int prefix6,
    uint32_t base_ms, uint32_t max_ms);
/* Count a failure from A at NOW; the delay (ms) for this failure. */
uint32_t penalty_fail(struct penalty *p, const struct addr *a, time_t now);
/* A success from A: forget its failures. */
void penalty_ok(struct penalty *p, const struct addr *a);
/* Failures counted for A at NOW (0 if none or forgotten). */
uint32_t penalty_count(const struct penalty *p, const struct addr *a,
    time_t now);

#endif
