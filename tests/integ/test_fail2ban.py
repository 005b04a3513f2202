#!/usr/bin/env python3
# test_fail2ban.py - the fail2ban filter (doc/fail2ban/pop23d.conf)
# against the log of a live pop23d: a brute force from one address and
# good logins from others, then Debian's fail2ban-regex counts the
# matches per address; and a real fail2ban-server (temp socket, a jail
# on the log file, an action that writes the banned address to a file:
# no firewall, no network) bans the attacker and nobody else.
# GPL-3.0-or-later.

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

SRCDIR = os.environ.get('POP23D_SRCDIR') or \
    os.path.normpath(os.path.join(p23.HERE, '..', '..'))
FILTER = os.path.join(SRCDIR, 'doc', 'fail2ban', 'pop23d.conf')
# The filter includes fail2ban's own common.conf, as installed.
COMMON = '/etc/fail2ban/filter.d/common.conf'
ATTACKER = '127.0.0.2'
GOOD = '127.0.0.3'
F2B_TIMEOUT = 60


def filter_dir(tmp):
    """A filter.d holding our filter and fail2ban's common.conf."""
    d = os.path.join(tmp, 'f2b', 'filter.d')
    os.makedirs(d, exist_ok=True)
    shutil.copy(FILTER, os.path.join(d, 'pop23d.conf'))
    shutil.copy(COMMON, os.path.join(d, 'common.conf'))
    return d


class Fail2ban(p23.TestCase):

    def brute_force(self, srv):
        """Failed checks from ATTACKER: 2 POP3 connections of 3 wrong
        passwords, an unknown user, a POP2 HELO with a wrong one; good
        logins from GOOD and 127.0.0.1.  Returns the number of failed
        checks."""
        n = 0
        for _ in range(2):
            c = self.conn(srv, source=ATTACKER)
            self.assertOK(c.line())
            for i in range(3):
                self.assertOK(c.cmd('USER alice'))
                self.assertERR(c.cmd('PASS guess%d' % i))
                n += 1
            c.close()
        c = self.conn(srv, source=ATTACKER)
        c.login('mallory', 'x')
        n += 1
        c.close()
        p = self.conn(srv, pop2=True, source=ATTACKER)
        self.assertTrue(p.line().startswith('+'))
        self.assertTrue(p.cmd('HELO alice wrong').startswith('-'))
        n += 1
        for src in (GOOD, '127.0.0.1'):
            g = self.conn(srv, source=src)
            self.assertOK(g.login('bob', 'bobpw'))
            g.cmd('QUIT')
        # the monitors' lines are in the log
        # (the auth service's form of the line, or the older one)
        ok = p23.wait_until(lambda: len(re.findall(
            r'auth failed: (?:user=<[^>]*>, )?method=\S+, result=\w+, '
            r'rip=127\.0\.0\.2,|auth result=\w+ user=\S+ method=\S+ '
            r'client=127\.0\.0\.2:', srv.log_text())) >= n and
            srv.log_text().count('login result=ok') >= 2, 10)
        self.assertTrue(ok, 'failures not logged')
        return n

    def test_fail2ban_regex(self):
        srv = self.server(pop2=True)
        n = self.brute_force(srv)
        fdir = filter_dir(srv.tmp)
        r = subprocess.run(['fail2ban-regex', '-o', 'ip', srv.log_path,
                            os.path.join(fdir, 'pop23d.conf')],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        ips = r.stdout.split()
        self.assertEqual(ips, [ATTACKER] * n, r.stdout)
        self.assertNotIn(GOOD, r.stdout)
        # the summary agrees
        r = subprocess.run(['fail2ban-regex', srv.log_path,
                            os.path.join(fdir, 'pop23d.conf')],
                           capture_output=True, text=True, timeout=120)
        self.assertRegex(r.stdout, r'Failregex: %d total' % n)

    def test_fail2ban_regex_tolerates_trailing_fields(self):
        """A later pop23d may add fields after client=ADDR:PORT."""
        srv = self.server(start=False)
        fdir = filter_dir(srv.tmp)
        log = os.path.join(srv.tmp, 'mail.log')
        with open(log, 'w') as f:
            f.write('Dec  7 01:48:01 mx pop23d[1]: 0badc0de pop3 auth '
                    'result=fail user=alice method=plain '
                    'client=192.0.2.7:40001 reason=password\n'
                    'Dec  7 01:48:02 mx pop23d[1]: 0badc0de pop3 auth '
                    'result=fail user=alice method=plain '
                    'client=2001:db8::7:40001\n'
                    'Dec  7 01:48:03 mx pop23d[1]: 0badc0de pop3 auth '
                    'result=tempfail user=alice method=plain '
                    'client=192.0.2.9:40001\n'
                    # the auth service's form of the line (Dovecot's)
                    'Dec  7 01:48:04 mx pop23d[1]: 0badc0de pop3 auth '
                    'failed: user=<alice>, method=PLAIN, result=fail, '
                    'rip=192.0.2.20, lip=192.0.2.1, session=<0badc0de>\n'
                    'Dec  7 01:48:05 mx pop23d[1]: 0badc0de pop2 auth '
                    'failed: method=plain, result=nouser, '
                    'rip=2001:db8::21, lip=2001:db8::1, '
                    'session=<0badc0de>\n'
                    'Dec  7 01:48:06 mx pop23d[1]: 0badc0de pop3 auth '
                    'failed: user=<bob>, method=PLAIN, result=tempfail, '
                    'rip=192.0.2.22, lip=192.0.2.1, session=<0badc0de>\n'
                    # a user name that tries to forge the address
                    'Dec  7 01:48:07 mx pop23d[1]: 0badc0de pop3 auth '
                    'result=fail user=x\\x20client=10.9.9.9:1 '
                    'method=plain client=192.0.2.23:40001\n')
        r = subprocess.run(['fail2ban-regex', '-o', 'ip', log,
                            os.path.join(fdir, 'pop23d.conf')],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.stdout.split(), ['192.0.2.7', '2001:db8::7',
                                            '192.0.2.20', '2001:db8::21',
                                            '192.0.2.23'])

    def test_fail2ban_server_bans(self):
        """A real fail2ban-server on its own socket with maxretry 3 bans
        ATTACKER; the action writes to a file instead of a firewall."""
        srv = self.server(pop2=True)
        base = os.path.join(srv.tmp, 'f2b')
        filter_dir(srv.tmp)
        os.makedirs(os.path.join(base, 'action.d'), exist_ok=True)
        banned = os.path.join(srv.tmp, 'banned')
        sock = os.path.join(srv.tmp, 'f2b.sock')
        pid = os.path.join(srv.tmp, 'f2b.pid')
        with open(os.path.join(base, 'fail2ban.conf'), 'w') as f:
            f.write('[Definition]\nloglevel = INFO\nlogtarget = %s\n'
                    'socket = %s\npidfile = %s\ndbfile = :memory:\n'
                    % (os.path.join(srv.tmp, 'f2b.log'), sock, pid))
        with open(os.path.join(base, 'action.d', 'record.conf'), 'w') as f:
            f.write('[Definition]\nactionstart =\nactionstop =\n'
                    'actioncheck =\nactionban = echo <ip> >> %s\n'
                    'actionunban =\n' % banned)
        with open(os.path.join(base, 'jail.conf'), 'w') as f:
            f.write('[DEFAULT]\nbackend = polling\n\n[pop23d]\n'
                    'enabled = true\nfilter = pop23d\naction = record\n'
                    'logpath = %s\nmaxretry = 3\nfindtime = 10m\n'
                    'bantime = 1h\n' % srv.log_path)
        client = ['fail2ban-client', '-c', base, '-s', sock, '-p', pid]
        r = subprocess.run(client + ['-x', 'start'], capture_output=True,
                           text=True, timeout=F2B_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(lambda: subprocess.run(
            client + ['stop'], capture_output=True, timeout=F2B_TIMEOUT))
        # the jail reads the file from its end: attack only now
        time.sleep(1)
        self.brute_force(srv)

        def banned_ips():
            try:
                with open(banned) as f:
                    return f.read().split()
            except FileNotFoundError:
                return []
        self.assertTrue(p23.wait_until(banned_ips, 30, 0.2),
                        'nothing banned')
        r = subprocess.run(client + ['status', 'pop23d'],
                           capture_output=True, text=True,
                           timeout=F2B_TIMEOUT)
        self.assertRegex(r.stdout, r'Banned IP list:\s+127\.0\.0\.2\s*$')
        self.assertEqual(banned_ips(), [ATTACKER])


if __name__ == '__main__':
    p23.main(requires=('fail2ban-regex', 'fail2ban-client'))
