/*
 * defaults.h - compile-time defaults and hard limits, each with its reason
 * (popa3d params.h).  Runtime settings in pop23d.conf override the
 * defaults, never the limits.
 */
#ifndef POP23D_DEFAULTS_H
#define POP23D_DEFAULTS_H

/* RFC 2449 section 4: a server that supports CAPA MUST accept command lines
 * of up to 255 octets including CRLF, i.e. 253 before the CRLF. */
#define POP3_LINE_MAX		253
/* RFC 1939 section 3: arguments may be up to 40 characters long.  We take
 * longer user names and passwords (they fit in the 255-octet line) but
 * never more than this. */
#define POP3_ARG_MAX		40
/* RFC 1939 section 3 / RFC 2449 section 4: response lines are at most 512
 * octets including CRLF. */
#define POP3_REPLY_MAX		512
/* RFC 937 "Sizes": command lines are at most 512 characters including the
 * command word and CRLF. */
#define POP2_LINE_MAX		510
#define POP2_REPLY_MAX		512
/* Input buffer: one maximal line times four for pipelined commands
 * (Dovecot uses 4 x 512). */
#define INPUT_BUF_MAX		(4 * 512)

/* RFC 1939 section 3: an autologout timer MUST be at least 10 minutes. */
#define POP3_TIMEOUT_MIN	600
#define DEF_POP3_TIMEOUT	600
/* Before login a client gets less time (ipop3d: 3 minutes). */
#define DEF_PREAUTH_TIMEOUT	180
/* RFC 937 leaves T2 open; ipop2d waits 3 minutes before HELO and 30 after
 * it (doc/PROTOCOLS.md, edge case 40). */
#define DEF_POP2_AUTH_TIMEOUT	180
#define DEF_POP2_TIMEOUT	1800
/* A client that does not read our output for this long is dropped, so it
 * cannot pin a session forever (doc/SECURITY.md B9). */
#define DEF_WRITE_TIMEOUT	600

/* Dovecot closes after 3 bad commands before login and 20 after. */
#define DEF_BAD_COMMANDS_PREAUTH	3
#define DEF_BAD_COMMANDS		20
/* Failed logins per connection before it is closed. */
#define DEF_AUTH_FAILURES	3
/* Delay before answering a failed login (milliseconds). */
#define DEF_AUTH_FAILURE_DELAY	2000
/* Failures from one client address double the delay up to this cap
 * (Dovecot's auth penalty: 2 s doubling to 15 s); a success resets it
 * (penalty.h). */
#define DEF_AUTH_FAILURE_DELAY_MAX	15000

/* Connection caps in the master (popa3d standalone.c). */
#define DEF_MAX_SESSIONS	10000
#define DEF_MAX_PER_IP		100
/* SIGTERM: how long sessions may take to finish. */
#define DEF_SHUTDOWN_TIMEOUT	10

/*
 * TLS session tickets (tls.c): the master makes a new ticket key this
 * often and keeps the one before it, so a ticket is accepted for at most
 * two rotations.  An hour: a client that polls every few minutes resumes
 * its sessions, and a stolen ticket key opens at most two hours of
 * resumed sessions (Mozilla's server-side TLS guide asks for rotation at
 * least daily).
 */
#define DEF_TLS_TICKET_ROTATE	3600

/* UIDL: RFC 1939 section 7, 1 to 70 characters 0x21-0x7E. */
#define UIDL_MAX		70

/* Listeners in one configuration. */
#define MAX_LISTENERS		32

/* The whole AUTHORIZATION phase is bounded by timeout_preauth (POP3) or
 * timeout_pop2_auth (POP2) from the connection's start, in the pre-auth
 * child and again in the monitor, which does not trust the child.  The
 * monitor's bound runs this much longer, so the child's own reply to an
 * expired client goes out first (milliseconds). */
#define LOGIN_DEADLINE_GRACE_MS	2000

/*
 * max_per_ip counts clients by address prefix, not by whole address.  An
 * IPv6 site gets at least a /64 and a single host may use any address in
 * it (SLAAC and temporary addresses, RFC 4291 section 2.5.1, RFC 8981), so
 * a cap per full IPv6 address caps nothing: count per /64.  An IPv4
 * client is one address (/32) unless the administrator says otherwise.
 */
#define DEF_PER_IP_PREFIX4	32
#define DEF_PER_IP_PREFIX6	64

/*
 * RLIMIT_NOFILE of the pre-auth child.  poll() fails with EINVAL when
 * nfds exceeds RLIMIT_NOFILE, and the child polls one descriptor (three
 * entries once it proxies TLS: the client's input and output and the
 * session's socket pair); with 0, 1 and 2 always open, a limit of 3 lets it
 * poll what it has but get no new descriptor at all (its seccomp filter
 * refuses open() and socket() anyway).
 */
#define PREAUTH_RLIMIT_NOFILE	3

#endif
