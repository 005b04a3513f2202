#!/usr/bin/env python3
# test_clients.py - real POP3 clients against pop23d: Python poplib, curl,
# fetchmail (keep and delete modes) and mpop (a pipelining client).  The
# delivered bytes must equal the stored messages.  A client that is not
# installed is skipped.  GPL-3.0-or-later.

import os
import poplib
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

# The test messages: plain, LF with a "." line and "..x" (stuffing), CRLF
# stored, no final newline.
MSGS = [
    p23.sized_message(120, 'one'),
    b'From: a@example.org\nSubject: dots\n\nbody\n.\n..x\n.y\nend\n',
    b'From: b@example.org\r\nSubject: crlf\r\n\r\nstored with CRLF\r\n',
    b'From: c@example.org\nSubject: nonl\n\nno newline at end',
]


def lf(data: bytes) -> bytes:
    """The message as a Unix MDA receives it: CRLF (or a missing final
    newline) normalised, then CRLF -> LF."""
    return p23.crlf(data).replace(b'\r\n', b'\n')


def run(cmd, env=None, timeout=60, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, env=e, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def strip_received(data: bytes) -> bytes:
    """Remove the first header field if it is Received: (with its folded
    continuation lines)."""
    if not data.startswith(b'Received:'):
        return data
    lines = data.split(b'\n')
    i = 1
    while i < len(lines) and lines[i][:1] in (b' ', b'\t'):
        i += 1
    return b'\n'.join(lines[i:])


class ClientBase(p23.TestCase):
    apop = False

    def setUp(self):
        self.srv = self.server(apop=self.apop)
        self.keys = [self.srv.add_message('alice', m) for m in MSGS]
        self.port = self.srv.pop3_port
        self.tmp = self.srv.tmp
        self.stored = self.srv.messages('alice')

    def assertIntact(self):
        self.assertEqual(self.srv.messages('alice'), self.stored)


class Poplib(ClientBase):
    def pop(self):
        p = poplib.POP3('127.0.0.1', self.port, timeout=10)
        self.addCleanup(p.close)
        return p

    def test_session(self):
        p = self.pop()
        self.assertTrue(p.getwelcome().startswith(b'+OK'))
        caps = p.capa()
        for t in ('TOP', 'USER', 'UIDL', 'PIPELINING', 'RESP-CODES'):
            self.assertIn(t, caps)
        p.user('alice')
        p.pass_('alicepw')
        sizes = [len(p23.crlf(m)) for m in MSGS]
        self.assertEqual(p.stat(), (len(MSGS), sum(sizes)))
        resp, lines, _ = p.list()
        self.assertEqual(lines, [b'%d %d' % (i + 1, s)
                                 for i, s in enumerate(sizes)])
        self.assertEqual(p.list(2), b'+OK 2 %d' % sizes[1])
        resp, lines, _ = p.uidl()
        self.assertEqual(lines, [b'%d %s' % (i + 1, k.encode())
                                 for i, k in enumerate(self.keys)])
        resp, lines, _ = p.top(1, 0)
        self.assertEqual(b'\r\n'.join(lines) + b'\r\n',
                         p23.crlf(MSGS[0]).split(b'\r\n\r\n')[0] +
                         b'\r\n\r\n')
        for i, m in enumerate(MSGS):
            resp, lines, octets = p.retr(i + 1)
            self.assertTrue(resp.startswith(b'+OK'))
            self.assertEqual(b'\r\n'.join(lines) + b'\r\n', p23.crlf(m), i)
        p.dele(2)
        with self.assertRaises(poplib.error_proto):
            p.retr(2)
        resp = p.quit()
        self.assertTrue(resp.startswith(b'+OK'))
        left = self.srv.messages('alice')
        self.assertEqual([k for k, d in left],
                         [k for i, k in enumerate(self.keys) if i != 1])
        self.assertEqual([d for k, d in left],
                         [m for i, m in enumerate(MSGS) if i != 1])

    def test_bad_password_auth_code(self):
        p = self.pop()
        p.user('alice')
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_('nope')
        self.assertTrue(cm.exception.args[0].startswith(b'-ERR [AUTH]'),
                        cm.exception.args)

    def test_in_use(self):
        p = self.pop()
        p.user('alice')
        p.pass_('alicepw')
        q = self.pop()
        q.user('alice')
        with self.assertRaises(poplib.error_proto) as cm:
            q.pass_('alicepw')
        self.assertTrue(cm.exception.args[0].startswith(b'-ERR [IN-USE]'),
                        cm.exception.args)
        p.quit()
        q = self.pop()
        q.user('alice')
        q.pass_('alicepw')
        self.assertEqual(q.stat()[0], len(MSGS))

    def test_rset_noop(self):
        p = self.pop()
        p.user('alice')
        p.pass_('alicepw')
        p.dele(1)
        p.noop()
        p.rset()
        p.quit()
        self.assertIntact()


class PoplibApop(ClientBase):
    apop = True

    def test_apop(self):
        p = poplib.POP3('127.0.0.1', self.port, timeout=10)
        self.addCleanup(p.close)
        p.apop('alice', 'alicepw')
        self.assertEqual(p.stat()[0], len(MSGS))
        resp, lines, _ = p.retr(2)
        self.assertEqual(b'\r\n'.join(lines) + b'\r\n', p23.crlf(MSGS[1]))
        p.quit()
        p = poplib.POP3('127.0.0.1', self.port, timeout=10)
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto) as cm:
            p.apop('alice', 'wrong')
        self.assertTrue(cm.exception.args[0].startswith(b'-ERR [AUTH]'))


@p23.need('curl')
class Curl(ClientBase):
    def curl(self, *args, user='alice:alicepw', path=''):
        r = run(['curl', '-sS', '--max-time', '30', '-u', user,
                 'pop3://127.0.0.1:%d/%s' % (self.port, path)] + list(args))
        return r

    def test_list(self):
        r = self.curl()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b''.join(b'%d %d\r\n' %
                                            (i + 1, len(p23.crlf(m)))
                                            for i, m in enumerate(MSGS)))
        self.assertIntact()

    def test_retr_to_file(self):
        for i, m in enumerate(MSGS):
            out = os.path.join(self.tmp, 'msg%d.eml' % i)
            r = self.curl('-o', out, path=str(i + 1))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, 'rb') as f:
                self.assertEqual(f.read(), p23.crlf(m), i)
        self.assertEqual([k for k, d in self.srv.messages('alice')],
                         self.keys)

    def test_uidl(self):
        r = self.curl('-X', 'UIDL')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b''.join(b'%d %s\r\n' % (i + 1, k.encode())
                                            for i, k in enumerate(self.keys)))

    def test_top(self):
        r = self.curl('-X', 'TOP 1 0')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, p23.crlf(MSGS[0]).split(b'\r\n\r\n')[0] +
                         b'\r\n\r\n')

    def test_dele(self):
        r = self.curl('-X', 'DELE', '-I', path='2')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([k for k, d in self.srv.messages('alice')],
                         [k for i, k in enumerate(self.keys) if i != 1])

    def test_bad_password(self):
        r = self.curl(user='alice:wrong')
        self.assertEqual(r.returncode, 67, r.stderr)
        self.assertIntact()


@p23.need('curl')
class CurlApop(ClientBase):
    apop = True

    def test_apop_retr(self):
        # curl picks APOP by itself when the greeting has a timestamp
        out = os.path.join(self.tmp, 'a.eml')
        r = run(['curl', '-sS', '-v', '--max-time', '30', '-u',
                 'alice:alicepw', 'pop3://127.0.0.1:%d/2' % self.port,
                 '-o', out])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'APOP alice', r.stderr)
        with open(out, 'rb') as f:
            self.assertEqual(f.read(), p23.crlf(MSGS[1]))


MDA = '''#!/bin/sh
# deliver stdin to $1/msg.NNN, numbered in delivery order
n=$(ls "$1" | wc -l)
cat > "$1/msg.$(printf %03d "$n")"
'''


@p23.need('fetchmail')
class Fetchmail(ClientBase):
    def fetch(self, keep, name='rc'):
        out = os.path.join(self.tmp, 'out-' + name)
        os.makedirs(out, exist_ok=True)
        mda = os.path.join(self.tmp, 'mda.sh')
        with open(mda, 'w') as f:
            f.write(MDA)
        os.chmod(mda, 0o755)
        rc = os.path.join(self.tmp, name)
        local = pwd.getpwuid(os.getuid()).pw_name
        with open(rc, 'w') as f:
            f.write('set no bouncemail\n'
                    'poll 127.0.0.1 proto pop3 port %d uidl auth password\n'
                    '  user "alice" pass "alicepw" is "%s" here %s\n'
                    "  sslproto ''\n"
                    '  mda "%s %s"\n' % (self.port, local,
                                         'keep' if keep else 'nokeep',
                                         mda, out))
        os.chmod(rc, 0o600)
        r = run(['fetchmail', '-f', rc, '-i', os.path.join(self.tmp, 'ids'),
                 '-v', '--nosyslog'],
                env={'HOME': self.tmp, 'FETCHMAILHOME': self.tmp})
        got = []
        for fn in sorted(os.listdir(out)):
            with open(os.path.join(out, fn), 'rb') as fh:
                got.append(fh.read())
        return r, got

    def check_delivered(self, got):
        self.assertEqual(len(got), len(MSGS))
        for i, (g, m) in enumerate(zip(got, MSGS)):
            self.assertTrue(g.startswith(b'Received: '), g[:80])
            self.assertEqual(strip_received(g), lf(m), i)

    def test_keep(self):
        r, got = self.fetch(keep=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_delivered(got)
        self.assertIntact()
        # second run: the UIDLs are known, nothing new (exit 1)
        r, got2 = self.fetch(keep=True, name='rc2')
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(got2, [])
        self.assertIntact()

    def test_delete(self):
        r, got = self.fetch(keep=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check_delivered(got)
        self.assertEqual(self.srv.messages('alice'), [])


@p23.need('mpop')
class Mpop(ClientBase):
    def mpop(self, keep, *extra):
        md = os.path.join(self.tmp, 'mpop-md')
        for sub in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        r = run(['mpop', '--host=127.0.0.1', '--port=%d' % self.port,
                 '--tls=off', '--auth=user', '--user=alice',
                 '--passwordeval=echo alicepw', '--received-header=off',
                 '--delivery=maildir,' + md, '--keep=' + ('on' if keep
                                                          else 'off'),
                 '--uidls-file=' + os.path.join(self.tmp, 'uidls'),
                 '--timeout=30', '-d'] + list(extra),
                env={'HOME': self.tmp})
        got = []
        for sub in ('new', 'cur'):
            for fn in os.listdir(os.path.join(md, sub)):
                with open(os.path.join(md, sub, fn), 'rb') as fh:
                    got.append(fh.read())
        return r, got

    def check(self, got):
        self.assertEqual(sorted(got), sorted(lf(m) for m in MSGS))

    def test_keep_pipelined(self):
        r, got = self.mpop(True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check(got)
        self.assertIntact()
        # it pipelined (CAPA lists PIPELINING)
        self.assertRegex(r.stdout + r.stderr, rb'(?i)pipelin')
        # a second run finds nothing new
        r, got2 = self.mpop(True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check(got2)
        self.assertIntact()

    def test_delete(self):
        r, got = self.mpop(False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.check(got)
        self.assertEqual(self.srv.messages('alice'), [])

    def test_bad_password(self):
        r = run(['mpop', '--host=127.0.0.1', '--port=%d' % self.port,
                 '--tls=off', '--auth=user', '--user=alice',
                 '--passwordeval=echo nope', '--keep=on', '-q',
                 '--delivery=mda,/bin/cat',
                 '--uidls-file=' + os.path.join(self.tmp, 'u2')],
                env={'HOME': self.tmp})
        self.assertEqual(r.returncode, 77, r.stdout + r.stderr)
        self.assertIntact()


if __name__ == '__main__':
    p23.main()
