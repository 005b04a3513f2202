/*
 * policy.c - the RFC 2449 LOGIN-DELAY and EXPIRE values of the server and
 * of each user (see policy.h): which values a user gets, and the values
 * CAPA announces before login.  conf.c parses the "user_policy" lines.
 * PRIVILEGE: any: the master parses the configuration as root (the
 * administrator's text, not a client's); the pre-auth child and the
 * session only read the parsed values.
 */
#include "config.h"

#include <string.h>

#include "policy.h"

void
policy_for_user(const struct config *cfg, const char *user,
    int *login_delay_r, int *expire_days_r)
{
	const struct user_policy *up;
	size_t i;

	*login_delay_r = cfg->login_delay;
	*expire_days_r = cfg->expire_days;
	if (user == NULL)
		return;
	/* The last line for a user wins, as with any repeated setting. */
	for (i = cfg->n_user_policies; i-- > 0;) {
		up = &cfg->user_policies[i];
		if (strcmp(up->user, user) != 0)
			continue;
		if (up->login_delay != POLICY_DELAY_UNSET)
			*login_delay_r = up->login_delay;
		if (up->expire_days != POLICY_EXPIRE_UNSET)
			*expire_days_r = up->expire_days;
		return;
	}
}

/* A is a shorter retention than B (NEVER is the longest). */
static int
expire_shorter(int a, int b)
{
	if (a == POLICY_NEVER)
		return 0;
	return b == POLICY_NEVER || a < b;
}

void
policy_capa_preauth(const struct config *cfg, int *login_delay_r,
    int *delay_user_r, int *expire_days_r, int *expire_user_r)
{
	const struct user_policy *up;
	size_t i;

	*login_delay_r = cfg->login_delay;
	*expire_days_r = cfg->expire_days;
	*delay_user_r = *expire_user_r = 0;
	for (i = 0; i < cfg->n_user_policies; i++) {
		up = &cfg->user_policies[i];
		if (up->login_delay != POLICY_DELAY_UNSET &&
		    up->login_delay != cfg->login_delay) {
			*delay_user_r = 1;
			if (up->login_delay > *login_delay_r)
				*login_delay_r = up->login_delay;
		}
		if (up->expire_days != POLICY_EXPIRE_UNSET &&
		    up->expire_days != cfg->expire_days) {
			*expire_user_r = 1;
			if (expire_shorter(up->expire_days, *expire_days_r))
				*expire_days_r = up->expire_days;
		}
	}
}
