#!/usr/bin/env python3
# test_hardening.py - the daemon's process hardening and trust rules
# (doc/DESIGN.md sections 2 to 4): what reaches the log, pid and port
# files that cannot be abused, descriptors, limits and the seccomp filter
# of the unprivileged processes, ownership checks of every file root
# trusts, and the per-prefix connection cap.  GPL-3.0-or-later.

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import unittest

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


class StrictModes(p23.TestCase):
    """Everything root loads or believes must be root's (in rootless
    mode: root's or ours) and writable by nobody else, all the way up,
    like sshd's StrictModes; pop23d -t and the start name the file."""

    def refused(self, srv, *needles):
        r = srv.check_config()
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 1, out)
        for n in needles:
            self.assertIn(n, out)
        self.assertIn('refusing to trust it', out)
        r = srv.run_binary('-f', timeout=10)
        self.assertEqual(r.returncode, 1, 'started anyway')
        return out

    def accepted(self, srv):
        r = srv.check_config()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def plugin_copy(self, srv):
        """A plugin_dir of our own with copies of the built plugins."""
        d = os.path.join(srv.tmp, 'plugins')
        os.mkdir(d, 0o755)
        for n in ('auth_passwdfile.so', 'store_maildir.so'):
            with open(os.path.join(p23.PLUGINDIR, n), 'rb') as fi, \
                    open(os.path.join(d, n), 'wb') as fo:
                fo.write(fi.read())
            os.chmod(os.path.join(d, n), 0o755)
        return d

    def test_plugin_dir_and_plugin(self):
        srv = self.server(start=False)
        d = self.plugin_copy(srv)
        srv.conf['plugin_dir'] = d
        srv.write_config()
        self.accepted(srv)
        so = os.path.join(d, 'auth_passwdfile.so')
        # the finding: mode 777 plugin_dir, world-writable .so
        os.chmod(d, 0o777)
        os.chmod(so, 0o777)
        if p23.ROOT:
            os.chown(so, p23.NOBODY, p23.NOBODY)
        self.refused(srv, d, 'writable by others')
        os.chmod(d, 0o755)
        self.refused(srv, so)
        os.chmod(so, 0o755)
        if p23.ROOT:
            self.refused(srv, so, 'owned by uid %d' % p23.NOBODY)
            os.chown(so, 0, 0)
        self.accepted(srv)
        # a directory above it that others may write to (not sticky)
        os.chmod(srv.tmp, 0o777)
        try:
            self.refused(srv, srv.tmp)
        finally:
            os.chmod(srv.tmp, 0o755)
        # a symbolic link in plugin_dir to a plugin elsewhere is judged
        # by where it leads
        bad = os.path.join(srv.tmp, 'elsewhere')
        os.mkdir(bad)
        os.chmod(bad, 0o777)
        os.rename(so, os.path.join(bad, 'auth_passwdfile.so'))
        os.symlink(os.path.join(bad, 'auth_passwdfile.so'), so)
        self.refused(srv, bad)

    def test_passwd_file(self):
        srv = self.server(start=False)
        os.chmod(srv.passwd_path, 0o660)
        self.refused(srv, srv.passwd_path, 'writable by its group')
        os.chmod(srv.passwd_path, 0o600)
        if p23.ROOT:
            os.chown(srv.passwd_path, p23.NOBODY, p23.NOBODY)
            self.refused(srv, srv.passwd_path, 'owned by uid %d'
                         % p23.NOBODY)
            os.chown(srv.passwd_path, 0, 0)
        self.accepted(srv)

    def test_passwd_file_changed_under_a_running_daemon(self):
        # The monitor re-reads the file when it changes: a group-writable
        # file must not be believed there either.
        srv = self.server()
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))
        os.chmod(srv.passwd_path, 0o620)
        c = self.conn(srv)
        r = c.login('alice', srv.password('alice'))
        self.assertTrue(r.startswith('-ERR [SYS/TEMP]'), r)
        self.assertTrue(wait_log(srv, re.escape(srv.passwd_path) +
                                 r': writable by its group'),
                        srv.log_tail())

    def test_config_file(self):
        srv = self.server(start=False)
        os.chmod(srv.conf_path, 0o666)
        out = self.refused(srv, srv.conf_path, 'writable by others')
        self.assertRegex(out, r'pop23d: ' + re.escape(srv.conf_path) +
                         r': writable by others')
        os.chmod(srv.conf_path, 0o644)
        self.accepted(srv)

    @unittest.skipUnless(p23.ROOT, 'login_chroot is used as root only')
    def test_login_chroot(self):
        srv = self.server(start=False)
        empty = os.path.join(srv.tmp, 'empty')
        os.chmod(empty, 0o775)
        self.refused(srv, empty, 'writable by its group')
        os.chmod(empty, 0o755)
        os.chown(empty, p23.NOBODY, p23.NOBODY)
        self.refused(srv, empty, 'owned by uid %d' % p23.NOBODY)
        os.chown(empty, 0, 0)
        self.accepted(srv)

    def test_sighup_keeps_trusted_plugins(self):
        srv = self.server(start=False)
        d = self.plugin_copy(srv)
        srv.conf['plugin_dir'] = d
        srv.write_config()
        srv.start()
        os.chmod(os.path.join(d, 'store_maildir.so'), 0o666)
        srv.reload()
        self.assertTrue(wait_log(srv, r'reload refused.*store_maildir\.so'
                                 r'.*writable by others'), srv.log_tail())
        c = self.login(srv)
        self.assertOK(c.cmd('QUIT'))


class PrefixCap(p23.TestCase):
    """max_per_ip counts clients per prefix (IPv6 /64 by default; the
    prefix matching itself is unit-tested in check_addr.c).  Loopback
    has one IPv6 address but all of 127.0.0.0/8, so the test uses IPv4
    sources with a /24 setting."""

    def connect_from(self, srv, source):
        s = socket.socket()
        self.addCleanup(s.close)
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(('127.0.0.1', srv.pop3_port))
        return s

    def greeted(self, s):
        """True if the server greets S, False if it closes it first."""
        data = b''
        while not data.endswith(b'\n'):
            d = s.recv(512)
            if not d:
                return False
            data += d
        return data.startswith(b'+OK')

    def test_prefix24(self):
        srv = self.server(conf={'max_per_ip': '1',
                                'max_per_ip_ipv4_prefix': '24'})
        a = self.connect_from(srv, '127.0.0.1')
        self.assertTrue(self.greeted(a))
        # another address in the same /24: over the cap
        b = self.connect_from(srv, '127.0.0.2')
        self.assertFalse(self.greeted(b), 'a second client of the /24 '
                         'was served')
        self.assertTrue(wait_log(srv, r'connection from 127\.0\.0\.2 '
                                 r'refused: max_per_ip reached for its '
                                 r'/24'), srv.log_tail())
        # another /24 is another client
        c = self.connect_from(srv, '127.0.1.1')
        self.assertTrue(self.greeted(c))

    def test_default_is_the_whole_ipv4_address(self):
        srv = self.server(conf={'max_per_ip': '1'})
        a = self.connect_from(srv, '127.0.0.1')
        self.assertTrue(self.greeted(a))
        b = self.connect_from(srv, '127.0.0.2')
        self.assertTrue(self.greeted(b))
        c = self.connect_from(srv, '127.0.0.2')
        self.assertFalse(self.greeted(c))


def fd_links(pid):
    """{fd: link target} of PID from /proc."""
    out = {}
    d = '/proc/%d/fd' % pid
    for n in os.listdir(d):
        try:
            out[int(n)] = os.readlink(os.path.join(d, n))
        except OSError:
            pass
    return out


def proc_status(pid):
    with open('/proc/%d/status' % pid) as f:
        return dict(l.rstrip('\n').split(':\t', 1) for l in f if ':\t' in l)


def proc_limits(pid):
    """{name: (soft, hard)} from /proc/PID/limits."""
    out = {}
    with open('/proc/%d/limits' % pid) as f:
        next(f)
        for l in f:
            m = re.match(r'(.+?)\s{2,}(\S+)\s+(\S+)', l)
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
    return out


class Descriptors(p23.TestCase):
    """pop23d started with extra descriptors (a directory on the real /,
    a root-only file opened for appending) must not hand them to any
    process of a connection; the children's stdout and stderr are not the
    daemon's log file (their lines reach it through the master)."""

    def start_with_fds(self):
        srv = self.server(start=False)
        secret = os.path.join(srv.tmp, 'root-only')
        with open(secret, 'w') as f:
            f.write('secret\n')
        os.chmod(secret, 0o600)
        root = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
        app = os.open(secret, os.O_WRONLY | os.O_APPEND)
        try:
            os.dup2(root, 9)
            os.dup2(app, 8)
            srv.start(pass_fds=(8, 9))
        finally:
            for fd in (root, app, 8, 9):
                try:
                    os.close(fd)
                except OSError:
                    pass
        return srv, secret

    def check_fds(self, srv, pid, secret, what):
        links = fd_links(pid)
        for fd, target in links.items():
            self.assertNotEqual(target, '/', '%s (pid %d) holds fd %d on '
                                'the real /: %r' % (what, pid, fd, links))
            self.assertNotEqual(target, secret, '%s (pid %d) holds the '
                                'root-only file: %r' % (what, pid, links))
        return links

    def check_child_stdio(self, srv, pid, links, what):
        for fd in (0, 1, 2):
            self.assertNotEqual(links.get(fd), srv.log_path,
                                '%s (pid %d): fd %d is the daemon\'s log '
                                'file: %r' % (what, pid, fd, links))
        self.assertEqual(links.get(0), '/dev/null', what)
        self.assertEqual(links.get(1), '/dev/null', what)

    def test_inherited_descriptors_closed(self):
        srv, secret = self.start_with_fds()
        self.check_fds(srv, srv.pid, secret, 'master')
        c = self.conn(srv)
        self.assertTrue(c.line().startswith('+OK'))
        kids = srv.sessions()
        self.assertEqual(len(kids), 2, kids)    # monitor, pre-auth child
        monitor, preauth = kids
        for pid, what in ((monitor, 'monitor'), (preauth, 'pre-auth')):
            links = self.check_fds(srv, pid, secret, what)
            self.check_child_stdio(srv, pid, links, what)
        # pre-auth: stdio, the client, the monitor's IPC socket, maybe
        # syslog's socket: nothing else
        self.assertLessEqual(len(p23.fd_targets(preauth)), 6,
                             fd_links(preauth))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('STAT'))
        self.assertEqual(srv.sessions(), [monitor])     # now the session
        links = self.check_fds(srv, monitor, secret, 'session')
        self.check_child_stdio(srv, monitor, links, 'session')
        self.assertOK(c.cmd('QUIT'))
        # the children's lines still reach the log, from their own pids
        self.assertTrue(wait_log(srv, r'\[%d\] \S+ pop3 user=alice logout '
                                 r'result=ok' % monitor), srv.log_tail())
        self.assertTrue(re.search(r'\[%d\] \S+ pop3 connect client=' %
                                  monitor, srv.log_text()), srv.log_tail())

    @unittest.skipIf(p23.WRAPPER, '/proc/PID/environ of a process under '
                     'valgrind shows the environment valgrind was started '
                     'with, not the copy the daemon wipes')
    def test_environment_scrubbed(self):
        srv = self.server(start=False)
        os.environ['P23_LEAK_CHECK'] = 'leaked'
        try:
            srv.start()
        finally:
            del os.environ['P23_LEAK_CHECK']
        c = self.conn(srv)
        self.assertTrue(c.line().startswith('+OK'))
        for pid in [srv.pid] + srv.sessions():
            with open('/proc/%d/environ' % pid, 'rb') as f:
                env = f.read().split(b'\0')
            self.assertNotIn(b'P23_LEAK_CHECK=leaked', env, pid)


class Sandbox(p23.TestCase):
    """The pre-auth child runs with PR_SET_NO_NEW_PRIVS, a seccomp filter
    (mode 2) and rlimits that let it open, write or fork nothing; the
    session keeps NO_NEW_PRIVS and no capability.  (That a call outside
    the filter kills the process is shown in check_sandbox.c.)"""

    def test_preauth_and_session(self):
        srv = self.server()
        c = self.conn(srv)
        self.assertTrue(c.line().startswith('+OK'))
        monitor, preauth = srv.sessions()
        st = proc_status(preauth)
        self.assertEqual(st['NoNewPrivs'].strip(), '1', st)
        # An --enable-valgrind build has no filter and lowers only the
        # soft descriptor limit, which valgrind emulates and never hands
        # to the kernel, so /proc does not show it (see
        # doc/RELIABILITY.md, "Valgrind"): the rest is checked there too.
        self.assertEqual(st['Seccomp'].strip(), '0' if p23.WRAPPER else '2',
                         st)
        self.assertRegex(st['CapEff'], r'^0+$')
        lim = proc_limits(preauth)
        if not p23.WRAPPER:     # valgrind keeps RLIMIT_NOFILE to itself
            self.assertEqual(lim['Max open files'], ('3', '3'))
        self.assertEqual(lim['Max file size'], ('0', '0'))
        self.assertEqual(lim['Max processes'], ('0', '0'))
        # still serves: the filter allows the whole login dialogue
        self.assertTrue(c.cmd('CAPA').startswith('+OK'))
        c.multi()
        self.assertERR(c.cmd('PASS x'))
        self.assertOK(c.cmd('USER alice'))
        self.assertERR(c.cmd('PASS wrong'))
        self.assertOK(c.cmd('USER alice'))
        self.assertOK(c.cmd('PASS alicepw'))
        self.assertOK(c.cmd('STAT'))
        self.assertEqual(srv.sessions(), [monitor])
        st = proc_status(monitor)
        self.assertEqual(st['NoNewPrivs'].strip(), '1', st)
        self.assertEqual(st['Seccomp'].strip(), '0', st)
        self.assertRegex(st['CapEff'], r'^0+$')
        self.assertOK(c.cmd('QUIT'))
        self.assertNotIn('died of signal', srv.log_text())

    def test_preauth_death_logged(self):
        # A pre-auth child killed by the filter (SIGSYS) must leave a
        # trace in the log, not only a closed connection.  The signal is
        # sent from outside: the same status the kernel's kill gives.
        srv = self.server()
        c = self.conn(srv)
        self.assertTrue(c.line().startswith('+OK'))
        monitor, preauth = srv.sessions()
        os.kill(preauth, signal.SIGSYS)
        self.assertTrue(c.closed())
        self.assertTrue(wait_log(srv, r'pre-auth process died of signal '
                                 r'%d \(a system call the sandbox '
                                 r'forbids\)' % signal.SIGSYS),
                        srv.log_text()[-2000:])

    def test_pop2_preauth(self):
        srv = self.server(pop2=True)
        c = self.conn(srv, pop2=True)
        self.assertTrue(c.line().startswith('+'))
        monitor, preauth = srv.sessions()
        self.assertEqual(proc_status(preauth)['Seccomp'].strip(),
                         '0' if p23.WRAPPER else '2')    # (as above)
        self.assertTrue(c.cmd('HELO alice alicepw').startswith('#'))
        self.assertTrue(c.cmd('QUIT').startswith('+'))


def readelf(*args):
    return subprocess.run(['readelf', '-W'] + list(args), check=True,
                          capture_output=True, text=True).stdout


@unittest.skipIf(shutil.which('readelf') is None, 'readelf (binutils) '
                 'is not installed')
class BuildFlags(p23.TestCase):
    """Every binary and plugin is built with stack canaries and (outside
    sanitizer builds) _FORTIFY_SOURCE, the binaries as PIE, everything
    with RELRO and immediate binding (configure.ac)."""

    def objects(self):
        objs = [p23.BINARY, os.path.join(p23.BUILDDIR, 'pop2get')]
        objs += [os.path.join(p23.PLUGINDIR, n) for n in
                 ('auth_passwdfile.so', 'store_maildir.so')]
        return objs

    @staticmethod
    def sanitized():
        return '__asan_init' in readelf('--dyn-syms', p23.BINARY)

    def test_relro_now(self):
        for o in self.objects():
            self.assertTrue('GNU_RELRO' in readelf('-l', o),
                            o + ': no RELRO segment')
            self.assertTrue(re.search(r'\(FLAGS\)\s+.*BIND_NOW|FLAGS_1\)'
                                      r'\s+Flags:.*\bNOW\b',
                                      readelf('-d', o)),
                            o + ': not linked -z now')

    def test_pie(self):
        for o in self.objects()[:2]:
            self.assertTrue('DYN (Position-Independent Executable' in
                            readelf('-h', o), o + ': not PIE')

    def test_stack_protector_and_fortify(self):
        for o in self.objects():
            syms = readelf('--dyn-syms', o)
            self.assertTrue('__stack_chk_fail' in syms,
                            o + ': no stack protector')
            # (--enable-valgrind builds without _FORTIFY_SOURCE: see
            # doc/RELIABILITY.md, "Valgrind")
            if not self.sanitized() and not p23.WRAPPER:
                self.assertTrue(re.search(r'__\w+_chk@', syms),
                                o + ': no fortified libc call')

    @unittest.skipIf(shutil.which('hardening-check') is None,
                     'hardening-check (devscripts) is not installed')
    def test_hardening_check(self):
        r = subprocess.run(['hardening-check', p23.BINARY],
                           capture_output=True, text=True)
        for want in ('Position Independent Executable: yes',
                     'Stack protected: yes',
                     'Read-only relocations: yes',
                     'Immediate binding: yes'):
            self.assertIn(want, r.stdout)


if __name__ == '__main__':
    p23.main()
