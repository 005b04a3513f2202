#!/usr/bin/env python3
# session-profile.py - where a fetch or poll session's work goes, in
# counts that do not depend on the machine's load (doc/PERFORMANCE.md,
# "Per-session profile").  GPL-3.0-or-later.
#
# Runs the daemon (master, per-connection monitor + pre-auth child, the
# session) and K sessions of one kind against one maildrop of M messages
# (sizes log-uniform 1-100 KB, Dovecot-style names with ,S= and ,W=, like
# tests/bench/gen-maildrops.py), then stops it and reports per session:
#   --strace     system calls by name and by process role (strace -c -f:
#                all processes together, divided by K);
#   --callgrind  instructions (Ir) by process and the inclusive Ir of the
#                phases (fork, login check and crypt, maildrop load,
#                command loop, commit), from callgrind_annotate.
#   --per-command  system calls of the session process by command verb
#                (strace -ff: each command's share is the calls from the
#                read(2) or recv(2) that brought it in up to the next
#                command's, so
#                its reply, its flush and the wait for the next command);
#                per occurrence, and per message for the whole session;
#   --wakeups    context switches (voluntary and involuntary: every
#                blocking wait is one) of all processes, perf stat.
# Kinds: poll = USER, PASS, STAT, QUIT; fetch = USER, PASS, STAT, RETR
# every message, QUIT (nothing deleted, so every session sees the same);
# fetch-list: LIST n before every RETR n; fetch-list-noop: LIST n, RETR n,
# NOOP (the round trips of POP2's fetchmail dialogue); pop2-poll = HELO,
# QUIT; pop2-ack = HELO, READ, then RETR and ACKS per message, QUIT;
# pop2-fetchmail = HELO, then READ n, RETR, ACKS per message, QUIT.
#
# Callgrind needs the daemon rootless (the session could not write its
# output file after changing user) and the pre-auth child's seccomp
# filter and rlimits off (prof-noseccomp.c); the pre-auth child is ended
# by the monitor with SIGKILL, so its instructions are not in the
# callgrind figures (strace -c counts its system calls).  strace runs the
# daemon as root, exactly as deployed.
#
#   session-profile.py --kind KIND [-k 20] [-m 50] --strace|--callgrind|
#                      --per-command|--wakeups

import argparse
import os
import re
import shutil
import socket
import subprocess
import time

import profsetup as ps

PW = 'sppass'


def pop3_session(port, kind):
    s = socket.create_connection(('127.0.0.1', port), timeout=60)
    f = s.makefile('rwb', buffering=0)
    f.readline()
    ps.pop3_mail(f, 'sp', PW, kind)
    s.close()


def pop2_session(port, kind):
    """pop2-poll: HELO, QUIT; pop2-ack: READ once, then RETR and ACKS per
    message; pop2-fetchmail: READ n, RETR, ACKS per message."""
    s = socket.create_connection(('127.0.0.1', port), timeout=60)
    f = s.makefile('rwb', buffering=0)

    def cmd(c, want):
        return ps.command(f, c, want)
    f.readline()
    n = int(cmd(b'HELO sp ' + PW.encode(), b'#')[1:].split()[0])
    if kind == 'pop2-ack' and n > 0:
        size = int(cmd(b'READ', b'=')[1:].split()[0])
    for i in range(1, n + 1 if kind != 'pop2-poll' else 1):
        if kind == 'pop2-fetchmail':
            size = int(cmd(b'READ %d' % i, b'=')[1:].split()[0])
        f.write(b'RETR\r\n')
        left = size
        while left > 0:
            b = f.read(left)
            if not b:
                raise SystemExit('RETR: EOF')
            left -= len(b)
        size = int(cmd(b'ACKS', b'=')[1:].split()[0])
    cmd(b'QUIT', b'+')
    s.close()


def session(ports, kind):
    if kind.startswith('pop2'):
        pop2_session(ports['pop2'], kind)
    else:
        pop3_session(ports['pop3'], kind)


KINDS = ('poll', 'fetch', 'fetch-list', 'fetch-list-noop', 'pop2-poll',
         'pop2-ack', 'pop2-fetchmail')


# a command coming in: read(2), or recv(2) (strace shows recvfrom)
VERB = re.compile(rb'^(?:read|recvfrom)\(\d+, "([A-Za-z]{4})[^"]*\\r\\n"')


def per_command(tmp, sessions, msgs):
    """System calls of the session processes (the traces with RETR, READ
    or STAT read from the client), split at each command's read(2)."""
    by = {}             # verb -> {syscall: count}
    seen = {}           # verb -> occurrences
    total = {}
    for name in sorted(os.listdir(tmp)):
        if not name.startswith('trace.'):
            continue
        data = open(os.path.join(tmp, name), 'rb').read()
        if not re.search(rb'^(read|recvfrom)\(\d+, "(RETR|READ|STAT|ACKS)',
                         data, re.M):
            continue
        verb = None
        for line in data.splitlines():
            m = re.match(rb'^([a-z0-9_]+)\(', line)
            if not m:
                continue
            v = VERB.match(line)
            if v and v.group(1).upper() in (
                    b'USER', b'PASS', b'STAT', b'LIST', b'RETR', b'NOOP',
                    b'QUIT', b'HELO', b'READ', b'ACKS', b'ACKD', b'NACK',
                    b'UIDL', b'FOLD'):
                verb = v.group(1).upper().decode()
                seen[verb] = seen.get(verb, 0) + 1
            if verb is None:
                continue
            sc = m.group(1).decode()
            by.setdefault(verb, {})
            by[verb][sc] = by[verb].get(sc, 0) + 1
            total[sc] = total.get(sc, 0) + 1
    print('session process, system calls per command (from its read(2) '
          'to the next command\'s):')
    for verb in sorted(by, key=lambda v: -seen[v]):
        calls = by[verb]
        print('  %-5s x%-6.1f per session: %5.2f calls each: %s' % (
            verb, seen[verb] / sessions,
            sum(calls.values()) / seen[verb],
            ', '.join('%s %.2f' % (k, c / seen[verb]) for k, c in
                      sorted(calls.items(), key=lambda kv: -kv[1]))))
    if msgs:
        print('  per message, all commands: %.2f: %s' % (
            sum(total.values()) / sessions / msgs,
            ', '.join('%s %.2f' % (k, c / sessions / msgs) for k, c in
                      sorted(total.items(), key=lambda kv: -kv[1]))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kind', choices=KINDS, default='poll')
    ap.add_argument('-k', type=int, default=20)
    ap.add_argument('-m', type=int, default=50)
    ap.add_argument('--binary', default='_build/pop23d')
    ap.add_argument('--plugins', default='_build/.libs')
    ap.add_argument('--dir', default='/var/tmp/pop23d-sp')
    ap.add_argument('--strace', action='store_true')
    ap.add_argument('--callgrind', action='store_true')
    ap.add_argument('--per-command', action='store_true')
    ap.add_argument('--wakeups', action='store_true')
    ap.add_argument('--hash', default='plain', choices=('plain', 'sha512'),
                    help='password hash in the passwd-file (sha512: '
                    'SHA512-crypt, 5000 rounds, as the benchmark)')
    a = ap.parse_args()
    ps.need_root()
    uid, gid = ps.mail_user()
    home, tmp = ps.setup_dirs(a.dir, a.m, uid, gid, 'sp-')
    if a.hash == 'sha512':
        h = subprocess.run(['openssl', 'passwd', '-6', '-salt',
                            'profilesalt', PW], capture_output=True,
                           text=True, check=True).stdout.strip()
        h = '{CRYPT}' + h
    else:
        h = '{PLAIN}' + PW
    rootless = a.callgrind
    pw = ps.write_passwd(tmp, 'sp', h, uid, gid, home, rootless)
    portf = os.path.join(tmp, 'ports')
    conf = os.path.join(tmp, 'pop23d.conf')
    with open(conf, 'w') as f:
        f.write('listen = pop3 127.0.0.1:0\nlisten = pop2 127.0.0.1:0\nport_file = %s\n'
                'pid_file = %s/pid\nplugin_dir = %s\nauth = passwdfile\n'
                'storage = maildir\nmail_location = %%h/Maildir\n'
                'auth_failure_delay = 0\nhostname = sp.example\n%s'
                '\n[passwdfile]\npath = %s\n' % (
                    portf, tmp, os.path.abspath(a.plugins),
                    ps.privilege_conf(tmp, rootless), pw))
    cmd = [os.path.abspath(a.binary), '-f', '-c', conf]
    env = dict(os.environ)
    trace = os.path.join(tmp, 'trace')
    if a.strace:
        cmd = ['strace', '-c', '-f', '-o', trace] + cmd
    elif a.per_command:
        cmd = ['strace', '-ff', '-s', '16', '-o', trace] + cmd
    elif a.wakeups:
        cmd = ['perf', 'stat', '-x,', '-o', trace, '-e',
               'context-switches,cpu-migrations', '--'] + cmd
    if a.callgrind:
        cmd = ps.callgrind_cmd(cmd, tmp, uid, gid, env, trace)
    d, log = ps.start_daemon(cmd, env, tmp)
    try:
        ps.wait_files([portf], 600)
        ports = ps.read_ports(portf)
        session(ports, a.kind)         # warm-up (index, page cache)
        time.sleep(0.5)
        if a.strace or a.callgrind:
            # restart with the tracer only around the K measured sessions
            pass
        for _ in range(a.k):
            session(ports, a.kind)
        time.sleep(1.0)
    finally:
        ps.stop_daemon(tmp, d, log)
    n = a.k + 1
    print('kind=%s sessions=%d (1 warm-up included below) messages=%d' %
          (a.kind, n, a.m))
    if a.strace:
        calls = {}
        for line in open(trace):
            p = line.split()
            if len(p) >= 5 and p[0][0].isdigit() and p[-1].isidentifier() \
                    and p[-1] != 'total':
                calls[p[-1]] = int(p[3])
        tot = sum(calls.values())
        print('system calls per session (all processes): %.1f' % (tot / n))
        for k, v in sorted(calls.items(), key=lambda kv: -kv[1]):
            print('  %-16s %8.1f' % (k, v / n))
    if a.per_command:
        per_command(tmp, n, a.m)
    if a.wakeups:
        for line in open(trace):
            p = line.strip().split(',')
            if len(p) > 2 and p[0].replace('.', '').isdigit():
                print('%-18s per session (all processes): %.1f' % (
                    p[2], float(p[0]) / n))
    if a.callgrind:
        per = []
        for name in sorted(os.listdir(tmp)):
            if not name.startswith('trace.'):
                continue
            path = os.path.join(tmp, name)
            text = open(path).read()
            m = re.search(r'^(?:summary|totals): (\d+)', text, re.M)
            per.append((name, int(m.group(1)) if m else 0, path))
        master = max(per, key=lambda t: t[1] if t[0] else 0)
        sess = [t for t in per if t is not master and t[1] > 0]
        print('callgrind processes: %d with output; master Ir=%d' %
              (len(per), master[1]))
        if sess:
            avg = sum(t[1] for t in sess) / len(sess)
            print('per session process (monitor -> session): Ir=%.0f '
                  '(%d processes)' % (avg, len(sess)))
            path = sess[len(sess) // 2][2]
            out = subprocess.run(['callgrind_annotate', '--inclusive=yes',
                                  path], capture_output=True,
                                 text=True).stdout
            want = ('session_run', 'monitor_login', 'monitor_check',
                    'crypt', 'session_serve', 'plugin_unload',
                    'malloc_trim', 'pop3_postauth', 'maildrop_open',
                    'build_list', 'open_index', 'index_open',
                    'load_all', 'shed_memory', 'pop3_loop',
                    'pop3_send_msg', 'wire_send', 'maildrop_msg_open',
                    'maildrop_measure', 'maildrop_commit',
                    'maildrop_close', 'index_close', 'net_flush',
                    'log_info', 'log_line', '_dl_', 'fork')
            print('one session process, inclusive Ir of some functions:')
            for line in out.splitlines():
                m = re.match(r'\s*([\d,]+) \([\s\d.]+%\)\s+\S*:(\S+)', line)
                if m and any(w in m.group(2) for w in want):
                    print('  %14s  %s' % (m.group(1), m.group(2)[:70]))
        print('callgrind files kept in', tmp)
        return
    shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
