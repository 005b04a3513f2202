#!/usr/bin/env python3
# test_authsvc.py - the auth service (doc/DESIGN.md section 2.6) behind a
# real pop23d: the process the master starts and restarts, its user and
# its plugin, kill -9 during logins, SIGHUP, who may talk to it, the
# per-address failure penalty and the one log line per failed login
# (doc/SECURITY.md, "The failed-login line").  GPL-3.0-or-later.

import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

BAD = '-ERR [AUTH] invalid user name or password'
TEMP = '-ERR [SYS/TEMP] authentication is temporarily unavailable'
# A hash slow enough (natively about 2 s here) for a login to be in
# flight when a process is killed; under valgrind the same hash takes
# longer than a client waits for a reply (10 s), so it gets 1/40 of the
# rounds, which takes about as long there.
SLOW_ROUNDS = 2000000 // (40 if p23.WRAPPER else 1)
# doc/SECURITY.md: the failed-login line, after the "ID pop3 " prefix
FAIL_RE = re.compile(r' ([0-9a-f]{8}) pop[23] auth failed: '
                     r'(?:user=<([^>]*)>, )?method=(\S+), result=(\w+), '
                     r'rip=(\S+), lip=(\S+), session=<([0-9a-f]{8})>$',
                     re.M)


def crypt(pw, setting):
    """crypt(3) from libxcrypt (the same library pop23d uses)."""
    lib = ctypes.CDLL(ctypes.util.find_library('crypt') or 'libcrypt.so.1')
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    h = lib.crypt(pw.encode(), setting.encode())
    assert h and h.startswith(b'$'), 'crypt(%r) failed' % setting
    return h.decode()


def maps(pid):
    try:
        with open('/proc/%d/maps' % pid) as f:
            return f.read()
    except OSError:
        return ''


def status(pid):
    with open('/proc/%d/status' % pid) as f:
        return dict(l.split(':', 1) for l in f.read().splitlines())


class AuthService(p23.TestCase):

    def service(self, srv, timeout=5):
        """The one auth service's pid (waits for it)."""
        self.assertTrue(p23.wait_until(lambda: len(srv.auth_services())
                                       == 1, timeout),
                        'auth services: %r' % srv.auth_services())
        return srv.auth_services()[0]

    def test_process_user_and_plugin(self):
        srv = self.server()
        pid = self.service(srv)
        st = status(pid)
        uids = [int(x) for x in st['Uid'].split()]
        gids = [int(x) for x in st['Gid'].split()]
        if p23.ROOT:
            self.assertEqual(uids, [p23.AUTH_UID] * 4)
            self.assertEqual(gids, [p23.AUTH_GID] * 4)
            self.assertEqual(int(st['NoNewPrivs']), 1)
            self.assertEqual(int(st['CapEff'], 16), 0)
        self.assertIn('auth_passwdfile', maps(pid))
        self.assertNotIn('store_maildir', maps(pid))
        # a connection at the greeting: its monitor and pre-auth child
        # do not map the auth plugin at all
        c = self.conn(srv)
        self.assertOK(c.line())
        self.assertTrue(p23.wait_until(lambda: len(srv.sessions()) >= 2,
                                       5))
        for k in srv.sessions():
            self.assertNotIn('auth_passwdfile', maps(k), 'pid %d' % k)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('QUIT'))

    def test_master_parks_the_plugin(self):
        # Only the auth service maps the auth plugin: the master unloads
        # it after checking the configuration (plugin_park()), so no
        # monitor inherits it or has to dlclose() it, and the service
        # loads it itself, also after SIGHUP (doc/DESIGN.md section 10).
        srv = self.server()
        pid = self.service(srv)
        self.assertIn('auth_passwdfile', maps(pid))
        self.assertNotIn('auth_passwdfile', maps(srv.pid))
        self.assertIn('store_maildir', maps(srv.pid))
        c = self.login(srv)
        self.assertOK(c.cmd('STAT'))
        for k in srv.sessions():
            m = maps(k)
            self.assertNotIn('auth_passwdfile', m, 'pid %d' % k)
        self.assertOK(c.cmd('QUIT'))
        srv.reload()
        # the new service is the one that loads the plugin (a session
        # that answered QUIT may still be there, without a connection)
        self.assertTrue(p23.wait_until(
            lambda: [p for p in srv.auth_services() if p != pid and
                     'auth_passwdfile' in maps(p)], 5), srv.log_tail())
        new = [p for p in srv.auth_services() if p != pid and
               'auth_passwdfile' in maps(p)][0]
        self.assertNotIn('auth_passwdfile', maps(srv.pid))
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        # kill -9: the restarted service loads it again
        os.kill(new, signal.SIGKILL)
        self.assertTrue(p23.wait_until(
            lambda: [p for p in srv.auth_services() if p != new], 10),
            srv.log_tail())
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))

    def test_one_service_serves_many_logins(self):
        srv = self.server()
        pid = self.service(srv)
        for i in range(5):
            c = self.login(srv)
            self.assertOK(c.cmd('QUIT'))
        # A session that has answered QUIT may not have exited yet: it
        # holds no TCP connection then and looks like a service for a
        # moment (CI saw [service, session]).
        self.assertTrue(p23.wait_until(
            lambda: srv.auth_services() == [pid], 5), srv.auth_services())

    def test_kill9_during_logins(self):
        # a hash that takes long enough for a login to be in flight
        slow = crypt('slowpw', '$6$rounds=%d$saltsalt$' % SLOW_ROUNDS)
        srv = self.server(users={'alice': 'alicepw', 'slow': (slow, 'raw')})
        srv.add_message('alice', b'Subject: k\n\nkept\n')
        pid = self.service(srv)
        t = time.monotonic()
        c0 = self.conn(srv)
        c0.line()
        c0.cmd('USER slow')
        c0.cmd('PASS slowpw')
        cost = time.monotonic() - t
        if cost < 0.4:
            self.skipTest('the hash takes only %.2f s here' % cost)
        c0.close()
        pid = self.service(srv)
        # a session that is logged in already
        s = self.login(srv)
        self.assertOK(s.cmd('STAT'))
        # a login in flight when the service dies
        c = self.conn(srv)
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER slow'))
        c.send('PASS slowpw\r\n')
        time.sleep(cost / 3)
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(c.line(), TEMP)
        # the master starts a new one; the same connection logs in
        self.assertTrue(p23.wait_until(
            lambda: srv.auth_services() not in ([], [pid]), 5),
            srv.log_tail())
        self.assertOK(c.cmd('USER slow'))
        self.assertOK(c.cmd('PASS slowpw'))
        self.assertOK(c.cmd('QUIT'))
        # the session never noticed; new connections work
        st, body = s.retr(1)
        self.assertOK(st)
        self.assertIn(b'kept', body)
        self.assertOK(s.cmd('QUIT'))
        c2 = self.login(srv)
        self.assertOK(c2.cmd('QUIT'))
        self.assertIn('auth service (pid %d) died of signal 9' % pid,
                      srv.log_text())
        self.assertTrue(srv.running())

    def test_kill9_repeatedly_under_load(self):
        # a user per client: no [IN-USE] between them
        srv = self.server(users={'u0': 'pw0', 'u1': 'pw1', 'u2': 'pw2'})
        results = []
        stop = time.monotonic() + 4

        def client(i):
            while time.monotonic() < stop:
                try:
                    c = p23.Conn(srv.pop3_port, timeout=10)
                    c.line()
                    c.cmd('USER u%d' % i)
                    r = c.cmd('PASS pw%d' % i)
                    results.append(r)
                    if r.startswith('+OK'):
                        c.cmd('QUIT')
                    c.close()
                except (OSError, EOFError) as e:
                    results.append('exc %r' % e)

        threads = [threading.Thread(target=client, args=(i,))
                   for i in range(3)]
        for t in threads:
            t.start()
        for _ in range(3):
            time.sleep(1)
            for pid in srv.auth_services():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass        # a session that was just ending
        for t in threads:
            t.join()
        bad = [r for r in results if not r.startswith('+OK') and r != TEMP]
        self.assertEqual(bad, [], 'answers other than +OK and [SYS/TEMP]')
        self.assertTrue(any(r.startswith('+OK') for r in results[-5:]),
                        results[-5:])
        self.assertTrue(srv.running())
        c = self.conn(srv)
        self.assertOK(c.login('u0', 'pw0'))
        self.assertOK(c.cmd('QUIT'))

    def test_sighup_starts_a_new_service(self):
        srv = self.server()
        old = self.service(srv)
        # a connection that has talked to the old service keeps it
        c = self.conn(srv)
        self.assertOK(c.line())
        c.cmd('USER alice')
        self.assertEqual(c.cmd('PASS wrong'), BAD)
        srv.reload()
        self.assertTrue(p23.wait_until(
            lambda: [p for p in srv.auth_services() if p != old], 5))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('QUIT'))
        # once its monitor is done, the old one exits
        self.assertTrue(p23.wait_until(
            lambda: old not in srv.auth_services(), 5), srv.log_tail())
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))

    def test_only_root_may_connect(self):
        if not p23.ROOT:
            self.skipTest('rootless: every process is the same user')
        srv = self.server()
        pid = self.service(srv)
        # this server's socket (other servers may run at the same time):
        # the listening socket the service holds
        inodes = set()
        for fd in os.listdir('/proc/%d/fd' % pid):
            t = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            if t.startswith('socket:['):
                inodes.add(t[8:-1])
        with open('/proc/net/unix') as f:
            names = [l.split()[-1] for l in f
                     if '@pop23d-auth-' in l and l.split()[6] in inodes]
        self.assertEqual(len(names), 1)
        addr = '\0' + names[0][1:]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setgroups([])
                os.setresgid(p23.NOBODY, p23.NOBODY, p23.NOBODY)
                os.setresuid(p23.NOBODY, p23.NOBODY, p23.NOBODY)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.settimeout(5)
                s.connect(addr)
                # a LOOKUP for alice (op 4), whatever its layout
                s.send(struct.pack('=II', 16, 4) + b'\0' * 9000)
                got = s.recv(20000)
                os.write(w, b'answered' if got else b'closed')
            except OSError as e:
                os.write(w, ('error %s' % e).encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        out = os.read(r, 100).decode()
        os.close(r)
        self.assertNotEqual(out, 'answered')
        self.assertTrue(p23.wait_until(
            lambda: 'refused a connection from uid %d' % p23.NOBODY
            in srv.log_text(), 5), srv.log_tail())

    def test_auth_user_checked(self):
        if not p23.ROOT:
            self.skipTest('rootless: no auth_user')
        srv = self.server(start=False)
        for user, why in (('nobody', "must not be login_user's uid"),
                          ('no-such-user-p23', 'does not exist'),
                          ('root', 'is root')):
            srv.conf['auth_user'] = user
            srv.write_config()
            r = srv.check_config()
            self.assertNotEqual(r.returncode, 0, user)
            self.assertIn(why, r.stdout + r.stderr)
        srv.conf['auth_user'] = p23.AUTH_USER
        srv.write_config()
        self.assertEqual(srv.check_config().returncode, 0)


# A checkpassword program: "slow" takes 3 s, alice and bob as usual.
SLOW_PROGRAM = r'''#!/bin/sh
{ IFS= read -r user; IFS= read -r pass; } <<EOF
$(tr '\000' '\n' <&3)
EOF
case "$user" in
slow) sleep 3; exit 1 ;;
alice|bob) [ "$pass" = "${user}pw" ] && exec "$1"; exit 1 ;;
*) exit 1 ;;
esac
'''


class Blocking(p23.TestCase):
    """A plugin with POP23D_PLUGIN_F_BLOCKING (checkpassword): one worker
    per monitor, so a slow login does not hold up another; with
    needs_root = no the service and its workers run as auth_user."""

    def cp_server(self, needs_root):
        srv = p23.Server(start=False)
        self.addCleanup(srv.cleanup)
        prog = os.path.join(srv.tmp, 'checkpw')
        with open(prog, 'w') as f:
            f.write(SLOW_PROGRAM)
        os.chmod(prog, 0o755)
        c = {'auth': 'checkpassword', 'passwdfile.path': None,
             'checkpassword.program': prog,
             'checkpassword.userdb': 'virtual',
             'checkpassword.home': os.path.join(srv.tmp, 'home', '%u'),
             'checkpassword.timeout': '10',
             'checkpassword.needs_root': needs_root,
             'mail_location': '%h/Maildir'}
        if p23.ROOT:
            c['virtual_uid'] = str(p23.SESSION_UID)
            c['virtual_gid'] = str(p23.SESSION_GID)
        srv.conf = c
        srv.write_config()
        srv.start()
        return srv

    def check(self, needs_root):
        srv = self.cp_server(needs_root)
        self.assertTrue(p23.wait_until(srv.auth_services, 5))
        slow = self.conn(srv)
        self.assertOK(slow.line())
        self.assertOK(slow.cmd('USER slow'))
        slow.send('PASS x\r\n')
        time.sleep(0.5)
        # a worker runs the slow program, as root or as auth_user
        workers = [p for p in srv.auth_services(with_workers=True)
                   if p not in srv.auth_services()]
        self.assertTrue(workers, 'no worker process')
        if p23.ROOT:
            want = 0 if needs_root == 'yes' else p23.AUTH_UID
            self.assertEqual(p23.proc_uid(workers[0]), want)
        t = time.monotonic()
        c = self.conn(srv)
        self.assertOK(c.login('alice', 'alicepw'))
        self.assertLess(time.monotonic() - t, 2.0,
                        'a login waited for the slow one')
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(slow.line(), BAD)
        slow.close()
        # the workers end with their monitors
        self.assertTrue(p23.wait_until(
            lambda: srv.auth_services(with_workers=True) ==
            srv.auth_services(), 10), srv.log_tail())

    def test_worker_per_monitor_root(self):
        self.check('yes')

    def test_worker_per_monitor_auth_user(self):
        self.check('no')


class Rootless(p23.TestCase):

    def test_rootless_mode(self):
        """DESIGN 2.3: some of these tests again as a user who is not
        root (the daemon then runs every process, the auth service too,
        as that user)."""
        if not p23.ROOT:
            self.skipTest('this run is rootless already')
        runuser = shutil.which('runuser')
        if runuser is None:
            self.skipTest('runuser is not installed')
        # a Python that nobody may run (not one under /root)
        py = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') \
            else sys.executable
        for path in (p23.BINARY, py):
            probe = subprocess.run([runuser, '-u', 'nobody', '--', 'test',
                                    '-x', path])
            if probe.returncode != 0:
                self.skipTest('nobody cannot run %s' % path)
        names = ['AuthService.test_process_user_and_plugin',
                 'AuthService.test_kill9_during_logins',
                 'AuthService.test_sighup_starts_a_new_service',
                 'FailureLine.test_one_line_per_failure']
        r = subprocess.run(
            [runuser, '-u', 'nobody', '--', 'env',
             'POP23D_BUILDDIR=' + p23.BUILDDIR,
             'POP23D_PLUGINDIR=' + p23.PLUGINDIR, py,
             os.path.abspath(__file__)] + names,
            capture_output=True, text=True, timeout=600, cwd='/')
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr)
        self.assertIn('%d passed, 0 failed' % len(names), r.stdout)


class Penalty(p23.TestCase):
    BASE = 300
    MAX = 1000

    def fail_once(self, srv, c, user='alice'):
        self.assertOK(c.cmd('USER ' + user))
        t = time.monotonic()
        r = c.cmd('PASS not-the-password')
        dt = time.monotonic() - t
        self.assertEqual(r if r != '-ERR [AUTH] too many failed logins, '
                         'closing' else BAD, BAD)
        return dt

    def test_doubles_to_the_cap_and_resets(self):
        srv = self.server(conf={'auth_failure_delay': str(self.BASE),
                                'auth_failure_delay_max': str(self.MAX)})
        c = self.conn(srv)
        self.assertOK(c.line())
        times = [self.fail_once(srv, c) for _ in range(3)]
        c = self.conn(srv)      # a new connection, the same address
        self.assertOK(c.line())
        times.append(self.fail_once(srv, c, 'nosuchuser'))
        want = [0.3, 0.6, 1.0, 1.0]
        for got, w in zip(times, want):
            self.assertGreaterEqual(got, w - 0.02, (times, want))
            self.assertLess(got, w + 0.25, (times, want))
        # a success clears the address
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('QUIT'))
        c = self.conn(srv)
        self.assertOK(c.line())
        dt = self.fail_once(srv, c)
        self.assertLess(dt, 0.3 + 0.25)

    def test_other_address_not_delayed(self):
        srv = self.server(conf={'auth_failure_delay': str(self.BASE),
                                'auth_failure_delay_max': str(self.MAX)})
        c = self.conn(srv)
        self.assertOK(c.line())
        for _ in range(3):
            self.fail_once(srv, c)
        try:
            c = self.conn(srv, source='127.0.0.2')
        except OSError:
            self.skipTest('cannot bind 127.0.0.2')
        self.assertOK(c.line())
        self.assertLess(self.fail_once(srv, c), 0.3 + 0.25)


# The debug line a pool worker writes when it accepts a monitor.
SERVES_RE = re.compile(r' \[(\d+)\] auth-worker auth worker: serving a '
                       r'monitor$', re.M)


class Pool(p23.TestCase):
    """auth_workers (DESIGN 2.6): a pool of workers that accept monitors
    from the one socket, the penalty table kept by the service."""
    BASE = 300
    MAX = 1000

    def pool(self, srv, n=2, timeout=5):
        """(service pid, [worker pids]) once N workers run."""
        def ready():
            svcs = srv.auth_services()
            if len(svcs) != 1:
                return False
            return len(p23.descendants(svcs[0])) == n
        self.assertTrue(p23.wait_until(ready, timeout),
                        srv.auth_services(with_workers=True))
        svc = srv.auth_services()[0]
        return svc, p23.descendants(svc)

    def served_by(self, srv, mark=0):
        """Pids of the workers that accepted a monitor, in order, from
        the log after offset MARK."""
        return [int(m) for m in SERVES_RE.findall(srv.log_text()[mark:])]

    def slow_users(self, names, rounds):
        return {n: (crypt(n + 'pw', '$6$rounds=%d$salt%s$' % (rounds, n)),
                    'raw') for n in names}

    def test_same_privileges_and_plugin_as_the_service(self):
        srv = self.server(conf={'auth_workers': '2'})
        svc, workers = self.pool(srv)
        self.assertEqual(len(workers), 2)
        for pid in [svc] + workers:
            st = status(pid)
            if p23.ROOT:
                self.assertEqual([int(x) for x in st['Uid'].split()],
                                 [p23.AUTH_UID] * 4)
                self.assertEqual([int(x) for x in st['Gid'].split()],
                                 [p23.AUTH_GID] * 4)
                self.assertEqual(int(st['NoNewPrivs']), 1)
                self.assertEqual(int(st['CapEff'], 16), 0)
            self.assertIn('auth_passwdfile', maps(pid))
            self.assertNotIn('store_maildir', maps(pid))
            self.assertFalse(p23.holds_tcp(pid), pid)

    def test_one_worker_is_the_service_itself(self):
        srv = self.server(conf={'auth_workers': '1'})
        svc, workers = self.pool(srv, n=0)
        self.assertEqual(workers, [])
        for _ in range(3):
            c = self.login(srv)
            self.assertOK(c.cmd('QUIT'))
        # no process below the service (a session that has just closed
        # its client socket may look like a service for a moment)
        self.assertEqual(p23.descendants(svc), [])
        self.assertTrue(p23.wait_until(
            lambda: srv.auth_services(with_workers=True) == [svc], 5))

    def test_concurrent_logins_use_more_than_one_worker(self):
        names = ['p%d' % i for i in range(6)]
        srv = self.server(users=self.slow_users(names, 200000),
                          conf={'auth_workers': '2', 'debug': 'yes'})
        svc, workers = self.pool(srv)
        results = {}

        def client(name):
            try:
                c = p23.Conn(srv.pop3_port, timeout=20)
                c.line()
                c.cmd('USER ' + name)
                results[name] = c.cmd('PASS %spw' % name)
                c.cmd('QUIT')
                c.close()
            except (OSError, EOFError) as e:
                results[name] = 'exc %r' % e

        # Which worker wins an accept() is up to the scheduler: a few
        # rounds at most, until both have served (nearly always the
        # first: a worker inside a hash does not accept).
        for rounds in range(1, 6):
            results.clear()
            threads = [threading.Thread(target=client, args=(n,))
                       for n in names]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(sorted(results), names)
            for n, r in results.items():
                self.assertTrue(r.startswith('+OK'), (n, r))
            served = self.served_by(srv)
            self.assertEqual(len(served), rounds * len(names),
                             srv.log_tail())
            self.assertLessEqual(set(served), set(workers))
            if len(set(served)) == 2:
                break
        self.assertEqual(len(set(served)), 2,
                         'every monitor went to one worker: %r' % served)
        self.assertEqual(self.pool(srv)[1], workers)

    def fail_once(self, srv, source=None, user='alice'):
        c = self.conn(srv, source=source) if source else self.conn(srv)
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER ' + user))
        t = time.monotonic()
        self.assertEqual(c.cmd('PASS not-the-password'), BAD)
        dt = time.monotonic() - t
        c.close()
        return dt

    def only(self, workers, pid):
        """Let only worker PID take monitors (the others are stopped)."""
        for w in workers:
            os.kill(w, signal.SIGCONT if w == pid else signal.SIGSTOP)

    def test_penalty_adds_up_across_workers(self):
        srv = self.server(conf={'auth_workers': '2', 'debug': 'yes',
                                'auth_failure_delay': str(self.BASE),
                                'auth_failure_delay_max': str(self.MAX)})
        svc, (a, b) = self.pool(srv)
        try:
            times, order = [], [a, b, a, b]
            for w in order:
                self.only((a, b), w)
                mark = len(srv.log_text())
                times.append(self.fail_once(srv))
                self.assertEqual(self.served_by(srv, mark), [w])
            want = [0.3, 0.6, 1.0, 1.0]
            for got, w in zip(times, want):
                self.assertGreaterEqual(got, w - 0.02, (times, want))
                self.assertLess(got, w + 0.25, (times, want))
            # a success on one worker clears the address for the other
            self.only((a, b), a)
            c = self.login(srv)
            self.assertOK(c.cmd('QUIT'))
            self.only((a, b), b)
            mark = len(srv.log_text())
            self.assertLess(self.fail_once(srv), 0.3 + 0.25)
            self.assertEqual(self.served_by(srv, mark), [b])
        finally:
            for w in (a, b):
                os.kill(w, signal.SIGCONT)

    def test_kill9_worker(self):
        users = self.slow_users(['slow1', 'slow2'], SLOW_ROUNDS)
        users['alice'] = 'alicepw'
        srv = self.server(users=users,
                          conf={'auth_workers': '2', 'debug': 'yes'})
        srv.add_message('alice', b'Subject: k\n\nkept\n')
        svc, workers = self.pool(srv)
        t = time.monotonic()
        c = self.conn(srv)
        c.line()
        c.cmd('USER slow1')
        c.cmd('PASS slow1pw')
        cost = time.monotonic() - t
        c.close()
        if cost < 0.4:
            self.skipTest('the hash takes only %.2f s here' % cost)
        # a session that is logged in already
        s = self.login(srv)
        self.assertOK(s.cmd('STAT'))
        # two logins in flight, one on each worker
        mark = len(srv.log_text())
        c1 = self.conn(srv)
        self.assertOK(c1.line())
        self.assertOK(c1.cmd('USER slow1'))
        c1.send('PASS slow1pw\r\n')
        self.assertTrue(p23.wait_until(
            lambda: len(self.served_by(srv, mark)) == 1, 5))
        victim = self.served_by(srv, mark)[0]
        time.sleep(min(0.3, cost / 3))     # inside the hash by now
        c2 = self.conn(srv)
        self.assertOK(c2.line())
        self.assertOK(c2.cmd('USER slow2'))
        c2.send('PASS slow2pw\r\n')
        self.assertTrue(p23.wait_until(
            lambda: len(self.served_by(srv, mark)) == 2, 5))
        other = self.served_by(srv, mark)[1]
        self.assertNotEqual(victim, other)
        self.assertEqual(sorted([victim, other]), sorted(workers))
        os.kill(victim, signal.SIGKILL)
        self.assertEqual(c1.line(), TEMP)
        # the other worker's login goes on
        self.assertOK(c2.line())
        self.assertOK(c2.cmd('QUIT'))
        # the service restarts the worker; the service itself stays
        self.assertTrue(p23.wait_until(
            lambda: len(p23.descendants(svc)) == 2 and
            victim not in p23.descendants(svc), 5), srv.log_tail())
        self.assertTrue(p23.wait_until(
            lambda: srv.auth_services() == [svc], 5),
            srv.auth_services())
        self.assertIn('auth worker (pid %d) died of signal 9; restarting '
                      'it' % victim, srv.log_text())
        self.assertIn(other, p23.descendants(svc))
        # the same connection logs in; the session never noticed
        self.assertOK(c1.cmd('USER slow1'))
        self.assertOK(c1.cmd('PASS slow1pw'))
        self.assertOK(c1.cmd('QUIT'))
        st, body = s.retr(1)
        self.assertOK(st)
        self.assertIn(b'kept', body)
        self.assertOK(s.cmd('QUIT'))
        self.assertTrue(srv.running())

    def test_bad_values_refused_by_dash_t(self):
        srv = self.server(start=False)
        for v in ('-1', '257', 'many', '2x', ''):
            srv.conf['auth_workers'] = v
            srv.write_config()
            r = srv.check_config()
            self.assertNotEqual(r.returncode, 0, v)
            self.assertIn('auth_workers', r.stdout + r.stderr, v)
        for v, n in (('2', 2), ('256', 256), ('auto', None), ('0', None)):
            srv.conf['auth_workers'] = v
            srv.write_config()
            r = srv.check_config()
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            cpus = min(os.cpu_count() or 1, 16)
            if n is None:
                want = ('auth service: %d worker%s (auth_workers = auto: '
                        '%d)' % (cpus, ' (the service itself)' if cpus == 1
                                 else 's', cpus))
            else:
                want = 'auth service: %d workers (auth_workers = %d)' % (
                    n, n)
            self.assertIn(want, r.stdout)


class FailureLine(p23.TestCase):

    def test_one_line_per_failure(self):
        srv = self.server(apop=True)
        c = self.conn(srv)
        g = c.line()
        c.cmd('USER alice')
        self.assertEqual(c.cmd('PASS Wr0ngPw1'), BAD)
        c.cmd('USER nosuchuser')
        self.assertEqual(c.cmd('PASS Wr0ngPw2'), BAD)
        self.assertEqual(c.cmd('APOP alice ' + p23.apop_digest(g, 'x')),
                         '-ERR [AUTH] too many failed logins, closing')
        self.assertTrue(p23.wait_until(
            lambda: len(FAIL_RE.findall(srv.log_text())) >= 3, 5),
            srv.log_tail())
        time.sleep(0.2)
        lines = FAIL_RE.findall(srv.log_text())
        self.assertEqual(len(lines), 3, srv.log_tail())
        users = [l[1] for l in lines]
        self.assertEqual(users, ['alice', 'nosuchuser', 'alice'])
        self.assertEqual([l[2] for l in lines], ['PLAIN', 'PLAIN', 'APOP'])
        self.assertEqual([l[3] for l in lines], ['fail', 'nouser', 'fail'])
        for l in lines:
            self.assertEqual(l[4], '127.0.0.1')
            self.assertEqual(l[0], l[6])
        log = srv.log_text()
        self.assertNotIn('Wr0ngPw', log)

    def test_user_escaped_in_brackets(self):
        srv = self.server()
        c = self.conn(srv)
        c.line()
        c.cmd('USER a>b<c\\d')
        self.assertEqual(c.cmd('PASS x'), BAD)
        self.assertTrue(p23.wait_until(
            lambda: FAIL_RE.search(srv.log_text()), 5), srv.log_tail())
        self.assertEqual(FAIL_RE.search(srv.log_text()).group(2),
                         'a\\x3eb\\x3cc\\x5cd')


if __name__ == '__main__':
    p23.main()
