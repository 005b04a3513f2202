#!/usr/bin/env python3
# test_checkpassword.py - the "checkpassword" auth plugin behind a real
# pop23d, with a real checkpassword program: a shell script written by
# the test that reads descriptor 3 the way qmail's interface says and
# whose behaviour the user name picks.  The finer points (descriptors,
# environment, process groups, the output cap) are in the unit suite
# tests/unit/check_auth_sys.c; this file checks what a client and the
# administrator see.  GPL-3.0-or-later.

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

BAD_REPLY = '-ERR [AUTH] invalid user name or password'
TEMP_REPLY = '-ERR [SYS/TEMP] authentication is temporarily unavailable'

# @DIR@ is the server's temp dir.  Every run leaves the user name in
# @DIR@/ran; "hang" leaves its own pid in @DIR@/hang.pid.
PROGRAM = r'''#!/bin/sh
{ IFS= read -r user; IFS= read -r pass; IFS= read -r ts; } <<EOF
$(tr '\000' '\n' <&3)
EOF
echo "$user" >>@DIR@/ran
case "$user" in
alice|bob)
	if [ -n "$ts" ]; then
		# APOP: the password field is MD5(timestamp secret)
		want=$(printf '%s%s' "$ts" "${user}pw" | md5sum | cut -c1-32)
		[ "$pass" = "$want" ] && exec "$1"
		exit 1
	fi
	[ "$pass" = "${user}pw" ] && exec "$1"
	exit 1 ;;
temp) exit 111 ;;
hang) echo $$ >@DIR@/hang.pid; sleep 30 & wait; exit 0 ;;
garbage) printf 'INJECTED\r\n+OK fake\r\n\033[2J\001\377\n'; exit 1 ;;
shout) printf '+OK you are in\r\n'; exec "$1" ;;
segv) kill -SEGV $$ ;;
*) exit 1 ;;
esac
'''


class CheckPassword(p23.TestCase):

    def cp_server(self, apop=False, **conf):
        srv = p23.Server(users={'alice': 'alicepw', 'bob': 'bobpw'},
                         apop=apop, start=False)
        self.addCleanup(srv.cleanup)
        prog = os.path.join(srv.tmp, 'checkpw')
        with open(prog, 'w') as f:
            f.write(PROGRAM.replace('@DIR@', srv.tmp))
        os.chmod(prog, 0o700)
        c = {'auth': 'checkpassword', 'passwdfile.path': None,
             'checkpassword.program': prog,
             'checkpassword.userdb': 'virtual',
             'checkpassword.home': os.path.join(srv.tmp, 'home', '%u'),
             'checkpassword.timeout': '1',
             'mail_location': '%h/Maildir'}
        if p23.ROOT:
            c['virtual_uid'] = str(p23.SESSION_UID)
            c['virtual_gid'] = str(p23.SESSION_GID)
        c.update(conf)
        srv.conf = c
        srv.write_config()
        srv.start()
        return srv

    def assertLogged(self, srv, text, timeout=5):
        """TEXT shows up in the server log (the monitor's lines reach it
        through the master, a moment after the reply)."""
        if not p23.wait_until(lambda: text in srv.log_text(), timeout):
            self.fail('%r not in the log:\n%s' % (text, srv.log_tail()))

    def ran(self, srv):
        try:
            with open(os.path.join(srv.tmp, 'ran')) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def attempt(self, srv, user, password):
        c = self.conn(srv)
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER ' + user))
        t0 = time.monotonic()
        r = c.cmd('PASS ' + password)
        return c, r, time.monotonic() - t0

    def test_accepted_and_refused(self):
        srv = self.cp_server()
        srv.add_message('alice', b'Subject: cp\n\nvia checkpassword\n')
        c = self.conn(srv)
        self.assertOK(c.login('alice', 'alicepw'))
        st, body = c.retr(1)
        self.assertOK(st)
        self.assertIn(b'via checkpassword', body)
        self.assertOK(c.cmd('QUIT'))
        for user, pw in (('alice', 'wrong'), ('nosuch', 'alicepw')):
            _, r, _ = self.attempt(srv, user, pw)
            self.assertEqual(r, BAD_REPLY)
        self.assertEqual(self.ran(srv), ['alice', 'alice', 'nosuch'])
        self.assertNotIn('alicepw', srv.log_text())

    def test_temporary_failure(self):
        srv = self.cp_server()
        _, r, _ = self.attempt(srv, 'temp', 'x')
        self.assertEqual(r, TEMP_REPLY)
        self.assertLogged(srv, 'temporary failure (exit 111)')

    def test_hang_is_killed(self):
        srv = self.cp_server()
        c, r, dt = self.attempt(srv, 'hang', 'x')
        self.assertEqual(r, TEMP_REPLY)
        self.assertGreaterEqual(dt, 0.95)
        self.assertLess(dt, 2.5)
        self.assertLogged(srv, 'gave no answer within 1 s: killed')
        # the program and its child are gone, and nothing is left as a
        # zombie under the monitor (whose only child is the pre-auth
        # process, still serving this connection)
        with open(os.path.join(srv.tmp, 'hang.pid')) as f:
            pid = int(f.read())
        st = p23.wait_until(lambda: p23.proc_stat(pid) is None or
                            p23.proc_stat(pid)[1] == 'Z', 2)
        self.assertTrue(st, 'the hung program still runs')
        kids = [p for p in os.listdir('/proc') if p.isdigit()]
        monitor = [p for p in srv.sessions()
                   if (p23.proc_stat(p) or (0,))[0] == srv.pid]
        self.assertEqual(len(monitor), 1)
        under = [int(p) for p in kids
                 if (p23.proc_stat(int(p)) or (0,))[0] == monitor[0]]
        self.assertEqual(len(under), 1, 'monitor children: %r' % under)
        self.assertNotEqual(p23.proc_stat(under[0])[1], 'Z')
        # the connection is still usable
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))

    def test_output_never_reaches_the_client(self):
        srv = self.cp_server()
        c, r, _ = self.attempt(srv, 'garbage', 'x')
        self.assertEqual(r, BAD_REPLY)
        self.assertEqual(c.buf, b'')
        st, lines = c.cmd_multi('CAPA')
        self.assertOK(st)
        self.assertFalse([l for l in lines if 'INJECTED' in l or
                          'fake' in l], lines)
        self.assertLogged(srv, 'wrote 27 octets: INJECTED\\x0d\\x0a+OK fake')
        log = srv.log_bytes()
        for raw in (b'\033', b'\001', b'\377'):
            self.assertNotIn(raw, log)
        # a program that "answers" on success: the client sees only the
        # daemon's reply
        srv.add_user('shout', 'x')
        c = self.conn(srv)
        r = c.login('shout', 'x')
        self.assertOK(r)
        self.assertNotIn('you are in', r)
        self.assertEqual(c.cmd('STAT'), '+OK 0 0')

    def test_signal_is_temporary(self):
        srv = self.cp_server()
        _, r, _ = self.attempt(srv, 'segv', 'x')
        self.assertEqual(r, TEMP_REPLY)
        self.assertLogged(srv, 'died of signal %d' % signal.SIGSEGV)

    def test_apop_through_the_program(self):
        srv = self.cp_server(apop=True, **{'checkpassword.apop': 'yes'})
        c = self.conn(srv)
        g = c.line()
        self.assertOK(c.cmd('APOP bob %s' % p23.apop_digest(g, 'bobpw')))
        c = self.conn(srv)
        g = c.line()
        self.assertEqual(c.cmd('APOP bob %s' % p23.apop_digest(g, 'nope')),
                         BAD_REPLY)

    def test_apop_off_by_default(self):
        srv = self.cp_server(apop=True)
        c = self.conn(srv)
        g = c.line()
        self.assertEqual(c.cmd('APOP bob %s' % p23.apop_digest(g, 'bobpw')),
                         BAD_REPLY)
        self.assertEqual(self.ran(srv), [])

    def test_bad_program_refused_at_start(self):
        srv = p23.Server(start=False)
        self.addCleanup(srv.cleanup)
        prog = os.path.join(srv.tmp, 'checkpw')
        with open(prog, 'w') as f:
            f.write('#!/bin/sh\nexit 0\n')
        os.chmod(prog, 0o777)
        srv.conf = {'auth': 'checkpassword', 'passwdfile.path': None,
                    'checkpassword.program': prog}
        srv.write_config()
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[checkpassword]: program %s' % prog, r.stderr)
        self.assertIn('writable', r.stderr)


if __name__ == '__main__':
    p23.main()
