#!/usr/bin/env python3
# test_pop2_edge.py - the POP2 (RFC 937) edge cases 1-45 of
# doc/PROTOCOLS.md section 3.1, one test each (test_eNN_...), the FOLD
# path-escape rules (doc/SECURITY.md P5, B13), and pop2get(1) against
# pop23d and against a hostile server.
# GPL-3.0-or-later.

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402

HOST = 'test.example'      # p23's default hostname
SIZES = (300, 400, 500)    # CRLF sizes of alice's three messages
POP2GET = os.path.join(p23.BUILDDIR, 'pop2get')


def lf(data):
    return p23.crlf(data).replace(b'\r\n', b'\n')


class Pop2Case(p23.TestCase):
    """A server with a POP2 listener; alice has three messages of SIZES
    (stored with LF line ends), bob has two."""

    conf = None
    users = None

    def setUp(self):
        self.srv = self.server(users=self.users, pop2=True, conf=self.conf)
        self.msgs = [p23.sized_message(sz, 'alice%d' % (i + 1))
                     for i, sz in enumerate(SIZES)]
        self.keys = [self.srv.add_message('alice', m) for m in self.msgs]
        if 'bob' in self.srv.users:
            for i in range(2):
                self.srv.add_message('bob', p23.sized_message(
                    600 + i, 'bob%d' % (i + 1)))

    # helpers
    def pop2(self, timeout=10):
        c = Pop2(self.srv.pop2_port, timeout)
        self.addCleanup(c.close)
        return c

    def login(self, user='alice', timeout=10):
        c = self.pop2(timeout)
        c.count = c.login(user, self.srv.password(user))
        return c

    def pop3(self):
        """A POP3 session of alice (p23.TestCase.login)."""
        return p23.TestCase.login(self, self.srv)

    def assertQuit(self, c):
        r = c.quit()
        self.assertTrue(r.startswith('+'), r)
        self.assertTrue(c.closed(), 'no close after QUIT')

    def assertStillOpen(self, c):
        """The session answers another command normally."""
        self.assertGreaterEqual(c.read(1), 0)

    def keys_on_disk(self, user='alice'):
        return [k for k, _ in self.srv.messages(user)]

    def make_folder(self, name, user='alice', messages=()):
        """A Maildir++ folder <Maildir>/.NAME with MESSAGES in new/."""
        path = os.path.join(self.srv.maildir(user), '.' + name)
        os.mkdir(path, 0o700)
        self.srv._own(path)
        for sub in ('cur', 'new', 'tmp'):
            os.mkdir(os.path.join(path, sub), 0o700)
            self.srv._own(os.path.join(path, sub))
        for i, m in enumerate(messages):
            fn = os.path.join(path, 'new', '%d.f%d.test' % (1700000000 + i,
                                                            i))
            with open(fn, 'wb') as f:
                f.write(m)
            self.srv._own(fn)
        return path


class TestPop2Edge(Pop2Case):

    def test_e01_greeting(self):
        c = self.pop2()
        g = c.greet()
        self.assertRegex(g, r'^\+ POP2 %s( .*)?$' % re.escape(HOST))

    def test_e02_helo_count(self):
        c = self.pop2()
        c.greet()
        r = c.helo('alice', 'alicepw')
        self.assertRegex(r, r'^#3( .*)?$')
        # exactly one line: nothing else is pending
        self.assertFalse(c.closed(0.3))
        self.assertEqual(c.buf, b'')

    def test_e03_bad_password(self):
        c = self.pop2()
        c.greet()
        c.send('HELO alice badpw\r\n')
        c.expect_error_close()

    def test_e04_helo_without_password(self):
        c = self.pop2()
        c.greet()
        c.cmd_error_close('HELO alice')

    def test_e05_quoting(self):
        self.srv.add_user('carol', 'my pw')
        self.srv.add_user('dave', 'back\\slash')
        c = self.pop2()
        c.greet()
        self.assertRegex(c.cmd('HELO carol my\\ pw'), r'^#0( |$)')
        c = self.pop2()
        c.greet()
        self.assertRegex(c.cmd('HELO dave back\\\\slash'), r'^#0( |$)')
        # quoting applies to the user name too: "al\ice" is "alice"
        c = self.pop2()
        c.greet()
        self.assertRegex(c.cmd('HELO al\\ice alicepw'), r'^#3( |$)')
        # an unquoted space makes a third argument: error
        c = self.pop2()
        c.greet()
        c.cmd_error_close('HELO carol my pw')

    def test_e06_second_helo(self):
        c = self.login()
        c.cmd_error_close('HELO alice alicepw')

    def test_e07_read_before_helo(self):
        c = self.pop2()
        c.greet()
        c.cmd_error_close('READ')

    def test_e08_quit_in_auth(self):
        before = self.srv.files('alice')
        c = self.pop2()
        c.greet()
        self.assertTrue(c.quit().startswith('+'))
        self.assertTrue(c.closed())
        self.assertEqual(self.srv.files('alice'), before)

    def test_e09_retr_in_mbox(self):
        c = self.login()
        c.cmd_error_close('RETR')

    def test_e10_read_starts_at_one(self):
        c = self.login()
        self.assertEqual(c.read(), SIZES[0])

    def test_e11_read_n_sets_current(self):
        c = self.login()
        self.assertEqual(c.read(2), SIZES[1])
        self.assertEqual(c.read(), SIZES[1])

    def test_e12_acks_increments(self):
        c = self.login()
        size = c.read()
        self.assertEqual(c.retr(size), p23.crlf(self.msgs[0]))
        self.assertEqual(c.ack('ACKS'), SIZES[1])
        self.assertQuit(c)

    def test_e13_nack(self):
        c = self.login()
        size = c.read(2)
        first = c.retr(size)
        self.assertEqual(c.ack('NACK'), SIZES[1])
        self.assertEqual(c.retr(size), first)
        self.assertEqual(first, p23.crlf(self.msgs[1]))
        self.assertEqual(c.ack('ACKS'), SIZES[2])

    def test_e14_acks_past_end(self):
        c = self.login()
        c.retr(c.read(3))
        r = c.cmd('ACKS')
        self.assertRegex(r, r'^=0( |$)')

    def test_e15_read_after_end_stays_open(self):
        c = self.login()
        c.retr(c.read(3))
        self.assertEqual(c.ack('ACKS'), 0)
        self.assertEqual(c.read(), 0)
        self.assertFalse(c.closed(0.3))
        self.assertEqual(c.read(1), SIZES[0])
        self.assertQuit(c)

    def test_e16_retr_after_zero(self):
        c = self.login()
        c.retr(c.read(3))
        self.assertEqual(c.ack('ACKS'), 0)
        c.cmd_error_close('RETR')   # no message data, just "-" + close

    def test_e17_read_deleted_is_zero(self):
        c = self.login()
        c.retr(c.read(1))
        self.assertEqual(c.ack('ACKD'), SIZES[1])
        self.assertEqual(c.read(1), 0)
        # and RETR of it is refused (state MBOX)
        c.cmd_error_close('RETR')

    def test_e18_no_renumbering(self):
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')
        self.assertEqual(c.read(2), SIZES[1])
        self.assertEqual(c.retr(SIZES[1]), p23.crlf(self.msgs[1]))
        self.assertEqual(c.ack('ACKS'), SIZES[2])

    def test_e19_ackd_returns_next_size(self):
        c = self.login()
        c.retr(c.read(2))
        self.assertEqual(c.ack('ACKD'), SIZES[2])
        self.assertEqual(c.retr(SIZES[2]), p23.crlf(self.msgs[2]))
        self.assertEqual(c.ack('ACKS'), 0)

    def test_e20_ackd_quit_commits(self):
        c = self.login()
        c.retr(c.read(2))
        c.ack('ACKD')
        self.assertQuit(c)
        self.assertEqual(self.keys_on_disk(), [self.keys[0], self.keys[2]])
        c = self.login()
        self.assertEqual(c.count, 2)
        self.assertEqual(c.read(2), SIZES[2])

    def test_e21_ackd_then_drop(self):
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')
        c.close()
        time.sleep(0.3)
        self.assertEqual(self.keys_on_disk(), self.keys)
        c = self.login()
        self.assertEqual(c.count, 3)
        self.assertEqual(c.read(1), SIZES[0])

    def test_e22_ackd_then_fold_commits(self):
        self.make_folder('other', messages=[b'Subject: o\n\nbody\n'])
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')
        self.assertRegex(c.fold('other'), r'^#1( |$)')
        # committed at the FOLD, before any QUIT
        self.assertEqual(self.keys_on_disk(), self.keys[1:])
        # FOLD back to the same mailbox: renumbered now
        self.assertRegex(c.fold('INBOX'), r'^#2( |$)')
        self.assertEqual(c.read(1), SIZES[1])
        # ACKD then FOLD to the *same* mailbox commits too
        c.retr(SIZES[1])
        c.ack('ACKD')
        self.assertRegex(c.fold('INBOX'), r'^#1( |$)')
        self.assertEqual(self.keys_on_disk(), self.keys[2:])
        self.assertQuit(c)

    def test_e23_fold_missing(self):
        c = self.login()
        self.assertRegex(c.fold('nosuch'), r'^#0( |$)')
        self.assertEqual(c.read(), 0)
        self.assertEqual(c.read(1), 0)
        self.assertRegex(c.fold('INBOX'), r'^#3( |$)')
        self.assertQuit(c)

    def test_e24_fold_unreadable(self):
        path = self.make_folder('secret', messages=[b'Subject: s\n\nx\n'])
        os.chmod(path, 0)
        self.addCleanup(os.chmod, path, 0o700)
        c = self.login()
        self.assertRegex(c.fold('secret'), r'^#0( |$)')
        self.assertEqual(c.read(1), 0)
        self.assertQuit(c)

    def test_e25_fold_name_with_space(self):
        m = [b'Subject: w1\n\none\n', b'Subject: w2\n\ntwo\n']
        self.make_folder('work folder', messages=m)
        c = self.login()
        self.assertRegex(c.fold('work folder', raw=True), r'^#2( |$)')
        self.assertRegex(c.fold('work\\ folder', raw=True), r'^#2( |$)')
        self.assertEqual(c.read(1), len(p23.crlf(m[0])))
        self.assertQuit(c)

    def test_e26_fold_resets_current(self):
        m = [b'Subject: x1\n\nfirst of x\n']
        self.make_folder('x', messages=m)
        c = self.login()
        c.retr(c.read(2))
        self.assertEqual(c.ack('ACKS'), SIZES[2])   # current = 3
        self.assertRegex(c.fold('x'), r'^#1( |$)')
        size = c.read()
        self.assertEqual(size, len(p23.crlf(m[0])))
        self.assertEqual(c.retr(size), p23.crlf(m[0]))

    def test_fold_locked(self):
        # Not an RFC 937 case: a folder held by another session gets "-"
        # and a close ("#0" would tell the client it is empty), after
        # the current mailbox was released.
        self.make_folder('work', messages=[b'Subject: w\n\nw\n'])
        c1 = self.login()
        self.assertRegex(c1.fold('work'), r'^#1( |$)')   # INBOX is free
        c2 = self.login()
        c2.retr(c2.read(1))
        c2.ack('ACKD')
        r = c2.cmd_error_close('FOLD work')
        self.assertIn('lock', r)
        self.assertEqual(self.keys_on_disk(), self.keys[1:])
        # POP3 takes INBOX; FOLD INBOX from POP2 is refused the same way
        p3 = self.pop3()
        c1.cmd_error_close('FOLD INBOX')
        self.assertOK(p3.cmd('QUIT'))

    def test_e27_fold_without_argument(self):
        c = self.login()
        c.cmd_error_close('FOLD')
        c = self.login()
        c.cmd_error_close('FOLD ')

    def test_e28_exact_octets_no_stuffing(self):
        data = (b'Subject: dots\n\nline one\n.\n..two dots\n.x\nend\n')
        self.srv.add_message('alice', data)
        c = self.login()
        size = c.read(4)
        want = p23.crlf(data)
        self.assertEqual(size, len(want))
        got = c.retr(size)
        self.assertEqual(got, want)
        self.assertIn(b'\r\n.\r\n..two dots\r\n', got)
        # retr() checked that nothing followed the data; the next
        # reply line is the ack's
        self.assertRegex(c.cmd('ACKS'), r'^=0( |$)')

    def test_e29_lf_storage_counted_as_crlf(self):
        data = b'Subject: lf\n\na\nb\n\nc\n'
        self.srv.add_message('alice', data)
        c = self.login()
        self.assertEqual(c.read(4), len(data) + data.count(b'\n'))
        self.assertEqual(c.retr(len(data) + data.count(b'\n')),
                         data.replace(b'\n', b'\r\n'))

    def test_e30_missing_final_newline(self):
        data = b'Subject: nonl\n\nno newline at end'
        self.srv.add_message('alice', data)
        c = self.login()
        size = c.read(4)
        self.assertEqual(size, len(p23.crlf(data)))
        got = c.retr(size)
        self.assertTrue(got.endswith(b'no newline at end\r\n'), got[-30:])
        self.assertEqual(c.ack('ACKS'), 0)

    def test_e31_retr_twice(self):
        c = self.login()
        c.retr(c.read())
        c.cmd_error_close('RETR')

    def test_e32_quit_in_next(self):
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')               # pending deletion of 1
        c.retr(SIZES[1])            # state NEXT
        c.cmd_error_close('QUIT')
        time.sleep(0.2)
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_e33_ack_without_retr(self):
        c = self.login()
        c.read(1)                   # ITEM
        c.cmd_error_close('ACKS')
        c = self.login()            # MBOX
        c.cmd_error_close('ACKD')
        c = self.login()
        c.cmd_error_close('NACK')

    def test_e34_read_invalid_numbers(self):
        c = self.login()
        for arg in ('0', '99', 'x', '01', '-1', '+1', '1x', ' 1',
                    '4294967296', '99999999999999999999'):
            r = c.cmd('READ ' + arg)
            self.assertRegex(r, r'^=0( |$)', 'READ %r' % arg)
        self.assertFalse(c.closed(0.2))
        self.assertEqual(c.read(1), SIZES[0])
        self.assertQuit(c)

    def test_e35_any_case(self):
        c = self.pop2()
        c.greet()
        self.assertRegex(c.cmd('helo alice alicepw'), r'^#3')
        self.assertRegex(c.cmd('read'), r'^=%d' % SIZES[0])
        self.assertRegex(c.cmd('Read 2'), r'^=%d' % SIZES[1])
        c.send('rEtR\r\n')
        self.assertEqual(c.read_exact(SIZES[1]), p23.crlf(self.msgs[1]))
        self.assertRegex(c.cmd('nAcK'), r'^=%d' % SIZES[1])
        self.assertRegex(c.cmd('fold inbox'), r'^#3')
        self.assertTrue(c.cmd('quit').startswith('+'))

    def test_e36_empty_line(self):
        c = self.pop2()
        c.greet()
        c.cmd_error_close('')
        c = self.login()
        c.cmd_error_close('')

    def test_e37_line_too_long(self):
        # 510 octets + CRLF = 512: accepted (a FOLD of a long name: #0)
        c = self.login()
        line = 'FOLD ' + 'a' * 505
        self.assertEqual(len(line) + 2, 512)
        self.assertRegex(c.cmd(line), r'^#0( |$)')
        # 511 + CRLF = 513: "-" and close, never a "+"
        c.cmd_error_close('FOLD ' + 'a' * 506)
        # long lines before HELO too, and a huge one
        c = self.pop2()
        c.greet()
        c.cmd_error_close('HELO alice ' + 'p' * 600)
        c = self.login()
        c.cmd_error_close('READ ' + '1' * 5000)

    def test_e38_unknown_commands(self):
        for cmd in ('STAT', 'LIST', 'USER alice', 'XYZZY'):
            c = self.login()
            c.cmd_error_close(cmd)
        c = self.pop2()
        c.greet()
        c.cmd_error_close('STAT')

    def test_e39_bare_lf(self):
        c = self.pop2()
        c.greet()
        c.send(b'HELO alice alicepw\n')
        self.assertRegex(c.reply(), r'^#3')
        c.send(b'READ\n')
        self.assertEqual(Pop2.number(c.reply(), '='), SIZES[0])
        c.send(b'RETR\n')
        self.assertEqual(c.read_exact(SIZES[0]), p23.crlf(self.msgs[0]))
        c.send(b'ACKS\n')
        self.assertEqual(Pop2.number(c.reply(), '='), SIZES[1])
        c.send(b'QUIT\n')
        self.assertTrue(c.reply().startswith('+'))
        self.assertTrue(c.closed())

    def test_e41_quit_with_argument(self):
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')
        c.cmd_error_close('QUIT now')
        time.sleep(0.2)
        self.assertEqual(self.keys_on_disk(), self.keys)
        c = self.pop2()
        c.greet()
        c.cmd_error_close('QUIT now')

    def test_e42_arguments_refused(self):
        for pre, cmd in ((1, 'RETR 1'), (2, 'ACKS 1'), (2, 'ACKD 1'),
                         (2, 'NACK 1')):
            c = self.login()
            size = c.read(1)
            if pre == 2:
                c.retr(size)
            c.cmd_error_close(cmd)
        time.sleep(0.2)
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_e43_empty_mailbox(self):
        self.srv.add_user('erin', 'erinpw')
        c = self.login('erin')
        self.assertEqual(c.count, 0)
        self.assertEqual(c.read(), 0)
        self.assertFalse(c.closed(0.2))
        self.assertQuit(c)

    def test_e44_reply_framing(self):
        # Pop2.reply() checks every line: <= 512 octets, "+", "-", "#n",
        # "=n"; run every kind of reply through it.
        c = self.login()
        size = c.read()
        c.retr(size)
        c.ack('NACK')
        c.retr(size)
        c.ack('ACKS')
        c.read(99)
        c.fold('nosuch')
        c.fold('INBOX')
        c.quit()
        kinds = {r[0] for r in c.replies}
        self.assertEqual(kinds, {'+', '#', '='})
        for r in c.replies:
            if r[0] in '#=':
                self.assertRegex(r, r'^[#=][0-9]+( |$)')
        # a size reply (READ, every ACK), octet for octet: pop2.c puts
        # it together without printf
        sizes = [r for r in c.replies if r[0] == '=' and r[1] != '0']
        self.assertEqual(sizes[:3], ['=300 characters in message 1'] * 2 +
                         ['=400 characters in message 2'], c.replies)
        c = self.login()
        self.assertEqual(c.cmd('READ 3'), '=500 characters in message 3')
        c.quit()
        c = self.pop2()
        c.greet()
        self.assertTrue(c.cmd_error_close('NOPE').startswith('-'))


class TestPop2LongHost(Pop2Case):
    # the config parser takes lines of up to 199 characters
    conf = {'hostname': 'h' * 180}

    def test_e44_long_hostname_replies(self):
        c = self.login()
        self.assertLessEqual(len(c.greeting) + 2, 512)
        self.assertTrue(c.greeting.startswith('+ POP2 ' + 'h' * 180))
        r = c.quit()
        self.assertLessEqual(len(r) + 2, 512)


class TestPop2Timeouts(Pop2Case):
    conf = {'timeout_pop2_auth': 1, 'timeout_pop2': 2}

    def test_e40_timeout_before_helo(self):
        c = self.pop2()
        c.greet()
        t0 = time.monotonic()
        r = c.expect_error_close(timeout=6)
        self.assertTrue(0.8 <= time.monotonic() - t0 < 5, r)

    def test_e40_timeout_after_helo_commits_nothing(self):
        c = self.login()
        c.retr(c.read(1))
        c.ack('ACKD')
        t0 = time.monotonic()
        c.expect_error_close(timeout=8)
        self.assertTrue(1.8 <= time.monotonic() - t0 < 7)
        self.assertEqual(self.keys_on_disk(), self.keys)


class TestPop2ReadOnly(Pop2Case):
    """Edge case 45: a mailbox whose new/ and cur/ the mail user may not
    change (the lock file and index exist from an earlier session)."""

    def read_only_session(self):
        c = self.login()
        c.retr(c.read(1))
        acks_reply = c.cmd('ACKS')
        self.assertQuit(c)
        md = self.srv.maildir('alice')
        for sub in ('new', 'cur'):
            os.chmod(os.path.join(md, sub), 0o555)
            self.addCleanup(os.chmod, os.path.join(md, sub), 0o700)
        c = self.login()
        c.retr(c.read(1))
        return c, acks_reply

    def test_e45_ackd_read_only(self):
        c, acks_reply = self.read_only_session()
        self.assertEqual(c.cmd('ACKD'), acks_reply)
        c.quit()
        self.assertTrue(c.closed())
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_e45_quit_read_only(self):
        # RFC 937 ACKD: "the response is the same whether or not the
        # message was actually deleted", so QUIT still says "+".
        c, _ = self.read_only_session()
        c.ack('ACKD')
        self.assertTrue(c.quit().startswith('+'))


class TestFoldEscape(Pop2Case):
    """FOLD names are untrusted; no path escape of any kind
    (doc/SECURITY.md P5, B13).  bob has two messages, so a "#2" would mean
    FOLD reached his maildrop."""

    def assertNoFolder(self, c, name, raw=False):
        r = c.fold(name, raw=raw)
        self.assertRegex(r, r'^#0( |$)', 'FOLD %r' % name)
        self.assertEqual(c.read(1), 0, 'FOLD %r' % name)

    def test_dotdot(self):
        c = self.login()
        for name in ('..', '../bob/Maildir', './../bob/Maildir',
                     '..bob', 'a..b', '...'):
            self.assertNoFolder(c, name)
        self.assertQuit(c)

    def test_slash(self):
        self.make_folder('real')
        c = self.login()
        for name in ('/', 'real/', 'real/cur', 'a/b', 'x/../../bob'):
            self.assertNoFolder(c, name)
        self.assertQuit(c)

    def test_absolute(self):
        c = self.login()
        for name in (self.srv.maildir('bob'), '/etc', '/tmp',
                     self.srv.maildir('alice')):
            self.assertNoFolder(c, name)
        self.assertQuit(c)

    def test_tilde(self):
        c = self.login()
        for name in ('~bob', '~bob/Maildir', '~', '~/Maildir', '~alice'):
            self.assertNoFolder(c, name)
        self.assertQuit(c)

    def test_leading_dot(self):
        self.make_folder('real', messages=[b'Subject: r\n\nr\n'])
        c = self.login()
        for name in ('.real', '.', '.bob'):
            self.assertNoFolder(c, name)
        self.assertRegex(c.fold('real'), r'^#1( |$)')
        self.assertQuit(c)

    def test_symlink_out(self):
        md = self.srv.maildir('alice')
        # a folder that is a symlink to bob's maildir
        os.symlink(self.srv.maildir('bob'), os.path.join(md, '.evil'))
        # a folder whose new/ and cur/ are symlinks to bob's
        real = os.path.join(md, '.half')
        os.mkdir(real, 0o700)
        self.srv._own(real)
        for sub in ('new', 'cur'):
            os.symlink(os.path.join(self.srv.maildir('bob'), sub),
                       os.path.join(real, sub))
        # a symlink to alice's own folder is refused as well
        self.make_folder('own', messages=[b'Subject: o\n\no\n'])
        os.symlink(os.path.join(md, '.own'), os.path.join(md, '.link'))
        c = self.login()
        for name in ('evil', 'half', 'link'):
            self.assertNoFolder(c, name)
        self.assertRegex(c.fold('own'), r'^#1( |$)')
        self.assertQuit(c)
        # bob's messages were not touched
        self.assertEqual(len(self.srv.messages('bob')), 2)

    def test_control_characters(self):
        self.make_folder('ab', messages=[b'Subject: ab\n\nab\n'])
        c = self.login()
        for name in ('a\x01b', 'a\tb', '\x1b[31m', 'ab\x7f', 'a\rb',
                     'ab\x0b'):
            self.assertNoFolder(c, name, raw=True)
        # 8-bit octets are not a valid name either
        self.assertNoFolder(c, 'a\xe9b', raw=True)
        self.assertRegex(c.fold('ab'), r'^#1( |$)')
        self.assertQuit(c)

    def test_nul(self):
        # A NUL byte makes the whole command line invalid (STYLE.md 4:
        # it never reaches a handler): "-" and close, never "#2".
        self.make_folder('ab', messages=[b'Subject: ab\n\nab\n'])
        c = self.login()
        c.send(b'FOLD a\x00b\r\n')
        c.expect_error_close()
        c = self.login()
        c.send(b'FOLD ..\x00/bob\r\n')
        c.expect_error_close()

    def test_quoted_escapes(self):
        # quoting cannot smuggle a separator in
        c = self.login()
        for name in ('\\.\\.', '\\/etc', '\\~bob', '\\.\\./bob'):
            self.assertNoFolder(c, name, raw=True)
        self.assertQuit(c)

    def test_no_folder_support_name(self):
        # INBOX in any case is the default maildrop
        c = self.login()
        self.assertRegex(c.fold('inbox'), r'^#3( |$)')
        self.assertRegex(c.fold('InBox'), r'^#3( |$)')
        self.assertQuit(c)


@unittest.skipUnless(os.access(POP2GET, os.X_OK), 'pop2get not built')
class TestPop2get(Pop2Case):
    """pop2get(1) against pop23d: keep and delete modes, Maildir, mbox
    and stdout delivery, exit codes."""

    def setUp(self):
        super().setUp()
        # messages of every shape: CRLF-stored, no final newline, From_
        # lines in the body, dots
        self.extra = [
            p23.sized_message(450, 'crlf', lf=False),
            b'Subject: nonl\n\nFrom the start\n>From quoted\nno newline',
            b'Subject: dots\n\n.\n..\nFrom me\n',
        ]
        self.keys += [self.srv.add_message('alice', m) for m in self.extra]
        self.msgs += self.extra
        self.passfile = os.path.join(self.srv.tmp, 'alice.pass')
        with open(self.passfile, 'w') as f:
            f.write('alicepw\n')
        self.out = os.path.join(self.srv.tmp, 'out')
        os.mkdir(self.out)

    def run_get(self, *args, user='alice', passfile=None, timeout=30):
        cmd = [POP2GET, '-h', '127.0.0.1', '-p', str(self.srv.pop2_port),
               '-u', user, '-P', passfile or self.passfile] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def maildir_files(self, d):
        names = sorted(os.listdir(os.path.join(d, 'new')))
        self.assertEqual(os.listdir(os.path.join(d, 'tmp')), [])
        out = []
        for n in names:
            with open(os.path.join(d, 'new', n), 'rb') as f:
                out.append(f.read())
        return names, out

    def test_keep_maildir(self):
        dest = os.path.join(self.out, 'Maildir')
        r = self.run_get('--maildir', dest, '--keep')
        self.assertEqual(r.returncode, 0, r.stderr)
        names, got = self.maildir_files(dest)
        self.assertEqual(len(got), len(self.msgs))
        # Maildir names sort by time then sequence: same order
        self.assertEqual(sorted(got), sorted(lf(m) for m in self.msgs))
        self.assertEqual(self.keys_on_disk(), self.keys)
        # ACKS marked them accessed: all in cur/ with the S flag
        for sub, f in self.srv.files('alice'):
            self.assertEqual(sub, 'cur', f)
            self.assertRegex(f, r':2,[A-Z]*S')

    def test_delete_maildir(self):
        dest = os.path.join(self.out, 'Maildir')
        r = self.run_get('--maildir', dest, '--delete')
        self.assertEqual(r.returncode, 0, r.stderr)
        _, got = self.maildir_files(dest)
        self.assertEqual(sorted(got), sorted(lf(m) for m in self.msgs))
        self.assertEqual(self.srv.messages('alice'), [])

    def test_stdout_raw(self):
        r = self.run_get('--stdout')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b''.join(p23.crlf(m) for m in self.msgs))

    def test_mbox(self):
        dest = os.path.join(self.out, 'mbox')
        r = self.run_get('--mbox', dest, '--delete')
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(dest, 'rb') as f:
            text = f.read()
        parts = re.split(rb'(?m)^From MAILER-DAEMON [^\n]*\n', text)
        self.assertEqual(parts[0], b'')
        got = []
        for p in parts[1:]:
            self.assertTrue(p.endswith(b'\n'), p[-20:])
            p = p[:-1]          # the separating empty line
            got.append(re.sub(rb'(?m)^>(>*From )', rb'\1', p))
        self.assertEqual(got, [lf(m) for m in self.msgs])
        self.assertIn(b'\n>From the start\n>>From quoted\n', text)
        self.assertEqual(self.srv.messages('alice'), [])
        # a second run appends to the same file (nothing left to add)
        r = self.run_get('--mbox', dest)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_list(self):
        r = self.run_get('--list')
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines[0], '%d messages' % len(self.msgs))
        self.assertEqual(lines[1:], ['%d %d' % (i + 1, len(p23.crlf(m)))
                                     for i, m in enumerate(self.msgs)])
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_folder(self):
        m = [b'Subject: f\n\nin folder\n']
        self.make_folder('work folder', messages=m)
        r = self.run_get('--folder', 'work folder', '--stdout', '--delete')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, p23.crlf(m[0]))
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_verbose_hides_password(self):
        r = self.run_get('--list', '-v')
        self.assertEqual(r.returncode, 0, r.stderr)
        err = r.stderr.decode()
        self.assertIn('S: + POP2 ', err)
        self.assertIn('HELO alice ****', err)
        self.assertNotIn('alicepw', err)

    def test_password_with_space(self):
        self.srv.add_user('carol', 'my secret\\pw')
        self.srv.add_message('carol', b'Subject: c\n\nc\n')
        pf = os.path.join(self.srv.tmp, 'carol.pass')
        with open(pf, 'w') as f:
            f.write('my secret\\pw\n')
        r = self.run_get('--stdout', user='carol', passfile=pf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b'Subject: c\r\n\r\nc\r\n')

    def test_tty_prompt(self):
        # No -P: the password is asked on the terminal with echo off.
        import pty
        import select
        import signal
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(POP2GET, ['pop2get', '-h', '127.0.0.1', '-p',
                                   str(self.srv.pop2_port), '-u', 'alice',
                                   '--list'])
            finally:
                os._exit(127)
        out, sent, status = b'', False, None
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        d = os.read(fd, 4096)
                    except OSError:     # EIO: the child closed the pty
                        d = b''
                    if not d:
                        break
                    out += d
                    if b'Password for alice@127.0.0.1: ' in out and not sent:
                        os.write(fd, b'alicepw\n')
                        sent = True
        finally:
            # The pty closes before the process is gone (a sanitizer
            # build checks for leaks at exit): wait, bounded.
            wpid = 0
            end = time.monotonic() + 15
            while time.monotonic() < end:
                wpid, status = os.waitpid(pid, os.WNOHANG)
                if wpid != 0:
                    break
                time.sleep(0.05)
            if wpid == 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = None
            os.close(fd)
        self.assertTrue(sent, out)
        self.assertEqual(status, 0, out)
        self.assertNotIn(b'alicepw', out)       # not echoed
        self.assertIn(b'%d messages' % len(self.msgs), out)

    def test_password_fd(self):
        r, w = os.pipe()
        os.write(w, b'alicepw\n')
        os.close(w)
        try:
            p = subprocess.run([POP2GET, '-h', '127.0.0.1', '-p',
                                str(self.srv.pop2_port), '-u', 'alice',
                                '--password-fd', str(r), '--list'],
                               capture_output=True, pass_fds=(r,),
                               stdin=subprocess.DEVNULL, timeout=30)
        finally:
            os.close(r)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b'%d messages\n'
                                            % len(self.msgs)))

    def test_exit_codes(self):
        # 1: usage
        r = subprocess.run([POP2GET, '--stdout'], capture_output=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1)
        r = self.run_get()                  # nothing to do
        self.assertEqual(r.returncode, 1)
        # 3: login refused
        bad = os.path.join(self.srv.tmp, 'bad.pass')
        with open(bad, 'w') as f:
            f.write('wrong\n')
        r = self.run_get('--list', passfile=bad)
        self.assertEqual(r.returncode, 3, r.stderr)
        # 2: nothing listens
        r = subprocess.run([POP2GET, '-h', '127.0.0.1', '-p', '1', '-u',
                            'alice', '-P', self.passfile, '--list'],
                           capture_output=True, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2, r.stderr)
        # 4: a POP3 server is not a POP2 server
        r = subprocess.run([POP2GET, '-h', '127.0.0.1', '-p',
                            str(self.srv.pop3_port), '-u', 'alice', '-P',
                            self.passfile, '--list'],
                           capture_output=True, stdin=subprocess.DEVNULL,
                           timeout=30)
        self.assertEqual(r.returncode, 4, r.stderr)
        # 5: delivery error (the mbox path is a directory); nothing lost
        r = self.run_get('--mbox', self.out, '--delete')
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(self.keys_on_disk(), self.keys)

    def test_delivery_failure_keeps_message(self):
        # A Maildir whose new/ is not writable: the first message cannot
        # be delivered, pop2get NACKs it and the server keeps everything.
        if os.geteuid() == 0:
            self.skipTest('root ignores directory modes')
        dest = os.path.join(self.out, 'Maildir')
        for sub in ('', 'tmp', 'new', 'cur'):
            os.makedirs(os.path.join(dest, sub), exist_ok=True)
        os.chmod(os.path.join(dest, 'new'), 0o555)
        self.addCleanup(os.chmod, os.path.join(dest, 'new'), 0o700)
        r = self.run_get('--maildir', dest, '--delete')
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertEqual(self.keys_on_disk(), self.keys)
        self.assertEqual(os.listdir(os.path.join(dest, 'tmp')), [])


@unittest.skipUnless(os.access(POP2GET, os.X_OK), 'pop2get not built')
class TestPop2getHostileServer(p23.TestCase):
    """pop2get(1) prints server text; a hostile server's terminal escape
    sequences (OSC title change, clear screen, C1 CSI, BEL) must reach
    the terminal escaped, never raw."""

    EVIL = b'\x1b]0;owned\x07\x1b[2J\x9b31m\x7f\r'

    def fake_server(self, replies):
        """Listen on 127.0.0.1; send REPLIES[0] on connect and one more
        reply per command line received."""
        ls = socket.socket()
        ls.bind(('127.0.0.1', 0))
        ls.listen(1)
        self.addCleanup(ls.close)

        def serve():
            c, _ = ls.accept()
            with c:
                f = c.makefile('rb')
                c.sendall(replies[0])
                for r in replies[1:]:
                    if not f.readline():
                        return
                    c.sendall(r)
                f.readline()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        return ls.getsockname()[1]

    def run_get(self, port, *args):
        d = tempfile.mkdtemp(prefix='p23-')
        self.addCleanup(shutil.rmtree, d, True)
        pw = os.path.join(d, 'pw')
        with open(pw, 'w') as f:
            f.write('pw\n')
        return subprocess.run([POP2GET, '-h', '127.0.0.1', '-p', str(port),
                               '-u', 'alice', '-P', pw] + list(args),
                              capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def assertClean(self, err):
        for bad in (b'\x1b', b'\x07', b'\x9b', b'\x7f', b'\r'):
            self.assertNotIn(bad, err, 'raw %r reached the terminal: %r'
                             % (bad, err))
        self.assertIn(b'\\x1b]0;owned\\x07', err)

    def test_refused_login_escaped(self):
        # the "-" reply to HELO is shown in the error message
        port = self.fake_server([b'+ POP2 evil ready\r\n',
                                 b'- bad ' + self.EVIL + b'\r\n'])
        r = self.run_get(port, '--list')
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertClean(r.stderr)

    def test_not_pop2_escaped(self):
        port = self.fake_server([b'+OK ' + self.EVIL + b'\r\n'])
        r = self.run_get(port, '--list')
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertClean(r.stderr)

    def test_verbose_dialogue_escaped(self):
        # -v shows every server line
        port = self.fake_server([b'+ POP2 evil ' + self.EVIL + b'\r\n',
                                 b'#0 ' + self.EVIL + b'\r\n',
                                 b'+ bye ' + self.EVIL + b'\r\n'])
        r = self.run_get(port, '--list', '-v')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertClean(r.stderr)
        self.assertNotIn(b'\x1b', r.stdout)

if __name__ == '__main__':
    p23.main()
