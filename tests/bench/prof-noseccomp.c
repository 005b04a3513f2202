/*
 * prof-noseccomp.c - PROFILING AID ONLY, never for a served daemon: an
 * LD_PRELOAD shim that makes the pre-auth child's seccomp filter and
 * rlimits no-ops, so that valgrind (callgrind), whose own system calls
 * and output file they would stop, can count instructions through a whole
 * login.  tests/bench/login-count.py --callgrind builds and uses it:
 *   cc -shared -fPIC -o prof-noseccomp.so prof-noseccomp.c
 * The instructions of building the filter are then not counted (a few
 * ten thousand, once per connection, in the pre-auth child).
 * GPL-3.0-or-later.
 */
#include <stdint.h>

struct rlimit;
static int dummy;

void *seccomp_init(uint32_t def) { (void)def; return &dummy; }
int seccomp_attr_set(void *c, int a, uint32_t v) { (void)c; (void)a; (void)v; return 0; }
int seccomp_rule_add_array(void *c, uint32_t a, int s, unsigned n, const void *r)
{ (void)c; (void)a; (void)s; (void)n; (void)r; return 0; }
int seccomp_load(void *c) { (void)c; return 0; }
/* the master's sandbox_prepare(): no program, so each child "loads" its
 * own through the no-op above */
int seccomp_export_bpf(void *c, int fd) { (void)c; (void)fd; return -95; }
void seccomp_release(void *c) { (void)c; }
int setrlimit(int res, const struct rlimit *rl) { (void)res; (void)rl; return 0; }
