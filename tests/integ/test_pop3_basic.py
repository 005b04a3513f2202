#!/usr/bin/env python3
# test_pop3_basic.py - POP3 basics against a real pop23d: the RFC 1225
# "Example POP3 Session" wording, STAT/LIST/UIDL/RETR/TOP/DELE/RSET/
# NOOP/QUIT/LAST/CAPA, and UPDATE only on QUIT (doc/PROTOCOLS.md
# section 2).
# GPL-3.0-or-later.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

HOST = 'test.example'


class Basic(p23.TestCase):
    """alice has the RFC 1225 example maildrop: two messages of 120 and
    200 octets (CRLF-counted, stored with LF)."""

    def setUp(self):
        self.srv = self.server()
        self.m1 = p23.sized_message(120, 'one')
        self.m2 = p23.sized_message(200, 'two')
        self.k1 = self.srv.add_message('alice', self.m1)
        self.k2 = self.srv.add_message('alice', self.m2)

    def test_rfc1225_dialogue(self):
        c = self.conn(self.srv)
        g = c.line()
        self.assertTrue(g.startswith('+OK '), g)
        self.assertOK(c.cmd('USER alice'))
        self.assertEqual(c.cmd('PASS alicepw'),
                         "+OK alice's maildrop has 2 messages (320 octets)")
        self.assertEqual(c.cmd('STAT'), '+OK 2 320')
        st, lines = c.cmd_multi('LIST')
        self.assertEqual(st, '+OK 2 messages (320 octets)')
        self.assertEqual(lines, ['1 120', '2 200'])
        self.assertEqual(c.cmd('LIST 2'), '+OK 2 200')
        self.assertEqual(c.cmd('LIST 3'),
                         '-ERR no such message, only 2 messages in maildrop')
        st, body = c.retr(1)
        self.assertOK(st)
        self.assertEqual(body, p23.crlf(self.m1))
        self.assertEqual(c.cmd('DELE 1'), '+OK message 1 deleted')
        self.assertEqual(c.cmd('DELE 2'), '+OK message 2 deleted')
        self.assertEqual(c.cmd('DELE 2'), '-ERR message 2 already deleted')
        self.assertEqual(c.cmd('RSET'),
                         '+OK maildrop has 2 messages (320 octets)')
        self.assertEqual(c.cmd('STAT'), '+OK 2 320')
        self.assertEqual(c.cmd('DELE 1'), '+OK message 1 deleted')
        self.assertEqual(c.cmd('DELE 2'), '+OK message 2 deleted')
        self.assertEqual(c.cmd('QUIT'),
                         '+OK %s POP3 server signing off (maildrop empty)'
                         % HOST)
        self.assertTrue(c.closed(5), 'server did not close after QUIT')
        self.assertEqual(self.srv.messages('alice'), [])

    def test_quit_messages_left(self):
        c = self.login(self.srv)
        self.assertEqual(c.cmd('QUIT'),
                         '+OK %s POP3 server signing off (2 messages left)'
                         % HOST)
        self.assertTrue(c.closed(5))
        self.assertEqual(self.srv.messages('alice'),
                         [(self.k1, self.m1), (self.k2, self.m2)])

    def test_quit_one_left(self):
        c = self.login(self.srv)
        self.assertOK(c.cmd('DELE 2'))
        r = c.cmd('QUIT')
        self.assertRegex(r, r'^\+OK %s POP3 server signing off '
                            r'\(1 messages? left\)$' % re.escape(HOST))
        self.assertEqual(self.srv.messages('alice'), [(self.k1, self.m1)])

    def test_stat_and_list_exclude_deleted(self):
        c = self.login(self.srv)
        self.assertOK(c.cmd('DELE 1'))
        self.assertEqual(c.cmd('STAT'), '+OK 1 200')
        st, lines = c.cmd_multi('LIST')
        self.assertOK(st)
        self.assertEqual(lines, ['2 200'])
        self.assertERR(c.cmd('LIST 1'))
        self.assertERR(c.cmd('RETR 1'))
        self.assertERR(c.cmd('TOP 1 0'))
        self.assertERR(c.cmd('UIDL 1'))

    def test_list_single(self):
        c = self.login(self.srv)
        self.assertEqual(c.cmd('LIST 1'), '+OK 1 120')
        self.assertEqual(c.cmd('list 2'), '+OK 2 200')

    def test_uidl(self):
        c = self.login(self.srv)
        st, lines = c.cmd_multi('UIDL')
        self.assertOK(st)
        # the UIDL is the Maildir unique base name (doc/PROTOCOLS.md,
        # edge case 69)
        self.assertEqual(lines, ['1 ' + self.k1, '2 ' + self.k2])
        self.assertEqual(c.cmd('UIDL 2'), '+OK 2 ' + self.k2)
        self.assertERR(c.cmd('UIDL 3'))

    def test_retr_both(self):
        c = self.login(self.srv)
        for n, m in ((1, self.m1), (2, self.m2)):
            st, body = c.retr(n)
            self.assertOK(st)
            self.assertEqual(body, p23.crlf(m))
            self.assertEqual(len(body), (120, 200)[n - 1])

    def test_top(self):
        c = self.login(self.srv)
        st, body = c.retr('1 0', cmd='TOP')
        self.assertOK(st)
        head = p23.crlf(self.m1).split(b'\r\n\r\n', 1)[0] + b'\r\n\r\n'
        self.assertEqual(body, head)
        st, body = c.retr('1 1', cmd='TOP')
        self.assertOK(st)
        self.assertEqual(body, head + b'Body of one.\r\n')
        st, body = c.retr('2 100000', cmd='TOP')
        self.assertOK(st)
        self.assertEqual(body, p23.crlf(self.m2))

    def test_noop(self):
        c = self.login(self.srv)
        self.assertOK(c.cmd('NOOP'))
        self.assertOK(c.cmd('noop'))

    def test_rset_restores(self):
        c = self.login(self.srv)
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('DELE 2'))
        self.assertEqual(c.cmd('STAT'), '+OK 0 0')
        self.assertEqual(c.cmd('RSET'),
                         '+OK maildrop has 2 messages (320 octets)')
        st, lines = c.cmd_multi('LIST')
        self.assertEqual(lines, ['1 120', '2 200'])
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(len(self.srv.messages('alice')), 2)

    def test_update_only_on_quit(self):
        c = self.login(self.srv)
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('DELE 2'))
        c.close()
        c = p23.wait_until(lambda: self._try_login(), 5)
        self.assertIsNotNone(c, 'no login after a dropped session')
        self.assertEqual(c.cmd('STAT'), '+OK 2 320')
        self.assertEqual(self.srv.messages('alice'),
                         [(self.k1, self.m1), (self.k2, self.m2)])
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(self.srv.messages('alice'), [(self.k2, self.m2)])

    def _try_login(self):
        c = self.srv.conn()
        r = c.login('alice', 'alicepw')
        if r.startswith('+OK'):
            self.addCleanup(c.close)
            return c
        c.close()
        return None

    def test_quit_in_authorization(self):
        c = self.conn(self.srv)
        c.line()
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed(5))
        c = self.conn(self.srv)
        c.line()
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed(5))
        self.assertEqual(len(self.srv.messages('alice')), 2)

    def test_last(self):
        c = self.login(self.srv)
        self.assertEqual(c.cmd('LAST'), '+OK 0')
        self.assertOK(c.retr(2)[0])
        self.assertEqual(c.cmd('LAST'), '+OK 2')
        self.assertOK(c.cmd('QUIT'))
        # kept across sessions (doc/PROTOCOLS.md, edge case 70)
        c = self.login(self.srv)
        self.assertEqual(c.cmd('LAST'), '+OK 2')
        self.assertOK(c.cmd('QUIT'))

    def test_last_off(self):
        srv = self.server(conf={'last': 'no'})
        srv.add_message('alice', self.m1)
        c = self.login(srv)
        self.assertERR(c.cmd('LAST'))
        self.assertOK(c.cmd('NOOP'))

    def test_accessed_message_seen_in_cur(self):
        c = self.login(self.srv)
        self.assertOK(c.retr(1)[0])
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed(5))
        files = dict((f.split(':')[0], (sub, f))
                     for sub, f in self.srv.files('alice'))
        sub, name = files[self.k1]
        self.assertEqual(sub, 'cur', name)
        self.assertRegex(name, r':2,[A-Z]*S', name)
        # content untouched, UIDL unchanged by the rename
        self.assertEqual(self.srv.messages('alice'),
                         [(self.k1, self.m1), (self.k2, self.m2)])
        c = self.login(self.srv)
        st, lines = c.cmd_multi('UIDL')
        self.assertEqual(lines, ['1 ' + self.k1, '2 ' + self.k2])

    def test_capa(self):
        c = self.conn(self.srv)
        c.line()
        st, pre = c.cmd_multi('CAPA')
        self.assertOK(st)
        tags = [l.upper() for l in pre]
        for t in ('TOP', 'USER', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE',
                  'PIPELINING', 'EXPIRE NEVER', 'LOGIN-DELAY 0'):
            self.assertIn(t, tags, pre)
        self.assertFalse([t for t in tags if t.startswith('IMPLEMENTATION')],
                         'IMPLEMENTATION before login: %r' % pre)
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        st, post = c.cmd_multi('CAPA')
        self.assertOK(st)
        tags = [l.upper() for l in post]
        for t in ('TOP', 'USER', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE',
                  'PIPELINING'):
            self.assertIn(t, tags, post)
        self.assertTrue([t for t in tags if t.startswith('IMPLEMENTATION')],
                        'no IMPLEMENTATION after login: %r' % post)

    def test_greeting_and_quit_name_host(self):
        c = self.conn(self.srv)
        g = c.line()
        self.assertTrue(g.startswith('+OK'), g)
        self.assertIn(HOST, g)
        self.assertNotIn('<', g)   # no APOP timestamp unless apop = yes

    def test_empty_maildrop(self):
        c = self.login(self.srv, 'bob')
        self.assertRegex(c.login_reply,
                         r"^\+OK bob's maildrop has 0 messages? "
                         r"\(0 octets\)$")
        self.assertEqual(c.cmd('STAT'), '+OK 0 0')
        st, lines = c.cmd_multi('LIST')
        self.assertOK(st)
        self.assertEqual(lines, [])
        st, lines = c.cmd_multi('UIDL')
        self.assertOK(st)
        self.assertEqual(lines, [])
        self.assertEqual(c.cmd('LAST'), '+OK 0')
        self.assertEqual(c.cmd('QUIT'),
                         '+OK %s POP3 server signing off (maildrop empty)'
                         % HOST)

    def test_sha512_password(self):
        srv = self.server(users={'carol': ('c4r0l pw', 'sha512'),
                                 'dave': ('d4ve', 'crypt-sha512')})
        srv.add_message('carol', self.m1)
        c = self.login(srv, 'carol')
        self.assertEqual(c.cmd('STAT'), '+OK 1 120')
        self.assertOK(c.cmd('QUIT'))
        c = self.conn(srv)
        self.assertTrue(c.login('carol', 'c4r0l').startswith('-ERR'))
        c = self.login(srv, 'dave')
        self.assertOK(c.cmd('QUIT'))


if __name__ == '__main__':
    p23.main()
