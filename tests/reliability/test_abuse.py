#!/usr/bin/env python3
# test_abuse.py - correctness under load and abuse (doc/SECURITY.md L1,
# L3, L4, B9, R4; doc/RELIABILITY.md "Load and abuse").  Loopback only;
# every client loop is bounded by a count and a deadline (popstress.c).
# These are not benchmarks: they assert that nothing goes wrong.
#
#   test_concurrent_sessions   N sessions at once on N maildrops (login,
#       STAT, LIST, RETR of every message checked by size and owner,
#       QUIT); 0 failures, p99 command latency; memory (PSS) and process
#       count while all N are logged in; processes and the master's
#       descriptors back to the baseline afterwards.
#   test_slowloris             slow connections that drip one octet every
#       few seconds from a few 127/8 addresses, more than max_per_ip from
#       each, while real logins run from other addresses: the real logins
#       succeed (>= 99.9 %), the excess slow connections are refused at
#       once, the others are closed at the AUTHORIZATION deadline.
#   test_connection_flood      connections from one address, held open:
#       exactly max_per_ip are served, the rest refused; logins from other
#       addresses all succeed; the refusals are logged at most once a
#       second.
#   test_pipelined_retr_never_read   a client pipelines RETR of a large
#       maildrop, DELE of everything and QUIT, and never reads: the
#       session's memory stays bounded, it ends at write_timeout, nothing
#       is committed, and the next login works.
#   test_inuse_race            POP3 and POP2 logins to one maildrop at the
#       same moment: exactly one wins each round, the other gets
#       -ERR [IN-USE] / "-".
#
# Sizes: short by default (make check); P23_LONG=1 gives the figures of
# doc/RELIABILITY.md (make check-long): 1000 sessions, 5000 slow
# connections, a 5000-connection flood, 10 000 race rounds.  Single
# knobs: P23_LOAD_SESSIONS, P23_SLOW, P23_FLOOD, P23_RACE_ROUNDS,
# P23_P99_MS (the latency bound: 100 in long runs; 500 in short ones, so
# that a busy CI machine does not fail make check on timing alone).
# GPL-3.0-or-later.

import os
import re
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integ'))
import p23  # noqa: E402

LONG = bool(os.environ.get('P23_LONG'))
POPSTRESS = os.path.join(p23.BUILDDIR, 'tests', 'reliability', 'popstress')


def knob(name, short, long):
    return int(os.environ.get(name, long if LONG else short))


SESSIONS = knob('P23_LOAD_SESSIONS', 100, 1000)
SLOW = knob('P23_SLOW', 300, 5000)
FLOOD = knob('P23_FLOOD', 400, 5000)
RACE_ROUNDS = knob('P23_RACE_ROUNDS', 300, 10000)
P99_MS = knob('P23_P99_MS', 500, 100)


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def result(text, mode):
    """The RESULT line of MODE in TEXT as a dict of strings."""
    for line in text.splitlines():
        if line.startswith('RESULT mode=%s ' % mode):
            return dict(w.split('=', 1) for w in line.split()[1:])
    raise AssertionError('no RESULT line for %s in:\n%s' % (mode, text))


def tree_memory(pid):
    """(processes, PSS KiB, RSS KiB) of PID and its descendants."""
    procs, pss, rss = 0, 0, 0
    for p in [pid] + p23.descendants(pid):
        try:
            with open('/proc/%d/smaps_rollup' % p) as f:
                for line in f:
                    if line.startswith('Pss:'):
                        pss += int(line.split()[1])
                    elif line.startswith('Rss:'):
                        rss += int(line.split()[1])
            procs += 1
        except OSError:
            pass
    return procs, pss, rss


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def raise_nofile(need=0):
    """Raise RLIMIT_NOFILE to the hard limit, and the hard limit to NEED
    when we may (root); popstress and the daemon inherit it.  Returns the
    soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < need and p23.ROOT:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            soft, hard = need, need
        except (ValueError, OSError):
            pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Abuse(p23.TestCase):

    def setUp(self):
        if not os.access(POPSTRESS, os.X_OK):
            self.skipTest('popstress not built (make check builds it)')
        raise_nofile()

    def users_server(self, n, msgs=0, size=2000, conf=None, pop2=False,
                     names=None):
        """A server with users user1..userN (password "pw"), each with
        MSGS messages of about SIZE octets that name their owner."""
        names = names or ['user%d' % i for i in range(1, n + 1)]
        srv = self.server(users={u: 'pw' for u in names}, conf=conf,
                          pop2=pop2, start=False)
        for u in names:
            for i in range(msgs):
                body = p23.sized_message(size + 37 * i, '%s-%d' % (u, i))
                body = body.replace(b'\nSubject:', b'\nX-P23-User: %s'
                                    b'\nSubject:' % u.encode(), 1)
                srv.add_message(u, body)
        srv.start()
        return srv

    def popstress(self, *args, stdin=None, timeout=900):
        return subprocess.run([POPSTRESS] + [str(a) for a in args],
                              capture_output=True, text=True,
                              timeout=timeout, input=stdin)

    # ------------------------------------------------------------- L1
    def test_concurrent_sessions(self):
        n = SESSIONS
        srv = self.users_server(n, msgs=10)
        base_fds = fd_count(srv.pid)
        # Every user logs in once first, so that the measured run finds
        # its index (a warm login, as in steady operation).
        t = self.popstress('sessions', '-p', srv.pop3_port, '-w', 'pw',
                           '-n', n, '--sources', max(1, n // 50),
                           '--rate', 100, '--think', 0, '--no-wait',
                           '--timeout', 300)
        self.assertEqual(result(t.stdout, 'sessions')['failed'], '0',
                         t.stdout + t.stderr)
        self.assertTrue(p23.wait_until(lambda: not srv.sessions(), 20))
        # Connects at RATE per second; after the barrier each session
        # RETRs its 10 messages and QUITs, with a think time of up to
        # THINK ms before each command.
        rate, think = (100, 1000) if LONG else (250, 200)
        p = subprocess.Popen(
            [POPSTRESS, 'sessions', '-p', str(srv.pop3_port), '-w', 'pw',
             '-n', str(n), '--sources', str(max(1, n // 50)),
             '--rate', str(rate), '--think', str(think), '--timeout',
             '300'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        ready = p.stdout.readline()
        self.assertTrue(ready.startswith('READY'), ready)
        procs, pss, rss = tree_memory(srv.pid)
        auth = len(srv.auth_services(with_workers=True))
        load = loadavg()
        p.stdin.write('GO\n')
        p.stdin.flush()
        out, err = p.communicate(timeout=600)
        r = result(out, 'sessions')
        print('%d sessions (%d connects/s, think time up to %d ms): %s; '
              'while all were logged in: %s; %d '
              'processes (master included), PSS %.1f MiB in all (%.0f KiB '
              'per session), RSS sum %.1f MiB; load average %s at READY, '
              '%s at the end' % (n, rate, think, out.strip().split('\n')[-1],
                                 ready.strip(),
                                 procs, pss / 1024, pss / max(1, procs - 1),
                                 rss / 1024, load, loadavg()))
        self.assertEqual((r['ok'], r['failed']), (str(n), '0'),
                         ready + out + err)
        self.assertEqual(r['concurrent'], str(n))
        # one process per session, the master and the auth service with
        # its pool of workers (auth_workers)
        self.assertEqual(procs, n + 1 + auth, 'one process per session')
        self.assertEqual(auth, 1 + min(os.sysconf('SC_NPROCESSORS_ONLN'),
                                       16), 'auth_workers = auto')
        self.assertLess(float(r['all_p99']), P99_MS,
                        'p99 command latency (load average %s)' % load)
        # back to the baseline
        self.assertTrue(p23.wait_until(lambda: not srv.sessions(), 20),
                        'sessions left: %r' % srv.sessions())
        self.assertEqual(fd_count(srv.pid), base_fds)

    # ------------------------------------------------------------- L3
    def test_slowloris(self):
        n = SLOW
        if raise_nofile(n + 1000) < n + 1000:
            self.skipTest('RLIMIT_NOFILE too low for %d connections' % n)
        per_ip = 100
        # sources so that each has 25 % more slow connections than the
        # cap: a fifth of them is refused at once
        sources = max(1, n * 4 // (5 * per_ip))
        deadline = 30 if LONG else 6
        drip = 5 if LONG else 2
        ramp = 250 if LONG else 200
        duration = n / ramp + deadline + 5
        # enough users that two logins of one user never overlap
        users = 500 if LONG else 100
        srv = self.users_server(users, msgs=2, conf={
            'timeout_preauth': deadline, 'max_per_ip': per_ip})
        base_fds = fd_count(srv.pid)
        t = self.popstress('slowloris', '-p', srv.pop3_port, '-w', 'pw',
                           '--slow', n, '--slow-sources', sources,
                           '--rate', ramp, '--drip', drip,
                           '--duration', duration, '--every',
                           20 if LONG else 50, '--users', users,
                           '--grace', deadline + 20, '--timeout', 30)
        r = result(t.stdout, 'slowloris')
        ok, failed = int(r['logins_ok']), int(r['logins_failed'])
        refused_logged = len(re.findall('connection from .* refused',
                                        srv.log_text()))
        print('%d slow connections from %d addresses (timeout_preauth %d '
              's, max_per_ip %d, one octet every %s s): %s; refusals logged '
              '%d times; load average %s' % (
                  n, sources, deadline, per_ip, drip,
                  t.stdout.strip().split('\n')[-1], refused_logged,
                  loadavg()))
        expect_refused = n - sources * per_ip
        self.assertEqual(int(r['refused']), expect_refused, t.stdout +
                         t.stderr)
        self.assertEqual(int(r['greeted']), sources * per_ip)
        self.assertEqual(r['still_open'], '0', 'slow connections not shed')
        # the login deadline runs from the monitor's start, before the
        # greeting; the monitor allows the child 2 s more
        self.assertLessEqual(float(r['longest_after_greeting_s']),
                             deadline + 3,
                             'a slow connection outlived the deadline')
        self.assertGreater(ok, 0)
        self.assertGreaterEqual(ok / (ok + failed), 0.999, t.stderr)
        self.assertTrue(srv.running())
        self.assertTrue(p23.wait_until(lambda: not srv.sessions(), 20))
        self.assertEqual(fd_count(srv.pid), base_fds)

    # ------------------------------------------------------------- L4
    def test_connection_flood(self):
        if raise_nofile(FLOOD + 1000) < FLOOD + 1000:
            self.skipTest('RLIMIT_NOFILE too low for %d connections' % FLOOD)
        per_ip = 100 if LONG else 50
        logins = 200 if LONG else 20
        # one user per login: they run at the same time
        srv = self.users_server(logins, msgs=1,
                                conf={'max_per_ip': per_ip})
        t0 = time.monotonic()
        t = self.popstress('flood', '-p', srv.pop3_port, '-w', 'pw',
                           '--flood', FLOOD, '--from', '127.0.0.9',
                           '--logins', logins, '--users', logins,
                           '--timeout', 60)
        took = time.monotonic() - t0
        r = result(t.stdout, 'flood')
        log = srv.log_text()
        refused_logged = len(re.findall(r'connection from 127\.0\.0\.9 '
                                        r'refused', log))
        print('%s; refusals logged %d times in %.1f s; load average %s' % (
            t.stdout.strip(), refused_logged, took, loadavg()))
        self.assertEqual(int(r['greeted']), per_ip, t.stdout + t.stderr)
        self.assertEqual(int(r['refused']), FLOOD - per_ip)
        self.assertEqual(r['undecided'], '0')
        self.assertEqual(r['logins_failed'], '0', t.stderr)
        self.assertLessEqual(refused_logged, int(took) + 2,
                             'refusals not rate-limited')
        self.assertTrue(srv.running())

    # ------------------------------------------------------------- B9
    def test_pipelined_retr_never_read(self):
        wt = 3
        srv = self.server(conf={'write_timeout': wt}, start=False)
        big = b'Subject: big\n\n' + (b'0123456789' * 7 + b'\n') * 15000
        for i in range(20):
            srv.add_message('alice', big)     # about 1 MiB each
        srv.start()
        before = srv.messages('alice')
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(('127.0.0.1', srv.pop3_port))
        self.addCleanup(s.close)
        c = p23.Conn.__new__(p23.Conn)
        c.sock, c.buf, c.eof, c.timeout = s, b'', False, 10
        self.assertOK(c.login('alice', 'alicepw'))
        pid = [x for x in srv.sessions() if x != srv.pid][0]
        rss0 = p23.rss_kb(pid)
        script = ''.join('RETR %d\r\n' % i for i in range(1, 21)) + \
            ''.join('DELE %d\r\n' % i for i in range(1, 21)) + 'QUIT\r\n'
        s.sendall(script.encode())
        t0 = time.monotonic()
        peak = rss0
        while p23.proc_stat(pid) not in (None,) and \
                p23.proc_stat(pid)[1] != 'Z':
            v = p23.rss_kb(pid)
            if v:
                peak = max(peak, v)
            if time.monotonic() - t0 > wt + 30:
                break
            time.sleep(0.05)
        took = time.monotonic() - t0
        print('session RSS %d KiB after login, at most %d KiB while '
              'blocked (maildrop %.0f MiB); ended %.1f s after the '
              'pipelined commands (write_timeout %d s)' % (
                  rss0, peak, 20 * len(big) / 2**20, took, wt))
        self.assertLess(peak - rss0, 2048, 'memory grew while blocked')
        self.assertGreaterEqual(took, wt - 0.5)
        self.assertLess(took, wt + 10, 'not ended at the write timeout')
        self.assertEqual(srv.messages('alice'), before, 'something was '
                         'committed')
        c2 = self.login(srv)
        self.assertEqual(c2.cmd('STAT'), '+OK 20 %d' %
                         (20 * len(p23.crlf(big))))
        self.assertIn('write', srv.log_text().lower())

    # ------------------------------------------------------------- R4
    def test_inuse_race(self):
        srv = self.users_server(1, msgs=3, pop2=True, names=['racer'])
        t = self.popstress('race', '-p', srv.pop3_port, '-P',
                           srv.pop2_port, '-u', 'racer', '-w', 'pw',
                           '--rounds', RACE_ROUNDS, timeout=3600)
        r = result(t.stdout, 'race')
        print('%s; load average %s' % (t.stdout.strip(), loadavg()))
        for k in ('both_won', 'none_won', 'wrong_loser_reply', 'errors'):
            self.assertEqual(r[k], '0', '%s\n%s' % (t.stdout, t.stderr))
        self.assertEqual(int(r['pop3_won']) + int(r['pop2_won']),
                         RACE_ROUNDS)
        self.assertGreater(int(r['pop3_won']), 0, 'no race: POP2 always '
                           'wins')
        self.assertGreater(int(r['pop2_won']), 0, 'no race: POP3 always '
                           'wins')
        self.assertEqual(len(srv.messages('racer')), 3)


if __name__ == '__main__':
    p23.main()
