#!/usr/bin/env python3
# crashlib.py - the shared harness of the crash, I/O-error and disk-full
# tests (doc/RELIABILITY.md, "Crash safety"), written so that every
# storage backend can run the same tests.  GPL-3.0-or-later.
#
# Messages.  Every test message is made by message(seq): its content is a
# pure function of its sequence number, which it carries in an
# "X-P23-Seq: N" header.  Whatever the backend stores, the checker reads
# the messages back, takes the number from the header and compares the
# whole content with message(seq): a lost, duplicated, truncated or
# altered message cannot go unseen, and no shared state with a deliverer
# process is needed.
#
# Backends.  A backend knows how one storage keeps a maildrop: the
# configuration it needs, how a message is delivered (by the test itself,
# and by a separate deliverer process that runs while sessions commit),
# how the stored messages are read back, and where the index is.
# MaildirBackend is here; another storage registers its own class in
# BACKENDS (see the Backend docstring) and every test in
# test_crash.py / test_faults.py runs on it when its plugin is built.
#
# Shim.  use_shim(server) loads tests/reliability/faultinj.so into the
# daemon; Shim.set() writes the control file it reads (faultinj.c).
#
# Run as "crashlib.py deliver ..." this file is the deliverer process.

import hashlib
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integ'))
import p23  # noqa: E402

SEQ_RE = re.compile(rb'^X-P23-Seq: (\d+)\r?$', re.M)
# Sequence numbers of the deliverer process start here; the test's own
# messages stay below.
DELIVER_BASE = 1000000


def message(seq, from_lines=True) -> bytes:
    """The content of test message SEQ: LF or CRLF line ends, sometimes
    no final newline, lines that start with '.', and (FROM_LINES) lines
    that start with "From "; mostly small, now and then 20-100 KiB."""
    r = random.Random(seq * 7919 + 1939)
    eol = b'\r\n' if r.random() < 0.3 else b'\n'
    head = [b'From: deliverer@example.org', b'To: alice@example.org',
            b'Subject: crash test message %d' % seq,
            b'Message-ID: <%d.p23@example.org>' % seq,
            b'X-P23-Seq: %d' % seq, b'']
    n = r.choice((1, 2, 5, 12, 30, 60)) if r.random() < 0.97 else \
        r.randint(300, 1500)
    body = []
    for i in range(n):
        k = r.random()
        if k < 0.05:
            line = b'.' * r.randint(1, 3) + b'dot line'
        elif k < 0.08 and from_lines:
            line = b'From the body, line %d' % i
        elif k < 0.12:
            line = b''
        else:
            line = bytes(r.choice(b'abcdefghijklmnopqrstuvwxyz ')
                         for _ in range(r.randint(1, 76)))
        body.append(line)
    data = eol.join(head + body)
    if r.random() < 0.9:
        data += eol
    return data


def seq_of(data: bytes):
    """The X-P23-Seq number of stored message DATA, or None."""
    m = SEQ_RE.search(data)
    return int(m.group(1)) if m else None


def wire_size(data: bytes) -> int:
    """What LIST must say for DATA (doc/DESIGN.md section 5, "Sizes")."""
    return len(p23.crlf(data))


# ------------------------------------------------------------ CRC-32C
crc32c = p23.crc32c


def index_records(path):
    """{storage key (bytes): record value (bytes)} of the GDBM index at
    PATH, read with gdbm_dump; None if gdbm_dump is missing or the file
    cannot be read as a database."""
    if not os.path.exists(path):
        return {}
    try:
        out = subprocess.run(['gdbm_dump', '--format=ascii', path, '-'],
                             capture_output=True, timeout=20)
    except FileNotFoundError:
        return None
    if out.returncode != 0:
        return None
    import base64
    recs, pending, want, buf = {}, [], None, b''
    items = []
    for line in out.stdout.split(b'\n'):
        if line.startswith(b'#:len='):
            want = int(line[6:])
            buf = b''
            continue
        if line.startswith(b'#') or want is None:
            continue
        buf += line
        dec = base64.b64decode(buf)
        if len(dec) >= want:
            items.append(dec[:want])
            want = None
    for k, v in zip(items[0::2], items[1::2]):
        if k.startswith(b'm:'):
            recs[k[2:]] = v
    return recs


def check_index(path, present):
    """Check the index at PATH against PRESENT, {storage key (bytes):
    content}: every present message has a record that passes the
    CRC-32C, with its wire size and stored size.  Returns (problems,
    stale records) - records of keys no longer present are allowed (the
    next login that stores a record prunes them)."""
    recs = index_records(path)
    if recs is None:
        return ['index %s cannot be dumped' % path], 0
    problems = []
    for key, data in present.items():
        v = recs.get(key)
        if v is None:
            problems.append('no record for %r' % key)
            continue
        if len(v) != 22 or v[0] != 2 or v[1] & ~1:
            problems.append('bad record for %r: %r' % (key, v))
            continue
        size, raw = struct.unpack('>QQ', v[2:18])
        (crc,) = struct.unpack('>I', v[18:22])
        if crc != crc32c(v[:18], crc32c(key)):
            problems.append('record for %r fails its CRC' % key)
        elif size != wire_size(data) or raw != len(data):
            problems.append('record for %r says %d/%d, message is %d/%d'
                            % (key, size, raw, wire_size(data),
                               len(data)))
    stale = len(set(recs) - set(present))
    return problems, stale


# ------------------------------------------------------------ backends
class Backend:
    """One storage plugin as the tests see it.  A subclass sets NAME (the
    plugin name, "storage = NAME"), PLUGIN (the .so in the plugin
    directory, to skip when it is not built), and implements:

      conf(srv, user)       extra server configuration keys (dict)
      prepare()             make the user's empty maildrop
      deliver(data)         store one message as a deliverer would
      stored()              [(key, data)]: every stored message; KEY is
                            the storage's unique key (bytes) or None
      index_path()          the index file, or None
      deliverer_args()      extra argv for "crashlib.py deliver" (which
                            calls the class's deliver_loop())
      deliver_loop(args, seqs, stop)   (classmethod) deliver
                            message(seq) for each seq until stop()
      mount_point()         the directory that holds maildrop and index
                            (the disk-full tests mount a small file
                            system there before prepare())
      remove(key)           (optional) remove a stored message behind the
                            server's back, as another client would
    """
    NAME = None
    PLUGIN = None

    def __init__(self, srv, user):
        self.srv = srv
        self.user = user

    @classmethod
    def available(cls):
        return os.path.exists(os.path.join(p23.PLUGINDIR, cls.PLUGIN))


class MaildirBackend(Backend):
    NAME = 'maildir'
    PLUGIN = 'store_maildir.so'

    def conf(self):
        return {}

    def mount_point(self):
        return self.srv.home(self.user)

    def maildir(self):
        return self.srv.maildir(self.user)

    def prepare(self):
        home = self.srv.home(self.user)
        if not os.path.isdir(home):
            os.mkdir(home, 0o755)
        self.srv._own(home)
        md = self.maildir()
        if not os.path.isdir(md):
            os.mkdir(md, 0o700)
        self.srv._own(md)
        for sub in ('cur', 'new', 'tmp'):
            p = os.path.join(md, sub)
            if not os.path.isdir(p):
                os.mkdir(p, 0o700)
            self.srv._own(p)

    _n = 0

    def deliver(self, data):
        MaildirBackend._n += 1
        key = '%d.M%dP%d.p23crash' % (time.time(), MaildirBackend._n,
                                      os.getpid())
        md = self.maildir()
        tmp = os.path.join(md, 'tmp', key)
        with open(tmp, 'wb') as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        self.srv._own(tmp)
        os.rename(tmp, os.path.join(md, 'new', key))
        return key

    def stored(self):
        """One entry per stored file (inode): two names of one inode
        (what an interrupted link() + unlink() rename leaves) are one
        message on disk, and a problem only if a client can see both;
        the drain in Scenario.verify() finds that."""
        out, inodes = [], set()
        md = self.maildir()
        for sub in ('new', 'cur'):
            for f in os.listdir(os.path.join(md, sub)):
                if f.startswith('.'):
                    continue
                p = os.path.join(md, sub, f)
                st = os.lstat(p)
                if (st.st_dev, st.st_ino) in inodes:
                    continue
                inodes.add((st.st_dev, st.st_ino))
                with open(p, 'rb') as fh:
                    out.append((os.fsencode(f.split(':')[0]), fh.read()))
        return out

    def flags(self):
        """{key (bytes): (subdir, flags or None)} of the stored files."""
        out = {}
        md = self.maildir()
        for sub in ('new', 'cur'):
            for f in os.listdir(os.path.join(md, sub)):
                k, _, info = f.partition(':')
                out[os.fsencode(k)] = (sub, info[2:] if
                                       info.startswith('2,') else None)
        return out

    def index_path(self):
        return os.path.join(self.maildir(), 'pop23d.index')

    def remove(self, key):
        md = self.maildir()
        key = os.fsdecode(key)
        for sub in ('new', 'cur'):
            for f in os.listdir(os.path.join(md, sub)):
                if f.split(':')[0] == key:
                    os.unlink(os.path.join(md, sub, f))

    def deliverer_args(self):
        return ['--maildir', self.maildir()]

    @classmethod
    def deliver_loop(cls, args, seqs, stop):
        md = args['--maildir']
        host = 'deliver%d' % os.getpid()
        for seq in seqs:
            if stop():
                return
            data = message(seq)
            key = '%d.Q%d.%s' % (time.time(), seq, host)
            tmp = os.path.join(md, 'tmp', key)
            with open(tmp, 'wb') as f:
                f.write(data)
                chown_for(args, f.fileno())
            os.rename(tmp, os.path.join(md, 'new', key))
            yield seq


def chown_for(args, fd):
    """Give FD to the mail user when the deliverer was told to
    (--chown UID:GID, a deliverer started by root)."""
    if '--chown' in args:
        uid, gid = map(int, args['--chown'].split(':'))
        os.fchown(fd, uid, gid)
        os.fchmod(fd, 0o600)


MBOX_SEP_RE = re.compile(rb'^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) '
                         rb'(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|'
                         rb'Dec) +\d{1,2} \d{1,2}:\d\d', re.M)
MBOX_SEP = b'From deliverer@example.org Mon Dec  7 01:00:00 2026\n'


def _break_dead_dotlock(lock):
    """Remove LOCK if the process it names is gone (liblockfile's rule;
    a session killed during UPDATE leaves its dotlock)."""
    try:
        with open(lock) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pid <= 1:
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
    except PermissionError:
        pass


def mbox_lock(path):
    """Lock the mbox PATH as Debian's MDAs do: a dotlock made with link()
    (liblockfile's way), then an fcntl lock.  Returns the open file;
    mbox_unlock() releases both."""
    import fcntl
    lock = path + '.lock'
    tmp = '%s.lk%d' % (path, os.getpid())
    while True:
        with open(tmp, 'w') as f:
            f.write('%d\n' % os.getpid())
        try:
            os.link(tmp, lock)
            os.unlink(tmp)
            break
        except FileExistsError:
            os.unlink(tmp)
            _break_dead_dotlock(lock)
            time.sleep(0.001)
    f = open(path, 'ab')
    fcntl.lockf(f, fcntl.LOCK_EX)
    return f


def mbox_unlock(path, f):
    f.close()                   # drops the fcntl lock
    os.unlink(path + '.lock')


def mbox_append(path, data, chown=None):
    """Append DATA as an MDA does: separator line, the message, a newline
    if it has none, the empty line."""
    f = mbox_lock(path)
    try:
        if chown is not None:
            chown(f.fileno())
        rec = MBOX_SEP + data + (b'' if data.endswith(b'\n') else b'\n') + \
            b'\n'
        f.write(rec)
        f.flush()
    finally:
        mbox_unlock(path, f)


def mbox_split(data):
    """The messages of an mbox by the plugin's rules (doc/DESIGN.md): a
    separator line with a date, the empty line before the next one (or
    the end) not part of the message."""
    starts = [m.start() for m in MBOX_SEP_RE.finditer(data)]
    out = []
    for i, st in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(data)
        nl = data.find(b'\n', st)
        body = data[nl + 1:e] if nl != -1 and nl < e else b''
        if body.endswith(b'\n\n'):
            body = body[:-1]
        elif body.endswith(b'\n\r\n'):
            body = body[:-2]
        out.append(body)
    return out


class MboxBackend(Backend):
    """An mbox in the home directory (%h/inbox): the same locks, the same
    UPDATE code as /var/mail, without the dotlock helper (the directory
    is the user's), so the session is a single process.  An mbox cannot
    hold a message without a final newline: the deliverer adds one, as
    every MDA does, and stored() gives such a message back without it
    (its wire form, size and content hash are the same)."""
    NAME = 'mbox'
    PLUGIN = 'store_mbox.so'

    def conf(self):
        return {'storage': 'mbox', 'mail_location': '%h/inbox',
                'mbox.lock_timeout': 20}

    def mount_point(self):
        return self.srv.home(self.user)

    def mbox(self):
        return os.path.join(self.srv.home(self.user), 'inbox')

    def prepare(self):
        home = self.srv.home(self.user)
        if not os.path.isdir(home):
            os.mkdir(home, 0o755)
        self.srv._own(home)
        if not os.path.exists(self.mbox()):
            with open(self.mbox(), 'wb'):
                pass
            os.chmod(self.mbox(), 0o600)
            self.srv._own(self.mbox())

    def deliver(self, data):
        mbox_append(self.mbox(), data)
        return None

    def stored(self):
        """What the next session sees.  After a kill during UPDATE the
        mbox alone is half written: the stage file in the index
        directory completes it, and the plugin replays it at the next
        open.  So a session is opened first (login and QUIT, no other
        command: nothing is changed but that), then the file is read
        under the MDA locks."""
        if self.srv.running():
            c = login(self.srv, self.user)
            c.cmd('QUIT')
            c.close()
            p23.wait_until(lambda: not [p for p in self.srv.sessions()
                                        if p != self.srv.pid], 10)
        f = mbox_lock(self.mbox())
        try:
            with open(self.mbox(), 'rb') as r:
                data = r.read()
        finally:
            mbox_unlock(self.mbox(), f)
        out = []
        for m in mbox_split(data):
            seq = seq_of(m)
            if seq is not None and m.endswith(b'\n') and \
                    m[:-1] == message(seq) and \
                    not message(seq).endswith(b'\n'):
                m = m[:-1]
            out.append((None, m))
        return out

    def index_path(self):
        return os.path.join(self.srv.home(self.user), '.pop23d-mbox',
                            'INBOX', 'pop23d.index')

    def deliverer_args(self):
        return ['--mbox', self.mbox()]

    @classmethod
    def deliver_loop(cls, args, seqs, stop):
        import signal as sig
        pause = []
        sig.signal(sig.SIGUSR1, lambda *a: pause.append(1))
        with open(args['--log'] + '.ready', 'w'):
            pass
        for seq in seqs:
            if pause:
                # cooperative pause (Deliverer.pause): never stopped
                # while holding the mbox locks or half way through
                pause.clear()
                os.kill(os.getpid(), sig.SIGSTOP)
            if stop():
                return
            mbox_append(args['--mbox'], message(seq))
            yield seq


class SpoolBackend(MboxBackend):
    """The /var/mail layout (root only): the mbox in a spool directory
    root:mail 2775 that the user cannot write, so the session takes the
    dotlock through the gid-mail helper (src/dotlock.c), a second process.
    The index stays in the home directory (the shim's default prefix);
    tests that act on the dotlock itself give the shim the spool as its
    prefix.  Not in BACKENDS: the generic runs cover the same UPDATE code
    through MboxBackend."""
    NAME = 'spool'

    @classmethod
    def available(cls):
        return p23.ROOT and super().available()

    def spool(self):
        return os.path.join(self.srv.tmp, 'spool')

    def conf(self):
        return {'storage': 'mbox', 'mail_location': self.spool() + '/%u',
                'mbox.lock_timeout': 20, 'mbox.dotlock_group': 'mail'}

    def mbox(self):
        return os.path.join(self.spool(), self.user)

    def prepare(self):
        import grp
        home = self.srv.home(self.user)
        if not os.path.isdir(home):
            os.mkdir(home, 0o755)
        self.srv._own(home)
        mail = grp.getgrnam('mail').gr_gid
        if not os.path.isdir(self.spool()):
            os.mkdir(self.spool())
        os.chown(self.spool(), 0, mail)
        os.chmod(self.spool(), 0o2775)
        with open(self.mbox(), 'wb'):
            pass
        os.chown(self.mbox(), p23.SESSION_UID, mail)
        os.chmod(self.mbox(), 0o660)


BACKENDS = {'maildir': MaildirBackend, 'mbox': MboxBackend}


def backends():
    """The backends whose plugin is built, optionally limited by
    P23_BACKENDS=name,name."""
    want = os.environ.get('P23_BACKENDS')
    names = want.split(',') if want else list(BACKENDS)
    return [BACKENDS[n] for n in names
            if n in BACKENDS and BACKENDS[n].available()]


# ------------------------------------------------------------ deliverer
class Deliverer:
    """A separate process that delivers message(seq) for seq = BASE, BASE
    + 1, ... into BACKEND's maildrop, one every INTERVAL seconds on
    average, as the mail user, and appends each seq to LOG once it is
    stored.  pause() stops it with SIGSTOP (a delivery is either complete
    or not yet visible, for Maildir by construction) and waits until it is
    stopped; resume() lets it go on.  It stops by itself after MAX
    messages, after SECONDS, or when its parent goes away."""

    def __init__(self, backend, log, base=DELIVER_BASE, interval=0.002,
                 max_msgs=200000, seconds=3600):
        argv = [sys.executable, os.path.abspath(__file__), 'deliver',
                '--backend', backend.NAME, '--log', log,
                '--base', str(base), '--interval', str(interval),
                '--max', str(max_msgs), '--seconds', str(seconds)] + \
            backend.deliverer_args()

        if p23.ROOT:
            # Files must belong to the mail user, as an MDA's would.
            argv += ['--chown', '%d:%d' % (p23.SESSION_UID,
                                           p23.SESSION_GID)]
        self.log = log
        self.cooperative = backend.NAME == 'mbox'
        with open(log, 'wb'):
            pass
        if p23.ROOT:
            os.chown(log, p23.SESSION_UID, p23.SESSION_GID)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self.running = True

    def _state(self):
        st = p23.proc_stat(self.proc.pid)
        return st[1] if st else None

    def pause(self):
        if not self.running:
            return
        # An mbox deliverer stops itself between two deliveries (a
        # SIGSTOP could catch it holding the mbox locks or half way
        # through an append); a Maildir one is stopped anywhere.
        if self.cooperative:
            # its SIGUSR1 handler must be in place first
            p23.wait_until(lambda: os.path.exists(self.log + '.ready'), 10)
        os.kill(self.proc.pid, signal.SIGUSR1 if self.cooperative
                else signal.SIGSTOP)
        p23.wait_until(lambda: self._state() in ('T', 't', None), 5,
                       step=0.0005)
        self.running = False

    def resume(self):
        if self.running:
            return
        os.kill(self.proc.pid, signal.SIGCONT)
        self.running = True

    def delivered(self):
        """The seqs the deliverer has logged as stored."""
        with open(self.log, 'rb') as f:
            return {int(x) for x in f.read().split() if x.isdigit()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.wait()


def deliverer_main(argv):
    args = {}
    i = 0
    while i < len(argv):
        args[argv[i]] = argv[i + 1]
        i += 2
    backend = BACKENDS[args['--backend']]
    interval = float(args['--interval'])
    base = int(args['--base'])
    end = time.monotonic() + float(args['--seconds'])
    parent = os.getppid()
    rnd = random.Random(base)

    def stop():
        return os.getppid() != parent or time.monotonic() > end

    seqs = range(base, base + int(args['--max']))
    with open(args['--log'], 'ab', buffering=0) as log:
        for seq in backend.deliver_loop(args, seqs, stop):
            log.write(b'%d\n' % seq)
            time.sleep(rnd.expovariate(1 / interval))


# ---------------------------------------------------------------- shim
SHIM = os.path.join(p23.BUILDDIR, 'tests', 'reliability', '.libs',
                    'faultinj.so')


class Shim:
    """The control file of faultinj.so for one server."""

    def __init__(self, srv, prefix):
        self.srv = srv
        self.prefix = prefix
        self.path = os.path.join(srv.tmp, 'faultinj.ctl')
        self.trace_path = os.path.join(srv.tmp, 'faultinj.trace')
        self.set('off')
        env = {'LD_PRELOAD': SHIM, 'P23FI_CONTROL': self.path}
        asan = os.environ.get('ASAN_OPTIONS', '')
        # The shim comes before the sanitizer runtime in the load order.
        env['ASAN_OPTIONS'] = (asan + ':' if asan else '') + \
            'verify_asan_link_order=0'
        srv.env.update(env)

    def set(self, mode, k=0, err='EIO', ops=None, trace=False,
            renameat2=True, delay_ms=0, prefix=None):
        words = ['mode=%s' % mode, 'k=%d' % k, 'errno=%s' % err,
                 'prefix=%s' % (prefix or self.prefix)]
        if delay_ms:
            words.append('delay=%d' % delay_ms)
        if not renameat2:
            words.append('renameat2=no')
        if ops:
            words.append('ops=%s' % ','.join(ops))
        if trace:
            with open(self.trace_path, 'w'):
                pass
            os.chmod(self.trace_path, 0o666)
            words.append('trace=%s' % self.trace_path)
        tmp = self.path + '.new'
        with open(tmp, 'w') as f:
            f.write(' '.join(words) + '\n')
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.path)

    def trace(self):
        """[(pid, step, op, result, path)] of the last traced run."""
        out = []
        try:
            with open(self.trace_path) as f:
                for line in f:
                    w = line.rstrip('\n').split(' ', 4)
                    if len(w) == 5:
                        out.append((int(w[0]), int(w[1]), w[2], w[3],
                                    w[4]))
        except FileNotFoundError:
            pass
        return out


def shim_available():
    return os.path.exists(SHIM)


# -------------------------------------------------------- the checker
class Model:
    """What the maildrop must hold: the seqs that are stored and must stay
    (live), and the seqs that are gone for good (removed).  check() reads
    the backend and reconciles it, given the seqs a session marked for
    deletion (which may or may not be gone) and whether its QUIT was
    answered +OK (then they must be gone)."""

    def __init__(self, backend):
        self.backend = backend
        self.live = set()
        self.removed = set()
        self.keys = {}          # seq -> storage key (when it has one)

    def add(self, seq, key=None):
        self.live.add(seq)
        if key is not None:
            self.keys[seq] = os.fsencode(key) if isinstance(key, str) \
                else key

    def check(self, marked=(), committed=False, delivered=()):
        """Reconcile with what is stored.  MARKED: seqs a session deleted
        whose commit may or may not have happened; COMMITTED: the commit
        was answered +OK; DELIVERED: seqs the deliverer has logged as
        stored.  Returns a list of problems (empty when all is well) and
        updates the model."""
        problems = []
        stored = self.backend.stored()
        seen = {}
        for key, data in stored:
            seq = seq_of(data)
            if seq is None:
                problems.append('a stored message has no X-P23-Seq '
                                '(key %r, %d octets): corrupted' %
                                (key, len(data)))
                continue
            if data != message(seq):
                problems.append('message %d (key %r) differs from what '
                                'was delivered (%d octets, want %d)' %
                                (seq, key, len(data), len(message(seq))))
            if seq in seen:
                problems.append('message %d stored twice (keys %r, %r)'
                                % (seq, seen[seq], key))
            seen[seq] = key
        marked = set(marked)
        for seq in seen:
            if seq in self.removed:
                problems.append('message %d was removed and is back'
                                % seq)
            elif seq not in self.live:
                if seq >= DELIVER_BASE:
                    self.add(seq, seen[seq])  # new mail
                else:
                    problems.append('unknown message %d' % seq)
            elif seen[seq] is not None:
                self.keys[seq] = seen[seq]
        for seq in set(delivered) - set(seen) - self.removed - marked:
            if seq not in self.live:
                problems.append('delivered message %d was never seen '
                                'and is gone' % seq)
        for seq in list(self.live):
            if seq in seen:
                if committed and seq in marked:
                    problems.append('message %d still stored after a '
                                    '+OK commit that deleted it' % seq)
                continue
            if seq in marked:
                self.live.discard(seq)
                self.removed.add(seq)
            else:
                problems.append('message %d is lost' % seq)
                self.live.discard(seq)
                self.removed.add(seq)
        return problems

    def expect_stat(self):
        return len(self.live), sum(wire_size(message(s)) for s in self.live)

    def present(self):
        """{key: content} of the live messages whose key is known."""
        return {self.keys[s]: message(s) for s in self.live
                if s in self.keys}


# ---------------------------------------------------- the POP3 session
class SessionError(AssertionError):
    pass


def session_pid(srv):
    """The one session process of SRV (there must be exactly one)."""
    kids = [p for p in srv.sessions() if p != srv.pid]
    if len(kids) != 1:
        raise SessionError('expected one session process, found %r' % kids)
    return kids[0]


def login(srv, user, tries=200):
    """A logged-in Conn; an [IN-USE] (the previous, killed session not
    yet reaped by the kernel) is retried for a while."""
    for _ in range(tries):
        c = srv.conn(timeout=20)
        r = c.login(user, srv.password(user))
        if r.startswith('+OK'):
            return c
        c.close()
        if not r.startswith('-ERR [IN-USE]'):
            raise SessionError('login: %r' % r)
        time.sleep(0.005)
    raise SessionError('login: still [IN-USE]')


def listing(c, model):
    """STAT, LIST and the seq of every message (TOP n 0) of an open
    session, checked against MODEL: returns [seq by message number]."""
    st = c.cmd('STAT')
    m = re.match(r'\+OK (\d+) (\d+)$', st)
    if not m:
        raise SessionError('STAT: %r' % st)
    want = model.expect_stat()
    if (int(m.group(1)), int(m.group(2))) != want:
        raise SessionError('STAT says %s, the maildrop holds %d messages '
                           'of %d octets' % (st, want[0], want[1]))
    st, lines = c.cmd_multi('LIST')
    if lines is None:
        raise SessionError('LIST: %r' % st)
    seqs = []
    for i, l in enumerate(lines):
        n, size = map(int, l.split())
        if n != i + 1:
            raise SessionError('LIST numbering: %r' % l)
        st = c.cmd('TOP %d 0' % n)
        if not st.startswith('+OK'):
            raise SessionError('TOP %d 0: %r' % (n, st))
        head = b'\r\n'.join(p23.unstuff([x.encode('latin-1')
                                         for x in c.multi()]))
        seq = seq_of(head)
        if seq is None or seq not in model.live:
            raise SessionError('message %d: seq %r not in the maildrop'
                               % (n, seq))
        if size != wire_size(message(seq)):
            raise SessionError('LIST %d says %d, message %d has %d'
                               % (n, size, seq, wire_size(message(seq))))
        seqs.append(seq)
    if len(set(seqs)) != len(seqs):
        raise SessionError('a message is listed twice: %r' % seqs)
    return seqs


def retr_check(c, n, seq):
    st, body = c.retr(n)
    if not st.startswith('+OK') or body != p23.crlf(message(seq)):
        raise SessionError('RETR %d (message %d): %r, %s' % (
            n, seq, st, 'body differs' if body is not None else ''))


def quit_session(c, timeout=20):
    """Send QUIT and return its reply ('' if the connection closed)."""
    c.send('QUIT\r\n')
    try:
        return c.line(timeout)
    except (EOFError, OSError, TimeoutError):
        return ''


def burn_until(t):
    """Busy-wait until perf_counter() >= T (sleep is too coarse)."""
    while time.perf_counter() < t:
        pass


def log_has_sanitizer_report(srv):
    return p23.SANITIZER_RE.search(srv.log_text()) is not None



def wait_gone(pid, timeout=10):
    """Wait until process PID has exited (gone or a zombie)."""
    def gone():
        st = p23.proc_stat(pid)
        return st is None or st[1] in ('Z', 'X')
    if not p23.wait_until(gone, timeout, step=0.0005):
        raise SessionError('process %d still there after %ss'
                           % (pid, timeout))


# ------------------------------------------------- one scripted session
class Scenario:
    """One server, one maildrop and a fixed session script, for the tests
    that run the same session again and again with a fault at step k.

    reset(warm) makes the maildrop anew with NMSGS messages (and, when
    WARM, runs one fault-free session first, so that the index exists and
    login writes nothing); run() logs in, checks STAT/LIST against the
    model, RETRs the messages in RETR and DELEs those in DELE (message
    numbers), and QUITs; verify() reconciles the maildrop with the model
    and runs a fault-free session that must give exact answers, find a
    consistent index and RETR every message intact."""

    def __init__(self, tc, backend_cls, nmsgs=20, conf=None, shim=True,
                 before_prepare=None):
        self.tc = tc
        self.srv = tc.server(start=False, conf=conf)
        self.be = backend_cls(self.srv, 'alice')
        self.srv.conf.update(self.be.conf())
        self.srv.write_config()
        if before_prepare is not None:
            before_prepare(self)
        self.shim = Shim(self.srv, self.be.mount_point()) if shim \
            else None
        self.nmsgs = nmsgs
        self.model = None
        self.be.prepare()
        self.srv.start()

    def wipe(self):
        """Remove the maildrop and everything next to it."""
        import shutil
        top = self.be.mount_point()
        for name in os.listdir(top):
            if name == 'lost+found':
                continue
            p = os.path.join(top, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)

    def reset(self, warm=False, first_seq=1, churn=False):
        """A fresh maildrop (see the class comment).  CHURN (with WARM):
        then two messages are removed behind the server's back and two
        new ones delivered, so that the next login stores records and
        prunes stale ones."""
        if self.shim:
            self.shim.set('off')
        self.wipe()
        self.be.prepare()
        self.model = Model(self.be)
        for seq in range(first_seq, first_seq + self.nmsgs):
            self.model.add(seq, self.be.deliver(message(seq)))
        if warm:
            c = login(self.srv, 'alice')
            listing(c, self.model)
            r = quit_session(c)
            c.close()
            if not r.startswith('+OK'):
                raise SessionError('warm-up QUIT: %r' % r)
            self.wait_idle()
        if churn and hasattr(self.be, 'remove'):
            for seq in (first_seq + 1, first_seq + 3):
                self.be.remove(self.model.keys[seq])
                self.model.live.discard(seq)
                self.model.removed.add(seq)
            for seq in range(first_seq + self.nmsgs,
                             first_seq + self.nmsgs + 2):
                self.model.add(seq, self.be.deliver(message(seq)))

    def wait_idle(self, timeout=10):
        """Wait until no session process is left."""
        if not p23.wait_until(lambda: not [p for p in self.srv.sessions()
                                           if p != self.srv.pid],
                              timeout, step=0.001):
            raise SessionError('a session process does not go away')

    def run(self, retr=(), dele=(), kill_expected=False):
        """Run the script once.  Returns a dict: login (its reply or ''),
        quit (its reply or ''), marked (the seqs DELE'd), problems."""
        out = {'login': '', 'quit': '', 'marked': [], 'problems': []}
        c = self.srv.conn(timeout=20)
        try:
            c.greeting = c.line()
            c.cmd('USER alice')
            out['login'] = c.cmd('PASS ' + self.srv.password('alice'))
            if not out['login'].startswith('+OK'):
                return out
            seqs = listing(c, self.model)
            for n in retr:
                if n <= len(seqs):
                    retr_check(c, n, seqs[n - 1])
            for n in dele:
                if n <= len(seqs):
                    r = c.cmd('DELE %d' % n)
                    if not r.startswith('+OK'):
                        out['problems'].append('DELE %d: %r' % (n, r))
                    out['marked'].append(seqs[n - 1])
            out['quit'] = quit_session(c)
        except (EOFError, OSError, TimeoutError) as e:
            if not kill_expected:
                out['problems'].append('connection lost: %s' % e)
        except SessionError as e:
            out['problems'].append(str(e))
        finally:
            c.close()
        return out

    def verify(self, out, retr_all=True, drain=True):
        """Reconcile after run(): a list of problems.  DRAIN: the
        verification session then deletes every message, and nothing may
        be left stored afterwards (a second name of a message, say, would
        bring a deleted message back)."""
        self.wait_idle()
        if self.shim:
            self.shim.set('off')
        probs = list(out['problems'])
        probs += self.model.check(marked=out['marked'],
                                  committed=out['quit'].startswith('+OK'))
        try:
            c = login(self.srv, 'alice')
        except (SessionError, EOFError, OSError) as e:
            return probs + ['verification login: %s' % e]
        try:
            seqs = listing(c, self.model)
            idx = self.be.index_path()
            if idx is not None:
                bad, _ = check_index(idx, self.model.present())
                probs += ['index: ' + b for b in bad]
            if retr_all:
                for n, seq in enumerate(seqs, 1):
                    retr_check(c, n, seq)
            if drain:
                for n in range(1, len(seqs) + 1):
                    r = c.cmd('DELE %d' % n)
                    if not r.startswith('+OK'):
                        probs.append('verification DELE %d: %r' % (n, r))
            r = quit_session(c)
            if not r.startswith('+OK'):
                probs.append('verification QUIT: %r' % r)
        except (SessionError, EOFError, OSError, TimeoutError) as e:
            probs.append('verification session: %s' % e)
        finally:
            c.close()
        self.wait_idle()
        if drain:
            left = self.be.stored()
            if left:
                probs.append('after deleting every message, %d stored '
                             'messages are left: seqs %r' % (
                                 len(left), sorted(seq_of(d) for k, d
                                                   in left)))
        return probs

if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'deliver':
        deliverer_main(sys.argv[2:])
    else:
        print('usage: crashlib.py deliver --backend NAME ...')
        sys.exit(2)
