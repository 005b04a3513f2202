#!/usr/bin/env python3
# percmd-cost.py - issue 11's "STAT, LIST n, RETR n and DELE n after login
# cost the same at every size", counted (instructions and system calls,
# not time), with a line per size for the login itself.
# GPL-3.0-or-later.
#
# For each size N it logs in (tests/bench/login-count.py: "pop23d -i pop3"
# on a socketpair, the real privilege separation) to an N-message Maildir
# and prints one line: the login's system calls (strace -c -f, the whole
# process tree), getdents64 calls, minor page faults, and, from a second
# login under callgrind with one part per command (login-count.py
# --split), the instructions of the load and of each command:
#   STAT, LIST 1, LIST last, RETR 1, DELE 1, DELE last, RSET, QUIT.
# Message 1 is the same file in every Maildir (1000000000.P23PERCMD...,
# 1 500 octets, added once and sorted first), so RETR 1 sends the same
# octets at every size.  The check: for every command but RSET and QUIT
# (which walk the message list once by design) the largest count over the
# sizes is at most 1.10 x the smallest; exit status 1 if not.
#
#   percmd-cost.py [--sizes 1000,100000,1000000]
#       [--maildir-pattern /var/tmp/pop23d-bench/maildir100k/home/popbenchmd%d/Maildir]
#       [--binary _build/pop23d] [--plugins _build/.libs]
#
# Without --maildir-pattern the Maildirs are login-count.py's own
# (--dir /var/tmp/pop23d-lc, made once).  Run as root from the source tree.
# A Maildir changed here (message 1 added) is left 3 s to settle and
# logged in to once, so that the counted logins use the listing record,
# as a warm login does.

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LC = os.path.join(HERE, 'login-count.py')
PLANT = '1000000000.P23PERCMD.percmd'
CHECKED = ['STAT', 'LIST_1', 'LIST_last', 'RETR_1', 'DELE_1', 'DELE_last']
BYDESIGN = ['RSET', 'QUIT']
TOLERANCE = 1.10


def plant(md):
    """Message 1: the same 1 500 octets in every Maildir.  True if added."""
    cur = os.path.join(md, 'cur')
    line = b'percmd-cost fixed message body line, the same at every size\n'
    body = (b'From: percmd@example.org\nSubject: the same at every size\n\n' +
            line * 30)[:1499] + b'\n'
    name = '%s,S=%d,W=%d:2,S' % (PLANT, len(body),
                                 len(body) + body.count(b'\n'))
    if os.path.exists(os.path.join(cur, name)):
        return False
    for n in os.listdir(cur):
        if n.startswith(PLANT):
            os.unlink(os.path.join(cur, n))
    st = os.stat(md)
    tmp = os.path.join(md, 'tmp', PLANT)
    with open(tmp, 'wb') as f:
        f.write(body)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(cur, name))
    return True


def lc(args, a):
    cmd = [sys.executable, LC, '--binary', a.binary, '--plugins',
           a.plugins] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit('login-count.py failed: %s\n%s' % (' '.join(cmd),
                                                    r.stderr[-2000:]))
    return r.stdout


def where(n, a):
    if a.maildir_pattern:
        return ['--maildir', a.maildir_pattern % n]
    return ['--dir', a.dir, '--msgs', str(n)]


def measure(n, a):
    base = where(n, a)
    out = lc(base + ['--cmds', 'STAT'], a)       # makes it, if needed
    md = a.maildir_pattern % n if a.maildir_pattern else \
        os.path.join(a.dir, 'home%d' % n, 'Maildir')
    if plant(md):
        time.sleep(3.2)         # a settled Maildir gets a listing record
        out = lc(base + ['--cmds', 'STAT'], a)
    last = int(re.search(r'^STAT\s+\+OK (\d+)', out, re.M).group(1))
    row = {'messages': last}
    out = lc(base + ['--cmds', 'STAT', '--strace'], a)
    row['minflt'] = int(re.search(r'minflt=(\d+)', out).group(1))
    m = re.search(r'^100\.00\s+\S+\s+\S+\s+(\d+)', out, re.M) or \
        re.search(r'^\s*100\.00\s+\S+\s+(?:\S+\s+)?(\d+)\s+\d*\s*total',
                  out, re.M)
    row['syscalls'] = int(m.group(1)) if m else -1
    g = re.search(r'^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?'
                  r'getdents64', out, re.M)
    row['getdents64'] = int(g.group(1)) if g else 0
    cmds = ['STAT', 'LIST 1', 'LIST %d' % last, 'RETR 1', 'DELE 1',
            'DELE %d' % last, 'RSET']
    out = lc(base + ['--callgrind', '--split', '--discard', '--cmds',
                     ','.join(cmds)], a)
    names = {'LIST_%d' % last: 'LIST_last', 'DELE_%d' % last: 'DELE_last'}
    for m in re.finditer(r'^command (\S+) Ir=(\d+)', out, re.M):
        row[names.get(m.group(1), m.group(1))] = int(m.group(2))
    for k in ['(login)'] + CHECKED + BYDESIGN:
        if k not in row:
            sys.exit('no count for %s at %d messages:\n%s' % (k, n, out))
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sizes', default='1000,100000,1000000')
    ap.add_argument('--maildir-pattern')
    ap.add_argument('--dir', default='/var/tmp/pop23d-lc')
    ap.add_argument('--binary', default='_build/pop23d')
    ap.add_argument('--plugins', default='_build/.libs')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('run as root')
    rows = []
    for n in [int(x) for x in a.sizes.replace(',', ' ').split()]:
        rows.append(measure(n, a))
    print('### Login and commands, counted (warm: listing record present)')
    print()
    print('| messages | system calls | getdents64 | minor faults | '
          'login Ir (process start to STAT) | Ir per message over the '
          'smallest size |')
    print('|---|---|---|---|---|---|')
    r0 = rows[0]
    for r in rows:
        dn = r['messages'] - r0['messages']
        print('| %d | %d | %d | %d | %d | %s |' % (
            r['messages'], r['syscalls'], r['getdents64'], r['minflt'],
            r['(login)'], '%.0f' % ((r['(login)'] - r0['(login)']) / dn)
            if dn > 0 else '-'))
    print()
    print('| messages | ' + ' | '.join(c.replace('_', ' ')
                                        for c in CHECKED + BYDESIGN) + ' |')
    print('|---' * (1 + len(CHECKED + BYDESIGN)) + '|')
    for r in rows:
        print('| %d | ' % r['messages'] +
              ' | '.join(str(r[c]) for c in CHECKED + BYDESIGN) + ' |')
    print()
    bad = []
    for c in CHECKED:
        v = [r[c] for r in rows]
        ratio = max(v) / min(v)
        print('%-10s max/min over the sizes %.3f%s' % (
            c.replace('_', ' '), ratio,
            '' if ratio <= TOLERANCE else '  > %.2f: NOT the same' %
            TOLERANCE))
        if ratio > TOLERANCE:
            bad.append(c)
    print('(RSET and QUIT walk the message list once by design: '
          'not checked)')
    if bad:
        print('FAIL: %s' % ', '.join(bad))
        sys.exit(1)
    print('OK: STAT, LIST n, RETR n and DELE n cost the same at every size '
          '(within %d %%)' % round((TOLERANCE - 1) * 100))


if __name__ == '__main__':
    main()
