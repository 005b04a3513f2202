#!/usr/bin/env python3
# idle-pss.py - memory per idle authenticated session, in PSS, without
# the benchmark's system users (doc/PERFORMANCE.md, "Idle memory").
# GPL-3.0-or-later.
#
# Starts pop23d (root mode: master, per-connection monitor that becomes
# the session) on 127.0.0.1 with a passwd-file of N virtual users (all
# uid nobody, each with its own Maildir of 5 small messages: pop23d locks
# a maildrop per session), opens N connections, logs each in (USER, PASS,
# STAT) and holds them.  Then it sums Pss and Rss over the daemon's
# process tree (/proc/PID/smaps_rollup) and subtracts the tree before the
# sessions: KB per session.  --detail prints one session's smaps by
# mapping (Pss, Private_Dirty, Shared), so you can see what a session
# owns.  The kernel's share (page tables, kernel stacks, socket buffers)
# is not in PSS: --detail also prints the session's VmPTE and the
# Slab/KernelStack/PageTables growth of /proc/meminfo over the N
# sessions (machine-wide, so only meaningful on an otherwise quiet
# machine; printed for the record).
#
#   idle-pss.py -n 1000 [--binary _build/pop23d] [--plugins _build/.libs]
#       [--dir /var/tmp/pop23d-idle] [--detail [--pages]]
#       [--server pop23d|dovecot]
#
# --pages runs idle-pages.py on the sampled session: the pages it alone
# maps, each with what differs from the master's copy.
#
# --server dovecot runs Dovecot (dovecot-pop3d) instead, in the
# benchmark's "dovecot-hp" shape (tests/bench/peers.sh: long-lived
# pop3-login processes), on the same users, passwd-file (Dovecot reads
# the same format) and Maildirs, and sums its whole tree the same way.

import argparse
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def tree(pid):
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
            ppid = int(st[st.rindex(')') + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def rollup(pid):
    r = {}
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                k, _, v = line.partition(':')
                if v.strip().endswith('kB'):
                    r[k] = int(v.split()[0])
    except OSError:
        pass
    return r


def tree_mem(pid):
    pss = rss = 0
    procs = tree(pid)
    for p in procs:
        r = rollup(p)
        pss += r.get('Pss', 0)
        rss += r.get('Rss', 0)
    return pss, rss, len(procs)


def meminfo():
    m = {}
    with open('/proc/meminfo') as f:
        for line in f:
            k, _, v = line.partition(':')
            m[k] = int(v.split()[0])
    return m


def smaps_detail(pid):
    rows, cur = [], None
    with open('/proc/%d/smaps' % pid) as f:
        for line in f:
            parts = line.split()
            if '-' in parts[0] and ':' not in parts[0]:
                cur = {'name': parts[5] if len(parts) > 5 else '[anon]',
                       'perm': parts[1]}
                rows.append(cur)
            elif parts[0].endswith(':') and len(parts) >= 2 and \
                    parts[1].isdigit():
                cur[parts[0][:-1]] = int(parts[1])
    agg = {}
    for r in rows:
        a = agg.setdefault(r['name'], [0, 0, 0, 0])
        a[0] += r.get('Pss', 0)
        a[1] += r.get('Private_Dirty', 0)
        a[2] += r.get('Shared_Clean', 0) + r.get('Shared_Dirty', 0)
        a[3] += r.get('Rss', 0)
    return sorted(agg.items(), key=lambda kv: -kv[1][0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-n', type=int, default=1000)
    ap.add_argument('--binary', default='_build/pop23d')
    ap.add_argument('--plugins', default='_build/.libs')
    ap.add_argument('--dir', default='/var/tmp/pop23d-idle')
    ap.add_argument('--detail', action='store_true')
    ap.add_argument('--pages', action='store_true',
                    help='with --detail: idle-pages.py on that session')
    ap.add_argument('--server', default='pop23d',
                    choices=('pop23d', 'dovecot'))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('run as root')
    lim = a.n + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < lim:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(lim, soft),
                                                    max(lim, hard)))
    nb = pwd.getpwnam('nobody')
    os.makedirs(a.dir, exist_ok=True)
    os.chmod(a.dir, 0o755)
    lines = []
    for i in range(1, a.n + 1):
        home = os.path.join(a.dir, 'u%d' % i)
        md = os.path.join(home, 'Maildir')
        if not os.path.isdir(md):
            os.makedirs(home, 0o755)
            for sub in ('', 'cur', 'new', 'tmp'):
                os.mkdir(os.path.join(md, sub), 0o700)
                os.chown(os.path.join(md, sub), nb.pw_uid, nb.pw_gid)
            for k in range(5):
                data = (b'Subject: idle %d/%d\n\n' % (i, k)) + b'x' * 900 \
                    + b'\n'
                name = '%d.M%dP%d.idle,S=%d,W=%d:2,' % (
                    1600000000 + k, k, i, len(data), len(data) + 3)
                p = os.path.join(md, 'cur', name)
                with open(p, 'wb') as f:
                    f.write(data)
                os.chown(p, nb.pw_uid, nb.pw_gid)
        lines.append('u%d:{PLAIN}pw%d:%d:%d::%s::\n' % (
            i, i, nb.pw_uid, nb.pw_gid, home))
    tmp = tempfile.mkdtemp(prefix='idle-')
    os.chmod(tmp, 0o755)
    os.mkdir(os.path.join(tmp, 'empty'), 0o755)
    pw = os.path.join(tmp, 'passwd')
    with open(pw, 'w') as f:
        f.writelines(lines)
    os.chmod(pw, 0o640)
    os.chown(pw, 0, pwd.getpwnam('daemon').pw_gid)
    if a.server == 'dovecot':
        dv = pwd.getpwnam('dovecot')
        os.chown(pw, dv.pw_uid, dv.pw_gid)
    conf = os.path.join(tmp, 'pop23d.conf')
    portf = os.path.join(tmp, 'ports')
    with open(conf, 'w') as f:
        f.write('listen = pop3 127.0.0.1:0\nport_file = %s\n'
                'pid_file = %s/pid\nplugin_dir = %s\nauth = passwdfile\n'
                'storage = maildir\nmail_location = %%h/Maildir\n'
                'auth_failure_delay = 0\nhostname = idle.example\n'
                'login_user = nobody\nlogin_chroot = %s/empty\n'
                # the auth service reads the passwd-file through its group
                'auth_user = daemon\n'
                'max_sessions = %d\nmax_per_ip = %d\n'
                # opening 10 000 sessions may take longer than the
                # 10-minute autologout: keep the first ones alive
                'timeout_pop3 = 7200\n'
                '\n[passwdfile]\npath = %s\n' % (
                    portf, tmp, os.path.abspath(a.plugins), tmp,
                    a.n + 10, a.n + 10, pw))
    log = open(os.path.join(tmp, 'log'), 'w')
    if a.server == 'dovecot':
        port = 20611
        os.makedirs(os.path.join(tmp, 'run'))
        os.makedirs(os.path.join(tmp, 'state'))
        with open(conf, 'w') as f:
            f.write('''instance_name = idle-pss
base_dir = %(t)s/run
state_dir = %(t)s/state
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = %(t)s/dovecot.log
info_log_path = /dev/null
mail_location = maildir:~/Maildir
mail_max_userip_connections = 100000
first_valid_uid = 1
last_valid_uid = 0
first_valid_gid = 1
passdb {
  driver = passwd-file
  args = %(pw)s
}
userdb {
  driver = passwd-file
  args = %(pw)s
}
default_process_limit = %(n)d
default_client_limit = %(c)d
default_vsz_limit = 0
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = %(c)d
  process_limit = 16
}
service pop3 {
  process_limit = %(n)d
}
service anvil {
  client_limit = %(c)d
}
service auth {
  client_limit = %(c)d
}
protocol pop3 {
  pop3_uidl_format = %%08Xu%%08Xv
}
''' % {'t': tmp, 'pw': pw, 'n': a.n + 100, 'c': a.n * 2 + 100,
                   'port': port})
        with open(portf, 'w') as f:
            f.write('127.0.0.1:%d\n' % port)
        d = subprocess.Popen(['dovecot', '-F', '-c', conf],
                             stdout=log, stderr=log)
        time.sleep(2.0)
    else:
        d = subprocess.Popen([os.path.abspath(a.binary), '-f', '-c', conf],
                             stdout=log, stderr=log)
    socks = []
    try:
        for _ in range(200):
            if os.path.exists(portf) and os.path.getsize(portf) > 0:
                break
            time.sleep(0.05)
        port = int(open(portf).read().split()[-1].split(':')[-1])
        time.sleep(0.2)
        if a.server == 'dovecot':
            # one poll of each user first, as the benchmark does, so that
            # Dovecot's per-maildrop index files exist before measuring
            for i in range(1, a.n + 1):
                s = socket.create_connection(('127.0.0.1', port), 30)
                f = s.makefile('rwb', buffering=0)
                f.readline()
                for c in (b'USER u%d' % i, b'PASS pw%d' % i, b'STAT',
                          b'QUIT'):
                    f.write(c + b'\r\n')
                    f.readline()
                s.close()
            time.sleep(1.0)
        base = tree_mem(d.pid)
        mi0 = meminfo()
        for i in range(1, a.n + 1):
            s = socket.create_connection(('127.0.0.1', port), timeout=30)
            f = s.makefile('rwb', buffering=0)
            f.readline()
            f.write(b'USER u%d\r\n' % i)
            f.readline()
            f.write(b'PASS pw%d\r\n' % i)
            r = f.readline()
            f.write(b'STAT\r\n')
            r2 = f.readline()
            if not r.startswith(b'+OK') or not r2.startswith(b'+OK'):
                sys.exit('login %d failed: %r %r' % (i, r, r2))
            socks.append((s, f))
        time.sleep(1.0)
        pss, rss, nproc = tree_mem(d.pid)
        mi1 = meminfo()
        n = len(socks)
        if a.server == 'pop23d' and nproc - base[2] != n:
            print('WARNING: %d session processes for %d sessions'
                  % (nproc - base[2], n))
        print('sessions=%d procs=%d pss_kb_per_session=%.1f '
              'rss_kb_per_session=%.1f (tree before: pss=%d kB, %d procs)'
              % (n, nproc, (pss - base[0]) / n, (rss - base[1]) / n,
                 base[0], base[2]))
        print('machine-wide growth per session (noisy on a shared '
              'machine): ' + ' '.join(
                  '%s=%.1fkB' % (k, (mi1[k] - mi0[k]) / n)
                  for k in ('Slab', 'KernelStack', 'PageTables')))
        if a.detail:
            kids = [p for p in tree(d.pid) if p != d.pid]
            one = kids[len(kids) // 2]
            if os.environ.get("IDLE_HOLD"):
                print("holding pid", one, flush=True)
                time.sleep(float(os.environ["IDLE_HOLD"]))
            print('one session, pid %d: mapping, Pss, Private_Dirty, '
                  'Shared, Rss (kB)' % one)
            for name, (p, pd, sh, r) in smaps_detail(one):
                if r:
                    print('  %-60s %6d %6d %6d %6d' % (name[-60:], p, pd,
                                                       sh, r))
            with open('/proc/%d/status' % one) as f:
                for line in f:
                    if line.split(':')[0] in ('VmRSS', 'VmPTE', 'RssAnon',
                                              'RssFile', 'VmData'):
                        print('  ' + line.rstrip())
            if a.pages:
                subprocess.run([sys.executable, os.path.join(
                    os.path.dirname(os.path.abspath(__file__)),
                    'idle-pages.py'), str(one)])
    finally:
        for s, f in socks:
            s.close()
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
