/*
 * sandbox.h - the seccomp filter of the pre-auth child; sandbox.c says
 * what it allows and why.
 * PRIVILEGE: sandbox_prepare() in the master (root) before it forks;
 * sandbox_preauth() in the pre-auth child, after the privilege drop.
 */
#ifndef POP23D_SANDBOX_H
#define POP23D_SANDBOX_H

/*
 * Set PR_SET_NO_NEW_PRIVS and install the filter in the calling process
 * (for good: it cannot be removed, and it is inherited).  From then on a
 * system call outside the list kills the process with SIGSYS.  0, or -1
 * with a static reason in *error_r (the caller must exit: it is not
 * sandboxed).
 */
int sandbox_preauth(const char **error_r);

/*
 * Build the filter's BPF program now, once, and keep it: every later
 * sandbox_preauth() in this process or a child forked from it installs
 * that program instead of building its own.  0, or -1 with a static
 * reason in *error_r (sandbox_preauth() then builds it itself).
 */
int sandbox_prepare(const char **error_r);

/* The number of BPF instructions sandbox_prepare() kept (0: none). */
unsigned sandbox_prepared(void);

#endif
