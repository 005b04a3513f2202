#!/usr/bin/env python3
# test_pop3_auth.py - POP3 AUTH (RFC 5034) end to end: the pre-auth
# child's base64 and line rules, the monitor's relay and the auth
# service's libsasl2 (auth = sasl over a sasldb made by saslpasswd2 in a
# temp dir, tests/integ/test_sasl.py).  Real clients: curl
# --login-options AUTH=..., mpop --auth=..., gsasl as the mechanism
# engine of a raw dialogue, Python poplib; then the RFC 5034 edge cases
# on a raw socket.  GPL-3.0-or-later.

import base64
import os
import poplib
import select
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from test_sasl import SaslBase, USERS  # noqa: E402

BAD = '-ERR [AUTH] invalid user name or password'
TEMP = '-ERR [SYS/TEMP] authentication is temporarily unavailable'
B64 = '-ERR [AUTH] invalid base64 data'
CANCEL = '-ERR [AUTH] authentication cancelled'
NOMECH = '-ERR [AUTH] unsupported authentication mechanism'
TOOLONG = '-ERR [AUTH] response too long'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def need(tool):
    path = shutil.which(tool)
    if path is None:
        raise unittest.SkipTest('%s is not installed' % tool)
    return path


class Gsasl:
    """gsasl --client as a mechanism engine: it prints the mechanism, the
    client's responses as base64 lines, and reads the server's
    challenges from stdin (ecosystem notes: no POP3 mode of its own)."""

    def __init__(self, mech, user, pw):
        self.p = subprocess.Popen(
            [need('gsasl'), '--client', '--mechanism=' + mech, '--no-cb',
             '--authentication-id=' + user, '--password=' + pw, '--quiet'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, bufsize=0)
        # Lines are split here, from os.read(): a buffered readline()
        # could swallow the next line too, and select() would then wait
        # for output that has already arrived.
        self.buf = b''
        self.line(timeout=10)           # the mechanism's name

    def line(self, timeout=5):
        """Its next output line, or None if it says nothing in time."""
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            data = os.read(self.p.stdout.fileno(), 4096)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode()

    def feed(self, challenge_b64):
        self.p.stdin.write(challenge_b64.encode() + b'\n')

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stdin.close()
        self.p.stdout.close()


class Clients(SaslBase):

    def setUp(self):
        super().setUp()
        self.srv = self.sasl_server()
        self.srv.add_message('alice', b'Subject: a\n\nfor alice\n')

    def test_capa_and_bare_auth_list_the_mechanisms(self):
        c = self.conn(self.srv)
        self.assertOK(c.line())
        st, caps = c.cmd_multi('CAPA')
        sasl = [l for l in caps if l.startswith('SASL ')]
        self.assertEqual(len(sasl), 1, caps)
        mechs = sasl[0].split()[1:]
        for m in ('PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256'):
            self.assertIn(m, mechs)
        st, listed = c.cmd_multi('AUTH')
        self.assertOK(st)
        self.assertEqual(listed, mechs)
        # after login: AUTH is refused, CAPA lists no SASL (RFC 5034:
        # AUTHORIZATION only)
        self.assertOK(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0alicepw')))
        self.assertTrue(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0alicepw'))
                        .startswith('-ERR'))
        st, caps = c.cmd_multi('CAPA')
        self.assertFalse([l for l in caps if l.startswith('SASL')], caps)
        self.assertOK(c.cmd('QUIT'))

    def curl(self, mech, user, pw, *extra):
        r = subprocess.run(
            [need('curl'), '-sS', '-u', '%s:%s' % (user, pw),
             '--login-options', 'AUTH=' + mech, '-w', '%{exitcode}',
             '-o', '/dev/null'] + list(extra) +
            ['pop3://127.0.0.1:%d/1' % self.srv.pop3_port],
            capture_output=True, text=True, timeout=30)
        return r.stdout.strip()

    def test_curl(self):
        for mech, extra in (('PLAIN', ()), ('PLAIN', ('--sasl-ir',)),
                            ('LOGIN', ()), ('CRAM-MD5', ()),
                            ('DIGEST-MD5', ())):
            self.assertEqual(self.curl(mech, 'alice', 'alicepw', *extra),
                             '0', (mech, extra, self.srv.log_tail()))
        # a wrong password: curl's "login denied"
        self.assertEqual(self.curl('CRAM-MD5', 'alice', 'nope'), '67')
        self.assertTrue(p23.wait_until(
            lambda: 'method=CRAM-MD5, result=fail' in self.srv.log_text(),
            5), self.srv.log_tail())

    def mpop(self, mech, user, pw):
        md = os.path.join(self.srv.tmp, 'mpop-' + mech)
        for d in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(md, d), exist_ok=True)
        r = subprocess.run(
            [need('mpop'), '--host=127.0.0.1',
             '--port=%d' % self.srv.pop3_port, '--tls=off',
             '--auth=' + mech, '--user=' + user,
             '--passwordeval=echo ' + pw, '--delivery=maildir,' + md,
             '--keep=on', '--uidls-file=' + md + '.uidls', '-q'],
            capture_output=True, text=True, timeout=30)
        got = os.listdir(os.path.join(md, 'new'))
        return r.returncode, got

    def test_mpop(self):
        for mech in ('scram-sha-256', 'scram-sha-1', 'cram-md5', 'plain',
                     'login'):
            rc, got = self.mpop(mech, 'alice', 'alicepw')
            self.assertEqual(rc, 0, (mech, self.srv.log_tail()))
            self.assertEqual(len(got), 1, mech)
        rc, got = self.mpop('scram-sha-256', 'alice', 'wrong')
        self.assertEqual(rc, 77)        # EX_NOPERM

    def gsasl_dialogue(self, mech, user, pw):
        """AUTH MECH driven by gsasl; the server's last reply."""
        g = Gsasl(mech, user, pw)
        self.addCleanup(g.close)
        c = self.conn(self.srv)
        self.assertOK(c.line())
        # its first line: the initial response of a client-first
        # mechanism (SCRAM), empty for a server-first one (CRAM-MD5)
        first = g.line(timeout=10)
        self.assertIsNotNone(first, 'gsasl said nothing')
        if first:
            r = c.cmd('AUTH %s %s' % (mech, first))
        else:
            r = c.cmd('AUTH ' + mech)
        for _ in range(10):
            if not r.startswith('+ ') and r != '+':
                return r, c
            g.feed(r[2:])
            resp = g.line()
            r = c.cmd(resp if resp is not None else '')
        self.fail('no end to the exchange')

    def test_gsasl_scram_and_cram(self):
        for mech in ('SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5'):
            r, c = self.gsasl_dialogue(mech, 'alice', 'alicepw')
            self.assertOK(r, mech)
            st, body = c.retr(1)
            self.assertIn(b'for alice', body)
            self.assertOK(c.cmd('QUIT'))
        r, c = self.gsasl_dialogue('SCRAM-SHA-256', 'alice', 'wrong')
        self.assertEqual(r, BAD)

    def test_poplib(self):
        p = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertIn('SASL', p.capa())
        r = p._shortcmd('AUTH PLAIN ' + b64(b'\0bob\0' +
                                             USERS['bob'].encode()))
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertEqual(p.stat()[0], 0)
        p.quit()
        self.assertNoSecrets(self.srv)


class Edges(SaslBase):

    def setUp(self):
        super().setUp()
        self.srv = self.sasl_server()

    def conn_ready(self):
        c = self.conn(self.srv)
        self.assertOK(c.line())
        return c

    def still_talks(self, c):
        st, caps = c.cmd_multi('CAPA')
        self.assertOK(st)

    def test_cancel(self):
        c = self.conn_ready()
        self.assertTrue(c.cmd('AUTH CRAM-MD5').startswith('+ '))
        self.assertEqual(c.cmd('*'), CANCEL)
        self.still_talks(c)
        # LOGIN: cancel at the second step
        self.assertTrue(c.cmd('AUTH LOGIN').startswith('+ '))
        self.assertTrue(c.cmd(b64(b'alice')).startswith('+ '))
        self.assertEqual(c.cmd('*'), CANCEL)
        self.still_talks(c)

    def test_empty_initial_response(self):
        c = self.conn_ready()
        # "=": present and empty; PLAIN needs its three fields
        self.assertEqual(c.cmd('AUTH PLAIN ='), BAD)
        # no initial response at all: an empty challenge, "+ "
        c.send('AUTH PLAIN\r\n')
        self.assertEqual(c.rawline(), b'+ \r\n')
        self.assertOK(c.cmd(b64(b'\0alice\0alicepw')))

    def test_garbage_base64(self):
        # bad characters, a length not a multiple of 4, "=" inside, a
        # short pad, bits after the last octet (non-canonical)
        for junk in ('!!!!', 'abc', 'YWxp=ZQ==', 'YQ=', 'YR==', 'YWJjZA=a'):
            c = self.conn_ready()
            self.assertEqual(c.cmd('AUTH PLAIN ' + junk), B64, junk)
            self.still_talks(c)
        c = self.conn_ready()
        self.assertTrue(c.cmd('AUTH LOGIN').startswith('+ '))
        self.assertEqual(c.cmd('%%%%'), B64)
        self.still_talks(c)

    def test_oversized_response(self):
        c = self.conn_ready()
        self.assertTrue(c.cmd('AUTH LOGIN').startswith('+ '))
        # a response line beyond SASL_LINE_MAX (2044): one -ERR, the rest
        # of the line is dropped, the session goes on
        self.assertEqual(c.cmd('QUFB' * 2000), TOOLONG)
        self.still_talks(c)
        # the longest accepted line is passed on (and fails as a user)
        self.assertTrue(c.cmd('AUTH LOGIN').startswith('+ '))
        r = c.cmd('QUFB' * 511)
        self.assertTrue(r.startswith('+ ') or r == BAD, r)
        # an over-long AUTH command line itself (RFC 2449: 255 octets)
        c = self.conn_ready()
        self.assertEqual(c.cmd('AUTH PLAIN ' + 'QUFB' * 100),
                         '-ERR command line too long')

    def test_nul_inside_plain_fields(self):
        # a NUL inside a field makes four; two fields; an authzid that is
        # another user (no proxy logins)
        for msg in (b'\0ali\0ce\0alicepw', b'\0alice\0alice\0pw',
                    b'\0alice\0alicepw\0', b'alice\0alicepw',
                    b'bob\0alice\0alicepw'):
            c = self.conn_ready()
            self.assertEqual(c.cmd('AUTH PLAIN ' + b64(msg)), BAD, msg)
            self.still_talks(c)
        c = self.conn_ready()
        self.assertOK(c.cmd('AUTH PLAIN ' + b64(b'alice\0alice\0alicepw')))

    def test_unknown_mechanism(self):
        c = self.conn_ready()
        self.assertEqual(c.cmd('AUTH X-NOSUCH'), NOMECH)
        self.assertEqual(c.cmd('AUTH ' + 'A' * 21), NOMECH)
        c = self.conn_ready()
        # case-insensitive names
        self.assertOK(c.cmd('auth plain ' + b64(b'\0alice\0alicepw')))

    def test_initial_response_to_a_server_first_mechanism(self):
        # CRAM-MD5 starts with the server's challenge: an initial
        # response is a protocol error (RFC 5034 section 4), -ERR
        c = self.conn_ready()
        self.assertEqual(c.cmd('AUTH CRAM-MD5 ' + b64(b'alice x')), BAD)
        self.still_talks(c)

    def test_three_failures_close(self):
        c = self.conn_ready()
        for i in range(2):
            self.assertEqual(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0x%d' % i)),
                             BAD)
        self.assertEqual(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0x')),
                         '-ERR [AUTH] too many failed logins, closing')
        self.assertTrue(c.closed(5))
        self.assertTrue(p23.wait_until(
            lambda: self.srv.log_text().count('method=PLAIN, result=fail')
            == 3, 5), self.srv.log_tail())

    def test_service_killed_mid_exchange(self):
        c = self.conn_ready()
        self.assertTrue(c.cmd('AUTH LOGIN').startswith('+ '))
        for pid in self.srv.auth_services(with_workers=True):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.assertEqual(c.cmd(b64(b'alice')), TEMP)
        # after the restart the same connection logs in
        self.assertTrue(p23.wait_until(
            lambda: self.srv.auth_services(), 5))
        time.sleep(0.2)
        self.assertOK(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0alicepw')))


class NoSasl(p23.TestCase):

    def test_passwdfile_offers_no_sasl(self):
        srv = self.server()
        c = self.conn(srv)
        self.assertOK(c.line())
        st, caps = c.cmd_multi('CAPA')
        self.assertIn('USER', caps)
        self.assertFalse([l for l in caps if l.startswith('SASL')], caps)
        st, listed = c.cmd_multi('AUTH')
        self.assertOK(st)
        self.assertEqual(listed, [])
        self.assertEqual(c.cmd('AUTH PLAIN ' + b64(b'\0alice\0alicepw')),
                         NOMECH)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))


if __name__ == '__main__':
    p23.main()
