/*
 * conf.h - pop23d.conf, parsed once by the master into a const struct
 * config that the children inherit.  See pop23d.conf(5).
 * Runs as root in the master (the file is the admin's, not a client's).
 */
#ifndef POP23D_CONF_H
#define POP23D_CONF_H

#include <limits.h>
#include <sys/types.h>
#include "addr.h"
#include "defaults.h"

enum proto {
	PROTO_POP3 = 3,
	PROTO_POP2 = 2,
};

/* TLS on a listener (tls.h; pop23d.conf(5) "listen" and "tls"). */
enum tls_mode {
	TLS_MODE_UNSET = -1,	/* not given: the "tls" key decides */
	TLS_MODE_NONE = 0,	/* plaintext only, no STLS */
	TLS_MODE_OPTIONAL,	/* STLS offered */
	TLS_MODE_REQUIRED,	/* STLS offered, no login before it */
	TLS_MODE_IMPLICIT,	/* pop3s/pop2s: TLS from the first octet */
};

/* May a plaintext secret (USER/PASS, APOP, POP2 HELO, plaintext SASL)
 * cross a connection without TLS?  (login_plaintext_ok()) */
enum plaintext_auth {
	PLAINTEXT_NO = 0,	/* only under TLS */
	PLAINTEXT_LOOPBACK,	/* under TLS, or from a loopback address */
	PLAINTEXT_YES,		/* always (not recommended) */
};

/* Ranges of the numeric settings (pop23d.conf(5)); each is a sanity bound,
 * not a protocol limit. */
#define CONF_SECONDS_MAX		86400	/* a day */
#define CONF_FAILURE_DELAY_MAX		60000	/* ms: a minute */
#define CONF_AUTH_FAILURES_MAX		100
#define CONF_BAD_COMMANDS_MAX		1000
#define CONF_CONNECTIONS_MAX		1000000
#define CONF_SHUTDOWN_TIMEOUT_MAX	3600	/* an hour */
/* A session ticket lives two rotations at most (tls.c); RFC 8446 section
 * 4.6.1 caps a ticket's lifetime at 7 days. */
#define CONF_TICKET_ROTATE_MAX		(7 * 86400 / 2)
#define CONF_EXPIRE_DAYS_MAX		36500	/* a hundred years */
/* auth_workers: each is a process; past 256 the master's one accept loop,
 * not the password hashing, bounds the login rate. */
#define CONF_AUTH_WORKERS_MAX		256

/* Networks in proxy_trusted: a handful of load balancers. */
#define CONF_PROXY_NETS_MAX		16

/* Plugin and user names in the file; host names (RFC 1035: 255). */
#define CONF_NAME_MAX	64
#define CONF_HOST_MAX	256
/* One error reason, without the FILE:LINE in front. */
#define CONF_REASON_MAX	512

struct listener_conf {
	enum proto proto;
	char host[CONF_HOST_MAX];	/* numeric address, name; "*": any */
	char port[16];
	int proxy;		/* "proxy": a PROXY header (v1 or v2) comes
				 * first, from a proxy_trusted address */
	int tls;		/* enum tls_mode as written; see
				 * config_listener_tls() */
	int line;		/* config line, for messages */
};

/* One user_policy line: the RFC 2449 policy of one user (policy.h). */
#define CONF_POLICY_USER_MAX	256	/* a login name (IPC_USER_MAX) + NUL */
#define CONF_EXPIRE_NEVER	(-1)	/* expire_days: EXPIRE NEVER */
#define CONF_POLICY_UNSET_DELAY	(-1)	/* not given: the server's value */
#define CONF_POLICY_UNSET_EXPIRE	(-2)
struct user_policy {
	char user[CONF_POLICY_USER_MAX];
	int login_delay;	/* seconds, or CONF_POLICY_UNSET_DELAY */
	int expire_days;	/* days, CONF_EXPIRE_NEVER, or UNSET_EXPIRE */
};

/* A key=value from a plugin's own [section]; the plugin validates it. */
struct plugin_setting {
	char section[CONF_NAME_MAX];
	char key[CONF_NAME_MAX];
	char value[PATH_MAX];
	int line;
};

struct config {
	char path[PATH_MAX];
	struct listener_conf listeners[MAX_LISTENERS];
	size_t n_listeners;

	char plugin_dir[PATH_MAX];
	char auth_plugin[CONF_NAME_MAX];
	char store_plugin[CONF_NAME_MAX];
	int auth_line, store_line;	/* where they were set (0: default) */

	char hostname[CONF_HOST_MAX];	/* in greetings; gethostname() */
	char login_user[CONF_NAME_MAX];	/* pre-auth processes run as it */
	uid_t login_uid;	/* its ids, resolved by the master at start */
	gid_t login_gid;
	char login_chroot[PATH_MAX];	/* and chroot here (root only) */
	char auth_user[CONF_NAME_MAX];	/* the auth service runs as it ... */
	char auth_group[CONF_NAME_MAX];	/* ... and this group ("": its own) */
	uid_t auth_uid;		/* resolved by the master at start */
	gid_t auth_gid;
	uid_t virtual_uid;	/* for identities without a uid */
	gid_t virtual_gid;
	char mail_location[PATH_MAX];	/* "%h/Maildir"; %h home, %u user */
	char pid_file[PATH_MAX];
	char port_file[PATH_MAX];	/* after binding: "proto addr port" lines */

	int apop;		/* offer APOP (timestamp in greeting) */
	int last;		/* RFC 1225 LAST command */
	int timeout_preauth;
	int timeout_pop3;
	int timeout_pop2_auth;
	int timeout_pop2;
	int write_timeout;
	int auth_failure_delay_ms;
	int auth_failure_delay_max_ms;	/* the per-address penalty's cap */
	int auth_workers;	/* auth service workers; 0: auto (authpool.h) */
	int max_auth_failures;
	int max_bad_commands_preauth;
	int max_bad_commands;
	int max_sessions;
	int max_per_ip;
	int per_ip_prefix4;	/* max_per_ip counts per IPv4 /N ... */
	int per_ip_prefix6;	/* ... and per IPv6 /N */
	int shutdown_timeout;
	/* Policy, RFC 2449 and RFC 6856 (pop23d.conf(5), doc/PROTOCOLS.md) */
	int login_delay;	/* LOGIN-DELAY seconds; 0: none */
	int expire_days;	/* EXPIRE days; -1: NEVER */
	int utf8_user;		/* CAPA "UTF8 USER": UTF-8 names accepted */
	int send_8bit_headers;	/* legacy_8bit_headers = send */
	struct user_policy *user_policies;	/* user_policy lines */
	size_t n_user_policies;
	int syslog_facility;
	int debug;

	/* proxy_trusted: who may send a PROXY header (pop23d.conf(5)) */
	struct addr proxy_nets[CONF_PROXY_NETS_MAX];
	int proxy_bits[CONF_PROXY_NETS_MAX];
	size_t n_proxy_nets;
	/* TLS (tls.c): files root loads, checked by trust_check() */
	char tls_cert[PATH_MAX];	/* certificate, then its chain (PEM) */
	char tls_key[PATH_MAX];		/* its private key (PEM) */
	char tls_chain[PATH_MAX];	/* more chain certificates, "" none */
	char tls_client_ca[PATH_MAX];	/* CAs for client certificates, ""
					 * asks for none */
	int tls_default;	/* "tls": enum tls_mode of pop3 listeners
				 * without tls=; TLS_MODE_UNSET: optional
				 * when tls_cert is set, else none */
	int tls_ticket_rotate;	/* seconds between ticket key rotations */
	int plaintext_auth;	/* enum plaintext_auth */

	struct plugin_setting *plugin_settings;
	size_t n_plugin_settings;
};

/*
 * Parse PATH into *cfg (zeroed and defaulted first).  0 on success; -1 with
 * "FILE:LINE: reason" (or "FILE: reason") in *error_r, text owned by
 * conf.c and valid until the next config_load().
 */
int config_load(const char *path, struct config *cfg, const char **error_r);
/*
 * Parse a user_policy value: "NAME [login_delay=SECONDS] [expire=DAYS|
 * never]", at least one setting, each at most once, words separated by
 * single spaces; NAME as i18n_name_ok() with UTF-8 allowed.  Ranges as the
 * server-wide keys.  0 and *out, or -1 with *why_r (static text).
 */
int config_parse_user_policy(const char *value, struct user_policy *out,
    const char **why_r);
/* Free what config_load allocated. */
void config_free(struct config *cfg);
/* Value of KEY in [SECTION], or NULL. */
const char *config_plugin_get(const struct config *cfg, const char *section,
    const char *key);
const char *config_proto_name(enum proto p);
/* 1 if A is in one of the proxy_trusted networks, else 0. */
int config_proxy_trusted(const struct config *cfg, const struct addr *a);
/* The TLS mode a listener runs with (enum tls_mode, never UNSET). */
int config_listener_tls(const struct config *cfg,
    const struct listener_conf *l);
/* "none", "optional", "required", "implicit". */
const char *config_tls_name(int mode);

#endif
