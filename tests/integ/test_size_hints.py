#!/usr/bin/env python3
# test_size_hints.py - Maildir names with ",S=<stored size>,W=<CRLF size>"
# (Dovecot's LDA and others): the login takes its sizes from them instead
# of reading every message (src/keyhints.c key_hints()), but a name that
# lies must never make pop23d send a size other than the octets it sends.
#
# Against the real daemon over sockets:
#   - true hints: STAT, LIST, RETR and TOP as with plain names, and the
#     login opens no message (the debug line says "hinted=N");
#   - a lying W= (too small, too large) and a lying S=: LIST shows the
#     hint until the message is opened, but RETR and TOP answer -ERR
#     before a single octet (no "+OK n octets" with a wrong n), the session
#     goes on, the other messages are served; the next session knows the
#     measured size (an index record, the "#hinted" flag) and RETR sends
#     exactly the octets it announces; nothing is lost or duplicated;
#   - an inconsistent pair (W < S) or a half hint (S= only) is no hint;
#   - once the liar is deleted, a later login drops the flag again;
#   - POP2 (READ announces "=n"): a lying name closes the session at RETR
#     without an octet of the message, and the next session gets it whole.
# GPL-3.0-or-later.

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402


def crlf_len(data):
    return len(p23.crlf(data))


def name_for(i, data, s=None, w=None):
    s = len(data) if s is None else s
    w = crlf_len(data) if w is None else w
    return '%d.M%dP%d.hint,S=%d,W=%d' % (1700000100 + i, i, 4000 + i, s, w)


def index_keys(srv, user='alice'):
    """The keys of the GDBM index, read with gdbm_dump (ASCII format)."""
    path = srv.index_path(user)
    if not os.path.exists(path) or not shutil_which('gdbm_dump'):
        return None
    out = subprocess.run(['gdbm_dump', '--format=ascii', path, '-'],
                         capture_output=True).stdout.decode('latin-1')
    keys = []
    lines = out.splitlines()
    # ASCII dump: "#:len=N" then base64 of the key, "#:len=M" then the
    # value; keys and values alternate.
    import base64
    blobs = []
    i = 0
    while i < len(lines):
        if lines[i].startswith('#:len='):
            j = i + 1
            b64 = ''
            while j < len(lines) and not lines[j].startswith('#'):
                b64 += lines[j]
                j += 1
            blobs.append(base64.b64decode(b64))
            i = j
        else:
            i += 1
    for k in blobs[0::2]:
        keys.append(k.decode('latin-1'))
    return keys


def shutil_which(b):
    import shutil
    return shutil.which(b)


class SizeHints(p23.TestCase):

    def setUp(self):
        self.srv = self.server(pop2=True)
        self.data = [p23.sized_message(300 + 41 * i, 'h%d' % i)
                     for i in range(6)]

    def deliver(self, i, **kw):
        data = self.data[i]
        return self.srv.add_message('alice', data, subdir='cur',
                                    name=name_for(i, data, **kw) + ':2,')

    def list_sizes(self, c):
        st, lines = c.cmd_multi('LIST')
        self.assertOK(st)
        return [int(l.split()[1]) for l in lines]

    def test_true_hints(self):
        for i in range(6):
            self.deliver(i)
        c = self.login(self.srv)
        self.assertEqual(self.list_sizes(c),
                         [crlf_len(d) for d in self.data])
        for i, d in enumerate(self.data):
            st, body = c.retr(i + 1)
            self.assertEqual(st, '+OK %d octets' % crlf_len(d))
            self.assertEqual(body, p23.crlf(d))
        st, body = c.retr('2 0', cmd='TOP')
        self.assertOK(st)
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        p23.wait_until(lambda: 'hinted=6' in self.srv.log_text(), 5)
        self.assertIn('hinted=6', self.srv.log_text())
        # no record was written for a message whose hints held
        keys = index_keys(self.srv)
        if keys is not None:
            self.assertEqual([k for k in keys if k.startswith('m:')], [])
            self.assertNotIn('#hinted', keys)

    def check_liar(self, liar_kw, cmd='RETR'):
        for i in range(6):
            self.deliver(i, **(liar_kw if i == 2 else {}))
        good = [crlf_len(d) for d in self.data]
        c = self.login(self.srv)
        sizes = self.list_sizes(c)
        self.assertEqual(sizes[:2] + sizes[3:], good[:2] + good[3:])
        # the liar: -ERR before any octet, the session goes on
        if cmd == 'RETR':
            self.assertERR(c.cmd('RETR 3'))
        else:
            self.assertERR(c.cmd('TOP 3 1'))
        st, body = c.retr(4)
        self.assertEqual(st, '+OK %d octets' % good[3])
        self.assertEqual(body, p23.crlf(self.data[3]))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        # the session's log lines reach the file after QUIT's answer
        # (a busy machine: seen missing when read at once)
        p23.wait_until(
            lambda: 'measured and recorded' in self.srv.log_text(), 5)
        self.assertIn('measured and recorded', self.srv.log_text())
        keys = index_keys(self.srv)
        if keys is not None:
            self.assertIn('#hinted', keys)
        # next session: the measured size, announced and sent
        c = self.login(self.srv)
        self.assertEqual(self.list_sizes(c), good)
        for i, d in enumerate(self.data):
            st, body = c.retr(i + 1)
            self.assertEqual(st, '+OK %d octets' % good[i])
            self.assertEqual(body, p23.crlf(d))
        # delete the liar; every message is still there before QUIT
        self.assertOK(c.cmd('DELE 3'))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        self.assertEqual(len(self.srv.messages('alice')), 5)
        # a later login finds no record of a hinted key: flag dropped
        c = self.login(self.srv)
        self.assertEqual(self.list_sizes(c), good[:2] + good[3:])
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        keys = index_keys(self.srv)
        if keys is not None:
            self.assertNotIn('#hinted', keys)
            self.assertEqual([k for k in keys if k.startswith('m:')], [])

    def test_w_too_small(self):
        d = self.data[2]
        self.check_liar({'w': len(d) + 1})

    def test_w_too_large(self):
        d = self.data[2]
        self.check_liar({'w': crlf_len(d) + 7})

    def test_w_too_large_top(self):
        d = self.data[2]
        self.check_liar({'w': crlf_len(d) + 7}, cmd='TOP')

    def test_s_lies(self):
        d = self.data[2]
        # consistent pair, wrong stored size
        self.check_liar({'s': len(d) - 5, 'w': crlf_len(d) - 5})

    def test_inconsistent_is_no_hint(self):
        d = self.data[0]
        self.deliver(0, s=len(d), w=len(d) - 1)      # W < S
        self.srv.add_message('alice', self.data[1], subdir='cur',
                             name='1700000201.M1P1.half,S=%d:2,'
                             % len(self.data[1]))
        c = self.login(self.srv)
        self.assertEqual(self.list_sizes(c),
                         [crlf_len(self.data[0]), crlf_len(self.data[1])])
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        self.assertNotIn('measured and recorded', self.srv.log_text())

    def test_pop2_liar(self):
        for i in range(3):
            self.deliver(i, **({'w': crlf_len(self.data[i]) + 3}
                               if i == 1 else {}))
        from pop2client import Pop2  # noqa: E402
        pw = self.srv.password('alice')
        with Pop2(self.srv.pop2_port) as p:
            self.assertEqual(p.login('alice', pw), 3)
            self.assertEqual(p.read(2), crlf_len(self.data[1]) + 3)
            p.send(b'RETR\r\n')
            # closed without a single octet of the message
            self.assertTrue(p.closed())
            self.assertEqual(p.buf, b'')
        self.assertEqual(len(self.srv.messages('alice')), 3)
        with Pop2(self.srv.pop2_port) as p:
            self.assertEqual(p.login('alice', pw), 3)
            for i in range(3):
                n = crlf_len(self.data[i])
                self.assertEqual(p.fetch(i + 1), (n, p23.crlf(self.data[i])))
                p.ack('ACKS')
            p.quit()

if __name__ == '__main__':
    p23.main()
