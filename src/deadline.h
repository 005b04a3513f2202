/*
 * deadline.h - absolute deadlines on the monotonic clock, in milliseconds.
 * A deadline is a point in time, not a duration: a phase that must end by
 * then ends by then however many reads, writes or checks it does (the
 * AUTHORIZATION phase, a failed login's reply).  0 means "no deadline".
 * Holds no privilege; used by every process of a connection.
 */
#ifndef POP23D_DEADLINE_H
#define POP23D_DEADLINE_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t deadline_now(void);
/* The deadline SECONDS from now; 0 (none) when SECONDS <= 0. */
int64_t deadline_in(int seconds);
/* The earlier of two deadlines; 0 counts as "none", not as "now". */
int64_t deadline_min(int64_t a, int64_t b);
/* Milliseconds left until DEADLINE as a poll(2) timeout: -1 (wait
 * forever) for no deadline, 0 once it has passed. */
int deadline_poll_ms(int64_t deadline);
/* Non-zero once DEADLINE (not 0) has passed. */
int deadline_passed(int64_t deadline);
/* Sleep until DEADLINE (restarted after signals); returns at once when it
 * is 0 or has passed. */
void deadline_sleep(int64_t deadline);

#endif
