#!/usr/bin/env python3
# test_hardening.py - the daemon's process hardening and trust rules
# (doc/DESIGN.md sections 2 to 4): what reaches the log, pid and port
# files that cannot be abused, descriptors, limits and the seccomp filter
# of the unprivileged processes, ownership checks of every file root
# trusts, and the per-prefix connection cap.  GPL-3.0-or-later.

import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402


def wait_log(srv, pattern, timeout=5):
    return p23.wait_until(lambda: re.search(pattern, srv.log_text()),
                          timeout)


class LogLines(p23.TestCase):
    def test_high_octets_from_plugin_escaped(self):
        # store_maildir logs the maildrop path it cannot open through
        # host->log; a home with octets >= 0x80 (UTF-8 "é") must reach
        # the log as \xHH, never raw.
        srv = self.server(start=False)
        home = os.path.join(srv.tmp, 'home', 'carol-\u00e9t\u00e9')
        os.mkdir(home, 0o755)
        srv._own(home)
        with open(os.path.join(home, 'Maildir'), 'w') as f:
            f.write('not a directory\n')
        with open(srv.passwd_path, 'ab') as f:
            f.write(b'carol:{PLAIN}carolpw:%d:%d::%s::\n' %
                    (p23.SESSION_UID, p23.SESSION_GID,
                     os.fsencode(home)))
        srv.start()
        c = self.conn(srv)
        r = c.login('carol', 'carolpw')
        self.assertERR(r)
        self.assertTrue(wait_log(srv, r'carol-\\xc3\\xa9t\\xc3\\xa9'),
                        'escaped path not logged:\n' + srv.log_tail())
        bad = [l for l in srv.log_bytes().split(b'\n')
               if re.search(rb'[\x00-\x08\x0b-\x1f\x7f-\xff]', l)]
        self.assertEqual(bad, [])


class StateFiles(p23.TestCase):
    """pid_file and port_file are written by root: whatever someone
    planted at the path or at PATH.tmp must neither block the master nor
    be written through (doc/DESIGN.md section 3)."""

    def victim(self, srv):
        path = os.path.join(srv.tmp, 'victim')
        with open(path, 'w') as f:
            f.write('precious\n')
        os.chmod(path, 0o600)
        return path

    def pid_path(self, srv):
        return os.path.join(srv.tmp, 'pop23d.pid')

    def assertPidFile(self, srv):
        path = self.pid_path(srv)
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode), oct(st.st_mode))
        self.assertEqual(st.st_nlink, 1)
        with open(path) as f:
            self.assertEqual(int(f.read().strip()), srv.pid)

    def test_fifo_at_tmp_names(self):
        # A FIFO with no reader: open(O_WRONLY) would block the master
        # before it writes the port file, so start() would time out.
        srv = self.server(start=False)
        os.mkfifo(self.pid_path(srv) + '.tmp')
        os.mkfifo(srv.port_file + '.tmp')
        srv.start()
        self.assertPidFile(srv)
        self.assertFalse(os.path.exists(srv.port_file + '.tmp'))

    def test_hard_link_at_tmp_name_not_truncated(self):
        srv = self.server(start=False)
        victim = self.victim(srv)
        os.link(victim, self.pid_path(srv) + '.tmp')
        os.link(victim, srv.port_file + '.tmp')
        srv.start()
        with open(victim) as f:
            self.assertEqual(f.read(), 'precious\n')
        self.assertPidFile(srv)

    def test_symlinks_not_followed(self):
        srv = self.server(start=False)
        victim = self.victim(srv)
        os.symlink(victim, self.pid_path(srv) + '.tmp')
        os.symlink(victim, self.pid_path(srv))
        srv.start()
        with open(victim) as f:
            self.assertEqual(f.read(), 'precious\n')
        self.assertPidFile(srv)

    def test_fifo_at_the_path_replaced(self):
        srv = self.server(start=False)
        os.mkfifo(self.pid_path(srv))
        srv.start()
        self.assertPidFile(srv)


if __name__ == '__main__':
    p23.main()
