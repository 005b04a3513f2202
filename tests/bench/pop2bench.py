#!/usr/bin/env python3
# pop2bench.py - POP2 and POP3 session rate on the same maildrops, from
# one run of one tool, so the two numbers can be compared (target in
# doc/PERFORMANCE.md: POP2 within 10 % of POP3 for the same work).
# GPL-3.0-or-later.
#
# Work per session (every message is fetched and verified):
#   pop2: connect, greeting, HELO, then for every message READ n, RETR
#         (exactly =n octets), ACKS; QUIT.          (fetchmail's dialogue)
#   pop2 --pop2-style ack: READ 1 once, then RETR and ACKS, whose "=n"
#         already announces the next message (one round trip less).
#   pop3: connect, greeting, USER, PASS, STAT, RETR n for every message
#         (dot-unstuffed), QUIT.
# Each message's size is checked against the table built before timing
# (POP3 LIST; POP2 READ must give the same numbers).  No deletions.
# Thread i serves users i, i+T, i+2T ... so no two concurrent sessions
# want the same maildrop lock.
#
# Usage:
#   pop2bench.py --self [--users 32 --msgs 20 --min 1024 --max 102400]
#                [-c 8] [-t 10] [-n 0] [--proto both|pop2|pop3]
#       starts its own pop23d (POP23D_BUILDDIR, POP23D_PLUGINDIR as for
#       the integration tests; no debug logging) on generated maildrops.
#   pop2bench.py --host H --pop2-port P --pop3-port Q --user-file F ...
#       against a running server; F has "user:password" lines.
# Output: one line per protocol and style,
#   RESULT proto=pop2 style=fetchmail threads=8 secs=10.00 sessions=...
#          sess_per_s=... msgs_per_s=... mb_per_s=... errors=0
# then "RATIO pop2/pop3=..." when both ran.  Exit 1 if any session failed.

import argparse
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integ'))

WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do '
         'eiusmod tempor incididunt ut labore et dolore magna aliqua pop2 '
         'mail folder retr acks read quit').split()


class BenchError(Exception):
    pass


# ------------------------------------------------------------------ I/O
class Reader:
    """Buffered reads on a blocking socket with a timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _more(self):
        d = self.sock.recv(262144)
        if not d:
            raise BenchError('connection closed by server')
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b'\n')
            if i >= 0:
                l = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return l.rstrip(b'\r\n')
            if len(self.buf) > 4096:
                raise BenchError('reply line too long')
            self._more()

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def multiline(self):
        """Up to and including CRLF.CRLF (the status line already read);
        returns the body before the terminator, still stuffed."""
        start = 0
        while True:
            i = self.buf.find(b'\r\n.\r\n', start)
            if i >= 0:
                body = bytes(self.buf[:i + 2])
                del self.buf[:i + 5]
                return body
            if self.buf.startswith(b'.\r\n'):
                del self.buf[:3]
                return b''
            start = max(0, len(self.buf) - 4)
            self._more()


def connect(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def pop2_quote(s):
    return s.replace('\\', '\\\\').replace(' ', '\\ ').encode()


def number(line, ind):
    m = re.match(rb'^' + re.escape(ind) + rb'(\d+)(?: |$)', line)
    if not m:
        raise BenchError('expected %sn, got %r' % (ind.decode(), line[:80]))
    return int(m.group(1))


# ------------------------------------------------------------- sessions
def pop2_session(host, port, user, pw, sizes, style, timeout):
    """One POP2 session; returns (messages, octets)."""
    s = connect(host, port, timeout)
    try:
        r = Reader(s)
        g = r.line()
        if not g.startswith(b'+ POP2'):
            raise BenchError('greeting %r' % g[:80])
        s.sendall(b'HELO %s %s\r\n' % (pop2_quote(user), pop2_quote(pw)))
        count = number(r.line(), b'#')
        if count != len(sizes):
            raise BenchError('%s: #%d, expected %d' % (user, count,
                                                       len(sizes)))
        octets = 0
        if style == 'ack' and count > 0:
            s.sendall(b'READ 1\r\n')
            size = number(r.line(), b'=')
        for n in range(1, count + 1):
            if style != 'ack':
                s.sendall(b'READ %d\r\n' % n)
                size = number(r.line(), b'=')
            if size != sizes[n - 1]:
                raise BenchError('%s msg %d: =%d, expected %d'
                                 % (user, n, size, sizes[n - 1]))
            s.sendall(b'RETR\r\n')
            data = r.exact(size)
            if not data.endswith(b'\r\n'):
                raise BenchError('%s msg %d: no final CRLF' % (user, n))
            octets += size
            s.sendall(b'ACKS\r\n')
            size = number(r.line(), b'=')
        s.sendall(b'QUIT\r\n')
        if not r.line().startswith(b'+'):
            raise BenchError('QUIT refused')
        return count, octets
    finally:
        s.close()


def pop3_session(host, port, user, pw, sizes, timeout):
    """One POP3 session doing the same work; returns (messages, octets)."""
    s = connect(host, port, timeout)
    try:
        r = Reader(s)
        if not r.line().startswith(b'+OK'):
            raise BenchError('greeting')
        s.sendall(b'USER %s\r\n' % user.encode())
        if not r.line().startswith(b'+OK'):
            raise BenchError('USER refused')
        s.sendall(b'PASS %s\r\n' % pw.encode())
        l = r.line()
        if not l.startswith(b'+OK'):
            raise BenchError('PASS refused: %r' % l[:80])
        s.sendall(b'STAT\r\n')
        l = r.line()
        m = re.match(rb'^\+OK (\d+) (\d+)', l)
        if not m or int(m.group(1)) != len(sizes):
            raise BenchError('%s: STAT %r, expected %d messages'
                             % (user, l[:80], len(sizes)))
        octets = 0
        for n in range(1, len(sizes) + 1):
            s.sendall(b'RETR %d\r\n' % n)
            l = r.line()
            if not l.startswith(b'+OK'):
                raise BenchError('RETR %d: %r' % (n, l[:80]))
            body = r.multiline()
            # unstuffed length: every stuffed line start lost one '.'
            size = len(body) - body.count(b'\r\n..') - \
                (1 if body.startswith(b'..') else 0)
            if size != sizes[n - 1]:
                raise BenchError('%s msg %d: %d octets, expected %d'
                                 % (user, n, size, sizes[n - 1]))
            octets += size
        s.sendall(b'QUIT\r\n')
        if not r.line().startswith(b'+OK'):
            raise BenchError('QUIT refused')
        return len(sizes), octets
    finally:
        s.close()


def pop3_sizes(host, port, user, pw, timeout):
    """The LIST table of USER (before timing)."""
    s = connect(host, port, timeout)
    try:
        r = Reader(s)
        r.line()
        s.sendall(b'USER %s\r\nPASS %s\r\nLIST\r\nQUIT\r\n'
                  % (user.encode(), pw.encode()))
        for _ in range(2):
            l = r.line()
            if not l.startswith(b'+OK'):
                raise BenchError('%s: login refused: %r' % (user, l[:80]))
        if not r.line().startswith(b'+OK'):
            raise BenchError('LIST refused')
        sizes = [int(l.split()[1]) for l in
                 r.multiline().decode().splitlines()]
        r.line()
        return sizes
    finally:
        s.close()


def pop2_sizes(host, port, user, pw, timeout):
    s = connect(host, port, timeout)
    try:
        r = Reader(s)
        r.line()
        s.sendall(b'HELO %s %s\r\n' % (pop2_quote(user), pop2_quote(pw)))
        count = number(r.line(), b'#')
        out = []
        for n in range(1, count + 1):
            s.sendall(b'READ %d\r\n' % n)
            out.append(number(r.line(), b'='))
        s.sendall(b'QUIT\r\n')
        r.line()
        return out
    finally:
        s.close()


# --------------------------------------------------------------- timing
def run_phase(name, fn, users, threads, secs, limit):
    """Run FN(user) in THREADS threads for SECS seconds or LIMIT sessions
    in total (0: no limit).  Returns a result dict."""
    stop = time.monotonic() + secs
    lock = threading.Lock()
    total = {'sessions': 0, 'msgs': 0, 'octets': 0, 'errors': 0,
             'first_error': None}

    def worker(i):
        mine = users[i::threads]
        k = 0
        while time.monotonic() < stop:
            with lock:
                if limit and total['sessions'] + total['errors'] >= limit:
                    return
            u = mine[k % len(mine)]
            k += 1
            try:
                m, o = fn(u)
            except (BenchError, OSError) as e:
                with lock:
                    total['errors'] += 1
                    if total['first_error'] is None:
                        total['first_error'] = '%s: %s' % (u[0], e)
                continue
            with lock:
                total['sessions'] += 1
                total['msgs'] += m
                total['octets'] += o

    ts = [threading.Thread(target=worker, args=(i,), daemon=True)
          for i in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(secs + 120)
    el = time.monotonic() - t0
    total['secs'] = el
    total['name'] = name
    return total


def report(name, style, threads, res):
    el = res['secs']
    print('RESULT proto=%s style=%s threads=%d secs=%.2f sessions=%d '
          'sess_per_s=%.1f msgs_per_s=%.1f mb_per_s=%.2f errors=%d'
          % (name, style, threads, el, res['sessions'],
             res['sessions'] / el, res['msgs'] / el,
             res['octets'] / el / 1e6, res['errors']))
    if res['first_error']:
        print('# first error: %s' % res['first_error'])
    sys.stdout.flush()


# ------------------------------------------------------------ self mode
def make_message(rng, user, idx, target):
    head = ('From: Sender <sender%d@example.org>\nTo: %s@example.net\n'
            'Subject: pop2bench message %d\nMessage-ID: <%s.%d@bench>\n\n'
            % (idx % 7, user, idx, user, idx))
    out, size = [head], len(head)
    while size < target:
        r = rng.random()
        if r < 0.02:
            line = '.'
        elif r < 0.05:
            line = '..' + ' '.join(rng.choice(WORDS) for _ in range(5))
        else:
            line = ' '.join(rng.choice(WORDS)
                            for _ in range(rng.randint(3, 12)))
        out.append(line + '\n')
        size += len(line) + 1
    return ''.join(out).encode()


def start_self(args):
    """A p23.Server with generated maildrops, running without -d."""
    import p23
    users = {'bench%d' % i: 'benchpw%d' % i for i in range(1, args.users + 1)}
    srv = p23.Server(users=users, pop2=True, start=False,
                     conf={'max_per_ip': 100000, 'max_sessions': 100000})
    rng = random.Random(args.seed)
    lo, hi = math.log(args.min), math.log(args.max)
    for u in sorted(users):
        for i in range(args.msgs):
            srv.add_message(u, make_message(
                rng, u, i, int(math.exp(rng.uniform(lo, hi)))))
    log = open(srv.log_path, 'ab')
    srv.proc = subprocess.Popen([srv.binary, '-f', '-c', srv.conf_path],
                                stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, cwd=srv.tmp)
    log.close()
    srv.pid = srv.proc.pid
    deadline = time.monotonic() + 10
    while True:
        ports = srv._read_ports()
        if ports and len(ports) >= 2:
            break
        if srv.proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit('pop23d did not start:\n' + srv.log_tail())
        time.sleep(0.02)
    srv.ports = ports
    srv.pop3_port = next(p for pr, a, p in ports if pr == 'pop3')
    srv.pop2_port = next(p for pr, a, p in ports if pr == 'pop2')
    return srv, sorted(users.items())


def main():
    ap = argparse.ArgumentParser(description='POP2 vs POP3 session rate')
    ap.add_argument('--self', action='store_true',
                    help='start a pop23d of our own on generated maildrops')
    ap.add_argument('--users', type=int, default=32)
    ap.add_argument('--msgs', type=int, default=20)
    ap.add_argument('--min', type=int, default=1024)
    ap.add_argument('--max', type=int, default=102400)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--pop2-port', type=int)
    ap.add_argument('--pop3-port', type=int)
    ap.add_argument('--user-file', help='"user:password" lines')
    ap.add_argument('-c', '--threads', type=int, default=8)
    ap.add_argument('-t', '--secs', type=float, default=10.0)
    ap.add_argument('-n', '--count', type=int, default=0,
                    help='stop after this many sessions per phase')
    ap.add_argument('--proto', choices=('both', 'pop2', 'pop3'),
                    default='both')
    ap.add_argument('--pop2-style', choices=('fetchmail', 'ack', 'both'),
                    default='fetchmail')
    ap.add_argument('--rounds', type=int, default=1,
                    help='alternate the phases this many times')
    ap.add_argument('--timeout', type=float, default=30.0)
    args = ap.parse_args()

    srv = None
    if args.self:
        srv, users = start_self(args)
        host, p2, p3 = '127.0.0.1', srv.pop2_port, srv.pop3_port
    else:
        if not args.user_file or not (args.pop2_port or args.pop3_port):
            ap.error('give --self, or --user-file and the ports')
        with open(args.user_file) as f:
            users = [tuple(l.rstrip('\n').split(':', 1)) for l in f
                     if ':' in l]
        host, p2, p3 = args.host, args.pop2_port, args.pop3_port
    if len(users) < args.threads:
        ap.error('need at least as many users as threads (locks)')
    rc = 0
    try:
        # Size tables (and the warm-up: indexes built, accessed state
        # settled by one session per protocol and user).
        table = {}
        for u, pw in users:
            s3 = pop3_sizes(host, p3, u, pw, args.timeout) if p3 else None
            s2 = pop2_sizes(host, p2, u, pw, args.timeout) if p2 else None
            if s3 is not None and s2 is not None and s3 != s2:
                raise SystemExit('%s: POP2 sizes %r != POP3 LIST %r'
                                 % (u, s2[:5], s3[:5]))
            table[u] = s3 if s3 is not None else s2
        for u, pw in users:
            if p2:
                pop2_session(host, p2, u, pw, table[u], 'fetchmail',
                             args.timeout)
            if p3:
                pop3_session(host, p3, u, pw, table[u], args.timeout)
        nmsg = sum(len(v) for v in table.values())
        print('# %d users, %d messages, %.1f MB (CRLF); %d threads, %.0f s'
              ' per phase' % (len(users), nmsg,
                              sum(sum(v) for v in table.values()) / 1e6,
                              args.threads, args.secs))
        styles = ['fetchmail', 'ack'] if args.pop2_style == 'both' \
            else [args.pop2_style]
        rates = {}
        for _ in range(args.rounds):
            phases = []
            if args.proto in ('both', 'pop3') and p3:
                phases.append(('pop3', '-', lambda up: pop3_session(
                    host, p3, up[0], up[1], table[up[0]], args.timeout)))
            if args.proto in ('both', 'pop2') and p2:
                for st in styles:
                    phases.append(('pop2', st, lambda up, st=st:
                                   pop2_session(host, p2, up[0], up[1],
                                                table[up[0]], st,
                                                args.timeout)))
            for name, st, fn in phases:
                res = run_phase(name, fn, users, args.threads, args.secs,
                                args.count)
                report(name, st, args.threads, res)
                rates.setdefault((name, st), []).append(
                    res['sessions'] / res['secs'])
                if res['errors']:
                    rc = 1
        if ('pop3', '-') in rates:
            base = sum(rates[('pop3', '-')]) / len(rates[('pop3', '-')])
            for (name, st), v in sorted(rates.items()):
                if name == 'pop2' and base > 0:
                    print('RATIO pop2/pop3 style=%s %.3f'
                          % (st, (sum(v) / len(v)) / base))
    finally:
        if srv is not None:
            srv.cleanup()
    return rc


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
