#!/usr/bin/env python3
# test_list_record.py - the Maildir listing record (pop23d.list,
# plugins/maildir_list.c): a login into a Maildir whose new/ and cur/ have
# not changed since the last full scan takes the list from the record and
# reads no directory, and any change is seen.
#
# Against the real daemon over sockets, 1 200 messages (the record is
# kept from 1 000 names on):
#   - a settled Maildir (nothing changed for more than 2 s): the first
#     login scans and writes the record, the second takes its list from it
#     (the debug line), with the same STAT, LIST and UIDL;
#   - a delivery into new/ right after (in the same second: a "racy"
#     directory) is seen at once, and the stale record is removed;
#   - another reader's rename in cur/ (a flag) and removal are seen;
#   - RETR, DELE + QUIT by pop23d itself on a list from the record: the
#     read message is renamed (":2,S"), the next login lists one fewer;
#   - a damaged record (one octet changed) is logged and the list is
#     scanned: the same messages;
#   - [maildir] list_record = no: no record is written or read.
# GPL-3.0-or-later.

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

N = 1200
FROM_RECORD = 'names from the listing record'


def name_for(i, data):
    return '%d.M%dP%d.lr,S=%d,W=%d' % (1700000100 + i, i, 5000 + i,
                                        len(data), len(p23.crlf(data)))


class ListRecord(p23.TestCase):

    def make(self, conf=None):
        self.srv = self.server(conf=conf)
        self.data = [p23.sized_message(200 + (i % 50), 'l%d' % i)
                     for i in range(N)]
        for i, d in enumerate(self.data):
            self.srv.add_message('alice', d, subdir='cur',
                                 name=name_for(i, d) + ':2,')
        self.md = self.srv.maildir('alice')
        self.rec = os.path.join(self.md, 'pop23d.list')

    def settle(self):
        # the record is made only by a scan that begins more than 2 s
        # after the last change of new/ and cur/
        time.sleep(3.2)

    def session(self, cmds=()):
        c = self.login(self.srv)
        st = c.cmd('STAT')
        self.assertOK(st)
        s, lines = c.cmd_multi('UIDL')
        self.assertOK(s)
        s, sizes = c.cmd_multi('LIST')
        self.assertOK(s)
        for cmd in cmds:
            self.assertOK(c.cmd(cmd))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        return st, lines, sizes

    def from_record_count(self):
        return self.srv.log_text().count(FROM_RECORD)

    def wait_log_count(self, n):
        p23.wait_until(lambda: self.from_record_count() >= n, 5)
        return self.from_record_count()

    def test_record_used_and_every_change_seen(self):
        self.make()
        self.settle()
        st1, uidl1, list1 = self.session()
        self.assertEqual(st1.split()[1], str(N))
        self.assertTrue(os.path.exists(self.rec))
        self.assertEqual(self.from_record_count(), 0)
        st2, uidl2, list2 = self.session()
        self.assertEqual(self.wait_log_count(1), 1)
        self.assertEqual((st1, uidl1, list1), (st2, uidl2, list2))
        # a delivery into new/ at once (racy): seen, record dropped
        d = p23.sized_message(321, 'late')
        key = self.srv.add_message('alice', d)
        st3, uidl3, _ = self.session()
        self.assertEqual(st3.split()[1], str(N + 1))
        self.assertIn(key, [l.split()[1] for l in uidl3])
        self.assertEqual(self.from_record_count(), 1)
        self.assertFalse(os.path.exists(self.rec))
        # settled again: recorded, then used; then another reader
        # renames one message (a flag) and removes another
        self.settle()
        self.session()
        self.session()
        self.assertEqual(self.wait_log_count(2), 2)
        cur = os.path.join(self.md, 'cur')
        n0 = name_for(0, self.data[0])
        os.rename(os.path.join(cur, n0 + ':2,'),
                  os.path.join(cur, n0 + ':2,S'))
        os.unlink(os.path.join(cur, name_for(1, self.data[1]) + ':2,'))
        st4, uidl4, _ = self.session()
        self.assertEqual(st4.split()[1], str(N))
        keys4 = [l.split()[1] for l in uidl4]
        self.assertNotIn(name_for(1, self.data[1]), keys4)
        self.assertIn(n0, keys4)
        self.assertEqual(self.from_record_count(), 2)
        # pop23d's own DELE: the next login lists one fewer
        self.settle()
        self.session()                          # records
        # from the record: read message 2 (renamed to ":2,S" at QUIT)
        # and delete message 1
        c = self.login(self.srv)
        st, body = c.retr(2)
        self.assertEqual(body, p23.crlf(self.data[2]))
        self.assertOK(c.cmd('DELE 1'))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())
        self.assertEqual(self.wait_log_count(3), 3)
        n2 = name_for(2, self.data[2])
        self.assertTrue(os.path.exists(os.path.join(cur, n2 + ':2,S')))
        self.assertFalse(os.path.exists(os.path.join(cur, n2 + ':2,')))
        st5, uidl5, _ = self.session()
        self.assertEqual(st5.split()[1], str(N - 1))
        self.assertNotIn(n0, [l.split()[1] for l in uidl5])
        self.assertEqual(self.from_record_count(), 3)

    def test_damaged_record(self):
        self.make()
        self.settle()
        st1, uidl1, list1 = self.session()
        with open(self.rec, 'r+b') as f:
            f.seek(os.path.getsize(self.rec) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x20]))
        st2, uidl2, list2 = self.session()
        self.assertEqual((st1, uidl1, list1), (st2, uidl2, list2))
        p23.wait_until(lambda: 'listing record is damaged' in
                       self.srv.log_text(), 5)
        self.assertIn('listing record is damaged', self.srv.log_text())
        self.assertEqual(self.from_record_count(), 0)

    def test_off(self):
        self.make(conf={'maildir.list_record': 'no'})
        self.settle()
        st1, uidl1, _ = self.session()
        st2, uidl2, _ = self.session()
        self.assertEqual((st1, uidl1), (st2, uidl2))
        self.assertFalse(os.path.exists(self.rec))
        self.assertEqual(self.from_record_count(), 0)


if __name__ == '__main__':
    unittest.main()
