#!/usr/bin/env python3
# rootcpu.py - CPU time that processes running as root spend per failed
# USER/PASS login, against the number of users in the passwd-file (the
# figure of doc/PERFORMANCE.md, "Root CPU per failed login").  CPU time
# from /proc, never throughput: the result does not depend on how busy
# the machine is (only on cache effects), so it may run next to other
# work.
#
#   rootcpu.py [--builddir DIR] [--users N] [--logins M] [--old]
#
# It starts the pop23d of DIR (default: the build this script belongs to)
# through tests/integ/p23.py with a passwd-file of N users ("alice" with
# a SHA512-crypt hash, 5000 rounds; the rest {PLAIN}), makes one warm-up
# login, then M connections that each fail one login (USER alice, a wrong
# PASS) and QUIT, one at a time, and M connections that only QUIT.  Root
# CPU is the master's utime+stime+cutime+cstime over the run: the master
# and every monitor it reaped (root for the whole of a failed login), plus
# the pre-auth children the monitors reaped (unprivileged; the same work
# in either build).  The QUIT-only run gives that fixed part; the
# difference is what the login itself costs root.  The auth service
# (unprivileged, long-lived) is read separately: with its workers
# (auth_workers) as authsvc, the service process alone as svcmain.  --old: a build from
# before the auth service (no auth_user setting).
#
# GPL-3.0-or-later.

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integ'))
import p23  # noqa: E402

TICK = os.sysconf('SC_CLK_TCK')


def cpu_s(pid, children=True):
    with open('/proc/%d/stat' % pid) as f:
        s = f.read()
    w = s[s.rfind(')') + 2:].split()
    t = int(w[11]) + int(w[12])
    if children:
        t += int(w[13]) + int(w[14])
    return t / TICK


def run(srv, n, login):
    for _ in range(n):
        c = p23.Conn(srv.pop3_port, timeout=30)
        c.line()
        if login:
            c.cmd('USER alice')
            r = c.cmd('PASS not-alices-password')
            assert r.startswith('-ERR [AUTH]'), r
        c.cmd('QUIT')
        c.close()
    p23.wait_until(lambda: not srv.sessions(), 30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--builddir', default=p23.BUILDDIR)
    ap.add_argument('--users', type=int, default=101)
    ap.add_argument('--logins', type=int, default=200)
    ap.add_argument('--old', action='store_true')
    a = ap.parse_args()
    users = {'alice': ('alicepw', 'sha512')}
    srv = p23.Server(users=users, start=False,
                     conf={'auth_user': None} if a.old else None)
    try:
        srv.binary = os.path.join(a.builddir, 'pop23d')
        srv.plugindir = os.path.join(a.builddir, '.libs')
        # the other users: {PLAIN} lines, written straight into the file
        # (no Maildirs: they never log in)
        srv.write_config()
        srv.write_passwd()
        with open(srv.passwd_path, 'a') as f:
            for i in range(a.users - 1):
                f.write('user%06d:{PLAIN}pw%06d:%d:%d::%s::\n' % (
                    i, i, p23.SESSION_UID, p23.SESSION_GID,
                    srv.home('alice')))
        srv.start()
        run(srv, 1, True)                       # warm-up
        # the service and its pool of workers (auth_workers), if any;
        # the service alone as svcmain
        main = srv.auth_services() if not a.old else []
        svc = srv.auth_services(with_workers=True) if not a.old else []
        svc0 = sum(cpu_s(p, False) for p in svc)
        main0 = sum(cpu_s(p, False) for p in main)
        t0 = cpu_s(srv.pid)
        run(srv, a.logins, True)
        t1 = cpu_s(srv.pid)
        svc1 = sum(cpu_s(p, False) for p in svc)
        main1 = sum(cpu_s(p, False) for p in main)
        run(srv, a.logins, False)
        t2 = cpu_s(srv.pid)
        login = (t1 - t0) / a.logins * 1000
        quit_ = (t2 - t1) / a.logins * 1000
        print('users=%d logins=%d build=%s root_ms_per_failed_login=%.2f '
              'root_ms_per_quit_only=%.2f root_ms_login_part=%.2f '
              'authsvc_ms_per_login=%s authsvc_workers=%d '
              'svcmain_ms_per_login=%s' % (
                  a.users, a.logins, 'old' if a.old else 'new', login,
                  quit_, login - quit_,
                  '%.2f' % ((svc1 - svc0) / a.logins * 1000) if svc
                  else '-', len(svc) - len(main),
                  '%.2f' % ((main1 - main0) / a.logins * 1000) if main
                  else '-'))
    finally:
        srv.cleanup()


if __name__ == '__main__':
    main()
