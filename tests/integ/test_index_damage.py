#!/usr/bin/env python3
# test_index_damage.py - the GDBM index is a cache that nothing may trust:
# whatever happens to the index file between two sessions, STAT, LIST,
# UIDL, LAST and RETR must give the same answers as with no index at all,
# in that session and in the next one (doc/DESIGN.md section 7).
#
# One server, one maildrop of a few dozen messages (LF, CRLF, no final
# newline, dot lines, an empty one, one over 64 KiB; keys that are valid
# UIDLs and keys that are not).  The truth is the transcript of a session
# with no index.  Then, for each variant, the pristine index file is
# damaged and written between sessions - bit flips anywhere or in the
# records, truncation, random bytes, zeroed 512/4096-octet blocks, two
# records' values swapped, one record's value copied to another key - and
# two sessions must each give the truth, byte for byte.
#
# P23_INDEX_VARIANTS (default 500) sets the number of variants, e.g.
# 10000 for a long run; P23_INDEX_SEED (default 1939) the random seed.
# GPL-3.0-or-later.

import hashlib
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

VARIANTS = int(os.environ.get('P23_INDEX_VARIANTS', '500'))
SEED = int(os.environ.get('P23_INDEX_SEED', '1939'))
# Wrong answers reported in detail (the rest are counted).
SHOW = 8


def messages():
    """[(name, subdir, bytes)] of the test maildrop, in list order."""
    bodies = []
    for i in range(12):
        bodies.append(p23.sized_message(120 + 37 * i, 'lf%d' % i))
    for i in range(6):
        bodies.append(p23.sized_message(140 + 29 * i, 'crlf%d' % i,
                                        lf=False))
    bodies += [
        b'Subject: no final newline\n\nlast line without one',
        b'Subject: crlf, no final newline\r\n\r\nlast line',
        b'Subject: dots\n\n.\n..\n.x\n...\n. \nend\n',
        b'Subject: dots crlf\r\n\r\n.\r\n..\r\nx.\r\n.',
        b'',
        b'\n',
        b'Subject: lone CR\n\na\rb\r\n\rc\n',
        b'Subject: mixed\r\n\nline\n\r\nline\r\n',
        b'Subject: big\n\n' + (b'y' * 77 + b'\n') * 900,
        b'Subject: nul\n\nbyte \x00 here\n',
    ]
    while len(bodies) < 36:
        bodies.append(p23.sized_message(200 + 11 * len(bodies),
                                        'more%d' % len(bodies)))
    odd_keys = [
        'x' * 80,                         # longer than a UIDL may be
        'has space',                      # 0x20 is not a UIDL octet
        os.fsdecode(b'caf\xc3\xa9'),      # nor is 0x80 and above
        'u' * 59,                         # exactly 70 with the prefix
        'tab\there',
    ]
    out = []
    ts = 1600000000
    for i, b in enumerate(bodies):
        ts += 1
        if i % 7 == 3:
            name = '%d.%s' % (ts, odd_keys[(i // 7) % len(odd_keys)])
        else:
            name = '%d.M%dP%d.damage.test' % (ts, i, 4000 + i)
        if i % 5 == 1:
            out.append((name + ':2,S', 'cur', b))    # seen: LAST
        elif i % 5 == 2:
            out.append((name + ':2,', 'cur', b))
        else:
            out.append((name, 'new', b))
    return out


def uidl_of(key):
    kb = os.fsencode(key)
    if 1 <= len(kb) <= 70 and all(0x21 <= c <= 0x7e for c in kb):
        return key
    return hashlib.md5(kb).hexdigest()


def record_spans(data, keys):
    """Where each key's live record is in the GDBM file DATA: {key: (key
    offset, value offset, value length)}.  GDBM 1.2x keeps key and value
    next to each other; the bucket element that points at them holds the
    offset (64 bits) and the key and value lengths (32 bits each)."""
    spans = {}
    for k in keys:
        gk = b'm:' + os.fsencode(k)
        at = data.find(gk)
        while at >= 0:
            el = data.find(struct.pack('<qi', at, len(gk)))
            if el >= 0:
                (dlen,) = struct.unpack_from('<i', data, el + 12)
                if 0 < dlen < 4096:
                    spans[k] = (at, at + len(gk), dlen)
                    break
            at = data.find(gk, at + 1)
    return spans


class Damage:
    """Makes damaged copies of one pristine index file."""

    KINDS = ('flip', 'flip-record', 'flip-value', 'truncate', 'random',
             'random-record', 'zero-512', 'zero-4096', 'swap', 'copy',
             'garbage')

    def __init__(self, pristine, keys, rnd):
        self.good = pristine
        self.rnd = rnd
        self.spans = record_spans(pristine, keys)
        by_len = {}
        for k, (ka, va, vl) in self.spans.items():
            by_len.setdefault(vl, []).append(k)
        self.same_len = [v for v in by_len.values() if len(v) >= 2]

    def variant(self, kind):
        """(damaged bytes, description)."""
        r = self.rnd
        d = bytearray(self.good)
        n = len(d)
        spans = list(self.spans.values())
        if kind in ('flip-record', 'flip-value', 'random-record') and \
                not spans:
            kind = 'flip'
        if kind in ('swap', 'copy') and not self.same_len:
            kind = 'flip'
        if kind == 'flip':
            offs = [r.randrange(n) for _ in range(r.randint(1, 4))]
            for o in offs:
                d[o] ^= 1 << r.randrange(8)
            return bytes(d), 'flip at %s' % offs
        if kind in ('flip-record', 'flip-value'):
            offs = []
            for _ in range(r.randint(1, 2)):
                ka, va, vl = r.choice(spans)
                o = r.randrange(ka, va + vl) if kind == 'flip-record' \
                    else r.randrange(va, va + vl)
                d[o] ^= 1 << r.randrange(8)
                offs.append(o)
            return bytes(d), '%s at %s' % (kind, offs)
        if kind == 'truncate':
            o = r.randrange(n)
            return bytes(d[:o]), 'truncated to %d of %d' % (o, n)
        if kind in ('random', 'random-record'):
            ln = r.randint(1, 64)
            if kind == 'random':
                o = r.randrange(n)
            else:
                ka, va, vl = r.choice(spans)
                o = r.randrange(ka, va + vl)
            ln = min(ln, n - o)
            d[o:o + ln] = bytes(r.getrandbits(8) for _ in range(ln))
            return bytes(d), '%d random octets at %d' % (ln, o)
        if kind in ('zero-512', 'zero-4096'):
            bs = 512 if kind == 'zero-512' else 4096
            o = r.randrange((n + bs - 1) // bs) * bs
            d[o:o + bs] = bytes(len(d[o:o + bs]))
            return bytes(d), 'zeroed %d octets at %d' % (bs, o)
        if kind == 'swap':
            a, b = r.sample(r.choice(self.same_len), 2)
            (_, va, vl), (_, vb, _) = self.spans[a], self.spans[b]
            d[va:va + vl], d[vb:vb + vl] = self.good[vb:vb + vl], \
                self.good[va:va + vl]
            return bytes(d), 'records of %r and %r swapped' % (a, b)
        if kind == 'copy':
            a, b = r.sample(r.choice(self.same_len), 2)
            (_, va, vl), (_, vb, _) = self.spans[a], self.spans[b]
            d[vb:vb + vl] = self.good[va:va + vl]
            return bytes(d), 'record of %r copied to %r' % (a, b)
        if kind == 'garbage':
            ln = r.choice((0, 1, 512, n))
            return bytes(r.getrandbits(8) for _ in range(ln)), \
                '%d random octets as the whole file' % ln
        raise ValueError(kind)


class IndexDamage(p23.TestCase):
    def setUp(self):
        self.srv = self.server()
        self.msgs = messages()
        md = self.srv.maildir('alice')
        for name, sub, data in self.msgs:
            path = os.path.join(md, sub, name)
            with open(path, 'wb') as f:
                f.write(data)
            os.chmod(path, 0o600)
            self.srv._own(path)
        self.keys = [n.split(':')[0] for n, s, d in self.msgs]
        self.index = self.srv.index_path('alice')
        n = len(self.msgs)
        self.script = ''.join(
            ['STAT\r\n', 'LIST\r\n', 'UIDL\r\n', 'LAST\r\n'] +
            ['RETR %d\r\n' % i for i in range(1, n + 1)] +
            ['LIST %d\r\nUIDL %d\r\n' % (i, i) for i in (1, n // 2, n)] +
            ['RSET\r\n', 'QUIT\r\n']).encode()

    def session(self):
        """The transcript of one session running self.script, pipelined
        after the login (None if the login failed)."""
        deadline = time.monotonic() + 5
        while True:
            c = self.srv.conn()
            try:
                r = c.login('alice', self.srv.password('alice'))
            except (OSError, EOFError):
                c.close()
                return None
            if r.startswith('+OK'):
                break
            c.close()
            if not r.startswith('-ERR [IN-USE]') or \
                    time.monotonic() > deadline:
                return None
            time.sleep(0.005)       # the last session is still exiting
        out = [c.buf]
        c.buf = b''
        try:
            c.send(self.script)
            c.sock.settimeout(10)
            while True:
                d = c.sock.recv(1 << 16)
                if not d:
                    break
                out.append(d)
            return b''.join(out)
        except OSError as e:
            return b''.join(out) + ('<%s>' % e).encode()
        finally:
            c.close()

    def check_truth(self, t):
        """The no-index transcript is itself right."""
        first = t.split(b'\r\n', 1)[0].decode()
        want = sum(len(p23.crlf(d)) for n, s, d in self.msgs)
        self.assertEqual(first, '+OK %d %d' % (len(self.msgs), want))
        for i, k in enumerate(self.keys):
            line = ('\r\n%d %s\r\n' % (i + 1, uidl_of(k))).encode(
                'utf-8', 'surrogateescape')
            self.assertIn(line, t)
        for n, s, d in self.msgs:
            self.assertIn(p23.stuff(p23.crlf(d)), t)

    def test_damaged_index_changes_no_answer(self):
        if os.path.exists(self.index):
            os.unlink(self.index)
        truth = self.session()
        self.assertIsNotNone(truth, 'login failed with no index')
        self.check_truth(truth)
        self.assertTrue(os.path.exists(self.index), 'no index written')
        with open(self.index, 'rb') as f:
            pristine = f.read()
        self.assertEqual(self.session(), truth, 'warm session differs')
        rnd = random.Random(SEED)
        dmg = Damage(pristine, self.keys, rnd)
        self.assertGreaterEqual(len(dmg.spans), len(self.keys) // 2,
                                'records not found in the index file')
        counts = dict.fromkeys(Damage.KINDS, 0)
        wrong = [0, 0]
        shown = []
        log_before = len(self.srv.log_text())
        t0 = time.monotonic()
        for v in range(VARIANTS):
            kind = Damage.KINDS[v % len(Damage.KINDS)]
            data, how = dmg.variant(kind)
            counts[kind] += 1
            with open(self.index, 'wb') as f:
                f.write(data)
            os.chmod(self.index, 0o600)
            self.srv._own(self.index)
            for s in (0, 1):
                got = self.session()
                if got == truth:
                    continue
                wrong[s] += 1
                if len(shown) < SHOW:
                    shown.append(self.describe(v, s, how, truth, got))
        took = time.monotonic() - t0
        log = self.srv.log_text()[log_before:]
        print('%d variants (seed %d, %s) in %.1f s: wrong answers in '
              'session 1: %d, session 2: %d; index rebuilt %d times, '
              'sessions that dropped damaged records: %d' % (
                  VARIANTS, SEED, ', '.join('%s %d' % kv
                                           for kv in counts.items()),
                  took, wrong[0], wrong[1],
                  log.count('starting an empty index'),
                  log.count('damaged record for')))
        self.assertEqual(wrong, [0, 0], '\n'.join(shown))
        self.assertTrue(self.srv.running(), 'master died')

    @staticmethod
    def describe(v, s, how, truth, got):
        if got is None:
            return 'variant %d (%s), session %d: login failed' % (v, how,
                                                                  s + 1)
        i = 0
        while i < min(len(truth), len(got)) and truth[i] == got[i]:
            i += 1
        a = truth.rfind(b'\n', 0, i) + 1
        return ('variant %d (%s), session %d: differs at octet %d of %d: '
                'want %r, got %r' % (v, how, s + 1, i, len(truth),
                                     truth[a:i + 40], got[a:i + 40]))


if __name__ == '__main__':
    p23.main()
