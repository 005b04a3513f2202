/*
 * penalty.c - failed logins per client address (see penalty.h).
 *
 * PRIVILEGE: the auth service; no client bytes reach it.
 */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "penalty.h"

void
penalty_init(struct penalty *p, int prefix4, int prefix6, uint32_t base_ms,
    uint32_t max_ms)
{
	memset(p, 0, sizeof(*p));
	p->prefix4 = prefix4;
	p->prefix6 = prefix6;
	p->base_ms = base_ms;
	p->max_ms = max_ms < base_ms ? base_ms : max_ms;
}

static struct penalty_slot *
penalty_find(const struct penalty *p, const struct addr *a, time_t now)
{
	size_t i;

	if (a->family == AF_UNSPEC)
		return NULL;	/* no address (inetd on pipes): no penalty */
	for (i = 0; i < PENALTY_SLOTS; i++) {
		const struct penalty_slot *s = &p->slot[i];

		if (s->failures > 0 && now - s->last < PENALTY_FORGET_S &&
		    addr_same_prefix(&s->a, a, p->prefix4, p->prefix6))
			return (struct penalty_slot *)(uintptr_t)s;
	}
	return NULL;
}

uint32_t
penalty_count(const struct penalty *p, const struct addr *a, time_t now)
{
	const struct penalty_slot *s = penalty_find(p, a, now);

	return s != NULL ? s->failures : 0;
}

uint32_t
penalty_fail(struct penalty *p, const struct addr *a, time_t now)
{
	struct penalty_slot *s = penalty_find(p, a, now);
	uint64_t ms;
	uint32_t n;
	size_t i;

	if (a->family == AF_UNSPEC)
		return p->base_ms;
	if (s == NULL) {
		/* A free or forgotten slot, else the least recent one. */
		s = &p->slot[0];
		for (i = 0; i < PENALTY_SLOTS; i++) {
			struct penalty_slot *t = &p->slot[i];

			if (t->failures == 0 ||
			    now - t->last >= PENALTY_FORGET_S) {
				s = t;
				break;
			}
			if (t->last < s->last)
				s = t;
		}
		memset(s, 0, sizeof(*s));
		s->a = *a;
	}
	if (s->failures < UINT32_MAX)
		s->failures++;
	s->last = now;
	/* base * 2^(n-1), capped; n >= 32 is at the cap anyway. */
	n = s->failures > 32 ? 32 : s->failures;
	ms = (uint64_t)p->base_ms << (n - 1);
	return ms > p->max_ms ? p->max_ms : (uint32_t)ms;
}

void
penalty_ok(struct penalty *p, const struct addr *a)
{
	size_t i;

	if (a->family == AF_UNSPEC)
		return;
	for (i = 0; i < PENALTY_SLOTS; i++)
		if (p->slot[i].failures > 0 &&
		    addr_same_prefix(&p->slot[i].a, a, p->prefix4, p->prefix6))
			memset(&p->slot[i], 0, sizeof(p->slot[i]));
}
