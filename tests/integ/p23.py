#!/usr/bin/env python3
# p23.py - shared harness for the pop23d integration tests (Python 3.11
# stdlib only).  GPL-3.0-or-later.
#
# Server  starts a real pop23d on 127.0.0.1 (any free port) with a temp
#         config, passwd-file and Maildirs, and stops it again.
# Conn    a raw socket with line / multi-line helpers for dialogues.
# main()  runs the unittest cases of the calling file and prints
#         "N passed, N failed"; exit 0, 1, or 77 (skip: a client is missing).
#
# Environment: POP23D_BUILDDIR (where the pop23d binary is; default the
# tree two levels up), POP23D_PLUGINDIR (default $POP23D_BUILDDIR/.libs),
# P23_KEEP=1 keeps every temp dir for a post-mortem.
#
# Started as root, the harness makes the sessions run as nobody (65534):
# the passwd-file gives uid/gid 65534, pre-auth runs as login_user nobody
# chrooted in <tmp>/empty, and every file it creates under the home dirs
# belongs to 65534; the auth service runs as auth_user daemon (uid 1,
# AUTH_UID), which reads the passwd-file through its group (0640
# root:daemon).  As any other user everything runs as that user
# ("rootless" mode).

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDDIR = os.environ.get('POP23D_BUILDDIR') or \
    os.path.normpath(os.path.join(HERE, '..', '..'))
PLUGINDIR = os.environ.get('POP23D_PLUGINDIR') or \
    os.path.join(BUILDDIR, '.libs')
BINARY = os.path.join(BUILDDIR, 'pop23d')

ROOT = os.geteuid() == 0
NOBODY = 65534
SESSION_UID = NOBODY if ROOT else os.getuid()
SESSION_GID = NOBODY if ROOT else os.getgid()
# The auth service's user and group in root mode (not login_user's).
AUTH_USER = 'daemon'
AUTH_UID = 1
AUTH_GID = 1

DEFAULT_USERS = {'alice': 'alicepw', 'bob': 'bobpw'}
# POP23D_WRAPPER: a command the daemon runs under ("make check-valgrind"
# sets valgrind's); everything is slower under it, so the waits grow.
WRAPPER = os.environ.get('POP23D_WRAPPER', '').split()
START_TIMEOUT = 10.0 * (6 if WRAPPER else 1)
STOP_TIMEOUT = 10.0 * (6 if WRAPPER else 1)
# The factor for a test's own waits and time bounds under the wrapper.
SLOW = 6 if WRAPPER else 1
# Reports a sanitizer build writes to stderr (= server.log).
SANITIZER_RE = re.compile(r'ERROR: (Address|Leak|Memory|Thread)Sanitizer|'
                          r'runtime error: |SUMMARY: \w+Sanitizer|'
                          r'VALGRIND-ERROR-BEGIN')

# Servers alive now or started by the running test: their log tails are
# printed when the test fails.
_live_servers = []
_test_servers = []


def crlf(data: bytes) -> bytes:
    """What RETR must send for a stored message (before stuffing): every
    line end becomes CRLF (a lone LF gets a CR; CRLF stays), and a missing
    final newline gets a CRLF (doc/PROTOCOLS.md, edge case 60)."""
    out = re.sub(rb'(?<!\r)\n', b'\r\n', data)
    if out and not out.endswith(b'\r\n'):
        out += b'\r\n'
    return out


def sized_message(size, tag='msg', lf=True) -> bytes:
    """A small RFC 5322 message whose CRLF size (what LIST reports) is
    exactly SIZE octets (at least about 100); stored with LF line ends
    unless LF is false."""
    head = ('From: sender@example.org\nTo: alice@example.org\n'
            'Subject: %s\n\nBody of %s.\n' % (tag, tag)).encode()
    need = size - len(crlf(head))
    if need < 3:
        raise ValueError('size %d too small' % size)
    body = b''
    while need > 0:
        n = min(need - 2, 60)
        if 0 < need - (n + 2) < 3:
            n -= 3
        body += b'x' * n + b'\n'
        need -= n + 2
    data = head + body
    assert len(crlf(data)) == size, (len(crlf(data)), size)
    return data if lf else crlf(data)


def stuff(data: bytes) -> bytes:
    """Byte-stuff CRLF text as RFC 1939 section 3 says."""
    lines = data.split(b'\r\n')
    return b'\r\n'.join(b'.' + l if l.startswith(b'.') else l for l in lines)


def unstuff(lines):
    """Remove one leading '.' from every line of a multi-line response
    (a list of str or bytes lines, without CRLF)."""
    out = []
    for l in lines:
        dot = '.' if isinstance(l, str) else b'.'
        out.append(l[1:] if l.startswith(dot) else l)
    return out


def unstuff_bytes(body: bytes) -> bytes:
    """Unstuff a raw multi-line body (CRLF-separated, terminator removed)."""
    if not body:
        return body
    assert body.endswith(b'\r\n'), body[-20:]
    lines = body[:-2].split(b'\r\n')
    return b'\r\n'.join(unstuff(lines)) + b'\r\n'


def apop_digest(greeting: str, secret: str) -> str:
    """MD5(timestamp + secret) in lower-case hex (RFC 1939 section 7)."""
    m = re.search(r'<[^<>]*>', greeting)
    assert m, 'no APOP timestamp in %r' % greeting
    return hashlib.md5((m.group(0) + secret).encode()).hexdigest()


def proc_stat(pid):
    """(ppid, state) of PID from /proc, or None if it is gone."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            s = f.read().decode('latin-1')
    except OSError:
        return None
    rest = s[s.rfind(')') + 2:].split()
    return int(rest[1]), rest[0]


def tcp_inodes(listening=True):
    """Inodes of every TCP socket on the host; without LISTENING, of
    those not in the LISTEN state (st 0A) only."""
    out = set()
    for name in ('tcp', 'tcp6'):
        try:
            with open('/proc/net/' + name) as f:
                next(f)
                for line in f:
                    w = line.split()
                    if listening or w[3] != '0A':
                        out.add(w[9])
        except (FileNotFoundError, IndexError):
            pass
    return out


def holds_tcp(pid, listening=True):
    """Does PID hold a TCP socket (without LISTENING: a connection, not
    a listening socket)?  Its socket inodes are read first and the TCP
    table after them, so a socket it got just now (a monitor forked
    after an accept()) is already in the table."""
    mine = set()
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return False
    for fd in fds:
        try:
            t = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if t.startswith('socket:['):
            mine.add(t[8:-1])
    return bool(mine & tcp_inodes(listening))


def fd_targets(pid):
    """{fd: readlink target} of PID's descriptors, without valgrind's own
    under the wrapper: valgrind keeps them in the 12 numbers below the
    hard RLIMIT_NOFILE it started with, the limit /proc/PID/limits shows
    (the process itself sees one 12 lower)."""
    out = {}
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return out
    top = None
    if WRAPPER:
        with open('/proc/%d/limits' % pid) as f:
            for line in f:
                w = line.split()
                if line.startswith('Max open files') and w[4].isdigit():
                    top = int(w[4]) - 12
    for fd in fds:
        if top is not None and int(fd) >= top:
            continue
        try:
            out[int(fd)] = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            pass
    return out


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (RFC 3720), as src/crc32c.c computes it; CRC continues an
    earlier value."""
    crc ^= 0xffffffff
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


def descendants(pid):
    """All live descendants of PID (children first), from /proc."""
    parent = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] != 'Z':
                parent[int(d)] = st[0]
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        kids = sorted(k for k, pp in parent.items() if pp == p)
        out.extend(kids)
        todo.extend(kids)
    return out


def rss_kb(pid):
    """VmRSS of PID in KiB, or None if it is gone."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for l in f:
                if l.startswith('VmRSS:'):
                    return int(l.split()[1])
    except OSError:
        return None
    return 0


def proc_uid(pid):
    """Real uid of PID or None."""
    try:
        with open('/proc/%d/status' % pid) as f:
            for l in f:
                if l.startswith('Uid:'):
                    return int(l.split()[1])
    except OSError:
        return None
    return None


def wait_until(pred, timeout, step=0.02):
    """Poll PRED until it returns a true value or TIMEOUT seconds pass;
    returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


class ProtocolError(AssertionError):
    pass


class Server:
    """A pop23d instance on a temp dir.  See the file header."""

    def __init__(self, users=None, pop2=False, conf=None, apop=False,
                 start=True):
        self.tmp = tempfile.mkdtemp(prefix='p23-')
        os.chmod(self.tmp, 0o755)
        self.binary = BINARY
        self.plugindir = PLUGINDIR
        self.pop2 = pop2
        self.apop = apop
        self.conf = dict(conf or {})
        # More "listen" values (e.g. "pop3s 127.0.0.1:0"), after the
        # default ones; their ports are in self.ports.
        self.extra_listen = []
        self.conf_path = os.path.join(self.tmp, 'pop23d.conf')
        self.passwd_path = os.path.join(self.tmp, 'passwd')
        self.port_file = os.path.join(self.tmp, 'ports')
        self.log_path = os.path.join(self.tmp, 'server.log')
        self.proc = None
        self.pid = None
        # Extra environment for the daemon (e.g. an LD_PRELOAD shim).
        self.env = {}
        self.ports = []
        self.pop3_port = None
        self.pop2_port = None
        self.exit_status = None
        self._final_log = None
        self._ts = 1700000000
        self._counter = 0
        self._cleaned = False
        self._signalled = False
        self.users = {}
        os.mkdir(os.path.join(self.tmp, 'home'), 0o755)
        if ROOT:
            os.mkdir(os.path.join(self.tmp, 'empty'), 0o755)
        for name, pw in (DEFAULT_USERS if users is None else users).items():
            self.add_user(name, pw, write=False)
        self.write_passwd()
        self.write_config()
        _live_servers.append(self)
        _test_servers.append(self)
        if start:
            self.start()

    # ------------------------------------------------------------ files
    def _own(self, path):
        if ROOT:
            os.chown(path, SESSION_UID, SESSION_GID, follow_symlinks=False)

    def home(self, user):
        return os.path.join(self.tmp, 'home', user)

    def maildir(self, user):
        return os.path.join(self.home(user), 'Maildir')

    def index_path(self, user):
        return os.path.join(self.maildir(user), 'pop23d.index')

    def add_user(self, name, pw, write=True):
        """Add NAME with PW (str, or (password, scheme)) and an empty
        Maildir."""
        self.users[name] = pw
        home = self.home(name)
        if not os.path.isdir(home):
            os.mkdir(home, 0o755)
            self._own(home)
            md = self.maildir(name)
            os.mkdir(md, 0o700)
            self._own(md)
            for sub in ('cur', 'new', 'tmp'):
                os.mkdir(os.path.join(md, sub), 0o700)
                self._own(os.path.join(md, sub))
        if write:
            self.write_passwd()

    def password(self, user):
        pw = self.users[user]
        return pw[0] if isinstance(pw, tuple) else pw

    @staticmethod
    def _hash(pw, scheme):
        if scheme == 'plain':
            return '{PLAIN}' + pw
        if scheme in ('sha512', 'crypt-sha512'):
            h = subprocess.run(['openssl', 'passwd', '-6', '-stdin'],
                               input=pw.encode(), capture_output=True,
                               check=True).stdout.decode().strip()
            return h if scheme == 'sha512' else '{CRYPT}' + h
        if scheme == 'raw':
            return pw
        raise ValueError('unknown scheme %r' % scheme)

    def passwd_line(self, name):
        pw = self.users[name]
        pw, scheme = pw if isinstance(pw, tuple) else (pw, 'plain')
        return '%s:%s:%d:%d::%s::\n' % (name, self._hash(pw, scheme),
                                         SESSION_UID, SESSION_GID,
                                         self.home(name))

    def write_passwd(self):
        text = ''.join(self.passwd_line(n) for n in self.users)
        tmp = self.passwd_path + '.new'
        with open(tmp, 'w') as f:
            f.write(text)
        os.chmod(tmp, 0o640)
        if ROOT:
            os.chown(tmp, 0, AUTH_GID)
        os.rename(tmp, self.passwd_path)

    def config_lines(self):
        """The config file as a list of lines (without newlines).  Keys in
        self.conf override the defaults; a value of None drops a key; a
        key "section.key" goes into [section]."""
        glob = {
            'port_file': self.port_file,
            'pid_file': os.path.join(self.tmp, 'pop23d.pid'),
            'plugin_dir': self.plugindir,
            'auth': 'passwdfile',
            'storage': 'maildir',
            'mail_location': '%h/Maildir',
            'auth_failure_delay': '0',
            'apop': 'yes' if self.apop else 'no',
            'hostname': 'test.example',
        }
        if ROOT:
            glob['login_user'] = 'nobody'
            glob['auth_user'] = AUTH_USER
            glob['login_chroot'] = os.path.join(self.tmp, 'empty')
        sections = {'passwdfile': {'path': self.passwd_path}}
        for k, v in self.conf.items():
            if '.' in k:
                sec, key = k.split('.', 1)
                d = sections.setdefault(sec, {})
            else:
                d, key = glob, k
            if v is None:
                d.pop(key, None)
            else:
                d[key] = str(v)
        lines = ['# pop23d test config (tests/integ/p23.py)',
                 'listen = pop3 127.0.0.1:0']
        if self.pop2:
            lines.append('listen = pop2 127.0.0.1:0')
        lines += ['listen = %s' % l for l in self.extra_listen]
        lines += ['%s = %s' % kv for kv in glob.items()]
        for sec, d in sections.items():
            lines += ['', '[%s]' % sec] + ['%s = %s' % kv for kv in d.items()]
        return lines

    def config_text(self):
        return '\n'.join(self.config_lines()) + '\n'

    def write_config(self, text=None):
        with open(self.conf_path, 'w') as f:
            f.write(self.config_text() if text is None else text)

    def add_message(self, user, data: bytes, subdir='new', name=None):
        """Deliver DATA into USER's Maildir (via tmp/, as a deliverer
        does); returns the unique key (the file name before ':').  Names
        and mtimes grow in insertion order so the order is stable."""
        self._ts += 1
        self._counter += 1
        if name is None:
            name = '%d.%d_%d.test' % (self._ts, self._counter, os.getpid())
            if subdir == 'cur':
                name += ':2,'
        md = self.maildir(user)
        tmp = os.path.join(md, 'tmp', name.replace(':', '_') + '.part')
        with open(tmp, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        self._own(tmp)
        os.utime(tmp, (self._ts, self._ts))
        os.rename(tmp, os.path.join(md, subdir, name))
        return name.split(':')[0]

    def files(self, user):
        """[(subdir, file name)] in new/ and cur/, sorted by key."""
        out = []
        for sub in ('new', 'cur'):
            for f in os.listdir(os.path.join(self.maildir(user), sub)):
                out.append((sub, f))
        return sorted(out, key=lambda t: t[1].split(':')[0])

    def messages(self, user):
        """[(key, bytes)] of the messages now on disk (new/ + cur/)."""
        out = []
        for sub, f in self.files(user):
            with open(os.path.join(self.maildir(user), sub, f), 'rb') as fh:
                out.append((f.split(':')[0], fh.read()))
        return out

    def path_of(self, user, key):
        """Current path of message KEY, or None."""
        for sub, f in self.files(user):
            if f.split(':')[0] == key:
                return os.path.join(self.maildir(user), sub, f)
        return None

    # ---------------------------------------------------------- process
    def _expected_listeners(self):
        n = 0
        with open(self.conf_path) as f:
            for l in f:
                if re.match(r'\s*listen\s*=', l):
                    n += 1
        return n

    def start(self, pass_fds=()):
        """Start pop23d -f -d and wait until the port file lists every
        listener.  PASS_FDS: descriptors of ours the daemon inherits (to
        check that it does not hand them on)."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError('already running')
        try:
            os.unlink(self.port_file)
        except FileNotFoundError:
            pass
        want = self._expected_listeners()
        log = open(self.log_path, 'ab')
        try:
            self.proc = subprocess.Popen(
                WRAPPER + [self.binary, '-f', '-d', '-c', self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                cwd=self.tmp, pass_fds=pass_fds,
                env=dict(os.environ, **self.env))
        finally:
            log.close()
        self.pid = self.proc.pid
        self.exit_status = None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            ports = self._read_ports()
            if ports is not None and len(ports) >= want:
                break
            if self.proc.poll() is not None:
                raise RuntimeError('pop23d exited with %s at start:\n%s' %
                                   (self.proc.returncode,
                                    self.log_tail()))
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise RuntimeError('pop23d wrote no port file within %ds:\n%s'
                                   % (START_TIMEOUT, self.log_tail()))
            time.sleep(0.01)
        self._set_ports(ports)
        return self

    def port(self, proto):
        """The port of the first listener of PROTO ("pop3s" ...)."""
        return next((p for pr, a, p in self.ports if pr == proto), None)

    def _set_ports(self, ports):
        self.ports = ports
        self.pop3_port = next((p for pr, a, p in ports if pr == 'pop3'), None)
        self.pop2_port = next((p for pr, a, p in ports if pr == 'pop2'), None)

    def refresh_ports(self):
        """Re-read the port file (a reload may rebind "port 0"
        listeners)."""
        ports = self._read_ports()
        if ports:
            self._set_ports(ports)
        return self.ports

    def _read_ports(self):
        try:
            with open(self.port_file) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.endswith('\n'):
            return None
        out = []
        for l in text.splitlines():
            w = l.split()
            if len(w) != 3 or not w[2].isdigit():
                return None
            out.append((w[0], w[1], int(w[2])))
        return out

    def kill(self, sig):
        """Send SIG to the master (the test expects what follows, e.g.
        an exit on SIGTERM)."""
        self._signalled = True
        os.kill(self.pid, sig)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def sessions(self):
        """Live descendants of the master (monitors, sessions, pre-auth
        children), without the auth service and its workers."""
        if not self.running():
            return []
        # The descendants first: an auth worker the pool starts between
        # the two scans is then either in neither or in svc too, never
        # counted as a session.
        desc = descendants(self.pid)
        svc = set(self.auth_services(with_workers=True))
        return [p for p in desc if p not in svc]

    def auth_services(self, with_workers=False):
        """The auth service (the master's child that holds no TCP
        socket, nor does any process below it; more than one while an
        old one drains after SIGHUP), and
        with WITH_WORKERS their descendants too."""
        if not self.running():
            return []
        # One read of each process's stat: it may exit between two.  A
        # session under TLS has given its TCP socket to its TLS proxy
        # (its child): it is no auth service.  Only connections count:
        # a freshly forked auth service still holds the master's
        # listening sockets until it closes them, which on a busy
        # machine (or under valgrind) can be after the first connect.
        # One scan of /proc and one
        # read of the TCP table for all processes (the sockets first, as
        # in holds_tcp()): a loaded host's table is long, and the auth
        # service has a worker per CPU below it.
        parent = {}
        for d in os.listdir('/proc'):
            if d.isdigit():
                st = proc_stat(int(d))
                if st and st[1] != 'Z':
                    parent[int(d)] = st[0]

        def below(pid):
            out, todo = [], [pid]
            while todo:
                kids = sorted(k for k, pp in parent.items()
                              if pp == todo[0])
                todo.pop(0)
                out.extend(kids)
                todo.extend(kids)
            return out

        tree = {p: below(p) for p, pp in parent.items() if pp == self.pid}
        socks = {}
        for p in [k for c, ks in tree.items() for k in [c] + ks]:
            socks[p] = set()
            try:
                fds = os.listdir('/proc/%d/fd' % p)
            except OSError:
                continue
            for fd in fds:
                try:
                    t = os.readlink('/proc/%d/fd/%s' % (p, fd))
                except OSError:
                    continue
                if t.startswith('socket:['):
                    socks[p].add(t[8:-1])
        tcp = tcp_inodes(listening=False)
        out = sorted(p for p, ks in tree.items()
                     if not any(socks[k] & tcp for k in [p] + ks))
        if with_workers:
            out += [k for p in list(out) for k in tree[p]]
        return out

    def stop(self, sig=signal.SIGTERM):
        """Send SIG to the master and wait (SIGKILL after 10 s).  Leftover
        descendants are killed too.  Returns the exit status."""
        if self.proc is None:
            return self.exit_status
        if self.proc.poll() is None:
            kids = descendants(self.pid)
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for k in kids:
                if proc_stat(k) is not None:
                    try:
                        os.kill(k, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.exit_status = self.proc.returncode
        self.proc = None
        return self.exit_status

    def restart(self):
        self.stop()
        return self.start()

    def reload(self):
        """SIGHUP the master."""
        self.kill(signal.SIGHUP)

    def run_binary(self, *args, timeout=20, conf=True):
        """Run pop23d with ARGS (plus -c CONF when CONF) and return the
        CompletedProcess (text output)."""
        cmd = [self.binary] + list(args)
        if conf:
            cmd += ['-c', self.conf_path if conf is True else conf]
        return subprocess.run(cmd, capture_output=True, text=True,
                              errors='replace', timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def check_config(self, path=None):
        """pop23d -t -c PATH (default: this server's config)."""
        return self.run_binary('-t', conf=path or True)

    def log_bytes(self):
        if self._final_log is not None:
            return self._final_log
        try:
            with open(self.log_path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return b''

    def log_text(self):
        return self.log_bytes().decode('latin-1')

    def log_tail(self, n=40):
        return '\n'.join(self.log_text().splitlines()[-n:])

    def cleanup(self):
        """Stop the server, check its log for sanitizer reports and
        remove the temp dir (unless P23_KEEP is set)."""
        if self._cleaned:
            return
        self._cleaned = True
        crashed = None
        if self.proc is not None and self.proc.poll() is not None and \
                not self._signalled:
            crashed = self.proc.returncode
        self.stop()
        self._final_log = self.log_bytes()
        if self in _live_servers:
            _live_servers.remove(self)
        if os.environ.get('P23_KEEP'):
            sys.stderr.write('P23_KEEP: %s\n' % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        m = SANITIZER_RE.search(self._final_log.decode('latin-1'))
        if m:
            raise AssertionError('sanitizer report in server log:\n' +
                                 self.log_tail(60))
        if crashed is not None:
            raise AssertionError('pop23d master died on its own (status %s)'
                                 ':\n%s' % (crashed, self.log_tail()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -------------------------------------------------------- shortcuts
    def conn(self, timeout=10, pop2=False, source=None):
        """A connection from 127.0.0.1, or from SOURCE (another address
        of 127/8: another client for the per-address rules)."""
        return Conn(self.pop2_port if pop2 else self.pop3_port, timeout,
                    source=source)

    def login(self, user='alice', password=None, timeout=10):
        """A Conn logged in as USER (asserts +OK); .greeting and
        .login_reply are kept on it."""
        c = self.conn(timeout)
        c.login(user, self.password(user) if password is None else password)
        if not c.login_reply.startswith('+OK'):
            c.close()
            raise AssertionError('login %s failed: %r' % (user,
                                                          c.login_reply))
        return c


class Conn:
    """A raw client connection.  Lines are returned as str (latin-1) with
    the CRLF removed; a bare LF from the server is a protocol error."""

    def __init__(self, port, timeout=10, host='127.0.0.1', source=None):
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b''
        self.eof = False
        self.greeting = None
        self.login_reply = None

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no data from server within %ss (have %r)'
                               % (self.timeout, self.buf[:200]))
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError('no data from server within %ss (have %r)'
                               % (self.timeout, self.buf[:200])) from None
        except ConnectionResetError:
            d = b''
        if not d:
            self.eof = True
        self.buf += d
        return d

    def rawline(self, timeout=None) -> bytes:
        """One line including its CRLF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(b'\n')
            if i >= 0:
                l, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                if not l.endswith(b'\r\n'):
                    raise ProtocolError('bare LF from server: %r' % l)
                return l
            if self.eof:
                raise EOFError('connection closed by server (partial %r)'
                               % self.buf)
            self._recv(deadline)

    def line(self, timeout=None) -> str:
        return self.rawline(timeout)[:-2].decode('latin-1')

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def cmd(self, s) -> str:
        """Send S + CRLF, return the status line."""
        self.send((s.encode('latin-1') if isinstance(s, str) else s) +
                  b'\r\n')
        return self.line()

    def multi(self):
        """The rest of a multi-line response: the raw (still stuffed)
        lines up to, not including, the '.' terminator."""
        out = []
        while True:
            l = self.line()
            if l == '.':
                return out
            out.append(l)

    def multi_raw(self) -> bytes:
        """The rest of a multi-line response as the exact bytes sent
        before the terminating '.CRLF' (still stuffed)."""
        parts = []
        while True:
            l = self.rawline()
            if l == b'.\r\n':
                return b''.join(parts)
            parts.append(l)

    def cmd_multi(self, s):
        """(status line, raw lines or None if not +OK)."""
        st = self.cmd(s)
        return st, (self.multi() if st.startswith('+OK') else None)

    def retr(self, n, cmd='RETR'):
        """RETR N: (status, unstuffed message bytes)."""
        st = self.cmd('%s %s' % (cmd, n))
        if not st.startswith('+OK'):
            return st, None
        return st, unstuff_bytes(self.multi_raw())

    def read_exact(self, n) -> bytes:
        deadline = time.monotonic() + self.timeout
        while len(self.buf) < n:
            if self.eof:
                raise EOFError('closed after %d of %d octets'
                               % (len(self.buf), n))
            self._recv(deadline)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def closed(self, timeout=5.0) -> bool:
        """True if the server closes the connection within TIMEOUT
        seconds.  Anything it sends meanwhile stays in .buf."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._recv(deadline)
            except TimeoutError:
                return False
            except OSError:
                self.eof = True
        return True

    def login(self, user, password):
        """Read the greeting, send USER and PASS; returns PASS's reply
        (also kept as .login_reply).  A USER failure is returned as is."""
        self.greeting = self.line()
        r = self.cmd('USER ' + user)
        if r.startswith('+OK'):
            r = self.cmd('PASS ' + password)
        self.login_reply = r
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class TestCase(unittest.TestCase):
    """unittest.TestCase with server helpers: self.server(...) makes a
    Server that is cleaned up after the test."""

    def server(self, users=None, pop2=False, conf=None, apop=False,
               start=True):
        s = Server(users=users, pop2=pop2, conf=conf, apop=apop,
                   start=False)
        self.addCleanup(s.cleanup)
        if start:
            s.start()
        return s

    def conn(self, srv, **kw):
        c = srv.conn(**kw)
        self.addCleanup(c.close)
        return c

    def login(self, srv, user='alice', password=None, timeout=10):
        c = srv.login(user, password, timeout)
        self.addCleanup(c.close)
        return c

    def assertOK(self, line, msg=None):
        if not line.startswith('+OK'):
            self.fail(msg or 'expected +OK, got %r' % line)

    def assertERR(self, line, msg=None):
        if not line.startswith('-ERR'):
            self.fail(msg or 'expected -ERR, got %r' % line)


def need(*binaries):
    """unittest skip decorator for a missing client binary."""
    missing = [b for b in binaries if shutil.which(b) is None]
    return unittest.skipIf(missing, 'not installed: ' + ' '.join(missing))


class _Result(unittest.TextTestResult):
    def startTest(self, test):
        del _test_servers[:]
        super().startTest(test)

    def _dump_logs(self):
        seen = []
        for s in _test_servers + _live_servers:
            if s in seen:
                continue
            seen.append(s)
            self.stream.write('\n--- server log (%s), last lines ---\n%s\n'
                              % (s.tmp, s.log_tail()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump_logs()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump_logs()


def main(requires=()):
    """Run the unittest cases of __main__.  Exit 77 (skip) if one of the
    REQUIRES binaries is missing, else 0 if all passed, else 1."""
    missing = [b for b in requires if shutil.which(b) is None]
    if missing:
        print('SKIP: not installed: ' + ' '.join(missing))
        sys.exit(77)
    if not os.access(BINARY, os.X_OK):
        print('pop23d binary not found at %s (set POP23D_BUILDDIR)' % BINARY)
        sys.exit(99)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result,
                                     stream=sys.stdout)
    prog = unittest.main(module='__main__', exit=False, testRunner=runner)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(r.unexpectedSuccesses)
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped - len(r.expectedFailures)
    for s in list(_live_servers):
        try:
            s.cleanup()
        except AssertionError as e:
            print('cleanup: %s' % e)
            failed += 1
    if skipped:
        print('%d skipped' % skipped)
    print('%d passed, %d failed' % (passed, failed))
    sys.stdout.flush()
    sys.exit(0 if failed == 0 and r.testsRun > 0 else 1)
