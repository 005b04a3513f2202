#!/usr/bin/env python3
# test_bench_tools.py - the benchmark clients of tests/bench (popload and
# pop23bench, built as check programs) against a real pop23d, so that the
# figures of doc/PERFORMANCE.md come from tools that are known to verify
# what they receive.  Nothing here is timed: every run is a few sessions
# (-N) or a fraction of a second, and only counts are checked.
#
# popload --tls implicit|stls: TLS 1.3 with X25519 to pop3s and after
# STLS, the certificate verified (a foreign CA and a wrong name are
# err_verify, never a session), --resume resumes every handshake after
# each thread's first, and every message is checked against a manifest
# (a manifest that is not the user's is err_verify).  pop23bench -M: both
# POP2 dialogues and POP3 on the same maildrops, every message checked;
# --control adds the POP3 phase with POP2's round trips per message.
# cpusplit.py (as root, with cgroup v1 cpuacct): a tiny run against this
# server, every figure parsed and positive, its cgroups removed after.
# GPL-3.0-or-later.

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

BENCH = os.path.join(p23.BUILDDIR, 'tests', 'bench')
POPLOAD = os.path.join(BENCH, 'popload')
POP23BENCH = os.path.join(BENCH, 'pop23bench')
CPUSPLIT = os.path.join(p23.HERE, '..', 'bench', 'cpusplit.py')
CPUACCT = '/sys/fs/cgroup/cpuacct'
USERS = {'bench1': 'pw-one', 'bench2': 'pw-two', 'bench3': 'pw-three',
         'bench4': 'pw-four'}


def message(user, i):
    """A message with dot lines (stuffed by POP3, not by POP2), stored
    with LF line ends."""
    body = b''.join(b'%s line %d of message %d\n' % (user.encode(), k, i)
                    for k in range(20 + 37 * i))
    return (b'From: load@example.org\nTo: %s@example.org\n'
            b'Subject: bench %d\n\n.\n..x\n.y\n' % (user.encode(), i) +
            body + b'end\n')


def run(*args, timeout=60):
    r = subprocess.run([str(a) for a in args], capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def results(out, prefix='RESULT '):
    """The RESULT lines of OUT as dicts."""
    rows = []
    for line in out.splitlines():
        if line.startswith(prefix):
            rows.append(dict(w.split('=', 1) for w in line.split()
                             if '=' in w))
    return rows


class BenchTools(p23.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in (POPLOAD, POP23BENCH):
            if not os.access(tool, os.X_OK):
                raise AssertionError('%s is not built (make check builds '
                                     'it)' % tool)
        cls.dir = tempfile.mkdtemp(prefix='p23bench-')
        os.chmod(cls.dir, 0o755)
        d = cls.dir

        def openssl(*a):
            subprocess.run(['openssl'] + list(a), check=True,
                           capture_output=True, timeout=60)
        for ca in ('ca', 'rogue'):
            openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:P-256', '-nodes', '-keyout',
                    '%s/%s.key' % (d, ca), '-out', '%s/%s.pem' % (d, ca),
                    '-days', '2', '-subj', '/CN=%s test CA' % ca)
        openssl('req', '-new', '-newkey', 'ec', '-pkeyopt',
                'ec_paramgen_curve:P-256', '-nodes', '-keyout',
                d + '/server.key', '-out', d + '/server.csr', '-subj',
                '/CN=localhost')
        with open(d + '/ext', 'w') as f:
            f.write('subjectAltName=DNS:localhost,IP:127.0.0.1\n')
        openssl('x509', '-req', '-in', d + '/server.csr', '-CA',
                d + '/ca.pem', '-CAkey', d + '/ca.key', '-CAcreateserial',
                '-out', d + '/server.pem', '-days', '2', '-extfile',
                d + '/ext')
        os.chmod(d + '/server.key', 0o600)
        # manifests as gen-maildrops.py writes them: "octets crc32" of
        # each message's CRLF form, one file per user
        os.mkdir(d + '/manifest')
        os.mkdir(d + '/wrong')
        for u in USERS:
            with open('%s/manifest/%s' % (d, u), 'w') as f:
                for i in range(4):
                    m = p23.crlf(message(u, i))
                    f.write('%d %08x\n' % (len(m), zlib.crc32(m)))
        # the wrong manifest: each user gets the next user's messages
        names = sorted(USERS)
        for k, u in enumerate(names):
            shutil.copy('%s/manifest/%s' % (d, names[(k + 1) % len(names)]),
                        '%s/wrong/%s' % (d, u))
        with open(d + '/users.txt', 'w') as f:
            for u, pw in sorted(USERS.items()):
                f.write('%s:%s\n' % (u, pw))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        d = self.dir
        self.srv = self.server(users=USERS, pop2=True, start=False, conf={
            'tls_cert': d + '/server.pem', 'tls_key': d + '/server.key'})
        self.srv.extra_listen = ['pop3s 127.0.0.1:0']
        self.srv.write_config()
        for u in USERS:
            for i in range(4):
                self.srv.add_message(u, message(u, i))
        self.srv.start()
        self.pop3s = self.srv.port('pop3s')
        self.assertIsNotNone(self.pop3s)

    def popload(self, mode, port, *extra, ca='ca', manifest='manifest',
                sessions=3, threads=2):
        args = [POPLOAD, mode, '-p', port, '-F', self.dir + '/users.txt',
                '--timeout', 20]
        if mode in ('fetch', 'poll'):
            args += ['-c', threads, '-N', sessions]
        if manifest:
            args += ['-M', '%s/%s' % (self.dir, manifest)]
        if ca:
            args += ['--ca', '%s/%s.pem' % (self.dir, ca)]
        rc, out, err = run(*(args + list(extra)))
        self.assertEqual(rc, 0, err)
        rows = results(out)
        self.assertEqual(len(rows), 1, out + err)
        return rows[0], err

    def assertClean(self, r, err=''):
        self.assertEqual(r['errors'], '0', err)
        self.assertEqual(r['err_verify'], '0', err)

    def test_implicit_full_and_resumed(self):
        r, err = self.popload('fetch', self.pop3s, '--tls', 'implicit')
        self.assertClean(r, err)
        self.assertEqual(r['sessions'], '6')
        self.assertEqual(r['verify'], 'manifest')
        self.assertEqual(r['tls'], 'implicit')
        self.assertEqual((r['tls_version'], r['group']),
                         ('TLSv1.3', 'X25519'))
        self.assertEqual((r['handshakes'], r['resumed']), ('6', '0'))
        r, err = self.popload('fetch', self.pop3s, '--tls', 'implicit',
                              '--resume')
        self.assertClean(r, err)
        # each of the 2 threads: 1 full handshake, then 2 resumed ones
        # (two users per thread: no session meets its own lock)
        self.assertEqual((r['handshakes'], r['resumed']), ('6', '4'))

    def test_stls_full_and_resumed(self):
        r, err = self.popload('poll', self.srv.pop3_port, '--tls', 'stls')
        self.assertClean(r, err)
        self.assertEqual((r['tls'], r['handshakes'], r['resumed']),
                         ('stls', '6', '0'))
        r, err = self.popload('fetch', self.srv.pop3_port, '--tls', 'stls',
                              '--resume', sessions=4)
        self.assertClean(r, err)
        self.assertEqual((r['sessions'], r['handshakes'], r['resumed']),
                         ('8', '8', '6'))

    def test_bulk_and_login_over_tls(self):
        r, err = self.popload('bulk', self.srv.pop3_port, '--tls', 'stls')
        self.assertClean(r, err)
        self.assertEqual((r['ok'], r['msgs']), ('1', '4'))
        r, err = self.popload('login', self.pop3s, '--tls', 'implicit',
                              '-R', 2, manifest=None)
        self.assertEqual((r['ok'], r['errors'], r['messages']),
                         ('2', '0', '4'))

    def test_certificate_is_verified(self):
        r, err = self.popload('poll', self.pop3s, '--tls', 'implicit',
                              ca='rogue', sessions=1, threads=1)
        self.assertEqual((r['sessions'], r['err_verify']), ('0', '1'))
        self.assertIn('certificate', err)
        r, err = self.popload('poll', self.pop3s, '--tls', 'implicit',
                              '--tls-name', 'mail.example.org', sessions=1,
                              threads=1)
        self.assertEqual((r['sessions'], r['err_verify']), ('0', '1'))
        self.assertIn('hostname mismatch', err)
        # without --ca there is no TLS run at all
        rc, out, err = run(POPLOAD, 'poll', '-p', self.pop3s, '-u', 'bench1',
                           '-P', 'pw-one', '--tls', 'implicit')
        self.assertEqual(rc, 2)
        self.assertIn('--ca', err)

    def test_tls_to_a_plaintext_port_fails(self):
        r, err = self.popload('poll', self.srv.pop3_port, '--tls',
                              'implicit', sessions=1, threads=1)
        self.assertEqual((r['sessions'], r['err_io']), ('0', '1'))

    def test_wrong_manifest_is_caught(self):
        r, err = self.popload('fetch', self.pop3s, '--tls', 'implicit',
                              manifest='wrong', sessions=1, threads=1)
        self.assertEqual((r['sessions'], r['err_verify']), ('0', '1'))

    def pop23bench(self, style, manifest='manifest', control=False,
                   rounds=1):
        rc, out, err = run(
            POP23BENCH, '-2', self.srv.pop2_port, '-3', self.srv.pop3_port,
            '-F', self.dir + '/users.txt', '-M',
            '%s/%s' % (self.dir, manifest), '-c', 2, '-t', 0.3, '-r', rounds,
            '--style', style, *(['--control'] if control else []))
        self.assertEqual(rc, 0, err)
        self.out = out
        rows = {(r['proto'], r['style']) if control else r['proto']: r
                for r in results(out)}
        if not control:
            self.assertEqual(sorted(rows), ['pop2', 'pop3'], out)
        self.assertTrue(any(line.startswith('RATIO pop2/pop3 style=' + style)
                            for line in out.splitlines()), out)
        return rows, err

    def test_cpusplit(self):
        """A tiny cpusplit.py run against this server, measured once as
        pop23d and once as the reference: every line parses, every CPU
        figure is positive, the ceiling is computed, and afterwards no
        cgroup of the run is left and the server's processes are back in
        the root group."""
        if not p23.ROOT or not os.path.exists(CPUACCT + '/cpuacct.usage'):
            self.skipTest('needs root and cgroup v1 cpuacct at ' + CPUACCT)
        spec = '%d:%d' % (self.srv.pop3_port, self.srv.pid)
        env = dict(os.environ, POPLOAD=POPLOAD, P23_BUILD=p23.BUILDDIR,
                   BENCH_STATE=self.dir + '/state')
        r = subprocess.run(
            ['python3', CPUSPLIT, '--servers', 'pop23d:' + spec,
             'ref:' + spec, '--workloads', 'poll,fetch,bulk', '-c', '2',
             '--poll-n', '3', '--fetch-n', '2', '--no-warmup',
             '--login', '-F %s/users.txt -M %s/manifest' % (
                 self.dir, self.dir),
             '--bulk-login', '-u bench1 -P pw-one -M %s/manifest' %
             self.dir, '--floor-n', '20', '--wire-mb', '2'],
            capture_output=True, text=True, timeout=170, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = results(r.stdout, 'CPUSPLIT ')
        self.assertEqual([(x['server'], x['workload']) for x in rows],
                         [(s, w) for s in ('pop23d', 'ref')
                          for w in ('poll', 'fetch', 'bulk')], r.stdout)
        for x in rows:
            self.assertEqual(x['errors'], '0', x)
            self.assertEqual(x['units'], {'poll': '6', 'fetch': '4'}.get(
                x['workload'], x['units']), x)
            for k in ('client_ms', 'server_ms'):
                self.assertGreater(float(x[k]), 0, (k, x))
            self.assertTrue(0 <= float(x['idle_pct']) <= 100, x)
            if x['server'] == 'pop23d':
                # the sessions ran in processes the master reaped (their
                # CPU is in 10 ms ticks, too coarse for 6 sessions; their
                # page faults are counted one by one)
                self.assertGreater(float(x['conn_faults']), 0, x)
                self.assertGreaterEqual(float(x['role_conn_ms']), 0, x)
        floor = results(r.stdout, 'FLOOR ')
        self.assertEqual(len(floor), 1, r.stdout)
        for k in ('hash_us', 'fork_exit_empty_us', 'ipc_roundtrip_us',
                  'conn_poll_us', 'crlf_us_per_mb', 'send_us_per_mb'):
            self.assertGreater(float(floor[0][k]), 0, (k, floor))
        ceil = results(r.stdout, 'CEILING ')
        self.assertEqual([c['workload'] for c in ceil],
                         ['poll', 'fetch', 'bulk'], r.stdout)
        for c in ceil:
            self.assertGreater(float(c['ceiling']), 0, c)
            self.assertGreater(float(c['s_min_ms']), 0, c)
        # this run's groups are gone (another run's may exist beside)
        mine = [x[len('# cgroups: '):] for x in r.stdout.splitlines()
                if x.startswith('# cgroups: ')]
        self.assertEqual(len(mine), 1, r.stdout)
        self.assertTrue(os.path.basename(mine[0]).startswith(
            'pop23d-cpusplit.'), mine)
        self.assertFalse(os.path.exists(mine[0]), mine)
        with open(CPUACCT + '/cgroup.procs') as f:
            self.assertIn(str(self.srv.pid), f.read().split())
        # and it still serves
        c = p23.Conn(self.srv.pop3_port, timeout=20)
        self.assertTrue(c.line().startswith('+OK'))
        self.assertOK(c.cmd('QUIT'))
        c.close()

    def test_pop23bench_both_dialogues(self):
        for style in ('ack', 'fetchmail'):
            rows, err = self.pop23bench(style)
            for proto, r in rows.items():
                self.assertEqual((r['errors'], r['err_verify'],
                                  r['verify']), ('0', '0', 'manifest'),
                                 (style, proto, err))
                self.assertGreater(int(r['sessions']), 0, (style, proto))
            self.assertEqual(rows['pop2']['style'], style)
        # nothing was deleted: the maildrops are as delivered
        for u in USERS:
            self.assertEqual(len(self.srv.messages(u)), 4)

    def test_pop23bench_control(self):
        """--control: a third phase per round, POP3 with the POP2
        dialogue's round trips per message (ack: RETR n, NOOP; fetchmail:
        LIST n, RETR n, NOOP; LIST's size must be RETR's), every message
        checked, the two new ratios printed."""
        want = {'ack': 'retr-noop', 'fetchmail': 'list-retr-noop'}
        for style, ctl in want.items():
            rows, err = self.pop23bench(style, control=True, rounds=2)
            self.assertEqual(sorted(rows), [('pop2', style), ('pop3', '-'),
                                            ('pop3', ctl)], self.out)
            res = results(self.out)
            # 2 rounds x 3 phases, control always between the other two
            self.assertEqual([(r['proto'], r['round']) for r in res],
                             [('pop3', '0'), ('pop3', '0'), ('pop2', '0'),
                              ('pop2', '1'), ('pop3', '1'), ('pop3', '1')],
                             self.out)
            self.assertEqual([r['style'] for r in res if r['proto'] ==
                              'pop3'], ['-', ctl, ctl, '-'], self.out)
            for r in res:
                self.assertEqual((r['errors'], r['err_verify']), ('0', '0'),
                                 (style, r, err))
                self.assertGreater(int(r['sessions']), 0, (style, r))
            for ratio in ('pop2/pop3 style=%s ' % style,
                          'pop2/pop3-control style=%s control=%s ' % (
                              style, ctl),
                          'pop3-control/pop3 style=%s control=%s ' % (
                              style, ctl)):
                line = [x for x in self.out.splitlines()
                        if x.startswith('RATIO ' + ratio)]
                self.assertEqual(len(line), 1, (ratio, self.out))
                self.assertGreater(float(line[0].split()[-1]), 0, line)
        for u in USERS:
            self.assertEqual(len(self.srv.messages(u)), 4)

    def test_pop23bench_wrong_manifest(self):
        rows, err = self.pop23bench('ack', manifest='wrong')
        for proto, r in rows.items():
            self.assertEqual(r['sessions'], '0', proto)
            self.assertGreater(int(r['err_verify']), 0, proto)
        self.assertIn('not a delivered message', err)


if __name__ == '__main__':
    unittest.main()
