/*
 * log.h - one-line event logging to syslog (facility mail) and, in the
 * foreground, to stderr.  Every line starts with the session id.
 * Runs in every process; holds no privilege of its own.
 */
#ifndef POP23D_LOG_H
#define POP23D_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Open syslog as "pop23d" with FACILITY (LOG_MAIL ...); copy lines to
 * stderr when to_stderr (TO_STDERR < 0 keeps the current setting, for a
 * reload); drop LOG_DEBUG unless debug. */
void log_init(int facility, int to_stderr, int debug);
/* Close the syslog connection (before closing every descriptor in a new
 * process; log_init() opens it again). */
void log_close(void);
/*
 * Foreground relay (master only).  log_relay_init() makes the socket pair:
 * *child_fd_r is the end to give each child as its descriptor 2; the
 * master polls log_relay_fd() (-1 when there is no relay) and calls
 * log_relay_drain(), which copies what arrived to its own stderr: every
 * line sanitised again, and shown with the sender's real pid (see log.c).
 * log_relay_init(): 0, or -1 with a static reason in *error_r.
 */
int log_relay_init(int *child_fd_r, const char **error_r);
int log_relay_fd(void);
void log_relay_drain(void);
/* Session id printed at the start of every line ("-" for the master). */
void log_set_session(const char *id);
const char *log_session(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vprio(int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Startup errors and broken invariants only, never client input. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Copy client bytes IN (LEN octets) into OUT (OUTSZ > 0) for logging:
 * printable ASCII except '\\' is kept, everything else becomes \xHH, and
 * the result is cut at OUTSZ - 4 with "..." appended.  Returns OUT.
 */
char *log_escape(const char *in, size_t len, char *out, size_t outsz);
/*
 * The line rule every log line gets: as log_escape() but '\\' is kept, so
 * text that was already escaped is not escaped twice.  OUTSZ >= 4.
 */
char *log_sanitize(const char *in, size_t len, char *out, size_t outsz);

#endif
