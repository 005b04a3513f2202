#!/usr/bin/env python3
# test_pam.py - the "pam" auth plugin with the real parts: real system
# users made by the test (useradd, chpasswd, chage, passwd -l), real PAM
# service files under /etc/pam.d (Debian's libpam reads service files
# from there only, so there is no temp PAM directory), pam_unix reading
# /etc/shadow, and a real pop23d.  Everything the test adds is removed
# afterwards.  Needs root: skipped otherwise.  GPL-3.0-or-later.
#
# What it checks (plugins/auth_pam.c, doc/PLUGINS.md): a login and a
# session running as the user, with the maildrop from mail_location; a
# wrong password, an unknown user, an expired account, a password that
# must be changed, a locked account and root all get the same
# "-ERR [AUTH]" text at the same time (pam_unix's own 2 s failure sleep
# is replaced by the daemon's deadline); the conversation answers only
# the password prompt, at most 4 times; PAM messages are logged escaped.

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

TOOLS = ('useradd', 'userdel', 'chpasswd', 'chage', 'passwd')
PAM_DIR = '/etc/pam.d'
BAD_REPLY = '-ERR [AUTH] invalid user name or password'
# The test PAM module (tests/integ/pam_p23test.c), built by make check.
TEST_MODULE = os.path.join(p23.BUILDDIR, 'tests', 'integ', '.libs',
                           'pam_p23test.so')

TAG = secrets.token_hex(3)
PASSWORD = 'Pw-' + secrets.token_hex(6)
# name -> what is done to the account after its password is set
ACCOUNTS = {
    'p23pam%sok' % TAG: None,
    'p23pam%sexp' % TAG: ['chage', '-E', '0'],        # account expired
    'p23pam%schg' % TAG: ['chage', '-d', '0'],        # must change password
    'p23pam%slck' % TAG: ['passwd', '-l'],            # locked
}
U_OK, U_EXP, U_CHG, U_LCK = ACCOUNTS
HOMES = None            # temp dir holding the users' homes
SERVICES = []           # service files written under /etc/pam.d


def skip_reason():
    if os.geteuid() != 0:
        return 'needs root (creates system users and /etc/pam.d files)'
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return 'not installed: ' + ' '.join(missing)
    if not os.path.isdir(PAM_DIR):
        return 'no %s' % PAM_DIR
    return None


def run(*cmd, stdin=None):
    subprocess.run(cmd, input=stdin, check=True, capture_output=True)


def make_accounts():
    global HOMES
    HOMES = tempfile.mkdtemp(prefix='p23pam-')
    os.chmod(HOMES, 0o755)
    for name, change in ACCOUNTS.items():
        home = os.path.join(HOMES, name)
        run('useradd', '-M', '-d', home, '-s', '/usr/sbin/nologin',
            '-K', 'UID_MIN=20000', '-K', 'UID_MAX=29999', name)
        run('chpasswd', stdin=('%s:%s\n' % (name, PASSWORD)).encode())
        if change:
            run(*(change + [name]))
        pw = pwd.getpwnam(name)
        os.mkdir(home, 0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        md = os.path.join(home, 'Maildir')
        for d in (md, md + '/cur', md + '/new', md + '/tmp'):
            os.mkdir(d, 0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)


def remove_accounts():
    for name in ACCOUNTS:
        subprocess.run(['userdel', '-f', name], capture_output=True)
    if HOMES:
        shutil.rmtree(HOMES, ignore_errors=True)


def add_service(lines):
    """Write a PAM service file /etc/pam.d/pop23d-test-TAG-N; its name."""
    name = 'pop23d-test-%s-%d' % (TAG, len(SERVICES))
    path = os.path.join(PAM_DIR, name)
    with open(path, 'x') as f:
        f.write('# pop23d test service (tests/integ/test_pam.py); '
                'removed by the test\n' + '\n'.join(lines) + '\n')
    SERVICES.append(path)
    return name


def remove_services():
    for path in SERVICES:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def setUpModule():
    try:
        make_accounts()
        global UNIX
        UNIX = add_service(['auth required pam_unix.so',
                            'account required pam_unix.so'])
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    remove_accounts()
    remove_services()


class Pam(p23.TestCase):

    def pam_server(self, service=None, **conf):
        c = {'auth': 'pam', 'pam.service': service or UNIX,
             'passwdfile.path': None, 'mail_location': '%h/Maildir'}
        c.update(conf)
        return self.server(users={}, conf=c)

    def assertLogged(self, srv, text, timeout=5):
        """TEXT shows up in the server log (the monitor's lines reach it
        through the master, a moment after the reply)."""
        if not p23.wait_until(lambda: text in srv.log_text(), timeout):
            self.fail('%r not in the log:\n%s' % (text, srv.log_tail()))

    def deliver(self, user, data):
        pw = pwd.getpwnam(user)
        path = os.path.join(HOMES, user, 'Maildir', 'new',
                            '1700000000.%s.test' % secrets.token_hex(4))
        with open(path, 'wb') as f:
            f.write(data)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, 0o600)

    def attempt(self, srv, user, password, source=None):
        """(PASS reply, seconds it took) on a fresh connection (from
        SOURCE, an address of 127/8, if given)."""
        c = self.conn(srv, source=source)
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER ' + user))
        t0 = time.monotonic()
        r = c.cmd('PASS ' + password)
        return r, time.monotonic() - t0

    def test_login_runs_as_the_user(self):
        srv = self.pam_server()
        self.deliver(U_OK, b'Subject: pam\n\nhello via PAM\n')
        c = self.conn(srv)
        self.assertOK(c.login(U_OK, PASSWORD))
        self.assertEqual(c.cmd('STAT'), '+OK 1 %d' %
                         len(p23.crlf(b'Subject: pam\n\nhello via PAM\n')))
        st, body = c.retr(1)
        self.assertOK(st)
        self.assertIn(b'hello via PAM', body)
        uid = pwd.getpwnam(U_OK).pw_uid
        self.assertTrue(p23.wait_until(
            lambda: any(p23.proc_uid(p) == uid for p in srv.sessions()), 5),
            'no session process runs as %s (uid %d)' % (U_OK, uid))
        self.assertOK(c.cmd('QUIT'))
        self.assertLogged(srv, 'login result=ok')
        self.assertNotIn(PASSWORD, srv.log_text())

    def test_mail_location_template(self):
        # %u: the maildrop comes from the template, not from the home
        spool = tempfile.mkdtemp(prefix='p23spool-')
        self.addCleanup(shutil.rmtree, spool, True)
        os.chmod(spool, 0o755)
        pw = pwd.getpwnam(U_OK)
        md = os.path.join(spool, U_OK)
        for d in (md, md + '/cur', md + '/new', md + '/tmp'):
            os.mkdir(d, 0o700)
            os.chown(d, pw.pw_uid, pw.pw_gid)
        path = os.path.join(md, 'new', '1700000001.x.test')
        with open(path, 'wb') as f:
            f.write(b'Subject: spool\n\nin the spool\n')
        os.chown(path, pw.pw_uid, pw.pw_gid)
        srv = self.pam_server(mail_location=spool + '/%u')
        c = self.conn(srv)
        self.assertOK(c.login(U_OK, PASSWORD))
        st, body = c.retr(1)
        self.assertIn(b'in the spool', body)

    def test_refusals_look_alike(self):
        # one wrong password, one unknown user, and four accounts whose
        # CORRECT password is given: the same reply at the same time.
        # pam_unix sleeps ~2 s after a wrong password by itself; the
        # plugin replaces that sleep, so the daemon's deadline decides.
        # Under valgrind pam_unix's hash alone takes about 2 s, more than
        # 0.5 s: the deadline can only hide work shorter than itself.
        delay = 0.5 * p23.SLOW
        srv = self.pam_server(auth_failure_delay=str(int(delay * 1000)))
        cases = [('wrong password', U_OK, 'not-' + PASSWORD),
                 ('unknown user', 'p23pam%snone' % TAG, PASSWORD),
                 ('account expired', U_EXP, PASSWORD),
                 ('password expired', U_CHG, PASSWORD),
                 ('account locked', U_LCK, PASSWORD),
                 ('root', 'root', PASSWORD)]
        times = {}
        for n, (what, user, pw) in enumerate(cases):
            # each from an address of its own: a per-address failure
            # penalty must not make later attempts slower
            r, dt = self.attempt(srv, user, pw,
                                 source='127.0.0.%d' % (n + 2))
            self.assertEqual(r, BAD_REPLY, what)
            times[what] = dt
        # (the margins grow under valgrind, where the PAM stack and the
        # IPC around it take seconds, not milliseconds)
        for what, dt in times.items():
            self.assertGreaterEqual(dt, delay - 0.01, what)
            self.assertLess(dt, delay + 0.4 * p23.SLOW,
                            '%s took %.2f s' % (what, dt))
        spread = max(times.values()) - min(times.values())
        self.assertLess(spread, 0.3 * p23.SLOW, times)
        # the log says why (for the administrator), never the password
        self.assertLogged(srv, 'user=%s: good password, but pam_acct_mgmt'
                          % U_EXP)
        self.assertLogged(srv, 'user=%s: good password, but pam_acct_mgmt'
                          % U_CHG)
        self.assertLogged(srv, 'user=root: refused: uid 0')
        log = srv.log_text()
        self.assertNotIn('user=root: pam_authenticate', log)
        self.assertNotIn(PASSWORD, log)
        # and the good account still works
        c = self.conn(srv)
        self.assertOK(c.login(U_OK, PASSWORD))

    def test_missing_service_file_warned(self):
        # Linux-PAM falls back to its "other" service (on Debian the
        # common-* stacks, elsewhere often pam_deny): the daemon says so
        # at start and on "pop23d -t"
        srv = self.pam_server(service='pop23d-test-%s-missing' % TAG)
        want = ('[pam] service "pop23d-test-%s-missing": no /etc/pam.d/'
                'pop23d-test-%s-missing: PAM will use its "other" service'
                % (TAG, TAG))
        self.assertIn(want, srv.log_text())
        r = srv.check_config()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(want, r.stderr)
        # an existing service file gives no warning
        srv = self.pam_server()
        self.assertNotIn('PAM will use', srv.log_text())

    def test_min_uid(self):
        # the test users have uids from 20000: min_uid above them refuses
        # them before PAM (same reply), and lookup would refuse them too
        srv = self.pam_server(**{'pam.min_uid': '30000'})
        r, _ = self.attempt(srv, U_OK, PASSWORD)
        self.assertEqual(r, BAD_REPLY)
        self.assertLogged(srv, 'uid below min_uid')

    def module_server(self, mode):
        out = tempfile.mktemp(prefix='p23pamout-')
        self.addCleanup(lambda: os.path.exists(out) and os.unlink(out))
        svc = add_service(['auth required %s mode=%s out=%s' %
                           (TEST_MODULE, mode, out),
                           'account required pam_permit.so'])
        return self.pam_server(service=svc), out

    def findings(self, out):
        with open(out) as f:
            return f.read()

    @unittest.skipUnless(os.path.exists(TEST_MODULE),
                             'test PAM module not built')
    def test_conversation_refuses_echo_on_prompt(self):
        # a visible prompt never gets the password (nor anything else)
        srv, out = self.module_server('echo_on')
        r, _ = self.attempt(srv, U_OK, PASSWORD)
        self.assertEqual(r, BAD_REPLY)
        got = self.findings(out)
        self.assertIn('answered 0', got)
        self.assertIn('conv-error', got)
        self.assertNotIn('echo-on-answer', got)
        self.assertLogged(srv, 'pop23d only answers the password prompt')

    @unittest.skipUnless(os.path.exists(TEST_MODULE),
                             'test PAM module not built')
    def test_conversation_is_bounded(self):
        # four password prompts are answered (a stack of a few modules
        # without use_first_pass); a fifth is refused
        srv, out = self.module_server('prompts:4')
        c = self.conn(srv)
        self.assertOK(c.login(U_OK, PASSWORD))
        self.assertIn('answered 4', self.findings(out))
        srv, out = self.module_server('prompts:5')
        r, _ = self.attempt(srv, U_OK, PASSWORD)
        self.assertEqual(r, BAD_REPLY)
        got = self.findings(out)
        self.assertIn('asked 5', got)
        self.assertIn('answered 4', got)
        # many prompts in one call: refused as a whole
        srv, out = self.module_server('batch:8')
        r, _ = self.attempt(srv, U_OK, PASSWORD)
        self.assertEqual(r, BAD_REPLY)
        self.assertIn('answered 0', self.findings(out))

    @unittest.skipUnless(os.path.exists(TEST_MODULE),
                             'test PAM module not built')
    def test_conversation_messages_logged_escaped(self):
        srv, out = self.module_server('notes')
        c = self.conn(srv)
        self.assertOK(c.login(U_OK, PASSWORD))
        self.assertLogged(srv, 'PAM says: p23 error note')
        self.assertLogged(srv, 'PAM says: p23 info ')
        log = srv.log_bytes()
        self.assertNotIn(b'\033', log)
        self.assertNotIn(b'\001', log)


if __name__ == '__main__':
    why = skip_reason()
    if why:
        print('SKIP: ' + why)
        sys.exit(77)
    p23.main()
