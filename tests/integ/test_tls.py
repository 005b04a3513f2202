#!/usr/bin/env python3
# test_tls.py - TLS: STLS (RFC 2595) and implicit TLS (RFC 8314) with the
# real clients (python poplib and ssl, openssl s_client, curl, fetchmail,
# mpop), the plaintext rule, STLS command injection, bad handshakes,
# session resumption across connections and ticket key rotation, client
# certificates, certificate reload on SIGHUP, the trust checks of the
# files, and where the private key lives (the session's memory is
# searched for it).  The test makes its own CA and certificates with
# openssl req/x509.  GPL-3.0-or-later.

import os
import poplib
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

PKI = None          # the directory setUpModule fills
MSG = (b'From: sender@example.org\nSubject: tls\n\nOver TLS.\n.dot line\n'
       + b'x' * 70 + b'\n') * 40


def openssl(*args, **kw):
    r = subprocess.run(['openssl'] + list(args), capture_output=True,
                       timeout=60, **kw)
    if r.returncode != 0:
        raise RuntimeError('openssl %s: %s' % (' '.join(args),
                                               r.stderr.decode()))
    return r


def pki(name):
    return os.path.join(PKI, name)


def make_ca(name, cn):
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-nodes', '-keyout', pki(name + '.key'),
            '-out', pki(name + '.pem'), '-days', '2', '-subj', '/CN=' + cn)


def make_cert(name, cn, ca='ca', keyalg=('ec', 'ec_paramgen_curve:P-256'),
              san=None, client=False):
    key, pem = pki(name + '.key'), pki(name + '.pem')
    newkey = ['-newkey', keyalg[0]] + (['-pkeyopt', keyalg[1]]
                                       if keyalg[1] else [])
    openssl('req', '-new', *newkey, '-nodes', '-keyout', key,
            '-out', pki(name + '.csr'), '-subj', '/CN=' + cn)
    ext = pki(name + '.ext')
    with open(ext, 'w') as f:
        if san:
            f.write('subjectAltName=%s\n' % san)
        f.write('extendedKeyUsage=%s\n' % ('clientAuth' if client
                                            else 'serverAuth'))
    openssl('x509', '-req', '-in', pki(name + '.csr'), '-CA',
            pki(ca + '.pem'), '-CAkey', pki(ca + '.key'), '-CAcreateserial',
            '-out', pem, '-days', '2', '-extfile', ext)
    os.chmod(key, 0o600)


def setUpModule():
    global PKI
    PKI = tempfile.mkdtemp(prefix='p23tls-')
    os.chmod(PKI, 0o755)
    make_ca('ca', 'pop23d test CA')
    make_ca('rogue', 'rogue CA')
    san = 'DNS:localhost,IP:127.0.0.1'
    make_cert('server', 'localhost', san=san)
    make_cert('server2', 'second.localhost', san=san)
    make_cert('rsa', 'localhost', keyalg=('rsa', 'rsa_keygen_bits:2048'),
              san=san)
    make_cert('client', 'alice', client=True)
    make_cert('rogueclient', 'alice', ca='rogue', client=True)


def tearDownModule():
    if PKI and not os.environ.get('P23_KEEP'):
        shutil.rmtree(PKI, ignore_errors=True)


def recv_all(s):
    """What the server sends until it closes (a reset counts as the
    close: the server closed with our bytes unread)."""
    data = b''
    while True:
        try:
            d = s.recv(4096)
        except ConnectionResetError:
            return data
        if not d:
            return data
        data += d


def client_ctx():
    ctx = ssl.create_default_context(cafile=pki('ca.pem'))
    return ctx


def run(cmd, env=None, timeout=60, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, env=e, timeout=timeout,
                          **kw)


def wait_log(srv, pattern, timeout=10):
    return p23.wait_until(lambda: re.search(pattern, srv.log_text()),
                          timeout)


def crlf_msg():
    return p23.crlf(MSG)


class TLSCase(p23.TestCase):
    """A server with the test certificate; CONF adds keys, LISTEN adds
    listeners ("pop3s 127.0.0.1:0" ...)."""

    def tls_server(self, conf=None, listen=(), cert='server', pop2=False,
                   apop=False, start=True):
        c = {'tls_cert': pki(cert + '.pem'), 'tls_key': pki(cert + '.key')}
        c.update(conf or {})
        srv = self.server(conf=c, pop2=pop2, apop=apop, start=False)
        srv.extra_listen = list(listen)
        srv.write_config()
        srv.add_message('alice', MSG)
        if start:
            srv.start()
        return srv

    def stls(self, c):
        """STLS on a Conn after its greeting; returns the Conn under
        TLS."""
        self.assertEqual(c.cmd('STLS'), '+OK begin TLS negotiation')
        self.assertEqual(c.buf, b'')
        c.sock = client_ctx().wrap_socket(c.sock,
                                          server_hostname='localhost')
        return c

    def implicit(self, port, timeout=10):
        raw = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        c = p23.Conn.__new__(p23.Conn)
        c.timeout = timeout
        c.sock = client_ctx().wrap_socket(raw, server_hostname='localhost')
        c.buf, c.eof, c.greeting, c.login_reply = b'', False, None, None
        self.addCleanup(c.close)
        return c

    def capa(self, c):
        st, lines = c.cmd_multi('CAPA')
        self.assertOK(st)
        return lines


class PlaintextRule(TLSCase):
    """login_plaintext_ok(): USER/PASS and APOP before TLS; CAPA."""

    def test_refused_before_tls_then_allowed(self):
        srv = self.tls_server({'plaintext_auth': 'no'}, apop=True)
        c = self.conn(srv)
        greeting = c.line()
        caps = self.capa(c)
        self.assertIn('STLS', caps)
        self.assertNotIn('USER', caps)
        r = c.cmd('USER alice')
        self.assertTrue(r.startswith('-ERR [AUTH] ') and 'STLS' in r, r)
        self.assertEqual(c.cmd('PASS alicepw'), '-ERR USER first')
        r = c.cmd('APOP alice ' + p23.apop_digest(greeting, 'alicepw'))
        self.assertTrue(r.startswith('-ERR [AUTH] ') and 'STLS' in r, r)
        self.stls(c)
        caps = self.capa(c)
        self.assertIn('USER', caps)
        self.assertNotIn('STLS', caps)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        st, body = c.retr(1)
        self.assertOK(st)
        self.assertEqual(body, crlf_msg())
        caps = self.capa(c)         # TRANSACTION: USER still, no STLS
        self.assertIn('USER', caps)
        self.assertNotIn('STLS', caps)
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(wait_log(srv, r'login result=ok .*method=plain '
                                      r'tls=TLSv1\.[23]/'))

    def test_loopback_default(self):
        # plaintext_auth = loopback (the default): 127.0.0.1 may.
        srv = self.tls_server()
        c = self.conn(srv)
        c.line()
        caps = self.capa(c)
        self.assertIn('USER', caps)
        self.assertIn('STLS', caps)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('NOOP'))
        self.assertERR(c.cmd('STLS'))       # after login: not here

    def test_no_tls_configured(self):
        # No certificate: no STLS, and plaintext_auth = no leaves no way
        # to log in (the refusal does not point at STLS).
        srv = self.server(conf={'plaintext_auth': 'no'})
        c = self.conn(srv)
        c.line()
        caps = self.capa(c)
        self.assertNotIn('STLS', caps)
        self.assertNotIn('USER', caps)
        self.assertEqual(c.cmd('STLS'),
                         '-ERR STLS is not available on this port')
        r = c.cmd('USER alice')
        self.assertTrue(r.startswith('-ERR [AUTH] ') and 'STLS' not in r, r)

    def test_tls_none_listener(self):
        srv = self.tls_server({'tls': 'none'})
        c = self.conn(srv)
        c.line()
        self.assertNotIn('STLS', self.capa(c))
        self.assertERR(c.cmd('STLS'))
        self.assertOK(c.cmd('USER alice'))     # loopback

    def test_required_even_on_loopback(self):
        srv = self.tls_server({'tls': 'required', 'plaintext_auth': 'yes'})
        c = self.conn(srv)
        c.line()
        self.assertNotIn('USER', self.capa(c))
        r = c.cmd('USER alice')
        self.assertTrue(r.startswith('-ERR [AUTH] ') and 'STLS' in r, r)
        self.stls(c)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('QUIT'))

    def test_pop2_helo_refused_without_tls(self):
        srv = self.tls_server({'plaintext_auth': 'no'}, pop2=True)
        c = self.conn(srv, pop2=True)
        self.assertTrue(c.line().startswith('+ POP2 '))
        r = c.cmd('HELO alice alicepw')
        self.assertTrue(r.startswith('- ') and 'TLS' in r, r)
        self.assertTrue(c.closed())
        self.assertNotIn('alicepw', srv.log_text())

    def test_pop2_has_no_stls(self):
        srv = self.tls_server(pop2=True)
        c = self.conn(srv, pop2=True)
        c.line()
        self.assertTrue(c.cmd('STLS').startswith('- '))
        self.assertTrue(c.closed())


class Stls(TLSCase):
    """RFC 2595 section 4 and its bad inputs."""

    def setUp(self):
        self.srv = self.tls_server({'plaintext_auth': 'no',
                                    'timeout_preauth': '3'})

    def test_second_stls(self):
        c = self.conn(self.srv)
        c.line()
        self.stls(c)
        self.assertEqual(c.cmd('STLS'),
                         '-ERR command not permitted when TLS active')
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertEqual(c.cmd('STLS'),
                         '-ERR command not valid in this state')
        self.assertOK(c.cmd('QUIT'))

    def test_injection_capa(self):
        # CVE-2011-0411 / CVE-2021-38084: the CAPA sent in the clear in
        # the same packet as STLS must never be answered inside TLS.
        c = self.conn(self.srv)
        c.line()
        c.send(b'STLS\r\nCAPA\r\n')
        self.assertEqual(c.line(), '+OK begin TLS negotiation')
        self.assertEqual(c.buf, b'')
        c.sock = client_ctx().wrap_socket(c.sock,
                                          server_hostname='localhost')
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b'')        # nothing after the QUIT reply
        self.assertTrue(wait_log(self.srv, r'STLS: 6 octets sent after '
                                           r'STLS .*discarded'))

    def test_injection_login(self):
        # A USER injected before the handshake is not remembered: PASS
        # inside TLS finds no USER.
        c = self.conn(self.srv)
        c.line()
        c.send(b'STLS\r\nUSER alice\r\nPASS alicepw\r\n')
        self.assertEqual(c.line(), '+OK begin TLS negotiation')
        c.sock = client_ctx().wrap_socket(c.sock,
                                          server_hostname='localhost')
        self.assertEqual(c.cmd('PASS alicepw'), '-ERR USER first')
        self.assertNotIn('login result=ok', self.srv.log_text())

    def test_injection_many_times(self):
        # SECURITY.md S5: the injected CAPA is never answered, run after
        # run (each a new connection, the two lines in one write).
        for i in range(100):
            s = socket.create_connection(('127.0.0.1', self.srv.pop3_port),
                                         timeout=10)
            t = None
            try:
                f = s.makefile('rb')
                self.assertTrue(f.readline().startswith(b'+OK'))
                s.sendall(b'STLS\r\nCAPA\r\n')
                self.assertEqual(f.readline(),
                                 b'+OK begin TLS negotiation\r\n')
                f.close()
                t = client_ctx().wrap_socket(s, server_hostname='localhost')
                t.sendall(b'QUIT\r\n')
                got = recv_all(t)
                self.assertTrue(got.startswith(b'+OK test.example POP3 '
                                               b'server signing off\r\n'),
                                (i, got))
                self.assertEqual(got.count(b'\r\n'), 1, (i, got))
            finally:
                if t is not None:
                    t.close()
                s.close()

    def test_garbage_instead_of_client_hello(self):
        c = self.conn(self.srv)
        c.line()
        self.assertEqual(c.cmd('STLS'), '+OK begin TLS negotiation')
        c.send(b'USER alice\r\nPASS alicepw\r\n' + bytes(range(256)))
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b'')
        self.assertTrue(wait_log(self.srv, r'STLS: TLS failed: handshake'))
        # the daemon goes on
        c2 = self.conn(self.srv)
        self.assertOK(c2.line())

    def test_stalled_handshake(self):
        c = self.conn(self.srv, timeout=15)
        c.line()
        self.assertEqual(c.cmd('STLS'), '+OK begin TLS negotiation')
        c.send(b'\x16\x03\x01\x01')     # half a record header
        t0 = time.monotonic()
        self.assertTrue(c.closed(timeout=12))
        self.assertLess(time.monotonic() - t0, 8)
        self.assertTrue(wait_log(self.srv, r'handshake: timed out'))


class Implicit(TLSCase):
    """pop3s and pop2s listeners (RFC 8314)."""

    def setUp(self):
        self.srv = self.tls_server(
            {'plaintext_auth': 'no', 'timeout_preauth': '3',
             'timeout_pop2_auth': '3'},
            listen=['pop3s 127.0.0.1:0', 'pop2s 127.0.0.1:0'])
        self.port = self.srv.port('pop3s')

    def test_poplib_pop3_ssl(self):
        p = poplib.POP3_SSL('127.0.0.1', self.port, context=client_ctx(),
                            timeout=10)
        self.addCleanup(p.close)
        caps = p.capa()
        self.assertIn('USER', caps)
        self.assertNotIn('STLS', caps)
        p.user('alice')
        p.pass_('alicepw')
        resp, lines, _ = p.retr(1)
        self.assertEqual(b'\r\n'.join(lines) + b'\r\n', crlf_msg())
        p.dele(1)
        self.assertTrue(p.quit().startswith(b'+OK'))
        self.assertEqual(self.srv.messages('alice'), [])

    def test_stls_on_implicit_port(self):
        c = self.implicit(self.port)
        self.assertOK(c.line())
        self.assertEqual(c.cmd('STLS'),
                         '-ERR command not permitted when TLS active')

    def test_pop2s(self):
        c = self.implicit(self.srv.port('pop2s'))
        self.assertTrue(c.line().startswith('+ POP2 '))
        self.assertEqual(c.cmd('HELO alice alicepw')[:2], '#1')
        self.assertTrue(c.cmd('READ 1').startswith('=%d' % len(crlf_msg())))
        c.send(b'RETR\r\n')
        self.assertEqual(c.read_exact(len(crlf_msg())), crlf_msg())
        self.assertTrue(c.cmd('ACKD').startswith('=0'))
        self.assertTrue(c.cmd('QUIT').startswith('+'))
        self.assertEqual(self.srv.messages('alice'), [])

    def test_garbage_instead_of_client_hello(self):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b'GET / HTTP/1.0\r\n\r\n')
        self.assertIn(recv_all(s)[:1], (b'', b'\x15'))   # an alert at most
        self.assertTrue(wait_log(self.srv, r'tls: handshake: .*http'))
        c = self.implicit(self.port)
        self.assertOK(c.line())

    def test_plaintext_on_tls_port(self):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b'USER alice\r\nPASS alicepw\r\n')
        self.assertNotIn(b'+OK', recv_all(s))

    def test_stalled_handshake(self):
        s = socket.create_connection(('127.0.0.1', self.port), timeout=15)
        self.addCleanup(s.close)
        s.sendall(b'\x16\x03\x01\x02\x00\x01')  # a ClientHello's start
        t0 = time.monotonic()
        self.assertIn(recv_all(s)[:1], (b'', b'\x15'))
        self.assertLess(time.monotonic() - t0, 8)
        self.assertTrue(wait_log(self.srv, r'handshake: timed out'))

    def test_old_protocols_refused(self):
        r = run(['openssl', 's_client', '-connect',
                 '127.0.0.1:%d' % self.port, '-tls1_1', '-quiet'],
                input=b'', timeout=20)
        self.assertNotEqual(r.returncode, 0)
        ctx = client_ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        raw = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname='localhost') as t:
            self.assertEqual(t.version(), 'TLSv1.2')


@unittest.skipIf(shutil.which('openssl') is None, 'no openssl')
class SClient(TLSCase):
    """openssl s_client: -starttls pop3 and implicit; its exit status is
    0 only if the server ends TLS with a close_notify."""

    def setUp(self):
        self.srv = self.tls_server({'plaintext_auth': 'no'},
                                   listen=['pop3s 127.0.0.1:0'])

    def s_client(self, port, starttls, *extra, data=None):
        cmd = ['openssl', 's_client', '-connect', '127.0.0.1:%d' % port,
               '-CAfile', pki('ca.pem'), '-verify_return_error',
               '-verify_hostname', 'localhost', '-ign_eof',
               '-nocommands'] + list(extra)
        if starttls:
            cmd += ['-starttls', 'pop3']
        if data is None:
            data = (b'CAPA\r\nUSER alice\r\nPASS alicepw\r\nSTAT\r\n'
                    b'RETR 1\r\nQUIT\r\n')
        return run(cmd, input=data, timeout=30)

    def check_session(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout
        self.assertIn(b"+OK alice's maildrop has 1 message", out)
        self.assertIn(b'\r\n.dot line\r\n'.replace(b'.dot', b'..dot'), out)
        self.assertIn(b'POP3 server signing off', out)

    def test_starttls(self):
        self.check_session(self.s_client(self.srv.pop3_port, True,
                                         '-quiet'))

    def test_implicit(self):
        self.check_session(self.s_client(self.srv.port('pop3s'), False,
                                         '-quiet'))

    def resume(self, port, starttls, proto):
        sess = os.path.join(self.srv.tmp, 'sess-%s-%d' % (proto, port))
        r = self.s_client(port, starttls, proto, '-sess_out', sess,
                          data=b'QUIT\r\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'New, TLS', r.stdout)
        self.assertTrue(os.path.getsize(sess) > 0)
        r = self.s_client(port, starttls, proto, '-sess_in', sess,
                          data=b'QUIT\r\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'Reused, TLS', r.stdout)
        return sess

    def test_resumption_across_connections(self):
        for proto in ('-tls1_3', '-tls1_2'):
            self.resume(self.srv.pop3_port, True, proto)
            self.resume(self.srv.port('pop3s'), False, proto)
        self.assertTrue(wait_log(self.srv, r'tls: TLSv1\.3/\S+ resumed'))
        self.assertTrue(wait_log(self.srv, r'tls: TLSv1\.2/\S+ resumed'))


class Inetd(TLSCase):
    """pop23d -i pop3s: implicit TLS on an inherited socket."""

    def test_pop3s_on_stdin(self):
        srv = self.tls_server({'plaintext_auth': 'no'}, start=False)
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        p = subprocess.Popen([srv.binary, '-i', 'pop3s', '-c',
                              srv.conf_path], stdin=b, stdout=b,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(p.kill)
        b.close()
        a.settimeout(10)
        t = client_ctx().wrap_socket(a, server_hostname='localhost')
        f = t.makefile('rwb', buffering=0)
        self.assertTrue(f.readline().startswith(b'+OK'))
        for cmd, want in ((b'USER alice', b'+OK'), (b'PASS alicepw', b'+OK'),
                          (b'STAT', b'+OK 1 '), (b'DELE 1', b'+OK'),
                          (b'QUIT', b'+OK')):
            t.sendall(cmd + b'\r\n')
            line = f.readline()
            self.assertTrue(line.startswith(want), (cmd, line))
        self.assertEqual(p.wait(10), 0)
        self.assertEqual(srv.messages('alice'), [])

    def test_unix_socket_counts_as_local(self):
        # plaintext_auth = loopback: a local program on a Unix socket
        srv = self.tls_server(start=False)
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        p = subprocess.Popen([srv.binary, '-i', 'pop3', '-c',
                              srv.conf_path], stdin=b, stdout=b,
                             stderr=subprocess.DEVNULL)
        self.addCleanup(p.kill)
        b.close()
        a.settimeout(10)
        f = a.makefile('rwb', buffering=0)
        self.assertTrue(f.readline().startswith(b'+OK'))
        a.sendall(b'USER alice\r\n')
        self.assertTrue(f.readline().startswith(b'+OK'))
        a.sendall(b'QUIT\r\n')
        self.assertTrue(f.readline().startswith(b'+OK'))
        self.assertEqual(p.wait(10), 0)


class TicketRotation(TLSCase):
    def test_ticket_outlives_one_rotation_not_two(self):
        srv = self.tls_server({'tls_ticket_rotate': '3'},
                              listen=['pop3s 127.0.0.1:0'])
        port = srv.port('pop3s')
        sess = os.path.join(srv.tmp, 'sess')

        def s_client(*extra):
            return run(['openssl', 's_client', '-connect',
                        '127.0.0.1:%d' % port, '-CAfile', pki('ca.pem'),
                        '-tls1_3', '-ign_eof', '-nocommands'] + list(extra),
                       input=b'QUIT\r\n', timeout=30).stdout

        t0 = time.monotonic()
        self.assertIn(b'New, TLS', s_client('-sess_out', sess))
        # one rotation later the key is the previous one: still good
        time.sleep(max(0, t0 + 3.6 - time.monotonic()))
        self.assertIn(b'Reused, TLS', s_client('-sess_in', sess))
        # two rotations later it is gone: a full handshake
        time.sleep(max(0, t0 + 7.5 - time.monotonic()))
        self.assertIn(b'New, TLS', s_client('-sess_in', sess))


class RealClients(TLSCase):
    """curl, fetchmail, mpop and poplib's stls(), over STLS and over the
    implicit port, with plaintext_auth = no so that a client that did
    not use TLS could not log in."""

    def setUp(self):
        self.srv = self.tls_server({'plaintext_auth': 'no'},
                                   listen=['pop3s 127.0.0.1:0'])
        self.tmp = self.srv.tmp

    def test_poplib_stls(self):
        p = poplib.POP3('127.0.0.1', self.srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertIn('STLS', p.capa())
        p.stls(context=client_ctx())
        self.assertNotIn('STLS', p.capa())
        p.user('alice')
        p.pass_('alicepw')
        self.assertEqual(p.stat(), (1, len(crlf_msg())))
        resp, lines, _ = p.retr(1)
        self.assertEqual(b'\r\n'.join(lines) + b'\r\n', crlf_msg())
        self.assertTrue(p.quit().startswith(b'+OK'))

    @p23.need('curl')
    def test_curl(self):
        for url, extra in (('pop3://127.0.0.1:%d/1' % self.srv.pop3_port,
                            ['--ssl-reqd']),
                           ('pop3s://127.0.0.1:%d/1' % self.srv.port('pop3s'),
                            [])):
            r = run(['curl', '-sS', '--cacert', pki('ca.pem'), '-u',
                     'alice:alicepw', url] + extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, crlf_msg())
        # without --ssl-reqd curl does not ask for TLS: refused
        r = run(['curl', '-sS', '-u', 'alice:alicepw',
                 'pop3://127.0.0.1:%d/1' % self.srv.pop3_port])
        self.assertEqual(r.returncode, 67, r.stderr)

    @p23.need('fetchmail')
    def test_fetchmail_sslcertck(self):
        local = pwd.getpwuid(os.getuid()).pw_name
        for name, tls in (('stls', 'sslproto "tls1.2+"'), ('implicit',
                                                          'ssl')):
            port = self.srv.pop3_port if name == 'stls' else \
                self.srv.port('pop3s')
            out = os.path.join(self.tmp, 'fm-' + name)
            os.mkdir(out)
            rc = os.path.join(self.tmp, 'rc-' + name)
            with open(rc, 'w') as f:
                f.write('set no bouncemail\n'
                        'poll 127.0.0.1 proto pop3 port %d auth password\n'
                        '  user "alice" pass "alicepw" is "%s" here\n'
                        '  keep fetchall\n'
                        '  %s sslcertck sslcertfile "%s"\n'
                        '  sslcommonname "localhost"\n'
                        '  mda "/bin/sh -c \'cat > %s/msg\'"\n'
                        % (port, local, tls, pki('ca.pem'), out))
            os.chmod(rc, 0o600)
            r = run(['fetchmail', '-f', rc, '-v', '--nosyslog', '-i',
                     os.path.join(self.tmp, 'ids-' + name)],
                    env={'HOME': self.tmp, 'FETCHMAILHOME': self.tmp})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(out, 'msg'), 'rb') as f:
                self.assertTrue(f.read().endswith(
                    crlf_msg().replace(b'\r\n', b'\n')))
            if name == 'stls':
                self.assertIn(b'POP3> STLS', r.stdout + r.stderr)

    @p23.need('mpop')
    def test_mpop(self):
        for name, port, starttls in (
                ('stls', self.srv.pop3_port, 'on'),
                ('implicit', self.srv.port('pop3s'), 'off')):
            md = os.path.join(self.tmp, 'md-' + name)
            for sub in ('cur', 'new', 'tmp'):
                os.makedirs(os.path.join(md, sub))
            r = run(['mpop', '--host=127.0.0.1', '--port=%d' % port,
                     '--tls=on', '--tls-starttls=' + starttls,
                     '--tls-trust-file=' + pki('ca.pem'),
                     '--auth=user', '--user=alice',
                     '--passwordeval=echo alicepw', '--received-header=off',
                     '--delivery=maildir,' + md, '--keep=on',
                     '--uidls-file=' + os.path.join(self.tmp, 'u-' + name),
                     '--timeout=30', '-d'], env={'HOME': self.tmp})
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            got = [open(os.path.join(md, 'new', f), 'rb').read()
                   for f in os.listdir(os.path.join(md, 'new'))]
            self.assertEqual(got, [crlf_msg().replace(b'\r\n', b'\n')])


class Proxy(TLSCase):
    """The TLS proxy ends with its session, and a session ends with its
    client, whichever side goes first."""

    def test_client_drops_after_dele(self):
        srv = self.tls_server(listen=['pop3s 127.0.0.1:0'])
        before = srv.messages('alice')
        c = self.implicit(srv.port('pop3s'))
        c.line()
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('DELE 1'))
        self.assertEqual(len(srv.sessions()), 2)
        c.sock.close()                  # no QUIT, no close_notify
        self.assertTrue(p23.wait_until(lambda: srv.sessions() == [], 10),
                        srv.sessions())
        self.assertEqual(srv.messages('alice'), before)
        self.assertTrue(wait_log(srv, r'logout result=dropped'))

    def test_client_that_does_not_read(self):
        srv = self.tls_server({'write_timeout': '2'},
                              listen=['pop3s 127.0.0.1:0'])
        srv.add_message('alice', (b'y' * 998 + b'\n') * 8000)   # 8 MB
        c = self.implicit(srv.port('pop3s'))
        c.line()
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        c.send(b'RETR 2\r\n')         # and never read
        t0 = time.monotonic()
        self.assertTrue(p23.wait_until(lambda: srv.sessions() == [], 20),
                        srv.sessions())
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(len(srv.messages('alice')), 2)


class ClientCertificates(TLSCase):
    def setUp(self):
        self.srv = self.tls_server({'tls_client_ca': pki('ca.pem')},
                                   listen=['pop3s 127.0.0.1:0'])

    def connect(self, cert):
        extra = ['-cert', pki(cert + '.pem'), '-key', pki(cert + '.key')] \
            if cert else []
        return run(['openssl', 's_client', '-connect',
                    '127.0.0.1:%d' % self.srv.port('pop3s'), '-CAfile',
                    pki('ca.pem'), '-quiet'] + extra,
                   input=b'USER alice\r\nPASS alicepw\r\nQUIT\r\n',
                   timeout=30)

    def test_verified_name_reaches_the_monitor(self):
        r = self.connect('client')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_log(self.srv, r'tls: TLSv1\.3/\S+ peer=alice'))
        # the monitor (where SASL EXTERNAL runs) got it with the login
        self.assertTrue(wait_log(self.srv, r'login result=ok .* '
                                           r'tls_peer=alice'))

    def test_unverified_certificate_gives_no_name(self):
        r = self.connect('rogueclient')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_log(self.srv, r'client certificate not '
                                           r'verified'))
        self.assertTrue(wait_log(self.srv, r'login result=ok'))
        self.assertNotIn('peer=alice', self.srv.log_text())

    def test_no_certificate(self):
        r = self.connect(None)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(wait_log(self.srv, r'login result=ok'))
        self.assertNotIn('peer=', self.srv.log_text())


class SaslExternal(TLSCase):
    """SASL EXTERNAL (RFC 4422 appendix A): the verified client
    certificate's name, through the auth service and libsasl2, with
    curl's AUTH=EXTERNAL."""

    def setUp(self):
        import test_sasl
        self.srv = test_sasl.SaslBase.sasl_server(
            self, start=False, **{'tls_cert': pki('server.pem'),
                                  'tls_key': pki('server.key'),
                                  'tls_client_ca': pki('ca.pem')})
        self.srv.extra_listen = ['pop3s 127.0.0.1:0']
        self.srv.write_config()
        self.srv.add_message('alice', MSG)
        self.srv.start()

    def curl(self, cert, user):
        port = self.srv.port('pop3s')
        extra = ['--cert', pki(cert + '.pem'), '--key', pki(cert + '.key')] \
            if cert else []
        return run(['curl', '-sS', '--cacert', pki('ca.pem'), '--resolve',
                    'localhost:%d:127.0.0.1' % port, '--login-options',
                    'AUTH=EXTERNAL', '-u', user + ':'] + extra +
                   ['pop3s://localhost:%d/1' % port], timeout=30)

    def capa_mechs(self, cert):
        extra = ['-cert', pki(cert + '.pem'), '-key', pki(cert + '.key')] \
            if cert else []
        r = run(['openssl', 's_client', '-connect',
                 '127.0.0.1:%d' % self.srv.port('pop3s'), '-CAfile',
                 pki('ca.pem'), '-quiet'] + extra,
                input=b'CAPA\r\nQUIT\r\n', timeout=30)
        for line in r.stdout.decode('latin-1').split('\r\n'):
            if line.startswith('SASL '):
                return line.split()[1:]
        return []

    def test_curl_external_with_verified_certificate(self):
        if not shutil.which('curl'):
            self.skipTest('curl not installed')
        self.assertIn('EXTERNAL', self.capa_mechs('client'))
        r = self.curl('client', 'alice')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'Subject:', r.stdout)
        self.assertTrue(wait_log(self.srv, r'login result=ok .*'
                                           r'method=sasl'))

    def test_no_external_without_verified_certificate(self):
        if not shutil.which('curl'):
            self.skipTest('curl not installed')
        self.assertNotIn('EXTERNAL', self.capa_mechs(None))
        self.assertNotIn('EXTERNAL', self.capa_mechs('rogueclient'))
        r = self.curl('rogueclient', 'alice')
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(b'Subject:', r.stdout)

    def test_external_cannot_claim_another_user(self):
        """The certificate says alice: asking for bob is refused."""
        if not shutil.which('curl'):
            self.skipTest('curl not installed')
        r = self.curl('client', 'bob')
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(b'Subject:', r.stdout)
        # refused by the mechanism, as a failed login
        self.assertTrue(wait_log(self.srv, r'auth failed: .*method=EXTERNAL, '
                                           r'result=fail'))
        self.assertNotIn('login result=ok', self.srv.log_text())


def server_subject(port):
    ctx = client_ctx()
    ctx.check_hostname = False
    raw = socket.create_connection(('127.0.0.1', port), timeout=10)
    with ctx.wrap_socket(raw) as t:
        cert = t.getpeercert()
    return dict(x[0] for x in cert['subject'])['commonName']


class FilesAndReload(TLSCase):
    def test_sighup_reloads_certificate(self):
        srv = self.tls_server(listen=['pop3s 127.0.0.1:0'])
        port = srv.port('pop3s')
        self.assertEqual(server_subject(port), 'localhost')
        live = os.path.join(srv.tmp, 'live')
        os.mkdir(live, 0o755)
        for n in ('pem', 'key'):
            shutil.copy(pki('server.' + n), os.path.join(live, 'c.' + n))
        os.chmod(os.path.join(live, 'c.key'), 0o600)
        srv.conf.update({'tls_cert': os.path.join(live, 'c.pem'),
                         'tls_key': os.path.join(live, 'c.key')})
        srv.write_config()
        srv.reload()
        self.assertTrue(wait_log(srv, r'configuration reloaded'))
        # a renewal: new files at the same paths, then SIGHUP
        for n in ('pem', 'key'):
            shutil.copy(pki('server2.' + n), os.path.join(live, 'c.' + n))
        srv.reload()
        self.assertTrue(p23.wait_until(
            lambda: server_subject(port) == 'second.localhost', 10))
        # a key that does not match: the reload is refused, the old
        # certificate stays
        shutil.copy(pki('server.key'), os.path.join(live, 'c.key'))
        srv.reload()
        self.assertTrue(wait_log(srv, r'reload refused.*tls_key: .*c\.key'))
        self.assertEqual(server_subject(port), 'second.localhost')

    def test_warm_up_handshake_at_start_and_reload(self):
        """The master runs one handshake with itself at start-up and after
        each reload (tls_server_warm(): OpenSSL's algorithms cached before
        the first fork), also when client certificates are asked for; the
        daemon serves TLS as before afterwards."""
        srv = self.tls_server({'debug': None,
                               'tls_client_ca': pki('ca.pem')},
                              listen=['pop3s 127.0.0.1:0'])

        def done():
            return len(re.findall(r'tls: warm-up handshake done',
                                  srv.log_text()))
        self.assertTrue(p23.wait_until(lambda: done() == 1, 10))
        self.assertNotIn('warm-up handshake failed', srv.log_text())
        srv.reload()
        self.assertTrue(wait_log(srv, r'configuration reloaded'))
        self.assertTrue(p23.wait_until(lambda: done() == 2, 10))
        c = self.implicit(srv.port('pop3s'))
        self.assertTrue(c.line().startswith('+OK'))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('QUIT'))
        self.assertNotIn('warm-up handshake failed', srv.log_text())

    def test_untrusted_key_file_refused(self):
        srv = self.tls_server(start=False)
        key = os.path.join(srv.tmp, 'k.key')
        shutil.copy(pki('server.key'), key)
        os.chmod(key, 0o620)            # group-writable
        srv.conf['tls_key'] = key
        srv.write_config()
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('tls_key', r.stderr)
        self.assertIn(key, r.stderr)

    def test_check_config_names_certificate(self):
        srv = self.tls_server(start=False)
        r = srv.check_config()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('tls: certificate', r.stdout)
        self.assertIn('CN=localhost', r.stdout)

    def served_chain(self, port):
        """The number of certificates the server sends (s_client
        -showcerts on an implicit-TLS port)."""
        r = run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port,
                 '-showcerts', '-CAfile', pki('ca.pem')],
                input=b'QUIT\r\n', timeout=30)
        return r.stdout.count(b'-----BEGIN CERTIFICATE-----')

    def test_chain_from_cert_file_and_tls_chain(self):
        """tls_cert leaf first with its chain behind (certbot's
        fullchain.pem), or the chain in tls_chain: the server sends
        both certificates either way, one without a chain."""
        srv = self.tls_server(listen=['pop3s 127.0.0.1:0'])
        self.assertEqual(self.served_chain(srv.port('pop3s')), 1)
        srv.stop()
        full = os.path.join(srv.tmp, 'fullchain.pem')
        with open(full, 'wb') as out:
            for n in ('server.pem', 'ca.pem'):
                with open(pki(n), 'rb') as f:
                    out.write(f.read())
        for conf in ({'tls_cert': full},
                     {'tls_chain': pki('ca.pem')}):
            srv = self.tls_server(conf, listen=['pop3s 127.0.0.1:0'])
            self.assertEqual(self.served_chain(srv.port('pop3s')), 2,
                             conf)
            srv.stop()

    def test_file_without_certificate_refused(self):
        """A tls_cert, tls_chain or tls_client_ca that holds no PEM
        certificate (here: a key) is named in the refusal."""
        for key in ('tls_cert', 'tls_chain', 'tls_client_ca'):
            srv = self.tls_server(start=False)
            bad = os.path.join(srv.tmp, key + '.pem')
            shutil.copy(pki('client.key'), bad)
            os.chmod(bad, 0o600)
            srv.conf[key] = bad
            srv.write_config()
            r = srv.check_config()
            self.assertNotEqual(r.returncode, 0, key)
            self.assertIn('%s: %s: no PEM certificate' % (key, bad),
                          r.stderr)

    def test_pop2_stls_mode_rejected(self):
        srv = self.tls_server(start=False)
        srv.extra_listen = ['pop2 127.0.0.1:0 tls=optional']
        srv.write_config()
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('POP2 has no STLS', r.stderr)

    def test_tls_without_certificate_rejected(self):
        srv = self.server(start=False)
        srv.extra_listen = ['pop3s 127.0.0.1:0']
        srv.write_config()
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('needs tls_cert and tls_key', r.stderr)


def private_numbers(keyfile):
    """The private number of KEYFILE (EC "priv", RSA "privateExponent")
    as big-endian bytes."""
    text = openssl('pkey', '-in', keyfile, '-noout', '-text').stdout.decode()
    m = re.search(r'(?:priv|privateExponent):\s*\n((?:\s+[0-9a-f:]+\n)+)',
                  text)
    hexs = re.sub(r'[^0-9a-f]', '', m.group(1))
    b = bytes.fromhex(hexs)
    return b.lstrip(b'\0')


def process_memory(pid):
    """Every readable mapping of PID, as one bytes object."""
    out = []
    with open('/proc/%d/maps' % pid) as maps, \
            open('/proc/%d/mem' % pid, 'rb', 0) as mem:
        ranges = []
        for line in maps:
            addr, perms = line.split()[:2]
            if perms[0] != 'r':
                continue
            ranges.append(tuple(int(x, 16) for x in addr.split('-')))
        if sum(hi - lo for lo, hi in ranges) > 1 << 31:
            # ASan's shadow and allocator reserve terabytes; its
            # allocator is not the one production runs anyway
            raise unittest.SkipTest('%d GiB mapped (a sanitizer build): '
                                    'too much to read' %
                                    (sum(hi - lo for lo, hi in ranges) >>
                                     30))
        for lo, hi in ranges:
            try:
                mem.seek(lo)
                out.append(mem.read(hi - lo))
            except (OSError, ValueError, OverflowError):
                pass
    return b''.join(out)


def key_found(memory, secret):
    """Whether a 16-octet piece of SECRET is in MEMORY, big-endian or
    little-endian (as OpenSSL's BIGNUM limbs hold it)."""
    mid = len(secret) // 2
    piece = secret[mid - 8:mid + 8]
    return piece in memory or piece[::-1] in memory


@unittest.skipUnless(p23.ROOT, 'privilege separation needs root')
class Privileges(TLSCase):
    """Who holds the private key: the TLS proxy (login_user, sandboxed)
    does, the mail-user session does not."""

    def check(self, cert):
        srv = self.tls_server(cert=cert, listen=['pop3s 127.0.0.1:0'])
        c = self.implicit(srv.port('pop3s'))
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('STAT'))
        kids = srv.sessions()
        session = [p for p in kids if p23.proc_stat(p)[0] == srv.pid]
        self.assertEqual(len(session), 1, kids)
        session = session[0]
        proxy = [p for p in kids if p23.proc_stat(p)[0] == session]
        self.assertEqual(len(proxy), 1, kids)
        proxy = proxy[0]
        with open('/proc/%d/status' % proxy) as f:
            st = f.read()
        self.assertIn('Seccomp:\t2', st)
        self.assertNotEqual(p23.proc_uid(proxy), 0)
        self.assertNotEqual(p23.proc_uid(session), 0)
        secret = private_numbers(pki(cert + '.key'))
        with open(pki(cert + '.key'), 'rb') as f:
            pem_line = f.read().split(b'\n')[2]
        # the control: the scan finds the key where it is
        self.assertTrue(key_found(process_memory(proxy), secret))
        mem = process_memory(session)
        self.assertFalse(key_found(mem, secret))
        self.assertNotIn(pem_line, mem)
        self.assertOK(c.cmd('QUIT'))

    def test_ec_key_not_in_session(self):
        self.check('server')

    def test_rsa_key_not_in_session(self):
        self.check('rsa')

    def test_proxy_ends_with_session(self):
        srv = self.tls_server(listen=['pop3s 127.0.0.1:0'])
        c = self.implicit(srv.port('pop3s'))
        c.line()
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertEqual(len(srv.sessions()), 2)
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        self.assertTrue(p23.wait_until(lambda: srv.sessions() == [], 5))
        self.assertNotRegex(srv.log_text(), r'died of signal')


if __name__ == '__main__':
    p23.main(requires=('openssl',))
