#!/usr/bin/env python3
# test_xinetd.py - the xinetd example (doc/xinetd/pop23d, as make builds
# it with the installed paths) under a real xinetd: both services, on
# loopback ports of the test's own, start "pop23d -i pop3" and
# "pop23d -i pop2" per connection, and logins work.  The test changes
# only what a test must: disable = no, its ports and address, the binary
# and configuration paths of the build, and the service names (xinetd
# insists that a service named in /etc/services keeps its port).
# GPL-3.0-or-later.

import os
import re
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402

XINETD = '/usr/sbin/xinetd'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Xinetd(p23.TestCase):

    def test_example_serves_both_protocols(self):
        example = os.path.join(p23.BUILDDIR, 'doc', 'xinetd', 'pop23d')
        self.assertTrue(os.path.exists(example), 'make did not build %s'
                        % example)
        srv = self.server(pop2=True, start=False)
        srv.add_message('alice', p23.sized_message(150, 'xi'))
        p3, p2 = free_port(), free_port()
        with open(example) as f:
            text = f.read()
        self.assertIn('server_args\t= -i pop3 -c ', text)
        self.assertIn('server_args\t= -i pop2 -c ', text)
        text = text.replace('disable\t\t= yes', 'disable\t\t= no')
        text = text.replace('service pop3\n', 'service p23test3\n')
        text = text.replace('service pop2\n', 'service p23test2\n')
        text = text.replace('port\t\t= 110\n', 'port\t\t= %d\n\ttype\t\t= '
                            'UNLISTED\n\tbind\t\t= 127.0.0.1\n' % p3)
        text = text.replace('port\t\t= 109\n', 'port\t\t= %d\n\tbind\t\t= '
                            '127.0.0.1\n' % p2)
        text = re.sub(r'server\t\t= \S+', 'server\t\t= ' + srv.binary, text)
        text = re.sub(r'-c \S+', '-c ' + srv.conf_path, text)
        conf = os.path.join(srv.tmp, 'xinetd.conf')
        with open(conf, 'w') as f:
            f.write('defaults\n{\n}\n\n' + text)
        pidf = os.path.join(srv.tmp, 'xinetd.pid')
        xlog = os.path.join(srv.tmp, 'xinetd.log')
        p = subprocess.Popen([XINETD, '-dontfork', '-f', conf, '-pidfile',
                              pidf, '-filelog', xlog],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)

        def stop():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.addCleanup(stop)

        def up():
            try:
                with open(xlog) as f:
                    return 'Started working' in f.read()
            except FileNotFoundError:
                return False
        self.assertTrue(p23.wait_until(up, 10), 'xinetd did not start')
        c = p23.Conn(p3)
        self.addCleanup(c.close)
        self.assertOK(c.login('alice', 'alicepw'))
        self.assertTrue(c.cmd('STAT').startswith('+OK 1 150'))
        self.assertOK(c.cmd('QUIT'))
        with Pop2(p2) as q:
            self.assertEqual(q.login('alice', 'alicepw'), 1)
            q.quit()


if __name__ == '__main__':
    p23.main(requires=(XINETD,))
