#!/usr/bin/env python3
# test_cross.py - one maildrop core, two protocols (doc/PROTOCOLS.md
# section 1.5, doc/MIGRATING-POP2.md section 1): POP2 and
# POP3 sessions on the same Maildir share deletions, the accessed state
# (POP3 LAST, the Maildir S flag), UIDLs, sizes and the session lock.
# GPL-3.0-or-later.

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402


class CrossCase(p23.TestCase):

    def setUp(self):
        self.srv = self.server(pop2=True)
        # every shape of message: LF-stored, CRLF-stored, no final
        # newline, an empty body, dot lines
        self.msgs = [
            p23.sized_message(300, 'one'),
            p23.sized_message(420, 'two', lf=False),
            b'Subject: three\n\nno final newline',
            b'Subject: four\n\n',
            b'Subject: five\n\n.\n..\n.x\n',
        ]
        self.keys = [self.srv.add_message('alice', m) for m in self.msgs]
        self.sizes = [len(p23.crlf(m)) for m in self.msgs]

    def pop2(self):
        c = Pop2(self.srv.pop2_port)
        self.addCleanup(c.close)
        c.count = c.login('alice', 'alicepw')
        return c

    def pop3(self):
        return self.login(self.srv)

    def wait_idle(self):
        """Wait until every session process has exited (and so has
        released the maildrop lock)."""
        self.assertTrue(p23.wait_until(
            lambda: len(self.srv.sessions()) == 0, 5), 'sessions linger')

    def pop3_stat(self):
        c = self.pop3()
        st = c.cmd('STAT')
        self.assertOK(st)
        n, octets = map(int, st.split()[1:3])
        self.assertOK(c.cmd('QUIT'))
        self.wait_idle()
        return n, octets

    def pop3_list(self, c):
        st, lines = c.cmd_multi('LIST')
        self.assertOK(st)
        return {int(a): int(b) for a, b in (l.split() for l in lines)}

    def pop3_uidl(self, c):
        st, lines = c.cmd_multi('UIDL')
        self.assertOK(st)
        return [l.split()[1] for l in lines]


class TestCross(CrossCase):

    def test_pop2_ackd_quit_then_pop3_stat(self):
        c = self.pop2()
        self.assertEqual(c.count, 5)
        for n in (2, 4):
            c.retr(c.read(n))
            c.ack('ACKD')
        self.assertTrue(c.quit().startswith('+'))
        self.assertTrue(c.closed())
        self.wait_idle()
        n, octets = self.pop3_stat()
        self.assertEqual(n, 3)
        self.assertEqual(octets, self.sizes[0] + self.sizes[2] +
                         self.sizes[4])
        self.assertEqual([k for k, _ in self.srv.messages('alice')],
                         [self.keys[0], self.keys[2], self.keys[4]])

    def test_pop2_ackd_without_quit_pop3_sees_all(self):
        c = self.pop2()
        c.retr(c.read(1))
        c.ack('ACKD')
        c.close()
        # the pop2 session must be gone before POP3 can take the lock
        self.wait_idle()
        self.assertEqual(self.pop3_stat(), (5, sum(self.sizes)))

    def test_pop3_retr_then_pop2_same_count(self):
        c = self.pop3()
        uidl_before = self.pop3_uidl(c)
        for n in (1, 3):
            st, data = c.retr(n)
            self.assertOK(st)
        self.assertOK(c.cmd('QUIT'))
        self.wait_idle()
        # POP3 RETR changed only the accessed state: POP2 still sees all
        c2 = self.pop2()
        self.assertEqual(c2.count, 5)
        for n in range(1, 6):
            self.assertEqual(c2.read(n), self.sizes[n - 1], n)
        self.assertTrue(c2.quit().startswith('+'))
        self.assertTrue(c2.closed())
        self.wait_idle()
        c = self.pop3()
        self.assertEqual(self.pop3_uidl(c), uidl_before)
        self.assertEqual(c.cmd('LAST'), '+OK 3')

    def test_pop2_acks_marks_accessed(self):
        c = self.pop3()
        uidl_before = self.pop3_uidl(c)
        self.assertEqual(c.cmd('LAST'), '+OK 0')
        self.assertOK(c.cmd('QUIT'))
        self.wait_idle()
        c2 = self.pop2()
        c2.retr(c2.read(2))
        c2.ack('ACKS')
        # NACK does not mark: message 3 retrieved but not acknowledged
        c2.retr(c2.read(3))
        c2.ack('NACK')
        self.assertTrue(c2.quit().startswith('+'))
        self.assertTrue(c2.closed())
        self.wait_idle()
        c = self.pop3()
        self.assertEqual(c.cmd('LAST'), '+OK 2')
        self.assertEqual(self.pop3_uidl(c), uidl_before)
        self.assertOK(c.cmd('QUIT'))
        path = self.srv.path_of('alice', self.keys[1])
        self.assertRegex(os.path.basename(path), r':2,[A-Z]*S[A-Z]*$')
        self.assertEqual(os.path.basename(os.path.dirname(path)), 'cur')
        for k in (self.keys[0], self.keys[2], self.keys[3], self.keys[4]):
            self.assertNotRegex(self.srv.path_of('alice', k),
                                r':2,[A-Z]*S', k)

    def test_lock_pop2_then_pop3(self):
        c2 = self.pop2()
        c3 = self.conn(self.srv)
        r = c3.login('alice', 'alicepw')
        self.assertTrue(r.startswith('-ERR [IN-USE]'), r)
        # the POP2 session is unharmed
        self.assertEqual(c2.read(1), self.sizes[0])
        self.assertTrue(c2.quit().startswith('+'))

    def test_lock_pop3_then_pop2(self):
        c3 = self.pop3()
        c2 = Pop2(self.srv.pop2_port)
        self.addCleanup(c2.close)
        c2.greet()
        c2.send('HELO alice alicepw\r\n')
        r = c2.expect_error_close()
        self.assertIn('lock', r)
        self.assertOK(c3.cmd('STAT'))
        self.assertOK(c3.cmd('QUIT'))

    def test_lock_pop2_then_pop2(self):
        c2 = self.pop2()
        other = Pop2(self.srv.pop2_port)
        self.addCleanup(other.close)
        other.greet()
        other.send('HELO alice alicepw\r\n')
        other.expect_error_close()
        self.assertTrue(c2.quit().startswith('+'))

    def test_same_sizes(self):
        c = self.pop3()
        listing = self.pop3_list(c)
        self.assertOK(c.cmd('QUIT'))
        self.wait_idle()
        c2 = self.pop2()
        for n in range(1, 6):
            size = c2.read(n)
            self.assertEqual(size, listing[n], 'message %d' % n)
            self.assertEqual(size, self.sizes[n - 1])
            data = c2.retr(size)
            self.assertEqual(data, p23.crlf(self.msgs[n - 1]))
            c2.ack('NACK')
        self.assertTrue(c2.quit().startswith('+'))


if __name__ == '__main__':
    p23.main()
