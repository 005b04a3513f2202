# profsetup.py - the set-up that the counting tools of tests/bench share:
# session-profile.py and tls-profile.py (a maildrop, a passwd-file, the
# daemon started as root or rootless under callgrind, and stopped) and
# tls_cost.py with tls-profile.py (a test CA and its server
# certificates); and the POP3 client dialogue of a profiled session.  A
# module, not a tool: it runs nothing when imported.
# GPL-3.0-or-later.

import math
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# openssl req arguments for a server key: EC P-256 (as peers.sh) or RSA
EC_P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
RSA_2048 = ['-newkey', 'rsa:2048']


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def make_ca(d):
    """A test CA (EC P-256, two days): d/ca.key, d/ca.pem."""
    sh('openssl', 'req', '-x509', *EC_P256, '-nodes', '-keyout',
       d + '/ca.key', '-out', d + '/ca.pem', '-days', '2', '-subj',
       '/CN=bench CA')


def make_cert(d, name, key):
    """d/NAME.key and d/NAME.pem (key: EC_P256 or RSA_2048), signed by the
    CA of make_ca(d), for localhost and 127.0.0.1."""
    sh('openssl', 'req', '-new', *key, '-nodes', '-keyout',
       '%s/%s.key' % (d, name), '-out', '%s/%s.csr' % (d, name),
       '-subj', '/CN=localhost')
    with open(d + '/ext', 'w') as f:
        f.write('subjectAltName=DNS:localhost,IP:127.0.0.1\n')
    sh('openssl', 'x509', '-req', '-in', '%s/%s.csr' % (d, name),
       '-CA', d + '/ca.pem', '-CAkey', d + '/ca.key', '-CAcreateserial',
       '-out', '%s/%s.pem' % (d, name), '-days', '2', '-extfile',
       d + '/ext')
    os.chmod('%s/%s.key' % (d, name), 0o600)


def make_maildrop(md, m, uid, gid):
    """A Maildir of M messages, sizes log-uniform 1-100 KB (seeded: the
    same every time), Dovecot-style names with ,S= and ,W=; kept when it
    already has M messages."""
    cur = os.path.join(md, 'cur')
    if os.path.isdir(cur) and len(os.listdir(cur)) == m:
        return
    if os.path.isdir(md):
        shutil.rmtree(md)
    for sub in ('', 'cur', 'new', 'tmp'):
        os.mkdir(os.path.join(md, sub), 0o700)
        os.chown(os.path.join(md, sub), uid, gid)
    rng = random.Random(42)
    line = b'a line of a benchmark message body, sixty-odd octets long.\n'
    for i in range(m):
        size = int(math.exp(rng.uniform(math.log(1024), math.log(102400))))
        head = b'Subject: profile %d\n\n' % i
        body = (line * (size // len(line) + 1))[:size - len(head) - 1]
        data = head + body + b'\n'
        name = '%d.M%dP%d.sp,S=%d,W=%d:2,' % (1600000000 + i, i, i,
                                            len(data),
                                            len(data) + data.count(b'\n'))
        p = os.path.join(cur, name)
        with open(p, 'wb') as f:
            f.write(data)
        os.chown(p, uid, gid)


def command(f, c, want=b'+OK'):
    """Send C (and CRLF) on F, a socket's file; the reply line, which
    must start with WANT (the run stops otherwise)."""
    f.write(c + b'\r\n')
    r = f.readline()
    if not r.startswith(want):
        raise SystemExit('%r -> %r' % (c, r))
    return r


def pop3_mail(f, user, pw, kind):
    """After the greeting: USER, PASS, STAT, then by KIND: poll nothing
    more; fetch RETR every message; fetch-list LIST n before each RETR n;
    fetch-list-noop LIST n, RETR n, NOOP.  QUIT.  Nothing is deleted, so
    every session sees the same maildrop."""
    command(f, b'USER ' + user.encode())
    command(f, b'PASS ' + pw.encode())
    n = int(command(f, b'STAT').split()[1])
    if kind != 'poll':
        for i in range(1, n + 1):
            if kind in ('fetch-list', 'fetch-list-noop'):
                command(f, b'LIST %d' % i)
            command(f, b'RETR %d' % i)
            while f.readline() != b'.\r\n':
                pass
            if kind == 'fetch-list-noop':
                command(f, b'NOOP')
    command(f, b'QUIT')


def need_root():
    if os.geteuid() != 0:
        sys.exit('run as root')


def mail_user():
    """uid and gid of the mail user (nobody)."""
    nb = pwd.getpwnam('nobody')
    return nb.pw_uid, nb.pw_gid


def setup_dirs(top, m, uid, gid, prefix):
    """TOP/home with an M-message Maildir, and a new temporary directory
    (mode 1777, with an empty chroot for the pre-auth child): the home
    and the temporary directory."""
    home = os.path.join(top, 'home')
    os.makedirs(home, exist_ok=True)
    for d in (top, home):
        os.chmod(d, 0o755)
    make_maildrop(os.path.join(home, 'Maildir'), m, uid, gid)
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o1777)
    os.mkdir(os.path.join(tmp, 'empty'), 0o755)
    return home, tmp


def write_passwd(tmp, user, hashed, uid, gid, home, rootless):
    """TMP/passwd with USER's line; in root mode the auth service (the
    auth_user daemon) reads it by group, rootless the mail user owns it."""
    pw = os.path.join(tmp, 'passwd')
    with open(pw, 'w') as f:
        f.write('%s:%s:%d:%d::%s::\n' % (user, hashed, uid, gid, home))
    os.chmod(pw, 0o640)
    os.chown(pw, *((uid, gid) if rootless else
                   (0, pwd.getpwnam('daemon').pw_gid)))
    return pw


def privilege_conf(tmp, rootless):
    """The configuration lines of root mode (none rootless)."""
    return '' if rootless else (
        'login_user = nobody\nlogin_chroot = %s/empty\n'
        'auth_user = daemon\n' % tmp)


def callgrind_cmd(cmd, tmp, uid, gid, env, out, extra=()):
    """CMD under callgrind as the mail user, one output file OUT.PID a
    process, with prof-noseccomp.so preloaded (built into TMP) so that
    the pre-auth child's seccomp filter and rlimits do not kill
    valgrind."""
    shim = os.path.join(tmp, 'prof-noseccomp.so')
    subprocess.run(['cc', '-shared', '-fPIC', '-o', shim,
                    os.path.join(HERE, 'prof-noseccomp.c')], check=True)
    env['LD_PRELOAD'] = shim
    return ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid,
            '--clear-groups', 'valgrind', '--tool=callgrind',
            '--vgdb=no', '--callgrind-out-file=%s.%%p' % out] + \
        list(extra) + cmd


def start_daemon(cmd, env, tmp):
    """The daemon (or its tracer) with its output in TMP/log."""
    log = open(os.path.join(tmp, 'log'), 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=log, env=env), log


def wait_files(paths, tries):
    """Wait (TRIES times 50 ms at most) until every file of PATHS exists
    and is not empty."""
    for _ in range(tries):
        if all(os.path.exists(p) and os.path.getsize(p) > 0
               for p in paths):
            break
        time.sleep(0.05)


def read_ports(portf):
    """Listener name -> port from the port file ("pop3 127.0.0.1 PORT"
    lines; the first line of a name counts)."""
    ports = {}
    for line in open(portf):
        w = line.split()
        if len(w) >= 2:
            ports.setdefault(w[0], int(w[-1].rsplit(':', 1)[-1]))
    return ports


def stop_daemon(tmp, d, log):
    """SIGTERM to the master (TMP/pid), and wait for it."""
    pid = int(open(os.path.join(tmp, 'pid')).read())
    os.kill(pid, signal.SIGTERM)
    d.wait(120)
    log.close()
