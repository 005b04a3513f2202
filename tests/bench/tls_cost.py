#!/usr/bin/env python3
# tls_cost.py - what TLS costs pop23d, in CPU time the kernel counted
# (/proc/PID/schedstat, nanoseconds; /proc/PID/stat for reaped children)
# and memory (/proc/PID/smaps_rollup), not in wall-clock throughput: the
# figures do not depend on what else the machine runs.  doc/PERFORMANCE.md
# ("TLS") records a run.  GPL-3.0-or-later.
#
#   POP23D_BUILDDIR=_build python3 tests/bench/tls_cost.py [-n N] [-m MB]
#
# 1. the pre-auth process's CPU from accept to the greeting: plaintext, a
#    full TLS 1.3 handshake (EC P-256 and RSA-2048 certificates), a
#    resumed one (ticket), TLS 1.2;
# 2. all the CPU of a connection (every process of it, reaped: the
#    master's cutime + cstime) for N logins (greeting, USER, PASS, STAT,
#    QUIT) in each mode;
# 3. the TLS proxy: its CPU per MiB of RETR, and the session's CPU for
#    the same RETR with and without TLS;
# 4. memory (Pss) of an idle logged-in session, and of its proxy.
import argparse
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integ'))
import p23  # noqa: E402
import profsetup as ps  # noqa: E402

TICK_NS = 1e9 / os.sysconf('SC_CLK_TCK')


def make_pki(d):
    """A test CA, and an EC P-256 and an RSA-2048 server certificate:
    d/ec.pem, d/ec.key, d/rsa.pem, d/rsa.key."""
    ps.make_ca(d)
    for name, key in (('ec', ps.EC_P256), ('rsa', ps.RSA_2048)):
        ps.make_cert(d, name, key)


def cpu_ns(pid):
    with open('/proc/%d/schedstat' % pid) as f:
        return int(f.read().split()[0])


def children_ns(pid):
    with open('/proc/%d/stat' % pid) as f:
        s = f.read()
    rest = s[s.rfind(')') + 2:].split()
    return (int(rest[13]) + int(rest[14])) * TICK_NS   # cutime, cstime


def pss_kb(pid):
    with open('/proc/%d/smaps_rollup' % pid) as f:
        for line in f:
            if line.startswith('Pss:'):
                return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, srv, ca):
        self.srv = srv
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx12 = ssl.create_default_context(cafile=ca)
        self.ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        self.session = None

    def monitor_of(self, before):
        """The new connection's monitor, and its pre-auth child."""
        def find():
            for p in self.srv.sessions():
                st = p23.proc_stat(p)
                if st and st[0] == self.srv.pid and p not in before:
                    kids = [k for k in self.srv.sessions()
                            if p23.proc_stat(k) and
                            p23.proc_stat(k)[0] == p]
                    if kids:
                        return p, kids[0]
            return None
        return p23.wait_until(find, 5)

    def connect(self, mode):
        """A Conn past the greeting (and STLS) in MODE."""
        before = set(self.srv.sessions())
        port = self.srv.port('pop3s') if mode.startswith('pop3s') else \
            self.srv.pop3_port
        raw = socket.create_connection(('127.0.0.1', port), timeout=30)
        c = p23.Conn.__new__(p23.Conn)
        c.timeout, c.buf, c.eof = 30, b'', False
        c.greeting = c.login_reply = None
        if mode == 'plain':
            c.sock = raw
        elif mode == 'stls':
            c.sock = raw
            assert c.line().startswith('+OK')
            assert c.cmd('STLS').startswith('+OK')
            c.sock = self.ctx.wrap_socket(raw, server_hostname='localhost')
            c.send(b'CAPA\r\n')
            c.line()
            c.multi()
            return c, self.monitor_of(before)
        else:
            ctx = self.ctx12 if mode == 'pop3s-tls12' else self.ctx
            sess = self.session if mode == 'pop3s-resumed' else None
            c.sock = ctx.wrap_socket(raw, server_hostname='localhost',
                                     session=sess)
        assert c.line().startswith('+OK')
        if mode == 'pop3s':
            # a TLS 1.3 ticket arrives after the handshake
            c.send(b'CAPA\r\n')
            c.line()
            c.multi()
            self.session = c.sock.session
        if mode == 'pop3s-resumed':
            assert c.sock.session_reused
        return c, self.monitor_of(before)


def median_us(xs):
    return statistics.median(xs) / 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=100, help='logins per mode')
    ap.add_argument('-m', type=int, default=32, help='MiB to RETR')
    a = ap.parse_args()
    pki = tempfile.mkdtemp(prefix='p23bench-')
    os.chmod(pki, 0o755)
    make_pki(pki)
    for cert in ('ec', 'rsa'):
        srv = p23.Server(conf={'tls_cert': '%s/%s.pem' % (pki, cert),
                               'tls_key': '%s/%s.key' % (pki, cert),
                               'debug': None}, start=False)
        srv.extra_listen = ['pop3s 127.0.0.1:0']
        srv.write_config()
        srv.add_message('alice', b'Subject: small\n\nhello\n')
        try:
            srv.start()
            run_cert(srv, Bench(srv, pki + '/ca.pem'), cert, a)
        finally:
            srv.cleanup()
    subprocess.run(['rm', '-rf', pki])


def run_cert(srv, b, cert, a):
    modes = ['plain', 'stls', 'pop3s', 'pop3s-resumed', 'pop3s-tls12']
    print('== certificate: %s' % ('EC P-256' if cert == 'ec' else
                                  'RSA 2048'))
    # 1. the pre-auth process up to the greeting (and CAPA)
    print('pre-auth CPU to the first reply (median of %d), microseconds:'
          % a.n)
    for mode in modes:
        xs = []
        for _ in range(a.n):
            c, (mon, child) = b.connect(mode)
            xs.append(cpu_ns(child))
            c.cmd('QUIT')
            c.close()
        print('  %-14s %8.0f' % (mode, median_us(xs)))
    # 2. every process of a connection, for a whole login
    p23.wait_until(lambda: srv.sessions() == [], 10)
    print('whole connection CPU (all its processes, %d logins), '
          'microseconds each:' % a.n)
    for mode in modes:
        t0 = children_ns(srv.pid)
        for _ in range(a.n):
            c, _pids = b.connect(mode)
            c.cmd('USER alice')
            assert c.cmd('PASS alicepw').startswith('+OK')
            c.cmd('STAT')
            c.cmd('QUIT')
            c.closed(10)
            c.close()
        p23.wait_until(lambda: srv.sessions() == [], 10)
        time.sleep(0.2)
        print('  %-14s %8.0f' % (mode, (children_ns(srv.pid) - t0) /
                                 a.n / 1000))
    # 3. bulk RETR through the proxy
    size = a.m << 20
    line = b'x' * 74 + b'\r\n'
    body = b'Subject: big\r\n\r\n' + line * (size // len(line))
    for f in os.listdir(os.path.join(srv.maildir('alice'), 'new')):
        os.unlink(os.path.join(srv.maildir('alice'), 'new', f))
    for f in os.listdir(os.path.join(srv.maildir('alice'), 'cur')):
        os.unlink(os.path.join(srv.maildir('alice'), 'cur', f))
    srv.add_message('alice', body)
    print('RETR of %d MiB:' % a.m)
    for mode in ('plain', 'pop3s'):
        c, (mon, child) = b.connect(mode)
        c.cmd('USER alice')
        assert c.cmd('PASS alicepw').startswith('+OK')
        session = mon
        proxy = child if mode != 'plain' else None
        s0 = cpu_ns(session)
        p0 = cpu_ns(proxy) if proxy else 0
        t0 = time.monotonic()
        st, got = c.retr(1)
        wall = time.monotonic() - t0
        assert got == body, (len(got), len(body))
        s1 = cpu_ns(session)
        p1 = cpu_ns(proxy) if proxy else 0
        pss_s = pss_kb(session)
        pss_p = pss_kb(proxy) if proxy else 0
        mib = len(body) / 1048576
        print('  %-6s session %7.1f ms CPU (%5.2f ms/MiB)' %
              (mode, (s1 - s0) / 1e6, (s1 - s0) / 1e6 / mib), end='')
        if proxy:
            print(', proxy %7.1f ms CPU (%5.2f ms/MiB, %.0f MiB per '
                  'CPU-second)' % ((p1 - p0) / 1e6, (p1 - p0) / 1e6 / mib,
                                   mib / ((p1 - p0) / 1e9)), end='')
        print('; wall %.2f s (client included, not a benchmark)' % wall)
        print('         Pss after RETR: session %d KiB%s' %
              (pss_s, ', proxy %d KiB' % pss_p if proxy else ''))
        c.cmd('QUIT')
        c.close()
    # 4. idle sessions
    for mode in ('plain', 'pop3s'):
        c, (mon, child) = b.connect(mode)
        c.cmd('USER alice')
        assert c.cmd('PASS alicepw').startswith('+OK')
        c.cmd('NOOP')
        time.sleep(0.2)
        print('idle %-6s session Pss %d KiB%s' % (
            mode, pss_kb(mon), ', proxy Pss %d KiB' % pss_kb(child)
            if mode != 'plain' else ''))
        c.cmd('QUIT')
        c.close()


if __name__ == '__main__':
    main()
