#!/usr/bin/env python3
# test_systemd.py - pop23d under systemd's protocols, driven by the real
# systemd-socket-activate: the listening sockets are passed (LISTEN_FDS),
# each gets its protocol from the listen line with its port, logins work
# on POP3 and POP2, and the Type=notify messages (READY=1, RELOADING=1 on
# SIGHUP, STOPPING=1) arrive on a notify socket of the test's own
# (systemd-socket-activate does not make one; -E NOTIFY_SOCKET passes
# ours).  Also inetd mode under systemd-socket-activate --inetd --accept
# (a .socket with Accept=yes, or xinetd).  doc/DESIGN.md, "Run modes".
# GPL-3.0-or-later.

import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402

ACTIVATE = 'systemd-socket-activate'


def connect(port, srv=None):
    """A connection to PORT once systemd-socket-activate listens there
    (it says "Listening on ADDR" in the log of SRV)."""
    if srv is not None:
        ok = p23.wait_until(lambda: ('127.0.0.1:%d' % port) in
                            srv.log_text(), 10)
        assert ok, 'systemd-socket-activate does not listen on %d' % port
    return socket.create_connection(('127.0.0.1', port), timeout=10)


def free_ports(n=1):
    """N distinct free ports (all bound at once, so never the same
    one twice), for systemd-socket-activate to bind."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_port():
    return free_ports(1)[0]


class Activated(p23.TestCase):

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def notify_socket(self, srv):
        path = os.path.join(srv.tmp, 'notify')
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        os.chmod(path, 0o666)
        self.addCleanup(s.close)
        return s, path

    def messages(self, sock, want, timeout=10):
        """Datagrams on SOCK until one holds WANT; all of them."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                break
            if any(want in m.split('\n') for m in got):
                return got
        self.fail('no %r notification (got %r)' % (want, got))

    def activated_server(self, extra_lines=(), conf=None):
        """pop23d -f under systemd-socket-activate on two fresh ports
        (POP3 and POP2, by their listen lines)."""
        srv = self.server(pop2=True, conf=conf, start=False)
        p3, p2 = free_ports(2)
        text = srv.config_text()
        text = text.replace('listen = pop3 127.0.0.1:0',
                            'listen = pop3 127.0.0.1:%d' % p3)
        text = text.replace('listen = pop2 127.0.0.1:0',
                            'listen = pop2 127.0.0.1:%d' % p2)
        for l in extra_lines:
            text = text.replace('\nport_file', '\n%s\nport_file' % l, 1)
        srv.write_config(text)
        nsock, npath = self.notify_socket(srv)
        log = open(srv.log_path, 'ab')
        # POP2 first: the fd order is not the protocol order.
        p = subprocess.Popen(
            [ACTIVATE, '-l', '127.0.0.1:%d' % p2, '-l', '127.0.0.1:%d' % p3,
             '-E', 'NOTIFY_SOCKET=' + npath,
             srv.binary, '-f', '-d', '-c', srv.conf_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=srv.tmp)
        log.close()
        self.procs.append(p)
        srv.p3, srv.p2, srv.act = p3, p2, p
        srv.nsock = nsock
        # It execs the daemon when the first connection arrives; that
        # one waits in the queue of the passed socket and is served.
        connect(p3, srv).close()
        first = p23.Conn(p3)
        self.addCleanup(first.close)
        srv.first = first
        return srv

    def test_activation_both_protocols(self):
        srv = self.activated_server()
        srv.add_message('alice', p23.sized_message(200, 'act'))
        msgs = self.messages(srv.nsock, 'READY=1')
        self.assertTrue(any('READY=1' in m for m in msgs))
        self.assertOK(srv.first.line())
        srv.first.cmd('QUIT')
        log = srv.log_text()
        self.assertRegex(log, r'listening: pop2 127\.0\.0\.1 %d \(from '
                         r'systemd\)' % srv.p2)
        self.assertRegex(log, r'listening: pop3 127\.0\.0\.1 %d \(from '
                         r'systemd\)' % srv.p3)
        c = p23.Conn(srv.p3)
        self.addCleanup(c.close)
        self.assertOK(c.login('alice', 'alicepw'))
        self.assertTrue(c.cmd('STAT').startswith('+OK 1 200'))
        self.assertOK(c.cmd('QUIT'))
        with Pop2(srv.p2) as p:
            self.assertEqual(p.login('bob', 'bobpw'), 0)
            p.quit()
        # SIGHUP: RELOADING=1, then READY=1 again
        os.kill(self.daemon_pid(srv), signal.SIGHUP)
        msgs = self.messages(srv.nsock, 'RELOADING=1')
        more = self.messages(srv.nsock, 'READY=1')
        self.assertTrue(msgs and more)
        # still serving after the reload, on the same sockets
        c = p23.Conn(srv.p3)
        self.addCleanup(c.close)
        self.assertOK(c.login('bob', 'bobpw'))
        c.cmd('QUIT')
        # SIGTERM: STOPPING=1 and a clean exit
        srv.act.send_signal(signal.SIGTERM)
        self.messages(srv.nsock, 'STOPPING=1')
        self.assertEqual(srv.act.wait(15), 0)
        self.assertNotIn('died of signal', srv.log_text())

    def daemon_pid(self, srv):
        # systemd-socket-activate execs the daemon: same pid.
        return srv.act.pid

    def test_unknown_port_refused(self):
        """A passed socket whose port has no listen line and is not 109
        or 110: the daemon says so and exits non-zero."""
        srv = self.server(start=False)
        nsock, npath = self.notify_socket(srv)
        port = free_port()
        log = open(srv.log_path, 'ab')
        p = subprocess.Popen([ACTIVATE, '-l', '127.0.0.1:%d' % port,
                              srv.binary, '-f', '-c', srv.conf_path],
                             stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(p)
        # systemd-socket-activate starts the daemon at the first
        # connection (which then waits in the passed socket's queue).
        connect(port, srv).close()
        self.assertEqual(p.wait(15), 1)
        self.assertRegex(srv.log_text(), r'port %d \(descriptor 3\) has no '
                         r'listen line' % port)

    def test_journal_stderr_logs_once(self):
        """Under systemd stderr is the journal (JOURNAL_STREAM names its
        device and inode): pop23d -f then logs to syslog only, so the
        journal does not get every line twice.  Here the "journal" is
        the log file: nothing may be written to it."""
        srv = self.server(start=False)
        st = os.stat(srv.log_path) if os.path.exists(srv.log_path) else \
            None
        if st is None:
            open(srv.log_path, 'wb').close()
            st = os.stat(srv.log_path)
        srv.env['JOURNAL_STREAM'] = '%d:%d' % (st.st_dev, st.st_ino)
        srv.start()
        c = srv.login('alice')
        c.cmd('QUIT')
        c.close()
        time.sleep(0.3)
        self.assertEqual(srv.log_text(), '')
        # Another stream (a file that is not stderr): lines as usual.
        srv.stop()
        srv.env['JOURNAL_STREAM'] = '%d:%d' % (st.st_dev, st.st_ino + 1)
        srv.start()
        self.assertTrue(p23.wait_until(
            lambda: 'started' in srv.log_text(), 5))

    def test_inetd_accept_mode(self):
        """systemd-socket-activate --inetd -a: one pop23d -i pop3 per
        connection on stdin/stdout (a .socket with Accept=yes, xinetd)."""
        srv = self.server(start=False)
        port = free_port()
        log = open(srv.log_path, 'ab')
        p = subprocess.Popen([ACTIVATE, '--inetd', '-a', '-l',
                              '127.0.0.1:%d' % port, srv.binary, '-i',
                              'pop3', '-c', srv.conf_path],
                             stdout=log, stderr=log,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.procs.append(p)
        connect(port, srv).close()
        c = p23.Conn(port)
        self.addCleanup(c.close)
        self.assertOK(c.login('alice', 'alicepw'))
        self.assertOK(c.cmd('QUIT'))
        self.assertTrue(c.closed())


if __name__ == '__main__':
    p23.main(requires=(ACTIVATE,))
