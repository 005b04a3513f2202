#!/usr/bin/env python3
# test_policy.py - RFC 2449 and RFC 6856 policy against a real pop23d:
# LOGIN-DELAY (kept in the index, enforced after the password, POP3 and
# POP2), EXPIRE (retrieved and old messages removed at the committed
# UPDATE only), UTF8 and LANG (RFC 6856: names, passwords, 8-bit
# headers), and the connection limits' refusal lines.  The edge cases
# are numbered in doc/PROTOCOLS.md ("Policy").
# GPL-3.0-or-later.

import base64
import os
import poplib
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402

DAY = 86400


crc32c = p23.crc32c


def login_record(t, version=1, flags=0):
    """The index's "#login" value for time T (src/index.h layout)."""
    body = struct.pack('>BBq', version, flags, t)
    return body + struct.pack('>I', crc32c(b'#login' + body))


def put_index(srv, user, key, value):
    """Set KEY = VALUE (bytes) in USER's index: gdbm_dump, change, and
    gdbm_load into a new file that replaces it (the daemon is idle: no
    session holds the maildrop)."""
    recs = index_keys(srv, user)
    recs[key] = value
    path = srv.index_path(user)
    dump = os.path.join(srv.tmp, 'patch.dump')
    with open(dump, 'w') as f:
        f.write('#:version=1.1\n#:format=standard\n# End of header\n')
        for k, v in recs.items():
            for d in (k, v):
                f.write('#:len=%d\n%s\n' % (len(d),
                                            base64.b64encode(d).decode()))
        f.write('#:count=%d\n# End of data\n' % len(recs))
    r = subprocess.run(['gdbm_load', '-n', dump, path + '.new'],
                       capture_output=True, text=True)
    assert r.returncode == 0, 'gdbm_load: %s\n%s' % (r.stderr,
                                                       open(dump).read())
    os.chmod(path + '.new', 0o600)
    if p23.ROOT:
        os.chown(path + '.new', p23.SESSION_UID, p23.SESSION_GID)
    os.rename(path + '.new', path)


def index_keys(srv, user):
    """{key: value} of USER's index (gdbm_dump)."""
    out = subprocess.run(['gdbm_dump', srv.index_path(user), '-'],
                         check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if not l.startswith('#')]
    data = [base64.b64decode(l) for l in lines]
    return dict(zip(data[0::2], data[1::2]))


def logged(srv, text, timeout=5):
    """TEXT shows up in the daemon's log (lines reach it through the
    master's relay, a moment after the client saw the reply)."""
    return p23.wait_until(lambda: text in srv.log_text(), timeout)


def idle(srv, timeout=10):
    """No session left: the master has no children."""
    return p23.wait_until(lambda: not [k for k in srv.sessions()
                                       if k != srv.pid], timeout)


def capa(c):
    st, lines = c.cmd_multi('CAPA')
    assert st.startswith('+OK'), st
    return lines


class TestCase(p23.TestCase):
    def assertLogged(self, srv, text):
        self.assertTrue(logged(srv, text), '%r not in the log:\n%s'
                        % (text, srv.log_tail()))


class LoginDelay(TestCase):
    DELAY = 30

    def srv(self, **conf):
        conf.setdefault('login_delay', str(self.DELAY))
        s = self.server(pop2=True, conf=conf)
        s.add_message('alice', b'Subject: one\n\nbody\n')
        return s

    def relogin(self, srv):
        c = self.conn(srv)
        return c, c.login('alice', 'alicepw')

    def test_capa_before_and_after_login(self):
        srv = self.srv()
        c = self.conn(srv)
        c.line()
        self.assertIn('LOGIN-DELAY 30', capa(c))
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertIn('LOGIN-DELAY 30', capa(c))
        srv2 = self.server()
        c2 = self.conn(srv2)
        c2.line()
        self.assertIn('LOGIN-DELAY 0', capa(c2))

    def test_too_early_refused_after_password(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        # a wrong password never hears of the delay
        c2 = self.conn(srv)
        r = c2.login('alice', 'wrong')
        self.assertTrue(r.startswith('-ERR [AUTH]'), r)
        c3, r = self.relogin(srv)
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)
        self.assertTrue(c3.closed())
        self.assertLogged(srv, 'maildrop result=login-delay')

    def test_refused_login_changes_nothing(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        before = index_keys(srv, 'alice')
        key = srv.add_message('alice', b'Subject: two\n\nnew mail\n')
        files = srv.files('alice')
        c2, r = self.relogin(srv)
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)
        self.assertTrue(c2.closed())
        # not measured, not indexed, not moved; the login time is the
        # accepted login's, not the refused one's
        self.assertEqual(index_keys(srv, 'alice'), before)
        self.assertNotIn(b'm:' + key.encode(), before)
        self.assertEqual(srv.files('alice'), files)

    def test_exact_boundary(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        now = int(time.time())
        # DELAY - 2 seconds ago: refused (the clock may tick once)
        put_index(srv, 'alice', b'#login', login_record(now - self.DELAY
                                                        + 2))
        c2, r = self.relogin(srv)
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)
        self.assertRegex(r, r'wait [12] seconds')
        # exactly DELAY seconds ago (or a moment more): accepted
        put_index(srv, 'alice', b'#login', login_record(now - self.DELAY))
        c3, r = self.relogin(srv)
        self.assertOK(r)
        c3.cmd('QUIT')
        # and that login is the new reference
        rec = index_keys(srv, 'alice')[b'#login']
        self.assertGreaterEqual(struct.unpack('>q', rec[2:10])[0], now)

    def test_damaged_record_lets_user_in(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        good = login_record(int(time.time()))
        for bad in (good[:-1] + bytes([good[-1] ^ 1]),   # checksum
                    good[:7] + bytes([good[7] ^ 0x10]) + good[8:],
                    login_record(int(time.time()), version=9),
                    login_record(int(time.time()), flags=1),
                    good[:10], good + b'x', b'\x01'):
            put_index(srv, 'alice', b'#login', bad)
            c2, r = self.relogin(srv)
            self.assertOK(r, 'record %r: %r' % (bad, r))
            c2.cmd('QUIT')
            # a fresh, valid record was written: the next one waits
            c3, r = self.relogin(srv)
            self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)
            c3.close()
        self.assertLogged(srv, 'damaged login-time record')

    def test_future_record_and_missing_index(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        put_index(srv, 'alice', b'#login',
                  login_record(int(time.time()) + 10 * DAY))
        c2, r = self.relogin(srv)
        self.assertOK(r)
        c2.cmd('QUIT')
        self.assertLogged(srv, 'in the future')
        os.unlink(srv.index_path('alice'))
        c3, r = self.relogin(srv)
        self.assertOK(r)
        c3.cmd('QUIT')

    def test_dropped_session_counts_as_login(self):
        # RFC 2449 6.5: the delay runs from the "+OK" to PASS
        srv = self.srv()
        c = self.login(srv)
        c.close()
        self.assertTrue(idle(srv), 'session still running')
        c2, r = self.relogin(srv)
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)

    def test_pop2_refused_with_minus_and_close(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        p.greet()
        p.send(b'HELO alice alicepw\r\n')
        r = p.expect_error_close()
        self.assertIn('[LOGIN-DELAY]', r)
        # and a POP2 login delays the next POP3 one
        put_index(srv, 'alice', b'#login', login_record(0))
        p2 = Pop2(srv.pop2_port)
        self.addCleanup(p2.close)
        self.assertEqual(p2.login('alice', 'alicepw'), 1)
        p2.quit()
        c3, r = self.relogin(srv)
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)

    def test_poplib_sees_the_code(self):
        srv = self.srv()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        self.assertIn('LOGIN-DELAY', p.capa())
        p.user('alice')
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_('alicepw')
        self.assertIn(b'[LOGIN-DELAY]', cm.exception.args[0])


class PerUser(TestCase):
    """user_policy lines: CAPA before login shows the largest delay and
    the shortest retention with "USER"; after login the user's own."""

    def srv(self):
        s = self.server(pop2=True, conf={
            'login_delay': '0', 'expire': 'never',
            'user_policy': 'alice login_delay=60 expire=3'})
        for u in ('alice', 'bob'):
            k = s.add_message(u, b'Subject: old\n\nold\n', subdir='cur',
                              name='1700000001.%s.pu:2,S' % u)
            os.utime(s.path_of(u, k), (time.time() - 10 * DAY,) * 2)
        return s

    def test_capa(self):
        srv = self.srv()
        c = self.conn(srv)
        c.line()
        pre = capa(c)
        self.assertIn('LOGIN-DELAY 60 USER', pre)
        self.assertIn('EXPIRE 3 USER', pre)
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        post = capa(c)
        self.assertIn('LOGIN-DELAY 60', post)
        self.assertIn('EXPIRE 3', post)
        c2 = self.login(srv, 'bob')
        post = capa(c2)
        self.assertIn('LOGIN-DELAY 0', post)
        self.assertIn('EXPIRE NEVER', post)

    def test_enforced_per_user(self):
        srv = self.srv()
        for u in ('alice', 'bob'):
            c = self.login(srv, u)
            self.assertOK(c.cmd('QUIT'))
        # alice's old seen message expired, bob's stays
        self.assertEqual(srv.messages('alice'), [])
        self.assertEqual(len(srv.messages('bob')), 1)
        # alice waits 60 s (POP3 and POP2), bob does not
        c = self.conn(srv)
        r = c.login('alice', 'alicepw')
        self.assertTrue(r.startswith('-ERR [LOGIN-DELAY]'), r)
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        p.greet()
        p.send(b'HELO alice alicepw\r\n')
        self.assertIn('[LOGIN-DELAY]', p.expect_error_close())
        c2 = self.login(srv, 'bob')
        self.assertOK(c2.cmd('QUIT'))


class Expire(TestCase):
    def setup_box(self, srv, now):
        """old+seen, old+unseen, new+seen, old+unseen (to be RETR'd).
        Returns the keys."""
        keys = []
        for i, (sub, age) in enumerate((('cur', 10), ('new', 10),
                                        ('cur', 1), ('new', 10))):
            name = '%d.%d_%d.exp' % (1700000000 + i, i, os.getpid())
            if sub == 'cur':
                name += ':2,S'
            k = srv.add_message('alice', b'Subject: m%d\n\nbody %d\n'
                                % (i, i), subdir=sub, name=name)
            os.utime(srv.path_of('alice', k), (now - age * DAY,
                                               now - age * DAY))
            keys.append(k)
        return keys

    def test_capa(self):
        srv = self.server(conf={'expire': '5'})
        c = self.conn(srv)
        c.line()
        self.assertIn('EXPIRE 5', capa(c))
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertIn('EXPIRE 5', capa(c))
        srv2 = self.server()
        c2 = self.conn(srv2)
        c2.line()
        self.assertIn('EXPIRE NEVER', capa(c2))

    def test_retrieved_and_old_removed_at_quit(self):
        srv = self.server(conf={'expire': '5'})
        k = self.setup_box(srv, time.time())
        c = self.login(srv)
        st, data = c.retr(4)
        self.assertOK(st)
        r = c.cmd('QUIT')
        self.assertOK(r)
        self.assertIn('(2 messages left)', r)
        left = [key for key, _ in srv.messages('alice')]
        # old+seen and old+retrieved go; old unseen and new seen stay
        self.assertEqual(left, [k[1], k[2]])
        self.assertLogged(srv, 'expire: 2 retrieved messages')

    def test_dropped_connection_removes_nothing(self):
        srv = self.server(conf={'expire': '5'})
        k = self.setup_box(srv, time.time())
        c = self.login(srv)
        self.assertOK(c.retr(4)[0])
        c.close()
        self.assertTrue(idle(srv), 'session still running')
        self.assertEqual([key for key, _ in srv.messages('alice')], k)
        # autologout-like end: too many bad commands, no UPDATE either
        c2 = self.login(srv)
        for _ in range(25):
            try:
                c2.cmd('BOGUS')
            except (EOFError, OSError):
                break
        self.assertTrue(idle(srv), 'session still running')
        self.assertEqual([key for key, _ in srv.messages('alice')], k)

    def test_rset_forgets_this_sessions_retrieval(self):
        srv = self.server(conf={'expire': '5'})
        k = self.setup_box(srv, time.time())
        c = self.login(srv)
        self.assertOK(c.retr(4)[0])
        self.assertOK(c.cmd('RSET'))
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual([key for key, _ in srv.messages('alice')],
                         [k[1], k[2], k[3]])

    def test_expire_zero_and_never(self):
        srv = self.server(conf={'expire': '0'})
        now = time.time()
        k = self.setup_box(srv, now)
        c = self.login(srv)
        self.assertOK(c.retr(2)[0])
        self.assertOK(c.cmd('QUIT'))
        # every retrieved message, whatever its age
        self.assertEqual([key for key, _ in srv.messages('alice')], [k[3]])
        srv2 = self.server()
        k2 = self.setup_box(srv2, now)
        c2 = self.login(srv2)
        self.assertOK(c2.retr(4)[0])
        self.assertOK(c2.cmd('QUIT'))
        self.assertEqual(len(srv2.messages('alice')), 4)

    def test_boundary_days(self):
        srv = self.server(conf={'expire': '5'})
        now = time.time()
        a = srv.add_message('alice', b'Subject: a\n\n1\n', subdir='cur',
                            name='1700000001.a.exp:2,S')
        b = srv.add_message('alice', b'Subject: b\n\n2\n', subdir='cur',
                            name='1700000002.b.exp:2,S')
        os.utime(srv.path_of('alice', a), (now - 5 * DAY - 5,) * 2)
        os.utime(srv.path_of('alice', b), (now - 5 * DAY + 60,) * 2)
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual([key for key, _ in srv.messages('alice')], [b])

    def test_pop2_keeps_and_marks_for_pop3(self):
        srv = self.server(pop2=True, conf={'expire': '5'})
        now = time.time()
        k = srv.add_message('alice', b'Subject: old\n\nold\n')
        os.utime(srv.path_of('alice', k), (now - 10 * DAY,) * 2)
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        self.assertEqual(p.login('alice', 'alicepw'), 1)
        size, data = p.fetch(1)
        self.assertGreater(size, 0)
        p.ack('ACKS')
        self.assertTrue(p.quit().startswith('+'))
        # POP2 cannot be told the policy: its ACKS keeps the message
        self.assertEqual([key for key, _ in srv.messages('alice')], [k])
        # but it was retrieved: the next POP3 UPDATE expires it
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(srv.messages('alice'), [])

    def test_read_only_maildrop_keeps_everything(self):
        if p23.ROOT:
            self.skipTest('root ignores directory permissions')
        srv = self.server(conf={'expire': '0'})
        k = srv.add_message('alice', b'Subject: x\n\ny\n', subdir='cur',
                            name='1700000009.ro.exp:2,S')
        for sub in ('cur', 'new'):
            os.chmod(os.path.join(srv.maildir('alice'), sub), 0o500)
        try:
            c = self.login(srv)
            self.assertOK(c.cmd('QUIT'))
        finally:
            for sub in ('cur', 'new'):
                os.chmod(os.path.join(srv.maildir('alice'), sub), 0o700)
        self.assertEqual([key for key, _ in srv.messages('alice')], [k])


UTF8_NAME = 'j\u00fcrgen'


class Utf8Lang(p23.TestCase):
    def srv(self, **conf):
        s = self.server(users={'alice': 'alicepw', UTF8_NAME: 'p\u00e4ss'},
                        conf=conf)
        return s

    def test_capa_and_state(self):
        srv = self.srv()
        c = self.conn(srv)
        c.line()
        caps = capa(c)
        self.assertIn('UTF8 USER', caps)
        self.assertIn('LANG', caps)
        self.assertOK(c.cmd('UTF8'))
        self.assertOK(c.cmd('UTF8'))          # again: still fine
        self.assertERR(c.cmd('UTF8 now'))      # no arguments
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertEqual(capa(c)[:len(caps)], caps)
        self.assertERR(c.cmd('UTF8'))          # AUTHORIZATION only
        srv2 = self.srv(utf8_user='no')
        c2 = self.conn(srv2)
        c2.line()
        caps2 = capa(c2)
        self.assertIn('UTF8', caps2)
        self.assertNotIn('UTF8 USER', caps2)

    def test_lang(self):
        srv = self.srv()
        c = self.conn(srv)
        c.line()
        st, langs = c.cmd_multi('LANG')
        self.assertOK(st)
        self.assertEqual(langs, ['en English'])
        for rng in ('en', 'EN', 'En', '*'):
            self.assertTrue(c.cmd('LANG ' + rng).startswith('+OK en '), rng)
        for rng in ('de', 'en-US', 'english', 'e', 'en-', '-en', '1en',
                    'en--x', 'en-123456789', '**', 'i-default'):
            self.assertERR(c.cmd('LANG ' + rng), rng)
        self.assertERR(c.cmd('LANG en de'))
        c.cmd('USER alice')
        self.assertOK(c.cmd('PASS alicepw'))
        st, langs = c.cmd_multi('LANG')
        self.assertEqual(langs, ['en English'])
        self.assertTrue(c.cmd('LANG en').startswith('+OK en '))
        self.assertERR(c.cmd('LANG xx'))
        self.assertOK(c.cmd('NOOP'))            # the session goes on

    def utf8_login(self, srv, utf8_first):
        c = self.conn(srv)
        c.line()
        if utf8_first:
            self.assertOK(c.cmd('UTF8'))
        r = c.cmd(b'USER ' + UTF8_NAME.encode())
        if not r.startswith('+OK'):
            return c, r
        return c, c.cmd('PASS p\u00e4ss'.encode())

    def test_utf8_user_after_utf8(self):
        srv = self.srv()
        c, r = self.utf8_login(srv, True)
        self.assertOK(r)
        # in UTF-8 mode the reply may carry the name as it is
        self.assertIn(UTF8_NAME.encode(), r.encode('latin-1'))

    def test_utf8_user_before_utf8(self):
        # RFC 6856 2.2: with "UTF8 USER" a client may send a UTF-8 name
        # before UTF8; the reply then must not carry it raw
        srv = self.srv()
        c, r = self.utf8_login(srv, False)
        self.assertOK(r)
        self.assertTrue(all(ord(ch) < 128 for ch in r), r)
        # without "UTF8 USER", never
        srv2 = self.srv(utf8_user='no')
        for first in (False, True):
            c2, r2 = self.utf8_login(srv2, first)
            self.assertERR(r2)

    def test_invalid_utf8_names_refused(self):
        srv = self.srv()
        bad = [b'j\xfcrgen',            # Latin-1
               b'\xc0\xaf',             # overlong "/"
               b'\xe0\x80\xaf',         # overlong
               b'\xed\xa0\x80',         # surrogate
               b'\xf4\x90\x80\x80',     # above U+10FFFF
               b'\xc3',                 # truncated
               b'a\xc2\x85b',           # C1 control NEL
               b'\x80abc',              # lone continuation
               b'\xfe\xff']
        c = self.conn(srv)
        c.line()
        self.assertOK(c.cmd('UTF8'))
        for n, b in enumerate(bad):
            if n == 2:                  # the bad-command cap is 3
                c = self.conn(srv)
                c.line()
                self.assertOK(c.cmd('UTF8'))
            r = c.cmd(b'USER ' + b)
            self.assertERR(r, b)
            if n in (1, 4, 7):
                c.close()
                c = self.conn(srv)
                c.line()
                self.assertOK(c.cmd('UTF8'))
        # APOP too (apop off: its own -ERR), and a PASS that is not
        # UTF-8 after UTF8
        c = self.conn(srv)
        c.line()
        self.assertOK(c.cmd('UTF8'))
        self.assertOK(c.cmd('USER alice'))
        self.assertERR(c.cmd(b'PASS al\xe9cepw'))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))

    def test_poplib_utf8(self):
        srv = self.srv()
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.addCleanup(p.close)
        caps = p.capa()
        self.assertEqual(caps.get('UTF8'), ['USER'])
        self.assertIn('LANG', caps)
        self.assertTrue(p.utf8().startswith(b'+OK'))
        p.user(UTF8_NAME)
        self.assertTrue(p.pass_('p\u00e4ss').startswith(b'+OK'))
        p.quit()

    def eight_bit_box(self, srv):
        hdr = srv.add_message('alice', 'Subject: Gr\u00fc\u00dfe\n'
                              'From: j\u00fcrgen@example.org\n\nhi\n'
                              .encode())
        body = srv.add_message('alice', b'Subject: plain\n'
                               b'Content-Transfer-Encoding: 8bit\n\n'
                               b'caf\xc3\xa9\n')
        late = srv.add_message('alice', b'Subject: x\n\nbody\n\xc3\xa9\n'
                               b'X-Not-A-Header: \xc3\xa9\n')
        crlf = srv.add_message('alice', b'Subject: y\r\n\r\n\xc3\xa9\r\n')
        return hdr, body, late, crlf

    def test_8bit_headers_need_utf8(self):
        srv = self.srv()
        self.eight_bit_box(srv)
        c = self.login(srv)
        st, lines = c.cmd_multi('LIST')
        self.assertOK(st)
        sizes = {int(a): int(b) for a, b in (l.split() for l in lines)}
        r = c.cmd('RETR 1')
        self.assertTrue(r.startswith('-ERR [UTF8]'), r)
        r = c.cmd('TOP 1 0')
        self.assertTrue(r.startswith('-ERR [UTF8]'), r)
        for n in (2, 3, 4):         # 8-bit bodies only: sent as always
            st, data = c.retr(n)
            self.assertOK(st)
            self.assertEqual(len(data), sizes[n])
        self.assertOK(c.cmd('NOOP'))
        # with UTF8 before login: sent as stored, size exact
        c2 = self.conn(srv)
        c2.line()
        self.assertOK(c2.cmd('UTF8'))
        c2.cmd('USER alice')
        # the first session still holds the lock
        r = c2.cmd('PASS alicepw')
        self.assertIn('[IN-USE]', r)
        c.cmd('QUIT')
        c3 = self.conn(srv)
        c3.line()
        c3.send(b'UTF8\r\nUSER alice\r\nPASS alicepw\r\n')  # pipelined
        self.assertOK(c3.line())
        self.assertOK(c3.line())
        self.assertOK(c3.line())
        st, data = c3.retr(1)
        self.assertOK(st)
        self.assertEqual(len(data), sizes[1])
        self.assertIn('Gr\u00fc\u00dfe'.encode(), data)
        self.assertOK(c3.cmd('TOP 1 0'))
        c3.multi_raw()

    def test_legacy_send(self):
        srv = self.srv(legacy_8bit_headers='send')
        self.eight_bit_box(srv)
        c = self.login(srv)
        st, data = c.retr(1)
        self.assertOK(st)
        self.assertIn('Gr\u00fc\u00dfe'.encode(), data)

    def test_curl_sees_utf8_refusal(self):
        p23.need('curl')
        srv = self.srv()
        self.eight_bit_box(srv)
        r = subprocess.run(['curl', '-sS', '--max-time', '10',
                            'pop3://127.0.0.1:%d/2' % srv.pop3_port,
                            '-u', 'alice:alicepw'],
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'caf\xc3\xa9', r.stdout)
        r = subprocess.run(['curl', '-sS', '--max-time', '10',
                            'pop3://127.0.0.1:%d/1' % srv.pop3_port,
                            '-u', 'alice:alicepw'],
                           capture_output=True)
        self.assertNotEqual(r.returncode, 0)


class Limits(p23.TestCase):
    def test_max_sessions_pop3_and_pop2(self):
        srv = self.server(pop2=True, conf={'max_sessions': '2'})
        held = [self.conn(srv), self.conn(srv)]
        for h in held:
            self.assertOK(h.line())
        c = self.conn(srv)
        r = c.line()
        self.assertEqual(r, '-ERR [SYS/TEMP] too many connections, try '
                         'again later')
        self.assertTrue(c.closed())
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        r = p.reply()
        self.assertTrue(r.startswith('- too many connections'), r)
        self.assertTrue(p.closed())
        with self.assertRaises(poplib.error_proto) as cm:
            poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        self.assertIn(b'[SYS/TEMP]', cm.exception.args[0])
        held[0].cmd('QUIT')

        def served():
            # the master counts a child until it has reaped it
            c2 = self.conn(srv)
            if c2.line().startswith('+OK'):
                return True
            c2.close()
            return False
        self.assertTrue(p23.wait_until(served, 10, step=0.1))

    def test_max_per_ip(self):
        srv = self.server(conf={'max_per_ip': '1'})
        a = self.conn(srv)
        self.assertOK(a.line())
        b = self.conn(srv)
        self.assertTrue(b.line().startswith('-ERR [SYS/TEMP]'))
        # another address of 127/8 is another client
        try:
            o = self.conn(srv, source='127.0.0.2')
        except OSError:
            self.skipTest('cannot bind 127.0.0.2')
        self.assertOK(o.line())

    def test_per_user_is_the_maildrop_lock(self):
        # pop23d.conf(5): no separate per-user cap; a second session of
        # a user is refused by the session lock, in both protocols
        srv = self.server(pop2=True)
        c = self.login(srv)
        c2 = self.conn(srv)
        r = c2.login('alice', 'alicepw')
        self.assertTrue(r.startswith('-ERR [IN-USE]'), r)
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        p.greet()
        p.send(b'HELO alice alicepw\r\n')
        p.expect_error_close()
        c.cmd('QUIT')


if __name__ == '__main__':
    p23.main(requires=('gdbm_load', 'gdbm_dump'))
