/*
 * pop23d plugin ABI: the one header an auth or storage plugin includes.
 *
 * Copyright (C) 2026 The pop23d authors.  GPL-3.0-or-later.
 *
 * A plugin is a shared object built with
 *   -module -avoid-version -export-symbols-regex '^pop23d_plugin_init$'
 * and installed into $(pkglibdir).  It exports exactly one symbol:
 *
 *   int pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *host,
 *                          const struct pop23d_plugin **plugin_r);
 *
 * The plugin returns 0 and its descriptor, or -1 after logging through
 * host->log().  It must refuse (return -1) when host_abi differs from
 * POP23D_PLUGIN_ABI; the host checks the descriptor's abi again.
 *
 * Two numbers (compare OpenVPN's OPENVPN_PLUGINv3_STRUCTVER):
 *   POP23D_PLUGIN_ABI  changes only when an existing field changes meaning,
 *                      size or position.  A mismatch refuses the load.
 *   POP23D_PLUGIN_API  rises when fields are appended at the end of a
 *                      struct.  A plugin states the minimum API it needs in
 *                      its descriptor (api_min); the host refuses plugins
 *                      that need more than it offers, and never calls an op
 *                      that was appended after the plugin's api_min unless
 *                      the plugin's descriptor says it was built with it
 *                      (api_built).
 *
 * History:
 *   ABI 1, API 1 (0.1): auth verify_plain/lookup, store open/list/msg_open/
 *                       mark_accessed/expunge/close.
 *   ABI 1, API 2 (0.1): auth verify_apop appended (NULL if unsupported);
 *                       store folder_open appended (POP2 FOLD; NULL if the
 *                       storage has no folders); store writable appended
 *                       (NULL: assume writable).
 *   ABI 1, API 3 (0.1): host trusted_file appended: the daemon's
 *                       ownership rule for files a plugin reads as root.
 *   ABI 1, API 4 (0.1): plugin flags appended (POP23D_PLUGIN_F_*: what
 *                       the backend needs from the process that calls
 *                       its ops); the host reads them only when the
 *                       plugin's api_built is 4 or more.
 *   ABI 1, API 5 (0.1): auth SASL server ops appended (sasl_mechs,
 *                       sasl_start, sasl_step, sasl_end; NULL when the
 *                       plugin has no SASL) with struct pop23d_conn_info,
 *                       and POP23D_CONTINUE given its meaning.
 *   ABI 1, API 6 (0.1): host session_user, session_home and dotlock
 *                       appended (the mbox storage: index and folders
 *                       below the home directory, dotlocks in a
 *                       root:mail spool without a setgid session).
 *
 * Plugins reach the daemon only through struct pop23d_host; they never call
 * daemon symbols, so they link with -no-undefined and can be driven by a
 * test host.
 */
#ifndef POP23D_PLUGIN_H
#define POP23D_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POP23D_PLUGIN_ABI	1
#define POP23D_PLUGIN_API	6

#define POP23D_PLUGIN_ENTRY	"pop23d_plugin_init"

/* syslog(3) priorities are used for host->log(): LOG_ERR, LOG_WARNING,
 * LOG_INFO, LOG_DEBUG. */

/*
 * Services the daemon offers to plugins.  The struct only grows at the end;
 * check host->api before using a member newer than API 1.
 */
struct pop23d_host {
	unsigned api;		/* POP23D_PLUGIN_API of the running daemon */
	/* Log one line; the host adds the session id and plugin name.  Never
	 * pass passwords.  Client-supplied text is escaped by the host. */
	void (*log)(int priority, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
	/* Value of KEY in the plugin's own config section ("[NAME]"), or NULL
	 * when unset.  Valid for the life of the process. */
	const char *(*config_get)(const char *plugin, const char *key);
	/* Wipe memory so the compiler cannot elide it (explicit_bzero). */
	void (*secure_zero)(void *p, size_t len);
	/* Non-zero when the daemon runs without root ("rootless"): plugins
	 * must not expect to change or check ownership. */
	int rootless;
	/* API 3: may a file that decides who logs in as whom (a password
	 * database) be believed?  0 if PATH is a regular file owned by root
	 * (in rootless mode: or by the daemon's user) and not writable by
	 * group or others, and so is every directory and symbolic link on
	 * the way to it (sshd's StrictModes; a sticky directory such as /tmp
	 * may be writable by others).  Otherwise -1 with "PATH: reason" in
	 * *error_r, text owned by the host and valid until the next call. */
	int (*trusted_file)(const char *path, const char **error_r);
	/* API 6: the logged-in user's name and home directory in a session
	 * process ("" when unknown, and outside a session).  Storage plugins
	 * use them for paths of their own (an index below the home, POP2
	 * folders), never client text. */
	const char *(*session_user)(void);
	const char *(*session_home)(void);
	/*
	 * API 6: take (op POP23D_DOTLOCK_TAKE) or remove (op
	 * POP23D_DOTLOCK_RELEASE) the dotlock MBOX_PATH.lock the way
	 * liblockfile does: a unique file linked to the lock name, stale
	 * locks (their process gone, or older than STALE_SECS) broken.  One
	 * attempt, never blocks: 0 taken/removed, 1 held by another
	 * program, -1 with errno.  The host takes it in the session itself
	 * when the directory is writable, else through a helper that holds
	 * the spool's group (doc/DESIGN.md); release removes only a lock
	 * this process took.
	 */
	int (*dotlock)(const char *mbox_path, int op, unsigned stale_secs);
};

#define POP23D_DOTLOCK_RELEASE	0
#define POP23D_DOTLOCK_TAKE	1
/* Touch the dotlock this process holds, so that a long UPDATE does not
 * look stale (MDAs break a lock older than 5 minutes).  A host without
 * it answers -1 with EINVAL; the lock then simply ages. */
#define POP23D_DOTLOCK_REFRESH	2

enum pop23d_plugin_kind {
	POP23D_PLUGIN_AUTH = 1,
	POP23D_PLUGIN_STORE = 2,
};

/* Results shared by auth and storage ops. */
enum pop23d_result {
	POP23D_OK = 0,
	POP23D_FAIL = 1,	/* auth: wrong credentials */
	POP23D_NOUSER = 2,	/* auth: unknown user; store: no such folder */
	POP23D_TEMPFAIL = 3,	/* backend trouble, try again later */
	POP23D_PERMFAIL = 4,	/* permanent backend trouble */
	POP23D_INUSE = 5,	/* store: another session holds the lock */
	POP23D_CONTINUE = 6,	/* API 5, SASL: send the challenge, go on */
};

/*
 * API 5: what the host tells an auth plugin about the connection a SASL
 * exchange runs on.  Strings are "" when unknown, never NULL.
 */
struct pop23d_conn_info {
	const char *service;	/* "pop3" or "pop2" */
	const char *remote_ip;	/* client address, numeric */
	const char *local_ip;	/* listener address, numeric */
	unsigned remote_port, local_port;
	int secured;		/* 1: TLS (or loopback treated as secure) */
	int plaintext_ok;	/* 1: plaintext passwords allowed here */
	const char *tls_peer_cn;/* verified client certificate name, or "" */
};

/* Who a user is, as the auth plugin's lookup() returns it. */
struct pop23d_identity {
	uid_t uid;		/* (uid_t)-1: not set, use virtual_uid */
	gid_t gid;		/* (gid_t)-1: not set, use virtual_gid */
	char home[4096];	/* "" if none */
	char maildrop[4096];	/* storage location; "" = plugin default */
};

struct pop23d_auth_ops {
	/* Check USER/PASS (or POP2 HELO).  Runs as root in the daemon's
	 * per-connection monitor, never with client bytes other than these.
	 * Must take about the same time for unknown users (dummy hash). */
	enum pop23d_result (*verify_plain)(const char *user, const char *pass);
	/* Fill *id_r for an authenticated user.  POP23D_NOUSER if absent. */
	enum pop23d_result (*lookup)(const char *user,
	    struct pop23d_identity *id_r);
	/* API 2: APOP (RFC 1939 section 7).  challenge is the greeting's
	 * "<...>" timestamp, digest 32 lower-case hex digits.  NULL when the
	 * plugin cannot do APOP (it needs the plaintext secret). */
	enum pop23d_result (*verify_apop)(const char *user,
	    const char *challenge, const char *digest);

	/*
	 * API 5: SASL server mechanisms (RFC 4422; POP3 AUTH, RFC 5034).
	 * All four NULL when the plugin has no SASL.  The host calls them in
	 * the process that runs the plugin's ops (never as root unless the
	 * plugin sets POP23D_PLUGIN_F_NEEDS_ROOT), one exchange at a time
	 * per state.  The host has already decoded base64 and bounded every
	 * client response; in/in_len are raw octets, in == NULL means "no
	 * initial response" (as opposed to an empty one, in_len == 0).
	 *
	 * sasl_mechs: the mechanisms offered on a connection described by
	 * CONN, upper case, separated by single spaces ("" for none).  It
	 * leaves out mechanisms that send a reusable password in the clear
	 * when conn->plaintext_ok is 0.  The string stays valid until the
	 * next call.
	 */
	const char *(*sasl_mechs)(const struct pop23d_conn_info *conn);
	/*
	 * sasl_start: begin an exchange with MECH (as the client named it)
	 * and its optional initial response.  Returns
	 *   POP23D_CONTINUE  *out_r and *out_len_r hold the challenge to send,
	 *                    *state_r the exchange (call sasl_step next);
	 *   POP23D_OK        authenticated: user_r holds the authorization
	 *                    identity (NUL-terminated, at most user_size - 1
	 *                    octets), to be given to lookup();
	 *   POP23D_FAIL, POP23D_NOUSER  wrong credentials / unknown user;
	 *   POP23D_PERMFAIL  unknown or refused mechanism, malformed input;
	 *   POP23D_TEMPFAIL  backend trouble.
	 * *out_r stays valid until the next call on the same state.  On any
	 * result other than POP23D_CONTINUE *state_r may still be set and
	 * must be given to sasl_end().
	 */
	enum pop23d_result (*sasl_start)(const char *mech,
	    const struct pop23d_conn_info *conn,
	    const unsigned char *in, size_t in_len, void **state_r,
	    const unsigned char **out_r, size_t *out_len_r,
	    char *user_r, size_t user_size);
	/* sasl_step: the client's next response; results as sasl_start. */
	enum pop23d_result (*sasl_step)(void *state,
	    const unsigned char *in, size_t in_len,
	    const unsigned char **out_r, size_t *out_len_r,
	    char *user_r, size_t user_size);
	/* sasl_end: free STATE (NULL allowed).  Called once per started
	 * exchange, also when the client cancels with "*". */
	void (*sasl_end)(void *state);
};

/* One message as the storage lists it. */
struct pop23d_msg {
	/* Stable, unique key inside the maildrop, NUL-terminated, at most
	 * POP23D_KEY_MAX bytes.  Maildir: the unique base name before ':'. */
	char *key;
	/* Raw octets stored, or -1 if unknown without a stat(). */
	off_t raw_size;
	/* Non-zero if the storage itself records the message as seen
	 * (Maildir "S" flag).  The daemon's index may know more. */
	int accessed;
};
#define POP23D_KEY_MAX	255

struct pop23d_mbox;		/* opaque, owned by the storage plugin */

struct pop23d_store_ops {
	/*
	 * Open the user's default maildrop (folder == NULL) and take the
	 * exclusive session lock.  Runs as the mail user.  location is the
	 * identity's maildrop (already expanded; never client text).
	 * Returns POP23D_OK, POP23D_INUSE, POP23D_NOUSER (does not exist),
	 * POP23D_TEMPFAIL or POP23D_PERMFAIL; *error_r is a static or
	 * plugin-owned string for the log.
	 */
	enum pop23d_result (*open)(const char *location,
	    struct pop23d_mbox **mbox_r, const char **error_r);
	/*
	 * Enumerate the messages in a stable order (oldest first).  The array
	 * and keys belong to the mbox and stay valid until close.  Messages
	 * delivered after the first list() are not shown (RFC 1939: numbers
	 * are fixed for the session).
	 */
	enum pop23d_result (*list)(struct pop23d_mbox *mbox,
	    const struct pop23d_msg **msgs_r, size_t *count_r);
	/*
	 * Open message i (0-based) for reading: *fd_r, the message's first
	 * byte at *offset_r and its length *length_r.  The caller closes the
	 * fd.  A file that vanished because another reader renamed it is
	 * found again (re-scan); POP23D_NOUSER if it is really gone.
	 */
	enum pop23d_result (*msg_open)(struct pop23d_mbox *mbox, size_t i,
	    int *fd_r, off_t *offset_r, off_t *length_r);
	/* Record message i as read (Maildir: move to cur/, add flag S). */
	enum pop23d_result (*mark_accessed)(struct pop23d_mbox *mbox,
	    size_t i);
	/* Remove the n messages in idx[] durably (unlink, then fsync the
	 * directory).  Called only at UPDATE. */
	enum pop23d_result (*expunge)(struct pop23d_mbox *mbox,
	    const size_t *idx, size_t n);
	/* Directory where the daemon keeps its index and lock-related files
	 * for this mailbox (must be writable by the mail user). */
	const char *(*index_dir)(struct pop23d_mbox *mbox);
	/* Unlock and free; sets *mbox to NULL. */
	void (*close)(struct pop23d_mbox **mbox);
	/*
	 * API 2: open folder NAME of the same user (POP2 FOLD) with the same
	 * lock rules as open().  NAME is client text: the plugin must refuse
	 * (POP23D_NOUSER) anything that could leave the user's storage:
	 * "..", "/", a leading "~", NUL, control characters, symlinks.
	 * NULL if the storage has no folders.
	 */
	enum pop23d_result (*folder_open)(const char *location,
	    const char *name, struct pop23d_mbox **mbox_r,
	    const char **error_r);
	/*
	 * API 2: non-zero if this session may delete and flag messages.  A
	 * read-only maildrop is served, but nothing is removed from it
	 * (RFC 937 ACKD; POP3 DELE is refused).  NULL: writable.
	 */
	int (*writable)(struct pop23d_mbox *mbox);
};

/*
 * API 4: struct pop23d_plugin flags.  A plugin sets them for its backend;
 * the host decides where the ops run (doc/PLUGINS.md, "Flags").
 */
#ifndef POP23D_PLUGIN_F_NEEDS_ROOT
#define POP23D_PLUGIN_F_NEEDS_ROOT  0x1	/* backend needs root (PAM shadow,
					   checkpassword reading shadow) */
#endif
#ifndef POP23D_PLUGIN_F_BLOCKING
#define POP23D_PLUGIN_F_BLOCKING    0x2	/* ops may block for seconds
					   (PAM conversation, external
					   program, network backend) */
#endif

/* What pop23d_plugin_init() hands back. */
struct pop23d_plugin {
	unsigned abi;		/* POP23D_PLUGIN_ABI the plugin was built with */
	unsigned api_built;	/* POP23D_PLUGIN_API the plugin was built with */
	unsigned api_min;	/* lowest host API the plugin works with */
	enum pop23d_plugin_kind kind;
	const char *name;	/* e.g. "passwdfile"; also its config section */
	/* Config keys the plugin accepts in its section, NULL-terminated.
	 * The host rejects any other key with FILE:LINE. */
	const char *const *config_keys;
	/* Check the plugin's configuration once, at startup and on reload
	 * (so "pop23d -t" reports it).  0 or -1 with *error_r. */
	int (*check_config)(const char **error_r);
	const struct pop23d_auth_ops *auth;	/* kind == AUTH */
	const struct pop23d_store_ops *store;	/* kind == STORE */
	/* API 4: POP23D_PLUGIN_F_* bits, 0 for none. */
	unsigned flags;
};

typedef int pop23d_plugin_init_fn(unsigned host_abi,
    const struct pop23d_host *host, const struct pop23d_plugin **plugin_r);

int pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *host,
    const struct pop23d_plugin **plugin_r);

#ifdef __cplusplus
}
#endif

#endif /* POP23D_PLUGIN_H */
