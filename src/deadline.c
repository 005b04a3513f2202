/*
 * deadline.c - absolute deadlines on the monotonic clock (see deadline.h).
 * The clock does not jump with the wall clock, so a deadline cannot be
 * stretched or cut short by a time change.
 * PRIVILEGE: none of its own; runs in the monitor (root), the pre-auth
 * child and the mail-user session.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#include "deadline.h"

int64_t
deadline_now(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC on Linux. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
deadline_in(int seconds)
{
	if (seconds <= 0)
		return 0;
	return deadline_now() + (int64_t)seconds * 1000;
}

int64_t
deadline_min(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

int
deadline_poll_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == 0)
		return -1;
	left = deadline - deadline_now();
	if (left <= 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

int
deadline_passed(int64_t deadline)
{
	return deadline != 0 && deadline_now() >= deadline;
}

void
deadline_sleep(int64_t deadline)
{
	struct timespec ts;
	int64_t left;

	while (deadline != 0 && (left = deadline - deadline_now()) > 0) {
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		if (nanosleep(&ts, NULL) == -1 && errno != EINTR)
			return;
	}
}
