#!/usr/bin/env python3
# login-count.py - how login work grows with the maildrop, in counts that
# do not depend on how busy the machine is (doc/PERFORMANCE.md, "Login to
# a large Maildir").  GPL-3.0-or-later.
#
# It makes (once) a Maildir of N messages of 1024-2048 octets whose names
# carry ,S=<stored size>,W=<size with CRLF> the way Dovecot's LDA writes
# them, then runs ONE login (USER, PASS, STAT, LIST 1, RETR 1, DELE 1, RSET,
# QUIT) through "pop23d -i pop3" on a socketpair, as root (monitor,
# pre-auth child, session: the real privilege separation), and prints:
#   - rusage of the whole process tree: minor/major page faults, blocks
#     read (ru_inblock, 512-octet units: the cold-cache I/O) and, for the
#     record only, user+system CPU seconds;
#   - with --strace: the strace -c -f table (system calls by name);
#   - with --callgrind: instructions (Ir) per process, from callgrind.
#
#   login-count.py --dir /var/tmp/lc --msgs 100000 [--cold] [--evict]
#       [--strace] [--callgrind] [--binary _build/src/pop23d]
#       [--plugins _build/plugins/.libs] [--keep]
#
# --cold removes pop23d.index, its snapshot (pop23d.index.snap) and
# pop23d.list (the listing record) first; --evict drops the maildrop's files
# from the page cache with posix_fadvise(DONTNEED) (only these files: the
# rest of the machine keeps its cache).  The maildrop stays in --dir for
# the next run unless --remove is given.
#
# --maildir PATH: log in to this existing Maildir instead (its owner is
# the mail user, its parent the home; nothing is made).  --split (with
# --callgrind): one callgrind part per command (--dump-before=
# proto_dispatch), and the instructions of each command printed as
# "command <name> Ir=<n>": what a command costs from its dispatch to the
# next one's, the reply written.
#
# --mbox: the maildrop is one mbox (%h/mbox, storage = mbox) of N
# messages of --size octets on average (100 000 x 10 700: about 1 GiB);
# --cold then removes the mbox index directory (the GDBM index and the
# offset record), --append K appends K messages before the login (the
# warm login then checks the headers and parses the tail).  PASS is
# timed (wall clock: the login's latency).

import argparse
import os
import pwd
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile

PW = 'lcpass'


def make_maildir(md, n, uid, gid, seed=42):
    """N messages in MD/cur (kept if already there with N files)."""
    cur = os.path.join(md, 'cur')
    # (percmd-cost.py adds one fixed message, not counted here)
    if os.path.isdir(cur) and sum(
            1 for x in os.listdir(cur)
            if not x.startswith('1000000000.P23PERCMD')) == n:
        return
    if os.path.isdir(md):
        shutil.rmtree(md)
    for sub in ('', 'cur', 'new', 'tmp'):
        os.mkdir(os.path.join(md, sub), 0o700)
        os.chown(os.path.join(md, sub), uid, gid)
    rng = random.Random(seed)
    line = ('benchmark line of a message with some words in it, '
            'about sixty octets\n')
    for i in range(n):
        size = rng.randint(1024, 2048)
        head = ('From: bench@example.org\nTo: user@example.net\n'
                'Subject: message %d\nMessage-ID: <%d.%d@lc>\n\n'
                % (i, i, seed))
        body = (line * (size // len(line) + 1))[:size - len(head) - 1]
        data = (head + body + '\n').encode()
        if i % 97 == 0:
            data = data[:-1] + b'\n.dot line\n'   # some stuffing
        crlf = len(data) + data.count(b'\n')
        name = '%d.M%dP%d.lc,S=%d,W=%d:2,S' % (1600000000 + i, i, i,
                                              len(data), crlf)
        p = os.path.join(cur, name)
        with open(p, 'wb') as f:
            f.write(data)
        os.chown(p, uid, gid)


def make_mbox(path, n, size, uid, gid, seed=42, first=0):
    """N messages in the mbox PATH (made once; FIRST > 0 appends N,
    numbered from FIRST)."""
    if first == 0 and os.path.exists(path + '.n') and \
            open(path + '.n').read() == '%d %d' % (n, size):
        return
    rng = random.Random(seed + first)
    line = ('benchmark line of a message with some words in it, '
            'about sixty octets\n')
    chunk = []
    with open(path, 'ab' if first else 'wb') as f:
        for i in range(first, first + n):
            sz = rng.randint(size // 2, size * 3 // 2)
            head = ('From: bench@example.org\nTo: user@example.net\n'
                    'Subject: message %d\nMessage-ID: <%d.%d@lc>\n\n'
                    % (i, i, seed))
            body = (line * (sz // len(line) + 1))[:max(sz - len(head) - 1,
                                                       1)]
            chunk.append(('From bench@example.org Mon Dec  7 01:00:00 '
                          '2026\n' + head + body + '\n\n').encode())
            if len(chunk) == 1000:
                f.write(b''.join(chunk))
                chunk = []
        f.write(b''.join(chunk))
    os.chown(path, uid, gid)
    os.chmod(path, 0o600)
    if first == 0:
        with open(path + '.n', 'w') as f:
            f.write('%d %d' % (n, size))


def evict_file(p):
    if os.path.exists(p):
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def evict(md):
    for sub in ('cur', 'new'):
        d = os.path.join(md, sub)
        for name in os.listdir(d):
            fd = os.open(os.path.join(d, name), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
    for name in ('pop23d.index', 'pop23d.index.snap', 'pop23d.list'):
        p = os.path.join(md, name)
        if os.path.exists(p):
            fd = os.open(p, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def write_conf(tmp, plugins, home, uid, gid, rootless=False, mbox=False):
    passwd = os.path.join(tmp, 'passwd')
    with open(passwd, 'w') as f:
        f.write('lc:{PLAIN}%s:%d:%d::%s::\n' % (PW, uid, gid, home))
    os.chmod(passwd, 0o640)
    # root mode: the auth service (auth_user daemon) reads it by group
    os.chown(passwd, 0, pwd.getpwnam('daemon').pw_gid)
    empty = os.path.join(tmp, 'empty')
    os.makedirs(empty, exist_ok=True)
    conf = os.path.join(tmp, 'pop23d.conf')
    with open(conf, 'w') as f:
        f.write('listen = pop3 127.0.0.1:0\n'
                'plugin_dir = %s\nauth = passwdfile\nstorage = %s\n'
                'mail_location = %s\nauth_failure_delay = 0\n'
                'hostname = lc.example\n%s'
                '\n[passwdfile]\npath = %s\n'
                % (plugins, 'mbox' if mbox else 'maildir',
                   '%h/mbox' if mbox else '%h/Maildir', '' if rootless else
                   'login_user = nobody\nlogin_chroot = %s\n'
                   'auth_user = daemon\n' % empty,
                   passwd))
    if rootless:
        os.chown(passwd, uid, gid)
    return conf


def talk(sock, cmds):
    import time
    f = sock.makefile('rwb', buffering=0)
    out = [f.readline()]
    for c in cmds:
        t0 = time.monotonic()
        f.write(c.encode() + b'\r\n')
        line = f.readline()
        if c.startswith('PASS'):
            print('login (PASS) took %.3f s' % (time.monotonic() - t0))
        out.append(line)
        w = c.split()
        multi = w[0] in ('RETR', 'TOP', 'CAPA') or \
            (w[0] in ('LIST', 'UIDL') and len(w) == 1)
        if line.startswith(b'+OK') and multi:
            while True:
                l2 = f.readline()
                if l2 in (b'.\r\n', b''):
                    break
    return out


def split_report(tmp, cmds):
    """With --split: the session process's parts trace.PID.1, .2, ...
    (part k ends where the k-th command is dispatched).  The session's
    first dispatched command is the first one after PASS; each part from
    the second on is the command dispatched at its start."""
    parts = {}
    for name in os.listdir(tmp):
        m = re.match(r'trace\.(\d+)(\.\d+)?$', name)
        if not m:
            continue
        path = os.path.join(tmp, name)
        pm = re.search(r'^part: (\d+)', open(path).read(), re.M)
        parts.setdefault(m.group(1), {})[int(pm.group(1)) if pm else 1] = \
            path
    after = [c for c in cmds if not c.startswith(('USER', 'PASS'))]
    for pid, pp in parts.items():
        if len(pp) != len(after) + 1:
            continue        # not the session (or an unexpected shape)
        irs = []
        for k in sorted(pp):
            text = open(pp[k]).read()
            m = re.search(r'^summary: (\d+)', text, re.M) or \
                re.search(r'^totals: (\d+)', text, re.M)
            irs.append(int(m.group(1)) if m else -1)
        print('command (login) Ir=%d' % irs[0])
        for c, ir in zip(after, irs[1:]):
            print('command %s Ir=%d' % (c.replace(' ', '_'), ir))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', default='/var/tmp/pop23d-lc')
    ap.add_argument('--msgs', type=int, default=100000)
    ap.add_argument('--binary', default='_build/pop23d')
    ap.add_argument('--plugins', default='_build/.libs')
    ap.add_argument('--cold', action='store_true')
    ap.add_argument('--evict', action='store_true')
    ap.add_argument('--strace', action='store_true')
    ap.add_argument('--callgrind', action='store_true')
    ap.add_argument('--remove', action='store_true')
    ap.add_argument('--mbox', action='store_true')
    ap.add_argument('--size', type=int, default=10700)
    ap.add_argument('--append', type=int, default=0)
    ap.add_argument('--cmds', default='STAT,LIST 1,RETR 1,DELE 1,RSET')
    ap.add_argument('--maildir')
    ap.add_argument('--split', action='store_true')
    ap.add_argument('--discard', action='store_true',
                    help='remove the callgrind files too')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('run as root (the daemon drops to the mail user)')
    nobody = pwd.getpwnam('nobody')
    uid, gid = nobody.pw_uid, nobody.pw_gid
    if a.maildir:
        md = os.path.abspath(a.maildir)
        home = os.path.dirname(md)
        st = os.stat(md)
        uid, gid = st.st_uid, st.st_gid
    else:
        home = os.path.join(a.dir, 'home%d' % a.msgs)
        os.makedirs(home, exist_ok=True)
        os.chmod(a.dir, 0o755)
        os.chmod(home, 0o755)
        md = os.path.join(home, 'Maildir')
    if a.maildir:
        pass
    elif a.mbox:
        os.chown(home, uid, gid)        # the index directory goes there
        mb = os.path.join(home, 'mbox')
        make_mbox(mb, a.msgs, a.size, uid, gid)
        if a.append:
            # kept for the next runs (the server's STAT says how many)
            make_mbox(mb, a.append, a.size, uid, gid,
                      first=10 ** 9 + os.path.getsize(mb))
        idx = os.path.join(home, '.pop23d-mbox', 'INBOX')
        if a.cold and os.path.isdir(idx):
            for name in ('pop23d.index', 'pop23d.index.snap',
                         'pop23d.mbox-cache'):
                if os.path.exists(os.path.join(idx, name)):
                    os.unlink(os.path.join(idx, name))
        if a.evict:
            for p in (mb, os.path.join(idx, 'pop23d.index'),
                      os.path.join(idx, 'pop23d.index.snap'),
                      os.path.join(idx, 'pop23d.mbox-cache')):
                evict_file(p)
        print('mbox octets=%d' % os.path.getsize(mb))
    else:
        make_maildir(md, a.msgs, uid, gid)
    for name in ('pop23d.index', 'pop23d.index.snap', 'pop23d.list'):
        if a.cold and os.path.exists(os.path.join(md, name)):
            os.unlink(os.path.join(md, name))
    if a.evict and not a.mbox:
        evict(md)
    tmp = tempfile.mkdtemp(prefix='lc-')
    os.chmod(tmp, 0o755)
    conf = write_conf(tmp, os.path.abspath(a.plugins), home, uid, gid,
                      rootless=a.callgrind, mbox=a.mbox)
    cmd = [os.path.abspath(a.binary), '-c', conf, '-i', 'pop3']
    trace = os.path.join(tmp, 'trace')
    if a.strace:
        cmd = ['strace', '-c', '-f', '-o', trace] + cmd if not os.environ.get('LC_STRACE_RAW') else ['strace', '-f', '-o', trace] + cmd
    env = dict(os.environ)
    if a.callgrind:
        # the pre-auth child's seccomp filter would kill valgrind's own
        # system calls: profile with seccomp_load() made a no-op
        shim = os.path.join(tmp, 'prof-noseccomp.so')
        subprocess.run(['cc', '-shared', '-fPIC', '-o', shim,
                        os.path.join(os.path.dirname(
                            os.path.abspath(__file__)),
                            'prof-noseccomp.c')], check=True)
        env['LD_PRELOAD'] = shim
        # callgrind writes its output when a process ends, by name: the
        # session would no longer be allowed to (it changed user), so the
        # daemon runs rootless, as the mail user (no pre-auth chroot or
        # privilege change; the same code otherwise).
        os.chmod(tmp, 0o1777)
        inner = tmp
        cmd = ['valgrind', '--tool=callgrind', '--trace-children=yes',
               '--vgdb=no', '--callgrind-out-file=%s.%%p' % trace] + \
            (['--dump-before=proto_dispatch'] if a.split else []) + cmd
        cmd = ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid,
               '--clear-groups'] + cmd
    s1, s2 = socket.socketpair()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(cmd, stdin=s2, stdout=s2, stderr=subprocess.PIPE,
                         env=env)
    s2.close()
    cmds = ['USER lc', 'PASS ' + PW] + \
        [c for c in a.cmds.split(',') if c] + ['QUIT']
    try:
        out = talk(s1, cmds)
    except OSError as e:
        out = [('connection lost: %s' % e).encode()]
    s1.close()
    err = p.communicate()[1]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for c, l in zip(['(greeting)'] + cmds, out):
        if c.startswith('PASS'):
            c = 'PASS ...'
        print('%-12s %s' % (c, l.decode(errors='replace').rstrip()))
    print('msgs=%d cold=%d evict=%d minflt=%d majflt=%d inblock=%d '
          'outblock=%d cpu_s=%.3f (user %.3f, system %.3f; cpu for the '
          'record only)' % (
              a.msgs, a.cold, a.evict, after.ru_minflt - before.ru_minflt,
              after.ru_majflt - before.ru_majflt,
              after.ru_inblock - before.ru_inblock,
              after.ru_oublock - before.ru_oublock,
              after.ru_utime - before.ru_utime + after.ru_stime -
              before.ru_stime, after.ru_utime - before.ru_utime,
              after.ru_stime - before.ru_stime))
    if a.strace:
        print(open(trace).read())
    if a.callgrind:
        files = [os.path.join(tmp, n) for n in os.listdir(tmp)]
        if a.split:
            split_report(tmp, cmds)
        for path in sorted(files, key=lambda x: x.split('.')[-1]):
            name = os.path.basename(path)
            if not re.match(r'trace\.\d+$', name):
                continue
            text = open(path).read()
            m = re.search(r'^summary: (\d+)', text, re.M) or \
                re.search(r'^totals: (\d+)', text, re.M)
            cm = re.search(r'^cmd: (.*)$', text, re.M)
            print('callgrind pid=%s Ir=%s %s' % (
                name.split('.')[1], m.group(1) if m else '?',
                cm.group(1)[:60] if cm else ''))
            if not m:
                continue
            # inclusive Ir of the login phases and of each command
            ann = subprocess.run(['callgrind_annotate', '--inclusive=yes',
                                  '--threshold=100', path],
                                 capture_output=True, text=True).stdout
            for fn in ('maildrop_open', 'build_list', 'load_all',
                       'open_index', 'shed_memory', 'pop3_stat',
                       'pop3_list', 'pop3_retr', 'pop3_dele',
                       'pop3_rset', 'pop3_quit_trans',
                       'maildrop_commit', 'maildrop_close'):
                fm = re.search(r'^\s*([\d,]+) \([\s\d.]+%\)\s+\S*:' +
                               fn + r'\b', ann, re.M)
                if fm:
                    print('  inclusive %-16s %14s' % (fn, fm.group(1)))
        if a.discard:
            shutil.rmtree(tmp)
        else:
            print('callgrind files kept in', tmp)
    else:
        shutil.rmtree(tmp)
    if err.strip():
        sys.stderr.write(err.decode(errors='replace')[-2000:])
    if a.remove:
        shutil.rmtree(home)


if __name__ == '__main__':
    main()
