/*
 * authpool.h - the auth service's pool of workers (doc/DESIGN.md section
 * 2.6): for a plugin without POP23D_PLUGIN_F_BLOCKING the service forks
 * auth_workers long-lived workers that all accept monitors from the one
 * listening socket; the service itself ("the supervisor") restarts a
 * worker that dies and holds the one per-address penalty table, which
 * the workers consult over a socketpair each:
 *
 *   worker                                  supervisor
 *   AUTHPOOL_FAIL {seq, address}      ->    penalty_fail()
 *                                     <-    {seq, delay ms}
 *   AUTHPOOL_OK   {seq, address}      ->    penalty_ok() (no answer)
 *
 * PRIVILEGE: the auth service's (auth_user with PR_SET_NO_NEW_PRIVS, or
 * root for a plugin that needs it); the workers are forked after the
 * drop and keep it.  The supervisor trusts a worker as much as it trusts
 * itself (same user, same code), but still checks every record's size
 * and address family.
 */
#ifndef POP23D_AUTHPOOL_H
#define POP23D_AUTHPOOL_H

#include <signal.h>
#include <stdint.h>

struct addr;
struct penalty;

/* auth_workers = 0 ("auto"): one per online CPU, at most this many.  A
 * passwd-file that changes is parsed again by every worker (the
 * copy-on-write sharing of the first table ends), so the cap bounds
 * that memory; a bigger machine sets auth_workers itself. */
#define AUTHPOOL_AUTO_MAX	16
/* How long a worker waits for the supervisor's penalty answer before it
 * uses auth_failure_delay_max (the supervisor answers from memory; only a
 * supervisor that is gone misses it, and then the worker dies with it). */
#define AUTHPOOL_ANSWER_MS	5000
/* A worker that dies within this long of its start is restarted only
 * after it (a plugin that crashes at once must not fork in a loop). */
#define AUTHPOOL_RESTART_MIN_MS	1000

/* The number of workers for CONFIGURED (the auth_workers setting, 0 for
 * auto); 1 means no pool (the service answers itself). */
int authpool_size(int configured);

/* Called in each new worker with its end of the penalty channel; does
 * not return. */
typedef void (*authpool_worker_fn)(void *arg, int chan_fd);

/*
 * In the service, after the privilege drop: fork N workers running FN,
 * restart those that die, answer their penalty requests from PEN.  STOP
 * and CHLD are the service's signal flags (SIGTERM/SIGINT, SIGCHLD):
 * on STOP every worker gets SIGTERM (each finishes the monitors it has)
 * and the supervisor exits when they are gone.  Closes LISTEN_FD in the
 * supervisor on STOP.  Does not return.
 */
void authpool_run(int n, struct penalty *pen, int listen_fd,
    authpool_worker_fn fn, void *arg, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *chld) __attribute__((noreturn));

/* In a worker: a counted failure from A; the delay for it (MAX_MS if the
 * supervisor does not answer). */
uint32_t authpool_fail(int chan_fd, const struct addr *a, uint32_t max_ms);
/* In a worker: a success from A. */
void authpool_ok(int chan_fd, const struct addr *a);

#endif
