/*
 * policy.c - the RFC 2449 LOGIN-DELAY and EXPIRE values of the server and
 * of each user (see policy.h): parsing "user_policy" lines, the lookup,
 * and the values CAPA announces before login.
 * PRIVILEGE: any: the master parses the configuration as root (the
 * administrator's text, not a client's); the pre-auth child and the
 * session only read the parsed values.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "lex.h"
#include "policy.h"

/* The same ranges as the server-wide keys (conf.c). */
#define DELAY_MAX	CONF_SECONDS_MAX
#define EXPIRE_MAX	CONF_EXPIRE_DAYS_MAX

/* S is all decimal digits (lex.h rules) and at most MAX: 0 and *N_R. */
static int
parse_number(const char *s, long max, int *n_r)
{
	uint64_t v;
	const char *end;

	if (lex_number(s, (uint64_t)max, &v, &end) != 0 || *end != '\0')
		return -1;
	*n_r = (int)v;
	return 0;
}

int
policy_parse_user(const char *value, struct user_policy *out,
    const char **why_r)
{
	char buf[512], *word, *next;
	size_t len;

	memset(out, 0, sizeof *out);
	out->login_delay = POLICY_DELAY_UNSET;
	out->expire_days = POLICY_EXPIRE_UNSET;
	if ((len = strlen(value)) >= sizeof buf) {
		*why_r = "line too long";
		return -1;
	}
	memcpy(buf, value, len + 1);
	if ((next = strchr(buf, ' ')) != NULL)
		*next++ = '\0';
	if (strlen(buf) >= sizeof out->user || !i18n_name_ok(buf, 1)) {
		*why_r = "expected a user name first";
		return -1;
	}
	memcpy(out->user, buf, strlen(buf) + 1);
	if (next == NULL) {
		*why_r = "expected login_delay=SECONDS or expire=DAYS|never "
		    "after the name";
		return -1;
	}
	while (next != NULL) {
		word = next;
		if ((next = strchr(word, ' ')) != NULL)
			*next++ = '\0';
		if (strncmp(word, "login_delay=", 12) == 0 &&
		    out->login_delay == POLICY_DELAY_UNSET) {
			if (parse_number(word + 12, DELAY_MAX,
			    &out->login_delay) != 0) {
				*why_r = "login_delay: expected 0..86400";
				return -1;
			}
		} else if (strncmp(word, "expire=", 7) == 0 &&
		    out->expire_days == POLICY_EXPIRE_UNSET) {
			if (strcasecmp(word + 7, "never") == 0)
				out->expire_days = POLICY_NEVER;
			else if (parse_number(word + 7, EXPIRE_MAX,
			    &out->expire_days) != 0) {
				*why_r = "expire: expected never or 0..36500";
				return -1;
			}
		} else {
			*why_r = "expected login_delay=SECONDS or "
			    "expire=DAYS|never, each once";
			return -1;
		}
	}
	return 0;
}

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
