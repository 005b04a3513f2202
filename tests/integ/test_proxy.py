#!/usr/bin/env python3
# test_proxy.py - the HAProxy PROXY protocol (v1 and v2) on a "proxy"
# listener of a real pop23d: curl --haproxy-protocol, hand-made v1 and v2
# headers (struct), v2 LOCAL health checks, TLVs, and malformed headers
# (truncated, wrong signature, bad lengths, a v1 line over 107 octets, a
# header from an address outside proxy_trusted, one that never ends), each
# refused with its log line and no crash.  The real client address is the
# one in the log lines and in max_per_ip.  doc/PROTOCOLS.md, "PROXY
# protocol".  GPL-3.0-or-later.

import os
import re
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

SIG2 = b'\r\n\r\n\x00\r\nQUIT\n'
PROXY = '127.0.0.1'             # the "load balancer": our own address
UNTRUSTED = '127.0.0.2'         # another local address, not trusted


def v2(cmd=1, fam=0x11, addrs=b'', tlvs=b'', length=None):
    body = addrs + tlvs
    n = len(body) if length is None else length
    return SIG2 + bytes([0x20 | cmd, fam]) + struct.pack('!H', n) + body


def v2_inet(src, sport, dst='198.51.100.1', dport=110, tlvs=b''):
    a = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack('!HH', sport, dport)
    return v2(1, 0x11, a, tlvs)


def v2_inet6(src, sport, dst='2001:db8::1', dport=110, tlvs=b''):
    a = socket.inet_pton(socket.AF_INET6, src) + \
        socket.inet_pton(socket.AF_INET6, dst) + \
        struct.pack('!HH', sport, dport)
    return v2(1, 0x21, a, tlvs)


class Proxy(p23.TestCase):

    def proxy_server(self, conf=None, users=None):
        # The clients named in the headers are remote (192.0.2.x):
        # plaintext logins from them need plaintext_auth = yes here
        # (test_plaintext_rule_uses_real_client checks the default).
        c = {'proxy_trusted': PROXY + '/32, 10.0.0.0/8',
             'timeout_preauth': '3', 'plaintext_auth': 'yes'}
        c.update(conf or {})
        srv = self.server(conf=c, users=users, start=False)
        text = srv.config_text().replace('listen = pop3 127.0.0.1:0',
                                         'listen = pop3 127.0.0.1:0 proxy')
        srv.write_config(text)
        srv.start()
        return srv

    def raw(self, srv, data, source=None):
        """Connect (from SOURCE), send DATA; a p23.Conn."""
        c = self.conn(srv, source=source)
        if data:
            c.send(data)
        return c

    def wait_log(self, srv, pattern, timeout=5):
        rx = re.compile(pattern)
        ok = p23.wait_until(lambda: rx.search(srv.log_text()), timeout)
        self.assertTrue(ok, 'no log line matching %r' % pattern)
        return ok

    def assert_refused(self, srv, data, why, source=None, wait=5):
        """DATA gets no greeting, the connection closes, and the log says
        WHY; the daemon goes on serving."""
        c = self.raw(srv, data, source)
        self.assertTrue(c.closed(timeout=wait), 'connection stays open')
        self.assertEqual(c.buf, b'', 'bytes sent after a bad header')
        self.wait_log(srv, 'PROXY header refused.*' + why)
        # still serving, nothing crashed
        self.assertNotIn('died of signal', srv.log_text())
        ok = self.raw(srv, v2_inet('192.0.2.200', 1000))
        self.assertOK(ok.line())
        ok.close()

    def test_curl_v1(self):
        """curl --haproxy-protocol sends "PROXY TCP4 ..." before the
        client's bytes: LIST and RETR work through it."""
        if not p23.shutil.which('curl'):
            self.skipTest('curl not installed')
        srv = self.proxy_server()
        srv.add_message('alice', p23.sized_message(300, 'one'))
        r = subprocess.run(['curl', '-sS', '--haproxy-protocol', '-u',
                            'alice:alicepw', 'pop3://127.0.0.1:%d/1'
                            % srv.pop3_port], capture_output=True,
                           timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'Subject: one', r.stdout)
        self.wait_log(srv, r'proxy client=127\.0\.0\.1:\d+ '
                      r'via=127\.0\.0\.1:\d+ version=1')
        self.wait_log(srv, r'login result=ok client=127\.0\.0\.1:\d+')

    def test_plaintext_rule_uses_real_client(self):
        """plaintext_auth = loopback (the default) judges the client the
        header names, not the balancer: a balancer on this host connects
        from 127.0.0.1 for clients anywhere."""
        srv = self.proxy_server(conf={'plaintext_auth': 'loopback'})
        c = self.raw(srv, b'PROXY TCP4 192.0.2.7 198.51.100.1 40001 110'
                     b'\r\n')
        self.assertOK(c.line())
        st, lines = c.cmd_multi('CAPA')
        self.assertNotIn('USER', lines)
        line = c.cmd('USER alice')
        self.assertERR(line)
        self.assertIn('[AUTH]', line)
        c.close()
        c = self.raw(srv, b'PROXY TCP4 127.0.0.9 127.0.0.1 40002 110\r\n')
        self.assertOK(c.login('alice', 'alicepw'))
        c.close()

    def test_v1_real_address_in_logs(self):
        srv = self.proxy_server()
        c = self.raw(srv, b'PROXY TCP4 192.0.2.7 198.51.100.1 40001 110'
                     b'\r\n')
        self.assertOK(c.line())
        self.assertOK(c.cmd('USER alice'))
        self.assertERR(c.cmd('PASS wrong'))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('STAT'))
        c.cmd('QUIT')
        # the failed-login line (the auth service's form, or the older
        # one) names the real client
        self.wait_log(srv, r'auth failed: user=<alice>, method=\S+, '
                      r'result=fail, rip=192\.0\.2\.7,|auth result=fail '
                      r'user=alice method=plain client=192\.0\.2\.7:40001')
        self.wait_log(srv, r'login result=ok client=192\.0\.2\.7:40001')
        self.wait_log(srv, r'proxy client=192\.0\.2\.7:40001 '
                      r'via=127\.0\.0\.1:\d+ version=1')

    def test_v1_tcp6_and_pipelined(self):
        """The header and the client's first command in one segment: the
        command is answered after the greeting."""
        srv = self.proxy_server()
        c = self.raw(srv, b'PROXY TCP6 2001:db8::7 2001:db8::1 40002 110'
                     b'\r\nCAPA\r\n')
        self.assertOK(c.line())
        self.assertOK(c.line())
        lines = c.multi()
        self.assertIn('USER', lines)
        self.wait_log(srv, r'proxy client=2001:db8::7:40002 ')

    def test_v2_inet_and_tlvs(self):
        srv = self.proxy_server()
        tlvs = b'\x01\x00\x04pop3' + b'\x02\x00\x0bexample.org' + \
            b'\x05\x00\x03abc' + b'\xe1\x00\x00'
        c = self.raw(srv, v2_inet('192.0.2.8', 40003, tlvs=tlvs))
        self.assertOK(c.login('alice', 'alicepw'))
        c.cmd('QUIT')
        self.wait_log(srv, r'login result=ok client=192\.0\.2\.8:40003')
        self.wait_log(srv, r'version=2')

    def test_v2_inet6(self):
        srv = self.proxy_server()
        c = self.raw(srv, v2_inet6('2001:db8::9', 40004))
        self.assertOK(c.login('bob', 'bobpw'))
        c.cmd('QUIT')
        self.wait_log(srv, r'login result=ok client=2001:db8::9:40004')

    def test_v2_local_health_check(self):
        """LOCAL (haproxy's check): accepted, the proxy's own address
        stays, and the greeting comes."""
        srv = self.proxy_server()
        c = self.raw(srv, v2(cmd=0, fam=0x00))
        self.assertOK(c.line())
        self.assertOK(c.cmd('QUIT'))
        self.wait_log(srv, r'PROXY v2 header without a client address '
                      r'\(a health check\): client=127\.0\.0\.1:\d+ stays')

    def test_header_sent_in_pieces(self):
        srv = self.proxy_server()
        h = v2_inet('192.0.2.11', 40005)
        c = self.conn(srv)
        for i in range(0, len(h), 5):
            c.send(h[i:i + 5])
            time.sleep(0.05)
        self.assertOK(c.line())
        self.wait_log(srv, r'proxy client=192\.0\.2\.11:40005')

    # ------------------------------------------------------ refused
    def test_untrusted_network(self):
        srv = self.proxy_server()
        self.assert_refused(srv, b'PROXY TCP4 192.0.2.7 198.51.100.1 1 110'
                            b'\r\n', r'client=127\.0\.0\.2:\d+ is not in '
                            r'proxy_trusted', source=UNTRUSTED)

    def test_wrong_signature(self):
        srv = self.proxy_server()
        self.assert_refused(srv, b'USER alice\r\n', 'wrong signature')
        bad = bytearray(v2_inet('192.0.2.7', 1))
        bad[7] = ord('q')
        self.assert_refused(srv, bytes(bad), 'wrong signature')

    def test_truncated(self):
        srv = self.proxy_server()
        c = self.raw(srv, v2_inet('192.0.2.7', 1)[:20])
        c.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(c.closed())
        self.assertEqual(c.buf, b'')
        self.wait_log(srv, 'PROXY header refused.*connection closed inside '
                      'the PROXY header')

    def test_never_completed(self):
        """Half a header, then silence: the login deadline ends it."""
        srv = self.proxy_server(conf={'timeout_preauth': '2'})
        t0 = time.monotonic()
        self.assert_refused(srv, b'PROXY TCP4 192.0.2.7', 'before the '
                            'login deadline', wait=10)
        self.assertLess(time.monotonic() - t0, 8)

    def test_bad_lengths(self):
        srv = self.proxy_server()
        a = socket.inet_aton('192.0.2.7') * 2 + struct.pack('!HH', 1, 2)
        # shorter than the IPv4 address block
        self.assert_refused(srv, v2(1, 0x11, a[:8]), 'shorter than its '
                            'address block')
        # a TLV that claims more than the header holds
        self.assert_refused(srv, v2(1, 0x11, a, b'\x01\x00\x20pop3'),
                            'TLV longer than the header')
        # over PROXY_HEADER_MAX
        self.assert_refused(srv, v2(1, 0x11, a, length=4000),
                            'longer than we accept')
        # a wrong CRC32C
        self.assert_refused(srv, v2(1, 0x11, a, b'\x03\x00\x04abcd'),
                            'CRC32C mismatch')

    def test_v1_too_long_and_bad_fields(self):
        srv = self.proxy_server()
        self.assert_refused(srv, b'PROXY TCP4 ' + b'1' * 200 + b'\r\n',
                            'longer than 107 octets')
        self.assert_refused(srv, b'PROXY TCP4 192.0.2.7 198.51.100.1 '
                            b'99999 110\r\n', 'bad address or port')
        self.assert_refused(srv, b'PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n',
                            'too few fields')
        self.assert_refused(srv, b'PROXY TCP4 192.0.2.7\x00 198.51.100.1 '
                            b'1 2\r\n', 'control or 8-bit')

    def test_max_per_ip_counts_real_client(self):
        """max_per_ip = 2: a third connection of one real client is
        refused; another client through the same proxy is not."""
        srv = self.proxy_server(conf={'max_per_ip': '2'})
        held = []
        for port in (41001, 41002):
            c = self.raw(srv, v2_inet('192.0.2.50', port))
            self.assertOK(c.line())
            held.append(c)
        c = self.raw(srv, v2_inet('192.0.2.50', 41003))
        self.assertEqual(c.line(), '-ERR [SYS/TEMP] too many connections, '
                         'try again later')
        self.assertTrue(c.closed())
        self.wait_log(srv, r'connection from client=192\.0\.2\.50:41003 via '
                      r'127\.0\.0\.1:\d+ refused: max_per_ip reached')
        other = self.raw(srv, v2_inet('192.0.2.51', 41004))
        self.assertOK(other.line())
        for c in held:
            c.close()

    def test_master_channel_never_in_preauth(self):
        """The monitor's channel to the master (fd 4 of a proxy
        listener's monitor) is closed in the pre-auth process, and the
        monitor closes it once the header is handled."""
        srv = self.proxy_server()
        c = self.conn(srv)      # no header yet: both processes wait

        def fds(pid):
            out = {}
            try:
                for f in os.listdir('/proc/%d/fd' % pid):
                    try:
                        out[int(f)] = os.readlink('/proc/%d/fd/%s'
                                                  % (pid, f))
                    except OSError:
                        pass
            except OSError:
                pass
            return out

        def roles():
            kids = srv.sessions()
            mon = [k for k in kids if (p23.proc_stat(k) or (0,))[0] ==
                   srv.pid]
            pre = [k for k in kids if mon and
                   (p23.proc_stat(k) or (0,))[0] == mon[0]]
            return (mon[0], pre[0]) if mon and pre else None
        r = p23.wait_until(roles, 5)
        self.assertTrue(r, 'no monitor and pre-auth process')
        mon, pre = r
        chan = p23.wait_until(lambda: fds(mon).get(4), 5)
        self.assertTrue(chan and chan.startswith('socket:'), chan)
        self.assertNotIn(chan, fds(pre).values())
        c.send(v2_inet('192.0.2.60', 42001))
        self.assertOK(c.line())
        self.assertTrue(p23.wait_until(lambda: 4 not in fds(mon), 5),
                        'the monitor still holds the channel')

    def test_config_needs_trusted(self):
        srv = self.server(start=False)
        text = srv.config_text().replace('listen = pop3 127.0.0.1:0',
                                         'listen = pop3 127.0.0.1:0 proxy')
        srv.write_config(text)
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('no proxy_trusted', r.stderr)
        srv.write_config(text.replace('proxy\n', 'proxy\nproxy_trusted = '
                                      '10.0.0.0/33\n', 1))
        r = srv.check_config()
        self.assertIn('proxy_trusted: not a network', r.stderr)


if __name__ == '__main__':
    p23.main()
