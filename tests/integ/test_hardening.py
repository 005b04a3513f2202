#!/usr/bin/env python3
# test_hardening.py - the daemon's process hardening and trust rules
# (doc/DESIGN.md sections 2 to 4): what reaches the log, pid and port
# files that cannot be abused, descriptors, limits and the seccomp filter
# of the unprivileged processes, ownership checks of every file root
# trusts, and the per-prefix connection cap.  GPL-3.0-or-later.

import os
import re
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


if __name__ == '__main__':
    p23.main()
