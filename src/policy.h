/*
 * policy.h - the RFC 2449 policy values (LOGIN-DELAY, EXPIRE) of the
 * server and of each user (the "user_policy" lines of pop23d.conf): which
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
#define POLICY_NEVER		CONF_EXPIRE_NEVER
/* user_policy fields that were not given: the server's value applies
 * (config_parse_user_policy() in conf.h parses the lines). */
#define POLICY_DELAY_UNSET	CONF_POLICY_UNSET_DELAY
#define POLICY_EXPIRE_UNSET	CONF_POLICY_UNSET_EXPIRE

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
