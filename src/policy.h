/*
 * policy.h - the RFC 2449 policy values (LOGIN-DELAY, EXPIRE) of the
 * server and of each user: the "user_policy" lines of pop23d.conf, which
 * user gets which values, and what CAPA announces before login (the
 * largest delay and the smallest retention any user may have, with the
 * "USER" token when users differ) and after it (the user's own).
 * PRIVILEGE: any; pure functions on the configuration (the master parses,
 * the pre-auth child and the session look up).
 */
#ifndef POP23D_POLICY_H
#define POP23D_POLICY_H

#include "conf.h"

/* expire_days value for EXPIRE NEVER. */
#define POLICY_NEVER		(-1)
/* user_policy fields that were not given: the server's value applies. */
#define POLICY_DELAY_UNSET	(-1)
#define POLICY_EXPIRE_UNSET	(-2)

/*
 * Parse a user_policy value: "NAME [login_delay=SECONDS] [expire=DAYS|
 * never]", at least one setting, each at most once, words separated by
 * single spaces; NAME as i18n_name_ok() with UTF-8 allowed.  Ranges as the
 * server-wide keys.  0 and *out, or -1 with *why_r (static text).
 */
int policy_parse_user(const char *value, struct user_policy *out,
    const char **why_r);

/* The values that apply to USER: its user_policy line, else the
 * server's (login_delay, expire_days). */
void policy_for_user(const struct config *cfg, const char *user,
    int *login_delay_r, int *expire_days_r);

/*
 * What CAPA announces in AUTHORIZATION (RFC 2449 sections 6.5 and 6.7):
 * the largest delay and the smallest retention of the server and all
 * user_policy lines (NEVER is the largest retention), and whether any
 * user differs from the server (the "USER" token) for each.
 */
void policy_capa_preauth(const struct config *cfg, int *login_delay_r,
    int *delay_user_r, int *expire_days_r, int *expire_user_r);

#endif
