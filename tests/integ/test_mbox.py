#!/usr/bin/env python3
# test_mbox.py - the mbox storage plugin with the real daemon: a Debian
# style spool (root:mail 2775, the session as a user without gid mail),
# real MDAs (procmail, dotlockfile) delivering during sessions and during
# UPDATE, kill -9 during UPDATE with the replay at the next login, X-UIDL,
# c-client's internal message, POP2 FOLD to home folders, POP2 and
# POP3 getting the same octets, and the offset record (warm logins equal
# a full parse; every rewrite is parsed whole).  GPL-3.0-or-later.

import grp
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import time
import unittest

import p23
from pop2client import Pop2

DATE = 'Mon Dec  7 01:00:00 2026'


def mbox_msg(n, extra=b'', body=None, sender='sender@example.org'):
    """(separator + message + blank line, message) as an MDA writes it."""
    msg = (b'From: %s\nSubject: test %d\nMessage-ID: <%d@p23>\n%s\n' %
           (sender.encode(), n, n, extra)) + \
        (body if body is not None else b'body of message %d\n' % n)
    return b'From ' + sender.encode() + b' ' + DATE.encode() + b'\n' + \
        msg + b'\n', msg


def split_mbox(data):
    """The messages of an mbox as the plugin must see them (the test's
    own simple reading: separators with a date, blank line cut)."""
    sep = re.compile(rb'^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) ', re.M)
    starts = [m.start() for m in sep.finditer(data)]
    out = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(data)
        body = data[data.index(b'\n', s) + 1:e]
        if body.endswith(b'\n\n'):
            body = body[:-1]
        out.append(body)
    return out


class MboxServer(p23.Server):
    """A p23 server whose users have /var/mail-style spools."""

    def __init__(self, conf=None, **kw):
        c = {'storage': 'mbox', 'mail_location': '', 'mbox.lock_timeout': 3}
        c.update(conf or {})
        self._mconf = c
        super().__init__(conf=c, start=False, **kw)
        self.spool = os.path.join(self.tmp, 'spool')
        os.mkdir(self.spool)
        self.conf['mail_location'] = self.spool + '/%u'
        if p23.ROOT:
            gid = grp.getgrnam('mail').gr_gid
            os.chown(self.spool, 0, gid)
            os.chmod(self.spool, 0o2775)
            self.conf['mbox.dotlock_group'] = 'mail'
        else:
            os.chmod(self.spool, 0o755)
        self.write_config()
        for u in self.users:
            self.make_spool(u)
        self.start()

    def mbox(self, user):
        return os.path.join(self.spool, user)

    def index_path(self, user):
        """The INBOX's index ([mbox] index_dir, default %h/.pop23d-mbox)."""
        return os.path.join(self.home(user), '.pop23d-mbox', 'INBOX',
                            'pop23d.index')

    def make_spool(self, user, data=b''):
        p = self.mbox(user)
        with open(p, 'wb') as f:
            f.write(data)
        if p23.ROOT:
            os.chown(p, p23.SESSION_UID, grp.getgrnam('mail').gr_gid)
        os.chmod(p, 0o660)

    def read(self, user):
        with open(self.mbox(user), 'rb') as f:
            return f.read()

    def append(self, user, data):
        """Deliver as liblockfile MDAs do: dotlockfile + fcntl."""
        p = self.mbox(user)
        subprocess.run(['dotlockfile', '-r', '20', '-p', p + '.lock'],
                       check=True)
        try:
            import fcntl
            with open(p, 'ab') as f:
                fcntl.lockf(f, fcntl.LOCK_EX)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        finally:
            subprocess.run(['dotlockfile', '-u', p + '.lock'], check=True)


class TestMbox(p23.TestCase):
    def mserver(self, **kw):
        s = MboxServer(**kw)
        self.addCleanup(s.cleanup)
        return s

    def fill(self, srv, msgs, user='alice'):
        data = b''.join(m[0] for m in msgs)
        srv.make_spool(user, data)
        return data

    def test_read_exact_octets(self):
        srv = self.mserver()
        msgs = [mbox_msg(1), mbox_msg(2, body=b'>From quoted\nFrom me, '
                                        b'not a separator\n.dot\n'),
                mbox_msg(3, body=b'crlf\r\nline\r\n'),
                mbox_msg(4, body=b'no final newline')]
        # the last one as an MDA that does not add a blank line
        msgs[3] = (msgs[3][0][:-2], msgs[3][1][:-1])
        self.fill(srv, msgs)
        c = self.login(srv)
        self.assertEqual(c.cmd('STAT'), '+OK 4 %d' % sum(
            len(p23.crlf(m[1])) for m in msgs))
        for i, (_, m) in enumerate(msgs, 1):
            self.assertEqual(c.cmd('LIST %d' % i),
                             '+OK %d %d' % (i, len(p23.crlf(m))))
            self.assertEqual(c.retr(i)[1], p23.crlf(m))
        c.cmd('QUIT')

    @p23.need('dotlockfile')
    def test_dele_keeps_other_octets_and_appends(self):
        srv = self.mserver()
        msgs = [mbox_msg(i) for i in range(1, 6)]
        self.fill(srv, msgs)
        c = self.login(srv)
        uidl1 = c.cmd_multi('UIDL')[1]
        self.assertOK(c.cmd('DELE 2'))
        self.assertOK(c.cmd('DELE 4'))
        late = mbox_msg(99)
        srv.append('alice', late[0])      # an MDA during the session
        self.assertOK(c.cmd('QUIT'))
        want = b''.join(m[0] for i, m in enumerate(msgs, 1)
                        if i not in (2, 4)) + late[0]
        self.assertEqual(srv.read('alice'), want)
        c = self.login(srv)
        uidl2 = c.cmd_multi('UIDL')[1]
        self.assertEqual(c.cmd('STAT').split()[1], '4')
        old = dict(l.split() for l in uidl1)
        new = [l.split()[1] for l in uidl2]
        self.assertEqual(new[:3], [old['1'], old['3'], old['5']])
        c.cmd('QUIT')

    def test_x_uidl_and_internal_message(self):
        srv = self.mserver()
        internal = (b'From MAILER-DAEMON ' + DATE.encode() + b'\n'
                    b'Date: Mon, 7 Dec 2026 01:00:00 +0000\n'
                    b'From: Mail System Internal Data <MAILER-DAEMON@x>\n'
                    b"Subject: DON'T DELETE THIS MESSAGE -- FOLDER "
                    b'INTERNAL DATA\nX-IMAP: 1234 0000000002\n\n'
                    b'This text is part of the internal format.\n\n')
        m1 = mbox_msg(1, extra=b'X-UIDL: qpopper.0042\n')
        m2 = mbox_msg(2)
        srv.make_spool('alice', internal + m1[0] + m2[0])
        c = self.login(srv)
        self.assertEqual(c.cmd('STAT').split()[1], '2')
        u = c.cmd_multi('UIDL')[1]
        self.assertEqual(u[0], '1 qpopper.0042')
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('DELE 2'))
        self.assertOK(c.cmd('QUIT'))
        self.assertEqual(srv.read('alice'), internal)

    # ------------------------------------------------ the offset record
    def answers(self, srv):
        """One session's STAT, LIST, UIDL and every message by RETR, and
        how its login read the mbox (the plugin's debug line: none,
        headers+tail or all)."""
        before = srv.log_text().count('mbox scan path=')
        c = self.login(srv)
        out = [c.cmd('STAT'), c.cmd_multi('LIST')[1],
               c.cmd_multi('UIDL')[1]]
        n = int(out[0].split()[1])
        out.append([hashlib.sha256(c.retr(i)[1]).hexdigest()
                    for i in range(1, n + 1)])
        self.assertOK(c.cmd('QUIT'))
        c.close()
        self.assertTrue(p23.wait_until(
            lambda: srv.log_text().count('mbox scan path=') > before, 5))
        line = srv.log_text().split('mbox scan path=')[-1].split('\n')[0]
        how = re.search(r'read=(\S+) parsed=(\d+)', line)
        return out, how.group(1), int(how.group(2))

    def truth(self, srv):
        """The answers of a full parse: the same session without the
        offset record."""
        rec = self.cache_path(srv)
        if os.path.exists(rec):
            os.unlink(rec)
        out, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        return out

    def cache_path(self, srv, user='alice'):
        return os.path.join(srv.home(user), '.pop23d-mbox', 'INBOX',
                            'pop23d.mbox-cache')

    def rewrite_in_place(self, srv, data, user='alice'):
        """Write DATA over the spool in place (same inode), as c-client
        and mutt rewrite a mailbox."""
        with open(srv.mbox(user), 'r+b') as f:
            f.write(data)
            f.truncate()

    @p23.need('dotlockfile')
    def test_offset_record_warm_logins(self):
        """A warm login reads nothing of an unchanged mbox and only the
        headers plus the appended tail of a grown one, with answers equal
        octet for octet to a full parse; every rewrite (same size, same
        headers' lengths, c-client's in-place Status change with an
        append, a new inode, a shrunk file, a damaged record) is parsed
        whole again."""
        srv = self.mserver()
        msgs = [mbox_msg(i, extra=b'Status: O\n') for i in range(1, 40)]
        msgs[3] = mbox_msg(4, extra=b'X-UIDL: qpopper.0004\n')
        data = self.fill(srv, msgs)
        time.sleep(3.1)         # older than the record's racy window
        a1, how, parsed = self.answers(srv)
        self.assertEqual((how, parsed), ('all', len(data)))
        self.assertTrue(os.path.exists(self.cache_path(srv)))
        a2, how, parsed = self.answers(srv)
        self.assertEqual((how, parsed), ('none', 0))
        self.assertEqual(a2, a1)

        # an MDA appends: only the last old message and the tail parsed,
        # and of the others only their separator and header checked
        late = [mbox_msg(i) for i in (90, 91)]
        for m in late:
            srv.append('alice', m[0])
        a3, how, parsed = self.answers(srv)
        self.assertEqual(how, 'headers+tail')
        self.assertEqual(parsed, len(msgs[-1][0]) + len(late[0][0]) +
                         len(late[1][0]))
        line = srv.log_text().split('mbox scan path=')[-1]
        self.assertEqual(int(re.search(r'headers=(\d+)', line).group(1)),
                         sum(m[0].index(b'\n\n') + 2 for m in msgs[:-1]))
        self.assertEqual(a3[0].split()[1], '41')
        self.assertEqual(a3, self.truth(srv))
        self.assertEqual(a3[2][:39], a1[2])      # UIDLs kept
        data = srv.read('alice')

        # c-client style: a Status header changed in place, same length,
        # and mail appended: the changed header is found
        time.sleep(3.1)
        self.answers(srv)
        i = data.index(b'Subject: test 7\n')
        j = data.index(b'Status: O\n', i)
        self.rewrite_in_place(srv, data[:j] + b'Status: R\n' +
                              data[j + 10:])
        srv.append('alice', mbox_msg(92)[0])
        a4, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a4, self.truth(srv))
        self.assertNotEqual(a4[2][6], a3[2][6])  # message 7 is new

        # a body octet changed in place, same size, nothing appended
        data = srv.read('alice')
        time.sleep(3.1)
        self.answers(srv)       # a record that is not racy
        self.assertEqual(self.answers(srv)[1], 'none')
        k = data.index(b'body of message 20')
        self.rewrite_in_place(srv, data[:k] + b'B' + data[k + 1:])
        a5, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a5, self.truth(srv))

        # a new file with the same octets (mutt's rename), then a shorter
        # one, then a damaged record
        data = srv.read('alice')
        self.answers(srv)
        tmp = srv.mbox('alice') + '.new'
        shutil.copy2(srv.mbox('alice'), tmp)
        os.rename(tmp, srv.mbox('alice'))
        if p23.ROOT:
            os.chown(srv.mbox('alice'), p23.SESSION_UID,
                     grp.getgrnam('mail').gr_gid)
        self.assertEqual(self.answers(srv)[1:], ('all', len(data)))
        self.rewrite_in_place(srv, data[:data.index(b'From sender',
                                                    len(data) // 2)])
        a6, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a6, self.truth(srv))
        time.sleep(3.1)
        self.answers(srv)
        self.assertEqual(self.answers(srv)[1], 'none')
        with open(self.cache_path(srv), 'r+b') as f:
            f.seek(200)
            b = f.read(1)
            f.seek(200)
            f.write(bytes([b[0] ^ 0x10]))
        a7, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a7, a6)
        self.assertIn('offset record is damaged', srv.log_text())

    @p23.need('dotlockfile')
    def test_offset_record_content_length_past_the_end(self):
        """A message whose Content-Length claims an end past the file's
        end is a lie today; an append can make it agree (the claimed end
        becomes a separator), and then a full parse joins the messages.
        The warm login must give the same list: it parses again from
        that message, not from the last one."""
        srv = self.mserver()
        tail = [mbox_msg(i) for i in (50, 51)]
        body2 = b'body of message 2\n'
        # message 2 claims its body runs over message 3 and the first
        # appended message, to the start of the second one
        claim = len(body2) + 1 + len(mbox_msg(3)[0]) + len(tail[0][0])
        m2 = mbox_msg(2, extra=b'Content-Length: %d\n' % claim,
                      body=body2)
        msgs = [mbox_msg(1), m2, mbox_msg(3)]
        self.fill(srv, msgs)
        time.sleep(3.1)
        a1, how, _ = self.answers(srv)
        self.assertEqual((how, a1[0].split()[1]), ('all', '3'))
        srv.append('alice', tail[0][0])
        srv.append('alice', tail[1][0])
        a2, how, parsed = self.answers(srv)
        self.assertEqual(how, 'headers+tail')
        self.assertEqual(parsed, len(srv.read('alice')) - len(msgs[0][0]))
        self.assertEqual(a2, self.truth(srv))
        self.assertEqual(a2[0].split()[1], '3')   # 2, 3 and 50 joined

    @p23.need('dotlockfile')
    def test_offset_record_after_update(self):
        """UPDATE writes the offset record of the file it compacted: the
        next login reads nothing and answers exactly as a full parse
        (UIDLs of repeated messages moving as they do then); with mail
        appended during the session it parses only the last message and
        that mail; a Content-Length that the removal makes agree (the
        message would swallow the next one) is found, no record written,
        and the next login parses the file whole.  A record another
        program's rewrite made a liar is never used."""
        srv = self.mserver()
        msgs = [mbox_msg(i) for i in range(1, 31)]
        msgs[7] = msgs[8] = mbox_msg(8)         # the same message twice
        msgs[12] = mbox_msg(13, extra=b'X-UIDL: qpopper.0013\n')
        self.fill(srv, msgs)
        time.sleep(0.2)
        a0, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a0[2][8].split()[1], a0[2][7].split()[1] + '-2')

        def session(dele, late=None):
            c = self.login(srv)
            for n in dele:
                self.assertOK(c.cmd('DELE %d' % n))
            if late:
                srv.append('alice', late)
            self.assertOK(c.cmd('QUIT'))
            c.close()
            self.assertTrue(p23.wait_until(
                lambda: 'mbox offset record path=' in srv.log_text() or
                'no offset record after UPDATE' in srv.log_text(), 5))

        # the first of two equal messages goes: the second's UIDL becomes
        # the first's, as in a full parse
        session([1, 5, 8])
        self.assertIn('rewritten after UPDATE', srv.log_text())
        a1, how, parsed = self.answers(srv)
        self.assertEqual((how, parsed), ('none', 0))
        self.assertEqual(a1[0].split()[1], '27')
        self.assertEqual(a1, self.truth(srv))
        self.assertEqual(a1[2][5].split()[1], a0[2][7].split()[1])

        # mail appended during the session: the record covers what the
        # session listed; the next login parses the last message and the
        # appended one
        late = mbox_msg(77)[0]
        session([2, 27], late)
        a2, how, parsed = self.answers(srv)
        self.assertEqual(how, 'headers+tail')
        self.assertEqual(parsed, len(msgs[29][0]) + len(late))
        self.assertEqual(a2, self.truth(srv))
        self.assertEqual(a2[0].split()[1], '26')

        # a lie that the removal makes true: message 2 claims a body
        # that, once message 3 is gone, ends exactly before message 4
        body2 = b'body of message 2\n'
        m4 = mbox_msg(4)
        claim = len(body2) + 1 + len(m4[0])
        m2 = mbox_msg(2, extra=b'Content-Length: %d\n' % claim,
                      body=body2)
        self.fill(srv, [mbox_msg(1), m2, mbox_msg(3, body=b'x' * 300),
                        m4, mbox_msg(5)])
        time.sleep(0.2)
        self.assertEqual(self.answers(srv)[0][0].split()[1], '5')
        before = srv.log_text().count('no offset record after UPDATE')
        session([3])
        self.assertEqual(srv.log_text().count(
            'no offset record after UPDATE'), before + 1)
        a3, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a3[0].split()[1], '3')     # 2 swallowed 4
        self.assertEqual(a3, self.truth(srv))

        # another program rewrites in place after an UPDATE's record
        # (same length, a header changed, mail appended): found
        self.fill(srv, [mbox_msg(i, extra=b'Status: O\n')
                        for i in range(1, 9)])
        time.sleep(0.2)
        self.answers(srv)
        session([1])
        self.assertEqual(self.answers(srv)[1], 'none')
        data = srv.read('alice')
        j = data.index(b'Status: O\n', data.index(b'Subject: test 4\n'))
        self.rewrite_in_place(srv, data[:j] + b'Status: R\n' +
                              data[j + 10:])
        srv.append('alice', mbox_msg(99)[0])
        a4, how, _ = self.answers(srv)
        self.assertEqual(how, 'all')
        self.assertEqual(a4, self.truth(srv))

    def test_fold_home_folders_pop2_and_pop3_same_octets(self):
        srv = self.mserver(pop2=True)
        msgs = [mbox_msg(1, body=b'.leading dot\n'), mbox_msg(2)]
        self.fill(srv, msgs)
        home = srv.home('alice')
        fold = os.path.join(home, 'saved')
        with open(fold, 'wb') as f:
            f.write(mbox_msg(7)[0])
        srv._own(fold)
        with Pop2(srv.pop2_port) as p:
            self.assertEqual(p.login('alice', srv.password('alice')), 2)
            pop2_octets = []
            for n in (1, 2):
                size, data = p.fetch(n)
                pop2_octets.append(data)
                p.ack('ACKS')
            self.assertEqual(p.number(p.fold('saved'), '#'), 1)
            self.assertEqual(p.fetch(1)[1], p23.crlf(mbox_msg(7)[1]))
            p.ack('ACKS')
            self.assertTrue(p.quit().startswith('+'))
        with Pop2(srv.pop2_port) as p:
            p.login('alice', srv.password('alice'))
            for bad in ('../../etc/passwd', '/etc/passwd', '~root/x',
                        '.pop23d-mbox'):
                self.assertEqual(p.number(p.fold(bad), '#'), 0, bad)
        c = self.login(srv)
        self.assertEqual([c.retr(1)[1], c.retr(2)[1]], pop2_octets)
        self.assertEqual(c.cmd('LAST'), '+OK 2')
        c.cmd('QUIT')

    def test_stale_dotlock_broken_by_helper(self):
        srv = self.mserver()
        self.fill(srv, [mbox_msg(1)])
        lock = srv.mbox('alice') + '.lock'
        with open(lock, 'w') as f:
            f.write('999999\n')            # no such process
        c = self.login(srv)
        self.assertEqual(c.cmd('STAT').split()[1], '1')
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('QUIT'))
        self.assertFalse(os.path.exists(lock))
        self.assertEqual(srv.read('alice'), b'')

    @unittest.skipUnless(p23.ROOT, 'the helper exists only under root')
    def test_dotlock_helper_privileges(self):
        """The session has no gid mail; the helper has it and nothing
        more: the user's uid and gid, no capabilities, NoNewPrivs, no
        descriptor but its socket (0-2 on /dev/null)."""
        srv = self.mserver()
        self.fill(srv, [mbox_msg(1)])
        mail = grp.getgrnam('mail').gr_gid
        c = self.login(srv)
        self.assertEqual(c.cmd('STAT').split()[1], '1')

        def status(pid):
            out = {}
            with open('/proc/%d/status' % pid) as f:
                for line in f:
                    k, _, v = line.partition(':')
                    out[k] = v.split()
            return out
        procs = {p: status(p) for p in srv.sessions() if p != srv.pid}
        helpers = [p for p, st in procs.items()
                   if str(mail) in st['Groups']]
        sessions = [p for p, st in procs.items()
                    if p not in helpers and
                    st['Uid'][0] == str(p23.SESSION_UID)]
        self.assertEqual(len(helpers), 1, procs)
        self.assertEqual(len(sessions), 1, procs)
        h = procs[helpers[0]]
        self.assertEqual(set(h['Uid']), {str(p23.SESSION_UID)})
        self.assertEqual(set(h['Gid']), {str(p23.SESSION_GID)})
        self.assertEqual(sorted(h['Groups']),
                         sorted([str(p23.SESSION_GID), str(mail)]))
        self.assertEqual(h['CapEff'], ['0000000000000000'])
        self.assertEqual(h['CapPrm'], ['0000000000000000'])
        self.assertEqual(h['NoNewPrivs'], ['1'])
        targets = sorted(p23.fd_targets(helpers[0]).values())
        self.assertEqual(targets[:3], ['/dev/null'] * 3, targets)
        self.assertEqual(len(targets), 4, targets)
        self.assertTrue(targets[3].startswith('socket:'), targets)
        s = procs[sessions[0]]
        self.assertNotIn(str(mail), s['Groups'])
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('QUIT'))
        # the helper goes with the session
        self.assertTrue(p23.wait_until(
            lambda: not os.path.exists('/proc/%d/status' % helpers[0]) or
            status(helpers[0]).get('State', ['Z'])[0] in 'ZX', 10))
        self.assertEqual(srv.read('alice'), b'')

    @p23.need('dotlockfile')
    def test_live_dotlock_respected(self):
        srv = self.mserver()
        self.fill(srv, [mbox_msg(1)])
        lock = srv.mbox('alice') + '.lock'
        subprocess.run(['dotlockfile', '-p', lock], check=True)
        try:
            c = srv.conn()
            c.line()
            c.cmd('USER alice')
            r = c.cmd('PASS ' + srv.password('alice'))
            self.assertTrue(r.startswith('-ERR'), r)
        finally:
            subprocess.run(['dotlockfile', '-u', lock], check=True)
        c = self.login(srv)
        self.assertEqual(c.cmd('STAT').split()[1], '1')
        c.cmd('QUIT')

    @p23.need('procmail')
    def test_procmail_delivery_during_updates(self):
        srv = self.mserver()
        rc = os.path.join(srv.tmp, 'procmailrc')
        with open(rc, 'w') as f:
            f.write('DEFAULT=%s\nLOCKFILE=\n' % srv.mbox('alice'))
        stop = time.time() + 4
        sent = []

        def deliver(n):
            # procmail -m writes the message as given (separator
            # included) and the blank line after it, under its dotlock
            # ($DEFAULT.lock) and a kernel lock
            m = mbox_msg(n)[0][:-1]
            subprocess.run(['procmail', '-m', rc], input=m, check=True)
            sent.append(n)
        import threading

        def loop():
            n = 1000
            while time.time() < stop:
                deliver(n)
                n += 1
        t = threading.Thread(target=loop)
        t.start()
        deleted = set()
        try:
            while time.time() < stop:
                c = self.login(srv)
                lst = c.cmd_multi('LIST')[1]
                for line in lst[:3]:
                    num = int(line.split()[0])
                    m = c.retr(num)[1]
                    deleted.add(re.search(rb'<(\d+)@p23>', m).group(1))
                    c.cmd('DELE %d' % num)
                self.assertOK(c.cmd('QUIT'))
        finally:
            t.join()
        left = [re.search(rb'<(\d+)@p23>', m).group(1)
                for m in split_mbox(srv.read('alice'))]
        self.assertEqual(len(left), len(set(left)))
        self.assertEqual(set(left) | deleted,
                         {b'%d' % n for n in sent})
        self.assertFalse(set(left) & deleted)

    @p23.need('curl')
    def test_real_clients_same_octets(self):
        """poplib, curl and pop2get (--stdout, then --delete) get the same
        octets from one mbox; pop2get's ACKD empties it."""
        import poplib
        srv = self.mserver(pop2=True)
        msgs = [mbox_msg(1, body=b'.dot\n>From quoted\n'),
                mbox_msg(2, body=b'crlf\r\nend\r\n'),
                mbox_msg(3, extra=b'X-UIDL: old-server-7\n')]
        self.fill(srv, msgs)
        want = [p23.crlf(m[1]) for m in msgs]
        p = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        p.user('alice')
        p.pass_(srv.password('alice'))
        got = [b'\r\n'.join(p.retr(i)[1]) + b'\r\n' for i in (1, 2, 3)]
        self.assertEqual(got, want)
        self.assertEqual(p.uidl(3).split()[2], b'old-server-7')
        p.quit()
        for i in (1, 2, 3):
            r = subprocess.run(['curl', '-sS', '--max-time', '30', '-u',
                                'alice:' + srv.password('alice'),
                                'pop3://127.0.0.1:%d/%d' % (srv.pop3_port,
                                                            i)],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, want[i - 1])
        pw = os.path.join(srv.tmp, 'pw')
        with open(pw, 'w') as f:
            f.write(srv.password('alice') + '\n')
        r = subprocess.run([os.path.join(p23.BUILDDIR, 'pop2get'), '-h',
                            '127.0.0.1', '-p', str(srv.pop2_port), '-u',
                            'alice', '-P', pw, '--stdout', '--delete'],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b''.join(want))
        self.assertEqual(srv.read('alice'), b'')

    def test_kill9_during_update_replayed(self):
        cycles = int(os.environ.get('P23_MBOX_CYCLES', '1000' if
                                    os.environ.get('P23_LONG') else '40'))
        srv = self.mserver(conf={'mbox.fsync': 'no'})
        big = b'x' * 70 + b'\n'
        rnd = random.Random(8)
        outcome = {'kept': 0, 'removed': 0}
        for cycle in range(cycles):
            msgs = [mbox_msg(i, body=big * rnd.randint(1, 3000))
                    for i in range(1, 9)]
            data = self.fill(srv, msgs)
            dele = rnd.sample(range(1, 9), 3)
            c = self.login(srv)
            for d in dele:
                c.cmd('DELE %d' % d)
            pid = [p for p in srv.sessions()]
            c.send(b'QUIT\r\n')
            time.sleep(rnd.random() * 0.004)
            for p in pid:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            c.close()
            # the next login (replay, if a stage was left) sees either
            # everything or exactly the survivors; the killed session's
            # lock goes when the kernel has closed its files
            for _ in range(250):
                c = srv.conn()
                c.line()
                c.cmd('USER alice')
                r = c.cmd('PASS ' + srv.password('alice'))
                if r.startswith('+OK'):
                    break
                self.assertIn('[IN-USE]', r)
                c.close()
                time.sleep(0.02)
            n = int(c.cmd('STAT').split()[1])
            got = [c.retr(i)[1] for i in range(1, n + 1)]
            c.cmd('QUIT')
            keep = [p23.crlf(m[1]) for i, m in enumerate(msgs, 1)
                    if i not in dele]
            full = [p23.crlf(m[1]) for m in msgs]
            self.assertIn(got, (keep, full), 'cycle %d' % cycle)
            outcome['kept' if got == full else 'removed'] += 1
            on_disk = srv.read('alice')
            self.assertIn(on_disk, (data, b''.join(
                m[0] for i, m in enumerate(msgs, 1) if i not in dele)))
        replays = srv.log_text().count('finished an interrupted UPDATE')
        print('\nkill -9 during UPDATE: %d cycles, %d all kept, %d '
              'deletions done (%d by a replay at the next login), 0 lost, '
              '0 duplicated, 0 damaged' % (cycles, outcome['kept'],
                                           outcome['removed'], replays))


if __name__ == '__main__':
    p23.main()
