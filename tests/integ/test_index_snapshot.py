#!/usr/bin/env python3
# test_index_snapshot.py - the snapshot of the index's records
# (pop23d.index.snap beside pop23d.index, src/idxsnap.c; doc/DESIGN.md
# section 7, doc/SECURITY.md D7c) with the real daemon over sockets.
#
# A login to an unchanged index takes its records from the snapshot
# instead of walking GDBM; whatever happens to the snapshot or the index
# between sessions, every session must give the same STAT, LIST, UIDL,
# LAST and RETR answers as a session with no index at all:
#   - a warm login uses the snapshot (Maildir without size hints, and
#     mbox), with the answers of the walk;
#   - sessions that write (RETR marks a message read, DELE removes one)
#     one right after the other, in the same second: each next login sees
#     every change, from a snapshot its predecessor wrote at close;
#   - a snapshot kept from before a write and put back (stale), one
#     damaged, another user's, random octets, a FIFO, a symlink to a file
#     of root's: refused (logged), the walk answers, the next close
#     writes a good one;
#   - bit flips anywhere in the snapshot, half of them with its CRCs
#     made right again (P23_SNAP_VARIANTS, default 60): the truth in
#     that session and the next;
#   - a crash (SIGKILL, from the fault-injection shim) after the
#     session's index writes and before its new snapshot: the snapshot
#     is already gone, the next login walks and gives the truth.
# GPL-3.0-or-later.

import hashlib
import os
import random
import shutil
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'reliability'))
import p23  # noqa: E402
import crashlib  # noqa: E402
from test_mbox import MboxServer, mbox_msg  # noqa: E402

N = 60
FROM_SNAP = 'records from the snapshot'
REFUSED = 'snapshot '           # "index PATH: snapshot WHY; not used"


def snap_path(srv, user='alice'):
    return srv.index_path(user) + '.snap'


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


crc32c = p23.crc32c


def fix_crcs(snap):
    """SNAP (a bytearray) with its entries' and header's CRC-32C made
    right again, so that the checks behind them are reached."""
    struct.pack_into('>I', snap, 88, crc32c(snap[128:]))
    struct.pack_into('>I', snap, 124, crc32c(snap[:124]))
    return snap


class Snapshot(p23.TestCase):

    def make(self, start=True):
        srv = self.server(start=False)
        # names without size hints: every message has an index record
        for i in range(N):
            srv.add_message('alice', p23.sized_message(150 + 13 * i,
                                                       's%d' % i))
            srv.add_message('bob', p23.sized_message(170 + 7 * i,
                                                     'b%d' % i))
        if start:
            srv.start()
        return srv

    def answers(self, srv, user='alice', cmds=()):
        """STAT, LIST, UIDL, LAST and every message's hash (by TOP with
        all its lines, which does not mark it read), then CMDS (a RETR
        marks, a DELE removes), then QUIT."""
        c = self.login(srv, user)
        st = c.cmd('STAT')
        self.assertOK(st)
        n = int(st.split()[1])
        out = [st, c.cmd_multi('LIST')[1], c.cmd_multi('UIDL')[1],
               c.cmd('LAST')]
        out.append([hashlib.sha256(c.retr('%d 1000000' % i,
                                          cmd='TOP')[1]).hexdigest()
                    for i in range(1, n + 1)])
        for cmd in cmds:
            st = c.cmd(cmd)
            self.assertOK(st)
            if cmd.startswith('RETR'):
                c.multi_raw()
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        return out

    def count(self, srv, what):
        return srv.log_text().count(what)

    def truth(self, srv, user='alice'):
        """The answers with no index (nor snapshot) at all; the index is
        rebuilt by that session."""
        for p in (srv.index_path(user), snap_path(srv, user)):
            if os.path.lexists(p):
                os.unlink(p)
        return self.answers(srv, user)

    def session_from_snapshot(self, srv, user='alice', cmds=(),
                              expect=True):
        before = self.count(srv, FROM_SNAP)
        out = self.answers(srv, user, cmds)
        # the debug line is written before the greeting's +OK to PASS
        self.assertEqual(self.count(srv, FROM_SNAP) - before,
                         1 if expect else 0, srv.log_tail())
        return out

    # ------------------------------------------------------------------
    def test_warm_login_uses_snapshot(self):
        srv = self.make()
        a1 = self.answers(srv)
        self.assertTrue(os.path.exists(snap_path(srv)))
        st = os.stat(snap_path(srv))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        a2 = self.session_from_snapshot(srv)
        self.assertEqual(a2, a1)
        self.assertIn('index hits=%d misses=0' % N, srv.log_text())
        # no write, no new snapshot: the same file
        self.session_from_snapshot(srv)
        self.assertEqual(os.stat(snap_path(srv)).st_ino, st.st_ino)
        self.assertEqual(self.count(srv, REFUSED + 'does not'), 0)
        self.assertEqual(a1, self.truth(srv))

    def test_writes_in_the_same_second(self):
        """Each session marks one message read and deletes another; the
        next one, right after, sees both from the snapshot the previous
        close wrote (a write in the same second or clock tick as the
        previous snapshot cannot hide behind it)."""
        srv = self.make()
        self.answers(srv)
        for r in range(5):
            out = self.session_from_snapshot(
                srv, cmds=('RETR %d' % (r + 1), 'DELE %d' % (N - 2 * r)))
            # r sessions before this one each deleted one and read one
            self.assertEqual(out[0].split()[1], str(N - r))
            self.assertEqual(out[3], '+OK %d' % r)
        after = self.session_from_snapshot(srv)
        self.assertEqual(after[0].split()[1], str(N - 5))
        self.assertEqual(after[3], '+OK 5')
        self.assertEqual(self.count(srv, REFUSED), 0, srv.log_tail())
        self.assertEqual(after, self.truth(srv))

    def test_stale_copy_put_back(self):
        srv = self.make()
        self.answers(srv)
        old = os.path.join(srv.tmp, 'old.snap')
        shutil.copy2(snap_path(srv), old)
        self.session_from_snapshot(srv, cmds=('RETR 3', 'DELE 4'))
        shutil.copy2(old, snap_path(srv))
        srv._own(snap_path(srv))
        before = self.count(srv, REFUSED + 'does not describe')
        a = self.session_from_snapshot(srv, expect=False)
        self.assertEqual(self.count(srv, REFUSED + 'does not describe'),
                         before + 1, srv.log_tail())
        self.assertEqual(a[3], '+OK 3')
        self.assertEqual(a[0].split()[1], str(N - 1))
        self.session_from_snapshot(srv)         # a good one again
        self.assertEqual(a, self.truth(srv))

    def test_hostile_snapshots(self):
        srv = self.make()
        truth = self.answers(srv)
        self.answers(srv, 'bob')
        sp = snap_path(srv)
        good = read_bytes(sp)

        def put(data):
            if os.path.lexists(sp):
                os.unlink(sp)
            with open(sp, 'wb') as f:
                f.write(data)
            os.chmod(sp, 0o600)
            srv._own(sp)

        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x20
        cases = [
            ('damaged', lambda: put(bytes(bad))),
            ('another user', lambda: put(read_bytes(snap_path(srv,
                                                            'bob')))),
            ('random', lambda: put(os.urandom(len(good)))),
            ('header only', lambda: put(good[:128])),
            ('empty', lambda: put(b'')),
            ('fifo', lambda: (os.unlink(sp), os.mkfifo(sp, 0o600),
                              srv._own(sp))),
            ('symlink', lambda: (os.unlink(sp),
                                 os.symlink('/etc/passwd', sp))),
        ]
        for what, do in cases:
            with self.subTest(what):
                do()
                before = self.count(srv, REFUSED)
                a = self.session_from_snapshot(srv, expect=False)
                self.assertEqual(a, truth)
                self.assertEqual(self.count(srv, REFUSED), before + 1,
                                 srv.log_tail())
                # the next close wrote a good one
                self.assertEqual(self.session_from_snapshot(srv), truth)
        self.assertTrue(os.path.exists('/etc/passwd'))

    def test_damaged_variants(self):
        """Bit flips anywhere in the snapshot, half of them with the
        CRCs made right again (so a flip in a key, a value, a length or
        the file's identity gets past them): every session gives the
        truth, and so does the one after it."""
        variants = int(os.environ.get('P23_SNAP_VARIANTS', '60'))
        srv = self.make()
        truth = self.answers(srv)
        self.session_from_snapshot(srv)
        rng = random.Random(1939)
        used = self.count(srv, FROM_SNAP)
        for v in range(variants):
            # the snapshot of the index as it is now (each variant's
            # second session left a good one)
            good = read_bytes(snap_path(srv))
            self.assertEqual(crc32c(good[:124]),
                             struct.unpack('>I', good[124:128])[0])
            bad = bytearray(good)
            for _ in range(rng.choice((1, 1, 2, 8))):
                # a third of the flips in the header, the rest anywhere
                pos = rng.randrange(128) if rng.random() < 0.33 else \
                    rng.randrange(len(bad))
                bad[pos] ^= 1 << rng.randrange(8)
            if v % 2:
                fix_crcs(bad)
            os.unlink(snap_path(srv))
            with open(snap_path(srv), 'wb') as f:
                f.write(bad)
            os.chmod(snap_path(srv), 0o600)
            srv._own(snap_path(srv))
            with self.subTest(variant=v):
                self.assertEqual(self.answers(srv), truth)
                self.assertEqual(self.answers(srv), truth)
        # the second session of every variant read a good snapshot
        self.assertGreaterEqual(self.count(srv, FROM_SNAP) - used, variants)
        self.assertEqual(self.truth(srv), truth)

    @unittest.skipUnless(crashlib.shim_available(),
                         'tests/reliability/faultinj.so not built')
    def test_crash_before_the_new_snapshot(self):
        """SIGKILL right before the new snapshot is created (after the
        commit's index writes): no snapshot is left that could describe
        the old file, the next login walks and gives the truth."""
        cmds = ('RETR 2', 'DELE 5')

        def session_steps(srv, shim, mode, k=0):
            shim.set(mode, k=k, trace=True)
            c = self.login(srv)
            for cmd in cmds:
                self.assertOK(c.cmd(cmd))
                if cmd.startswith('RETR'):
                    c.multi_raw()
            c.send(b'QUIT\r\n')
            c.closed()
            c.close()
            shim.set('off')
            return shim.trace()

        # the same maildrop twice: one run to count the steps, one to
        # kill at the snapshot's creation
        ks = []
        for run in range(2):
            srv = self.make(start=False)
            shim = crashlib.Shim(srv, srv.tmp)
            srv.start()
            self.answers(srv)
            self.assertTrue(os.path.exists(snap_path(srv)))
            if run == 0:
                tr = session_steps(srv, shim, 'count')
                opens = [t for t in tr if t[2] == 'open' and
                         t[4].endswith('pop23d.index.snap.tmp')]
                self.assertEqual(len(opens), 1, tr)
                ks.append(opens[0][1])
                # it was the last thing: the snapshot was unlinked
                # before the first index write of the session
                unl = [t for t in tr if t[2] == 'unlink' and
                       t[4].endswith('pop23d.index.snap')]
                writes = [t for t in tr if t[4].endswith('pop23d.index')
                          and t[2] in ('write', 'pwrite')]
                self.assertTrue(unl and writes, tr)
                self.assertLess(unl[0][1], writes[0][1])
                continue
            tr = session_steps(srv, shim, 'kill', ks[0])
            self.assertFalse(os.path.exists(snap_path(srv)))
            self.assertFalse(os.path.exists(snap_path(srv) + '.tmp'))
            a = self.session_from_snapshot(srv, expect=False)
            self.assertEqual(a[0].split()[1], str(N - 1))
            self.assertEqual(a[3], '+OK 2')
            b = self.session_from_snapshot(srv)
            self.assertEqual(a, b)
            self.assertEqual(a, self.truth(srv))


class MboxSnapshot(p23.TestCase):

    def test_mbox_warm_login(self):
        srv = MboxServer()
        self.addCleanup(srv.cleanup)
        msgs = [mbox_msg(i) for i in range(1, 41)]
        with open(srv.mbox('alice'), 'ab') as f:
            f.write(b''.join(m[0] for m in msgs))

        def answers():
            c = self.login(srv)
            out = [c.cmd('STAT'), c.cmd_multi('LIST')[1],
                   c.cmd_multi('UIDL')[1]]
            out.append([hashlib.sha256(c.retr(i)[1]).hexdigest()
                        for i in range(1, 41)])
            self.assertOK(c.cmd('QUIT'))
            self.assertTrue(c.closed())
            return out

        a1 = answers()
        before = srv.log_text().count(FROM_SNAP)
        a2 = answers()
        self.assertEqual(a2, a1)
        # the first session's RETRs marked every message accessed (a
        # write at QUIT): its close wrote the snapshot the second used
        self.assertEqual(srv.log_text().count(FROM_SNAP), before + 1,
                         srv.log_tail())
        self.assertEqual(a1[0].split()[1], '40')

    def test_mbox_over_100000_messages(self):
        """The table and its snapshot hold a maildrop larger than the
        100 000 messages the server is sized for (with the first bound,
        8 MiB, the table of 120 000 mbox records overflowed during the
        walk, no snapshot was written and every warm login walked
        GDBM)."""
        n = P23_BIG
        srv = MboxServer()
        self.addCleanup(srv.cleanup)
        with open(srv.mbox('alice'), 'ab') as f:
            f.write(b''.join(b'From s@p23 Mon Dec  7 10:00:00 2026\n'
                             b'Subject: %d\n\nb\n\n' % i
                             for i in range(n)))

        def answers():
            c = self.login(srv, timeout=120)
            out = [c.cmd('STAT'), c.cmd_multi('LIST')[1],
                   c.cmd_multi('UIDL')[1], c.retr(n)[1]]
            self.assertOK(c.cmd('QUIT'))
            self.assertTrue(c.closed())
            return out

        a1 = answers()      # builds the index; RETR n marks one read
        self.assertEqual(a1[0].split()[1], str(n))
        self.assertEqual(a1[3], b'Subject: %d\r\n\r\nb\r\n' % (n - 1))
        self.assertGreater(os.path.getsize(srv.index_path('alice')),
                           8 << 20)
        self.assertTrue(os.path.exists(snap_path(srv)), srv.log_tail())
        before = srv.log_text().count(FROM_SNAP)
        a2 = answers()
        self.assertEqual(srv.log_text().count(FROM_SNAP), before + 1,
                         srv.log_tail())
        self.assertEqual(a2, a1)


# messages in test_mbox_over_100000_messages
P23_BIG = int(os.environ.get('P23_SNAP_BIG', '120000'))


if __name__ == '__main__':
    unittest.main()
