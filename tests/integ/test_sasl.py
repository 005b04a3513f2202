#!/usr/bin/env python3
# test_sasl.py - the "sasl" auth plugin (Cyrus SASL, libsasl2) behind a
# real pop23d: a sasldb made in the server's temp dir by saslpasswd2, a
# libsasl2 configuration file next to it ([sasl] conf_dir), and real
# clients: Python poplib for USER/PASS and APOP, the POP2 driver for
# HELO.  saslauthd is started by the test on a socket in a temp dir
# (saslauthd -a shadow, for a system user the test creates: root only)
# and used through "pwcheck_method: saslauthd".  The mechanisms one by
# one, with a real libsasl2 client, are in tests/unit/check_auth_sasl.c.
# GPL-3.0-or-later.

import base64
import os
import poplib
import pwd
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
import pop2client  # noqa: E402

REALM = 'test.example'
BAD_REPLY = '-ERR [AUTH] invalid user name or password'
TEMP_REPLY = '-ERR [SYS/TEMP] authentication is temporarily unavailable'
USERS = {'alice': 'alicepw', 'bob': 'b0b-Secret!'}
SASLPASSWD2 = shutil.which('saslpasswd2') or '/usr/sbin/saslpasswd2'
SASLAUTHD = shutil.which('saslauthd') or '/usr/sbin/saslauthd'


def saslpasswd(db, user, pw):
    subprocess.run([SASLPASSWD2, '-p', '-c', '-f', db, '-a', 'pop23d',
                    '-u', REALM, user], input=pw.encode(), check=True,
                   capture_output=True)


def sasl_conf(path, lines):
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.chmod(path, 0o644)


class SaslBase(p23.TestCase):
    """Helpers: a server with auth = sasl."""

    def sasl_server(self, conf_lines=None, apop=False, pop2=False,
                    users=None, start=True, **conf):
        """A pop23d with auth = sasl over a sasldb of USERS (the server's
        users, with Maildirs under <tmp>/home)."""
        srv = p23.Server(users=USERS if users is None else users,
                         apop=apop, pop2=pop2, start=False)
        self.addCleanup(srv.cleanup)
        d = os.path.join(srv.tmp, 'sasl2')
        os.mkdir(d, 0o755)
        srv.sasl_dir = d
        srv.sasldb = os.path.join(d, 'sasldb2')
        for user, pw in srv.users.items():
            saslpasswd(srv.sasldb, user, pw)
        # as on Debian (root:sasl 0640): the auth service reads it
        # through its group
        os.chmod(srv.sasldb, 0o640)
        if p23.ROOT:
            os.chown(srv.sasldb, 0, p23.AUTH_GID)
        if conf_lines is None:
            conf_lines = ['pwcheck_method: auxprop',
                          'auxprop_plugin: sasldb',
                          'sasldb_path: ' + srv.sasldb,
                          'log_level: 7']
        sasl_conf(os.path.join(d, 'pop23d.conf'), conf_lines)
        c = {'auth': 'sasl', 'passwdfile.path': None,
             'sasl.conf_dir': d, 'sasl.hostname': REALM,
             'sasl.realm': REALM,
             'sasl.home': os.path.join(srv.tmp, 'home', '%n'),
             'mail_location': '%h/Maildir'}
        if p23.ROOT:
            c['virtual_uid'] = str(p23.SESSION_UID)
            c['virtual_gid'] = str(p23.SESSION_GID)
        c.update(conf)
        srv.conf = c
        srv.write_config()
        if start:
            srv.start()
        return srv

    def assertLogged(self, srv, text, timeout=5):
        if not p23.wait_until(lambda: text in srv.log_text(), timeout):
            self.fail('%r not in the log:\n%s' % (text, srv.log_tail()))

    def assertNoSecrets(self, srv, *secrets_):
        log = srv.log_text()
        for s in secrets_ + tuple(USERS.values()):
            self.assertNotIn(s, log)

    def poplib_login(self, srv, user, pw):
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        p.user(user)
        return p, p.pass_(pw)

    def poplib_refused(self, srv, user, pw):
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        p.user(user)
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_(pw)
        return cm.exception.args[0].decode()


class Sasl(SaslBase):

    def test_user_pass_poplib(self):
        srv = self.sasl_server()
        srv.add_message('bob', b'Subject: sasl\n\nvia sasldb\n')
        p, r = self.poplib_login(srv, 'bob', USERS['bob'])
        self.assertTrue(r.startswith(b'+OK'), r)
        self.assertEqual(p.stat()[0], 1)
        self.assertIn(b'via sasldb', b'\n'.join(p.retr(1)[1]))
        p.quit()
        # the realm may be named; it is the same user and maildrop
        p, r = self.poplib_login(srv, 'bob@' + REALM, USERS['bob'])
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        # wrong password, unknown user, another realm: the same reply
        self.assertEqual(self.poplib_refused(srv, 'bob', 'b0b-secret!'),
                         BAD_REPLY)
        self.assertEqual(self.poplib_refused(srv, 'carol', 'Wr0ngPw-1'),
                         BAD_REPLY)
        self.assertEqual(self.poplib_refused(srv, 'bob@other.example',
                                             USERS['bob']), BAD_REPLY)
        self.assertLogged(srv, 'user=<carol>, method=PLAIN, result=nouser')
        self.assertLogged(srv, 'user=<bob>, method=PLAIN, result=fail')
        self.assertNoSecrets(srv, 'b0b-secret!', 'Wr0ngPw-1')

    def test_apop_poplib(self):
        srv = self.sasl_server(apop=True)
        srv.add_message('alice', b'Subject: apop\n\nvia APOP\n')
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertRegex(p.getwelcome().decode(), r'<[^>]+@[^>]+>')
        self.assertTrue(p.apop('alice', USERS['alice']).startswith(b'+OK'))
        self.assertEqual(p.stat()[0], 1)
        p.quit()
        for user, pw in (('alice', 'wrong'), ('carol', 'alicepw')):
            p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
            self.addCleanup(p.close)
            with self.assertRaises(poplib.error_proto) as cm:
                p.apop(user, pw)
            self.assertEqual(cm.exception.args[0].decode(), BAD_REPLY)
        self.assertNoSecrets(srv)

    def test_pop2_helo(self):
        users = dict(USERS, carol='my pass\\word')
        srv = self.sasl_server(pop2=True, users=users)
        srv.add_message('alice', b'Subject: pop2\n\nvia HELO\n')
        c = pop2client.Pop2(srv.pop2_port)
        self.addCleanup(c.close)
        c.line()
        self.assertRegex(c.helo('alice', USERS['alice']), r'^#1( |$)')
        c = pop2client.Pop2(srv.pop2_port)
        self.addCleanup(c.close)
        c.line()
        self.assertTrue(c.helo('alice', 'nope').startswith('-'))
        self.assertTrue(c.closed())
        c = pop2client.Pop2(srv.pop2_port)
        self.addCleanup(c.close)
        c.line()
        self.assertRegex(c.helo('bob', USERS['bob']), r'^#0( |$)')
        c = pop2client.Pop2(srv.pop2_port)
        self.addCleanup(c.close)
        c.line()
        # a password with a space and a backslash, quoted as RFC 937 says
        self.assertRegex(c.helo('carol', users['carol']), r'^#0( |$)')

    def test_untrusted_files(self):
        srv = self.sasl_server()
        # a sasldb its group may write: every login is refused as a
        # temporary failure, and the reason is logged
        os.chmod(srv.sasldb, 0o660)
        c = self.conn(srv)
        c.line()
        self.assertOK(c.cmd('USER alice'))
        self.assertEqual(c.cmd('PASS alicepw'), TEMP_REPLY)
        self.assertLogged(srv, 'sasldb refused')
        os.chmod(srv.sasldb, 0o640)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        # a configuration file others may write: "pop23d -t" says so
        conf = os.path.join(srv.sasl_dir, 'pop23d.conf')
        os.chmod(conf, 0o666)
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('pop23d.conf', r.stderr + r.stdout)
        os.chmod(conf, 0o644)
        self.assertEqual(srv.check_config().returncode, 0)

    def test_check_config(self):
        srv = self.sasl_server(start=False)
        self.assertEqual(srv.check_config().returncode, 0)
        srv.conf['sasl.userdb'] = 'ldap'
        srv.write_config()
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('userdb must be virtual or passwd', r.stderr)
        srv.conf['sasl.userdb'] = 'virtual'
        srv.conf['sasl.nosuchkey'] = 'x'
        srv.write_config()
        self.assertNotEqual(srv.check_config().returncode, 0)


# ------------------------------------------------- POP3 AUTH, every mech

class AuthEveryMechanism(SaslBase):
    """Every mechanism CAPA announces (libsasl2 here: SCRAM-SHA-512,
    -384, -256, -224 and -1, DIGEST-MD5, CRAM-MD5, NTLM, PLAIN, LOGIN)
    through the daemon with a real client that speaks it: curl, mpop,
    gsasl.  SCRAM-SHA-224/384/512 have no POP3 client here (curl 7.88
    has no SCRAM at all, gsasl and mpop only SCRAM-SHA-1 and -256): they
    are driven by libsasl2's own client program, sasl-sample-client
    (and in tests/unit/check_auth_sasl.c), and must be the only ones the
    other clients leave over.  The RFC 5034 edge cases
    and the curl/mpop/gsasl basics are in tests/integ/test_pop3_auth.py."""

    def setUp(self):
        super().setUp()
        self.srv = self.sasl_server()
        self.srv.add_message('bob', b'Subject: m\n\nfor bob\n')

    def capa_mechs(self):
        c = self.conn(self.srv)
        self.assertOK(c.line())
        st, caps = c.cmd_multi('CAPA')
        self.assertOK(st)
        sasl = [l.split()[1:] for l in caps if l.startswith('SASL ')]
        self.assertEqual(len(sasl), 1, caps)
        c.cmd('QUIT')
        return sasl[0]

    def curl(self, mech, pw, *extra):
        r = subprocess.run(
            ['curl', '-sS', '-u', 'bob:' + pw, '--login-options',
             'AUTH=' + mech, '-w', '%{exitcode}', '-o', '/dev/null'] +
            list(extra) + ['pop3://127.0.0.1:%d/1' % self.srv.pop3_port],
            capture_output=True, text=True, timeout=30)
        return r.stdout.strip()

    def mpop(self, mech, pw):
        md = os.path.join(self.srv.tmp, 'mpop-%s-%d' % (mech, len(pw)))
        for d in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(md, d), exist_ok=True)
        r = subprocess.run(
            ['mpop', '--host=127.0.0.1', '--port=%d' % self.srv.pop3_port,
             '--tls=off', '--auth=' + mech, '--user=bob',
             '--passwordeval=printf %s ' + pw.replace('!', '\\!'),
             '--delivery=maildir,' + md, '--keep=on',
             '--uidls-file=' + md + '.uidls', '-q'],
            capture_output=True, text=True, timeout=30)
        return r.returncode, os.listdir(os.path.join(md, 'new'))

    @p23.need('curl', 'mpop')
    def test_every_offered_mechanism(self):
        pw = USERS['bob']
        offered = self.capa_mechs()
        done = set()
        # curl: the mechanisms curl 7.88 speaks (and "login denied", 67,
        # for a wrong password)
        for mech in ('PLAIN', 'LOGIN', 'CRAM-MD5', 'DIGEST-MD5', 'NTLM'):
            if mech not in offered:
                continue
            self.assertEqual(self.curl(mech, pw), '0',
                             (mech, self.srv.log_tail()))
            self.assertEqual(self.curl(mech, 'b0b-wrong'), '67', mech)
            done.add(mech)
        # mpop: GNU SASL's client
        for mech in ('scram-sha-256', 'scram-sha-1', 'digest-md5', 'ntlm',
                     'cram-md5', 'plain', 'login'):
            if mech.upper() not in offered:
                continue
            rc, got = self.mpop(mech, pw)
            self.assertEqual(rc, 0, (mech, self.srv.log_tail()))
            self.assertEqual(len(got), 1, mech)
            rc, _ = self.mpop(mech, 'b0b-wrong')
            self.assertEqual(rc, 77, mech)        # EX_NOPERM
            done.add(mech.upper())
        left = set(offered) - done
        self.assertLessEqual(left, {'SCRAM-SHA-224', 'SCRAM-SHA-384',
                                    'SCRAM-SHA-512'}, offered)
        for mech in ('SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN'):
            self.assertIn(mech, done)
        self.assertNoSecrets(self.srv, 'b0b-wrong')

    def sample_client(self, mech, user, pw):
        """AUTH MECH driven by libsasl2's own client program,
        sasl-sample-client (sasl2-bin): it reads "S: base64" lines and
        the password on stdin (getpass() without a terminal) and writes
        "C: base64" lines, the first being "MECH NUL initial-response".
        Returns the server's last reply."""
        prog = shutil.which('sasl-sample-client')
        if prog is None or shutil.which('stdbuf') is None:
            self.skipTest('sasl-sample-client or stdbuf is not installed')
        # stdbuf: its stdout is a pipe, line buffering lets the dialogue
        # go on; a new session: no terminal, so getpass() reads stdin
        p = subprocess.Popen(['stdbuf', '-oL', prog, '-s', 'pop', '-n',
                              REALM, '-m', mech, '-a', user, '-u', user],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, bufsize=0,
                             start_new_session=True)
        buf = [b'']

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdin.close()
            p.stdout.close()
        self.addCleanup(stop)

        def client_line():
            deadline = time.monotonic() + 10
            while True:
                while b'\n' in buf[0]:
                    line, buf[0] = buf[0].split(b'\n', 1)
                    if line.startswith(b'C: '):
                        return line[3:].decode()
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, 'sasl-sample-client is silent')
                r, _, _ = select.select([p.stdout], [], [], left)
                data = os.read(p.stdout.fileno(), 4096) if r else b''
                self.assertTrue(data, 'sasl-sample-client ended')
                buf[0] += data

        p.stdin.write(b'S: ' + base64.b64encode(mech.encode()) + b'\n' +
                      pw.encode() + b'\n')
        first = base64.b64decode(client_line())
        name, _, ir = first.partition(b'\0')
        self.assertEqual(name.decode(), mech)
        c = self.conn(self.srv)
        self.assertOK(c.line())
        r = c.cmd('AUTH %s %s' % (mech, base64.b64encode(ir).decode()
                                    if ir else '='))
        for _ in range(10):
            if not r.startswith('+ ') and r != '+':
                return r, c
            p.stdin.write(b'S: ' + r[2:].encode() + b'\n')
            r = c.cmd(client_line())
        self.fail('no end to the exchange')

    def test_scram_sha2_family_with_libsasl2_client(self):
        # the SCRAM variants no other client here speaks, with libsasl2's
        # own client program over the real POP3 dialogue
        offered = self.capa_mechs()
        for mech in ('SCRAM-SHA-224', 'SCRAM-SHA-384', 'SCRAM-SHA-512',
                     'SCRAM-SHA-256'):
            if mech not in offered:
                continue
            r, c = self.sample_client(mech, 'bob', USERS['bob'])
            self.assertOK(r, (mech, self.srv.log_tail()))
            st, body = c.retr(1)
            self.assertIn(b'for bob', body)
            self.assertOK(c.cmd('QUIT'))
            r, c = self.sample_client(mech, 'bob', 'b0b-wrong')
            self.assertEqual(r, BAD_REPLY, mech)

    def test_scram_unknown_user_looks_known(self):
        # SCRAM answers the client-first message of an unknown user with
        # a server-first challenge of the same form as a known user's;
        # only the proof fails, with the wrong-password text
        def first(user):
            c = self.conn(self.srv)
            self.assertOK(c.line())
            cf = ('n,,n=%s,r=fyko+d2lbbFgONRv9qkxdawL' % user).encode()
            r = c.cmd('AUTH SCRAM-SHA-256 ' + base64.b64encode(cf).decode())
            self.assertTrue(r.startswith('+ '), (user, r))
            msg = base64.b64decode(r[2:]).decode()
            self.assertTrue(msg.startswith('r=fyko+d2lbbFgONRv9qkxdawL'))
            fields = [f.split('=', 1)[0] for f in msg.split(',')]
            self.assertEqual(fields, ['r', 's', 'i'])
            final = 'c=biws,r=%s,p=%s' % (msg.split(',')[0][2:],
                                          base64.b64encode(b'x' * 32)
                                          .decode())
            self.assertEqual(c.cmd(base64.b64encode(final.encode())
                                   .decode()), BAD_REPLY)
            return [len(f) for f in msg.split(',')]
        self.assertEqual(first('bob'), first('carol'))
        self.assertTrue(p23.wait_until(
            lambda: 'method=SCRAM-SHA-256, result=nouser'
            in self.srv.log_text(), 5), self.srv.log_tail())

    @p23.need('curl')
    def test_curl_has_no_scram(self):
        # curl 7.88 knows no SCRAM: AUTH=SCRAM-SHA-256 leaves it no
        # mechanism it may use, and it gives up without logging in (the
        # SCRAM logins are mpop's and gsasl's, above and in
        # test_pop3_auth.py)
        self.assertNotEqual(self.curl('SCRAM-SHA-256', USERS['bob']), '0')

    def test_realm_forms_are_one_user(self):
        # AUTH PLAIN as bob and as bob@REALM: the same identity, the
        # same maildrop (the plugin hands on "bob")
        for authcid in ('bob', 'bob@' + REALM):
            c = self.conn(self.srv)
            self.assertOK(c.line())
            ir = base64.b64encode(b'\0' + authcid.encode() + b'\0' +
                                  USERS['bob'].encode()).decode()
            self.assertOK(c.cmd('AUTH PLAIN ' + ir))
            st, body = c.retr(1)
            self.assertIn(b'for bob', body)
            self.assertOK(c.cmd('QUIT'))
        # another realm is another (unknown) user
        c = self.conn(self.srv)
        self.assertOK(c.line())
        ir = base64.b64encode(b'\0bob@other.example\0' +
                              USERS['bob'].encode()).decode()
        self.assertEqual(c.cmd('AUTH PLAIN ' + ir), BAD_REPLY)


# ------------------------------------------------------------ saslauthd

TAG = secrets.token_hex(3)
SYS_USER = 'p23sasl%s' % TAG
SYS_PASSWORD = 'Sa-' + secrets.token_hex(6)
SYS_HOME = None


def saslauthd_skip():
    if os.geteuid() != 0:
        return 'needs root (creates a system user for saslauthd -a shadow)'
    missing = [t for t in ('useradd', 'userdel', 'chpasswd')
               if shutil.which(t) is None]
    if not os.access(SASLAUTHD, os.X_OK):
        missing.append('saslauthd')
    return 'not installed: ' + ' '.join(missing) if missing else None


class Saslauthd(SaslBase):
    """pwcheck_method: saslauthd, with saslauthd -a shadow on a temp
    socket checking a system user the test made."""

    @classmethod
    def setUpClass(cls):
        global SYS_HOME
        why = saslauthd_skip()
        if why:
            raise __import__('unittest').SkipTest(why)
        SYS_HOME = tempfile.mkdtemp(prefix='p23sasl-')
        os.chmod(SYS_HOME, 0o755)
        home = os.path.join(SYS_HOME, SYS_USER)
        subprocess.run(['useradd', '-M', '-d', home, '-s',
                        '/usr/sbin/nologin', '-K', 'UID_MIN=20000',
                        '-K', 'UID_MAX=29999', SYS_USER], check=True,
                       capture_output=True)
        subprocess.run(['chpasswd'], input=('%s:%s\n' % (
            SYS_USER, SYS_PASSWORD)).encode(), check=True,
            capture_output=True)
        pw = pwd.getpwnam(SYS_USER)
        os.mkdir(home, 0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        for d in ('Maildir', 'Maildir/cur', 'Maildir/new', 'Maildir/tmp'):
            os.mkdir(os.path.join(home, d), 0o700)
            os.chown(os.path.join(home, d), pw.pw_uid, pw.pw_gid)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(['userdel', '-f', SYS_USER], capture_output=True)
        if SYS_HOME:
            shutil.rmtree(SYS_HOME, ignore_errors=True)

    def start_saslauthd(self, srv):
        """saslauthd -a shadow in the foreground on <tmp>/saslauthd/mux;
        stopped (by its pid) after the test."""
        run = os.path.join(srv.tmp, 'saslauthd')
        os.mkdir(run, 0o755)
        log = open(os.path.join(srv.tmp, 'saslauthd.log'), 'wb')
        self.addCleanup(log.close)
        proc = subprocess.Popen([SASLAUTHD, '-a', 'shadow', '-m', run,
                                 '-n', '0', '-d'],
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)

        def stop():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        self.addCleanup(stop)
        mux = os.path.join(run, 'mux')
        self.assertTrue(p23.wait_until(lambda: os.path.exists(mux), 10),
                        'saslauthd made no socket')
        return mux

    def saslauthd_server(self, apop=False, **conf):
        srv = self.sasl_server(conf_lines=[], start=False, apop=apop,
                               **conf)
        mux = self.start_saslauthd(srv)
        sasl_conf(os.path.join(srv.sasl_dir, 'pop23d.conf'),
                  ['pwcheck_method: saslauthd',
                   'saslauthd_path: ' + mux,
                   'auxprop_plugin: sasldb',
                   'sasldb_path: ' + srv.sasldb,
                   'mech_list: PLAIN LOGIN'])
        srv.start()
        return srv

    def test_saslauthd_virtual(self):
        # userdb = virtual: the session runs as virtual_uid in the home
        # template (<tmp>/home/%n)
        srv = self.saslauthd_server()
        srv.add_user(SYS_USER, SYS_PASSWORD)
        c = self.conn(srv)
        c.line()
        self.assertOK(c.cmd('USER ' + SYS_USER))
        self.assertOK(c.cmd('PASS ' + SYS_PASSWORD))
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(self.poplib_refused(srv, SYS_USER, 'nope-nope'),
                         BAD_REPLY)
        self.assertEqual(self.poplib_refused(srv, 'nosuch' + TAG,
                                             SYS_PASSWORD), BAD_REPLY)
        # a sasldb user is not known to saslauthd -a shadow
        self.assertEqual(self.poplib_refused(srv, 'alice', 'alicepw'),
                         BAD_REPLY)
        self.assertNoSecrets(srv, SYS_PASSWORD, 'nope-nope')
        # the checks really went through saslauthd, with service "pop"
        with open(os.path.join(srv.tmp, 'saslauthd.log')) as f:
            log = f.read()
        self.assertIn('auth success: [user=%s] [service=pop]' % SYS_USER,
                      log)
        self.assertIn('[user=%s] [service=pop] [realm=%s] [mech=shadow] '
                      '[reason=Incorrect password]' % (SYS_USER, REALM), log)
        self.assertIn('[user=alice] [service=pop]', log)

    def test_saslauthd_auth_plain(self):
        # POP3 AUTH PLAIN and LOGIN with the password checked by
        # saslauthd (mech_list: PLAIN LOGIN in the SASL configuration)
        srv = self.saslauthd_server()
        srv.add_user(SYS_USER, SYS_PASSWORD)
        c = self.conn(srv)
        self.assertOK(c.line())
        st, caps = c.cmd_multi('CAPA')
        self.assertIn('SASL PLAIN LOGIN', caps)
        ir = base64.b64encode(('\0%s\0%s' % (SYS_USER, SYS_PASSWORD))
                              .encode()).decode()
        self.assertOK(c.cmd('AUTH PLAIN ' + ir))
        self.assertOK(c.cmd('QUIT'))
        c = self.conn(srv)
        self.assertOK(c.line())
        self.assertEqual(c.cmd('AUTH LOGIN'), '+ ' + base64.b64encode(
            b'Username:').decode())
        self.assertTrue(c.cmd(base64.b64encode(SYS_USER.encode())
                              .decode()).startswith('+ '))
        self.assertEqual(c.cmd(base64.b64encode(b'nope-nope').decode()),
                         BAD_REPLY)
        with open(os.path.join(srv.tmp, 'saslauthd.log')) as f:
            log = f.read()
        self.assertEqual(log.count('auth success: [user=%s] [service=pop]'
                                   % SYS_USER), 1, log)
        self.assertIn('[user=%s] [service=pop] [realm=%s] [mech=shadow] '
                      '[reason=Incorrect password]' % (SYS_USER, REALM), log)
        self.assertNoSecrets(srv, SYS_PASSWORD, 'nope-nope')

    def test_saslauthd_apop(self):
        # passwords go to saslauthd; APOP still finds alice's secret in
        # the sasldb (and the monitor does not crash on the lookup)
        srv = self.saslauthd_server(apop=True)
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertTrue(p.apop('alice', USERS['alice']).startswith(b'+OK'))
        p.quit()
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        with self.assertRaises(poplib.error_proto) as cm:
            p.apop('alice', 'wrong')
        self.assertEqual(cm.exception.args[0].decode(), BAD_REPLY)
        self.assertNotIn('signal', srv.log_text())

    def test_saslauthd_system_user(self):
        # userdb = passwd: the session runs as the system user, in its
        # own home
        srv = self.saslauthd_server(**{'sasl.userdb': 'passwd',
                                       'sasl.home': None,
                                       'virtual_uid': None,
                                       'virtual_gid': None})
        pw = pwd.getpwnam(SYS_USER)
        md = os.path.join(pw.pw_dir, 'Maildir', 'new')
        name = '1700000001.1_1.test'
        with open(os.path.join(md, name), 'wb') as f:
            f.write(b'Subject: sys\n\nfor the system user\n')
        os.chown(os.path.join(md, name), pw.pw_uid, pw.pw_gid)
        p, r = self.poplib_login(srv, SYS_USER, SYS_PASSWORD)
        self.assertTrue(r.startswith(b'+OK'))
        self.assertIn(b'for the system user', b'\n'.join(p.retr(1)[1]))
        uids = [p23.proc_uid(s) for s in srv.sessions()]
        self.assertIn(pw.pw_uid, uids)
        p.quit()


if __name__ == '__main__':
    p23.main(requires=('saslpasswd2',))
